//! The test harness: `spawn_app` gives each test its own DynamoDB table and Redis key
//! namespace on the real local services, and returns a [`TestApp`] whose helpers call the
//! functions' handlers exactly as the Lambda runtime would.
//!
//! Every handler call answers a [`Reply`] (status, headers, body); issuing a key answers an
//! [`Issued`] (id and raw key). Endpoints come from `AWS_ENDPOINT_URL_DYNAMODB` and
//! `REDIS_URL` (`make test` sets them); set `TEST_LOG=1` to echo the captured log lines.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use keygate::cache::Cache;
use keygate::config::Config;
use keygate::domain::key::{ApiKey, KeyHash, KeyId, KeyPrefix};
use keygate::domain::legacy::Presented;
use keygate::domain::outcome::Verification;
use keygate::domain::record::KeyRecord;
use keygate::ops::verify::verify;
use keygate::store::{create_table, Store};
use keygate::App;
use lambda_http::http::{request::Builder, HeaderMap, Method, Request as HttpRequest};
use lambda_http::{Body, Request, Response};
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{json, Value};
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

pub use keygate_local::services;

/// The `detail` of each answer the contract words exactly.
pub mod detail {
    pub const MISSING: &str = "API Key is missing. Send it in the X-API-KEY header.";
    pub const INVALID: &str = "Invalid API Key.";
    pub const REVOKED: &str = "API Key is not active or has been revoked.";
    pub const EXPIRED: &str = "API Key has expired.";
    pub const NOT_FOUND: &str = "API Key not found.";
    pub const REVOKED_NOW: &str = "API Key revoked successfully.";
}

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

/// Whether one of `lines` holds every one of `parts`.
pub fn a_line_with<'a>(lines: impl IntoIterator<Item = &'a str>, parts: &[&str]) -> bool {
    lines
        .into_iter()
        .any(|line| parts.iter().all(|part| line.contains(part)))
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

    /// How many requests were sent since the count was `before`.
    pub fn since(&self, before: usize) -> usize {
        self.get() - before
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
    dynamodb_client_in(endpoint, "us-east-1", counter).await
}

/// A client for `region`: DynamoDB Local keeps each region's tables apart, so two regions
/// stand for a home table and a replica that has not received anything yet.
async fn dynamodb_client_in(
    endpoint: &str,
    region: &str,
    counter: RequestCounter,
) -> aws_sdk_dynamodb::Client {
    let shared = aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "tests");
    let base = keygate::app::dynamodb_client().await;
    let config = base
        .config()
        .to_builder()
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodb::config::Region::new(region.to_owned()))
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

impl Endpoints {
    /// The shared DynamoDB Local, and a Redis of the test's own.
    pub fn with_redis(redis: String) -> Self {
        Self {
            redis,
            ..Default::default()
        }
    }

    /// The shared Redis, and a DynamoDB of the test's own.
    pub fn with_dynamodb(dynamodb: String) -> Self {
        Self {
            dynamodb,
            ..Default::default()
        }
    }

    /// The shared DynamoDB Local, and a Redis nobody answers on.
    pub fn without_redis() -> Self {
        Self::with_redis(DEAD_REDIS.to_owned())
    }

    /// The shared Redis, and a DynamoDB nobody answers on.
    pub fn without_dynamodb() -> Self {
        Self::with_dynamodb(DEAD_ENDPOINT.to_owned())
    }

