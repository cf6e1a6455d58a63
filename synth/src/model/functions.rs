//! The two Lambda functions (`templates/create_job.yaml.j2`, `templates/track.yaml.j2`): each with
//! its log group and role, the environment they share, and track's dead-letter queue.

use jobgen_runtime::contract::{self, LaunchTable};
use serde::Serialize;
use serde_json::{Value, json};

use super::iam::{self, LaunchGrants, Role};
use super::shapes::{LogGroup, Queue, Skip, get_att, r#ref, skip, sqs_sse_skip};
use crate::config::Config;
use crate::names;

pub use jobgen_runtime::contract::CREATE_JOB_TIMEOUT_SECONDS;
/// Timeout of the track function, in seconds: one conditional write per event.
pub const TRACK_TIMEOUT_SECONDS: u32 = 10;

/// One Lambda environment variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvVar {
    /// Name (a [`contract`] constant).
    pub name: &'static str,
    /// Value: a string or an intrinsic.
    pub value: Value,
    /// Worst-case length of the resolved value in bytes, for the 4 KB check.
    #[serde(skip)]
    pub worst_case_len: usize,
}

/// A Lambda function with its log group and role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Function {
    /// Logical ID.
    pub id: String,
    /// `FunctionName`.
    pub name: String,
    /// `Description`.
    pub description: String,
    /// `Code`: the local zip path, relative to the template's directory, for `aws cloudformation package`.
    pub code: String,
    /// `Architectures[0]`.
    pub architecture: &'static str,
    /// `MemorySize`.
    pub memory_mb: u32,
    /// `Timeout`.
    pub timeout_seconds: u32,
    /// Environment.
    pub environment: Vec<EnvVar>,
    /// `Layers`: the config layer.
    pub layers: Vec<Value>,
    /// Its log group.
    pub log_group: LogGroup,
    /// Its role.
    pub role: Role,
    /// checkov suppressions.
    pub skips: Vec<Skip>,
    /// cfn-lint rules ignored on this resource (`Metadata.cfn-lint.config.ignore_checks`).
    pub lint_ignores: Vec<Skip>,
}

impl Function {
    /// Worst-case size of the environment as Lambda counts it (keys plus values).
    pub fn environment_worst_case_bytes(&self) -> usize {
        self.environment.iter().map(|v| v.name.len() + v.worst_case_len).sum()
    }
}

/// What both functions are built from besides the config.
#[derive(Debug, Clone, Copy)]
pub struct Shared<'a> {
    /// The jobs table's logical ID.
    pub table_id: &'a str,
    /// The config layer's logical ID.
    pub layer_id: &'a str,
    /// The configuration document the layer ships.
    pub launch: &'a LaunchTable,
    /// Directory of the handler zips, relative to the template.
    pub lambda_dir: &'a str,
}

