//! States Language: any text is a definition or a load error; a definition
//! runs to an end (SUCCEEDED, FAILED, …) on a fake clock, with Task states
//! answered by an echo, a failure or a large result as the resource name says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use repowatch_asl::{ExecutionOptions, FakeClock, StateMachine, TaskContext, TaskFailure, TaskInvoker, execute};
use serde_json::{Value, json};

struct Invoker;

#[async_trait::async_trait]
impl TaskInvoker for Invoker {
    async fn invoke(&self, resource: &str, input: Value, _ctx: TaskContext<'_>) -> Result<Value, TaskFailure> {
        match resource.len() % 3 {
            0 => Ok(input),
            1 => Err(TaskFailure { error: "Fuzz.Failure".into(), cause: Some(resource.into()) }),
            _ => Ok(json!({ "resource": resource, "input": input })),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The definition and, after a NUL, the input.
    let (definition, input) = text.split_once('\0').unwrap_or((text, "{}"));
    let Ok(machine) = StateMachine::from_json_str(definition) else { return };
    let input = serde_json::from_str(input).unwrap_or(Value::Null);
    let clock = FakeClock::new("2026-11-24T10:20:11Z".parse().unwrap());
    let options = ExecutionOptions { max_transitions: 2_000, ..ExecutionOptions::default() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let execution = runtime.block_on(execute(&machine, input, &Invoker, &clock, options));
    let _ = serde_json::to_string(&execution.output);
});
