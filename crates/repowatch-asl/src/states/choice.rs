//! Choice state and choice rules (States Language: Choice State — Choice Rules).

use super::{DataFlow, allowed};
use crate::dataflow::{ContextObject, Template};
use crate::datapath::DataPath;
use crate::error::StatesError;
use crate::validate::{MISSING, Obj, Problems, Ptr};
use jiff::Timestamp;
use serde_json::Value;
use std::cmp::Ordering;

/// A comparison relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Relation {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Relation::Eq => ord == Ordering::Equal,
            Relation::Lt => ord == Ordering::Less,
            Relation::Gt => ord == Ordering::Greater,
            Relation::Le => ord != Ordering::Greater,
            Relation::Ge => ord != Ordering::Less,
        }
    }
}

/// What a comparison tests.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    String(Relation, Operand),
    Numeric(Relation, Operand),
    Boolean(Operand),
    Timestamp(Relation, Operand),
    StringMatches(String),
    IsPresent(bool),
    IsNull(bool),
    IsString(bool),
    IsNumeric(bool),
    IsBoolean(bool),
    IsTimestamp(bool),
}

/// The right-hand side of a comparison: a literal or a `…Path` reference.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Literal(Value),
    Path(DataPath),
}

/// A choice rule (top-level ones carry `Next`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Compare { variable: DataPath, test: Test },
}

/// Picks the first rule that matches and goes to its `Next` (or `Default`).
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    /// Each top-level rule with its `Next` and its `Assign`.
    pub choices: Vec<(Rule, String, Option<Template>)>,
    pub default: Option<String>,
    pub flow: DataFlow,
}

impl Choice {
    pub(crate) fn parse(obj: Obj<'_, '_>, p: &mut Problems) -> Choice {
        obj.allow(p, &allowed(&["Choices", "Default", "InputPath", "OutputPath", "Assign"]), "a Choice state");
        let ptr = obj.ptr.key("Choices");
        let mut choices = Vec::new();
        match obj.get("Choices") {
            None => p.add(ptr, MISSING),
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let rule_ptr = ptr.index(i);
                    let (rule, next) = parse_rule(item, rule_ptr, p, true);
                    let assign = match item {
                        Value::Object(map) => Obj { map, ptr: rule_ptr }.template(p, "Assign", true),
                        _ => None,
                    };
                    if let (Some(rule), Some(next)) = (rule, next) {
                        choices.push((rule, next, assign));
                    }
                }
            }
            Some(_) => p.add(ptr, "must be a non-empty array of choice rules"),
        }
        Choice { choices, default: obj.opt_str(p, "Default").map(str::to_string), flow: DataFlow::parse_io(obj, p) }
    }

    /// The `Next` (and `Assign`) of the first matching rule, `Default`, or `States.NoChoiceMatched`.
    pub(crate) fn decide(
        &self,
        input: &Value,
        context: &ContextObject<'_>,
    ) -> Result<(&str, Option<&Template>), StatesError> {
        for (rule, next, assign) in &self.choices {
            if rule.eval(input, context)? {
                return Ok((next, assign.as_ref()));
            }
        }
        self.default.as_deref().map(|d| (d, None)).ok_or_else(|| {
            StatesError::new(
                crate::error::STATES_NO_CHOICE_MATCHED,
                "No choice rule matched the input and the Choice state has no Default",
            )
        })
    }
}

const OPERATORS: [&str; 37] = [
    "StringEquals",
    "StringEqualsPath",
    "StringLessThan",
    "StringLessThanPath",
    "StringGreaterThan",
    "StringGreaterThanPath",
    "StringLessThanEquals",
    "StringLessThanEqualsPath",
    "StringGreaterThanEquals",
    "StringGreaterThanEqualsPath",
    "StringMatches",
    "NumericEquals",
    "NumericEqualsPath",
    "NumericLessThan",
    "NumericLessThanPath",
    "NumericGreaterThan",
    "NumericGreaterThanPath",
    "NumericLessThanEquals",
    "NumericLessThanEqualsPath",
    "NumericGreaterThanEquals",
    "NumericGreaterThanEqualsPath",
    "BooleanEquals",
    "BooleanEqualsPath",
    "TimestampEquals",
    "TimestampEqualsPath",
    "TimestampLessThan",
    "TimestampLessThanPath",
    "TimestampGreaterThan",
    "TimestampGreaterThanPath",
    "TimestampLessThanEquals",
    "TimestampLessThanEqualsPath",
    "TimestampGreaterThanEquals",
    "TimestampGreaterThanEqualsPath",
    "IsPresent",
    "IsNull",
    "IsString",
    "IsNumeric",
];
const MORE_OPERATORS: [&str; 2] = ["IsBoolean", "IsTimestamp"];

