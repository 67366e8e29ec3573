//! The REST endpoints repowatch uses: compare, workflow and repository dispatch, rate limit.
//!
//! Renamed repositories answer like GitHub: `301 Moved Permanently` for GET and `307 Temporary Redirect` for other
//! methods, with `Location` naming the repository's new `owner/name` (GitHub's own `Location` uses the
//! `/repositories/{id}` form, which the fake does not serve).

use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::model::{Comparison, Dispatch, DispatchMode, DispatchTarget, Resource};
use crate::reply::Reply;
use crate::state::{Lookup, Repo, State};
use crate::util::{encode_path, iso8601, legacy_node_id, percent_decode, sha};

const COMPARE_DOC: &str = "https://docs.github.com/rest/commits/commits#compare-two-commits";
const WORKFLOW_DISPATCH_DOC: &str = "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event";
const REPO_DISPATCH_DOC: &str = "https://docs.github.com/rest/repos/repos#create-a-repository-dispatch-event";
/// The documentation link of GitHub's generic 404 and 401 bodies.
pub(crate) const REST_DOC: &str = "https://docs.github.com/rest";

/// The files the compare API lists at most.
const MAX_COMPARE_FILES: usize = 300;
/// The commits the compare API lists when not paginated.
const UNPAGINATED_COMMITS: usize = 250;

/// What a request is, from its method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `POST /graphql`
    Graphql,
    /// `GET /rate_limit`
    RateLimit,
    /// `GET /repos/{owner}/{repo}/compare/{basehead}`
    Compare { owner: String, repo: String, basehead: String },
    /// `POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches`
    WorkflowDispatch { owner: String, repo: String, workflow: String },
    /// `POST /repos/{owner}/{repo}/dispatches`
    RepoDispatch { owner: String, repo: String },
    /// Anything else (404).
    Unknown,
}

impl Route {
    pub(crate) fn parse(method: &str, path: &str) -> Self {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let dec = |s: &str| percent_decode(s, false);
        match (method, segments.as_slice()) {
            ("POST", ["graphql"]) => Self::Graphql,
            ("GET", ["rate_limit"]) => Self::RateLimit,
            ("GET", ["repos", owner, repo, "compare", rest @ ..]) if rest.iter().any(|s| !s.is_empty()) => {
                Self::Compare {
                    owner: dec(owner),
                    repo: dec(repo),
                    basehead: rest.iter().map(|s| dec(s)).collect::<Vec<_>>().join("/"),
                }
            }
            ("POST", ["repos", owner, repo, "actions", "workflows", workflow, "dispatches"]) => {
                Self::WorkflowDispatch { owner: dec(owner), repo: dec(repo), workflow: dec(workflow) }
            }
            ("POST", ["repos", owner, repo, "dispatches"]) => Self::RepoDispatch { owner: dec(owner), repo: dec(repo) },
            _ => Self::Unknown,
        }
    }

    /// The OpenAPI path template (the exchange log's `operation`).
    pub(crate) fn operation(&self) -> &'static str {
        match self {
            Self::Graphql => "graphql",
            Self::RateLimit => "/rate_limit",
            Self::Compare { .. } => "/repos/{owner}/{repo}/compare/{basehead}",
            Self::WorkflowDispatch { .. } => "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
            Self::RepoDispatch { .. } => "/repos/{owner}/{repo}/dispatches",
            Self::Unknown => "unknown",
        }
    }

    pub(crate) fn resource(&self) -> Resource {
        if *self == Self::Graphql { Resource::Graphql } else { Resource::Core }
    }

    /// Dispatches are the mutations GitHub's secondary limits ask clients to space out.
    pub(crate) fn is_mutation(&self) -> bool {
        matches!(self, Self::WorkflowDispatch { .. } | Self::RepoDispatch { .. })
    }

    /// Free requests (`/rate_limit` does not count against the budget).
    pub(crate) fn is_free(&self) -> bool {
        *self == Self::RateLimit
    }
}

/// A request as the REST handlers need it.
pub(crate) struct RestRequest<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) body: &'a [u8],
    pub(crate) base_url: &'a str,
}

