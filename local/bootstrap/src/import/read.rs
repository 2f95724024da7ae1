//! Reading an export of the old Django key manager: a CSV (`key,name,status,created_at,
//! expires_at`) or what `manage.py dumpdata` writes for its key model. Each row becomes a
//! [`LegacyKey`] or the reason it cannot be imported; a row that cannot be read never stops
//! the others.

use std::path::Path;

use chrono::{DateTime, Utc};
use keygate::domain::time::{parse_rfc3339, storable, timestamp, to_millis};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Revoked => "revoked",
        }
    }
}

/// One key of the old system, as the import endpoint takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyKey {
    pub key: String,
    pub name: String,
    pub status: Status,
    /// `None` when the export has none: the endpoint then records the time of the import.
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl LegacyKey {
    /// The key's entry in the body of `POST …/api/keys/import`.
    pub fn to_json(&self) -> Value {
        let mut entry = json!({
            "key": self.key,
            "name": self.name,
            "status": self.status.as_str(),
            "expires_at": self.expires_at.map(timestamp),
        });
        if let Some(created_at) = self.created_at {
            entry["created_at"] = timestamp(created_at).into();
        }
        entry
    }

    /// Whether the key had expired at `now` (it is imported all the same, as expired).
    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A row of the input: where it is (`line 7 (e404…)`, `entry 3 (pk 3)`), and its key or
/// why it cannot be imported.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub place: String,
    pub key: Result<LegacyKey, String>,
}

/// What identifies an input, so that a resume never continues over a different file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub sha256: String,
    pub size: u64,
}

impl Fingerprint {
    pub fn of(bytes: &[u8]) -> Self {
        Fingerprint {
            sha256: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    DumpData,
}

impl Format {
    /// By the file's extension, else by its content: a JSON list starts with `[`.
    pub fn of(path: &Path, bytes: &[u8]) -> Self {
        let extension = path.extension().and_then(|e| e.to_str());
        match extension.map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => Format::Csv,
            Some("json") => Format::DumpData,
            _ => match without_bom(bytes).iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'[') => Format::DumpData,
                _ => Format::Csv,
            },
        }
    }
}

/// An input file, read whole: its rows in order, and its fingerprint.
#[derive(Debug)]
pub struct Input {
    pub format: Format,
    pub rows: Vec<Row>,
    pub fingerprint: Fingerprint,
}

impl Input {
    /// Reads the file; an error is about the whole file (unreadable, no header, not JSON).
    pub fn load(path: &Path) -> Result<Input, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Input::parse(&bytes, Format::of(path, &bytes))
    }

    pub fn parse(bytes: &[u8], format: Format) -> Result<Input, String> {
        let text = without_bom(bytes);
        let rows = match format {
            Format::Csv => csv_rows(text)?,
            Format::DumpData => dumpdata_rows(text)?,
        };
        Ok(Input {
            format,
            rows,
            fingerprint: Fingerprint::of(bytes),
        })
    }
}

/// A spreadsheet's CSV may start with a UTF-8 byte order mark.
fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

const CSV_HEADER: &str = "key,name,status,created_at,expires_at";

fn csv_rows(text: &[u8]) -> Result<Vec<Row>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text);
    // The header is not echoed: a file without one starts with a raw key.
    let headers = reader
        .headers()
        .map_err(|e| {
            format!(
                "the CSV header cannot be read ({}): {CSV_HEADER} expected",
                reason(&e)
            )
        })?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(key), Some(name), Some(status)) = (column("key"), column("name"), column("status"))
    else {
        return Err(format!(
            "the first line of a CSV must be its header, naming at least the columns key, \
             name and status: {CSV_HEADER}"
        ));
    };
    let (created_at, expires_at) = (column("created_at"), column("expires_at"));
    let mut rows = Vec::new();
    for record in reader.records() {
        let row = match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line());
                let field =
                    |i: Option<usize>| i.and_then(|i| record.get(i)).filter(|f| !f.is_empty());
                let status = field(Some(status)).map_or(StatusField::Missing, StatusField::Text);
                let fields = Fields {
                    key: field(Some(key)),
                    name: field(Some(name)),
                    status,
                    created_at: field(created_at),
                    expires_at: field(expires_at),
                };
                Row {
                    place: place(&format!("line {line}"), fields.key),
                    key: fields.legacy_key(),
                }
            }
            Err(err) => Row {
                place: format!("line {}", err.position().map_or(0, |p| p.line())),
                key: Err(reason(&err)),
            },
        };
        rows.push(row);
    }
    Ok(rows)
}

