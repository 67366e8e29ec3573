//! A fake GitHub on 127.0.0.1 for tests and benchmarks: GraphQL (`POST /graphql`, executed generically over
//! in-memory repositories) and the REST endpoints repowatch uses (compare, workflow and repository dispatch,
//! rate limit), with GitHub's authentication, rate-limit headers and budgets, query cost and limits, and injectable
//! faults (5xx, secondary and primary rate limits, 429, GraphQL errors, slow answers).
//!
//! Every exchange is recorded; [`FakeGithub::write_exchanges`] writes them as JSON Lines for
//! `scripts/github-contract.mjs`, which checks each against GitHub's published OpenAPI description and GraphQL
//! schema, so the fake cannot drift from GitHub ([`check_contract`] runs it).
//!
//! ```no_run
//! # async fn demo() -> Result<(), repowatch_github_fake::FakeError> {
//! use repowatch_github_fake::{FakeGithub, FakeOptions, RepoSpec, sha};
//! let fake = FakeGithub::start(FakeOptions { token: "ghp_test".into(), ..Default::default() }).await?;
//! fake.add_repo("octo/api", RepoSpec::default())?;
//! fake.set_branch("octo/api", "main", &sha("main@1"))?;
//! // point a client at fake.url() (GraphQL at fake.graphql_url()) ...
//! fake.shutdown().await;
//! # Ok(()) }
//! ```

mod contract;
mod exchange;
mod faults;
mod graphql;
mod model;
mod reply;
mod rest;
mod server;
mod state;
mod util;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use contract::{
    CONTRACT_NPM_PACKAGES, ContractOutcome, check_contract, contract_script, node_modules_dir, node_required,
};
pub use exchange::Exchange;
pub use faults::{Fault, FaultResponse, Matcher};
pub use model::{
    ChangedFile, Comparison, Dispatch, DispatchMode, DispatchTarget, FakeError, FakeOptions, FileStatus, ReleaseSpec,
    RepoSpec, Resource,
};
pub use util::sha;

use server::Shared;
use state::{State, WorkflowRec};

