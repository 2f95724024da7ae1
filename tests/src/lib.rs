//! The test harness: `spawn_app` gives each test its own DynamoDB table and Redis key
//! namespace on the real local services, and returns a [`TestApp`] whose helpers call the
//! functions' handlers exactly as the Lambda runtime would.
//!
//! Endpoints come from `AWS_ENDPOINT_URL_DYNAMODB` and `REDIS_URL` (`make test` sets them);
//! set `TEST_LOG=1` to echo the captured log lines.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use keygate::cache::Cache;
use keygate::config::{AdminToken, Config};
use keygate::store::{create_table, Store};
use keygate::App;
use lambda_http::http::{Method, Request as HttpRequest};
use lambda_http::{Body, Request, Response};
use rand::distr::{Alphanumeric, SampleString};
use serde_json::Value;

pub use keygate_local::services;

pub const DEAD_ENDPOINT: &str = "http://127.0.0.1:9";
pub const DEAD_REDIS: &str = "redis://127.0.0.1:9";

pub fn dynamodb_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|_| "http://127.0.0.1:8000".into())
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn random(n: usize) -> String {
    Alphanumeric
        .sample_string(&mut rand::rng(), n)
        .to_lowercase()
}

/// Every log line written during the test run, for the tests that prove no secret is
/// logged.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_once() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // The same subscriber the functions install, writing into LOGS.
        lambda_http::tracing::init_default_subscriber_with_writer(|| LogWriter);
    });
}

/// Counts the requests a DynamoDB client sends, to prove which paths touch the database.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<AtomicUsize>);

impl RequestCounter {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn dynamodb_client(endpoint: &str, counter: RequestCounter) -> aws_sdk_dynamodb::Client {
    let shared = aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "tests");
    let base = keygate::app::dynamodb_client().await;
    let config = base
        .config()
        .to_builder()
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(shared)
        .interceptor(counter)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// Where a test app's parts point.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub dynamodb: String,
    pub redis: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            dynamodb: dynamodb_endpoint(),
            redis: redis_url(),
        }
    }
}

pub struct TestApp {
    pub app: Arc<App>,
    pub admin_token: String,
    pub table: String,
    pub namespace: String,
    /// DynamoDB requests this app has sent.
    pub dynamodb_requests: RequestCounter,
    endpoints: Endpoints,
}

/// A fresh table and Redis namespace on the real local services.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(Endpoints::default()).await
}

/// Like [`spawn_app`], on services of the test's own (see [`services`]).
pub async fn spawn_app_on(endpoints: Endpoints) -> TestApp {
    let table = format!("kg-test-{}", random(10));
    let namespace = format!("kgtest:{}", random(10));
    let admin_token = format!("admin-{}", random(24));
    let app = TestApp::build(table, namespace, admin_token, endpoints, &[]).await;
    create_table(app.app.store.client(), &app.table)
        .await
        .expect("DynamoDB Local must be running (make test starts it)");
    app
}

