//! Definition checking: the field helpers every state parser uses, and
//! [`validate`], which reports every problem with its JSON pointer.
//!
//! Parsing and validating are one pass: the parsers in [`crate::states`] and
//! [`crate::machine`] record each problem as they go and build the typed
//! machine; a definition is accepted only if no problem was recorded.

use crate::dataflow::Template;
use crate::datapath::DataPath;
use crate::error::ValidationProblem;
use crate::path::ReferencePath;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Append one RFC 6901 reference token to a pointer (escaping `~` and `/`).
fn push_token(out: &mut String, token: &str) {
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// A field of a JSON object. The objects of a definition and most payloads
/// are small, and a parser asks for every optional field, most of them
/// absent: comparing the keys is several times cheaper than hashing the name
/// (serde_json's map hashes with SipHash) for an object of up to
/// [`SCAN_LIMIT`] fields.
pub(crate) fn field<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    if map.len() <= SCAN_LIMIT { map.iter().find_map(|(k, v)| (k == key).then_some(v)) } else { map.get(key) }
}

/// Up to this many names, finding one by comparing names is cheaper than
/// hashing it: object fields ([`field`]) and a machine's states
/// ([`NameIndex`]).
pub(crate) const SCAN_LIMIT: usize = 16;

/// Finds a name's position in a list of names: by comparing names up to
/// [`SCAN_LIMIT`] of them, through a hash index past it.
#[derive(Debug, Clone, Default)]
pub(crate) struct NameIndex(Option<HashMap<String, usize>>);

impl NameIndex {
    pub(crate) fn new<'n>(names: impl ExactSizeIterator<Item = &'n str>) -> NameIndex {
        NameIndex((names.len() > SCAN_LIMIT).then(|| names.enumerate().map(|(i, n)| (n.to_owned(), i)).collect()))
    }

    /// The position of `name` in `names`, the list this index was made from.
    pub(crate) fn position<'n>(&self, mut names: impl Iterator<Item = &'n str>, name: &str) -> Option<usize> {
        match &self.0 {
            Some(index) => index.get(name).copied(),
            None => names.position(|n| n == name),
        }
    }
}

/// Where a value sits in a definition. Its RFC 6901 pointer text is made
/// only when a problem is reported there: parsing a valid definition makes
/// none (it used to make one string per state and per field parsed).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ptr<'a> {
    Root,
    Key(&'a Ptr<'a>, &'a str),
    Index(&'a Ptr<'a>, usize),
}

impl<'a> Ptr<'a> {
    /// The member `key` of the object here.
    pub(crate) fn key(&'a self, key: &'a str) -> Ptr<'a> {
        Ptr::Key(self, key)
    }

    /// Item `i` of the array here.
    pub(crate) fn index(&'a self, i: usize) -> Ptr<'a> {
        Ptr::Index(self, i)
    }

    fn write(&self, out: &mut String) {
        match self {
            Ptr::Root => {}
            Ptr::Key(parent, key) => {
                parent.write(out);
                push_token(out, key);
            }
            Ptr::Index(parent, i) => {
                parent.write(out);
                out.push('/');
                out.push_str(&i.to_string());
            }
        }
    }
}

impl From<Ptr<'_>> for String {
    fn from(ptr: Ptr<'_>) -> String {
        let mut out = String::new();
        ptr.write(&mut out);
        out
    }
}

/// Collects problems while a definition is parsed.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    list: Vec<ValidationProblem>,
}

impl Problems {
    pub(crate) fn add(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.list.push(ValidationProblem::new(pointer, message));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The problems sorted by pointer (stable, so one place keeps its order).
    pub(crate) fn into_sorted(mut self) -> Vec<ValidationProblem> {
        self.list.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        self.list.dedup();
        self.list
    }
}

/// The fields an object may have, for [`Obj::allow`].
pub(crate) trait Allowed {
    fn allows(&self, key: &str) -> bool;
}

impl Allowed for [&str] {
    fn allows(&self, key: &str) -> bool {
        self.contains(&key)
    }
}

impl<const N: usize> Allowed for [&str; N] {
    fn allows(&self, key: &str) -> bool {
        self.as_slice().allows(key)
    }
}

/// A JSON object being parsed, with its pointer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Obj<'v, 'p> {
    pub map: &'v Map<String, Value>,
    pub ptr: Ptr<'p>,
}

pub(crate) const MISSING: &str = "required field is missing";

