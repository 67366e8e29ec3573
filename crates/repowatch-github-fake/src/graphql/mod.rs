//! `POST /graphql`: parses the query (graphql-parser), validates it against the served part of GitHub's schema,
//! applies GitHub's limits (pagination bounds, the 500,000 node limit, the query cost) and executes it generically
//! over the in-memory repositories.
//!
//! Like GitHub, a query that fails validation or the limits gets HTTP 200 with only `errors` (no `data`); a missing
//! repository gets `null` at its alias and a `NOT_FOUND` error while the rest of the query resolves.

mod analyze;
mod exec;
pub(crate) mod schema;
mod validate;

use std::collections::{HashMap, HashSet};

use graphql_parser::Pos;
use graphql_parser::query::{
    Definition, Directive, Document, Field, FragmentDefinition, OperationDefinition, SelectionSet, Type,
    Value as GValue, VariableDefinition,
};
use serde_json::{Map, Value, json};

use crate::reply::Reply;
use crate::state::State;

const DOC: &str = "https://docs.github.com/graphql";

/// A parsed request: the operation to run, its fragments and its coerced variables.
pub(crate) struct Parsed<'q> {
    pub(crate) fragments: HashMap<&'q str, &'q FragmentDefinition<'q, &'q str>>,
    pub(crate) fragment_list: Vec<&'q FragmentDefinition<'q, &'q str>>,
    /// `query`, `mutation` or `subscription`.
    pub(crate) kind: &'static str,
    pub(crate) name: Option<&'q str>,
    pub(crate) var_defs: &'q [VariableDefinition<'q, &'q str>],
    pub(crate) selection: &'q SelectionSet<'q, &'q str>,
    /// Variable values: the request's, else the declared defaults.
    pub(crate) vars: Map<String, Value>,
}

impl<'q> Parsed<'q> {
    /// Picks the operation (by `operationName` when there are several).
    fn new(
        doc: &'q Document<'q, &'q str>,
        operation_name: Option<&str>,
        variables: &Map<String, Value>,
    ) -> Result<Self, Vec<Value>> {
        let mut fragments = HashMap::new();
        let mut fragment_list = Vec::new();
        let mut operations = Vec::new();
        let mut errors = Vec::new();
        for definition in &doc.definitions {
            match definition {
                Definition::Fragment(fragment) => {
                    if fragments.insert(fragment.name, fragment).is_some() {
                        errors.push(error(
                            format!("Fragment name \"{}\" must be unique", fragment.name),
                            None,
                            Some(fragment.position),
                            None,
                            Some(json!({ "code": "fragmentNotUnique", "fragmentName": fragment.name })),
                        ));
                    }
                    fragment_list.push(fragment);
                }
                Definition::Operation(op) => operations.push(op),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let op = match operation_name {
            Some(wanted) => operations
                .into_iter()
                .find(|op| op_parts(op).1 == Some(wanted))
                .ok_or_else(|| vec![error(format!("No operation named \"{wanted}\""), None, None, None, None)])?,
            None if operations.len() == 1 => operations[0],
            None if operations.is_empty() => {
                return Err(vec![error("No operations in query document".to_owned(), None, None, None, None)]);
            }
            None => {
                return Err(vec![error(
                    "An operation name is required when the document has several operations".to_owned(),
                    None,
                    None,
                    None,
                    None,
                )]);
            }
        };
        let (kind, name, var_defs, selection, position) = op_parts(op);
        if kind != "query" {
            return Err(vec![error(
                format!("Schema is not configured for {kind}s"),
                None,
                position,
                None,
                Some(json!({ "code": "missingFieldsForOperation" })),
            )]);
        }
        let mut vars = Map::new();
        for def in var_defs {
            if let Some(v) = variables.get(def.name) {
                vars.insert(def.name.to_owned(), v.clone());
            } else if let Some(default) = &def.default_value {
                vars.insert(def.name.to_owned(), to_json(default, &Map::new()));
            }
        }
        Ok(Self { fragments, fragment_list, kind, name, var_defs, selection, vars })
    }

    /// `query Detect` (or just `query`), the root of validation error paths.
    pub(crate) fn label(&self) -> String {
        match self.name {
            Some(name) => format!("{} {name}", self.kind),
            None => self.kind.to_owned(),
        }
    }

    /// Checks the variable values against their declared types.
    fn check_variables(&self) -> Vec<Value> {
        let mut errors = Vec::new();
        for def in self.var_defs {
            let (named, non_null, is_list) = type_parts(&def.var_type);
            if is_list || schema::input(named).is_none() {
                continue; // reported by validation
            }
            let ok = match self.vars.get(def.name) {
                Some(v) => schema::accepts_json(named, non_null, v),
                None => !non_null,
            };
            if !ok {
                let value = self.vars.get(def.name).cloned().unwrap_or(Value::Null);
                errors.push(error(
                    format!(
                        "Variable ${} of type {} was provided invalid value",
                        def.name,
                        type_notation(&def.var_type)
                    ),
                    None,
                    Some(def.position),
                    None,
                    Some(json!({
                        "value": value,
                        "problems": [{ "path": [], "explanation": format!("Expected value to be a valid {named}") }],
                    })),
                ));
            }
        }
        errors
    }
}

type OpParts<'q> =
    (&'static str, Option<&'q str>, &'q [VariableDefinition<'q, &'q str>], &'q SelectionSet<'q, &'q str>, Option<Pos>);

fn op_parts<'q>(op: &'q OperationDefinition<'q, &'q str>) -> OpParts<'q> {
    match op {
        OperationDefinition::SelectionSet(s) => ("query", None, &[], s, Some(s.span.0)),
        OperationDefinition::Query(q) => ("query", q.name, &q.variable_definitions, &q.selection_set, Some(q.position)),
        OperationDefinition::Mutation(m) => {
            ("mutation", m.name, &m.variable_definitions, &m.selection_set, Some(m.position))
        }
        OperationDefinition::Subscription(s) => {
            ("subscription", s.name, &s.variable_definitions, &s.selection_set, Some(s.position))
        }
    }
}

