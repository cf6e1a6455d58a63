//! The job state machine: every write that may change a job record, as one table
//! ([`TRANSITIONS`]) of the statuses it may start from and the status it moves to. The DynamoDB
//! conditions in `store` render their status guard from this table, so the table is what a reader
//! checks, and what a change to the lifecycle changes first.
//!
//! | transition | made by | written by | from | to | the write also requires |
//! |---|---|---|---|---|---|
//! | Submit | create-job | Store::put_new | (no record) | SUBMITTED | no limit applies to the job |
//! | Queue | create-job | Store::put_new | (no record) | QUEUED | a limit applies to the job; queueKey and queueOrder set |
//! | Admit | launch service (admission) | Store::admit | QUEUED | SUBMITTED | no slot; in the same transaction, every counter of the job's limits below its limit (each counts one more); sets the slot and the launch lease |
//! | ClaimAbandonedLaunch | launch service (a replay, admission) | Store::claim_launch | SUBMITTED | SUBMITTED | this attempt; no task; the launch lease is missing or expired |
//! | ClaimFailedLaunch | launch service (a replay) | Store::claim_launch | LAUNCH_FAILED | SUBMITTED | this attempt; no task; launchRetryable |
//! | Requeue | launch service (a replay of a limited job) | Store::requeue | LAUNCH_FAILED | QUEUED | this attempt; no task; launchRetryable; no slot |
//! | RecordLaunch | launch service | Store::record_launch | SUBMITTED | STARTING | this attempt; no event applied (no ecsVersion) |
//! | RecordLaunchFailure | launch service | Store::record_launch_failure | SUBMITTED | LAUNCH_FAILED | this attempt; no event applied (no ecsVersion) |
//! | RecordCancelledLaunch | launch service | Store::record_cancelled_launch | CANCELLED | unchanged | this attempt; no task, or this task |
//! | RecordCancelledLaunchFailure | launch service | Store::record_cancelled_launch_failure | CANCELLED | unchanged | this attempt; no task |
//! | ApplyEvent | track | Store::apply_event | SUBMITTED, STARTING, RUNNING, LAUNCH_FAILED | the event's: STARTING or RUNNING | the record exists; this attempt; no task, or this task; a newer ecsVersion (a repair: none newer than it read) |
//! | ApplyStoppedEvent | track | Store::apply_event | SUBMITTED, STARTING, RUNNING, LAUNCH_FAILED, SUCCEEDED, FAILED, RETRYING, TIMED_OUT | the event's: SUCCEEDED or FAILED or TIMED_OUT | the record exists; this attempt; no task, or this task; a newer ecsVersion (a repair: none newer than it read) |
//! | ApplyRetryingEvent | track | Store::apply_event | SUBMITTED, STARTING, RUNNING, LAUNCH_FAILED, RETRYING | RETRYING | the record exists; this attempt; no task, or this task; a newer ecsVersion (a repair: none newer than it read); retryAt set |
//! | RecordEcsFactsOnCancelled | track | Store::apply_event_to_cancelled | CANCELLED | unchanged | the record exists; this attempt; no task, or this task; a newer ecsVersion (a repair: none newer than it read) |
//! | Release | track, launch service | Store::release | LAUNCH_FAILED, SUCCEEDED, FAILED, CANCELLED, RETRYING, TIMED_OUT | unchanged | the slot is this attempt's; in the same transaction, every counter of the job's limits above 0 (each counts one less) |
//! | Cancel | jobgen cancel | Store::cancel | QUEUED, SUBMITTED, STARTING, RUNNING, LAUNCH_FAILED, RETRYING | CANCELLED | the record exists |
//! | Retry | launch service (the retry timer, jobgen retry) | Store::start_next_attempt | RETRYING | SUBMITTED | this attempt; no slot; the attempt moves to history and the next one starts with a launch lease |
//! | RetryQueued | launch service (the retry timer, jobgen retry) | Store::start_next_attempt | RETRYING | QUEUED | this attempt; no slot; the attempt moves to history; queueKey and queueOrder set (its place at submission) |
//! | RetryByHand | jobgen retry | Store::retry_by_hand | FAILED, TIMED_OUT, CANCELLED, LAUNCH_FAILED | RETRYING | this attempt; no slot; its task stopped or it has none and no live launch lease; retryAt now |
//! | Close | track (the reconciler) | Store::close | SUCCEEDED, FAILED, CANCELLED, TIMED_OUT | unchanged | open; no slot; removes openSince (the reconciler saw its task stopped, none, or unknown to ECS) |
//!
//! (A unit test renders this table from [`TRANSITIONS`] and compares, so the two cannot drift.)
//!
//! Reading it:
//! - SUCCEEDED, FAILED and CANCELLED are terminal ([`JobStatus::is_terminal`]): the only
//!   transition that leaves one is ApplyStoppedEvent from SUCCEEDED or FAILED to another terminal
//!   outcome of the same task (ECS can send a second, newer STOPPED event with more detail). Writes
//!   to a CANCELLED job record facts (its task, the task's ECS facts) and never its status.
//! - LAUNCH_FAILED is not terminal: a replay relaunches a retryable failure (ClaimFailedLaunch),
//!   and if RunTask did start a task after all its events move the job on (ApplyEvent).
//! - The status is a pure function of the newest ECS event applied (`job::status_for_event`), so
//!   ApplyEvent and ApplyStoppedEvent end in the same record whatever order events arrive in.
//!
//! **Timeouts and retries.** jobgen's timers ([`crate::contract::Timer`], one-shot EventBridge
//! Scheduler schedules that invoke track) never write a status themselves: a deadline that passes
//! stops the task with a reason of jobgen's own (`contract::STOP_REASON_*`), and the task's STOPPED
//! event then ends the attempt like any other (TIMED_OUT, or a START_TIMEOUT failure), so the
//! outcome stays a function of the newest event. A STOPPED event whose failure class the job
//! type's retry policy retries, while attempts remain, makes the job RETRYING (ApplyRetryingEvent,
//! with `retryAt`); the retry timer then starts the next attempt (Retry, or RetryQueued for a
//! limited job): the attempt moves to `history`, the number goes up, and events of the old task no
//! longer match. RETRYING is not terminal and is cancellable. `jobgen retry` of a finished job
//! (RetryByHand) is the one transition out of a terminal status, and only once its attempt is over.
//!
//! **Concurrency limits.** A job whose type or project has a limit
//! (`contract::LaunchTable::limits`) is created QUEUED (Queue) and waits in its queue (the
//! `byQueue` index) until Admit moves it to SUBMITTED in one transaction with the counters of its
//! limits, giving it a slot (`slot` = its attempt); from there it launches like any job. Its slot is
//! given back by Release, in one transaction with the same counters, once its attempt is over
//! ([`attempt_over`]): its task stopped, or it never got a task and no launcher can still start
//! one. A counter therefore changes only together with a job's `slot`: it is exactly the number
//! of job items holding a slot under its limit, which is what makes "never over the limit" and
//! "no slot leaks" checkable per job. A retryable launch failure of a limited job is not claimed
//! again directly (that would launch without a slot): a replay puts it back in its queue at its
//! old place (Requeue).
//!
//! **Statuses this version does not know.** Every `from` list names known statuses only and is
//! rendered as `#status IN (...)`, never as `NOT (#status IN (<terminal>))`. The two differ only for
//! a status written by a newer version ([`JobStatus::Unknown`] here: after a rollback, or an older
//! `jobgen` against a newer stack): this version never moves a job out of a status whose meaning it
//! does not know (a future terminal TIMED_OUT must not become RUNNING, FAILED or CANCELLED). Such a
//! record is left as it is: a late event is ignored and a cancel is refused with the record.
//!
//! **Extending it.** A new status is a [`JobStatus`] variant (and an entry of [`JobStatus::ALL`]);
//! a new transition is a [`Transition`] variant and a row here, its store write renders its guard
//! with the same function, and the tests below then check the new rows: every status is reached,
//! every non-terminal status can still end, nothing leaves a terminal status, and Cancel starts
//! from every non-terminal status (so QUEUED, and a new retry-backoff status, must be cancellable).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::job::{Job, JobStatus, LaunchErrorKind};

