//! `repowatch sync` built with `--features aws`, writing repowatch.toml's
//! catalog to a DynamoDB table on moto server (127.0.0.1), as a user would run
//! it after `sam deploy`: the real binary, credentials and endpoint from the
//! standard AWS environment variables. Skipped without moto unless
//! REPOWATCH_REQUIRE_MOTO=1 (CI). scripts/test.sh runs it with
//! `cargo test -p repowatch --features aws --test sync_aws`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use repowatch_aws::DynamoTable;
use repowatch_aws::moto::Moto;
use repowatch_core::{Catalog, DatasourceId, TargetId};

const CONFIG: &str = r#"
[github]
token = "env:GITHUB_TOKEN"

[[datasources]]
id = "api"
repo = "octo/api"
targets = ["deploy"]

[[datasources]]
id = "web"
repo = "octo/web"
watch = ["branch:main", "branch:release/*"]
targets = ["deploy", "gpu"]

[targets.deploy]
kind = "repository_dispatch"
repo = "octo/api"
event_type = "build"

[targets.gpu]
kind = "webhook"
url = "https://builder.example/webhooks/build"
secret = "ssm:/repowatch/targets/gpu"

[[notify]]
kind = "slack"
url = "ssm:/repowatch/notify/slack-url"
on = ["failure", "alarm", "summary"]
"#;

fn sync(moto: &Moto, config: &Path, table: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_repowatch"))
        .args(["sync", "--json", "-c"])
        .arg(config)
        .args(["--table", table])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "canary-secret-key-3b9d")
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "repowatch sync failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_writes_the_catalog_and_removes_what_is_no_longer_declared() {
    let Some(moto) = Moto::for_test() else { return };
    let sdk = moto.sdk_config().await;
    moto.create_table(&sdk, "repowatch-dev-Table").await.unwrap();
    let table = DynamoTable::new(aws_sdk_dynamodb::Client::new(&sdk), "repowatch-dev-Table");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("repowatch.toml");

    std::fs::write(&config, CONFIG).unwrap();
    let out = sync(&moto, &config, "repowatch-dev-Table");
    assert_eq!(
        json(&out),
        serde_json::json!({ "table": "repowatch-dev-Table", "written": 4, "deleted": 0, "notify_channels": 1 })
    );
    let mut ids: Vec<String> = table.datasources().await.unwrap().into_iter().map(|d| d.id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, ["api", "web"]);
    let web = table.datasource(&DatasourceId::parse("web").unwrap()).await.unwrap().unwrap();
    assert_eq!(web.targets.len(), 2, "{web:?}");
    assert!(table.target(&TargetId::parse("gpu").unwrap()).await.unwrap().is_some());
    let notify = table.notify_spec().await.unwrap().expect("the notification settings were written");
    assert_eq!((notify.language, notify.timezone.as_str()), (repowatch_notify::Lang::Ja, "Asia/Tokyo"));
    assert_eq!(notify.channels[0].url.to_string(), "ssm:/repowatch/notify/slack-url");

    // Again with `web` and `gpu` gone: they leave the table, `api` stays.
    let trimmed = CONFIG
        .replace("[[datasources]]\nid = \"web\"\nrepo = \"octo/web\"\nwatch = [\"branch:main\", \"branch:release/*\"]\ntargets = [\"deploy\", \"gpu\"]\n", "")
        .replace("[targets.gpu]\nkind = \"webhook\"\nurl = \"https://builder.example/webhooks/build\"\nsecret = \"ssm:/repowatch/targets/gpu\"\n", "");
    assert_ne!(trimmed, CONFIG);
    std::fs::write(&config, trimmed).unwrap();
    let out = sync(&moto, &config, "repowatch-dev-Table");
    assert_eq!(json(&out)["deleted"], 2);
    let ids: Vec<String> = table.datasources().await.unwrap().into_iter().map(|d| d.id.to_string()).collect();
    assert_eq!(ids, ["api"]);
    assert!(table.target(&TargetId::parse("gpu").unwrap()).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_that_does_not_exist_is_a_clear_error_without_the_secret_key() {
    let Some(moto) = Moto::for_test() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("repowatch.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = sync(&moto, &config, "no-such-table");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-table"), "the message names the table: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("canary-secret-key-3b9d") && !String::from_utf8_lossy(&out.stdout).contains("canary"));
}
