//! The burst benchmark (`make bench-burst JOBS=n SPREAD=s`, part of `make bench`): JOBS jobs (default
//! 10,000) submitted at once and drained through the launch backoff against RunTask's rate limit (a
//! token bucket of 100 calls and 20 a second), on a simulated clock, with the real handlers' library
//! on the serial emulator (`burst_support.rs` says what is real and what is stood in for). Prints
//! the RunTask calls, refusals, relaunch timers, jobs launched exactly once, the peak number of jobs
//! waiting to launch, the simulated drain time next to the ideal, and the wall time of the run; the
//! figures go in BENCHMARKS.md by hand.
//!
//! `JOBGEN_BURST_JOBS`, `JOBGEN_BURST_SPREAD` (seconds within which Scheduler fires a due timer,
//! default 60), `JOBGEN_BURST_CONCURRENCY` (invocations in flight against the emulator, default 8).
//! A benchmark is not a test: without `--bench` (as `cargo test --all-targets` runs it) it does nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../runtime_support.rs"]
mod runtime_support;

#[path = "../burst_support.rs"]
mod burst_support;

use std::time::Duration;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("burst benchmark skipped: run it with `make bench-burst`");
        return;
    }
    let mut options =
        burst_support::BurstOptions::new(usize::try_from(env_number("JOBGEN_BURST_JOBS", 10_000)).unwrap());
    options.scheduler_spread = Duration::from_secs(env_number("JOBGEN_BURST_SPREAD", 60));
    options.concurrency = usize::try_from(env_number("JOBGEN_BURST_CONCURRENCY", 8)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let report = rt.block_on(async {
        let world = runtime_support::World::new(&format!("burst{}", options.jobs)).await;
        burst_support::run(&world, &options).await
    });
    println!("{}", report.summary(&options));
    if !report.not_launched.is_empty() {
        println!(
            "not launched ({}): {:?}",
            report.not_launched.len(),
            &report.not_launched[..report.not_launched.len().min(20)]
        );
    }
}
