//! `repowatch sync`: the datasources and targets of repowatch.toml, written
//! to the deployment's DynamoDB table (undeclared ones are removed). Only
//! what runs on AWS is accepted: GitHub repositories, GitHub and webhook
//! targets, secrets in SSM. `--dry-run` checks and prints without AWS; the
//! write needs a binary built with the `aws` feature (the default build of
//! the CLI links no AWS SDK).

use repowatch_core::secret::SecretRef;
use repowatch_core::{Location, TargetSpec};
use serde_json::json;

use crate::cli::{Outcome, SyncArgs, UsageError};
use crate::config::Config;

/// What would stop the catalog from working on AWS, one line per problem.
pub fn cloud_problems(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    for d in &config.datasources {
        if let Location::Path(p) = &d.location {
            problems.push(format!(
                "datasource {:?} reads the local repository {}; on AWS use repo = \"owner/name\"",
                d.id.as_str(),
                p.display()
            ));
        }
    }
    for (id, t) in &config.targets {
        match t {
            TargetSpec::Command { .. } => problems.push(format!(
                "target {:?} is a command, which runs only on one machine; on AWS reach that machine with a webhook target (its `repowatch serve` accepts signed build requests)",
                id.as_str()
            )),
            TargetSpec::Webhook { secret, .. } if !matches!(secret, SecretRef::Ssm(_)) => problems.push(format!(
                "target {:?}: secret = \"{secret}\" cannot be read by the Lambda functions; store it in SSM and write secret = \"ssm:/repowatch/targets/{}\"",
                id.as_str(),
                id.as_str()
            )),
            _ => {}
        }
    }
    for (i, channel) in config.notify.iter().enumerate() {
        for (field, reference) in
            std::iter::once(("url", &channel.url)).chain(channel.secret.as_ref().map(|s| ("secret", s)))
        {
            if !matches!(reference, SecretRef::Ssm(_)) {
                problems.push(format!(
                    "notify[{i}].{field} = \"{reference}\" cannot be read by the Lambda functions; store it in SSM as a SecureString and write {field} = \"ssm:/repowatch/notify/{}-{field}\"",
                    channel.kind.as_str()
                ));
            }
        }
    }
    problems.extend(config.missing_github());
    problems
}

pub async fn sync(config: &Config, args: &SyncArgs, json: bool) -> anyhow::Result<Outcome> {
    let problems = cloud_problems(config);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("{}: {p}", config.path.display());
        }
        return Err(UsageError(format!("{} problem(s): nothing was written", problems.len())).into());
    }
    let names = |v: Vec<&str>| v.join(", ");
    let datasources = names(config.datasources.iter().map(|d| d.id.as_str()).collect());
    let targets = names(config.targets.keys().map(|t| t.as_str()).collect());
    if args.dry_run {
        if json {
            println!(
                "{}",
                json!({ "dry_run": true, "datasources": config.datasources.len(), "targets": config.targets.len() })
            );
        } else {
            println!(
                "would write {} datasource(s) [{datasources}] and {} target(s) [{targets}] to {}; nothing was written (--dry-run)",
                config.datasources.len(),
                config.targets.len(),
                args.table.as_deref().unwrap_or("the table given with --table or REPOWATCH_TABLE")
            );
        }
        return Ok(Outcome::Success);
    }
    let Some(table) = args.table.as_deref() else {
        return Err(UsageError(
            "--table is missing: name the stack's table (the TableName output of sam deploy), or set REPOWATCH_TABLE"
                .into(),
        )
        .into());
    };
    write(config, table, json).await
}

#[cfg(feature = "aws")]
async fn write(config: &Config, table: &str, json: bool) -> anyhow::Result<Outcome> {
    let sdk = repowatch_aws::sdk::config_loader().load().await;
    let dynamo = repowatch_aws::DynamoTable::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let notify = (!config.notify.is_empty()).then(|| config.notify_spec());
    let written_catalog = async {
        let counts = dynamo.sync_catalog(&config.datasources, &config.targets).await?;
        dynamo.sync_notify(notify.as_ref()).await?;
        Ok::<_, repowatch_core::PortError>(counts)
    };
    let (written, deleted) = written_catalog
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot write the catalog to {table}: {}\n(check --table against sam deploy's TableName output, the region in AWS_REGION or your profile, and your credentials)",
                e.chain()
            )
        })?;
    if json {
        let channels = notify.as_ref().map_or(0, |n| n.channels.len());
        println!("{}", json!({ "table": table, "written": written, "deleted": deleted, "notify_channels": channels }));
    } else {
        println!("{table}: wrote {written} item(s), removed {deleted} no longer declared");
    }
    Ok(Outcome::Success)
}

#[cfg(not(feature = "aws"))]
async fn write(_config: &Config, _table: &str, _json: bool) -> anyhow::Result<Outcome> {
    Err(UsageError(
        "this repowatch was built without AWS support; build it with `cargo install --path crates/repowatch --features aws` (or use --dry-run)".into(),
    )
    .into())
}
