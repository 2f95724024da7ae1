//! Row 5, cold start: from spawning a release binary to its first answered invocation.
//!
//! The harness plays the Lambda Runtime API itself (a few lines of HTTP/1.1 on a local
//! port), so nothing but the function's own start-up is on the clock: exec, dynamic
//! loading, configuration, the SDK client, the Redis connection, then one request. The
//! first `GET .../invocation/next` gets an API Gateway v2 event; the clock stops when the
//! function POSTs its response; later polls are left hanging until the process is killed.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::stats::{verdict, Spread};
use crate::{BenchError, Settings};

// Plain threads and blocking sockets rather than Tokio's: the harness then enables no
// Tokio feature the functions lack, so one release build serves both.

const REQUEST_ID: &str = "bench-cold-start";

/// One HTTP/1.1 request as the runtime client sends it.
struct HttpRequest {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<HttpRequest>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let (mut length, mut chunked) = (0usize, false);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some(HttpRequest { method, path, body }))
}

/// What the emulated Runtime API saw.
enum Seen {
    Response(Instant, Vec<u8>),
    Error(String),
}

const ACCEPTED: &[u8] = b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}";

fn serve_connection(
    stream: TcpStream,
    event: &str,
    handed_out: &AtomicBool,
    seen: &mpsc::Sender<Seen>,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut write = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader)? {
        if req.method == "GET" && req.path.ends_with("/runtime/invocation/next") {
            if handed_out.swap(true, Ordering::SeqCst) {
                // One invocation per process: the next poll waits until the process dies.
                let _ = reader.read(&mut [0u8; 1]);
                return Ok(());
            }
            let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 lambda-runtime-aws-request-id: {REQUEST_ID}\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\n\
                 lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\r\n",
                event.len()
            );
            write.write_all(head.as_bytes())?;
            write.write_all(event.as_bytes())?;
        } else if req.method == "POST" && req.path.ends_with("/response") {
            let at = Instant::now();
            write.write_all(ACCEPTED)?;
            let _ = seen.send(Seen::Response(at, req.body));
        } else {
            write.write_all(ACCEPTED)?;
            let _ = seen.send(Seen::Error(format!(
                "{} {}: {}",
                req.method,
                req.path,
                String::from_utf8_lossy(&req.body)
            )));
        }
    }
    Ok(())
}

fn event(key: &str) -> String {
    serde_json::json!({
        "version": "2.0",
        "routeKey": "GET /api/v1/keys/test-protected/",
        "rawPath": "/api/v1/keys/test-protected/",
        "rawQueryString": "",
        "headers": { "host": "localhost", "x-api-key": key },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": "GET",
                "path": "/api/v1/keys/test-protected/",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "keygate-bench"
            },
            "requestId": REQUEST_ID,
            "routeKey": "GET /api/v1/keys/test-protected/",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000i64
        },
        "isBase64Encoded": false
    })
    .to_string()
}

/// Spawns `binary` once and returns the time to its first answered invocation, with the
/// response's body.
fn once(binary: &Path, settings: &Settings, key: &str) -> Result<(Duration, String), BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let (tx, rx) = mpsc::channel();
    let event = Arc::new(event(key));
    let stop = Arc::new(AtomicBool::new(false));
    let acceptor = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let handed_out = Arc::new(AtomicBool::new(false));
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (event, handed_out, tx) = (event.clone(), handed_out.clone(), tx.clone());
                std::thread::spawn(move || serve_connection(stream, &event, &handed_out, &tx));
            }
        })
    };

    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("function");
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("TABLE_NAME", &settings.table)
        .env("REDIS_URL", &settings.redis_url)
        .env("CACHE_KEY_PREFIX", &settings.namespace)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| BenchError(format!("spawning {}: {e}", binary.display())))?;
    let seen = rx.recv_timeout(Duration::from_secs(20));
    let _ = child.kill();
    let _ = child.wait();
    // Wake the acceptor so it sees `stop` and returns.
    stop.store(true, Ordering::SeqCst);
    let _ = TcpStream::connect(address);
    let _ = acceptor.join();
    match seen {
        Ok(Seen::Response(at, body)) => Ok((
            at.duration_since(started),
            String::from_utf8_lossy(&body).into_owned(),
        )),
        Ok(Seen::Error(what)) => Err(BenchError(format!("{name} reported {what}"))),
        Err(_) => Err(BenchError(format!(
            "{name} gave no answer within 20 s of starting"
        ))),
    }
}

pub fn run(
    settings: &Settings,
    protected: &Path,
    empty: &Path,
    key: &str,
) -> Result<String, BenchError> {
    let (mut p, mut e) = (Spread::default(), Spread::default());
    let mut ratio = Spread::default();
    // One unrecorded round first: the page cache then holds both binaries, as it would
    // on a warm Lambda host that has the code loaded.
    for round in 0..=settings.cold_starts {
        let (pt, body) = once(protected, settings, key)?;
        if !body.contains("\"statusCode\":200") {
            return Err(BenchError(format!(
                "test-protected did not answer 200 at cold start: {body}"
            )));
        }
        let (et, _) = once(empty, settings, key)?;
        if round > 0 {
            let (pt, et) = (pt.as_secs_f64() * 1e3, et.as_secs_f64() * 1e3);
            p.push(pt);
            e.push(et);
            ratio.push(pt / et);
        }
    }
    let mut out = String::new();
    out.push_str(
        "| Row | test-protected | Baseline, same run | Ratio | Goal |\n|---|---|---|---|---|\n",
    );
    writeln!(
        out,
        "| 5. Cold start, spawn → first answered invocation (median of {} starts, min–max) | {} | empty `lambda_http` function: {} | ×{} | < 25 ms: {} |",
        settings.cold_starts,
        p.show(1, "ms"),
        e.show(1, "ms"),
        ratio.ratio(),
        verdict(p.median() < 25.0),
    )
    .ok();
    Ok(out)
}
