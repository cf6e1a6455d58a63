//! The synthesized stack and the runtime agree, without an emulator: both functions get exactly the
//! contract's environment variables and the config layer; the document `jobgen synth` ships in the
//! layer hashes to the SHA-256 both environments name, parses with the runtime's own
//! `RuntimeConfig::from_parts`, and resolves every job type to a task definition family and a
//! cluster the template creates. (tests/deploy.rs repeats this on a real moto deployment.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

use jobgen_runtime::config::RuntimeConfig;
use jobgen_runtime::contract;
use jobgen_synth::model::ModelOptions;
use serde_json::{Value, json};

#[test]
fn every_example_ships_a_config_document_the_runtime_accepts() {
    for name in ["quickstart", "realistic", "existing-task-definition"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).join("jobgen.yaml");
        let config = jobgen_synth::load(&path).unwrap();
        let s = jobgen_synth::synth::synthesize(&config, &ModelOptions::default()).unwrap();
        let resources = &s.document["Resources"];
        let layer = &resources[s.stack.config_layer.id.as_str()];
        assert_eq!(layer["Type"], "AWS::Lambda::LayerVersion", "{name}");
        assert_eq!(layer["Properties"]["Content"], contract::CONFIG_LAYER_DIR, "{name}");
        for f in [&s.stack.create_job.id, &s.stack.track.id] {
            let props = &resources[f.as_str()]["Properties"];
            assert_eq!(props["Layers"], json!([{"Ref": s.stack.config_layer.id}]), "{name}/{f}");
            let vars = props["Environment"]["Variables"].as_object().unwrap();
            let keys: BTreeSet<&str> = vars.keys().map(String::as_str).collect();
            let expected: BTreeSet<&str> = contract::LAMBDA_ENV.into_iter().chain(contract::TIMER_ENV).collect();
            assert_eq!(keys, expected, "{name}/{f}");
            assert_eq!(vars[contract::ENV_SCHEDULE_GROUP], json!(contract::schedule_group(&config.project.name)));
            // What the deployed function will see: the table name and the timer ARNs resolved, the
            // rest literal.
            let lookup = |k: &str| match &vars[k] {
                Value::String(v) => Some(v.clone()),
                _ if k == contract::ENV_TABLE_NAME => Some("jobs-table".to_string()),
                _ => Some(format!("arn:aws:iam::123456789012:role/jobgen/{}/x", config.project.name)),
            };
            let runtime = RuntimeConfig::from_parts(lookup, s.config_document.as_bytes())
                .unwrap_or_else(|e| panic!("{name}/{f}: {e}"));
            assert_eq!(runtime.launch_table, s.stack.launch_table, "{name}: model and document agree");
            assert_eq!(runtime.project, config.project.name);
            for jt in config.job_types.keys() {
                let r = runtime.launch_table.resolve(jt).unwrap_or_else(|| panic!("{name}: job type {jt} missing"));
                assert!(!r.network.subnets.is_empty(), "{name}/{jt}");
                if let Some(td) = s.stack.task_definitions.iter().find(|td| &td.job_type == jt) {
                    let family = &resources[td.id.as_str()]["Properties"]["Family"];
                    assert_eq!(family, &json!(r.entry.task_definition), "{name}/{jt}: RunTask names the family");
                }
                if let Some(cluster) = s.stack.clusters.iter().find(|c| c.name == r.cluster) {
                    assert_eq!(resources[cluster.id.as_str()]["Properties"]["ClusterName"], json!(r.cluster));
                }
            }
        }
    }
}

#[test]
fn the_environment_does_not_grow_with_the_project() {
    let project = |n: usize| {
        let mut y = String::from(
            "version: 1\nproject:\n  name: bench\nclusters:\n  main:\n    create: {}\ndefaults:\n  network:\n    subnets: [subnet-0123456789abcdef0]\njob_types:\n",
        );
        for i in 1..=n {
            y.push_str(&format!(
                "  process-customer-invoices-{i:03}:\n    task:\n      image: public.ecr.aws/docker/library/busybox:1.36\n      cpu: 256\n      memory: 512\n"
            ));
        }
        jobgen_synth::check_text(&y, "many.yaml").unwrap()
    };
    let small = jobgen_synth::synth::synthesize(&project(1), &ModelOptions::default()).unwrap();
    let large = jobgen_synth::synth::synthesize(&project(119), &ModelOptions::default()).unwrap();
    let bytes = |s: &jobgen_synth::synth::Synthesized| s.stack.create_job.environment_worst_case_bytes();
    assert_eq!(bytes(&small), bytes(&large), "the environment holds a hash, not the table");
    // Fixed-size values only (the longest table name and the timers' ARNs are most of it).
    assert!(bytes(&large) < 1024, "{}", bytes(&large));
    assert!(large.config_document.len() > 100 * small.config_document.len() / 2, "the table moved to the document");
}

