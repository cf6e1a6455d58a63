//! The create-job handler against the moto emulator: real conditional writes in DynamoDB and real
//! RunTask calls in ECS. Exactly-once under concurrent duplicates and after a crash, every kind of
//! RunTask failure ending in a recorded LAUNCH_FAILED, a cancel that lands while the task is being
//! launched, and the direct / function URL shapes.
//!
//! Only the throttle and `failures[]` answers, which moto cannot produce, come from a scripted
//! RunTask double (the launcher's trait seam); the table is still the emulator's. The cancel race
//! uses the same seam to cancel the job between the real RunTask and the record of the launch.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "runtime_support.rs"]
mod runtime_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::Utc;
use jobgen_runtime::contract;
use jobgen_runtime::create_job::{CANCELLED_DURING_LAUNCH, CreateJob, CreateJobRequest, Fault};
use jobgen_runtime::job::{JobStatus, LaunchErrorKind};
use jobgen_runtime::launch::{LaunchSpec, RetryPolicy};
use jobgen_runtime::launcher::{EcsError, Launcher, RunTaskAnswer, RunTaskApi};
use jobgen_runtime::store::Store;
use runtime_support::{BROKEN, CallCounter, LOST, REPORT, SPOT_REPORT, World};
use serde_json::{Value, json};

fn request(job_type: &str, key: &str) -> CreateJobRequest {
    CreateJobRequest {
        job_type: job_type.to_string(),
        idempotency_key: Some(key.to_string()),
        environment: [("INPUT".to_string(), "s3://bucket/in.csv".to_string())].into(),
        command: Some(vec!["report".into(), "--fast".into()]),
        metadata: Some(json!({"requestedBy": "tests", "n": 1}).as_object().cloned().unwrap()),
        schedule: None,
    }
}

