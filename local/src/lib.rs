//! `jobgen dev`: the synthesized stack, running locally (crate `jobgen-local`).
//!
//! [`deploy`] puts the stack into the AWS emulator (moto) as a user deploys to AWS (package the
//! handler zips to S3, create-stack or update-stack). [`LocalStack::connect`] then reads the
//! DEPLOYED stack — its Outputs, the functions' environment (GetFunctionConfiguration) and the rule's
//! pattern (DescribeRule) — and builds the two real handlers from it, never from hand-copied values.
//! [`crate::sim::Simulator`] plays ECS and EventBridge for the tasks create-job launches, and
//! [`invoke`] serves the Lambda Invoke API so the operator commands reach the local create-job
//! unchanged (`AWS_ENDPOINT_URL_LAMBDA`).

pub mod apply;
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
        let s3 = s3_client(&sdk, true);
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

/// Where a deployment goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// The AWS emulator: what it cannot create is left out (said out loud), and its gaps are worked
    /// around as `jobgen dev` needs.
    Emulator(Emulator),
    /// AWS, with credentials from the standard chain; nothing is left out.
    Aws {
        /// The region (default: the standard chain's).
        region: Option<String>,
    },
}

/// What to deploy, where.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// The project file.
    pub config: PathBuf,
    /// The environment of the project file to deploy (`None`: the file as it is).
    pub environment: Option<String>,
    /// Emulator or AWS.
    pub target: Target,
    /// Stack name (default `jobgen-<project>`, the environment's deployment name included).
    pub stack: Option<String>,
    /// Directory of the packaged handler zips.
    pub lambda_dir: PathBuf,
    /// The bucket for zips and templates (default: `jobgen-artifacts-<project>-<region>`, created
    /// on first use and reused).
    pub artifact_bucket: Option<String>,
    /// Execute the change set (`false`: `--no-execute`, leave it for review).
    pub execute: bool,
    /// How long to follow the stack before giving up (it goes on).
    pub timeout: Duration,
}

/// A deployment's result.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// The stack.
    pub stack: String,
    /// Created, updated, no changes, or planned.
    pub outcome: apply::Outcome,
    /// The change set (None: no changes).
    pub change_set: Option<apply::Summary>,
    /// The stack's Outputs (empty for a planned change set of a new stack).
    pub outputs: BTreeMap<String, String>,
    /// Every AWS call made, by API.
    pub calls: apply::Calls,
    /// Bytes uploaded to the artifact bucket (0: every object was already there).
    pub bytes_uploaded: u64,
}

/// The default artifact bucket: one per project and region, created on first use and reused.
pub fn default_artifact_bucket(project: &str, region: &str) -> String {
    let mut name = format!("jobgen-artifacts-{project}-{region}");
    name.truncate(63);
    name.trim_end_matches('-').to_string()
}