/// A CSV error in words of its own: the `csv` crate's never quote a field, but say so here.
fn reason(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        _ => "not valid CSV".to_owned(),
    }
}

fn dumpdata_rows(text: &[u8]) -> Result<Vec<Row>, String> {
    let entries: Vec<Value> = serde_json::from_slice(text)
        .map_err(|e| format!("not the JSON list `manage.py dumpdata` writes ({e})"))?;
    Ok(entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            // A numeric pk helps find the entry; a text one is not shown (it may be a key).
            let at = match entry.get("pk").and_then(Value::as_i64) {
                Some(pk) => format!("entry {} (pk {pk})", i + 1),
                None => format!("entry {}", i + 1),
            };
            let Some(fields) = entry.get("fields").and_then(Value::as_object) else {
                return Row {
                    place: at,
                    key: Err("no `fields` object".to_owned()),
                };
            };
            let key = fields.get("key").and_then(Value::as_str).map(str::trim);
            Row {
                place: place(&at, key),
                key: dumpdata_fields(fields).and_then(|f| f.legacy_key()),
            }
        })
        .collect())
}

fn dumpdata_fields(fields: &Map<String, Value>) -> Result<Fields<'_>, String> {
    let text = |name: &str| match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim()).filter(|s| !s.is_empty())),
        Some(_) => Err(format!("`{name}` is not a string")),
    };
    // `status` where the model has one; else Django's usual `is_active` flag.
    let status = match (fields.get("status"), fields.get("is_active")) {
        (Some(Value::String(s)), _) => StatusField::Text(s.trim()),
        (Some(Value::Null) | None, Some(Value::Bool(active))) => StatusField::Active(*active),
        (Some(Value::Null) | None, Some(Value::Null) | None) => StatusField::Missing,
        (Some(Value::Null) | None, Some(_)) => {
            return Err("`is_active` is not true or false".to_owned())
        }
        (Some(_), _) => return Err("`status` is not a string".to_owned()),
    };
    Ok(Fields {
        key: text("key")?,
        name: text("name")?,
        status,
        created_at: text("created_at")?,
        expires_at: text("expires_at")?,
    })
}

/// `line 7 (e404…)`: the row's place, and at most the first 4 characters of its key (fewer
/// for a short one, never more than a quarter of it).
fn place(at: &str, key: Option<&str>) -> String {
    match key {
        Some(key) if key.chars().count() >= 8 => {
            let shown: String = key.chars().take((key.chars().count() / 4).min(4)).collect();
            format!("{at} ({shown}…)")
        }
        _ => at.to_owned(),
    }
}

enum StatusField<'a> {
    Text(&'a str),
    Active(bool),
    Missing,
}

/// A row's fields, trimmed, empty ones as `None`.
struct Fields<'a> {
    key: Option<&'a str>,
    name: Option<&'a str>,
    status: StatusField<'a>,
    created_at: Option<&'a str>,
    expires_at: Option<&'a str>,
}

impl Fields<'_> {
    fn legacy_key(&self) -> Result<LegacyKey, String> {
        let key = self.key.ok_or("no key")?;
        let shown = |value: &str| quoted(value, key);
        let name = self.name.ok_or("no name")?;
        // No status is not taken for `active`: that could bring a revoked key back to life.
        let status = match self.status {
            StatusField::Text(s) if s.eq_ignore_ascii_case("active") => Status::Active,
            StatusField::Text(s) if s.eq_ignore_ascii_case("revoked") => Status::Revoked,
            StatusField::Text(s) => {
                return Err(format!("status {} is neither active nor revoked", shown(s)))
            }
            StatusField::Active(true) => Status::Active,
            StatusField::Active(false) => Status::Revoked,
            StatusField::Missing => return Err("no status".to_owned()),
        };
        let time = |field: &str, value: Option<&str>| -> Result<Option<DateTime<Utc>>, String> {
            let Some(value) = value else { return Ok(None) };
            match parse_rfc3339(value).map(to_millis) {
                Some(at) if storable(at) => Ok(Some(at)),
                Some(_) => Err(format!("{field} {} is out of range", shown(value))),
                None => Err(format!(
                    "{field} {} is not an RFC 3339 date-time with an offset, such as \
                     2024-03-01T10:20:30.123Z",
                    shown(value)
                )),
            }
        };
        Ok(LegacyKey {
            key: key.to_owned(),
            name: name.to_owned(),
            status,
            created_at: time("created_at", self.created_at)?,
            expires_at: time("expires_at", self.expires_at)?,
        })
    }
}

