//! The status page of `repowatch serve` with 1,000 datasources and 10,000
//! builds in the store: gathering the snapshot, rendering it, and whole HTTP
//! requests over 127.0.0.1 (the page, the 304 of the refresh, the JSON).
//!
//!     cargo bench -p repowatch --bench status_page
//!
//! The store is a real SQLite file seeded through the same ports the pipeline
//! writes with; the server is the real router of `repowatch serve`.

// Bench code: a failed unwrap is a broken bench, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use repowatch::app::{App, Needs};
use repowatch::{config, page, serve, status};
use repowatch_core::{
    BuildRecord, BuildRequest, BuildStatus, CommitSha, DatasourceId, DetectionSource, MessageId, RefChange, RefKind,
    RefName, RefState, RunId, StateStore, TargetId,
};
use repowatch_local::RunRecord;
use serde_json::json;

const DATASOURCES: usize = 1_000;
const BUILDS: usize = 10_000;
const RUNS: usize = 20;

fn sha(i: usize) -> CommitSha {
    CommitSha::parse(format!("{i:040x}")).unwrap()
}

fn seed(app: &App, rt: &tokio::runtime::Runtime) {
    let now = jiff::Timestamp::now();
    rt.block_on(async {
        for i in 0..DATASOURCES {
            let id = DatasourceId::parse(format!("ds-{i:04}")).unwrap();
            let refs = [("refs/heads/main", RefKind::Branch), ("refs/tags/v1.0.0", RefKind::Tag)].map(|(name, kind)| {
                RefChange::Upsert(RefState {
                    kind,
                    name: RefName::parse(name).unwrap(),
                    commit: sha(i),
                    observed_at: now,
                    pending: None,
                })
            });
            app.store.commit_refs(&id, &refs, now).await.unwrap();
        }
        let output: String = (0..20).map(|l| format!("step {l}: compiling crate number {l} of the build\n")).collect();
        for b in 0..BUILDS {
            let request = BuildRequest::new(
                DatasourceId::parse(format!("ds-{:04}", b % DATASOURCES)).unwrap(),
                RefName::parse("refs/heads/main").unwrap(),
                sha(b),
                RefKind::Branch,
                DetectionSource::Schedule,
                TargetId::parse("local").unwrap(),
                now,
                RunId::parse(format!("run-{b}")).unwrap(),
            );
            let record = BuildRecord {
                request,
                message_id: MessageId::parse(format!("m{b}")).unwrap(),
                receive_count: 1,
                started_at: now,
                finished_at: now.checked_add(jiff::SignedDuration::from_millis(1234)).unwrap(),
                status: if b % 10 == 0 { BuildStatus::Failed } else { BuildStatus::Succeeded },
                detail: "exit 0 in 1.2 s".to_owned(),
                exit_code: Some(0),
                output: Some(output.clone()),
                run: None,
                result: None,
                took_over_from: None,
            };
            app.store.record_build(&record).await.unwrap();
        }
        let outcomes: Vec<_> =
            (0..DATASOURCES).map(|i| json!({ "id": format!("ds-{i:04}"), "status": "unchanged" })).collect();
        for r in 0..RUNS {
            let summary = json!({
                "status": "ok",
                "totals": { "datasources": DATASOURCES, "first_seen": 0, "changed": 0, "builds_queued": 0, "pending": 0, "errors": 0 },
                "datasources": outcomes,
                "notified": [],
            });
            let run = RunRecord {
                id: format!("run-bench-{r:02}"),
                started_at: now,
                finished_at: Some(now),
                status: "ok".to_owned(),
                summary: Some(summary),
            };
            app.store.record_run(&run).await.unwrap();
        }
    });
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("[settings]\nstate_dir = \"state\"\nlanguage = \"en\"\n\n");
    for i in 0..DATASOURCES {
        text.push_str(&format!(
            "[[datasources]]\nid = \"ds-{i:04}\"\npath = \"repos/ds-{i:04}\"\ntargets = [\"local\"]\n\n"
        ));
    }
    text.push_str("[targets.local]\nkind = \"command\"\ncommand = [\"true\"]\n");
    let file = dir.path().join("repowatch.toml");
    std::fs::write(&file, text).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = Arc::new(App::open(config::load(&file).unwrap(), Needs::Nothing).unwrap());
    seed(&app, &rt);

    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let router = serve::router(app.clone());
    rt.spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let get = |path: &str, etag: Option<&str>| {
        let mut req = client.get(format!("http://{addr}{path}"));
        if let Some(e) = etag {
            req = req.header("if-none-match", e);
        }
        rt.block_on(async {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let etag = res.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
            (status, etag, res.bytes().await.unwrap().len())
        })
    };
    let (status, _, page_bytes) = get("/", None);
    assert_eq!(status, 200);
    let (_, etag, main_bytes) = get("/status/main?lang=en", None);
    let etag = etag.unwrap();
    assert_eq!(get("/status/main?lang=en", Some(&etag)).0, 304);
    let snapshot = rt.block_on(status::gather(&app, status::Limits::default())).unwrap();
    assert_eq!((snapshot.datasources.len(), snapshot.builds.len()), (DATASOURCES, 50));
    eprintln!(
        "page {page_bytes} bytes, <main> {main_bytes} bytes, {DATASOURCES} datasources, {BUILDS} builds in the store"
    );

    let mut g = c.benchmark_group(format!("status_page/{DATASOURCES}_datasources_{BUILDS}_builds"));
    g.sample_size(30).measurement_time(Duration::from_secs(8));
    g.bench_function("gather", |b| b.iter(|| rt.block_on(status::gather(&app, status::Limits::default())).unwrap()));
    let tz = app.config.settings.timezone.clone();
    g.bench_function("render", |b| {
        b.iter(|| {
            let main = page::main(&snapshot, repowatch_notify::Lang::En, &tz);
            page::page(&snapshot, repowatch_notify::Lang::En, &tz, &main, "\"x\"")
        })
    });
    g.bench_function("GET /", |b| b.iter(|| assert_eq!(get("/", None).0, 200)));
    g.bench_function("GET /status/main (304)", |b| {
        b.iter(|| assert_eq!(get("/status/main?lang=en", Some(&etag)).0, 304))
    });
    g.bench_function("GET /status.json", |b| b.iter(|| assert_eq!(get("/status.json", None).0, 200)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
