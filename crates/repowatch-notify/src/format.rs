//! A rendered message laid out for each channel, inside its documented limits.
//!
//! Discord (execute webhook; "Embed Limits" in Discord's developer docs):
//! `content` ≤ 2,000 characters, ≤ 10 embeds, title ≤ 256, description
//! ≤ 4,096, ≤ 25 fields with name ≤ 256 and value ≤ 1,024, footer ≤ 2,048,
//! and ≤ 6,000 characters across an embed's title, description, field names
//! and values, footer and author.
//!
//! Slack (incoming webhook, Block Kit reference): ≤ 50 blocks, a `header`
//! block's plain text ≤ 150, a `section` text ≤ 3,000, ≤ 10 section fields of
//! ≤ 2,000 each, a `context` block ≤ 10 elements; `text` is the notification
//! fallback. mrkdwn escapes `&`, `<` and `>`.

use serde_json::{Value, json};

use crate::render::Rendered;
use crate::text::fit;

pub mod discord {
    pub const CONTENT: usize = 2000;
    pub const TITLE: usize = 256;
    pub const DESCRIPTION: usize = 4096;
    pub const FIELDS: usize = 25;
    pub const FIELD_NAME: usize = 256;
    pub const FIELD_VALUE: usize = 1024;
    pub const FOOTER: usize = 2048;
    pub const EMBED_TOTAL: usize = 6000;
}

pub mod slack {
    pub const BLOCKS: usize = 50;
    pub const HEADER: usize = 150;
    pub const SECTION: usize = 3000;
    pub const FIELDS: usize = 10;
    pub const FIELD: usize = 2000;
    pub const CONTEXT_ELEMENTS: usize = 10;
    pub const TEXT: usize = 3000;
}

/// Discord's execute-webhook body: one embed, no pings (`allowed_mentions`
/// empty, so a datasource named `@everyone` notifies no one).
pub fn discord(r: &Rendered) -> Value {
    use discord::*;
    let title = fit(&format!("{} {}", r.severity.emoji(), r.title), TITLE);
    let footer = fit(&r.footer, FOOTER);
    let fields: Vec<(String, String)> =
        r.fields.iter().take(FIELDS).map(|f| (fit(&f.name, FIELD_NAME), fit(&f.value, FIELD_VALUE))).collect();
    let used = title.chars().count()
        + footer.chars().count()
        + fields.iter().map(|(n, v)| n.chars().count() + v.chars().count()).sum::<usize>();
    let mut description = r.body.join("\n");
    if let Some(link) = &r.link {
        description.push_str(&format!("\n[{}]({})", link.label, link.url));
    }
    let description = fit(description.trim_start(), DESCRIPTION.min(EMBED_TOTAL.saturating_sub(used)));
    let mut embed = json!({
        "title": title,
        "color": r.severity.colour(),
        "fields": fields.iter().map(|(n, v)| json!({ "name": n, "value": v, "inline": v.chars().count() <= 40 })).collect::<Vec<_>>(),
        "footer": { "text": footer },
    });
    if !description.is_empty() {
        embed["description"] = json!(description);
    }
    if let Some(link) = &r.link {
        embed["url"] = json!(link.url);
    }
    if let Some(at) = r.at {
        embed["timestamp"] = json!(at.to_string());
    }
    json!({ "embeds": [embed], "allowed_mentions": { "parse": [] } })
}

/// Slack's incoming-webhook body: `text` for the notification, Block Kit for the message.
pub fn slack(r: &Rendered) -> Value {
    use slack::*;
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": fit(&format!("{} {}", r.severity.emoji(), r.title), HEADER), "emoji": true },
    })];
    if !r.body.is_empty() {
        let body = r.body.iter().map(|l| escape(l)).collect::<Vec<_>>().join("\n");
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": fit(&body, SECTION) } }));
    }
    for chunk in r.fields.chunks(FIELDS) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|f| json!({ "type": "mrkdwn", "text": fit(&format!("*{}*\n{}", escape(&f.name), escape(&f.value)), FIELD) }))
            .collect();
        blocks.push(json!({ "type": "section", "fields": fields }));
    }
    if let Some(link) = &r.link {
        let text = format!("<{}|{}>", link.url.replace('|', "%7C").replace('>', "%3E"), escape(&link.label));
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": fit(&text, SECTION) } }));
    }
    blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": escape(&r.footer) }] }));
    blocks.truncate(BLOCKS);
    json!({ "text": fit(&format!("{} {}", r.severity.emoji(), r.title), TEXT), "blocks": blocks })
}

/// Slack mrkdwn control characters.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The signed generic webhook's body: the rendered message for people and
/// the structured message for programs.
pub fn webhook(r: &Rendered, message: &crate::Message, language: crate::Lang) -> Value {
    json!({
        "version": 1,
        "language": language,
        "severity": r.severity,
        "title": r.title,
        "text": r.plain(),
        "fields": r.fields,
        "link": r.link,
        "message": message,
    })
}
