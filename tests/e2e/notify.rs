//! [[notify]] from the CLI: `repowatch run` sends its summary to a channel on
//! 127.0.0.1, quiet runs send nothing, `repowatch notify test` reaches every
//! channel and reports the dead one; no webhook URL (its token) ever shows in
//! the output or the logs, at any verbosity.

use serde_json::Value;

use crate::support::*;

fn titles(seen: &Seen) -> Vec<String> {
    seen.lock().unwrap().iter().map(|v| v["embeds"][0]["title"].as_str().unwrap_or_default().to_owned()).collect()
}

fn run_in(env: &Env, url: &str, args: &[&str]) -> std::process::Output {
    env.command(args).env("DISCORD_URL", url).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_summaries_reach_the_channel_and_quiet_runs_stay_quiet() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    repo.commit("a", "first");
    let log = env.file("builds.log");
    let mut config = logging_config(&repo.path, &log, "");
    config = config.replace("[settings]\n", "[settings]\nlanguage = \"en\"\ntimezone = \"Asia/Tokyo\"\n");
    config.push_str("\n[[notify]]\nkind = \"discord\"\nurl = \"env:DISCORD_URL\"\non = [\"summary\", \"failure\"]\n");
    env.write_config(&config);
    let (url, seen) = notify_recorder().await;

    let out = run_in(&env, &url, &["run", "-vvv"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(titles(&seen), ["ℹ️ Run finished: 0 changed, 0 build(s) queued"], "the first sight sets the baseline");
    let fields = seen.lock().unwrap()[0]["embeds"][0]["fields"].to_string();
    assert!(fields.contains("First seen (baseline recorded)") && fields.contains("app"), "{fields}");

    let quiet = run_in(&env, &url, &["run"]);
    assert!(quiet.status.success());
    assert_eq!(seen.lock().unwrap().len(), 1, "a run that changed nothing sends nothing");

    repo.commit("b", "second");
    let changed = run_in(&env, &url, &["--json", "run"]);
    assert!(changed.status.success());
    assert_eq!(titles(&seen)[1], "ℹ️ Run finished: 1 changed, 1 build(s) queued");
    let summary: Value = serde_json::from_slice(&changed.stdout).unwrap();
    let notified = summary["run"]["summary"]["notified"].to_string();
    assert!(notified.contains("discord #1 (127.0.0.1:"), "{summary}");

    for output in [&out, &quiet, &changed] {
        let all = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!all.contains("canary-discord-token"), "the webhook URL leaked:\n{all}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_reaches_every_channel_and_names_the_dead_one() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    repo.commit("a", "first");
    let (url, seen) = notify_recorder().await;
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = logging_config(&repo.path, &env.file("builds.log"), "");
    config.push_str(
        "\n[[notify]]\nkind = \"discord\"\nurl = \"env:DISCORD_URL\"\non = [\"alarm\"]\n\n\
         [[notify]]\nkind = \"slack\"\nurl = \"env:SLACK_URL\"\n\n\
         [[notify]]\nkind = \"webhook\"\nurl = \"env:DISCORD_URL\"\nsecret = \"env:HOOK_SECRET\"\n",
    );
    env.write_config(&config);
    let out = env
        .command(&["notify", "test", "-vvv"])
        .env("DISCORD_URL", &url)
        .env("SLACK_URL", format!("http://127.0.0.1:{dead_port}/services/T0/B0/canary-slack-token-c3d4"))
        .env("HOOK_SECRET", "canary-hook-secret-e5f6")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("sent      discord #1 (127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("sent      webhook #3 (127.0.0.1:"), "{stdout}");
    assert!(
        stdout.contains(&format!("FAILED    slack #2 (127.0.0.1:{dead_port}): cannot connect after 4 attempts")),
        "{stdout}"
    );
    // The test message ignores `on`, then the two live channels hear about the dead one.
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 4, "{bodies:?}");
    let all = format!("{stdout}{stderr}{bodies:?}");
    for canary in ["canary-discord-token", "canary-slack-token", "canary-hook-secret"] {
        assert!(!all.contains(canary), "{canary} leaked:\n{all}");
    }
}

#[test]
fn notify_test_without_channels_is_a_usage_error() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    repo.commit("a", "first");
    env.write_config(&logging_config(&repo.path, &env.file("builds.log"), ""));
    let out = env.cli(&["notify", "test"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no [[notify]] channel is configured"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_that_keeps_failing_is_parked_and_told_once() {
    let env = Env::new();
    let repo = Repo::init(env.path().join("repo"));
    repo.commit("a", "first");
    let config = format!(
        r#"
[settings]
state_dir = "state"
language = "en"

[[datasources]]
id = "app"
path = "{}"
targets = ["broken"]
build_on_first_seen = true

[targets.broken]
kind = "command"
command = ["sh", "-c", "echo compiler exploded >&2; exit 3"]
timeout = "30s"

[[notify]]
kind = "discord"
url = "env:DISCORD_URL"
"#,
        repo.path.display()
    );
    env.write_config(&config);
    let (url, seen) = notify_recorder().await;
    let out = run_in(&env, &url, &["run", "--drain"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a parked build fails the command: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(titles(&seen), ["🚨 1 build request(s) parked in the DLQ"]);
    let body = seen.lock().unwrap()[0]["embeds"][0]["description"].as_str().unwrap_or_default().to_owned();
    assert!(body.contains("app main → broken (received 5×)"), "{body}");
    // A later run does not repeat what was already told.
    run_in(&env, &url, &["run", "--drain"]);
    assert_eq!(seen.lock().unwrap().len(), 1);
}
