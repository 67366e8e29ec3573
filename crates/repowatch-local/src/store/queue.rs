//! `SqliteBuildQueue`: the build queue and its dead-letter queue, with SQS
//! semantics — visibility timeouts, at-least-once delivery, and after
//! [`MAX_RECEIVES`] receives a message is parked in the DLQ instead of being
//! delivered again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use repowatch_core::steps::QueueMessage;
use repowatch_core::{BuildQueue, BuildRequest, Clock, MessageId, PortError, SystemClock};
use rusqlite::{Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::owner::random_hex;
use super::{Db, DbError, Owner, add, corrupt, ns_to_ts, owner_is_dead, ts_to_ns};

/// A message received this many times is moved to the DLQ at its next receive
/// (SQS `maxReceiveCount`).
pub const MAX_RECEIVES: u32 = 5;

/// The build queue on the shared SQLite file. The producer side is the
/// [`BuildQueue`] port; the consumer side (`receive`, `delete`, `retry`, …) is
/// for the local worker.
#[derive(Clone)]
pub struct SqliteBuildQueue {
    db: Arc<Db>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqliteBuildQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBuildQueue").field("db", &self.db).finish_non_exhaustive()
    }
}

/// One delivered message. Delete it after handling, or retry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: MessageId,
    /// Deliveries so far, this one included (SQS `ApproximateReceiveCount`).
    pub receive_count: u32,
    pub body: BuildRequest,
    pub enqueued_at: Timestamp,
    /// Why the previous delivery failed, if it did.
    pub last_error: Option<String>,
}

impl Received {
    /// The message as dispatch-build takes it.
    pub fn to_queue_message(&self) -> QueueMessage {
        QueueMessage { message_id: self.message_id.clone(), receive_count: self.receive_count, body: self.body.clone() }
    }
}

/// A parked message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DlqEntry {
    pub message_id: MessageId,
    /// The message body as enqueued (JSON of a [`BuildRequest`], unless it was
    /// parked because it is not one).
    pub body: String,
    pub receive_count: u32,
    pub moved_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl DlqEntry {
    pub fn request(&self) -> Result<BuildRequest, serde_json::Error> {
        serde_json::from_str(&self.body)
    }
}

impl SqliteBuildQueue {
    pub fn new(db: Arc<Db>) -> Self {
        Self::with_clock(db, Arc::new(SystemClock))
    }

