//! The fake's REST endpoints, authentication, rate limits and faults, driven over HTTP; every test's exchanges must
//! pass the contract checker.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use repowatch_github_fake::{
    ChangedFile, Comparison, DispatchMode, DispatchTarget, Fault, FaultResponse, FileStatus, Matcher, RepoSpec,
    Resource, sha,
};
use serde_json::{Value, json};
use support::{Client, assert_contract, start};

#[tokio::test]
async fn compare_answers_in_githubs_shape() {
    let fake = start().await;
    fake.add_repo("octo/api", RepoSpec::default()).unwrap();
    let (base, head) = (sha("base"), sha("head"));
    fake.set_branch("octo/api", "main", &head).unwrap();
    fake.set_tag("octo/api", "v1", &base, true).unwrap();
    fake.set_compare_files("octo/api", &base, &head, ["src/a.rs", "docs/read me.md"]).unwrap();
    let client = Client::new(&fake);

    let resp = client.get(&format!("/repos/octo/api/compare/{base}...{head}")).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.header("x-ratelimit-resource"), Some("core"));
    assert_eq!(resp.header_u64("x-ratelimit-remaining"), 4999);
    let body = &resp.body;
    assert_eq!(body["status"], "ahead");
    assert_eq!(body["ahead_by"], 1);
    assert_eq!(body["behind_by"], 0);
    assert_eq!(body["total_commits"], 1);
    assert_eq!(body["commits"][0]["sha"], json!(head));
    assert_eq!(body["commits"][0]["parents"][0]["sha"], json!(base));
    assert_eq!(body["base_commit"]["sha"], json!(base));
    assert_eq!(body["merge_base_commit"]["sha"], json!(base));
    let files: Vec<&str> = body["files"].as_array().unwrap().iter().map(|f| f["filename"].as_str().unwrap()).collect();
    assert_eq!(files, ["src/a.rs", "docs/read me.md"]);
    assert_eq!(body["files"][0]["status"], "modified");

    // Refs resolve too (a tag and a branch), and abbreviated shas of known commits.
    let resp = client.get(&format!("/repos/octo/api/compare/v1...{}", &head[..7])).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body["files"].as_array().unwrap().len(), 2);
    let resp = client.get("/repos/octo/api/compare/main...main").await;
    assert_eq!(resp.body["status"], "identical");
    assert_eq!(resp.body["commits"], json!([]));

    // Unknown commits and repositories: GitHub's 404.
    let resp = client.get(&format!("/repos/octo/api/compare/{base}...{}", sha("nope"))).await;
    assert_eq!(resp.status, 404);
    assert_eq!(resp.body["message"], "Not Found");
    assert_eq!(resp.body["status"], "404");
    let resp = client.get(&format!("/repos/octo/gone/compare/{base}...{head}")).await;
    assert_eq!(resp.status, 404);

    // Pagination: commits per page, files on the first page only, at most 300.
    let many: Vec<ChangedFile> = (0..350)
        .map(|i| ChangedFile {
            filename: format!("f{i}"),
            status: if i == 0 { FileStatus::Renamed } else { FileStatus::Added },
            previous_filename: (i == 0).then(|| "old".to_owned()),
        })
        .collect();
    let (b2, h2) = (sha("b2"), sha("h2"));
    fake.set_compare("octo/api", &b2, &h2, Comparison { files: many, ahead_by: 3, behind_by: 2 }).unwrap();
    let resp = client.get(&format!("/repos/octo/api/compare/{b2}...{h2}?per_page=2&page=1")).await;
    assert_eq!(resp.body["status"], "diverged");
    assert_eq!(resp.body["commits"].as_array().unwrap().len(), 2);
    assert_eq!(resp.body["files"].as_array().unwrap().len(), 300);
    assert_eq!(resp.body["files"][0]["previous_filename"], "old");
    assert!(resp.header("link").unwrap().contains("rel=\"next\""));
    let resp = client.get(&format!("/repos/octo/api/compare/{b2}...{h2}?per_page=2&page=2")).await;
    assert_eq!(resp.body["commits"].as_array().unwrap().len(), 1);
    assert_eq!(resp.body["commits"][0]["sha"], json!(h2), "the last commit is head");
    assert_eq!(resp.body["files"], json!([]));
    assert!(resp.header("link").unwrap().contains("rel=\"prev\""));
    assert_eq!(fake.rest_requests(), 7);
    assert_contract(&fake, "compare");
}

