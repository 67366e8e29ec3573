//! Every example payload of npm `@octokit/webhooks-examples` (GitHub's own
//! examples, kept in step with the API) for the events repowatch acts on is
//! parsed into the right event. `scripts/test.sh` installs the package into
//! `~/.cache/repowatch/node`; without it this test says so and checks nothing
//! else.

use repowatch_core::RefKind;
use repowatch_core::github_events::{GithubEvent, parse};
use serde_json::Value;

fn examples() -> Option<Vec<(String, Vec<Value>)>> {
    let home = std::env::var_os("HOME")?;
    let path = std::path::PathBuf::from(home)
        .join(".cache/repowatch/node/node_modules/@octokit/webhooks-examples/api.github.com/index.json");
    let all: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    Some(
        all.into_iter()
            .filter_map(|e| Some((e["name"].as_str()?.to_owned(), e["examples"].as_array()?.clone())))
            .collect(),
    )
}

#[test]
fn octokit_examples_route_to_the_right_event() {
    let Some(all) = examples() else {
        eprintln!("@octokit/webhooks-examples is not installed (scripts/test.sh installs it with npm): skipped");
        return;
    };
    let mut checked = 0;
    for (event, examples) in &all {
        for example in examples {
            let body = serde_json::to_vec(example).unwrap();
            let parsed = parse(event, &body).unwrap_or_else(|e| panic!("{event}: {e}"));
            let full_name = example["repository"]["full_name"].as_str();
            match (event.as_str(), &parsed) {
                ("ping", GithubEvent::Ping { hook_id }) => assert_eq!(*hook_id, example["hook_id"].as_u64()),
                ("push", GithubEvent::RefChanged { repo, git_ref, commit, deleted, kind }) => {
                    assert_eq!(Some(repo.to_string().as_str()), full_name);
                    assert_eq!(git_ref.as_str(), example["ref"]);
                    assert_eq!(*deleted, example["deleted"] == true);
                    assert_eq!(
                        commit.as_ref().map(|c| c.as_str()),
                        (!*deleted).then(|| example["after"].as_str().unwrap())
                    );
                    assert_eq!(*kind, git_ref.natural_kind());
                }
                ("create" | "delete", GithubEvent::RefChanged { git_ref, deleted, .. }) => {
                    assert_eq!(git_ref.short(), example["ref"]);
                    assert_eq!(*deleted, event == "delete");
                }
                ("release", GithubEvent::RefChanged { git_ref, kind, .. }) => {
                    assert_eq!(*kind, RefKind::Release);
                    assert_eq!(git_ref.short(), example["release"]["tag_name"]);
                    assert!(
                        ["published", "released", "prereleased", "deleted"]
                            .contains(&example["action"].as_str().unwrap())
                    );
                }
                ("release", GithubEvent::Ignored { .. }) => {
                    assert!(
                        example["action"] == "created"
                            || example["action"] == "edited"
                            || example["release"]["draft"] == true
                    );
                }
                ("workflow_run", GithubEvent::WorkflowRun { run_id, conclusion, html_url, .. }) => {
                    assert_eq!(Some(*run_id), example["workflow_run"]["id"].as_u64());
                    assert_eq!(conclusion.as_deref(), example["workflow_run"]["conclusion"].as_str());
                    assert_eq!(html_url.as_deref(), example["workflow_run"]["html_url"].as_str());
                }
                ("ping" | "push" | "create" | "delete" | "release" | "workflow_run", other) => {
                    panic!("{event} example parsed as {other:?}")
                }
                (_, GithubEvent::Ignored { .. }) => {}
                (_, other) => panic!("{event} should be ignored, got {other:?}"),
            }
            checked += 1;
        }
    }
    eprintln!("checked {checked} example payloads of {} events", all.len());
    for needed in ["ping", "push", "create", "delete", "release", "workflow_run"] {
        assert!(all.iter().any(|(e, x)| e == needed && !x.is_empty()), "no {needed} examples");
    }
}
