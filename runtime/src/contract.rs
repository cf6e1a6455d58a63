//! The contract between the generator, the runtime and the operator tools: the one place that names
//! what the synthesized stack writes and the handlers and tools read (environment variables, the
//! stack configuration document and where it is mounted, the jobs table's key schema and index
//! names, the stack's output names, and the RunTask fields that tie a task back to its job).
//!
//! The configuration travels in two parts. The Lambda environment holds only small fixed-size
//! values (table name, project, retention, and the SHA-256 of the document). The document itself —
//! the [`LaunchTable`] with every job type and, as capabilities grow, every per-type setting — is a
//! JSON file in a config-only Lambda layer that both functions mount at [`CONFIG_FILE`]: no size
//! ceiling but the layer's, no AWS call to read it, and one UpdateFunctionConfiguration changes
//! layer and hash together, so a function never runs with half of an old table (the handlers refuse
//! a document whose hash is not the one in their environment).
//!
//! The generator renders these names into CloudFormation; the handlers read them at start-up. Every
//! crate uses this module, and tests synthesize stacks and parse what they ship with it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Lambda environment variable: the jobs table name.
pub const ENV_TABLE_NAME: &str = "JOBGEN_TABLE_NAME";
/// Lambda environment variable: the project name (drives `startedBy`).
pub const ENV_PROJECT: &str = "JOBGEN_PROJECT";
/// Lambda environment variable: lowercase hex SHA-256 of the configuration document the function's
/// config layer carries ([`config_sha256`]).
pub const ENV_CONFIG_SHA256: &str = "JOBGEN_CONFIG_SHA256";
/// Lambda environment variable: days a finished job is kept before DynamoDB's TTL removes it (0 = forever).
pub const ENV_RETENTION_DAYS: &str = "JOBGEN_RETENTION_DAYS";
/// Lambda environment variable: the EventBridge Scheduler schedule group the handlers create
/// their one-shot timers in ([`schedule_group`]).
pub const ENV_SCHEDULE_GROUP: &str = "JOBGEN_SCHEDULE_GROUP";
/// Lambda environment variable: the role EventBridge Scheduler assumes to invoke a timer's target
/// (it may invoke the track function and send to the timers' dead-letter queue, nothing else).
pub const ENV_TIMER_ROLE_ARN: &str = "JOBGEN_TIMER_ROLE_ARN";
/// Lambda environment variable: the function a timer invokes (the track function's ARN).
pub const ENV_TIMER_TARGET_ARN: &str = "JOBGEN_TIMER_TARGET_ARN";
/// Lambda environment variable: the SQS queue a timer's invocation goes to when Scheduler gives up
/// on it (the track function's dead-letter queue).
pub const ENV_TIMER_DLQ_ARN: &str = "JOBGEN_TIMER_DLQ_ARN";
/// The timer variables: both functions get all four (a stack from before timers has none, and its
/// handlers then arm no timer).
pub const TIMER_ENV: [&str; 4] = [ENV_SCHEDULE_GROUP, ENV_TIMER_ROLE_ARN, ENV_TIMER_TARGET_ARN, ENV_TIMER_DLQ_ARN];

/// The schedule group of a project's timers: `jobgen-<project>` (at most 39 characters; Scheduler
/// allows 64 of `[0-9A-Za-z-_.]`). IAM scopes the handlers' CreateSchedule to it.
pub fn schedule_group(project: &str) -> String {
    format!("jobgen-{project}")
}

/// The member of a timer's invocation payload that tells track it is a timer, not an ECS event:
/// `{"jobgenTimer": {"kind": ..., "jobId": ..., "attempt": ...}}`.
pub const TIMER_KEY: &str = "jobgenTimer";

/// The member of the reconciler's invocation payload: `{"jobgenReconcile": {}}`, sent to track by
/// the stack's recurring schedule every [`RECONCILE_INTERVAL_MINUTES`].
pub const RECONCILE_KEY: &str = "jobgenReconcile";
/// How often the reconciler runs: well inside the hour ECS keeps a stopped task describable, so a
/// job whose STOPPED event was lost is repaired from ECS itself.
pub const RECONCILE_INTERVAL_MINUTES: u32 = 5;
/// The reconciler's schedule's name in the project's schedule group.
pub const RECONCILE_SCHEDULE: &str = "reconcile";

/// The reconciler's payload.
pub fn reconcile_payload() -> serde_json::Value {
    serde_json::json!({ RECONCILE_KEY: {} })
}

/// The `stopCode` of the STOPPED event the reconciler writes for a task that ECS no longer knows
/// (not an ECS code: jobgen's own, so the outcome says why).
pub const STOP_CODE_TASK_LOST: &str = "jobgen:TaskLost";

/// What a one-shot timer does when it fires. Every kind acts only when the job is still in the
/// status and attempt it was armed for, so a timer that fires late or twice changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// The attempt's task must be RUNNING by now (`start_timeout`), else it is stopped.
    StartDeadline,
    /// The attempt's task must have stopped by now (`timeout`), else it is stopped (TIMED_OUT).
    RunDeadline,
    /// The retry backoff is over: the next attempt starts.
    Retry,
    /// RunTask's throttling or capacity backoff is over: the launch is tried again.
    Relaunch,
}

impl TimerKind {
    /// The short name that starts its schedules' names.
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::StartDeadline => "start",
            TimerKind::RunDeadline => "run",
            TimerKind::Retry => "retry",
            TimerKind::Relaunch => "relaunch",
        }
    }
}

