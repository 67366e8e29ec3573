use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;

use super::*;

const FILE: &str = "repowatch.toml";
const BASE: &str = "/srv/rw";

fn parse_ok(text: &str) -> Config {
    match parse(text, Path::new(FILE), Path::new(BASE)) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid file, got:\n{e}"),
    }
}

fn parse_err(text: &str) -> String {
    match parse(text, Path::new(FILE), Path::new(BASE)) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// The smallest valid file; broken cases below change one thing of it.
const MINIMAL: &str = r#"[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#;

#[test]
fn broken_files_report_file_line_field_and_what_to_write() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "unknown key (with a suggestion and the accepted keys)",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy"]
cooldwn = "5m"

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:5:1: datasources[0].cooldwn: unknown key "cooldwn" in [[datasources]] (did you mean "cooldown"?); accepted keys: id, repo, path, watch, paths, cooldown, targets, build_on_first_seen"#,
        ),
        (
            "unknown table at the top level",
            r#"[setting]
timezone = "UTC"

[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:1:2: setting: unknown key "setting" at the top level (did you mean "settings"?); accepted keys: settings, github, datasources, targets, serve, notify"#,
        ),
        (
            "unknown key of a target kind",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
workflow = "deploy.yml"
"#,
            r#"repowatch.toml:9:1: targets.deploy.workflow: unknown key "workflow" in a command target; accepted keys: kind, command, workdir, timeout"#,
        ),
        (
            "wrong type",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
targets = "deploy"

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:4:11: datasources[0].targets: expected a list, found string "deploy""#,
        ),
        (
            "bad glob in watch",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
watch = ["branch:main", "tag:[v"]
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:4:25: datasources[0].watch: "tag:[v" is not a valid glob: unclosed character class; missing ']'"#,
        ),
        (
            "bad glob in paths",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
paths = ["src/{a"]
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:4:10: datasources[0].paths: "src/{a" is not a valid glob: unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?)"#,
        ),
        (
            "watch rule without a kind",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
watch = ["main"]
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:4:10: datasources[0].watch: "main" has no kind; write "branch:<glob>", "tag:<glob>" or "release""#,
        ),
        (
            "bad duration",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
cooldown = "10 minutes please"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:4:12: datasources[0].cooldown: "10 minutes please" is not a duration; write a number with a unit, e.g. "90s", "10m", "1h 30m""#,
        ),
        (
            "unknown target kind",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy"]

[targets.deploy]
kind = "lambda"
"#,
            r#"repowatch.toml:7:8: targets.deploy.kind: unknown kind "lambda"; write one of: workflow_dispatch, repository_dispatch, webhook, command"#,
        ),
        (
            "undefined target",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy", "deplyo"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:4:22: datasources[0].targets: target "deplyo" is not defined; add a [targets.deplyo] table, or use one of: deploy"#,
        ),
        (
            "duplicate datasource id",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy"]

[[datasources]]
id = "api"
repo = "octo-org/api-v2"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:7:6: datasources[1].id: duplicate id "api"; ids must be unique (first used on line 2)"#,
        ),
        (
            "invalid ids",
            r#"[[datasources]]
id = "API"
repo = "octo-org/api"
targets = ["deploy"]

[targets.Deploy]
kind = "command"
command = ["make"]
"#,
            "repowatch.toml:2:6: datasources[0].id: datasource id \"API\" is not valid: use 1 to 64 characters from a-z, 0-9 and '-'\n\
             repowatch.toml:4:12: datasources[0].targets: target \"deploy\" is not defined; add a [targets.deploy] table, or use one of: Deploy\n\
             repowatch.toml:6:10: targets.Deploy: target name \"Deploy\" is not valid: use 1 to 64 characters from a-z, 0-9 and '-'",
        ),
        (
            "secret written as a literal",
            r#"[github]
token = "ghp_R3alLookingT0kenValue0123456789"

[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:2:9: github.token: a secret must not be written in the file; write a reference instead: "env:NAME", "file:PATH" or "ssm:/path""#,
        ),
        (
            "secret of the wrong type",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["gpu"]

[targets.gpu]
kind = "webhook"
url = "https://builder.example.internal/build"
secret = 918273645
"#,
            r#"repowatch.toml:9:10: targets.gpu.secret: expected a reference string such as "env:NAME", "file:PATH" or "ssm:/path", found an integer"#,
        ),
        (
            "bad time zone",
            r#"[settings]
timezone = "Asia/Tokio"

[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:2:12: settings.timezone: unknown time zone "Asia/Tokio"; use an IANA name such as "Asia/Tokyo", "Europe/Berlin" or "UTC""#,
        ),
        (
            "bad cron: out of range",
            r#"[settings]
schedule = "0 25 * * *"

[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:2:12: settings.schedule: "0 25 * * *" is not a valid schedule: the hour field "25" is invalid (Number out of bounds); write 5 fields: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12) day-of-week (0-7), e.g. "0 17 * * *""#,
        ),
        (
            "bad cron: six fields",
            r#"[settings]
schedule = "0 0 17 * * *"

[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:2:12: settings.schedule: "0 0 17 * * *" has 6 fields; write 5 fields: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12) day-of-week (0-7), e.g. "0 17 * * *""#,
        ),
        (
            "both repo and path",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
path = "/srv/git/api"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:4:8: datasources[0].path: both repo and path are set; keep repo for a GitHub repository or path for a local git repository, not both"#,
        ),
        (
            "neither repo nor path",
            r#"[[datasources]]
id = "api"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:1:1: datasources[0]: missing repo or path; add repo = "owner/name" for a GitHub repository or path = "/srv/git/api" for a local git repository"#,
        ),
        (
            "TOML syntax error",
            r#"[[datasources]]
id = api
"#,
            r#"repowatch.toml:2:6: invalid TOML: string values must be quoted, expected literal string"#,
        ),
        (
            "TOML duplicate key",
            r#"[[datasources]]
id = "api"
id = "web"
"#,
            r#"repowatch.toml:3:1: invalid TOML: duplicate key; a key or [table] may appear only once (use [[name]] for a list of tables)"#,
        ),
        (
            "release rule on a path datasource",
            r#"[[datasources]]
id = "api"
path = "/srv/git/api"
watch = ["branch:main", "release"]
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml:4:25: datasources[0].watch: "release": a local git repository has no releases; watch "tag:<glob>" instead, or use repo for a GitHub repository"#,
        ),
        (
            "no datasources at all",
            r#"[targets.deploy]
kind = "command"
command = ["make"]
"#,
            r#"repowatch.toml: datasources: declare at least one [[datasources]] table, with an id, a repo or path, and targets (or, for a build runner only, [serve] build_targets)"#,
        ),
        (
            "single brackets where a list is expected",
            r#"[datasources]
id = "api"
"#,
            r#"repowatch.toml:1:1: datasources: write [[datasources]] with double brackets: each one is an entry of a list"#,
        ),
        (
            "missing required keys of a target",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy"]

[targets.deploy]
kind = "workflow_dispatch"
repo = "octo-org/api"
"#,
            "repowatch.toml:6:1: targets.deploy.workflow: missing; add e.g. workflow = \"deploy.yml\"\n\
             repowatch.toml:6:1: targets.deploy.ref: missing; add e.g. ref = \"main\"",
        ),
        (
            "key_input also in inputs, and a webhook url that is not http",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy", "gpu"]

[targets.deploy]
kind = "workflow_dispatch"
repo = "octo-org/api"
workflow = "deploy.yml"
ref = "main"
inputs = { repowatch_key = "x" }
key_input = "repowatch_key"

[targets.gpu]
kind = "webhook"
url = "ftp://builder"
secret = "env:GPU_SECRET"
"#,
            "repowatch.toml:12:13: targets.deploy.key_input: \"repowatch_key\" is also set in inputs; repowatch fills it with the idempotency key, so remove it from inputs\n\
             repowatch.toml:16:7: targets.gpu.url: \"ftp://builder\" is not an http(s) URL; write e.g. \"https://builder.example.internal/build\"",
        ),
        (
            "serve and notify",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]

[serve]
listen = "localhost"

[[notify]]
kind = "teams"
url = "env:HOOK"
on = ["failure", "everything"]
"#,
            "repowatch.toml:11:10: serve.listen: \"localhost\" is not an address; write IP:PORT, e.g. \"127.0.0.1:8080\" (or \"0.0.0.0:8080\" for every interface)\n\
             repowatch.toml:14:8: notify[0].kind: unknown kind \"teams\"; write one of: discord, slack, webhook\n\
             repowatch.toml:16:18: notify[0].on: unknown event \"everything\"; write one of: failure, build, summary, alarm",
        ),
        (
            "two problems in one file, in different tables",
            r#"[settings]
timezone = "Mars/Olympus"

[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["deploy"]

[[datasources]]
id = "api"
repo = "octo-org/web"
targets = ["deploy"]

[targets.deploy]
kind = "command"
command = ["make"]
"#,
            "repowatch.toml:2:12: settings.timezone: unknown time zone \"Mars/Olympus\"; use an IANA name such as \"Asia/Tokyo\", \"Europe/Berlin\" or \"UTC\"\n\
             repowatch.toml:10:6: datasources[1].id: duplicate id \"api\"; ids must be unique (first used on line 5)",
        ),
        (
            "several problems in one table: type error, unknown key and semantic errors all reported",
            r#"[[datasources]]
id = "api"
repo = "octo-org/api"
cooldown = 10
watch = ["branch:[", "tag:v*"]
targets = ["deploy", "nowhere"]
colldown = "1m"

[targets.deploy]
kind = "command"
command = ["make"]
timeout = "0s"
"#,
            "repowatch.toml:4:12: datasources[0].cooldown: expected a string, found integer `10`\n\
             repowatch.toml:5:10: datasources[0].watch: \"branch:[\" is not a valid glob: unclosed character class; missing ']'\n\
             repowatch.toml:6:22: datasources[0].targets: target \"nowhere\" is not defined; add a [targets.nowhere] table, or use one of: deploy\n\
             repowatch.toml:7:1: datasources[0].colldown: unknown key \"colldown\" in [[datasources]] (did you mean \"cooldown\"?); accepted keys: id, repo, path, watch, paths, cooldown, targets, build_on_first_seen\n\
             repowatch.toml:12:11: targets.deploy.timeout: must be more than zero; write e.g. \"30m\"",
        ),
    ];
    let mut failures = Vec::new();
    for (name, text, expected) in cases {
        let actual = parse_err(text);
        if actual != *expected {
            failures.push(format!("--- {name}\nexpected:\n{expected}\nactual:\n{actual}\n"));
        }
    }
    assert!(failures.is_empty(), "{} case(s) differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn secret_literals_are_never_echoed() {
    let token = "ghp_R3alLookingT0kenValue0123456789";
    let hook = "https://discord.com/api/webhooks/123456/SuperSecretHookToken";
    let text = format!(
        r#"[github]
token = "{token}"

[serve]
webhook_secret = "{token}"

[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["gpu"]

[targets.gpu]
kind = "webhook"
url = "https://builder.example.internal/build"
secret = "{token}"

[[notify]]
kind = "discord"
url = "{hook}"
"#
    );
    let err = parse_err(&text);
    assert_eq!(err.lines().count(), 4, "{err}");
    for line in err.lines() {
        assert!(line.ends_with("a secret must not be written in the file; write a reference instead: \"env:NAME\", \"file:PATH\" or \"ssm:/path\""), "{line}");
    }
    assert!(!err.contains(token), "{err}");
    assert!(!err.contains(hook), "{err}");
    assert!(!err.contains("SuperSecret"), "{err}");
    let debug = format!("{:?}", parse(&text, Path::new(FILE), Path::new(BASE)).err());
    assert!(!debug.contains(token) && !debug.contains("SuperSecret"), "{debug}");
}

#[test]
fn problem_display_and_fields() {
    let text = MINIMAL.replace("repo = \"octo-org/api\"", "repo = \"octo-org/api\"\ncooldown = \"soon\"");
    let err = match parse(&text, Path::new("conf/repowatch.toml"), Path::new(BASE)) {
        Err(e) => e,
        Ok(_) => panic!("must fail"),
    };
    assert_eq!(err.problems.len(), 1);
    let p = &err.problems[0];
    assert_eq!(p.file, PathBuf::from("conf/repowatch.toml"));
    assert_eq!((p.line, p.column), (Some(4), Some(12)));
    assert_eq!(p.field.as_deref(), Some("datasources[0].cooldown"));
    assert_eq!(p.to_string(), format!("conf/repowatch.toml:4:12: datasources[0].cooldown: {}", p.message));
    let bare = Problem { file: "x.toml".into(), line: None, column: None, field: None, message: "m".into() };
    assert_eq!(bare.to_string(), "x.toml: m");
}

#[test]
fn full_example_parses_to_the_expected_values() {
    let text = include_str!("../../tests/config/full.toml");
    let c = parse_ok(text);
    assert_eq!(c.path, PathBuf::from(FILE));
    assert_eq!(c.base_dir, PathBuf::from(BASE));

    assert_eq!(c.settings.timezone_name, "Asia/Tokyo");
    assert_eq!(c.settings.timezone.iana_name(), Some("Asia/Tokyo"));
    assert_eq!(c.settings.schedule, "0 17 * * *");
    assert_eq!(c.settings.language, Language::Ja);
    assert_eq!(c.settings.state_dir, PathBuf::from("/srv/rw/.repowatch"));

    let gh = c.github.as_ref().map(|g| (g.token.to_string(), g.api_url.as_str()));
    assert_eq!(gh, Some(("ssm:/repowatch/github-token".to_owned(), "https://api.github.com")));

    assert_eq!(c.datasources.len(), 2);
    let api = &c.datasources[0];
    assert_eq!(api.id.as_str(), "api");
    assert_eq!(api.location, Location::Github(RepoSlug::parse("octo-org/api").unwrap()));
    assert_eq!(api.watch, WatchRules::parse(&["branch:main", "branch:release/*", "tag:v*", "release"]).unwrap());
    assert_eq!(api.paths, Some(PathFilter::parse(&["src/**", "Cargo.*"]).unwrap()));
    assert_eq!(api.cooldown, Duration::from_secs(600));
    assert_eq!(api.targets, vec![TargetId::parse("deploy").unwrap()]);
    assert!(!api.build_on_first_seen);
    let site = &c.datasources[1];
    assert_eq!(site.id.as_str(), "site", "declared order is kept");
    assert_eq!(site.location, Location::Path(PathBuf::from("/srv/rw/repos/site")));
    assert_eq!(site.paths, None);
    assert_eq!(site.cooldown, Duration::ZERO);
    assert_eq!(site.targets, vec![TargetId::parse("local").unwrap(), TargetId::parse("gpu").unwrap()]);
    assert!(site.build_on_first_seen);

    let t = |name: &str| c.targets.get(&TargetId::parse(name).unwrap()).cloned();
    assert_eq!(c.targets.len(), 4, "an unused target is fine");
    assert_eq!(
        t("deploy"),
        Some(TargetSpec::WorkflowDispatch {
            repo: RepoSlug::parse("octo-org/api").unwrap(),
            workflow: "deploy.yml".into(),
            git_ref: "main".into(),
            inputs: [("environment".to_owned(), "prod".to_owned())].into(),
            key_input: Some("repowatch_key".into()),
        })
    );
    assert_eq!(
        t("notify-ops"),
        Some(TargetSpec::RepositoryDispatch {
            repo: RepoSlug::parse("octo-org/ops").unwrap(),
            event_type: "repowatch-build".into()
        })
    );
    assert_eq!(
        t("gpu"),
        Some(TargetSpec::Webhook {
            url: "https://builder.example.internal/build".into(),
            secret: SecretRef::Ssm("/repowatch/gpu-secret".into()),
        })
    );
    assert_eq!(
        t("local"),
        Some(TargetSpec::Command {
            command: ["docker", "compose", "up", "-d", "--build"].map(String::from).to_vec(),
            workdir: Some(PathBuf::from("/srv/apps/api")),
            timeout: Duration::from_secs(1800),
        })
    );

    assert_eq!(
        c.serve,
        Some(ServeSettings {
            listen: "127.0.0.1:8080".parse().unwrap(),
            webhook_secret: Some(SecretRef::Env("GITHUB_WEBHOOK_SECRET".into())),
            build_secret: None,
            build_targets: vec![],
            status_token: None,
        })
    );
    assert_eq!(
        c.notify,
        vec![
            NotifyChannel {
                kind: NotifyKind::Discord,
                url: SecretRef::Env("DISCORD_WEBHOOK_URL".into()),
                secret: None,
                on: vec![NotifyOn::Failure, NotifyOn::Build, NotifyOn::Summary, NotifyOn::Alarm],
                quiet_runs: false,
            },
            NotifyChannel {
                kind: NotifyKind::Slack,
                url: SecretRef::File(PathBuf::from("/srv/rw/secrets/slack-url")),
                secret: None,
                on: vec![NotifyOn::Failure, NotifyOn::Alarm],
                quiet_runs: false,
            },
        ]
    );
}

#[test]
fn the_design_example_is_valid() {
    // DESIGN.md's block verbatim (the datasource names only "deploy"; gpu and
    // local are unused, which is fine).
    let design = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/DESIGN.md"));
    let Ok(design) = design else { return }; // DESIGN.md lives outside the repository
    let Some(block) = design.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()) else {
        panic!("no toml block in DESIGN.md")
    };
    if block.contains("[[datasources]]") {
        parse_ok(block);
    }
}

#[test]
fn the_shipped_repowatch_toml_is_valid() {
    let file = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../repowatch.toml"));
    if !file.exists() {
        return;
    }
    let c = match load(file) {
        Ok(c) => c,
        Err(e) => panic!("the repository's own repowatch.toml must load:\n{e}"),
    };
    assert!(!c.datasources.is_empty());
}

#[test]
fn defaults() {
    let c = parse_ok(MINIMAL);
    assert_eq!(c.settings.timezone_name, "Asia/Tokyo");
    assert_eq!(c.settings.timezone, jiff::tz::TimeZone::get("Asia/Tokyo").unwrap());
    assert_eq!(c.settings.schedule, "0 17 * * *");
    assert_eq!(c.settings.language, Language::Ja);
    assert_eq!(c.settings.state_dir, PathBuf::from("/srv/rw/.repowatch"));
    assert!(c.github.is_none());
    assert!(c.serve.is_none());
    assert!(c.notify.is_empty());
    let d = &c.datasources[0];
    assert_eq!(d.watch, WatchRules::parse(&["branch:*"]).unwrap());
    assert_eq!(d.paths, None);
    assert_eq!(d.cooldown, Duration::ZERO);
    assert!(!d.build_on_first_seen);
    let Some(TargetSpec::Command { workdir, timeout, .. }) = c.targets.values().next() else {
        panic!("command target")
    };
    assert_eq!(*workdir, None);
    assert_eq!(*timeout, Duration::from_secs(30 * 60));

    let c = parse_ok(&format!(
        "{MINIMAL}\n[github]\ntoken = \"env:GITHUB_TOKEN\"\n\n[serve]\n\n[[notify]]\nkind = \"webhook\"\nurl = \"env:HOOK_URL\"\nsecret = \"env:HOOK_SECRET\"\nquiet_runs = true\n\n[settings]\nlanguage = \"en\"\ntimezone = \"UTC\"\n"
    ));
    assert_eq!(c.github.map(|g| g.api_url), Some("https://api.github.com".to_owned()));
    assert_eq!(
        c.serve,
        Some(ServeSettings {
            listen: "127.0.0.1:8080".parse().unwrap(),
            webhook_secret: None,
            build_secret: None,
            build_targets: vec![],
            status_token: None,
        })
    );
    assert_eq!(c.notify[0].on, vec![NotifyOn::Failure, NotifyOn::Alarm]);
    assert_eq!(c.notify[0].secret, Some(SecretRef::Env("HOOK_SECRET".into())));
    assert!(c.notify[0].quiet_runs);
    assert_eq!(c.settings.language, Language::En);
    assert_eq!(c.settings.timezone, jiff::tz::TimeZone::UTC);
    assert_eq!(c.settings.schedule, DEFAULT_SCHEDULE);
}

#[test]
fn relative_paths_resolve_against_the_file_directory() {
    let text = r#"[settings]
state_dir = "./state"

[[datasources]]
id = "a"
path = "repos/a"
targets = ["local"]

[[datasources]]
id = "b"
path = "../git/b"
targets = ["local"]

[[datasources]]
id = "c"
path = "/abs/c"
targets = ["local"]

[targets.local]
kind = "command"
command = ["./build.sh"]
workdir = "."
"#;
    let c = parse_ok(text);
    let paths: Vec<_> = c.datasources.iter().map(|d| d.location.clone()).collect();
    assert_eq!(
        paths,
        vec![
            Location::Path("/srv/rw/repos/a".into()),
            Location::Path("/srv/rw/../git/b".into()),
            Location::Path("/abs/c".into()),
        ]
    );
    assert_eq!(c.settings.state_dir, PathBuf::from("/srv/rw/state"));
    let Some(TargetSpec::Command { workdir, command, .. }) = c.targets.values().next() else {
        panic!("command target")
    };
    assert_eq!(workdir.as_deref(), Some(Path::new("/srv/rw")));
    assert_eq!(command, &vec!["./build.sh".to_owned()], "argv is not rewritten");

    let home = parse_err(&text.replace("repos/a", "~/repos/a"));
    assert_eq!(
        home,
        "repowatch.toml:6:8: datasources[0].path: ~ is not expanded; write an absolute path, or one relative to the directory of this file"
    );
}

#[test]
fn load_reads_the_file_and_resolves_against_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("conf");
    std::fs::create_dir(&sub).unwrap();
    let file = sub.join(DEFAULT_FILE);
    std::fs::write(&file, MINIMAL.replace("repo = \"octo-org/api\"", "path = \"api\"")).unwrap();
    let c = load(&file).unwrap();
    assert_eq!(c.path, file);
    assert_eq!(c.base_dir, sub);
    assert_eq!(c.datasources[0].location, Location::Path(sub.join("api")));
    assert_eq!(c.settings.state_dir, sub.join(".repowatch"));
}

