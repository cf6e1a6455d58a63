//! `make demo`'s story as a test: the quickstart stack under `jobgen dev` (deployed into moto, real
//! handlers configured from the deployed stack, the lifecycle simulator), driven only through the
//! real `jobgen` binary's operator commands — one job succeeds, one fails with a non-zero exit, one is
//! submitted twice with one idempotency key and stays one job (one ECS task), one fails to start,
//! is retried once (quickstart's `retry: {attempts: 2}`) and fails to start again — with assertions
//! on every final record.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "dev_support.rs"]
mod dev_support;

use dev_support::Dev;
use serde_json::Value;

fn assert_timing(record: &Value, started: bool) {
    let id = &record["jobId"];
    if started {
        // Simulated lifecycle: 7 s from creation to start; run = DEV_RUN_SECONDS + 1 s stopping.
        assert_eq!(record["waitMs"], 7000, "{id}: {record}");
        assert!(record["costUsd"].as_f64().unwrap() > 0.0, "{id}: a task that ran is billed: {record}");
        for t in ["taskCreatedAt", "pullStartedAt", "pullStoppedAt", "startedAt", "stoppingAt", "stoppedAt"] {
            assert!(record[t].is_string(), "{id}: {t} missing: {record}");
        }
        assert!(record["startedAt"].as_str() < record["stoppedAt"].as_str());
    } else {
        assert!(record.get("startedAt").is_none() && record.get("runMs").is_none(), "{id}: {record}");
        assert_eq!(record["costUsd"].as_f64(), Some(0.0), "{id}: never pulled, never billed: {record}");
    }
    assert_eq!(record["ecsLastStatus"], "STOPPED");
    assert_eq!(record["cpu"], 256);
    assert_eq!(record["memory"], 512);
    assert_eq!(record["capacity"], "FARGATE");
}

#[test]
fn the_demo_story_ends_in_the_right_records() {
    let dev = Dev::start(&[]);
    let ok = dev.submit(&["hello", "--env", "DEV_RUN_SECONDS=20"]);
    let failed =
        dev.submit(&["sleep", "--env", "SLEEP_SECONDS=10", "--env", "DEV_OUTCOME=fail", "--env", "DEV_EXIT_CODE=3"]);
    let first = dev.json(&["submit", "hello", "--idempotency-key", "demo-order-42"], 0);
    let second = dev.json(&["submit", "hello", "--idempotency-key", "demo-order-42"], 0);
    let no_start = dev.submit(&["hello", "--env", "DEV_OUTCOME=fail-to-start"]);
    assert_eq!(first["jobId"], second["jobId"], "one idempotency key, one job");
    assert_eq!((first["created"].as_bool(), second["created"].as_bool()), (Some(true), Some(false)));
    let replayed = first["jobId"].as_str().unwrap().to_string();

    let (r, code) = dev.watch(&ok);
    assert_eq!((r["status"].as_str(), code), (Some("SUCCEEDED"), 0), "{r}");
    assert_eq!(r["exitCode"], 0);
    assert!(r.get("failureClass").is_none());
    assert_eq!(r["runMs"], 20_000, "the 20 s run, without ECS's 3 s of stopping: {r}");
    assert_eq!(r["stopCode"], "EssentialContainerExited");
    assert_timing(&r, true);

    let (r, code) = dev.watch(&failed);
    assert_eq!((r["status"].as_str(), code), (Some("FAILED"), 1), "{r}");
    assert_eq!(r["attempt"], 1, "a non-zero exit is not a class quickstart retries: {r}");
    assert_eq!((r["exitCode"].as_i64(), r["failureClass"].as_str()), (Some(3), Some("NON_ZERO_EXIT")));
    assert_eq!(r["jobType"], "sleep");
    assert_eq!(r["environment"]["SLEEP_SECONDS"], "10");
    assert_timing(&r, true);

    let (r, code) = dev.watch(&replayed);
    assert_eq!((r["status"].as_str(), code), (Some("SUCCEEDED"), 0), "{r}");
    assert_eq!(r["idempotencyKey"], "demo-order-42");
    assert_eq!(r["attempt"], 1);
    assert_timing(&r, true);

    let (r, code) = dev.watch(&no_start);
    assert_eq!((r["status"].as_str(), code), (Some("FAILED"), 1), "{r}");
    assert_eq!(r["failureClass"], "FAILED_TO_START");
    assert_eq!(r["stopCode"], "TaskFailedToStart");
    assert_eq!(r["attempt"], 2, "a failure to start is retried once: {r}");
    let history = r["history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{r}");
    assert_eq!(history[0]["failureClass"], "FAILED_TO_START");
    assert_ne!(history[0]["taskArn"], r["taskArn"], "a new task for the retry");
    assert!(r.get("exitCode").is_none(), "{r}");
    assert_timing(&r, false);

    // Five submissions, four jobs, five ECS tasks: the replay started nothing, the retry one.
    let listed = dev.json(&["list", "--since", "1h"], 0);
    let jobs = listed["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 4, "{listed}");
    let ecs = aws_sdk_ecs_tasks(&dev);
    assert_eq!(ecs, 5, "one ECS task per attempt");

    // Every job got exactly the events the deployed rule matches: RUNNING and STOPPED for a task that
    // ran, STOPPED only for one that never started.
    for (job, emitted, delivered) in [(&ok, 5, 2), (&failed, 5, 2), (&replayed, 5, 2), (&no_start, 4, 1)] {
        // jobgen dev prints the line once the lifecycle has wound down (logs, StopTask) after STOPPED.
        let mut line = dev.event_line(job);
        for _ in 0..300 {
            if line.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            line = dev.event_line(job);
        }
        let line = line.unwrap_or_else(|| panic!("no event line for {job}:\n{}", dev.log()));
        assert!(
            line.contains(&format!(
                "{emitted} events emitted, {delivered} matched the deployed rule, {delivered} delivered"
            ),),
            "{line}"
        );
    }
}

/// Tasks the quickstart project started, counted with the AWS CLI against the emulator.
fn aws_sdk_ecs_tasks(dev: &Dev) -> usize {
    let out = std::process::Command::new(jobgen_tests::venv_bin().join("aws"))
        .args(["--endpoint-url", &dev.moto.endpoint, "--output", "json"])
        .args(["ecs", "list-tasks", "--cluster", "quickstart-main", "--started-by", "jobgen/quickstart"])
        .envs(dev.moto.env())
        .output()
        .expect("aws cli (make tools)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["taskArns"].as_array().map(Vec::len).unwrap_or(0)
}
