//! The fake's in-memory GitHub: repositories with their refs, releases, comparisons and workflows, the rate-limit
//! budgets, injected faults and what was recorded.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Instant;

use crate::exchange::Exchange;
use crate::faults::Fault;
use crate::model::{Comparison, Dispatch, DispatchMode, FakeError, FakeOptions, RepoSpec, Resource};
use crate::util::{is_sha, now_epoch, sha};

/// A branch: where it points and when it was last set (a sequence number, for `TAG_COMMIT_DATE` order).
#[derive(Debug, Clone)]
pub(crate) struct BranchRec {
    pub(crate) oid: String,
    pub(crate) seq: u64,
}

/// A tag: the commit it names, and for an annotated tag the tag object's own id.
#[derive(Debug, Clone)]
pub(crate) struct TagRec {
    pub(crate) commit: String,
    pub(crate) tag_object: Option<String>,
    pub(crate) seq: u64,
}

/// A release.
#[derive(Debug, Clone)]
pub(crate) struct ReleaseRec {
    pub(crate) tag_name: String,
    pub(crate) name: Option<String>,
    pub(crate) draft: bool,
    pub(crate) prerelease: bool,
    pub(crate) seq: u64,
    pub(crate) created_at: u64,
}

/// A workflow file that can be dispatched.
#[derive(Debug, Clone)]
pub(crate) struct WorkflowRec {
    pub(crate) id: u64,
    pub(crate) inputs: Vec<String>,
}

/// One repository.
#[derive(Debug, Clone)]
pub(crate) struct Repo {
    pub(crate) id: u64,
    pub(crate) owner: String,
    pub(crate) name: String,
    pub(crate) default_branch: String,
    pub(crate) archived: bool,
    pub(crate) disabled: bool,
    pub(crate) private: bool,
    pub(crate) branches: BTreeMap<String, BranchRec>,
    pub(crate) tags: BTreeMap<String, TagRec>,
    pub(crate) releases: Vec<ReleaseRec>,
    /// Comparisons by (base sha, head sha).
    pub(crate) compares: HashMap<(String, String), Comparison>,
    /// Every commit the repository has ever had a ref on or a comparison for.
    pub(crate) commits: HashSet<String>,
    /// Workflows by file name.
    pub(crate) workflows: BTreeMap<String, WorkflowRec>,
}

impl Repo {
    pub(crate) fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// A branch name, tag name, `refs/heads/x`, `refs/tags/x`, or a (possibly abbreviated, ≥ 7) sha of a known
    /// commit, as the compare API accepts them.
    pub(crate) fn resolve_commit(&self, spec: &str) -> Option<String> {
        if let Some(b) = spec.strip_prefix("refs/heads/") {
            return self.branches.get(b).map(|r| r.oid.clone());
        }
        if let Some(t) = spec.strip_prefix("refs/tags/") {
            return self.tags.get(t).map(|t| t.commit.clone());
        }
        if let Some(b) = self.branches.get(spec) {
            return Some(b.oid.clone());
        }
        if let Some(t) = self.tags.get(spec) {
            return Some(t.commit.clone());
        }
        let lower = spec.to_ascii_lowercase();
        if lower.len() >= 7 && lower.len() <= 40 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut found = self.commits.iter().filter(|c| c.starts_with(&lower));
            if let (Some(one), None) = (found.next(), found.next()) {
                return Some(one.clone());
            }
        }
        None
    }

    /// Whether a workflow dispatch `ref` names a branch or tag.
    pub(crate) fn has_ref(&self, r: &str) -> bool {
        let r = r.strip_prefix("refs/heads/").or_else(|| r.strip_prefix("refs/tags/")).unwrap_or(r);
        self.branches.contains_key(r) || self.tags.contains_key(r)
    }

    /// A workflow by file name or numeric id.
    pub(crate) fn workflow(&self, id: &str) -> Option<(&String, &WorkflowRec)> {
        self.workflows.get_key_value(id).or_else(|| {
            let n: u64 = id.parse().ok()?;
            self.workflows.iter().find(|(_, w)| w.id == n)
        })
    }
}

/// One rate-limit budget.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    pub(crate) limit: u32,
    pub(crate) used: u32,
}

impl Bucket {
    pub(crate) fn remaining(self) -> u32 {
        self.limit.saturating_sub(self.used)
    }
}

