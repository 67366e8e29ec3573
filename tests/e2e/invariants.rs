//! The architecture invariants of docs/ARCHITECTURE.md, checked over
//! `cargo metadata` and the sources, so they cannot rot silently.

use std::collections::{BTreeMap, BTreeSet};

use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, PackageId};

use crate::support::workspace_root;

fn metadata() -> Metadata {
    MetadataCommand::new().manifest_path(workspace_root().join("Cargo.toml")).exec().expect("cargo metadata runs")
}

/// Names of every package `root` depends on at run time (normal deps, transitively, any target).
fn runtime_closure(meta: &Metadata, root: &str) -> BTreeSet<String> {
    let resolve = meta.resolve.as_ref().expect("resolved");
    let nodes: BTreeMap<&PackageId, _> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let names: BTreeMap<&PackageId, &str> = meta.packages.iter().map(|p| (&p.id, p.name.as_str())).collect();
    let start = meta.packages.iter().find(|p| p.name.as_str() == root).unwrap_or_else(|| panic!("no package {root}"));
    let mut seen = BTreeSet::new();
    let mut stack = vec![&start.id];
    while let Some(id) = stack.pop() {
        for dep in &nodes[id].deps {
            let normal =
                dep.dep_kinds.iter().any(|k| k.kind == DependencyKind::Normal || k.kind == DependencyKind::Build);
            if normal && seen.insert(names[&dep.pkg].to_owned()) {
                stack.push(&dep.pkg);
            }
        }
    }
    seen
}

fn workspace_names(meta: &Metadata) -> BTreeSet<String> {
    meta.workspace_packages().iter().map(|p| p.name.to_string()).collect()
}

const AWS: &[&str] =
    &["aws-config", "aws-sdk-", "aws-smithy-", "aws-lc", "lambda_runtime", "lambda_http", "aws_lambda_events"];
const DATABASE: &[&str] = &["rusqlite", "libsqlite3-sys", "sqlx", "diesel", "postgres", "redis"];
const HTTP_CLIENT: &[&str] = &["reqwest", "hyper", "ureq", "isahc", "curl", "octocrab"];

fn offending(closure: &BTreeSet<String>, prefixes: &[&str]) -> Vec<String> {
    closure.iter().filter(|n| prefixes.iter().any(|p| n.starts_with(p))).cloned().collect()
}

#[test]
fn core_depends_on_no_aws_database_or_http_client() {
    let meta = metadata();
    let closure = runtime_closure(&meta, "repowatch-core");
    for (what, list) in [("AWS", AWS), ("database", DATABASE), ("HTTP client", HTTP_CLIENT)] {
        assert_eq!(offending(&closure, list), Vec::<String>::new(), "repowatch-core pulls in a {what} crate");
    }
}

#[test]
fn asl_depends_on_no_workspace_crate() {
    let meta = metadata();
    let ours = workspace_names(&meta);
    let closure = runtime_closure(&meta, "repowatch-asl");
    assert_eq!(closure.intersection(&ours).cloned().collect::<Vec<_>>(), Vec::<String>::new());
}

#[test]
fn nothing_depends_on_functions_and_functions_depend_only_on_core_github_notify_aws() {
    let meta = metadata();
    let functions: BTreeSet<String> = meta
        .workspace_packages()
        .iter()
        .filter(|p| p.manifest_path.as_std_path().starts_with(workspace_root().join("functions")))
        .map(|p| p.name.to_string())
        .collect();
    let ours = workspace_names(&meta);
    for p in meta.workspace_packages() {
        for d in &p.dependencies {
            assert!(!functions.contains(d.name.as_str()), "{} depends on the function crate {}", p.name, d.name);
        }
    }
    let allowed: BTreeSet<String> =
        ["repowatch-core", "repowatch-github", "repowatch-notify", "repowatch-aws"].map(String::from).into();
    for f in &functions {
        let closure = runtime_closure(&meta, f);
        let internal: Vec<_> = closure.intersection(&ours).filter(|n| !allowed.contains(*n)).cloned().collect();
        assert!(internal.is_empty(), "{f} depends on {internal:?}");
    }
}

/// What building `package` alone compiles (normal and build dependencies,
/// features resolved for that package only, as `cargo build -p` does; the
/// metadata graph unifies features across the whole workspace, where the AWS
/// SDK turns on rustls's aws-lc backend for everyone).
fn built_alone(package: &str) -> BTreeSet<String> {
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(workspace_root())
        .args(["tree", "-p", package, "-e", "normal,build", "--prefix", "none", "--format", "{p}", "--offline"])
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != package)
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_local_cli_builds_without_the_aws_sdk() {
    for root in ["repowatch", "repowatch-local"] {
        let closure = built_alone(root);
        assert!(closure.contains("tokio"), "cargo tree listed {root}'s dependencies: {closure:?}");
        assert_eq!(offending(&closure, AWS), Vec::<String>::new(), "{root} pulls in AWS crates");
    }
}

