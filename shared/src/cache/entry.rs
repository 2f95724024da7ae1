//! A cache entry: what verification needs to know about a key, in the small JSON form
//! Redis holds (short field names: it is read on every request), and what a read found.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::CacheError;
use crate::config::CacheSettings;
use crate::domain::identity::IdentityId;
use crate::domain::key::{KeyHash, KeyId};
use crate::domain::limit::{
    Counted, Every, Limit, Limits, Quota, RateLimit, Refill, DEFAULT_LIMIT,
};
use crate::domain::outcome::{KeyDetails, KeyInfo};
use crate::domain::record::{status_at, KeyRecord, State, Status};
use crate::domain::role::Role;
use crate::domain::scope::Scopes;

/// The negative entry: looked up in DynamoDB recently, and not there.
pub(super) const UNKNOWN: &[u8] = b"!";

/// The refills in the order of their wire codes: code `i + 1` is `REFILLS[i]`, 0 is none.
/// The verify script finds the current period of code `c` at `ARGV[8 + c]`,
/// because the call passes one period per entry of this list, in this order
/// (`scripts.rs`): the two sides cannot disagree.
pub(super) const REFILLS: [Every; 2] = [Every::Day, Every::Month];

/// A limit on the wire: `[limit, window_seconds, "name"]`.
pub(super) type WireLimit = (u64, u64, String);
/// A quota on the wire: `[generation, remaining as stored, refill amount, refill code,
/// period]`.
pub(super) type WireQuota = (u64, u64, u64, u8, String);

pub(super) fn wire_limits(limits: &Limits) -> Vec<WireLimit> {
    limits
        .as_slice()
        .iter()
        .map(|l| (l.limit, l.window_seconds, l.name.clone()))
        .collect()
}

pub(super) fn limits_of_wire(lm: &[WireLimit]) -> Limits {
    let list = lm
        .iter()
        .map(|(limit, window_seconds, name)| Limit {
            name: name.clone(),
            limit: *limit,
            window_seconds: *window_seconds,
        })
        .collect();
    // Written from a record's limits, which were checked; read back as they are.
    Limits::new(list).unwrap_or_default()
}

pub(super) fn wire_quota(q: &Quota) -> WireQuota {
    let amount = q.refill.map_or(0, |r| r.amount);
    let code = refill_code(q.refill.map(|r| r.every));
    (q.generation, q.remaining, amount, code, q.period.clone())
}

pub(super) fn quota_of_wire((generation, remaining, amount, code, period): &WireQuota) -> Quota {
    Quota {
        remaining: *remaining,
        refill: refill_of(*code).map(|every| Refill {
            every,
            amount: *amount,
        }),
        period: period.clone(),
        generation: *generation,
    }
}

pub(super) fn refill_code(every: Option<Every>) -> u8 {
    every
        .and_then(|e| REFILLS.iter().position(|r| *r == e))
        .map_or(0, |i| i as u8 + 1)
}

fn role_code(role: Role) -> char {
    role.as_str()
        .chars()
        .next()
        .expect("role names are not empty")
}

fn refill_of(code: u8) -> Option<Every> {
    REFILLS.get(usize::from(code).checked_sub(1)?).copied()
}

