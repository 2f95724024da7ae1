//! Keygate's shared crate, in layers whose arrows point one way (see docs/ARCHITECTURE.md):
//!
//! ```text
//! edge  ──▶  ops  ──▶  store, cache  ──▶  domain
//!  (HTTP)    (issue, update,   (DynamoDB,     (keys, records, scopes, limits,
//!             rotate, revoke,   Redis)         the verification outcome; no I/O)
//!             verify)
//! ```
//!
//! `config` (typed settings, read once) and `app` (the clients a Lambda instance builds once)
//! sit beside the stores; `trace_env` works around a runtime leak and depends on nothing.
//! `shared/tests/layers.rs` fails the build's tests if an arrow ever points back.

pub mod app;
pub mod cache;
pub mod config;
pub mod domain;
pub mod edge;
pub mod ops;
pub mod store;
pub mod trace_env;

// What a handler author needs for the one-line guard.
pub use app::App;
pub use domain::outcome::KeyInfo;
pub use edge::error::ApiError;
pub use edge::guard::require_api_key;
