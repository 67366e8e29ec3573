//! The monthly AWS cost model, from counts measured here:
//!
//! - state transitions, Lambda invocations and store calls per run: the
//!   real pipeline definition on the real interpreter with the real step
//!   handlers, at 100, 1,000 and 10,000 datasources, one scheduled run with
//!   the given share of datasources changed;
//! - Lambda durations: the real bootstraps against moto and the fake GitHub
//!   (the fault matrix's cloud world, no fault, 100 datasources);
//! - each store call priced as the DynamoDB adapter makes it (see
//!   crates/repowatch-aws/src/dynamo.rs): a strongly consistent GetItem is
//!   1 RRU, a PutItem of an item under 1 KB is 1 WRU.
//!
//!     cargo run -p repowatch-tests --bin cost-model -- [--changed 0.1] [--runs-per-day 1]
//!
//! Prices: us-east-1, on-demand, without the free tiers (Lambda's and Step
//! Functions' free tiers would cover a small deployment entirely).

// A bench command: a failed unwrap is a broken harness, reported with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use repowatch_asl::{ExecutionOptions, TaskContext, TaskFailure, TaskInvoker};
use repowatch_core::fakes::{
    MemoryBuildQueue, MemoryRefSource, MemoryStateStore, RecordingBuildTarget, RecordingNotifier,
};
use repowatch_core::rules::WatchRules;
use repowatch_core::steps::RunRequest;
use repowatch_core::*;
use repowatch_local::engine::{self, Ports};
use repowatch_tests::fault::{self, FaultClass};
use serde_json::Value;

// Prices (USD). Sources: REFERENCE.md (Step Functions, Lambda arm64, CloudWatch),
// aws.amazon.com/{dynamodb,sqs,lambda,cloudwatch}/pricing.
const SFN_PER_TRANSITION: f64 = 0.025 / 1000.0;
const LAMBDA_PER_GB_SECOND: f64 = 0.000_013_333_4; // arm64
const LAMBDA_PER_REQUEST: f64 = 0.20 / 1e6;
const DYNAMO_PER_WRU: f64 = 0.625 / 1e6;
const DYNAMO_PER_RRU: f64 = 0.125 / 1e6;
const SQS_PER_REQUEST: f64 = 0.40 / 1e6;
const CW_PER_ALARM: f64 = 0.10;
const CW_PER_METRIC: f64 = 0.30;
const LOGS_PER_GB: f64 = 0.50;
/// template.yaml: every function has 256 MB.
const MEMORY_GB: f64 = 0.25;
/// template.yaml's alarms and the EMF metrics the code emits (no per-datasource dimension).
const ALARMS: f64 = 7.0;
const CUSTOM_METRICS: f64 = 10.0;
/// Log bytes per invocation (one JSON line per step and per build, plus the runtime's START/END/REPORT).
const LOG_BYTES_PER_INVOCATION: f64 = 1_500.0;

#[derive(Default)]
struct Counts {
    calls: BTreeMap<&'static str, AtomicU64>,
}

impl Counts {
    fn new() -> Counts {
        let mut calls = BTreeMap::new();
        for k in
            ["load_refs", "commit_refs", "claim", "complete", "release", "record_build", "catalog_item", "catalog_all"]
        {
            calls.insert(k, AtomicU64::new(0));
        }
        Counts { calls }
    }
    fn add(&self, k: &'static str) {
        self.calls[k].fetch_add(1, Ordering::Relaxed);
    }
    fn get(&self, k: &str) -> f64 {
        self.calls[k].load(Ordering::Relaxed) as f64
    }
}

struct CountingStore {
    inner: MemoryStateStore,
    counts: Arc<Counts>,
}

