//! `jobgen deploy` and `jobgen destroy` as the real binary against moto: every example created,
//! updated with one job type changed, and updated again with nothing changed (nothing uploaded, no
//! changes reported); the change-set summary and the progress output snapshot-tested; a deploy that
//! fails on a resource the emulator rejects, reported with its reason and exit 1; `jobgen destroy`
//! refusing while a job runs, then (`--force`) cancelling it and deleting the stack while the jobs
//! table and its history stay; `--delete-data` removing the table too.
//!
//! Against moto the placeholder handler zips are uploaded (the emulator never runs them), and the
//! resource types moto cannot create are left out, as the deploy says.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "dev_support.rs"]
mod dev_support;

use std::path::Path;
use std::process::{Command, Output};

use dev_support::{Dev, jobgen_bin, stderr};
use jobgen_tests::{Moto, repo_root};

/// Runs `jobgen ARGS` against `moto`, in `dir`.
fn jobgen(moto: &Moto, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(jobgen_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k == "JOBGEN_STACK" {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(dir).args(args).envs(moto.env()).output().expect("run jobgen")
}

fn text(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The example's project file copied into `dir` (so the test can change it).
fn copy_example(name: &str, dir: &Path) -> std::path::PathBuf {
    let path = dir.join("jobgen.yaml");
    std::fs::copy(repo_root().join("examples").join(name).join("jobgen.yaml"), &path).unwrap();
    path
}

/// Changes one job type: the first `image:` gets another tag.
fn change_one_job_type(path: &Path) {
    let yaml = std::fs::read_to_string(path).unwrap();
    let mut changed = false;
    let lines: Vec<String> = yaml
        .lines()
        .map(|l| {
            if !changed && l.trim_start().starts_with("image: ") {
                changed = true;
                format!("{l}-updated")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(changed, "no image: line in {}", path.display());
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Replaces every `prefix` followed by at least `min` hex digits with `prefix` + `with`.
fn redact(line: &str, prefix: &str, min: usize, with: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(prefix) {
        let after = &rest[i + prefix.len()..];
        let run = after.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(after.len());
        out.push_str(&rest[..i + prefix.len()]);
        if run >= min {
            out.push_str(with);
            rest = &after[run..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The output with what changes from run to run replaced: change-set names, content hashes,
/// elapsed times, emulator network ids, call counts.
fn stable(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut l = redact(line, "jobgen-", 10, "CHANGESET");
        l = redact(&l, "subnet-", 8, "ID");
        l = redact(&l, "sg-", 8, "ID");
        l = redact(&l, "-", 16, "HASH");
        if let Some(rest) = l.strip_prefix('[')
            && let Some(close) = rest.find("s]")
        {
            l = format!("[T]{}", &rest[close + 2..]);
        }
        if let Some(i) = l.find(" AWS calls") {
            let start = l[..i].rfind('(').map_or(i, |p| p + 1);
            l.replace_range(start..i, "N");
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn stack_status(moto: &Moto, stack: &str) -> String {
    moto.aws_cli(&["cloudformation", "describe-stacks", "--stack-name", stack, "--query", "Stacks[0].StackStatus"])
}

/// The stack is deployed: CREATE_COMPLETE, or UPDATE_COMPLETE after the emulator's Outputs
/// fix-up (an UpdateStack with the same template, see jobgen-local's apply.rs).
fn assert_deployed(moto: &Moto, stack: &str) {
    let status = stack_status(moto, stack);
    assert!(status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE", "{stack}: {status}");
}

/// Create, update (one job type changed), no-op update: for one example.
fn create_update_noop(example: &str, project: &str) -> (String, String, String) {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    copy_example(example, dir.path());
    let stack = format!("jobgen-{project}");
    let (code, stdout, created) = text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint]));
    assert_eq!(code, 0, "{created}");
    assert!(created.contains("(CREATE):") && created.contains(&format!("stack {stack}: created")), "{created}");
    assert!(stdout.contains(&format!("export JOBGEN_STACK={stack}\n")), "{stdout}");
    assert!(stdout.contains("JobsTableName"), "the Outputs are printed: {stdout}");
    assert_deployed(&moto, &stack);

    change_one_job_type(&dir.path().join("jobgen.yaml"));
    let (code, _, updated) = text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint]));
    assert_eq!(code, 0, "{updated}");
    assert!(updated.contains("(UPDATE):") && updated.contains(&format!("stack {stack}: updated")), "{updated}");
    assert!(
        updated.lines().any(|l| l.contains("~ Modify") && l.contains("AWS::ECS::TaskDefinition")),
        "the changed job type's task definition is modified: {updated}"
    );
    // An image is the task definition's alone: nothing else changes, nothing is uploaded again.
    assert!(!updated.lines().any(|l| l.starts_with("  + ") || l.starts_with("  - ")), "{updated}");
    assert!(updated.contains("unchanged  create-job") && updated.contains("unchanged  config"), "{updated}");
    assert!(updated.contains(" 0 bytes uploaded)"), "{updated}");
    assert_eq!(stack_status(&moto, &stack), "UPDATE_COMPLETE");

    let (code, stdout, noop) = text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint]));
    assert_eq!(code, 0, "{noop}");
    assert!(noop.contains(&format!("stack {stack}: no changes")) && noop.contains(" 0 bytes uploaded)"), "{noop}");
    assert!(!noop.contains("uploaded   ") && !noop.contains("change set "), "nothing uploaded, no change set: {noop}");
    assert!(stdout.contains(&format!("export JOBGEN_STACK={stack}")), "{stdout}");
    (created, updated, noop)
}

#[test]
fn deploy_quickstart_creates_updates_and_then_changes_nothing() {
    let (created, updated, noop) = create_update_noop("quickstart", "quickstart");
    insta::assert_snapshot!("quickstart_create", stable(&created));
    insta::assert_snapshot!("quickstart_update", stable(&updated));
    insta::assert_snapshot!("quickstart_noop", stable(&noop));
}

#[test]
fn deploy_realistic_creates_updates_and_then_changes_nothing() {
    create_update_noop("realistic", "media");
}

#[test]
fn deploy_existing_task_definition_creates_updates_and_then_changes_nothing() {
    create_update_noop("existing-task-definition", "legacy-jobs");
}

/// A log group the stack would create already exists: the emulator rejects the resource, and the
/// deploy says which and why, and exits 1.
#[test]
fn a_failing_deploy_reports_the_reason_and_exits_1() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    copy_example("quickstart", dir.path());
    moto.aws_cli(&["logs", "create-log-group", "--log-group-name", "/jobgen/quickstart/hello"]);
    let (code, stdout, err) = text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("error: deployment failed: stack jobgen-quickstart")
            && err.contains("ResourceAlreadyExistsException: The specified log group already exists"),
        "{err}"
    );
    assert!(!stdout.contains("export JOBGEN_STACK"), "no export line for a failed deploy: {stdout}");
}

/// `--no-execute` creates the change set, prints it, and leaves the stack as it was.
#[test]
fn no_execute_leaves_the_change_set_for_review() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    copy_example("quickstart", dir.path());
    let (code, _, err) =
        text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint, "--no-execute"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("+ Add      JobsTable") && err.contains("created, not executed"), "{err}");
    assert_eq!(stack_status(&moto, "jobgen-quickstart"), "REVIEW_IN_PROGRESS");
    // The next deploy creates the stack.
    let (code, _, err) = text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint]));
    assert_eq!(code, 0, "{err}");
    assert_deployed(&moto, "jobgen-quickstart");
}

