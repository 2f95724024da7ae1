//! Records and audit events to DynamoDB items and back. A missing or malformed attribute
//! becomes [`StoreError::Corrupt`] naming it; the key itself never reaches an item, only its
//! hash (in `pk`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::schema::{EVENT_PREFIX, KIND_ADMIN, KIND_AUDIT, KIND_KEY};
use super::StoreError;
use crate::domain::audit::{Actor, AuditEvent, LeakReport, Subject};
use crate::domain::identity::IdentityId;
use crate::domain::key::{KeyHash, KeyId};
use crate::domain::limit::{Every, Limit, Limits, Quota, RateLimit, Refill};
use crate::domain::record::{KeyRecord, State};
use crate::domain::role::Role;
use crate::domain::scope::Scopes;
use crate::domain::time::timestamp;

pub(super) fn pk(hash: &KeyHash) -> String {
    format!("KEY#{}", hash.to_hex())
}

pub(super) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// The condition that a key's item is still at `version`. Items written before versions
/// existed have no `v` and count as version 0.
pub(super) fn unchanged(version: u64) -> &'static str {
    if version == 0 {
        "attribute_not_exists(v) OR v = :v"
    } else {
        "v = :v"
    }
}

pub(super) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn to_item(hash: &KeyHash, r: &KeyRecord) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk(hash))),
        // Admin credentials are listed apart from keys (`by_created` is keyed by kind).
        (
            "kind".to_owned(),
            s(if r.role.is_some() {
                KIND_ADMIN
            } else {
                KIND_KEY
            }),
        ),
        ("id".to_owned(), s(r.id.as_str())),
        ("name".to_owned(), s(&r.name)),
        ("prefix".to_owned(), s(&r.prefix)),
        ("state".to_owned(), s(r.state.as_str())),
        ("created_at".to_owned(), s(&timestamp(r.created_at))),
        ("v".to_owned(), AttributeValue::N(r.version.to_string())),
    ]);
    if let Some(at) = r.expires_at {
        item.insert("expires_at".to_owned(), s(&timestamp(at)));
    }
    if let Some(at) = r.revoked_at {
        item.insert("revoked_at".to_owned(), s(&timestamp(at)));
    }
    if let Some(owner) = &r.owner {
        item.insert("owner".to_owned(), s(owner));
    }
    if let Some(meta) = &r.meta {
        // Kept as the JSON text, so it comes back exactly as given.
        let text = serde_json::to_string(meta).expect("a JSON object always serializes");
        item.insert("meta".to_owned(), AttributeValue::S(text));
    }
    if !r.scopes.is_empty() {
        let list = r.scopes.as_slice().iter().map(|x| s(x)).collect();
        item.insert("scopes".to_owned(), AttributeValue::L(list));
    }
    if let Some(at) = r.last_used_at {
        item.insert("last_used_at".to_owned(), s(&timestamp(at)));
    }
    if let Some(id) = &r.rotated_to {
        item.insert("rotated_to".to_owned(), s(id.as_str()));
    }
    if let Some(id) = &r.rotated_from {
        item.insert("rotated_from".to_owned(), s(id.as_str()));
    }
    if let Some(hash) = &r.rotated_to_hash {
        item.insert("rotated_to_hash".to_owned(), s(&hash.to_hex()));
    }
    // Written only when true: items from before these flags read as false.
    for (name, on) in [
        ("self_rotation", r.self_rotation),
        ("self_rotated", r.self_rotated),
    ] {
        if on {
            item.insert(name.to_owned(), AttributeValue::Bool(true));
        }
    }
    if let Some(role) = r.role {
        item.insert("role".to_owned(), s(role.as_str()));
    }
    if let Some(actor) = &r.created_by {
        insert_actor(&mut item, "created_by", actor);
    }
    if !r.limits.is_empty() {
        item.insert("limits".to_owned(), limits_attribute(&r.limits));
    }
    if let Some(q) = &r.quota {
        item.insert("quota".to_owned(), quota_attribute(q));
    }
    if let Some(id) = &r.identity_id {
        item.insert("identity_id".to_owned(), s(id.as_str()));
    }
    item
}

/// Limits as stored: a list of `{name, limit, window_seconds}` maps.
pub(super) fn limits_attribute(limits: &Limits) -> AttributeValue {
    let list = limits
        .as_slice()
        .iter()
        .map(|l| {
            AttributeValue::M(HashMap::from([
                ("name".to_owned(), s(&l.name)),
                ("limit".to_owned(), n(l.limit)),
                ("window_seconds".to_owned(), n(l.window_seconds)),
            ]))
        })
        .collect();
    AttributeValue::L(list)
}

