//! detect-updates: current refs against last-seen state → Update records.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::support::*;
use crate::error::StepError;
use crate::fakes::{MemoryRefSource, MemoryStateStore};
use crate::ids::{CommitSha, RefKind, RefName};
use crate::model::{DetectionSource, ErrorInfo, RefHead, RefSnapshot, RefState, Update};
use crate::steps::detect_updates::{DetectInput, DetectOutput, Detected, compare, detect_updates};

fn input(ids: &[&str]) -> DetectInput {
    DetectInput { run: run_info(DetectionSource::Schedule), datasources: ids.iter().map(|id| ds_id(id)).collect() }
}

fn update(kind: RefKind, name: RefName, old: Option<u32>, new: Option<u32>) -> Update {
    Update { kind, name, old: old.map(sha), new: new.map(sha) }
}

fn detected(id: &str, updates: Vec<Update>) -> Detected {
    Detected { id: ds_id(id), first_seen: false, updates, error: None }
}

fn failed(id: &str, name: &str, message: &str) -> Detected {
    Detected {
        id: ds_id(id),
        first_seen: false,
        updates: vec![],
        error: Some(ErrorInfo { name: name.into(), message: message.into() }),
    }
}

/// One datasource `api` (watching `main` and `v*` tags) with the given last-seen state and current refs.
async fn detect_api(
    last: Option<Vec<(RefKind, RefName, CommitSha)>>,
    current: Vec<(RefKind, &str, &CommitSha)>,
) -> Detected {
    let catalog = catalog(vec![api("api")], &["deploy"]);
    let store = MemoryStateStore::default();
    let refs = MemoryRefSource::default();
    if let Some(last) = last {
        seed(&store, &ds_id("api"), last).await;
    }
    refs.set(&ds_id("api"), current);
    let out = detect_updates(input(&["api"]), &catalog, &store, &refs).await.unwrap();
    assert_eq!(out.run, run_info(DetectionSource::Schedule));
    let [one] = <[Detected; 1]>::try_from(out.datasources).unwrap();
    one
}

#[tokio::test]
async fn first_sight_reports_every_watched_ref_as_the_baseline() {
    // DESIGN "Configuration": on first sight the current refs become the baseline.
    let got = detect_api(
        None,
        vec![
            (RefKind::Branch, "refs/heads/main", &sha(1)),
            (RefKind::Branch, "refs/heads/dev", &sha(2)),
            (RefKind::Tag, "refs/tags/v1.0.0", &sha(3)),
            (RefKind::Tag, "refs/tags/nightly", &sha(4)),
        ],
    )
    .await;

    assert_eq!(
        got,
        Detected {
            id: ds_id("api"),
            first_seen: true,
            updates: vec![
                update(RefKind::Branch, branch("main"), None, Some(1)),
                update(RefKind::Tag, tag("v1.0.0"), None, Some(3)),
            ],
            error: None,
        }
    );
}

#[tokio::test]
async fn unchanged_refs_give_no_updates() {
    let got = detect_api(
        Some(vec![(RefKind::Branch, branch("main"), sha(1)), (RefKind::Tag, tag("v1"), sha(2))]),
        vec![(RefKind::Branch, "refs/heads/main", &sha(1)), (RefKind::Tag, "refs/tags/v1", &sha(2))],
    )
    .await;

    assert_eq!(got, detected("api", vec![]));
}

#[tokio::test]
async fn a_moved_branch_reports_old_and_new() {
    let got = detect_api(
        Some(vec![(RefKind::Branch, branch("main"), sha(1))]),
        vec![(RefKind::Branch, "refs/heads/main", &sha(2))],
    )
    .await;

    assert_eq!(got, detected("api", vec![update(RefKind::Branch, branch("main"), Some(1), Some(2))]));
}

#[tokio::test]
async fn a_new_tag_has_no_old_commit() {
    let got = detect_api(
        Some(vec![(RefKind::Branch, branch("main"), sha(1))]),
        vec![(RefKind::Branch, "refs/heads/main", &sha(1)), (RefKind::Tag, "refs/tags/v2.0.0", &sha(5))],
    )
    .await;

    assert_eq!(got, detected("api", vec![update(RefKind::Tag, tag("v2.0.0"), None, Some(5))]));
}

