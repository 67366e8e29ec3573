//! What one detection run costs against GitHub at 100, 1,000 and 10,000
//! datasources: requests, GraphQL points (GitHub's cost formula, as the fake
//! on 127.0.0.1 computes it and reports it in `rateLimit.cost`), and wall
//! time over loopback — side by side with the naive REST approach (3 requests
//! per repository: branches, tags, releases).
//!
//! cargo run --release -p repowatch-github --example detection_bench [-- SIZES...]

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use repowatch_core::rules::WatchRules;
use repowatch_core::secret::SecretString;
use repowatch_core::{Datasource, DatasourceId, Location, RefSource, RepoSlug};
use repowatch_github::{ClientOptions, GithubClient, GithubRefSource};
use repowatch_github_fake::{FakeGithub, FakeOptions, RepoSpec, sha};

const WATCH: [&str; 3] = ["branch:main", "tag:v*", "release"];
/// A personal token's hourly REST budget.
const REST_PER_HOUR: f64 = 5000.0;

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = {
        let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("sizes are numbers")).collect();
        if args.is_empty() { vec![100, 1000, 10_000] } else { args }
    };
    println!("watch = {WATCH:?}; each repository has main, 3 tags and 2 releases");
    println!(
        "| datasources | GraphQL requests | points | REST follow-ups | wall time (median of 5) | naive REST requests | naive share of 5,000/h | requests saved |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let options = FakeOptions {
            token: "ghp_bench".into(),
            rate_limit: 10_000_000,
            record_exchanges: false,
            ..Default::default()
        };
        let fake = FakeGithub::start(options).await.unwrap();
        let mut datasources = Vec::with_capacity(n);
        for i in 0..n {
            let repo = format!("org/repo-{i}");
            fake.add_repo(&repo, RepoSpec::default()).unwrap();
            fake.set_branch(&repo, "main", &sha(&format!("{repo}/main"))).unwrap();
            for t in 0..3 {
                fake.set_tag(&repo, &format!("v1.{t}.0"), &sha(&format!("{repo}/t{t}")), t == 2).unwrap();
            }
            fake.add_release(&repo, "v1.0.0", false).unwrap();
            fake.add_release(&repo, "v1.1.0", false).unwrap();
            datasources.push(Datasource {
                id: DatasourceId::parse(format!("ds-{i}")).unwrap(),
                location: Location::Github(RepoSlug::parse(&repo).unwrap()),
                watch: WatchRules::parse(&WATCH).unwrap(),
                paths: None,
                cooldown: Duration::ZERO,
                targets: vec![],
                build_on_first_seen: false,
            });
        }
        let client =
            Arc::new(GithubClient::new(&SecretString::new("ghp_bench"), ClientOptions::new(fake.url())).unwrap());
        let source = GithubRefSource::new(client);
        // One warm-up run, then five measured ones.
        let out = source.read_refs(&datasources).await;
        assert!(out.iter().all(|(_, r)| r.is_ok()), "every datasource reads");
        let (requests0, points0, rest0) = (fake.graphql_requests(), fake.points_used(), fake.rest_requests());
        let mut times = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let out = source.read_refs(&datasources).await;
            times.push(start.elapsed());
            assert_eq!(out.len(), n);
        }
        times.sort();
        let runs = 6;
        let requests = fake.graphql_requests() / runs;
        let points = fake.points_used() / runs;
        assert_eq!(requests, requests0, "every run makes the same requests");
        assert_eq!(points, points0);
        let naive = 3 * n as u64;
        println!(
            "| {n} | {requests} | {points} | {rest} | {:.0} ms | {naive} | {:.0} % | {:.0}× |",
            times[2].as_secs_f64() * 1000.0,
            naive as f64 / REST_PER_HOUR * 100.0,
            naive as f64 / requests as f64,
            rest = rest0,
        );
        fake.shutdown().await;
    }
}
