//! Real HTTP servers on 127.0.0.1 standing in for Discord, Slack and a
//! webhook receiver. Each checks every request against the service's
//! documented limits (crates/repowatch-notify/src/format.rs cites them) and
//! can answer 429 with a retry-after, fail with 5xx, or be gone.

#![allow(dead_code, reason = "each test binary uses part of it")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use repowatch_core::secret::SecretString;
use repowatch_notify::format::{discord as dl, slack as sl};
use repowatch_notify::{Channel, Kind, Lang, Message, Notifiers, RetryPolicy, Topic};
use serde_json::Value;

#[derive(Clone, Copy, Debug)]
pub enum Script {
    Ok,
    /// 429 with `Retry-After: 1` (Slack, Discord) the first time.
    RateLimitedHeader,
    /// 429 with Discord's JSON body `retry_after` only, the first time.
    RateLimitedBody,
    /// 503 twice, then 200.
    FlakyThenOk,
    /// 404 always (a deleted webhook).
    Gone,
}

#[derive(Clone)]
pub struct Fake {
    kind: Kind,
    script: Script,
    pub seen: Arc<Mutex<Vec<(Instant, HeaderMap, Value)>>>,
    problems: Arc<Mutex<Vec<String>>>,
}

fn chars(v: &Value) -> usize {
    v.as_str().map(|s| s.chars().count()).unwrap_or(0)
}

/// Discord's embed limits, as its developer docs list them.
pub fn check_discord(body: &Value) -> Vec<String> {
    let mut p = Vec::new();
    if chars(&body["content"]) > dl::CONTENT {
        p.push("content over 2000".into());
    }
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    if body.get("content").is_none() && embeds.is_empty() {
        p.push("neither content nor embeds".into());
    }
    if embeds.len() > 10 {
        p.push("more than 10 embeds".into());
    }
    for e in &embeds {
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        let mut total = chars(&e["title"]) + chars(&e["description"]) + chars(&e["footer"]["text"]);
        for (limit, got, what) in [
            (dl::TITLE, chars(&e["title"]), "title"),
            (dl::DESCRIPTION, chars(&e["description"]), "description"),
            (dl::FOOTER, chars(&e["footer"]["text"]), "footer"),
        ] {
            if got > limit {
                p.push(format!("{what} {got} > {limit}"));
            }
        }
        if fields.len() > dl::FIELDS {
            p.push("more than 25 fields".into());
        }
        for f in &fields {
            total += chars(&f["name"]) + chars(&f["value"]);
            if chars(&f["name"]) == 0 || chars(&f["value"]) == 0 {
                p.push("empty field name or value".into());
            }
            if chars(&f["name"]) > dl::FIELD_NAME || chars(&f["value"]) > dl::FIELD_VALUE {
                p.push("field over its limit".into());
            }
        }
        if total > dl::EMBED_TOTAL {
            p.push(format!("embed total {total} > 6000"));
        }
        if e.get("color").is_some_and(|c| c.as_u64().is_none_or(|c| c > 0xFFFFFF)) {
            p.push("color is not 0xRRGGBB".into());
        }
    }
    if body["allowed_mentions"]["parse"] != serde_json::json!([]) {
        p.push("mentions are not disabled".into());
    }
    p
}

