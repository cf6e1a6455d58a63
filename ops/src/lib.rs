//! The operator library: `submit`, `status`, `list`, `watch`, `cancel`, `retry`, `stats` and
//! `logs` against a deployed stack, as data (no terminal formatting: the `jobgen` CLI renders it, and a dashboard
//! can). The stack is found by name from its CloudFormation Outputs (the names come from
//! [`jobgen_runtime::contract::outputs`], the one definition the templates also use), with
//! credentials and endpoints from the standard AWS chain. The same commands work against `jobgen dev`'s local stack:
//! `AWS_ENDPOINT_URL` points them at the emulator and `AWS_ENDPOINT_URL_LAMBDA` at jobgen dev's
//! Lambda Invoke endpoint (the standard per-service endpoint variable the SDK honours).
//!
//! Exit codes: 0 ok; 1 the job failed, was cancelled, is not found, or cannot be cancelled or
//! retried in its state; 2 usage
//! or configuration errors (bad flags, malformed `--env`, unknown job type, stack or output not
//! found); 3 an AWS call failed (endpoint unreachable, credentials, throttling).

pub mod logs;
pub mod queue;
pub mod retry;
pub mod stats;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use chrono::{DateTime, Utc};
use jobgen_runtime::contract::{self, outputs};
use jobgen_runtime::job::{Job, JobStatus};
use jobgen_runtime::store::{ListFilter, Store};
use serde_json::Value;

/// Renders any AWS SDK error with its code, message and source chain.
pub fn aws_error<E: std::error::Error>(err: &E) -> String {
    aws_sdk_ecs::error::DisplayErrorContext(err).to_string()
}

/// An operator command that did not succeed, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// Bad input or configuration (exit 2).
    #[error("{message}")]
    Usage {
        /// What happened: why.
        message: String,
        /// How to fix it.
        help: String,
    },
    /// The job does not exist (exit 1).
    #[error("job {job_id} not found in stack {stack}")]
    JobNotFound {
        /// The job id.
        job_id: String,
        /// The stack.
        stack: String,
    },
    /// The job cannot do what was asked in its state (exit 1).
    #[error("{message}")]
    JobState {
        /// The job.
        job_id: String,
        /// What happened.
        message: String,
    },
    /// A wait (`--timeout`) ran out before the job finished (exit 4): the job goes on.
    #[error("job {job_id} is still {status} after {waited_secs:.0}s (--timeout)")]
    WaitTimedOut {
        /// The job id.
        job_id: String,
        /// Its status when the wait ended.
        status: JobStatus,
        /// How long it was watched.
        waited_secs: f64,
    },
    /// Nothing answered at the endpoint (exit 3): a local stack that is not running, or no network.
    #[error("{operation}: nothing answers at {endpoint} ({reason})")]
    Unreachable {
        /// The call.
        operation: String,
        /// The endpoint (`AWS_ENDPOINT_URL`, or "the AWS endpoint").
        endpoint: String,
        /// Why, in a few words (the innermost error).
        reason: String,
    },
    /// An AWS call failed (exit 3).
    #[error("{operation} failed: {message}")]
    Aws {
        /// The call.
        operation: String,
        /// The rendered error.
        message: String,
    },
}

