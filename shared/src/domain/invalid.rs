//! The domain's one error: a value or a change that the rules refuse. Its message is written
//! for the client (the edge answers it as a 400 with this `detail`), so it names the field
//! and never echoes a secret.

/// A rule refused a value; the message says which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(detail: impl Into<String>) -> Self {
        Self(detail.into())
    }
}
