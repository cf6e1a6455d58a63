//! The lifecycle operator commands (`jobgen retry`, `jobgen stats`, a queued job's `jobgen status`),
//! run as the real binary against the local stack of a `jobgen dev` process with the exports it
//! prints: a failed job retried by hand through the deployed track function (attempt 2, one history
//! entry), a RETRYING job's next attempt started before its backoff ends, retries of a running, a queued and a succeeded job refused with a clear message and
//! nothing changed, the per-type figures of `stats`, and the queue position and start estimate of
//! jobs waiting behind quickstart's `hello` limit (`max_concurrency: 2`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "dev_support.rs"]
mod dev_support;

use std::time::Duration;

use dev_support::{Dev, stderr};
use serde_json::Value;

/// A local stack of the test's own, at the default time scale (a simulated second is 0.1 s).
fn dev() -> Dev {
    Dev::start(&[])
}

/// Polls `jobgen status` until `done` holds for the record (60 s at most) and returns it.
fn wait_until(dev: &Dev, job: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut record = dev.json(&["status", job], 0);
    for _ in 0..600 {
        if done(&record) {
            return record;
        }
        std::thread::sleep(Duration::from_millis(100));
        record = dev.json(&["status", job], 0);
    }
    panic!("job {job} never {what}: {record}\n{}", dev.log());
}

/// `jobgen retry JOB` is refused with exit 1 and `message`, and leaves the record as it was.
fn assert_retry_refused(dev: &Dev, job: &str, message: &str) {
    let before = dev.json(&["status", job], 0);
    let out = dev.jobgen(&["retry", job]);
    assert_eq!(out.status.code(), Some(1), "retry {job}: {}", stderr(&out));
    assert!(stderr(&out).contains(message), "expected {message:?} in:\n{}", stderr(&out));
    assert!(stderr(&out).contains("help: "), "{}", stderr(&out));
    let json = dev.json(&["retry", job], 1);
    assert_eq!(json["error"]["code"], "JobStateError", "{json}");
    let after = dev.json(&["status", job], 0);
    for field in ["status", "attempt", "history", "updatedAt"] {
        assert_eq!(after[field], before[field], "retry of {job} changed {field}: {after}");
    }
}