#[async_trait]
impl StateStore for CountingStore {
    async fn load_refs(&self, d: &DatasourceId) -> Result<Option<Vec<RefState>>, PortError> {
        self.counts.add("load_refs");
        self.inner.load_refs(d).await
    }
    async fn commit_refs(&self, d: &DatasourceId, c: &[RefChange], now: Timestamp) -> Result<(), PortError> {
        self.counts.add("commit_refs");
        self.inner.commit_refs(d, c, now).await
    }
    async fn claim(&self, k: &IdempotencyKey, o: &str, now: Timestamp, until: Timestamp) -> Result<Claim, PortError> {
        self.counts.add("claim");
        self.inner.claim(k, o, now, until).await
    }
    async fn complete(&self, k: &IdempotencyKey, o: &str, now: Timestamp) -> Result<(), PortError> {
        self.counts.add("complete");
        self.inner.complete(k, o, now).await
    }
    async fn release(&self, k: &IdempotencyKey, o: &str) -> Result<(), PortError> {
        self.counts.add("release");
        self.inner.release(k, o).await
    }
    async fn record_build(&self, r: &BuildRecord) -> Result<(), PortError> {
        self.counts.add("record_build");
        self.inner.record_build(r).await
    }
    async fn record_delivery(&self, d: &str, now: Timestamp) -> Result<bool, PortError> {
        self.inner.record_delivery(d, now).await
    }
    async fn record_run_result(&self, r: &RunResult) -> Result<bool, PortError> {
        self.inner.record_run_result(r).await
    }
}

struct CountingCatalog {
    inner: StaticCatalog,
    counts: Arc<Counts>,
}

#[async_trait]
impl Catalog for CountingCatalog {
    async fn datasources(&self) -> Result<Vec<Datasource>, PortError> {
        self.counts.add("catalog_all");
        self.inner.datasources().await
    }
    async fn datasource(&self, id: &DatasourceId) -> Result<Option<Datasource>, PortError> {
        self.counts.add("catalog_item");
        self.inner.datasource(id).await
    }
    async fn target(&self, id: &TargetId) -> Result<Option<TargetSpec>, PortError> {
        self.counts.add("catalog_item");
        self.inner.target(id).await
    }
}

/// Counts Task invocations per function.
struct CountingInvoker {
    ports: Ports,
    invocations: std::sync::Mutex<BTreeMap<String, u64>>,
}

#[async_trait]
impl TaskInvoker for CountingInvoker {
    async fn invoke(&self, resource: &str, input: Value, _ctx: TaskContext<'_>) -> Result<Value, TaskFailure> {
        let name = resource.rsplit(':').next().unwrap_or(resource).to_owned();
        *self.invocations.lock().unwrap().entry(name.clone()).or_default() += 1;
        engine::invoke(&self.ports, &name, input).await.map_err(|e| e.to_failure())
    }
}

struct PerRun {
    transitions: f64,
    invocations: BTreeMap<String, u64>,
    counts: Arc<Counts>,
    builds: f64,
}