#[test]
fn load_explains_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join(DEFAULT_FILE);
    let err = load(&missing).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: file not found; create it (docs/configuration.md lists every key; the smallest file is one [[datasources]] with id, repo or path, and targets, plus the [targets.<name>] it names), or pass --config with the path of an existing file",
            missing.display()
        )
    );
    let err = load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("is a directory; pass the file itself"), "{err}");
    std::fs::write(&missing, b"[[datasources]]\nid = \"\xff\"\n").unwrap();
    let err = load(&missing).unwrap_err().to_string();
    assert_eq!(err, format!("{}:2:7: the file is not UTF-8 text; save it as UTF-8", missing.display()));
}

#[test]
fn every_target_kind_and_limit() {
    let inputs: String = (0..25).map(|i| format!("i{i} = \"v\"")).collect::<Vec<_>>().join(", ");
    let text = format!(
        r#"[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["wd", "rd"]

[targets.wd]
kind = "workflow_dispatch"
repo = "octo-org/api"
workflow = "deploy.yml"
ref = "main"
inputs = {{ {inputs} }}
key_input = "repowatch_key"

[targets.rd]
kind = "repository_dispatch"
repo = "octo-org/api"
event_type = "{long}"
"#,
        long = "e".repeat(101)
    );
    assert_eq!(
        parse_err(&text),
        "repowatch.toml:11:10: targets.wd.inputs: 26 inputs (key_input included); GitHub accepts at most 25, remove some\n\
         repowatch.toml:17:14: targets.rd.event_type: is 101 characters long; GitHub accepts at most 100, write a shorter one"
    );
    let ok = text.replace("key_input = \"repowatch_key\"\n", "").replace(&"e".repeat(101), &"e".repeat(100));
    let c = parse_ok(&ok);
    assert_eq!(c.targets.len(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    /// Any text at all: an error or a config, never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(&text, Path::new(FILE), Path::new(BASE));
    }

    /// Plausible files assembled from fragments reach the semantic checks.
    #[test]
    fn plausible_files_never_panic(lines in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..24)) {
        let text = lines.join("\n");
        match parse(&text, Path::new(FILE), Path::new(BASE)) {
            Ok(c) => prop_assert!(!c.datasources.is_empty()),
            Err(e) => {
                prop_assert!(!e.problems.is_empty());
                prop_assert!(!e.to_string().contains("ghp_"), "a literal secret was echoed: {}", e);
            }
        }
    }
}

