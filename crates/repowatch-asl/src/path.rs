//! JSONPath for the States Language: *reference paths* (`$`, `$.a.b`, `$.a[0]`,
//! `$['x']`, and `$$…` for the context object) and full *paths* (queries).
//!
//! States Language: Paths. A **Reference Path** identifies a single node; it is
//! what `ResultPath` needs ([`ReferencePath::parse`] accepts only that subset).
//! A **Path** (InputPath, OutputPath, ItemsPath, `.$` fields, …) may also use the
//! JSONPath query operators AWS evaluates them with (AWS uses Jayway JsonPath; its
//! error texts, e.g. "No results for path: $['x']", show it):
//! `[*]` / `.*` wildcards, `..` recursive descent, slices `[a:b]` / `[a:b:step]`,
//! negative indexes `[-1]`, unions `[0,1]` / `['a','b']` and filters
//! `[?(@.x > 1)]` with `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`, `!`,
//! existence tests (`[?(@.x)]`) and parentheses ([`ReferencePath::parse_query`]).
//!
//! Result shapes (Jayway, as AWS): a *definite* path (only names and indexes)
//! selects one node or nothing; an *indefinite* path (any wildcard, descent,
//! slice, union or filter) always yields a JSON array of the matches, in document
//! order, possibly empty — a missing property on the way is skipped, not an error.

mod filter;

/// Walks `text` outside its string literals (`'…'` or `"…"`, with backslash
/// escapes) and calls `step(index, char, depth)` for every other character;
/// `step` keeps `depth` (brackets, parentheses) and breaks with a result. A
/// quote opens a literal anywhere when `quotes_anywhere`, else only at depth > 0
/// (inside brackets, where names are quoted). `None` when `text` ends first.
pub(crate) fn scan_unquoted<T>(
    text: &str,
    quotes_anywhere: bool,
    mut step: impl FnMut(usize, char, &mut usize) -> std::ops::ControlFlow<T>,
) -> Option<T> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            if c == '\\' {
                chars.next();
            } else if c == q {
                quote = None;
            }
            continue;
        }
        if (c == '\'' || c == '"') && (quotes_anywhere || depth > 0) {
            quote = Some(c);
            continue;
        }
        if let std::ops::ControlFlow::Break(found) = step(i, c, &mut depth) {
            return Some(found);
        }
    }
    None
}

use filter::Filter;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// `.name` or `['name']`.
    Field(String),
    /// `[3]`.
    Index(usize),
    /// `[-k]`: the k-th item from the end (queries only; Jayway treats it as definite).
    IndexFromEnd(usize),
    /// `.*` or `[*]`: every member of an object, every item of an array.
    Wildcard,
    /// `..` followed by a step: the step applied to the node and every descendant.
    Descend(Box<Segment>),
    /// `[start:end:step]`.
    Slice(Option<i64>, Option<i64>, Option<i64>),
    /// `[0,1]`, `['a','b']`.
    Union(Vec<Segment>),
    /// `[?(…)]`.
    Filter(Filter),
}

impl Segment {
    fn is_definite(&self) -> bool {
        matches!(self, Segment::Field(_) | Segment::Index(_) | Segment::IndexFromEnd(_))
    }
}

/// A parsed path (a reference path unless made with [`ReferencePath::parse_query`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReferencePath {
    /// As written; `$` (the default of most fields) without an allocation.
    text: Cow<'static, str>,
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
    /// Parse a *reference path* (names and non-negative indexes only); the error says what is wrong.
    pub(crate) fn parse(text: &str) -> Result<ReferencePath, String> {
        Self::parse_mode(text, false)
    }

    /// Parse a full JSONPath *path* (wildcards, `..`, slices, unions, filters allowed).
    pub(crate) fn parse_query(text: &str) -> Result<ReferencePath, String> {
        Self::parse_mode(text, true)
    }

    fn parse_mode(text: &str, query: bool) -> Result<ReferencePath, String> {
        let (context, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            (false, rest)
        } else {
            return Err(format!("invalid path `{text}`: must start with `$`"));
        };
        let segments = parse_segments(rest, query).map_err(|why| format!("invalid path `{text}`: {why}"))?;
        Ok(ReferencePath { text: Cow::Owned(text.to_string()), context, segments })
    }

    /// The root path `$`.
    pub(crate) fn root() -> ReferencePath {
        ReferencePath { text: Cow::Borrowed("$"), context: false, segments: Vec::new() }
    }

    /// Whether this path reads the context object (`$$…`).
    pub(crate) fn is_context(&self) -> bool {
        self.context
    }

    /// Whether this is `$` itself.
    pub(crate) fn is_root(&self) -> bool {
        !self.context && self.segments.is_empty()
    }

    /// Whether the path names at most one node (no wildcard, descent, slice, union or filter).
    pub(crate) fn is_definite(&self) -> bool {
        self.segments.iter().all(Segment::is_definite)
    }

    /// The node a *definite* path names inside `root`, if there is one (`None` for
    /// an indefinite path: use [`ReferencePath::query`]).
    pub(crate) fn resolve<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut node = root;
        for segment in &self.segments {
            node = match (segment, node) {
                (Segment::Field(name), Value::Object(map)) => crate::validate::field(map, name)?,
                (Segment::Index(i), Value::Array(items)) => items.get(*i)?,
                (Segment::IndexFromEnd(k), Value::Array(items)) => items.get(items.len().checked_sub(*k)?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// Evaluate the path against `root`: a definite path gives its node or `None`;
    /// an indefinite one gives the array of every match (possibly empty).
    pub(crate) fn query(&self, root: &Value) -> Option<Value> {
        if self.is_definite() {
            return self.resolve(root).cloned();
        }
        let mut found = Vec::new();
        select(&self.segments, root, root, &mut found);
        Some(Value::Array(found.into_iter().cloned().collect()))
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
                _ => return Err(format!("cannot set a value through the query path `{}`", self.text)),
            };
        }
        *node = value;
        Ok(())
    }
}

