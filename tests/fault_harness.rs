//! The fault-injection harness: many jobs through `jobgen dev`'s stack (the real handlers on the
//! serial emulator, the simulator as ECS, EventBridge and Scheduler) with every fault on at once —
//! events duplicated, reordered and dropped (final STOPPED events too), RunTask refused or its
//! answer lost after the task started (a caller that dies or times out between RunTask and the
//! record of its launch), jobs that
//! fail, fail to start, are Spot-interrupted, hang until their timeout, or are cancelled at a random
//! moment — and the invariants that must hold whatever happened, checked on every job.
//!
//! Reproducible from its seed: `JOBGEN_HARNESS_SEED` (default 1) draws each job's script and every
//! fault decision; `JOBGEN_HARNESS_JOBS` (default 100 in `make test`; `make fault-harness` runs
//! 1,000) sets the size. A failure prints the seed and the job that broke an invariant.
//!
//! Invariants:
//! 1. every job ends (a terminal status), none is left RETRYING, queued or launching;
//! 2. exactly one ECS task per attempt that got one: the tasks the project started are exactly the
//!    attempts' task ARNs (no task launched twice for an attempt, none unowned), each in its
//!    attempt's group;
//! 3. never more than the limit: the type's counter, sampled while the burst runs, stays within
//!    `max_concurrency`, and ends at 0;
//! 4. a job that was not cancelled and whose events were all delivered ends as scripted
//!    (`succeed` SUCCEEDED, `fail` FAILED NON_ZERO_EXIT, `hang` TIMED_OUT), a retried one with every
//!    attempt in `history`;
//! 5. a cancelled job is CANCELLED and started no attempt after its cancel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jobgen_local::sim::{Faults, SimOptions};
use jobgen_runtime::contract;
use jobgen_runtime::create_job::CreateJobRequest;
use jobgen_runtime::job::{FailureClass, Job, JobStatus};
use jobgen_runtime::store::Store;
use jobgen_tests::{Moto, deploy_and_connect, dev_options, repo_root};

/// The limit the harness runs `hello` under.
const LIMIT: u32 = 8;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A seeded draw in [0, 1) for `(seed, what, n)`.
fn draw(seed: u64, what: &str, n: usize) -> f64 {
    let hash = contract::jitter_seed(&format!("{seed}-{what}"), u32::try_from(n).unwrap());
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// A job's script: the simulator's outcome variables, and whether the harness cancels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Succeed,
    Fail,
    FailToStart,
    Spot,
    Hang,
}

impl Script {
    fn of(seed: u64, n: usize) -> Script {
        match draw(seed, "script", n) {
            x if x < 0.60 => Script::Succeed,
            x if x < 0.70 => Script::Fail,
            x if x < 0.80 => Script::FailToStart,
            x if x < 0.90 => Script::Spot,
            _ => Script::Hang,
        }
    }

    fn environment(self) -> BTreeMap<String, String> {
        let pairs: &[(&str, &str)] = match self {
            Script::Succeed => &[("DEV_RUN_SECONDS", "20")],
            Script::Fail => &[("DEV_OUTCOME", "fail"), ("DEV_EXIT_CODE", "3")],
            Script::FailToStart => &[("DEV_OUTCOME", "fail-to-start")],
            Script::Spot => &[("DEV_OUTCOME", "spot-interruption")],
            Script::Hang => &[("DEV_RUN_SECONDS", "36000")],
        };
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }
}