/// One timer of one job attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timer {
    /// What it does.
    pub kind: TimerKind,
    /// The job.
    pub job_id: String,
    /// The attempt it was armed for.
    pub attempt: u32,
    /// Which relaunch of the attempt (0 for the other kinds), so each backoff round has its own
    /// schedule name.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub round: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Timer {
    /// A timer of `kind` for the job's `attempt`.
    pub fn new(kind: TimerKind, job_id: &str, attempt: u32) -> Timer {
        Timer { kind, job_id: job_id.to_string(), attempt, round: 0 }
    }

    /// Its schedule's name, unique per job, attempt, kind and round, so arming it again (a
    /// redelivered event, a retried invocation) finds the schedule that exists instead of making a
    /// second one: `retry-<job id>-<attempt>`, `relaunch-<job id>-<attempt>-<round>` (at most 53
    /// characters for a 26-character job id; Scheduler allows 64).
    pub fn schedule_name(&self) -> String {
        let name = format!("{}-{}-{}", self.kind.as_str(), self.job_id, self.attempt);
        if self.round == 0 { name } else { format!("{name}-{}", self.round) }
    }

    /// The invocation payload its schedule sends to track.
    pub fn payload(&self) -> serde_json::Value {
        serde_json::json!({ TIMER_KEY: self })
    }

    /// The timer in a track invocation payload, if it is one.
    pub fn from_payload(payload: &serde_json::Value) -> Option<Timer> {
        serde_json::from_value(payload.get(TIMER_KEY)?.clone()).ok()
    }
}

/// The Scheduler `at()` expression (UTC) for a timer due at `due`, rounded UP to the next whole
/// minute: Scheduler fires within the minute after the time it is given ("60 second precision"),
/// so a rounded-up time never fires before `due`.
pub fn at_expression(due: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{DurationRound, TimeDelta};
    let minute = TimeDelta::minutes(1);
    let floor = due.duration_trunc(minute).unwrap_or(due);
    let at = if floor == due { due } else { floor + minute };
    format!("at({})", at.format("%Y-%m-%dT%H:%M:%S"))
}

/// Parses an `at()` expression back (UTC): what the local simulator reads to fire a timer.
pub fn parse_at_expression(expression: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let inner = expression.strip_prefix("at(")?.strip_suffix(')')?;
    let naive = chrono::NaiveDateTime::parse_from_str(inner, "%Y-%m-%dT%H:%M:%S").ok()?;
    Some(naive.and_utc())
}

/// The StopTask reason of a task jobgen stops because it ran longer than its type's timeout; the
/// tracker reads it back from the STOPPED event's `stoppedReason` (prefix) to end the job TIMED_OUT.
pub const STOP_REASON_TIMEOUT: &str = "jobgen: timeout";
/// The StopTask reason of a task jobgen stops because it was not RUNNING by its start deadline.
pub const STOP_REASON_START_TIMEOUT: &str = "jobgen: start deadline";

/// Environment variable naming another path for the configuration document. Never set by the
/// stack (its functions read [`CONFIG_FILE`]); local runs of the handler binaries and tests set it.
pub const ENV_CONFIG_FILE: &str = "JOBGEN_CONFIG_FILE";

/// Every Lambda environment variable the generator sets, for the agreement test.
pub const LAMBDA_ENV: [&str; 4] = [ENV_TABLE_NAME, ENV_PROJECT, ENV_CONFIG_SHA256, ENV_RETENTION_DAYS];

/// Where the functions read the configuration document: Lambda extracts layers under `/opt`.
pub const CONFIG_FILE: &str = "/opt/jobgen/config.json";
/// The document's path inside the config layer's content (so it lands at [`CONFIG_FILE`]).
pub const CONFIG_LAYER_ENTRY: &str = "jobgen/config.json";
/// The directory beside the template that `jobgen synth` writes the layer's content into; the
/// layer's `Content` names it, and `aws cloudformation package` zips and uploads it.
pub const CONFIG_LAYER_DIR: &str = "jobgen-config";
/// Version of the configuration document's format.
pub const CONFIG_VERSION: u32 = 1;

/// The lowercase hex SHA-256 of a configuration document's bytes, as [`ENV_CONFIG_SHA256`] holds it.
pub fn config_sha256(document: &[u8]) -> String {
    use sha2::Digest;
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(document))
}

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

/// Prefix reserved for the container variables jobgen sets ([`TASK_ENV_JOB_ID`], ...): neither a
/// job type's environment nor a job's may use it.
pub const RESERVED_ENV_PREFIX: &str = "JOBGEN_";

/// Whether `name` is a container environment variable name jobgen accepts (in `jobgen.yaml` and
/// in create-job requests): a letter or `_`, then letters, digits and `_`.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The jobs table's partition key attribute (string): the job id. No sort key.
pub const KEY_ATTR: &str = "jobId";
/// Attribute holding the job status (a [`crate::job::JobStatus`] name). No index is keyed on it:
/// every transition changes it, and an index keyed on it would be rewritten (an entry deleted and
/// one written) by every transition of every job, all in a few hot partitions.
pub const STATUS_ATTR: &str = "status";
/// Attribute holding the job type (projected into both listing indexes, which filter on it).
pub const JOB_TYPE_ATTR: &str = "jobType";
/// Attribute holding the creation time (RFC 3339, UTC, millisecond precision): sort key of
/// [`INDEX_BY_CREATED`].
pub const CREATED_AT_ATTR: &str = "createdAt";
/// Attribute (string): the job's listing shard, [`shard_of`] its id, written with the record and
/// never changed; partition key of [`INDEX_BY_CREATED`] and [`INDEX_OPEN`].
pub const SHARD_ATTR: &str = "shard";
/// Attribute (string): the creation time again, carried only while the job is open (see
/// [`INDEX_OPEN`]); sort key of [`INDEX_OPEN`].
pub const OPEN_SINCE_ATTR: &str = "openSince";
/// Global secondary index: every job, newest last, per shard ([`SHARD_ATTR`], [`CREATED_AT_ATTR`]).
/// Projection INCLUDE [`JOB_TYPE_ATTR`] only: its entry is written once, with the record, and no
/// later write changes a key or a projected attribute, so it costs one index write per job.
/// Listings read the records themselves by key.
pub const INDEX_BY_CREATED: &str = "byCreated";
/// Global secondary index: the open jobs, newest last, per shard ([`SHARD_ATTR`],
/// [`OPEN_SINCE_ATTR`]). Sparse: a job is in it from its creation (a limited job: from its
/// admission; a queued job is not open) until the write that leaves it finished with nothing left
/// to repair (no slot held, no task that may still run), which removes [`OPEN_SINCE_ATTR`]: an
/// unlimited job's outcome, or the reconciler's Close. Every slot holder is open. Projection INCLUDE
/// [`JOB_TYPE_ATTR`]: two index writes per job in all. It holds what the reconciler looks at and
/// what `jobgen list --status` of a non-terminal status reads.
pub const INDEX_OPEN: &str = "open";
/// How many shards the listing indexes spread jobs over. One partition key value of an index takes
/// about 1,000 writes a second; a burst of submissions lands in all of them. A listing queries
/// each shard and merges.
pub const SHARDS: u32 = 4;

