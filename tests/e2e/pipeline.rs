//! The local pipeline end to end: commit → run → build, tags, watch and paths
//! filters, cooldown, a broken datasource, a poison build and the DLQ.

use crate::support::*;

#[test]
fn a_commit_makes_exactly_one_build_with_the_right_environment() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    let log = env.file("builds.log");
    env.write_config(&logging_config(&repo.path, &log, ""));

    // First sight: the baseline, no build.
    let out = env.ok(&["run", "--drain"]);
    assert!(out.contains("app ("), "{out}");
    assert!(out.contains("first sight"), "{out}");
    assert!(log_lines(&log).is_empty());

    let commit = repo.commit("src/lib.rs", "change");
    let out = env.ok(&["run", "--drain"]);
    assert!(out.contains(&format!("refs/heads/main {} → build queued for target log", &commit[..12])), "{out}");
    assert!(out.contains("builds: 1 dispatched, 0 failed"), "{out}");

    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let l = &lines[0];
    assert_eq!(l[0], "app");
    assert_eq!(l[1], "refs/heads/main");
    assert_eq!(l[2], commit);
    assert_eq!(l[3], "branch");
    assert_eq!(l[4].len(), 64, "REPOWATCH_KEY is the hex idempotency key");
    assert_eq!(l[5], "manual");

    // Nothing new: nothing built.
    let out = env.ok(&["run", "--drain"]);
    assert!(out.contains("no change"), "{out}");
    assert_eq!(log_lines(&log).len(), 1);
}

#[test]
fn json_summary_names_the_build() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    let log = env.file("builds.log");
    env.write_config(&logging_config(&repo.path, &log, "build_on_first_seen = true"));
    let v = env.json(0, &["run", "--drain"]);
    let ds = &v["run"]["summary"]["datasources"][0];
    assert_eq!(ds["id"], "app");
    assert_eq!(ds["status"], "baseline");
    assert_eq!(v["run"]["summary"]["totals"]["first_seen"], 1);
    assert_eq!(ds["builds"][0]["ref"], "refs/heads/main");
    assert_eq!(ds["builds"][0]["commit"], repo.head());
    assert_eq!(v["builds"][0]["outcome"], "dispatched");
    assert_eq!(v["run"]["execution"]["status"], "SUCCEEDED");
}

#[test]
fn tag_pushes_build_and_annotated_tags_resolve_to_their_commit() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    let log = env.file("builds.log");
    env.write_config(&logging_config(&repo.path, &log, r#"watch = ["branch:main", "tag:v*"]"#));
    env.ok(&["run", "--drain"]);

    let c = repo.commit("a.txt", "release");
    repo.git(&["tag", "v1.0.0"]);
    repo.git(&["tag", "-a", "v1.1.0", "-m", "annotated"]);
    repo.git(&["tag", "nightly"]); // not watched
    env.ok(&["run", "--drain"]);
    let mut lines: Vec<(String, String, String)> =
        log_lines(&log).into_iter().map(|l| (l[1].clone(), l[2].clone(), l[3].clone())).collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            ("refs/heads/main".into(), c.clone(), "branch".into()),
            ("refs/tags/v1.0.0".into(), c.clone(), "tag".into()),
            ("refs/tags/v1.1.0".into(), c.clone(), "tag".into()),
        ]
    );
}

#[test]
fn watch_globs_choose_the_refs() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    let log = env.file("builds.log");
    env.write_config(&logging_config(&repo.path, &log, r#"watch = ["branch:release/*"]"#));
    env.ok(&["run", "--drain"]);

    repo.commit("a.txt", "on main");
    repo.git(&["checkout", "-q", "-b", "release/1.x"]);
    let rel = repo.commit("a.txt", "on release");
    repo.git(&["checkout", "-q", "-b", "release/next/hotfix"]);
    repo.commit("a.txt", "too deep for *");
    env.ok(&["run", "--drain"]);
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0][1], "refs/heads/release/1.x");
    assert_eq!(lines[0][2], rel);
}

