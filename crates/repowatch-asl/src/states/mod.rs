//! The state types of the States Language, one module each, and what they share:
//! transitions (`Next`/`End`) and the data-flow fields.
//!
//! States Language: State Types.

pub(crate) mod choice;
pub(crate) mod fail;
pub(crate) mod map;
pub(crate) mod parallel;
pub(crate) mod pass;
pub(crate) mod retry;
pub(crate) mod succeed;
pub(crate) mod task;
pub(crate) mod wait;

use crate::dataflow::Template;
use crate::datapath::DataPath;
use crate::path::ReferencePath;
use crate::states::retry::ErrorHandling;
use crate::validate::{Allowed, MISSING, Obj, Problems, Ptr};
use serde_json::Value;

/// Where a state goes when it is done (States Language: Transitions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transition {
    Next(String),
    End,
}

impl Transition {
    pub(crate) fn next(&self) -> Option<&str> {
        match self {
            Transition::Next(name) => Some(name),
            Transition::End => None,
        }
    }

    /// Parse `Next`/`End` of a state that needs one of them.
    pub(crate) fn parse(obj: Obj<'_, '_>, p: &mut Problems) -> Transition {
        let next = obj.opt_str(p, "Next");
        let end = obj.opt_bool(p, "End");
        match (next, end) {
            (Some(_), Some(true)) => {
                p.add(obj.ptr, "`Next` and `End` are mutually exclusive");
                Transition::End
            }
            (Some(next), _) => Transition::Next(next.to_string()),
            (None, Some(true)) => Transition::End,
            (None, _) => {
                if !obj.has("Next") {
                    p.add(obj.ptr, "a non-terminal state needs `Next` or `\"End\": true`");
                }
                Transition::End
            }
        }
    }
}

/// The input/output fields of Task, Map, Parallel and Pass
/// (States Language: Input and Output Processing).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DataFlow {
    /// `None` is `InputPath: null`.
    pub input_path: Option<DataPath>,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    /// `None` is `ResultPath: null`.
    pub result_path: Option<ReferencePath>,
    /// `None` is `OutputPath: null`.
    pub output_path: Option<DataPath>,
    /// `Assign`: variables set when the state completes.
    pub assign: Option<Template>,
}

impl DataFlow {
    /// Parse the fields present; `parameters_key` is `Parameters` or (Map) `ItemSelector`.
    pub(crate) fn parse(obj: Obj<'_, '_>, p: &mut Problems) -> DataFlow {
        DataFlow {
            input_path: obj.io_path(p, "InputPath"),
            parameters: obj.template(p, "Parameters", true),
            result_selector: obj.template(p, "ResultSelector", true),
            result_path: obj.result_path(p, "ResultPath"),
            output_path: obj.io_path(p, "OutputPath"),
            assign: obj.template(p, "Assign", true),
        }
    }

    /// Only InputPath/OutputPath (Choice, Wait, Succeed).
    pub(crate) fn parse_io(obj: Obj<'_, '_>, p: &mut Problems) -> DataFlow {
        DataFlow {
            input_path: obj.io_path(p, "InputPath"),
            parameters: None,
            result_selector: None,
            result_path: Some(ReferencePath::root()),
            output_path: obj.io_path(p, "OutputPath"),
            assign: obj.template(p, "Assign", true),
        }
    }
}

/// One parsed state.
#[derive(Debug, Clone)]
pub(crate) enum State {
    Task(task::Task),
    Map(Box<map::MapState>),
    Parallel(parallel::Parallel),
    Choice(choice::Choice),
    Pass(pass::Pass),
    Wait(wait::Wait),
    Succeed(succeed::Succeed),
    Fail(fail::Fail),
}

impl State {
    /// The `Type` name.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            State::Task(_) => "Task",
            State::Map(_) => "Map",
            State::Parallel(_) => "Parallel",
            State::Choice(_) => "Choice",
            State::Pass(_) => "Pass",
            State::Wait(_) => "Wait",
            State::Succeed(_) => "Succeed",
            State::Fail(_) => "Fail",
        }
    }

    /// Retry/Catch and the transition of the states that have them (Task, Map, Parallel).
    pub(crate) fn resilience(&self) -> Option<(&ErrorHandling, &Transition)> {
        match self {
            State::Task(s) => Some((&s.errors, &s.transition)),
            State::Map(s) => Some((&s.errors, &s.transition)),
            State::Parallel(s) => Some((&s.errors, &s.transition)),
            _ => None,
        }
    }

    /// Resources of every Task in and below this state.
    pub(crate) fn collect_resources(&self, out: &mut Vec<String>) {
        match self {
            State::Task(t) => out.push(t.resource.clone()),
            State::Map(m) => m.processor.collect_resources(out),
            State::Parallel(par) => par.branches.iter().for_each(|b| b.collect_resources(out)),
            _ => {}
        }
    }
}

/// Parse one state object found at `ptr`.
pub(crate) fn parse_state(value: &Value, ptr: Ptr<'_>, p: &mut Problems) -> Option<State> {
    let Value::Object(map) = value else {
        p.add(ptr, "a state must be a JSON object");
        return None;
    };
    let obj = Obj { map, ptr };
    let Some(type_value) = obj.get("Type") else {
        p.add(obj.at("Type"), MISSING);
        return None;
    };
    let Some(type_name) = type_value.as_str() else {
        p.add(obj.at("Type"), "must be a string");
        return None;
    };
    if let Some(lang) = obj.get("QueryLanguage")
        && lang != "JSONPath"
    {
        p.add(obj.at("QueryLanguage"), "the JSONata query language is not supported yet (only JSONPath is)");
    }
    let state = match type_name {
        "Task" => State::Task(task::Task::parse(obj, p)),
        "Map" => State::Map(Box::new(map::MapState::parse(obj, p))),
        "Parallel" => State::Parallel(parallel::Parallel::parse(obj, p)),
        "Choice" => State::Choice(choice::Choice::parse(obj, p)),
        "Pass" => State::Pass(pass::Pass::parse(obj, p)),
        "Wait" => State::Wait(wait::Wait::parse(obj, p)),
        "Succeed" => State::Succeed(succeed::Succeed::parse(obj, p)),
        "Fail" => State::Fail(fail::Fail::parse(obj, p)),
        other => {
            p.add(obj.at("Type"), format!("unknown state type `{other}`"));
            return None;
        }
    };
    Some(state)
}

/// Fields every state may have.
pub(crate) const COMMON_FIELDS: [&str; 3] = ["Type", "Comment", "QueryLanguage"];

/// `COMMON_FIELDS` plus a state type's own fields.
pub(crate) struct StateFields(&'static [&'static str]);

impl Allowed for StateFields {
    fn allows(&self, key: &str) -> bool {
        COMMON_FIELDS.contains(&key) || self.0.contains(&key)
    }
}

/// `COMMON_FIELDS` plus `extra`, for [`Obj::allow`].
pub(crate) fn allowed(extra: &'static [&'static str]) -> StateFields {
    StateFields(extra)
}
