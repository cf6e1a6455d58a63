//! The real handler binaries, driven through cargo-lambda's local Lambda runtime against the moto
//! emulator: `cargo lambda watch` runs `create-job` and `track` exactly as Lambda would (Runtime API,
//! environment from the stack's contract), and `cargo lambda invoke` sends them events.
//!
//! This is the one test that proves the `src/bin/*.rs` wiring (configuration from the environment,
//! SDK clients from the standard chain and `AWS_ENDPOINT_URL`, the Lambda event loop) and not only
//! the library behind it. Every child process (cargo-lambda and the function processes it spawns in
//! their own sessions) is stopped when the harness is dropped, also when an assertion fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "local_stack.rs"]
mod local_stack;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jobgen_runtime::contract::{self, attr};
use jobgen_runtime::create_job::job_id_for_key;
use jobgen_tests::{repo_root, venv_bin};
use local_stack::{CONTAINER, REPORT, Stack};
use serde_json::{Value, json};

/// The project (drives `startedBy`).
const PROJECT: &str = "lambdalocal";

/// A pid and its start time (field 22 of `/proc/<pid>/stat`), so a recycled pid is never signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Proc {
    pid: u32,
    start: u64,
}

/// `(ppid, start time)` of a live process.
fn stat(pid: u32) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: fields start after the last ')'.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

/// Every live descendant of `root`.
fn descendants(root: u32) -> Vec<Proc> {
    let all: Vec<(u32, u32, u64)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| stat(pid).map(|(ppid, start)| (pid, ppid, start)))
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid, start) in &all {
            if ppid == parent {
                found.push(Proc { pid, start });
                frontier.push(pid);
            }
        }
    }
    found
}

fn signal(signal: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap()
}

/// Whether something listens on `port`. A connect to an unbound port in the ephemeral range can
/// succeed by connecting to itself (TCP simultaneous open), which is no server.
fn listens(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok_and(|s| s.local_addr().ok() != s.peer_addr().ok())
}

/// Builds the handler binaries in debug first, as `cargo lambda watch` would on the first invoke: the
/// build can wait minutes for the shared target dir's lock, which an invoke should not have to.
fn build_handlers() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(repo_root())
        .args(["build", "--package", "jobgen-runtime", "--bin", "create-job", "--bin", "track"])
        .output()
        .unwrap();
    assert!(output.status.success(), "cannot build the handlers:\n{}", String::from_utf8_lossy(&output.stderr));
}