fn url_event(body: &Value) -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {"accountId": "123456789012", "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"}},
        "body": body.to_string(), "isBase64Encoded": false
    })
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_requests_with_one_key_make_one_job_and_one_task() {
    let world = World::new("concurrent").await;
    let handler = Arc::new(world.create_job());
    let body = serde_json::to_value(request(REPORT, "nightly-2026-03-02")).unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (handler, body) = (handler.clone(), body.clone());
        calls.spawn(async move {
            // Half direct invokes, half function URL requests: both shapes share one path.
            if i % 2 == 0 {
                let response = handler.handle(body, Some(now_ms() + 30_000)).await;
                (response["statusCode"].as_u64().unwrap(), response)
            } else {
                let response = handler.handle(url_event(&body), Some(now_ms() + 30_000)).await;
                let status = response["statusCode"].as_u64().unwrap();
                (status, serde_json::from_str(response["body"].as_str().unwrap()).unwrap())
            }
        });
    }
    let mut statuses = Vec::new();
    let mut job_ids = std::collections::BTreeSet::new();
    while let Some(result) = calls.join_next().await {
        let (status, body) = result.unwrap();
        statuses.push(status);
        job_ids.insert(body["jobId"].as_str().unwrap().to_string());
    }
    statuses.sort();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 19, "{statuses:?}");
    assert_eq!(job_ids.len(), 1, "{job_ids:?}");

    let tasks = world.task_arns().await;
    assert_eq!(tasks.len(), 1, "exactly one RunTask: {tasks:?}");
    let job_id = job_ids.into_iter().next().unwrap();
    let job = world.store().get(&job_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Starting);
    assert_eq!(job.attempt.task_arn.as_deref(), Some(tasks[0].as_str()));
    assert_eq!(job.lease_until, None, "the lease is released once the task is recorded");

    // The task carries the contract: startedBy, group, and the job's identity in the main container.
    let task = world.describe(&tasks[0]).await;
    assert_eq!(task.started_by(), Some(contract::started_by("concurrent").as_str()));
    assert_eq!(task.group(), Some(contract::task_group(&job_id, 1).as_str()));
    let overrides = task.overrides().unwrap().container_overrides();
    assert_eq!(overrides.len(), 1);
    assert_eq!(overrides[0].name(), Some(runtime_support::CONTAINER));
    let env: Vec<(&str, &str)> =
        overrides[0].environment().iter().map(|kv| (kv.name().unwrap(), kv.value().unwrap())).collect();
    assert_eq!(
        env,
        [
            ("INPUT", "s3://bucket/in.csv"),
            (contract::TASK_ENV_JOB_ID, job_id.as_str()),
            (contract::TASK_ENV_JOB_TYPE, REPORT),
            (contract::TASK_ENV_ATTEMPT, "1")
        ]
    );
    assert_eq!(overrides[0].command(), ["report", "--fast"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_between_record_and_runtask_is_recovered_by_a_retry_exactly_once() {
    let world = World::new("crash").await;
    // The first invocation records the job and dies before RunTask; its deadline is now, so its
    // lease (deadline + margin 0) expires at once.
    let crashing = world.create_job().with_fault(Some(Fault::CrashBeforeRunTask)).with_lease_margin_ms(0);
    let err = crashing.create(request(REPORT, "crash-1"), Utc::now(), Some(now_ms())).await.unwrap_err();
    assert_eq!(err.code, "InjectedFault");
    let job_id = jobgen_runtime::create_job::job_id_for_key("crash-1");
    let job = world.store().get(&job_id).await.unwrap().unwrap();
    assert_eq!((job.status, job.attempt.task_arn.as_deref()), (JobStatus::Submitted, None));
    assert!(world.task_arns().await.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    // Five clients retry at once: one claims the expired lease and launches; all see one job.
    let handler = Arc::new(world.create_job());
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let handler = handler.clone();
        calls.spawn(
            async move { handler.create(request(REPORT, "crash-1"), Utc::now(), Some(now_ms() + 30_000)).await },
        );
    }
    while let Some(result) = calls.join_next().await {
        let view = result.unwrap().unwrap();
        assert_eq!((view.job_id.as_str(), view.created), (job_id.as_str(), false));
    }
    let tasks = world.task_arns().await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let task = world.describe(&tasks[0]).await;
    assert_eq!(task.group(), Some(contract::task_group(&job_id, 1).as_str()));
    let job = world.store().get(&job_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Starting);
    assert_eq!(job.attempt.task_arn.as_deref(), Some(tasks[0].as_str()));

    // A replay after the launch changes nothing.
    let view = handler.create(request(REPORT, "crash-1"), Utc::now(), None).await.unwrap();
    assert_eq!((view.status, view.task_arn.as_deref()), (JobStatus::Starting, Some(tasks[0].as_str())));
    assert_eq!(world.task_arns().await.len(), 1);
}

#[tokio::test]
async fn a_retry_while_the_launch_lease_is_held_does_not_launch() {
    let world = World::new("leaseheld").await;
    // Crashed, but its lease (deadline + default margin) is still running.
    let crashing = world.create_job().with_fault(Some(Fault::CrashBeforeRunTask));
    crashing.create(request(REPORT, "held"), Utc::now(), Some(now_ms() + 60_000)).await.unwrap_err();
    let view = world.create_job().create(request(REPORT, "held"), Utc::now(), None).await.unwrap();
    assert_eq!((view.status, view.created, view.task_arn), (JobStatus::Submitted, false, None));
    assert!(world.task_arns().await.is_empty());
}

#[tokio::test]
async fn runtask_exceptions_leave_a_recorded_launch_failure() {
    let world = World::new("exceptions").await;
    let handler = world.create_job();
    for (job_type, key) in [(BROKEN, "no-task-definition"), (LOST, "no-cluster")] {
        let response = handler.handle(serde_json::to_value(request(job_type, key)).unwrap(), None).await;
        assert_eq!(response["statusCode"], 500, "{response}");
        assert_eq!(response["error"]["code"], "LaunchRejected", "{response}");
        assert_eq!(response["error"]["retryable"], false);
        assert_eq!(response["job"]["status"], "LAUNCH_FAILED", "{response}");
        let job = world.store().get(response["job"]["jobId"].as_str().unwrap()).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::LaunchFailed);
        assert_eq!(job.attempt.launch_error_kind, Some(LaunchErrorKind::Rejected));
        assert_eq!(job.attempt.launch_retryable, Some(false));
        assert_eq!(job.attempt.launch_tries, Some(1), "a rejected request is not retried");
        assert!(job.attempt.launch_error.as_deref().is_some_and(|r| r.contains("Exception")), "{:?}", job.attempt);
        assert_eq!((job.attempt.task_arn, job.lease_until), (None, None));
        // A replay reports the failure and does not relaunch a request ECS refused.
        let replay = handler.handle(serde_json::to_value(request(job_type, key)).unwrap(), None).await;
        assert_eq!((replay["statusCode"].as_u64(), replay["status"].as_str()), (Some(200), Some("LAUNCH_FAILED")));
    }
    assert!(world.task_arns().await.is_empty());
}

/// Answers every RunTask call with one scripted answer and counts the calls.
struct Always {
    answer: RunTaskAnswer,
    calls: AtomicU32,
}

impl RunTaskApi for Always {
    async fn run_task(&self, _spec: &LaunchSpec) -> RunTaskAnswer {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.answer.clone()
    }

    async fn stop_task(&self, _cluster: &str, task_arn: &str, _reason: &str) -> Result<(), EcsError> {
        panic!("no task of this double's was started, yet StopTask was called for {task_arn}")
    }
}

#[tokio::test]
async fn throttles_and_capacity_failures_are_retried_then_recorded_and_a_replay_relaunches() {
    let world = World::new("throttled").await;
    let throttle = RunTaskAnswer::Error {
        kind: jobgen_runtime::launch::classify_error_code(Some("ThrottlingException")),
        code: Some("ThrottlingException".into()),
        message: "Rate exceeded".into(),
    };
    let capacity = RunTaskAnswer::Failures(vec![
        "Capacity is unavailable at this time. Please try again later or in a different availability zone".into(),
    ]);
    for (answer, key, status, kind) in
        [(throttle, "t-1", 429, LaunchErrorKind::Throttled), (capacity, "c-1", 503, LaunchErrorKind::Capacity)]
    {
        let handler = world.create_job_with(Always { answer, calls: AtomicU32::new(0) });
        let err = handler.create(request(SPOT_REPORT, key), Utc::now(), None).await.unwrap_err();
        assert_eq!((err.status, err.retryable), (status, true), "{err:?}");
        let job = world.store().get(&jobgen_runtime::create_job::job_id_for_key(key)).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::LaunchFailed);
        assert_eq!(job.attempt.launch_error_kind, Some(kind));
        assert_eq!(job.attempt.launch_retryable, Some(true));
        assert_eq!(job.attempt.launch_tries, Some(3), "the policy's three calls were made");
        assert!(job.attempt.task_arn.is_none());

        // The caller retries with the same key once ECS recovers: the same attempt launches once.
        let view = world.create_job().create(request(SPOT_REPORT, key), Utc::now(), None).await.unwrap();
        assert_eq!((view.status, view.created, view.attempt), (JobStatus::Starting, false, 1));
        let job = world.store().get(&view.job_id).await.unwrap().unwrap();
        assert_eq!((job.attempt.launch_error, job.attempt.launch_retryable), (None, None));
        let task = world.describe(view.task_arn.as_deref().unwrap()).await;
        assert_eq!(task.capacity_provider_name(), Some("FARGATE_SPOT"));
    }
    assert_eq!(world.task_arns().await.len(), 2);
}

