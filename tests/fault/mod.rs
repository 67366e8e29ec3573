//! The fault matrix: synthetic changes pushed through repowatch while one
//! class of fault is injected, and a ledger of what should have been built
//! against what the build server received.
//!
//! The embedded world is repowatch on one machine with real parts: the
//! States Language interpreter running statemachines/pipeline.asl.json, the
//! step handlers, the SQLite store and queue, the GitHub client against the
//! fake GitHub on 127.0.0.1, the signed `webhook` target POSTing to a real
//! HTTP receiver, and an event-source loop that treats dispatch-build's answer
//! exactly as the SQS event source mapping does. Faults are injected at the
//! boundaries (the Task invoker, the target, the queue consumer, GitHub), never
//! inside the code under test.
//!
//! Time in the interpreter runs [`ScaledClock`] times faster than the
//! wall clock, so Retry back-off and `TimeoutSeconds` keep their shape but a
//! hanging task costs milliseconds.
//!
//! Used by `tests/e2e/faults.rs` and by the `fault-matrix` bench command.

pub mod cloud;
mod receiver;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::BoxFuture;
use rand::{Rng, SeedableRng};
use repowatch_asl::{ExecutionOptions, TaskContext, TaskFailure, TaskInvoker};
use repowatch_core::fakes::RecordingNotifier;
use repowatch_core::rules::WatchRules;
use repowatch_core::secret::{SecretRef, SecretString};
use repowatch_core::steps::{RunRequest, RunSummary, WebhookInput};
use repowatch_core::*;
use repowatch_github::{ClientOptions, GithubClient, GithubRefSource, WebhookTarget};
use repowatch_github_fake::{FakeGithub, FakeOptions, Fault, FaultResponse, Matcher, RepoSpec, sha};
use repowatch_local::engine::{self, Ports};
use repowatch_local::{Db, Owner, SqliteBuildQueue, SqliteStateStore};
use serde::Serialize;
use serde_json::{Value, json};

pub use receiver::Receiver;

const TOKEN: &str = "ghp_fault_matrix_0a1b";
const TARGET_SECRET: &str = "fault-matrix-target-secret";
const WEBHOOK_SECRET: &str = "fault-matrix-webhook-secret";
/// Datasources per shard in the pipeline (list-datasources' batch size).
const DATASOURCES: usize = 250;
/// Scheduled runs per round before the harness gives up on convergence.
const MAX_RUNS_PER_ROUND: usize = 40;

/// One class of fault, injected for a whole scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultClass {
    /// No fault: the baseline every other class is compared with.
    None,
    /// 30 % of step invocations fail (`Lambda.ServiceException`): half before
    /// doing their work, half after it (the work is done, the answer lost).
    StepFails,
    /// 30 % of step invocations do their work and then never answer: the
    /// state machine's `TimeoutSeconds` ends them (`States.Timeout`).
    StepTimesOut,
    /// 30 % of step invocations hang before doing anything.
    HangingTask,
    /// 30 % of step invocations are throttled (`Lambda.TooManyRequestsException`).
    LambdaThrottled,
    /// The build server answers 503 to everything for the first passes of
    /// every round (long enough to park messages in the DLQ), then recovers;
    /// the operator redrives the DLQ as the runbook says.
    DispatchOutage,
    /// 30 % of dispatches reach the build server and then the dispatcher
    /// dies before recording it (the documented window).
    CrashAfterPost,
    /// The queue delivers every message twice, to two consumers at once
    /// (the conditional claim decides).
    DeliveredTwice,
    /// A third of dispatch-build answers arrive malformed (invalid JSON, a null
    /// or empty or unknown `itemIdentifier`, a wrong key): the event source
    /// mapping then retries the whole batch, as AWS documents.
    MalformedBatchResponse,
    /// 30 % of build-server requests hang; the target's timeout ends them.
    HangingTarget,
    /// GitHub answers 502 or 504 to about 30 % of GraphQL queries.
    Github5xx,
    /// GitHub answers 200 with `errors[]` (and no data) to about 30 % of queries.
    GithubErrors,
    /// GitHub's secondary rate limit: 403 with `retry-after: 1`.
    GithubSecondaryLimit,
    /// 429 Too Many Requests with `retry-after: 1`.
    Github429,
    /// One repository in ten is deleted halfway through; its datasource fails
    /// every run from then on (reported), the others lose nothing.
    DeletedRepository,
    /// Changes are announced by signed GitHub webhooks; 30 % of them never
    /// arrive, and forged and replayed deliveries are mixed in. The next
    /// scheduled run must build what the lost ones announced.
    LostWebhook,
}

