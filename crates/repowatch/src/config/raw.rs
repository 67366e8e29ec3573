//! The file as written: serde structs that mirror repowatch.toml one table at a
//! time, plus the machinery that turns parser and serde failures into
//! [`Problem`]s with a line, a column and a field path.
//!
//! Every field is optional here: whether a key is required is decided by the
//! semantic pass in `config.rs`, so a missing key gets a message that says what
//! to write. Fields are [`Spanned`] where a problem needs to point at them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::{Problem, schema};

/// An optional, spanned field.
pub(super) type S<T> = Option<Spanned<T>>;

// The `JsonSchema` derives below generate schema/repowatch.schema.json (see
// `schema.rs`). Each field's doc comment is its description there, and
// `with` names the type the schema describes (the helpers of `schema.rs`);
// `required` marks what the semantic pass in `config.rs` requires.

/// `[settings]`: time zone, schedule, language and where local state lives.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Settings")]
pub(super) struct RawSettings {
    /// IANA time zone of `schedule` and of times in messages, e.g. "Asia/Tokyo", "Europe/Berlin", "UTC". Default "Asia/Tokyo".
    #[schemars(with = "Option<String>", extend("default" = "Asia/Tokyo", "examples" = ["Asia/Tokyo", "UTC"]))]
    pub timezone: S<String>,
    /// When the daily reconcile runs: 5-field cron (minute hour day-of-month month day-of-week) in `timezone`. Default "0 17 * * *".
    #[schemars(with = "Option<schema::Cron>")]
    pub schedule: S<String>,
    /// Language of notifications. Default "ja".
    #[schemars(with = "Option<schema::Language>")]
    pub language: S<String>,
    /// Where the embedded mode keeps its SQLite state, relative to this file. Default ".repowatch".
    #[schemars(with = "Option<String>", extend("default" = ".repowatch"))]
    pub state_dir: S<String>,
}

/// `[github]`: how to reach GitHub. Required when a datasource has `repo` or a target dispatches through GitHub.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Github")]
pub(super) struct RawGithub {
    /// The token: a reference such as "env:GITHUB_TOKEN", never the token itself.
    #[schemars(with = "Option<schema::SecretRef>", required)]
    pub token: S<RawSecret>,
    /// The REST API root; for GitHub Enterprise Server its own, e.g. "https://github.example.com/api/v3". Default "https://api.github.com".
    #[schemars(with = "Option<schema::HttpUrl>", extend("default" = "https://api.github.com"))]
    pub api_url: S<String>,
}

/// `[[datasources]]`: one repository to watch, through GitHub (`repo`) or on this machine (`path`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Datasource")]
#[schemars(extend("oneOf" = [{"required": ["repo"]}, {"required": ["path"]}]))]
pub(super) struct RawDatasource {
    /// Stable id, unique in the file; renaming it makes repowatch see a new datasource.
    #[schemars(with = "Option<schema::Slug>", required)]
    pub id: S<String>,
    /// A GitHub repository, "owner/name". Exactly one of `repo` and `path`.
    #[schemars(with = "Option<schema::Repo>")]
    pub repo: S<String>,
    /// A git repository on this machine, relative to this file. Exactly one of `repo` and `path`.
    #[schemars(with = "Option<String>")]
    pub path: S<String>,
    /// Which refs to watch: "branch:<glob>", "tag:<glob>", "release" or "release:<glob>". Default ["branch:*"].
    #[schemars(with = "Option<Vec<schema::WatchRule>>", extend("default" = ["branch:*"]))]
    pub watch: S<Vec<Spanned<String>>>,
    /// Only changes touching one of these globs build, e.g. ["src/**", "Cargo.*"]. Default: every change.
    #[schemars(with = "Option<Vec<String>>")]
    pub paths: S<Vec<Spanned<String>>>,
    /// Build the newest commit of a ref once it has been quiet this long. Default "0s".
    #[schemars(with = "Option<schema::Duration>")]
    pub cooldown: S<String>,
    /// What to build on a change: names of `[targets.<name>]` tables.
    #[schemars(with = "Option<Vec<schema::Slug>>", required, extend("minItems" = 1))]
    pub targets: S<Vec<Spanned<String>>>,
    /// Build what is there on the very first sight of the datasource (otherwise it becomes the baseline). Default false.
    #[schemars(extend("default" = false))]
    pub build_on_first_seen: Option<bool>,
}

