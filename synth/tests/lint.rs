//! The real linters on every example, on the largest fixture (119 job types,
//! `tests/fixtures/valid/invoicing-119.yaml`), on `tests/fixtures/valid/every-option.yaml` and on
//! a 500-job-type project in nested stacks (its root and all 16 nested stacks):
//! cfn-lint (errors AND warnings fail) on the YAML and the JSON output, and checkov (any failed
//! check fails; every suppression must carry a reason).
//! Tools come from the pinned venvs `make tools` builds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use jobgen_synth::model::ModelOptions;

const EXAMPLES: [&str; 3] = ["quickstart", "realistic", "existing-task-definition"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn cfn_lint() -> PathBuf {
    std::env::var_os("JOBGEN_VENV_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/tools/bin"))
        .join("cfn-lint")
}

fn checkov() -> PathBuf {
    std::env::var_os("JOBGEN_CHECKOV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/checkov/bin/checkov"))
}

fn run_cfn_lint(path: &Path) {
    run_cfn_lint_all(&[path.to_path_buf()]);
}

/// cfn-lint on several templates in one run (its start-up is most of a small template's time).
fn run_cfn_lint_all(paths: &[PathBuf]) {
    let out = Command::new(cfn_lint()).args(paths).output().expect("run cfn-lint (make tools)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim().is_empty(),
        "cfn-lint {} templates (exit {:?}):\n{stdout}{}",
        paths.len(),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cfn_lint_reports_nothing_on_any_example() {
    for name in EXAMPLES {
        run_cfn_lint(&repo_root().join("examples").join(name).join("template.yaml"));
    }
}

#[test]
fn cfn_lint_reports_nothing_on_the_json_format() {
    let dir = tempfile::tempdir().unwrap();
    for name in EXAMPLES {
        let config = jobgen_synth::load(&repo_root().join("examples").join(name).join("jobgen.yaml")).unwrap();
        let s = jobgen_synth::synth::synthesize(&config, &ModelOptions::default()).unwrap();
        let json = jobgen_synth::write::contents(&s.yaml, &s.document, jobgen_synth::write::Format::Json).unwrap();
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, json).unwrap();
        run_cfn_lint(&path);
    }
}

/// The 119-job-type fixture, validated and synthesized into `dir` as `jobgen synth -o` writes it.
fn synth_large_fixture(dir: &Path) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/invoicing-119.yaml");
    let s = jobgen_synth::synthesize_file(&fixture, None, &ModelOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
    assert_eq!(s.config.job_types.len(), 119);
    let path = dir.join("template.yaml");
    jobgen_synth::write::write_atomic(&path, &s.yaml).unwrap();
    path
}

/// `tests/fixtures/valid/every-option.yaml` (every optional setting the other way), synthesized into `dir`.
fn synth_every_option(dir: &Path) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/every-option.yaml");
    let s = jobgen_synth::synthesize_file(&fixture, None, &ModelOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
    let path = dir.join("template.yaml");
    jobgen_synth::write::write_atomic(&path, &s.yaml).unwrap();
    path
}

#[test]
fn cfn_lint_and_checkov_report_nothing_with_every_option_the_other_way() {
    let dir = tempfile::tempdir().unwrap();
    let path = synth_every_option(dir.path());
    run_cfn_lint(&path);
    run_checkov(&path, "the every-option fixture");
}

#[test]
fn cfn_lint_reports_nothing_on_a_119_job_type_project() {
    let dir = tempfile::tempdir().unwrap();
    run_cfn_lint(&synth_large_fixture(dir.path()));
}

fn run_checkov(path: &Path, name: &str) {
    run_checkov_all(&[path.to_path_buf()], name);
}

/// checkov on several templates in one run: one report, every check of every file in it.
fn run_checkov_all(paths: &[PathBuf], name: &str) {
    let out = Command::new(checkov())
        .args(["--framework", "cloudformation", "--output", "json", "--skip-download", "-f"])
        .args(paths)
        // Never phone home: checkov's platform integration is off without an API key, this makes sure.
        .env("BC_SKIP_MAPPING", "TRUE")
        .output()
        .expect("run checkov (make tools)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("checkov output is not JSON ({e}):\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    assert_eq!(report["summary"]["parsing_errors"], 0, "checkov could not parse {name}");
    let results = &report["results"];
    let failed = results["failed_checks"].as_array().cloned().unwrap_or_default();
    let summary: Vec<String> =
        failed.iter().map(|c| format!("{} {} ({})", c["check_id"], c["resource"], c["check_name"])).collect();
    assert!(failed.is_empty(), "checkov on {name}: failed checks:\n{}", summary.join("\n"));
    assert!(!results["passed_checks"].as_array().cloned().unwrap_or_default().is_empty(), "checkov ran no check");
    for skipped in results["skipped_checks"].as_array().cloned().unwrap_or_default() {
        let comment = skipped["check_result"]["suppress_comment"].as_str().unwrap_or_default();
        assert!(
            comment.split_whitespace().count() >= 8,
            "{name}: {} on {} is skipped without a real reason: {comment:?}",
            skipped["check_id"],
            skipped["resource"]
        );
    }
}

#[test]
fn checkov_fails_no_check_and_every_skip_has_a_reason() {
    for name in EXAMPLES {
        run_checkov(&repo_root().join("examples").join(name).join("template.yaml"), &format!("examples/{name}"));
    }
}

#[test]
fn checkov_fails_no_check_on_a_119_job_type_project() {
    let dir = tempfile::tempdir().unwrap();
    run_checkov(&synth_large_fixture(dir.path()), "the 119-job-type fixture");
}

/// An environment is its own deployment: the realistic example's `staging` (other names, network,
/// sizes, limits and tags) passes both linters too.
#[test]
fn cfn_lint_and_checkov_report_nothing_on_an_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = repo_root().join("examples/realistic/jobgen.yaml");
    let s = jobgen_synth::synthesize_file(&file, Some("staging"), &ModelOptions::default()).unwrap();
    assert_eq!(s.config.project.name, "media-staging");
    let path = dir.path().join("template.yaml");
    jobgen_synth::write::write_atomic(&path, &s.yaml).unwrap();
    run_cfn_lint(&path);
    run_checkov(&path, "examples/realistic, environment staging");
}

/// A 500-job-type project (every 50th reporting progress, every 7th with a secret), synthesized
/// into `dir` as `jobgen synth -o` writes it: the root and its nested stacks under `stacks/`.
/// Returns the root and every nested template.
fn synth_nested_project(dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let mut y = String::from(
        "version: 1\nproject:\n  name: media\n  tags:\n    team: video\nclusters:\n  main:\n    create: {}\ndefaults:\n  network:\n    subnets: [subnet-0123456789abcdef0]\n    security_groups: [sg-0123456789abcdef0]\njob_types:\n",
    );
    for i in 1..=500 {
        y.push_str(&format!(
            "  resize-image-{i:03}:\n    task:\n      image: public.ecr.aws/docker/library/busybox:1.36\n      cpu: 256\n      memory: 512\n"
        ));
        if i % 7 == 3 {
            y.push_str("      secrets: { TOKEN: arn:aws:ssm:us-east-1:123456789012:parameter/media/token }\n");
        }
        if i % 50 == 10 {
            y.push_str("    progress: true\n");
        }
    }
    let s = jobgen_synth::synthesize_text(&y, "jobgen.yaml", None, &ModelOptions::default()).unwrap();
    assert!(s.nested.len() > 1, "500 job types are in nested stacks");
    let root = dir.join("template.yaml");
    jobgen_synth::write::write_atomic(&root, &s.yaml).unwrap();
    for n in &s.nested {
        jobgen_synth::write::write_atomic(&dir.join(&n.file), &n.yaml).unwrap();
    }
    // Both kinds of child are among them: with the table's ARN as a parameter, and without.
    assert!(s.nested.iter().any(|n| n.document.get("Parameters").is_some()));
    assert!(s.nested.iter().any(|n| n.document.get("Parameters").is_none()));
    (root, s.nested.iter().map(|n| dir.join(&n.file)).collect())
}

#[test]
fn cfn_lint_and_checkov_report_nothing_on_a_500_job_type_project_in_nested_stacks() {
    // The root and all 16 children, each linter in one run over the 17 templates.
    let dir = tempfile::tempdir().unwrap();
    let (root, children) = synth_nested_project(dir.path());
    assert_eq!(children.len(), 16);
    let all: Vec<PathBuf> = std::iter::once(root).chain(children).collect();
    run_cfn_lint_all(&all);
    run_checkov_all(&all, "a 500-job-type project's root and 16 nested stacks");
}
