//! What a launch is, independent of the SDK: the RunTask parameters of one attempt of one job
//! ([`LaunchSpec`], including the exact `overrides` JSON whose size ECS limits), how RunTask
//! failures are classified, the retry policy, and what a launch produced ([`Launched`] or
//! [`LaunchFailure`]). The SDK call itself is in [`crate::launcher`].

use std::time::Duration;

use serde::Serialize;

use crate::contract::{self, Capacity, Network, ResolvedJobType};
use crate::job::LaunchErrorKind;

/// Everything one RunTask call sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchSpec {
    /// Cluster name or ARN.
    pub cluster: String,
    /// Task definition (`family:revision` or ARN).
    pub task_definition: String,
    /// FARGATE (launch type) or FARGATE_SPOT (capacity provider strategy).
    pub capacity: Capacity,
    /// awsvpc settings.
    pub network: Network,
    /// `startedBy`: `jobgen/<project>`, matched by the EventBridge rule.
    pub started_by: String,
    /// `group`: `jobgen:<job id>:<attempt>`, parsed by the tracker.
    pub group: String,
    /// `clientToken`: the same for every call of one attempt, so ECS starts at most one task.
    pub client_token: String,
    /// The main container, which gets the environment and command overrides.
    pub container: String,
    /// Environment for the main container: the user's variables, then JOBGEN_JOB_ID/TYPE/ATTEMPT.
    pub environment: Vec<(String, String)>,
    /// Command override.
    pub command: Option<Vec<String>>,
    /// RunTask `tags`: the configuration document's ([`crate::contract::LaunchTable::tags`]), in
    /// key order; none when it has none. Given to RunTask itself rather than copied from the task
    /// definition (`propagateTags`): an existing task definition's own tags are not the project's,
    /// and with both the count could pass RunTask's 50.
    pub tags: Vec<(String, String)>,
}

/// `overrides` as RunTask's JSON wire format spells it; serialized only to measure it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskOverrideJson<'a> {
    container_overrides: [ContainerOverrideJson<'a>; 1],
}

#[derive(Serialize)]
struct ContainerOverrideJson<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a [String]>,
    environment: Vec<KeyValueJson<'a>>,
}

#[derive(Serialize)]
struct KeyValueJson<'a> {
    name: &'a str,
    value: &'a str,
}

impl LaunchSpec {
    /// The spec for `attempt` of job `job_id` of a resolved job type.
    pub fn new(
        project: &str,
        resolved: &ResolvedJobType<'_>,
        job_id: &str,
        attempt: u32,
        user_env: impl IntoIterator<Item = (String, String)>,
        command: Option<Vec<String>>,
    ) -> LaunchSpec {
        let mut environment: Vec<(String, String)> = user_env.into_iter().collect();
        environment.push((contract::TASK_ENV_JOB_ID.to_string(), job_id.to_string()));
        environment.push((contract::TASK_ENV_JOB_TYPE.to_string(), resolved.name.to_string()));
        environment.push((contract::TASK_ENV_ATTEMPT.to_string(), attempt.to_string()));
        LaunchSpec {
            cluster: resolved.cluster.to_string(),
            task_definition: resolved.entry.task_definition.clone(),
            capacity: resolved.entry.capacity,
            network: resolved.network.clone(),
            started_by: contract::started_by(project),
            group: contract::task_group(job_id, attempt),
            client_token: contract::client_token(job_id, attempt),
            container: resolved.entry.container.clone(),
            environment,
            command,
            tags: resolved.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }

    /// With [`crate::progress::TASK_ENV_PROGRESS_TABLE`] naming `table` when the job type reports
    /// progress; unchanged otherwise.
    pub fn with_progress(mut self, resolved: &ResolvedJobType<'_>, table: &str) -> LaunchSpec {
        if resolved.entry.progress {
            self.environment.push((crate::progress::TASK_ENV_PROGRESS_TABLE.to_string(), table.to_string()));
        }
        self
    }

    /// The `overrides` JSON exactly as RunTask receives it (the SDK writes the same members; member
    /// order does not change the size).
    pub fn overrides_json(&self) -> String {
        let json = TaskOverrideJson {
            container_overrides: [ContainerOverrideJson {
                name: &self.container,
                command: self.command.as_deref(),
                environment: self.environment.iter().map(|(name, value)| KeyValueJson { name, value }).collect(),
            }],
        };
        serde_json::to_string(&json).unwrap_or_default()
    }
}

/// A task that ECS accepted: what a launch records on the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launched {
    /// The task ARN.
    pub task_arn: String,
    /// The cluster ARN.
    pub cluster_arn: Option<String>,
    /// RunTask calls made.
    pub tries: u32,
}

/// A RunTask call that did not start a task, after the in-call retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("RunTask failed after {tries} call(s): {reason}")]
pub struct LaunchFailure {
    /// Throttled, capacity, unavailable, rejected.
    pub kind: LaunchErrorKind,
    /// The error code (e.g. `ThrottlingException`) or failures[] reason.
    pub code: Option<String>,
    /// Human-readable reason, recorded on the job.
    pub reason: String,
    /// RunTask calls made.
    pub tries: u32,
}

/// Error codes ECS (or the AWS front end) uses for throttling. The Rust SDK does not model
/// throttling for ECS, so it arrives as an unhandled error with one of these codes.
const THROTTLE_CODES: [&str; 7] = [
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
];

