//! Everything a command needs, built once from the configuration: the SQLite
//! store and queue, the git ref source, the command target, the engine.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use repowatch_core::steps::Notification;
use repowatch_core::{Dispatcher, Notifier, PortError, StaticCatalog, SystemClock, TargetSpec};
use repowatch_local::engine::{Engine, Ports};
use repowatch_local::{CommandTarget, Db, GitRefSource, Owner, SqliteBuildQueue, SqliteStateStore};

use crate::config::Config;

/// A claim on an idempotency key outlives a dispatcher by this much at least.
const MIN_LEASE: Duration = Duration::from_secs(5 * 60);

pub struct App {
    pub config: Config,
    pub store: Arc<SqliteStateStore>,
    pub queue: Arc<SqliteBuildQueue>,
    pub owner: Owner,
    pub engine: Engine,
}

impl App {
    /// Everything but secrets; see [`App::open_with_secrets`].
    pub fn open(config: Config) -> anyhow::Result<App> {
        Self::build(config, None)
    }

    /// Also resolves `serve.webhook_secret` (for the commands that verify
    /// webhooks), once; an unresolvable reference is a usage error.
    pub fn open_with_secrets(config: Config) -> anyhow::Result<App> {
        let secret = match config.serve.as_ref().and_then(|s| s.webhook_secret.as_ref()) {
            Some(reference) => Some(
                crate::config::resolve_secret("serve.webhook_secret", reference)
                    .map_err(|e| crate::cli::UsageError(e.to_string()))?,
            ),
            None => None,
        };
        Self::build(config, secret)
    }

    fn build(config: Config, webhook_secret: Option<repowatch_core::secret::SecretString>) -> anyhow::Result<App> {
        let db = Arc::new(Db::open(&config.settings.state_dir).with_context(|| {
            format!("cannot open the state store in {} (settings.state_dir)", config.settings.state_dir.display())
        })?);
        let owner =
            Owner::register(&config.settings.state_dir).context("cannot register this process as a queue consumer")?;
        let store = Arc::new(SqliteStateStore::new(db.clone()));
        let queue = Arc::new(SqliteBuildQueue::new(db));
        if !config.notify.is_empty() {
            tracing::warn!(
                channels = config.notify.len(),
                "[[notify]] channels are configured, but Discord/Slack/webhook delivery is not built yet: this run sends no notification"
            );
        }
        let catalog = StaticCatalog::new(config.datasources.clone(), config.targets.clone());
        let ports = Ports {
            catalog: Arc::new(catalog),
            store: store.clone(),
            queue: queue.clone(),
            refs: Arc::new(GitRefSource::new()),
            target: Arc::new(CommandTarget::new(config.base_dir.clone())),
            notifier: Arc::new(NoNotifier),
            clock: Arc::new(SystemClock),
            dispatcher: Dispatcher { owner: owner.as_str().to_owned(), lease: MIN_LEASE.max(longest_timeout(&config)) },
            webhook_secret,
        };
        let engine = Engine::new(ports).context("the built-in state machine definition is invalid")?;
        Ok(App { config, store, queue, owner, engine })
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

/// Until notification channels are built, the embedded engine has none.
struct NoNotifier;

#[async_trait]
impl Notifier for NoNotifier {
    fn channels(&self) -> Vec<String> {
        Vec::new()
    }

    async fn send(&self, _notification: &Notification) -> Result<(), PortError> {
        Ok(())
    }
}