/// How a repository name resolved.
pub(crate) enum Lookup<'a> {
    /// The name is the repository's current one (case-insensitively).
    Current(&'a Repo),
    /// The name is an old one of a renamed repository.
    Renamed(&'a Repo),
    /// No such repository.
    Missing,
}

/// Everything behind the fake's lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) token: String,
    pub(crate) dispatch_mode: DispatchMode,
    pub(crate) max_batch: Option<usize>,
    pub(crate) record_exchanges: bool,
    /// Repositories by lowercase `owner/name`.
    pub(crate) repos: BTreeMap<String, Repo>,
    /// Old lowercase names of renamed repositories → their current lowercase name.
    pub(crate) renames: HashMap<String, String>,
    pub(crate) started_at: u64,
    seq: u64,
    next_id: u64,
    pub(crate) core: Bucket,
    pub(crate) graphql: Bucket,
    /// When the current rate-limit window ends (epoch seconds).
    pub(crate) reset_at: u64,
    pub(crate) faults: VecDeque<Fault>,
    pub(crate) exchanges: Vec<Exchange>,
    pub(crate) graphql_requests: u64,
    pub(crate) rest_requests: u64,
    pub(crate) points_used: u64,
    pub(crate) mutation_times: Vec<Instant>,
    pub(crate) dispatches: Vec<Dispatch>,
    next_request_id: u64,
}

/// Splits and checks `owner/name`.
pub(crate) fn split_full_name(full: &str) -> Result<(&str, &str), FakeError> {
    match full.split_once('/') {
        Some((o, n)) if !o.is_empty() && !n.is_empty() && !n.contains('/') => Ok((o, n)),
        _ => Err(FakeError::InvalidRepoName(full.to_owned())),
    }
}

fn check_sha(s: &str) -> Result<(), FakeError> {
    if is_sha(s) { Ok(()) } else { Err(FakeError::InvalidSha(s.to_owned())) }
}

impl State {
    pub(crate) fn new(opts: &FakeOptions) -> Self {
        let now = now_epoch();
        Self {
            token: opts.token.clone(),
            dispatch_mode: opts.dispatch_mode,
            max_batch: opts.max_batch,
            record_exchanges: opts.record_exchanges,
            repos: BTreeMap::new(),
            renames: HashMap::new(),
            started_at: now,
            seq: 0,
            next_id: 1_000,
            core: Bucket { limit: opts.rate_limit, used: 0 },
            graphql: Bucket { limit: opts.rate_limit, used: 0 },
            reset_at: now + 3600,
            faults: VecDeque::new(),
            exchanges: Vec::new(),
            graphql_requests: 0,
            rest_requests: 0,
            points_used: 0,
            mutation_times: Vec::new(),
            dispatches: Vec::new(),
            next_request_id: 1,
        }
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(crate) fn request_id(&mut self) -> String {
        self.next_request_id += 1;
        format!("FAKE:{:04X}:{:07X}", self.next_request_id % 0xFFFF, self.next_request_id)
    }

    /// Starts a new hour when the current one is over.
    pub(crate) fn roll_window(&mut self) {
        let now = now_epoch();
        if now >= self.reset_at {
            self.core.used = 0;
            self.graphql.used = 0;
            self.reset_at = now + 3600;
        }
    }

    pub(crate) fn bucket(&self, resource: Resource) -> Bucket {
        match resource {
            Resource::Core => self.core,
            Resource::Graphql => self.graphql,
        }
    }

    pub(crate) fn bucket_mut(&mut self, resource: Resource) -> &mut Bucket {
        match resource {
            Resource::Core => &mut self.core,
            Resource::Graphql => &mut self.graphql,
        }
    }

    /// Resolves a name the way GitHub does: case-insensitively, following renames.
    pub(crate) fn lookup(&self, owner: &str, name: &str) -> Lookup<'_> {
        let key = format!("{owner}/{name}").to_ascii_lowercase();
        if let Some(repo) = self.repos.get(&key) {
            return Lookup::Current(repo);
        }
        match self.renames.get(&key).and_then(|k| self.repos.get(k)) {
            Some(repo) => Lookup::Renamed(repo),
            None => Lookup::Missing,
        }
    }