#[test]
fn a_failed_job_is_retried_by_hand_and_stats_count_it() {
    let dev = &dev();
    let failed = dev.submit(&["hello", "--env", "DEV_OUTCOME=fail", "--env", "DEV_RUN_SECONDS=1"]);
    let (record, code) = dev.watch(&failed);
    assert_eq!((record["status"].as_str(), code), (Some("FAILED"), 1), "{record}");
    assert_eq!(record["failureClass"], "NON_ZERO_EXIT");
    // track gives the slot back right after it records the STOPPED event.
    wait_until(dev, &failed, "gave its slot back", |r| r["slot"].is_null());

    let out = dev.jobgen(&["retry", &failed]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), dev.log());
    let line = stderr(&out);
    assert!(line.contains(&format!("retried job {failed} (FAILED, attempt 1): attempt 2 started")), "{line}");
    assert!(line.contains("(track: retried)"), "{line}");
    let second = dev.json(&["status", &failed], 0);
    assert_eq!(second["attempt"], 2, "{second}");
    let history = second["history"].as_array().unwrap_or_else(|| panic!("no history: {second}"));
    assert_eq!(history.len(), 1, "{second}");
    assert_eq!((history[0]["attempt"].as_u64(), history[0]["failureClass"].as_str()), (Some(1), Some("NON_ZERO_EXIT")));
    assert_ne!(history[0]["taskArn"], second["taskArn"], "attempt 2 runs on a new task: {second}");
    // The same environment: attempt 2 fails too, and stays at attempt 2.
    let done = wait_until(dev, &failed, "finished attempt 2", |r| r["attempt"] == 2 && r["status"] == "FAILED");
    assert_eq!(done["history"].as_array().map(Vec::len), Some(1));

    // A running job (type without a limit) is refused and left running.
    let running = dev.submit(&["sleep", "--env", "DEV_RUN_SECONDS=600"]);
    dev.wait_for(&running, "status", "RUNNING");
    assert_retry_refused(dev, &running, "is RUNNING: only a finished job can be retried; cancel it first");

    // A succeeded job is refused: a new job is what to submit.
    let succeeded = dev.submit(&["hello", "--env", "DEV_RUN_SECONDS=1"]);
    assert_eq!(dev.watch(&succeeded).1, 0);
    wait_until(dev, &succeeded, "gave its slot back", |r| r["slot"].is_null());
    assert_retry_refused(dev, &succeeded, "SUCCEEDED: it succeeded, so there is nothing to retry; submit a new job");
    assert_retry_refused(dev, &succeeded, "submit a new job");

    // Stats: hello has one FAILED (retried once) and one SUCCEEDED; sleep one RUNNING.
    let stats = dev.json(&["stats", "--since", "1h"], 0);
    let types = stats["types"].as_array().unwrap();
    let of = |t: &str| types.iter().find(|x| x["jobType"] == t).unwrap_or_else(|| panic!("no {t} in {stats}"));
    let hello = of("hello");
    assert_eq!(hello["jobs"], 2, "{hello}");
    assert_eq!((hello["byStatus"]["FAILED"].as_u64(), hello["byStatus"]["SUCCEEDED"].as_u64()), (Some(1), Some(1)));
    assert_eq!(hello["byStatus"]["RUNNING"], 0, "every status is a key: {hello}");
    assert_eq!(hello["byFailureClass"]["NON_ZERO_EXIT"], 1, "{hello}");
    assert_eq!((hello["retries"].as_u64(), hello["jobsRetried"].as_u64()), (Some(1), Some(1)), "{hello}");
    assert_eq!(hello["runMs"]["count"], 2, "both jobs ran: {hello}");
    assert!(hello["runMs"]["p50"].as_i64().unwrap() > 0, "{hello}");
    assert_eq!(hello["queueWaitMs"]["count"], 2, "{hello}");
    let sleep = of("sleep");
    assert_eq!((sleep["jobs"].as_u64(), sleep["byStatus"]["RUNNING"].as_u64()), (Some(1), Some(1)), "{sleep}");
    assert_eq!(sleep["runMs"], serde_json::json!({"count": 0, "p50": null, "p95": null, "max": null}));
    assert_eq!(sleep["retries"], 0);

    // One type, and the human tables.
    let only = dev.json(&["stats", "--type", "sleep"], 0);
    assert_eq!(only["types"].as_array().map(Vec::len), Some(1), "{only}");
    assert_eq!(only["jobType"], "sleep");
    let table = dev.jobgen(&["stats", "--since", "1h"]);
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.lines().any(|l| l.starts_with("hello") && l.contains("FAILED 1, SUCCEEDED 1")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("sleep") && l.contains("run time") && l.contains("n/a")), "{text}");
    let bad = dev.jobgen(&["stats", "--since", "last week"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn queued_jobs_show_their_position_and_an_estimated_start() {
    let dev = &dev();
    // hello has max_concurrency 2: the first two run, the next two wait in submission order. 3000
    // simulated seconds (5 real minutes): none of them ends by itself during the test.
    let jobs: Vec<String> = (0..4).map(|_| dev.submit(&["hello", "--env", "DEV_RUN_SECONDS=3000"])).collect();
    let third = dev.json(&["status", &jobs[2]], 0);
    let fourth = dev.json(&["status", &jobs[3]], 0);
    assert_eq!((third["status"].as_str(), fourth["status"].as_str()), (Some("QUEUED"), Some("QUEUED")), "{fourth}");
    assert_eq!(third["queuePosition"], 1, "{third}");
    assert_eq!(fourth["queuePosition"], 2, "{fourth}");
    // No hello job stopped in the last hour: no rate, no estimate.
    assert_eq!(fourth["estimatedStartAt"], Value::Null, "{fourth}");
    assert_eq!(fourth["completionsLastHour"], 0);
    assert!(fourth["estimate"].as_str().unwrap().contains("estimates"), "{fourth}");
    let running = dev.json(&["status", &jobs[0]], 0);
    assert!(running.get("queuePosition").is_none(), "only a queued job has a position: {running}");

    let table = dev.jobgen(&["status", &jobs[3]]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.lines().any(|l| l.starts_with("queuePosition") && l.contains("2 in queue hello (1 = next")), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("estimatedStartAt") && l.contains("unknown (an estimate needs recent")),
        "{text}"
    );

    // A queued job cannot be retried.
    assert_retry_refused(dev, &jobs[2], "is QUEUED: only a finished job can be retried; cancel it first");

    // One job stops (cancelled): the third is admitted, the fourth is next, and one completion in
    // the last hour makes the estimate now + 1 / (1/60 per minute) = an hour from now.
    dev.json(&["cancel", &jobs[0]], 0);
    wait_until(dev, &jobs[0], "stopped", |r| r["ecsLastStatus"] == "STOPPED");
    wait_until(dev, &jobs[2], "left the queue", |r| r["status"] != "QUEUED");
    let before = chrono::Utc::now();
    let fourth = dev.json(&["status", &jobs[3]], 0);
    assert_eq!((fourth["status"].as_str(), fourth["queuePosition"].as_u64()), (Some("QUEUED"), Some(1)), "{fourth}");
    assert_eq!(fourth["completionsLastHour"], 1, "{fourth}");
    let eta = chrono::DateTime::parse_from_rfc3339(fourth["estimatedStartAt"].as_str().unwrap()).unwrap();
    let ahead = eta.with_timezone(&chrono::Utc) - before;
    assert!((ahead - chrono::Duration::hours(1)).num_seconds().abs() <= 30, "{ahead} from now: {fourth}");
    let text = String::from_utf8_lossy(&dev.jobgen(&["status", &jobs[3]]).stdout).into_owned();
    assert!(text.contains("(an estimate: 1 hello job(s) stopped in the last hour)"), "{text}");
}

/// A job RETRYING on its own (hello retries a failure to start once, 30 s later) starts its next
/// attempt at once with `jobgen retry`: no write, just the retry timer's payload sent to track (the
/// timer's own firing later finds the job moved on). Real time, so the 30 s backoff outlasts the
/// test's steps by far.
#[test]
fn a_retrying_job_starts_its_next_attempt_without_waiting_for_its_backoff() {
    let dev = &Dev::start(&["--time-scale", "1"]);
    let job = dev.submit(&["hello", "--env", "DEV_OUTCOME=fail-to-start"]);
    let retrying = wait_until(dev, &job, "was RETRYING", |r| r["status"] == "RETRYING");
    assert_eq!(retrying["attempt"], 1, "{retrying}");
    let retry_at = chrono::DateTime::parse_from_rfc3339(retrying["retryAt"].as_str().unwrap()).unwrap();

    let report = dev.json(&["retry", &job], 0);
    assert!(chrono::Utc::now() < retry_at, "the backoff had not passed: {report}");
    assert_eq!((report["previousStatus"].as_str(), report["action"].as_str()), (Some("RETRYING"), Some("retried")));
    assert_eq!((report["track"]["outcome"].as_str(), report["retriedAttempt"].as_u64()), (Some("timer"), Some(1)));
    assert_eq!(report["job"]["attempt"], 2, "{report}");
    assert_eq!(report["job"]["history"].as_array().map(Vec::len), Some(1), "{report}");
}
