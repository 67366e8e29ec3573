//! State machines: the top-level [`StateMachine`] and the nested machines of
//! Map item processors and Parallel branches, with the checks that span
//! states (StartAt, transitions, reachability).
//!
//! States Language: Structure of a State Machine; Transitions.

use crate::error::DefinitionError;
use crate::states::{State, parse_state};
use crate::validate::{MISSING, NameIndex, Obj, Problems, Ptr, field};
use serde_json::Value;
use std::collections::VecDeque;

/// Where a machine sits, which decides the fields it may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MachineKind {
    Root,
    ItemProcessor,
    Branch,
}

/// A set of states with a start state.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub start_at: String,
    pub states: Vec<(String, State)>,
    /// Finds a state among `states` by name.
    index: NameIndex,
}

impl Machine {
    pub(crate) fn empty() -> Machine {
        Machine { start_at: String::new(), states: Vec::new(), index: NameIndex::default() }
    }

    pub(crate) fn get(&self, name: &str) -> Option<(&str, &State)> {
        let i = self.index.position(self.states.iter().map(|(n, _)| n.as_str()), name)?;
        let (n, s) = self.states.get(i)?;
        Some((n.as_str(), s))
    }

    pub(crate) fn collect_resources(&self, out: &mut Vec<String>) {
        for (_, state) in &self.states {
            state.collect_resources(out);
        }
    }
}

/// Where a raw state names a target; its pointer is made only for a problem.
#[derive(Clone, Copy)]
enum TargetField {
    Next,
    Default,
    /// `Choices[i].Next` or `Catch[i].Next`.
    Item(&'static str, usize),
}

impl TargetField {
    fn pointer(self, state_ptr: Ptr<'_>) -> String {
        match self {
            TargetField::Next => state_ptr.key("Next").into(),
            TargetField::Default => state_ptr.key("Default").into(),
            TargetField::Item(list, i) => state_ptr.key(list).index(i).key("Next").into(),
        }
    }
}

/// Targets named by a raw state object: `Next`, `Default`, `Choices[i].Next`, `Catch[i].Next`.
fn raw_targets<'v>(state: &'v Value) -> Vec<(&'v str, TargetField)> {
    let mut out = Vec::new();
    let mut push = |v: Option<&'v Value>, at: TargetField| {
        if let Some(Value::String(s)) = v {
            out.push((s.as_str(), at));
        }
    };
    let Value::Object(state) = state else {
        return out;
    };
    push(field(state, "Next"), TargetField::Next);
    push(field(state, "Default"), TargetField::Default);
    for list in ["Choices", "Catch"] {
        if let Some(Value::Array(items)) = field(state, list) {
            for (i, item) in items.iter().enumerate() {
                push(item.as_object().and_then(|item| field(item, "Next")), TargetField::Item(list, i));
            }
        }
    }
    out
}