#[tokio::test]
async fn http_answers_use_the_documented_status_codes() {
    let world = World::new("http").await;
    let handler = world.create_job();
    let call = |body: Value| {
        let handler = &handler;
        async move {
            let response = handler.handle(url_event(&body), None).await;
            assert_eq!(response["headers"]["content-type"], "application/json");
            let parsed: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
            (response["statusCode"].as_u64().unwrap(), parsed)
        }
    };
    let (status, body) = call(json!({"jobType": REPORT, "idempotencyKey": "h1", "environment": {"A": "1"}})).await;
    assert_eq!((status, body["status"].as_str(), body["created"].as_bool()), (201, Some("STARTING"), Some(true)));
    assert!(body["taskArn"].as_str().is_some_and(|a| a.contains(":task/")));
    let (status, again) = call(json!({"jobType": REPORT, "idempotencyKey": "h1", "environment": {"A": "1"}})).await;
    assert_eq!((status, again["jobId"].clone(), again["created"].as_bool()), (200, body["jobId"].clone(), Some(false)));
    let (status, conflict) = call(json!({"jobType": REPORT, "idempotencyKey": "h1", "environment": {"A": "2"}})).await;
    assert_eq!((status, conflict["error"]["code"].as_str()), (409, Some("IdempotencyKeyReused")));
    let (status, unknown) = call(json!({"jobType": "nope"})).await;
    assert_eq!((status, unknown["error"]["code"].as_str()), (404, Some("UnknownJobType")));
    let (status, bad) = call(json!({"jobType": REPORT, "environment": {"JOBGEN_ATTEMPT": "9"}})).await;
    assert_eq!(status, 400);
    assert!(bad["error"]["message"].as_str().unwrap().contains("environment.JOBGEN_ATTEMPT"), "{bad}");
    let (status, _) = call(json!({"jobType": REPORT, "environment": {"A": "x".repeat(9000)}})).await;
    assert_eq!(status, 400);

    let mut get = url_event(&json!({}));
    get["requestContext"]["http"]["method"] = "GET".into();
    assert_eq!(handler.handle(get, None).await["statusCode"], 405);
    let mut encoded = url_event(&json!({}));
    encoded["body"] = "eyJqb2JUeXBlIjoicmVwb3J0In0=".into(); // {"jobType":"report"}
    encoded["isBase64Encoded"] = true.into();
    assert_eq!(handler.handle(encoded, None).await["statusCode"], 201);
    let not_json = handler.handle(json!({"requestContext": {"http": {"method": "POST"}}, "body": "{"}), None).await;
    assert_eq!(not_json["statusCode"], 400);

    // Direct invoke: the same answers with an HTTP-like statusCode member.
    let direct = handler.handle(json!({"job_type": "nope"}), None).await;
    assert_eq!((direct["statusCode"].as_u64(), direct["error"]["code"].as_str()), (Some(404), Some("UnknownJobType")));
    let direct = handler.handle(json!("not an object"), None).await;
    assert_eq!(direct, json!({"statusCode": 400, "error": direct["error"].clone()}));
    // Invalid requests wrote nothing: only the two accepted jobs exist.
    let scan = world.ddb.scan().table_name(&world.config.table_name).send().await.unwrap();
    assert_eq!(scan.count(), 2, "h1 and the base64 request");
}

