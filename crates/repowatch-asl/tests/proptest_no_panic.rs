//! Arbitrary JSON as definitions and inputs never panics validation, parsing or execution.

mod common;

use proptest::prelude::*;
use repowatch_asl::{ExecutionOptions, FakeClock, StateMachine, execute, validate};
use serde_json::{Map, Value, json};
use std::sync::Arc;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        prop_oneof![
            "[a-zA-Z$.\\[\\]'*0-9]{0,12}",
            Just("$".to_string()),
            Just("$.a".to_string()),
            Just("States.ALL".to_string()),
            Just("Pass".to_string()),
            Just("Task".to_string()),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            "[A-Za-z.$]{1,10}",
            Just("StartAt".to_string()),
            Just("States".to_string()),
            Just("Type".to_string()),
            Just("Next".to_string()),
            Just("End".to_string()),
            Just("Resource".to_string()),
            Just("Parameters".to_string()),
            Just("a.$".to_string()),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Small, mostly valid machines built from pieces, so that execution paths run too.
fn arb_machine() -> impl Strategy<Value = Value> {
    let state = prop_oneof![
        arb_json().prop_map(|r| json!({"Type": "Pass", "Result": r, "ResultPath": "$.r"})),
        Just(json!({"Type": "Pass", "Parameters": {"x.$": "$.a"}})),
        Just(json!({"Type": "Task", "Resource": "echo", "InputPath": "$.a"})),
        Just(
            json!({"Type": "Task", "Resource": "fail:E", "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}]})
        ),
        Just(json!({"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}})),
        Just(json!({"Type": "Wait", "SecondsPath": "$.a"})),
    ];
    prop::collection::vec(state, 1..5).prop_map(|states| {
        let n = states.len();
        let mut map = Map::new();
        for (i, mut s) in states.into_iter().enumerate() {
            if i + 1 == n {
                s["End"] = json!(true);
            } else {
                s["Next"] = json!(format!("S{}", i + 1));
            }
            map.insert(format!("S{i}"), s);
        }
        json!({"StartAt": "S0", "States": map})
    })
}

async fn run_any(def: &Value, input: Value) {
    let _ = validate(def);
    if let Ok(machine) = StateMachine::from_value(def) {
        let clock = Arc::new(FakeClock::new(common::start()));
        let invoker = common::TestInvoker::new(clock.clone());
        let _ = execute(
            &machine,
            input,
            &invoker,
            &*clock,
            ExecutionOptions { max_transitions: 200, ..ExecutionOptions::default() },
        )
        .await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_json_never_panics(def in arb_json(), input in arb_json()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(run_any(&def, input));
        let _ = StateMachine::from_json_str(&def.to_string());
    }

    #[test]
    fn generated_machines_never_panic(def in arb_machine(), input in arb_json()) {
        prop_assert!(validate(&def).is_empty(), "{:?}", validate(&def));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(run_any(&def, input));
    }
}
