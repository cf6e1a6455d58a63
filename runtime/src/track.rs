//! The track handler: turns one "ECS Task State Change" event into one conditional write of the
//! job record.
//!
//! [`plan`] is pure: it parses the event, drops what is not ours (other detail types, other
//! projects' `startedBy`, groups that are not `jobgen:<job id>:<attempt>`), and computes the
//! complete new state of the attempt from this event alone — job status, ECS status, timestamps,
//! durations, exit code, failure class, cost: an [`EventUpdate`], the input of the tracker's three
//! rows of the transition table ([`crate::machine`]). [`Tracker`] writes it with
//! [`crate::store::Store::apply_event`], whose condition on `detail.version` makes duplicates and
//! stale events no-ops. Because the record always mirrors the newest event, every delivery order
//! ends in the same record.
//!
//! For a job holding a concurrency slot, the write is followed by the slot's release once the
//! attempt is over (its STOPPED event), and by the admission of the next queued jobs, both through
//! the launch service ([`crate::service::LaunchService::release_and_admit`]). The record the write
//! returns decides it — the new record, or, for a duplicate or stale event, the record DynamoDB
//! returned with the failed condition — so a redelivery repairs a crash between the write and the
//! release. A release that fails is an error (the event is retried); a release is per job, so a
//! retry never gives a slot back twice.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::RuntimeConfig;
use crate::contract::{self, Architecture, Capacity, JobTypeEntry, attr};
use crate::event::{self, TaskDetail};
use crate::fargate;
use crate::job::{JobStatus, StoppedTask, format_ts, status_for_event};
pub use crate::machine::EventUpdate;

/// Why an event was skipped without error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Not a task state change (the rule should not have sent it).
    OtherDetailType(String),
    /// A task of another project or not launched by jobgen.
    ForeignStartedBy(Option<String>),
    /// A task whose group is not a jobgen group.
    ForeignGroup(Option<String>),
    /// The event cannot be read; retrying cannot fix it.
    Malformed(String),
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::OtherDetailType(t) => write!(f, "not a task state change: detail-type {t:?}"),
            Skip::ForeignStartedBy(s) => write!(f, "task not started by this project: startedBy {s:?}"),
            Skip::ForeignGroup(g) => write!(f, "task group is not a jobgen group: {g:?}"),
            Skip::Malformed(why) => write!(f, "malformed event: {why}"),
        }
    }
}

/// The launch-table entry a task definition ARN belongs to: `family:revision` entries match the
/// ARN's suffix, bare families match any revision, full ARNs match exactly.
fn entry_for_task_definition<'a>(config: &'a RuntimeConfig, arn: Option<&str>) -> Option<&'a JobTypeEntry> {
    let arn = arn?;
    let family_rev = arn.rsplit_once('/').map_or(arn, |(_, rest)| rest);
    let family = family_rev.split(':').next().unwrap_or(family_rev);
    config.launch_table.job_types.values().find(|e| {
        let td = e.task_definition.as_str();
        td == arn || td == family_rev || td == family
    })
}

/// The job type an event's task runs: the one its overrides name (`JOBGEN_JOB_TYPE`, set by every
/// jobgen RunTask), else the launch-table entry of its task definition, else "" (no retry policy).
fn job_type_of<'a>(config: &'a RuntimeConfig, d: &'a TaskDetail, entry: Option<&JobTypeEntry>) -> &'a str {
    d.override_env(contract::TASK_ENV_JOB_TYPE)
        .or_else(|| {
            let entry = entry?;
            config.launch_table.job_types.iter().find(|(_, e)| std::ptr::eq(*e, entry)).map(|(n, _)| n.as_str())
        })
        .unwrap_or_default()
}

fn parse_architecture(value: &str) -> Option<Architecture> {
    match value.to_ascii_lowercase().as_str() {
        "x86_64" | "x86-64" | "amd64" => Some(Architecture::X86_64),
        "arm64" | "aarch64" => Some(Architecture::Arm64),
        _ => None,
    }
}

