//! One HTTP client per process for the GitHub API, with GitHub's rules built
//! in: at most 4 requests in flight, mutating requests one at a time and
//! ≥ 1 s apart, and rate limits honoured (`retry-after`, then
//! `x-ratelimit-reset`, else ≥ 60 s with exponential backoff). The remaining
//! budget is tracked from every answer for the run summary.
//!
//! The token never leaves this module except in the `Authorization` header,
//! which is marked sensitive; errors carry GitHub's message and the path,
//! never the token or a full URL with a query.

use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use repowatch_core::secret::SecretString;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Tunables; [`ClientOptions::new`] gives GitHub's documented values.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// REST base, e.g. `https://api.github.com` or `https://ghe.example.com/api/v3`.
    pub api_url: String,
    /// Per-request timeout (a GraphQL query over 10 s fails on GitHub's side anyway).
    pub timeout: Duration,
    /// Requests in flight at once.
    pub max_in_flight: usize,
    /// Gap between mutating requests (dispatches).
    pub mutation_spacing: Duration,
    /// Wait after a rate-limit answer that says nothing about how long.
    pub min_limit_wait: Duration,
    /// Longest single wait on a rate limit; beyond it the request fails (and
    /// the datasource or build is retried by the next run or receive).
    pub max_wait: Duration,
    /// Rate-limit retries of one request.
    pub max_retries: u32,
    pub user_agent: String,
}

impl ClientOptions {
    pub fn new(api_url: impl Into<String>) -> Self {
        Self {
            api_url: api_url.into().trim_end_matches('/').to_owned(),
            timeout: Duration::from_secs(30),
            max_in_flight: 4,
            mutation_spacing: Duration::from_secs(1),
            min_limit_wait: Duration::from_secs(60),
            max_wait: Duration::from_secs(15 * 60),
            max_retries: 5,
            user_agent: format!("repowatch/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// GraphQL endpoint for this API: `{api}/graphql`, or `/api/graphql`
    /// on GitHub Enterprise Server (whose REST base ends in `/api/v3`).
    pub fn graphql_url(&self) -> String {
        match self.api_url.strip_suffix("/api/v3") {
            Some(host) => format!("{host}/api/graphql"),
            None => format!("{}/graphql", self.api_url),
        }
    }
}

/// Why a GitHub request failed. Messages name the request, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GithubError {
    #[error("{what}: no answer within {timeout:?}")]
    Timeout { what: String, timeout: Duration },
    #[error("{what}: {message}")]
    Transport { what: String, message: String },
    #[error("{what}: rate limited by GitHub; next try in {wait:?} at the earliest (longer than this client waits)")]
    RateLimited { what: String, wait: Duration },
    #[error("{what}: GitHub answered {status}: {message}")]
    Status { what: String, status: u16, message: String },
    #[error("{what}: unexpected answer: {message}")]
    Decode { what: String, message: String },
}

impl GithubError {
    /// 502/504 or a timeout: the query was too big or GitHub was slow; a smaller one may pass.
    pub fn is_overload(&self) -> bool {
        matches!(self, GithubError::Timeout { .. } | GithubError::Status { status: 502 | 504, .. })
    }
}

/// One rate-limit bucket as GitHub last reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub limit: u64,
    pub remaining: u64,
    pub reset: Timestamp,
}

/// What this process spent and what is left, for the metrics and the run summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// The `graphql` bucket (points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphql: Option<Bucket>,
    /// The `core` bucket (REST requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core: Option<Bucket>,
    pub graphql_requests: u64,
    pub rest_requests: u64,
    /// Sum of `rateLimit.cost` over the GraphQL queries.
    pub graphql_points: u64,
    /// Rate-limit answers waited out.
    pub limited: u64,
}

/// A successful answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json<T: for<'de> Deserialize<'de>>(&self, what: &str) -> Result<T, GithubError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| GithubError::Decode { what: what.to_owned(), message: e.to_string() })
    }
}

