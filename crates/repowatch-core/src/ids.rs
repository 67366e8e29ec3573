//! Identifiers with parse constructors: a value of these types is always valid.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why an identifier was rejected. The message says what a valid one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} is not valid: {rule}")]
pub struct IdError {
    pub what: &'static str,
    pub value: String,
    pub rule: &'static str,
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr, $rule:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates.
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                let check: fn(&str) -> bool = $check;
                if check(&value) {
                    Ok(Self(value))
                } else {
                    Err(IdError { what: $what, value, rule: $rule })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

string_id!(
    /// A datasource's stable id: `[a-z0-9-]{1,64}`.
    DatasourceId,
    "datasource id",
    is_slug,
    "use 1 to 64 characters from a-z, 0-9 and '-'"
);

string_id!(
    /// A build target's name (the key under `[targets]`): `[a-z0-9-]{1,64}`.
    TargetId,
    "target name",
    is_slug,
    "use 1 to 64 characters from a-z, 0-9 and '-'"
);

string_id!(
    /// A full git commit id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
    CommitSha,
    "commit id",
    |s| (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
    "expected 40 or 64 lowercase hex digits"
);

string_id!(
    /// A fully qualified git ref: `refs/heads/<branch>` or `refs/tags/<tag>`,
    /// following the rules of `git check-ref-format`.
    RefName,
    "ref name",
    is_valid_ref,
    "expected refs/heads/<branch> or refs/tags/<tag> with a name git accepts"
);

string_id!(
    /// The idempotency key of one build: hex SHA-256 of (datasource, ref, commit, target).
    IdempotencyKey,
    "idempotency key",
    |s| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
    "expected 64 lowercase hex digits"
);

string_id!(
    /// One pipeline execution: `[A-Za-z0-9_-]{1,80}` (a Step Functions execution name).
    RunId,
    "run id",
    |s| !s.is_empty() && s.len() <= 80 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
    "use 1 to 80 characters from A-Z, a-z, 0-9, '-' and '_'"
);

string_id!(
    /// A queue message id, as the queue assigned it.
    MessageId,
    "message id",
    |s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()),
    "use 1 to 128 printable ASCII characters"
);

fn is_valid_ref(s: &str) -> bool {
    let Some(short) = s.strip_prefix("refs/heads/").or_else(|| s.strip_prefix("refs/tags/")) else {
        return false;
    };
    !short.is_empty()
        && s.len() <= 1024
        && !short.starts_with('/')
        && !s.ends_with('/')
        && !s.ends_with('.')
        && !s.ends_with(".lock")
        && !s.contains("..")
        && !s.contains("//")
        && !s.contains("@{")
        && !s.split('/').any(|c| c.starts_with('.'))
        && !s.bytes().any(|b| b < 0x20 || b == 0x7f || b" ~^:?*[\\".contains(&b))
}

/// What kind of ref a change is on; also the `REPOWATCH_KIND` of a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefKind {
    Branch,
    Tag,
    /// A GitHub release; its ref is the release's tag.
    Release,
}

impl RefKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefKind::Branch => "branch",
            RefKind::Tag => "tag",
            RefKind::Release => "release",
        }
    }
}

impl fmt::Display for RefKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RefName {
    /// `main` for `refs/heads/main`, `v1.2.0` for `refs/tags/v1.2.0`.
    pub fn short(&self) -> &str {
        self.0.strip_prefix("refs/heads/").or_else(|| self.0.strip_prefix("refs/tags/")).unwrap_or(&self.0)
    }

    /// Branch for `refs/heads/…`, tag for `refs/tags/…`.
    pub fn natural_kind(&self) -> RefKind {
        if self.0.starts_with("refs/heads/") { RefKind::Branch } else { RefKind::Tag }
    }

    pub fn branch(name: &str) -> Result<Self, IdError> {
        Self::parse(format!("refs/heads/{name}"))
    }

    pub fn tag(name: &str) -> Result<Self, IdError> {
        Self::parse(format!("refs/tags/{name}"))
    }
}

impl IdempotencyKey {
    /// The key of building `commit` of `reference` in `datasource` on `target`.
    /// Fields are length-prefixed so no two tuples share a key.
    pub fn derive(datasource: &DatasourceId, reference: &RefName, commit: &CommitSha, target: &TargetId) -> Self {
        let mut hasher = Sha256::new();
        for part in [datasource.as_str(), reference.as_str(), commit.as_str(), target.as_str()] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        Self(hex::encode(hasher.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasource_ids() {
        assert!(DatasourceId::parse("api-2").is_ok());
        for bad in ["", "API", "a_b", "a b", &"x".repeat(65)] {
            let err = DatasourceId::parse(bad).unwrap_err();
            assert_eq!(err.rule, "use 1 to 64 characters from a-z, 0-9 and '-'");
        }
        assert_eq!(
            DatasourceId::parse("Api").unwrap_err().to_string(),
            "datasource id \"Api\" is not valid: use 1 to 64 characters from a-z, 0-9 and '-'"
        );
    }

    #[test]
    fn ref_names_follow_git_rules() {
        for good in ["refs/heads/main", "refs/heads/release/1.x", "refs/tags/v1.2.0"] {
            assert!(RefName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "main",
            "refs/heads/",
            "refs/remotes/origin/main",
            "refs/heads/a..b",
            "refs/heads/a b",
            "refs/heads/.hidden",
            "refs/heads/x.lock",
            "refs/heads/a//b",
            "refs/tags/v1~1",
            "refs/heads/a@{1}",
        ] {
            assert!(RefName::parse(bad).is_err(), "{bad}");
        }
        let r = RefName::parse("refs/heads/release/1.x").unwrap();
        assert_eq!(r.short(), "release/1.x");
        assert_eq!(r.natural_kind(), RefKind::Branch);
    }

    #[test]
    fn commit_sha() {
        assert!(CommitSha::parse("a".repeat(40)).is_ok());
        assert!(CommitSha::parse("A".repeat(40)).is_err());
        assert!(CommitSha::parse("a".repeat(39)).is_err());
    }

    #[test]
    fn idempotency_key_is_stable_and_injective() {
        let ds = DatasourceId::parse("api").unwrap();
        let r = RefName::parse("refs/heads/main").unwrap();
        let c = CommitSha::parse("0".repeat(40)).unwrap();
        let t = TargetId::parse("deploy").unwrap();
        let k = IdempotencyKey::derive(&ds, &r, &c, &t);
        assert_eq!(k, IdempotencyKey::derive(&ds, &r, &c, &t));
        assert!(IdempotencyKey::parse(k.as_str()).is_ok());
        let t2 = TargetId::parse("deploy2").unwrap();
        assert_ne!(k, IdempotencyKey::derive(&ds, &r, &c, &t2));
    }

    #[test]
    fn serde_validates() {
        let bad: Result<DatasourceId, _> = serde_json::from_str("\"Not Valid\"");
        assert!(bad.is_err());
        let ok: DatasourceId = serde_json::from_str("\"ok\"").unwrap();
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"ok\"");
    }
}
