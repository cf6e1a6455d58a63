//! Stage 3: validated [`Config`] → [`Stack`], the flat, render-only model of the CloudFormation stack.
//!
//! Everything a template prints is decided here, in Rust: logical IDs, physical names, ARNs and
//! `Fn::Sub` strings, the Lambda environment (the [`contract`] names and the hash of the
//! configuration document), tags, IAM statements, checkov suppressions with their reasons,
//! outputs. The templates only lay the values out. Limits that depend on the whole stack are
//! checked here ([`limits`]) and reported as [`crate::diagnostics::Diagnostic`]s like any
//! validation error.
//!
//! One submodule per resource group, mirroring `templates/`: [`table`], [`config_layer`],
//! [`functions`] (create-job and track), [`timers`] (the schedule group, the role that delivers
//! timers and the reconciler's recurring schedule), [`rule`], [`alarms`], [`clusters`], [`task_definitions`],
//! [`iam`] (every role, and the callers' managed policy), [`outputs`], [`nested`] (the job types'
//! nested stacks of a project past one stack's resources), and the template's
//! [`rules`]; [`shapes`] holds what several share (`macros.yaml.j2`), [`suppressions`] is the
//! allow-list of every scanner suppression a resource may carry, [`job_types`] resolves each job
//! type to its launch-table entry, [`stack`] is the whole, and [`build`] runs the groups in order.
//! Names come from [`crate::names`].
//!
//! [`contract`]: jobgen_runtime::contract

pub mod alarms;
pub mod clusters;
pub mod config_layer;
pub mod functions;
pub mod iam;
pub mod job_types;
pub mod limits;
pub mod nested;
pub mod outputs;
pub mod rule;
pub mod rules;
pub mod schedules;
pub mod shapes;
pub mod stack;
pub mod suppressions;
pub mod table;
pub mod task_definitions;
pub mod timers;

pub use alarms::Alarm;
pub use clusters::{Cluster, ClusterRef};
pub use config_layer::ConfigLayer;
pub use functions::{CREATE_JOB_TIMEOUT_SECONDS, EnvVar, Function, TRACK_TIMEOUT_SECONDS};
pub use iam::{ManagedPolicy, Policy, Role, Statement};
pub use limits::check_template_size;
pub use nested::NestedStack;
pub use outputs::Output;
pub use rule::{Rule, TRACKED_STATUSES};
pub use rules::TemplateRule;
pub use shapes::{LogGroup, Queue, Tag};
pub use stack::{Header, Stack};
pub use suppressions::{Suppression, Suppressions};
pub use table::JobsTable;
pub use task_definitions::{LOG_STREAM_PREFIX, NameValue, TaskDefinition};
pub use timers::{ReconcileSchedule, ScheduleGroup, Timers};

use jobgen_runtime::contract;

use crate::config::Config;
use crate::diagnostics::Report;
use crate::names;

/// Options that are not part of the project file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOptions {
    /// Directory holding `create-job.zip` and `track.zip`, relative to the template's directory,
    /// with `/` separators (e.g. `../../dist/lambda`).
    pub lambda_dir: String,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions { lambda_dir: "dist/lambda".into() }
    }
}

