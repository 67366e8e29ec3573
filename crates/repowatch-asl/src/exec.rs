//! Running a [`StateMachine`]: [`execute`], the [`TaskInvoker`] that performs
//! Task states, and the [`Execution`] record with its history.
//!
//! States Language: Transitions; Errors (Retry, Catch); Map State; Parallel State.

use crate::clock::{Clock, Elapsed, with_timeout};
use crate::dataflow::{ContextObject, ExecutionInfo, check_size, merge_result, select};
use crate::error::{STATES_RUNTIME, STATES_TASK_FAILED, STATES_TIMEOUT, StatesError};
use crate::machine::{Machine, StateMachine};
use crate::path::{ReferencePath, kind_of};
use crate::states::map::MapState;
use crate::states::parallel::Parallel;
use crate::states::retry::ErrorHandling;
use crate::states::task::Task;
use crate::states::wait::WaitFor;
use crate::states::{DataFlow, State, Transition};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
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
}

impl Default for ExecutionOptions {
    fn default() -> Self {
        ExecutionOptions {
            name: "execution".to_string(),
            state_machine_name: "StateMachine".to_string(),
            max_transitions: 25_000,
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
    let machine_id = format!("arn:aws:states:local:000000000000:stateMachine:{}", options.state_machine_name);
    let info = ExecutionInfo {
        id: format!("arn:aws:states:local:000000000000:execution:{}:{}", options.state_machine_name, options.name),
        name: options.name,
        input: input.clone(),
        start_time: started_at,
        state_machine_id: machine_id,
        state_machine_name: options.state_machine_name,
    };
    let runner = Runner {
        invoker,
        clock,
        info,
        history: Mutex::new(Vec::new()),
        transitions: AtomicU64::new(0),
        max_transitions: options.max_transitions,
    };
    let mut cursor = None;
    let start = runner.emit(
        &mut cursor,
        HistoryEventType::ExecutionStarted,
        None,
        json!({"input": input, "name": runner.info.name}),
    );
    tracing::debug!(execution = %runner.info.name, "execution started");
    let run = runner.run_machine(&machine.root, input, Some(start));
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
            runner.emit(&mut last, HistoryEventType::ExecutionSucceeded, None, json!({"output": output}));
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
struct Step {
    output: Value,
    next: Option<String>,
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

    /// Run a (top-level or nested) machine to its end.
    fn run_machine<'s>(
        &'s self,
        machine: &'s Machine,
        input: Value,
        previous: Option<u64>,
    ) -> BoxFuture<'s, Result<Value, StatesError>> {
        async move {
            let mut cursor = previous;
            let mut current = machine.start_at.clone();
            let mut input = input;
            loop {
                let count = self.transitions.fetch_add(1, Ordering::Relaxed) + 1;
                if count > self.max_transitions {
                    return Err(StatesError::fatal(
                        STATES_RUNTIME,
                        format!("The execution exceeded the limit of {} state transitions (ExecutionOptions::max_transitions)", self.max_transitions),
                    ));
                }
                let (name, state) = machine
                    .get(&current)
                    .ok_or_else(|| StatesError::runtime(format!("There is no state named '{current}'")))?;
                check_size(&input, "input", name)?;
                let step = self.run_state(name, state, input, &mut cursor).await?;
                check_size(&step.output, "output", name)?;
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

    async fn run_state(
        &self,
        name: &str,
        state: &State,
        input: Value,
        cursor: &mut Option<u64>,
    ) -> Result<Step, StatesError> {
        let entered = self.clock.now();
        tracing::trace!(state = name, kind = state.type_name(), "state entered");
        self.emit(cursor, entered_type(state), Some(name), json!({"name": name, "input": input}));
        let step = match state {
            // The states with Retry/Catch share one path.
            State::Task(_) | State::Map(_) | State::Parallel(_) => {
                let Some((errors, transition)) = state.resilience() else {
                    return Err(StatesError::runtime(format!("state {name:?} has no Retry/Catch handling")));
                };
                self.run_resilient(name, state, errors, transition, input, entered, cursor).await?
            }
            State::Pass(pass) => {
                let ctx = ContextObject::new(&self.info, name, entered, 0);
                let effective = select(pass.flow.input_path.as_ref(), "InputPath", &input, &ctx)?;
                let result = match (&pass.result, &pass.flow.parameters) {
                    (Some(result), _) => result.clone(),
                    (None, Some(parameters)) => parameters.evaluate(&effective, &ctx)?,
                    (None, None) => effective,
                };
                let merged = merge_result(pass.flow.result_path.as_ref(), input, result)?;
                let output = select(pass.flow.output_path.as_ref(), "OutputPath", &merged, &ctx)?;
                Step { output, next: pass.transition.next().map(str::to_string) }
            }
            State::Wait(wait) => {
                let ctx = ContextObject::new(&self.info, name, entered, 0);
                let effective = select(wait.flow.input_path.as_ref(), "InputPath", &input, &ctx)?;
                let duration = self.wait_duration(&wait.wait_for, &effective, &ctx)?;
                if !duration.is_zero() {
                    self.clock.sleep(duration).await;
                }
                let output = select(wait.flow.output_path.as_ref(), "OutputPath", &effective, &ctx)?;
                Step { output, next: wait.transition.next().map(str::to_string) }
            }
            State::Choice(choice) => {
                let ctx = ContextObject::new(&self.info, name, entered, 0);
                let effective = select(choice.flow.input_path.as_ref(), "InputPath", &input, &ctx)?;
                let next = choice.decide(&effective, &ctx)?.to_string();
                let output = select(choice.flow.output_path.as_ref(), "OutputPath", &effective, &ctx)?;
                Step { output, next: Some(next) }
            }
            State::Succeed(succeed) => {
                let ctx = ContextObject::new(&self.info, name, entered, 0);
                let effective = select(succeed.flow.input_path.as_ref(), "InputPath", &input, &ctx)?;
                let output = select(succeed.flow.output_path.as_ref(), "OutputPath", &effective, &ctx)?;
                Step { output, next: None }
            }
            State::Fail(fail) => {
                let ctx = ContextObject::new(&self.info, name, entered, 0);
                let text = |literal: &Option<String>,
                            path: &Option<ReferencePath>,
                            field: &str|
                 -> Result<String, StatesError> {
                    match (literal, path) {
                        (Some(text), _) => Ok(text.clone()),
                        (None, Some(path)) => match select(Some(path), field, &input, &ctx)? {
                            Value::String(s) => Ok(s),
                            other => Err(StatesError::runtime(format!(
                                "{field} '{path}' must select a string, not {}",
                                kind_of(&other)
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
        if let Some(exited) = exited_type(state) {
            self.emit(cursor, exited, Some(name), json!({"name": name, "output": step.output}));
        }
        Ok(step)
    }

    fn wait_duration(
        &self,
        wait_for: &WaitFor,
        effective: &Value,
        ctx: &ContextObject<'_>,
    ) -> Result<Duration, StatesError> {
        let until = |ts: Timestamp| {
            let left = ts.duration_since(self.clock.now());
            Duration::try_from(left).unwrap_or(Duration::ZERO)
        };
        match wait_for {
            WaitFor::Seconds(s) => Ok(Duration::from_secs(*s)),
            WaitFor::Timestamp(ts) => Ok(until(*ts)),
            WaitFor::SecondsPath(path) => {
                let value = select(Some(path), "SecondsPath", effective, ctx)?;
                value.as_u64().map(Duration::from_secs).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "SecondsPath '{path}' must select a non-negative integer, found {value}"
                    ))
                })
            }
            WaitFor::TimestampPath(path) => {
                let value = select(Some(path), "TimestampPath", effective, ctx)?;
                value.as_str().and_then(|s| s.parse::<Timestamp>().ok()).map(until).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "TimestampPath '{path}' must select an RFC 3339 timestamp, found {value}"
                    ))
                })
            }
        }
    }

    /// Run a Task/Map/Parallel body with its `Retry` and `Catch`
    /// (States Language: Errors — Retrying after an error; Fallback states).
    #[allow(clippy::too_many_arguments)]
    async fn run_resilient(
        &self,
        name: &str,
        state: &State,
        errors: &ErrorHandling,
        transition: &Transition,
        input: Value,
        entered: Timestamp,
        cursor: &mut Option<u64>,
    ) -> Result<Step, StatesError> {
        let mut retries_per_retrier = vec![0u32; errors.retry.len()];
        let mut attempt = 0u32;
        loop {
            let ctx = ContextObject::new(&self.info, name, entered, attempt);
            let outcome = match state {
                State::Task(task) => self.task_body(name, task, &input, &ctx, cursor).await,
                State::Map(map) => self.map_body(name, map, &input, &ctx, cursor).await,
                State::Parallel(par) => self.parallel_body(name, par, &input, &ctx, cursor).await,
                _ => Err(StatesError::runtime(format!("state '{name}' cannot have Retry or Catch"))),
            };
            let err = match outcome {
                Ok(output) => {
                    return Ok(Step { output, next: transition.next().map(str::to_string) });
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
                let output = merge_result(catcher.result_path.as_ref(), input, error_output)?;
                return Ok(Step { output, next: Some(catcher.next.clone()) });
            }
            return Err(err);
        }
    }

    /// ResultSelector → ResultPath → OutputPath on a state's raw result.
    fn finish(
        &self,
        flow: &DataFlow,
        input: &Value,
        result: Value,
        ctx: &ContextObject<'_>,
    ) -> Result<Value, StatesError> {
        let selected = match &flow.result_selector {
            Some(selector) => selector.evaluate(&result, ctx)?,
            None => result,
        };
        let merged = merge_result(flow.result_path.as_ref(), input.clone(), selected)?;
        select(flow.output_path.as_ref(), "OutputPath", &merged, ctx)
    }

    /// InputPath → Parameters.
    fn effective_input(&self, flow: &DataFlow, input: &Value, ctx: &ContextObject<'_>) -> Result<Value, StatesError> {
        let effective = select(flow.input_path.as_ref(), "InputPath", input, ctx)?;
        match &flow.parameters {
            Some(parameters) => parameters.evaluate(&effective, ctx),
            None => Ok(effective),
        }
    }

    async fn task_body(
        &self,
        name: &str,
        task: &Task,
        input: &Value,
        ctx: &ContextObject<'_>,
        cursor: &mut Option<u64>,
    ) -> Result<Value, StatesError> {
        let parameters = self.effective_input(&task.flow, input, ctx)?;
        let timeout = match (&task.timeout_seconds, &task.timeout_seconds_path) {
            (Some(seconds), _) => Some(*seconds),
            (None, Some(path)) => {
                let value = select(Some(path), "TimeoutSecondsPath", input, ctx)?;
                Some(value.as_u64().filter(|s| *s > 0).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "TimeoutSecondsPath '{path}' must select a positive integer, found {value}"
                    ))
                })?)
            }
            (None, None) => None,
        };
        self.emit(
            cursor,
            HistoryEventType::TaskScheduled,
            Some(name),
            json!({"resource": task.resource, "parameters": parameters, "timeout_seconds": timeout}),
        );
        self.emit(cursor, HistoryEventType::TaskStarted, Some(name), json!({"resource": task.resource}));
        let call_ctx = TaskContext { state_name: name, attempt: ctx.retry_count, execution_name: &self.info.name };
        let call = self.invoker.invoke(&task.resource, parameters, call_ctx);
        let outcome = match timeout {
            Some(seconds) => match with_timeout(self.clock, Duration::from_secs(seconds), call).await {
                Ok(outcome) => outcome,
                Err(Elapsed) => {
                    let cause = format!("Task '{name}' did not finish within its TimeoutSeconds of {seconds}");
                    self.emit(
                        cursor,
                        HistoryEventType::TaskTimedOut,
                        Some(name),
                        json!({"resource": task.resource, "error": STATES_TIMEOUT, "cause": cause}),
                    );
                    return Err(StatesError::new(STATES_TIMEOUT, cause));
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
                    json!({"resource": task.resource, "output": result}),
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
                Err(StatesError::new(error, cause))
            }
        }
    }

    async fn map_body(
        &self,
        name: &str,
        map: &MapState,
        input: &Value,
        ctx: &ContextObject<'_>,
        cursor: &mut Option<u64>,
    ) -> Result<Value, StatesError> {
        let effective = select(map.flow.input_path.as_ref(), "InputPath", input, ctx)?;
        let items = match select(Some(&map.items_path), "ItemsPath", &effective, ctx)? {
            Value::Array(items) => items,
            other => {
                return Err(StatesError::runtime(format!(
                    "ItemsPath '{}' of Map state '{name}' must select an array, not {}",
                    map.items_path,
                    kind_of(&other)
                )));
            }
        };
        let max_concurrency = match &map.max_concurrency_path {
            Some(path) => {
                let value = select(Some(path), "MaxConcurrencyPath", &effective, ctx)?;
                value.as_u64().ok_or_else(|| {
                    StatesError::runtime(format!(
                        "MaxConcurrencyPath '{path}' must select a non-negative integer, found {value}"
                    ))
                })?
            }
            None => map.max_concurrency,
        };
        let all = items.len().max(1);
        let limit =
            if max_concurrency == 0 { all } else { usize::try_from(max_concurrency).unwrap_or(all).clamp(1, all) };
        let started = self.emit(cursor, HistoryEventType::MapStateStarted, Some(name), json!({"length": items.len()}));
        let effective = &effective;
        let results: Result<Vec<Value>, StatesError> = futures::stream::iter(items.into_iter().enumerate())
            .map(|(index, item)| self.map_iteration(name, map, index, item, effective, ctx, started))
            .buffered(limit)
            .try_collect()
            .await;
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
                let item_ctx =
                    ContextObject::new(&self.info, name, ctx.entered_time, ctx.retry_count).with_map_item(index, &item);
                selector.evaluate(effective, &item_ctx)
            }
            None => Ok(item.clone()),
        };
        let outcome = match item_input {
            Ok(item_input) => self.run_machine(&map.processor, item_input, Some(iteration)).await,
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
    ) -> Result<Value, StatesError> {
        let branch_input = self.effective_input(&par.flow, input, ctx)?;
        let started = self.emit(cursor, HistoryEventType::ParallelStateStarted, Some(name), json!({}));
        let branches = par.branches.iter().map(|branch| self.run_machine(branch, branch_input.clone(), Some(started)));
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
