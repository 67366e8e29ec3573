//! Loads and validates `repowatch.toml` (DESIGN.md "Configuration").
//!
//! Parsing happens in two passes. The TOML is read into a spanned document and
//! each table is deserialised on its own into a `deny_unknown_fields` raw
//! struct (`raw.rs`), so a wrong key or type in one table does not hide the
//! problems of the next. A semantic pass then builds the domain types of
//! `repowatch-core` (whose constructors do the validation) and checks what ties
//! tables together: ids are unique, targets exist, secrets are references.
//! Every problem is collected; [`ConfigError`] lists them all, one per line,
//! each with the file, the line and column, the field and what to write.
//!
//! Secret values never appear in an error: a literal where a reference belongs
//! is reported without echoing it.

mod raw;
mod schema;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use croner::parser::{CronParser, Seconds, Year};
use repowatch_core::duration::parse_duration;
use repowatch_core::rules::{PathFilter, WatchRule, WatchRules};
use repowatch_core::secret::{SecretRef, SecretString};
use repowatch_core::{Datasource, DatasourceId, Location, RefKind, RepoSlug, TargetId, TargetSpec};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use raw::{Cx, RawSecret, join, type_name};
pub use schema::{SCHEMA_PATH, json_schema};

/// The file `--config` defaults to, in the current directory.
pub const DEFAULT_FILE: &str = "repowatch.toml";
/// `settings.timezone` when not set.
pub const DEFAULT_TIMEZONE: &str = "Asia/Tokyo";
/// `settings.schedule` when not set: daily at 17:00.
pub const DEFAULT_SCHEDULE: &str = "0 17 * * *";
/// `settings.state_dir` when not set, relative to the file's directory.
pub const DEFAULT_STATE_DIR: &str = ".repowatch";
/// `github.api_url` when not set.
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";
/// `serve.listen` when not set.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// `datasources.watch` when not set.
pub const DEFAULT_WATCH: &str = "branch:*";
/// `timeout` of a `command` target when not set.
pub const DEFAULT_COMMAND_TIMEOUT: &str = "30m";
/// GitHub accepts at most this many inputs in a workflow_dispatch.
pub const MAX_WORKFLOW_INPUTS: usize = 25;
/// GitHub accepts an `event_type` of at most this many characters.
pub const MAX_EVENT_TYPE_CHARS: usize = 100;

/// The keys each table accepts: the parser's lists, which the JSON Schema and
/// docs/configuration.md are checked against.
pub mod keys {
    /// The top level.
    pub const TOP: &[&str] = &["settings", "github", "datasources", "targets", "serve", "notify"];
    /// `[settings]`.
    pub const SETTINGS: &[&str] = &["timezone", "schedule", "language", "state_dir"];
    /// `[github]`.
    pub const GITHUB: &[&str] = &["token", "api_url"];
    /// `[[datasources]]`.
    pub const DATASOURCE: &[&str] =
        &["id", "repo", "path", "watch", "paths", "cooldown", "targets", "build_on_first_seen"];
    /// A `workflow_dispatch` target.
    pub const WORKFLOW_DISPATCH: &[&str] = &["kind", "repo", "workflow", "ref", "inputs", "key_input"];
    /// A `repository_dispatch` target.
    pub const REPOSITORY_DISPATCH: &[&str] = &["kind", "repo", "event_type"];
    /// A `webhook` target.
    pub const WEBHOOK: &[&str] = &["kind", "url", "secret"];
    /// A `command` target.
    pub const COMMAND: &[&str] = &["kind", "command", "workdir", "timeout"];
    /// `[serve]`.
    pub const SERVE: &[&str] = &["listen", "webhook_secret", "build_secret", "build_targets", "status_token"];
    /// `[[notify]]`.
    pub const NOTIFY: &[&str] = &["kind", "url", "secret", "on", "quiet_runs"];
    /// Every table: (its path in the schema, the keys it accepts). Targets are
    /// `targets.<kind>`.
    pub const TABLES: &[(&str, &[&str])] = &[
        ("", TOP),
        ("settings", SETTINGS),
        ("github", GITHUB),
        ("datasources", DATASOURCE),
        ("targets.workflow_dispatch", WORKFLOW_DISPATCH),
        ("targets.repository_dispatch", REPOSITORY_DISPATCH),
        ("targets.webhook", WEBHOOK),
        ("targets.command", COMMAND),
        ("serve", SERVE),
        ("notify", NOTIFY),
    ];
}

/// A loaded, validated repowatch.toml.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file as given (for messages).
    pub path: PathBuf,
    /// Absolute directory of the file; relative paths in it resolve against this.
    pub base_dir: PathBuf,
    pub settings: Settings,
    pub github: Option<GithubSettings>,
    /// In declared order; `Location::Path` is absolute.
    pub datasources: Vec<Datasource>,
    /// `Command.workdir` is absolute.
    pub targets: BTreeMap<TargetId, TargetSpec>,
    pub serve: Option<ServeSettings>,
    pub notify: Vec<NotifyChannel>,
}

/// `[settings]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub timezone: jiff::tz::TimeZone,
    /// The IANA name `timezone` was loaded from, e.g. `Asia/Tokyo`.
    pub timezone_name: String,
    /// Five-field cron (minute hour day-of-month month day-of-week), in `timezone`.
    pub schedule: String,
    pub language: Language,
    /// Absolute.
    pub state_dir: PathBuf,
}

/// Notification language: the notify crate's own type.
pub use repowatch_notify::Lang as Language;

impl Config {
    /// The [[notify]] channels with the language and time zone they speak in.
    pub fn notify_spec(&self) -> repowatch_notify::NotifySpec {
        repowatch_notify::NotifySpec {
            language: self.settings.language,
            timezone: self.settings.timezone_name.clone(),
            channels: self.notify.clone(),
        }
    }

