//! An interpreter for the Amazon States Language (AWS Step Functions, JSONPath
//! query language): parse and validate a state machine definition, then run it
//! with your own [`TaskInvoker`] for Task states and a [`Clock`] for time.
//!
//! It follows the States Language specification: the data flow of every state
//! (`InputPath`, `Parameters`, `ResultSelector`, `ResultPath`, `OutputPath`,
//! `.$` fields and the `$$` context object), Task, Map (inline), Parallel,
//! Choice, Pass, Wait, Succeed and Fail states, `Retry` and `Catch`, timeouts
//! and the AWS error names (`States.Timeout`, `States.Runtime`, …). Executions
//! record a history shaped like `GetExecutionHistory`. With [`FakeClock`],
//! waits, back-off and timeouts run in virtual time, so tests are instant and
//! deterministic. Variables (`Assign`, `$name`), every intrinsic function
//! (`States.Format` … `States.UUID`), full JSONPath in `.$` fields (wildcards,
//! `..`, slices, unions, filters) and the Distributed Map without `ItemReader`
//! (run as plain iteration) are supported. Not implemented: JSONata (a
//! definition using it is rejected with a message saying so), `ItemReader` /
//! `ResultWriter` (they need S3), and callback task tokens.
//!
//! Held to AWS's own answers: 514 of the 516 executions recorded against real
//! AWS in the conformance corpus give the same result (see README.md).
//!
//! ```
//! use repowatch_asl::{execute, ExecutionOptions, ExecutionStatus, FakeClock, StateMachine, TaskContext, TaskFailure, TaskInvoker};
//! use serde_json::{json, Value};
//!
//! struct Echo;
//! #[async_trait::async_trait]
//! impl TaskInvoker for Echo {
//!     async fn invoke(&self, resource: &str, input: Value, _ctx: TaskContext<'_>) -> Result<Value, TaskFailure> {
//!         Ok(json!({"resource": resource, "got": input}))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let machine = StateMachine::from_json_str(r#"{
//!     "StartAt": "Hello",
//!     "States": { "Hello": { "Type": "Task", "Resource": "hello", "ResultPath": "$.hello", "End": true } }
//! }"#).unwrap();
//! let clock = FakeClock::new(jiff::Timestamp::UNIX_EPOCH);
//! let run = execute(&machine, json!({"who": "world"}), &Echo, &clock, ExecutionOptions::default()).await;
//! assert_eq!(run.status, ExecutionStatus::Succeeded);
//! assert_eq!(run.output, Some(json!({"who": "world", "hello": {"resource": "hello", "got": {"who": "world"}}})));
//! # });
//! ```

#![warn(missing_docs)]

mod clock;
mod dataflow;
mod datapath;
pub mod error;
mod exec;
mod intrinsics;
mod machine;
mod path;
mod states;
mod substitute;
mod validate;

pub use clock::{Clock, Elapsed, FakeClock, SystemClock, with_timeout};
pub use error::{DefinitionError, JsonSyntaxError, ValidationProblem};
pub use exec::{
    Execution, ExecutionOptions, ExecutionStatus, ExecutionType, HistoryEvent, HistoryEventType, TaskContext,
    TaskFailure, TaskInvoker, execute,
};
pub use machine::StateMachine;
pub use substitute::substitute;
pub use validate::validate;
