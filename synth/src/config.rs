//! The `jobgen.yaml` schema: plain serde types, unknown keys rejected. Parsing lives in
//! [`crate::parse`]; every rule beyond "the types fit" lives in [`crate::validate`].
//!
//! Growth rule: a new capability is a new optional key (per job type where it belongs, e.g.
//! `max_concurrency`, `timeout`, `start_timeout`, `retry` and a future `schedule` under
//! `job_types.NAME`; project-wide under `limits`), so files written for an older jobgen keep
//! parsing. `version` changes only for a breaking change.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use jobgen_runtime::contract::{Architecture, Capacity, RetryOn};
use jobgen_runtime::schedule::Overlap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Project, cluster and job type names in the JSON Schema (the validator checks the same rule and
/// says why a name fails).
const NAME_PATTERN: &str = "^[a-z][a-z0-9-]{0,31}$";
/// Environment variable names.
const ENV_NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
/// ECS container names.
const CONTAINER_NAME_PATTERN: &str = "^[A-Za-z0-9_-]{1,255}$";
/// Durations (`90s`, `30m`, `6h`, `2d`): the validator parses them ([`Duration::seconds`]) and says
/// which bound a value breaks.
const DURATION_PATTERN: &str = "^[0-9]+[smhd]$";

/// The only schema version.
pub const VERSION: u32 = 1;
/// Longest finished-job retention (10 years); 0 keeps jobs forever.
pub const MAX_TABLE_RETENTION_DAYS: u32 = 3650;
/// The largest concurrency limit (`job_types.NAME.max_concurrency`, `limits.max_concurrency`).
///
/// jobgen's bound, not an AWS quota: how many Fargate tasks an account may run at once is its
/// Fargate vCPU quota, per Region and adjustable ([`crate::quotas::FARGATE_CONCURRENCY_SOURCE`]),
/// so no fixed number is AWS's. A limit only does something while it is below what the account
/// can run, and 10,000 is far above that for nearly every account: ten times the 1,000 concurrent
/// tasks per account Fargate allowed before its quotas became vCPU-based, and, at Fargate's
/// sustained launch rate of 20 tasks a second ([`crate::quotas::FARGATE_LAUNCH_RATE_SOURCE`]),
/// more than eight minutes of launching. A larger value is almost surely a slip (an extra zero);
/// a project that wants no limit leaves the key out.
pub const MAX_CONCURRENCY: u32 = 10_000;

/// A whole `jobgen.yaml`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Schema version of this file. Only `1` exists.
    #[schemars(extend("enum" = [VERSION]))]
    pub version: u32,
    /// The project: its name prefixes resource names; its tags go on every resource.
    pub project: Project,
    /// Defaults every job type inherits unless it sets its own.
    #[serde(default)]
    pub defaults: Defaults,
    /// ECS clusters by a short name used in `job_types.NAME.cluster`: each is created by the stack or an
    /// existing one.
    #[schemars(extend("minProperties" = 1, "propertyNames" = {"pattern": NAME_PATTERN}))]
    pub clusters: IndexMap<String, Cluster>,
    /// Job types by name: each is one task definition that `create-job` runs as one Fargate task per job.
    #[schemars(extend("minProperties" = 1, "propertyNames" = {"pattern": NAME_PATTERN}))]
    pub job_types: IndexMap<String, JobType>,
    /// Limits for the whole project (default: none).
    #[serde(default)]
    pub limits: Limits,
    /// The DynamoDB jobs table.
    #[serde(default)]
    pub table: Table,
    /// The create-job and track Lambda functions.
    #[serde(default)]
    pub lambda: Lambda,
    /// The alarms on what needs an operator: messages in either dead-letter queue, and track's
    /// errors. They always exist; `sns_topic_arn` makes them notify.
    #[serde(default)]
    pub alarms: Alarms,
    /// Jobs submitted on a schedule, by name: each is an EventBridge Scheduler schedule that
    /// invokes create-job (default: none).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend("propertyNames" = {"pattern": SCHEDULE_NAME_PATTERN}))]
    pub schedules: IndexMap<String, Schedule>,
    /// Deployments of this project side by side (e.g. `dev`, `prod`), by name: each is its own stack
    /// (`jobgen-<project>-<environment>`) whose every resource is named after
    /// `<project>-<environment>`, selected with `--environment NAME`, with these overrides on top of
    /// the rest of the file (default: none; without `--environment` the file deploys as it is).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend("propertyNames" = {"pattern": ENVIRONMENT_NAME_PATTERN}))]
    pub environments: IndexMap<String, Environment>,
}

