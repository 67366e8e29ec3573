//! A message in one language and time zone, before any channel's format:
//! a title, a body, labelled fields, an optional link. Channels lay it out
//! (Discord embed, Slack blocks, webhook JSON) within their own limits.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use repowatch_core::DetectionSource;
use repowatch_core::steps::{RunFailure, RunStatus};
use serde::Serialize;

use crate::alarm::{self, Alarm, AlarmState, Watched};
use crate::message::{BuildInfo, Message, Severity};
use crate::text::{self, Lang, fill, fit, list, list_more};

/// How many names a list shows before "and N more".
const LIST_ITEMS: usize = 10;
/// Lines of failures (or parked items) a message shows before summarising.
const DETAIL_LINES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub label: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub severity: Severity,
    pub title: String,
    /// Lines of prose (failures, hints); each already within 300 characters.
    pub body: Vec<String>,
    pub fields: Vec<Field>,
    pub link: Option<Link>,
    /// When it happened, shown in the configured time zone.
    pub at: Option<Timestamp>,
    pub footer: String,
}

impl Rendered {
    /// Plain text: the webhook's `text`, Slack's notification fallback, the golden files.
    pub fn plain(&self) -> String {
        let mut out = format!("{} {}", self.severity.emoji(), self.title);
        for line in &self.body {
            out.push('\n');
            out.push_str(line);
        }
        for f in &self.fields {
            out.push_str(&format!("\n{}: {}", f.name, f.value));
        }
        if let Some(link) = &self.link {
            out.push_str(&format!("\n{}: {}", link.label, link.url));
        }
        out.push_str(&format!("\n— {}", self.footer));
        out
    }
}

