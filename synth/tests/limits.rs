//! The quotas the model checks ([`jobgen_synth::quotas::MODEL_QUOTAS`]), each proven at its
//! boundary: a project exactly at the limit gets no diagnostic, one just over gets one, on the
//! field path to blame. Configs are built in memory and go straight to the model (no validation:
//! most of these limits are out of reach of a validated file today, and stay checked so that a
//! longer suffix or a new resource cannot silently cross them). Also: the largest single stack is
//! bounded by CloudFormation's 500 resources, the policies of create-job and track do not grow with the job types,
//! and the model's resource count and logical IDs are the rendered template's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use jobgen_synth::config::{Cluster, Config, ExistingTaskDefinition, PolicyStatement};
use jobgen_synth::model::limits::{self, Resolver};
use jobgen_synth::model::{self, ModelOptions, Stack};
use jobgen_synth::quotas::{self, Quota};
use serde_json::json;

/// A project with one created cluster and `n` small job types named `j-001`...
fn project(n: usize) -> Config {
    let mut y = String::from(
        "version: 1\nproject:\n  name: p\nclusters:\n  main:\n    create: {}\ndefaults:\n  network:\n    subnets: [subnet-0123456789abcdef0]\njob_types:\n",
    );
    for i in 1..=n {
        y.push_str(&format!(
            "  j-{i:03}:\n    task:\n      image: public.ecr.aws/docker/library/busybox:1.36\n      cpu: 256\n      memory: 512\n"
        ));
    }
    serde_saphyr::from_str(&y).unwrap()
}

fn build(config: &Config) -> Result<Stack, jobgen_synth::diagnostics::Report> {
    model::build(config, &ModelOptions::default())
}

/// The largest measured value among the diagnostics of `quota` ("… would have N units: …"), and
/// their paths; `None` when none fired.
fn fired(config: &Config, quota: &Quota) -> Option<(usize, Vec<String>)> {
    let report = build(config).err()?;
    let hits: Vec<_> = report.diagnostics.iter().filter(|d| d.message.contains(quota.scope)).collect();
    let measured = hits
        .iter()
        .map(|d| {
            let rest = d.message.split("would have ").nth(1).unwrap_or_else(|| panic!("{}", d.message));
            rest.split(' ').next().unwrap().parse::<usize>().unwrap()
        })
        .max()?;
    for d in &hits {
        assert!(!d.help.is_empty(), "{d:?}");
    }
    Some((measured, hits.iter().map(|d| d.path.clone()).collect()))
}

/// `make(n)` grows the measured value by one per `n`: from a value over the limit, finds the `n`
/// exactly at it, proves nothing fires there and the quota fires one above, and returns that `n`
/// and the paths the diagnostics blame one above.
fn boundary(quota: &Quota, n_over: usize, make: impl Fn(usize) -> Config) -> (usize, Vec<String>) {
    let (over, _) =
        fired(&make(n_over), quota).unwrap_or_else(|| panic!("{}: nothing fired at n = {n_over}", quota.scope));
    assert!(over > quota.max, "{}: {over}", quota.scope);
    let n_at = n_over - (over - quota.max);
    assert_eq!(fired(&make(n_at), quota), None, "{}: fired at the limit (n = {n_at})", quota.scope);
    let (just_over, paths) =
        fired(&make(n_at + 1), quota).unwrap_or_else(|| panic!("{}: silent just over", quota.scope));
    assert_eq!(just_over, quota.max + 1, "{}", quota.scope);
    (n_at, paths)
}

/// [`boundary`] for a project-name length: the limit is at `n_at` characters, blamed on `project.name`.
fn project_name_boundary(quota: &Quota, n_at: usize) {
    assert_eq!(
        boundary(quota, n_at + 100, with_project_name),
        (n_at, vec!["project.name".to_string()]),
        "{}",
        quota.scope
    );
}

/// [`boundary`] for a job type name length: the limit is at `n_at` characters, blamed on the job type.
fn job_type_name_boundary(quota: &Quota, n_at: usize) {
    assert_eq!(
        boundary(quota, n_at + 100, with_job_type_name),
        (n_at, vec![job_type_path(n_at + 1)]),
        "{}",
        quota.scope
    );
}

fn with_project_name(n: usize) -> Config {
    let mut c = project(1);
    c.project.name = "p".repeat(n);
    c
}

