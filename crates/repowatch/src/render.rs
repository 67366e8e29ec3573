//! Human output. Everything here is for people; `--json` prints the
//! underlying structures instead.

use std::fmt::Write;

use repowatch_core::steps::{DispatchOutcome, DispatchResult, Outcome, OutcomeStatus, RunStatus};
use repowatch_core::{BuildRecord, Location};
use repowatch_local::engine::RunReport;
use repowatch_local::worker::WorkReport;
use repowatch_local::{DlqEntry, RunRecord, SeenDatasource};

use crate::app::App;
use crate::config::Config;

/// Lines of a build's output shown under it.
const OUTPUT_LINES: usize = 8;

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn location(config: &Config, id: &str) -> String {
    match config.datasources.iter().find(|d| d.id.as_str() == id).map(|d| &d.location) {
        Some(Location::Path(p)) => p.display().to_string(),
        Some(Location::Github(r)) => format!("github.com/{r}"),
        None => "(no longer configured)".to_owned(),
    }
}

pub fn run_summary(config: &Config, report: &RunReport) -> String {
    let mut out = String::new();
    let Some(summary) = &report.summary else {
        let _ = writeln!(out, "run {} FAILED", report.run_id);
        let _ = writeln!(
            out,
            "  {}: {}",
            report.execution.error.as_deref().unwrap_or("error"),
            report.execution.cause.as_deref().unwrap_or("(no cause)")
        );
        return out;
    };
    let t = &summary.totals;
    let source = summary.run.as_ref().map_or("manual", |r| r.source.as_str());
    // Anything but ok shouts, so it stands out in a cron mail.
    let status = match summary.status {
        RunStatus::Ok => "ok".to_owned(),
        other => other.as_str().to_uppercase(),
    };
    let _ = writeln!(
        out,
        "run {} ({source}): {} — {}, {}{} changed, {} queued, {} pending, {}",
        report.run_id,
        status,
        plural(t.datasources, "datasource", "datasources"),
        if t.first_seen > 0 { format!("{} seen for the first time, ", t.first_seen) } else { String::new() },
        t.changed,
        plural(t.builds_queued, "build", "builds"),
        t.pending,
        plural(t.errors, "error", "errors"),
    );
    for o in &summary.datasources {
        datasource_lines(&mut out, config, o);
    }
    for f in summary.failures.iter().filter(|f| f.stage != "datasource") {
        let _ = writeln!(
            out,
            "  {} failed ({}): {}: {}",
            f.stage,
            f.datasources.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", "),
            f.error.name,
            f.error.message
        );
    }
    out
}

fn datasource_lines(out: &mut String, config: &Config, o: &Outcome) {
    let status = match o.status {
        OutcomeStatus::Baseline => "first sight",
        OutcomeStatus::Changed => "changed",
        OutcomeStatus::Unchanged => "no change",
        OutcomeStatus::Error => "ERROR",
    };
    let _ = writeln!(out, "  {} ({}): {status}", o.id, location(config, o.id.as_str()));
    if let Some(e) = &o.error {
        let _ = writeln!(out, "    {}: {}", e.name, e.message);
    }
    for b in &o.builds {
        let _ = writeln!(
            out,
            "    {} {} → build queued for target {} (message {}, key {})",
            b.git_ref,
            short(b.commit.as_str()),
            b.target,
            b.message_id,
            short(b.key.as_str())
        );
    }
    for p in &o.pending {
        let _ =
            writeln!(out, "    {} {} → waiting for cooldown until {}", p.git_ref, short(p.commit.as_str()), p.due_at);
    }
    for s in &o.skipped {
        let commit = s.commit.as_ref().map(|c| format!(" {}", short(c.as_str()))).unwrap_or_default();
        let _ = writeln!(out, "    {}{commit}: {}", s.git_ref, s.reason);
    }
}

/// The stored record of each handled build (for its output), in order.
pub async fn build_lines(app: &App, work: &WorkReport) -> Vec<Option<BuildRecord>> {
    let mut records = Vec::with_capacity(work.results.len());
    for r in &work.results {
        let record = match r.outcome {
            DispatchOutcome::Dispatched | DispatchOutcome::Failed => {
                app.store.builds_for_key(&r.key).await.ok().and_then(|mut v| v.pop())
            }
            _ => None,
        };
        records.push(record);
    }
    records
}

/// One line on what GitHub detection cost and what is left.
pub fn github_budget(b: &repowatch_github::Budget, tz: &jiff::tz::TimeZone) -> String {
    let mut line = format!(
        "GitHub: {} GraphQL quer{} ({} point{}), {} REST request{}",
        b.graphql_requests,
        if b.graphql_requests == 1 { "y" } else { "ies" },
        b.graphql_points,
        if b.graphql_points == 1 { "" } else { "s" },
        b.rest_requests,
        if b.rest_requests == 1 { "" } else { "s" }
    );
    if let Some(g) = b.graphql {
        line.push_str(&format!(
            "; {} of {} points left until {}",
            g.remaining,
            g.limit,
            g.reset.to_zoned(tz.clone()).strftime("%H:%M %Z")
        ));
    }
    if b.limited > 0 {
        line.push_str(&format!("; waited out {} rate limit(s)", b.limited));
    }
    line
}

