//! One ref source and one build target for the engine, each routing to the
//! adapter that fits: git for local paths, GitHub for repositories; the
//! command runner, GitHub dispatch or the signed webhook by target kind.

use async_trait::async_trait;
use repowatch_core::{
    BuildRequest, BuildTarget, CommitSha, Datasource, DatasourceId, DispatchError, Dispatched, Location, PortError,
    RefSnapshot, RefSource, TargetId, TargetSpec,
};
use repowatch_github::{GithubRefSource, GithubTarget, WebhookTarget};
use repowatch_local::{CommandTarget, GitRefSource};

/// Why GitHub is not reachable in this command, for the errors it causes.
const NO_GITHUB: &str = "GitHub is not set up for this command: add [github] with a token to repowatch.toml";

pub struct RoutingRefSource {
    pub git: GitRefSource,
    pub github: Option<GithubRefSource>,
}

#[async_trait]
impl RefSource for RoutingRefSource {
    fn budget_remaining(&self) -> Option<u64> {
        self.github.as_ref().and_then(|g| g.budget_remaining())
    }

    async fn read_refs(&self, datasources: &[Datasource]) -> Vec<(DatasourceId, Result<RefSnapshot, PortError>)> {
        let (github, local): (Vec<Datasource>, Vec<Datasource>) =
            datasources.iter().cloned().partition(|d| matches!(d.location, Location::Github(_)));
        let git = self.git.read_refs(&local);
        let remote = async {
            match &self.github {
                Some(source) => source.read_refs(&github).await,
                None => github.iter().map(|d| (d.id.clone(), Err(PortError::new(NO_GITHUB)))).collect(),
            }
        };
        let (mut out, remote) = tokio::join!(git, remote);
        out.extend(remote);
        out
    }

    async fn changed_paths(
        &self,
        datasource: &Datasource,
        from: &CommitSha,
        to: &CommitSha,
    ) -> Result<Option<Vec<String>>, PortError> {
        match (&datasource.location, &self.github) {
            (Location::Path(_), _) => self.git.changed_paths(datasource, from, to).await,
            (Location::Github(_), Some(source)) => source.changed_paths(datasource, from, to).await,
            (Location::Github(_), None) => Err(PortError::new(NO_GITHUB)),
        }
    }
}

pub struct RoutingTarget {
    pub command: CommandTarget,
    pub github: Option<GithubTarget>,
    pub webhook: WebhookTarget,
}

#[async_trait]
impl BuildTarget for RoutingTarget {
    async fn dispatch(
        &self,
        target_id: &TargetId,
        target: &TargetSpec,
        request: &BuildRequest,
    ) -> Result<Dispatched, DispatchError> {
        match target {
            TargetSpec::Command { .. } => self.command.dispatch(target_id, target, request).await,
            TargetSpec::Webhook { .. } => self.webhook.dispatch(target_id, target, request).await,
            TargetSpec::WorkflowDispatch { .. } | TargetSpec::RepositoryDispatch { .. } => match &self.github {
                Some(github) => github.dispatch(target_id, target, request).await,
                None => Err(DispatchError::new(NO_GITHUB)),
            },
        }
    }
}
