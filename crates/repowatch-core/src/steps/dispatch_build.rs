//! dispatch-build: per queued BuildRequest, idempotently triggers its target.
//! The key `(datasource, ref, commit, target)` is claimed with a conditional
//! write before the call, marked done after it, and released when the call
//! fails so a retry may proceed. Failures are reported per message
//! (`batchItemFailures`), never by failing the batch.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::StepError;
use crate::ids::{CommitSha, DatasourceId, IdempotencyKey, MessageId, RefName, TargetId};
use crate::model::{BuildRequest, TargetSpec};
use crate::ports::{BuildRecord, BuildStatus, BuildTarget, Catalog, Claim, Clock, Dispatcher, RunLink, StateStore};

/// Extra lease beyond a command's own timeout, for recording its result.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchInput {
    pub messages: Vec<QueueMessage>,
}

/// One delivered build-queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueMessage {
    pub message_id: MessageId,
    /// How many times the queue has delivered this message, this time included.
    pub receive_count: u32,
    pub body: BuildRequest,
}

impl QueueMessage {
    /// One SQS record as a queue message: its `messageId`, its body (a
    /// [`BuildRequest`] as JSON) and the `ApproximateReceiveCount` attribute
    /// (1 when absent or unreadable). `Err` says why the record is not a build
    /// request; the caller reports it as a batch item failure, so SQS retries
    /// it and then parks it in the DLQ (never dropped).
    pub fn decode_sqs_record(
        message_id: Option<&str>,
        body: Option<&str>,
        receive_count: Option<&str>,
    ) -> Result<QueueMessage, String> {
        let body = body.ok_or("no body")?;
        let body = serde_json::from_str::<BuildRequest>(body).map_err(|e| format!("not a build request: {e}"))?;
        let message_id =
            MessageId::parse(message_id.unwrap_or_default()).map_err(|e| format!("not a usable message id: {e}"))?;
        let receive_count = receive_count.and_then(|v| v.parse().ok()).unwrap_or(1);
        Ok(QueueMessage { message_id, receive_count, body })
    }
}

/// `batchItemFailures` is the exact key SQS reads; a wrong key reads as "no
/// failures" and silently deletes the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchOutput {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
    #[serde(default)]
    pub results: Vec<DispatchResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: MessageId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DispatchOutcome {
    /// The target was called and accepted the build.
    Dispatched,
    /// Already dispatched earlier: nothing was called.
    Duplicate,
    /// Another dispatcher holds the key right now: retried later.
    Busy,
    /// The target refused or failed: retried, then parked in the DLQ.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchResult {
    pub message_id: MessageId,
    pub key: IdempotencyKey,
    pub datasource: DatasourceId,
    #[serde(rename = "ref")]
    pub git_ref: RefName,
    pub commit: CommitSha,
    pub target: TargetId,
    pub outcome: DispatchOutcome,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub took_over_from: Option<String>,
    /// The CI run the target started, when it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunLink>,
}

pub async fn dispatch_build(
    input: DispatchInput,
    catalog: &dyn Catalog,
    store: &dyn StateStore,
    target: &dyn BuildTarget,
    clock: &dyn Clock,
    dispatcher: &Dispatcher,
) -> Result<DispatchOutput, StepError> {
    let mut output = DispatchOutput { batch_item_failures: vec![], results: vec![] };
    // Serially: GitHub wants mutating calls ≥1 s apart, and commands share one machine.
    for message in input.messages {
        let result = dispatch_one(&message, catalog, store, target, clock, dispatcher).await;
        if matches!(result.outcome, DispatchOutcome::Busy | DispatchOutcome::Failed) {
            output.batch_item_failures.push(ItemFailure { item_identifier: message.message_id.clone() });
        }
        output.results.push(result);
    }
    Ok(output)
}

