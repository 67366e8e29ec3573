//! notify's alarm input: an SNS event's records as messages (a CloudWatch
//! alarm, or the text as it came), rendered in both languages. Never a panic,
//! never a dropped record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use repowatch_notify::{Lang, Message, render};

fuzz_target!(|data: &[u8]| {
    let tz = jiff::tz::TimeZone::UTC;
    if let Ok(text) = std::str::from_utf8(data) {
        let message = Message::from_sns(Some("subject"), text);
        let _ = render(&message, Lang::Ja, &tz);
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Some(records) = event.get("Records").and_then(serde_json::Value::as_array) else { return };
    for record in records {
        let message = Message::from_sns_record(record);
        for lang in [Lang::En, Lang::Ja] {
            let rendered = render(&message, lang, &tz);
            assert!(!format!("{rendered:?}").is_empty());
        }
    }
});