    /// What reads or dispatches through GitHub (`datasource "api"`, `target "deploy"`):
    /// these need `[github]` with a token.
    pub fn github_users(&self) -> Vec<String> {
        self.datasources
            .iter()
            .filter(|d| matches!(d.location, Location::Github(_)))
            .map(|d| format!("datasource {:?}", d.id.as_str()))
            .chain(
                self.targets
                    .iter()
                    .filter(|(_, t)| {
                        matches!(t, TargetSpec::WorkflowDispatch { .. } | TargetSpec::RepositoryDispatch { .. })
                    })
                    .map(|(id, _)| format!("target {:?}", id.as_str())),
            )
            .collect()
    }

    /// The problem when GitHub is used but `[github]` is missing.
    pub fn missing_github(&self) -> Option<String> {
        let users = self.github_users();
        let first = users.first().filter(|_| self.github.is_none())?;
        Some(format!(
            "{}: {first}{} reads GitHub, but there is no [github] table; add [github] with token = \"env:GITHUB_TOKEN\" (or ssm:/…, file:…)",
            self.path.display(),
            if users.len() > 1 { format!(" (and {} more)", users.len() - 1) } else { String::new() }
        ))
    }
}

/// `[github]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubSettings {
    pub token: SecretRef,
    /// `https://api.github.com`, or a GitHub Enterprise Server API URL.
    pub api_url: String,
}

/// `[serve]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub webhook_secret: Option<SecretRef>,
    /// Verifies `X-Repowatch-Signature-256` of build requests from another
    /// repowatch (`POST /webhooks/build`); unset, the endpoint answers 404.
    pub build_secret: Option<SecretRef>,
    /// The targets a received build request runs on (this machine's own).
    pub build_targets: Vec<TargetId>,
    /// Opens the status page to other machines: requests from anywhere but
    /// this machine (or through a proxy) must carry it. Unset, they are refused.
    pub status_token: Option<SecretRef>,
}

/// One `[[notify]]` channel: `url` (a webhook URL embeds a token, so it is a
/// secret reference), `secret` (signs `kind = "webhook"` bodies; required
/// there, refused elsewhere), `on`, `quiet_runs`. The notify crate's type, so
/// `repowatch sync` stores exactly what was validated here.
pub use repowatch_notify::ChannelSpec as NotifyChannel;

/// `kind` of a `[[notify]]` channel, and its `on` events: the notify crate's own types.
pub use repowatch_notify::{Kind as NotifyKind, Topic as NotifyOn};

/// Everything wrong with a configuration file. `Display` prints one problem per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", display_problems(.problems))]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

fn display_problems(problems: &[Problem]) -> String {
    problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("\n")
}

/// One problem: where it is and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file as given.
    pub file: PathBuf,
    /// 1-based line of the offending value.
    pub line: Option<usize>,
    /// 1-based column (in characters) of the offending value.
    pub column: Option<usize>,
    /// Dotted field path, `[index]` (0-based) for arrays of tables: `datasources[1].id`.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    /// `repowatch.toml:12:5: datasources[1].id: duplicate id "api"; …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl ConfigError {
    fn file(path: &Path, message: impl Into<String>) -> Self {
        Self {
            problems: vec![Problem {
                file: path.to_path_buf(),
                line: None,
                column: None,
                field: None,
                message: message.into(),
            }],
        }
    }
}

/// Why a secret reference could not be resolved. Names the reference, never a value.
#[derive(Debug, thiserror::Error)]
#[error("{field} = \"{reference}\": {reason}")]
pub struct SecretError {
    pub field: &'static str,
    pub reference: SecretRef,
    pub reason: String,
}

/// Resolves a secret reference, once, at start-up: `env:NAME` from the
/// environment, `file:PATH` from the file (one trailing newline dropped).
/// `ssm:` references belong to the AWS deployment.
pub fn resolve_secret(field: &'static str, reference: &SecretRef) -> Result<SecretString, SecretError> {
    let fail = |reason: String| SecretError { field, reference: reference.clone(), reason };
    match reference {
        SecretRef::Env(name) => match std::env::var(name) {
            Ok(value) if !value.is_empty() => Ok(SecretString::new(value)),
            Ok(_) => Err(fail(format!("the environment variable {name} is empty"))),
            Err(_) => Err(fail(format!("the environment variable {name} is not set"))),
        },
        SecretRef::File(path) => match std::fs::read_to_string(path) {
            Ok(text) => {
                let value = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
                if value.is_empty() {
                    Err(fail(format!("{} is empty", path.display())))
                } else {
                    Ok(SecretString::new(value))
                }
            }
            Err(e) => Err(fail(format!("cannot read {}: {e}", path.display()))),
        },
        SecretRef::Ssm(_) => {
            Err(fail("SSM parameters are read by the AWS deployment; on one machine use env: or file:".to_owned()))
        }
    }
}

/// Reads and validates the file at `path`. Relative paths in it resolve
/// against the file's directory.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::file(
                path,
                "file not found; create it (docs/configuration.md lists every key; the smallest file is one \
                 [[datasources]] with id, repo or path, and targets, plus the [targets.<name>] it names), \
                 or pass --config with the path of an existing file",
            ));
        }
        Err(_) if path.is_dir() => {
            return Err(ConfigError::file(
                path,
                format!("is a directory; pass the file itself, e.g. {}", path.join(DEFAULT_FILE).display()),
            ));
        }
        Err(e) => return Err(ConfigError::file(path, format!("cannot read the file: {e}"))),
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.as_bytes().get(..e.utf8_error().valid_up_to()).unwrap_or_default();
            let (line, column) = raw::position(&String::from_utf8_lossy(valid), valid.len());
            let mut err = ConfigError::file(path, "the file is not UTF-8 text; save it as UTF-8");
            if let Some(p) = err.problems.first_mut() {
                p.line = Some(line);
                p.column = Some(column);
            }
            return Err(err);
        }
    };
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let base_dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&text, path, &base_dir)
}

