//! `repowatch sync`: what it accepts for AWS, `--dry-run` without AWS, and a
//! clear error from the default build (which links no AWS SDK).

use crate::support::*;

const CLOUD: &str = r#"
[github]
token = "env:GITHUB_TOKEN"

[[datasources]]
id = "api"
repo = "octo/api"
targets = ["deploy", "gpu"]

[targets.deploy]
kind = "repository_dispatch"
repo = "octo/api"
event_type = "build"

[targets.gpu]
kind = "webhook"
url = "https://builder.example/webhooks/build"
secret = "ssm:/repowatch/targets/gpu"
"#;

#[test]
fn dry_run_checks_and_prints_without_aws() {
    let env = Env::new();
    env.write_config(CLOUD);
    let out = env.ok(&["sync", "--dry-run", "--table", "repowatch-dev-Table"]);
    assert!(
        out.contains("would write 1 datasource(s) [api] and 2 target(s) [deploy, gpu] to repowatch-dev-Table"),
        "{out}"
    );
    // The default build cannot write; it says how to get one that can.
    let out = env.cli(&["sync", "--table", "t"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--features aws"));
    let out = env.cli(&["sync"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--table is missing"));
}

#[test]
fn what_cannot_run_on_aws_is_refused_by_name() {
    let env = Env::new();
    env.write_config(
        r#"
[[datasources]]
id = "local"
path = "."
targets = ["build", "hook"]

[targets.build]
kind = "command"
command = ["make"]

[targets.hook]
kind = "webhook"
url = "https://builder.example/build"
secret = "env:HOOK_SECRET"

[[notify]]
kind = "webhook"
url = "env:OPS_HOOK_URL"
secret = "file:ops-secret"
"#,
    );
    let out = env.cli(&["sync", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "datasource \"local\"",
        "target \"build\" is a command",
        "target \"hook\"",
        "ssm:/repowatch/targets/hook",
        "notify[0].url = \"env:OPS_HOOK_URL\" cannot be read by the Lambda functions",
        "notify[0].secret = \"file:",
        "ssm:/repowatch/notify/webhook-url",
    ] {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
    assert!(stderr.contains("5 problem(s): nothing was written"), "{stderr}");
}