#[test]
fn paths_filter_builds_only_changes_that_touch_them() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    let log = env.file("builds.log");
    env.write_config(&logging_config(&repo.path, &log, r#"paths = ["src/**", "Cargo.*"]"#));
    env.ok(&["run", "--drain"]);

    let docs = repo.commit("docs/guide.md", "docs only");
    let out = env.ok(&["run", "--drain"]);
    assert!(out.contains(&format!("refs/heads/main {}: no changed file matches `paths`", &docs[..12])), "{out}");
    assert!(log_lines(&log).is_empty());

    let src = repo.commit("src/deep/mod.rs", "code");
    env.ok(&["run", "--drain"]);
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0][2], src);

    // Two commits between runs: one touches src, so the newest builds.
    repo.commit("src/x.rs", "code again");
    let newest = repo.commit("docs/more.md", "then docs");
    env.ok(&["run", "--drain"]);
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1][2], newest);
}

#[test]
fn cooldown_coalesces_a_burst_into_one_build_of_the_newest_commit() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    let log = env.file("builds.log");
    env.write_config(&logging_config(&repo.path, &log, r#"cooldown = "2s""#));
    env.ok(&["run", "--drain"]);

    let mut newest = String::new();
    for i in 0..3 {
        newest = repo.commit("a.txt", &format!("burst {i}"));
        let out = env.ok(&["run", "--drain"]);
        assert!(out.contains("waiting for cooldown until"), "{out}");
        assert!(log_lines(&log).is_empty(), "built during the burst");
    }
    std::thread::sleep(std::time::Duration::from_millis(2200));
    env.ok(&["run", "--drain"]);
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0][2], newest);
    env.ok(&["run", "--drain"]);
    assert_eq!(log_lines(&log).len(), 1, "built once only");
}

#[test]
fn a_missing_repository_is_reported_and_the_others_still_build() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    let log = env.file("builds.log");
    let mut config = logging_config(&repo.path, &log, "build_on_first_seen = true");
    config.push_str(&format!(
        r#"
[[datasources]]
id = "gone"
path = "{}"
targets = ["log"]
"#,
        env.path().join("no-such-repo").display()
    ));
    env.write_config(&config);
    // Exit 1: the run was partial.
    let out = env.expect(1, &["run", "--drain"]);
    assert!(out.contains("PARTIAL"), "{out}");
    assert!(out.contains("gone ("), "{out}");
    assert!(out.contains("no-such-repo does not exist"), "{out}");
    assert!(out.contains("builds: 1 dispatched"), "{out}");
    assert_eq!(log_lines(&log).len(), 1);
}

#[test]
fn a_poison_build_is_parked_after_five_receives_and_redrive_replays_it() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    let fixed = env.file("fixed");
    let attempts = env.file("attempts.log");
    env.write_config(&format!(
        r#"
[settings]
state_dir = "state"

[[datasources]]
id = "app"
path = "{}"
build_on_first_seen = true
targets = ["flaky"]

[targets.flaky]
kind = "command"
command = ["sh", "-c", "echo attempt >> {attempts}; test -f {fixed} || {{ echo 'tests failed' >&2; exit 3; }}"]
timeout = "30s"
"#,
        repo.path.display()
    ));
    let out = env.expect(1, &["run", "--drain"]);
    assert!(out.contains("FAILED (exit 3"), "{out}");
    assert!(out.contains("tests failed"), "the build's output is shown: {out}");
    assert!(out.contains("1 in the dead-letter queue"), "{out}");
    assert_eq!(std::fs::read_to_string(&attempts).unwrap().lines().count(), 5, "five receives, five attempts");

    let dlq = env.json(0, &["dlq", "list"]);
    assert_eq!(dlq.as_array().unwrap().len(), 1);
    assert_eq!(dlq[0]["receive_count"], 5);
    let id = dlq[0]["message_id"].as_str().unwrap().to_owned();

    // The worker leaves it parked.
    env.ok(&["worker", "--once"]);
    assert_eq!(std::fs::read_to_string(&attempts).unwrap().lines().count(), 5);

    std::fs::write(&fixed, "").unwrap();
    let out = env.ok(&["dlq", "redrive", &id]);
    assert!(out.contains("moved 1 message(s)"), "{out}");
    let out = env.ok(&["worker", "--once"]);
    assert!(out.contains("builds: 1 dispatched, 0 failed"), "{out}");
    assert_eq!(env.json(0, &["dlq", "list"]).as_array().unwrap().len(), 0);
    let status = env.ok(&["status"]);
    assert!(status.contains("0 in the dead-letter queue"), "{status}");
}
