//! github-webhook: the step behind the webhook endpoint (a Lambda Function
//! URL on AWS, `repowatch serve` locally). It verifies `X-Hub-Signature-256`
//! over the raw body in constant time, refuses a bad or missing signature
//! with 401 and no detail, answers `ping`, dedupes `X-GitHub-Delivery`, and
//! turns a ref change into runs for the datasources that watch that ref. It
//! does no slow work: the caller starts the runs after answering.
//!
//! `workflow_run` events are recorded on the build whose dispatch started
//! that run (the workflow_dispatch target links a GitHub run id to a build
//! through `return_run_details`) and returned as `workflow_run`.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::StepError;
use crate::github_events::{self, GithubEvent};
use crate::ids::{CommitSha, DatasourceId};
use crate::model::{DetectionSource, Location, RepoSlug};
use crate::ports::{Catalog, Clock, RunResult, StateStore};
use crate::secret::SecretString;
use crate::signature;
use crate::steps::list_datasources::RunRequest;

/// An HTTP request as the endpoint received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// Header names in any case.
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// The body is base64 (Lambda Function URLs may encode it).
    #[serde(default)]
    pub is_base64_encoded: bool,
}

/// The HTTP answer, and what the caller does after answering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookOutput {
    #[serde(rename = "statusCode")]
    pub status_code: u16,
    pub body: String,
    /// Runs to start, one per datasource that watches the changed ref.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run: Option<WorkflowRunReport>,
}

/// A workflow run's progress, as GitHub reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowRunReport {
    pub repo: RepoSlug,
    pub run_id: u64,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<CommitSha>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_url: Option<String>,
    /// A build of ours started this run, and now carries its result.
    #[serde(default)]
    pub recorded: bool,
}

fn answer(status_code: u16, body: impl Into<String>) -> WebhookOutput {
    WebhookOutput { status_code, body: body.into(), runs: vec![], workflow_run: None }
}

fn header<'a>(input: &'a WebhookInput, name: &str) -> Option<&'a str> {
    input.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn same_repo(a: &RepoSlug, b: &RepoSlug) -> bool {
    a.owner.eq_ignore_ascii_case(&b.owner) && a.name.eq_ignore_ascii_case(&b.name)
}

