//! process-updates: applies each datasource's rules (watch globs, `paths`,
//! `cooldown`) to its updates, enqueues the resulting BuildRequests, and only
//! THEN commits last-seen state. A crash in between means the next run detects
//! the same update again (no update is lost); the duplicate enqueue is absorbed
//! by dispatch-build's idempotency key.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::StepError;
use crate::ids::{CommitSha, DatasourceId, IdempotencyKey, MessageId, RefKind, RefName, TargetId};
use crate::model::{BuildRequest, Datasource, DetectionSource, ErrorInfo, Pending, RefState, RunInfo};
use crate::ports::{BuildQueue, Catalog, Clock, RefChange, RefSource, StateStore};
use crate::steps::detect_updates::{DetectOutput, UNKNOWN_DATASOURCE};

pub const QUEUE_UNAVAILABLE: &str = StepError::QUEUE;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessOutput {
    pub run: RunInfo,
    /// Every outcome while they fit the shard's share of the run's detail
    /// budget; past it the most actionable (errors, changes, first sights)
    /// and the rest counted in `omitted`.
    pub datasources: Vec<Outcome>,
    /// What `datasources` leaves out, counted so the run's totals stay exact.
    #[serde(default, skip_serializing_if = "Omitted::is_empty")]
    pub omitted: Omitted,
    /// Carried from detection, for the run summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_remaining: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// First sight: current refs recorded as the baseline.
    Baseline,
    /// Something changed (builds queued, deferred or filtered out).
    Changed,
    Unchanged,
    Error,
}

/// What a run did for one datasource: the unit of the run summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub id: DatasourceId,
    pub status: OutcomeStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub builds: Vec<QueuedBuild>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingBuild>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}

impl Outcome {
    fn new(id: DatasourceId, status: OutcomeStatus) -> Self {
        Self { id, status, builds: vec![], pending: vec![], skipped: vec![], error: None }
    }