/// The emulator's ECS, with `jobgen cancel`'s write landing right after RunTask started the task
/// and before create-job records the launch: `Store::cancel` finds no task on the record, so the
/// operator command stops none. StopTask goes to the emulator unless `stop_fails`, which answers
/// every StopTask with a throttle (and counts the calls).
struct CancelAfterRunTask {
    ecs: aws_sdk_ecs::Client,
    store: Store,
    stop_fails: bool,
    stop_calls: AtomicU32,
}

impl RunTaskApi for CancelAfterRunTask {
    async fn run_task(&self, spec: &LaunchSpec) -> RunTaskAnswer {
        let answer = RunTaskApi::run_task(&self.ecs, spec).await;
        assert!(matches!(answer, RunTaskAnswer::Started { .. }), "{answer:?}");
        let (job_id, _) = contract::parse_task_group(&spec.group).unwrap();
        let cancelled = self.store.cancel(job_id, Utc::now(), None).await.unwrap().unwrap();
        assert_eq!(cancelled.status, JobStatus::Cancelled);
        assert_eq!(cancelled.attempt.task_arn, None, "the cancel saw no task, so it stopped none");
        answer
    }

    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<(), EcsError> {
        self.stop_calls.fetch_add(1, Ordering::SeqCst);
        if self.stop_fails {
            return Err(EcsError {
                kind: LaunchErrorKind::Throttled,
                code: Some("ThrottlingException".into()),
                message: "Rate exceeded".into(),
            });
        }
        RunTaskApi::stop_task(&self.ecs, cluster, task_arn, reason).await
    }
}

