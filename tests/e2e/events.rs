//! Every example event in events/ parses into its step's input type,
//! re-serialises to the same JSON, and is accepted by `repowatch invoke`.

use std::path::PathBuf;

use repowatch_core::steps::detect_updates::DetectOutput;
use repowatch_core::steps::{DetectInput, DispatchInput, ListInput, NotifyInput, WebhookInput};
use serde_json::Value;

use crate::support::*;

fn events() -> Vec<(String, PathBuf)> {
    let mut all = Vec::new();
    for dir in std::fs::read_dir(workspace_root().join("events")).unwrap() {
        let dir = dir.unwrap();
        if !dir.path().is_dir() {
            continue; // events/README.md
        }
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "json") {
                all.push((dir.file_name().to_string_lossy().into_owned(), file));
            }
        }
    }
    all.sort();
    all
}

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(path: &std::path::Path, original: &Value) {
    let typed: T = serde_json::from_value(original.clone()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let again = serde_json::to_value(&typed).unwrap();
    assert_eq!(&again, original, "{} does not round-trip", path.display());
}

#[test]
fn every_event_round_trips_through_its_input_type() {
    let all = events();
    let functions: std::collections::BTreeSet<&str> = all.iter().map(|(f, _)| f.as_str()).collect();
    for f in ["list-datasources", "detect-updates", "process-updates", "dispatch-build", "notify", "github-webhook"] {
        assert!(functions.contains(f), "events/{f}/ has no example");
    }
    for (function, path) in &all {
        let original: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        match function.as_str() {
            "list-datasources" => round_trip::<ListInput>(path, &original),
            "detect-updates" => round_trip::<DetectInput>(path, &original),
            "process-updates" => round_trip::<DetectOutput>(path, &original),
            "dispatch-build" => round_trip::<DispatchInput>(path, &original),
            "notify" => round_trip::<NotifyInput>(path, &original),
            "github-webhook" => round_trip::<WebhookInput>(path, &original),
            other => panic!("events/{other}: no such function"),
        }
    }
}

/// A config whose ids match the examples: `api` (a real repo), `web` (missing), target `deploy`.
fn example_env() -> (Env, Repo) {
    let env = Env::new();
    let repo = Repo::init(env.path().join("api"));
    let log = env.file("builds.log");
    env.write_config(&format!(
        r#"
[settings]
state_dir = "state"

[serve]
webhook_secret = "env:REPOWATCH_TEST_WEBHOOK_SECRET"

[[datasources]]
id = "api"
path = "{}"
targets = ["deploy"]

[[datasources]]
id = "web"
path = "{}"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["sh", "-c", "echo \"$REPOWATCH_REF $REPOWATCH_COMMIT\" >> {log}"]
"#,
        repo.path.display(),
        env.path().join("web-missing").display()
    ));
    (env, repo)
}

#[test]
fn invoke_takes_every_example_event() {
    let (env, repo) = example_env();
    for (function, path) in events() {
        let out = env
            .command(&["invoke", &function, "--event", &path.display().to_string()])
            .env("REPOWATCH_TEST_WEBHOOK_SECRET", "repowatch-example-secret")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "invoke {function} {}: {stdout}{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_str(&stdout).unwrap();
        match function.as_str() {
            "list-datasources" => assert!(v["shards"][0]["datasources"].as_array().unwrap().iter().any(|d| d == "api")),
            "detect-updates" => {
                assert_eq!(v["datasources"][0]["id"], "api");
                assert_eq!(v["datasources"][0]["first_seen"], true);
                assert_eq!(v["datasources"][0]["updates"][0]["new"], repo.head());
                assert_eq!(v["datasources"][1]["error"]["name"], "Repowatch.SourceUnavailable");
            }
            "dispatch-build" => {
                assert_eq!(v["batchItemFailures"], serde_json::json!([]));
                assert_eq!(v["results"][0]["outcome"], "dispatched");
            }
            "notify" => assert!(v["status"].is_string()),
            // Signed with the example secret; no datasource here watches GitHub's octo-org/api.
            "github-webhook" => {
                assert_eq!(v["statusCode"], 200, "{v}");
                assert_eq!(v["body"], "no datasource watches branch refs/heads/main of octo-org/api");
            }
            _ => {}
        }
    }
    assert!(
        std::fs::read_to_string(env.file("builds.log"))
            .unwrap()
            .contains("refs/heads/main 3f2a1c9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39")
    );
}

#[test]
fn invoke_reports_a_bad_event_by_step_error_name() {
    let (env, _repo) = example_env();
    let bad = env.file("bad.json");
    std::fs::write(&bad, r#"{"run": {"id": "x", "source": "schedule", "started_at": "2026-11-24T08:00:00Z"}, "datasources": ["NOT VALID"]}"#).unwrap();
    let out = env.expect(1, &["invoke", "detect-updates", "--event", &bad]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["errorType"], "Repowatch.InvalidInput");
    assert!(v["errorMessage"].as_str().unwrap().contains("datasource id \"NOT VALID\" is not valid"), "{v}");

    let not_json = env.file("not.json");
    std::fs::write(&not_json, "{ nope").unwrap();
    let err = env.cli(&["invoke", "notify", "--event", &not_json]);
    assert_eq!(err.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("not.json:1:3: not JSON"),
        "{}",
        String::from_utf8_lossy(&err.stderr)
    );

    let unknown = env.cli(&["invoke", "build-everything", "--event", &bad]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("no function named \"build-everything\"; expected one of: list-datasources")
    );
}

#[test]
fn the_webhook_secret_is_resolved_once_and_never_printed() {
    let (env, _repo) = example_env();
    let event = workspace_root().join("events/github-webhook/push.json").display().to_string();
    // Unset: a usage error naming the reference, not a value.
    let out = env
        .command(&["invoke", "github-webhook", "--event", &event])
        .env_remove("REPOWATCH_TEST_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: serve.webhook_secret = \"env:REPOWATCH_TEST_WEBHOOK_SECRET\": the environment variable REPOWATCH_TEST_WEBHOOK_SECRET is not set"
    );
    // Wrong secret: 401 with no detail, and the secret appears nowhere, even at trace level.
    let secret = "s3cr3t-that-must-not-leak";
    let out = env
        .command(&["-vvv", "invoke", "github-webhook", "--event", &event])
        .env("REPOWATCH_TEST_WEBHOOK_SECRET", secret)
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["statusCode"].as_u64(), v["body"].as_str()), (Some(401), Some("")));
    assert!(!all.contains(secret), "the secret leaked: {all}");
}
