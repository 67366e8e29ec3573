//! Intrinsic functions (`States.Format`, `States.Array`, …) of the JSONPath query
//! language.
//!
//! AWS Step Functions "Intrinsic functions for JSONPath states in Step
//! Functions" (States Language: Intrinsic Functions). Every function AWS
//! documents is implemented: Format, StringToJson, JsonToString, Array,
//! ArrayPartition, ArrayContains, ArrayRange, ArrayGetItem, ArrayLength,
//! ArrayUnique, Base64Encode, Base64Decode, Hash, JsonMerge, MathRandom, MathAdd,
//! StringSplit and UUID.
//!
//! Errors. A path argument that selects nothing fails with `States.Runtime`
//! and AWS's cause: "The function '<expression>' had the following error: The
//! JsonPath argument for the field '<path>' could not be found in the input
//! '<input>'" (the executor prefixes it with the state, as for every
//! `States.Runtime`). Any other failure of a function (a wrong argument type, an
//! index out of range, a limit, a deep JsonMerge, …) is `States.IntrinsicFailure`
//! with the cause "The function '<expression>' had the following error: <why>".

mod functions;
mod parse;

use crate::dataflow::ContextObject;
use crate::error::{STATES_INTRINSIC_FAILURE, StatesError};
use parse::{Arg, Call};
use serde_json::Value;

/// Whether a `.$` value is an intrinsic call rather than a path.
pub(crate) fn is_intrinsic(expression: &str) -> bool {
    expression.trim_start().starts_with("States.")
}

/// Check the syntax of an intrinsic expression (for validation at load time):
/// the call grammar, known function names and argument counts.
#[allow(dead_code)]
pub(crate) fn check(expression: &str) -> Result<(), String> {
    let call = parse::parse(expression)?;
    check_call(&call)
}

fn check_call(call: &Call) -> Result<(), String> {
    functions::check_arity(&call.name, call.args.len())?;
    for arg in &call.args {
        if let Arg::Call(inner) = arg {
            check_call(inner)?;
        }
    }
    Ok(())
}

/// Why an intrinsic failed, before it is worded as AWS words it.
pub(crate) enum Failure {
    /// A path argument selected nothing (`States.Runtime`).
    MissingPath(String),
    /// The function rejected its arguments (`States.IntrinsicFailure`).
    Function(String),
}

/// Evaluate an intrinsic call against the state's input, the context object and the variables.
pub(crate) fn evaluate(expression: &str, input: &Value, context: &ContextObject<'_>) -> Result<Value, StatesError> {
    let wrap = |why: &str| format!("The function '{expression}' had the following error: {why}");
    let call = parse::parse(expression).map_err(|why| StatesError::new(STATES_INTRINSIC_FAILURE, wrap(&why)))?;
    eval_call(&call, input, context).map_err(|failure| match failure {
        Failure::MissingPath(path) => StatesError::runtime(wrap(&format!(
            "The JsonPath argument for the field '{path}' could not be found in the input '{}'",
            serde_json::to_string(input).unwrap_or_default()
        ))),
        Failure::Function(why) => StatesError::new(STATES_INTRINSIC_FAILURE, wrap(&why)),
    })
}

fn eval_call(call: &Call, input: &Value, context: &ContextObject<'_>) -> Result<Value, Failure> {
    let mut values = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        values.push(match arg {
            Arg::Str { text, .. } => Value::String(text.clone()),
            Arg::Literal(v) => v.clone(),
            Arg::Path(path) => path.resolve(input, context).ok_or_else(|| Failure::MissingPath(path.to_string()))?,
            Arg::Call(inner) => eval_call(inner, input, context)?,
        });
    }
    // States.Format reads the placeholders of a literal template from the literal
    // (escaped braces are not placeholders); a template from a path uses every `{}`.
    let template = match call.args.first() {
        Some(Arg::Str { placeholders, .. }) if call.name == "Format" => Some(placeholders.as_slice()),
        _ => None,
    };
    functions::apply(&call.name, values, template).map_err(Failure::Function)
}

#[cfg(test)]
mod tests;