    /// For tests: visibility and timestamps follow `clock`.
    pub fn with_clock(db: Arc<Db>, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// Receives up to `max` visible messages, oldest first, hiding them from
    /// other consumers for `visibility`. Messages held by a dead owner count as
    /// visible. A message already received [`MAX_RECEIVES`] times, or whose body
    /// is not a build request, is moved to the DLQ instead of being delivered.
    /// One IMMEDIATE transaction: two consumers never receive the same message.
    pub async fn receive(&self, owner: &Owner, max: usize, visibility: Duration) -> Result<Vec<Received>, PortError> {
        if max == 0 {
            return Ok(vec![]);
        }
        let owner = owner.as_str().to_owned();
        let now = self.clock.now();
        let workers = self.db.workers_dir();
        self.db
            .call("receive from the build queue", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now_ns = ts_to_ns(now);
                free_dead_owners(&tx, &workers, now_ns)?;
                let hidden_until = ts_to_ns(add(now, visibility));
                let mut out = Vec::new();
                loop {
                    let want = i64::try_from(max - out.len()).unwrap_or(i64::MAX);
                    let batch: Vec<(i64, String, String, u32, i64, Option<String>)> = {
                        let mut stmt = tx.prepare(
                            "SELECT seq, message_id, body, receive_count, enqueued_at, last_error FROM queue
                             WHERE visible_at <= ?1 ORDER BY enqueued_at, seq LIMIT ?2",
                        )?;
                        stmt.query_map(params![now_ns, want], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
                            .collect::<Result<_, _>>()?
                    };
                    if batch.is_empty() {
                        break;
                    }
                    for (seq, id, body, count, enqueued, last_error) in batch {
                        if count >= MAX_RECEIVES {
                            let why = last_error.unwrap_or_else(|| format!("received {count} times without being deleted"));
                            park(&tx, seq, &id, &body, count, now_ns, &why)?;
                            tracing::warn!(message_id = %id, receive_count = count, "moved a message to the dead-letter queue");
                            continue;
                        }
                        let parsed = serde_json::from_str::<BuildRequest>(&body).map_err(|e| e.to_string()).and_then(|b| {
                            MessageId::parse(id.clone()).map(|m| (m, b)).map_err(|e| e.to_string())
                        });
                        let (message_id, request) = match parsed {
                            Ok(v) => v,
                            Err(e) => {
                                park(&tx, seq, &id, &body, count, now_ns, &format!("not a build request: {e}"))?;
                                tracing::warn!(message_id = %id, error = %e, "parked a malformed message in the dead-letter queue");
                                continue;
                            }
                        };
                        tx.execute(
                            "UPDATE queue SET receive_count = receive_count + 1, owner = ?1, visible_at = ?2 WHERE seq = ?3",
                            params![owner, hidden_until, seq],
                        )?;
                        out.push(Received { message_id, receive_count: count + 1, body: request, enqueued_at: ns_to_ts(enqueued), last_error });
                    }
                    if out.len() >= max {
                        break;
                    }
                }
                tx.commit()?;
                Ok(out)
            })
            .await
    }

    /// Acknowledges a handled message. `false` when `owner` no longer holds it
    /// (its visibility ran out and another consumer received it).
    pub async fn delete(&self, message_id: &MessageId, owner: &Owner) -> Result<bool, PortError> {
        let (id, owner) = (message_id.as_str().to_owned(), owner.as_str().to_owned());
        self.db
            .call("delete from the build queue", move |conn| {
                Ok(conn.execute("DELETE FROM queue WHERE message_id = ?1 AND owner = ?2", params![id, owner])? > 0)
            })
            .await
    }

    /// A failed delivery: visible again now, `error` kept for the DLQ.
    pub async fn retry(&self, message_id: &MessageId, owner: &Owner, error: &str) -> Result<bool, PortError> {
        self.retry_after(message_id, owner, error, Duration::ZERO).await
    }

    /// A failed delivery, visible again after `delay` (e.g. while another
    /// dispatcher holds the key, so the retries are not used up at once).
    pub async fn retry_after(
        &self,
        message_id: &MessageId,
        owner: &Owner,
        error: &str,
        delay: Duration,
    ) -> Result<bool, PortError> {
        let (id, owner, error) = (message_id.as_str().to_owned(), owner.as_str().to_owned(), error.to_owned());
        let visible_at = ts_to_ns(add(self.clock.now(), delay));
        self.db
            .call("return a message to the build queue", move |conn| {
                Ok(conn.execute(
                    "UPDATE queue SET owner = NULL, visible_at = ?1, last_error = ?2 WHERE message_id = ?3 AND owner = ?4",
                    params![visible_at, error, id, owner],
                )? > 0)
            })
            .await
    }

    /// Keeps a message hidden for `visibility` from now (a long build). `false`
    /// when `owner` no longer holds it.
    pub async fn extend_visibility(
        &self,
        message_id: &MessageId,
        owner: &Owner,
        visibility: Duration,
    ) -> Result<bool, PortError> {
        let (id, owner) = (message_id.as_str().to_owned(), owner.as_str().to_owned());
        let visible_at = ts_to_ns(add(self.clock.now(), visibility));
        self.db
            .call("extend a message's visibility", move |conn| {
                Ok(conn.execute(
                    "UPDATE queue SET visible_at = ?1 WHERE message_id = ?2 AND owner = ?3",
                    params![visible_at, id, owner],
                )? > 0)
            })
            .await
    }

    /// Graceful shutdown: every message `owner` holds becomes visible now, and
    /// the receive that handed it out does not count. Returns how many.
    pub async fn release_owner(&self, owner: &Owner) -> Result<usize, PortError> {
        let owner = owner.as_str().to_owned();
        let now = ts_to_ns(self.clock.now());
        self.db
            .call("release messages", move |conn| {
                Ok(conn.execute(
                    "UPDATE queue SET owner = NULL, visible_at = ?1, receive_count = MAX(receive_count - 1, 0)
                     WHERE owner = ?2 AND visible_at > ?1",
                    params![now, owner],
                )?)
            })
            .await
    }

    /// The parked messages, oldest first.
    pub async fn dlq_list(&self) -> Result<Vec<DlqEntry>, PortError> {
        self.db
            .call("read the dead-letter queue", |conn| {
                let mut stmt = conn.prepare("SELECT message_id, body, receive_count, moved_at, last_error FROM dlq ORDER BY moved_at, message_id")?;
                let rows = stmt.query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, u32>(2)?, r.get::<_, i64>(3)?, r.get::<_, Option<String>>(4)?))
                })?;
                let mut out = Vec::new();
                for row in rows {
                    let (id, body, receive_count, moved, last_error) = row?;
                    let message_id = MessageId::parse(id).map_err(|e| corrupt("message id", e))?;
                    out.push(DlqEntry { message_id, body, receive_count, moved_at: ns_to_ts(moved), last_error });
                }
                Ok(out)
            })
            .await
    }

    /// Moves parked messages back to the queue with a fresh receive count:
    /// those named in `ids` (unknown ids are ignored), or all when `None`.
    /// Returns how many moved.
    pub async fn dlq_redrive(&self, ids: Option<&[MessageId]>) -> Result<usize, PortError> {
        let ids: Option<Vec<String>> = ids.map(|ids| ids.iter().map(|m| m.as_str().to_owned()).collect());
        let now = ts_to_ns(self.clock.now());
        self.db
            .call("redrive the dead-letter queue", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let selected: Vec<String> = match ids {
                    Some(ids) => ids,
                    None => {
                        let mut stmt = tx.prepare("SELECT message_id FROM dlq ORDER BY moved_at, message_id")?;
                        stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
                    }
                };
                let mut moved = 0;
                for id in selected {
                    let n = tx.execute(
                        "INSERT OR REPLACE INTO queue (message_id, body, enqueued_at, receive_count, visible_at, owner, last_error)
                         SELECT message_id, body, ?1, 0, ?1, NULL, last_error FROM dlq WHERE message_id = ?2",
                        params![now, id],
                    )?;
                    tx.execute("DELETE FROM dlq WHERE message_id = ?1", [&id])?;
                    moved += n;
                }
                tx.commit()?;
                Ok(moved)
            })
            .await
    }

    /// `(visible, in flight, in the DLQ)`.
    pub async fn depth(&self) -> Result<(u64, u64, u64), PortError> {
        let now = ts_to_ns(self.clock.now());
        self.db
            .call("read the queue depth", move |conn| {
                let tx = conn.transaction()?;
                let visible: u64 =
                    tx.query_row("SELECT COUNT(*) FROM queue WHERE visible_at <= ?1", [now], |r| r.get(0))?;
                let in_flight: u64 =
                    tx.query_row("SELECT COUNT(*) FROM queue WHERE visible_at > ?1", [now], |r| r.get(0))?;
                let dlq: u64 = tx.query_row("SELECT COUNT(*) FROM dlq", [], |r| r.get(0))?;
                Ok((visible, in_flight, dlq))
            })
            .await
    }
}

