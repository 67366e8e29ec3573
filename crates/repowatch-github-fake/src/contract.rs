//! Runs `scripts/github-contract.mjs` (Node) on an exchange log: every exchange is checked against GitHub's published
//! OpenAPI description (`@octokit/openapi`) and GraphQL schema (`@octokit/graphql-schema`).
//!
//! Without Node or the npm packages (a user's clone) the check is skipped and says why; with
//! `REPOWATCH_REQUIRE_NODE=1` (CI) a skip is an error instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::model::FakeError;

/// The npm packages the checker needs, as `npm install` arguments.
pub const CONTRACT_NPM_PACKAGES: &[&str] =
    &["@octokit/openapi@23.0.2", "@octokit/graphql-schema@15.26.1", "graphql@16", "ajv@8.17.1", "ajv-formats@3.0.1"];

/// What the checker said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractOutcome {
    /// Every exchange matches GitHub's descriptions; the checker's output.
    Passed(String),
    /// The checker found problems (exit status 1); its output names each one.
    Failed(String),
    /// Node or the npm packages are missing; why.
    Skipped(String),
}

impl ContractOutcome {
    /// The checker's output (or the reason for skipping).
    pub fn output(&self) -> &str {
        match self {
            Self::Passed(s) | Self::Failed(s) | Self::Skipped(s) => s,
        }
    }
}

/// The checker script in this workspace.
pub fn contract_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/github-contract.mjs")
}

/// Where the checker loads its npm packages from: `$REPOWATCH_NODE_MODULES`, else
/// `$HOME/.cache/repowatch/node/node_modules`.
pub fn node_modules_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("REPOWATCH_NODE_MODULES").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/repowatch/node/node_modules"))
}

/// Why the checker cannot run here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let install = format!("npm install --prefix ~/.cache/repowatch/node {}", CONTRACT_NPM_PACKAGES.join(" "));
    if Command::new("node").arg("--version").output().map_or(true, |o| !o.status.success()) {
        return Some(format!("node is not installed (then: {install})"));
    }
    let Some(dir) = node_modules_dir() else {
        return Some("neither REPOWATCH_NODE_MODULES nor HOME is set".to_owned());
    };
    let needed = [
        "@octokit/openapi/generated/api.github.com.deref.json",
        "@octokit/graphql-schema/schema.json",
        "graphql/package.json",
        "ajv/package.json",
        "ajv-formats/package.json",
    ];
    let missing: Vec<&str> = needed.iter().copied().filter(|p| !dir.join(p).exists()).collect();
    (!missing.is_empty())
        .then(|| format!("{} missing under {} (install: {install})", missing.join(", "), dir.display()))
}

/// Whether `REPOWATCH_REQUIRE_NODE=1` turns skips into failures.
pub fn node_required() -> bool {
    std::env::var("REPOWATCH_REQUIRE_NODE").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Checks an exchange log (JSON Lines, as [`crate::FakeGithub::write_exchanges`] writes it).
///
/// Errors when the checker could not run (a usage error, exit status 2) or when it is required and missing.
pub fn check_contract(exchanges: &Path) -> Result<ContractOutcome, FakeError> {
    if let Some(reason) = missing_prerequisite() {
        if node_required() {
            return Err(FakeError::Checker(format!("REPOWATCH_REQUIRE_NODE=1 but {reason}")));
        }
        return Ok(ContractOutcome::Skipped(reason));
    }
    let output = Command::new("node").arg(contract_script()).arg(exchanges).output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    match output.status.code() {
        Some(0) => Ok(ContractOutcome::Passed(text)),
        Some(1) => Ok(ContractOutcome::Failed(text)),
        code => Err(FakeError::Checker(format!("exit status {code:?}: {text}"))),
    }
}
