//! Running a [`StateMachine`]: [`execute`], the [`TaskInvoker`] that performs
//! Task states, and the [`Execution`] record with its history.
//!
//! States Language: Transitions; Errors (Retry, Catch); Map State; Parallel State.

use crate::clock::{Clock, Elapsed, with_timeout};
use crate::dataflow::{
    ContextObject, ExecutionInfo, Template, check_serialized_size, merge_result, select, select_owned,
};
use crate::datapath::DataPath;
use crate::error::{
    STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD, STATES_RUNTIME, STATES_TASK_FAILED, STATES_TIMEOUT, StatesError,
};
use crate::machine::{Machine, StateMachine};
use crate::path::{ReferencePath, kind_of};
use crate::states::map::{MapState, Tolerance};
use crate::states::parallel::Parallel;
use crate::states::retry::ErrorHandling;
use crate::states::task::Task;
use crate::states::wait::WaitFor;
use crate::states::{DataFlow, State, Transition};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a Task's resource returned when it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskFailure {
    /// The error name matched by `Retry`/`Catch` `ErrorEquals`; empty means `States.TaskFailed`.
    pub error: String,
    /// A human-readable cause.
    pub cause: Option<String>,
}

impl TaskFailure {
    /// A failure with an error name and a cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> TaskFailure {
        TaskFailure { error: error.into(), cause: Some(cause.into()) }
    }
}

/// Context given to a task call.
#[derive(Debug, Clone, Copy)]
pub struct TaskContext<'a> {
    /// The Task state's name.
    pub state_name: &'a str,
    /// 0 for the first call, then 1, 2… for each retry of the state.
    pub attempt: u32,
    /// The execution's name ([`ExecutionOptions::name`]).
    pub execution_name: &'a str,
}

/// Performs Task states: given the `Resource` and the effective input, returns the result.
#[async_trait::async_trait]
pub trait TaskInvoker: Send + Sync {
    /// Run `resource` on `input`.
    async fn invoke(&self, resource: &str, input: Value, ctx: TaskContext<'_>) -> Result<Value, TaskFailure>;
}

/// Settings of one execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionOptions {
    /// The execution name (`$$.Execution.Name`).
    pub name: String,
    /// The state machine name, used in `$$.StateMachine.Id` and `$$.Execution.Id`.
    pub state_machine_name: String,
    /// Guard against endless loops: more state transitions than this (all
    /// branches and iterations counted) fail the execution with `States.Runtime`.
    pub max_transitions: u64,
    /// STANDARD or EXPRESS: shapes `$$.Execution.Id` and `$$.Execution.RedriveCount`.
    pub execution_type: ExecutionType,
    /// The region in ARNs (`$$.Execution.Id`, `$$.StateMachine.Id`).
    pub region: String,
    /// The account in ARNs.
    pub account_id: String,
    /// `$$.Execution.RoleArn`.
    pub role_arn: String,
}

/// The workflow type of a state machine (AWS: STANDARD or EXPRESS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionType {
    /// Standard workflow: `arn:…:execution:<machine>:<name>`, with `RedriveCount` in the context object.
    #[default]
    Standard,
    /// Express workflow: `arn:…:express:<machine>:<name>:<id>`, no `RedriveCount`.
    Express,
}

impl Default for ExecutionOptions {
    fn default() -> Self {
        ExecutionOptions {
            name: "execution".to_string(),
            state_machine_name: "StateMachine".to_string(),
            max_transitions: 25_000,
            execution_type: ExecutionType::Standard,
            region: "local".to_string(),
            account_id: "000000000000".to_string(),
            role_arn: "arn:aws:iam::000000000000:role/StatesExecutionRole".to_string(),
        }
    }
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Reached a Succeed state or an `End`.
    Succeeded,
    /// An error was not caught, or a Fail state was reached.
    Failed,
    /// The machine's `TimeoutSeconds` passed.
    TimedOut,
}

/// The kind of a [`HistoryEvent`], named as in AWS `GetExecutionHistory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub enum HistoryEventType {
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionTimedOut,
    TaskStateEntered,
    TaskScheduled,
    TaskStarted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    TaskStateExited,
    PassStateEntered,
    PassStateExited,
    ChoiceStateEntered,
    ChoiceStateExited,
    WaitStateEntered,
    WaitStateExited,
    SucceedStateEntered,
    SucceedStateExited,
    FailStateEntered,
    MapStateEntered,
    MapStateStarted,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapStateSucceeded,
    MapStateFailed,
    MapStateExited,
    ParallelStateEntered,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateExited,
}

/// One entry of an execution's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEvent {
    /// 1-based, in the order events happened.
    pub id: u64,
    /// The event before this one in the same branch/iteration.
    pub previous_event_id: Option<u64>,
    /// When it happened, on the execution's clock.
    pub timestamp: Timestamp,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: HistoryEventType,
    /// The state concerned, if any.
    pub state_name: Option<String>,
    /// Event details: `input`, `output`, `error`, `cause`, `resource`, `index`…
    /// Payloads (`input`, `output`, `parameters`) are JSON text, as in Step
    /// Functions' `GetExecutionHistory`.
    pub details: Value,
}