    fn failed(id: DatasourceId, error: ErrorInfo) -> Self {
        Self { error: Some(error), ..Self::new(id, OutcomeStatus::Error) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedBuild {
    pub kind: RefKind,
    #[serde(rename = "ref")]
    pub git_ref: RefName,
    pub commit: CommitSha,
    pub target: TargetId,
    pub key: IdempotencyKey,
    pub message_id: MessageId,
}

/// A build deferred by cooldown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingBuild {
    #[serde(rename = "ref")]
    pub git_ref: RefName,
    pub commit: CommitSha,
    pub due_at: Timestamp,
}

/// A change that makes no build, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    #[serde(rename = "ref")]
    pub git_ref: RefName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitSha>,
    pub reason: String,
}

pub async fn process_updates(
    input: DetectOutput,
    catalog: &dyn Catalog,
    store: &dyn StateStore,
    queue: &dyn BuildQueue,
    refs: &dyn RefSource,
    clock: &dyn Clock,
) -> Result<ProcessOutput, StepError> {
    let mut outcomes = Vec::with_capacity(input.datasources.len());
    for detected in input.datasources {
        if let Some(error) = detected.error {
            outcomes.push(Outcome::failed(detected.id, error));
            continue;
        }
        let Some(ds) = catalog.datasource(&detected.id).await.map_err(StepError::Store)? else {
            let message = format!("datasource {:?} is not configured any more", detected.id.as_str());
            outcomes.push(Outcome::failed(detected.id, ErrorInfo { name: UNKNOWN_DATASOURCE.into(), message }));
            continue;
        };
        let state = store.load_refs(&ds.id).await.map_err(StepError::Store)?;
        let now = clock.now();
        let mut plan = Plan::new(&ds, &input.run, now);
        // Baseline only what has no state yet: a first sight already committed (a
        // retried step, or a concurrent run) is applied like any update, so
        // whichever comes second is a no-op instead of a second baseline.
        match state {
            None => plan.baseline(&detected.updates),
            Some(state) => {
                plan.apply(&detected.updates, &state, refs).await;
                plan.due_pending(&state, &detected.updates);
            }
        }
        let Plan { mut outcome, changes, requests, .. } = plan;

        if !requests.is_empty() {
            match queue.enqueue(&requests).await {
                Ok(ids) => {
                    outcome.builds = requests
                        .iter()
                        .zip(ids)
                        .map(|(r, message_id)| QueuedBuild {
                            kind: r.kind,
                            git_ref: r.git_ref.clone(),
                            commit: r.commit.clone(),
                            target: r.target.clone(),
                            key: r.key.clone(),
                            message_id,
                        })
                        .collect();
                }
                Err(e) => {
                    // State is not committed: the next run finds the same updates.
                    tracing::warn!(datasource = %ds.id, error = %e.chain(), "enqueue failed; state not committed");
                    outcomes
                        .push(Outcome::failed(ds.id, ErrorInfo { name: QUEUE_UNAVAILABLE.into(), message: e.chain() }));
                    continue;
                }
            }
        }
        if !changes.is_empty() {
            store.commit_refs(&ds.id, &changes, now).await.map_err(StepError::Store)?;
        } else if detected.first_seen {
            // An empty repository: still mark it seen, so its first ref is an update.
            store.commit_refs(&ds.id, &[], now).await.map_err(StepError::Store)?;
        }
        outcomes.push(outcome);
    }
    let (datasources, omitted) = bound_outcomes(outcomes, shard_detail_budget(&input.run));
    if !omitted.is_empty() {
        tracing::info!(
            listed = datasources.len(),
            omitted = omitted.outcomes(),
            "shard result bounded to its detail budget"
        );
    }
    Ok(ProcessOutput { run: input.run, datasources, omitted, github_remaining: input.github_remaining })
}

/// Bytes of listed outcomes a whole run may carry. Step Functions holds a
/// Map's collected result (every shard's) in one state of at most 256 KiB
/// and fails the execution past it (`States.DataLimitExceeded`, which no
/// Catch can take); this leaves the rest for the per-shard overhead (run,
/// counts, a failed shard's first ids and cause).
pub const RUN_DETAIL_BUDGET: usize = 160 * 1024;
/// The least each shard may list, however many shards the run has.
pub const MIN_SHARD_DETAIL: usize = 512;
/// An error message longer than this is cut when its outcome has to be trimmed.
const TRIMMED_MESSAGE_BYTES: usize = 300;

/// One shard's share of [`RUN_DETAIL_BUDGET`].
pub fn shard_detail_budget(run: &RunInfo) -> usize {
    (RUN_DETAIL_BUDGET / run.shards.max(1)).max(MIN_SHARD_DETAIL)
}

/// Outcomes a shard's result leaves out, and the builds, deferred builds and
/// skipped changes that are in none of its listed outcomes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Omitted {
    #[serde(default)]
    pub unchanged: usize,
    #[serde(default)]
    pub changed: usize,
    #[serde(default)]
    pub first_seen: usize,
    #[serde(default)]
    pub errors: usize,
    #[serde(default)]
    pub builds: usize,
    #[serde(default)]
    pub pending: usize,
    #[serde(default)]
    pub skipped: usize,
}

impl Omitted {
    pub fn is_empty(&self) -> bool {
        *self == Omitted::default()
    }

    /// Datasources left out.
    pub fn outcomes(&self) -> usize {
        self.unchanged + self.changed + self.first_seen + self.errors
    }

    pub fn add(&mut self, other: &Omitted) {
        self.unchanged += other.unchanged;
        self.changed += other.changed;
        self.first_seen += other.first_seen;
        self.errors += other.errors;
        self.builds += other.builds;
        self.pending += other.pending;
        self.skipped += other.skipped;
    }

    fn count(&mut self, o: &Outcome) {
        match o.status {
            OutcomeStatus::Unchanged => self.unchanged += 1,
            OutcomeStatus::Changed => self.changed += 1,
            OutcomeStatus::Baseline => self.first_seen += 1,
            OutcomeStatus::Error => self.errors += 1,
        }
        self.builds += o.builds.len();
        self.pending += o.pending.len();
        self.skipped += o.skipped.len();
    }
}