fn is_operator(key: &str) -> bool {
    OPERATORS.contains(&key) || MORE_OPERATORS.contains(&key)
}

/// Parse one rule; returns the rule and (top level) its `Next`.
fn parse_rule(value: &Value, ptr: Ptr<'_>, p: &mut Problems, top: bool) -> (Option<Rule>, Option<String>) {
    let Value::Object(map) = value else {
        p.add(ptr, "a choice rule must be a JSON object");
        return (None, None);
    };
    let obj = Obj { map, ptr };
    let next = if top {
        obj.req_str(p, "Next").map(str::to_string)
    } else {
        if obj.has("Next") {
            p.add(obj.at("Next"), "`Next` is only allowed on top-level choice rules");
        }
        None
    };
    let combinators: Vec<&str> = ["And", "Or", "Not"].into_iter().filter(|k| obj.has(k)).collect();
    let mut operators: Vec<&String> = Vec::with_capacity(1);
    for key in map.keys() {
        if is_operator(key) {
            operators.push(key);
            continue;
        }
        let known =
            matches!(key.as_str(), "And" | "Or" | "Not" | "Variable" | "Comment" | "Next") || (top && key == "Assign");
        if !known {
            p.add(obj.at(key), "unknown field in a choice rule");
        }
    }
    if combinators.len() + operators.len() != 1 {
        p.add(ptr, "a choice rule needs exactly one of `And`, `Or`, `Not` or a comparison operator");
        return (None, next);
    }
    if let Some(&combinator) = combinators.first() {
        if obj.has("Variable") {
            p.add(obj.at("Variable"), format!("`Variable` is not allowed beside `{combinator}`"));
        }
        let sub_ptr = obj.ptr.key(combinator);
        let rule = match (combinator, obj.get(combinator)) {
            ("Not", Some(inner)) => parse_rule(inner, sub_ptr, p, false).0.map(|r| Rule::Not(Box::new(r))),
            (_, Some(Value::Array(items))) if !items.is_empty() => {
                let rules: Vec<Option<Rule>> =
                    items.iter().enumerate().map(|(i, item)| parse_rule(item, sub_ptr.index(i), p, false).0).collect();
                let rules: Option<Vec<Rule>> = rules.into_iter().collect();
                rules.map(|r| if combinator == "And" { Rule::And(r) } else { Rule::Or(r) })
            }
            _ => {
                p.add(sub_ptr, "must be a non-empty array of choice rules");
                None
            }
        };
        return (rule, next);
    }
    let variable = obj.req_path(p, "Variable");
    let Some(op) = operators.first().map(|s| s.as_str()) else {
        return (None, next);
    };
    let test = parse_test(obj, op, p);
    (variable.zip(test).map(|(variable, test)| Rule::Compare { variable, test }), next)
}

fn parse_test(obj: Obj<'_, '_>, op: &str, p: &mut Problems) -> Option<Test> {
    let value = obj.get(op)?;
    let at = obj.ptr.key(op);
    let is_path = op.ends_with("Path") && op != "StringMatches";
    let operand = if is_path {
        match value.as_str().map(DataPath::parse) {
            Some(Ok(path)) => Operand::Path(path),
            Some(Err(why)) => {
                p.add(at, why);
                return None;
            }
            None => {
                p.add(at, "must be a string path");
                return None;
            }
        }
    } else {
        Operand::Literal(value.clone())
    };
    let base = op.strip_suffix("Path").filter(|_| is_path).unwrap_or(op);
    let relation = if base.ends_with("LessThanEquals") {
        Relation::Le
    } else if base.ends_with("GreaterThanEquals") {
        Relation::Ge
    } else if base.ends_with("LessThan") {
        Relation::Lt
    } else if base.ends_with("GreaterThan") {
        Relation::Gt
    } else {
        Relation::Eq
    };
    let literal_ok = |check: fn(&Value) -> bool, want: &str, p: &mut Problems| -> bool {
        match &operand {
            Operand::Literal(v) if !check(v) => {
                p.add(obj.at(op), format!("must be {want}"));
                false
            }
            _ => true,
        }
    };
    let test = match base {
        b if b.starts_with("String") && b != "StringMatches" => {
            literal_ok(Value::is_string, "a string", p).then(|| Test::String(relation, operand.clone()))?
        }
        "StringMatches" => Test::StringMatches(value.as_str().map(str::to_string).or_else(|| {
            p.add(obj.at(op), "must be a string pattern");
            None
        })?),
        b if b.starts_with("Numeric") => {
            literal_ok(Value::is_number, "a number", p).then(|| Test::Numeric(relation, operand.clone()))?
        }
        "BooleanEquals" => literal_ok(Value::is_boolean, "a boolean", p).then(|| Test::Boolean(operand.clone()))?,
        b if b.starts_with("Timestamp") => literal_ok(
            |v| v.as_str().is_some_and(|s| s.parse::<Timestamp>().is_ok()),
            "an RFC 3339 timestamp string",
            p,
        )
        .then(|| Test::Timestamp(relation, operand.clone()))?,
        _ => {
            let flag = value.as_bool().or_else(|| {
                p.add(obj.at(op), "must be a boolean");
                None
            })?;
            match base {
                "IsPresent" => Test::IsPresent(flag),
                "IsNull" => Test::IsNull(flag),
                "IsString" => Test::IsString(flag),
                "IsNumeric" => Test::IsNumeric(flag),
                "IsBoolean" => Test::IsBoolean(flag),
                _ => Test::IsTimestamp(flag),
            }
        }
    };
    Some(test)
}