impl OpsError {
    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            OpsError::Usage { .. } => 2,
            OpsError::JobNotFound { .. } | OpsError::JobState { .. } => 1,
            OpsError::Aws { .. } | OpsError::Unreachable { .. } => 3,
            OpsError::WaitTimedOut { .. } => 4,
        }
    }

    /// A stable machine-readable name of the kind of error (the `code` of `--output json` errors).
    pub fn code(&self) -> &'static str {
        match self {
            OpsError::Usage { .. } => "UsageError",
            OpsError::JobNotFound { .. } => "JobNotFound",
            OpsError::JobState { .. } => "JobStateError",
            OpsError::WaitTimedOut { .. } => "WaitTimedOut",
            OpsError::Unreachable { .. } => "EndpointUnreachable",
            OpsError::Aws { .. } => "AwsError",
        }
    }

    /// How to fix it.
    pub fn help(&self) -> String {
        match self {
            OpsError::Usage { help, .. } => help.clone(),
            OpsError::JobNotFound { job_id, stack } => {
                format!(
                    "no job {job_id} in {stack}: `jobgen list --stack {stack}` shows its jobs (is it the right stack?)"
                )
            }
            OpsError::JobState { job_id, .. } => format!("see the job with `jobgen status {job_id}`"),
            OpsError::WaitTimedOut { job_id, .. } => {
                format!("the job goes on: `jobgen watch {job_id}` follows it again (a longer --timeout, or none)")
            }
            OpsError::Aws { .. } => "check credentials, region and endpoint (AWS_ENDPOINT_URL for a local stack; \
                                     `jobgen dev` prints the exports to use)"
                .into(),
            OpsError::Unreachable { endpoint, .. } if endpoint.starts_with("http") => format!(
                "is the local stack running? Start it (`jobgen dev`, or `make demo`) and use the exports it prints; \
                 to reach AWS instead, unset AWS_ENDPOINT_URL (now {endpoint})"
            ),
            OpsError::Unreachable { .. } => "check the network and the region (AWS_REGION)".into(),
        }
    }

    /// A [`OpsError::JobState`] of `job_id`.
    pub fn job_state(job_id: impl Into<String>, message: impl Into<String>) -> OpsError {
        OpsError::JobState { job_id: job_id.into(), message: message.into() }
    }

    /// An AWS call that failed (`Unreachable` when nothing answered at the endpoint).
    pub fn aws<E: std::error::Error>(operation: &str, err: &E) -> OpsError {
        let message = aws_error(err);
        match unreachable_reason(&message) {
            Some(reason) => OpsError::Unreachable {
                operation: operation.into(),
                endpoint: std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "the AWS endpoint".into()),
                reason,
            },
            None => OpsError::Aws { operation: operation.into(), message },
        }
    }
}

/// When an SDK error says the request never reached a server (a dispatch failure: refused, timed
/// out, no route, DNS), the innermost reason in a few words; else `None`.
fn unreachable_reason(rendered: &str) -> Option<String> {
    if !rendered.contains("dispatch failure") {
        return None;
    }
    // `... dispatch failure: io error: client error (Connect): tcp connect error: Connection refused
    // (os error 111) (DispatchFailure(...Debug...))`: the last reason before the Debug chain.
    let text = rendered.split(" (DispatchFailure").next().unwrap_or(rendered);
    let reason = text.rsplit(": ").next().unwrap_or(text).trim();
    Some(if reason.is_empty() { "the connection failed".into() } else { reason.to_string() })
}

/// A deployed jobgen stack: its Outputs and clients configured from the standard AWS chain.
#[derive(Debug, Clone)]
pub struct Ops {
    /// The stack name.
    pub stack: String,
    /// Output name → value.
    pub outputs: BTreeMap<String, String>,
    /// The jobs table.
    pub store: Store,
    /// Lambda (create-job invocations; track's for `retry`).
    pub lambda: aws_sdk_lambda::Client,
    /// ECS (StopTask, task definitions for logs).
    pub ecs: aws_sdk_ecs::Client,
    /// CloudWatch Logs.
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

/// Reads a stack's Outputs (DescribeStacks).
pub async fn stack_outputs(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<BTreeMap<String, String>, OpsError> {
    let out = match cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => out,
        Err(e) if aws_error(&e).contains("does not exist") => {
            return Err(OpsError::Usage {
                message: format!("--stack {stack}: no such CloudFormation stack in this account and region"),
                help: "pass the name you deployed with (or set JOBGEN_STACK); for the local stack run `jobgen dev` \
                       and use the exports it prints"
                    .into(),
            });
        }
        Err(e) => return Err(OpsError::aws("DescribeStacks", &e)),
    };
    let Some(s) = out.stacks().first() else {
        return Err(OpsError::Usage {
            message: format!("--stack {stack}: no such CloudFormation stack"),
            help: "pass the name you deployed with".into(),
        });
    };
    Ok(s.outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value().unwrap_or_default().to_string())))
        .collect())
}

