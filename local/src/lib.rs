//! `jobgen dev`: the synthesized stack, running locally (crate `jobgen-local`).
//!
//! [`deploy`] puts the stack into the AWS emulator (moto) as a user deploys to AWS (package the
//! handler zips to S3, create-stack or update-stack). [`LocalStack::connect`] then reads the
//! DEPLOYED stack — its Outputs, the functions' environment (GetFunctionConfiguration) and the rule's
//! pattern (DescribeRule) — and builds the two real handlers from it, never from hand-copied values.
//! [`crate::sim::Simulator`] plays ECS and EventBridge for the tasks create-job launches, and
//! [`invoke`] serves the Lambda Invoke API so the operator commands reach the local create-job
//! unchanged (`AWS_ENDPOINT_URL_LAMBDA`).

pub mod deploy;
pub mod ecs;
pub mod faults;
pub mod invoke;
pub mod schedules;
pub mod sim;
pub mod zip;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use jobgen_runtime::config::RuntimeConfig;
use jobgen_runtime::create_job::CreateJob;
use jobgen_runtime::launch::RetryPolicy;
use jobgen_runtime::launcher::Launcher;
use jobgen_runtime::service::LaunchService;
use jobgen_runtime::store::Store;
use jobgen_runtime::timers::Timers;
use jobgen_runtime::track::Tracker;

use crate::ecs::DevEcs;
use serde_json::Value;

use crate::sim::pattern::RulePattern;
use crate::sim::{SimOptions, Simulator};
use jobgen_ops::aws_error;
use jobgen_runtime::contract::{self, outputs};
use jobgen_synth::model;

/// Why `jobgen dev` could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// The project file is invalid (already rendered for the terminal).
    #[error("{0}")]
    Config(String),
    /// Deployment failed.
    #[error(transparent)]
    Deploy(#[from] deploy::DeployError),
    /// The deployed stack is not what jobgen dev needs.
    #[error("the deployed stack {stack} cannot be run locally: {why}")]
    Stack {
        /// The stack.
        stack: String,
        /// What is missing or wrong.
        why: String,
    },
    /// The Invoke port cannot be opened.
    #[error("cannot listen on 127.0.0.1:{port}: {why}")]
    Listen {
        /// The port.
        port: u16,
        /// The OS error.
        why: String,
    },
}

/// Where the emulator is and how to reach it.
#[derive(Debug, Clone)]
pub struct Emulator {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The region.
    pub region: String,
}

impl Emulator {
    /// SDK configuration for the emulator: its endpoint for every service and fake credentials, so
    /// `jobgen dev` can never reach a real AWS account whatever the shell holds.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new(self.region.clone()))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "jobgen-dev",
            ))
            .load()
            .await
    }
}

/// The moto account id (the emulator's default).
pub const EMULATOR_ACCOUNT: &str = "123456789012";

/// The stack deployed by `jobgen dev`, with handlers configured from it.
pub struct LocalStack {
    /// Stack name.
    pub stack: String,
    /// Its Outputs.
    pub outputs: BTreeMap<String, String>,
    /// The handlers' configuration, read from the deployed functions' environment.
    pub config: RuntimeConfig,
    /// The deployed rule's event pattern.
    pub pattern: Value,
    /// create-job and track, ready to serve.
    pub functions: Arc<invoke::Functions>,
    /// A tracker for the simulator.
    pub tracker: Tracker<DevEcs>,
    /// The share of RunTask calls the handlers' ECS refuses (`jobgen dev --throttle`).
    pub refusals: Arc<ecs::Refusals>,
    /// The share of the handlers' DynamoDB calls that fail (`jobgen dev --dynamo-faults`).
    pub dynamo_faults: Arc<faults::DynamoFaults>,
    /// Clients on the emulator.
    pub ecs: aws_sdk_ecs::Client,
    /// CloudWatch Logs on the emulator.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// EventBridge Scheduler on the emulator (the stack's timers).
    pub scheduler: aws_sdk_scheduler::Client,
    /// DynamoDB on the emulator (undisturbed by the handlers' faults).
    pub ddb: aws_sdk_dynamodb::Client,
}

async fn function_env(
    lambda: &aws_sdk_lambda::Client,
    stack: &str,
    name: &str,
) -> Result<(BTreeMap<String, String>, String), DevError> {
    let out = lambda.get_function_configuration().function_name(name).send().await.map_err(|e| DevError::Stack {
        stack: stack.into(),
        why: format!("GetFunctionConfiguration {name}: {}", aws_error(&e)),
    })?;
    let env = out.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
    Ok((env.into_iter().collect(), out.function_arn().unwrap_or(name).to_string()))
}

/// A GetFunctionConfiguration answer (the members the operator commands read).
fn configuration(name: &str, arn: &str, env: &BTreeMap<String, String>) -> Value {
    serde_json::json!({"FunctionName": name, "FunctionArn": arn, "Environment": {"Variables": env}})
}

