//! The embedded store: one SQLite file (default `<state_dir>/state.db`) holds
//! what DynamoDB and SQS hold on AWS — datasources seen, last-seen refs,
//! idempotency claims, build records, runs, the build queue and its
//! dead-letter queue. [`Db`] is opened once per process and shared (`Arc`) by
//! [`SqliteStateStore`] and [`SqliteBuildQueue`]; several processes (`run`,
//! `worker`, `serve`) may use the same file at once. The file is in WAL mode
//! with a 10 s busy timeout, and every write is one `BEGIN IMMEDIATE`
//! transaction, so concurrent writers queue instead of failing. rusqlite is
//! synchronous: every call runs on tokio's blocking pool.
//!
//! Liveness of dispatchers comes from [`Owner`]: a worker holds an exclusive
//! lock on `<state_dir>/workers/<id>.lock` for its lifetime, so the OS tells
//! everyone else the moment it dies, and its messages and claims are taken
//! over at once instead of after a lease.

mod owner;
mod queue;
mod state;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use repowatch_core::PortError;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use owner::Owner;
pub use queue::{DlqEntry, MAX_RECEIVES, Received, SqliteBuildQueue};
pub use state::{RunRecord, SeenDatasource, SqliteStateStore, Takeover};

pub(crate) use owner::owner_is_dead;

/// The file name of the database inside the state directory.
pub const DB_FILE: &str = "state.db";

/// How long a writer waits for another process's transaction before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema, as an ordered list of migrations. Migration `i` brings the file
/// to `PRAGMA user_version = i + 1`. Never edit a released entry: append one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE datasources (
    id            TEXT PRIMARY KEY NOT NULL,
    first_seen_at INTEGER NOT NULL
) STRICT;

CREATE TABLE refs (
    datasource  TEXT NOT NULL REFERENCES datasources(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('branch', 'tag', 'release')),
    ref         TEXT NOT NULL,
    commit_sha  TEXT NOT NULL,
    observed_at INTEGER NOT NULL,
    pending     TEXT,
    PRIMARY KEY (datasource, kind, ref)
) STRICT;

CREATE TABLE idempotency (
    key         TEXT PRIMARY KEY NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('claimed', 'done')),
    owner       TEXT NOT NULL,
    lease_until INTEGER,
    done_at     INTEGER
) STRICT;

CREATE TABLE builds (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    key            TEXT NOT NULL,
    datasource     TEXT NOT NULL,
    ref            TEXT NOT NULL,
    commit_sha     TEXT NOT NULL,
    target         TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    receive_count  INTEGER NOT NULL,
    started_at     INTEGER NOT NULL,
    finished_at    INTEGER NOT NULL,
    status         TEXT NOT NULL,
    detail         TEXT NOT NULL,
    exit_code      INTEGER,
    output         TEXT,
    took_over_from TEXT,
    record         TEXT NOT NULL
) STRICT;
CREATE INDEX builds_by_key ON builds(key);

CREATE TABLE runs (
    id          TEXT PRIMARY KEY NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    status      TEXT NOT NULL,
    summary     TEXT
) STRICT;
CREATE INDEX runs_by_start ON runs(started_at);

CREATE TABLE queue (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id    TEXT NOT NULL UNIQUE,
    body          TEXT NOT NULL,
    enqueued_at   INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    visible_at    INTEGER NOT NULL,
    owner         TEXT,
    last_error    TEXT
) STRICT;
CREATE INDEX queue_by_visibility ON queue(visible_at, seq);
CREATE INDEX queue_by_owner ON queue(owner);

CREATE TABLE dlq (
    message_id    TEXT PRIMARY KEY NOT NULL,
    body          TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    moved_at      INTEGER NOT NULL,
    last_error    TEXT
) STRICT;
"#,
    r#"
-- 2: every claim taken over from a dispatcher that died or outlived its lease,
-- written in the claim's transaction: the builds that may have run twice.
-- (IF NOT EXISTS: development builds had it in migration 1.)
CREATE TABLE IF NOT EXISTS takeovers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT NOT NULL,
    from_owner TEXT NOT NULL,
    by_owner   TEXT NOT NULL,
    at         INTEGER NOT NULL
) STRICT;
"#,
    r#"
-- 3: webhook delivery ids seen (X-GitHub-Delivery), for dedupe.
CREATE TABLE deliveries (
    id          TEXT PRIMARY KEY NOT NULL,
    received_at INTEGER NOT NULL
) STRICT;
"#,
    r#"