    /// Neither service answers.
    pub fn unreachable() -> Self {
        Self {
            dynamodb: DEAD_ENDPOINT.to_owned(),
            redis: DEAD_REDIS.to_owned(),
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
    /// Its test's share of the binary (see [`alone`]); an instance holds none.
    _shared: Option<OwnedRwLockReadGuard<()>>,
}

/// Every test of the binary shares this; a test that loads the machine (a burst of
/// hundreds of requests, a service of its own started, stopped or stalled) takes it alone.
fn gate() -> Arc<RwLock<()>> {
    static GATE: OnceLock<Arc<RwLock<()>>> = OnceLock::new();
    GATE.get_or_init(Default::default).clone()
}

/// A test that runs alone in the binary: it waits for the tests running to end, and no
/// other starts until it ends. Call it first, and spawn its app with [`Alone::spawn_app_on`].
pub async fn alone() -> Alone {
    Alone {
        _exclusive: gate().write_owned().await,
    }
}

/// The binary to itself, for as long as this lives.
pub struct Alone {
    _exclusive: OwnedRwLockWriteGuard<()>,
}

impl Alone {
    /// [`spawn_app`] for a test that runs alone.
    pub async fn spawn_app(&self) -> TestApp {
        self.spawn_app_on(Endpoints::default()).await
    }

    /// [`spawn_app_on`] for a test that runs alone.
    pub async fn spawn_app_on(&self, endpoints: Endpoints) -> TestApp {
        spawn(endpoints, None).await
    }
}

/// A fresh table and Redis namespace on the real local services.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(Endpoints::default()).await
}

/// Like [`spawn_app`], on services of the test's own (see [`services`]).
pub async fn spawn_app_on(endpoints: Endpoints) -> TestApp {
    let shared = gate().read_owned().await;
    spawn(endpoints, Some(shared)).await
}

async fn spawn(endpoints: Endpoints, shared: Option<OwnedRwLockReadGuard<()>>) -> TestApp {
    let table = format!("kg-test-{}", random(10));
    let namespace = format!("kgtest:{}", random(10));
    let admin_token = format!("admin-{}", random(24));
    let mut app = TestApp::build(table, namespace, admin_token, endpoints, &[]).await;
    app._shared = shared;
    create_table_patiently(app.app.store.client(), &app.table).await;
    app
}

/// Creates the app's table. A DynamoDB Local the test has just started accepts connections
/// before its JVM answers promptly: on a loaded machine its first CreateTable once took
/// longer than the SDK's 3 s budget, so an unanswered attempt is tried again, for up to
/// 30 s, as `keygate-local create-table` does.
async fn create_table_patiently(client: &aws_sdk_dynamodb::Client, table: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match create_table(client, table).await {
            Ok(_) => return,
            Err(keygate::store::StoreError::Unavailable(_))
                if std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(err) => panic!("DynamoDB Local must be running (make test starts it): {err:?}"),
        }
    }
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
            _shared: None,
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

    /// An instance of a deployment whose home region's table is at `home` (a DynamoDB of
    /// the test's own): its writes go there (the table is created there), its verify path
    /// reads this app's table, which stands for the region's replica. Nothing replicates
    /// between the two, so each request shows where it went.
    pub async fn instance_with_home(&self, home: &str) -> TestApp {
        let mut instance = self.same_services().await;
        let counter = RequestCounter::default();
        let home_client = dynamodb_client(home, counter.clone()).await;
        create_table_patiently(&home_client, &self.table).await;
        let local = dynamodb_client(&self.endpoints.dynamodb, counter.clone()).await;
        let store = Store::new(home_client, self.table.clone()).with_local_replica(local);
        let cache = Cache::new(&self.app.config.redis_url, self.app.config.cache.clone())
            .expect("valid Redis URL");
        instance.app = Arc::new(App::from_parts(self.app.config.clone(), store, cache));
        instance.dynamodb_requests = counter;
        instance
    }

    /// The endpoints this app talks to.
    pub fn endpoints(&self) -> Endpoints {
        self.endpoints.clone()
    }

    pub async fn same_services(&self) -> TestApp {
        self.instance(self.endpoints.clone()).await
    }

