//! Task state (States Language: Task State).

use super::retry::ErrorHandling;
use super::{DataFlow, Transition, allowed};
use crate::datapath::DataPath;
use crate::validate::{Obj, Problems};

/// Calls a resource through the [`crate::TaskInvoker`].
#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub resource: String,
    pub flow: DataFlow,
    pub timeout_seconds: Option<u64>,
    pub timeout_seconds_path: Option<DataPath>,
    pub errors: ErrorHandling,
    pub transition: Transition,
}

impl Task {
    pub(crate) fn parse(obj: Obj<'_, '_>, p: &mut Problems) -> Task {
        obj.allow(
            p,
            &allowed(&[
                "Resource",
                "Parameters",
                "ResultPath",
                "ResultSelector",
                "InputPath",
                "OutputPath",
                "Next",
                "End",
                "Retry",
                "Catch",
                "TimeoutSeconds",
                "TimeoutSecondsPath",
                "HeartbeatSeconds",
                "HeartbeatSecondsPath",
                "Credentials",
                "Assign",
            ]),
            "a Task state",
        );
        let resource = obj.req_str(p, "Resource").unwrap_or_default().to_string();
        if obj.has("Resource") && resource.is_empty() && obj.get("Resource").is_some_and(|v| v.is_string()) {
            p.add(obj.at("Resource"), "must not be empty");
        }
        if obj.has("TimeoutSeconds") && obj.has("TimeoutSecondsPath") {
            p.add(obj.ptr, "`TimeoutSeconds` and `TimeoutSecondsPath` are mutually exclusive");
        }
        if obj.has("HeartbeatSeconds") && obj.has("HeartbeatSecondsPath") {
            p.add(obj.ptr, "`HeartbeatSeconds` and `HeartbeatSecondsPath` are mutually exclusive");
        }
        let timeout_seconds = obj.opt_uint(p, "TimeoutSeconds", 1);
        let heartbeat = obj.opt_uint(p, "HeartbeatSeconds", 1);
        if let (Some(t), Some(h)) = (timeout_seconds, heartbeat)
            && h >= t
        {
            p.add(obj.at("HeartbeatSeconds"), "must be smaller than `TimeoutSeconds`");
        }
        let _ = obj.opt_path(p, "HeartbeatSecondsPath");
        Task {
            resource,
            flow: DataFlow::parse(obj, p),
            timeout_seconds,
            timeout_seconds_path: obj.opt_path(p, "TimeoutSecondsPath"),
            errors: ErrorHandling::parse(obj, p),
            transition: Transition::parse(obj, p),
        }
    }
}
