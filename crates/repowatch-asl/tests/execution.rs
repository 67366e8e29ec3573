//! End-to-end execution tests; each names the States Language section it checks.

mod common;

use common::{run, start, types};
use repowatch_asl::{ExecutionOptions, ExecutionStatus, FakeClock, StateMachine, execute};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

// States Language: Pass State — Result and ResultPath.
#[tokio::test]
async fn pass_result_and_result_path() {
    let (exec, _) = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r", "End": true}}}),
        json!({"a": 0}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    assert_eq!(exec.output, Some(json!({"a": 0, "r": {"x": 1}})));
    assert_eq!(types(&exec), ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]);
    assert_eq!(exec.history[1].previous_event_id, Some(1));
    assert_eq!(exec.history[1].state_name.as_deref(), Some("P"));
}

// States Language: Pass State — Parameters with `.$` and the context object.
#[tokio::test]
async fn pass_parameters_and_context_object() {
    let (exec, _) = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
            "v.$": "$.a[1]", "q.$": "$['odd key']", "lit": "x",
            "exec.$": "$$.Execution.Name", "id.$": "$$.Execution.Id", "input.$": "$$.Execution.Input.a",
            "start.$": "$$.Execution.StartTime", "state.$": "$$.State.Name", "entered.$": "$$.State.EnteredTime",
            "sm.$": "$$.StateMachine.Id"
        }, "End": true}}}),
        json!({"a": [1, 2], "odd key": true}),
    )
    .await;
    assert_eq!(
        exec.output,
        Some(json!({
            "v": 2, "q": true, "lit": "x", "exec": "exec-1",
            "id": "arn:aws:states:local:000000000000:execution:Pipeline:exec-1", "input": [1, 2],
            "start": "2024-01-01T00:00:00Z", "state": "P", "entered": "2024-01-01T00:00:00Z",
            "sm": "arn:aws:states:local:000000000000:stateMachine:Pipeline"
        }))
    );
}

// States Language: Context Object — `$$.Task.Token` is absent (no callback pattern): ParameterPathFailure.
#[tokio::test]
async fn task_token_is_absent() {
    let (exec, _) = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"t.$": "$$.Task.Token"}, "End": true}}}),
        json!({}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(exec.error.as_deref(), Some("States.ParameterPathFailure"));
}

// States Language: Input and Output Processing — InputPath, Parameters, ResultSelector, ResultPath, OutputPath in order.
#[tokio::test]
async fn task_full_data_flow() {
    let (exec, invoker) = run(
        json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "const:{\"body\":{\"n\":5},\"noise\":1}",
            "InputPath": "$.in", "Parameters": {"x.$": "$.x", "fixed": 1},
            "ResultSelector": {"n.$": "$.body.n"}, "ResultPath": "$.result", "OutputPath": "$.result", "End": true}}}),
        json!({"in": {"x": 7}, "other": true}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(invoker.inputs(), [json!({"x": 7, "fixed": 1})]);
    assert_eq!(exec.output, Some(json!({"n": 5})));
    assert_eq!(
        types(&exec),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
}

// States Language: Input and Output Processing — ResultPath null keeps the input; `$` replaces it; InputPath/OutputPath null give {}.
#[tokio::test]
async fn result_path_null_and_root() {
    let (exec, _) = run(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "const:1", "ResultPath": null, "Next": "B"},
            "B": {"Type": "Task", "Resource": "const:{\"r\":2}", "ResultPath": "$", "Next": "C"},
            "C": {"Type": "Pass", "InputPath": null, "ResultPath": "$.seen", "Next": "D"},
            "D": {"Type": "Pass", "OutputPath": null, "End": true}}}),
        json!({"keep": 1}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(exec.output, Some(json!({})));
    let c_exit = exec
        .history
        .iter()
        .find(|e| e.state_name.as_deref() == Some("C") && e.details.get("output").is_some())
        .unwrap();
    let output: serde_json::Value = serde_json::from_str(c_exit.details["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!({"r": 2, "seen": {}}));
}

// States Language: Errors — States.ResultPathMatchFailure when ResultPath cannot be applied.
#[tokio::test]
async fn result_path_match_failure() {
    let (exec, _) = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": true}}}),
        json!({"a": "scalar"}),
    )
    .await;
    assert_eq!(exec.error.as_deref(), Some("States.ResultPathMatchFailure"));
}

// States Language: Errors — a bad InputPath is States.Runtime, which Catch on States.ALL does not catch.
#[tokio::test]
async fn runtime_error_is_not_caught_by_states_all() {
    let (exec, _) = run(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "echo", "InputPath": "$.missing", "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
            "F": {"Type": "Succeed"}}}),
        json!({}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(exec.error.as_deref(), Some("States.Runtime"));
}