/// An environment's name: lowercase letters, digits and hyphens, starting with a letter. With the
/// project name and a hyphen it must fit in a project name (32 characters), which validation checks.
pub const ENVIRONMENT_NAME_PATTERN: &str = "^[a-z][a-z0-9-]{0,30}$";

/// What one environment changes; everything it leaves out is the file's.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Tags added to `project.tags` (a key of both takes this value).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The network of every job type that sets none, replacing `defaults.network`.
    #[serde(default)]
    pub network: Option<Network>,
    /// Replaces `limits`.
    #[serde(default)]
    pub limits: Option<Limits>,
    /// Replaces `alarms` (e.g. only production pages someone).
    #[serde(default)]
    pub alarms: Option<Alarms>,
    /// Per job type (a key of `job_types`): its sizes, limit, capacity and network here.
    #[serde(default)]
    pub job_types: IndexMap<String, JobTypeOverride>,
}

/// An environment's changes to one job type.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobTypeOverride {
    /// Replaces `task.cpu` (a job type with `task` only).
    #[serde(default)]
    pub cpu: Option<u32>,
    /// Replaces `task.memory` (a job type with `task` only).
    #[serde(default)]
    pub memory: Option<u32>,
    /// Replaces `task.ephemeral_storage_gib` (a job type with `task` only).
    #[serde(default)]
    pub ephemeral_storage_gib: Option<u32>,
    /// Replaces `max_concurrency`.
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_CONCURRENCY))]
    pub max_concurrency: Option<u32>,
    /// Replaces `capacity`.
    #[serde(default)]
    pub capacity: Option<Capacity>,
    /// Replaces `network`.
    #[serde(default)]
    pub network: Option<Network>,
}

/// A schedule's name: lowercase letters, digits and `-`, starting with a letter, at most 40
/// characters (it becomes part of the Scheduler schedule's name and of every run's idempotency key).
pub const SCHEDULE_NAME_PATTERN: &str = "^[a-z][a-z0-9-]{0,39}$";

/// A job submitted on a schedule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The job type each run submits (a key of `job_types`).
    pub job_type: String,
    /// When: `rate(N minutes|hours|days)` (counted from the deploy) or Scheduler's six-field
    /// `cron(minutes hours day-of-month month day-of-week year)`, e.g. `cron(0 3 * * ? *)`.
    pub expression: String,
    /// The IANA time zone a `cron()` is read in (default `UTC`), e.g. `Europe/Paris`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Environment variables of each run's main container (the job type's `allowed_environment`
    /// applies).
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// What a run does while the previous run of the schedule is still active: `skip` (default:
    /// the run is not submitted) or `queue` (it is submitted and waits in its job type's queue,
    /// which needs a `max_concurrency` on the job type or the project; with 1, runs never overlap).
    #[serde(default)]
    pub overlap: Overlap,
    /// Whether Scheduler runs it (default true); a disabled schedule stays deployed.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_timezone() -> String {
    "UTC".into()
}

/// The project.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Lowercase letters, digits and hyphens, starting with a letter, at most 32 characters.
    #[schemars(pattern(NAME_PATTERN))]
    pub name: String,
    /// Tags applied to every resource that supports them.
    #[serde(default)]
    #[schemars(extend("maxProperties" = crate::quotas::MAX_TAGS))]
    pub tags: BTreeMap<String, String>,
}

