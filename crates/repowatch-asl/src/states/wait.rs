//! Wait state (States Language: Wait State).

use super::{DataFlow, Transition, allowed};
use crate::datapath::DataPath;
use crate::validate::{Obj, Problems};
use jiff::Timestamp;

/// How long a Wait state waits.
#[derive(Debug, Clone)]
pub(crate) enum WaitFor {
    Seconds(u64),
    SecondsPath(DataPath),
    Timestamp(Timestamp),
    TimestampPath(DataPath),
}

/// Delays the execution, on the [`crate::Clock`].
#[derive(Debug, Clone)]
pub(crate) struct Wait {
    pub wait_for: WaitFor,
    pub flow: DataFlow,
    pub transition: Transition,
}

const FIELDS: [&str; 4] = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"];

impl Wait {
    pub(crate) fn parse(obj: Obj<'_, '_>, p: &mut Problems) -> Wait {
        obj.allow(
            p,
            &allowed(&[
                "Seconds",
                "SecondsPath",
                "Timestamp",
                "TimestampPath",
                "InputPath",
                "OutputPath",
                "Next",
                "End",
                "Assign",
            ]),
            "a Wait state",
        );
        let present: Vec<&str> = FIELDS.iter().copied().filter(|f| obj.has(f)).collect();
        if present.len() != 1 {
            p.add(
                obj.ptr,
                format!("a Wait state needs exactly one of `Seconds`, `SecondsPath`, `Timestamp`, `TimestampPath` (found {})", present.len()),
            );
        }
        let wait_for = match present.first().copied() {
            Some("Seconds") => WaitFor::Seconds(obj.opt_uint(p, "Seconds", 0).unwrap_or(0)),
            Some("SecondsPath") => WaitFor::SecondsPath(obj.req_path(p, "SecondsPath").unwrap_or_else(DataPath::root)),
            Some("Timestamp") => {
                let text = obj.opt_str(p, "Timestamp");
                match text.map(str::parse::<Timestamp>) {
                    Some(Ok(ts)) => WaitFor::Timestamp(ts),
                    Some(Err(e)) => {
                        p.add(
                            obj.at("Timestamp"),
                            format!("must be an RFC 3339 timestamp such as 2016-03-14T01:59:00Z ({e})"),
                        );
                        WaitFor::Seconds(0)
                    }
                    None => WaitFor::Seconds(0),
                }
            }
            Some(_) => WaitFor::TimestampPath(obj.req_path(p, "TimestampPath").unwrap_or_else(DataPath::root)),
            None => WaitFor::Seconds(0),
        };
        Wait { wait_for, flow: DataFlow::parse_io(obj, p), transition: Transition::parse(obj, p) }
    }
}