// Intrinsic functions (AWS: "Intrinsic functions for JSONPath states"): evaluated in
// Parameters; a path argument that selects nothing is States.Runtime with AWS's cause.
#[tokio::test]
async fn intrinsic_gives_runtime_error() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"s.$": "States.Format('x{}', $.a)"}, "End": true}}});
    let (exec, _) = run(def.clone(), json!({"a": 1})).await;
    assert_eq!(exec.output, Some(json!({"s": "x1"})));
    let (exec, _) = run(def, json!({"b": 1})).await;
    assert_eq!(exec.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        exec.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'P' (entered at the event id #2). The function 'States.Format('x{}', $.a)' had the following error: The JsonPath argument for the field '$.a' could not be found in the input '{\"b\":1}'"
        )
    );
}

// States Language: Choice State — rules, Default, and States.NoChoiceMatched.
#[tokio::test]
async fn choice_routes_and_defaults() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
            {"And": [{"Variable": "$.s", "IsPresent": true}, {"Variable": "$.s", "StringEquals": "x"}], "Next": "X"}
        ], "Default": "Other"},
        "Big": {"Type": "Pass", "Result": "big", "End": true},
        "X": {"Type": "Pass", "Result": "x", "End": true},
        "Other": {"Type": "Pass", "Result": "other", "End": true}}});
    for (input, want) in [(json!({"n": 11}), "big"), (json!({"n": 1, "s": "x"}), "x"), (json!({"n": 1}), "other")] {
        let (exec, _) = run(def.clone(), input).await;
        assert_eq!(exec.output, Some(json!(want)));
    }
    let (exec, _) = run(
        json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "IsNull": true, "Next": "D"}]}, "D": {"Type": "Succeed"}}}),
        json!({"n": 1}),
    )
    .await;
    assert_eq!(exec.error.as_deref(), Some("States.NoChoiceMatched"));
    assert!(types(&exec).contains(&"ChoiceStateEntered".to_string()));
}

// States Language: Wait State — Seconds, SecondsPath, Timestamp, TimestampPath wait on the clock.
#[tokio::test]
async fn wait_variants_use_the_clock() {
    let (exec, _) = run(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Wait", "Seconds": 5, "Next": "B"},
            "B": {"Type": "Wait", "SecondsPath": "$.s", "Next": "C"},
            "C": {"Type": "Wait", "Timestamp": "2024-01-01T00:01:00Z", "Next": "D"},
            "D": {"Type": "Wait", "TimestampPath": "$.ts", "End": true}}}),
        json!({"s": 10, "ts": "2024-01-01T00:02:00Z"}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(exec.stopped_at.duration_since(exec.started_at).as_secs(), 120);
    let (exec, _) = run(
        json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}}),
        json!({"s": "soon"}),
    )
    .await;
    assert_eq!(exec.error.as_deref(), Some("States.Runtime"));
}

// States Language: Succeed State and Fail State (Error, Cause; ErrorPath, CausePath).
#[tokio::test]
async fn succeed_and_fail() {
    let (exec, _) =
        run(json!({"StartAt": "S", "States": {"S": {"Type": "Succeed", "OutputPath": "$.a"}}}), json!({"a": 3})).await;
    assert_eq!(exec.output, Some(json!(3)));
    let (exec, _) = run(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Broke", "Cause": "because"}}}),
        json!({}),
    )
    .await;
    assert_eq!(
        (exec.status, exec.error.as_deref(), exec.cause.as_deref()),
        (ExecutionStatus::Failed, Some("Broke"), Some("because"))
    );
    assert_eq!(types(&exec).last().map(String::as_str), Some("ExecutionFailed"));
    let (exec, _) = run(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}}}),
        json!({"e": "E", "c": "C"}),
    )
    .await;
    assert_eq!((exec.error.as_deref(), exec.cause.as_deref()), (Some("E"), Some("C")));
}

// States Language: Errors — Retrying after an error: IntervalSeconds 2, BackoffRate 2, MaxAttempts 3 → waits 2, 4, 8.
#[tokio::test]
async fn retry_backoff_on_fake_clock() {
    let (exec, invoker) = run(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "fail:Boom", "End": true,
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 3}]}}}),
        json!({}),
    )
    .await;
    assert_eq!(exec.error.as_deref(), Some("Boom"));
    assert_eq!(exec.cause.as_deref(), Some("Boom happened"));
    assert_eq!(invoker.attempts(), [0, 1, 2, 3]);
    assert_eq!(invoker.clock.sleeps(), [2, 4, 8].map(Duration::from_secs));
    assert_eq!(exec.stopped_at.duration_since(exec.started_at).as_secs(), 14);
}