/// The listing shard of a job: its id's bytes summed, modulo [`SHARDS`], as a decimal string.
/// Stable (the same for every writer and version) and spread evenly by random ids.
pub fn shard_of(job_id: &str) -> String {
    (job_id.bytes().map(u32::from).sum::<u32>() % SHARDS).to_string()
}

/// Every shard value, in order.
pub fn shards() -> impl Iterator<Item = String> {
    (0..SHARDS).map(|n| n.to_string())
}

/// The TTL attribute (epoch seconds), set when a job reaches a terminal status.
pub const TTL_ATTR: &str = "expiresAt";
/// Global secondary index: the queues of limited jobs, oldest first. Sparse, projection KEYS_ONLY:
/// its keys, [`QUEUE_KEY_ATTR`] and [`QUEUE_ORDER_ATTR`], are carried by QUEUED jobs and by admitted
/// jobs (SUBMITTED, holding a slot) until their launch is recorded, so admission also finds an
/// admitted job whose launcher died before RunTask. Unlimited jobs never carry them.
pub const INDEX_BY_QUEUE: &str = "byQueue";
/// Attribute (string): the queue a limited job waits in ([`PROJECT_QUEUE`] or its job type's
/// name, see [`LaunchTable::queue_key`]); partition key of [`INDEX_BY_QUEUE`].
pub const QUEUE_KEY_ATTR: &str = "queueKey";
/// Attribute (string): the job's place in its queue, [`queue_order`]; sort key of [`INDEX_BY_QUEUE`].
pub const QUEUE_ORDER_ATTR: &str = "queueOrder";
/// The queue key of every queued job when the project has a project-wide limit: all queued jobs,
/// of every type, in one order.
pub const PROJECT_QUEUE: &str = "*";

/// A job's place in its queue: `<createdAt>#<jobId>` (createdAt as `job::format_ts` writes it, so
/// the strings sort in submission order; ties broken by id).
pub fn queue_order(created_at: &str, job_id: &str) -> String {
    format!("{created_at}#{job_id}")
}

/// The stack name jobgen uses for a project when none is given: `jobgen-<project>`. `jobgen dev`
/// deploys under it, and the operator commands look for it when neither `--stack` nor
/// `JOBGEN_STACK` names one and `./jobgen.yaml` names the project.
pub fn default_stack_name(project: &str) -> String {
    format!("jobgen-{project}")
}

/// The partition key value of a concurrency counter item in the jobs table: `limit#<job type>` for
/// a job type's limit, `limit#*` ([`PROJECT_QUEUE`]) for the project's. Job ids (lowercase base32
/// or ULID) never contain `#`, so a counter never collides with a job; counters carry no status,
/// job type, creation time or queue key, so they appear in no index. A counter is a cache of how
/// many job items hold a slot ([`attr::SLOT`]) under that limit.
pub fn limit_item_key(queue_or_type: &str) -> String {
    format!("limit#{queue_or_type}")
}

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
    /// Attempt: the capacity it was launched on when not the job type's (Spot fallback).
    pub const REQUESTED_CAPACITY: &str = "requestedCapacity";
    /// Attempt: when the next attempt starts (RETRYING).
    pub const RETRY_AT: &str = "retryAt";
    /// Attempt: how many launch rounds failed retryably (RunTask throttled, no capacity).
    pub const LAUNCH_ROUND: &str = "launchRound";
    /// Attempt: when the launch is tried again after a retryable failure (LAUNCH_FAILED, backing off).
    pub const RELAUNCH_AT: &str = "relaunchAt";
    /// The attempt number that holds a concurrency slot (number): set when the job is admitted from
    /// its queue, removed when that attempt is over (`machine::attempt_over`).
    pub const SLOT: &str = "slot";
    /// The schedule a job is a run of (string), when a schedule submitted it.
    pub const SCHEDULE: &str = "schedule";
    /// On a counter item ([`super::limit_item_key`]), not a job: the number of slots held (number).
    pub const RUNNING: &str = "running";
    /// On a counter item: how many admissions and releases changed it, ever (number): the
    /// counter's version, which tells the reconciler's recount whether the counter moved while it
    /// counted.
    pub const CHANGES: &str = "changes";
    /// On a counter item: a recount that disagreed with it, `<changes>/<holders>` (string); the
    /// next recount repairs the counter if nothing changed it since and it counts the same.
    pub const SUSPECT: &str = "suspect";
}

/// Timeout of the create-job function, in seconds: RunTask is retried with backoff inside the call.
/// The generator sets it on the function; `jobgen dev` gives each local invocation the same deadline.
pub const CREATE_JOB_TIMEOUT_SECONDS: u32 = 30;

/// Timeout of the track function, in seconds, for a project with a concurrency limit: after an event
/// frees a slot, track admits and launches the next queued jobs (RunTask with its in-call retries,
/// up to a few launches per event) and stops starting new ones when less than a launch's worst case
/// is left.
pub const TRACK_TIMEOUT_SECONDS: u32 = 60;

