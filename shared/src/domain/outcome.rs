//! How a verification ends: one closed set of outcomes. The guard, the authorizer and any
//! later caller match on [`Outcome`]; the HTTP edge maps each to its answer in one place
//! (`edge/error.rs`), so a new outcome cannot be forgotten by one of them.

use chrono::{DateTime, Utc};

use crate::domain::identity::IdentityInfo;
use crate::domain::key::KeyId;
use crate::domain::limit::{Limits, RateStatus, Refusal, Usage};
use crate::domain::role::Role;
use crate::domain::scope::Scopes;
use crate::domain::usage::UsageTicket;

/// What a handler learns about the key that was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: KeyId,
    pub name: String,
    pub owner: Option<String>,
    /// The identity the key belongs to, when it has one.
    pub identity: Option<IdentityInfo>,
    pub scopes: Scopes,
    /// Set when the key is an admin credential: what it may do. The guard refuses such a
    /// key; the admin API accepts nothing else.
    pub role: Option<Role>,
    /// Where the key stands against its rate limit after this request, when it has one.
    pub rate: Option<RateStatus>,
    /// Calls left after this one, when the key has a quota and the cache counted it.
    pub quota_remaining: Option<u64>,
}

/// Every way a verification can end. Unknown and malformed keys share `Invalid`, so a
/// caller cannot tell a made-up key from one that never existed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Boxed: refusals are small, and every `Result` that carries one stays small too.
    Valid(Box<KeyInfo>),
    /// No key was presented.
    Missing,
    Invalid,
    Revoked,
    Expired,
    /// Over a rate limit (named `limit`); `retry_after` is the time until the request would
    /// pass, in seconds.
    RateLimited {
        retry_after: u64,
        limit: String,
        rate: Option<RateStatus>,
    },
    /// No quota left; `retry_after` is the time to its next refill, if it has one.
    QuotaExhausted {
        retry_after: Option<u64>,
        rate: Option<RateStatus>,
    },
    /// A valid key without a scope the caller requires (the first one it lacks).
    MissingScope(String),
    Unavailable(Unavailable),
}

/// Why a key could not be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// Neither the cache nor DynamoDB could answer.
    Store,
    /// The key has limits, the cache cannot count them, and the deployment says deny
    /// (`RATE_LIMIT_WHEN_CACHE_DOWN=deny`).
    LimitsUncounted,
}

impl Outcome {
    /// A valid key's outcome once its limits have spoken: refused by the first limit that
    /// says so, else valid with where it stands.
    pub fn limited(mut info: KeyInfo, usage: Usage) -> Self {
        let rate = usage.rate.clone();
        info.rate = usage.rate;
        info.quota_remaining = usage.quota_remaining;
        match usage.refusal {
            None => Outcome::Valid(Box::new(info)),
            Some(Refusal::RateLimited { retry_after, limit }) => Outcome::RateLimited {
                retry_after,
                limit,
                rate,
            },
            Some(Refusal::QuotaExhausted { retry_after }) => {
                Outcome::QuotaExhausted { retry_after, rate }
            }
        }
    }

    /// Requires every scope in `required` of a valid key; a refusal stays as it is (a
    /// request refused for a scope has still been counted against the key's limits).
    pub fn require_scopes(self, required: &[&str]) -> Self {
        match self {
            Outcome::Valid(info) => match info.scopes.first_missing(required) {
                Some(scope) => Outcome::MissingScope(scope.to_owned()),
                None => Outcome::Valid(info),
            },
            other => other,
        }
    }

    pub fn is_valid(&self) -> bool {
        matches!(self, Outcome::Valid(_))
    }

    /// A short name for log lines and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Valid(_) => "valid",
            Outcome::Missing => "missing",
            Outcome::Invalid => "invalid",
            Outcome::Revoked => "revoked",
            Outcome::Expired => "expired",
            Outcome::RateLimited { .. } => "rate_limited",
            Outcome::QuotaExhausted { .. } => "quota_exhausted",
            Outcome::MissingScope(_) => "missing_scope",
            Outcome::Unavailable(_) => "unavailable",
        }
    }
}

