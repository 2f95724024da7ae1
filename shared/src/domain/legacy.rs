//! Keys of the system Keygate replaces, kept working after an import.
//!
//! The old key manager stored plain strings (hexadecimal, 40 characters in drf-api-key's
//! case) in clear. Keygate stores only their SHA-256, like any key's, so an imported key is
//! verified by hashing what the client presents and looking the hash up: one cache round
//! trip, and unknown hashes negative-cached as for any key.
//!
//! Which strings are looked up at all:
//! - anything shaped like a Keygate key (72 lowercase hex digits after a prefix) or an admin
//!   credential (`kga_…`) follows Keygate's rules alone, so a bad checksum stays a
//!   rejection with no I/O;
//! - anything else is a legacy key only if it is 16 to 128 characters of ASCII letters,
//!   digits, `-`, `_` and `.` ([`LegacyKey::parse`]); everything else is rejected offline;
//! - and only while the deployment accepts legacy keys ([`LegacyKeys`]): `auto` (the
//!   default) once a first key has been imported, `on` always, `off` never.

use std::fmt;

use sha2::{Digest, Sha256};

use super::key::{ApiKey, KeyFormatError, KeyHash, ADMIN_PREFIX};

pub const LEGACY_MIN_LEN: usize = 16;
pub const LEGACY_MAX_LEN: usize = 128;
/// Characters of a legacy key shown to people: at most this many, and at most a quarter of
/// the key, so the prefix never gives away much of a short key.
const DISPLAY_MAX: usize = 6;

/// A key in the old system's format. Like [`ApiKey`], its `Debug` output is redacted.
pub struct LegacyKey(String);

impl LegacyKey {
    /// Checks the bound on what a legacy key may look like, with no I/O. Strings shaped like
    /// Keygate keys or admin credentials are not legacy keys, whatever their checksum says.
    pub fn parse(raw: &str) -> Result<Self, KeyFormatError> {
        if keygate_shaped(raw) {
            return Err(KeyFormatError::NotLegacy);
        }
        let bytes = raw.as_bytes();
        if !(LEGACY_MIN_LEN..=LEGACY_MAX_LEN).contains(&bytes.len())
            || !bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(KeyFormatError::NotLegacy);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash::from_bytes(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The first characters of the key: at most 6, and at most a quarter of it.
    pub fn display_prefix(&self) -> String {
        self.0[..DISPLAY_MAX.min(self.0.len() / 4)].to_owned()
    }
}

impl fmt::Debug for LegacyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LegacyKey(<redacted>)")
    }
}