// States Language: Errors — defaults (IntervalSeconds 1, MaxAttempts 3, BackoffRate 2.0), MaxDelaySeconds cap, success after retries.
#[tokio::test]
async fn retry_defaults_cap_and_recovery() {
    let (exec, invoker) = run(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "fail:X", "End": true,
            "Retry": [{"ErrorEquals": ["States.ALL"], "MaxDelaySeconds": 3}]}}}),
        json!({}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(invoker.clock.sleeps(), [1, 2, 3].map(Duration::from_secs));
    let (exec, invoker) = run(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "flaky:2", "End": true,
            "Retry": [{"ErrorEquals": ["States.TaskFailed"]}]}}}),
        json!({}),
    )
    .await;
    assert_eq!(exec.output, Some(json!({"ok": 2})));
    assert_eq!(invoker.attempts(), [0, 1, 2]);
    // MaxAttempts 0: never retried.
    let (exec, invoker) = run(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "flaky:1", "End": true,
            "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 0}]}}}),
        json!({}),
    )
    .await;
    assert_eq!(exec.error.as_deref(), Some("Flaky"));
    assert_eq!(invoker.attempts(), [0]);
}

// States Language: Errors — JitterStrategy FULL: each wait within [0, backoff delay].
#[tokio::test]
async fn retry_full_jitter_bounds() {
    let (_, invoker) = run(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "fail:Boom", "End": true,
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 3, "JitterStrategy": "FULL"}]}}}),
        json!({}),
    )
    .await;
    let sleeps = invoker.clock.sleeps();
    assert_eq!(sleeps.len(), 3);
    for (got, cap) in sleeps.iter().zip([2, 4, 8]) {
        assert!(*got <= Duration::from_secs(cap), "{got:?} > {cap}");
    }
}

// States Language: Errors — Fallback states: Catch routing, ResultPath of the error output, first matching catcher wins.
#[tokio::test]
async fn catch_routes_with_error_output() {
    let (exec, _) = run(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "fail:Custom", "End": true, "Catch": [
                {"ErrorEquals": ["Other"], "Next": "Wrong"},
                {"ErrorEquals": ["Custom"], "ResultPath": "$.err", "Next": "Handler"},
                {"ErrorEquals": ["States.ALL"], "Next": "Wrong"}]},
            "Wrong": {"Type": "Fail", "Error": "Wrong"},
            "Handler": {"Type": "Pass", "End": true}}}),
        json!({"keep": true}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    assert_eq!(exec.output, Some(json!({"keep": true, "err": {"Error": "Custom", "Cause": "Custom happened"}})));
    // ResultPath default `$`: the error object replaces the input.
    let (exec, _) = run(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "fail:E", "End": true, "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "H"}]},
            "H": {"Type": "Succeed"}}}),
        json!({"keep": true}),
    )
    .await;
    assert_eq!(exec.output, Some(json!({"Error": "E", "Cause": "E happened"})));
}

// States Language: Errors — retries are exhausted before Catch applies.
#[tokio::test]
async fn retry_then_catch() {
    let (exec, invoker) = run(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "fail:E", "End": true,
                  "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 2}],
                  "Catch": [{"ErrorEquals": ["E"], "ResultPath": null, "Next": "H"}]},
            "H": {"Type": "Succeed"}}}),
        json!({"in": 1}),
    )
    .await;
    assert_eq!(exec.output, Some(json!({"in": 1})));
    assert_eq!(invoker.attempts(), [0, 1, 2]);
}

// States Language: Task State — TimeoutSeconds: States.Timeout when the task runs longer (virtual time).
#[tokio::test]
async fn task_timeout() {
    let (exec, _) = run(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "sleep:10", "TimeoutSeconds": 5, "End": true}}}),
        json!({}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(exec.error.as_deref(), Some("States.Timeout"));
    assert!(types(&exec).contains(&"TaskTimedOut".to_string()));
    // States.TaskFailed does not match States.Timeout; naming it does.
    let (exec, _) = run(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "sleep:10", "TimeoutSeconds": 5, "End": true, "Catch": [
                {"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"}, {"ErrorEquals": ["States.Timeout"], "Next": "Ok"}]},
            "Wrong": {"Type": "Fail"}, "Ok": {"Type": "Succeed"}}}),
        json!({}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    let (exec, _) = run(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "sleep:3", "TimeoutSeconds": 5, "End": true}}}),
        json!({}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
}