impl Ops {
    /// Finds the stack and builds the clients.
    pub async fn connect(stack: &str) -> Result<Ops, OpsError> {
        let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let cfn = aws_sdk_cloudformation::Client::new(&sdk);
        let outputs = stack_outputs(&cfn, stack).await?;
        let table = outputs.get(outputs::TABLE_NAME).cloned().ok_or_else(|| OpsError::Usage {
            message: format!("--stack {stack}: has no output {}: it is not a jobgen stack", outputs::TABLE_NAME),
            help: "pass the name of a stack deployed from a `jobgen synth` template".into(),
        })?;
        Ok(Ops {
            stack: stack.to_string(),
            store: Store::new(aws_sdk_dynamodb::Client::new(&sdk), table),
            lambda: aws_sdk_lambda::Client::new(&sdk),
            ecs: aws_sdk_ecs::Client::new(&sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
            outputs,
        })
    }

    fn output(&self, name: &str) -> Result<&str, OpsError> {
        self.outputs.get(name).map(String::as_str).ok_or_else(|| OpsError::Usage {
            message: format!("--stack {}: has no output {name}", self.stack),
            help: "re-deploy the stack from a current `jobgen synth` template".into(),
        })
    }

    /// Reads a job; [`OpsError::JobNotFound`] when there is none.
    pub async fn job(&self, job_id: &str) -> Result<Job, OpsError> {
        if job_id.trim().is_empty() {
            return Err(OpsError::Usage { message: "JOB_ID: is empty".into(), help: "pass a job id".into() });
        }
        match self.store.get(job_id).await {
            Ok(Some(job)) => Ok(job),
            Ok(None) => Err(OpsError::JobNotFound { job_id: job_id.into(), stack: self.stack.clone() }),
            Err(e) => Err(OpsError::Aws { operation: "GetItem".into(), message: e.to_string() }),
        }
    }

    /// The progress `job`'s current task last reported ([`Store::progress_of`]); `None` before it
    /// has a task or when it reported none.
    pub async fn progress(&self, job: &Job) -> Result<Option<jobgen_runtime::progress::Progress>, OpsError> {
        let Some(task_arn) = &job.attempt.task_arn else { return Ok(None) };
        self.store
            .progress_of(&job.job_id, task_arn)
            .await
            .map_err(|e| OpsError::Aws { operation: "Query (progress)".into(), message: e.to_string() })
    }

    /// Invokes create-job with `request`; returns the job view (201 created, 202 queued behind a
    /// concurrency limit, 200 a replay) or the refusal.
    pub async fn submit(&self, request: &Value) -> Result<Value, OpsError> {
        let function = self.output(outputs::CREATE_JOB_FUNCTION_NAME)?;
        let out = self
            .lambda
            .invoke()
            .function_name(function)
            .payload(aws_sdk_lambda::primitives::Blob::new(request.to_string()))
            .send()
            .await
            .map_err(|e| OpsError::aws("Lambda Invoke (create-job)", &e))?;
        let body: Value = out.payload().and_then(|p| serde_json::from_slice(p.as_ref()).ok()).unwrap_or(Value::Null);
        if let Some(err) = out.function_error() {
            // The usual cause locally: Lambda calls went to the emulator, which cannot run the code.
            let hint = if std::env::var_os("AWS_ENDPOINT_URL").is_some()
                && std::env::var_os("AWS_ENDPOINT_URL_LAMBDA").is_none()
            {
                " (AWS_ENDPOINT_URL is set but AWS_ENDPOINT_URL_LAMBDA is not: for a `jobgen dev` stack, paste every \
                 export line it printed, so Lambda calls reach jobgen dev instead of the emulator)"
            } else {
                ""
            };
            return Err(OpsError::Aws {
                operation: "Lambda Invoke (create-job)".into(),
                message: format!("the function failed ({err}): {body}{hint}"),
            });
        }
        let status = body.get("statusCode").and_then(Value::as_u64).unwrap_or(500);
        // 201 started (or launching), 202 queued behind a concurrency limit, 200 a replay.
        if matches!(status, 200..=202) {
            return Ok(body);
        }
        let code = body["error"]["code"].as_str().unwrap_or("Error").to_string();
        let message = body["error"]["message"].as_str().unwrap_or("create-job refused the request").to_string();
        Err(match status {
            400 | 404 | 409 => OpsError::Usage {
                message: format!("create-job refused the job ({status} {code}): {message}"),
                help: match status {
                    404 => "use one of the stack's job types (listed in the message)".into(),
                    409 => "use a new --idempotency-key for a different job".into(),
                    _ => "fix the request as the message says".into(),
                },
            },
            _ if body.get("job").is_some() => OpsError::job_state(
                body["job"]["jobId"].as_str().unwrap_or_default(),
                format!("job {} did not start ({code}): {message}", body["job"]["jobId"]),
            ),
            _ => OpsError::Aws { operation: format!("create-job ({status} {code})"), message },
        })
    }

    /// Lists jobs, newest first, of a status and a type or any: at most `limit` (`usize::MAX`:
    /// every job of the range). A status that is not finished reads the open jobs' index; any other
    /// listing reads every job's entry of the range (see [`Store::list`]).
    pub async fn list(
        &self,
        status: Option<JobStatus>,
        job_type: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<Job>, OpsError> {
        let filter = ListFilter { status, job_type: job_type.map(str::to_string), open: false };
        let page_size = i32::try_from(limit.clamp(1, 100)).unwrap_or(100);
        let mut jobs = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let out = self
                .store
                .list(&filter, since, page_size, page.as_deref())
                .await
                .map_err(|e| OpsError::Aws { operation: "Query".into(), message: e.to_string() })?;
            jobs.extend(out.jobs);
            match out.next {
                Some(next) if jobs.len() < limit => page = Some(next),
                _ => break,
            }
        }
        jobs.truncate(limit);
        Ok(jobs)
    }

    /// One page of a listing, newest first, and the token of the next page (`None` at the end): the
    /// same indexed Query as [`Ops::list`], one page at a time, for a caller that pages (the
    /// dashboard). `page` is a token this returned before; a token that is not one is a usage error.
    pub async fn list_page(
        &self,
        filter: &ListFilter,
        since: Option<DateTime<Utc>>,
        limit: usize,
        page: Option<&str>,
    ) -> Result<jobgen_runtime::store::JobPage, OpsError> {
        let page_size = i32::try_from(limit.clamp(1, 100)).unwrap_or(100);
        self.store.list(filter, since, page_size, page).await.map_err(|e| {
            if page.is_some() && !e.is_retryable() && e.to_string().contains("token") {
                OpsError::Usage {
                    message: format!("page: {e}"),
                    help: "follow the listing's own next-page link, or start from the first page".into(),
                }
            } else {
                OpsError::Aws { operation: "Query".into(), message: e.to_string() }
            }
        })
    }

    /// Cancels a job: CANCELLED with a conditional write (never a finished job), then StopTask for
    /// its task when it has one. Returns the cancelled record and whether a task was stopped.
    pub async fn cancel(&self, job_id: &str, reason: &str) -> Result<(Job, bool), OpsError> {
        let job = self.job(job_id).await?;
        // A cancelled job whose task never reported STOPPED (create-job's StopTask after a cancel
        // during the launch failed, or the first `jobgen cancel` could not reach ECS): stopping it
        // again is what the operator means, and StopTask is idempotent.
        if job.status == JobStatus::Cancelled
            && job.attempt.task_arn.is_some()
            && job.attempt.ecs_last_status.as_deref() != Some("STOPPED")
        {
            self.stop_task(&job, reason).await?;
            return Ok((job, true));
        }
        if job.status.is_terminal() {
            return Err(OpsError::job_state(
                job_id,
                format!("job {job_id} already finished ({}): there is nothing to cancel", job.status),
            ));
        }
        let now = Utc::now();
        let expires_at = self.expires_at(now).await;
        let cancelled = match self.store.cancel(job_id, now, expires_at).await {
            Ok(Ok(job)) => job,
            Ok(Err(Some(current))) if current.status == JobStatus::Unknown => {
                return Err(OpsError::job_state(
                    job_id,
                    format!(
                        "job {job_id} has a status this version of jobgen does not know (written by a newer one): \
                     it was left as it is; cancel it with the jobgen version that deployed the stack"
                    ),
                ));
            }
            Ok(Err(Some(current))) => {
                return Err(OpsError::job_state(
                    job_id,
                    format!("job {job_id} finished ({}) before it could be cancelled", current.status),
                ));
            }
            Ok(Err(None)) => return Err(OpsError::JobNotFound { job_id: job_id.into(), stack: self.stack.clone() }),
            Err(e) => return Err(OpsError::Aws { operation: "UpdateItem (cancel)".into(), message: e.to_string() }),
        };
        if cancelled.attempt.task_arn.is_none() {
            return Ok((cancelled, false));
        }
        self.stop_task(&cancelled, reason).await?;
        Ok((cancelled, true))
    }

    /// Stops the job's current task (the caller checked it has one).
    async fn stop_task(&self, job: &Job, reason: &str) -> Result<(), OpsError> {
        let Some(task_arn) = &job.attempt.task_arn else { return Ok(()) };
        let cluster = job.attempt.cluster_arn.clone().unwrap_or_else(|| cluster_of_task(task_arn));
        self.ecs
            .stop_task()
            .cluster(cluster)
            .task(task_arn)
            .reason(reason)
            .send()
            .await
            .map_err(|e| OpsError::aws("ECS StopTask", &e))?;
        Ok(())
    }

    /// The TTL a job finished at `now` gets: the retention the stack gave its functions
    /// (GetFunctionConfiguration of track). `None` when retention is off or cannot be read — the
    /// record then stays until deleted, which is safe.
    pub async fn expires_at(&self, now: DateTime<Utc>) -> Option<i64> {
        let function = self.outputs.get(outputs::TRACK_FUNCTION_NAME)?;
        let out = self.lambda.get_function_configuration().function_name(function).send().await.ok()?;
        let env = out.environment()?.variables()?.clone();
        let days = jobgen_runtime::config::retention_days(|k| env.get(k).cloned()).ok()?;
        (days > 0).then(|| now.timestamp() + i64::from(days) * 86_400)
    }

    /// The log group and stream of a job's main container.
    pub async fn log_stream(&self, job: &Job) -> Result<Option<(String, String)>, OpsError> {
        let Some(task_arn) = &job.attempt.task_arn else { return Ok(None) };
        let cluster = job.attempt.cluster_arn.clone().unwrap_or_else(|| cluster_of_task(task_arn));
        let out = self
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .tasks(task_arn)
            .send()
            .await
            .map_err(|e| OpsError::aws("ECS DescribeTasks", &e))?;
        let Some(task) = out.tasks().first() else { return Ok(None) };
        let Some(definition) = task.task_definition_arn() else { return Ok(None) };
        let container = task
            .overrides()
            .map(|o| o.container_overrides())
            .unwrap_or_default()
            .iter()
            .find(|o| o.environment().iter().any(|e| e.name() == Some(contract::TASK_ENV_JOB_ID)))
            .and_then(|o| o.name())
            .or_else(|| task.containers().first().and_then(|c| c.name()))
            .unwrap_or("main")
            .to_string();
        Ok(logs::stream_for(&self.ecs, definition, &container, task_arn).await)
    }
}

/// The cluster part of a long task ARN (`arn:...:task/CLUSTER/ID`).
fn cluster_of_task(task_arn: &str) -> String {
    let resource = task_arn.rsplit_once(":task/").map(|(_, r)| r).unwrap_or_default();
    resource.split('/').next().unwrap_or_default().to_string()
}

/// Parses `K=V` pairs of `--env`.
pub fn parse_env(pairs: &[String]) -> Result<BTreeMap<String, String>, OpsError> {
    let mut env = BTreeMap::new();
    for pair in pairs {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(OpsError::Usage {
                message: format!("--env {pair:?}: is not KEY=VALUE"),
                help: "write each variable as --env NAME=value (the value may be empty: NAME=)".into(),
            });
        };
        if k.is_empty() {
            return Err(OpsError::Usage {
                message: format!("--env {pair:?}: the variable name is empty"),
                help: "write each variable as --env NAME=value".into(),
            });
        }
        if env.insert(k.to_string(), v.to_string()).is_some() {
            return Err(OpsError::Usage {
                message: format!("--env {k}: is given twice"),
                help: "pass each variable once".into(),
            });
        }
    }
    Ok(env)
}

