//! `SqliteStateStore`: last-seen refs, idempotency claims, build and run records.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use repowatch_core::{
    BuildRecord, BuildStatus, Claim, DatasourceId, IdempotencyKey, Pending, PortError, RefChange, RefKind, RefName,
    RefState, RunResult, StateStore,
};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::{Db, DbError, corrupt, ns_to_ts, owner_is_dead, ts_to_ns};

/// [`StateStore`] on the shared SQLite file, plus the read helpers of `repowatch status`.
#[derive(Debug, Clone)]
pub struct SqliteStateStore {
    db: Arc<Db>,
}

/// A datasource that has been seen, with its last-seen refs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenDatasource {
    pub id: DatasourceId,
    pub first_seen_at: Timestamp,
    pub refs: Vec<RefState>,
}

/// A claim taken over from a dispatcher that died or outlived its lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Takeover {
    pub key: IdempotencyKey,
    pub from: String,
    pub by: String,
    pub at: Timestamp,
}

/// One pipeline execution as `repowatch status` lists it. Record it when it
/// starts (`status = "running"`, no `finished_at`) and again when it ends; the
/// second write replaces the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub started_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// `running`, `ok`, `partial`, `failed` (free text for the CLI).
    pub status: String,
    /// The run summary (or the execution's error), as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<serde_json::Value>,
}

impl SqliteStateStore {
    pub fn new(db: Arc<Db>) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// Every seen datasource with its refs, ordered by id.
    pub async fn list_refs_all(&self) -> Result<Vec<SeenDatasource>, PortError> {
        self.db
            .call("read last-seen refs", |conn| {
                let mut out = Vec::new();
                let mut stmt = conn.prepare("SELECT id, first_seen_at FROM datasources ORDER BY id")?;
                let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
                for row in rows {
                    let (id, first) = row?;
                    let id = DatasourceId::parse(id).map_err(|e| corrupt("datasource id", e))?;
                    out.push(SeenDatasource { refs: read_refs(conn, &id)?, id, first_seen_at: ns_to_ts(first) });
                }
                Ok(out)
            })
            .await
    }