impl FaultClass {
    pub const ALL: [FaultClass; 16] = [
        FaultClass::None,
        FaultClass::StepFails,
        FaultClass::StepTimesOut,
        FaultClass::HangingTask,
        FaultClass::LambdaThrottled,
        FaultClass::DispatchOutage,
        FaultClass::CrashAfterPost,
        FaultClass::DeliveredTwice,
        FaultClass::MalformedBatchResponse,
        FaultClass::HangingTarget,
        FaultClass::Github5xx,
        FaultClass::GithubErrors,
        FaultClass::GithubSecondaryLimit,
        FaultClass::Github429,
        FaultClass::DeletedRepository,
        FaultClass::LostWebhook,
    ];

    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    pub fn parse(name: &str) -> Option<FaultClass> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// What one scenario did, and what the ledger says.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub world: &'static str,
    pub class: FaultClass,
    pub seed: u64,
    /// Changes pushed (one new commit on one datasource's branch each).
    pub changes: usize,
    /// Changes the pipeline was not expected to build (pushed to a deleted repository).
    pub unbuildable: usize,
    /// Expected (datasource, ref, commit) never received by the build server.
    pub lost: usize,
    /// Receipts beyond the first for a key.
    pub duplicates: usize,
    /// Duplicates whose key has a recorded takeover (the crash-after-POST window).
    pub duplicates_in_window: usize,
    /// Duplicates whose key was received with a different key header (must be 0).
    pub key_mismatches: usize,
    /// Builds received that nobody asked for (must be 0).
    pub unexpected: usize,
    pub takeovers: usize,
    pub faults_injected: u64,
    pub runs: usize,
    pub runs_not_ok: usize,
    pub parked: usize,
    pub redriven: usize,
    pub webhooks_sent: usize,
    pub webhooks_lost: usize,
    pub forged_accepted: usize,
    pub replays_accepted: usize,
    /// Lost webhooks whose change a scheduled run built.
    pub recovered_by_schedule: usize,
    pub panics: u64,
    pub seconds: f64,
    /// Cloud world: per function, invocations and total milliseconds.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub durations_ms: BTreeMap<String, (u64, f64)>,
}

impl Report {
    /// The promises: nothing lost, no duplicate outside the window, no forged
    /// or replayed webhook accepted, no panic. `Err` names what broke.
    pub fn check(&self) -> Result<(), String> {
        let mut broken = Vec::new();
        if self.lost > 0 {
            broken.push(format!("{} update(s) lost", self.lost));
        }
        if self.duplicates > self.duplicates_in_window {
            broken.push(format!(
                "{} duplicate dispatch(es) outside the crash-after-POST window",
                self.duplicates - self.duplicates_in_window
            ));
        }
        if self.duplicates > 0 && self.class != FaultClass::CrashAfterPost {
            broken.push(format!("{} duplicate(s) in a class without crashes", self.duplicates));
        }
        for (what, n) in [
            ("key header mismatch(es)", self.key_mismatches),
            ("unexpected build(s)", self.unexpected),
            ("forged webhook(s) accepted", self.forged_accepted),
            ("replayed webhook(s) accepted", self.replays_accepted),
        ] {
            if n > 0 {
                broken.push(format!("{n} {what}"));
            }
        }
        if self.panics > 0 {
            broken.push(format!("{} panic(s)", self.panics));
        }
        if broken.is_empty() { Ok(()) } else { Err(format!("{:?}: {}", self.class, broken.join("; "))) }
    }
}

/// Counts panics anywhere in the process (the default hook still prints them).
pub fn count_panics() -> Arc<AtomicU64> {
    static COUNTER: std::sync::OnceLock<Arc<AtomicU64>> = std::sync::OnceLock::new();
    Arc::clone(COUNTER.get_or_init(|| {
        let counter = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&counter);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            seen.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
        counter
    }))
}

/// The interpreter's clock, `.0` times faster than real time.
pub struct ScaledClock(pub u32);

