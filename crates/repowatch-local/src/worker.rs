//! The local worker: what the SQS event source mapping does on AWS. It
//! receives build-queue messages one at a time, hands each to dispatch-build,
//! deletes the ones that were dispatched (or were duplicates) and makes the
//! failed ones visible again; after [`MAX_RECEIVES`](crate::MAX_RECEIVES)
//! receives the queue parks a message in the dead-letter queue.

use std::future::Future;
use std::time::Duration;

use repowatch_core::PortError;
use repowatch_core::steps::{self, DispatchInput, DispatchOutcome, DispatchResult};

use crate::engine::Ports;
use crate::store::{Owner, SqliteBuildQueue};

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Stop when no message is visible, instead of polling for more.
    pub once: bool,
    /// Sleep between polls of an empty queue.
    pub poll: Duration,
    /// How long a received message stays invisible to other workers. A worker
    /// that dies releases its messages at once (see [`Owner`]); this bounds the
    /// wait when the worker is alive but stuck.
    pub visibility: Duration,
    /// Keep every result in the report (a long-running worker does not).
    pub keep_results: bool,
    /// Each result as it happens (the CLI turns them into notifications). A
    /// receiver that went away is ignored: notifying never stops dispatching.
    pub events: Option<tokio::sync::mpsc::UnboundedSender<DispatchResult>>,
}

/// What a worker did before it stopped.
#[derive(Debug, Default, serde::Serialize)]
pub struct WorkReport {
    pub results: Vec<DispatchResult>,
}

impl WorkReport {
    pub fn count(&self, outcome: DispatchOutcome) -> usize {
        self.results.iter().filter(|r| r.outcome == outcome).count()
    }
}

/// Works until the queue is empty (`once`) or `shutdown` completes. A message
/// being dispatched when shutdown comes is finished first.
pub async fn work(
    queue: &SqliteBuildQueue,
    ports: &Ports,
    owner: &Owner,
    options: &WorkerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<WorkReport, PortError> {
    debug_assert_eq!(ports.dispatcher.owner, owner.as_str(), "claims must be held by the worker's owner id");
    let mut report = WorkReport::default();
    tokio::pin!(shutdown);
    loop {
        let received = tokio::select! {
            biased;
            () = &mut shutdown => break,
            r = queue.receive(owner, 1, options.visibility) => r?,
        };
        if received.is_empty() {
            if options.once {
                break;
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(options.poll) => continue,
            }
        }
        for message in received {
            let input = DispatchInput { messages: vec![message.to_queue_message()] };
            let output = steps::dispatch_build(
                input,
                &*ports.catalog,
                &*ports.store,
                &*ports.target,
                &*ports.clock,
                &ports.dispatcher,
            )
            .await
            .map_err(|e| PortError::new(e.cause()))?;
            for result in output.results {
                match result.outcome {
                    // Busy: another live dispatcher holds the key for its own copy of
                    // this request, which stays queued until it is done; this copy
                    // is redundant.
                    DispatchOutcome::Dispatched | DispatchOutcome::Duplicate | DispatchOutcome::Busy => {
                        queue.delete(&result.message_id, owner).await?;
                    }
                    DispatchOutcome::Failed => {
                        queue.retry(&result.message_id, owner, &result.detail).await?;
                    }
                }
                tracing::info!(key = %result.key, outcome = ?result.outcome, detail = %result.detail, "build message handled");
                if let Some(events) = &options.events {
                    let _ = events.send(result.clone());
                }
                if options.keep_results {
                    report.results.push(result);
                }
            }
        }
    }
    queue.release_owner(owner).await?;
    Ok(report)
}
