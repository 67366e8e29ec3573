//! Human output. Everything here is for people; `--json` prints the
//! underlying structures instead.

use std::fmt::Write;

use repowatch_core::steps::{DispatchOutcome, DispatchResult, Outcome, OutcomeStatus, RunStatus};
use repowatch_core::{BuildRecord, Location};
use repowatch_local::DlqEntry;
use repowatch_local::engine::RunReport;
use repowatch_local::worker::WorkReport;

use crate::app::App;
use crate::config::Config;
use crate::status::short_commit;

/// Lines of a build's output shown under it.
const OUTPUT_LINES: usize = 8;

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
    let o = &summary.omitted;
    if !o.is_empty() {
        let counted = |parts: &[(usize, &str)]| -> String {
            parts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect::<Vec<_>>().join(", ")
        };
        let datasources = counted(&[
            (o.errors, "with errors"),
            (o.changed, "changed"),
            (o.first_seen, "first seen"),
            (o.unchanged, "unchanged"),
        ]);
        let parts =
            counted(&[(o.builds, "queued builds"), (o.pending, "deferred builds"), (o.skipped, "skipped changes")]);
        let what = match (datasources.is_empty(), parts.is_empty()) {
            (false, false) => format!("{} ({datasources}); {parts}", plural(o.outcomes(), "datasource", "datasources")),
            (false, true) => format!("{} ({datasources})", plural(o.outcomes(), "datasource", "datasources")),
            (true, _) => parts,
        };
        let _ = writeln!(
            out,
            "  not listed: {what}. A run's summary stays within Step Functions' 256 KiB state limit; the totals count everything."
        );
    }
    for f in summary.failures.iter().filter(|f| f.stage != "datasource") {
        let mut names = f.datasources.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ");
        if f.more > 0 {
            names.push_str(&format!(" and {} more", f.more));
        }
        let _ = writeln!(out, "  {} failed ({names}): {}: {}", f.stage, f.error.name, f.error.message);
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
            short_commit(b.commit.as_str()),
            b.target,
            b.message_id,
            short_commit(b.key.as_str())
        );
    }
    for p in &o.pending {
        let _ = writeln!(
            out,
            "    {} {} → waiting for cooldown until {}",
            p.git_ref,
            short_commit(p.commit.as_str()),
            p.due_at
        );
    }
    for s in &o.skipped {
        let commit = s.commit.as_ref().map(|c| format!(" {}", short_commit(c.as_str()))).unwrap_or_default();
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
        short_commit(r.commit.as_str()),
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

/// `repowatch status`: the facts of the status page, for a terminal.
pub fn status(s: &crate::status::Snapshot, tz: &jiff::tz::TimeZone) -> String {
    use crate::status::{duration, local_time};
    let t = |at: jiff::Timestamp| local_time(at, tz);
    let mut out = String::new();
    let _ = writeln!(out, "datasources ({}):", s.datasources.len());
    for d in &s.datasources {
        let source = if d.github { format!("github.com/{}", d.source) } else { d.source.clone() };
        let check = match (&d.last_check, d.first_seen_at) {
            (Some(c), _) => format!("last check {} ({})", t(c.at), c.outcome),
            (None, None) => "not seen yet".to_owned(),
            (None, Some(first)) => format!("first seen {}; no check in the recent runs", t(first)),
        };
        let _ = writeln!(out, "  {} ({source}): {check}", d.id);
        if let Some(error) = d.last_check.as_ref().and_then(|c| c.error.as_deref()) {
            let _ = writeln!(out, "    error: {error}");
        }
        for r in &d.refs {
            let pending = if r.pending { " (build pending: cooldown)" } else { "" };
            let _ = writeln!(out, "    {} {} {}{pending}", r.kind, r.name, short_commit(&r.commit));
        }
    }
    let _ = writeln!(out, "recent runs:");
    if s.runs.is_empty() {
        let _ = writeln!(out, "  none yet: `repowatch run`");
    }
    for r in &s.runs {
        let mut line = format!("  {} {} {}", t(r.started_at), r.status, r.id);
        if let Some(n) = &r.totals {
            let _ = write!(
                line,
                ": {} checked, {} changed, {} queued, {} deferred",
                n.datasources, n.changed, n.builds_queued, n.pending
            );
            if n.errors > 0 {
                let _ = write!(line, ", {} error(s)", n.errors);
            }
        }
        if let Some(left) = r.github_remaining {
            let _ = write!(line, "; GitHub budget left {left}");
        }
        let _ = writeln!(out, "{line}");
        for f in &r.failures {
            let _ = writeln!(out, "    {f}");
        }
    }
    let _ = writeln!(out, "recent builds:");
    if s.builds.is_empty() {
        let _ = writeln!(out, "  none yet");
    }
    for b in &s.builds {
        let _ = writeln!(
            out,
            "  {} {} {} {} → {} ({}): {} in {} ({})",
            t(b.finished_at),
            b.build.datasource,
            b.build.git_ref,
            short_commit(&b.build.commit),
            b.build.target,
            b.target_kind,
            if b.succeeded { "succeeded" } else { "FAILED" },
            duration(b.duration_ms),
            b.detail
        );
        if let Some(url) = &b.run_url {
            let state = b.run_state.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
            let _ = writeln!(out, "    GitHub run: {url}{state}");
        }
        if b.taken_over {
            let _ = writeln!(out, "    taken over from a worker that died mid-dispatch: may have run twice");
        }
        if !b.succeeded
            && let Some(output) = &b.output
        {
            let lines: Vec<&str> = output.lines().collect();
            for line in &lines[lines.len().saturating_sub(OUTPUT_LINES)..] {
                let _ = writeln!(out, "    | {line}");
            }
        }
    }
    let _ = writeln!(
        out,
        "queue: {} waiting, {} in flight, {} in the dead-letter queue",
        s.queue.waiting, s.queue.in_flight, s.queue.dlq
    );
    for p in &s.parked {
        let what = p.build.as_ref().map_or_else(
            || p.message_id.clone(),
            |b| format!("{} {} {} → {}", b.datasource, b.git_ref, short_commit(&b.commit), b.target),
        );
        let _ = writeln!(
            out,
            "  parked {}: {what} after {} tries{}",
            t(p.moved_at),
            p.receive_count,
            p.last_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
        );
    }
    if !s.parked.is_empty() {
        let _ = writeln!(out, "  replay them with `repowatch dlq redrive`");
    }
    match s.next_run {
        Some(at) => {
            let _ = writeln!(out, "next scheduled run: {} ({}, by `repowatch serve`)", t(at), s.schedule);
        }
        None => {
            let _ = writeln!(out, "next scheduled run: none ({})", s.schedule);
        }
    }
    if s.takeovers > 0 {
        let _ = writeln!(
            out,
            "{} build(s) were taken over from a worker that died mid-dispatch and may have reached their target twice (`--json` lists the keys)",
            s.takeovers
        );
    }
    out
}

pub fn dlq(entries: &[DlqEntry]) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        let _ = writeln!(out, "the dead-letter queue is empty");
    }
    for e in entries {
        let what = match e.request() {
            Ok(r) => format!("{} {} {} → {}", r.datasource, r.git_ref, short_commit(r.commit.as_str()), r.target),
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