/// (named type, non-null, is a list) of a variable's type.
pub(crate) fn type_parts<'q>(ty: &Type<'q, &'q str>) -> (&'q str, bool, bool) {
    match ty {
        Type::NamedType(n) => (n, false, false),
        Type::ListType(inner) => (type_parts(inner).0, false, true),
        Type::NonNullType(inner) => {
            let (n, _, list) = type_parts(inner);
            (n, true, list)
        }
    }
}

pub(crate) fn type_notation<'q>(ty: &Type<'q, &'q str>) -> String {
    match ty {
        Type::NamedType(n) => (*n).to_owned(),
        Type::ListType(inner) => format!("[{}]", type_notation(inner)),
        Type::NonNullType(inner) => format!("{}!", type_notation(inner)),
    }
}

/// A literal or variable as JSON (enum values become strings).
pub(crate) fn to_json<'a>(value: &GValue<'a, &'a str>, vars: &Map<String, Value>) -> Value {
    match value {
        GValue::Variable(name) => vars.get(*name).cloned().unwrap_or(Value::Null),
        GValue::Int(n) => n.as_i64().map_or(Value::Null, Value::from),
        GValue::Float(x) => json!(x),
        GValue::String(s) => Value::String(s.clone()),
        GValue::Boolean(b) => Value::Bool(*b),
        GValue::Null => Value::Null,
        GValue::Enum(e) => Value::String((*e).to_owned()),
        GValue::List(items) => Value::Array(items.iter().map(|v| to_json(v, vars)).collect()),
        GValue::Object(map) => Value::Object(map.iter().map(|(k, v)| ((*k).to_owned(), to_json(v, vars))).collect()),
    }
}

/// A field's arguments as JSON; an argument given as an unset variable is absent.
pub(crate) fn field_args<'a>(field: &Field<'a, &'a str>, vars: &Map<String, Value>) -> Map<String, Value> {
    field
        .arguments
        .iter()
        .filter(|(_, v)| !matches!(v, GValue::Variable(name) if !vars.contains_key(*name)))
        .map(|(k, v)| ((*k).to_owned(), to_json(v, vars)))
        .collect()
}

/// Whether `@skip` / `@include` keep a selection.
pub(crate) fn included<'a>(directives: &[Directive<'a, &'a str>], vars: &Map<String, Value>) -> bool {
    directives.iter().all(|d| {
        let condition = d.arguments.iter().find(|(k, _)| *k == "if").map(|(_, v)| to_json(v, vars));
        match d.name {
            "skip" => condition != Some(Value::Bool(true)),
            "include" => condition != Some(Value::Bool(false)),
            _ => true,
        }
    })
}

pub(crate) fn location(pos: Pos) -> Value {
    json!({ "line": pos.line, "column": pos.column })
}

/// A GraphQL error in GitHub's shape (`type`, `path`, `extensions`, `locations`, `message`, present when given).
pub(crate) fn error(
    message: String,
    path: Option<Vec<Value>>,
    pos: Option<Pos>,
    kind: Option<&str>,
    extensions: Option<Value>,
) -> Value {
    let mut e = Map::new();
    if let Some(kind) = kind {
        e.insert("type".to_owned(), json!(kind));
    }
    if let Some(path) = path {
        e.insert("path".to_owned(), Value::Array(path));
    }
    if let Some(extensions) = extensions {
        e.insert("extensions".to_owned(), extensions);
    }
    if let Some(pos) = pos {
        e.insert("locations".to_owned(), json!([location(pos)]));
    }
    e.insert("message".to_owned(), Value::String(message));
    Value::Object(e)
}

/// HTTP 200 with only `errors`: GitHub's answer to a query it rejects before executing it.
fn rejected(errors: Vec<Value>) -> Reply {
    Reply::json(200, json!({ "errors": errors }))
}

/// A graphql-parser message (`query parse error: Parse error at 3:5\nUnexpected ...`) as a GitHub parse error.
fn parse_error(message: &str) -> Value {
    let detail = message.trim_start_matches("query parse error: ").replace('\n', " ").trim().to_owned();
    let pos = detail.split_once(" at ").and_then(|(_, rest)| {
        let coords = rest.split_whitespace().next()?;
        let (line, column) = coords.split_once(':')?;
        Some(Pos { line: line.parse().ok()?, column: column.parse().ok()? })
    });
    error(detail, None, pos, None, None)
}