/// Synthesizes the project, uploads its artifacts, and creates or updates its stack through a
/// change set, reporting progress through `progress`: the one deploy path of `jobgen deploy` and
/// `jobgen dev`.
pub async fn deploy_project(
    options: &DeployOptions,
    progress: &mut (dyn FnMut(apply::Progress) + Send),
) -> Result<Deployed, DevError> {
    use apply::Progress::Note;
    let mut calls = apply::Calls::default();
    let mut config = jobgen_synth::load_environment(&options.config, options.environment.as_deref())
        .map_err(|report| DevError::Config(report.to_string()))?;
    jobgen_synth::synth::check_packaged_architecture(&config, &options.lambda_dir)
        .map_err(|report| DevError::Config(report.to_string()))?;
    let (sdk, emulator) = match &options.target {
        Target::Emulator(emulator) => (emulator.sdk_config().await, Some(emulator)),
        Target::Aws { region } => {
            let mut loader = aws_config::defaults(BehaviorVersion::latest());
            if let Some(region) = region {
                loader = loader.region(aws_config::Region::new(region.clone()));
            }
            (loader.load().await, None)
        }
    };
    let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
        DevError::Config("error: no AWS region: pass --region, or set AWS_REGION (or a profile's region)".into())
    })?;
    if let Some(emulator) = emulator {
        if let Some(n) = deploy::ensure_network(&mut config, &emulator.endpoint, &emulator.region).await? {
            progress(Note(format!(
                "the project's subnets/security groups do not exist in the emulator; using a new emulator VPC \
                 network instead (subnet {}, security group {})",
                n.subnets.join(","),
                n.security_groups.join(",")
            )));
        }
        deploy::hold_emulator_tasks(&emulator.endpoint).await?;
        let stand_ins = deploy::ensure_existing_clusters(&config, &aws_sdk_ecs::Client::new(&sdk)).await?;
        if !stand_ins.is_empty() {
            progress(Note(format!(
                "created empty emulator stand-ins for the project's existing clusters: {} (existing task \
                 definitions must be registered in the emulator by you; without them create-job records LAUNCH_FAILED)",
                stand_ins.join(", ")
            )));
        }
        let scheduler = aws_sdk_scheduler::Client::new(&sdk);
        if deploy::ensure_schedule_group(&scheduler, &config.project.name).await? {
            progress(Note(format!(
                "created the timers' schedule group {} through the Scheduler API (the emulator's CloudFormation cannot)",
                contract::schedule_group(&config.project.name)
            )));
        }
    }
    let synthesized = jobgen_synth::synth::synthesize(&config, &model::ModelOptions::default())
        .map_err(|e| DevError::Config(e.to_string()))?;
    let mut document = synthesized.document.clone();
    if emulator.is_some() {
        let dropped = deploy::emulator_copy(&mut document);
        if !dropped.is_empty() {
            progress(Note(format!(
                "left out of the emulator's copy (moto cannot create them; on AWS nothing is left out): {}",
                dropped.join(", ")
            )));
        }
    }
    let s3 = s3_client(&sdk, emulator.is_some());
    let bucket =
        options.artifact_bucket.clone().unwrap_or_else(|| default_artifact_bucket(&config.project.name, &region));
    if deploy::ensure_bucket(&s3, &bucket, &region, &mut calls).await? {
        progress(Note(format!("created the artifact bucket {bucket} (reused by later deploys)")));
    }
    let functions =
        [(synthesized.stack.create_job.id.as_str(), "create-job"), (synthesized.stack.track.id.as_str(), "track")];
    let layer = (synthesized.stack.config_layer.id.as_str(), synthesized.config_document.as_str());
    let mut bytes_uploaded = 0;
    let mut count = |p: apply::Progress| {
        if let apply::Progress::Artifact { bytes, skipped: false, .. } = &p {
            bytes_uploaded += bytes;
        }
        progress(p);
    };
    deploy::package(
        &s3,
        &bucket,
        &mut document,
        &functions,
        &options.lambda_dir,
        layer,
        emulator.is_some(),
        &mut calls,
        &mut count,
    )
    .await?;
    deploy::package_nested(
        &s3,
        &bucket,
        &region,
        &mut document,
        &synthesized.nested,
        emulator.is_some(),
        &mut calls,
        &mut count,
    )
    .await?;
    let body = serde_json::to_string(&document).unwrap_or_default();
    // CloudFormation takes at most 51,200 bytes inline; a larger template goes through S3 (the
    // emulator takes any size inline).
    let template = if emulator.is_none() && body.len() > 51_200 {
        let key =
            deploy::put(&s3, &bucket, "template", "json", body.clone().into_bytes(), &mut calls, &mut count).await?;
        apply::TemplateSource::Url(deploy::object_url(&bucket, &region, &key))
    } else {
        apply::TemplateSource::Body(body.clone())
    };
    let stack = options.stack.clone().unwrap_or_else(|| contract::default_stack_name(&config.project.name));
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let summary = apply::create_change_set(&cfn, &stack, &template, &mut calls).await?;
    let outcome = match &summary {
        None => apply::Outcome::NoChanges,
        Some(summary) => {
            count(apply::Progress::ChangeSet(summary.clone()));
            if options.execute {
                apply::execute(&cfn, &stack, summary, options.timeout, &mut calls, &mut count).await?
            } else {
                apply::Outcome::Planned
            }
        }
    };
    if emulator.is_some() && outcome != apply::Outcome::Planned {
        if apply::fill_emulator_outputs(&cfn, &stack, &body, options.timeout, &mut calls).await? {
            count(Note(
                "the emulator's ExecuteChangeSet leaves a new stack's Outputs empty: an UpdateStack with the same \
                 template filled them"
                    .into(),
            ));
        }
        let lambda = aws_sdk_lambda::Client::new(&sdk);
        let function_ids = [
            (synthesized.stack.create_job.id.as_str(), synthesized.stack.create_job.name.as_str()),
            (synthesized.stack.track.id.as_str(), synthesized.stack.track.name.as_str()),
        ];
        let synced = deploy::sync_function_configuration(&lambda, &cfn, &stack, &function_ids).await?;
        if !synced.is_empty() {
            count(Note(format!(
                "applied the template's environment to {} (the emulator's update leaves a function's configuration as created)",
                synced.join(", ")
            )));
        }
        // The project's schedules: the emulator's CloudFormation cannot create them, so they are
        // made through the Scheduler API as the template defines them, and the simulator fires them.
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
        let scheduler = aws_sdk_scheduler::Client::new(&sdk);
        let group = contract::schedule_group(project);
        let (created, removed) = schedules::sync(&scheduler, &group, &specs, &create_job_arn, &role_arn).await?;
        if !created.is_empty() || !removed.is_empty() {
            count(Note(format!(
                "the project's schedules through the Scheduler API (the emulator's CloudFormation cannot create them; the simulator fires them): {}{}",
                if created.is_empty() { "none".to_string() } else { created.join(", ") },
                if removed.is_empty() { String::new() } else { format!("; removed {}", removed.join(", ")) }
            )));
        }
    }
    let outputs = match outcome {
        apply::Outcome::Planned => BTreeMap::new(),
        _ => apply::outputs(&cfn, &stack, &mut calls).await?,
    };
    Ok(Deployed { stack, outcome, change_set: summary, outputs, calls, bytes_uploaded })
}

