//! The simulated cloud world of the fault matrix: the real `bootstrap`
//! binaries of functions/ behind the Lambda Runtime API simulator, moto as
//! DynamoDB, SQS and SSM, the fake GitHub, and the same receiver as the
//! embedded world. The interpreter drives statemachines/pipeline.asl.json by
//! invoking the functions; the harness plays the SQS event source mapping.
//!
//! The classes that belong to the cloud run here: Lambda failures and
//! throttling in front of the functions, SQS delivering a batch to two
//! dispatch-build invocations at once (DynamoDB's conditional writes decide),
//! and malformed partial-batch answers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use rand::{Rng, SeedableRng};
use repowatch_asl::{ExecutionOptions, StateMachine, TaskContext, TaskFailure, TaskInvoker};
use repowatch_aws::DynamoTable;
use repowatch_aws::moto::Moto;
use repowatch_core::secret::SecretRef;
use repowatch_core::*;
use repowatch_github_fake::{FakeGithub, Fault, FaultResponse, Matcher, sha};
use serde_json::{Value, json};

use super::{FaultClass, Receiver, Report, ScaledClock, batch_failures, count_panics, ledger, malformed};
use crate::lambda_sim::{ARN_PREFIX, SimLambda, bootstrap};

const TOKEN: &str = "ghp_fault_cloud_7c8d";
const TARGET_SECRET: &str = "fault-cloud-target-secret";
const DATASOURCES: usize = 100;
const MAX_RUNS_PER_ROUND: usize = 40;

/// The classes the cloud world runs.
pub const CLASSES: [FaultClass; 6] = [
    FaultClass::None,
    FaultClass::StepFails,
    FaultClass::LambdaThrottled,
    FaultClass::DeliveredTwice,
    FaultClass::MalformedBatchResponse,
    FaultClass::Github5xx,
];

struct CloudInvoker {
    lambdas: HashMap<&'static str, SimLambda>,
    /// Per function: invocations and total milliseconds (what Lambda bills).
    durations: Mutex<BTreeMap<String, (u64, f64)>>,
    class: FaultClass,
    rng: Mutex<rand::rngs::StdRng>,
    injected: Arc<AtomicU64>,
}

#[async_trait]
impl TaskInvoker for CloudInvoker {
    async fn invoke(&self, resource: &str, input: Value, _ctx: TaskContext<'_>) -> Result<Value, TaskFailure> {
        let name = resource.strip_prefix(ARN_PREFIX).unwrap_or(resource);
        let Some(lambda) = self.lambdas.get(name) else {
            return Err(TaskFailure { error: "Lambda.ResourceNotFoundException".into(), cause: Some(resource.into()) });
        };
        let fault = {
            let mut rng = self.rng.lock().unwrap();
            match self.class {
                FaultClass::StepFails | FaultClass::LambdaThrottled if rng.random_bool(0.3) => {
                    Some(rng.random_bool(0.5))
                }
                _ => None,
            }
        };
        let failure = |error: &str| TaskFailure { error: error.into(), cause: Some("injected".into()) };
        if let Some(after) = fault {
            self.injected.fetch_add(1, Ordering::Relaxed);
            if self.class == FaultClass::LambdaThrottled {
                // Throttled: the function never ran.
                return Err(failure("Lambda.TooManyRequestsException"));
            }
            if after {
                let _ = lambda.invoke(input).await;
            }
            return Err(failure("Lambda.ServiceException"));
        }
        let started = Instant::now();
        let answer = lambda.invoke(input).await;
        let mut d = self.durations.lock().unwrap();
        let e = d.entry(name.to_owned()).or_default();
        e.0 += 1;
        e.1 += started.elapsed().as_secs_f64() * 1e3;
        answer.map_err(|(error, cause)| TaskFailure { error, cause: Some(cause) })
    }
}

