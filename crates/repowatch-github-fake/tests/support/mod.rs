//! Helpers shared by the integration tests: a reqwest client for the fake and the contract check.

#![allow(dead_code)]

use std::path::PathBuf;

use repowatch_github_fake::{ContractOutcome, FakeGithub, FakeOptions};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub const TOKEN: &str = "ghp_test";

pub async fn start() -> FakeGithub {
    FakeGithub::start(FakeOptions { token: TOKEN.into(), ..Default::default() }).await.unwrap()
}

/// A response: status, headers, JSON body (null when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn header_u64(&self, name: &str) -> u64 {
        self.header(name).unwrap_or_else(|| panic!("no {name} header")).parse().unwrap()
    }
}

/// A client of the fake (no redirects followed, so tests see them).
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub auth: Option<String>,
}

impl Client {
    pub fn new(fake: &FakeGithub) -> Self {
        Self {
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            base: fake.url().to_owned(),
            auth: Some(format!("Bearer {TOKEN}")),
        }
    }

    pub fn with_auth(&self, auth: Option<&str>) -> Self {
        Self { auth: auth.map(str::to_owned), ..self.clone() }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let request = match &self.auth {
            Some(a) => request.header("authorization", a),
            None => request,
        };
        let response = request.header("user-agent", "repowatch-tests").send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) };
        Resp { status, headers, body, text }
    }

    pub async fn graphql(&self, query: &str) -> Resp {
        self.graphql_with(json!({ "query": query })).await
    }

    pub async fn graphql_with(&self, body: Value) -> Resp {
        self.send(self.http.post(format!("{}/graphql", self.base)).json(&body)).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body)).await
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> Resp {
        self.send(self.http.post(format!("{}{path}", self.base)).header("content-type", "application/json").body(body))
            .await
    }
}

/// Where a test writes its exchange log.
pub fn log_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("github-fake-{name}-{}.jsonl", std::process::id()))
}

/// Writes the fake's exchanges and runs the contract checker on them: they must all match GitHub's descriptions.
/// Without node or the npm packages this prints "skipped: ..." (REPOWATCH_REQUIRE_NODE=1 makes it fail).
pub fn assert_contract(fake: &FakeGithub, name: &str) {
    let path = log_path(name);
    match fake.check_exchanges(&path).unwrap() {
        ContractOutcome::Passed(out) => {
            assert!(out.contains("; 0 problems"), "{out}");
            eprintln!("{name}: {}", out.trim());
        }
        ContractOutcome::Skipped(reason) => eprintln!("skipped: {reason}"),
        ContractOutcome::Failed(out) => panic!("{name}: the fake drifted from GitHub's descriptions:\n{out}"),
    }
}

/// A GraphQL string literal.
pub fn lit(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// The detection selection of the brief, for one repository under an alias.
pub fn detect_selection(alias: &str, full: &str) -> String {
    let (owner, name) = full.split_once('/').unwrap();
    format!(
        r#"{alias}: repository(owner: {owner}, name: {name}) {{
    nameWithOwner
    defaultBranchRef {{ name target {{ oid }} }}
    b0: ref(qualifiedName: "refs/heads/main") {{ name target {{ oid }} }}
    bq0: refs(refPrefix: "refs/heads/", query: "release/", first: 100) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ name target {{ oid }} }} }}
    tags: refs(refPrefix: "refs/tags/", first: 20, orderBy: {{field: TAG_COMMIT_DATE, direction: DESC}}) {{ nodes {{ name target {{ __typename oid ... on Tag {{ target {{ oid }} }} }} }} }}
    releases(first: 10, orderBy: {{field: CREATED_AT, direction: DESC}}) {{ nodes {{ tagName isDraft tagCommit {{ oid }} }} }}
  }}"#,
        owner = lit(owner),
        name = lit(name),
    )
}

/// `query Detect { rateLimit {...} r0: ... r1: ... }` over these repositories.
pub fn detect_query(repos: &[&str]) -> String {
    let mut q = String::from("query Detect {\n  rateLimit { cost remaining resetAt limit }\n");
    for (i, full) in repos.iter().enumerate() {
        q.push_str("  ");
        q.push_str(&detect_selection(&format!("r{i}"), full));
        q.push('\n');
    }
    q.push('}');
    q
}