#[test]
fn every_binary_links_one_crypto_library() {
    // reqwest (GitHub, webhook targets) and the SDK's HTTPS client share rustls
    // on ring (repowatch_aws::sdk): a second provider (aws-lc from the SDK's
    // default-https-client, OpenSSL from native-tls) would add a megabyte to
    // each Lambda zip and minutes of C to every cold build.
    let functions: Vec<String> = std::fs::read_dir(workspace_root().join("functions"))
        .expect("functions/ exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.join("Cargo.toml").exists())
        .map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned())
        .collect();
    assert_eq!(functions.len(), 6, "functions/: {functions:?}");
    for root in functions.iter().map(String::as_str).chain(["repowatch"]) {
        let closure = built_alone(root);
        assert!(closure.contains("ring"), "{root} should reach GitHub or AWS over rustls + ring: {closure:?}");
        let other = offending(&closure, &["aws-lc", "openssl-sys", "native-tls", "s2n-tls"]);
        assert_eq!(other, Vec::<String>::new(), "{root} links a second crypto library");
    }
}

/// Rust sources of a workspace crate, each cut at its `#[cfg(test)]` module.
pub(crate) fn sources(dir: &str) -> Vec<(std::path::PathBuf, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default().to_owned();
                out.push((p.clone(), code));
            }
        }
    }
    let mut out = Vec::new();
    let root = workspace_root().join(dir);
    if root.exists() {
        walk(&root, &mut out);
    }
    out
}

/// Test support that lives in a crate's src/ but is compiled only with its
/// `test-util` feature (checked below), so no binary that ships reads it.
const TEST_SUPPORT: &[&str] = &["crates/repowatch-aws/src/moto.rs"];

#[test]
fn test_support_modules_are_behind_the_test_util_feature() {
    let lib = std::fs::read_to_string(workspace_root().join("crates/repowatch-aws/src/lib.rs")).unwrap();
    assert!(lib.contains("#[cfg(feature = \"test-util\")]\npub mod moto;"), "moto.rs must stay test-only");
}

#[test]
fn environment_variables_are_read_only_in_typed_config() {
    // Handlers and adapters never read the environment; a binary reads it once,
    // at start-up, in its config module (clap `env`, tracing's RUST_LOG).
    for krate in [
        "crates/repowatch-core/src",
        "crates/repowatch-asl/src",
        "crates/repowatch-local/src",
        "crates/repowatch-github/src",
        "crates/repowatch-aws/src",
        "crates/repowatch/src",
        "functions",
    ] {
        for (path, text) in sources(krate) {
            let allowed = path.ends_with("config.rs")
                || path.components().any(|c| c.as_os_str() == "config")
                || TEST_SUPPORT.iter().any(|t| path.ends_with(t));
            for (n, line) in text.lines().enumerate() {
                let reads = line.contains("env::var(") || line.contains("env::var_os(") || line.contains("env::vars(");
                assert!(
                    !reads || allowed,
                    "{}:{}: reads the environment outside a config module: {line}",
                    path.display(),
                    n + 1
                );
            }
        }
    }
}

#[test]
fn error_names_for_retry_and_catch_come_from_step_error() {
    use repowatch_core::StepError;
    // The definition retries exactly the retryable StepError names…
    let def: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("statemachines/pipeline.asl.json")).unwrap(),
    )
    .unwrap();
    let mut names = BTreeSet::new();
    collect_error_equals(&def, &mut names);
    let ours: BTreeSet<String> = names.iter().filter(|n| n.starts_with("Repowatch.")).cloned().collect();
    let retryable: BTreeSet<String> = StepError::RETRYABLE_NAMES.iter().map(|s| s.to_string()).collect();
    assert_eq!(ours, retryable);
    // …and no other crate spells a Repowatch.* error name itself.
    for krate in ["crates/repowatch-asl/src", "crates/repowatch-local/src", "crates/repowatch/src"] {
        for (path, text) in sources(krate) {
            assert!(!text.contains("\"Repowatch."), "{} spells an error name; use StepError", path.display());
        }
    }
}

fn collect_error_equals(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if k == "ErrorEquals" {
                    out.extend(v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)));
                } else {
                    collect_error_equals(v, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_error_equals(v, out)),
        _ => {}
    }
}

#[test]
fn substitution_keys_match_the_function_names() {
    let def = std::fs::read_to_string(workspace_root().join("statemachines/pipeline.asl.json")).unwrap();
    let used: BTreeSet<String> =
        def.split("${").skip(1).filter_map(|s| s.split_once('}')).map(|(k, _)| k.to_owned()).collect();
    let known: BTreeSet<String> = repowatch_core::functions::ALL.iter().map(|f| f.substitution_key()).collect();
    assert!(used.is_subset(&known), "unknown substitutions: {:?}", used.difference(&known).collect::<Vec<_>>());
    for f in
        ["ListDatasourcesFunctionArn", "DetectUpdatesFunctionArn", "ProcessUpdatesFunctionArn", "NotifyFunctionArn"]
    {
        assert!(used.contains(f), "{f} not used");
    }
}
