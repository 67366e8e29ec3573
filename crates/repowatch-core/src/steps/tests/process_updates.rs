//! process-updates: rules → BuildRequests → enqueue → THEN commit state.

use std::collections::BTreeMap;

use super::support::*;
use crate::catalog::StaticCatalog;
use crate::fakes::{ManualClock, MemoryBuildQueue, MemoryRefSource, MemoryStateStore};
use crate::ids::{DatasourceId, IdempotencyKey, MessageId, RefKind, RefName};
use crate::model::{BuildRequest, Datasource, DetectionSource, ErrorInfo, Pending, RefState};
use crate::ports::StateStore;
use crate::steps::detect_updates::{DetectInput, DetectOutput, Detected, detect_updates};
use crate::steps::process_updates::{
    Outcome, OutcomeStatus, PendingBuild, ProcessOutput, QueuedBuild, Skipped, process_updates,
};

const BASELINE_HINT: &str = "first sight: recorded as the baseline (set build_on_first_seen = true to build it)";

/// Every port of process-updates, faked, plus detect-updates to feed it.
struct World {
    catalog: StaticCatalog,
    store: MemoryStateStore,
    queue: MemoryBuildQueue,
    refs: MemoryRefSource,
    clock: ManualClock,
    source: DetectionSource,
}

impl World {
    fn new(datasources: Vec<Datasource>) -> Self {
        Self {
            catalog: catalog(datasources, &["deploy", "gpu"]),
            store: MemoryStateStore::default(),
            queue: MemoryBuildQueue::default(),
            refs: MemoryRefSource::default(),
            clock: ManualClock::new(t0()),
            source: DetectionSource::Schedule,
        }
    }

    fn set_main(&self, id: &str, commit: u32) {
        self.refs.set(&ds_id(id), vec![(RefKind::Branch, "refs/heads/main", &sha(commit))]);
    }

    async fn detect(&self, ids: &[&str]) -> DetectOutput {
        let input = DetectInput { run: run_info(self.source), datasources: ids.iter().map(|id| ds_id(id)).collect() };
        detect_updates(input, &self.catalog, &self.store, &self.refs).await.unwrap()
    }

    async fn process(&self, detected: DetectOutput) -> ProcessOutput {
        process_updates(detected, &self.catalog, &self.store, &self.queue, &self.refs, &self.clock).await.unwrap()
    }

    /// One detect + process for `id`; the outcome of that datasource.
    async fn run(&self, id: &str) -> Outcome {
        let out = self.process(self.detect(&[id]).await).await;
        assert_eq!(out.run, run_info(self.source));
        let [one] = <[Outcome; 1]>::try_from(out.datasources).unwrap();
        one
    }

    async fn state(&self, id: &str) -> Option<Vec<RefState>> {
        self.store.load_refs(&ds_id(id)).await.unwrap()
    }

    fn queued(&self) -> Vec<BuildRequest> {
        self.queue.messages().into_iter().map(|(_, r)| r).collect()
    }
}

fn outcome(id: &str, status: OutcomeStatus) -> Outcome {
    Outcome { id: ds_id(id), status, builds: vec![], pending: vec![], skipped: vec![], error: None }
}

fn request(
    id: &str,
    name: RefName,
    kind: RefKind,
    commit: u32,
    target: &str,
    detected_at: jiff::Timestamp,
) -> BuildRequest {
    BuildRequest::new(
        ds_id(id),
        name,
        sha(commit),
        kind,
        DetectionSource::Schedule,
        target_id(target),
        detected_at,
        run_id("run-1"),
    )
}

fn queued(r: &BuildRequest, message_id: &str) -> QueuedBuild {
    QueuedBuild {
        kind: r.kind,
        git_ref: r.git_ref.clone(),
        commit: r.commit.clone(),
        target: r.target.clone(),
        key: r.key.clone(),
        message_id: MessageId::parse(message_id).unwrap(),
    }
}

fn main_at(commit: u32, observed_at: jiff::Timestamp, pending: Option<Pending>) -> RefState {
    RefState { kind: RefKind::Branch, name: branch("main"), commit: sha(commit), observed_at, pending }
}

