//! A job cancelled while create-job is still launching it, under `jobgen dev`'s simulator: the
//! quickstart stack deployed into a serial moto, the real create-job library launching through a
//! RunTask seam that lands `jobgen cancel`'s write right after the real RunTask (so create-job's
//! record of the launch fails on CANCELLED and it stops the task at once), and the simulator
//! running as in `jobgen dev`. Every such task must still go through its events to STOPPED
//! (UserInitiated, create-job's stop reason), so track records the ECS facts on the cancelled
//! record and a second `jobgen cancel` has nothing left to stop.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use jobgen_local::sim::SimOptions;
use jobgen_runtime::contract;
use jobgen_runtime::create_job::{CANCELLED_DURING_LAUNCH, CreateJob, CreateJobRequest};
use jobgen_runtime::job::JobStatus;
use jobgen_runtime::launch::{LaunchSpec, RetryPolicy};
use jobgen_runtime::launcher::{EcsError, Launcher, RunTaskAnswer, RunTaskApi};
use jobgen_runtime::store::Store;
use jobgen_tests::{Moto, deploy_and_connect, dev_options, repo_root};

/// Races run.
const RACES: usize = 20;

/// The emulator's ECS, with the job cancelled between RunTask and the record of the launch.
struct CancelAfterRunTask {
    ecs: aws_sdk_ecs::Client,
    store: Store,
}

impl RunTaskApi for CancelAfterRunTask {
    async fn run_task(&self, spec: &LaunchSpec) -> RunTaskAnswer {
        let answer = RunTaskApi::run_task(&self.ecs, spec).await;
        let (job_id, _) = contract::parse_task_group(&spec.group).unwrap();
        let cancelled = self.store.cancel(job_id, Utc::now(), None).await.unwrap().unwrap();
        assert_eq!(cancelled.status, JobStatus::Cancelled);
        answer
    }

    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<(), EcsError> {
        RunTaskApi::stop_task(&self.ecs, cluster, task_arn, reason).await
    }
}

#[test]
fn tasks_stopped_right_after_runtask_still_report_stopped_to_track() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let moto = Moto::start_serial();
        let dir = tempfile::tempdir().unwrap();
        let options = dev_options(&moto, repo_root().join("examples/quickstart/jobgen.yaml"), None, dir.path());
        let local = deploy_and_connect(&options).await;
        let store = Store::new(local.ddb.clone(), local.config.table_name.clone());
        let sim_options = SimOptions {
            time_scale: 0.02,
            poll_interval: Duration::from_millis(100),
            write_logs: false,
            ..SimOptions::default()
        };
        let simulator = Arc::new(local.simulator(sim_options).unwrap());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let running = tokio::spawn(simulator.clone().run(stopped));

        let api = CancelAfterRunTask { ecs: local.ecs.clone(), store: store.clone() };
        let handler = Arc::new(CreateJob::new(
            store.clone(),
            Launcher::new(api, RetryPolicy::immediate(3)),
            local.config.clone(),
        ));
        // One after another: each launch's RunTask → StopTask window is then as short as on a
        // quiet machine (concurrent launches queue on the serial emulator and widen it).
        let mut ids = Vec::new();
        for i in 0..RACES {
            let request = CreateJobRequest {
                job_type: "sleep".into(), // unlimited: the race is with cancel, not with the queue
                idempotency_key: Some(format!("cancel-race-{i}")),
                ..CreateJobRequest::default()
            };
            let view = handler.create(request, Utc::now(), None).await.unwrap();
            assert_eq!((view.status, view.created), (JobStatus::Cancelled, true), "{view:?}");
            ids.push(view.job_id);
        }

        // The simulator walks every task to STOPPED (6 simulated seconds at 0.02: well under 1 s).
        for _ in 0..300 {
            let stats = simulator.stats();
            if ids.iter().all(|id| stats.get(id).is_some_and(|s| s.finished)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = stop.send(true);
        running.await.unwrap();
        let stats = simulator.stats();
        let mut missing = Vec::new();
        for id in &ids {
            let job = store.get(id).await.unwrap().unwrap();
            let a = &job.attempt;
            assert_eq!(job.status, JobStatus::Cancelled, "{job:?}");
            let complete = a.ecs_last_status.as_deref() == Some("STOPPED")
                && a.stop_code.as_deref() == Some("UserInitiated")
                && a.stopped_reason.as_deref() == Some(CANCELLED_DURING_LAUNCH)
                && a.cost_usd.is_some()
                && a.task_arn.is_some();
            // The simulator saw the stop and finished the lifecycle without a track error.
            let simulated = stats.get(id).is_some_and(|s| s.cancelled && s.finished && s.errors == 0);
            if !complete || !simulated {
                missing.push(format!("{id}: {:?} {a:?}", stats.get(id)));
            }
        }
        assert!(
            missing.is_empty(),
            "{} of {RACES} cancelled records lack the task's ECS facts:\n{}",
            missing.len(),
            missing.join("\n")
        );

        // A restarted simulator (a new `jobgen dev` on the same emulator) does not replay these
        // stopped tasks: their records already show them STOPPED.
        let again = Arc::new(local.simulator(SimOptions { write_logs: false, ..SimOptions::default() }).unwrap());
        for _ in 0..3 {
            again.clone().tick().await.unwrap();
        }
        assert!(again.stats().is_empty(), "{:?}", again.stats());
        drop(moto);
    });
}
