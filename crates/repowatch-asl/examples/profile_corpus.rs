//! Load or execute the Task-free cases of the conformance corpus in a loop,
//! for a profiler: instruction counts from callgrind are deterministic where
//! wall times on a shared machine are not (docs/performance.md).
//!
//!     cargo build --release -p repowatch-asl --example profile_corpus
//!     B=target/release/examples/profile_corpus C=../shared/asl-conformance/cases.jsonl
//!     valgrind --tool=cachegrind --cache-sim=no $B $C load 1
//!     valgrind --tool=cachegrind --cache-sim=no $B $C load 6
//!
//! The difference of the two `I refs` totals, divided by 5 × the number of
//! cases printed, is the cost of one `StateMachine::from_value`; `exec` does
//! the same for `execute`, the definition loaded beforehand (the copy of the
//! input it consumes and the freeing of its result are counted too).
//! `--case ID` keeps one case of the corpus.

use anyhow::{Context, Result, bail};
use repowatch_asl::{ExecutionOptions, FakeClock, StateMachine, TaskContext, TaskFailure, TaskInvoker, execute};
use serde_json::Value;
use std::io::BufRead;
use std::time::Instant;

/// The corpus's fake clock start (its README: "Fake clock").
const CLOCK_START: &str = "2026-11-24T10:20:11Z";

/// Task-free cases never call it.
struct NoTasks;

#[async_trait::async_trait]
impl TaskInvoker for NoTasks {
    async fn invoke(&self, resource: &str, _: Value, _: TaskContext<'_>) -> Result<Value, TaskFailure> {
        Err(TaskFailure { error: "Profile.NoTasks".into(), cause: Some(format!("no Task runs here: {resource}")) })
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, mode, reps, only) = match args.as_slice() {
        [path, mode, reps] => (path, mode.as_str(), reps, None),
        [path, mode, reps, flag, id] if flag == "--case" => (path, mode.as_str(), reps, Some(id.as_str())),
        _ => bail!("usage: profile_corpus CASES.jsonl load|exec REPETITIONS [--case ID]"),
    };
    let reps: usize = reps.parse().context("REPETITIONS must be a whole number")?;
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {path}"))?;
    let mut cases = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let case: Value = serde_json::from_str(&line?).context("a line of the corpus is not JSON")?;
        let no_tasks = case.get("task_events").and_then(Value::as_array).is_none_or(Vec::is_empty)
            && case.get("lambdas").and_then(Value::as_object).is_none_or(serde_json::Map::is_empty);
        let wanted = only.is_none_or(|id| case.get("id").and_then(Value::as_str) == Some(id));
        let definition = case.get("definition").cloned().unwrap_or(Value::Null);
        if no_tasks && wanted && StateMachine::from_value(&definition).is_ok() {
            cases.push((definition, case.get("input").cloned().unwrap_or(Value::Null)));
        }
    }
    let start: jiff::Timestamp = CLOCK_START.parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    let machines =
        cases.iter().map(|(definition, _)| StateMachine::from_value(definition)).collect::<Result<Vec<_>, _>>()?;
    let timer = Instant::now();
    for _ in 0..reps {
        for (machine, (definition, input)) in machines.iter().zip(&cases) {
            match mode {
                "load" => drop(std::hint::black_box(StateMachine::from_value(definition))),
                "exec" => {
                    let clock = FakeClock::new(start);
                    let run = runtime.block_on(execute(
                        machine,
                        input.clone(),
                        &NoTasks,
                        &clock,
                        ExecutionOptions::default(),
                    ));
                    drop(std::hint::black_box(run));
                }
                other => bail!("mode must be load or exec, not {other}"),
            }
        }
    }
    let n = (reps * cases.len()).max(1);
    println!("{} cases × {reps}: {:.2} µs per {mode}", cases.len(), timer.elapsed().as_secs_f64() * 1e6 / n as f64);
    Ok(())
}
