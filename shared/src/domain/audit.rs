//! The audit log: who did what to which key, and when. Every change to a key is written in
//! the same DynamoDB transaction as its event, so there is never a change without its event
//! nor an event without its change.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;

use crate::domain::key::KeyId;
use crate::domain::time::timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Issue,
    Update,
    Revoke,
    Rotate,
    /// A secret scanner found the key in public (`functions/leaks`). Written with the
    /// revoke it caused, in the same transaction, or alone when the deployment only reports.
    LeakReported,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Issue => "issue",
            Action::Update => "update",
            Action::Revoke => "revoke",
            Action::Rotate => "rotate",
            Action::LeakReported => "leak_reported",
        }
    }
}

impl FromStr for Action {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "issue" => Ok(Action::Issue),
            "update" => Ok(Action::Update),
            "revoke" => Ok(Action::Revoke),
            "rotate" => Ok(Action::Rotate),
            "leak_reported" => Ok(Action::LeakReported),
            _ => Err(()),
        }
    }
}

/// Who acted: an administrator, the holder of the key acted on (self-service revoke
/// and rotate), recorded as `key:<id>`, or a secret scanner that found the key in public,
/// recorded as `secret_scanning`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Actor {
    #[default]
    Admin,
    KeyHolder,
    SecretScanning,
}

/// Who made a change and from where (the edge reads it from the request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub actor: Actor,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// Set when the change answers a leak report: a revoke then also writes the
    /// `leak_reported` event, in the same transaction as the revoke.
    pub leak: Option<LeakReport>,
}

/// Where a secret scanner found a key: the public URL and the kind of place (`content`,
/// `commit`, `issue_comment`...), as the scanner gave them. Never the key itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeakReport {
    pub url: Option<String>,
    pub source: Option<String>,
}

/// One audit event. `changes` lists the names of the fields an update changed, never
/// their values: no secret can reach the log this way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: String,
    pub at: DateTime<Utc>,
    pub action: Action,
    pub key_id: KeyId,
    /// For a rotation: the key that replaced `key_id`.
    pub new_key_id: Option<KeyId>,
    /// `admin` or `key:<id>`.
    pub actor: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub changes: Vec<String>,
    /// For `leak_reported`: where the key was found.
    pub leak: Option<LeakReport>,
}

impl AuditEvent {
    /// Event ids only need to be unique, not secret: the thread-local generator will do.
    pub fn new(action: Action, key_id: &KeyId, origin: &Origin, at: DateTime<Utc>) -> Self {
        let mut bytes = [0u8; 12];
        rand::rng().fill_bytes(&mut bytes);
        Self {
            id: format!("evt_{}", hex::encode(bytes)),
            at,
            action,
            key_id: key_id.clone(),
            new_key_id: None,
            actor: match origin.actor {
                Actor::Admin => "admin".to_owned(),
                Actor::KeyHolder => format!("key:{key_id}"),
                Actor::SecretScanning => "secret_scanning".to_owned(),
            },
            source_ip: origin.source_ip.clone(),
            user_agent: origin.user_agent.clone(),
            request_id: origin.request_id.clone(),
            changes: Vec::new(),
            leak: None,
        }
    }

    /// The `leak_reported` event of a change made because of `report`.
    pub fn leak_reported(
        key_id: &KeyId,
        origin: &Origin,
        report: &LeakReport,
        at: DateTime<Utc>,
    ) -> Self {
        let mut event = Self::new(Action::LeakReported, key_id, origin, at);
        event.leak = Some(report.clone());
        event
    }

    pub fn view(&self) -> AuditView<'_> {
        AuditView {
            id: &self.id,
            time: timestamp(self.at),
            action: self.action,
            key_id: self.key_id.as_str(),
            new_key_id: self.new_key_id.as_ref().map(KeyId::as_str),
            actor: &self.actor,
            source_ip: self.source_ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            request_id: self.request_id.as_deref(),
            changes: &self.changes,
            leak_url: self.leak.as_ref().and_then(|l| l.url.as_deref()),
            leak_source: self.leak.as_ref().and_then(|l| l.source.as_deref()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AuditView<'a> {
    pub id: &'a str,
    pub time: String,
    pub action: Action,
    pub key_id: &'a str,
    pub new_key_id: Option<&'a str>,
    pub actor: &'a str,
    pub source_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub changes: &'a [String],
    /// Only on `leak_reported` events: where the key was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leak_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leak_source: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_their_names() {
        for a in [
            Action::Issue,
            Action::Update,
            Action::Revoke,
            Action::Rotate,
            Action::LeakReported,
        ] {
            assert_eq!(a.as_str().parse::<Action>(), Ok(a));
            // The JSON name is the stored name.
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert!("delete".parse::<Action>().is_err());
    }

    #[test]
    fn event_ids_are_unique_and_prefixed() {
        let id = KeyId::generate().unwrap();
        let origin = Origin::default();
        let a = AuditEvent::new(Action::Issue, &id, &origin, Utc::now());
        let b = AuditEvent::new(Action::Issue, &id, &origin, Utc::now());
        assert!(a.id.starts_with("evt_"));
        assert_ne!(a.id, b.id);
    }
}