/// Environments the side-by-side test declares: `dev` overrides a size, a limit and a tag; `prod`
/// changes nothing but the names.
const ENVIRONMENTS: &str = "
environments:
  dev:
    tags: {stage: dev}
    job_types:
      hello: {memory: 1024, max_concurrency: 1}
  prod: {}
";

fn lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    v.sort();
    v
}

/// Two environments of one project deploy side by side into one account and region: their own
/// stacks, every named resource apart (without the environment in the names the second deploy
/// fails on the first one's log groups, as `a_failing_deploy_...` shows), each with its own
/// overrides; the operator commands find each stack from `--environment`; destroying one leaves
/// the other. An environment the file does not declare is refused before anything is called.
#[test]
fn two_environments_deploy_side_by_side() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let path = copy_example("quickstart", dir.path());
    let yaml = std::fs::read_to_string(&path).unwrap() + ENVIRONMENTS;
    std::fs::write(&path, yaml).unwrap();

    let (code, _, err) =
        text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint, "--environment", "staging"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`staging` is not an environment of this file") && err.contains("dev, prod"), "{err}");
    assert_eq!(moto.aws_cli(&["cloudformation", "list-stacks", "--query", "length(StackSummaries)"]), "0");

    for env in ["dev", "prod"] {
        let (code, stdout, err) =
            text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint, "--environment", env]));
        assert_eq!(code, 0, "{env}: {err}");
        assert!(stdout.contains(&format!("export JOBGEN_STACK=jobgen-quickstart-{env}\n")), "{stdout}");
        assert_deployed(&moto, &format!("jobgen-quickstart-{env}"));
    }
    let functions = moto.aws_cli(&["lambda", "list-functions", "--query", "Functions[].FunctionName"]);
    assert_eq!(
        lines(&functions),
        ["quickstart-dev-create-job", "quickstart-dev-track", "quickstart-prod-create-job", "quickstart-prod-track"]
    );
    let families = moto.aws_cli(&["ecs", "list-task-definition-families", "--query", "families"]);
    assert_eq!(
        lines(&families),
        ["quickstart-dev_hello", "quickstart-dev_sleep", "quickstart-prod_hello", "quickstart-prod_sleep"]
    );
    let memory = |family: &str| {
        moto.aws_cli(&[
            "ecs",
            "describe-task-definition",
            "--task-definition",
            family,
            "--query",
            "taskDefinition.memory",
        ])
    };
    assert_eq!((memory("quickstart-dev_hello").as_str(), memory("quickstart-prod_hello").as_str()), ("1024", "512"));
    let tables = moto.aws_cli(&["dynamodb", "list-tables", "--query", "length(TableNames)"]);
    assert_eq!(tables, "2");

    // The operator commands find each environment's stack from ./jobgen.yaml.
    for env in ["dev", "prod"] {
        let (code, stdout, err) = text(&jobgen(&moto, dir.path(), &["list", "--environment", env, "--output", "json"]));
        let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        assert_eq!((code, listed), (0, serde_json::json!({"jobs": []})), "{env}: {err}");
    }
    let (code, _, err) = text(&jobgen(&moto, dir.path(), &["list", "--environment", "qa"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`qa` is not an environment of this file") && err.contains("dev, prod"), "{err}");

    // Destroying dev leaves prod as it was.
    let (code, _, err) = text(&jobgen(&moto, dir.path(), &["destroy", "--environment", "dev", "--delete-data"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("stack jobgen-quickstart-dev: deleted"), "{err}");
    assert_deployed(&moto, "jobgen-quickstart-prod");
    let functions = moto.aws_cli(&["lambda", "list-functions", "--query", "Functions[].FunctionName"]);
    assert_eq!(lines(&functions), ["quickstart-prod-create-job", "quickstart-prod-track"]);
    let (code, _, err) = text(&jobgen(&moto, dir.path(), &["list", "--environment", "dev"]));
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("jobgen-quickstart-dev"), "the command looked for dev's stack: {err}");
    let (code, _, err) = text(&jobgen(&moto, dir.path(), &["list", "--environment", "prod"]));
    assert_eq!(code, 0, "{err}");
}

fn table_protection(moto: &Moto, table: &str) -> String {
    moto.aws_cli(&["dynamodb", "describe-table", "--table-name", table, "--query", "Table.DeletionProtectionEnabled"])
}

/// A running job blocks `jobgen destroy`, which names it; `--force` cancels it and deletes the
/// stack; the jobs table stays, protected, with the cancelled job in it.
#[test]
fn destroy_refuses_while_a_job_runs_and_force_cancels_it_and_keeps_the_table() {
    let dev = Dev::start(&[]);
    let job = dev.submit(&["hello", "--env", "DEV_RUN_SECONDS=36000"]);
    dev.wait_for(&job, "status", "RUNNING");
    let stack = dev.exports.iter().find(|(k, _)| k == "JOBGEN_STACK").map(|(_, v)| v.clone()).unwrap();
    let status = dev.json(&["status", &job], 0);
    let outputs = dev.moto.aws_cli(&[
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        &stack,
        "--query",
        "Stacks[0].Outputs[?OutputKey=='JobsTableName'].OutputValue",
    ]);
    let table = outputs.trim().to_string();
    assert!(!table.is_empty() && status["jobId"] == job.as_str());

    let out = dev.jobgen(&["destroy", "--stack", &stack]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("has 1 job(s) running or queued") && err.contains(&job) && err.contains("RUNNING"), "{err}");
    assert_deployed(&dev.moto, &stack);

    let out = dev.jobgen(&["destroy", "--stack", &stack, "--force"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("cancelled {job} (hello)")) && err.contains(&format!("stack {stack}: deleted")),
        "{err}"
    );
    assert!(err.contains(&format!("jobs table {table}: kept")), "{err}");
    // The stack is gone; the table and the job's record stay, still protected.
    let stacks = dev.moto.aws_cli(&["cloudformation", "list-stacks", "--query", "StackSummaries[].StackStatus"]);
    assert!(stacks.contains("DELETE_COMPLETE"), "{stacks}");
    assert_eq!(table_protection(&dev.moto, &table), "True");
    let item = dev.moto.aws_cli(&[
        "dynamodb",
        "get-item",
        "--table-name",
        &table,
        "--key",
        &format!(r#"{{"jobId":{{"S":"{job}"}}}}"#),
        "--query",
        "Item.status.S",
    ]);
    assert_eq!(item, "CANCELLED");
}

/// `--delete-data` deletes the jobs table after the stack (its deletion protection turned off).
#[test]
fn destroy_with_delete_data_removes_the_table() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    copy_example("quickstart", dir.path());
    let (code, stdout, err) = text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint]));
    assert_eq!(code, 0, "{err}");
    let table = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("JobsTableName").map(|v| v.trim().to_string()))
        .expect("JobsTableName in the Outputs");
    assert_eq!(table_protection(&moto, &table), "True");
    let (code, _, err) = text(&jobgen(&moto, dir.path(), &["destroy", "--delete-data"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("jobs table {table}: deleted")), "{err}");
    let tables = moto.aws_cli(&["dynamodb", "list-tables", "--query", "TableNames"]);
    assert!(!tables.contains(&table), "{tables}");
}

