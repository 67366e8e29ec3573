//! The CLI and `repowatch serve` against the fake GitHub on 127.0.0.1: a
//! signed push webhook leads to one build; the same delivery again and the
//! next daily run lead to none; a run over 1,000 datasources makes exactly
//! 10 GraphQL requests; a workflow_dispatch build carries its run, and the
//! workflow_run webhook records the run's result on it; no secret in any output.

use std::time::Duration;

use repowatch_core::secret::SecretString;
use repowatch_core::signature;
use repowatch_github_fake::{ContractOutcome, FakeGithub, FakeOptions, RepoSpec, sha};
use serde_json::{Value, json};

use crate::serve::{Server, http, wait_for};
use crate::support::*;

pub(crate) const TOKEN: &str = "ghp_canary_token_7f3e9a";
pub(crate) const WEBHOOK_SECRET: &str = "canary-webhook-secret-41d2";

/// The fake on a runtime of its own, alive as long as this value.
pub(crate) struct Github {
    pub(crate) fake: FakeGithub,
    _rt: tokio::runtime::Runtime,
}

impl Github {
    pub(crate) fn start() -> Github {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let fake = rt.block_on(FakeGithub::start(FakeOptions { token: TOKEN.into(), ..Default::default() })).unwrap();
        Github { fake, _rt: rt }
    }

    fn assert_contract(&self, name: &str) {
        let path = std::env::temp_dir().join(format!("repowatch-e2e-{name}-{}.jsonl", std::process::id()));
        match self.fake.check_exchanges(&path).unwrap() {
            ContractOutcome::Passed(out) => assert!(out.contains("; 0 problems"), "{out}"),
            ContractOutcome::Skipped(reason) => eprintln!("skipped: {reason}"),
            ContractOutcome::Failed(out) => panic!("{name}: exchanges do not match GitHub's descriptions:\n{out}"),
        }
        let _ = std::fs::remove_file(path);
    }
}

pub(crate) fn vars() -> [(&'static str, &'static str); 2] {
    [("RW_GITHUB_TOKEN", TOKEN), ("RW_WEBHOOK_SECRET", WEBHOOK_SECRET)]
}

pub(crate) fn github_config(url: &str, log: &str, datasources: &str, targets: &str) -> String {
    format!(
        r#"
[settings]
state_dir = "state"

[github]
token = "env:RW_GITHUB_TOKEN"
api_url = "{url}"

[serve]
webhook_secret = "env:RW_WEBHOOK_SECRET"

{datasources}

[targets.log]
kind = "command"
command = ["sh", "-c", "echo \"$REPOWATCH_DATASOURCE $REPOWATCH_REF $REPOWATCH_COMMIT $REPOWATCH_KIND $REPOWATCH_KEY $REPOWATCH_SOURCE\" >> {log}"]
timeout = "30s"
{targets}
"#
    )
}

pub(crate) fn signed_webhook(url: &str, event: &str, delivery: &str, body: &Value) -> (u16, String) {
    let body = serde_json::to_vec(body).unwrap();
    let sig = signature::sign(&SecretString::new(WEBHOOK_SECRET), &body);
    http(
        "POST",
        &format!("{url}/webhooks/github"),
        &[
            ("content-type", "application/json"),
            ("x-github-event", event),
            ("x-github-delivery", delivery),
            ("x-hub-signature-256", &sig),
        ],
        &body,
    )
}

pub(crate) fn run_cli(env: &Env, args: &[&str]) -> (Value, String) {
    let out = env.command(args).envs(vars()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "repowatch {args:?}\n{stderr}");
    (serde_json::from_slice(&out.stdout).unwrap_or(Value::Null), stderr)
}