/// A quota as stored: a map of its count, period, generation and refill.
pub(super) fn quota_attribute(q: &Quota) -> AttributeValue {
    let mut map = HashMap::from([
        ("remaining".to_owned(), n(q.remaining)),
        ("period".to_owned(), s(&q.period)),
        ("generation".to_owned(), n(q.generation)),
    ]);
    if let Some(refill) = &q.refill {
        map.insert("refill_every".to_owned(), s(refill.every.as_str()));
        map.insert("refill_amount".to_owned(), n(refill.amount));
    }
    AttributeValue::M(map)
}

fn number(
    map: &HashMap<String, AttributeValue>,
    parent: &str,
    name: &str,
) -> Result<u64, StoreError> {
    match map.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| StoreError::Corrupt(format!("attribute `{parent}.{name}` is not a number")))
}

fn map_attribute<'a>(
    item: &'a HashMap<String, AttributeValue>,
    name: &str,
) -> Result<Option<&'a HashMap<String, AttributeValue>>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::M(map)) => Ok(Some(map)),
        Some(_) => Err(StoreError::Corrupt(format!(
            "attribute `{name}` is not a map"
        ))),
    }
}

/// The key's limits: the `limits` list, or an item written before named limits existed,
/// whose `rate_limit` map is the limit named `default`.
pub(super) fn limits_from(item: &HashMap<String, AttributeValue>) -> Result<Limits, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("attribute `limits` {what}"));
    let list = match item.get("limits") {
        None => {
            let old = map_attribute(item, "rate_limit")?
                .map(|m| {
                    Ok::<_, StoreError>(RateLimit {
                        limit: number(m, "rate_limit", "limit")?,
                        window_seconds: number(m, "rate_limit", "window_seconds")?,
                    })
                })
                .transpose()?;
            return Ok(Limits::from_rate_limit(old));
        }
        Some(AttributeValue::L(list)) => list,
        Some(_) => return Err(corrupt("is not a list")),
    };
    let limits = list
        .iter()
        .map(|v| {
            let AttributeValue::M(m) = v else {
                return Err(corrupt("holds a value that is not a map"));
            };
            let Some(AttributeValue::S(name)) = m.get("name") else {
                return Err(corrupt("holds a limit without a name"));
            };
            Ok(Limit {
                name: name.clone(),
                limit: number(m, "limits", "limit")?,
                window_seconds: number(m, "limits", "window_seconds")?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Limits::new(limits).map_err(|e| corrupt(&e.to_string()))
}

pub(super) fn quota_from(
    item: &HashMap<String, AttributeValue>,
) -> Result<Option<Quota>, StoreError> {
    let Some(m) = map_attribute(item, "quota")? else {
        return Ok(None);
    };
    let refill = match m.get("refill_every") {
        None => None,
        Some(AttributeValue::S(every)) => Some(Refill {
            every: Every::parse(every).ok_or_else(|| {
                StoreError::Corrupt("attribute `quota.refill_every` is unknown".to_owned())
            })?,
            amount: number(m, "quota", "refill_amount")?,
        }),
        Some(_) => {
            return Err(StoreError::Corrupt(
                "attribute `quota.refill_every` is not a string".to_owned(),
            ))
        }
    };
    let period = match m.get("period") {
        Some(AttributeValue::S(p)) => p.clone(),
        _ => {
            return Err(StoreError::Corrupt(
                "attribute `quota.period` is not a string".to_owned(),
            ))
        }
    };
    Ok(Some(Quota {
        remaining: number(m, "quota", "remaining")?,
        refill,
        period,
        generation: number(m, "quota", "generation")?,
    }))
}

pub(super) fn flag(item: &HashMap<String, AttributeValue>, name: &str) -> Result<bool, StoreError> {
    match item.get(name) {
        None => Ok(false),
        Some(AttributeValue::Bool(on)) => Ok(*on),
        Some(_) => Err(StoreError::Corrupt(format!(
            "attribute `{name}` is not a boolean"
        ))),
    }
}

/// An actor as `<name>` (its stored form), `<name>_name` (an admin's name) and, for the
/// audit log's `actor_id` filter, `<name>_id`.
fn insert_actor(item: &mut HashMap<String, AttributeValue>, name: &str, actor: &Actor) {
    item.insert(name.to_owned(), s(&actor.to_stored()));
    if let Some(admin_name) = actor.name() {
        item.insert(format!("{name}_name"), s(admin_name));
    }
    if let Some(id) = actor.id() {
        item.insert(format!("{name}_id"), s(id.as_str()));
    }
}

fn actor_from(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<Option<Actor>, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    };
    if !item.contains_key(name) {
        return Ok(None);
    }
    text(name)
        .and_then(|stored| Actor::from_stored(stored, text(&format!("{name}_name"))))
        .map(Some)
        .ok_or_else(|| StoreError::Corrupt(format!("attribute `{name}` is not an actor")))
}

pub(super) fn from_item(item: &HashMap<String, AttributeValue>) -> Result<KeyRecord, StoreError> {
    let text = |name: &str| -> Result<&str, StoreError> {
        match item.get(name) {
            Some(AttributeValue::S(v)) => Ok(v.as_str()),
            _ => Err(StoreError::Corrupt(format!(
                "attribute `{name}` is missing or not a string"
            ))),
        }
    };
    let optional_time = |name: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        if item.contains_key(name) {
            parse_time(name, text(name)?).map(Some)
        } else {
            Ok(None)
        }
    };
    let optional_text = |name: &str| -> Result<Option<&str>, StoreError> {
        if item.contains_key(name) {
            text(name).map(Some)
        } else {
            Ok(None)
        }
    };
    let optional_id = |name: &str| -> Result<Option<KeyId>, StoreError> {
        optional_text(name)?
            .map(|v| {
                KeyId::parse(v).ok_or_else(|| {
                    StoreError::Corrupt(format!("attribute `{name}` is not a key id"))
                })
            })
            .transpose()
    };
    let id = KeyId::parse(text("id")?)
        .ok_or_else(|| StoreError::Corrupt("attribute `id` is not a key id".to_owned()))?;
    let meta = optional_text("meta")?
        .map(|v| {
            serde_json::from_str(v).map_err(|_| {
                StoreError::Corrupt("attribute `meta` is not a JSON object".to_owned())
            })
        })
        .transpose()?;
    let scopes = match item.get("scopes") {
        None => Scopes::default(),
        Some(AttributeValue::L(list)) => Scopes::from_stored(
            list.iter()
                .map(|v| match v {
                    AttributeValue::S(x) => Ok(x.clone()),
                    _ => Err(StoreError::Corrupt(
                        "attribute `scopes` holds a non-string".to_owned(),
                    )),
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(_) => {
            return Err(StoreError::Corrupt(
                "attribute `scopes` is not a list".to_owned(),
            ))
        }
    };
    let state = State::parse(text("state")?)
        .ok_or_else(|| StoreError::Corrupt("attribute `state` is unknown".to_owned()))?;
    Ok(KeyRecord {
        id,
        name: text("name")?.to_owned(),
        prefix: text("prefix")?.to_owned(),
        state,
        created_at: parse_time("created_at", text("created_at")?)?,
        expires_at: optional_time("expires_at")?,
        revoked_at: optional_time("revoked_at")?,
        owner: optional_text("owner")?.map(str::to_owned),
        meta,
        scopes,
        last_used_at: optional_time("last_used_at")?,
        rotated_to: optional_id("rotated_to")?,
        rotated_from: optional_id("rotated_from")?,
        rotated_to_hash: optional_text("rotated_to_hash")?
            .map(|v| {
                KeyHash::from_hex(v).ok_or_else(|| {
                    StoreError::Corrupt("attribute `rotated_to_hash` is not a hash".to_owned())
                })
            })
            .transpose()?,
        self_rotation: flag(item, "self_rotation")?,
        self_rotated: flag(item, "self_rotated")?,
        identity_id: optional_text("identity_id")?
            .map(|v| {
                IdentityId::parse(v).ok_or_else(|| {
                    StoreError::Corrupt("attribute `identity_id` is not an identity id".to_owned())
                })
            })
            .transpose()?,
        limits: limits_from(item)?,
        quota: quota_from(item)?,
        role: optional_text("role")?
            .map(|v| {
                Role::parse(v)
                    .ok_or_else(|| StoreError::Corrupt("attribute `role` is unknown".to_owned()))
            })
            .transpose()?,
        created_by: actor_from(item, "created_by")?,
        version: match item.get("v") {
            Some(AttributeValue::N(n)) => n
                .parse()
                .map_err(|_| StoreError::Corrupt("attribute `v` is not a version".to_owned()))?,
            Some(_) => {
                return Err(StoreError::Corrupt(
                    "attribute `v` is not a number".to_owned(),
                ))
            }
            None => 0,
        },
    })
}

pub(super) fn event_item(e: &AuditEvent) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(&format!("{EVENT_PREFIX}{}", e.id))),
        ("kind".to_owned(), s(KIND_AUDIT)),
        ("created_at".to_owned(), s(&timestamp(e.at))),
        ("action".to_owned(), s(e.action.as_str())),
        ("audit_key".to_owned(), s(e.subject.as_str())),
    ]);
    insert_actor(&mut item, "actor", &e.actor);
    let optional = [
        ("new_key_id", e.new_key_id.as_ref().map(KeyId::as_str)),
        ("source_ip", e.source_ip.as_deref()),
        ("user_agent", e.user_agent.as_deref()),
        ("request_id", e.request_id.as_deref()),
        ("leak_url", e.leak.as_ref().and_then(|l| l.url.as_deref())),
        (
            "leak_source",
            e.leak.as_ref().and_then(|l| l.source.as_deref()),
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.to_owned(), s(value));
        }
    }
    if !e.changes.is_empty() {
        let list = e.changes.iter().map(|c| s(c)).collect();
        item.insert("changes".to_owned(), AttributeValue::L(list));
    }
    item
}

