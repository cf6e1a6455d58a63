//! The launch service: the side effects of starting and stopping a job's task, and of the
//! concurrency limits' slots, implemented once for every path that needs them. create-job calls it
//! (a new job: [`LaunchService::launch`], or for a limited job [`LaunchService::admit_and_launch`];
//! a replay: [`LaunchService::claim_and_launch`] or [`LaunchService::resume`]); track calls it when
//! an event ends an attempt ([`LaunchService::release_and_admit`]); a reconciler is to call
//! [`LaunchService::admit_all`]. So a launch is recorded, a failure is classified, a slot is given
//! back and the next queued job is admitted the same way whoever does it.
//!
//! A launch is RunTask (with the launcher's in-call retries and the attempt's clientToken, so ECS
//! starts at most one task per attempt) followed by one conditional write of its outcome:
//! [`Store::record_launch`] or [`Store::record_launch_failure`]. When the record moved on while
//! RunTask ran, the write fails and returns the record, and the service answers with it:
//! - the tracker applied an event of the attempt first: its record is newer ([`Launch::Superseded`]);
//! - `jobgen cancel` cancelled the job before its task was recorded, so the cancel saw no task to
//!   stop: the service stops the task it just started and records it on the cancelled record
//!   ([`Launch::Cancelled`]), so a cancelled job never runs unowned.
//!
//! Who may launch is decided by the table (see [`crate::machine`]): the caller that recorded the
//! job (Submit), won a claim (ClaimAbandonedLaunch, ClaimFailedLaunch) or admitted it (Admit)
//! holds the launch.
//!
//! # Concurrency limits
//!
//! A job a limit applies to is recorded QUEUED in its queue (the `byQueue` index: key
//! [`contract::PROJECT_QUEUE`] or its type's name, ordered by submission). Admission
//! ([`LaunchService::admit_and_launch`]) reads the queue oldest first and, for each job, makes the
//! Admit transaction ([`Store::admit`]: the job QUEUED → SUBMITTED with a slot, and every counter
//! of its limits +1 below the limit, all or nothing), then launches it as any job. It stops when a
//! counter is full (in the project queue, a full job-type counter only skips that job), when the
//! queue is empty, or at its budget ([`AdmitBudget`]: launches, entries read, and the
//! invocation's deadline). A slot is given back by [`Store::release`] (the job's `slot` and the
//! counters, one transaction, per job and not per event) once the attempt is over
//! ([`machine::attempt_over`]): a launch failure releases at once, a stopped task releases when
//! track applies (or sees) its STOPPED event. Every release is followed by an admission from the
//! job's queue. An admitted job keeps its queue attributes until its launch is recorded, so an
//! admission that finds one whose launcher died (its lease expired, no task) claims and launches it.
//!
//! **A crash between any two calls**, and what repairs it:
//! - create-job, after the QUEUED PutItem, before or during admission: the job waits QUEUED; the
//!   next admission of its queue (any create-job of the queue, any release) admits it in order,
//!   and a replay of its idempotency key admits from its queue at once.
//! - any admission, after the Admit transaction, before RunTask: the job is SUBMITTED with a slot
//!   and a lease, and still in its queue; once the lease has expired, the next admission of the
//!   queue that has room reads it at the head of the queue and claims it (ClaimAbandonedLaunch),
//!   launching it with the same clientToken and the slot it holds: the next release of the queue,
//!   or a create-job while a slot is free, or a replay of its key. (An admission that finds the
//!   queue's counter full reads nothing else, so if every slot is held by such a dead admission,
//!   only a replay or the reconciler moves the queue.)
//! - after RunTask, before the launch's record: the task's events move the job on (and remove its
//!   queue attributes); its STOPPED event releases the slot. A RunTask that started nothing and
//!   was not recorded is the case above (the lease expires, a claim relaunches).
//! - after RecordLaunchFailure, before the release: the job is LAUNCH_FAILED holding a slot; a
//!   replay of its idempotency key releases it; else the reconciler (below).
//! - track, after applying the STOPPED event, before the release: the event's redelivery (track
//!   returns an error only after the write, and Lambda retries a crashed invocation) finds the
//!   record already updated, sees the attempt is over and the slot still held, and releases it
//!   then; a release is idempotent per job, so a release that did happen is not repeated.
//! - track, after the release, before the admission: the redelivery of the STOPPED event admits
//!   from the queue (track admits on a duplicate STOPPED event of a limited job).
//! - residual: a queue whose last release admitted nothing because the one job queued meanwhile
//!   was not yet visible in the (eventually consistent) index, a crash after a release with no
//!   redelivery, a LAUNCH_FAILED job holding a slot that nobody replays, or a cancelled job whose
//!   launcher died (its lease expires with nothing left to trigger a release), or a STOPPED event
//!   that never arrived (dead-lettered). The next slice adds a reconciler, run by an EventBridge
//!   Scheduler rate schedule, that lists the slot holders ([`Store::slot_holders`]) and gives back
//!   every spent one ([`LaunchService::release_spent`]; a lost STOPPED event needs DescribeTasks
//!   first), calls [`LaunchService::admit_all`] for every queue
//!   ([`contract::LaunchTable::queue_keys`]), and repairs drifted counters ([`Store::recount`]).

use std::collections::{BTreeSet, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::RuntimeConfig;
use crate::contract::{self, Capacity, Timer, TimerKind};
use crate::job::{FailureClass, Job, JobStatus, LaunchErrorKind};
use crate::launch::{LaunchFailure, LaunchSpec, Launched};
use crate::launcher::{Launcher, RunTaskApi, StopFailure};
use crate::machine::{self, Transition};
use crate::store::{AdmitOutcome, NextAttempt, QueueEntry, Relaunch, ReleaseOutcome, Store, StoreError};
use crate::timers::{TimerError, Timers};

/// Lease margin beyond the invocation deadline: a replay or an admission only takes over a launch
/// once the launching invocation has certainly ended.
pub const LEASE_MARGIN_MS: i64 = 5_000;
/// Lease when the invocation's deadline is unknown.
pub const DEFAULT_LEASE_MS: i64 = 120_000;
/// The longest one ECS call attempt may take: the handlers' SDK attempt timeout.
pub const ECS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Admit transactions tried for one job when another transaction holds one of its items
/// (`TransactionConflict`) before admission gives up for this call (the other caller is admitting).
const ADMIT_CONFLICT_TRIES: u32 = 3;

/// StopTask reason (the task's stoppedReason) for a task whose job was cancelled during its launch.
pub const CANCELLED_DURING_LAUNCH: &str = "jobgen: job cancelled during launch";

/// A fault to inject, for tests and the local simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Stop right after the record is written (or the lease claimed, or the job admitted), before
    /// RunTask, as if the function crashed or timed out there.
    CrashBeforeRunTask,
    /// track: stop right after the event's write, before the slot's release.
    CrashAfterApply,
    /// track: stop right after the slot's release, before the admission that follows it.
    CrashAfterRelease,
}

