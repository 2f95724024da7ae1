//! Keygate's local set-up, as a library: the process management and probes of DynamoDB
//! Local and Redis, `create-admin`, and `import` (the old key manager's keys), shared by the
//! `keygate-local` binary and the tests harness.

pub mod create_admin;
pub mod import;
pub mod services;