impl ScaledClock {
    /// The embedded world: a step answers in milliseconds; 100x keeps every
    /// `TimeoutSeconds` (60 s and 300 s) above GitHub's `retry-after` waits.
    pub const EMBEDDED: ScaledClock = ScaledClock(100);
    /// The simulated cloud: a step reads moto over HTTP for up to a second.
    pub const CLOUD: ScaledClock = ScaledClock(20);
}

#[async_trait]
impl repowatch_asl::Clock for ScaledClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration / self.0).await;
    }

    async fn timeout<'a>(&self, limit: Duration, fut: BoxFuture<'a, ()>) -> Result<(), repowatch_asl::Elapsed> {
        tokio::time::timeout(limit / self.0, fut).await.map_err(|_| repowatch_asl::Elapsed)
    }
}

/// The Task invoker of the embedded engine with faults in front of it.
struct FaultyInvoker {
    ports: Ports,
    class: FaultClass,
    rng: Mutex<rand::rngs::StdRng>,
    injected: Arc<AtomicU64>,
}

impl FaultyInvoker {
    fn roll(&self) -> Option<bool> {
        let mut rng = self.rng.lock().unwrap();
        if rng.random_bool(0.3) { Some(rng.random_bool(0.5)) } else { None }
    }
}

#[async_trait]
impl TaskInvoker for FaultyInvoker {
    async fn invoke(&self, resource: &str, input: Value, _ctx: TaskContext<'_>) -> Result<Value, TaskFailure> {
        let name = resource.rsplit(':').next().unwrap_or(resource).to_owned();
        let fault = match self.class {
            FaultClass::StepFails
            | FaultClass::StepTimesOut
            | FaultClass::HangingTask
            | FaultClass::LambdaThrottled => self.roll(),
            _ => None,
        };
        if let Some(after) = fault {
            self.injected.fetch_add(1, Ordering::Relaxed);
            let failure = |error: &str| TaskFailure { error: error.into(), cause: Some("injected".into()) };
            match self.class {
                FaultClass::StepFails if !after => return Err(failure("Lambda.ServiceException")),
                FaultClass::StepFails => {
                    let _ = engine::invoke(&self.ports, &name, input).await;
                    return Err(failure("Lambda.ServiceException"));
                }
                FaultClass::StepTimesOut => {
                    let _ = engine::invoke(&self.ports, &name, input).await;
                    return std::future::pending().await;
                }
                FaultClass::HangingTask => return std::future::pending().await,
                FaultClass::LambdaThrottled => return Err(failure("Lambda.TooManyRequestsException")),
                _ => {}
            }
        }
        engine::invoke(&self.ports, &name, input).await.map_err(|e| e.to_failure())
    }
}

/// The build target with the dispatcher's death after the POST injected.
struct CrashingTarget {
    inner: WebhookTarget,
    crash_per_mille: u64,
    crashed: tokio::sync::mpsc::UnboundedSender<()>,
    injected: Arc<AtomicU64>,
}

#[async_trait]
impl BuildTarget for CrashingTarget {
    async fn dispatch(
        &self,
        id: &TargetId,
        target: &TargetSpec,
        request: &BuildRequest,
    ) -> Result<Dispatched, DispatchError> {
        let out = self.inner.dispatch(id, target, request).await?;
        if self.crash_per_mille > 0 && rand::random_range(0..1000) < self.crash_per_mille {
            self.injected.fetch_add(1, Ordering::Relaxed);
            // The POST was answered; the process dies before it records anything.
            let _ = self.crashed.send(());
            std::future::pending::<()>().await;
        }
        Ok(out)
    }
}

/// The embedded world of one scenario.
struct Embedded {
    class: FaultClass,
    dir: tempfile::TempDir,
    queue: Arc<SqliteBuildQueue>,
    store: Arc<SqliteStateStore>,
    github: FakeGithub,
    receiver: Receiver,
    base: Ports,
    machine: repowatch_asl::StateMachine,
    rng: rand::rngs::StdRng,
    injected: Arc<AtomicU64>,
    crash_rx: tokio::sync::mpsc::UnboundedReceiver<()>,
    runs: usize,
    runs_not_ok: usize,
    /// Batches handed to dispatch-build.
    batches: u64,
    parked: usize,
    redriven: usize,
}

