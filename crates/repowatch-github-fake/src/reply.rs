//! An answer being built, before it becomes an HTTP response and an exchange-log entry.

use serde_json::{Value, json};

/// The body of a [`Reply`].
#[derive(Debug, Clone)]
pub(crate) enum ReplyBody {
    /// No body (204, redirects).
    Empty,
    /// A JSON document.
    Json(Value),
    /// Text sent as is (injected faults).
    Raw(String),
}

/// Status, headers (lowercase names) and body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: ReplyBody,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self { status, headers: Vec::new(), body: ReplyBody::Json(body) }
    }

    pub(crate) fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: ReplyBody::Empty }
    }

    pub(crate) fn raw(status: u16, body: String) -> Self {
        if body.is_empty() {
            return Self::empty(status);
        }
        Self { status, headers: Vec::new(), body: ReplyBody::Raw(body) }
    }

    /// GitHub's error body: `{"message", "documentation_url", "status"}`.
    pub(crate) fn error(status: u16, message: &str, documentation_url: &str) -> Self {
        Self::json(
            status,
            json!({ "message": message, "documentation_url": documentation_url, "status": status.to_string() }),
        )
    }

    pub(crate) fn not_found(documentation_url: &str) -> Self {
        Self::error(404, "Not Found", documentation_url)
    }

    pub(crate) fn with_header(mut self, name: &str, value: String) -> Self {
        self.set_header(name, value);
        self
    }

    pub(crate) fn set_header(&mut self, name: &str, value: String) {
        match self.headers.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name.to_owned(), value)),
        }
    }

    pub(crate) fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| n == name)
    }

    /// The body as bytes on the wire.
    pub(crate) fn body_bytes(&self) -> Vec<u8> {
        match &self.body {
            ReplyBody::Empty => Vec::new(),
            ReplyBody::Json(v) => v.to_string().into_bytes(),
            ReplyBody::Raw(s) => s.clone().into_bytes(),
        }
    }

    /// The body as the exchange log holds it: JSON as is, other text parsed when it is JSON, else a string.
    pub(crate) fn body_for_log(&self) -> Value {
        match &self.body {
            ReplyBody::Empty => Value::Null,
            ReplyBody::Json(v) => v.clone(),
            ReplyBody::Raw(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
        }
    }
}
