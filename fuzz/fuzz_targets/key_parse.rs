//! Any string offered as a key: parsing never panics, and only an exact, well-formed key
//! with a matching checksum is accepted.
#![no_main]

use keygate::domain::key::ApiKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = ApiKey::parse(text) {
        assert_eq!(key.expose(), text);
        assert!(ApiKey::parse(&key.display_prefix()).is_err());
        let _ = key.hash();
    }
});