/// A named write that may change a job record: one row of [`TRANSITIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// create-job records a new job that no limit applies to.
    Submit,
    /// create-job records a new job that a limit applies to: it waits for a slot.
    Queue,
    /// Admission gives a queued job a slot, so it may launch.
    Admit,
    /// A replay (or admission) takes over a launch whose launcher died before recording a task (its
    /// lease expired).
    ClaimAbandonedLaunch,
    /// A replay relaunches a launch that failed retryably.
    ClaimFailedLaunch,
    /// A replay puts a limited job whose launch failed retryably back in its queue.
    Requeue,
    /// RunTask started the task.
    RecordLaunch,
    /// RunTask failed after its retries.
    RecordLaunchFailure,
    /// The job was cancelled while its task was launching: the stopped task is recorded on it.
    RecordCancelledLaunch,
    /// The job was cancelled while its task was launching and RunTask started none: recorded, so
    /// the record shows the attempt is over.
    RecordCancelledLaunchFailure,
    /// A task state change before STOPPED.
    ApplyEvent,
    /// A STOPPED task state change: the job's outcome.
    ApplyStoppedEvent,
    /// A STOPPED task state change whose failure the job type's retry policy retries.
    ApplyRetryingEvent,
    /// A task state change of a cancelled job: ECS facts, not status.
    RecordEcsFactsOnCancelled,
    /// The slot of an attempt that is over is given back.
    Release,
    /// `jobgen cancel`.
    Cancel,
    /// The retry timer fired (or `jobgen retry` asked): the next attempt of a job no limit applies
    /// to starts.
    Retry,
    /// The same for a limited job: the next attempt waits for a slot at its old place in its queue.
    RetryQueued,
    /// `jobgen retry` of a finished job: it becomes RETRYING, due now.
    RetryByHand,
    /// The reconciler takes a finished job that needs nothing more out of the open jobs' index.
    Close,
}

