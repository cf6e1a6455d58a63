//! The job record and its statuses: what a job is, the statuses it moves through, how an ECS
//! task's final state becomes a job outcome (status plus an actionable failure class), and the
//! attempt that ties a job to one ECS task.
//!
//! Which status may follow which is not written here but in one table beside this record,
//! [`crate::machine::TRANSITIONS`]: every write that moves a job (create-job, the launch service,
//! track, cancel) is a row of it, and the store derives its DynamoDB conditions from it. Read that
//! table to check a change to the lifecycle. In short: SUBMITTED → STARTING → RUNNING →
//! SUCCEEDED | FAILED, with LAUNCH_FAILED when RunTask fails (relaunched by a replay when
//! retryable) and CANCELLED from any non-terminal status. A job whose type or project has a
//! concurrency limit starts QUEUED and becomes SUBMITTED when it is admitted to a slot.
//!
//! The status is a pure function of the newest ECS event applied ([`status_for_event`]), so a job
//! ends in the same record whatever order its events arrive in. Attempts are first-class: the
//! record's per-attempt attributes describe the current [`Attempt`]; a later retry capability moves
//! them into `history` and bumps the attempt number, and events of an old attempt no longer match.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::contract::{
    Architecture, Capacity, RetryOn, STOP_CODE_TASK_LOST, STOP_REASON_START_TIMEOUT, STOP_REASON_TIMEOUT, attr,
};

/// The status of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Recorded and waiting for a concurrency slot (its type or project is at its limit); admitted
    /// in submission order as running jobs stop.
    Queued,
    /// Recorded (or admitted from the queue); a launcher holds the launch lease and is calling RunTask.
    Submitted,
    /// RunTask accepted the task (or ECS reports it provisioning/pending); not running yet.
    Starting,
    /// The task is running (or stopping after having run).
    Running,
    /// The task stopped and the main container exited 0.
    Succeeded,
    /// The task stopped any other way; see the failure class.
    Failed,
    /// RunTask refused or failed after the in-call retries; the reason is recorded. Not terminal: a
    /// replay with the same idempotency key (retryable failures) or a later retry capability relaunches.
    LaunchFailed,
    /// Cancelled by `jobgen cancel`; its task's later events record ECS facts, not status.
    Cancelled,
    /// The attempt failed in a way its type's retry policy retries; the next attempt starts when
    /// its backoff timer fires (`retryAt`). Not terminal; cancellable.
    Retrying,
    /// The task ran longer than its type's `timeout` and jobgen stopped it. Terminal; not retried.
    TimedOut,
    /// A status this version does not know (written by a newer version): tolerated when reading.
    #[serde(other)]
    Unknown,
}

impl JobStatus {
    /// Every status a record can be written with, in lifecycle order.
    pub const ALL: [JobStatus; 10] = [
        JobStatus::Queued,
        JobStatus::Submitted,
        JobStatus::Starting,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::LaunchFailed,
        JobStatus::Cancelled,
        JobStatus::Retrying,
        JobStatus::TimedOut,
    ];

