//! The JSON Schema of repowatch.toml, generated from the raw config types
//! (`raw.rs`), so editors (Taplo / "Even Better TOML", VS Code, IntelliJ)
//! complete keys, show each key's description and flag mistakes as you type.
//!
//! The schema is shipped as `schema/repowatch.schema.json`; `repowatch schema`
//! prints it, and a test fails when the shipped file differs from what the
//! code generates, or when a table's properties differ from the keys the
//! parser accepts.
//!
//! The schema is a first line of help, not the validator: `repowatch validate`
//! stays the authority (time zones, globs, cron fields, that targets exist and
//! are unique are checked there). What the schema says, the parser also
//! enforces; tests hold both to the same good and bad files.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::Value;

use super::raw::{
    RawCommand, RawDatasource, RawGithub, RawNotify, RawRepositoryDispatch, RawServe, RawSettings, RawWebhook,
    RawWorkflowDispatch,
};

/// Where the schema is published in the repository (for `$id` and `#:schema`).
pub const SCHEMA_PATH: &str = "schema/repowatch.schema.json";

/// The whole file.
#[derive(JsonSchema)]
#[allow(dead_code)] // a schema, never built
#[serde(deny_unknown_fields)]
#[schemars(
    title = "repowatch.toml",
    description = "Configuration of repowatch: what to watch, what to build, where to send notifications. Reference: docs/configuration.md. `repowatch validate` checks everything this schema cannot."
)]
struct File {
    settings: Option<RawSettings>,
    github: Option<RawGithub>,
    /// The repositories to watch, each a [[datasources]] table.
    datasources: Option<Vec<RawDatasource>>,
    /// What to build, each a [targets.<name>] table; `name` is what datasources list in `targets`.
    #[schemars(with = "Option<BTreeMap<Slug, Target>>")]
    targets: Option<()>,
    serve: Option<RawServe>,
    /// Where messages go, each a [[notify]] table.
    notify: Option<Vec<RawNotify>>,
}

/// `[targets.<name>]`, chosen by `kind`.
#[derive(JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(dead_code)] // a schema, never built
enum Target {
    WorkflowDispatch(RawWorkflowDispatch),
    RepositoryDispatch(RawRepositoryDispatch),
    Webhook(RawWebhook),
    Command(RawCommand),
}