/// Validates `text` as the contents of `path` (used in messages only);
/// relative paths resolve against `base_dir`.
pub fn parse(text: &str, path: &Path, base_dir: &Path) -> Result<Config, ConfigError> {
    let base_dir = clean(&std::path::absolute(base_dir).unwrap_or_else(|_| base_dir.to_path_buf()));
    let mut cx = Cx::new(path, text);
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            cx.at(e.span(), None, syntax_message(e.message()));
            return Err(ConfigError { problems: cx.problems });
        }
    };
    let doc = doc.get_ref();
    const TOP: &[&str] = keys::TOP;
    for (key, _) in doc.iter() {
        let name: &str = key.get_ref();
        if !TOP.contains(&name) {
            cx.err(key.span(), name, raw::unknown_key(name, TOP, "at the top level"));
        }
    }

    let settings = settings(&mut cx, doc.get("settings"), &base_dir);
    let github = doc.get("github").and_then(|v| github(&mut cx, v, &base_dir));
    let (targets, target_names) = targets(&mut cx, doc.get("targets"), &base_dir);
    // A build runner that only receives builds from another repowatch watches nothing itself.
    let receiver_only = doc
        .get("serve")
        .and_then(|s| match s.get_ref() {
            DeValue::Table(t) => t.get("build_targets"),
            _ => None,
        })
        .is_some();
    let datasources = datasources(&mut cx, doc.get("datasources"), &base_dir, &target_names, receiver_only);
    let serve = doc.get("serve").and_then(|v| serve(&mut cx, v, &base_dir, &target_names));
    let notify = notify(&mut cx, doc.get("notify"), &base_dir);
    if cx.problems.is_empty() {
        Ok(Config { path: path.to_path_buf(), base_dir, settings, github, datasources, targets, serve, notify })
    } else {
        let mut problems = cx.problems;
        problems.sort_by_key(|p| (p.line.unwrap_or(usize::MAX), p.column.unwrap_or(0)));
        Err(ConfigError { problems })
    }
}

fn syntax_message(message: &str) -> String {
    let message = message.trim();
    if message == "duplicate key" {
        "invalid TOML: duplicate key; a key or [table] may appear only once (use [[name]] for a list of tables)"
            .to_owned()
    } else {
        format!("invalid TOML: {message}")
    }
}

// ---------------------------------------------------------------------------
// [settings]

fn settings(cx: &mut Cx<'_>, value: Option<&Spanned<DeValue<'_>>>, base_dir: &Path) -> Settings {
    const KEYS: &[&str] = keys::SETTINGS;
    let raw: raw::RawSettings = value.and_then(|v| cx.table(v, KEYS, "settings", "[settings]")).unwrap_or_default();

    let (timezone_name, timezone) = match raw.timezone {
        None => {
            let tz = jiff::tz::TimeZone::get(DEFAULT_TIMEZONE).unwrap_or_else(|_| {
                cx.at(
                    None,
                    Some("settings.timezone"),
                    format!("the default time zone {DEFAULT_TIMEZONE:?} is not in this system's time zone database; install the tzdata package or set timezone = \"UTC\""),
                );
                jiff::tz::TimeZone::UTC
            });
            (DEFAULT_TIMEZONE.to_owned(), tz)
        }
        Some(name) => {
            let span = name.span();
            let name = name.into_inner();
            let tz = match jiff::tz::TimeZone::get(&name) {
                Ok(tz) => tz,
                Err(_) if jiff::tz::db().is_definitively_empty() => {
                    cx.err(
                        span,
                        "settings.timezone",
                        format!("no time zone database on this system to look up {name:?}; install the tzdata package"),
                    );
                    jiff::tz::TimeZone::UTC
                }
                Err(_) => {
                    cx.err(span, "settings.timezone", format!("unknown time zone {name:?}; use an IANA name such as \"Asia/Tokyo\", \"Europe/Berlin\" or \"UTC\""));
                    jiff::tz::TimeZone::UTC
                }
            };
            (name, tz)
        }
    };

    let schedule = match raw.schedule {
        None => DEFAULT_SCHEDULE.to_owned(),
        Some(s) => {
            if let Err(message) = check_cron(s.get_ref()) {
                cx.err(s.span(), "settings.schedule", message);
            }
            s.into_inner()
        }
    };

    let language = match raw.language {
        None => Language::default(),
        Some(s) => match s.get_ref().as_str() {
            "ja" => Language::Ja,
            "en" => Language::En,
            other => {
                cx.err(s.span(), "settings.language", format!("unknown language {other:?}; write \"ja\" or \"en\""));
                Language::default()
            }
        },
    };

    let state_dir = match raw.state_dir {
        None => base_dir.join(DEFAULT_STATE_DIR),
        Some(s) => resolve(cx, &s, "settings.state_dir", base_dir).unwrap_or_default(),
    };

    Settings { timezone, timezone_name, schedule, language, state_dir }
}