#[tokio::test]
async fn workflow_dispatch_in_both_modes_and_its_422s() {
    let fake = start().await;
    fake.add_repo("octo/api", RepoSpec::default()).unwrap();
    fake.set_branch("octo/api", "main", &sha("main")).unwrap();
    let id = fake.declare_workflow("octo/api", "deploy.yml", &["environment", "repowatch_key"]).unwrap();
    let client = Client::new(&fake);
    let path = "/repos/octo/api/actions/workflows/deploy.yml/dispatches";

    let resp =
        client.post(path, json!({"ref": "main", "inputs": {"environment": "prod"}, "return_run_details": true})).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let run_id = resp.body["workflow_run_id"].as_u64().unwrap();
    assert_eq!(resp.body["run_url"], format!("{}/repos/octo/api/actions/runs/{run_id}", fake.url()));
    assert_eq!(resp.body["html_url"], format!("https://github.com/octo/api/actions/runs/{run_id}"));
    let resp = client.post(path, json!({"ref": "main"})).await;
    assert_eq!((resp.status, resp.text.as_str()), (204, ""));
    let resp = client
        .post(&format!("/repos/octo/api/actions/workflows/{id}/dispatches"), json!({"ref": "refs/heads/main"}))
        .await;
    assert_eq!(resp.status, 204, "the numeric id works too");
    fake.set_dispatch_mode(DispatchMode::NoContent);
    let resp = client.post(path, json!({"ref": "main", "return_run_details": true})).await;
    assert_eq!(resp.status, 204);

    let resp =
        client.post(path, json!({"ref": "main", "inputs": {"environment": "x", "colour": "red", "b": "1"}})).await;
    assert_eq!(resp.status, 422);
    assert_eq!(resp.body["message"], r#"Unexpected inputs provided: ["b", "colour"]"#);
    let inputs: serde_json::Map<String, Value> = (0..26).map(|i| (format!("i{i}"), json!("v"))).collect();
    let resp = client.post(path, json!({"ref": "main", "inputs": inputs})).await;
    assert_eq!(resp.status, 422);
    let resp = client.post(path, json!({"inputs": {}})).await;
    assert_eq!(resp.status, 422);
    assert!(resp.body["message"].as_str().unwrap().contains("\"ref\" wasn't supplied"));
    let resp = client.post(path, json!({"ref": "nope"})).await;
    assert_eq!((resp.status, resp.body["message"].as_str()), (422, Some("No ref found for: nope")));
    let resp = client.post("/repos/octo/api/actions/workflows/other.yml/dispatches", json!({"ref": "main"})).await;
    assert_eq!(resp.status, 404);
    let resp = client.post_raw(path, "{not json").await;
    assert_eq!(resp.status, 400);

    let dispatches = fake.dispatches();
    assert_eq!(dispatches.len(), 4);
    assert_eq!(dispatches[0].repo, "octo/api");
    assert_eq!(dispatches[0].target, DispatchTarget::Workflow { workflow: "deploy.yml".into(), run_id });
    assert_eq!(dispatches[0].body["inputs"], json!({"environment": "prod"}));
    assert_eq!(fake.mutation_times().len(), 10, "every dispatch POST, accepted or not");
    assert_contract(&fake, "workflow-dispatch");
}

#[tokio::test]
async fn repository_dispatch_and_its_422s() {
    let fake = start().await;
    fake.add_repo("octo/api", RepoSpec::default()).unwrap();
    let client = Client::new(&fake);
    let path = "/repos/octo/api/dispatches";
    let resp = client.post(path, json!({"event_type": "repowatch", "client_payload": {"ref": "main"}})).await;
    assert_eq!((resp.status, resp.text.as_str()), (204, ""));
    for bad in [
        json!({}),
        json!({"event_type": ""}),
        json!({"event_type": "x".repeat(101)}),
        json!({"event_type": "e", "client_payload": (0..11).map(|i| (format!("k{i}"), json!(i))).collect::<serde_json::Map<_, _>>()}),
        json!({"event_type": "e", "client_payload": [1]}),
    ] {
        let resp = client.post(path, bad.clone()).await;
        assert_eq!(resp.status, 422, "{bad}");
        assert!(resp.body["message"].as_str().unwrap().starts_with("Invalid request."));
    }
    let resp = client.post("/repos/octo/gone/dispatches", json!({"event_type": "e"})).await;
    assert_eq!(resp.status, 404);
    let dispatches = fake.dispatches();
    assert_eq!(dispatches.len(), 1);
    assert_eq!(dispatches[0].target, DispatchTarget::Repository);
    assert_eq!(dispatches[0].body["client_payload"], json!({"ref": "main"}));
    assert_contract(&fake, "repository-dispatch");
}

#[tokio::test]
async fn renamed_repositories_redirect_and_unknown_paths_404() {
    let fake = start().await;
    fake.add_repo("octo/api", RepoSpec::default()).unwrap();
    let (a, b) = (sha("a"), sha("b"));
    fake.set_branch("octo/api", "main", &b).unwrap();
    fake.set_compare_files("octo/api", &a, &b, ["x"]).unwrap();
    fake.rename_repo("octo/api", "octo/api2").unwrap();
    let client = Client::new(&fake);
    let resp = client.get(&format!("/repos/octo/api/compare/{a}...{b}?per_page=5")).await;
    assert_eq!(resp.status, 301);
    let location = format!("{}/repos/octo/api2/compare/{a}...{b}?per_page=5", fake.url());
    assert_eq!(resp.header("location"), Some(location.as_str()));
    let resp = client.get(&format!("/repos/octo/api2/compare/{a}...{b}")).await;
    assert_eq!(resp.status, 200);
    let resp = client.post("/repos/octo/api/dispatches", json!({"event_type": "e"})).await;
    assert_eq!(resp.status, 307);
    assert_eq!(resp.header("location"), Some(format!("{}/repos/octo/api2/dispatches", fake.url()).as_str()));

    let resp = client.get("/user").await;
    assert_eq!(resp.status, 404);
    assert_eq!(
        resp.body,
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"})
    );
    let resp = client.get("/graphql").await;
    assert_eq!(resp.status, 404);
    assert_contract(&fake, "redirects");
}

#[tokio::test]
async fn authentication_and_rate_limit_headers() {
    let fake = start().await;
    let client = Client::new(&fake);
    for auth in [None, Some("Bearer wrong"), Some("Basic Z2hwX3Rlc3Q=")] {
        let resp = client.with_auth(auth).get("/rate_limit").await;
        assert_eq!(resp.status, 401, "{auth:?}");
        assert_eq!(
            resp.body,
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
        );
        assert!(resp.header("x-ratelimit-remaining").is_some());
        let resp = client.with_auth(auth).graphql("{ rateLimit { cost } }").await;
        assert_eq!(resp.status, 401);
    }
    let resp = client.with_auth(Some("token ghp_test")).get("/rate_limit").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body["resources"]["core"]["remaining"], 5000, "/rate_limit is free");
    assert_eq!(resp.body["resources"]["graphql"]["limit"], 5000);

    // Every other REST request costs one point; an empty budget gets GitHub's primary-limit 403.
    let resp = client.get("/repos/octo/none/compare/a...b").await;
    assert_eq!(resp.header_u64("x-ratelimit-used"), 1);
    assert_eq!(resp.header_u64("x-ratelimit-remaining"), 4999);
    let reset = resp.header_u64("x-ratelimit-reset");
    assert!(reset > 1_700_000_000);
    fake.set_remaining(Resource::Core, 0);
    let resp = client.get("/repos/octo/none/compare/a...b").await;
    assert_eq!(resp.status, 403);
    assert_eq!(resp.header("x-ratelimit-remaining"), Some("0"));
    assert!(resp.body["message"].as_str().unwrap().starts_with("API rate limit exceeded"));
    assert_eq!(fake.rest_requests(), 6);
    assert_eq!(fake.graphql_requests(), 3);
    assert_contract(&fake, "auth");
}

