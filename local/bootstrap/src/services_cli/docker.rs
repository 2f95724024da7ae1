//! Docker compose (local/docker-compose.yml): tried first when a Docker engine is usable;
//! when `compose up` fails, `up` starts the services natively instead.

use std::process::Command;
use std::time::{Duration, Instant};

use super::config::{Services, Wanted};
use super::log;
use super::process::{have, succeeds, to_stderr, wait_for};

impl Services {
    /// The `docker compose -f local/docker-compose.yml` command, when a Docker engine is
    /// usable and not turned off with KEYGATE_USE_DOCKER=0.
    pub(super) fn compose(&self) -> Option<Vec<String>> {
        if !self.use_docker || !have("docker") {
            return None;
        }
        if !succeeds(Command::new("docker").arg("info"), Duration::from_secs(15)) {
            return None;
        }
        let file = self
            .root
            .join("local/docker-compose.yml")
            .display()
            .to_string();
        if succeeds(
            Command::new("docker").args(["compose", "version"]),
            Duration::from_secs(15),
        ) {
            Some(vec!["docker".into(), "compose".into(), "-f".into(), file])
        } else if have("docker-compose") {
            Some(vec!["docker-compose".into(), "-f".into(), file])
        } else {
            log("a Docker engine is running but neither 'docker compose' nor 'docker-compose' is installed; running the services natively");
            None
        }
    }

    /// Starts the services with docker compose; false if `compose up` itself failed (no
    /// image, no network...), so that the caller starts them natively instead.
    pub(super) fn compose_start(&self, compose: &[String], wanted: Wanted) -> bool {
        let names = wanted.names();
        if wanted.redis && !self.redis.password.is_empty() {
            log("warning: the docker Redis has no password; the credentials in REDIS_URL will be rejected");
        }
        log(format!(
            "starting {} with docker compose ({})...",
            names.join(" "),
            compose[compose.len() - 1]
        ));
        let up = Command::new(&compose[0])
            .args(&compose[1..])
            .args(["up", "-d"])
            .args(&names)
            .env("DYNAMODB_PORT", self.dynamodb.port.to_string())
            .env("REDIS_PORT", self.redis.port.to_string())
            .stdout(to_stderr())
            .status();
        if !up.is_ok_and(|s| s.success()) {
            log("docker compose up failed; starting the services natively instead");
            return false;
        }
        let start = Instant::now();
        let logs = |service: &str| {
            let _ = Command::new(&compose[0])
                .args(&compose[1..])
                .args(["logs", "--tail", "30", service])
                .stdout(to_stderr())
                .status();
        };
        if wanted.dynamodb {
            let ready = || self.dynamodb_probe().is_some();
            if !wait_for("DynamoDB Local (docker)", self.dynamodb_wait, ready, None) {
                logs("dynamodb");
                std::process::exit(1);
            }
            log(format!(
                "dynamodb: started in docker (ready in {:.1}s) at {}",
                start.elapsed().as_secs_f64(),
                self.dynamodb_url
            ));
        }
        if wanted.redis {
            if !wait_for(
                "Redis (docker)",
                self.redis_wait,
                || self.redis_reachable(),
                None,
            ) {
                logs("redis");
                std::process::exit(1);
            }
            log(format!("redis: started in docker at {}", self.redis_shown));
        }
        true
    }
}
