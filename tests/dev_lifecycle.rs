//! Timeouts and retries in `jobgen dev`: quickstart (whose `hello` type has `timeout: 10m` and
//! `retry: {attempts: 2}`) deployed into moto by `jobgen_local::deploy`, the handlers configured
//! from the deployed stack, and the simulator firing the handlers' EventBridge Scheduler timers
//! from the emulator at scaled time. A hung job ends TIMED_OUT, a Spot interruption is retried once
//! and then fails for good, a plain success takes one attempt.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use jobgen_local::sim::{Faults, SimOptions};
use jobgen_runtime::contract;
use jobgen_runtime::create_job::CreateJobRequest;
use jobgen_runtime::job::{FailureClass, Job, JobStatus};
use jobgen_runtime::store::Store;
use jobgen_tests::{Moto, deploy_and_connect, dev_options, repo_root};

/// Quickstart deployed into a fresh serial emulator as `jobgen dev` deploys it, and the simulator
/// running at 0.01 (the 10-minute timeout fires after about 6 s, the reconciler runs every 3 s)
/// with `faults`.
struct Run {
    moto: Moto,
    _dir: tempfile::TempDir,
    local: jobgen_local::LocalStack,
    simulator: Arc<jobgen_local::sim::Simulator>,
    stop: tokio::sync::watch::Sender<bool>,
    running: tokio::task::JoinHandle<()>,
}

impl Run {
    async fn start(faults: Faults) -> Run {
        let moto = Moto::start_serial();
        let dir = tempfile::tempdir().unwrap();
        let options = dev_options(&moto, repo_root().join("examples/quickstart/jobgen.yaml"), None, dir.path());
        let local = deploy_and_connect(&options).await;
        let sim_options =
            SimOptions { time_scale: 0.01, poll_interval: Duration::from_millis(100), faults, write_logs: false };
        let simulator = Arc::new(local.simulator(sim_options).unwrap());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let running = tokio::spawn(simulator.clone().run(stopped));
        Run { moto, _dir: dir, local, simulator, stop, running }
    }

    /// Submits a `hello` job with `environment` through the deployed create-job.
    async fn submit(&self, key: &str, environment: &[(&str, &str)]) -> String {
        let request = CreateJobRequest {
            job_type: "hello".into(),
            idempotency_key: Some(key.into()),
            environment: environment.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..CreateJobRequest::default()
        };
        self.local.functions.create_job.create(request, chrono::Utc::now(), None).await.unwrap().job_id
    }

    fn store(&self) -> Store {
        Store::new(self.local.ddb.clone(), self.local.config.table_name.clone())
    }

    /// The records of `ids` once all are finished (or after 60 s), with `each` called on every
    /// record read on the way.
    async fn wait(&self, ids: &[String], mut each: impl FnMut(&Job)) -> Vec<Job> {
        let store = self.store();
        let mut jobs = Vec::new();
        for _ in 0..600 {
            jobs.clear();
            for id in ids {
                let job = store.get(id).await.unwrap().unwrap();
                each(&job);
                jobs.push(job);
            }
            if jobs.iter().all(|j| j.status.is_terminal()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        jobs
    }

    /// Stops the simulator (and, on drop, the emulator).
    async fn finish(self) -> (jobgen_local::LocalStack, Arc<jobgen_local::sim::Simulator>, Moto) {
        let _ = self.stop.send(true);
        self.running.await.unwrap();
        (self.local, self.simulator, self.moto)
    }
}

#[test]
fn the_simulator_fires_timeouts_and_retries_at_scaled_time() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let run = Run::start(Faults::default()).await;
        assert_eq!(
            run.local.config.timers.as_ref().map(|t| t.group.clone()),
            Some(contract::schedule_group("quickstart")),
            "the deployed functions name the timers' group"
        );
        let hung = run.submit("hung", &[("DEV_RUN_SECONDS", "36000")]).await;
        let spot = run.submit("spot", &[("DEV_OUTCOME", "spot-interruption")]).await;
        let ok = run.submit("ok", &[]).await;
        let jobs = run.wait(&[hung, spot, ok], |_| {}).await;
        let (local, _, moto) = run.finish().await;

        let hung = &jobs[0];
        assert_eq!(
            (hung.status, hung.attempt.failure_class),
            (JobStatus::TimedOut, Some(FailureClass::TimedOut)),
            "{hung:?}"
        );
        assert!(hung.attempt.stopped_reason.as_deref().unwrap().starts_with(contract::STOP_REASON_TIMEOUT), "{hung:?}");
        assert!(hung.history.is_empty(), "a timeout is not retried");

        let spot = &jobs[1];
        assert_eq!((spot.status, spot.attempt.number), (JobStatus::Failed, 2), "{spot:?}");
        assert_eq!(spot.attempt.failure_class, Some(FailureClass::SpotInterrupted));
        assert_eq!(spot.history.len(), 1);
        assert_eq!(spot.history[0].failure_class, Some(FailureClass::SpotInterrupted));
        assert_ne!(spot.history[0].task_arn, spot.attempt.task_arn, "a new task per attempt");

        let ok = &jobs[2];
        assert_eq!((ok.status, ok.attempt.number, ok.history.len()), (JobStatus::Succeeded, 1, 0), "{ok:?}");

        // Every timer was fired and deleted (ActionAfterCompletion: DELETE), or disarmed when its
        // attempt ended first (the finished jobs' run deadlines): none is left to fire for nothing.
        let left =
            local.scheduler.list_schedules().group_name(contract::schedule_group("quickstart")).send().await.unwrap();
        let names: Vec<&str> = left.schedules().iter().filter_map(|s| s.name()).collect();
        assert!(names.is_empty(), "{names:?}");
        drop(moto);
    });
}