impl TestApp {
    async fn build(
        table: String,
        namespace: String,
        admin_token: String,
        endpoints: Endpoints,
        extra: &[(&str, &str)],
    ) -> Self {
        init_once();
        let vars = [
            ("TABLE_NAME", table.clone()),
            ("REDIS_URL", endpoints.redis.clone()),
            ("CACHE_KEY_PREFIX", namespace.clone()),
            ("ADMIN_TOKEN", admin_token.clone()),
        ];
        let config = Config::from_lookup(|name| {
            extra
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
                .or_else(|| {
                    vars.iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v.clone())
                })
        })
        .expect("test configuration is valid");
        let counter = RequestCounter::default();
        let client = dynamodb_client(&endpoints.dynamodb, counter.clone()).await;
        let store = Store::new(client, table.clone());
        let cache = Cache::new(&config.redis_url, config.cache.clone()).expect("valid Redis URL");
        TestApp {
            app: Arc::new(App::from_parts(config, store, cache)),
            admin_token,
            table,
            namespace,
            dynamodb_requests: counter,
            endpoints,
        }
    }

    /// Another Lambda instance of the same deployment: same table, same cache, its own
    /// clients and connections. `endpoints` lets a test point it at a dead service.
    pub async fn instance(&self, endpoints: Endpoints) -> TestApp {
        self.instance_with(endpoints, &[]).await
    }

    /// An instance with configuration variables of its own, such as
    /// `RATE_LIMIT_WHEN_CACHE_DOWN`.
    pub async fn instance_with(&self, endpoints: Endpoints, vars: &[(&str, &str)]) -> TestApp {
        TestApp::build(
            self.table.clone(),
            self.namespace.clone(),
            self.admin_token.clone(),
            endpoints,
            vars,
        )
        .await
    }

    /// The endpoints this app talks to.
    pub fn endpoints(&self) -> Endpoints {
        self.endpoints.clone()
    }

    pub async fn same_services(&self) -> TestApp {
        self.instance(self.endpoints.clone()).await
    }

    pub fn admin(&self) -> AdminToken {
        AdminToken::new(self.admin_token.clone())
    }

    pub async fn issue_request(&self, req: Request) -> Reply {
        let admin = self.admin();
        let app = &self.app;
        reply(
            keygate::edge::telemetry::serve("issue", req, |req| issue::handle(app, &admin, req))
                .await,
        )
    }

    pub async fn revoke_request(&self, req: Request) -> Reply {
        let app = &self.app;
        reply(keygate::edge::telemetry::serve("revoke", req, |req| revoke::handle(app, req)).await)
    }

    pub async fn protected_request(&self, req: Request) -> Reply {
        let app = &self.app;
        reply(
            keygate::edge::telemetry::serve("test-protected", req, |req| {
                test_protected::handle(app, req)
            })
            .await,
        )
    }

    pub async fn rotate_request(&self, req: Request) -> Reply {
        let app = &self.app;
        reply(keygate::edge::telemetry::serve("rotate", req, |req| rotate::handle(app, req)).await)
    }

    /// Self-service rotation: POST rotate with the key in `X-API-KEY`.
    pub async fn rotate(&self, key: &str, body: Option<Value>) -> Reply {
        let req = post("/api/v1/keys/rotate/")
            .header("x-api-key", key)
            .header("content-type", "application/json")
            .body(body.map_or(Body::Empty, |b| Body::Text(b.to_string())))
            .unwrap();
        self.rotate_request(req).await
    }

    /// A call to the admin function's API, with the admin token: `path` is after `admin/api`.
    pub async fn admin_api(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let req = HttpRequest::builder()
            .method(method)
            .uri(format!("https://keygate.test/admin/api{path}"))
            .header("authorization", format!("Bearer {}", self.admin_token))
            .header("content-type", "application/json")
            .body(body.map_or(Body::Empty, |b| Body::Text(b.to_string())))
            .unwrap();
        let admin = self.admin();
        let app = &self.app;
        reply(
            keygate::edge::telemetry::serve("admin", req, |req| admin::handle(app, &admin, req))
                .await,
        )
    }

    /// POST issue with the admin token and a JSON body.
    pub async fn issue(&self, body: Value) -> Reply {
        let req = post("/api/v1/keys/issue/")
            .header("authorization", format!("Bearer {}", self.admin_token))
            .header("content-type", "application/json")
            .body(Body::Text(body.to_string()))
            .unwrap();
        self.issue_request(req).await
    }

    /// Issues a key and returns the raw key.
    pub async fn issue_key(&self, name: &str) -> String {
        let reply = self.issue(serde_json::json!({ "name": name })).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body["key"].as_str().unwrap().to_owned()
    }

    pub async fn revoke(&self, key: &str) -> Reply {
        let req = post("/api/v1/keys/revoke/")
            .header("content-type", "application/json")
            .body(Body::Text(serde_json::json!({ "key": key }).to_string()))
            .unwrap();
        self.revoke_request(req).await
    }

    /// GET test-protected, with `X-API-KEY` when a key is given.
    pub async fn protected(&self, key: Option<&str>) -> Reply {
        let mut req = get("/api/v1/keys/test-protected/");
        if let Some(key) = key {
            req = req.header("X-API-KEY", key);
        }
        self.protected_request(req.body(Body::Empty).unwrap()).await
    }

    /// Every Redis key in this app's namespace, with its value.
    pub async fn redis_dump(&self) -> Vec<(String, Vec<u8>)> {
        let mut conn = redis::Client::open(self.endpoints.redis.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.namespace))
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut out = Vec::new();
        for key in keys {
            let value: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap();
            out.push((key, value.unwrap_or_default()));
        }
        out
    }

    /// Every item of this app's table, as text.
    pub async fn table_dump(&self) -> String {
        let client = dynamodb_client(&self.endpoints.dynamodb, RequestCounter::default()).await;
        let scan = client.scan().table_name(&self.table).send().await.unwrap();
        format!("{:?}", scan.items())
    }
}

pub async fn redis_connection() -> redis::aio::MultiplexedConnection {
    static CLIENT: OnceLock<redis::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| redis::Client::open(redis_url()).unwrap())
        .get_multiplexed_async_connection()
        .await
        .expect("Redis must be running (make test starts it)")
}

pub fn post(path: &str) -> lambda_http::http::request::Builder {
    HttpRequest::builder()
        .method(Method::POST)
        .uri(format!("https://keygate.test{path}"))
}

pub fn get(path: &str) -> lambda_http::http::request::Builder {
    HttpRequest::builder()
        .method(Method::GET)
        .uri(format!("https://keygate.test{path}"))
}

/// A response, with its body parsed as JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }
}

fn reply(response: Result<Response<Body>, lambda_http::Error>) -> Reply {
    let response = response.expect("handlers never fail at the runtime level");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match response.body() {
        Body::Text(t) => serde_json::from_str(t).expect("every response is JSON"),
        Body::Binary(b) => serde_json::from_slice(b).expect("every response is JSON"),
        _ => Value::Null,
    };
    Reply {
        status,
        headers,
        body,
    }
}