    /// The newest `limit` build records, newest first.
    pub async fn recent_builds(&self, limit: usize) -> Result<Vec<BuildRecord>, PortError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .call("read build records", move |conn| {
                let mut stmt = conn.prepare(&format!("{BUILDS_WITH_RESULTS} ORDER BY b.id DESC LIMIT ?1"))?;
                let rows = stmt.query_map([limit], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))?;
                rows.map(|r| {
                    let (record, result) = r?;
                    with_result(&record, result.as_deref())
                })
                .collect()
            })
            .await
    }

    /// The last occurrence of schedule `name` that ran.
    pub async fn schedule_last_run(&self, name: &str) -> Result<Option<Timestamp>, PortError> {
        let name = name.to_owned();
        self.db
            .call("read the schedule", move |conn| {
                let at: Option<i64> = conn
                    .query_row("SELECT last_run FROM schedules WHERE name = ?1", [name], |r| r.get(0))
                    .optional()?;
                Ok(at.map(ns_to_ts))
            })
            .await
    }

    /// Remembers that the occurrence `at` of schedule `name` ran.
    pub async fn set_schedule_last_run(&self, name: &str, at: Timestamp) -> Result<(), PortError> {
        let name = name.to_owned();
        self.db
            .call("record the schedule", move |conn| {
                conn.execute(
                    "INSERT INTO schedules (name, last_run) VALUES (?1, ?2)
                     ON CONFLICT(name) DO UPDATE SET last_run = MAX(last_run, excluded.last_run)",
                    params![name, ts_to_ns(at)],
                )?;
                Ok(())
            })
            .await
    }

    /// Forgets a delivery id, so a request whose work could not be stored
    /// is accepted again when it is resent.
    pub async fn forget_delivery(&self, delivery: &str) -> Result<(), PortError> {
        let delivery = delivery.to_owned();
        self.db
            .call("forget the delivery", move |conn| {
                conn.execute("DELETE FROM deliveries WHERE id = ?1", [delivery])?;
                Ok(())
            })
            .await
    }

    /// Every dispatch attempt of one build, oldest first.
    /// The build whose dispatch started GitHub run `run_id`, if one did.
    pub async fn build_for_run(&self, run_id: u64) -> Result<Option<BuildRecord>, PortError> {
        let Ok(run_id) = i64::try_from(run_id) else { return Ok(None) };
        self.db
            .call("read the build of a workflow run", move |conn| {
                let record: Option<String> = conn
                    .query_row(
                        "SELECT record FROM builds WHERE run_id = ?1 ORDER BY started_at DESC LIMIT 1",
                        [run_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                record.as_deref().map(parse_record).transpose()
            })
            .await
    }

    pub async fn builds_for_key(&self, key: &IdempotencyKey) -> Result<Vec<BuildRecord>, PortError> {
        let key = key.as_str().to_owned();
        self.db
            .call("read build records", move |conn| {
                let mut stmt = conn.prepare(&format!("{BUILDS_WITH_RESULTS} WHERE b.key = ?1 ORDER BY b.id"))?;
                let rows = stmt.query_map([key], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))?;
                rows.map(|r| {
                    let (record, result) = r?;
                    with_result(&record, result.as_deref())
                })
                .collect()
            })
            .await
    }

    /// Claims taken over from a dead or expired dispatcher, oldest first: the
    /// builds whose target may have been called twice (the receiver can
    /// dedupe them on `REPOWATCH_KEY`).
    pub async fn takeovers(&self) -> Result<Vec<Takeover>, PortError> {
        self.db
            .call("read takeovers", |conn| {
                let mut stmt = conn.prepare("SELECT key, from_owner, by_owner, at FROM takeovers ORDER BY id")?;
                let rows =
                    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)?)))?;
                let mut out = Vec::new();
                for row in rows {
                    let (key, from, by, at) = row?;
                    let key =
                        IdempotencyKey::parse(key).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                    out.push(Takeover { key, from, by, at: ns_to_ts(at) });
                }
                Ok(out)
            })
            .await
    }

    /// Inserts or replaces the record of one run.
    pub async fn record_run(&self, run: &RunRecord) -> Result<(), PortError> {
        let run = run.clone();
        self.db
            .call("record the run", move |conn| {
                let summary = run.summary.as_ref().map(serde_json::Value::to_string);
                conn.execute(
                    "INSERT INTO runs (id, started_at, finished_at, status, summary) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(id) DO UPDATE SET started_at = excluded.started_at, finished_at = excluded.finished_at,
                         status = excluded.status, summary = excluded.summary",
                    params![run.id, ts_to_ns(run.started_at), run.finished_at.map(ts_to_ns), run.status, summary],
                )?;
                Ok(())
            })
            .await
    }

    /// The newest `limit` runs, newest first.
    pub async fn recent_runs(&self, limit: usize) -> Result<Vec<RunRecord>, PortError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .call("read runs", move |conn| {
                let mut stmt =
                    conn.prepare("SELECT id, started_at, finished_at, status, summary FROM runs ORDER BY started_at DESC, id DESC LIMIT ?1")?;
                let rows = stmt.query_map([limit], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<i64>>(2)?, r.get::<_, String>(3)?, r.get::<_, Option<String>>(4)?))
                })?;
                let mut out = Vec::new();
                for row in rows {
                    let (id, started, finished, status, summary) = row?;
                    let summary = match summary {
                        Some(text) => Some(serde_json::from_str(&text).map_err(|e| corrupt("run summary", e))?),
                        None => None,
                    };
                    out.push(RunRecord { id, started_at: ns_to_ts(started), finished_at: finished.map(ns_to_ts), status, summary });
                }
                Ok(out)
            })
            .await
    }
}

fn parse_record(text: &str) -> Result<BuildRecord, DbError> {
    serde_json::from_str(text).map_err(|e| corrupt("build record", e))
}

/// Build records with the latest workflow_run report of their run.
const BUILDS_WITH_RESULTS: &str =
    "SELECT b.record, w.result FROM builds b LEFT JOIN workflow_runs w ON w.run_id = b.run_id";