/// Deploys the project into the emulator as `jobgen dev` does (the shared [`deploy_project`]
/// path, its progress as `jobgen dev:` lines); returns the stack name.
pub async fn deploy(options: &DevOptions) -> Result<String, DevError> {
    let config = jobgen_synth::load(&options.config).map_err(|report| DevError::Config(report.to_string()))?;
    let deploy = DeployOptions {
        config: options.config.clone(),
        environment: None,
        target: Target::Emulator(options.emulator.clone()),
        stack: options.stack.clone(),
        lambda_dir: options.lambda_dir.clone(),
        artifact_bucket: Some(format!("jobgen-dev-artifacts-{}", config.project.name)),
        execute: true,
        timeout: Duration::from_secs(180),
    };
    let deployed = deploy_project(&deploy, &mut |p| match p {
        apply::Progress::Note(note) => eprintln!("jobgen dev: {note}"),
        apply::Progress::Artifact { name, url, skipped, .. } => {
            eprintln!("jobgen dev: packaged {name}: {url}{}", if skipped { " (unchanged)" } else { "" })
        }
        _ => {}
    })
    .await?;
    let action = match deployed.outcome {
        apply::Outcome::Created => "create complete",
        apply::Outcome::Updated => "update complete",
        _ => "unchanged",
    };
    eprintln!("jobgen dev: stack {}: {action}", deployed.stack);
    Ok(deployed.stack)
}

/// S3: on the emulator path-style addressing, since bucket subdomains of 127.0.0.1 do not resolve.
fn s3_client(sdk: &aws_config::SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style).build())
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