/// One scheduled run over `n` datasources, `changed` of them with a new commit.
async fn measure(n: usize, changed: f64) -> Result<PerRun, String> {
    let target = TargetId::parse("builder").unwrap();
    let datasources: Vec<Datasource> = (0..n)
        .map(|i| Datasource {
            id: DatasourceId::parse(format!("ds{i:05}")).unwrap(),
            location: Location::Github(RepoSlug::parse(&format!("octo/repo{i:05}")).unwrap()),
            watch: WatchRules::parse(&["branch:main"]).unwrap(),
            paths: None,
            cooldown: Duration::ZERO,
            targets: vec![target.clone()],
            build_on_first_seen: false,
        })
        .collect();
    let refs = Arc::new(MemoryRefSource::default());
    let commit = |s: &str| CommitSha::parse(repowatch_github_fake::sha(s)).unwrap();
    for d in &datasources {
        refs.set(&d.id, vec![(RefKind::Branch, "refs/heads/main", &commit(&format!("a-{}", d.id)))]);
    }
    let spec =
        TargetSpec::RepositoryDispatch { repo: RepoSlug::parse("octo/builds").unwrap(), event_type: "build".into() };
    let counts = Arc::new(Counts::new());
    let ports = Ports {
        catalog: Arc::new(CountingCatalog {
            inner: StaticCatalog::new(datasources.clone(), BTreeMap::from([(target, spec)])),
            counts: Arc::clone(&counts),
        }),
        store: Arc::new(CountingStore { inner: MemoryStateStore::default(), counts: Arc::clone(&counts) }),
        queue: Arc::new(MemoryBuildQueue::default()),
        refs: Arc::clone(&refs) as Arc<dyn RefSource>,
        target: Arc::new(RecordingBuildTarget::default()),
        notifier: Arc::new(RecordingNotifier::default()),
        clock: Arc::new(SystemClock),
        dispatcher: Dispatcher { owner: "cost-model".into(), lease: Duration::from_secs(60) },
        webhook_secret: None,
    };
    let machine = engine::pipeline_machine().unwrap();
    run_once(&machine, ports.clone()).await?; // the baseline
    for c in counts.calls.values() {
        c.store(0, Ordering::Relaxed);
    }
    let changes = (n as f64 * changed).round() as usize;
    for d in datasources.iter().take(changes) {
        refs.set(&d.id, vec![(RefKind::Branch, "refs/heads/main", &commit(&format!("b-{}", d.id)))]);
    }
    let (transitions, invocations) = run_once(&machine, ports).await?;
    Ok(PerRun { transitions: transitions as f64, invocations, counts, builds: changes as f64 })
}

/// One execution: the state transitions it made and the Task invocations per function.
async fn run_once(
    machine: &repowatch_asl::StateMachine,
    ports: Ports,
) -> Result<(usize, BTreeMap<String, u64>), String> {
    let invoker = CountingInvoker { ports, invocations: Default::default() };
    let input = serde_json::to_value(RunRequest { source: DetectionSource::Schedule, datasource: None }).unwrap();
    let options = ExecutionOptions { max_transitions: 10_000_000, ..ExecutionOptions::default() };
    let execution = repowatch_asl::execute(machine, input, &invoker, &repowatch_asl::SystemClock, options).await;
    if execution.output.is_none() {
        return Err(format!("{}: {}", execution.error.unwrap_or_default(), execution.cause.unwrap_or_default()));
    }
    // Step Functions bills one transition per state entered (Map iterations included).
    let transitions = execution
        .history
        .iter()
        .filter(|e| {
            serde_json::to_value(e.event_type).ok().and_then(|v| v.as_str().map(|s| s.ends_with("StateEntered")))
                == Some(true)
        })
        .count();
    Ok((transitions, invoker.invocations.into_inner().unwrap()))
}