async fn dispatch_one(
    message: &QueueMessage,
    catalog: &dyn Catalog,
    store: &dyn StateStore,
    target: &dyn BuildTarget,
    clock: &dyn Clock,
    dispatcher: &Dispatcher,
) -> DispatchResult {
    let req = &message.body;
    let result = |outcome, detail: String| DispatchResult {
        message_id: message.message_id.clone(),
        key: req.key.clone(),
        datasource: req.datasource.clone(),
        git_ref: req.git_ref.clone(),
        commit: req.commit.clone(),
        target: req.target.clone(),
        outcome,
        detail,
        exit_code: None,
        took_over_from: None,
        run: None,
    };
    let expected = IdempotencyKey::derive(&req.datasource, &req.git_ref, &req.commit, &req.target);
    if expected != req.key {
        return result(
            DispatchOutcome::Failed,
            "the message's key does not match its datasource, ref, commit and target".into(),
        );
    }
    let spec = match catalog.target(&req.target).await {
        Ok(Some(spec)) => spec,
        Ok(None) => {
            return result(
                DispatchOutcome::Failed,
                format!(
                    "target {:?} is not configured; add [targets.{}] or redrive after fixing the config",
                    req.target.as_str(),
                    req.target
                ),
            );
        }
        Err(e) => return result(DispatchOutcome::Failed, format!("cannot read the catalog: {}", e.chain())),
    };

    let started_at = clock.now();
    let lease = match &spec {
        TargetSpec::Command { timeout, .. } => dispatcher.lease.max(*timeout + LEASE_MARGIN),
        _ => dispatcher.lease,
    };
    let lease_until = started_at
        .checked_add(jiff::SignedDuration::try_from(lease).unwrap_or(jiff::SignedDuration::MAX))
        .unwrap_or(jiff::Timestamp::MAX);
    let took_over_from = match store.claim(&req.key, &dispatcher.owner, started_at, lease_until).await {
        Ok(Claim::Acquired { taken_over }) => taken_over,
        Ok(Claim::Done { at }) => return result(DispatchOutcome::Duplicate, format!("already dispatched at {at}")),
        Ok(Claim::Held { owner, until }) => {
            return result(DispatchOutcome::Busy, format!("being dispatched by {owner} (lease until {until})"));
        }
        Err(e) => return result(DispatchOutcome::Failed, format!("cannot claim the idempotency key: {}", e.chain())),
    };
    if let Some(previous) = &took_over_from {
        tracing::warn!(key = %req.key, previous = %previous, "took over an abandoned claim; the target may see this build twice (it can dedupe on the key)");
    }

    let call = target.dispatch(&req.target, &spec, req).await;
    let finished_at = clock.now();
    let (status, detail, exit_code, output, run) = match &call {
        Ok(d) => (BuildStatus::Succeeded, d.detail.clone(), d.exit_code, d.output.clone(), d.run.clone()),
        Err(e) => (BuildStatus::Failed, e.detail.clone(), e.exit_code, e.output.clone(), None),
    };
    let record = BuildRecord {
        request: req.clone(),
        message_id: message.message_id.clone(),
        receive_count: message.receive_count,
        started_at,
        finished_at,
        status,
        detail: detail.clone(),
        exit_code,
        output,
        run: run.clone(),
        result: None,
        took_over_from: took_over_from.clone(),
    };
    // Mark done (or release) before recording: the claim is what prevents a duplicate.
    let settle = match status {
        BuildStatus::Succeeded => store.complete(&req.key, &dispatcher.owner, finished_at).await,
        BuildStatus::Failed => store.release(&req.key, &dispatcher.owner).await,
    };
    if let Err(e) = store.record_build(&record).await {
        tracing::error!(key = %req.key, error = %e.chain(), "cannot record the build result");
    }
    let outcome = match (status, settle) {
        (BuildStatus::Succeeded, Ok(())) => DispatchOutcome::Dispatched,
        (BuildStatus::Succeeded, Err(e)) => {
            // The build ran, but the claim is not marked done; the retry will wait
            // for the lease and may dispatch again (receivers dedupe on the key).
            tracing::error!(key = %req.key, error = %e.chain(), "dispatched, but cannot mark the key done");
            DispatchOutcome::Failed
        }
        (BuildStatus::Failed, _) => DispatchOutcome::Failed,
    };
    DispatchResult { exit_code, took_over_from, run, ..result(outcome, detail) }
}
