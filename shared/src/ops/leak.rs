//! A token a secret scanner found in public (GitHub's secret scanning partner programme,
//! `functions/leaks`): is it a live Keygate credential and, if it is, what happens to it.
//!
//! A live key is revoked through the same path as every revoke (`revoke.rs`), whose
//! transaction then also holds the `leak_reported` event (the origin carries the report), and
//! whose cache write makes the very next verification refuse it. With
//! [`LeakAction::Report`] only the event is written. Either way the event says where the
//! key was found, never the key.

use chrono::{DateTime, Utc};

use super::revoke::revoke_hash;
use super::OpError;
use crate::app::App;
use crate::domain::audit::{AuditEvent, Origin};
use crate::domain::key::{ApiKey, KeyHash, KeyId};
use crate::domain::record::Status;

/// What Keygate does with a live key reported as leaked (`LEAKED_KEY_ACTION`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LeakAction {
    /// Revoke it at once.
    #[default]
    Revoke,
    /// Only record the report in the audit log, for a person to decide.
    Report,
}

impl LeakAction {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "revoke" => Some(LeakAction::Revoke),
            "report" => Some(LeakAction::Report),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LeakAction::Revoke => "revoke",
            LeakAction::Report => "report",
        }
    }
}

/// Whether a reported token is a live Keygate credential: `true_positive`, or
/// `false_positive` for anything else (made up, unknown, already revoked, expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    TruePositive,
    FalsePositive,
}

impl Verdict {
    /// The label the partner programme's answer uses.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::TruePositive => "true_positive",
            Verdict::FalsePositive => "false_positive",
        }
    }
}

/// The credentials a reported token can be. Only API keys exist today. Administrator
/// credentials (`kga_…`, another issue) become a second variant, recognised in
/// [`Credential::recognise`] and judged by their own arm in [`leaked`].
enum Credential {
    ApiKey(ApiKey),
}

impl Credential {
    /// Format and checksum only, with no I/O: a made-up token ends here.
    fn recognise(token: &str) -> Option<Self> {
        ApiKey::parse(token).ok().map(Credential::ApiKey)
    }
}

/// Judges one reported token and, for a live credential, acts as `action` says. `origin`
/// is the scanner's, with its report (`edge::origin::secret_scanning`).
pub async fn leaked(
    app: &App,
    token: &str,
    action: LeakAction,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<Verdict, OpError> {
    match Credential::recognise(token) {
        None => Ok(Verdict::FalsePositive),
        Some(Credential::ApiKey(key)) => {
            api_key_leaked(app, &key.hash(), action, origin, now).await
        }
    }
}

async fn api_key_leaked(
    app: &App,
    hash: &KeyHash,
    action: LeakAction,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<Verdict, OpError> {
    let Some(record) = app.store.get(hash).await? else {
        return Ok(Verdict::FalsePositive);
    };
    match record.status_at(now) {
        Status::Active => {}
        Status::Revoked => {
            if action == LeakAction::Revoke {
                // Writes nothing to the table, only the cache entry again: a report whose
                // revoke stopped before its cache write answered 503, and this is the
                // scanner's retry.
                revoke_hash(app, hash, now, origin).await?;
            }
            return Ok(Verdict::FalsePositive);
        }
        Status::Expired => return Ok(Verdict::FalsePositive),
    }
    match action {
        LeakAction::Revoke => {
            let revoked = revoke_hash(app, hash, now, origin).await?;
            if !revoked.changed {
                // Revoked by someone else since it was read: the report still counts.
                record_report(app, &record.id, origin, now).await?;
            }
        }
        LeakAction::Report => record_report(app, &record.id, origin, now).await?,
    }
    tracing::warn!(
        key_id = %record.id,
        action = action.as_str(),
        source = origin.leak.as_ref().and_then(|l| l.source.as_deref()),
        "a live key was reported leaked"
    );
    Ok(Verdict::TruePositive)
}

/// The `leak_reported` event alone, when no revoke carries it.
async fn record_report(
    app: &App,
    key_id: &KeyId,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), OpError> {
    let report = origin.leak.clone().unwrap_or_default();
    let event = AuditEvent::leak_reported(key_id, origin, &report, now);
    app.store
        .transact(vec![app.store.put_event(&event)?])
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_labels_read_as_configured_and_answered() {
        assert_eq!(LeakAction::parse("revoke"), Some(LeakAction::Revoke));
        assert_eq!(LeakAction::parse("report"), Some(LeakAction::Report));
        assert_eq!(LeakAction::parse("Revoke"), None);
        assert_eq!(LeakAction::default(), LeakAction::Revoke);
        assert_eq!(Verdict::TruePositive.label(), "true_positive");
        assert_eq!(Verdict::FalsePositive.label(), "false_positive");
    }

    #[test]
    fn only_a_well_formed_key_with_its_checksum_is_recognised() {
        let key = ApiKey::generate(&Default::default()).unwrap();
        assert!(Credential::recognise(key.expose()).is_some());
        let typo = format!("{}0", &key.expose()[..key.expose().len() - 1]);
        for token in ["", "kg_nope", "kga_0123", typo.as_str()] {
            if token != key.expose() {
                assert!(Credential::recognise(token).is_none(), "{token}");
            }
        }
    }
}
