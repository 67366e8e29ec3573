//! Delivery against the fake Discord, Slack and webhook servers of
//! `fake/`: retry-after, backoff, a dead channel among three, signing, `on`
//! filters, and every message kind within both services' limits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fake;

use std::time::Duration;

use fake::*;
use repowatch_core::secret::SecretString;
use repowatch_notify::{Channel, Kind, Lang, Message, Notifiers, RetryPolicy, Topic};

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

#[tokio::test]
async fn the_pipeline_step_fails_only_when_no_channel_got_the_summary() {
    use repowatch_core::Notifier;
    let ok = Server::start(Kind::Discord, Script::Ok).await;
    let gone = Server::start(Kind::Slack, Script::Gone).await;
    let summary = serde_json::from_value(serde_json::json!({
        "status": "failed", "totals": { "datasources": 0, "changed": 0, "builds_queued": 0, "pending": 0, "errors": 1 },
        "datasources": [], "failures": [{ "stage": "map", "error": { "name": "States.Timeout", "message": "" } }],
    }))
    .unwrap();
    let notification = repowatch_core::steps::Notification { events: vec![], summary };
    let both = notifiers(vec![channel(Kind::Discord, &ok.url), channel(Kind::Slack, &gone.url)]);
    assert!(Notifier::send(&both, &notification).await.is_ok(), "one got it: a retry would only repeat it");
    assert_eq!(ok.bodies().len(), 2, "the summary, then the notice about slack #2");
    let only_dead = notifiers(vec![channel(Kind::Slack, &gone.url)]);
    let err = Notifier::send(&only_dead, &notification).await.unwrap_err();
    assert!(err.to_string().contains("slack #1 (127.0.0.1:"), "{err}");
}