/// Defaults for job types.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// The cluster a job type runs on when it names none (optional when there is only one cluster).
    #[serde(default)]
    pub cluster: Option<String>,
    /// FARGATE (default) or FARGATE_SPOT.
    #[serde(default)]
    pub capacity: Option<Capacity>,
    /// The awsvpc network of every job type that sets none.
    #[serde(default)]
    pub network: Option<Network>,
}

/// awsvpc network settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Subnet ids (`subnet-` and 8 or 17 hex digits), 1 to 16.
    #[schemars(length(min = 1, max = 16), inner(pattern(r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$")))]
    pub subnets: Vec<String>,
    /// Security group ids (`sg-` and 8 or 17 hex digits), 0 to 5.
    #[serde(default)]
    #[schemars(length(max = 5), inner(pattern(r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$")))]
    pub security_groups: Vec<String>,
    /// Give each task a public IP (needed in public subnets without a NAT gateway to pull images).
    #[serde(default)]
    pub assign_public_ip: bool,
}

/// A cluster: exactly one of `create` or `existing`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Create the cluster in this stack.
    #[serde(default)]
    pub create: Option<CreateCluster>,
    /// Use an existing cluster, by name or ARN.
    #[serde(default)]
    pub existing: Option<String>,
}

/// A cluster the stack creates.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCluster {
    /// Capacity providers to attach: FARGATE and/or FARGATE_SPOT (default both). Job types on
    /// FARGATE_SPOT need FARGATE_SPOT here; on-demand ones need nothing (they are launched with
    /// `launchType: FARGATE`).
    #[serde(default = "default_capacity_providers")]
    #[schemars(length(min = 1, max = 2), extend("uniqueItems" = true))]
    pub capacity_providers: Vec<Capacity>,
    /// Turn on CloudWatch Container Insights.
    #[serde(default)]
    pub container_insights: bool,
}

fn default_capacity_providers() -> Vec<Capacity> {
    vec![Capacity::Fargate, Capacity::FargateSpot]
}

/// One job type: exactly one of `task` (jobgen defines the task definition) or `task_definition`
/// (an existing one).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobType {
    /// Cluster name from `clusters` (default: `defaults.cluster`, or the only cluster).
    #[serde(default)]
    pub cluster: Option<String>,
    /// FARGATE or FARGATE_SPOT (default: `defaults.capacity`, or FARGATE).
    #[serde(default)]
    pub capacity: Option<Capacity>,
    /// Network for this job type's tasks, replacing `defaults.network`.
    #[serde(default)]
    pub network: Option<Network>,
    /// A task definition jobgen creates.
    #[serde(default)]
    pub task: Option<Task>,
    /// An existing task definition.
    #[serde(default)]
    pub task_definition: Option<ExistingTaskDefinition>,
    /// At most this many jobs of this type launch or run at once (1 to 10000); the others wait as
    /// QUEUED and start in submission order as running ones stop. Default: no limit of its own.
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_CONCURRENCY))]
    pub max_concurrency: Option<u32>,
    /// Let a job's request replace the main container's command (default false: create-job refuses
    /// `command`). A command of the caller's choosing runs with this job type's task role and
    /// secrets, so turn it on only where every caller may run any code as the job.
    #[serde(default)]
    pub allow_command_override: bool,
    /// The only environment variables a job's request may set (default: any valid name outside the
    /// JOBGEN_ prefix). Some variables run code of the caller's choosing (LD_PRELOAD, NODE_OPTIONS,
    /// BASH_ENV, ...): list the ones the job reads.
    #[serde(default)]
    #[schemars(extend("uniqueItems" = true), inner(pattern(ENV_NAME_PATTERN)))]
    pub allowed_environment: Option<Vec<String>>,
    /// A job RUNNING longer than this is stopped and ends TIMED_OUT: a duration (`90s`, `30m`,
    /// `6h`, `2d`) from 1m to 30d. Timers fire with one-minute precision. Default: no limit.
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// A job whose task is not RUNNING this long after its launch is stopped and the attempt fails
    /// with `start_timeout` (retried when `retry.on` lists it): a duration from 1m to 1d, with
    /// one-minute precision. Default: no deadline.
    #[serde(default)]
    pub start_timeout: Option<Duration>,
    /// Retry failed attempts (default: one attempt, a failure is final).
    #[serde(default)]
    pub retry: Option<Retry>,
    /// Let this type's tasks report progress (a percentage and a message) that `jobgen status`
    /// and `watch` show (default false). Its task role may then write one item of the jobs table:
    /// the task's own progress, keyed by its role session, and nothing else.
    #[serde(default)]
    pub progress: bool,
    /// Which nested stack holds this job type's resources when the project is split into nested
    /// stacks (0 to 15; default: a stable hash of the name). Pin a job type only to move it out of
    /// a nested stack that is full: pinning one that is already deployed moves its resources.
    #[serde(default)]
    #[schemars(range(min = 0, max = 15))]
    pub nested_stack: Option<u32>,
}