/// Messages in flight with an owner whose process is gone become visible now,
/// keeping their receive count (a message that keeps killing its worker still
/// ends in the DLQ).
fn free_dead_owners(tx: &Transaction<'_>, workers: &std::path::Path, now_ns: i64) -> Result<(), DbError> {
    let owners: Vec<String> = {
        let mut stmt = tx.prepare("SELECT DISTINCT owner FROM queue WHERE owner IS NOT NULL AND visible_at > ?1")?;
        stmt.query_map([now_ns], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    for owner in owners {
        if owner_is_dead(workers, &owner) {
            let n = tx.execute(
                "UPDATE queue SET owner = NULL, visible_at = ?1 WHERE owner = ?2 AND visible_at > ?1",
                params![now_ns, owner],
            )?;
            tracing::info!(owner = %owner, messages = n, "a worker died; its messages are visible again");
        }
    }
    Ok(())
}

fn park(
    tx: &Transaction<'_>,
    seq: i64,
    id: &str,
    body: &str,
    count: u32,
    now_ns: i64,
    why: &str,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT OR REPLACE INTO dlq (message_id, body, receive_count, moved_at, last_error) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, body, count, now_ns, why],
    )?;
    tx.execute("DELETE FROM queue WHERE seq = ?1", [seq])?;
    Ok(())
}

