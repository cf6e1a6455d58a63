//! The contract between the generator and the runtime: the one place that names what the synthesized
//! stack writes and the handlers read (environment variables, the job-type launch table, the jobs
//! table's key schema and index names, and the RunTask fields that tie a task back to its job).
//!
//! The generator renders these names into CloudFormation; the handlers read them at start-up. Both
//! crates use this module, and a test synthesizes a stack and parses its environment with it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Lambda environment variable: the jobs table name.
pub const ENV_TABLE_NAME: &str = "JOBGEN_TABLE_NAME";
/// Lambda environment variable: the project name (drives `startedBy`).
pub const ENV_PROJECT: &str = "JOBGEN_PROJECT";
/// Lambda environment variable: the compact JSON [`LaunchTable`].
pub const ENV_JOB_TYPES: &str = "JOBGEN_JOB_TYPES";
/// Lambda environment variable: days a finished job is kept before DynamoDB's TTL removes it (0 = forever).
pub const ENV_RETENTION_DAYS: &str = "JOBGEN_RETENTION_DAYS";

/// Every Lambda environment variable the generator sets, for the agreement test.
pub const LAMBDA_ENV: [&str; 4] = [ENV_TABLE_NAME, ENV_PROJECT, ENV_JOB_TYPES, ENV_RETENTION_DAYS];

/// Lambda's limit on the total size of a function's environment (keys plus values), in bytes.
pub const LAMBDA_ENV_LIMIT_BYTES: usize = 4096;
/// RunTask's limit on the JSON size of `overrides`, in bytes.
pub const RUN_TASK_OVERRIDES_LIMIT_BYTES: usize = 8192;

/// Container environment variable set on every job's main container: the job id.
pub const TASK_ENV_JOB_ID: &str = "JOBGEN_JOB_ID";
/// Container environment variable: the job type.
pub const TASK_ENV_JOB_TYPE: &str = "JOBGEN_JOB_TYPE";
/// Container environment variable: the attempt number, starting at 1.
pub const TASK_ENV_ATTEMPT: &str = "JOBGEN_ATTEMPT";

/// The jobs table's partition key attribute (string): the job id. No sort key.
pub const KEY_ATTR: &str = "jobId";
/// Attribute holding the job status (a [`crate::job::JobStatus`] name); partition key of [`INDEX_BY_STATUS`].
pub const STATUS_ATTR: &str = "status";
/// Attribute holding the job type; partition key of [`INDEX_BY_TYPE`].
pub const JOB_TYPE_ATTR: &str = "jobType";
/// Attribute holding the creation time (RFC 3339, UTC, millisecond precision): sort key of both indexes.
pub const CREATED_AT_ATTR: &str = "createdAt";
/// Global secondary index: jobs by status, newest last.
pub const INDEX_BY_STATUS: &str = "byStatus";
/// Global secondary index: jobs by type, newest last.
pub const INDEX_BY_TYPE: &str = "byType";
/// The TTL attribute (epoch seconds), set when a job reaches a terminal status.
pub const TTL_ATTR: &str = "expiresAt";

