//! The real `test-protected` binary, logging at TRACE, never writes the key it was sent:
//! `lambda_runtime` logs every raw event there (`keygate::edge::telemetry` holds it back).

#[path = "../../../shared/tests/support/fake_runtime_api.rs"]
mod fake_runtime_api;

#[test]
fn a_key_in_the_header_or_the_body_never_reaches_the_logs_at_trace() {
    let secret = "kg_2a8c0e4f6a8c0e4f6a8c0e4f6a8c0e4f6a8c0e4f6a8c0e4f6a8c0e4f6a8c0e4f0badc0de";
    fake_runtime_api::assert_no_secret_in_the_logs_at_trace(
        env!("CARGO_BIN_EXE_test-protected"),
        secret,
    );
}
