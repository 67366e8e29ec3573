//! Lambda glue: what each function does with its payload, shared by the six
//! thin crates in functions/. A step's error reaches Step Functions with
//! `errorType` = [`StepError::error_name`], the same name the local
//! interpreter matches, so Retry/Catch behave alike in both worlds.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Diagnostic, LambdaEvent};
use repowatch_core::secret::SecretString;
use repowatch_core::steps::{self, QueueMessage, WebhookInput};
use repowatch_core::{
    BuildRequest, BuildTarget, DispatchError, Dispatched, Dispatcher, StepError, SystemClock, TargetId, TargetSpec,
};
use repowatch_github::{ClientOptions, GithubClient, GithubRefSource, GithubTarget, WebhookTarget};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::LambdaConfig;
use crate::{DynamoTable, SqsBuildQueue, read_parameters};

/// The SDK configuration from the Lambda environment (region, credentials
/// from the execution role's environment variables: no network call at init).
pub async fn sdk_config() -> aws_config::SdkConfig {
    crate::sdk::config_loader().load().await
}

/// Logs as the Lambda runtime formats them (to CloudWatch Logs via stdout).
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// A step's failure, as the Lambda runtime reports it.
#[derive(Debug)]
pub struct StepFailure(pub StepError);

impl From<StepFailure> for Diagnostic {
    fn from(f: StepFailure) -> Self {
        Diagnostic { error_type: f.0.error_name().to_owned(), error_message: f.0.cause() }
    }
}

impl From<StepError> for StepFailure {
    fn from(e: StepError) -> Self {
        Self(e)
    }
}

/// A failure of init (config, secrets): the function cannot start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InitError(pub String);

/// Everything the handlers need, built once per sandbox.
pub struct Ports {
    pub config: LambdaConfig,
    pub table: DynamoTable,
    pub queue: Option<SqsBuildQueue>,
    pub sfn: aws_sdk_sfn::Client,
    pub github: Option<Arc<GithubClient>>,
    pub webhook_secret: Option<SecretString>,
    /// The secrets of the catalog's webhook targets, read from SSM once, at
    /// the first dispatch (not at init: init makes no network call beyond the
    /// parameters the function was pointed at).
    target_secrets: tokio::sync::OnceCell<BTreeMap<TargetId, SecretString>>,
    /// The [[notify]] channels `repowatch sync` wrote, their URLs read from
    /// SSM once, at the first notification.
    notifiers: tokio::sync::OnceCell<repowatch_notify::Notifiers>,
    ssm: aws_sdk_ssm::Client,
    pub http: reqwest::Client,
    pub clock: SystemClock,
}

impl Ports {
    /// Clients and secrets, once: the SDK config from the Lambda environment,
    /// the SSM parameters the function was pointed at
    /// and no more (webhook targets' secrets wait for the first dispatch).
    pub async fn init(config: LambdaConfig, sdk: &aws_config::SdkConfig) -> Result<Self, InitError> {
        let table = DynamoTable::new(aws_sdk_dynamodb::Client::new(sdk), config.table.clone());
        let ssm = aws_sdk_ssm::Client::new(sdk);
        let names: Vec<String> =
            [&config.github_token_parameter, &config.webhook_secret_parameter].into_iter().flatten().cloned().collect();
        let secrets = read_parameters(&ssm, &names).await.map_err(|e| InitError(e.chain()))?;
        let take = |name: &Option<String>| name.as_ref().and_then(|n| secrets.get(n).cloned());
        let http = repowatch_github::http_client(
            &format!("repowatch/{}", env!("CARGO_PKG_VERSION")),
            std::time::Duration::from_secs(30),
        )
        .map_err(|e| InitError(e.to_string()))?;
        let github = match take(&config.github_token_parameter) {
            Some(token) => Some(Arc::new(
                GithubClient::with_http(http.clone(), &token, github_options(&config))
                    .map_err(|e| InitError(e.to_string()))?,
            )),
            None => None,
        };
        Ok(Self {
            queue: config.build_queue_url.clone().map(|url| SqsBuildQueue::new(aws_sdk_sqs::Client::new(sdk), url)),
            sfn: aws_sdk_sfn::Client::new(sdk),
            webhook_secret: take(&config.webhook_secret_parameter),
            github,
            target_secrets: tokio::sync::OnceCell::new(),
            notifiers: tokio::sync::OnceCell::new(),
            ssm,
            http,
            table,
            config,
            clock: SystemClock,
        })
    }