/// One job type, renamed to `n` characters.
fn with_job_type_name(n: usize) -> Config {
    let mut c = project(1);
    let jt = c.job_types.shift_remove("j-001").unwrap();
    c.job_types.insert("j".repeat(n), jt);
    c
}

/// The one cluster, renamed to `n` characters.
fn with_cluster_name(n: usize) -> Config {
    let mut c = project(1);
    let main = c.clusters.shift_remove("main").unwrap();
    c.clusters.insert("c".repeat(n), main);
    c
}

fn job_type_path(n: usize) -> String {
    format!("job_types.{}", "j".repeat(n))
}

/// Resources every stack has whatever its job types and clusters: the table, the config layer,
/// per function its function, log group and role, the URL, the caller's managed policy, track's DLQ
/// and async invoke config, the schedule group, the timer role and the reconciler's schedule, the
/// rule with its DLQ, queue policy and permission, three alarms.
const FIXED_RESOURCES: usize = 22;
/// The most job types (with `task`) one stack holds: with one created cluster, the fixed resources
/// and 4 per job type fit CloudFormation's 500.
const LARGEST: usize = (500 - FIXED_RESOURCES - 1) / 4;

#[test]
fn cloudformation_resources() {
    // The fixed resources, one per created cluster, 4 per job type with `task`.
    assert_eq!(build(&project(1)).unwrap().resource_count(), FIXED_RESOURCES + 1 + 4);
    assert_eq!(build(&project(2)).unwrap().resource_count(), FIXED_RESOURCES + 1 + 8);
    // The largest project (119 job types) and created clusters up to exactly 500.
    let with_clusters = |n: usize| {
        let mut c = project(LARGEST);
        c.defaults.cluster = Some("main".into());
        for i in 1..n {
            c.clusters.insert(
                format!("c-{i:03}"),
                Cluster { create: Some(serde_saphyr::from_str("{}").unwrap()), existing: None },
            );
        }
        c
    };
    // Up to exactly 500 in one stack; one cluster more and the job types move to nested stacks.
    let single = quotas::CFN_RESOURCES.max - FIXED_RESOURCES - 4 * LARGEST;
    let at = build(&with_clusters(single)).unwrap();
    assert_eq!((at.resource_count(), at.nested_stacks.len()), (quotas::CFN_RESOURCES.max, 0));
    let nested = build(&with_clusters(single + 1)).unwrap();
    assert!(nested.task_definitions.is_empty() && !nested.nested_stacks.is_empty());
    // Then the root holds the fixed resources, the clusters and one stack per nested stack: its
    // limit is blamed on the clusters.
    let (n_at, paths) = boundary(&quotas::CFN_RESOURCES, 600, with_clusters);
    assert_eq!(n_at, quotas::CFN_RESOURCES.max - FIXED_RESOURCES - nested.nested_stacks.len());
    assert_eq!(paths, ["clusters"]);
}

#[test]
fn cloudformation_parameters() {
    // A nested stack takes one parameter at most (the table's ARN); the quota is checked all the same.
    let mut config = project(LARGEST + 1);
    config.job_types.get_index_mut(0).unwrap().1.progress = true;
    let mut stack = build(&config).unwrap();
    let first = &mut stack.nested_stacks[0];
    let template = first.parameters.first().cloned().unwrap_or(model::nested::Parameter {
        name: "P".into(),
        description: "p".into(),
        value: json!("x"),
    });
    first.parameters = (0..quotas::CFN_PARAMETERS.max)
        .map(|i| model::nested::Parameter { name: format!("P{i}"), ..template.clone() })
        .collect();
    let hits = |stack: &Stack| {
        limits::check(stack, &config).into_iter().filter(|d| d.message.contains(quotas::CFN_PARAMETERS.scope)).count()
    };
    assert_eq!(hits(&stack), 0);
    stack.nested_stacks[0].parameters.push(template);
    assert_eq!(hits(&stack), 1);
}

#[test]
fn cloudformation_outputs() {
    // 13 fixed outputs and one per cluster.
    let (n_at, paths) = boundary(&quotas::CFN_OUTPUTS, 300, |n| {
        let mut c = project(1);
        for i in 1..n {
            c.clusters.insert(format!("c-{i:03}"), Cluster { create: None, existing: Some(format!("shared-{i:03}")) });
        }
        c.defaults.cluster = Some("main".into());
        c
    });
    assert_eq!((n_at, paths), (187, vec!["clusters".to_string()]));
}