/// `kind = "workflow_dispatch"`: run a GitHub Actions workflow.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WorkflowDispatch")]
pub(super) struct RawWorkflowDispatch {
    #[serde(rename = "kind")]
    #[schemars(skip)]
    pub _kind: Option<IgnoredAny>,
    /// Repository of the workflow, "owner/name".
    #[schemars(with = "Option<schema::Repo>", required)]
    pub repo: S<String>,
    /// Workflow file name ("deploy.yml") or id.
    #[schemars(with = "Option<schema::NonEmpty>", required)]
    pub workflow: S<String>,
    /// Branch or tag the workflow runs on, e.g. "main".
    #[serde(rename = "ref")]
    #[schemars(with = "Option<schema::NonEmpty>", required)]
    pub git_ref: S<String>,
    /// Workflow inputs, e.g. { environment = "prod" }; at most 25 with `key_input`.
    #[schemars(with = "Option<BTreeMap<String, String>>", extend("maxProperties" = 25))]
    pub inputs: S<BTreeMap<String, String>>,
    /// Also pass the build's idempotency key as this input; the workflow must declare it.
    #[schemars(with = "Option<schema::NonEmpty>")]
    pub key_input: S<String>,
}

/// `kind = "repository_dispatch"`: send a repository_dispatch event.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RepositoryDispatch")]
pub(super) struct RawRepositoryDispatch {
    #[serde(rename = "kind")]
    #[schemars(skip)]
    pub _kind: Option<IgnoredAny>,
    /// Receiving repository, "owner/name".
    #[schemars(with = "Option<schema::Repo>", required)]
    pub repo: S<String>,
    /// The event type the workflow's `on: repository_dispatch` filters on; at most 100 characters.
    #[schemars(with = "Option<schema::NonEmpty>", required, extend("maxLength" = 100))]
    pub event_type: S<String>,
}

/// `kind = "webhook"`: POST a signed build request, e.g. to another repowatch's `serve`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WebhookTarget")]
pub(super) struct RawWebhook {
    #[serde(rename = "kind")]
    #[schemars(skip)]
    pub _kind: Option<IgnoredAny>,
    /// The http:// or https:// endpoint.
    #[schemars(with = "Option<schema::HttpUrl>", required)]
    pub url: S<String>,
    /// HMAC key of the X-Repowatch-Signature-256 signature: a reference such as "env:BUILDER_SECRET".
    #[schemars(with = "Option<schema::SecretRef>", required)]
    pub secret: S<RawSecret>,
}

/// `kind = "command"`: run a program on this machine.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CommandTarget")]
pub(super) struct RawCommand {
    #[serde(rename = "kind")]
    #[schemars(skip)]
    pub _kind: Option<IgnoredAny>,
    /// Program and arguments, run without a shell, e.g. ["make", "deploy"]; for a pipeline ["sh", "-c", "…"].
    #[schemars(with = "Option<Vec<String>>", required, extend("minItems" = 1))]
    pub command: S<Vec<String>>,
    /// Working directory, relative to this file. Default: this file's directory.
    #[schemars(with = "Option<String>")]
    pub workdir: S<String>,
    /// The command is stopped after this long; more than zero. Default "30m".
    #[schemars(with = "Option<schema::Duration>", extend("default" = "30m"))]
    pub timeout: S<String>,
}