fn with_result(record: &str, result: Option<&str>) -> Result<BuildRecord, DbError> {
    let mut build = parse_record(record)?;
    if let Some(result) = result {
        build.result = Some(serde_json::from_str(result).map_err(|e| corrupt("workflow run result", e))?);
    }
    Ok(build)
}

fn kind_from_str(s: &str) -> Result<RefKind, DbError> {
    match s {
        "branch" => Ok(RefKind::Branch),
        "tag" => Ok(RefKind::Tag),
        "release" => Ok(RefKind::Release),
        other => Err(corrupt("ref kind", other)),
    }
}

fn read_refs(conn: &rusqlite::Connection, id: &DatasourceId) -> Result<Vec<RefState>, DbError> {
    let mut stmt = conn.prepare(
        "SELECT kind, ref, commit_sha, observed_at, pending FROM refs WHERE datasource = ?1 ORDER BY kind, ref",
    )?;
    let rows = stmt.query_map([id.as_str()], |r: &Row<'_>| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (kind, name, commit, observed, pending) = row?;
        let pending: Option<Pending> = match pending {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| corrupt("pending build", e))?),
            None => None,
        };
        out.push(RefState {
            kind: kind_from_str(&kind)?,
            name: RefName::parse(name).map_err(|e| corrupt("ref name", e))?,
            commit: repowatch_core::CommitSha::parse(commit).map_err(|e| corrupt("commit", e))?,
            observed_at: ns_to_ts(observed),
            pending,
        });
    }
    Ok(out)
}

#[async_trait]
impl StateStore for SqliteStateStore {
    async fn load_refs(&self, datasource: &DatasourceId) -> Result<Option<Vec<RefState>>, PortError> {
        let id = datasource.clone();
        self.db
            .call("read last-seen refs", move |conn| {
                let tx = conn.transaction()?;
                let seen: Option<i64> =
                    tx.query_row("SELECT 1 FROM datasources WHERE id = ?1", [id.as_str()], |r| r.get(0)).optional()?;
                if seen.is_none() {
                    return Ok(None);
                }
                Ok(Some(read_refs(&tx, &id)?))
            })
            .await
    }