/// Answers a REST request (authentication, faults and the budget are handled by the caller).
pub(crate) fn handle(st: &mut State, route: &Route, req: &RestRequest<'_>) -> Reply {
    match route {
        Route::RateLimit => rate_limit(st),
        Route::Compare { owner, repo, basehead } => match st.lookup(owner, repo) {
            Lookup::Current(r) => compare(st, r, basehead, req),
            Lookup::Renamed(r) => redirect(r, req),
            Lookup::Missing => Reply::not_found(COMPARE_DOC),
        },
        Route::WorkflowDispatch { owner, repo, workflow } => match st.lookup(owner, repo) {
            Lookup::Current(r) => {
                let key = r.full_name().to_ascii_lowercase();
                workflow_dispatch(st, &key, workflow, req)
            }
            Lookup::Renamed(r) => redirect(r, req),
            Lookup::Missing => Reply::not_found(WORKFLOW_DISPATCH_DOC),
        },
        Route::RepoDispatch { owner, repo } => match st.lookup(owner, repo) {
            Lookup::Current(r) => {
                let key = r.full_name().to_ascii_lowercase();
                repository_dispatch(st, &key, req)
            }
            Lookup::Renamed(r) => redirect(r, req),
            Lookup::Missing => Reply::not_found(REPO_DISPATCH_DOC),
        },
        Route::Graphql | Route::Unknown => Reply::not_found(REST_DOC),
    }
}

/// 301 (GET) or 307 (other methods) to the same path under the repository's new name.
fn redirect(repo: &Repo, req: &RestRequest<'_>) -> Reply {
    let rest: Vec<&str> = req.path.trim_start_matches('/').splitn(4, '/').collect();
    let tail = rest.get(3).map(|t| format!("/{t}")).unwrap_or_default();
    let mut location = format!("{}/repos/{}{tail}", req.base_url, encode_path(&repo.full_name()));
    if !req.query.is_empty() {
        location.push('?');
        location.push_str(req.query);
    }
    let (status, message) = if req.method == "GET" { (301, "Moved Permanently") } else { (307, "Temporary Redirect") };
    Reply::json(
        status,
        json!({
            "message": message,
            "url": location,
            "documentation_url": "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects",
        }),
    )
    .with_header("location", location)
}

fn rate_limit(st: &State) -> Reply {
    let entry = |limit: u32, used: u32, reset: u64| json!({ "limit": limit, "used": used, "remaining": limit.saturating_sub(used), "reset": reset });
    let core = entry(st.core.limit, st.core.used, st.reset_at);
    Reply::json(
        200,
        json!({
            "resources": {
                "core": core,
                "graphql": entry(st.graphql.limit, st.graphql.used, st.reset_at),
                "search": entry(30, 0, st.reset_at),
                "code_search": entry(10, 0, st.reset_at),
                "integration_manifest": entry(5000, 0, st.reset_at),
            },
            "rate": core,
        }),
    )
}

/// Query parameter `name` as a number, when present and numeric.
fn query_number(query: &str, name: &str) -> Option<usize> {
    crate::util::parse_query(query).into_iter().find(|(k, _)| k == name).and_then(|(_, v)| v.parse().ok())
}