/// Apply `segments` to `node`, collecting every match (document order, Jayway's).
fn select<'v>(segments: &[Segment], node: &'v Value, root: &'v Value, out: &mut Vec<&'v Value>) {
    let Some((first, rest)) = segments.split_first() else {
        out.push(node);
        return;
    };
    step(first, node, root, &mut |child| select(rest, child, root, out));
}

/// Call `each` with every node `segment` selects from `node`.
fn step<'v>(segment: &Segment, node: &'v Value, root: &'v Value, each: &mut dyn FnMut(&'v Value)) {
    match segment {
        Segment::Field(name) => {
            if let Some(v) = node.as_object().and_then(|m| crate::validate::field(m, name)) {
                each(v);
            }
        }
        Segment::Index(i) => {
            if let Some(v) = node.as_array().and_then(|a| a.get(*i)) {
                each(v);
            }
        }
        Segment::IndexFromEnd(k) => {
            if let Some(items) = node.as_array()
                && let Some(v) = items.len().checked_sub(*k).and_then(|i| items.get(i))
            {
                each(v);
            }
        }
        Segment::Wildcard => match node {
            Value::Object(map) => map.values().for_each(each),
            Value::Array(items) => items.iter().for_each(each),
            _ => {}
        },
        Segment::Descend(inner) => {
            step(inner, node, root, each);
            match node {
                Value::Object(map) => map.values().for_each(|child| step(segment, child, root, each)),
                Value::Array(items) => items.iter().for_each(|child| step(segment, child, root, each)),
                _ => {}
            }
        }
        Segment::Slice(start, end, stride) => {
            if let Some(items) = node.as_array() {
                for i in slice_indexes(items.len(), *start, *end, *stride) {
                    if let Some(v) = items.get(i) {
                        each(v);
                    }
                }
            }
        }
        Segment::Union(parts) => {
            for part in parts {
                step(part, node, root, each);
            }
        }
        Segment::Filter(filter) => match node {
            Value::Array(items) => {
                for item in items {
                    if filter.accepts(item, root) {
                        each(item);
                    }
                }
            }
            Value::Object(_) if filter.accepts(node, root) => each(node),
            _ => {}
        },
    }
}

/// The indexes `[start:end:stride]` selects in an array of `len` items (negative
/// bounds count from the end; an absent stride is 1; a zero stride selects nothing).
fn slice_indexes(len: usize, start: Option<i64>, end: Option<i64>, stride: Option<i64>) -> Vec<usize> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let stride = stride.unwrap_or(1);
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
    let mut out = Vec::new();
    if stride > 0 {
        let (mut i, stop) = (start.map_or(0, norm), end.map_or(len, norm));
        while i < stop {
            out.push(i);
            i += stride;
        }
    } else if stride < 0 {
        let clamp_top = |i: i64| if i < 0 { len + i } else { i.min(len - 1) };
        let mut i = start.map_or(len - 1, clamp_top);
        let stop = end.map_or(-1, |e| if e < 0 { (len + e).max(-1) } else { e.min(len - 1) });
        while i > stop {
            if i >= 0 {
                out.push(i);
            }
            i += stride;
        }
    }
    out.into_iter().filter_map(|i| usize::try_from(i).ok()).collect()
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

/// Parse the steps after `$` / `$$` / `@`. Without `query`, only reference-path steps are accepted.
pub(crate) fn parse_segments(rest: &str, query: bool) -> Result<Vec<Segment>, String> {
    let mut rest = rest;
    let mut segments = Vec::new();
    while !rest.is_empty() {
        let (segment, after) = parse_segment(rest, query)?;
        segments.push(segment);
        rest = after;
    }
    Ok(segments)
}

