//! repowatch-local: the embedded (one-machine) adapters of repowatch's ports.
//!
//! - [`store`]: [`SqliteStateStore`] and [`SqliteBuildQueue`] on one SQLite
//!   file ([`Db`]), with the queue's consumer side and its dead-letter queue,
//!   and worker liveness through lock files ([`Owner`]).
//! - [`git`]: [`GitRefSource`] reads branches and tags of local repositories
//!   with the `git` command line.
//! - [`command`]: [`CommandTarget`] runs a `command` target as a process
//!   group, with the build's environment, a timeout and the output's tail.
//! - [`engine`]: binds core's step handlers to the States Language
//!   interpreter, so the embedded run executes statemachines/pipeline.asl.json.
//! - [`worker`]: the local stand-in for the SQS event source mapping.
//!
//! No AWS SDK and no HTTP client: the embedded runner builds without them.

pub mod command;
pub mod engine;
pub mod git;
pub mod store;
pub mod worker;

pub use command::CommandTarget;
pub use git::GitRefSource;
pub use store::{
    DB_FILE, Db, DlqEntry, MAX_RECEIVES, Owner, Received, RunRecord, SCHEMA_VERSION, SeenDatasource, SqliteBuildQueue,
    SqliteStateStore, Takeover,
};

#[cfg(test)]
mod tests {
    //! The adapters together with core's dispatch-build, the way the worker uses them.

    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    use jiff::Timestamp;
    use repowatch_core::steps::{DispatchInput, DispatchOutcome, dispatch_build};
    use repowatch_core::*;

    use super::*;

    #[tokio::test]
    async fn queue_store_and_command_with_dispatch_build() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(dir.path()).unwrap());
        let queue = SqliteBuildQueue::new(Arc::clone(&db));
        let store = SqliteStateStore::new(Arc::clone(&db));
        let marker = dir.path().join("built");
        let target_id = TargetId::parse("local").unwrap();
        let spec = TargetSpec::Command {
            command: vec!["sh".into(), "-c".into(), format!("echo $REPOWATCH_COMMIT >> {}", marker.display())],
            workdir: None,
            timeout: Duration::from_secs(10),
        };
        let catalog = StaticCatalog::new(vec![], BTreeMap::from([(target_id.clone(), spec)]));
        let command = CommandTarget::new(dir.path());
        let worker = Owner::register(dir.path()).unwrap();
        let dispatcher = Dispatcher { owner: worker.as_str().to_owned(), lease: Duration::from_secs(60) };
        let request = BuildRequest::new(
            DatasourceId::parse("api").unwrap(),
            RefName::parse("refs/heads/main").unwrap(),
            CommitSha::parse("c".repeat(40)).unwrap(),
            RefKind::Branch,
            DetectionSource::Manual,
            target_id,
            Timestamp::now(),
            RunId::parse("r1").unwrap(),
        );
        // The same build enqueued twice (webhook and poll): dispatched once.
        queue.enqueue(&[request.clone(), request.clone()]).await.unwrap();
        let received = queue.receive(&worker, 10, Duration::from_secs(60)).await.unwrap();
        let input = DispatchInput { messages: received.iter().map(Received::to_queue_message).collect() };
        let out = dispatch_build(input, &catalog, &store, &command, &SystemClock, &dispatcher).await.unwrap();
        assert!(out.batch_item_failures.is_empty());
        assert_eq!(
            out.results.iter().map(|r| r.outcome).collect::<Vec<_>>(),
            [DispatchOutcome::Dispatched, DispatchOutcome::Duplicate]
        );
        for r in &received {
            assert!(queue.delete(&r.message_id, &worker).await.unwrap());
        }
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), format!("{}\n", "c".repeat(40)));
        let builds = store.builds_for_key(&request.key).await.unwrap();
        assert_eq!(builds.len(), 1);
        assert_eq!(builds[0].status, BuildStatus::Succeeded);
        assert_eq!(queue.depth().await.unwrap(), (0, 0, 0));
    }
}
