//! The settings of one run (`Services`, read from local/env.sh's variables) and the small
//! types that the commands and the per-service files share: which services the command
//! line names, and who started the one that answers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::endpoint::{host_port, is_local_host, parse_endpoint, Endpoint};
use super::process::{dynamodb_port_of, process_args, redis_port_of, to_stderr};
use super::{die, var};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Service {
    DynamoDb,
    Redis,
}

#[derive(Clone, Copy)]
pub(super) struct Wanted {
    pub(super) dynamodb: bool,
    pub(super) redis: bool,
}

impl Wanted {
    pub(super) fn names(self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.dynamodb {
            names.push("dynamodb");
        }
        if self.redis {
            names.push("redis");
        }
        names
    }
}

/// Who started the service answering on the configured port.
pub(super) enum Owner {
    /// Not `up` (as far as the pid files tell).
    Unknown,
    /// `up`, on the configured port.
    Us(u32),
    /// `up` runs one, but on another port.
    Elsewhere(u32, Option<u16>),
}

impl Owner {
    pub(super) fn note(&self) -> Option<String> {
        match self {
            Owner::Unknown => None,
            Owner::Us(pid) => Some(format!("started by services.sh, pid {pid}")),
            Owner::Elsewhere(pid, port) => Some(format!(
                "note: services.sh also runs one on port {}, pid {pid}",
                port.map_or("?".to_string(), |p| p.to_string())
            )),
        }
    }
}

pub(super) struct Services {
    pub(super) root: PathBuf,
    pub(super) run_dir: PathBuf,
    pub(super) dynamodb_url: String,
    pub(super) dynamodb: Endpoint,
    pub(super) dynamodb_https: bool,
    pub(super) redis: Endpoint,
    pub(super) redis_tls: bool,
    /// REDIS_URL without credentials, for messages.
    pub(super) redis_shown: String,
    pub(super) use_docker: bool,
    pub(super) in_memory: bool,
    pub(super) java_options: Vec<String>,
    pub(super) dynamodb_wait: u64,
    pub(super) redis_wait: u64,
}

pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

impl Services {
    /// The settings of local/env.sh (whose defaults are repeated here for a direct run).
    pub(super) fn from_env() -> Result<Self, String> {
        let cwd = std::env::current_dir().map_err(|e| format!("no working directory: {e}"))?;
        let root = var("KEYGATE_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
        let run_dir = cwd.join(
            var("KEYGATE_RUN_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("local/.run")),
        );
        let dynamodb_url = var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|| {
            let port = var("DYNAMODB_PORT").unwrap_or_else(|| "8000".into());
            format!("http://127.0.0.1:{port}")
        });
        let dynamodb_https = dynamodb_url.starts_with("https://");
        let dynamodb = parse_endpoint(&dynamodb_url, if dynamodb_https { 443 } else { 80 })?;
        let redis_url = var("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".into());
        let (scheme, redis_tls) = if redis_url.starts_with("redis://") {
            ("redis", false)
        } else if redis_url.starts_with("rediss://") {
            ("rediss", true)
        } else {
            let scheme = redis_url.split("://").next().unwrap_or_default();
            return Err(format!(
                "REDIS_URL must start with redis:// or rediss:// (got '{scheme}://...')"
            ));
        };
        let redis = parse_endpoint(&redis_url, 6379)?;
        let redis_shown = format!("{scheme}://{}", host_port(&redis.host, redis.port));
        let seconds = |name: &str, default: u64| match var(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("{name} must be a number of seconds (got '{v}')")),
        };
        Ok(Services {
            root,
            run_dir,
            dynamodb_url,
            dynamodb,
            dynamodb_https,
            redis,
            redis_tls,
            redis_shown,
            use_docker: var("KEYGATE_USE_DOCKER").as_deref() != Some("0"),
            in_memory: var("KEYGATE_DYNAMODB_IN_MEMORY").as_deref() == Some("1"),
            java_options: var("KEYGATE_DYNAMODB_JAVA_OPTS")
                .map(|opts| opts.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            dynamodb_wait: seconds("KEYGATE_DYNAMODB_WAIT", 60)?,
            redis_wait: seconds("KEYGATE_REDIS_WAIT", 10)?,
        })
    }

    pub(super) fn file(&self, name: &str) -> PathBuf {
        self.run_dir.join(name)
    }

    pub(super) fn owner(&self, service: Service) -> Owner {
        let (pid, port, endpoint) = match service {
            Service::DynamoDb => {
                let Some(pid) = self.dynamodb_pid() else {
                    return Owner::Unknown;
                };
                (pid, dynamodb_port_of(&process_args(pid)), &self.dynamodb)
            }
            Service::Redis => {
                let Some(pid) = self.redis_pid() else {
                    return Owner::Unknown;
                };
                (pid, redis_port_of(&process_args(pid)), &self.redis)
            }
        };
        if is_local_host(&endpoint.host) && port == Some(endpoint.port) {
            Owner::Us(pid)
        } else {
            Owner::Elsewhere(pid, port)
        }
    }

    pub(super) fn install(&self, tool: &str) {
        let script = self.root.join("local/install-tools.sh");
        match Command::new("bash")
            .arg(&script)
            .arg(tool)
            .stdout(to_stderr())
            .status()
        {
            Ok(status) if status.success() => {}
            Ok(status) => std::process::exit(status.code().unwrap_or(1)),
            Err(err) => die(format!("could not run {}: {err}", script.display())),
        }
    }
}
