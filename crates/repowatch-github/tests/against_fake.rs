//! The GitHub client against the fake GitHub on 127.0.0.1: detection,
//! batching, rate limits, faults, dispatch. Every test ends by checking all
//! exchanges against GitHub's OpenAPI description and GraphQL schema.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use repowatch_core::rules::{PathFilter, WatchRules};
use repowatch_core::secret::SecretString;
use repowatch_core::{
    BuildRequest, BuildTarget, CommitSha, Datasource, DatasourceId, DetectionSource, Location, RefKind, RefName,
    RefSnapshot, RefSource, RepoSlug, RunId, TargetId, TargetSpec,
};
use repowatch_github::{ClientOptions, GithubClient, GithubRefSource, GithubTarget};
use repowatch_github_fake::{
    ContractOutcome, DispatchMode, DispatchTarget, FakeGithub, FakeOptions, Fault, FaultResponse, Matcher, RepoSpec,
    sha,
};

const TOKEN: &str = "ghp_canary_0c1d2e3f";

async fn fake() -> FakeGithub {
    FakeGithub::start(FakeOptions { token: TOKEN.into(), ..Default::default() }).await.unwrap()
}

/// A client with GitHub's rules, except short waits where a header names none.
fn client(fake: &FakeGithub) -> Arc<GithubClient> {
    let mut options = ClientOptions::new(fake.url());
    options.min_limit_wait = Duration::from_millis(200);
    options.timeout = Duration::from_secs(5);
    Arc::new(GithubClient::new(&SecretString::new(TOKEN), options).unwrap())
}

fn ds(id: &str, repo: &str, watch: &[&str]) -> Datasource {
    Datasource {
        id: DatasourceId::parse(id).unwrap(),
        location: Location::Github(RepoSlug::parse(repo).unwrap()),
        watch: WatchRules::parse(watch).unwrap(),
        paths: None,
        cooldown: Duration::ZERO,
        targets: vec![],
        build_on_first_seen: false,
    }
}

fn assert_contract(fake: &FakeGithub, name: &str) {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("github-client-{name}-{}.jsonl", std::process::id()));
    match fake.check_exchanges(&path).unwrap() {
        ContractOutcome::Passed(out) => assert!(out.contains("; 0 problems"), "{out}"),
        ContractOutcome::Skipped(reason) => eprintln!("skipped: {reason}"),
        ContractOutcome::Failed(out) => panic!("{name}: an exchange does not match GitHub's descriptions:\n{out}"),
    }
    // The token is never written to the exchange log.
    let log = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(!log.contains(TOKEN), "the token reached the exchange log");
}

fn heads(snapshot: &RefSnapshot) -> BTreeMap<(RefKind, String), String> {
    snapshot.refs.iter().map(|r| ((r.kind, r.name.as_str().to_owned()), r.commit.as_str().to_owned())).collect()
}

/// `n` repositories `org/repo-<i>` with a main branch each.
fn many(fake: &FakeGithub, n: usize) -> Vec<Datasource> {
    (0..n)
        .map(|i| {
            let repo = format!("org/repo-{i}");
            fake.add_repo(&repo, RepoSpec::default()).unwrap();
            fake.set_branch(&repo, "main", &sha(&repo)).unwrap();
            ds(&format!("ds-{i}"), &repo, &["branch:main"])
        })
        .collect()
}