/// How long [`FakeGithub::shutdown`] lets requests in flight finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running fake GitHub. Dropping it stops the server (without waiting); [`FakeGithub::shutdown`] stops it
/// gracefully.
///
/// All setters take repositories as `owner/name` (their current name) and apply at once, also while requests
/// are being served.
#[derive(Debug)]
pub struct FakeGithub {
    shared: Arc<Shared>,
    url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl FakeGithub {
    /// Binds 127.0.0.1 on a free port and serves until shut down. Needs a tokio runtime.
    pub async fn start(options: FakeOptions) -> Result<Self, FakeError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared::new(State::new(&options), url.clone()));
        let app = axum::Router::new().fallback(server::handle).with_state(Arc::clone(&shared));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Self { shared, url, shutdown: Some(tx), task: Some(task) })
    }

    /// The REST base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The GraphQL endpoint, `{url}/graphql`.
    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.url)
    }

    /// Adds an empty repository (no branches, tags or releases yet).
    pub fn add_repo(&self, repo: &str, spec: RepoSpec) -> Result<(), FakeError> {
        self.shared.lock().add_repo(repo, spec)
    }

    /// Deletes a repository: GraphQL answers `NOT_FOUND`, REST 404, also for its old names.
    pub fn delete_repo(&self, repo: &str) -> Result<(), FakeError> {
        self.shared.lock().delete_repo(repo)
    }

    /// Renames (or transfers) a repository. Its old name keeps resolving, as GitHub's redirects do: GraphQL's
    /// `repository` follows it (unless `followRenames: false`), REST answers 301 (GET) / 307 (other methods) with
    /// `Location` under the new name.
    pub fn rename_repo(&self, from: &str, to: &str) -> Result<(), FakeError> {
        self.shared.lock().rename_repo(from, to)
    }

    /// Changes the default branch.
    pub fn set_default_branch(&self, repo: &str, branch: &str) -> Result<(), FakeError> {
        self.shared.lock().repo_mut(repo)?.default_branch = branch.to_owned();
        Ok(())
    }

    /// Creates or moves a branch to a commit (a 40-hex sha; see [`sha`]).
    pub fn set_branch(&self, repo: &str, branch: &str, oid: &str) -> Result<(), FakeError> {
        self.shared.lock().set_branch(repo, branch, oid)
    }

    /// Deletes a branch.
    pub fn delete_branch(&self, repo: &str, branch: &str) -> Result<(), FakeError> {
        let mut st = self.shared.lock();
        match st.repo_mut(repo)?.branches.remove(branch) {
            Some(_) => Ok(()),
            None => Err(FakeError::NotFound(format!("branch {branch} of {repo}"))),
        }
    }

    /// Creates or moves a tag to a commit. An annotated tag points at a tag object (GraphQL `Tag`, with its own
    /// oid and `target { oid }` the commit); a lightweight one straight at the commit. Setting a tag makes it the
    /// newest for `TAG_COMMIT_DATE` order.
    pub fn set_tag(&self, repo: &str, tag: &str, oid: &str, annotated: bool) -> Result<(), FakeError> {
        self.shared.lock().set_tag(repo, tag, oid, annotated)
    }

    /// Deletes a tag.
    pub fn delete_tag(&self, repo: &str, tag: &str) -> Result<(), FakeError> {
        let mut st = self.shared.lock();
        match st.repo_mut(repo)?.tags.remove(tag) {
            Some(_) => Ok(()),
            None => Err(FakeError::NotFound(format!("tag {tag} of {repo}"))),
        }
    }

    /// Adds a release for a tag (the newest so far), titled like the tag; replaces one for the same tag.
    pub fn add_release(&self, repo: &str, tag: &str, draft: bool) -> Result<(), FakeError> {
        self.add_release_with(repo, ReleaseSpec { draft, ..ReleaseSpec::new(tag) })
    }

    /// Adds a release described in full (the newest so far); replaces one for the same tag.
    pub fn add_release_with(&self, repo: &str, release: ReleaseSpec) -> Result<(), FakeError> {
        self.shared.lock().add_release(repo, release)
    }

    /// Deletes the release of a tag.
    pub fn delete_release(&self, repo: &str, tag: &str) -> Result<(), FakeError> {
        let mut st = self.shared.lock();
        let releases = &mut st.repo_mut(repo)?.releases;
        let before = releases.len();
        releases.retain(|r| r.tag_name != tag);
        if releases.len() == before {
            return Err(FakeError::NotFound(format!("release {tag} of {repo}")));
        }
        Ok(())
    }

    /// The files changed between two commits (ahead by one commit, not behind). `base` and `head` are shas or
    /// refs of the repository (resolved now). See [`FakeGithub::set_compare`].
    pub fn set_compare_files<I, F>(&self, repo: &str, base: &str, head: &str, files: I) -> Result<(), FakeError>
    where
        I: IntoIterator<Item = F>,
        F: Into<ChangedFile>,
    {
        let files = files.into_iter().map(Into::into).collect();
        self.set_compare(repo, base, head, Comparison { files, ..Comparison::default() })
    }

    /// What `GET /repos/{repo}/compare/{base}...{head}` answers for two commits (or refs, resolved now); both
    /// become known commits of the repository. A comparison of an unknown commit is 404, like GitHub's; one of two
    /// known commits never set here is `ahead` by one commit with no files; of a commit with itself, `identical`.
    pub fn set_compare(&self, repo: &str, base: &str, head: &str, comparison: Comparison) -> Result<(), FakeError> {
        let mut st = self.shared.lock();
        let r = st.repo_mut(repo)?;
        let base = State::compare_endpoint(r, base)?;
        let head = State::compare_endpoint(r, head)?;
        r.commits.insert(base.clone());
        r.commits.insert(head.clone());
        r.compares.insert((base, head), comparison);
        Ok(())
    }

    /// Declares a workflow file that has `workflow_dispatch` with these inputs; returns its numeric id (which
    /// dispatch URLs may use instead of the file name). Declaring it again replaces the inputs.
    pub fn declare_workflow(&self, repo: &str, file: &str, inputs: &[&str]) -> Result<u64, FakeError> {
        let mut st = self.shared.lock();
        let id = st.next_id();
        let r = st.repo_mut(repo)?;
        let id = r.workflows.get(file).map_or(id, |w| w.id);
        r.workflows
            .insert(file.to_owned(), WorkflowRec { id, inputs: inputs.iter().map(|s| (*s).to_owned()).collect() });
        Ok(id)
    }

    /// How workflow dispatches answer from now on.
    pub fn set_dispatch_mode(&self, mode: DispatchMode) {
        self.shared.lock().dispatch_mode = mode;
    }

    /// GraphQL queries with more than this many `repository` fields get 502 from now on (`None`: no limit).
    pub fn set_max_batch(&self, max: Option<usize>) {
        self.shared.lock().max_batch = max;
    }

    /// Sets what is left of a budget in the current hour (for testing low-budget behaviour).
    pub fn set_remaining(&self, resource: Resource, remaining: u32) {
        let mut st = self.shared.lock();
        let bucket = st.bucket_mut(resource);
        bucket.used = bucket.limit.saturating_sub(remaining);
    }

    /// Queues a fault: the next `fault.times` matching requests get `fault.response`. Faults apply in the order
    /// they were injected.
    pub fn inject(&self, fault: Fault) {
        if fault.times > 0 {
            self.shared.lock().faults.push_back(fault);
        }
    }

    /// Drops every fault not yet used up.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Every exchange so far (empty when [`FakeOptions::record_exchanges`] is off).
    pub fn requests(&self) -> Vec<Exchange> {
        self.shared.lock().exchanges.clone()
    }

    /// Requests received on `POST /graphql` (including rejected and faulted ones).
    pub fn graphql_requests(&self) -> u64 {
        self.shared.lock().graphql_requests
    }

    /// Requests received on every other path (including rejected and faulted ones).
    pub fn rest_requests(&self) -> u64 {
        self.shared.lock().rest_requests
    }

    /// GraphQL points charged so far (the sum of the queries' costs).
    pub fn points_used(&self) -> u64 {
        self.shared.lock().points_used
    }

    /// The most requests that were ever being handled at once (a request counts from arrival until its answer is
    /// built, a [`FaultResponse::Delay`] included, or until the client gives up).
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// When each authenticated `POST` to a dispatch endpoint arrived (accepted, rejected or faulted), in order.
    pub fn mutation_times(&self) -> Vec<Instant> {
        self.shared.lock().mutation_times.clone()
    }

    /// The workflow and repository dispatches the fake accepted, in order.
    pub fn dispatches(&self) -> Vec<Dispatch> {
        self.shared.lock().dispatches.clone()
    }

    /// Writes every exchange so far as JSON Lines (the checker's input; see [`Exchange`]).
    pub fn write_exchanges(&self, path: &Path) -> Result<(), FakeError> {
        let exchanges = self.requests();
        exchange::write_jsonl(path, &exchanges)?;
        Ok(())
    }

    /// Writes the exchanges to `path` and runs the contract checker on them ([`check_contract`]).
    pub fn check_exchanges(&self, path: &Path) -> Result<ContractOutcome, FakeError> {
        self.write_exchanges(path)?;
        check_contract(path)
    }

    /// Stops accepting connections and waits (up to 5 s) for requests in flight to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
