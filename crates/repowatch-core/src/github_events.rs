//! GitHub webhook payloads, parsed into what repowatch acts on: a ref of a
//! repository that moved, appeared or went away (push, create, delete,
//! release), a build result (workflow_run), a ping. Everything else is
//! ignored with a reason. Pure parsing: signature checks live in
//! [`crate::signature`], delivery dedupe and starting runs in the step that
//! uses this.
//!
//! Only the fields repowatch needs are read, so GitHub adding fields never
//! breaks parsing; a missing or mistyped field that is needed is an error
//! naming it.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::ids::{CommitSha, RefKind, RefName};
use crate::model::RepoSlug;

/// What a webhook delivery means for repowatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GithubEvent {
    /// GitHub checking the hook: answer 200.
    Ping { hook_id: Option<u64> },
    /// A ref changed: start a run for the datasources watching `repo`. The
    /// run reads the ref itself (webhook and poll converge); `commit` is what
    /// the payload said, when it said.
    RefChanged { repo: RepoSlug, kind: RefKind, git_ref: RefName, commit: Option<CommitSha>, deleted: bool },
    /// A workflow run's progress, for the build it belongs to.
    WorkflowRun {
        repo: RepoSlug,
        run_id: u64,
        action: String,
        status: Option<String>,
        conclusion: Option<String>,
        head_sha: Option<CommitSha>,
        html_url: Option<String>,
    },
    /// Nothing to do (another event, or an action that changes no ref).
    Ignored { reason: String },
}

