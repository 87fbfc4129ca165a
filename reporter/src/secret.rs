//! Secrets (client secrets, access tokens) that must never reach a log or an error message.

use std::fmt;
use std::path::Path;

/// A secret string. `Debug` and `Display` print `[redacted]`; only [`Secret::expose`]
/// gives the value, at the one place it goes on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Reads a secret from a file, without the trailing newline editors and `echo` add.
    pub fn from_file(path: &Path) -> std::io::Result<Secret> {
        let text = std::fs::read_to_string(path)?;
        Ok(Secret(text.trim_end_matches(['\r', '\n']).to_owned()))
    }

    /// The value, for the request that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }
}