/// The fake GitHub with `n` repositories `octo/repoNNNN` (a `main` each) and
/// their datasources, watching `main` and building with `target`.
pub(crate) async fn synthetic_github(token: &str, n: usize, target: &TargetId) -> (FakeGithub, Vec<Datasource>) {
    let github = FakeGithub::start(FakeOptions { token: token.into(), record_exchanges: false, ..Default::default() })
        .await
        .unwrap();
    let mut datasources = Vec::new();
    for i in 0..n {
        github.add_repo(&repo_name(i), RepoSpec::default()).unwrap();
        github.set_branch(&repo_name(i), "main", &sha(&format!("base-{i}"))).unwrap();
        datasources.push(Datasource {
            id: datasource_id(i),
            location: Location::Github(RepoSlug::parse(&repo_name(i)).unwrap()),
            watch: WatchRules::parse(&["branch:main"]).unwrap(),
            paths: None,
            cooldown: Duration::ZERO,
            targets: vec![target.clone()],
            build_on_first_seen: false,
        });
    }
    (github, datasources)
}

pub(crate) fn datasource_id(i: usize) -> DatasourceId {
    DatasourceId::parse(format!("ds{i:04}")).unwrap()
}

pub(crate) fn repo_name(i: usize) -> String {
    format!("octo/repo{i:04}")
}

