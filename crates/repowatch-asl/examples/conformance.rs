//! Run the ASL conformance corpus (executions recorded against real AWS Step
//! Functions) through the interpreter and write one result line per case in
//! the scorer's format.
//!
//!     cargo run --release -p repowatch-asl --example conformance -- CASES.jsonl RESULTS.jsonl
//!     python3 score.py CASES.jsonl RESULTS.jsonl
//!
//! Task states are resolved as the corpus README says: the recorded
//! `task_events` are replayed in order (AWS's own answers); without them the
//! LocalStack Lambda handler named in `lambdas` is emulated. Every case runs on
//! a fake clock starting at 2026-11-24T10:20:11Z, on its own thread, under a
//! wall-clock guard, so a hang or a crash in one case cannot stop the run.

use anyhow::{Context, Result, bail};
use repowatch_asl::{
    Clock, ExecutionOptions, ExecutionStatus, ExecutionType, FakeClock, StateMachine, TaskContext, TaskFailure,
    TaskInvoker, execute,
};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// The fake clock's start for every case (corpus README: "Fake clock").
const CLOCK_START: &str = "2026-11-24T10:20:11Z";
/// Timed repetitions of each case (`--timings`); the median is reported.
const TIMED_REPEATS: usize = 5;
/// Real time one case may take before it is reported as a hang.
const WALL_CLOCK_LIMIT: Duration = Duration::from_secs(10);
const ACCOUNT: &str = "111111111111";
const REGION: &str = "us-east-1";
const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// One result line.
#[derive(Debug, Clone)]
struct Outcome {
    status: &'static str,
    output: Value,
    error: Option<String>,
    cause: Option<String>,
    reason: Option<String>,
    /// Did the states entered/exited, in order, equal the recorded `state_trace`?
    trace_matches: Option<bool>,
    /// Loading the definition plus the execution, in microseconds of real time.
    micros: Option<f64>,
    /// The execution alone.
    exec_micros: Option<f64>,
}

impl Outcome {
    fn skipped(reason: impl Into<String>) -> Outcome {
        Outcome {
            status: "SKIPPED",
            output: Value::Null,
            error: None,
            cause: None,
            reason: Some(reason.into()),
            trace_matches: None,
            micros: None,
            exec_micros: None,
        }
    }
    fn failed(error: impl Into<String>, cause: impl Into<String>) -> Outcome {
        Outcome {
            status: "FAILED",
            output: Value::Null,
            error: Some(error.into()),
            cause: Some(cause.into()),
            reason: None,
            trace_matches: None,
            micros: None,
            exec_micros: None,
        }
    }
}