impl World {
    /// A create-job handler whose store and ECS calls `counter` counts, racing a cancel.
    async fn cancel_racing(&self, counter: &CallCounter, stop_fails: bool) -> CreateJob<CancelAfterRunTask> {
        let (store, ecs) = self.counted(counter).await;
        let api = CancelAfterRunTask { ecs, store: self.store(), stop_fails, stop_calls: AtomicU32::new(0) };
        CreateJob::new(store, Launcher::new(api, RetryPolicy::immediate(3)), self.config.clone())
    }
}

#[tokio::test]
async fn a_cancel_during_the_launch_stops_the_task_and_answers_cancelled() {
    let world = World::new("cancelrace").await;
    let counter = CallCounter::default();
    let handler = world.cancel_racing(&counter, false).await;
    let response = handler.handle(serde_json::to_value(request(REPORT, "race-1")).unwrap(), None).await;

    // The caller gets the cancelled job, not an error: this request did record it.
    assert_eq!(response["statusCode"], 201, "{response}");
    assert_eq!((response["status"].as_str(), response["created"].as_bool()), (Some("CANCELLED"), Some(true)));
    let tasks = world.task_arns().await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");

    // The task create-job started is stopped, with a reason that says why.
    let task = world.describe(&tasks[0]).await;
    assert_eq!((task.desired_status(), task.last_status()), (Some("STOPPED"), Some("STOPPED")));
    assert_eq!(task.stopped_reason(), Some(CANCELLED_DURING_LAUNCH));
    assert!(CANCELLED_DURING_LAUNCH.contains("cancelled"));
    assert_eq!(response["taskArn"].as_str(), Some(tasks[0].as_str()), "{response}");

    // The record stays CANCELLED and names the task, for `jobgen status` and `jobgen logs`.
    let job_id = jobgen_runtime::create_job::job_id_for_key("race-1");
    let job = world.store().get(&job_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.attempt.task_arn.as_deref(), Some(tasks[0].as_str()));
    assert_eq!(job.attempt.cluster_arn.as_deref(), Some(world.cluster_arn.as_str()));
    assert!(job.cancelled_at.is_some() && job.attempt.launched_at.is_some());
    assert_eq!(job.lease_until, None);

    // The calls: the record-launch UpdateItem fails and returns the CANCELLED record (no read),
    // then StopTask and one UpdateItem that puts the task on the cancelled record.
    let counts = counter.counts();
    let expected: [(&str, u32); 4] = [("PutItem", 1), ("RunTask", 1), ("StopTask", 1), ("UpdateItem", 2)];
    assert_eq!(counts, expected.iter().map(|(k, v)| (k.to_string(), *v)).collect(), "{counts:?}");

    // A replay of the same key answers with the cancelled job and launches nothing.
    counter.reset();
    let replay = world.create_job().create(request(REPORT, "race-1"), Utc::now(), None).await.unwrap();
    assert_eq!((replay.status, replay.created), (JobStatus::Cancelled, false));
    assert_eq!(replay.task_arn.as_deref(), Some(tasks[0].as_str()));
    assert_eq!(world.task_arns().await, tasks, "the replay started no task");
    // Even once the lease would have expired: a cancelled job is never claimed.
    let late = world.create_job().with_lease_margin_ms(0);
    let replay = late.create(request(REPORT, "race-1"), Utc::now() + chrono::Duration::hours(1), None).await.unwrap();
    assert_eq!(replay.status, JobStatus::Cancelled);
    assert_eq!(world.task_arns().await, tasks);
    assert_eq!(world.store().get(&job_id).await.unwrap().unwrap().status, JobStatus::Cancelled);
}

