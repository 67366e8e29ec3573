//! The step handlers: one async function per pipeline step, over ports, with a
//! serde input and output. The JSON of these types is the contract between
//! steps, the same bytes on AWS and locally; examples live in `events/`.

pub mod detect_updates;
pub mod dispatch_build;
pub mod github_webhook;
pub mod list_datasources;
pub mod notify;
pub mod process_updates;

pub use detect_updates::{DetectInput, DetectOutput, Detected, detect_updates};
pub use dispatch_build::{
    DispatchInput, DispatchOutcome, DispatchOutput, DispatchResult, ItemFailure, QueueMessage, dispatch_build,
};
pub use github_webhook::{WebhookInput, WebhookOutput, WorkflowRunReport, github_webhook};
pub use list_datasources::{ListInput, ListOutput, RunRequest, SHARD_SIZE, Shard, list_datasources};
pub use notify::{
    Notification, NotifyEvent, NotifyInput, RunFailure, RunStatus, RunSummary, ShardResult, StatesError, Totals, notify,
};
pub use process_updates::{
    MIN_SHARD_DETAIL, Omitted, Outcome, OutcomeStatus, PendingBuild, ProcessOutput, QueuedBuild, RUN_DETAIL_BUDGET,
    Skipped, bound_outcomes, process_updates, shard_detail_budget,
};

#[cfg(test)]
mod tests;
