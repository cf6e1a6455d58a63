//! `jobgen stats`: per job type, how jobs ended and how long they took, as data. The figures are
//! pure functions of job records ([`compute`]), so they are tested on hand-made records; reading
//! the records is one indexed Query per page ([`crate::Ops::stats`]), never a Scan.
//!
//! Definitions (every duration in milliseconds, from the record's own timestamps):
//! - **queue wait**: `createdAt` → the first attempt's `launchedAt` (RunTask accepted it);
//! - **start-up**: `createdAt` → the current attempt's `startedAt` (its task RUNNING);
//! - **run time**: the current attempt's `runMs` (the tracker's figure: `startedAt` → `stoppingAt`, when the
//!   main container exited, not when ECS finished stopping the task);
//! - **retries**: the sum of the jobs' `history` lengths, and how many jobs have any history;
//! - **cost**: the sum of `costUsd` over every attempt, history included; the mean is per job,
//!   over the jobs that have a cost on any attempt.
//!
//! Percentiles are nearest-rank on the jobs that have the figure; a figure no job has is `None`
//! (`n/a` in the table, `null` in JSON). Failure classes are counted per job, from its current
//! attempt (an earlier attempt's class shows up as a retry).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use jobgen_runtime::job::{Job, JobStatus, format_ts};
use serde_json::{Value, json};

use crate::{Ops, OpsError};

/// Nearest-rank summary of one duration figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// How many jobs have the figure.
    pub count: usize,
    /// Median (nearest rank).
    pub p50_ms: Option<i64>,
    /// 95th percentile (nearest rank).
    pub p95_ms: Option<i64>,
    /// Largest value.
    pub max_ms: Option<i64>,
}

impl Summary {
    /// Summarizes `values` (any order).
    pub fn of(mut values: Vec<i64>) -> Summary {
        values.sort_unstable();
        Summary {
            count: values.len(),
            p50_ms: nearest_rank(&values, 50),
            p95_ms: nearest_rank(&values, 95),
            max_ms: values.last().copied(),
        }
    }

    /// `{"count": n, "p50": ms|null, "p95": ms|null, "max": ms|null}`.
    pub fn to_json(&self) -> Value {
        json!({"count": self.count, "p50": self.p50_ms, "p95": self.p95_ms, "max": self.max_ms})
    }
}

/// The nearest-rank `p`th percentile of ascending `sorted`: the value at rank ⌈p/100 · n⌉ (1-based,
/// at least 1); `None` for no values.
pub fn nearest_rank(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    // ceil(p * n / 100) in integers.
    let rank = (p as usize * n).div_ceil(100).clamp(1, n);
    sorted.get(rank - 1).copied()
}

/// The figures of one job type.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TypeStats {
    /// The job type.
    pub job_type: String,
    /// Jobs read.
    pub jobs: usize,
    /// Jobs by status name (every status, zero included, so the keys are stable).
    pub by_status: BTreeMap<String, usize>,
    /// Jobs by the failure class of their current attempt (only classes that occur).
    pub by_failure_class: BTreeMap<String, usize>,
    /// `createdAt` → first attempt's `launchedAt`.
    pub queue_wait: Summary,
    /// `createdAt` → current attempt's `startedAt`.
    pub startup: Summary,
    /// Current attempt's `startedAt` → `stoppedAt`.
    pub run: Summary,
    /// Sum of `history` lengths.
    pub retries: usize,
    /// Jobs with at least one earlier attempt.
    pub jobs_retried: usize,
    /// Sum of `costUsd` over every attempt of every job.
    pub cost_total_usd: f64,
    /// Mean cost per job, over the jobs with a cost on any attempt.
    pub cost_mean_usd: Option<f64>,
}

impl TypeStats {
    /// Stable-keyed JSON (camelCase; durations in milliseconds).
    pub fn to_json(&self) -> Value {
        json!({
            "jobType": self.job_type,
            "jobs": self.jobs,
            "byStatus": self.by_status,
            "byFailureClass": self.by_failure_class,
            "queueWaitMs": self.queue_wait.to_json(),
            "startupMs": self.startup.to_json(),
            "runMs": self.run.to_json(),
            "retries": self.retries,
            "jobsRetried": self.jobs_retried,
            "costUsd": {"total": self.cost_total_usd, "meanPerJob": self.cost_mean_usd},
        })
    }
}

