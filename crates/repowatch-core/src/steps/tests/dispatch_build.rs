//! dispatch-build: claim the idempotency key, call the target, mark it done
//! (or release it on failure); report failures per message.

use std::time::Duration;

use serde_json::json;

use super::support::*;
use crate::catalog::StaticCatalog;
use crate::fakes::{ManualClock, MemoryStateStore, RecordingBuildTarget};
use crate::ids::{MessageId, RefKind};
use crate::model::{BuildRequest, DetectionSource};
use crate::ports::{BuildStatus, Dispatcher, StateStore};
use crate::steps::dispatch_build::{
    DispatchInput, DispatchOutcome, DispatchOutput, DispatchResult, ItemFailure, QueueMessage, dispatch_build,
};

struct World {
    catalog: StaticCatalog,
    store: MemoryStateStore,
    target: RecordingBuildTarget,
    clock: ManualClock,
    dispatcher: Dispatcher,
}

impl World {
    fn new() -> Self {
        Self {
            catalog: catalog(vec![api("api")], &["deploy"]),
            store: MemoryStateStore::default(),
            target: RecordingBuildTarget::default(),
            clock: ManualClock::new(t0()),
            dispatcher: Dispatcher { owner: "worker-1".into(), lease: Duration::from_secs(300) },
        }
    }

    async fn dispatch(&self, messages: Vec<QueueMessage>) -> DispatchOutput {
        dispatch_build(
            DispatchInput { messages },
            &self.catalog,
            &self.store,
            &self.target,
            &self.clock,
            &self.dispatcher,
        )
        .await
        .unwrap()
    }

    fn dispatched(&self) -> Vec<BuildRequest> {
        self.target.dispatched.lock().unwrap().iter().map(|(_, r)| r.clone()).collect()
    }
}

fn request(target: &str) -> BuildRequest {
    BuildRequest::new(
        ds_id("api"),
        branch("main"),
        sha(1),
        RefKind::Branch,
        DetectionSource::Schedule,
        target_id(target),
        t0(),
        run_id("run-1"),
    )
}

fn message(id: &str, receive_count: u32, body: BuildRequest) -> QueueMessage {
    QueueMessage { message_id: MessageId::parse(id).unwrap(), receive_count, body }
}

fn failures(ids: &[&str]) -> Vec<ItemFailure> {
    ids.iter().map(|id| ItemFailure { item_identifier: MessageId::parse(*id).unwrap() }).collect()
}

/// The result for `message` with `outcome` and `detail`, nothing else set.
fn result(message: &QueueMessage, outcome: DispatchOutcome, detail: &str) -> DispatchResult {
    let r = &message.body;
    DispatchResult {
        message_id: message.message_id.clone(),
        key: r.key.clone(),
        datasource: r.datasource.clone(),
        git_ref: r.git_ref.clone(),
        commit: r.commit.clone(),
        target: r.target.clone(),
        outcome,
        detail: detail.into(),
        exit_code: None,
        took_over_from: None,
        run: None,
    }
}

fn dispatched_ok(message: &QueueMessage) -> DispatchResult {
    DispatchResult { exit_code: Some(0), ..result(message, DispatchOutcome::Dispatched, "ok") }
}

#[tokio::test]
async fn a_request_is_dispatched_once_and_recorded() {
    let w = World::new();
    let m = message("m1", 1, request("deploy"));

    let out = w.dispatch(vec![m.clone()]).await;

    assert_eq!(out, DispatchOutput { batch_item_failures: vec![], results: vec![dispatched_ok(&m)] });
    assert_eq!(w.dispatched(), vec![m.body.clone()]);
    let [record] = <[_; 1]>::try_from(w.store.builds()).unwrap();
    assert_eq!(record.request, m.body);
    assert_eq!(record.message_id, m.message_id);
    assert_eq!(record.status, BuildStatus::Succeeded);
    assert_eq!((record.started_at, record.finished_at), (t0(), t0()));
    assert_eq!(record.took_over_from, None);
}

#[tokio::test]
async fn the_same_request_delivered_twice_is_dispatched_once() {
    // Promise 2: no build is dispatched twice.
    let w = World::new();
    let first = message("m1", 1, request("deploy"));
    w.dispatch(vec![first.clone()]).await;
    w.clock.advance(mins(1));

    // Redelivered, and enqueued a second time by a re-run of process-updates.
    let redelivered = message("m1", 2, request("deploy"));
    let requeued = message("m2", 1, request("deploy"));
    let out = w.dispatch(vec![redelivered.clone(), requeued.clone()]).await;

    let detail = format!("already dispatched at {}", t0());
    assert_eq!(
        out,
        DispatchOutput {
            batch_item_failures: vec![],
            results: vec![
                result(&redelivered, DispatchOutcome::Duplicate, &detail),
                result(&requeued, DispatchOutcome::Duplicate, &detail)
            ],
        }
    );
    assert_eq!(w.dispatched(), vec![first.body]);
    assert_eq!(w.store.builds().len(), 1);
}

