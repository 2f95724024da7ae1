//! `up`, `down` and `status`: what each command decides for the wanted services; the
//! probing and starting they call on live in the per-service files and `docker`.

use std::fs;
use std::process::{Command, Stdio};

use super::config::{Owner, Service, Services, Wanted};
use super::endpoint::is_local_host;
use super::process::{process_args, stop_pid, to_stderr};
use super::{die, log};

impl Services {
    pub(super) fn up(&self, wanted: Wanted) -> i32 {
        if let Err(err) = fs::create_dir_all(&self.run_dir) {
            die(format!("cannot create {}: {err}", self.run_dir.display()));
        }
        let mut start = Wanted {
            dynamodb: false,
            redis: false,
        };
        if wanted.dynamodb {
            if let Some(answer) = self.dynamodb_probe() {
                match self.owner(Service::DynamoDb) {
                    Owner::Us(pid) => log(format!(
                        "dynamodb: already running (started by services.sh, pid {pid}) at {}",
                        self.dynamodb_url
                    )),
                    owner => log(format!(
                        "dynamodb: reusing the one answering at {} ({}{})",
                        self.dynamodb_url,
                        answer.describe(),
                        owner.note().map(|n| format!("; {n}")).unwrap_or_default()
                    )),
                }
                if !answer.looks_like_dynamodb() {
                    log("warning: if that is not DynamoDB, point DYNAMODB_PORT (or AWS_ENDPOINT_URL_DYNAMODB) at a free port");
                }
            } else if is_local_host(&self.dynamodb.host) {
                start.dynamodb = true;
            } else {
                die(format!("DynamoDB at {} does not answer, and it is not a local address, so it cannot be started here", self.dynamodb_url));
            }
        }
        if wanted.redis {
            if self.redis_reachable() {
                match self.owner(Service::Redis) {
                    Owner::Us(pid) => log(format!(
                        "redis: already running (started by services.sh, pid {pid}) at {}",
                        self.redis_shown
                    )),
                    owner => log(format!(
                        "redis: reusing the one answering at {}{}",
                        self.redis_shown,
                        owner.note().map(|n| format!(" ({n})")).unwrap_or_default()
                    )),
                }
            } else if is_local_host(&self.redis.host) {
                start.redis = true;
            } else {
                die(format!("Redis at {} does not answer, and it is not a local address, so it cannot be started here", self.redis_shown));
            }
        }
        if !start.dynamodb && !start.redis {
            return 0;
        }
        if let Some(compose) = self.compose() {
            if self.compose_start(&compose, start) {
                return 0;
            }
        }
        if start.dynamodb {
            self.start_dynamodb();
        }
        if start.redis {
            self.start_redis();
        }
        0
    }

    pub(super) fn down(&self, wanted: Wanted) -> i32 {
        let mut stopped = false;
        if wanted.dynamodb {
            if let Some(pid) = self.dynamodb_pid() {
                stop_pid("DynamoDB Local", pid);
                let _ = fs::remove_file(self.file("dynamodb.pid"));
                log("dynamodb: stopped");
                stopped = true;
            }
        }
        if wanted.redis {
            if let Some(pid) = self.redis_pid() {
                stop_pid(&format!("Redis ({})", process_args(pid)), pid);
                let _ = fs::remove_file(self.file("redis.pid"));
                log("redis: stopped");
                stopped = true;
            }
        }
        if let Some(compose) = self.compose() {
            let names = wanted.names();
            let running = Command::new(&compose[0])
                .args(&compose[1..])
                .args(["ps", "-q"])
                .args(&names)
                .stderr(Stdio::null())
                .output()
                .is_ok_and(|out| !out.stdout.trim_ascii().is_empty());
            if running {
                log(format!("stopping {} in docker compose...", names.join(" ")));
                let mut command = Command::new(&compose[0]);
                command.args(&compose[1..]);
                if wanted.dynamodb && wanted.redis {
                    command.arg("down");
                } else {
                    command.args(["rm", "-s", "-f"]).args(&names);
                }
                if !command
                    .stdout(to_stderr())
                    .status()
                    .is_ok_and(|s| s.success())
                {
                    die("docker compose could not stop them");
                }
                stopped = true;
            }
        }
        if !stopped {
            log("nothing started by services.sh is running (reused services are left alone)");
        }
        0
    }

    pub(super) fn status(&self, wanted: Wanted) -> i32 {
        let mut code = 0;
        if wanted.dynamodb {
            let note = self.owner(Service::DynamoDb).note();
            match self.dynamodb_probe() {
                Some(answer) => log(format!(
                    "dynamodb: reachable at {} ({}{})",
                    self.dynamodb_url,
                    answer.describe(),
                    note.map(|n| format!("; {n}")).unwrap_or_default()
                )),
                None => {
                    log(format!(
                        "dynamodb: NOT reachable at {}{}",
                        self.dynamodb_url,
                        note.map(|n| format!(" ({n})")).unwrap_or_default()
                    ));
                    code = 1;
                }
            }
        }
        if wanted.redis {
            let note = self
                .owner(Service::Redis)
                .note()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            if self.redis_reachable() {
                log(format!("redis: reachable at {}{note}", self.redis_shown));
            } else {
                log(format!(
                    "redis: NOT reachable at {}{note}",
                    self.redis_shown
                ));
                code = 1;
            }
        }
        code
    }
}
