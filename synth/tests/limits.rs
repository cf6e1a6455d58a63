//! Stack-size limits the model checks after validation: CloudFormation's 500 resources (the bound on
//! a single stack now that the job-type table travels in the config layer), and logical IDs that
//! must stay unique after PascalCase folding. Reported as diagnostics with a field path and a
//! fix, like validation errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use jobgen_synth::config::Config;
use jobgen_synth::model::{self, ModelOptions};

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
fn the_largest_single_stack_is_bounded_by_the_resource_limit() {
    let largest =
        (100..200).take_while(|n| model::build(&project(*n), &ModelOptions::default()).is_ok()).last().unwrap();
    let stack = model::build(&project(largest), &ModelOptions::default()).unwrap();
    assert!(
        stack.resource_count() + 4 > model::MAX_RESOURCES,
        "{largest} job types: {} resources",
        stack.resource_count()
    );
    let report = model::build(&project(500), &ModelOptions::default()).unwrap_err();
    let messages: Vec<&str> = report.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].contains("2016 resources") && messages[0].contains("500"), "{messages:?}");
}

#[test]
fn the_resource_count_matches_the_rendered_template() {
    for name in ["quickstart", "realistic", "existing-task-definition"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).join("jobgen.yaml");
        let config = jobgen_synth::load(&path).unwrap();
        let s = jobgen_synth::synth::synthesize(&config, &ModelOptions::default()).unwrap();
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
