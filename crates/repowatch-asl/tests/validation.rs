//! Definition validation: a table of broken definitions, each with the exact
//! pointer + message list expected (States Language: Structure of a State
//! Machine; State Types; Transitions; Errors).

use repowatch_asl::{StateMachine, validate};
use serde_json::{Value, json};

fn problems(def: &Value) -> Vec<String> {
    validate(def).iter().map(ToString::to_string).collect()
}

fn task(next: &str) -> Value {
    json!({"Type": "Task", "Resource": "r", "Next": next})
}

#[test]
fn broken_definitions_table() {
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        // States Language: Structure of a State Machine — must be an object with StartAt and States.
        ("not an object", json!([1]), vec!["(root): definition must be a JSON object"]),
        (
            "missing StartAt and States",
            json!({}),
            vec!["/StartAt: required field is missing", "/States: required field is missing"],
        ),
        (
            "StartAt not a string",
            json!({"StartAt": 1, "States": {"A": {"Type": "Succeed"}}}),
            vec!["/StartAt: must be a string"],
        ),
        // States Language: Transitions — StartAt must name a state.
        (
            "dangling StartAt",
            json!({"StartAt": "Nope", "States": {"A": {"Type": "Succeed"}}}),
            vec!["/StartAt: refers to unknown state `Nope`"],
        ),
        // States Language: Transitions — Next must name a state.
        (
            "dangling Next",
            json!({"StartAt": "Build", "States": {"Build": task("Deploy")}}),
            vec!["/States/Build/Next: refers to unknown state `Deploy`"],
        ),
        // States Language: Choice State — Default must name a state.
        (
            "dangling Default",
            json!({"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": true, "Next": "S"}], "Default": "Gone"},
                "S": {"Type": "Succeed"}}}),
            vec!["/States/C/Default: refers to unknown state `Gone`"],
        ),
        // States Language: Errors — a catcher's Next must name a state.
        (
            "dangling Catch Next",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": true,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}]}}}),
            vec!["/States/T/Catch/0/Next: refers to unknown state `H`"],
        ),
        // States Language: Transitions — every state must be reachable.
        (
            "unreachable state",
            json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "Orphan": {"Type": "Succeed"}}}),
            vec!["/States/Orphan: state is unreachable from `StartAt`"],
        ),
        // States Language: Transitions — Next and End together.
        (
            "Next with End",
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B", "End": true}, "B": {"Type": "Succeed"}}}),
            vec!["/States/A: `Next` and `End` are mutually exclusive"],
        ),
        // States Language: Transitions — a non-terminal state needs Next or End.
        (
            "neither Next nor End",
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}),
            vec!["/States/A: a non-terminal state needs `Next` or `\"End\": true`"],
        ),
        // States Language: State Types — unknown Type.
        (
            "unknown Type",
            json!({"StartAt": "A", "States": {"A": {"Type": "Lambda", "End": true}}}),
            vec!["/States/A/Type: unknown state type `Lambda`"],
        ),
        // States Language: Task State — Resource is required.
        (
            "missing Resource",
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}),
            vec!["/States/A/Resource: required field is missing"],
        ),
        // States Language: State Types — fields not defined for the type.
        (
            "unknown field",
            json!({"StartAt": "A", "States": {"A": {"Type": "Succeed", "Next": "A", "Bogus": 1}}}),
            vec![
                "/States/A/Bogus: unknown field for a Succeed state",
                "/States/A/Next: unknown field for a Succeed state",
            ],
        ),
        // States Language: Paths — paths must start with `$`.
        (
            "bad paths",
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "a", "ResultPath": "$$.x",
                "Parameters": {"p.$": "nope"}, "End": true}}}),
            vec![
                "/States/A/InputPath: invalid path `a`: must start with `$`",
                "/States/A/Parameters/p.$: invalid path `nope`: must start with `$`",
                "/States/A/ResultPath: invalid path `$$.x`: the context object `$$` cannot be used here",
            ],
        ),
        // States Language: Errors — Retry/Catch shape and numbers.
        (
            "retry and catch shape",
            json!({"StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": "r", "End": true, "TimeoutSeconds": 0,
                      "Retry": [{"ErrorEquals": ["States.ALL", "X"], "IntervalSeconds": 0, "BackoffRate": 0.5, "MaxAttempts": -1},
                                {"ErrorEquals": []}],
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}, {"ErrorEquals": ["X"], "Next": "H"}]},
                "H": {"Type": "Succeed"}}}),
            vec![
                "/States/T/Catch/0/ErrorEquals: a catcher with `States.ALL` must be the last one",
                "/States/T/Retry/0/BackoffRate: must be a number >= 1.0",
                "/States/T/Retry/0/ErrorEquals: `States.ALL` must appear alone in `ErrorEquals`",
                "/States/T/Retry/0/ErrorEquals: a retrier with `States.ALL` must be the last one",
                "/States/T/Retry/0/IntervalSeconds: must be an integer >= 1",
                "/States/T/Retry/0/MaxAttempts: must be a non-negative integer",
                "/States/T/Retry/1/ErrorEquals: must be a non-empty array of error names",
                "/States/T/TimeoutSeconds: must be an integer >= 1",
            ],
        ),
        // States Language: Wait State — exactly one of its four fields.
        (
            "wait with two fields",
            json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true}}}),
            vec![
                "/States/W: a Wait state needs exactly one of `Seconds`, `SecondsPath`, `Timestamp`, `TimestampPath` (found 2)",
            ],
        ),
        // States Language: Choice State — Choices required.
        (
            "choice without choices",
            json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Default": "S"}, "S": {"Type": "Succeed"}}}),
            vec!["/States/C/Choices: required field is missing"],
        ),
        // States Language: Map State / Parallel State — processor and branches required.
        (
            "map and parallel without bodies",
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "Next": "P"}, "P": {"Type": "Parallel", "End": true}}}),
            vec![
                "/States/M/ItemProcessor: required field is missing (or the legacy `Iterator`)",
                "/States/P/Branches: required field is missing",
            ],
        ),
        // States Language: Map State — nested machines are validated with full pointers.
        (
            "nested Map problem",
            json!({"StartAt": "Shards", "States": {"Shards": {"Type": "Map", "End": true, "MaxConcurrency": -2,
                "ItemProcessor": {"StartAt": "Detect", "States": {"Detect": task("Report"), "Lost": {"Type": "Succeed"}}}}}}),
            vec![
                "/States/Shards/ItemProcessor/States/Detect/Next: refers to unknown state `Report`",
                "/States/Shards/ItemProcessor/States/Lost: state is unreachable from `StartAt`",
                "/States/Shards/MaxConcurrency: must be a non-negative integer",
            ],
        ),
        // States Language: Parallel State — branches validated with full pointers; states of the outer machine are not visible.
        (
            "nested Parallel problem",
            json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Next": "Done", "Branches": [
                {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Done"}}}]}, "Done": {"Type": "Succeed"}}}),
            vec!["/States/P/Branches/0/States/X/Next: refers to unknown state `Done`"],
        ),
        // RFC 6901 escaping of state names in pointers.
        (
            "escaped names",
            json!({"StartAt": "a/b", "States": {"a/b": {"Type": "Task", "End": true}}}),
            vec!["/States/a~1b/Resource: required field is missing"],
        ),
        // States Language: Choice Rules — Next only on top-level rules; operator needed.
        (
            "choice rule problems",
            json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
                {"Not": {"Variable": "$.a", "IsNull": true, "Next": "S"}, "Next": "S"},
                {"Variable": "$.a", "Next": "S"}]}, "S": {"Type": "Succeed"}}}),
            vec![
                "/States/C/Choices/0/Not/Next: `Next` is only allowed on top-level choice rules",
                "/States/C/Choices/1: a choice rule needs exactly one of `And`, `Or`, `Not` or a comparison operator",
            ],
        ),
    ];
    for (name, def, want) in cases {
        let got = problems(&def);
        assert_eq!(got, want, "case `{name}`");
        let err = StateMachine::from_value(&def).unwrap_err();
        assert_eq!(err.problems.len(), want.len(), "case `{name}`");
    }
}

