//! The one set of message templates, in Japanese and English, and the text
//! helpers that keep messages inside every channel's limits without cutting
//! a word in half.

use serde::{Deserialize, Serialize};

/// The language of messages (`language` in repowatch.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }
}

/// A template: `{name}` placeholders are filled by [`fill`].
#[derive(Debug, Clone, Copy)]
pub struct T {
    pub ja: &'static str,
    pub en: &'static str,
}

impl T {
    pub fn get(self, lang: Lang) -> &'static str {
        match lang {
            Lang::Ja => self.ja,
            Lang::En => self.en,
        }
    }
}

macro_rules! templates {
    ($($name:ident = $ja:literal, $en:literal;)*) => {
        $(pub const $name: T = T { ja: $ja, en: $en };)*
        /// Every template, for the tests that check both languages have the same placeholders.
        pub const ALL: &[(&str, T)] = &[$((stringify!($name), $name)),*];
    };
}

templates! {
    RUN_OK = "実行完了: {changed}件の変更、{queued}件のビルドを登録", "Run finished: {changed} changed, {queued} build(s) queued";
    RUN_PARTIAL = "一部失敗: {errors}件のエラー、{queued}件のビルドを登録", "Run partly failed: {errors} error(s), {queued} build(s) queued";
    RUN_FAILED = "実行失敗: 何も処理できませんでした", "Run failed: nothing could be processed";
    RUN_QUIET = "実行完了: 変更なし", "Run finished: nothing changed";
    FIELD_CHECKED = "確認", "Checked";
    CHECKED = "{n}件のデータソース", "{n} datasource(s)";
    FIELD_CHANGED = "変更", "Changed";
    FIELD_QUEUED = "ビルド登録", "Builds queued";
    FIELD_PENDING = "待機中 (クールダウン)", "Waiting (cooldown)";
    FIELD_FIRST_SEEN = "初回 (基準として記録)", "First seen (baseline recorded)";
    FIELD_FAILED = "失敗", "Failed";
    FIELD_BUDGET = "GitHub API 残り", "GitHub API left";
    FIELD_SOURCE = "契機", "Trigger";
    SOURCE_SCHEDULE = "定期実行", "schedule";
    SOURCE_WEBHOOK = "Webhook", "webhook";
    SOURCE_MANUAL = "手動", "manual";
    FAILURE_LINE = "{what}: {message}", "{what}: {message}";
    STAGE_LIST = "データソース一覧の取得", "listing datasources";
    STAGE_SHARD = "シャード ({datasources})", "shard ({datasources})";
    STAGE_MAP = "並列処理", "the parallel stage";
    BUILD_DISPATCHED = "ビルド開始: {datasource} {ref}", "Build dispatched: {datasource} {ref}";
    BUILD_SUCCEEDED = "ビルド成功: {datasource} {ref}", "Build succeeded: {datasource} {ref}";
    BUILD_FAILED = "ビルド失敗 ({conclusion}): {datasource} {ref}", "Build failed ({conclusion}): {datasource} {ref}";
    BUILD_OTHER = "ビルド終了 ({conclusion}): {datasource} {ref}", "Build ended ({conclusion}): {datasource} {ref}";
    FIELD_TARGET = "ターゲット", "Target";
    FIELD_COMMIT = "コミット", "Commit";
    LINK_RUN = "実行を開く", "Open the run";
    PARKED_TITLE = "ビルド要求 {total}件が DLQ に退避されました", "{total} build request(s) parked in the DLQ";
    PARKED_HINT = "原因を直してから再投入してください (docs/operations.md「DLQ」)", "Fix the cause, then redrive them (docs/operations.md, \"DLQ\")";
    PARKED_LINE = "{datasource} {ref} → {target} ({count}回受信): {error}", "{datasource} {ref} → {target} (received {count}×): {error}";
    ALARM_TITLE = "アラーム: {name}", "ALARM: {name}";
    ALARM_OK_TITLE = "復旧: {name}", "OK: {name}";
    ALARM_OTHER_TITLE = "アラーム状態の変化 ({state}): {name}", "Alarm state {state}: {name}";
    STATE_ALARM = "アラーム", "ALARM";
    STATE_OK = "正常", "OK";
    STATE_INSUFFICIENT = "データ不足", "INSUFFICIENT_DATA";
    FIELD_STATE = "状態", "State";
    FIELD_WATCHES = "監視対象", "Watches";
    FIELD_REGION = "リージョン", "Region";
    FIELD_CHANGED_AT = "発生時刻", "Changed at";
    NO_DESCRIPTION = "(説明なし)", "(no description)";
    LINK_CONSOLE = "CloudWatch で開く", "Open in CloudWatch";
    UNRECOGNISED_TITLE = "通知トピックに不明なメッセージ", "Unrecognised message on the alarm topic";
    CHANNELS_FAILED_TITLE = "通知先に届きませんでした: {channels}", "Could not notify: {channels}";
    CHANNELS_FAILED_HINT = "URL とサービス側の状態を確認してください (docs/operations.md「通知」)", "Check the URL and the service's status (docs/operations.md, \"Notifications\")";
    TEST_TITLE = "repowatch のテスト通知", "repowatch test notification";
    TEST_BODY = "この通知が届いていれば設定は正しく動作しています。", "If you can read this, this channel works.";
    AND_MORE = "ほか{n}件", "and {n} more";
    FOOTER = "repowatch", "repowatch";
}