/// A five-field cron expression, as croner reads it.
fn check_cron(text: &str) -> Result<(), String> {
    const HOW: &str = "write 5 fields: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12) day-of-week (0-7), e.g. \"0 17 * * *\"";
    const NAMES: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() != 5 {
        let n = fields.len();
        return Err(format!("{text:?} has {n} field{}; {HOW}", if n == 1 { "" } else { "s" }));
    }
    let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
    let Err(whole) = parser.parse(text) else { return Ok(()) };
    let tidy = |e: croner::errors::CronError| {
        let e = e.to_string();
        e.strip_prefix("Component error: ").unwrap_or(&e).trim_end_matches('.').to_owned()
    };
    // Name the first field that is wrong on its own.
    for (i, field) in fields.iter().enumerate() {
        let mut alone = ["*"; 5];
        alone[i] = field;
        if let Err(e) = parser.parse(&alone.join(" ")) {
            return Err(format!(
                "{text:?} is not a valid schedule: the {} field {field:?} is invalid ({}); {HOW}",
                NAMES[i],
                tidy(e)
            ));
        }
    }
    Err(format!("{text:?} is not a valid schedule ({}); {HOW}", tidy(whole)))
}

// ---------------------------------------------------------------------------
// [github], [serve]

fn github(cx: &mut Cx<'_>, value: &Spanned<DeValue<'_>>, base_dir: &Path) -> Option<GithubSettings> {
    const KEYS: &[&str] = keys::GITHUB;
    let raw: raw::RawGithub = cx.table(value, KEYS, "github", "[github]")?;
    let token = match &raw.token {
        None => {
            cx.missing(
                value.span(),
                "github.token",
                "missing; add e.g. token = \"env:GITHUB_TOKEN\" (or \"file:PATH\", \"ssm:/path\")",
            );
            None
        }
        Some(t) => secret(cx, t, "github.token", base_dir),
    };
    let api_url = match raw.api_url {
        None => DEFAULT_GITHUB_API_URL.to_owned(),
        Some(u) => {
            if let Err(message) = check_http_url(u.get_ref(), "https://github.example.com/api/v3") {
                cx.err(u.span(), "github.api_url", message);
            }
            u.into_inner()
        }
    };
    Some(GithubSettings { token: token?, api_url })
}

fn serve(
    cx: &mut Cx<'_>,
    value: &Spanned<DeValue<'_>>,
    base_dir: &Path,
    target_names: &BTreeSet<String>,
) -> Option<ServeSettings> {
    const KEYS: &[&str] = keys::SERVE;
    let raw: raw::RawServe = cx.table(value, KEYS, "serve", "[serve]")?;
    let listen = match raw.listen {
        None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        Some(l) => match l.get_ref().trim().parse::<SocketAddr>() {
            Ok(addr) => addr,
            Err(_) => {
                cx.err(
                    l.span(),
                    "serve.listen",
                    format!("{:?} is not an address; write IP:PORT, e.g. \"127.0.0.1:8080\" (or \"0.0.0.0:8080\" for every interface)", l.get_ref()),
                );
                return None;
            }
        },
    };
    let webhook_secret = match &raw.webhook_secret {
        None => None,
        Some(s) => Some(secret(cx, s, "serve.webhook_secret", base_dir)?),
    };
    let build_secret = match &raw.build_secret {
        None => None,
        Some(s) => Some(secret(cx, s, "serve.build_secret", base_dir)?),
    };
    let status_token = match &raw.status_token {
        None => None,
        Some(s) => Some(secret(cx, s, "serve.status_token", base_dir)?),
    };
    let mut build_targets = Vec::new();
    for (i, t) in raw.build_targets.as_ref().map(|l| l.get_ref().as_slice()).unwrap_or_default().iter().enumerate() {
        let field = format!("serve.build_targets[{i}]");
        match TargetId::parse(t.get_ref()) {
            Ok(id) if target_names.contains(id.as_str()) => build_targets.push(id),
            Ok(id) => cx.err(
                t.span(),
                &field,
                format!("no target {:?} is declared; add [targets.{id}] or remove it", id.as_str()),
            ),
            Err(e) => cx.err(t.span(), &field, e.to_string()),
        }
    }
    let unlisted = raw.build_targets.as_ref().is_none_or(|l| l.get_ref().is_empty());
    match (&build_secret, unlisted, raw.build_targets.as_ref()) {
        (None, false, Some(list)) => cx.err(
            list.span(),
            "serve.build_secret",
            "build_targets is set but build_secret is not; add build_secret = \"env:REPOWATCH_BUILD_SECRET\" (the secret the sender signs with)",
        ),
        (Some(_), true, _) => {
            if let Some(s) = raw.build_secret.as_ref() {
                cx.err(s.span(), "serve.build_targets", "build_secret is set but build_targets is empty; name the targets received builds run on, e.g. build_targets = [\"local\"]")
            }
        }
        _ => {}
    }
    Some(ServeSettings { listen, webhook_secret, build_secret, build_targets, status_token })
}

// ---------------------------------------------------------------------------
// [targets.<name>]

const TARGET_KINDS: &str = "workflow_dispatch, repository_dispatch, webhook, command";

/// The valid targets, and the names of all declared ones (valid or not, so a
/// broken target is not reported a second time as undefined).
fn targets(
    cx: &mut Cx<'_>,
    value: Option<&Spanned<DeValue<'_>>>,
    base_dir: &Path,
) -> (BTreeMap<TargetId, TargetSpec>, BTreeSet<String>) {
    let mut specs = BTreeMap::new();
    let mut names = BTreeSet::new();
    let Some(value) = value else { return (specs, names) };
    let DeValue::Table(table) = value.get_ref() else {
        cx.err(
            value.span(),
            "targets",
            format!("expected tables [targets.<name>], found {}", type_name(value.get_ref())),
        );
        return (specs, names);
    };
    for (key, v) in table.iter() {
        let name: &str = key.get_ref();
        names.insert(name.to_owned());
        let path = format!("targets.{name}");
        let id = match TargetId::parse(name) {
            Ok(id) => Some(id),
            Err(e) => {
                cx.err(key.span(), &path, e.to_string());
                None
            }
        };
        if let (Some(spec), Some(id)) = (target(cx, v, &path, name, base_dir), id) {
            specs.insert(id, spec);
        }
    }
    (specs, names)
}

