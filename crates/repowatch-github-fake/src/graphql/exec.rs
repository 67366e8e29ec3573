//! Execution: resolves a validated operation over the in-memory repositories, with GraphQL's null propagation (a
//! null in a non-null position nulls the nearest nullable parent) and GitHub's error shapes.

use graphql_parser::query::SelectionSet;
use serde_json::{Map, Value, json};

use super::schema::{self, TypeRef};
use super::{Parsed, collect_fields, error, field_args};
use crate::state::{Lookup, ReleaseRec, Repo, State, TagRec};
use crate::util::{cursor, decode_cursor, iso8601, node_id};

/// What `rateLimit` reports for this query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateInfo {
    pub(crate) cost: u32,
    pub(crate) node_count: u64,
    pub(crate) limit: u32,
    pub(crate) used: u32,
    pub(crate) remaining: u32,
    pub(crate) reset_at: u64,
}

/// The object a ref points at.
#[derive(Debug, Clone)]
enum Target {
    Commit(String),
    /// An annotated tag object and the commit it tags.
    Tag {
        oid: String,
        name: String,
        commit: String,
    },
}

#[derive(Debug, Clone)]
struct RefView<'s> {
    repo: &'s Repo,
    prefix: String,
    name: String,
    target: Target,
    seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnKind {
    Ref,
    Release,
}

