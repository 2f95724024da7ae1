//! Keygate's domain, shared by every function: the key format, the store (DynamoDB), the
//! cache (Redis), verification and the guard, configuration, and the HTTP mapping.

pub mod admin;
pub mod app;
pub mod audit;
pub mod cache;
pub mod config;
pub mod error;
pub mod guard;
pub mod http;
pub mod issue;
pub mod key;
pub mod limit;
pub mod record;
pub mod revoke;
pub mod rotate;
pub mod scope;
pub mod store;
pub mod telemetry;
pub mod trace_env;
pub mod update;
pub mod verify;

pub use app::App;
pub use error::ApiError;
pub use guard::require_api_key;
pub use verify::KeyInfo;