// A valid definition has no problems and parses.
#[test]
fn valid_definition_parses() {
    let def = json!({
        "Comment": "pipeline", "StartAt": "Scan", "TimeoutSeconds": 3600,
        "States": {
            "Scan": {"Type": "Task", "Resource": "arn:scan", "Next": "Shards",
                     "Retry": [{"ErrorEquals": ["States.TaskFailed"], "JitterStrategy": "FULL", "MaxDelaySeconds": 10}]},
            "Shards": {"Type": "Map", "ItemsPath": "$.shards", "MaxConcurrency": 4, "Next": "Both",
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Detect",
                    "States": {"Detect": {"Type": "Task", "Resource": "arn:detect", "End": true}}}},
            "Both": {"Type": "Parallel", "Next": "Check", "Branches": [
                {"StartAt": "N", "States": {"N": {"Type": "Task", "Resource": "arn:notify", "End": true}}},
                {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}}]},
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": true, "Next": "Done"}], "Default": "Failed"},
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "Pipeline.Failed", "Cause": "not ok"}
        }
    });
    assert_eq!(problems(&def), Vec::<String>::new());
    let m = StateMachine::from_value(&def).unwrap();
    assert_eq!(m.start_at(), "Scan");
    assert_eq!(m.state_names().count(), 6);
    assert_eq!(m.task_resources(), ["arn:detect", "arn:notify", "arn:scan"]);
}

// from_json_str reports non-JSON text with line and column.
#[test]
fn json_syntax_error() {
    let err = StateMachine::from_json_str("{\n  \"StartAt\": \n}").unwrap_err();
    let syntax = err.parse_error.clone().unwrap();
    assert_eq!(syntax.line, 3);
    assert!(err.to_string().contains("line 3"), "{err}");
}

// substitute + validate: unknown placeholders stay and are still checked.
#[test]
fn substitution_then_validation() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${Fn}", "Next": "${Missing}"}}});
    let subs = std::collections::BTreeMap::from([("Fn".to_string(), "arn:fn".to_string())]);
    let out = repowatch_asl::substitute(&def, &subs);
    assert_eq!(out["States"]["A"]["Resource"], json!("arn:fn"));
    assert_eq!(problems(&out), ["/States/A/Next: refers to unknown state `${Missing}`"]);
}

/// States Language: Intrinsic Functions — a malformed call is rejected when the
/// definition is loaded, at the pointer of its `.$` field (AWS refuses to create
/// such a state machine).
#[test]
fn bad_intrinsic_calls_are_definition_errors() {
    for (expr, needle) in [("States.Frobnicate($.a)", "States.Frobnicate"), ("States.Format('x {}'", "")] {
        let def = serde_json::json!({
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "Parameters": {"v.$": expr}, "End": true}}
        });
        let problems = repowatch_asl::validate(&def);
        assert_eq!(problems.len(), 1, "{expr}: {problems:?}");
        assert_eq!(problems[0].pointer, "/States/P/Parameters/v.$", "{expr}");
        assert!(problems[0].message.contains(needle), "{expr}: {}", problems[0].message);
    }
}
