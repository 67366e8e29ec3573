//! The public description types: options, repositories, comparisons, dispatches and errors.

use std::fmt;
use std::time::Instant;

use serde_json::Value;

/// How [`crate::FakeGithub::start`] sets the fake up.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// The only token accepted (`Authorization: Bearer <token>` or `token <token>`); anything else gets 401.
    pub token: String,
    /// The hourly budget of both the REST (`core`) and the GraphQL resource, like GitHub's 5,000.
    pub rate_limit: u32,
    /// How workflow dispatches answer; see [`DispatchMode`].
    pub dispatch_mode: DispatchMode,
    /// A GraphQL query with more than this many `repository` fields gets 502, as GitHub times out on big queries.
    pub max_batch: Option<usize>,
    /// Keep every exchange for [`crate::FakeGithub::requests`] and [`crate::FakeGithub::write_exchanges`];
    /// long benchmarks may turn it off (the counters still count).
    pub record_exchanges: bool,
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self {
            token: "ghp_test".to_owned(),
            rate_limit: 5000,
            dispatch_mode: DispatchMode::default(),
            max_batch: None,
            record_exchanges: true,
        }
    }
}

/// A repository to add with [`crate::FakeGithub::add_repo`]. Branches, tags and releases are set afterwards.
#[derive(Debug, Clone)]
pub struct RepoSpec {
    /// The default branch's name; `defaultBranchRef` is null until a branch of that name is set.
    pub default_branch: String,
    /// `isArchived`.
    pub archived: bool,
    /// `isDisabled`.
    pub disabled: bool,
    /// `isPrivate`.
    pub private: bool,
}

impl Default for RepoSpec {
    fn default() -> Self {
        Self { default_branch: "main".to_owned(), archived: false, disabled: false, private: false }
    }
}

/// A release to add with [`crate::FakeGithub::add_release_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSpec {
    /// The tag the release is for (`tagName`); `tagCommit` is null while no such tag exists.
    pub tag_name: String,
    /// The release title (`name`), null when `None`.
    pub name: Option<String>,
    /// `isDraft`.
    pub draft: bool,
    /// `isPrerelease`.
    pub prerelease: bool,
}

impl ReleaseSpec {
    /// A published, non-prerelease release titled like its tag.
    pub fn new(tag_name: impl Into<String>) -> Self {
        let tag_name = tag_name.into();
        Self { name: Some(tag_name.clone()), tag_name, draft: false, prerelease: false }
    }
}

/// The state of a file in a comparison (the compare API's `files[].status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileStatus {
    /// `added`
    Added,
    /// `removed`
    Removed,
    /// `modified`
    #[default]
    Modified,
    /// `renamed` (with [`ChangedFile::previous_filename`])
    Renamed,
}

impl FileStatus {
    /// The name GitHub uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Modified => "modified",
            Self::Renamed => "renamed",
        }
    }
}

/// A file changed between two commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    /// The path in the head commit (`filename`).
    pub filename: String,
    /// What happened to it.
    pub status: FileStatus,
    /// The old path of a renamed file (`previous_filename`).
    pub previous_filename: Option<String>,
}

impl From<&str> for ChangedFile {
    fn from(filename: &str) -> Self {
        Self { filename: filename.to_owned(), status: FileStatus::Modified, previous_filename: None }
    }
}

impl From<String> for ChangedFile {
    fn from(filename: String) -> Self {
        Self { filename, status: FileStatus::Modified, previous_filename: None }
    }
}

/// What the compare API answers for one base/head pair; see [`crate::FakeGithub::set_compare`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The changed files (the API lists at most 300, on the first page only).
    pub files: Vec<ChangedFile>,
    /// Commits in head that base lacks (`ahead_by`, `total_commits`, the length of `commits`).
    pub ahead_by: u32,
    /// Commits in base that head lacks (`behind_by`).
    pub behind_by: u32,
}

impl Default for Comparison {
    fn default() -> Self {
        Self { files: Vec::new(), ahead_by: 1, behind_by: 0 }
    }
}

/// How `POST .../actions/workflows/{id}/dispatches` answers a valid request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DispatchMode {
    /// GitHub since 2025: 200 with `{workflow_run_id, run_url, html_url}` when the body asks
    /// `return_run_details: true`, else 204.
    #[default]
    RunDetails,
    /// The older behaviour: always 204 with an empty body.
    NoContent,
}

/// One of GitHub's rate-limit resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// REST (`x-ratelimit-resource: core`): one point per request.
    Core,
    /// GraphQL (`x-ratelimit-resource: graphql`): the query's cost.
    Graphql,
}

impl Resource {
    /// The name in `x-ratelimit-resource`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::Graphql => "graphql",
        }
    }
}

/// What a recorded dispatch triggered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchTarget {
    /// `POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches`, with the workflow file name.
    Workflow {
        /// The workflow's file name (`deploy.yml`), also when the request named it by id.
        workflow: String,
        /// The run id the fake assigned (whether or not the response carried it).
        run_id: u64,
    },
    /// `POST /repos/{owner}/{repo}/dispatches`.
    Repository,
}

/// A dispatch the fake accepted (rejected ones are only in [`crate::FakeGithub::requests`]).
#[derive(Debug, Clone)]
pub struct Dispatch {
    /// The repository's current `owner/name`.
    pub repo: String,
    /// Which endpoint.
    pub target: DispatchTarget,
    /// The JSON body as sent.
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

/// Why a call on the fake failed.
#[derive(Debug)]
pub enum FakeError {
    /// No repository of that `owner/name` (renamed names do not count for mutations).
    UnknownRepo(String),
    /// A repository of that name exists already.
    RepoExists(String),
    /// Not `owner/name`.
    InvalidRepoName(String),
    /// Not a full 40-hex lowercase object id.
    InvalidSha(String),
    /// A branch, tag, release or workflow the call needs does not exist.
    NotFound(String),
    /// Binding, serving or writing failed.
    Io(std::io::Error),
    /// The contract checker could not be run, or it is required and missing.
    Checker(String),
}

impl fmt::Display for FakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownRepo(r) => write!(f, "no repository {r} in the fake"),
            Self::RepoExists(r) => write!(f, "repository {r} exists already"),
            Self::InvalidRepoName(r) => write!(f, "{r:?} is not owner/name"),
            Self::InvalidSha(s) => {
                write!(f, "{s:?} is not a 40-hex lowercase object id (see repowatch_github_fake::sha)")
            }
            Self::NotFound(what) => write!(f, "{what} not found"),
            Self::Io(e) => write!(f, "{e}"),
            Self::Checker(msg) => write!(f, "contract checker: {msg}"),
        }
    }
}

impl std::error::Error for FakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for FakeError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}
