//! The contract checker catches drift: deliberately wrong exchanges make it fail, naming each problem with the
//! exchange index and a JSON pointer.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;

use repowatch_github_fake::{ContractOutcome, Exchange, RepoSpec, check_contract, contract_script, sha};
use serde_json::{Value, json};
use support::{Client, detect_query, log_path, start};

fn write(name: &str, exchanges: &[Exchange]) -> std::path::PathBuf {
    let path = log_path(name);
    let lines: Vec<String> = exchanges.iter().map(|e| serde_json::to_string(e).unwrap()).collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// Real exchanges: a detection query, a compare and a workflow dispatch.
async fn real_exchanges() -> (Exchange, Exchange, Exchange) {
    let fake = start().await;
    fake.add_repo("octo/api", RepoSpec::default()).unwrap();
    let (base, head) = (sha("base"), sha("head"));
    fake.set_branch("octo/api", "main", &head).unwrap();
    fake.set_compare_files("octo/api", &base, &head, ["src/a.rs"]).unwrap();
    fake.declare_workflow("octo/api", "deploy.yml", &["environment"]).unwrap();
    let client = Client::new(&fake);
    assert_eq!(client.graphql(&detect_query(&["octo/api"])).await.status, 200);
    assert_eq!(client.get(&format!("/repos/octo/api/compare/{base}...{head}")).await.status, 200);
    let dispatch = client.post("/repos/octo/api/actions/workflows/deploy.yml/dispatches", json!({"ref": "main"})).await;
    assert_eq!(dispatch.status, 204);
    let mut exchanges = fake.requests().into_iter();
    (exchanges.next().unwrap(), exchanges.next().unwrap(), exchanges.next().unwrap())
}

#[tokio::test]
async fn checker_names_every_drift() {
    let (graphql, compare, dispatch) = real_exchanges().await;

    let mut unknown_field = graphql.clone();
    let query =
        unknown_field.request_body["query"].as_str().unwrap().replacen("nameWithOwner", "nameWithOwner nope", 1);
    unknown_field.request_body["query"] = json!(query);

    let mut numeric_oid = graphql.clone();
    numeric_oid.response_body["data"]["r0"]["defaultBranchRef"]["target"]["oid"] = json!(5);

    let mut no_filename = compare.clone();
    no_filename.response_body["files"][0].as_object_mut().unwrap().remove("filename");

    let mut no_ref = dispatch.clone();
    no_ref.request_body.as_object_mut().unwrap().remove("ref");

    let mut leaked = dispatch.clone();
    leaked.request_headers.insert("authorization".into(), "Bearer ghp_test".into());
    leaked.response_headers.remove("x-ratelimit-remaining");

    let mut body_on_204 = dispatch.clone();
    body_on_204.response_body = json!({"workflow_run_id": 1});

    let path = write(
        "drift",
        &[graphql, unknown_field, numeric_oid, compare, no_filename, dispatch, no_ref, leaked, body_on_204],
    );
    let out = match check_contract(&path).unwrap() {
        ContractOutcome::Skipped(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
        ContractOutcome::Passed(out) => panic!("the checker passed wrong exchanges:\n{out}"),
        ContractOutcome::Failed(out) => out,
    };
    eprintln!("{out}");
    let lines: Vec<&str> = out.lines().collect();
    let named = |index: usize, needle: &str| {
        lines.iter().any(|l| l.starts_with(&format!("exchange #{index} ")) && l.contains(needle))
    };
    assert!(named(1, "/request_body/query") && named(1, "Cannot query field \"nope\" on type \"Repository\""), "{out}");
    assert!(named(2, "/response_body/data/r0/defaultBranchRef/target/oid"), "{out}");
    assert!(named(2, "GitObjectID cannot represent 5"), "{out}");
    assert!(named(4, "/response_body/files/0/filename"), "{out}");
    assert!(named(6, "/request_body/ref"), "{out}");
    assert!(named(7, "/request_headers/authorization"), "{out}");
    assert!(named(7, "/response_headers/x-ratelimit-remaining"), "{out}");
    assert!(named(8, "/response_body"), "{out}");
    for good in [0, 3, 5] {
        assert!(!lines.iter().any(|l| l.starts_with(&format!("exchange #{good} "))), "exchange {good}: {out}");
    }
    assert!(out.contains("checked 9 exchanges: 3 graphql, 6 rest;"), "{out}");
}

#[tokio::test]
async fn checker_catches_answers_github_would_not_give() {
    let (graphql, _, _) = real_exchanges().await;
    // The fake answering a query GitHub rejects (first: 500) and rejecting one GitHub accepts.
    let mut too_many = graphql.clone();
    let query = too_many.request_body["query"].as_str().unwrap().replace("first: 100", "first: 500");
    too_many.request_body["query"] = json!(query);
    let mut refused = graphql.clone();
    refused.response_body = json!({"errors": [{"message": "Field 'nameWithOwner' doesn't exist on type 'Repository'", "extensions": {"code": "undefinedField"}}]});
    let mut wrong_cost = graphql.clone();
    wrong_cost.response_body["data"]["rateLimit"]["cost"] = json!(7);
    let mut unselected = graphql.clone();
    unselected.response_body["data"]["r0"]["isFork"] = json!(false);
    let mut null_name = graphql;
    null_name.response_body["data"]["r0"]["nameWithOwner"] = Value::Null;
    let path = write("drift-graphql", &[too_many, refused, wrong_cost, unselected, null_name]);
    let out = match check_contract(&path).unwrap() {
        ContractOutcome::Skipped(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
        ContractOutcome::Passed(out) => panic!("the checker passed wrong exchanges:\n{out}"),
        ContractOutcome::Failed(out) => out,
    };
    eprintln!("{out}");
    assert!(out.contains("exchange #0 ") && out.contains("GitHub rejects this query"), "{out}");
    assert!(out.contains("exchange #1 ") && out.contains("the fake rejected a query GitHub's schema accepts"), "{out}");
    assert!(
        out.contains("/response_body/data/rateLimit/cost") && out.contains("documented cost of this query is 1"),
        "{out}"
    );
    assert!(
        out.contains("exchange #3 (POST /graphql) /response_body/data/r0/isFork: in the response but not selected"),
        "{out}"
    );
    assert!(
        out.contains("exchange #4 (POST /graphql) /response_body/data/r0/nameWithOwner: Cannot return null for non-nullable field Repository.nameWithOwner."),
        "{out}"
    );
}

#[test]
fn checker_usage_errors_exit_2() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("skipped: node is not installed");
        return;
    }
    let missing = Command::new("node").arg(contract_script()).arg("/nonexistent/exchanges.jsonl").output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let path = write("usage", &[]);
    let no_modules = Command::new("node")
        .arg(contract_script())
        .arg(&path)
        .env("REPOWATCH_NODE_MODULES", "/nonexistent/node_modules")
        .output()
        .unwrap();
    assert_eq!(no_modules.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&no_modules.stderr);
    assert!(stderr.contains("npm install --prefix ~/.cache/repowatch/node @octokit/openapi@23.0.2"), "{stderr}");
}
