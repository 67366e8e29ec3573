//! In-memory fakes of every port (feature `test-util`), hand-written so tests
//! read like the production code they exercise.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use crate::ids::{CommitSha, DatasourceId, IdempotencyKey, MessageId, RefKind, RefName, TargetId};
use crate::model::{BuildRequest, Datasource, RefSnapshot, RefState, TargetSpec};
use crate::ports::*;
use crate::steps::notify::Notification;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: std::time::Duration) {
        let mut now = lock(&self.0);
        *now = now.checked_add(SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX)).unwrap_or(Timestamp::MAX);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *lock(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyState {
    Claimed { owner: String, until: Timestamp },
    Done { at: Timestamp },
}

type RefsByDatasource = BTreeMap<DatasourceId, BTreeMap<(RefKind, RefName), RefState>>;

/// `MemoryStateStore`: last-seen refs, claims and build records in maps.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    refs: Mutex<RefsByDatasource>,
    keys: Mutex<BTreeMap<IdempotencyKey, KeyState>>,
    builds: Mutex<Vec<BuildRecord>>,
    deliveries: Mutex<std::collections::BTreeSet<String>>,
    /// When set, every call fails with this message.
    pub fail_with: Mutex<Option<String>>,
}

impl MemoryStateStore {
    pub fn builds(&self) -> Vec<BuildRecord> {
        lock(&self.builds).clone()
    }