#[tokio::test]
async fn a_deleted_ref_has_no_new_commit() {
    let got = detect_api(
        Some(vec![(RefKind::Branch, branch("main"), sha(1)), (RefKind::Tag, tag("v1"), sha(2))]),
        vec![(RefKind::Branch, "refs/heads/main", &sha(1))],
    )
    .await;

    assert_eq!(got, detected("api", vec![update(RefKind::Tag, tag("v1"), Some(2), None)]));
}

#[test]
fn a_kind_reported_newest_only_keeps_older_refs_that_fell_out_of_the_window() {
    // GitHub reports the newest tags only: v1 missing from the answer is older, not deleted.
    let ds = api("api");
    let last = vec![
        ref_state(RefKind::Tag, tag("v1"), sha(1), t0()),
        ref_state(RefKind::Branch, branch("main"), sha(3), t0()),
    ];
    let snapshot = RefSnapshot {
        refs: vec![RefHead { kind: RefKind::Tag, name: tag("v2"), commit: sha(2) }],
        newest_only: vec![RefKind::Tag],
    };
    let (_, updates) = compare(&ds, &snapshot, Some(&last));
    assert_eq!(
        updates,
        vec![
            update(RefKind::Tag, tag("v2"), None, Some(2)),
            // Branches are reported in full, so a missing branch is deleted.
            update(RefKind::Branch, branch("main"), Some(3), None),
        ]
    );
}

#[tokio::test]
async fn a_ref_no_longer_watched_is_reported_as_deleted() {
    // `dev` was recorded under an older `watch`; it still exists but is not watched now.
    let got = detect_api(
        Some(vec![(RefKind::Branch, branch("main"), sha(1)), (RefKind::Branch, branch("dev"), sha(7))]),
        vec![(RefKind::Branch, "refs/heads/main", &sha(1)), (RefKind::Branch, "refs/heads/dev", &sha(8))],
    )
    .await;

    assert_eq!(got, detected("api", vec![update(RefKind::Branch, branch("dev"), Some(7), None)]));
}

#[tokio::test]
async fn a_failing_source_is_reported_and_the_others_still_report() {
    // Promise 4: one bad datasource never fails the run.
    let catalog = catalog(vec![api("a"), api("b"), api("c")], &["deploy"]);
    let store = MemoryStateStore::default();
    let refs = MemoryRefSource::default();
    refs.set(&ds_id("a"), vec![(RefKind::Branch, "refs/heads/main", &sha(1))]);
    refs.fail(&ds_id("b"), "GitHub answered 502 Bad Gateway");
    refs.set(&ds_id("c"), vec![(RefKind::Tag, "refs/tags/v1", &sha(3))]);

    let out = detect_updates(input(&["a", "b", "c"]), &catalog, &store, &refs).await.unwrap();

    assert_eq!(
        out.datasources,
        vec![
            Detected {
                first_seen: true,
                ..detected("a", vec![update(RefKind::Branch, branch("main"), None, Some(1))])
            },
            failed("b", "Repowatch.SourceUnavailable", "GitHub answered 502 Bad Gateway"),
            Detected { first_seen: true, ..detected("c", vec![update(RefKind::Tag, tag("v1"), None, Some(3))]) },
        ]
    );
}

#[tokio::test]
async fn a_datasource_not_in_the_catalog_is_reported_as_unknown() {
    // Promise 4: the others proceed.
    let catalog = catalog(vec![api("api")], &["deploy"]);
    let store = MemoryStateStore::default();
    let refs = MemoryRefSource::default();
    seed(&store, &ds_id("api"), vec![(RefKind::Branch, branch("main"), sha(1))]).await;
    refs.set(&ds_id("api"), vec![(RefKind::Branch, "refs/heads/main", &sha(2))]);

    let out = detect_updates(input(&["gone", "api"]), &catalog, &store, &refs).await.unwrap();

    assert_eq!(
        out,
        DetectOutput {
            run: run_info(DetectionSource::Schedule),
            datasources: vec![
                failed("gone", "Repowatch.UnknownDatasource", "datasource \"gone\" is not configured any more"),
                detected("api", vec![update(RefKind::Branch, branch("main"), Some(1), Some(2))]),
            ],
            github_remaining: None,
        }
    );
}

