//! A run's summary is bounded: the Map collects every shard's result into one
//! state, which Step Functions caps at 256 KiB (`States.DataLimitExceeded`
//! fails the execution, and no Catch can take it). Every outcome is listed
//! while they fit; past that the most actionable are, and the rest are
//! counted, so the totals stay exact at any size.

use proptest::prelude::*;

use super::support::*;
use crate::ids::{DatasourceId, MessageId, RefKind};
use crate::model::{BuildRequest, DetectionSource, ErrorInfo, RunInfo};
use crate::steps::list_datasources::SHARD_SIZE;
use crate::steps::notify::{NotifyInput, RunSummary, ShardResult, StatesError, summarize};
use crate::steps::process_updates::{
    MIN_SHARD_DETAIL, Omitted, Outcome, OutcomeStatus, PendingBuild, ProcessOutput, QueuedBuild, RUN_DETAIL_BUDGET,
    Skipped, bound_outcomes, shard_detail_budget,
};

/// Step Functions' limit on a state's input or output, and on an execution's.
const STATE_LIMIT: usize = 256 * 1024;

/// The longest id a datasource may have (`[a-z0-9-]{1,64}`).
fn long_id(i: usize) -> DatasourceId {
    DatasourceId::parse(format!("datasource-{i:053}")).unwrap()
}

fn outcome(id: DatasourceId, status: OutcomeStatus) -> Outcome {
    Outcome { id, status, builds: vec![], pending: vec![], skipped: vec![], error: None }
}

/// `builds` queued builds, as process-updates writes them (SQS message ids are UUIDs).
fn changed(id: DatasourceId, builds: u32) -> Outcome {
    let builds = (0..builds)
        .map(|n| {
            let r = BuildRequest::new(
                id.clone(),
                branch(&format!("release/{n:04}")),
                sha(n + 1),
                RefKind::Branch,
                DetectionSource::Schedule,
                target_id("deploy-to-production"),
                t0(),
                run_id("run-2026-12-03T08-00-00Z"),
            );
            QueuedBuild {
                kind: r.kind,
                git_ref: r.git_ref,
                commit: r.commit,
                target: r.target,
                key: r.key,
                message_id: MessageId::parse("0b6c3f56-9d2e-4c41-8a6e-2f1f3c0e7d11").unwrap(),
            }
        })
        .collect();
    Outcome { builds, ..outcome(id, OutcomeStatus::Changed) }
}

fn errored(id: DatasourceId, message_len: usize) -> Outcome {
    let error = ErrorInfo { name: "Repowatch.SourceUnavailable".into(), message: "GitHub: ".repeat(message_len / 8) };
    Outcome { error: Some(error), ..outcome(id, OutcomeStatus::Error) }
}

fn baseline(id: DatasourceId, tags: u32) -> Outcome {
    let skipped = (0..tags)
        .map(|n| Skipped {
            git_ref: tag(&format!("v{n}.0.0")),
            commit: Some(sha(n + 1)),
            reason: "first sight: recorded as the baseline (set build_on_first_seen = true to build it)".into(),
        })
        .collect();
    Outcome { skipped, ..outcome(id, OutcomeStatus::Baseline) }
}

fn json_len<T: serde::Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).unwrap().len()
}

fn run_of(shards: usize) -> RunInfo {
    RunInfo { shards, ..run_info(DetectionSource::Schedule) }
}

/// What process-updates returns for `outcomes` in a run of `shards` shards.
fn shard_result(run: &RunInfo, outcomes: Vec<Outcome>) -> ShardResult {
    let (datasources, omitted) = bound_outcomes(outcomes, shard_detail_budget(run));
    ShardResult::Processed(ProcessOutput { run: run.clone(), datasources, omitted, github_remaining: Some(4321) })
}

/// The Map state's output, as Step Functions holds it: the list output with
/// `$.shards` replaced by the collected results.
fn map_output(run: &RunInfo, shards: &[ShardResult]) -> serde_json::Value {
    serde_json::json!({ "run": run, "shards": shards })
}

fn summary_of(shards: Vec<ShardResult>) -> RunSummary {
    summarize(NotifyInput { run: None, shards, failure: None, input: None, execution: None })
}