#[test]
fn a_signed_push_webhook_builds_once_and_the_daily_run_agrees() {
    let gh = Github::start();
    gh.fake.add_repo("octo/api", RepoSpec::default()).unwrap();
    gh.fake.set_branch("octo/api", "main", &sha("c1")).unwrap();
    let env = Env::new();
    let log = env.file("builds.log");
    env.write_config(&github_config(
        gh.fake.url(),
        &log,
        "[[datasources]]\nid = \"api\"\nrepo = \"octo/api\"\nwatch = [\"branch:main\"]\ntargets = [\"log\"]",
        "",
    ));
    let mut outputs = Vec::new();
    // The first run sets the baseline: nothing builds.
    let (report, stderr) = run_cli(&env, &["--json", "-v", "run", "--drain"]);
    outputs.push(report.to_string() + &stderr);
    assert_eq!(report["builds"].as_array().map(Vec::len), Some(0), "{report:#}");
    assert_eq!(report["github"]["graphql_requests"], 1);

    let server = Server::start(&env, &["--no-schedule"], &vars());
    gh.fake.set_branch("octo/api", "main", &sha("c2")).unwrap();
    let push = json!({
        "ref": "refs/heads/main",
        "before": sha("c1"),
        "after": sha("c2"),
        "created": false,
        "deleted": false,
        "repository": { "full_name": "octo/api", "name": "api", "owner": { "login": "octo" } },
    });
    let (code, text) = signed_webhook(&server.url, "push", "delivery-1", &push);
    assert_eq!(code, 202, "{text}");
    let took = wait_for(Duration::from_secs(10), "the webhook's build", || log_lines(&log).len() == 1);
    eprintln!("signed push webhook → build finished in {took:?}");
    let line = &log_lines(&log)[0];
    assert_eq!(&line[..4], &["api", "refs/heads/main", sha("c2").as_str(), "branch"]);
    assert_eq!(line[5], "webhook");

    // The same delivery again: a no-op.
    let (code, text) = signed_webhook(&server.url, "push", "delivery-1", &push);
    assert_eq!((code, text.contains("duplicate")), (200, true), "{text}");
    // A forged one: refused with no detail.
    let body = serde_json::to_vec(&push).unwrap();
    let forged = signature::sign(&SecretString::new("not the secret"), &body);
    let (code, text) = http(
        "POST",
        &format!("{}/webhooks/github", server.url),
        &[("x-github-event", "push"), ("x-github-delivery", "delivery-2"), ("x-hub-signature-256", &forged)],
        &body,
    );
    assert_eq!((code, text.trim()), (401, ""));
    std::thread::sleep(Duration::from_millis(600));
    let (code, _, stderr) = server.stop();
    assert_eq!(code, Some(0), "{stderr}");
    outputs.push(stderr);

    // The next daily run finds nothing new: the webhook and the poll converge.
    let (report, stderr) = run_cli(&env, &["--json", "-v", "run", "--drain"]);
    outputs.push(report.to_string() + &stderr);
    assert_eq!(report["builds"].as_array().map(Vec::len), Some(0), "{report:#}");
    assert_eq!(log_lines(&log).len(), 1, "exactly one build in all");

    for text in &outputs {
        assert!(!text.contains(TOKEN), "the token leaked:\n{text}");
        assert!(!text.contains(WEBHOOK_SECRET), "the webhook secret leaked:\n{text}");
    }
    gh.assert_contract("push-webhook");
}

#[test]
fn a_run_over_a_thousand_datasources_makes_ten_graphql_requests() {
    let gh = Github::start();
    let mut datasources = String::new();
    for i in 0..1000 {
        let repo = format!("org/repo-{i}");
        gh.fake.add_repo(&repo, RepoSpec::default()).unwrap();
        gh.fake.set_branch(&repo, "main", &sha(&repo)).unwrap();
        datasources.push_str(&format!(
            "[[datasources]]\nid = \"ds-{i}\"\nrepo = \"{repo}\"\nwatch = [\"branch:main\"]\ntargets = [\"log\"]\n\n"
        ));
    }
    let env = Env::new();
    env.write_config(&github_config(gh.fake.url(), &env.file("builds.log"), &datasources, ""));
    for round in 1..=2 {
        let (report, _) = run_cli(&env, &["--json", "run"]);
        assert_eq!(report["run"]["summary"]["status"], "ok", "{:#}", report["run"]["summary"]);
        assert_eq!(gh.fake.graphql_requests(), 10 * round, "⌈1000/100⌉ = 10 per run");
        assert_eq!(report["github"]["graphql_requests"], 10);
    }
    assert_eq!(gh.fake.rest_requests(), 0, "nothing changed: no follow-up");
}

