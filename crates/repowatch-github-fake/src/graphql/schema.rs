//! The part of GitHub's GraphQL schema the fake serves: the same type, field and argument names with the same
//! nullability as `@octokit/graphql-schema`, so a query the fake answers is one GitHub answers too (the contract
//! checker proves the answers against the real schema).

/// What kind of type a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Interface,
    Scalar,
}

/// An output type: a named type, maybe in a list, maybe non-null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TypeRef {
    pub(crate) name: &'static str,
    pub(crate) non_null: bool,
    /// `Some(item_non_null)` for a list.
    pub(crate) list: Option<bool>,
}

impl TypeRef {
    /// GraphQL notation: `String!`, `[Ref]`.
    pub(crate) fn notation(self) -> String {
        let inner = match self.list {
            Some(true) => format!("[{}!]", self.name),
            Some(false) => format!("[{}]", self.name),
            None => self.name.to_owned(),
        };
        if self.non_null { format!("{inner}!") } else { inner }
    }

    pub(crate) fn is_leaf(self) -> bool {
        kind(self.name) == Some(Kind::Scalar)
    }

    pub(crate) fn is_connection(self) -> bool {
        self.name.ends_with("Connection")
    }
}

/// An argument: its input type and whether it is required (non-null).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArgDef {
    pub(crate) name: &'static str,
    pub(crate) ty: &'static str,
    pub(crate) required: bool,
}

/// A field of an object or interface type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldDef {
    pub(crate) name: &'static str,
    pub(crate) ty: TypeRef,
    pub(crate) args: &'static [ArgDef],
}

const fn nn(name: &'static str) -> TypeRef {
    TypeRef { name, non_null: true, list: None }
}
const fn opt(name: &'static str) -> TypeRef {
    TypeRef { name, non_null: false, list: None }
}
const fn list(name: &'static str) -> TypeRef {
    TypeRef { name, non_null: false, list: Some(false) }
}
const fn f(name: &'static str, ty: TypeRef) -> FieldDef {
    FieldDef { name, ty, args: &[] }
}
const fn fa(name: &'static str, ty: TypeRef, args: &'static [ArgDef]) -> FieldDef {
    FieldDef { name, ty, args }
}
const fn arg(name: &'static str, ty: &'static str) -> ArgDef {
    ArgDef { name, ty, required: false }
}
const fn req(name: &'static str, ty: &'static str) -> ArgDef {
    ArgDef { name, ty, required: true }
}

const QUERY: &[FieldDef] = &[
    fa("rateLimit", opt("RateLimit"), &[arg("dryRun", "Boolean")]),
    fa(
        "repository",
        opt("Repository"),
        &[req("owner", "String"), req("name", "String"), arg("followRenames", "Boolean")],
    ),
];

const RATE_LIMIT: &[FieldDef] = &[
    f("cost", nn("Int")),
    f("limit", nn("Int")),
    f("nodeCount", nn("Int")),
    f("remaining", nn("Int")),
    f("resetAt", nn("DateTime")),
    f("used", nn("Int")),
];

const REPOSITORY: &[FieldDef] = &[
    f("id", nn("ID")),
    f("name", nn("String")),
    f("nameWithOwner", nn("String")),
    f("owner", nn("RepositoryOwner")),
    f("url", nn("URI")),
    f("isArchived", nn("Boolean")),
    f("isDisabled", nn("Boolean")),
    f("isPrivate", nn("Boolean")),
    f("defaultBranchRef", opt("Ref")),
    fa("ref", opt("Ref"), &[req("qualifiedName", "String")]),
    fa(
        "refs",
        opt("RefConnection"),
        &[
            arg("query", "String"),
            arg("after", "String"),
            arg("before", "String"),
            arg("first", "Int"),
            arg("last", "Int"),
            req("refPrefix", "String"),
            arg("direction", "OrderDirection"),
            arg("orderBy", "RefOrder"),
        ],
    ),
    fa(
        "releases",
        nn("ReleaseConnection"),
        &[
            arg("after", "String"),
            arg("before", "String"),
            arg("first", "Int"),
            arg("last", "Int"),
            arg("orderBy", "ReleaseOrder"),
        ],
    ),
];

