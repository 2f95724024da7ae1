//! The real `revoke` binary, logging at TRACE, never writes the key it was asked to revoke:
//! `lambda_runtime` logs every raw event there, body included (`keygate::edge::telemetry`
//! holds it back).

#[path = "../../../shared/tests/support/fake_runtime_api.rs"]
mod fake_runtime_api;

#[test]
fn a_key_in_the_body_never_reaches_the_logs_at_trace() {
    let secret = "kg_7e1d3c5b7e1d3c5b7e1d3c5b7e1d3c5b7e1d3c5b7e1d3c5b7e1d3c5b7e1d3c5b0badc0de";
    fake_runtime_api::assert_no_secret_in_the_logs_at_trace(env!("CARGO_BIN_EXE_revoke"), secret);
}
