//! Everything a command needs, built once from the configuration: the SQLite
//! store and queue, the ref sources (git, GitHub), the targets (command,
//! GitHub dispatch, signed webhook), the engine, and the secrets it needs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use repowatch_core::secret::{SecretRef, SecretString};
use repowatch_core::{Dispatcher, StaticCatalog, SystemClock, TargetSpec};
use repowatch_github::{ClientOptions, GithubClient, GithubRefSource, GithubTarget, WebhookTarget};
use repowatch_local::engine::{Engine, Ports};
use repowatch_local::{CommandTarget, Db, GitRefSource, Owner, SqliteBuildQueue, SqliteStateStore};
use repowatch_notify::{Notifiers, RetryPolicy};

use crate::config::Config;
use crate::routing::{RoutingRefSource, RoutingTarget};

/// A claim on an idempotency key outlives a dispatcher by this much at least.
const MIN_LEASE: Duration = Duration::from_secs(5 * 60);

pub struct App {
    pub config: Config,
    pub store: Arc<SqliteStateStore>,
    pub queue: Arc<SqliteBuildQueue>,
    pub owner: Owner,
    pub engine: Engine,
    /// The GitHub client, when this command talks to GitHub (its budget is in summaries).
    pub github: Option<Arc<GithubClient>>,
    /// `serve.build_secret`, resolved, for `POST /webhooks/build`.
    pub build_secret: Option<SecretString>,
    /// `serve.status_token`, resolved: what other machines show to see the status page.
    pub status_token: Option<SecretString>,
    /// The [[notify]] channels, URLs resolved (empty for `Needs::Nothing`).
    pub notifiers: Arc<Notifiers>,
}

/// Which secrets a command resolves at start-up (once; never again, never printed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Read-only commands: status, dlq list.
    Nothing,
    /// The pipeline and the worker: the GitHub token and the webhook targets' secrets.
    Pipeline,
    /// `serve` and `invoke`: also the webhook and build-request secrets of [serve].
    Everything,
}

impl App {
    /// Opens the store and builds the ports, resolving the secrets `needs` names.
    /// A secret that cannot be resolved is a usage error that names the field.
    pub fn open(config: Config, needs: Needs) -> anyhow::Result<App> {
        let resolve = |field: &'static str, reference: &SecretRef| {
            crate::config::resolve_secret(field, reference).map_err(|e| crate::cli::UsageError(e.to_string()))
        };
        let pipeline = needs != Needs::Nothing;
        let everything = needs == Needs::Everything;
        if let (true, Some(problem)) = (pipeline, config.missing_github()) {
            return Err(crate::cli::UsageError(problem).into());
        }
        let token = match (&config.github, pipeline) {
            (Some(github), true) => Some(resolve("github.token", &github.token)?),
            _ => None,
        };
        let mut target_secrets = BTreeMap::new();
        if pipeline {
            for (id, spec) in &config.targets {
                if let TargetSpec::Webhook { secret, .. } = spec {
                    target_secrets.insert(id.clone(), resolve("targets.<name>.secret", secret)?);
                }
            }
        }
        let serve = config.serve.as_ref().filter(|_| everything);
        let webhook_secret = match serve.and_then(|s| s.webhook_secret.as_ref()) {
            Some(reference) => Some(resolve("serve.webhook_secret", reference)?),
            None => None,
        };
        let build_secret = match serve.and_then(|s| s.build_secret.as_ref()) {
            Some(reference) => Some(resolve("serve.build_secret", reference)?),
            None => None,
        };
        let status_token = match serve.and_then(|s| s.status_token.as_ref()) {
            Some(reference) => Some(resolve("serve.status_token", reference)?),
            None => None,
        };

        let db = Arc::new(Db::open(&config.settings.state_dir).with_context(|| {
            format!("cannot open the state store in {} (settings.state_dir)", config.settings.state_dir.display())
        })?);
        let owner =
            Owner::register(&config.settings.state_dir).context("cannot register this process as a queue consumer")?;
        let store = Arc::new(SqliteStateStore::new(db.clone()));
        let queue = Arc::new(SqliteBuildQueue::new(db));
        // One HTTP client per process, shared by GitHub and the webhook targets.
        let http =
            repowatch_github::http_client(&format!("repowatch/{}", env!("CARGO_PKG_VERSION")), Duration::from_secs(30))
                .context("cannot build the HTTP client")?;
        let github = match (&config.github, &token) {
            (Some(settings), Some(token)) => Some(Arc::new(
                GithubClient::with_http(http.clone(), token, ClientOptions::new(settings.api_url.clone()))
                    .map_err(|e| crate::cli::UsageError(e.to_string()))?,
            )),
            _ => None,
        };
        let notifiers = Arc::new(if pipeline { notifiers(&config)? } else { no_notifiers(&config) });
        let catalog = StaticCatalog::new(config.datasources.clone(), config.targets.clone());
        let ports = Ports {
            catalog: Arc::new(catalog),
            store: store.clone(),
            queue: queue.clone(),
            refs: Arc::new(RoutingRefSource {
                git: GitRefSource::new(),
                github: github.clone().map(GithubRefSource::new),
            }),
            target: Arc::new(RoutingTarget {
                command: CommandTarget::new(config.base_dir.clone()),
                github: github.clone().map(GithubTarget::new),
                webhook: WebhookTarget::new(http, target_secrets),
            }),
            notifier: notifiers.clone(),
            clock: Arc::new(SystemClock),
            dispatcher: Dispatcher { owner: owner.as_str().to_owned(), lease: MIN_LEASE.max(longest_timeout(&config)) },
            webhook_secret,
        };
        let engine = Engine::new(ports).context("the built-in state machine definition is invalid")?;
        Ok(App { config, store, queue, owner, engine, github, build_secret, status_token, notifiers })
    }

    pub fn ports(&self) -> &Ports {
        self.engine.ports()
    }

    /// How long a received message stays invisible: a build may take as long
    /// as the longest command timeout.
    pub fn visibility(&self) -> Duration {
        longest_timeout(&self.config) + Duration::from_secs(60)
    }
}

fn longest_timeout(config: &Config) -> Duration {
    config
        .targets
        .values()
        .filter_map(|t| match t {
            TargetSpec::Command { timeout, .. } => Some(*timeout),
            _ => None,
        })
        .max()
        .unwrap_or(Duration::from_secs(60))
}

/// The [[notify]] channels with their URLs (and signing secrets) resolved.
pub fn notifiers(config: &Config) -> anyhow::Result<Notifiers> {
    let resolve =
        |reference: &SecretRef| crate::config::resolve_secret("[[notify]]", reference).map_err(|e| e.to_string());
    config.notify_spec().notifiers(resolve, RetryPolicy::default()).map_err(|e| crate::cli::UsageError(e).into())
}

fn no_notifiers(config: &Config) -> Notifiers {
    Notifiers::new(Vec::new(), config.settings.language, config.settings.timezone.clone(), RetryPolicy::default())
}