fn resolve(path: &DataPath, input: &Value, context: &ContextObject<'_>) -> Option<Value> {
    path.resolve(input, context)
}

fn invalid_path(path: &DataPath) -> StatesError {
    StatesError::runtime(format!(
        "Invalid path '{path}': The choice state's condition path references an invalid value."
    ))
}

impl Rule {
    /// Evaluate against the Choice state's effective input.
    pub(crate) fn eval(&self, input: &Value, context: &ContextObject<'_>) -> Result<bool, StatesError> {
        match self {
            Rule::And(rules) => {
                for r in rules {
                    if !r.eval(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for r in rules {
                    if r.eval(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.eval(input, context)?),
            Rule::Compare { variable, test } => {
                let found = resolve(variable, input, context);
                if let Test::IsPresent(flag) = test {
                    return Ok(found.is_some() == *flag);
                }
                let value = &found.ok_or_else(|| invalid_path(variable))?;
                let operand = |o: &Operand| -> Result<Value, StatesError> {
                    match o {
                        Operand::Literal(v) => Ok(v.clone()),
                        Operand::Path(path) => resolve(path, input, context).ok_or_else(|| invalid_path(path)),
                    }
                };
                Ok(match test {
                    Test::String(rel, o) => match (value.as_str(), operand(o)?.as_str()) {
                        (Some(a), Some(b)) => rel.holds(a.cmp(b)),
                        _ => false,
                    },
                    Test::Numeric(rel, o) => match (value.as_f64(), operand(o)?.as_f64()) {
                        (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(|ord| rel.holds(ord)),
                        _ => false,
                    },
                    Test::Boolean(o) => match (value.as_bool(), operand(o)?.as_bool()) {
                        (Some(a), Some(b)) => a == b,
                        _ => false,
                    },
                    Test::Timestamp(rel, o) => match (as_timestamp(value), as_timestamp(&operand(o)?)) {
                        (Some(a), Some(b)) => rel.holds(a.cmp(&b)),
                        _ => false,
                    },
                    Test::StringMatches(pattern) => value.as_str().is_some_and(|s| glob_match(pattern, s)),
                    Test::IsPresent(_) => true,
                    Test::IsNull(flag) => value.is_null() == *flag,
                    Test::IsString(flag) => value.is_string() == *flag,
                    Test::IsNumeric(flag) => value.is_number() == *flag,
                    Test::IsBoolean(flag) => value.is_boolean() == *flag,
                    Test::IsTimestamp(flag) => as_timestamp(value).is_some() == *flag,
                })
            }
        }
    }
}

fn as_timestamp(value: &Value) -> Option<Timestamp> {
    value.as_str()?.parse().ok()
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
fn glob_match(pattern: &str, text: &str) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Star,
        Char(char),
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => toks.push(Tok::Char(chars.next().unwrap_or('\\'))),
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Char(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Classic greedy matching with backtracking to the last star.
    let (mut t, mut k) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(k) {
            Some(Tok::Char(c)) if *c == text[t] => {
                t += 1;
                k += 1;
            }
            Some(Tok::Star) => {
                star = Some((k, t));
                k += 1;
            }
            _ => match star {
                Some((sk, st)) => {
                    k = sk + 1;
                    t = st + 1;
                    star = Some((sk, st + 1));
                }
                None => return false,
            },
        }
    }
    toks[k..].iter().all(|tok| *tok == Tok::Star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> Rule {
        let mut p = Problems::default();
        let (r, _) = parse_rule(&v, Ptr::Root.key("r"), &mut p, false);
        assert!(p.is_empty(), "{:?}", p.into_sorted());
        r.unwrap()
    }

    fn eval(v: Value, input: Value) -> Result<bool, StatesError> {
        let info = crate::dataflow::test_info();
        let ctx = ContextObject::new(&info, "S", jiff::Timestamp::UNIX_EPOCH, 0);
        rule(v).eval(&input, &ctx)
    }

    // States Language: Choice Rules — string, numeric, boolean and timestamp comparisons incl. `…Path`.
    #[test]
    fn comparisons() {
        let input = json!({"s": "b", "n": 5, "m": 5.0, "t": true, "ts": "2024-01-01T00:00:00Z", "other": "c"});
        let cases = [
            (json!({"Variable": "$.s", "StringEquals": "b"}), true),
            (json!({"Variable": "$.s", "StringLessThan": "c"}), true),
            (json!({"Variable": "$.s", "StringGreaterThanEquals": "c"}), false),
            (json!({"Variable": "$.s", "StringLessThanPath": "$.other"}), true),
            (json!({"Variable": "$.n", "NumericEquals": 5}), true),
            (json!({"Variable": "$.n", "NumericEqualsPath": "$.m"}), true),
            (json!({"Variable": "$.n", "NumericGreaterThan": 4.5}), true),
            (json!({"Variable": "$.n", "NumericLessThanEquals": 4}), false),
            (json!({"Variable": "$.s", "NumericEquals": 5}), false),
            (json!({"Variable": "$.t", "BooleanEquals": true}), true),
            (json!({"Variable": "$.t", "BooleanEqualsPath": "$.t"}), true),
            (json!({"Variable": "$.ts", "TimestampLessThan": "2024-06-01T00:00:00Z"}), true),
            (json!({"Variable": "$.s", "StringMatches": "*b"}), true),
            (json!({"Variable": "$$.Execution.Name", "StringEquals": "run-1"}), true),
        ];
        for (r, want) in cases {
            assert_eq!(eval(r.clone(), input.clone()).unwrap(), want, "{r}");
        }
    }

    // States Language: Choice Rules — type tests, IsPresent, And/Or/Not.
    #[test]
    fn type_tests_and_combinators() {
        let input = json!({"n": null, "x": 1, "s": "a"});
        assert!(eval(json!({"Variable": "$.n", "IsNull": true}), input.clone()).unwrap());
        assert!(eval(json!({"Variable": "$.x", "IsNumeric": true}), input.clone()).unwrap());
        assert!(eval(json!({"Variable": "$.s", "IsString": true}), input.clone()).unwrap());
        assert!(eval(json!({"Variable": "$.s", "IsBoolean": false}), input.clone()).unwrap());
        assert!(eval(json!({"Variable": "$.nope", "IsPresent": false}), input.clone()).unwrap());
        assert!(eval(json!({"And": [{"Variable": "$.x", "NumericEquals": 1}, {"Not": {"Variable": "$.s", "StringEquals": "b"}}]}), input.clone()).unwrap());
        assert!(
            !eval(
                json!({"Or": [{"Variable": "$.x", "NumericEquals": 2}, {"Variable": "$.s", "StringEquals": "b"}]}),
                input.clone()
            )
            .unwrap()
        );
        // A comparison on a missing variable is a runtime error.
        assert_eq!(
            eval(json!({"Variable": "$.nope", "StringEquals": "a"}), input).unwrap_err().error,
            "States.Runtime"
        );
    }

    #[test]
    fn glob() {
        assert!(glob_match("log-*.txt", "log-2024.txt"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a\\*b", "a*b"));
        assert!(!glob_match("a\\*b", "axb"));
        assert!(!glob_match("*.txt", "file.csv"));
        assert!(glob_match("*a*b*", "xxaxxbxx"));
    }

    #[test]
    fn rule_problems() {
        let mut p = Problems::default();
        let _ =
            parse_rule(&json!({"Variable": "$.a", "StringEquals": 3, "Bogus": 1}), Ptr::Root.key("r"), &mut p, true);
        let got: Vec<String> = p.into_sorted().iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "/r/Bogus: unknown field in a choice rule",
                "/r/Next: required field is missing",
                "/r/StringEquals: must be a string"
            ]
        );
    }
}
