//! The operator commands (`jobgen submit|status|list|watch|cancel|logs`), run as the real binary
//! against the local stack of a `jobgen dev` process, with the exports it prints — the same
//! commands, unchanged, that run against a stack on AWS. Includes bad input (unknown job id, unknown
//! job type, malformed --env, unknown stack, bad flags) with clear errors and the documented exit
//! codes, and cancellation of a running job (StopTask → STOPPED with stopCode UserInitiated).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "dev_support.rs"]
mod dev_support;

use dev_support::{Dev, stderr};

/// A local stack of the test's own (a static one would never be dropped, leaving its processes
/// behind). Time runs at real speed: a task provisions for 7 s before its container starts, a wide
/// margin for checking that a just-submitted job has no log stream yet, even on a loaded machine.
fn dev() -> Dev {
    Dev::start(&["--time-scale", "1"])
}

#[test]
fn submit_status_watch_and_list_a_job() {
    let dev = &dev();
    let out = dev.jobgen(&["submit", "hello", "--env", "GREETING=hi", "--env", "DEV_RUN_SECONDS=1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Table output: the job id alone on stdout, the story on stderr.
    let job = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(job.len(), 26, "{job:?}");
    assert!(stderr(&out).contains(&format!("submitted job {job} (hello)")), "{}", stderr(&out));

    let status = dev.json(&["status", &job], 0);
    assert_eq!(status["jobId"], job.as_str());
    assert_eq!(status["environment"]["GREETING"], "hi");
    assert!(status["taskArn"].as_str().unwrap().contains(":task/quickstart-main/"), "{status}");

    let watch = dev.jobgen(&["watch", &job, "--interval", "0.2", "--timeout", "120"]);
    assert_eq!(watch.status.code(), Some(0), "{}", stderr(&watch));
    let progress = stderr(&watch);
    assert!(progress.contains("SUCCEEDED"), "{progress}");
    assert!(String::from_utf8_lossy(&watch.stdout).starts_with("JOB ID"), "table on stdout");

    let table = dev.jobgen(&["status", &job]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.lines().any(|l| l.starts_with("status") && l.ends_with("SUCCEEDED")), "{text}");

    let by_type = dev.json(&["list", "--type", "hello", "--since", "1h"], 0);
    assert!(by_type["jobs"].as_array().unwrap().iter().any(|j| j["jobId"] == job.as_str()), "{by_type}");
    let by_status = dev.json(&["list", "--status", "succeeded"], 0);
    assert!(by_status["jobs"].as_array().unwrap().iter().all(|j| j["status"] == "SUCCEEDED"), "{by_status}");
    let none = dev.json(&["list", "--type", "sleep", "--since", "2099-01-01T00:00:00Z"], 0);
    assert_eq!(none["jobs"].as_array().unwrap().len(), 0);
}

#[test]
fn submit_wait_exits_non_zero_when_the_job_fails() {
    let dev = &dev();
    let out = dev.jobgen(&[
        "submit",
        "hello",
        "--env",
        "DEV_OUTCOME=oom",
        "--env",
        "DEV_RUN_SECONDS=1",
        "--wait",
        "--interval",
        "0.2",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((record["status"].as_str(), record["failureClass"].as_str()), (Some("FAILED"), Some("OUT_OF_MEMORY")));
    assert_eq!(record["exitCode"], 137);
}

#[test]
fn cancel_stops_a_running_job_and_refuses_a_finished_one() {
    let dev = &dev();
    let job = dev.submit(&["sleep", "--env", "DEV_RUN_SECONDS=600"]);
    dev.wait_for(&job, "status", "RUNNING");
    let cancelled = dev.json(&["cancel", &job, "--reason", "test cancel"], 0);
    assert_eq!(cancelled["taskStopped"], true);
    assert_eq!(cancelled["job"]["status"], "CANCELLED");

    // The simulator sees the StopTask and sends STOPPED (UserInitiated); the tracker records the
    // task's facts while the job stays CANCELLED.
    let (_, code) = dev.watch(&job);
    assert_eq!(code, 1, "a cancelled job is not a success");
    let record = dev.wait_for(&job, "ecsLastStatus", "STOPPED");
    assert_eq!(record["status"], "CANCELLED", "{record}");
    assert_eq!(record["stopCode"], "UserInitiated", "{record}");
    assert_eq!(record["stoppedReason"], "test cancel", "{record}");
    assert!(record["cancelledAt"].is_string());
    // The TTL comes from the retention the stack gave its functions (quickstart: the 90-day default),
    // read through GetFunctionConfiguration, which jobgen dev answers like Lambda.
    let cancelled_at = chrono::DateTime::parse_from_rfc3339(record["cancelledAt"].as_str().unwrap()).unwrap();
    let ttl = record["expiresAt"].as_i64().unwrap_or_else(|| panic!("no TTL on the cancelled job: {record}"));
    assert!((ttl - cancelled_at.timestamp() - 90 * 86_400).abs() <= 5, "{ttl} vs {cancelled_at}");

    let again = dev.jobgen(&["cancel", &job]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already finished (CANCELLED): there is nothing to cancel"), "{}", stderr(&again));
}

#[test]
fn logs_say_when_none_exist_yet_then_show_the_task_lines() {
    let dev = &dev();
    let job = dev.submit(&["hello", "--env", "DEV_RUN_SECONDS=1"]);
    // Right after submit the task is still provisioning (7 s): no stream yet.
    let early = dev.jobgen(&["logs", &job]);
    assert_eq!(early.status.code(), Some(1), "{}", stderr(&early));
    assert!(stderr(&early).contains("does not exist yet"), "{}", stderr(&early));
    let (_, code) = dev.watch(&job);
    assert_eq!(code, 0);
    // The simulator writes the task's last line just after its STOPPED event reached track.
    let mut logs = dev.json(&["logs", &job], 0);
    for _ in 0..300 {
        if logs["events"].as_array().and_then(|e| e.last()).is_some_and(|e| e.to_string().contains("task stopped")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        logs = dev.json(&["logs", &job], 0);
    }
    assert_eq!(logs["logGroup"], "/jobgen/quickstart/hello");
    let task_id = dev.json(&["status", &job], 0)["taskArn"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    assert_eq!(logs["logStream"], format!("jobgen/main/{task_id}"));
    let messages: Vec<&str> =
        logs["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert!(messages.iter().any(|m| m.contains(&format!("JOBGEN_JOB_ID={job}"))), "{messages:?}");
    assert!(messages.last().unwrap().contains("task stopped"), "{messages:?}");
}

#[test]
fn bad_input_gets_clear_errors_and_documented_exit_codes() {
    let dev = &dev();
    let cases: [(&[&str], i32, &str); 9] = [
        (
            &["status", "01nosuchjob00000000000000x"],
            1,
            "job 01nosuchjob00000000000000x not found in stack jobgen-quickstart",
        ),
        (&["watch", "nosuchjob", "--timeout", "5"], 1, "not found"),
        (&["logs", "nosuchjob"], 1, "not found"),
        (&["cancel", "nosuchjob"], 1, "not found"),
        (&["submit", "transcode"], 2, "\"transcode\" is not a job type of this stack (known: hello, sleep)"),
        (&["submit", "hello", "--env", "NOVALUE"], 2, "--env \"NOVALUE\": is not KEY=VALUE"),
        (&["submit", "hello", "--env", "JOBGEN_JOB_ID=x"], 2, "the JOBGEN_ prefix is reserved"),
        (&["list", "--since", "yesterday"], 2, "--since \"yesterday\": is neither a duration nor a timestamp"),
        (&["status", "x", "--stack", "no-such-stack"], 2, "--stack no-such-stack: no such CloudFormation stack"),
    ];
    for (args, code, message) in cases {
        let out = dev.jobgen(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "jobgen {args:?}: {err}");
        assert!(err.contains(message), "jobgen {args:?}: expected {message:?} in:\n{err}");
        assert!(err.contains("help: "), "jobgen {args:?}: every error says how to fix it:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Reusing an idempotency key for different parameters is refused, not silently merged.
    dev.submit(&["hello", "--idempotency-key", "op-key-1"]);
    let out = dev.jobgen(&["submit", "hello", "--idempotency-key", "op-key-1", "--env", "A=1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("409 IdempotencyKeyReused"), "{}", stderr(&out));
    // clap usage errors are exit 2 too.
    let out = dev.jobgen(&["list", "--status"]);
    assert_eq!(out.status.code(), Some(2));
    let out = dev.jobgen(&["list", "--status", "DONE"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("use one of QUEUED, SUBMITTED, STARTING"), "{}", stderr(&out));
}

/// A job left CANCELLED with its task still running (create-job's StopTask after a cancel during the
/// launch failed, or the first `jobgen cancel` could not reach ECS): cancelling again stops the task.
#[test]
fn cancel_again_stops_the_task_of_a_cancelled_job_that_still_runs() {
    let dev = &dev();
    let job = dev.submit(&["sleep", "--env", "DEV_RUN_SECONDS=600"]);
    dev.wait_for(&job, "status", "RUNNING");
    // Mark the job CANCELLED the way a cancel whose StopTask never happened leaves it.
    let stack = &dev.exports.iter().find(|(k, _)| k == "JOBGEN_STACK").expect("JOBGEN_STACK export").1;
    let query =
        format!("Stacks[0].Outputs[?OutputKey=='{}'].OutputValue", jobgen_runtime::contract::outputs::TABLE_NAME);
    let table = dev.moto.aws_cli(&["cloudformation", "describe-stacks", "--stack-name", stack, "--query", &query]);
    let key = format!(r#"{{"jobId":{{"S":"{job}"}}}}"#);
    dev.moto.aws_cli(&[
        "dynamodb",
        "update-item",
        "--table-name",
        &table,
        "--key",
        &key,
        "--update-expression",
        "SET #s = :c",
        "--expression-attribute-names",
        r##"{"#s":"status"}"##,
        "--expression-attribute-values",
        r#"{":c":{"S":"CANCELLED"}}"#,
    ]);
    assert_eq!(dev.json(&["status", &job], 0)["ecsLastStatus"], "RUNNING", "the task still runs");

    let again = dev.json(&["cancel", &job, "--reason", "second cancel"], 0);
    assert_eq!(again["taskStopped"], true, "{again}");
    let record = dev.wait_for(&job, "ecsLastStatus", "STOPPED");
    assert_eq!(record["status"], "CANCELLED", "{record}");
    assert_eq!(record["stopCode"], "UserInitiated", "{record}");
    assert_eq!(record["stoppedReason"], "second cancel", "{record}");
    // Now the task is stopped too: nothing left to cancel.
    assert_eq!(dev.jobgen(&["cancel", &job]).status.code(), Some(1));
}

/// With `--output json` an error is one JSON document on stdout (`{"error": {code, message, help,
/// exitCode}}`) beside the human message on stderr, with the same exit code: a script that reads
/// stdout always gets an answer (it used to get nothing).
#[test]
fn errors_with_output_json_are_a_json_document_on_stdout() {
    let dev = &dev();
    let cases: [(&[&str], i32, &str, &str); 10] = [
        (&["status", "01nosuchjob00000000000000x"], 1, "JobNotFound", "not found in stack jobgen-quickstart"),
        (&["watch", "nosuchjob", "--timeout", "5"], 1, "JobNotFound", "not found"),
        (&["watch", "nosuchjob", "--interval=-1"], 2, "UsageError", "--interval -1: is not a number of seconds"),
        (&["logs", "nosuchjob"], 1, "JobNotFound", "not found"),
        (&["cancel", "nosuchjob"], 1, "JobNotFound", "not found"),
        (&["submit", "transcode"], 2, "UsageError", "\"transcode\" is not a job type of this stack"),
        (&["submit", "hello", "--env", "NOVALUE"], 2, "UsageError", "--env \"NOVALUE\": is not KEY=VALUE"),
        (&["list", "--since", "yesterday"], 2, "UsageError", "--since \"yesterday\": is neither"),
        (&["list", "--status", "DONE"], 2, "UsageError", "--status \"DONE\": is not a job status"),
        (&["status", "x", "--stack", "no-such-stack"], 2, "UsageError", "--stack no-such-stack: no such"),
    ];
    let check = |args: &[&str], out: &std::process::Output, code: i32, kind: &str, message: &str| {
        assert_eq!(out.status.code(), Some(code), "jobgen {args:?}: {}", stderr(out));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("jobgen {args:?}: stdout is not one JSON document ({e}): {:?}", String::from_utf8_lossy(&out.stdout))
        });
        let error = &doc["error"];
        assert_eq!(error["code"], kind, "jobgen {args:?}: {doc}");
        assert_eq!(error["exitCode"], code, "jobgen {args:?}: {doc}");
        assert!(error["message"].as_str().unwrap().contains(message), "jobgen {args:?}: {doc}");
        assert!(!error["help"].as_str().unwrap().is_empty(), "jobgen {args:?}: {doc}");
        // The human message still goes to stderr.
        assert!(stderr(out).contains(message) && stderr(out).contains("help: "), "{}", stderr(out));
    };
    for (args, code, kind, message) in cases {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        check(&all, &dev.jobgen(&all), code, kind, message);
        // Without --output json, stdout stays empty.
        assert!(dev.jobgen(args).stdout.is_empty(), "jobgen {args:?}");
    }
    // A finished job cannot be cancelled (1), and an unreachable endpoint is an AWS error (3).
    let job = dev.submit(&["hello", "--env", "DEV_RUN_SECONDS=1"]);
    let (_, code) = dev.watch(&job);
    assert_eq!(code, 0);
    let args = ["cancel", job.as_str(), "--output", "json"];
    let out = dev.jobgen(&args);
    check(&args, &out, 1, "JobStateError", "already finished (SUCCEEDED)");
    // The help line names the job, not a placeholder.
    assert!(stderr(&out).contains(&format!("help: see the job with `jobgen status {job}`")), "{}", stderr(&out));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let args = ["status", job.as_str(), "--output", "json"];
    let out = std::process::Command::new(dev_support::jobgen_bin())
        .args(args)
        .envs(dev.exports.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_ENDPOINT_URL", &dead)
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .unwrap();
    check(&args, &out, 3, "EndpointUnreachable", &format!("DescribeStacks: nothing answers at {dead}"));
    assert!(stderr(&out).contains("Start it (`jobgen dev`"), "{}", stderr(&out));
}

#[test]
fn watch_streams_json_lines_gives_up_with_its_own_code_and_the_stack_comes_from_jobgen_yaml() {
    let dev = &dev();
    // `watch --output json`: one JSON object per change, the last the final record.
    let job = dev.submit(&["hello", "--env", "DEV_RUN_SECONDS=2", "--metadata", r#"{"order": 42}"#]);
    let out = dev.jobgen(&["watch", &job, "--interval", "0.2", "--timeout", "120", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object per line: {e}: {l}")))
        .collect();
    assert!(lines.len() >= 2, "a line per change: {lines:?}");
    assert_eq!(lines.last().unwrap()["status"], "SUCCEEDED");
    let statuses: Vec<&str> = lines.iter().filter_map(|l| l["status"].as_str()).collect();
    assert!(statuses.iter().any(|s| *s != "SUCCEEDED"), "it saw the job before it finished: {statuses:?}");
    // `--metadata` was stored with the job.
    assert_eq!(dev.json(&["status", &job], 0)["metadata"]["order"], 42);

    // `--timeout` ends the wait with exit 4 (not 1: the job did not fail) and says the job goes on.
    let long = dev.submit(&["sleep", "--env", "DEV_RUN_SECONDS=600"]);
    let out = dev.jobgen(&["watch", &long, "--interval", "0.2", "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("`jobgen watch {long}` follows it again")), "{}", stderr(&out));
    let out = dev.jobgen(&["submit", "sleep", "--wait", "--interval", "0.2", "--timeout", "1", "--output", "json"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["code"], "WaitTimedOut");
    assert_ne!(dev.json(&["status", &long], 0)["status"], "CANCELLED", "giving up the wait leaves the job alone");

    // A command override the job type does not allow: refused by create-job (400), exit 2.
    let out = dev.jobgen(&["submit", "hello", "--command", r#"["sh", "-c", "env"]"#]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("command"), "{}", stderr(&out));

    // Without --stack and JOBGEN_STACK, the stack is jobgen-<project> of ./jobgen.yaml (what
    // `jobgen dev` deployed).
    let project = jobgen_tests::repo_root().join("examples/quickstart");
    let out = dev.jobgen_in(&project, &["list", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed["jobs"].as_array().unwrap().iter().any(|j| j["jobId"] == job.as_str()), "{listed}");
}

#[test]
fn logs_follow_prints_the_lines_as_they_come_until_the_job_ends() {
    let dev = &dev();
    let job = dev.submit(&["hello", "--env", "DEV_RUN_SECONDS=2"]);
    // Started while the task is still provisioning: it waits for the stream, then follows it.
    let out = dev.jobgen(&["logs", &job, "--follow", "--interval", "0.2", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("one JSON object per log line: {e}: {l}")))
        .collect();
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(messages.iter().any(|m| m.contains(&format!("JOBGEN_JOB_ID={job}"))), "{messages:?}");
    assert!(messages.last().is_some_and(|m| m.contains("task stopped")), "through the last line: {messages:?}");
    // Every line once: the same count as a plain read of the whole stream.
    let all = dev.json(&["logs", &job], 0);
    assert_eq!(all["events"].as_array().map(Vec::len), Some(lines.len()));
    assert_eq!(dev.json(&["status", &job], 0)["status"], "SUCCEEDED");
}

#[test]
fn a_jobs_progress_reported_from_its_task_shows_in_watch_and_status() {
    let dev = &dev();
    // hello has `progress: true`: its simulated container reports 0 %, 50 % and 100 % with its
    // task role's identity, as the README's one-liner does.
    let job = dev.submit(&["hello", "--env", "DEV_RUN_SECONDS=4"]);
    let watch = dev.jobgen(&["watch", &job, "--interval", "0.2", "--timeout", "120"]);
    assert_eq!(watch.status.code(), Some(0), "{}", stderr(&watch));
    let lines = stderr(&watch);
    assert!(lines.contains("progress 50% halfway"), "{lines}");
    assert!(lines.contains("progress 100% done"), "{lines}");
    let status = dev.json(&["status", &job], 0);
    assert_eq!(status["progress"]["percent"], 100, "{status}");
    assert_eq!(status["progress"]["message"], "done", "{status}");
    let table = dev.jobgen(&["status", &job]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.lines().any(|l| l.starts_with("progress") && l.ends_with("100% done")), "{text}");
    // sleep does not report progress: no progress line, no member.
    let quiet = dev.submit(&["sleep", "--env", "DEV_RUN_SECONDS=1"]);
    let out = dev.jobgen(&["watch", &quiet, "--interval", "0.2", "--timeout", "120"]);
    assert!(!stderr(&out).contains("progress"), "{}", stderr(&out));
    assert!(dev.json(&["status", &quiet], 0).get("progress").is_none());
}

#[test]
fn the_readmes_progress_one_liner_writes_the_report_the_runtime_reads() {
    use jobgen_runtime::progress;
    let dev = &dev();
    // The one-liner exactly as the README shows it, run by sh with the AWS CLI against the stack's
    // table: what a container of a `progress: true` job type runs.
    let readme = std::fs::read_to_string(jobgen_tests::repo_root().join("README.md")).unwrap();
    let start = readme.find("aws dynamodb update-item --table-name \"$JOBGEN_PROGRESS_TABLE\"").unwrap();
    let snippet = &readme[start..start + readme[start..].find("\n```").unwrap()];
    let aws = jobgen_tests::venv_bin().join("aws");
    let env: Vec<(String, String)> = dev.moto.env().into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&aws).args(args).envs(env.iter().cloned()).output().unwrap();
        assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let tables: serde_json::Value = serde_json::from_str(&run(&["dynamodb", "list-tables"])).unwrap();
    let table = tables["TableNames"][0].as_str().unwrap().to_string();
    let path = format!("{}:{}", jobgen_tests::venv_bin().display(), std::env::var("PATH").unwrap_or_default());
    let out = std::process::Command::new("sh")
        .args(["-c", snippet])
        .envs(env.iter().cloned())
        .env("PATH", path)
        .env("JOBGEN_PROGRESS_TABLE", &table)
        .env("JOBGEN_JOB_ID", "somejob")
        .output()
        .unwrap();
    assert!(out.status.success(), "{snippet}\n{}", String::from_utf8_lossy(&out.stderr));
    let user_id = run(&["sts", "get-caller-identity", "--query", "UserId", "--output", "text"]);
    let key = serde_json::json!({"jobId": {"S": progress::progress_key(&user_id)}}).to_string();
    let item: serde_json::Value =
        serde_json::from_str(&run(&["dynamodb", "get-item", "--table-name", &table, "--key", &key])).unwrap();
    let item = &item["Item"];
    assert_eq!(item[progress::JOB_ATTR]["S"], "somejob", "{item}");
    assert_eq!(item[progress::PERCENT_ATTR]["N"], "40", "{item}");
    assert_eq!(item[progress::MESSAGE_ATTR]["S"], "encoding", "{item}");
    // Every attribute it wrote is one the task role's condition allows.
    for name in item.as_object().unwrap().keys() {
        assert!(progress::ATTRIBUTES.contains(&name.as_str()), "{name} is not allowed by dynamodb:Attributes");
    }
}
