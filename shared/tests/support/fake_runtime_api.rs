//! A fake Lambda Runtime API, for the tests of `keygate::trace_env`: it hands out invocations
//! that each carry a distinct `Lambda-Runtime-Trace-Id`, records what the runtime posts back,
//! and then holds the runtime's next `/next` request open, so the process under test sits
//! still, idle, with every invocation done.
//!
//! One file, included by `shared/tests/trace_env.rs` and by each `functions/*/tests/trace_env.rs`
//! (through `#[path]`), so it uses std only: no crate needs a new dependency. The HTTP/1.1 is
//! hand-rolled because no crate in the workspace has a server (hyper is built with its client
//! only); it understands exactly what lambda_runtime's client sends.
#![allow(dead_code)] // Each test binary uses part of it.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PREFIX: &str = "/2018-06-01/runtime/";

/// An API Gateway HTTP API (v2) request, `GET /` without credentials: every function parses
/// it (the authorizer's event has the same shape) and answers at once (no key, no token).
pub const HTTP_GET_EVENT: &str = r#"{"version":"2.0","routeKey":"$default","rawPath":"/","rawQueryString":"","headers":{"host":"localhost"},"requestContext":{"accountId":"123456789012","apiId":"keygate","domainName":"localhost","domainPrefix":"localhost","http":{"method":"GET","path":"/","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"keygate-trace-env-test"},"requestId":"trace-env-test","routeKey":"$default","stage":"$default","time":"01/Jan/2025:00:00:00 +0000","timeEpoch":0},"isBase64Encoded":false}"#;

#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub trace_id: String,
    pub event: String,
}

/// `count` invocations of `event`, each with its own request id and X-Ray trace id. The ids
/// are unique to this run, so none can be mistaken for a leftover of another.
pub fn invocations(count: usize, event: &str) -> Vec<Invocation> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let unique = format!("{:08x}{:08x}{run:08x}", std::process::id(), nanos);
    (0..count)
        .map(|i| Invocation {
            request_id: format!("trace-env-{unique}-{i}"),
            trace_id: format!("Root=1-{i:08x}-{unique};Parent={i:016x};Sampled=1"),
            event: event.to_owned(),
        })
        .collect()
}

/// What the runtime posted for an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`, with its body.
    Response(String),
    /// `POST /invocation/{id}/error`, with its body.
    Error(String),
}

#[derive(Clone)]
pub struct FakeRuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    pending: VecDeque<Invocation>,
    handed_out: Vec<Invocation>,
    outcomes: Vec<(String, Outcome)>,
    /// The runtime asked for an invocation after the last one: it is idle, all done.
    idle_after_last: bool,
    init_error: Option<String>,
    unexpected: Vec<String>,
}

