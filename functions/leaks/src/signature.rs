//! The report's signature: `Github-Public-Key-Signature` holds the base64 of a DER-encoded
//! ECDSA P-256 / SHA-256 signature over the raw body, made with the key that
//! `Github-Public-Key-Identifier` names. Anything unsigned or badly signed is a 401, before
//! the body is even parsed.

use keygate::ApiError;
use lambda_http::Request;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::Signature;

use crate::public_keys::{KeysError, PublicKeys};

pub const KEY_ID_HEADER: &str = "github-public-key-identifier";
pub const SIGNATURE_HEADER: &str = "github-public-key-signature";

const UNSIGNED: &str = "The request is not signed: send the Github-Public-Key-Identifier and \
                        Github-Public-Key-Signature headers, once each.";
const MALFORMED: &str = "The Github-Public-Key-Signature header must be the base64 of a \
                         DER-encoded ECDSA signature.";
const UNKNOWN_KEY: &str = "No public key has the identifier in Github-Public-Key-Identifier.";
const MISMATCH: &str = "The signature does not match the request body.";

/// The two headers, read.
#[derive(Debug)]
pub struct Signed<'r> {
    pub key_identifier: &'r str,
    pub signature: Signature,
}

/// Reads the headers, with no I/O: missing, repeated, empty or malformed is a 401.
pub fn signed(req: &Request) -> Result<Signed<'_>, ApiError> {
    let one = |name: &'static str| {
        let mut values = req.headers().get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => value
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or(ApiError::Unauthorized(UNSIGNED)),
            _ => Err(ApiError::Unauthorized(UNSIGNED)),
        }
    };
    let key_identifier = one(KEY_ID_HEADER)?;
    let encoded = one(SIGNATURE_HEADER)?;
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
        .map_err(|_| ApiError::Unauthorized(MALFORMED))?;
    let signature = Signature::from_der(&der).map_err(|_| ApiError::Unauthorized(MALFORMED))?;
    Ok(Signed {
        key_identifier,
        signature,
    })
}

/// Checks `signed` against `body` with the key it names: a 401 when the key is unknown
/// (after one load of the document) or the signature does not match, a 503 when the keys
/// cannot be loaded.
pub async fn verify(keys: &PublicKeys, signed: &Signed<'_>, body: &[u8]) -> Result<(), ApiError> {
    let key = keys.key(signed.key_identifier).await.map_err(|err| match err {
        KeysError::Unknown => ApiError::Unauthorized(UNKNOWN_KEY),
        KeysError::Unavailable(why) => {
            tracing::error!(error = %why, "the public keys that sign leak reports could not be loaded");
            ApiError::Unavailable(
                "The public keys that sign leak reports cannot be loaded right now; retry later."
                    .to_owned(),
            )
        }
    })?;
    key.verify(body, &signed.signature)
        .map_err(|_| ApiError::Unauthorized(MISMATCH))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::SigningKey;

    /// GitHub's signer (Go's crypto/ecdsa) does not normalize `s`: a signature with a high
    /// `s` must verify as well as its low-`s` twin.
    #[test]
    fn both_forms_of_a_signature_verify() {
        let signing = SigningKey::from_slice(&[9u8; 32]).unwrap();
        let body = br#"[{"token":"kg_x","type":"t","url":"","source":"content"}]"#;
        let signature: Signature = signing.sign(body);
        let (r, s) = signature.split_scalars();
        let twin = Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
        assert_ne!(signature, twin);
        for sig in [signature, twin] {
            let der = sig.to_der();
            let read = Signature::from_der(der.as_bytes()).unwrap();
            assert!(signing.verifying_key().verify(body, &read).is_ok());
            assert!(signing.verifying_key().verify(b"[]", &read).is_err());
        }
    }
}