/// The schema as pretty JSON with a final newline: the contents of [`SCHEMA_PATH`].
pub fn json_schema() -> String {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<File>().to_value();
    strip_null(&mut schema);
    if let Some(obj) = schema.as_object_mut() {
        // `$schema` first, then `$id`, then the rest, as editors show them.
        let id = format!("https://github.com/repowatch/repowatch/raw/main/{SCHEMA_PATH}");
        let mut ordered = serde_json::Map::new();
        if let Some(meta) = obj.remove("$schema") {
            ordered.insert("$schema".into(), meta);
        }
        ordered.insert("$id".into(), Value::String(id));
        ordered.append(obj);
        *obj = ordered;
    }
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// TOML has no null: drop the `null` that schemars adds for `Option` fields.
fn strip_null(value: &mut Value) {
    match value {
        Value::Object(obj) => {
            if let Some(Value::Array(types)) = obj.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    obj.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(values)) = obj.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
            if let Some(Value::Array(any)) = obj.get_mut("anyOf") {
                any.retain(|s| s.get("type").is_none_or(|t| t != "null"));
                if any.len() == 1 {
                    let Some(Value::Object(only)) = any.pop() else { return };
                    obj.remove("anyOf");
                    for (k, v) in only {
                        obj.entry(k).or_insert(v);
                    }
                }
            }
            obj.values_mut().for_each(strip_null);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

/// A schema-only type: its name and its JSON Schema (a string, in this file).
macro_rules! string_schema {
    ($(#[$doc:meta])* $name:ident, $schema:tt) => {
        $(#[$doc])*
        pub(super) struct $name;
        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

string_schema!(
    /// `env:NAME`, `file:PATH` or `ssm:/path` (`SecretRef::parse`).
    SecretRef,
    {
        "type": "string",
        "description": "A reference to a secret, never the secret itself: \"env:NAME\" (an environment variable), \"file:PATH\" (a file, relative to this file) or \"ssm:/path\" (an SSM SecureString, on AWS).",
        "pattern": "^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+|ssm:/\\S+)$",
        "examples": ["env:GITHUB_TOKEN", "file:/run/secrets/token", "ssm:/repowatch/github-token"]
    }
);

string_schema!(
    /// A datasource id or target name (`DatasourceId`, `TargetId`).
    Slug,
    {
        "type": "string",
        "description": "1 to 64 characters from a-z, 0-9 and '-'.",
        "pattern": "^[a-z0-9-]{1,64}$"
    }
);

string_schema!(
    /// `owner/name` (`RepoSlug`).
    Repo,
    {
        "type": "string",
        "description": "A GitHub repository as \"owner/name\".",
        "pattern": "^[A-Za-z0-9._-]{1,100}/[A-Za-z0-9._-]{1,100}$",
        "examples": ["octo-org/api"]
    }
);

string_schema!(
    /// `http://` or `https://` and a host (`check_http_url`).
    HttpUrl,
    {
        "type": "string",
        "pattern": "^https?://[^/\\s][^\\s]*$"
    }
);

string_schema!(
    /// A required string that must not be blank.
    NonEmpty,
    {
        "type": "string",
        "pattern": "\\S"
    }
);

string_schema!(
    /// A duration as `parse_duration` reads it.
    Duration,
    {
        "type": "string",
        "description": "A number with a unit, e.g. \"90s\", \"10m\", \"1h 30m\".",
        "pattern": "^\\s*[0-9]",
        "examples": ["90s", "10m", "1h 30m"]
    }
);

string_schema!(
    /// Five cron fields.
    Cron,
    {
        "type": "string",
        "pattern": "^\\s*\\S+(\\s+\\S+){4}\\s*$",
        "default": "0 17 * * *",
        "examples": ["0 17 * * *", "30 6 * * MON-FRI"]
    }
);

string_schema!(
    /// A watch rule (`WatchRule::parse`).
    WatchRule,
    {
        "type": "string",
        "pattern": "^(branch:.+|tag:.+|release|release:.+)$",
        "examples": ["branch:main", "branch:release/*", "tag:v*", "release"]
    }
);

string_schema!(
    /// `settings.language`: the notify crate's languages.
    Language,
    {
        "type": "string",
        "enum": [repowatch_notify::Lang::Ja.as_str(), repowatch_notify::Lang::En.as_str()],
        "default": repowatch_notify::Lang::default().as_str()
    }
);

string_schema!(
    /// `notify.kind`: the notify crate's channel kinds.
    NotifyKind,
    { "type": "string", "enum": repowatch_notify::Kind::ALL.map(|k| k.as_str()) }
);

string_schema!(
    /// `notify.on`: the notify crate's topics.
    Topic,
    {
        "type": "string",
        "enum": repowatch_notify::Topic::ALL.map(|t| t.as_str()),
        "description": "\"failure\": a run, a datasource or a build failed; \"build\": a build was dispatched or finished; \"summary\": the summary of a run that found something; \"alarm\": CloudWatch alarms and parked build requests."
    }
);

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::config::keys;

    fn schema() -> Value {
        serde_json::from_str(&json_schema()).expect("the schema is JSON")
    }

    /// The object schema of a table, following `$ref`s, array `items` and the
    /// target kinds (`targets.<kind>`).
    fn table<'a>(root: &'a Value, path: &str) -> &'a Value {
        let follow = |mut s: &'a Value| {
            loop {
                if let Some(items) = s.get("items") {
                    s = items;
                } else if let Some(r) = s.get("$ref").and_then(Value::as_str) {
                    let name = r.strip_prefix("#/$defs/").expect("a local $ref");
                    s = &root["$defs"][name];
                } else {
                    return s;
                }
            }
        };
        match path.split_once('.') {
            None if path.is_empty() => root,
            None => follow(&root["properties"][path]),
            Some(("targets", kind)) => {
                let target = follow(
                    root["properties"]["targets"]["patternProperties"]
                        .as_object()
                        .and_then(|p| p.values().next())
                        .expect("targets by name"),
                );
                target["oneOf"]
                    .as_array()
                    .and_then(|v| v.iter().find(|t| t["properties"]["kind"]["const"] == kind))
                    .unwrap_or_else(|| panic!("no target kind {kind} in the schema"))
            }
            Some(_) => panic!("unexpected table path {path}"),
        }
    }

    #[test]
    fn every_table_describes_exactly_the_keys_the_parser_accepts() {
        let root = schema();
        for (path, accepted) in keys::TABLES {
            let t = table(&root, path);
            assert_eq!(t["additionalProperties"], false, "{path:?}: unknown keys must be flagged, as the parser does");
            let described: BTreeSet<&str> =
                t["properties"].as_object().expect("properties").keys().map(String::as_str).collect();
            let accepted: BTreeSet<&str> = accepted.iter().copied().collect();
            assert_eq!(described, accepted, "{path:?}: the schema's properties against the parser's keys");
            for (key, property) in t["properties"].as_object().into_iter().flatten() {
                let described = property.get("description").or_else(|| {
                    property
                        .get("$ref")
                        .and_then(Value::as_str)
                        .and_then(|r| root["$defs"][r.trim_start_matches("#/$defs/")].get("description"))
                });
                assert!(
                    described.is_some() || key == "kind",
                    "{path:?}.{key}: every key has a description for editors to show"
                );
            }
        }
    }

    #[test]
    fn the_schema_has_no_null_toml_cannot_write() {
        let text = json_schema();
        assert!(!text.contains("\"null\""), "TOML has no null, so the schema must not offer it");
    }

    #[test]
    fn the_shipped_schema_is_the_generated_one() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(SCHEMA_PATH);
        let text = std::fs::read_to_string(&shipped).unwrap_or_default();
        assert!(
            text == json_schema(),
            "{SCHEMA_PATH} is not what the config types generate; regenerate it with\n  \
             cargo run -p repowatch -- schema > {SCHEMA_PATH}"
        );
    }
}
