//! Our definition validation catches at least what `asl-validator` (npm, the
//! validator most ASL tooling uses) catches: on our own definition and on
//! broken copies of it, everything asl-validator rejects we reject too, at a
//! pointer into the same state. `scripts/test.sh` installs asl-validator into
//! `~/.cache/repowatch/node`; without it (a clone without npm), this test says
//! so and checks only our side.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::workspace_root;

fn asl_validator() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let bin = PathBuf::from(home).join(".cache/repowatch/node/node_modules/.bin/asl-validator");
    bin.exists().then_some(bin)
}

/// asl-validator's verdict and the pointers it names.
fn theirs(bin: &PathBuf, definition: &Value) -> (bool, Vec<String>) {
    let out = Command::new(bin)
        .args(["--json-definition", &definition.to_string(), "--no-arn-check"])
        .output()
        .expect("asl-validator runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let pointers = text
        .split_whitespace()
        .filter(|w| w.starts_with("/States") || w.starts_with("/StartAt"))
        .map(|w| w.trim_end_matches([',', '.', ':']).to_owned())
        .collect();
    (out.status.success(), pointers)
}

fn pipeline() -> Value {
    serde_json::from_str(&std::fs::read_to_string(workspace_root().join("statemachines/pipeline.asl.json")).unwrap())
        .unwrap()
}

/// Broken copies of the pipeline: (what, mutation).
fn broken() -> Vec<(&'static str, Value)> {
    let mut cases: Vec<(&'static str, Value)> = Vec::new();
    let mut add = |what: &'static str, f: &dyn Fn(&mut Value)| {
        let mut d = pipeline();
        f(&mut d);
        cases.push((what, d));
    };
    add("dangling StartAt", &|d| d["StartAt"] = json!("Nope"));
    add("dangling Next", &|d| d["States"]["ListDatasources"]["Next"] = json!("Nowhere"));
    add("Next and End", &|d| d["States"]["ListFailed"]["End"] = json!(true));
    add("unknown Type", &|d| d["States"]["Notify"]["Type"] = json!("Taskk"));
    add("missing Resource", &|d| {
        d["States"]["Notify"].as_object_mut().unwrap().remove("Resource");
    });
    add("empty ErrorEquals", &|d| d["States"]["ListDatasources"]["Catch"][0]["ErrorEquals"] = json!([]));
    add("negative MaxAttempts", &|d| d["States"]["Notify"]["Retry"][0]["MaxAttempts"] = json!(-1));
    add("TimeoutSeconds not a number", &|d| d["States"]["Notify"]["TimeoutSeconds"] = json!("ten"));
    add("Map without processor", &|d| {
        d["States"]["Shards"].as_object_mut().unwrap().remove("ItemProcessor");
    });
    add("dangling Catch Next", &|d| d["States"]["Shards"]["Catch"][0]["Next"] = json!("Gone"));
    add("nested dangling Next", &|d| {
        d["States"]["Shards"]["ItemProcessor"]["States"]["DetectUpdates"]["Next"] = json!("Gone")
    });
    add("nested unknown Type", &|d| {
        d["States"]["Shards"]["ItemProcessor"]["States"]["ShardFailed"]["Type"] = json!("Nope")
    });
    add("Choice without Choices", &|d| {
        d["States"]["ListFailed"] = json!({"Type": "Choice", "Default": "Notify"});
    });
    add("Wait with two fields", &|d| {
        d["States"]["ListFailed"] =
            json!({"Type": "Wait", "Seconds": 1, "Timestamp": "2026-01-01T00:00:00Z", "Next": "Notify"});
    });
    add("Fail with Next", &|d| {
        d["States"]["ListFailed"] = json!({"Type": "Fail", "Error": "X", "Next": "Notify"});
    });
    add("terminal state without End", &|d| {
        d["States"]["Notify"].as_object_mut().unwrap().remove("End");
    });
    add("no States", &|d| {
        d.as_object_mut().unwrap().remove("States");
    });
    cases
}

#[test]
fn we_reject_whatever_asl_validator_rejects() {
    let ours_ok = repowatch_asl::validate(&pipeline());
    assert_eq!(ours_ok, vec![], "our own definition is valid");
    let bin = asl_validator();
    if bin.is_none() {
        eprintln!("asl-validator is not installed (scripts/test.sh installs it with npm): checking our side only");
    }
    if let Some(bin) = &bin {
        assert_eq!(theirs(bin, &pipeline()), (true, vec![]), "asl-validator accepts our definition");
    }
    let mut compared = 0;
    for (what, definition) in broken() {
        let ours: Vec<String> = repowatch_asl::validate(&definition).into_iter().map(|p| p.pointer).collect();
        assert!(!ours.is_empty(), "{what}: we accept a broken definition");
        let Some(bin) = &bin else { continue };
        let (valid, pointers) = theirs(bin, &definition);
        if valid {
            continue; // stricter than asl-validator here: fine
        }
        compared += 1;
        // Each state asl-validator blames, we blame too.
        for p in pointers {
            let state: String = p.split('/').take(3).collect::<Vec<_>>().join("/");
            assert!(
                ours.iter().any(|o| o.starts_with(&state) || state.starts_with(o.as_str())),
                "{what}: asl-validator flags {p}; we flag {ours:?}"
            );
        }
    }
    if bin.is_some() {
        eprintln!("compared {compared} broken definitions with asl-validator");
        assert!(
            compared >= 10,
            "asl-validator rejected only {compared} of the broken copies; the comparison proves little"
        );
    }
}
