//! Builders shared by the step tests: ids, commits, datasources, a catalog and
//! a fixed start time.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::catalog::StaticCatalog;
use crate::ids::{CommitSha, DatasourceId, RefKind, RefName, RunId, TargetId};
use crate::model::{Datasource, DetectionSource, Location, RefState, RepoSlug, RunInfo, TargetSpec};
use crate::ports::{RefChange, StateStore};
use crate::rules::{PathFilter, WatchRules};

pub fn ds_id(id: &str) -> DatasourceId {
    DatasourceId::parse(id).unwrap()
}

pub fn target_id(id: &str) -> TargetId {
    TargetId::parse(id).unwrap()
}

pub fn run_id(id: &str) -> RunId {
    RunId::parse(id).unwrap()
}

/// A distinct, valid commit per number: `sha(1)` is `000…001`.
pub fn sha(n: u32) -> CommitSha {
    CommitSha::parse(format!("{n:040x}")).unwrap()
}

pub fn branch(name: &str) -> RefName {
    RefName::branch(name).unwrap()
}

pub fn tag(name: &str) -> RefName {
    RefName::tag(name).unwrap()
}

/// 2025-06-01 08:00 UTC: when every test starts.
pub fn t0() -> Timestamp {
    "2025-06-01T08:00:00Z".parse().unwrap()
}

pub fn t0_plus(minutes: i64) -> Timestamp {
    t0().checked_add(SignedDuration::from_mins(minutes)).unwrap()
}

pub fn mins(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// A GitHub datasource watching `watch`, building on `targets`; no `paths`,
/// no cooldown, nothing built on first sight.
pub fn datasource(id: &str, watch: &[&str], targets: &[&str]) -> Datasource {
    Datasource {
        id: ds_id(id),
        location: Location::Github(RepoSlug::parse(&format!("octo-org/{id}")).unwrap()),
        watch: WatchRules::parse(watch).unwrap(),
        paths: None,
        cooldown: Duration::ZERO,
        targets: targets.iter().map(|t| target_id(t)).collect(),
        build_on_first_seen: false,
    }
}

/// `datasource` watching `main` and `v*` tags, building on `deploy`.
pub fn api(id: &str) -> Datasource {
    datasource(id, &["branch:main", "tag:v*"], &["deploy"])
}

pub fn with_paths(mut ds: Datasource, paths: &[&str]) -> Datasource {
    ds.paths = Some(PathFilter::parse(paths).unwrap());
    ds
}

pub fn command_target() -> TargetSpec {
    TargetSpec::Command { command: vec!["true".into()], workdir: None, timeout: Duration::from_secs(60) }
}

/// A catalog of `datasources` and `command` targets named `targets`.
pub fn catalog(datasources: Vec<Datasource>, targets: &[&str]) -> StaticCatalog {
    let targets: BTreeMap<TargetId, TargetSpec> = targets.iter().map(|t| (target_id(t), command_target())).collect();
    StaticCatalog::new(datasources, targets)
}

pub fn run_info(source: DetectionSource) -> RunInfo {
    RunInfo { id: run_id("run-1"), source, started_at: t0(), datasource: None, shards: 1 }
}

pub fn ref_state(kind: RefKind, name: RefName, commit: CommitSha, observed_at: Timestamp) -> RefState {
    RefState { kind, name, commit, observed_at, pending: None }
}

/// Commits last-seen state directly, as an earlier run would have.
pub async fn seed(store: &dyn StateStore, id: &DatasourceId, refs: Vec<(RefKind, RefName, CommitSha)>) {
    let changes: Vec<RefChange> =
        refs.into_iter().map(|(kind, name, commit)| RefChange::Upsert(ref_state(kind, name, commit, t0()))).collect();
    store.commit_refs(id, &changes, t0()).await.unwrap();
}
