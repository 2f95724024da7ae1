//! `keygate-local create-admin --name NAME --role ROLE`: an admin credential made straight
//! in the table, for the first one on a deployment without a bootstrap token, and locally.

use chrono::Utc;
use keygate::domain::audit::{Acting, Origin};
use keygate::domain::role::Role;
use keygate::ops::admins::{create, CreatedAdmin, NewAdmin};
use keygate::ops::OpError;
use keygate::App;

pub const USAGE: &str =
    "usage: keygate-local create-admin --name NAME --role verify|read|operate|admin";

/// The audit actor of a credential made this way: no credential signed it in.
pub const REASON: &str = "keygate-local create-admin";

/// `--name` and `--role`, each once; anything else is a usage error.
pub fn arguments(args: &[String]) -> Result<NewAdmin, String> {
    let (mut name, mut role) = (None, None);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--name" => &mut name,
            "--role" => &mut role,
            other => return Err(format!("unknown argument {other:?}")),
        };
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        if slot.replace(value.clone()).is_some() {
            return Err(format!("{flag} is given twice"));
        }
    }
    let name = name
        .filter(|n| !n.trim().is_empty() && n.chars().count() <= 200)
        .ok_or("--name is required: 1 to 200 characters")?;
    let role = role.ok_or("--role is required")?;
    let role = Role::parse(&role)
        .ok_or_else(|| format!("--role {role:?} is not one of verify, read, operate, admin"))?;
    Ok(NewAdmin {
        name: name.trim().to_owned(),
        role,
        expires_at: None,
    })
}

/// Creates the credential, audited as `{"type": "system", "reason": REASON}`.
pub async fn create_admin(app: &App, new: NewAdmin) -> Result<CreatedAdmin, OpError> {
    let origin = Origin {
        actor: Acting::System(REASON.to_owned()),
        ..Origin::default()
    };
    create(app, new, Utc::now(), &origin).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_name_and_a_role_are_read() {
        let new = arguments(&args(&["--name", "alice", "--role", "admin"])).unwrap();
        assert_eq!((new.name.as_str(), new.role), ("alice", Role::Admin));
    }

    #[test]
    fn what_cannot_be_read_is_refused() {
        for bad in [
            &["--name", "alice"][..],
            &["--role", "admin"],
            &["--name", "alice", "--role", "root"],
            &["--name", "alice", "--role", "admin", "--name", "bob"],
            &["--name", "", "--role", "admin"],
            &["--name"],
            &["alice"],
        ] {
            assert!(arguments(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