    /// SSM parameters read after init (a catalog's secrets): a failure is the
    /// step's configuration error, naming the parameter.
    async fn read_secrets(&self, names: &[String]) -> Result<BTreeMap<String, SecretString>, StepError> {
        read_parameters(&self.ssm, names).await.map_err(|e| StepError::Config(e.chain()))
    }

    /// The webhook targets' secrets (`secret = "ssm:/…"`), read once.
    async fn target_secrets(&self) -> Result<&BTreeMap<TargetId, SecretString>, StepError> {
        self.target_secrets
            .get_or_try_init(|| async {
                let mut wanted = Vec::new();
                for (id, spec) in self.table.targets().await.map_err(StepError::Store)? {
                    if let TargetSpec::Webhook { secret: repowatch_core::secret::SecretRef::Ssm(name), .. } = spec {
                        wanted.push((id, name));
                    }
                }
                let names: Vec<String> = wanted.iter().map(|(_, n)| n.clone()).collect();
                let found = self.read_secrets(&names).await?;
                Ok(wanted.into_iter().filter_map(|(id, n)| found.get(&n).cloned().map(|s| (id, s))).collect())
            })
            .await
    }

    /// The notification channels, built once from the table's settings.
    async fn notifiers(&self) -> Result<&repowatch_notify::Notifiers, StepError> {
        use repowatch_core::secret::SecretRef;
        self.notifiers
            .get_or_try_init(|| async {
                // Waits sized for the function's timeout: three tries, no wait over 20 s.
                let policy = repowatch_notify::RetryPolicy {
                    attempts: 3,
                    max_wait: std::time::Duration::from_secs(20),
                    ..Default::default()
                };
                let Some(spec) = self.table.notify_spec().await.map_err(StepError::Store)? else {
                    tracing::warn!("no notification channels: run `repowatch sync` with [[notify]] in repowatch.toml");
                    return Ok(repowatch_notify::Notifiers::new(
                        vec![],
                        repowatch_notify::Lang::default(),
                        jiff::tz::TimeZone::UTC,
                        policy,
                    ));
                };
                let names: Vec<String> = spec
                    .references()
                    .into_iter()
                    .filter_map(|r| match r {
                        SecretRef::Ssm(name) => Some(name.clone()),
                        _ => None,
                    })
                    .collect();
                let found = self.read_secrets(&names).await?;
                spec.notifiers(
                    |reference| match reference {
                        SecretRef::Ssm(name) => {
                            found.get(name).cloned().ok_or_else(|| format!("SSM parameter {name} was not returned"))
                        }
                        other => Err(format!(
                            "a notification channel uses {other}, which Lambda cannot read; use ssm:/… and run repowatch sync"
                        )),
                    },
                    policy,
                )
                .map_err(StepError::Config)
            })
            .await
    }

    fn refs(&self) -> Result<GithubRefSource, StepError> {
        self.github.clone().map(GithubRefSource::new).ok_or_else(|| {
            StepError::Config("REPOWATCH_GITHUB_TOKEN_PARAMETER is not set: this function cannot read GitHub".into())
        })
    }

    fn queue(&self) -> Result<&SqsBuildQueue, StepError> {
        self.queue.as_ref().ok_or_else(|| StepError::Config("REPOWATCH_BUILD_QUEUE_URL is not set".into()))
    }
}

/// GitHub's rules, with waits that fit in a Lambda timeout: a rate limit
/// longer than a minute fails the datasources (the next run retries them)
/// instead of timing the whole shard out.
fn github_options(config: &LambdaConfig) -> ClientOptions {
    let mut options = ClientOptions::new(config.github_api_url.clone());
    options.max_wait = std::time::Duration::from_secs(60);
    options.max_retries = 2;
    options
}

fn decode<T: serde::de::DeserializeOwned>(name: &str, input: Value) -> Result<T, StepError> {
    serde_json::from_value(input).map_err(|e| StepError::InvalidInput(format!("{name} input: {e}")))
}

