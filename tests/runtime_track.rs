//! The track handler against the moto emulator: real-shaped "ECS Task State Change" sequences
//! (tests/fixtures/events/sequences/) applied to jobs launched by the real create-job handler, each
//! sequence delivered in order, with duplicates, reversed and shuffled, always ending in the same
//! record; foreign events ignored; unknown fields and values tolerated; launch/track races.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "runtime_support.rs"]
mod runtime_support;

use chrono::Utc;
use jobgen_runtime::contract::{self, Architecture, Capacity, attr};
use jobgen_runtime::create_job::CreateJobRequest;
use jobgen_runtime::fargate;
use jobgen_runtime::job::{Job, JobStatus};
use jobgen_runtime::launcher::Launched;
use jobgen_runtime::store::ListFilter;
use jobgen_runtime::track::{Skip, TrackOutcome};
use runtime_support::{REPORT, SPOT_REPORT, World, event, fixture, shuffle};
use serde_json::{Value, json};

const SEQUENCES: [&str; 7] = [
    "success",
    "non_zero_exit",
    "failed_to_start",
    "out_of_memory",
    "image_pull_failed",
    "spot_interruption",
    "user_stop",
];

/// Record attributes that differ between two runs of the same sequence by nature: identity, the
/// task ARN moto assigned, and wall-clock times of our own writes.
const VOLATILE: [&str; 7] = [
    contract::KEY_ATTR,
    attr::IDEMPOTENCY_KEY,
    attr::TASK_ARN,
    contract::CREATED_AT_ATTR,
    attr::UPDATED_AT,
    attr::LAUNCHED_AT,
    contract::TTL_ATTR,
];

/// Every delivery order tested: in order, duplicated, reversed, reversed-duplicated, and three
/// seeded shuffles of a duplicated sequence.
fn orders(n: usize) -> Vec<(String, Vec<usize>)> {
    let once: Vec<usize> = (0..n).collect();
    let twice: Vec<usize> = once.iter().flat_map(|i| [*i, *i]).collect();
    let mut orders = vec![
        ("in-order".to_string(), once.clone()),
        ("duplicated".to_string(), twice.clone()),
        ("reversed".to_string(), once.iter().rev().copied().collect()),
        ("reversed-duplicated".to_string(), twice.iter().rev().copied().collect()),
    ];
    for seed in [7, 42, 2026] {
        let mut shuffled = twice.clone();
        shuffle(&mut shuffled, seed);
        orders.push((format!("shuffled-{seed}"), shuffled));
    }
    orders
}

fn request(job_type: &str, key: &str) -> CreateJobRequest {
    CreateJobRequest {
        job_type: job_type.to_string(),
        idempotency_key: Some(key.to_string()),
        environment: [("INPUT".to_string(), "s3://bucket/input.csv".to_string())].into(),
        ..CreateJobRequest::default()
    }
}

/// Launches a job through the real handler and returns (job id, task ARN).
async fn launch(world: &World, job_type: &str, key: &str) -> (String, String) {
    let view = world.create_job().create(request(job_type, key), Utc::now(), None).await.unwrap();
    assert_eq!(view.status, JobStatus::Starting);
    (view.job_id, view.task_arn.unwrap())
}