/// `json.dumps` with Python's default separators (`", "`, `": "`): the form a
/// Lambda function's error payload has when a Lambda ARN Task reports it.
fn python_json(value: &Value) -> String {
    match value {
        Value::Array(items) => format!("[{}]", items.iter().map(python_json).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), python_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// A recorded cause: text as is; an object (AWS's cause was JSON text) serialised
/// the way the integration serialises it.
fn cause_text(cause: Option<&Value>, python_style: bool) -> Option<String> {
    match cause? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other if python_style => Some(python_json(other)),
        other => Some(other.to_string()),
    }
}

/// What a recorded `…Succeeded` output means: an object as is, anything else is
/// the raw JSON text of the result (corpus README: "Replay task_events").
fn recorded_output(output: Option<&Value>) -> Value {
    match output {
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone())),
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

/// Resolves Task states for one case.
struct CaseInvoker {
    events: Mutex<VecDeque<Value>>,
    lambdas: HashMap<String, String>,
    clock: Arc<FakeClock>,
    /// Set when a Task had neither a recorded event nor a known handler.
    unresolved: AtomicBool,
    request_ids: Mutex<u64>,
}

impl CaseInvoker {
    fn next_request_id(&self) -> String {
        let mut n = self.request_ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *n += 1;
        format!("{:08x}-0000-4000-8000-{:012x}", *n, *n)
    }

    /// Replay the next recorded call, if any.
    fn replay(&self) -> Option<Result<Value, TaskFailure>> {
        let mut events = self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Skip to the outcome that follows the next `…Scheduled` event.
        loop {
            let event = events.pop_front()?;
            let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
            if kind.ends_with("Scheduled") || kind.ends_with("Started") || kind.ends_with("Submitted") {
                continue;
            }
            let is_invoke = kind.starts_with("Task");
            return Some(match kind {
                "LambdaFunctionSucceeded" | "TaskSucceeded" => Ok(recorded_output(event.get("output"))),
                "LambdaFunctionTimedOut" | "TaskTimedOut" => {
                    Err(TaskFailure { error: "States.Timeout".to_string(), cause: None })
                }
                _ => Err(TaskFailure {
                    error: event.get("error").and_then(Value::as_str).unwrap_or_default().to_string(),
                    cause: cause_text(event.get("cause"), !is_invoke),
                }),
            });
        }
    }

    /// Emulate the LocalStack handler of `function` (corpus README: "Emulate the handler").
    async fn emulate(&self, resource: &str, input: Value) -> Option<Result<Value, TaskFailure>> {
        let invoke = resource.starts_with(LAMBDA_INVOKE);
        let (function, payload) = if invoke {
            let name = input.get("FunctionName").and_then(Value::as_str).unwrap_or_default();
            (function_name(name), input.get("Payload").cloned().unwrap_or(Value::Null))
        } else if resource.starts_with("arn:aws:lambda:") {
            (function_name(resource), input)
        } else {
            return None;
        };
        let handler = self.lambdas.get(&function)?;
        let raised = |error: &str, message: &str, line: u32, statement: &str| {
            let cause = json!({
                "errorMessage": message,
                "errorType": error,
                "requestId": self.next_request_id(),
                "stackTrace": [format!("  File \"/var/task/handler.py\", line {line}, in handler\n    {statement}\n")],
            });
            // Lambda ARN: the function's error payload verbatim (Python separators);
            // lambda:invoke re-serialises it compactly.
            let text = if invoke { cause.to_string() } else { python_json(&cause) };
            Err(TaskFailure { error: error.to_string(), cause: Some(text) })
        };
        let result = match handler.as_str() {
            "id_function.py" => Ok(payload),
            "echo_function.py" => Ok(json!({"Return": "HelloWorld"})),
            "return_bytes_str.py" => Ok(json!("HelloWorld!")),
            "raise_exception.py" => {
                raised("Exception", "Some exception was raised.", 2, "raise Exception(\"Some exception was raised.\")")
            }
            "raise_custom_exception.py" => raised("CustomException", "", 9, "raise CustomException()"),
            "large_output_string.py" => {
                let what = if invoke { "lambda".to_string() } else { resource.to_string() };
                return Some(Err(TaskFailure {
                    error: "States.DataLimitExceeded".to_string(),
                    cause: Some(format!(
                        "The state/task '{what}' returned a result with a size exceeding the maximum number of bytes service limit."
                    )),
                }));
            }
            "wait_60_seconds.py" => {
                Clock::sleep(&*self.clock, Duration::from_secs(60)).await;
                Ok(payload)
            }
            _ => return None,
        };
        Some(match (invoke, result) {
            (true, Ok(payload)) => Ok(invoke_envelope(payload, &self.next_request_id())),
            (_, other) => other,
        })
    }
}

/// `my-fn` from a name, a partial ARN or a full function ARN (with or without a qualifier).
fn function_name(name_or_arn: &str) -> String {
    match name_or_arn.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest).to_string(),
        None => name_or_arn.to_string(),
    }
}