/// The GitHub API client.
pub struct GithubClient {
    http: reqwest::Client,
    options: ClientOptions,
    graphql_url: String,
    auth: HeaderValue,
    in_flight: Semaphore,
    /// When the last mutating request was sent; held across the request so mutations are serial.
    last_mutation: tokio::sync::Mutex<Option<Instant>>,
    budget: Mutex<Budget>,
}

impl std::fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubClient").field("api_url", &self.options.api_url).finish_non_exhaustive()
    }
}

/// Builds the one reqwest client of a process (rustls, webpki roots).
pub fn http_client(user_agent: &str, timeout: Duration) -> Result<reqwest::Client, GithubError> {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| GithubError::Transport {
            what: "building the HTTP client".into(),
            message: e.without_url().to_string(),
        })
}

impl GithubClient {
    pub fn new(token: &SecretString, options: ClientOptions) -> Result<Self, GithubError> {
        let http = http_client(&options.user_agent, options.timeout)?;
        Self::with_http(http, token, options)
    }

    /// Shares an existing reqwest client (one per process).
    pub fn with_http(http: reqwest::Client, token: &SecretString, options: ClientOptions) -> Result<Self, GithubError> {
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| GithubError::Decode {
                what: "github.token".into(),
                message: "the token has characters a header cannot carry; check the secret's value".into(),
            })?;
        auth.set_sensitive(true);
        Ok(Self {
            http,
            graphql_url: options.graphql_url(),
            in_flight: Semaphore::new(options.max_in_flight.max(1)),
            last_mutation: tokio::sync::Mutex::new(None),
            budget: Mutex::new(Budget::default()),
            auth,
            options,
        })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// What was spent and what is left so far.
    pub fn budget(&self) -> Budget {
        self.budget.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// A GraphQL query. An answer whose `errors[]` says RATE_LIMITED is waited
    /// out like an HTTP rate limit; other errors are the caller's to read.
    pub async fn graphql(&self, what: &str, query: &str) -> Result<GraphqlResponse, GithubError> {
        let body = serde_json::json!({ "query": query });
        let mut attempt = 0;
        loop {
            let answer = self.send(Method::POST, &self.graphql_url, what, Some(&body), false).await?;
            let response: GraphqlResponse = answer.json(what)?;
            if let Some(Value::Object(rate)) = response.data.as_ref().and_then(|d| d.get("rateLimit")) {
                self.note_graphql_cost(rate);
            }
            let limited = response.errors.iter().any(|e| e.kind.as_deref() == Some("RATE_LIMITED"));
            if limited && response.data.as_ref().is_none_or(Value::is_null) {
                let wait = self.backoff(attempt, None);
                attempt += 1;
                self.wait_out(what, wait, attempt).await?;
                continue;
            }
            return Ok(response);
        }
    }

    /// A REST request; `path` is relative to the API base (`/repos/o/r/...`).
    pub async fn rest(
        &self,
        method: Method,
        path: &str,
        what: &str,
        body: Option<&Value>,
    ) -> Result<Answer, GithubError> {
        let mutating = method != Method::GET && method != Method::HEAD;
        let url = format!("{}{path}", self.options.api_url);
        self.send(method, &url, what, body, mutating).await
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        what: &str,
        body: Option<&Value>,
        mutating: bool,
    ) -> Result<Answer, GithubError> {
        let mut attempt = 0u32;
        loop {
            let outcome = {
                let _permit = self.in_flight.acquire().await.map_err(|_| GithubError::Transport {
                    what: what.to_owned(),
                    message: "the client is shutting down".into(),
                })?;
                // Held across the request: mutations are serial and spaced.
                let mut last = if mutating { Some(self.last_mutation.lock().await) } else { None };
                if let Some(Some(at)) = last.as_deref() {
                    tokio::time::sleep_until(*at + self.options.mutation_spacing).await;
                }
                let result = self.once(method.clone(), url, what, body).await;
                if let Some(last) = last.as_deref_mut() {
                    *last = Some(Instant::now());
                }
                result
            };
            let (status, headers, bytes) = outcome?;
            if url == self.graphql_url {
                self.count(|b| b.graphql_requests += 1);
            } else {
                self.count(|b| b.rest_requests += 1);
            }
            self.note_headers(&headers);
            if let Some(wait) = rate_limit_wait(status, &headers, &bytes) {
                let wait = self.backoff(attempt, wait);
                attempt += 1;
                self.wait_out(what, wait, attempt).await?;
                continue;
            }
            if status.is_success() || status == StatusCode::NOT_MODIFIED {
                return Ok(Answer { status, body: bytes });
            }
            return Err(GithubError::Status {
                what: what.to_owned(),
                status: status.as_u16(),
                message: message_of(&bytes),
            });
        }
    }

    async fn once(
        &self,
        method: Method,
        url: &str,
        what: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), GithubError> {
        let mut request = self
            .http
            .request(method, url)
            .header(header::AUTHORIZATION, self.auth.clone())
            .header(header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28");
        if let Some(body) = body {
            request = request.json(body);
        }
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                GithubError::Timeout { what: what.to_owned(), timeout: self.options.timeout }
            } else {
                GithubError::Transport { what: what.to_owned(), message: error_chain(&e.without_url()) }
            }
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(transport)?.to_vec();
        Ok((status, headers, bytes))
    }

    /// `hinted` from the headers, else ≥ `min_limit_wait` doubling per attempt.
    fn backoff(&self, attempt: u32, hinted: Option<Duration>) -> Duration {
        hinted.unwrap_or_else(|| self.options.min_limit_wait.saturating_mul(2u32.saturating_pow(attempt.min(16))))
    }

    async fn wait_out(&self, what: &str, wait: Duration, attempt: u32) -> Result<(), GithubError> {
        if wait > self.options.max_wait || attempt > self.options.max_retries {
            return Err(GithubError::RateLimited { what: what.to_owned(), wait });
        }
        self.count(|b| b.limited += 1);
        tracing::warn!(request = what, wait_ms = wait.as_millis() as u64, attempt, "GitHub rate limit: waiting");
        tokio::time::sleep(wait).await;
        Ok(())
    }

    fn count(&self, f: impl FnOnce(&mut Budget)) {
        if let Ok(mut b) = self.budget.lock() {
            f(&mut b);
        }
    }

    fn note_headers(&self, headers: &HeaderMap) {
        let num =
            |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        let (Some(limit), Some(remaining), Some(reset)) =
            (num("x-ratelimit-limit"), num("x-ratelimit-remaining"), num("x-ratelimit-reset"))
        else {
            return;
        };
        let Ok(reset) = Timestamp::from_second(i64::try_from(reset).unwrap_or(i64::MAX)) else { return };
        let bucket = Bucket { limit, remaining, reset };
        let resource = headers.get("x-ratelimit-resource").and_then(|v| v.to_str().ok()).unwrap_or("core");
        self.count(|b| match resource {
            "graphql" => b.graphql = Some(bucket),
            "core" => b.core = Some(bucket),
            _ => {}
        });
    }

    fn note_graphql_cost(&self, rate: &serde_json::Map<String, Value>) {
        let cost = rate.get("cost").and_then(Value::as_u64).unwrap_or(0);
        let remaining = rate.get("remaining").and_then(Value::as_u64);
        let limit = rate.get("limit").and_then(Value::as_u64);
        let reset = rate.get("resetAt").and_then(Value::as_str).and_then(|s| s.parse::<Timestamp>().ok());
        self.count(|b| {
            b.graphql_points += cost;
            if let (Some(remaining), Some(reset)) = (remaining, reset) {
                let limit = limit.or(b.graphql.map(|g| g.limit)).unwrap_or(5000);
                b.graphql = Some(Bucket { limit, remaining, reset });
            }
        });
    }
}

/// A GraphQL answer: `data` and `errors`, either may be present.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GraphqlResponse {
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default)]
    pub errors: Vec<GraphqlError>,
}