impl Embedded {
    async fn start(class: FaultClass, seed: u64) -> Embedded {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(dir.path()).unwrap());
        let queue = Arc::new(SqliteBuildQueue::new(Arc::clone(&db)));
        let store = Arc::new(SqliteStateStore::new(Arc::clone(&db)));
        let target_id = TargetId::parse("builder").unwrap();
        let (github, datasources) = synthetic_github(TOKEN, DATASOURCES, &target_id).await;
        let receiver = Receiver::start(TARGET_SECRET).await;
        let spec = TargetSpec::Webhook {
            url: receiver.url.clone(),
            secret: SecretRef::parse("env:FAULT_MATRIX_TARGET_SECRET").unwrap(),
        };
        let catalog = StaticCatalog::new(datasources, BTreeMap::from([(target_id.clone(), spec)]));
        let mut options = ClientOptions::new(github.url());
        options.min_limit_wait = Duration::from_secs(1);
        options.max_wait = Duration::from_secs(5);
        let client = Arc::new(GithubClient::new(&SecretString::new(TOKEN), options).unwrap());
        let http = reqwest::Client::builder().timeout(Duration::from_millis(250)).build().unwrap();
        let injected = Arc::new(AtomicU64::new(0));
        let (crash_tx, crash_rx) = tokio::sync::mpsc::unbounded_channel();
        let target = CrashingTarget {
            inner: WebhookTarget::new(http, BTreeMap::from([(target_id, receiver.secret())])),
            crash_per_mille: if class == FaultClass::CrashAfterPost { 300 } else { 0 },
            crashed: crash_tx,
            injected: Arc::clone(&injected),
        };
        if class == FaultClass::HangingTarget {
            receiver.state.hang_per_mille.store(300, Ordering::Relaxed);
        }
        let base = Ports {
            catalog: Arc::new(catalog),
            store: Arc::clone(&store) as Arc<dyn StateStore>,
            queue: Arc::clone(&queue) as Arc<dyn BuildQueue>,
            refs: Arc::new(GithubRefSource::new(client)),
            target: Arc::new(target),
            notifier: Arc::new(RecordingNotifier::default()),
            clock: Arc::new(SystemClock),
            dispatcher: Dispatcher { owner: "unused".into(), lease: Duration::from_secs(60) },
            webhook_secret: Some(SecretString::new(WEBHOOK_SECRET)),
        };
        Embedded {
            class,
            dir,
            queue,
            store,
            github,
            receiver,
            base,
            machine: engine::pipeline_machine().unwrap(),
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            injected,
            crash_rx,
            runs: 0,
            runs_not_ok: 0,
            batches: 0,
            parked: 0,
            redriven: 0,
        }
    }

    /// In every other run, one fault in the run's GraphQL queries, as the class
    /// says (a run reads 250 datasources in 3 queries: about one query in
    /// six fails). The fault goes to the run's first query, which is usually
    /// the same shard's: faulting every run would starve that shard for good,
    /// a standing outage rather than a fault to recover from.
    fn arm_github(&mut self) {
        if self.runs % 2 == 1 {
            return;
        }
        let response = match self.class {
            FaultClass::Github5xx => FaultResponse::status(if self.rng.random_bool(0.5) { 502 } else { 504 }),
            FaultClass::GithubErrors => {
                FaultResponse::graphql_error("Something went wrong while executing your query.")
            }
            FaultClass::GithubSecondaryLimit => FaultResponse::SecondaryLimit { retry_after_secs: 1 },
            FaultClass::Github429 => FaultResponse::TooMany { retry_after: Some(1) },
            _ => return,
        };
        self.injected.fetch_add(1, Ordering::Relaxed);
        self.github.inject(Fault::new(Matcher::Graphql, 1, response));
    }

    /// One pipeline execution with the class's Task faults.
    async fn run(&mut self, request: RunRequest) -> Option<RunSummary> {
        self.arm_github();
        self.runs += 1;
        let invoker = FaultyInvoker {
            ports: self.base.clone(),
            class: self.class,
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(self.rng.random())),
            injected: Arc::clone(&self.injected),
        };
        let options = ExecutionOptions {
            name: format!("run-{}", self.runs),
            state_machine_name: "repowatch-pipeline".into(),
            ..ExecutionOptions::default()
        };
        let input = serde_json::to_value(&request).unwrap();
        let execution = repowatch_asl::execute(&self.machine, input, &invoker, &ScaledClock::EMBEDDED, options).await;
        let summary: Option<RunSummary> = execution.output.and_then(|v| serde_json::from_value(v).ok());
        if summary.as_ref().is_none_or(|s| s.status != steps::RunStatus::Ok) {
            self.runs_not_ok += 1;
        }
        summary
    }

    /// The event source mapping: receives batches of up to 10, invokes
    /// dispatch-build on each and acts on its `batchItemFailures` the way AWS
    /// does, until the queue is empty or `passes` batches were handled.
    async fn drain(&mut self, passes: usize) {
        let mut owner = Owner::register(self.dir.path()).unwrap();
        for _ in 0..passes {
            let received = self.queue.receive(&owner, 10, Duration::from_secs(30)).await.unwrap();
            if received.is_empty() {
                let (visible, in_flight, _) = self.queue.depth().await.unwrap();
                if visible == 0 && in_flight == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            let event = json!({ "messages": received.iter().map(|r| r.to_queue_message()).collect::<Vec<_>>() });
            self.batches += 1;
            let ids: Vec<MessageId> = received.iter().map(|r| r.message_id.clone()).collect();
            let failed: Option<BTreeSet<String>> = match self.class {
                FaultClass::CrashAfterPost => {
                    let ports = self.ports_for(&owner);
                    let call = tokio::spawn(async move { engine::invoke(&ports, "dispatch-build", event).await });
                    let abort = call.abort_handle();
                    tokio::select! {
                        answer = call => batch_failures(&answer.unwrap().map_err(|e| e.to_string()).map(|v| v.to_string()), &ids),
                        Some(()) = self.crash_rx.recv() => {
                            // The dispatcher dies: nothing it held is deleted,
                            // completed or released; its lock file goes away.
                            abort.abort();
                            owner = Owner::register(self.dir.path()).unwrap();
                            while self.crash_rx.try_recv().is_ok() {}
                            continue;
                        }
                    }
                }
                FaultClass::DeliveredTwice => {
                    let twin = Owner::register(self.dir.path()).unwrap();
                    let (a, b) = (self.ports_for(&owner), self.ports_for(&twin));
                    let (ea, eb) = (event.clone(), event);
                    let (x, y) = tokio::join!(
                        engine::invoke(&a, "dispatch-build", ea),
                        engine::invoke(&b, "dispatch-build", eb)
                    );
                    self.injected.fetch_add(1, Ordering::Relaxed);
                    let x = batch_failures(&x.map_err(|e| e.to_string()).map(|v| v.to_string()), &ids);
                    let y = batch_failures(&y.map_err(|e| e.to_string()).map(|v| v.to_string()), &ids);
                    // A message is deleted when either delivery succeeded with it.
                    match (x, y) {
                        (Some(x), Some(y)) => Some(x.intersection(&y).cloned().collect()),
                        (Some(x), None) => Some(x),
                        (None, Some(y)) => Some(y),
                        (None, None) => None,
                    }
                }
                _ => {
                    let ports = self.ports_for(&owner);
                    let answer = engine::invoke(&ports, "dispatch-build", event).await;
                    let mut text = answer.map_err(|e| e.to_string()).map(|v| v.to_string());
                    if self.class == FaultClass::MalformedBatchResponse
                        && self.injected.load(Ordering::Relaxed) * 3 <= self.batches
                    {
                        self.injected.fetch_add(1, Ordering::Relaxed);
                        text = Ok(malformed(&mut self.rng, ids[0].as_str()));
                    }
                    batch_failures(&text, &ids)
                }
            };
            for id in &ids {
                let fail = failed.as_ref().is_none_or(|f| f.contains(id.as_str()));
                if fail {
                    self.queue.retry(id, &owner, "reported as failed by dispatch-build").await.unwrap();
                } else {
                    self.queue.delete(id, &owner).await.unwrap();
                }
            }
        }
        self.queue.release_owner(&owner).await.unwrap();
    }

    fn ports_for(&self, owner: &Owner) -> Ports {
        let mut ports = self.base.clone();
        ports.dispatcher = Dispatcher { owner: owner.as_str().to_owned(), lease: Duration::from_secs(60) };
        ports
    }

    /// What the DLQ alarm asks of the operator: redrive once the target is back.
    async fn redrive(&mut self) {
        let parked = self.queue.dlq_list().await.unwrap().len();
        if parked > 0 {
            self.parked += parked;
            self.redriven += self.queue.dlq_redrive(None).await.unwrap();
        }
    }
}

