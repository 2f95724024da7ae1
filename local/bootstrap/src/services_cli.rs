//! `keygate-local services up|down|status [dynamodb] [redis]`: the DynamoDB Local and
//! Redis that `make dev`, `make test`, `make check` and the benchmarks run on. Called
//! through local/services.sh, which sources local/env.sh for the settings. Progress and
//! errors go to stderr, as `keygate: …` lines.

use std::fmt::Display;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use keygate_local::services::{
    self, dynamodb_command, dynamodb_jar_dir, http_probe, redis_call, redis_server_command,
    tcp_open, HttpAnswer, RedisAuth, Storage,
};

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

// ------------------------------------------------------------------------- URLs

#[derive(Debug, Default, PartialEq, Eq)]
struct Endpoint {
    host: String,
    port: u16,
    user: String,
    password: String,
    /// From the first `/` on; empty when the URL has none.
    path: String,
}

/// Host, port, credentials and path of `scheme://[user[:password]@]host[:port][/path]`
/// (`redis://password@host` is accepted, as by most Redis clients; `[v6]:port` too).
fn parse_endpoint(url: &str, default_port: u16) -> Result<Endpoint, String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let authority = authority.split('?').next().unwrap_or_default();
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, password),
        None => ("", userinfo),
    };
    let (host, port) = match hostport.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((host, after)) => (host, after.strip_prefix(':').unwrap_or(after)),
        None => match (hostport.split_once(':'), hostport.rsplit_once(':')) {
            (Some((host, _)), Some((_, port))) => (host, port),
            _ => (hostport, ""),
        },
    };
    if host.is_empty() {
        return Err(format!("cannot parse a host from '{url}'"));
    }
    let port = if port.is_empty() {
        default_port
    } else if port.bytes().all(|b| b.is_ascii_digit()) {
        port.parse()
            .map_err(|_| format!("cannot parse a port from '{url}'"))?
    } else {
        return Err(format!("cannot parse a port from '{url}'"));
    };
    Ok(Endpoint {
        host: host.to_string(),
        port,
        user: user.to_string(),
        password: password.to_string(),
        path: path.to_string(),
    })
}

fn is_local_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "::1" | "0.0.0.0")
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

// -------------------------------------------------------------------- processes

/// Whether `pid` names a live process (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 sends nothing; kill(2) only checks that the process exists and that
    // we may signal it.
    if pid <= 0 || unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    // /proc/PID/stat: "PID (comm) STATE …"; comm may hold spaces and parentheses.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_none_or(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => true, // no /proc (macOS): trust kill(2)
    }
}

fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        if pid > 0 {
            // SAFETY: plain kill(2) on a pid we read from our own pid file and checked.
            unsafe { libc::kill(pid, signal) };
        }
    }
}

/// The command line of `pid` (as retitled by the process, e.g. `redis-server 127.0.0.1:6379`),
/// empty if it is gone.
fn process_args(pid: u32) -> String {
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(bytes) => String::from_utf8_lossy(&bytes)
            .split('\0')
            .filter(|arg| !arg.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        Err(_) if Path::new("/proc/self").exists() => String::new(),
        Err(_) => Command::new("ps")
            .args(["-p", &pid.to_string(), "-o", "args="])
            .stderr(Stdio::null())
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .unwrap_or_default(),
    }
}

/// The pid in `file` if it names a live process whose command line contains `pattern`;
/// a stale pid file is removed.
fn pid_of(file: &Path, pattern: &str) -> Option<u32> {
    let text = fs::read_to_string(file).ok()?;
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if let Ok(pid) = digits.parse() {
        if alive(pid) && process_args(pid).contains(pattern) {
            return Some(pid);
        }
    }
    let _ = fs::remove_file(file);
    None
}

/// The port after `-port` on a DynamoDB Local command line.
fn dynamodb_port_of(args: &str) -> Option<u16> {
    let mut words = args.split_whitespace();
    words.find(|w| *w == "-port")?;
    words.next()?.parse().ok()
}

