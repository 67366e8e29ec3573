//! What repowatch knows about: datasources, targets, refs, updates and build
//! requests. Every type here is part of a step's JSON contract or of the
//! configuration, so field names are stable.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{CommitSha, DatasourceId, IdempotencyKey, RefKind, RefName, RunId, TargetId};
use crate::rules::{PathFilter, WatchRules};
use crate::secret::SecretRef;

/// `owner/name` of a GitHub repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoSlug {
    pub owner: String,
    pub name: String,
}

impl RepoSlug {
    pub fn parse(text: &str) -> Result<Self, String> {
        let valid = |s: &str| {
            !s.is_empty()
                && s.len() <= 100
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                && s != "."
                && s != ".."
        };
        match text.split_once('/') {
            Some((owner, name)) if valid(owner) && valid(name) => {
                Ok(Self { owner: owner.to_owned(), name: name.to_owned() })
            }
            _ => Err(format!("{text:?} is not a repository; write \"owner/name\", e.g. \"octo-org/api\"")),
        }
    }
}

impl std::fmt::Display for RepoSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl TryFrom<String> for RepoSlug {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<RepoSlug> for String {
    fn from(r: RepoSlug) -> String {
        r.to_string()
    }
}

/// Where a datasource's refs come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// A GitHub repository, read through the API.
    Github(RepoSlug),
    /// A git repository on this machine (embedded mode). Absolute after loading.
    Path(PathBuf),
}

/// One watched repository and the rules that turn its changes into builds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datasource {
    pub id: DatasourceId,
    pub location: Location,
    pub watch: WatchRules,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<PathFilter>,
    #[serde(with = "crate::duration::human", default)]
    pub cooldown: Duration,
    pub targets: Vec<TargetId>,
    #[serde(default)]
    pub build_on_first_seen: bool,
}

/// How a build is started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetSpec {
    /// `POST /repos/{repo}/actions/workflows/{workflow}/dispatches`.
    WorkflowDispatch {
        repo: RepoSlug,
        workflow: String,
        #[serde(rename = "ref")]
        git_ref: String,
        #[serde(default)]
        inputs: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_input: Option<String>,
    },
    /// `POST /repos/{repo}/dispatches`.
    RepositoryDispatch { repo: RepoSlug, event_type: String },
    /// A signed POST to a self-hosted build server.
    Webhook { url: String, secret: SecretRef },
    /// A command on this machine (embedded mode only).
    Command {
        command: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workdir: Option<PathBuf>,
        #[serde(with = "crate::duration::human")]
        timeout: Duration,
    },
}

impl TargetSpec {
    pub fn kind_name(&self) -> &'static str {
        match self {
            TargetSpec::WorkflowDispatch { .. } => "workflow_dispatch",
            TargetSpec::RepositoryDispatch { .. } => "repository_dispatch",
            TargetSpec::Webhook { .. } => "webhook",
            TargetSpec::Command { .. } => "command",
        }
    }
}

/// What started a run (and so a build).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DetectionSource {
    Schedule,
    Webhook,
    #[default]
    Manual,
}

impl DetectionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DetectionSource::Schedule => "schedule",
            DetectionSource::Webhook => "webhook",
            DetectionSource::Manual => "manual",
        }
    }
}

/// A ref as read from a source right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefHead {
    pub kind: RefKind,
    #[serde(rename = "ref")]
    pub name: RefName,
    pub commit: CommitSha,
}

/// The refs a source reported for one datasource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefSnapshot {
    pub refs: Vec<RefHead>,
    /// Kinds of which the source reported only the newest (GitHub: the newest
    /// tags and releases). A last-seen ref of such a kind that is missing from
    /// `refs` may simply be older, so it is kept, not taken as deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub newest_only: Vec<RefKind>,
}