/// The result of the `lambda:invoke` optimised integration.
fn invoke_envelope(payload: Value, request_id: &str) -> Value {
    let length = payload.to_string().len().to_string();
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "Connection": ["keep-alive"],
                "Content-Length": [length],
                "Content-Type": ["application/json"],
                "Date": ["Tue, 24 Nov 2026 10:20:11 GMT"],
                "X-Amz-Executed-Version": ["$LATEST"],
                "X-Amzn-Trace-Id": ["Root=1-00000000-000000000000000000000000;Sampled=0"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "x-amzn-RequestId": [request_id],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/json",
                "Date": "Tue, 24 Nov 2026 10:20:11 GMT",
                "X-Amz-Executed-Version": "$LATEST",
                "X-Amzn-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    })
}

#[async_trait::async_trait]
impl TaskInvoker for CaseInvoker {
    async fn invoke(&self, resource: &str, input: Value, _ctx: TaskContext<'_>) -> Result<Value, TaskFailure> {
        if let Some(outcome) = self.replay() {
            return outcome;
        }
        if let Some(outcome) = self.emulate(resource, input).await {
            return outcome;
        }
        self.unresolved.store(true, Ordering::SeqCst);
        Err(TaskFailure::new(
            "Conformance.Unresolved",
            format!("no recorded behaviour for the Task resource {resource}"),
        ))
    }
}

/// Run one case to its outcome.
fn run_case(case: &Value, index: usize) -> Result<Outcome> {
    let definition = case.get("definition").context("case has no definition")?;
    let input = case.get("input").cloned().unwrap_or(Value::Null);
    if case.pointer("/expected/status").and_then(Value::as_str) == Some("ABORTED") {
        return Ok(Outcome::skipped("the execution was stopped by StopExecution; the runner has no stop hook"));
    }
    if let Some(lang) = case.get("query_language").and_then(Value::as_str)
        && lang != "JSONPath"
    {
        return Ok(Outcome::skipped(format!("query language {lang} is not supported")));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    let machine = match StateMachine::from_value(definition) {
        Ok(machine) => machine,
        Err(err) => {
            let text = err.to_string();
            // A feature the engine knowingly lacks is a skip; any other load error a failure.
            if err.problems.iter().any(|p| p.message.contains("not supported")) {
                return Ok(Outcome::skipped(text));
            }
            return Ok(Outcome::failed("Conformance.LoadError", text));
        }
    };
    let express = case.get("state_machine_type").and_then(Value::as_str) == Some("EXPRESS");
    let start: jiff::Timestamp = CLOCK_START.parse().context("bad clock start")?;
    let events: VecDeque<Value> =
        case.get("task_events").and_then(Value::as_array).map(|a| a.iter().cloned().collect()).unwrap_or_default();
    let lambdas: HashMap<String, String> = case
        .get("lambdas")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default();
    let fresh = || {
        let clock = Arc::new(FakeClock::new(start));
        let invoker = CaseInvoker {
            events: Mutex::new(events.clone()),
            lambdas: lambdas.clone(),
            clock: clock.clone(),
            unresolved: AtomicBool::new(false),
            request_ids: Mutex::new(0),
        };
        (clock, invoker)
    };
    let options = ExecutionOptions {
        name: format!("exec-{index:04}"),
        state_machine_name: format!("conformance-{index:04}"),
        execution_type: if express { ExecutionType::Express } else { ExecutionType::Standard },
        region: REGION.to_string(),
        account_id: ACCOUNT.to_string(),
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/snf_role"),
        ..ExecutionOptions::default()
    };
    let (clock, invoker) = fresh();
    let run = runtime.block_on(execute(&machine, input.clone(), &invoker, &*clock, options.clone()));
    // The time of one execution, as a caller pays it: loading the definition
    // and executing it, warm (the median of TIMED_REPEATS repetitions after the
    // run above), without the harness's own set-up of clock and fake Tasks.
    // Also the execution alone, the definition loaded once (how repowatch
    // uses it: the engine loads the pipeline once per process).
    let (mut samples, mut exec_samples) = (Vec::new(), Vec::new());
    for _ in 0..TIMED_REPEATS {
        let (clock, invoker) = fresh();
        let (input, options) = (input.clone(), options.clone());
        let timer = Instant::now();
        let Ok(machine) = StateMachine::from_value(definition) else { break };
        let loaded = timer.elapsed();
        let run = runtime.block_on(execute(&machine, input, &invoker, &*clock, options));
        let total = timer.elapsed();
        // Freeing the result is the caller's business, after the execution
        // (moto keeps its executions' records too).
        drop(run);
        samples.push(total.as_secs_f64() * 1e6);
        exec_samples.push((total - loaded).as_secs_f64() * 1e6);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let micros = median(samples);
    let exec_micros = median(exec_samples);
    if invoker.unresolved.load(Ordering::SeqCst) {
        return Ok(Outcome::skipped("a Task has neither recorded events nor a known Lambda handler"));
    }
    let status = match run.status {
        ExecutionStatus::Succeeded => "SUCCEEDED",
        ExecutionStatus::Failed => "FAILED",
        ExecutionStatus::TimedOut => "TIMED_OUT",
    };
    // The stronger check of control flow: the states entered and exited, in
    // order, as AWS's history listed them.
    let trace_matches = case.get("state_trace").and_then(Value::as_array).filter(|t| !t.is_empty()).map(|expected| {
        let ours: Vec<Value> = run
            .history
            .iter()
            .filter_map(|e| {
                let kind = serde_json::to_value(e.event_type).ok()?;
                let text = kind.as_str()?;
                (text.ends_with("StateEntered") || text.ends_with("StateExited"))
                    .then(|| json!([text, e.state_name.clone().unwrap_or_default()]))
            })
            .collect();
        &ours == expected
    });
    Ok(Outcome {
        status,
        output: run.output.unwrap_or(Value::Null),
        error: run.error,
        cause: run.cause,
        reason: None,
        trace_matches,
        micros: Some(micros),
        exec_micros: Some(exec_micros),
    })
}

/// Run a case on its own thread with a wall-clock limit; panics and hangs become FAILED lines.
fn guarded(case: Arc<Value>, index: usize) -> Outcome {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new().name(format!("case-{index}")).stack_size(64 << 20).spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(&case, index)));
        let _ = tx.send(outcome);
    });
    if let Err(err) = spawned {
        return Outcome::failed("Conformance.Crash", format!("cannot start a thread: {err}"));
    }
    match rx.recv_timeout(WALL_CLOCK_LIMIT) {
        Ok(Ok(Ok(outcome))) => outcome,
        Ok(Ok(Err(err))) => Outcome::failed("Conformance.Error", format!("{err:#}")),
        Ok(Err(_)) => Outcome::failed("Conformance.Crash", "the interpreter panicked"),
        Err(_) => Outcome::failed("Conformance.Hang", format!("no result within {WALL_CLOCK_LIMIT:?} of real time")),
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let traces_verbose = args.iter().any(|a| a == "--traces");
    let mut timings_path = None;
    let mut rest = Vec::new();
    let mut it = args.iter().filter(|a| *a != "--traces");
    while let Some(a) = it.next() {
        if a == "--timings" {
            timings_path = Some(it.next().context("--timings needs a file")?);
        } else {
            rest.push(a);
        }
    }
    let [cases_path, results_path] = rest.as_slice() else {
        bail!("usage: conformance CASES.jsonl RESULTS.jsonl [--traces] [--timings TIMINGS.jsonl]");
    };
    let mut timings = match timings_path {
        Some(p) => {
            Some(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {p}"))?))
        }
        None => None,
    };
    let file = std::fs::File::open(cases_path).with_context(|| format!("cannot open {cases_path}"))?;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(results_path).with_context(|| format!("cannot create {results_path}"))?,
    );
    let started = Instant::now();
    let mut counts: HashMap<&'static str, usize> = HashMap::new();
    let mut total = 0usize;
    let (mut traces, mut trace_mismatches) = (0usize, Vec::new());
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let case: Value = serde_json::from_str(&line).with_context(|| format!("line {} is not JSON", index + 1))?;
        let id = case.get("id").cloned().unwrap_or(Value::Null);
        let outcome = guarded(Arc::new(case), index);
        if let Some(matches) = outcome.trace_matches {
            traces += 1;
            if !matches {
                trace_mismatches.push(id.as_str().unwrap_or_default().to_owned());
            }
        }
        *counts.entry(outcome.status).or_default() += 1;
        total += 1;
        let mut record = json!({
            "id": id,
            "status": outcome.status,
            "output": outcome.output,
            "error": outcome.error,
            "cause": outcome.cause,
        });
        if let (Some(reason), Value::Object(map)) = (outcome.reason, &mut record) {
            map.insert("reason".to_string(), Value::String(reason));
        }
        writeln!(out, "{record}")?;
        if let (Some(t), Some(micros)) = (timings.as_mut(), outcome.micros) {
            writeln!(
                t,
                "{}",
                json!({ "id": record["id"], "micros": micros, "exec_micros": outcome.exec_micros, "status": outcome.status })
            )?;
        }
    }
    out.flush()?;
    if let Some(t) = timings.as_mut() {
        t.flush()?;
    }
    let mut summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    summary.sort();
    println!("{total} cases in {:.2?}: {}", started.elapsed(), summary.join(", "));
    println!(
        "state traces: {} of {traces} recorded traces match AWS's order of states entered and exited",
        traces - trace_mismatches.len()
    );
    if traces_verbose {
        for id in &trace_mismatches {
            println!("  trace differs: {id}");
        }
    }
    Ok(())
}
