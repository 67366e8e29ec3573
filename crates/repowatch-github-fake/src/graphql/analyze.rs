//! GitHub's limits and cost, as documented in "Rate limits and query limits for the GraphQL API":
//!
//! * every connection needs `first` or `last`, within 1..=100;
//! * the node count (each connection's `first`/`last` times those of the connections it is nested in, summed)
//!   must stay within 500,000;
//! * the cost is the number of requests needed to fulfil each unique connection (the product of the
//!   `first`/`last` of the connections it is nested in; a top-level `repository` field counts one request), divided
//!   by 100 and rounded to the nearest whole number, at least 1.

use std::collections::HashSet;

use graphql_parser::query::{Field, Selection, SelectionSet, TypeCondition};
use serde_json::{Map, Value, json};

use super::{Parsed, error, field_args, included, schema};

/// GitHub's cap on `first`/`last`.
pub(crate) const MAX_PAGE: i64 = 100;
/// GitHub's cap on the nodes one query may ask for.
pub(crate) const MAX_NODES: u64 = 500_000;

/// The outcome of the analysis.
pub(crate) struct Analysis {
    pub(crate) cost: u32,
    pub(crate) node_count: u64,
    /// `rateLimit(dryRun: true)`: report the cost without charging it.
    pub(crate) dry_run: bool,
    pub(crate) errors: Vec<Value>,
}

struct Walk<'p, 'q> {
    parsed: &'p Parsed<'q>,
    requests: u64,
    nodes: u64,
    seen: HashSet<Vec<String>>,
    errors: Vec<Value>,
}

/// Limits, node count and cost of a validated operation.
pub(crate) fn analyze(parsed: &Parsed<'_>) -> Analysis {
    let mut walk = Walk { parsed, requests: 0, nodes: 0, seen: HashSet::new(), errors: Vec::new() };
    walk.set("Query", parsed.selection, 1, &mut Vec::new(), &mut Vec::new());
    if walk.nodes > MAX_NODES && walk.errors.is_empty() {
        walk.errors.push(json!({
            "type": "MAX_NODE_LIMIT_EXCEEDED",
            "message": format!(
                "This query requests up to {} possible nodes which exceeds the maximum limit of {}.",
                group_thousands(walk.nodes),
                group_thousands(MAX_NODES)
            ),
        }));
    }
    let cost = u32::try_from(walk.requests.saturating_add(50) / 100).unwrap_or(u32::MAX).max(1);
    let dry_run = top_fields(parsed)
        .iter()
        .any(|f| f.name == "rateLimit" && field_args(f, &parsed.vars).get("dryRun") == Some(&Value::Bool(true)));
    Analysis { cost, node_count: walk.nodes, dry_run, errors: walk.errors }
}

/// How many `repository` fields the operation has at its top level (the size of a batch).
pub(crate) fn repository_fields(parsed: &Parsed<'_>) -> usize {
    top_fields(parsed).iter().filter(|f| f.name == "repository").count()
}

/// The top-level fields, one per response key.
fn top_fields<'q>(parsed: &Parsed<'q>) -> Vec<&'q Field<'q, &'q str>> {
    super::collect_fields(parsed, "Query", &[parsed.selection])
        .into_iter()
        .filter_map(|(_, f)| f.first().copied())
        .collect()
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl<'q> Walk<'_, 'q> {
    fn set(
        &mut self,
        parent: &str,
        set: &'q SelectionSet<'q, &'q str>,
        multiplier: u64,
        path: &mut Vec<String>,
        fragments: &mut Vec<&'q str>,
    ) {
        for selection in &set.items {
            match selection {
                Selection::Field(field) => {
                    if included(&field.directives, &self.parsed.vars) {
                        self.field(parent, field, multiplier, path, fragments);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    if included(&fragment.directives, &self.parsed.vars) {
                        let target = match &fragment.type_condition {
                            Some(TypeCondition::On(cond)) => *cond,
                            None => parent,
                        };
                        self.set(target, &fragment.selection_set, multiplier, path, fragments);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.fragment_name;
                    if !included(&spread.directives, &self.parsed.vars) || fragments.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.parsed.fragments.get(name) {
                        let TypeCondition::On(cond) = fragment.type_condition;
                        fragments.push(name);
                        self.set(cond, &fragment.selection_set, multiplier, path, fragments);
                        fragments.pop();
                    }
                }
            }
        }
    }

    fn field(
        &mut self,
        parent: &str,
        field: &'q Field<'q, &'q str>,
        multiplier: u64,
        path: &mut Vec<String>,
        fragments: &mut Vec<&'q str>,
    ) {
        let Some(def) = schema::field(parent, field.name) else {
            return; // __typename
        };
        path.push(field.alias.unwrap_or(field.name).to_owned());
        let unique = self.seen.insert(path.clone());
        let mut child_multiplier = multiplier;
        if parent == "Query" && field.name == "repository" && unique {
            self.requests += multiplier;
        }
        if def.ty.is_connection() {
            let args = field_args(field, &self.parsed.vars);
            match self.page_size(field, &args, path) {
                Some(size) => {
                    if unique {
                        self.requests = self.requests.saturating_add(multiplier);
                        self.nodes = self.nodes.saturating_add(multiplier.saturating_mul(size));
                    }
                    child_multiplier = multiplier.saturating_mul(size);
                }
                None => {
                    path.pop();
                    return;
                }
            }
        }
        self.set(def.ty.name, &field.selection_set, child_multiplier, path, fragments);
        path.pop();
    }

    /// `first` or `last`, checked against GitHub's bounds (`None` after reporting a violation).
    fn page_size(&mut self, field: &Field<'q, &'q str>, args: &Map<String, Value>, path: &[String]) -> Option<u64> {
        let json_path: Vec<Value> = path.iter().map(|p| json!(p)).collect();
        let bound = |name: &str| args.get(name).and_then(Value::as_i64);
        let (which, n) = match (bound("first"), bound("last")) {
            (Some(n), _) => ("first", n),
            (None, Some(n)) => ("last", n),
            (None, None) => {
                self.errors.push(error(
                    format!(
                        "You must provide a `first` or `last` value to properly paginate the `{}` connection.",
                        field.name
                    ),
                    Some(json_path),
                    Some(field.position),
                    Some("MISSING_PAGINATION_BOUNDARIES"),
                    None,
                ));
                return None;
            }
        };
        if n > MAX_PAGE {
            self.errors.push(error(
                format!(
                    "Requesting {n} records on the `{}` connection exceeds the `{which}` limit of {MAX_PAGE} records.",
                    field.name
                ),
                Some(json_path),
                Some(field.position),
                Some("EXCESSIVE_PAGINATION"),
                None,
            ));
            return None;
        }
        if n < 1 {
            self.errors.push(error(
                format!("`{which}` on the `{}` connection must be between 1 and {MAX_PAGE}, got {n}.", field.name),
                Some(json_path),
                Some(field.position),
                Some("INVALID_PAGINATION"),
                None,
            ));
            return None;
        }
        u64::try_from(n).ok()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands() {
        assert_eq!(super::group_thousands(500_000), "500,000");
        assert_eq!(super::group_thousands(1_000_001), "1,000,001");
        assert_eq!(super::group_thousands(999), "999");
    }
}
