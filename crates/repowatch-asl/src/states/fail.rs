//! Fail state (States Language: Fail State).

use super::allowed;
use crate::datapath::DataPath;
use crate::validate::{Obj, Problems};

/// Ends the execution (or fails the branch/iteration) with an error and cause.
#[derive(Debug, Clone)]
pub(crate) struct Fail {
    pub error: Option<String>,
    pub cause: Option<String>,
    pub error_path: Option<DataPath>,
    pub cause_path: Option<DataPath>,
}

impl Fail {
    pub(crate) fn parse(obj: Obj<'_, '_>, p: &mut Problems) -> Fail {
        obj.allow(p, &allowed(&["Error", "Cause", "ErrorPath", "CausePath"]), "a Fail state");
        for (a, b) in [("Error", "ErrorPath"), ("Cause", "CausePath")] {
            if obj.has(a) && obj.has(b) {
                p.add(obj.ptr, format!("`{a}` and `{b}` are mutually exclusive"));
            }
        }
        Fail {
            error: obj.opt_str(p, "Error").map(str::to_string),
            cause: obj.opt_str(p, "Cause").map(str::to_string),
            error_path: obj.opt_path(p, "ErrorPath"),
            cause_path: obj.opt_path(p, "CausePath"),
        }
    }
}