#[tokio::test]
async fn a_store_failure_fails_the_step_with_a_retryable_name() {
    let catalog = catalog(vec![api("api")], &["deploy"]);
    let store = MemoryStateStore::default();
    let refs = MemoryRefSource::default();
    refs.set(&ds_id("api"), vec![(RefKind::Branch, "refs/heads/main", &sha(1))]);
    *store.fail_with.lock().unwrap() = Some("database is locked".into());

    let err = detect_updates(input(&["api"]), &catalog, &store, &refs).await.unwrap_err();

    assert!(matches!(err, StepError::Store(_)), "{err:?}");
    assert_eq!(err.error_name(), "Repowatch.StoreUnavailable");
    assert!(StepError::RETRYABLE_NAMES.contains(&err.error_name()));
    assert_eq!(err.cause(), "state store unavailable: database is locked");
}

// --- compare, for any snapshots ---------------------------------------------

const NAMES: [&str; 8] = [
    "refs/heads/main",
    "refs/heads/dev",
    "refs/heads/release/1",
    "refs/heads/release/1/hotfix",
    "refs/tags/v1",
    "refs/tags/v2.0.0",
    "refs/tags/nightly",
    "refs/heads/v3",
];
const KINDS: [RefKind; 3] = [RefKind::Branch, RefKind::Tag, RefKind::Release];
const WATCHES: [&[&str]; 4] =
    [&["branch:main", "branch:release/*", "tag:v*", "release"], &["branch:**"], &["tag:v*"], &[]];

type Refs = BTreeMap<(RefKind, RefName), CommitSha>;

/// Refs keyed by (kind, name), as a source or the store can hold them: at most
/// one commit per ref. Few commits, so "unchanged" happens often.
fn refs_strategy() -> impl Strategy<Value = Refs> {
    prop::collection::btree_map((0..KINDS.len(), 0..NAMES.len()), 0u32..4, 0..12).prop_map(|m| {
        m.into_iter().map(|((k, n), c)| ((KINDS[k], RefName::parse(NAMES[n]).unwrap()), sha(c))).collect()
    })
}

proptest! {
    #[test]
    fn compare_updates_turn_last_into_the_watched_refs_of_current(
        watch in 0..WATCHES.len(),
        current in refs_strategy(),
        last in prop::option::of(refs_strategy()),
        reversed in any::<bool>(),
    ) {
        // Promise 1 at the root: applying what detect reports reproduces the source exactly.
        let ds = datasource("api", WATCHES[watch], &["deploy"]);
        let mut heads: Vec<RefHead> =
            current.iter().map(|((kind, name), commit)| RefHead { kind: *kind, name: name.clone(), commit: commit.clone() }).collect();
        if reversed {
            heads.reverse();
        }
        let snapshot = RefSnapshot { refs: heads, newest_only: vec![] };
        let states: Option<Vec<RefState>> = last.as_ref().map(|l| {
            l.iter().map(|((kind, name), commit)| ref_state(*kind, name.clone(), commit.clone(), t0())).collect()
        });

        let (first_seen, updates) = compare(&ds, &snapshot, states.as_deref());

        prop_assert_eq!(first_seen, last.is_none());
        let mut applied: Refs = last.clone().unwrap_or_default();
        for u in &updates {
            let key = (u.kind, u.name.clone());
            prop_assert_ne!(&u.old, &u.new, "an update changes something");
            prop_assert_eq!(applied.get(&key), u.old.as_ref(), "old is the last-seen commit");
            match &u.new {
                Some(c) => applied.insert(key, c.clone()),
                None => applied.remove(&key),
            };
        }
        let watched: Refs = current.into_iter().filter(|((kind, name), _)| ds.watch.matches(*kind, name)).collect();
        prop_assert_eq!(applied, watched);
    }
}