/// A duration: a whole number and a unit, `s`, `m`, `h` or `d` (`90s`, `30m`, `6h`, `2d`). A plain
/// number is not one: the unit is required.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
// Kept as written: `Duration::seconds` reads it, and validation reports text that does not read,
// so every bad duration in a file is reported at once (a custom Deserialize would stop at the first).
pub struct Duration(#[schemars(pattern(DURATION_PATTERN))] pub String);

impl Duration {
    /// The duration in seconds, or `None` when the text is not a number and a unit (or overflows).
    pub fn seconds(&self) -> Option<u32> {
        let text = self.0.trim();
        let unit = text.chars().last()?;
        let per = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        let digits = &text[..text.len() - 1];
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse::<u32>().ok()?.checked_mul(per)
    }

    /// The shortest way to write `seconds` (`3600` → `1h`), for messages.
    pub fn display(seconds: u32) -> String {
        for (per, unit) in [(86_400, 'd'), (3600, 'h'), (60, 'm')] {
            if seconds >= per && seconds.is_multiple_of(per) {
                return format!("{}{unit}", seconds / per);
            }
        }
        format!("{seconds}s")
    }
}

/// Longest `job_types.NAME.timeout` (30 days).
pub const MAX_TIMEOUT_SECONDS: u32 = 30 * 86_400;
/// Longest `job_types.NAME.start_timeout` (1 day).
pub const MAX_START_TIMEOUT_SECONDS: u32 = 86_400;
/// Shortest timeout or start timeout (1 minute): EventBridge Scheduler fires the timers that
/// enforce them with one-minute precision.
pub const MIN_TIMEOUT_SECONDS: u32 = 60;
/// Most attempts a retry policy may make, the first included.
pub const MAX_ATTEMPTS: u32 = 10;
/// `retry.backoff.interval` when unset (30 seconds).
pub const DEFAULT_INTERVAL_SECONDS: u32 = 30;
/// `retry.backoff.rate` when unset (each retry's delay bound doubles).
pub const DEFAULT_RATE: f64 = 2.0;
/// Largest `retry.backoff.rate`.
pub const MAX_RATE: f64 = 10.0;
/// `retry.backoff.max_delay` when unset (15 minutes).
pub const DEFAULT_MAX_DELAY_SECONDS: u32 = 15 * 60;
/// Longest `retry.backoff.interval` and `retry.backoff.max_delay` (1 day).
pub const MAX_DELAY_SECONDS: u32 = 86_400;

/// A job type's retry policy: how many attempts in all, how long to wait between them, and which
/// failures retry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, the first included: 1 to 10 (1 means no retry).
    #[schemars(range(min = 1, max = MAX_ATTEMPTS))]
    pub attempts: u32,
    /// The delay before each retry (default: interval 30s, rate 2, max_delay 15m).
    #[serde(default)]
    pub backoff: Option<Backoff>,
    /// The failures that retry (default: failed_to_start, spot_interrupted, start_timeout,
    /// capacity). `start_timeout` needs the job type's `start_timeout`.
    #[serde(default)]
    #[schemars(length(min = 1), extend("uniqueItems" = true))]
    pub on: Option<Vec<RetryOn>>,
    /// Run a retry after a Spot interruption or no Spot capacity on on-demand FARGATE (default
    /// false). Only for job types on FARGATE_SPOT.
    #[serde(default)]
    pub spot_fallback: bool,
}

