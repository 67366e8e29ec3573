//! A datasource's rules: which refs it watches (`watch`) and which changed paths
//! make a build (`paths`). Globs follow GitHub's filter syntax: `*` stops at `/`,
//! `**` crosses it.

use std::fmt;

use globset::{Glob, GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::ids::{RefKind, RefName};

/// Why a rule was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{rule:?} has no kind; write \"branch:<glob>\", \"tag:<glob>\" or \"release\"")]
    MissingKind { rule: String },
    #[error("{rule:?} has an unknown kind {kind:?}; expected branch, tag or release")]
    UnknownKind { rule: String, kind: String },
    #[error("{rule:?} is not a valid glob: {reason}")]
    BadGlob { rule: String, reason: String },
    #[error("{rule:?}: a release rule takes no pattern (or \"release:<tag glob>\")")]
    Empty { rule: String },
}

/// Characters with a meaning in a glob.
const GLOB_META: &[char] = &['*', '?', '[', ']', '{', '}', '\\'];

fn compile(pattern: &str) -> Result<GlobMatcher, String> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|g: Glob| g.compile_matcher())
        .map_err(|e| e.kind().to_string())
}

/// One `watch` entry: `branch:<glob>`, `tag:<glob>`, `release` or `release:<tag glob>`.
#[derive(Clone)]
pub struct WatchRule {
    text: String,
    kind: RefKind,
    matcher: GlobMatcher,
}

impl WatchRule {
    pub fn parse(rule: &str) -> Result<Self, RuleError> {
        let (kind, pattern) = match rule.split_once(':') {
            Some((k, p)) => (k, p),
            None if rule == "release" => ("release", "*"),
            None => return Err(RuleError::MissingKind { rule: rule.to_owned() }),
        };
        let kind = match kind {
            "branch" => RefKind::Branch,
            "tag" => RefKind::Tag,
            "release" => RefKind::Release,
            other => return Err(RuleError::UnknownKind { rule: rule.to_owned(), kind: other.to_owned() }),
        };
        if pattern.is_empty() {
            return Err(RuleError::Empty { rule: rule.to_owned() });
        }
        let matcher = compile(pattern).map_err(|reason| RuleError::BadGlob { rule: rule.to_owned(), reason })?;
        Ok(Self { text: rule.to_owned(), kind, matcher })
    }

    pub fn kind(&self) -> RefKind {
        self.kind
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The glob after `kind:` (`*` for a bare `release`).
    pub fn pattern(&self) -> &str {
        self.text.split_once(':').map_or("*", |(_, p)| p)
    }

    /// The one short name the rule matches, when its pattern has no glob syntax.
    pub fn literal(&self) -> Option<&str> {
        let p = self.pattern();
        (!p.contains(GLOB_META)).then_some(p)
    }

    /// What every name the rule matches starts with (may be empty).
    pub fn literal_prefix(&self) -> &str {
        let p = self.pattern();
        p.find(GLOB_META).map_or(p, |i| &p[..i])
    }

    pub fn matches(&self, kind: RefKind, reference: &RefName) -> bool {
        self.kind == kind && self.matcher.is_match(reference.short())
    }
}

impl fmt::Debug for WatchRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WatchRule").field(&self.text).finish()
    }
}

impl PartialEq for WatchRule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// The `watch` list of a datasource. Serialises as the list of rule strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct WatchRules(Vec<WatchRule>);

impl WatchRules {
    pub fn parse<S: AsRef<str>>(rules: &[S]) -> Result<Self, RuleError> {
        rules.iter().map(|r| WatchRule::parse(r.as_ref())).collect::<Result<_, _>>().map(Self)
    }

    pub fn matches(&self, kind: RefKind, reference: &RefName) -> bool {
        self.0.iter().any(|r| r.matches(kind, reference))
    }

    pub fn watches_kind(&self, kind: RefKind) -> bool {
        self.0.iter().any(|r| r.kind == kind)
    }

    pub fn rules(&self) -> &[WatchRule] {
        &self.0
    }
}

impl TryFrom<Vec<String>> for WatchRules {
    type Error = RuleError;
    fn try_from(v: Vec<String>) -> Result<Self, RuleError> {
        Self::parse(&v)
    }
}

impl From<WatchRules> for Vec<String> {
    fn from(w: WatchRules) -> Self {
        w.0.into_iter().map(|r| r.text).collect()
    }
}

/// The `paths` list: a change builds only if one of its changed files matches.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct PathFilter {
    patterns: Vec<String>,
    set: globset::GlobSet,
}

