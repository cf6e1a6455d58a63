//! The real `jobgen` binary: init, validate, schema and dashboard's refusals, with their exit codes (0 ok, 2 usage or
//! config error) and the promise that a refused command leaves files untouched.

// A test fails by panicking, with a message that says what was expected.
#![allow(clippy::panic)]

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn jobgen(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("jobgen").unwrap_or_else(|e| panic!("jobgen binary: {e}"));
    cmd.current_dir(dir).env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    cmd
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn init_writes_a_file_that_validates() {
    let dir = tempdir();
    jobgen(dir.path()).arg("init").assert().success().stderr(predicate::str::contains("wrote jobgen.yaml"));
    let text = read(&dir.path().join("jobgen.yaml"));
    assert!(text.starts_with("# yaml-language-server: $schema=./jobgen.schema.json\n"), "{text}");
    let schema: serde_json::Value = serde_json::from_str(&read(&dir.path().join("jobgen.schema.json")))
        .unwrap_or_else(|e| panic!("the schema beside the file is not JSON: {e}"));
    assert!(schema.get("properties").is_some());
    jobgen(dir.path()).arg("validate").assert().success().stdout("ok: 1 job types, 1 clusters\n");
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempdir();
    let path = dir.path().join("jobgen.yaml");
    std::fs::write(&path, "mine\n").unwrap_or_else(|e| panic!("{e}"));
    jobgen(dir.path())
        .arg("init")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("jobgen.yaml already exists").and(predicate::str::contains("--force")));
    assert_eq!(read(&path), "mine\n", "the refused init changed the file");

    jobgen(dir.path()).args(["init", "--force"]).assert().success();
    assert!(read(&path).contains("job_types:"));
    // No temporary files are left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn init_writes_every_example_and_each_validates() {
    for name in ["quickstart", "realistic", "existing-task-definition"] {
        let dir = tempdir();
        jobgen(dir.path()).args(["init", "--example", name, "-c", "p.yaml"]).assert().success();
        let text = read(&dir.path().join("p.yaml"));
        assert!(text.starts_with("# yaml-language-server: $schema=./jobgen.schema.json\n"), "{name}");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).join("jobgen.yaml");
        assert!(text.ends_with(&read(&repo)), "{name}: not the repository's example");
        jobgen(dir.path())
            .args(["validate", "-c", "p.yaml"])
            .assert()
            .success()
            .stdout(predicate::str::starts_with("ok: "));
    }
}

