//! Keygate's local set-up, as a library: the process management and probes of DynamoDB
//! Local and Redis, and `create-admin`, shared by the `keygate-local` binary and the tests
//! harness.

pub mod create_admin;
pub mod services;
