//! Delivery: every channel that wants a message gets it, concurrently, each
//! with its own retries; a channel that fails never holds up the others and
//! is itself reported to the ones that worked.
//!
//! Retries: a 429 waits what the service asks (`Retry-After` header, or
//! Discord's `retry_after` seconds in the body), a 5xx, timeout or
//! connection failure backs off 1 s, 2 s, 4 s; at most `attempts` tries and no
//! single wait over `max_wait` (Lambda time is money, a run must end). Other
//! 4xx answers (a deleted webhook, a bad token) fail at once: retrying cannot
//! help. Errors name the channel (`discord #1 (discord.com)`), never its URL:
//! a Discord or Slack webhook URL is the credential.

use std::time::Duration;

use jiff::tz::TimeZone;
use repowatch_core::secret::SecretString;
use reqwest::StatusCode;

use crate::message::{Message, Topic};
use crate::render::render;
use crate::text::Lang;
use crate::{format, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Discord,
    Slack,
    Webhook,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Discord, Kind::Slack, Kind::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Discord => "discord",
            Kind::Slack => "slack",
            Kind::Webhook => "webhook",
        }
    }
}

/// One configured channel, secrets resolved.
#[derive(Debug, Clone)]
pub struct Channel {
    pub kind: Kind,
    pub url: SecretString,
    /// Signs the `webhook` kind's body (`X-Repowatch-Signature-256`).
    pub secret: Option<SecretString>,
    pub on: Vec<Topic>,
    /// Also send run summaries of runs that changed nothing.
    pub quiet_runs: bool,
}

impl Channel {
    fn wants(&self, message: &Message) -> bool {
        if message.is_quiet_run() {
            return self.quiet_runs;
        }
        message.topics().iter().any(|t| self.on.contains(t))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub max_wait: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            first_backoff: Duration::from_secs(1),
            max_wait: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

/// What happened to one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    pub sent: Vec<String>,
    /// Channels whose `on` does not include the message.
    pub skipped: Vec<String>,
    /// (channel, why) — the reason never contains the URL.
    pub failed: Vec<(String, String)>,
}

/// The configured channels of a deployment or a machine.
pub struct Notifiers {
    channels: Vec<(String, Channel)>,
    language: Lang,
    tz: TimeZone,
    http: reqwest::Client,
    policy: RetryPolicy,
}

impl Notifiers {
    pub fn new(channels: Vec<Channel>, language: Lang, tz: TimeZone, policy: RetryPolicy) -> Self {
        let named = channels.into_iter().enumerate().map(|(i, c)| (channel_name(i, &c), c)).collect();
        // Redirects are not followed: a webhook that moved is a configuration to fix,
        // and following one would send the body (and signature) somewhere unplanned.
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("repowatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { channels: named, language, tz, http, policy }
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// Channel names, e.g. `discord #1 (discord.com)`.
    pub fn names(&self) -> Vec<String> {
        self.channels.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Sends `message` to every channel that wants it; then tells the channels
    /// that worked about the ones that did not.
    pub async fn send(&self, message: &Message) -> Delivery {
        self.deliver(message, |_, c| c.wants(message)).await
    }

    /// Sends `message` to every channel regardless of `on` (`repowatch notify test`),
    /// with the same report of failed channels.
    pub async fn send_all(&self, message: &Message) -> Delivery {
        self.deliver(message, |_, _| true).await
    }

    async fn deliver(&self, message: &Message, pick: impl Fn(&str, &Channel) -> bool) -> Delivery {
        let delivery = self.send_to(message, pick).await;
        if !delivery.failed.is_empty() && !delivery.sent.is_empty() {
            let failed: Vec<String> = delivery.failed.iter().map(|(n, _)| n.clone()).collect();
            let notice = Message::ChannelsFailed { channels: failed };
            let sent = delivery.sent.clone();
            let second = self.send_to(&notice, |name, _| sent.iter().any(|s| s == name)).await;
            for (name, why) in second.failed {
                tracing::warn!(channel = name, error = why, "could not report the failed channels");
            }
        }
        delivery
    }

    async fn send_to(&self, message: &Message, pick: impl Fn(&str, &Channel) -> bool) -> Delivery {
        let rendered = render(message, self.language, &self.tz);
        let mut delivery = Delivery::default();
        let mut jobs = Vec::new();
        for (name, channel) in &self.channels {
            if !pick(name, channel) {
                delivery.skipped.push(name.clone());
                continue;
            }
            let body = match channel.kind {
                Kind::Discord => format::discord(&rendered),
                Kind::Slack => format::slack(&rendered),
                Kind::Webhook => format::webhook(&rendered, message, self.language),
            };
            jobs.push(async move { (name.clone(), self.post(channel, &body).await) });
        }
        for (name, result) in futures::future::join_all(jobs).await {
            match result {
                Ok(()) => delivery.sent.push(name),
                Err(why) => {
                    tracing::warn!(channel = name, error = why, "notification not delivered");
                    delivery.failed.push((name, why));
                }
            }
        }
        delivery
    }

    async fn post(&self, channel: &Channel, body: &serde_json::Value) -> Result<(), String> {
        let bytes = serde_json::to_vec(body).map_err(|e| format!("cannot encode the message: {e}"))?;
        let mut backoff = self.policy.first_backoff;
        let mut last = String::new();
        for attempt in 1..=self.policy.attempts {
            let mut request = self
                .http
                .post(channel.url.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes.clone());
            if channel.kind == Kind::Webhook {
                request = request.header("X-Repowatch-Event", "notification");
                if let Some(secret) = &channel.secret {
                    request =
                        request.header("X-Repowatch-Signature-256", repowatch_core::signature::sign(secret, &bytes));
                }
            }
            let wait = match request.send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    let header_wait = retry_after_header(&response);
                    let text = response.text().await.unwrap_or_default();
                    last = format!("HTTP {status}{}", detail(&text));
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        header_wait.or_else(|| retry_after_body(&text)).unwrap_or(backoff)
                    } else if status.is_server_error() {
                        backoff
                    } else {
                        return Err(last);
                    }
                }
                Err(e) => {
                    last = if e.is_timeout() {
                        format!("no answer within {} s", self.policy.timeout.as_secs())
                    } else if e.is_connect() {
                        "cannot connect".to_owned()
                    } else {
                        "request failed".to_owned()
                    };
                    backoff
                }
            };
            if attempt == self.policy.attempts {
                break;
            }
            if wait > self.policy.max_wait {
                return Err(format!(
                    "{last}; asked to wait {} s, more than {} s",
                    wait.as_secs(),
                    self.policy.max_wait.as_secs()
                ));
            }
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(self.policy.max_wait);
        }
        Err(format!("{last} after {} attempts", self.policy.attempts))
    }
}

/// `Retry-After: <seconds>` (Discord and Slack both send seconds).
fn retry_after_header(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    seconds(value.trim().parse::<f64>().ok()?)
}

/// Discord's 429 body: `{"retry_after": 0.123, "global": false, …}` in seconds.
fn retry_after_body(text: &str) -> Option<Duration> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    seconds(v.get("retry_after")?.as_f64()?)
}