/// Builds the stack model from a validated config, one resource group at a time; reports the
/// limits the stack would exceed.
pub fn build(config: &Config, options: &ModelOptions) -> Result<Stack, Report> {
    let project = config.project.name.as_str();

    // Logical IDs from names must stay unique after folding (`a-b` and `a_b` collide). Validation
    // reports the same; a config built in code may not have been validated.
    let mut diags = names::logical_id_collisions(config.clusters.keys(), "clusters");
    diags.extend(names::logical_id_collisions(config.job_types.keys(), "job_types"));
    diags.extend(names::logical_id_collisions(config.schedules.keys(), "schedules"));

    diags.extend(nested::pin_problems(config));
    let (clusters, cluster_refs) = clusters::clusters(config, &mut diags);
    let job_types::JobTypes { mut launch, task_definitions, grants, used_clusters } =
        job_types::job_types(config, &cluster_refs, &mut diags);
    // Every task gets the stack's tags at RunTask (see `contract::LaunchTable::tags`).
    let tags = tags(config);
    launch.tags = tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect();
    let schedules = schedules::schedules(config, functions::CREATE_JOB_FUNCTION_ID);
    launch.schedules = schedules.entries.clone();
    let table = table::jobs_table(config);
    let config_layer = config_layer::config_layer(config);

    // RunTask, StopTask and the reconciler's reads only in clusters some job type runs on.
    let used: Vec<iam::ClusterArns> = used_clusters
        .iter()
        .filter_map(|i| cluster_refs.get(*i))
        .map(|c| iam::ClusterArns {
            cluster: c.arn.clone(),
            tasks: c.task_arns.clone(),
            container_instances: c.container_instance_arns.clone(),
        })
        .collect();
    let timers = timers::timers(
        project,
        timers::Track {
            id: functions::TRACK_FUNCTION_ID,
            name: &names::track_function(project),
            dlq_id: functions::TRACK_DLQ_ID,
            dlq_name: &names::track_dlq(project),
        },
    );
    let shared = functions::Shared {
        table_id: &table.id,
        layer_id: &config_layer.id,
        launch: &launch,
        lambda_dir: &options.lambda_dir,
        grants: &grants,
        clusters: &used,
        project,
        timers: &timers,
    };
    let create_job = functions::create_job(config, shared);
    let (track, track_dlq) = functions::track(config, shared);
    let rule = rule::rule(config, &cluster_refs);
    let alarms = alarms::alarms(
        config,
        alarms::Watched {
            rule_dlq: &rule.dlq,
            track_dlq: &track_dlq,
            track: &track.id,
            schedule_dlq: schedules.dlq.as_ref(),
        },
    );
    let create_job_url_id = "CreateJobUrl".to_string();
    let create_job_invoke_policy = iam::create_job_invoke_policy(project, &create_job.id);
    let outputs = outputs::outputs(
        outputs::Ids {
            table: &table.id,
            create_job: &create_job.id,
            create_job_url: &create_job_url_id,
            create_job_invoke_policy: &create_job_invoke_policy.id,
            track: &track.id,
            rule: &rule.id,
            rule_dlq: &rule.dlq.id,
            track_dlq: &track_dlq.id,
            schedule_group: &timers.group.id,
        },
        &cluster_refs,
    );

    let mut stack = Stack {
        header: Header { generator: "jobgen", version: env!("CARGO_PKG_VERSION") },
        description: format!(
            "jobgen {project}: on-demand ECS Fargate jobs (jobs table, create-job and track functions, task state rule)"
        ),
        project: project.into(),
        tags,
        table,
        config_layer,
        create_job,
        create_job_url_id,
        create_job_invoke_policy,
        track,
        track_dlq,
        timers,
        schedules,
        track_invoke_config_id: "TrackInvokeConfig".into(),
        track_max_retry_attempts: 2,
        track_max_event_age_seconds: 6 * 3600,
        dlq_retention_seconds: 14 * 24 * 3600,
        rule,
        clusters,
        task_definitions,
        nested_stacks: Vec::new(),
        alarms,
        rules: rules::rules(config),
        outputs,
        log_stream_prefix: LOG_STREAM_PREFIX,
        launch_table: launch,
    };

    // Past one stack's resources (or with a job type pinned), the job types go into nested stacks.
    if nested::wanted(config, stack.resource_count(), crate::quotas::CFN_RESOURCES.max) {
        stack.nested_stacks = nested::split(config, std::mem::take(&mut stack.task_definitions));
    }

    diags.extend(limits::check(&stack, config));
    if diags.is_empty() { Ok(stack) } else { Err(Report::from(diags)) }
}

/// The project's tags, with `jobgen:project` first unless the project sets it (validation admits it
/// only with the project's name as its value).
fn tags(config: &Config) -> Vec<Tag> {
    let project = config.project.name.as_str();
    let mut tags: Vec<Tag> =
        config.project.tags.iter().map(|(k, v)| Tag { key: k.clone(), value: v.clone() }).collect();
    if !config.project.tags.contains_key(contract::PROJECT_TAG) {
        tags.insert(0, Tag { key: contract::PROJECT_TAG.into(), value: project.into() });
    }
    tags
}