/// Names of the other attributes of a job record, shared by the handlers (which write them) and the
/// operator commands (which read them). The key, status, job type, creation time and TTL attributes
/// are the top-level constants above; a test in `job` proves the record's serde names match these.
pub mod attr {
    /// Last write time of the record (RFC 3339, UTC, milliseconds).
    pub const UPDATED_AT: &str = "updatedAt";
    /// The caller's idempotency key, when one was given.
    pub const IDEMPOTENCY_KEY: &str = "idempotencyKey";
    /// Hash of the request's parameters: a replay with the same key must carry the same fingerprint.
    pub const FINGERPRINT: &str = "fingerprint";
    /// The user's environment variables for the main container (map of strings).
    pub const ENVIRONMENT: &str = "environment";
    /// The command override (list of strings).
    pub const COMMAND: &str = "command";
    /// Free-form JSON object stored with the job.
    pub const METADATA: &str = "metadata";
    /// Launch lease (epoch milliseconds): while it is in the future, one create-job call owns the launch.
    pub const LEASE_UNTIL: &str = "leaseUntil";
    /// Earlier attempts (list of maps with the per-attempt attributes below), oldest first.
    pub const HISTORY: &str = "history";
    /// The current attempt number, starting at 1.
    pub const ATTEMPT: &str = "attempt";
    /// The current attempt's task ARN.
    pub const TASK_ARN: &str = "taskArn";
    /// The cluster ARN the task runs in.
    pub const CLUSTER_ARN: &str = "clusterArn";
    /// When RunTask accepted the task.
    pub const LAUNCHED_AT: &str = "launchedAt";
    /// When the job was cancelled.
    pub const CANCELLED_AT: &str = "cancelledAt";
    /// Why the launch failed (RunTask exception or failures[] reason).
    pub const LAUNCH_ERROR: &str = "launchError";
    /// Kind of launch failure (THROTTLED, CAPACITY, ...).
    pub const LAUNCH_ERROR_KIND: &str = "launchErrorKind";
    /// Whether a later launch attempt may succeed.
    pub const LAUNCH_RETRYABLE: &str = "launchRetryable";
    /// RunTask calls made in the failed launch.
    pub const LAUNCH_TRIES: &str = "launchTries";
    /// ECS `lastStatus` from the newest applied event.
    pub const ECS_LAST_STATUS: &str = "ecsLastStatus";
    /// ECS `desiredStatus` from the newest applied event.
    pub const ECS_DESIRED_STATUS: &str = "ecsDesiredStatus";
    /// `detail.version` of the newest applied event: the tracker's ordering key.
    pub const ECS_VERSION: &str = "ecsVersion";
    /// Task `createdAt` (ECS accepted the task).
    pub const TASK_CREATED_AT: &str = "taskCreatedAt";
    /// Image pull start (Fargate billing starts here).
    pub const PULL_STARTED_AT: &str = "pullStartedAt";
    /// Image pull end.
    pub const PULL_STOPPED_AT: &str = "pullStoppedAt";
    /// The task reached RUNNING.
    pub const STARTED_AT: &str = "startedAt";
    /// The task began stopping.
    pub const STOPPING_AT: &str = "stoppingAt";
    /// The task stopped.
    pub const STOPPED_AT: &str = "stoppedAt";
    /// Milliseconds from task creation to start.
    pub const WAIT_MS: &str = "waitMs";
    /// Milliseconds from start to stop.
    pub const RUN_MS: &str = "runMs";
    /// The main container's exit code.
    pub const EXIT_CODE: &str = "exitCode";
    /// The main container's `reason`.
    pub const CONTAINER_REASON: &str = "containerReason";
    /// ECS `stopCode`.
    pub const STOP_CODE: &str = "stopCode";
    /// ECS `stoppedReason`.
    pub const STOPPED_REASON: &str = "stoppedReason";
    /// The failure class of a FAILED job.
    pub const FAILURE_CLASS: &str = "failureClass";
    /// Task cpu units from the event.
    pub const CPU: &str = "cpu";
    /// Task memory (MiB) from the event.
    pub const MEMORY: &str = "memory";
    /// FARGATE or FARGATE_SPOT, from the event's capacity provider.
    pub const CAPACITY: &str = "capacity";
    /// X86_64 or ARM64, from the event's `ecs.cpu-architecture` attribute.
    pub const ARCHITECTURE: &str = "architecture";
    /// Estimated Fargate cost in USD, set when the task stopped.
    pub const COST_USD: &str = "costUsd";
}

/// The `startedBy` value on every task this project launches; the EventBridge rule matches it exactly.
///
/// ECS allows up to 128 letters, digits, `-`, `/` and `_` here; project names are validated to fit.
pub fn started_by(project: &str) -> String {
    format!("jobgen/{project}")
}

/// Prefix of the task `group` that carries the job id and attempt.
pub const GROUP_PREFIX: &str = "jobgen:";

