//! The launch service: the side effects of starting and stopping a job's task, implemented once
//! for every path that needs them. create-job calls it today (a new job: [`LaunchService::launch`];
//! a replay: [`LaunchService::claim_and_launch`]); retries, queue admission, timeouts and
//! reconciliation are meant to call the same methods, so a launch is recorded, a failure is
//! classified and a task of a job cancelled mid-launch is stopped the same way whoever launches.
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
//! job (Submit) or won a claim (ClaimAbandonedLaunch, ClaimFailedLaunch) holds the launch.

use chrono::{DateTime, Utc};

use crate::config::RuntimeConfig;
use crate::job::{Job, LaunchErrorKind};
use crate::launch::{LaunchFailure, LaunchSpec, Launched};
use crate::launcher::{Launcher, RunTaskApi, StopFailure};
use crate::machine::{self, Transition};
use crate::store::{Store, StoreError};

/// StopTask reason (the task's stoppedReason) for a task whose job was cancelled during its launch.
pub const CANCELLED_DURING_LAUNCH: &str = "jobgen: job cancelled during launch";

/// A fault to inject, for tests and the local simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Stop right after the record is written (or the lease claimed), before RunTask, as if the
    /// function crashed or timed out there.
    CrashBeforeRunTask,
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
}

impl ServiceError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ServiceError::Store(e) => e.is_retryable(),
            ServiceError::Vanished { .. } => true,
            ServiceError::InjectedFault => false,
        }
    }
}

/// Launches and stops jobs' tasks: the table, the ECS launcher and the stack's launch table.
#[derive(Debug)]
pub struct LaunchService<A> {
    store: Store,
    launcher: Launcher<A>,
    config: RuntimeConfig,
    fault: Option<Fault>,
}

impl<A: RunTaskApi> LaunchService<A> {
    /// A service over `store` and `launcher`, launching the job types of `config`.
    pub fn new(store: Store, launcher: Launcher<A>, config: RuntimeConfig) -> Self {
        LaunchService { store, launcher, config, fault: None }
    }

    /// Injects a fault.
    pub fn with_fault(mut self, fault: Option<Fault>) -> Self {
        self.fault = fault;
        self
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
        Ok(LaunchSpec::new(
            &self.config.project,
            &resolved,
            &job.job_id,
            job.attempt.number,
            job.environment.clone(),
            job.command.clone(),
        ))
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
        match self.launcher.launch(&spec).await {
            Ok(launched) => {
                let recorded = self.store.record_launch(&job.job_id, attempt, &launched, Utc::now()).await?;
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

    /// Records a launch that started no task (1 UpdateItem), or answers with the record that moved
    /// on meanwhile.
    async fn record_failure(&self, job: Job, failure: LaunchFailure) -> Result<Launch, ServiceError> {
        tracing::warn!(job_id = %job.job_id, kind = ?failure.kind, reason = %failure.reason, "launch failed");
        let recorded = self.store.record_launch_failure(&job.job_id, job.attempt.number, &failure, Utc::now()).await?;
        let current = match recorded {
            Ok(job) => job,
            // Events for this attempt arrived (a task did start after all), or the job was cancelled.
            Err(Some(current)) if !Transition::RecordLaunchFailure.may_start_from(current.status) => {
                return Ok(Launch::Superseded(current));
            }
            Err(Some(current)) => current,
            Err(None) => self.current(&job.job_id).await?,
        };
        Ok(Launch::Failed { job: current, failure })
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
        let job = match self.store.record_cancelled_launch(job_id, attempt, launched, Utc::now()).await {
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
