//! Scheduled runs through the create-job handler against the serial moto emulator: the request a
//! schedule's target sends ([`schedule::input`], delivered as Scheduler delivers it), a trigger
//! delivered twice, a run while the previous one is active under `overlap: skip` and `queue`,
//! concurrent runs of one schedule, and the requests create-job refuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "runtime_support.rs"]
mod runtime_support;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use jobgen_runtime::create_job::job_id_for_key;
use jobgen_runtime::job::JobStatus;
use jobgen_runtime::schedule::{self, Overlap, ScheduleEntry};
use runtime_support::{REPORT, World};
use serde_json::{Value, json};

fn deadline() -> Option<i64> {
    Some(Utc::now().timestamp_millis() + 30_000)
}

/// The schedule `name`'s run scheduled at `at`, as Scheduler invokes create-job with it.
fn run(name: &str, at: DateTime<Utc>) -> Value {
    let input = schedule::input(name, REPORT, &BTreeMap::new()).to_string();
    serde_json::from_str(&schedule::deliver(&input, at)).unwrap()
}

fn tick(n: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").unwrap().with_timezone(&Utc) + Duration::minutes(n)
}

fn world_with(world: &mut World, name: &str, overlap: Overlap) {
    world.config.launch_table.schedules.insert(name.into(), ScheduleEntry { job_type: REPORT.into(), overlap });
}

#[tokio::test]
async fn a_redelivered_trigger_is_one_job_and_a_run_while_the_previous_is_active_is_skipped() {
    let mut world = World::new("sched-skip").await;
    world_with(&mut world, "every-minute", Overlap::Skip);
    let handler = world.create_job();

    let first = handler.handle(run("every-minute", tick(0)), deadline()).await;
    assert_eq!(first["statusCode"], 201, "{first}");
    let first_id = first["jobId"].as_str().unwrap().to_string();
    let again = handler.handle(run("every-minute", tick(0)), deadline()).await;
    assert_eq!((again["statusCode"].clone(), again["jobId"].clone()), (json!(200), json!(first_id)), "{again}");
    assert_eq!(world.task_arns().await.len(), 1, "a redelivered trigger starts no second task");
    let job = world.store().get(&first_id).await.unwrap().unwrap();
    assert_eq!(job.schedule.as_deref(), Some("every-minute"));

    // The next minute's run while the first is still STARTING: skipped, nothing recorded.
    let skipped = handler.handle(run("every-minute", tick(1)), deadline()).await;
    assert_eq!(skipped["statusCode"], 409, "{skipped}");
    assert_eq!(skipped["error"]["code"], "ScheduleOverlap");
    assert_eq!(skipped["job"]["jobId"], json!(first_id), "names the active run");
    let key = schedule::idempotency_key("every-minute", "2026-12-01T10:01:00Z");
    assert!(world.record(&job_id_for_key(&key)).await.is_empty(), "a skipped run writes no record");
    assert_eq!(world.task_arns().await.len(), 1);

    // Once the first run is over, the next run starts.
    world.store().cancel(&first_id, Utc::now(), None).await.unwrap().unwrap();
    let next = handler.handle(run("every-minute", tick(2)), deadline()).await;
    assert_eq!(next["statusCode"], 201, "{next}");
    assert_eq!(world.task_arns().await.len(), 2);
    assert_eq!(world.store().schedule_pointer("every-minute").await.unwrap().as_deref(), next["jobId"].as_str());
    // A late redelivery of the first run replays it (its record still exists), it starts nothing.
    let late = handler.handle(run("every-minute", tick(0)), deadline()).await;
    assert_eq!((late["statusCode"].clone(), late["jobId"].clone()), (json!(200), json!(first_id)), "{late}");
    assert_eq!(world.task_arns().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runs_of_one_schedule_record_one_of_them() {
    let mut world = World::new("sched-race").await;
    world_with(&mut world, "burst", Overlap::Skip);
    let handler = Arc::new(world.create_job());
    for round in 0..3 {
        // Eight distinct scheduled times at once (a backlog delivered together), each twice.
        let mut calls = tokio::task::JoinSet::new();
        for n in 0..16 {
            let handler = handler.clone();
            let payload = run("burst", tick(round * 100 + n / 2));
            calls.spawn(async move { handler.handle(payload, deadline()).await });
        }
        let mut created = Vec::new();
        let mut answers = Vec::new();
        while let Some(answer) = calls.join_next().await {
            let answer = answer.unwrap();
            if answer["statusCode"] == 201 {
                created.push(answer["jobId"].as_str().unwrap().to_string());
            }
            answers.push(answer["statusCode"].as_u64().unwrap());
        }
        assert_eq!(created.len(), 1, "round {round}: one run recorded: {answers:?}");
        assert!(answers.iter().all(|s| [200, 201, 409].contains(s)), "round {round}: {answers:?}");
        let pointer = world.store().schedule_pointer("burst").await.unwrap();
        assert_eq!(pointer.as_deref(), Some(created[0].as_str()), "round {round}");
        world.store().cancel(&created[0], Utc::now(), None).await.unwrap().unwrap();
    }
    assert_eq!(world.task_arns().await.len(), 3, "one task per round");
}

#[tokio::test]
async fn overlap_queue_waits_in_the_job_types_queue() {
    let mut world = World::new("sched-queue").await;
    world_with(&mut world, "hourly", Overlap::Queue);
    world.config.launch_table.job_types.get_mut(REPORT).unwrap().max_concurrency = Some(1);
    let handler = world.create_job();
    let first = handler.handle(run("hourly", tick(0)), deadline()).await;
    assert_eq!(first["statusCode"], 201, "{first}");
    let second = handler.handle(run("hourly", tick(60)), deadline()).await;
    assert_eq!((second["statusCode"].clone(), second["status"].clone()), (json!(202), json!("QUEUED")), "{second}");
    let again = handler.handle(run("hourly", tick(60)), deadline()).await;
    assert_eq!((again["statusCode"].clone(), again["jobId"].clone()), (json!(200), second["jobId"].clone()));
    assert_eq!(world.task_arns().await.len(), 1, "the queued run waits for the first");
    let queued = world.store().get(second["jobId"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!((queued.status, queued.schedule.as_deref()), (JobStatus::Queued, Some("hourly")));
}

#[tokio::test]
async fn requests_naming_a_schedule_it_does_not_have_or_another_job_type_are_refused() {
    let mut world = World::new("sched-bad").await;
    world_with(&mut world, "nightly", Overlap::Skip);
    let handler = world.create_job();
    let cases = [
        (run("weekly", tick(0)), 404, "UnknownSchedule"),
        (
            json!({"jobType": runtime_support::SPOT_REPORT, "idempotencyKey": "k", "schedule": "nightly"}),
            400,
            "InvalidRequest",
        ),
        (json!({"jobType": REPORT, "schedule": "nightly"}), 400, "InvalidRequest"),
        (json!({"jobType": REPORT, "idempotencyKey": "k2", "schedule": 7}), 400, "InvalidRequest"),
    ];
    for (request, status, code) in cases {
        let answer = handler.handle(request.clone(), deadline()).await;
        assert_eq!(
            (answer["statusCode"].clone(), answer["error"]["code"].clone()),
            (json!(status), json!(code)),
            "{request}: {answer}"
        );
    }
    assert!(world.task_arns().await.is_empty(), "nothing launched");
}