impl Transition {
    /// Every transition, in table order.
    pub const ALL: [Transition; 20] = [
        Transition::Submit,
        Transition::Queue,
        Transition::Admit,
        Transition::ClaimAbandonedLaunch,
        Transition::ClaimFailedLaunch,
        Transition::Requeue,
        Transition::RecordLaunch,
        Transition::RecordLaunchFailure,
        Transition::RecordCancelledLaunch,
        Transition::RecordCancelledLaunchFailure,
        Transition::ApplyEvent,
        Transition::ApplyStoppedEvent,
        Transition::ApplyRetryingEvent,
        Transition::RecordEcsFactsOnCancelled,
        Transition::Release,
        Transition::Cancel,
        Transition::Retry,
        Transition::RetryQueued,
        Transition::RetryByHand,
        Transition::Close,
    ];

    /// The row of this transition.
    pub fn rule(self) -> &'static Rule {
        // TRANSITIONS is in declaration order (a unit test checks), so the discriminant is the row.
        &TRANSITIONS[self as usize]
    }

    /// Whether a record in `status` may take this transition.
    pub fn may_start_from(self, status: JobStatus) -> bool {
        self.rule().from.contains(&status)
    }

    /// The transition a tracker event takes on a job that is not cancelled: its outcome for a
    /// STOPPED event, else the running state.
    pub fn for_event(status: JobStatus) -> Transition {
        match status {
            JobStatus::Retrying => Transition::ApplyRetryingEvent,
            s if s.is_terminal() => Transition::ApplyStoppedEvent,
            _ => Transition::ApplyEvent,
        }
    }
}

/// The status a transition writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    /// This status.
    Status(JobStatus),
    /// One of these, decided by the event being applied.
    Event(&'static [JobStatus]),
    /// The status stays as it is: the write records facts only.
    Unchanged,
}