/// The Lambda environment, shared by both functions: small fixed-size values only. The job-type
/// table travels in the config layer; its hash here ties each function to one document.
fn environment(config: &Config, shared: Shared<'_>) -> Vec<EnvVar> {
    let project = config.project.name.as_str();
    let document_sha = contract::config_sha256(shared.launch.to_json().as_bytes());
    let retention = config.table.retention_days.to_string();
    vec![
        EnvVar { name: contract::ENV_TABLE_NAME, value: r#ref(shared.table_id), worst_case_len: 255 },
        EnvVar { name: contract::ENV_PROJECT, value: json!(project), worst_case_len: project.len() },
        EnvVar { name: contract::ENV_CONFIG_SHA256, worst_case_len: document_sha.len(), value: json!(document_sha) },
        EnvVar { name: contract::ENV_RETENTION_DAYS, worst_case_len: retention.len(), value: json!(retention) },
    ]
}

fn log_skips(what: &str, retention: u32) -> Vec<Skip> {
    let mut s = vec![skip(
        "CKV_AWS_158",
        format!(
            "{what} logs are encrypted at rest by CloudWatch Logs' service key; a customer managed key would need a key policy for the logs service principal and adds cost without protecting against any reader the IAM policy admits"
        ),
    )];
    if retention < 365 {
        s.push(skip(
            "CKV_AWS_338",
            format!("retention is {retention} days as set by lambda.log_retention_days in jobgen.yaml; one year of job logs is a cost the project chooses, and the job records outlive the logs"),
        ));
    }
    s
}

fn lambda_skips(dlq: bool) -> Vec<Skip> {
    let mut s = vec![
        skip(
            "CKV_AWS_117",
            "the function calls only AWS APIs (DynamoDB, ECS); a VPC would add NAT or endpoint costs and cold-start latency without isolating anything",
        ),
        skip(
            "CKV_AWS_173",
            "the environment holds resource names and the job-type table, no secrets; Lambda encrypts it at rest with its service key",
        ),
        skip(
            "CKV_AWS_115",
            "reserved concurrency is left to the account: reserving it fails deployment in accounts with a low concurrency quota, and the function's work is bounded by ECS RunTask limits",
        ),
    ];
    if !dlq {
        s.push(skip("CKV_AWS_116", "create-job is invoked synchronously (direct invoke or function URL) and returns its error to the caller; a dead-letter queue only applies to asynchronous invocations"));
    }
    s
}

/// cfn-lint warns that a local `Code` path needs `aws cloudformation package`: that is the design.
fn code_path_lint() -> Skip {
    skip(
        "W3002",
        "Code is the local zip `make package` builds; `aws cloudformation package` uploads it and rewrites Code to S3Bucket/S3Key (see the example READMEs)",
    )
}

fn join_path(dir: &str, file: &str) -> String {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() || dir == "." { file.to_string() } else { format!("{dir}/{file}") }
}

fn log_group(id: &str, function: &str, what: &str, retention: u32) -> LogGroup {
    LogGroup {
        id: id.into(),
        name: names::function_log_group(function),
        retention_days: retention,
        skips: log_skips(what, retention),
    }
}

/// The create-job function. `clusters` are the (ARN, task ARN pattern) of the clusters some job
/// type runs on.
pub fn create_job(config: &Config, shared: Shared<'_>, grants: LaunchGrants, clusters: &[(Value, Value)]) -> Function {
    let project = config.project.name.as_str();
    let name = names::create_job_function(project);
    let log = log_group("CreateJobLogGroup", &name, "create-job", config.lambda.log_retention_days);
    let role = iam::create_job_role(project, &log, get_att(shared.table_id, "Arn"), grants, clusters);
    Function {
        id: "CreateJobFunction".into(),
        description: format!("jobgen {project}: records a job and launches its Fargate task"),
        code: join_path(shared.lambda_dir, "create-job.zip"),
        architecture: config.lambda.architecture.name(),
        memory_mb: config.lambda.memory_mb,
        timeout_seconds: CREATE_JOB_TIMEOUT_SECONDS,
        environment: environment(config, shared),
        layers: vec![r#ref(shared.layer_id)],
        role,
        log_group: log,
        name,
        skips: lambda_skips(false),
        lint_ignores: vec![code_path_lint()],
    }
}

/// The track function and its dead-letter queue.
pub fn track(config: &Config, shared: Shared<'_>) -> (Function, Queue) {
    let project = config.project.name.as_str();
    let name = names::track_function(project);
    let dlq = Queue {
        id: "TrackDlq".into(),
        name: names::track_dlq(project),
        purpose: "task state events the track function failed on after Lambda's asynchronous retries".into(),
        skips: vec![sqs_sse_skip()],
    };
    let log = log_group("TrackLogGroup", &name, "track", config.lambda.log_retention_days);
    let role = iam::track_role(project, &log, get_att(shared.table_id, "Arn"), &dlq);
    let function = Function {
        id: "TrackFunction".into(),
        description: format!("jobgen {project}: applies ECS task state changes to job records"),
        code: join_path(shared.lambda_dir, "track.zip"),
        architecture: config.lambda.architecture.name(),
        memory_mb: config.lambda.memory_mb,
        timeout_seconds: TRACK_TIMEOUT_SECONDS,
        environment: environment(config, shared),
        layers: vec![r#ref(shared.layer_id)],
        role,
        log_group: log,
        name,
        skips: lambda_skips(true),
        lint_ignores: vec![code_path_lint()],
    };
    (function, dlq)
}
