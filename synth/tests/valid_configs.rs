//! Valid files the parser and validator must accept, and what they must resolve to: anchors,
//! aliases and merge keys (which a strict key check could mistake for unknown keys), and a
//! 500-job-type project (the size `make bench` measures), which passes every field rule and only
//! the model's resource limit refuses.

// A test fails by panicking, with a message that says what was expected.
#![allow(clippy::panic)]

use jobgen_runtime::contract::Capacity;

fn accept(text: &str) -> jobgen_synth::config::Config {
    jobgen_synth::check_text(text, "jobgen.yaml").unwrap_or_else(|report| panic!("rejected:\n{report}"))
}

#[test]
fn anchors_aliases_and_merge_keys_are_accepted() {
    let config = accept(
        "version: 1
project: { name: media }
clusters:
  main: { create: {} }
job_types:
  small:
    network: &net
      subnets: [subnet-0123456789abcdef0]
      security_groups: [sg-0123456789abcdef0]
    task: &base
      image: public.ecr.aws/docker/library/alpine:3.20
      cpu: 256
      memory: 512
      environment: { LOG_LEVEL: info }
  large:
    network: *net
    capacity: FARGATE_SPOT
    task:
      <<: *base
      cpu: 4096
      memory: 8192
",
    );
    let large = &config.job_types["large"];
    let task = large.task.as_ref().unwrap_or_else(|| panic!("large has a task"));
    assert_eq!((task.cpu, task.memory), (4096, 8192));
    assert_eq!(task.image, "public.ecr.aws/docker/library/alpine:3.20");
    assert_eq!(task.environment.get("LOG_LEVEL").map(String::as_str), Some("info"));
    assert_eq!(large.capacity, Some(Capacity::FargateSpot));
    assert_eq!(large.network, config.job_types["small"].network);
}

#[test]
fn a_merge_that_brings_a_bad_value_is_still_validated() {
    let report = jobgen_synth::check_text(
        "version: 1
project: { name: media }
defaults:
  network: { subnets: [subnet-0123456789abcdef0] }
clusters:
  main: { create: {} }
job_types:
  a:
    task: &base { image: alpine, cpu: 256, memory: 512 }
  b:
    task:
      <<: *base
      cpu: 1024
",
        "jobgen.yaml",
    )
    .err()
    .unwrap_or_else(|| panic!("memory 512 with cpu 1024 was accepted"));
    let d = &report.diagnostics[0];
    assert_eq!(d.path, "job_types.b.task.memory");
    // `memory` is not written under b: the diagnostic points at the nearest thing that is.
    assert_eq!(d.span.map(|l| l.line), Some(11));
}

#[test]
fn five_hundred_job_types_pass_every_field_rule_and_go_into_nested_stacks() {
    let mut text = String::from(
        "version: 1\nproject: { name: big }\ndefaults:\n  network: { subnets: [subnet-0123456789abcdef0] }\nclusters:\n  main: { create: {} }\njob_types:\n",
    );
    for i in 0..500 {
        text.push_str(&format!(
            "  job-{i}:\n    task:\n      image: public.ecr.aws/docker/library/alpine:3.20\n      cpu: 1024\n      memory: 2048\n      environment: {{ INDEX: \"{i}\" }}\n"
        ));
    }
    // The parser and the validator accept it (the size `make bench` measures)...
    let doc = jobgen_synth::parse::parse_document(&text, "big.yaml").unwrap_or_else(|r| panic!("rejected:\n{r}"));
    assert_eq!(doc.config.job_types.len(), 500);
    assert_eq!(jobgen_synth::validate::validate(&doc.config), vec![]);
    // ...and so does the model: 2,023 resources do not fit one stack, so the job types' 2,000
    // go into nested stacks and the root keeps the rest.
    let s = jobgen_synth::synthesize_text(&text, "big.yaml", None, &jobgen_synth::model::ModelOptions::default())
        .unwrap_or_else(|e| panic!("500 job types refused: {e}"));
    assert!(s.stack.task_definitions.is_empty());
    let nested: usize = s.stack.nested_stacks.iter().map(|n| n.resource_count()).sum();
    assert_eq!(nested, 2000);
    assert_eq!(s.stack.resource_count(), 23 + s.stack.nested_stacks.len());
}

#[test]
fn concurrency_limits_at_the_bounds_and_equal_to_the_project_limit_are_accepted() {
    let config = accept(
        "version: 1
project: { name: media }
defaults:
  network: { subnets: [subnet-0123456789abcdef0] }
clusters:
  main: { create: {} }
job_types:
  one:
    max_concurrency: 1
    task: { image: alpine, cpu: 256, memory: 512 }
  all:
    max_concurrency: 10000
    task: { image: alpine, cpu: 256, memory: 512 }
  unlimited:
    task: { image: alpine, cpu: 256, memory: 512 }
limits:
  max_concurrency: 10000
",
    );
    assert_eq!(config.limits.max_concurrency, Some(jobgen_synth::config::MAX_CONCURRENCY));
    assert_eq!(config.job_types["one"].max_concurrency, Some(1));
    assert_eq!(config.job_types["unlimited"].max_concurrency, None);
    // Without the block and the keys: no limits, as before they existed.
    let config = accept(
        "version: 1
project: { name: media }
defaults:
  network: { subnets: [subnet-0123456789abcdef0] }
clusters:
  main: { create: {} }
job_types:
  a:
    task: { image: alpine, cpu: 256, memory: 512 }
",
    );
    assert_eq!(config.limits, jobgen_synth::config::Limits::default());
    assert_eq!(config.job_types["a"].max_concurrency, None);
}

