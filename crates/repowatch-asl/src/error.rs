//! Error names of the States Language and the crate's error types.
//!
//! States Language: Errors — "Error names" lists the predefined `States.*`
//! names. Two of them are *terminal*: `States.Runtime` and
//! `States.DataLimitExceeded` are never matched by the `States.ALL` wildcard
//! (AWS documents that a retrier or catcher on `States.ALL` does not catch
//! them); they can only be caught when named explicitly.

use serde::Serialize;
use std::fmt;

/// Wildcard that matches any error name (except the terminal ones).
pub const STATES_ALL: &str = "States.ALL";
/// An execution failed because of something it could not process: a bad path, a type mismatch…
pub const STATES_RUNTIME: &str = "States.Runtime";
/// A Task failed; as an `ErrorEquals` entry it matches any error except `States.Timeout`.
pub const STATES_TASK_FAILED: &str = "States.TaskFailed";
/// A Task ran longer than its `TimeoutSeconds`, or the execution longer than the machine's.
pub const STATES_TIMEOUT: &str = "States.Timeout";
/// A branch of a Parallel state or an iteration of a Map state failed.
pub const STATES_BRANCH_FAILED: &str = "States.BranchFailed";
/// A Choice state found no matching rule and has no `Default`.
pub const STATES_NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
/// `ResultPath` cannot be applied to the state's input.
pub const STATES_RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
/// A `.$` field of `Parameters`/`ItemSelector`/`ResultSelector` references a missing value.
pub const STATES_PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
/// An intrinsic function failed.
pub const STATES_INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
/// A distributed Map had more failed iterations than its tolerated failure count or percentage.
pub const STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
/// A state's input or output exceeded [`DATA_LIMIT_BYTES`].
pub const STATES_DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
/// A Task's heartbeat was not received in time (not produced by this interpreter yet).
pub const STATES_HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
/// Insufficient privileges (never produced by this interpreter).
pub const STATES_PERMISSIONS: &str = "States.Permissions";

/// Largest allowed serialized state input or output, in bytes (256 KiB).
pub const DATA_LIMIT_BYTES: usize = 262_144;

/// An error raised while running a state: an AWS error name and a cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatesError {
    pub error: String,
    pub cause: String,
    /// Not catchable or retriable at all (the transition guard).
    pub fatal: bool,
    /// Reported by a Task's resource (not raised by the interpreter itself).
    pub from_task: bool,
}

impl StatesError {
    pub(crate) fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        StatesError { error: error.into(), cause: cause.into(), fatal: false, from_task: false }
    }
    /// An error a Task's resource reported. Observed on AWS (conformance corpus): a
    /// `States.DataLimitExceeded` returned by a Lambda integration is caught by `States.ALL`.
    pub(crate) fn from_task(error: impl Into<String>, cause: impl Into<String>) -> Self {
        StatesError { error: error.into(), cause: cause.into(), fatal: false, from_task: true }
    }
    pub(crate) fn runtime(cause: impl Into<String>) -> Self {
        Self::new(STATES_RUNTIME, cause)
    }
    pub(crate) fn fatal(error: impl Into<String>, cause: impl Into<String>) -> Self {
        StatesError { error: error.into(), cause: cause.into(), fatal: true, from_task: false }
    }
    /// Whether `States.ALL` (and `States.TaskFailed`) must not match this error.
    pub(crate) fn is_terminal(&self) -> bool {
        self.error == STATES_RUNTIME || (self.error == STATES_DATA_LIMIT_EXCEEDED && !self.from_task)
    }
    /// Whether one `ErrorEquals` list matches this error (States Language: Errors — Retrying after an error).
    pub(crate) fn matches(&self, error_equals: &[String]) -> bool {
        if self.fatal {
            return false;
        }
        error_equals.iter().any(|name| match name.as_str() {
            STATES_ALL => !self.is_terminal(),
            STATES_TASK_FAILED => {
                self.error == STATES_TASK_FAILED || (!self.is_terminal() && self.error != STATES_TIMEOUT)
            }
            other => other == self.error,
        })
    }
}

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationProblem {
    /// RFC 6901 JSON pointer of the offending place, e.g. `/States/Build/Next` (`""` is the whole document).
    pub pointer: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl ValidationProblem {
    pub(crate) fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationProblem { pointer: pointer.into(), message: message.into() }
    }
}