fn encode<T: Serialize>(output: T) -> Result<Value, StepError> {
    serde_json::to_value(output).map_err(|e| StepError::InvalidInput(format!("cannot serialise the output: {e}")))
}

pub async fn list_datasources(ports: &Ports, event: LambdaEvent<Value>) -> Result<Value, StepFailure> {
    let input = decode("list-datasources", event.payload)?;
    Ok(encode(steps::list_datasources(input, &ports.table, &ports.clock).await?)?)
}

pub async fn detect_updates(ports: &Ports, event: LambdaEvent<Value>) -> Result<Value, StepFailure> {
    let input = decode("detect-updates", event.payload)?;
    let refs = ports.refs()?;
    let before = refs.client().budget();
    let out = steps::detect_updates(input, &ports.table, &ports.table, &refs).await?;
    let after = refs.client().budget();
    let mut metrics = vec![
        ("DatasourcesChecked", out.datasources.len() as u64),
        ("DatasourceErrors", out.datasources.iter().filter(|d| d.error.is_some()).count() as u64),
        ("ChangesDetected", out.datasources.iter().map(|d| d.updates.len() as u64).sum()),
        ("GithubQueries", after.graphql_requests.saturating_sub(before.graphql_requests)),
        ("GithubPointsUsed", after.graphql_points.saturating_sub(before.graphql_points)),
    ];
    if let Some(bucket) = after.graphql {
        metrics.push(("GithubPointsRemaining", bucket.remaining));
    }
    crate::emf::emit(&metrics);
    Ok(encode(out)?)
}

pub async fn process_updates(ports: &Ports, event: LambdaEvent<Value>) -> Result<Value, StepFailure> {
    let input = decode("process-updates", event.payload)?;
    let refs = ports.refs()?;
    let out = steps::process_updates(input, &ports.table, &ports.table, ports.queue()?, &refs, &ports.clock).await?;
    crate::emf::emit(&[("BuildsQueued", out.datasources.iter().map(|d| d.builds.len() as u64).sum())]);
    Ok(encode(out)?)
}

/// notify: the pipeline's run summary (Step Functions), or CloudWatch alarms
/// and anything else that reaches the alarm topic (SNS). Every SNS record
/// becomes a message, readable or not. A record no channel could take fails
/// the invocation, so Lambda retries it and then parks the event in the
/// notify failure queue (an alarm is never dropped); a record some channels
/// took is done (they were told which channels failed, and a retry would
/// repeat the alarm to them).
pub async fn notify(ports: &Ports, event: LambdaEvent<Value>) -> Result<Value, StepFailure> {
    let notifiers = ports.notifiers().await?;
    if let Some(records) = event.payload.get("Records").and_then(Value::as_array) {
        let mut failed = Vec::new();
        for record in records {
            let delivery = notifiers.send(&repowatch_notify::Message::from_sns_record(record)).await;
            if delivery.sent.is_empty() {
                failed.extend(delivery.failed.into_iter().map(|(name, why)| format!("{name}: {why}")));
            }
        }
        if !failed.is_empty() {
            return Err(StepError::Notify(repowatch_core::PortError::new(format!(
                "notification not delivered to {}",
                failed.join("; ")
            )))
            .into());
        }
        return Ok(serde_json::json!({ "records": records.len(), "channels": notifiers.names() }));
    }
    let input = decode("notify", event.payload)?;
    Ok(encode(steps::notify(input, notifiers).await?)?)
}

/// SQS's partial-batch answer, exactly: any other top-level key reads as
/// "no failures" and would delete the whole batch.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// Routes a dispatch by target kind: GitHub or the signed webhook (no commands on AWS).
pub struct CloudTarget<'a> {
    github: Option<GithubTarget>,
    webhook: WebhookTarget,
    _ports: &'a Ports,
}

