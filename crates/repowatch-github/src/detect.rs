//! Change detection at the theoretical minimum of API calls: one GraphQL
//! query per ≤ 100 repositories, each an aliased `repository(owner:, name:)`
//! field reading exactly the refs its watch rules need. REST only for the
//! follow-up that needs it (the compare API, for `paths`).
//!
//! What a rule reads:
//! - `branch:main` (no glob) → `ref(qualifiedName: "refs/heads/main")`
//! - `branch:release/*` → `refs(refPrefix: "refs/heads/", query: "release/", first: 100)`,
//!   paginated when more than 100 match
//! - `tag:v*` → the newest 20 tags whose name contains `v` (TAG_COMMIT_DATE desc)
//! - `release` → the newest 10 releases
//! - always the default branch head (it costs nothing extra).
//!
//! A 502/504 or a timeout shrinks the batch 100 → 50 → 25. A repository that
//! is deleted, renamed or not visible to the token fails its own datasource
//! only; the rest of the batch is read normally.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use async_trait::async_trait;
use repowatch_core::{
    CommitSha, Datasource, DatasourceId, Location, PortError, RefHead, RefKind, RefName, RefSnapshot, RefSource,
    RepoSlug,
};
use serde_json::Value;

use crate::client::{GithubClient, GithubError, GraphqlError};

/// Repositories per GraphQL query: GitHub's `first`/node limits make 100 the most one query reads cheaply.
pub const BATCH: usize = 100;
/// The smallest batch a 502/504 shrinks to; a failure at this size fails the datasources.
pub const MIN_BATCH: usize = 25;
/// Newest tags read per tag glob.
pub const TAGS: usize = 20;
/// Newest releases read.
pub const RELEASES: usize = 10;
/// Pages of 100 branches followed per glob before giving up (5,000 branches).
const MAX_PAGES: usize = 50;
/// The compare API lists at most this many files; at the limit we cannot tell.
const COMPARE_FILE_LIMIT: usize = 300;

const TARGET: &str = "target { __typename oid ... on Tag { target { oid } } }";
const RATE_LIMIT: &str = "rateLimit { cost remaining resetAt limit }";

/// Reads refs of GitHub datasources.
pub struct GithubRefSource {
    client: std::sync::Arc<GithubClient>,
    batch: usize,
}

impl GithubRefSource {
    pub fn new(client: std::sync::Arc<GithubClient>) -> Self {
        Self { client, batch: BATCH }
    }

    pub fn client(&self) -> &GithubClient {
        &self.client
    }
}

/// What one datasource reads, and under which aliases.
struct Plan<'a> {
    ds: &'a Datasource,
    repo: &'a RepoSlug,
    /// Exact refs: (kind, full ref name).
    exact: Vec<(RefKind, String)>,
    /// Glob prefixes per kind: branches (paginated) and tags (newest only).
    branch_queries: Vec<String>,
    tag_queries: Vec<String>,
    releases: bool,
}

impl<'a> Plan<'a> {
    fn new(ds: &'a Datasource, repo: &'a RepoSlug) -> Self {
        let mut exact = BTreeSet::new();
        let mut branch_queries = BTreeSet::new();
        let mut tag_queries = BTreeSet::new();
        let mut releases = false;
        for rule in ds.watch.rules() {
            match (rule.kind(), rule.literal()) {
                (RefKind::Branch, Some(name)) => {
                    exact.insert((RefKind::Branch, format!("refs/heads/{name}")));
                }
                (RefKind::Tag, Some(name)) => {
                    exact.insert((RefKind::Tag, format!("refs/tags/{name}")));
                }
                (RefKind::Branch, None) => {
                    branch_queries.insert(rule.literal_prefix().to_owned());
                }
                (RefKind::Tag, None) => {
                    tag_queries.insert(rule.literal_prefix().to_owned());
                }
                (RefKind::Release, _) => releases = true,
            }
        }
        Self {
            ds,
            repo,
            exact: exact.into_iter().collect(),
            branch_queries: narrow(branch_queries),
            tag_queries: narrow(tag_queries),
            releases,
        }
    }