/// Stack output names: stable, so the operator commands, `jobgen dev` and users can read them with
/// `describe-stacks`. The generator renders them; nothing else spells them.
pub mod outputs {
    /// The jobs table's name.
    pub const TABLE_NAME: &str = "JobsTableName";
    /// The jobs table's ARN.
    pub const TABLE_ARN: &str = "JobsTableArn";
    /// The create-job function's name.
    pub const CREATE_JOB_FUNCTION_NAME: &str = "CreateJobFunctionName";
    /// The create-job function's ARN.
    pub const CREATE_JOB_FUNCTION_ARN: &str = "CreateJobFunctionArn";
    /// The create-job function URL (AWS_IAM auth).
    pub const CREATE_JOB_FUNCTION_URL: &str = "CreateJobFunctionUrl";
    /// The ARN of the managed policy a caller of create-job attaches: `lambda:InvokeFunction` and
    /// `lambda:InvokeFunctionUrl` (AWS_IAM auth only) on the create-job function.
    pub const CREATE_JOB_INVOKE_POLICY_ARN: &str = "CreateJobInvokePolicyArn";
    /// The track function's name.
    pub const TRACK_FUNCTION_NAME: &str = "TrackFunctionName";
    /// The track function's ARN.
    pub const TRACK_FUNCTION_ARN: &str = "TrackFunctionArn";
    /// The EventBridge rule's ARN.
    pub const RULE_ARN: &str = "TaskStateRuleArn";
    /// The EventBridge rule's name.
    pub const RULE_NAME: &str = "TaskStateRuleName";
    /// The URL of the queue that gets events the rule could not deliver to track.
    pub const RULE_DLQ_URL: &str = "TaskStateRuleDlqUrl";
    /// The URL of the queue that gets events track failed on after Lambda's async retries.
    pub const TRACK_DLQ_URL: &str = "TrackFunctionDlqUrl";
    /// The EventBridge Scheduler schedule group of the project's timers ([`super::schedule_group`]).
    pub const SCHEDULE_GROUP_NAME: &str = "ScheduleGroupName";

    /// The output holding a cluster's ARN, by the cluster's logical ID (e.g. `ClusterMain`).
    pub fn cluster_arn(cluster_logical_id: &str) -> String {
        format!("{cluster_logical_id}Arn")
    }
}

/// The `startedBy` value on every task this project launches; the EventBridge rule matches it exactly.
///
/// ECS allows up to 128 letters, digits, `-`, `/` and `_` here; project names are validated to fit.
pub fn started_by(project: &str) -> String {
    format!("jobgen/{project}")
}

/// The tag key jobgen puts on every resource it creates and every task it launches, with the
/// project name as its value. create-job's and track's StopTask permission is conditioned on it
/// (`aws:ResourceTag/jobgen:project`), so in a cluster shared with other projects they may stop only
/// this project's tasks; the generator therefore refuses a project tag of this key with any other
/// value.
pub const PROJECT_TAG: &str = "jobgen:project";

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
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// Subnet ids.
    pub subnets: Vec<String>,
    /// Security group ids.
    pub security_groups: Vec<String>,
    /// Whether the task gets a public IP.
    pub assign_public_ip: bool,
}

/// How to launch one job type. Settings added later are optional members with defaults that keep
/// earlier behaviour, so an older document still parses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTypeEntry {
    /// Task definition: a family (RunTask then uses its latest ACTIVE revision, so a stack update
    /// that registers a new revision never leaves create-job naming a deregistered one),
    /// `family:revision`, or a full ARN.
    pub task_definition: String,
    /// Index into [`LaunchTable::clusters`].
    pub cluster: usize,
    /// Index into [`LaunchTable::networks`].
    pub network: usize,
    /// FARGATE or FARGATE_SPOT.
    pub capacity: Capacity,
    /// The main container: the one that gets the job's environment and whose exit code is the job's.
    pub container: String,
    /// CPU architecture, for the cost estimate.
    pub architecture: Architecture,
    /// At most this many jobs of this type hold a slot (are launching or running) at once; the
    /// others wait as QUEUED and start in submission order. `None`: no limit of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Whether a job's request may replace the main container's command. `false` (the default,
    /// and what a document without the member means): create-job refuses `command`, because a
    /// command of the caller's choosing runs with the job type's task role and secrets.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_command_override: bool,
    /// The only environment variable names a job's request may set. `None` (the default): any valid
    /// name outside [`RESERVED_ENV_PREFIX`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_environment: Option<Vec<String>>,
    /// A job running (ECS RUNNING) longer than this many seconds is stopped and ends TIMED_OUT.
    /// `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// A job whose task is not RUNNING this many seconds after its launch is stopped; the attempt
    /// fails with START_TIMEOUT (retried when [`JobTypeEntry::retry`] says so). `None`: no deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timeout_seconds: Option<u32>,
    /// How failed attempts are retried. `None`: one attempt (a failure is final).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Its tasks may report progress ([`crate::progress`]): the launch gives them the table's name.
    #[serde(default, skip_serializing_if = "is_false")]
    pub progress: bool,
}

impl JobTypeEntry {
    /// Why the entry's timeouts or retry policy cannot work, if they cannot (the generator
    /// validates the same bounds with field paths; this guards a hand-edited document).
    pub fn lifecycle_problem(&self) -> Option<&'static str> {
        if self.timeout_seconds == Some(0) || self.start_timeout_seconds == Some(0) {
            return Some("a timeout of 0 seconds would stop every job at once (leave it out for no limit)");
        }
        let retry = self.retry.as_ref()?;
        if retry.attempts < 1 {
            return Some("retry.attempts is 0: at least 1 (the first attempt)");
        }
        if !retry.rate.is_finite() || retry.rate < 1.0 {
            return Some("retry.rate must be a number of at least 1");
        }
        if retry.on.is_empty() {
            return Some("retry.on names no failure class, so nothing would retry");
        }
        None
    }

    /// The capacity a retry runs on after an attempt that failed with `failure`: on-demand FARGATE
    /// when the policy's Spot fallback applies (a Spot interruption, or no Spot capacity), else the
    /// job type's own.
    pub fn retry_capacity(&self, spot_failure: bool) -> Capacity {
        let fallback = self.retry.as_ref().is_some_and(|r| r.spot_fallback);
        if fallback && spot_failure && self.capacity == Capacity::FargateSpot {
            Capacity::Fargate
        } else {
            self.capacity
        }
    }
}

