//! The JSON logger's span fields, kept as one JSON object's text that a record edits in
//! place.
//!
//! tracing-subscriber's own `JsonFields` parses a span's fields back into a map and writes
//! them out again on every `Span::record`: a request records its key id, source and outcome
//! as they become known, and that re-parsing was a fifth of the CPU Keygate spends on a
//! request (measured with callgrind, bench/PROFILE.md). Here a record appends its field, or
//! replaces the value of a field recorded before, without parsing anything.
//!
//! The text stays one JSON object with unique keys, so the JSON event formatter (which
//! parses it for other lines) and the request line (`metrics.rs`, which copies it) read it
//! as before.

use std::fmt::{self, Write as _};

use lambda_http::tracing::subscriber::field::RecordFields;
use lambda_http::tracing::subscriber::fmt::format::Writer;
use lambda_http::tracing::subscriber::fmt::{FormatFields, FormattedFields};
use tracing::field::{Field, Visit};

/// Formats span fields as a JSON object's text (`{"function":"issue","key_id":"key_…"}`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SpanJson;

impl<'writer> FormatFields<'writer> for SpanJson {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut text = String::with_capacity(ROOM);
        text.push_str("{}");
        fields.record(&mut Members(&mut text));
        writer.write_str(&text)
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        if current.fields.is_empty() {
            current.fields.push_str("{}");
        }
        // Grown member by member, the text was reallocated on each record of a request.
        let text = &mut current.fields;
        if text.capacity() - text.len() < ROOM / 3 {
            text.reserve(ROOM);
        }
        fields.record(&mut Members(text));
        Ok(())
    }
}

/// Room reserved in a span's text when a record finds less than a third of it spare: a
/// request's records after the span opens (key id, source, outcome) then fit in it.
const ROOM: usize = 192;

/// Sets members of the JSON object whose text it holds.
struct Members<'a>(&'a mut String);

impl Members<'_> {
    /// Sets member `name` to the JSON text that `value` writes.
    fn set(&mut self, name: &str, value: impl FnOnce(&mut String) -> fmt::Result) {
        set_member_with(self.0, name, value).expect("writing to a String cannot fail");
    }
}

impl Visit for Members<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), |out| write_json_str(out, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field.name(), |out| write!(out, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), |out| {
            out.push_str(if value { "true" } else { "false" });
            Ok(())
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// Sets `name` to the JSON text that `value` writes, in the object `text` (`{…}`, written by
/// this file): replaces the value of a member of that name, or appends one. A new member's
/// value is written straight into the text, in place of the closing brace (which goes back
/// on after it); only a replaced value goes through a `String` of its own.
fn set_member_with(
    text: &mut String,
    name: &str,
    value: impl FnOnce(&mut String) -> fmt::Result,
) -> fmt::Result {
    if let Some((start, end)) = member_value(text, name) {
        let mut new = String::new();
        value(&mut new)?;
        text.replace_range(start..end, &new);
        return Ok(());
    }
    text.pop();
    if text.len() > 1 {
        text.push(',');
    }
    write_json_str(text, name)?;
    text.push(':');
    value(text)?;
    text.push('}');
    Ok(())
}

/// Where the value of member `name` lies in `text`. A key is found only right after `{`
/// or `,`: inside a JSON string every quote is escaped, so `,"name":` cannot occur there.
fn member_value(text: &str, name: &str) -> Option<(usize, usize)> {
    // Most records set a member for the first time. A name that needs no escaping and is
    // nowhere in the text cannot be a member's key, and `contains` looks for a short name
    // without the set-up of `find` below: with it (and no temporary `String` per value) a
    // request's records fell from about 6,000 instructions to 2,400 (bench/PROFILE.md).
    if !needs_escape(name) && !text.contains(name) {
        return None;
    }
    let mut key = String::with_capacity(name.len() + 3);
    write_json_str(&mut key, name).ok()?;
    key.push(':');
    let mut from = 0;
    while let Some(at) = text[from..].find(&key).map(|i| i + from) {
        let before = text[..at].chars().last();
        if matches!(before, Some('{' | ',')) {
            let start = at + key.len();
            return Some((start, start + value_len(&text[start..])));
        }
        from = at + key.len();
    }
    None
}

/// The length of the JSON value at the start of `rest`: a string up to its closing quote,
/// anything else up to the next `,` or `}`.
fn value_len(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    if bytes.first() == Some(&b'"') {
        let mut i = 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => return i + 1,
                _ => i += 1,
            }
        }
        return bytes.len();
    }
    rest.find([',', '}']).unwrap_or(rest.len())
}

/// Writes `s` as a JSON string.
pub(super) fn write_json_str(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    if !needs_escape(s) {
        out.write_char('"')?;
        out.write_str(s)?;
        return out.write_char('"');
    }
    out.write_str(&serde_json::to_string(s).map_err(|_| fmt::Error)?)
}

/// Whether `s` as a JSON string is anything but `s` between quotes.
fn needs_escape(s: &str) -> bool {
    s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Sets `name` to `value`, JSON text.
    fn set_member(text: &mut String, name: &str, value: &str) {
        set_member_with(text, name, |out| {
            out.push_str(value);
            Ok(())
        })
        .unwrap();
    }

    fn object(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    #[test]
    fn members_are_appended_then_replaced_in_place() {
        let mut text = String::from("{}");
        set_member(&mut text, "function", "\"issue\"");
        set_member(&mut text, "outcome", "\"valid\"");
        set_member(&mut text, "status", "200");
        assert_eq!(
            object(&text),
            json!({"function": "issue", "outcome": "valid", "status": 200})
        );
        set_member(&mut text, "outcome", "\"rate_limited\"");
        set_member(&mut text, "status", "429");
        set_member(&mut text, "function", "\"a \\\"quoted\\\" name\"");
        assert_eq!(
            object(&text),
            json!({"function": "a \"quoted\" name", "outcome": "rate_limited", "status": 429})
        );
        assert_eq!(text.matches("outcome").count(), 1, "{text}");
    }

    #[test]
    fn a_value_that_looks_like_a_member_is_not_one() {
        let mut text = String::from("{}");
        let mut forged = String::new();
        write_json_str(&mut forged, ",\"outcome\":\"valid\"").unwrap();
        set_member(&mut text, "name", &forged);
        set_member(&mut text, "outcome", "\"invalid\"");
        let parsed = object(&text);
        assert_eq!(parsed["outcome"], "invalid");
        assert_eq!(parsed["name"], ",\"outcome\":\"valid\"");
    }

    #[test]
    fn a_name_seen_only_in_a_value_is_appended_and_an_escaped_name_is_replaced() {
        let mut text = String::from("{}");
        set_member(&mut text, "function", "\"outcome\"");
        set_member(&mut text, "outcome", "\"valid\"");
        set_member(&mut text, "a\"b", "1");
        set_member(&mut text, "a\"b", "2");
        assert_eq!(
            object(&text),
            json!({"function": "outcome", "outcome": "valid", "a\"b": 2})
        );
        assert_eq!(text.matches("a\\\"b").count(), 1, "{text}");
    }

    #[test]
    fn strings_are_escaped_as_json() {
        for s in [
            "plain",
            "quote \" and \\ backslash",
            "line\nbreak",
            "tab\tand \u{1}",
        ] {
            let mut out = String::new();
            write_json_str(&mut out, s).unwrap();
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s);
        }
    }
}