pub async fn github_webhook(
    input: WebhookInput,
    secret: &SecretString,
    catalog: &dyn Catalog,
    store: &dyn StateStore,
    clock: &dyn Clock,
) -> Result<WebhookOutput, StepError> {
    let body = if input.is_base64_encoded {
        match base64::engine::general_purpose::STANDARD.decode(input.body.as_bytes()) {
            Ok(bytes) => bytes,
            Err(_) => return Ok(answer(400, "the body is marked base64 but is not")),
        }
    } else {
        input.body.as_bytes().to_vec()
    };
    // Nothing is read, parsed or answered in detail before the signature holds.
    if signature::verify(secret, &body, header(&input, "x-hub-signature-256")).is_err() {
        return Ok(answer(401, ""));
    }
    let Some(event) = header(&input, "x-github-event") else {
        return Ok(answer(400, "missing X-GitHub-Event"));
    };
    let Some(delivery) = header(&input, "x-github-delivery") else {
        return Ok(answer(400, "missing X-GitHub-Delivery"));
    };
    let parsed = match github_events::parse(event, &body) {
        Ok(parsed) => parsed,
        Err(e) => return Ok(answer(400, e.to_string())),
    };
    if !store.record_delivery(delivery, clock.now()).await.map_err(StepError::Store)? {
        return Ok(answer(200, "duplicate delivery: already handled"));
    }
    match parsed {
        GithubEvent::Ping { .. } => Ok(answer(200, "pong")),
        GithubEvent::Ignored { reason } => Ok(answer(200, format!("ignored: {reason}"))),
        GithubEvent::WorkflowRun { repo, run_id, action, status, conclusion, head_sha, html_url } => {
            let result = RunResult {
                run_id,
                status: status.clone().unwrap_or_else(|| action.clone()),
                conclusion: conclusion.clone(),
                url: html_url.clone(),
                updated_at: clock.now(),
            };
            let recorded = store.record_run_result(&result).await.map_err(StepError::Store)?;
            let body = if recorded {
                format!("workflow run {run_id} recorded on its build")
            } else {
                format!("workflow run {run_id} was not started by repowatch: nothing to record")
            };
            Ok(WebhookOutput {
                workflow_run: Some(WorkflowRunReport {
                    repo,
                    run_id,
                    action,
                    status,
                    conclusion,
                    head_sha,
                    html_url,
                    recorded,
                }),
                ..answer(200, body)
            })
        }
        GithubEvent::RefChanged { repo, kind, git_ref, .. } => {
            let watching: Vec<DatasourceId> = catalog
                .datasources()
                .await
                .map_err(StepError::Store)?
                .into_iter()
                .filter(|d| matches!(&d.location, Location::Github(r) if same_repo(r, &repo)))
                .filter(|d| d.watch.matches(kind, &git_ref))
                .map(|d| d.id)
                .collect();
            if watching.is_empty() {
                return Ok(answer(200, format!("no datasource watches {kind} {git_ref} of {repo}")));
            }
            let body = format!(
                "starting a run for {}",
                watching.iter().map(DatasourceId::as_str).collect::<Vec<_>>().join(", ")
            );
            let runs = watching
                .into_iter()
                .map(|id| RunRequest { source: DetectionSource::Webhook, datasource: Some(id) })
                .collect();
            Ok(WebhookOutput { runs, ..answer(202, body) })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::catalog::StaticCatalog;
    use crate::fakes::{ManualClock, MemoryStateStore};
    use crate::model::Datasource;
    use crate::rules::WatchRules;

    fn secret() -> SecretString {
        SecretString::new("It's a Secret to Everybody")
    }

    fn catalog() -> StaticCatalog {
        let ds = |id: &str, repo: &str, watch: &[&str]| Datasource {
            id: DatasourceId::parse(id).unwrap(),
            location: Location::Github(RepoSlug::parse(repo).unwrap()),
            watch: WatchRules::parse(watch).unwrap(),
            paths: None,
            cooldown: std::time::Duration::ZERO,
            targets: vec![],
            build_on_first_seen: false,
        };
        StaticCatalog::new(
            vec![
                ds("api", "octo-org/api", &["branch:main", "tag:v*"]),
                ds("api-docs", "Octo-Org/API", &["branch:docs"]),
                ds("web", "octo-org/web", &["branch:main"]),
            ],
            BTreeMap::new(),
        )
    }

    fn request(event: &str, delivery: &str, body: &str, signature: Option<String>) -> WebhookInput {
        let mut headers = BTreeMap::from([
            ("X-GitHub-Event".to_owned(), event.to_owned()),
            ("X-GitHub-Delivery".to_owned(), delivery.to_owned()),
        ]);
        if let Some(sig) = signature {
            headers.insert("X-Hub-Signature-256".to_owned(), sig);
        }
        WebhookInput { headers, body: body.to_owned(), is_base64_encoded: false }
    }

    fn signed(event: &str, delivery: &str, body: &str) -> WebhookInput {
        request(event, delivery, body, Some(signature::sign(&secret(), body.as_bytes())))
    }

    fn push(git_ref: &str) -> String {
        format!(
            r#"{{"ref":"{git_ref}","after":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","repository":{{"full_name":"octo-org/api"}}}}"#
        )
    }

    async fn call(input: WebhookInput, store: &MemoryStateStore) -> WebhookOutput {
        let clock = ManualClock::new(jiff::Timestamp::UNIX_EPOCH);
        github_webhook(input, &secret(), &catalog(), store, &clock).await.unwrap()
    }

    #[tokio::test]
    async fn a_signed_push_starts_runs_for_the_datasources_watching_that_ref() {
        let store = MemoryStateStore::default();
        let out = call(signed("push", "d-1", &push("refs/heads/main")), &store).await;
        assert_eq!(out.status_code, 202);
        assert_eq!(
            out.runs,
            vec![RunRequest {
                source: DetectionSource::Webhook,
                datasource: Some(DatasourceId::parse("api").unwrap())
            }]
        );
        // The repository name matches whatever its case; the watch rules still apply.
        let out = call(signed("push", "d-2", &push("refs/heads/docs")), &store).await;
        assert_eq!(out.runs[0].datasource.as_ref().map(DatasourceId::as_str), Some("api-docs"));
        let out = call(signed("push", "d-3", &push("refs/heads/feature")), &store).await;
        assert_eq!((out.status_code, out.runs.len()), (200, 0));
        assert_eq!(out.body, "no datasource watches branch refs/heads/feature of octo-org/api");
    }

    #[tokio::test]
    async fn bad_or_missing_signatures_get_401_and_no_detail() {
        let store = MemoryStateStore::default();
        let body = push("refs/heads/main");
        let wrong = signature::sign(&SecretString::new("another secret"), body.as_bytes());
        for input in [request("push", "d-1", &body, None), request("push", "d-1", &body, Some(wrong))] {
            let out = call(input, &store).await;
            assert_eq!((out.status_code, out.body.as_str(), out.runs.len()), (401, "", 0));
        }
        // A refused request does not use up its delivery id.
        assert_eq!(call(signed("push", "d-1", &body), &store).await.status_code, 202);
    }

    #[tokio::test]
    async fn a_redelivery_is_a_no_op() {
        let store = MemoryStateStore::default();
        let body = push("refs/heads/main");
        assert_eq!(call(signed("push", "same", &body), &store).await.runs.len(), 1);
        let again = call(signed("push", "same", &body), &store).await;
        assert_eq!(
            (again.status_code, again.body.as_str(), again.runs.len()),
            (200, "duplicate delivery: already handled", 0)
        );
    }

    #[tokio::test]
    async fn ping_base64_and_bad_requests() {
        let store = MemoryStateStore::default();
        assert_eq!(
            call(signed("ping", "p", r#"{"zen":"Keep it logically awesome.","hook_id":1}"#), &store).await.body,
            "pong"
        );

        let body = push("refs/tags/v1.0.0");
        let mut input = signed("push", "b64", &body);
        input.body = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
        input.is_base64_encoded = true;
        assert_eq!(call(input, &store).await.status_code, 202);

        let body = r#"{"ref":"refs/heads/main","repository":{"full_name":"octo-org/api"}}"#;
        let out = call(signed("push", "broken", body), &store).await;
        assert_eq!(
            (out.status_code, out.body.as_str()),
            (400, "push payload: missing field `after` at line 1 column 67")
        );

        let mut no_delivery = signed("push", "x", &push("refs/heads/main"));
        no_delivery.headers.remove("X-GitHub-Delivery");
        assert_eq!(call(no_delivery, &store).await.body, "missing X-GitHub-Delivery");
    }
}
