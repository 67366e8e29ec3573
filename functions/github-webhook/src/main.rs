//! github-webhook: the Function URL GitHub posts to: verify, dedupe, answer, start a run.
//! Thin by design: config and clients once at init, then the shared handler.

use lambda_runtime::{LambdaEvent, service_fn};
use repowatch_aws::LambdaConfig;
use repowatch_aws::lambda::{self, Ports};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let config = LambdaConfig::from_env()?;
    let sdk = lambda::sdk_config().await;
    let ports: &'static Ports = Box::leak(Box::new(Ports::init(config, &sdk).await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<repowatch_aws::lambda::UrlRequest>| {
        lambda::github_webhook(ports, event)
    }))
    .await
}