#[test]
fn arm64_on_spot_and_on_demand_on_a_spot_only_cluster_are_accepted() {
    // Fargate Spot runs ARM64 (Graviton) tasks; an on-demand job is launched with
    // `launchType: FARGATE`, which needs no capacity provider on the cluster.
    let config = accept(
        "version: 1
project: { name: media }
defaults:
  network: { subnets: [subnet-0123456789abcdef0] }
clusters:
  spot-only: { create: { capacity_providers: [FARGATE_SPOT] } }
job_types:
  thumbnail:
    capacity: FARGATE_SPOT
    task: { image: alpine, cpu: 512, memory: 1024, architecture: ARM64 }
  report:
    capacity: FARGATE
    task: { image: alpine, cpu: 256, memory: 512 }
",
    );
    assert_eq!(config.job_types["thumbnail"].capacity, Some(Capacity::FargateSpot));
    let s = jobgen_synth::synth::synthesize(&config, &jobgen_synth::model::ModelOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let entry = &s.stack.launch_table.job_types["thumbnail"];
    assert_eq!(
        (entry.capacity, entry.architecture),
        (Capacity::FargateSpot, jobgen_runtime::contract::Architecture::Arm64)
    );
    assert_eq!(s.stack.launch_table.job_types["report"].capacity, Capacity::Fargate);
}

#[test]
fn timeouts_and_retry_policies_reach_the_document_with_every_default_filled_in() {
    let config = accept(
        "version: 1
project: { name: media }
defaults:
  network: { subnets: [subnet-0123456789abcdef0] }
clusters:
  main: { create: {} }
job_types:
  transcode:
    capacity: FARGATE_SPOT
    timeout: 2h
    start_timeout: 10m
    retry:
      attempts: 3
      backoff: { interval: 1m, rate: 1.5, max_delay: 1d }
      on: [spot_interrupted, start_timeout, non_zero_exit]
      spot_fallback: true
    task: { image: alpine, cpu: 256, memory: 512 }
  defaults-only:
    timeout: 30d
    retry: { attempts: 2 }
    task: { image: alpine, cpu: 256, memory: 512 }
  one-attempt:
    start_timeout: 1d
    retry: { attempts: 1, backoff: { interval: 1s, max_delay: 1s } }
    task: { image: alpine, cpu: 256, memory: 512 }
  plain:
    task: { image: alpine, cpu: 256, memory: 512 }
",
    );
    let s = jobgen_synth::synth::synthesize(&config, &jobgen_synth::model::ModelOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let doc: serde_json::Value = serde_json::from_str(&s.config_document).unwrap_or_else(|e| panic!("{e}"));
    let types = &doc["jobTypes"];
    assert_eq!(types["transcode"]["timeoutSeconds"], 7200);
    assert_eq!(types["transcode"]["startTimeoutSeconds"], 600);
    assert_eq!(
        types["transcode"]["retry"],
        serde_json::json!({
            "attempts": 3, "intervalSeconds": 60, "rate": 1.5, "maxDelaySeconds": 86400,
            "on": ["spot_interrupted", "start_timeout", "non_zero_exit"], "spotFallback": true
        })
    );
    // Unset backoff and `on`: the defaults, written out for the runtime (no spotFallback: false).
    assert_eq!(types["defaults-only"]["timeoutSeconds"], 30 * 86400);
    assert!(types["defaults-only"].get("startTimeoutSeconds").is_none());
    assert_eq!(
        types["defaults-only"]["retry"],
        serde_json::json!({
            "attempts": 2, "intervalSeconds": 30, "rate": 2.0, "maxDelaySeconds": 900,
            "on": ["failed_to_start", "spot_interrupted", "start_timeout", "capacity"]
        })
    );
    assert_eq!(types["one-attempt"]["startTimeoutSeconds"], 86400);
    assert_eq!(types["one-attempt"]["retry"]["attempts"], 1);
    // A job type without the keys writes no member.
    for key in ["timeoutSeconds", "startTimeoutSeconds", "retry"] {
        assert!(types["plain"].get(key).is_none(), "plain has {key}: {}", types["plain"]);
    }
    // The runtime reads the same policy back and finds nothing wrong with it.
    let table = jobgen_runtime::contract::LaunchTable::from_json(&s.config_document).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(table, s.stack.launch_table);
    assert!(table.job_types.values().all(|e| e.lifecycle_problem().is_none()));
    assert_eq!(table.job_types["transcode"].retry_capacity(true), Capacity::Fargate);
}

#[test]
fn durations_read_as_seconds_and_only_with_a_unit() {
    use jobgen_synth::config::Duration;
    let secs = |s: &str| Duration(s.to_string()).seconds();
    assert_eq!((secs("90s"), secs("30m"), secs("6h"), secs("2d")), (Some(90), Some(1800), Some(21600), Some(172800)));
    for bad in ["90", "1h30m", "m", "-5m", "1.5h", "5 m", "", "99999999999d"] {
        assert_eq!(secs(bad), None, "{bad}");
    }
    assert_eq!(
        (Duration::display(900), Duration::display(90), Duration::display(86400)),
        ("15m".into(), "90s".into(), "1d".into())
    );
}

#[test]
fn retry_on_names_in_jobgen_yaml_are_the_contracts() {
    // serde's snake_case names (what the file and the schema accept) are RetryOn::as_str.
    for r in jobgen_runtime::contract::RetryOn::ALL {
        assert_eq!(serde_json::to_value(r).unwrap_or_default(), r.as_str());
    }
}