fn skipped(name: RefName, commit: Option<u32>, reason: &str) -> Skipped {
    Skipped { git_ref: name, commit: commit.map(sha), reason: reason.into() }
}

#[tokio::test]
async fn first_sight_commits_the_baseline_and_queues_nothing() {
    // DESIGN "Configuration": on first sight nothing is built unless build_on_first_seen.
    let w = World::new(vec![api("api")]);
    w.refs.set(
        &ds_id("api"),
        vec![(RefKind::Branch, "refs/heads/main", &sha(1)), (RefKind::Tag, "refs/tags/v1", &sha(2))],
    );

    let got = w.run("api").await;

    assert_eq!(
        got,
        Outcome {
            skipped: vec![skipped(branch("main"), Some(1), BASELINE_HINT), skipped(tag("v1"), Some(2), BASELINE_HINT)],
            ..outcome("api", OutcomeStatus::Baseline)
        }
    );
    assert_eq!(w.queued(), vec![]);
    assert_eq!(
        w.state("api").await,
        Some(vec![main_at(1, t0(), None), ref_state(RefKind::Tag, tag("v1"), sha(2), t0())])
    );
}

#[tokio::test]
async fn an_empty_repository_is_still_marked_seen() {
    let w = World::new(vec![api("api")]);
    w.refs.set(&ds_id("api"), vec![]);

    assert_eq!(w.run("api").await, outcome("api", OutcomeStatus::Baseline));
    assert_eq!(w.state("api").await, Some(vec![]));

    // Its first ref is then an update, not a second baseline.
    w.set_main("api", 1);
    let got = w.run("api").await;
    let r = request("api", branch("main"), RefKind::Branch, 1, "deploy", t0());
    assert_eq!(got, Outcome { builds: vec![queued(&r, "m1")], ..outcome("api", OutcomeStatus::Changed) });
}

#[tokio::test]
async fn build_on_first_seen_queues_one_request_per_target() {
    let mut ds = datasource("api", &["branch:main"], &["deploy", "gpu"]);
    ds.build_on_first_seen = true;
    let w = World::new(vec![ds]);
    w.set_main("api", 1);

    let got = w.run("api").await;

    let deploy = request("api", branch("main"), RefKind::Branch, 1, "deploy", t0());
    let gpu = request("api", branch("main"), RefKind::Branch, 1, "gpu", t0());
    assert_eq!(
        got,
        Outcome { builds: vec![queued(&deploy, "m1"), queued(&gpu, "m2")], ..outcome("api", OutcomeStatus::Baseline) }
    );
    assert_eq!(w.queued(), vec![deploy.clone(), gpu.clone()]);
    // Promise 2: the key is (datasource, ref, commit, target).
    assert_eq!(deploy.key, IdempotencyKey::derive(&ds_id("api"), &branch("main"), &sha(1), &target_id("deploy")));
    assert_ne!(deploy.key, gpu.key);
    let env: BTreeMap<&str, &str> = gpu.env().into_iter().collect();
    assert_eq!(
        env,
        BTreeMap::from([
            ("REPOWATCH_DATASOURCE", "api"),
            ("REPOWATCH_REF", "refs/heads/main"),
            ("REPOWATCH_COMMIT", sha(1).as_str()),
            ("REPOWATCH_KIND", "branch"),
            ("REPOWATCH_KEY", gpu.key.as_str()),
            ("REPOWATCH_SOURCE", "schedule"),
        ])
    );
    assert_eq!(w.state("api").await, Some(vec![main_at(1, t0(), None)]));
}