/// One entry of `errors[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphqlError {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub path: Vec<Value>,
}

/// How long a 403/429 asks us to wait: `Some(None)` when it is a rate limit
/// that names no time, `None` when the answer is not a rate limit at all (a
/// 403 for missing permissions stays an error).
fn rate_limit_wait(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<Option<Duration>> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(secs) = text("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Some(Duration::from_secs(secs)));
    }
    if text("x-ratelimit-remaining") == Some("0") {
        if let Some(reset) = text("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok()) {
            let now = Timestamp::now().as_second();
            // One second past the reset: GitHub's clock and ours differ a little.
            return Some(Some(Duration::from_secs(u64::try_from(reset - now).unwrap_or(0) + 1)));
        }
        return Some(None);
    }
    if status == StatusCode::TOO_MANY_REQUESTS || message_of(body).to_ascii_lowercase().contains("rate limit") {
        return Some(None);
    }
    None
}

/// GitHub's `message` from an error body, or a short excerpt.
fn message_of(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Body {
        message: String,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(b) => b.message,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let excerpt: String = text.chars().take(200).collect();
            if excerpt.trim().is_empty() { "(empty body)".to_owned() } else { excerpt }
        }
    }
}

/// An error and its causes on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn defaults_are_githubs_rules() {
        let o = ClientOptions::new("https://api.github.com/");
        assert_eq!(o.max_in_flight, 4);
        assert_eq!(o.mutation_spacing, Duration::from_secs(1));
        assert!(o.min_limit_wait >= Duration::from_secs(60));
        assert_eq!(o.graphql_url(), "https://api.github.com/graphql");
        assert_eq!(
            ClientOptions::new("https://ghe.example.com/api/v3").graphql_url(),
            "https://ghe.example.com/api/graphql"
        );
    }

    #[test]
    fn rate_limit_headers_in_githubs_order() {
        let forbidden = StatusCode::FORBIDDEN;
        // retry-after wins over everything.
        let h = headers(&[("retry-after", "7"), ("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1")]);
        assert_eq!(rate_limit_wait(forbidden, &h, b""), Some(Some(Duration::from_secs(7))));
        // Then the reset time, when the budget is spent.
        let reset = (Timestamp::now().as_second() + 30).to_string();
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)]);
        let wait = rate_limit_wait(forbidden, &h, b"").unwrap().unwrap();
        assert!((Duration::from_secs(29)..=Duration::from_secs(32)).contains(&wait), "{wait:?}");
        // A 429 or a secondary-limit message with no header: the caller's backoff.
        assert_eq!(rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), b""), Some(None));
        let secondary = br#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#;
        assert_eq!(rate_limit_wait(forbidden, &HeaderMap::new(), secondary), Some(None));
        // A 403 for permissions is not a rate limit.
        let h = headers(&[("x-ratelimit-remaining", "4999")]);
        assert_eq!(rate_limit_wait(forbidden, &h, br#"{"message":"Resource not accessible by integration"}"#), None);
        assert_eq!(rate_limit_wait(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b""), None);
    }

    #[test]
    fn backoff_doubles_from_the_minimum() {
        let client = GithubClient::new(&SecretString::new("t"), ClientOptions::new("http://127.0.0.1:1")).unwrap();
        assert_eq!(client.backoff(0, None), Duration::from_secs(60));
        assert_eq!(client.backoff(1, None), Duration::from_secs(120));
        assert_eq!(client.backoff(3, Some(Duration::from_secs(5))), Duration::from_secs(5));
    }

    #[test]
    fn the_token_is_not_in_debug_output() {
        let client =
            GithubClient::new(&SecretString::new("ghp_canary123"), ClientOptions::new("http://127.0.0.1:1")).unwrap();
        assert!(!format!("{client:?}").contains("canary"));
        assert!(!format!("{:?}", client.auth).contains("canary"));
    }
}