/// The delay before retry n: drawn at random from 0 to `min(max_delay, interval × rate^(n-1))`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// The first retry's delay bound: a duration from 1s to 1d (default 30s).
    #[serde(default)]
    pub interval: Option<Duration>,
    /// How much the bound grows per retry: a number from 1 (constant) to 10 (default 2, doubling).
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_RATE))]
    pub rate: Option<f64>,
    /// The most any delay may be: a duration from `interval` to 1d (default 15m).
    #[serde(default)]
    pub max_delay: Option<Duration>,
}

/// Limits for the whole project.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// At most this many jobs of the project, of any type, launch or run at once (1 to 10000); the
    /// others wait as QUEUED and start in submission order. Default: no project limit.
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_CONCURRENCY))]
    pub max_concurrency: Option<u32>,
}

/// A task definition jobgen creates: one essential container.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Container image.
    #[schemars(pattern(r"^\S+$"))]
    pub image: String,
    /// Task cpu units: 256, 512, 1024, 2048, 4096, 8192 or 16384.
    #[schemars(extend("enum" = [256, 512, 1024, 2048, 4096, 8192, 16384]))]
    pub cpu: u32,
    /// Task memory in MiB, valid for the cpu.
    pub memory: u32,
    /// Command (overrides the image's CMD).
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Fixed environment variables.
    #[serde(default)]
    #[schemars(extend("propertyNames" = {"pattern": ENV_NAME_PATTERN}))]
    pub environment: BTreeMap<String, String>,
    /// Secrets as environment variables: name to an SSM parameter or Secrets Manager ARN.
    #[serde(default)]
    #[schemars(extend("propertyNames" = {"pattern": ENV_NAME_PATTERN}))]
    pub secrets: BTreeMap<String, String>,
    /// Main container name (default `main`).
    #[serde(default = "default_container_name")]
    #[schemars(pattern(CONTAINER_NAME_PATTERN))]
    pub container_name: String,
    /// X86_64 (default) or ARM64.
    #[serde(default = "default_task_architecture")]
    pub architecture: Architecture,
    /// Ephemeral storage in GiB, 21 to 200 (Fargate gives 20 without it).
    #[serde(default)]
    #[schemars(range(min = 21, max = 200))]
    pub ephemeral_storage_gib: Option<u32>,
    /// Days to keep the task's logs (a CloudWatch Logs retention value, default 30).
    #[serde(default = "default_log_retention")]
    #[schemars(extend("enum" = crate::quotas::LOG_RETENTION_DAYS))]
    pub log_retention_days: u32,
    /// Extra statements for the task role.
    #[serde(default)]
    pub policies: Vec<PolicyStatement>,
}

fn default_container_name() -> String {
    "main".to_string()
}

fn default_task_architecture() -> Architecture {
    Architecture::X86_64
}

fn default_log_retention() -> u32 {
    30
}

/// An IAM policy statement for a task role.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyStatement {
    /// Allow (default) or Deny.
    #[serde(default)]
    pub effect: Effect,
    /// Actions, e.g. `s3:GetObject`.
    #[schemars(length(min = 1), inner(pattern(r"^[a-z0-9-]+:[A-Za-z0-9*?]+$")))]
    pub actions: Vec<String>,
    /// Resource ARNs.
    #[schemars(length(min = 1), inner(pattern(r"^(\*|arn:.+)$")))]
    pub resources: Vec<String>,
}

/// A statement's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
pub enum Effect {
    /// Allow.
    #[default]
    Allow,
    /// Deny.
    Deny,
}