impl PathFilter {
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, RuleError> {
        let mut builder = globset::GlobSetBuilder::new();
        for p in patterns {
            let p = p.as_ref();
            let glob = GlobBuilder::new(p)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| RuleError::BadGlob { rule: p.to_owned(), reason: e.kind().to_string() })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| RuleError::BadGlob {
            rule: patterns.iter().map(|p| p.as_ref()).collect::<Vec<_>>().join(", "),
            reason: e.to_string(),
        })?;
        Ok(Self { patterns: patterns.iter().map(|p| p.as_ref().to_owned()).collect(), set })
    }

    /// True when any of `changed` (repository-relative, `/`-separated) matches.
    pub fn any_match<'a>(&self, changed: impl IntoIterator<Item = &'a str>) -> bool {
        changed.into_iter().any(|p| self.set.is_match(p))
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

impl fmt::Debug for PathFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PathFilter").field(&self.patterns).finish()
    }
}

impl PartialEq for PathFilter {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

impl TryFrom<Vec<String>> for PathFilter {
    type Error = RuleError;
    fn try_from(v: Vec<String>) -> Result<Self, RuleError> {
        Self::parse(&v)
    }
}

impl From<PathFilter> for Vec<String> {
    fn from(p: PathFilter) -> Self {
        p.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> RefName {
        RefName::parse(s).unwrap()
    }

    #[test]
    fn star_stops_at_slash_like_github_filters() {
        let w = WatchRules::parse(&["branch:release/*", "tag:v*"]).unwrap();
        assert!(w.matches(RefKind::Branch, &r("refs/heads/release/1.0")));
        assert!(!w.matches(RefKind::Branch, &r("refs/heads/release/1.0/hotfix")));
        assert!(!w.matches(RefKind::Branch, &r("refs/heads/main")));
        assert!(w.matches(RefKind::Tag, &r("refs/tags/v1.2.0")));
        assert!(!w.matches(RefKind::Branch, &r("refs/heads/v1")), "kind must match too");
        let all = WatchRules::parse(&["branch:**"]).unwrap();
        assert!(all.matches(RefKind::Branch, &r("refs/heads/a/b/c")));
    }

    #[test]
    fn literal_and_prefix() {
        let rule = |s: &str| WatchRule::parse(s).unwrap();
        assert_eq!(rule("branch:main").literal(), Some("main"));
        assert_eq!(rule("branch:release/*").literal(), None);
        assert_eq!(rule("branch:release/*").literal_prefix(), "release/");
        assert_eq!(rule("tag:v[0-9]*").literal_prefix(), "v");
        assert_eq!(rule("release").pattern(), "*");
        assert_eq!(rule("release").literal_prefix(), "");
    }

    #[test]
    fn release_rule() {
        let w = WatchRules::parse(&["release"]).unwrap();
        assert!(w.matches(RefKind::Release, &r("refs/tags/v1")));
        assert!(!w.matches(RefKind::Tag, &r("refs/tags/v1")));
    }

    #[test]
    fn bad_rules_say_what_to_write() {
        assert_eq!(
            WatchRule::parse("main").unwrap_err().to_string(),
            "\"main\" has no kind; write \"branch:<glob>\", \"tag:<glob>\" or \"release\""
        );
        assert_eq!(
            WatchRule::parse("head:main").unwrap_err().to_string(),
            "\"head:main\" has an unknown kind \"head\"; expected branch, tag or release"
        );
        assert!(matches!(WatchRule::parse("branch:[a").unwrap_err(), RuleError::BadGlob { .. }));
    }

    #[test]
    fn paths() {
        let p = PathFilter::parse(&["src/**", "Cargo.*"]).unwrap();
        assert!(p.any_match(["README.md", "src/a/b.rs"]));
        assert!(p.any_match(["Cargo.toml"]));
        assert!(!p.any_match(["docs/x.md", "sub/Cargo.toml"]));
        assert!(!p.any_match(std::iter::empty()));
        assert!(PathFilter::parse(&["src/{a"]).is_err());
    }

    #[test]
    fn serde_round_trip() {
        let w = WatchRules::parse(&["branch:main", "tag:v*"]).unwrap();
        let j = serde_json::to_string(&w).unwrap();
        assert_eq!(j, r#"["branch:main","tag:v*"]"#);
        let back: WatchRules = serde_json::from_str(&j).unwrap();
        assert_eq!(back, w);
    }
}