    /// The name stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "QUEUED",
            JobStatus::Submitted => "SUBMITTED",
            JobStatus::Starting => "STARTING",
            JobStatus::Running => "RUNNING",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
            JobStatus::LaunchFailed => "LAUNCH_FAILED",
            JobStatus::Cancelled => "CANCELLED",
            JobStatus::Retrying => "RETRYING",
            JobStatus::TimedOut => "TIMED_OUT",
            JobStatus::Unknown => "UNKNOWN",
        }
    }

    /// Parses a stored name; unknown names become [`JobStatus::Unknown`].
    pub fn parse(name: &str) -> JobStatus {
        JobStatus::ALL.into_iter().find(|s| s.as_str() == name).unwrap_or(JobStatus::Unknown)
    }

    /// Whether the job is finished: its status never changes again except to a newer terminal
    /// outcome of the same attempt (a later STOPPED event with more detail). A unit test of
    /// [`crate::machine`] checks this against the transition table.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled | JobStatus::TimedOut)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a job failed, in terms a user can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureClass {
    /// The main container exited with a non-zero code: look at the job's logs.
    NonZeroExit,
    /// The container was killed for exceeding its memory (exit 137 or reason OutOfMemoryError): raise memory.
    OutOfMemory,
    /// The image could not be pulled (CannotPullContainerError): check the image name, registry access, NAT.
    ImagePullFailed,
    /// ECS could not start the task (stopCode TaskFailedToStart): networking, secrets, task definition.
    FailedToStart,
    /// Fargate Spot reclaimed the capacity (stopCode SpotInterruption or TerminationNotice): retry.
    SpotInterrupted,
    /// Someone called StopTask (stopCode UserInitiated).
    StoppedByUser,
    /// jobgen stopped the task: it ran longer than its type's `timeout`.
    TimedOut,
    /// jobgen stopped the task: it was not RUNNING within its type's `start_timeout` (image pull,
    /// capacity, ENI or secrets taking too long).
    StartTimeout,
    /// ECS no longer knows the task and its STOPPED event never arrived: the reconciler ended the
    /// attempt (its outcome is unknown; the job's logs may tell).
    TaskLost,
    /// Anything else (or a class written by a newer version).
    #[serde(other)]
    Unknown,
}

impl FailureClass {
    /// The name stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::NonZeroExit => "NON_ZERO_EXIT",
            FailureClass::OutOfMemory => "OUT_OF_MEMORY",
            FailureClass::ImagePullFailed => "IMAGE_PULL_FAILED",
            FailureClass::FailedToStart => "FAILED_TO_START",
            FailureClass::SpotInterrupted => "SPOT_INTERRUPTED",
            FailureClass::StoppedByUser => "STOPPED_BY_USER",
            FailureClass::TimedOut => "TIMED_OUT",
            FailureClass::StartTimeout => "START_TIMEOUT",
            FailureClass::TaskLost => "TASK_LOST",
            FailureClass::Unknown => "UNKNOWN",
        }
    }
}

impl FailureClass {
    /// What the class means and what to do about it, in a sentence (`jobgen status`, the dashboard).
    pub fn explanation(self) -> &'static str {
        match self {
            FailureClass::NonZeroExit => "the main container exited with a non-zero code: see `jobgen logs`",
            FailureClass::OutOfMemory => {
                "the container was killed for using more memory than it has: raise the job type's memory"
            }
            FailureClass::ImagePullFailed => {
                "the image could not be pulled: check the image name, the registry's access and the network's route out"
            }
            FailureClass::FailedToStart => {
                "ECS could not start the task: check its network, secrets and task definition (stoppedReason says which)"
            }
            FailureClass::SpotInterrupted => {
                "Fargate Spot took the capacity back: a retry (or spot_fallback) runs it again"
            }
            FailureClass::StoppedByUser => "someone stopped the task (StopTask)",
            FailureClass::TimedOut => "it ran longer than its job type's timeout, so jobgen stopped it",
            FailureClass::StartTimeout => {
                "it was not running within its job type's start_timeout (image pull, capacity, network or secrets were too slow)"
            }
            FailureClass::TaskLost => {
                "ECS no longer knows the task and its last event never arrived: its outcome is unknown (`jobgen logs` may tell)"
            }
            FailureClass::Unknown => "a cause jobgen does not recognise: see stopCode and stoppedReason",
        }
    }

    /// The retry policy's name for this class (`retry.on`); `None` for the classes no policy
    /// retries (a stop someone asked for, a timeout, an unknown cause).
    pub fn retry_on(self) -> Option<RetryOn> {
        match self {
            FailureClass::NonZeroExit => Some(RetryOn::NonZeroExit),
            FailureClass::OutOfMemory => Some(RetryOn::OutOfMemory),
            FailureClass::ImagePullFailed => Some(RetryOn::ImagePullFailed),
            FailureClass::FailedToStart => Some(RetryOn::FailedToStart),
            FailureClass::SpotInterrupted => Some(RetryOn::SpotInterrupted),
            FailureClass::StartTimeout => Some(RetryOn::StartTimeout),
            FailureClass::StoppedByUser | FailureClass::TimedOut | FailureClass::TaskLost | FailureClass::Unknown => {
                None
            }
        }
    }
}

