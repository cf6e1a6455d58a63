//! Stack-size limits the model checks after validation: Lambda's 4 KB environment (worst case for
//! what CloudFormation resolves at deploy time), CloudFormation's 500 resources, and logical IDs
//! that must stay unique after PascalCase folding. Reported as diagnostics with a field path and a
//! fix, like validation errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use jobgen::config::Config;
use jobgen::model::{self, ModelOptions};
use jobgen_runtime::contract;

/// A project with one created cluster and `n` small job types named `j-001`...
fn project(n: usize) -> Config {
    let mut y = String::from(
        "version: 1\nproject:\n  name: bench\nclusters:\n  main:\n    create: {}\ndefaults:\n  network:\n    subnets: [subnet-0123456789abcdef0]\njob_types:\n",
    );
    for i in 1..=n {
        y.push_str(&format!(
            "  j-{i:03}:\n    task:\n      image: public.ecr.aws/docker/library/busybox:1.36\n      cpu: 256\n      memory: 512\n"
        ));
    }
    serde_saphyr::from_str(&y).unwrap()
}

#[test]
fn the_environment_estimate_is_the_deployed_worst_case() {
    let stack = model::build(&project(3), &ModelOptions::default()).unwrap();
    // Resolve the launch table as CloudFormation would with 7-digit revisions and the real cluster name.
    let mut resolved = stack.launch_table.clone();
    resolved.clusters = vec!["bench-main".into()];
    for entry in resolved.job_types.values_mut() {
        let var = entry.task_definition.trim_start_matches("${Td").trim_end_matches('}').to_lowercase();
        assert!(entry.task_definition.starts_with("${Td"), "created task definitions are placeholders");
        entry.task_definition = format!("bench-{}:9999999", var.replacen('j', "j-", 1));
    }
    let worst_json = resolved.to_json();
    let env = &stack.create_job.environment;
    let job_types = env.iter().find(|v| v.name == contract::ENV_JOB_TYPES).unwrap();
    assert_eq!(job_types.worst_case_len, worst_json.len(), "estimate = JSON with 7-digit revisions");
    assert!(stack.create_job.environment_worst_case_bytes() <= contract::LAMBDA_ENV_LIMIT_BYTES);
}

#[test]
fn too_many_job_types_for_the_lambda_environment_is_a_diagnostic() {
    let largest = (1..200).take_while(|n| model::build(&project(*n), &ModelOptions::default()).is_ok()).last().unwrap();
    assert!(largest > 10, "a realistic number of job types fits: {largest}");
    let report = model::build(&project(largest + 1), &ModelOptions::default()).unwrap_err();
    assert_eq!(report.diagnostics.len(), 1, "{report}");
    let d = &report.diagnostics[0];
    assert_eq!(d.path, "job_types");
    assert!(d.message.contains("4096") && d.message.contains(contract::ENV_JOB_TYPES), "{}", d.message);
    assert!(d.help.contains("split"), "{}", d.help);
}

#[test]
fn five_hundred_job_types_break_both_stack_limits() {
    let report = model::build(&project(500), &ModelOptions::default()).unwrap_err();
    let messages: Vec<&str> = report.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("Lambda environment")));
    assert!(messages.iter().any(|m| m.contains("2015 resources") && m.contains("500")), "{messages:?}");
}

#[test]
fn the_resource_count_matches_the_rendered_template() {
    for name in ["quickstart", "realistic", "existing-task-definition"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).join("jobgen.yaml");
        let config = jobgen::load(&path).unwrap();
        let s = jobgen::synth::synthesize(&config, &ModelOptions::default()).unwrap();
        let rendered = s.document["Resources"].as_object().unwrap();
        assert_eq!(s.stack.resource_count(), rendered.len(), "{name}");
        let mut ids = s.stack.logical_ids();
        ids.sort();
        let mut keys: Vec<String> = rendered.keys().cloned().collect();
        keys.sort();
        assert_eq!(ids, keys, "{name}: the model's logical IDs are the template's resources");
    }
}

#[test]
fn names_that_fold_to_the_same_logical_id_are_reported() {
    let mut config = project(1);
    let jt = config.job_types["j-001"].clone();
    config.job_types.insert("j_001".into(), jt);
    let report = model::build(&config, &ModelOptions::default()).unwrap_err();
    assert_eq!(report.diagnostics[0].path, "job_types.j_001");
    assert!(report.diagnostics[0].message.contains("J001"), "{}", report.diagnostics[0].message);
}