fn seconds(s: f64) -> Option<Duration> {
    (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s.min(86_400.0)))
}

/// A short, single-line excerpt of an error body (services answer with a
/// reason such as Slack's `invalid_blocks` or Discord's `{"message": …}`).
fn detail(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() { String::new() } else { format!(": {}", text::fit(&one_line, 200)) }
}

/// `discord #1 (discord.com)`: the kind, its position among [[notify]] and
/// the host — never the path or query, which carry the webhook's token.
fn channel_name(index: usize, channel: &Channel) -> String {
    let host = reqwest::Url::parse(channel.url.expose())
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
        })
        .unwrap_or_else(|| "?".to_owned());
    format!("{} #{} ({host})", channel.kind.as_str(), index + 1)
}

#[async_trait::async_trait]
impl repowatch_core::Notifier for Notifiers {
    fn channels(&self) -> Vec<String> {
        self.names()
    }

    /// The run summary of the pipeline's notify step. It fails only when no
    /// channel got the message: then the step's Retry sends it again, and
    /// in the end the execution fails and the failed-execution alarm reaches
    /// people another way. When some channels got it, they were also told
    /// which ones failed; retrying would repeat the summary to them.
    async fn send(&self, notification: &repowatch_core::steps::Notification) -> Result<(), repowatch_core::PortError> {
        let summary = notification.summary.clone();
        let message = Message::Run { github_remaining: summary.github_remaining, summary };
        let delivery = Notifiers::send(self, &message).await;
        if delivery.failed.is_empty() || !delivery.sent.is_empty() {
            return Ok(());
        }
        let failed: Vec<String> = delivery.failed.iter().map(|(n, why)| format!("{n}: {why}")).collect();
        Err(repowatch_core::PortError::new(format!("notification not delivered to {}", failed.join("; "))))
    }
}
