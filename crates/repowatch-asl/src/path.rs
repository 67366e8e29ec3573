//! JSONPath *reference paths*: `$`, `$.a.b`, `$.a[0]`, `$['x']`, and `$$…` for
//! the context object.
//!
//! States Language: Paths — "Reference Paths". A reference path identifies a
//! single node; it is what `ResultPath` needs and what this interpreter accepts
//! for `InputPath`, `OutputPath`, `ItemsPath`, `Variable` and `.$` fields.
//! Wildcards, filters, slices and recursive descent are rejected with a clear
//! message (a later version can add them here without touching callers).

use serde_json::{Map, Value};
use std::fmt;

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Field(String),
    Index(usize),
}

/// A parsed reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReferencePath {
    text: String,
    /// Starts with `$$`: applies to the context object.
    context: bool,
    segments: Vec<Segment>,
}

impl fmt::Display for ReferencePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl ReferencePath {
    /// Parse `text`; the error says what is wrong.
    pub(crate) fn parse(text: &str) -> Result<ReferencePath, String> {
        let (context, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            (false, rest)
        } else {
            return Err(format!("invalid path `{text}`: must start with `$`"));
        };
        let segments = parse_segments(rest).map_err(|why| format!("invalid path `{text}`: {why}"))?;
        Ok(ReferencePath { text: text.to_string(), context, segments })
    }

    /// The root path `$`.
    pub(crate) fn root() -> ReferencePath {
        ReferencePath { text: "$".to_string(), context: false, segments: Vec::new() }
    }

    /// Whether this path reads the context object (`$$…`).
    pub(crate) fn is_context(&self) -> bool {
        self.context
    }

    /// Whether this is `$` itself.
    pub(crate) fn is_root(&self) -> bool {
        !self.context && self.segments.is_empty()
    }

    /// The node the path names inside `root`, if there is one.
    pub(crate) fn resolve<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut node = root;
        for segment in &self.segments {
            node = match (segment, node) {
                (Segment::Field(name), Value::Object(map)) => map.get(name)?,
                (Segment::Index(i), Value::Array(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// Put `value` at this path inside `target`, creating missing objects on
    /// the way (States Language: Input and Output Processing — ResultPath).
    pub(crate) fn set(&self, target: &mut Value, value: Value) -> Result<(), String> {
        let mut node = target;
        for (depth, segment) in self.segments.iter().enumerate() {
            node = match segment {
                Segment::Field(name) => {
                    if node.is_null() && depth > 0 {
                        *node = Value::Object(Map::new());
                    }
                    match node {
                        Value::Object(map) => map.entry(name.clone()).or_insert(Value::Null),
                        other => {
                            return Err(format!(
                                "cannot set field `{name}` of path `{}`: the node is {}, not an object",
                                self.text,
                                kind_of(other)
                            ));
                        }
                    }
                }
                Segment::Index(i) => match node {
                    Value::Array(items) => {
                        let len = items.len();
                        items.get_mut(*i).ok_or_else(|| {
                            format!("cannot set index {i} of path `{}`: the array has {len} item(s)", self.text)
                        })?
                    }
                    other => {
                        return Err(format!(
                            "cannot set index {i} of path `{}`: the node is {}, not an array",
                            self.text,
                            kind_of(other)
                        ));
                    }
                },
            };
        }
        *node = value;
        Ok(())
    }
}

/// A short name of a JSON value's type, for messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_segments(mut rest: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if rest.starts_with("..") {
            return Err("recursive descent `..` is not supported".to_string());
        }
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() {
                return Err("empty field name after `.`".to_string());
            }
            if name == "*" {
                return Err("wildcard `*` is not supported in a reference path".to_string());
            }
            segments.push(Segment::Field(name.to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            if let Some(quoted) =
                after.strip_prefix('\'').map(|q| (q, '\'')).or_else(|| after.strip_prefix('"').map(|q| (q, '"')))
            {
                let (body, quote) = quoted;
                let (name, used) = read_quoted(body, quote)?;
                let tail = &body[used..];
                rest = tail.strip_prefix(']').ok_or_else(|| "expected `]` after a quoted name".to_string())?;
                segments.push(Segment::Field(name));
            } else {
                let end = after.find(']').ok_or_else(|| "missing `]`".to_string())?;
                let inner = after[..end].trim();
                if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("`[{inner}]` is not supported; use a non-negative index or a quoted name"));
                }
                let index = inner.parse::<usize>().map_err(|_| format!("index `{inner}` is too large"))?;
                segments.push(Segment::Index(index));
                rest = &after[end + 1..];
            }
        } else {
            return Err(format!("unexpected `{}`; expected `.name` or `[…]`", rest.chars().next().unwrap_or(' ')));
        }
    }
    Ok(segments)
}