impl LocalStack {
    /// Reads the deployed stack `stack` and builds its handlers.
    pub async fn connect(emulator: &Emulator, stack: &str) -> Result<LocalStack, DevError> {
        let sdk = emulator.sdk_config().await;
        let cfn = aws_sdk_cloudformation::Client::new(&sdk);
        let outputs = jobgen_ops::stack_outputs(&cfn, stack)
            .await
            .map_err(|e| DevError::Stack { stack: stack.into(), why: e.to_string() })?;
        let need = |key: &str| {
            outputs
                .get(key)
                .cloned()
                .ok_or_else(|| DevError::Stack { stack: stack.into(), why: format!("output {key} is missing") })
        };
        let create_name = need(outputs::CREATE_JOB_FUNCTION_NAME)?;
        let track_name = need(outputs::TRACK_FUNCTION_NAME)?;
        let rule_name = need(outputs::RULE_NAME)?;
        let lambda = aws_sdk_lambda::Client::new(&sdk);
        let (create_env, create_arn) = function_env(&lambda, stack, &create_name).await?;
        let (track_env, track_arn) = function_env(&lambda, stack, &track_name).await?;
        // Both functions read the one document their config layer ships; each checks it against the
        // hash in its own environment, as the deployed handlers do at start-up.
        let s3 = s3_client(&sdk);
        let document = deploy::deployed_config_document(&cfn, &s3, stack)
            .await
            .map_err(|why| DevError::Stack { stack: stack.into(), why: format!("config layer: {why}") })?;
        let create_config = RuntimeConfig::from_parts(|k| create_env.get(k).cloned(), &document)
            .map_err(|e| DevError::Stack { stack: stack.into(), why: format!("{create_name}: {e}") })?;
        let config = RuntimeConfig::from_parts(|k| track_env.get(k).cloned(), &document)
            .map_err(|e| DevError::Stack { stack: stack.into(), why: format!("{track_name}: {e}") })?;
        let events =
            describe_rule(emulator, &rule_name).await.map_err(|why| DevError::Stack { stack: stack.into(), why })?;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        // The handlers' own client: the same emulator, through the fault interceptor (off unless
        // the simulator's faults turn it on).
        let dynamo_faults = Arc::new(faults::DynamoFaults::default());
        let handler_ddb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(faults::FaultInterceptor::new(dynamo_faults.clone()))
                .build(),
        );
        // As the create-job bin does: the launcher owns RunTask retries.
        let ecs_launch = aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::config::Builder::from(&sdk).retry_config(RetryConfig::disabled()).build(),
        );
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let refusals = Arc::new(ecs::Refusals::default());
        let create_timers = Timers::for_config(&sdk, &create_config);
        let create_job = CreateJob::new(
            Store::new(handler_ddb.clone(), create_config.table_name.clone()),
            Launcher::new(DevEcs::new(ecs_launch, refusals.clone()), RetryPolicy::default()),
            create_config,
        )
        .with_timers(create_timers);
        // As the track bin does: track releases a finished job's slot and admits and launches the next
        // queued jobs through the same launch service create-job uses.
        let track_launch = aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::config::Builder::from(&sdk).retry_config(RetryConfig::disabled()).build(),
        );
        let tracker = Tracker::with_service(
            LaunchService::new(
                Store::new(handler_ddb.clone(), config.table_name.clone()),
                Launcher::new(DevEcs::new(track_launch, refusals.clone()), RetryPolicy::default()),
                config.clone(),
            )
            .with_timers(Timers::for_config(&sdk, &config)),
        );
        let functions = Arc::new(invoke::Functions {
            create_job_ids: vec![create_name.clone(), create_arn.clone()],
            track_ids: vec![track_name.clone(), track_arn.clone()],
            create_job,
            tracker: tracker.clone(),
            create_job_timeout_ms: i64::from(contract::CREATE_JOB_TIMEOUT_SECONDS) * 1000,
            configurations: vec![
                (vec![create_name.clone(), create_arn.clone()], configuration(&create_name, &create_arn, &create_env)),
                (vec![track_name.clone(), track_arn.clone()], configuration(&track_name, &track_arn, &track_env)),
            ],
        });
        Ok(LocalStack {
            stack: stack.into(),
            outputs,
            config,
            pattern: events,
            functions,
            tracker,
            refusals,
            dynamo_faults,
            ecs,
            logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
            scheduler: aws_sdk_scheduler::Client::new(&sdk),
            ddb,
        })
    }

    /// A simulator for this stack.
    pub fn simulator(&self, options: SimOptions) -> Result<Simulator, DevError> {
        self.refusals.set_share(options.faults.throttle, options.faults.seed);
        self.dynamo_faults.set_share(options.faults.dynamo, options.faults.seed);
        let pattern = RulePattern::new(&self.pattern)
            .map_err(|e| DevError::Stack { stack: self.stack.clone(), why: e.to_string() })?;
        Ok(Simulator::new(
            self.ecs.clone(),
            self.logs.clone(),
            self.tracker.clone(),
            self.config.clone(),
            pattern,
            options,
        )
        .with_scheduler(self.scheduler.clone())
        .with_create_job(self.functions.clone()))
    }
}

