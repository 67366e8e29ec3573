//! list-datasources: which datasources a run covers, as shards of <= 100 ids.
//! Thin by design: config and clients once at init, then the shared handler.

use lambda_runtime::{LambdaEvent, service_fn};
use repowatch_aws::LambdaConfig;
use repowatch_aws::lambda::{self, Ports};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let config = LambdaConfig::from_env()?;
    let sdk = lambda::sdk_config().await;
    let ports: &'static Ports = Box::leak(Box::new(Ports::init(config, &sdk).await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| lambda::list_datasources(ports, event))).await
}
