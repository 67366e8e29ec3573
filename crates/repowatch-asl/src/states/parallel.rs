//! Parallel state (States Language: Parallel State).

use super::retry::ErrorHandling;
use super::{DataFlow, Transition, allowed};
use crate::machine::{Machine, MachineKind, parse_machine};
use crate::validate::{MISSING, Obj, Problems};
use serde_json::Value;

/// Runs every branch on the same input, concurrently; the result is the array of branch outputs.
#[derive(Debug, Clone)]
pub(crate) struct Parallel {
    pub branches: Vec<Machine>,
    pub flow: DataFlow,
    pub errors: ErrorHandling,
    pub transition: Transition,
}

impl Parallel {
    pub(crate) fn parse(obj: Obj<'_, '_>, p: &mut Problems) -> Parallel {
        obj.allow(
            p,
            &allowed(&[
                "Branches",
                "Parameters",
                "ResultPath",
                "ResultSelector",
                "InputPath",
                "OutputPath",
                "Next",
                "End",
                "Retry",
                "Catch",
                "Assign",
            ]),
            "a Parallel state",
        );
        let ptr = obj.ptr.key("Branches");
        let mut branches = Vec::new();
        match obj.get("Branches") {
            None => p.add(ptr, MISSING),
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(m) = parse_machine(item, ptr.index(i), p, MachineKind::Branch) {
                        branches.push(m);
                    }
                }
            }
            Some(_) => p.add(ptr, "must be a non-empty array of state machines"),
        }
        Parallel {
            branches,
            flow: DataFlow::parse(obj, p),
            errors: ErrorHandling::parse(obj, p),
            transition: Transition::parse(obj, p),
        }
    }
}