/// Answers `POST /graphql`.
pub(crate) fn handle(st: &mut State, body: &[u8]) -> Reply {
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return Reply::error(400, "Problems parsing JSON", DOC),
    };
    let Some(query) = request.get("query").and_then(Value::as_str) else {
        return rejected(vec![json!({ "message": "A query attribute must be specified and must be a string." })]);
    };
    let variables = match request.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(Value::String(s)) if s.trim().is_empty() => Map::new(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(map)) => map,
            _ => return rejected(vec![json!({ "message": "Variables are invalid JSON." })]),
        },
        Some(_) => return rejected(vec![json!({ "message": "Variables must be an object." })]),
    };
    let operation_name = request.get("operationName").and_then(Value::as_str).filter(|s| !s.is_empty());
    let doc = match graphql_parser::parse_query::<&str>(query) {
        Ok(doc) => doc,
        Err(e) => return rejected(vec![parse_error(&e.to_string())]),
    };
    let parsed = match Parsed::new(&doc, operation_name, &variables) {
        Ok(parsed) => parsed,
        Err(errors) => return rejected(errors),
    };
    let errors = validate::validate(&parsed);
    if !errors.is_empty() {
        return rejected(errors);
    }
    let errors = parsed.check_variables();
    if !errors.is_empty() {
        return rejected(errors);
    }
    if let Some(max) = st.max_batch {
        let repositories = analyze::repository_fields(&parsed);
        if repositories > max {
            return Reply::json(
                502,
                json!({
                    "data": null,
                    "errors": [{
                        "message": "Something went wrong while executing your query. This may be the result of a timeout, or it could be a GitHub bug. Please include `FAKE:0000:0000000:0000000:00000000` when reporting this issue."
                    }],
                }),
            );
        }
    }
    let analysis = analyze::analyze(&parsed);
    if !analysis.errors.is_empty() {
        return rejected(analysis.errors);
    }
    if !analysis.dry_run {
        if st.graphql.remaining() < analysis.cost {
            return Reply::json(
                200,
                json!({
                    "errors": [{ "type": "RATE_LIMITED", "message": "API rate limit already exceeded for user ID 1." }],
                }),
            )
            .with_header("x-ratelimit-remaining", st.graphql.remaining().to_string());
        }
        st.graphql.used += analysis.cost;
        st.points_used += u64::from(analysis.cost);
    }
    let rate = exec::RateInfo {
        cost: analysis.cost,
        node_count: analysis.node_count,
        limit: st.graphql.limit,
        used: st.graphql.used,
        remaining: st.graphql.remaining(),
        reset_at: st.reset_at,
    };
    let (data, errors) = exec::execute(st, &parsed, rate);
    let mut body = Map::new();
    body.insert("data".to_owned(), data);
    if !errors.is_empty() {
        body.insert("errors".to_owned(), Value::Array(errors));
    }
    Reply::json(200, Value::Object(body))
}

/// Fields selected on an object of type `runtime`, grouped by response key in query order, with `@skip`/`@include`
/// and fragments applied (GraphQL's CollectFields).
pub(crate) fn collect_fields<'q>(
    parsed: &Parsed<'q>,
    runtime: &str,
    sets: &[&'q SelectionSet<'q, &'q str>],
) -> Vec<(&'q str, Vec<&'q Field<'q, &'q str>>)> {
    fn visit<'q>(
        parsed: &Parsed<'q>,
        runtime: &str,
        set: &'q SelectionSet<'q, &'q str>,
        out: &mut Vec<(&'q str, Vec<&'q Field<'q, &'q str>>)>,
        visited: &mut HashSet<&'q str>,
    ) {
        use graphql_parser::query::{Selection, TypeCondition};
        for selection in &set.items {
            match selection {
                Selection::Field(field) => {
                    if !included(&field.directives, &parsed.vars) {
                        continue;
                    }
                    let key = field.alias.unwrap_or(field.name);
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, fields)) => fields.push(field),
                        None => out.push((key, vec![field])),
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let applies = match &fragment.type_condition {
                        Some(TypeCondition::On(cond)) => schema::applies(cond, runtime),
                        None => true,
                    };
                    if applies && included(&fragment.directives, &parsed.vars) {
                        visit(parsed, runtime, &fragment.selection_set, out, visited);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if !included(&spread.directives, &parsed.vars) || !visited.insert(spread.fragment_name) {
                        continue;
                    }
                    if let Some(fragment) = parsed.fragments.get(spread.fragment_name) {
                        let TypeCondition::On(cond) = fragment.type_condition;
                        if schema::applies(cond, runtime) {
                            visit(parsed, runtime, &fragment.selection_set, out, visited);
                        }
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut visited = HashSet::new();
    for set in sets {
        visit(parsed, runtime, set, &mut out, &mut visited);
    }
    out
}
