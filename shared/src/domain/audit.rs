//! The audit log: who did what to which key, and when. Every change to a key is written in
//! the same DynamoDB transaction as its event, so there is never a change without its event
//! nor an event without its change.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Serialize, Serializer};

use crate::domain::identity::IdentityId;
use crate::domain::key::KeyId;
use crate::domain::time::timestamp;

/// What an event is about: a key or admin credential, or an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Key(KeyId),
    Identity(IdentityId),
}

impl Subject {
    pub fn as_str(&self) -> &str {
        match self {
            Subject::Key(id) => id.as_str(),
            Subject::Identity(id) => id.as_str(),
        }
    }

    /// A key's, an admin credential's or an identity's id.
    pub fn parse(s: &str) -> Option<Self> {
        KeyId::parse(s)
            .map(Subject::Key)
            .or_else(|| IdentityId::parse(s).map(Subject::Identity))
    }
}

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
    /// Changes to admin credentials: their own actions, so that a filter on `issue` or
    /// `revoke` finds client keys only.
    AdminCreate,
    AdminRevoke,
    AdminRotate,
    /// A key of the system Keygate replaces, brought in by `POST admin/api/keys/import`.
    Import,
    /// Changes to identities (`admin/api/identities`).
    IdentityCreate,
    IdentityUpdate,
    IdentitySuspend,
    IdentityResume,
    IdentityDelete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Issue => "issue",
            Action::Update => "update",
            Action::Revoke => "revoke",
            Action::Rotate => "rotate",
            Action::LeakReported => "leak_reported",
            Action::AdminCreate => "admin_create",
            Action::AdminRevoke => "admin_revoke",
            Action::AdminRotate => "admin_rotate",
            Action::Import => "import",
            Action::IdentityCreate => "identity_create",
            Action::IdentityUpdate => "identity_update",
            Action::IdentitySuspend => "identity_suspend",
            Action::IdentityResume => "identity_resume",
            Action::IdentityDelete => "identity_delete",
        }
    }

    pub const ALL: [Action; 14] = [
        Action::Issue,
        Action::Update,
        Action::Revoke,
        Action::Rotate,
        Action::LeakReported,
        Action::AdminCreate,
        Action::AdminRevoke,
        Action::AdminRotate,
        Action::Import,
        Action::IdentityCreate,
        Action::IdentityUpdate,
        Action::IdentitySuspend,
        Action::IdentityResume,
        Action::IdentityDelete,
    ];

    /// The action as recorded for `id`: issue, revoke and rotate of an admin credential are
    /// the admin actions. The stores write one code path for both kinds.
    pub fn on(self, id: &KeyId) -> Self {
        match self {
            Action::Issue if id.is_admin() => Action::AdminCreate,
            Action::Revoke if id.is_admin() => Action::AdminRevoke,
            Action::Rotate if id.is_admin() => Action::AdminRotate,
            other => other,
        }
    }
}

impl FromStr for Action {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|a| a.as_str() == s).ok_or(())
    }
}

/// Who acts, as the edge knows it when a request arrives, before the key acted on is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Acting {
    /// The bootstrap `ADMIN_TOKEN`.
    #[default]
    Bootstrap,
    /// A personal admin credential.
    Admin { id: KeyId, name: String },
    /// The holder of the key acted on (self-service revoke and rotate).
    KeyHolder,
    /// Keygate itself, for this reason (`secret_scanning`: a scanner reported the key).
    System(String),
}

/// Who acted, as recorded on an event and shown by the audit API:
/// `{"type": "admin", "id", "name"}`, `{"type": "bootstrap"}`, `{"type": "key", "id"}` or
/// `{"type": "system", "reason"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Actor {
    Admin { id: KeyId, name: String },
    Bootstrap,
    Key { id: KeyId },
    System { reason: String },
}

impl Actor {
    /// The actor of a change to `key_id` made by `acting`.
    pub fn of(acting: &Acting, key_id: &KeyId) -> Self {
        match acting {
            Acting::Bootstrap => Actor::Bootstrap,
            Acting::Admin { id, name } => Actor::Admin {
                id: id.clone(),
                name: name.clone(),
            },
            Acting::KeyHolder => Actor::Key { id: key_id.clone() },
            Acting::System(reason) => Actor::System {
                reason: reason.clone(),
            },
        }
    }

    /// The id the audit API filters on (`actor_id=`): an admin credential's or a key's.
    pub fn id(&self) -> Option<&KeyId> {
        match self {
            Actor::Admin { id, .. } | Actor::Key { id } => Some(id),
            Actor::Bootstrap | Actor::System { .. } => None,
        }
    }

    /// The stored form: `bootstrap`, `admin:<id>` (the name stored beside it), `key:<id>`,
    /// `system:<reason>`.
    pub fn to_stored(&self) -> String {
        match self {
            Actor::Admin { id, .. } => format!("admin:{id}"),
            Actor::Bootstrap => "bootstrap".to_owned(),
            Actor::Key { id } => format!("key:{id}"),
            Actor::System { reason } => format!("system:{reason}"),
        }
    }

