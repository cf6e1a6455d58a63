//! Stage 3: validated [`Config`] → [`Stack`], the flat, render-only model of the CloudFormation stack.
//!
//! Everything a template prints is decided here, in Rust: logical IDs, physical names, ARNs and
//! `Fn::Sub` strings, the Lambda environment (the [`contract`] names and the compact JSON
//! [`LaunchTable`]), tags, IAM statements, checkov suppressions with their reasons, outputs. The
//! templates only lay the values out. Limits that depend on the rendered stack (Lambda's 4 KB
//! environment, CloudFormation's 500 resources, the template body size) are checked here and
//! reported as [`Diagnostic`]s like any validation error.
//!
//! CloudFormation values that may be intrinsic functions are [`serde_json::Value`]s: a plain string
//! or a long-form intrinsic object (`{"Ref": ..}`, `{"Fn::GetAtt": [..]}`, `{"Fn::Sub": ..}`), which
//! the JSON auto-escaping of the templates prints as valid YAML flow nodes.

use std::collections::{BTreeMap, BTreeSet};

use jobgen_runtime::contract::{self, Capacity, JobTypeEntry, LaunchTable};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{self, Config, Effect};
use crate::diagnostics::{Diagnostic, Report};

/// CloudFormation's limit on resources per stack.
pub const MAX_RESOURCES: usize = 500;
/// CloudFormation's limit on a template body uploaded to S3 (`aws cloudformation package`/`deploy
/// --s3-bucket`), in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 1_000_000;
/// The `startedBy`/`awslogs-stream-prefix` that identifies tasks launched by jobgen in their logs.
pub const LOG_STREAM_PREFIX: &str = "jobgen";
pub use jobgen_runtime::contract::CREATE_JOB_TIMEOUT_SECONDS;
/// Timeout of the track function, in seconds: one conditional write per event.
pub const TRACK_TIMEOUT_SECONDS: u32 = 10;
/// The ECS task statuses the rule forwards to track: RUNNING (the job started) and STOPPED (the
/// event carries every timestamp, the exit code and the stop reason). PROVISIONING/PENDING and the
/// deprovisioning states add nothing the job record needs, and each would cost an invocation.
pub const TRACKED_STATUSES: [&str; 2] = ["RUNNING", "STOPPED"];

pub use jobgen_runtime::contract::outputs;

/// A checkov suppression, rendered into the resource's `Metadata.checkov.skip`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skip {
    /// The check id, e.g. `CKV_AWS_116`.
    pub id: &'static str,
    /// Why the check does not apply; a reviewer reads this.
    pub comment: String,
}

fn skip(id: &'static str, comment: impl Into<String>) -> Skip {
    Skip { id, comment: comment.into() }
}

/// A CloudFormation tag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tag {
    /// Key.
    #[serde(rename = "Key")]
    pub key: String,
    /// Value.
    #[serde(rename = "Value")]
    pub value: String,
}

/// One IAM policy statement, values already in CloudFormation form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    /// A short id, unique within its policy (`Sid`).
    pub sid: String,
    /// `Allow` or `Deny`.
    pub effect: &'static str,
    /// Actions.
    pub actions: Vec<String>,
    /// Resources (strings or intrinsics).
    pub resources: Vec<Value>,
    /// The `Condition` block, or `null`.
    pub condition: Value,
}

/// An inline policy on a role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    /// `PolicyName`.
    pub name: String,
    /// Its statements (never empty: an empty policy is not rendered).
    pub statements: Vec<Statement>,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Role {
    /// Logical ID.
    pub id: String,
    /// What it is for (rendered as `Description`).
    pub description: String,
    /// The service that assumes it.
    pub service: &'static str,
    /// Condition on the trust policy (`null` for none).
    pub assume_condition: Value,
    /// Inline policies.
    pub policies: Vec<Policy>,
    /// checkov suppressions.
    pub skips: Vec<Skip>,
}

/// A CloudWatch Logs log group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogGroup {
    /// Logical ID.
    pub id: String,
    /// `LogGroupName`.
    pub name: String,
    /// `RetentionInDays`.
    pub retention_days: u32,
    /// checkov suppressions.
    pub skips: Vec<Skip>,
}

/// An SQS dead-letter queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Queue {
    /// Logical ID.
    pub id: String,
    /// `QueueName`.
    pub name: String,
    /// What lands here.
    pub purpose: String,
    /// checkov suppressions.
    pub skips: Vec<Skip>,
}

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

/// The config-only Lambda layer that carries the stack configuration document to both functions
/// (mounted at [`contract::CONFIG_FILE`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigLayer {
    /// Logical ID.
    pub id: String,
    /// `LayerName`.
    pub name: String,
    /// `Description`.
    pub description: String,
    /// `Content`: the directory beside the template that holds the document, for `aws cloudformation package`.
    pub content: String,
    /// `CompatibleArchitectures[0]`.
    pub architecture: &'static str,
    /// cfn-lint rules ignored on this resource.
    pub lint_ignores: Vec<Skip>,
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

/// The jobs table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobsTable {
    /// Logical ID.
    pub id: String,
    /// Partition key attribute.
    pub key_attr: &'static str,
    /// Status attribute (index key).
    pub status_attr: &'static str,
    /// Job type attribute (index key).
    pub job_type_attr: &'static str,
    /// Creation time attribute (index sort key).
    pub created_at_attr: &'static str,
    /// Index by status.
    pub index_by_status: &'static str,
    /// Index by type.
    pub index_by_type: &'static str,
    /// TTL attribute.
    pub ttl_attr: &'static str,
    /// Point-in-time recovery on.
    pub point_in_time_recovery: bool,
    /// checkov suppressions.
    pub skips: Vec<Skip>,
}

