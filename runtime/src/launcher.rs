//! Starts a job's task: one logical RunTask with bounded, jittered retries inside the call, over a
//! small [`RunTaskApi`] seam (the ECS client in production; a scripted double in unit tests for the
//! throttle and `failures[]` answers the emulator cannot produce). Also stops a task, with the same
//! retries, for the one case create-job must: the job was cancelled while its task was launching.
//!
//! RunTask fails three ways and each ends in a [`LaunchFailure`], never in a started job:
//! an exception (classified by error code), a throttle (an unmodeled error code in the Rust SDK),
//! and HTTP 200 with `failures[]` and no task (capacity). Retries reuse the attempt's clientToken,
//! so ECS starts at most one task however many calls reach it. StopTask is idempotent (stopping a
//! stopped task changes nothing), so its retries need no token.

use std::future::Future;
use std::hash::BuildHasher;

use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride, KeyValuePair, LaunchType,
    NetworkConfiguration, Tag, TaskOverride,
};

use crate::contract::Capacity;
pub use crate::error::error_chain;
use crate::job::LaunchErrorKind;
pub use crate::launch::Launched;
use crate::launch::{LaunchFailure, LaunchSpec, RetryPolicy, classify_error_code, failures_reason};

/// The answer of one RunTask call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunTaskAnswer {
    /// ECS accepted the task.
    Started {
        /// The task ARN.
        task_arn: String,
        /// The cluster ARN.
        cluster_arn: Option<String>,
    },
    /// HTTP 200 with `failures[]` (and no task): the reasons.
    Failures(Vec<String>),
    /// An exception, timeout or transport error.
    Error {
        /// What kind, for retry and HTTP status.
        kind: LaunchErrorKind,
        /// The error code, when the service sent one.
        code: Option<String>,
        /// The message.
        message: String,
    },
}

/// A failed ECS call other than RunTask, classified like RunTask's errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsError {
    /// What kind, for retry.
    pub kind: LaunchErrorKind,
    /// The error code, when the service sent one.
    pub code: Option<String>,
    /// The message.
    pub message: String,
}

/// The ECS calls create-job makes: RunTask, and StopTask for a task whose job was cancelled while
/// it was being launched. Implemented by [`aws_sdk_ecs::Client`]; tests implement it to script
/// answers or to act between the calls.
pub trait RunTaskApi: Send + Sync {
    /// Calls RunTask once.
    fn run_task(&self, spec: &LaunchSpec) -> impl Future<Output = RunTaskAnswer> + Send;

    /// Calls StopTask once for `task_arn` in `cluster` (name or ARN), with `reason` (ECS shows it as
    /// the task's stoppedReason).
    fn stop_task(
        &self,
        cluster: &str,
        task_arn: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), EcsError>> + Send;

    /// DescribeTasks once for at most 100 `task_arns` in `cluster`: the tasks ECS still knows
    /// (about an hour after they stopped); the ones it does not are missing from the answer. The
    /// reconciler's read; a launch double that never reconciles keeps this default.
    fn describe_tasks(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> impl Future<Output = Result<Vec<aws_sdk_ecs::types::Task>, EcsError>> + Send {
        let _ = (cluster, task_arns);
        async {
            Err(EcsError {
                kind: LaunchErrorKind::Rejected,
                code: None,
                message: "DescribeTasks: not supported".into(),
            })
        }
    }

    /// ListTasks of `cluster` started by `started_by` with desired status RUNNING, every page.
    fn list_running_tasks(
        &self,
        cluster: &str,
        started_by: &str,
    ) -> impl Future<Output = Result<Vec<String>, EcsError>> + Send {
        let _ = (cluster, started_by);
        async {
            Err(EcsError { kind: LaunchErrorKind::Rejected, code: None, message: "ListTasks: not supported".into() })
        }
    }
}

/// A StopTask that still failed after the in-call retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("StopTask failed after {tries} call(s): {reason}")]
pub struct StopFailure {
    /// Throttled, unavailable, rejected.
    pub kind: LaunchErrorKind,
    /// The error code, when ECS sent one.
    pub code: Option<String>,
    /// What went wrong.
    pub reason: String,
    /// StopTask calls made.
    pub tries: u32,
}

/// RunTask with retries.
#[derive(Debug, Clone)]
pub struct Launcher<A> {
    api: A,
    policy: RetryPolicy,
}

impl<A: RunTaskApi> Launcher<A> {
    /// A launcher calling `api` with `policy`.
    pub fn new(api: A, policy: RetryPolicy) -> Self {
        Launcher { api, policy }
    }