#[async_trait]
impl BuildQueue for SqliteBuildQueue {
    async fn enqueue(&self, requests: &[BuildRequest]) -> Result<Vec<MessageId>, PortError> {
        let mut rows = Vec::with_capacity(requests.len());
        for r in requests {
            let body =
                serde_json::to_string(r).map_err(|e| PortError::with_source("cannot encode a build request", e))?;
            let id =
                MessageId::parse(random_hex(16)).map_err(|e| PortError::with_source("cannot make a message id", e))?;
            rows.push((id, body));
        }
        let now = ts_to_ns(self.clock.now());
        self.db
            .call("enqueue builds", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                for (id, body) in &rows {
                    tx.execute(
                        "INSERT INTO queue (message_id, body, enqueued_at, receive_count, visible_at) VALUES (?1, ?2, ?3, 0, ?3)",
                        params![id.as_str(), body, now],
                    )?;
                }
                tx.commit()?;
                Ok(rows.into_iter().map(|(id, _)| id).collect())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use repowatch_core::fakes::ManualClock;
    use repowatch_core::{CommitSha, DatasourceId, DetectionSource, RefKind, RefName, RunId, TargetId};

    use super::*;

    fn request(n: u32) -> BuildRequest {
        BuildRequest::new(
            DatasourceId::parse("api").unwrap(),
            RefName::parse(format!("refs/heads/b{n}")).unwrap(),
            CommitSha::parse(format!("{n:040x}")).unwrap(),
            RefKind::Branch,
            DetectionSource::Schedule,
            TargetId::parse("local").unwrap(),
            Timestamp::UNIX_EPOCH,
            RunId::parse("r1").unwrap(),
        )
    }

    struct Fixture {
        dir: tempfile::TempDir,
        clock: Arc<ManualClock>,
        queue: SqliteBuildQueue,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp::now()));
        let queue = SqliteBuildQueue::with_clock(Arc::new(Db::open(dir.path()).unwrap()), clock.clone());
        Fixture { dir, clock, queue }
    }