/// What verification needs to know about a key, as cached. Short field names keep the
/// value small: it is read on every request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub name: String,
    /// `a` active, `r` revoked.
    pub st: char,
    /// Expiry in Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Owner, handed to the handler with the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ow: Option<String>,
    /// Scopes: checked by the guard with no I/O beyond this read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sc: Vec<String>,
    /// The record's version: the cache keeps the highest it is given.
    #[serde(default)]
    pub v: u64,
    /// An entry cached before named limits: its one rate limit `[limit, window_seconds]`,
    /// the limit `default`. Read, never written.
    #[serde(default, skip_serializing)]
    pub rl: Option<(u64, u64)>,
    /// Named limits: `[[limit, window_seconds, "name"], ...]`, in the key's order. The
    /// verify script reads them with patterns, so they are plain numbers and a name of
    /// `a-z0-9_-`, in a fixed order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lm: Vec<WireLimit>,
    /// Quota: `[generation, remaining as stored, refill amount, refill code, period]`, the
    /// code from [`refill_code`]. The verify script reads both with patterns, so they are
    /// plain numbers in a fixed order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<WireQuota>,
    /// The replacement's hash, once the key is rotated: in its grace period the key counts
    /// against the replacement's limits, so the verify script leaves its own counters alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The identity the key belongs to (`idt_…`): the verify script leaves such a key's
    /// counting to `identity.lua`, in the identity's slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idt: Option<String>,
    /// An admin credential's role: `v`erify, `r`ead, `o`perate, `a`dmin. Absent on client
    /// keys, so their entries are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ro: Option<char>,
    /// The key's `meta`, for the verify API: the object's JSON *text*, a string, never a
    /// nested object. The verify script finds fields by plain patterns (`"rl":[`,
    /// `"st":"a"`), and inside a JSON string every quote is escaped, so no `meta` can
    /// forge one; as an object, `{"rl":[1,1]}` would. Last, so the script's searches for the
    /// fields before it stop before it. An entry cached before this field existed has none
    /// and reports no `meta` until it expires (`CACHE_TTL_SECONDS`, 5 minutes by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mt: Option<String>,
}

impl Entry {
    pub fn from_record(r: &KeyRecord) -> Self {
        Self {
            id: r.id.as_str().to_owned(),
            name: r.name.clone(),
            st: match r.state {
                State::Active => 'a',
                State::Revoked => 'r',
            },
            exp: r.expires_at.map(|t| t.timestamp_millis()),
            ow: r.owner.clone(),
            sc: r.scopes.as_slice().to_vec(),
            v: r.version,
            rl: None,
            lm: wire_limits(&r.limits),
            to: r.rotated_to_hash.map(|h| h.to_hex()),
            idt: r.identity_id.as_ref().map(|i| i.as_str().to_owned()),
            ro: r.role.map(role_code),
            q: r.quota.as_ref().map(wire_quota),
            mt: r
                .meta
                .as_ref()
                .map(|m| serde_json::to_string(m).expect("a JSON object always serializes")),
        }
    }

    /// What the verify API shows about the key, from the entry alone.
    pub fn details(&self) -> Result<KeyDetails, CacheError> {
        Ok(KeyDetails {
            name: self.name.clone(),
            owner: self.ow.clone(),
            scopes: Scopes::from_stored(self.sc.clone()),
            meta: self.mt.clone(),
            expires_at: self.expires_at()?,
            limits: self.limits(),
            has_quota: self.q.is_some(),
            rates: Vec::new(),
            quota_remaining: None,
            identity: None,
        })
    }

    /// The key's limits, in the order the verify script counts them.
    pub fn limits(&self) -> Limits {
        if self.lm.is_empty() {
            return Limits::from_rate_limit(self.rl.map(|(limit, window_seconds)| RateLimit {
                limit,
                window_seconds,
            }));
        }
        limits_of_wire(&self.lm)
    }

    pub fn quota(&self) -> Option<Quota> {
        self.q.as_ref().map(quota_of_wire)
    }

    /// The identity the key belongs to.
    pub fn identity_id(&self) -> Option<IdentityId> {
        self.idt.as_deref().and_then(IdentityId::parse)
    }