/// What `jobgen stats` reports: the range read and one entry per job type, sorted by type.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsReport {
    /// Jobs created at or after this time were read.
    pub since: DateTime<Utc>,
    /// The one type asked for, or `None` for every type.
    pub job_type: Option<String>,
    /// Per job type.
    pub types: Vec<TypeStats>,
}

impl StatsReport {
    /// `{"since": ..., "jobType": ...|null, "types": [...]}`.
    pub fn to_json(&self) -> Value {
        json!({
            "since": format_ts(&self.since),
            "jobType": self.job_type,
            "types": self.types.iter().map(TypeStats::to_json).collect::<Vec<_>>(),
        })
    }
}

fn ms_between(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> Option<i64> {
    to.map(|to| (to - from).num_milliseconds().max(0))
}

/// The figures of `jobs`, grouped by job type (sorted by type name).
pub fn compute(jobs: &[Job]) -> Vec<TypeStats> {
    let mut groups: BTreeMap<&str, Vec<&Job>> = BTreeMap::new();
    for job in jobs {
        groups.entry(job.job_type.as_str()).or_default().push(job);
    }
    groups.into_iter().map(|(job_type, jobs)| type_stats(job_type, &jobs)).collect()
}

fn type_stats(job_type: &str, jobs: &[&Job]) -> TypeStats {
    let mut by_status: BTreeMap<String, usize> = JobStatus::ALL.iter().map(|s| (s.as_str().to_string(), 0)).collect();
    let mut by_failure_class = BTreeMap::new();
    let (mut queue_wait, mut startup, mut run) = (Vec::new(), Vec::new(), Vec::new());
    let (mut retries, mut jobs_retried) = (0, 0);
    let (mut cost_total, mut costed_jobs) = (0.0, 0usize);
    for job in jobs {
        *by_status.entry(job.status.as_str().to_string()).or_default() += 1;
        if let Some(class) = job.attempt.failure_class {
            *by_failure_class.entry(class.as_str().to_string()).or_default() += 1;
        }
        let first = job.history.first().unwrap_or(&job.attempt);
        queue_wait.extend(ms_between(job.created_at, first.launched_at));
        startup.extend(ms_between(job.created_at, job.attempt.started_at));
        // The tracker's own figure (start → the task began stopping), the same `jobgen status` shows.
        run.extend(job.attempt.run_ms);
        retries += job.history.len();
        jobs_retried += usize::from(!job.history.is_empty());
        let costs: Vec<f64> = job.history.iter().chain([&job.attempt]).filter_map(|a| a.cost_usd).collect();
        if !costs.is_empty() {
            cost_total += costs.iter().sum::<f64>();
            costed_jobs += 1;
        }
    }
    TypeStats {
        job_type: job_type.to_string(),
        jobs: jobs.len(),
        by_status,
        by_failure_class,
        queue_wait: Summary::of(queue_wait),
        startup: Summary::of(startup),
        run: Summary::of(run),
        retries,
        jobs_retried,
        cost_total_usd: cost_total,
        cost_mean_usd: (costed_jobs > 0).then(|| cost_total / costed_jobs as f64),
    }
}

impl Ops {
    /// The figures of jobs created since `since`, per job type (or of `job_type` alone).
    pub async fn stats(&self, job_type: Option<&str>, since: DateTime<Utc>) -> Result<StatsReport, OpsError> {
        // Every job of the range, paged to the end: the listing `jobgen list` uses (the byCreated
        // index, by type when asked, then the records by key; no Scan), without a limit.
        let jobs = self.list(None, job_type, Some(since), usize::MAX).await?;
        Ok(StatsReport { since, job_type: job_type.map(str::to_string), types: compute(&jobs) })
    }
}

/// The report of [`Ops::stats`] and the same figures per day of creation (UTC), for charts.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyReport {
    /// The whole range, as `jobgen stats` reports it.
    pub report: StatsReport,
    /// Per day (oldest first), per job type.
    pub days: BTreeMap<chrono::NaiveDate, Vec<TypeStats>>,
}