    const VIS: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn enqueue_receive_visibility_delete() {
        let f = fixture();
        let w = Owner::register(f.dir.path()).unwrap();
        let ids = f.queue.enqueue(&[request(1), request(2)]).await.unwrap();
        assert_eq!(ids.len(), 2);
        assert!(ids.iter().all(|id| id.as_str().len() == 32));
        assert_eq!(f.queue.depth().await.unwrap(), (2, 0, 0));

        let got = f.queue.receive(&w, 1, VIS).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].message_id.clone(), got[0].receive_count, got[0].body.clone()),
            (ids[0].clone(), 1, request(1)),
            "oldest first"
        );
        assert_eq!(got[0].to_queue_message().receive_count, 1);
        assert_eq!(f.queue.depth().await.unwrap(), (1, 1, 0));

        // Hidden while in flight; the other one is still there.
        let second = f.queue.receive(&w, 10, VIS).await.unwrap();
        assert_eq!(second.iter().map(|r| &r.message_id).collect::<Vec<_>>(), [&ids[1]]);
        assert!(f.queue.receive(&w, 10, VIS).await.unwrap().is_empty());

        // After the visibility timeout it is delivered again, counted.
        f.clock.advance(VIS + Duration::from_secs(1));
        let again = f.queue.receive(&w, 10, VIS).await.unwrap();
        assert_eq!(again.iter().map(|r| r.receive_count).collect::<Vec<_>>(), [2, 2]);

        assert!(f.queue.delete(&ids[0], &w).await.unwrap());
        assert!(!f.queue.delete(&ids[0], &w).await.unwrap());
        assert_eq!(f.queue.depth().await.unwrap(), (0, 1, 0));
    }

    #[tokio::test]
    async fn retry_makes_visible_with_the_error_and_delete_needs_the_holder() {
        let f = fixture();
        let a = Owner::register(f.dir.path()).unwrap();
        let b = Owner::register(f.dir.path()).unwrap();
        let ids = f.queue.enqueue(&[request(1)]).await.unwrap();
        let _ = f.queue.receive(&a, 1, VIS).await.unwrap();
        assert!(!f.queue.delete(&ids[0], &b).await.unwrap(), "only the holder acks");
        assert!(!f.queue.retry(&ids[0], &b, "x").await.unwrap());
        assert!(f.queue.retry(&ids[0], &a, "exit 1 in 0.1 s").await.unwrap());
        let got = f.queue.receive(&b, 1, VIS).await.unwrap();
        assert_eq!(got[0].receive_count, 2);
        assert_eq!(got[0].last_error.as_deref(), Some("exit 1 in 0.1 s"));

        // retry_after keeps it hidden for the delay.
        assert!(f.queue.retry_after(&ids[0], &b, "busy", Duration::from_secs(30)).await.unwrap());
        assert!(f.queue.receive(&a, 1, VIS).await.unwrap().is_empty());
        f.clock.advance(Duration::from_secs(31));
        assert_eq!(f.queue.receive(&a, 1, VIS).await.unwrap().len(), 1);
        // extend_visibility pushes the timeout out.
        assert!(f.queue.extend_visibility(&ids[0], &a, Duration::from_secs(600)).await.unwrap());
        f.clock.advance(VIS * 2);
        assert!(f.queue.receive(&b, 1, VIS).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn fifth_receive_is_the_last_then_dlq_and_redrive() {
        let f = fixture();
        let w = Owner::register(f.dir.path()).unwrap();
        let ids = f.queue.enqueue(&[request(1)]).await.unwrap();
        for n in 1..=MAX_RECEIVES {
            let got = f.queue.receive(&w, 1, VIS).await.unwrap();
            assert_eq!(got.len(), 1, "receive {n}");
            assert_eq!(got[0].receive_count, n);
            f.queue.retry(&ids[0], &w, &format!("failure {n}")).await.unwrap();
        }
        // The 6th receive attempt parks it instead of delivering it.
        assert!(f.queue.receive(&w, 1, VIS).await.unwrap().is_empty());
        assert_eq!(f.queue.depth().await.unwrap(), (0, 0, 1));
        let dlq = f.queue.dlq_list().await.unwrap();
        assert_eq!(dlq.len(), 1);
        assert_eq!((dlq[0].message_id.clone(), dlq[0].receive_count), (ids[0].clone(), MAX_RECEIVES));
        assert_eq!(dlq[0].last_error.as_deref(), Some("failure 5"));
        assert_eq!(dlq[0].request().unwrap(), request(1));

        // Redrive by id (unknown ids ignored) with a fresh count.
        let unknown = MessageId::parse("nope").unwrap();
        assert_eq!(f.queue.dlq_redrive(Some(&[unknown])).await.unwrap(), 0);
        assert_eq!(f.queue.dlq_redrive(Some(&[ids[0].clone()])).await.unwrap(), 1);
        assert_eq!(f.queue.depth().await.unwrap(), (1, 0, 0));
        let got = f.queue.receive(&w, 1, VIS).await.unwrap();
        assert_eq!((got[0].message_id.clone(), got[0].receive_count), (ids[0].clone(), 1));
    }

    #[tokio::test]
    async fn redrive_all_and_malformed_bodies_are_parked() {
        let f = fixture();
        let w = Owner::register(f.dir.path()).unwrap();
        f.queue.enqueue(&[request(1)]).await.unwrap();
        f.queue
            .db()
            .call("inject", |c| {
                Ok(c.execute("INSERT INTO queue (message_id, body, enqueued_at, visible_at) VALUES ('bad', '{\"nope\":1}', 0, 0)", [])?)
            })
            .await
            .unwrap();
        let got = f.queue.receive(&w, 10, VIS).await.unwrap();
        assert_eq!(got.len(), 1, "the good one is delivered");
        let dlq = f.queue.dlq_list().await.unwrap();
        assert_eq!(dlq[0].message_id.as_str(), "bad");
        assert!(dlq[0].last_error.as_deref().unwrap().starts_with("not a build request"), "{:?}", dlq[0].last_error);
        assert_eq!(f.queue.dlq_redrive(None).await.unwrap(), 1);
        assert_eq!(f.queue.dlq_list().await.unwrap(), vec![]);
    }

    #[tokio::test]
    async fn graceful_release_does_not_count_and_dead_owner_is_taken_over_at_once() {
        let f = fixture();
        let a = Owner::register(f.dir.path()).unwrap();
        let b = Owner::register(f.dir.path()).unwrap();
        f.queue.enqueue(&[request(1), request(2)]).await.unwrap();
        assert_eq!(f.queue.receive(&a, 2, Duration::from_secs(3600)).await.unwrap().len(), 2);
        assert_eq!(f.queue.release_owner(&a).await.unwrap(), 2);
        let got = f.queue.receive(&a, 2, Duration::from_secs(3600)).await.unwrap();
        assert_eq!(got.iter().map(|r| r.receive_count).collect::<Vec<_>>(), [1, 1], "release did not count");

        // a dies with both in flight for an hour: b gets them now, counted.
        assert!(f.queue.receive(&b, 2, VIS).await.unwrap().is_empty());
        drop(a);
        let got = f.queue.receive(&b, 2, VIS).await.unwrap();
        assert_eq!(got.iter().map(|r| r.receive_count).collect::<Vec<_>>(), [2, 2]);
    }

    #[test]
    fn concurrent_consumers_on_two_handles_never_share_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let total = 200u32;
        {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let q = SqliteBuildQueue::new(Arc::new(Db::open(dir.path()).unwrap()));
            rt.block_on(q.enqueue(&(0..total).map(request).collect::<Vec<_>>())).unwrap();
        }
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let path = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    // Each thread opens its own connection, like a separate process.
                    let q = SqliteBuildQueue::new(Arc::new(Db::open(&path).unwrap()));
                    let me = Owner::register(&path).unwrap();
                    let mut seen = Vec::new();
                    loop {
                        let got = rt.block_on(q.receive(&me, 3, Duration::from_secs(600))).unwrap();
                        if got.is_empty() {
                            break;
                        }
                        for r in got {
                            assert!(rt.block_on(q.delete(&r.message_id, &me)).unwrap());
                            seen.push(r.message_id);
                        }
                    }
                    seen
                })
            })
            .collect();
        let results: Vec<Vec<MessageId>> = consumers.into_iter().map(|h| h.join().unwrap()).collect();
        let all: Vec<&MessageId> = results.iter().flatten().collect();
        let unique: HashSet<&MessageId> = all.iter().copied().collect();
        assert_eq!(all.len(), total as usize, "every message delivered once");
        assert_eq!(unique.len(), total as usize, "no message delivered twice");
    }
}