/// The SQS event source mapping's reading of a partial-batch response
/// (AWS Lambda developer guide, "Reporting batch item failures"): `None`
/// means the whole batch failed (an error, invalid JSON, a null, empty or
/// unknown `itemIdentifier`, or a wrong key inside a failure); otherwise the
/// failed message ids (an empty or absent list: none failed).
pub fn batch_failures(answer: &Result<String, String>, batch: &[MessageId]) -> Option<BTreeSet<String>> {
    let text = answer.as_ref().ok()?;
    let value: Value = serde_json::from_str(text).ok()?;
    let Some(failures) = value.get("batchItemFailures") else { return Some(BTreeSet::new()) };
    if failures.is_null() {
        return Some(BTreeSet::new());
    }
    let mut out = BTreeSet::new();
    for f in failures.as_array()? {
        let id = f.get("itemIdentifier")?.as_str()?;
        if !batch.iter().any(|m| m.as_str() == id) {
            return None;
        }
        out.insert(id.to_owned());
    }
    Some(out)
}

/// A dispatch-build answer corrupted in one of the ways AWS reads as "the whole batch failed".
pub(crate) fn malformed(rng: &mut rand::rngs::StdRng, first_id: &str) -> String {
    match rng.random_range(0..5) {
        0 => "{\"batchItemFailures\": [".to_owned(),
        1 => json!({ "batchItemFailures": [{ "itemIdentifier": null }] }).to_string(),
        2 => json!({ "batchItemFailures": [{ "itemIdentifier": "" }] }).to_string(),
        3 => json!({ "batchItemFailures": [{ "itemId": first_id }] }).to_string(),
        _ => json!({ "batchItemFailures": [{ "itemIdentifier": "not-a-message-of-this-batch" }] }).to_string(),
    }
}