#[tokio::test]
async fn a_cancel_during_the_launch_whose_stoptask_fails_still_answers_cancelled() {
    let world = World::new("cancelstopfails").await;
    let counter = CallCounter::default();
    let handler = world.cancel_racing(&counter, true).await;
    let view = handler.create(request(REPORT, "race-2"), Utc::now(), None).await.unwrap();

    // StopTask was retried with the launcher's policy (3 calls), then given up on: the job is
    // cancelled either way, so the answer is the cancelled job (a retry could not stop the task).
    assert_eq!(handler_stop_calls(&handler), 3);
    assert_eq!((view.status, view.created), (JobStatus::Cancelled, true));
    let tasks = world.task_arns().await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(view.task_arn.as_deref(), Some(tasks[0].as_str()));
    let task = world.describe(&tasks[0]).await;
    assert_eq!(task.desired_status(), Some("RUNNING"), "the double refused every StopTask");
    let job = world.store().get(&view.job_id).await.unwrap().unwrap();
    assert_eq!((job.status, job.attempt.task_arn.as_deref()), (JobStatus::Cancelled, Some(tasks[0].as_str())));
}

fn handler_stop_calls(handler: &CreateJob<CancelAfterRunTask>) -> u32 {
    handler.launcher().api().stop_calls.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobgen_devs_ecs_starts_one_task_for_concurrent_calls_with_one_client_token() {
    // ECS answers every RunTask with a clientToken it has seen with the task that token started;
    // moto ignores the token, and jobgen dev's ECS keeps the promise, also for calls at once (a
    // claim beside a slow launcher): one task, the same answer to all.
    let world = World::new("dev-token").await;
    let ecs = jobgen_local::ecs::DevEcs::new(world.ecs.clone(), Default::default());
    let resolved = world.config.launch_table.resolve(REPORT).unwrap();
    let spec = LaunchSpec::new(&world.config.project, &resolved, "tokenjob00000000000000000", 1, [], None);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (ecs, spec) = (ecs.clone(), spec.clone());
        calls.spawn(async move { RunTaskApi::run_task(&ecs, &spec).await });
    }
    let mut arns = std::collections::BTreeSet::new();
    while let Some(answer) = calls.join_next().await {
        match answer.unwrap() {
            RunTaskAnswer::Started { task_arn, .. } => arns.insert(task_arn),
            other => panic!("{other:?}"),
        };
    }
    assert_eq!(arns.len(), 1, "one task for one token: {arns:?}");
    assert_eq!(world.task_arns().await.len(), 1);
}

#[tokio::test]
async fn jobgen_devs_dynamodb_faults_fail_calls_before_or_after_they_were_applied() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use jobgen_local::faults::{DynamoFaults, FaultInterceptor};
    let world = World::new("dev-ddb-faults").await;
    let faults = Arc::new(DynamoFaults::default());
    let sdk = jobgen_tests::Moto::shared_serial().sdk_config().await;
    let faulty = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(FaultInterceptor::new(faults.clone())).build(),
    );
    let put = |client: aws_sdk_dynamodb::Client, key: String| {
        let table = world.config.table_name.clone();
        async move { client.put_item().table_name(table).item(contract::KEY_ATTR, AttributeValue::S(key)).send().await }
    };
    // Every call fails; about half of them after the write was applied.
    faults.set_share(1.0, 3);
    let mut failed = 0;
    for i in 0..40 {
        failed += usize::from(put(faulty.clone(), format!("fault-{i}")).await.is_err());
    }
    let (calls, before, after) = faults.counts();
    assert_eq!((failed, calls, before + after), (40, 40, 40), "each call failed once, not retried by the SDK");
    assert!(before > 5 && after > 5, "both kinds: {before} before, {after} after");
    let mut written = 0;
    for i in 0..40 {
        let out = world
            .ddb
            .get_item()
            .table_name(&world.config.table_name)
            .key(contract::KEY_ATTR, AttributeValue::S(format!("fault-{i}")))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        written += usize::from(out.item.is_some());
    }
    assert_eq!(written as u64, after, "failed after sending: applied; failed before: not");
    // Off: calls go through.
    faults.set_share(0.0, 3);
    assert!(put(faulty.clone(), "fault-ok".into()).await.is_ok());
}
