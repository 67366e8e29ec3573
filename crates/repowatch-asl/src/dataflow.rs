//! Input and output processing: `InputPath`, `Parameters`/`ItemSelector`,
//! `ResultSelector`, `ResultPath`, `OutputPath`, payload templates with `.$`
//! fields, and the context object (`$$`).
//!
//! States Language: Input and Output Processing.

use std::borrow::Cow;

use crate::datapath::DataPath;
use crate::error::{
    DATA_LIMIT_BYTES, STATES_DATA_LIMIT_EXCEEDED, STATES_PARAMETER_PATH_FAILURE, STATES_RESULT_PATH_MATCH_FAILURE,
    StatesError,
};
use crate::intrinsics;
use crate::path::ReferencePath;
use crate::validate::Ptr;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// Whether a payload has a `.$` field anywhere in it.
fn has_dynamic_field(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(key, field)| key.ends_with(".$") || has_dynamic_field(field)),
        Value::Array(items) => items.iter().any(has_dynamic_field),
        _ => false,
    }
}

/// A payload template (`Parameters`, `ItemSelector`, `ResultSelector`), parsed once.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Template {
    Literal(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    /// A `.$` field whose value is a path.
    Path(DataPath),
    /// A `.$` field whose value is an intrinsic call.
    Intrinsic(String),
}