// States Language: Top-level fields — TimeoutSeconds of the machine: the execution times out.
#[tokio::test]
async fn machine_timeout() {
    let (exec, _) = run(
        json!({"StartAt": "W", "TimeoutSeconds": 30, "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}),
        json!({}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::TimedOut);
    assert_eq!(exec.error.as_deref(), Some("States.Timeout"));
    assert_eq!(types(&exec).last().map(String::as_str), Some("ExecutionTimedOut"));
    assert_eq!(serde_json::to_value(exec.status).unwrap(), json!("TIMED_OUT"));
}

// States Language: Map State — ItemsPath, ItemSelector with $$.Map.Item, ResultPath; results in item order.
#[tokio::test]
async fn map_item_selector_and_order() {
    let (exec, _) = run(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
            "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "shared.$": "$.shared"},
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "echo", "End": true}}},
            "ResultPath": "$.out", "End": true}}}),
        json!({"items": ["a", "b", "c"], "shared": 1}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    let out = exec.output.clone().unwrap();
    assert_eq!(
        out["out"],
        json!([{"i": 0, "v": "a", "shared": 1}, {"i": 1, "v": "b", "shared": 1}, {"i": 2, "v": "c", "shared": 1}])
    );
    let t = types(&exec);
    assert_eq!(t.iter().filter(|x| *x == "MapIterationStarted").count(), 3);
    assert_eq!(t.iter().filter(|x| *x == "MapIterationSucceeded").count(), 3);
    assert!(t.contains(&"MapStateExited".to_string()));
}

// States Language: Map State — legacy Iterator and Parameters.
#[tokio::test]
async fn map_legacy_iterator_parameters() {
    let (exec, _) = run(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map",
            "Parameters": {"x.$": "$$.Map.Item.Value"},
            "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}),
        json!([1, 2]),
    )
    .await;
    assert_eq!(exec.output, Some(json!([{"x": 1}, {"x": 2}])));
}

async fn max_in_flight(max_concurrency: u64, items: usize) -> usize {
    let (exec, invoker) = run(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": max_concurrency,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "track", "End": true}}}, "End": true}}}),
        Value::Array((0..items).map(|i| json!(i)).collect()),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    assert_eq!(exec.output, Some(Value::Array((0..items).map(|i| json!(i)).collect())));
    invoker.max_in_flight.load(Ordering::SeqCst)
}

// States Language: Map State — MaxConcurrency bounds concurrent iterations (0 = unlimited).
#[tokio::test]
async fn map_max_concurrency_bounds_in_flight() {
    assert_eq!(max_in_flight(2, 6).await, 2);
    assert_eq!(max_in_flight(1, 4).await, 1);
    assert_eq!(max_in_flight(0, 5).await, 5);
}

// States Language: Map State — a failed iteration fails the Map with its error; Catch on the Map applies.
#[tokio::test]
async fn map_iteration_failure_fails_map() {
    let def = |catch: bool| {
        let mut m = json!({"Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "fail-if:2", "End": true}}}, "End": true});
        if catch {
            m["Catch"] = json!([{"ErrorEquals": ["Bad"], "Next": "H"}]);
        }
        json!({"StartAt": "M", "States": {"M": m, "H": {"Type": "Pass", "End": true}}})
    };
    let mut plain = def(false);
    plain["States"].as_object_mut().unwrap().remove("H");
    let (exec, _) = run(plain, json!([1, 2, 3])).await;
    assert_eq!(exec.error.as_deref(), Some("Bad"));
    let t = types(&exec);
    assert!(t.contains(&"MapIterationFailed".to_string()) && t.contains(&"MapStateFailed".to_string()));
    let (exec, _) = run(def(true), json!([1, 2, 3])).await;
    assert_eq!(exec.output, Some(json!({"Error": "Bad", "Cause": "bad item"})));
}

// States Language: Map State — ItemsPath must select an array.
#[tokio::test]
async fn map_items_not_array() {
    let (exec, _) = run(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.x",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}),
        json!({"x": 1}),
    )
    .await;
    assert_eq!(exec.error.as_deref(), Some("States.Runtime"));
}

// States Language: Parallel State — branches get the same input; result is the array of outputs; ResultSelector applies.
#[tokio::test]
async fn parallel_branches() {
    let (exec, _) = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "sleep:2", "OutputPath": "$.v", "End": true}}}
        ], "ResultSelector": {"first.$": "$[0]", "second.$": "$[1]"}, "ResultPath": "$.r", "End": true}}}),
        json!({"v": 9}),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(exec.output, Some(json!({"v": 9, "r": {"first": "a", "second": 9}})));
    let t = types(&exec);
    assert!(t.contains(&"ParallelStateEntered".to_string()) && t.contains(&"ParallelStateSucceeded".to_string()));
}