const FRAGMENTS: &[&str] = &[
    "[settings]",
    "timezone = \"Asia/Tokyo\"",
    "timezone = \"Nowhere/Land\"",
    "schedule = \"*/5 * * * *\"",
    "schedule = \"61 * * * *\"",
    "schedule = \"@daily\"",
    "language = \"en\"",
    "state_dir = \"\"",
    "[github]",
    "token = \"ghp_abcdefSECRET\"",
    "token = \"env:GITHUB_TOKEN\"",
    "api_url = \"not a url\"",
    "[[datasources]]",
    "id = \"api\"",
    "id = \"Bad Id\"",
    "repo = \"octo-org/api\"",
    "repo = \"nope\"",
    "path = \"repos/api\"",
    "watch = [\"branch:main\", \"release\", \"tag:[\"]",
    "watch = []",
    "paths = [\"src/**\", \"{\"]",
    "cooldown = \"10m\"",
    "cooldown = -1",
    "targets = [\"deploy\", \"x\"]",
    "targets = [\"deploy\"]",
    "build_on_first_seen = \"yes\"",
    "[targets.deploy]",
    "[targets.x]",
    "kind = \"command\"",
    "kind = \"workflow_dispatch\"",
    "kind = \"webhook\"",
    "kind = 3",
    "command = [\"make\"]",
    "command = []",
    "url = \"https://x\"",
    "secret = \"ghp_abcdefSECRET\"",
    "secret = { a = 1 }",
    "inputs = { a = 1 }",
    "workflow = \"d.yml\"",
    "ref = \"main\"",
    "timeout = \"0s\"",
    "[serve]",
    "listen = \"[::1]:80\"",
    "webhook_secret = \"ghp_abcdefSECRET\"",
    "[[notify]]",
    "kind = \"slack\"",
    "on = [\"build\", \"nope\"]",
    "x = 1979-05-27T07:32:00Z",
    "[datasources]",
    "a.b.c = 1",
    "'' = \"\"",
    "",
];

