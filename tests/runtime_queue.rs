//! Concurrency limits and their FIFO queue against the SERIAL moto emulator (DynamoDB conditions
//! and transactions atomic, as on AWS), with the real handler library: create-job records limited
//! jobs QUEUED and admits, track releases slots and admits the next jobs.
//!
//! The stress tests drive 200 jobs through a small ECS stand-in: RunTask goes to the emulator's ECS
//! (so ListTasks counts every launch), and every task it starts is walked to STOPPED by delivering
//! the `success` sequence's real-shaped events to track, each event twice, in a shuffled order,
//! from concurrent track invocations. The others inject a crash between two calls, cancel a queued
//! job, drift a counter, fail launches, and count the AWS calls per limited job.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "runtime_support.rs"]
mod runtime_support;

use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use jobgen_runtime::contract::{self, attr};
use jobgen_runtime::create_job::{CreateJob, CreateJobRequest, Fault, job_id_for_key};
use jobgen_runtime::job::{Job, JobStatus, format_ts};
use jobgen_runtime::launch::{LaunchSpec, RetryPolicy};
use jobgen_runtime::launcher::{EcsError, Launcher, RunTaskAnswer, RunTaskApi};
use jobgen_runtime::service::LaunchService;
use jobgen_runtime::store::{ListFilter, Store};
use jobgen_runtime::track::{TrackError, Tracker};
use runtime_support::{BROKEN, CallCounter, REPORT, SPOT_REPORT, World, event, fixture, shuffle};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Set-up

/// A world whose job types have these limits (`None`: unlimited), and the project this one.
async fn limited_world(project: &str, types: &[(&str, u32)], project_limit: Option<u32>) -> World {
    let mut world = World::new(project).await;
    for (job_type, max) in types {
        world.config.launch_table.job_types.get_mut(*job_type).unwrap().max_concurrency = Some(*max);
    }
    world.config.launch_table.max_concurrency = project_limit;
    world
}