/// The task `group` that ties a task to its job and attempt: `jobgen:<job id>:<attempt>`.
pub fn task_group(job_id: &str, attempt: u32) -> String {
    format!("{GROUP_PREFIX}{job_id}:{attempt}")
}

/// Parses a task `group` written by [`task_group`]; `None` for any other group (a foreign task).
pub fn parse_task_group(group: &str) -> Option<(&str, u32)> {
    let rest = group.strip_prefix(GROUP_PREFIX)?;
    let (job_id, attempt) = rest.rsplit_once(':')?;
    if job_id.is_empty() {
        return None;
    }
    Some((job_id, attempt.parse().ok()?))
}

/// The RunTask `clientToken` for one attempt of one job: at most 64 characters, the same on every retry.
pub fn client_token(job_id: &str, attempt: u32) -> String {
    let token = format!("{job_id}-{attempt}");
    token.chars().take(64).collect()
}

/// Fargate capacity a job type runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Capacity {
    /// On-demand Fargate.
    Fargate,
    /// Fargate Spot: interruptible, discounted.
    FargateSpot,
}

impl Capacity {
    /// The capacity provider name ECS uses.
    pub fn provider_name(self) -> &'static str {
        match self {
            Capacity::Fargate => "FARGATE",
            Capacity::FargateSpot => "FARGATE_SPOT",
        }
    }
}

/// CPU architecture of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Architecture {
    /// x86-64.
    X86_64,
    /// 64-bit ARM (Graviton).
    Arm64,
}

impl Architecture {
    /// The ECS `cpuArchitecture` value.
    pub fn ecs_name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "X86_64",
            Architecture::Arm64 => "ARM64",
        }
    }
}

/// awsvpc network settings for a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct Network {
    /// Subnet ids.
    #[serde(rename = "s")]
    pub subnets: Vec<String>,
    /// Security group ids.
    #[serde(rename = "g")]
    pub security_groups: Vec<String>,
    /// Whether the task gets a public IP.
    #[serde(rename = "p")]
    pub assign_public_ip: bool,
}

/// How to launch one job type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTypeEntry {
    /// Task definition: `family:revision` or a full ARN.
    #[serde(rename = "d")]
    pub task_definition: String,
    /// Index into [`LaunchTable::clusters`].
    #[serde(rename = "c")]
    pub cluster: usize,
    /// Index into [`LaunchTable::networks`].
    #[serde(rename = "n")]
    pub network: usize,
    /// FARGATE or FARGATE_SPOT.
    #[serde(rename = "k")]
    pub capacity: Capacity,
    /// The main container: the one that gets the job's environment and whose exit code is the job's.
    #[serde(rename = "m")]
    pub container: String,
    /// CPU architecture, for the cost estimate.
    #[serde(rename = "a")]
    pub architecture: Architecture,
}

/// The job-type table the create-job handler launches from, carried in [`ENV_JOB_TYPES`] as compact
/// JSON. Clusters and networks are listed once and referenced by index to stay within Lambda's 4 KB
/// environment limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LaunchTable {
    /// Cluster names or ARNs.
    #[serde(rename = "c")]
    pub clusters: Vec<String>,
    /// Distinct network settings.
    #[serde(rename = "n")]
    pub networks: Vec<Network>,
    /// Job types by name.
    #[serde(rename = "j")]
    pub job_types: BTreeMap<String, JobTypeEntry>,
}

/// A job type's launch parameters, resolved from a [`LaunchTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedJobType<'a> {
    /// The job type's name.
    pub name: &'a str,
    /// The table entry.
    pub entry: &'a JobTypeEntry,
    /// The cluster to run on.
    pub cluster: &'a str,
    /// The network to run in.
    pub network: &'a Network,
}

/// A launch table that does not hold together.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContractError {
    /// The environment variable is missing.
    #[error("environment variable {0} is not set: the function must be deployed by a jobgen stack")]
    MissingEnv(&'static str),
    /// The JSON does not parse.
    #[error("{ENV_JOB_TYPES} is not a valid job-type table: {0}")]
    BadJson(String),
    /// An index points outside its list.
    #[error("{ENV_JOB_TYPES}: job type {job_type} refers to {what} {index}, which does not exist")]
    BadIndex {
        /// The job type.
        job_type: String,
        /// "cluster" or "network".
        what: &'static str,
        /// The index.
        index: usize,
    },
}