/// `[serve]`: the webhook endpoint, build requests from another repowatch, and the status page.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Serve")]
pub(super) struct RawServe {
    /// "IP:PORT" to listen on; IPv6 as "[::1]:8080". Default "127.0.0.1:8080".
    #[schemars(with = "Option<String>", extend("default" = "127.0.0.1:8080"))]
    pub listen: S<String>,
    /// Secret of the GitHub webhook (POST /webhooks/github): a reference such as "env:WEBHOOK_SECRET".
    #[schemars(with = "Option<schema::SecretRef>")]
    pub webhook_secret: S<RawSecret>,
    /// Secret that build requests to POST /webhooks/build must be signed with.
    #[schemars(with = "Option<schema::SecretRef>")]
    pub build_secret: S<RawSecret>,
    /// What a received build request runs on: names of `[targets.<name>]` tables.
    #[schemars(with = "Option<Vec<schema::Slug>>")]
    pub build_targets: Option<Spanned<Vec<Spanned<String>>>>,
    /// Opens the status page to other machines: their requests must carry this token. Unset, only this machine sees it.
    #[schemars(with = "Option<schema::SecretRef>")]
    pub status_token: S<RawSecret>,
}

/// `[[notify]]`: one channel that messages go to.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Notify")]
#[schemars(extend(
    "if" = {"properties": {"kind": {"const": "webhook"}}, "required": ["kind"]},
    "then" = {"required": ["secret"]},
    "else" = {"not": {"required": ["secret"]}}
))]
pub(super) struct RawNotify {
    /// Discord (execute-webhook URL), Slack (incoming-webhook URL), or your own endpoint (signed JSON).
    #[schemars(with = "Option<schema::NotifyKind>", required)]
    pub kind: S<String>,
    /// The webhook URL embeds a token, so it is a reference such as "env:DISCORD_WEBHOOK_URL".
    #[schemars(with = "Option<schema::SecretRef>", required)]
    pub url: S<RawSecret>,
    /// Signing secret: required for kind = "webhook", refused for the others.
    #[schemars(with = "Option<schema::SecretRef>")]
    pub secret: S<RawSecret>,
    /// What to send. Default ["failure", "alarm"].
    #[schemars(with = "Option<Vec<schema::Topic>>", extend("default" = ["failure", "alarm"]))]
    pub on: S<Vec<Spanned<String>>>,
    /// Also send the summary of runs that found nothing new. Default false.
    #[schemars(with = "Option<bool>", extend("default" = false))]
    pub quiet_runs: S<bool>,
}

