//! The status page of `repowatch serve`: server-rendered HTML from a
//! [`Snapshot`], in Japanese or English, with one stylesheet and one small
//! script (`assets/`) that refreshes `<main>` in place. Every value from the
//! store is escaped; links are only ever GitHub run URLs that start with
//! `https://` or `http://`.

use std::fmt::Write as _;

use repowatch_notify::Lang;

use crate::status::{self, BuildView, DatasourceView, RunView, Snapshot, short_commit};

pub const CSS: &str = include_str!("../assets/status.css");
pub const JS: &str = include_str!("../assets/status.js");
pub const FAVICON: &str = include_str!("../assets/favicon.svg");
/// How often the page asks for a fresh `<main>`.
pub const REFRESH_MS: u64 = 3000;

/// The page's words in one language.
struct Words {
    title: &'static str,
    updated: &'static str,
    live: &'static str,
    stale: &'static str,
    next_run: &'static str,
    no_schedule: &'static str,
    queue: &'static str,
    waiting: &'static str,
    in_flight: &'static str,
    dlq: &'static str,
    parked_hint: &'static str,
    tries: &'static str,
    builds: &'static str,
    no_builds: &'static str,
    succeeded: &'static str,
    failed: &'static str,
    took: &'static str,
    github_run: &'static str,
    output: &'static str,
    taken_over: &'static str,
    runs: &'static str,
    no_runs: &'static str,
    checked: &'static str,
    changed: &'static str,
    queued: &'static str,
    deferred: &'static str,
    first_seen: &'static str,
    errors: &'static str,
    budget: &'static str,
    running: &'static str,
    datasources: &'static str,
    no_datasources: &'static str,
    not_seen: &'static str,
    last_check: &'static str,
    never_checked: &'static str,
    pending: &'static str,
    takeovers: &'static str,
}

const EN: Words = Words {
    title: "repowatch",
    updated: "updated",
    live: "live",
    stale: "offline — retrying",
    next_run: "next scheduled run",
    no_schedule: "no scheduled run",
    queue: "Queue",
    waiting: "waiting",
    in_flight: "in flight",
    dlq: "parked (dead-letter queue)",
    parked_hint: "replay with `repowatch dlq redrive`",
    tries: "tries",
    builds: "Builds",
    no_builds: "No builds yet.",
    succeeded: "succeeded",
    failed: "failed",
    took: "took",
    github_run: "GitHub run",
    output: "output",
    taken_over: "taken over from a worker that died: may have run twice",
    runs: "Runs",
    no_runs: "No runs yet: `repowatch run`, or wait for the schedule.",
    checked: "checked",
    changed: "changed",
    queued: "queued",
    deferred: "deferred",
    first_seen: "first seen",
    errors: "errors",
    budget: "GitHub budget left",
    running: "running",
    datasources: "Datasources",
    no_datasources: "No datasources in repowatch.toml.",
    not_seen: "not seen yet",
    last_check: "last check",
    never_checked: "no check in the recent runs",
    pending: "build pending (cooldown)",
    takeovers: "build(s) taken over from a worker that died mid-dispatch (may have run twice)",
};

