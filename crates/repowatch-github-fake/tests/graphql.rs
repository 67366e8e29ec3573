//! The fake's GraphQL API, driven over HTTP; every test's exchanges must pass the contract checker.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use repowatch_github_fake::{FakeGithub, ReleaseSpec, RepoSpec, Resource, sha};
use serde_json::{Value, json};
use support::{Client, assert_contract, detect_query, start};

/// octo/api: main, release/1.0, release/2.0, feature/x; tags v1.0.0 (annotated), v1.1.0 (lightweight, newer);
/// releases v1.0.0 and a newer draft v1.1.0.
fn seed(fake: &FakeGithub) {
    fake.add_repo("octo/api", RepoSpec::default()).unwrap();
    for branch in ["main", "release/1.0", "release/2.0", "feature/x"] {
        fake.set_branch("octo/api", branch, &sha(branch)).unwrap();
    }
    fake.set_tag("octo/api", "v1.0.0", &sha("v1.0.0"), true).unwrap();
    fake.set_tag("octo/api", "v1.1.0", &sha("v1.1.0"), false).unwrap();
    fake.add_release("octo/api", "v1.0.0", false).unwrap();
    fake.add_release("octo/api", "v1.1.0", true).unwrap();
}

#[tokio::test]
async fn detect_query_resolves_refs_tags_releases_and_missing_repos() {
    let fake = start().await;
    seed(&fake);
    let client = Client::new(&fake);
    let resp = client.graphql(&detect_query(&["octo/api", "octo/gone"])).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.header("x-ratelimit-resource"), Some("graphql"));
    assert_eq!(resp.header_u64("x-ratelimit-limit"), 5000);
    assert_eq!(resp.header_u64("x-ratelimit-remaining"), 4999);
    assert_eq!(resp.header_u64("x-ratelimit-used"), 1);
    let data = &resp.body["data"];
    let r0 = &data["r0"];
    assert_eq!(r0["nameWithOwner"], "octo/api");
    assert_eq!(r0["defaultBranchRef"], json!({"name": "main", "target": {"oid": sha("main")}}));
    assert_eq!(r0["b0"], json!({"name": "main", "target": {"oid": sha("main")}}));
    assert_eq!(
        r0["bq0"],
        json!({
            "pageInfo": {"hasNextPage": false, "endCursor": r0["bq0"]["pageInfo"]["endCursor"]},
            "nodes": [
                {"name": "release/1.0", "target": {"oid": sha("release/1.0")}},
                {"name": "release/2.0", "target": {"oid": sha("release/2.0")}},
            ],
        })
    );
    let tags = r0["tags"]["nodes"].as_array().unwrap();
    assert_eq!(tags.len(), 2);
    assert_eq!(tags[0], json!({"name": "v1.1.0", "target": {"__typename": "Commit", "oid": sha("v1.1.0")}}));
    assert_eq!(tags[1]["name"], "v1.0.0");
    assert_eq!(tags[1]["target"]["__typename"], "Tag");
    assert_ne!(tags[1]["target"]["oid"], json!(sha("v1.0.0")), "an annotated tag's oid is the tag object's");
    assert_eq!(tags[1]["target"]["target"], json!({"oid": sha("v1.0.0")}));
    assert_eq!(
        r0["releases"]["nodes"],
        json!([
            {"tagName": "v1.1.0", "isDraft": true, "tagCommit": {"oid": sha("v1.1.0")}},
            {"tagName": "v1.0.0", "isDraft": false, "tagCommit": {"oid": sha("v1.0.0")}},
        ])
    );
    assert_eq!(data["r1"], Value::Null);
    let errors = resp.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["type"], "NOT_FOUND");
    assert_eq!(errors[0]["path"], json!(["r1"]));
    assert_eq!(errors[0]["message"], "Could not resolve to a Repository with the name 'octo/gone'.");
    assert!(errors[0]["locations"][0]["line"].as_u64().unwrap() > 1);
    // 2 repositories × (1 + 3 connections) = 8 requests → 0.08 → the minimum, 1.
    assert_eq!(data["rateLimit"]["cost"], 1);
    assert_eq!(data["rateLimit"]["remaining"], 4999);
    assert_eq!(data["rateLimit"]["limit"], 5000);
    assert!(data["rateLimit"]["resetAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(fake.points_used(), 1);
    assert_eq!(fake.graphql_requests(), 1);
    assert_eq!(fake.rest_requests(), 0);
    assert_contract(&fake, "detect");
}

#[tokio::test]
async fn fragments_variables_edges_and_typename() {
    let fake = start().await;
    seed(&fake);
    let client = Client::new(&fake);
    let query = r#"
        query Refs($owner: String!, $name: String!, $first: Int = 2, $order: RefOrder) {
          repository(owner: $owner, name: $name) {
            __typename
            name
            owner { login }
            isArchived
            ...Heads
            tags: refs(refPrefix: "refs/tags/", first: 1, orderBy: $order) {
              totalCount
              edges { cursor node { name prefix target { ...Obj } } }
            }
            latest: releases(last: 1, orderBy: {field: NAME, direction: ASC}) { nodes { name isPrerelease createdAt } }
          }
        }
        fragment Heads on Repository {
          heads: refs(refPrefix: "refs/heads/release/", first: $first) { totalCount nodes { name prefix } }
        }
        fragment Obj on GitObject { oid abbreviatedOid ... on Commit { __typename } }
    "#;
    let resp = client
        .graphql_with(json!({
            "query": query,
            "variables": {"owner": "OCTO", "name": "API", "order": {"field": "ALPHABETICAL", "direction": "DESC"}},
        }))
        .await;
    assert_eq!(resp.status, 200);
    let repo = &resp.body["data"]["repository"];
    assert!(resp.body.get("errors").is_none(), "{}", resp.body);
    assert_eq!(repo["__typename"], "Repository");
    assert_eq!(repo["name"], "api", "names resolve case-insensitively to the stored spelling");
    assert_eq!(repo["owner"], json!({"login": "octo"}));
    assert_eq!(repo["isArchived"], false);
    assert_eq!(
        repo["heads"],
        json!({"totalCount": 2, "nodes": [
            {"name": "1.0", "prefix": "refs/heads/release/"},
            {"name": "2.0", "prefix": "refs/heads/release/"},
        ]})
    );
    let edge = &repo["tags"]["edges"][0];
    assert_eq!(repo["tags"]["totalCount"], 2);
    assert_eq!(edge["node"]["name"], "v1.1.0", "ALPHABETICAL DESC");
    assert_eq!(
        edge["node"]["target"],
        json!({"oid": sha("v1.1.0"), "abbreviatedOid": &sha("v1.1.0")[..7], "__typename": "Commit"})
    );
    assert!(edge["cursor"].is_string());
    assert_eq!(repo["latest"]["nodes"][0]["name"], "v1.1.0");
    assert_eq!(repo["latest"]["nodes"][0]["isPrerelease"], false);

    // Renamed repositories are followed unless asked not to; deleted ones are gone.
    fake.rename_repo("octo/api", "octo/api2").unwrap();
    let resp = client
        .graphql(r#"{ a: repository(owner: "octo", name: "api") { nameWithOwner } b: repository(owner: "octo", name: "api", followRenames: false) { nameWithOwner } }"#)
        .await;
    assert_eq!(resp.body["data"]["a"], json!({"nameWithOwner": "octo/api2"}));
    assert_eq!(resp.body["data"]["b"], Value::Null);
    assert_eq!(resp.body["errors"][0]["path"], json!(["b"]));
    fake.delete_repo("octo/api2").unwrap();
    let resp = client.graphql(r#"{ repository(owner: "octo", name: "api") { name } }"#).await;
    assert_eq!(resp.body["data"]["repository"], Value::Null);
    assert_eq!(resp.body["errors"][0]["type"], "NOT_FOUND");

    // A release whose tag does not exist has no tagCommit; an empty repository no defaultBranchRef.
    fake.add_repo("octo/empty", RepoSpec { default_branch: "trunk".into(), archived: true, ..Default::default() })
        .unwrap();
    fake.add_release_with("octo/empty", ReleaseSpec { name: None, prerelease: true, ..ReleaseSpec::new("v0") })
        .unwrap();
    let resp = client
        .graphql(r#"{ repository(owner: "octo", name: "empty") { isArchived defaultBranchRef { name } ref(qualifiedName: "trunk") { name } releases(first: 5) { totalCount nodes { name tagName isPrerelease tagCommit { oid } } } } }"#)
        .await;
    assert_eq!(
        resp.body["data"]["repository"],
        json!({"isArchived": true, "defaultBranchRef": null, "ref": null, "releases": {"totalCount": 1, "nodes": [
            {"name": null, "tagName": "v0", "isPrerelease": true, "tagCommit": null}
        ]}})
    );
    assert_contract(&fake, "fragments");
}

#[tokio::test]
async fn invalid_queries_get_errors_only_and_cost_nothing() {
    let fake = start().await;
    seed(&fake);
    let client = Client::new(&fake);
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"{ repository(owner: "octo", name: "api") { nope } }"#,
            "Field 'nope' doesn't exist on type 'Repository'",
            "undefinedField",
        ),
        (
            r#"{ repository(owner: "octo", name: "api") { refs(refPrefix: "refs/heads/", first: "x") { totalCount } } }"#,
            "Argument 'first' on Field 'refs' has an invalid value",
            "argumentLiteralsIncompatible",
        ),
        (
            r#"{ repository(owner: "octo", name: "api") { refs(refPrefix: "refs/tags/", first: 5, orderBy: {field: BOGUS, direction: DESC}) { totalCount } } }"#,
            "Argument 'orderBy' on Field 'refs' has an invalid value",
            "argumentLiteralsIncompatible",
        ),
        (
            r#"{ repository(owner: "octo") { name } }"#,
            "is missing required arguments: name",
            "missingRequiredArguments",
        ),
        (
            r#"{ repository(owner: "octo", name: "api") { refs(refPrefix: "refs/heads/", first: 1, colour: 1) { totalCount } } }"#,
            "Field 'refs' doesn't accept argument 'colour'",
            "argumentNotAccepted",
        ),
        (
            r#"{ repository(owner: "octo", name: "api") { defaultBranchRef } }"#,
            "Field must have selections",
            "selectionMismatch",
        ),
        (
            r#"{ repository(owner: "octo", name: "api") { ...Missing } }"#,
            "Fragment Missing was used, but not defined",
            "useAndDefineFragment",
        ),
        (
            r#"{ repository(owner: "octo", name: "api") { defaultBranchRef { target { ... on Issue { id } } } } }"#,
            "No such type Issue",
            "undefinedType",
        ),
        (
            r#"query($n: Int) { repository(owner: "octo", name: "api") { name } }"#,
            "Variable $n is declared by anonymous query but not used",
            "variableNotUsed",
        ),
    ];
    for (query, message, code) in cases {
        let resp = client.graphql(query).await;
        assert_eq!(resp.status, 200, "{query}");
        assert!(resp.body.get("data").is_none(), "{query}: {}", resp.body);
        let error = &resp.body["errors"][0];
        assert!(error["message"].as_str().unwrap().contains(message), "{query}: {error}");
        assert_eq!(error["extensions"]["code"], *code, "{query}: {error}");
        assert!(error["locations"][0]["line"].is_u64(), "{error}");
    }
    // Syntax errors and a missing query.
    let resp = client.graphql("{ repository(owner: ").await;
    assert!(resp.body["errors"][0]["message"].is_string(), "{}", resp.body);
    let resp = client.graphql_with(json!({"variables": {}})).await;
    assert_eq!(resp.body["errors"][0]["message"], "A query attribute must be specified and must be a string.");
    // A variable of the wrong type.
    let resp = client
        .graphql_with(json!({"query": "query($n: Int!) { repository(owner: \"octo\", name: \"api\") { refs(refPrefix: \"refs/heads/\", first: $n) { totalCount } } }", "variables": {"n": "ten"}}))
        .await;
    assert!(
        resp.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Variable $n of type Int! was provided invalid value")
    );
    assert_eq!(fake.points_used(), 0);
    assert_contract(&fake, "invalid");
}

#[tokio::test]
async fn pagination_limits_follow_github() {
    let fake = start().await;
    seed(&fake);
    let client = Client::new(&fake);
    let resp = client
        .graphql(r#"{ repository(owner: "octo", name: "api") { refs(refPrefix: "refs/heads/", first: 101) { totalCount } } }"#)
        .await;
    assert_eq!(resp.body["errors"][0]["type"], "EXCESSIVE_PAGINATION");
    assert_eq!(
        resp.body["errors"][0]["message"],
        "Requesting 101 records on the `refs` connection exceeds the `first` limit of 100 records."
    );
    assert!(resp.body.get("data").is_none());
    let resp = client.graphql(r#"{ repository(owner: "octo", name: "api") { releases { totalCount } } }"#).await;
    assert_eq!(resp.body["errors"][0]["type"], "MISSING_PAGINATION_BOUNDARIES");
    let resp = client
        .graphql(
            r#"{ repository(owner: "octo", name: "api") { refs(refPrefix: "refs/heads/", first: 0) { totalCount } } }"#,
        )
        .await;
    assert!(resp.body["errors"][0]["message"].as_str().unwrap().contains("between 1 and 100"));
    // A cursor that is not one gives an error at the field; releases is non-null, so the repository goes null.
    let resp = client
        .graphql(
            r#"{ repository(owner: "octo", name: "api") { name releases(first: 1, after: "bogus!") { totalCount } } }"#,
        )
        .await;
    assert_eq!(resp.body["data"], json!({"repository": null}));
    assert_eq!(resp.body["errors"][0]["type"], "INVALID_CURSOR_ARGUMENTS");
    assert_eq!(resp.body["errors"][0]["path"], json!(["repository", "releases"]));
    assert_contract(&fake, "limits");
}

#[tokio::test]
async fn pages_through_250_branches_with_cursors() {
    let fake = start().await;
    fake.add_repo("octo/big", RepoSpec::default()).unwrap();
    fake.set_branch("octo/big", "main", &sha("main")).unwrap();
    // Inserted out of order: the connection is alphabetical anyway.
    for i in (0..250).rev() {
        fake.set_branch("octo/big", &format!("release/{i:03}"), &sha(&format!("b{i}"))).unwrap();
    }
    let client = Client::new(&fake);
    let mut after = Value::Null;
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let resp = client
            .graphql_with(json!({
                "query": r#"query Page($after: String) {
                    repository(owner: "octo", name: "big") {
                        bq0: refs(refPrefix: "refs/heads/", query: "release/", first: 100, after: $after) {
                            totalCount
                            pageInfo { hasNextPage endCursor }
                            nodes { name target { oid } }
                        }
                    }
                }"#,
                "variables": {"after": after},
            }))
            .await;
        assert_eq!(resp.status, 200);
        let conn = &resp.body["data"]["repository"]["bq0"];
        assert_eq!(conn["totalCount"], 250);
        pages += 1;
        for node in conn["nodes"].as_array().unwrap() {
            names.push(node["name"].as_str().unwrap().to_owned());
        }
        let expected_next = pages < 3;
        assert_eq!(conn["pageInfo"]["hasNextPage"], expected_next, "page {pages}");
        if !expected_next {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<String> = (0..250).map(|i| format!("release/{i:03}")).collect();
    assert_eq!(names, expected);
    assert_eq!(fake.graphql_requests(), 3);

    // `last` with `before` walks backwards.
    let resp = client
        .graphql(r#"{ repository(owner: "octo", name: "big") { refs(refPrefix: "refs/heads/", last: 2) { pageInfo { hasPreviousPage hasNextPage startCursor } nodes { name } } } }"#)
        .await;
    let conn = &resp.body["data"]["repository"]["refs"];
    assert_eq!(conn["nodes"], json!([{"name": "release/248"}, {"name": "release/249"}]));
    assert_eq!(conn["pageInfo"]["hasPreviousPage"], true);
    let before = conn["pageInfo"]["startCursor"].as_str().unwrap().to_owned();
    let resp = client
        .graphql(&format!(r#"{{ repository(owner: "octo", name: "big") {{ refs(refPrefix: "refs/heads/", last: 1, before: {}) {{ nodes {{ name }} }} }} }}"#, support::lit(&before)))
        .await;
    assert_eq!(resp.body["data"]["repository"]["refs"]["nodes"], json!([{"name": "release/247"}]));
    assert_contract(&fake, "pagination");
}

#[tokio::test]
async fn cost_of_a_100_repository_batch_and_the_budget() {
    let fake = start().await;
    let mut names = Vec::new();
    for i in 0..100 {
        let full = format!("octo/r{i}");
        fake.add_repo(&full, RepoSpec::default()).unwrap();
        fake.set_branch(&full, "main", &sha(&full)).unwrap();
        names.push(full);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let client = Client::new(&fake);
    let resp = client.graphql(&detect_query(&refs)).await;
    assert_eq!(resp.status, 200);
    assert!(resp.body.get("errors").is_none());
    // Each repository: 1 request for itself + 1 for each of its 3 connections → 400 requests → 4 points.
    assert_eq!(resp.body["data"]["rateLimit"]["cost"], 4);
    assert_eq!(resp.body["data"]["rateLimit"]["remaining"], 4996);
    assert_eq!(resp.header_u64("x-ratelimit-used"), 4);
    assert_eq!(fake.points_used(), 4);
    let resp = client.graphql("{ rateLimit { cost nodeCount used } }").await;
    assert_eq!(resp.body["data"]["rateLimit"], json!({"cost": 1, "nodeCount": 0, "used": 5}));
    let resp = client
        .graphql(&format!(
            "{{ rateLimit(dryRun: true) {{ cost nodeCount }} {} }}",
            support::detect_selection("r0", "octo/r0")
        ))
        .await;
    assert_eq!(resp.body["data"]["rateLimit"], json!({"cost": 1, "nodeCount": 130}));
    assert_eq!(fake.points_used(), 5, "dry runs are free");

    // A batch bigger than the configured maximum times out like GitHub (502), at no cost.
    fake.set_max_batch(Some(50));
    let resp = client.graphql(&detect_query(&refs[..51])).await;
    assert_eq!(resp.status, 502);
    let resp = client.graphql(&detect_query(&refs[..50])).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body["data"]["rateLimit"]["cost"], 2);

    // An exhausted budget: RATE_LIMITED, HTTP 200.
    fake.set_remaining(Resource::Graphql, 1);
    let resp = client.graphql(&detect_query(&refs[..50])).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body["errors"][0]["type"], "RATE_LIMITED");
    assert_eq!(resp.header_u64("x-ratelimit-remaining"), 1);
    assert_contract(&fake, "cost");
}