/// Kind of a launch failure: decides the HTTP status and whether a relaunch may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LaunchErrorKind {
    /// ECS throttled RunTask (HTTP 429 to the caller).
    Throttled,
    /// RunTask answered with `failures[]`: capacity unavailable, RESOURCE:*, AGENT (HTTP 503).
    Capacity,
    /// ECS server error, timeout or connection failure (HTTP 503).
    Unavailable,
    /// ECS rejected the request: task definition, cluster, network or permissions are wrong (HTTP 500;
    /// a deployment problem, not the caller's).
    Rejected,
    /// A kind this version does not know.
    #[serde(other)]
    Unknown,
}

impl LaunchErrorKind {
    /// Whether trying again later may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, LaunchErrorKind::Throttled | LaunchErrorKind::Capacity | LaunchErrorKind::Unavailable)
    }
}

/// RFC 3339 UTC with exactly three fractional digits, so stored timestamps sort as strings.
pub fn format_ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Serde for a timestamp stored as [`format_ts`] text.
pub mod ts {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as RFC 3339 with milliseconds.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_ts(t))
    }

    /// Parses any RFC 3339 timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text).map(|t| t.with_timezone(&Utc)).map_err(serde::de::Error::custom)
    }
}

/// Serde for an optional timestamp stored as [`format_ts`] text.
pub mod ts_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as RFC 3339 with milliseconds (callers skip `None`).
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::format_ts(t)),
            None => s.serialize_none(),
        }
    }

    /// Parses any RFC 3339 timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| DateTime::parse_from_rfc3339(&t).map(|t| t.with_timezone(&Utc)).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// One attempt at running a job: one RunTask and the ECS task it started.
///
/// Stored flattened at the top level of the record for the current attempt (so the tracker updates
/// plain attributes), and as a map inside `history` for earlier attempts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// The attempt number, starting at 1; part of the task group and the RunTask client token.
    #[serde(rename = "attempt")]
    pub number: u32,
    /// The ECS task ARN, once RunTask returned it or an event named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// The cluster the task runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    /// When RunTask accepted the task.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub launched_at: Option<DateTime<Utc>>,
    /// Why the launch failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_error: Option<String>,
    /// What kind of launch failure it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_error_kind: Option<LaunchErrorKind>,
    /// Whether relaunching may help.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_retryable: Option<bool>,
    /// RunTask calls made in the failed launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_tries: Option<u32>,
    /// ECS `lastStatus` of the newest applied event (PROVISIONING, PENDING, RUNNING, STOPPED, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_last_status: Option<String>,
    /// ECS `desiredStatus` of the newest applied event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_desired_status: Option<String>,
    /// `detail.version` of the newest applied event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_version: Option<i64>,
    /// Task creation time.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub task_created_at: Option<DateTime<Utc>>,
    /// Image pull start.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub pull_started_at: Option<DateTime<Utc>>,
    /// Image pull end.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub pull_stopped_at: Option<DateTime<Utc>>,
    /// The task started running.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub started_at: Option<DateTime<Utc>>,
    /// The task began stopping.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub stopping_at: Option<DateTime<Utc>>,
    /// The task stopped.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub stopped_at: Option<DateTime<Utc>>,
    /// Milliseconds from task creation to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<i64>,
    /// Milliseconds from start to stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_ms: Option<i64>,
    /// The main container's exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The main container's reason (e.g. `OutOfMemoryError: Container killed due to memory usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_reason: Option<String>,
    /// ECS stopCode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    /// ECS stoppedReason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    /// Failure class of a failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_class: Option<FailureClass>,
    /// Task cpu units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    /// Task memory in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    /// On-demand or Spot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    /// CPU architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,
    /// Estimated Fargate cost in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The capacity this attempt was launched on when it is not the job type's own (a retry's
    /// Spot fallback to on-demand FARGATE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_capacity: Option<Capacity>,
    /// When the next attempt starts, while the job is RETRYING.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub retry_at: Option<DateTime<Utc>>,
    /// Launch rounds of this attempt that failed retryably (RunTask throttled, no capacity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_round: Option<u32>,
    /// When the launch is tried again (LAUNCH_FAILED while its launch backoff runs); absent when no
    /// relaunch is coming.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub relaunch_at: Option<DateTime<Utc>>,
}

