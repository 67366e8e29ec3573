//! docs/configuration.md against the code, both ways, so neither drifts:
//! every key the config parser accepts, every template.yaml parameter and
//! every `REPOWATCH_*` environment variable the code or the scripts read is
//! documented, and everything documented exists.

use std::collections::BTreeSet;

use crate::invariants::sources;
use crate::support::workspace_root;

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace_root().join(path)).unwrap()
}

/// The backticked first column of the doc's tables whose header starts with `header`.
fn table_names(doc: &str, header: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut inside = false;
    for line in doc.lines() {
        if line.starts_with(header) {
            inside = true;
        } else if !line.starts_with('|') {
            inside = false;
        } else if inside && line.starts_with("| `") {
            out.insert(line[3..].split('`').next().unwrap().to_owned());
        }
    }
    out
}

/// Every key of every table the config parser accepts (the top-level table names aside).
fn config_keys() -> BTreeSet<String> {
    let out: BTreeSet<String> = repowatch::config::keys::TABLES
        .iter()
        .filter(|(table, _)| !table.is_empty())
        .flat_map(|(_, keys)| keys.iter().map(|k| (*k).to_owned()))
        .collect();
    assert!(out.len() > 20, "the parser's key lists were found: {out:?}");
    out
}

#[test]
fn every_config_key_is_documented_and_every_documented_key_exists() {
    let doc = read("docs/configuration.md");
    let documented = table_names(&doc, "| key |");
    let accepted = config_keys();
    assert_eq!(
        accepted.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "keys the parser accepts that docs/configuration.md does not describe"
    );
    assert_eq!(
        documented.difference(&accepted).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "keys docs/configuration.md describes that the parser does not accept"
    );
}

#[test]
fn every_template_parameter_is_documented_and_the_reverse() {
    let template = read("template.yaml");
    let parameters: BTreeSet<String> = template
        .lines()
        .skip_while(|l| *l != "Parameters:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':').to_owned())
        .collect();
    assert!(parameters.contains("ScheduleExpression"), "{parameters:?}");
    let documented = table_names(&read("docs/configuration.md"), "| parameter |");
    assert_eq!(parameters, documented, "template.yaml's Parameters vs docs/configuration.md's parameter table");
}

#[test]
fn every_environment_variable_read_is_documented_and_the_reverse() {
    let mut texts: Vec<String> = Vec::new();
    for dir in ["crates/repowatch/src", "crates/repowatch-aws/src", "crates/repowatch-local/src"] {
        texts.extend(sources(dir).into_iter().map(|(_, t)| t));
    }
    for dir in ["crates/repowatch-core/src", "crates/repowatch-github/src", "crates/repowatch-github-fake/src"] {
        texts.extend(sources(dir).into_iter().map(|(_, t)| t));
    }
    texts.extend(sources("crates/repowatch-notify/src").into_iter().map(|(_, t)| t));
    texts.extend(sources("functions").into_iter().map(|(_, t)| t));
    for dir in ["scripts", "scripts/lib"] {
        for entry in std::fs::read_dir(workspace_root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                texts.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    texts.push(read(".ci/run"));
    let names = |text: &str| -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (i, _) in text.match_indices("REPOWATCH_") {
            let name: String =
                text[i..].chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
            // `env:REPOWATCH_…` in an example is a variable the user names, not one we read.
            if name.len() > "REPOWATCH_".len() && !text[..i].ends_with("env:") {
                out.insert(name);
            }
        }
        out
    };
    let code: BTreeSet<String> = texts.iter().flat_map(|t| names(t)).collect();
    let documented = names(&read("docs/configuration.md"));
    assert!(code.contains("REPOWATCH_TABLE") && code.contains("REPOWATCH_VENV"), "{code:?}");
    assert_eq!(
        code.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "variables the code reads that docs/configuration.md does not name"
    );
    assert_eq!(
        documented.difference(&code).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "variables docs/configuration.md names that no code reads"
    );
}