/// A resolved object.
#[derive(Debug, Clone)]
enum Node<'s> {
    Query,
    RateLimit,
    Repository(&'s Repo),
    Owner(&'s Repo),
    Ref(RefView<'s>),
    Commit(String),
    Tag { oid: String, name: String, commit: String },
    Release(&'s Repo, &'s ReleaseRec),
    Connection { kind: ConnKind, items: Vec<(Node<'s>, String)>, total: usize, has_next: bool, has_prev: bool },
    Edge { kind: ConnKind, node: Box<Node<'s>>, cursor: String },
    PageInfo { start: Option<String>, end: Option<String>, has_next: bool, has_prev: bool },
}

impl Node<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Self::Query => "Query",
            Self::RateLimit => "RateLimit",
            Self::Repository(_) => "Repository",
            Self::Owner(_) => "Organization",
            Self::Ref(_) => "Ref",
            Self::Commit(_) => "Commit",
            Self::Tag { .. } => "Tag",
            Self::Release(..) => "Release",
            Self::Connection { kind: ConnKind::Ref, .. } => "RefConnection",
            Self::Connection { kind: ConnKind::Release, .. } => "ReleaseConnection",
            Self::Edge { kind: ConnKind::Ref, .. } => "RefEdge",
            Self::Edge { kind: ConnKind::Release, .. } => "ReleaseEdge",
            Self::PageInfo { .. } => "PageInfo",
        }
    }
}

/// A resolver's result before completion.
enum Out<'s> {
    Null,
    Leaf(Value),
    Object(Node<'s>),
    List(Vec<Node<'s>>),
}

/// A resolver's error: GitHub's `type` and message.
struct FieldError {
    kind: Option<&'static str>,
    message: String,
}

struct Exec<'q, 'p, 's> {
    parsed: &'p Parsed<'q>,
    st: &'s State,
    rate: RateInfo,
    errors: Vec<Value>,
}

/// Runs the operation: `data` (null when a non-null error propagated to the root) and the errors.
pub(crate) fn execute(st: &State, parsed: &Parsed<'_>, rate: RateInfo) -> (Value, Vec<Value>) {
    let mut exec = Exec { parsed, st, rate, errors: Vec::new() };
    let data = match exec.object(&Node::Query, &[parsed.selection], &mut Vec::new()) {
        Ok(map) => Value::Object(map),
        Err(()) => Value::Null,
    };
    (data, exec.errors)
}

impl<'q, 's> Exec<'q, '_, 's> {
    /// The selected fields of an object; `Err` when a non-null field came out null.
    fn object(
        &mut self,
        node: &Node<'s>,
        sets: &[&'q SelectionSet<'q, &'q str>],
        path: &mut Vec<Value>,
    ) -> Result<Map<String, Value>, ()> {
        let runtime = node.type_name();
        let mut out = Map::new();
        let mut failed = false;
        for (key, fields) in collect_fields(self.parsed, runtime, sets) {
            let Some(first) = fields.first() else { continue };
            if first.name == "__typename" {
                out.insert(key.to_owned(), json!(runtime));
                continue;
            }
            let Some(def) = schema::field(runtime, first.name) else {
                // Validation only lets through fields of the static type; a field of another possible type is
                // simply not selected here.
                continue;
            };
            path.push(json!(key));
            let args = field_args(first, &self.parsed.vars);
            let resolved = match self.resolve(node, first.name, &args) {
                Ok(out) => out,
                Err(e) => {
                    self.errors.push(error(e.message, Some(path.clone()), Some(first.position), e.kind, None));
                    Out::Null
                }
            };
            let sub: Vec<&'q SelectionSet<'q, &'q str>> = fields.iter().map(|f| &f.selection_set).collect();
            match self.complete(def.ty, resolved, &sub, path) {
                Ok(value) => {
                    out.insert(key.to_owned(), value);
                }
                Err(()) => failed = true,
            }
            path.pop();
        }
        if failed { Err(()) } else { Ok(out) }
    }

    /// Completes a resolved value for its type; `Err` when it is null in a non-null position.
    fn complete(
        &mut self,
        ty: TypeRef,
        out: Out<'s>,
        sets: &[&'q SelectionSet<'q, &'q str>],
        path: &mut Vec<Value>,
    ) -> Result<Value, ()> {
        let value = match out {
            Out::Null => None,
            Out::Leaf(v) => Some(v),
            Out::Object(node) => self.object(&node, sets, path).ok().map(Value::Object),
            Out::List(nodes) => {
                let item_non_null = ty.list == Some(true);
                let mut items = Vec::with_capacity(nodes.len());
                let mut failed = false;
                for (i, node) in nodes.iter().enumerate() {
                    path.push(json!(i));
                    match self.object(node, sets, path) {
                        Ok(map) => items.push(Value::Object(map)),
                        Err(()) if item_non_null => failed = true,
                        Err(()) => items.push(Value::Null),
                    }
                    path.pop();
                }
                (!failed).then_some(Value::Array(items))
            }
        };
        match value {
            Some(v) if !v.is_null() => Ok(v),
            _ if ty.non_null => Err(()),
            _ => Ok(Value::Null),
        }
    }

    fn resolve(&self, node: &Node<'s>, field: &str, args: &Map<String, Value>) -> Result<Out<'s>, FieldError> {
        let leaf = |v: Value| Ok(Out::Leaf(v));
        let st = self.st;
        match node {
            Node::Query => match field {
                "rateLimit" => Ok(Out::Object(Node::RateLimit)),
                "repository" => {
                    let owner = arg_str(args, "owner").unwrap_or_default();
                    let name = arg_str(args, "name").unwrap_or_default();
                    let follow = args.get("followRenames").and_then(Value::as_bool).unwrap_or(true);
                    match st.lookup(owner, name) {
                        Lookup::Current(repo) => Ok(Out::Object(Node::Repository(repo))),
                        Lookup::Renamed(repo) if follow => Ok(Out::Object(Node::Repository(repo))),
                        _ => Err(FieldError {
                            kind: Some("NOT_FOUND"),
                            message: format!("Could not resolve to a Repository with the name '{owner}/{name}'."),
                        }),
                    }
                }
                _ => Ok(Out::Null),
            },
            Node::RateLimit => {
                let r = self.rate;
                match field {
                    "cost" => leaf(json!(r.cost)),
                    "limit" => leaf(json!(r.limit)),
                    "nodeCount" => leaf(json!(r.node_count)),
                    "remaining" => leaf(json!(r.remaining)),
                    "resetAt" => leaf(json!(iso8601(r.reset_at))),
                    "used" => leaf(json!(r.used)),
                    _ => Ok(Out::Null),
                }
            }
            Node::Repository(repo) => self.repository(repo, field, args),
            Node::Owner(repo) => match field {
                "id" => leaf(json!(node_id("O", &repo.owner.to_ascii_lowercase()))),
                "login" => leaf(json!(repo.owner)),
                "url" => leaf(json!(format!("https://github.com/{}", repo.owner))),
                _ => Ok(Out::Null),
            },
            Node::Ref(view) => match field {
                "id" => leaf(json!(node_id("REF", &format!("{}:{}{}", view.repo.id, view.prefix, view.name)))),
                "name" => leaf(json!(view.name)),
                "prefix" => leaf(json!(view.prefix)),
                "target" => Ok(Out::Object(match &view.target {
                    Target::Commit(oid) => Node::Commit(oid.clone()),
                    Target::Tag { oid, name, commit } => {
                        Node::Tag { oid: oid.clone(), name: name.clone(), commit: commit.clone() }
                    }
                })),
                _ => Ok(Out::Null),
            },
            Node::Commit(oid) => git_object(field, "C", oid),
            Node::Tag { oid, name, commit } => match field {
                "name" => leaf(json!(name)),
                "target" => Ok(Out::Object(Node::Commit(commit.clone()))),
                _ => git_object(field, "TAG", oid),
            },
            Node::Release(repo, release) => match field {
                "id" => leaf(json!(node_id("RE", &format!("{}:{}", repo.id, release.tag_name)))),
                "name" => leaf(release.name.as_ref().map_or(Value::Null, |n| json!(n))),
                "tagName" => leaf(json!(release.tag_name)),
                "isDraft" => leaf(json!(release.draft)),
                "isPrerelease" => leaf(json!(release.prerelease)),
                "createdAt" => leaf(json!(iso8601(release.created_at))),
                "tagCommit" => Ok(match repo.tags.get(&release.tag_name) {
                    Some(tag) => Out::Object(Node::Commit(tag.commit.clone())),
                    None => Out::Null,
                }),
                _ => Ok(Out::Null),
            },
            Node::Connection { kind, items, total, has_next, has_prev } => match field {
                "nodes" => Ok(Out::List(items.iter().map(|(n, _)| n.clone()).collect())),
                "edges" => Ok(Out::List(
                    items
                        .iter()
                        .map(|(n, c)| Node::Edge { kind: *kind, node: Box::new(n.clone()), cursor: c.clone() })
                        .collect(),
                )),
                "totalCount" => leaf(json!(total)),
                "pageInfo" => Ok(Out::Object(Node::PageInfo {
                    start: items.first().map(|(_, c)| c.clone()),
                    end: items.last().map(|(_, c)| c.clone()),
                    has_next: *has_next,
                    has_prev: *has_prev,
                })),
                _ => Ok(Out::Null),
            },
            Node::Edge { node, cursor, .. } => match field {
                "node" => Ok(Out::Object((**node).clone())),
                "cursor" => leaf(json!(cursor)),
                _ => Ok(Out::Null),
            },
            Node::PageInfo { start, end, has_next, has_prev } => match field {
                "startCursor" => leaf(json!(start)),
                "endCursor" => leaf(json!(end)),
                "hasNextPage" => leaf(json!(has_next)),
                "hasPreviousPage" => leaf(json!(has_prev)),
                _ => Ok(Out::Null),
            },
        }
    }

    fn repository(&self, repo: &'s Repo, field: &str, args: &Map<String, Value>) -> Result<Out<'s>, FieldError> {
        let leaf = |v: Value| Ok(Out::Leaf(v));
        match field {
            "id" => leaf(json!(node_id("R", &repo.id.to_string()))),
            "name" => leaf(json!(repo.name)),
            "nameWithOwner" => leaf(json!(repo.full_name())),
            "owner" => Ok(Out::Object(Node::Owner(repo))),
            "url" => leaf(json!(format!("https://github.com/{}", repo.full_name()))),
            "isArchived" => leaf(json!(repo.archived)),
            "isDisabled" => leaf(json!(repo.disabled)),
            "isPrivate" => leaf(json!(repo.private)),
            "defaultBranchRef" => Ok(ref_view(repo, &format!("refs/heads/{}", repo.default_branch))
                .map_or(Out::Null, |v| Out::Object(Node::Ref(v)))),
            "ref" => {
                let qualified = arg_str(args, "qualifiedName").unwrap_or_default();
                let view = if qualified.starts_with("refs/") {
                    ref_view(repo, qualified)
                } else {
                    ref_view(repo, &format!("refs/heads/{qualified}"))
                        .or_else(|| ref_view(repo, &format!("refs/tags/{qualified}")))
                };
                Ok(view.map_or(Out::Null, |v| Out::Object(Node::Ref(v))))
            }
            "refs" => {
                let prefix = arg_str(args, "refPrefix").unwrap_or_default();
                let query = arg_str(args, "query");
                let mut refs: Vec<RefView<'s>> = all_refs(repo)
                    .into_iter()
                    .filter_map(|(qualified, target, seq)| {
                        let name = qualified.strip_prefix(prefix).filter(|n| !n.is_empty())?;
                        Some(RefView { repo, prefix: prefix.to_owned(), name: name.to_owned(), target, seq })
                    })
                    .filter(|v| query.is_none_or(|q| v.name.contains(q)))
                    .collect();
                let order = args.get("orderBy");
                let field = order.and_then(|o| o.get("field")).and_then(Value::as_str).unwrap_or("ALPHABETICAL");
                let direction = order
                    .and_then(|o| o.get("direction"))
                    .or_else(|| args.get("direction"))
                    .and_then(Value::as_str)
                    .unwrap_or("ASC");
                if field == "TAG_COMMIT_DATE" {
                    refs.sort_by(|a, b| a.seq.cmp(&b.seq).then_with(|| a.name.cmp(&b.name)));
                } else {
                    refs.sort_by(|a, b| a.name.cmp(&b.name));
                }
                if direction == "DESC" {
                    refs.reverse();
                }
                let nodes = refs.into_iter().map(Node::Ref).collect();
                paginate(ConnKind::Ref, nodes, args)
            }
            "releases" => {
                let mut releases: Vec<&'s ReleaseRec> = repo.releases.iter().collect();
                let order = args.get("orderBy");
                let field = order.and_then(|o| o.get("field")).and_then(Value::as_str).unwrap_or("CREATED_AT");
                let direction = order.and_then(|o| o.get("direction")).and_then(Value::as_str).unwrap_or("DESC");
                if field == "NAME" {
                    releases.sort_by(|a, b| display_name(a).cmp(display_name(b)));
                } else {
                    releases.sort_by_key(|r| r.seq);
                }
                if direction == "DESC" {
                    releases.reverse();
                }
                let nodes = releases.into_iter().map(|r| Node::Release(repo, r)).collect();
                paginate(ConnKind::Release, nodes, args)
            }
            _ => Ok(Out::Null),
        }
    }
}

fn display_name(release: &ReleaseRec) -> &str {
    release.name.as_deref().unwrap_or(&release.tag_name)
}

fn git_object<'s>(field: &str, prefix: &str, oid: &str) -> Result<Out<'s>, FieldError> {
    Ok(match field {
        "id" => Out::Leaf(json!(node_id(prefix, oid))),
        "oid" => Out::Leaf(json!(oid)),
        "abbreviatedOid" => Out::Leaf(json!(&oid[..7.min(oid.len())])),
        _ => Out::Null,
    })
}

fn arg_str<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name).and_then(Value::as_str)
}

fn tag_target(name: &str, tag: &TagRec) -> Target {
    match &tag.tag_object {
        Some(oid) => Target::Tag { oid: oid.clone(), name: name.to_owned(), commit: tag.commit.clone() },
        None => Target::Commit(tag.commit.clone()),
    }
}

/// Every ref of a repository: (qualified name, target, sequence number).
fn all_refs(repo: &Repo) -> Vec<(String, Target, u64)> {
    let branches =
        repo.branches.iter().map(|(name, b)| (format!("refs/heads/{name}"), Target::Commit(b.oid.clone()), b.seq));
    let tags = repo.tags.iter().map(|(name, t)| (format!("refs/tags/{name}"), tag_target(name, t), t.seq));
    branches.chain(tags).collect()
}

/// A ref by its qualified name (`refs/heads/main`).
fn ref_view<'s>(repo: &'s Repo, qualified: &str) -> Option<RefView<'s>> {
    let view = |prefix: &str, name: &str, target: Target, seq: u64| RefView {
        repo,
        prefix: prefix.to_owned(),
        name: name.to_owned(),
        target,
        seq,
    };
    if let Some(name) = qualified.strip_prefix("refs/heads/") {
        let branch = repo.branches.get(name)?;
        return Some(view("refs/heads/", name, Target::Commit(branch.oid.clone()), branch.seq));
    }
    let name = qualified.strip_prefix("refs/tags/")?;
    let tag = repo.tags.get(name)?;
    Some(view("refs/tags/", name, tag_target(name, tag), tag.seq))
}

/// Cursor pagination (`after`/`before`, then `first`/`last`; bounds were checked by the analysis).
fn paginate<'s>(kind: ConnKind, nodes: Vec<Node<'s>>, args: &Map<String, Value>) -> Result<Out<'s>, FieldError> {
    let total = nodes.len();
    let position = |name: &str| -> Result<Option<usize>, FieldError> {
        match args.get(name).and_then(Value::as_str) {
            None => Ok(None),
            Some(c) => decode_cursor(c).map(Some).ok_or_else(|| FieldError {
                kind: Some("INVALID_CURSOR_ARGUMENTS"),
                message: format!("`{c}` does not appear to be a valid cursor."),
            }),
        }
    };
    // Items are 1-based positions; [lo, hi) are 0-based indexes.
    let mut lo = position("after")?.unwrap_or(0).min(total);
    let mut hi = position("before")?.map_or(total, |b| b.saturating_sub(1)).min(total).max(lo);
    let bound = |name: &str| args.get(name).and_then(Value::as_u64).and_then(|n| usize::try_from(n).ok());
    if let Some(first) = bound("first") {
        hi = hi.min(lo.saturating_add(first));
    }
    if let Some(last) = bound("last") {
        lo = lo.max(hi.saturating_sub(last));
    }
    let items: Vec<(Node<'s>, String)> =
        nodes.into_iter().enumerate().skip(lo).take(hi - lo).map(|(i, n)| (n, cursor(i + 1))).collect();
    Ok(Out::Object(Node::Connection { kind, items, total, has_next: hi < total, has_prev: lo > 0 }))
}