#[tokio::test]
async fn a_change_queues_builds_then_commits_state() {
    // Promise 1: state is committed once the builds are enqueued.
    let w = World::new(vec![api("api")]);
    w.set_main("api", 1);
    w.run("api").await;
    w.clock.advance(mins(5));
    w.set_main("api", 2);

    let got = w.run("api").await;

    let r = request("api", branch("main"), RefKind::Branch, 2, "deploy", t0_plus(5));
    assert_eq!(got, Outcome { builds: vec![queued(&r, "m1")], ..outcome("api", OutcomeStatus::Changed) });
    assert_eq!(w.queued(), vec![r]);
    assert_eq!(w.state("api").await, Some(vec![main_at(2, t0_plus(5), None)]));

    // And a run with nothing new does nothing.
    assert_eq!(w.run("api").await, outcome("api", OutcomeStatus::Unchanged));
    assert_eq!(w.queued().len(), 1);
}

#[tokio::test]
async fn the_detection_source_travels_into_the_build() {
    let mut w = World::new(vec![api("api")]);
    w.set_main("api", 1);
    w.run("api").await;
    w.source = DetectionSource::Webhook;
    w.set_main("api", 2);

    w.run("api").await;

    let [r] = <[BuildRequest; 1]>::try_from(w.queued()).unwrap();
    assert_eq!(r.source, DetectionSource::Webhook);
}

#[tokio::test]
async fn a_failed_enqueue_commits_nothing_and_the_next_run_builds_the_same_update() {
    // Promise 1: no update is lost — state is committed only after the enqueue.
    let w = World::new(vec![api("api"), api("web")]);
    w.set_main("api", 1);
    w.set_main("web", 1);
    w.process(w.detect(&["api", "web"]).await).await;
    w.set_main("api", 2);
    *w.queue.fail_with.lock().unwrap() = Some("SQS: service unavailable".into());

    let out = w.process(w.detect(&["api", "web"]).await).await;

    assert_eq!(
        out.datasources,
        vec![
            Outcome {
                error: Some(ErrorInfo {
                    name: "Repowatch.QueueUnavailable".into(),
                    message: "SQS: service unavailable".into()
                }),
                ..outcome("api", OutcomeStatus::Error)
            },
            // Promise 4: the other datasource is still processed.
            outcome("web", OutcomeStatus::Unchanged),
        ]
    );
    assert_eq!(w.queued(), vec![]);
    assert_eq!(w.state("api").await, Some(vec![main_at(1, t0(), None)]), "state not committed");

    // The queue is back: the next run detects the same update and builds it.
    *w.queue.fail_with.lock().unwrap() = None;
    w.clock.advance(mins(1));
    let again = w.detect(&["api"]).await;
    assert_eq!(again.datasources[0].updates[0].old, Some(sha(1)));
    assert_eq!(again.datasources[0].updates[0].new, Some(sha(2)));
    let out = w.process(again).await;

    let r = request("api", branch("main"), RefKind::Branch, 2, "deploy", t0_plus(1));
    assert_eq!(
        out.datasources,
        vec![Outcome { builds: vec![queued(&r, "m1")], ..outcome("api", OutcomeStatus::Changed) }]
    );
    assert_eq!(w.queued(), vec![r]);
    assert_eq!(w.state("api").await, Some(vec![main_at(2, t0_plus(1), None)]));
}

#[tokio::test]
async fn reprocessing_the_same_detect_output_queues_nothing() {
    // Promise 3: whichever of two runs with the same update comes second is a no-op.
    let w = World::new(vec![api("api")]);
    w.set_main("api", 1);
    w.run("api").await;
    w.set_main("api", 2);
    let detected = w.detect(&["api"]).await;

    let first = w.process(detected.clone()).await;
    assert_eq!(first.datasources[0].builds.len(), 1);
    let second = w.process(detected).await;

    assert_eq!(second.datasources, vec![outcome("api", OutcomeStatus::Unchanged)]);
    assert_eq!(w.queued().len(), 1);
    assert_eq!(w.state("api").await, Some(vec![main_at(2, t0(), None)]));
}