fn ms_between(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<i64> {
    Some((to? - from?).num_milliseconds().max(0))
}

fn json<T: serde::Serialize>(value: Option<T>) -> Option<Value> {
    value.and_then(|v| serde_json::to_value(v).ok())
}

/// Computes the write for one event, or why it is skipped.
pub fn plan(event: Value, config: &RuntimeConfig, now: DateTime<Utc>) -> Result<EventUpdate, Skip> {
    let envelope = event::parse_envelope(event).map_err(|e| Skip::Malformed(e.to_string()))?;
    if envelope.detail_type != event::DETAIL_TYPE {
        return Err(Skip::OtherDetailType(envelope.detail_type));
    }
    let d: TaskDetail = event::parse_detail(envelope.detail).map_err(|e| Skip::Malformed(e.to_string()))?;
    if d.started_by.as_deref() != Some(config.started_by().as_str()) {
        return Err(Skip::ForeignStartedBy(d.started_by));
    }
    let Some((job_id, attempt)) = d.group.as_deref().and_then(contract::parse_task_group) else {
        return Err(Skip::ForeignGroup(d.group));
    };
    let task_arn = d.task_arn.clone().ok_or_else(|| Skip::Malformed("detail.taskArn is missing".into()))?;
    let version = d.version.ok_or_else(|| Skip::Malformed("detail.version is missing".into()))?;
    let last_status = d.last_status.clone().ok_or_else(|| Skip::Malformed("detail.lastStatus is missing".into()))?;

    let entry = entry_for_task_definition(config, d.task_definition_arn.as_deref());
    // The main container: named by the launch table; else the one carrying jobgen's overrides; else
    // the only container.
    let main = entry
        .map(|e| e.container.as_str())
        .or_else(|| d.container_with_override_env(contract::TASK_ENV_JOB_ID))
        .and_then(|name| d.container(name))
        .or_else(|| if d.containers.len() == 1 { d.containers.first() } else { None });
    let exit_code = main.and_then(|c| c.exit_code);
    let container_reason = main.and_then(|c| c.reason.clone());
    let stopped = StoppedTask {
        stop_code: d.stop_code.as_deref(),
        stopped_reason: d.stopped_reason.as_deref(),
        exit_code,
        container_reason: container_reason.as_deref(),
        started: d.started_at.is_some(),
    };
    let (mut status, failure_class) = status_for_event(&last_status, &stopped);
    // A failure the job type's retry policy retries, while attempts remain: RETRYING until its
    // backoff is over (the delay is drawn from the job and attempt, so a redelivery agrees).
    let job_type = job_type_of(config, &d, entry);
    let retry = config.launch_table.job_types.get(job_type).and_then(|e| e.retry.as_ref());
    let mut retry_at = None;
    if let (JobStatus::Failed, Some(retry), Some(class)) = (status, retry, failure_class.and_then(|c| c.retry_on()))
        && retry.retries(attempt, class)
    {
        status = JobStatus::Retrying;
        let delay = retry.delay(attempt, contract::jitter_seed(job_id, attempt));
        retry_at = Some(now + chrono::Duration::from_std(delay).unwrap_or_default());
    }

    let capacity = match d.capacity_provider_name.as_deref() {
        Some("FARGATE_SPOT") => Some(Capacity::FargateSpot),
        Some("FARGATE") => Some(Capacity::Fargate),
        _ if d.launch_type.as_deref() == Some("FARGATE") => Some(Capacity::Fargate),
        _ => entry.map(|e| e.capacity),
    };
    let architecture = d.cpu_architecture().and_then(parse_architecture).or_else(|| entry.map(|e| e.architecture));
    // Fargate bills from the start of the image pull to the stop; a task that never pulled an
    // image (failed before) is not billed.
    let cost = match (last_status.as_str(), d.cpu, d.memory, d.stopped_at) {
        ("STOPPED", Some(cpu), Some(memory), Some(stopped_at)) => Some(match d.pull_started_at.or(d.started_at) {
            Some(from) => fargate::estimate_cost(
                cpu,
                memory,
                architecture.unwrap_or(Architecture::X86_64),
                capacity.unwrap_or(Capacity::Fargate),
                (stopped_at - from).num_milliseconds(),
            ),
            None => 0.0,
        }),
        _ => None,
    };
    let ts = |t: Option<DateTime<Utc>>| t.map(|t| Value::String(format_ts(&t)));
    let fields = vec![
        (attr::CLUSTER_ARN, d.cluster_arn.clone().map(Value::String)),
        (attr::ECS_LAST_STATUS, Some(Value::String(last_status))),
        (attr::ECS_DESIRED_STATUS, d.desired_status.clone().map(Value::String)),
        (attr::TASK_CREATED_AT, ts(d.created_at)),
        (attr::PULL_STARTED_AT, ts(d.pull_started_at)),
        (attr::PULL_STOPPED_AT, ts(d.pull_stopped_at)),
        (attr::STARTED_AT, ts(d.started_at)),
        (attr::STOPPING_AT, ts(d.stopping_at)),
        (attr::STOPPED_AT, ts(d.stopped_at)),
        (attr::WAIT_MS, json(ms_between(d.created_at, d.started_at))),
        // Run time ends when the task began stopping (the main container exited, or a stop was
        // asked for), not when ECS finished stopping it: a 5 s job is 5 s, not 5 s plus ECS's
        // deprovisioning. Without stoppingAt (an older event shape), at the stop.
        (attr::RUN_MS, json(ms_between(d.started_at, d.stopping_at.or(d.stopped_at)))),
        (attr::EXIT_CODE, json(exit_code)),
        (attr::CONTAINER_REASON, container_reason.map(Value::String)),
        (attr::STOP_CODE, d.stop_code.clone().map(Value::String)),
        (attr::STOPPED_REASON, d.stopped_reason.clone().map(Value::String)),
        (attr::FAILURE_CLASS, json(failure_class)),
        (attr::CPU, json(d.cpu)),
        (attr::MEMORY, json(d.memory)),
        (attr::CAPACITY, json(capacity)),
        (attr::ARCHITECTURE, json(architecture)),
        (attr::COST_USD, json(cost)),
        (attr::RETRY_AT, ts(retry_at)),
    ];
    let mut fields = fields;
    // An outcome leaves an unlimited job with nothing to repair (it never holds a slot, and its task
    // has stopped): it leaves the open jobs' index in this same write. A limited job stays open
    // until the reconciler sees its slot given back (Close).
    if status.is_terminal() && config.launch_table.limits(job_type).is_empty() {
        fields.push((contract::OPEN_SINCE_ATTR, None));
    }
    let expires_at = if status.is_terminal() { config.expires_at(now.timestamp()) } else { None };
    Ok(EventUpdate {
        job_id: job_id.to_string(),
        attempt,
        task_arn,
        version,
        order: crate::machine::EventOrder::Newer,
        status,
        fields,
        expires_at,
        now,
    })
}

#[cfg(feature = "aws")]
pub use handler::*;

#[cfg(feature = "aws")]
mod handler {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};

    use super::{EventUpdate, Skip, plan};
    use crate::config::RuntimeConfig;
    use crate::contract::{self, Limit, Timer, TimerKind};
    use crate::event::{self, TaskDetail};
    use crate::job::{Job, JobStatus};
    use crate::launcher::RunTaskApi;
    use crate::machine::{self, EventOrder, Transition};
    use crate::service::{AdmitBudget, Fault, Fired, LaunchService, Retried, ServiceError};
    use crate::store::{ApplyOutcome, ListFilter, RecountOutcome, ReleaseOutcome, Store, StoreError};

    /// What one run of the reconciler did ([`Tracker::reconcile`]).
    #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Reconciled {
        /// Jobs looked at.
        pub checked: usize,
        /// Lost STOPPED events applied from DescribeTasks.
        pub stopped_events: usize,
        /// Lost RUNNING events applied from DescribeTasks (a job still STARTING whose task runs).
        pub running_events: usize,
        /// Tasks ECS no longer knows: attempts ended TASK_LOST.
        pub lost_tasks: usize,
        /// Deadlines, retries and relaunches whose timer was lost, fired.
        pub overdue_timers: usize,
        /// Slots of attempts that were over, released.
        pub released: usize,
        /// Abandoned launches claimed.
        pub claimed: usize,
        /// Tasks no job owns, stopped.
        pub orphans_stopped: usize,
        /// Jobs launched by the final admission.
        pub launched: usize,
        /// Finished jobs taken out of the open jobs' index ([`crate::machine::Transition::Close`]).
        pub closed: usize,
        /// Counters that disagreed with the slots held, for the first time (recorded, not changed).
        pub counters_suspected: usize,
        /// Counters set to the slots held: they disagreed twice with nothing moving them between.
        pub counters_repaired: usize,
        /// Repairs whose call failed (one job's, one chunk's, one step's): the rest of the run went
        /// on, and the next run (or the invocation's retry) tries them again.
        pub failed: usize,
    }

    /// The failures of one reconciler run: counted and logged as they happen, the first kept as
    /// the run's error ([`TrackError::Reconcile`]).
    #[derive(Default)]
    struct Failures {
        count: usize,
        first: Option<TrackError>,
    }

    impl Failures {
        /// Records a failed repair.
        fn note(&mut self, error: TrackError) {
            self.count += 1;
            tracing::error!(retryable = error.is_retryable(), error = %error, "reconcile: a repair failed; the run goes on");
            self.first.get_or_insert(error);
        }
    }

    /// Jobs listed per run, at most (a larger backlog is worked through over the next runs).
    pub const RECONCILE_MAX_JOBS: usize = 1_000;
    /// How far back the listing goes.
    const RECONCILE_LOOKBACK_DAYS: i64 = 14;
    /// How late a timer, or how long a launched task unknown to ECS, before the reconciler acts:
    /// Scheduler fires within a minute, and DescribeTasks may lag a fresh RunTask.
    pub const RECONCILE_GRACE: chrono::Duration = chrono::Duration::minutes(2);
    /// StopTask reason for a task no job owns.
    pub const RECONCILE_ORPHAN_REASON: &str = "jobgen: reconciler: no job owns this task";

    /// The STOPPED detail the reconciler applies for a task ECS no longer knows: stop code
    /// [`contract::STOP_CODE_TASK_LOST`], a version above the record's, and the job type in the
    /// overrides (for the retry policy).
    fn lost_task(job: &Job, task_arn: &str, cluster: &str, config: &RuntimeConfig) -> TaskDetail {
        TaskDetail {
            cluster_arn: Some(cluster.to_string()),
            task_arn: Some(task_arn.to_string()),
            group: Some(contract::task_group(&job.job_id, job.attempt.number)),
            started_by: Some(config.started_by()),
            last_status: Some("STOPPED".into()),
            desired_status: Some("STOPPED".into()),
            version: Some(job.attempt.ecs_version.unwrap_or(0) + 1),
            stop_code: Some(contract::STOP_CODE_TASK_LOST.into()),
            stopped_reason: Some(
                "jobgen: reconciler: ECS no longer knows this task and its STOPPED event never arrived".into(),
            ),
            started_at: job.attempt.started_at,
            created_at: job.attempt.task_created_at,
            overrides: Some(event::Overrides {
                container_overrides: vec![event::ContainerOverride {
                    name: String::new(),
                    environment: vec![event::Attribute {
                        name: contract::TASK_ENV_JOB_TYPE.into(),
                        value: Some(job.job_type.clone()),
                    }],
                }],
            }),
            ..TaskDetail::default()
        }
    }

    /// Most launches one event's admission makes (see [`AdmitBudget`]): one event frees one slot,
    /// so this leaves room to catch up after a crash or a larger limit.
    pub const ADMIT_LAUNCHES_PER_EVENT: u32 = 10;

    /// What happened to one event.
    #[derive(Debug, Clone, PartialEq)]
    pub enum TrackOutcome {
        /// The record now reflects the event.
        Applied {
            /// The job.
            job_id: String,
            /// Its new status.
            status: JobStatus,
        },
        /// The write's condition failed: duplicate, stale, other attempt/task, terminal, or no such job.
        Unchanged {
            /// The job the event named.
            job_id: String,
            /// Whether the job exists at all (when DynamoDB said).
            exists: Option<bool>,
        },
        /// Not ours or unreadable: dropped without error.
        Skipped(Skip),
        /// The reconciler ran.
        Reconciled(Reconciled),
        /// A timer fired.
        Timer {
            /// The timer.
            timer: Timer,
            /// What it did: `stopped`, `retried`, `queued`, `moved-on`, `no-job`.
            action: &'static str,
        },
    }

    impl TrackOutcome {
        /// A JSON summary (the Lambda's response, for logs and local invokes).
        pub fn to_json(&self) -> Value {
            match self {
                TrackOutcome::Applied { job_id, status } => {
                    json!({"outcome": "applied", "jobId": job_id, "status": status})
                }
                TrackOutcome::Unchanged { job_id, exists } => {
                    json!({"outcome": "unchanged", "jobId": job_id, "jobExists": exists})
                }
                TrackOutcome::Skipped(skip) => json!({"outcome": "skipped", "reason": skip.to_string()}),
                TrackOutcome::Reconciled(report) => json!({"outcome": "reconciled", "report": report}),
                TrackOutcome::Timer { timer, action } => {
                    json!({"outcome": "timer", "timer": timer, "jobId": timer.job_id, "action": action})
                }
            }
        }
    }

    /// A failure to record an event. Returned to Lambda as an error so EventBridge's asynchronous
    /// invocation retries it and, when retries run out, the stack's dead-letter queue keeps it.
    #[derive(Debug, thiserror::Error)]
    pub enum TrackError {
        /// The table write failed.
        #[error("cannot record the event for job {job_id} (retryable: {retryable}): {source}")]
        Store {
            /// The job.
            job_id: String,
            /// Whether a retry may succeed.
            retryable: bool,
            /// The store error.
            source: StoreError,
        },
        /// The event was recorded, but the slot's release or the admission after it failed: a
        /// retry of the event repeats them (the record shows the slot still held).
        #[error(
            "recorded the event for job {job_id}, but not the release of its slot or the next admission (retryable: {retryable}): {source}"
        )]
        Slot {
            /// The job.
            job_id: String,
            /// Whether a retry may succeed.
            retryable: bool,
            /// The service error.
            source: ServiceError,
        },
        /// One of the reconciler's reads or repairs failed.
        #[error("reconcile: cannot repair {what} (retryable: {retryable}): {source}")]
        Repair {
            /// The job, or the step (`DescribeTasks`, `admission`, ...).
            what: String,
            /// Whether a retry may succeed.
            retryable: bool,
            /// The service error.
            source: ServiceError,
        },
        /// A reconciler run did every repair it could, but some failed (see
        /// [`Reconciled::failed`]): returned as an error so the function's error metric and alarm
        /// see it, and Lambda's retry (or the next run) tries the failed ones again.
        #[error("the reconciler ran, but {} of its repairs failed; the first: {source}", report.failed)]
        Reconcile {
            /// What the run did, failures included.
            report: Box<Reconciled>,
            /// The first failure.
            source: Box<TrackError>,
        },
    }

    impl TrackError {
        /// Whether a retry may succeed (a DynamoDB throttle: yes; access denied: no).
        pub fn is_retryable(&self) -> bool {
            match self {
                TrackError::Store { retryable, .. }
                | TrackError::Slot { retryable, .. }
                | TrackError::Repair { retryable, .. } => *retryable,
                TrackError::Reconcile { source, .. } => source.is_retryable(),
            }
        }
    }

    /// The track handler: configuration plus the table, and the launch service that admits the
    /// next queued jobs when an event frees a slot.
    ///
    /// [`Tracker::new`] makes one without a launcher: it records events and releases slots but
    /// admits nothing, so it is enough only for a stack without concurrency limits (or where
    /// something else admits); the track function uses [`Tracker::with_service`].
    pub struct Tracker<A = aws_sdk_ecs::Client> {
        store: Store,
        config: RuntimeConfig,
        service: Option<Arc<LaunchService<A>>>,
    }

    impl<A> Clone for Tracker<A> {
        fn clone(&self) -> Self {
            Tracker { store: self.store.clone(), config: self.config.clone(), service: self.service.clone() }
        }
    }

    impl<A> std::fmt::Debug for Tracker<A> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Tracker")
                .field("store", &self.store)
                .field("config", &self.config)
                .field("admits", &self.service.is_some())
                .finish()
        }
    }

    impl Tracker {
        /// A tracker writing to `store` that admits no queued job (see [`Tracker`]).
        pub fn new(store: Store, config: RuntimeConfig) -> Self {
            Tracker::without_service(store, config)
        }
    }

    impl<A> Tracker<A> {
        /// [`Tracker::new`] for a tracker whose launcher type is `A` (none is used).
        pub fn without_service(store: Store, config: RuntimeConfig) -> Self {
            Tracker { store, config, service: None }
        }
    }

    impl<A: RunTaskApi> Tracker<A> {
        /// A tracker that releases slots and admits queued jobs through `service` (its store and
        /// configuration are the tracker's).
        pub fn with_service(service: LaunchService<A>) -> Self {
            Tracker {
                store: service.store().clone(),
                config: service.config().clone(),
                service: Some(Arc::new(service)),
            }
        }

        /// The store.
        pub fn store(&self) -> &Store {
            &self.store
        }

        /// The launch service, when the tracker admits.
        pub fn service(&self) -> Option<&LaunchService<A>> {
            self.service.as_deref()
        }

        /// Handles one event with no known deadline: [`Tracker::handle_until`].
        pub async fn handle(&self, event: Value, now: DateTime<Utc>) -> Result<TrackOutcome, TrackError> {
            self.handle_until(event, now, None).await
        }

        /// Handles one event: one UpdateItem and no reads (a second UpdateItem only for an event of a
        /// cancelled job, which keeps its status). When a STOPPED event's record (the one it leaves,
        /// or for a redelivery that changed nothing the one DynamoDB returned) shows an attempt that
        /// is over and still holds a slot, releases it (1 TransactWriteItems) and admits from the job's queue within
        /// the invocation's `deadline_ms` ([`LaunchService::release_and_admit`]); a duplicate
        /// STOPPED event of a limited job whose slot is already released admits again, which
        /// repairs a crash between a release and its admission. Events of unlimited jobs cost what
        /// they cost before limits existed.
        pub async fn handle_until(
            &self,
            event: Value,
            now: DateTime<Utc>,
            deadline_ms: Option<i64>,
        ) -> Result<TrackOutcome, TrackError> {
            if let Some(timer) = Timer::from_payload(&event) {
                return self.fire(timer, now, deadline_ms).await;
            }
            if event.get(contract::RECONCILE_KEY).is_some() {
                let report = Box::pin(self.reconcile(now, deadline_ms)).await?;
                return Ok(TrackOutcome::Reconciled(report));
            }
            let update = match plan(event, &self.config, now) {
                Ok(update) => update,
                Err(skip) => {
                    if matches!(skip, Skip::Malformed(_)) {
                        tracing::warn!(%skip, "event dropped");
                    } else {
                        tracing::debug!(%skip, "event ignored");
                    }
                    return Ok(TrackOutcome::Skipped(skip));
                }
            };
            Box::pin(self.track_update(&update, deadline_ms)).await
        }

        /// The state DescribeTasks reports for `job`'s task (as the reconciler read the job),
        /// applied as the event that was lost, through the same write, release and timers as an
        /// event: `Ok(true)` when it changed the record.
        ///
        /// Its version is ECS's own: DescribeTasks reports the task's version counter, the one
        /// its events carry in `detail.version`, so a reported state that is not newer than the
        /// record's is already known (or superseded) and is not applied. A task reported without a
        /// version (the emulator keeps none; ECS always reports one) is applied at the version the
        /// reconciler read ([`EventOrder::AsRead`]): only if no event was applied since, and
        /// without raising the version, so the real event it stands in for — a STOPPED event whose
        /// delivery failed and is being retried — still applies after it and decides the outcome.
        /// (A repair that claimed the record's version + 1 took the version of that very event,
        /// which was then refused as not newer: the fault harness's job that failed to start and
        /// ended SUCCEEDED from the emulator's description.)
        async fn repair(
            &self,
            job: &Job,
            task: &aws_sdk_ecs::types::Task,
            now: DateTime<Utc>,
            deadline_ms: Option<i64>,
        ) -> Result<bool, TrackError> {
            let mut detail = TaskDetail::from_task(task);
            let recorded = job.attempt.ecs_version;
            let order = if task.version() > 0 {
                if recorded.is_some_and(|r| task.version() <= r) {
                    tracing::info!(job_id = %job.job_id, reported = task.version(), ?recorded, "reconcile: the record is as new as DescribeTasks");
                    return Ok(false);
                }
                EventOrder::Newer
            } else {
                detail.version = Some(recorded.unwrap_or(0));
                EventOrder::AsRead
            };
            let mut update = match plan(event::event_json(&detail), &self.config, now) {
                Ok(update) => update,
                Err(skip) => {
                    tracing::warn!(job_id = %job.job_id, %skip, "reconcile: the described task is not one of ours");
                    return Ok(false);
                }
            };
            update.order = order;
            // A repair has no redelivery: a write applied whose answer was lost leaves the job
            // RUNNING, and the next run, finding it RUNNING, repairs nothing, so a deadline armed
            // after the write would never be armed. It is armed first instead: a timer acts only on
            // the state it was armed for, so one whose write then failed does nothing when it fires
            // (the next run repairs the job and finds it armed).
            if update.status == JobStatus::Running {
                self.arm_run_deadline(&job.job_type, &job.job_id, update.attempt, detail.started_at).await.map_err(
                    |source| {
                        let retryable = source.is_retryable();
                        TrackError::Repair { what: job.job_id.clone(), retryable, source }
                    },
                )?;
            }
            let outcome = Box::pin(self.track_update(&update, deadline_ms)).await?;
            Ok(matches!(outcome, TrackOutcome::Applied { .. }))
        }

        /// One planned update, as [`Tracker::handle_until`] handles an event: its write, then the
        /// slot and the timers its record asks for.
        async fn track_update(
            &self,
            update: &EventUpdate,
            deadline_ms: Option<i64>,
        ) -> Result<TrackOutcome, TrackError> {
            let (outcome, record) = self.apply(update).await?;
            if let Some(job) = record {
                let applied = matches!(outcome, TrackOutcome::Applied { .. });
                self.settle(&job, update, applied, deadline_ms).await.map_err(|source| {
                    let retryable = source.is_retryable();
                    tracing::error!(job_id = %update.job_id, retryable, error = %source, "slot not released or next job not admitted");
                    TrackError::Slot { job_id: update.job_id.clone(), retryable, source }
                })?;
                self.arm(&job, update, deadline_ms).await.map_err(|source| {
                    let retryable = source.is_retryable();
                    tracing::error!(job_id = %update.job_id, retryable, error = %source, "timer not armed or retry not started");
                    TrackError::Slot { job_id: update.job_id.clone(), retryable, source }
                })?;
            }
            Ok(outcome)
        }

        /// The reconciler (the stack's recurring schedule, every
        /// [`contract::RECONCILE_INTERVAL_MINUTES`]): repairs from ECS itself what lost events,
        /// lost timers or a crash between two calls left behind, through the same writes and the
        /// same launch service as everything else, so running it twice, late, or beside the events
        /// it stands in for changes nothing more.
        ///
        /// 1. The open jobs (not finished, or finished with a slot held or a task that may still
        ///    run), from the open jobs' index, at most [`RECONCILE_MAX_JOBS`] per run.
        /// 2. Their tasks, with DescribeTasks (100 per call): a task ECS reports STOPPED is applied
        ///    as its STOPPED event (the same plan and write as track's; a lost or dead-lettered
        ///    event is repaired), one it reports RUNNING for a job still STARTING as its RUNNING
        ///    event (which arms the run deadline); a task ECS no longer knows, launched more than
        ///    [`RECONCILE_GRACE`] ago, ends its attempt with failure class TASK_LOST.
        /// 3. A deadline, a retry or a relaunch overdue by more than [`RECONCILE_GRACE`] (its timer
        ///    was lost): fired as its timer would have been. A launch abandoned by a dead launcher
        ///    (SUBMITTED, no task, lease expired): claimed and launched. A slot held by an attempt
        ///    that is over: released. A finished job with nothing left (no slot, no task that can
        ///    run): closed, out of the open jobs' index.
        /// 4. Orphans: every task of this project that ECS runs (ListTasks by `startedBy`) whose
        ///    job does not own it (no such job, another attempt, or a finished job) is stopped.
        /// 5. Admission from every queue.
        /// 6. The counters, recounted ([`Self::recount`]).
        ///
        /// A call that fails fails only the repair it belongs to (one job's, one DescribeTasks
        /// chunk's, the admission's, the recount's): the run goes on with the others, then
        /// returns [`TrackError::Reconcile`] with its report, so the failures reach the error
        /// metric and are tried again. Only a listing that fails ends the run at once.
        pub async fn reconcile(&self, now: DateTime<Utc>, deadline_ms: Option<i64>) -> Result<Reconciled, TrackError> {
            let fail = |what: &str, source: ServiceError| {
                let retryable = source.is_retryable();
                TrackError::Repair { what: what.to_string(), retryable, source }
            };
            let Some(service) = self.service.clone() else {
                return Ok(Reconciled::default());
            };
            let mut report = Reconciled::default();
            let budget =
                || AdmitBudget::for_invocation(deadline_ms, Utc::now().timestamp_millis(), ADMIT_LAUNCHES_PER_EVENT);
            // 1. Jobs that may need repair: the open ones (a queued job is admission's).
            let mut jobs: Vec<Job> = Vec::new();
            let since = now - chrono::Duration::days(RECONCILE_LOOKBACK_DAYS);
            let mut page: Option<String> = None;
            loop {
                let listed =
                    self.store.list(&ListFilter::open(), Some(since), 100, page.as_deref()).await.map_err(|e| {
                        tracing::error!(error = %e, "reconcile failed: the open jobs cannot be listed");
                        fail("the open jobs' listing", e.into())
                    })?;
                jobs.extend(listed.jobs.into_iter().filter(|j| j.status != JobStatus::Queued));
                page = listed.next;
                if page.is_none() || jobs.len() >= RECONCILE_MAX_JOBS {
                    break;
                }
            }
            report.checked = jobs.len();
            // A failing call fails the repair it belongs to, not the run: the other jobs' repairs
            // go on (under a share of failing calls a run that stopped at its first failure would
            // seldom reach the jobs at the end of its list), and the run reports it at the end.
            let mut failures = Failures::default();
            // 2. Their tasks, as ECS sees them.
            let mut by_cluster: std::collections::BTreeMap<String, Vec<&Job>> = Default::default();
            for job in jobs
                .iter()
                .filter(|j| j.attempt.task_arn.is_some() && j.attempt.ecs_last_status.as_deref() != Some("STOPPED"))
            {
                let cluster = job
                    .attempt
                    .cluster_arn
                    .clone()
                    .or_else(|| self.config.launch_table.resolve(&job.job_type).map(|r| r.cluster.to_string()));
                if let Some(cluster) = cluster {
                    by_cluster.entry(cluster).or_default().push(job);
                }
            }
            let api = service.launcher().api();
            for (cluster, cluster_jobs) in &by_cluster {
                for chunk in cluster_jobs.chunks(100) {
                    let arns: Vec<String> = chunk.iter().filter_map(|j| j.attempt.task_arn.clone()).collect();
                    let tasks = match api.describe_tasks(cluster, &arns).await {
                        Ok(tasks) => tasks,
                        Err(e) => {
                            let failure = crate::launcher::StopFailure {
                                kind: e.kind,
                                code: e.code,
                                reason: e.message,
                                tries: 1,
                            };
                            failures.note(fail("DescribeTasks", ServiceError::Stop { job_id: "*".into(), failure }));
                            continue;
                        }
                    };
                    for job in chunk {
                        let arn = job.attempt.task_arn.as_deref().unwrap_or_default();
                        let repaired = match tasks.iter().find(|t| t.task_arn() == Some(arn)) {
                            Some(task) if task.last_status() == Some("STOPPED") => {
                                tracing::warn!(job_id = %job.job_id, task_arn = arn, "reconcile: the task stopped but its STOPPED event was not applied; applying it from DescribeTasks");
                                Box::pin(self.repair(job, task, now, deadline_ms))
                                    .await
                                    .map(|applied| applied.then_some(&mut report.stopped_events))
                            }
                            // Running, but the record never heard (its RUNNING event was lost): the
                            // described state is applied as that event, so the job is RUNNING and
                            // its run deadline is armed.
                            Some(task) if task.last_status() == Some("RUNNING") && job.status != JobStatus::Running => {
                                tracing::warn!(job_id = %job.job_id, task_arn = arn, "reconcile: the task runs but its RUNNING event was not applied; applying it from DescribeTasks");
                                Box::pin(self.repair(job, task, now, deadline_ms))
                                    .await
                                    .map(|applied| applied.then_some(&mut report.running_events))
                            }
                            Some(_) => Ok(None),
                            None if job.attempt.launched_at.is_some_and(|t| t + RECONCILE_GRACE < now) => {
                                tracing::warn!(job_id = %job.job_id, task_arn = arn, "reconcile: ECS no longer knows the task; ending the attempt TASK_LOST");
                                let detail = lost_task(job, arn, cluster, &self.config);
                                Box::pin(self.handle_until(event::event_json(&detail), now, deadline_ms))
                                    .await
                                    .map(|_| Some(&mut report.lost_tasks))
                            }
                            None => Ok(None),
                        };
                        match repaired {
                            Ok(Some(count)) => *count += 1,
                            Ok(None) => {}
                            Err(e) => failures.note(e),
                        }
                    }
                }
            }
            // 3. Overdue timers, abandoned launches, spent slots (on the records as they are now).
            for listed in &jobs {
                if let Err(e) =
                    Box::pin(self.repair_record(&service, &listed.job_id, now, deadline_ms, &mut report)).await
                {
                    failures.note(e);
                }
            }
            // 4. Orphans.
            let started_by = self.config.started_by();
            let mut clusters = self.config.launch_table.clusters.clone();
            clusters.sort();
            clusters.dedup();
            for cluster in &clusters {
                let Ok(arns) = api.list_running_tasks(cluster, &started_by).await else { continue };
                for chunk in arns.chunks(100) {
                    let Ok(tasks) = api.describe_tasks(cluster, chunk).await else { continue };
                    for task in tasks.iter().filter(|t| t.last_status() != Some("STOPPED")) {
                        let Some((job_id, attempt)) = task.group().and_then(contract::parse_task_group) else {
                            continue;
                        };
                        let job = match self.store.get(job_id).await {
                            Ok(job) => job,
                            Err(e) => {
                                failures.note(fail(job_id, e.into()));
                                continue;
                            }
                        };
                        let owned = job.as_ref().is_some_and(|j| {
                            j.attempt.number == attempt && !j.status.is_terminal() && j.status != JobStatus::Retrying
                        });
                        if owned {
                            continue;
                        }
                        let arn = task.task_arn().unwrap_or_default();
                        tracing::warn!(job_id, attempt, task_arn = arn, "reconcile: stopping a task no job owns");
                        if service.launcher().stop(cluster, arn, RECONCILE_ORPHAN_REASON).await.is_ok() {
                            report.orphans_stopped += 1;
                        }
                    }
                }
            }
            // 5. Every queue.
            match Box::pin(service.admit_all(&self.config.launch_table.queue_keys(), &budget())).await {
                Ok(admissions) => report.launched = admissions.iter().map(|a| a.launched.len()).sum(),
                Err(e) => failures.note(fail("admission", e)),
            }
            // 6. The counters, recounted from the slots the open jobs hold.
            if let Err(e) = self.recount(&mut report).await {
                failures.note(fail("the counters' recount", e.into()));
            }
            report.failed = failures.count;
            tracing::info!(?report, "reconciled");
            match failures.first {
                None => Ok(report),
                Some(first) => Err(TrackError::Reconcile { report: Box::new(report), source: Box::new(first) }),
            }
        }

        /// Step 3 of [`Self::reconcile`] for one job, on its record as it is now: an overdue
        /// timer fired, a spent slot released, an abandoned launch claimed, or a finished job
        /// closed.
        async fn repair_record(
            &self,
            service: &LaunchService<A>,
            job_id: &str,
            now: DateTime<Utc>,
            deadline_ms: Option<i64>,
            report: &mut Reconciled,
        ) -> Result<(), TrackError> {
            let fail = |source: ServiceError| {
                let retryable = source.is_retryable();
                TrackError::Repair { what: job_id.to_string(), retryable, source }
            };
            let budget =
                AdmitBudget::for_invocation(deadline_ms, Utc::now().timestamp_millis(), ADMIT_LAUNCHES_PER_EVENT);
            let Some(job) = self.store.get(job_id).await.map_err(|e| fail(e.into()))? else { return Ok(()) };
            let entry = self.config.launch_table.job_types.get(&job.job_type);
            let overdue = |due: Option<DateTime<Utc>>| due.is_some_and(|d| d + RECONCILE_GRACE < now);
            let seconds = |s: Option<u32>| s.map(|s| chrono::Duration::seconds(i64::from(s)));
            let timer = match job.status {
                JobStatus::Running
                    if overdue(
                        job.attempt.started_at.zip(seconds(entry.and_then(|e| e.timeout_seconds))).map(|(t, d)| t + d),
                    ) =>
                {
                    Some(Timer::new(TimerKind::RunDeadline, &job.job_id, job.attempt.number))
                }
                JobStatus::Starting | JobStatus::Submitted
                    if overdue(
                        job.attempt
                            .launched_at
                            .zip(seconds(entry.and_then(|e| e.start_timeout_seconds)))
                            .map(|(t, d)| t + d),
                    ) =>
                {
                    Some(Timer::new(TimerKind::StartDeadline, &job.job_id, job.attempt.number))
                }
                JobStatus::Retrying if overdue(job.attempt.retry_at) => {
                    Some(Timer::new(TimerKind::Retry, &job.job_id, job.attempt.number))
                }
                JobStatus::LaunchFailed if overdue(job.attempt.relaunch_at) => Some(Timer {
                    round: job.attempt.launch_round.unwrap_or(0),
                    ..Timer::new(TimerKind::Relaunch, &job.job_id, job.attempt.number)
                }),
                _ => None,
            };
            if let Some(timer) = timer {
                tracing::warn!(job_id = %job.job_id, kind = ?timer.kind, "reconcile: overdue timer fired");
                Box::pin(service.fire(&timer, now, &budget)).await.map_err(fail)?;
                report.overdue_timers += 1;
            } else if machine::holds_spent_slot(&job, now.timestamp_millis()) {
                Box::pin(service.release_and_admit(&job, &budget)).await.map_err(fail)?;
                report.released += 1;
            } else if job.status == JobStatus::Submitted && machine::claimable(&job, now.timestamp_millis()).is_some() {
                Box::pin(service.resume(job, now, &budget)).await.map_err(fail)?;
                report.claimed += 1;
            } else if machine::closable(&job, now.timestamp_millis()) {
                // Finished, slot given back, no task left: out of the open jobs' index.
                if self.store.close(&job.job_id).await.map_err(|e| fail(e.into()))?.is_ok() {
                    report.closed += 1;
                }
            }
            Ok(())
        }

        /// The reconciler's recount ([`Store::recount`]): every counter of this stack's limits is
        /// read, the slots the open jobs hold are counted under each (every slot holder is open),
        /// and the counters are read again; a counter that no admission or release moved in
        /// between is compared with its count. A disagreement is logged and recorded, and repaired
        /// when the next run finds it unchanged. Skipped when the open jobs are more than a run
        /// lists.
        async fn recount(&self, report: &mut Reconciled) -> Result<(), StoreError> {
            let table = &self.config.launch_table;
            let mut limits: std::collections::BTreeMap<String, Limit> = Default::default();
            for job_type in table.job_types.keys() {
                for limit in table.limits(job_type) {
                    limits.insert(limit.counter.clone(), limit);
                }
            }
            if limits.is_empty() {
                return Ok(());
            }
            let mut before = Vec::new();
            for counter in limits.keys() {
                before.push(self.store.counter_state(counter).await?);
            }
            let mut holders: std::collections::BTreeMap<&str, i64> = limits.keys().map(|k| (k.as_str(), 0)).collect();
            let (mut listed, mut page) = (0usize, None::<String>);
            loop {
                let out = self.store.list(&ListFilter::open(), None, 100, page.as_deref()).await?;
                listed += out.jobs.len();
                for job in out.jobs.iter().filter(|j| j.slot.is_some()) {
                    for limit in table.limits(&job.job_type) {
                        if let Some(n) = holders.get_mut(limit.counter.as_str()) {
                            *n += 1;
                        }
                    }
                }
                page = out.next;
                if page.is_none() {
                    break;
                }
                if listed >= RECONCILE_MAX_JOBS {
                    tracing::info!(listed, "recount skipped: more open jobs than one run lists");
                    return Ok(());
                }
            }
            for ((counter, limit), before) in limits.iter().zip(before) {
                let after = self.store.counter_state(counter).await?;
                if after.changes != before.changes || after.running != before.running {
                    continue;
                }
                let recount = self.store.recount(limit, &after, holders[counter.as_str()]).await?;
                match recount.outcome {
                    RecountOutcome::Suspected => report.counters_suspected += 1,
                    RecountOutcome::Repaired => report.counters_repaired += 1,
                    RecountOutcome::Agrees | RecountOutcome::Moved => {}
                }
            }
            Ok(())
        }

        /// A timer's invocation ([`LaunchService::fire`]). Its errors are returned, so Lambda's
        /// asynchronous retries (and then the dead-letter queue) keep it.
        async fn fire(
            &self,
            timer: Timer,
            now: DateTime<Utc>,
            deadline_ms: Option<i64>,
        ) -> Result<TrackOutcome, TrackError> {
            let Some(service) = &self.service else {
                tracing::warn!(job_id = %timer.job_id, "timer fired, but this tracker has no launch service");
                return Ok(TrackOutcome::Timer { timer, action: "moved-on" });
            };
            let budget =
                AdmitBudget::for_invocation(deadline_ms, Utc::now().timestamp_millis(), ADMIT_LAUNCHES_PER_EVENT);
            let fired = Box::pin(service.fire(&timer, now, &budget)).await.map_err(|source| {
                let retryable = source.is_retryable();
                tracing::error!(job_id = %timer.job_id, kind = ?timer.kind, retryable, error = %source, "timer not handled");
                TrackError::Slot { job_id: timer.job_id.clone(), retryable, source }
            })?;
            let action = match fired {
                Fired::NoJob => "no-job",
                Fired::MovedOn(_) | Fired::Retried(Retried::MovedOn(_)) => "moved-on",
                Fired::Stopped(_) => "stopped",
                Fired::Retried(Retried::Launched(_)) => "retried",
                Fired::Retried(Retried::Queued(_)) => "queued",
                Fired::Relaunched(_) => "relaunched",
            };
            tracing::info!(job_id = %timer.job_id, kind = ?timer.kind, attempt = timer.attempt, action, "timer fired");
            Ok(TrackOutcome::Timer { timer, action })
        }

        /// The timers an event's record asks for, armed after its write (so a timer always refers
        /// to a stored state, and a redelivery of the event arms it again after a crash; a
        /// reconciler's repair, which nothing redelivers, arms the run deadline before its write
        /// as well, see [`Self::repair`]):
        /// - RUNNING with a `timeout`: the run deadline, at the earlier of the task's start and
        ///   now, plus the timeout;
        /// - RETRYING: the retry timer at `retryAt`, or, when that has passed already, the next
        ///   attempt at once.
        async fn arm(&self, job: &Job, update: &EventUpdate, deadline_ms: Option<i64>) -> Result<(), ServiceError> {
            let Some(service) = &self.service else { return Ok(()) };
            if job.attempt.number != update.attempt {
                return Ok(());
            }
            let now = Utc::now();
            // The attempt is over: its deadlines have nothing left to guard.
            if update.status.is_terminal() || update.status == JobStatus::Retrying {
                service.disarm_deadlines(job).await;
            }
            match job.status {
                JobStatus::Running if update.status == JobStatus::Running => {
                    self.arm_run_deadline(&job.job_type, &job.job_id, job.attempt.number, job.attempt.started_at)
                        .await?;
                }
                JobStatus::Retrying => match job.attempt.retry_at.filter(|at| *at > now) {
                    Some(at) => {
                        service.arm(&Timer::new(TimerKind::Retry, &job.job_id, job.attempt.number), at).await?;
                    }
                    None => {
                        let budget =
                            AdmitBudget::for_invocation(deadline_ms, now.timestamp_millis(), ADMIT_LAUNCHES_PER_EVENT);
                        Box::pin(service.start_retry(job.clone(), now, &budget)).await?;
                    }
                },
                _ => {}
            }
            Ok(())
        }

        /// Arms the run deadline of `job_id`'s `attempt` when its type has a `timeout`: at the
        /// earlier of the task's start and now, plus the timeout (1 CreateSchedule; one armed
        /// already is left as it is).
        async fn arm_run_deadline(
            &self,
            job_type: &str,
            job_id: &str,
            attempt: u32,
            started_at: Option<DateTime<Utc>>,
        ) -> Result<(), ServiceError> {
            let Some(service) = &self.service else { return Ok(()) };
            let entry = self.config.launch_table.job_types.get(job_type);
            let Some(seconds) = entry.and_then(|e| e.timeout_seconds) else { return Ok(()) };
            let now = Utc::now();
            let from = started_at.map_or(now, |started| started.min(now));
            let timer = Timer::new(TimerKind::RunDeadline, job_id, attempt);
            service.arm(&timer, from + chrono::Duration::seconds(i64::from(seconds))).await?;
            Ok(())
        }

        /// The event's write, and the record it left or found.
        async fn apply(&self, update: &EventUpdate) -> Result<(TrackOutcome, Option<Job>), TrackError> {
            let store_error = |source: StoreError| {
                let retryable = source.is_retryable();
                tracing::error!(job_id = %update.job_id, retryable, error = %source, "event not recorded");
                TrackError::Store { job_id: update.job_id.clone(), retryable, source }
            };
            match self.store.apply_event(update).await.map_err(store_error)? {
                ApplyOutcome::Applied(job) => {
                    tracing::info!(job_id = %job.job_id, status = %job.status, version = update.version, "event applied");
                    Ok((TrackOutcome::Applied { job_id: job.job_id.clone(), status: job.status }, Some(*job)))
                }
                // A cancelled job keeps its status; the event's ECS facts are still recorded.
                ApplyOutcome::Ignored(Some(existing))
                    if Transition::RecordEcsFactsOnCancelled.may_start_from(existing.status) =>
                {
                    match self.store.apply_event_to_cancelled(update).await.map_err(store_error)? {
                        ApplyOutcome::Applied(job) => {
                            tracing::info!(job_id = %job.job_id, version = update.version, "event applied to a cancelled job");
                            Ok((TrackOutcome::Applied { job_id: job.job_id.clone(), status: job.status }, Some(*job)))
                        }
                        ApplyOutcome::Ignored(current) => Ok((
                            TrackOutcome::Unchanged { job_id: update.job_id.clone(), exists: Some(true) },
                            current.map(|j| *j).or(Some(*existing)),
                        )),
                    }
                }
                ApplyOutcome::Ignored(existing) => {
                    tracing::info!(job_id = %update.job_id, version = update.version, exists = existing.is_some(), "event changed nothing");
                    // DynamoDB returns the old item on a failed condition; without it we cannot tell.
                    let exists = existing.as_ref().map(|_| true);
                    Ok((TrackOutcome::Unchanged { job_id: update.job_id.clone(), exists }, existing.map(|j| *j)))
                }
            }
        }

        /// The slot's part of an event: see [`Tracker::handle_until`]. Only a STOPPED event can end
        /// an attempt, so only a STOPPED event (first delivery or redelivery) of the record's own
        /// attempt settles the slot: an older event arriving in the moment between the STOPPED
        /// write and its release leaves the release to the STOPPED delivery (or its redelivery).
        async fn settle(
            &self,
            job: &Job,
            update: &EventUpdate,
            applied: bool,
            deadline_ms: Option<i64>,
        ) -> Result<(), ServiceError> {
            let stopped = update.status.is_terminal() || update.status == JobStatus::Retrying;
            if !stopped || job.attempt.number != update.attempt {
                return Ok(());
            }
            let now_ms = Utc::now().timestamp_millis();
            let budget = AdmitBudget::for_invocation(deadline_ms, now_ms, ADMIT_LAUNCHES_PER_EVENT);
            let Some(service) = &self.service else {
                // No launcher: release only.
                if let Some(slot) = job.slot.filter(|_| machine::holds_spent_slot(job, now_ms)) {
                    let limits = self.config.launch_table.limits(&job.job_type);
                    if let ReleaseOutcome::Released { .. } = self.store.release(&job.job_id, slot, &limits).await? {
                        tracing::info!(job_id = %job.job_id, slot, "slot released (this tracker admits no queued job)");
                    }
                }
                return Ok(());
            };
            if service.fault() == Some(Fault::CrashAfterApply) && machine::holds_spent_slot(job, now_ms) {
                return Err(ServiceError::InjectedFault);
            }
            if machine::holds_spent_slot(job, now_ms) {
                Box::pin(service.release_and_admit(job, &budget)).await?;
            } else if !applied && machine::attempt_over(job, now_ms) {
                // A redelivered STOPPED event whose slot is already released: the admission after
                // that release may not have happened (a crash between the two).
                Box::pin(service.admit_after(job, &budget)).await?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{FailureClass, JobStatus};

    fn config() -> RuntimeConfig {
        RuntimeConfig {
            table_name: "jobs".into(),
            project: "demo".into(),
            launch_table: crate::contract::sample_table(Capacity::Fargate),
            retention_days: 30,
            timers: None,
        }
    }

    fn event(detail: Value) -> Value {
        serde_json::json!({"detail-type": "ECS Task State Change", "source": "aws.ecs", "detail": detail})
    }

    fn stopped_detail() -> Value {
        serde_json::json!({
            "startedBy": "jobgen/demo", "group": "jobgen:job1:2", "taskArn": "arn:t", "version": 5,
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/report:3",
            "lastStatus": "STOPPED", "desiredStatus": "STOPPED", "cpu": "1024", "memory": "2048",
            "capacityProviderName": "FARGATE_SPOT",
            "containers": [{"name": "sidecar", "exitCode": 0}, {"name": "app", "exitCode": 3}],
            "stopCode": "EssentialContainerExited",
            "createdAt": "2026-01-01T00:00:00.000Z", "pullStartedAt": "2026-01-01T00:00:10.000Z",
            "startedAt": "2026-01-01T00:00:30.000Z", "stoppedAt": "2026-01-01T01:00:10.000Z"
        })
    }

    fn field<'a>(u: &'a EventUpdate, name: &str) -> Option<&'a Value> {
        u.fields.iter().find(|(n, _)| *n == name).and_then(|(_, v)| v.as_ref())
    }

    #[test]
    fn plans_a_stopped_event_with_main_container_durations_and_cost() {
        let now = Utc::now();
        let u = plan(event(stopped_detail()), &config(), now).unwrap();
        assert_eq!((u.job_id.as_str(), u.attempt, u.version), ("job1", 2, 5));
        assert_eq!(u.status, JobStatus::Failed);
        assert_eq!(field(&u, attr::EXIT_CODE), Some(&Value::from(3)));
        assert_eq!(field(&u, attr::FAILURE_CLASS), Some(&Value::from(FailureClass::NonZeroExit.as_str())));
        assert_eq!(field(&u, attr::WAIT_MS), Some(&Value::from(30_000)));
        assert_eq!(field(&u, attr::RUN_MS), Some(&Value::from(3_580_000)));
        assert_eq!(field(&u, attr::CAPACITY), Some(&Value::from("FARGATE_SPOT")));
        // No architecture attribute in the event: the launch table's entry decides.
        assert_eq!(field(&u, attr::ARCHITECTURE), Some(&Value::from("ARM64")));
        let expected = fargate::estimate_cost(1024, 2048, Architecture::Arm64, Capacity::FargateSpot, 3_600_000);
        assert_eq!(field(&u, attr::COST_USD).and_then(Value::as_f64), Some(expected));
        assert_eq!(u.expires_at, Some(now.timestamp() + 30 * 86_400));
        assert_eq!(field(&u, attr::STOPPING_AT), None);
    }

    #[test]
    fn skips_what_is_not_ours() {
        let c = config();
        let now = Utc::now();
        let mut d = stopped_detail();
        d["startedBy"] = "jobgen/other".into();
        assert!(matches!(plan(event(d), &c, now), Err(Skip::ForeignStartedBy(_))));
        let mut d = stopped_detail();
        d["group"] = "family:report".into();
        assert!(matches!(plan(event(d), &c, now), Err(Skip::ForeignGroup(_))));
        let other = serde_json::json!({"detail-type": "ECS Container Instance State Change", "detail": {}});
        assert!(matches!(plan(other, &c, now), Err(Skip::OtherDetailType(_))));
        let mut d = stopped_detail();
        d.as_object_mut().map(|o| o.remove("version"));
        assert!(matches!(plan(event(d), &c, now), Err(Skip::Malformed(_))));
        assert!(matches!(plan(Value::from("nope"), &c, now), Err(Skip::Malformed(_))));
    }

    #[test]
    fn never_started_tasks_cost_nothing_and_fail_to_start() {
        let d = serde_json::json!({
            "startedBy": "jobgen/demo", "group": "jobgen:job1:1", "taskArn": "arn:t", "version": 3,
            "lastStatus": "STOPPED", "cpu": "256", "memory": "512", "containers": [],
            "stopCode": "TaskFailedToStart", "stoppedReason": "ResourceInitializationError: unable to pull secrets",
            "createdAt": "2026-01-01T00:00:00.000Z", "stoppedAt": "2026-01-01T00:00:40.000Z"
        });
        let u = plan(event(d), &config(), Utc::now()).unwrap();
        assert_eq!(field(&u, attr::FAILURE_CLASS), Some(&Value::from("FAILED_TO_START")));
        assert_eq!(field(&u, attr::COST_USD), Some(&Value::from(0.0)));
        assert_eq!(field(&u, attr::EXIT_CODE), None);
        assert_eq!(field(&u, attr::WAIT_MS), None);
    }
}
