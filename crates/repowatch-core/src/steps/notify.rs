//! notify: folds the shard results (and a stage failure, if a Catch routed
//! one here) into the run summary, and sends it to the configured channels.
//! A channel that refuses fails the step, so the execution fails and the
//! failed-execution alarm fires: a notification is never silently lost.

use serde::{Deserialize, Serialize};

use crate::error::StepError;
use crate::ids::DatasourceId;
use crate::model::{ErrorInfo, RunInfo};
use crate::ports::Notifier;
use crate::steps::process_updates::{Omitted, Outcome, OutcomeStatus, ProcessOutput};

/// The `{"Error", "Cause"}` object a Step Functions Catch produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatesError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// One Map iteration's result: processed, or caught by the shard's Catch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ShardResult {
    Processed(ProcessOutput),
    /// `shard` names the shard's first datasources (ShardFailed keeps at most
    /// ten, so a run whose every shard fails stays within the state limit);
    /// `shard_size` counts them all.
    Failed {
        shard: Vec<DatasourceId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shard_size: Option<usize>,
        failure: StatesError,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardResult>,
    /// Set when a stage failed as a whole (list-datasources, or the Map).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<StatesError>,
    /// The execution input, when list-datasources failed before `run` existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
    /// The execution name, when `run` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every datasource was processed.
    Ok,
    /// Some datasources or shards failed; the others were processed.
    Partial,
    /// The run could not process anything.
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFailure {
    /// Which stage failed: `list-datasources`, `shard`, `detect-updates`…
    pub stage: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasources: Vec<DatasourceId>,
    /// Datasources in the failure beyond those named in `datasources`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more: usize,
    pub error: ErrorInfo,
}

// serde's skip_serializing_if passes a reference.
fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub datasources: usize,
    /// Seen for the first time (their refs became the baseline).
    #[serde(default)]
    pub first_seen: usize,
    pub changed: usize,
    pub builds_queued: usize,
    pub pending: usize,
    pub errors: usize,
}

/// What a run did: the execution's output, the notification, the CLI's summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    pub status: RunStatus,
    pub totals: Totals,
    /// Every datasource's outcome, unless the run was too big to carry them
    /// all: then the most actionable, and `omitted` counts the rest.
    pub datasources: Vec<Outcome>,
    #[serde(default, skip_serializing_if = "Omitted::is_empty")]
    pub omitted: Omitted,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<RunFailure>,
    #[serde(default)]
    pub notified: Vec<String>,
    /// The least GitHub budget any shard saw left, when a shard read GitHub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_remaining: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// Every run.
    Summary,
    /// Builds were queued.
    Build,
    /// A datasource, shard or stage failed.
    Failure,
}

/// What notifiers receive; each channel sends the events it subscribed to (`on`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub events: Vec<NotifyEvent>,
    pub summary: RunSummary,
}

pub fn summarize(input: NotifyInput) -> RunSummary {
    let mut datasources = Vec::new();
    let mut omitted = Omitted::default();
    let mut failures = Vec::new();
    let mut run = input.run;
    let mut github_remaining: Option<u64> = None;
    for shard in input.shards {
        match shard {
            ShardResult::Processed(p) => {
                run.get_or_insert(p.run);
                if let Some(left) = p.github_remaining {
                    github_remaining = Some(github_remaining.map_or(left, |g| g.min(left)));
                }
                datasources.extend(p.datasources);
                omitted.add(&p.omitted);
            }
            ShardResult::Failed { shard, shard_size, failure } => failures.push(RunFailure {
                stage: "shard".into(),
                more: shard_size.unwrap_or(shard.len()).saturating_sub(shard.len()),
                datasources: shard,
                error: ErrorInfo { name: failure.error, message: failure.cause },
            }),
        }
    }
    if let Some(failure) = input.failure {
        failures.push(RunFailure {
            stage: if run.is_none() { "list-datasources".into() } else { "map".into() },
            datasources: vec![],
            more: 0,
            error: ErrorInfo { name: failure.error, message: failure.cause },
        });
    }
    for o in &datasources {
        if let Some(e) = &o.error {
            failures.push(RunFailure {
                stage: "datasource".into(),
                datasources: vec![o.id.clone()],
                more: 0,
                error: e.clone(),
            });
        }
    }
    let in_failed_shards: usize =
        failures.iter().filter(|f| f.stage == "shard").map(|f| f.datasources.len() + f.more).sum();
    let totals = Totals {
        datasources: datasources.len() + omitted.outcomes() + in_failed_shards,
        first_seen: datasources.iter().filter(|o| o.status == OutcomeStatus::Baseline).count() + omitted.first_seen,
        changed: datasources.iter().filter(|o| o.status == OutcomeStatus::Changed).count() + omitted.changed,
        builds_queued: datasources.iter().map(|o| o.builds.len()).sum::<usize>() + omitted.builds,
        pending: datasources.iter().map(|o| o.pending.len()).sum::<usize>() + omitted.pending,
        errors: failures.len() + omitted.errors,
    };
    let processed_any =
        datasources.iter().any(|o| o.status != OutcomeStatus::Error) || omitted.outcomes() > omitted.errors;
    let status = match (totals.errors == 0, processed_any) {
        (true, _) => RunStatus::Ok,
        (false, true) => RunStatus::Partial,
        (false, false) => RunStatus::Failed,
    };
    RunSummary { run, status, totals, datasources, omitted, failures, notified: vec![], github_remaining }
}

pub async fn notify(input: NotifyInput, notifier: &dyn Notifier) -> Result<RunSummary, StepError> {
    let mut summary = summarize(input);
    let mut events = vec![NotifyEvent::Summary];
    if summary.totals.builds_queued > 0 {
        events.push(NotifyEvent::Build);
    }
    if !summary.failures.is_empty() {
        events.push(NotifyEvent::Failure);
    }
    let channels = notifier.channels();
    if !channels.is_empty() {
        notifier.send(&Notification { events, summary: summary.clone() }).await.map_err(StepError::Notify)?;
    }
    summary.notified = channels;
    Ok(summary)
}