#[tokio::test]
async fn reprocessing_a_first_sight_after_success_queues_nothing() {
    // Promise 3, on first sight: a second baseline of the same refs (a retried
    // step, or a webhook run racing the schedule) must not queue the builds again.
    let mut ds = datasource("api", &["branch:main"], &["deploy"]);
    ds.build_on_first_seen = true;
    let w = World::new(vec![ds]);
    w.set_main("api", 1);
    let detected = w.detect(&["api"]).await;
    assert!(detected.datasources[0].first_seen);

    let first = w.process(detected.clone()).await;
    assert_eq!(first.datasources[0].builds.len(), 1);
    let second = w.process(detected).await;

    assert_eq!(second.datasources, vec![outcome("api", OutcomeStatus::Unchanged)]);
    assert_eq!(w.queued().len(), 1);
    assert_eq!(w.state("api").await, Some(vec![main_at(1, t0(), None)]));
}

#[tokio::test]
async fn an_error_from_detect_passes_through_and_commits_nothing() {
    let w = World::new(vec![api("api")]);
    w.refs.fail(&ds_id("api"), "timeout");

    let got = w.run("api").await;

    assert_eq!(
        got,
        Outcome {
            error: Some(ErrorInfo { name: "Repowatch.SourceUnavailable".into(), message: "timeout".into() }),
            ..outcome("api", OutcomeStatus::Error)
        }
    );
    assert_eq!(w.state("api").await, None);
}

#[tokio::test]
async fn a_datasource_removed_between_detect_and_process_is_unknown() {
    let w = World::new(vec![api("api")]);
    let detected = DetectOutput {
        run: run_info(DetectionSource::Schedule),
        datasources: vec![Detected { id: ds_id("gone"), first_seen: true, updates: vec![], error: None }],
        github_remaining: None,
    };

    let out = w.process(detected).await;

    assert_eq!(
        out.datasources,
        vec![Outcome {
            error: Some(ErrorInfo {
                name: "Repowatch.UnknownDatasource".into(),
                message: "datasource \"gone\" is not configured any more".into()
            }),
            ..outcome("gone", OutcomeStatus::Error)
        }]
    );
    assert_eq!(w.store.load_refs(&DatasourceId::parse("gone").unwrap()).await.unwrap(), None);
}

#[tokio::test]
async fn paths_decide_whether_a_branch_change_builds() {
    let w = World::new(vec![with_paths(api("api"), &["src/**", "Cargo.*"])]);
    w.set_main("api", 1);
    w.run("api").await;

    // No changed file matches: skipped with the reason, state still committed.
    w.refs.set_changed(&sha(1), &sha(2), &["README.md", "docs/guide.md"]);
    w.set_main("api", 2);
    let got = w.run("api").await;
    assert_eq!(
        got,
        Outcome {
            skipped: vec![skipped(branch("main"), Some(2), "no changed file matches `paths`")],
            ..outcome("api", OutcomeStatus::Changed)
        }
    );
    assert_eq!(w.queued(), vec![]);
    assert_eq!(w.state("api").await, Some(vec![main_at(2, t0(), None)]));

    // A changed file matches: built.
    w.refs.set_changed(&sha(2), &sha(3), &["docs/guide.md", "src/lib.rs"]);
    w.set_main("api", 3);
    let got = w.run("api").await;
    let r3 = request("api", branch("main"), RefKind::Branch, 3, "deploy", t0());
    assert_eq!(got, Outcome { builds: vec![queued(&r3, "m1")], ..outcome("api", OutcomeStatus::Changed) });

    // The source cannot tell what changed (None): built, a missed build is worse.
    w.set_main("api", 4);
    let got = w.run("api").await;
    let r4 = request("api", branch("main"), RefKind::Branch, 4, "deploy", t0());
    assert_eq!(got, Outcome { builds: vec![queued(&r4, "m2")], ..outcome("api", OutcomeStatus::Changed) });
    assert_eq!(w.queued(), vec![r3, r4]);
}

#[tokio::test]
async fn paths_do_not_filter_tags() {
    let w = World::new(vec![with_paths(api("api"), &["src/**"])]);
    w.refs.set(&ds_id("api"), vec![(RefKind::Branch, "refs/heads/main", &sha(1))]);
    w.run("api").await;
    w.refs.set(
        &ds_id("api"),
        vec![(RefKind::Branch, "refs/heads/main", &sha(1)), (RefKind::Tag, "refs/tags/v1", &sha(1))],
    );

    let got = w.run("api").await;

    let r = request("api", tag("v1"), RefKind::Tag, 1, "deploy", t0());
    assert_eq!(got, Outcome { builds: vec![queued(&r, "m1")], ..outcome("api", OutcomeStatus::Changed) });
}

