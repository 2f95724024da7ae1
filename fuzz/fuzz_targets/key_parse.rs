//! Any string offered as a key: parsing never panics, only an exact, well-formed key with a
//! matching checksum is accepted as Keygate's, and a string is a legacy key only within the
//! documented bound and never when shaped like a Keygate key.
#![no_main]

use keygate::domain::key::ApiKey;
use keygate::domain::legacy::{Presented, LEGACY_MAX_LEN, LEGACY_MIN_LEN};
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
    match Presented::parse(text) {
        Ok(Presented::Key(key)) => assert_eq!(key.expose(), text),
        Ok(Presented::Legacy(key)) => {
            assert!(ApiKey::parse(text).is_err());
            assert!((LEGACY_MIN_LEN..=LEGACY_MAX_LEN).contains(&text.len()));
            assert!(text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')));
            assert!(!text.starts_with("kga_"));
            let shown = key.display_prefix();
            assert!(shown.len() <= 6 && shown.len() <= text.len() / 4);
            assert!(text.starts_with(&shown));
        }
        Err(_) => {}
    }
});