#[test]
fn a_dropped_final_stopped_event_is_repaired_by_the_reconciler() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // Every final STOPPED event is lost; the reconciler runs every 3 s.
        let run = Run::start(Faults { drop_final: 1.0, seed: 3, ..Faults::default() }).await;
        let id = run.submit("lost", &[]).await;
        let mut seen_running = false;
        let job =
            run.wait(std::slice::from_ref(&id), |j| seen_running |= j.status == JobStatus::Running).await.remove(0);
        let (_, simulator, moto) = run.finish().await;
        let stats = simulator.stats()[&id].clone();
        assert_eq!((stats.dropped, stats.dropped_final), (1, 1), "the STOPPED event was dropped: {stats:?}");
        assert!(seen_running, "RUNNING was delivered");
        assert!(job.status.is_terminal(), "repaired from ECS, not stuck RUNNING: {job:?}");
        assert_eq!(job.attempt.ecs_last_status.as_deref(), Some("STOPPED"), "{job:?}");
        drop(moto);
    });
}

#[test]
fn a_burst_under_throttling_drains_through_the_launch_backoff_one_task_per_job() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // 80 % of RunTask calls refused: with the launcher's 4 tries per launch, 0.8^4 = 41 % of the
        // launches reach the launch backoff, so at least one of the 20 jobs does but for a chance of
        // 0.59^20 = 3e-5 (at 70 % it was 0.76^20 = 0.4 %, and the check failed once: the draws
        // follow the calls' order, which concurrency changes). quickstart's hello runs at most 2 at once.
        let run = Run::start(Faults { throttle: 0.8, seed: 11, ..Faults::default() }).await;
        const JOBS: usize = 20;
        let mut ids = Vec::new();
        for i in 0..JOBS {
            ids.push(run.submit(&format!("burst-{i}"), &[("DEV_RUN_SECONDS", "5")]).await);
        }
        let jobs = run.wait(&ids, |_| {}).await;
        let (local, _, moto) = run.finish().await;
        let (calls, refused) = local.refusals.counts();
        assert!(refused > 0, "the throttle refused some launches: {calls} calls");
        let relaunched = jobs.iter().filter(|j| j.attempt.launch_round.is_some()).count();
        assert!(relaunched > 0, "some jobs went through the launch backoff");
        for j in &jobs {
            assert_eq!((j.status, j.attempt.number), (JobStatus::Succeeded, 1), "{j:?}");
        }
        let mut tasks = 0;
        for desired in [aws_sdk_ecs::types::DesiredStatus::Running, aws_sdk_ecs::types::DesiredStatus::Stopped] {
            let out = local
                .ecs
                .list_tasks()
                .cluster("quickstart-main")
                .started_by(contract::started_by("quickstart"))
                .desired_status(desired)
                .send()
                .await
                .unwrap();
            tasks += out.task_arns().len();
        }
        assert_eq!(tasks, JOBS, "one task per job: {calls} RunTask calls, {refused} refused");
        eprintln!("dev burst: {JOBS} jobs, {calls} RunTask calls, {refused} refused, {relaunched} jobs relaunched");
        drop(moto);
    });
}
