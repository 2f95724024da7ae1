//! ElastiCache Serverless only speaks TLS, so `REDIS_URL` is `rediss://...` in AWS. This
//! proves the Redis client does TLS, and verifies the server's certificate, against a local
//! `redis-server` started with a self-signed CA.
//!
//! The client must trust the test CA through `SSL_CERT_FILE` (which rustls-native-certs
//! reads in place of the system store), which holds for a whole process and cannot be set
//! safely once other tests' threads run. So the test starts the server here, then runs its
//! body in a child process of this same test binary, filtered to this one test, with
//! `SSL_CERT_FILE` set from its start.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use keygate::domain::outcome::Source;
use keygate_tests::services::spare_port;
use keygate_tests::{key_hash, spawn_app, Endpoints};

/// Set in the child process only: the port of the TLS Redis its parent started.
const CHILD_PORT: &str = "KEYGATE_TEST_TLS_REDIS_PORT";

/// A scratch directory and the `redis-server` using it, both gone when this drops, also
/// when an assertion fails.
struct TlsRedis {
    dir: PathBuf,
    child: Child,
    port: u16,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `openssl` in `dir`; `args` are split on whitespace.
fn openssl(dir: &Path, args: &str) {
    let output = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    assert!(
        output.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA, and a server certificate it signs for `localhost` only (no IP address), so a
/// connection to `127.0.0.1` must fail hostname verification.
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=keygate-test-ca \
         -keyout ca.key -out ca.pem",
    );
    openssl(
        dir,
        "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr",
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        dir,
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
         -extfile san.ext -out server.pem",
    );
}

fn start_tls_redis() -> TlsRedis {
    let dir = std::env::temp_dir().join(format!("keygate-redis-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    make_certificates(&dir);
    let port = spare_port();
    let child = Command::new("redis-server")
        .args(["--port", "0", "--tls-port", &port.to_string()])
        .args([
            "--tls-cert-file",
            "server.pem",
            "--tls-key-file",
            "server.key",
        ])
        .args(["--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no"])
        // IPv6 optional ("-"), so the test runs where there is none.
        .args([
            "--bind",
            "127.0.0.1 -::1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed");
    let server = TlsRedis { dir, child, port };
    wait_until_listening(port);
    server
}

fn wait_until_listening(port: u16) {
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("redis-server did not listen on its TLS port {port}; is it built with TLS?");
}

#[test]
fn keys_issue_verify_and_cache_through_a_tls_redis() {
    if let Ok(port) = std::env::var(CHILD_PORT) {
        // The child: SSL_CERT_FILE was set before it started.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(issue_and_verify(port.parse().unwrap()));
        return;
    }
    let redis = start_tls_redis();
    let this_test = format!(
        "{}::keys_issue_verify_and_cache_through_a_tls_redis",
        module_path!().split_once("::").unwrap().1
    );
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            this_test.as_str(),
            "--exact",
            "--test-threads=1",
            "--nocapture",
        ])
        .env("SSL_CERT_FILE", redis.dir.join("ca.pem"))
        .env(CHILD_PORT, redis.port.to_string())
        .output()
        .expect("the test binary runs itself");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(child.status.success(), "{output}");
    assert!(
        output.contains("1 passed"),
        "the test did not run: {output}"
    );
}

async fn issue_and_verify(port: u16) {
    let tls_url = format!("rediss://localhost:{port}");
    let plain = spawn_app().await;
    let app = plain.instance(Endpoints::with_redis(tls_url.clone())).await;

    let key = app.issue("tls").await.key;
    assert_eq!(app.protected(&key).await.status, 200);
    // A TLS handshake on a busy machine can outlast the connect timeout (4 x 50 ms), which
    // only opens the cache's back-off; what this test asks is that TLS works at all, so it
    // tries again past the back-off before it judges.
    let mut source = None;
    for _ in 0..20 {
        let v = app.verify(&key).await;
        source = Some(v.source);
        if v.source == Source::Cache {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        source,
        Some(Source::Cache),
        "verification should come to hit the cache through TLS"
    );

    // The entry is in the TLS server, not in the plain Redis the rest of the tests use.
    let mut conn = redis::Client::open(tls_url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("a TLS connection trusting the test CA");
    let entry: Option<String> = redis::cmd("GET")
        .arg(app.app.cache.entry_key(&key_hash(&key)))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(entry.is_some_and(|e| e.contains("\"st\":\"a\"")));
    assert!(plain.redis_dump().await.is_empty());

    // The certificate is really checked: it names `localhost`, not `127.0.0.1`.
    let wrong_name = redis::Client::open(format!("rediss://127.0.0.1:{port}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await;
    let err = wrong_name.expect_err("a certificate for another name was accepted");
    assert!(err.to_string().contains("certificate"), "{err}");
}