impl Attempt {
    /// The record attributes of the current attempt besides its number: what starting the next
    /// attempt removes from the top level of the record (after copying the attempt into `history`).
    /// A unit test checks the list against the fields.
    pub const ATTRIBUTES: [&'static str; 32] = [
        attr::TASK_ARN,
        attr::CLUSTER_ARN,
        attr::LAUNCHED_AT,
        attr::LAUNCH_ERROR,
        attr::LAUNCH_ERROR_KIND,
        attr::LAUNCH_RETRYABLE,
        attr::LAUNCH_TRIES,
        attr::ECS_LAST_STATUS,
        attr::ECS_DESIRED_STATUS,
        attr::ECS_VERSION,
        attr::TASK_CREATED_AT,
        attr::PULL_STARTED_AT,
        attr::PULL_STOPPED_AT,
        attr::STARTED_AT,
        attr::STOPPING_AT,
        attr::STOPPED_AT,
        attr::WAIT_MS,
        attr::RUN_MS,
        attr::EXIT_CODE,
        attr::CONTAINER_REASON,
        attr::STOP_CODE,
        attr::STOPPED_REASON,
        attr::FAILURE_CLASS,
        attr::CPU,
        attr::MEMORY,
        attr::CAPACITY,
        attr::ARCHITECTURE,
        attr::COST_USD,
        attr::REQUESTED_CAPACITY,
        attr::RETRY_AT,
        attr::LAUNCH_ROUND,
        attr::RELAUNCH_AT,
    ];
}

/// A job: one record in the jobs table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// The job id (partition key).
    pub job_id: String,
    /// The job type (a key of the launch table).
    pub job_type: String,
    /// The status.
    pub status: JobStatus,
    /// When the job was recorded.
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    /// Last write.
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
    /// The caller's idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Hash of the request parameters (see `create_job::fingerprint`).
    pub fingerprint: String,
    /// The user's environment variables for the main container.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// Command override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// When the job was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Launch lease expiry (epoch ms) while a create-job call is launching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
    /// The current attempt.
    #[serde(flatten)]
    pub attempt: Attempt,
    /// Earlier attempts, oldest first (written by the future retry capability).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Attempt>,
    /// The queue a limited job waits in (`contract::QUEUE_KEY_ATTR`), while it is QUEUED and,
    /// once admitted, until its launch is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_key: Option<String>,
    /// Its place in that queue (`contract::queue_order`), alongside `queue_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_order: Option<String>,
    /// The attempt that holds a concurrency slot, from admission until that attempt is over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u32>,
    /// TTL (epoch seconds), set on terminal records when retention is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The schedule this job is a run of (`contract::attr::SCHEDULE`), when a schedule submitted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
}

impl Job {
    /// A freshly submitted job at attempt 1, holding the launch lease until `lease_until_ms`.
    #[allow(clippy::too_many_arguments)]
    pub fn submitted(
        job_id: String,
        job_type: String,
        idempotency_key: Option<String>,
        fingerprint: String,
        environment: BTreeMap<String, String>,
        command: Option<Vec<String>>,
        metadata: Option<serde_json::Map<String, serde_json::Value>>,
        now: DateTime<Utc>,
        lease_until_ms: i64,
    ) -> Job {
        Job {
            job_id,
            job_type,
            status: JobStatus::Submitted,
            created_at: now,
            updated_at: now,
            idempotency_key,
            fingerprint,
            environment,
            command,
            metadata,
            cancelled_at: None,
            lease_until: Some(lease_until_ms),
            attempt: Attempt { number: 1, ..Attempt::default() },
            history: Vec::new(),
            queue_key: None,
            queue_order: None,
            slot: None,
            expires_at: None,
            schedule: None,
        }
    }

    /// This job as it is recorded when a concurrency limit applies to it: QUEUED in `queue_key`,
    /// at its submission order, with no launch lease (admission sets one).
    pub fn queued(mut self, queue_key: &str) -> Job {
        self.status = JobStatus::Queued;
        self.lease_until = None;
        self.queue_key = Some(queue_key.to_string());
        self.queue_order = Some(crate::contract::queue_order(&format_ts(&self.created_at), &self.job_id));
        self
    }