fn compare(st: &State, repo: &Repo, basehead: &str, req: &RestRequest<'_>) -> Reply {
    let Some((base_spec, head_spec)) = basehead.split_once("...") else {
        return Reply::not_found(COMPARE_DOC);
    };
    // `owner:branch` names a branch of a fork; only the repository's own owner is known here.
    let own = |s: &'_ str| -> String {
        match s.split_once(':') {
            Some((owner, rest)) if owner.eq_ignore_ascii_case(&repo.owner) => rest.to_owned(),
            _ => s.to_owned(),
        }
    };
    let (Some(base), Some(head)) = (repo.resolve_commit(&own(base_spec)), repo.resolve_commit(&own(head_spec))) else {
        return Reply::not_found(COMPARE_DOC);
    };
    let cmp = if base == head {
        Comparison { files: Vec::new(), ahead_by: 0, behind_by: 0 }
    } else {
        repo.compares.get(&(base.clone(), head.clone())).cloned().unwrap_or_default()
    };
    let status = match (cmp.ahead_by, cmp.behind_by) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };

    let full = repo.full_name();
    let api = format!("{}/repos/{}", req.base_url, encode_path(&full));
    let html = format!("https://github.com/{}", encode_path(&full));
    let merge_base = if cmp.behind_by == 0 { base.clone() } else { sha(&format!("merge-base {base} {head}")) };
    let ahead = usize::try_from(cmp.ahead_by).unwrap_or(usize::MAX);
    // Chronological, the last one is head.
    let all: Vec<String> =
        (1..=ahead).map(|i| if i == ahead { head.clone() } else { sha(&format!("{head}~{}", ahead - i)) }).collect();

    let per_page_param = query_number(req.query, "per_page");
    let page_param = query_number(req.query, "page");
    let paginated = per_page_param.is_some() || page_param.is_some();
    let per_page = per_page_param.unwrap_or(30).clamp(1, 100);
    let page = page_param.unwrap_or(1).max(1);
    let window: &[String] = if paginated {
        let start = (page - 1).saturating_mul(per_page).min(all.len());
        let end = start.saturating_add(per_page).min(all.len());
        &all[start..end]
    } else {
        &all[all.len().saturating_sub(UNPAGINATED_COMMITS)..]
    };
    let date = iso8601(st.started_at);
    let commits: Vec<Value> = window
        .iter()
        .map(|c| {
            let index = all.iter().position(|x| x == c).unwrap_or(0);
            let parent = if index == 0 { merge_base.clone() } else { all[index - 1].clone() };
            commit_json(&api, &html, c, &parent, &date)
        })
        .collect();
    let files: Vec<Value> = if !paginated || page == 1 {
        cmp.files.iter().take(MAX_COMPARE_FILES).map(|f| file_json(&api, &html, &head, f)).collect()
    } else {
        Vec::new()
    };

    let spec_path = format!("{}...{}", encode_path(base_spec), encode_path(head_spec));
    let body = json!({
        "url": format!("{api}/compare/{spec_path}"),
        "html_url": format!("{html}/compare/{spec_path}"),
        "permalink_url": format!("{html}/compare/{}:{base}...{}:{head}", repo.owner, repo.owner),
        "diff_url": format!("{html}/compare/{spec_path}.diff"),
        "patch_url": format!("{html}/compare/{spec_path}.patch"),
        "base_commit": commit_json(&api, &html, &base, &sha(&format!("{base}^")), &date),
        "merge_base_commit": commit_json(&api, &html, &merge_base, &sha(&format!("{merge_base}^")), &date),
        "status": status,
        "ahead_by": cmp.ahead_by,
        "behind_by": cmp.behind_by,
        "total_commits": cmp.ahead_by,
        "commits": commits,
        "files": files,
    });
    let mut reply = Reply::json(200, body);
    if paginated {
        let last = all.len().div_ceil(per_page).max(1);
        let link =
            |p: usize, rel: &str| format!("<{api}/compare/{spec_path}?per_page={per_page}&page={p}>; rel=\"{rel}\"");
        let mut links = Vec::new();
        if page > 1 {
            links.push(link(page - 1, "prev"));
            links.push(link(1, "first"));
        }
        if page < last {
            links.push(link(page + 1, "next"));
            links.push(link(last, "last"));
        }
        if !links.is_empty() {
            reply.set_header("link", links.join(", "));
        }
    }
    reply
}

/// A commit in the compare API's shape (OpenAPI `commit`).
fn commit_json(api: &str, html: &str, oid: &str, parent: &str, date: &str) -> Value {
    let tree = sha(&format!("tree {oid}"));
    let person = json!({ "name": "Fake Committer", "email": "committer@example.com", "date": date });
    json!({
        "url": format!("{api}/commits/{oid}"),
        "sha": oid,
        "node_id": legacy_node_id("06:Commit", oid),
        "html_url": format!("{html}/commit/{oid}"),
        "comments_url": format!("{api}/commits/{oid}/comments"),
        "commit": {
            "url": format!("{api}/git/commits/{oid}"),
            "author": person,
            "committer": person,
            "message": format!("Fake commit {}", &oid[..7.min(oid.len())]),
            "tree": { "sha": tree, "url": format!("{api}/git/trees/{tree}") },
            "comment_count": 0,
            "verification": {
                "verified": false,
                "reason": "unsigned",
                "signature": null,
                "payload": null,
                "verified_at": null,
            },
        },
        "author": null,
        "committer": null,
        "parents": [{
            "sha": parent,
            "url": format!("{api}/commits/{parent}"),
            "html_url": format!("{html}/commit/{parent}"),
        }],
    })
}