#[async_trait::async_trait]
impl BuildTarget for CloudTarget<'_> {
    async fn dispatch(
        &self,
        id: &TargetId,
        target: &TargetSpec,
        request: &BuildRequest,
    ) -> Result<Dispatched, DispatchError> {
        match target {
            TargetSpec::Webhook { .. } => self.webhook.dispatch(id, target, request).await,
            TargetSpec::WorkflowDispatch { .. } | TargetSpec::RepositoryDispatch { .. } => match &self.github {
                Some(g) => g.dispatch(id, target, request).await,
                None => Err(DispatchError::new(
                    "REPOWATCH_GITHUB_TOKEN_PARAMETER is not set: GitHub targets cannot dispatch",
                )),
            },
            TargetSpec::Command { .. } => Err(DispatchError::new(format!(
                "target {id:?} is a command target, which runs only with repowatch on one machine; use a webhook target to reach it"
            ))),
        }
    }
}

/// dispatch-build on an SQS batch. A record whose body is not a build request
/// is reported as a failure (retried, then parked in the DLQ), never dropped.
pub async fn dispatch_build(ports: &Ports, event: LambdaEvent<SqsEvent>) -> Result<BatchResponse, StepFailure> {
    let mut failures = Vec::new();
    let mut messages = Vec::new();
    for record in event.payload.records {
        let decoded = QueueMessage::decode_sqs_record(
            record.message_id.as_deref(),
            record.body.as_deref(),
            record.attributes.get("ApproximateReceiveCount").map(String::as_str),
        );
        match decoded {
            Ok(message) => messages.push(message),
            Err(e) => {
                let id = record.message_id.unwrap_or_default();
                tracing::error!(message_id = %id, error = %e, "not a build request; left for the DLQ");
                failures.push(ItemFailure { item_identifier: id });
            }
        }
    }
    if !messages.is_empty() {
        let target = CloudTarget {
            github: ports.github.clone().map(GithubTarget::new),
            webhook: WebhookTarget::new(ports.http.clone(), ports.target_secrets().await?.clone()),
            _ports: ports,
        };
        let dispatcher = Dispatcher { owner: event.context.request_id.clone(), lease: ports.config.dispatch_lease };
        let out = steps::dispatch_build(
            steps::DispatchInput { messages },
            &ports.table,
            &ports.table,
            &target,
            &ports.clock,
            &dispatcher,
        )
        .await?;
        for r in &out.results {
            tracing::info!(key = %r.key, outcome = ?r.outcome, detail = %r.detail, "build message handled");
            if r.outcome == steps::DispatchOutcome::Dispatched {
                notify_quietly(ports, repowatch_notify::Message::BuildDispatched { build: r.into() }).await;
            }
        }
        let count = |o: steps::DispatchOutcome| out.results.iter().filter(|r| r.outcome == o).count() as u64;
        crate::emf::emit(&[
            ("BuildsDispatched", count(steps::DispatchOutcome::Dispatched)),
            ("BuildsDuplicate", count(steps::DispatchOutcome::Duplicate)),
            ("BuildsFailed", count(steps::DispatchOutcome::Failed) + failures.len() as u64),
        ]);
        failures.extend(
            out.batch_item_failures.into_iter().map(|f| ItemFailure { item_identifier: f.item_identifier.to_string() }),
        );
    }
    Ok(BatchResponse { batch_item_failures: failures })
}

/// A Function URL request, the parts github-webhook reads.
#[derive(Debug, Deserialize)]
pub struct UrlRequest {
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default, rename = "isBase64Encoded")]
    pub is_base64_encoded: bool,
}