fn target(
    cx: &mut Cx<'_>,
    value: &Spanned<DeValue<'_>>,
    path: &str,
    name: &str,
    base_dir: &Path,
) -> Option<TargetSpec> {
    let DeValue::Table(table) = value.get_ref() else {
        cx.err(
            value.span(),
            path,
            format!("expected a table [targets.{name}] with a kind, found {}", type_name(value.get_ref())),
        );
        return None;
    };
    let kind_path = join(path, "kind");
    let kind = match table.get("kind") {
        None => {
            cx.missing(value.span(), &kind_path, format!("missing; add kind = \"…\", one of: {TARGET_KINDS}"));
            return None;
        }
        Some(k) => match k.get_ref() {
            DeValue::String(s) => Spanned::new(k.span(), s.to_string()),
            other => {
                cx.err(
                    k.span(),
                    &kind_path,
                    format!("expected a string, one of: {TARGET_KINDS}; found {}", type_name(other)),
                );
                return None;
            }
        },
    };
    let before = cx.count();
    let spec = match kind.get_ref().as_str() {
        "workflow_dispatch" => workflow_dispatch(cx, value, path)?,
        "repository_dispatch" => {
            const KEYS: &[&str] = keys::REPOSITORY_DISPATCH;
            let raw: raw::RawRepositoryDispatch = cx.table(value, KEYS, path, "a repository_dispatch target")?;
            let repo = repo(cx, raw.repo.as_ref(), value, path);
            let event_type = required(cx, raw.event_type, value, path, "event_type", "\"deploy\"").and_then(|e| {
                let chars = e.get_ref().chars().count();
                if chars > MAX_EVENT_TYPE_CHARS {
                    cx.err(e.span(), &join(path, "event_type"), format!("is {chars} characters long; GitHub accepts at most {MAX_EVENT_TYPE_CHARS}, write a shorter one"));
                    None
                } else {
                    Some(e.into_inner())
                }
            });
            TargetSpec::RepositoryDispatch { repo: repo?, event_type: event_type? }
        }
        "webhook" => {
            const KEYS: &[&str] = keys::WEBHOOK;
            let raw: raw::RawWebhook = cx.table(value, KEYS, path, "a webhook target")?;
            let url =
                required(cx, raw.url, value, path, "url", "\"https://builder.example.internal/build\"").and_then(|u| {
                    match check_http_url(u.get_ref(), "https://builder.example.internal/build") {
                        Ok(()) => Some(u.into_inner()),
                        Err(message) => {
                            cx.err(u.span(), &join(path, "url"), message);
                            None
                        }
                    }
                });
            let secret = match &raw.secret {
                None => {
                    cx.missing(value.span(), &join(path, "secret"), "missing; the request is signed with it, add e.g. secret = \"env:BUILDER_SECRET\" (or \"file:PATH\", \"ssm:/path\")");
                    None
                }
                Some(s) => secret(cx, s, &join(path, "secret"), base_dir),
            };
            TargetSpec::Webhook { url: url?, secret: secret? }
        }
        "command" => {
            const KEYS: &[&str] = keys::COMMAND;
            let raw: raw::RawCommand = cx.table(value, KEYS, path, "a command target")?;
            let command = match raw.command {
                None => {
                    cx.missing(
                        value.span(),
                        &join(path, "command"),
                        "missing; add the program and its arguments, e.g. command = [\"make\", \"deploy\"]",
                    );
                    None
                }
                Some(c) if c.get_ref().first().is_none_or(|p| p.trim().is_empty()) => {
                    cx.err(
                        c.span(),
                        &join(path, "command"),
                        "the first element must name a program; write e.g. command = [\"make\", \"deploy\"]",
                    );
                    None
                }
                Some(c) => Some(c.into_inner()),
            };
            let workdir = match raw.workdir {
                None => Some(None),
                Some(w) => resolve(cx, &w, &join(path, "workdir"), base_dir).map(Some),
            };
            let timeout = match raw.timeout {
                None => parse_duration(DEFAULT_COMMAND_TIMEOUT).ok(),
                Some(t) => match duration(cx, &t, &join(path, "timeout")) {
                    Some(d) if d.is_zero() => {
                        cx.err(t.span(), &join(path, "timeout"), "must be more than zero; write e.g. \"30m\"");
                        None
                    }
                    other => other,
                },
            };
            TargetSpec::Command { command: command?, workdir: workdir?, timeout: timeout? }
        }
        other => {
            cx.err(kind.span(), &kind_path, format!("unknown kind {other:?}; write one of: {TARGET_KINDS}"));
            return None;
        }
    };
    (cx.count() == before).then_some(spec)
}