impl LaunchTable {
    /// Parses and checks the table from its JSON text.
    pub fn from_json(text: &str) -> Result<Self, ContractError> {
        let table: LaunchTable = serde_json::from_str(text).map_err(|e| ContractError::BadJson(e.to_string()))?;
        for (name, entry) in &table.job_types {
            if entry.cluster >= table.clusters.len() {
                return Err(ContractError::BadIndex { job_type: name.clone(), what: "cluster", index: entry.cluster });
            }
            if entry.network >= table.networks.len() {
                return Err(ContractError::BadIndex { job_type: name.clone(), what: "network", index: entry.network });
            }
        }
        Ok(table)
    }

    /// Serializes the table as the compact JSON the environment variable carries.
    pub fn to_json(&self) -> String {
        // Serializing plain structs and maps with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Looks up a job type; `None` when the stack has no such job type.
    pub fn resolve(&self, name: &str) -> Option<ResolvedJobType<'_>> {
        let (name, entry) = self.job_types.get_key_value(name)?;
        Some(ResolvedJobType {
            name,
            entry,
            cluster: self.clusters.get(entry.cluster)?,
            network: self.networks.get(entry.network)?,
        })
    }
}

/// A one-job-type launch table (`report` on cluster `main`, container `app`, ARM64) for unit tests.
#[cfg(test)]
pub(crate) fn sample_table(capacity: Capacity) -> LaunchTable {
    LaunchTable {
        clusters: vec!["main".into()],
        networks: vec![Network { subnets: vec!["subnet-1".into()], security_groups: vec![], assign_public_ip: false }],
        job_types: BTreeMap::from([(
            "report".to_string(),
            JobTypeEntry {
                task_definition: "report:3".into(),
                cluster: 0,
                network: 0,
                capacity,
                container: "app".into(),
                architecture: Architecture::Arm64,
            },
        )]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_round_trips_and_rejects_foreign_groups() {
        let g = task_group("01hzy3k7q8", 3);
        assert_eq!(g, "jobgen:01hzy3k7q8:3");
        assert_eq!(parse_task_group(&g), Some(("01hzy3k7q8", 3)));
        assert_eq!(parse_task_group("family:transcode"), None);
        assert_eq!(parse_task_group("jobgen::1"), None);
        assert_eq!(parse_task_group("jobgen:abc:x"), None);
    }

    #[test]
    fn client_token_is_stable_and_bounded() {
        let long = "x".repeat(100);
        assert_eq!(client_token(&long, 1).len(), 64);
        assert_eq!(client_token("abc", 2), client_token("abc", 2));
        assert_ne!(client_token("abc", 1), client_token("abc", 2));
    }

    #[test]
    fn launch_table_rejects_dangling_indexes() {
        let bad = r#"{"c":["main"],"n":[],"j":{"t":{"d":"f:1","c":0,"n":0,"k":"FARGATE","m":"main","a":"X86_64"}}}"#;
        assert!(matches!(LaunchTable::from_json(bad), Err(ContractError::BadIndex { what: "network", .. })));
        let good = r#"{"c":["main"],"n":[{"s":["subnet-1"],"g":[],"p":false}],"j":{"t":{"d":"f:1","c":0,"n":0,"k":"FARGATE_SPOT","m":"main","a":"ARM64"}}}"#;
        let table = LaunchTable::from_json(good).expect("valid table");
        let resolved = table.resolve("t").expect("job type t");
        assert_eq!(resolved.cluster, "main");
        assert_eq!(resolved.entry.capacity, Capacity::FargateSpot);
        assert!(table.resolve("nope").is_none());
        assert_eq!(LaunchTable::from_json(&table.to_json()), Ok(table));
    }
}