/// Runs one scenario in the simulated cloud; `None` when moto is not installed.
pub async fn run_cloud(class: FaultClass, changes: usize, seed: u64) -> Option<Report> {
    let panics = count_panics();
    let panics_before = panics.load(Ordering::SeqCst);
    let started = Instant::now();
    let moto = Moto::for_test()?;
    let sdk = moto.sdk_config().await;
    moto.create_table(&sdk, "repowatch").await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs.create_queue().queue_name("builds").send().await.unwrap().queue_url.unwrap();
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    for (name, value) in [("/repowatch/github-token", TOKEN), ("/repowatch/targets/builder", TARGET_SECRET)] {
        ssm.put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .unwrap();
    }
    let target_id = TargetId::parse("builder").unwrap();
    let (github, datasources) = super::synthetic_github(TOKEN, DATASOURCES, &target_id).await;
    let receiver = Receiver::start(TARGET_SECRET).await;
    let table = DynamoTable::new(aws_sdk_dynamodb::Client::new(&sdk), "repowatch");
    let spec = TargetSpec::Webhook {
        url: receiver.url.clone(),
        secret: SecretRef::parse("ssm:/repowatch/targets/builder").unwrap(),
    };
    table.sync_catalog(&datasources, &BTreeMap::from([(target_id, spec)])).await.unwrap();

    let env = crate::lambda_sim::cloud_env(&moto.url, &queue, github.url(), "error");
    let mut lambdas = HashMap::new();
    for f in functions::ALL {
        if f.name != "github-webhook" {
            lambdas.insert(f.name, SimLambda::start(f.name, &bootstrap(f.name), &env).await);
        }
    }
    // A second dispatch-build sandbox: SQS's second delivery runs beside the first.
    let twin = if class == FaultClass::DeliveredTwice {
        Some(SimLambda::start("dispatch-build", &bootstrap("dispatch-build"), &env).await)
    } else {
        None
    };
    let injected = Arc::new(AtomicU64::new(0));
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let invoker = CloudInvoker {
        lambdas,
        durations: Mutex::default(),
        class,
        rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(rng.random())),
        injected: Arc::clone(&injected),
    };
    let machine = pipeline();
    let mut world =
        World { invoker, twin, machine, sqs, queue, github, rng, injected, runs: 0, runs_not_ok: 0, batches: 0 };

    // The baseline, then rounds of changes, each followed by runs and drains until quiet.
    world.converge().await;
    let mut expected = BTreeSet::new();
    let mut pushed = 0;
    let mut round = 0;
    while pushed < changes {
        let n = (changes - pushed).min(DATASOURCES);
        for i in 0..n {
            let commit = sha(&format!("cloud-{class:?}-{round}-{i}"));
            world.github.set_branch(&super::repo_name(i), "main", &commit).unwrap();
            expected.insert((super::datasource_id(i).to_string(), "refs/heads/main".to_owned(), commit));
            pushed += 1;
        }
        world.converge().await;
        round += 1;
    }
    let l = ledger(&expected, &receiver.accepted(), &BTreeMap::new(), &BTreeSet::new());
    Some(Report {
        world: "cloud",
        class,
        seed,
        changes: pushed,
        unbuildable: 0,
        lost: l.lost,
        duplicates: l.duplicates,
        duplicates_in_window: l.duplicates_in_window,
        key_mismatches: l.key_mismatches,
        unexpected: l.unexpected,
        takeovers: 0,
        faults_injected: world.injected.load(Ordering::Relaxed),
        runs: world.runs,
        runs_not_ok: world.runs_not_ok,
        parked: 0,
        redriven: 0,
        webhooks_sent: 0,
        webhooks_lost: 0,
        forged_accepted: 0,
        replays_accepted: 0,
        recovered_by_schedule: 0,
        panics: panics.load(Ordering::SeqCst) - panics_before,
        seconds: started.elapsed().as_secs_f64(),
        durations_ms: world.invoker.durations.into_inner().unwrap(),
    })
}

fn pipeline() -> StateMachine {
    let raw: Value = serde_json::from_str(repowatch_local::engine::PIPELINE_DEFINITION).unwrap();
    let subs: BTreeMap<String, String> =
        functions::ALL.iter().map(|f| (f.substitution_key(), format!("{ARN_PREFIX}{}", f.name))).collect();
    StateMachine::from_value(&repowatch_asl::substitute(&raw, &subs)).unwrap()
}

struct World {
    invoker: CloudInvoker,
    twin: Option<SimLambda>,
    machine: StateMachine,
    sqs: aws_sdk_sqs::Client,
    queue: String,
    github: FakeGithub,
    rng: rand::rngs::StdRng,
    injected: Arc<AtomicU64>,
    runs: usize,
    runs_not_ok: usize,
    /// Batches handed to dispatch-build.
    batches: u64,
}