#[tokio::test]
async fn a_failing_target_releases_the_claim_so_a_retry_dispatches() {
    // Promise 2: the key is released when the call fails, so a retry may proceed.
    let w = World::new();
    w.target.failing.lock().unwrap().push(target_id("deploy"));
    let m = message("m1", 1, request("deploy"));

    let out = w.dispatch(vec![m.clone()]).await;

    assert_eq!(
        out,
        DispatchOutput {
            batch_item_failures: failures(&["m1"]),
            results: vec![DispatchResult {
                exit_code: Some(1),
                ..result(&m, DispatchOutcome::Failed, "exit status 1")
            }],
        }
    );
    assert_eq!(w.store.builds()[0].status, BuildStatus::Failed);

    w.target.failing.lock().unwrap().clear();
    let retry = message("m1", 2, request("deploy"));
    let out = w.dispatch(vec![retry.clone()]).await;

    assert_eq!(out, DispatchOutput { batch_item_failures: vec![], results: vec![dispatched_ok(&retry)] });
    assert_eq!(w.dispatched(), vec![m.body.clone(), m.body]);
    let statuses: Vec<(BuildStatus, u32)> = w.store.builds().iter().map(|b| (b.status, b.receive_count)).collect();
    assert_eq!(statuses, [(BuildStatus::Failed, 1), (BuildStatus::Succeeded, 2)]);
}

#[tokio::test]
async fn a_key_held_by_another_live_dispatcher_is_busy() {
    // Promise 2: the conditional claim keeps a second dispatcher out.
    let w = World::new();
    let m = message("m1", 1, request("deploy"));
    w.store.claim(&m.body.key, "worker-2", t0(), t0_plus(5)).await.unwrap();

    let out = w.dispatch(vec![m.clone()]).await;

    let detail = format!("being dispatched by worker-2 (lease until {})", t0_plus(5));
    assert_eq!(
        out,
        DispatchOutput {
            batch_item_failures: failures(&["m1"]),
            results: vec![result(&m, DispatchOutcome::Busy, &detail)]
        }
    );
    assert_eq!(w.dispatched(), vec![]);
    assert_eq!(w.store.builds(), vec![]);
}

#[tokio::test]
async fn an_expired_claim_is_taken_over_and_says_from_whom() {
    // Promise 2's documented window: the previous holder may have dispatched already.
    let w = World::new();
    let m = message("m1", 3, request("deploy"));
    w.store.claim(&m.body.key, "worker-2", t0_plus(-10), t0_plus(-5)).await.unwrap();

    let out = w.dispatch(vec![m.clone()]).await;

    assert_eq!(
        out,
        DispatchOutput {
            batch_item_failures: vec![],
            results: vec![DispatchResult { took_over_from: Some("worker-2".into()), ..dispatched_ok(&m) }],
        }
    );
    assert_eq!(w.dispatched(), vec![m.body]);
    assert_eq!(w.store.builds()[0].took_over_from.as_deref(), Some("worker-2"));
}

#[tokio::test]
async fn a_key_that_does_not_match_its_fields_is_refused() {
    // Promise 6: bad queue messages get a clear error; promise 2 keys must be honest.
    let w = World::new();
    let mut body = request("deploy");
    body.commit = sha(2); // the key is still that of commit 1
    let m = message("m1", 1, body);

    let out = w.dispatch(vec![m.clone()]).await;

    assert_eq!(
        out,
        DispatchOutput {
            batch_item_failures: failures(&["m1"]),
            results: vec![result(
                &m,
                DispatchOutcome::Failed,
                "the message's key does not match its datasource, ref, commit and target"
            )],
        }
    );
    assert_eq!(w.dispatched(), vec![]);

    // Nothing was claimed: the honest message for commit 1 still dispatches.
    let honest = message("m2", 1, request("deploy"));
    assert_eq!(w.dispatch(vec![honest.clone()]).await.results, vec![dispatched_ok(&honest)]);
}

#[tokio::test]
async fn an_unknown_target_fails_naming_it() {
    // Promise 6: the error names the field and what to do.
    let w = World::new();
    let m = message("m1", 1, request("nope"));

    let out = w.dispatch(vec![m.clone()]).await;

    assert_eq!(
        out,
        DispatchOutput {
            batch_item_failures: failures(&["m1"]),
            results: vec![result(
                &m,
                DispatchOutcome::Failed,
                "target \"nope\" is not configured; add [targets.nope] or redrive after fixing the config"
            )],
        }
    );
    assert_eq!(w.dispatched(), vec![]);
}

#[tokio::test]
async fn one_failing_message_does_not_fail_the_batch() {
    let w = World::new();
    let bad = message("m1", 1, request("nope"));
    let good = message("m2", 1, request("deploy"));

    let out = w.dispatch(vec![bad.clone(), good.clone()]).await;

    assert_eq!(out.batch_item_failures, failures(&["m1"]));
    assert_eq!(
        out.results.iter().map(|r| r.outcome).collect::<Vec<_>>(),
        [DispatchOutcome::Failed, DispatchOutcome::Dispatched]
    );
    assert_eq!(w.dispatched(), vec![good.body]);
}

#[tokio::test]
async fn batch_item_failures_use_the_exact_keys_sqs_reads() {
    // A wrong key reads as "no failures" and SQS deletes the whole batch.
    let w = World::new();
    let out = w.dispatch(vec![message("m1", 1, request("nope"))]).await;

    let value = serde_json::to_value(&out).unwrap();

    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["batchItemFailures", "results"]);
    assert_eq!(value["batchItemFailures"], json!([{ "itemIdentifier": "m1" }]));
    let ok = DispatchOutput { batch_item_failures: vec![], results: vec![] };
    assert_eq!(serde_json::to_value(&ok).unwrap(), json!({ "batchItemFailures": [], "results": [] }));
}
