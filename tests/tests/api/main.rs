//! Keygate's contract, one test per behaviour, against real DynamoDB Local and Redis: the
//! one integration test binary, a module per feature.
//!
//! Tests run in parallel in this one process, each on its own table and Redis namespace.
//! Those that stop, stall or restart a service start their own on a spare port, and run
//! alone (`keygate_tests::alone`), like those that burst hundreds of requests (`faults`,
//! `limits`). The one that needs process-wide state (`redis_tls`, which trusts a test CA
//! through `SSL_CERT_FILE`) runs its body in a child process of this same binary.

mod admin;
mod admins;
mod audit;
mod authorizer;
mod cache;
mod faults;
mod hostile;
mod identities;
mod import;
mod import_cli;
mod issue;
mod last_used;
mod limits;
mod redis_tls;
mod regions;
mod revoke;
mod rotate;
mod scopes;
mod secrets;
mod test_protected;
mod trust;
mod update;
mod usage;
mod verify;
mod windows;