fn normalized(job: &Job) -> Value {
    let mut json = job.to_json();
    for key in VOLATILE {
        json.as_object_mut().unwrap().remove(key);
    }
    json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sequence_ends_in_the_same_record_in_any_delivery_order() {
    let world = World::new("sequences").await;
    let tracker = world.tracker();
    for name in SEQUENCES {
        let fixture = fixture(name);
        let mut reference: Option<Value> = None;
        for (order_name, order) in orders(fixture.events.len()) {
            let (job_id, task_arn) = launch(&world, &fixture.job_type, &format!("{name}-{order_name}")).await;
            let mut applied = 0;
            for i in &order {
                let e = event(&world, &fixture.events[*i], &job_id, &task_arn, &fixture.job_type);
                match tracker.handle(e, Utc::now()).await.unwrap() {
                    TrackOutcome::Applied { .. } => applied += 1,
                    TrackOutcome::Unchanged { exists, .. } => assert_eq!(exists, Some(true)),
                    TrackOutcome::Skipped(skip) => panic!("{name}/{order_name}: skipped {skip}"),
                    other => panic!("{name}/{order_name}: an event taken for {other:?}"),
                }
            }
            if order_name == "in-order" || order_name == "duplicated" {
                assert_eq!(applied, fixture.events.len(), "{name}/{order_name}: each event applies once");
            }
            assert!(applied <= fixture.events.len(), "{name}/{order_name}: a duplicate was applied");
            if order_name.starts_with("reversed") {
                assert_eq!(applied, 1, "{name}/{order_name}: only the newest event applies");
            }
            let job = world.store().get(&job_id).await.unwrap().unwrap();
            assert!(job.status.is_terminal(), "{name}/{order_name}: {:?}", job.status);
            assert_eq!(job.attempt.task_arn.as_deref(), Some(task_arn.as_str()));
            assert!(job.expires_at.is_some(), "terminal records get a TTL");
            let record = normalized(&job);
            for (key, want) in &fixture.expect {
                assert_eq!(&record[key], want, "{name}/{order_name}: {key} in {record:#}");
            }
            match &reference {
                None => reference = Some(record),
                Some(reference) => assert_eq!(&record, reference, "{name}/{order_name} differs from in-order"),
            }
        }
        let record = reference.unwrap();
        assert_eq!(record[attr::ECS_LAST_STATUS], "STOPPED", "{name}");
        assert_eq!(record[attr::ECS_VERSION], fixture.events.len() as u64, "{name}");
        assert!(record[attr::COST_USD].as_f64().is_some(), "{name}: cost recorded");
        assert!(record.get(attr::LEASE_UNTIL).is_none(), "{name}");
    }
}

#[tokio::test]
async fn success_record_has_durations_and_the_billed_cost() {
    let world = World::new("success").await;
    let fixture = fixture("success");
    let (job_id, task_arn) = launch(&world, REPORT, "s").await;
    for text in &fixture.events {
        world.tracker().handle(event(&world, text, &job_id, &task_arn, REPORT), Utc::now()).await.unwrap();
    }
    let job = world.store().get(&job_id).await.unwrap().unwrap();
    let a = &job.attempt;
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!((a.wait_ms, a.run_ms, a.exit_code), (Some(13_265), Some(326_631), Some(0)));
    assert_eq!(
        (a.cpu, a.memory, a.capacity, a.architecture),
        (Some(256), Some(512), Some(Capacity::Fargate), Some(Architecture::X86_64))
    );
    // Billed from pullStartedAt (10:00:09.020) to stoppedAt (10:06:02.731).
    let cost = fargate::estimate_cost(256, 512, Architecture::X86_64, Capacity::Fargate, 353_711);
    assert_eq!(a.cost_usd, Some(cost));
    assert_eq!(a.failure_class, None);
    assert_eq!(a.cluster_arn.as_deref(), Some(world.cluster_arn.as_str()));
    assert_eq!(a.stopped_reason.as_deref(), Some("Essential container in task exited"));
}

#[tokio::test]
async fn events_that_are_not_ours_change_nothing() {
    let world = World::new("foreign").await;
    let tracker = world.tracker();
    let fixture = fixture("success");
    let (job_id, task_arn) = launch(&world, REPORT, "mine").await;
    let before = world.store().get(&job_id).await.unwrap().unwrap();
    let running = event(&world, &fixture.events[2], &job_id, &task_arn, REPORT);

    let mut other_project = running.clone();
    other_project["detail"]["startedBy"] = "jobgen/someone-else".into();
    assert!(matches!(
        tracker.handle(other_project, Utc::now()).await.unwrap(),
        TrackOutcome::Skipped(Skip::ForeignStartedBy(_))
    ));
    let mut service_task = running.clone();
    service_task["detail"]["startedBy"] = "ecs-svc/9223370545345641169".into();
    service_task["detail"]["group"] = "service:web".into();
    assert!(matches!(tracker.handle(service_task, Utc::now()).await.unwrap(), TrackOutcome::Skipped(_)));
    let mut foreign_group = running.clone();
    foreign_group["detail"]["group"] = "family:report".into();
    assert!(matches!(
        tracker.handle(foreign_group, Utc::now()).await.unwrap(),
        TrackOutcome::Skipped(Skip::ForeignGroup(_))
    ));
    let instance_event =
        json!({"detail-type": "ECS Container Instance State Change", "source": "aws.ecs", "detail": {}});
    assert!(matches!(
        tracker.handle(instance_event, Utc::now()).await.unwrap(),
        TrackOutcome::Skipped(Skip::OtherDetailType(_))
    ));
    let garbage = json!({"detail-type": "ECS Task State Change", "detail": {"version": "seven"}});
    assert!(matches!(tracker.handle(garbage, Utc::now()).await.unwrap(), TrackOutcome::Skipped(Skip::Malformed(_))));

    // Our project and group shape, but no such job: the conditional write fails, no record appears.
    let mut unknown_job = running.clone();
    unknown_job["detail"]["group"] = contract::task_group("nosuchjob", 1).into();
    let outcome = tracker.handle(unknown_job, Utc::now()).await.unwrap();
    assert_eq!(outcome, TrackOutcome::Unchanged { job_id: "nosuchjob".into(), exists: None });
    assert!(world.store().get("nosuchjob").await.unwrap().is_none(), "apply-event never creates a record");
    // An event of another attempt, or of another task claiming this attempt, is not applied.
    let mut other_attempt = running.clone();
    other_attempt["detail"]["group"] = contract::task_group(&job_id, 2).into();
    assert!(matches!(tracker.handle(other_attempt, Utc::now()).await.unwrap(), TrackOutcome::Unchanged { .. }));
    let mut other_task = running.clone();
    other_task["detail"]["taskArn"] = format!("{task_arn}-impostor").into();
    assert!(matches!(tracker.handle(other_task, Utc::now()).await.unwrap(), TrackOutcome::Unchanged { .. }));

    assert_eq!(world.store().get(&job_id).await.unwrap().unwrap(), before);
}

#[tokio::test]
async fn unknown_fields_and_enum_values_are_tolerated() {
    let world = World::new("unknown").await;
    let tracker = world.tracker();
    let fixture = fixture("success");
    let (job_id, task_arn) = launch(&world, REPORT, "u").await;
    let mut future = event(&world, &fixture.events[1], &job_id, &task_arn, REPORT);
    future["detail"]["lastStatus"] = "WARMING_UP".into();
    future["detail"]["brandNewField"] = json!({"nested": [1, 2, 3]});
    future["detail"]["containers"][0]["healthStatus"] = "SOMETHING_NEW".into();
    future["newTopLevel"] = true.into();
    assert!(matches!(
        tracker.handle(future, Utc::now()).await.unwrap(),
        TrackOutcome::Applied { status: JobStatus::Starting, .. }
    ));
    let mut stopped = event(&world, &fixture.events[4], &job_id, &task_arn, REPORT);
    stopped["detail"]["stopCode"] = "SomeFutureStopCode".into();
    stopped["detail"]["containers"][0]["exitCode"] = 0.into();
    tracker.handle(stopped, Utc::now()).await.unwrap();
    let job = world.store().get(&job_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.attempt.stop_code.as_deref(), Some("SomeFutureStopCode"));
}

#[tokio::test]
async fn events_that_beat_the_launch_record_are_not_regressed_by_it() {
    let world = World::new("race").await;
    let store = world.store();
    let tracker = world.tracker();
    let fixture = fixture("success");
    // The job is recorded (SUBMITTED) and RunTask succeeded, but the RUNNING event arrives before
    // create-job records the launch.
    let crashing = world.create_job().with_fault(Some(jobgen_runtime::create_job::Fault::CrashBeforeRunTask));
    crashing.create(request(REPORT, "race"), Utc::now(), None).await.unwrap_err();
    let job_id = jobgen_runtime::create_job::job_id_for_key("race");
    let task_arn = format!("{}/task/deadbeef", world.cluster_arn.replace(":cluster/", ":task/"));
    let running = event(&world, &fixture.events[2], &job_id, &task_arn, REPORT);
    assert!(matches!(
        tracker.handle(running, Utc::now()).await.unwrap(),
        TrackOutcome::Applied { status: JobStatus::Running, .. }
    ));

    let launched = Launched { task_arn: task_arn.clone(), cluster_arn: None, tries: 1 };
    let late = store.record_launch(&job_id, 1, &launched, Utc::now()).await.unwrap();
    let current = late.expect_err("record-launch must not overwrite a newer event");
    assert_eq!(current.map(|j| j.status), Some(JobStatus::Running));
    let failure = jobgen_runtime::launch::LaunchFailure {
        kind: jobgen_runtime::job::LaunchErrorKind::Unavailable,
        code: None,
        reason: "timeout".into(),
        tries: 3,
    };
    assert!(store.record_launch_failure(&job_id, 1, &failure, None, Utc::now()).await.unwrap().is_err());
    let job = store.get(&job_id).await.unwrap().unwrap();
    assert_eq!((job.status, job.attempt.ecs_version, job.lease_until), (JobStatus::Running, Some(3), None));
    // A replay does not relaunch a job whose task is known.
    let view = world.create_job().create(request(REPORT, "race"), Utc::now(), None).await.unwrap();
    assert_eq!((view.status, view.task_arn.as_deref()), (JobStatus::Running, Some(task_arn.as_str())));
    assert!(world.task_arns().await.is_empty(), "no RunTask was made");
}

#[tokio::test]
async fn a_terminal_record_never_regresses_but_a_newer_stopped_event_refines_it() {
    let world = World::new("terminal").await;
    let tracker = world.tracker();
    let fixture = fixture("success");
    let (job_id, task_arn) = launch(&world, REPORT, "t").await;
    let stopped = event(&world, &fixture.events[4], &job_id, &task_arn, REPORT);
    tracker.handle(stopped.clone(), Utc::now()).await.unwrap();
    // Even a (hypothetical) non-terminal event with a higher version cannot reopen the job.
    let mut late_running = event(&world, &fixture.events[2], &job_id, &task_arn, REPORT);
    late_running["detail"]["version"] = 9.into();
    assert!(matches!(tracker.handle(late_running, Utc::now()).await.unwrap(), TrackOutcome::Unchanged { .. }));
    assert_eq!(world.store().get(&job_id).await.unwrap().unwrap().status, JobStatus::Succeeded);
    // A second STOPPED event with a higher version (ECS adds detail after the stop) is applied.
    let mut refined = stopped;
    refined["detail"]["version"] = 6.into();
    refined["detail"]["stoppedReason"] = "Essential container in task exited (refined)".into();
    assert!(matches!(tracker.handle(refined, Utc::now()).await.unwrap(), TrackOutcome::Applied { .. }));
    let job = world.store().get(&job_id).await.unwrap().unwrap();
    assert_eq!((job.status, job.attempt.ecs_version), (JobStatus::Succeeded, Some(6)));
    assert!(job.attempt.stopped_reason.unwrap().ends_with("(refined)"));
}

/// Pages through a listing `size` jobs at a time and returns the ids in the order seen.
async fn page_through(store: &jobgen_runtime::store::Store, filter: &ListFilter, size: i32) -> Vec<String> {
    let mut seen = Vec::new();
    let mut page = None;
    loop {
        let result = store.list(filter, None, size, page.as_deref()).await.unwrap();
        assert!(result.jobs.len() <= size as usize, "a page holds at most its limit");
        seen.extend(result.jobs.into_iter().map(|j| j.job_id));
        match result.next {
            Some(next) => page = Some(next),
            None => break,
        }
    }
    seen
}

#[tokio::test]
async fn jobs_are_listed_by_status_and_by_type_newest_first_across_shards() {
    let world = World::new("listing").await;
    let store = world.store();
    let fixture = fixture("non_zero_exit");
    // 12 jobs of two types, spread over every shard; every third of the report jobs fails.
    let mut ids = Vec::new();
    let mut failed = Vec::new();
    for i in 0..12 {
        let job_type = if i % 4 == 3 { SPOT_REPORT } else { REPORT };
        let (job_id, task_arn) = launch(&world, job_type, &format!("l{i}")).await;
        if i % 3 == 1 {
            for text in &fixture.events {
                world.tracker().handle(event(&world, text, &job_id, &task_arn, job_type), Utc::now()).await.unwrap();
            }
            failed.push(job_id.clone());
        }
        ids.push((job_id, job_type));
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let shards: std::collections::BTreeSet<String> = ids.iter().map(|(id, _)| contract::shard_of(id)).collect();
    assert!(shards.len() > 1, "the jobs span shards: {shards:?}");
    let newest_first = |keep: &dyn Fn(&str, &str) -> bool| -> Vec<String> {
        ids.iter().rev().filter(|(id, t)| keep(id, t)).map(|(id, _)| id.clone()).collect()
    };
    let all = newest_first(&|_, _| true);
    // Every job once, newest first, whatever the page size (pages merge the shards).
    for size in [1, 3, 5, 100] {
        assert_eq!(page_through(&store, &ListFilter::all(), size).await, all, "page size {size}");
    }
    // By status: FAILED (every job's entry, records read for their status) ...
    let is_failed = |id: &str, _: &str| failed.iter().any(|f| f == id);
    assert_eq!(
        page_through(&store, &ListFilter::all().with_status(JobStatus::Failed), 2).await,
        newest_first(&is_failed)
    );
    // ... and STARTING, from the open jobs' index: an unlimited job that failed left it.
    let starting = newest_first(&|id, t| !is_failed(id, t));
    assert_eq!(page_through(&store, &ListFilter::all().with_status(JobStatus::Starting), 2).await, starting);
    assert_eq!(page_through(&store, &ListFilter::open(), 4).await, starting);
    // By type, and by type and status.
    let spot = newest_first(&|_, t| t == SPOT_REPORT);
    assert_eq!(page_through(&store, &ListFilter::all().with_type(SPOT_REPORT), 1).await, spot);
    let spot_failed = newest_first(&|id, t| t == SPOT_REPORT && is_failed(id, t));
    assert!(!spot_failed.is_empty());
    assert_eq!(
        page_through(&store, &ListFilter::all().with_type(SPOT_REPORT).with_status(JobStatus::Failed), 3).await,
        spot_failed
    );
    // The record of a failed job no longer carries the open index's key; a running one does.
    let record = world.record(&failed[0]).await;
    assert!(!record.contains_key(contract::OPEN_SINCE_ATTR), "{record:?}");
    let record = world.record(&starting[0]).await;
    assert_eq!(record.get(contract::OPEN_SINCE_ATTR), record.get(contract::CREATED_AT_ATTR));
    // A page token from elsewhere is refused, not misread.
    assert!(store.list(&ListFilter::all(), None, 5, Some("bm90LWEtdG9rZW4")).await.is_err());
}

#[tokio::test]
async fn a_cancelled_job_keeps_its_status_and_still_records_its_task() {
    let world = World::new("cancel").await;
    let store = world.store();
    let tracker = world.tracker();
    let fixture = fixture("user_stop");
    let (job_id, task_arn) = launch(&world, REPORT, "c").await;
    let running = event(&world, &fixture.events[2], &job_id, &task_arn, REPORT);
    tracker.handle(running, Utc::now()).await.unwrap();

    let cancelled =
        store.cancel(&job_id, Utc::now(), world.config.expires_at(Utc::now().timestamp())).await.unwrap().unwrap();
    assert_eq!(
        (cancelled.status, cancelled.attempt.task_arn.as_deref()),
        (JobStatus::Cancelled, Some(task_arn.as_str()))
    );
    assert!(cancelled.cancelled_at.is_some() && cancelled.expires_at.is_some());
    // The task's stop (StopTask → UserInitiated) arrives afterwards, twice and out of order.
    for i in [4, 3, 4] {
        tracker.handle(event(&world, &fixture.events[i], &job_id, &task_arn, REPORT), Utc::now()).await.unwrap();
    }
    let job = store.get(&job_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!((job.attempt.ecs_last_status.as_deref(), job.attempt.ecs_version), (Some("STOPPED"), Some(5)));
    assert_eq!(job.attempt.stop_code.as_deref(), Some("UserInitiated"));
    assert!(job.attempt.cost_usd.is_some() && job.attempt.stopped_at.is_some());
    // A finished job cannot be cancelled; an unknown one is reported as such.
    assert!(store.cancel(&job_id, Utc::now(), None).await.unwrap().is_err());
    assert!(matches!(store.cancel("nosuchjob", Utc::now(), None).await.unwrap(), Err(None)));
    assert!(store.get("nosuchjob").await.unwrap().is_none());
}

#[tokio::test]
async fn aws_calls_per_job_and_per_event_are_as_documented() {
    use jobgen_runtime::create_job::CreateJob;
    use jobgen_runtime::launch::RetryPolicy;
    use jobgen_runtime::launcher::Launcher;
    use jobgen_runtime::track::Tracker;
    use runtime_support::CallCounter;
    use std::collections::BTreeMap;

    let world = World::new("calls").await;
    let counter = CallCounter::default();
    let (store, ecs) = world.counted(&counter).await;
    let handler = CreateJob::new(store.clone(), Launcher::new(ecs, RetryPolicy::default()), world.config.clone());
    let tracker = Tracker::new(store, world.config.clone());
    let calls = |pairs: &[(&str, u32)]| pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>();

    let view = handler.create(request(REPORT, "counted"), Utc::now(), None).await.unwrap();
    assert_eq!(counter.counts(), calls(&[("PutItem", 1), ("RunTask", 1), ("UpdateItem", 1)]), "create, new job");
    counter.reset();
    handler.create(request(REPORT, "counted"), Utc::now(), None).await.unwrap();
    assert_eq!(counter.counts(), calls(&[("PutItem", 1)]), "create, replay");

    let fixture = fixture("success");
    let task_arn = view.task_arn.unwrap();
    for pass in ["first delivery", "duplicate delivery"] {
        counter.reset();
        for text in &fixture.events {
            tracker.handle(event(&world, text, &view.job_id, &task_arn, REPORT), Utc::now()).await.unwrap();
        }
        let n = u32::try_from(fixture.events.len()).unwrap();
        assert_eq!(counter.counts(), calls(&[("UpdateItem", n)]), "track, {pass}: one write per event, no reads");
    }
    counter.reset();
    let mut foreign = event(&world, &fixture.events[0], &view.job_id, &task_arn, REPORT);
    foreign["detail"]["startedBy"] = "ecs-svc/123".into();
    tracker.handle(foreign, Utc::now()).await.unwrap();
    assert!(counter.counts().is_empty(), "a foreign event costs no call");
}