impl<'v> Obj<'v, '_> {
    pub(crate) fn at(&self, key: &str) -> String {
        self.ptr.key(key).into()
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'v Value> {
        field(self.map, key)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        field(self.map, key).is_some()
    }

    /// Report every field not in `allowed` (fields the next version will
    /// support get their own message).
    pub(crate) fn allow(&self, p: &mut Problems, allowed: &(impl Allowed + ?Sized), what: &str) {
        for key in self.map.keys() {
            if allowed.allows(key) {
                continue;
            }
            let message = match key.as_str() {
                "Arguments" | "Output" => {
                    format!("`{key}` belongs to the JSONata query language, which is not supported yet")
                }
                "QueryLanguage" => "`QueryLanguage` is only allowed at the top level".to_string(),
                "ItemReader" | "ResultWriter" => {
                    format!("`{key}` of the distributed Map (reading or writing S3) is not supported yet")
                }
                _ => format!("unknown field for {what}"),
            };
            p.add(self.at(key), message);
        }
    }

    pub(crate) fn req_str(&self, p: &mut Problems, key: &str) -> Option<&'v str> {
        match self.get(key) {
            None => {
                p.add(self.at(key), MISSING);
                None
            }
            Some(_) => self.opt_str(p, key),
        }
    }

    pub(crate) fn opt_str(&self, p: &mut Problems, key: &str) -> Option<&'v str> {
        match self.get(key)? {
            Value::String(s) => Some(s),
            _ => {
                p.add(self.at(key), "must be a string");
                None
            }
        }
    }

    pub(crate) fn opt_bool(&self, p: &mut Problems, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            _ => {
                p.add(self.at(key), "must be a boolean");
                None
            }
        }
    }

    /// An integer field that must be at least `min`.
    pub(crate) fn opt_uint(&self, p: &mut Problems, key: &str, min: u64) -> Option<u64> {
        let value = self.get(key)?;
        match value.as_u64() {
            Some(n) if n >= min => Some(n),
            _ => {
                let bound =
                    if min == 0 { "a non-negative integer".to_string() } else { format!("an integer >= {min}") };
                p.add(self.at(key), format!("must be {bound}"));
                None
            }
        }
    }

    /// A number field that must be at least `min`.
    pub(crate) fn opt_number(&self, p: &mut Problems, key: &str, min: f64) -> Option<f64> {
        let value = self.get(key)?;
        match value.as_f64() {
            Some(n) if n >= min && n.is_finite() => Some(n),
            _ => {
                p.add(self.at(key), format!("must be a number >= {min:?}"));
                None
            }
        }
    }

    /// A Path field defaulting to `$`; `null` gives `None` (InputPath, OutputPath).
    pub(crate) fn io_path(&self, p: &mut Problems, key: &str) -> Option<DataPath> {
        match self.get(key) {
            None => Some(DataPath::root()),
            Some(Value::Null) => None,
            Some(_) => Some(self.req_path(p, key).unwrap_or_else(DataPath::root)),
        }
    }

    /// `ResultPath`: defaults to `$`, `null` gives `None`; a reference path into the
    /// state's data (no `$$`, no variables).
    pub(crate) fn result_path(&self, p: &mut Problems, key: &str) -> Option<ReferencePath> {
        let text = match self.get(key) {
            None => return Some(ReferencePath::root()),
            Some(Value::Null) => return None,
            Some(_) => self.req_str(p, key)?,
        };
        if text.starts_with("$$") {
            p.add(self.at(key), format!("invalid path `{text}`: the context object `$$` cannot be used here"));
            return Some(ReferencePath::root());
        }
        match ReferencePath::parse(text) {
            Ok(path) => Some(path),
            Err(why) => {
                p.add(self.at(key), why);
                Some(ReferencePath::root())
            }
        }
    }

    /// A path field that must be a string path when present.
    pub(crate) fn req_path(&self, p: &mut Problems, key: &str) -> Option<DataPath> {
        let text = self.req_str(p, key)?;
        match DataPath::parse(text) {
            Ok(path) => Some(path),
            Err(why) => {
                p.add(self.at(key), why);
                None
            }
        }
    }

    pub(crate) fn opt_path(&self, p: &mut Problems, key: &str) -> Option<DataPath> {
        if self.has(key) { self.req_path(p, key) } else { None }
    }

    /// A payload template field (`Parameters`, `ItemSelector`, `ResultSelector`).
    pub(crate) fn template(&self, p: &mut Problems, key: &str, must_be_object: bool) -> Option<Template> {
        let value = self.get(key)?;
        if must_be_object && !value.is_object() {
            p.add(self.at(key), "must be a JSON object");
            return None;
        }
        let mut found = Vec::new();
        let template = Template::parse(value, self.ptr.key(key), &mut found);
        for (pointer, message) in found {
            p.add(pointer, message);
        }
        Some(template)
    }
}

/// Check a state machine definition against the States Language rules this
/// interpreter knows and return every problem, sorted by pointer. An empty
/// list means [`crate::StateMachine::from_value`] accepts the definition.
///
/// ```
/// let definition = serde_json::json!({
///     "StartAt": "Build",
///     "States": { "Build": { "Type": "Task", "Resource": "build", "Next": "Nowhere" } }
/// });
/// let problems = repowatch_asl::validate(&definition);
/// assert_eq!(problems[0].to_string(), "/States/Build/Next: refers to unknown state `Nowhere`");
/// ```
pub fn validate(definition: &Value) -> Vec<ValidationProblem> {
    let mut problems = Problems::default();
    let _ = crate::machine::parse_root(definition, &mut problems);
    problems.into_sorted()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Objects up to 16 fields are scanned, larger ones hashed: the same answers.
    #[test]
    fn field_finds_keys_in_small_and_large_objects() {
        for n in [0, 1, 16, 17, 100] {
            let map: Map<String, Value> = (0..n).map(|i| (format!("k{i}"), Value::from(i))).collect();
            for i in 0..n {
                assert_eq!(field(&map, &format!("k{i}")), Some(&Value::from(i)), "{n} fields");
            }
            assert_eq!(field(&map, "k"), None);
            assert_eq!(field(&map, &format!("k{n}")), None);
        }
    }

    // RFC 6901 escaping of state names in pointers.
    #[test]
    fn pointer_escapes() {
        let states = Ptr::Root.key("States");
        assert_eq!(String::from(states.key("a/b~c")), "/States/a~1b~0c");
        assert_eq!(String::from(Ptr::Root.key("StartAt")), "/StartAt");
        assert_eq!(String::from(states.key("P").key("Branches").index(2)), "/States/P/Branches/2");
        assert_eq!(String::from(Ptr::Root), "");
    }
}