#[tokio::test]
async fn detection_reads_what_the_rules_watch() {
    let fake = fake().await;
    fake.add_repo("octo/api", RepoSpec::default()).unwrap();
    for b in ["main", "release/1.0", "release/2.0", "feature/x"] {
        fake.set_branch("octo/api", b, &sha(b)).unwrap();
    }
    fake.set_tag("octo/api", "v1.0.0", &sha("c1"), false).unwrap();
    fake.set_tag("octo/api", "v1.1.0", &sha("c2"), true).unwrap(); // annotated: resolves to its commit
    fake.set_tag("octo/api", "nightly", &sha("c3"), false).unwrap();
    fake.add_release("octo/api", "v1.0.0", false).unwrap();
    fake.add_release("octo/api", "v1.1.0", true).unwrap(); // a draft builds nothing
    let source = GithubRefSource::new(client(&fake));
    let d = ds("api", "octo/api", &["branch:release/*", "tag:v*", "release"]);
    let out = source.read_refs(std::slice::from_ref(&d)).await;
    let [(id, Ok(snapshot))] = <[_; 1]>::try_from(out).unwrap() else { panic!("one answer") };
    assert_eq!(id.as_str(), "api");
    let got = heads(&snapshot);
    let want: BTreeMap<(RefKind, String), String> = [
        ((RefKind::Branch, "refs/heads/main"), sha("main")), // the default branch is always read
        ((RefKind::Branch, "refs/heads/release/1.0"), sha("release/1.0")),
        ((RefKind::Branch, "refs/heads/release/2.0"), sha("release/2.0")),
        ((RefKind::Tag, "refs/tags/v1.0.0"), sha("c1")),
        ((RefKind::Tag, "refs/tags/v1.1.0"), sha("c2")),
        ((RefKind::Release, "refs/tags/v1.0.0"), sha("c1")),
    ]
    .into_iter()
    .map(|((k, n), c)| ((k, n.to_owned()), c))
    .collect();
    assert_eq!(got, want);
    assert!(snapshot.newest_only.is_empty(), "fewer tags than read: the answer is complete");
    assert_eq!(fake.graphql_requests(), 1);
    assert_eq!(fake.rest_requests(), 0);
    let budget = source.client().budget();
    assert_eq!((budget.graphql_requests, budget.graphql_points), (1, fake.points_used()));
    assert!(budget.graphql.is_some(), "the remaining budget is known");
    assert_contract(&fake, "detect");
}

#[tokio::test]
async fn a_thousand_unchanged_datasources_take_exactly_ten_queries() {
    let fake = fake().await;
    let datasources = many(&fake, 1000);
    let source = GithubRefSource::new(client(&fake));
    for round in 1..=2 {
        let out = source.read_refs(&datasources).await;
        assert_eq!(out.len(), 1000);
        assert!(out.iter().all(|(_, r)| r.is_ok()));
        assert_eq!(fake.graphql_requests(), 10 * round, "⌈1000/100⌉ queries per run");
    }
    assert_eq!(fake.rest_requests(), 0);
    assert!(fake.max_in_flight() <= 4, "at most 4 in flight, saw {}", fake.max_in_flight());
    assert_contract(&fake, "thousand");
}

#[tokio::test]
async fn big_batches_that_get_502_shrink_to_50_then_25() {
    let fake = fake().await;
    let datasources = many(&fake, 200);
    fake.set_max_batch(Some(25));
    let source = GithubRefSource::new(client(&fake));
    let out = source.read_refs(&datasources).await;
    assert!(out.iter().all(|(_, r)| r.is_ok()), "{:?}", out.iter().find(|(_, r)| r.is_err()));
    // Per 100: one of 100 (502), two of 50 (502), four of 25 (ok).
    assert_eq!(fake.graphql_requests(), 2 * 7);
    // Below 25 it gives up: those datasources fail, with the reason.
    fake.set_max_batch(Some(10));
    let out = source.read_refs(&datasources[..25]).await;
    let (_, err) = &out[0];
    let message = err.as_ref().unwrap_err().chain();
    assert!(message.contains("502"), "{message}");
    assert_contract(&fake, "shrink");
}

#[tokio::test]
async fn errors_in_a_200_fail_that_batch_only() {
    let fake = fake().await;
    let datasources = many(&fake, 150);
    fake.inject(Fault::new(
        Matcher::Graphql,
        1,
        FaultResponse::graphql_error("Something went wrong while executing your query."),
    ));
    let source = GithubRefSource::new(client(&fake));
    let out = source.read_refs(&datasources).await;
    let failed: Vec<_> = out.iter().filter(|(_, r)| r.is_err()).collect();
    let ok = out.len() - failed.len();
    // One of the two batches got the error; the other read normally.
    assert!(failed.len() == 100 || failed.len() == 50, "{} failed", failed.len());
    assert_eq!(ok, 150 - failed.len());
    let message = failed[0].1.as_ref().unwrap_err().chain();
    assert!(message.contains("Something went wrong"), "{message}");
    assert_contract(&fake, "errors-in-200");
}