    pub fn name(&self) -> Option<&str> {
        match self {
            Actor::Admin { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Reads the stored form, including the forms events were written in before admin
    /// credentials existed: `admin` (the one shared token, now the bootstrap token) and
    /// `secret_scanning`.
    pub fn from_stored(stored: &str, name: Option<&str>) -> Option<Self> {
        match stored {
            "admin" | "bootstrap" => return Some(Actor::Bootstrap),
            "secret_scanning" => {
                return Some(Actor::System {
                    reason: stored.to_owned(),
                })
            }
            _ => {}
        }
        let (kind, rest) = stored.split_once(':')?;
        match kind {
            "admin" => Some(Actor::Admin {
                id: KeyId::parse(rest).filter(KeyId::is_admin)?,
                name: name?.to_owned(),
            }),
            "key" => Some(Actor::Key {
                id: KeyId::parse(rest)?,
            }),
            "system" => Some(Actor::System {
                reason: rest.to_owned(),
            }),
            _ => None,
        }
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Who made a change and from where (the edge reads it from the request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub actor: Acting,
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
    pub subject: Subject,
    /// For a rotation: the key that replaced `subject`.
    pub new_key_id: Option<KeyId>,
    pub actor: Actor,
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
        Self::about(
            action.on(key_id),
            Subject::Key(key_id.clone()),
            Actor::of(&origin.actor, key_id),
            origin,
            at,
        )
    }

    /// An event about an identity: only administrators change identities, so the actor is
    /// the bootstrap token or an admin credential.
    pub fn about_identity(
        action: Action,
        id: &IdentityId,
        origin: &Origin,
        at: DateTime<Utc>,
    ) -> Self {
        let actor = match &origin.actor {
            Acting::Admin { id, name } => Actor::Admin {
                id: id.clone(),
                name: name.clone(),
            },
            Acting::System(reason) => Actor::System {
                reason: reason.clone(),
            },
            Acting::Bootstrap | Acting::KeyHolder => Actor::Bootstrap,
        };
        Self::about(action, Subject::Identity(id.clone()), actor, origin, at)
    }

    fn about(
        action: Action,
        subject: Subject,
        actor: Actor,
        origin: &Origin,
        at: DateTime<Utc>,
    ) -> Self {
        let mut bytes = [0u8; 12];
        rand::rng().fill_bytes(&mut bytes);
        Self {
            id: format!("evt_{}", hex::encode(bytes)),
            at,
            action,
            subject,
            new_key_id: None,
            actor,
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
            key_id: self.subject.as_str(),
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
    /// The key, admin credential or identity acted on.
    pub key_id: &'a str,
    pub new_key_id: Option<&'a str>,
    pub actor: &'a Actor,
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
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(a));
            // The JSON name is the stored name.
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert!("delete".parse::<Action>().is_err());
    }

    #[test]
    fn changes_to_admin_credentials_are_their_own_actions() {
        let admin = KeyId::generate_admin().unwrap();
        let key = KeyId::generate().unwrap();
        assert_eq!(Action::Issue.on(&admin), Action::AdminCreate);
        assert_eq!(Action::Revoke.on(&admin), Action::AdminRevoke);
        assert_eq!(Action::Rotate.on(&admin), Action::AdminRotate);
        assert_eq!(Action::Issue.on(&key), Action::Issue);
    }

    #[test]
    fn actors_round_trip_through_their_stored_form() {
        let admin = KeyId::generate_admin().unwrap();
        let key = KeyId::generate().unwrap();
        for actor in [
            Actor::Admin {
                id: admin,
                name: "alice: ops".to_owned(),
            },
            Actor::Bootstrap,
            Actor::Key { id: key },
            Actor::System {
                reason: "revoked with key_1".to_owned(),
            },
        ] {
            assert_eq!(
                Actor::from_stored(&actor.to_stored(), actor.name()),
                Some(actor)
            );
        }
    }

    #[test]
    fn events_written_before_admin_credentials_read_in_the_new_shape() {
        assert_eq!(Actor::from_stored("admin", None), Some(Actor::Bootstrap));
        let key = KeyId::generate().unwrap();
        assert_eq!(
            Actor::from_stored(&format!("key:{key}"), None),
            Some(Actor::Key { id: key })
        );
        assert_eq!(
            serde_json::to_value(Actor::from_stored("secret_scanning", None).unwrap()).unwrap(),
            serde_json::json!({"type": "system", "reason": "secret_scanning"})
        );
        assert_eq!(Actor::from_stored("root", None), None);
    }

    #[test]
    fn a_key_holders_change_is_recorded_under_the_key_it_changed() {
        let key = KeyId::generate().unwrap();
        let origin = Origin {
            actor: Acting::KeyHolder,
            ..Origin::default()
        };
        let event = AuditEvent::new(Action::Revoke, &key, &origin, Utc::now());
        assert_eq!(
            serde_json::to_value(&event.actor).unwrap(),
            serde_json::json!({"type": "key", "id": key.as_str()})
        );
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