/// A field's value, quoted for a message, unless it could be a key (a shifted column).
fn quoted(value: &str, key: &str) -> String {
    if value.chars().count() > 40
        || value.contains(key)
        || (value.len() >= 8 && key.contains(value))
    {
        "(value not shown)".to_owned()
    } else {
        format!("{value:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "e4047bffb014062679fb438767f08b5cd69ebc66";

    fn csv(text: &str) -> Vec<Row> {
        Input::parse(text.as_bytes(), Format::Csv).unwrap().rows
    }

    fn json(value: Value) -> Vec<Row> {
        Input::parse(value.to_string().as_bytes(), Format::DumpData)
            .unwrap()
            .rows
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn entry(fields: Value) -> Value {
        json!({"model": "keys.apikey", "pk": 7, "fields": fields})
    }

    #[test]
    fn a_csv_row_becomes_a_legacy_key() {
        let rows = csv(&format!(
            "key,name,status,created_at,expires_at\n\
             {KEY},orders,active,2023-02-03T14:02:11.250Z,2031-03-21T08:00:00+02:00\n\
             {KEY},old,revoked,2023-02-03T14:02:11Z,\n"
        ));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].place, "line 2 (e404…)");
        assert_eq!(
            rows[0].key,
            Ok(LegacyKey {
                key: KEY.to_owned(),
                name: "orders".to_owned(),
                status: Status::Active,
                created_at: Some(at("2023-02-03T14:02:11.250Z")),
                expires_at: Some(at("2031-03-21T06:00:00Z")),
            })
        );
        let old = rows[1].key.as_ref().unwrap();
        assert_eq!((old.status, old.expires_at), (Status::Revoked, None));
    }

    #[test]
    fn csv_columns_are_found_by_their_header_in_any_order() {
        let rows = csv(&format!("name,key,status\n\"a, b\",{KEY},ACTIVE\n"));
        let key = rows[0].key.as_ref().unwrap();
        assert_eq!((key.name.as_str(), key.key.as_str()), ("a, b", KEY));
        assert_eq!((key.created_at, key.expires_at), (None, None));
    }

    #[test]
    fn a_csv_without_its_header_is_refused_without_echoing_its_first_line() {
        let err = Input::parse(format!("{KEY},a,active,,\n").as_bytes(), Format::Csv).unwrap_err();
        assert!(err.contains("header"), "{err}");
        assert!(!err.contains(&KEY[..8]), "{err}");
    }

    #[test]
    fn an_unreadable_csv_row_fails_alone_with_its_line_and_reason() {
        let rows = csv(&format!(
            "key,name,status,created_at,expires_at\n\
             {KEY},a,paused,2023-01-01T00:00:00Z,\n\
             ,b,active,2023-01-01T00:00:00Z,\n\
             {KEY},c,active,yesterday,\n\
             {KEY},d,active,2023-01-01T00:00:00Z,2024-01-01\n\
             {KEY},e,active\n\
             {KEY},f,active,2023-01-01T00:00:00,\n\
             {KEY},,active,,\n\
             {KEY},g,,,\n\
             {KEY},ok,active,,\n"
        ));
        let failed: Vec<(&str, &str)> = rows
            .iter()
            .filter_map(|r| r.key.as_ref().err().map(|e| (r.place.as_str(), e.as_str())))
            .collect();
        assert_eq!(failed.len(), 8, "{failed:?}");
        assert_eq!(
            failed[0],
            (
                "line 2 (e404…)",
                "status \"paused\" is neither active nor revoked"
            )
        );
        assert_eq!(failed[1], ("line 3", "no key"));
        assert!(
            failed[2]
                .1
                .starts_with("created_at \"yesterday\" is not an RFC 3339"),
            "{failed:?}"
        );
        assert!(
            failed[3].1.starts_with("expires_at \"2024-01-01\""),
            "{failed:?}"
        );
        assert_eq!(failed[4], ("line 6", "3 fields where the header has 5"));
        assert!(
            failed[5].1.starts_with("created_at"),
            "a time without an offset: {failed:?}"
        );
        assert_eq!(failed[6].1, "no name");
        assert_eq!(failed[7].1, "no status");
        assert!(rows[8].key.is_ok(), "the rows after the bad ones are read");
        for (_, reason) in failed {
            assert!(!reason.contains(&KEY[..5]), "{reason}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let rows = csv(&format!("\u{FEFF}key,name,status\n{KEY},a,active\n"));
        assert!(rows[0].key.is_ok(), "{:?}", rows[0].key);
    }

    #[test]
    fn a_dumpdata_entry_with_is_active_becomes_a_legacy_key() {
        let rows = json(json!([
            entry(json!({"key": KEY, "name": "web", "is_active": true,
                         "created_at": "2022-09-01T08:01:12.345Z", "expires_at": null})),
            entry(json!({"key": KEY, "name": "old", "is_active": false,
                         "created_at": "2023-02-28T16:00:00.000+01:00",
                         "expires_at": "2023-09-15T10:00:00.000-04:00"})),
        ]));
        assert_eq!(rows[0].place, "entry 1 (pk 7) (e404…)");
        let web = rows[0].key.as_ref().unwrap();
        assert_eq!(
            (web.status, web.created_at, web.expires_at),
            (Status::Active, Some(at("2022-09-01T08:01:12.345Z")), None)
        );
        let old = rows[1].key.as_ref().unwrap();
        assert_eq!(
            (old.status, old.created_at, old.expires_at),
            (
                Status::Revoked,
                Some(at("2023-02-28T15:00:00Z")),
                Some(at("2023-09-15T14:00:00Z"))
            )
        );
    }

    #[test]
    fn a_dumpdata_status_field_wins_over_is_active() {
        let rows = json(json!([
            entry(json!({"key": KEY, "name": "a", "status": "revoked", "is_active": true})),
            entry(json!({"key": KEY, "name": "b", "status": "active"})),
        ]));
        assert_eq!(rows[0].key.as_ref().unwrap().status, Status::Revoked);
        assert_eq!(rows[1].key.as_ref().unwrap().status, Status::Active);
    }

    #[test]
    fn an_unreadable_dumpdata_entry_fails_alone() {
        let rows = json(json!([
            {"model": "keys.apikey", "pk": 1},
            entry(json!({"name": "a", "is_active": true})),
            entry(json!({"key": KEY, "name": "b", "is_active": "yes"})),
            entry(json!({"key": KEY, "name": "c", "status": "paused"})),
            entry(json!({"key": KEY, "name": "d", "is_active": true, "expires_at": 5})),
            entry(json!({"key": KEY, "name": "e", "is_active": true})),
        ]));
        let reasons: Vec<_> = rows.iter().map(|r| r.key.as_ref().err().cloned()).collect();
        assert_eq!(reasons[0].as_deref(), Some("no `fields` object"));
        assert_eq!(reasons[1].as_deref(), Some("no key"));
        assert_eq!(
            reasons[2].as_deref(),
            Some("`is_active` is not true or false")
        );
        assert_eq!(
            reasons[3].as_deref(),
            Some("status \"paused\" is neither active nor revoked")
        );
        assert_eq!(reasons[4].as_deref(), Some("`expires_at` is not a string"));
        assert_eq!(reasons[5], None);
    }

    #[test]
    fn a_json_that_is_not_a_list_is_refused() {
        assert!(Input::parse(b"{\"keys\": []}", Format::DumpData).is_err());
    }

    #[test]
    fn the_format_is_told_by_extension_else_by_content() {
        let p = Path::new;
        assert_eq!(Format::of(p("a.CSV"), b"["), Format::Csv);
        assert_eq!(Format::of(p("a.json"), b"key"), Format::DumpData);
        assert_eq!(Format::of(p("export"), b"\n  [{}]"), Format::DumpData);
        assert_eq!(Format::of(p("export.txt"), b"key,name"), Format::Csv);
    }

    #[test]
    fn a_key_entry_carries_the_five_fields_in_utc() {
        let key = LegacyKey {
            key: KEY.to_owned(),
            name: "a".to_owned(),
            status: Status::Revoked,
            created_at: Some(at("2023-02-28T15:00:00Z")),
            expires_at: None,
        };
        assert_eq!(
            key.to_json(),
            json!({"key": KEY, "name": "a", "status": "revoked",
                   "created_at": "2023-02-28T15:00:00.000Z", "expires_at": null})
        );
        let undated = LegacyKey {
            created_at: None,
            ..key
        };
        assert!(undated.to_json().get("created_at").is_none());
    }

    #[test]
    fn a_place_shows_at_most_a_quarter_of_a_key_and_never_more_than_four_characters() {
        assert_eq!(place("line 2", Some(KEY)), "line 2 (e404…)");
        assert_eq!(place("line 2", Some("abcdefghij")), "line 2 (ab…)");
        assert_eq!(place("line 2", Some("abc")), "line 2");
    }
}