#[test]
fn cloudformation_template_size() {
    let max = quotas::CFN_TEMPLATE_BODY_S3.max - limits::PACKAGING_ALLOWANCE;
    assert!(limits::check_template_size(max).is_ok());
    let report = limits::check_template_size(max + 1).unwrap_err();
    assert_eq!(report.diagnostics[0].path, "job_types");
    assert!(report.diagnostics[0].message.contains("would have 1000001 bytes"), "{}", report.diagnostics[0].message);
}

#[test]
fn cloudformation_template_description() {
    // `jobgen PROJECT: on-demand ECS Fargate jobs (…)`.
    project_name_boundary(&quotas::CFN_TEMPLATE_DESCRIPTION, 927);
}

#[test]
fn cloudformation_logical_ids() {
    // `TaskDefinition` and the job type in PascalCase.
    job_type_name_boundary(&quotas::CFN_LOGICAL_ID, 241);
}

#[test]
fn cloudformation_output_names() {
    // `Cluster`, the cluster in PascalCase, `Arn`.
    let (n_at, paths) = boundary(&quotas::CFN_OUTPUT_NAME, 300, with_cluster_name);
    assert_eq!((n_at, paths), (245, vec![format!("clusters.{}", "c".repeat(246))]));
}

#[test]
fn iam_inline_policies_of_a_task_role() {
    let (_, paths) = boundary(&quotas::IAM_ROLE_INLINE_POLICIES, 11_000, |n| {
        let mut c = project(1);
        let task = c.job_types["j-001"].task.as_mut().unwrap();
        task.policies.push(PolicyStatement {
            effect: Default::default(),
            actions: vec!["s3:GetObject".into()],
            resources: vec![format!("arn:aws:s3:::{}", "b".repeat(n))],
        });
        c
    });
    assert_eq!(paths, ["job_types.j-001.task.policies"]);
}

#[test]
fn iam_inline_policies_of_create_job_and_track_grow_only_with_existing_task_definitions() {
    // Each existing task definition adds its ARN and its role ARNs to the launch statements both
    // functions get (nothing the stack creates does): 40 of them, the last with a task role name
    // `n` characters long.
    let make = |n: usize| {
        let mut c = project(1);
        for i in 0..40 {
            let mut jt = c.job_types["j-001"].clone();
            jt.task = None;
            let role = if i == 39 { "t".repeat(n) } else { format!("task-{i:03}") };
            jt.task_definition = Some(ExistingTaskDefinition {
                name: format!("arn:aws:ecs:us-east-1:123456789012:task-definition/family-{i:03}:1"),
                container_name: "main".into(),
                architecture: jobgen_runtime::contract::Architecture::X86_64,
                task_role_arn: Some(format!("arn:aws:iam::123456789012:role/{role}")),
                execution_role_arn: Some(format!("arn:aws:iam::123456789012:role/execution-{i:03}")),
            });
            c.job_types.insert(format!("e-{i:03}"), jt);
        }
        c
    };
    let (n_at, paths) = boundary(&quotas::IAM_ROLE_INLINE_POLICIES, 3000, make);
    // track's policy is the larger (its dead-letter queue and the reconciler's DescribeTasks and
    // ListTasks against create-job's PutItem), so it reaches the limit first; both are blamed on
    // the same field.
    assert_eq!(paths, ["job_types"]);
    let report = build(&make(n_at + 1)).unwrap_err();
    assert!(report.diagnostics[0].message.contains("role TrackRole"), "{report}");
    // Both grow alike: the same statements, one character per character of the role name.
    let sizes = |n: usize| {
        let stack = build(&make(n)).unwrap();
        let r = Resolver::new(&stack);
        (limits::role_policy_chars(&r, &stack.create_job.role), limits::role_policy_chars(&r, &stack.track.role))
    };
    let (cj, track) = sizes(n_at);
    let (cj_smaller, track_smaller) = sizes(n_at - 100);
    assert_eq!((cj - cj_smaller, track - track_smaller), (100, 100));
    // The difference is fixed (one cluster here): the dead-letter queue, the reconciler's two
    // statements, and its reads of the open jobs (BatchGetItem, the open index's ARN).
    assert!(track > cj && track - cj < 1_100, "create-job {cj}, track {track}");
}