impl FakeRuntimeApi {
    /// Listens on 127.0.0.1, on a free port, and serves `invocations` in order.
    pub fn start(invocations: Vec<Invocation>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("the listener's address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                pending: invocations.into(),
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        let for_server = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&for_server);
                std::thread::spawn(move || serve_connection(stream, &shared));
            }
        });
        Self { address, shared }
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> String {
        self.address.to_string()
    }

    /// Waits until the runtime has answered every invocation and asked for the next one.
    /// Returns each invocation with what the runtime posted for it, in order. `alive` is
    /// called while waiting, to stop early (with its error) if the process under test died.
    /// `limit` only keeps a broken runtime from hanging the test; nothing is timed.
    pub fn wait_until_idle(
        &self,
        limit: Duration,
        mut alive: impl FnMut() -> Result<(), String>,
    ) -> Result<Vec<(Invocation, Outcome)>, String> {
        let give_up = Instant::now() + limit;
        let mut state = self.shared.state.lock().unwrap();
        loop {
            if let Some(error) = &state.init_error {
                return Err(format!("the function failed to start: {error}"));
            }
            if !state.unexpected.is_empty() {
                return Err(format!("unexpected requests: {:?}", state.unexpected));
            }
            if state.idle_after_last {
                return state
                    .handed_out
                    .iter()
                    .map(|invocation| {
                        let outcome = state
                            .outcomes
                            .iter()
                            .find(|(id, _)| *id == invocation.request_id)
                            .map(|(_, outcome)| outcome.clone())
                            .ok_or_else(|| format!("no response for {}", invocation.request_id))?;
                        Ok((invocation.clone(), outcome))
                    })
                    .collect();
            }
            if Instant::now() >= give_up {
                return Err(format!(
                    "gave up after {limit:?}: {} invocations handed out, {} answered, {} pending",
                    state.handed_out.len(),
                    state.outcomes.len(),
                    state.pending.len()
                ));
            }
            drop(state);
            alive()?;
            state = self.shared.state.lock().unwrap();
            state = self
                .shared
                .changed
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap()
                .0;
        }
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some((method, path, body)) = read_request(&mut reader) {
        let mut state = shared.state.lock().unwrap();
        let reply = if method == "GET" && path == format!("{PREFIX}invocation/next") {
            match state.pending.pop_front() {
                Some(invocation) => {
                    let reply = next_invocation(&invocation);
                    state.handed_out.push(invocation);
                    reply
                }
                None => {
                    state.idle_after_last = true;
                    shared.changed.notify_all();
                    drop(state);
                    // Hold the request open until the runtime goes away.
                    let _ = reader.read_to_end(&mut Vec::new());
                    return;
                }
            }
        } else if method == "POST" && path == format!("{PREFIX}init/error") {
            state.init_error = Some(body);
            accepted()
        } else if let Some((id, kind)) = (method == "POST")
            .then(|| path.strip_prefix(&format!("{PREFIX}invocation/")))
            .flatten()
            .and_then(|rest| rest.split_once('/'))
        {
            let outcome = match kind {
                "response" => Some(Outcome::Response(body)),
                "error" => Some(Outcome::Error(body)),
                _ => None,
            };
            match outcome {
                Some(outcome) => {
                    state.outcomes.push((id.to_owned(), outcome));
                    accepted()
                }
                None => {
                    state.unexpected.push(format!("{method} {path}"));
                    not_found()
                }
            }
        } else {
            state.unexpected.push(format!("{method} {path}"));
            not_found()
        };
        shared.changed.notify_all();
        drop(state);
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// One request: method, path and body (by `Content-Length` or chunked). `None` at the end
/// of the connection or on anything this fake does not understand.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, String)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let (mut length, mut chunked) = (0, false);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2]; // the chunk and its CRLF
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some((method, path, String::from_utf8_lossy(&body).into_owned()))
}

fn next_invocation(invocation: &Invocation) -> String {
    let deadline_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        + 600_000;
    format!(
        "HTTP/1.1 200 OK\r\n\
         Content-Type: application/json\r\n\
         Lambda-Runtime-Aws-Request-Id: {}\r\n\
         Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n\
         Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:trace-env-test\r\n\
         Lambda-Runtime-Trace-Id: {}\r\n\
         Content-Length: {}\r\n\r\n{}",
        invocation.request_id,
        invocation.trace_id,
        invocation.event.len(),
        invocation.event
    )
}

fn accepted() -> String {
    "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"
        .to_owned()
}

fn not_found() -> String {
    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned()
}

/// Runs the function binary at `binary` against a fake Runtime API for a run of invocations,
/// each with a new trace id, then reads the idle process's writable memory (`/proc/<pid>/mem`)
/// for `_X_AMZN_TRACE_ID=<id>` strings and panics unless only the last id is there.
///
/// A function binary as Lambda starts it, in a clean environment: no stray
/// `_X_AMZN_TRACE_ID`, no AWS profile; nothing listens on port 1, so Redis and DynamoDB fail
/// fast if a handler should ever reach for them.
pub fn lambda_command(binary: &str, api: &FakeRuntimeApi) -> std::process::Command {
    let mut command = std::process::Command::new(binary);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.runtime_api())
        .env("AWS_LAMBDA_FUNCTION_NAME", "trace-env-test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "trace-env-test")
        .env("AWS_SECRET_ACCESS_KEY", "trace-env-test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
        .env("TABLE_NAME", "trace-env-test")
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("ADMIN_TOKEN", "trace-env-test-admin-token");
    command
}

/// A function binary running against the fake API, its output being read.
struct Run {
    binary: String,
    child: std::process::Child,
    output: [std::thread::JoinHandle<String>; 2],
}

impl Run {
    fn start(binary: &str, api: &FakeRuntimeApi, env: &[(&str, &str)]) -> Self {
        use std::process::Stdio;
        let mut child = lambda_command(binary, api)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {binary}: {err}"));
        let output = [
            drain(child.stdout.take().expect("stdout")),
            drain(child.stderr.take().expect("stderr")),
        ];
        Self {
            binary: binary.to_owned(),
            child,
            output,
        }
    }

    /// [`FakeRuntimeApi::wait_until_idle`], stopping early if the binary exits.
    fn wait_until_idle(
        &mut self,
        api: &FakeRuntimeApi,
    ) -> Result<Vec<(Invocation, Outcome)>, String> {
        let (binary, child) = (&self.binary, &mut self.child);
        api.wait_until_idle(Duration::from_secs(120), || match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("{binary} exited ({status})")),
            Err(err) => Err(format!("{binary}: {err}")),
        })
    }
}