/// A field that holds a secret reference. Deserialises from any TOML value so
/// that a wrong type never reaches serde's "invalid type: integer `…`" message,
/// which would echo the value.
#[derive(Debug)]
pub(super) enum RawSecret {
    Text(String),
    /// Not a string; the TOML type name, for the message.
    Other(&'static str),
}

impl<'de> Deserialize<'de> for RawSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSecret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a secret reference")
            }
            fn visit_str<E>(self, v: &str) -> Result<RawSecret, E> {
                Ok(RawSecret::Text(v.to_owned()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<RawSecret, E> {
                Ok(RawSecret::Other("a boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<RawSecret, E> {
                Ok(RawSecret::Other("an integer"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<RawSecret, E> {
                Ok(RawSecret::Other("an integer"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<RawSecret, E> {
                Ok(RawSecret::Other("a float"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawSecret, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawSecret::Other("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSecret, A::Error> {
                // A TOML datetime also arrives as a (one-entry) map.
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RawSecret::Other("a table or date"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Collects problems while the semantic pass walks the file.
pub(super) struct Cx<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub problems: Vec<Problem>,
    /// Fields whose value was rejected by serde (and dropped): not "missing".
    rejected: BTreeSet<String>,
}

impl<'a> Cx<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Self { file, text, problems: Vec::new(), rejected: BTreeSet::new() }
    }

    /// Reports a missing required key, unless it was there with a wrong type
    /// (already reported).
    pub fn missing(&mut self, span: Range<usize>, field: &str, message: impl Into<String>) {
        if !self.rejected.contains(field) {
            self.err(span, field, message);
        }
    }

    pub fn rejected(&self, field: &str) -> bool {
        self.rejected.contains(field)
    }

    /// Records one problem at `span` (a byte range of the text).
    pub fn at(&mut self, span: Option<Range<usize>>, field: Option<&str>, message: impl Into<String>) {
        let (line, column) = match span {
            Some(span) => {
                let (l, c) = position(self.text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line,
            column,
            field: field.map(str::to_owned),
            message: message.into(),
        });
    }

    /// Shorthand for a problem at a span with a field.
    pub fn err(&mut self, span: Range<usize>, field: &str, message: impl Into<String>) {
        self.at(Some(span), Some(field), message);
    }

    pub fn count(&self) -> usize {
        self.problems.len()
    }

    /// Deserialises the table `value` (at field path `path`, described as
    /// `label` in messages) into `T`, reporting every unknown key and every
    /// value of the wrong type, then deserialising what is left. `None` only
    /// when `value` is not a table at all.
    pub fn table<T: DeserializeOwned + Default>(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        accepted: &[&str],
        path: &str,
        label: &str,
    ) -> Option<T> {
        let DeValue::Table(table) = value.get_ref() else {
            self.err(value.span(), path, format!("expected a table {label}, found {}", type_name(value.get_ref())));
            return None;
        };
        let mut known = DeTable::new();
        for (key, v) in table.iter() {
            let name: &str = key.get_ref();
            if accepted.contains(&name) {
                known.insert(key.clone(), v.clone());
            } else {
                let message = unknown_key(name, accepted, &format!("in {label}"));
                self.err(key.span(), &join(path, name), message);
            }
        }
        let whole =
            |t: DeTable<'_>| T::deserialize(ValueDeserializer::from(Spanned::new(value.span(), DeValue::Table(t))));
        if let Ok(parsed) = whole(known.clone()) {
            return Some(parsed);
        }
        // Find every key that fails on its own (all fields are optional, so a
        // one-key table fails only because of that key), report it, drop it.
        let mut rest = DeTable::new();
        for (key, v) in known.iter() {
            let mut one = DeTable::new();
            one.insert(key.clone(), v.clone());
            match whole(one) {
                Ok(_) => {
                    rest.insert(key.clone(), v.clone());
                }
                Err(e) => {
                    let span = e.span().unwrap_or_else(|| v.span());
                    let field = join(path, key.get_ref());
                    self.err(span, &field, serde_message(e.message()));
                    self.rejected.insert(field);
                }
            }
        }
        match whole(rest) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                self.err(e.span().unwrap_or_else(|| value.span()), path, serde_message(e.message()));
                Some(T::default())
            }
        }
    }
}

/// `a.b` (or `b` at the top level).
pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// "a string", "an array", … for messages.
pub(super) fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// serde's message, made a little friendlier.
fn serde_message(message: &str) -> String {
    // "invalid type: integer `5`, expected a string" → "expected a string, found integer `5`"
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        let expected = match expected {
            "a sequence" => "a list",
            "a map" => "a table",
            "a boolean" => "a boolean (true or false)",
            other => other,
        };
        return format!("expected {expected}, found {found}");
    }
    message.to_owned()
}

/// The message for a key that is not accepted where it was written.
pub(super) fn unknown_key(key: &str, accepted: &[&str], place: &str) -> String {
    let suggestion = accepted
        .iter()
        .map(|a| (edit_distance(key, a), *a))
        .filter(|(d, _)| *d <= 2 && *d < key.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| format!(" (did you mean {a:?}?)"))
        .unwrap_or_default();
    format!("unknown key {key:?} {place}{suggestion}; accepted keys: {}", accepted.join(", "))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let replace = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = replace.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
pub(super) fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_in_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(position(text, 0), (1, 1));
        assert_eq!(position(text, 6), (2, 1));
        // "bé = " is 6 bytes but 5 characters
        assert_eq!(position(text, 12), (2, 6));
        assert_eq!(position(text, 8), (2, 2), "inside a multi-byte character: its start");
        assert_eq!(position(text, 999), (3, 1));
    }

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("tokne", "token"), 2);
        assert_eq!(
            unknown_key("tokne", &["token", "api_url"], "in [github]"),
            "unknown key \"tokne\" in [github] (did you mean \"token\"?); accepted keys: token, api_url"
        );
        assert_eq!(unknown_key("zz", &["token"], "here"), "unknown key \"zz\" here; accepted keys: token");
    }
}
