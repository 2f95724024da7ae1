//! The key format: generation, offline validation and hashing.
//!
//! A key reads `<prefix><secret><checksum>`: a short prefix (`kg_` by default), 64 hex
//! digits of secret (32 bytes from the OS's secure random source) and 8 hex digits of
//! checksum, the first 4 bytes of SHA-256 over the prefix and the secret bytes. The checksum
//! lets a mistyped or made-up key be rejected with no I/O at all, and together with the
//! prefix and fixed length lets secret scanners recognise a leaked key.
//!
//! The prefix is read from the key itself rather than compared with `KEY_PREFIX`, so keys
//! issued before an operator changes the prefix keep working. Only the SHA-256 of the whole
//! key string ([`KeyHash`]) is ever stored.
//!
//! Admin credentials have the same format under their own prefix, [`ADMIN_PREFIX`], which no
//! client key may have: a client key is never an admin credential and an admin credential
//! is never a client key, and either is told from the other with no I/O.

use std::fmt;

use rand::rngs::OsRng;
use rand::TryRngCore;
use sha2::{Digest, Sha256};

const SECRET_BYTES: usize = 32;
const CHECKSUM_BYTES: usize = 4;
/// Hex digits after the prefix: secret then checksum.
const BODY_LEN: usize = (SECRET_BYTES + CHECKSUM_BYTES) * 2;
pub const MAX_PREFIX_LEN: usize = 16;
/// Hex digits of the secret shown in a key's display prefix.
const DISPLAY_HEX_DIGITS: usize = 8;

/// Why a string is not a well-formed key. Never contains the key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the key has the wrong length")]
    Length,
    #[error("the key's prefix is not 1 to 16 letters, digits or underscores")]
    Prefix,
    #[error("the key's body is not lowercase hexadecimal")]
    Body,
    #[error("the key's checksum does not match")]
    Checksum,
    /// Not in Keygate's format, and not within the bound on the old system's keys
    /// (`domain/legacy.rs`).
    #[error(
        "the key is neither in Keygate's format nor 16 to 128 letters, digits, '-', '_' or '.'"
    )]
    NotLegacy,
}

/// The prefix of admin credentials (`kga_…`), and of nothing else.
pub const ADMIN_PREFIX: &str = "kga_";

