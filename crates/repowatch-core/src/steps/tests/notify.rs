//! notify: shard results → run summary → configured channels.

use super::support::*;
use crate::error::StepError;
use crate::fakes::RecordingNotifier;
use crate::ids::{MessageId, RefKind};
use crate::model::{BuildRequest, DetectionSource, ErrorInfo};
use crate::steps::notify::{
    Notification, NotifyEvent, NotifyInput, RunFailure, RunStatus, RunSummary, ShardResult, StatesError, Totals,
    notify, summarize,
};
use crate::steps::process_updates::{Omitted, Outcome, OutcomeStatus, PendingBuild, ProcessOutput, QueuedBuild};

fn outcome(id: &str, status: OutcomeStatus) -> Outcome {
    Outcome { id: ds_id(id), status, builds: vec![], pending: vec![], skipped: vec![], error: None }
}

/// `id` changed and queued one build of `main`.
fn built(id: &str) -> Outcome {
    let r = BuildRequest::new(
        ds_id(id),
        branch("main"),
        sha(1),
        RefKind::Branch,
        DetectionSource::Schedule,
        target_id("deploy"),
        t0(),
        run_id("run-1"),
    );
    let build = QueuedBuild {
        kind: r.kind,
        git_ref: r.git_ref,
        commit: r.commit,
        target: r.target,
        key: r.key,
        message_id: MessageId::parse("m1").unwrap(),
    };
    Outcome { builds: vec![build], ..outcome(id, OutcomeStatus::Changed) }
}

fn deferred(id: &str) -> Outcome {
    let pending = PendingBuild { git_ref: branch("main"), commit: sha(2), due_at: t0_plus(10) };
    Outcome { pending: vec![pending], ..outcome(id, OutcomeStatus::Changed) }
}

fn errored(id: &str) -> Outcome {
    let error = ErrorInfo { name: StepError::SOURCE_UNAVAILABLE.into(), message: "GitHub answered 502".into() };
    Outcome { error: Some(error), ..outcome(id, OutcomeStatus::Error) }
}

fn processed(outcomes: Vec<Outcome>) -> ShardResult {
    ShardResult::Processed(ProcessOutput {
        run: run_info(DetectionSource::Schedule),
        datasources: outcomes,
        omitted: Omitted::default(),
        github_remaining: None,
    })
}

fn shard_failed(ids: &[&str]) -> ShardResult {
    ShardResult::Failed {
        shard: ids.iter().map(|id| ds_id(id)).collect(),
        shard_size: None,
        failure: StatesError { error: "States.TaskFailed".into(), cause: "detect-updates timed out".into() },
    }
}

fn input(shards: Vec<ShardResult>) -> NotifyInput {
    NotifyInput { run: None, shards, failure: None, input: None, execution: None }
}

fn totals(datasources: usize, changed: usize, builds_queued: usize, pending: usize, errors: usize) -> Totals {
    Totals { datasources, first_seen: 0, changed, builds_queued, pending, errors }
}

fn notifier(channels: &[&str]) -> RecordingNotifier {
    RecordingNotifier { channels: channels.iter().map(|c| (*c).to_owned()).collect(), ..Default::default() }
}

#[test]
fn every_datasource_processed_is_ok() {
    let s = summarize(input(vec![
        processed(vec![built("api"), outcome("web", OutcomeStatus::Unchanged)]),
        processed(vec![deferred("docs")]),
    ]));

    assert_eq!(
        s,
        RunSummary {
            run: Some(run_info(DetectionSource::Schedule)),
            status: RunStatus::Ok,
            totals: totals(3, 2, 1, 1, 0),
            datasources: vec![built("api"), outcome("web", OutcomeStatus::Unchanged), deferred("docs")],
            omitted: Omitted::default(),
            failures: vec![],
            notified: vec![],
            github_remaining: None,
        }
    );
}

#[test]
fn a_caught_shard_failure_makes_the_run_partial() {
    // Promise 4: one bad shard never fails the run; it is in the summary.
    let s = summarize(input(vec![processed(vec![built("api")]), shard_failed(&["b1", "b2"])]));

    assert_eq!(s.status, RunStatus::Partial);
    assert_eq!(s.totals, totals(3, 1, 1, 0, 1));
    assert_eq!(
        s.failures,
        vec![RunFailure {
            stage: "shard".into(),
            datasources: vec![ds_id("b1"), ds_id("b2")],
            more: 0,
            error: ErrorInfo { name: "States.TaskFailed".into(), message: "detect-updates timed out".into() },
        }]
    );
}

#[test]
fn a_failing_datasource_makes_the_run_partial() {
    // Promise 4: its error is in the run summary; the others proceed.
    let s = summarize(input(vec![processed(vec![errored("bad"), outcome("web", OutcomeStatus::Unchanged)])]));

    assert_eq!(s.status, RunStatus::Partial);
    assert_eq!(s.totals, totals(2, 0, 0, 0, 1));
    assert_eq!(
        s.failures,
        vec![RunFailure {
            stage: "datasource".into(),
            datasources: vec![ds_id("bad")],
            more: 0,
            error: ErrorInfo { name: "Repowatch.SourceUnavailable".into(), message: "GitHub answered 502".into() },
        }]
    );
}

