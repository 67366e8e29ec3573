//! Injected faults: the next n matching requests get a canned answer (or a late one) instead of the normal one.

use std::time::Duration;

use serde_json::{Value, json};

use crate::reply::Reply;
use crate::util::now_epoch;

/// A fault to inject with [`crate::FakeGithub::inject`]. Faults are matched in the order they were injected,
/// after authentication (a request with a bad token still gets 401).
#[derive(Debug, Clone)]
pub struct Fault {
    /// Which requests it applies to.
    pub matcher: Matcher,
    /// How many matching requests get it; then it is gone.
    pub times: usize,
    /// What they get.
    pub response: FaultResponse,
}

impl Fault {
    /// A fault for the next `times` requests matching `matcher`.
    pub fn new(matcher: Matcher, times: usize, response: FaultResponse) -> Self {
        Self { matcher, times, response }
    }
}

/// Which requests a [`Fault`] applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// Every request.
    Any,
    /// `POST /graphql`.
    Graphql,
    /// REST requests whose path starts with this prefix (`"/repos/octo/api/compare"`, `"/"` for all).
    Rest(String),
}

impl Matcher {
    pub(crate) fn matches(&self, is_graphql: bool, path: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Graphql => is_graphql,
            Self::Rest(prefix) => !is_graphql && path.starts_with(prefix.as_str()),
        }
    }
}

/// What a faulted request gets.
#[derive(Debug, Clone)]
pub enum FaultResponse {
    /// Any status with these headers and this body (sent as is; `content-type: application/json` unless given).
    Status {
        /// The HTTP status.
        code: u16,
        /// Extra headers (the rate-limit headers are added unless given here).
        headers: Vec<(String, String)>,
        /// The body, usually JSON text; may be empty.
        body: String,
    },
    /// GitHub's secondary rate limit: 403 with `retry-after` and its "secondary rate limit" message.
    SecondaryLimit {
        /// The `retry-after` header.
        retry_after_secs: u64,
    },
    /// GitHub's primary rate limit: 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` = now + N.
    PrimaryLimit {
        /// Seconds until `x-ratelimit-reset`.
        reset_in_secs: u64,
    },
    /// 429 Too Many Requests, with `retry-after` when given (else `x-ratelimit-remaining: 0` and a reset in 60 s).
    TooMany {
        /// The `retry-after` header.
        retry_after: Option<u64>,
    },
    /// HTTP 200 with `{"data": null, "errors": [...]}`; see [`FaultResponse::graphql_rate_limited`] and
    /// [`FaultResponse::graphql_error`].
    GraphqlErrors(Vec<Value>),
    /// Answer normally, but only after this long (for client timeouts). In-flight counting includes the wait.
    Delay(Duration),
}

impl FaultResponse {
    /// A plain error status with a GitHub-like JSON body (502 and 504 get GitHub's gateway wording).
    pub fn status(code: u16) -> Self {
        let message = match code {
            502 => "Server Error",
            503 => "Service Unavailable",
            504 => {
                "We couldn't respond to your request in time. Sorry about that. Please try resubmitting your request and contact us if the problem persists."
            }
            _ => "Fault injected by the fake GitHub",
        };
        Self::Status { code, headers: Vec::new(), body: json!({ "message": message }).to_string() }
    }

    /// GraphQL's `RATE_LIMITED` error (HTTP 200).
    pub fn graphql_rate_limited() -> Self {
        Self::GraphqlErrors(vec![json!({
            "type": "RATE_LIMITED",
            "message": "API rate limit already exceeded for user ID 1.",
        })])
    }

    /// A generic GraphQL error with this message (HTTP 200).
    pub fn graphql_error(message: &str) -> Self {
        Self::GraphqlErrors(vec![json!({ "message": message })])
    }

    /// The reply, or `None` for [`FaultResponse::Delay`] (which answers normally, late).
    pub(crate) fn reply(&self) -> Option<Reply> {
        match self {
            Self::Status { code, headers, body } => {
                let mut reply = Reply::raw(*code, body.clone());
                for (name, value) in headers {
                    reply.set_header(&name.to_ascii_lowercase(), value.clone());
                }
                Some(reply)
            }
            Self::SecondaryLimit { retry_after_secs } => Some(
                Reply::json(
                    403,
                    json!({
                        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID FAKE:0000:0000000:0000000:00000000.",
                        "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                        "status": "403",
                    }),
                )
                .with_header("retry-after", retry_after_secs.to_string()),
            ),
            Self::PrimaryLimit { reset_in_secs } => Some(
                Reply::json(
                    403,
                    json!({
                        "message": "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID FAKE:0000:0000000:0000000:00000000.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                        "status": "403",
                    }),
                )
                .with_header("x-ratelimit-remaining", "0".to_owned())
                .with_header("x-ratelimit-reset", (now_epoch() + reset_in_secs).to_string()),
            ),
            Self::TooMany { retry_after } => {
                let reply = Reply::json(
                    429,
                    json!({
                        "message": "Too many requests",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                        "status": "429",
                    }),
                );
                Some(match retry_after {
                    Some(secs) => reply.with_header("retry-after", secs.to_string()),
                    None => reply
                        .with_header("x-ratelimit-remaining", "0".to_owned())
                        .with_header("x-ratelimit-reset", (now_epoch() + 60).to_string()),
                })
            }
            Self::GraphqlErrors(errors) => Some(Reply::json(200, json!({ "data": null, "errors": errors }))),
            Self::Delay(_) => None,
        }
    }
}