/// A Function URL response.
#[derive(Debug, Serialize)]
pub struct UrlResponse {
    #[serde(rename = "statusCode")]
    pub status_code: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// Function URLs take at most 6 MB; GitHub sends up to 25 MB. Over the limit
/// is refused with 413 before anything else.
pub const MAX_WEBHOOK_BODY: usize = 6 * 1024 * 1024;

fn url_response(status_code: u16, body: impl Into<String>) -> UrlResponse {
    let headers = BTreeMap::from([("content-type".to_owned(), "text/plain; charset=utf-8".to_owned())]);
    UrlResponse { status_code, headers, body: body.into() }
}

/// github-webhook behind a Function URL: verify, dedupe, answer, and start one
/// execution per run, named by the delivery id and datasource (Step Functions
/// refuses a second execution of the same name: a retry starts nothing twice).
pub async fn github_webhook(ports: &Ports, event: LambdaEvent<UrlRequest>) -> Result<UrlResponse, StepFailure> {
    let request = event.payload;
    let body = request.body.unwrap_or_default();
    if body.len() > MAX_WEBHOOK_BODY {
        return Ok(url_response(413, "payload too large\n"));
    }
    let Some(secret) = ports.webhook_secret.as_ref() else {
        return Err(StepError::Config("REPOWATCH_WEBHOOK_SECRET_PARAMETER is not set".into()).into());
    };
    let delivery =
        request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-github-delivery")).map(|(_, v)| v.clone());
    let input = WebhookInput { headers: request.headers, body, is_base64_encoded: request.is_base64_encoded };
    let out = steps::github_webhook(input, secret, &ports.table, &ports.table, &ports.clock).await?;
    if let (false, Some(arn)) = (out.runs.is_empty(), ports.config.state_machine_arn.as_ref()) {
        for run in &out.runs {
            let name =
                execution_name(delivery.as_deref().unwrap_or("delivery"), run.datasource.as_ref().map(|d| d.as_str()));
            let input = serde_json::to_string(run).map_err(|e| StepError::InvalidInput(e.to_string()))?;
            let started = ports.sfn.start_execution().state_machine_arn(arn).name(&name).input(input).send().await;
            if let Err(e) = started {
                let code = aws_sdk_sfn::error::ProvideErrorMetadata::code(&e).map(str::to_owned);
                if code.as_deref() != Some("ExecutionAlreadyExists") {
                    // GitHub does not redeliver: fail so the delivery shows red and the daily run catches up.
                    return Err(StepError::Store(repowatch_core::PortError::new(format!(
                        "cannot start the run: {}",
                        crate::sdk::describe(&e)
                    )))
                    .into());
                }
            }
        }
    }
    // A run one of our builds started has completed: tell the build channels.
    if let Some(report) = out.workflow_run.as_ref().filter(|r| r.recorded && r.status.as_deref() == Some("completed")) {
        match ports.table.build_for_run(report.run_id).await {
            Ok(Some(build)) => notify_quietly(ports, repowatch_notify::Message::run_finished(&build, report)).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e.chain(), "cannot read the build of a finished run"),
        }
    }
    Ok(url_response(out.status_code, format!("{}\n", out.body)))
}

/// A notification that must not hold up or fail the work it reports on
/// (a dispatch, a webhook GitHub waits 10 s for): bounded to 5 s. Channels
/// that fail are logged by name where they are sent.
async fn notify_quietly(ports: &Ports, message: repowatch_notify::Message) {
    let send = async {
        let notifiers = ports.notifiers().await.map_err(|e| e.cause())?;
        notifiers.send(&message).await;
        Ok::<_, String>(())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(5), send).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "no notification channels"),
        Err(_) => tracing::warn!("notification not finished within 5 s; left"),
    }
}

/// Step Functions execution names: ≤ 80 characters of `[A-Za-z0-9_-]`.
pub fn execution_name(delivery: &str, datasource: Option<&str>) -> String {
    let raw = format!("gh-{delivery}-{}", datasource.unwrap_or("all"));
    let clean: String =
        raw.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    clean.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_errors_keep_their_names_on_the_way_out() {
        let d: Diagnostic = StepFailure(StepError::Config("x".into())).into();
        assert_eq!(d.error_type, StepError::Config("x".into()).error_name());
    }

    #[test]
    fn batch_response_is_the_exact_shape_sqs_reads() {
        let r = BatchResponse { batch_item_failures: vec![ItemFailure { item_identifier: "m-1".into() }] };
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"batchItemFailures":[{"itemIdentifier":"m-1"}]}"#);
        let empty = BatchResponse { batch_item_failures: vec![] };
        assert_eq!(serde_json::to_string(&empty).unwrap(), r#"{"batchItemFailures":[]}"#);
    }

    #[test]
    fn execution_names_are_valid() {
        let n = execution_name("72d3162e-cc78-11e3-81ab-4c9367dc0958", Some("api"));
        assert_eq!(n, "gh-72d3162e-cc78-11e3-81ab-4c9367dc0958-api");
        assert!(execution_name(&"x".repeat(200), Some("a b")).len() <= 80);
        assert!(execution_name("a/b", None).chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
