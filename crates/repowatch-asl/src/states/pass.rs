//! Pass state (States Language: Pass State).

use super::{DataFlow, Transition, allowed};
use crate::validate::{Obj, Problems};
use serde_json::Value;

/// Passes its input (or `Result`) to its output.
#[derive(Debug, Clone)]
pub(crate) struct Pass {
    pub result: Option<Value>,
    pub flow: DataFlow,
    pub transition: Transition,
}

impl Pass {
    pub(crate) fn parse(obj: Obj<'_, '_>, p: &mut Problems) -> Pass {
        obj.allow(
            p,
            &allowed(&["Result", "ResultPath", "Parameters", "InputPath", "OutputPath", "Next", "End", "Assign"]),
            "a Pass state",
        );
        Pass {
            result: obj.get("Result").cloned(),
            flow: DataFlow::parse(obj, p),
            transition: Transition::parse(obj, p),
        }
    }
}