    /// The aliased selection of this repository, as `alias: repository(...) {...}`.
    fn write(&self, out: &mut String, alias: &str) {
        let _ = write!(
            out,
            "  {alias}: repository(owner: {}, name: {}) {{\n    nameWithOwner\n    defaultBranchRef {{ name {TARGET} }}\n",
            lit(&self.repo.owner),
            lit(&self.repo.name)
        );
        for (i, (_, name)) in self.exact.iter().enumerate() {
            let _ = writeln!(out, "    x{i}: ref(qualifiedName: {}) {{ name prefix {TARGET} }}", lit(name));
        }
        for (i, q) in self.branch_queries.iter().enumerate() {
            let _ = writeln!(out, "    b{i}: {}", branch_connection(q, None));
        }
        for (i, q) in self.tag_queries.iter().enumerate() {
            let _ = writeln!(
                out,
                "    t{i}: refs(refPrefix: \"refs/tags/\"{}, first: {TAGS}, orderBy: {{field: TAG_COMMIT_DATE, direction: DESC}}) {{ pageInfo {{ hasNextPage }} nodes {{ name {TARGET} }} }}",
                query_arg(q)
            );
        }
        if self.releases {
            let _ = writeln!(
                out,
                "    releases(first: {RELEASES}, orderBy: {{field: CREATED_AT, direction: DESC}}) {{ pageInfo {{ hasNextPage }} nodes {{ tagName isDraft tagCommit {{ oid }} }} }}"
            );
        }
        out.push_str("  }\n");
    }
}

/// Prefixes that another prefix in the set already covers are dropped (`""` covers all).
fn narrow(prefixes: BTreeSet<String>) -> Vec<String> {
    let all: Vec<String> = prefixes.into_iter().collect();
    all.iter().filter(|p| !all.iter().any(|q| q != *p && p.starts_with(q.as_str()))).cloned().collect()
}

fn query_arg(prefix: &str) -> String {
    if prefix.is_empty() { String::new() } else { format!(", query: {}", lit(prefix)) }
}

fn branch_connection(prefix: &str, after: Option<&str>) -> String {
    let after = after.map(|c| format!(", after: {}", lit(c))).unwrap_or_default();
    format!(
        "refs(refPrefix: \"refs/heads/\"{}, first: 100{after}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ name {TARGET} }} }}",
        query_arg(prefix)
    )
}