/// Read a quoted name up to (not including) the closing quote; returns the
/// name and how many bytes of `body` were used including the closing quote.
fn read_quoted(body: &str, quote: char) -> Result<(String, usize), String> {
    let mut name = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some((_, escaped)) => name.push(escaped),
                None => break,
            }
        } else if c == quote {
            return Ok((name, i + c.len_utf8()));
        } else {
            name.push(c);
        }
    }
    Err("unterminated quoted name".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(text: &str) -> ReferencePath {
        ReferencePath::parse(text).unwrap()
    }

    // States Language: Paths — Reference Paths.
    #[test]
    fn resolves_reference_paths() {
        let doc = json!({"a": {"b": [10, {"c": "x"}]}, "weird key": 1, "q'": 2});
        assert_eq!(p("$").resolve(&doc), Some(&doc));
        assert_eq!(p("$.a.b[0]").resolve(&doc), Some(&json!(10)));
        assert_eq!(p("$.a.b[1].c").resolve(&doc), Some(&json!("x")));
        assert_eq!(p("$['weird key']").resolve(&doc), Some(&json!(1)));
        assert_eq!(p("$[\"a\"]['b'][0]").resolve(&doc), Some(&json!(10)));
        assert_eq!(p("$['q\\'']").resolve(&doc), Some(&json!(2)));
        assert_eq!(p("$.missing").resolve(&doc), None);
        assert_eq!(p("$.a.b[7]").resolve(&doc), None);
        assert!(p("$$.Execution.Id").is_context());
        assert!(p("$").is_root());
    }

    // States Language: Paths — a path must begin with `$`.
    #[test]
    fn rejects_bad_paths() {
        for bad in ["a.b", "", "$.", "$..a", "$.a[*]", "$.a[?(@.x)]", "$[", "$['x", "$a", "$.a[-1]"] {
            assert!(ReferencePath::parse(bad).is_err(), "{bad} should be rejected");
        }
        assert_eq!(ReferencePath::parse("x").unwrap_err(), "invalid path `x`: must start with `$`");
    }

    // States Language: Input and Output Processing — ResultPath creates missing nodes.
    #[test]
    fn set_creates_objects_and_rejects_scalars() {
        let mut doc = json!({"a": 1});
        p("$.b.c").set(&mut doc, json!(true)).unwrap();
        assert_eq!(doc, json!({"a": 1, "b": {"c": true}}));
        p("$.a").set(&mut doc, json!(2)).unwrap();
        assert_eq!(doc["a"], json!(2));
        assert!(p("$.a.x").set(&mut doc, json!(0)).is_err());
        let mut arr = json!({"l": [1, 2]});
        p("$.l[1]").set(&mut arr, json!(9)).unwrap();
        assert_eq!(arr, json!({"l": [1, 9]}));
        assert!(p("$.l[5]").set(&mut arr, json!(9)).is_err());
        let mut whole = json!(1);
        p("$").set(&mut whole, json!({"r": 1})).unwrap();
        assert_eq!(whole, json!({"r": 1}));
    }
}