/// An existing task definition.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExistingTaskDefinition {
    /// `family`, `family:revision` or a task definition ARN.
    pub name: String,
    /// The container that gets the job's environment and whose exit code is the job's.
    #[schemars(pattern(CONTAINER_NAME_PATTERN))]
    pub container_name: String,
    /// X86_64 (default) or ARM64, for the cost estimate.
    #[serde(default = "default_task_architecture")]
    pub architecture: Architecture,
    /// The task definition's task role ARN, if it has one (create-job must pass it).
    #[serde(default)]
    pub task_role_arn: Option<String>,
    /// The task definition's execution role ARN, if it has one (create-job must pass it).
    #[serde(default)]
    pub execution_role_arn: Option<String>,
}

/// The jobs table.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// Days a finished job is kept before DynamoDB's TTL deletes it; 0 keeps jobs forever (default 90).
    #[serde(default = "default_retention_days")]
    #[schemars(range(max = MAX_TABLE_RETENTION_DAYS))]
    pub retention_days: u32,
    /// Point-in-time recovery (default on).
    #[serde(default = "default_true")]
    pub point_in_time_recovery: bool,
    /// Keep the table (and its job records) when the stack is deleted or the table would be
    /// replaced (`DeletionPolicy` and `UpdateReplacePolicy: Retain`; default on). Off, a stack
    /// deletion deletes the table, unless `deletion_protection` refuses it.
    #[serde(default = "default_true")]
    pub retain: bool,
    /// DynamoDB deletion protection (`DeletionProtectionEnabled`; default on): nobody deletes the
    /// table, by API or by a stack deletion with `retain: false`, until it is turned off.
    #[serde(default = "default_true")]
    pub deletion_protection: bool,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            retention_days: default_retention_days(),
            point_in_time_recovery: true,
            retain: true,
            deletion_protection: true,
        }
    }
}

/// The stack's alarms.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alarms {
    /// An SNS topic in the stack's region (`arn:aws:sns:REGION:ACCOUNT:NAME`) the alarms notify when
    /// they go off and when they recover. Without it they only change state (default).
    #[serde(default)]
    #[schemars(pattern(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"))]
    pub sns_topic_arn: Option<String>,
}

fn default_retention_days() -> u32 {
    90
}

fn default_true() -> bool {
    true
}

/// The Lambda functions.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lambda {
    /// arm64 (default) or x86_64: must match how `make package` built the handlers.
    #[serde(default)]
    pub architecture: LambdaArchitecture,
    /// Memory in MB, 128 to 10240 (default 256).
    #[serde(default = "default_lambda_memory")]
    #[schemars(range(min = 128, max = 10240))]
    pub memory_mb: u32,
    /// Days to keep the functions' logs (default 30).
    #[serde(default = "default_log_retention")]
    #[schemars(extend("enum" = crate::quotas::LOG_RETENTION_DAYS))]
    pub log_retention_days: u32,
    /// Concurrent executions each function (create-job and track) reserves from the account's
    /// pool: at most this many run at once, and no other function can take them. Default: none
    /// reserved, left to the account, because Lambda refuses a reservation that leaves the account
    /// less than its minimum unreserved concurrency, which fails the deployment in accounts with a
    /// low quota.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub reserved_concurrency: Option<u32>,
}

impl Default for Lambda {
    fn default() -> Self {
        Lambda {
            architecture: LambdaArchitecture::default(),
            memory_mb: default_lambda_memory(),
            log_retention_days: default_log_retention(),
            reserved_concurrency: None,
        }
    }
}

fn default_lambda_memory() -> u32 {
    256
}

/// A Lambda function's architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LambdaArchitecture {
    /// Graviton.
    #[default]
    Arm64,
    /// x86-64.
    X86_64,
}

impl LambdaArchitecture {
    /// The name Lambda's `Architectures` and `make package ARCH=` use.
    pub fn name(self) -> &'static str {
        match self {
            LambdaArchitecture::Arm64 => "arm64",
            LambdaArchitecture::X86_64 => "x86_64",
        }
    }
}