#[test]
fn a_run_of_a_few_hundred_datasources_lists_every_outcome() {
    let run = run_of(3);
    let outcomes: Vec<Outcome> = (0..100)
        .map(|i| match i % 4 {
            0 => changed(long_id(i), 2),
            1 => errored(long_id(i), 200),
            2 => baseline(long_id(i), 3),
            _ => outcome(long_id(i), OutcomeStatus::Unchanged),
        })
        .collect();

    let (listed, omitted) = bound_outcomes(outcomes.clone(), shard_detail_budget(&run));

    assert_eq!(listed, outcomes);
    assert!(omitted.is_empty());
}

#[test]
fn past_its_budget_a_shard_lists_errors_then_changes_then_first_sights() {
    let ids: Vec<DatasourceId> = (0..6).map(long_id).collect();
    let outcomes = vec![
        outcome(ids[0].clone(), OutcomeStatus::Unchanged),
        changed(ids[1].clone(), 1),
        baseline(ids[2].clone(), 1),
        errored(ids[3].clone(), 100),
        outcome(ids[4].clone(), OutcomeStatus::Unchanged),
        changed(ids[5].clone(), 1),
    ];
    let size = |o: &Outcome| json_len(o) + 1;
    // Room for the error (carried twice) and the two changes, not the first
    // sight, even trimmed, nor an unchanged datasource.
    let budget = 2 * size(&outcomes[3]) + size(&outcomes[1]) + size(&outcomes[5]) + 10;

    let (listed, omitted) = bound_outcomes(outcomes.clone(), budget);

    // Listed in their own order (the catalog's), whatever their rank.
    assert_eq!(listed, vec![outcomes[1].clone(), outcomes[3].clone(), outcomes[5].clone()]);
    assert_eq!(omitted, Omitted { unchanged: 2, first_seen: 1, skipped: 1, ..Omitted::default() });
}

#[test]
fn an_outcome_too_big_to_list_whole_is_listed_trimmed() {
    // A first sight of a repository with 2,000 tags: its skipped list alone is ~300 KB.
    let big = baseline(long_id(1), 2_000);
    let mut deferred = changed(long_id(2), 500);
    deferred.pending = vec![PendingBuild { git_ref: branch("main"), commit: sha(9), due_at: t0_plus(10) }];
    let mut failing = errored(long_id(3), 10_000);
    failing.error.as_mut().unwrap().message.push_str("日本語のエラー");

    let (listed, omitted) = bound_outcomes(vec![big, deferred, failing], 8 * 1024);

    assert_eq!(listed.len(), 3, "each is listed, trimmed");
    assert!(listed[0].skipped.is_empty());
    assert_eq!(listed[0].status, OutcomeStatus::Baseline);
    assert!(!listed[1].builds.is_empty() && listed[1].builds.len() < 500, "{}", listed[1].builds.len());
    assert!(listed[1].pending.is_empty());
    let message = &listed[2].error.as_ref().unwrap().message;
    assert!(message.len() <= 304 && message.ends_with('…'), "{message}");
    assert_eq!(
        omitted,
        Omitted { skipped: 2_000, pending: 1, builds: 500 - listed[1].builds.len(), ..Omitted::default() }
    );
    let carried: usize = listed.iter().map(|o| json_len(o) + 1).sum::<usize>() + json_len(&listed[2]) + 1;
    assert!(carried <= 8 * 1024, "{carried}");
}

#[test]
fn a_shard_lists_something_however_many_shards_the_run_has() {
    assert_eq!(shard_detail_budget(&run_of(1)), RUN_DETAIL_BUDGET);
    assert_eq!(shard_detail_budget(&run_of(10)), RUN_DETAIL_BUDGET / 10);
    assert_eq!(shard_detail_budget(&run_of(100_000)), MIN_SHARD_DETAIL);
    // An input from before `shards` existed reads as one shard.
    let old: RunInfo = serde_json::from_value(serde_json::json!({
        "id": "run-1", "source": "schedule", "started_at": "2025-06-01T08:00:00Z"
    }))
    .unwrap();
    assert_eq!(old.shards, 1);
    assert_eq!(serde_json::to_value(&old).unwrap().get("shards"), None, "one shard is not written");
}

