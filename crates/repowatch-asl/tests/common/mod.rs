//! Shared test helpers: a scriptable task invoker and a runner.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use repowatch_asl::{
    Clock, Execution, ExecutionOptions, FakeClock, StateMachine, TaskContext, TaskFailure, TaskInvoker, execute,
};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Behaviour chosen by the resource name:
/// `echo` → input; `const:<json>` → that value; `fail:<Error>` → always fails;
/// `flaky:<n>` → fails with `Flaky` on the first n attempts; `sleep:<s>` →
/// sleeps s virtual seconds then echoes; `track` → counts concurrency, sleeps 1 s;
/// `fail-if:<n>` → fails with `Bad` when the input equals n, else echoes.
pub struct TestInvoker {
    pub clock: Arc<FakeClock>,
    pub calls: Mutex<Vec<(String, Value, u32)>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

impl TestInvoker {
    pub fn new(clock: Arc<FakeClock>) -> Self {
        TestInvoker {
            clock,
            calls: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }
    pub fn attempts(&self) -> Vec<u32> {
        self.calls.lock().unwrap().iter().map(|c| c.2).collect()
    }
    pub fn inputs(&self) -> Vec<Value> {
        self.calls.lock().unwrap().iter().map(|c| c.1.clone()).collect()
    }
}

#[async_trait::async_trait]
impl TaskInvoker for TestInvoker {
    async fn invoke(&self, resource: &str, input: Value, ctx: TaskContext<'_>) -> Result<Value, TaskFailure> {
        self.calls.lock().unwrap().push((resource.to_string(), input.clone(), ctx.attempt));
        let (kind, arg) = resource.split_once(':').unwrap_or((resource, ""));
        match kind {
            "echo" => Ok(input),
            "const" => Ok(serde_json::from_str(arg).unwrap()),
            "fail" => Err(TaskFailure::new(arg, format!("{arg} happened"))),
            "flaky" => {
                if ctx.attempt < arg.parse::<u32>().unwrap() {
                    Err(TaskFailure::new("Flaky", "try again"))
                } else {
                    Ok(json!({"ok": ctx.attempt}))
                }
            }
            "sleep" => {
                Clock::sleep(&*self.clock, Duration::from_secs(arg.parse().unwrap())).await;
                Ok(input)
            }
            "track" => {
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_in_flight.fetch_max(now, Ordering::SeqCst);
                for _ in 0..3 {
                    Clock::sleep(&*self.clock, Duration::from_secs(1)).await;
                }
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(input)
            }
            "fail-if" => {
                if input == serde_json::from_str::<Value>(arg).unwrap() {
                    Err(TaskFailure::new("Bad", "bad item"))
                } else {
                    Ok(input)
                }
            }
            other => Err(TaskFailure { error: String::new(), cause: Some(format!("unknown test resource {other}")) }),
        }
    }
}

pub fn start() -> jiff::Timestamp {
    "2024-01-01T00:00:00Z".parse().unwrap()
}

pub fn machine(def: Value) -> StateMachine {
    match StateMachine::from_value(&def) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

/// Run `def` on `input` with a fresh fake clock; returns the execution and the invoker.
pub async fn run(def: Value, input: Value) -> (Execution, Arc<TestInvoker>) {
    let clock = Arc::new(FakeClock::new(start()));
    let invoker = Arc::new(TestInvoker::new(clock.clone()));
    let m = machine(def);
    let options = ExecutionOptions {
        name: "exec-1".into(),
        state_machine_name: "Pipeline".into(),
        ..ExecutionOptions::default()
    };
    let exec = execute(&m, input, &*invoker, &*clock, options).await;
    (exec, invoker)
}

pub fn types(exec: &Execution) -> Vec<String> {
    exec.history.iter().map(|e| serde_json::to_value(e.event_type).unwrap().as_str().unwrap().to_string()).collect()
}