/// The EventBridge rule, its target settings and dead-letter queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// Logical ID.
    pub id: String,
    /// `Name`.
    pub name: String,
    /// `Description`.
    pub description: String,
    /// `EventPattern`, with intrinsics for cluster ARNs.
    pub pattern: Value,
    /// The target's id.
    pub target_id: &'static str,
    /// Target retry policy: attempts.
    pub max_retry_attempts: u32,
    /// Target retry policy: maximum event age.
    pub max_event_age_seconds: u32,
    /// The queue for undeliverable events.
    pub dlq: Queue,
    /// Logical ID of the queue policy that lets EventBridge write to the DLQ.
    pub dlq_policy_id: String,
    /// Logical ID of the permission that lets EventBridge invoke track.
    pub permission_id: String,
    /// Cluster ARN templates (`Fn::Sub` syntax, pseudo parameters only) in pattern order, for
    /// [`Rule::concrete_pattern`].
    #[serde(skip)]
    pub cluster_arn_templates: Vec<String>,
    /// The project's `startedBy`.
    #[serde(skip)]
    pub started_by: String,
}

impl Rule {
    /// The event pattern with every cluster ARN resolved for one account and region (partition
    /// `aws`): what the deployed rule holds, for `jobgen dev` and tests.
    pub fn concrete_pattern(&self, account: &str, region: &str) -> Value {
        let arns: Vec<String> = self
            .cluster_arn_templates
            .iter()
            .map(|t| {
                t.replace("${AWS::Partition}", "aws")
                    .replace("${AWS::Region}", region)
                    .replace("${AWS::AccountId}", account)
            })
            .collect();
        event_pattern(json!(arns), &self.started_by)
    }
}

/// A cluster the stack creates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// Logical ID.
    pub id: String,
    /// `ClusterName`.
    pub name: String,
    /// Capacity provider names.
    pub capacity_providers: Vec<&'static str>,
    /// The default strategy's provider (FARGATE when attached, else the first).
    pub default_provider: &'static str,
    /// Container Insights on.
    pub container_insights: bool,
    /// Output name of its ARN.
    pub output: String,
    /// checkov suppressions.
    pub skips: Vec<Skip>,
}

/// A name/value pair of a container's environment or secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NameValue {
    /// Name.
    pub name: String,
    /// Value (or `ValueFrom`).
    pub value: String,
}

/// A task definition the stack creates, with its log group and roles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskDefinition {
    /// The job type.
    pub job_type: String,
    /// Logical ID.
    pub id: String,
    /// `Family`.
    pub family: String,
    /// `Cpu`.
    pub cpu: String,
    /// `Memory` (task and container level).
    pub memory: u32,
    /// `RuntimePlatform.CpuArchitecture`.
    pub architecture: &'static str,
    /// `EphemeralStorage.SizeInGiB`, or `null`.
    pub ephemeral_storage_gib: Option<u32>,
    /// The container.
    pub container_name: String,
    /// Image.
    pub image: String,
    /// Command, or `null`.
    pub command: Option<Vec<String>>,
    /// Environment.
    pub environment: Vec<NameValue>,
    /// Secrets (`ValueFrom`).
    pub secrets: Vec<NameValue>,
    /// Task log group.
    pub log_group: LogGroup,
    /// Task role (the job's own permissions).
    pub task_role: Role,
    /// Execution role (image pull, logs, secrets).
    pub execution_role: Role,
    /// checkov suppressions.
    pub skips: Vec<Skip>,
}

/// A stack output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    /// Name (see [`outputs`]).
    pub name: String,
    /// `Description`.
    pub description: String,
    /// `Value` (an intrinsic).
    pub value: Value,
}

/// Header facts printed at the top of the template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    /// `jobgen`.
    pub generator: &'static str,
    /// The generator's version.
    pub version: &'static str,
}

/// The whole stack, ready to render.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stack {
    /// Generator and version.
    pub header: Header,
    /// `Description`.
    pub description: String,
    /// The project name.
    pub project: String,
    /// Tags for every taggable resource.
    pub tags: Vec<Tag>,
    /// The jobs table.
    pub table: JobsTable,
    /// The config layer both functions read the configuration document from.
    pub config_layer: ConfigLayer,
    /// The create-job function.
    pub create_job: Function,
    /// Logical ID of create-job's function URL.
    pub create_job_url_id: String,
    /// The track function.
    pub track: Function,
    /// Track's async-failure dead-letter queue.
    pub track_dlq: Queue,
    /// Logical ID of track's async invoke config.
    pub track_invoke_config_id: String,
    /// Lambda's asynchronous retries of a failed track invocation before the event goes to the DLQ.
    pub track_max_retry_attempts: u32,
    /// Lambda's maximum age of a queued asynchronous track event, in seconds.
    pub track_max_event_age_seconds: u32,
    /// How long the dead-letter queues keep a message, in seconds (SQS's maximum, 14 days).
    pub dlq_retention_seconds: u32,
    /// The EventBridge rule.
    pub rule: Rule,
    /// Clusters the stack creates.
    pub clusters: Vec<Cluster>,
    /// Task definitions the stack creates.
    pub task_definitions: Vec<TaskDefinition>,
    /// Outputs.
    pub outputs: Vec<Output>,
    /// `awslogs-stream-prefix` of every task container.
    pub log_stream_prefix: &'static str,
    /// The configuration document's content: what both handlers read at start-up. Static (every
    /// name in it is known at synth time), so it ships as a file.
    #[serde(skip)]
    pub launch_table: LaunchTable,
}

impl Stack {
    /// Number of CloudFormation resources the templates render for this model.
    pub fn resource_count(&self) -> usize {
        // table; config layer; per function: function, log group, role; URL; track DLQ + invoke
        // config; rule + DLQ + queue policy + permission.
        let fixed = 1 + 1 + 3 + 3 + 1 + 2 + 4;
        fixed + self.clusters.len() + self.task_definitions.len() * 4
    }