/// A project of `n` small job types named `j-001`… (one created cluster), as the synth
/// benchmarks generate it (`scripts/bench-project.sh`).
fn numbered_project(n: usize) -> String {
    let mut y = String::from(
        "version: 1\nproject:\n  name: bench\nclusters:\n  main:\n    create: {}\ndefaults:\n  network:\n    subnets: [subnet-0123456789abcdef0]\n    security_groups: [sg-0123456789abcdef0]\njob_types:\n",
    );
    for i in 1..=n {
        y.push_str(&numbered_job_type(i));
    }
    y
}

fn numbered_job_type(i: usize) -> String {
    format!(
        "  j-{i:03}:\n    task:\n      image: public.ecr.aws/docker/library/busybox:1.36\n      cpu: 256\n      memory: 512\n"
    )
}

/// Stack name → status of every stack in the emulator (nested ones included), deleted ones left out.
fn live_stacks(moto: &Moto) -> std::collections::BTreeMap<String, String> {
    let text = moto.aws_cli(&["cloudformation", "list-stacks", "--query", "StackSummaries[].[StackId,StackStatus]"]);
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, status)| *status != "DELETE_COMPLETE")
        .map(|(id, status)| (id.to_string(), status.to_string()))
        .collect()
}

/// The artifacts a deploy's output says it uploaded (not those it found already there).
fn uploaded(err: &str) -> Vec<String> {
    err.lines()
        .filter_map(|l| l.strip_prefix("uploaded   "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// 500 job types do not fit one stack: `jobgen deploy` uploads the root's 16 nested stacks'
/// templates and the emulator creates them, with every job type's task definition; adding one job
/// type uploads and modifies exactly one nested stack (the others keep their stack ids); a deploy
/// of the unchanged project uploads nothing and changes nothing.
#[test]
fn five_hundred_job_types_deploy_as_nested_stacks_and_an_added_one_changes_one_of_them() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobgen.yaml");
    std::fs::write(&path, numbered_project(500)).unwrap();
    let (code, stdout, created) = text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint]));
    assert_eq!(code, 0, "{created}");
    assert!(stdout.contains("export JOBGEN_STACK=jobgen-bench\n"), "{stdout}");
    let children: Vec<String> = (0..16).map(|i| format!("stacks/job-types-{i:02}")).collect();
    assert_eq!(
        uploaded(&created),
        [&["create-job", "track", "config"][..], &children.iter().map(String::as_str).collect::<Vec<_>>()].concat()
    );
    assert!(created.contains("(CREATE): 34 to add"), "the root: 18 resources and 16 nested stacks: {created}");
    let before = live_stacks(&moto);
    assert_eq!(before.len(), 17, "the root and 16 nested stacks: {before:?}");
    assert!(before.values().all(|s| s == "CREATE_COMPLETE" || s == "UPDATE_COMPLETE"), "{before:?}");
    let families = moto.aws_cli(&["ecs", "list-task-definition-families", "--query", "length(families)"]);
    assert_eq!(families, "500");

    // j-501 goes to the nested stack its name hashes to; nothing else moves.
    let added = jobgen_synth::names::nested_stack_of("j-501");
    std::fs::write(&path, numbered_project(500) + &numbered_job_type(501)).unwrap();
    let (code, _, updated) = text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint]));
    assert_eq!(code, 0, "{updated}");
    assert_eq!(uploaded(&updated), ["config".to_string(), format!("stacks/job-types-{added:02}")], "{updated}");
    let stacks: Vec<&str> =
        updated.lines().filter(|l| l.contains("AWS::CloudFormation::Stack") && l.starts_with("  ")).collect();
    assert_eq!(stacks.len(), 1, "one nested stack changes: {updated}");
    assert!(stacks[0].contains("~ Modify") && stacks[0].contains(&format!("JobTypes{added:02} ")), "{updated}");
    let after = live_stacks(&moto);
    let kept = before.keys().filter(|id| after.contains_key(*id)).count();
    // The emulator replaces a modified nested stack (AWS updates it in place); the 15 others stay.
    assert!(kept >= 16, "the root and 15 unchanged nested stacks keep their ids: {before:?} → {after:?}");
    assert_eq!(after.len(), 17, "{after:?}");
    let families = moto.aws_cli(&["ecs", "list-task-definition-families", "--query", "length(families)"]);
    assert_eq!(families, "501");

    let (code, _, noop) = text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint]));
    assert_eq!(code, 0, "{noop}");
    assert!(noop.contains("stack jobgen-bench: no changes") && noop.contains(" 0 bytes uploaded)"), "{noop}");
    assert!(uploaded(&noop).is_empty(), "{noop}");
}

