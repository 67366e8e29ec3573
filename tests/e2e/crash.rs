//! Crash safety with real processes: `repowatch run` and `repowatch worker`
//! are SIGKILLed at random points, hundreds of times. Afterwards every update
//! must still be built (no update lost), and a build may run twice only in the
//! documented window: a dispatcher died after calling the target and before
//! recording it, and the next one took its claim over. Each takeover is
//! recorded with the claim itself; the test counts them against duplicates.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::support::*;

const ITERATIONS: usize = 200;

#[test]
fn sigkill_during_run_and_worker_loses_no_update() {
    let seed: u64 = rand::random();
    eprintln!("crash test seed: {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    let log = env.file("builds.log");
    // The command records the build first and then takes a moment, so kills
    // land both before and after the target was called.
    env.write_config(&format!(
        r#"
[settings]
state_dir = "state"

[[datasources]]
id = "app"
path = "{}"
watch = ["branch:main", "tag:t*"]
targets = ["log"]

[targets.log]
kind = "command"
command = ["sh", "-c", "echo \"$REPOWATCH_KEY $REPOWATCH_REF $REPOWATCH_COMMIT\" >> {log}; sleep 0.005"]
timeout = "30s"
"#,
        repo.path.display()
    ));
    env.ok(&["run"]); // baseline

    let mut expected: Vec<(String, String)> = Vec::new(); // (tag ref, commit)
    let mut killed = 0;
    for i in 0..ITERATIONS {
        let commit = repo.commit("a.txt", &format!("change {i}"));
        let tag = format!("t{i:03}");
        repo.git(&["tag", &tag]);
        expected.push((format!("refs/tags/{tag}"), commit));

        let args: &[&str] = if i % 2 == 0 { &["run"] } else { &["worker", "--once"] };
        let mut child = env.command(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(rng.random_range(0..60_000)));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
    }
    eprintln!("{killed} of {ITERATIONS} processes were killed mid-flight");
    assert!(killed > ITERATIONS / 4, "too few kills landed ({killed}); the test would prove little");

    // Recovery, as an operator would: run, drain, redrive what was parked.
    for _ in 0..5 {
        env.ok(&["run"]);
        env.command(&["worker", "--once"]).output().unwrap();
        env.ok(&["dlq", "redrive"]);
        env.command(&["worker", "--once"]).output().unwrap();
    }

    // No update lost: every tag was built at its commit.
    let lines = log_lines(&log);
    let built: std::collections::BTreeSet<(String, String)> =
        lines.iter().map(|l| (l[1].clone(), l[2].clone())).collect();
    let missing: Vec<_> = expected.iter().filter(|e| !built.contains(*e)).collect();
    assert!(missing.is_empty(), "updates lost: {missing:?}");

    // Duplicates only where a takeover was recorded.
    let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &lines {
        *per_key.entry(l[0].as_str()).or_default() += 1;
    }
    let duplicates: usize = per_key.values().map(|n| n - 1).sum();
    let status = env.json(0, &["status", "--limit", "100000"]);
    let mut takeovers: BTreeMap<&str, usize> = BTreeMap::new();
    for t in status["takeovers"].as_array().unwrap() {
        *takeovers.entry(t["key"].as_str().unwrap()).or_default() += 1;
    }
    for (key, n) in &per_key {
        let allowed = 1 + takeovers.get(key).copied().unwrap_or(0);
        assert!(*n <= allowed, "key {key} built {n} times with {} takeover(s)", allowed - 1);
    }
    eprintln!(
        "{} builds for {} keys: {duplicates} duplicate(s), all in the crash-after-dispatch window ({} takeover(s) recorded)",
        lines.len(),
        per_key.len(),
        takeovers.values().sum::<usize>()
    );
    let queue = &status["queue"];
    assert_eq!((queue["visible"].as_u64(), queue["dlq"].as_u64()), (Some(0), Some(0)), "{queue}");
}