/// The outcomes that fit `budget` bytes of JSON, in their order, and a count
/// of the rest. Everything is listed when everything fits (any run of up to
/// about a thousand datasources); otherwise errors come first, then changes,
/// then first sights, then unchanged datasources, and an outcome too big to
/// list whole is listed trimmed (its skipped changes and deferred builds
/// counted, its error message cut, as many of its builds as fit).
pub fn bound_outcomes(outcomes: Vec<Outcome>, budget: usize) -> (Vec<Outcome>, Omitted) {
    // An error is carried twice in the run summary: its outcome and its failure line.
    let size = |o: &Outcome| {
        let bytes = serde_json::to_vec(o).map_or(usize::MAX / 2, |v| v.len() + 1);
        if o.error.is_some() { 2 * bytes } else { bytes }
    };
    let sizes: Vec<usize> = outcomes.iter().map(size).collect();
    let mut omitted = Omitted::default();
    if sizes.iter().sum::<usize>() <= budget {
        return (outcomes, omitted);
    }
    let rank = |o: &Outcome| match o.status {
        OutcomeStatus::Error => 0,
        OutcomeStatus::Changed => 1,
        OutcomeStatus::Baseline => 2,
        OutcomeStatus::Unchanged => 3,
    };
    let mut order: Vec<usize> = (0..outcomes.len()).collect();
    order.sort_by_key(|&i| rank(&outcomes[i])); // stable: catalog order within a rank
    let mut slots: Vec<Option<Outcome>> = outcomes.into_iter().map(Some).collect();
    let mut left = budget;
    for i in order {
        let Some(mut o) = slots[i].take() else { continue };
        if sizes[i] <= left {
            left -= sizes[i];
            slots[i] = Some(o);
            continue;
        }
        if o.status != OutcomeStatus::Unchanged {
            let mut cut = Omitted::default();
            trim(&mut o, &mut cut);
            // Each pop takes `,{build}` off the JSON: subtract it rather than
            // serialize the whole outcome again per build.
            let copies = if o.error.is_some() { 2 } else { 1 };
            let mut s = size(&o);
            while s > left
                && let Some(b) = o.builds.pop()
            {
                s = s.saturating_sub(copies * serde_json::to_vec(&b).map_or(0, |v| v.len() + 1));
                cut.builds += 1;
            }
            if o.builds.is_empty() {
                s = size(&o); // the empty list's key is gone too
            }
            if s <= left {
                left -= s;
                omitted.add(&cut);
                slots[i] = Some(o);
                continue;
            }
            // Not even trimmed: count what was cut from it and the rest of it.
            omitted.add(&cut);
        }
        omitted.count(&o);
    }
    (slots.into_iter().flatten().collect(), omitted)
}

/// Cuts the parts of an outcome nobody acts on first: skipped changes and
/// deferred builds are counted, a long error message is shortened.
fn trim(o: &mut Outcome, cut: &mut Omitted) {
    cut.skipped += std::mem::take(&mut o.skipped).len();
    cut.pending += std::mem::take(&mut o.pending).len();
    if let Some(e) = &mut o.error
        && e.message.len() > TRIMMED_MESSAGE_BYTES
    {
        let mut end = TRIMMED_MESSAGE_BYTES;
        while !e.message.is_char_boundary(end) {
            end -= 1;
        }
        e.message.truncate(end);
        e.message.push('…');
    }
}

/// The decisions for one datasource, before anything is written.
struct Plan<'a> {
    ds: &'a Datasource,
    run: &'a RunInfo,
    now: Timestamp,
    outcome: Outcome,
    changes: Vec<RefChange>,
    requests: Vec<BuildRequest>,
}

impl<'a> Plan<'a> {
    fn new(ds: &'a Datasource, run: &'a RunInfo, now: Timestamp) -> Self {
        Self {
            ds,
            run,
            now,
            outcome: Outcome::new(ds.id.clone(), OutcomeStatus::Unchanged),
            changes: vec![],
            requests: vec![],
        }
    }

    fn baseline(&mut self, updates: &[crate::model::Update]) {
        self.outcome.status = OutcomeStatus::Baseline;
        for u in updates {
            let Some(commit) = &u.new else { continue };
            self.upsert(u.kind, &u.name, commit, None);
            if self.ds.build_on_first_seen {
                self.build(u.kind, &u.name, commit, self.run.source);
            } else {
                self.skip(
                    &u.name,
                    Some(commit),
                    "first sight: recorded as the baseline (set build_on_first_seen = true to build it)",
                );
            }
        }
    }