    /// The key's limits and quota alone, in the entry's wire form: what `identity.lua` is
    /// told to count besides the identity's.
    pub fn counters_text(&self) -> String {
        #[derive(Serialize)]
        struct Counters<'a> {
            lm: &'a [WireLimit],
            #[serde(skip_serializing_if = "Option::is_none")]
            q: Option<&'a WireQuota>,
        }
        let lm = match (&self.lm[..], self.rl) {
            ([], Some((limit, window))) => &[(limit, window, DEFAULT_LIMIT.to_owned())][..],
            (lm, _) => lm,
        };
        serde_json::to_string(&Counters {
            lm,
            q: self.q.as_ref(),
        })
        .expect("counters always serialize")
    }

    /// The replacement whose limits this key shares, once rotated.
    pub fn successor(&self) -> Option<KeyHash> {
        self.to.as_deref().and_then(KeyHash::from_hex)
    }

    /// Whether a verification counts anything for this key: its own limits or quota, or
    /// its identity's.
    pub fn has_limits(&self) -> bool {
        !self.lm.is_empty() || self.rl.is_some() || self.q.is_some() || self.idt.is_some()
    }

    /// The key's status at `now` and what a handler learns about it, from the entry alone:
    /// a cache hit needs nothing else.
    pub fn judge(&self, now: DateTime<Utc>) -> Result<(Status, KeyInfo), CacheError> {
        let info = KeyInfo {
            id: self.key_id()?,
            name: self.name.clone(),
            owner: self.ow.clone(),
            identity: None,
            scopes: Scopes::from_stored(self.sc.clone()),
            role: self.role()?,
            rate: None,
            quota_remaining: None,
        };
        Ok((status_at(self.state()?, self.expires_at()?, now), info))
    }

    pub fn role(&self) -> Result<Option<Role>, CacheError> {
        self.ro
            .map(|code| {
                Role::ALL
                    .into_iter()
                    .find(|r| role_code(*r) == code)
                    .ok_or_else(|| CacheError::Corrupt(format!("unknown role {code:?}")))
            })
            .transpose()
    }

    pub fn state(&self) -> Result<State, CacheError> {
        match self.st {
            'a' => Ok(State::Active),
            'r' => Ok(State::Revoked),
            other => Err(CacheError::Corrupt(format!("unknown state {other:?}"))),
        }
    }

    pub fn expires_at(&self) -> Result<Option<DateTime<Utc>>, CacheError> {
        self.exp
            .map(|ms| {
                Utc.timestamp_millis_opt(ms)
                    .single()
                    .ok_or_else(|| CacheError::Corrupt("expiry out of range".to_owned()))
            })
            .transpose()
    }

    pub fn key_id(&self) -> Result<KeyId, CacheError> {
        KeyId::parse(&self.id).ok_or_else(|| CacheError::Corrupt("bad key id".to_owned()))
    }
}

/// The outcome of a cache read.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Known(Box<Entry>),
    /// Recently looked up in DynamoDB and not found.
    Unknown,
    Miss,
}

/// A cache read: the entry, whether this is the key's first use in its window, and what
/// the limit counters said.
#[derive(Debug, PartialEq, Eq)]
pub struct Read {
    pub lookup: Lookup,
    pub first_use: bool,
    pub counted: Counted,
    /// Whether the read counted the request in the key's usage as presented.
    pub presented: bool,
}

/// How long an entry may live: the configured TTL, cut short by the key's own expiry, so
/// an expired key's entry goes away with it. (Verification checks the expiry itself too;
/// the TTL only keeps Redis tidy.)
pub fn entry_ttl(record: Option<&KeyRecord>, now: DateTime<Utc>, s: &CacheSettings) -> Duration {
    let Some(record) = record else {
        return s.negative_ttl;
    };
    match record.expires_at {
        Some(at) if record.state == State::Active && at > now => {
            let left = (at - now).to_std().unwrap_or(Duration::ZERO);
            left.clamp(Duration::from_millis(1), s.ttl)
        }
        _ => s.ttl,
    }
}

pub(super) fn lookup_of(value: Option<Vec<u8>>) -> Result<Lookup, CacheError> {
    Ok(match value {
        None => Lookup::Miss,
        Some(v) if v == UNKNOWN => Lookup::Unknown,
        Some(v) => serde_json::from_slice(&v)
            .map(|e| Lookup::Known(Box::new(e)))
            .map_err(|e| CacheError::Corrupt(e.to_string()))?,
    })
}

