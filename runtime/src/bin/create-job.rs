//! The create-job Lambda function: configuration from the stack's environment variables, AWS
//! clients created once per cold start, then one [`CreateJob::handle`] per invocation.

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use jobgen_runtime::config::RuntimeConfig;
use jobgen_runtime::create_job::CreateJob;
use jobgen_runtime::launch::RetryPolicy;
use jobgen_runtime::launcher::Launcher;
use jobgen_runtime::service::ECS_ATTEMPT_TIMEOUT;
use jobgen_runtime::store::Store;
use jobgen_runtime::timers::Timers;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use serde_json::value::RawValue;

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
    // AWS_ENDPOINT_URL (the local emulator) and credentials come from the standard chain.
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(ECS_ATTEMPT_TIMEOUT).build())
        .load()
        .await;
    // The launcher owns RunTask retries (it must also retry 200-with-failures answers); SDK retries
    // on top would multiply the budget.
    let ecs_config = aws_sdk_ecs::config::Builder::from(&sdk).retry_config(RetryConfig::disabled()).build();
    let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name.clone());
    let launcher = Launcher::new(aws_sdk_ecs::Client::from_conf(ecs_config), RetryPolicy::default());
    let timers = Timers::for_config(&sdk, &config);
    let handler = CreateJob::new(store, launcher, config).with_timers(timers);
    let handler = &handler;
    // The payload as raw JSON text: deserialized into a `Value`, `{"jobType":"a","jobType":"b"}`
    // would reach the handler as `{"jobType":"b"}`; the handler parses it and refuses that.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
        let deadline = i64::try_from(event.context.deadline).ok();
        Ok::<Value, Error>(handler.handle_payload(event.payload.get().as_bytes(), deadline).await)
    }))
    .await
}
