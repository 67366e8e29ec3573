//! Paths that read a value: JSONPath into the state's data (`$…`), the context
//! object (`$$…`) or a variable (`$name…`).
//!
//! States Language: Paths; AWS Step Functions "Passing data between states
//! with variables" — a JSONPath that starts with `$` followed by a name (not
//! `.` or `[`) reads the variable of that name, and the rest of the path
//! applies to the variable's value (`$order.items[0]`).

use crate::dataflow::ContextObject;
use crate::path::ReferencePath;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Input,
    Context,
    Variable(String),
}

/// A parsed path that reads a value (InputPath, OutputPath, ItemsPath, `.$` fields, Choice `Variable`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DataPath {
    /// As written; `$` (the default of most fields) without an allocation.
    text: Cow<'static, str>,
    source: Source,
    /// The path applied to the source (`$…` form).
    path: ReferencePath,
}

impl fmt::Display for DataPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Whether `c` can start a variable name (AWS: a letter or `_`, then letters, digits, `_`).
fn starts_variable(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

impl DataPath {
    /// Parse `text`; the error says what is wrong.
    pub(crate) fn parse(text: &str) -> Result<DataPath, String> {
        if text.starts_with("$$") {
            // A `$$…` reference path walks the context object the same way `$…` walks the input.
            let path = ReferencePath::parse_query(text)?;
            let source = if path.is_context() { Source::Context } else { Source::Input };
            return Ok(DataPath { text: Cow::Owned(text.to_string()), source, path });
        }
        if let Some(after) = text.strip_prefix('$')
            && after.chars().next().is_some_and(starts_variable)
        {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(format!("invalid path `{text}`: `{name}` is not a valid variable name"));
            }
            let rest = format!("${}", &after[end..]);
            let path =
                ReferencePath::parse_query(&rest).map_err(|e| e.replace(&format!("`{rest}`"), &format!("`{text}`")))?;
            return Ok(DataPath {
                text: Cow::Owned(text.to_string()),
                source: Source::Variable(name.to_string()),
                path,
            });
        }
        let path = ReferencePath::parse_query(text)?;
        Ok(DataPath { text: Cow::Owned(text.to_string()), source: Source::Input, path })
    }

    /// The root path `$`.
    pub(crate) fn root() -> DataPath {
        DataPath { text: Cow::Borrowed("$"), source: Source::Input, path: ReferencePath::root() }
    }

    /// Whether this path reads the context object (`$$…`).
    pub(crate) fn is_context(&self) -> bool {
        self.source == Source::Context
    }

    /// Whether this is `$` itself.
    pub(crate) fn is_root(&self) -> bool {
        self.source == Source::Input && self.path.is_root()
    }

    /// The value the path names, if there is one.
    pub(crate) fn resolve(&self, input: &Value, context: &ContextObject<'_>) -> Option<Value> {
        let root = match &self.source {
            Source::Input => input,
            Source::Context => context.value(),
            Source::Variable(name) => context.variable(name)?,
        };
        self.path.query(root)
    }

    /// The path in AWS's normalised bracket form, as its error messages print it
    /// (`$.a.b[0]` → `$['a']['b'][0]`); the text itself when it is not a plain reference path.
    pub(crate) fn normalized(&self) -> String {
        normalize(&self.text).unwrap_or_else(|| self.text.to_string())
    }
}

fn normalize(text: &str) -> Option<String> {
    let mut rest = text.strip_prefix('$')?;
    let mut out = String::from("$");
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() || name == "*" {
                return None;
            }
            out.push_str(&format!("['{name}']"));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inner = &after[..end];
            if inner.bytes().all(|b| b.is_ascii_digit()) && !inner.is_empty() {
                out.push_str(&format!("[{inner}]"));
            } else if (inner.starts_with('\'') && inner.ends_with('\'') && inner.len() >= 2)
                || (inner.starts_with('"') && inner.ends_with('"') && inner.len() >= 2)
            {
                out.push_str(&format!("['{}']", &inner[1..inner.len() - 1]));
            } else {
                return None;
            }
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::test_info;
    use serde_json::{Map, json};

    fn p(text: &str) -> DataPath {
        DataPath::parse(text).unwrap()
    }

    // AWS Step Functions variables: `$name` reads a variable, `$name.a[0]` a part of it.
    #[test]
    fn variables_input_and_context() {
        let info = test_info();
        let mut vars = Map::new();
        vars.insert("order".to_string(), json!({"items": [7, 8]}));
        vars.insert("x".to_string(), json!(1));
        let ctx = ContextObject::new(&info, "S", jiff::Timestamp::UNIX_EPOCH, 0).with_variables(&vars);
        let input = json!({"a": {"b": 2}});
        assert_eq!(p("$order.items[1]").resolve(&input, &ctx), Some(json!(8)));
        assert_eq!(p("$x").resolve(&input, &ctx), Some(json!(1)));
        assert_eq!(p("$nope").resolve(&input, &ctx), None);
        assert_eq!(p("$.a.b").resolve(&input, &ctx), Some(json!(2)));
        assert_eq!(p("$").resolve(&input, &ctx), Some(input.clone()));
        assert_eq!(p("$$.State.Name").resolve(&input, &ctx), Some(json!("S")));
        assert!(p("$$").is_context());
        assert!(p("$").is_root());
        assert!(DataPath::parse("$a-b").is_err());
    }

    // Observed on AWS in the conformance corpus: messages print paths as `$['a'][0]`.
    #[test]
    fn normalized_form() {
        assert_eq!(p("$.NoSuchInputPath").normalized(), "$['NoSuchInputPath']");
        assert_eq!(p("$.a.b[0]['c d']").normalized(), "$['a']['b'][0]['c d']");
        assert_eq!(p("$").normalized(), "$");
    }
}
