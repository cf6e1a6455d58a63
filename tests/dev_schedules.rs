//! Schedules under `jobgen dev`, in process: quickstart with a `rate(1 minute)` schedule whose runs
//! last longer than a minute, deployed into the serial moto (the schedule created through the
//! emulator's Scheduler API), and the simulator firing it at scaled time with every trigger
//! delivered twice. Each fired time makes at most one job, a redelivery never a second, and with
//! `overlap: skip` no two runs of the schedule are ever active at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jobgen_local::sim::{Faults, SimOptions};
use jobgen_runtime::schedule;
use jobgen_runtime::store::{ListFilter, Store};
use jobgen_tests::{Moto, deploy_and_connect, dev_options, repo_root};

const SCHEDULE: &str = "every-minute";

#[test]
fn a_rate_schedule_fires_one_job_per_tick_under_duplicated_triggers_and_never_overlaps() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let moto = Moto::start_serial();
        let dir = tempfile::tempdir().unwrap();
        let quickstart = std::fs::read_to_string(repo_root().join("examples/quickstart/jobgen.yaml")).unwrap();
        // Runs of 100 simulated seconds, every 60: about every other tick finds the previous run going.
        let project = format!(
            "{quickstart}\nschedules:\n  {SCHEDULE}:\n    job_type: hello\n    expression: rate(1 minute)\n    environment:\n      DEV_RUN_SECONDS: \"100\"\n"
        );
        let config = dir.path().join("jobgen.yaml");
        std::fs::write(&config, project).unwrap();
        let options = dev_options(&moto, config, None, dir.path());
        let local = deploy_and_connect(&options).await;
        let faults = Faults { duplicate: 1.0, seed: 3, ..Faults::default() };
        let sim_options =
            SimOptions { time_scale: 0.05, poll_interval: Duration::from_millis(100), faults, write_logs: false };
        let simulator = Arc::new(local.simulator(sim_options).unwrap());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let running = tokio::spawn(simulator.clone().run(stopped));

        let store = Store::new(local.ddb.clone(), local.config.table_name.clone());
        let runs = || async {
            let page = store.list(&ListFilter::all(), None, 200, None).await.unwrap();
            page.jobs.into_iter().filter(|j| j.schedule.as_deref() == Some(SCHEDULE)).collect::<Vec<_>>()
        };
        let mut most_active = 0;
        for _ in 0..600 {
            let active = runs().await.iter().filter(|j| !j.status.is_terminal()).count();
            most_active = most_active.max(active);
            if simulator.schedule_runs().get(&schedule::schedule_name(SCHEDULE)).is_some_and(|r| r.fired >= 8) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = stop.send(true);
        running.await.unwrap();

        let fired = simulator.schedule_runs()[&schedule::schedule_name(SCHEDULE)].clone();
        let jobs = runs().await;
        eprintln!("fired {fired:?}; {} runs recorded", jobs.len());
        assert!(fired.fired >= 8, "{fired:?}");
        assert_eq!(fired.delivered, 2 * fired.fired, "every trigger delivered twice: {fired:?}");
        // One job per created answer, each for a distinct scheduled time; never more jobs than ticks.
        let created = fired.answers.get(&201).copied().unwrap_or(0) + fired.answers.get(&202).copied().unwrap_or(0);
        assert_eq!(created as usize, jobs.len(), "{fired:?}");
        let keys: BTreeSet<&str> = jobs.iter().filter_map(|j| j.idempotency_key.as_deref()).collect();
        assert_eq!(keys.len(), jobs.len(), "one job per scheduled time");
        assert!(keys.iter().all(|k| k.starts_with(&format!("schedule/{SCHEDULE}/"))), "{keys:?}");
        assert!(jobs.len() as u32 <= fired.fired);
        // Overlap skip: some ticks found the previous run going and were skipped, and no two runs
        // were ever active at once.
        assert!(fired.answers.get(&409).copied().unwrap_or(0) > 0, "runs longer than the interval skip ticks: {fired:?}");
        assert!(jobs.len() >= 2, "runs after a finished one start again: {fired:?}");
        assert!(most_active <= 1, "{most_active} runs of the schedule were active at once");
        drop(moto);
    });
}