/// Last-seen state of one ref, as committed by process-updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefState {
    pub kind: RefKind,
    #[serde(rename = "ref")]
    pub name: RefName,
    /// The newest commit seen on this ref.
    pub commit: CommitSha,
    /// When `commit` was first seen (the start of the quiet period for cooldown).
    pub observed_at: Timestamp,
    /// A build of `commit` is owed once the cooldown has passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// A build deferred by `cooldown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The commit the ref was at before the burst began (diff base for `paths`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<CommitSha>,
    pub source: DetectionSource,
}

/// A change on one ref, found by detect-updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    pub kind: RefKind,
    #[serde(rename = "ref")]
    pub name: RefName,
    /// Last-seen commit, `None` for a ref not seen before.
    #[serde(default)]
    pub old: Option<CommitSha>,
    /// Current commit, `None` when the ref was deleted.
    #[serde(default)]
    pub new: Option<CommitSha>,
}

/// One build to dispatch: the body of a build-queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRequest {
    pub datasource: DatasourceId,
    #[serde(rename = "ref")]
    pub git_ref: RefName,
    pub commit: CommitSha,
    pub kind: RefKind,
    pub source: DetectionSource,
    pub target: TargetId,
    pub key: IdempotencyKey,
    pub detected_at: Timestamp,
    pub run_id: RunId,
}

impl BuildRequest {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        datasource: DatasourceId,
        git_ref: RefName,
        commit: CommitSha,
        kind: RefKind,
        source: DetectionSource,
        target: TargetId,
        detected_at: Timestamp,
        run_id: RunId,
    ) -> Self {
        let key = IdempotencyKey::derive(&datasource, &git_ref, &commit, &target);
        Self { datasource, git_ref, commit, kind, source, target, key, detected_at, run_id }
    }

    /// The environment a `command` target runs with.
    pub fn env(&self) -> [(&'static str, &str); 6] {
        [
            ("REPOWATCH_DATASOURCE", self.datasource.as_str()),
            ("REPOWATCH_REF", self.git_ref.as_str()),
            ("REPOWATCH_COMMIT", self.commit.as_str()),
            ("REPOWATCH_KIND", self.kind.as_str()),
            ("REPOWATCH_KEY", self.key.as_str()),
            ("REPOWATCH_SOURCE", self.source.as_str()),
        ]
    }
}

/// An error attached to one datasource or one stage, in step outputs and the run summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// A stable name, e.g. `Repowatch.SourceUnavailable`.
    pub name: String,
    pub message: String,
}

/// Identity of one pipeline execution; travels through every step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: RunId,
    pub source: DetectionSource,
    pub started_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasource: Option<DatasourceId>,
    /// How many shards the run has: each shard's result gets an equal share of
    /// the run's detail budget (`steps::process_updates::shard_detail_budget`).
    /// Absent (an input from before it existed) means one.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub shards: usize,
}

fn one() -> usize {
    1
}

// serde's skip_serializing_if passes a reference.
fn is_one(n: &usize) -> bool {
    *n == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_slug() {
        assert_eq!(RepoSlug::parse("octo-org/api").unwrap().to_string(), "octo-org/api");
        assert!(RepoSlug::parse("octo-org").is_err());
        assert!(RepoSlug::parse("a/b/c").is_err());
        assert!(RepoSlug::parse("a/..").is_err());
    }

    #[test]
    fn build_request_key_and_env() {
        let req = BuildRequest::new(
            DatasourceId::parse("api").unwrap(),
            RefName::parse("refs/tags/v1").unwrap(),
            CommitSha::parse("a".repeat(40)).unwrap(),
            RefKind::Tag,
            DetectionSource::Schedule,
            TargetId::parse("local").unwrap(),
            Timestamp::UNIX_EPOCH,
            RunId::parse("r1").unwrap(),
        );
        let env: BTreeMap<_, _> = req.env().into_iter().collect();
        assert_eq!(env["REPOWATCH_REF"], "refs/tags/v1");
        assert_eq!(env["REPOWATCH_KIND"], "tag");
        assert_eq!(env["REPOWATCH_KEY"], req.key.as_str());
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json["ref"], "refs/tags/v1");
        assert_eq!(serde_json::from_value::<BuildRequest>(json).unwrap(), req);
    }
}