/// The record of a finished execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Execution {
    /// How it ended.
    pub status: ExecutionStatus,
    /// The final output, when it succeeded.
    pub output: Option<Value>,
    /// The error name, when it failed or timed out.
    pub error: Option<String>,
    /// The cause, when it failed or timed out.
    pub cause: Option<String>,
    /// Every event, in order.
    pub history: Vec<HistoryEvent>,
    /// When it started, on the clock.
    pub started_at: Timestamp,
    /// When it stopped, on the clock.
    pub stopped_at: Timestamp,
}

/// Run `machine` on `input` to the end. Tasks go to `invoker`; waits, retry
/// back-off and timeouts use `clock`. Never panics on bad input: every problem
/// ends up as a failed [`Execution`] with an AWS error name.
///
/// The returned future is `Send`, so it can be spawned on a multi-thread runtime.
pub async fn execute(
    machine: &StateMachine,
    input: Value,
    invoker: &dyn TaskInvoker,
    clock: &dyn Clock,
    options: ExecutionOptions,
) -> Execution {
    let started_at = clock.now();
    let input_text = json_text(&input);
    let info = ExecutionInfo {
        express: options.execution_type == ExecutionType::Express,
        role_arn: options.role_arn,
        name: options.name,
        input: input.clone(),
        start_time: started_at,
        state_machine_name: options.state_machine_name,
        region: options.region,
        account_id: options.account_id,
    };
    let runner = Runner {
        invoker,
        clock,
        info,
        // Room for a short execution's events without growing.
        history: Mutex::new(Vec::with_capacity(16)),
        transitions: AtomicU64::new(0),
        max_transitions: options.max_transitions,
    };
    let mut cursor = None;
    let start = runner.emit(
        &mut cursor,
        HistoryEventType::ExecutionStarted,
        None,
        json!({"input": input_text, "name": runner.info.name}),
    );
    tracing::debug!(execution = %runner.info.name, "execution started");
    let run = runner.run_machine(&machine.root, input, Some(start), Variables::new(), false);
    let outcome = match machine.timeout_seconds {
        Some(limit) => match with_timeout(clock, Duration::from_secs(limit), run).await {
            Ok(result) => result.map_err(Some),
            Err(Elapsed) => Err(None),
        },
        None => run.await.map_err(Some),
    };
    let mut last = runner.last_event_id();
    let (status, output, error, cause) = match outcome {
        Ok(output) => {
            runner.emit(&mut last, HistoryEventType::ExecutionSucceeded, None, json!({"output": json_text(&output)}));
            (ExecutionStatus::Succeeded, Some(output), None, None)
        }
        Err(Some(err)) => {
            runner.emit(
                &mut last,
                HistoryEventType::ExecutionFailed,
                None,
                json!({"error": err.error, "cause": err.cause}),
            );
            let error = Some(err.error).filter(|e| !e.is_empty());
            let cause = Some(err.cause).filter(|c| !c.is_empty());
            (ExecutionStatus::Failed, None, error, cause)
        }
        Err(None) => {
            let cause =
                format!("The execution ran longer than its TimeoutSeconds of {}", machine.timeout_seconds.unwrap_or(0));
            runner.emit(
                &mut last,
                HistoryEventType::ExecutionTimedOut,
                None,
                json!({"error": STATES_TIMEOUT, "cause": cause}),
            );
            (ExecutionStatus::TimedOut, None, Some(STATES_TIMEOUT.to_string()), Some(cause))
        }
    };
    tracing::debug!(execution = %runner.info.name, ?status, "execution stopped");
    let history = runner.history.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    Execution { status, output, error, cause, history, started_at, stopped_at: clock.now() }
}

/// What a state hands to the machine loop.
struct Step<'m> {
    output: Value,
    /// The next state's name, borrowed from the definition.
    next: Option<&'m str>,
    /// Variables the state assigns (`Assign`), applied once it is done.
    assign: Option<Variables>,
}

/// The variables of one scope (`$name`).
type Variables = Map<String, Value>;

/// The start of the cause AWS gives a `States.Runtime` error raised while running a state.
const LOCATED_PREFIX: &str = "An error occurred while executing the state '";

/// Prefix a state's own `States.Runtime` cause with where it happened, as AWS does
/// (observed on AWS in the conformance corpus:
/// "An error occurred while executing the state 'S' (entered at the event id #2). …").
fn locate(mut err: StatesError, name: &str, entered_id: u64) -> StatesError {
    if err.error == STATES_RUNTIME && !err.fatal && !err.cause.starts_with(LOCATED_PREFIX) {
        err.cause = format!("{LOCATED_PREFIX}{name}' (entered at the event id #{entered_id}). {}", err.cause);
    }
    err
}

/// Longest delay a Wait state accepts (observed on AWS: 24,855 days pass, 24,856 fail; 2^31 s).
const MAX_WAIT_SECONDS: i64 = 2_147_483_647;