#[test]
fn github_repositories_and_targets_need_a_github_table() {
    let text = r#"[[datasources]]
id = "api"
repo = "octo-org/api"
targets = ["rd"]

[targets.rd]
kind = "repository_dispatch"
repo = "octo-org/api"
event_type = "build"
"#;
    assert_eq!(
        parse_ok(text).missing_github().unwrap(),
        "repowatch.toml: datasource \"api\" (and 1 more) reads GitHub, but there is no [github] table; add [github] with token = \"env:GITHUB_TOKEN\" (or ssm:/…, file:…)"
    );
    let c = parse_ok(&format!("[github]\ntoken = \"env:GITHUB_TOKEN\"\n\n{text}"));
    assert_eq!(c.missing_github(), None);
    assert_eq!(c.github.unwrap().api_url, "https://api.github.com");
}

#[test]
fn serve_build_requests_need_a_secret_and_declared_targets() {
    let base = "[targets.local]\nkind = \"command\"\ncommand = [\"true\"]\n\n[serve]\n";
    let c = parse_ok(&format!("{base}build_secret = \"env:B\"\nbuild_targets = [\"local\"]\n"));
    let serve = c.serve.unwrap();
    assert_eq!(serve.build_secret, Some(SecretRef::Env("B".into())));
    assert_eq!(serve.build_targets, vec![TargetId::parse("local").unwrap()]);
    assert_eq!(
        parse_err(&format!("{base}build_secret = \"env:B\"\nbuild_targets = [\"gpu\"]\n")),
        "repowatch.toml:7:18: serve.build_targets[0]: no target \"gpu\" is declared; add [targets.gpu] or remove it"
    );
    assert!(
        parse_err(&format!("{base}build_targets = [\"local\"]\n"))
            .contains("serve.build_secret: build_targets is set but build_secret is not")
    );
    assert!(
        parse_err(&format!("{base}build_secret = \"env:B\"\n"))
            .contains("serve.build_targets: build_secret is set but build_targets is empty")
    );
}

#[test]
fn a_webhook_channel_needs_a_secret_and_only_it_takes_one() {
    let err = parse_err(&format!("{MINIMAL}\n[[notify]]\nkind = \"webhook\"\nurl = \"env:HOOK_URL\"\n"));
    assert!(err.contains("notify[0].secret: missing; a webhook channel signs what it sends"), "{err}");
    let err =
        parse_err(&format!("{MINIMAL}\n[[notify]]\nkind = \"slack\"\nurl = \"env:SLACK_URL\"\nsecret = \"env:S\"\n"));
    assert!(err.contains("notify[0].secret: slack signs nothing with it"), "{err}");
    let err =
        parse_err(&format!("{MINIMAL}\n[[notify]]\nkind = \"slack\"\nurl = \"env:SLACK_URL\"\nquiet_runs = \"yes\"\n"));
    assert!(err.contains("notify[0].quiet_runs"), "{err}");
}