/// EventBridge DescribeRule on the emulator (JSON protocol `AWSEvents.DescribeRule`, one call, so no
/// EventBridge SDK crate): the pattern the deployed rule holds.
async fn describe_rule(emulator: &Emulator, rule_name: &str) -> Result<Value, String> {
    let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "AWSEvents.DescribeRule")];
    let body = serde_json::json!({ "Name": rule_name }).to_string();
    let (status, text) = deploy::emulator_post(&emulator.endpoint, &emulator.region, "events", &headers, body).await?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("DescribeRule {rule_name}: HTTP {status}: {e}"))?;
    let pattern = json
        .get("EventPattern")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("DescribeRule {rule_name}: HTTP {status}: no EventPattern in {json}"))?;
    serde_json::from_str(pattern).map_err(|e| format!("DescribeRule {rule_name}: EventPattern is not JSON: {e}"))
}

/// `jobgen dev` options.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The project file.
    pub config: PathBuf,
    /// The emulator.
    pub emulator: Emulator,
    /// Stack name (default `jobgen-<project>`).
    pub stack: Option<String>,
    /// Directory of the packaged handler zips.
    pub lambda_dir: PathBuf,
    /// Port of the Lambda Invoke endpoint (0: any free port).
    pub port: u16,
    /// Simulator settings.
    pub sim: SimOptions,
    /// Also write the `export` lines to this file.
    pub env_file: Option<PathBuf>,
}

/// Deploys the project into the emulator; returns the stack name.
pub async fn deploy(options: &DevOptions) -> Result<String, DevError> {
    let mut config = jobgen_synth::load(&options.config).map_err(|report| DevError::Config(report.to_string()))?;
    jobgen_synth::synth::check_packaged_architecture(&config, &options.lambda_dir)
        .map_err(|report| DevError::Config(report.to_string()))?;
    let emulator = &options.emulator;
    if let Some(n) = deploy::ensure_network(&mut config, &emulator.endpoint, &emulator.region).await? {
        eprintln!(
            "jobgen dev: the project's subnets/security groups do not exist in the emulator; using a new emulator VPC \
             network instead (subnet {}, security group {})",
            n.subnets.join(","),
            n.security_groups.join(",")
        );
    }
    deploy::hold_emulator_tasks(&emulator.endpoint).await?;
    let sdk = emulator.sdk_config().await;
    let stand_ins = deploy::ensure_existing_clusters(&config, &aws_sdk_ecs::Client::new(&sdk)).await?;
    if !stand_ins.is_empty() {
        eprintln!(
            "jobgen dev: created empty emulator stand-ins for the project's existing clusters: {} (existing task \
             definitions must be registered in the emulator by you; without them create-job records LAUNCH_FAILED)",
            stand_ins.join(", ")
        );
    }
    let scheduler = aws_sdk_scheduler::Client::new(&sdk);
    if deploy::ensure_schedule_group(&scheduler, &config.project.name).await? {
        eprintln!(
            "jobgen dev: created the timers' schedule group {} through the Scheduler API (the emulator's CloudFormation cannot)",
            contract::schedule_group(&config.project.name)
        );
    }
    let synthesized = jobgen_synth::synth::synthesize(&config, &model::ModelOptions::default())
        .map_err(|e| DevError::Config(e.to_string()))?;
    let mut document = synthesized.document.clone();
    let dropped = deploy::emulator_copy(&mut document);
    if !dropped.is_empty() {
        eprintln!("jobgen dev: left out of the emulator's copy (moto cannot create them): {}", dropped.join(", "));
    }
    let s3 = s3_client(&sdk);
    let bucket = format!("jobgen-dev-artifacts-{}", config.project.name);
    let functions =
        [(synthesized.stack.create_job.id.as_str(), "create-job"), (synthesized.stack.track.id.as_str(), "track")];
    let layer = (synthesized.stack.config_layer.id.as_str(), synthesized.config_document.as_str());
    let uploaded = deploy::package(&s3, &bucket, &mut document, &functions, &options.lambda_dir, layer).await?;
    for (id, what) in &uploaded {
        eprintln!("jobgen dev: packaged {id}: {what}");
    }
    let stack = options.stack.clone().unwrap_or_else(|| contract::default_stack_name(&config.project.name));
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let body = serde_json::to_string(&document).unwrap_or_default();
    let action = deploy::create_or_update(&cfn, &stack, &body, Duration::from_secs(180)).await?;
    eprintln!("jobgen dev: stack {stack}: {action} complete");
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let function_ids = [
        (synthesized.stack.create_job.id.as_str(), synthesized.stack.create_job.name.as_str()),
        (synthesized.stack.track.id.as_str(), synthesized.stack.track.name.as_str()),
    ];
    let synced = deploy::sync_function_configuration(&lambda, &cfn, &stack, &function_ids).await?;
    let specs = schedules::specs(&synthesized.document);
    let create_job_name = synthesized.stack.create_job.name.as_str();
    let create_job_arn = lambda
        .get_function_configuration()
        .function_name(create_job_name)
        .send()
        .await
        .ok()
        .and_then(|c| c.function_arn().map(str::to_string))
        .unwrap_or_else(|| create_job_name.to_string());
    let account = create_job_arn.split(':').nth(4).unwrap_or("123456789012");
    let project = config.project.name.as_str();
    let role_arn =
        format!("arn:aws:iam::{account}:role{}{project}-schedules", jobgen_synth::names::task_role_path(project));
    let group = contract::schedule_group(project);
    let (created, removed) = schedules::sync(&scheduler, &group, &specs, &create_job_arn, &role_arn).await?;
    if !created.is_empty() || !removed.is_empty() {
        eprintln!(
            "jobgen dev: the project's schedules through the Scheduler API (the emulator's CloudFormation cannot create them; the simulator fires them): {}{}",
            if created.is_empty() { "none".to_string() } else { created.join(", ") },
            if removed.is_empty() { String::new() } else { format!("; removed {}", removed.join(", ")) }
        );
    }
    if !synced.is_empty() {
        eprintln!(
            "jobgen dev: applied the template's environment to {} (the emulator's update-stack leaves a function's configuration as created)",
            synced.join(", ")
        );
    }
    Ok(stack)
}