/// A deployed one-stack project that goes nested (here a pin; past 500 resources the same) moves
/// every job type into a nested stack in one update. Each moved log group takes a new name
/// (`/jobgen/PROJECT/stack-NN/JOB_TYPE`): on AWS a moved resource is created before the old one is
/// deleted, so the same name would fail with "already exists" (the emulator deletes first, so it
/// cannot show that failure; `synth/tests/nested.rs` proves no name stays).
#[test]
fn a_deployed_single_stack_moves_into_nested_stacks_in_one_update() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let path = copy_example("quickstart", dir.path());
    let (code, _, err) = text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint]));
    assert_eq!(code, 0, "{err}");
    let groups = || {
        let text = moto.aws_cli(&["logs", "describe-log-groups", "--query", "logGroups[].logGroupName"]);
        let mut v: Vec<String> =
            text.split_whitespace().filter(|g| g.starts_with("/jobgen/")).map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(groups(), ["/jobgen/quickstart/hello", "/jobgen/quickstart/sleep"]);

    let yaml = std::fs::read_to_string(&path).unwrap().replace("  sleep:\n", "  sleep:\n    nested_stack: 5\n");
    std::fs::write(&path, yaml).unwrap();
    let (code, _, err) = text(&jobgen(&moto, dir.path(), &["deploy", "--endpoint-url", &moto.endpoint]));
    assert_eq!(code, 0, "{err}");
    let hello = jobgen_synth::names::nested_stack_of("hello");
    assert!(err.contains("+ Add      JobTypes05") && err.contains(&format!("+ Add      JobTypes{hello:02}")), "{err}");
    assert!(err.contains("- Remove   TaskDefinitionHello"), "{err}");
    assert_eq!(
        groups(),
        ["/jobgen/quickstart/stack-05/sleep".to_string(), format!("/jobgen/quickstart/stack-{hello:02}/hello")]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(live_stacks(&moto).len(), 3, "the root and two nested stacks");
    let families = moto.aws_cli(&["ecs", "list-task-definition-families", "--query", "families"]);
    assert_eq!(lines(&families), ["quickstart_hello", "quickstart_sleep"]);
}