/// Parse a machine object (`{"StartAt", "States", …}`) found at `ptr`.
pub(crate) fn parse_machine(value: &Value, ptr: Ptr<'_>, p: &mut Problems, kind: MachineKind) -> Option<Machine> {
    let Value::Object(map) = value else {
        p.add(
            ptr,
            if kind == MachineKind::Root {
                "definition must be a JSON object"
            } else {
                "must be a JSON object with `StartAt` and `States`"
            },
        );
        return None;
    };
    let obj = Obj { map, ptr };
    let fields: &[&str] = match kind {
        MachineKind::Root => &["StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"],
        MachineKind::ItemProcessor => &["StartAt", "States", "Comment", "ProcessorConfig"],
        MachineKind::Branch => &["StartAt", "States", "Comment"],
    };
    obj.allow(p, fields, if kind == MachineKind::Root { "a state machine" } else { "a nested state machine" });
    if kind == MachineKind::ItemProcessor
        && let Some(config) = obj.get("ProcessorConfig")
    {
        let config_ptr = obj.ptr.key("ProcessorConfig");
        match config {
            Value::Object(cfg) => {
                let c = Obj { map: cfg, ptr: config_ptr };
                c.allow(p, &["Mode", "ExecutionType"], "`ProcessorConfig`");
                // A DISTRIBUTED Map without ItemReader runs its items like an inline one.
                match c.opt_str(p, "Mode") {
                    None | Some("INLINE") | Some("DISTRIBUTED") => {}
                    Some(other) => p.add(c.at("Mode"), format!("must be `INLINE` or `DISTRIBUTED`, not `{other}`")),
                }
                match c.opt_str(p, "ExecutionType") {
                    None | Some("STANDARD") | Some("EXPRESS") => {}
                    Some(other) => {
                        p.add(c.at("ExecutionType"), format!("must be `STANDARD` or `EXPRESS`, not `{other}`"))
                    }
                }
            }
            _ => p.add(config_ptr, "must be a JSON object"),
        }
    }
    let start_at = obj.req_str(p, "StartAt");
    let states_ptr = obj.ptr.key("States");
    let raw_states = match obj.get("States") {
        None => {
            p.add(states_ptr, MISSING);
            None
        }
        Some(Value::Object(states)) if !states.is_empty() => Some(states),
        Some(_) => {
            p.add(states_ptr, "must be a non-empty JSON object of states");
            None
        }
    };
    let raw_states = raw_states?;
    let mut machine =
        Machine { start_at: String::new(), states: Vec::with_capacity(raw_states.len()), index: NameIndex::default() };
    // Transitions by position in `raw_states`, for the reachability check.
    let raw_names = || raw_states.keys().map(String::as_str);
    let positions = NameIndex::new(raw_names());
    let mut edges: Vec<Vec<usize>> = Vec::with_capacity(raw_states.len());
    for (name, raw) in raw_states {
        let state_ptr = states_ptr.key(name);
        if name.is_empty() || name.chars().count() > 80 {
            p.add(state_ptr, "a state name must be 1 to 80 characters long");
        }
        let mut targets = Vec::new();
        for (target, at) in raw_targets(raw) {
            match positions.position(raw_names(), target) {
                Some(i) => targets.push(i),
                None => p.add(at.pointer(state_ptr), format!("refers to unknown state `{target}`")),
            }
        }
        edges.push(targets);
        if let Some(state) = parse_state(raw, state_ptr, p) {
            machine.states.push((name.clone(), state));
        }
    }
    machine.index = NameIndex::new(machine.states.iter().map(|(n, _)| n.as_str()));
    if let Some(start) = start_at {
        if let Some(first) = positions.position(raw_names(), start) {
            // Reachability from StartAt (States Language: Transitions — every state must be reachable).
            let mut seen = vec![false; raw_states.len()];
            let mut queue = VecDeque::from([first]);
            while let Some(i) = queue.pop_front() {
                if std::mem::replace(&mut seen[i], true) {
                    continue;
                }
                queue.extend(edges[i].iter().copied().filter(|&t| !seen[t]));
            }
            for (name, _) in raw_states.iter().zip(&seen).filter(|(_, seen)| !**seen).map(|(state, _)| state) {
                p.add(states_ptr.key(name), "state is unreachable from `StartAt`");
            }
        } else {
            p.add(obj.at("StartAt"), format!("refers to unknown state `{start}`"));
        }
        machine.start_at = start.to_string();
    }
    Some(machine)
}

/// Parse a whole definition; the top-level `TimeoutSeconds` comes back beside the machine.
pub(crate) fn parse_root(value: &Value, p: &mut Problems) -> Option<(Machine, Option<u64>)> {
    let machine = parse_machine(value, Ptr::Root, p, MachineKind::Root)?;
    let map = value.as_object()?;
    let obj = Obj { map, ptr: Ptr::Root };
    let timeout = obj.opt_uint(p, "TimeoutSeconds", 1);
    if let Some(lang) = obj.get("QueryLanguage")
        && lang != "JSONPath"
    {
        p.add(obj.at("QueryLanguage"), "the JSONata query language is not supported yet (only JSONPath is)");
    }
    let _ = obj.opt_str(p, "Comment");
    let _ = obj.opt_str(p, "Version");
    Some((machine, timeout))
}

/// A parsed and validated state machine, ready for [`crate::execute`].
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub(crate) root: Machine,
    pub(crate) timeout_seconds: Option<u64>,
}

impl StateMachine {
    /// Parse a definition given as JSON text. A text that is not JSON gives a
    /// [`DefinitionError`] with line and column; otherwise see [`StateMachine::from_value`].
    pub fn from_json_str(text: &str) -> Result<StateMachine, DefinitionError> {
        let value: Value = serde_json::from_str(text).map_err(|e| DefinitionError::from_json(&e))?;
        Self::from_value(&value)
    }

    /// Parse and validate a definition; the error lists every problem found
    /// (the same list [`crate::validate`] returns).
    pub fn from_value(value: &Value) -> Result<StateMachine, DefinitionError> {
        let mut problems = Problems::default();
        let parsed = parse_root(value, &mut problems);
        match parsed {
            Some((root, timeout_seconds)) if problems.is_empty() => Ok(StateMachine { root, timeout_seconds }),
            _ => {
                if problems.is_empty() {
                    problems.add("", "definition could not be parsed");
                }
                Err(DefinitionError::from_problems(problems.into_sorted()))
            }
        }
    }