/// Renders `message` for people reading `lang`, times in `tz`.
pub fn render(message: &Message, lang: Lang, tz: &TimeZone) -> Rendered {
    let t = |tpl: text::T| tpl.get(lang);
    let time = |at: Timestamp| at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string();
    let mut r = Rendered {
        severity: message.severity(),
        title: String::new(),
        body: vec![],
        fields: vec![],
        link: None,
        at: None,
        footer: t(text::FOOTER).to_owned(),
    };
    let field = |name: text::T, value: String| Field { name: t(name).to_owned(), value };
    match message {
        Message::Run { summary, github_remaining } => {
            let totals = &summary.totals;
            let n = |v: usize| v.to_string();
            let (changed, queued, errors) = (n(totals.changed), n(totals.builds_queued), n(totals.errors));
            let values = [("changed", changed.as_str()), ("queued", queued.as_str()), ("errors", errors.as_str())];
            r.title = match summary.status {
                RunStatus::Ok if message.is_quiet_run() => t(text::RUN_QUIET).to_owned(),
                RunStatus::Ok => fill(t(text::RUN_OK), &values),
                RunStatus::Partial => fill(t(text::RUN_PARTIAL), &values),
                RunStatus::Failed => t(text::RUN_FAILED).to_owned(),
            };
            if let Some(run) = &summary.run {
                r.at = Some(run.started_at);
                let source = match run.source {
                    DetectionSource::Schedule => text::SOURCE_SCHEDULE,
                    DetectionSource::Webhook => text::SOURCE_WEBHOOK,
                    DetectionSource::Manual => text::SOURCE_MANUAL,
                };
                r.fields.push(field(text::FIELD_SOURCE, format!("{} · {}", t(source), time(run.started_at))));
            }
            r.fields.push(field(text::FIELD_CHECKED, fill(t(text::CHECKED), &[("n", &n(totals.datasources))])));
            let names = |pred: &dyn Fn(&repowatch_core::steps::Outcome) -> bool| -> Vec<String> {
                summary.datasources.iter().filter(|o| pred(o)).map(|o| o.id.to_string()).collect()
            };
            let changed = names(&|o| !o.builds.is_empty() || o.status == repowatch_core::steps::OutcomeStatus::Changed);
            if !changed.is_empty() {
                let unlisted = summary.omitted.changed;
                r.fields.push(field(text::FIELD_CHANGED, list_more(&changed, unlisted, LIST_ITEMS, 1000, lang)));
            }
            if totals.builds_queued > 0 {
                let builds: Vec<String> = summary
                    .datasources
                    .iter()
                    .flat_map(|o| {
                        o.builds
                            .iter()
                            .map(move |b| format!("{} {} → {}", o.id, short_ref(b.git_ref.as_str()), b.target))
                    })
                    .collect();
                let unlisted = summary.omitted.builds;
                r.fields.push(field(text::FIELD_QUEUED, list_more(&builds, unlisted, LIST_ITEMS, 1000, lang)));
            }
            if totals.pending > 0 {
                let pending = names(&|o| !o.pending.is_empty());
                let unlisted = summary.omitted.pending;
                r.fields.push(field(text::FIELD_PENDING, list_more(&pending, unlisted, LIST_ITEMS, 1000, lang)));
            }
            if totals.first_seen > 0 {
                let first = names(&|o| o.status == repowatch_core::steps::OutcomeStatus::Baseline);
                let unlisted = summary.omitted.first_seen;
                r.fields.push(field(text::FIELD_FIRST_SEEN, list_more(&first, unlisted, LIST_ITEMS, 1000, lang)));
            }
            if let Some(left) = github_remaining {
                r.fields.push(field(text::FIELD_BUDGET, left.to_string()));
            }
            let failures: Vec<String> = summary.failures.iter().map(|f| failure_line(f, lang)).collect();
            r.body.extend(failures.iter().take(DETAIL_LINES).cloned());
            let unlisted = failures.len().saturating_sub(DETAIL_LINES) + summary.omitted.errors;
            if unlisted > 0 {
                r.body.push(fill(t(text::AND_MORE), &[("n", &unlisted.to_string())]));
            }
        }
        Message::BuildDispatched { build } => {
            r.title = build_title(text::BUILD_DISPATCHED, build, None, lang);
            build_fields(&mut r, build, lang);
        }
        Message::BuildFinished { build, conclusion } => {
            let tpl = match conclusion.as_str() {
                "success" => text::BUILD_SUCCEEDED,
                "failure" | "timed_out" | "startup_failure" | "action_required" => text::BUILD_FAILED,
                _ => text::BUILD_OTHER,
            };
            r.title = build_title(tpl, build, Some(conclusion), lang);
            build_fields(&mut r, build, lang);
        }
        Message::Parked { items, total } => {
            r.title = fill(t(text::PARKED_TITLE), &[("total", &total.to_string())]);
            for item in items.iter().take(DETAIL_LINES) {
                let count = item.receive_count.to_string();
                let line = fill(
                    t(text::PARKED_LINE),
                    &[
                        ("datasource", item.datasource.as_str()),
                        ("ref", short_ref(item.git_ref.as_str())),
                        ("target", item.target.as_str()),
                        ("count", &count),
                        ("error", &item.error),
                    ],
                );
                r.body.push(fit(&line, 300));
            }
            let shown = items.len().min(DETAIL_LINES);
            if *total > shown {
                r.body.push(fill(t(text::AND_MORE), &[("n", &(total - shown).to_string())]));
            }
            r.body.push(t(text::PARKED_HINT).to_owned());
        }
        Message::Alarm { alarm } => render_alarm(&mut r, alarm, lang, &time),
        Message::Unrecognised { subject, text } => {
            r.title = t(text::UNRECOGNISED_TITLE).to_owned();
            if let Some(subject) = subject {
                r.body.push(fit(subject, 200));
            }
            r.body.push(fit(text, 1000));
        }
        Message::ChannelsFailed { channels } => {
            r.title = fill(t(text::CHANNELS_FAILED_TITLE), &[("channels", &list(channels, LIST_ITEMS, 200, lang))]);
            r.body.push(t(text::CHANNELS_FAILED_HINT).to_owned());
        }
        Message::Test { at } => {
            r.title = t(text::TEST_TITLE).to_owned();
            r.body.push(t(text::TEST_BODY).to_owned());
            r.at = Some(*at);
            r.fields.push(field(text::FIELD_CHANGED_AT, time(*at)));
        }
    }
    r.title = fit(&r.title, 150);
    r
}