/// S3 on the emulator: path-style addressing, since bucket subdomains of 127.0.0.1 do not resolve.
fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
}

/// The shell lines that point the operator commands at this local stack.
pub fn exports(emulator: &Emulator, stack: &str, invoke_port: u16) -> String {
    format!(
        "export AWS_ENDPOINT_URL={}\nexport AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:{invoke_port}\nexport AWS_REGION={}\n\
         export AWS_ACCESS_KEY_ID=testing\nexport AWS_SECRET_ACCESS_KEY=testing\nexport JOBGEN_STACK={stack}\n",
        emulator.endpoint, emulator.region
    )
}

/// Runs `jobgen dev` until Ctrl-C or SIGTERM.
pub async fn run(options: DevOptions) -> Result<(), DevError> {
    let stack = deploy(&options).await?;
    let local = LocalStack::connect(&options.emulator, &stack).await?;
    let simulator = Arc::new(local.simulator(options.sim.clone())?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
        .await
        .map_err(|e| DevError::Listen { port: options.port, why: e.to_string() })?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(options.port);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(invoke::serve(listener, local.functions.clone(), stopped.clone()));
    let sim_task = tokio::spawn(simulator.clone().run(stopped.clone()));
    let lines = exports(&options.emulator, &stack, port);
    if let Some(path) = &options.env_file
        && let Err(e) = jobgen_synth::write::write_atomic(path, &lines)
    {
        eprintln!("jobgen dev: warning: cannot write {}: {e}", path.display());
    }
    eprintln!(
        "jobgen dev: handlers configured from the deployed stack (table {}, project {}, {} job types); rule pattern {}",
        local.config.table_name,
        local.config.project,
        local.config.launch_table.job_types.len(),
        local.pattern
    );
    eprintln!(
        "jobgen dev: serving Lambda Invoke for the stack's functions on http://127.0.0.1:{port}; simulating ECS \
         (time scale {}). Point the operator commands here with:\n\n{lines}",
        options.sim.time_scale
    );
    eprintln!("jobgen dev: ready (Ctrl-C to stop)");
    let mut reported = std::collections::BTreeSet::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                for (job, s) in simulator.stats() {
                    if s.finished && reported.insert(job.clone()) {
                        eprintln!(
                            "jobgen dev: job {job}: {} events emitted, {} matched the deployed rule, {} delivered to track{}{}{}",
                            s.emitted, s.matched, s.delivered,
                            if s.duplicated > 0 { format!(", {} duplicated", s.duplicated) } else { String::new() },
                            if s.dropped > 0 { format!(", {} dropped", s.dropped) } else { String::new() },
                            if s.reordered { ", reordered" } else { "" },
                        );
                    }
                }
            }
            _ = shutdown_signal() => break,
        }
    }
    let _ = stop.send(true);
    let _ = server.await;
    let _ = sim_task.await;
    eprintln!("jobgen dev: stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
