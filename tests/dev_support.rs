//! Shared set-up for the `jobgen dev` tests (included with `#[path]`): the real `jobgen` binary, a
//! moto server of the test's own (a stack's resource names derive from its project name, so two
//! stacks of one project cannot share an emulator), and a `jobgen dev` process on it whose exports
//! (`--env-file`) point the operator commands at it. Every child process is killed on drop.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use jobgen_tests::{Moto, repo_root};
use serde_json::Value;

/// The `jobgen` binary, built once per test binary (the tests crate cannot name another package's
/// binary, so it asks cargo for it as `lambda_local` does for the handlers).
pub fn jobgen_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args(["build", "-p", "jobgen", "--bin", "jobgen", "--message-format", "json"])
            .current_dir(repo_root())
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build -p jobgen");
        assert!(output.status.success(), "cargo build -p jobgen failed");
        // The executable path from cargo's own report, wherever the target dir is.
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["target"]["name"] == "jobgen" && m["executable"].is_string())
            .map(|m| PathBuf::from(m["executable"].as_str().unwrap()))
            .next_back()
            .expect("cargo reported the jobgen executable")
    })
    .clone()
}

/// A `jobgen dev` process for examples/quickstart on a moto server of its own.
pub struct Dev {
    child: Child,
    /// The exports it printed (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_LAMBDA, JOBGEN_STACK, ...).
    pub exports: Vec<(String, String)>,
    dir: tempfile::TempDir,
    /// The emulator (dropped after the dev process).
    pub moto: Moto,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dev {
    /// Starts moto and `jobgen dev` with `extra` flags, and waits until it is ready. The emulator is
    /// the serial one: these tests cancel jobs while their events are being written, and stock
    /// (threaded) moto can let a cancel and an event's conditional write both pass, which DynamoDB
    /// never does (tests/runtime_races.rs measures it).
    pub fn start(extra: &[&str]) -> Dev {
        let moto = Moto::start_serial();
        let dir = tempfile::tempdir().unwrap();
        let env_file = dir.path().join("env");
        let log = std::fs::File::create(dir.path().join("dev.log")).unwrap();
        let child = Command::new(jobgen_bin())
            .args(["dev", "-c"])
            .arg(repo_root().join("examples/quickstart/jobgen.yaml"))
            .args(["--endpoint-url", &moto.endpoint, "--port", "0", "--env-file"])
            .arg(&env_file)
            // Never the real handler zips: the emulator does not run them, and the test must not
            // depend on `make package`.
            .arg("--lambda-dir")
            .arg(dir.path().join("no-zips"))
            .args(extra)
            .envs(moto.env())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn jobgen dev");
        let mut dev = Dev { child, exports: Vec::new(), dir, moto };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(text) = std::fs::read_to_string(&env_file)
                && !text.is_empty()
            {
                dev.exports = text
                    .lines()
                    .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                return dev;
            }
            if let Ok(Some(status)) = dev.child.try_wait() {
                panic!("jobgen dev exited with {status}:\n{}", dev.log());
            }
            assert!(Instant::now() < deadline, "jobgen dev did not get ready:\n{}", dev.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What `jobgen dev` printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dev.log")).unwrap_or_default()
    }

    /// Runs `jobgen ARGS` with the printed exports, as a user would after pasting them.
    pub fn jobgen(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run jobgen")
    }

    /// Runs `jobgen ARGS` in `dir` with the printed exports but JOBGEN_STACK: the stack is found
    /// from `dir/jobgen.yaml`.
    pub fn jobgen_in(&self, dir: &std::path::Path, args: &[&str]) -> Output {
        self.command(args).current_dir(dir).env_remove("JOBGEN_STACK").output().expect("run jobgen")
    }

    /// A `jobgen ARGS` command with the printed exports (for a process the test spawns).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(jobgen_bin());
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") || k == "JOBGEN_STACK" {
                cmd.env_remove(k);
            }
        }
        cmd.args(args).envs(self.exports.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    /// Runs `jobgen ARGS --output json`, asserts exit code `code`, and parses stdout.
    pub fn json(&self, args: &[&str], code: i32) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let out = self.jobgen(&all);
        assert_eq!(
            out.status.code(),
            Some(code),
            "jobgen {args:?}: stdout {}\nstderr {}\n--- dev log ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// Submits a job and returns its id.
    pub fn submit(&self, args: &[&str]) -> String {
        let mut all = vec!["submit"];
        all.extend(args);
        let view = self.json(&all, 0);
        view["jobId"].as_str().unwrap_or_else(|| panic!("no jobId in {view}")).to_string()
    }

    /// Waits for a job to finish (`jobgen watch`) and returns its record (the last of the JSON lines
    /// watch prints, one per change) and watch's exit code.
    pub fn watch(&self, job_id: &str) -> (Value, i32) {
        let out = self.jobgen(&["watch", job_id, "--interval", "0.2", "--timeout", "120", "--output", "json"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let record =
            text.lines().rfind(|l| !l.trim().is_empty()).and_then(|l| serde_json::from_str(l).ok()).unwrap_or_else(
                || panic!("watch {job_id}: {text}{}\n{}", String::from_utf8_lossy(&out.stderr), self.log()),
            );
        (record, out.status.code().unwrap_or(-1))
    }

    /// Polls `jobgen status` until the record's `field` equals `value` (30 s at most) and returns the
    /// record; fails the test with the last record and the dev log otherwise. Only status reads: the
    /// simulator's clock is not asserted on.
    pub fn wait_for(&self, job_id: &str, field: &str, value: &str) -> Value {
        let mut record = self.json(&["status", job_id], 0);
        for _ in 0..300 {
            if record[field] == value {
                return record;
            }
            std::thread::sleep(Duration::from_millis(100));
            record = self.json(&["status", job_id], 0);
        }
        panic!("job {job_id} never had {field} = {value}: {record}\n{}", self.log());
    }

    /// The simulator's event counts for a job, from `jobgen dev`'s log line.
    pub fn event_line(&self, job_id: &str) -> Option<String> {
        self.log().lines().find(|l| l.contains(&format!("job {job_id}:"))).map(str::to_string)
    }
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