    async fn apply(&mut self, updates: &[crate::model::Update], state: &[RefState], refs: &dyn RefSource) {
        let previous: BTreeMap<(RefKind, &RefName), &RefState> = state.iter().map(|s| ((s.kind, &s.name), s)).collect();
        for u in updates {
            let prev = previous.get(&(u.kind, &u.name)).copied();
            let Some(new) = &u.new else {
                self.changes.push(RefChange::Delete { kind: u.kind, name: u.name.clone() });
                self.skip(&u.name, None, "ref deleted");
                self.outcome.status = OutcomeStatus::Changed;
                continue;
            };
            if prev.is_some_and(|p| &p.commit == new) {
                continue; // already applied (a retried step, or a concurrent run)
            }
            self.outcome.status = OutcomeStatus::Changed;
            if !self.ds.watch.matches(u.kind, &u.name) {
                self.upsert(u.kind, &u.name, new, None);
                continue;
            }
            let pending = prev.and_then(|p| p.pending.as_ref());
            let base = match pending {
                Some(p) => p.base.clone(),
                None => u.old.clone(),
            };
            if pending.is_none() && !self.touches_paths(u.kind, base.as_ref(), new, refs).await {
                self.upsert(u.kind, &u.name, new, None);
                self.skip(&u.name, Some(new), "no changed file matches `paths`");
                continue;
            }
            if self.ds.cooldown.is_zero() {
                self.upsert(u.kind, &u.name, new, None);
                self.build(u.kind, &u.name, new, self.run.source);
            } else {
                let source = pending.map_or(self.run.source, |p| p.source);
                self.upsert(u.kind, &u.name, new, Some(Pending { base, source }));
                let due_at = self.due(self.now);
                self.outcome.pending.push(PendingBuild { git_ref: u.name.clone(), commit: new.clone(), due_at });
            }
        }
    }

    /// Builds deferred by cooldown whose ref has been quiet long enough.
    fn due_pending(&mut self, state: &[RefState], updates: &[crate::model::Update]) {
        // Refs that moved in this run were handled by `apply` (their quiet period restarted).
        let moved: BTreeSet<(RefKind, &RefName)> = updates.iter().map(|u| (u.kind, &u.name)).collect();
        for s in state {
            let Some(pending) = &s.pending else { continue };
            let applied_already =
                updates.iter().any(|u| u.kind == s.kind && u.name == s.name && u.new.as_ref() == Some(&s.commit));
            if moved.contains(&(s.kind, &s.name)) && !applied_already {
                continue;
            }
            let due_at = self.due(s.observed_at);
            if self.now >= due_at {
                self.outcome.status = OutcomeStatus::Changed;
                self.changes.push(RefChange::Upsert(RefState { pending: None, ..s.clone() }));
                self.build(s.kind, &s.name, &s.commit, pending.source);
            } else {
                self.outcome.pending.push(PendingBuild { git_ref: s.name.clone(), commit: s.commit.clone(), due_at });
            }
        }
    }

    async fn touches_paths(
        &self,
        kind: RefKind,
        base: Option<&CommitSha>,
        new: &CommitSha,
        refs: &dyn RefSource,
    ) -> bool {
        let (Some(filter), Some(base), RefKind::Branch) = (&self.ds.paths, base, kind) else {
            return true; // no filter, or nothing to diff against (new branch, tag): build
        };
        match refs.changed_paths(self.ds, base, new).await {
            Ok(Some(files)) => filter.any_match(files.iter().map(String::as_str)),
            Ok(None) => true,
            Err(e) => {
                tracing::warn!(datasource = %self.ds.id, error = %e.chain(), "cannot list changed files; building anyway");
                true
            }
        }
    }

    fn due(&self, from: Timestamp) -> Timestamp {
        let cooldown = jiff::SignedDuration::try_from(self.ds.cooldown).unwrap_or(jiff::SignedDuration::MAX);
        from.checked_add(cooldown).unwrap_or(Timestamp::MAX)
    }

    fn upsert(&mut self, kind: RefKind, name: &RefName, commit: &CommitSha, pending: Option<Pending>) {
        self.changes.push(RefChange::Upsert(RefState {
            kind,
            name: name.clone(),
            commit: commit.clone(),
            observed_at: self.now,
            pending,
        }));
    }

    fn build(&mut self, kind: RefKind, name: &RefName, commit: &CommitSha, source: DetectionSource) {
        for target in &self.ds.targets {
            self.requests.push(BuildRequest::new(
                self.ds.id.clone(),
                name.clone(),
                commit.clone(),
                kind,
                source,
                target.clone(),
                self.now,
                self.run.id.clone(),
            ));
        }
    }

    fn skip(&mut self, name: &RefName, commit: Option<&CommitSha>, reason: &str) {
        self.outcome.skipped.push(Skipped {
            git_ref: name.clone(),
            commit: commit.cloned(),
            reason: reason.to_owned(),
        });
    }
}
