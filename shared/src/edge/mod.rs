//! The HTTP edge: what turns a Lambda request into an operation's input, and its result
//! into a response. Handlers in `functions/*` parse with these, call `ops`, and answer.
//!
//! | file           | job                                                       |
//! |----------------|-----------------------------------------------------------|
//! | `request.rs`   | method, headers, JSON bodies                              |
//! | `input.rs`     | request bodies into the operations' inputs (400s)         |
//! | `import.rs`    | the import body: keys to import, or why each cannot be    |
//! | `identity_input.rs` | identity bodies into the operations' inputs (400s)   |
//! | `limits_input.rs` | the limits and quota fields of those bodies (400s)     |
//! | `query.rs`     | query strings of the admin lists and the audit log        |
//! | `usage.rs`     | the usage API's query string, and its JSON or CSV answer  |
//! | `guard.rs`     | `X-API-KEY`: verify, count, require scopes                |
//! | `auth.rs`      | the administrator's bearer token                          |
//! | `verify_api.rs`| the verify API: a key checked for a backend, with its caller |
//! | `origin.rs`    | who and where, for the audit log                          |
//! | `response.rs`  | JSON bodies and `RateLimit-*` headers                     |
//! | `error.rs`     | [`ApiError`](error::ApiError): every error's status, message and headers |
//! | `telemetry.rs` | the request's span and log line                           |
//! | `metrics.rs`   | that line as CloudWatch metrics (Embedded Metric Format)   |
//! | `span_json.rs` | the span fields of JSON lines, edited in place            |
//! | `instance.rs`  | what a function's `main` does once per instance           |

pub mod auth;
pub mod error;
pub mod guard;
pub mod identity_input;
pub mod import;
pub mod input;
pub mod instance;
pub mod limits_input;
pub mod metrics;
pub mod origin;
pub mod query;
pub mod request;
pub mod response;
mod span_json;
pub mod telemetry;
pub mod usage;
pub mod verify_api;
