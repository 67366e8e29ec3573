//! The exchange log: every request the fake answered and its answer, written as JSON Lines for
//! `scripts/github-contract.mjs`, which checks them against GitHub's OpenAPI description and GraphQL schema.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request and the fake's answer. Serialised (one JSON object per line) it is the contract between the fake
/// and the checker:
///
/// ```json
/// {"method":"POST","path":"/graphql","query":"","status":200,
///  "request_headers":{"authorization":"<redacted>","content-type":"application/json"},
///  "request_body":{"query":"..."},"response_headers":{"x-ratelimit-remaining":"4999"},
///  "response_body":{"data":{}},"operation":"graphql"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// The HTTP method, uppercase.
    pub method: String,
    /// The path as requested (still percent-encoded).
    pub path: String,
    /// The query string without `?` (empty when none).
    pub query: String,
    /// The response status.
    pub status: u16,
    /// Request headers, lowercase names; `authorization` is always `<redacted>`.
    pub request_headers: BTreeMap<String, String>,
    /// The request body: JSON when it parses, else a string; null when empty.
    pub request_body: Value,
    /// Response headers, lowercase names.
    pub response_headers: BTreeMap<String, String>,
    /// The response body: JSON when it parses, else a string; null when empty.
    pub response_body: Value,
    /// `graphql`, the OpenAPI path template of the REST operation (`/repos/{owner}/{repo}/compare/{basehead}`),
    /// or `unknown`.
    pub operation: String,
}

impl Exchange {
    /// The response body's JSON, when it has one.
    pub fn response_json(&self) -> Option<&Value> {
        (!self.response_body.is_null()).then_some(&self.response_body)
    }
}

/// The request body as the log holds it.
pub(crate) fn body_for_log(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Writes exchanges as JSON Lines.
pub(crate) fn write_jsonl(path: &Path, exchanges: &[Exchange]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for exchange in exchanges {
        serde_json::to_writer(&mut out, exchange)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