/// The port of `redis-server 127.0.0.1:PORT` (how redis-server retitles itself): the digits
/// after the last colon that has any.
fn redis_port_of(args: &str) -> Option<u16> {
    args.rmatch_indices(':').find_map(|(i, _)| {
        let digits: String = args[i + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

fn stop_pid(name: &str, pid: u32) {
    log(format!("stopping {name} (pid {pid})..."));
    signal(pid, libc::SIGTERM);
    for _ in 0..100 {
        if !alive(pid) {
            return;
        }
        sleep(Duration::from_millis(100));
    }
    log(format!(
        "{name} (pid {pid}) did not stop in 10s; sending SIGKILL"
    ));
    signal(pid, libc::SIGKILL);
    sleep(Duration::from_millis(200));
}

/// Stops a child of this process that failed to start, and reaps it.
fn stop_child(name: &str, child: &mut Child) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    log(format!("stopping {name} (pid {})...", child.id()));
    signal(child.id(), libc::SIGTERM);
    for _ in 0..100 {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether `program` is an executable file on PATH.
fn have(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Runs `command` with no output, killing it after `limit`; true if it succeeded.
fn succeeds(command: &mut Command, limit: Duration) -> bool {
    let Ok(mut child) = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// Our stderr, for a child's stdout: progress output never lands on stdout.
fn to_stderr() -> Stdio {
    io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_or_else(|_| Stdio::inherit(), Stdio::from)
}

/// Waits until `ready`, saying so every 5 s; false after `limit` seconds or when `child`
/// (if any) exits first.
fn wait_for(
    name: &str,
    limit: u64,
    mut ready: impl FnMut() -> bool,
    mut child: Option<&mut Child>,
) -> bool {
    let start = Instant::now();
    let mut next = 5;
    while !ready() {
        if let Some(child) = child.as_deref_mut() {
            if !matches!(child.try_wait(), Ok(None)) {
                log(format!("{name} exited during start-up"));
                return false;
            }
        }
        let waited = start.elapsed().as_secs();
        if waited >= limit {
            log(format!("{name} did not answer within {limit}s"));
            return false;
        }
        if waited >= next {
            log(format!("still waiting for {name} ({waited}s)..."));
            next += 5;
        }
        sleep(Duration::from_millis(250));
    }
    true
}

fn show_log_tail(file: &Path) {
    let Ok(f) = File::open(file) else { return };
    let lines: Vec<String> = BufReader::new(f).lines().map_while(Result::ok).collect();
    log(format!("last lines of {}:", file.display()));
    for line in &lines[lines.len().saturating_sub(30)..] {
        eprintln!("    {line}");
    }
}

// ---------------------------------------------------------------------- config

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    DynamoDb,
    Redis,
}

#[derive(Clone, Copy)]
struct Wanted {
    dynamodb: bool,
    redis: bool,
}

impl Wanted {
    fn names(self) -> Vec<&'static str> {
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
enum Owner {
    /// Not `up` (as far as the pid files tell).
    Unknown,
    /// `up`, on the configured port.
    Us(u32),
    /// `up` runs one, but on another port.
    Elsewhere(u32, Option<u16>),
}

impl Owner {
    fn note(&self) -> Option<String> {
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

/// What answers at the DynamoDB endpoint.
enum DynamoDbAnswer {
    Http(HttpAnswer),
    /// An https:// endpoint: only its port is probed.
    TcpOnly,
}

impl DynamoDbAnswer {
    fn looks_like_dynamodb(&self) -> bool {
        match self {
            DynamoDbAnswer::Http(answer) => answer.looks_like_dynamodb,
            DynamoDbAnswer::TcpOnly => true,
        }
    }

    fn describe(&self) -> String {
        match self {
            DynamoDbAnswer::Http(HttpAnswer {
                status,
                looks_like_dynamodb: true,
            }) => format!("HTTP {status}"),
            DynamoDbAnswer::Http(HttpAnswer { status, .. }) => format!(
                "HTTP {status}, but no x-amzn-RequestId header: does not look like DynamoDB"
            ),
            DynamoDbAnswer::TcpOnly => "port open; https is not probed further".into(),
        }
    }
}

struct Services {
    root: PathBuf,
    run_dir: PathBuf,
    dynamodb_url: String,
    dynamodb: Endpoint,
    dynamodb_https: bool,
    redis: Endpoint,
    redis_tls: bool,
    /// REDIS_URL without credentials, for messages.
    redis_shown: String,
    use_docker: bool,
    in_memory: bool,
    java_options: Vec<String>,
    dynamodb_wait: u64,
    redis_wait: u64,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

impl Services {
    /// The settings of local/env.sh (whose defaults are repeated here for a direct run).
    fn from_env() -> Result<Self, String> {
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

    fn file(&self, name: &str) -> PathBuf {
        self.run_dir.join(name)
    }

    fn dynamodb_pid(&self) -> Option<u32> {
        pid_of(&self.file("dynamodb.pid"), "DynamoDBLocal.jar")
    }

    fn redis_pid(&self) -> Option<u32> {
        pid_of(&self.file("redis.pid"), "redis-server")
    }

    fn owner(&self, service: Service) -> Owner {
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

    // ------------------------------------------------------------------ probes

    fn dynamodb_probe(&self) -> Option<DynamoDbAnswer> {
        let Endpoint {
            host, port, path, ..
        } = &self.dynamodb;
        if self.dynamodb_https {
            return tcp_open(host, *port, PROBE_TIMEOUT).then_some(DynamoDbAnswer::TcpOnly);
        }
        http_probe(host, *port, path, PROBE_TIMEOUT).map(DynamoDbAnswer::Http)
    }

    /// A Redis answers (or, for rediss://, the port is open).
    fn redis_reachable(&self) -> bool {
        let Endpoint { host, port, .. } = &self.redis;
        if self.redis_tls {
            return tcp_open(host, *port, PROBE_TIMEOUT);
        }
        let auth = RedisAuth {
            user: self.redis.user.clone(),
            password: self.redis.password.clone(),
        };
        match redis_call(host, *port, Some(&auth), &["PING"], PROBE_TIMEOUT) {
            Ok(reply) if reply == "PONG" => true,
            Ok(reply)
                if reply.starts_with("NOAUTH")
                    || reply.starts_with("WRONGPASS")
                    || reply.contains("AUTH")
                    || reply.starts_with("ERR") =>
            {
                log(format!(
                    "warning: Redis at {} answered '{reply}' (check the credentials in REDIS_URL)",
                    host_port(host, *port)
                ));
                true
            }
            _ => false,
        }
    }

    fn install(&self, tool: &str) {
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

    // ------------------------------------------------------------------ docker

    /// The `docker compose -f local/docker-compose.yml` command, when a Docker engine is
    /// usable and not turned off with KEYGATE_USE_DOCKER=0.
    fn compose(&self) -> Option<Vec<String>> {
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
    fn compose_start(&self, compose: &[String], wanted: Wanted) -> bool {
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

    // ---------------------------------------------------------------- natively

    fn start_dynamodb(&self) {
        let Endpoint { host, port, .. } = &self.dynamodb;
        if let Some(pid) = self.dynamodb_pid() {
            let other = dynamodb_port_of(&process_args(pid)).map_or("?".into(), |p| p.to_string());
            die(format!("DynamoDB Local started earlier by services.sh (pid {pid}, port {other}) still runs, but nothing answers at {}; run 'local/services.sh down' first", self.dynamodb_url));
        }
        if tcp_open(host, *port, PROBE_TIMEOUT) {
            die(format!("port {port} on {host} is taken by something that does not answer HTTP; pick another DYNAMODB_PORT"));
        }
        // A fast no-op when the jar and a Java 17+ are there.
        self.install("dynamodb");
        let tools = services::tools_dir();
        let Some(jar_dir) = dynamodb_jar_dir(&tools) else {
            die("DynamoDB Local jar not found after install")
        };
        // DynamoDB Local writes into its working directory (dynamodb-local-metadata.json,
        // when telemetry is on): keep that with the other run-time files, out of the
        // clone and of the shared jar directory.
        let work_dir = self.file("dynamodb");
        if let Err(err) = fs::create_dir_all(&work_dir) {
            die(format!("cannot create {}: {err}", work_dir.display()));
        }
        let (storage, place) = if self.in_memory {
            (Storage::InMemory, "in memory".to_string())
        } else {
            (
                Storage::OnDisk(&work_dir),
                format!("data in {}", work_dir.display()),
            )
        };
        let log_file = self.file("dynamodb.log");
        let pid_file = self.file("dynamodb.pid");
        log(format!(
            "starting DynamoDB Local on port {port} ({place}; log: {})...",
            log_file.display()
        ));
        let start = Instant::now();
        let output = File::create(&log_file)
            .and_then(|f| Ok((f.try_clone()?, f)))
            .unwrap_or_else(|err| die(format!("cannot write {}: {err}", log_file.display())));
        let mut child = dynamodb_command(&jar_dir, *port, storage, &self.java_options)
            .current_dir(&work_dir)
            .stdin(Stdio::null())
            .stdout(output.0)
            .stderr(output.1)
            // Its own process group: a Ctrl-C meant for `make dev` does not reach it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|err| die(format!("cannot start java: {err}")));
        let pid = child.id();
        if let Err(err) = fs::write(&pid_file, format!("{pid}\n")) {
            stop_child("DynamoDB Local", &mut child);
            die(format!("cannot write {}: {err}", pid_file.display()));
        }
        let ready = || self.dynamodb_probe().is_some();
        if !wait_for(
            "DynamoDB Local",
            self.dynamodb_wait,
            ready,
            Some(&mut child),
        ) {
            show_log_tail(&log_file);
            stop_child("DynamoDB Local", &mut child);
            let _ = fs::remove_file(&pid_file);
            std::process::exit(1);
        }
        log(format!(
            "dynamodb: started (pid {pid}, ready in {:.1}s) at {}",
            start.elapsed().as_secs_f64(),
            self.dynamodb_url
        ));
    }

    fn start_redis(&self) {
        let Endpoint {
            host,
            port,
            user,
            password,
            ..
        } = &self.redis;
        let pid_file = self.file("redis.pid");
        let log_file = self.file("redis.log");
        if let Some(pid) = self.redis_pid() {
            die(format!("a Redis started earlier by services.sh (pid {pid}: {}) still runs, but no Redis answers at {}; run 'local/services.sh down' first", process_args(pid), host_port(host, *port)));
        }
        if self.redis_tls {
            die(format!("nothing listens at {} and services.sh cannot start a TLS (rediss://) Redis; use redis:// locally", host_port(host, *port)));
        }
        if tcp_open(host, *port, PROBE_TIMEOUT) {
            die(format!("port {port} on {host} is taken by something that does not answer a Redis PING; pick another port in REDIS_URL"));
        }
        if !have("redis-server") {
            self.install("redis");
        }
        let mut auth: Vec<String> = Vec::new();
        if !password.is_empty() {
            if user.is_empty() || user == "default" {
                auth.extend(["--requirepass".into(), password.clone()]);
            } else {
                auth.extend(
                    [
                        "--user",
                        user,
                        "on",
                        &format!(">{password}"),
                        "~*",
                        "&*",
                        "+@all",
                        "--user",
                        "default",
                        "off",
                    ]
                    .map(String::from),
                );
            }
        }
        log(format!(
            "starting redis-server on 127.0.0.1:{port} (log: {})...",
            log_file.display()
        ));
        let _ = fs::remove_file(&pid_file);
        let start = Instant::now();
        // It daemonizes itself (in a session of its own) and writes its pid file.
        let started = redis_server_command(*port)
            .args(["--daemonize", "yes"])
            .arg("--pidfile")
            .arg(&pid_file)
            .arg("--logfile")
            .arg(&log_file)
            .arg("--dir")
            .arg(&self.run_dir)
            .args(&auth)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        match started {
            Ok(status) if status.success() => {}
            Ok(status) => {
                show_log_tail(&log_file);
                die(format!("redis-server failed to start ({status})"));
            }
            Err(err) => die(format!("cannot start redis-server: {err}")),
        }
        if !wait_for("Redis", self.redis_wait, || self.redis_reachable(), None) {
            show_log_tail(&log_file);
            if let Some(pid) = self.redis_pid() {
                stop_pid("Redis", pid);
            }
            let _ = fs::remove_file(&pid_file);
            std::process::exit(1);
        }
        // The daemon writes its pid file right after it forks; give it a moment.
        for _ in 0..20 {
            if fs::metadata(&pid_file).is_ok_and(|m| m.len() > 0) {
                break;
            }
            sleep(Duration::from_millis(100));
        }
        let pid = self
            .redis_pid()
            .map_or("?".to_string(), |pid| pid.to_string());
        log(format!(
            "redis: started (pid {pid}, ready in {:.1}s) at {}",
            start.elapsed().as_secs_f64(),
            self.redis_shown
        ));
    }

    // ---------------------------------------------------------------- commands

    fn up(&self, wanted: Wanted) -> i32 {
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

    fn down(&self, wanted: Wanted) -> i32 {
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

    fn status(&self, wanted: Wanted) -> i32 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(host: &str, port: u16) -> Endpoint {
        Endpoint {
            host: host.into(),
            port,
            ..Default::default()
        }
    }

    #[test]
    fn endpoints_parse_as_local_env_writes_them() {
        assert_eq!(
            parse_endpoint("http://127.0.0.1:8000", 80),
            Ok(endpoint("127.0.0.1", 8000))
        );
        assert_eq!(
            parse_endpoint("redis://localhost", 6379),
            Ok(endpoint("localhost", 6379))
        );
        assert_eq!(
            parse_endpoint("https://dynamodb.eu-west-1.amazonaws.com", 443),
            Ok(endpoint("dynamodb.eu-west-1.amazonaws.com", 443))
        );
        assert_eq!(
            parse_endpoint("http://[::1]:8001/", 80),
            Ok(Endpoint {
                path: "/".into(),
                ..endpoint("::1", 8001)
            })
        );
    }

    #[test]
    fn credentials_path_and_query_are_split_off() {
        assert_eq!(
            parse_endpoint("redis://user:p:w@cache:6380/0?timeout=1", 6379),
            Ok(Endpoint {
                user: "user".into(),
                password: "p:w".into(),
                path: "/0?timeout=1".into(),
                ..endpoint("cache", 6380)
            })
        );
        assert_eq!(
            parse_endpoint("redis://secret@127.0.0.1:6390?db=1", 6379),
            Ok(Endpoint {
                password: "secret".into(),
                ..endpoint("127.0.0.1", 6390)
            })
        );
    }

    #[test]
    fn bad_endpoints_are_refused() {
        assert!(parse_endpoint("redis://:6379", 6379).is_err());
        assert!(parse_endpoint("redis://host:port", 6379).is_err());
        assert!(parse_endpoint("http://host:99999", 80).is_err());
    }

    #[test]
    fn ports_are_read_from_command_lines() {
        let java = "java -Djava.library.path=/x/DynamoDBLocal_lib -jar /x/DynamoDBLocal.jar -inMemory -sharedDb -port 8001 -disableTelemetry";
        assert_eq!(dynamodb_port_of(java), Some(8001));
        assert_eq!(dynamodb_port_of("java -jar DynamoDBLocal.jar"), None);
        assert_eq!(redis_port_of("redis-server 127.0.0.1:6390"), Some(6390));
        assert_eq!(redis_port_of("redis-server *:6379"), Some(6379));
        assert_eq!(redis_port_of("redis-server"), None);
    }

    #[test]
    fn a_live_process_and_its_command_line_are_seen() {
        let me = std::process::id();
        assert!(alive(me));
        assert!(!process_args(me).is_empty());
        assert!(!alive(0));
    }
}
