//! Interpreter throughput: a 10-state Pass/Choice chain (time per state
//! transition) and a Map over 1,000 items. Results go in docs/performance.md.
//!
//!     cargo bench -p repowatch-asl --bench interpreter

// Benchmark set-up on fixed, valid inputs: a failure is a broken benchmark.
#![allow(clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use repowatch_asl::{
    ExecutionOptions, ExecutionStatus, FakeClock, StateMachine, TaskContext, TaskFailure, TaskInvoker,
};
use serde_json::{Value, json};

struct NoTasks;

#[async_trait::async_trait]
impl TaskInvoker for NoTasks {
    async fn invoke(&self, _: &str, input: Value, _: TaskContext<'_>) -> Result<Value, TaskFailure> {
        Ok(input)
    }
}

/// Pass → Choice → Pass → Choice … : 10 states, each Choice taking its first rule.
fn chain() -> StateMachine {
    let mut states = serde_json::Map::new();
    for i in 0..10 {
        let name = format!("S{i}");
        let next = format!("S{}", i + 1);
        let state = if i % 2 == 0 {
            json!({"Type": "Pass", "Parameters": {"n.$": "$.n", "step": i}, "ResultPath": "$.last"})
        } else {
            json!({"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThanEquals": 0, "Next": next}], "Default": "Done"})
        };
        let mut state = state;
        if i % 2 == 0 {
            state["Next"] = json!(next);
        }
        if i == 9 {
            state["Choices"][0]["Next"] = json!("Done");
        }
        states.insert(name, state);
    }
    states.insert("Done".into(), json!({"Type": "Succeed"}));
    StateMachine::from_value(&json!({"StartAt": "S0", "States": states})).expect("valid chain")
}

fn map() -> StateMachine {
    StateMachine::from_value(&json!({
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0,
            "ItemProcessor": {"StartAt": "Double", "States": {"Double": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": true}}},
            "End": true}}
    }))
    .expect("valid map")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let start = jiff::Timestamp::from_second(1_795_515_611).expect("timestamp");
    let run = |machine: &StateMachine, input: Value| {
        let clock = FakeClock::new(start);
        let ex = rt.block_on(repowatch_asl::execute(machine, input, &NoTasks, &clock, ExecutionOptions::default()));
        assert_eq!(ex.status, ExecutionStatus::Succeeded);
        ex
    };

    let chain = chain();
    let mut g = c.benchmark_group("chain");
    // 10 states entered per execution (the Succeed state is the 11th).
    g.throughput(Throughput::Elements(11));
    g.bench_function("pass_choice_10_states", |b| b.iter(|| run(&chain, json!({"n": 1}))));
    g.finish();

    let map = map();
    let items: Vec<Value> = (0..1000).map(|i| json!(i)).collect();
    let input = json!({"items": items});
    let mut g = c.benchmark_group("map");
    g.throughput(Throughput::Elements(1000));
    g.sample_size(20);
    g.bench_function("map_1000_items", |b| b.iter(|| run(&map, input.clone())));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
