//! The track Lambda function: applies each "ECS Task State Change" event the stack's EventBridge
//! rule delivers. Errors are returned (so EventBridge retries and then dead-letters the event) only
//! when the table write failed; events that are not ours or cannot be read are logged and dropped.

use aws_config::BehaviorVersion;
use jobgen_runtime::config::RuntimeConfig;
use jobgen_runtime::store::Store;
use jobgen_runtime::track::Tracker;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = match RuntimeConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            // Logged with its message (the returned error prints as Debug).
            tracing::error!(error = %e, "cannot start: configuration error");
            return Err(e.to_string().into());
        }
    };
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name.clone());
    let tracker = Tracker::new(store, config);
    let tracker = &tracker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let outcome = tracker.handle(event.payload, chrono::Utc::now()).await?;
        Ok::<Value, Error>(outcome.to_json())
    }))
    .await
}