impl Template {
    /// Parse a template; problems are reported as (relative pointer tokens, message).
    pub(crate) fn parse(value: &Value, pointer: Ptr<'_>, problems: &mut Vec<(String, String)>) -> Template {
        // Most of a payload is literal: copy it whole, without walking it field
        // by field or making a pointer for each field.
        if !has_dynamic_field(value) {
            return Template::Literal(value.clone());
        }
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, field) in map {
                    if !key.ends_with(".$") && !has_dynamic_field(field) {
                        fields.push((key.clone(), Template::Literal(field.clone())));
                        continue;
                    }
                    let field_pointer = pointer.key(key);
                    if let Some(name) = key.strip_suffix(".$") {
                        let Some(expr) = field.as_str() else {
                            problems.push((
                                field_pointer.into(),
                                "the value of a `.$` field must be a string (a path or an intrinsic call)".to_string(),
                            ));
                            continue;
                        };
                        if intrinsics::is_intrinsic(expr) {
                            // Syntax, names and argument counts are checked at load
                            // time, as AWS does when a definition is created.
                            match intrinsics::check(expr) {
                                Ok(()) => fields.push((name.to_string(), Template::Intrinsic(expr.to_string()))),
                                Err(why) => problems.push((field_pointer.into(), why)),
                            }
                        } else {
                            match DataPath::parse(expr) {
                                Ok(path) => fields.push((name.to_string(), Template::Path(path))),
                                Err(why) => problems.push((field_pointer.into(), why)),
                            }
                        }
                    } else {
                        fields.push((key.clone(), Template::parse(field, field_pointer, problems)));
                    }
                }
                if fields.iter().all(|(_, t)| matches!(t, Template::Literal(_))) && fields.len() == map.len() {
                    Template::Literal(value.clone())
                } else {
                    Template::Object(fields)
                }
            }
            Value::Array(items) => {
                let parsed: Vec<Template> = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| Template::parse(item, pointer.index(i), problems))
                    .collect();
                if parsed.iter().all(|t| matches!(t, Template::Literal(_))) {
                    Template::Literal(value.clone())
                } else {
                    Template::Array(parsed)
                }
            }
            other => Template::Literal(other.clone()),
        }
    }

    /// Build the payload for `input` (States Language: Input and Output Processing — Payload Template).
    pub(crate) fn evaluate(&self, input: &Value, context: &ContextObject<'_>) -> Result<Value, StatesError> {
        match self {
            Template::Literal(value) => Ok(value.clone()),
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (key, template) in fields {
                    out.insert(key.clone(), template.evaluate(input, context)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => {
                items.iter().map(|t| t.evaluate(input, context)).collect::<Result<Vec<_>, _>>().map(Value::Array)
            }
            Template::Path(path) => path.resolve(input, context).ok_or_else(|| {
                StatesError::new(
                    STATES_PARAMETER_PATH_FAILURE,
                    format!(
                        "The JSONPath '{path}' could not be found in the {}",
                        if path.is_context() { "context object" } else { "input" }
                    ),
                )
            }),
            Template::Intrinsic(expression) => intrinsics::evaluate(expression, input, context),
        }
    }
}

/// Facts about the running execution, shared by every state. The ARNs only
/// the context object (`$$`) shows are made when a state reads `$$`, not for
/// every execution: most never read it.
#[derive(Debug, Clone)]
pub(crate) struct ExecutionInfo {
    pub name: String,
    /// `$$.Execution.Input`. A copy, not the history's JSON text parsed back:
    /// serde_json's default float parsing does not promise the same `f64`.
    pub input: Value,
    pub start_time: Timestamp,
    pub state_machine_name: String,
    pub region: String,
    pub account_id: String,
    /// EXPRESS executions have no `RedriveCount`, and another kind of ARN.
    pub express: bool,
    pub role_arn: String,
}

impl ExecutionInfo {
    /// `$$.StateMachine.Id`.
    pub(crate) fn state_machine_id(&self) -> String {
        format!("arn:aws:states:{}:{}:stateMachine:{}", self.region, self.account_id, self.state_machine_name)
    }

    /// `$$.Execution.Id`: an execution ARN, or an express one with a UUID-shaped id
    /// derived from the name and the start.
    pub(crate) fn id(&self) -> String {
        let (region, account, machine, name) = (&self.region, &self.account_id, &self.state_machine_name, &self.name);
        if self.express {
            format!("arn:aws:states:{region}:{account}:express:{machine}:{name}:{}", express_id(name, self.start_time))
        } else {
            format!("arn:aws:states:{region}:{account}:execution:{machine}:{name}")
        }
    }
}

/// The last part of an EXPRESS execution ARN: a UUID-shaped id derived from the name and start.
fn express_id(name: &str, start: Timestamp) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut hasher);
    start.as_nanosecond().hash(&mut hasher);
    let a = hasher.finish();
    a.hash(&mut hasher);
    let b = hasher.finish();
    let hex = format!("{a:016x}{b:016x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// The context object of one state (`$$`), built lazily on first use.
#[derive(Debug)]
pub(crate) struct ContextObject<'a> {
    pub execution: &'a ExecutionInfo,
    pub state_name: &'a str,
    pub entered_time: Timestamp,
    pub retry_count: u32,
    /// `$$.State.RetryCount` is shown for states that can retry (Task, Map, Parallel).
    pub retriable: bool,
    /// `$$.Map.Item.Index` and `$$.Map.Item.Value` while evaluating an ItemSelector.
    pub map_item: Option<(usize, &'a Value)>,
    /// The variables in scope (`$name`).
    pub variables: Option<&'a Map<String, Value>>,
    built: OnceLock<Value>,
}

impl<'a> ContextObject<'a> {
    pub(crate) fn new(
        execution: &'a ExecutionInfo,
        state_name: &'a str,
        entered_time: Timestamp,
        retry_count: u32,
    ) -> Self {
        ContextObject {
            execution,
            state_name,
            entered_time,
            retry_count,
            retriable: false,
            map_item: None,
            variables: None,
            built: OnceLock::new(),
        }
    }

    /// The variables the state can read.
    pub(crate) fn with_variables(mut self, variables: &'a Map<String, Value>) -> Self {
        self.variables = Some(variables);
        self
    }

    /// The value of variable `name`, if it is set.
    pub(crate) fn variable(&self, name: &str) -> Option<&'a Value> {
        self.variables?.get(name)
    }

    /// The context of a state that can retry: `$$.State.RetryCount` is present.
    pub(crate) fn retriable(mut self) -> Self {
        self.retriable = true;
        self.built = OnceLock::new();
        self
    }

    pub(crate) fn with_map_item(mut self, index: usize, value: &'a Value) -> Self {
        self.map_item = Some((index, value));
        self.built = OnceLock::new();
        self
    }

    /// The context object as JSON (States Language: Context Object).
    pub(crate) fn value(&self) -> &Value {
        self.built.get_or_init(|| {
            let e = self.execution;
            let mut execution = json!({
                "Id": e.id(),
                "Input": e.input,
                "Name": e.name,
                "RoleArn": e.role_arn,
                "StartTime": e.start_time.to_string(),
            });
            if let (false, Value::Object(map)) = (e.express, &mut execution) {
                map.insert("RedriveCount".to_string(), json!(0));
            }
            let mut state = json!({
                "Name": self.state_name,
                "EnteredTime": self.entered_time.to_string(),
            });
            if let (true, Value::Object(map)) = (self.retriable, &mut state) {
                map.insert("RetryCount".to_string(), json!(self.retry_count));
            }
            let mut ctx = json!({
                "Execution": execution,
                "State": state,
                "StateMachine": {
                    "Id": e.state_machine_id(),
                    "Name": e.state_machine_name,
                },
            });
            if let (Some((index, value)), Value::Object(map)) = (self.map_item, &mut ctx) {
                map.insert("Map".to_string(), json!({"Item": {"Index": index, "Value": value}}));
            }
            ctx
        })
    }
}

