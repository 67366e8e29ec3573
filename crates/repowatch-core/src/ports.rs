//! The ports: what the step handlers need from the world, one trait per role.
//! Adapters are named technology + role: `SqliteStateStore`, `GitRefSource`,
//! `MemoryStateStore` (behind the `test-util` feature).

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::ids::{CommitSha, DatasourceId, IdempotencyKey, MessageId, RefKind, RefName, TargetId};
use crate::model::{BuildRequest, Datasource, RefSnapshot, RefState, TargetSpec};

/// A boxed error source, so adapters keep their cause chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure of an adapter. `message` is for people and must never hold a secret.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PortError {
    pub message: String,
    #[source]
    pub source: Option<BoxError>,
}

impl PortError {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), source: None }
    }

    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self { message: message.into(), source: Some(source.into()) }
    }

    /// The message followed by its causes: `a: b: c`.
    pub fn chain(&self) -> String {
        let mut text = self.message.clone();
        let mut next = self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(e) = next {
            text.push_str(": ");
            text.push_str(&e.to_string());
            next = e.source();
        }
        text
    }
}

/// Current time. Handlers never read the system clock themselves.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Where datasources and targets are declared (repowatch.toml locally; the table on AWS).
#[async_trait]
pub trait Catalog: Send + Sync {
    async fn datasources(&self) -> Result<Vec<Datasource>, PortError>;
    async fn datasource(&self, id: &DatasourceId) -> Result<Option<Datasource>, PortError>;
    async fn target(&self, id: &TargetId) -> Result<Option<TargetSpec>, PortError>;
}

/// Last-seen state of every datasource, the idempotency records and build records.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// `None` when the datasource was never seen (its first run sets the baseline).
    async fn load_refs(&self, datasource: &DatasourceId) -> Result<Option<Vec<RefState>>, PortError>;

    /// Atomically applies `changes` and marks the datasource as seen.
    async fn commit_refs(
        &self,
        datasource: &DatasourceId,
        changes: &[RefChange],
        now: Timestamp,
    ) -> Result<(), PortError>;

    /// Conditional write: claims `key` for `owner` until `lease_until`. A claim whose
    /// lease has expired, or whose holder is known to be dead, may be taken over.
    async fn claim(
        &self,
        key: &IdempotencyKey,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Claim, PortError>;

    /// Marks a claimed key done; later claims answer [`Claim::Done`].
    async fn complete(&self, key: &IdempotencyKey, owner: &str, now: Timestamp) -> Result<(), PortError>;

    /// Gives a claimed key up after a failed call, so a retry may proceed.
    async fn release(&self, key: &IdempotencyKey, owner: &str) -> Result<(), PortError>;

    /// Records the outcome of one dispatch attempt.
    async fn record_build(&self, record: &BuildRecord) -> Result<(), PortError>;

    /// Remembers a webhook delivery id (`X-GitHub-Delivery`) with a
    /// conditional write: `true` the first time, `false` for a redelivery.
    async fn record_delivery(&self, delivery: &str, now: Timestamp) -> Result<bool, PortError>;

    /// Attaches a `workflow_run` report to the build whose dispatch started
    /// that run. `false` when no build knows the run (a run started by
    /// someone else, or by a target that does not return run details).
    async fn record_run_result(&self, result: &RunResult) -> Result<bool, PortError>;
}

/// One change to last-seen state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefChange {
    Upsert(RefState),
    Delete { kind: RefKind, name: RefName },
}

/// The answer to [`StateStore::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the key now. `taken_over` names the previous holder whose
    /// claim had expired or died: it may already have called the target.
    Acquired { taken_over: Option<String> },
    /// Already dispatched: do nothing.
    Done { at: Timestamp },
    /// Another live dispatcher holds it.
    Held { owner: String, until: Timestamp },
}

/// The durable record of one dispatch attempt.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BuildRecord {
    pub request: BuildRequest,
    pub message_id: MessageId,
    pub receive_count: u32,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub status: BuildStatus,
    /// A line for people: the command's exit status, a run URL, an error.
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Captured output (tail), for `command` targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The run the target started (GitHub Actions), when it told us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunLink>,
    /// The latest `workflow_run` report for `run` (filled in by the webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<RunResult>,
    /// Set when this attempt took the key over from a dispatcher that died or
    /// timed out; that one may have dispatched already (the documented window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub took_over_from: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildStatus {
    Succeeded,
    Failed,
}

/// The build queue's producer side. Consumers (SQS event source, the local
/// worker) deliver messages to dispatch-build.
#[async_trait]
pub trait BuildQueue: Send + Sync {
    /// Durably enqueues every request, or none (the error says why).
    async fn enqueue(&self, requests: &[BuildRequest]) -> Result<Vec<MessageId>, PortError>;
}

/// Reads current refs of datasources.
#[async_trait]
pub trait RefSource: Send + Sync {
    /// Reads the refs of many datasources (a GitHub source batches them into one
    /// query per ≤100). One failing datasource fails only its own entry.
    async fn read_refs(&self, datasources: &[Datasource]) -> Vec<(DatasourceId, Result<RefSnapshot, PortError>)>;

    /// Files changed between two commits, `None` when the source cannot tell
    /// (the caller then builds: a missed build is worse than an extra one).
    async fn changed_paths(
        &self,
        datasource: &Datasource,
        from: &CommitSha,
        to: &CommitSha,
    ) -> Result<Option<Vec<String>>, PortError>;

    /// What is left of the source's API budget after the reads (GitHub's
    /// GraphQL points), for the run summary; `None` when it has none.
    fn budget_remaining(&self) -> Option<u64> {
        None
    }
}

/// Starts builds.
#[async_trait]
pub trait BuildTarget: Send + Sync {
    async fn dispatch(
        &self,
        target_id: &TargetId,
        target: &TargetSpec,
        request: &BuildRequest,
    ) -> Result<Dispatched, DispatchError>;
}

/// A successful dispatch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dispatched {
    pub detail: String,
    pub exit_code: Option<i32>,
    pub output: Option<String>,
    /// The run the target started, when it says (GitHub's `return_run_details`).
    pub run: Option<RunLink>,
}

/// A run a target started for a build: what links a build to its CI run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunLink {
    /// GitHub's `workflow_run_id`.
    pub id: u64,
    /// Where people look at it (`html_url`).
    pub url: String,
}

/// How a started run ended (or got on), as GitHub's `workflow_run` event says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunResult {
    pub run_id: u64,
    /// `queued`, `in_progress`, `completed` …
    pub status: String,
    /// `success`, `failure`, `cancelled` … once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub updated_at: Timestamp,
}

/// A failed dispatch; the claim is released and the message retried.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct DispatchError {
    pub detail: String,
    pub exit_code: Option<i32>,
    pub output: Option<String>,
    #[source]
    pub source: Option<BoxError>,
}

impl DispatchError {
    pub fn new(detail: impl Into<String>) -> Self {
        Self { detail: detail.into(), exit_code: None, output: None, source: None }
    }
}

/// Sends notifications (Discord, Slack, webhook …).
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Names of the configured channels, for the run summary.
    fn channels(&self) -> Vec<String>;
    async fn send(&self, notification: &crate::steps::notify::Notification) -> Result<(), PortError>;
}

/// Identity of the dispatcher that claims keys (a worker process, a Lambda request).
#[derive(Debug, Clone)]
pub struct Dispatcher {
    pub owner: String,
    /// How long a claim is held before another dispatcher may take it over.
    pub lease: Duration,
}
