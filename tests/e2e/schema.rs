//! The JSON Schema of repowatch.toml (schema/repowatch.schema.json) and the
//! config parser agree: the files the parser accepts, the schema accepts; the
//! mistakes the schema can express, both refuse. The schema is checked with
//! Ajv (npm, strict mode), the validator most editors' JSON Schema support is
//! built on; `scripts/test.sh` installs it into `~/.cache/repowatch/node`.
//! Without Node (a clone without npm) the Ajv side is skipped with a message;
//! `REPOWATCH_REQUIRE_NODE=1` (CI) makes that a failure.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::workspace_root;

/// A file that sets every key the parser accepts, in every table.
const EVERY_KEY: &str = r#"
[settings]
timezone = "Europe/Berlin"
schedule = "30 6 * * MON-FRI"
language = "en"
state_dir = "/var/lib/repowatch"

[github]
token = "env:GITHUB_TOKEN"
api_url = "https://github.example.com/api/v3"

[[datasources]]
id = "api"
repo = "octo-org/api"
watch = ["branch:main", "branch:release/*", "tag:v*", "release"]
paths = ["src/**", "Cargo.*"]
cooldown = "10m"
targets = ["deploy", "event", "gpu"]
build_on_first_seen = true

[[datasources]]
id = "site"
path = "/srv/git/site"
targets = ["local"]

[targets.deploy]
kind = "workflow_dispatch"
repo = "octo-org/api"
workflow = "deploy.yml"
ref = "main"
inputs = { environment = "prod" }
key_input = "repowatch_key"

[targets.event]
kind = "repository_dispatch"
repo = "octo-org/infra"
event_type = "repowatch-build"

[targets.gpu]
kind = "webhook"
url = "https://gpu.example.net/webhooks/build"
secret = "ssm:/repowatch/targets/gpu"

[targets.local]
kind = "command"
command = ["make", "deploy"]
workdir = "/srv/apps/site"
timeout = "30m"

[serve]
listen = "127.0.0.1:8080"
webhook_secret = "env:GITHUB_WEBHOOK_SECRET"
build_secret = "file:/run/secrets/build"
build_targets = ["local"]
status_token = "env:REPOWATCH_STATUS_TOKEN"

[[notify]]
kind = "discord"
url = "env:DISCORD_WEBHOOK_URL"
on = ["failure", "build", "summary", "alarm"]
quiet_runs = true

[[notify]]
kind = "webhook"
url = "env:OPS_HOOK_URL"
secret = "env:OPS_HOOK_SECRET"
"#;

/// Mistakes in [`EVERY_KEY`] that the schema can express: (what, line to replace, replacement).
/// The replacement may span lines; an empty one removes the line.
const MISTAKES: &[(&str, &str, &str)] = &[
    ("unknown top-level table", "[settings]", "[setings]"),
    ("unknown key in [settings]", "language = \"en\"", "langauge = \"en\""),
    ("unsupported language", "language = \"en\"", "language = \"fr\""),
    ("schedule with six fields", "schedule = \"30 6 * * MON-FRI\"", "schedule = \"0 30 6 * * MON-FRI\""),
    ("literal token", "token = \"env:GITHUB_TOKEN\"", "token = \"ghp_0123456789abcdef\""),
    ("[github] without token", "token = \"env:GITHUB_TOKEN\"", ""),
    ("api_url not http(s)", "api_url = \"https://github.example.com/api/v3\"", "api_url = \"github.example.com\""),
    ("datasource without id", "id = \"api\"", ""),
    ("id with capitals", "id = \"api\"", "id = \"API\""),
    ("both repo and path", "id = \"site\"", "id = \"site\"\nrepo = \"octo-org/site\""),
    ("neither repo nor path", "path = \"/srv/git/site\"", ""),
    ("repo without owner", "repo = \"octo-org/api\"\nwatch", "repo = \"api\"\nwatch"),
    ("unknown watch rule kind", "\"tag:v*\", \"release\"]", "\"tags:v*\", \"release\"]"),
    ("cooldown without a number", "cooldown = \"10m\"", "cooldown = \"soon\""),
    ("datasource without targets", "\ntargets = [\"local\"]", ""),
    ("empty target list", "\ntargets = [\"local\"]", "\ntargets = []"),
    ("build_on_first_seen as a string", "build_on_first_seen = true", "build_on_first_seen = \"yes\""),
    ("target without kind", "kind = \"repository_dispatch\"\n", ""),
    ("unknown target kind", "kind = \"command\"", "kind = \"shell\""),
    ("target name with a space", "[targets.local]", "[targets.\"my local\"]"),
    ("workflow_dispatch without ref", "ref = \"main\"", ""),
    ("key of another kind", "key_input = \"repowatch_key\"", "key_input = \"repowatch_key\"\ntimeout = \"1m\""),
    ("event_type over 100 characters", "event_type = \"repowatch-build\"", "event_type = \"REPEAT\""),
    ("webhook target without secret", "secret = \"ssm:/repowatch/targets/gpu\"", ""),
    ("empty command", "command = [\"make\", \"deploy\"]", "command = []"),
    ("command as a string", "command = [\"make\", \"deploy\"]", "command = \"make deploy\""),
    ("timeout as a number", "timeout = \"30m\"", "timeout = 30"),
    (
        "literal webhook secret in [serve]",
        "webhook_secret = \"env:GITHUB_WEBHOOK_SECRET\"",
        "webhook_secret = \"hunter2\"",
    ),
    ("unknown notify kind", "kind = \"discord\"", "kind = \"teams\""),
    (
        "notify url that is a URL, not a reference",
        "url = \"env:DISCORD_WEBHOOK_URL\"",
        "url = \"https://discord.com/api/webhooks/1/x\"",
    ),
    ("unknown notify event", "on = [\"failure\", \"build\", \"summary\", \"alarm\"]", "on = [\"failures\"]"),
    ("signing secret on a discord channel", "quiet_runs = true", "quiet_runs = true\nsecret = \"env:S\""),
    ("webhook channel without secret", "secret = \"env:OPS_HOOK_SECRET\"", ""),
    ("quiet_runs as a string", "quiet_runs = true", "quiet_runs = \"true\""),
];