/// A changed file in the compare API's shape (OpenAPI `diff-entry`).
fn file_json(api: &str, html: &str, head: &str, file: &crate::model::ChangedFile) -> Value {
    use crate::model::FileStatus;
    let (additions, deletions, patch) = match file.status {
        FileStatus::Added => (1, 0, Some("@@ -0,0 +1 @@\n+new")),
        FileStatus::Removed => (0, 1, Some("@@ -1 +0,0 @@\n-old")),
        FileStatus::Modified => (1, 1, Some("@@ -1 +1 @@\n-old\n+new")),
        FileStatus::Renamed => (0, 0, None),
    };
    let path = encode_path(&file.filename);
    let mut entry = json!({
        "sha": if file.status == FileStatus::Removed { Value::Null } else { json!(sha(&format!("blob {head} {}", file.filename))) },
        "filename": file.filename,
        "status": file.status.as_str(),
        "additions": additions,
        "deletions": deletions,
        "changes": additions + deletions,
        "blob_url": format!("{html}/blob/{head}/{path}"),
        "raw_url": format!("{html}/raw/{head}/{path}"),
        "contents_url": format!("{api}/contents/{path}?ref={head}"),
    });
    if let Value::Object(map) = &mut entry {
        if let Some(patch) = patch {
            map.insert("patch".to_owned(), json!(patch));
        }
        if let Some(previous) = &file.previous_filename {
            map.insert("previous_filename".to_owned(), json!(previous));
        }
    }
    entry
}

/// The request body as a JSON object, or GitHub's 400.
fn json_object(body: &[u8], doc: &str) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Reply::error(422, "Invalid request.\n\nInvalid input: object is expected.", doc)),
        Err(_) => Err(Reply::error(400, "Problems parsing JSON", doc)),
    }
}

/// Ruby's `Array#inspect` of strings, as GitHub's messages show key lists: `["a", "b"]`.
fn inspect(keys: &[&String]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| Value::String((*k).clone()).to_string()).collect();
    format!("[{}]", quoted.join(", "))
}

fn workflow_dispatch(st: &mut State, key: &str, workflow_id: &str, req: &RestRequest<'_>) -> Reply {
    let Some(repo) = st.repos.get(key) else {
        return Reply::not_found(WORKFLOW_DISPATCH_DOC);
    };
    let Some((file, workflow)) = repo.workflow(workflow_id) else {
        return Reply::not_found(WORKFLOW_DISPATCH_DOC);
    };
    let body = match json_object(req.body, WORKFLOW_DISPATCH_DOC) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let invalid = |detail: &str| Reply::error(422, &format!("Invalid request.\n\n{detail}"), WORKFLOW_DISPATCH_DOC);
    let git_ref = match body.get("ref") {
        Some(Value::String(r)) => r.clone(),
        Some(_) => return invalid("For 'properties/ref', it is not a string."),
        None => return invalid("\"ref\" wasn't supplied."),
    };
    let inputs = match body.get("inputs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(inputs)) => inputs.clone(),
        Some(_) => return invalid("For 'properties/inputs', it is not an object."),
    };
    if inputs.len() > 25 {
        return invalid(&format!("For 'properties/inputs', it has {} properties (maximum 25).", inputs.len()));
    }
    let return_details = match body.get("return_run_details") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return invalid("For 'properties/return_run_details', it is not a boolean."),
    };
    let mut unexpected: Vec<&String> = inputs.keys().filter(|k| !workflow.inputs.contains(k)).collect();
    if !unexpected.is_empty() {
        unexpected.sort();
        return Reply::error(
            422,
            &format!("Unexpected inputs provided: {}", inspect(&unexpected)),
            WORKFLOW_DISPATCH_DOC,
        );
    }
    if !repo.has_ref(&git_ref) {
        return Reply::error(422, &format!("No ref found for: {git_ref}"), WORKFLOW_DISPATCH_DOC);
    }

    let file = file.clone();
    let full = repo.full_name();
    // Run ids look like GitHub's (eleven digits).
    let run_id = 10_000_000_000 + st.next_id();
    st.dispatches.push(Dispatch {
        repo: full.clone(),
        target: DispatchTarget::Workflow { workflow: file, run_id },
        body: Value::Object(body),
        at: Instant::now(),
    });
    if return_details && st.dispatch_mode == DispatchMode::RunDetails {
        let path = encode_path(&full);
        Reply::json(
            200,
            json!({
                "workflow_run_id": run_id,
                "run_url": format!("{}/repos/{path}/actions/runs/{run_id}", req.base_url),
                "html_url": format!("https://github.com/{path}/actions/runs/{run_id}"),
            }),
        )
    } else {
        Reply::empty(204)
    }
}