    /// The record as JSON with the table's attribute names.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// The ECS task stop codes jobgen distinguishes (ECS `TaskStopCode`); anything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCode {
    /// `TaskFailedToStart`.
    TaskFailedToStart,
    /// `EssentialContainerExited`.
    EssentialContainerExited,
    /// `UserInitiated`: StopTask.
    UserInitiated,
    /// `ServiceSchedulerInitiated`.
    ServiceSchedulerInitiated,
    /// `SpotInterruption`.
    SpotInterruption,
    /// `TerminationNotice`: the Spot two-minute warning / capacity reclaim.
    TerminationNotice,
    /// Any other (or a future) code.
    Other,
}

impl StopCode {
    /// Classifies the event's `stopCode` text.
    pub fn parse(code: &str) -> StopCode {
        match code {
            "TaskFailedToStart" => StopCode::TaskFailedToStart,
            "EssentialContainerExited" => StopCode::EssentialContainerExited,
            "UserInitiated" => StopCode::UserInitiated,
            "ServiceSchedulerInitiated" => StopCode::ServiceSchedulerInitiated,
            "SpotInterruption" => StopCode::SpotInterruption,
            "TerminationNotice" => StopCode::TerminationNotice,
            _ => StopCode::Other,
        }
    }
}

/// What the tracker knows about a stopped task, for [`outcome`].
#[derive(Debug, Clone, Copy, Default)]
pub struct StoppedTask<'a> {
    /// ECS stopCode.
    pub stop_code: Option<&'a str>,
    /// ECS stoppedReason.
    pub stopped_reason: Option<&'a str>,
    /// The main container's exit code.
    pub exit_code: Option<i32>,
    /// The main container's reason.
    pub container_reason: Option<&'a str>,
    /// Whether the task ever reached RUNNING.
    pub started: bool,
}

/// Exit code of a container killed by SIGKILL: the kernel OOM killer's signature.
const EXIT_SIGKILL: i32 = 137;

/// The job outcome of a stopped task: SUCCEEDED, or FAILED with a failure class.
///
/// Order matters: a stop someone asked for (Spot reclaim, StopTask) explains a SIGTERM/SIGKILL
/// exit better than the exit code does, so stop codes are checked before exit codes.
pub fn outcome(task: &StoppedTask<'_>) -> (JobStatus, Option<FailureClass>) {
    let code = task.stop_code.map(StopCode::parse);
    let mentions = |needle: &str| {
        task.container_reason.is_some_and(|r| r.contains(needle))
            || task.stopped_reason.is_some_and(|r| r.contains(needle))
    };
    let failed = |class| (JobStatus::Failed, Some(class));
    if task.stop_code == Some(STOP_CODE_TASK_LOST) {
        return failed(FailureClass::TaskLost);
    }
    match code {
        Some(StopCode::SpotInterruption | StopCode::TerminationNotice) => return failed(FailureClass::SpotInterrupted),
        // jobgen's own timers stop with reasons of their own (contract::STOP_REASON_*).
        Some(StopCode::UserInitiated) if task.stopped_reason.is_some_and(|r| r.starts_with(STOP_REASON_TIMEOUT)) => {
            return (JobStatus::TimedOut, Some(FailureClass::TimedOut));
        }
        Some(StopCode::UserInitiated)
            if task.stopped_reason.is_some_and(|r| r.starts_with(STOP_REASON_START_TIMEOUT)) =>
        {
            return failed(FailureClass::StartTimeout);
        }
        Some(StopCode::UserInitiated) => return failed(FailureClass::StoppedByUser),
        _ => {}
    }
    if mentions("CannotPullContainerError") {
        return failed(FailureClass::ImagePullFailed);
    }
    if code == Some(StopCode::TaskFailedToStart) {
        return failed(FailureClass::FailedToStart);
    }
    if mentions("OutOfMemoryError") || task.exit_code == Some(EXIT_SIGKILL) {
        return failed(FailureClass::OutOfMemory);
    }
    match task.exit_code {
        Some(0) => (JobStatus::Succeeded, None),
        Some(_) => failed(FailureClass::NonZeroExit),
        None if !task.started => failed(FailureClass::FailedToStart),
        None => failed(FailureClass::Unknown),
    }
}