#[test]
fn nothing_processed_is_failed() {
    let only_errors = summarize(input(vec![processed(vec![errored("a")]), shard_failed(&["b"])]));
    assert_eq!(only_errors.status, RunStatus::Failed);
    assert_eq!(only_errors.totals, totals(2, 0, 0, 0, 2));

    let only_shard_failures = summarize(input(vec![shard_failed(&["a", "b"])]));
    assert_eq!(only_shard_failures.status, RunStatus::Failed);
    assert_eq!(only_shard_failures.run, None);
}

#[test]
fn a_stage_failure_before_the_run_existed_is_failed() {
    let failure = StatesError {
        error: "Repowatch.ConfigError".into(),
        cause: "configuration: no datasource has id \"apii\"; configured: api, web".into(),
    };
    let s = summarize(NotifyInput {
        run: None,
        shards: vec![],
        failure: Some(failure),
        input: Some(serde_json::json!({ "source": "webhook", "datasource": "apii" })),
        execution: Some("exec-1".into()),
    });

    assert_eq!(
        s,
        RunSummary {
            run: None,
            status: RunStatus::Failed,
            totals: totals(0, 0, 0, 0, 1),
            datasources: vec![],
            omitted: Omitted::default(),
            failures: vec![RunFailure {
                stage: "list-datasources".into(),
                datasources: vec![],
                more: 0,
                error: ErrorInfo {
                    name: "Repowatch.ConfigError".into(),
                    message: "configuration: no datasource has id \"apii\"; configured: api, web".into()
                },
            }],
            notified: vec![],
            github_remaining: None,
        }
    );
}

#[test]
fn a_map_failure_after_the_run_existed_is_the_map_stage() {
    let s = summarize(NotifyInput {
        run: Some(run_info(DetectionSource::Schedule)),
        failure: Some(StatesError { error: "States.Runtime".into(), cause: "boom".into() }),
        ..input(vec![])
    });

    assert_eq!(s.status, RunStatus::Failed);
    assert_eq!(s.failures[0].stage, "map");
}

#[tokio::test]
async fn channels_receive_summary_build_and_failure_events() {
    // Promise 4: the bad datasource's error is in the notification.
    let n = notifier(&["discord", "slack"]);

    let summary = notify(input(vec![processed(vec![built("api"), errored("bad")])]), &n).await.unwrap();

    assert_eq!(summary.notified, ["discord", "slack"]);
    assert_eq!(summary.status, RunStatus::Partial);
    let sent = n.sent.lock().unwrap().clone();
    assert_eq!(
        sent,
        vec![Notification {
            events: vec![NotifyEvent::Summary, NotifyEvent::Build, NotifyEvent::Failure],
            summary: RunSummary { notified: vec![], ..summary }
        }]
    );
}

#[tokio::test]
async fn a_quiet_run_sends_only_the_summary_event() {
    let n = notifier(&["discord"]);

    notify(input(vec![processed(vec![outcome("api", OutcomeStatus::Unchanged), deferred("web")])]), &n).await.unwrap();

    let events: Vec<Vec<NotifyEvent>> = n.sent.lock().unwrap().iter().map(|s| s.events.clone()).collect();
    assert_eq!(events, [vec![NotifyEvent::Summary]]);
}

#[tokio::test]
async fn a_failure_without_builds_sends_summary_and_failure() {
    let n = notifier(&["discord"]);

    notify(input(vec![shard_failed(&["a"])]), &n).await.unwrap();

    let events: Vec<Vec<NotifyEvent>> = n.sent.lock().unwrap().iter().map(|s| s.events.clone()).collect();
    assert_eq!(events, [vec![NotifyEvent::Summary, NotifyEvent::Failure]]);
}

#[tokio::test]
async fn a_refusing_channel_fails_the_step() {
    // notify's contract: a notification is never silently lost (the execution fails, the alarm fires).
    let n = notifier(&["discord"]);
    *n.fail_with.lock().unwrap() = Some("discord answered 500".into());

    let err = notify(input(vec![processed(vec![built("api")])]), &n).await.unwrap_err();

    assert!(matches!(err, StepError::Notify(_)), "{err:?}");
    assert_eq!(err.error_name(), "Repowatch.NotifyFailed");
    assert!(StepError::RETRYABLE_NAMES.contains(&err.error_name()));
    assert_eq!(err.cause(), "notification failed: discord answered 500");
}

#[tokio::test]
async fn no_channels_sends_nothing() {
    let n = notifier(&[]);
    *n.fail_with.lock().unwrap() = Some("must not be called".into());

    let summary = notify(input(vec![processed(vec![built("api")])]), &n).await.unwrap();

    assert_eq!(summary.notified, Vec::<String>::new());
    assert_eq!(summary.totals, totals(1, 1, 1, 0, 0));
    assert!(n.sent.lock().unwrap().is_empty());
}

#[test]
fn the_summary_keeps_the_least_github_budget_any_shard_saw() {
    let shard = |left: Option<u64>| {
        ShardResult::Processed(ProcessOutput {
            run: run_info(DetectionSource::Schedule),
            datasources: vec![outcome("api", OutcomeStatus::Unchanged)],
            omitted: Omitted::default(),
            github_remaining: left,
        })
    };
    let input = |shards| NotifyInput { run: None, shards, failure: None, input: None, execution: None };
    assert_eq!(summarize(input(vec![shard(Some(4800)), shard(None), shard(Some(4650))])).github_remaining, Some(4650));
    assert_eq!(summarize(input(vec![shard(None)])).github_remaining, None);
}