/// A payload that cannot be what its event name says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event} payload: {message}")]
pub struct EventError {
    pub event: String,
    pub message: String,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct Push {
    #[serde(rename = "ref")]
    git_ref: String,
    after: String,
    #[serde(default)]
    deleted: bool,
    repository: Repository,
}

#[derive(Deserialize)]
struct CreateDelete {
    #[serde(rename = "ref")]
    git_ref: String,
    ref_type: String,
    repository: Repository,
}

#[derive(Deserialize)]
struct Release {
    action: String,
    release: ReleaseBody,
    repository: Repository,
}

#[derive(Deserialize)]
struct ReleaseBody {
    tag_name: String,
    #[serde(default)]
    draft: bool,
}

#[derive(Deserialize)]
struct WorkflowRunEvent {
    action: String,
    workflow_run: WorkflowRunBody,
    repository: Repository,
}

#[derive(Deserialize)]
struct WorkflowRunBody {
    id: u64,
    status: Option<String>,
    conclusion: Option<String>,
    head_sha: Option<String>,
    html_url: Option<String>,
}

#[derive(Deserialize)]
struct Ping {
    hook_id: Option<u64>,
}

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// Parses the body of a delivery whose `X-GitHub-Event` header is `event`.
pub fn parse(event: &str, body: &[u8]) -> Result<GithubEvent, EventError> {
    let fail = |message: String| EventError { event: event.to_owned(), message };
    let repo = |r: Repository| RepoSlug::parse(&r.full_name).map_err(|e| fail(format!("repository.full_name: {e}")));
    let ref_name = |text: String| RefName::parse(text).map_err(|e| fail(format!("ref: {e}")));
    match event {
        "ping" => Ok(GithubEvent::Ping { hook_id: decode::<Ping>(event, body)?.hook_id }),
        "push" => {
            let p: Push = decode(event, body)?;
            let git_ref = ref_name(p.git_ref)?;
            let deleted = p.deleted || p.after == ZERO_SHA;
            let commit =
                if deleted { None } else { Some(CommitSha::parse(p.after).map_err(|e| fail(format!("after: {e}")))?) };
            Ok(GithubEvent::RefChanged {
                repo: repo(p.repository)?,
                kind: git_ref.natural_kind(),
                git_ref,
                commit,
                deleted,
            })
        }
        "create" | "delete" => {
            let p: CreateDelete = decode(event, body)?;
            let git_ref = match p.ref_type.as_str() {
                "branch" => RefName::branch(&p.git_ref),
                "tag" => RefName::tag(&p.git_ref),
                other => {
                    return Ok(GithubEvent::Ignored { reason: format!("{event} of a {other}, not a branch or tag") });
                }
            }
            .map_err(|e| fail(format!("ref: {e}")))?;
            Ok(GithubEvent::RefChanged {
                repo: repo(p.repository)?,
                kind: git_ref.natural_kind(),
                git_ref,
                commit: None,
                deleted: event == "delete",
            })
        }
        "release" => {
            let p: Release = decode(event, body)?;
            // Only actions that make a release visible (or take it away) change what is built.
            let deleted = match p.action.as_str() {
                "published" | "released" | "prereleased" => false,
                "deleted" | "unpublished" => true,
                other => return Ok(GithubEvent::Ignored { reason: format!("release {other}") }),
            };
            if p.release.draft && !deleted {
                return Ok(GithubEvent::Ignored { reason: "a draft release".to_owned() });
            }
            let git_ref = RefName::tag(&p.release.tag_name).map_err(|e| fail(format!("release.tag_name: {e}")))?;
            Ok(GithubEvent::RefChanged {
                repo: repo(p.repository)?,
                kind: RefKind::Release,
                git_ref,
                commit: None,
                deleted,
            })
        }
        "workflow_run" => {
            let p: WorkflowRunEvent = decode(event, body)?;
            let head_sha = match p.workflow_run.head_sha {
                Some(sha) => Some(CommitSha::parse(sha).map_err(|e| fail(format!("workflow_run.head_sha: {e}")))?),
                None => None,
            };
            Ok(GithubEvent::WorkflowRun {
                repo: repo(p.repository)?,
                run_id: p.workflow_run.id,
                action: p.action,
                status: p.workflow_run.status,
                conclusion: p.workflow_run.conclusion,
                head_sha,
                html_url: p.workflow_run.html_url,
            })
        }
        other => Ok(GithubEvent::Ignored { reason: format!("repowatch does not act on {other:?} events") }),
    }
}

fn decode<T: DeserializeOwned>(event: &str, body: &[u8]) -> Result<T, EventError> {
    // serde_json's message names the field and the position.
    serde_json::from_slice(body).map_err(|e| EventError { event: event.to_owned(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> RepoSlug {
        RepoSlug::parse("octo-org/api").unwrap()
    }

    #[test]
    fn push_to_a_branch_and_a_deleted_tag() {
        let sha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
        let body = format!(
            r#"{{"ref":"refs/heads/main","after":"{sha}","deleted":false,"repository":{{"full_name":"octo-org/api"}}}}"#
        );
        assert_eq!(
            parse("push", body.as_bytes()).unwrap(),
            GithubEvent::RefChanged {
                repo: repo(),
                kind: RefKind::Branch,
                git_ref: RefName::parse("refs/heads/main").unwrap(),
                commit: Some(CommitSha::parse(sha).unwrap()),
                deleted: false,
            }
        );
        let body = format!(
            r#"{{"ref":"refs/tags/v1","after":"{ZERO_SHA}","deleted":true,"repository":{{"full_name":"octo-org/api"}}}}"#
        );
        assert!(matches!(
            parse("push", body.as_bytes()).unwrap(),
            GithubEvent::RefChanged { deleted: true, commit: None, kind: RefKind::Tag, .. }
        ));
    }

    #[test]
    fn release_actions() {
        let body = |action: &str, draft: bool| {
            format!(
                r#"{{"action":"{action}","release":{{"tag_name":"v1.2.0","draft":{draft}}},"repository":{{"full_name":"octo-org/api"}}}}"#
            )
        };
        assert!(matches!(
            parse("release", body("published", false).as_bytes()).unwrap(),
            GithubEvent::RefChanged { kind: RefKind::Release, deleted: false, .. }
        ));
        assert_eq!(
            parse("release", body("edited", false).as_bytes()).unwrap(),
            GithubEvent::Ignored { reason: "release edited".into() }
        );
        assert_eq!(
            parse("release", body("published", true).as_bytes()).unwrap(),
            GithubEvent::Ignored { reason: "a draft release".into() }
        );
    }

    #[test]
    fn bad_payloads_name_the_field() {
        assert_eq!(
            parse("push", br#"{"ref":"refs/heads/main","repository":{"full_name":"octo-org/api"}}"#)
                .unwrap_err()
                .to_string(),
            "push payload: missing field `after` at line 1 column 67"
        );
        assert_eq!(
            parse("push", br#"{"ref":"main","after":"x","repository":{"full_name":"octo-org/api"}}"#)
                .unwrap_err()
                .to_string(),
            "push payload: ref: ref name \"main\" is not valid: expected refs/heads/<branch> or refs/tags/<tag> with a name git accepts"
        );
        assert!(parse("create", b"not json").unwrap_err().to_string().starts_with("create payload: expected ident"));
        assert_eq!(
            parse("star", b"{}").unwrap(),
            GithubEvent::Ignored { reason: "repowatch does not act on \"star\" events".into() }
        );
    }
}