fn workflow_dispatch(cx: &mut Cx<'_>, value: &Spanned<DeValue<'_>>, path: &str) -> Option<TargetSpec> {
    const KEYS: &[&str] = keys::WORKFLOW_DISPATCH;
    let raw: raw::RawWorkflowDispatch = cx.table(value, KEYS, path, "a workflow_dispatch target")?;
    let repo = repo(cx, raw.repo.as_ref(), value, path);
    let workflow = required(cx, raw.workflow, value, path, "workflow", "\"deploy.yml\"").map(Spanned::into_inner);
    let git_ref = required(cx, raw.git_ref, value, path, "ref", "\"main\"").map(Spanned::into_inner);
    let inputs_span = raw.inputs.as_ref().map(Spanned::span);
    let inputs = raw.inputs.map(Spanned::into_inner).unwrap_or_default();
    let mut ok = true;
    let key_input = match raw.key_input {
        None => None,
        Some(k) if k.get_ref().trim().is_empty() => {
            cx.err(
                k.span(),
                &join(path, "key_input"),
                "must not be empty; write the name of a workflow input, e.g. \"repowatch_key\"",
            );
            ok = false;
            None
        }
        Some(k) if inputs.contains_key(k.get_ref()) => {
            cx.err(
                k.span(),
                &join(path, "key_input"),
                format!(
                    "{:?} is also set in inputs; repowatch fills it with the idempotency key, so remove it from inputs",
                    k.get_ref()
                ),
            );
            ok = false;
            None
        }
        Some(k) => Some(k),
    };
    let count = inputs.len() + usize::from(key_input.is_some());
    if count > MAX_WORKFLOW_INPUTS {
        let span = inputs_span.clone().unwrap_or_else(|| value.span());
        cx.err(
            span,
            &join(path, "inputs"),
            format!("{count} inputs (key_input included); GitHub accepts at most {MAX_WORKFLOW_INPUTS}, remove some"),
        );
        ok = false;
    }
    if let Some(span) = inputs_span
        && inputs.keys().any(|k| k.trim().is_empty())
    {
        cx.err(
            span,
            &join(path, "inputs"),
            "an input name is empty; name every input, e.g. inputs = { environment = \"prod\" }",
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    Some(TargetSpec::WorkflowDispatch {
        repo: repo?,
        workflow: workflow?,
        git_ref: git_ref?,
        inputs,
        key_input: key_input.map(Spanned::into_inner),
    })
}

// ---------------------------------------------------------------------------
// [[datasources]]

fn datasources(
    cx: &mut Cx<'_>,
    value: Option<&Spanned<DeValue<'_>>>,
    base_dir: &Path,
    target_names: &BTreeSet<String>,
    receiver_only: bool,
) -> Vec<Datasource> {
    const HOW: &str = "declare at least one [[datasources]] table, with an id, a repo or path, and targets (or, for a build runner only, [serve] build_targets)";
    let Some(value) = value else {
        if !receiver_only {
            cx.at(None, Some("datasources"), HOW);
        }
        return Vec::new();
    };
    let items = match value.get_ref() {
        DeValue::Array(items) => items,
        DeValue::Table(_) => {
            cx.err(
                value.span(),
                "datasources",
                "write [[datasources]] with double brackets: each one is an entry of a list",
            );
            return Vec::new();
        }
        other => {
            cx.err(value.span(), "datasources", format!("expected [[datasources]] tables, found {}", type_name(other)));
            return Vec::new();
        }
    };
    if items.is_empty() {
        cx.err(value.span(), "datasources", HOW);
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| datasource(cx, i, item, base_dir, target_names, &mut seen))
        .collect()
}

fn datasource(
    cx: &mut Cx<'_>,
    index: usize,
    value: &Spanned<DeValue<'_>>,
    base_dir: &Path,
    target_names: &BTreeSet<String>,
    seen: &mut HashMap<String, usize>,
) -> Option<Datasource> {
    const KEYS: &[&str] = keys::DATASOURCE;
    let path = format!("datasources[{index}]");
    let raw: raw::RawDatasource = cx.table(value, KEYS, &path, "[[datasources]]")?;
    let before = cx.count();

    let id = match raw.id {
        None => {
            cx.missing(value.span(), &join(&path, "id"), "missing; add a stable id, e.g. id = \"api\"");
            None
        }
        Some(id) => match DatasourceId::parse(id.get_ref().as_str()) {
            Err(e) => {
                cx.err(id.span(), &join(&path, "id"), e.to_string());
                None
            }
            Ok(parsed) => {
                let line = raw::position(cx.text, id.span().start).0;
                match seen.get(id.get_ref()) {
                    Some(first) => {
                        cx.err(
                            id.span(),
                            &join(&path, "id"),
                            format!("duplicate id {:?}; ids must be unique (first used on line {first})", id.get_ref()),
                        );
                        None
                    }
                    None => {
                        seen.insert(id.into_inner(), line);
                        Some(parsed)
                    }
                }
            }
        },
    };

    let location = match (&raw.repo, &raw.path) {
        (Some(r), Some(p)) => {
            let (later, key) = if p.span().start > r.span().start { (p.span(), "path") } else { (r.span(), "repo") };
            cx.err(
                later,
                &join(&path, key),
                "both repo and path are set; keep repo for a GitHub repository or path for a local git repository, not both",
            );
            None
        }
        (None, None) if cx.rejected(&join(&path, "repo")) || cx.rejected(&join(&path, "path")) => None,
        (None, None) => {
            cx.err(
                value.span(),
                &path,
                "missing repo or path; add repo = \"owner/name\" for a GitHub repository or path = \"/srv/git/api\" for a local git repository",
            );
            None
        }
        (Some(_), None) => repo(cx, raw.repo.as_ref(), value, &path).map(Location::Github),
        (None, Some(p)) => resolve(cx, p, &join(&path, "path"), base_dir).map(Location::Path),
    };
    let local = raw.path.is_some() && raw.repo.is_none();

    let watch_path = join(&path, "watch");
    let watch = match raw.watch {
        None => WatchRules::parse(&[DEFAULT_WATCH]).ok(),
        Some(list) if list.get_ref().is_empty() => {
            cx.err(list.span(), &watch_path, format!("an empty list watches nothing; remove watch to use [{DEFAULT_WATCH:?}], or list rules such as \"branch:main\", \"tag:v*\""));
            None
        }
        Some(list) => {
            let before = cx.count();
            for rule in list.get_ref() {
                match WatchRule::parse(rule.get_ref()) {
                    Err(e) => cx.err(rule.span(), &watch_path, e.to_string()),
                    Ok(r) if local && r.kind() == RefKind::Release => cx.err(
                        rule.span(),
                        &watch_path,
                        format!("{:?}: a local git repository has no releases; watch \"tag:<glob>\" instead, or use repo for a GitHub repository", rule.get_ref()),
                    ),
                    Ok(_) => {}
                }
            }
            let texts: Vec<&str> = list.get_ref().iter().map(|r| r.get_ref().as_str()).collect();
            if cx.count() == before { WatchRules::parse(&texts).ok() } else { None }
        }
    };

    let paths_path = join(&path, "paths");
    let paths = match raw.paths {
        None => Some(None),
        Some(list) if list.get_ref().is_empty() => {
            cx.err(list.span(), &paths_path, "an empty list would never build; remove paths to build on any change, or list globs such as \"src/**\"");
            None
        }
        Some(list) => {
            let before = cx.count();
            for p in list.get_ref() {
                if let Err(e) = PathFilter::parse(&[p.get_ref()]) {
                    cx.err(p.span(), &paths_path, e.to_string());
                }
            }
            if cx.count() == before {
                let texts: Vec<&str> = list.get_ref().iter().map(|p| p.get_ref().as_str()).collect();
                match PathFilter::parse(&texts) {
                    Ok(filter) => Some(Some(filter)),
                    Err(e) => {
                        cx.err(list.span(), &paths_path, e.to_string());
                        None
                    }
                }
            } else {
                None
            }
        }
    };

    let cooldown = match raw.cooldown {
        None => Some(Duration::ZERO),
        Some(c) => duration(cx, &c, &join(&path, "cooldown")),
    };

    let targets_path = join(&path, "targets");
    let targets = match raw.targets {
        None => {
            cx.missing(
                value.span(),
                &targets_path,
                "missing; list the targets to build, e.g. targets = [\"deploy\"], each declared as [targets.<name>]",
            );
            None
        }
        Some(list) if list.get_ref().is_empty() => {
            cx.err(
                list.span(),
                &targets_path,
                "an empty list builds nothing; name at least one target, e.g. targets = [\"deploy\"]",
            );
            None
        }
        Some(list) => {
            let before = cx.count();
            let mut ids: Vec<TargetId> = Vec::new();
            for t in list.get_ref() {
                match TargetId::parse(t.get_ref().as_str()) {
                    Err(e) => cx.err(t.span(), &targets_path, e.to_string()),
                    Ok(_) if !target_names.contains(t.get_ref()) => {
                        let known = if target_names.is_empty() {
                            String::new()
                        } else {
                            format!(
                                ", or use one of: {}",
                                target_names.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
                            )
                        };
                        cx.err(
                            t.span(),
                            &targets_path,
                            format!(
                                "target {:?} is not defined; add a [targets.{}] table{known}",
                                t.get_ref(),
                                t.get_ref()
                            ),
                        );
                    }
                    Ok(id) if ids.contains(&id) => cx.err(
                        t.span(),
                        &targets_path,
                        format!("target {:?} is listed twice; list it once", t.get_ref()),
                    ),
                    Ok(id) => ids.push(id),
                }
            }
            (cx.count() == before).then_some(ids)
        }
    };

    let build_on_first_seen = raw.build_on_first_seen.unwrap_or(false);
    if cx.count() != before {
        return None;
    }
    Some(Datasource {
        id: id?,
        location: location?,
        watch: watch?,
        paths: paths?,
        cooldown: cooldown?,
        targets: targets?,
        build_on_first_seen,
    })
}

// ---------------------------------------------------------------------------
// [[notify]]

fn notify(cx: &mut Cx<'_>, value: Option<&Spanned<DeValue<'_>>>, base_dir: &Path) -> Vec<NotifyChannel> {
    let Some(value) = value else { return Vec::new() };
    let items = match value.get_ref() {
        DeValue::Array(items) => items,
        DeValue::Table(_) => {
            cx.err(value.span(), "notify", "write [[notify]] with double brackets: each one is an entry of a list");
            return Vec::new();
        }
        other => {
            cx.err(value.span(), "notify", format!("expected [[notify]] tables, found {}", type_name(other)));
            return Vec::new();
        }
    };
    items.iter().enumerate().filter_map(|(i, item)| channel(cx, i, item, base_dir)).collect()
}

fn channel(cx: &mut Cx<'_>, index: usize, value: &Spanned<DeValue<'_>>, base_dir: &Path) -> Option<NotifyChannel> {
    const KEYS: &[&str] = keys::NOTIFY;
    let path = format!("notify[{index}]");
    let raw: raw::RawNotify = cx.table(value, KEYS, &path, "[[notify]]")?;
    let kinds = || NotifyKind::ALL.map(NotifyKind::as_str).join(", ");
    let kind = match raw.kind {
        None => {
            cx.missing(value.span(), &join(&path, "kind"), format!("missing; add kind = \"…\", one of: {}", kinds()));
            None
        }
        Some(k) => {
            let found = NotifyKind::ALL.into_iter().find(|n| n.as_str() == k.get_ref());
            if found.is_none() {
                cx.err(
                    k.span(),
                    &join(&path, "kind"),
                    format!("unknown kind {:?}; write one of: {}", k.get_ref(), kinds()),
                );
            }
            found
        }
    };
    let url = match &raw.url {
        None => {
            cx.missing(value.span(), &join(&path, "url"), "missing; a webhook URL embeds a token, so add a reference to it, e.g. url = \"env:DISCORD_WEBHOOK_URL\"");
            None
        }
        Some(u) => secret(cx, u, &join(&path, "url"), base_dir),
    };
    let on = match raw.on {
        None => Some(NotifyOn::DEFAULT.to_vec()),
        Some(list) if list.get_ref().is_empty() => {
            cx.err(
                list.span(),
                &join(&path, "on"),
                "an empty list never notifies; remove on to use [\"failure\", \"alarm\"], or list events",
            );
            None
        }
        Some(list) => {
            let mut events = Vec::new();
            let mut ok = true;
            for e in list.get_ref() {
                match NotifyOn::ALL.into_iter().find(|n| n.as_str() == e.get_ref()) {
                    Some(n) if events.contains(&n) => {}
                    Some(n) => events.push(n),
                    None => {
                        let all = NotifyOn::ALL.map(NotifyOn::as_str).join(", ");
                        cx.err(
                            e.span(),
                            &join(&path, "on"),
                            format!("unknown event {:?}; write one of: {all}", e.get_ref()),
                        );
                        ok = false;
                    }
                }
            }
            ok.then_some(events)
        }
    };
    let secret = match (&raw.secret, kind) {
        (Some(s), Some(NotifyKind::Webhook)) => secret(cx, s, &join(&path, "secret"), base_dir),
        (None, Some(NotifyKind::Webhook)) => {
            cx.missing(
                value.span(),
                &join(&path, "secret"),
                "missing; a webhook channel signs what it sends, add secret = \"env:NOTIFY_WEBHOOK_SECRET\" (or ssm:/…, file:…)",
            );
            return None;
        }
        (Some(s), Some(other)) => {
            cx.err(
                s.span(),
                &join(&path, "secret"),
                format!(
                    "{} signs nothing with it; secret applies only to kind = \"webhook\", remove it",
                    other.as_str()
                ),
            );
            return None;
        }
        (_, _) => None,
    };
    let quiet_runs = raw.quiet_runs.map(|q| q.into_inner()).unwrap_or(false);
    Some(NotifyChannel { kind: kind?, url: url?, secret, on: on?, quiet_runs })
}

// ---------------------------------------------------------------------------
// shared checks

/// A required string: missing or blank is a problem.
fn required(
    cx: &mut Cx<'_>,
    field: Option<Spanned<String>>,
    table: &Spanned<DeValue<'_>>,
    path: &str,
    key: &str,
    example: &str,
) -> Option<Spanned<String>> {
    match field {
        None => {
            cx.missing(table.span(), &join(path, key), format!("missing; add e.g. {key} = {example}"));
            None
        }
        Some(v) if v.get_ref().trim().is_empty() => {
            cx.err(v.span(), &join(path, key), format!("must not be empty; write e.g. {key} = {example}"));
            None
        }
        Some(v) => Some(v),
    }
}

/// A required `owner/name`.
fn repo(
    cx: &mut Cx<'_>,
    field: Option<&Spanned<String>>,
    table: &Spanned<DeValue<'_>>,
    path: &str,
) -> Option<RepoSlug> {
    let key = join(path, "repo");
    let Some(field) = field else {
        cx.missing(table.span(), &key, "missing; add e.g. repo = \"octo-org/api\"");
        return None;
    };
    RepoSlug::parse(field.get_ref()).map_err(|e| cx.err(field.span(), &key, e)).ok()
}

fn duration(cx: &mut Cx<'_>, field: &Spanned<String>, path: &str) -> Option<Duration> {
    parse_duration(field.get_ref()).map_err(|e| cx.err(field.span(), path, e)).ok()
}

/// A secret reference; a literal is reported without echoing it. A relative
/// `file:` path resolves against the file's directory.
fn secret(cx: &mut Cx<'_>, field: &Spanned<RawSecret>, path: &str, base_dir: &Path) -> Option<SecretRef> {
    match field.get_ref() {
        RawSecret::Text(text) => match SecretRef::parse(text) {
            Ok(SecretRef::File(p)) => Some(SecretRef::File(clean(&base_dir.join(p)))),
            Ok(r) => Some(r),
            Err(e) => {
                cx.err(field.span(), path, e.to_string());
                None
            }
        },
        RawSecret::Other(found) => {
            cx.err(
                field.span(),
                path,
                format!(
                    "expected a reference string such as \"env:NAME\", \"file:PATH\" or \"ssm:/path\", found {found}"
                ),
            );
            None
        }
    }
}

/// A path, made absolute against the file's directory.
fn resolve(cx: &mut Cx<'_>, field: &Spanned<String>, path: &str, base_dir: &Path) -> Option<PathBuf> {
    let text = field.get_ref();
    if text.trim().is_empty() {
        cx.err(
            field.span(),
            path,
            "must not be empty; write a path, absolute or relative to the directory of this file",
        );
        return None;
    }
    if text == "~" || text.starts_with("~/") {
        cx.err(
            field.span(),
            path,
            "~ is not expanded; write an absolute path, or one relative to the directory of this file",
        );
        return None;
    }
    Some(clean(&base_dir.join(text)))
}

/// Drops `.` components (`/a/./b` → `/a/b`); `..` is kept, as the file system
/// resolves it (through symlinks).
fn clean(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, Component::CurDir)).collect()
}

/// An `http://` or `https://` URL with a host.
fn check_http_url(text: &str, example: &str) -> Result<(), String> {
    let rest = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !text.contains(char::is_whitespace) => Ok(()),
        _ => Err(format!("{text:?} is not an http(s) URL; write e.g. \"{example}\"")),
    }
}
