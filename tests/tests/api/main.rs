//! Keygate's HTTP contract, one test per behaviour, against real DynamoDB Local and Redis.

mod cache;
mod issue;
mod last_used;
mod lifecycle;
mod revoke;
mod scopes;
mod secrets;
mod test_protected;
