//! The embedded engine: binds the step handlers of repowatch-core to the
//! States Language interpreter, so `repowatch run` executes the very
//! definition that Step Functions runs on AWS (statemachines/pipeline.asl.json).
//!
//! Each `${<Pascal>FunctionArn}` of the definition is substituted with a
//! local Lambda-shaped ARN, and the [`LocalInvoker`] maps that ARN back to the
//! in-process handler: JSON in, JSON out, `StepError::error_name()` as the
//! Task's error, exactly what the Lambda glue reports on AWS.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use repowatch_asl::{Execution, ExecutionOptions, StateMachine, TaskContext, TaskFailure, TaskInvoker};
use repowatch_core::functions::{self, Function};
use repowatch_core::secret::SecretString;
use repowatch_core::steps::{self, RunRequest, RunSummary};
use repowatch_core::{
    BuildQueue, BuildTarget, Catalog, Clock, Dispatcher, Notifier, RefSource, RunId, StateStore, StepError,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The pipeline definition, compiled in so the binary runs anywhere.
pub const PIPELINE_DEFINITION: &str = include_str!("../../../statemachines/pipeline.asl.json");

const LOCAL_ARN_PREFIX: &str = "arn:aws:lambda:local:000000000000:function:";

/// The ports every handler may need, built once by the caller.
#[derive(Clone)]
pub struct Ports {
    pub catalog: Arc<dyn Catalog>,
    pub store: Arc<dyn StateStore>,
    pub queue: Arc<dyn BuildQueue>,
    pub refs: Arc<dyn RefSource>,
    pub target: Arc<dyn BuildTarget>,
    pub notifier: Arc<dyn Notifier>,
    pub clock: Arc<dyn Clock>,
    pub dispatcher: Dispatcher,
    /// `serve.webhook_secret`, resolved; github-webhook refuses to run without it.
    pub webhook_secret: Option<SecretString>,
}

/// Why a direct invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("no function named {name:?}; expected one of: {}", functions::ALL.iter().map(|f| f.name).collect::<Vec<_>>().join(", "))]
    UnknownFunction { name: String },
    #[error("{0} is not built yet (it arrives with the GitHub integration)")]
    NotAvailable(&'static str),
    #[error("{}: {}", .0.error_name(), .0.cause())]
    Step(StepError),
}

impl From<StepError> for InvokeError {
    fn from(e: StepError) -> Self {
        InvokeError::Step(e)
    }
}

impl InvokeError {
    /// The Task error a state machine sees.
    pub fn to_failure(&self) -> TaskFailure {
        match self {
            InvokeError::Step(e) => TaskFailure { error: e.error_name().to_owned(), cause: Some(e.cause()) },
            other => TaskFailure { error: StepError::CONFIG.to_owned(), cause: Some(other.to_string()) },
        }
    }
}

fn decode<T: DeserializeOwned>(function: Function, input: Value) -> Result<T, StepError> {
    serde_json::from_value(input).map_err(|e| StepError::InvalidInput(format!("{} input: {e}", function.name)))
}

fn encode<T: Serialize>(output: T) -> Result<Value, StepError> {
    serde_json::to_value(output).map_err(|e| StepError::InvalidInput(format!("cannot serialise the output: {e}")))
}

/// Runs one step handler on a JSON event: what a Lambda does with its payload.
pub async fn invoke(ports: &Ports, function: &str, input: Value) -> Result<Value, InvokeError> {
    let f = Function::by_name(function).ok_or_else(|| InvokeError::UnknownFunction { name: function.to_owned() })?;
    let p = ports;
    let output = match f {
        functions::LIST_DATASOURCES => {
            encode(steps::list_datasources(decode(f, input)?, &*p.catalog, &*p.clock).await?)?
        }
        functions::DETECT_UPDATES => {
            encode(steps::detect_updates(decode(f, input)?, &*p.catalog, &*p.store, &*p.refs).await?)?
        }
        functions::PROCESS_UPDATES => encode(
            steps::process_updates(decode(f, input)?, &*p.catalog, &*p.store, &*p.queue, &*p.refs, &*p.clock).await?,
        )?,
        functions::DISPATCH_BUILD => encode(
            steps::dispatch_build(decode(f, input)?, &*p.catalog, &*p.store, &*p.target, &*p.clock, &p.dispatcher)
                .await?,
        )?,
        functions::NOTIFY => encode(steps::notify(decode(f, input)?, &*p.notifier).await?)?,
        functions::GITHUB_WEBHOOK => {
            let secret = p.webhook_secret.as_ref().ok_or_else(|| {
                StepError::Config(
                    "github-webhook needs [serve] webhook_secret (e.g. \"env:GITHUB_WEBHOOK_SECRET\")".into(),
                )
            })?;
            encode(steps::github_webhook(decode(f, input)?, secret, &*p.catalog, &*p.store, &*p.clock).await?)?
        }
        other => return Err(InvokeError::NotAvailable(other.name)),
    };
    Ok(output)
}

/// Maps the local ARNs of the definition to the in-process handlers.
pub struct LocalInvoker {
    ports: Ports,
}

#[async_trait]
impl TaskInvoker for LocalInvoker {
    async fn invoke(&self, resource: &str, input: Value, _ctx: TaskContext<'_>) -> Result<Value, TaskFailure> {
        let Some(name) = resource.strip_prefix(LOCAL_ARN_PREFIX) else {
            return Err(TaskFailure {
                error: "States.Runtime".to_owned(),
                cause: Some(format!("the embedded engine runs only the repowatch functions; cannot call {resource:?}")),
            });
        };
        invoke(&self.ports, name, input).await.map_err(|e| e.to_failure())
    }
}

/// `${ListDatasourcesFunctionArn}` → the local ARN of list-datasources, and so on.
pub fn substitutions() -> BTreeMap<String, String> {
    functions::ALL.iter().map(|f| (f.substitution_key(), format!("{LOCAL_ARN_PREFIX}{}", f.name))).collect()
}

/// The definition after substitution, validated.
pub fn pipeline_machine() -> Result<StateMachine, repowatch_asl::DefinitionError> {
    let Ok(raw) = serde_json::from_str::<Value>(PIPELINE_DEFINITION) else {
        // Not JSON: let the parser report where.
        return StateMachine::from_json_str(PIPELINE_DEFINITION);
    };
    StateMachine::from_value(&repowatch_asl::substitute(&raw, &substitutions()))
}

/// What one `repowatch run` did.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub run_id: RunId,
    /// The run summary (the execution's output) when the execution succeeded.
    pub summary: Option<RunSummary>,
    pub execution: Execution,
}