    /// The name of the first state.
    pub fn start_at(&self) -> &str {
        &self.root.start_at
    }

    /// The names of the top-level states (in the order serde_json keeps object keys).
    pub fn state_names(&self) -> impl Iterator<Item = &str> {
        self.root.states.iter().map(|(name, _)| name.as_str())
    }

    /// The `Resource` of every Task, nested ones included, sorted and without duplicates.
    pub fn task_resources(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.root.collect_resources(&mut out);
        out.sort();
        out.dedup();
        out
    }

    /// The machine-wide `TimeoutSeconds`, if set.
    pub fn timeout_seconds(&self) -> Option<u64> {
        self.timeout_seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // States Language: Transitions — states reached only through Catch or Choice are reachable.
    #[test]
    fn reachability_follows_catch_and_choice() {
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "Next": "C", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}]},
            "H": {"Type": "Fail"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": true, "Next": "D"}], "Default": "E"},
            "D": {"Type": "Succeed"}, "E": {"Type": "Succeed"}}});
        assert_eq!(crate::validate(&def), vec![]);
        let m = StateMachine::from_value(&def).unwrap();
        assert_eq!(m.state_names().collect::<Vec<_>>(), ["T", "H", "C", "D", "E"], "declaration order");
        assert_eq!(m.task_resources(), ["r"]);
    }

    /// A chain `S0 → S1 → … → S{n-1}` of Pass states, each adding its index under its name.
    fn chain(n: usize) -> serde_json::Map<String, Value> {
        (0..n)
            .map(|i| {
                let mut state = json!({"Type": "Pass", "Result": i, "ResultPath": format!("$.S{i}")});
                state["Next"] = if i + 1 < n { json!(format!("S{}", i + 1)) } else { Value::Null };
                if i + 1 == n {
                    state.as_object_mut().map(|m| m.remove("Next"));
                    state["End"] = json!(true);
                }
                (format!("S{i}"), state)
            })
            .collect()
    }

    // Machines past SCAN_LIMIT find states through the index; small ones by
    // comparing names. Both must give the same machine and the same problems.
    #[test]
    fn large_and_small_machines_find_their_states() {
        for n in [3, crate::validate::SCAN_LIMIT, crate::validate::SCAN_LIMIT + 1, 40] {
            let def = json!({"StartAt": "S0", "States": chain(n)});
            let m = StateMachine::from_value(&def).unwrap();
            assert_eq!(m.state_names().count(), n);
            let last = format!("S{}", n - 1);
            assert_eq!(m.root.get(&last).map(|(name, _)| name), Some(last.as_str()), "{n} states");
            assert!(m.root.get("S-missing").is_none());

            let mut states = chain(n);
            states.insert("Orphan".into(), json!({"Type": "Succeed"}));
            states["S1"]["Next"] = json!("Nowhere");
            let got: Vec<String> =
                crate::validate(&json!({"StartAt": "S0", "States": states})).iter().map(ToString::to_string).collect();
            let mut want = vec![
                "/States/Orphan: state is unreachable from `StartAt`".to_string(),
                "/States/S1/Next: refers to unknown state `Nowhere`".to_string(),
            ];
            // S2… are cut off by the broken link.
            want.extend((2..n).map(|i| format!("/States/S{i}: state is unreachable from `StartAt`")));
            // Problems come sorted by pointer.
            want.sort_by(|a, b| a.split(": ").next().cmp(&b.split(": ").next()));
            assert_eq!(got, want, "{n} states");
        }
    }

    // AWS Step Functions: a DISTRIBUTED Map without ItemReader is accepted (run as plain iteration);
    // ItemReader/ResultWriter and JSONata are reported as not supported.
    #[test]
    fn distributed_map_and_jsonata_are_reported() {
        let def = json!({"StartAt": "M", "QueryLanguage": "JSONata", "States": {"M": {"Type": "Map", "End": true, "Assign": {},
            "ResultWriter": {},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
        let got: Vec<String> = crate::validate(&def).iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "/QueryLanguage: the JSONata query language is not supported yet (only JSONPath is)",
                "/States/M/ResultWriter: `ResultWriter` of the distributed Map (reading or writing S3) is not supported yet",
            ]
        );
    }
}