    /// Every logical ID the model defines, for the consistency check.
    pub fn logical_ids(&self) -> Vec<String> {
        let mut ids = vec![
            self.table.id.clone(),
            self.config_layer.id.clone(),
            self.create_job.id.clone(),
            self.create_job.log_group.id.clone(),
            self.create_job.role.id.clone(),
            self.create_job_url_id.clone(),
            self.track.id.clone(),
            self.track.log_group.id.clone(),
            self.track.role.id.clone(),
            self.track_dlq.id.clone(),
            self.track_invoke_config_id.clone(),
            self.rule.id.clone(),
            self.rule.dlq.id.clone(),
            self.rule.dlq_policy_id.clone(),
            self.rule.permission_id.clone(),
        ];
        ids.extend(self.clusters.iter().map(|c| c.id.clone()));
        for td in &self.task_definitions {
            ids.extend([td.id.clone(), td.log_group.id.clone(), td.task_role.id.clone(), td.execution_role.id.clone()]);
        }
        ids
    }
}

/// Options that are not part of the project file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOptions {
    /// Directory holding `create-job.zip` and `track.zip`, relative to the template's directory,
    /// with `/` separators (e.g. `../../dist/lambda`).
    pub lambda_dir: String,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions { lambda_dir: "dist/lambda".into() }
    }
}

/// `PascalCase` of a name: split on anything not alphanumeric, capitalize each part
/// (`send-email` → `SendEmail`, `etl_v2` → `EtlV2`).
pub fn pascal_case(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn r#ref(id: &str) -> Value {
    json!({ "Ref": id })
}

fn get_att(id: &str, attr: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attr] })
}

fn sub(s: &str) -> Value {
    json!({ "Fn::Sub": s })
}

fn event_pattern(cluster_arns: Value, started_by: &str) -> Value {
    json!({
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {
            "clusterArn": cluster_arns,
            "startedBy": [started_by],
            "lastStatus": TRACKED_STATUSES,
        }
    })
}

/// Escapes a literal for an `Fn::Sub` string: `${` would start a variable, `${!` is its escape.
fn sub_escape(s: &str) -> String {
    s.replace("${", "${!")
}

/// An ARN in the stack's own account/region/partition, as an `Fn::Sub` template string.
fn local_arn(service: &str, resource: &str) -> String {
    format!("arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{}", sub_escape(resource))
}

/// How a cluster appears in the rule, the IAM condition and the launch table.
struct ClusterRef {
    /// Config name.
    name: String,
    /// ARN as an intrinsic value (GetAtt for created clusters).
    arn: Value,
    /// ARN as an `Fn::Sub` template using pseudo parameters only.
    arn_template: String,
    /// ARN pattern of every task in the cluster (`…:task/CLUSTER_NAME/*`), as an intrinsic value.
    task_arns: Value,
    /// What create-job passes as `cluster`: the cluster's name or ARN, known at synth time.
    launch_value: String,
}

/// IAM resource ARN(s) for an existing task definition given as family, family:revision or ARN.
fn existing_task_definition_arn(name: &str) -> Value {
    if name.starts_with("arn:") {
        let after = name.rsplit_once('/').map(|(_, f)| f).unwrap_or(name);
        if after.contains(':') { json!(name) } else { json!(format!("{name}:*")) }
    } else if name.contains(':') {
        sub(&local_arn("ecs", &format!("task-definition/{name}")))
    } else {
        sub(&local_arn("ecs", &format!("task-definition/{name}:*")))
    }
}

/// The IAM resource for a secret reference (`ValueFrom`), and whether it is SSM (else Secrets Manager).
fn secret_resource(value_from: &str) -> (Value, bool) {
    if let Some(rest) = value_from.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.split(':').collect();
        let is_ssm = parts.get(1) == Some(&"ssm");
        if !is_ssm && parts.len() > 6 {
            // `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME:json-key:stage:version`: the
            // policy names the secret, not the JSON key.
            let arn = format!("arn:{}", parts[..6].join(":"));
            return (json!(arn), false);
        }
        (json!(value_from), is_ssm)
    } else {
        let name = value_from.trim_start_matches('/');
        (sub(&local_arn("ssm", &format!("parameter/{name}"))), true)
    }
}

/// The ECR repository ARN of a private ECR image (`ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:tag|@digest]`),
/// or `None` for any other registry.
fn ecr_repository_arn(image: &str) -> Option<String> {
    let (host, path) = image.split_once('/')?;
    let mut labels = host.split('.');
    let account = labels.next()?;
    if labels.next()? != "dkr" || labels.next()? != "ecr" {
        return None;
    }
    let region = labels.next()?;
    let partition = if host.ends_with(".amazonaws.com.cn") { "aws-cn" } else { "aws" };
    let repo = path.split('@').next()?;
    let repo = match repo.rsplit_once(':') {
        Some((r, _)) => r,
        None => repo,
    };
    Some(format!("arn:{partition}:ecr:{region}:{account}:repository/{repo}"))
}