/// Runs one scenario in the embedded world: `changes` synthetic changes in
/// rounds of at most [`DATASOURCES`], each round followed by scheduled runs
/// and queue drains until the pipeline is quiet.
pub async fn run_embedded(class: FaultClass, changes: usize, seed: u64) -> Report {
    let panics = count_panics();
    let panics_before = panics.load(Ordering::SeqCst);
    let started = Instant::now();
    let mut world = Embedded::start(class, seed).await;
    // The baseline run: every datasource is seen for the first time.
    for _ in 0..MAX_RUNS_PER_ROUND {
        world.run(RunRequest { source: DetectionSource::Schedule, datasource: None }).await;
        if world.store.list_refs_all().await.unwrap().len() == DATASOURCES {
            break;
        }
    }

    let mut expected: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut unbuildable = 0;
    let mut deleted: BTreeSet<usize> = BTreeSet::new();
    let mut lost_webhooks: BTreeSet<(String, String)> = BTreeSet::new();
    let (mut webhooks_sent, mut forged_accepted, mut replays_accepted) = (0, 0, 0);
    let mut pushed = 0;
    let mut round = 0;
    // A deleted repository needs a round before its deletion and one after.
    let per_round = if class == FaultClass::DeletedRepository { changes.div_ceil(2) } else { changes }.min(DATASOURCES);
    let mut heads: BTreeMap<usize, String> = BTreeMap::new();
    while pushed < changes {
        let n = (changes - pushed).min(per_round);
        if class == FaultClass::DeletedRepository && round == 1 {
            for i in (0..DATASOURCES).step_by(10) {
                world.github.delete_repo(&repo_name(i)).unwrap();
                deleted.insert(i);
                world.injected.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut announced = Vec::new();
        for i in 0..n {
            let commit = sha(&format!("{class:?}-{round}-{i}"));
            let id = datasource_id(i).to_string();
            if deleted.contains(&i) {
                unbuildable += 1;
            } else {
                world.github.set_branch(&repo_name(i), "main", &commit).unwrap();
                heads.insert(i, commit.clone());
                expected.insert((id, "refs/heads/main".to_owned(), commit.clone()));
                announced.push((i, commit));
            }
            pushed += 1;
        }
        if class == FaultClass::LostWebhook {
            for (i, commit) in &announced {
                let delivery = format!("delivery-{round}-{i}");
                let body = json!({
                    "ref": "refs/heads/main", "after": commit, "before": sha("before"),
                    "repository": { "full_name": repo_name(*i) },
                })
                .to_string();
                webhooks_sent += 1;
                if world.rng.random_bool(0.3) {
                    world.injected.fetch_add(1, Ordering::Relaxed);
                    lost_webhooks.insert((datasource_id(*i).to_string(), commit.clone()));
                    continue;
                }
                let signed = signature::sign(&SecretString::new(WEBHOOK_SECRET), body.as_bytes());
                for run in deliver(&world.base, &body, &delivery, Some(&signed)).await {
                    world.run(run).await;
                }
                // GitHub's redelivery of the same delivery, and a replay by someone else.
                if !deliver(&world.base, &body, &delivery, Some(&signed)).await.is_empty() {
                    replays_accepted += 1;
                }
                // Forged: signed with the wrong secret, and not signed at all.
                let forged = signature::sign(&SecretString::new("guessed"), body.as_bytes());
                let other = format!("forged-{round}-{i}");
                if !deliver(&world.base, &body, &other, Some(&forged)).await.is_empty() {
                    forged_accepted += 1;
                }
                if !deliver(&world.base, &body, &format!("{other}-unsigned"), None).await.is_empty() {
                    forged_accepted += 1;
                }
            }
            world.drain(10_000).await;
        }
        converge(&mut world, &heads, &deleted).await;
        round += 1;
    }

    let takeovers = world.store.takeovers().await.unwrap();
    let taken: BTreeMap<String, usize> = takeovers.iter().fold(BTreeMap::new(), |mut m, t| {
        *m.entry(t.key.to_string()).or_default() += 1;
        m
    });
    let l = ledger(&expected, &world.receiver.accepted(), &taken, &lost_webhooks);
    Report {
        world: "embedded",
        class,
        seed,
        changes: pushed,
        unbuildable,
        lost: l.lost,
        duplicates: l.duplicates,
        duplicates_in_window: l.duplicates_in_window,
        key_mismatches: l.key_mismatches,
        unexpected: l.unexpected,
        takeovers: takeovers.len(),
        faults_injected: world.injected.load(Ordering::Relaxed)
            + world.receiver.state.hung.load(Ordering::Relaxed)
            + world.receiver.state.refused.load(Ordering::Relaxed),
        runs: world.runs,
        runs_not_ok: world.runs_not_ok,
        parked: world.parked,
        redriven: world.redriven,
        webhooks_sent,
        webhooks_lost: lost_webhooks.len(),
        forged_accepted,
        replays_accepted,
        recovered_by_schedule: l.recovered_by_schedule,
        panics: panics.load(Ordering::SeqCst) - panics_before,
        seconds: started.elapsed().as_secs_f64(),
        durations_ms: BTreeMap::new(),
    }
}

/// The ledger's verdict.
pub(crate) struct Ledger {
    lost: usize,
    duplicates: usize,
    duplicates_in_window: usize,
    key_mismatches: usize,
    unexpected: usize,
    recovered_by_schedule: usize,
}

/// Expected (datasource, ref, commit) against what the build server accepted.
/// `taken` counts the recorded takeovers per key: a duplicate counts as in the
/// crash-after-POST window only up to that many.
pub(crate) fn ledger(
    expected: &BTreeSet<(String, String, String)>,
    accepted: &[receiver::Received],
    taken: &BTreeMap<String, usize>,
    lost_webhooks: &BTreeSet<(String, String)>,
) -> Ledger {
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    let mut built: BTreeSet<(String, String, String)> = BTreeSet::new();
    let (mut key_mismatches, mut unexpected, mut recovered_by_schedule) = (0, 0, 0);
    for r in accepted {
        let q = &r.request;
        *per_key.entry(q.key.to_string()).or_default() += 1;
        if r.key_header != q.key.as_str() {
            key_mismatches += 1;
        }
        let entry = (q.datasource.to_string(), q.git_ref.to_string(), q.commit.to_string());
        if !expected.contains(&entry) {
            unexpected += 1;
        }
        if built.insert(entry) && lost_webhooks.contains(&(q.datasource.to_string(), q.commit.to_string())) {
            recovered_by_schedule += 1;
        }
    }
    Ledger {
        lost: expected.difference(&built).count(),
        duplicates: per_key.values().map(|n| n - 1).sum(),
        duplicates_in_window: per_key.iter().map(|(k, n)| (n - 1).min(taken.get(k).copied().unwrap_or(0))).sum(),
        key_mismatches,
        unexpected,
        recovered_by_schedule,
    }
}

/// Hands one GitHub push delivery to github-webhook, as `repowatch serve`
/// does; returns the runs it asks for (none when it refused or deduped it).
async fn deliver(ports: &Ports, body: &str, delivery: &str, signature: Option<&str>) -> Vec<RunRequest> {
    let mut headers = BTreeMap::from([
        ("X-GitHub-Event".to_owned(), "push".to_owned()),
        ("X-GitHub-Delivery".to_owned(), delivery.to_owned()),
        ("Content-Type".to_owned(), "application/json".to_owned()),
    ]);
    if let Some(s) = signature {
        headers.insert("X-Hub-Signature-256".to_owned(), s.to_owned());
    }
    let input = WebhookInput { headers, body: body.to_owned(), is_base64_encoded: false };
    let Ok(answer) = engine::invoke(ports, "github-webhook", serde_json::to_value(input).unwrap()).await else {
        return vec![];
    };
    let output: steps::WebhookOutput = serde_json::from_value(answer).unwrap();
    if output.status_code >= 300 { vec![] } else { output.runs }
}

/// The following days: scheduled runs, queue drains and DLQ redrives until
/// every pushed head is last-seen state and the queue and the DLQ are empty.
/// (A run need not be clean for that: a Notify that hung changes nothing.)
async fn converge(world: &mut Embedded, heads: &BTreeMap<usize, String>, deleted: &BTreeSet<usize>) {
    for attempt in 0..MAX_RUNS_PER_ROUND {
        let outage = world.class == FaultClass::DispatchOutage && attempt == 0;
        world.receiver.state.outage.store(outage, Ordering::Relaxed);
        world.run(RunRequest { source: DetectionSource::Schedule, datasource: None }).await;
        // During the outage every message is received until it is parked.
        world.drain(if outage { 400 } else { 10_000 }).await;
        world.receiver.state.outage.store(false, Ordering::Relaxed);
        world.redrive().await;
        world.drain(10_000).await;
        let seen: BTreeMap<String, String> = world
            .store
            .list_refs_all()
            .await
            .unwrap()
            .into_iter()
            .filter_map(|d| Some((d.id.to_string(), d.refs.first()?.commit.to_string())))
            .collect();
        let detected = heads
            .iter()
            .filter(|(i, _)| !deleted.contains(i))
            .all(|(i, head)| seen.get(datasource_id(*i).as_str()) == Some(head));
        let (visible, in_flight, dlq) = world.queue.depth().await.unwrap();
        if std::env::var_os("REPOWATCH_FAULT_TRACE").is_some() {
            eprintln!(
                "{:?} attempt {attempt}: detected {detected}, queue {visible}/{in_flight}/{dlq}, {} received",
                world.class,
                world.receiver.accepted().len()
            );
        }
        if detected && visible == 0 && in_flight == 0 && dlq == 0 && !outage {
            return;
        }
    }
}

/// Where the bench command writes its artifacts.
pub fn artifacts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts/fault-matrix")
}
