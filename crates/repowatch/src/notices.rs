//! Notifications about builds on this machine: each dispatch as the worker
//! makes it (a `command` target's success is its result; a GitHub or webhook
//! target's is the start of its run), and the build requests the queue
//! parked in the dead-letter queue since this process started — what the
//! DLQ-depth alarm reports on AWS.

use std::collections::BTreeSet;

use jiff::Timestamp;
use repowatch_core::steps::{DispatchOutcome, DispatchResult};
use repowatch_core::{MessageId, TargetSpec};
use repowatch_notify::{BuildInfo, Message, ParkedItem};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::App;

/// Sends a message per dispatched build until every sender is dropped.
pub fn spawn(app: &App) -> (mpsc::UnboundedSender<DispatchResult>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<DispatchResult>();
    let notifiers = app.notifiers.clone();
    let commands: BTreeSet<_> = app
        .config
        .targets
        .iter()
        .filter(|(_, t)| matches!(t, TargetSpec::Command { .. }))
        .map(|(id, _)| id.clone())
        .collect();
    let task = tokio::spawn(async move {
        while let Some(result) = rx.recv().await {
            if result.outcome != DispatchOutcome::Dispatched || notifiers.is_empty() {
                continue;
            }
            let build = BuildInfo::from(&result);
            // A command target ran to completion inside the dispatch.
            let message = if commands.contains(&result.target) {
                Message::BuildFinished { build, conclusion: "success".into() }
            } else {
                Message::BuildDispatched { build }
            };
            notifiers.send(&message).await; // failures are logged by channel inside
        }
    });
    (tx, task)
}

/// Tells people about build requests parked since `since` that `seen` does
/// not hold yet (and adds them to it).
pub async fn parked(app: &App, since: Timestamp, seen: &mut BTreeSet<MessageId>) {
    if app.notifiers.is_empty() {
        return;
    }
    let entries = match app.queue.dlq_list().await {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(error = %e.chain(), "cannot read the dead-letter queue for notifications");
            return;
        }
    };
    let fresh: Vec<_> =
        entries.into_iter().filter(|e| e.moved_at >= since && seen.insert(e.message_id.clone())).collect();
    if fresh.is_empty() {
        return;
    }
    let total = fresh.len();
    let items = fresh
        .iter()
        .filter_map(|e| {
            let request = e.request().ok()?;
            Some(ParkedItem {
                datasource: request.datasource,
                git_ref: request.git_ref,
                target: request.target,
                receive_count: e.receive_count,
                error: e.last_error.clone().unwrap_or_default(),
            })
        })
        .collect();
    app.notifiers.send(&Message::Parked { items, total }).await;
}

/// A GitHub run one of our builds started has completed (`workflow_run`).
pub async fn run_finished(app: &App, report: &repowatch_core::steps::WorkflowRunReport) {
    if app.notifiers.is_empty() {
        return;
    }
    let build = match app.store.build_for_run(report.run_id).await {
        Ok(Some(b)) => b,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e.chain(), "cannot read the build of a finished run");
            return;
        }
    };
    app.notifiers.send(&Message::run_finished(&build, report)).await;
}
