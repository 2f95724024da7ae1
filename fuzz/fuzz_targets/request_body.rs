//! Any body and content type sent to issue, revoke or an admin update (limits included):
//! parsing never panics, and every rejection is a 4xx with a detail.
#![no_main]

use keygate::edge::input::{key_update, new_key};
use keygate::edge::request::json_object;
use lambda_http::http::Request;
use lambda_http::Body;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let mut builder = Request::builder().method("POST").uri("https://keygate.test/");
    if let Some(content_type) = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()] {
        builder = builder.header("content-type", content_type);
    }
    let request = builder.body(Body::Binary(body.to_vec())).unwrap();
    let Ok(map) = json_object(&request).map_err(check) else {
        return;
    };
    let _ = new_key(&map, chrono::Utc::now()).map_err(check);
    let _ = key_update(&map).map_err(check);
});

fn check(err: keygate::ApiError) {
    assert!(err.status().is_client_error(), "{err:?}");
    assert!(!err.detail().is_empty());
}