/// The failure classes a retry policy may name (`retry.on`): the task outcomes of
/// `job::FailureClass` that a new attempt can help with, and RunTask's capacity answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RetryOn {
    /// ECS could not start the task (stopCode TaskFailedToStart).
    FailedToStart,
    /// Fargate Spot reclaimed the capacity.
    SpotInterrupted,
    /// The task was not RUNNING within the start deadline.
    StartTimeout,
    /// The image could not be pulled.
    ImagePullFailed,
    /// The main container exited non-zero.
    NonZeroExit,
    /// The main container ran out of memory.
    OutOfMemory,
    /// RunTask kept answering with no capacity (after its launch backoff).
    Capacity,
}

impl RetryOn {
    /// Every class, in the order the docs list them.
    pub const ALL: [RetryOn; 7] = [
        RetryOn::FailedToStart,
        RetryOn::SpotInterrupted,
        RetryOn::StartTimeout,
        RetryOn::ImagePullFailed,
        RetryOn::NonZeroExit,
        RetryOn::OutOfMemory,
        RetryOn::Capacity,
    ];
    /// What a policy retries when it names none: the infrastructure failures.
    pub const DEFAULT: [RetryOn; 4] =
        [RetryOn::FailedToStart, RetryOn::SpotInterrupted, RetryOn::StartTimeout, RetryOn::Capacity];

    /// The name in `jobgen.yaml` and the document.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryOn::FailedToStart => "failed_to_start",
            RetryOn::SpotInterrupted => "spot_interrupted",
            RetryOn::StartTimeout => "start_timeout",
            RetryOn::ImagePullFailed => "image_pull_failed",
            RetryOn::NonZeroExit => "non_zero_exit",
            RetryOn::OutOfMemory => "out_of_memory",
            RetryOn::Capacity => "capacity",
        }
    }
}

/// A job type's retry policy: at most `attempts` attempts in all; before attempt n+1 a delay drawn
/// uniformly from 0 to `min(max_delay, interval × rate^(n-1))` ("full jitter").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Attempts in all, the first included (2..=10).
    pub attempts: u32,
    /// The first retry's delay bound, in seconds.
    pub interval_seconds: u32,
    /// How much the bound grows per retry (1 = constant, 2 = doubling).
    pub rate: f64,
    /// The most any delay may be, in seconds.
    pub max_delay_seconds: u32,
    /// The failure classes that retry.
    pub on: Vec<RetryOn>,
    /// Whether a retry after a Spot interruption or a Spot capacity failure runs on on-demand FARGATE.
    #[serde(default, skip_serializing_if = "is_false")]
    pub spot_fallback: bool,
}

impl Eq for RetryPolicy {}

impl RetryPolicy {
    /// Whether an attempt numbered `attempt` that failed with `class` is followed by another.
    pub fn retries(&self, attempt: u32, class: RetryOn) -> bool {
        attempt < self.attempts && self.on.contains(&class)
    }

    /// The delay before the attempt after `attempt`, with full jitter: uniform in
    /// `[0, min(max_delay, interval × rate^(attempt-1))]`, drawn from `seed` (a hash of the job id
    /// and attempt), so every redelivery of the same event computes the same delay.
    pub fn delay(&self, attempt: u32, seed: u64) -> std::time::Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let bound =
            (f64::from(self.interval_seconds) * self.rate.powi(exponent)).min(f64::from(self.max_delay_seconds));
        // 53 random bits make a uniform fraction in [0, 1].
        let fraction = (seed >> 11) as f64 / (1u64 << 53) as f64;
        std::time::Duration::from_secs_f64((bound * fraction).max(0.0))
    }
}

/// How long a job may keep failing to launch retryably (RunTask throttled, no capacity) before
/// its launch backoff gives up, when its type sets no `start_timeout`.
pub const DEFAULT_LAUNCH_DEADLINE_SECONDS: u32 = 3_600;

/// The delay before launch round `round + 1` after `round` rounds failed retryably: full jitter
/// in `[0, min(15 min, 30 s × 2^(round-1))]`, drawn from `seed` ([`jitter_seed`] of the job and
/// round). Scheduler's minute precision rounds it up to a whole minute.
pub fn relaunch_delay(round: u32, seed: u64) -> std::time::Duration {
    let bound = (30.0 * 2f64.powi(i32::try_from(round.saturating_sub(1).min(20)).unwrap_or(20))).min(900.0);
    let fraction = (seed >> 11) as f64 / (1u64 << 53) as f64;
    std::time::Duration::from_secs_f64(bound * fraction)
}

/// A stable 64-bit seed from a job id and an attempt (FNV-1a): the jitter of retry delays.
pub fn jitter_seed(job_id: &str, attempt: u32) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in job_id.bytes().chain(attempt.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The stack configuration document both handlers read at start-up from [`CONFIG_FILE`]: every job
/// type and how to launch it. Clusters and networks are listed once and referenced by index.
/// Unknown members are ignored, so a newer generator's document does not stop an older runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchTable {
    /// Format version ([`CONFIG_VERSION`]).
    pub version: u32,
    /// Cluster names or ARNs.
    pub clusters: Vec<String>,
    /// Distinct network settings.
    pub networks: Vec<Network>,
    /// Job types by name.
    pub job_types: BTreeMap<String, JobTypeEntry>,
    /// At most this many jobs of the whole project hold a slot at once, whatever their type (each
    /// job type's own [`JobTypeEntry::max_concurrency`] applies too). `None`: no project limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// The tags every task gets at RunTask (`tags`): the project's tags and [`PROJECT_TAG`], the
    /// same the stack's resources carry, so Fargate cost allocation by them works and StopTask's
    /// permission (conditioned on [`PROJECT_TAG`]) covers the project's own tasks only. Empty (a
    /// document from before tasks were tagged): RunTask gets no tags, which a stack of that time
    /// needs, since its roles may not tag (`ecs:TagResource`). At most 50, as for every resource.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The project's schedules by name: the job type each submits and its overlap policy
    /// ([`crate::schedule`]). A scheduled request names one of them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schedules: BTreeMap<String, crate::schedule::ScheduleEntry>,
}

impl Default for LaunchTable {
    fn default() -> Self {
        LaunchTable {
            version: CONFIG_VERSION,
            clusters: Vec::new(),
            networks: Vec::new(),
            job_types: BTreeMap::new(),
            max_concurrency: None,
            tags: BTreeMap::new(),
            schedules: BTreeMap::new(),
        }
    }
}