#[test]
fn every_invariant_holds_under_every_fault_at_once() {
    let jobs = usize::try_from(env_number("JOBGEN_HARNESS_JOBS", 100)).unwrap();
    let seed = env_number("JOBGEN_HARNESS_SEED", 1);
    eprintln!("fault harness: {jobs} jobs, seed {seed} (JOBGEN_HARNESS_JOBS, JOBGEN_HARNESS_SEED)");
    // JOBGEN_HARNESS_LOG=1: the handlers' and the simulator's log lines on stderr, to follow a job
    // an invariant names.
    if std::env::var_os("JOBGEN_HARNESS_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(tracing::Level::INFO).try_init();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    rt.block_on(run(jobs, seed));
}

async fn run(jobs: usize, seed: u64) {
    let moto = Moto::start_serial();
    let dir = tempfile::tempdir().unwrap();
    // Quickstart with a larger limit: the same timeout (10 min) and retry policy (2 attempts).
    let quickstart = std::fs::read_to_string(repo_root().join("examples/quickstart/jobgen.yaml")).unwrap();
    assert!(quickstart.contains("    max_concurrency: 2\n"), "quickstart's limit moved: update the harness");
    let config = dir.path().join("jobgen.yaml");
    std::fs::write(&config, quickstart.replace("    max_concurrency: 2\n", &format!("    max_concurrency: {LIMIT}\n")))
        .unwrap();
    let options = dev_options(&moto, config, None, dir.path());
    let local = deploy_and_connect(&options).await;
    // JOBGEN_HARNESS_DYNAMO: a share of the handlers' DynamoDB calls fail (half before they are
    // sent, half after they were applied: a handler that dies between two calls), their
    // invocations retried as Lambda does. Off by default: at 0.05 a 100-job run takes 160-265 s
    // instead of about 30 s (RELIABILITY.md, "Not guaranteed").
    let dynamo = std::env::var("JOBGEN_HARNESS_DYNAMO").ok().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let faults = Faults { duplicate: 0.3, reorder: 0.3, drop: 0.3, drop_final: 0.05, throttle: 0.5, dynamo, seed };
    // 0.01: a 20 s job runs 0.2 s, the 10 min timeout fires after about 6 s, the reconciler runs every 3 s.
    let scale = std::env::var("JOBGEN_HARNESS_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(0.01);
    let sim = SimOptions { time_scale: scale, poll_interval: Duration::from_millis(100), faults, write_logs: false };
    let simulator = Arc::new(local.simulator(sim).unwrap());
    // And 10 % of the RunTask calls that start a task lose their answer (the caller sees a
    // timeout after ECS accepted the call): the retry with the same clientToken must not start a
    // second task.
    local.refusals.set_lost_answers(0.1);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(simulator.clone().run(stopped));
    let store = Store::new(local.ddb.clone(), local.config.table_name.clone());
    let started = Instant::now();

    // The burst, with a sampler of the limit's counter beside it.
    let counter_key = contract::limit_item_key("hello");
    let (sampled_stop, mut sampled_stopped) = tokio::sync::watch::channel(false);
    let sampler = {
        let store = store.clone();
        let key = counter_key.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            loop {
                peak = peak.max(store.counter(&key).await.unwrap().unwrap_or(0));
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    _ = sampled_stopped.changed() => return peak,
                }
            }
        })
    };
    let mut ids = Vec::with_capacity(jobs);
    let mut scripts = BTreeMap::new();
    let mut cancelled: BTreeMap<String, chrono::DateTime<chrono::Utc>> = BTreeMap::new();
    let mut submit_retries = 0;
    for n in 0..jobs {
        let script = Script::of(seed, n);
        let request = CreateJobRequest {
            job_type: "hello".into(),
            idempotency_key: Some(format!("harness-{seed}-{n}")),
            environment: script.environment(),
            ..CreateJobRequest::default()
        };
        // The caller retries a failed submission with the same key, as an API client would.
        let mut tries = 0;
        let view = loop {
            tries += 1;
            match local.functions.create_job.create(request.clone(), chrono::Utc::now(), None).await {
                Ok(view) => break view,
                Err(e) if tries < 10 => {
                    submit_retries += 1;
                    assert!(e.retryable || e.status >= 500, "only a failure may be retried: {e:?}");
                }
                Err(e) => panic!("job {n} not submitted after {tries} tries: {e:?}"),
            }
        };
        scripts.insert(view.job_id.clone(), script);
        ids.push(view.job_id.clone());
        if (n + 1) % 100 == 0 {
            eprintln!("fault harness: {} submitted after {:.1} s", n + 1, started.elapsed().as_secs_f64());
        }
        // Cancel 5 % of the jobs, each some submissions after its own.
        for (i, id) in ids.iter().enumerate() {
            if draw(seed, "cancel", i) < 0.05 && i + (draw(seed, "cancel-at", i) * 20.0) as usize == n {
                let at = chrono::Utc::now();
                if let Ok(Ok(_)) = store.cancel(id, at, None).await {
                    cancelled.insert(id.clone(), at);
                }
            }
        }
    }
    let submitted_in = started.elapsed();

    // Wait for every job to end (bounded: the hung ones need their timeout, retries their backoff)
    // and give back its slot: the release is a write of its own after the outcome's (a limited
    // job's STOPPED event, then its slot), so a job can be finished a moment before its slot is
    // free, longer when the release failed and waits for the event's redelivery or the reconciler.
    // Bounded by progress, not by a fixed time (the drain rate depends on the limit, the faults
    // and the machine: 1,000 jobs with DynamoDB faults take far longer than 100 without): the run
    // fails when no job has ended and no record changed for longer than the reconciler needs to
    // repair anything lost (its grace or a launch's lease, then a few of its rounds), or past a
    // generous whole-run cap.
    let stall = Duration::from_secs(180);
    assert!(stall > jobgen_runtime::track::RECONCILE_GRACE.to_std().unwrap() + Duration::from_secs(30));
    assert!(stall > Duration::from_millis(jobgen_runtime::service::DEFAULT_LEASE_MS as u64) + Duration::from_secs(30));
    let cap = Instant::now() + Duration::from_secs(600.max(3 * jobs as u64));
    let mut progressed = Instant::now();
    // Finished records without a slot are final (but for a retry by hand, which the harness never
    // makes): read again only the others, so the polling does not crowd the emulator.
    // Progress is a job that ended or a record that changed: a job left waiting out a lease
    // (admitted, then its launcher lost: claimable 2 min later) has its own 180 s from its last
    // change, not what is left of the window since the last job ended.
    let mut done: BTreeMap<String, Job> = BTreeMap::new();
    let mut newest_change = None;
    while Instant::now() < cap && progressed.elapsed() < stall {
        let before = done.len();
        let mut newest = None;
        for id in &ids {
            if done.contains_key(id) {
                continue;
            }
            let job = store.get(id).await.unwrap().unwrap();
            newest = newest.max(Some(job.updated_at));
            if job.status.is_terminal() && job.slot.is_none() {
                done.insert(id.clone(), job);
            }
        }
        if done.len() == ids.len() {
            break;
        }
        if done.len() > before || newest > newest_change {
            progressed = Instant::now();
            newest_change = newest_change.max(newest);
        }
        eprintln!(
            "fault harness: {} of {} ended after {:.1} s",
            done.len(),
            ids.len(),
            started.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let drained_in = started.elapsed();
    let _ = sampled_stop.send(true);
    let peak = sampler.await.unwrap();
    // Let the simulator wind down the stopped tasks before reading ECS.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop.send(true);
    running.await.unwrap();
    let stats = simulator.stats();
    // The records and the counter are read once nothing runs any more, so they describe one moment
    // (records read before the wind-down and the counter after it could show a release that came in
    // between as a job holding a slot beside a counter at 0).
    let mut records: Vec<Job> = Vec::new();
    for id in &ids {
        records.push(store.get(id).await.unwrap().unwrap());
    }

    let context = |job: &Job| format!("seed {seed}, job {} ({:?}): {job:?}", job.job_id, scripts.get(&job.job_id));
    // 1. Every job ended.
    for job in &records {
        assert!(job.status.is_terminal(), "invariant 1 (every job ends): {}", context(job));
    }
    // 2. One task per attempt that got one, and no other task of the project.
    let mut attempts_tasks: BTreeSet<String> = BTreeSet::new();
    let mut attempts = 0;
    for job in &records {
        for attempt in job.history.iter().chain([&job.attempt]) {
            attempts += 1;
            if let Some(task) = &attempt.task_arn {
                assert!(
                    attempts_tasks.insert(task.clone()),
                    "invariant 2 (a task per attempt): {task} twice: {}",
                    context(job)
                );
            }
        }
    }
    let mut ecs_tasks: BTreeSet<String> = BTreeSet::new();
    for desired in [aws_sdk_ecs::types::DesiredStatus::Running, aws_sdk_ecs::types::DesiredStatus::Stopped] {
        let mut next = None;
        loop {
            let out = local
                .ecs
                .list_tasks()
                .cluster("quickstart-main")
                .started_by(contract::started_by("quickstart"))
                .desired_status(desired.clone())
                .set_next_token(next)
                .send()
                .await
                .unwrap();
            ecs_tasks.extend(out.task_arns().iter().cloned());
            match out.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => break,
            }
        }
    }
    let unowned: Vec<&String> = ecs_tasks.difference(&attempts_tasks).collect();
    let missing: Vec<&String> = attempts_tasks.difference(&ecs_tasks).collect();
    assert!(unowned.is_empty(), "invariant 2: seed {seed}: tasks no attempt owns: {unowned:?}");
    assert!(missing.is_empty(), "invariant 2: seed {seed}: attempts naming tasks ECS never started: {missing:?}");
    // 3. Never over the limit; nothing held at the end.
    assert!(peak <= i64::from(LIMIT), "invariant 3 (the limit): seed {seed}: the counter reached {peak}");
    assert_eq!(store.counter(&counter_key).await.unwrap().unwrap_or(0), 0, "invariant 3: seed {seed}: a slot leaked");
    let holders: Vec<String> = records.iter().filter(|j| j.slot.is_some()).map(context).collect();
    assert!(holders.is_empty(), "invariant 3: seed {seed}: jobs still hold a slot: {holders:#?}");
    // 4. Scripted outcomes, where nothing interfered (no cancel, no lost final event or timer).
    let mut checked = 0;
    let mut lost_timers = 0;
    for job in &records {
        // A final event lost (dropped, or dead-lettered after every try failed) is repaired by the
        // reconciler from what ECS reports, not from the event.
        let lost_final = stats.get(&job.job_id).is_some_and(|s| s.dropped_final > 0 || s.dead_lettered > 0);
        // A timer whose every delivery failed (dead-lettered) is fired by the reconciler once it is
        // overdue by RECONCILE_GRACE, 2 min of real time the simulator does not scale, so at the
        // harness's scale a hung job's 10 h run (6 min here) ends before the backstop acts; at
        // real scale it stops at timeout + grace (`runtime_lifecycle::the_reconciler_repairs_...`
        // fires a lost deadline timer on an unscaled clock).
        let lost_timer = stats.get(&job.job_id).is_some_and(|s| s.timers_dead_lettered > 0);
        if lost_timer {
            lost_timers += 1;
        }
        if cancelled.contains_key(&job.job_id) || lost_final || lost_timer {
            continue;
        }
        let a = &job.attempt;
        let ok = match scripts[&job.job_id] {
            Script::Succeed => job.status == JobStatus::Succeeded,
            Script::Fail => {
                job.status == JobStatus::Failed && a.failure_class == Some(FailureClass::NonZeroExit) && a.number == 1
            }
            Script::Hang => job.status == JobStatus::TimedOut && a.failure_class == Some(FailureClass::TimedOut),
            // Retried once (quickstart's policy), then final.
            Script::FailToStart => {
                job.status == JobStatus::Failed && a.failure_class == Some(FailureClass::FailedToStart) && a.number == 2
            }
            Script::Spot => {
                job.status == JobStatus::Failed
                    && a.failure_class == Some(FailureClass::SpotInterrupted)
                    && a.number == 2
            }
        };
        assert!(ok, "invariant 4 (as scripted): {}", context(job));
        assert_eq!(job.history.len() + 1, a.number as usize, "invariant 4: every attempt kept: {}", context(job));
        checked += 1;
    }
    // 5. Cancelled jobs stay cancelled and start nothing after their cancel.
    for (id, at) in &cancelled {
        let job = records.iter().find(|j| &j.job_id == id).unwrap();
        assert_eq!(job.status, JobStatus::Cancelled, "invariant 5: {}", context(job));
        assert!(
            job.attempt.launched_at.is_none_or(|l| l <= *at + chrono::Duration::seconds(35)),
            "invariant 5: launched after its cancel (beyond a launch in flight): {}",
            context(job)
        );
    }
    let (calls, refused) = local.refusals.counts();
    let lost = local.refusals.lost();
    let (dynamo_calls, failed_before, failed_after) = local.dynamo_faults.counts();
    let track_failures: u32 = stats.values().map(|s| s.errors).sum();
    let dead_lettered: u32 = stats.values().map(|s| s.dead_lettered).sum();
    let by_status = records.iter().fold(BTreeMap::<&str, usize>::new(), |mut m, j| {
        *m.entry(j.status.as_str()).or_default() += 1;
        m
    });
    // The event faults the simulator injected, over every job's tasks.
    let sum = |f: fn(&jobgen_local::sim::JobStats) -> u32| stats.values().map(f).sum::<u32>();
    let (matched, delivered, duplicated) = (sum(|s| s.matched), sum(|s| s.delivered), sum(|s| s.duplicated));
    let (dropped, dropped_final) = (sum(|s| s.dropped - s.dropped_final), sum(|s| s.dropped_final));
    let reordered = stats.values().filter(|s| s.reordered).count();
    eprintln!(
        "fault harness: seed {seed}: {jobs} jobs ({} cancelled), {attempts} attempts, {} tasks, {calls} RunTask calls \
         ({refused} refused, {lost} answers lost after the task started), {dynamo_calls} DynamoDB calls by the handlers \
         ({failed_before} failed before sending, {failed_after} after being applied: {track_failures} event deliveries and \
         {submit_retries} submissions retried, {dead_lettered} events and {lost_timers} jobs' timers dead-lettered), peak {peak} of {LIMIT} slots, {checked} outcomes checked as scripted; \
         events: {matched} matched the rule, {delivered} delivered, {duplicated} duplicated, {dropped} non-final and {dropped_final} final dropped, \
         {reordered} jobs' events reversed; submitted in {:.1} s, all ended in {:.1} s; {by_status:?}",
        cancelled.len(),
        ecs_tasks.len(),
        submitted_in.as_secs_f64(),
        drained_in.as_secs_f64()
    );
    drop(moto);
}