/// The figures of `jobs` per day of creation (UTC), each day grouped by type as [`compute`] does.
pub fn daily(jobs: &[Job]) -> BTreeMap<chrono::NaiveDate, Vec<TypeStats>> {
    let mut by_day: BTreeMap<chrono::NaiveDate, Vec<Job>> = BTreeMap::new();
    for job in jobs {
        by_day.entry(job.created_at.date_naive()).or_default().push(job.clone());
    }
    by_day.into_iter().map(|(day, jobs)| (day, compute(&jobs))).collect()
}

impl Ops {
    /// [`Ops::stats`] and the same figures per day, from one listing.
    pub async fn stats_with_days(&self, job_type: Option<&str>, since: DateTime<Utc>) -> Result<DailyReport, OpsError> {
        let jobs = self.list(None, job_type, Some(since), usize::MAX).await?;
        Ok(DailyReport {
            report: StatsReport { since, job_type: job_type.map(str::to_string), types: compute(&jobs) },
            days: daily(&jobs),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use jobgen_runtime::job::{Attempt, FailureClass};

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600 + seconds, 0).unwrap()
    }

    /// A job of `job_type` created at t(0) in `status`.
    fn job(id: &str, job_type: &str, status: JobStatus) -> Job {
        let mut job =
            Job::submitted(id.into(), job_type.into(), None, "f".into(), BTreeMap::new(), None, None, t(0), 0);
        job.status = status;
        job.lease_until = None;
        job
    }

    /// An attempt launched, started and stopped at these seconds, costing `cost`.
    fn attempt(number: u32, launched: i64, started: Option<i64>, stopped: Option<i64>, cost: Option<f64>) -> Attempt {
        Attempt {
            number,
            launched_at: Some(t(launched)),
            started_at: started.map(t),
            stopped_at: stopped.map(t),
            run_ms: started.zip(stopped).map(|(a, b)| (b - a) * 1000),
            cost_usd: cost,
            ..Attempt::default()
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(nearest_rank(&[], 50), None);
        assert_eq!(nearest_rank(&[7], 50), Some(7));
        assert_eq!(nearest_rank(&[7], 95), Some(7));
        // n = 4: p50 is rank 2, p95 is rank ceil(3.8) = 4.
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 95), Some(4));
        // n = 20: p95 is rank 19.
        let twenty: Vec<i64> = (1..=20).collect();
        assert_eq!(nearest_rank(&twenty, 95), Some(19));
        assert_eq!(nearest_rank(&twenty, 50), Some(10));
        assert_eq!(
            Summary::of(vec![30, 10, 20]),
            Summary { count: 3, p50_ms: Some(20), p95_ms: Some(30), max_ms: Some(30) }
        );
        assert_eq!(Summary::of(Vec::new()), Summary::default());
    }