/// One concurrency limit that applies to a job: the counter item that counts its slots and the
/// most it may count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// The counter item's key ([`limit_item_key`]).
    pub counter: String,
    /// The limit.
    pub max: u32,
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
    /// The tags its tasks get ([`LaunchTable::tags`]).
    pub tags: &'a BTreeMap<String, String>,
}

/// A launch table that does not hold together.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContractError {
    /// The environment variable is missing.
    #[error("environment variable {0} is not set: the function must be deployed by a jobgen stack")]
    MissingEnv(&'static str),
    /// The document cannot be read.
    #[error(
        "cannot read the configuration document {path}: {why} (the function must carry the stack's jobgen config layer)"
    )]
    Unreadable {
        /// Where it was looked for.
        path: String,
        /// The I/O error.
        why: String,
    },
    /// The document is not the one this function was deployed with.
    #[error(
        "the configuration document's SHA-256 is {actual}, but {ENV_CONFIG_SHA256} says {expected}: the layer and the environment come from different deployments"
    )]
    HashMismatch {
        /// What the environment says.
        expected: String,
        /// What the document hashes to.
        actual: String,
    },
    /// The JSON does not parse.
    #[error("the configuration document is not a valid job-type table: {0}")]
    BadJson(String),
    /// A format version this runtime cannot read.
    #[error(
        "the configuration document has version {0}; this runtime reads version {CONFIG_VERSION}: deploy matching handler zips"
    )]
    UnsupportedVersion(u32),
    /// A concurrency limit of 0 would never start a job.
    #[error(
        "the configuration document: {0}: maxConcurrency is 0, which would never start a job (at least 1, or leave it out)"
    )]
    ZeroLimit(String),
    /// A retry policy or a timeout that cannot work.
    #[error("the configuration document: job type {job_type}: {why}")]
    BadLifecycle {
        /// The job type.
        job_type: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A schedule that cannot work.
    #[error("the configuration document: schedule {schedule}: {why}")]
    BadSchedule {
        /// The schedule.
        schedule: String,
        /// What is wrong.
        why: &'static str,
    },
    /// An index points outside its list.
    #[error("the configuration document: job type {job_type} refers to {what} {index}, which does not exist")]
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
        if table.version != CONFIG_VERSION {
            return Err(ContractError::UnsupportedVersion(table.version));
        }
        if table.max_concurrency == Some(0) {
            return Err(ContractError::ZeroLimit("the project".into()));
        }
        for (name, entry) in &table.job_types {
            if entry.max_concurrency == Some(0) {
                return Err(ContractError::ZeroLimit(format!("job type {name}")));
            }
            if let Some(why) = entry.lifecycle_problem() {
                return Err(ContractError::BadLifecycle { job_type: name.clone(), why });
            }
            if entry.cluster >= table.clusters.len() {
                return Err(ContractError::BadIndex { job_type: name.clone(), what: "cluster", index: entry.cluster });
            }
            if entry.network >= table.networks.len() {
                return Err(ContractError::BadIndex { job_type: name.clone(), what: "network", index: entry.network });
            }
        }
        for (name, entry) in &table.schedules {
            let bad = |why| Err(ContractError::BadSchedule { schedule: name.clone(), why });
            if !table.job_types.contains_key(&entry.job_type) {
                return bad("submits a job type the document does not have");
            }
            if entry.overlap == crate::schedule::Overlap::Queue && table.queue_key(&entry.job_type).is_none() {
                return bad("overlap queue needs a concurrency limit on its job type or the project to queue behind");
            }
        }
        Ok(table)
    }

    /// Serializes the table as the configuration document: pretty JSON ending in a newline, the
    /// same bytes for the same table (maps are ordered), so its hash identifies it.
    pub fn to_json(&self) -> String {
        // Serializing plain structs and maps with string keys cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The queue a job of `job_type` waits in: [`PROJECT_QUEUE`] when the project has a limit, else
    /// the job type's name when it has one; `None` when no limit applies (the job is launched at
    /// once, never QUEUED). A job type the table does not know is limited only by the project.
    pub fn queue_key<'a>(&self, job_type: &'a str) -> Option<&'a str> {
        if self.max_concurrency.is_some() {
            Some(PROJECT_QUEUE)
        } else if self.job_types.get(job_type).is_some_and(|e| e.max_concurrency.is_some()) {
            Some(job_type)
        } else {
            None
        }
    }

    /// The limits a job of `job_type` counts against: its type's, then the project's.
    pub fn limits(&self, job_type: &str) -> Vec<Limit> {
        let own = self.job_types.get(job_type).and_then(|e| e.max_concurrency);
        let own = own.map(|max| Limit { counter: limit_item_key(job_type), max });
        let project = self.max_concurrency.map(|max| Limit { counter: limit_item_key(PROJECT_QUEUE), max });
        own.into_iter().chain(project).collect()
    }

    /// Every queue this table can put a job in: [`PROJECT_QUEUE`] alone when the project has a
    /// limit, else each limited job type's name (what a reconciler admits from).
    pub fn queue_keys(&self) -> Vec<String> {
        if self.max_concurrency.is_some() {
            return vec![PROJECT_QUEUE.to_string()];
        }
        self.job_types.iter().filter(|(_, e)| e.max_concurrency.is_some()).map(|(n, _)| n.clone()).collect()
    }

    /// Looks up a job type; `None` when the stack has no such job type.
    pub fn resolve(&self, name: &str) -> Option<ResolvedJobType<'_>> {
        let (name, entry) = self.job_types.get_key_value(name)?;
        Some(ResolvedJobType {
            name,
            entry,
            cluster: self.clusters.get(entry.cluster)?,
            network: self.networks.get(entry.network)?,
            tags: &self.tags,
        })
    }
}

