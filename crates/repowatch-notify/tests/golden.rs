//! Golden files of every message kind in both languages: the plain text,
//! the Discord body and the Slack body, as people and services receive them.
//! Review changes with `cargo insta review` (or INSTA_UPDATE=always, then
//! read the diff); CI fails on any difference.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use repowatch_notify::{Lang, format, render, samples};

#[test]
fn every_message_kind_in_japanese_and_english() {
    let tz = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
    let messages = samples::all().unwrap();
    assert!(messages.len() >= 18, "every kind and edge case has a sample");
    for (name, message) in &messages {
        for (lang, suffix) in [(Lang::Ja, "ja"), (Lang::En, "en")] {
            let r = render(message, lang, &tz);
            let golden = format!(
                "{}\n\n--- discord\n{}\n\n--- slack\n{}\n",
                r.plain(),
                serde_json::to_string_pretty(&format::discord(&r)).unwrap(),
                serde_json::to_string_pretty(&format::slack(&r)).unwrap(),
            );
            insta::assert_snapshot!(format!("{name}.{suffix}"), golden);
        }
    }
}

#[test]
fn japanese_and_english_differ_wherever_there_is_prose() {
    let tz = jiff::tz::TimeZone::UTC;
    for (name, message) in samples::all().unwrap() {
        let (ja, en) = (render(&message, Lang::Ja, &tz), render(&message, Lang::En, &tz));
        assert_ne!(ja.title, en.title, "{name}: the title is translated");
        assert!(ja.title.chars().any(|c| c as u32 > 0x3000), "{name}: {}", ja.title);
    }
}
