//! Delivery against real HTTP servers on 127.0.0.1 standing in for Discord,
//! Slack and a webhook receiver. Each fake checks every request against the
//! service's documented limits (crates/repowatch-notify/src/format.rs cites
//! them) and can answer 429 with a retry-after, fail with 5xx, or be gone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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
enum Script {
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
struct Fake {
    kind: Kind,
    script: Script,
    seen: Arc<Mutex<Vec<(Instant, HeaderMap, Value)>>>,
    problems: Arc<Mutex<Vec<String>>>,
}

fn chars(v: &Value) -> usize {
    v.as_str().map(|s| s.chars().count()).unwrap_or(0)
}

/// Discord's embed limits, as its developer docs list them.
fn check_discord(body: &Value) -> Vec<String> {
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
fn check_slack(body: &Value) -> Vec<String> {
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

struct Server {
    url: String,
    fake: Fake,
}

impl Server {
    async fn start(kind: Kind, script: Script) -> Server {
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

    fn bodies(&self) -> Vec<Value> {
        self.fake.seen.lock().unwrap().iter().map(|(_, _, v)| v.clone()).collect()
    }

    fn problems(&self) -> Vec<String> {
        self.fake.problems.lock().unwrap().clone()
    }
}

fn channel(kind: Kind, url: &str) -> Channel {
    Channel {
        kind,
        url: SecretString::new(url),
        secret: (kind == Kind::Webhook).then(|| SecretString::new("canary-signing-secret-5b6c")),
        on: Topic::ALL.to_vec(),
        quiet_runs: false,
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        first_backoff: Duration::from_millis(50),
        max_wait: Duration::from_secs(5),
        timeout: Duration::from_secs(5),
    }
}

fn notifiers(channels: Vec<Channel>) -> Notifiers {
    Notifiers::new(channels, Lang::En, jiff::tz::TimeZone::get("Asia/Tokyo").unwrap(), fast())
}

fn test_message() -> Message {
    Message::Test { at: "2026-11-25T08:00:00Z".parse().unwrap() }
}

#[tokio::test]
async fn a_429_waits_the_retry_after_header_then_delivers() {
    let slack = Server::start(Kind::Slack, Script::RateLimitedHeader).await;
    let n = notifiers(vec![channel(Kind::Slack, &slack.url)]);
    let delivery = n.send(&test_message()).await;
    assert_eq!(delivery.failed, vec![]);
    let seen = slack.fake.seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].0 - seen[0].0;
    assert!(waited >= Duration::from_secs(1), "waited {waited:?}, Retry-After said 1 s");
    assert_eq!(slack.problems(), Vec::<String>::new());
}

#[tokio::test]
async fn discords_retry_after_in_the_body_is_honoured() {
    let discord = Server::start(Kind::Discord, Script::RateLimitedBody).await;
    let n = notifiers(vec![channel(Kind::Discord, &discord.url)]);
    assert_eq!(n.send(&test_message()).await.failed, vec![]);
    let seen = discord.fake.seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(seen[1].0 - seen[0].0 >= Duration::from_millis(600));
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_until_it_answers() {
    let discord = Server::start(Kind::Discord, Script::FlakyThenOk).await;
    let n = notifiers(vec![channel(Kind::Discord, &discord.url)]);
    let delivery = n.send(&test_message()).await;
    assert_eq!((delivery.sent.len(), delivery.failed.len()), (1, 0));
    let seen = discord.fake.seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(seen[2].0 - seen[1].0 >= seen[1].0 - seen[0].0, "the backoff grows");
}

#[tokio::test]
async fn one_dead_channel_among_three_fails_alone_and_is_reported_to_the_others() {
    let discord = Server::start(Kind::Discord, Script::Ok).await;
    let slack = Server::start(Kind::Slack, Script::Gone).await;
    let hook = Server::start(Kind::Webhook, Script::Ok).await;
    let n = notifiers(vec![
        channel(Kind::Discord, &discord.url),
        channel(Kind::Slack, &slack.url),
        channel(Kind::Webhook, &hook.url),
    ]);
    let delivery = n.send(&test_message()).await;
    assert_eq!(delivery.sent.len(), 2, "{delivery:?}");
    assert_eq!(delivery.failed.len(), 1);
    let (name, why) = &delivery.failed[0];
    assert!(name.starts_with("slack #2 (127.0.0.1:"), "{name}");
    assert!(why.contains("404"), "{why}");
    assert_eq!(slack.bodies().len(), 1, "a 404 is not retried");
    // The two that work each got the message, then the notice about slack #2.
    for server in [&discord, &hook] {
        let bodies = server.bodies();
        assert_eq!(bodies.len(), 2);
        assert!(bodies[1].to_string().contains("slack #2"), "{}", bodies[1]);
    }
    // Nowhere is the dead channel's URL (its token) repeated.
    let everything = format!("{delivery:?}{:?}{:?}", discord.bodies(), hook.bodies());
    assert!(!everything.contains("canary-slack-token"), "{everything}");
}

#[tokio::test]
async fn a_dead_port_fails_after_the_attempts_without_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/api/webhooks/1/canary-dead-token");
    let n = notifiers(vec![channel(Kind::Discord, &url)]);
    let delivery = n.send(&test_message()).await;
    let (name, why) = &delivery.failed[0];
    assert_eq!(why, "cannot connect after 4 attempts");
    assert!(!format!("{name}{why}").contains("canary"));
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_gives_up_at_once() {
    let slack = Server::start(Kind::Slack, Script::RateLimitedHeader).await;
    let policy = RetryPolicy { max_wait: Duration::from_millis(500), ..fast() };
    let n = Notifiers::new(vec![channel(Kind::Slack, &slack.url)], Lang::En, jiff::tz::TimeZone::UTC, policy);
    let delivery = n.send(&test_message()).await;
    assert!(delivery.failed[0].1.contains("asked to wait 1 s"), "{:?}", delivery.failed);
    assert_eq!(slack.bodies().len(), 1);
}

#[tokio::test]
async fn the_webhook_is_signed_over_the_exact_body() {
    let hook = Server::start(Kind::Webhook, Script::Ok).await;
    let n = notifiers(vec![channel(Kind::Webhook, &hook.url)]);
    n.send(&test_message()).await;
    let seen = hook.fake.seen.lock().unwrap();
    let (_, headers, body) = &seen[0];
    assert_eq!(headers["x-repowatch-event"], "notification");
    let bytes = serde_json::to_vec(body).unwrap();
    let secret = SecretString::new("canary-signing-secret-5b6c");
    let signature = headers["x-repowatch-signature-256"].to_str().unwrap();
    repowatch_core::signature::verify(&secret, &bytes, Some(signature)).unwrap();
    assert_eq!(body["message"]["kind"], "test");
    assert!(!body.to_string().contains("canary-signing-secret"));
}

#[tokio::test]
async fn on_filters_and_quiet_runs_send_nothing_unless_asked() {
    let discord = Server::start(Kind::Discord, Script::Ok).await;
    let slack = Server::start(Kind::Slack, Script::Ok).await;
    let failures_only = Channel { on: vec![Topic::Failure], ..channel(Kind::Discord, &discord.url) };
    let wants_quiet = Channel { on: vec![Topic::Summary], quiet_runs: true, ..channel(Kind::Slack, &slack.url) };
    let n = notifiers(vec![failures_only, wants_quiet]);
    let quiet: Message = serde_json::from_value(serde_json::json!({
        "kind": "run",
        "summary": { "status": "ok", "totals": { "datasources": 3, "changed": 0, "builds_queued": 0, "pending": 0, "errors": 0 }, "datasources": [] }
    }))
    .unwrap();
    assert!(quiet.is_quiet_run());
    let d = n.send(&quiet).await;
    assert_eq!((d.sent.len(), d.skipped.len()), (1, 1), "{d:?}");
    assert_eq!((discord.bodies().len(), slack.bodies().len()), (0, 1));
}

#[tokio::test]
async fn every_message_kind_fits_both_services_limits_in_both_languages() {
    let discord = Server::start(Kind::Discord, Script::Ok).await;
    let slack = Server::start(Kind::Slack, Script::Ok).await;
    for lang in [Lang::Ja, Lang::En] {
        let n = Notifiers::new(
            vec![channel(Kind::Discord, &discord.url), channel(Kind::Slack, &slack.url)],
            lang,
            jiff::tz::TimeZone::get("Asia/Tokyo").unwrap(),
            fast(),
        );
        for (name, message) in repowatch_notify::samples::all().unwrap() {
            let d = n.send_all(&message).await;
            assert_eq!(d.failed, vec![], "{name} ({lang:?})");
        }
    }
    assert_eq!(discord.problems(), Vec::<String>::new());
    assert_eq!(slack.problems(), Vec::<String>::new());
}

/// Captures every log line of the current thread (the test's current-thread runtime).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_url_token_or_secret_in_any_message_log_line_or_error() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let ok = Server::start(Kind::Discord, Script::Ok).await;
    let limited = Server::start(Kind::Slack, Script::RateLimitedHeader).await;
    let gone = Server::start(Kind::Webhook, Script::Gone).await;
    let flaky = Server::start(Kind::Discord, Script::FlakyThenOk).await;
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead = format!("http://127.0.0.1:{dead_port}/services/T1/B1/canary-dead-slack-9a0b");
    let n = notifiers(vec![
        channel(Kind::Discord, &ok.url),
        channel(Kind::Slack, &limited.url),
        channel(Kind::Webhook, &gone.url),
        channel(Kind::Discord, &flaky.url),
        channel(Kind::Slack, &dead),
    ]);
    let mut seen = String::new();
    for (_, message) in repowatch_notify::samples::all().unwrap() {
        let d = n.send_all(&message).await;
        seen.push_str(&format!("{d:?}"));
    }
    for server in [&ok, &limited, &gone, &flaky] {
        seen.push_str(&format!("{:?}", server.bodies()));
    }
    seen.push_str(&String::from_utf8_lossy(&logs.0.lock().unwrap()));
    assert!(seen.contains("notification not delivered"), "the log captured the failures");
    for canary in
        ["canary-discord-token", "canary-slack-token", "canary-query", "canary-dead-slack", "canary-signing-secret"]
    {
        assert!(!seen.contains(canary), "{canary} appeared in a message, log line or error");
    }
}