#[tokio::test]
async fn injected_faults() {
    let fake = start().await;
    fake.add_repo("octo/api", RepoSpec::default()).unwrap();
    fake.set_branch("octo/api", "main", &sha("main")).unwrap();
    let client = Client::new(&fake);
    let query = r#"{ repository(owner: "octo", name: "api") { defaultBranchRef { name } } }"#;

    fake.inject(Fault::new(Matcher::Graphql, 2, FaultResponse::SecondaryLimit { retry_after_secs: 60 }));
    fake.inject(Fault::new(
        Matcher::Rest("/repos/octo/api/compare".into()),
        1,
        FaultResponse::PrimaryLimit { reset_in_secs: 30 },
    ));
    fake.inject(Fault::new(Matcher::Graphql, 1, FaultResponse::TooMany { retry_after: Some(5) }));
    fake.inject(Fault::new(Matcher::Graphql, 1, FaultResponse::TooMany { retry_after: None }));
    fake.inject(Fault::new(Matcher::Graphql, 1, FaultResponse::status(502)));
    fake.inject(Fault::new(Matcher::Any, 1, FaultResponse::status(504)));
    fake.inject(Fault::new(Matcher::Graphql, 1, FaultResponse::graphql_rate_limited()));
    fake.inject(Fault::new(Matcher::Graphql, 1, FaultResponse::graphql_error("Something went wrong")));

    for _ in 0..2 {
        let resp = client.graphql(query).await;
        assert_eq!(resp.status, 403);
        assert_eq!(resp.header("retry-after"), Some("60"));
        assert!(resp.body["message"].as_str().unwrap().contains("secondary rate limit"));
    }
    let resp = client.get(&format!("/repos/octo/api/compare/{}...{}", sha("main"), sha("main"))).await;
    assert_eq!(resp.status, 403);
    assert_eq!(resp.header("x-ratelimit-remaining"), Some("0"));
    let reset = resp.header_u64("x-ratelimit-reset");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!((now + 25..=now + 35).contains(&reset), "{reset} vs {now}");
    let resp = client.graphql(query).await;
    assert_eq!((resp.status, resp.header("retry-after")), (429, Some("5")));
    let resp = client.graphql(query).await;
    assert_eq!((resp.status, resp.header("x-ratelimit-remaining")), (429, Some("0")));
    let resp = client.graphql(query).await;
    assert_eq!(resp.status, 502);
    let resp = client.get("/rate_limit").await;
    assert_eq!(resp.status, 504, "Matcher::Any takes REST too");
    let resp = client.graphql(query).await;
    assert_eq!((resp.status, &resp.body["data"]), (200, &Value::Null));
    assert_eq!(resp.body["errors"][0]["type"], "RATE_LIMITED");
    let resp = client.graphql(query).await;
    assert_eq!(resp.body["errors"][0]["message"], "Something went wrong");
    // All used up: normal answers again, and nothing was charged for the faults.
    let resp = client.graphql(query).await;
    assert_eq!(resp.body["data"]["repository"]["defaultBranchRef"]["name"], "main");
    assert_eq!(fake.points_used(), 1);

    // A late answer: clients time out; the wait counts as in flight.
    fake.inject(Fault::new(Matcher::Graphql, 1, FaultResponse::Delay(Duration::from_millis(800))));
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    let err = impatient
        .post(fake.graphql_url())
        .bearer_auth(support::TOKEN)
        .json(&json!({"query": query}))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    fake.inject(Fault::new(Matcher::Graphql, 1, FaultResponse::Delay(Duration::from_millis(300))));
    let started = Instant::now();
    let resp = client.graphql(query).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(resp.body["data"]["repository"]["defaultBranchRef"]["name"], "main");
    // A fault with its own headers and body.
    fake.inject(Fault::new(
        Matcher::Rest("/".into()),
        1,
        FaultResponse::Status { code: 503, headers: vec![("Retry-After".into(), "1".into())], body: String::new() },
    ));
    let resp = client.get("/rate_limit").await;
    assert_eq!((resp.status, resp.header("retry-after"), resp.text.as_str()), (503, Some("1"), ""));
    assert_contract(&fake, "faults");
}

#[tokio::test]
async fn counts_requests_in_flight() {
    let fake = start().await;
    let client = Client::new(&fake);
    for _ in 0..3 {
        assert_eq!(client.get("/rate_limit").await.status, 200);
    }
    assert_eq!(fake.max_in_flight(), 1);
    fake.inject(Fault::new(Matcher::Any, 6, FaultResponse::Delay(Duration::from_millis(500))));
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get("/rate_limit").await.status })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    assert_eq!(fake.max_in_flight(), 6);
    assert_eq!(fake.requests().len(), 9);
    assert_contract(&fake, "in-flight");
    fake.shutdown().await;
}