/// The SHA-256 of each example's configuration document as it shipped before concurrency limits
/// existed. A project without limits (and without the later optional settings) ships these bytes
/// plus the tags its tasks get: an optional setting left unset writes nothing.
const DOCUMENTS_BEFORE_LIMITS: [(&str, &str); 3] = [
    ("quickstart", "b6a4d95ce454f3b34b592d02a8fcb6a33965a6482a1e975acfb03edd55e6fa80"),
    ("realistic", "77ff301312b6a81dd29bedca105083df53408a372c4bb114a60b7f91c9efc91e"),
    ("existing-task-definition", "0b2b34c6a4725b48ebc39d64082c3c31f9e52f22f3c1a1b66418d251a1f3efde"),
];

fn example(name: &str) -> jobgen_synth::config::Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).join("jobgen.yaml");
    jobgen_synth::load(&path).unwrap()
}

#[test]
fn without_limits_the_document_is_byte_identical_to_before_limits() {
    for (name, before) in DOCUMENTS_BEFORE_LIMITS {
        let mut config = example(name);
        config.limits.max_concurrency = None;
        // Added later too: without schedules the document has no `schedules` member.
        config.schedules.clear();
        for jt in config.job_types.values_mut() {
            jt.max_concurrency = None;
            // Added later, like the limits: their defaults write no member either.
            jt.allow_command_override = false;
            jt.allowed_environment = None;
            jt.timeout = None;
            jt.start_timeout = None;
            jt.retry = None;
            jt.progress = false;
        }
        if name == "realistic" {
            // The example moved thumbnail to Fargate Spot (ARM64 runs there) after the hash was taken.
            config.job_types["thumbnail"].capacity = None;
        }
        let s = jobgen_synth::synth::synthesize(&config, &ModelOptions::default()).unwrap();
        for key in ["maxConcurrency", "timeoutSeconds", "startTimeoutSeconds", "retry", "progress"] {
            assert!(!s.config_document.contains(key), "{name}: {key} in {}", s.config_document);
        }
        // Tasks are tagged since, so every document names the tags: without them, the bytes are
        // those of before.
        let mut untagged = s.stack.launch_table.clone();
        assert_eq!(untagged.tags.get(contract::PROJECT_TAG), Some(&config.project.name), "{name}");
        untagged.tags.clear();
        assert_eq!(contract::config_sha256(untagged.to_json().as_bytes()), before, "{name}");
    }
    // An example without limits ships exactly the committed document (tags included).
    let config = example("existing-task-definition");
    assert!(config.limits.max_concurrency.is_none() && config.job_types.values().all(|j| j.max_concurrency.is_none()));
    let s = jobgen_synth::synth::synthesize(&config, &ModelOptions::default()).unwrap();
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/existing-task-definition/jobgen-config/jobgen/config.json"),
    )
    .unwrap();
    assert_eq!(s.config_document, committed);
}

#[test]
fn the_examples_ship_their_limits() {
    let document = |name: &str| -> Value {
        let s = jobgen_synth::synth::synthesize(&example(name), &ModelOptions::default()).unwrap();
        serde_json::from_str(&s.config_document).unwrap()
    };
    let quickstart = document("quickstart");
    assert_eq!(quickstart["jobTypes"]["hello"]["maxConcurrency"], 2);
    assert!(quickstart["jobTypes"]["sleep"].get("maxConcurrency").is_none());
    assert!(quickstart.get("maxConcurrency").is_none(), "no project limit");
    let realistic = document("realistic");
    assert_eq!(realistic["maxConcurrency"], 20);
    assert_eq!(realistic["jobTypes"]["transcode"]["maxConcurrency"], 8);
    assert!(realistic["jobTypes"]["thumbnail"].get("maxConcurrency").is_none());
}