fn mistake(line: &str, replacement: &str) -> String {
    assert_eq!(EVERY_KEY.matches(line).count(), 1, "{line:?} appears once in EVERY_KEY");
    let replacement = replacement.replace("REPEAT", &"x".repeat(101));
    EVERY_KEY.replacen(line, &replacement, 1)
}

fn parser_accepts(text: &str) -> Result<(), String> {
    let dir = Path::new("/srv/config");
    repowatch::config::parse(text, &dir.join("repowatch.toml"), dir).map(drop).map_err(|e| e.to_string())
}

fn to_json(text: &str) -> Value {
    let value: toml::Value = toml::from_str(text).expect("the case is TOML");
    serde_json::to_value(value).expect("TOML converts to JSON")
}

/// Ajv's verdict on each case, or why it could not run.
fn ajv(cases: &[(String, Value)]) -> Result<Vec<(bool, Vec<String>)>, String> {
    let modules = repowatch_github_fake::node_modules_dir().ok_or("HOME is not set")?;
    if !modules.join("ajv/dist/2020.js").exists() {
        return Err(format!(
            "ajv is not installed under {} (scripts/test.sh installs it: npm install --prefix ~/.cache/repowatch/node ajv@8.17.1)",
            modules.display()
        ));
    }
    let root = workspace_root();
    let mut child = Command::new("node")
        .arg(root.join("scripts/check-config-schema.mjs"))
        .arg(root.join(repowatch::config::SCHEMA_PATH))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("node does not run: {e}"))?;
    let input: Vec<Value> = cases.iter().map(|(name, doc)| json!({ "name": name, "doc": doc })).collect();
    child.stdin.take().unwrap().write_all(serde_json::to_string(&input).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "check-config-schema.mjs failed: {}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    Ok(results
        .iter()
        .map(|r| {
            let errors = r["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()).collect();
            (r["valid"].as_bool().unwrap(), errors)
        })
        .collect())
}

/// Runs Ajv on the cases; `None` (with a message) when it cannot run here and is not required.
fn ajv_or_skip(cases: &[(String, Value)]) -> Option<Vec<(bool, Vec<String>)>> {
    match ajv(cases) {
        Ok(verdicts) => Some(verdicts),
        Err(why) if repowatch_github_fake::node_required() => panic!("REPOWATCH_REQUIRE_NODE=1 but {why}"),
        Err(why) => {
            eprintln!("the JSON Schema check with Ajv is skipped: {why}");
            None
        }
    }
}

/// Every ```toml block of the docs users read.
fn doc_blocks() -> Vec<(String, String)> {
    let root = workspace_root();
    let mut out = Vec::new();
    for doc in ["README.md", "docs/configuration.md", "docs/deployment.md", "docs/operations.md", "docs/ja/README.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap_or_default();
        for (i, block) in text.split("```toml\n").skip(1).enumerate() {
            let body = block.split("```").next().unwrap_or_default();
            out.push((format!("{doc} toml block {}", i + 1), body.to_owned()));
        }
    }
    out
}

#[test]
fn the_parser_and_the_schema_accept_the_same_good_files_and_refuse_the_same_mistakes() {
    let shipped = std::fs::read_to_string(workspace_root().join("repowatch.toml")).unwrap();
    parser_accepts(EVERY_KEY).expect("EVERY_KEY is a valid file");
    parser_accepts(&shipped).expect("the embedded default is a valid file");

    let mut cases =
        vec![("EVERY_KEY".to_owned(), to_json(EVERY_KEY)), ("repowatch.toml".to_owned(), to_json(&shipped))];
    let blocks = doc_blocks();
    assert!(blocks.len() >= 9, "the docs' TOML examples were found: {}", blocks.len());
    cases.extend(blocks.iter().map(|(name, text)| (name.clone(), to_json(text))));
    let good = cases.len();
    for (what, line, replacement) in MISTAKES {
        let text = mistake(line, replacement);
        assert!(parser_accepts(&text).is_err(), "the parser accepts a file with a mistake: {what}");
        cases.push(((*what).to_owned(), to_json(&text)));
    }

    let Some(verdicts) = ajv_or_skip(&cases) else { return };
    let mut wrong = Vec::new();
    for (i, ((name, _), (valid, errors))) in cases.iter().zip(&verdicts).enumerate() {
        match (i < good, valid) {
            (true, false) => wrong.push(format!("schema refuses a good file, {name}: {errors:?}")),
            (false, true) => wrong.push(format!("schema accepts a mistake the parser refuses: {name}")),
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(verdicts.len(), good + MISTAKES.len());
}