fn render_alarm(r: &mut Rendered, alarm: &Alarm, lang: Lang, time: &dyn Fn(Timestamp) -> String) {
    let t = |tpl: text::T| tpl.get(lang);
    let state = |s: &AlarmState| match s {
        AlarmState::Alarm => t(text::STATE_ALARM).to_owned(),
        AlarmState::Ok => t(text::STATE_OK).to_owned(),
        AlarmState::InsufficientData => t(text::STATE_INSUFFICIENT).to_owned(),
        AlarmState::Other(other) => other.clone(),
    };
    let name = alarm.name.as_str();
    r.title = match &alarm.state {
        AlarmState::Alarm => fill(t(text::ALARM_TITLE), &[("name", name)]),
        AlarmState::Ok => fill(t(text::ALARM_OK_TITLE), &[("name", name)]),
        other => fill(t(text::ALARM_OTHER_TITLE), &[("name", name), ("state", &state(other))]),
    };
    r.body.push(fit(alarm.description.as_deref().unwrap_or(t(text::NO_DESCRIPTION)), 300));
    if !alarm.reason.is_empty() {
        r.body.push(fit(&alarm.reason, 300));
    }
    let transition = match &alarm.previous {
        Some(previous) => format!("{} → {}", state(previous), state(&alarm.state)),
        None => state(&alarm.state),
    };
    r.fields.push(Field { name: t(text::FIELD_STATE).to_owned(), value: transition });
    if let Some(watched) = &alarm.watched {
        let value = match watched {
            Watched::Metric { namespace, name } if namespace.is_empty() => name.clone(),
            Watched::Metric { namespace, name } => format!("{namespace} {name}"),
            Watched::Expression { expression, label: Some(label) } => format!("{label} = {expression}"),
            Watched::Expression { expression, label: None } => expression.clone(),
        };
        r.fields.push(Field { name: t(text::FIELD_WATCHES).to_owned(), value: fit(&value, 200) });
    }
    let region = alarm.region.as_deref().or(alarm.region_code.as_deref());
    if let Some(region) = region {
        let shown = match lang {
            Lang::Ja => alarm::region_ja(region).map(str::to_owned).unwrap_or_else(|| region.to_owned()),
            Lang::En => region.to_owned(),
        };
        r.fields.push(Field { name: t(text::FIELD_REGION).to_owned(), value: fit(&shown, 100) });
    }
    if let Some(at) = alarm.changed_at {
        r.at = Some(at);
        r.fields.push(Field { name: t(text::FIELD_CHANGED_AT).to_owned(), value: time(at) });
    }
    r.link = alarm.console_url().map(|url| Link { label: t(text::LINK_CONSOLE).to_owned(), url });
}

fn build_title(tpl: text::T, build: &BuildInfo, conclusion: Option<&String>, lang: Lang) -> String {
    let mut values = vec![("datasource", build.datasource.as_str()), ("ref", short_ref(build.git_ref.as_str()))];
    if let Some(c) = conclusion {
        values.push(("conclusion", c.as_str()));
    }
    fill(tpl.get(lang), &values)
}

fn build_fields(r: &mut Rendered, build: &BuildInfo, lang: Lang) {
    r.fields.push(Field { name: text::FIELD_TARGET.get(lang).to_owned(), value: build.target.to_string() });
    let commit = build.commit.as_str();
    r.fields.push(Field {
        name: text::FIELD_COMMIT.get(lang).to_owned(),
        value: commit[..commit.len().min(12)].to_owned(),
    });
    r.link = build
        .url
        .as_ref()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(|url| Link { label: text::LINK_RUN.get(lang).to_owned(), url: url.clone() });
}

fn failure_line(f: &RunFailure, lang: Lang) -> String {
    let names: Vec<String> = f.datasources.iter().map(|d| d.to_string()).collect();
    let what = match f.stage.as_str() {
        "datasource" if !names.is_empty() => names.join(", "),
        "list-datasources" => text::STAGE_LIST.get(lang).to_owned(),
        "shard" => fill(text::STAGE_SHARD.get(lang), &[("datasources", &list_more(&names, f.more, 5, 120, lang))]),
        "map" => text::STAGE_MAP.get(lang).to_owned(),
        other => other.to_owned(),
    };
    let message = if f.error.message.is_empty() { f.error.name.as_str() } else { f.error.message.as_str() };
    fit(&fill(text::FAILURE_LINE.get(lang), &[("what", &what), ("message", message)]), 300)
}

/// `refs/heads/main` → `main`, `refs/tags/v1` → `v1`: what people call them.
fn short_ref(r: &str) -> &str {
    r.strip_prefix("refs/heads/").or_else(|| r.strip_prefix("refs/tags/")).unwrap_or(r)
}