pub fn work_summary(work: &WorkReport, records: &[Option<BuildRecord>], depth: Option<(u64, u64, u64)>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "builds: {} dispatched, {} failed, {} duplicate",
        work.count(DispatchOutcome::Dispatched),
        work.count(DispatchOutcome::Failed),
        work.count(DispatchOutcome::Duplicate) + work.count(DispatchOutcome::Busy),
    );
    for (r, record) in work.results.iter().zip(records) {
        build_line(&mut out, r, record.as_ref());
    }
    if let Some((visible, in_flight, dlq)) = depth {
        let _ = writeln!(out, "queue: {visible} waiting, {in_flight} in flight, {dlq} in the dead-letter queue");
        if dlq > 0 {
            let _ =
                writeln!(out, "  inspect with `repowatch dlq list`; replay with `repowatch dlq redrive` once fixed");
        }
    }
    out
}

fn build_line(out: &mut String, r: &DispatchResult, record: Option<&BuildRecord>) {
    let outcome = match r.outcome {
        DispatchOutcome::Dispatched => "succeeded",
        DispatchOutcome::Failed => "FAILED",
        DispatchOutcome::Duplicate => "already built",
        DispatchOutcome::Busy => "being built elsewhere",
    };
    let _ = writeln!(
        out,
        "  {} {} {} → {}: {outcome} ({})",
        r.datasource,
        r.git_ref,
        short(r.commit.as_str()),
        r.target,
        r.detail
    );
    if let Some(output) = record.and_then(|b| b.output.as_deref()) {
        let lines: Vec<&str> = output.lines().collect();
        for line in &lines[lines.len().saturating_sub(OUTPUT_LINES)..] {
            let _ = writeln!(out, "    │ {line}");
        }
    }
}

pub fn status(
    config: &Config,
    seen: &[SeenDatasource],
    runs: &[RunRecord],
    builds: &[BuildRecord],
    (visible, in_flight, dlq): (u64, u64, u64),
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "datasources:");
    for ds in &config.datasources {
        match seen.iter().find(|s| s.id == ds.id) {
            None => {
                let _ = writeln!(out, "  {} ({}): not seen yet", ds.id, location(config, ds.id.as_str()));
            }
            Some(s) => {
                let _ =
                    writeln!(out, "  {} ({}): first seen {}", ds.id, location(config, ds.id.as_str()), s.first_seen_at);
                for r in &s.refs {
                    let pending = if r.pending.is_some() { " (build pending: cooldown)" } else { "" };
                    let _ = writeln!(out, "    {} {}{pending}", r.name, short(r.commit.as_str()));
                }
            }
        }
    }
    let _ = writeln!(out, "recent runs:");
    if runs.is_empty() {
        let _ = writeln!(out, "  none yet: `repowatch run`");
    }
    for r in runs {
        let _ = writeln!(out, "  {} {} {}", r.id, r.started_at, r.status);
    }
    let _ = writeln!(out, "recent builds:");
    if builds.is_empty() {
        let _ = writeln!(out, "  none yet");
    }
    for b in builds {
        let _ = writeln!(
            out,
            "  {} {} {} {} → {}: {} ({})",
            b.finished_at,
            b.request.datasource,
            b.request.git_ref,
            short(b.request.commit.as_str()),
            b.request.target,
            match b.status {
                repowatch_core::BuildStatus::Succeeded => "succeeded",
                repowatch_core::BuildStatus::Failed => "FAILED",
            },
            b.detail
        );
    }
    let _ = writeln!(out, "queue: {visible} waiting, {in_flight} in flight, {dlq} in the dead-letter queue");
    out
}

pub fn dlq(entries: &[DlqEntry]) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        let _ = writeln!(out, "the dead-letter queue is empty");
    }
    for e in entries {
        let what = match e.request() {
            Ok(r) => format!("{} {} {} → {}", r.datasource, r.git_ref, short(r.commit.as_str()), r.target),
            Err(err) => format!("(unreadable body: {err})"),
        };
        let _ = writeln!(
            out,
            "{}  {what}  received {}×, parked {}{}",
            e.message_id,
            e.receive_count,
            e.moved_at,
            e.last_error.as_deref().map(|l| format!(", last error: {l}")).unwrap_or_default()
        );
    }
    out
}

pub fn execution(execution: &repowatch_asl::Execution, history: bool) -> String {
    let mut out = String::new();
    if history {
        for e in &execution.history {
            let _ = writeln!(
                out,
                "{:>4} {:<28} {}",
                e.id,
                format!("{:?}", e.event_type),
                e.state_name.as_deref().unwrap_or("")
            );
        }
    }
    let _ = writeln!(out, "status: {:?}", execution.status);
    if let Some(o) = &execution.output {
        let _ = writeln!(out, "output: {o}");
    }
    if let Some(e) = &execution.error {
        let _ = writeln!(out, "error: {e}");
    }
    if let Some(c) = &execution.cause {
        let _ = writeln!(out, "cause: {c}");
    }
    out
}