#[test]
fn init_rejects_an_unknown_example() {
    let dir = tempdir();
    jobgen(dir.path())
        .args(["init", "--example", "realistc"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("realistic"));
    assert!(!dir.path().join("jobgen.yaml").exists());
}

#[test]
fn validate_reports_every_problem_with_location_and_exits_2() {
    let dir = tempdir();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../synth/tests/fixtures/invalid/many-errors.yaml");
    std::fs::copy(&fixture, dir.path().join("jobgen.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let out = jobgen(dir.path()).arg("validate").assert().code(2).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.stdout.is_empty());
    assert!(!stderr.contains('\u{1b}'), "NO_COLOR is set: {stderr}");
    for expected in [
        "error: version: 3 is not a supported version",
        "  --> jobgen.yaml:2:10",
        "project.name: `Media` is not a valid project name",
        "defaults.network.subnets[0]",
        "job_types.transcode.task.memory: 100 is not valid with cpu 1024 (allowed: 2048-8192 in steps of 1024)",
        "  = help: set memory to a value in 2048-8192 in steps of 1024",
        "error: 4 problems in jobgen.yaml",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in\n{stderr}");
    }
    // Not a terminal: stable plain text, no box art.
    assert!(!stderr.contains('╭') && !stderr.contains('×'), "{stderr}");
}

#[test]
fn validate_refuses_concurrency_limits_that_could_never_apply_and_exits_2() {
    let dir = tempdir();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../synth/tests/fixtures/invalid/max-concurrency-above-project-limit.yaml");
    std::fs::copy(&fixture, dir.path().join("jobgen.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let out = jobgen(dir.path()).arg("validate").assert().code(2).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.stdout.is_empty());
    for expected in [
        "job_types.transcode.max_concurrency: 8 is more than the project's limit of 5",
        "  --> jobgen.yaml:17:22",
        "  = help: set it to at most 5, or raise `limits.max_concurrency` to 8 or more",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in\n{stderr}");
    }
    // thumbnail's 4 is within the project's 5: not reported.
    assert!(!stderr.contains("thumbnail"), "{stderr}");
}

#[test]
fn errors_have_no_color_codes_when_stderr_is_not_a_terminal() {
    let dir = tempdir();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../synth/tests/fixtures/invalid/cpu-invalid.yaml");
    std::fs::copy(&fixture, dir.path().join("jobgen.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let out = jobgen(dir.path()).env_remove("NO_COLOR").arg("validate").assert().code(2).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("job_types.transcode.task.cpu: 3072 is not a Fargate cpu value"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}

#[test]
fn validate_a_missing_file_exits_2_with_a_hint() {
    let dir = tempdir();
    jobgen(dir.path())
        .args(["validate", "-c", "nope.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read nope.yaml").and(predicate::str::contains("jobgen init")));
}

#[test]
fn validate_refuses_an_alias_bomb_quickly() {
    let dir = tempdir();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../synth/tests/fixtures/invalid/alias-bomb.yaml");
    std::fs::copy(&fixture, dir.path().join("jobgen.yaml")).unwrap_or_else(|e| panic!("{e}"));
    // assert_cmd's timeout turns a hang into a failure rather than a stuck test run.
    jobgen(dir.path())
        .arg("validate")
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("alias bomb"));
}

#[test]
fn schema_is_json_schema_for_the_project_file() {
    let dir = tempdir();
    let out = jobgen(dir.path()).arg("schema").assert().success().get_output().stdout.clone();
    let schema: serde_json::Value =
        serde_json::from_slice(&out).unwrap_or_else(|e| panic!("jobgen schema printed invalid JSON: {e}"));
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["additionalProperties"], false);
    let required: Vec<&str> =
        schema["required"].as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
    assert_eq!(required, ["version", "project", "clusters", "job_types"]);
    // The enums come from the runtime contract.
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("FARGATE_SPOT") && text.contains("ARM64"));
}

#[test]
fn the_starter_explains_every_key_of_the_schema() {
    let starter = jobgen_synth::init::STARTER;
    let schema = jobgen_synth::schema::json_schema();
    let mut keys = Vec::new();
    let mut stack = vec![&schema];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::Object(props)) = m.get("properties") {
                    keys.extend(props.keys().cloned());
                }
                stack.extend(m.values());
            }
            serde_json::Value::Array(a) => stack.extend(a.iter()),
            _ => {}
        }
    }
    keys.sort();
    keys.dedup();
    assert!(keys.len() > 30, "{keys:?}");
    for key in keys {
        assert!(starter.contains(&format!("{key}:")), "the starter jobgen.yaml never mentions `{key}:`");
    }
}

#[test]
fn usage_errors_are_a_json_object_on_stdout_when_json_was_asked_for() {
    let dir = tempdir();
    let out = jobgen(dir.path()).env_remove("JOBGEN_STACK").args(["status", "--output", "json"]).assert().code(2);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let error: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not one JSON object: {e}: {stdout:?}"));
    assert_eq!(error["error"]["code"], "UsageError", "{error}");
    assert_eq!(error["error"]["exitCode"], 2, "{error}");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("<JOB_ID>"), "names what is missing: {message}");
    // The usage text still goes to stderr for a person; without --output json, stdout stays empty.
    jobgen(dir.path())
        .args(["list", "--bogus", "--output=json"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("UsageError"));
    jobgen(dir.path()).env_remove("JOBGEN_STACK").args(["status"]).assert().code(2).stdout("");
}

/// `jobgen` for an operator command, with no stack named and no AWS credentials or endpoint from the
/// caller's shell.
fn operator(dir: &Path) -> Command {
    let mut cmd = jobgen(dir);
    for name in ["JOBGEN_STACK", "AWS_ENDPOINT_URL", "AWS_PROFILE"] {
        cmd.env_remove(name);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "testing").env("AWS_SECRET_ACCESS_KEY", "testing").env("AWS_REGION", "us-east-1");
    cmd
}

#[test]
fn without_a_stack_the_commands_say_where_its_name_comes_from() {
    let dir = tempdir();
    // No --stack, no JOBGEN_STACK, no ./jobgen.yaml: a usage error that says all three (not clap's
    // bare "required arguments were not provided").
    let out = operator(dir.path()).args(["list"]).assert().code(2).get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no --stack, no JOBGEN_STACK, and no ./jobgen.yaml"), "{err}");
    assert!(err.contains("help: pass --stack NAME"), "{err}");
    let out = operator(dir.path()).args(["status", "01abc", "--output", "json"]).assert().code(2).get_output().clone();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(json["error"]["code"], "UsageError");
    // A ./jobgen.yaml that does not validate: it says so and how to see why.
    std::fs::write(dir.path().join("jobgen.yaml"), "project: {name: Bad_Name}\n").unwrap_or_else(|e| panic!("{e}"));
    operator(dir.path())
        .args(["list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("./jobgen.yaml, where its name would come from, has"))
        .stderr(predicate::str::contains("jobgen validate -c jobgen.yaml"));
}

#[test]
fn an_endpoint_nobody_serves_is_named_with_what_to_start() {
    let dir = tempdir();
    // Port 9 (discard) on loopback: nothing listens there on a test machine.
    let out = operator(dir.path())
        .args(["list", "--stack", "jobgen-quickstart"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .assert()
        .code(3)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DescribeStacks: nothing answers at http://127.0.0.1:9"), "{err}");
    assert!(err.contains("Start it (`jobgen dev`, or `make demo`)"), "{err}");
    assert!(!err.contains("DispatchFailure") && !err.contains("ConnectorError"), "no SDK Debug chain: {err}");
}

#[test]
fn list_limit_and_submit_json_flags_are_checked_before_any_call() {
    let dir = tempdir();
    operator(dir.path())
        .args(["list", "--stack", "s", "--limit", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value '0' for '--limit <LIMIT>'"));
    for (flag, value, says) in [
        ("--metadata", "{not json", "--metadata: is not JSON"),
        ("--metadata", "[1, 2]", "--metadata: is not a JSON object"),
        ("--command", "\"python main.py\"", "--command: is not a JSON array of strings"),
        ("--command", "[]", "--command: is not a JSON array of strings"),
        ("--command", "[\"python\", 3]", "--command: is not a JSON array of strings"),
    ] {
        // No endpoint is reachable here: an error that got past the flags would be exit 3.
        operator(dir.path())
            .args(["submit", "hello", "--stack", "s", flag, value])
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
}

#[test]
fn completions_and_man_pages_come_from_the_command_definitions() {
    let dir = tempdir();
    for shell in ["bash", "zsh", "fish"] {
        let out = jobgen(dir.path()).args(["completions", shell]).assert().success().get_output().clone();
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["jobgen", "submit", "idempotency-key", "completions"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    jobgen(dir.path()).args(["completions", "tcsh"]).assert().code(2);
    let out = jobgen(dir.path()).arg("man").assert().success().get_output().clone();
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH jobgen 1") && page.contains("submit"), "{page}");
    let pages = dir.path().join("man1");
    std::fs::create_dir(&pages).unwrap_or_else(|e| panic!("{e}"));
    jobgen(dir.path()).args(["man", "--dir", "man1"]).assert().success();
    let submit = read(&pages.join("jobgen-submit.1"));
    assert!(submit.contains("\\-\\-idempotency\\-key") && submit.contains("\\-\\-metadata"), "{submit}");
    assert!(pages.join("jobgen.1").exists() && pages.join("jobgen-watch.1").exists());
    jobgen(dir.path())
        .args(["man", "--dir", "no/such/dir"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot write no/such/dir/jobgen.1"));
}

#[test]
fn dashboard_refuses_bad_flags_and_a_missing_stack_with_exit_2() {
    let dir = tempdir();
    jobgen(dir.path())
        .args(["dashboard", "--bind", "not-an-address"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--bind"));
    jobgen(dir.path())
        .args(["dashboard", "--port", "70000"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--port"));
    // No --stack, no JOBGEN_STACK and no ./jobgen.yaml: nothing to serve, said before any AWS call.
    jobgen(dir.path())
        .arg("dashboard")
        .env_remove("JOBGEN_STACK")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no stack given"));
    // A -c file that does not validate is refused (its queues would be unknown).
    std::fs::write(dir.path().join("bad.yaml"), "version: 1\n").unwrap_or_else(|e| panic!("{e}"));
    jobgen(dir.path())
        .args(["dashboard", "--stack", "s", "-c", "bad.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("-c bad.yaml: has"));
}