#[tokio::test]
async fn graphql_rate_limited_errors_are_waited_out() {
    let fake = fake().await;
    let datasources = many(&fake, 3);
    fake.inject(Fault::new(Matcher::Graphql, 1, FaultResponse::graphql_rate_limited()));
    let source = GithubRefSource::new(client(&fake));
    let out = source.read_refs(&datasources).await;
    assert!(out.iter().all(|(_, r)| r.is_ok()));
    assert_eq!(fake.graphql_requests(), 2);
    assert_eq!(source.client().budget().limited, 1);
    assert_contract(&fake, "graphql-rate-limited");
}

#[tokio::test]
async fn rate_limit_answers_are_honoured_by_their_headers() {
    let fake = fake().await;
    let datasources = many(&fake, 2);
    let source = GithubRefSource::new(client(&fake));
    let cases: [(&str, FaultResponse, Duration); 4] = [
        ("403 with retry-after", FaultResponse::SecondaryLimit { retry_after_secs: 1 }, Duration::from_millis(950)),
        ("403 with x-ratelimit-reset", FaultResponse::PrimaryLimit { reset_in_secs: 1 }, Duration::from_millis(950)),
        ("429 with retry-after", FaultResponse::TooMany { retry_after: Some(1) }, Duration::from_millis(950)),
        // A secondary limit naming no time: the client's own backoff (≥60 s by default, 200 ms here).
        (
            "403 secondary limit without retry-after",
            FaultResponse::Status {
                code: 403,
                headers: vec![],
                body: r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api","status":"403"}"#.into(),
            },
            Duration::from_millis(190),
        ),
    ];
    for (name, response, at_least) in cases {
        fake.inject(Fault::new(Matcher::Graphql, 1, response));
        let before = fake.graphql_requests();
        let started = Instant::now();
        let out = source.read_refs(&datasources).await;
        assert!(out.iter().all(|(_, r)| r.is_ok()), "{name}: {out:?}");
        assert!(started.elapsed() >= at_least, "{name}: retried after {:?}", started.elapsed());
        assert_eq!(fake.graphql_requests() - before, 2, "{name}: one refused, one answered");
    }
    assert_eq!(source.client().budget().limited, 4);
    assert_contract(&fake, "rate-limits");
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_client_waits_fails_the_datasources_with_the_reason() {
    let fake = fake().await;
    let datasources = many(&fake, 2);
    let mut options = ClientOptions::new(fake.url());
    options.max_wait = Duration::from_secs(30);
    let source = GithubRefSource::new(Arc::new(GithubClient::new(&SecretString::new(TOKEN), options).unwrap()));
    fake.inject(Fault::new(Matcher::Graphql, 1, FaultResponse::PrimaryLimit { reset_in_secs: 3600 }));
    let started = Instant::now();
    let out = source.read_refs(&datasources).await;
    assert!(started.elapsed() < Duration::from_secs(5), "it did not sit out the hour");
    let message = out[0].1.as_ref().unwrap_err().chain();
    assert!(message.contains("rate limited"), "{message}");
    assert!(!message.contains(TOKEN));
    assert_contract(&fake, "long-limit");
}

#[tokio::test]
async fn deleted_and_renamed_repositories_fail_alone() {
    let fake = fake().await;
    let mut datasources = many(&fake, 3);
    fake.add_repo("org/old", RepoSpec::default()).unwrap();
    fake.set_branch("org/old", "main", &sha("old")).unwrap();
    fake.rename_repo("org/old", "org/new").unwrap();
    fake.delete_repo("org/repo-1").unwrap();
    datasources.push(ds("renamed", "org/old", &["branch:main"]));
    let source = GithubRefSource::new(client(&fake));
    let out: BTreeMap<String, _> =
        source.read_refs(&datasources).await.into_iter().map(|(id, r)| (id.as_str().to_owned(), r)).collect();
    assert!(out["ds-0"].is_ok() && out["ds-2"].is_ok());
    let deleted = out["ds-1"].as_ref().unwrap_err().chain();
    assert!(deleted.contains("org/repo-1") && deleted.contains("deleted"), "{deleted}");
    let renamed = out["renamed"].as_ref().unwrap_err().chain();
    assert!(renamed.contains("repo = \"org/new\""), "{renamed}");
    assert_eq!(fake.graphql_requests(), 1);
    assert_contract(&fake, "deleted-renamed");
}

#[tokio::test]
async fn many_matching_branches_are_paginated() {
    let fake = fake().await;
    fake.add_repo("octo/mono", RepoSpec::default()).unwrap();
    fake.set_branch("octo/mono", "main", &sha("m")).unwrap();
    for i in 0..250 {
        fake.set_branch("octo/mono", &format!("release/{i:03}"), &sha(&format!("r{i}"))).unwrap();
    }
    let source = GithubRefSource::new(client(&fake));
    let out = source.read_refs(&[ds("mono", "octo/mono", &["branch:release/*"])]).await;
    let snapshot = out[0].1.as_ref().unwrap();
    let releases = snapshot.refs.iter().filter(|r| r.name.as_str().starts_with("refs/heads/release/")).count();
    assert_eq!(releases, 250);
    assert_eq!(fake.graphql_requests(), 3, "one batch query, two follow-up pages");
    assert_contract(&fake, "pagination");
}

#[tokio::test]
async fn more_tags_than_read_mark_the_answer_newest_only() {
    let fake = fake().await;
    fake.add_repo("octo/tags", RepoSpec::default()).unwrap();
    fake.set_branch("octo/tags", "main", &sha("m")).unwrap();
    for i in 0..30 {
        fake.set_tag("octo/tags", &format!("v{i}"), &sha(&format!("t{i}")), false).unwrap();
    }
    let source = GithubRefSource::new(client(&fake));
    let out = source.read_refs(&[ds("tags", "octo/tags", &["tag:v*"])]).await;
    let snapshot = out[0].1.as_ref().unwrap();
    let tags: Vec<&str> = snapshot.refs.iter().filter(|r| r.kind == RefKind::Tag).map(|r| r.name.as_str()).collect();
    assert_eq!(tags.len(), repowatch_github::detect::TAGS);
    assert!(tags.contains(&"refs/tags/v29"), "the newest are read: {tags:?}");
    assert_eq!(snapshot.newest_only, vec![RefKind::Tag]);
    assert_contract(&fake, "newest-tags");
}

#[tokio::test]
async fn paths_use_the_compare_api() {
    let fake = fake().await;
    fake.add_repo("octo/api", RepoSpec::default()).unwrap();
    let (a, b) = (sha("a"), sha("b"));
    fake.set_branch("octo/api", "main", &b).unwrap();
    fake.set_compare_files("octo/api", &a, &b, ["src/lib.rs", "README.md"]).unwrap();
    let source = GithubRefSource::new(client(&fake));
    let mut d = ds("api", "octo/api", &["branch:main"]);
    d.paths = Some(PathFilter::parse(&["src/**"]).unwrap());
    let files = source.changed_paths(&d, &CommitSha::parse(&a).unwrap(), &CommitSha::parse(&b).unwrap()).await.unwrap();
    assert_eq!(files, Some(vec!["src/lib.rs".to_owned(), "README.md".to_owned()]));
    // An unknown base (force-pushed away): cannot tell, so the caller builds.
    let unknown = CommitSha::parse("f".repeat(40)).unwrap();
    assert_eq!(source.changed_paths(&d, &unknown, &CommitSha::parse(&b).unwrap()).await.unwrap(), None);
    assert_contract(&fake, "compare");
}

fn request(target: &str) -> BuildRequest {
    BuildRequest::new(
        DatasourceId::parse("api").unwrap(),
        RefName::parse("refs/heads/main").unwrap(),
        CommitSha::parse(sha("head")).unwrap(),
        RefKind::Branch,
        DetectionSource::Webhook,
        TargetId::parse(target).unwrap(),
        Timestamp::from_second(1_790_000_000).unwrap(),
        RunId::parse("run-1").unwrap(),
    )
}

#[tokio::test]
async fn dispatches_carry_the_key_record_the_run_and_are_spaced_a_second_apart() {
    let fake = fake().await;
    fake.add_repo("octo/api", RepoSpec::default()).unwrap();
    fake.set_branch("octo/api", "main", &sha("m")).unwrap();
    fake.declare_workflow("octo/api", "deploy.yml", &["environment", "repowatch_key"]).unwrap();
    let target = GithubTarget::new(client(&fake));
    let repo = RepoSlug::parse("octo/api").unwrap();
    let workflow = |key_input: Option<&str>| TargetSpec::WorkflowDispatch {
        repo: repo.clone(),
        workflow: "deploy.yml".into(),
        git_ref: "main".into(),
        inputs: BTreeMap::from([("environment".to_owned(), "prod".to_owned())]),
        key_input: key_input.map(str::to_owned),
    };
    let req = request("deploy");
    let id = TargetId::parse("deploy").unwrap();

    let done = target.dispatch(&id, &workflow(Some("repowatch_key")), &req).await.unwrap();
    let run = done.run.expect("return_run_details gives the run");
    assert!(run.url.ends_with(&format!("/actions/runs/{}", run.id)), "{}", run.url);

    // The older behaviour: 204, no run details; still a success.
    fake.set_dispatch_mode(DispatchMode::NoContent);
    let done = target.dispatch(&id, &workflow(None), &req).await.unwrap();
    assert_eq!(done.run, None);

    // An input the workflow does not declare: GitHub's 422, as a failure that says so.
    fake.set_dispatch_mode(DispatchMode::RunDetails);
    let err = target.dispatch(&id, &workflow(Some("undeclared")), &req).await.unwrap_err();
    assert!(err.detail.contains("422") && err.detail.contains("Unexpected inputs"), "{}", err.detail);

    let rd = TargetSpec::RepositoryDispatch { repo: repo.clone(), event_type: "repowatch-build".into() };
    target.dispatch(&TargetId::parse("rd").unwrap(), &rd, &request("rd")).await.unwrap();

    let sent = fake.dispatches();
    assert_eq!(sent.len(), 3, "the refused one is not recorded");
    assert_eq!(sent[0].body["inputs"]["repowatch_key"], req.key.as_str());
    assert_eq!(sent[0].body["inputs"]["environment"], "prod");
    assert_eq!(sent[0].body["return_run_details"], true);
    assert!(sent[1].body["inputs"].get("repowatch_key").is_none(), "no key input unless the target names one");
    assert!(matches!(sent[2].target, DispatchTarget::Repository));
    let payload = sent[2].body["client_payload"].as_object().unwrap();
    assert!(payload.len() <= 10);
    assert_eq!(payload["key"], request("rd").key.as_str());
    assert_eq!(payload["commit"], sha("head"));

    let times = fake.mutation_times();
    assert_eq!(times.len(), 4);
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(990), "mutations {:?} apart", pair[1] - pair[0]);
    }
    assert_contract(&fake, "dispatch");
}