const OWNER: &[FieldDef] = &[f("id", nn("ID")), f("login", nn("String")), f("url", nn("URI"))];

const REF: &[FieldDef] =
    &[f("id", nn("ID")), f("name", nn("String")), f("prefix", nn("String")), f("target", opt("GitObject"))];

const GIT_OBJECT: &[FieldDef] = &[f("id", nn("ID")), f("oid", nn("GitObjectID")), f("abbreviatedOid", nn("String"))];

const TAG: &[FieldDef] = &[
    f("id", nn("ID")),
    f("oid", nn("GitObjectID")),
    f("abbreviatedOid", nn("String")),
    f("name", nn("String")),
    f("target", nn("GitObject")),
];

const RELEASE: &[FieldDef] = &[
    f("id", nn("ID")),
    f("name", opt("String")),
    f("tagName", nn("String")),
    f("isDraft", nn("Boolean")),
    f("isPrerelease", nn("Boolean")),
    f("tagCommit", opt("Commit")),
    f("createdAt", nn("DateTime")),
];

const REF_CONNECTION: &[FieldDef] =
    &[f("edges", list("RefEdge")), f("nodes", list("Ref")), f("pageInfo", nn("PageInfo")), f("totalCount", nn("Int"))];

const REF_EDGE: &[FieldDef] = &[f("cursor", nn("String")), f("node", opt("Ref"))];

const RELEASE_CONNECTION: &[FieldDef] = &[
    f("edges", list("ReleaseEdge")),
    f("nodes", list("Release")),
    f("pageInfo", nn("PageInfo")),
    f("totalCount", nn("Int")),
];

const RELEASE_EDGE: &[FieldDef] = &[f("cursor", nn("String")), f("node", opt("Release"))];

const PAGE_INFO: &[FieldDef] = &[
    f("endCursor", opt("String")),
    f("hasNextPage", nn("Boolean")),
    f("hasPreviousPage", nn("Boolean")),
    f("startCursor", opt("String")),
];

/// The kind of a type name, `None` when the fake does not know the type.
pub(crate) fn kind(name: &str) -> Option<Kind> {
    match name {
        "Query" | "RateLimit" | "Repository" | "Organization" | "User" | "Ref" | "Commit" | "Tag" | "Tree" | "Blob"
        | "Release" | "RefConnection" | "RefEdge" | "ReleaseConnection" | "ReleaseEdge" | "PageInfo" => {
            Some(Kind::Object)
        }
        "RepositoryOwner" | "GitObject" => Some(Kind::Interface),
        "String" | "Int" | "Boolean" | "ID" | "GitObjectID" | "DateTime" | "URI" => Some(Kind::Scalar),
        _ => None,
    }
}

/// The fields of an object or interface type.
pub(crate) fn fields(type_name: &str) -> &'static [FieldDef] {
    match type_name {
        "Query" => QUERY,
        "RateLimit" => RATE_LIMIT,
        "Repository" => REPOSITORY,
        "RepositoryOwner" | "Organization" | "User" => OWNER,
        "Ref" => REF,
        "GitObject" | "Commit" | "Tree" | "Blob" => GIT_OBJECT,
        "Tag" => TAG,
        "Release" => RELEASE,
        "RefConnection" => REF_CONNECTION,
        "RefEdge" => REF_EDGE,
        "ReleaseConnection" => RELEASE_CONNECTION,
        "ReleaseEdge" => RELEASE_EDGE,
        "PageInfo" => PAGE_INFO,
        _ => &[],
    }
}

/// A field of a type.
pub(crate) fn field(type_name: &str, field_name: &str) -> Option<&'static FieldDef> {
    fields(type_name).iter().find(|f| f.name == field_name)
}