/// What a timer that fired did ([`LaunchService::fire`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Fired {
    /// No such job (its record expired).
    NoJob,
    /// The job is in another attempt or status than the timer was armed for: nothing done.
    MovedOn(Job),
    /// The deadline passed: the task was asked to stop (its STOPPED event ends the attempt).
    Stopped(Job),
    /// The retry backoff was over.
    Retried(Retried),
    /// The launch backoff was over: the launch was tried again (or the job requeued).
    Relaunched(Resumed),
}

/// How [`LaunchService::start_retry`] ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Retried {
    /// The next attempt was launched (or its launch failed: see the launch).
    Launched(Launch),
    /// The next attempt waits for a slot in its queue.
    Queued(Job),
    /// The job was not RETRYING in that attempt any more (started by another caller, cancelled,
    /// refined by a later event): the record as it stands.
    MovedOn(Job),
}

/// How a launch ended. Every variant carries the job record as the launch left it.
#[derive(Debug, Clone, PartialEq)]
pub enum Launch {
    /// RunTask started the task and the record says so (STARTING, with the task ARN).
    Started(Job),
    /// The record moved on while RunTask ran and is newer than what this launch knows: the tracker
    /// applied an event of the attempt (after a started or a failed RunTask), or the job was
    /// cancelled while a RunTask that started nothing was failing. Nothing more to do.
    Superseded(Job),
    /// RunTask started the task but the job had been cancelled meanwhile: the task was stopped
    /// (`stopped`: StopTask calls made, or why it still failed after its retries) and recorded on
    /// the cancelled record.
    Cancelled {
        /// The cancelled record (with the task, when that write passed).
        job: Job,
        /// The StopTask outcome.
        stopped: Result<u32, StopFailure>,
    },
    /// RunTask did not start a task; the failure is recorded (LAUNCH_FAILED) unless the record
    /// shows another attempt.
    Failed {
        /// The record.
        job: Job,
        /// Why RunTask failed.
        failure: LaunchFailure,
    },
}

impl Launch {
    /// The job record as the launch left it.
    pub fn job(&self) -> &Job {
        match self {
            Launch::Started(job) | Launch::Superseded(job) | Launch::Cancelled { job, .. } => job,
            Launch::Failed { job, .. } => job,
        }
    }
}

/// What a claim came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This caller claimed the launch and made it.
    Launched(Launch),
    /// Nothing to claim, or another caller holds or finished the launch: the record (as given when
    /// it was not claimable, so no write was made; read again after a lost claim).
    NotClaimed(Job),
}

/// A launch that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A table read or write failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A record that a conditional write just reported as existing could not be read (only a TTL
    /// deletion or an operator removes a record).
    #[error("job {job_id} vanished while being read: retry")]
    Vanished {
        /// The job.
        job_id: String,
    },
    /// [`Fault::CrashBeforeRunTask`] was injected.
    #[error("injected fault: stopped before RunTask")]
    InjectedFault,
    /// A timer could not be armed (the caller's retry arms it again).
    #[error(transparent)]
    Timer(#[from] TimerError),
    /// A task a timer had to stop could not be stopped (the timer's retry stops it again).
    #[error("cannot stop the task of job {job_id}: {failure}")]
    Stop {
        /// The job.
        job_id: String,
        /// Why.
        failure: StopFailure,
    },
}

impl ServiceError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ServiceError::Store(e) => e.is_retryable(),
            ServiceError::Vanished { .. } => true,
            ServiceError::InjectedFault => false,
            ServiceError::Timer(e) => e.retryable,
            ServiceError::Stop { failure, .. } => failure.kind.is_retryable(),
        }
    }
}

/// The bounds of one admission call ([`LaunchService::admit_and_launch`]): what bounds the work an
/// event or a request triggers, whatever the length of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmitBudget {
    /// Most launches per call (admitted jobs launched, and abandoned admissions claimed and
    /// launched); a launch that fails gives its slot back and still counts.
    pub max_launches: u32,
    /// Most queue entries examined per call (admitted, skipped or found full).
    pub max_entries: u32,
    /// Entries per Query page.
    pub page_size: i32,
    /// The invocation's deadline (epoch ms): after the first launch, no launch starts unless a
    /// launch's worst case ([`LaunchService::launch_reserve`]) is still left.
    pub deadline_ms: Option<i64>,
    /// The launch lease an admitted job gets: the invocation's deadline plus
    /// [`LEASE_MARGIN_MS`] (or [`DEFAULT_LEASE_MS`] from now), as create-job sets it on a new job.
    pub lease_until_ms: i64,
}

impl AdmitBudget {
    /// The budget of one invocation with `deadline_ms` at `now_ms`, launching at most `max_launches`.
    pub fn for_invocation(deadline_ms: Option<i64>, now_ms: i64, max_launches: u32) -> AdmitBudget {
        let lease_until_ms = match deadline_ms {
            Some(deadline) if deadline > 0 => deadline.max(now_ms) + LEASE_MARGIN_MS,
            _ => now_ms + DEFAULT_LEASE_MS,
        };
        AdmitBudget {
            max_launches,
            max_entries: max_launches.saturating_mul(5).max(10),
            page_size: 10,
            deadline_ms: deadline_ms.filter(|d| *d > 0),
            lease_until_ms,
        }
    }

    /// The same budget with another launch lease.
    pub fn with_lease_until_ms(mut self, lease_until_ms: i64) -> AdmitBudget {
        self.lease_until_ms = lease_until_ms;
        self
    }
}

/// Why an admission call stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmissionEnd {
    /// No more entries in the queue (as the index showed it).
    QueueEmpty,
    /// A counter is at its limit: the queue's own (type queue) or the project's.
    Full,
    /// The budget's launches or entries are spent.
    Budget,
    /// Less than a launch's worst case is left before the invocation's deadline.
    Deadline,
    /// Other transactions kept changing the same counter (other callers are admitting).
    Contended,
}

/// What one admission call did.
#[derive(Debug, Clone, PartialEq)]
pub struct Admission {
    /// The launches it made, in admission order.
    pub launched: Vec<Launch>,
    /// Why it stopped.
    pub end: AdmissionEnd,
    /// The latest record of the hint job, when it was examined and not launched by this call (it
    /// is still QUEUED, or another caller admitted or cancelled it).
    pub hint: Option<Job>,
    /// Entries examined.
    pub examined: u32,
}

impl Admission {
    /// The launch this call made of `job_id`, if any.
    pub fn launch_of(&self, job_id: &str) -> Option<&Launch> {
        self.launched.iter().find(|l| l.job().job_id == job_id)
    }

