//! Canary secrets over every message kind: no webhook URL token or signing
//! secret appears in a message body, a delivery error or a log line, while
//! channels succeed, are rate limited, flake, are gone and are unreachable.
//! Its own test binary, so the log subscriber is the process's global one
//! and sees every line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fake;

use std::sync::{Arc, Mutex};

use fake::*;
use repowatch_notify::Kind;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_url_token_or_secret_in_any_message_log_line_or_error() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    )
    .unwrap();

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
    let log = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(log.contains("notification not delivered"), "the subscriber sees the delivery log: {log}");
    assert!(log.contains("127.0.0.1"), "and the HTTP client's own trace lines: {log}");
    seen.push_str(&log);
    for canary in
        ["canary-discord-token", "canary-slack-token", "canary-query", "canary-dead-slack", "canary-signing-secret"]
    {
        assert!(!seen.contains(canary), "{canary} appeared in a message, log line or error");
    }
}