/// Whether Keygate's own rules alone decide about `raw`: an admin credential's prefix, or
/// 72 lowercase hex digits (secret and checksum) after a prefix of at most 16 characters.
fn keygate_shaped(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    raw.starts_with(ADMIN_PREFIX)
        || (bytes.len() > ApiKey::BODY_LEN
            && bytes.len() <= ApiKey::BODY_LEN + super::key::MAX_PREFIX_LEN
            && bytes[bytes.len() - ApiKey::BODY_LEN..]
                .iter()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// A client key as presented: Keygate's own, or (possibly) one of the old system's.
#[derive(Debug)]
pub enum Presented {
    Key(ApiKey),
    Legacy(LegacyKey),
}

impl Presented {
    /// Keygate's format first; a string that is not in it may still be a legacy key.
    pub fn parse(raw: &str) -> Result<Self, KeyFormatError> {
        match ApiKey::parse(raw) {
            Ok(key) => Ok(Presented::Key(key)),
            Err(err) if keygate_shaped(raw) => Err(err),
            Err(_) => LegacyKey::parse(raw).map(Presented::Legacy),
        }
    }

    pub fn hash(&self) -> KeyHash {
        match self {
            Presented::Key(key) => key.hash(),
            Presented::Legacy(key) => key.hash(),
        }
    }
}

/// Whether legacy keys are looked up (`LEGACY_KEYS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegacyKeys {
    /// Once the deployment has imported a key (every instance learns of the first import
    /// within seconds), until then a zero-I/O rejection.
    #[default]
    Auto,
    /// Always: before an import, or for keys imported by another path.
    On,
    /// Never: the migration is over, and legacy-looking strings are rejected with no I/O.
    Off,
}

impl LegacyKeys {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(LegacyKeys::Auto),
            "on" => Some(LegacyKeys::On),
            "off" => Some(LegacyKeys::Off),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key::KeyPrefix;

    const DRF_KEY: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b";

    #[test]
    fn a_drf_style_hex_key_is_a_legacy_key() {
        let key = LegacyKey::parse(DRF_KEY).unwrap();
        assert_eq!(
            key.hash().to_hex(),
            hex::encode(Sha256::digest(DRF_KEY.as_bytes()))
        );
        assert!(matches!(
            Presented::parse(DRF_KEY),
            Ok(Presented::Legacy(_))
        ));
    }

    #[test]
    fn the_bound_admits_16_to_128_letters_digits_dashes_underscores_and_dots() {
        assert!(LegacyKey::parse(&"a".repeat(16)).is_ok());
        assert!(LegacyKey::parse(&"Z9-_.".repeat(25)).is_ok());
        assert!(LegacyKey::parse(&"a".repeat(128)).is_ok());
        for bad in [
            "a".repeat(15),
            "a".repeat(129),
            format!("{}!", "a".repeat(20)),
            format!("{} ", "a".repeat(20)),
            format!("{}é", "a".repeat(20)),
            String::new(),
        ] {
            assert_eq!(
                LegacyKey::parse(&bad).unwrap_err(),
                KeyFormatError::NotLegacy,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_keygate_key_with_a_bad_checksum_is_never_a_legacy_key() {
        let key = ApiKey::generate(&KeyPrefix::default()).unwrap();
        let mut raw = key.expose().to_owned().into_bytes();
        raw[10] = if raw[10] == b'0' { b'1' } else { b'0' };
        let raw = String::from_utf8(raw).unwrap();
        assert_eq!(
            Presented::parse(&raw).unwrap_err(),
            KeyFormatError::Checksum
        );
    }

    #[test]
    fn an_admin_credential_is_never_a_client_key_nor_a_legacy_key() {
        let admin = crate::domain::key::mint_admin().unwrap();
        assert!(Presented::parse(admin.key.expose()).is_err());
        assert!(Presented::parse("kga_0123456789abcdef0123").is_err());
    }

    #[test]
    fn a_keygate_key_is_presented_as_one() {
        let key = ApiKey::generate(&KeyPrefix::default()).unwrap();
        let presented = Presented::parse(key.expose()).unwrap();
        assert!(matches!(presented, Presented::Key(_)));
        assert_eq!(presented.hash(), key.hash());
    }

    #[test]
    fn the_display_prefix_is_at_most_six_characters_and_a_quarter_of_the_key() {
        assert_eq!(
            LegacyKey::parse(DRF_KEY).unwrap().display_prefix(),
            "9f86d0"
        );
        let short = LegacyKey::parse("abcdefghijklmnop").unwrap();
        assert_eq!(short.display_prefix(), "abcd");
    }

    #[test]
    fn debug_output_never_shows_a_legacy_key() {
        let key = LegacyKey::parse(DRF_KEY).unwrap();
        assert!(!format!("{key:?}").contains("9f86"));
    }

    #[test]
    fn the_mode_is_auto_on_or_off() {
        assert_eq!(LegacyKeys::parse("auto"), Some(LegacyKeys::Auto));
        assert_eq!(LegacyKeys::parse("on"), Some(LegacyKeys::On));
        assert_eq!(LegacyKeys::parse("off"), Some(LegacyKeys::Off));
        assert_eq!(LegacyKeys::parse("yes"), None);
        assert_eq!(LegacyKeys::default(), LegacyKeys::Auto);
    }
}
