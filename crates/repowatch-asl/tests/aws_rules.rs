//! Rules that make the interpreter give AWS Step Functions' exact answers.
//! Each test names where the rule comes from: a States Language / AWS
//! documentation section, or "observed on AWS in the conformance corpus"
//! (../shared/asl-conformance, executions recorded against real AWS).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{machine, run, start};
use repowatch_asl::{ExecutionOptions, ExecutionStatus, ExecutionType, FakeClock, execute};
use serde_json::{Value, json};
use std::sync::Arc;

fn located(state: &str, id: u64, message: &str) -> String {
    format!("An error occurred while executing the state '{state}' (entered at the event id #{id}). {message}")
}

async fn failed(def: Value, input: Value) -> (String, String) {
    let (exec, _) = run(def, input).await;
    assert_eq!(exec.status, ExecutionStatus::Failed, "{:?}", exec.output);
    (exec.error.unwrap_or_default(), exec.cause.unwrap_or_default())
}

fn wait_path(field: &str) -> Value {
    json!({"StartAt": "W", "States": {"W": {"Type": "Wait", field: "$.v", "End": true}}})
}

// Observed on AWS in the conformance corpus (test_wait.py): SecondsPath checks and their messages,
// located at the state and its entered event id.
#[tokio::test]
async fn wait_seconds_path_messages() {
    let def = wait_path("SecondsPath");
    let cases = [
        (json!({"v": -1}), "The SecondsPath parameter references a negative value: $.v == -1"),
        (json!({"v": 1.5}), "The SecondsPath parameter cannot be parsed as a long value: $.v == 1.5"),
        (json!({"v": -1.5}), "The SecondsPath parameter cannot be parsed as a long value: $.v == -1.5"),
        (json!({}), "The SecondsPath parameter does not reference an input value: $.v"),
    ];
    for (input, message) in cases {
        let (error, cause) = failed(def.clone(), input).await;
        assert_eq!(error, "States.Runtime");
        assert_eq!(cause, located("W", 2, message));
    }
    let (exec, _) = run(def, json!({"v": 0})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
}

// Observed on AWS in the conformance corpus: TimestampPath needs an ISO-8601 extended offset
// date-time (no space, offset required); a past time does not wait.
#[tokio::test]
async fn wait_timestamp_path_format() {
    let def = wait_path("TimestampPath");
    for bad in [
        "2016-12-05 21:29:29Z",
        "2016-12-05T21:29:29",
        "2016-13-05T21:29:29Z",
        "2016-12-05T25:29:29Z",
        "05-12-2016T21:29:29Z",
    ] {
        let (error, cause) = failed(def.clone(), json!({"v": bad})).await;
        assert_eq!(error, "States.Runtime");
        assert_eq!(
            cause,
            located(
                "W",
                2,
                &format!(
                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.v == {bad}"
                )
            )
        );
    }
    for good in ["2016-12-05T21:29:29Z", "2016-12-05T21:29:29.000000Z", "2016-12-05T21:29:29.00+01:00"] {
        let (exec, _) = run(def.clone(), json!({"v": good})).await;
        assert_eq!(exec.status, ExecutionStatus::Succeeded, "{good}: {:?}", exec.cause);
        assert_eq!(exec.stopped_at, start(), "a past timestamp does not wait");
    }
}

// Observed on AWS in the conformance corpus (test_timestamp_too_far_in_future_boundary):
// 24,855 days pass, 24,856 days fail — the limit is 2^31 seconds.
#[tokio::test]
async fn wait_delay_limit() {
    let def = wait_path("TimestampPath");
    let at = |days: i64| (start() + jiff::SignedDuration::from_hours(24 * days)).to_string();
    let (exec, _) = run(def.clone(), json!({"v": at(24_855)})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    let (error, cause) = failed(def, json!({"v": at(24_856)})).await;
    assert_eq!((error.as_str(), cause), ("States.Runtime", located("W", 2, "Wait state delay is too long.")));
}

// Observed on AWS in the conformance corpus (test_invalid_jsonpath): InputPath/OutputPath that select
// nothing, and ErrorPath/CausePath that select nothing, with AWS's wording.
#[tokio::test]
async fn missing_path_messages() {
    let pass =
        |field: &str| json!({"StartAt": "pass", "States": {"pass": {"Type": "Pass", field: "$.Nope", "End": true}}});
    let message = "Invalid path '$.Nope' : No results for path: $['Nope']";
    assert_eq!(failed(pass("InputPath"), json!({})).await.1, located("pass", 2, message));
    assert_eq!(failed(pass("OutputPath"), json!({})).await.1, located("pass", 2, message));
    let def = json!({"StartAt": "pass", "States": {
        "pass": {"Type": "Pass", "Next": "fail"},
        "fail": {"Type": "Fail", "ErrorPath": "$.ErrorX"}}});
    let (error, cause) = failed(def, json!({"a": 0})).await;
    assert_eq!(error, "States.Runtime");
    assert_eq!(
        cause,
        located(
            "fail",
            4,
            "The JSONPath '$.ErrorX' specified for the field 'ErrorPath' could not be found in the input '{\"a\":0}'"
        )
    );
}

// Observed on AWS in the conformance corpus (test_start_large_input): the state output limit message.
#[tokio::test]
async fn data_limit_message() {
    let big = "a".repeat(262_144);
    let def = json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "Result": {"Arg1": big}, "End": true}}});
    let (error, cause) = failed(def, json!({})).await;
    assert_eq!(error, "States.DataLimitExceeded");
    assert_eq!(
        cause,
        "The state/task 'S' returned a result with a size exceeding the maximum number of bytes service limit."
    );
}

