//! `jobgen retry`: start the next attempt of a finished job, as data.
//!
//! Two steps, each safe to repeat: [`Store::retry_by_hand`](jobgen_runtime::store::Store::retry_by_hand)
//! (the RetryByHand row of `jobgen_runtime::machine`: FAILED, TIMED_OUT, CANCELLED or
//! LAUNCH_FAILED → RETRYING, due now, only when the attempt is over and holds no slot), then a
//! synchronous Lambda Invoke of the track function with the Retry timer's payload — exactly what
//! the retry timer's schedule sends — so the next attempt is started by the one launch service that
//! starts every attempt (`LaunchService::fire`), never by this library.
//!
//! Twice, or concurrently with the job's own retry timer: the second write finds RETRYING and is
//! refused, and a job already RETRYING skips the write; the payload then starts the attempt once
//! (the store's `start_next_attempt` is conditional on the attempt number) and any later one finds
//! the job moved on. Late, after the job moved on (cancelled while RETRYING, or started by its
//! timer): track answers `moved-on` and nothing changes.

use chrono::Utc;
use jobgen_runtime::contract::{Timer, TimerKind, outputs};
use jobgen_runtime::job::{Job, JobStatus};
use serde_json::{Value, json};

use crate::{Ops, OpsError};

/// What `jobgen retry` did.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryReport {
    /// The job's status when the command read it.
    pub previous_status: JobStatus,
    /// The attempt that was retried (the next one is `retried_attempt + 1`).
    pub retried_attempt: u32,
    /// What track did with the timer: `retried` (the next attempt launched), `queued` (it waits
    /// for a slot of its concurrency limit) or `moved-on` (someone else already started it).
    pub action: String,
    /// track's answer as it sent it.
    pub track: Value,
    /// The job as it is afterwards.
    pub job: Job,
}

impl RetryReport {
    /// `{"jobId", "previousStatus", "retriedAttempt", "action", "track", "job"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "jobId": self.job.job_id,
            "previousStatus": self.previous_status,
            "retriedAttempt": self.retried_attempt,
            "action": self.action,
            "track": self.track,
            "job": self.job.to_json(),
        })
    }
}

/// Why a job in `job`'s state cannot be retried by hand, or `None` when its status allows it.
/// Read from the record as it is, so a refused write is explained by the record DynamoDB returned.
pub fn refusal(job: &Job, now_ms: i64) -> Option<String> {
    let id = &job.job_id;
    let status = job.status;
    match status {
        JobStatus::Queued | JobStatus::Submitted | JobStatus::Starting | JobStatus::Running => Some(format!(
            "job {id} is {status}: only a finished job can be retried; cancel it first (`jobgen cancel {id}`) or wait \
             for it to finish"
        )),
        JobStatus::Succeeded => Some(format!(
            "job {id} SUCCEEDED: it succeeded, so there is nothing to retry; submit a new job to run it again"
        )),
        JobStatus::Retrying => None,
        JobStatus::Unknown => Some(format!(
            "job {id} has a status this version of jobgen does not know (written by a newer one): it was left as it \
             is; retry it with the jobgen version that deployed the stack"
        )),
        JobStatus::Failed | JobStatus::TimedOut | JobStatus::Cancelled | JobStatus::LaunchFailed => {
            if let Some(slot) = job.slot {
                return Some(format!(
                    "job {id} is {status} but attempt {slot} still holds its concurrency slot (track gives it back \
                     when the task's STOPPED event is recorded): try again in a minute"
                ));
            }
            if job.attempt.task_arn.is_some() && job.attempt.ecs_last_status.as_deref() != Some("STOPPED") {
                return Some(format!(
                    "job {id} is {status} but its task has not stopped yet (ECS last status {}): try again in a \
                     minute, once ECS reports it STOPPED",
                    job.attempt.ecs_last_status.as_deref().unwrap_or("unknown")
                ));
            }
            if job.attempt.task_arn.is_none() && job.lease_until.is_some_and(|lease| lease >= now_ms) {
                return Some(format!(
                    "job {id} is {status} but a launch lease is still live (a create-job call may still start its \
                     task): try again in a minute"
                ));
            }
            None
        }
    }
}

