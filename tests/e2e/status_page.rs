//! The status page of `repowatch serve` in headless Chromium (Debian's
//! `chromium`, driven by playwright-core from npm; `tests/browser/status_page.mjs`),
//! against the real server over the fake GitHub: the page loads with no console
//! error, shows the datasource, shows a new build without a reload after a
//! signed push webhook, renders in Japanese, and does not scroll sideways at
//! 375 px. Screenshots go to `target/artifacts/status-page/`. No secret and no
//! webhook URL is on the page or in `/status.json`, and a proxied request needs
//! the token.
//!
//! Without Chromium or playwright-core (a clone that has not run
//! scripts/test.sh) the browser part says why and is skipped;
//! `REPOWATCH_REQUIRE_BROWSER=1` (CI) makes that a failure.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use repowatch_github_fake::{RepoSpec, sha};
use serde_json::{Value, json};

use crate::github::{Github, TOKEN, WEBHOOK_SECRET, github_config, run_cli, signed_webhook, vars};
use crate::serve::{Server, http, wait_for};
use crate::support::*;

const STATUS_TOKEN: &str = "canary-status-token-93ce";
/// The path of a `webhook` target's URL: it must never be shown.
const HOOK_PATH: &str = "canary-hook-path-d41c";

fn chromium() -> PathBuf {
    std::env::var_os("REPOWATCH_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Why the browser cannot run here, if it cannot.
fn missing_browser() -> Option<String> {
    if !chromium().exists() {
        return Some(format!("{} is missing (Debian: apt-get install chromium)", chromium().display()));
    }
    let modules = repowatch_github_fake::node_modules_dir()?;
    if !modules.join("playwright-core/package.json").exists() {
        return Some(format!(
            "playwright-core is missing under {} (scripts/test.sh installs it: npm install --prefix ~/.cache/repowatch/node playwright-core@1.64.1)",
            modules.display()
        ));
    }
    None
}

fn browser_required() -> bool {
    std::env::var("REPOWATCH_REQUIRE_BROWSER").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

#[test]
fn the_status_page_in_chromium_shows_a_new_build_without_reload_in_both_languages_and_on_a_phone() {
    if let Some(why) = missing_browser() {
        assert!(!browser_required(), "REPOWATCH_REQUIRE_BROWSER=1 but {why}");
        eprintln!("the status page browser test is skipped: {why}");
        return;
    }
    let gh = Github::start();
    gh.fake.add_repo("octo/api", RepoSpec::default()).unwrap();
    gh.fake.set_branch("octo/api", "main", &sha("c1")).unwrap();
    let env = Env::new();
    let log = env.file("builds.log");
    let config = github_config(
        gh.fake.url(),
        &log,
        "[[datasources]]\nid = \"api\"\nrepo = \"octo/api\"\nwatch = [\"branch:main\"]\ntargets = [\"log\", \"hook\"]",
        &format!(
            "\n[targets.hook]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/{HOOK_PATH}\"\nsecret = \"env:RW_HOOK_SECRET\"\n"
        ),
    )
    .replace("[serve]\n", "[serve]\nstatus_token = \"env:RW_STATUS_TOKEN\"\n");
    env.write_config(&config);
    let mut all_vars: Vec<(&str, &str)> = vars().to_vec();
    all_vars.extend([("RW_STATUS_TOKEN", STATUS_TOKEN), ("RW_HOOK_SECRET", "canary-hook-secret-77aa")]);
    let out = env.command(&["run", "--drain"]).envs(all_vars.iter().copied()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = run_cli; // the baseline run above sets what the webhook is compared with

    let server = Server::start(&env, &["--no-schedule"], &all_vars);
    let shots = workspace_root().join("target/artifacts/status-page");
    std::fs::create_dir_all(&shots).unwrap();
    let mut node = Command::new("node")
        .arg(workspace_root().join("tests/browser/status_page.mjs"))
        .arg(&server.url)
        .arg(&shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut steps = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut next_step = || -> Value {
        let line = steps.next().expect("the browser script reports").unwrap();
        let step: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_ne!(step["step"], "error", "{step:#}");
        step
    };
    let loaded = next_step();
    assert_eq!((loaded["step"].as_str(), loaded["builds"].as_u64()), (Some("loaded"), Some(0)), "{loaded:#}");
    assert_eq!(loaded["lang"], "en");

    // A push arrives while the page is open.
    gh.fake.set_branch("octo/api", "main", &sha("c2")).unwrap();
    let push = json!({
        "ref": "refs/heads/main", "before": sha("c1"), "after": sha("c2"), "created": false, "deleted": false,
        "repository": { "full_name": "octo/api", "name": "api", "owner": { "login": "octo" } },
    });
    let (code, text) = signed_webhook(&server.url, "push", "delivery-page-1", &push);
    assert_eq!(code, 202, "{text}");
    node.stdin.as_mut().unwrap().write_all(b"sent\n").unwrap();
    let done = next_step();
    let status = node.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut node.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}\n{done:#}");

    assert_eq!(done["problems"], json!([]), "console errors, page errors or failed requests");
    assert_eq!(done["marker"], "no reload", "the new build appeared without a reload");
    assert!(done["builds"].as_u64().unwrap() >= 1, "{done:#}");
    eprintln!("a new build appeared on the open page {} ms after the webhook", done["appearedMs"]);
    assert_eq!(done["jaLang"], "ja");
    let ja = done["jaText"].as_str().unwrap();
    assert!(ja.contains("データソース") && ja.contains("ビルド") && ja.contains("キュー"), "{ja}");
    let overflow = &done["overflow"];
    assert!(
        overflow["scrollWidth"].as_u64() <= overflow["clientWidth"].as_u64(),
        "the page scrolls sideways at 375 px: {overflow}"
    );
    for shot in ["status-en.png", "status-en-after-webhook.png", "status-ja.png", "status-phone-375.png"] {
        assert!(std::fs::metadata(shots.join(shot)).unwrap().len() > 1000, "{shot} was saved");
    }

    // Nothing secret, and no webhook URL, on the page or in its JSON.
    wait_for(Duration::from_secs(20), "the webhook target's failures to park", || {
        let (_, json) = http("GET", &format!("{}/status.json", server.url), &[], b"");
        serde_json::from_str::<Value>(&json).is_ok_and(|v| v["queue"]["dlq"] == 1)
    });
    let (_, json) = http("GET", &format!("{}/status.json", server.url), &[], b"");
    let (_, page) = http("GET", &format!("{}/?lang=en", server.url), &[], b"");
    for shown in [done["html"].as_str().unwrap(), json.as_str(), page.as_str()] {
        for secret in [TOKEN, WEBHOOK_SECRET, STATUS_TOKEN, "canary-hook-secret-77aa", HOOK_PATH] {
            assert!(!shown.contains(secret), "{secret} is shown:\n{shown}");
        }
    }
    // The target's failures are told by its name, not its address.
    assert!(page.contains("POST to &lt;webhook target hook&gt;") && !page.contains("127.0.0.1:9"), "{page}");

    // Through a proxy it is another machine: the token is needed.
    let url = format!("{}/", server.url);
    let proxied = [("x-forwarded-for", "203.0.113.7")];
    assert_eq!(http("GET", &url, &proxied, b"").0, 401);
    let bearer = format!("Bearer {STATUS_TOKEN}");
    assert_eq!(http("GET", &url, &[proxied[0], ("authorization", bearer.as_str())], b"").0, 200);

    let (code, _, stderr) = server.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains(STATUS_TOKEN), "the status token leaked into the log");
}