#[tokio::test]
async fn cooldown_builds_the_newest_commit_once_the_ref_is_quiet() {
    // DESIGN `cooldown`: coalesce bursts; build the newest commit once it is quiet.
    let mut ds = api("api");
    ds.cooldown = mins(10);
    let w = World::new(vec![ds]);
    w.set_main("api", 1);
    w.run("api").await;

    // Three pushes a minute apart: each restarts the quiet period, nothing is queued.
    for (commit, minute) in [(2, 1), (3, 2), (4, 3)] {
        w.clock.advance(mins(1));
        w.set_main("api", commit);
        let got = w.run("api").await;
        assert_eq!(
            got,
            Outcome {
                pending: vec![PendingBuild {
                    git_ref: branch("main"),
                    commit: sha(commit),
                    due_at: t0_plus(minute + 10)
                }],
                ..outcome("api", OutcomeStatus::Changed)
            },
            "push of commit {commit}"
        );
        let base = Pending { base: Some(sha(1)), source: DetectionSource::Schedule };
        assert_eq!(w.state("api").await, Some(vec![main_at(commit, t0_plus(minute), Some(base))]));
    }
    assert_eq!(w.queued(), vec![]);

    // Quiet, but not for long enough yet: still pending, nothing queued.
    w.clock.advance(mins(9)); // t0+12m; due at t0+13m
    let got = w.run("api").await;
    assert_eq!(
        got,
        Outcome {
            pending: vec![PendingBuild { git_ref: branch("main"), commit: sha(4), due_at: t0_plus(13) }],
            ..outcome("api", OutcomeStatus::Unchanged)
        }
    );
    assert_eq!(w.queued(), vec![]);

    // Past the cooldown, no new commit: exactly one build, of the newest commit.
    w.clock.advance(mins(2)); // t0+14m
    let got = w.run("api").await;
    let r = request("api", branch("main"), RefKind::Branch, 4, "deploy", t0_plus(14));
    assert_eq!(got, Outcome { builds: vec![queued(&r, "m1")], ..outcome("api", OutcomeStatus::Changed) });
    assert_eq!(w.queued(), vec![r]);
    assert_eq!(w.state("api").await, Some(vec![main_at(4, t0_plus(3), None)]), "pending cleared");

    // And it is not built again.
    w.clock.advance(mins(30));
    assert_eq!(w.run("api").await, outcome("api", OutcomeStatus::Unchanged));
    assert_eq!(w.queued().len(), 1);
}

#[tokio::test]
async fn a_deleted_ref_is_removed_from_state() {
    let w = World::new(vec![api("api")]);
    w.refs.set(
        &ds_id("api"),
        vec![(RefKind::Branch, "refs/heads/main", &sha(1)), (RefKind::Tag, "refs/tags/v1", &sha(2))],
    );
    w.run("api").await;
    w.set_main("api", 1);

    let got = w.run("api").await;

    assert_eq!(
        got,
        Outcome { skipped: vec![skipped(tag("v1"), None, "ref deleted")], ..outcome("api", OutcomeStatus::Changed) }
    );
    assert_eq!(w.queued(), vec![]);
    assert_eq!(w.state("api").await, Some(vec![main_at(1, t0(), None)]));

    // A ref that comes back is new again, and builds.
    w.refs.set(
        &ds_id("api"),
        vec![(RefKind::Branch, "refs/heads/main", &sha(1)), (RefKind::Tag, "refs/tags/v1", &sha(2))],
    );
    let got = w.run("api").await;
    let r = request("api", tag("v1"), RefKind::Tag, 2, "deploy", t0());
    assert_eq!(got, Outcome { builds: vec![queued(&r, "m1")], ..outcome("api", OutcomeStatus::Changed) });
}