/// Resolve a `Path` field (InputPath, OutputPath, ItemsPath…): `None` is `null`.
/// A path that selects nothing is a `States.Runtime` error, worded as AWS words it
/// (observed on AWS: "Invalid path '$.x' : No results for path: $['x']").
pub(crate) fn select<'v>(
    path: Option<&DataPath>,
    _field: &str,
    input: &'v Value,
    context: &ContextObject<'_>,
) -> Result<Cow<'v, Value>, StatesError> {
    let Some(path) = path else {
        return Ok(Cow::Owned(Value::Object(Map::new())));
    };
    if path.is_root() {
        return Ok(Cow::Borrowed(input));
    }
    path.resolve(input, context).map(Cow::Owned).ok_or_else(|| missing(path))
}

/// [`select`] on a value the caller gives up: `$` moves it instead of copying.
pub(crate) fn select_owned(
    path: Option<&DataPath>,
    field: &str,
    input: Value,
    context: &ContextObject<'_>,
) -> Result<Value, StatesError> {
    match path {
        Some(p) if p.is_root() => Ok(input),
        _ => select(path, field, &input, context).map(Cow::into_owned),
    }
}

fn missing(path: &DataPath) -> StatesError {
    StatesError::runtime(format!("Invalid path '{path}' : No results for path: {}", path.normalized()))
}

/// Apply `ResultPath` (States Language: Input and Output Processing — ResultPath).
/// `None` is `ResultPath: null` (keep the input, drop the result).
pub(crate) fn merge_result(
    result_path: Option<&ReferencePath>,
    input: Value,
    result: Value,
) -> Result<Value, StatesError> {
    let Some(path) = result_path else {
        return Ok(input);
    };
    if path.is_root() {
        return Ok(result);
    }
    let mut output = input;
    path.set(&mut output, result).map_err(|why| {
        StatesError::new(
            STATES_RESULT_PATH_MATCH_FAILURE,
            format!("Unable to apply ResultPath '{path}' to the state's input: {why}"),
        )
    })?;
    Ok(output)
}

/// Fail with `States.DataLimitExceeded` when a state's input or output
/// serializes to more than 256 KiB. `bytes` is the length of the JSON text
/// the history records anyway, so the value is serialized once, not twice.
pub(crate) fn check_serialized_size(bytes: usize, state: &str) -> Result<(), StatesError> {
    if bytes > DATA_LIMIT_BYTES {
        // Observed on AWS (conformance corpus): the same wording for a state's input and output.
        return Err(StatesError::new(
            STATES_DATA_LIMIT_EXCEEDED,
            format!(
                "The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service limit."
            ),
        ));
    }
    Ok(())
}