    /// The underlying API.
    pub fn api(&self) -> &A {
        &self.api
    }

    /// The retry policy.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Starts the task of `spec`, retrying throttles, capacity failures and server errors with
    /// backoff until the policy's tries are spent.
    pub async fn launch(&self, spec: &LaunchSpec) -> Result<Launched, LaunchFailure> {
        let mut tries = 0;
        let random = std::collections::hash_map::RandomState::new();
        loop {
            tries += 1;
            let (kind, code, reason) = match self.api.run_task(spec).await {
                RunTaskAnswer::Started { task_arn, cluster_arn } => {
                    return Ok(Launched { task_arn, cluster_arn, tries });
                }
                RunTaskAnswer::Failures(reasons) => {
                    (LaunchErrorKind::Capacity, reasons.first().cloned(), failures_reason(&reasons))
                }
                RunTaskAnswer::Error { kind, code, message } => {
                    let reason = match &code {
                        Some(code) => format!("{code}: {message}"),
                        None => message,
                    };
                    (kind, code, reason)
                }
            };
            if !kind.is_retryable() || tries >= self.policy.max_tries {
                return Err(LaunchFailure { kind, code, reason, tries });
            }
            let delay = self.policy.delay(tries + 1, random.hash_one((spec.client_token.as_str(), tries)));
            tracing::warn!(tries, ?kind, %reason, delay_ms = delay.as_millis() as u64, "RunTask failed, retrying");
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
    }

    /// Stops `task_arn` in `cluster` with `reason`, retrying throttles and server errors with the
    /// same backoff as [`Launcher::launch`]. `Ok` is the number of StopTask calls made.
    pub async fn stop(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<u32, StopFailure> {
        let mut tries = 0;
        let random = std::collections::hash_map::RandomState::new();
        loop {
            tries += 1;
            let EcsError { kind, code, message } = match self.api.stop_task(cluster, task_arn, reason).await {
                Ok(()) => return Ok(tries),
                Err(err) => err,
            };
            let reason = match &code {
                Some(code) => format!("{code}: {message}"),
                None => message,
            };
            if !kind.is_retryable() || tries >= self.policy.max_tries {
                return Err(StopFailure { kind, code, reason, tries });
            }
            let delay = self.policy.delay(tries + 1, random.hash_one((task_arn, tries)));
            tracing::warn!(tries, ?kind, %reason, delay_ms = delay.as_millis() as u64, "StopTask failed, retrying");
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
    }
}

impl RunTaskApi for aws_sdk_ecs::Client {
    async fn run_task(&self, spec: &LaunchSpec) -> RunTaskAnswer {
        let request = match build_request(self, spec) {
            Ok(request) => request,
            Err(message) => return RunTaskAnswer::Error { kind: LaunchErrorKind::Rejected, code: None, message },
        };
        match request.send().await {
            Ok(output) => {
                if let Some(task) = output.tasks().first()
                    && let Some(arn) = task.task_arn()
                {
                    return RunTaskAnswer::Started {
                        task_arn: arn.to_string(),
                        cluster_arn: task.cluster_arn().map(str::to_string),
                    };
                }
                let reasons = output
                    .failures()
                    .iter()
                    .map(|f| match (f.reason(), f.detail()) {
                        (Some(r), Some(d)) => format!("{r} ({d})"),
                        (Some(r), None) => r.to_string(),
                        (None, _) => "unspecified failure".to_string(),
                    })
                    .collect();
                RunTaskAnswer::Failures(reasons)
            }
            Err(err) => classify_sdk_error(&err),
        }
    }

    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<(), EcsError> {
        match self.stop_task().cluster(cluster).task(task_arn).reason(reason).send().await {
            Ok(_) => Ok(()),
            Err(err) => Err(classify_ecs_error(&err, "StopTask")),
        }
    }

    async fn describe_tasks(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> Result<Vec<aws_sdk_ecs::types::Task>, EcsError> {
        match self.describe_tasks().cluster(cluster).set_tasks(Some(task_arns.to_vec())).send().await {
            Ok(out) => Ok(out.tasks().to_vec()),
            Err(err) => Err(classify_ecs_error(&err, "DescribeTasks")),
        }
    }

    async fn list_running_tasks(&self, cluster: &str, started_by: &str) -> Result<Vec<String>, EcsError> {
        let mut arns = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .list_tasks()
                .cluster(cluster)
                .started_by(started_by)
                .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|err| classify_ecs_error(&err, "ListTasks"))?;
            arns.extend(out.task_arns().iter().cloned());
            match out.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_string()),
                _ => return Ok(arns),
            }
        }
    }
}

fn build_request(
    client: &aws_sdk_ecs::Client,
    spec: &LaunchSpec,
) -> Result<aws_sdk_ecs::operation::run_task::builders::RunTaskFluentBuilder, String> {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(spec.network.subnets.clone()))
        .set_security_groups(Some(spec.network.security_groups.clone()))
        .assign_public_ip(if spec.network.assign_public_ip {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .map_err(|e| format!("invalid network configuration: {e}"))?;
    let environment =
        spec.environment.iter().map(|(name, value)| KeyValuePair::builder().name(name).value(value).build()).collect();
    let overrides = TaskOverride::builder()
        .container_overrides(
            ContainerOverride::builder()
                .name(&spec.container)
                .set_environment(Some(environment))
                .set_command(spec.command.clone())
                .build(),
        )
        .build();
    let mut request = client
        .run_task()
        .cluster(&spec.cluster)
        .task_definition(&spec.task_definition)
        .count(1)
        .started_by(&spec.started_by)
        .group(&spec.group)
        .client_token(&spec.client_token)
        .network_configuration(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
        .overrides(overrides);
    // The tags go on the task at creation: cost allocation by them, and StopTask's permission is
    // conditioned on `jobgen:project` (in a shared cluster, only this project's tasks). Tagging at
    // creation is authorized as `ecs:TagResource` with `ecs:CreateAction` RunTask, which the stack
    // grants exactly when its document carries tags
    // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html);
    // a document without any (an older stack, whose roles may not tag) sends none.
    if !spec.tags.is_empty() {
        let tags = spec.tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect();
        request = request.set_tags(Some(tags));
    }
    request = match spec.capacity {
        // A launch type and a capacity provider strategy are mutually exclusive in RunTask.
        Capacity::Fargate => request.launch_type(LaunchType::Fargate),
        Capacity::FargateSpot => request.capacity_provider_strategy(
            CapacityProviderStrategyItem::builder()
                .capacity_provider(Capacity::FargateSpot.provider_name())
                .weight(1)
                .build()
                .map_err(|e| format!("invalid capacity provider strategy: {e}"))?,
        ),
    };
    Ok(request)
}

/// Classifies an SDK error of RunTask: service errors by code (an error without a code by its HTTP
/// status: 429 throttled, 5xx unavailable), timeouts and transport failures as
/// [`LaunchErrorKind::Unavailable`], request construction failures as rejected.
pub fn classify_sdk_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: &SdkError<E, HttpResponse>,
) -> RunTaskAnswer {
    let EcsError { kind, code, message } = classify_ecs_error(err, "RunTask");
    RunTaskAnswer::Error { kind, code, message }
}

/// Classifies an SDK error of any ECS `operation` the way [`classify_sdk_error`] does for RunTask.
pub fn classify_ecs_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: &SdkError<E, HttpResponse>,
    operation: &str,
) -> EcsError {
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().map(str::to_string);
            let status = service.raw().status().as_u16();
            let message = match inner.message() {
                Some(message) => message.to_string(),
                None => {
                    let body = service.raw().body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
                    let snippet: String = body.chars().take(200).collect();
                    format!("HTTP {status} without an error code: {snippet}")
                }
            };
            let kind = match (&code, status) {
                (Some(_), _) => classify_error_code(code.as_deref()),
                (None, 429) => LaunchErrorKind::Throttled,
                (None, s) if s >= 500 => LaunchErrorKind::Unavailable,
                (None, _) => LaunchErrorKind::Rejected,
            };
            EcsError { kind, code, message }
        }
        SdkError::ConstructionFailure(_) => EcsError {
            kind: LaunchErrorKind::Rejected,
            code: None,
            message: format!("cannot build the {operation} request: {}", error_chain(err)),
        },
        _ => EcsError {
            kind: LaunchErrorKind::Unavailable,
            code: None,
            message: format!("ECS did not answer: {}", error_chain(err)),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Answers from a script, recording the client tokens (RunTask) and tasks (StopTask) it was
    /// called with.
    struct Scripted {
        answers: Mutex<Vec<RunTaskAnswer>>,
        tokens: Mutex<Vec<String>>,
        stop_answers: Mutex<Vec<Result<(), EcsError>>>,
        stopped: Mutex<Vec<(String, String, String)>>,
    }

    impl Scripted {
        fn new(mut answers: Vec<RunTaskAnswer>) -> Self {
            answers.reverse();
            Scripted {
                answers: Mutex::new(answers),
                tokens: Mutex::new(Vec::new()),
                stop_answers: Mutex::new(Vec::new()),
                stopped: Mutex::new(Vec::new()),
            }
        }

        fn stopping(mut answers: Vec<Result<(), EcsError>>) -> Self {
            answers.reverse();
            Scripted { stop_answers: Mutex::new(answers), ..Scripted::new(vec![]) }
        }
    }

    impl RunTaskApi for Scripted {
        async fn run_task(&self, spec: &LaunchSpec) -> RunTaskAnswer {
            self.tokens.lock().unwrap().push(spec.client_token.clone());
            self.answers.lock().unwrap().pop().unwrap_or(RunTaskAnswer::Failures(vec!["script exhausted".into()]))
        }

        async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<(), EcsError> {
            self.stopped.lock().unwrap().push((cluster.into(), task_arn.into(), reason.into()));
            self.stop_answers.lock().unwrap().pop().unwrap_or_else(|| {
                Err(EcsError { kind: LaunchErrorKind::Rejected, code: None, message: "script exhausted".into() })
            })
        }
    }

    fn ecs_error(code: &str, message: &str) -> EcsError {
        EcsError { kind: classify_error_code(Some(code)), code: Some(code.into()), message: message.into() }
    }

    #[tokio::test]
    async fn stop_retries_throttles_and_server_errors_but_not_a_rejection() {
        let api = Scripted::stopping(vec![
            Err(ecs_error("ThrottlingException", "Rate exceeded")),
            Err(ecs_error("ServerException", "try again")),
            Ok(()),
        ]);
        let launcher = Launcher::new(api, RetryPolicy::immediate(4));
        assert_eq!(launcher.stop("main", "arn:task", "why").await, Ok(3));
        let calls = launcher.api().stopped.lock().unwrap().clone();
        assert_eq!(calls, vec![("main".to_string(), "arn:task".to_string(), "why".to_string()); 3]);

        let spent = vec![Err(ecs_error("ThrottlingException", "Rate exceeded")); 3];
        let failure = Launcher::new(Scripted::stopping(spent), RetryPolicy::immediate(2))
            .stop("main", "arn:task", "why")
            .await
            .unwrap_err();
        assert_eq!((failure.kind, failure.tries), (LaunchErrorKind::Throttled, 2));
        assert!(failure.to_string().contains("ThrottlingException: Rate exceeded"), "{failure}");

        let rejected = vec![Err(ecs_error("InvalidParameterException", "The referenced task was not found.")), Ok(())];
        let failure = Launcher::new(Scripted::stopping(rejected), RetryPolicy::immediate(4))
            .stop("main", "arn:task", "why")
            .await
            .unwrap_err();
        assert_eq!((failure.kind, failure.tries), (LaunchErrorKind::Rejected, 1));
    }

    fn client() -> aws_sdk_ecs::Client {
        // Never sends anything: the tests only read the request the builder holds.
        aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::Config::builder()
                .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
                .region(aws_sdk_ecs::config::Region::new("us-east-1"))
                .build(),
        )
    }