#[test]
fn iam_trust_policy() {
    let config = project(1);
    let mut stack = build(&config).unwrap();
    let resolver = Resolver::new(&stack);
    let size = |stack: &Stack| {
        jobgen_synth::model::limits::json_len(
            &resolver.resolve(&limits::trust_policy(&stack.task_definitions[0].task_role)),
            false,
        )
    };
    let fires = |stack: &Stack| {
        limits::check(stack, &config).iter().any(|d| d.message.contains(quotas::IAM_TRUST_POLICY.scope))
    };
    assert!(!fires(&stack), "today's trust policies fit");
    // The trust policies' content is fixed: grow a condition value to the limit and one past it.
    let grow = |stack: &mut Stack, n: usize| {
        stack.task_definitions[0].task_role.assume_condition =
            json!({ "StringEquals": { "aws:SourceAccount": "a".repeat(n) } });
    };
    grow(&mut stack, 1);
    let n_at = 1 + quotas::IAM_TRUST_POLICY.max - size(&stack);
    grow(&mut stack, n_at);
    assert_eq!(size(&stack), quotas::IAM_TRUST_POLICY.max);
    assert!(!fires(&stack));
    grow(&mut stack, n_at + 1);
    assert!(fires(&stack));
}

#[test]
fn iam_role_description() {
    // The execution role's `jobgen p: ECS agent for job type NAME (image pull, logs, secrets)`.
    job_type_name_boundary(&quotas::IAM_ROLE_DESCRIPTION, 939);
}

#[test]
fn iam_path() {
    // `/jobgen/PROJECT/`.
    project_name_boundary(&quotas::IAM_PATH, 503);
}

#[test]
fn lambda_function_name() {
    // `PROJECT-create-job`.
    project_name_boundary(&quotas::LAMBDA_FUNCTION_NAME, 53);
}

#[test]
fn lambda_function_description() {
    // track's `jobgen PROJECT: applies ECS task state changes to job records`.
    project_name_boundary(&quotas::LAMBDA_FUNCTION_DESCRIPTION, 202);
}

#[test]
fn lambda_environment() {
    // Eight names, a table name of up to 255, a SHA-256, the retention, and five values that grow
    // with the project name: the project, the schedule group `jobgen-PROJECT`, and the timer role's
    // path, track's name and its queue's name in three ARNs. So the boundary is found by scanning
    // (it moves 5 bytes per character), not with `boundary`.
    let env = |n: usize| fired(&with_project_name(n), &quotas::LAMBDA_ENVIRONMENT);
    let n_at = (600..800).take_while(|n| env(*n).is_none()).last().unwrap();
    assert_eq!(n_at, 673);
    let (just_over, paths) = env(n_at + 1).unwrap();
    assert!(
        just_over > quotas::LAMBDA_ENVIRONMENT.max && just_over <= quotas::LAMBDA_ENVIRONMENT.max + 5,
        "{just_over}"
    );
    assert_eq!(paths, ["project.name"]);
}

#[test]
fn lambda_layer_name() {
    // `PROJECT-config`.
    project_name_boundary(&quotas::LAMBDA_LAYER_NAME, 133);
}

#[test]
fn lambda_layer_description() {
    // `jobgen PROJECT: the job-type table both functions read at /opt/jobgen/config.json`.
    project_name_boundary(&quotas::LAMBDA_LAYER_DESCRIPTION, 182);
}

#[test]
fn eventbridge_rule_name() {
    // `PROJECT-task-state`.
    project_name_boundary(&quotas::EVENTBRIDGE_RULE_NAME, 53);
}

#[test]
fn eventbridge_rule_description() {
    // `ECS task state changes of jobs launched by PROJECT`.
    project_name_boundary(&quotas::EVENTBRIDGE_RULE_DESCRIPTION, 469);
}