/// A GraphQL string literal (JSON escaping is valid GraphQL escaping).
fn lit(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

type Answered = (DatasourceId, Result<RefSnapshot, PortError>);

fn fail_all(plans: &[Plan<'_>], e: &GithubError) -> Vec<Answered> {
    plans
        .iter()
        .map(|p| (p.ds.id.clone(), Err(PortError::with_source(format!("reading {}", p.repo), e.clone()))))
        .collect()
}

impl GithubRefSource {
    fn batch_query(plans: &[Plan<'_>]) -> String {
        let mut q = format!("query Detect {{\n  {RATE_LIMIT}\n");
        for (i, plan) in plans.iter().enumerate() {
            plan.write(&mut q, &format!("r{i}"));
        }
        q.push('}');
        q
    }

    /// One batch, shrinking on overload.
    fn detect<'s, 'p>(
        &'s self,
        plans: &'p [Plan<'p>],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Answered>> + Send + 'p>>
    where
        's: 'p,
    {
        Box::pin(async move {
            let query = Self::batch_query(plans);
            let what = format!("GraphQL detection of {} repositories", plans.len());
            match self.client.graphql(&what, &query).await {
                Ok(response) => {
                    let mut out = Vec::with_capacity(plans.len());
                    for (i, plan) in plans.iter().enumerate() {
                        let alias = format!("r{i}");
                        let node = response.data.as_ref().and_then(|d| d.get(&alias));
                        let result = match node {
                            Some(node) if !node.is_null() => self.snapshot(plan, node, &response.errors, &alias).await,
                            _ => Err(missing(plan, &response.errors, &alias)),
                        };
                        out.push((plan.ds.id.clone(), result));
                    }
                    out
                }
                Err(e) if e.is_overload() && plans.len() > MIN_BATCH => {
                    let half = plans.len().div_ceil(2);
                    tracing::warn!(batch = plans.len(), next = half, error = %e, "GitHub overloaded: shrinking the batch");
                    let (a, b) = plans.split_at(half);
                    let mut out = self.detect(a).await;
                    out.extend(self.detect(b).await);
                    out
                }
                Err(e) => fail_all(plans, &e),
            }
        })
    }

    async fn snapshot(
        &self,
        plan: &Plan<'_>,
        node: &Value,
        errors: &[GraphqlError],
        alias: &str,
    ) -> Result<RefSnapshot, PortError> {
        // An error below this repository (a field GitHub could not resolve) fails it alone.
        if let Some(e) = errors.iter().find(|e| e.path.first().and_then(Value::as_str) == Some(alias)) {
            return Err(PortError::new(format!("reading {}: GitHub: {}", plan.repo, e.message)));
        }
        let actual = node.get("nameWithOwner").and_then(Value::as_str).unwrap_or_default();
        if !actual.eq_ignore_ascii_case(&plan.repo.to_string()) {
            return Err(PortError::new(format!(
                "{} was renamed or moved to {actual}: set repo = \"{actual}\" for datasource {:?} in repowatch.toml",
                plan.repo,
                plan.ds.id.as_str()
            )));
        }
        let bad = |what: &str| PortError::new(format!("reading {}: GitHub's answer has no valid {what}", plan.repo));
        let mut refs = Vec::new();
        let mut newest_only = Vec::new();
        if let Some(default) = node.get("defaultBranchRef").filter(|v| !v.is_null()) {
            refs.push(head(RefKind::Branch, "refs/heads/", default).ok_or_else(|| bad("defaultBranchRef"))?);
        }
        for (i, (kind, name)) in plan.exact.iter().enumerate() {
            match node.get(format!("x{i}")) {
                Some(Value::Null) | None => {} // no such ref (yet): nothing to report
                Some(r) => {
                    let prefix = if *kind == RefKind::Branch { "refs/heads/" } else { "refs/tags/" };
                    // A tag of a tree or a blob builds nothing.
                    match head(*kind, prefix, r) {
                        Some(h) => refs.push(h),
                        None if *kind == RefKind::Tag => {}
                        None => return Err(bad(name)),
                    }
                }
            }
        }
        for (i, prefix) in plan.branch_queries.iter().enumerate() {
            let mut connection = node.get(format!("b{i}")).cloned().ok_or_else(|| bad("branch list"))?;
            let mut pages = 1;
            loop {
                for n in nodes(&connection).ok_or_else(|| bad("branch list"))? {
                    refs.push(head(RefKind::Branch, "refs/heads/", n).ok_or_else(|| bad("branch"))?);
                }
                let next = connection.pointer("/pageInfo/endCursor").and_then(Value::as_str);
                let more = connection.pointer("/pageInfo/hasNextPage").and_then(Value::as_bool).unwrap_or(false);
                let (true, Some(cursor)) = (more, next) else { break };
                if pages >= MAX_PAGES {
                    return Err(PortError::new(format!(
                        "{}: more than {} branches start with {prefix:?}; narrow the branch glob",
                        plan.repo,
                        MAX_PAGES * 100
                    )));
                }
                connection = self.next_page(plan.repo, prefix, cursor).await?;
                pages += 1;
            }
        }
        for i in 0..plan.tag_queries.len() {
            let connection = node.get(format!("t{i}")).ok_or_else(|| bad("tag list"))?;
            for n in nodes(connection).ok_or_else(|| bad("tag list"))? {
                // A tag of a tree or a blob builds nothing.
                if let Some(h) = head(RefKind::Tag, "refs/tags/", n) {
                    refs.push(h);
                }
            }
            if connection.pointer("/pageInfo/hasNextPage").and_then(Value::as_bool).unwrap_or(false) {
                newest_only.push(RefKind::Tag);
            }
        }
        if plan.releases {
            let connection = node.get("releases").ok_or_else(|| bad("release list"))?;
            for n in nodes(connection).ok_or_else(|| bad("release list"))? {
                if n.get("isDraft").and_then(Value::as_bool).unwrap_or(false) {
                    continue;
                }
                let (Some(tag), Some(oid)) =
                    (n.get("tagName").and_then(Value::as_str), n.pointer("/tagCommit/oid").and_then(Value::as_str))
                else {
                    continue; // a release whose tag is gone
                };
                let (Ok(name), Ok(commit)) = (RefName::parse(format!("refs/tags/{tag}")), CommitSha::parse(oid)) else {
                    return Err(bad("release"));
                };
                refs.push(RefHead { kind: RefKind::Release, name, commit });
            }
            if connection.pointer("/pageInfo/hasNextPage").and_then(Value::as_bool).unwrap_or(false) {
                newest_only.push(RefKind::Release);
            }
        }
        let mut seen = BTreeSet::new();
        refs.retain(|r| seen.insert((r.kind, r.name.clone())));
        newest_only.dedup();
        Ok(RefSnapshot { refs, newest_only })
    }

    async fn next_page(&self, repo: &RepoSlug, prefix: &str, cursor: &str) -> Result<Value, PortError> {
        let query = format!(
            "query Page {{\n  {RATE_LIMIT}\n  r: repository(owner: {}, name: {}) {{ b: {} }}\n}}",
            lit(&repo.owner),
            lit(&repo.name),
            branch_connection(prefix, Some(cursor))
        );
        let what = format!("the next page of {repo}'s branches");
        let response = self.client.graphql(&what, &query).await.map_err(|e| PortError::with_source(what.clone(), e))?;
        if let Some(e) = response.errors.first() {
            return Err(PortError::new(format!("{what}: GitHub: {}", e.message)));
        }
        response
            .data
            .as_ref()
            .and_then(|d| d.pointer("/r/b"))
            .cloned()
            .ok_or_else(|| PortError::new(format!("{what}: GitHub's answer has no branch list")))
    }

    /// Files changed between two commits, through the compare API.
    pub async fn compare(
        &self,
        repo: &RepoSlug,
        from: &CommitSha,
        to: &CommitSha,
    ) -> Result<Option<Vec<String>>, PortError> {
        // per_page=1: the files are on the first page whatever its size; the commits are not needed.
        let path = format!("/repos/{}/{}/compare/{}...{}?per_page=1", repo.owner, repo.name, from, to);
        let what = format!(
            "comparing {repo} {}...{}",
            &from.as_str()[..7.min(from.as_str().len())],
            &to.as_str()[..7.min(to.as_str().len())]
        );
        let answer = match self.client.rest(reqwest::Method::GET, &path, &what, None).await {
            Ok(a) => a,
            // The old commit is gone (force-push) or unknown: we cannot tell, so build.
            Err(GithubError::Status { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(PortError::with_source(what, e)),
        };
        #[derive(serde::Deserialize)]
        struct Compare {
            #[serde(default)]
            files: Option<Vec<File>>,
        }
        #[derive(serde::Deserialize)]
        struct File {
            filename: String,
            #[serde(default)]
            previous_filename: Option<String>,
        }
        let compare: Compare = answer.json(&what).map_err(|e| PortError::with_source(what.clone(), e))?;
        let Some(files) = compare.files else { return Ok(None) };
        if files.len() >= COMPARE_FILE_LIMIT {
            return Ok(None);
        }
        Ok(Some(files.into_iter().flat_map(|f| std::iter::once(f.filename).chain(f.previous_filename)).collect()))
    }
}

fn nodes(connection: &Value) -> Option<&Vec<Value>> {
    connection.get("nodes").and_then(Value::as_array)
}

/// A ref node (`{name, target {__typename oid target{oid}}}`) as a head; an
/// annotated tag resolves to its commit. `None` when it points at no commit.
fn head(kind: RefKind, prefix: &str, node: &Value) -> Option<RefHead> {
    let name = node.get("name").and_then(Value::as_str)?;
    let target = node.get("target")?;
    let oid = match target.get("__typename").and_then(Value::as_str) {
        Some("Tag") => target.pointer("/target/oid"),
        Some("Commit") | None => target.get("oid"),
        Some(_) => None,
    }?;
    let full = if name.starts_with("refs/") { name.to_owned() } else { format!("{prefix}{name}") };
    Some(RefHead { kind, name: RefName::parse(full).ok()?, commit: CommitSha::parse(oid.as_str()?).ok()? })
}

/// The error for a repository GitHub answered `null` for.
fn missing(plan: &Plan<'_>, errors: &[GraphqlError], alias: &str) -> PortError {
    let own = errors.iter().find(|e| e.path.first().and_then(Value::as_str) == Some(alias));
    match own {
        Some(e) if e.kind.as_deref() == Some("NOT_FOUND") => PortError::new(format!(
            "GitHub has no repository {} the token can see (deleted, renamed without a redirect, or private): check repo of datasource {:?} and the token's access",
            plan.repo,
            plan.ds.id.as_str()
        )),
        Some(e) if e.kind.as_deref() == Some("FORBIDDEN") => PortError::new(format!(
            "the token may not read {}: {} (grant it access to the repository)",
            plan.repo, e.message
        )),
        Some(e) => PortError::new(format!("reading {}: GitHub: {}", plan.repo, e.message)),
        None if !errors.is_empty() => PortError::new(format!(
            "reading {}: GitHub: {}",
            plan.repo,
            errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ")
        )),
        None => PortError::new(format!("reading {}: GitHub's answer has no data for it", plan.repo)),
    }
}

#[async_trait]
impl RefSource for GithubRefSource {
    fn budget_remaining(&self) -> Option<u64> {
        self.client.budget().graphql.map(|b| b.remaining)
    }

    async fn read_refs(&self, datasources: &[Datasource]) -> Vec<(DatasourceId, Result<RefSnapshot, PortError>)> {
        let mut out = Vec::with_capacity(datasources.len());
        let mut plans = Vec::with_capacity(datasources.len());
        for ds in datasources {
            match &ds.location {
                Location::Github(repo) => plans.push(Plan::new(ds, repo)),
                Location::Path(path) => out.push((
                    ds.id.clone(),
                    Err(PortError::new(format!("{} is a local repository, not a GitHub one", path.display()))),
                )),
            }
        }
        // The client keeps ≤ 4 in flight; the batches are independent.
        let batches = plans.chunks(self.batch).map(|chunk| self.detect(chunk));
        for answered in futures::future::join_all(batches).await {
            out.extend(answered);
        }
        out
    }

    async fn changed_paths(
        &self,
        datasource: &Datasource,
        from: &CommitSha,
        to: &CommitSha,
    ) -> Result<Option<Vec<String>>, PortError> {
        match &datasource.location {
            Location::Github(repo) => self.compare(repo, from, to).await,
            Location::Path(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use repowatch_core::rules::WatchRules;

    fn ds(watch: &[&str]) -> Datasource {
        Datasource {
            id: DatasourceId::parse("api").unwrap(),
            location: Location::Github(RepoSlug::parse("octo/api").unwrap()),
            watch: WatchRules::parse(watch).unwrap(),
            paths: None,
            cooldown: std::time::Duration::ZERO,
            targets: vec![],
            build_on_first_seen: false,
        }
    }

    #[test]
    fn a_plan_reads_what_the_rules_need_and_no_more() {
        let d = ds(&["branch:main", "branch:release/*", "branch:release/v2/*", "tag:v*", "release"]);
        let Location::Github(repo) = &d.location else { unreachable!() };
        let plan = Plan::new(&d, repo);
        assert_eq!(plan.exact, vec![(RefKind::Branch, "refs/heads/main".to_owned())]);
        assert_eq!(plan.branch_queries, vec!["release/".to_owned()], "release/v2/ is covered by release/");
        assert_eq!(plan.tag_queries, vec!["v".to_owned()]);
        assert!(plan.releases);
        let q = GithubRefSource::batch_query(std::slice::from_ref(&plan));
        assert!(q.contains(r#"r0: repository(owner: "octo", name: "api")"#), "{q}");
        assert!(q.contains(r#"x0: ref(qualifiedName: "refs/heads/main")"#), "{q}");
        assert!(q.contains(r#"query: "release/""#), "{q}");
        assert!(q.contains("rateLimit { cost remaining resetAt limit }"));
    }

    #[test]
    fn a_branch_star_reads_every_branch_once() {
        let d = ds(&["branch:*", "branch:feature/*"]);
        let Location::Github(repo) = &d.location else { unreachable!() };
        let plan = Plan::new(&d, repo);
        assert_eq!(plan.branch_queries, vec![String::new()]);
        assert!(!GithubRefSource::batch_query(std::slice::from_ref(&plan)).contains("query:"));
    }

    #[test]
    fn literals_are_escaped() {
        assert_eq!(lit(r#"we"ird\name"#), r#""we\"ird\\name""#);
    }

    #[test]
    fn heads_resolve_annotated_tags_and_skip_trees() {
        let commit = "a".repeat(40);
        let n = serde_json::json!({"name": "v1", "target": {"__typename": "Tag", "oid": "b".repeat(40), "target": {"oid": commit}}});
        assert_eq!(head(RefKind::Tag, "refs/tags/", &n).unwrap().commit.as_str(), commit);
        let tree = serde_json::json!({"name": "t", "target": {"__typename": "Tree", "oid": "c".repeat(40)}});
        assert!(head(RefKind::Tag, "refs/tags/", &tree).is_none());
        let branch = serde_json::json!({"name": "main", "target": {"oid": commit}});
        assert_eq!(head(RefKind::Branch, "refs/heads/", &branch).unwrap().name.as_str(), "refs/heads/main");
    }
}