    /// A repository by its current name, for mutations.
    pub(crate) fn repo_mut(&mut self, full: &str) -> Result<&mut Repo, FakeError> {
        split_full_name(full)?;
        self.repos.get_mut(&full.to_ascii_lowercase()).ok_or_else(|| FakeError::UnknownRepo(full.to_owned()))
    }

    pub(crate) fn add_repo(&mut self, full: &str, spec: RepoSpec) -> Result<(), FakeError> {
        let (owner, name) = split_full_name(full)?;
        let key = full.to_ascii_lowercase();
        if self.repos.contains_key(&key) {
            return Err(FakeError::RepoExists(full.to_owned()));
        }
        // A new repository takes the name over from a renamed one's redirect.
        self.renames.remove(&key);
        let id = self.next_id();
        self.repos.insert(
            key,
            Repo {
                id,
                owner: owner.to_owned(),
                name: name.to_owned(),
                default_branch: spec.default_branch,
                archived: spec.archived,
                disabled: spec.disabled,
                private: spec.private,
                branches: BTreeMap::new(),
                tags: BTreeMap::new(),
                releases: Vec::new(),
                compares: HashMap::new(),
                commits: HashSet::new(),
                workflows: BTreeMap::new(),
            },
        );
        Ok(())
    }

    pub(crate) fn delete_repo(&mut self, full: &str) -> Result<(), FakeError> {
        split_full_name(full)?;
        let key = full.to_ascii_lowercase();
        if self.repos.remove(&key).is_none() {
            return Err(FakeError::UnknownRepo(full.to_owned()));
        }
        self.renames.retain(|_, to| *to != key);
        Ok(())
    }

    pub(crate) fn rename_repo(&mut self, from: &str, to: &str) -> Result<(), FakeError> {
        let (owner, name) = split_full_name(to)?;
        split_full_name(from)?;
        let old = from.to_ascii_lowercase();
        let new = to.to_ascii_lowercase();
        if old != new && self.repos.contains_key(&new) {
            return Err(FakeError::RepoExists(to.to_owned()));
        }
        let mut repo = self.repos.remove(&old).ok_or_else(|| FakeError::UnknownRepo(from.to_owned()))?;
        repo.owner = owner.to_owned();
        repo.name = name.to_owned();
        self.repos.insert(new.clone(), repo);
        for target in self.renames.values_mut() {
            if *target == old {
                target.clone_from(&new);
            }
        }
        self.renames.remove(&new);
        if old != new {
            self.renames.insert(old, new);
        }
        Ok(())
    }

    pub(crate) fn set_branch(&mut self, full: &str, branch: &str, oid: &str) -> Result<(), FakeError> {
        check_sha(oid)?;
        let seq = self.next_seq();
        let repo = self.repo_mut(full)?;
        repo.commits.insert(oid.to_owned());
        repo.branches.insert(branch.to_owned(), BranchRec { oid: oid.to_owned(), seq });
        Ok(())
    }

    pub(crate) fn set_tag(&mut self, full: &str, tag: &str, oid: &str, annotated: bool) -> Result<(), FakeError> {
        check_sha(oid)?;
        let seq = self.next_seq();
        let repo = self.repo_mut(full)?;
        repo.commits.insert(oid.to_owned());
        let tag_object = annotated.then(|| sha(&format!("tag object {tag} {oid} {seq}")));
        repo.tags.insert(tag.to_owned(), TagRec { commit: oid.to_owned(), tag_object, seq });
        Ok(())
    }

    pub(crate) fn add_release(&mut self, full: &str, spec: crate::model::ReleaseSpec) -> Result<(), FakeError> {
        let seq = self.next_seq();
        let created_at = self.started_at + seq;
        let repo = self.repo_mut(full)?;
        repo.releases.retain(|r| r.tag_name != spec.tag_name);
        repo.releases.push(ReleaseRec {
            tag_name: spec.tag_name,
            name: spec.name,
            draft: spec.draft,
            prerelease: spec.prerelease,
            seq,
            created_at,
        });
        Ok(())
    }

    /// The commit a compare endpoint given to `set_compare` stands for: a ref of the repository, else a sha.
    pub(crate) fn compare_endpoint(repo: &Repo, spec: &str) -> Result<String, FakeError> {
        if let Some(oid) = repo.resolve_commit(spec).filter(|_| !is_sha(spec)) {
            return Ok(oid);
        }
        check_sha(spec)?;
        Ok(spec.to_owned())
    }
}