fn request(job_type: &str, key: &str) -> CreateJobRequest {
    CreateJobRequest {
        job_type: job_type.to_string(),
        idempotency_key: Some(key.to_string()),
        environment: [("INPUT".to_string(), "s3://bucket/input.csv".to_string())].into(),
        ..CreateJobRequest::default()
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A tracker that admits through a launch service on `api`.
fn tracker_with<A: RunTaskApi>(world: &World, store: Store, api: A, fault: Option<Fault>) -> Tracker<A> {
    let service = LaunchService::new(store, Launcher::new(api, RetryPolicy::immediate(3)), world.config.clone());
    Tracker::with_service(service.with_fault(fault))
}

/// A tracker on the emulator's ECS.
fn tracker(world: &World) -> Tracker<aws_sdk_ecs::Client> {
    tracker_with(world, world.store(), world.ecs.clone(), None)
}

async fn job(world: &World, job_id: &str) -> Job {
    world.store().get(job_id).await.unwrap().unwrap()
}

async fn counter(world: &World, scope: &str) -> i64 {
    world.store().counter(&contract::limit_item_key(scope)).await.unwrap().unwrap_or(0)
}

/// Sets a counter item to `value` behind the runtime's back (drift).
async fn set_counter(world: &World, scope: &str, value: i64) {
    world
        .ddb
        .put_item()
        .table_name(&world.config.table_name)
        .item(contract::KEY_ATTR, AttributeValue::S(contract::limit_item_key(scope)))
        .item(attr::RUNNING, AttributeValue::N(value.to_string()))
        .send()
        .await
        .unwrap();
}

/// Every task this project started (ListTasks by startedBy, every page).
async fn all_tasks(world: &World) -> Vec<String> {
    let mut arns = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = world
            .ecs
            .list_tasks()
            .cluster(&world.config.launch_table.clusters[0])
            .started_by(contract::started_by(&world.config.project))
            .set_next_token(next.clone())
            .send()
            .await
            .unwrap();
        arns.extend(out.task_arns().iter().cloned());
        match out.next_token() {
            Some(token) => next = Some(token.to_string()),
            None => return arns,
        }
    }
}

/// The stopped event of `job`'s task from sequence `name`.
fn stopped_event(world: &World, name: &str, job: &Job) -> Value {
    let f = fixture(name);
    event(world, f.events.last().unwrap(), &job.job_id, job.attempt.task_arn.as_deref().unwrap(), &job.job_type)
}

// ---------------------------------------------------------------------------------------------
// The ECS stand-in of the stress tests

/// A task the stand-in started, handed to the driver.
struct Started {
    job_id: String,
    job_type: String,
    task_arn: String,
}

/// What the stand-in saw, checked while it happens.
#[derive(Default)]
struct Observed {
    /// Tasks started and not yet reported STOPPED, per job type.
    alive: BTreeMap<String, u32>,
    /// The most tasks alive at once, per job type and in total.
    peak: BTreeMap<String, u32>,
    peak_total: u32,
    /// Job ids in RunTask order (a job twice here would be a double launch).
    order: Vec<String>,
    /// Every limit exceeded at a RunTask, described.
    violations: Vec<String>,
}

/// The emulator's ECS behind the launcher seam, checking the limits at every RunTask and handing
/// each started task to the driver.
#[derive(Clone)]
struct StandIn {
    ecs: aws_sdk_ecs::Client,
    limits: Arc<(Option<u32>, BTreeMap<String, u32>)>,
    observed: Arc<Mutex<Observed>>,
    started: tokio::sync::mpsc::UnboundedSender<Started>,
}

impl RunTaskApi for StandIn {
    async fn run_task(&self, spec: &LaunchSpec) -> RunTaskAnswer {
        let answer = RunTaskApi::run_task(&self.ecs, spec).await;
        let RunTaskAnswer::Started { task_arn, .. } = &answer else {
            panic!("the emulator refused a RunTask: {answer:?}");
        };
        let (job_id, _) = contract::parse_task_group(&spec.group).unwrap();
        let job_type =
            spec.environment.iter().find(|(k, _)| k == contract::TASK_ENV_JOB_TYPE).map(|(_, v)| v.clone()).unwrap();
        {
            let mut o = self.observed.lock().unwrap();
            let total: u32 = o.alive.values().sum();
            let of_type = o.alive.get(&job_type).copied().unwrap_or(0);
            let (project_limit, type_limits) = &*self.limits;
            if project_limit.is_some_and(|max| total >= max) {
                let v = format!("{job_id}: started with {total} tasks alive (project limit {project_limit:?})");
                o.violations.push(v);
            }
            if type_limits.get(&job_type).is_some_and(|max| of_type >= *max) {
                o.violations.push(format!("{job_id}: started with {of_type} {job_type} tasks alive"));
            }
            *o.alive.entry(job_type.clone()).or_default() += 1;
            let alive = o.alive[&job_type];
            let peak = o.peak.entry(job_type.clone()).or_default();
            *peak = (*peak).max(alive);
            o.peak_total = o.peak_total.max(total + 1);
            o.order.push(job_id.to_string());
        }
        let started = Started { job_id: job_id.to_string(), job_type, task_arn: task_arn.clone() };
        self.started.send(started).unwrap();
        answer
    }

    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<(), EcsError> {
        RunTaskApi::stop_task(&self.ecs, cluster, task_arn, reason).await
    }
}

/// What a stress run measured.
struct Report {
    job_ids: Vec<String>,
    observed: Observed,
    /// The most job items holding a slot, and the highest counter values, seen by the sampler.
    sampled_holders: BTreeMap<String, i64>,
    sampled_counters: BTreeMap<String, i64>,
    samples: u32,
    wall: Duration,
    calls: BTreeMap<String, u32>,
    statuses: BTreeMap<u16, u32>,
    track_errors: u32,
}

/// Submits `jobs` (job types, in submission order) through create-job while the stand-in runs
/// their tasks, and waits until every task's events were all delivered.
async fn stress(world: Arc<World>, jobs: Vec<&'static str>, seed: u64) -> Report {
    let begin = Instant::now();
    let counter = CallCounter::default();
    let (store, ecs) = world.counted(&counter).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let type_limits: BTreeMap<String, u32> = world
        .config
        .launch_table
        .job_types
        .iter()
        .filter_map(|(name, e)| e.max_concurrency.map(|max| (name.clone(), max)))
        .collect();
    let stand_in = StandIn {
        ecs,
        limits: Arc::new((world.config.launch_table.max_concurrency, type_limits)),
        observed: Arc::new(Mutex::new(Observed::default())),
        started: tx,
    };
    let create = Arc::new(CreateJob::new(
        store.clone(),
        Launcher::new(stand_in.clone(), RetryPolicy::immediate(3)),
        world.config.clone(),
    ));
    let tracker = tracker_with(&world, store.clone(), stand_in.clone(), None);
    let total = jobs.len();
    let delivered = Arc::new(AtomicU32::new(0));
    let track_errors = Arc::new(AtomicU32::new(0));
    let done = Arc::new(AtomicBool::new(false));

    // The driver: each started task's events, each twice, shuffled, from concurrent invocations.
    let driver = {
        let (world, tracker, observed) = (world.clone(), tracker.clone(), stand_in.observed.clone());
        let (delivered, track_errors) = (delivered.clone(), track_errors.clone());
        tokio::spawn(async move {
            let events = fixture("success").events;
            let mut deliveries = tokio::task::JoinSet::new();
            let mut n = 0u64;
            while let Some(started) = rx.recv().await {
                n += 1;
                // The task runs a while (so the queue fills) before ECS reports on it.
                let run_ms = 1_000 + std::collections::hash_map::RandomState::new().hash_one(n) % 500;
                let mut order: Vec<usize> = (0..events.len()).flat_map(|i| [i, i]).collect();
                shuffle(&mut order, seed.wrapping_mul(1_000_003).wrapping_add(n));
                let stopped_sent = Arc::new(AtomicBool::new(false));
                let remaining = Arc::new(AtomicU32::new(u32::try_from(order.len()).unwrap()));
                for (k, i) in order.into_iter().enumerate() {
                    let text = &events[i];
                    let e = event(&world, text, &started.job_id, &started.task_arn, &started.job_type);
                    let is_stopped = i == events.len() - 1;
                    let (tracker, observed, job_type) = (tracker.clone(), observed.clone(), started.job_type.clone());
                    let (stopped_sent, remaining) = (stopped_sent.clone(), remaining.clone());
                    let (delivered, track_errors) = (delivered.clone(), track_errors.clone());
                    deliveries.spawn(async move {
                        let jitter = std::collections::hash_map::RandomState::new().hash_one(k) % 6;
                        tokio::time::sleep(Duration::from_millis(run_ms + 3 * k as u64 + jitter)).await;
                        // ECS has stopped the task once it reports STOPPED: from then on its slot
                        // may be given to another job.
                        if is_stopped && !stopped_sent.swap(true, Ordering::SeqCst) {
                            *observed.lock().unwrap().alive.get_mut(&job_type).unwrap() -= 1;
                        }
                        if let Err(e) = tracker.handle(e, Utc::now()).await {
                            eprintln!("track failed: {e}");
                            track_errors.fetch_add(1, Ordering::SeqCst);
                        }
                        if remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
                            delivered.fetch_add(1, Ordering::SeqCst);
                        }
                    });
                }
                while deliveries.try_join_next().is_some() {}
            }
            while deliveries.join_next().await.is_some() {}
        })
    };

    // The sampler: job items holding a slot, and the counters, while it all runs.
    let sampler = {
        let (world, done) = (world.clone(), done.clone());
        tokio::spawn(async move {
            let mut holders_max: BTreeMap<String, i64> = BTreeMap::new();
            let mut counters_max: BTreeMap<String, i64> = BTreeMap::new();
            let mut samples = 0;
            while !done.load(Ordering::SeqCst) {
                let scan = world
                    .ddb
                    .scan()
                    .table_name(&world.config.table_name)
                    .filter_expression("attribute_exists(#slot) OR begins_with(#id, :limit)")
                    .expression_attribute_names("#slot", attr::SLOT)
                    .expression_attribute_names("#id", contract::KEY_ATTR)
                    .expression_attribute_values(":limit", AttributeValue::S("limit#".into()))
                    .send()
                    .await
                    .unwrap();
                let mut holders: BTreeMap<String, i64> = BTreeMap::new();
                for item in scan.items() {
                    let id = item[contract::KEY_ATTR].as_s().unwrap();
                    if let Some(scope) = id.strip_prefix("limit#") {
                        let running: i64 = item[attr::RUNNING].as_n().unwrap().parse().unwrap();
                        let max = counters_max.entry(scope.to_string()).or_default();
                        *max = (*max).max(running);
                    } else {
                        *holders.entry(item[contract::JOB_TYPE_ATTR].as_s().unwrap().clone()).or_default() += 1;
                        *holders.entry(contract::PROJECT_QUEUE.to_string()).or_default() += 1;
                    }
                }
                for (scope, n) in holders {
                    let max = holders_max.entry(scope).or_default();
                    *max = (*max).max(n);
                }
                samples += 1;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            (holders_max, counters_max, samples)
        })
    };

    // Submissions, one after the other (so submission order is well defined), while jobs run.
    let mut job_ids = Vec::with_capacity(total);
    let mut statuses: BTreeMap<u16, u32> = BTreeMap::new();
    for (i, job_type) in jobs.iter().enumerate() {
        let body = serde_json::to_value(request(job_type, &format!("stress-{seed}-{i:03}"))).unwrap();
        let response = create.handle(body, Some(now_ms() + 30_000)).await;
        let status = u16::try_from(response["statusCode"].as_u64().unwrap()).unwrap();
        assert!(status == 201 || status == 202, "job {i}: {response}");
        assert_eq!(response["status"] == "QUEUED", status == 202, "job {i}: {response}");
        *statuses.entry(status).or_default() += 1;
        job_ids.push(response["jobId"].as_str().unwrap().to_string());
    }

    let deadline = Instant::now() + Duration::from_secs(900);
    while delivered.load(Ordering::SeqCst) < u32::try_from(total).unwrap() {
        assert!(Instant::now() < deadline, "{} of {total} jobs delivered", delivered.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done.store(true, Ordering::SeqCst);
    let (sampled_holders, sampled_counters, samples) = sampler.await.unwrap();
    drop(create);
    drop(tracker);
    drop(stand_in.started.clone());
    let observed = std::mem::take(&mut *stand_in.observed.lock().unwrap());
    drop(stand_in);
    driver.abort();
    Report {
        job_ids,
        observed,
        sampled_holders,
        sampled_counters,
        samples,
        wall: begin.elapsed(),
        calls: counter.counts(),
        statuses,
        track_errors: track_errors.load(Ordering::SeqCst),
    }
}

/// Each job's place in submission order: its queue order, `<createdAt>#<jobId>`.
async fn submission_ranks(world: &World, job_ids: &[String]) -> (BTreeMap<String, usize>, Vec<Job>) {
    let mut jobs = Vec::new();
    for id in job_ids {
        jobs.push(job(world, id).await);
    }
    let mut by_order: Vec<(String, String)> =
        jobs.iter().map(|j| (contract::queue_order(&format_ts(&j.created_at), &j.job_id), j.job_id.clone())).collect();
    by_order.sort();
    (by_order.into_iter().enumerate().map(|(rank, (_, id))| (id, rank)).collect(), jobs)
}

/// For each launch, how many jobs submitted before it (and passing `earlier`) had not been
/// launched yet: in FIFO admission these can only be jobs admitted before it whose RunTask came
/// later (each holding a slot), so at most the limit minus one.
fn overtaken(
    order: &[String],
    ranks: &BTreeMap<String, usize>,
    earlier: impl Fn(&str, &str) -> bool,
) -> Vec<(String, usize)> {
    let mut launched: BTreeSet<usize> = BTreeSet::new();
    let by_rank: BTreeMap<usize, &String> = ranks.iter().map(|(id, r)| (*r, id)).collect();
    let mut out = Vec::new();
    for id in order {
        let rank = ranks[id];
        let missing = by_rank.range(..rank).filter(|(r, other)| !launched.contains(r) && earlier(other, id)).count();
        out.push((id.clone(), missing));
        launched.insert(rank);
    }
    out
}

/// What every stress run must end with.
async fn assert_clean_end(world: &World, report: &Report, jobs: &[Job]) {
    assert_eq!(report.track_errors, 0, "no track invocation failed");
    assert!(report.observed.violations.is_empty(), "limits exceeded: {:#?}", report.observed.violations);
    for j in jobs {
        let j = job(world, &j.job_id).await;
        assert_eq!(j.status, JobStatus::Succeeded, "{}", j.job_id);
        assert_eq!((j.slot, &j.queue_key, &j.queue_order), (None, &None, &None), "{}: slot and queue left", j.job_id);
    }
    let order = &report.observed.order;
    let unique: BTreeSet<&String> = order.iter().collect();
    assert_eq!((order.len(), unique.len()), (jobs.len(), jobs.len()), "one RunTask per job");
    assert_eq!(all_tasks(world).await.len(), jobs.len(), "ListTasks: no double launch");
    for key in world.config.launch_table.queue_keys() {
        assert!(world.store().queue_page(&key, 10, None).await.unwrap().entries.is_empty(), "queue {key} empty");
    }
    for limit in world.config.launch_table.job_types.keys().flat_map(|t| world.config.launch_table.limits(t)) {
        let value = world.store().counter(&limit.counter).await.unwrap();
        assert_eq!(value, Some(0), "{} ends at 0", limit.counter);
        assert!(slot_holders(world).await.is_empty(), "no slot held");
    }
}

fn print_report(name: &str, report: &Report, jobs: usize) {
    let per_job: BTreeMap<&String, f64> =
        report.calls.iter().map(|(op, n)| (op, f64::from(*n) / jobs as f64)).collect();
    println!(
        "{name}: {jobs} jobs in {:.1} s; peak tasks alive {} (by type {:?}); sampled slot holders max {:?}, counters max {:?} over {} samples; answers {:?}",
        report.wall.as_secs_f64(),
        report.observed.peak_total,
        report.observed.peak,
        report.sampled_holders,
        report.sampled_counters,
        report.samples,
        report.statuses,
    );
    println!("{name}: AWS calls per job (5 events x 2 deliveries each): {per_job:.2?}");
}

// ---------------------------------------------------------------------------------------------
// (a) and (b): 200 jobs

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_jobs_of_a_type_limited_to_five_run_five_at_a_time_in_submission_order() {
    let world = Arc::new(limited_world("stress-type", &[(REPORT, 5)], None).await);
    let report = stress(world.clone(), vec![REPORT; 200], 7).await;
    print_report("type limit 5", &report, 200);
    let (ranks, jobs) = submission_ranks(&world, &report.job_ids).await;
    assert_clean_end(&world, &report, &jobs).await;

    assert!(report.observed.peak_total <= 5, "peak {}", report.observed.peak_total);
    assert_eq!(report.observed.peak_total, 5, "the limit is used, not only respected");
    assert!(report.sampled_holders.values().all(|n| *n <= 5), "{:?}", report.sampled_holders);
    assert!(report.sampled_counters.values().all(|n| *n <= 5), "{:?}", report.sampled_counters);
    assert!(report.samples > 3, "the sampler ran while jobs ran");
    // The first five start at once; the rest wait.
    assert!(report.statuses.get(&202).copied().unwrap_or(0) > 100, "{:?}", report.statuses);
    let first_five: Vec<&String> = report.job_ids.iter().take(5).collect();
    assert_eq!(&report.observed.order[..5].iter().collect::<Vec<_>>(), &first_five);
    // Admission follows submission order: a job starts only when every older one has started,
    // except those admitted just before it whose RunTask finished later (each holds a slot).
    let overtaken = overtaken(&report.observed.order, &ranks, |_, _| true);
    let worst = overtaken.iter().map(|(_, n)| *n).max().unwrap();
    assert!(worst <= 4, "a job overtook {worst} older jobs: {overtaken:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_jobs_of_two_types_under_a_project_limit_share_one_queue() {
    // The project runs at most 4 jobs; `report` at most 3 of them; `spot-report` has no own limit.
    let world = Arc::new(limited_world("stress-project", &[(REPORT, 3)], Some(4)).await);
    let jobs: Vec<&'static str> = (0..200).map(|i| if i % 3 == 2 { SPOT_REPORT } else { REPORT }).collect();
    let report = stress(world.clone(), jobs, 11).await;
    print_report("project limit 4, report 3", &report, 200);
    let (ranks, records) = submission_ranks(&world, &report.job_ids).await;
    assert_clean_end(&world, &report, &records).await;

    assert!(report.observed.peak_total <= 4, "peak {}", report.observed.peak_total);
    assert!(report.observed.peak.get(REPORT).is_some_and(|p| *p <= 3), "{:?}", report.observed.peak);
    assert_eq!(report.observed.peak_total, 4, "the project limit is used");
    assert!(report.sampled_holders.get(contract::PROJECT_QUEUE).is_none_or(|n| *n <= 4));
    assert!(report.sampled_holders.get(REPORT).is_none_or(|n| *n <= 3));
    assert!(report.sampled_counters.values().all(|n| *n <= 4), "{:?}", report.sampled_counters);
    // One queue for both types: within a type, submission order; across types, a job is passed
    // only by jobs of another type while its own type is full.
    let type_of: BTreeMap<String, String> = records.iter().map(|j| (j.job_id.clone(), j.job_type.clone())).collect();
    for (job_type, slack) in [(REPORT, 2), (SPOT_REPORT, 3)] {
        let same = overtaken(&report.observed.order, &ranks, |other, id| {
            type_of[other] == job_type && type_of[id] == job_type
        });
        let worst = same.iter().map(|(_, n)| *n).max().unwrap_or(0);
        assert!(worst <= slack, "{job_type}: a job overtook {worst} older jobs of its type");
    }
    // A spot-report job (no type limit) is never passed by more than the jobs in flight.
    let spot_passed = overtaken(&report.observed.order, &ranks, |other, _| type_of[other] == SPOT_REPORT);
    let worst = spot_passed.iter().map(|(_, n)| *n).max().unwrap_or(0);
    assert!(worst <= 3, "older spot-report jobs waited behind {worst} launches");
}

// ---------------------------------------------------------------------------------------------
// (c): a crash between two calls

/// Submits through create-job on the emulator's ECS; returns the answer's status code and the record.
async fn submit(world: &World, handler: &CreateJob<aws_sdk_ecs::Client>, job_type: &str, key: &str) -> (u64, Job) {
    let body = serde_json::to_value(request(job_type, key)).unwrap();
    let response = handler.handle(body, Some(now_ms() + 30_000)).await;
    let status = response["statusCode"].as_u64().unwrap();
    (status, job(world, response["jobId"].as_str().unwrap()).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_track_that_dies_between_the_write_and_the_release_is_repaired_by_the_redelivery_once() {
    let world = limited_world("crash-apply", &[(REPORT, 1)], None).await;
    let create = world.create_job();
    let (status, a) = submit(&world, &create, REPORT, "a").await;
    assert_eq!((status, a.status, a.slot), (201, JobStatus::Starting, Some(1)));
    let (status, b) = submit(&world, &create, REPORT, "b").await;
    assert_eq!((status, b.status, b.slot), (202, JobStatus::Queued, None));

    // The first delivery of a's STOPPED event writes the outcome, then the invocation dies.
    let stopped = stopped_event(&world, "success", &a);
    let dying = tracker_with(&world, world.store(), world.ecs.clone(), Some(Fault::CrashAfterApply));
    let err = dying.handle(stopped.clone(), Utc::now()).await.unwrap_err();
    assert!(matches!(err, TrackError::Slot { .. }), "{err}");
    let a_now = job(&world, &a.job_id).await;
    assert_eq!((a_now.status, a_now.slot), (JobStatus::Succeeded, Some(1)), "the slot is still held");
    assert_eq!(counter(&world, REPORT).await, 1);
    assert_eq!(job(&world, &b.job_id).await.status, JobStatus::Queued);
    // What a concurrent duplicate delivery may hold: the record read before anyone released.
    let stale = job(&world, &a.job_id).await;

    // Lambda retries the event; EventBridge may also deliver it again: five at once.
    let tracker = tracker(&world);
    let mut redeliveries = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let (tracker, stopped) = (tracker.clone(), stopped.clone());
        redeliveries.spawn(async move { tracker.handle(stopped, Utc::now()).await.unwrap() });
    }
    while let Some(r) = redeliveries.join_next().await {
        r.unwrap();
    }
    assert_eq!(job(&world, &a.job_id).await.slot, None, "a's slot was released");
    let b_now = job(&world, &b.job_id).await;
    assert_eq!((b_now.status, b_now.slot), (JobStatus::Starting, Some(1)), "b took the slot");
    assert_eq!(counter(&world, REPORT).await, 1, "released once: b's slot is counted, not given away");
    assert_eq!(all_tasks(&world).await.len(), 2, "b launched once");
    // Releasers acting on the stale record (both copies of a delivery read it before either
    // released) find the slot gone: no counter moves.
    let service = tracker.service().unwrap();
    let budget = jobgen_runtime::service::AdmitBudget::for_invocation(None, now_ms(), 10);
    for _ in 0..2 {
        service.release_and_admit(&stale, &budget).await.unwrap();
    }
    let limits = world.config.launch_table.limits(REPORT);
    let again = world.store().release(&a.job_id, 1, &limits).await.unwrap();
    assert_eq!(again, jobgen_runtime::store::ReleaseOutcome::NotHeld);
    assert_eq!(counter(&world, REPORT).await, 1, "b's slot is still counted");
    // A second release of a's slot would have freed b's: the next job must still wait.
    let (status, c) = submit(&world, &create, REPORT, "c").await;
    assert_eq!((status, c.status), (202, JobStatus::Queued));
    tracker.handle(stopped, Utc::now()).await.unwrap();
    assert_eq!(counter(&world, REPORT).await, 1);
    assert_eq!(job(&world, &c.job_id).await.status, JobStatus::Queued);
}

#[tokio::test]
async fn a_track_that_dies_between_the_release_and_the_admission_is_repaired_by_the_redelivery() {
    let world = limited_world("crash-release", &[(REPORT, 1)], None).await;
    let create = world.create_job();
    let (_, a) = submit(&world, &create, REPORT, "a").await;
    let (_, b) = submit(&world, &create, REPORT, "b").await;
    let stopped = stopped_event(&world, "success", &a);
    let dying = tracker_with(&world, world.store(), world.ecs.clone(), Some(Fault::CrashAfterRelease));
    dying.handle(stopped.clone(), Utc::now()).await.unwrap_err();
    assert_eq!(job(&world, &a.job_id).await.slot, None);
    assert_eq!(counter(&world, REPORT).await, 0, "released");
    assert_eq!(job(&world, &b.job_id).await.status, JobStatus::Queued, "but nobody admitted b");
    // The redelivered STOPPED event changes nothing on a, and admits b.
    tracker(&world).handle(stopped, Utc::now()).await.unwrap();
    assert_eq!(job(&world, &b.job_id).await.status, JobStatus::Starting);
    assert_eq!(counter(&world, REPORT).await, 1);
}

/// A create-job that admits its job and dies before RunTask.
async fn admit_and_die(world: &World, dying: &CreateJob<aws_sdk_ecs::Client>, key: &str) -> Job {
    let err = dying.create(request(REPORT, key), Utc::now(), Some(now_ms())).await.unwrap_err();
    assert_eq!(err.code, "InjectedFault");
    job(world, &job_id_for_key(key)).await
}

#[tokio::test]
async fn an_admission_that_dies_before_runtask_is_claimed_by_the_next_admission_with_room() {
    let world = limited_world("crash-admit", &[(REPORT, 2)], None).await;
    // create-job admits its job, then dies before RunTask; its lease (deadline now, margin 0)
    // runs out at once.
    let dying = world.create_job().with_fault(Some(Fault::CrashBeforeRunTask)).with_lease_margin_ms(0);
    let a = admit_and_die(&world, &dying, "a").await;
    assert_eq!((a.status, a.slot, a.attempt.task_arn.as_deref()), (JobStatus::Submitted, Some(1), None));
    assert!(a.queue_key.is_some(), "an admitted job stays in its queue until its launch is recorded");
    assert_eq!(counter(&world, REPORT).await, 1);
    tokio::time::sleep(Duration::from_millis(5)).await;

    // A slot is free: the next create-job of the queue finds a at the head, claims its launch and
    // launches it (no second slot), then admits its own job.
    let create = world.create_job();
    let (status, b) = submit(&world, &create, REPORT, "b").await;
    assert_eq!((status, b.status), (201, JobStatus::Starting));
    let a = job(&world, &a.job_id).await;
    assert_eq!((a.status, a.slot, a.queue_key.as_deref()), (JobStatus::Starting, Some(1), None));
    assert_eq!(counter(&world, REPORT).await, 2, "the claim took no second slot");

    // The queue full: b's stop is the next admission with room. Another admission dies first.
    world.store().cancel(&a.job_id, Utc::now(), None).await.unwrap().unwrap();
    tracker(&world).handle(stopped_event(&world, "user_stop", &a), Utc::now()).await.unwrap();
    let c = admit_and_die(&world, &dying, "c").await;
    assert_eq!((c.status, c.slot), (JobStatus::Submitted, Some(1)));
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (status, d) = submit(&world, &create, REPORT, "d").await;
    assert_eq!((status, d.status), (202, JobStatus::Queued), "full: one counter read, no queue read");
    tracker(&world).handle(stopped_event(&world, "success", &b), Utc::now()).await.unwrap();
    assert_eq!(job(&world, &c.job_id).await.status, JobStatus::Starting, "claimed by the release's admission");
    assert_eq!(job(&world, &d.job_id).await.status, JobStatus::Starting);
    assert_eq!(counter(&world, REPORT).await, 2);
    assert_eq!(all_tasks(&world).await.len(), 4, "a, b, c and d, once each");
}

// ---------------------------------------------------------------------------------------------
// (d): cancel

#[tokio::test]
async fn a_cancelled_queued_job_never_launches_and_the_queue_moves_on() {
    let world = limited_world("cancel-queued", &[(REPORT, 1)], None).await;
    let create = world.create_job();
    let tracker = tracker(&world);
    let (_, a) = submit(&world, &create, REPORT, "a").await;
    let (_, b) = submit(&world, &create, REPORT, "b").await;
    let (_, c) = submit(&world, &create, REPORT, "c").await;
    let (_, d) = submit(&world, &create, REPORT, "d").await;

    // What `jobgen cancel` does: Store::cancel, and StopTask only when the record names a task.
    let cancelled = world.store().cancel(&b.job_id, Utc::now(), None).await.unwrap().unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!((cancelled.attempt.task_arn, cancelled.slot, cancelled.queue_key), (None, None, None));
    let entries = world.store().queue_page(REPORT, 10, None).await.unwrap().entries;
    assert_eq!(entries.iter().map(|e| e.job_id.as_str()).collect::<Vec<_>>(), [&c.job_id, &d.job_id]);
    // A replay of b answers with the cancelled job and launches nothing.
    let replay = create.create(request(REPORT, "b"), Utc::now(), None).await.unwrap();
    assert_eq!((replay.status, replay.created), (JobStatus::Cancelled, false));

    // a stops: c, not b, takes the slot.
    tracker.handle(stopped_event(&world, "success", &a), Utc::now()).await.unwrap();
    let c = job(&world, &c.job_id).await;
    assert_eq!(c.status, JobStatus::Starting);
    assert_eq!(job(&world, &b.job_id).await.status, JobStatus::Cancelled);

    // Cancelling the RUNNING job c keeps its slot: its task runs until ECS stops it.
    world.store().cancel(&c.job_id, Utc::now(), None).await.unwrap().unwrap();
    assert_eq!((job(&world, &c.job_id).await.slot, counter(&world, REPORT).await), (Some(1), 1));
    assert_eq!(job(&world, &d.job_id).await.status, JobStatus::Queued, "d waits for c's task to stop");
    // A replay of c (it repairs spent slots) finds the attempt not over: its task still runs.
    let replay = create.create(request(REPORT, "c"), Utc::now(), None).await.unwrap();
    assert_eq!((replay.status, job(&world, &c.job_id).await.slot), (JobStatus::Cancelled, Some(1)));
    assert_eq!(job(&world, &d.job_id).await.status, JobStatus::Queued);
    // StopTask → STOPPED (UserInitiated): the slot goes to d.
    tracker.handle(stopped_event(&world, "user_stop", &c), Utc::now()).await.unwrap();
    assert_eq!(job(&world, &c.job_id).await.slot, None);
    assert_eq!(job(&world, &d.job_id).await.status, JobStatus::Starting);
    assert_eq!(counter(&world, REPORT).await, 1);

    let groups: BTreeSet<String> = {
        let mut groups = BTreeSet::new();
        for arn in all_tasks(&world).await {
            groups.insert(world.describe(&arn).await.group().unwrap().to_string());
        }
        groups
    };
    let expected: BTreeSet<String> = [&a, &c, &d].iter().map(|j| contract::task_group(&j.job_id, 1)).collect();
    assert_eq!(groups, expected, "b never launched");
}

// ---------------------------------------------------------------------------------------------
// (e): drift

#[tokio::test]
async fn a_drifted_counter_never_goes_negative_and_the_slot_is_still_freed() {
    let world = limited_world("drift", &[(REPORT, 2)], Some(3)).await;
    let create = world.create_job();
    let tracker = tracker(&world);
    let (_, a) = submit(&world, &create, REPORT, "a").await;
    let (_, b) = submit(&world, &create, REPORT, "b").await;
    assert_eq!((counter(&world, REPORT).await, counter(&world, contract::PROJECT_QUEUE).await), (2, 2));

    // Both counters drift to 0 while a and b hold slots: a's release frees a's slot and leaves
    // both at 0 (an unconditional ADD -1 would make them -1 and over-admit).
    set_counter(&world, REPORT, 0).await;
    set_counter(&world, contract::PROJECT_QUEUE, 0).await;
    tracker.handle(stopped_event(&world, "success", &a), Utc::now()).await.unwrap();
    assert_eq!(job(&world, &a.job_id).await.slot, None);
    assert_eq!((counter(&world, REPORT).await, counter(&world, contract::PROJECT_QUEUE).await), (0, 0));

    // One counter drifted, the other not: b's release decrements the one it can.
    set_counter(&world, contract::PROJECT_QUEUE, 1).await;
    tracker.handle(stopped_event(&world, "success", &b), Utc::now()).await.unwrap();
    assert_eq!(job(&world, &b.job_id).await.slot, None);
    assert_eq!((counter(&world, REPORT).await, counter(&world, contract::PROJECT_QUEUE).await), (0, 0));

    // The reconciler's recount puts a counter back to the slots actually held, once two runs
    // (five minutes apart on AWS) agree and nothing moved the counter in between.
    let (_, c) = submit(&world, &create, REPORT, "c").await;
    assert_eq!(c.slot, Some(1));
    assert_eq!(slot_holders(&world).await, std::slice::from_ref(&c.job_id));
    set_counter(&world, contract::PROJECT_QUEUE, 7).await;
    let first = reconcile(&tracker).await;
    assert_eq!((first.counters_suspected, first.counters_repaired), (1, 0), "{first:?}");
    assert_eq!(counter(&world, contract::PROJECT_QUEUE).await, 7, "one recount only suspects");
    let second = reconcile(&tracker).await;
    assert_eq!((second.counters_suspected, second.counters_repaired), (0, 1), "{second:?}");
    assert_eq!(counter(&world, contract::PROJECT_QUEUE).await, 1);
    let third = reconcile(&tracker).await;
    assert_eq!((third.counters_suspected, third.counters_repaired), (0, 0), "already right: {third:?}");

    // A suspicion is not acted on after the counter moved: c's release changes it between two
    // runs, so the second run suspects again (on the new count) and only a third repairs.
    set_counter(&world, REPORT, 5).await;
    assert_eq!(reconcile(&tracker).await.counters_suspected, 1);
    tracker.handle(stopped_event(&world, "success", &c), Utc::now()).await.unwrap();
    assert_eq!(counter(&world, REPORT).await, 4, "the release took one off the drifted counter");
    let after_move = reconcile(&tracker).await;
    assert_eq!((after_move.counters_suspected, after_move.counters_repaired), (1, 0), "{after_move:?}");
    assert_eq!(counter(&world, REPORT).await, 4);
    let last = reconcile(&tracker).await;
    assert_eq!(last.counters_repaired, 1, "{last:?}");
    assert_eq!((counter(&world, REPORT).await, counter(&world, contract::PROJECT_QUEUE).await), (0, 0));
}

/// The open jobs holding a slot, newest first (every slot holder is open).
async fn slot_holders(world: &World) -> Vec<String> {
    let page = world.store().list(&ListFilter::open(), None, 100, None).await.unwrap();
    page.jobs.into_iter().filter(|j| j.slot.is_some()).map(|j| j.job_id).collect()
}

// ---------------------------------------------------------------------------------------------
// Launch failures

#[tokio::test]
async fn a_failed_launch_gives_its_slot_back_and_the_queue_moves_on() {
    // One queue for the project: broken jobs (RunTask refuses them) between working ones.
    let world = limited_world("launch-failure", &[], Some(1)).await;
    let create = world.create_job();
    let (_, a) = submit(&world, &create, REPORT, "a").await;
    let (s1, b1) = submit(&world, &create, BROKEN, "b1").await;
    let (s2, b2) = submit(&world, &create, BROKEN, "b2").await;
    let (s3, c) = submit(&world, &create, REPORT, "c").await;
    assert_eq!((s1, s2, s3), (202, 202, 202));
    tracker(&world).handle(stopped_event(&world, "success", &a), Utc::now()).await.unwrap();
    // One admission: b1 fails and gives its slot back, so does b2, then c starts.
    for b in [&b1, &b2] {
        let b = job(&world, &b.job_id).await;
        assert_eq!((b.status, b.slot, b.queue_key), (JobStatus::LaunchFailed, None, None), "{}", b.job_id);
    }
    assert_eq!(job(&world, &c.job_id).await.status, JobStatus::Starting);
    assert_eq!(counter(&world, contract::PROJECT_QUEUE).await, 1);
}

/// RunTask always throttled.
struct Throttled;

impl RunTaskApi for Throttled {
    async fn run_task(&self, _spec: &LaunchSpec) -> RunTaskAnswer {
        RunTaskAnswer::Error {
            kind: jobgen_runtime::launch::classify_error_code(Some("ThrottlingException")),
            code: Some("ThrottlingException".into()),
            message: "Rate exceeded".into(),
        }
    }

    async fn stop_task(&self, _cluster: &str, task_arn: &str, _reason: &str) -> Result<(), EcsError> {
        panic!("nothing was started, yet StopTask was called for {task_arn}")
    }
}

#[tokio::test]
async fn a_replay_of_a_retryable_failure_requeues_the_job_instead_of_launching_it_without_a_slot() {
    let world = limited_world("requeue", &[(REPORT, 1)], None).await;
    let err = world.create_job_with(Throttled).create(request(REPORT, "x"), Utc::now(), None).await.unwrap_err();
    assert_eq!((err.status, err.retryable), (429, true));
    let x = job(&world, &job_id_for_key("x")).await;
    assert_eq!((x.status, x.slot, x.attempt.launch_retryable), (JobStatus::LaunchFailed, None, Some(true)));
    assert_eq!(counter(&world, REPORT).await, 0, "the failed launch gave its slot back");

    // Meanwhile another job took the only slot: a replay of x must not launch it beside y.
    let (_, y) = submit(&world, &world.create_job(), REPORT, "y").await;
    assert_eq!(y.status, JobStatus::Starting);
    let replay = world.create_job().create(request(REPORT, "x"), Utc::now(), None).await.unwrap();
    assert_eq!((replay.status, replay.created), (JobStatus::Queued, false));
    assert_eq!(counter(&world, REPORT).await, 1);
    // x went back to its old place, the head of the queue: y's stop starts it.
    tracker(&world).handle(stopped_event(&world, "success", &y), Utc::now()).await.unwrap();
    let x = job(&world, &x.job_id).await;
    assert_eq!((x.status, x.slot, x.attempt.launch_error), (JobStatus::Starting, Some(1), None));
    assert_eq!(all_tasks(&world).await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Calls per job

#[tokio::test]
async fn aws_calls_per_limited_job_are_as_documented() {
    let world = limited_world("calls", &[(REPORT, 1)], None).await;
    let counter = CallCounter::default();
    let (store, ecs) = world.counted(&counter).await;
    let create =
        CreateJob::new(store.clone(), Launcher::new(ecs.clone(), RetryPolicy::default()), world.config.clone());
    let tracker = tracker_with(&world, store, ecs, None);
    let calls = |pairs: &[(&str, u32)]| pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>();

    let a = create.create(request(REPORT, "a"), Utc::now(), None).await.unwrap();
    assert_eq!(a.status, JobStatus::Starting);
    assert_eq!(
        counter.counts(),
        calls(&[
            ("PutItem", 1),
            ("GetItem", 1),
            ("Query", 1),
            ("TransactWriteItems", 1),
            ("RunTask", 1),
            ("UpdateItem", 1)
        ]),
        "create, a slot free: put QUEUED, read the counter and the queue, admit (the job is its own hint: no read), launch, record"
    );
    counter.reset();
    let b = create.create(request(REPORT, "b"), Utc::now(), None).await.unwrap();
    assert_eq!(b.status, JobStatus::Queued);
    assert_eq!(
        counter.counts(),
        calls(&[("PutItem", 1), ("GetItem", 1)]),
        "create, the limit reached: the counter says so"
    );
    counter.reset();
    create.create(request(REPORT, "b"), Utc::now(), None).await.unwrap();
    assert_eq!(
        counter.counts(),
        calls(&[("PutItem", 1), ("GetItem", 1)]),
        "replay of a queued job: the refused put returns the record, and it looks at its queue's counter again"
    );

    let a = job(&world, &a.job_id).await;
    let f = fixture("success");
    let task = a.attempt.task_arn.clone().unwrap();
    counter.reset();
    for text in &f.events[..f.events.len() - 1] {
        tracker.handle(event(&world, text, &a.job_id, &task, REPORT), Utc::now()).await.unwrap();
    }
    assert_eq!(counter.counts(), calls(&[("UpdateItem", 4)]), "events before STOPPED: one write each, as before");
    counter.reset();
    let stopped = event(&world, f.events.last().unwrap(), &a.job_id, &task, REPORT);
    tracker.handle(stopped.clone(), Utc::now()).await.unwrap();
    assert_eq!(
        counter.counts(),
        calls(&[("UpdateItem", 2), ("TransactWriteItems", 2), ("GetItem", 2), ("Query", 1), ("RunTask", 1)]),
        "STOPPED: the outcome, the release, the counter, the queue, b's record, b's admission, b's launch and its record"
    );
    counter.reset();
    tracker.handle(stopped, Utc::now()).await.unwrap();
    assert_eq!(
        counter.counts(),
        calls(&[("UpdateItem", 1), ("GetItem", 1)]),
        "a duplicate STOPPED: the refused write, and one look at the counter (it repairs a crash before admission)"
    );
}

// ---------------------------------------------------------------------------------------------
// Unlimited job types are untouched

#[tokio::test]
async fn an_unlimited_type_in_a_stack_with_limits_is_never_queued() {
    let world = limited_world("mixed", &[(REPORT, 1)], None).await;
    let create = world.create_job();
    let (_, _) = submit(&world, &create, REPORT, "limited").await;
    let (status, spot) = submit(&world, &create, SPOT_REPORT, "unlimited").await;
    assert_eq!((status, spot.status, spot.slot, spot.queue_key.as_deref()), (201, JobStatus::Starting, None, None));
    let (status, _) = submit(&world, &create, REPORT, "limited-2").await;
    assert_eq!(status, 202);
    // Its STOPPED event releases nothing and admits nothing.
    tracker(&world).handle(stopped_event(&world, "success", &spot), Utc::now()).await.unwrap();
    assert_eq!(counter(&world, REPORT).await, 1);
    assert!(world.store().counter(&contract::limit_item_key(SPOT_REPORT)).await.unwrap().is_none());
}

// ---------------------------------------------------------------------------------------------
// The open jobs' index

/// The ids in the open jobs' index, newest first.
async fn open_ids(world: &World) -> Vec<String> {
    let page = world.store().list(&ListFilter::open(), None, 100, None).await.unwrap();
    assert!(page.next.is_none(), "one page");
    page.jobs.into_iter().map(|j| j.job_id).collect()
}

async fn reconcile<A: RunTaskApi>(tracker: &Tracker<A>) -> jobgen_runtime::track::Reconciled {
    match tracker.handle(contract::reconcile_payload(), Utc::now()).await.unwrap() {
        jobgen_runtime::track::TrackOutcome::Reconciled(report) => report,
        other => panic!("not a reconcile outcome: {other:?}"),
    }
}

#[tokio::test]
async fn a_limited_job_stays_open_until_its_slot_is_back_and_the_reconciler_closes_it() {
    let world = limited_world("open-index", &[(REPORT, 1)], None).await;
    let create = world.create_job();
    let tracker = tracker(&world);
    let (_, a) = submit(&world, &create, REPORT, "a").await;
    let (_, b) = submit(&world, &create, REPORT, "b").await;
    let (_, c) = submit(&world, &create, REPORT, "c").await;
    assert_eq!((a.status, b.status, c.status), (JobStatus::Starting, JobStatus::Queued, JobStatus::Queued));
    // c is cancelled while it waits: finished, no slot, no task, never admitted.
    world.store().cancel(&c.job_id, Utc::now(), None).await.unwrap().unwrap();
    // a ends: its slot goes to b in the same invocation. A limited job's outcome does not take it
    // out of the open index (the write cannot know the slot is back), so a is still listed.
    tracker.handle(stopped_event(&world, "success", &a), Utc::now()).await.unwrap();
    let a_now = job(&world, &a.job_id).await;
    assert_eq!((a_now.status, a_now.slot), (JobStatus::Succeeded, None));
    assert_eq!(job(&world, &b.job_id).await.status, JobStatus::Starting);
    // c was never open: a queued job opens when it is admitted.
    assert_eq!(open_ids(&world).await, [b.job_id.clone(), a.job_id.clone()]);

    // The reconciler closes the finished one; b runs on and stays.
    let report = reconcile(&tracker).await;
    assert_eq!(report.closed, 1, "{report:?}");
    assert_eq!(open_ids(&world).await, std::slice::from_ref(&b.job_id));
    // Closing changed nothing else of the records, and a second run closes nothing.
    assert_eq!(job(&world, &a.job_id).await, a_now);
    assert_eq!(job(&world, &c.job_id).await.status, JobStatus::Cancelled);
    assert_eq!(reconcile(&tracker).await.closed, 0);
    // Close never takes a job that still holds a slot, nor one that is not finished.
    let b_now = job(&world, &b.job_id).await;
    assert!(b_now.slot.is_some());
    assert!(matches!(world.store().close(&b.job_id).await.unwrap(), Err(Some(_))));
    assert_eq!(open_ids(&world).await, std::slice::from_ref(&b.job_id));
}