/// An ISO-8601 extended offset date-time, as AWS's Wait state requires
/// (`2016-03-14T01:59:00Z`, `…T01:59:00.123+02:00`; no space, offset required).
pub(crate) fn parse_wait_timestamp(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 17
        && digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && matches!(b.get(10), Some(b'T' | b't'))
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16);
    if !shape {
        return None;
    }
    let mut i = 16;
    if b.get(i) == Some(&b':') {
        if !digits(i + 1..i + 3) {
            return None;
        }
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return None;
            }
        }
    }
    let zone = text.get(i..)?.as_bytes();
    let zone_ok = zone.eq_ignore_ascii_case(b"z")
        || (zone.len() == 6
            && matches!(zone.first(), Some(b'+' | b'-'))
            && zone.get(1..3).is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            && zone.get(3) == Some(&b':')
            && zone.get(4..6).is_some_and(|d| d.iter().all(u8::is_ascii_digit)));
    if !zone_ok {
        return None;
    }
    text.parse().ok()
}

/// A value as AWS quotes it in messages: strings as they are, anything else as JSON.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Evaluate an `Assign` block against `$` = `value`.
fn assign(
    template: Option<&Template>,
    value: &Value,
    ctx: &ContextObject<'_>,
) -> Result<Option<Variables>, StatesError> {
    let Some(template) = template else { return Ok(None) };
    match template.evaluate(value, ctx)? {
        Value::Object(map) => Ok(Some(map)),
        _ => Ok(None),
    }
}

struct Runner<'r> {
    invoker: &'r dyn TaskInvoker,
    clock: &'r dyn Clock,
    info: ExecutionInfo,
    history: Mutex<Vec<HistoryEvent>>,
    transitions: AtomicU64,
    max_transitions: u64,
}

fn entered_type(state: &State) -> HistoryEventType {
    use HistoryEventType as H;
    match state {
        State::Task(_) => H::TaskStateEntered,
        State::Map(_) => H::MapStateEntered,
        State::Parallel(_) => H::ParallelStateEntered,
        State::Choice(_) => H::ChoiceStateEntered,
        State::Pass(_) => H::PassStateEntered,
        State::Wait(_) => H::WaitStateEntered,
        State::Succeed(_) => H::SucceedStateEntered,
        State::Fail(_) => H::FailStateEntered,
    }
}

