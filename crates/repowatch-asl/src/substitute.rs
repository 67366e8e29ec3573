//! `${Name}` placeholders in a definition, like SAM's `DefinitionSubstitutions`.

use serde_json::Value;
use std::collections::BTreeMap;

/// Replace `${Name}` placeholders in every string value of `definition`
/// (keys are left alone). Names missing from `substitutions` stay as they are.
///
/// ```
/// use std::collections::BTreeMap;
/// let def = serde_json::json!({"Resource": "${BuildFn}", "Other": "${Unknown}"});
/// let subs = BTreeMap::from([("BuildFn".to_string(), "arn:build".to_string())]);
/// let out = repowatch_asl::substitute(&def, &subs);
/// assert_eq!(out, serde_json::json!({"Resource": "arn:build", "Other": "${Unknown}"}));
/// ```
pub fn substitute(definition: &Value, substitutions: &BTreeMap<String, String>) -> Value {
    match definition {
        Value::String(s) => Value::String(substitute_str(s, substitutions)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, substitutions)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), substitute(v, substitutions))).collect())
        }
        other => other.clone(),
    }
}

fn substitute_str(text: &str, substitutions: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match substitutions.get(name) {
                    Some(value) => out.push_str(value),
                    None => {
                        out.push_str("${");
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn substitutes_everywhere_in_values() {
        let subs = BTreeMap::from([("A".to_string(), "1".to_string()), ("B".to_string(), "two".to_string())]);
        let def = json!({"${A}": ["x${A}y${B}z", {"k": "${C}"}, 5], "open": "${A", "lit": "$"});
        assert_eq!(substitute(&def, &subs), json!({"${A}": ["x1ytwoz", {"k": "${C}"}, 5], "open": "${A", "lit": "$"}));
    }
}
