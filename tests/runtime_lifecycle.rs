//! Timeouts, start deadlines, retries (with Spot fallback), cancel while backing off and retry by
//! hand, against the SERIAL moto emulator with the real handler library: create-job launches on
//! the emulator's ECS, track applies real-shaped events, and timers are real EventBridge Scheduler
//! schedules in the emulator (CreateSchedule by the handlers). The emulator does not fire them, so
//! the tests do what Scheduler does: read each schedule, check its `at()` time is not before the
//! deadline it stands for, and invoke track with its payload (and delete it, as
//! `ActionAfterCompletion: DELETE` does). Timers fired late or twice are part of every test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "runtime_support.rs"]
mod runtime_support;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use jobgen_runtime::config::TimerSettings;
use jobgen_runtime::contract::{self, Capacity, RetryOn, RetryPolicy as Retry, Timer, TimerKind};
use jobgen_runtime::create_job::{CreateJob, CreateJobRequest};
use jobgen_runtime::job::{FailureClass, Job, JobStatus};
use jobgen_runtime::launch::{LaunchSpec, RetryPolicy};
use jobgen_runtime::launcher::{EcsError, Launcher, RunTaskAnswer, RunTaskApi};
use jobgen_runtime::service::LaunchService;
use jobgen_runtime::store::ListFilter;
use jobgen_runtime::timers::Timers;
use jobgen_runtime::track::{TrackOutcome, Tracker};
use runtime_support::{REPORT, SPOT_REPORT, World, event, fixture};
use serde_json::Value;

/// A world whose project has a schedule group in the emulator and timer settings naming it.
async fn timed_world(project: &str, setup: impl Fn(&mut contract::JobTypeEntry)) -> (World, aws_sdk_scheduler::Client) {
    let mut world = World::new(project).await;
    for entry in world.config.launch_table.job_types.values_mut() {
        setup(entry);
    }
    let scheduler = scheduler(&world).await;
    let group = contract::schedule_group(project);
    scheduler.create_schedule_group().name(&group).send().await.unwrap();
    world.config.timers = Some(TimerSettings {
        group,
        role_arn: format!("arn:aws:iam::123456789012:role/jobgen/{project}/timers"),
        target_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{project}-track"),
        dlq_arn: format!("arn:aws:sqs:us-east-1:123456789012:{project}-track-dlq"),
    });
    (world, scheduler)
}

async fn scheduler(_world: &World) -> aws_sdk_scheduler::Client {
    aws_sdk_scheduler::Client::new(&jobgen_tests::Moto::shared_serial().sdk_config().await)
}

fn timers(world: &World, scheduler: &aws_sdk_scheduler::Client) -> Option<Timers> {
    world.config.timers.clone().map(|settings| Timers::new(scheduler.clone(), settings))
}

/// track with the launch service and timers, as the track function runs it.
fn tracker(world: &World, scheduler: &aws_sdk_scheduler::Client) -> Tracker {
    let service = LaunchService::new(
        world.store(),
        Launcher::new(world.ecs.clone(), RetryPolicy::immediate(3)),
        world.config.clone(),
    )
    .with_timers(timers(world, scheduler));
    Tracker::with_service(service)
}

async fn submit(world: &World, scheduler: &aws_sdk_scheduler::Client, job_type: &str, key: &str) -> Job {
    let handler = world.create_job().with_timers(timers(world, scheduler));
    let request = CreateJobRequest {
        job_type: job_type.to_string(),
        idempotency_key: Some(key.to_string()),
        ..CreateJobRequest::default()
    };
    let response =
        handler.handle(serde_json::to_value(request).unwrap(), Some(Utc::now().timestamp_millis() + 30_000)).await;
    assert_eq!(response["statusCode"], 201, "{response}");
    world.store().get(response["jobId"].as_str().unwrap()).await.unwrap().unwrap()
}

/// The schedule of `timer`, if armed: its `at()` time and payload.
async fn schedule(
    scheduler: &aws_sdk_scheduler::Client,
    world: &World,
    timer: &Timer,
) -> Option<(DateTime<Utc>, Value)> {
    let group = &world.config.timers.as_ref().unwrap().group;
    let out = scheduler.get_schedule().group_name(group).name(timer.schedule_name()).send().await.ok()?;
    let at = contract::parse_at_expression(out.schedule_expression().unwrap()).unwrap();
    let input: Value = serde_json::from_str(out.target().unwrap().input().unwrap()).unwrap();
    assert_eq!(out.target().unwrap().arn(), world.config.timers.as_ref().unwrap().target_arn);
    Some((at, input))
}

/// Fires the armed `timer` as Scheduler would (invoke track with its payload, then delete it).
async fn fire(scheduler: &aws_sdk_scheduler::Client, world: &World, tracker: &Tracker, timer: &Timer) -> &'static str {
    let (_, input) = schedule(scheduler, world, timer).await.expect("the timer is armed");
    let group = &world.config.timers.as_ref().unwrap().group;
    scheduler.delete_schedule().group_name(group).name(timer.schedule_name()).send().await.unwrap();
    fire_payload(tracker, input).await
}

async fn fire_payload<A: RunTaskApi>(tracker: &Tracker<A>, input: Value) -> &'static str {
    match tracker.handle(input, Utc::now()).await.unwrap() {
        TrackOutcome::Timer { action, .. } => action,
        other => panic!("not a timer outcome: {other:?}"),
    }
}

