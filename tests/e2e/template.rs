//! template.yaml against the workspace: every functions/<name> has exactly
//! one template resource with `BuildProperties.Binary: <name>` and a
//! `<PascalName>FunctionArn` substitution pointing at that resource, and the
//! reverse; every function resource follows DESIGN.md's build settings.

use std::collections::{BTreeMap, BTreeSet};

use repowatch_core::functions;

use crate::support::workspace_root;

/// Resource name → its lines, for the resources of template.yaml (a resource
/// starts at a two-space-indented `Name:` line under `Resources:`).
fn resources(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut in_resources = false;
    let mut current: Option<String> = None;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_resources = line.trim_end() == "Resources:";
            current = None;
            continue;
        }
        if !in_resources {
            continue;
        }
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !name.starts_with(' ')
            && !name.starts_with('#')
        {
            current = Some(name.to_owned());
            out.entry(name.to_owned()).or_default();
            continue;
        }
        if let Some(c) = &current {
            out.get_mut(c).unwrap().push(line.to_owned());
        }
    }
    out
}

/// Values of `key` anywhere in the resource.
fn value<'a>(lines: &'a [String], key: &str) -> Vec<&'a str> {
    lines.iter().filter_map(|l| l.trim().strip_prefix(key)).map(str::trim).collect()
}

/// The resource's own `Type:` (four spaces in), not an event's.
fn resource_type(lines: &[String]) -> Option<&str> {
    lines.iter().find_map(|l| l.strip_prefix("    Type:")).map(str::trim)
}

#[test]
fn every_function_has_one_resource_and_one_substitution_and_the_reverse() {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    let resources = resources(&text);
    let crates: BTreeSet<String> = std::fs::read_dir(workspace_root().join("functions"))
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.path().join("Cargo.toml").exists().then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    let named: BTreeSet<String> = functions::ALL.iter().map(|f| f.name.to_owned()).collect();
    assert_eq!(crates, named, "functions/ and repowatch_core::functions::ALL name the same functions");

    // Binary → the resources building it.
    let mut by_binary: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for (name, lines) in &resources {
        for binary in value(lines, "Binary:") {
            by_binary.entry(binary.to_owned()).or_default().push(name);
        }
    }
    let binaries: BTreeSet<String> = by_binary.keys().cloned().collect();
    assert_eq!(binaries, crates, "template Binaries and functions/ crates");
    let pipeline = &resources["Pipeline"];
    for f in functions::ALL {
        let owners = &by_binary[f.name];
        assert_eq!(owners.len(), 1, "{} is built by {owners:?}", f.name);
        let resource = owners[0];
        let lines = &resources[resource];
        assert_eq!(resource_type(lines), Some("AWS::Serverless::Function"), "{resource}");
        assert_eq!(value(lines, "CodeUri:"), vec!["."], "{resource}: CodeUri . (DESIGN.md build settings)");
        assert_eq!(value(lines, "BuildMethod:"), vec!["rust-cargolambda"], "{resource}");
        let key = format!("{}:", f.substitution_key());
        let subs = value(pipeline, &key);
        // The alias, so the pipeline follows the gradual rollout (AutoPublishAlias in Globals).
        assert_eq!(subs, vec![format!("!Ref {resource}.Alias").as_str()], "{key} in DefinitionSubstitutions");
    }
    // The reverse: no substitution names a function that does not exist.
    let keys: BTreeSet<String> = pipeline
        .iter()
        .filter_map(|l| l.trim().split_once("FunctionArn:").map(|(k, _)| format!("{k}FunctionArn")))
        .collect();
    let expected: BTreeSet<String> = functions::ALL.iter().map(|f| f.substitution_key()).collect();
    assert_eq!(keys, expected);
    // Globals: provided.al2023 on arm64.
    assert!(text.contains("Runtime: provided.al2023") && text.contains("Architectures: [arm64]"));
}

#[test]
fn every_log_group_keeps_30_days_and_alarms_stay_within_ten() {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    let resources = resources(&text);
    let of_type = |t: &str| resources.iter().filter(move |(_, l)| resource_type(l) == Some(t)).collect::<Vec<_>>();
    let groups = of_type("AWS::Logs::LogGroup");
    assert_eq!(groups.len(), functions::ALL.len() + 1, "one per function and one for the state machine");
    for (name, lines) in groups {
        assert_eq!(value(lines, "RetentionInDays:"), vec!["30"], "{name}");
    }
    let alarms = of_type("AWS::CloudWatch::Alarm");
    assert!(alarms.len() <= 10, "{} alarms", alarms.len());
    for (name, lines) in alarms {
        assert!(!value(lines, "OKActions:").is_empty(), "{name} has OK actions too");
    }
}

/// The dashboard plots what the issue asks (runs, changes, builds dispatched
/// and failed, DLQ depth, GitHub budget, Lambda errors and durations), each
/// repowatch metric is one the code emits, and none has a per-datasource
/// dimension (EMF metrics are emitted with no dimensions: one series each).
#[test]
fn the_dashboard_plots_emitted_metrics_without_per_datasource_dimensions() {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    let res = resources(&text);
    let lines = res.get("Dashboard").expect("a Dashboard resource");
    let body_start = lines.iter().position(|l| l.contains("DashboardBody: !Sub |")).expect("DashboardBody") + 1;
    let body: String = lines[body_start..].iter().map(|l| format!("{}\n", l.trim_start())).collect();
    // ${Resource} / ${Resource.Attr} / ${AWS::Region} become plain strings for parsing.
    let mut plain = String::new();
    let mut rest = body.as_str();
    while let Some(i) = rest.find("${") {
        plain.push_str(&rest[..i]);
        let end = rest[i..].find('}').unwrap() + i;
        plain.push_str(&rest[i + 2..end].replace(['.', ':'], "_"));
        rest = &rest[end + 1..];
    }
    plain.push_str(rest);
    let dashboard: serde_json::Value = serde_json::from_str(&plain).expect("the dashboard body is JSON");
    let mut plotted: BTreeSet<(String, String)> = BTreeSet::new();
    for widget in dashboard["widgets"].as_array().unwrap() {
        for metric in widget["properties"]["metrics"].as_array().unwrap() {
            let parts = metric.as_array().unwrap();
            let (ns, name) = (parts[0].as_str().unwrap(), parts[1].as_str().unwrap());
            if ns == repowatch_aws::emf::NAMESPACE {
                assert!(repowatch_aws::emf::METRICS.contains(&name), "{name} is plotted but never emitted");
                let dimensions = parts.iter().skip(2).filter(|p| p.is_string()).count();
                assert_eq!(dimensions, 0, "{name} is plotted with a dimension: {metric}");
            }
            plotted.insert((ns.to_owned(), name.to_owned()));
        }
    }
    for (ns, name) in [
        ("AWS/States", "ExecutionsSucceeded"),
        ("AWS/States", "ExecutionsFailed"),
        ("Repowatch", "ChangesDetected"),
        ("Repowatch", "BuildsDispatched"),
        ("Repowatch", "BuildsFailed"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("Repowatch", "GithubPointsRemaining"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Duration"),
    ] {
        assert!(plotted.contains(&(ns.to_owned(), name.to_owned())), "the dashboard does not plot {ns} {name}");
    }
}