/// Slack's Block Kit limits for incoming webhooks.
pub fn check_slack(body: &Value) -> Vec<String> {
    let mut p = Vec::new();
    if chars(&body["text"]) == 0 {
        p.push("no fallback text".into());
    }
    let blocks = body["blocks"].as_array().cloned().unwrap_or_default();
    if blocks.len() > sl::BLOCKS {
        p.push("more than 50 blocks".into());
    }
    for b in &blocks {
        match b["type"].as_str() {
            Some("header") => {
                if b["text"]["type"] != "plain_text" || chars(&b["text"]["text"]) > sl::HEADER {
                    p.push("header is not plain_text ≤ 150".into());
                }
            }
            Some("section") => {
                if b.get("text").is_none() && b.get("fields").is_none() {
                    p.push("section without text or fields".into());
                }
                if chars(&b["text"]["text"]) > sl::SECTION {
                    p.push("section text over 3000".into());
                }
                let fields = b["fields"].as_array().cloned().unwrap_or_default();
                if fields.len() > sl::FIELDS || fields.iter().any(|f| chars(&f["text"]) > sl::FIELD) {
                    p.push("section fields over their limits".into());
                }
            }
            Some("context") => {
                if b["elements"].as_array().is_none_or(|e| e.is_empty() || e.len() > sl::CONTEXT_ELEMENTS) {
                    p.push("context elements not 1..=10".into());
                }
            }
            other => p.push(format!("unexpected block type {other:?}")),
        }
    }
    p
}

async fn receive(State(fake): State<Fake>, headers: HeaderMap, body: Bytes) -> Response {
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return (StatusCode::BAD_REQUEST, "not JSON").into_response(),
    };
    let problems = match fake.kind {
        Kind::Discord => check_discord(&value),
        Kind::Slack => check_slack(&value),
        Kind::Webhook => Vec::new(),
    };
    let n = {
        let mut seen = fake.seen.lock().unwrap();
        seen.push((Instant::now(), headers, value));
        seen.len()
    };
    if !problems.is_empty() {
        fake.problems.lock().unwrap().extend(problems.clone());
        // What the services answer to a malformed body.
        return (StatusCode::BAD_REQUEST, problems.join("; ")).into_response();
    }
    match (fake.script, n) {
        (Script::RateLimitedHeader, 1) => {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "rate_limited").into_response()
        }
        (Script::RateLimitedBody, 1) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("content-type", "application/json")],
            r#"{"message": "You are being rate limited.", "retry_after": 0.6, "global": false}"#,
        )
            .into_response(),
        (Script::FlakyThenOk, 1 | 2) => (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response(),
        (Script::Gone, _) => {
            (StatusCode::NOT_FOUND, r#"{"message": "Unknown Webhook", "code": 10015}"#).into_response()
        }
        (_, _) => match fake.kind {
            Kind::Discord => StatusCode::NO_CONTENT.into_response(),
            _ => (StatusCode::OK, "ok").into_response(),
        },
    }
}

pub struct Server {
    pub url: String,
    pub fake: Fake,
}

impl Server {
    pub async fn start(kind: Kind, script: Script) -> Server {
        let fake = Fake { kind, script, seen: Arc::default(), problems: Arc::default() };
        let app = Router::new().route("/{*path}", post(receive)).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        // The path carries the token, as a real webhook URL does.
        let path = match kind {
            Kind::Discord => "api/webhooks/123456/canary-discord-token-7f3a",
            Kind::Slack => "services/T000/B000/canary-slack-token-1c2d",
            Kind::Webhook => "hooks/repowatch?token=canary-query-9e8f",
        };
        Server { url: format!("http://{addr}/{path}"), fake }
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.fake.seen.lock().unwrap().iter().map(|(_, _, v)| v.clone()).collect()
    }

    pub fn problems(&self) -> Vec<String> {
        self.fake.problems.lock().unwrap().clone()
    }
}

pub fn channel(kind: Kind, url: &str) -> Channel {
    Channel {
        kind,
        url: SecretString::new(url),
        secret: (kind == Kind::Webhook).then(|| SecretString::new("canary-signing-secret-5b6c")),
        on: Topic::ALL.to_vec(),
        quiet_runs: false,
    }
}

pub fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        first_backoff: Duration::from_millis(50),
        max_wait: Duration::from_secs(5),
        timeout: Duration::from_secs(5),
    }
}

pub fn notifiers(channels: Vec<Channel>) -> Notifiers {
    Notifiers::new(channels, Lang::En, jiff::tz::TimeZone::get("Asia/Tokyo").unwrap(), fast())
}

pub fn test_message() -> Message {
    Message::Test { at: "2026-11-25T08:00:00Z".parse().unwrap() }
}