/// Fills `{name}` placeholders; an unknown placeholder stays as written.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').map(|close| (&after[..close], close)) {
            Some((name, close)) if values.iter().any(|(k, _)| *k == name) => {
                let value = values.iter().find(|(k, _)| *k == name).map(|(_, v)| *v).unwrap_or_default();
                out.push_str(value);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `a, b, c and 12 more` (`a、b、c ほか12件`), within `max_chars`.
pub fn list(items: &[String], max_items: usize, max_chars: usize, lang: Lang) -> String {
    list_more(items, 0, max_items, max_chars, lang)
}

/// [`list`] of a longer list whose last `unlisted` items are not in `items`
/// (a run summary bounded to the state limit counts what it leaves out).
pub fn list_more(items: &[String], unlisted: usize, max_items: usize, max_chars: usize, lang: Lang) -> String {
    let sep = match lang {
        Lang::Ja => "、",
        Lang::En => ", ",
    };
    let mut shown = items.len().min(max_items);
    loop {
        let mut text = items[..shown].join(sep);
        if shown < items.len() || unlisted > 0 {
            let more = fill(AND_MORE.get(lang), &[("n", &(items.len() - shown + unlisted).to_string())]);
            text = if shown == 0 { more } else { format!("{text} {more}") };
        }
        if text.chars().count() <= max_chars || shown == 0 {
            return fit(&text, max_chars);
        }
        shown -= 1;
    }
}

/// `text` cut to at most `max` characters (Unicode scalar values), ending in
/// `…` when cut. The cut falls on a word boundary: the last whitespace or
/// punctuation in the second half, else between two CJK characters, else
/// before the ASCII word that would be split.
pub fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let chars: Vec<char> = text.chars().collect();
    let limit = max - 1; // room for the ellipsis
    let boundary = |i: usize| -> bool {
        // A cut before chars[i] (keeping chars[..i]).
        let (before, after) = (chars[i - 1], chars[i]);
        before.is_whitespace()
            || after.is_whitespace()
            || is_break_punct(before)
            || matches!(after, '-' | '/' | ',' | ';' | ':' | '.' | '、' | '。')
            || (!before.is_ascii_alphanumeric() || !after.is_ascii_alphanumeric()) && (is_cjk(before) || is_cjk(after))
    };
    let cut = (limit / 2..=limit).rev().find(|&i| i > 0 && boundary(i)).unwrap_or_else(|| {
        // One long word: keep whole words before it, or cut it if it is all there is.
        let mut i = limit;
        while i > 0 && chars[i - 1].is_ascii_alphanumeric() && chars[i].is_ascii_alphanumeric() {
            i -= 1;
        }
        if i == 0 { limit } else { i }
    });
    let kept: String = chars[..cut].iter().collect();
    format!("{}…", kept.trim_end())
}

fn is_break_punct(c: char) -> bool {
    matches!(c, ',' | ';' | ':' | ')' | ']' | '、' | '。' | '，' | '）' | '」' | '/' | '-')
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x30FF   // punctuation, hiragana, katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xF900..=0xFAFF // compatibility ideographs
        | 0xFF00..=0xFFEF // full-width forms
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(s: &str) -> Vec<String> {
        let mut names: Vec<String> =
            s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|(n, _)| n.to_owned())).collect();
        names.sort();
        names
    }

    #[test]
    fn both_languages_fill_the_same_placeholders() {
        for (name, t) in ALL {
            assert_eq!(placeholders(t.ja), placeholders(t.en), "{name}");
            assert!(!t.ja.is_empty() && !t.en.is_empty(), "{name}");
        }
    }

    #[test]
    fn fill_replaces_known_names_only() {
        assert_eq!(fill("{a} and {b} {c", &[("a", "x"), ("b", "{a}")]), "x and {a} {c");
    }

    #[test]
    fn fit_never_cuts_a_word() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("the quick brown fox jumps", 12), "the quick…");
        assert_eq!(fit("repository-dispatch-target failed", 20), "repository-dispatch…");
        assert_eq!(fit("abcdefghijklmnop", 6), "abcde…");
        assert_eq!(fit("ビルドが失敗しました。原因を確認してください", 12), "ビルドが失敗しました。…");
        assert_eq!(fit("データソース api の取得に失敗", 11), "データソース api…");
        for max in 1..40 {
            let out = fit("The quick brown fox jumps over the lazy dog、素早い茶色の狐", max);
            assert!(out.chars().count() <= max, "{max}: {out}");
        }
    }

    #[test]
    fn lists_summarise_the_rest() {
        let items: Vec<String> = (1..=40).map(|i| format!("repo-{i}")).collect();
        assert_eq!(list(&items[..3], 10, 100, Lang::En), "repo-1, repo-2, repo-3");
        assert_eq!(list(&items, 3, 100, Lang::En), "repo-1, repo-2, repo-3 and 37 more");
        assert_eq!(list(&items, 3, 100, Lang::Ja), "repo-1、repo-2、repo-3 ほか37件");
        let tight = list(&items, 40, 30, Lang::En);
        assert!(tight.chars().count() <= 30 && tight.ends_with("more"), "{tight}");
    }
}