/// Runs `binary` with `RUST_LOG=trace` on invocations whose event carries `secret` in its
/// `X-API-KEY` header and in its body, and asserts that its output never shows it, while
/// other crates' DEBUG lines do show (so the level really was raised).
pub fn assert_no_secret_in_the_logs_at_trace(binary: &str, secret: &str) {
    let event = HTTP_GET_EVENT
        .replace(
            r#""headers":{"host":"localhost"}"#,
            &format!(r#""headers":{{"host":"localhost","x-api-key":"{secret}"}}"#),
        )
        .replace(
            r#""isBase64Encoded":false"#,
            &format!(r#""body":"{{\"key\":\"{secret}\"}}","isBase64Encoded":false"#),
        );
    assert!(event.matches(secret).count() == 2, "{event}");
    let api = FakeRuntimeApi::start(invocations(3, &event));
    let mut run = Run::start(binary, &api, &[("RUST_LOG", "trace")]);
    let served = run.wait_until_idle(&api);
    let mut child = run.child;
    let output = run.output;
    let _ = child.kill();
    let _ = child.wait();
    let output: String = output.into_iter().map(|o| o.join().unwrap()).collect();
    served.unwrap_or_else(|err| panic!("{err}\n{output}"));
    assert!(
        output.contains("DEBUG"),
        "{binary} wrote no DEBUG line with RUST_LOG=trace: the level was not raised\n{output}"
    );
    assert!(
        !output.contains(secret),
        "{binary} logged the key presented to it at TRACE:\n{output}"
    );
}

/// That is what `keygate::trace_env` guarantees: one buffer, rewritten in place. If the
/// binary's `set_var` reaches glibc's `setenv` instead, every value it was given stays in the
/// heap, never freed, so all the ids are found: the leak itself, counted exactly, with no
/// timing and no memory threshold.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn assert_the_binary_keeps_one_trace_id(binary: &str) {
    const INVOCATIONS: usize = 40;
    let invocations = invocations(INVOCATIONS, HTTP_GET_EVENT);
    let api = FakeRuntimeApi::start(invocations.clone());
    // A clean environment: no stray `_X_AMZN_TRACE_ID`, no AWS profile; nothing listens on
    // port 1, so Redis and DynamoDB fail fast if a handler should ever reach for them.
    let mut run = Run::start(binary, &api, &[]);
    let pid = run.child.id();
    let served = run.wait_until_idle(&api);
    let mut child = run.child;
    let output = run.output;
    let found = served
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|_| trace_ids_in_memory(pid));
    // Only our own child, by its handle.
    let _ = child.kill();
    let _ = child.wait();
    let output: Vec<String> = output.into_iter().map(|o| o.join().unwrap()).collect();
    let context = || format!("{binary}'s output:\n{}\n{}", output[0], output[1]);

    let served = served.unwrap_or_else(|err| panic!("{err}\n{}", context()));
    for (invocation, outcome) in &served {
        assert!(
            matches!(outcome, Outcome::Response(_)),
            "{binary} did not serve invocation {} (the test's event no longer parses?): \
             {outcome:?}\n{}",
            invocation.request_id,
            context()
        );
    }
    let found = found.unwrap_or_else(|err| panic!("{err}\n{}", context()));

    let last = &invocations[INVOCATIONS - 1].trace_id;
    let earlier: Vec<&String> = invocations[..INVOCATIONS - 1]
        .iter()
        .map(|invocation| &invocation.trace_id)
        .filter(|id| found.contains(id))
        .collect();
    assert!(
        earlier.is_empty(),
        "{binary}: {} of the {} earlier trace ids are still in its memory as \
         `_X_AMZN_TRACE_ID=<id>`: its `set_var` went to the C library's `setenv`, which keeps \
         every value it is given (the leak keygate::trace_env exists to stop). Does its main.rs \
         still say `keygate::keep_trace_id_env_bounded!();`? First: {}",
        earlier.len(),
        INVOCATIONS - 1,
        earlier[0]
    );
    assert!(
        found.contains(last),
        "{binary}: the last trace id ({last}) is not in its memory as `_X_AMZN_TRACE_ID=<id>` \
         (found: {found:?}): either lambda_runtime no longer sets the variable (see \
         shared/tests/trace_env.rs) or this scan no longer sees it"
    );
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn drain(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = from.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// The values of every `_X_AMZN_TRACE_ID=<value>` string in the writable memory of process
/// `pid` (a child of this one, so readable without privileges beyond the same user).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trace_ids_in_memory(pid: u32) -> Result<Vec<String>, String> {
    use std::os::unix::fs::FileExt;

    const NEEDLE: &[u8] = b"_X_AMZN_TRACE_ID=";
    const LONGEST: usize = 512;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|err| format!("cannot read /proc/{pid}/maps: {err}"))?;
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).map_err(|err| {
        format!("cannot open /proc/{pid}/mem ({err}): the test needs to read its child's memory")
    })?;
    // Writable mappings, adjacent ones joined: a static buffer can straddle the end of the
    // binary's file-backed data and the anonymous rest of its .bss.
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(range), Some(perms)) = (fields.first(), fields.get(1)) else {
            continue;
        };
        let name = fields.get(5).copied().unwrap_or("");
        if !perms.starts_with("rw") || name.starts_with("[v") {
            continue; // Only writable memory can hold a value set at run time.
        }
        let (start, end) = range
            .split_once('-')
            .and_then(|(s, e)| {
                Some((
                    u64::from_str_radix(s, 16).ok()?,
                    u64::from_str_radix(e, 16).ok()?,
                ))
            })
            .ok_or_else(|| format!("unexpected line in /proc/{pid}/maps: {line}"))?;
        match spans.last_mut() {
            Some(last) if last.1 == start => last.1 = end,
            _ => spans.push((start, end)),
        }
    }
    let (mut found, mut scanned) = (Vec::new(), 0usize);
    for (start, end) in spans {
        let mut span = vec![0; (end - start) as usize];
        if mem.read_exact_at(&mut span, start).is_err() {
            continue;
        }
        scanned += span.len();
        let mut at = 0;
        while let Some(offset) = find(&span[at..], NEEDLE) {
            let value = &span[at + offset + NEEDLE.len()..];
            let value = &value[..value.len().min(LONGEST)];
            if let Some(nul) = value.iter().position(|&b| b == 0) {
                found.push(String::from_utf8_lossy(&value[..nul]).into_owned());
            }
            at += offset + NEEDLE.len();
        }
    }
    if scanned == 0 {
        return Err(format!(
            "could not read any of process {pid}'s writable memory"
        ));
    }
    Ok(found)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