impl World {
    async fn run(&mut self) -> Option<Value> {
        if self.class() == FaultClass::Github5xx {
            let code = if self.rng.random_bool(0.5) { 502 } else { 504 };
            self.injected.fetch_add(1, Ordering::Relaxed);
            self.github.inject(Fault::new(Matcher::Graphql, 1, FaultResponse::status(code)));
        }
        self.runs += 1;
        let options = ExecutionOptions {
            name: format!("run-{}", self.runs),
            state_machine_name: "repowatch-pipeline".into(),
            ..ExecutionOptions::default()
        };
        let execution = repowatch_asl::execute(
            &self.machine,
            json!({ "source": "schedule" }),
            &self.invoker,
            &ScaledClock::CLOUD,
            options,
        )
        .await;
        let ok = execution.output.as_ref().is_some_and(|o| o["status"] == "ok");
        if !ok {
            self.runs_not_ok += 1;
            if std::env::var_os("REPOWATCH_FAULT_TRACE").is_some() {
                eprintln!("run {}: {:?} {:?} {:#?}", self.runs, execution.error, execution.cause, execution.output);
            }
        }
        execution.output
    }

    fn class(&self) -> FaultClass {
        self.invoker.class
    }

    /// Runs and drains until a run is clean, finds nothing new, and the queue is empty.
    async fn converge(&mut self) {
        for _ in 0..MAX_RUNS_PER_ROUND {
            let summary = self.run().await;
            let drained = self.drain().await;
            let quiet = summary.is_some_and(|s| {
                s["status"] == "ok" && s["totals"]["changed"] == 0 && s["totals"]["builds_queued"] == 0
            });
            if quiet && drained {
                return;
            }
        }
    }

    /// The SQS event source mapping: batches of up to 10 to dispatch-build,
    /// its partial-batch answer read as AWS reads it. `true` when the queue
    /// is empty at the end.
    async fn drain(&mut self) -> bool {
        let dispatch = &self.invoker.lambdas["dispatch-build"];
        for _ in 0..2_000 {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            if got.is_empty() {
                return true;
            }
            let mut records = Vec::new();
            let mut ids = Vec::new();
            let mut handles = BTreeMap::new();
            for m in &got {
                let count = m
                    .attributes()
                    .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount))
                    .cloned()
                    .unwrap_or_else(|| "1".into());
                records.push(json!({
                    "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                    "attributes": { "ApproximateReceiveCount": count }, "messageAttributes": {},
                    "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                }));
                let id = m.message_id().unwrap_or_default().to_owned();
                ids.push(MessageId::parse(id.clone()).unwrap());
                handles.insert(id, m.receipt_handle().unwrap_or_default().to_owned());
            }
            let event = json!({ "Records": records });
            self.batches += 1;
            let text = |answer: Result<Value, (String, String)>| answer.map(|v| v.to_string()).map_err(|(e, _)| e);
            let started = Instant::now();
            let failed = if let Some(twin) = &self.twin {
                self.injected.fetch_add(1, Ordering::Relaxed);
                let (x, y) = tokio::join!(dispatch.invoke(event.clone()), twin.invoke(event));
                match (batch_failures(&text(x), &ids), batch_failures(&text(y), &ids)) {
                    (Some(x), Some(y)) => Some(x.intersection(&y).cloned().collect()),
                    (Some(x), None) => Some(x),
                    (None, y) => y,
                }
            } else {
                let mut answer = text(dispatch.invoke(event).await);
                if self.class() == FaultClass::MalformedBatchResponse
                    && self.injected.load(Ordering::Relaxed) * 3 <= self.batches
                {
                    self.injected.fetch_add(1, Ordering::Relaxed);
                    answer = Ok(malformed(&mut self.rng, ids[0].as_str()));
                }
                batch_failures(&answer, &ids)
            };
            {
                let mut d = self.invoker.durations.lock().unwrap();
                let e = d.entry("dispatch-build".to_owned()).or_default();
                e.0 += 1 + u64::from(self.twin.is_some());
                e.1 += started.elapsed().as_secs_f64() * 1e3;
            }
            for (id, handle) in handles {
                let fail = failed.as_ref().is_none_or(|f: &BTreeSet<String>| f.contains(&id));
                if fail {
                    // Visible again at once (the mapping would wait for the visibility timeout).
                    self.sqs
                        .change_message_visibility()
                        .queue_url(&self.queue)
                        .receipt_handle(handle)
                        .visibility_timeout(0)
                        .send()
                        .await
                        .unwrap();
                } else {
                    self.sqs.delete_message().queue_url(&self.queue).receipt_handle(handle).send().await.unwrap();
                }
            }
        }
        false
    }
}