    #[test]
    fn the_request_tags_the_task_and_names_the_launch() {
        let spec = spec();
        let request = build_request(&client(), &spec).unwrap();
        let input = request.as_input();
        let tags: Vec<(&str, &str)> =
            input.get_tags().iter().flatten().map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))).collect();
        assert_eq!(tags, [("jobgen:project", "demo"), ("team", "reports")]);
        // RunTask's own tags, not the task definition's: no propagateTags.
        assert_eq!(input.get_propagate_tags(), &None);
        assert_eq!(input.get_started_by().as_deref(), Some("jobgen/p"));
        assert_eq!(input.get_group().as_deref(), Some("jobgen:job1:1"));
        assert_eq!(input.get_client_token().as_deref(), Some("job1-1"));
        assert_eq!(input.get_launch_type(), &Some(LaunchType::Fargate));
        assert_eq!(input.get_capacity_provider_strategy(), &None);

        // A document without tags (an older stack, whose roles may not tag): RunTask gets none.
        let untagged = LaunchSpec { tags: vec![], ..spec };
        assert_eq!(build_request(&client(), &untagged).unwrap().as_input().get_tags(), &None);
    }

    #[test]
    fn spot_jobs_use_the_capacity_provider_strategy_and_on_demand_the_launch_type() {
        let spot = LaunchSpec { capacity: Capacity::FargateSpot, ..spec() };
        let request = build_request(&client(), &spot).unwrap();
        let input = request.as_input();
        assert_eq!(input.get_launch_type(), &None);
        let strategy = input.get_capacity_provider_strategy().clone().unwrap_or_default();
        assert_eq!(strategy.len(), 1);
        assert_eq!(strategy[0].capacity_provider(), "FARGATE_SPOT");
    }

    fn spec() -> LaunchSpec {
        let table = crate::contract::sample_table(Capacity::Fargate);
        let resolved = table.resolve("report").unwrap();
        LaunchSpec::new("p", &resolved, "job1", 1, [], None)
    }

    fn throttle() -> RunTaskAnswer {
        RunTaskAnswer::Error {
            kind: classify_error_code(Some("ThrottlingException")),
            code: Some("ThrottlingException".into()),
            message: "Rate exceeded".into(),
        }
    }

    fn started() -> RunTaskAnswer {
        RunTaskAnswer::Started { task_arn: "arn:task".into(), cluster_arn: None }
    }

    #[tokio::test]
    async fn retries_throttles_and_capacity_with_the_same_token() {
        let api = Scripted::new(vec![
            throttle(),
            RunTaskAnswer::Failures(vec!["Capacity is unavailable at this time".into()]),
            started(),
        ]);
        let launcher = Launcher::new(api, RetryPolicy::immediate(4));
        let launched = launcher.launch(&spec()).await.unwrap();
        assert_eq!((launched.task_arn.as_str(), launched.tries), ("arn:task", 3));
        assert_eq!(*launcher.api().tokens.lock().unwrap(), vec!["job1-1"; 3]);
    }

    #[tokio::test]
    async fn gives_up_after_the_budget_with_the_last_reason() {
        let launcher =
            Launcher::new(Scripted::new(vec![throttle(), throttle(), throttle()]), RetryPolicy::immediate(3));
        let failure = launcher.launch(&spec()).await.unwrap_err();
        assert_eq!(failure.kind, LaunchErrorKind::Throttled);
        assert_eq!(failure.tries, 3);
        assert_eq!(failure.code.as_deref(), Some("ThrottlingException"));
        assert!(failure.reason.contains("Rate exceeded"), "{failure}");

        let capacity = vec![RunTaskAnswer::Failures(vec!["RESOURCE:MEMORY".into()]); 2];
        let failure =
            Launcher::new(Scripted::new(capacity), RetryPolicy::immediate(2)).launch(&spec()).await.unwrap_err();
        assert_eq!((failure.kind, failure.tries), (LaunchErrorKind::Capacity, 2));
        assert!(failure.reason.contains("RESOURCE:MEMORY"));
    }

    #[tokio::test]
    async fn does_not_retry_a_rejected_request() {
        let rejected = RunTaskAnswer::Error {
            kind: classify_error_code(Some("ClientException")),
            code: Some("ClientException".into()),
            message: "TaskDefinition not found.".into(),
        };
        let launcher = Launcher::new(Scripted::new(vec![rejected, started()]), RetryPolicy::immediate(4));
        let failure = launcher.launch(&spec()).await.unwrap_err();
        assert_eq!((failure.kind, failure.tries), (LaunchErrorKind::Rejected, 1));
    }
}