/// Worst cases at 10,000 datasources (100 shards of 100, every id 64
/// characters): the Map's output and the execution's output stay under the
/// state limit, and the totals are exact.
#[test]
fn ten_thousand_datasources_fit_the_state_limit_in_the_worst_cases() {
    let shards = 10_000 / SHARD_SIZE;
    let run = run_of(shards);
    let ids = |s: usize| (s * 100..(s + 1) * 100).map(long_id);
    let worlds: Vec<(&str, Vec<ShardResult>, usize)> = vec![
        (
            "every datasource changed, 3 builds each",
            (0..shards).map(|s| shard_result(&run, ids(s).map(|id| changed(id, 3)).collect())).collect(),
            30_000,
        ),
        (
            "every datasource failed, long messages",
            (0..shards).map(|s| shard_result(&run, ids(s).map(|id| errored(id, 2_000)).collect())).collect(),
            0,
        ),
        (
            "first sight of 50 tags each",
            (0..shards).map(|s| shard_result(&run, ids(s).map(|id| baseline(id, 50)).collect())).collect(),
            0,
        ),
        (
            "every shard failed (GitHub down)",
            (0..shards)
                .map(|s| ShardResult::Failed {
                    shard: ids(s).take(10).collect(),
                    shard_size: Some(100),
                    failure: StatesError { error: "States.TaskFailed".into(), cause: "x".repeat(1_000) },
                })
                .collect(),
            0,
        ),
    ];
    for (name, results, builds) in worlds {
        let map = json_len(&map_output(&run, &results));
        assert!(map < STATE_LIMIT, "{name}: the Map's output is {map} bytes");
        let summary = summary_of(results);
        let out = json_len(&summary);
        assert!(out < STATE_LIMIT, "{name}: the run summary is {out} bytes");
        assert_eq!(summary.totals.datasources, 10_000, "{name}");
        assert_eq!(summary.totals.builds_queued, builds, "{name}");
    }
}

fn any_outcome() -> impl Strategy<Value = Outcome> {
    (0usize..64, 0u8..4, 0u32..6, 0usize..3_000, 0u32..40).prop_map(|(i, kind, builds, message, tags)| match kind {
        0 => outcome(long_id(i), OutcomeStatus::Unchanged),
        1 => changed(long_id(i), builds),
        2 => errored(long_id(i), message),
        _ => baseline(long_id(i), tags),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the outcomes and the budget: the totals and the status of the
    /// run are those of the unbounded run, what is listed fits the budget
    /// (an error twice), and each listed outcome is one of the shard's own,
    /// in order, whole or trimmed.
    #[test]
    fn bounding_keeps_the_totals_exact(
        shards in proptest::collection::vec(proptest::collection::vec(any_outcome(), 0..30), 1..4),
        budget in 0usize..20_000,
    ) {
        let full: Vec<ShardResult> = shards.iter().map(|o| ShardResult::Processed(ProcessOutput {
            run: run_info(DetectionSource::Schedule), datasources: o.clone(), omitted: Omitted::default(), github_remaining: None,
        })).collect();
        let bounded: Vec<ShardResult> = shards.iter().map(|o| {
            let (datasources, omitted) = bound_outcomes(o.clone(), budget);
            let carried: usize = datasources.iter().map(|d| (json_len(d) + 1) * if d.error.is_some() { 2 } else { 1 }).sum();
            prop_assert!(carried <= budget, "{} > {}", carried, budget);
            let mut rest = o.iter();
            for d in &datasources {
                prop_assert!(rest.any(|x| x.id == d.id && x.status == d.status), "{} out of order or not the shard's", d.id);
            }
            Ok(ShardResult::Processed(ProcessOutput {
                run: run_info(DetectionSource::Schedule), datasources, omitted, github_remaining: None,
            }))
        }).collect::<Result<_, _>>()?;
        let (full, bounded) = (summary_of(full), summary_of(bounded));
        prop_assert_eq!(&bounded.totals, &full.totals);
        prop_assert_eq!(bounded.status, full.status);
    }
}