/// Builds the stack model from a validated config; reports stack-size limits the config would exceed.
pub fn build(config: &Config, options: &ModelOptions) -> Result<Stack, Report> {
    let mut diags = Vec::new();
    let project = config.project.name.as_str();
    let started_by = contract::started_by(project);

    let mut tags: Vec<Tag> =
        config.project.tags.iter().map(|(k, v)| Tag { key: k.clone(), value: v.clone() }).collect();
    if !config.project.tags.contains_key("jobgen:project") {
        tags.insert(0, Tag { key: "jobgen:project".into(), value: project.into() });
    }

    // Logical IDs from names must stay unique after PascalCase folding (`a-b` and `a_b` collide).
    check_unique_ids(config.clusters.keys(), "clusters", &mut diags);
    check_unique_ids(config.job_types.keys(), "job_types", &mut diags);

    let (clusters, cluster_refs) = build_clusters(config, &mut diags);

    let JobTypes { launch, task_definitions, run_task_resources, pass_role_resources, used_clusters } =
        build_job_types(config, &cluster_refs, &mut diags);
    let lambda_retention = config.lambda.log_retention_days;

    let table = jobs_table(config);

    // The Lambda environment, shared by both functions: small fixed-size values only. The job-type
    // table travels in the config layer; its hash here ties each function to one document.
    let document_sha = contract::config_sha256(launch.to_json().as_bytes());
    let retention = config.table.retention_days.to_string();
    let environment = vec![
        EnvVar { name: contract::ENV_TABLE_NAME, value: r#ref(&table.id), worst_case_len: 255 },
        EnvVar { name: contract::ENV_PROJECT, value: json!(project), worst_case_len: project.len() },
        EnvVar { name: contract::ENV_CONFIG_SHA256, worst_case_len: document_sha.len(), value: json!(document_sha) },
        EnvVar { name: contract::ENV_RETENTION_DAYS, worst_case_len: retention.len(), value: json!(retention) },
    ];
    let config_layer = ConfigLayer {
        id: "ConfigLayer".into(),
        name: format!("{project}-config"),
        description: format!("jobgen {project}: the job-type table both functions read at {}", contract::CONFIG_FILE),
        content: contract::CONFIG_LAYER_DIR.into(),
        architecture: config.lambda.architecture.name(),
        lint_ignores: vec![skip(
            "W3002",
            format!(
                "Content is the {} directory `jobgen synth` writes beside the template; `aws cloudformation package` zips and uploads it and rewrites Content to S3Bucket/S3Key",
                contract::CONFIG_LAYER_DIR
            ),
        )],
    };
    let layers = vec![r#ref(&config_layer.id)];

    let lambda_arch = config.lambda.architecture.name();
    let log_skip = |what: &str, retention: u32, field: &str| {
        let mut s = vec![skip(
            "CKV_AWS_158",
            format!(
                "{what} logs are encrypted at rest by CloudWatch Logs' service key; a customer managed key would need a key policy for the logs service principal and adds cost without protecting against any reader the IAM policy admits"
            ),
        )];
        if retention < 365 {
            s.push(skip(
                "CKV_AWS_338",
                format!("retention is {retention} days as set by {field} in jobgen.yaml; one year of job logs is a cost the project chooses, and the job records outlive the logs"),
            ));
        }
        s
    };
    let lambda_skips = |dlq: bool| {
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
    };

    // IAM: create-job.
    let table_arn = get_att(&table.id, "Arn");
    // RunTask may only target clusters some job type runs on.
    let used_cluster_refs: Vec<&ClusterRef> = used_clusters.iter().filter_map(|i| cluster_refs.get(*i)).collect();
    let cluster_arns: Vec<Value> = used_cluster_refs.iter().map(|c| c.arn.clone()).collect();
    let cluster_task_arns: Vec<Value> = used_cluster_refs.iter().map(|c| c.task_arns.clone()).collect();
    let create_job_name = format!("{project}-create-job");
    let create_job_log = LogGroup {
        id: "CreateJobLogGroup".into(),
        name: format!("/aws/lambda/{create_job_name}"),
        retention_days: lambda_retention,
        skips: log_skip("create-job", lambda_retention, "lambda.log_retention_days"),
    };
    let mut create_statements = vec![
        logs_statement(&create_job_log),
        Statement {
            sid: "JobsTable".into(),
            effect: "Allow",
            // What create-job does: conditional put of a new job, read on idempotent replay,
            // conditional updates to claim and record the launch (or, after a cancel during the
            // launch, to put the stopped task on the cancelled record). No Query: it lists nothing.
            actions: vec!["dynamodb:GetItem".into(), "dynamodb:PutItem".into(), "dynamodb:UpdateItem".into()],
            resources: vec![table_arn.clone()],
            condition: Value::Null,
        },
    ];
    if !run_task_resources.is_empty() {
        create_statements.push(Statement {
            sid: "RunTask".into(),
            effect: "Allow",
            actions: vec!["ecs:RunTask".into()],
            resources: run_task_resources,
            condition: json!({ "ArnEquals": { "ecs:cluster": cluster_arns } }),
        });
    }
    if !cluster_task_arns.is_empty() {
        create_statements.push(Statement {
            sid: "StopCancelledTask".into(),
            effect: "Allow",
            // create-job stops the task it just started when the job was cancelled during the
            // launch (`jobgen cancel` saw no task yet). Only tasks of the clusters RunTask targets:
            // a task ARN names its cluster.
            actions: vec!["ecs:StopTask".into()],
            resources: cluster_task_arns,
            condition: Value::Null,
        });
    }
    if !pass_role_resources.is_empty() {
        create_statements.push(Statement {
            sid: "PassTaskRoles".into(),
            effect: "Allow",
            actions: vec!["iam:PassRole".into()],
            resources: pass_role_resources,
            condition: json!({ "StringEquals": { "iam:PassedToService": "ecs-tasks.amazonaws.com" } }),
        });
    }
    let create_job = Function {
        id: "CreateJobFunction".into(),
        description: format!("jobgen {project}: records a job and launches its Fargate task"),
        code: join_path(&options.lambda_dir, "create-job.zip"),
        architecture: lambda_arch,
        memory_mb: config.lambda.memory_mb,
        timeout_seconds: CREATE_JOB_TIMEOUT_SECONDS,
        environment: environment.clone(),
        layers: layers.clone(),
        role: Role {
            id: "CreateJobRole".into(),
            description: format!("jobgen {project}: create-job function"),
            service: "lambda.amazonaws.com",
            assume_condition: Value::Null,
            policies: vec![Policy { name: "create-job".into(), statements: create_statements }],
            skips: vec![],
        },
        log_group: create_job_log,
        name: create_job_name,
        skips: lambda_skips(false),
        lint_ignores: vec![code_path_lint()],
    };

    // Track.
    let track_name = format!("{project}-track");
    let track_dlq = Queue {
        id: "TrackDlq".into(),
        name: format!("{project}-track-dlq"),
        purpose: "task state events the track function failed on after Lambda's asynchronous retries".into(),
        skips: vec![sqs_sse_skip()],
    };
    let track_log = LogGroup {
        id: "TrackLogGroup".into(),
        name: format!("/aws/lambda/{track_name}"),
        retention_days: lambda_retention,
        skips: log_skip("track", lambda_retention, "lambda.log_retention_days"),
    };
    let track_statements = vec![
        logs_statement(&track_log),
        Statement {
            sid: "JobsTable".into(),
            effect: "Allow",
            // One conditional UpdateItem per event, no read before write.
            actions: vec!["dynamodb:UpdateItem".into()],
            resources: vec![table_arn],
            condition: Value::Null,
        },
        Statement {
            sid: "DeadLetterQueue".into(),
            effect: "Allow",
            actions: vec!["sqs:SendMessage".into()],
            resources: vec![get_att(&track_dlq.id, "Arn")],
            condition: Value::Null,
        },
    ];
    let track = Function {
        id: "TrackFunction".into(),
        description: format!("jobgen {project}: applies ECS task state changes to job records"),
        code: join_path(&options.lambda_dir, "track.zip"),
        architecture: lambda_arch,
        memory_mb: config.lambda.memory_mb,
        timeout_seconds: TRACK_TIMEOUT_SECONDS,
        environment,
        layers,
        role: Role {
            id: "TrackRole".into(),
            description: format!("jobgen {project}: track function"),
            service: "lambda.amazonaws.com",
            assume_condition: Value::Null,
            policies: vec![Policy { name: "track".into(), statements: track_statements }],
            skips: vec![],
        },
        log_group: track_log,
        name: track_name,
        skips: lambda_skips(true),
        lint_ignores: vec![code_path_lint()],
    };

    // The rule.
    let rule = Rule {
        id: "TaskStateRule".into(),
        name: format!("{project}-task-state"),
        description: format!("ECS task state changes of jobs launched by {project}"),
        pattern: event_pattern(json!(cluster_arns_for_pattern(&cluster_refs)), &started_by),
        target_id: "track",
        max_retry_attempts: 8,
        max_event_age_seconds: 3600,
        dlq: Queue {
            id: "TaskStateRuleDlq".into(),
            name: format!("{project}-task-state-dlq"),
            purpose: "task state events EventBridge could not deliver to the track function".into(),
            skips: vec![sqs_sse_skip()],
        },
        dlq_policy_id: "TaskStateRuleDlqPolicy".into(),
        permission_id: "TrackInvokePermission".into(),
        cluster_arn_templates: cluster_refs.iter().map(|c| c.arn_template.clone()).collect(),
        started_by,
    };

    // Outputs.
    let mut outs = vec![
        out(outputs::TABLE_NAME, "The jobs table", r#ref(&table.id)),
        out(outputs::TABLE_ARN, "The jobs table's ARN", get_att(&table.id, "Arn")),
        out(outputs::CREATE_JOB_FUNCTION_NAME, "The create-job function", r#ref(&create_job.id)),
        out(outputs::CREATE_JOB_FUNCTION_ARN, "The create-job function's ARN", get_att(&create_job.id, "Arn")),
        out(
            outputs::CREATE_JOB_FUNCTION_URL,
            "The create-job function URL (AWS_IAM auth: sign requests with SigV4)",
            get_att("CreateJobUrl", "FunctionUrl"),
        ),
        out(outputs::TRACK_FUNCTION_NAME, "The track function", r#ref(&track.id)),
        out(outputs::TRACK_FUNCTION_ARN, "The track function's ARN", get_att(&track.id, "Arn")),
        out(outputs::RULE_NAME, "The EventBridge rule routing task state changes to track", r#ref(&rule.id)),
        out(outputs::RULE_ARN, "The EventBridge rule's ARN", get_att(&rule.id, "Arn")),
        out(outputs::RULE_DLQ_URL, "Queue of events EventBridge could not deliver to track", r#ref(&rule.dlq.id)),
        out(outputs::TRACK_DLQ_URL, "Queue of events track failed on after retries", r#ref(&track_dlq.id)),
    ];
    for (c, r) in config.clusters.keys().zip(&cluster_refs) {
        let id = format!("Cluster{}", pascal_case(c));
        outs.push(out(&outputs::cluster_arn(&id), &format!("ARN of cluster {c}"), r.arn.clone()));
    }

    let stack = Stack {
        header: Header { generator: "jobgen", version: env!("CARGO_PKG_VERSION") },
        description: format!(
            "jobgen {project}: on-demand ECS Fargate jobs (jobs table, create-job and track functions, task state rule)"
        ),
        project: project.into(),
        tags,
        table,
        config_layer,
        create_job,
        create_job_url_id: "CreateJobUrl".into(),
        track,
        track_dlq,
        track_invoke_config_id: "TrackInvokeConfig".into(),
        track_max_retry_attempts: 2,
        track_max_event_age_seconds: 6 * 3600,
        dlq_retention_seconds: 14 * 24 * 3600,
        rule,
        clusters,
        task_definitions,
        outputs: outs,
        log_stream_prefix: LOG_STREAM_PREFIX,
        launch_table: launch,
    };

    diags.extend(stack_limits(&stack));
    if diags.is_empty() { Ok(stack) } else { Err(Report::from(diags)) }
}

/// The clusters the stack creates, and how every cluster (created or existing) is referenced.
fn build_clusters(config: &Config, diags: &mut Vec<Diagnostic>) -> (Vec<Cluster>, Vec<ClusterRef>) {
    let project = config.project.name.as_str();
    let mut clusters = Vec::new();
    let mut cluster_refs: Vec<ClusterRef> = Vec::new();
    for (name, c) in &config.clusters {
        let pascal = pascal_case(name);
        let id = format!("Cluster{pascal}");
        if let Some(create) = &c.create {
            let physical = format!("{project}-{name}");
            let mut providers: Vec<&'static str> = Vec::new();
            for p in &create.capacity_providers {
                if !providers.contains(&p.provider_name()) {
                    providers.push(p.provider_name());
                }
            }
            let default_provider = if providers.contains(&"FARGATE") {
                "FARGATE"
            } else {
                providers.first().copied().unwrap_or("FARGATE")
            };
            let mut skips = Vec::new();
            if !create.container_insights {
                skips.push(skip(
                    "CKV_AWS_65",
                    format!("Container Insights is off because clusters.{name}.create.container_insights is false: it is billed per metric, and job status, timings and exit codes are already recorded in the jobs table"),
                ));
            }
            cluster_refs.push(ClusterRef {
                name: name.clone(),
                arn: get_att(&id, "Arn"),
                arn_template: local_arn("ecs", &format!("cluster/{physical}")),
                task_arns: sub(&local_arn("ecs", &format!("task/{physical}/*"))),
                launch_value: physical.clone(),
            });
            clusters.push(Cluster {
                output: outputs::cluster_arn(&id),
                id,
                name: physical,
                capacity_providers: providers,
                default_provider,
                container_insights: create.container_insights,
                skips,
            });
        } else if let Some(existing) = &c.existing {
            let (arn, arn_template, task_arns) = if existing.starts_with("arn:") {
                // Validation admits only `arn:…:cluster/NAME`; a task ARN is `arn:…:task/NAME/ID`.
                let tasks = match existing.rsplit_once(":cluster/") {
                    Some((prefix, cluster)) => format!("{prefix}:task/{cluster}/*"),
                    None => format!("{existing}/*"),
                };
                (json!(existing), existing.clone(), json!(tasks))
            } else {
                let t = local_arn("ecs", &format!("cluster/{existing}"));
                (sub(&t), t, sub(&local_arn("ecs", &format!("task/{existing}/*"))))
            };
            cluster_refs.push(ClusterRef {
                name: name.clone(),
                arn,
                arn_template,
                task_arns,
                launch_value: existing.clone(),
            });
        } else {
            diags.push(Diagnostic::new(
                format!("clusters.{name}"),
                "the cluster has neither `create` nor `existing`",
                "add `create: {}` to create it, or `existing: NAME_OR_ARN` to use one",
            ));
        }
    }

    (clusters, cluster_refs)
}

/// What the job types contribute: the launch table (with `${Var}` placeholders), the task
/// definitions to create, and the resources create-job's IAM statements name.
struct JobTypes {
    launch: LaunchTable,
    task_definitions: Vec<TaskDefinition>,
    run_task_resources: Vec<Value>,
    pass_role_resources: Vec<Value>,
    /// Indexes into the cluster list of clusters some job type runs on.
    used_clusters: BTreeSet<usize>,
}

fn build_job_types(config: &Config, cluster_refs: &[ClusterRef], diags: &mut Vec<Diagnostic>) -> JobTypes {
    let mut launch = LaunchTable {
        clusters: cluster_refs.iter().map(|c| c.launch_value.clone()).collect(),
        ..LaunchTable::default()
    };
    let mut task_definitions = Vec::new();
    let mut run_task_resources: Vec<Value> = Vec::new();
    let mut pass_role_resources: Vec<Value> = Vec::new();
    let mut used_clusters: BTreeSet<usize> = BTreeSet::new();

    for (name, jt) in &config.job_types {
        let pascal = pascal_case(name);
        let path = format!("job_types.{name}");
        let cluster_name = jt
            .cluster
            .clone()
            .or_else(|| config.defaults.cluster.clone())
            .or_else(|| if config.clusters.len() == 1 { config.clusters.keys().next().cloned() } else { None });
        let Some(cluster_index) = cluster_name.as_ref().and_then(|n| cluster_refs.iter().position(|c| &c.name == n))
        else {
            diags.push(Diagnostic::new(
                format!("{path}.cluster"),
                "the job type names no cluster that exists",
                "set `cluster:` to one of the names under `clusters`, or set `defaults.cluster`",
            ));
            continue;
        };
        used_clusters.insert(cluster_index);
        let Some(network) = jt.network.as_ref().or(config.defaults.network.as_ref()) else {
            diags.push(Diagnostic::new(
                format!("{path}.network"),
                "the job type has no network: Fargate tasks need subnets",
                "set `network.subnets` on the job type or `defaults.network`",
            ));
            continue;
        };
        let net = contract::Network {
            subnets: network.subnets.clone(),
            security_groups: network.security_groups.clone(),
            assign_public_ip: network.assign_public_ip,
        };
        let network_index = match launch.networks.iter().position(|n| n == &net) {
            Some(i) => i,
            None => {
                launch.networks.push(net);
                launch.networks.len() - 1
            }
        };
        let capacity = jt.capacity.or(config.defaults.capacity).unwrap_or(Capacity::Fargate);

        let (task_definition, container, architecture) = match (&jt.task, &jt.task_definition) {
            (Some(task), _) => {
                let td = task_definition(config, name, &pascal, task);
                run_task_resources.push(r#ref(&td.id));
                pass_role_resources.push(get_att(&td.task_role.id, "Arn"));
                pass_role_resources.push(get_att(&td.execution_role.id, "Arn"));
                // The family: RunTask uses its latest ACTIVE revision, the one this stack version registered.
                let out = (td.family.clone(), td.container_name.clone(), task.architecture);
                task_definitions.push(td);
                out
            }
            (None, Some(existing)) => {
                run_task_resources.push(existing_task_definition_arn(&existing.name));
                for arn in [&existing.task_role_arn, &existing.execution_role_arn].into_iter().flatten() {
                    pass_role_resources.push(json!(arn));
                }
                (existing.name.clone(), existing.container_name.clone(), existing.architecture)
            }
            (None, None) => {
                diags.push(Diagnostic::new(
                    path.clone(),
                    "the job type has neither `task` nor `task_definition`",
                    "add `task:` (image, cpu, memory) or `task_definition:` (an existing one)",
                ));
                continue;
            }
        };
        launch.job_types.insert(
            name.clone(),
            JobTypeEntry {
                task_definition,
                cluster: cluster_index,
                network: network_index,
                capacity,
                container,
                architecture,
            },
        );
    }

    JobTypes { launch, task_definitions, run_task_resources, pass_role_resources, used_clusters }
}

/// The jobs table: key, indexes and TTL from the contract.
fn jobs_table(config: &Config) -> JobsTable {
    let mut table_skips = vec![skip(
        "CKV_AWS_119",
        "the table is encrypted at rest with the AWS managed DynamoDB KMS key (SSESpecification); a customer managed key adds a key policy to maintain and per-request KMS cost for job records that hold no secrets",
    )];
    if !config.table.point_in_time_recovery {
        table_skips.push(skip(
            "CKV_AWS_28",
            "point-in-time recovery is off because table.point_in_time_recovery is false in jobgen.yaml",
        ));
    }
    JobsTable {
        id: "JobsTable".into(),
        key_attr: contract::KEY_ATTR,
        status_attr: contract::STATUS_ATTR,
        job_type_attr: contract::JOB_TYPE_ATTR,
        created_at_attr: contract::CREATED_AT_ATTR,
        index_by_status: contract::INDEX_BY_STATUS,
        index_by_type: contract::INDEX_BY_TYPE,
        ttl_attr: contract::TTL_ATTR,
        point_in_time_recovery: config.table.point_in_time_recovery,
        skips: table_skips,
    }
}

/// Limits that depend on the whole stack: Lambda's environment size and CloudFormation's resource count.
fn stack_limits(stack: &Stack) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let env_bytes = stack.create_job.environment_worst_case_bytes();
    if env_bytes > contract::LAMBDA_ENV_LIMIT_BYTES {
        diags.push(Diagnostic::new(
            "job_types",
            format!(
                "the Lambda environment would be up to {env_bytes} bytes once deployed (limit {})",
                contract::LAMBDA_ENV_LIMIT_BYTES,
            ),
            "use a shorter project name",
        ));
    }
    let resources = stack.resource_count();
    if resources > MAX_RESOURCES {
        diags.push(Diagnostic::new(
            "job_types",
            format!("the stack would have {resources} resources (CloudFormation allows {MAX_RESOURCES}): each job type with `task` adds 4 (task definition, log group, task role, execution role)"),
            "split the job types into several projects, or reference existing task definitions with `task_definition`",
        ));
    }

    diags
}

/// Checks the rendered template's size against CloudFormation's limit.
pub fn check_template_size(bytes: usize) -> Result<(), Report> {
    if bytes > MAX_TEMPLATE_BYTES {
        return Err(Report::from(vec![Diagnostic::new(
            "job_types",
            format!("the template is {bytes} bytes; CloudFormation accepts at most {MAX_TEMPLATE_BYTES} bytes from S3"),
            "split the job types into several projects",
        )]));
    }
    Ok(())
}

fn cluster_arns_for_pattern(refs: &[ClusterRef]) -> Vec<Value> {
    refs.iter().map(|c| c.arn.clone()).collect()
}

/// Only ECS tasks of this account and region may assume a task role (the confused-deputy guard
/// AWS recommends in task role trust policies).
fn ecs_tasks_trust_condition() -> Value {
    json!({
        "ArnLike": { "aws:SourceArn": { "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:*" } },
        "StringEquals": { "aws:SourceAccount": { "Ref": "AWS::AccountId" } }
    })
}

/// cfn-lint warns that a local `Code` path needs `aws cloudformation package`: that is the design.
fn code_path_lint() -> Skip {
    skip(
        "W3002",
        "Code is the local zip `make package` builds; `aws cloudformation package` uploads it and rewrites Code to S3Bucket/S3Key (see the example READMEs)",
    )
}

/// checkov's SQS encryption check only recognizes a KMS key; the queues use SQS-managed SSE.
fn sqs_sse_skip() -> Skip {
    skip(
        "CKV_AWS_27",
        "the queue is encrypted at rest with SQS-managed SSE (SqsManagedSseEnabled), which checkov does not recognize; the AWS managed aws/sqs KMS key would break delivery because EventBridge cannot be granted use of it, and a customer managed key adds a key policy and cost for messages that only hold task state events",
    )
}

fn out(name: &str, description: &str, value: Value) -> Output {
    Output { name: name.into(), description: description.into(), value }
}

fn join_path(dir: &str, file: &str) -> String {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() || dir == "." { file.to_string() } else { format!("{dir}/{file}") }
}

fn logs_statement(log: &LogGroup) -> Statement {
    Statement {
        sid: "Logs".into(),
        effect: "Allow",
        actions: vec!["logs:CreateLogStream".into(), "logs:PutLogEvents".into()],
        // GetAtt Arn of a log group ends in `:*`, which covers its streams.
        resources: vec![get_att(&log.id, "Arn")],
        condition: Value::Null,
    }
}

fn check_unique_ids<'a>(names: impl Iterator<Item = &'a String>, section: &str, diags: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for name in names {
        let id = pascal_case(name);
        if let Some(first) = seen.get(&id) {
            diags.push(Diagnostic::new(
                format!("{section}.{name}"),
                format!("`{name}` and `{first}` both become the CloudFormation logical ID part `{id}`"),
                "rename one of them so they differ in more than `-`/`_` placement",
            ));
        } else {
            seen.insert(id, name);
        }
    }
}

fn task_definition(config: &Config, name: &str, pascal: &str, task: &config::Task) -> TaskDefinition {
    let project = config.project.name.as_str();
    let family = format!("{project}-{name}");
    let log_group = LogGroup {
        id: format!("TaskLogGroup{pascal}"),
        name: format!("/jobgen/{project}/{name}"),
        retention_days: task.log_retention_days,
        skips: {
            let mut s = vec![skip(
                "CKV_AWS_158",
                format!(
                    "job type {name}'s logs are encrypted at rest by CloudWatch Logs' service key; a customer managed key would need a key policy for the logs service principal and adds cost without protecting against any reader the IAM policy admits"
                ),
            )];
            if task.log_retention_days < 365 {
                s.push(skip(
                    "CKV_AWS_338",
                    format!("retention is {} days as set by job_types.{name}.task.log_retention_days in jobgen.yaml; one year of job logs is a cost the project chooses", task.log_retention_days),
                ));
            }
            s
        },
    };
    let mut exec_statements = vec![Statement {
        sid: "Logs".into(),
        effect: "Allow",
        actions: vec!["logs:CreateLogStream".into(), "logs:PutLogEvents".into()],
        resources: vec![get_att(&log_group.id, "Arn")],
        condition: Value::Null,
    }];
    if let Some(repo) = ecr_repository_arn(&task.image) {
        exec_statements.push(Statement {
            sid: "EcrAuth".into(),
            effect: "Allow",
            actions: vec!["ecr:GetAuthorizationToken".into()],
            // GetAuthorizationToken has no resource-level permissions: `*` is the only valid resource.
            resources: vec![json!("*")],
            condition: Value::Null,
        });
        exec_statements.push(Statement {
            sid: "EcrPull".into(),
            effect: "Allow",
            actions: vec![
                "ecr:BatchCheckLayerAvailability".into(),
                "ecr:GetDownloadUrlForLayer".into(),
                "ecr:BatchGetImage".into(),
            ],
            resources: vec![json!(repo)],
            condition: Value::Null,
        });
    }
    let mut ssm = Vec::new();
    let mut secretsmanager = Vec::new();
    for value_from in task.secrets.values() {
        let (res, is_ssm) = secret_resource(value_from);
        let list = if is_ssm { &mut ssm } else { &mut secretsmanager };
        if !list.contains(&res) {
            list.push(res);
        }
    }
    if !ssm.is_empty() {
        exec_statements.push(Statement {
            sid: "SsmSecrets".into(),
            effect: "Allow",
            actions: vec!["ssm:GetParameters".into()],
            resources: ssm,
            condition: Value::Null,
        });
    }
    if !secretsmanager.is_empty() {
        exec_statements.push(Statement {
            sid: "SecretsManagerSecrets".into(),
            effect: "Allow",
            actions: vec!["secretsmanager:GetSecretValue".into()],
            resources: secretsmanager,
            condition: Value::Null,
        });
    }
    let task_statements: Vec<Statement> = task
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| Statement {
            sid: format!("Custom{i}"),
            effect: match p.effect {
                Effect::Allow => "Allow",
                Effect::Deny => "Deny",
            },
            actions: p.actions.clone(),
            resources: p.resources.iter().map(|r| json!(r)).collect(),
            condition: Value::Null,
        })
        .collect();
    let task_policies = if task_statements.is_empty() {
        vec![]
    } else {
        vec![Policy { name: "job".into(), statements: task_statements }]
    };

    TaskDefinition {
        job_type: name.into(),
        id: format!("TaskDefinition{pascal}"),
        family,
        cpu: task.cpu.to_string(),
        memory: task.memory,
        architecture: task.architecture.ecs_name(),
        ephemeral_storage_gib: task.ephemeral_storage_gib,
        container_name: task.container_name.clone(),
        image: task.image.clone(),
        command: task.command.clone(),
        environment: task.environment.iter().map(|(k, v)| NameValue { name: k.clone(), value: v.clone() }).collect(),
        secrets: task.secrets.iter().map(|(k, v)| NameValue { name: k.clone(), value: v.clone() }).collect(),
        log_group,
        task_role: Role {
            id: format!("TaskRole{pascal}"),
            description: format!("jobgen {project}: tasks of job type {name}"),
            service: "ecs-tasks.amazonaws.com",
            assume_condition: ecs_tasks_trust_condition(),
            policies: task_policies,
            skips: vec![],
        },
        execution_role: Role {
            id: format!("ExecutionRole{pascal}"),
            description: format!("jobgen {project}: ECS agent for job type {name} (image pull, logs, secrets)"),
            service: "ecs-tasks.amazonaws.com",
            // No source condition: AWS documents it for task roles; the execution role is assumed
            // by the ECS agent before the task exists.
            assume_condition: Value::Null,
            policies: vec![Policy { name: "execution".into(), statements: exec_statements }],
            skips: vec![],
        },
        skips: vec![skip(
            "CKV_AWS_336",
            format!(
                "job type {name} runs an arbitrary batch image that may write scratch files (ephemeral storage is sized for that); a read-only root filesystem would break such images"
            ),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_case_folds_separators() {
        assert_eq!(pascal_case("send-email"), "SendEmail");
        assert_eq!(pascal_case("etl_v2"), "EtlV2");
        assert_eq!(pascal_case("main"), "Main");
    }

    #[test]
    fn sub_escape_protects_dollar_braces() {
        assert_eq!(sub_escape("a${b}"), "a${!b}");
    }

    #[test]
    fn secrets_manager_arn_with_json_key_is_trimmed() {
        let (v, ssm) = secret_resource("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::");
        assert!(!ssm);
        assert_eq!(v, json!("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"));
        let (v, ssm) = secret_resource("arn:aws:ssm:us-east-1:123456789012:parameter/app/token");
        assert!(ssm);
        assert_eq!(v, json!("arn:aws:ssm:us-east-1:123456789012:parameter/app/token"));
    }

    #[test]
    fn ecr_images_get_a_repository_arn_and_others_none() {
        assert_eq!(
            ecr_repository_arn("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1.2"),
            Some("arn:aws:ecr:eu-west-1:123456789012:repository/team/app".into())
        );
        assert_eq!(ecr_repository_arn("public.ecr.aws/docker/library/busybox:1.36"), None);
        assert_eq!(ecr_repository_arn("busybox"), None);
    }

    #[test]
    fn existing_task_definitions_map_to_arns() {
        assert_eq!(
            existing_task_definition_arn("arn:aws:ecs:us-east-1:123456789012:task-definition/x:3"),
            json!("arn:aws:ecs:us-east-1:123456789012:task-definition/x:3")
        );
        assert_eq!(
            existing_task_definition_arn("x"),
            json!({"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/x:*"})
        );
    }
}