impl fmt::Display for ValidationProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "(root): {}", self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

/// Why a definition could not be turned into a [`crate::StateMachine`].
///
/// Either the text was not JSON (`problems` then holds one problem at the root
/// whose message gives line and column), or the JSON broke the States Language
/// rules (`problems` lists every problem found).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DefinitionError {
    /// Every problem found, sorted by pointer.
    pub problems: Vec<ValidationProblem>,
    /// Set when the text was not valid JSON.
    pub parse_error: Option<JsonSyntaxError>,
}

/// Where and why a definition text is not JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonSyntaxError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The parser's message.
    pub message: String,
}

impl DefinitionError {
    pub(crate) fn from_problems(problems: Vec<ValidationProblem>) -> Self {
        DefinitionError { problems, parse_error: None }
    }
    pub(crate) fn from_json(err: &serde_json::Error) -> Self {
        let syntax = JsonSyntaxError { line: err.line(), column: err.column(), message: err.to_string() };
        DefinitionError {
            problems: vec![ValidationProblem::new("", format!("definition is not valid JSON: {}", syntax.message))],
            parse_error: Some(syntax),
        }
    }
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(syntax) = &self.parse_error {
            return write!(
                f,
                "invalid state machine definition: not JSON at line {}, column {}: {}",
                syntax.line, syntax.column, syntax.message
            );
        }
        write!(f, "invalid state machine definition ({} problem(s))", self.problems.len())?;
        for problem in &self.problems {
            write!(f, "\n{problem}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // States Language: Errors — States.ALL matches any error name but the terminal ones.
    #[test]
    fn states_all_skips_terminal_errors() {
        let all = vec![STATES_ALL.to_string()];
        assert!(StatesError::new("Custom", "x").matches(&all));
        assert!(!StatesError::runtime("x").matches(&all));
        assert!(!StatesError::new(STATES_DATA_LIMIT_EXCEEDED, "x").matches(&all));
        assert!(StatesError::runtime("x").matches(&[STATES_RUNTIME.to_string()]));
        assert!(!StatesError::fatal(STATES_RUNTIME, "x").matches(&[STATES_RUNTIME.to_string()]));
        // Observed on AWS: a Lambda integration's DataLimitExceeded is caught by States.ALL.
        assert!(StatesError::from_task(STATES_DATA_LIMIT_EXCEEDED, "x").matches(&all));
    }

    // States Language: Errors — States.TaskFailed matches everything but States.Timeout.
    #[test]
    fn task_failed_wildcard() {
        let tf = vec![STATES_TASK_FAILED.to_string()];
        assert!(StatesError::new("Lambda.Unknown", "x").matches(&tf));
        assert!(!StatesError::new(STATES_TIMEOUT, "x").matches(&tf));
    }

    #[test]
    fn display_lists_problems() {
        let e = DefinitionError::from_problems(vec![
            ValidationProblem::new("/StartAt", "required field is missing"),
            ValidationProblem::new("", "must be a JSON object"),
        ]);
        let text = e.to_string();
        assert!(text.contains("\n/StartAt: required field is missing"));
        assert!(text.contains("\n(root): must be a JSON object"));
    }

    #[test]
    fn json_error_has_position() {
        let err = match serde_json::from_str::<serde_json::Value>("{\n  \"a\": }") {
            Err(e) => e,
            Ok(_) => unreachable!(),
        };
        let e = DefinitionError::from_json(&err);
        assert!(e.to_string().contains("line 2"), "{e}");
    }
}
