//! Static validation, with GitHub's (graphql-ruby's) messages and `extensions.code`s: unknown fields, arguments,
//! types and fragments, missing arguments, bad literals, selections on leaves, variable misuse.

use std::collections::HashSet;

use graphql_parser::Pos;
use graphql_parser::query::{Directive, Selection, SelectionSet, TypeCondition, Value as GValue};
use serde_json::{Value, json};

use super::schema::{self, Input, Kind};
use super::{Parsed, error, type_notation, type_parts};

struct Validator<'q, 'p> {
    parsed: &'p Parsed<'q>,
    errors: Vec<Value>,
    used_fragments: HashSet<&'q str>,
    used_vars: HashSet<&'q str>,
    reported_vars: HashSet<&'q str>,
}

/// Every validation error of the operation (empty when it is valid).
pub(crate) fn validate(parsed: &Parsed<'_>) -> Vec<Value> {
    let mut v = Validator {
        parsed,
        errors: Vec::new(),
        used_fragments: HashSet::new(),
        used_vars: HashSet::new(),
        reported_vars: HashSet::new(),
    };
    for def in parsed.var_defs {
        let (named, _, is_list) = type_parts(&def.var_type);
        if is_list || schema::input(named).is_none() {
            v.errors.push(error(
                format!("{} isn't a defined input type (on ${})", type_notation(&def.var_type), def.name),
                Some(vec![json!(parsed.label())]),
                Some(def.position),
                None,
                Some(json!({ "code": "variableRequiresValidType", "typeName": named, "variableName": def.name })),
            ));
        }
    }
    let mut path = vec![parsed.label()];
    v.check_set("Query", parsed.selection, &mut path, &mut Vec::new());
    for fragment in &parsed.fragment_list {
        let TypeCondition::On(cond) = fragment.type_condition;
        if schema::kind(cond).is_none() {
            v.errors.push(undefined_type(cond, fragment.position, &[format!("fragment {}", fragment.name)]));
        }
        if !v.used_fragments.contains(fragment.name) {
            v.errors.push(error(
                format!("Fragment {} was defined, but not used", fragment.name),
                Some(vec![json!(format!("fragment {}", fragment.name))]),
                Some(fragment.position),
                None,
                Some(json!({ "code": "useAndDefineFragment", "fragmentName": fragment.name })),
            ));
        }
    }
    for def in parsed.var_defs {
        if !v.used_vars.contains(def.name) {
            v.errors.push(error(
                format!("Variable ${} is declared by {} but not used", def.name, op_name(parsed)),
                Some(vec![json!(parsed.label())]),
                Some(def.position),
                None,
                Some(json!({ "code": "variableNotUsed", "variableName": def.name })),
            ));
        }
    }
    v.errors
}

fn op_name(parsed: &Parsed<'_>) -> String {
    parsed.name.map_or_else(|| "anonymous query".to_owned(), str::to_owned)
}

fn path_json(path: &[String]) -> Vec<Value> {
    path.iter().map(|p| json!(p)).collect()
}

fn undefined_type(name: &str, pos: Pos, path: &[String]) -> Value {
    error(
        format!("No such type {name}, so it can't be a fragment condition"),
        Some(path_json(path)),
        Some(pos),
        None,
        Some(json!({ "code": "undefinedType", "typeName": name })),
    )
}