/// The fixture `sequence`'s events for `job`'s `attempt`, on its task.
fn events(world: &World, sequence: &str, job: &Job, attempt: u32) -> Vec<Value> {
    let fixture = fixture(sequence);
    let task = job.attempt.task_arn.clone().expect("a task");
    fixture
        .events
        .iter()
        .map(|text| {
            let text = text
                .replace("jobgen:{{JOB_ID}}:1", &format!("jobgen:{{{{JOB_ID}}}}:{attempt}"))
                .replace(
                    r#""value":"1","name":"JOBGEN_ATTEMPT""#,
                    &format!(r#""value":"{attempt}","name":"JOBGEN_ATTEMPT""#),
                )
                .replace(
                    r#""name":"JOBGEN_ATTEMPT","value":"1""#,
                    &format!(r#""name":"JOBGEN_ATTEMPT","value":"{attempt}""#),
                );
            event(world, &text, &job.job_id, &task, &job.job_type)
        })
        .collect()
}

async fn deliver<A: RunTaskApi>(tracker: &Tracker<A>, events: &[Value]) {
    for e in events {
        tracker.handle(e.clone(), Utc::now()).await.unwrap();
    }
}

async fn job(world: &World, job_id: &str) -> Job {
    world.store().get(job_id).await.unwrap().unwrap()
}

/// The STOPPED event ECS sends after StopTask: the fixture's user stop, with the task's real
/// stoppedReason as the emulator recorded it.
async fn stopped_by_jobgen(world: &World, job: &Job) -> Value {
    let task = world.describe(job.attempt.task_arn.as_deref().unwrap()).await;
    let reason = task.stopped_reason().expect("StopTask recorded a reason").to_string();
    let mut stopped = events(world, "user_stop", job, job.attempt.number).pop().unwrap();
    stopped["detail"]["stoppedReason"] = Value::String(reason);
    stopped
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_running_past_its_timeout_is_stopped_and_ends_timed_out() {
    let (world, scheduler) = timed_world("lc-timeout", |e| e.timeout_seconds = Some(600)).await;
    let track = tracker(&world, &scheduler);
    let submitted = submit(&world, &scheduler, REPORT, "slow").await;
    let run_timer = Timer::new(TimerKind::RunDeadline, &submitted.job_id, 1);
    assert!(schedule(&scheduler, &world, &run_timer).await.is_none(), "armed only once the task runs");

    let sequence = events(&world, "success", &submitted, 1);
    let before_running = Utc::now();
    deliver(&track, &sequence[..3]).await; // PROVISIONING, PENDING, RUNNING
    deliver(&track, &sequence[2..3]).await; // a duplicate RUNNING arms nothing more
    let running = job(&world, &submitted.job_id).await;
    assert_eq!(running.status, JobStatus::Running);
    let (at, _) = schedule(&scheduler, &world, &run_timer).await.expect("the run deadline is armed");
    let started = running.attempt.started_at.unwrap().min(before_running);
    assert!(at >= started + chrono::Duration::seconds(600), "never early: {at} vs start {started}");
    assert!(at <= Utc::now() + chrono::Duration::seconds(660), "at most a minute late: {at}");

    assert_eq!(fire(&scheduler, &world, &track, &run_timer).await, "stopped");
    let task = world.describe(running.attempt.task_arn.as_deref().unwrap()).await;
    assert!(task.stopped_reason().unwrap().starts_with(contract::STOP_REASON_TIMEOUT), "{:?}", task.stopped_reason());
    // The job stays RUNNING (stopping) until ECS reports the stop; then it is TIMED_OUT.
    assert_eq!(job(&world, &submitted.job_id).await.status, JobStatus::Running);
    let stopped = stopped_by_jobgen(&world, &running).await;
    deliver(&track, &[stopped.clone(), stopped]).await;
    let done = job(&world, &submitted.job_id).await;
    assert_eq!((done.status, done.attempt.failure_class), (JobStatus::TimedOut, Some(FailureClass::TimedOut)));
    assert!(done.expires_at.is_some(), "a finished job gets its TTL");
    // The same timer delivered again (Scheduler at least once), late: nothing happens.
    assert_eq!(fire_payload(&track, run_timer.payload()).await, "moved-on");
    assert_eq!(job(&world, &submitted.job_id).await, done);

    // A job that finishes in time: its run deadline is disarmed with its STOPPED event, so it
    // never fires (a Scheduler and a track invocation saved).
    let quick = submit(&world, &scheduler, REPORT, "quick").await;
    let sequence = events(&world, "success", &quick, 1);
    deliver(&track, &sequence[..3]).await;
    let quick_timer = Timer::new(TimerKind::RunDeadline, &quick.job_id, 1);
    assert!(schedule(&scheduler, &world, &quick_timer).await.is_some(), "armed while it runs");
    deliver(&track, &sequence[3..]).await;
    assert_eq!(job(&world, &quick.job_id).await.status, JobStatus::Succeeded);
    assert!(schedule(&scheduler, &world, &quick_timer).await.is_none(), "disarmed once it stopped");
}

/// A run deadline whose every delivery failed (dead-lettered) is fired by the reconciler once the
/// job is overdue by the grace: the hung job is stopped, and ends TIMED_OUT; a job not yet overdue
/// by the grace is left to its timer. (The fault harness runs on a scaled clock the grace does not
/// follow, so it cannot show this backstop: it leaves jobs with a lost timer out of its outcome check.)
/// A job of `REPORT` that runs (its events up to RUNNING delivered), started `minutes_ago`, whose
/// run deadline was armed and then lost (its schedule deleted).
async fn running_with_lost_deadline<A: RunTaskApi>(
    world: &World,
    scheduler: &aws_sdk_scheduler::Client,
    track: &Tracker<A>,
    key: &str,
    minutes_ago: i64,
) -> Job {
    let submitted = submit(world, scheduler, REPORT, key).await;
    deliver(track, &events(world, "success", &submitted, 1)[..3]).await;
    let timer = Timer::new(TimerKind::RunDeadline, &submitted.job_id, 1);
    assert!(schedule(scheduler, world, &timer).await.is_some(), "armed while it runs");
    let group = &world.config.timers.as_ref().unwrap().group;
    scheduler.delete_schedule().group_name(group).name(timer.schedule_name()).send().await.unwrap();
    let at = Utc::now() - chrono::Duration::minutes(minutes_ago);
    set(
        world,
        &submitted.job_id,
        "startedAt",
        aws_sdk_dynamodb::types::AttributeValue::S(jobgen_runtime::job::format_ts(&at)),
    )
    .await;
    job(world, &submitted.job_id).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_run_deadline_is_fired_by_the_reconciler_and_the_job_ends_timed_out() {
    let (world, scheduler) = timed_world("lc-lost-deadline", |e| e.timeout_seconds = Some(60)).await;
    let track = tracker(&world, &scheduler);
    let mut jobs = Vec::new();
    for (key, minutes_ago) in [("hung", 10), ("recent", 2)] {
        jobs.push(running_with_lost_deadline(&world, &scheduler, &track, key, minutes_ago).await);
    }
    let report = reconcile(&track).await;
    assert_eq!(report.overdue_timers, 1, "only the job past timeout + grace: {report:?}");
    let hung = job(&world, &jobs[0].job_id).await;
    let task = world.describe(hung.attempt.task_arn.as_deref().unwrap()).await;
    assert!(task.stopped_reason().unwrap_or_default().starts_with(contract::STOP_REASON_TIMEOUT), "{task:?}");
    let stopped = stopped_by_jobgen(&world, &hung).await;
    deliver(&track, &[stopped]).await;
    let done = job(&world, &jobs[0].job_id).await;
    assert_eq!((done.status, done.attempt.failure_class), (JobStatus::TimedOut, Some(FailureClass::TimedOut)));
    // 2 min after its start, 1 min past its timeout: within the grace, still RUNNING, its task untouched.
    let recent = job(&world, &jobs[1].job_id).await;
    assert_eq!(recent.status, JobStatus::Running);
    assert_ne!(world.describe(recent.attempt.task_arn.as_deref().unwrap()).await.desired_status(), Some("STOPPED"));
}

/// The handlers' DynamoDB as a dropped connection leaves it: once armed, the next UpdateItem is
/// applied and its answer lost (the caller gets an error and cannot know the write happened).
#[derive(Debug, Default)]
struct LoseAnswer {
    armed: std::sync::atomic::AtomicBool,
    losing: std::sync::atomic::AtomicBool,
}

#[derive(Debug)]
struct LoseAnswerInterceptor(Arc<LoseAnswer>);

impl aws_sdk_dynamodb::config::Intercept for LoseAnswerInterceptor {
    fn name(&self) -> &'static str {
        "lose-the-answer"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let update = context.request().headers().get("x-amz-target").is_some_and(|t| t.ends_with(".UpdateItem"));
        if update && self.0.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.0.losing.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if self.0.losing.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Err("connection reset after the request was sent".into());
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repaired_running_event_whose_answer_was_lost_still_has_its_run_deadline() {
    // The fault harness's hung job that ran to its end: its RUNNING event was lost, the
    // reconciler applied the running task's state, the write was applied but its answer lost, and
    // the next runs found the job RUNNING with nothing to repair, and no deadline armed.
    let (world, scheduler) = timed_world("lc-repair-lost-answer", |e| e.timeout_seconds = Some(60)).await;
    let lose = Arc::new(LoseAnswer::default());
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        world.ddb.config().to_builder().interceptor(LoseAnswerInterceptor(lose.clone())).build(),
    );
    let store = jobgen_runtime::store::Store::new(ddb, world.config.table_name.clone());
    let track = Tracker::with_service(
        LaunchService::new(store, Launcher::new(world.ecs.clone(), RetryPolicy::immediate(3)), world.config.clone())
            .with_timers(timers(&world, &scheduler)),
    );
    let submitted = submit(&world, &scheduler, REPORT, "running-unheard").await;
    assert_eq!(submitted.status, JobStatus::Starting);
    let running = world.describe(submitted.attempt.task_arn.as_deref().unwrap()).await;
    assert_eq!(running.last_status(), Some("RUNNING"), "the emulator's task runs from RunTask on");
    let timer = Timer::new(TimerKind::RunDeadline, &submitted.job_id, 1);
    assert!(schedule(&scheduler, &world, &timer).await.is_none(), "no deadline before it runs");

    lose.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let err = track.handle(contract::reconcile_payload(), Utc::now()).await.unwrap_err();
    assert!(matches!(err, jobgen_runtime::track::TrackError::Reconcile { .. }), "{err}");
    assert!(!lose.losing.load(std::sync::atomic::Ordering::SeqCst), "the repair's write was the one made");
    assert_eq!(job(&world, &submitted.job_id).await.status, JobStatus::Running, "the write was applied");
    assert!(schedule(&scheduler, &world, &timer).await.is_some(), "armed before the write");
    // The next run has nothing to repair; the deadline stops the job.
    let report = reconcile(&track).await;
    assert_eq!((report.running_events, report.failed), (0, 0), "{report:?}");
    assert_eq!(fire(&scheduler, &world, &tracker(&world, &scheduler), &timer).await, "stopped");
    let task = world.describe(submitted.attempt.task_arn.as_deref().unwrap()).await;
    assert!(task.stopped_reason().unwrap_or_default().starts_with(contract::STOP_REASON_TIMEOUT), "{task:?}");
}

/// The emulator's ECS, but StopTask of one task (when set) is denied: one job's repair fails.
#[derive(Clone)]
struct StopDenied {
    ecs: aws_sdk_ecs::Client,
    task_arn: Arc<std::sync::Mutex<Option<String>>>,
}

impl RunTaskApi for StopDenied {
    async fn run_task(&self, spec: &LaunchSpec) -> RunTaskAnswer {
        RunTaskApi::run_task(&self.ecs, spec).await
    }

    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<(), EcsError> {
        if self.task_arn.lock().unwrap().as_deref() == Some(task_arn) {
            return Err(EcsError {
                kind: jobgen_runtime::launch::classify_error_code(Some("AccessDeniedException")),
                code: Some("AccessDeniedException".into()),
                message: "not authorized to perform ecs:StopTask".into(),
            });
        }
        RunTaskApi::stop_task(&self.ecs, cluster, task_arn, reason).await
    }

    async fn describe_tasks(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> Result<Vec<aws_sdk_ecs::types::Task>, EcsError> {
        RunTaskApi::describe_tasks(&self.ecs, cluster, task_arns).await
    }

    async fn list_running_tasks(&self, cluster: &str, started_by: &str) -> Result<Vec<String>, EcsError> {
        RunTaskApi::list_running_tasks(&self.ecs, cluster, started_by).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repair_that_fails_fails_alone_and_the_reconciler_repairs_the_other_jobs() {
    let (world, scheduler) = timed_world("lc-reconcile-fails", |e| e.timeout_seconds = Some(60)).await;
    let denied = StopDenied { ecs: world.ecs.clone(), task_arn: Default::default() };
    let track = Tracker::with_service(
        LaunchService::new(
            world.store(),
            Launcher::new(denied.clone(), RetryPolicy::immediate(1)),
            world.config.clone(),
        )
        .with_timers(timers(&world, &scheduler)),
    );
    // Three hung jobs whose run deadlines were lost, all overdue.
    let mut jobs = Vec::new();
    for key in ["hung-a", "hung-b", "hung-c"] {
        jobs.push(running_with_lost_deadline(&world, &scheduler, &track, key, 10).await);
    }
    // StopTask of the middle one's task is denied: whichever order the run takes, the other two
    // are stopped, and the run reports the one failure as its error.
    let denied_task = jobs[1].attempt.task_arn.clone().unwrap();
    *denied.task_arn.lock().unwrap() = Some(denied_task.clone());
    let err = track.handle(contract::reconcile_payload(), Utc::now()).await.unwrap_err();
    let jobgen_runtime::track::TrackError::Reconcile { report, .. } = &err else {
        panic!("a run with a failed repair is a reconcile error: {err}");
    };
    assert_eq!((report.failed, report.overdue_timers), (1, 2), "{report:?}");
    assert!(!err.is_retryable(), "access denied: {err}");
    for (n, hung) in jobs.iter().enumerate() {
        let task = world.describe(hung.attempt.task_arn.as_deref().unwrap()).await;
        let stopped = task.stopped_reason().unwrap_or_default().starts_with(contract::STOP_REASON_TIMEOUT);
        assert_eq!(stopped, n != 1, "job {n}: {task:?}");
    }
    // Allowed again: the next run repairs it, and only it.
    *denied.task_arn.lock().unwrap() = None;
    for hung in &jobs[..] {
        if hung.job_id != jobs[1].job_id {
            deliver(&track, &[stopped_by_jobgen(&world, hung).await]).await;
        }
    }
    let report = reconcile(&track).await;
    assert_eq!((report.failed, report.overdue_timers), (0, 1), "{report:?}");
    let task = world.describe(&denied_task).await;
    assert!(task.stopped_reason().unwrap_or_default().starts_with(contract::STOP_REASON_TIMEOUT), "{task:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spot_interruption_is_retried_after_its_backoff_on_on_demand_fargate() {
    let policy = Retry {
        attempts: 3,
        interval_seconds: 60,
        rate: 2.0,
        max_delay_seconds: 600,
        on: RetryOn::DEFAULT.to_vec(),
        spot_fallback: true,
    };
    // The delay is full jitter drawn from the job id, which the idempotency key fixes: the key
    // `spot` drew about 0.1 s, shorter than this test takes to look, and track then starts the
    // retry at once (the test failed when the machine was busy). Use the first key whose delay
    // leaves at least 10 s to see the job RETRYING with its timer armed.
    let key = (0..)
        .map(|n| format!("spot-{n}"))
        .find(|key| {
            let job_id = jobgen_runtime::create_job::job_id_for_key(key);
            policy.delay(1, contract::jitter_seed(&job_id, 1)) >= std::time::Duration::from_secs(10)
        })
        .unwrap();
    let (world, scheduler) = timed_world("lc-retry", |e| e.retry = Some(policy.clone())).await;
    let first = submit(&world, &scheduler, SPOT_REPORT, &key).await;
    let track = tracker(&world, &scheduler);
    assert_eq!(
        world.describe(first.attempt.task_arn.as_deref().unwrap()).await.capacity_provider_name(),
        Some("FARGATE_SPOT")
    );

    let interrupted = events(&world, "spot_interruption", &first, 1);
    let applied_at = Utc::now();
    deliver(&track, &interrupted).await;
    let retrying = job(&world, &first.job_id).await;
    assert_eq!(retrying.status, JobStatus::Retrying);
    assert_eq!(retrying.attempt.failure_class, Some(FailureClass::SpotInterrupted));
    let retry_at = retrying.attempt.retry_at.expect("retryAt");
    assert!(
        retry_at >= applied_at && retry_at <= Utc::now() + chrono::Duration::seconds(60),
        "full jitter within 60 s: {retry_at}"
    );
    assert!(retrying.expires_at.is_none(), "not finished");
    let retry = Timer::new(TimerKind::Retry, &first.job_id, 1);
    let (at, _) = schedule(&scheduler, &world, &retry).await.expect("the retry timer is armed");
    assert!(at >= retry_at, "never before retryAt");
    // The STOPPED event again (EventBridge at least once): the same record, the same one timer.
    deliver(&track, &interrupted[interrupted.len() - 1..]).await;
    assert_eq!(job(&world, &first.job_id).await, retrying);

    assert_eq!(fire(&scheduler, &world, &track, &retry).await, "retried");
    let second = job(&world, &first.job_id).await;
    assert_eq!((second.status, second.attempt.number), (JobStatus::Starting, 2));
    assert_eq!(second.attempt.requested_capacity, Some(Capacity::Fargate));
    assert_eq!(second.history.len(), 1);
    assert_eq!(second.history[0].failure_class, Some(FailureClass::SpotInterrupted));
    assert_ne!(second.attempt.task_arn, first.attempt.task_arn);
    let task = world.describe(second.attempt.task_arn.as_deref().unwrap()).await;
    assert_eq!(task.launch_type().map(|l| l.as_str()), Some("FARGATE"), "Spot fallback: on-demand");
    assert_eq!(task.group(), Some(contract::task_group(&first.job_id, 2).as_str()));
    assert_eq!(world.task_arns().await.len(), 2, "one task per attempt");

    // The old attempt's events no longer match; the timer fired twice does nothing.
    deliver(&track, &interrupted).await;
    assert_eq!(fire_payload(&track, retry.payload()).await, "moved-on");
    assert_eq!(job(&world, &first.job_id).await.attempt.number, 2);
    deliver(&track, &events(&world, "success", &second, 2)).await;
    let done = job(&world, &first.job_id).await;
    assert_eq!((done.status, done.attempt.number, done.history.len()), (JobStatus::Succeeded, 2, 1));
    assert_eq!(world.task_arns().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_the_policy_does_not_name_and_the_last_attempt_fail_for_good() {
    let policy = Retry {
        attempts: 2,
        interval_seconds: 1,
        rate: 1.0,
        max_delay_seconds: 1,
        on: vec![RetryOn::FailedToStart],
        spot_fallback: false,
    };
    let (world, scheduler) = timed_world("lc-final", |e| e.retry = Some(policy.clone())).await;
    let track = tracker(&world, &scheduler);
    // A non-zero exit is not in `on`: FAILED at once.
    let exits = submit(&world, &scheduler, REPORT, "exits").await;
    deliver(&track, &events(&world, "non_zero_exit", &exits, 1)).await;
    assert_eq!(job(&world, &exits.job_id).await.status, JobStatus::Failed);
    assert!(schedule(&scheduler, &world, &Timer::new(TimerKind::Retry, &exits.job_id, 1)).await.is_none());

    // Failed to start twice: RETRYING, then (attempts exhausted) FAILED.
    let flaky = submit(&world, &scheduler, REPORT, "flaky").await;
    deliver(&track, &events(&world, "failed_to_start", &flaky, 1)).await;
    let retrying = job(&world, &flaky.job_id).await;
    assert_eq!(retrying.status, JobStatus::Retrying);
    let retry = Timer::new(TimerKind::Retry, &flaky.job_id, 1);
    // retryAt may already have passed (a delay under a second): the next attempt then started at
    // once, without a timer; else the timer starts it.
    if schedule(&scheduler, &world, &retry).await.is_some() {
        assert_eq!(fire(&scheduler, &world, &track, &retry).await, "retried");
    }
    let second = job(&world, &flaky.job_id).await;
    assert_eq!(second.attempt.number, 2);
    deliver(&track, &events(&world, "failed_to_start", &second, 2)).await;
    let done = job(&world, &flaky.job_id).await;
    assert_eq!((done.status, done.attempt.failure_class), (JobStatus::Failed, Some(FailureClass::FailedToStart)));
    assert!(schedule(&scheduler, &world, &Timer::new(TimerKind::Retry, &flaky.job_id, 2)).await.is_none());
    assert_eq!(world.task_arns().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_waiting_on_its_backoff_is_cancelled_and_never_starts() {
    let policy = Retry {
        attempts: 3,
        interval_seconds: 3_600,
        rate: 1.0,
        max_delay_seconds: 3_600,
        on: RetryOn::DEFAULT.to_vec(),
        spot_fallback: false,
    };
    // Seeds whose full jitter is under a few seconds would start the retry at once; an hour's bound
    // leaves it waiting for any seed this test can draw (checked below).
    let (world, scheduler) = timed_world("lc-cancel", |e| e.retry = Some(policy.clone())).await;
    let track = tracker(&world, &scheduler);
    let submitted = submit(&world, &scheduler, SPOT_REPORT, "backing-off").await;
    deliver(&track, &events(&world, "spot_interruption", &submitted, 1)).await;
    let retrying = job(&world, &submitted.job_id).await;
    assert_eq!(retrying.status, JobStatus::Retrying);
    assert!(retrying.attempt.retry_at.unwrap() > Utc::now(), "still backing off");

    let cancelled = world.store().cancel(&submitted.job_id, Utc::now(), None).await.unwrap().expect("cancellable");
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    let retry = Timer::new(TimerKind::Retry, &submitted.job_id, 1);
    assert_eq!(fire(&scheduler, &world, &track, &retry).await, "moved-on");
    let after = job(&world, &submitted.job_id).await;
    assert_eq!((after.status, after.attempt.number), (JobStatus::Cancelled, 1));
    assert_eq!(world.task_arns().await.len(), 1, "no second task");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_not_running_by_its_start_deadline_is_stopped_and_retried() {
    let policy = Retry {
        attempts: 2,
        interval_seconds: 1,
        rate: 1.0,
        max_delay_seconds: 1,
        on: vec![RetryOn::StartTimeout],
        spot_fallback: false,
    };
    let (world, scheduler) = timed_world("lc-start", |e| {
        e.start_timeout_seconds = Some(300);
        e.retry = Some(policy.clone());
    })
    .await;
    let track = tracker(&world, &scheduler);
    let launched_after = Utc::now();
    let submitted = submit(&world, &scheduler, REPORT, "stuck").await;
    let start = Timer::new(TimerKind::StartDeadline, &submitted.job_id, 1);
    let (at, _) = schedule(&scheduler, &world, &start).await.expect("armed at launch");
    assert!(at >= launched_after + chrono::Duration::seconds(300), "{at}");
    deliver(&track, &events(&world, "success", &submitted, 1)[..2]).await; // PROVISIONING, PENDING

    assert_eq!(fire(&scheduler, &world, &track, &start).await, "stopped");
    let stuck = job(&world, &submitted.job_id).await;
    let stopped = stopped_by_jobgen(&world, &stuck).await;
    assert!(stopped["detail"]["stoppedReason"].as_str().unwrap().starts_with(contract::STOP_REASON_START_TIMEOUT));
    deliver(&track, &[stopped]).await;
    let after = job(&world, &submitted.job_id).await;
    assert_eq!(
        after.history.first().and_then(|a| a.failure_class).or(after.attempt.failure_class),
        Some(FailureClass::StartTimeout)
    );
    // RETRYING until its timer, or (a delay under a second) already on attempt 2.
    let retry = Timer::new(TimerKind::Retry, &submitted.job_id, 1);
    if after.status == JobStatus::Retrying {
        assert_eq!(fire(&scheduler, &world, &track, &retry).await, "retried");
    }
    let second = job(&world, &submitted.job_id).await;
    assert_eq!(second.attempt.number, 2);
    assert!(schedule(&scheduler, &world, &Timer::new(TimerKind::StartDeadline, &submitted.job_id, 2)).await.is_some());
    // The first attempt's deadline again: it moved on.
    assert_eq!(fire_payload(&track, start.payload()).await, "moved-on");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_finished_job_is_retried_by_hand_once() {
    let (world, scheduler) = timed_world("lc-byhand", |_| {}).await;
    let track = tracker(&world, &scheduler);
    let submitted = submit(&world, &scheduler, REPORT, "broken-input").await;
    deliver(&track, &events(&world, "non_zero_exit", &submitted, 1)).await;
    let failed = job(&world, &submitted.job_id).await;
    assert_eq!(failed.status, JobStatus::Failed);

    let store = world.store();
    let retrying = store.retry_by_hand(&failed.job_id, 1, Utc::now()).await.unwrap().expect("retryable by hand");
    assert_eq!((retrying.status, retrying.expires_at), (JobStatus::Retrying, None));
    assert!(store.retry_by_hand(&failed.job_id, 1, Utc::now()).await.unwrap().is_err(), "twice: the second is refused");
    let timer = Timer::new(TimerKind::Retry, &failed.job_id, 1);
    assert_eq!(fire_payload(&track, timer.payload()).await, "retried");
    assert_eq!(fire_payload(&track, timer.payload()).await, "moved-on", "the same request again");
    let second = job(&world, &failed.job_id).await;
    assert_eq!((second.status, second.attempt.number, second.history.len()), (JobStatus::Starting, 2, 1));
    assert_eq!(world.task_arns().await.len(), 2);
    // A running job is not retried by hand.
    assert!(store.retry_by_hand(&failed.job_id, 2, Utc::now()).await.unwrap().is_err());
}

/// The emulator's ECS with RunTask refused on a seeded share of calls: half of the refusals a
/// ThrottlingException, half `failures[]` with no capacity, as ECS answers a burst it will not take.
struct Flaky {
    ecs: aws_sdk_ecs::Client,
    share: f64,
    calls: std::sync::atomic::AtomicU64,
    refused: std::sync::atomic::AtomicU64,
}

impl Flaky {
    fn new(ecs: aws_sdk_ecs::Client, share: f64) -> Arc<Flaky> {
        Arc::new(Flaky { ecs, share, calls: Default::default(), refused: Default::default() })
    }
}

/// A handle on [`Flaky`] for the launchers (create-job's and track's share one).
#[derive(Clone)]
struct FlakyEcs(Arc<Flaky>);

impl RunTaskApi for FlakyEcs {
    async fn run_task(&self, spec: &LaunchSpec) -> RunTaskAnswer {
        let this = &self.0;
        let n = this.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let draw = contract::jitter_seed("flaky", u32::try_from(n).unwrap());
        if ((draw >> 11) as f64 / (1u64 << 53) as f64) < this.share {
            this.refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return if n.is_multiple_of(2) {
                RunTaskAnswer::Error {
                    kind: jobgen_runtime::launch::classify_error_code(Some("ThrottlingException")),
                    code: Some("ThrottlingException".into()),
                    message: "Rate exceeded".into(),
                }
            } else {
                RunTaskAnswer::Failures(vec!["RESOURCE:FARGATE: Capacity is unavailable at this time".into()])
            };
        }
        RunTaskApi::run_task(&this.ecs, spec).await
    }

    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<(), EcsError> {
        RunTaskApi::stop_task(&self.0.ecs, cluster, task_arn, reason).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_refused_on_30_percent_of_run_task_calls_launches_every_job_exactly_once() {
    let (world, scheduler) = timed_world("lc-burst", |_| {}).await;
    let flaky = Flaky::new(world.ecs.clone(), 0.3);
    // One RunTask per launch round, so every refusal reaches the launch backoff.
    let launcher = || Launcher::new(FlakyEcs(flaky.clone()), RetryPolicy::immediate(1));
    let create =
        CreateJob::new(world.store(), launcher(), world.config.clone()).with_timers(timers(&world, &scheduler));
    let track = Tracker::with_service(
        LaunchService::new(world.store(), launcher(), world.config.clone()).with_timers(timers(&world, &scheduler)),
    );
    const JOBS: usize = 40;
    let mut ids = Vec::new();
    let mut accepted = 0;
    for i in 0..JOBS {
        let request = CreateJobRequest {
            job_type: REPORT.into(),
            idempotency_key: Some(format!("burst-{i}")),
            ..CreateJobRequest::default()
        };
        let response = create.handle(serde_json::to_value(request).unwrap(), None).await;
        let status = response["statusCode"].as_u64().unwrap();
        assert!(status == 201 || status == 202, "a refused launch is accepted and retried, never failed: {response}");
        if status == 202 {
            accepted += 1;
            assert_eq!(response["status"], "LAUNCH_FAILED");
            assert!(response["relaunchAt"].is_string(), "{response}");
        }
        ids.push(response["jobId"].as_str().unwrap().to_string());
    }
    assert!(accepted > 0, "the refusals reached some first launches");
    // One job backing off its launch is cancelled: its relaunch timer must do nothing.
    let mut cancelled = None;
    for id in &ids {
        if job(&world, id).await.attempt.relaunch_at.is_some() {
            world.store().cancel(id, Utc::now(), None).await.unwrap().expect("a backing-off launch is cancellable");
            cancelled = Some(id.clone());
            break;
        }
    }
    let cancelled = cancelled.unwrap();

    // Scheduler's part: fire every armed relaunch timer (at or after its time), until none is left.
    let group = world.config.timers.as_ref().unwrap().group.clone();
    let mut fired = 0;
    for _ in 0..50 {
        let listed = scheduler.list_schedules().group_name(&group).send().await.unwrap();
        let names: Vec<String> = listed.schedules().iter().filter_map(|s| s.name().map(str::to_string)).collect();
        if names.is_empty() {
            break;
        }
        for name in names {
            let out = scheduler.get_schedule().group_name(&group).name(&name).send().await.unwrap();
            let input: Value = serde_json::from_str(out.target().unwrap().input().unwrap()).unwrap();
            let timer = Timer::from_payload(&input).unwrap();
            assert_eq!(timer.kind, TimerKind::Relaunch, "{name}");
            let at = contract::parse_at_expression(out.schedule_expression().unwrap()).unwrap();
            let record = job(&world, &timer.job_id).await;
            assert!(at >= record.attempt.relaunch_at.unwrap(), "{name}: never before relaunchAt");
            scheduler.delete_schedule().group_name(&group).name(&name).send().await.unwrap();
            if timer.job_id == cancelled {
                assert_eq!(fire_payload(&track, input).await, "moved-on", "a cancelled job is not relaunched");
                fired += 1;
                continue;
            }
            assert_eq!(fire_payload(&track, input.clone()).await, "relaunched");
            // Delivered twice (Scheduler at least once): the second finds it relaunched.
            assert_eq!(fire_payload(&track, input).await, "moved-on");
            fired += 1;
        }
    }
    let mut rounds = 0;
    for id in &ids {
        let j = job(&world, id).await;
        if *id == cancelled {
            assert_eq!((j.status, j.attempt.task_arn.as_deref()), (JobStatus::Cancelled, None), "{j:?}");
            rounds += j.attempt.launch_round.unwrap_or(0);
            continue;
        }
        assert_eq!(j.status, JobStatus::Starting, "{j:?}");
        assert!(j.attempt.relaunch_at.is_none() && j.attempt.task_arn.is_some(), "{j:?}");
        rounds += j.attempt.launch_round.unwrap_or(0);
    }
    let tasks = world.task_arns().await;
    assert_eq!(tasks.len(), JOBS - 1, "every job launched exactly once, the cancelled one never");
    let refused = flaky.refused.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(u64::from(rounds), refused, "each refused round recorded on its job");
    assert_eq!(fired, refused, "one relaunch per refused round");
    assert!(refused >= 8, "about 30 % of the calls were refused: {refused}");
    eprintln!(
        "burst: {JOBS} jobs, {} RunTask calls, {refused} refused, {fired} relaunch timers",
        flaky.calls.load(std::sync::atomic::Ordering::SeqCst)
    );
}

async fn set(world: &World, job_id: &str, attribute: &str, value: aws_sdk_dynamodb::types::AttributeValue) {
    world
        .ddb
        .update_item()
        .table_name(&world.config.table_name)
        .key(contract::KEY_ATTR, aws_sdk_dynamodb::types::AttributeValue::S(job_id.into()))
        .update_expression("SET #a = :v")
        .expression_attribute_names("#a", attribute)
        .expression_attribute_values(":v", value)
        .send()
        .await
        .unwrap();
}

async fn reconcile<A: RunTaskApi>(track: &Tracker<A>) -> jobgen_runtime::track::Reconciled {
    match track.handle(contract::reconcile_payload(), Utc::now()).await.unwrap() {
        TrackOutcome::Reconciled(report) => report,
        other => panic!("not a reconcile outcome: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reconciler_repairs_lost_events_lost_timers_and_orphans_from_ecs_itself() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let policy = Retry {
        attempts: 2,
        interval_seconds: 3_600,
        rate: 1.0,
        max_delay_seconds: 3_600,
        on: RetryOn::DEFAULT.to_vec(),
        spot_fallback: false,
    };
    let (world, scheduler) = timed_world("lc-reconcile", |e| e.retry = Some(policy.clone())).await;
    let track = tracker(&world, &scheduler);
    let long_ago = |minutes: i64| {
        AttributeValue::S(jobgen_runtime::job::format_ts(&(Utc::now() - chrono::Duration::minutes(minutes))))
    };

    // (a) Its task stopped, but the STOPPED event was lost (dead-lettered): only RUNNING arrived.
    let lost_event = submit(&world, &scheduler, REPORT, "lost-event").await;
    deliver(&track, &events(&world, "success", &lost_event, 1)[..3]).await;
    let task = lost_event.attempt.task_arn.clone().unwrap();
    world
        .ecs
        .stop_task()
        .cluster(&world.cluster_arn)
        .task(&task)
        .reason("exited while nobody listened")
        .send()
        .await
        .unwrap();
    // (b) ECS no longer knows its task (stopped more than an hour ago, events lost).
    let lost_task = submit(&world, &scheduler, REPORT, "lost-task").await;
    set(
        &world,
        &lost_task.job_id,
        "taskArn",
        AttributeValue::S(format!("{}-gone", lost_task.attempt.task_arn.clone().unwrap())),
    )
    .await;
    set(&world, &lost_task.job_id, "launchedAt", long_ago(90)).await;
    // (c) A retry whose timer was lost: RETRYING, due long ago, no schedule.
    let lost_timer = submit(&world, &scheduler, SPOT_REPORT, "lost-timer").await;
    deliver(&track, &events(&world, "spot_interruption", &lost_timer, 1)).await;
    assert_eq!(job(&world, &lost_timer.job_id).await.status, JobStatus::Retrying);
    let group = world.config.timers.as_ref().unwrap().group.clone();
    let retry = Timer::new(TimerKind::Retry, &lost_timer.job_id, 1);
    scheduler.delete_schedule().group_name(&group).name(retry.schedule_name()).send().await.unwrap();
    set(&world, &lost_timer.job_id, "retryAt", long_ago(10)).await;
    // (d) A task of this project that no job owns (its job's record is gone).
    let orphan = world
        .ecs
        .run_task()
        .cluster(&world.cluster_arn)
        .task_definition(&world.task_definition_arn)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .started_by(contract::started_by(&world.config.project))
        .group(contract::task_group("nosuchjob0000000000000000", 1))
        .network_configuration(
            aws_sdk_ecs::types::NetworkConfiguration::builder()
                .awsvpc_configuration(
                    aws_sdk_ecs::types::AwsVpcConfiguration::builder()
                        .set_subnets(Some(world.config.launch_table.networks[0].subnets.clone()))
                        .set_security_groups(Some(world.config.launch_table.networks[0].security_groups.clone()))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let orphan_arn = orphan.tasks()[0].task_arn().unwrap().to_string();
    // (e) A healthy running job: left alone.
    let healthy = submit(&world, &scheduler, REPORT, "healthy").await;
    deliver(&track, &events(&world, "success", &healthy, 1)[..3]).await;

    let report = reconcile(&track).await;
    // Three orphans: (d), and two tasks the emulator still runs because the events above were
    // delivered by hand: (c)'s first attempt (its job is on attempt 2) and (b)'s real task (its job
    // is finished). On ECS those two would have stopped; stopping a task no job owns is the rule.
    assert_eq!(
        (report.stopped_events, report.lost_tasks, report.overdue_timers, report.orphans_stopped),
        (1, 1, 1, 3),
        "{report:?}"
    );
    assert_eq!(world.describe(lost_timer.attempt.task_arn.as_deref().unwrap()).await.desired_status(), Some("STOPPED"));

    let a = job(&world, &lost_event.job_id).await;
    assert!(a.status.is_terminal() && a.attempt.ecs_last_status.as_deref() == Some("STOPPED"), "{a:?}");
    assert_eq!(a.attempt.stopped_reason.as_deref(), Some("exited while nobody listened"));
    let b = job(&world, &lost_task.job_id).await;
    assert_eq!((b.status, b.attempt.failure_class), (JobStatus::Failed, Some(FailureClass::TaskLost)), "{b:?}");
    let c = job(&world, &lost_timer.job_id).await;
    assert_eq!((c.status, c.attempt.number), (JobStatus::Starting, 2), "{c:?}");
    let d = world.describe(&orphan_arn).await;
    assert_eq!(d.desired_status(), Some("STOPPED"));
    assert_eq!(d.stopped_reason(), Some(jobgen_runtime::track::RECONCILE_ORPHAN_REASON));
    let e = job(&world, &healthy.job_id).await;
    assert_eq!(e.status, JobStatus::Running);
    assert_eq!(world.describe(e.attempt.task_arn.as_deref().unwrap()).await.desired_status(), Some("RUNNING"));

    // The repaired outcomes of these unlimited jobs took them out of the open jobs' index; the
    // retried and the healthy job are still in it.
    let open = world.store().list(&ListFilter::open(), None, 100, None).await.unwrap();
    let mut open: Vec<String> = open.jobs.into_iter().map(|j| j.job_id).collect();
    open.sort();
    let mut expected = vec![lost_timer.job_id.clone(), healthy.job_id.clone()];
    expected.sort();
    assert_eq!(open, expected);

    // Run again (the schedule fires every five minutes, or twice): nothing more to repair.
    let again = reconcile(&track).await;
    assert_eq!(job(&world, &healthy.job_id).await.status, JobStatus::Running, "still running: nothing to repair");
    assert_eq!(
        (again.stopped_events, again.lost_tasks, again.overdue_timers, again.orphans_stopped, again.claimed),
        (0, 0, 0, 0, 0),
        "{again:?}"
    );
    assert_eq!(job(&world, &lost_timer.job_id).await.attempt.number, 2, "the retry started once");
}

/// A `MakeWriter` into a shared buffer: what the handlers log, for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_handlers_never_log_a_jobs_environment_or_command() {
    // Everything jobgen's own code logs, at every level, while a job with a secret in its
    // environment and command is created, launched, retried, timed out and reconciled.
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("jobgen_runtime=trace"))
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    // The process-wide subscriber, not a thread's: with a thread's, callsites that this binary's
    // other tests (running at the same time, without one) hit first stayed cached as of no
    // interest, and their lines went uncaptured. The other tests' lines land here too, which only
    // widens the check: none of them may hold the secret either.
    tracing::subscriber::set_global_default(subscriber).expect("the only test that sets a subscriber");
    let policy = Retry {
        attempts: 2,
        interval_seconds: 1,
        rate: 1.0,
        max_delay_seconds: 1,
        on: RetryOn::DEFAULT.to_vec(),
        spot_fallback: false,
    };
    let (world, scheduler) = timed_world("lc-secrets", |e| {
        e.retry = Some(policy.clone());
        e.timeout_seconds = Some(600);
        e.allow_command_override = true;
    })
    .await;
    let track = tracker(&world, &scheduler);
    const SECRET: &str = "s3cr3t-Value-7f1c";
    let handler = world.create_job().with_timers(timers(&world, &scheduler));
    let request = serde_json::json!({
        "jobType": SPOT_REPORT,
        "idempotencyKey": "secretive",
        "environment": {"DB_PASSWORD": SECRET, "API_TOKEN": format!("Bearer {SECRET}")},
        "command": ["sh", "-c", format!("login --password {SECRET}")],
    });
    let response = handler.handle(request.clone(), Some(Utc::now().timestamp_millis() + 30_000)).await;
    assert_eq!(response["statusCode"], 201, "{response}");
    let _replay = handler.handle(request, None).await;
    let first = job(&world, response["jobId"].as_str().unwrap()).await;
    deliver(&track, &events(&world, "spot_interruption", &first, 1)).await;
    let retry = Timer::new(TimerKind::Retry, &first.job_id, 1);
    if schedule(&scheduler, &world, &retry).await.is_some() {
        fire(&scheduler, &world, &track, &retry).await;
    }
    let second = job(&world, &first.job_id).await;
    deliver(&track, &events(&world, "success", &second, 2)[..3]).await;
    fire(&scheduler, &world, &track, &Timer::new(TimerKind::RunDeadline, &first.job_id, 2)).await;
    reconcile(&track).await;
    // The record does keep them (it is the job), and the task got them.
    assert_eq!(job(&world, &first.job_id).await.environment["DB_PASSWORD"], SECRET);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The capture saw the paths this job went through (how many lines depends on whether the
    // 0-1 s retry was started at once or by its timer, so the count is not the check).
    assert!(
        logs.contains("timer armed") && logs.contains("next attempt started") && logs.contains("deadline passed"),
        "the handlers' logs were not captured: {logs}"
    );
    assert!(!logs.contains(SECRET), "a secret from the job's environment or command was logged:\n{logs}");
    assert!(!logs.contains("DB_PASSWORD") && !logs.contains("API_TOKEN"), "environment names were logged:\n{logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_launch_whose_answer_was_lost_keeps_its_slot_and_relaunches_onto_its_task() {
    // A limit of 1. RunTask starts the task but its answer is lost (a timeout after ECS accepted the
    // call): the launch is Unavailable, its outcome unknown. Giving the slot back would let the
    // queue start a second job beside a task that may be running.
    let (world, scheduler) = timed_world("lc-lost-answer", |e| e.max_concurrency = Some(1)).await;
    let refusals = Arc::new(jobgen_local::ecs::Refusals::default());
    refusals.set_lost_answers(1.0);
    let ecs = jobgen_local::ecs::DevEcs::new(world.ecs.clone(), refusals.clone());
    let create =
        CreateJob::new(world.store(), Launcher::new(ecs.clone(), RetryPolicy::immediate(1)), world.config.clone())
            .with_timers(timers(&world, &scheduler));
    let request = |key: &str| CreateJobRequest {
        job_type: REPORT.into(),
        idempotency_key: Some(key.into()),
        ..CreateJobRequest::default()
    };
    let deadline = || Some(Utc::now().timestamp_millis() + 30_000);
    let a = create.create(request("a"), Utc::now(), deadline()).await.map(|v| v.job_id).unwrap_or_else(|e| {
        e.job.as_ref().map(|j| j.job_id.clone()).unwrap_or_else(|| panic!("no job recorded: {e:?}"))
    });
    let a_now = job(&world, &a).await;
    assert_eq!(a_now.status, JobStatus::LaunchFailed, "{a_now:?}");
    assert_eq!(a_now.attempt.launch_error_kind, Some(jobgen_runtime::job::LaunchErrorKind::Unavailable));
    assert!(a_now.attempt.relaunch_at.is_some(), "a relaunch is coming: {a_now:?}");
    assert_eq!(a_now.slot, Some(1), "the slot stays with a launch whose outcome is unknown");
    assert_eq!(world.task_arns().await.len(), 1, "ECS did start its task");
    // Another job waits: the task that may be running holds the only slot.
    let b = create.create(request("b"), Utc::now(), deadline()).await.unwrap();
    assert_eq!(b.status, JobStatus::Queued, "{b:?}");

    // The relaunch, answered this time: the same clientToken finds the task already started.
    refusals.set_lost_answers(0.0);
    let service =
        LaunchService::new(world.store(), Launcher::new(ecs, RetryPolicy::immediate(1)), world.config.clone())
            .with_timers(timers(&world, &scheduler));
    let track = Tracker::with_service(service);
    let timer = Timer {
        round: a_now.attempt.launch_round.unwrap(),
        ..Timer::new(TimerKind::Relaunch, &a, a_now.attempt.number)
    };
    let (_, input) = schedule(&scheduler, &world, &timer).await.expect("the relaunch timer is armed");
    assert_eq!(fire_payload(&track, input).await, "relaunched");
    let a_now = job(&world, &a).await;
    assert_eq!((a_now.status, a_now.slot), (JobStatus::Starting, Some(1)), "{a_now:?}");
    assert_eq!(world.task_arns().await, vec![a_now.attempt.task_arn.clone().unwrap()], "one task, the first");
    assert_eq!(job(&world, &b.job_id).await.status, JobStatus::Queued, "b still waits for the slot");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reconciler_repair_never_shadows_the_event_it_stood_in_for() {
    // The fault harness's job scripted to fail to start that ended SUCCEEDED. Its DEPROVISIONING
    // event (version 2) was applied: STARTING, as a task that never ran is. Its STOPPED event
    // (version 3) failed once and waited for its retry; meanwhile the reconciler read the task from
    // DescribeTasks, which the emulator answers RUNNING and without a version (moto runs a task at
    // once and keeps no version counter), and applied it as the lost RUNNING event at version
    // recorded + 1 = 3. The STOPPED event's retry was then not newer than the record and changed
    // nothing, and the next reconcile applied the emulator's STOPPED task (no stop code, exit code
    // 0) as SUCCEEDED. A repair must keep the version it read, so every real event newer than that
    // still applies after it.
    let (world, scheduler) = timed_world("lc-repair-version", |_| {}).await;
    let track = tracker(&world, &scheduler);
    let submitted = submit(&world, &scheduler, REPORT, "fails-to-start").await;
    let sequence = events(&world, "failed_to_start", &submitted, 1);
    deliver(&track, &sequence[..2]).await;
    let read = job(&world, &submitted.job_id).await;
    assert_eq!((read.status, read.attempt.ecs_version), (JobStatus::Starting, Some(2)), "{read:?}");

    let report = reconcile(&track).await;
    assert_eq!(report.running_events, 1, "the emulator says RUNNING: {report:?}");
    let repaired = job(&world, &submitted.job_id).await;
    assert_eq!(repaired.attempt.ecs_version, Some(2), "a repair without a reported version keeps the one it read");

    // The STOPPED event's retry: newer than anything the record holds, so it is the outcome.
    let outcome = track.handle(sequence[2].clone(), Utc::now()).await.unwrap();
    assert!(matches!(outcome, TrackOutcome::Applied { .. }), "{outcome:?}");
    let stopped = job(&world, &submitted.job_id).await;
    assert_eq!(
        (stopped.status, stopped.attempt.failure_class, stopped.attempt.ecs_version),
        (JobStatus::Failed, Some(FailureClass::FailedToStart), Some(3)),
        "{stopped:?}"
    );

    // The emulator's task stopped (the simulator stops it after the STOPPED event): nothing left to
    // repair, and the outcome stands.
    let task = stopped.attempt.task_arn.clone().unwrap();
    world.ecs.stop_task().cluster(&world.cluster_arn).task(&task).reason("stopped").send().await.unwrap();
    let again = reconcile(&track).await;
    assert_eq!((again.stopped_events, again.running_events), (0, 0), "{again:?}");
    let end = job(&world, &submitted.job_id).await;
    assert_eq!((end.status, end.attempt.failure_class), (JobStatus::Failed, Some(FailureClass::FailedToStart)));
}
