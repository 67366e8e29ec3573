//! The syntax of an intrinsic invocation (States Language: Intrinsic Functions;
//! AWS Step Functions "Intrinsic functions for JSONPath states" — "Reserved
//! characters in intrinsic functions").
//!
//! `States.Name(arg, …)` where an argument is a string literal `'…'` (with the
//! escapes `\'`, `\{`, `\}`, `\\`; any other backslash is an error), a number,
//! `true`, `false`, `null`, a path (`$…`, `$$…`, `$variable…`) or another
//! invocation.

use crate::datapath::DataPath;
use serde_json::Value;

/// A parsed invocation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    /// The function name without `States.` (`Format`).
    pub name: String,
    pub args: Vec<Arg>,
}

/// One argument of an invocation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// A string literal, with the byte offsets of its unescaped `{}` pairs (States.Format placeholders).
    Str {
        text: String,
        placeholders: Vec<usize>,
    },
    /// A number, `true`, `false` or `null`.
    Literal(Value),
    Path(DataPath),
    Call(Call),
}

/// Most nested invocations AWS allows in one field ("You can nest up to 10 intrinsic functions within a field").
const MAX_DEPTH: usize = 10;

/// Parse a whole intrinsic expression.
pub(crate) fn parse(expression: &str) -> Result<Call, String> {
    let mut parser = Parser { text: expression, pos: 0 };
    let call = parser.call(1)?;
    parser.skip_ws();
    if parser.pos != expression.len() {
        return Err(format!("unexpected text after the closing parenthesis: `{}`", &expression[parser.pos..]));
    }
    Ok(call)
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

    fn call(&mut self, depth: usize) -> Result<Call, String> {
        if depth > MAX_DEPTH {
            return Err(format!("more than {MAX_DEPTH} nested intrinsic functions"));
        }
        self.skip_ws();
        let Some(after) = self.rest().strip_prefix("States.") else {
            return Err(format!("expected an intrinsic function `States.…(…)` at `{}`", self.rest()));
        };
        let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        let name = after[..len].to_string();
        if name.is_empty() {
            return Err("missing function name after `States.`".to_string());
        }
        self.pos += "States.".len() + len;
        self.skip_ws();
        if !self.rest().starts_with('(') {
            return Err(format!("expected `(` after `States.{name}`"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.rest().starts_with(')') {
            self.pos += 1;
            return Ok(Call { name, args });
        }
        loop {
            args.push(self.arg(depth)?);
            self.skip_ws();
            match self.rest().chars().next() {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    return Ok(Call { name, args });
                }
                Some(c) => return Err(format!("unexpected `{c}` in the arguments of `States.{name}`")),
                None => return Err(format!("missing `)` to close `States.{name}(`")),
            }
        }
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, String> {
        self.skip_ws();
        let rest = self.rest();
        let Some(first) = rest.chars().next() else {
            return Err("missing argument".to_string());
        };
        match first {
            '\'' => self.string(),
            '$' => {
                let len = path_len(rest);
                let parsed = DataPath::parse(rest[..len].trim_end()).map(Arg::Path);
                self.pos += len;
                parsed
            }
            _ if rest.starts_with("States.") => self.call(depth + 1).map(Arg::Call),
            _ => {
                let len = rest.find(|c: char| c == ',' || c == ')' || c.is_whitespace()).unwrap_or(rest.len());
                let token = &rest[..len];
                let value = match token {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => match serde_json::from_str::<Value>(token) {
                        Ok(v @ Value::Number(_)) => v,
                        _ => return Err(format!("invalid argument `{token}`")),
                    },
                };
                self.pos += len;
                Ok(Arg::Literal(value))
            }
        }
    }

    /// A `'…'` literal (the cursor is on the opening quote).
    fn string(&mut self) -> Result<Arg, String> {
        let body = &self.rest()[1..];
        let mut text = String::new();
        let mut placeholders = Vec::new();
        // Whether the last char pushed was an unescaped `{`.
        let mut open_brace = false;
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    open_brace = false;
                    match chars.next() {
                        Some((_, e @ ('\'' | '{' | '}' | '\\'))) => text.push(e),
                        Some((_, e)) => {
                            return Err(format!(
                                "invalid escape `\\{e}` in a string literal: only `\\'`, `\\{{`, `\\}}` and `\\\\` are allowed"
                            ));
                        }
                        None => return Err("unterminated string literal".to_string()),
                    }
                }
                '\'' => {
                    self.pos += 1 + i + 1;
                    return Ok(Arg::Str { text, placeholders });
                }
                '}' if open_brace => {
                    placeholders.push(text.len() - 1);
                    text.push('}');
                    open_brace = false;
                }
                _ => {
                    text.push(c);
                    open_brace = c == '{';
                }
            }
        }
        Err("unterminated string literal".to_string())
    }
}

/// How long the path at the start of `text` is: up to a `,` or `)` outside brackets and quotes.
fn path_len(text: &str) -> usize {
    use std::ops::ControlFlow::{Break, Continue};
    crate::path::scan_unquoted(text, false, |i, c, depth| match c {
        '[' | '(' => {
            *depth += 1;
            Continue(())
        }
        ']' => {
            *depth = depth.saturating_sub(1);
            Continue(())
        }
        ')' if *depth > 0 => {
            *depth -= 1;
            Continue(())
        }
        ',' | ')' if *depth == 0 => Break(i),
        _ => Continue(()),
    })
    .unwrap_or(text.len())
}
