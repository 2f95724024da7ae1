//! `keygate-local create-table`: creates `TABLE_NAME` (with its indexes) in the DynamoDB
//! that the SDK's configuration points at, unless it exists. In AWS the template does this.
//!
//! `keygate-local services up|down|status [dynamodb] [redis]`: starts, stops and probes
//! DynamoDB Local and Redis (see `services_cli/`; local/services.sh calls it).
//!
//! `keygate-local create-admin --name alice --role admin`: creates an admin credential
//! straight in the table the configuration names (the first one, on a deployment without a
//! bootstrap token, or locally) and prints its secret once, on stdout alone.
//!
//! `keygate-local fold-usage [--every SECONDS]`: folds the usage counts in Redis into the
//! table, once or every SECONDS until stopped: the `usage-fold` function's job, which runs
//! every minute in AWS (`make dev` runs this beside the functions).
//!
//! `keygate-local import FILE --url URL --token TOKEN`: the old Django key manager's keys
//! (CSV or `dumpdata` JSON) into a running Keygate's import endpoint, resumable (see
//! `import/mod.rs`).

use std::time::{Duration, Instant};

use keygate::app::{dynamodb_client, App};
use keygate::config::Config;
use keygate::domain::role::Role;
use keygate::store::{create_table, StoreError};
use keygate_local::{create_admin, import};

mod services_cli;

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("create-table") => create_table_command(),
        Some("services") => std::process::exit(services_cli::run(args.collect())),
        Some("create-admin") => create_admin_command(args.collect()),
        Some("import") => std::process::exit(import_command(args.collect())),
        Some("fold-usage") => std::process::exit(fold_usage_command(args.collect())),
        _ => {
            eprintln!(
                "usage: keygate-local create-table   (reads TABLE_NAME and the AWS SDK variables)"
            );
            eprintln!(
                "       keygate-local create-admin --name NAME --role verify|read|operate|admin   \
                 (reads TABLE_NAME, REDIS_URL and the AWS SDK variables)"
            );
            eprintln!("       keygate-local services up|down|status [dynamodb] [redis]   (--help)");
            eprintln!(
                "       keygate-local fold-usage [--every SECONDS]   \
                 (reads TABLE_NAME, REDIS_URL and the AWS SDK variables)"
            );
            eprintln!(
                "       keygate-local import FILE --url URL --token TOKEN [--batch N] [--restart]   \
                 (the old key manager's CSV or dumpdata JSON; import --help)"
            );
            std::process::exit(2);
        }
    }
}

/// `fold-usage`: one fold, or one every `--every` seconds until stopped, each reported on
/// a line of its own.
#[tokio::main(flavor = "current_thread")]
async fn fold_usage_command(args: Vec<String>) -> i32 {
    let every = match args.as_slice() {
        [] => None,
        [flag, seconds] if flag == "--every" => match seconds.parse::<u64>() {
            Ok(s) if s > 0 => Some(Duration::from_secs(s)),
            _ => {
                eprintln!(
                    "keygate: --every takes a whole number of seconds above 0, not {seconds:?}"
                );
                return 2;
            }
        },
        _ => {
            eprintln!("usage: keygate-local fold-usage [--every SECONDS]");
            return 2;
        }
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("keygate: configuration error: {err}");
            return 1;
        }
    };
    let app = match App::from_config(config).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("keygate: {err}");
            return 1;
        }
    };
    loop {
        match keygate::ops::usage::fold_all(&app.store, &app.cache, chrono::Utc::now()).await {
            Ok(r) => eprintln!(
                "keygate: usage folded: {} keys with counts, {} added, {} finished, {} dropped, {} failed",
                r.keys, r.folded, r.finished, r.dropped, r.failed
            ),
            Err(err) if every.is_some() => eprintln!("keygate: usage not folded ({err}); trying again next time"),
            Err(err) => {
                eprintln!("keygate: usage not folded: {err}");
                return 1;
            }
        }
        match every {
            Some(pause) => tokio::time::sleep(pause).await,
            None => return 0,
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

#[tokio::main(flavor = "current_thread")]
async fn import_command(args: Vec<String>) -> i32 {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", import::USAGE);
        return 0;
    }
    import::command(&args).await
}

#[tokio::main(flavor = "current_thread")]
async fn create_admin_command(args: Vec<String>) {
    let new = create_admin::arguments(&args).unwrap_or_else(|err| {
        eprintln!("keygate: {err}\n{}", create_admin::USAGE);
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
    match create_admin::create_admin(&app, new).await {
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