/// Parses `--since`: a duration back from now (`90s`, `15m`, `2h`, `7d`) or an RFC 3339 timestamp.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, OpsError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let bad = || OpsError::Usage {
        message: format!("--since {text:?}: is neither a duration nor a timestamp"),
        help: "use a duration such as 90s, 15m, 2h, 7d, or an RFC 3339 time such as 2026-01-31T12:00:00Z".into(),
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = text.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(bad()),
    };
    Ok(now - chrono::Duration::seconds(seconds))
}

/// Parses a status name (case-insensitive).
pub fn parse_status(text: &str) -> Result<JobStatus, OpsError> {
    match JobStatus::parse(&text.to_ascii_uppercase()) {
        JobStatus::Unknown => Err(OpsError::Usage {
            message: format!("--status {text:?}: is not a job status"),
            help: format!("use one of {}", JobStatus::ALL.map(|s| s.as_str()).join(", ")),
        }),
        s => Ok(s),
    }
}

/// Whether `watch` stops at this record: terminal, or a launch failure nothing will retry by
/// itself (a throttled launch whose backoff will try again, `relaunchAt`, goes on).
pub fn watch_ends(job: &Job) -> bool {
    job.status.is_terminal() || (job.status == JobStatus::LaunchFailed && job.attempt.relaunch_at.is_none())
}