    async fn commit_refs(
        &self,
        datasource: &DatasourceId,
        changes: &[RefChange],
        now: Timestamp,
    ) -> Result<(), PortError> {
        let id = datasource.clone();
        let changes = changes.to_vec();
        self.db
            .call("commit last-seen refs", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.execute("INSERT OR IGNORE INTO datasources (id, first_seen_at) VALUES (?1, ?2)", params![id.as_str(), ts_to_ns(now)])?;
                for change in &changes {
                    match change {
                        RefChange::Upsert(s) => {
                            let pending = match &s.pending {
                                Some(p) => Some(serde_json::to_string(p).map_err(|e| PortError::with_source("cannot encode a pending build", e))?),
                                None => None,
                            };
                            tx.execute(
                                "INSERT INTO refs (datasource, kind, ref, commit_sha, observed_at, pending) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                                 ON CONFLICT(datasource, kind, ref) DO UPDATE SET commit_sha = excluded.commit_sha,
                                     observed_at = excluded.observed_at, pending = excluded.pending",
                                params![id.as_str(), s.kind.as_str(), s.name.as_str(), s.commit.as_str(), ts_to_ns(s.observed_at), pending],
                            )?;
                        }
                        RefChange::Delete { kind, name } => {
                            tx.execute(
                                "DELETE FROM refs WHERE datasource = ?1 AND kind = ?2 AND ref = ?3",
                                params![id.as_str(), kind.as_str(), name.as_str()],
                            )?;
                        }
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn claim(
        &self,
        key: &IdempotencyKey,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Claim, PortError> {
        let key = key.as_str().to_owned();
        let owner = owner.to_owned();
        let workers = self.db.workers_dir();
        self.db
            .call("claim the idempotency key", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let current: Option<(String, String, Option<i64>, Option<i64>)> = tx
                    .query_row("SELECT state, owner, lease_until, done_at FROM idempotency WHERE key = ?1", [&key], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .optional()?;
                let taken_over = match current {
                    Some((state, _, _, done_at)) if state == "done" => {
                        return Ok(Claim::Done { at: ns_to_ts(done_at.unwrap_or(0)) });
                    }
                    Some((_, holder, lease, _)) if holder != owner => {
                        let until = ns_to_ts(lease.unwrap_or(i64::MIN));
                        if until > now && !owner_is_dead(&workers, &holder) {
                            return Ok(Claim::Held { owner: holder, until });
                        }
                        Some(holder)
                    }
                    _ => None,
                };
                if let Some(previous) = &taken_over {
                    tx.execute(
                        "INSERT INTO takeovers (key, from_owner, by_owner, at) VALUES (?1, ?2, ?3, ?4)",
                        params![key, previous, owner, ts_to_ns(now)],
                    )?;
                }
                tx.execute(
                    "INSERT INTO idempotency (key, state, owner, lease_until, done_at) VALUES (?1, 'claimed', ?2, ?3, NULL)
                     ON CONFLICT(key) DO UPDATE SET state = 'claimed', owner = excluded.owner, lease_until = excluded.lease_until, done_at = NULL",
                    params![key, owner, ts_to_ns(lease_until)],
                )?;
                tx.commit()?;
                Ok(Claim::Acquired { taken_over })
            })
            .await
    }

    async fn complete(&self, key: &IdempotencyKey, owner: &str, now: Timestamp) -> Result<(), PortError> {
        let key = key.as_str().to_owned();
        let owner = owner.to_owned();
        self.db
            .call("mark the idempotency key done", move |conn| {
                // Unconditional, as on AWS: the build happened, whoever holds the claim now.
                conn.execute(
                    "INSERT INTO idempotency (key, state, owner, lease_until, done_at) VALUES (?1, 'done', ?2, NULL, ?3)
                     ON CONFLICT(key) DO UPDATE SET state = 'done', owner = excluded.owner, lease_until = NULL, done_at = excluded.done_at",
                    params![key, owner, ts_to_ns(now)],
                )?;
                Ok(())
            })
            .await
    }

    async fn release(&self, key: &IdempotencyKey, owner: &str) -> Result<(), PortError> {
        let key = key.as_str().to_owned();
        let owner = owner.to_owned();
        self.db
            .call("release the idempotency key", move |conn| {
                conn.execute(
                    "DELETE FROM idempotency WHERE key = ?1 AND state = 'claimed' AND owner = ?2",
                    params![key, owner],
                )?;
                Ok(())
            })
            .await
    }

    async fn record_delivery(&self, delivery: &str, now: Timestamp) -> Result<bool, PortError> {
        let delivery = delivery.to_owned();
        self.db
            .call("record the webhook delivery", move |conn| {
                let inserted = conn.execute(
                    "INSERT INTO deliveries (id, received_at) VALUES (?1, ?2) ON CONFLICT(id) DO NOTHING",
                    params![delivery, ts_to_ns(now)],
                )?;
                Ok(inserted == 1)
            })
            .await
    }

    async fn record_run_result(&self, result: &RunResult) -> Result<bool, PortError> {
        let result = result.clone();
        let run_id = i64::try_from(result.run_id)
            .map_err(|_| PortError::new(format!("workflow run id {} is out of range", result.run_id)))?;
        self.db
            .call("record the workflow run result", move |conn| {
                let json = serde_json::to_string(&result)
                    .map_err(|e| PortError::with_source("cannot encode the run result", e))?;
                let completed = i64::from(result.status == "completed");
                // Reports may arrive out of order: a completed run stays completed.
                conn.execute(
                    "INSERT INTO workflow_runs (run_id, completed, result, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(run_id) DO UPDATE SET completed = excluded.completed, result = excluded.result,
                                                       updated_at = excluded.updated_at
                     WHERE excluded.completed >= workflow_runs.completed",
                    params![run_id, completed, json, ts_to_ns(result.updated_at)],
                )?;
                let known: i64 =
                    conn.query_row("SELECT COUNT(*) FROM builds WHERE run_id = ?1", [run_id], |r| r.get(0))?;
                Ok(known > 0)
            })
            .await
    }

    async fn record_build(&self, record: &BuildRecord) -> Result<(), PortError> {
        let r = record.clone();
        self.db
            .call("record the build", move |conn| {
                let json = serde_json::to_string(&r).map_err(|e| PortError::with_source("cannot encode the build record", e))?;
                let status = match r.status {
                    BuildStatus::Succeeded => "succeeded",
                    BuildStatus::Failed => "failed",
                };
                conn.execute(
                    "INSERT INTO builds (key, datasource, ref, commit_sha, target, message_id, receive_count, started_at, finished_at,
                                         status, detail, exit_code, output, took_over_from, record, run_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                    params![
                        r.request.key.as_str(),
                        r.request.datasource.as_str(),
                        r.request.git_ref.as_str(),
                        r.request.commit.as_str(),
                        r.request.target.as_str(),
                        r.message_id.as_str(),
                        r.receive_count,
                        ts_to_ns(r.started_at),
                        ts_to_ns(r.finished_at),
                        status,
                        r.detail,
                        r.exit_code,
                        r.output,
                        r.took_over_from,
                        json,
                        r.run.as_ref().and_then(|run| i64::try_from(run.id).ok()),
                    ],
                )?;
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use repowatch_core::{CommitSha, DetectionSource, MessageId, RunId, TargetId};

    use super::*;
    use crate::store::{Owner, add};

    fn store(dir: &std::path::Path) -> SqliteStateStore {
        SqliteStateStore::new(Arc::new(Db::open(dir).unwrap()))
    }

    fn ds(id: &str) -> DatasourceId {
        DatasourceId::parse(id).unwrap()
    }

    fn sha(c: char) -> CommitSha {
        CommitSha::parse(c.to_string().repeat(40)).unwrap()
    }

    fn state(name: &str, c: char, at: Timestamp) -> RefState {
        let name = RefName::parse(name).unwrap();
        RefState { kind: name.natural_kind(), name, commit: sha(c), observed_at: at, pending: None }
    }

    fn key(n: char) -> IdempotencyKey {
        IdempotencyKey::parse(n.to_string().repeat(64)).unwrap()
    }

    #[tokio::test]
    async fn unseen_then_seen_with_exact_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        assert_eq!(s.load_refs(&ds("api")).await.unwrap(), None);

        // Committing no changes still marks the datasource seen (an empty baseline).
        let now = Timestamp::now();
        s.commit_refs(&ds("empty"), &[], now).await.unwrap();
        assert_eq!(s.load_refs(&ds("empty")).await.unwrap(), Some(vec![]));

        let mut main = state("refs/heads/main", 'a', now);
        main.pending = Some(Pending { base: Some(sha('0')), source: DetectionSource::Webhook });
        let tag = state("refs/tags/v1", 'b', now);
        s.commit_refs(&ds("api"), &[RefChange::Upsert(main.clone()), RefChange::Upsert(tag.clone())], now)
            .await
            .unwrap();
        assert_eq!(s.load_refs(&ds("api")).await.unwrap(), Some(vec![main.clone(), tag.clone()]));

        // Upsert replaces, delete removes, other datasources are untouched.
        let main2 = state("refs/heads/main", 'c', add(now, Duration::from_secs(1)));
        s.commit_refs(
            &ds("api"),
            &[RefChange::Upsert(main2.clone()), RefChange::Delete { kind: RefKind::Tag, name: tag.name.clone() }],
            now,
        )
        .await
        .unwrap();
        assert_eq!(s.load_refs(&ds("api")).await.unwrap(), Some(vec![main2.clone()]));

        // The data survives reopening the file.
        drop(s);
        let s = store(dir.path());
        let all = s.list_refs_all().await.unwrap();
        assert_eq!(all.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["api", "empty"]);
        assert_eq!(all[0].refs, vec![main2]);
        assert_eq!(all[0].first_seen_at, now);
    }

    #[tokio::test]
    async fn commit_refs_is_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let now = Timestamp::now();
        s.commit_refs(&ds("api"), &[RefChange::Upsert(state("refs/heads/main", 'a', now))], now).await.unwrap();
        // Make the second upsert fail inside the transaction (a CHECK the store never violates itself).
        s.db.call("add trigger", |c| {
            Ok(c.execute_batch(
                "CREATE TRIGGER boom BEFORE INSERT ON refs WHEN NEW.ref = 'refs/heads/poison' BEGIN SELECT RAISE(ABORT, 'boom'); END;",
            )?)
        })
        .await
        .unwrap();
        let err = s
            .commit_refs(
                &ds("api"),
                &[
                    RefChange::Upsert(state("refs/heads/main", 'b', now)),
                    RefChange::Upsert(state("refs/heads/poison", 'c', now)),
                ],
                now,
            )
            .await
            .unwrap_err();
        assert!(err.chain().contains("boom"), "{}", err.chain());
        assert_eq!(
            s.load_refs(&ds("api")).await.unwrap().unwrap()[0].commit,
            sha('a'),
            "nothing of the failed commit applied"
        );
        // Nor is a never-seen datasource marked seen by a failed commit.
        assert!(
            s.commit_refs(&ds("new"), &[RefChange::Upsert(state("refs/heads/poison", 'c', now))], now).await.is_err()
        );
        assert_eq!(s.load_refs(&ds("new")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_delivery_id_is_recorded_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let now = Timestamp::now();
        assert!(s.record_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", now).await.unwrap());
        assert!(!s.record_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", now).await.unwrap(), "redelivery");
        assert!(s.record_delivery("another", now).await.unwrap());
    }

    #[tokio::test]
    async fn claim_complete_release_and_lease_takeover() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let t0 = Timestamp::now();
        let lease = add(t0, Duration::from_secs(60));
        let k = key('a');

        assert_eq!(s.claim(&k, "w1", t0, lease).await.unwrap(), Claim::Acquired { taken_over: None });
        assert_eq!(s.claim(&k, "w2", t0, lease).await.unwrap(), Claim::Held { owner: "w1".into(), until: lease });
        // The holder may claim again (a redelivery to the same worker).
        assert_eq!(s.claim(&k, "w1", t0, lease).await.unwrap(), Claim::Acquired { taken_over: None });

        // release by a non-holder does nothing; by the holder frees the key.
        s.release(&k, "w2").await.unwrap();
        assert!(matches!(s.claim(&k, "w2", t0, lease).await.unwrap(), Claim::Held { .. }));
        s.release(&k, "w1").await.unwrap();
        assert_eq!(s.claim(&k, "w2", t0, lease).await.unwrap(), Claim::Acquired { taken_over: None });

        // After the lease, another dispatcher takes over and is told whom from.
        let later = add(lease, Duration::from_millis(1));
        assert_eq!(
            s.claim(&k, "w3", later, add(later, Duration::from_secs(60))).await.unwrap(),
            Claim::Acquired { taken_over: Some("w2".into()) }
        );

        let done_at = add(later, Duration::from_secs(5));
        s.complete(&k, "w3", done_at).await.unwrap();
        assert_eq!(s.claim(&k, "w4", done_at, lease).await.unwrap(), Claim::Done { at: done_at });
        s.release(&k, "w3").await.unwrap();
        assert_eq!(
            s.claim(&k, "w3", done_at, lease).await.unwrap(),
            Claim::Done { at: done_at },
            "release never undoes done"
        );
    }

    #[tokio::test]
    async fn claim_of_a_dead_worker_is_taken_over_before_its_lease_ends() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let t0 = Timestamp::now();
        let lease = add(t0, Duration::from_secs(3600));
        let k = key('b');
        let alive = Owner::register(dir.path()).unwrap();
        let doomed = Owner::register(dir.path()).unwrap();
        let doomed_id = doomed.as_str().to_owned();

        assert_eq!(s.claim(&k, doomed.as_str(), t0, lease).await.unwrap(), Claim::Acquired { taken_over: None });
        assert!(
            matches!(s.claim(&k, alive.as_str(), t0, lease).await.unwrap(), Claim::Held { .. }),
            "live holder keeps it"
        );
        drop(doomed); // the process exits: its lock is gone
        assert_eq!(
            s.claim(&k, alive.as_str(), t0, lease).await.unwrap(),
            Claim::Acquired { taken_over: Some(doomed_id) }
        );
    }

    #[tokio::test]
    async fn builds_and_runs_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let now = Timestamp::now();
        let req = repowatch_core::BuildRequest::new(
            ds("api"),
            RefName::parse("refs/heads/main").unwrap(),
            sha('a'),
            RefKind::Branch,
            DetectionSource::Manual,
            TargetId::parse("local").unwrap(),
            now,
            RunId::parse("r1").unwrap(),
        );
        let mut rec = BuildRecord {
            request: req.clone(),
            message_id: MessageId::parse("m1").unwrap(),
            receive_count: 1,
            started_at: now,
            finished_at: now,
            status: BuildStatus::Failed,
            detail: "exit 3 in 0.1 s".into(),
            exit_code: Some(3),
            output: Some("boom\n".into()),
            run: None,
            result: None,
            took_over_from: None,
        };
        s.record_build(&rec).await.unwrap();
        rec.status = BuildStatus::Succeeded;
        rec.receive_count = 2;
        rec.took_over_from = Some("worker-1-aa".into());
        s.record_build(&rec).await.unwrap();
        let by_key = s.builds_for_key(&req.key).await.unwrap();
        assert_eq!(by_key.len(), 2);
        assert_eq!(by_key[1], rec);
        assert_eq!(s.recent_builds(1).await.unwrap(), vec![rec]);
        assert!(s.builds_for_key(&key('f')).await.unwrap().is_empty());

        let mut run = RunRecord {
            id: "run-1".into(),
            started_at: now,
            finished_at: None,
            status: "running".into(),
            summary: None,
        };
        s.record_run(&run).await.unwrap();
        run.finished_at = Some(add(now, Duration::from_secs(2)));
        run.status = "ok".into();
        run.summary = Some(serde_json::json!({"status": "ok", "totals": {"datasources": 1}}));
        s.record_run(&run).await.unwrap();
        let run2 = RunRecord { id: "run-2".into(), started_at: add(now, Duration::from_secs(10)), ..run.clone() };
        s.record_run(&run2).await.unwrap();
        assert_eq!(s.recent_runs(10).await.unwrap(), vec![run2, run]);
    }

    #[tokio::test]
    async fn workflow_run_results_attach_to_the_build_that_started_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let result = |status: &str, conclusion: Option<&str>, at: i64| RunResult {
            run_id: 42,
            status: status.into(),
            conclusion: conclusion.map(Into::into),
            url: Some("https://github.com/o/r/actions/runs/42".into()),
            updated_at: Timestamp::from_second(at).unwrap(),
        };
        // GitHub may announce the run before the dispatcher records the build.
        assert!(!s.record_run_result(&result("queued", None, 1)).await.unwrap());
        let req = repowatch_core::BuildRequest::new(
            ds("api"),
            RefName::parse("refs/heads/main").unwrap(),
            sha('a'),
            RefKind::Branch,
            DetectionSource::Webhook,
            TargetId::parse("deploy").unwrap(),
            now,
            repowatch_core::RunId::parse("run-1").unwrap(),
        );
        let rec = BuildRecord {
            request: req.clone(),
            message_id: MessageId::parse("m1").unwrap(),
            receive_count: 1,
            started_at: now,
            finished_at: now,
            status: BuildStatus::Succeeded,
            detail: "workflow run 42".into(),
            exit_code: None,
            output: None,
            run: Some(repowatch_core::RunLink { id: 42, url: "https://github.com/o/r/actions/runs/42".into() }),
            result: None,
            took_over_from: None,
        };
        s.record_build(&rec).await.unwrap();
        assert_eq!(s.builds_for_key(&req.key).await.unwrap()[0].result, Some(result("queued", None, 1)));
        assert!(s.record_run_result(&result("completed", Some("failure"), 3)).await.unwrap());
        // A late in_progress report does not undo the completion.
        assert!(s.record_run_result(&result("in_progress", None, 2)).await.unwrap());
        let got = s.recent_builds(1).await.unwrap().remove(0).result.unwrap();
        assert_eq!((got.status.as_str(), got.conclusion.as_deref()), ("completed", Some("failure")));
        // Another run id is not ours.
        assert!(!s.record_run_result(&RunResult { run_id: 7, ..result("completed", None, 4) }).await.unwrap());
    }
}
