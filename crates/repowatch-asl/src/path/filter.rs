//! JSONPath filter expressions, `[?(…)]` (Jayway JsonPath semantics, as AWS uses):
//! comparisons `==`, `!=`, `<`, `<=`, `>`, `>=` between `@…` / `$…` paths and
//! literals (numbers, `'…'` / `"…"` strings, `true`, `false`, `null`), existence
//! tests (`@.x`), `!`, `&&`, `||` and parentheses.
//!
//! Semantics: a path operand that selects nothing makes every comparison false
//! except `!=`, which is true. Numbers compare by value (`1 == 1.0`); strings
//! order lexicographically; ordering any other pair of types is false.

use super::{ReferencePath, Segment, parse_segments, read_quoted};
use serde_json::Value;
use std::cmp::Ordering;

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Filter {
    Or(Box<Filter>, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// An operand alone: true when a path exists (or a literal is truthy).
    Exists(Operand),
    Compare(Operand, Op, Operand),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Operand {
    /// `@…`: relative to the item being tested.
    Current(Vec<Segment>),
    /// `$…`: relative to the document root.
    Root(Vec<Segment>),
    Literal(Value),
}

/// Split the body after `[?(` into the expression and how many bytes up to and
/// including the closing `)]` were used.
pub(crate) fn split_filter(body: &str) -> Result<(&str, usize), String> {
    use std::ops::ControlFlow::{Break, Continue};
    let close = super::scan_unquoted(body, true, |i, c, depth| match c {
        '(' | '[' => {
            *depth += 1;
            Continue(())
        }
        ']' => {
            *depth = depth.saturating_sub(1);
            Continue(())
        }
        ')' if *depth == 0 => Break(i),
        ')' => {
            *depth -= 1;
            Continue(())
        }
        _ => Continue(()),
    })
    .ok_or_else(|| "unterminated filter `[?(`".to_string())?;
    let rest = body[close + 1..].trim_start();
    if rest.starts_with(']') {
        let used = body.len() - rest.len() + 1;
        return Ok((&body[..close], used));
    }
    Err("expected `)]` to close the filter".to_string())
}

impl Filter {
    /// Parse a filter expression (the text between `[?(` and `)]`).
    pub(crate) fn parse(text: &str) -> Result<Filter, String> {
        let mut parser = Parser { text, pos: 0 };
        let filter = parser.or()?;
        parser.skip_ws();
        if parser.pos != text.len() {
            return Err(format!("unexpected `{}` in filter `{text}`", &text[parser.pos..]));
        }
        Ok(filter)
    }

    /// Whether `item` passes the filter (`root` is the whole document, for `$…` operands).
    pub(crate) fn accepts(&self, item: &Value, root: &Value) -> bool {
        match self {
            Filter::Or(a, b) => a.accepts(item, root) || b.accepts(item, root),
            Filter::And(a, b) => a.accepts(item, root) && b.accepts(item, root),
            Filter::Not(a) => !a.accepts(item, root),
            Filter::Exists(operand) => match operand.value(item, root) {
                Some(Value::Bool(b)) if matches!(operand, Operand::Literal(_)) => b,
                Some(_) => true,
                None => false,
            },
            Filter::Compare(left, op, right) => {
                let (l, r) = (left.value(item, root), right.value(item, root));
                match (l, r) {
                    (Some(l), Some(r)) => compare(&l, *op, &r),
                    _ => *op == Op::Ne,
                }
            }
        }
    }
}

impl Operand {
    fn value(&self, item: &Value, root: &Value) -> Option<Value> {
        let (segments, base) = match self {
            Operand::Literal(v) => return Some(v.clone()),
            Operand::Current(s) => (s, item),
            Operand::Root(s) => (s, root),
        };
        let path = ReferencePath { text: std::borrow::Cow::Borrowed(""), context: false, segments: segments.clone() };
        if path.is_definite() { path.resolve(base).cloned() } else { path.query(base) }
    }
}

/// JSON equality with numbers compared by value.
pub(crate) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => number_order(a, b) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Order two numbers by value (exact for integers, `f64` otherwise).
pub(crate) fn number_order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => match (a.as_u64(), b.as_u64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
        },
    }
}

fn compare(l: &Value, op: Op, r: &Value) -> bool {
    match op {
        Op::Eq => json_equal(l, r),
        Op::Ne => !json_equal(l, r),
        _ => {
            let ord = match (l, r) {
                (Value::Number(_), Value::Number(_)) => number_order(l, r),
                (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
                _ => None,
            };
            match (ord, op) {
                (Some(o), Op::Lt) => o == Ordering::Less,
                (Some(o), Op::Le) => o != Ordering::Greater,
                (Some(o), Op::Gt) => o == Ordering::Greater,
                (Some(o), Op::Ge) => o != Ordering::Less,
                _ => false,
            }
        }
    }
}

struct Parser<'t> {
    text: &'t str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }
    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }
    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }
    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.eat("&&") {
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Filter, String> {
        self.skip_ws();
        if self.rest().starts_with('!') && !self.rest().starts_with("!=") {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let inner = self.or()?;
            if !self.eat(")") {
                return Err(format!("missing `)` in filter `{}`", self.text));
            }
            return Ok(inner);
        }
        let left = self.operand()?;
        let op = if self.eat("==") {
            Op::Eq
        } else if self.eat("!=") {
            Op::Ne
        } else if self.eat("<=") {
            Op::Le
        } else if self.eat(">=") {
            Op::Ge
        } else if self.eat("<") {
            Op::Lt
        } else if self.eat(">") {
            Op::Gt
        } else {
            return Ok(Filter::Exists(left));
        };
        let right = self.operand()?;
        Ok(Filter::Compare(left, op, right))
    }
    fn operand(&mut self) -> Result<Operand, String> {
        self.skip_ws();
        let rest = self.rest();
        let Some(first) = rest.chars().next() else {
            return Err(format!("missing operand in filter `{}`", self.text));
        };
        match first {
            '@' | '$' => {
                // A path runs until an operator, a closing parenthesis or white space (outside brackets/quotes).
                let body = &rest[1..];
                let end = path_end(body);
                let segments = parse_segments(&body[..end], true)?;
                self.pos += 1 + end;
                Ok(if first == '@' { Operand::Current(segments) } else { Operand::Root(segments) })
            }
            '\'' | '"' => {
                let (s, used) = read_quoted(&rest[1..], first)?;
                self.pos += 1 + used;
                Ok(Operand::Literal(Value::String(s)))
            }
            _ => {
                let end = rest.find(|c: char| c.is_whitespace() || "()=!<>&|".contains(c)).unwrap_or(rest.len());
                let token = &rest[..end];
                let value = match token {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => match serde_json::from_str::<Value>(token) {
                        Ok(v @ Value::Number(_)) => v,
                        _ => return Err(format!("unexpected `{token}` in filter `{}`", self.text)),
                    },
                };
                self.pos += end;
                Ok(Operand::Literal(value))
            }
        }
    }
}

/// Where a path inside a filter ends.
fn path_end(body: &str) -> usize {
    use std::ops::ControlFlow::{Break, Continue};
    super::scan_unquoted(body, false, |i, c, depth| match c {
        '[' => {
            *depth += 1;
            Continue(())
        }
        ']' => {
            *depth = depth.saturating_sub(1);
            Continue(())
        }
        c if *depth == 0 && (c.is_whitespace() || "()=!<>&|".contains(c)) => Break(i),
        _ => Continue(()),
    })
    .unwrap_or(body.len())
}
