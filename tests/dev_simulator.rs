//! The lifecycle simulator as a test harness, in process: the quickstart stack deployed into moto by
//! `jobgen_local::deploy`, the handlers configured from the deployed stack
//! (`jobgen_local::LocalStack`), and the simulator with its faults switched on — every matched event
//! duplicated, every task's events reversed, every non-final event dropped — for each scripted
//! outcome. Every job must end in the same record it gets without faults. (Quickstart's retry
//! policy is taken out, so each job is one attempt.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jobgen_local::sim::{Faults, JobStats, SimOptions};
use jobgen_runtime::create_job::CreateJobRequest;
use jobgen_runtime::job::{FailureClass, Job, JobStatus};
use jobgen_runtime::store::Store;
use jobgen_tests::{Moto, deploy_and_connect, dev_options, repo_root};

/// Outcome, expected status, failure class, exit code, whether the container ran.
type Case = (&'static str, JobStatus, Option<FailureClass>, Option<i32>, bool);

const CASES: [Case; 6] = [
    ("succeed", JobStatus::Succeeded, None, Some(0), true),
    ("fail", JobStatus::Failed, Some(FailureClass::NonZeroExit), Some(1), true),
    ("oom", JobStatus::Failed, Some(FailureClass::OutOfMemory), Some(137), true),
    ("spot-interruption", JobStatus::Failed, Some(FailureClass::SpotInterrupted), Some(143), true),
    ("fail-to-start", JobStatus::Failed, Some(FailureClass::FailedToStart), None, false),
    ("image-pull-failure", JobStatus::Failed, Some(FailureClass::ImagePullFailed), None, false),
];

/// Deploys quickstart into a fresh moto, runs every case under `faults`, returns the final records
/// and the simulator's statistics by outcome.
async fn run(faults: Faults) -> BTreeMap<&'static str, (Job, JobStats)> {
    // The serial emulator: the test counts each job's lifecycles, and the threaded one can let two
    // admissions of one queued job both pass (tests/runtime_races.rs).
    let moto = Moto::start_serial();
    let dir = tempfile::tempdir().unwrap();
    // Quickstart without its retry policy: this test is about what the event faults do to one
    // attempt's record (retries have their own test in dev_lifecycle.rs).
    let quickstart = std::fs::read_to_string(repo_root().join("examples/quickstart/jobgen.yaml")).unwrap();
    assert!(quickstart.contains("    retry: { attempts: 2 }\n"), "quickstart's retry line moved: update this test");
    let config = dir.path().join("jobgen.yaml");
    std::fs::write(&config, quickstart.replace("    retry: { attempts: 2 }\n", "")).unwrap();
    let options = dev_options(&moto, config, None, dir.path());
    let local = deploy_and_connect(&options).await;
    let sim_options =
        SimOptions { time_scale: 0.02, poll_interval: Duration::from_millis(100), faults, write_logs: false };
    let simulator = Arc::new(local.simulator(sim_options).unwrap());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(simulator.clone().run(stopped));

    let mut ids = BTreeMap::new();
    for (outcome, ..) in CASES {
        let request = CreateJobRequest {
            job_type: "hello".into(),
            environment: BTreeMap::from([("DEV_OUTCOME".to_string(), outcome.to_string())]),
            ..CreateJobRequest::default()
        };
        let view = local.functions.create_job.create(request, chrono::Utc::now(), None).await.unwrap();
        ids.insert(outcome, view.job_id);
    }
    for _ in 0..600 {
        let stats = simulator.stats();
        if ids.values().all(|id| stats.get(id).is_some_and(|s| s.finished)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    running.await.unwrap();
    let stats = simulator.stats();
    let store = Store::new(local.ddb.clone(), local.config.table_name.clone());
    let mut out = BTreeMap::new();
    for (outcome, id) in ids {
        let job = store.get(&id).await.unwrap().unwrap();
        let s = stats.get(&id).cloned().unwrap_or_else(|| panic!("{outcome}: the simulator never saw job {id}"));
        assert!(s.finished, "{outcome}: lifecycle did not finish: {s:?}");
        out.insert(outcome, (job, s));
    }
    drop(moto);
    out
}

fn assert_records(results: &BTreeMap<&'static str, (Job, JobStats)>) {
    for (outcome, status, class, exit, ran) in CASES {
        let (job, stats) = &results[outcome];
        let a = &job.attempt;
        assert_eq!(job.status, status, "{outcome}: {job:?}");
        assert_eq!(a.failure_class, class, "{outcome}");
        assert_eq!(a.exit_code, exit, "{outcome}");
        assert_eq!(a.ecs_last_status.as_deref(), Some("STOPPED"), "{outcome}");
        assert_eq!(a.started_at.is_some(), ran, "{outcome}");
        assert_eq!(a.wait_ms, ran.then_some(7000), "{outcome}");
        assert!(a.cost_usd.is_some(), "{outcome}: STOPPED records a cost");
        // The deployed rule forwards RUNNING and STOPPED only.
        assert_eq!(stats.emitted, if ran { 5 } else { 4 }, "{outcome}: {stats:?}");
        assert_eq!(stats.matched, if ran { 2 } else { 1 }, "{outcome}: {stats:?}");
        assert_eq!(stats.errors, 0, "{outcome}: {stats:?}");
        // The last applied event is the STOPPED one, whatever order they came in.
        assert_eq!(a.ecs_version, Some(if ran { 5 } else { 4 }), "{outcome}");
    }
}

#[test]
fn duplicated_and_reordered_events_end_in_the_right_records() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let results = rt.block_on(run(Faults {
        duplicate: 1.0,
        reorder: 1.0,
        drop: 0.0,
        drop_final: 0.0,
        throttle: 0.0,
        dynamo: 0.0,
        seed: 7,
    }));
    assert_records(&results);
    for (outcome, (_, s)) in &results {
        assert!(s.reordered, "{outcome}: {s:?}");
        assert_eq!(s.duplicated, s.matched, "{outcome}: every matched event twice: {s:?}");
        assert_eq!(s.delivered, 2 * s.matched, "{outcome}: {s:?}");
    }
}

#[test]
fn dropped_events_end_in_the_right_records() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let results = rt.block_on(run(Faults {
        duplicate: 0.0,
        reorder: 0.0,
        drop: 1.0,
        drop_final: 0.0,
        throttle: 0.0,
        dynamo: 0.0,
        seed: 7,
    }));
    assert_records(&results);
    for (outcome, (_, s)) in &results {
        // Only STOPPED reaches track: it carries every timestamp, the exit code and the stop reason.
        assert_eq!((s.dropped, s.delivered), (s.matched - 1, 1), "{outcome}: {s:?}");
    }
}

#[test]
fn without_faults_each_matched_event_is_delivered_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let results = rt.block_on(run(Faults::default()));
    assert_records(&results);
    for (outcome, (_, s)) in &results {
        assert_eq!((s.delivered, s.duplicated, s.dropped, s.reordered), (s.matched, 0, 0, false), "{outcome}: {s:?}");
    }
}
