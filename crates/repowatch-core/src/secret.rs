//! Secrets are references in configuration (`env:NAME`, `file:PATH`,
//! `ssm:/path`), resolved once at start-up into [`SecretString`], whose `Debug`
//! and `Display` never show the value.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where a secret lives. The reference itself is not secret and may be printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
    Ssm(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretRefError {
    #[error(
        "a secret must not be written in the file; write a reference instead: \"env:NAME\", \"file:PATH\" or \"ssm:/path\""
    )]
    Literal,
    #[error("\"env:\" needs a variable name of A-Z, 0-9 and '_', e.g. \"env:GITHUB_TOKEN\"")]
    BadEnvName,
    #[error("\"file:\" needs a path, e.g. \"file:/run/secrets/token\"")]
    EmptyPath,
    #[error("\"ssm:\" needs a parameter name starting with '/', e.g. \"ssm:/repowatch/github-token\"")]
    BadSsmName,
}

impl SecretRef {
    pub fn parse(text: &str) -> Result<Self, SecretRefError> {
        if let Some(name) = text.strip_prefix("env:") {
            let ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b.is_ascii_lowercase())
                && !name.as_bytes()[0].is_ascii_digit();
            return if ok { Ok(Self::Env(name.to_owned())) } else { Err(SecretRefError::BadEnvName) };
        }
        if let Some(path) = text.strip_prefix("file:") {
            return if path.is_empty() { Err(SecretRefError::EmptyPath) } else { Ok(Self::File(PathBuf::from(path))) };
        }
        if let Some(name) = text.strip_prefix("ssm:") {
            return if name.starts_with('/') && name.len() > 1 && !name.contains(char::is_whitespace) {
                Ok(Self::Ssm(name.to_owned()))
            } else {
                Err(SecretRefError::BadSsmName)
            };
        }
        Err(SecretRefError::Literal)
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(n) => write!(f, "env:{n}"),
            SecretRef::File(p) => write!(f, "file:{}", p.display()),
            SecretRef::Ssm(n) => write!(f, "ssm:{n}"),
        }
    }
}

impl TryFrom<String> for SecretRef {
    type Error = SecretRefError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<SecretRef> for String {
    fn from(r: SecretRef) -> String {
        r.to_string()
    }
}

/// A resolved secret value. Printing it shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that sends it (an HTTP header, an HMAC key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(SecretRef::parse("env:GITHUB_TOKEN").unwrap(), SecretRef::Env("GITHUB_TOKEN".into()));
        assert_eq!(SecretRef::parse("ssm:/a/b").unwrap().to_string(), "ssm:/a/b");
        assert_eq!(SecretRef::parse("file:/run/s").unwrap(), SecretRef::File("/run/s".into()));
        assert_eq!(SecretRef::parse("ghp_abcdef123").unwrap_err(), SecretRefError::Literal);
        assert_eq!(SecretRef::parse("env:").unwrap_err(), SecretRefError::BadEnvName);
        assert_eq!(SecretRef::parse("ssm:nope").unwrap_err(), SecretRefError::BadSsmName);
    }

    #[test]
    fn value_never_printed() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "SecretString(***) ***");
        assert!(!format!("{:?}", Some(&s)).contains("hunter2"));
    }
}