#[test]
fn eventbridge_event_pattern() {
    // Every cluster's ARN is in the pattern: an existing one, by an ARN `n` characters long.
    let (_, paths) = boundary(&quotas::EVENTBRIDGE_PATTERN, 3000, |n| {
        let mut c = project(1);
        let arn = format!("arn:aws:ecs:us-east-1:123456789012:cluster/{}", "c".repeat(n));
        c.clusters.insert("shared".into(), Cluster { create: None, existing: Some(arn) });
        c.defaults.cluster = Some("main".into());
        c
    });
    assert_eq!(paths, ["clusters"]);
}

#[test]
fn scheduler_group_name() {
    // `jobgen-PROJECT` (the contract's `schedule_group`).
    project_name_boundary(&quotas::SCHEDULER_GROUP_NAME, 57);
}

#[test]
fn sqs_queue_name() {
    // `PROJECT-task-state-dlq`.
    project_name_boundary(&quotas::SQS_QUEUE_NAME, 65);
}

#[test]
fn log_group_name() {
    // `/jobgen/p/JOB_TYPE`.
    job_type_name_boundary(&quotas::LOG_GROUP_NAME, 502);
}

#[test]
fn ecs_cluster_name() {
    // `p-CLUSTER`.
    let (n_at, paths) = boundary(&quotas::ECS_CLUSTER_NAME, 300, with_cluster_name);
    assert_eq!((n_at, paths), (253, vec![format!("clusters.{}", "c".repeat(254))]));
}

#[test]
fn ecs_family() {
    // `p_JOB_TYPE`.
    job_type_name_boundary(&quotas::ECS_FAMILY, 253);
}

#[test]
fn ecs_started_by() {
    // `jobgen/PROJECT`.
    project_name_boundary(&quotas::ECS_STARTED_BY, 121);
}

#[test]
fn ecs_task_definition_size() {
    let (_, paths) = boundary(&quotas::ECS_TASK_DEFINITION_SIZE, 70_000, |n| {
        let mut c = project(1);
        c.job_types["j-001"].task.as_mut().unwrap().environment.insert("BIG".into(), "v".repeat(n));
        c
    });
    assert_eq!(paths, ["job_types.j-001.task.environment"]);
}

#[test]
fn tags_per_resource() {
    let with_tags = |n: usize, own_project_tag: bool| {
        let mut c = project(1);
        for i in 0..n {
            c.project.tags.insert(format!("t{i:02}"), "v".into());
        }
        if own_project_tag {
            c.project.tags.insert("jobgen:project".into(), "p".into());
        }
        c
    };
    // jobgen adds `jobgen:project`: 49 tags of the project's own are the most that fit.
    assert_eq!(fired(&with_tags(49, false), &quotas::TAGS_PER_RESOURCE), None);
    assert_eq!(fired(&with_tags(50, false), &quotas::TAGS_PER_RESOURCE), Some((51, vec!["project.tags".to_string()])));
    // Unless the project sets it itself: then 50 in all, its own `jobgen:project` one of them.
    assert_eq!(fired(&with_tags(49, true), &quotas::TAGS_PER_RESOURCE), None);
    assert_eq!(build(&with_tags(49, true)).unwrap().tags.len(), quotas::MAX_TAGS);
    assert_eq!(fired(&with_tags(50, true), &quotas::TAGS_PER_RESOURCE), Some((51, vec!["project.tags".to_string()])));
    // The same tags reach every task (RunTask allows 50 too): the launch table carries them.
    let stack = build(&with_tags(49, false)).unwrap();
    assert_eq!(stack.launch_table.tags.len(), quotas::MAX_TAGS);
}

#[test]
fn every_model_quota_has_a_boundary_test() {
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/limits.rs")).unwrap();
    let quotas_source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/quotas.rs")).unwrap();
    let names = quotas_source
        .split("pub const MODEL_QUOTAS")
        .nth(1)
        .and_then(|s| s.split('[').nth(2))
        .and_then(|s| s.split(']').next())
        .unwrap();
    let names: Vec<&str> = names.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
    assert_eq!(names.len(), quotas::MODEL_QUOTAS.len());
    for name in names {
        assert!(source.contains(&format!("quotas::{name}")), "no boundary test uses quotas::{name}");
    }
}

