//! github-webhook: the signature check and the event parser behind it. The
//! first byte picks the event name and whether the body is signed with the
//! right secret (so the parser is reached), signed wrong, or not signed.
//! Invariant: a body not signed with the secret is never accepted (401).
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use repowatch_core::fakes::{ManualClock, MemoryStateStore};
use repowatch_core::secret::SecretString;
use repowatch_core::steps::{WebhookInput, github_webhook};
use repowatch_core::{StaticCatalog, github_events, signature};

const EVENTS: [&str; 6] = ["push", "create", "delete", "ping", "workflow_run", "release"];
const SECRET: &str = "fuzz-webhook-secret";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let event = EVENTS[usize::from(mode) % EVENTS.len()];
    // The parser alone, on any bytes.
    let _ = github_events::parse(event, body);
    let Ok(text) = std::str::from_utf8(body) else { return };
    let secret = SecretString::new(SECRET);
    let signed = match (mode >> 4) % 3 {
        0 => Some(signature::sign(&secret, body)),
        1 => Some(signature::sign(&SecretString::new("another secret"), body)),
        _ => None,
    };
    let mut headers = BTreeMap::from([
        ("X-GitHub-Event".to_owned(), event.to_owned()),
        ("X-GitHub-Delivery".to_owned(), format!("d-{mode}")),
    ]);
    if let Some(s) = &signed {
        headers.insert("X-Hub-Signature-256".to_owned(), s.clone());
    }
    let input = WebhookInput { headers, body: text.to_owned(), is_base64_encoded: mode & 8 != 0 };
    let catalog = StaticCatalog::new(vec![], BTreeMap::new());
    let store = MemoryStateStore::default();
    let clock = ManualClock::new(jiff::Timestamp::UNIX_EPOCH);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let answer = runtime.block_on(github_webhook(input, &secret, &catalog, &store, &clock));
    if let Ok(answer) = answer
        && (mode >> 4) % 3 != 0
        && mode & 8 == 0
    {
        assert_eq!(answer.status_code, 401, "accepted a body not signed with the secret: {answer:?}");
    }
});