#[test]
fn limits_are_carried_into_the_document_for_the_runtime() {
    let mut config = example("realistic");
    config.limits.max_concurrency = Some(7);
    config.job_types["transcode"].max_concurrency = Some(3);
    config.job_types["thumbnail"].max_concurrency = None;
    let s = jobgen_synth::synth::synthesize(&config, &ModelOptions::default()).unwrap();
    let document: Value = serde_json::from_str(&s.config_document).unwrap();
    assert_eq!(document["maxConcurrency"], 7);
    assert_eq!(document["jobTypes"]["transcode"]["maxConcurrency"], 3);
    assert!(document["jobTypes"]["thumbnail"].get("maxConcurrency").is_none(), "no key for no limit");
    // The runtime reads the same limits back.
    let table = contract::LaunchTable::from_json(&s.config_document).unwrap();
    assert_eq!(table.max_concurrency, Some(7));
    assert_eq!(table.job_types["transcode"].max_concurrency, Some(3));
    assert_eq!(table.job_types["thumbnail"].max_concurrency, None);
    assert_eq!(table, s.stack.launch_table);
}

#[test]
fn what_a_request_may_override_is_carried_into_the_document() {
    let document = |config: &jobgen_synth::config::Config| -> Value {
        let s = jobgen_synth::synth::synthesize(config, &ModelOptions::default()).unwrap();
        serde_json::from_str(&s.config_document).unwrap()
    };
    // The examples keep the default (no command override) and realistic lists its variables.
    let realistic = document(&example("realistic"));
    assert_eq!(realistic["jobTypes"]["transcode"]["allowedEnvironment"], json!(["INPUT_KEY", "PRESET"]));
    assert_eq!(realistic["jobTypes"]["thumbnail"]["allowedEnvironment"], json!(["INPUT_KEY"]));
    for (name, jt) in realistic["jobTypes"].as_object().unwrap() {
        assert!(jt.get("allowCommandOverride").is_none(), "{name}: {jt}");
    }
    let quickstart = document(&example("quickstart"));
    assert!(quickstart["jobTypes"]["hello"].get("allowedEnvironment").is_none(), "any variable");

    let mut config = example("quickstart");
    config.job_types["hello"].allow_command_override = true;
    config.job_types["sleep"].allowed_environment = Some(vec![]);
    let doc = document(&config);
    assert_eq!(doc["jobTypes"]["hello"]["allowCommandOverride"], true);
    assert_eq!(doc["jobTypes"]["sleep"]["allowedEnvironment"], json!([]), "an empty list is not no list");
    let table = contract::LaunchTable::from_json(&doc.to_string()).unwrap();
    assert!(table.job_types["hello"].allow_command_override && !table.job_types["sleep"].allow_command_override);
    assert_eq!(table.job_types["sleep"].allowed_environment, Some(vec![]));
}

#[test]
fn every_example_tags_its_tasks_like_its_resources() {
    for name in ["quickstart", "realistic", "existing-task-definition"] {
        let config = example(name);
        let s = jobgen_synth::synth::synthesize(&config, &ModelOptions::default()).unwrap();
        let document: Value = serde_json::from_str(&s.config_document).unwrap();
        let table_tags = &s.document["Resources"][s.stack.table.id.as_str()]["Properties"]["Tags"];
        let resource_tags: serde_json::Map<String, Value> = table_tags
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["Key"].as_str().unwrap().to_string(), t["Value"].clone()))
            .collect();
        assert_eq!(document["tags"], Value::Object(resource_tags), "{name}: RunTask tags = the resources' tags");
        assert_eq!(document["tags"][contract::PROJECT_TAG], json!(config.project.name), "{name}");
    }
}

#[test]
fn the_examples_ship_their_timeouts_and_retry_policies() {
    let document = |name: &str| -> Value {
        let s = jobgen_synth::synth::synthesize(&example(name), &ModelOptions::default()).unwrap();
        serde_json::from_str(&s.config_document).unwrap()
    };
    let quickstart = document("quickstart");
    assert_eq!(quickstart["jobTypes"]["hello"]["timeoutSeconds"], 600);
    assert_eq!(quickstart["jobTypes"]["hello"]["retry"]["attempts"], 2);
    assert!(quickstart["jobTypes"]["sleep"].get("retry").is_none());
    let realistic = document("realistic");
    let transcode = &realistic["jobTypes"]["transcode"];
    assert_eq!(
        (transcode["timeoutSeconds"].as_u64(), transcode["startTimeoutSeconds"].as_u64()),
        (Some(7200), Some(600))
    );
    assert_eq!(transcode["retry"]["spotFallback"], true);
    assert_eq!(transcode["capacity"], "FARGATE_SPOT", "spot_fallback is for Spot job types");
    // The runtime's own check of a hand-edited document finds nothing wrong.
    for doc in [quickstart, realistic] {
        let table = contract::LaunchTable::from_json(&doc.to_string()).unwrap();
        assert!(table.job_types.values().all(|e| e.lifecycle_problem().is_none()));
    }
}