pub(super) fn event_from_item(
    item: &HashMap<String, AttributeValue>,
) -> Result<AuditEvent, StoreError> {
    let corrupt =
        |name: &str| StoreError::Corrupt(format!("audit attribute `{name}` is malformed"));
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    };
    let id = text("pk")
        .and_then(|pk| pk.strip_prefix(EVENT_PREFIX))
        .ok_or_else(|| corrupt("pk"))?;
    let subject = text("audit_key")
        .and_then(Subject::parse)
        .ok_or_else(|| corrupt("audit_key"))?;
    let changes = match item.get("changes") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| match v {
                AttributeValue::S(c) => Ok(c.clone()),
                _ => Err(corrupt("changes")),
            })
            .collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    let at = text("created_at").ok_or_else(|| corrupt("created_at"))?;
    let leak =
        (item.contains_key("leak_url") || item.contains_key("leak_source")).then(|| LeakReport {
            url: text("leak_url").map(str::to_owned),
            source: text("leak_source").map(str::to_owned),
        });
    Ok(AuditEvent {
        id: id.to_owned(),
        at: parse_time("created_at", at)?,
        action: text("action")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| corrupt("action"))?,
        subject,
        new_key_id: text("new_key_id").and_then(KeyId::parse),
        actor: actor_from(item, "actor")?.ok_or_else(|| corrupt("actor"))?,
        source_ip: text("source_ip").map(str::to_owned),
        user_agent: text("user_agent").map(str::to_owned),
        request_id: text("request_id").map(str::to_owned),
        changes,
        leak,
    })
}

