//! What `repowatch status` prints and the status page of `repowatch serve`
//! shows, gathered once into a [`Snapshot`]: the datasources with their
//! last-seen refs and last check, recent runs with their summaries and
//! failures, recent builds (target, status, duration, the GitHub run, a command's
//! output), the queue and the parked requests, the next scheduled run.
//!
//! Nothing secret is in it: targets are named, never their URLs, and any
//! `webhook` target URL that an error message quotes is replaced by the
//! target's name ([`Redactor`]). Secrets themselves never reach the store.

use std::collections::BTreeMap;

use jiff::Timestamp;
use repowatch_core::steps::{OutcomeStatus, RunSummary, Totals};
use repowatch_core::{BuildRecord, BuildStatus, Clock, Location, RefKind, SystemClock, TargetSpec};
use repowatch_local::{RunRecord, SeenDatasource};
use serde::{Deserialize as _, Serialize};

use crate::app::App;
use crate::config::Config;
use crate::schedule::Schedule;

/// How much history a snapshot holds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub runs: usize,
    pub builds: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { runs: 10, builds: 50 }
    }
}

/// Runs whose summaries are searched for each datasource's last check.
const LAST_CHECK_RUNS: usize = 20;

#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub generated_at: Timestamp,
    /// IANA name of `settings.timezone`: times are shown in it.
    pub timezone: String,
    /// The next daily run of `settings.schedule` (run by `repowatch serve`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run: Option<Timestamp>,
    pub schedule: String,
    pub queue: Queue,
    /// Build requests parked in the dead-letter queue.
    pub parked: Vec<Parked>,
    pub datasources: Vec<DatasourceView>,
    pub runs: Vec<RunView>,
    pub builds: Vec<BuildView>,
    /// Builds taken over from a dispatcher that died mid-dispatch (may have run twice).
    pub takeovers: usize,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Queue {
    pub waiting: u64,
    pub in_flight: u64,
    pub dlq: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Parked {
    pub message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildRef>,
    pub receive_count: u32,
    pub moved_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Which build a record or a parked request is about.
#[derive(Debug, Clone, Serialize)]
pub struct BuildRef {
    pub datasource: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub commit: String,
    pub target: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatasourceView {
    pub id: String,
    /// `owner/name` on GitHub, or the local path.
    pub source: String,
    pub github: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_check: Option<LastCheck>,
    pub refs: Vec<RefView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastCheck {
    pub at: Timestamp,
    /// `baseline`, `changed`, `unchanged` or `error`; `not listed` for a
    /// datasource a run too big to list every outcome only counted (and
    /// counted more than unchanged ones).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefView {
    pub kind: &'static str,
    /// The short name: `main`, `v1.2.0`.
    pub name: String,
    pub commit: String,
    pub observed_at: Timestamp,
    /// A build owed once the cooldown has passed.
    pub pending: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub id: String,
    pub started_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<Totals>,
    pub failures: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_remaining: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildView {
    #[serde(flatten)]
    pub build: BuildRef,
    /// The target's kind: `command`, `workflow_dispatch`, … (`unknown` once removed from the file).
    pub target_kind: &'static str,
    pub succeeded: bool,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub duration_ms: u64,
    /// The GitHub run the dispatch started, when GitHub said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// That run's state: `success`, `failure`, `in_progress` …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_state: Option<String>,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The tail of a command's output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Taken over from a dispatcher that died: may have reached its target twice.
    pub taken_over: bool,
}

/// Replaces every `webhook` target URL, and its origin, in free text (error
/// messages quote them) with the target's name.
pub struct Redactor(Vec<(String, String)>);

impl Redactor {
    pub fn new(config: &Config) -> Self {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (id, t) in &config.targets {
            if let TargetSpec::Webhook { url, .. } = t {
                let name = format!("<webhook target {id}>");
                pairs.push((url.clone(), name.clone()));
                // Errors name the origin only ("POST to https://host:port"): that too.
                if let Some((scheme, rest)) = url.split_once("://") {
                    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
                    pairs.push((format!("{scheme}://{host}"), name));
                }
            }
        }
        // Longest first, so a URL that extends another is replaced whole.
        pairs.sort_by_key(|(url, _)| std::cmp::Reverse(url.len()));
        Self(pairs)
    }

    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (url, name) in &self.0 {
            if out.contains(url.as_str()) {
                out = out.replace(url.as_str(), name);
            }
        }
        out
    }
}

/// Reads the store and the queue once.
pub async fn gather(app: &App, limits: Limits) -> Result<Snapshot, repowatch_core::PortError> {
    let seen = app.store.list_refs_all().await?;
    let runs = app.store.recent_runs(limits.runs.max(LAST_CHECK_RUNS)).await?;
    let builds = app.store.recent_builds(limits.builds).await?;
    let (waiting, in_flight, dlq) = app.queue.depth().await?;
    let parked = app.queue.dlq_list().await?;
    let takeovers = app.store.takeovers().await?;
    let redact = Redactor::new(&app.config);
    let now = SystemClock.now();
    let settings = &app.config.settings;
    let next_run = Schedule::new(&settings.schedule, settings.timezone.clone()).ok().and_then(|s| s.next_after(now));
    let parked = parked
        .iter()
        .map(|e| Parked {
            message_id: e.message_id.to_string(),
            build: e.request().ok().map(|r| BuildRef {
                datasource: r.datasource.to_string(),
                git_ref: r.git_ref.short().to_owned(),
                commit: r.commit.to_string(),
                target: r.target.to_string(),
            }),
            receive_count: e.receive_count,
            moved_at: e.moved_at,
            last_error: e.last_error.as_deref().map(|t| redact.apply(t)),
        })
        .collect();
    // Each stored summary is parsed once (a run over 1,000 datasources holds 1,000 outcomes).
    let summaries: Vec<Option<RunSummary>> =
        runs.iter().map(|r| r.summary.as_ref().and_then(|s| RunSummary::deserialize(s).ok())).collect();
    let taken: std::collections::BTreeSet<String> = takeovers.iter().map(|t| t.key.to_string()).collect();
    Ok(Snapshot {
        generated_at: now,
        timezone: settings.timezone_name.clone(),
        next_run,
        schedule: settings.schedule.clone(),
        queue: Queue { waiting, in_flight, dlq },
        parked,
        datasources: datasources(&app.config, &seen, &runs, &summaries, &redact),
        runs: runs.iter().zip(&summaries).take(limits.runs).map(|(r, s)| run_view(r, s.as_ref(), &redact)).collect(),
        builds: builds.iter().map(|b| build_view(&app.config, b, &taken, &redact)).collect(),
        takeovers: takeovers.len(),
    })
}

fn datasources(
    config: &Config,
    seen: &[SeenDatasource],
    runs: &[RunRecord],
    summaries: &[Option<RunSummary>],
    redact: &Redactor,
) -> Vec<DatasourceView> {
    let seen: BTreeMap<&str, &SeenDatasource> = seen.iter().map(|s| (s.id.as_str(), s)).collect();
    // The newest run that reported on each datasource.
    let mut last: BTreeMap<String, LastCheck> = BTreeMap::new();
    let configured: std::collections::BTreeSet<&str> = config.datasources.iter().map(|d| d.id.as_str()).collect();
    for (run, summary) in runs.iter().zip(summaries) {
        if last.len() >= config.datasources.len() {
            break; // every datasource has its newest check
        }
        let Some(summary) = summary else { continue };
        let at = run.finished_at.unwrap_or(run.started_at);
        for outcome in summary.datasources.iter().filter(|o| configured.contains(o.id.as_str())) {
            last.entry(outcome.id.to_string()).or_insert_with(|| LastCheck {
                at,
                outcome: match outcome.status {
                    OutcomeStatus::Baseline => "baseline",
                    OutcomeStatus::Changed => "changed",
                    OutcomeStatus::Unchanged => "unchanged",
                    OutcomeStatus::Error => "error",
                },
                error: outcome.error.as_ref().map(|e| redact.apply(&format!("{}: {}", e.name, e.message))),
            });
        }
        // A run too big to list every outcome (more than ~1,500 datasources)
        // lists the most telling ones and counts the rest: every datasource
        // it checked and did not list has one of the counted outcomes, which
        // is "unchanged" when that is all it counted. A datasource first seen
        // after the run was not in it.
        let o = &summary.omitted;
        if !o.is_empty() {
            let listed: std::collections::BTreeSet<&str> = summary.datasources.iter().map(|o| o.id.as_str()).collect();
            let outcome = if o.changed == 0 && o.first_seen == 0 && o.errors == 0 { "unchanged" } else { "not listed" };
            for d in &config.datasources {
                let in_run = seen.get(d.id.as_str()).is_some_and(|s| s.first_seen_at <= at);
                if in_run && !listed.contains(d.id.as_str()) {
                    last.entry(d.id.to_string()).or_insert(LastCheck { at, outcome, error: None });
                }
            }
        }
    }
    config
        .datasources
        .iter()
        .map(|d| {
            let (source, github) = match &d.location {
                Location::Github(repo) => (repo.to_string(), true),
                Location::Path(path) => (path.display().to_string(), false),
            };
            let state = seen.get(d.id.as_str());
            DatasourceView {
                id: d.id.to_string(),
                source,
                github,
                first_seen_at: state.map(|s| s.first_seen_at),
                last_check: last.remove(d.id.as_str()),
                refs: state
                    .map(|s| {
                        s.refs
                            .iter()
                            .map(|r| RefView {
                                kind: kind_name(r.kind),
                                name: r.name.short().to_owned(),
                                commit: r.commit.to_string(),
                                observed_at: r.observed_at,
                                pending: r.pending.is_some(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn run_view(run: &RunRecord, summary: Option<&RunSummary>, redact: &Redactor) -> RunView {
    let mut failures: Vec<String> = Vec::new();
    if let Some(s) = &summary {
        failures.extend(
            s.failures.iter().map(|f| redact.apply(&format!("{}: {}: {}", f.stage, f.error.name, f.error.message))),
        );
        failures.extend(
            s.datasources.iter().filter_map(|o| {
                o.error.as_ref().map(|e| redact.apply(&format!("{}: {}: {}", o.id, e.name, e.message)))
            }),
        );
    } else if let Some(other) = &run.summary {
        // The execution's error, when the run failed before a summary.
        let text = ["cause", "error", "message"]
            .iter()
            .find_map(|k| other.get(k).and_then(|v| v.as_str()))
            .map_or_else(|| other.to_string(), str::to_owned);
        failures.push(redact.apply(&text));
    }
    failures.dedup();
    RunView {
        id: run.id.clone(),
        started_at: run.started_at,
        finished_at: run.finished_at,
        status: run.status.clone(),
        totals: summary.map(|s| s.totals.clone()),
        github_remaining: summary.and_then(|s| s.github_remaining),
        failures,
    }
}

fn build_view(
    config: &Config,
    b: &BuildRecord,
    taken: &std::collections::BTreeSet<String>,
    redact: &Redactor,
) -> BuildView {
    let target_kind = config.targets.get(&b.request.target).map_or("unknown", |t| match t {
        TargetSpec::Command { .. } => "command",
        TargetSpec::WorkflowDispatch { .. } => "workflow_dispatch",
        TargetSpec::RepositoryDispatch { .. } => "repository_dispatch",
        TargetSpec::Webhook { .. } => "webhook",
    });
    let run_url = b
        .result
        .as_ref()
        .and_then(|r| r.url.clone())
        .or_else(|| b.run.as_ref().map(|r| r.url.clone()))
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    let run_state = b.result.as_ref().map(|r| r.conclusion.clone().unwrap_or_else(|| r.status.clone()));
    BuildView {
        build: BuildRef {
            datasource: b.request.datasource.to_string(),
            git_ref: b.request.git_ref.short().to_owned(),
            commit: b.request.commit.to_string(),
            target: b.request.target.to_string(),
        },
        target_kind,
        succeeded: b.status == BuildStatus::Succeeded,
        started_at: b.started_at,
        finished_at: b.finished_at,
        duration_ms: u64::try_from(b.finished_at.duration_since(b.started_at).as_millis()).unwrap_or(0),
        run_url,
        run_state,
        detail: redact.apply(&b.detail),
        exit_code: b.exit_code,
        output: b.output.as_deref().map(|o| redact.apply(o)),
        taken_over: taken.contains(b.request.key.as_str()),
    }
}

/// The first 12 hex digits of a commit, as people read it.
pub fn short_commit(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn kind_name(kind: RefKind) -> &'static str {
    match kind {
        RefKind::Branch => "branch",
        RefKind::Tag => "tag",
        RefKind::Release => "release",
    }
}

/// "1.2 s", "3 min 4 s", "850 ms".
pub fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
        _ => format!("{} h {} min", ms / 3_600_000, (ms % 3_600_000) / 60_000),
    }
}

/// A time in the configured zone, to the second.
pub fn local_time(at: Timestamp, tz: &jiff::tz::TimeZone) -> String {
    at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(1_240), "1.2 s");
        assert_eq!(duration(184_000), "3 min 4 s");
        assert_eq!(duration(7_380_000), "2 h 3 min");
    }

    // A run past ~1,500 datasources lists its most telling outcomes and counts
    // the rest (process_updates::bound_outcomes): the datasources it only
    // counted were still checked in it.
    #[test]
    fn a_bounded_run_is_the_last_check_of_the_datasources_it_only_counted() {
        let dir = std::path::Path::new("/srv");
        let toml: String = ["a", "b", "c", "late"]
            .iter()
            .map(|id| format!("[[datasources]]\nid = \"{id}\"\npath = \".\"\ntargets = [\"t\"]\n"))
            .chain(["[targets.t]\nkind = \"command\"\ncommand = [\"true\"]\n".to_string()])
            .collect();
        let config = crate::config::parse(&toml, &dir.join("repowatch.toml"), dir).unwrap();
        let t = |hours: i64| Timestamp::from_second(1_800_000_000 + hours * 3600).unwrap();
        let seen: Vec<SeenDatasource> = [("a", 0), ("b", 0), ("c", 0), ("late", 30)]
            .into_iter()
            .map(|(id, h)| SeenDatasource { id: id.parse_id(), first_seen_at: t(h), refs: vec![] })
            .collect();
        let run = |id: &str, h| RunRecord {
            id: id.into(),
            started_at: t(h),
            finished_at: Some(t(h)),
            status: "ok".into(),
            summary: None,
        };
        let summary = |listed: serde_json::Value, omitted: serde_json::Value| -> Option<RunSummary> {
            let totals =
                serde_json::json!({"datasources": 3, "changed": 0, "builds_queued": 0, "pending": 0, "errors": 0});
            Some(
                serde_json::from_value(
                    serde_json::json!({"status": "ok", "totals": totals, "datasources": listed, "omitted": omitted}),
                )
                .unwrap(),
            )
        };
        let every_one_unchanged = serde_json::json!([
            {"id": "a", "status": "unchanged"}, {"id": "b", "status": "unchanged"}, {"id": "c", "status": "unchanged"}
        ]);
        let runs = [run("r2", 24), run("r1", 1)]; // newest first
        let checks = |newest_omitted: serde_json::Value| -> Vec<(String, Option<(Timestamp, &'static str)>)> {
            let summaries = [
                summary(serde_json::json!([{"id": "a", "status": "changed"}]), newest_omitted),
                summary(every_one_unchanged.clone(), serde_json::json!({})),
            ];
            datasources(&config, &seen, &runs, &summaries, &Redactor::new(&config))
                .into_iter()
                .map(|d| (d.id, d.last_check.map(|c| (c.at, c.outcome))))
                .collect()
        };
        let want = |b_and_c: Option<(Timestamp, &'static str)>| {
            vec![
                ("a".to_string(), Some((t(24), "changed"))),
                ("b".to_string(), b_and_c),
                ("c".to_string(), b_and_c),
                // First seen after both runs: in neither.
                ("late".to_string(), None),
            ]
        };
        assert_eq!(checks(serde_json::json!({"unchanged": 2})), want(Some((t(24), "unchanged"))));
        // With changes or errors among the counted ones, which one each had is not known.
        assert_eq!(checks(serde_json::json!({"unchanged": 1, "errors": 1})), want(Some((t(24), "not listed"))));
        // A run that listed everything says nothing about the others.
        assert_eq!(checks(serde_json::json!({})), want(Some((t(1), "unchanged"))));
    }

    trait ParseId {
        fn parse_id(self) -> repowatch_core::DatasourceId;
    }
    impl ParseId for &str {
        fn parse_id(self) -> repowatch_core::DatasourceId {
            repowatch_core::DatasourceId::parse(self).unwrap()
        }
    }

    #[test]
    fn webhook_urls_and_their_origins_are_replaced_by_the_target_name() {
        let dir = std::path::Path::new("/srv");
        let config = crate::config::parse(
            "[[datasources]]\nid = \"a\"\npath = \".\"\ntargets = [\"gpu\"]\n[targets.gpu]\nkind = \"webhook\"\nurl = \"https://builder.example.net:8443/hooks/t0ken\"\nsecret = \"env:S\"\n",
            &dir.join("repowatch.toml"),
            dir,
        )
        .unwrap();
        let r = Redactor::new(&config);
        assert_eq!(
            r.apply("POST to https://builder.example.net:8443: refused; https://builder.example.net:8443/hooks/t0ken gave 500"),
            "POST to <webhook target gpu>: refused; <webhook target gpu> gave 500"
        );
        assert_eq!(r.apply("nothing to hide"), "nothing to hide");
    }
}