pub(super) fn entry_bytes(record: &KeyRecord) -> Vec<u8> {
    serde_json::to_vec(&Entry::from_record(record)).expect("an entry always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use serde_json::Map;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn record(state: State, expires_in: Option<TimeDelta>) -> KeyRecord {
        KeyRecord {
            state,
            expires_at: expires_in.map(|d| now() + d),
            ..KeyRecord::new(
                KeyId::generate().unwrap(),
                "n".into(),
                "kg_00000000".into(),
                now(),
            )
        }
    }

    #[test]
    fn an_entry_without_expiry_lives_for_the_configured_ttl() {
        let s = CacheSettings::default();
        let r = record(State::Active, None);
        assert_eq!(entry_ttl(Some(&r), now(), &s), s.ttl);
    }

    #[test]
    fn an_entry_ends_with_its_keys_expiry_when_that_comes_first() {
        let s = CacheSettings::default();
        let r = record(State::Active, Some(TimeDelta::seconds(7)));
        assert_eq!(entry_ttl(Some(&r), now(), &s), Duration::from_secs(7));
        let r = record(State::Active, Some(TimeDelta::days(7)));
        assert_eq!(entry_ttl(Some(&r), now(), &s), s.ttl);
    }

    #[test]
    fn unknown_hashes_are_cached_for_the_negative_ttl() {
        let s = CacheSettings::default();
        assert_eq!(entry_ttl(None, now(), &s), s.negative_ttl);
    }

    #[test]
    fn an_entry_round_trips_and_carries_no_secret() {
        let r = record(State::Revoked, Some(TimeDelta::seconds(5)));
        let e = Entry::from_record(&r);
        let bytes = serde_json::to_vec(&e).unwrap();
        let back: Entry = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.state().unwrap(), State::Revoked);
        assert_eq!(back.expires_at().unwrap(), r.expires_at);
    }

    #[test]
    fn entries_from_a_newer_version_with_extra_fields_still_read() {
        let e: Entry = serde_json::from_str(
            r#"{"id":"key_000000000000000000000000","name":"n","st":"a","scopes":["x"]}"#,
        )
        .unwrap();
        assert_eq!(e.state().unwrap(), State::Active);
    }
    #[test]
    fn a_meta_cannot_forge_the_fields_the_verify_script_finds_by_pattern() {
        let mut r = record(State::Revoked, None);
        let forged: Map<String, serde_json::Value> = serde_json::from_str(
            r#"{"rl":[1,1],"lm":[[1,1,"x"]],"q":[1,0,0,0,""],"st":"a","exp":1,"to":"x"}"#,
        )
        .unwrap();
        r.meta = Some(forged.clone());
        let text = String::from_utf8(entry_bytes(&r)).unwrap();
        for pattern in [
            r#""rl":["#,
            r#""lm":["#,
            r#""q":["#,
            r#""st":"a""#,
            r#""exp":"#,
            r#""to":""#,
        ] {
            assert!(!text.contains(pattern), "{pattern} in {text}");
        }
        let back: Entry = serde_json::from_str(&text).unwrap();
        let meta = back.details().unwrap().meta.unwrap();
        assert_eq!(
            serde_json::from_str::<Map<String, serde_json::Value>>(&meta).unwrap(),
            forged
        );
    }

    #[test]
    fn an_entry_cached_before_named_limits_reads_its_rate_limit_as_default() {
        let e: Entry = serde_json::from_str(
            r#"{"id":"key_000000000000000000000000","name":"n","st":"a","rl":[5,60]}"#,
        )
        .unwrap();
        assert!(e.has_limits());
        assert_eq!(
            e.limits().rate_limit(),
            Some(RateLimit {
                limit: 5,
                window_seconds: 60
            })
        );
    }

    #[test]
    fn refill_codes_round_trip_and_zero_is_none() {
        assert_eq!(refill_code(None), 0);
        for every in REFILLS {
            assert_eq!(refill_of(refill_code(Some(every))), Some(every));
        }
        assert_eq!(refill_of(0), None);
        assert_eq!(refill_of(9), None);
    }

    /// The same times as the store's round trip: an entry keeps every storable expiry.
    #[test]
    fn every_storable_expiry_round_trips_through_an_entry() {
        use crate::domain::time::{storable, STORABLE_YEARS};
        use chrono::NaiveDate;
        use rand::Rng;
        let first = NaiveDate::from_ymd_opt(*STORABLE_YEARS.start(), 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(*STORABLE_YEARS.end(), 12, 31).unwrap();
        let start = first.and_hms_opt(0, 0, 0).unwrap().and_utc();
        let span = (last - first).num_milliseconds() + 86_400_000;
        let mut rng = rand::rng();
        for _ in 0..2_000 {
            let at = start + TimeDelta::milliseconds(rng.random_range(0..span));
            assert!(storable(at));
            let r = KeyRecord {
                expires_at: Some(at),
                ..record(State::Active, None)
            };
            let bytes = serde_json::to_vec(&Entry::from_record(&r)).unwrap();
            let back: Entry = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(back.expires_at().unwrap(), Some(at), "{at}");
        }
    }
}
