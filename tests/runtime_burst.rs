//! A burst larger than RunTask's rate limit, drained by the launch backoff: 200 jobs at once
//! against a token bucket of 100 calls and 20 a second on a simulated clock, the real handlers'
//! library on the serial emulator (see `burst_support.rs`). Invariants only, no timing: every job
//! launched exactly once, none failed, each refused round relaunched by one timer, and never more
//! launches in any stretch of simulated time than the bucket allows. `make bench-burst` runs the
//! same scenario at 10,000 jobs and reports its drain time (BENCHMARKS.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "runtime_support.rs"]
mod runtime_support;

#[path = "burst_support.rs"]
mod burst_support;

use burst_support::BurstOptions;
use runtime_support::World;

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_twice_the_run_task_bucket_launches_every_job_exactly_once_within_the_rate() {
    let world = World::new("burst-200").await;
    let options = BurstOptions::new(200);
    let report = burst_support::run(&world, &options).await;
    eprintln!("{}", report.summary(&options));
    assert!(report.not_launched.is_empty(), "every job launched, none failed: {:?}", report.not_launched);
    assert_eq!(report.launched_once, 200, "each job's record names its attempt's one task");
    assert_eq!((report.ecs_tasks, report.duplicate_tasks), (200, 0), "one ECS task per job, no other");
    assert_eq!(report.accepted, 200, "no RunTask call started a second task for a job");
    assert!(report.backing_off_at_once > 0 && report.refused > 0, "the burst went beyond the bucket: {report:?}");
    assert_eq!(report.launched_at_once + report.backing_off_at_once, 200, "every create-job answered 201 or 202");
    assert_eq!(report.timers_fired, report.rounds, "one relaunch timer per refused round, each acted on");
    assert_eq!(report.timers_armed, report.timers_fired, "every timer armed fired: none left behind");
    assert_eq!(report.timers_moved_on, 0, "no timer fired for a job that had moved on");
    assert_eq!(report.launches_over_the_bound, 0, "launches never beyond the bucket's size plus its refill");
    assert!(report.max_launches_in_a_second <= 120, "at most 100 + 20 in a second: {report:?}");
}
