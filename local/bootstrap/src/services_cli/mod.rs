//! `keygate-local services up|down|status [dynamodb] [redis]`: the DynamoDB Local and
//! Redis that `make dev`, `make test`, `make check` and the benchmarks run on. Called
//! through local/services.sh, which sources local/env.sh for the settings. Progress and
//! errors go to stderr, as `keygate: …` lines.
//!
//! This file holds the entry point (usage, arguments, dispatch) and the message helpers
//! that every part shares; each submodule has one job:
//! - `endpoint`: parsing the configured URLs;
//! - `process`: pid files, signals and waiting on processes;
//! - `config`: the settings of a run and the types the service files share;
//! - `dynamodb`, `redis`: probing and natively starting each service;
//! - `docker`: the same through docker compose;
//! - `commands`: `up`, `down` and `status` themselves.

mod commands;
mod config;
mod docker;
mod dynamodb;
mod endpoint;
mod process;
mod redis;

use std::fmt::Display;

use config::{Services, Wanted};

const USAGE: &str = "\
usage: keygate-local services up|down|status [dynamodb] [redis]   (no service name = both)
       (local/services.sh runs it with the settings of local/env.sh)

  up      Reuse whatever already answers at $AWS_ENDPOINT_URL_DYNAMODB and $REDIS_URL;
          start the missing ones. With a usable Docker engine (and KEYGATE_USE_DOCKER != 0)
          via local/docker-compose.yml, otherwise natively (java -jar DynamoDBLocal.jar,
          redis-server), installing the needed tool first (local/install-tools.sh).
  down    Stop only what `up` started (pid files in $KEYGATE_RUN_DIR, or the compose
          project); never touches a service it merely reused.
  status  One line per service; exit 1 if any is unreachable.

Settings (local/env.sh gives the defaults): AWS_ENDPOINT_URL_DYNAMODB, DYNAMODB_PORT,
REDIS_URL, KEYGATE_RUN_DIR, KEYGATE_TOOLS_DIR, KEYGATE_USE_DOCKER=0|1,
KEYGATE_DYNAMODB_IN_MEMORY=1 (no data kept between restarts),
KEYGATE_DYNAMODB_JAVA_OPTS (extra JVM options, e.g. -Xmx256m),
KEYGATE_DYNAMODB_WAIT (seconds, default 60), KEYGATE_REDIS_WAIT (default 10).
A native DynamoDB Local works in $KEYGATE_RUN_DIR/dynamodb (its data, unless in memory);
the logs and pid files are $KEYGATE_RUN_DIR/{dynamodb,redis}.{log,pid}.
";

fn log(message: impl Display) {
    eprintln!("keygate: {message}");
}

fn die(message: impl Display) -> ! {
    eprintln!("keygate: error: {message}");
    std::process::exit(1)
}

/// An environment variable, unset when empty (as `${VAR:-default}` in local/env.sh).
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `keygate-local services ARGS`; returns the exit code.
pub fn run(args: Vec<String>) -> i32 {
    let Some((command, names)) = args.split_first() else {
        eprint!("{USAGE}");
        return 2;
    };
    if matches!(command.as_str(), "-h" | "--help" | "help") {
        eprint!("{USAGE}");
        return 0;
    }
    let mut wanted = Wanted {
        dynamodb: names.is_empty(),
        redis: names.is_empty(),
    };
    for name in names {
        match name.as_str() {
            "dynamodb" => wanted.dynamodb = true,
            "redis" => wanted.redis = true,
            other => {
                eprint!("{USAGE}");
                die(format!(
                    "unknown service '{other}' (expected: dynamodb, redis)"
                ));
            }
        }
    }
    if !matches!(command.as_str(), "up" | "down" | "status") {
        eprint!("{USAGE}");
        return 2;
    }
    let services = Services::from_env().unwrap_or_else(|err| die(err));
    match command.as_str() {
        "up" => services.up(wanted),
        "down" => services.down(wanted),
        _ => services.status(wanted),
    }
}