    fn new() -> Admission {
        Admission { launched: Vec::new(), end: AdmissionEnd::QueueEmpty, hint: None, examined: 0 }
    }
}

/// What a replay of a limited job came to ([`LaunchService::resume`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Resumed {
    /// This call launched the job (admitted, or claimed from a dead launcher).
    Launched(Launch),
    /// Nothing to launch by this call: the job's record as last seen (QUEUED, launching elsewhere,
    /// running, finished).
    Current(Job),
}

/// What one queue entry came to, inside an admission.
enum Step {
    /// A launch: of a job admitted now (`admitted`), or of one admitted earlier and claimed.
    Launched(Admitted),
    /// A spent slot found on the way was given back: one more slot of room.
    Released(Job),
    /// Another caller admitted the job between this call's read and its transaction: one slot of
    /// room less.
    Taken(Job),
    Skipped(Option<Job>),
    Stop(AdmissionEnd, Option<Job>),
}

/// A launch made by an admission.
struct Admitted {
    launch: Launch,
    /// Whether this admission took the job's slot (false: a claim of a slot already held).
    admitted: bool,
}

/// Where the launch service reads the time it writes into records and timers (launchedAt,
/// relaunchAt, a start deadline): the system clock, or another one the caller gives it. A
/// benchmark runs the real handlers on a simulated clock with it (`tests/benches/burst.rs`);
/// the handlers always use the system clock. The Lambda deadline an invocation budgets against
/// is real time and is never read from here; so are the launch leases derived from it, which a
/// given clock far from the system's would see as expired or live (the benchmark has no limits
/// and no abandoned launches, so it reads none).
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that reads `now`.
    pub fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Clock {
        Clock(Some(Arc::new(now)))
    }

    /// The time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.0.as_ref().map_or_else(Utc::now, |now| now())
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Clock(given)" } else { "Clock(system)" })
    }
}

/// Launches and stops jobs' tasks: the table, the ECS launcher and the stack's launch table.
#[derive(Debug)]
pub struct LaunchService<A> {
    store: Store,
    launcher: Launcher<A>,
    config: RuntimeConfig,
    fault: Option<Fault>,
    timers: Option<Timers>,
    clock: Clock,
}

impl<A: RunTaskApi> LaunchService<A> {
    /// A service over `store` and `launcher`, launching the job types of `config`.
    pub fn new(store: Store, launcher: Launcher<A>, config: RuntimeConfig) -> Self {
        LaunchService { store, launcher, config, fault: None, timers: None, clock: Clock::system() }
    }

    /// Arms timers (start deadlines, retries) through `timers`; without, none is armed (a stack
    /// from before timers).
    pub fn with_timers(mut self, timers: Option<Timers>) -> Self {
        self.timers = timers;
        self
    }

    /// The timers.
    pub fn timers(&self) -> Option<&Timers> {
        self.timers.as_ref()
    }

    /// Injects a fault.
    pub fn with_fault(mut self, fault: Option<Fault>) -> Self {
        self.fault = fault;
        self
    }