const JA: Words = Words {
    title: "repowatch",
    updated: "更新",
    live: "自動更新中",
    stale: "接続できません — 再試行中",
    next_run: "次の定時実行",
    no_schedule: "定時実行なし",
    queue: "キュー",
    waiting: "待機中",
    in_flight: "実行中",
    dlq: "退避(デッドレターキュー)",
    parked_hint: "`repowatch dlq redrive` で再投入できます",
    tries: "回試行",
    builds: "ビルド",
    no_builds: "まだビルドはありません。",
    succeeded: "成功",
    failed: "失敗",
    took: "所要",
    github_run: "GitHub の実行",
    output: "出力",
    taken_over: "停止したワーカーから引き継いだビルド: 2 回実行された可能性があります",
    runs: "実行",
    no_runs: "まだ実行はありません: `repowatch run` を実行するか、定時実行を待ってください。",
    checked: "確認",
    changed: "変更",
    queued: "ビルド登録",
    deferred: "保留",
    first_seen: "初回",
    errors: "エラー",
    budget: "GitHub の残り予算",
    running: "実行中",
    datasources: "データソース",
    no_datasources: "repowatch.toml にデータソースがありません。",
    not_seen: "未確認",
    last_check: "最終確認",
    never_checked: "最近の実行で確認なし",
    pending: "ビルド待ち(クールダウン)",
    takeovers: "件のビルドを、ディスパッチ中に停止したワーカーから引き継ぎました(2 回実行された可能性があります)",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Ja => &JA,
        Lang::En => &EN,
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page around `main_html` (what [`main`] rendered); `etag` is its
/// ETag, so the page's first refresh is a 304.
pub fn page(snapshot: &Snapshot, lang: Lang, tz: &jiff::tz::TimeZone, main_html: &str, etag: &str) -> String {
    let w = words(lang);
    let mut out = String::with_capacity(16 * 1024);
    let other = match lang {
        Lang::Ja => r#"<a href="?lang=ja" aria-current="page">日本語</a> · <a href="?lang=en">English</a>"#,
        Lang::En => r#"<a href="?lang=ja">日本語</a> · <a href="?lang=en" aria-current="page">English</a>"#,
    };
    let _ = write!(
        out,
        r#"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<link rel="icon" href="assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="assets/status.css">
<script src="assets/status.js" defer></script>
</head>
<body>
<header><h1>{title}</h1><span class="meta">{tzname} · <span id="live" data-live="{live}" data-stale="{stale}">{live}</span> · {updated} <time id="updated" datetime="{gen}">{gen_local}</time></span><nav>{other}</nav></header>
<main id="main" data-etag="{etag}" data-refresh-ms="{REFRESH_MS}" data-tz="{tzname}">"#,
        lang = lang.as_str(),
        title = w.title,
        tzname = esc(&snapshot.timezone),
        live = esc(w.live),
        stale = esc(w.stale),
        etag = esc(etag),
        updated = w.updated,
        gen = snapshot.generated_at,
        gen_local = status::local_time(snapshot.generated_at, tz),
    );
    out.push_str(main_html);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// The inside of `<main>`: what the script swaps in. It holds no clock
/// reading (the header's "updated" does), so an unchanged store renders the
/// same bytes and a refresh is a 304.
pub fn main(s: &Snapshot, lang: Lang, tz: &jiff::tz::TimeZone) -> String {
    let w = words(lang);
    let t = |at: jiff::Timestamp| status::local_time(at, tz);
    let mut out = String::with_capacity(8 * 1024 + s.datasources.len() * 300 + s.builds.len() * 400);

    // Queue and schedule.
    let _ = write!(
        out,
        r#"<section class="wide" id="queue"><h2>{queue}</h2><p class="muted">{next}</p><div class="tiles"><div class="tile"><b>{waiting_n}</b>{waiting}</div><div class="tile"><b>{flight_n}</b>{in_flight}</div><div class="tile{dlq_class}"><b>{dlq_n}</b>{dlq}</div></div>"#,
        queue = w.queue,
        next = match s.next_run {
            Some(at) =>
                format!(r#"{}: <time datetime="{at}">{}</time> <code>{}</code>"#, w.next_run, t(at), esc(&s.schedule)),
            None => w.no_schedule.to_owned(),
        },
        waiting_n = s.queue.waiting,
        waiting = w.waiting,
        flight_n = s.queue.in_flight,
        in_flight = w.in_flight,
        dlq_class = if s.queue.dlq > 0 { " bad" } else { "" },
        dlq_n = s.queue.dlq,
        dlq = w.dlq,
    );
    if !s.parked.is_empty() {
        let _ = write!(out, r#"<p class="muted">{}</p><ul class="rows" id="parked">"#, esc(w.parked_hint));
        for p in &s.parked {
            let what = p.build.as_ref().map_or_else(
                || esc(&p.message_id),
                |b| {
                    format!(
                        "<b>{}</b> {} <code>{}</code> → {}",
                        esc(&b.datasource),
                        esc(&b.git_ref),
                        esc(short_commit(&b.commit)),
                        esc(&b.target)
                    )
                },
            );
            let _ = write!(
                out,
                r#"<li><div class="line"><span class="grow">{what}</span><span class="badge bad">{} {}</span><time class="muted" datetime="{}">{}</time></div>{}</li>"#,
                p.receive_count,
                w.tries,
                p.moved_at,
                t(p.moved_at),
                p.last_error.as_deref().map(|e| format!("<pre>{}</pre>", esc(e))).unwrap_or_default(),
            );
        }
        out.push_str("</ul>");
    }
    if s.takeovers > 0 {
        let _ = write!(out, r#"<p><span class="badge warn">{}</span> {}</p>"#, s.takeovers, esc(w.takeovers));
    }
    out.push_str("</section>");

    // Builds.
    let _ = write!(out, r#"<section class="wide" id="builds"><h2>{}</h2>"#, w.builds);
    if s.builds.is_empty() {
        let _ = write!(out, r#"<p class="muted">{}</p>"#, w.no_builds);
    } else {
        out.push_str(r#"<ul class="rows">"#);
        for b in &s.builds {
            build(&mut out, b, w, &t);
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");

    // Runs.
    let _ = write!(out, r#"<section id="runs"><h2>{}</h2>"#, w.runs);
    if s.runs.is_empty() {
        let _ = write!(out, r#"<p class="muted">{}</p>"#, esc(w.no_runs));
    } else {
        out.push_str(r#"<ul class="rows">"#);
        for r in &s.runs {
            run(&mut out, r, w, &t);
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");

    // Datasources.
    let _ = write!(
        out,
        r#"<section id="datasources"><h2>{} <span class="muted">({})</span></h2>"#,
        w.datasources,
        s.datasources.len()
    );
    if s.datasources.is_empty() {
        let _ = write!(out, r#"<p class="muted">{}</p>"#, w.no_datasources);
    } else {
        out.push_str(r#"<ul class="rows">"#);
        for d in &s.datasources {
            datasource(&mut out, d, w, &t);
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    out
}

fn build(out: &mut String, b: &BuildView, w: &Words, t: &dyn Fn(jiff::Timestamp) -> String) {
    let (class, label) = if b.succeeded { ("ok", w.succeeded) } else { ("bad", w.failed) };
    let _ = write!(
        out,
        r#"<li class="build" data-datasource="{ds}"><div class="line"><span class="badge {class}">{label}</span><span class="grow"><b>{ds}</b> {r} <code>{commit}</code> → {target} <span class="muted">({kind})</span></span><time class="muted" datetime="{at}">{at_local}</time></div><div class="line muted"><span>{took} {dur}</span>"#,
        ds = esc(&b.build.datasource),
        r = esc(&b.build.git_ref),
        commit = esc(short_commit(&b.build.commit)),
        target = esc(&b.build.target),
        kind = b.target_kind,
        at = b.finished_at,
        at_local = t(b.finished_at),
        took = w.took,
        dur = status::duration(b.duration_ms),
    );
    if let Some(url) = &b.run_url {
        let state = b.run_state.as_deref().map(|s| format!(" ({})", esc(s))).unwrap_or_default();
        let _ = write!(
            out,
            r#"<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>{state}"#,
            esc(url),
            w.github_run
        );
    }
    let _ = write!(out, r#"<span class="grow">{}</span></div>"#, esc(&b.detail));
    if b.taken_over {
        let _ = write!(out, r#"<p><span class="badge warn">!</span> {}</p>"#, w.taken_over);
    }
    if let Some(output) = b.output.as_deref().filter(|o| !o.trim().is_empty()) {
        let _ = write!(
            out,
            r#"<details data-key="{}"><summary>{}</summary><pre>{}</pre></details>"#,
            esc(&format!("{}-{}-{}", b.build.datasource, b.build.commit, b.finished_at.as_millisecond())),
            w.output,
            esc(output)
        );
    }
    out.push_str("</li>");
}

fn run(out: &mut String, r: &RunView, w: &Words, t: &dyn Fn(jiff::Timestamp) -> String) {
    let class = match r.status.as_str() {
        "ok" | "succeeded" => "ok",
        "running" => "plain",
        "partial" => "warn",
        _ => "bad",
    };
    let label = if r.status == "running" { w.running.to_owned() } else { esc(&r.status) };
    let _ = write!(
        out,
        r#"<li class="run"><div class="line"><span class="badge {class}">{label}</span><time class="grow" datetime="{at}">{at_local}</time><code class="muted">{id}</code></div>"#,
        at = r.started_at,
        at_local = t(r.started_at),
        id = esc(&r.id),
    );
    if let Some(totals) = &r.totals {
        let _ = write!(
            out,
            r#"<div class="muted">{} {} · {} {} · {} {} · {} {}"#,
            w.checked,
            totals.datasources,
            w.changed,
            totals.changed,
            w.queued,
            totals.builds_queued,
            w.deferred,
            totals.pending
        );
        if totals.first_seen > 0 {
            let _ = write!(out, " · {} {}", w.first_seen, totals.first_seen);
        }
        if totals.errors > 0 {
            let _ = write!(out, r#" · <span class="badge bad">{} {}</span>"#, w.errors, totals.errors);
        }
        if let Some(left) = r.github_remaining {
            let _ = write!(out, " · {} {left}", w.budget);
        }
        out.push_str("</div>");
    }
    if !r.failures.is_empty() {
        out.push_str(r#"<ul class="failures">"#);
        for f in &r.failures {
            let _ = write!(out, "<li>{}</li>", esc(f));
        }
        out.push_str("</ul>");
    }
    out.push_str("</li>");
}

fn datasource(out: &mut String, d: &DatasourceView, w: &Words, t: &dyn Fn(jiff::Timestamp) -> String) {
    let check = match &d.last_check {
        Some(c) => {
            let class = match c.outcome {
                "error" => "bad",
                "changed" => "ok",
                _ => "plain",
            };
            format!(
                r#"{} <time datetime="{}">{}</time> <span class="badge {class}">{}</span>"#,
                w.last_check,
                c.at,
                t(c.at),
                c.outcome
            )
        }
        None if d.first_seen_at.is_none() => w.not_seen.to_owned(),
        None => w.never_checked.to_owned(),
    };
    let _ = write!(
        out,
        r#"<li class="datasource" data-id="{id}"><div class="line"><b>{id}</b><span class="grow muted">{source}</span></div><div class="muted">{check}</div>"#,
        id = esc(&d.id),
        source = esc(&d.source),
    );
    if let Some(error) = d.last_check.as_ref().and_then(|c| c.error.as_deref()) {
        let _ = write!(out, r#"<ul class="failures"><li>{}</li></ul>"#, esc(error));
    }
    if !d.refs.is_empty() {
        out.push_str(r#"<ul class="refs">"#);
        for r in &d.refs {
            let pending =
                if r.pending { format!(r#" <span class="badge warn">{}</span>"#, w.pending) } else { String::new() };
            let _ = write!(
                out,
                r#"<li>{} <b>{}</b> <code>{}</code>{pending}</li>"#,
                r.kind,
                esc(&r.name),
                esc(short_commit(&r.commit)),
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</li>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_open_markup() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn both_languages_fill_every_word() {
        for w in [&EN, &JA] {
            for word in [w.title, w.queue, w.builds, w.runs, w.datasources, w.live, w.stale, w.next_run] {
                assert!(!word.trim().is_empty());
            }
        }
        assert_ne!(EN.builds, JA.builds);
    }
}