#[test]
fn the_largest_single_stack_is_bounded_by_the_resource_limit() {
    // The resource count, not IAM or the template size, is what ends a single stack: one job type
    // more and the job types go into nested stacks.
    let largest = (100..200).take_while(|n| build(&project(*n)).unwrap().nested_stacks.is_empty()).last().unwrap();
    assert_eq!(largest, (quotas::CFN_RESOURCES.max - FIXED_RESOURCES - 1) / 4);
    let nested = build(&project(largest + 1)).unwrap();
    assert_eq!(nested.all_task_definitions().count(), largest + 1);
    let nested = build(&project(500)).unwrap();
    assert_eq!(nested.all_task_definitions().count(), 500, "500 job types fit nested stacks");
    // And the largest single one renders well under the template size limit.
    let s = jobgen_synth::synth::synthesize(&project(largest), &ModelOptions::default()).unwrap();
    assert!(s.yaml.len() < quotas::CFN_TEMPLATE_BODY_S3.max / 2, "{} bytes", s.yaml.len());
}

#[test]
fn the_functions_policies_do_not_grow_with_the_job_types() {
    let size = |n: usize| {
        let stack = build(&project(n)).unwrap();
        let r = Resolver::new(&stack);
        (limits::role_policy_chars(&r, &stack.create_job.role), limits::role_policy_chars(&r, &stack.track.role))
    };
    eprintln!("inline policies (create-job, track): {:?} with 1 job type, {:?} with {LARGEST}", size(1), size(LARGEST));
    assert_eq!(size(1), size(LARGEST));
    assert!(size(LARGEST).0 < quotas::IAM_ROLE_INLINE_POLICIES.max / 3, "{:?}", size(LARGEST));
    // track's carries the reconciler's and the timers' statements too: still a third of the limit or so.
    assert!(size(LARGEST).1 < quotas::IAM_ROLE_INLINE_POLICIES.max / 2, "{:?}", size(LARGEST));
}

#[test]
fn every_intrinsic_in_every_example_resolves_to_a_known_length() {
    for name in ["quickstart", "realistic", "existing-task-definition"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).join("jobgen.yaml");
        let config = jobgen_synth::load(&path).unwrap();
        let stack = build(&config).unwrap();
        let resolver = Resolver::new(&stack);
        let document = serde_json::to_value(&stack).unwrap();
        assert_eq!(resolver.unknown(&document), Vec::<String>::new(), "{name}");
    }
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
    let report = build(&config).unwrap_err();
    assert_eq!(report.diagnostics[0].path, "job_types.j_001");
    assert!(report.diagnostics[0].message.contains("J001"), "{}", report.diagnostics[0].message);
}

#[test]
fn the_119_job_type_fixture_fits_and_the_functions_policies_are_as_small_as_for_one_job_type() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/invoicing-119.yaml");
    let large = jobgen_synth::synthesize_file(&fixture, None, &ModelOptions::default()).unwrap();
    assert_eq!(large.config.job_types.len(), LARGEST);
    assert_eq!(large.stack.resource_count(), FIXED_RESOURCES + 1 + 4 * LARGEST);
    assert!(large.config.job_types.keys().all(|k| k.len() == 29), "process-customer-invoices-NNN");
    let mut one = large.config.clone();
    one.job_types.truncate(1);
    let one = build(&one).unwrap();
    let size = |stack: &Stack| {
        let r = Resolver::new(stack);
        (limits::role_policy_chars(&r, &stack.create_job.role), limits::role_policy_chars(&r, &stack.track.role))
    };
    eprintln!(
        "invoicing: the inline policies of create-job and track are {:?} characters with {LARGEST} job types, {:?} with 1",
        size(&large.stack),
        size(&one)
    );
    assert_eq!(size(&large.stack), size(&one));
}

#[test]
fn every_environment_variable_counts_what_its_value_resolves_to() {
    // The 4 KB check adds up each variable's `worst_case_len`: it must be the length the resolver
    // gives the value (the same worst case the policy sizes use), for literals and intrinsics alike.
    for name in ["quickstart", "realistic", "existing-task-definition"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).join("jobgen.yaml");
        let stack = build(&jobgen_synth::load(&path).unwrap()).unwrap();
        let resolver = Resolver::new(&stack);
        for f in [&stack.create_job, &stack.track] {
            for v in &f.environment {
                let resolved = resolver.resolve(&v.value);
                assert_eq!(v.worst_case_len, resolved.as_str().unwrap().len(), "{name}/{}: {}", f.id, v.name);
            }
        }
    }
}
