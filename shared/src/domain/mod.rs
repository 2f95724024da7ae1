//! The domain: what a key is and the rules it lives by. No I/O happens here (no DynamoDB,
//! no Redis, no HTTP), so every rule in this layer is tested by fast unit tests, and the
//! layers above (stores, operations, the HTTP edge) only move these values around.

pub mod audit;
pub mod identity;
pub mod invalid;
pub mod key;
pub mod legacy;
pub mod limit;
pub mod listing;
pub mod outcome;
pub mod record;
pub mod role;
pub mod rotation;
pub mod scope;
pub mod time;
pub mod update;
pub mod usage;
pub mod window;