/// Classifies a RunTask exception by its error code.
///
/// Retryable: throttling, `ServerException`, `ServiceUnavailable`, `InternalFailure`. Everything
/// else (ClientException, InvalidParameterException, ClusterNotFoundException, AccessDenied, ...)
/// means the request or the deployment is wrong and repeating it cannot help.
pub fn classify_error_code(code: Option<&str>) -> LaunchErrorKind {
    match code {
        Some(c) if THROTTLE_CODES.contains(&c) || c.contains("Throttl") => LaunchErrorKind::Throttled,
        Some("ServerException" | "ServiceUnavailable" | "ServiceUnavailableException" | "InternalFailure") => {
            LaunchErrorKind::Unavailable
        }
        _ => LaunchErrorKind::Rejected,
    }
}

/// The recorded reason of an HTTP 200 RunTask answer with `failures[]` and no task. ECS reports
/// capacity shortages this way ("Capacity is unavailable at this time", `RESOURCE:*`, `AGENT`);
/// they pass, so such an answer is always [`LaunchErrorKind::Capacity`] (retryable).
pub fn failures_reason(reasons: &[String]) -> String {
    if reasons.is_empty() {
        return "RunTask returned neither a task nor a failure".to_string();
    }
    format!("RunTask failures: {}", reasons.join("; "))
}

/// Bounded exponential backoff with full jitter for the in-call RunTask retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total RunTask calls, including the first.
    pub max_tries: u32,
    /// Backoff ceiling before the first retry; doubles each retry.
    pub base_delay: Duration,
    /// Largest single backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 4 calls, sleeping at most 0.2 + 0.4 + 0.8 s: small enough to answer an HTTP caller quickly.
    fn default() -> Self {
        RetryPolicy { max_tries: 4, base_delay: Duration::from_millis(200), max_delay: Duration::from_secs(2) }
    }
}

impl RetryPolicy {
    /// No sleeping between tries (tests).
    pub fn immediate(max_tries: u32) -> RetryPolicy {
        RetryPolicy { max_tries, base_delay: Duration::ZERO, max_delay: Duration::ZERO }
    }

    /// The delay before try number `next_try` (2 for the first retry), given a random value.
    pub fn delay(&self, next_try: u32, random: u64) -> Duration {
        let exp = next_try.saturating_sub(2).min(20);
        let ceiling = self.base_delay.saturating_mul(1u32 << exp).min(self.max_delay);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        if ceiling_ms == 0 {
            return Duration::ZERO;
        }
        // `random` spread over [0, ceiling]: full jitter keeps concurrent callers from retrying in step.
        let ms = u128::from(ceiling_ms) * u128::from(random) / u128::from(u64::MAX);
        Duration::from_millis(u64::try_from(ms).unwrap_or(ceiling_ms))
    }

    /// The worst-case total sleep of one launch.
    pub fn budget(&self) -> Duration {
        (2..=self.max_tries).map(|t| self.delay(t, u64::MAX)).fold(Duration::ZERO, |a, b| a + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::LaunchTable;

    fn table() -> LaunchTable {
        crate::contract::sample_table(Capacity::FargateSpot)
    }

    #[test]
    fn spec_carries_the_contract_fields() {
        let table = table();
        let resolved = table.resolve("report").unwrap();
        let spec = LaunchSpec::new("demo", &resolved, "abc", 2, [("K".to_string(), "v\"".to_string())], None);
        assert_eq!(spec.started_by, "jobgen/demo");
        assert_eq!(spec.group, "jobgen:abc:2");
        assert_eq!(spec.client_token, "abc-2");
        let tags: Vec<(&str, &str)> = spec.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(tags, [("jobgen:project", "demo"), ("team", "reports")]);
        let json = spec.overrides_json();
        assert_eq!(
            json,
            r#"{"containerOverrides":[{"name":"app","environment":[{"name":"K","value":"v\""},{"name":"JOBGEN_JOB_ID","value":"abc"},{"name":"JOBGEN_JOB_TYPE","value":"report"},{"name":"JOBGEN_ATTEMPT","value":"2"}]}]}"#
        );
    }

    #[test]
    fn classifies_errors() {
        assert_eq!(classify_error_code(Some("ThrottlingException")), LaunchErrorKind::Throttled);
        assert_eq!(classify_error_code(Some("SomethingThrottled")), LaunchErrorKind::Throttled);
        assert_eq!(classify_error_code(Some("ServerException")), LaunchErrorKind::Unavailable);
        assert_eq!(classify_error_code(Some("ClientException")), LaunchErrorKind::Rejected);
        assert_eq!(classify_error_code(Some("InvalidParameterException")), LaunchErrorKind::Rejected);
        assert_eq!(classify_error_code(None), LaunchErrorKind::Rejected);
        assert_eq!(
            failures_reason(&["RESOURCE:MEMORY".into(), "AGENT".into()]),
            "RunTask failures: RESOURCE:MEMORY; AGENT"
        );
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(2, u64::MAX), Duration::from_millis(200));
        assert_eq!(p.delay(3, u64::MAX), Duration::from_millis(400));
        assert_eq!(p.delay(4, u64::MAX), Duration::from_millis(800));
        assert_eq!(p.delay(30, u64::MAX), Duration::from_secs(2));
        assert_eq!(p.delay(4, 0), Duration::ZERO);
        assert_eq!(p.delay(4, u64::MAX / 2), Duration::from_millis(399));
        assert_eq!(p.budget(), Duration::from_millis(1400));
        assert_eq!(RetryPolicy::immediate(5).budget(), Duration::ZERO);
    }
}