    #[test]
    fn figures_of_hand_made_jobs() {
        // a: succeeded first time: queued 2 s, started at 5 s, ran 10 s, $0.25.
        let mut a = job("a", "hello", JobStatus::Succeeded);
        a.attempt = attempt(1, 2, Some(5), Some(15), Some(0.25));
        // b: failed once (history), then succeeded: the first attempt launched at 4 s; the current
        // one started at 40 s and ran 20 s. $0.10 + $0.30.
        let mut b = job("b", "hello", JobStatus::Succeeded);
        b.history = vec![Attempt {
            failure_class: Some(FailureClass::FailedToStart),
            ..attempt(1, 4, None, Some(9), Some(0.1))
        }];
        b.attempt = attempt(2, 30, Some(40), Some(60), Some(0.3));
        // c: failed with a non-zero exit: launched at 1 s, started at 3 s, ran 4 s; no cost recorded.
        let mut c = job("c", "hello", JobStatus::Failed);
        c.attempt = Attempt { failure_class: Some(FailureClass::NonZeroExit), ..attempt(1, 1, Some(3), Some(7), None) };
        // d: still queued: no figure at all.
        let d = job("d", "hello", JobStatus::Queued);
        // e: another type, running for now.
        let mut e = job("e", "sleep", JobStatus::Running);
        e.attempt = attempt(1, 6, Some(8), None, None);

        let stats = compute(&[d, e, c, b, a]);
        assert_eq!(stats.iter().map(|s| s.job_type.as_str()).collect::<Vec<_>>(), ["hello", "sleep"]);
        let hello = &stats[0];
        assert_eq!(hello.jobs, 4);
        assert_eq!((hello.by_status["SUCCEEDED"], hello.by_status["FAILED"], hello.by_status["QUEUED"]), (2, 1, 1));
        assert_eq!(hello.by_status["RUNNING"], 0, "every status has a key");
        assert_eq!(hello.by_status.len(), JobStatus::ALL.len());
        assert_eq!(hello.by_failure_class, BTreeMap::from([("NON_ZERO_EXIT".to_string(), 1)]));
        // Queue waits 2, 4 (b's first attempt), 1 s.
        assert_eq!(hello.queue_wait, Summary { count: 3, p50_ms: Some(2000), p95_ms: Some(4000), max_ms: Some(4000) });
        // Start-ups 5, 40, 3 s.
        assert_eq!(hello.startup, Summary { count: 3, p50_ms: Some(5000), p95_ms: Some(40_000), max_ms: Some(40_000) });
        // Run times 10, 20, 4 s.
        assert_eq!(hello.run, Summary { count: 3, p50_ms: Some(10_000), p95_ms: Some(20_000), max_ms: Some(20_000) });
        assert_eq!((hello.retries, hello.jobs_retried), (1, 1));
        assert!((hello.cost_total_usd - 0.65).abs() < 1e-12, "{}", hello.cost_total_usd);
        // Two jobs have a cost: (0.25 + 0.40) / 2.
        assert!((hello.cost_mean_usd.unwrap() - 0.325).abs() < 1e-12);

        let sleep = &stats[1];
        assert_eq!((sleep.jobs, sleep.by_status["RUNNING"]), (1, 1));
        assert_eq!(sleep.run, Summary::default(), "a running job has no run time yet");
        assert_eq!(sleep.startup.p50_ms, Some(8000));
        assert_eq!((sleep.cost_total_usd, sleep.cost_mean_usd), (0.0, None));
    }

    #[test]
    fn daily_figures_split_the_range_by_creation_day() {
        let a = job("a", "hello", JobStatus::Succeeded);
        let mut b = job("b", "hello", JobStatus::Failed);
        b.created_at = t(86_400 + 5);
        let days = daily(&[a, b]);
        let keys: Vec<String> = days.keys().map(ToString::to_string).collect();
        assert_eq!(keys, ["2026-01-01", "2026-01-02"]);
        let first = &days.values().next().unwrap()[0];
        assert_eq!((first.jobs, first.by_status["SUCCEEDED"], first.by_status["FAILED"]), (1, 1, 0));
        assert_eq!(days.values().nth(1).unwrap()[0].by_status["FAILED"], 1);
    }

    #[test]
    fn json_has_stable_keys_and_null_for_missing_figures() {
        let report =
            StatsReport { since: t(0), job_type: None, types: compute(&[job("q", "hello", JobStatus::Queued)]) };
        let json = report.to_json();
        assert_eq!(json["since"], "2026-01-01T00:00:00.000Z");
        assert_eq!(json["jobType"], Value::Null);
        let hello = &json["types"][0];
        let keys: Vec<&str> = hello.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "jobType",
                "jobs",
                "byStatus",
                "byFailureClass",
                "queueWaitMs",
                "startupMs",
                "runMs",
                "retries",
                "jobsRetried",
                "costUsd"
            ]
        );
        assert_eq!(hello["queueWaitMs"], json!({"count": 0, "p50": null, "p95": null, "max": null}));
        assert_eq!(hello["costUsd"], json!({"total": 0.0, "meanPerJob": null}));
        assert_eq!(hello["byStatus"]["QUEUED"], 1);
    }
}
