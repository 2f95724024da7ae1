//! Scopes: the rights a key carries, checked by the guard from the cache entry with no
//! extra I/O. A key without scopes has none (not "all").

use serde_json::Value;

pub const MAX_SCOPES: usize = 50;
const MAX_SCOPE_LEN: usize = 64;

/// A validated, duplicate-free list of scopes, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("`scopes` must be a list of strings.")]
    NotAList,
    #[error("`scopes` may hold at most 50 scopes.")]
    TooMany,
    #[error("`scopes` lists {0:?} more than once.")]
    Duplicate(String),
    #[error(
        "`scopes` entry {0:?} must match ^[a-z0-9][a-z0-9:._-]{{0,63}}$ (for example orders:read)."
    )]
    Malformed(String),
}

/// `^[a-z0-9][a-z0-9:._-]{0,63}$`, without a regex engine.
pub fn valid_scope(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_SCOPE_LEN
        && matches!(bytes[0], b'a'..=b'z' | b'0'..=b'9')
        && bytes[1..]
            .iter()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b':' | b'.' | b'_' | b'-'))
}

impl Scopes {
    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Self, ScopeError> {
        if items.len() > MAX_SCOPES {
            return Err(ScopeError::TooMany);
        }
        let mut scopes: Vec<String> = Vec::with_capacity(items.len());
        for item in items {
            let item = item.as_ref();
            if !valid_scope(item) {
                // Shown back to an administrator, so keep it short and printable.
                return Err(ScopeError::Malformed(item.chars().take(70).collect()));
            }
            if scopes.iter().any(|s| s == item) {
                return Err(ScopeError::Duplicate(item.to_owned()));
            }
            scopes.push(item.to_owned());
        }
        Ok(Self(scopes))
    }

    /// From a request body's `scopes` value (`null` means none).
    pub fn from_json(value: &Value) -> Result<Self, ScopeError> {
        match value {
            Value::Null => Ok(Self::default()),
            Value::Array(items) => {
                let strings = items
                    .iter()
                    .map(|v| v.as_str().ok_or(ScopeError::NotAList))
                    .collect::<Result<Vec<_>, _>>()?;
                Self::parse_list(&strings)
            }
            _ => Err(ScopeError::NotAList),
        }
    }

    /// Trusted input (the store, the cache): kept as is.
    pub fn from_stored(scopes: Vec<String>) -> Self {
        Self(scopes)
    }

    /// The first required scope this key lacks.
    pub fn first_missing<'r>(&self, required: &[&'r str]) -> Option<&'r str> {
        required
            .iter()
            .copied()
            .find(|r| !self.0.iter().any(|s| s == r))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn well_formed_scopes_are_accepted_in_order() {
        let s = Scopes::from_json(&json!(["orders:read", "orders:write", "a", "0.b_c-d"])).unwrap();
        assert_eq!(
            s.as_slice(),
            ["orders:read", "orders:write", "a", "0.b_c-d"]
        );
    }

    #[test]
    fn null_and_empty_mean_no_scopes() {
        assert!(Scopes::from_json(&json!(null)).unwrap().is_empty());
        assert!(Scopes::from_json(&json!([])).unwrap().is_empty());
    }

    #[test]
    fn malformed_scopes_are_rejected() {
        for bad in [
            "",
            "Orders",
            ":read",
            "-x",
            "has space",
            "é",
            &"a".repeat(65),
        ] {
            let err = Scopes::from_json(&json!([bad])).unwrap_err();
            assert!(matches!(err, ScopeError::Malformed(_)), "{bad}: {err}");
        }
        assert!(Scopes::from_json(&json!(["a".repeat(64)])).is_ok());
    }

    #[test]
    fn duplicates_are_rejected() {
        let err = Scopes::from_json(&json!(["a", "b", "a"])).unwrap_err();
        assert_eq!(err, ScopeError::Duplicate("a".into()));
    }

    #[test]
    fn more_than_fifty_are_rejected() {
        let many: Vec<String> = (0..51).map(|i| format!("s{i}")).collect();
        assert_eq!(
            Scopes::from_json(&json!(many)).unwrap_err(),
            ScopeError::TooMany
        );
        assert!(Scopes::from_json(&json!(many[..50])).is_ok());
    }

    #[test]
    fn non_lists_and_non_strings_are_rejected() {
        for bad in [json!("a"), json!(5), json!({"a": 1}), json!(["a", 5])] {
            assert_eq!(
                Scopes::from_json(&bad).unwrap_err(),
                ScopeError::NotAList,
                "{bad}"
            );
        }
    }

    #[test]
    fn the_first_missing_scope_is_named() {
        let s = Scopes::parse_list(&["orders:read"]).unwrap();
        assert_eq!(s.first_missing(&[]), None);
        assert_eq!(s.first_missing(&["orders:read"]), None);
        assert_eq!(
            s.first_missing(&["orders:read", "orders:write"]),
            Some("orders:write")
        );
        assert_eq!(Scopes::default().first_missing(&["x"]), Some("x"));
    }
}