#[test]
fn a_workflow_dispatch_build_carries_its_run_and_gets_its_result() {
    let gh = Github::start();
    gh.fake.add_repo("octo/api", RepoSpec::default()).unwrap();
    gh.fake.set_branch("octo/api", "main", &sha("c1")).unwrap();
    gh.fake.declare_workflow("octo/api", "deploy.yml", &["repowatch_key"]).unwrap();
    let env = Env::new();
    env.write_config(&github_config(
        gh.fake.url(),
        &env.file("builds.log"),
        "[[datasources]]\nid = \"api\"\nrepo = \"octo/api\"\nwatch = [\"branch:main\"]\nbuild_on_first_seen = true\ntargets = [\"deploy\"]",
        "\n[targets.deploy]\nkind = \"workflow_dispatch\"\nrepo = \"octo/api\"\nworkflow = \"deploy.yml\"\nref = \"main\"\nkey_input = \"repowatch_key\"\n\n\
         [[notify]]\nkind = \"discord\"\nurl = \"file:notify-url\"\non = [\"build\", \"summary\"]\n",
    ));
    // A channel for build messages, its URL in a file as a secret reference allows.
    let (channel_url, channel) = gh._rt.block_on(crate::support::notify_recorder());
    std::fs::write(env.path().join("notify-url"), &channel_url).unwrap();
    let titles = || -> Vec<String> {
        channel
            .lock()
            .unwrap()
            .iter()
            .map(|b| b["embeds"][0]["title"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (report, _) = run_cli(&env, &["--json", "run", "--drain"]);
    assert_eq!(
        titles(),
        ["ℹ️ 実行完了: 0件の変更、1件のビルドを登録", "ℹ️ ビルド開始: api main"],
        "the run and the dispatch are told, in the default language"
    );
    let summary = channel.lock().unwrap()[0].to_string();
    assert!(summary.contains("GitHub API 残り"), "the run summary says what is left of GitHub's budget: {summary}");
    let build = &report["builds"][0];
    assert_eq!(build["outcome"], "dispatched", "{report:#}");
    let run_id = build["run"]["id"].as_u64().expect("the run id GitHub returned");
    let dispatched = gh.fake.dispatches();
    assert_eq!(dispatched.len(), 1);
    assert_eq!(dispatched[0].body["inputs"]["repowatch_key"], build["key"]);

    // GitHub reports the run's result: it lands on the build.
    let server = Server::start(&env, &["--no-schedule"], &vars());
    let completed = json!({
        "action": "completed",
        "workflow_run": {
            "id": run_id, "status": "completed", "conclusion": "failure", "head_sha": sha("c1"),
            "html_url": format!("https://github.com/octo/api/actions/runs/{run_id}"),
        },
        "repository": { "full_name": "octo/api" },
    });
    let (code, text) = signed_webhook(&server.url, "workflow_run", "d-run-1", &completed);
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("recorded"), "{text}");
    let (code, _, stderr) = server.stop();
    assert_eq!(code, Some(0), "{stderr}");
    // The result reached the channel, with the run's link (sent before serve stopped).
    assert_eq!(titles()[2], "🚨 ビルド失敗 (failure): api main");
    let finished = channel.lock().unwrap()[2].to_string();
    assert!(finished.contains(&format!("https://github.com/octo/api/actions/runs/{run_id}")), "{finished}");
    let status: Value = serde_json::from_str(&env.ok(&["--json", "status"])).unwrap();
    let result = &status["builds"][0]["result"];
    assert_eq!((result["status"].as_str(), result["conclusion"].as_str()), (Some("completed"), Some("failure")));
    gh.assert_contract("workflow-run");
}