impl To {
    /// Every status this transition may write (empty for [`To::Unchanged`]).
    pub fn targets(self) -> Vec<JobStatus> {
        match self {
            To::Status(status) => vec![status],
            To::Event(statuses) => statuses.to_vec(),
            To::Unchanged => Vec::new(),
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The transition.
    pub transition: Transition,
    /// Who makes it.
    pub by: &'static str,
    /// The store method whose condition enforces it.
    pub write: &'static str,
    /// The statuses it may start from; empty: it creates the record (no record may exist).
    pub from: &'static [JobStatus],
    /// The status it moves to.
    pub to: To,
    /// The write's other conditions, enforced beside the status guard in the same request.
    pub requires: &'static str,
}

use JobStatus::{Cancelled, Failed, LaunchFailed, Queued, Retrying, Running, Starting, Submitted, Succeeded, TimedOut};

/// The statuses a job with a live (or possible) task may be in: where events start.
const LIVE: &[JobStatus] = &[Submitted, Starting, Running, LaunchFailed];

/// Where a cancel starts: a job waiting for a slot, and every status with a live (or possible) task.
const CANCELLABLE: &[JobStatus] = &[Queued, Submitted, Starting, Running, LaunchFailed, Retrying];

/// The statuses an attempt may be over in ([`attempt_over`]): where a release starts.
const OVER: &[JobStatus] = &[LaunchFailed, Succeeded, Failed, Cancelled, Retrying, TimedOut];

/// What an event of a task that ran the job's attempt applies to, for the job's outcome: the live
/// statuses, and an earlier outcome the event refines.
const OUTCOME_FROM: &[JobStatus] = &[Submitted, Starting, Running, LaunchFailed, Succeeded, Failed, Retrying, TimedOut];

/// What a STOPPED event that the retry policy retries applies to: the live statuses and an earlier
/// retrying event of the same task; never a finished job (a refined event does not revive one).
const RETRY_FROM: &[JobStatus] = &[Submitted, Starting, Running, LaunchFailed, Retrying];

/// What an operator may retry by hand: a finished attempt that was not a success.
const RETRYABLE_BY_HAND: &[JobStatus] = &[Failed, TimedOut, Cancelled, LaunchFailed];

/// The terminal statuses ([`JobStatus::is_terminal`]): where Close starts.
const FINISHED: &[JobStatus] = &[Succeeded, Failed, Cancelled, TimedOut];

/// The other conditions of the two writes that start a job's next attempt.
const RETRY_REQUIRES: &str =
    "this attempt; no slot; the attempt moves to history and the next one starts with a launch lease";

/// The other conditions of the tracker's three writes.
const EVENT_REQUIRES: &str =
    "the record exists; this attempt; no task, or this task; a newer ecsVersion (a repair: none newer than it read)";

/// Every transition of a job record. Indexed by [`Transition`] (rows in declaration order).
pub const TRANSITIONS: [Rule; 20] = [
    Rule {
        transition: Transition::Submit,
        by: "create-job",
        write: "Store::put_new",
        from: &[],
        to: To::Status(Submitted),
        requires: "no limit applies to the job",
    },
    Rule {
        transition: Transition::Queue,
        by: "create-job",
        write: "Store::put_new",
        from: &[],
        to: To::Status(Queued),
        requires: "a limit applies to the job; queueKey and queueOrder set",
    },
    Rule {
        transition: Transition::Admit,
        by: "launch service (admission)",
        write: "Store::admit",
        from: &[Queued],
        to: To::Status(Submitted),
        requires: "no slot; in the same transaction, every counter of the job's limits below its limit (each counts one more); sets the slot and the launch lease",
    },
    Rule {
        transition: Transition::ClaimAbandonedLaunch,
        by: "launch service (a replay, admission)",
        write: "Store::claim_launch",
        from: &[Submitted],
        to: To::Status(Submitted),
        requires: "this attempt; no task; the launch lease is missing or expired",
    },
    Rule {
        transition: Transition::ClaimFailedLaunch,
        by: "launch service (a replay)",
        write: "Store::claim_launch",
        from: &[LaunchFailed],
        to: To::Status(Submitted),
        requires: "this attempt; no task; launchRetryable",
    },
    Rule {
        transition: Transition::Requeue,
        by: "launch service (a replay of a limited job)",
        write: "Store::requeue",
        from: &[LaunchFailed],
        to: To::Status(Queued),
        requires: "this attempt; no task; launchRetryable; no slot",
    },
    Rule {
        transition: Transition::RecordLaunch,
        by: "launch service",
        write: "Store::record_launch",
        from: &[Submitted],
        to: To::Status(Starting),
        requires: "this attempt; no event applied (no ecsVersion)",
    },
    Rule {
        transition: Transition::RecordLaunchFailure,
        by: "launch service",
        write: "Store::record_launch_failure",
        from: &[Submitted],
        to: To::Status(LaunchFailed),
        requires: "this attempt; no event applied (no ecsVersion)",
    },
    Rule {
        transition: Transition::RecordCancelledLaunch,
        by: "launch service",
        write: "Store::record_cancelled_launch",
        from: &[Cancelled],
        to: To::Unchanged,
        requires: "this attempt; no task, or this task",
    },
    Rule {
        transition: Transition::RecordCancelledLaunchFailure,
        by: "launch service",
        write: "Store::record_cancelled_launch_failure",
        from: &[Cancelled],
        to: To::Unchanged,
        requires: "this attempt; no task",
    },
    Rule {
        transition: Transition::ApplyEvent,
        by: "track",
        write: "Store::apply_event",
        from: LIVE,
        to: To::Event(&[Starting, Running]),
        requires: EVENT_REQUIRES,
    },
    Rule {
        transition: Transition::ApplyStoppedEvent,
        by: "track",
        write: "Store::apply_event",
        from: OUTCOME_FROM,
        to: To::Event(&[Succeeded, Failed, TimedOut]),
        requires: EVENT_REQUIRES,
    },
    Rule {
        transition: Transition::ApplyRetryingEvent,
        by: "track",
        write: "Store::apply_event",
        from: RETRY_FROM,
        to: To::Status(Retrying),
        requires: "the record exists; this attempt; no task, or this task; a newer ecsVersion (a repair: none newer than it read); retryAt set",
    },
    Rule {
        transition: Transition::RecordEcsFactsOnCancelled,
        by: "track",
        write: "Store::apply_event_to_cancelled",
        from: &[Cancelled],
        to: To::Unchanged,
        requires: EVENT_REQUIRES,
    },
    Rule {
        transition: Transition::Release,
        by: "track, launch service",
        write: "Store::release",
        from: OVER,
        to: To::Unchanged,
        requires: "the slot is this attempt's; in the same transaction, every counter of the job's limits above 0 (each counts one less)",
    },
    Rule {
        transition: Transition::Cancel,
        by: "jobgen cancel",
        write: "Store::cancel",
        from: CANCELLABLE,
        to: To::Status(Cancelled),
        requires: "the record exists",
    },
    Rule {
        transition: Transition::Retry,
        by: "launch service (the retry timer, jobgen retry)",
        write: "Store::start_next_attempt",
        from: &[Retrying],
        to: To::Status(Submitted),
        requires: RETRY_REQUIRES,
    },
    Rule {
        transition: Transition::RetryQueued,
        by: "launch service (the retry timer, jobgen retry)",
        write: "Store::start_next_attempt",
        from: &[Retrying],
        to: To::Status(Queued),
        requires: "this attempt; no slot; the attempt moves to history; queueKey and queueOrder set (its place at submission)",
    },
    Rule {
        transition: Transition::RetryByHand,
        by: "jobgen retry",
        write: "Store::retry_by_hand",
        from: RETRYABLE_BY_HAND,
        to: To::Status(Retrying),
        requires: "this attempt; no slot; its task stopped or it has none and no live launch lease; retryAt now",
    },
    Rule {
        transition: Transition::Close,
        by: "track (the reconciler)",
        write: "Store::close",
        from: FINISHED,
        to: To::Unchanged,
        requires: "open; no slot; removes openSince (the reconciler saw its task stopped, none, or unknown to ECS)",
    },
];

/// ECS `lastStatus` of a task that has stopped.
const ECS_STOPPED: &str = "STOPPED";

/// Whether the job's current attempt is over, judged on a record it read at `now_ms`: the one rule
/// every caller uses to decide that the attempt's slot may be released (Release).
///
/// Over when its task is known to have stopped (the tracker applied a STOPPED event of this
/// attempt: the job is SUCCEEDED, FAILED or CANCELLED), or when it never got a task and none can
/// still start: RunTask failed (LAUNCH_FAILED: an event of a task RunTask did start would have
/// moved the job on), or the job was cancelled with no task on the record and no launch lease
/// left (its launcher recorded that RunTask started nothing, or died before RunTask and its lease
/// ran out; a cancelled job is never claimed again). NOT when a task may still run: a RUNNING job
/// that was cancelled keeps its slot until its STOPPED event arrives, and a cancelled job whose
/// launcher still holds the lease may yet start a task (it then stops it, and the task's STOPPED
/// event ends the attempt).
///
/// An attempt that is over stays over (STOPPED is final; a cancelled job is never launched again;
/// Requeue needs the slot released first), so a release decided on a record read earlier is
/// still right when it is written.
pub fn attempt_over(job: &Job, now_ms: i64) -> bool {
    match job.status {
        // The outcome of a STOPPED event of this attempt; or RunTask started nothing.
        // (RETRYING and TIMED_OUT are written by a STOPPED event too, or by a retry by hand of an
        // attempt that was over.)
        JobStatus::Succeeded | JobStatus::Failed | JobStatus::Retrying | JobStatus::TimedOut => true,
        // RunTask failed; but a failure of unknown outcome (a server error or a timeout after ECS
        // may have accepted the call) whose relaunch is coming is not over: the relaunch, with the
        // same clientToken, finds the task if ECS did start one, and it must still hold the slot.
        JobStatus::LaunchFailed => {
            !(job.attempt.launch_error_kind == Some(LaunchErrorKind::Unavailable) && job.attempt.relaunch_at.is_some())
        }
        JobStatus::Cancelled => {
            job.attempt.ecs_last_status.as_deref() == Some(ECS_STOPPED)
                || (job.attempt.task_arn.is_none() && job.lease_until.is_none_or(|lease| lease < now_ms))
        }
        // Queued (no attempt yet), launching or running, or a status this version does not know.
        _ => false,
    }
}

/// Whether a finished `job` needs nothing more (no slot held, its attempt over, so no task of it can
/// still run): the test before a [`Transition::Close`].
pub fn closable(job: &Job, now_ms: i64) -> bool {
    job.status.is_terminal() && job.slot.is_none() && attempt_over(job, now_ms)
}

/// Whether `job` holds a slot that its attempt no longer needs: the test before a [`Transition::Release`].
pub fn holds_spent_slot(job: &Job, now_ms: i64) -> bool {
    job.slot.is_some() && attempt_over(job, now_ms)
}

/// Which claim a replay may make of `job` at `now_ms`, judged on a record it read: the same test
/// as the claim's condition, so a replay skips a write that would fail. `None`: nothing to claim
/// (a task is known, the lease is live, the failure was not retryable, or the status allows
/// neither claim).
pub fn claimable(job: &Job, now_ms: i64) -> Option<Transition> {
    if job.attempt.task_arn.is_some() {
        return None;
    }
    let lease_expired = job.lease_until.is_none_or(|lease| lease < now_ms);
    if Transition::ClaimAbandonedLaunch.may_start_from(job.status) && lease_expired {
        Some(Transition::ClaimAbandonedLaunch)
    } else if Transition::ClaimFailedLaunch.may_start_from(job.status) && job.attempt.launch_retryable == Some(true) {
        Some(Transition::ClaimFailedLaunch)
    } else {
        None
    }
}

/// What the tracker writes for one event: the input of ApplyEvent, ApplyStoppedEvent and
/// RecordEcsFactsOnCancelled.
#[derive(Debug, Clone, PartialEq)]
pub struct EventUpdate {
    /// The job.
    pub job_id: String,
    /// The attempt the event's task belongs to.
    pub attempt: u32,
    /// The event's task ARN.
    pub task_arn: String,
    /// `detail.version`: ECS's version counter of the task, which DescribeTasks reports too.
    pub version: i64,
    /// How `version` is ordered against the record's ([`EventOrder`]).
    pub order: EventOrder,
    /// The job status derived from the event.
    pub status: JobStatus,
    /// Event-derived attributes (contract names) and their values; a `None` is removed, so the
    /// record mirrors the newest event exactly, whatever arrived before it.
    pub fields: Vec<(&'static str, Option<Value>)>,
    /// TTL to set (terminal events when retention is configured).
    pub expires_at: Option<i64>,
    /// Write time.
    pub now: DateTime<Utc>,
}

/// How an [`EventUpdate`]'s version is compared with the record's `ecsVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventOrder {
    /// An ECS event, or a task DescribeTasks reported with its version: applied only over an older
    /// `ecsVersion` (duplicates and stale events change nothing), and its version is written.
    #[default]
    Newer,
    /// The reconciler's repair from a task DescribeTasks reported without a version (the emulator
    /// keeps none; ECS always reports one): `version` is the `ecsVersion` the reconciler read, and
    /// the write applies only if no newer event was applied since, and keeps it. A repair must never
    /// claim a version of its own: one above the record's could equal the version of the real
    /// event it stands in for, still on its way (a retried delivery), which would then be refused
    /// as not newer.
    AsRead,
}

impl EventUpdate {
    /// The transition this event takes on a job that is not cancelled.
    pub fn transition(&self) -> Transition {
        Transition::for_event(self.status)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::Utc;

    use super::*;
    use crate::job::Attempt;

    fn status_list(statuses: &[JobStatus]) -> String {
        if statuses.is_empty() {
            return "(no record)".into();
        }
        statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    }

    fn to_text(to: To) -> String {
        match to {
            To::Status(s) => s.as_str().into(),
            To::Event(statuses) => {
                format!("the event's: {}", statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or "))
            }
            To::Unchanged => "unchanged".into(),
        }
    }

    #[test]
    fn rows_are_indexed_by_transition() {
        assert_eq!(Transition::ALL.len(), TRANSITIONS.len());
        for (i, t) in Transition::ALL.into_iter().enumerate() {
            assert_eq!(t as usize, i, "Transition::ALL is in declaration order");
            assert_eq!(TRANSITIONS[i].transition, t, "row {i} is {t:?}");
            assert_eq!(t.rule().transition, t);
        }
    }

    #[test]
    fn the_module_doc_is_the_table() {
        let mut rendered = String::from(
            "//! | transition | made by | written by | from | to | the write also requires |\n//! |---|---|---|---|---|---|\n",
        );
        for r in &TRANSITIONS {
            rendered.push_str(&format!(
                "//! | {:?} | {} | {} | {} | {} | {} |\n",
                r.transition,
                r.by,
                r.write,
                status_list(r.from),
                to_text(r.to),
                r.requires
            ));
        }
        let source = include_str!("machine.rs");
        assert!(source.contains(&rendered), "the module doc's table is not TRANSITIONS; replace it with:\n{rendered}");
    }

    #[test]
    fn the_table_names_known_statuses_only() {
        for r in &TRANSITIONS {
            let mentioned = r.from.iter().copied().chain(r.to.targets());
            for s in mentioned {
                assert!(JobStatus::ALL.contains(&s), "{:?} names {s:?}", r.transition);
            }
            let unique: BTreeSet<&str> = r.from.iter().map(|s| s.as_str()).collect();
            assert_eq!(unique.len(), r.from.len(), "{:?} lists a status twice", r.transition);
        }
        // Two transitions create the record: SUBMITTED when no limit applies, else QUEUED.
        let creating: Vec<(Transition, To)> =
            TRANSITIONS.iter().filter(|r| r.from.is_empty()).map(|r| (r.transition, r.to)).collect();
        assert_eq!(
            creating,
            [
                (Transition::Submit, To::Status(JobStatus::Submitted)),
                (Transition::Queue, To::Status(JobStatus::Queued))
            ]
        );
    }

    #[test]
    fn nothing_leaves_a_terminal_status_but_a_refined_outcome() {
        for r in &TRANSITIONS {
            for from in r.from.iter().filter(|s| s.is_terminal()) {
                match r.to {
                    To::Unchanged => {}
                    // An operator's `jobgen retry` is the one way back from a finished job.
                    _ if r.transition == Transition::RetryByHand => {
                        assert_eq!(r.to, To::Status(Retrying));
                    }
                    _ => {
                        assert_eq!(r.transition, Transition::ApplyStoppedEvent, "{:?} leaves {from:?}", r.transition);
                        assert_ne!(*from, JobStatus::Cancelled, "a cancelled job's status never changes");
                        assert!(r.to.targets().iter().all(|s| s.is_terminal()), "an outcome is only refined");
                    }
                }
            }
        }
    }

    #[test]
    fn is_terminal_agrees_with_the_table() {
        for s in JobStatus::ALL {
            // A job is finished exactly when it can no longer be cancelled ...
            assert_eq!(s.is_terminal(), !Transition::Cancel.may_start_from(s), "{s:?}");
            // ... and a finished job never becomes live again.
            if s.is_terminal() {
                // ... but by an operator's `jobgen retry`.
                for r in TRANSITIONS.iter().filter(|r| r.from.contains(&s) && r.transition != Transition::RetryByHand) {
                    assert!(r.to.targets().iter().all(|t| t.is_terminal()), "{:?} revives {s:?}", r.transition);
                }
            }
        }
        assert!(!JobStatus::Unknown.is_terminal(), "an unknown status is not assumed finished");
        assert!(!Transition::Cancel.may_start_from(JobStatus::Unknown), "nor moved by this version");
    }

    #[test]
    fn every_status_is_reached_and_every_live_status_can_end() {
        // Reachable from the record's creation.
        let mut reached: BTreeSet<&str> = BTreeSet::new();
        let mut frontier: Vec<JobStatus> =
            TRANSITIONS.iter().filter(|r| r.from.is_empty()).flat_map(|r| r.to.targets()).collect();
        while let Some(s) = frontier.pop() {
            if reached.insert(s.as_str()) {
                for r in TRANSITIONS.iter().filter(|r| r.from.contains(&s)) {
                    frontier.extend(r.to.targets());
                }
            }
        }
        let all: BTreeSet<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(reached, all, "every status is reachable");
        // Every non-terminal status reaches a terminal one.
        for s in JobStatus::ALL.into_iter().filter(|s| !s.is_terminal()) {
            let mut seen: BTreeSet<&str> = BTreeSet::new();
            let mut frontier = vec![s];
            let mut ends = false;
            while let Some(at) = frontier.pop() {
                if at.is_terminal() {
                    ends = true;
                    break;
                }
                if seen.insert(at.as_str()) {
                    for r in TRANSITIONS.iter().filter(|r| r.from.contains(&at)) {
                        frontier.extend(r.to.targets());
                    }
                }
            }
            assert!(ends, "{s:?} can never end");
        }
    }

    #[test]
    fn events_take_the_transition_of_their_status() {
        for s in [JobStatus::Starting, JobStatus::Running] {
            assert_eq!(Transition::for_event(s), Transition::ApplyEvent);
            assert!(Transition::ApplyEvent.rule().to.targets().contains(&s));
        }
        for s in [JobStatus::Succeeded, JobStatus::Failed] {
            assert_eq!(Transition::for_event(s), Transition::ApplyStoppedEvent);
            assert!(Transition::ApplyStoppedEvent.rule().to.targets().contains(&s));
        }
    }

    #[test]
    fn only_admission_leaves_the_queue_and_only_a_release_follows_an_attempt() {
        // QUEUED is left by Admit (to SUBMITTED: a slot) or Cancel, nothing else: no path launches
        // a queued job without a slot.
        let leaving: BTreeSet<String> = TRANSITIONS
            .iter()
            .filter(|r| r.from.contains(&JobStatus::Queued))
            .map(|r| format!("{:?}", r.transition))
            .collect();
        assert_eq!(leaving, BTreeSet::from(["Admit".to_string(), "Cancel".to_string()]));
        // Requeue and a limited job's next attempt are the only ways back into a queue.
        let entering: Vec<Transition> = TRANSITIONS
            .iter()
            .filter(|r| !r.from.is_empty() && r.to.targets().contains(&JobStatus::Queued))
            .map(|r| r.transition)
            .collect();
        assert_eq!(entering, [Transition::Requeue, Transition::RetryQueued]);
        assert_eq!(Transition::Release.rule().to, To::Unchanged, "a release never changes the status");
    }

    #[test]
    fn attempt_over_is_the_rule_of_a_release() {
        let now = 1_000;
        let stopped = |status| {
            let mut j = job(status, Some("t"), None, None);
            j.attempt.ecs_last_status = Some("STOPPED".into());
            j
        };
        // The task stopped: over, whatever the outcome.
        for s in [Succeeded, Failed, Cancelled, Retrying, TimedOut] {
            assert!(attempt_over(&stopped(s), now), "{s:?}");
        }
        // RunTask started nothing.
        assert!(attempt_over(&job(LaunchFailed, None, None, Some(true)), now));
        assert!(attempt_over(&job(LaunchFailed, None, None, Some(false)), now));
        // Cancelled before any task: over once no launcher can still start one.
        assert!(attempt_over(&job(Cancelled, None, None, None), now), "no lease: nobody launches it");
        assert!(attempt_over(&job(Cancelled, None, Some(999), None), now), "the launcher's lease ran out");
        assert!(!attempt_over(&job(Cancelled, None, Some(1_000), None), now), "a launcher may still start a task");
        // A task that may still run keeps its slot, cancelled or not.
        assert!(!attempt_over(&job(Cancelled, Some("t"), None, None), now), "cancelled while RUNNING");
        for s in [Queued, Submitted, Starting, Running, JobStatus::Unknown] {
            assert!(!attempt_over(&job(s, Some("t"), None, None), now), "{s:?}");
            assert!(!attempt_over(&job(s, None, None, None), now), "{s:?}");
        }
        // Every status an attempt can be over in is one Release starts from, and no other.
        for s in JobStatus::ALL {
            let over = [job(s, None, None, None), stopped(s), job(s, None, Some(0), None)]
                .iter()
                .any(|j| attempt_over(j, now));
            assert_eq!(over, Transition::Release.may_start_from(s), "{s:?}");
        }
        let mut held = job(LaunchFailed, None, None, Some(true));
        assert!(!holds_spent_slot(&held, now), "no slot, nothing to release");
        held.slot = Some(1);
        assert!(holds_spent_slot(&held, now));
    }

    fn job(status: JobStatus, task: Option<&str>, lease: Option<i64>, retryable: Option<bool>) -> Job {
        let mut job =
            Job::submitted("j".into(), "t".into(), None, "f".into(), Default::default(), None, None, Utc::now(), 0);
        job.status = status;
        job.lease_until = lease;
        job.attempt = Attempt {
            number: 1,
            task_arn: task.map(str::to_string),
            launch_retryable: retryable,
            ..Attempt::default()
        };
        job
    }

    #[test]
    fn claimable_mirrors_the_claim_condition() {
        let now = 1_000;
        assert_eq!(claimable(&job(Submitted, None, Some(999), None), now), Some(Transition::ClaimAbandonedLaunch));
        assert_eq!(claimable(&job(Submitted, None, None, None), now), Some(Transition::ClaimAbandonedLaunch));
        assert_eq!(claimable(&job(Submitted, None, Some(1_000), None), now), None, "the lease is live");
        assert_eq!(claimable(&job(Submitted, Some("t"), None, None), now), None, "a task is known");
        assert_eq!(claimable(&job(LaunchFailed, None, None, Some(true)), now), Some(Transition::ClaimFailedLaunch));
        assert_eq!(claimable(&job(LaunchFailed, None, None, Some(false)), now), None);
        assert_eq!(claimable(&job(LaunchFailed, None, None, None), now), None);
        for s in [Queued, Starting, Running, Succeeded, Failed, Cancelled, Retrying, TimedOut, JobStatus::Unknown] {
            assert_eq!(claimable(&job(s, None, None, Some(true)), now), None, "{s:?}");
        }
    }
}