impl Ops {
    /// Retries a finished job (or starts at once a RETRYING one's next attempt): see the module doc.
    pub async fn retry(&self, job_id: &str) -> Result<RetryReport, OpsError> {
        let job = self.job(job_id).await?;
        let now = Utc::now();
        if let Some(why) = refusal(&job, now.timestamp_millis()) {
            return Err(OpsError::job_state(job_id, why));
        }
        let previous_status = job.status;
        let attempt = job.attempt.number;
        if job.status != JobStatus::Retrying {
            match self.store.retry_by_hand(job_id, attempt, now).await {
                Ok(Ok(_)) => {}
                // Refused: the record DynamoDB returned says why (it moved on since it was read, or
                // a condition on its attempt failed).
                Ok(Err(Some(current)))
                    if current.status == JobStatus::Retrying && current.attempt.number == attempt => {}
                Ok(Err(Some(current))) => {
                    return Err(OpsError::job_state(
                        job_id,
                        refusal(&current, Utc::now().timestamp_millis()).unwrap_or_else(|| {
                            format!(
                                "job {job_id} changed while it was being retried (now {} at attempt {}): run `jobgen \
                                 retry {job_id}` again",
                                current.status, current.attempt.number
                            )
                        }),
                    ));
                }
                Ok(Err(None)) => {
                    return Err(OpsError::JobNotFound { job_id: job_id.into(), stack: self.stack.clone() });
                }
                Err(e) => {
                    return Err(OpsError::Aws {
                        operation: "UpdateItem (retry by hand)".into(),
                        message: e.to_string(),
                    });
                }
            }
        }
        let track = self.invoke_track(&Timer::new(TimerKind::Retry, job_id, attempt).payload(), job_id).await?;
        let action = track["action"].as_str().unwrap_or("unknown").to_string();
        let after = self.job(job_id).await?;
        match action.as_str() {
            "retried" | "queued" => {}
            "moved-on" if after.attempt.number > attempt => {}
            "no-job" => return Err(OpsError::JobNotFound { job_id: job_id.into(), stack: self.stack.clone() }),
            _ => {
                return Err(OpsError::job_state(
                    job_id,
                    format!(
                        "job {job_id}: track did not start attempt {} ({action}); the job is {} at attempt {}",
                        attempt + 1,
                        after.status,
                        after.attempt.number
                    ),
                ));
            }
        }
        Ok(RetryReport { previous_status, retried_attempt: attempt, action, track, job: after })
    }

    /// Invokes track synchronously with `payload` and returns its answer.
    async fn invoke_track(&self, payload: &Value, job_id: &str) -> Result<Value, OpsError> {
        let function = self.output(outputs::TRACK_FUNCTION_NAME)?;
        let out = self
            .lambda
            .invoke()
            .function_name(function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::RequestResponse)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| OpsError::aws("Lambda Invoke (track)", &e))?;
        let body: Value = out.payload().and_then(|p| serde_json::from_slice(p.as_ref()).ok()).unwrap_or(Value::Null);
        if let Some(err) = out.function_error() {
            return Err(OpsError::Aws {
                operation: "Lambda Invoke (track)".into(),
                message: format!(
                    "the function failed ({err}): {body}; job {job_id} is RETRYING, so its next attempt starts when \
                     `jobgen retry {job_id}` is run again"
                ),
            });
        }
        Ok(body)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn job(status: JobStatus) -> Job {
        let mut job =
            Job::submitted("j1".into(), "hello".into(), None, "f".into(), BTreeMap::new(), None, None, Utc::now(), 0);
        job.status = status;
        job.lease_until = None;
        job
    }

    #[test]
    fn refusals_say_the_state_and_what_to_do() {
        for s in [JobStatus::Running, JobStatus::Starting, JobStatus::Queued, JobStatus::Submitted] {
            let why = refusal(&job(s), 0).unwrap();
            assert!(why.contains(&format!("is {s}: only a finished job can be retried; cancel it first")), "{why}");
        }
        let why = refusal(&job(JobStatus::Succeeded), 0).unwrap();
        assert!(why.contains("it succeeded") && why.contains("submit a new job"), "{why}");
        assert!(refusal(&job(JobStatus::Unknown), 0).unwrap().contains("newer"));
        for s in
            [JobStatus::Failed, JobStatus::TimedOut, JobStatus::Cancelled, JobStatus::LaunchFailed, JobStatus::Retrying]
        {
            assert_eq!(refusal(&job(s), 0), None, "{s}");
        }

        let mut held = job(JobStatus::Failed);
        held.slot = Some(1);
        assert!(refusal(&held, 0).unwrap().contains("still holds its concurrency slot"));
        assert!(refusal(&held, 0).unwrap().contains("try again in a minute"));

        let mut running_task = job(JobStatus::Cancelled);
        running_task.attempt.task_arn = Some("arn:aws:ecs:us-east-1:1:task/main/t".into());
        running_task.attempt.ecs_last_status = Some("RUNNING".into());
        assert!(refusal(&running_task, 0).unwrap().contains("its task has not stopped yet (ECS last status RUNNING)"));
        running_task.attempt.ecs_last_status = Some("STOPPED".into());
        assert_eq!(refusal(&running_task, 0), None);

        let mut leased = job(JobStatus::Cancelled);
        leased.lease_until = Some(2_000);
        assert!(refusal(&leased, 1_000).unwrap().contains("launch lease is still live"));
        assert_eq!(refusal(&leased, 3_000), None, "an expired lease no longer blocks");
    }
}