// Observed on AWS in the conformance corpus (test_service_task_lambada_catch_state_all_data_limit_exceeded…):
// States.ALL catches a States.DataLimitExceeded that a Task's resource reported.
#[tokio::test]
async fn states_all_catches_task_data_limit() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "fail:States.DataLimitExceeded",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}], "End": true},
        "H": {"Type": "Pass", "End": true}}});
    let (exec, _) = run(def, json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    assert_eq!(
        exec.output,
        Some(json!({"Error": "States.DataLimitExceeded", "Cause": "States.DataLimitExceeded happened"}))
    );
}

// Observed on AWS in the conformance corpus (test_invoke_timeout, test_fixed_timeout_lambda): a Task
// timeout has no cause — caught it is "Cause": "", uncaught the execution has none.
#[tokio::test]
async fn task_timeout_has_no_cause() {
    let task = json!({"Type": "Task", "Resource": "sleep:60", "TimeoutSeconds": 5, "End": true});
    let (exec, _) = run(json!({"StartAt": "T", "States": {"T": task}}), json!({})).await;
    assert_eq!((exec.error.as_deref(), exec.cause.as_deref()), (Some("States.Timeout"), None));
    let mut caught = task;
    caught["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "Next": "H"}]);
    let def = json!({"StartAt": "T", "States": {"T": caught, "H": {"Type": "Pass", "End": true}}});
    let (exec, _) = run(def, json!({})).await;
    assert_eq!(exec.output, Some(json!({"Error": "States.Timeout", "Cause": ""})));
}

// AWS Step Functions, "Passing data between states with variables": Assign sets variables when the
// state is done; `$` in a Pass state's Assign is its result; InputPath/OutputPath of the same state
// still read the old values (observed on AWS: BASE_EVALUATION_ORDER_PASS_STATE).
#[tokio::test]
async fn assign_evaluation_order() {
    let def = json!({"StartAt": "S0", "States": {
        "S0": {"Type": "Pass", "Result": {"q": "why"}, "Assign": {"answer": 42, "question.$": "$.q"}, "Next": "S1"},
        "S1": {"Type": "Pass", "Assign": {"answer": "later"}, "InputPath": "$answer", "ResultPath": "$.r",
               "OutputPath": "$answer", "Next": "S2"},
        "S2": {"Type": "Pass", "Parameters": {"a.$": "$answer", "q.$": "$question", "lit": "$answer"}, "End": true}}});
    let (exec, _) = run(def, json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(exec.output, Some(json!({"a": "later", "q": "why", "lit": "$answer"})));
}

// AWS variables: `$name` in Choice Variable/…Path, Wait SecondsPath/TimestampPath and Fail ErrorPath/CausePath
// (observed on AWS: BASE_REFERENCE_IN_CHOICE, _IN_WAIT, _IN_FAIL).
#[tokio::test]
async fn variables_in_choice_wait_and_fail() {
    let def = json!({"StartAt": "Setup", "States": {
        "Setup": {"Type": "Pass", "Assign": {"answer": "a", "guess": "b", "wait": 3, "err": "E", "cause": "C"}, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$guess", "StringEqualsPath": "$answer", "Next": "W"}],
                  "Default": "Wrong"},
        "Wrong": {"Type": "Pass", "Assign": {"guess.$": "$answer"}, "Next": "Check"},
        "W": {"Type": "Wait", "SecondsPath": "$wait", "Next": "F"},
        "F": {"Type": "Fail", "ErrorPath": "$err", "CausePath": "$cause"}}});
    let (exec, _) = run(def, json!({})).await;
    assert_eq!((exec.error.as_deref(), exec.cause.as_deref()), (Some("E"), Some("C")));
    assert_eq!(exec.stopped_at, start() + jiff::SignedDuration::from_secs(3));
}

// AWS variables: Map iterations and Parallel branches read the enclosing scope's variables; a
// Choice rule's Assign applies when the rule matches; a Catch's Assign sees the error output.
#[tokio::test]
async fn variable_scopes_choice_and_catch_assign() {
    let def = json!({"StartAt": "Start", "States": {
        "Start": {"Type": "Pass", "Assign": {"list": [1, 2], "q": "Q"}, "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$list", "ItemSelector": {"v.$": "$$.Map.Item.Value", "q.$": "$q"},
              "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$.v", "q.$": "$q"}, "End": true}}},
              "ResultPath": "$.items", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$q", "StringEquals": "Q", "Assign": {"picked": "rule"}, "Next": "T"}],
              "Default": "T"},
        "T": {"Type": "Task", "Resource": "fail:Boom", "ResultPath": "$.r",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"error.$": "$.Error"}, "ResultPath": "$.err", "Next": "End"}],
              "End": true},
        "End": {"Type": "Pass", "Parameters": {"items.$": "$.items", "picked.$": "$picked", "error.$": "$error"}, "End": true}}});
    let (exec, _) = run(def, json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    let out = exec.output.unwrap();
    assert_eq!(out["picked"], json!("rule"));
    assert_eq!(out["error"], json!("Boom"));
    assert_eq!(out["items"][0], json!({"v": 1, "q": "Q"}));
}