/// One pipeline execution, in-process.
pub struct Engine {
    machine: StateMachine,
    invoker: LocalInvoker,
}

impl Engine {
    pub fn new(ports: Ports) -> Result<Self, repowatch_asl::DefinitionError> {
        Ok(Self { machine: pipeline_machine()?, invoker: LocalInvoker { ports } })
    }

    pub fn ports(&self) -> &Ports {
        &self.invoker.ports
    }

    pub async fn run(&self, request: &RunRequest, run_id: RunId) -> RunReport {
        let input = serde_json::to_value(request).unwrap_or(Value::Null);
        let options = ExecutionOptions {
            name: run_id.to_string(),
            state_machine_name: "repowatch-pipeline".to_owned(),
            ..ExecutionOptions::default()
        };
        let clock = repowatch_asl::SystemClock;
        let execution = repowatch_asl::execute(&self.machine, input, &self.invoker, &clock, options).await;
        let summary = execution.output.clone().and_then(|v| serde_json::from_value(v).ok());
        RunReport { run_id, summary, execution }
    }
}

/// A fresh run id: `run-20261124T101500Z-3f9a`, valid as a Step Functions execution name.
pub fn new_run_id(now: jiff::Timestamp) -> Result<RunId, repowatch_core::IdError> {
    let suffix: u16 = rand::random();
    RunId::parse(format!("run-{}-{suffix:04x}", now.strftime("%Y%m%dT%H%M%SZ")))
}