#[tokio::test]
async fn a_wrong_token_is_an_error_that_does_not_show_it() {
    let fake = fake().await;
    let datasources = many(&fake, 1);
    let options = ClientOptions::new(fake.url());
    let wrong = "ghp_wrong_canary_9a8b";
    let source = GithubRefSource::new(Arc::new(GithubClient::new(&SecretString::new(wrong), options).unwrap()));
    let out = source.read_refs(&datasources).await;
    let message = out[0].1.as_ref().unwrap_err().chain();
    assert!(message.contains("401") && message.contains("Bad credentials"), "{message}");
    assert!(!message.contains(wrong));
    assert_contract(&fake, "bad-token");
}

#[tokio::test]
async fn a_query_that_times_out_is_retried_in_halves() {
    let fake = fake().await;
    let datasources = many(&fake, 100);
    let mut options = ClientOptions::new(fake.url());
    options.timeout = Duration::from_millis(500);
    let source = GithubRefSource::new(Arc::new(GithubClient::new(&SecretString::new(TOKEN), options).unwrap()));
    fake.inject(Fault::new(Matcher::Graphql, 1, FaultResponse::Delay(Duration::from_secs(2))));
    let out = source.read_refs(&datasources).await;
    assert!(out.iter().all(|(_, r)| r.is_ok()));
    assert_eq!(fake.graphql_requests(), 3, "100 timed out, then 50 + 50");
    assert_contract(&fake, "timeout");
}
