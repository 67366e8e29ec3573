//! What repowatch tells people about, independent of language and channel.

use jiff::Timestamp;
use repowatch_core::steps::{RunStatus, RunSummary};
use repowatch_core::{CommitSha, DatasourceId, RefName, TargetId};
use serde::{Deserialize, Serialize};

use crate::alarm::{Alarm, AlarmState};

/// A channel's `on = [...]`: the kinds of message it wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// A run, a datasource or a build failed.
    Failure,
    /// A build was dispatched, or a dispatched build finished.
    Build,
    /// The summary of each run that did something (quiet runs only when asked).
    Summary,
    /// CloudWatch alarms and parked (dead-lettered) build requests.
    Alarm,
}

impl Topic {
    pub const ALL: [Topic; 4] = [Topic::Failure, Topic::Build, Topic::Summary, Topic::Alarm];
    /// `on` when a channel does not say.
    pub const DEFAULT: [Topic; 2] = [Topic::Failure, Topic::Alarm];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Failure => "failure",
            Topic::Build => "build",
            Topic::Summary => "summary",
            Topic::Alarm => "alarm",
        }
    }
}

/// A build handed to its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    pub datasource: DatasourceId,
    #[serde(rename = "ref")]
    pub git_ref: RefName,
    pub commit: CommitSha,
    pub target: TargetId,
    /// The GitHub run (or other page) to follow it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl From<&repowatch_core::steps::DispatchResult> for BuildInfo {
    fn from(r: &repowatch_core::steps::DispatchResult) -> Self {
        BuildInfo {
            datasource: r.datasource.clone(),
            git_ref: r.git_ref.clone(),
            commit: r.commit.clone(),
            target: r.target.clone(),
            url: None,
        }
    }
}

/// A build request that exhausted its deliveries and was parked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedItem {
    pub datasource: DatasourceId,
    #[serde(rename = "ref")]
    pub git_ref: RefName,
    pub target: TargetId,
    pub receive_count: u32,
    pub error: String,
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// What a run checked, changed, queued and what failed.
    Run {
        summary: RunSummary,
        /// GitHub's remaining API budget after the run, when it read GitHub.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        github_remaining: Option<u64>,
    },
    /// A build went to its target.
    BuildDispatched { build: BuildInfo },
    /// A dispatched build finished (GitHub's `workflow_run`, a command's exit).
    BuildFinished {
        build: BuildInfo,
        /// `success`, `failure`, `cancelled`, `timed_out` …
        conclusion: String,
    },
    /// Build requests parked in the dead-letter queue.
    Parked {
        items: Vec<ParkedItem>,
        /// Everything parked, when `items` is a sample.
        total: usize,
    },
    /// A CloudWatch alarm changed state.
    Alarm { alarm: Alarm },
    /// An SNS message that is not a CloudWatch alarm: still shown, never dropped.
    Unrecognised {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        text: String,
    },
    /// Channels that could not be reached, told to the ones that could.
    ChannelsFailed { channels: Vec<String> },
    /// `repowatch notify test`.
    Test { at: Timestamp },
}

impl Message {
    /// What arrived on the alarm topic: a CloudWatch alarm when it reads as
    /// one, else the text as it came (never dropped).
    pub fn from_sns(subject: Option<&str>, text: &str) -> Message {
        match crate::alarm::parse(text) {
            Ok(alarm) => Message::Alarm { alarm },
            Err(_) => Message::Unrecognised { subject: subject.map(str::to_owned), text: text.to_owned() },
        }
    }

    /// One record of an SNS event (`{"Sns": {"Subject", "Message"}}`) as a
    /// message; a record without a message text is shown whole.
    pub fn from_sns_record(record: &serde_json::Value) -> Message {
        let subject = record.pointer("/Sns/Subject").and_then(serde_json::Value::as_str);
        match record.pointer("/Sns/Message").and_then(serde_json::Value::as_str) {
            Some(text) => Message::from_sns(subject, text),
            None => Message::from_sns(subject, &record.to_string()),
        }
    }

