//! A Lambda function built like functions/*/src/main.rs (the same runtime
//! crate, tracing and profile settings) whose handler panics when the event
//! asks it to. Our own handlers have no input that panics, so the simulated
//! cloud uses this one to show what a bug would do: the panic comes back to
//! the caller as an error and the same sandbox serves the next invocation
//! (tests/e2e/cloud.rs).

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        if event.payload["panic"] == true {
            #[allow(clippy::panic, reason = "the fault this binary exists to inject")]
            {
                panic!("injected: {}", event.payload["why"]);
            }
        }
        Ok::<Value, lambda_runtime::Error>(json!({ "ok": event.payload["n"] }))
    }))
    .await
}
