//! `keygate-local create-table`: creates `TABLE_NAME` (with its indexes) in the DynamoDB
//! that the SDK's configuration points at, unless it exists. In AWS the template does this.
//!
//! `keygate-local services up|down|status [dynamodb] [redis]`: starts, stops and probes
//! DynamoDB Local and Redis (see `services_cli.rs`; local/services.sh calls it).
//!
//! `keygate-local create-admin --name alice --role admin`: creates an admin credential
//! straight in the table the configuration names (the first one, on a deployment without a
//! bootstrap token, or locally) and prints its secret once, on stdout alone.

use std::time::{Duration, Instant};

use keygate::app::{dynamodb_client, App};
use keygate::config::Config;
use keygate::domain::audit::{Acting, Origin};
use keygate::domain::role::Role;
use keygate::ops::admins::{create, NewAdmin};
use keygate::store::{create_table, StoreError};

mod services_cli;

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("create-table") => create_table_command(),
        Some("services") => std::process::exit(services_cli::run(args.collect())),
        Some("create-admin") => create_admin_command(args.collect()),
        _ => {
            eprintln!(
                "usage: keygate-local create-table   (reads TABLE_NAME and the AWS SDK variables)"
            );
            eprintln!(
                "       keygate-local create-admin --name NAME --role verify|read|operate|admin   \
                 (reads TABLE_NAME, REDIS_URL and the AWS SDK variables)"
            );
            eprintln!("       keygate-local services up|down|status [dynamodb] [redis]   (--help)");
            std::process::exit(2);
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn create_table_command() {
    let Some(table) = std::env::var("TABLE_NAME").ok().filter(|t| !t.is_empty()) else {
        eprintln!("keygate: TABLE_NAME is not set");
        std::process::exit(1);
    };
    let client = dynamodb_client().await;
    // DynamoDB Local may still be starting: retry for a while, saying so.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match create_table(&client, &table).await {
            Ok(true) => {
                eprintln!("keygate: created table {table}");
                return;
            }
            Ok(false) => {
                eprintln!("keygate: table {table} already exists");
                return;
            }
            Err(err @ StoreError::Unavailable(_)) if Instant::now() < deadline => {
                eprintln!("keygate: DynamoDB not ready yet ({err}); retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(err) => {
                eprintln!("keygate: could not create table {table}: {err}");
                std::process::exit(1);
            }
        }
    }
}

const CREATE_ADMIN_USAGE: &str =
    "usage: keygate-local create-admin --name NAME --role verify|read|operate|admin";

/// `--name` and `--role`, each once; anything else is a usage error.
fn admin_arguments(args: &[String]) -> Result<NewAdmin, String> {
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

#[tokio::main(flavor = "current_thread")]
async fn create_admin_command(args: Vec<String>) {
    let new = admin_arguments(&args).unwrap_or_else(|err| {
        eprintln!("keygate: {err}\n{CREATE_ADMIN_USAGE}");
        std::process::exit(2);
    });
    let config = Config::from_env().unwrap_or_else(|err| {
        eprintln!("keygate: {err}");
        std::process::exit(1);
    });
    let app = App::from_config(config).await.unwrap_or_else(|err| {
        eprintln!("keygate: {err}");
        std::process::exit(1);
    });
    // Recorded as Keygate's own doing: no credential signed this in.
    let origin = Origin {
        actor: Acting::System("keygate-local create-admin".to_owned()),
        ..Origin::default()
    };
    match create(&app, new, chrono::Utc::now(), &origin).await {
        Ok(created) => {
            eprintln!(
                "keygate: created admin credential {} ({}, role {}); its secret follows, \
                 shown this once",
                created.record.id,
                created.record.name,
                created.record.role.map_or("", Role::as_str)
            );
            println!("{}", created.key.expose());
        }
        Err(err) => {
            eprintln!("keygate: could not create the admin credential: {err}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn create_admin_reads_a_name_and_a_role() {
        let new = admin_arguments(&args(&["--name", "alice", "--role", "admin"])).unwrap();
        assert_eq!((new.name.as_str(), new.role), ("alice", Role::Admin));
    }

    #[test]
    fn create_admin_refuses_what_it_cannot_read() {
        for bad in [
            &["--name", "alice"][..],
            &["--role", "admin"],
            &["--name", "alice", "--role", "root"],
            &["--name", "alice", "--role", "admin", "--name", "bob"],
            &["--name", "", "--role", "admin"],
            &["--name"],
            &["alice"],
        ] {
            assert!(admin_arguments(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