// States Language: Parallel State — a failing branch fails the Parallel; Retry on the Parallel re-runs it.
#[tokio::test]
async fn parallel_branch_failure_and_retry() {
    let (exec, invoker) = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "fail:Broken", "End": true}}}
        ], "Retry": [{"ErrorEquals": ["Broken"], "MaxAttempts": 1}], "End": true}}}),
        json!({}),
    )
    .await;
    assert_eq!(exec.error.as_deref(), Some("Broken"));
    assert_eq!(invoker.calls.lock().unwrap().len(), 2);
    assert!(types(&exec).contains(&"ParallelStateFailed".to_string()));
}

// States Language: Transitions — the max_transitions guard stops an endless Pass loop with States.Runtime.
#[tokio::test]
async fn max_transitions_guard() {
    let clock = Arc::new(FakeClock::new(start()));
    let invoker = common::TestInvoker::new(clock.clone());
    let m = StateMachine::from_value(&json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}))
    .unwrap();
    let exec = execute(
        &m,
        json!({}),
        &invoker,
        &*clock,
        ExecutionOptions { max_transitions: 100, ..ExecutionOptions::default() },
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(exec.error.as_deref(), Some("States.Runtime"));
    assert!(exec.cause.unwrap().contains("100"));
}

// Limits: state input/output over 256 KiB fail with States.DataLimitExceeded.
#[tokio::test]
async fn data_limit_exceeded() {
    let (exec, _) = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        json!({"big": "x".repeat(262_144)}),
    )
    .await;
    assert_eq!(exec.error.as_deref(), Some("States.DataLimitExceeded"));
}

// The executor future is Send (callers spawn it on a multi-thread runtime).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_is_send_and_spawnable() {
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    let handle = tokio::spawn(async {
        let clock = Arc::new(FakeClock::new(start()));
        let invoker = common::TestInvoker::new(clock.clone());
        let m = StateMachine::from_value(
            &json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "echo", "End": true}}}),
        )
        .unwrap();
        assert_send(execute(&m, json!(1), &invoker, &*clock, ExecutionOptions::default())).await
    });
    let exec = handle.await.unwrap();
    assert_eq!(exec.output, Some(json!(1)));
    // History serializes with AWS-like names.
    let v = serde_json::to_value(&exec).unwrap();
    assert_eq!(v["status"], json!("SUCCEEDED"));
    assert_eq!(v["history"][0]["type"], json!("ExecutionStarted"));
}

// SystemClock works with real time too.
#[tokio::test]
async fn runs_on_system_clock() {
    let clock = Arc::new(FakeClock::new(start()));
    let invoker = common::TestInvoker::new(clock);
    let m = StateMachine::from_value(&json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 0, "Next": "T"}, "T": {"Type": "Task", "Resource": "echo", "TimeoutSeconds": 5, "End": true}}})).unwrap();
    let exec = execute(&m, json!({"a": 1}), &invoker, &repowatch_asl::SystemClock, ExecutionOptions::default()).await;
    assert_eq!(exec.output, Some(json!({"a": 1})));
}

/// AWS keeps the key order of the input in the strings it builds
/// (`States.JsonToString`) and in outputs: objects are not re-sorted.
#[tokio::test]
async fn key_order_of_the_input_is_kept() {
    let input: Value = serde_json::from_str(r#"{"obj": {"zeta": 1, "alpha": {"b": 2, "a": 3}}}"#).unwrap();
    let (run, _) = run(
        json!({
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "Parameters": {"text.$": "States.JsonToString($.obj)"}, "End": true}}
        }),
        input,
    )
    .await;
    assert_eq!(run.output.unwrap()["text"], r#"{"zeta":1,"alpha":{"b":2,"a":3}}"#);
}

/// Intrinsic Functions: a path argument may hold `,` inside brackets (a union)
/// or `(`/`)` inside a filter; only a top-level `,` or `)` ends the argument.
#[tokio::test]
async fn intrinsic_path_arguments_may_contain_commas_and_parentheses() {
    let (run, _) = run(
        json!({
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "Parameters": {
                "union.$": "States.Array($.a[0,2], 'x')",
                "filtered.$": "States.ArrayLength($.items[?(@.n > 1)])"
            }, "End": true}}
        }),
        json!({"a": [10, 11, 12], "items": [{"n": 1}, {"n": 2}, {"n": 3}]}),
    )
    .await;
    assert_eq!(run.error, None, "{:?}", run.cause);
    assert_eq!(run.output.unwrap(), json!({"union": [[10, 12], "x"], "filtered": 2}));
}