    /// `Authorization: Bearer <admin token>`.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.admin_token)
    }

    // ------------------------------------------------------------ the functions' handlers

    pub async fn issue_request(&self, req: Request) -> Reply {
        let app = &self.app;
        let response =
            keygate::edge::telemetry::serve("issue", req, |req| issue::handle(app, req)).await;
        Reply::json(response)
    }

    pub async fn revoke_request(&self, req: Request) -> Reply {
        let app = &self.app;
        let response =
            keygate::edge::telemetry::serve("revoke", req, |req| revoke::handle(app, req)).await;
        Reply::json(response)
    }

    pub async fn protected_request(&self, req: Request) -> Reply {
        let app = &self.app;
        let response = keygate::edge::telemetry::serve("test-protected", req, |req| {
            test_protected::handle(app, req)
        })
        .await;
        Reply::json(response)
    }

    pub async fn verify_request(&self, req: Request) -> Reply {
        let app = &self.app;
        let response =
            keygate::edge::telemetry::serve("verify", req, |req| verify::handle(app, req)).await;
        Reply::json(response)
    }

    pub async fn rotate_request(&self, req: Request) -> Reply {
        let app = &self.app;
        let response =
            keygate::edge::telemetry::serve("rotate", req, |req| rotate::handle(app, req)).await;
        Reply::json(response)
    }

    /// The admin function's answer to any request, as sent: the page and its assets are not
    /// JSON, so [`Reply::body`] is `Null` where [`Reply::text`] is not JSON.
    pub async fn admin_request(&self, req: Request) -> Reply {
        Reply::any(self.admin_response(req).await)
    }

    async fn admin_response(&self, req: Request) -> Result<Response<Body>, lambda_http::Error> {
        let app = &self.app;
        keygate::edge::telemetry::serve("admin", req, |req| async {
            let response = admin::handle(app, req).await;
            Ok(response.expect("the admin handler answers every request"))
        })
        .await
    }

    // ------------------------------------------------------------ issue

    /// POST issue with the admin token, the content type when one is given, and the body as
    /// it is, whatever the answer.
    pub async fn issue_raw(&self, content_type: Option<&str>, body: Body) -> Reply {
        let req = post("/api/v1/keys/issue/").header("authorization", self.bearer());
        self.issue_request(with_content_type(req, content_type, body))
            .await
    }

    /// POST issue with this bearer credential and a JSON body, whatever the answer.
    pub async fn issue_as(&self, credential: &str, body: Value) -> Reply {
        let req =
            post("/api/v1/keys/issue/").header("authorization", format!("Bearer {credential}"));
        self.issue_request(with_content_type(
            req,
            Some("application/json"),
            Body::Text(body.to_string()),
        ))
        .await
    }

    /// POST issue with the admin token and a JSON body, whatever the answer.
    pub async fn try_issue(&self, body: Value) -> Reply {
        self.issue_raw(Some("application/json"), Body::Text(body.to_string()))
            .await
    }

    /// Issues a key with this body; the issue must succeed.
    pub async fn issue_with(&self, body: Value) -> Issued {
        self.try_issue(body).await.issued()
    }

    /// Issues a key with an owner, metadata and a scope, for a rotation or an update to
    /// carry over.
    /// Issues a key with every field set, allowed to rotate itself.
    pub async fn issue_full(&self) -> Issued {
        self.issue_with(json!({
            "name": "orders",
            "owner": "team-a",
            "meta": {"plan": "pro"},
            "scopes": ["orders:read"],
            "self_rotation": true,
        }))
        .await
    }

    /// Issues a key with just a name.
    pub async fn issue(&self, name: &str) -> Issued {
        self.issue_with(json!({ "name": name })).await
    }

    /// Puts a key straight into the table, to set up what the API cannot create (an expiry
    /// in the past, a chosen creation time or state).
    pub async fn insert(&self, key: &ApiKey, record: &KeyRecord) {
        self.app.store.insert(&key.hash(), record).await.unwrap();
    }

    /// The item stored under `hash`, attribute by attribute, as DynamoDB holds it (and as
    /// its stream carries it).
    pub async fn raw_item(&self, hash: &KeyHash) -> HashMap<String, AttributeValue> {
        self.app
            .store
            .client()
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("KEY#{}", hash.to_hex())))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .expect("the item is stored")
    }

    /// The record stored under `hash`, which must be there.
    pub async fn stored(&self, hash: &KeyHash) -> KeyRecord {
        self.app
            .store
            .get(hash)
            .await
            .unwrap()
            .expect("the key is stored")
    }

    /// A key created 30 days ago that expires `expires_in` from now (in the past when
    /// negative), put straight into the table.
    pub async fn insert_expiring(&self, expires_in: TimeDelta) -> ApiKey {
        let now = Utc::now();
        let NewRecord { key, record } = new_record("dated", now - TimeDelta::days(30));
        let record = KeyRecord {
            expires_at: Some(now + expires_in),
            ..record
        };
        self.insert(&key, &record).await;
        key
    }

    // ------------------------------------------------------------ verify, revoke, rotate

    /// GET test-protected with the key in `X-API-KEY`.
    pub async fn protected(&self, key: &str) -> Reply {
        let req = get("/api/v1/keys/test-protected/")
            .header("X-API-KEY", key)
            .body(Body::Empty)
            .unwrap();
        self.protected_request(req).await
    }

    /// test-protected's answer to `req` as built (its method, path and headers), with no body.
    pub async fn protected_with(&self, req: Builder) -> Reply {
        self.protected_request(req.body(Body::Empty).unwrap()).await
    }

    /// GET test-protected with no `X-API-KEY` at all.
    pub async fn protected_without_key(&self) -> Reply {
        let req = get("/api/v1/keys/test-protected/")
            .body(Body::Empty)
            .unwrap();
        self.protected_request(req).await
    }

    /// GET test-protected with the key, requiring `?scope=`.
    pub async fn protected_with_scope(&self, key: &str, scope: &str) -> Reply {
        let req = get(&format!("/api/v1/keys/test-protected/?scope={scope}"))
            .header("x-api-key", key)
            .body(Body::Empty)
            .unwrap();
        self.protected_request(req).await
    }

    /// POST the verify API with this bearer credential and a JSON body.
    pub async fn verify_api_as(&self, credential: &str, body: Value) -> Reply {
        let req = post("/api/v1/keys/verify/")
            .header("authorization", format!("Bearer {credential}"))
            .header("content-type", "application/json")
            .body(Body::Text(body.to_string()))
            .unwrap();
        self.verify_request(req).await
    }

    /// POST the verify API with the admin token and a JSON body.
    pub async fn verify_api(&self, body: Value) -> Reply {
        self.verify_api_as(&self.admin_token, body).await
    }

    /// GET test-protected with the key, counting the request as `?cost=`.
    pub async fn protected_with_cost(&self, key: &str, cost: &str) -> Reply {
        let req = get(&format!("/api/v1/keys/test-protected/?cost={cost}"))
            .header("x-api-key", key)
            .body(Body::Empty)
            .unwrap();
        self.protected_request(req).await
    }

    /// Verifies a key as a guard does at this moment, straight through the library.
    pub async fn verify(&self, key: &str) -> Verification {
        self.verify_at(key, Utc::now()).await
    }

    /// Verifies a key as a guard would at `now`.
    pub async fn verify_at(&self, key: &str, now: DateTime<Utc>) -> Verification {
        verify(&self.app.store, &self.app.cache, key, now).await
    }

    /// POST revoke with `{"key": key}`.
    pub async fn revoke(&self, key: &str) -> Reply {
        self.revoke_body(json!({ "key": key })).await
    }

    /// POST revoke with any JSON body.
    pub async fn revoke_body(&self, body: Value) -> Reply {
        self.revoke_raw(Some("application/json"), Body::Text(body.to_string()))
            .await
    }

    /// POST revoke with the content type when one is given, and the body as it is.
    pub async fn revoke_raw(&self, content_type: Option<&str>, body: Body) -> Reply {
        let req = with_content_type(post("/api/v1/keys/revoke/"), content_type, body);
        self.revoke_request(req).await
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

    // ------------------------------------------------------------ the admin API

    /// A call to the admin function with the admin token, at any path; the content type is
    /// JSON when there is a body. The answer must be JSON.
    pub async fn admin_at(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.admin_at_as(&self.admin_token, method, path, body)
            .await
    }

    /// A call to the admin API (`path` after `/admin/api`) with this bearer credential.
    pub async fn admin_api_as(
        &self,
        credential: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        self.admin_at_as(credential, method, &format!("/admin/api{path}"), body)
            .await
    }

    /// Creates an admin credential with the bootstrap token: its id and its secret.
    pub async fn create_admin(&self, name: &str, role: &str) -> Issued {
        let reply = self
            .admin_api(
                Method::POST,
                "/admins",
                Some(json!({ "name": name, "role": role })),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        Issued {
            id: reply.body["id"].as_str().unwrap().to_owned(),
            key: reply.body["key"].as_str().unwrap().to_owned(),
        }
    }

    async fn admin_at_as(
        &self,
        credential: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = HttpRequest::builder()
            .method(method)
            .uri(format!("https://keygate.test{path}"))
            .header("authorization", format!("Bearer {credential}"));
        let body = match body {
            Some(value) => {
                req = req.header("content-type", "application/json");
                Body::Text(value.to_string())
            }
            None => Body::Empty,
        };
        Reply::json(self.admin_response(req.body(body).unwrap()).await)
    }

    /// A call to the admin API: `path` is what follows `/admin/api`.
    pub async fn admin_api(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.admin_at(method, &format!("/admin/api{path}"), body)
            .await
    }

    /// A GET of the admin API whose answer may not be JSON (a CSV export): `body` is `Null`
    /// then.
    pub async fn admin_get_text(&self, path: &str) -> Reply {
        let req = HttpRequest::builder()
            .method(Method::GET)
            .uri(format!("https://keygate.test/admin/api{path}"))
            .header("authorization", self.bearer())
            .body(Body::Empty)
            .unwrap();
        Reply::any(self.admin_response(req).await)
    }

    /// Issues a key with just a name through the admin API (POST `/admin/api/keys`).
    pub async fn admin_issue(&self, name: &str) -> Issued {
        self.admin_api(Method::POST, "/keys", Some(json!({ "name": name })))
            .await
            .issued()
    }

    /// GET `/admin/api/keys?{query}`, whatever the answer.
    pub async fn try_list_keys(&self, query: &str) -> Reply {
        self.admin_api(Method::GET, &format!("/keys?{query}"), None)
            .await
    }

    /// GET `/admin/api/keys?{query}`; the list must be answered.
    pub async fn list_keys(&self, query: &str) -> Reply {
        let reply = self.try_list_keys(query).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        reply
    }

    /// GET `/admin/api/keys/{id}`.
    pub async fn view_key(&self, id: &str) -> Reply {
        self.admin_api(Method::GET, &format!("/keys/{id}"), None)
            .await
    }

    /// PATCH `/admin/api/keys/{id}`.
    pub async fn update_key(&self, id: &str, body: Value) -> Reply {
        self.admin_api(Method::PATCH, &format!("/keys/{id}"), Some(body))
            .await
    }

    /// POST `/admin/api/keys/{id}/revoke`.
    pub async fn revoke_by_id(&self, id: &str) -> Reply {
        self.admin_api(Method::POST, &format!("/keys/{id}/revoke"), None)
            .await
    }

    /// The audit events `GET /admin/api/audit{query}` answers; the query must be answered.
    pub async fn audit(&self, query: &str) -> Vec<Value> {
        let reply = self
            .admin_api(Method::GET, &format!("/audit{query}"), None)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["events"].as_array().unwrap().clone()
    }

    // ------------------------------------------------------------ what is stored

    /// Every Redis key in this app's namespace, with its value (a hash's as text).
    pub async fn redis_dump(&self) -> Vec<CacheEntry> {
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
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap();
            // A hash (rate windows, a quota counter, usage counts) as its fields and
            // values, one `field=value` per line.
            let value = if kind == "hash" {
                let fields: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                let mut text = Vec::new();
                for (field, value) in fields {
                    text.extend(field);
                    text.push(b'=');
                    text.extend(value);
                    text.push(b'\n');
                }
                text
            } else {
                let value: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                value.unwrap_or_default()
            };
            out.push(CacheEntry { key, value });
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

pub fn post(path: &str) -> Builder {
    HttpRequest::builder()
        .method(Method::POST)
        .uri(format!("https://keygate.test{path}"))
}

pub fn get(path: &str) -> Builder {
    HttpRequest::builder()
        .method(Method::GET)
        .uri(format!("https://keygate.test{path}"))
}

/// The request, with the content type when one is given.
fn with_content_type(mut req: Builder, content_type: Option<&str>, body: Body) -> Request {
    if let Some(content_type) = content_type {
        req = req.header("content-type", content_type);
    }
    req.body(body).unwrap()
}

/// The hash a raw key is stored and cached under.
/// The hash of a client key (Keygate's or an imported legacy one) or an admin credential.
pub fn key_hash(key: &str) -> KeyHash {
    match Presented::parse(key) {
        Ok(presented) => presented.hash(),
        Err(_) => ApiKey::parse_admin(key).unwrap().hash(),
    }
}

/// A well-formed key that was never issued.
pub fn unissued_key() -> ApiKey {
    ApiKey::generate(&KeyPrefix::default()).unwrap()
}

/// A fresh key and a record for it, not stored (see [`TestApp::insert`]).
pub struct NewRecord {
    pub key: ApiKey,
    pub record: KeyRecord,
}

/// A fresh key and its record, active, made at `created_at`; nothing is stored.
pub fn new_record(name: &str, created_at: DateTime<Utc>) -> NewRecord {
    let key = unissued_key();
    let record = KeyRecord::new(
        KeyId::generate().unwrap(),
        name.to_owned(),
        key.display_prefix(),
        created_at,
    );
    NewRecord { key, record }
}

/// The `action` of each audit event, in order.
pub fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

/// One Redis key of an app's namespace and its value (empty for a key that is not a string).
pub struct CacheEntry {
    pub key: String,
    pub value: Vec<u8>,
}

/// A key just issued: its id, and the raw key, shown this once.
#[derive(Debug, Clone)]
pub struct Issued {
    pub id: String,
    pub key: String,
}

/// A handler's answer: status, headers, and the body as text and as JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as sent.
    pub text: String,
    /// The body parsed as JSON; `Null` when there is none.
    pub body: Value,
}

impl Reply {
    /// A JSON function's answer: every response, errors included, is JSON.
    fn json(response: Result<Response<Body>, lambda_http::Error>) -> Self {
        let response = response.expect("handlers never fail at the runtime level");
        let empty = matches!(response.body(), Body::Empty);
        let mut reply = Self::from_response(response);
        if !empty {
            reply.body = serde_json::from_str(&reply.text)
                .unwrap_or_else(|e| panic!("every response is JSON: {e}: {}", reply.text));
        }
        reply
    }

    /// Any answer: `body` is `Null` where the text is not JSON.
    fn any(response: Result<Response<Body>, lambda_http::Error>) -> Self {
        Self::from_response(response.expect("handlers never fail at the runtime level"))
    }

    fn from_response(response: Response<Body>) -> Self {
        let text = match response.body() {
            Body::Text(t) => t.clone(),
            Body::Binary(b) => String::from_utf8(b.clone()).expect("every response is text"),
            _ => String::new(),
        };
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }

    /// A header's value, or "" when it is absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// A header holding a whole number, such as `retry-after`.
    pub fn number_header(&self, name: &str) -> Option<u64> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().parse().unwrap())
    }

    /// The key an issue or a rotation answered with.
    pub fn key(&self) -> &str {
        self.body["key"].as_str().unwrap()
    }

    /// The id of the key an issue, a rotation or a view answered with.
    pub fn id(&self) -> &str {
        self.body["id"].as_str().unwrap()
    }

    /// The answer to an issue, which must have succeeded.
    pub fn issued(&self) -> Issued {
        assert_eq!(self.status, 201, "{}", self.body);
        Issued {
            id: self.id().to_owned(),
            key: self.key().to_owned(),
        }
    }

    /// The ids of a key list, in its order.
    pub fn ids(&self) -> Vec<String> {
        self.body["keys"]
            .as_array()
            .unwrap_or_else(|| panic!("no keys: {}", self.text))
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// A list's `next_cursor`.
    pub fn next_cursor(&self) -> Option<String> {
        self.body["next_cursor"].as_str().map(str::to_owned)
    }
}
