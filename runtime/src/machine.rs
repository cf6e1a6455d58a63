//! The job state machine: every write that may change a job record, as one table
//! ([`TRANSITIONS`]) of the statuses it may start from and the status it moves to. The DynamoDB
//! conditions in `store` render their status guard from this table, so the table is what a reader
//! checks, and what a change to the lifecycle changes first.
//!
//! | transition | made by | written by | from | to | the write also requires |
//! |---|---|---|---|---|---|
//! | Submit | create-job | Store::put_new | (no record) | SUBMITTED | - |
//! | ClaimAbandonedLaunch | launch service (a replay) | Store::claim_launch | SUBMITTED | SUBMITTED | this attempt; no task; the launch lease is missing or expired |
//! | ClaimFailedLaunch | launch service (a replay) | Store::claim_launch | LAUNCH_FAILED | SUBMITTED | this attempt; no task; launchRetryable |
//! | RecordLaunch | launch service | Store::record_launch | SUBMITTED | STARTING | this attempt; no event applied (no ecsVersion) |
//! | RecordLaunchFailure | launch service | Store::record_launch_failure | SUBMITTED | LAUNCH_FAILED | this attempt; no event applied (no ecsVersion) |
//! | RecordCancelledLaunch | launch service | Store::record_cancelled_launch | CANCELLED | unchanged | this attempt; no task, or this task |
//! | ApplyEvent | track | Store::apply_event | SUBMITTED, STARTING, RUNNING, LAUNCH_FAILED | the event's: STARTING or RUNNING | the record exists; this attempt; no task, or this task; a newer ecsVersion |
//! | ApplyStoppedEvent | track | Store::apply_event | SUBMITTED, STARTING, RUNNING, LAUNCH_FAILED, SUCCEEDED, FAILED | the event's: SUCCEEDED or FAILED | the record exists; this attempt; no task, or this task; a newer ecsVersion |
//! | RecordEcsFactsOnCancelled | track | Store::apply_event_to_cancelled | CANCELLED | unchanged | the record exists; this attempt; no task, or this task; a newer ecsVersion |
//! | Cancel | jobgen cancel | Store::cancel | SUBMITTED, STARTING, RUNNING, LAUNCH_FAILED | CANCELLED | the record exists |
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
//! from every non-terminal status (so a new QUEUED or retry-backoff status must be cancellable).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::job::{Job, JobStatus};

/// A named write that may change a job record: one row of [`TRANSITIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// create-job records a new job.
    Submit,
    /// A replay takes over a launch whose launcher died before recording a task (its lease expired).
    ClaimAbandonedLaunch,
    /// A replay relaunches a launch that failed retryably.
    ClaimFailedLaunch,
    /// RunTask started the task.
    RecordLaunch,
    /// RunTask failed after its retries.
    RecordLaunchFailure,
    /// The job was cancelled while its task was launching: the stopped task is recorded on it.
    RecordCancelledLaunch,
    /// A task state change before STOPPED.
    ApplyEvent,
    /// A STOPPED task state change: the job's outcome.
    ApplyStoppedEvent,
    /// A task state change of a cancelled job: ECS facts, not status.
    RecordEcsFactsOnCancelled,
    /// `jobgen cancel`.
    Cancel,
}

impl Transition {
    /// Every transition, in table order.
    pub const ALL: [Transition; 10] = [
        Transition::Submit,
        Transition::ClaimAbandonedLaunch,
        Transition::ClaimFailedLaunch,
        Transition::RecordLaunch,
        Transition::RecordLaunchFailure,
        Transition::RecordCancelledLaunch,
        Transition::ApplyEvent,
        Transition::ApplyStoppedEvent,
        Transition::RecordEcsFactsOnCancelled,
        Transition::Cancel,
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
        if status.is_terminal() { Transition::ApplyStoppedEvent } else { Transition::ApplyEvent }
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

use JobStatus::{Cancelled, Failed, LaunchFailed, Running, Starting, Submitted, Succeeded};

/// The statuses a job with a live (or possible) task may be in: where events and cancels start.
const LIVE: &[JobStatus] = &[Submitted, Starting, Running, LaunchFailed];

/// What an event of a task that ran the job's attempt applies to, for the job's outcome: the live
/// statuses, and an earlier outcome the event refines.
const OUTCOME_FROM: &[JobStatus] = &[Submitted, Starting, Running, LaunchFailed, Succeeded, Failed];

/// The other conditions of the tracker's three writes.
const EVENT_REQUIRES: &str = "the record exists; this attempt; no task, or this task; a newer ecsVersion";

/// Every transition of a job record. Indexed by [`Transition`] (rows in declaration order).
pub const TRANSITIONS: [Rule; 10] = [
    Rule {
        transition: Transition::Submit,
        by: "create-job",
        write: "Store::put_new",
        from: &[],
        to: To::Status(Submitted),
        requires: "-",
    },
    Rule {
        transition: Transition::ClaimAbandonedLaunch,
        by: "launch service (a replay)",
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
        to: To::Event(&[Succeeded, Failed]),
        requires: EVENT_REQUIRES,
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
        transition: Transition::Cancel,
        by: "jobgen cancel",
        write: "Store::cancel",
        from: LIVE,
        to: To::Status(Cancelled),
        requires: "the record exists",
    },
];

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
    /// `detail.version`.
    pub version: i64,
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
        // Exactly one transition creates the record, and it creates it SUBMITTED.
        let creating: Vec<&Rule> = TRANSITIONS.iter().filter(|r| r.from.is_empty()).collect();
        assert_eq!(creating.len(), 1);
        assert_eq!((creating[0].transition, creating[0].to), (Transition::Submit, To::Status(JobStatus::Submitted)));
    }

    #[test]
    fn nothing_leaves_a_terminal_status_but_a_refined_outcome() {
        for r in &TRANSITIONS {
            for from in r.from.iter().filter(|s| s.is_terminal()) {
                match r.to {
                    To::Unchanged => {}
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
                for r in TRANSITIONS.iter().filter(|r| r.from.contains(&s)) {
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
        for s in [Starting, Running, Succeeded, Failed, Cancelled, JobStatus::Unknown] {
            assert_eq!(claimable(&job(s, None, None, Some(true)), now), None, "{s:?}");
        }
    }
}