/// The object types a type stands for (itself for an object type).
pub(crate) fn possible_types(type_name: &str) -> Vec<&str> {
    match type_name {
        "GitObject" => vec!["Blob", "Commit", "Tag", "Tree"],
        "RepositoryOwner" => vec!["Organization", "User"],
        other => vec![other],
    }
}

/// Whether a fragment on `condition` applies to an object of type `runtime`.
pub(crate) fn applies(condition: &str, runtime: &str) -> bool {
    condition == runtime || possible_types(condition).contains(&runtime)
}

/// Whether a fragment on `condition` can ever apply inside `parent`.
pub(crate) fn overlaps(condition: &str, parent: &str) -> bool {
    let parents = possible_types(parent);
    possible_types(condition).iter().any(|t| parents.contains(t))
}

/// An input type of the arguments the fake accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Input {
    String,
    Int,
    Boolean,
    Id,
    Enum(&'static [&'static str]),
    /// Fields with their input type and whether they are required.
    Object(&'static [(&'static str, &'static str, bool)]),
}

/// The input type of a name, `None` when it is not one.
pub(crate) fn input(name: &str) -> Option<Input> {
    Some(match name {
        "String" => Input::String,
        "Int" => Input::Int,
        "Boolean" => Input::Boolean,
        "ID" => Input::Id,
        "OrderDirection" => Input::Enum(&["ASC", "DESC"]),
        "RefOrderField" => Input::Enum(&["TAG_COMMIT_DATE", "ALPHABETICAL"]),
        "ReleaseOrderField" => Input::Enum(&["CREATED_AT", "NAME"]),
        "RefOrder" => Input::Object(&[("field", "RefOrderField", true), ("direction", "OrderDirection", true)]),
        "ReleaseOrder" => Input::Object(&[("field", "ReleaseOrderField", true), ("direction", "OrderDirection", true)]),
        _ => return None,
    })
}

/// Whether a JSON value (a variable's value or a converted literal) is valid for an input type.
pub(crate) fn accepts_json(ty: &str, non_null: bool, value: &serde_json::Value) -> bool {
    use serde_json::Value;
    if value.is_null() {
        return !non_null;
    }
    match (input(ty), value) {
        (Some(Input::String), Value::String(_)) | (Some(Input::Boolean), Value::Bool(_)) => true,
        (Some(Input::Int), Value::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        (Some(Input::Id), Value::String(_)) => true,
        (Some(Input::Id), Value::Number(n)) => n.is_i64(),
        (Some(Input::Enum(values)), Value::String(s)) => values.contains(&s.as_str()),
        (Some(Input::Object(fields)), Value::Object(map)) => {
            map.keys().all(|k| fields.iter().any(|(name, _, _)| name == k))
                && fields.iter().all(|(name, ty, required)| match map.get(*name) {
                    Some(v) => accepts_json(ty, *required, v),
                    None => !required,
                })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_field_type_is_known() {
        for t in [
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
        ] {
            assert!(kind(t).is_some(), "{t}");
            for field in fields(t) {
                assert!(kind(field.ty.name).is_some(), "{t}.{}: {}", field.name, field.ty.name);
                for a in field.args {
                    assert!(input(a.ty).is_some(), "{t}.{}({})", field.name, a.name);
                }
            }
        }
    }

    #[test]
    fn json_inputs() {
        assert!(accepts_json("Int", true, &json!(100)));
        assert!(!accepts_json("Int", true, &json!("100")));
        assert!(!accepts_json("Int", true, &json!(null)));
        assert!(accepts_json("RefOrder", false, &json!({"field": "TAG_COMMIT_DATE", "direction": "DESC"})));
        assert!(!accepts_json("RefOrder", false, &json!({"field": "CREATED_AT", "direction": "DESC"})));
        assert!(!accepts_json("RefOrder", false, &json!({"field": "ALPHABETICAL"})));
        assert_eq!(TypeRef { name: "Ref", non_null: true, list: Some(false) }.notation(), "[Ref]!");
    }
}