fn repository_dispatch(st: &mut State, key: &str, req: &RestRequest<'_>) -> Reply {
    let Some(repo) = st.repos.get(key) else {
        return Reply::not_found(REPO_DISPATCH_DOC);
    };
    let body = match json_object(req.body, REPO_DISPATCH_DOC) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let invalid = |detail: &str| Reply::error(422, &format!("Invalid request.\n\n{detail}"), REPO_DISPATCH_DOC);
    match body.get("event_type") {
        None | Some(Value::Null) => return invalid("\"event_type\" wasn't supplied."),
        Some(Value::String(s)) if s.is_empty() => {
            return invalid("For 'properties/event_type', \"\" is too short (minimum 1 characters).");
        }
        Some(Value::String(s)) if s.chars().count() > 100 => {
            return invalid("For 'properties/event_type', it is too long (maximum 100 characters).");
        }
        Some(Value::String(_)) => {}
        Some(_) => return invalid("For 'properties/event_type', it is not a string."),
    }
    match body.get("client_payload") {
        None | Some(Value::Null) => {}
        Some(Value::Object(payload)) if payload.len() > 10 => {
            return invalid(&format!(
                "For 'properties/client_payload', it has {} properties (maximum 10).",
                payload.len()
            ));
        }
        Some(payload @ Value::Object(_)) if payload.to_string().len() >= 65_536 => {
            return invalid("For 'properties/client_payload', it is larger than 64 KB.");
        }
        Some(Value::Object(_)) => {}
        Some(_) => return invalid("For 'properties/client_payload', it is not an object."),
    }
    let full = repo.full_name();
    st.dispatches.push(Dispatch {
        repo: full,
        target: DispatchTarget::Repository,
        body: Value::Object(body),
        at: Instant::now(),
    });
    Reply::empty(204)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::parse("POST", "/graphql"), Route::Graphql);
        assert_eq!(Route::parse("GET", "/graphql"), Route::Unknown);
        assert_eq!(Route::parse("GET", "/rate_limit"), Route::RateLimit);
        assert_eq!(
            Route::parse("GET", "/repos/octo/api/compare/release/1.0...feature%2Fx"),
            Route::Compare { owner: "octo".into(), repo: "api".into(), basehead: "release/1.0...feature/x".into() }
        );
        assert_eq!(
            Route::parse("POST", "/repos/octo/api/actions/workflows/deploy.yml/dispatches"),
            Route::WorkflowDispatch { owner: "octo".into(), repo: "api".into(), workflow: "deploy.yml".into() }
        );
        assert_eq!(
            Route::parse("POST", "/repos/octo/api/dispatches"),
            Route::RepoDispatch { owner: "octo".into(), repo: "api".into() }
        );
        assert_eq!(Route::parse("GET", "/repos/octo/api/dispatches"), Route::Unknown);
        assert_eq!(Route::parse("GET", "/repos/octo/api/compare/"), Route::Unknown);
    }

    #[test]
    fn inspect_quotes_like_ruby() {
        let (a, b) = ("x".to_owned(), "y\"z".to_owned());
        assert_eq!(inspect(&[&a, &b]), r#"["x", "y\"z"]"#);
    }
}
