//! Intrinsic functions (`States.Format`, `States.Array`, …).
//!
//! States Language: Intrinsic Functions. This version recognises an intrinsic
//! call in a `.$` field at parse time and fails it at run time with a clear
//! `States.Runtime` error. The evaluator goes in [`evaluate`]; the data-flow
//! module already routes every intrinsic call here with the input and the
//! context object it needs.

use crate::error::StatesError;
use serde_json::Value;

/// Whether a `.$` value is an intrinsic call rather than a path.
pub(crate) fn is_intrinsic(expression: &str) -> bool {
    expression.starts_with("States.")
}

/// The function name of an intrinsic call (`States.Format` for `States.Format('{}', $.a)`).
pub(crate) fn function_name(expression: &str) -> &str {
    expression.split('(').next().unwrap_or(expression).trim()
}

/// Evaluate an intrinsic call against the state's input and context object.
pub(crate) fn evaluate(expression: &str, _input: &Value, _context: &Value) -> Result<Value, StatesError> {
    Err(StatesError::runtime(format!(
        "intrinsic function `{}` is not supported by this interpreter yet (in `{expression}`)",
        function_name(expression)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // States Language: Intrinsic Functions — not implemented yet, must fail clearly.
    #[test]
    fn intrinsic_is_a_runtime_error() {
        assert!(is_intrinsic("States.Format('{}', $.a)"));
        assert!(!is_intrinsic("$.States"));
        let err = evaluate("States.Format('{}', $.a)", &json!({}), &json!({})).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert!(err.cause.contains("States.Format"), "{}", err.cause);
    }
}