-- 4: the CI run a dispatch started (GitHub's return_run_details), and the
-- latest workflow_run report per run. Reports are kept even before the build
-- record exists: GitHub may announce the run before the dispatcher writes it.
ALTER TABLE builds ADD COLUMN run_id INTEGER;
CREATE INDEX builds_run_id ON builds (run_id) WHERE run_id IS NOT NULL;
CREATE TABLE workflow_runs (
    run_id     INTEGER PRIMARY KEY NOT NULL,
    completed  INTEGER NOT NULL,
    result     TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
-- The last occurrence of each schedule that ran (`repowatch serve`), so a run
-- missed while the machine was off is caught up at start.
CREATE TABLE schedules (
    name     TEXT PRIMARY KEY NOT NULL,
    last_run INTEGER NOT NULL
) STRICT;
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// One open SQLite file shared by the state store and the build queue.
#[derive(Debug)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    state_dir: PathBuf,
}

impl Db {
    /// Opens (creating the directory and file when missing) `<state_dir>/state.db`
    /// and brings its schema up to date.
    pub fn open(state_dir: &Path) -> Result<Db, PortError> {
        std::fs::create_dir_all(state_dir).map_err(|e| {
            PortError::with_source(
                format!(
                    "cannot create the state directory {}; check `state_dir` in repowatch.toml and its permissions",
                    state_dir.display()
                ),
                e,
            )
        })?;
        let path = state_dir.join(DB_FILE);
        let mut conn = open_connection(&path)?;
        migrate(&mut conn, &path)?;
        Ok(Db { conn: Arc::new(Mutex::new(conn)), path, state_dir: state_dir.to_path_buf() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state directory (the database and the workers' lock files live here).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// `PRAGMA user_version` of the open file.
    pub async fn schema_version(&self) -> Result<u32, PortError> {
        self.call("read the schema version", |conn| {
            Ok(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0))?)
        })
        .await
    }

    pub(crate) fn workers_dir(&self) -> PathBuf {
        owner::workers_dir(&self.state_dir)
    }

    /// Runs `f` with the connection on tokio's blocking pool. `what` completes
    /// "cannot …" in error messages.
    pub(crate) async fn call<R, F>(&self, what: &'static str, f: F) -> Result<R, PortError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, DbError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let path = self.path.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await;
        match joined {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(DbError::Sql(e))) => Err(PortError::with_source(format!("cannot {what} in {}", path.display()), e)),
            Ok(Err(DbError::Port(e))) => Err(e),
            Err(e) => {
                Err(PortError::with_source(format!("cannot {what} in {}: the database task failed", path.display()), e))
            }
        }
    }
}

/// Errors inside a database closure: SQLite's, or one already worded for people.
#[derive(Debug)]
pub(crate) enum DbError {
    Sql(rusqlite::Error),
    Port(PortError),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sql(e)
    }
}

impl From<PortError> for DbError {
    fn from(e: PortError) -> Self {
        DbError::Port(e)
    }
}

fn open_connection(path: &Path) -> Result<Connection, PortError> {
    let fail =
        |e: rusqlite::Error| PortError::with_source(format!("cannot open the state database {}", path.display()), e);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(fail)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(fail)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(PortError::new(format!(
            "cannot switch {} to WAL mode (got {mode}); keep the state directory on a local file system",
            path.display()
        )));
    }
    conn.pragma_update(None, "foreign_keys", true).map_err(fail)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(fail)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), PortError> {
    let fail =
        |e: rusqlite::Error| PortError::with_source(format!("cannot migrate the state database {}", path.display()), e);
    // IMMEDIATE: two processes opening a fresh file migrate one after the other.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(fail)?;
    let current: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(fail)?;
    if current > SCHEMA_VERSION {
        return Err(PortError::new(format!(
            "{} has schema version {current}, but this repowatch knows only up to {SCHEMA_VERSION}; upgrade repowatch or use another state_dir",
            path.display()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", i as u32 + 1).map_err(fail)?;
    }
    tx.commit().map_err(fail)
}

/// Timestamps are stored as integer nanoseconds since the Unix epoch (exact for
/// 1677–2262, saturating beyond), so leases and visibility compare in SQL.
pub(crate) fn ts_to_ns(ts: Timestamp) -> i64 {
    let ns = ts.as_nanosecond();
    i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
}

pub(crate) fn ns_to_ts(ns: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(ns)).unwrap_or(if ns < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

pub(crate) fn add(ts: Timestamp, by: Duration) -> Timestamp {
    ts.checked_add(SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX)).unwrap_or(Timestamp::MAX)
}

/// A parse failure of a stored value: the file was edited or written by another version.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> DbError {
    DbError::Port(PortError::new(format!(
        "the state database holds an invalid {what} ({detail}); it was edited by hand or written by another version"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_creates_dir_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join("nested/.repowatch");
        let db = Db::open(&state_dir).unwrap();
        assert_eq!(db.path(), state_dir.join("state.db"));
        assert_eq!(db.schema_version().await.unwrap(), SCHEMA_VERSION);
        drop(db);
        // Reopening applies nothing and keeps the version.
        let db = Db::open(&state_dir).unwrap();
        assert_eq!(db.schema_version().await.unwrap(), SCHEMA_VERSION);
        let mode: String =
            db.call("read", |c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn a_version_1_file_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(db.schema_version().await.unwrap(), SCHEMA_VERSION);
        let n: i64 =
            db.call("count", |c| Ok(c.query_row("SELECT count(*) FROM takeovers", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn newer_schema_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        db.call("bump", |c| Ok(c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)?)).await.unwrap();
        drop(db);
        let err = Db::open(dir.path()).unwrap_err();
        assert!(err.message.contains("upgrade repowatch"), "{}", err.message);
    }

    #[test]
    fn timestamps_round_trip_and_saturate() {
        let now = Timestamp::now();
        assert_eq!(ns_to_ts(ts_to_ns(now)), now);
        assert_eq!(ts_to_ns(Timestamp::MAX), i64::MAX);
        assert!(ns_to_ts(i64::MAX) > now);
    }

    /// A worker SIGKILLed while holding a message and a claim: the next worker
    /// gets both at once, long before the visibility timeout and the lease.
    #[test]
    fn sigkilled_worker_is_taken_over_at_once() {
        use repowatch_core::{BuildQueue, Claim, StateStore};

        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let db = Arc::new(Db::open(dir.path()).unwrap());
        let queue = SqliteBuildQueue::new(Arc::clone(&db));
        let store = SqliteStateStore::new(Arc::clone(&db));
        let request = test_request();
        rt.block_on(queue.enqueue(std::slice::from_ref(&request))).unwrap();

        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "store::tests::worker_child", "--test-threads=1"])
            .env("REPOWATCH_TEST_WORKER_DIR", dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let ready = dir.path().join("ready");
        let victim = loop {
            if let Ok(owner) = std::fs::read_to_string(&ready)
                && !owner.is_empty()
            {
                break owner;
            }
            assert!(child.try_wait().unwrap().is_none(), "the child exited before it was ready");
            std::thread::sleep(Duration::from_millis(10));
        };
        let me = Owner::register(dir.path()).unwrap();
        let now = Timestamp::now();
        let lease = add(now, Duration::from_secs(3600));
        assert!(
            rt.block_on(queue.receive(&me, 1, Duration::from_secs(60))).unwrap().is_empty(),
            "in flight while the worker lives"
        );
        assert!(matches!(rt.block_on(store.claim(&request.key, me.as_str(), now, lease)).unwrap(), Claim::Held { .. }));

        child.kill().unwrap(); // SIGKILL: no destructor runs
        child.wait().unwrap();
        let got = rt.block_on(queue.receive(&me, 1, Duration::from_secs(60))).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].receive_count, 2);
        assert_eq!(
            rt.block_on(store.claim(&request.key, me.as_str(), now, lease)).unwrap(),
            Claim::Acquired { taken_over: Some(victim.clone()) }
        );
        assert!(!dir.path().join("workers").join(format!("{victim}.lock")).exists(), "the stale lock file is removed");
    }

    /// The child half of `sigkilled_worker_is_taken_over_at_once` (a no-op otherwise).
    #[tokio::test]
    async fn worker_child() {
        use repowatch_core::{Claim, StateStore};

        let Some(dir) = std::env::var_os("REPOWATCH_TEST_WORKER_DIR") else { return };
        let dir = std::path::PathBuf::from(dir);
        let db = Arc::new(Db::open(&dir).unwrap());
        let me = Owner::register(&dir).unwrap();
        let got = SqliteBuildQueue::new(Arc::clone(&db)).receive(&me, 1, Duration::from_secs(3600)).await.unwrap();
        assert_eq!(got.len(), 1);
        let now = Timestamp::now();
        let claim = SqliteStateStore::new(db)
            .claim(&got[0].body.key, me.as_str(), now, add(now, Duration::from_secs(3600)))
            .await
            .unwrap();
        assert_eq!(claim, Claim::Acquired { taken_over: None });
        let tmp = dir.join("ready.tmp");
        std::fs::write(&tmp, me.as_str()).unwrap();
        std::fs::rename(&tmp, dir.join("ready")).unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
    }

    fn test_request() -> repowatch_core::BuildRequest {
        use repowatch_core::*;
        BuildRequest::new(
            DatasourceId::parse("api").unwrap(),
            RefName::parse("refs/heads/main").unwrap(),
            CommitSha::parse("a".repeat(40)).unwrap(),
            RefKind::Branch,
            DetectionSource::Manual,
            TargetId::parse("local").unwrap(),
            Timestamp::UNIX_EPOCH,
            RunId::parse("r1").unwrap(),
        )
    }
}