pub(super) fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(format!("attribute `{name}` is not an RFC 3339 time")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::Action;
    use crate::domain::key::{ApiKey, KeyPrefix};

    fn record() -> KeyRecord {
        let now: DateTime<Utc> = "2026-01-01T00:00:00.123Z".parse().unwrap();
        KeyRecord {
            expires_at: Some(now + chrono::TimeDelta::days(1)),
            ..KeyRecord::new(
                KeyId::generate().unwrap(),
                "ci".to_owned(),
                "kg_01234567".to_owned(),
                now,
            )
        }
    }

    #[test]
    fn a_record_round_trips_through_its_item() {
        let hash = ApiKey::generate(&KeyPrefix::default()).unwrap().hash();
        let r = record();
        assert_eq!(from_item(&to_item(&hash, &r)).unwrap(), r);
    }

    #[test]
    fn a_record_with_limits_round_trips_through_its_item() {
        let hash = ApiKey::generate(&KeyPrefix::default()).unwrap().hash();
        let refill = Some(Refill {
            every: Every::Month,
            amount: 1_000_000_000_000,
        });
        let r = KeyRecord {
            limits: Limits::new(vec![
                Limit {
                    name: "per_second".into(),
                    limit: 10,
                    window_seconds: 1,
                },
                Limit {
                    name: "default".into(),
                    limit: 100,
                    window_seconds: 60,
                },
            ])
            .unwrap(),
            quota: Some(Quota::set(5, refill, 3, record().created_at)),
            ..record()
        };
        assert_eq!(from_item(&to_item(&hash, &r)).unwrap(), r);
    }

    #[test]
    fn an_item_written_before_named_limits_reads_its_rate_limit_as_default() {
        let hash = ApiKey::generate(&KeyPrefix::default()).unwrap().hash();
        let mut item = to_item(&hash, &record());
        item.insert(
            "rate_limit".to_owned(),
            AttributeValue::M(HashMap::from([
                ("limit".to_owned(), n(7)),
                ("window_seconds".to_owned(), n(30)),
            ])),
        );
        let limits = from_item(&item).unwrap().limits;
        assert_eq!(
            limits.as_slice(),
            [Limit {
                name: "default".into(),
                limit: 7,
                window_seconds: 30
            }]
        );
    }

    #[test]
    fn a_rotated_record_with_its_flags_round_trips_through_its_item() {
        let hash = ApiKey::generate(&KeyPrefix::default()).unwrap().hash();
        let next = ApiKey::generate(&KeyPrefix::default()).unwrap().hash();
        let r = KeyRecord {
            rotated_to: Some(KeyId::generate().unwrap()),
            rotated_to_hash: Some(next),
            rotated_from: Some(KeyId::generate().unwrap()),
            self_rotation: true,
            self_rotated: true,
            ..record()
        };
        assert_eq!(from_item(&to_item(&hash, &r)).unwrap(), r);
    }

    #[test]
    fn the_item_holds_the_hash_and_never_the_key() {
        let key = ApiKey::generate(&KeyPrefix::default()).unwrap();
        let item = to_item(&key.hash(), &record());
        let dump = format!("{item:?}");
        assert!(dump.contains(&key.hash().to_hex()));
        assert!(!dump.contains(&key.expose()[3..]));
    }

    #[test]
    fn a_leak_reported_event_round_trips_with_where_the_key_was_found() {
        use crate::domain::audit::{Acting, Origin};
        let origin = Origin {
            actor: Acting::System("secret_scanning".to_owned()),
            ..Origin::default()
        };
        let report = LeakReport {
            url: Some("https://github.com/o/r/blob/abc/config.py".to_owned()),
            source: Some("content".to_owned()),
        };
        let at = record().created_at;
        let event = AuditEvent::leak_reported(&record().id, &origin, &report, at);
        assert_eq!(event_from_item(&event_item(&event)).unwrap(), event);
        // Events of other actions have no leak attributes, and read back without one.
        let plain = AuditEvent::new(Action::Revoke, &record().id, &origin, at);
        assert!(!event_item(&plain).contains_key("leak_url"));
        assert_eq!(event_from_item(&event_item(&plain)).unwrap().leak, None);
    }

    #[test]
    fn a_missing_attribute_is_named() {
        let hash = ApiKey::generate(&KeyPrefix::default()).unwrap().hash();
        let mut item = to_item(&hash, &record());
        item.remove("name");
        let err = from_item(&item).unwrap_err();
        assert!(err.to_string().contains("`name`"), "{err}");
    }

    /// Every time the edge accepts (see `domain::time::storable`) round trips through an
    /// item, whatever its year, millisecond or the offset it was given in.
    #[test]
    fn every_storable_time_round_trips_through_an_item() {
        use crate::domain::time::{storable, to_millis, STORABLE_YEARS};
        use rand::Rng;
        let hash = ApiKey::generate(&KeyPrefix::default()).unwrap().hash();
        let mut rng = rand::rng();
        let (first, last) = (
            chrono::NaiveDate::from_ymd_opt(*STORABLE_YEARS.start(), 1, 1).unwrap(),
            chrono::NaiveDate::from_ymd_opt(*STORABLE_YEARS.end(), 12, 31).unwrap(),
        );
        let span = (last - first).num_milliseconds() + 86_400_000;
        let start = first.and_hms_opt(0, 0, 0).unwrap().and_utc();
        let mut times: Vec<DateTime<Utc>> = (0..2_000)
            .map(|_| start + chrono::TimeDelta::milliseconds(rng.random_range(0..span)))
            .collect();
        times.extend([start, start + chrono::TimeDelta::milliseconds(span - 1)]);
        for at in times.into_iter().map(to_millis) {
            assert!(storable(at), "{at}");
            let r = KeyRecord {
                expires_at: Some(at),
                revoked_at: Some(at),
                last_used_at: Some(at),
                ..record()
            };
            assert_eq!(from_item(&to_item(&hash, &r)).unwrap(), r, "{at}");
        }
    }
}