/// Parse one step at the start of `rest`; returns it and what follows.
fn parse_segment(rest: &str, query: bool) -> Result<(Segment, &str), String> {
    if let Some(after) = rest.strip_prefix("..") {
        if !query {
            return Err("recursive descent `..` is not supported".to_string());
        }
        if after.starts_with('[') {
            let (inner, tail) = parse_segment(after, true)?;
            return Ok((Segment::Descend(Box::new(inner)), tail));
        }
        let end = after.find(['.', '[']).unwrap_or(after.len());
        let name = &after[..end];
        let inner = match name {
            "" => return Err("empty field name after `..`".to_string()),
            "*" => Segment::Wildcard,
            _ => Segment::Field(name.to_string()),
        };
        return Ok((Segment::Descend(Box::new(inner)), &after[end..]));
    }
    if let Some(after) = rest.strip_prefix('.') {
        let end = after.find(['.', '[']).unwrap_or(after.len());
        let name = &after[..end];
        if name.is_empty() {
            return Err("empty field name after `.`".to_string());
        }
        if name == "*" {
            if !query {
                return Err("wildcard `*` is not supported in a reference path".to_string());
            }
            return Ok((Segment::Wildcard, &after[end..]));
        }
        return Ok((Segment::Field(name.to_string()), &after[end..]));
    }
    if let Some(after) = rest.strip_prefix('[') {
        return parse_bracket(after, query);
    }
    Err(format!("unexpected `{}`; expected `.name` or `[…]`", rest.chars().next().unwrap_or(' ')))
}

/// Parse the inside of `[…]` (after the `[`); returns the step and what follows the `]`.
fn parse_bracket(after: &str, query: bool) -> Result<(Segment, &str), String> {
    let trimmed = after.trim_start();
    if let Some(body) = trimmed.strip_prefix("?(") {
        if !query {
            return Err(format!("`[{}` is not supported; use a non-negative index or a quoted name", "?("));
        }
        let (expr, used) = filter::split_filter(body)?;
        let filter = Filter::parse(expr)?;
        return Ok((Segment::Filter(filter), &body[used..]));
    }
    // Names and numbers separated by commas, or a slice, up to the closing `]`.
    let mut parts: Vec<Segment> = Vec::new();
    let mut rest = trimmed;
    loop {
        rest = rest.trim_start();
        if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
            let (name, used) = read_quoted(&rest[1..], q)?;
            parts.push(Segment::Field(name));
            rest = &rest[1 + used..];
        } else {
            let end = rest.find([',', ']']).ok_or_else(|| "missing `]`".to_string())?;
            let inner = rest[..end].trim();
            parts.push(parse_index_like(inner, query)?);
            rest = &rest[end..];
        }
        rest = rest.trim_start();
        if let Some(tail) = rest.strip_prefix(']') {
            rest = tail;
            break;
        }
        if let Some(tail) = rest.strip_prefix(',') {
            if !query {
                return Err("unions `[a,b]` are not supported in a reference path".to_string());
            }
            rest = tail;
            continue;
        }
        return Err("expected `]` after a quoted name".to_string());
    }
    let segment = if parts.len() == 1 {
        parts.pop().unwrap_or(Segment::Wildcard)
    } else {
        if parts.iter().any(|p| !matches!(p, Segment::Field(_) | Segment::Index(_) | Segment::IndexFromEnd(_))) {
            return Err("a union may only list names and indexes".to_string());
        }
        Segment::Union(parts)
    };
    Ok((segment, rest))
}

/// `3`, `-1`, `*`, or a slice `a:b[:c]`.
fn parse_index_like(inner: &str, query: bool) -> Result<Segment, String> {
    let reject = || format!("`[{inner}]` is not supported; use a non-negative index or a quoted name");
    if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
        return inner.parse::<usize>().map(Segment::Index).map_err(|_| format!("index `{inner}` is too large"));
    }
    if !query {
        return Err(reject());
    }
    if inner == "*" {
        return Ok(Segment::Wildcard);
    }
    if let Some(k) = inner.strip_prefix('-')
        && !k.is_empty()
        && k.bytes().all(|b| b.is_ascii_digit())
    {
        return k.parse::<usize>().map(Segment::IndexFromEnd).map_err(|_| format!("index `{inner}` is too large"));
    }
    if inner.contains(':') {
        let bounds: Vec<&str> = inner.split(':').map(str::trim).collect();
        if bounds.len() > 3 {
            return Err(reject());
        }
        let num = |s: &str| -> Result<Option<i64>, String> {
            if s.is_empty() { Ok(None) } else { s.parse::<i64>().map(Some).map_err(|_| reject()) }
        };
        let start = num(bounds.first().copied().unwrap_or(""))?;
        let end = num(bounds.get(1).copied().unwrap_or(""))?;
        let stride = num(bounds.get(2).copied().unwrap_or(""))?;
        return Ok(Segment::Slice(start, end, stride));
    }
    Err(reject())
}

/// Read a quoted name up to (not including) the closing quote; returns the
/// name and how many bytes of `body` were used including the closing quote.
///
/// A backslash escapes only the quote character; any other backslash is part of
/// the name (observed on AWS: `$['Test\""Name"']` reads the key `Test\""Name"`).
pub(crate) fn read_quoted(body: &str, quote: char) -> Result<(String, usize), String> {
    let mut name = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some((_, next)) if *next == quote => {
                    name.push(quote);
                    chars.next();
                }
                Some(_) => name.push('\\'),
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
mod tests;