    /// GitHub reported that a run one of our builds started has completed.
    pub fn run_finished(
        build: &repowatch_core::BuildRecord,
        report: &repowatch_core::steps::WorkflowRunReport,
    ) -> Message {
        let r = &build.request;
        Message::BuildFinished {
            build: BuildInfo {
                datasource: r.datasource.clone(),
                git_ref: r.git_ref.clone(),
                commit: r.commit.clone(),
                target: r.target.clone(),
                url: report.html_url.clone(),
            },
            conclusion: report.conclusion.clone().unwrap_or_else(|| "unknown".into()),
        }
    }

    /// The topics this message belongs to; a channel gets it when `on` shares one.
    pub fn topics(&self) -> Vec<Topic> {
        match self {
            Message::Run { summary, .. } => {
                let mut topics = Vec::new();
                if !is_quiet(summary) {
                    topics.push(Topic::Summary);
                }
                if !summary.failures.is_empty() || summary.status != RunStatus::Ok {
                    topics.push(Topic::Failure);
                }
                topics
            }
            Message::BuildDispatched { .. } => vec![Topic::Build],
            Message::BuildFinished { conclusion, .. } if conclusion == "success" => vec![Topic::Build],
            Message::BuildFinished { .. } => vec![Topic::Build, Topic::Failure],
            Message::Parked { .. } | Message::Alarm { .. } | Message::Unrecognised { .. } => vec![Topic::Alarm],
            Message::ChannelsFailed { .. } => vec![Topic::Failure, Topic::Alarm],
            Message::Test { .. } => Topic::ALL.to_vec(),
        }
    }

    /// A run that changed nothing, queued nothing and failed nowhere.
    pub fn is_quiet_run(&self) -> bool {
        matches!(self, Message::Run { summary, .. } if is_quiet(summary))
    }

    /// How urgent it is: the colour of an embed, the emoji of a header.
    pub fn severity(&self) -> Severity {
        match self {
            Message::Run { summary, .. } => match summary.status {
                RunStatus::Ok => Severity::Info,
                RunStatus::Partial => Severity::Warning,
                RunStatus::Failed => Severity::Critical,
            },
            Message::BuildDispatched { .. } => Severity::Info,
            Message::BuildFinished { conclusion, .. } => match conclusion.as_str() {
                "success" => Severity::Success,
                "cancelled" | "skipped" | "neutral" => Severity::Warning,
                _ => Severity::Critical,
            },
            Message::Parked { .. } | Message::ChannelsFailed { .. } => Severity::Critical,
            Message::Alarm { alarm } => match alarm.state {
                AlarmState::Alarm => Severity::Critical,
                AlarmState::Ok => Severity::Success,
                AlarmState::InsufficientData | AlarmState::Other(_) => Severity::Warning,
            },
            Message::Unrecognised { .. } => Severity::Warning,
            Message::Test { .. } => Severity::Info,
        }
    }
}

fn is_quiet(summary: &RunSummary) -> bool {
    let t = &summary.totals;
    summary.failures.is_empty() && t.changed == 0 && t.builds_queued == 0 && t.pending == 0 && t.first_seen == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Success,
    Warning,
    Critical,
}

impl Severity {
    /// Discord embed colour (0xRRGGBB).
    pub fn colour(self) -> u32 {
        match self {
            Severity::Info => 0x3B82F6,
            Severity::Success => 0x22C55E,
            Severity::Warning => 0xF59E0B,
            Severity::Critical => 0xEF4444,
        }
    }

    /// Leads a title so the state reads at a glance on a phone's lock screen.
    pub fn emoji(self) -> &'static str {
        match self {
            Severity::Info => "ℹ️",
            Severity::Success => "✅",
            Severity::Warning => "⚠️",
            Severity::Critical => "🚨",
        }
    }
}