// Observed on AWS in the conformance corpus (test_max_concurrency_path, test_map_state_tolerated_failure_*):
// MaxConcurrencyPath / ToleratedFailurePercentagePath checks and messages.
#[tokio::test]
async fn map_path_field_messages() {
    let map = |field: &str| {
        json!({"StartAt": "MapState", "States": {"MapState": {"Type": "Map", "ItemsPath": "$.Items", field: "$.X",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}})
    };
    let (_, cause) = failed(map("MaxConcurrencyPath"), json!({"Items": [0], "X": "NoNumber"})).await;
    assert_eq!(
        cause,
        located(
            "MapState",
            2,
            "The MaxConcurrencyPath field refers to value \"NoNumber\" which is not a valid integer: $.X"
        )
    );
    let (_, cause) = failed(map("ToleratedFailurePercentagePath"), json!({"Items": [0], "X": {}})).await;
    assert_eq!(
        cause,
        located(
            "MapState",
            2,
            "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: $.X"
        )
    );
    for bad in [json!(-1), json!(100.1)] {
        let (_, cause) = failed(map("ToleratedFailurePercentagePath"), json!({"Items": [0], "X": bad})).await;
        assert_eq!(cause, located("MapState", 2, "ToleratedFailurePercentage must be between 0 and 100."));
    }
    for good in [json!(0), json!(1.1), json!(100), json!("1")] {
        let (exec, _) = run(map("ToleratedFailurePercentagePath"), json!({"Items": [0], "X": good})).await;
        assert_eq!(exec.output, Some(json!([0])));
    }
}

// AWS Map state (Distributed mode): failures up to ToleratedFailureCount are tolerated; more fail
// the Map with States.ExceedToleratedFailureThreshold. ItemBatcher groups items into {"Items": […]}.
#[tokio::test]
async fn tolerated_failures_and_batches() {
    let map = |count: u64| {
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailureCount": count, "Label": "L",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "T",
                "States": {"T": {"Type": "Task", "Resource": "fail-if:2", "End": true}}}, "End": true}}})
    };
    let (exec, _) = run(map(1), json!([1, 2, 3])).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(exec.output.unwrap()[0], json!(1));
    let (error, _) = failed(map(0), json!([1, 2, 3])).await;
    assert_eq!(error, "States.ExceedToleratedFailureThreshold");
    let batched = json!({"StartAt": "M", "States": {"M": {"Type": "Map",
        "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"k": 1}},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}});
    let (exec, _) = run(batched, json!([1, 2, 3])).await;
    assert_eq!(
        exec.output,
        Some(json!([{"Items": [1, 2], "BatchInput": {"k": 1}}, {"Items": [3], "BatchInput": {"k": 1}}]))
    );
}

// AWS Step Functions, "Accessing execution data from the Context object": Execution.RoleArn;
// RedriveCount only for STANDARD; State.RetryCount only in states that retry (observed on AWS:
// a Pass state's $$.State is {EnteredTime, Name}); EXPRESS execution ids are
// arn:…:express:<machine>:<name>:<id>.
#[tokio::test]
async fn context_object_shapes() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"c.$": "$$"}, "ResultPath": "$.p", "Next": "T"},
        "T": {"Type": "Task", "Resource": "echo", "Parameters": {"s.$": "$$.State"}, "ResultPath": "$.t", "End": true}}});
    for (kind, id_part, redrive) in
        [(ExecutionType::Standard, ":execution:SM:e1", true), (ExecutionType::Express, ":express:SM:e1:", false)]
    {
        let clock = Arc::new(FakeClock::new(start()));
        let invoker = common::TestInvoker::new(clock.clone());
        let options = ExecutionOptions {
            name: "e1".into(),
            state_machine_name: "SM".into(),
            execution_type: kind,
            region: "us-east-1".into(),
            account_id: "111111111111".into(),
            role_arn: "arn:aws:iam::111111111111:role/r".into(),
            ..ExecutionOptions::default()
        };
        let exec = execute(&machine(def.clone()), json!({}), &invoker, &*clock, options).await;
        let out = exec.output.unwrap();
        let ctx = &out["p"]["c"];
        assert!(
            ctx["Execution"]["Id"]
                .as_str()
                .unwrap()
                .starts_with(&format!("arn:aws:states:us-east-1:111111111111{id_part}"))
        );
        assert_eq!(ctx["Execution"]["RoleArn"], json!("arn:aws:iam::111111111111:role/r"));
        assert_eq!(ctx["Execution"].get("RedriveCount").is_some(), redrive);
        assert_eq!(ctx["StateMachine"]["Id"], json!("arn:aws:states:us-east-1:111111111111:stateMachine:SM"));
        assert!(ctx["State"].get("RetryCount").is_none());
        assert_eq!(out["t"]["s"]["RetryCount"], json!(0));
    }
}
