//! The deploy path as code: deploy/github-oidc.yaml lets only this
//! repository's `dev` and `prod` environments assume the deploy role, and
//! the workflows pin every action by commit, ask for the least permissions,
//! and never run two deploys at once. (cfn-lint, checkov and zizmor check
//! the same files from scripts/test.sh; these are the promises they do not
//! know about.)

use crate::support::workspace_root;

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace_root().join(path)).unwrap()
}

/// The lines of the block that starts at `key:` (indented deeper than it).
fn block<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| l.trim_start() != format!("{key}:"));
    let Some(first) = lines.next() else { panic!("no {key}: block") };
    let indent = first.len() - first.trim_start().len();
    lines.take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent).collect()
}

#[test]
fn the_deploy_role_trusts_this_repositorys_environments_and_nothing_wider() {
    let template = read("deploy/github-oidc.yaml");
    let trust = block(&template, "AssumeRolePolicyDocument").join("\n");
    assert!(trust.contains("sts:AssumeRoleWithWebIdentity"), "{trust}");
    assert!(trust.contains("token.actions.githubusercontent.com:aud: sts.amazonaws.com"), "{trust}");
    assert!(!trust.contains('*'), "no wildcard in the deploy role's trust policy:\n{trust}");
    assert!(!trust.contains("StringLike"), "exact matches only:\n{trust}");
    let subjects: Vec<&str> = trust.lines().filter(|l| l.contains("repo:")).map(str::trim).collect();
    assert_eq!(
        subjects,
        [
            "- !Sub repo:${GithubOwner}/${GithubRepository}:environment:dev",
            "- !Sub repo:${GithubOwner}/${GithubRepository}:environment:prod",
        ],
        "the `sub` claim names the repository and an environment"
    );
    // The owner and repository cannot be given as a pattern either.
    for parameter in ["GithubOwner", "GithubRepository"] {
        let pattern = block(&template, parameter).into_iter().find(|l| l.contains("AllowedPattern")).unwrap();
        assert!(pattern.contains('^') && pattern.trim_end().ends_with('$'), "{parameter}: {pattern}");
        assert!(!pattern.contains('*') && !pattern.contains(".+"), "{parameter} admits a wildcard: {pattern}");
    }
    // Only CloudFormation may assume the role that creates the stacks' resources.
    let cfn = block(&template, "CloudFormationRole").join("\n");
    assert!(cfn.contains("Service: cloudformation.amazonaws.com"), "{cfn}");
    assert!(template.contains("iam:PassedToService: cloudformation.amazonaws.com"));
}

/// Each job of a workflow, as text (the lines under `jobs:` indented by two).
fn jobs(workflow: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in workflow.lines().skip_while(|l| *l != "jobs:").skip(1) {
        let job_header = line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':');
        match out.last_mut() {
            Some(job) if !job_header => {
                job.push_str(line);
                job.push('\n');
            }
            _ => out.push(format!("{line}\n")),
        }
    }
    out
}

#[test]
fn workflows_pin_actions_ask_for_least_permissions_and_never_overlap_deploys() {
    for name in ["ci.yml", "deploy.yml"] {
        let text = read(&format!(".github/workflows/{name}"));
        for line in
            text.lines().filter(|l| l.trim_start().starts_with("- uses:") || l.trim_start().starts_with("uses:"))
        {
            let reference = line.split("uses:").nth(1).unwrap().trim();
            let (_, rest) = reference.split_once('@').unwrap_or_else(|| panic!("{name}: {line}"));
            let sha = rest.split_whitespace().next().unwrap();
            assert!(
                sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                "{name}: not pinned by commit: {line}"
            );
            assert!(rest.contains("# v"), "{name}: say which release the commit is: {line}");
        }
        assert!(text.lines().any(|l| l.starts_with("permissions:")), "{name}: top-level permissions");
        assert!(
            !text.contains("write-all") && !text.contains("secrets.AWS_"),
            "{name}: no broad token, no stored keys"
        );
    }
    let deploy = read(".github/workflows/deploy.yml");
    assert!(deploy.contains("permissions: {}\n"), "deploy.yml grants nothing by default");
    assert!(
        deploy.contains("concurrency:\n  group: deploy\n  cancel-in-progress: false"),
        "deploys queue, never overlap"
    );
    // Only the jobs that deploy, each behind its environment, mint an OIDC token.
    let jobs: Vec<String> = jobs(&deploy).into_iter().filter(|j| j.contains("id-token: write")).collect();
    assert_eq!(jobs.len(), 2);
    for job in jobs {
        assert!(job.contains("environment: dev") || job.contains("environment: prod"), "{job}");
        assert!(job.contains("role-to-assume: ${{ vars.AWS_DEPLOY_ROLE_ARN }}"), "{job}");
    }
    assert!(deploy.contains("  prod:\n") && deploy.contains("    needs: dev\n"), "prod only after dev");
    assert!(!read(".github/workflows/ci.yml").contains("id-token"), "CI never gets AWS credentials");
}
