//! The one typed configuration of a Lambda function, read from the
//! environment once at init (the template sets these variables).

use std::time::Duration;

/// What a function was given by the template. Names are `REPOWATCH_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaConfig {
    /// `REPOWATCH_TABLE`: the DynamoDB table (state, catalog, idempotency).
    pub table: String,
    /// `REPOWATCH_BUILD_QUEUE_URL`: the SQS build queue (process-updates).
    pub build_queue_url: Option<String>,
    /// `REPOWATCH_STATE_MACHINE_ARN`: the pipeline (github-webhook starts runs).
    pub state_machine_arn: Option<String>,
    /// `REPOWATCH_GITHUB_API_URL`, default `https://api.github.com`.
    pub github_api_url: String,
    /// `REPOWATCH_GITHUB_TOKEN_PARAMETER`: SSM SecureString name of the token.
    pub github_token_parameter: Option<String>,
    /// `REPOWATCH_WEBHOOK_SECRET_PARAMETER`: SSM SecureString name of the GitHub webhook secret.
    pub webhook_secret_parameter: Option<String>,
    /// `REPOWATCH_DISPATCH_LEASE_SECONDS`: how long a claim is held (the function's timeout and some).
    pub dispatch_lease: Duration,
}

/// A missing or malformed variable, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name}: {problem} (the SAM template sets it; redeploy or set it by hand)")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

impl LambdaConfig {
    /// From the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let optional = |name: &'static str| get(name).filter(|v| !v.trim().is_empty());
        let table =
            optional("REPOWATCH_TABLE").ok_or(ConfigError { name: "REPOWATCH_TABLE", problem: "not set".into() })?;
        let dispatch_lease = match optional("REPOWATCH_DISPATCH_LEASE_SECONDS") {
            None => Duration::from_secs(15 * 60),
            Some(v) => Duration::from_secs(v.trim().parse().map_err(|_| ConfigError {
                name: "REPOWATCH_DISPATCH_LEASE_SECONDS",
                problem: format!("{v:?} is not a number of seconds"),
            })?),
        };
        let github_api_url =
            optional("REPOWATCH_GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".to_owned());
        if !(github_api_url.starts_with("https://") || github_api_url.starts_with("http://")) {
            return Err(ConfigError {
                name: "REPOWATCH_GITHUB_API_URL",
                problem: format!("{github_api_url:?} is not an http(s) URL"),
            });
        }
        Ok(Self {
            table,
            build_queue_url: optional("REPOWATCH_BUILD_QUEUE_URL"),
            state_machine_arn: optional("REPOWATCH_STATE_MACHINE_ARN"),
            github_api_url,
            github_token_parameter: optional("REPOWATCH_GITHUB_TOKEN_PARAMETER"),
            webhook_secret_parameter: optional("REPOWATCH_WEBHOOK_SECRET_PARAMETER"),
            dispatch_lease,
        })
    }

    /// Every variable this config reads, for the docs check.
    pub const VARIABLES: [&'static str; 7] = [
        "REPOWATCH_TABLE",
        "REPOWATCH_BUILD_QUEUE_URL",
        "REPOWATCH_STATE_MACHINE_ARN",
        "REPOWATCH_GITHUB_API_URL",
        "REPOWATCH_GITHUB_TOKEN_PARAMETER",
        "REPOWATCH_WEBHOOK_SECRET_PARAMETER",
        "REPOWATCH_DISPATCH_LEASE_SECONDS",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_and_errors_name_the_variable() {
        let c = LambdaConfig::from_lookup(lookup(&[("REPOWATCH_TABLE", "t")])).unwrap();
        assert_eq!(c.github_api_url, "https://api.github.com");
        assert_eq!(c.dispatch_lease, Duration::from_secs(900));
        assert_eq!(c.build_queue_url, None);
        let e = LambdaConfig::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(e.name, "REPOWATCH_TABLE");
        let e =
            LambdaConfig::from_lookup(lookup(&[("REPOWATCH_TABLE", "t"), ("REPOWATCH_DISPATCH_LEASE_SECONDS", "x")]))
                .unwrap_err();
        assert!(e.to_string().contains("REPOWATCH_DISPATCH_LEASE_SECONDS"), "{e}");
    }
}
