//! The command line as users meet it: exit codes, config errors, validate,
//! `asl run`, and secrets that never reach output.

use crate::support::*;

#[test]
fn help_works_for_every_command() {
    let env = Env::new();
    for cmd in [
        &["--help"][..],
        &["run", "--help"],
        &["worker", "--help"],
        &["serve", "--help"],
        &["sync", "--help"],
        &["status", "--help"],
        &["dlq", "list", "--help"],
        &["invoke", "--help"],
        &["validate", "--help"],
        &["asl", "run", "--help"],
    ] {
        let out = env.ok(cmd);
        assert!(out.contains("Usage:"), "{cmd:?}: {out}");
    }
    let out = env.cli(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "bad usage exits 2");
}

#[test]
fn a_missing_config_says_how_to_make_one() {
    let env = Env::new();
    let out = env.cli(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("repowatch.toml"), "{err}");
}

#[test]
fn a_broken_config_exits_2_naming_file_line_and_field() {
    let env = Env::new();
    env.write_config(
        r#"
[[datasources]]
id = "app"
path = "."
cooldown = "soon"
targets = ["nowhere"]
"#,
    );
    let out = env.cli(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("repowatch.toml:5:"), "line of the bad duration: {err}");
    assert!(err.contains("cooldown"), "{err}");
    assert!(err.contains("nowhere"), "{err}");
    // validate reports the same problems, on stdout, and also exits 2.
    let v = env.cli(&["validate"]);
    assert_eq!(v.status.code(), Some(2));
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(text.contains("cooldown") && text.contains("nowhere"), "{text}");
}

#[test]
fn a_literal_secret_is_refused_without_echoing_it() {
    let env = Env::new();
    let token = "ghp_5up3rS3cr3tT0k3nValue";
    env.write_config(&format!(
        r#"
[[datasources]]
id = "app"
path = "."
targets = ["gpu"]

[targets.gpu]
kind = "webhook"
url = "https://builder.example.internal/build"
secret = "{token}"
"#
    ));
    for args in [&["run"][..], &["validate"], &["-vvv", "status"], &["--json", "validate"]] {
        let out = env.cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(all.contains("secret"), "{args:?}: {all}");
        assert!(!all.contains(token), "the secret leaked through {args:?}: {all}");
        assert!(!all.contains("5up3r"), "part of the secret leaked through {args:?}");
    }
}

#[test]
fn validate_accepts_the_shipped_config_and_definition() {
    let root = workspace_root();
    let out = std::process::Command::new(BIN).current_dir(&root).args(["validate"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn asl_run_executes_a_definition_offline() {
    let env = Env::new();
    let def = env.file("machine.json");
    std::fs::write(
        &def,
        r#"{"StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}], "Default": "Small"},
            "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "End": true},
            "Small": {"Type": "Fail", "Error": "TooSmall", "Cause": "n must exceed 1"}}}"#,
    )
    .unwrap();
    let v = env.json(0, &["asl", "run", &def, "--input", r#"{"n": 5}"#]);
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(v["output"], serde_json::json!({"n": 5, "size": "big"}));
    let v = env.json(1, &["asl", "run", &def, "--input", r#"{"n": 0}"#]);
    assert_eq!((v["status"].as_str(), v["error"].as_str()), (Some("FAILED"), Some("TooSmall")));
    let history = env.ok(&["asl", "run", &def, "--input", r#"{"n": 5}"#, "--history"]);
    assert!(history.contains("ChoiceStateEntered") && history.contains("ExecutionSucceeded"), "{history}");

    let broken = env.file("broken.json");
    std::fs::write(
        &broken,
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B", "End": true}, "C": {"Type": "Wat"}}}"#,
    )
    .unwrap();
    let out = env.cli(&["asl", "run", &broken]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/States/A/Next"), "{err}");
    assert!(err.contains("/States/C"), "{err}");
}

#[test]
fn run_for_an_undeclared_datasource_is_a_usage_error() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    env.write_config(&logging_config(&repo.path, &env.file("log"), ""));
    let out = env.cli(&["run", "--datasource", "ap"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: --datasource: repowatch.toml declares no datasource \"ap\"; declared: app"
    );
    env.ok(&["run", "--datasource", "app"]);
}

#[test]
fn a_worker_stops_cleanly_on_sigterm() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    env.write_config(&logging_config(&repo.path, &env.file("log"), ""));
    let mut child = env
        .command(&["worker", "--poll", "100ms"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the banner (printed as the worker starts consuming), then a
    // little more for the signal handlers to be in place.
    let mut banner = String::new();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap()); // kept open until the end
    std::io::BufRead::read_line(&mut stderr, &mut banner).unwrap();
    assert!(banner.contains("consuming"), "{banner}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("builds: 0 dispatched"));
}