/// A value as compact JSON text, the form the history keeps. Serializing into
/// a byte buffer is about twice as fast as `Value::to_string` (which goes
/// through `fmt::Write`), and the history serializes every state's input and
/// output.
fn json_text(value: &Value) -> String {
    // A `Value`'s keys are strings, so serializing it cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// Whether a state's result replaces its input (`ResultPath: "$"`, the
/// default), so the input need not be kept, or copied, for the merge.
fn replaces_input(flow: &DataFlow) -> bool {
    flow.result_path.as_ref().is_some_and(ReferencePath::is_root)
}

/// `{"name": name, key: "<value as JSON text>"}`. Payloads are kept as JSON
/// text, as Step Functions' history gives them: a deep copy of a `Value` per
/// event costs many times the text, and the fuzzer found a looping
/// definition whose growing state took 2 GB in 2,000 transitions that way.
/// The caller makes the text ([`json_text`]) and checks its size with it.
fn named_details(name: &str, key: &str, text: String) -> Value {
    let mut details = serde_json::Map::with_capacity(2);
    details.insert("name".to_owned(), Value::String(name.to_owned()));
    details.insert(key.to_owned(), Value::String(text));
    Value::Object(details)
}

fn exited_type(state: &State) -> Option<HistoryEventType> {
    use HistoryEventType as H;
    Some(match state {
        State::Task(_) => H::TaskStateExited,
        State::Map(_) => H::MapStateExited,
        State::Parallel(_) => H::ParallelStateExited,
        State::Choice(_) => H::ChoiceStateExited,
        State::Pass(_) => H::PassStateExited,
        State::Wait(_) => H::WaitStateExited,
        State::Succeed(_) => H::SucceedStateExited,
        State::Fail(_) => return None,
    })
}

impl Runner<'_> {
    /// Record an event after `cursor` and move the cursor to it.
    fn emit(
        &self,
        cursor: &mut Option<u64>,
        event_type: HistoryEventType,
        state_name: Option<&str>,
        details: Value,
    ) -> u64 {
        let mut history = self.history.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = history.len() as u64 + 1;
        history.push(HistoryEvent {
            id,
            previous_event_id: *cursor,
            timestamp: self.clock.now(),
            event_type,
            state_name: state_name.map(str::to_string),
            details,
        });
        *cursor = Some(id);
        id
    }

    fn last_event_id(&self) -> Option<u64> {
        let history = self.history.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        history.last().map(|e| e.id)
    }

    fn context<'c>(&'c self, name: &'c str, entered: Timestamp, variables: &'c Variables) -> ContextObject<'c> {
        ContextObject::new(&self.info, name, entered, 0).with_variables(variables)
    }

    /// Run a (top-level or nested) machine to its end. `variables` are the
    /// variables visible at its start (a Map iteration or Parallel branch gets a
    /// copy of the enclosing scope's).
    fn run_machine<'s>(
        &'s self,
        machine: &'s Machine,
        input: Value,
        previous: Option<u64>,
        variables: Variables,
        concurrent: bool,
    ) -> BoxFuture<'s, Result<Value, StatesError>> {
        async move {
            let mut cursor = previous;
            let mut current: &str = &machine.start_at;
            let mut first = true;
            let mut input = input;
            let mut variables = variables;
            loop {
                let count = self.transitions.fetch_add(1, Ordering::Relaxed) + 1;
                if count > self.max_transitions {
                    return Err(StatesError::fatal(
                        STATES_RUNTIME,
                        format!("The execution exceeded the limit of {} state transitions (ExecutionOptions::max_transitions)", self.max_transitions),
                    ));
                }
                let (name, state) = machine
                    .get(current)
                    .ok_or_else(|| StatesError::runtime(format!("There is no state named '{current}'")))?;
                // Every later state's input is the output checked just before.
                let step = self
                    .run_state(name, state, input, std::mem::take(&mut first), concurrent, &mut cursor, &variables)
                    .await?;
                if let Some(assigned) = step.assign {
                    variables.extend(assigned);
                }
                match step.next {
                    Some(next) => {
                        current = next;
                        input = step.output;
                    }
                    None => return Ok(step.output),
                }
            }
        }
        .boxed()
    }

    // The two flags are per call (first state of a machine; inside a Map or
    // Parallel), not state of the runner.
    #[allow(clippy::too_many_arguments)]
    async fn run_state<'m>(
        &self,
        name: &str,
        state: &'m State,
        input: Value,
        check_input: bool,
        concurrent: bool,
        cursor: &mut Option<u64>,
        variables: &Variables,
    ) -> Result<Step<'m>, StatesError> {
        let entered = self.clock.now();
        tracing::trace!(state = name, kind = state.type_name(), "state entered");
        let input_text = json_text(&input);
        let input_bytes = input_text.len();
        let entered_id = self.emit(cursor, entered_type(state), Some(name), named_details(name, "input", input_text));
        // AWS enters the state, then finds its input too large.
        if check_input {
            check_serialized_size(input_bytes, name)?;
        }
        // Let concurrent branches and iterations take turns, as AWS's history
        // shows them: every branch enters its state before any leaves it.
        if concurrent {
            tokio::task::yield_now().await;
        }
        let step = self
            .state_body(name, state, input, entered, cursor, variables)
            .await
            .map_err(|err| locate(err, name, entered_id))?;
        // A result over the limit fails the state before it exits (as AWS's history shows).
        let output_text = json_text(&step.output);
        check_serialized_size(output_text.len(), name)?;
        if let Some(exited) = exited_type(state) {
            self.emit(cursor, exited, Some(name), named_details(name, "output", output_text));
        }
        Ok(step)
    }

    async fn state_body<'m>(
        &self,
        name: &str,
        state: &'m State,
        input: Value,
        entered: Timestamp,
        cursor: &mut Option<u64>,
        variables: &Variables,
    ) -> Result<Step<'m>, StatesError> {
        let step = match state {
            // The states with Retry/Catch share one path.
            State::Task(_) | State::Map(_) | State::Parallel(_) => {
                let Some((errors, transition)) = state.resilience() else {
                    return Err(StatesError::runtime(format!("state {name:?} has no Retry/Catch handling")));
                };
                self.run_resilient(name, state, errors, transition, input, entered, cursor, variables).await?
            }
            State::Pass(pass) => {
                let ctx = self.context(name, entered, variables);
                let (result, input) = match (&pass.result, &pass.flow.parameters) {
                    // The effective input is the result, and it replaces the input
                    // (`ResultPath: "$"`, the default): move the input, do not copy it.
                    (None, None) if replaces_input(&pass.flow) => {
                        (select_owned(pass.flow.input_path.as_ref(), "InputPath", input, &ctx)?, Value::Null)
                    }
                    (Some(result), _) => (result.clone(), input),
                    (None, Some(parameters)) => {
                        let effective = select(pass.flow.input_path.as_ref(), "InputPath", &input, &ctx)?;
                        (parameters.evaluate(&effective, &ctx)?, input)
                    }
                    (None, None) => {
                        (select(pass.flow.input_path.as_ref(), "InputPath", &input, &ctx)?.into_owned(), input)
                    }
                };
                let assigned = assign(pass.flow.assign.as_ref(), &result, &ctx)?;
                let merged = merge_result(pass.flow.result_path.as_ref(), input, result)?;
                let output = select_owned(pass.flow.output_path.as_ref(), "OutputPath", merged, &ctx)?;
                Step { output, next: pass.transition.next(), assign: assigned }
            }
            State::Wait(wait) => {
                let ctx = self.context(name, entered, variables);
                let effective = select_owned(wait.flow.input_path.as_ref(), "InputPath", input, &ctx)?;
                let duration = self.wait_duration(&wait.wait_for, &effective, &ctx)?;
                if !duration.is_zero() {
                    self.clock.sleep(duration).await;
                }
                let assigned = assign(wait.flow.assign.as_ref(), &effective, &ctx)?;
                let output = select_owned(wait.flow.output_path.as_ref(), "OutputPath", effective, &ctx)?;
                Step { output, next: wait.transition.next(), assign: assigned }
            }
            State::Choice(choice) => {
                let ctx = self.context(name, entered, variables);
                let effective = select_owned(choice.flow.input_path.as_ref(), "InputPath", input, &ctx)?;
                let (next, rule_assign) = choice.decide(&effective, &ctx)?;
                // A matched rule's Assign; the state's own Assign goes with Default.
                let template = if rule_assign.is_some() {
                    rule_assign
                } else if choice.default.as_deref() == Some(next)
                    && !choice.choices.iter().any(|(_, n, a)| n == next && a.is_some())
                {
                    choice.flow.assign.as_ref()
                } else {
                    None
                };
                let assigned = assign(template, &effective, &ctx)?;
                let output = select_owned(choice.flow.output_path.as_ref(), "OutputPath", effective, &ctx)?;
                Step { output, next: Some(next), assign: assigned }
            }
            State::Succeed(succeed) => {
                let ctx = self.context(name, entered, variables);
                let effective = select_owned(succeed.flow.input_path.as_ref(), "InputPath", input, &ctx)?;
                let output = select_owned(succeed.flow.output_path.as_ref(), "OutputPath", effective, &ctx)?;
                Step { output, next: None, assign: None }
            }
            State::Fail(fail) => {
                let ctx = self.context(name, entered, variables);
                let text = |literal: &Option<String>,
                            path: &Option<DataPath>,
                            field: &str|
                 -> Result<String, StatesError> {
                    match (literal, path) {
                        (Some(text), _) => Ok(text.clone()),
                        (None, Some(path)) => match path.resolve(&input, &ctx) {
                            Some(Value::String(s)) => Ok(s),
                            Some(other) => Ok(other.to_string()),
                            None => Err(StatesError::runtime(format!(
                                "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{input}'"
                            ))),
                        },
                        (None, None) => Ok(String::new()),
                    }
                };
                let error = text(&fail.error, &fail.error_path, "ErrorPath")?;
                let cause = text(&fail.cause, &fail.cause_path, "CausePath")?;
                return Err(StatesError::new(error, cause));
            }
        };
        Ok(step)
    }

    /// How long a Wait state waits (States Language: Wait State), with AWS's
    /// checks and messages (observed on AWS in the conformance corpus).
    fn wait_duration(
        &self,
        wait_for: &WaitFor,
        effective: &Value,
        ctx: &ContextObject<'_>,
    ) -> Result<Duration, StatesError> {
        let seconds = |s: i64| -> Result<Duration, StatesError> {
            if s > MAX_WAIT_SECONDS {
                return Err(StatesError::runtime("Wait state delay is too long."));
            }
            Ok(Duration::from_secs(u64::try_from(s).unwrap_or(0)))
        };
        let until = |ts: Timestamp| -> Result<Duration, StatesError> {
            let left = ts.duration_since(self.clock.now());
            if left.as_secs() > MAX_WAIT_SECONDS {
                return Err(StatesError::runtime("Wait state delay is too long."));
            }
            Ok(Duration::try_from(left).unwrap_or(Duration::ZERO))
        };
        match wait_for {
            WaitFor::Seconds(s) => seconds(i64::try_from(*s).unwrap_or(i64::MAX)),
            WaitFor::Timestamp(ts) => until(*ts),
            WaitFor::SecondsPath(path) => {
                let value = path.resolve(effective, ctx).ok_or_else(|| {
                    StatesError::runtime(format!("The SecondsPath parameter does not reference an input value: {path}"))
                })?;
                let number = match &value {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse::<i64>().ok(),
                    _ => None,
                };
                match number {
                    Some(n) if n < 0 => Err(StatesError::runtime(format!(
                        "The SecondsPath parameter references a negative value: {path} == {}",
                        plain(&value)
                    ))),
                    Some(n) => seconds(n),
                    None => Err(StatesError::runtime(format!(
                        "The SecondsPath parameter cannot be parsed as a long value: {path} == {}",
                        plain(&value)
                    ))),
                }
            }
            WaitFor::TimestampPath(path) => {
                let value = path.resolve(effective, ctx).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The TimestampPath parameter does not reference an input value: {path}"
                    ))
                })?;
                match value.as_str().and_then(parse_wait_timestamp) {
                    Some(ts) => until(ts),
                    None => Err(StatesError::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {path} == {}",
                        plain(&value)
                    ))),
                }
            }
        }
    }

    /// Run a Task/Map/Parallel body with its `Retry` and `Catch`
    /// (States Language: Errors — Retrying after an error; Fallback states).
    #[allow(clippy::too_many_arguments)]
    async fn run_resilient<'m>(
        &self,
        name: &str,
        state: &State,
        errors: &'m ErrorHandling,
        transition: &'m Transition,
        input: Value,
        entered: Timestamp,
        cursor: &mut Option<u64>,
        variables: &Variables,
    ) -> Result<Step<'m>, StatesError> {
        let mut retries_per_retrier = vec![0u32; errors.retry.len()];
        let mut attempt = 0u32;
        loop {
            let ctx = ContextObject::new(&self.info, name, entered, attempt).retriable().with_variables(variables);
            let outcome = match state {
                State::Task(task) => self.task_body(name, task, &input, &ctx, cursor).await,
                State::Map(map) => self.map_body(name, map, &input, &ctx, cursor, variables).await,
                State::Parallel(par) => self.parallel_body(name, par, &input, &ctx, cursor, variables).await,
                _ => Err(StatesError::runtime(format!("state '{name}' cannot have Retry or Catch"))),
            };
            let err = match outcome {
                Ok((output, assigned)) => {
                    return Ok(Step { output, next: transition.next(), assign: assigned });
                }
                Err(err) => err,
            };
            if let Some(i) = errors.retry.iter().position(|r| err.matches(&r.error_equals))
                && let (Some(retrier), Some(count)) = (errors.retry.get(i), retries_per_retrier.get_mut(i))
                && u64::from(*count) < retrier.max_attempts
            {
                let delay = retrier.delay(*count);
                *count += 1;
                attempt += 1;
                tracing::debug!(state = name, error = %err.error, attempt, ?delay, "retrying");
                self.clock.sleep(delay).await;
                continue;
            }
            if let Some(catcher) = errors.catch.iter().find(|c| err.matches(&c.error_equals)) {
                tracing::debug!(state = name, error = %err.error, next = %catcher.next, "caught");
                let error_output = json!({"Error": err.error, "Cause": err.cause});
                let ctx = ContextObject::new(&self.info, name, entered, attempt).retriable().with_variables(variables);
                let assigned = assign(catcher.assign.as_ref(), &error_output, &ctx)?;
                let output = merge_result(catcher.result_path.as_ref(), input, error_output)?;
                return Ok(Step { output, next: Some(&catcher.next), assign: assigned });
            }
            return Err(err);
        }
    }

    /// ResultSelector → Assign → ResultPath → OutputPath on a state's raw result.
    fn finish(
        &self,
        flow: &DataFlow,
        input: &Value,
        result: Value,
        ctx: &ContextObject<'_>,
    ) -> Result<(Value, Option<Variables>), StatesError> {
        let selected = match &flow.result_selector {
            Some(selector) => selector.evaluate(&result, ctx)?,
            None => result,
        };
        let assigned = assign(flow.assign.as_ref(), &selected, ctx)?;
        let merged = if replaces_input(flow) {
            selected
        } else {
            merge_result(flow.result_path.as_ref(), input.clone(), selected)?
        };
        Ok((select_owned(flow.output_path.as_ref(), "OutputPath", merged, ctx)?, assigned))
    }

    /// InputPath → Parameters.
    fn effective_input(&self, flow: &DataFlow, input: &Value, ctx: &ContextObject<'_>) -> Result<Value, StatesError> {
        let effective = select(flow.input_path.as_ref(), "InputPath", input, ctx)?;
        match &flow.parameters {
            Some(parameters) => parameters.evaluate(&effective, ctx),
            None => Ok(effective.into_owned()),
        }
    }

    async fn task_body(
        &self,
        name: &str,
        task: &Task,
        input: &Value,
        ctx: &ContextObject<'_>,
        cursor: &mut Option<u64>,
    ) -> Result<(Value, Option<Variables>), StatesError> {
        let parameters = self.effective_input(&task.flow, input, ctx)?;
        let timeout = match (&task.timeout_seconds, &task.timeout_seconds_path) {
            (Some(seconds), _) => Some(*seconds),
            (None, Some(path)) => {
                let value = select(Some(path), "TimeoutSecondsPath", input, ctx)?;
                Some(value.as_u64().filter(|s| *s > 0).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The TimeoutSecondsPath field refers to value \"{}\" which is not a valid positive integer: {path}",
                        plain(&value)
                    ))
                })?)
            }
            (None, None) => None,
        };
        self.emit(
            cursor,
            HistoryEventType::TaskScheduled,
            Some(name),
            json!({"resource": task.resource, "parameters": json_text(&parameters), "timeout_seconds": timeout}),
        );
        self.emit(cursor, HistoryEventType::TaskStarted, Some(name), json!({"resource": task.resource}));
        let call_ctx = TaskContext { state_name: name, attempt: ctx.retry_count, execution_name: &self.info.name };
        let call = self.invoker.invoke(&task.resource, parameters, call_ctx);
        let outcome = match timeout {
            Some(seconds) => match with_timeout(self.clock, Duration::from_secs(seconds), call).await {
                Ok(outcome) => outcome,
                Err(Elapsed) => {
                    // AWS gives a task timeout no cause (observed on AWS: a caught one has "Cause": "").
                    self.emit(
                        cursor,
                        HistoryEventType::TaskTimedOut,
                        Some(name),
                        json!({"resource": task.resource, "error": STATES_TIMEOUT}),
                    );
                    return Err(StatesError::new(STATES_TIMEOUT, ""));
                }
            },
            None => call.await,
        };
        match outcome {
            Ok(result) => {
                self.emit(
                    cursor,
                    HistoryEventType::TaskSucceeded,
                    Some(name),
                    json!({"resource": task.resource, "output": json_text(&result)}),
                );
                self.finish(&task.flow, input, result, ctx)
            }
            Err(failure) => {
                let error = if failure.error.is_empty() { STATES_TASK_FAILED.to_string() } else { failure.error };
                let cause = failure.cause.unwrap_or_default();
                self.emit(
                    cursor,
                    HistoryEventType::TaskFailed,
                    Some(name),
                    json!({"resource": task.resource, "error": error, "cause": cause}),
                );
                Err(StatesError::from_task(error, cause))
            }
        }
    }

    /// A Map's `ToleratedFailureCount`/`…Percentage`, literal or from a path (AWS's checks and messages).
    fn tolerance(
        &self,
        tolerance: Option<&Tolerance>,
        field: &str,
        effective: &Value,
        ctx: &ContextObject<'_>,
        integer: bool,
    ) -> Result<Option<f64>, StatesError> {
        let value = match tolerance {
            None => return Ok(None),
            Some(Tolerance::Literal(v)) => *v,
            Some(Tolerance::Path(path)) => {
                let value = select(Some(path), field, effective, ctx)?;
                let number = match &*value {
                    Value::Number(n) if integer => n.as_i64().map(|n| n as f64),
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) if integer => s.trim().parse::<i64>().ok().map(|n| n as f64),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                number.ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The {field}Path field refers to value \"{}\" which is not a valid {}: {path}",
                        plain(&value),
                        if integer { "integer" } else { "float" }
                    ))
                })?
            }
        };
        if !integer && !(0.0..=100.0).contains(&value) {
            return Err(StatesError::runtime("ToleratedFailurePercentage must be between 0 and 100."));
        }
        if integer && value < 0.0 {
            return Err(StatesError::runtime("ToleratedFailureCount must be a non-negative integer."));
        }
        Ok(Some(value))
    }

    async fn map_body(
        &self,
        name: &str,
        map: &MapState,
        input: &Value,
        ctx: &ContextObject<'_>,
        cursor: &mut Option<u64>,
        variables: &Variables,
    ) -> Result<(Value, Option<Variables>), StatesError> {
        let effective = select(map.flow.input_path.as_ref(), "InputPath", input, ctx)?;
        let items = match select(Some(&map.items_path), "ItemsPath", &effective, ctx)?.into_owned() {
            Value::Array(items) => items,
            other => {
                return Err(StatesError::runtime(format!(
                    "Invalid path '{}' : The value at that path is {}, not an array: {}",
                    map.items_path,
                    kind_of(&other),
                    plain(&other)
                )));
            }
        };
        let max_concurrency = match &map.max_concurrency_path {
            Some(path) => {
                let value = select(Some(path), "MaxConcurrencyPath", &effective, ctx)?;
                let number = match &*value {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.trim().parse::<u64>().ok(),
                    _ => None,
                };
                number.ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: {path}",
                        plain(&value)
                    ))
                })?
            }
            None => map.max_concurrency,
        };
        let tolerated_count =
            self.tolerance(map.tolerated_count.as_ref(), "ToleratedFailureCount", &effective, ctx, true)?;
        let tolerated_percentage =
            self.tolerance(map.tolerated_percentage.as_ref(), "ToleratedFailurePercentage", &effective, ctx, false)?;
        let items = match &map.item_batcher {
            Some(batcher) => self.batch(batcher, items, &effective, ctx)?,
            None => items,
        };
        let all = items.len().max(1);
        let limit =
            if max_concurrency == 0 { all } else { usize::try_from(max_concurrency).unwrap_or(all).clamp(1, all) };
        let count = items.len();
        let started = self.emit(cursor, HistoryEventType::MapStateStarted, Some(name), json!({"length": count}));
        let effective = &effective;
        // A Distributed Map's iterations are child executions on AWS: their
        // events go to a history of their own, not to this one.
        let child;
        let runner: &Runner<'_> = if map.distributed {
            child = Runner {
                invoker: self.invoker,
                clock: self.clock,
                info: self.info.clone(),
                history: Mutex::new(Vec::new()),
                transitions: AtomicU64::new(0),
                max_transitions: self.max_transitions,
            };
            &child
        } else {
            self
        };
        let iterations = futures::stream::iter(items.into_iter().enumerate())
            .map(|(index, item)| runner.map_iteration(name, map, index, item, effective, ctx, started, variables))
            .buffered(limit);
        let results: Result<Vec<Value>, StatesError> = if tolerated_count.is_none() && tolerated_percentage.is_none() {
            iterations.try_collect().await
        } else {
            // Distributed Map with tolerated failures: run every item, then judge.
            let outcomes: Vec<Result<Value, StatesError>> = iterations.collect().await;
            let failed = outcomes.iter().filter(|o| o.is_err()).count();
            let over_count = tolerated_count.is_some_and(|c| failed as f64 > c);
            let over_percentage =
                tolerated_percentage.is_some_and(|p| count > 0 && failed as f64 * 100.0 / count as f64 > p);
            let fatal = outcomes.iter().find_map(|o| o.as_ref().err().filter(|e| e.fatal).cloned());
            if let Some(fatal) = fatal {
                Err(fatal)
            } else if failed > 0 && (over_count || over_percentage) {
                Err(StatesError::new(
                    STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD,
                    "The specified tolerated failure threshold was exceeded",
                ))
            } else {
                Ok(outcomes
                    .into_iter()
                    .map(|o| o.unwrap_or_else(|e| json!({"Error": e.error, "Cause": e.cause})))
                    .collect())
            }
        };
        match results {
            Ok(results) => {
                self.emit(cursor, HistoryEventType::MapStateSucceeded, Some(name), json!({}));
                self.finish(&map.flow, input, Value::Array(results), ctx)
            }
            Err(err) => {
                self.emit(
                    cursor,
                    HistoryEventType::MapStateFailed,
                    Some(name),
                    json!({"error": err.error, "cause": err.cause}),
                );
                Err(err)
            }
        }
    }

    /// Group items into `{"Items": […], …BatchInput}` batches (AWS: ItemBatcher).
    fn batch(
        &self,
        batcher: &crate::states::map::ItemBatcher,
        items: Vec<Value>,
        effective: &Value,
        ctx: &ContextObject<'_>,
    ) -> Result<Vec<Value>, StatesError> {
        let number = |literal: Option<u64>, path: Option<&DataPath>, field: &str| -> Result<Option<u64>, StatesError> {
            match (literal, path) {
                (Some(n), _) => Ok(Some(n)),
                (None, Some(path)) => {
                    let value = select(Some(path), field, effective, ctx)?;
                    value.as_u64().filter(|n| *n > 0).map(Some).ok_or_else(|| {
                        StatesError::runtime(format!(
                            "The {field} field refers to value \"{}\" which is not a valid integer: {path}",
                            plain(&value)
                        ))
                    })
                }
                (None, None) => Ok(None),
            }
        };
        let max_items = number(batcher.max_items, batcher.max_items_path.as_ref(), "MaxItemsPerBatchPath")?;
        let max_bytes = number(batcher.max_bytes, batcher.max_bytes_path.as_ref(), "MaxInputBytesPerBatchPath")?;
        let batch_input = match &batcher.batch_input {
            Some(t) => t.evaluate(effective, ctx)?,
            None => Value::Object(Map::new()),
        };
        let wrap = |chunk: Vec<Value>| {
            let mut object = Map::new();
            if let Value::Object(extra) = &batch_input
                && !extra.is_empty()
            {
                object.insert("BatchInput".to_string(), batch_input.clone());
            }
            object.insert("Items".to_string(), Value::Array(chunk));
            Value::Object(object)
        };
        let mut batches = Vec::new();
        let mut chunk: Vec<Value> = Vec::new();
        let mut bytes = 0usize;
        for item in items {
            let size = json_text(&item).len();
            let full_items = max_items.is_some_and(|m| chunk.len() as u64 >= m);
            let full_bytes = max_bytes.is_some_and(|m| !chunk.is_empty() && (bytes + size) as u64 > m);
            if full_items || full_bytes {
                batches.push(wrap(std::mem::take(&mut chunk)));
                bytes = 0;
            }
            bytes += size;
            chunk.push(item);
        }
        if !chunk.is_empty() {
            batches.push(wrap(chunk));
        }
        Ok(batches)
    }

    #[allow(clippy::too_many_arguments)]
    async fn map_iteration(
        &self,
        name: &str,
        map: &MapState,
        index: usize,
        item: Value,
        effective: &Value,
        ctx: &ContextObject<'_>,
        started: u64,
        variables: &Variables,
    ) -> Result<Value, StatesError> {
        let mut cursor = Some(started);
        let iteration = self.emit(
            &mut cursor,
            HistoryEventType::MapIterationStarted,
            Some(name),
            json!({"name": name, "index": index}),
        );
        let item_input = match &map.item_selector {
            Some(selector) => {
                let item_ctx = ContextObject::new(&self.info, name, ctx.entered_time, ctx.retry_count)
                    .with_variables(variables)
                    .with_map_item(index, &item);
                selector.evaluate(effective, &item_ctx)
            }
            None => Ok(item.clone()),
        };
        let outcome = match item_input {
            Ok(item_input) => {
                self.run_machine(&map.processor, item_input, Some(iteration), variables.clone(), true).await
            }
            Err(err) => Err(err),
        };
        let mut cursor = self.last_event_id();
        match outcome {
            Ok(output) => {
                self.emit(
                    &mut cursor,
                    HistoryEventType::MapIterationSucceeded,
                    Some(name),
                    json!({"name": name, "index": index}),
                );
                Ok(output)
            }
            Err(err) => {
                self.emit(
                    &mut cursor,
                    HistoryEventType::MapIterationFailed,
                    Some(name),
                    json!({"name": name, "index": index, "error": err.error, "cause": err.cause}),
                );
                Err(err)
            }
        }
    }

    async fn parallel_body(
        &self,
        name: &str,
        par: &Parallel,
        input: &Value,
        ctx: &ContextObject<'_>,
        cursor: &mut Option<u64>,
        variables: &Variables,
    ) -> Result<(Value, Option<Variables>), StatesError> {
        let branch_input = self.effective_input(&par.flow, input, ctx)?;
        let started = self.emit(cursor, HistoryEventType::ParallelStateStarted, Some(name), json!({}));
        let branches = par
            .branches
            .iter()
            .map(|branch| self.run_machine(branch, branch_input.clone(), Some(started), variables.clone(), true));
        match futures::future::try_join_all(branches).await {
            Ok(results) => {
                self.emit(cursor, HistoryEventType::ParallelStateSucceeded, Some(name), json!({}));
                self.finish(&par.flow, input, Value::Array(results), ctx)
            }
            Err(err) => {
                self.emit(
                    cursor,
                    HistoryEventType::ParallelStateFailed,
                    Some(name),
                    json!({"error": err.error, "cause": err.cause}),
                );
                Err(err)
            }
        }
    }
}