/// The job status for an ECS task status (the event's `lastStatus`).
///
/// Before STOPPED the status only says whether the task has started: PROVISIONING, PENDING and
/// ACTIVATING are STARTING; RUNNING, and DEACTIVATING/STOPPING/DEPROVISIONING after a start, are
/// RUNNING. Unknown future statuses fall in the same two buckets. STOPPED uses [`outcome`].
pub fn status_for_event(last_status: &str, stopped: &StoppedTask<'_>) -> (JobStatus, Option<FailureClass>) {
    if last_status == "STOPPED" {
        return outcome(stopped);
    }
    if stopped.started || last_status == "RUNNING" { (JobStatus::Running, None) } else { (JobStatus::Starting, None) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract;

    fn stopped<'a>(stop_code: &'a str, exit_code: Option<i32>, reason: Option<&'a str>) -> StoppedTask<'a> {
        StoppedTask {
            stop_code: Some(stop_code),
            stopped_reason: Some("Essential container in task exited"),
            exit_code,
            container_reason: reason,
            started: true,
        }
    }

    #[test]
    fn classifies_every_documented_outcome() {
        let ok = stopped("EssentialContainerExited", Some(0), None);
        assert_eq!(outcome(&ok), (JobStatus::Succeeded, None));
        let exit3 = stopped("EssentialContainerExited", Some(3), None);
        assert_eq!(outcome(&exit3), (JobStatus::Failed, Some(FailureClass::NonZeroExit)));
        let oom = stopped(
            "EssentialContainerExited",
            Some(137),
            Some("OutOfMemoryError: Container killed due to memory usage"),
        );
        assert_eq!(outcome(&oom).1, Some(FailureClass::OutOfMemory));
        let oom_reason_only = stopped("EssentialContainerExited", None, Some("OutOfMemoryError: Container killed"));
        assert_eq!(outcome(&oom_reason_only).1, Some(FailureClass::OutOfMemory));
        let killed = stopped("EssentialContainerExited", Some(137), None);
        assert_eq!(outcome(&killed).1, Some(FailureClass::OutOfMemory));
        let pull = StoppedTask {
            stop_code: Some("TaskFailedToStart"),
            stopped_reason: Some("CannotPullContainerError: pull image manifest has been retried 5 time(s)"),
            started: false,
            ..StoppedTask::default()
        };
        assert_eq!(outcome(&pull).1, Some(FailureClass::ImagePullFailed));
        let no_containers = StoppedTask {
            stop_code: Some("TaskFailedToStart"),
            stopped_reason: Some("ResourceInitializationError: unable to pull secrets"),
            ..StoppedTask::default()
        };
        assert_eq!(outcome(&no_containers).1, Some(FailureClass::FailedToStart));
        // A Spot reclaim or a StopTask explains the SIGTERM/SIGKILL exit code better than the code does.
        assert_eq!(outcome(&stopped("SpotInterruption", Some(137), None)).1, Some(FailureClass::SpotInterrupted));
        assert_eq!(outcome(&stopped("TerminationNotice", Some(0), None)).1, Some(FailureClass::SpotInterrupted));
        assert_eq!(outcome(&stopped("UserInitiated", Some(0), None)).1, Some(FailureClass::StoppedByUser));
        assert_eq!(outcome(&stopped("SomeFutureCode", None, None)).1, Some(FailureClass::Unknown));
        assert_eq!(outcome(&stopped("SomeFutureCode", Some(0), None)).0, JobStatus::Succeeded);
    }

    #[test]
    fn status_follows_ecs_status_and_tolerates_unknown_values() {
        let not_started = StoppedTask::default();
        let started = StoppedTask { started: true, ..StoppedTask::default() };
        assert_eq!(status_for_event("PROVISIONING", &not_started).0, JobStatus::Starting);
        assert_eq!(status_for_event("PENDING", &not_started).0, JobStatus::Starting);
        assert_eq!(status_for_event("RUNNING", &not_started).0, JobStatus::Running);
        assert_eq!(status_for_event("DEACTIVATING", &started).0, JobStatus::Running);
        assert_eq!(status_for_event("DEPROVISIONING", &not_started).0, JobStatus::Starting);
        assert_eq!(status_for_event("SOME_NEW_STATUS", &started).0, JobStatus::Running);
        assert_eq!(status_for_event("STOPPED", &StoppedTask { exit_code: Some(0), ..started }).0, JobStatus::Succeeded);
    }

    #[test]
    fn jobgen_s_own_stops_are_told_from_anyone_else_s() {
        let stop = |reason| StoppedTask {
            stop_code: Some("UserInitiated"),
            stopped_reason: Some(reason),
            exit_code: Some(143),
            started: true,
            ..StoppedTask::default()
        };
        let timeout = format!("{STOP_REASON_TIMEOUT} after 600 s");
        assert_eq!(outcome(&stop(&timeout)), (JobStatus::TimedOut, Some(FailureClass::TimedOut)));
        let start = format!("{STOP_REASON_START_TIMEOUT}: not RUNNING 60 s after launch");
        assert_eq!(outcome(&stop(&start)), (JobStatus::Failed, Some(FailureClass::StartTimeout)));
        assert_eq!(outcome(&stop("jobgen: job cancelled")), (JobStatus::Failed, Some(FailureClass::StoppedByUser)));
        assert_eq!(outcome(&stop("an operator")), (JobStatus::Failed, Some(FailureClass::StoppedByUser)));
        // The same reason without a StopTask (a container that exited) is not a timeout.
        let exited = StoppedTask { stop_code: Some("EssentialContainerExited"), ..stop(&timeout) };
        assert_eq!(outcome(&exited), (JobStatus::Failed, Some(FailureClass::NonZeroExit)));
        // Timeouts and stops by a person are never retried; infrastructure failures can be.
        assert_eq!(FailureClass::TimedOut.retry_on(), None);
        assert_eq!(FailureClass::StoppedByUser.retry_on(), None);
        assert_eq!(FailureClass::SpotInterrupted.retry_on(), Some(RetryOn::SpotInterrupted));
    }

    #[test]
    fn terminal_statuses_and_names() {
        let terminal: Vec<_> = JobStatus::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, [JobStatus::Succeeded, JobStatus::Failed, JobStatus::Cancelled, JobStatus::TimedOut]);
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), s);
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::Value::from(s.as_str())));
        }
        assert_eq!(JobStatus::parse("PAUSED"), JobStatus::Unknown);
        let unknown: JobStatus = serde_json::from_str("\"PAUSED\"").unwrap_or(JobStatus::Submitted);
        assert_eq!(unknown, JobStatus::Unknown);
        let class: FailureClass = serde_json::from_str("\"GPU_MELTED\"").unwrap_or(FailureClass::NonZeroExit);
        assert_eq!(class, FailureClass::Unknown);
        assert!(LaunchErrorKind::Throttled.is_retryable() && !LaunchErrorKind::Rejected.is_retryable());
    }

    fn full_job() -> Job {
        let now =
            DateTime::parse_from_rfc3339("2026-01-02T03:04:05.006Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        let attempt = Attempt {
            number: 2,
            task_arn: Some("t".into()),
            cluster_arn: Some("c".into()),
            launched_at: Some(now),
            launch_error: Some("e".into()),
            launch_error_kind: Some(LaunchErrorKind::Capacity),
            launch_retryable: Some(true),
            launch_tries: Some(3),
            ecs_last_status: Some("STOPPED".into()),
            ecs_desired_status: Some("STOPPED".into()),
            ecs_version: Some(4),
            task_created_at: Some(now),
            pull_started_at: Some(now),
            pull_stopped_at: Some(now),
            started_at: Some(now),
            stopping_at: Some(now),
            stopped_at: Some(now),
            wait_ms: Some(1),
            run_ms: Some(2),
            exit_code: Some(1),
            container_reason: Some("r".into()),
            stop_code: Some("EssentialContainerExited".into()),
            stopped_reason: Some("s".into()),
            failure_class: Some(FailureClass::NonZeroExit),
            cpu: Some(256),
            memory: Some(512),
            capacity: Some(Capacity::Fargate),
            architecture: Some(Architecture::Arm64),
            cost_usd: Some(0.5),
            requested_capacity: Some(Capacity::Fargate),
            retry_at: Some(now),
            launch_round: Some(2),
            relaunch_at: Some(now),
        };
        Job {
            job_id: "j".into(),
            job_type: "t".into(),
            status: JobStatus::Failed,
            created_at: now,
            updated_at: now,
            idempotency_key: Some("k".into()),
            fingerprint: "f".into(),
            environment: BTreeMap::from([("A".into(), "1".into())]),
            command: Some(vec!["x".into()]),
            metadata: Some(serde_json::Map::from_iter([("m".to_string(), serde_json::Value::from(1))])),
            cancelled_at: Some(now),
            lease_until: Some(5),
            attempt: attempt.clone(),
            history: vec![attempt],
            queue_key: Some("q".into()),
            queue_order: Some("o".into()),
            slot: Some(2),
            expires_at: Some(6),
            schedule: Some("nightly".into()),
        }
    }

    #[test]
    fn the_attempt_attribute_list_is_every_attempt_field() {
        let json = serde_json::to_value(&full_job().attempt).unwrap();
        let mut fields: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        fields.retain(|k| *k != attr::ATTEMPT);
        fields.sort_unstable();
        let mut listed = Attempt::ATTRIBUTES.to_vec();
        listed.sort_unstable();
        assert_eq!(fields, listed);
    }

    #[test]
    fn record_attribute_names_are_the_contract_names() {
        let json = full_job().to_json();
        let keys: std::collections::BTreeSet<&str> =
            json.as_object().into_iter().flatten().map(|(k, _)| k.as_str()).collect();
        let mut expected = std::collections::BTreeSet::from([
            contract::KEY_ATTR,
            contract::STATUS_ATTR,
            contract::JOB_TYPE_ATTR,
            contract::CREATED_AT_ATTR,
            contract::TTL_ATTR,
            contract::QUEUE_KEY_ATTR,
            contract::QUEUE_ORDER_ATTR,
        ]);
        expected.extend([
            attr::UPDATED_AT,
            attr::IDEMPOTENCY_KEY,
            attr::FINGERPRINT,
            attr::ENVIRONMENT,
            attr::COMMAND,
            attr::METADATA,
            attr::LEASE_UNTIL,
            attr::CANCELLED_AT,
            attr::HISTORY,
            attr::ATTEMPT,
            attr::TASK_ARN,
            attr::CLUSTER_ARN,
            attr::LAUNCHED_AT,
            attr::LAUNCH_ERROR,
            attr::LAUNCH_ERROR_KIND,
            attr::LAUNCH_RETRYABLE,
            attr::LAUNCH_TRIES,
            attr::ECS_LAST_STATUS,
            attr::ECS_DESIRED_STATUS,
            attr::ECS_VERSION,
            attr::TASK_CREATED_AT,
            attr::PULL_STARTED_AT,
            attr::PULL_STOPPED_AT,
            attr::STARTED_AT,
            attr::STOPPING_AT,
            attr::STOPPED_AT,
            attr::WAIT_MS,
            attr::RUN_MS,
            attr::EXIT_CODE,
            attr::CONTAINER_REASON,
            attr::STOP_CODE,
            attr::STOPPED_REASON,
            attr::FAILURE_CLASS,
            attr::CPU,
            attr::MEMORY,
            attr::CAPACITY,
            attr::ARCHITECTURE,
            attr::COST_USD,
            attr::REQUESTED_CAPACITY,
            attr::RETRY_AT,
            attr::LAUNCH_ROUND,
            attr::RELAUNCH_AT,
            attr::SLOT,
            attr::SCHEDULE,
        ]);
        assert_eq!(keys, expected);
        assert_eq!(json[contract::CREATED_AT_ATTR], "2026-01-02T03:04:05.006Z");
        let back: Job = serde_json::from_value(json).unwrap_or_else(|_| Job { job_id: String::new(), ..full_job() });
        assert_eq!(back, full_job());
    }
}
