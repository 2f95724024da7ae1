//! The real `leaks` binary keeps `_X_AMZN_TRACE_ID` in one buffer (see `keygate::trace_env`).
#![cfg(all(target_os = "linux", target_env = "gnu"))]

#[path = "../../../shared/tests/support/fake_runtime_api.rs"]
mod fake_runtime_api;

#[test]
fn the_binary_rewrites_the_trace_id_in_place_instead_of_leaking_each_one() {
    fake_runtime_api::assert_the_binary_keeps_one_trace_id(env!("CARGO_BIN_EXE_leaks"));
}
