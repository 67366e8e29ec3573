//! Dispatch targets reached over HTTP: GitHub `workflow_dispatch` and
//! `repository_dispatch`, and the signed `webhook` target (a self-hosted or
//! GPU build server, or another repowatch's `POST /webhooks/build`).
//!
//! The idempotency key travels wherever the target can take it: in
//! `client_payload`, in the signed webhook (`X-Repowatch-Key` and the body),
//! and as a workflow input only when the target names one (`key_input`):
//! GitHub refuses inputs the workflow does not declare.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use repowatch_core::secret::SecretString;
use repowatch_core::{BuildRequest, BuildTarget, DispatchError, Dispatched, RunLink, TargetId, TargetSpec, signature};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{GithubClient, error_chain};

/// Header carrying the HMAC-SHA256 of the body, `sha256=<hex>` as GitHub signs.
pub const SIGNATURE_HEADER: &str = "x-repowatch-signature-256";
/// Header carrying the idempotency key, for receivers to dedupe on.
pub const KEY_HEADER: &str = "x-repowatch-key";

/// `workflow_dispatch` and `repository_dispatch`, through the shared client
/// (so dispatches are serial and ≥ 1 s apart).
pub struct GithubTarget {
    client: Arc<GithubClient>,
}

impl GithubTarget {
    pub fn new(client: Arc<GithubClient>) -> Self {
        Self { client }
    }

    async fn workflow_dispatch(
        &self,
        repo: &repowatch_core::RepoSlug,
        workflow: &str,
        git_ref: &str,
        inputs: &BTreeMap<String, String>,
        key_input: Option<&str>,
        request: &BuildRequest,
    ) -> Result<Dispatched, DispatchError> {
        let mut inputs: serde_json::Map<String, Value> =
            inputs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        if let Some(name) = key_input {
            inputs.insert(name.to_owned(), Value::String(request.key.as_str().to_owned()));
        }
        let body = json!({ "ref": git_ref, "inputs": inputs, "return_run_details": true });
        let path =
            format!("/repos/{}/{}/actions/workflows/{}/dispatches", repo.owner, repo.name, path_segment(workflow));
        let what = format!("workflow_dispatch of {workflow} in {repo}");
        let answer = self.client.rest(Method::POST, &path, &what, Some(&body)).await.map_err(failed)?;
        // 200 with the run (return_run_details), or 204 from GitHub versions without it.
        if answer.status.as_u16() == 200 && !answer.body.is_empty() {
            #[derive(Deserialize)]
            struct RunDetails {
                workflow_run_id: u64,
                html_url: String,
            }
            let run: RunDetails = answer.json(&what).map_err(failed)?;
            return Ok(Dispatched {
                detail: format!("workflow run {} started: {}", run.workflow_run_id, run.html_url),
                run: Some(RunLink { id: run.workflow_run_id, url: run.html_url }),
                ..Dispatched::default()
            });
        }
        Ok(Dispatched { detail: format!("{workflow} dispatched on {git_ref} of {repo}"), ..Dispatched::default() })
    }

    async fn repository_dispatch(
        &self,
        repo: &repowatch_core::RepoSlug,
        event_type: &str,
        request: &BuildRequest,
    ) -> Result<Dispatched, DispatchError> {
        // 7 top-level keys: GitHub accepts at most 10.
        let body = json!({
            "event_type": event_type,
            "client_payload": {
                "datasource": request.datasource,
                "ref": request.git_ref,
                "commit": request.commit,
                "kind": request.kind,
                "source": request.source,
                "key": request.key,
                "detected_at": request.detected_at,
            }
        });
        let path = format!("/repos/{}/{}/dispatches", repo.owner, repo.name);
        let what = format!("repository_dispatch {event_type:?} to {repo}");
        self.client.rest(Method::POST, &path, &what, Some(&body)).await.map_err(failed)?;
        Ok(Dispatched { detail: format!("repository_dispatch {event_type:?} sent to {repo}"), ..Dispatched::default() })
    }
}

/// A workflow file name or id as one path segment.
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn failed(e: crate::client::GithubError) -> DispatchError {
    DispatchError { detail: e.to_string(), exit_code: None, output: None, source: Some(Box::new(e)) }
}

#[async_trait]
impl BuildTarget for GithubTarget {
    async fn dispatch(
        &self,
        target_id: &TargetId,
        target: &TargetSpec,
        request: &BuildRequest,
    ) -> Result<Dispatched, DispatchError> {
        match target {
            TargetSpec::WorkflowDispatch { repo, workflow, git_ref, inputs, key_input } => {
                self.workflow_dispatch(repo, workflow, git_ref, inputs, key_input.as_deref(), request).await
            }
            TargetSpec::RepositoryDispatch { repo, event_type } => {
                self.repository_dispatch(repo, event_type, request).await
            }
            other => Err(DispatchError::new(format!(
                "target {target_id:?} is a {} target; the GitHub dispatcher only starts workflow_dispatch and repository_dispatch",
                other.kind_name()
            ))),
        }
    }
}

/// The signed `webhook` target: POSTs the build request as JSON with
/// `X-Repowatch-Signature-256` and `X-Repowatch-Key`. Secrets are resolved
/// once at start-up and passed in by target id.
pub struct WebhookTarget {
    http: reqwest::Client,
    secrets: BTreeMap<TargetId, SecretString>,
}

impl WebhookTarget {
    pub fn new(http: reqwest::Client, secrets: BTreeMap<TargetId, SecretString>) -> Self {
        Self { http, secrets }
    }
}

/// Scheme, host and port of a URL, for messages (a path or query may hold a token).
pub fn url_origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            _ => "(a URL without a host)".to_owned(),
        },
        Err(_) => "(an invalid URL)".to_owned(),
    }
}

#[async_trait]
impl BuildTarget for WebhookTarget {
    async fn dispatch(
        &self,
        target_id: &TargetId,
        target: &TargetSpec,
        request: &BuildRequest,
    ) -> Result<Dispatched, DispatchError> {
        let TargetSpec::Webhook { url, .. } = target else {
            return Err(DispatchError::new(format!("target {target_id:?} is not a webhook target")));
        };
        let Some(secret) = self.secrets.get(target_id) else {
            return Err(DispatchError::new(format!(
                "the secret of target {target_id:?} was not resolved at start-up; restart after fixing it"
            )));
        };
        let origin = url_origin(url);
        let body = serde_json::to_vec(request)
            .map_err(|e| DispatchError::new(format!("cannot encode the build request: {e}")))?;
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature::sign(secret, &body))
            .header(KEY_HEADER, request.key.as_str())
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let e = e.without_url();
                DispatchError::new(format!("POST to {origin}: {}", error_chain(&e)))
            })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let excerpt: String = text.chars().take(200).collect();
        if status.is_success() {
            Ok(Dispatched {
                detail: format!("{origin} accepted it ({status}) {excerpt}").trim_end().to_owned(),
                ..Dispatched::default()
            })
        } else {
            Err(DispatchError::new(format!("{origin} answered {status}: {excerpt}").trim_end().to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_hide_paths_and_queries() {
        assert_eq!(url_origin("https://builder.example/build?token=abc"), "https://builder.example");
        assert_eq!(url_origin("http://127.0.0.1:8080/webhooks/build"), "http://127.0.0.1:8080");
        assert_eq!(url_origin("not a url"), "(an invalid URL)");
    }

    #[test]
    fn workflow_names_are_one_segment() {
        assert_eq!(path_segment("deploy.yml"), "deploy.yml");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
    }
}
