//! Cold start of each Lambda function through the Runtime API: spawn → the
//! first `GET …/invocation/next`, median of N spawns per function, with env
//! credentials (no network call during init) and SSM pointed nowhere.
//!
//! cargo build --release -p list-datasources -p detect-updates -p process-updates \
//!     -p dispatch-build -p notify -p github-webhook
//! cargo run --release -p repowatch-tests --bin cold-start -- [N]

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use repowatch_tests::lambda_sim::SimLambda;

const FUNCTIONS: [&str; 6] =
    ["list-datasources", "detect-updates", "process-updates", "dispatch-build", "notify", "github-webhook"];

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).map_or(20, |a| a.parse().expect("N is a number"));
    let dir = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    // No SSM parameters and no catalog read at init: what is measured is the
    // runtime, the SDK config and the clients (env credentials, no network).
    let env: BTreeMap<String, String> = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("REPOWATCH_TABLE", "repowatch"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    println!("| function | median spawn → first next | min | max | bootstrap size |");
    println!("|---|---:|---:|---:|---:|");
    for name in FUNCTIONS {
        let bin = dir.join(name);
        assert!(bin.exists(), "{} is not built: cargo build --release -p {name}", bin.display());
        let mut times: Vec<Duration> = Vec::with_capacity(n);
        for _ in 0..n {
            let lambda = SimLambda::start(name, &bin, &env).await;
            times.push(lambda.cold_start().await);
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let size = std::fs::metadata(&bin).unwrap().len() as f64 / (1024.0 * 1024.0);
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms | {size:.1} MiB |",
            ms(times[n / 2]),
            ms(times[0]),
            ms(times[n - 1])
        );
    }
}