    /// Reads the time from `clock` instead of the system clock (see [`Clock`]).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The injected fault.
    pub fn fault(&self) -> Option<Fault> {
        self.fault
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The launcher.
    pub fn launcher(&self) -> &Launcher<A> {
        &self.launcher
    }

    /// The configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// The RunTask parameters of the job's current attempt, from its record and the stack's launch
    /// table. A job type the stack no longer has is a rejected launch (ECS was not called).
    pub fn spec(&self, job: &Job) -> Result<LaunchSpec, LaunchFailure> {
        let Some(resolved) = self.config.launch_table.resolve(&job.job_type) else {
            return Err(LaunchFailure {
                kind: LaunchErrorKind::Rejected,
                code: None,
                reason: format!(
                    "job type {:?} is not a job type of this stack: add it back to jobgen.yaml to run this job",
                    job.job_type
                ),
                tries: 0,
            });
        };
        let mut spec = LaunchSpec::new(
            &self.config.project,
            &resolved,
            &job.job_id,
            job.attempt.number,
            job.environment.clone(),
            job.command.clone(),
        )
        .with_progress(&resolved, &self.config.table_name);
        if let Some(capacity) = job.attempt.requested_capacity {
            spec.capacity = capacity;
        }
        Ok(spec)
    }

    /// Arms `timer` to fire at `due` (1 CreateSchedule); `Ok(false)` when the stack has no timers.
    pub async fn arm(&self, timer: &Timer, due: DateTime<Utc>) -> Result<bool, ServiceError> {
        let Some(timers) = &self.timers else {
            tracing::warn!(job_id = %timer.job_id, kind = ?timer.kind, "this stack has no timers: not armed");
            return Ok(false);
        };
        timers.arm(timer, due).await?;
        Ok(true)
    }

    /// Disarms the deadline timers of `job`'s current attempt once it is over (its STOPPED event
    /// was applied): 1 DeleteSchedule per deadline its type sets. A deadline left armed would still
    /// fire later and find the job moved on: harmless, but a Scheduler invocation and a track
    /// invocation billed for nothing, so this saves them; a failure is only logged.
    pub async fn disarm_deadlines(&self, job: &Job) {
        let Some(timers) = &self.timers else { return };
        let Some(entry) = self.config.launch_table.job_types.get(&job.job_type) else { return };
        let kinds = [
            (TimerKind::RunDeadline, entry.timeout_seconds.is_some()),
            (TimerKind::StartDeadline, entry.start_timeout_seconds.is_some()),
        ];
        for (kind, set) in kinds {
            if !set {
                continue;
            }
            let timer = Timer::new(kind, &job.job_id, job.attempt.number);
            if let Err(e) = timers.disarm(&timer).await {
                tracing::warn!(job_id = %job.job_id, ?kind, error = %e, "deadline timer not disarmed: it will fire and do nothing");
            }
        }
    }

    /// Acts on a timer that fired (see [`crate::timers`]): reads the job (1 GetItem) and acts only
    /// when it is still in the attempt and status the timer was armed for.
    /// - StartDeadline: the task is not RUNNING yet (SUBMITTED or STARTING with a task): StopTask
    ///   with [`contract::STOP_REASON_START_TIMEOUT`]; its STOPPED event fails the attempt with
    ///   START_TIMEOUT (and the retry policy decides on a retry).
    /// - RunDeadline: RUNNING: StopTask with [`contract::STOP_REASON_TIMEOUT`]; its STOPPED event
    ///   ends the job TIMED_OUT.
    /// - Retry: RETRYING: the next attempt ([`LaunchService::start_retry`]).
    ///
    /// Late, twice, or after the job moved on (another attempt, another status, cancelled): it
    /// does nothing. StopTask is idempotent, and the next attempt is started by one conditional
    /// write, so two firings at once start it once.
    pub async fn fire(&self, timer: &Timer, now: DateTime<Utc>, budget: &AdmitBudget) -> Result<Fired, ServiceError> {
        let Some(job) = self.store.get(&timer.job_id).await? else {
            return Ok(Fired::NoJob);
        };
        if job.attempt.number != timer.attempt {
            return Ok(Fired::MovedOn(job));
        }
        let entry = self.config.launch_table.job_types.get(&job.job_type);
        let reason = match (timer.kind, job.status) {
            (TimerKind::StartDeadline, JobStatus::Submitted | JobStatus::Starting)
                if job.attempt.task_arn.is_some() =>
            {
                let seconds = entry.and_then(|e| e.start_timeout_seconds).unwrap_or_default();
                format!("{}: not RUNNING {seconds} s after its launch", contract::STOP_REASON_START_TIMEOUT)
            }
            (TimerKind::RunDeadline, JobStatus::Running) => {
                let seconds = entry.and_then(|e| e.timeout_seconds).unwrap_or_default();
                format!("{} after {seconds} s", contract::STOP_REASON_TIMEOUT)
            }
            (TimerKind::Retry, JobStatus::Retrying) => {
                return Ok(Fired::Retried(self.start_retry(job, now, budget).await?));
            }
            (TimerKind::Relaunch, JobStatus::LaunchFailed)
                if job.attempt.launch_round == Some(timer.round) && job.attempt.relaunch_at.is_some() =>
            {
                tracing::info!(job_id = %job.job_id, attempt = timer.attempt, round = timer.round, "launch backoff over: relaunching");
                return Ok(Fired::Relaunched(Box::pin(self.resume(job, now, budget)).await?));
            }
            _ => return Ok(Fired::MovedOn(job)),
        };
        match self.stop(&job, &reason).await {
            Ok(_) => {
                tracing::info!(job_id = %job.job_id, attempt = timer.attempt, kind = ?timer.kind, "deadline passed: task stopped");
                Ok(Fired::Stopped(job))
            }
            Err(failure) => Err(ServiceError::Stop { job_id: job.job_id.clone(), failure }),
        }
    }

    /// Starts the next attempt of a RETRYING job (the retry timer fired, its `retryAt` passed when
    /// its STOPPED event was applied, or `jobgen retry`): gives back a slot the failed attempt
    /// still holds, then [`Store::start_next_attempt`] — SUBMITTED and launched at once, or for a
    /// limited job QUEUED at its old place and admitted from its queue — on on-demand FARGATE when
    /// the retry policy's Spot fallback applies. The record as it stands when the job moved on.
    pub async fn start_retry(
        &self,
        job: Job,
        now: DateTime<Utc>,
        budget: &AdmitBudget,
    ) -> Result<Retried, ServiceError> {
        let job = self.release_spent(job).await?;
        let table = &self.config.launch_table;
        let entry = table.job_types.get(&job.job_type);
        let spot_failure = job.attempt.failure_class == Some(FailureClass::SpotInterrupted)
            || (job.attempt.launch_error_kind == Some(LaunchErrorKind::Capacity)
                && job.attempt.requested_capacity.or(entry.map(|e| e.capacity)) == Some(Capacity::FargateSpot));
        let capacity = entry.map(|e| e.retry_capacity(spot_failure)).filter(|c| Some(*c) != entry.map(|e| e.capacity));
        let queue_key = table.queue_key(&job.job_type).map(str::to_string);
        let queue = queue_key
            .clone()
            .map(|key| (key, contract::queue_order(&crate::job::format_ts(&job.created_at), &job.job_id)));
        let next = NextAttempt { lease_until_ms: budget.lease_until_ms, queue, capacity };
        let started = match self.store.start_next_attempt(&job, &next, now).await? {
            Ok(started) => started,
            Err(current) => {
                let current = match current {
                    Some(current) => current,
                    None => self.current(&job.job_id).await?,
                };
                return Ok(Retried::MovedOn(current));
            }
        };
        tracing::info!(job_id = %started.job_id, attempt = started.attempt.number, ?capacity, status = %started.status, "next attempt started");
        match queue_key {
            Some(key) => {
                let job_id = started.job_id.clone();
                let admission = Box::pin(self.admit_and_launch(&key, Some(started.clone()), budget)).await?;
                Ok(match admission.launch_of(&job_id) {
                    Some(launch) => Retried::Launched(launch.clone()),
                    None => Retried::Queued(admission.hint.unwrap_or(started)),
                })
            }
            None => Ok(Retried::Launched(self.launch(started).await?)),
        }
    }

    /// Launches the current attempt of `job`, whose launch the caller holds (it recorded the job
    /// or won a claim): RunTask, then the record of its outcome (1 UpdateItem), and for a job
    /// cancelled meanwhile StopTask and 1 more UpdateItem. A record that moved on is answered with,
    /// not overwritten (see [`Launch`]).
    ///
    /// Twice, or concurrently with another holder of the same attempt (a slow launcher and the
    /// replay that claimed its expired lease): both RunTask calls carry the attempt's clientToken,
    /// so ECS starts one task, and the second record fails and answers [`Launch::Superseded`].
    /// Late, after the tracker saw the task: the record is kept ([`Launch::Superseded`]).
    pub async fn launch(&self, job: Job) -> Result<Launch, ServiceError> {
        if self.fault == Some(Fault::CrashBeforeRunTask) {
            return Err(ServiceError::InjectedFault);
        }
        let spec = match self.spec(&job) {
            Ok(spec) => spec,
            Err(failure) => return self.record_failure(job, failure).await,
        };
        let attempt = job.attempt.number;
        // The start deadline is armed before RunTask, so no task of this attempt runs without it
        // (a claim that relaunches the attempt finds it armed). A timer that cannot be armed does
        // not stop the launch: the deadline is lost, not the job.
        let start_timeout = self.config.launch_table.job_types.get(&job.job_type).and_then(|e| e.start_timeout_seconds);
        if let Some(seconds) = start_timeout {
            let timer = Timer::new(TimerKind::StartDeadline, &job.job_id, attempt);
            if let Err(e) = self.arm(&timer, self.clock.now() + chrono::Duration::seconds(i64::from(seconds))).await {
                tracing::warn!(job_id = %job.job_id, attempt, error = %e, "start deadline not armed; launching anyway");
            }
        }
        match self.launcher.launch(&spec).await {
            Ok(launched) => {
                let recorded = self.store.record_launch(&job.job_id, attempt, &launched, self.clock.now()).await?;
                let current = match recorded {
                    Ok(job) => return Ok(Launch::Started(job)),
                    Err(Some(current)) => current,
                    Err(None) => self.current(&job.job_id).await?,
                };
                if Transition::RecordCancelledLaunch.may_start_from(current.status) {
                    return Ok(self.stop_cancelled(current, &spec, &launched).await);
                }
                // The tracker applied an event first: its record is newer.
                Ok(Launch::Superseded(current))
            }
            Err(failure) => self.record_failure(job, failure).await,
        }
    }

    /// Claims the launch of a job whose launcher died or whose launch failed retryably, then
    /// launches it ([`LaunchService::launch`]). The claim is made only when the record, as read,
    /// allows one ([`machine::claimable`]), with the lease `lease_until_ms`; its write is
    /// [`Store::claim_launch`] (1 UpdateItem), whose doc says what happens when it runs twice,
    /// late or concurrently. A lost claim reads the record again (1 GetItem).
    pub async fn claim_and_launch(
        &self,
        job: Job,
        now: DateTime<Utc>,
        lease_until_ms: i64,
    ) -> Result<Claim, ServiceError> {
        let Some(claim) = machine::claimable(&job, now.timestamp_millis()) else {
            return Ok(Claim::NotClaimed(job));
        };
        let attempt = job.attempt.number;
        match self.store.claim_launch(&job.job_id, attempt, now, lease_until_ms).await? {
            Some(claimed) => {
                tracing::info!(job_id = %claimed.job_id, attempt, ?claim, "launch claimed from an earlier invocation");
                Ok(Claim::Launched(self.launch(claimed).await?))
            }
            None => Ok(Claim::NotClaimed(self.current(&job.job_id).await?)),
        }
    }

    /// Stops the task of the job's current attempt with `reason` (ECS shows it as the task's
    /// stoppedReason), with the launcher's retries: `Ok(None)` when the record names no task,
    /// else the StopTask calls made. The cluster is the record's, else the job type's.
    ///
    /// StopTask is idempotent: twice, late (the task already stopped) or concurrently with another
    /// stop, it changes nothing more. It writes nothing to the table: the task's STOPPED event
    /// records the outcome through the tracker.
    pub async fn stop(&self, job: &Job, reason: &str) -> Result<Option<u32>, StopFailure> {
        let Some(task_arn) = job.attempt.task_arn.as_deref() else {
            return Ok(None);
        };
        let cluster =
            job.attempt.cluster_arn.clone().or_else(|| {
                self.config.launch_table.resolve(&job.job_type).map(|resolved| resolved.cluster.to_string())
            });
        let Some(cluster) = cluster else {
            return Err(StopFailure {
                kind: LaunchErrorKind::Rejected,
                code: None,
                reason: format!(
                    "job {}: the record names no cluster and job type {:?} is not a job type of this stack",
                    job.job_id, job.job_type
                ),
                tries: 0,
            });
        };
        self.launcher.stop(&cluster, task_arn, reason).await.map(Some)
    }

    /// The launch backoff's next round after a failed launch of `job`, if one is coming: the
    /// failure is retryable (RunTask throttled, no capacity, ECS unavailable), the stack has
    /// timers, and the round would start before the launch deadline (the type's `start_timeout`,
    /// else [`contract::DEFAULT_LAUNCH_DEADLINE_SECONDS`], from the attempt's start: the job's
    /// creation, or the previous attempt's end).
    pub fn relaunch_plan(&self, job: &Job, failure: &LaunchFailure, now: DateTime<Utc>) -> Option<Relaunch> {
        if !failure.kind.is_retryable() || self.timers.is_none() {
            return None;
        }
        let entry = self.config.launch_table.job_types.get(&job.job_type)?;
        let round = job.attempt.launch_round.unwrap_or(0) + 1;
        let delay =
            contract::relaunch_delay(round, contract::jitter_seed(&job.job_id, 1000 * job.attempt.number + round));
        let at = now + chrono::Duration::from_std(delay).unwrap_or_default();
        let anchor = job.history.last().and_then(|a| a.retry_at.or(a.stopped_at)).unwrap_or(job.created_at);
        let seconds = entry.start_timeout_seconds.unwrap_or(contract::DEFAULT_LAUNCH_DEADLINE_SECONDS);
        (at <= anchor + chrono::Duration::seconds(i64::from(seconds))).then_some(Relaunch { round, at })
    }

    /// Records a launch that started no task (1 UpdateItem), or answers with the record that moved
    /// on meanwhile. A job holding a slot gives it back at once (the attempt is over: 1
    /// TransactWriteItems); the caller admits the next job. A retryable failure within the launch
    /// deadline is relaunched by a timer ([`LaunchService::relaunch_plan`]; the record says when,
    /// `relaunchAt`), so a burst larger than ECS accepts never fails a job: its launch backs off,
    /// exponentially with full jitter, and is tried again with the same clientToken.
    async fn record_failure(&self, job: Job, failure: LaunchFailure) -> Result<Launch, ServiceError> {
        tracing::warn!(job_id = %job.job_id, kind = ?failure.kind, reason = %failure.reason, "launch failed");
        let attempt = job.attempt.number;
        let now = self.clock.now();
        let relaunch = self.relaunch_plan(&job, &failure, now);
        let recorded = self.store.record_launch_failure(&job.job_id, attempt, &failure, relaunch, now).await?;
        if let (Ok(_), Some(r)) = (&recorded, relaunch) {
            let timer = Timer { round: r.round, ..Timer::new(TimerKind::Relaunch, &job.job_id, attempt) };
            // The record says when (relaunchAt): a lost timer is found again from it.
            if let Err(e) = self.arm(&timer, r.at).await {
                tracing::warn!(job_id = %job.job_id, attempt, round = r.round, error = %e, "relaunch timer not armed");
            }
        }
        let current = match recorded {
            Ok(job) => job,
            // The job was cancelled while RunTask failed: for a job holding a slot, record that no
            // task started, so the record shows the attempt is over, and give the slot back.
            Err(Some(current))
                if current.slot.is_some()
                    && Transition::RecordCancelledLaunchFailure.may_start_from(current.status)
                    && current.attempt.task_arn.is_none() =>
            {
                let now = self.clock.now();
                let recorded = self.store.record_cancelled_launch_failure(&job.job_id, attempt, &failure, now).await?;
                let current = recorded.unwrap_or_else(|existing| existing.unwrap_or(current));
                return Ok(Launch::Superseded(self.release_spent(current).await?));
            }
            // Events for this attempt arrived (a task did start after all), or the job was cancelled.
            Err(Some(current)) if !Transition::RecordLaunchFailure.may_start_from(current.status) => {
                return Ok(Launch::Superseded(current));
            }
            Err(Some(current)) => current,
            Err(None) => self.current(&job.job_id).await?,
        };
        let current = self.release_spent(current).await?;
        Ok(Launch::Failed { job: current, failure })
    }

    /// Gives back the slot `job` holds when its attempt is over ([`machine::holds_spent_slot`]):
    /// [`Store::release`] (1 TransactWriteItems, more only on drift or conflict). Returns the record
    /// without the slot; unchanged when there was nothing to release. Admits nothing: callers
    /// follow a release with an admission.
    pub async fn release_spent(&self, mut job: Job) -> Result<Job, ServiceError> {
        let Some(slot) = job.slot.filter(|_| machine::holds_spent_slot(&job, self.clock.now().timestamp_millis()))
        else {
            return Ok(job);
        };
        let limits = self.config.launch_table.limits(&job.job_type);
        match self.store.release(&job.job_id, slot, &limits).await? {
            ReleaseOutcome::Released { drifted } => {
                tracing::info!(job_id = %job.job_id, slot, status = %job.status, ?drifted, "slot released");
            }
            ReleaseOutcome::NotHeld => {
                tracing::debug!(job_id = %job.job_id, slot, "slot already released");
            }
        }
        job.slot = None;
        Ok(job)
    }

    /// After a write that may have ended `job`'s attempt (track applied an event, or saw that a
    /// duplicate concerns an attempt that is over): gives back its slot if it still holds one
    /// ([`LaunchService::release_spent`]) and then admits from its queue
    /// ([`LaunchService::admit_and_launch`]). `Ok(None)`: no slot was held, so nothing was done.
    ///
    /// Twice, late or concurrently (duplicate events in concurrent track invocations): the release
    /// is per job, so at most one of them gives the slot back; each of them then admits, and
    /// admission is safe to run any number of times concurrently (each job is admitted once, each
    /// counter stays within its limit).
    pub async fn release_and_admit(&self, job: &Job, budget: &AdmitBudget) -> Result<Option<Admission>, ServiceError> {
        if !machine::holds_spent_slot(job, self.clock.now().timestamp_millis()) {
            return Ok(None);
        }
        let released = self.release_spent(job.clone()).await?;
        if self.fault == Some(Fault::CrashAfterRelease) {
            return Err(ServiceError::InjectedFault);
        }
        self.admit_after(&released, budget).await
    }

    /// Admits from the queue of `job`'s type (after one of its slots was given back, or to repair a
    /// crash between a release and its admission); `Ok(None)` when no limit applies to it.
    pub async fn admit_after(&self, job: &Job, budget: &AdmitBudget) -> Result<Option<Admission>, ServiceError> {
        let Some(queue_key) = self.config.launch_table.queue_key(&job.job_type) else {
            return Ok(None);
        };
        Ok(Some(Box::pin(self.admit_and_launch(queue_key, None, budget)).await?))
    }

    /// Admits from every queue in `queue_keys` (each with its own `budget`): what a reconciler
    /// calls on a schedule, with [`contract::LaunchTable::queue_keys`], to start jobs that nothing
    /// else would start (see the module doc's residual cases).
    pub async fn admit_all(&self, queue_keys: &[String], budget: &AdmitBudget) -> Result<Vec<Admission>, ServiceError> {
        let mut admissions = Vec::with_capacity(queue_keys.len());
        for key in queue_keys {
            admissions.push(Box::pin(self.admit_and_launch(key, None, budget)).await?);
        }
        Ok(admissions)
    }

    /// The time one launch may take in the worst case (RunTask's tries with their backoff and
    /// attempt timeouts, and the writes around it): admission starts no further launch with less
    /// than this left before the deadline.
    pub fn launch_reserve(&self) -> Duration {
        let policy = self.launcher.policy();
        policy.budget() + ECS_ATTEMPT_TIMEOUT * policy.max_tries + Duration::from_secs(3)
    }

    /// Admits jobs from queue `queue_key`, oldest first, and launches each one it admits.
    ///
    /// First it reads the queue's own counter (1 GetItem, strongly consistent: the project's for
    /// [`contract::PROJECT_QUEUE`], else the type's): a full queue ends the call there, and the
    /// call stops once it has used the room it saw (less any slot it sees another caller take).
    /// Then it reads the queue a page at a time (1 Query per `budget.page_size` entries) and, per
    /// entry, the job (1 GetItem, strongly consistent; none for `hint`, the record the caller just
    /// wrote, which joins the queue in its place even before the index shows it). Then by the
    /// job's state:
    /// - QUEUED: the Admit transaction ([`Store::admit`]); admitted → [`LaunchService::launch`];
    ///   not queued any more → skipped (someone admitted or cancelled it); a full counter → stop
    ///   ([`AdmissionEnd::Full`]), except a full job-type counter in the project queue, which
    ///   skips that job type for the rest of the call;
    /// - SUBMITTED with a slot, no task and an expired lease (its admitter died before RunTask):
    ///   claimed and launched ([`LaunchService::claim_and_launch`]);
    /// - an attempt that is over but still holds a slot: released, and the room it frees is used;
    /// - anything else (launching elsewhere, or an index entry that lags its job): skipped.
    ///
    /// A launch that fails gives its slot back ([`LaunchService::launch`]), so the call goes on.
    /// The work is bounded by `budget` (launches, entries, deadline), never by the queue's length.
    ///
    /// Any number of calls may run at once, for the same queue or not, repeated or late: each job
    /// is admitted by one Admit transaction at most and each counter is checked and incremented in
    /// the same transaction, so no limit is exceeded and no job launches twice (a second launcher
    /// of the same attempt would use the same clientToken anyway). Calls go in queue order, so a
    /// job is admitted only after every older job the index showed was admitted, cancelled or (in
    /// the project queue) of a full type.
    pub async fn admit_and_launch(
        &self,
        queue_key: &str,
        hint: Option<Job>,
        budget: &AdmitBudget,
    ) -> Result<Admission, ServiceError> {
        let mut admission = Admission::new();
        let mut hint = hint.filter(|h| h.status == JobStatus::Queued && h.queue_key.as_deref() == Some(queue_key));
        // The room the queue's own counter leaves, read first (strongly consistent): a full queue
        // costs one read, not a Query and a refused transaction, and a call stops once it filled
        // the room. It may be stale by the time of a transaction (another caller took a slot):
        // the transaction's condition decides, and a refused one stops the call as well.
        let mut room = self.room(queue_key).await?;
        if room <= 0 {
            admission.end = AdmissionEnd::Full;
            return Ok(admission);
        }
        let mut full_types: BTreeSet<String> = BTreeSet::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut page: Option<String> = None;
        loop {
            let listed = self.store.queue_page(queue_key, budget.page_size, page.as_deref()).await?;
            let mut entries = listed.entries;
            if let Some(h) = &hint {
                let order = h.queue_order.clone().unwrap_or_default();
                let belongs = listed.next.is_none() || entries.last().is_some_and(|last| order <= last.order);
                if belongs && !entries.iter().any(|e| e.job_id == h.job_id) {
                    entries.push(QueueEntry { job_id: h.job_id.clone(), order });
                    entries.sort_by(|a, b| a.order.cmp(&b.order));
                }
            }
            for entry in entries {
                if !seen.insert(entry.job_id.clone()) {
                    continue;
                }
                let launches = u32::try_from(admission.launched.len()).unwrap_or(u32::MAX);
                if admission.examined >= budget.max_entries || launches >= budget.max_launches {
                    admission.end = AdmissionEnd::Budget;
                    return Ok(admission);
                }
                admission.examined += 1;
                let is_hint = hint.as_ref().is_some_and(|h| h.job_id == entry.job_id);
                let record = match hint.take_if(|_| is_hint) {
                    Some(h) => h,
                    None => match self.store.get(&entry.job_id).await? {
                        Some(job) => job,
                        None => continue,
                    },
                };
                let deadline_near = launches > 0 && self.deadline_near(budget);
                match self.admit_entry(record, queue_key, budget, &mut full_types, deadline_near).await? {
                    Step::Launched(launch) => {
                        // A new slot taken, unless this was a claim of one already held; a failed
                        // launch gave its slot back.
                        room += i64::from(matches!(launch.launch, Launch::Failed { .. }));
                        room -= i64::from(launch.admitted);
                        admission.launched.push(launch.launch);
                        if room <= 0 {
                            admission.end = AdmissionEnd::Full;
                            return Ok(admission);
                        }
                    }
                    Step::Released(current) => {
                        room += 1;
                        if is_hint {
                            admission.hint = Some(current);
                        }
                    }
                    Step::Taken(current) => {
                        // Another caller admitted this job after this call read its room (the
                        // strongly consistent read just before said QUEUED): that slot is gone.
                        room -= 1;
                        if is_hint {
                            admission.hint = Some(current);
                        }
                        if room <= 0 {
                            admission.end = AdmissionEnd::Full;
                            return Ok(admission);
                        }
                    }
                    Step::Skipped(current) => {
                        if is_hint {
                            admission.hint = current;
                        }
                    }
                    Step::Stop(end, current) => {
                        if is_hint {
                            admission.hint = current;
                        }
                        admission.end = end;
                        return Ok(admission);
                    }
                }
            }
            match listed.next {
                Some(next) => page = Some(next),
                None => {
                    admission.end = AdmissionEnd::QueueEmpty;
                    return Ok(admission);
                }
            }
        }
    }

    /// How many more slots queue `queue_key`'s own counter allows (1 GetItem): the project's for
    /// [`contract::PROJECT_QUEUE`], else the job type's. A queue no limit names any more (the
    /// configuration changed) has unbounded room: its jobs are admitted with the limits they have
    /// now.
    async fn room(&self, queue_key: &str) -> Result<i64, ServiceError> {
        let table = &self.config.launch_table;
        let max = if queue_key == contract::PROJECT_QUEUE {
            table.max_concurrency
        } else {
            table.job_types.get(queue_key).and_then(|e| e.max_concurrency)
        };
        let Some(max) = max else {
            return Ok(i64::MAX);
        };
        let running = self.store.counter(&contract::limit_item_key(queue_key)).await?.unwrap_or(0);
        Ok(i64::from(max) - running)
    }

    fn deadline_near(&self, budget: &AdmitBudget) -> bool {
        let reserve = i64::try_from(self.launch_reserve().as_millis()).unwrap_or(i64::MAX);
        budget.deadline_ms.is_some_and(|deadline| Utc::now().timestamp_millis() + reserve > deadline)
    }

    /// One queue entry's job, as read: see [`LaunchService::admit_and_launch`].
    async fn admit_entry(
        &self,
        job: Job,
        queue_key: &str,
        budget: &AdmitBudget,
        full_types: &mut BTreeSet<String>,
        deadline_near: bool,
    ) -> Result<Step, ServiceError> {
        let now = self.clock.now();
        if job.status == JobStatus::Queued && job.slot.is_none() {
            if full_types.contains(&job.job_type) {
                return Ok(Step::Skipped(Some(job)));
            }
            if deadline_near {
                return Ok(Step::Stop(AdmissionEnd::Deadline, Some(job)));
            }
            let limits = self.config.launch_table.limits(&job.job_type);
            let random = std::collections::hash_map::RandomState::new();
            for conflict in 0..ADMIT_CONFLICT_TRIES {
                match self.store.admit(&job, &limits, budget.lease_until_ms, now).await? {
                    AdmitOutcome::Admitted(admitted) => {
                        tracing::info!(job_id = %admitted.job_id, queue_key, "job admitted");
                        let launch = Box::pin(self.launch(*admitted)).await?;
                        return Ok(Step::Launched(Admitted { launch, admitted: true }));
                    }
                    AdmitOutcome::NotQueued(Some(current)) => {
                        // An SDK retry of our own committed transaction: the lease is ours.
                        let ours = current.status == JobStatus::Submitted
                            && current.slot == Some(current.attempt.number)
                            && current.lease_until == Some(budget.lease_until_ms)
                            && current.attempt.task_arn.is_none();
                        if ours {
                            let launch = Box::pin(self.launch(*current)).await?;
                            return Ok(Step::Launched(Admitted { launch, admitted: true }));
                        }
                        if current.slot.is_some() {
                            return Ok(Step::Taken(*current));
                        }
                        return Ok(Step::Skipped(Some(*current)));
                    }
                    AdmitOutcome::NotQueued(None) => return Ok(Step::Skipped(None)),
                    AdmitOutcome::Full(counters) => {
                        let project_full = counters.contains(&contract::limit_item_key(contract::PROJECT_QUEUE));
                        if queue_key != contract::PROJECT_QUEUE || project_full {
                            tracing::debug!(queue_key, ?counters, "queue at its limit");
                            return Ok(Step::Stop(AdmissionEnd::Full, Some(job)));
                        }
                        full_types.insert(job.job_type.clone());
                        return Ok(Step::Skipped(Some(job)));
                    }
                    AdmitOutcome::Conflict => {
                        let jitter = random.hash_one((&job.job_id, conflict)) % 40;
                        tokio::time::sleep(Duration::from_millis(10 + jitter)).await;
                    }
                }
            }
            return Ok(Step::Stop(AdmissionEnd::Contended, Some(job)));
        }
        if job.status == JobStatus::Submitted && job.slot.is_some() {
            if deadline_near {
                return Ok(Step::Skipped(Some(job)));
            }
            // Admitted by a caller that died before RunTask: its lease must have run out.
            return match Box::pin(self.claim_and_launch(job, now, budget.lease_until_ms)).await? {
                Claim::Launched(launch) => Ok(Step::Launched(Admitted { launch, admitted: false })),
                Claim::NotClaimed(current) => Ok(Step::Skipped(Some(current))),
            };
        }
        if machine::holds_spent_slot(&job, now.timestamp_millis()) {
            return Ok(Step::Released(self.release_spent(job).await?));
        }
        Ok(Step::Skipped(Some(job)))
    }

    /// A replay of a limited job (create-job, the same idempotency key): whatever a crash or a
    /// failure left, moves the job on as far as this caller may.
    /// - QUEUED: admits from its queue ([`LaunchService::admit_and_launch`] with the job as hint),
    ///   so a job stranded by a crash after its PutItem starts as soon as it has room.
    /// - LAUNCH_FAILED, retryable, still holding its slot (a failure of unknown outcome whose
    ///   relaunch is due: [`machine::attempt_over`]): claimed and launched again in place.
    /// - LAUNCH_FAILED, retryable, without a slot: puts the job back in its queue at its old place
    ///   ([`Store::requeue`], 1 UpdateItem) and admits; ClaimFailedLaunch would launch it without
    ///   a slot.
    /// - SUBMITTED with an expired lease (its admitter died before RunTask):
    ///   [`LaunchService::claim_and_launch`]; a relaunch that fails gives the slot back and
    ///   admits the next job.
    /// - an attempt over whose slot is still held (a crash before its release): releases and admits.
    /// - anything else: the record as it is.
    ///
    /// Twice or concurrently: every step is one conditional write or transaction, so of two
    /// replays one requeues (the other fails on QUEUED) and one admits each job.
    pub async fn resume(&self, job: Job, now: DateTime<Utc>, budget: &AdmitBudget) -> Result<Resumed, ServiceError> {
        let now_ms = now.timestamp_millis();
        let Some(queue_key) = self.config.launch_table.queue_key(&job.job_type).map(str::to_string) else {
            // No limit applies any more (the limit was removed): launch as any job.
            return Ok(match Box::pin(self.claim_and_launch(job, now, budget.lease_until_ms)).await? {
                Claim::Launched(launch) => Resumed::Launched(launch),
                Claim::NotClaimed(current) => Resumed::Current(current),
            });
        };
        // A failure of unknown outcome keeps its slot while its relaunch is coming
        // (machine::attempt_over): it is claimed in place below, with the same clientToken, never
        // requeued.
        let keeps_slot = job.slot.is_some() && !machine::attempt_over(&job, now_ms);
        let failed_retryably = job.status == JobStatus::LaunchFailed
            && machine::claimable(&job, now_ms) == Some(Transition::ClaimFailedLaunch)
            && !keeps_slot;
        let queued = if job.status == JobStatus::Queued {
            job
        } else if failed_retryably {
            let job = self.release_spent(job).await?;
            let order = job
                .queue_order
                .clone()
                .unwrap_or_else(|| contract::queue_order(&crate::job::format_ts(&job.created_at), &job.job_id));
            let attempt = job.attempt.number;
            match self.store.requeue(&job.job_id, attempt, &queue_key, &order, now).await? {
                Ok(requeued) => {
                    tracing::info!(job_id = %requeued.job_id, queue_key, "failed launch requeued by a replay");
                    requeued
                }
                Err(Some(current)) => return Ok(Resumed::Current(current)),
                Err(None) => return Ok(Resumed::Current(self.current(&job.job_id).await?)),
            }
        } else if machine::holds_spent_slot(&job, now_ms) {
            let released = self.release_spent(job).await?;
            Box::pin(self.admit_and_launch(&queue_key, None, budget)).await?;
            return Ok(Resumed::Current(released));
        } else {
            return match Box::pin(self.claim_and_launch(job, now, budget.lease_until_ms)).await? {
                Claim::Launched(launch) => {
                    if matches!(launch, Launch::Failed { .. }) {
                        // Its slot was given back: the next job may start.
                        Box::pin(self.admit_and_launch(&queue_key, None, budget)).await?;
                    }
                    Ok(Resumed::Launched(launch))
                }
                Claim::NotClaimed(current) => Ok(Resumed::Current(current)),
            };
        };
        let job_id = queued.job_id.clone();
        let admission = Box::pin(self.admit_and_launch(&queue_key, Some(queued.clone()), budget)).await?;
        if let Some(launch) = admission.launch_of(&job_id) {
            return Ok(Resumed::Launched(launch.clone()));
        }
        Ok(Resumed::Current(admission.hint.unwrap_or(queued)))
    }

    /// The job was cancelled between the write that gave this caller the launch (the conditional
    /// PutItem or the claim) and the record of its launch, so `jobgen cancel` saw no task to stop:
    /// stop the task this call started, and record it on the cancelled record.
    ///
    /// The answer is the cancelled job whatever StopTask does. The job's outcome is decided
    /// (CANCELLED is terminal, and the tracker keeps it while recording the task's events), and
    /// an error would help no caller: a retry of the request replays a cancelled job and starts
    /// or stops nothing. A StopTask that still fails after the launcher's retries is logged as
    /// an error naming the task and the command that stops it.
    async fn stop_cancelled(&self, cancelled: Job, spec: &LaunchSpec, launched: &Launched) -> Launch {
        let (job_id, task_arn) = (cancelled.job_id.as_str(), launched.task_arn.as_str());
        let cluster = launched.cluster_arn.as_deref().unwrap_or(&spec.cluster);
        let stopped = self.launcher.stop(cluster, task_arn, CANCELLED_DURING_LAUNCH).await;
        match &stopped {
            Ok(tries) => {
                tracing::info!(job_id, task_arn, tries, "job was cancelled during its launch: its task was stopped");
            }
            Err(failure) => tracing::error!(
                job_id,
                task_arn,
                cluster,
                error = %failure,
                "job was cancelled during its launch but its task could not be stopped: it runs until it exits; \
                 stop it with `aws ecs stop-task --cluster {cluster} --task {task_arn}`"
            ),
        }
        // The task ARN lets `jobgen status` and `jobgen logs` find the task; the tracker would
        // also record it from the task's first event, so a failed write only costs a warning.
        let attempt = cancelled.attempt.number;
        let job = match self.store.record_cancelled_launch(job_id, attempt, launched, self.clock.now()).await {
            Ok(Ok(job)) => job,
            Ok(Err(current)) => current.unwrap_or(cancelled),
            Err(e) => {
                tracing::warn!(job_id, task_arn, error = %e, "cannot record the stopped task on the cancelled job");
                cancelled
            }
        };
        Launch::Cancelled { job, stopped }
    }

    /// The record, read again after a conditional write that failed without returning it.
    async fn current(&self, job_id: &str) -> Result<Job, ServiceError> {
        self.store.get(job_id).await?.ok_or_else(|| ServiceError::Vanished { job_id: job_id.to_string() })
    }
}