impl<'q> Validator<'q, '_> {
    fn check_directives(&mut self, directives: &'q [Directive<'q, &'q str>], path: &[String]) {
        for d in directives {
            if d.name != "skip" && d.name != "include" {
                self.errors.push(error(
                    format!("Directive @{} is not defined", d.name),
                    Some(path_json(path)),
                    Some(d.position),
                    None,
                    Some(json!({ "code": "undefinedDirective", "directiveName": d.name })),
                ));
                continue;
            }
            let mut has_if = false;
            for (name, value) in &d.arguments {
                if *name == "if" {
                    has_if = true;
                    if !self.check_value(value, "Boolean", true, "if", path, d.position) {
                        self.errors.push(error(
                            format!("Argument 'if' on Directive '{}' has an invalid value. Expected type 'Boolean!'.", d.name),
                            Some(path_json(path)),
                            Some(d.position),
                            None,
                            Some(json!({ "code": "argumentLiteralsIncompatible", "typeName": "Directive", "argumentName": "if" })),
                        ));
                    }
                } else {
                    self.errors.push(error(
                        format!("Directive '{}' doesn't accept argument '{name}'", d.name),
                        Some(path_json(path)),
                        Some(d.position),
                        None,
                        Some(json!({ "code": "argumentNotAccepted", "name": d.name, "typeName": "Directive", "argumentName": name })),
                    ));
                }
            }
            if !has_if {
                self.errors.push(error(
                    format!("Directive '{}' is missing required arguments: if", d.name),
                    Some(path_json(path)),
                    Some(d.position),
                    None,
                    Some(json!({ "code": "missingRequiredArguments", "className": "Directive", "name": d.name, "arguments": "if" })),
                ));
            }
        }
    }

    fn check_set(
        &mut self,
        parent: &'static str,
        set: &'q SelectionSet<'q, &'q str>,
        path: &mut Vec<String>,
        fragment_stack: &mut Vec<&'q str>,
    ) {
        for selection in &set.items {
            match selection {
                Selection::Field(field) => {
                    let key = field.alias.unwrap_or(field.name);
                    path.push(key.to_owned());
                    self.check_directives(&field.directives, path);
                    if field.name == "__typename" {
                        if !field.selection_set.items.is_empty() {
                            self.errors.push(error(
                                format!(
                                    "Selections can't be made on scalars (field '__typename' returns String but has selections [{}])",
                                    selection_names(&field.selection_set)
                                ),
                                Some(path_json(path)),
                                Some(field.position),
                                None,
                                Some(json!({ "code": "selectionMismatch", "nodeName": "field '__typename'", "typeName": "String" })),
                            ));
                        }
                        path.pop();
                        continue;
                    }
                    let Some(def) = schema::field(parent, field.name) else {
                        self.errors.push(error(
                            format!("Field '{}' doesn't exist on type '{parent}'", field.name),
                            Some(path_json(path)),
                            Some(field.position),
                            None,
                            Some(json!({ "code": "undefinedField", "typeName": parent, "fieldName": field.name })),
                        ));
                        path.pop();
                        continue;
                    };
                    for (name, value) in &field.arguments {
                        match def.args.iter().find(|a| a.name == *name) {
                            None => self.errors.push(error(
                                format!("Field '{}' doesn't accept argument '{name}'", field.name),
                                Some(path_json(path)),
                                Some(field.position),
                                None,
                                Some(json!({ "code": "argumentNotAccepted", "name": field.name, "typeName": "Field", "argumentName": name })),
                            )),
                            Some(a) => {
                                if !self.check_value(value, a.ty, a.required, name, path, field.position) {
                                    self.errors.push(error(
                                        format!(
                                            "Argument '{name}' on Field '{}' has an invalid value ({}). Expected type '{}{}'.",
                                            field.name,
                                            value,
                                            a.ty,
                                            if a.required { "!" } else { "" }
                                        ),
                                        Some(path_json(path)),
                                        Some(field.position),
                                        None,
                                        Some(json!({ "code": "argumentLiteralsIncompatible", "typeName": "Field", "argumentName": name })),
                                    ));
                                }
                            }
                        }
                    }
                    let missing: Vec<&str> = def
                        .args
                        .iter()
                        .filter(|a| a.required && !field.arguments.iter().any(|(n, _)| *n == a.name))
                        .map(|a| a.name)
                        .collect();
                    if !missing.is_empty() {
                        self.errors.push(error(
                            format!("Field '{}' is missing required arguments: {}", field.name, missing.join(", ")),
                            Some(path_json(path)),
                            Some(field.position),
                            None,
                            Some(json!({ "code": "missingRequiredArguments", "className": "Field", "name": field.name, "arguments": missing.join(", ") })),
                        ));
                    }
                    let has_selections = !field.selection_set.items.is_empty();
                    if def.ty.is_leaf() && has_selections {
                        self.errors.push(error(
                            format!(
                                "Selections can't be made on scalars (field '{}' returns {} but has selections [{}])",
                                field.name,
                                def.ty.name,
                                selection_names(&field.selection_set)
                            ),
                            Some(path_json(path)),
                            Some(field.position),
                            None,
                            Some(json!({ "code": "selectionMismatch", "nodeName": format!("field '{}'", field.name), "typeName": def.ty.name })),
                        ));
                    } else if !def.ty.is_leaf() && !has_selections {
                        self.errors.push(error(
                            format!(
                                "Field must have selections (field '{}' returns {} but has no selections. Did you mean '{} {{ ... }}'?)",
                                field.name,
                                def.ty.notation(),
                                field.name
                            ),
                            Some(path_json(path)),
                            Some(field.position),
                            None,
                            Some(json!({ "code": "selectionMismatch", "nodeName": format!("field '{}'", field.name), "typeName": def.ty.name })),
                        ));
                    } else if has_selections {
                        self.check_set(def.ty.name, &field.selection_set, path, fragment_stack);
                    }
                    path.pop();
                }
                Selection::InlineFragment(fragment) => {
                    path.push(match &fragment.type_condition {
                        Some(TypeCondition::On(cond)) => format!("... on {cond}"),
                        None => "...".to_owned(),
                    });
                    self.check_directives(&fragment.directives, path);
                    let target = match &fragment.type_condition {
                        Some(TypeCondition::On(cond)) => self.condition(cond, parent, fragment.position, path, None),
                        None => Some(parent),
                    };
                    if let Some(target) = target {
                        self.check_set(target, &fragment.selection_set, path, fragment_stack);
                    }
                    path.pop();
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.fragment_name;
                    path.push(format!("... {name}"));
                    self.check_directives(&spread.directives, path);
                    self.used_fragments.insert(name);
                    match self.parsed.fragments.get(name) {
                        None => self.errors.push(error(
                            format!("Fragment {name} was used, but not defined"),
                            Some(path_json(path)),
                            Some(spread.position),
                            None,
                            Some(json!({ "code": "useAndDefineFragment", "fragmentName": name })),
                        )),
                        Some(_) if fragment_stack.contains(&name) => self.errors.push(error(
                            format!("Fragment {name} contains an infinite loop"),
                            Some(path_json(path)),
                            Some(spread.position),
                            None,
                            Some(json!({ "code": "infiniteLoop", "fragmentName": name })),
                        )),
                        Some(fragment) => {
                            let TypeCondition::On(cond) = fragment.type_condition;
                            if let Some(target) = self.condition(cond, parent, spread.position, path, Some(name)) {
                                fragment_stack.push(name);
                                self.check_set(target, &fragment.selection_set, path, fragment_stack);
                                fragment_stack.pop();
                            }
                        }
                    }
                    path.pop();
                }
            }
        }
    }

    /// The type a fragment condition selects on, when it exists and can apply inside `parent`.
    fn condition(
        &mut self,
        cond: &str,
        parent: &'static str,
        pos: Pos,
        path: &[String],
        fragment_name: Option<&str>,
    ) -> Option<&'static str> {
        let Some(kind) = schema::kind(cond) else {
            // Unknown fragment types of named fragments are reported once, with the definition.
            if fragment_name.is_none() {
                self.errors.push(undefined_type(cond, pos, path));
            }
            return None;
        };
        if kind == Kind::Scalar {
            self.errors.push(error(
                format!("Invalid fragment on type {cond} (must be Union, Interface or Object)"),
                Some(path_json(path)),
                Some(pos),
                None,
                Some(json!({ "code": "fragmentOnNonCompositeType", "typeName": cond })),
            ));
            return None;
        }
        // The &'static name of the same type.
        let target = schema_name(cond)?;
        if !schema::overlaps(target, parent) {
            self.errors.push(error(
                format!("Fragment {} on {cond} can't be spread inside {parent}", fragment_name.unwrap_or("unknown")),
                Some(path_json(path)),
                Some(pos),
                None,
                Some(json!({
                    "code": "cannotSpreadFragment",
                    "typeName": cond,
                    "fragmentName": fragment_name.unwrap_or("unknown"),
                    "parentName": parent,
                })),
            ));
            return None;
        }
        Some(target)
    }

    /// Whether a literal (or variable) fits an input type; variables are checked for type compatibility and
    /// reported on their own.
    fn check_value(
        &mut self,
        value: &'q GValue<'q, &'q str>,
        ty: &str,
        non_null: bool,
        arg_name: &str,
        path: &[String],
        pos: Pos,
    ) -> bool {
        match value {
            GValue::Variable(var) => {
                self.used_vars.insert(var);
                match self.parsed.var_defs.iter().find(|d| d.name == *var) {
                    None => {
                        if self.reported_vars.insert(var) {
                            self.errors.push(error(
                                format!("Variable ${var} is used by {} but not declared", op_name(self.parsed)),
                                Some(path_json(path)),
                                Some(pos),
                                None,
                                Some(json!({ "code": "variableNotDefined", "variableName": var })),
                            ));
                        }
                    }
                    Some(def) => {
                        let (named, var_non_null, is_list) = type_parts(&def.var_type);
                        let declared = type_notation(&def.var_type);
                        let expected = format!("{ty}{}", if non_null { "!" } else { "" });
                        let problem = if is_list || named != ty {
                            Some("Type mismatch")
                        } else if non_null && !var_non_null && def.default_value.is_none() {
                            Some("Nullability mismatch")
                        } else {
                            None
                        };
                        if let Some(problem) = problem {
                            self.errors.push(error(
                                format!(
                                    "{problem} on variable ${var} and argument {arg_name} ({declared} / {expected})"
                                ),
                                Some(path_json(path)),
                                Some(pos),
                                None,
                                Some(json!({
                                    "code": "variableMismatch",
                                    "variableName": var,
                                    "typeName": declared,
                                    "argumentName": arg_name,
                                    "errorMessage": problem,
                                })),
                            ));
                        }
                    }
                }
                true
            }
            GValue::Null => !non_null,
            GValue::Int(n) => match schema::input(ty) {
                Some(Input::Int) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                Some(Input::Id) => true,
                _ => false,
            },
            GValue::String(_) => matches!(schema::input(ty), Some(Input::String | Input::Id)),
            GValue::Boolean(_) => matches!(schema::input(ty), Some(Input::Boolean)),
            GValue::Enum(e) => matches!(schema::input(ty), Some(Input::Enum(values)) if values.contains(e)),
            GValue::Object(map) => {
                let Some(Input::Object(fields)) = schema::input(ty) else {
                    return false;
                };
                let mut ok = map.keys().all(|k| fields.iter().any(|(name, _, _)| name == k));
                for (name, field_ty, required) in fields {
                    match map.get(name) {
                        Some(v) => ok &= self.check_value(v, field_ty, *required, arg_name, path, pos),
                        None => ok &= !required,
                    }
                }
                ok
            }
            GValue::Float(_) | GValue::List(_) => false,
        }
    }
}

/// The schema's own (`'static`) spelling of a known type name.
fn schema_name(name: &str) -> Option<&'static str> {
    const NAMES: &[&str] = &[
        "Query",
        "RateLimit",
        "Repository",
        "RepositoryOwner",
        "Organization",
        "User",
        "Ref",
        "GitObject",
        "Commit",
        "Tag",
        "Tree",
        "Blob",
        "Release",
        "RefConnection",
        "RefEdge",
        "ReleaseConnection",
        "ReleaseEdge",
        "PageInfo",
    ];
    NAMES.iter().copied().find(|n| *n == name)
}

/// `"a", "b"` — the selections named in a selection-mismatch message.
fn selection_names<'a>(set: &SelectionSet<'a, &'a str>) -> String {
    set.items
        .iter()
        .filter_map(|s| match s {
            Selection::Field(f) => Some(format!("\"{}\"", f.name)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}