    fn check(&self) -> Result<(), PortError> {
        match lock(&self.fail_with).as_ref() {
            Some(m) => Err(PortError::new(m.clone())),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn load_refs(&self, datasource: &DatasourceId) -> Result<Option<Vec<RefState>>, PortError> {
        self.check()?;
        Ok(lock(&self.refs).get(datasource).map(|m| m.values().cloned().collect()))
    }

    async fn commit_refs(
        &self,
        datasource: &DatasourceId,
        changes: &[RefChange],
        _now: Timestamp,
    ) -> Result<(), PortError> {
        self.check()?;
        let mut refs = lock(&self.refs);
        let entry = refs.entry(datasource.clone()).or_default();
        for c in changes {
            match c {
                RefChange::Upsert(s) => {
                    entry.insert((s.kind, s.name.clone()), s.clone());
                }
                RefChange::Delete { kind, name } => {
                    entry.remove(&(*kind, name.clone()));
                }
            }
        }
        Ok(())
    }

    async fn claim(
        &self,
        key: &IdempotencyKey,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Claim, PortError> {
        self.check()?;
        let mut keys = lock(&self.keys);
        let taken_over = match keys.get(key) {
            Some(KeyState::Done { at }) => return Ok(Claim::Done { at: *at }),
            Some(KeyState::Claimed { owner: o, until }) if *until > now && o != owner => {
                return Ok(Claim::Held { owner: o.clone(), until: *until });
            }
            Some(KeyState::Claimed { owner: o, .. }) if o != owner => Some(o.clone()),
            _ => None,
        };
        keys.insert(key.clone(), KeyState::Claimed { owner: owner.to_owned(), until: lease_until });
        Ok(Claim::Acquired { taken_over })
    }

    async fn complete(&self, key: &IdempotencyKey, _owner: &str, now: Timestamp) -> Result<(), PortError> {
        self.check()?;
        lock(&self.keys).insert(key.clone(), KeyState::Done { at: now });
        Ok(())
    }

    async fn release(&self, key: &IdempotencyKey, owner: &str) -> Result<(), PortError> {
        self.check()?;
        let mut keys = lock(&self.keys);
        if matches!(keys.get(key), Some(KeyState::Claimed { owner: o, .. }) if o == owner) {
            keys.remove(key);
        }
        Ok(())
    }

    async fn record_build(&self, record: &BuildRecord) -> Result<(), PortError> {
        self.check()?;
        lock(&self.builds).push(record.clone());
        Ok(())
    }

    async fn record_delivery(&self, delivery: &str, _now: Timestamp) -> Result<bool, PortError> {
        self.check()?;
        Ok(lock(&self.deliveries).insert(delivery.to_owned()))
    }

    async fn record_run_result(&self, result: &RunResult) -> Result<bool, PortError> {
        self.check()?;
        let mut found = false;
        for build in lock(&self.builds).iter_mut().filter(|b| b.run.as_ref().is_some_and(|r| r.id == result.run_id)) {
            build.result = Some(result.clone());
            found = true;
        }
        Ok(found)
    }
}

/// `MemoryBuildQueue`: keeps what was enqueued.
#[derive(Debug, Default)]
pub struct MemoryBuildQueue {
    messages: Mutex<Vec<(MessageId, BuildRequest)>>,
    pub fail_with: Mutex<Option<String>>,
}

impl MemoryBuildQueue {
    pub fn messages(&self) -> Vec<(MessageId, BuildRequest)> {
        lock(&self.messages).clone()
    }
}

#[async_trait]
impl BuildQueue for MemoryBuildQueue {
    async fn enqueue(&self, requests: &[BuildRequest]) -> Result<Vec<MessageId>, PortError> {
        if let Some(m) = lock(&self.fail_with).as_ref() {
            return Err(PortError::new(m.clone()));
        }
        let mut messages = lock(&self.messages);
        let mut ids = Vec::with_capacity(requests.len());
        for r in requests {
            let id = MessageId::parse(format!("m{}", messages.len() + 1)).map_err(|e| PortError::new(e.to_string()))?;
            messages.push((id.clone(), r.clone()));
            ids.push(id);
        }
        Ok(ids)
    }
}

/// `MemoryRefSource`: refs and changed files set by the test.
#[derive(Debug, Default)]
pub struct MemoryRefSource {
    refs: Mutex<BTreeMap<DatasourceId, Result<RefSnapshot, String>>>,
    changed: Mutex<BTreeMap<(CommitSha, CommitSha), Vec<String>>>,
}

impl MemoryRefSource {
    pub fn set(&self, id: &DatasourceId, refs: Vec<(RefKind, &str, &CommitSha)>) {
        let snapshot = RefSnapshot {
            refs: refs
                .into_iter()
                .filter_map(|(kind, name, commit)| {
                    Some(crate::model::RefHead { kind, name: RefName::parse(name).ok()?, commit: commit.clone() })
                })
                .collect(),
            newest_only: vec![],
        };
        lock(&self.refs).insert(id.clone(), Ok(snapshot));
    }

    pub fn fail(&self, id: &DatasourceId, message: &str) {
        lock(&self.refs).insert(id.clone(), Err(message.to_owned()));
    }

    pub fn set_changed(&self, from: &CommitSha, to: &CommitSha, files: &[&str]) {
        lock(&self.changed).insert((from.clone(), to.clone()), files.iter().map(|s| (*s).to_owned()).collect());
    }
}

#[async_trait]
impl RefSource for MemoryRefSource {
    async fn read_refs(&self, datasources: &[Datasource]) -> Vec<(DatasourceId, Result<RefSnapshot, PortError>)> {
        let refs = lock(&self.refs);
        datasources
            .iter()
            .map(|d| {
                let r = match refs.get(&d.id) {
                    Some(Ok(s)) => Ok(s.clone()),
                    Some(Err(m)) => Err(PortError::new(m.clone())),
                    None => Ok(RefSnapshot::default()),
                };
                (d.id.clone(), r)
            })
            .collect()
    }

    async fn changed_paths(
        &self,
        _ds: &Datasource,
        from: &CommitSha,
        to: &CommitSha,
    ) -> Result<Option<Vec<String>>, PortError> {
        Ok(lock(&self.changed).get(&(from.clone(), to.clone())).cloned())
    }
}

/// `RecordingBuildTarget`: records every dispatch; fails for targets listed in `failing`.
#[derive(Debug, Default)]
pub struct RecordingBuildTarget {
    pub dispatched: Mutex<Vec<(TargetId, BuildRequest)>>,
    pub failing: Mutex<Vec<TargetId>>,
}

#[async_trait]
impl BuildTarget for RecordingBuildTarget {
    async fn dispatch(
        &self,
        target_id: &TargetId,
        _target: &TargetSpec,
        request: &BuildRequest,
    ) -> Result<Dispatched, DispatchError> {
        lock(&self.dispatched).push((target_id.clone(), request.clone()));
        if lock(&self.failing).contains(target_id) {
            return Err(DispatchError { exit_code: Some(1), ..DispatchError::new("exit status 1") });
        }
        Ok(Dispatched { detail: "ok".into(), exit_code: Some(0), output: None, run: None })
    }
}

/// `RecordingNotifier`: keeps what it was asked to send.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    pub channels: Vec<String>,
    pub sent: Mutex<Vec<Notification>>,
    pub fail_with: Mutex<Option<String>>,
}

#[async_trait]
impl Notifier for RecordingNotifier {
    fn channels(&self) -> Vec<String> {
        self.channels.clone()
    }

    async fn send(&self, notification: &Notification) -> Result<(), PortError> {
        if let Some(m) = lock(&self.fail_with).as_ref() {
            return Err(PortError::new(m.clone()));
        }
        lock(&self.sent).push(notification.clone());
        Ok(())
    }
}