/// Exit code for a job's final status: 0 for SUCCEEDED, else 1.
pub fn final_exit_code(status: JobStatus) -> i32 {
    if status == JobStatus::Succeeded { 0 } else { 1 }
}

/// Polls a job until [`watch_ends`], calling `on_change` with the record and the time since the
/// start whenever its status or ECS state changed (the CLI prints a line; a dashboard pushes it).
pub async fn watch(
    ops: &Ops,
    job_id: &str,
    interval: Duration,
    timeout: Option<Duration>,
    mut on_change: impl FnMut(&Job, Option<&jobgen_runtime::progress::Progress>, Duration),
) -> Result<Job, OpsError> {
    let started = std::time::Instant::now();
    let mut last = String::new();
    loop {
        let job = ops.job(job_id).await?;
        // A report is extra: a failure to read it never ends the watch.
        let progress = ops.progress(&job).await.ok().flatten();
        let key = format!(
            "{}|{:?}|{:?}|{:?}",
            job.status,
            job.attempt.ecs_last_status,
            job.attempt.ecs_version,
            progress.as_ref().map(|p| p.seq)
        );
        if key != last {
            on_change(&job, progress.as_ref(), started.elapsed());
            last = key;
        }
        if watch_ends(&job) {
            return Ok(job);
        }
        if timeout.is_some_and(|t| started.elapsed() >= t) {
            return Err(OpsError::WaitTimedOut {
                job_id: job_id.to_string(),
                status: job.status,
                waited_secs: started.elapsed().as_secs_f64(),
            });
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_dispatch_failure_is_told_in_a_few_words() {
        let rendered = "dispatch failure: io error: client error (Connect): tcp connect error: Connection refused \
                        (os error 111) (DispatchFailure(DispatchFailure { source: ConnectorError { kind: Io } }))";
        assert_eq!(unreachable_reason(rendered).as_deref(), Some("Connection refused (os error 111)"));
        assert_eq!(unreachable_reason("service error: ValidationError: Stack x does not exist"), None);
    }

    #[test]
    fn parses_env_since_and_status_with_clear_errors() {
        let env = parse_env(&["A=1".into(), "B=".into(), "C=x=y".into()]).unwrap();
        assert_eq!(env.get("C").map(String::as_str), Some("x=y"));
        assert_eq!(env.get("B").map(String::as_str), Some(""));
        let e = parse_env(&["NOEQUALS".into()]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("is not KEY=VALUE"), "{e}");
        assert!(parse_env(&["=v".into()]).is_err());
        assert!(parse_env(&["A=1".into(), "A=2".into()]).is_err());
        let now = Utc::now();
        assert_eq!(parse_since("15m", now).unwrap(), now - chrono::Duration::minutes(15));
        assert_eq!(parse_since("2d", now).unwrap(), now - chrono::Duration::days(2));
        assert!(parse_since("2026-01-31T12:00:00Z", now).is_ok());
        assert!(parse_since("yesterday", now).is_err());
        assert!(parse_since("5w", now).is_err());
        assert_eq!(parse_status("running").unwrap(), JobStatus::Running);
        assert!(parse_status("done").unwrap_err().help().contains("SUCCEEDED"));
        assert_eq!(cluster_of_task("arn:aws:ecs:us-east-1:1:task/main/abc"), "main");
    }
}
