//! A string that never shows up in logs, `Debug` output or error messages.

use std::fmt;

/// A secret value (password, key, DSN with credentials).
///
/// `Debug` and `Display` print `***`; call [`Secret::expose`] at the single
/// place that hands the value to a client library.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// The real value. Never log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