/// Where an outcome came from, for logs, tests and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Rejected by the format check: no I/O at all.
    Format,
    Cache,
    /// Cache miss, then DynamoDB.
    Database,
    /// Redis failed or is being skipped, so DynamoDB answered alone.
    DatabaseWithoutCache,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Format => "format",
            Source::Cache => "cache",
            Source::Database => "dynamodb",
            Source::DatabaseWithoutCache => "dynamodb_cache_down",
        }
    }
}

/// A verification: its outcome, the key's public id and details whenever the key exists
/// (also when it is refused), and where the answer came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub outcome: Outcome,
    pub key_id: Option<KeyId>,
    pub source: Source,
    /// What the verify API shows about the key, whatever the outcome: the guard and the
    /// authorizer use the outcome alone. Boxed, as the outcome's `KeyInfo` is.
    pub details: Option<Box<KeyDetails>>,
    /// Where the cache counted this request as presented, when it did: a refusal is then
    /// counted beside it (`ops::usage::count_outcome`).
    pub usage: Option<UsageTicket>,
}

/// A key's public fields, as the cache entry or the record holds them, and where its limits
/// stood after this request. Everything here comes with the read verification makes anyway:
/// reporting it costs no I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDetails {
    pub name: String,
    pub owner: Option<String>,
    pub scopes: Scopes,
    /// The key's `meta` as JSON text (an object): parsed only by the verify API, not on
    /// every guarded request.
    pub meta: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The limits that counted the request (a rotated key's replacement's, in its grace
    /// period), and whether a quota did.
    pub limits: Limits,
    pub has_quota: bool,
    /// Each limit after this request, in the order of `limits`, when Redis counted it.
    pub rates: Vec<RateStatus>,
    /// Calls left on the quota after this request, when Redis counted it.
    pub quota_remaining: Option<u64>,
    /// The identity the key belongs to, with its shared limits.
    pub identity: Option<IdentityDetails>,
}

/// A key's identity as the verify API shows it, and where its shared limits stood after
/// this request (as [`KeyDetails`] says of the key's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityDetails {
    pub info: IdentityInfo,
    pub limits: Limits,
    pub has_quota: bool,
    pub rates: Vec<RateStatus>,
    pub quota_remaining: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(scopes: &[&str]) -> KeyInfo {
        KeyInfo {
            id: KeyId::generate().unwrap(),
            name: "n".into(),
            owner: None,
            identity: None,
            scopes: Scopes::parse_list(scopes).unwrap(),
            role: None,
            rate: None,
            quota_remaining: None,
        }
    }

    #[test]
    fn a_valid_key_lacking_a_scope_names_the_first_missing_one() {
        let outcome = Outcome::Valid(Box::new(info(&["a"]))).require_scopes(&["a", "b", "c"]);
        assert_eq!(outcome, Outcome::MissingScope("b".into()));
        assert!(Outcome::Valid(Box::new(info(&["a"])))
            .require_scopes(&["a"])
            .is_valid());
    }

    #[test]
    fn a_refusal_stays_a_refusal_whatever_the_scopes() {
        assert_eq!(Outcome::Revoked.require_scopes(&["x"]), Outcome::Revoked);
    }

    #[test]
    fn the_first_limit_that_refuses_decides() {
        let usage = Usage {
            rate: None,
            rates: Vec::new(),
            quota_remaining: Some(0),
            refusal: Some(Refusal::QuotaExhausted { retry_after: None }),
        };
        assert_eq!(
            Outcome::limited(info(&[]), usage),
            Outcome::QuotaExhausted {
                retry_after: None,
                rate: None
            }
        );
        let valid = Outcome::limited(
            info(&[]),
            Usage {
                quota_remaining: Some(4),
                ..Usage::default()
            },
        );
        assert!(matches!(valid, Outcome::Valid(k) if k.quota_remaining == Some(4)));
    }
}
