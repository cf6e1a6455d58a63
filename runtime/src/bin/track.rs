//! The track Lambda function: applies each "ECS Task State Change" event the stack's EventBridge
//! rule delivers, and when an event ends an attempt that holds a concurrency slot, gives the slot
//! back and launches the next queued jobs (so it has the same ECS client and launcher as
//! create-job). Errors are returned (so EventBridge retries and then dead-letters the event) only
//! when a table write failed; events that are not ours or cannot be read are logged and dropped.

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use jobgen_runtime::config::RuntimeConfig;
use jobgen_runtime::launch::RetryPolicy;
use jobgen_runtime::launcher::Launcher;
use jobgen_runtime::service::{ECS_ATTEMPT_TIMEOUT, LaunchService};
use jobgen_runtime::store::Store;
use jobgen_runtime::timers::Timers;
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
    // As create-job: AWS_ENDPOINT_URL and credentials from the standard chain, a bounded attempt,
    // and RunTask retries owned by the launcher.
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(ECS_ATTEMPT_TIMEOUT).build())
        .load()
        .await;
    let ecs_config = aws_sdk_ecs::config::Builder::from(&sdk).retry_config(RetryConfig::disabled()).build();
    let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name.clone());
    let launcher = Launcher::new(aws_sdk_ecs::Client::from_conf(ecs_config), RetryPolicy::default());
    let timers = Timers::for_config(&sdk, &config);
    let tracker = Tracker::with_service(LaunchService::new(store, launcher, config).with_timers(timers));
    let tracker = &tracker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = i64::try_from(event.context.deadline).ok();
        let outcome = tracker.handle_until(event.payload, chrono::Utc::now(), deadline).await?;
        Ok::<Value, Error>(outcome.to_json())
    }))
    .await
}