/// A `cargo lambda watch` server with both handlers, stopped (with every process it started) on drop.
struct LambdaWatch {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl LambdaWatch {
    /// Starts the emulator with `env` as the functions' environment and waits until it listens.
    fn start(env: &[(&str, String)]) -> LambdaWatch {
        let dir = tempfile::tempdir().unwrap();
        // An env file rather than --env-var: --env-var splits values at commas, and the launch table
        // is JSON. Single quotes keep the value literal.
        let env_file = dir.path().join("functions.env");
        let mut text = String::new();
        for (name, value) in env {
            assert!(!value.contains('\'') && !value.contains('\n'), "{name} cannot go in an env file: {value}");
            text.push_str(&format!("{name}='{value}'\n"));
        }
        std::fs::write(&env_file, text).unwrap();
        let log = dir.path().join("watch.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let port = free_port();
        let bin = venv_bin().join("cargo-lambda");
        let path = std::env::join_paths(
            std::iter::once(venv_bin()).chain(std::env::var_os("PATH").iter().flat_map(std::env::split_paths)),
        )
        .unwrap();
        let child = Command::new(&bin)
            .current_dir(repo_root())
            .args(["lambda", "watch", "--package", "jobgen-runtime", "--ignore-changes"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
            // A handler that hangs fails the invoke (seconds) instead of hanging the test. Generous:
            // the first invoke of each function may wait for the shared target dir's build lock.
            .args(["--timeout", "600"])
            .arg("--env-file")
            .arg(&env_file)
            // The watch process itself gets the same emulator settings, so nothing it or cargo does
            // can pick up real credentials.
            .envs(env.iter().filter(|(k, _)| k.starts_with("AWS_")).map(|(k, v)| (*k, v.as_str())))
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} (run `make tools`): {e}", bin.display()));
        let watch = LambdaWatch { child, port, log, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !listens(port) {
            assert!(Instant::now() < deadline, "cargo lambda watch did not listen on {port}:\n{}", watch.log_text());
            std::thread::sleep(Duration::from_millis(100));
        }
        watch
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Invokes `function` with `payload` through `cargo lambda invoke` and returns its JSON response.
    fn invoke(&self, function: &str, payload: &Value) -> Value {
        self.invoke_text(function, &payload.to_string())
    }

    /// Invokes `function` with the JSON text `payload`, byte for byte (a `Value` cannot hold a key twice).
    fn invoke_text(&self, function: &str, payload: &str) -> Value {
        let output = Command::new(venv_bin().join("cargo-lambda"))
            .args(["lambda", "invoke", function, "--output-format", "json"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port", &self.port.to_string()])
            .arg("--data-ascii")
            .arg(payload)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "invoke {function} failed: {}\n--- cargo lambda watch log ---\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.log_text()
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!("invoke {function}: the response is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout))
        })
    }
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        // The function processes run in their own sessions, so a process-group kill would miss
        // them: remember the whole tree first, ask cargo-lambda to shut down (it stops its
        // functions on SIGTERM), then kill whatever of that tree is still alive.
        let root = self.child.id();
        let tree = descendants(root);
        signal("TERM", &[root]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let alive: Vec<u32> =
            tree.iter().filter(|p| stat(p.pid).is_some_and(|(_, s)| s == p.start)).map(|p| p.pid).collect();
        signal("KILL", &alive);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn task_env(task: &aws_sdk_ecs::types::Task) -> Vec<(String, String)> {
    let overrides = task.overrides().unwrap();
    let main = overrides.container_overrides().iter().find(|o| o.name() == Some(CONTAINER)).unwrap();
    main.environment().iter().map(|kv| (kv.name().unwrap().to_string(), kv.value().unwrap().to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_handlers_launch_a_job_and_track_it_to_its_final_status() {
    let stack = Stack::deploy(PROJECT).await;
    build_handlers();
    let watch = LambdaWatch::start(&stack.function_env());

    // create-job, direct invoke: the job is recorded and exactly one task is started for it.
    let key = "lambda-local-1";
    let request = json!({
        "jobType": REPORT,
        "idempotencyKey": key,
        "environment": {"INPUT": "s3://bucket/input.csv"},
        "metadata": {"requestedBy": "lambda_local"},
    });
    let created = watch.invoke("create-job", &request);
    assert_eq!(created["statusCode"], 201, "{created}");
    assert_eq!(created["created"], true, "{created}");
    let job_id = job_id_for_key(key);
    assert_eq!(created["jobId"], job_id.as_str(), "{created}");
    assert_eq!(created["status"], "STARTING", "{created}");
    let task_arn = created["taskArn"].as_str().unwrap_or_else(|| panic!("no taskArn: {created}")).to_string();

    let item = stack.record(&job_id).await;
    assert_eq!(item[contract::STATUS_ATTR], "STARTING", "{item}");
    assert_eq!(item[contract::JOB_TYPE_ATTR], REPORT, "{item}");
    assert_eq!(item[attr::TASK_ARN], task_arn.as_str(), "{item}");
    assert_eq!(item[attr::ATTEMPT], 1, "{item}");
    assert_eq!(item[attr::IDEMPOTENCY_KEY], key, "{item}");
    assert_eq!(item[attr::ENVIRONMENT]["INPUT"], "s3://bucket/input.csv", "{item}");
    assert_eq!(item[attr::METADATA]["requestedBy"], "lambda_local", "{item}");

    assert_eq!(stack.task_arns().await, vec![task_arn.clone()], "one task started by jobgen/lambdalocal");
    let task = stack.describe(&task_arn).await;
    assert_eq!(task.started_by(), Some(contract::started_by(PROJECT).as_str()));
    assert_eq!(task.group(), Some(contract::task_group(&job_id, 1).as_str()));
    let env = task_env(&task);
    for (name, value) in [
        (contract::TASK_ENV_JOB_ID, job_id.as_str()),
        (contract::TASK_ENV_JOB_TYPE, REPORT),
        (contract::TASK_ENV_ATTEMPT, "1"),
        ("INPUT", "s3://bucket/input.csv"),
    ] {
        assert!(env.contains(&(name.to_string(), value.to_string())), "{name}={value} not in the overrides: {env:?}");
    }

    // A replay of the key through the binary: the same job, no second task.
    let replay = watch.invoke("create-job", &request);
    assert_eq!(replay["statusCode"], 200, "{replay}");
    assert_eq!(replay["created"], false, "{replay}");
    assert_eq!(replay["taskArn"], task_arn.as_str(), "{replay}");
    assert_eq!(stack.task_arns().await.len(), 1, "a replay must not start a second task");

    // The function URL shape (payload format 2.0) gets an HTTP response from the same binary.
    let url_event = json!({
        "version": "2.0",
        "rawPath": "/",
        "requestContext": {"http": {"method": "POST", "path": "/"}},
        "body": json!({"jobType": "no-such-type"}).to_string(),
        "isBase64Encoded": false,
    });
    let answer = watch.invoke("create-job", &url_event);
    assert_eq!(answer["statusCode"], 404, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "UnknownJobType", "{body}");

    // The binary reads the payload as sent: a key given twice is refused (deserialized into a
    // `Value` first, this was {"jobType": "report"} and launched a task), and so is an array.
    let twice = watch.invoke_text("create-job", &format!(r#"{{"jobType":"nope","jobType":"{REPORT}"}}"#));
    assert_eq!(twice["statusCode"], 400, "{twice}");
    assert!(twice["error"]["message"].as_str().unwrap().contains(r#"has the key "jobType" twice"#), "{twice}");
    let positional = watch.invoke_text("create-job", &format!(r#"["{REPORT}"]"#));
    assert_eq!(positional["statusCode"], 400, "{positional}");
    assert_eq!(stack.task_arns().await.len(), 1, "refused requests start no task");

    // track: the RUNNING then STOPPED events of a task whose main container exits 3.
    let (expect, events) = stack.sequence("non_zero_exit.json", &job_id, &task_arn);
    let running = events.iter().find(|e| e["detail"]["lastStatus"] == "RUNNING").unwrap();
    let stopped = events.iter().find(|e| e["detail"]["lastStatus"] == "STOPPED").unwrap();
    let applied = watch.invoke("track", running);
    assert_eq!(applied["outcome"], "applied", "{applied}");
    assert_eq!(stack.record(&job_id).await[contract::STATUS_ATTR], "RUNNING");
    let applied = watch.invoke("track", stopped);
    assert_eq!(applied, json!({"outcome": "applied", "jobId": job_id, "status": expect["status"]}));

    // A duplicate STOPPED and a late RUNNING change nothing.
    assert_eq!(watch.invoke("track", stopped)["outcome"], "unchanged");
    assert_eq!(watch.invoke("track", running)["outcome"], "unchanged");

    let item = stack.record(&job_id).await;
    assert_eq!(item[contract::STATUS_ATTR], expect["status"], "{item}");
    assert_eq!(item[attr::EXIT_CODE], expect["exitCode"], "{item}");
    assert_eq!(item[attr::FAILURE_CLASS], expect["failureClass"], "{item}");
    assert_eq!(item[attr::ECS_LAST_STATUS], "STOPPED", "{item}");
    assert!(item[attr::COST_USD].as_f64().is_some_and(|c| c > 0.0), "a task that ran has a cost: {item}");

    // A task of another project is ignored without error.
    let mut foreign = stopped.clone();
    foreign["detail"]["startedBy"] = json!("jobgen/someone-else");
    let skipped = watch.invoke("track", &foreign);
    assert_eq!(skipped["outcome"], "skipped", "{skipped}");
    drop(watch);
}