/// A one-job-type launch table (`report` on cluster `main`, container `app`, ARM64) for unit tests.
#[cfg(test)]
pub(crate) fn sample_table(capacity: Capacity) -> LaunchTable {
    LaunchTable {
        version: CONFIG_VERSION,
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
                max_concurrency: None,
                // As permissive as a request may be: tests of refusals narrow it.
                allow_command_override: true,
                allowed_environment: None,
                timeout_seconds: None,
                start_timeout_seconds: None,
                retry: None,
                progress: false,
            },
        )]),
        max_concurrency: None,
        tags: BTreeMap::from([
            (PROJECT_TAG.to_string(), "demo".to_string()),
            ("team".to_string(), "reports".to_string()),
        ]),
        schedules: BTreeMap::new(),
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
    fn timers_name_their_schedules_per_attempt_and_round_and_never_fire_early() {
        let retry = Timer::new(TimerKind::Retry, "01hzy3k7q8abcdefghjkmnpqrs", 2);
        assert_eq!(retry.schedule_name(), "retry-01hzy3k7q8abcdefghjkmnpqrs-2");
        let relaunch = Timer { round: 3, ..Timer::new(TimerKind::Relaunch, "01hzy3k7q8abcdefghjkmnpqrs", 10) };
        assert_eq!(relaunch.schedule_name(), "relaunch-01hzy3k7q8abcdefghjkmnpqrs-10-3");
        assert!(relaunch.schedule_name().len() <= 64);
        assert_eq!(Timer::from_payload(&retry.payload()), Some(retry.clone()));
        assert_eq!(Timer::from_payload(&serde_json::json!({"detail-type": "ECS Task State Change"})), None);

        let due = chrono::DateTime::parse_from_rfc3339("2026-12-01T17:05:00.001Z").unwrap().to_utc();
        assert_eq!(at_expression(due), "at(2026-12-01T17:06:00)");
        let whole = chrono::DateTime::parse_from_rfc3339("2026-12-01T17:05:00Z").unwrap().to_utc();
        assert_eq!(at_expression(whole), "at(2026-12-01T17:05:00)");
        assert!(parse_at_expression(&at_expression(due)).unwrap() >= due);
        assert_eq!(parse_at_expression("rate(5 minutes)"), None);
    }

    #[test]
    fn retry_delays_grow_to_their_cap_with_full_jitter() {
        let policy = RetryPolicy {
            attempts: 4,
            interval_seconds: 10,
            rate: 2.0,
            max_delay_seconds: 30,
            on: RetryOn::DEFAULT.to_vec(),
            spot_fallback: false,
        };
        assert!(policy.retries(1, RetryOn::SpotInterrupted) && policy.retries(3, RetryOn::FailedToStart));
        assert!(!policy.retries(4, RetryOn::SpotInterrupted), "the fourth attempt is the last");
        assert!(!policy.retries(1, RetryOn::NonZeroExit), "not a class it names");
        let max = |attempt| policy.delay(attempt, u64::MAX).as_secs_f64();
        assert!((max(1) - 10.0).abs() < 0.01 && (max(2) - 20.0).abs() < 0.01 && (max(3) - 30.0).abs() < 0.01);
        assert_eq!(policy.delay(2, 0), std::time::Duration::ZERO);
        let seeds: BTreeMap<u64, ()> = (1..=50).map(|a| (jitter_seed("job", a), ())).collect();
        assert_eq!(seeds.len(), 50, "a seed per attempt");
        assert_eq!(jitter_seed("job", 1), jitter_seed("job", 1));
        let delays: Vec<f64> =
            (0..200).map(|i| policy.delay(1, jitter_seed(&format!("j{i}"), 1)).as_secs_f64()).collect();
        assert!(delays.iter().all(|d| (0.0..=10.0).contains(d)));
        let mean = delays.iter().sum::<f64>() / delays.len() as f64;
        assert!((3.5..6.5).contains(&mean), "uniform over [0, 10]: mean {mean}");
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("A_1") && is_env_name("_x"));
        assert!(!is_env_name("") && !is_env_name("1A") && !is_env_name("A-B") && !is_env_name("Ä"));
    }

    #[test]
    fn client_token_is_stable_and_bounded() {
        let long = "x".repeat(100);
        assert_eq!(client_token(&long, 1).len(), 64);
        assert_eq!(client_token("abc", 2), client_token("abc", 2));
        assert_ne!(client_token("abc", 1), client_token("abc", 2));
    }

    #[test]
    fn launch_table_rejects_dangling_indexes_and_other_versions() {
        let bad = r#"{"version":1,"clusters":["main"],"networks":[],"jobTypes":{"t":{"taskDefinition":"f","cluster":0,"network":0,"capacity":"FARGATE","container":"main","architecture":"X86_64"}}}"#;
        assert!(matches!(LaunchTable::from_json(bad), Err(ContractError::BadIndex { what: "network", .. })));
        let future = bad.replace(r#""version":1"#, r#""version":2"#);
        assert_eq!(LaunchTable::from_json(&future), Err(ContractError::UnsupportedVersion(2)));
        let good = r#"{"version":1,"clusters":["main"],"networks":[{"subnets":["subnet-1"],"securityGroups":[],"assignPublicIp":false}],"jobTypes":{"t":{"taskDefinition":"f","cluster":0,"network":0,"capacity":"FARGATE_SPOT","container":"main","architecture":"ARM64","someLaterSetting":5}},"limits":{}}"#;
        let table = LaunchTable::from_json(good).expect("valid table");
        let resolved = table.resolve("t").expect("job type t");
        assert_eq!(resolved.cluster, "main");
        assert_eq!(resolved.entry.capacity, Capacity::FargateSpot);
        assert!(table.resolve("nope").is_none());
        assert_eq!(LaunchTable::from_json(&table.to_json()), Ok(table.clone()));
        assert_eq!(table.to_json(), table.clone().to_json(), "the document is deterministic");
        assert_eq!(config_sha256(b"").len(), 64);
    }

    #[test]
    fn concurrency_limits_are_optional_and_absent_when_unset() {
        // A document without the keys (every document before limits existed) parses as unlimited,
        // and an unlimited table writes no key, so its bytes and hash are what they were.
        let unlimited = sample_table(Capacity::Fargate);
        let text = unlimited.to_json();
        assert!(!text.contains("maxConcurrency"), "{text}");
        let parsed = LaunchTable::from_json(&text).expect("valid table");
        assert_eq!((parsed.max_concurrency, parsed.job_types["report"].max_concurrency), (None, None));

        let mut limited = unlimited.clone();
        limited.max_concurrency = Some(10);
        limited.job_types.get_mut("report").expect("report").max_concurrency = Some(2);
        let text = limited.to_json();
        assert!(text.contains(r#""maxConcurrency": 10"#) && text.contains(r#""maxConcurrency": 2"#), "{text}");
        assert_eq!(LaunchTable::from_json(&text), Ok(limited));
    }

    #[test]
    fn override_settings_default_to_refusing_commands_and_are_absent_when_default() {
        // A document without the members (every document before they existed) refuses commands
        // and accepts any environment name.
        let old = r#"{"version":1,"clusters":["main"],"networks":[{"subnets":["subnet-1"],"securityGroups":[],"assignPublicIp":false}],"jobTypes":{"t":{"taskDefinition":"f","cluster":0,"network":0,"capacity":"FARGATE","container":"main","architecture":"X86_64"}}}"#;
        let entry = &LaunchTable::from_json(old).expect("valid table").job_types["t"];
        assert_eq!((entry.allow_command_override, &entry.allowed_environment), (false, &None));

        let mut table = sample_table(Capacity::Fargate);
        let report = table.job_types.get_mut("report").expect("report");
        report.allow_command_override = false;
        let text = table.to_json();
        assert!(!text.contains("allowCommandOverride") && !text.contains("allowedEnvironment"), "{text}");

        let report = table.job_types.get_mut("report").expect("report");
        report.allow_command_override = true;
        report.allowed_environment = Some(vec!["INPUT".into()]);
        let text = table.to_json();
        assert!(text.contains(r#""allowCommandOverride": true"#), "{text}");
        assert!(text.contains(r#""allowedEnvironment": ["#), "{text}");
        assert_eq!(LaunchTable::from_json(&text), Ok(table));
    }

    #[test]
    fn tags_are_optional_and_reach_every_resolved_job_type() {
        let table = sample_table(Capacity::Fargate);
        let text = table.to_json();
        assert!(text.contains(r#""jobgen:project": "demo""#), "{text}");
        let parsed = LaunchTable::from_json(&text).expect("valid table");
        assert_eq!(parsed.resolve("report").expect("report").tags, &table.tags);
        // A document without tags (before tasks were tagged) parses, and writes none.
        let mut untagged = table.clone();
        untagged.tags.clear();
        let text = untagged.to_json();
        assert!(!text.contains("\"tags\""), "{text}");
        assert!(LaunchTable::from_json(&text).expect("valid table").resolve("report").expect("report").tags.is_empty());
    }

    #[test]
    fn shards_are_stable_and_spread_random_ids() {
        assert_eq!(shard_of("01m8sm8397mrpntj7r6ktp2xrk"), shard_of("01m8sm8397mrpntj7r6ktp2xrk"));
        let mut counts = [0u32; SHARDS as usize];
        for n in 0..4_000u32 {
            let id = format!("{:026x}", u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let shard: usize = shard_of(&id).parse().expect("a number");
            counts[shard] += 1;
        }
        // Every shard gets a fair share (1,000 expected each).
        assert!(counts.iter().all(|&c| (800..1_200).contains(&c)), "{counts:?}");
        assert_eq!(shards().collect::<Vec<_>>(), ["0", "1", "2", "3"]);
    }

    #[test]
    fn limit_items_and_queues_are_named_apart_from_jobs() {
        assert_eq!(limit_item_key("report"), "limit#report");
        assert_eq!(limit_item_key(PROJECT_QUEUE), "limit#*");
        assert_ne!(QUEUE_KEY_ATTR, QUEUE_ORDER_ATTR);
        assert!(![INDEX_BY_CREATED, INDEX_OPEN].contains(&INDEX_BY_QUEUE));
        assert_ne!(INDEX_BY_CREATED, INDEX_OPEN);
    }

    #[test]
    fn limits_are_optional_and_decide_the_queue() {
        // A document written before limits existed parses, and writes no limit keys back.
        let mut table = sample_table(Capacity::Fargate);
        let old = table.to_json();
        assert!(!old.contains("maxConcurrency"), "{old}");
        assert_eq!(LaunchTable::from_json(&old), Ok(table.clone()));
        assert_eq!((table.queue_key("report"), table.limits("report"), table.queue_keys()), (None, vec![], vec![]));

        table.job_types.get_mut("report").unwrap().max_concurrency = Some(5);
        let json = table.to_json();
        assert!(json.contains(r#""maxConcurrency": 5"#), "{json}");
        assert_eq!(LaunchTable::from_json(&json), Ok(table.clone()));
        assert_eq!(table.queue_key("report"), Some("report"));
        assert_eq!(table.limits("report"), [Limit { counter: "limit#report".into(), max: 5 }]);
        assert_eq!(table.queue_keys(), ["report"]);
        assert_eq!(table.queue_key("other"), None);

        table.max_concurrency = Some(8);
        assert_eq!(table.queue_key("report"), Some(PROJECT_QUEUE));
        assert_eq!(table.queue_key("other"), Some(PROJECT_QUEUE), "the project's limit covers every type");
        assert_eq!(
            table.limits("report"),
            [Limit { counter: "limit#report".into(), max: 5 }, Limit { counter: "limit#*".into(), max: 8 }]
        );
        assert_eq!(table.queue_keys(), [PROJECT_QUEUE]);
        let json = table.to_json();
        assert_eq!(LaunchTable::from_json(&json), Ok(table.clone()));

        table.max_concurrency = Some(0);
        assert!(matches!(LaunchTable::from_json(&table.to_json()), Err(ContractError::ZeroLimit(_))));
        assert_eq!(queue_order("2026-01-02T03:04:05.006Z", "abc"), "2026-01-02T03:04:05.006Z#abc");
        assert_eq!(limit_item_key(PROJECT_QUEUE), "limit#*");
    }
}