fn main() {
    let mut changed = 0.1;
    let mut runs_per_day = 1.0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().and_then(|v| v.parse::<f64>().ok());
        match (a.as_str(), v) {
            ("--changed", Some(v)) if (0.0..=1.0).contains(&v) => changed = v,
            ("--runs-per-day", Some(v)) if v > 0.0 => runs_per_day = v,
            _ => {
                eprintln!("usage: cost-model [--changed 0..1] [--runs-per-day N]");
                std::process::exit(2);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // Lambda durations from the real bootstraps (moto and the fake GitHub on 127.0.0.1).
    let cloud = runtime.block_on(fault::cloud::run_cloud(FaultClass::None, 100, 1));
    let Some(cloud) = cloud else {
        eprintln!("cost-model: moto is not installed (scripts/test.sh installs it); durations cannot be measured");
        std::process::exit(1);
    };
    let mean_ms: BTreeMap<String, f64> =
        cloud.durations_ms.iter().map(|(k, (n, total))| (k.clone(), total / (*n).max(1) as f64)).collect();
    println!("Measured Lambda durations (debug bootstraps against moto, mean ms per invocation):");
    for (k, v) in &mean_ms {
        println!("  {k}: {v:.1} ms");
    }
    println!(
        "\nAssumptions: {runs_per_day} scheduled run(s) a day, {:.0} % of datasources changed per run, one target each, 30 days.\n",
        changed * 100.0
    );
    println!(
        "| datasources | transitions / run | Lambda invocations / run | DynamoDB RRU / WRU per run | Step Functions | Lambda | DynamoDB | SQS | CloudWatch | Logs | **total / month** |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut last: Option<(usize, f64)> = None;
    // 100, 1,000 and 10,000 for the bill; 20,000 and 50,000 to find where a
    // run outgrows Step Functions' 256 KiB state limit now that each shard's
    // result is bounded (steps::process_updates::RUN_DETAIL_BUDGET).
    for n in [100usize, 1_000, 10_000, 20_000, 50_000] {
        let m = match runtime.block_on(measure(n, changed)) {
            Ok(m) => m,
            Err(e) => {
                // The pipeline is linear in shards: scale the last size that ran.
                let fixed = ALARMS * CW_PER_ALARM + CUSTOM_METRICS * CW_PER_METRIC;
                let extrapolated = last
                    .map(|(k, variable)| format!("~${:.2} (scaled from {k})", fixed + variable * n as f64 / k as f64));
                println!("| {n} | the run fails: {e} | | | | | | | | | {} |", extrapolated.unwrap_or_default());
                continue;
            }
        };
        let c = &m.counts;
        let runs = 30.0 * runs_per_day;
        // Pipeline Tasks, plus one dispatch-build invocation per batch of up to 10 builds.
        let dispatch_invocations = (m.builds / 10.0).ceil();
        let pipeline_invocations: f64 = m.invocations.values().sum::<u64>() as f64;
        let gb_seconds: f64 = m
            .invocations
            .iter()
            .map(|(f, k)| *k as f64 * mean_ms.get(f).copied().unwrap_or(100.0) / 1e3 * MEMORY_GB)
            .sum::<f64>()
            + dispatch_invocations * mean_ms.get("dispatch-build").copied().unwrap_or(100.0) / 1e3 * MEMORY_GB;
        // DynamoDB, as the adapter calls it: GetItem 1 RRU (strong), PutItem 1 WRU;
        // commit_refs = GetItem + conditional PutItem; a build = claim + complete + record (2 WRU, ~1.5 KB).
        let rru = c.get("load_refs")
            + c.get("commit_refs")
            + c.get("catalog_item")
            + c.get("catalog_all") * ((n as f64 * 400.0) / 4096.0).ceil() * 0.5;
        let wru = c.get("commit_refs") + m.builds * (1.0 + 1.0 + 2.0);
        // SQS: SendMessageBatch per 10, ReceiveMessage and DeleteMessageBatch per batch of 10.
        let sqs = (m.builds / 10.0).ceil() * 3.0;
        let invocations = pipeline_invocations + dispatch_invocations;
        let sfn = m.transitions * SFN_PER_TRANSITION * runs;
        let lambda = (gb_seconds * LAMBDA_PER_GB_SECOND + invocations * LAMBDA_PER_REQUEST) * runs;
        let dynamo = (rru * DYNAMO_PER_RRU + wru * DYNAMO_PER_WRU) * runs;
        let sqs_cost = sqs * SQS_PER_REQUEST * runs;
        let cloudwatch = ALARMS * CW_PER_ALARM + CUSTOM_METRICS * CW_PER_METRIC;
        let logs = invocations * LOG_BYTES_PER_INVOCATION / 1e9 * LOGS_PER_GB * runs;
        let total = sfn + lambda + dynamo + sqs_cost + cloudwatch + logs;
        last = Some((n, total - cloudwatch));
        println!(
            "| {n} | {} | {} | {:.0} / {:.0} | ${sfn:.2} | ${lambda:.2} | ${dynamo:.2} | ${sqs_cost:.3} | ${cloudwatch:.2} | ${logs:.3} | **${total:.2}** |",
            m.transitions, invocations, rru, wru
        );
    }
}