/// An [`ExecutionInfo`] for unit tests.
#[cfg(test)]
pub(crate) fn test_info() -> ExecutionInfo {
    ExecutionInfo {
        name: "run-1".into(),
        input: json!({"orig": true}),
        start_time: Timestamp::UNIX_EPOCH,
        state_machine_name: "sm".into(),
        region: "us-east-1".into(),
        account_id: "111122223333".into(),
        express: false,
        role_arn: "arn:role".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ExecutionInfo {
        test_info()
    }

    fn template(v: Value) -> Template {
        let mut problems = Vec::new();
        let t = Template::parse(&v, Ptr::Root.key("Parameters"), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        t
    }

    // States Language: Input and Output Processing — Payload Template (`.$` fields, nested objects and arrays).
    #[test]
    fn payload_template_resolves_paths_and_context() {
        let info = info();
        let ctx = ContextObject::new(&info, "S", Timestamp::UNIX_EPOCH, 0);
        let t = template(json!({
            "flag": "literal",
            "a.$": "$.x",
            "nested": {"b.$": "$.y[1]", "list": [{"c.$": "$"}, 3]},
            "name.$": "$$.Execution.Name",
            "state.$": "$$.State.Name",
            "orig.$": "$$.Execution.Input.orig",
        }));
        let out = t.evaluate(&json!({"x": 1, "y": [0, 2]}), &ctx).unwrap();
        assert_eq!(
            out,
            json!({"flag": "literal", "a": 1, "nested": {"b": 2, "list": [{"c": {"x": 1, "y": [0, 2]}}, 3]},
                   "name": "run-1", "state": "S", "orig": true})
        );
    }

    // States Language: Errors — States.ParameterPathFailure.
    #[test]
    fn missing_parameter_path_fails() {
        let info = info();
        let ctx = ContextObject::new(&info, "S", Timestamp::UNIX_EPOCH, 0);
        let err = template(json!({"a.$": "$.nope"})).evaluate(&json!({}), &ctx).unwrap_err();
        assert_eq!(err.error, "States.ParameterPathFailure");
        let err = template(json!({"a.$": "$$.Task.Token"})).evaluate(&json!({}), &ctx).unwrap_err();
        assert_eq!(err.error, "States.ParameterPathFailure");
    }

    #[test]
    fn template_parse_problems() {
        let mut problems = Vec::new();
        Template::parse(&json!({"a.$": 3, "b.$": "x", "c": {"d.$": "$.e["}}), Ptr::Root.key("P"), &mut problems);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert_eq!(problems[0].0, "/P/a.$");
        assert_eq!(problems[2].0, "/P/c/d.$");
    }

    // States Language: Context Object — Map.Item inside ItemSelector.
    #[test]
    fn map_item_in_context() {
        let info = info();
        let item = json!("v");
        let ctx = ContextObject::new(&info, "M", Timestamp::UNIX_EPOCH, 0).with_map_item(3, &item);
        let t = template(json!({"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "sm.$": "$$.StateMachine.Id"}));
        assert_eq!(
            t.evaluate(&json!({}), &ctx).unwrap(),
            json!({"i": 3, "v": "v", "sm": "arn:aws:states:us-east-1:111122223333:stateMachine:sm"})
        );
    }

    // States Language: Input and Output Processing — ResultPath null, `$`, nested.
    #[test]
    fn result_path_variants() {
        let p = ReferencePath::parse("$.r").unwrap();
        assert_eq!(merge_result(None, json!({"a": 1}), json!(2)).unwrap(), json!({"a": 1}));
        assert_eq!(merge_result(Some(&ReferencePath::root()), json!({"a": 1}), json!(2)).unwrap(), json!(2));
        assert_eq!(merge_result(Some(&p), json!({"a": 1}), json!(2)).unwrap(), json!({"a": 1, "r": 2}));
        let err = merge_result(Some(&p), json!("scalar"), json!(2)).unwrap_err();
        assert_eq!(err.error, "States.ResultPathMatchFailure");
    }

    // States Language: Input and Output Processing — InputPath/OutputPath null gives `{}`; a missing path is States.Runtime.
    #[test]
    fn select_paths() {
        let info = info();
        let ctx = ContextObject::new(&info, "S", Timestamp::UNIX_EPOCH, 0);
        assert_eq!(select(None, "InputPath", &json!({"a": 1}), &ctx).unwrap().into_owned(), json!({}));
        let a = DataPath::parse("$.a").unwrap();
        assert_eq!(select(Some(&a), "InputPath", &json!({"a": 1}), &ctx).unwrap().into_owned(), json!(1));
        assert_eq!(select(Some(&a), "InputPath", &json!({}), &ctx).unwrap_err().error, "States.Runtime");
        let err = select(Some(&a), "InputPath", &json!({}), &ctx).unwrap_err();
        assert_eq!(err.cause, "Invalid path '$.a' : No results for path: $['a']");
    }

    // Limits: state input/output over 256 KiB.
    #[test]
    fn data_limit() {
        let big = Value::String("x".repeat(DATA_LIMIT_BYTES));
        assert_eq!(check_serialized_size(big.to_string().len(), "S").unwrap_err().error, "States.DataLimitExceeded");
        assert!(check_serialized_size(Value::String("x".repeat(DATA_LIMIT_BYTES - 2)).to_string().len(), "S").is_ok());
    }
}