/// A validated client key prefix such as `kg_`: never [`ADMIN_PREFIX`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    pub fn parse(s: &str) -> Result<Self, KeyFormatError> {
        if valid_prefix(s) && s != ADMIN_PREFIX {
            Ok(Self(s.to_owned()))
        } else {
            Err(KeyFormatError::Prefix)
        }
    }

    fn admin() -> Self {
        Self(ADMIN_PREFIX.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for KeyPrefix {
    fn default() -> Self {
        Self("kg_".to_owned())
    }
}

fn valid_prefix(s: &str) -> bool {
    valid_prefix_bytes(s.as_bytes())
}

fn valid_prefix_bytes(s: &[u8]) -> bool {
    (1..=MAX_PREFIX_LEN).contains(&s.len())
        && s.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// A raw API key. Its `Debug` output is redacted so it cannot reach a log line by accident;
/// the only way to read it is [`ApiKey::expose`], used once, to answer the issue request.
pub struct ApiKey(String);

impl ApiKey {
    /// Hex digits after the prefix: secret then checksum.
    pub const BODY_LEN: usize = BODY_LEN;

    /// Generates a new key from the OS's secure random source.
    pub fn generate(prefix: &KeyPrefix) -> Result<Self, rand::rand_core::OsError> {
        let mut secret = [0u8; SECRET_BYTES];
        OsRng.try_fill_bytes(&mut secret)?;
        let checksum = checksum(prefix.as_str().as_bytes(), &secret);
        let mut key = String::with_capacity(prefix.as_str().len() + BODY_LEN);
        key.push_str(prefix.as_str());
        key.push_str(&hex::encode(secret));
        key.push_str(&hex::encode(checksum));
        Ok(Self(key))
    }

    /// Checks the format and checksum of a client key with no I/O. An admin credential is
    /// not a client key: its prefix is refused here.
    pub fn parse(raw: &str) -> Result<Self, KeyFormatError> {
        let key = Self::parse_any(raw)?;
        if key.is_admin() {
            return Err(KeyFormatError::Prefix);
        }
        Ok(key)
    }

    /// Checks an admin credential (`kga_…`) with no I/O: anything else is refused.
    pub fn parse_admin(raw: &str) -> Result<Self, KeyFormatError> {
        let key = Self::parse_any(raw)?;
        if !key.is_admin() {
            return Err(KeyFormatError::Prefix);
        }
        Ok(key)
    }

    fn is_admin(&self) -> bool {
        self.0.len() == ADMIN_PREFIX.len() + BODY_LEN && self.0.starts_with(ADMIN_PREFIX)
    }

    fn parse_any(raw: &str) -> Result<Self, KeyFormatError> {
        let bytes = raw.as_bytes();
        if bytes.len() <= BODY_LEN || bytes.len() > BODY_LEN + MAX_PREFIX_LEN {
            return Err(KeyFormatError::Length);
        }
        // Split the bytes, not the str: a multi-byte character must not panic here.
        let (prefix, body) = bytes.split_at(bytes.len() - BODY_LEN);
        if !valid_prefix_bytes(prefix) {
            return Err(KeyFormatError::Prefix);
        }
        // Uppercase hex would decode, but the stored hash is of the exact string.
        if !body.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(KeyFormatError::Body);
        }
        let mut decoded = [0u8; SECRET_BYTES + CHECKSUM_BYTES];
        hex::decode_to_slice(body, &mut decoded).map_err(|_| KeyFormatError::Body)?;
        let (secret, given) = decoded.split_at(SECRET_BYTES);
        if checksum(prefix, secret) != given {
            return Err(KeyFormatError::Checksum);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The prefix plus the first few hex digits of the secret: enough for a person to tell
    /// keys apart, far too little to guess the rest.
    pub fn display_prefix(&self) -> String {
        let prefix_len = self.0.len() - BODY_LEN;
        self.0[..prefix_len + DISPLAY_HEX_DIGITS].to_owned()
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

fn checksum(prefix: &[u8], secret: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let digest = Sha256::new()
        .chain_update(prefix)
        .chain_update(secret)
        .finalize();
    let mut out = [0u8; CHECKSUM_BYTES];
    out.copy_from_slice(&digest[..CHECKSUM_BYTES]);
    out
}

/// SHA-256 of a whole key: the only form of a key that is stored or cached. A fast hash is
/// enough because keys carry 256 random bits; a slow password hash would add nothing but
/// latency (drf-api-key dropped PBKDF2 for this reason).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn to_hex(&self) -> String {
        // Into a buffer rather than `hex::encode`'s char iterator: this runs for every cache
        // key name of every request.
        let mut out = [0u8; 64];
        hex::encode_to_slice(self.0, &mut out).expect("64 hex digits for 32 bytes");
        String::from_utf8(out.to_vec()).expect("hex digits are ASCII")
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({})", self.to_hex())
    }
}

/// A key's public identifier: not secret, safe for logs, URLs and admin pages. A client
/// key's reads `key_…`, an admin credential's `adm_…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

const ID_PREFIX: &str = "key_";
const ADMIN_ID_PREFIX: &str = "adm_";
const ID_BYTES: usize = 12;

impl KeyId {
    pub fn generate() -> Result<Self, rand::rand_core::OsError> {
        Self::generate_with(ID_PREFIX)
    }

    pub fn generate_admin() -> Result<Self, rand::rand_core::OsError> {
        Self::generate_with(ADMIN_ID_PREFIX)
    }

    fn generate_with(prefix: &str) -> Result<Self, rand::rand_core::OsError> {
        let mut bytes = [0u8; ID_BYTES];
        OsRng.try_fill_bytes(&mut bytes)?;
        Ok(Self(format!("{prefix}{}", hex::encode(bytes))))
    }

    /// Whether this is an admin credential's id (`adm_…`).
    pub fn is_admin(&self) -> bool {
        self.0.starts_with(ADMIN_ID_PREFIX)
    }

    /// A client key's or an admin credential's id.
    pub fn parse(s: &str) -> Option<Self> {
        let hex_part = s
            .strip_prefix(ID_PREFIX)
            .or_else(|| s.strip_prefix(ADMIN_ID_PREFIX))?;
        (hex_part.len() == ID_BYTES * 2
            && hex_part
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new key and its public id: what issue and rotate store. Both come from the OS's secure
/// random source, whose failure is the only way minting can fail.
#[derive(Debug)]
pub struct Minted {
    pub key: ApiKey,
    pub id: KeyId,
}

pub fn mint(prefix: &KeyPrefix) -> Result<Minted, rand::rand_core::OsError> {
    Ok(Minted {
        key: ApiKey::generate(prefix)?,
        id: KeyId::generate()?,
    })
}

/// A new admin credential (`kga_…`) and its id (`adm_…`).
pub fn mint_admin() -> Result<Minted, rand::rand_core::OsError> {
    Ok(Minted {
        key: ApiKey::generate(&KeyPrefix::admin())?,
        id: KeyId::generate_admin()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admin_credential_is_never_a_client_key_nor_the_reverse() {
        let admin = mint_admin().unwrap();
        let raw = admin.key.expose();
        assert!(raw.starts_with("kga_"));
        assert!(admin.id.as_str().starts_with("adm_") && admin.id.is_admin());
        assert_eq!(ApiKey::parse(raw).unwrap_err(), KeyFormatError::Prefix);
        assert!(ApiKey::parse_admin(raw).is_ok());
        let client = new_key();
        assert_eq!(
            ApiKey::parse_admin(client.expose()).unwrap_err(),
            KeyFormatError::Prefix
        );
        assert!(!KeyId::generate().unwrap().is_admin());
    }

    #[test]
    fn the_admin_prefix_cannot_be_a_client_key_prefix() {
        assert_eq!(KeyPrefix::parse("kga_"), Err(KeyFormatError::Prefix));
        assert!(KeyPrefix::parse("kga").is_ok());
    }

    fn new_key() -> ApiKey {
        ApiKey::generate(&KeyPrefix::default()).unwrap()
    }

    #[test]
    fn a_generated_key_has_the_prefix_and_a_fixed_length() {
        let key = new_key();
        assert!(key.expose().starts_with("kg_"));
        assert_eq!(key.expose().len(), 3 + 72);
    }

    #[test]
    fn a_generated_key_parses() {
        let key = new_key();
        let parsed = ApiKey::parse(key.expose()).unwrap();
        assert_eq!(parsed.hash(), key.hash());
    }

    #[test]
    fn two_generated_keys_differ() {
        assert_ne!(new_key().expose(), new_key().expose());
    }

    #[test]
    fn a_single_changed_digit_fails_the_checksum() {
        let key = new_key();
        let mut raw = key.expose().to_owned().into_bytes();
        raw[10] = if raw[10] == b'0' { b'1' } else { b'0' };
        let raw = String::from_utf8(raw).unwrap();
        assert_eq!(ApiKey::parse(&raw).unwrap_err(), KeyFormatError::Checksum);
    }

    #[test]
    fn a_changed_prefix_fails_the_checksum() {
        let key = new_key();
        let raw = key.expose().replacen("kg_", "xx_", 1);
        assert_eq!(ApiKey::parse(&raw).unwrap_err(), KeyFormatError::Checksum);
    }

    #[test]
    fn keys_with_another_prefix_still_parse() {
        let key = ApiKey::generate(&KeyPrefix::parse("acme_live_").unwrap()).unwrap();
        assert!(ApiKey::parse(key.expose()).is_ok());
        assert!(key.display_prefix().starts_with("acme_live_"));
    }

    #[test]
    fn uppercase_hex_is_rejected() {
        let key = new_key();
        let raw = format!("kg_{}", key.expose()[3..].to_uppercase());
        assert_eq!(ApiKey::parse(&raw).unwrap_err(), KeyFormatError::Body);
    }

    #[test]
    fn wrong_lengths_and_garbage_are_rejected() {
        for raw in [
            "",
            "kg_",
            "kg_abc",
            &"a".repeat(200),
            "kg_zz",
            &format!("{}{}", "é", "0".repeat(72)),
        ] {
            assert!(ApiKey::parse(raw).is_err(), "{raw:?} parsed");
        }
    }

    #[test]
    fn non_ascii_in_the_body_is_rejected_without_panicking() {
        let raw = format!("kg_{}é", "0".repeat(70));
        assert!(ApiKey::parse(&raw).is_err());
        let raw = format!("k{}", "é".repeat(36));
        assert!(ApiKey::parse(&raw).is_err());
    }

    #[test]
    fn the_display_prefix_shows_eight_hex_digits_of_the_secret() {
        let key = new_key();
        let shown = key.display_prefix();
        assert_eq!(shown.len(), 3 + 8);
        assert!(key.expose().starts_with(&shown));
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let key = new_key();
        assert!(!format!("{key:?}").contains(&key.expose()[3..]));
    }

    #[test]
    fn the_hash_is_sha256_of_the_whole_key() {
        let key = new_key();
        let expected = hex::encode(Sha256::digest(key.expose().as_bytes()));
        assert_eq!(key.hash().to_hex(), expected);
    }

    #[test]
    fn key_ids_round_trip_and_reject_garbage() {
        let id = KeyId::generate().unwrap();
        assert_eq!(KeyId::parse(id.as_str()), Some(id));
        for bad in [
            "",
            "key_",
            "key_XYZ",
            "kg_0123456789abcdef01234567",
            "key_0123",
        ] {
            assert_eq!(KeyId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn prefixes_are_validated() {
        assert!(KeyPrefix::parse("kg_").is_ok());
        assert!(KeyPrefix::parse("").is_err());
        assert!(KeyPrefix::parse("has space").is_err());
        assert!(KeyPrefix::parse(&"a".repeat(17)).is_err());
    }
}
