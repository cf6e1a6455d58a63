//! Every AWS quota the stack depends on that the model can compute ([`crate::quotas`]): sizes of
//! IAM policies, the event pattern and task definitions, names and descriptions, counts of
//! resources, outputs and tags, and the rendered template's size. Each excess is a [`Diagnostic`]
//! on the config path to blame, with a fix, like a validation error.
//!
//! Sizes are of the values CloudFormation resolves at deploy time, so every intrinsic counts at
//! its worst-case length ([`Resolver`]): the longest partition, region and account id, the longest
//! name CloudFormation may generate for a resource jobgen does not name, and the exact name for
//! one it does.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::iam::Role;
use super::stack::Stack;
use crate::config::Config;
use crate::diagnostics::{Diagnostic, Report};
use crate::quotas::{self, Quota};

pub use crate::quotas::{WORST_ACCOUNT, WORST_PARTITION, WORST_REGION};
/// Longest `AWS::URLSuffix` (`amazonaws.com.cn`).
pub const WORST_URL_SUFFIX: usize = 16;
/// Longest name CloudFormation generates for a role jobgen does not name.
pub const WORST_ROLE_NAME: usize = quotas::MAX_ROLE_NAME_LEN;
/// Longest name of a managed policy (CloudFormation generates the create-job caller's).
/// <https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html>
pub const WORST_MANAGED_POLICY_NAME: usize = 128;
/// Longest name CloudFormation generates for the jobs table.
pub const WORST_TABLE_NAME: usize = quotas::MAX_TABLE_NAME_LEN;
/// Longest value of an intrinsic the resolver does not know (the longest ARN most services accept).
pub const UNKNOWN_VALUE: usize = 2048;
/// What `aws cloudformation package` adds to the template when it rewrites the two functions'
/// `Code` and the layer's `Content` from a local path to `S3Bucket` (≤ 63 characters) and
/// `S3Key` (≤ 1,024): counted on top of the rendered size.
pub const PACKAGING_ALLOWANCE: usize = 3 * (63 + 1024 + 32);

/// Checks the stack against every quota but the template size (which needs the rendered text:
/// [`check_template_size`]).
pub fn check(stack: &Stack, config: &Config) -> Vec<Diagnostic> {
    let resolver = Resolver::new(stack);
    let mut c = Checker { diags: Vec::new() };
    let project_help = "use a shorter project name";

    // CloudFormation. A project past one stack's resources has its job types in nested stacks
    // already; what still fills the root is its schedules and clusters.
    if stack.nested_stacks.is_empty() {
        c.over(
            &quotas::CFN_RESOURCES,
            stack.resource_count(),
            "job_types",
            "the stack",
            "split the job types into several projects, or reference existing task definitions with `task_definition` (each job type with `task` adds 4 resources: task definition, log group, task role, execution role)",
        );
    } else {
        let path = if stack.schedules.resource_count() > stack.clusters.len() { "schedules" } else { "clusters" };
        c.over(
            &quotas::CFN_RESOURCES,
            stack.resource_count(),
            path,
            "the root stack (its job types are in nested stacks)",
            "use fewer schedules or created clusters, or split the project into several projects",
        );
    }
    nested_stacks(&mut c, stack, config);
    c.over(
        &quotas::CFN_OUTPUTS,
        stack.outputs.len(),
        "clusters",
        "the stack's outputs",
        "use fewer clusters: each adds an output with its ARN",
    );
    c.over(
        &quotas::CFN_TEMPLATE_DESCRIPTION,
        stack.description.len(),
        "project.name",
        "the template description",
        project_help,
    );
    for (id, path) in logical_ids(stack) {
        c.over(&quotas::CFN_LOGICAL_ID, id.len(), &path, format!("the logical ID `{id}`"), "use a shorter name");
    }
    for o in &stack.outputs {
        c.over(
            &quotas::CFN_OUTPUT_NAME,
            o.name.len(),
            &o.source,
            format!("the output name `{}`", o.name),
            "use a shorter name",
        );
    }
    c.over(
        &quotas::TAGS_PER_RESOURCE,
        stack.tags.len(),
        "project.tags",
        "the tags on every resource (the project's and `jobgen:project`)",
        format!(
            "remove tags: jobgen adds `jobgen:project` unless the project sets it, so at most {} of your own",
            quotas::MAX_TAGS - 1
        ),
    );

    // IAM.
    let roles = roles(stack, config);
    for (role, path, help) in &roles {
        let chars: usize = role_policy_chars(&resolver, role);
        c.over(
            &quotas::IAM_ROLE_INLINE_POLICIES,
            chars,
            path,
            format!("the policies of role {}", role.id),
            help.as_str(),
        );
        let trust = json_len(&resolver.resolve(&trust_policy(role)), false);
        c.over(
            &quotas::IAM_TRUST_POLICY,
            trust,
            "",
            format!("the trust policy of role {}", role.id),
            "raise the account's \"Role trust policy length\" quota in Service Quotas (up to 4,096)",
        );
        let named = if path.starts_with("job_types.") { job_type_path(path) } else { "project.name".to_string() };
        c.over(
            &quotas::IAM_ROLE_DESCRIPTION,
            role.description.chars().count(),
            &named,
            format!("the description of role {}", role.id),
            "use a shorter name",
        );
    }
    let iam_paths: std::collections::BTreeSet<&str> = roles.iter().filter_map(|(r, _, _)| r.path.as_deref()).collect();
    for p in iam_paths {
        c.over(&quotas::IAM_PATH, p.len(), "project.name", format!("the IAM path `{p}`"), project_help);
    }

    // Lambda.
    for f in [&stack.create_job, &stack.track] {
        c.over(
            &quotas::LAMBDA_FUNCTION_NAME,
            f.name.len(),
            "project.name",
            format!("the function name `{}`", f.name),
            project_help,
        );
        c.over(
            &quotas::LAMBDA_FUNCTION_DESCRIPTION,
            f.description.chars().count(),
            "project.name",
            format!("the description of {}", f.name),
            project_help,
        );
        c.over(
            &quotas::LOG_GROUP_NAME,
            f.log_group.name.len(),
            "project.name",
            format!("the log group name `{}`", f.log_group.name),
            project_help,
        );
    }
    // Both functions get the same environment.
    let env = stack.create_job.environment_worst_case_bytes().max(stack.track.environment_worst_case_bytes());
    c.over(&quotas::LAMBDA_ENVIRONMENT, env, "project.name", "the functions' environment", project_help);
    let layer = &stack.config_layer;
    c.over(
        &quotas::LAMBDA_LAYER_NAME,
        layer.name.len(),
        "project.name",
        format!("the layer name `{}`", layer.name),
        project_help,
    );
    c.over(
        &quotas::LAMBDA_LAYER_DESCRIPTION,
        layer.description.chars().count(),
        "project.name",
        "the config layer's description",
        project_help,
    );

    // EventBridge and SQS.
    let rule = &stack.rule;
    c.over(
        &quotas::EVENTBRIDGE_RULE_NAME,
        rule.name.len(),
        "project.name",
        format!("the rule name `{}`", rule.name),
        project_help,
    );
    c.over(
        &quotas::EVENTBRIDGE_RULE_DESCRIPTION,
        rule.description.chars().count(),
        "project.name",
        "the rule's description",
        project_help,
    );
    c.over(
        &quotas::EVENTBRIDGE_PATTERN,
        json_len(&resolver.resolve(&rule.pattern), true),
        "clusters",
        "the rule's event pattern (every cluster's ARN)",
        "use fewer clusters, or name existing clusters rather than give their ARNs; or raise the account's \"Event pattern size\" quota (up to 4,096)",
    );
    c.over(
        &quotas::SCHEDULER_GROUP_NAME,
        stack.timers.group.name.len(),
        "project.name",
        format!("the schedule group name `{}`", stack.timers.group.name),
        project_help,
    );
    for q in [&stack.track_dlq, &rule.dlq] {
        c.over(
            &quotas::SQS_QUEUE_NAME,
            q.name.len(),
            "project.name",
            format!("the queue name `{}`", q.name),
            project_help,
        );
    }

    // ECS.
    c.over(
        &quotas::ECS_STARTED_BY,
        rule.started_by.len(),
        "project.name",
        format!("startedBy `{}`", rule.started_by),
        project_help,
    );
    for cluster in &stack.clusters {
        c.over(
            &quotas::ECS_CLUSTER_NAME,
            cluster.name.len(),
            format!("clusters.{}", cluster.config_name),
            format!("the cluster name `{}`", cluster.name),
            "use a shorter cluster or project name",
        );
    }
    for td in stack.all_task_definitions() {
        let path = format!("job_types.{}", td.job_type);
        let help = "use a shorter job type or project name";
        c.over(&quotas::ECS_FAMILY, td.family.len(), &path, format!("the family `{}`", td.family), help);
        c.over(
            &quotas::LOG_GROUP_NAME,
            td.log_group.name.len(),
            &path,
            format!("the log group name `{}`", td.log_group.name),
            help,
        );
        c.over(
            &quotas::ECS_TASK_DEFINITION_SIZE,
            json_len(&resolver.resolve(&register_task_definition(stack, td)), false),
            format!("{path}.task.environment"),
            format!("the task definition of job type {}", td.job_type),
            "move large values out of `environment` and `command`: into SSM parameters read through `secrets`, or into the image",
        );
    }
    c.diags
}

/// Checks the rendered template's size (plus what packaging adds) against CloudFormation's limit
/// for a template read from S3.
pub fn check_template_size(bytes: usize) -> Result<(), Report> {
    check_template_sizes(bytes, 0, &[])
}

/// What `aws cloudformation package` adds to the root for each nested stack: its `TemplateURL`
/// from a local path to an S3 URL (`https://s3.REGION.amazonaws.com/BUCKET/KEY`, a bucket name of
/// at most 63 characters and a key of at most 1,024).
pub const NESTED_URL_ALLOWANCE: usize = "https://s3..amazonaws.com//".len() + WORST_REGION + 63 + 1024;

/// Checks the root template's size (`root`, plus what packaging adds to it, the nested stacks'
/// `TemplateURL`s among it) and each nested template's (`nested`: its file and size) against
/// CloudFormation's limit for a template read from S3. Packaging changes nothing in a nested
/// template: it holds no local artifact.
pub fn check_template_sizes(root: usize, nested_stacks: usize, nested: &[(String, usize)]) -> Result<(), Report> {
    let mut c = Checker { diags: Vec::new() };
    c.over(
        &quotas::CFN_TEMPLATE_BODY_S3,
        root + PACKAGING_ALLOWANCE + nested_stacks * NESTED_URL_ALLOWANCE,
        "job_types",
        "the packaged template",
        "split the job types into several projects",
    );
    for (file, bytes) in nested {
        c.over(
            &quotas::CFN_TEMPLATE_BODY_S3,
            *bytes,
            "job_types",
            format!("the nested template {file}"),
            "pin some of its job types to another nested stack with `job_types.NAME.nested_stack: N`, or move large values out of their `environment` and `command`",
        );
    }
    if c.diags.is_empty() { Ok(()) } else { Err(Report::from(c.diags)) }
}

/// Each nested stack's resources and parameters; the blame goes to its job types, the fix is a
/// pin to a stack with room.
fn nested_stacks(c: &mut Checker, stack: &Stack, config: &Config) {
    let per_job_type = 4;
    let capacity = quotas::CFN_RESOURCES.max / per_job_type;
    let room: Vec<String> = (0..crate::names::NESTED_STACKS)
        .filter_map(|i| {
            let used = stack.nested_stacks.iter().find(|n| n.index == i).map_or(0, |n| n.task_definitions.len());
            (used < capacity).then(|| format!("{i} ({} free)", capacity - used))
        })
        .collect();
    for n in &stack.nested_stacks {
        let names: Vec<&str> = n.task_definitions.iter().map(|td| td.job_type.as_str()).collect();
        // The unpinned job types are the ones a pin can move without moving a pinned one again.
        let movable: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| config.job_types.get(*name).is_some_and(|jt| jt.nested_stack.is_none()))
            .collect();
        let path = movable.last().or(names.last()).map_or("job_types".to_string(), |name| format!("job_types.{name}"));
        c.over(
            &quotas::CFN_RESOURCES,
            n.resource_count(),
            path,
            format!("nested stack {} ({}, {} job types with `task`)", n.id, n.file, names.len()),
            format!(
                "move some of its job types to a nested stack with room with `job_types.NAME.nested_stack: N` (stacks with room: {}); pinning a deployed job type replaces its resources once",
                if room.is_empty() { "none: split the project into several projects".to_string() } else { room.join(", ") }
            ),
        );
        c.over(
            &quotas::CFN_PARAMETERS,
            n.parameters.len(),
            "job_types",
            format!("nested stack {}'s template", n.id),
            "this is a jobgen bug: a nested stack takes at most one parameter",
        );
    }
}

/// The size IAM counts for a role's inline policies: every policy document, whitespace not
/// counted, intrinsics at their worst-case length.
pub fn role_policy_chars(resolver: &Resolver, role: &Role) -> usize {
    role.policies.iter().map(|p| json_len(&resolver.resolve(&policy_document(&p.statements)), false)).sum()
}

struct Checker {
    diags: Vec<Diagnostic>,
}

impl Checker {
    fn over(
        &mut self,
        quota: &Quota,
        measured: usize,
        path: impl Into<String>,
        subject: impl std::fmt::Display,
        help: impl Into<String>,
    ) {
        if measured > quota.max {
            self.diags.push(Diagnostic::new(
                path,
                format!(
                    "{subject} would have {measured} {unit}: AWS allows at most {max} {unit} {scope}",
                    unit = quota.unit,
                    max = quota.max,
                    scope = quota.scope
                ),
                help,
            ));
        }
    }
}

/// `job_types.NAME.task.policies` → `job_types.NAME`.
fn job_type_path(path: &str) -> String {
    path.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

/// Every role, with the config path its policies grow with and how to shrink them.
fn roles<'a>(stack: &'a Stack, config: &Config) -> Vec<(&'a Role, String, String)> {
    // The functions' policies grow only with existing task definitions (their ARNs and role ARNs)
    // and clusters (their ARNs and task ARN patterns, which both get: both launch tasks; track, the
    // larger, names each cluster seven times with the reconciler's statements): blame
    // whichever contributes more.
    let existing: usize = config
        .job_types
        .values()
        .filter_map(|jt| jt.task_definition.as_ref())
        .map(|td| {
            td.name.len()
                + [&td.task_role_arn, &td.execution_role_arn].into_iter().flatten().map(String::len).sum::<usize>()
        })
        .sum();
    let clusters: usize =
        config.clusters.iter().map(|(n, c)| 7 * (n.len() + c.existing.as_ref().map_or(0, String::len) + 60)).sum();
    let functions_path = if existing > clusters { "job_types" } else { "clusters" };
    let functions_help = "reference fewer existing task definitions (each adds its ARN and role ARNs to the policies of create-job and track), or use fewer clusters";
    let mut out = vec![
        (&stack.create_job.role, functions_path.to_string(), functions_help.to_string()),
        (&stack.track.role, functions_path.to_string(), functions_help.to_string()),
        // Fixed statements (track's ARN and its queue's): only a longer project name grows it.
        (&stack.timers.role, "project.name".to_string(), "use a shorter project name".to_string()),
    ];
    for td in stack.all_task_definitions() {
        let path = format!("job_types.{}.task", td.job_type);
        out.push((
            &td.task_role,
            format!("{path}.policies"),
            "combine statements: one statement may list several actions and resources, and use wildcards".to_string(),
        ));
        out.push((
            &td.execution_role,
            format!("{path}.secrets"),
            "reference fewer secrets, e.g. one Secrets Manager secret holding several values as JSON keys".to_string(),
        ));
    }
    out
}

/// Every logical ID with the config path it is derived from (empty for the fixed ones).
fn logical_ids(stack: &Stack) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let clusters: BTreeMap<&str, String> =
        stack.clusters.iter().map(|c| (c.id.as_str(), format!("clusters.{}", c.config_name))).collect();
    let job_types: BTreeMap<String, String> = stack
        .all_task_definitions()
        .flat_map(|td| {
            let path = format!("job_types.{}", td.job_type);
            [&td.id, &td.log_group.id, &td.task_role.id, &td.execution_role.id].map(|id| (id.clone(), path.clone()))
        })
        .collect();
    for id in stack.logical_ids() {
        let path = clusters.get(id.as_str()).cloned().or_else(|| job_types.get(&id).cloned()).unwrap_or_default();
        out.push((id, path));
    }
    out
}

/// A policy document as CloudFormation hands it to IAM.
pub fn policy_document(statements: &[super::iam::Statement]) -> Value {
    let statements: Vec<Value> = statements
        .iter()
        .map(|s| {
            let mut m = Map::new();
            m.insert("Sid".into(), json!(s.sid));
            m.insert("Effect".into(), json!(s.effect));
            m.insert("Action".into(), json!(s.actions));
            m.insert("Resource".into(), Value::Array(s.resources.clone()));
            if !s.condition.is_null() {
                m.insert("Condition".into(), s.condition.clone());
            }
            Value::Object(m)
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// A role's trust policy as CloudFormation hands it to IAM.
pub fn trust_policy(role: &Role) -> Value {
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": { "Service": role.service },
        "Action": "sts:AssumeRole",
    });
    if !role.assume_condition.is_null()
        && let Some(m) = statement.as_object_mut()
    {
        m.insert("Condition".into(), role.assume_condition.clone());
    }
    json!({ "Version": "2012-10-17", "Statement": [statement] })
}

/// A task definition as RegisterTaskDefinition receives it (what ECS's size quota measures), with
/// the stack's tags.
pub fn register_task_definition(stack: &Stack, td: &super::task_definitions::TaskDefinition) -> Value {
    let pairs = |v: &[super::task_definitions::NameValue], value: &str| -> Value {
        v.iter()
            .map(|nv| {
                let mut m = Map::new();
                m.insert("name".into(), json!(nv.name));
                m.insert(value.into(), json!(nv.value));
                Value::Object(m)
            })
            .collect()
    };
    json!({
        "family": td.family,
        "taskRoleArn": { "Fn::GetAtt": [td.task_role.id, "Arn"] },
        "executionRoleArn": { "Fn::GetAtt": [td.execution_role.id, "Arn"] },
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": td.cpu,
        "memory": td.memory.to_string(),
        "runtimePlatform": { "cpuArchitecture": td.architecture, "operatingSystemFamily": "LINUX" },
        "ephemeralStorage": { "sizeInGiB": td.ephemeral_storage_gib },
        "containerDefinitions": [{
            "name": td.container_name,
            "image": td.image,
            "essential": true,
            "memory": td.memory,
            "command": td.command,
            "environment": pairs(&td.environment, "value"),
            "secrets": pairs(&td.secrets, "valueFrom"),
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": td.log_group.name,
                    "awslogs-region": { "Ref": "AWS::Region" },
                    "awslogs-stream-prefix": stack.log_stream_prefix,
                },
            },
        }],
        "tags": stack.tags.iter().map(|t| json!({ "key": t.key, "value": t.value })).collect::<Vec<_>>(),
    })
}

/// Worst-case lengths of what CloudFormation resolves `Ref`, `Fn::GetAtt` and `Fn::Sub` to in this
/// stack, by logical ID.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    refs: BTreeMap<String, usize>,
    arns: BTreeMap<String, usize>,
}

/// Length of `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` (`regional` false: empty region, IAM).
fn arn_len(service: &str, regional: bool, resource: usize) -> usize {
    quotas::worst_arn_len(service, regional, resource)
}

impl Resolver {
    /// The lengths for every resource of `stack`.
    pub fn new(stack: &Stack) -> Self {
        let mut r = Resolver::default();
        let mut add = |id: &str, reference: usize, arn: usize| {
            r.refs.insert(id.to_string(), reference);
            r.arns.insert(id.to_string(), arn);
        };
        add(&stack.table.id, WORST_TABLE_NAME, arn_len("dynamodb", true, "table/".len() + WORST_TABLE_NAME));
        let layer = &stack.config_layer;
        // Ref of a layer version is its ARN, `…:layer:NAME:VERSION`.
        let layer_arn = arn_len("lambda", true, "layer:".len() + layer.name.len() + 1 + 10);
        add(&layer.id, layer_arn, layer_arn);
        for f in [&stack.create_job, &stack.track] {
            add(&f.id, f.name.len(), arn_len("lambda", true, "function:".len() + f.name.len()));
            let log = &f.log_group;
            add(&log.id, log.name.len(), arn_len("logs", true, "log-group:".len() + log.name.len() + ":*".len()));
        }
        // Ref of a managed policy is its ARN, `arn:…:iam::ACCOUNT:policy/NAME`; CloudFormation
        // generates the name (at most 128 characters).
        let policy_arn = arn_len("iam", false, "policy/".len() + WORST_MANAGED_POLICY_NAME);
        add(&stack.create_job_invoke_policy.id, policy_arn, policy_arn);
        let url = "https://".len() + 32 + ".lambda-url.".len() + WORST_REGION + ".on.aws/".len();
        add(&stack.create_job_url_id, url, url);
        for q in [&stack.track_dlq, &stack.rule.dlq].into_iter().chain(stack.schedules.dlq.as_ref()) {
            let queue_url =
                "https://sqs.".len() + WORST_REGION + 1 + WORST_URL_SUFFIX + 1 + WORST_ACCOUNT + 1 + q.name.len();
            add(&q.id, queue_url, arn_len("sqs", true, q.name.len()));
        }
        add(&stack.rule.id, stack.rule.name.len(), arn_len("events", true, "rule/".len() + stack.rule.name.len()));
        for c in &stack.clusters {
            add(&c.id, c.name.len(), arn_len("ecs", true, "cluster/".len() + c.name.len()));
        }
        // Ref of a schedule group is its name; of a schedule, its name too.
        let group = &stack.timers.group;
        add(&group.id, group.name.len(), arn_len("scheduler", true, "schedule-group/".len() + group.name.len()));
        let schedule = &stack.timers.reconcile;
        let schedule_arn = arn_len("scheduler", true, "schedule/".len() + group.name.len() + 1 + schedule.name.len());
        add(&schedule.id, schedule.name.len(), schedule_arn);
        for s in &stack.schedules.schedules {
            let arn = arn_len("scheduler", true, "schedule/".len() + group.name.len() + 1 + s.name.len());
            add(&s.id, s.name.len(), arn);
        }
        let mut roles: Vec<&Role> = vec![&stack.create_job.role, &stack.track.role, &stack.timers.role];
        roles.extend(stack.schedules.role.as_ref());
        // A nested stack's parameter for the table's ARN resolves to the table's ARN.
        let table_arn = arn_len("dynamodb", true, "table/".len() + WORST_TABLE_NAME);
        add(super::nested::JOBS_TABLE_ARN_PARAMETER, table_arn, table_arn);
        for n in &stack.nested_stacks {
            // Ref of a nested stack is its stack ID.
            let id = Self::pseudo("AWS::StackId").unwrap_or(UNKNOWN_VALUE);
            add(&n.id, id, id);
        }
        for td in stack.all_task_definitions() {
            // Ref of a task definition is its ARN, `…:task-definition/FAMILY:REVISION` (at most
            // 1,000,000 revisions per family).
            let td_arn = arn_len("ecs", true, "task-definition/".len() + td.family.len() + 1 + 7);
            add(&td.id, td_arn, td_arn);
            let log = &td.log_group;
            add(&log.id, log.name.len(), arn_len("logs", true, "log-group:".len() + log.name.len() + ":*".len()));
            roles.extend([&td.task_role, &td.execution_role]);
        }
        for role in roles {
            let path = role.path.as_deref().map_or(1, str::len);
            add(&role.id, WORST_ROLE_NAME, arn_len("iam", false, "role".len() + path + WORST_ROLE_NAME));
        }
        r
    }

    fn pseudo(name: &str) -> Option<usize> {
        Some(match name {
            "AWS::Partition" => WORST_PARTITION,
            "AWS::Region" => WORST_REGION,
            "AWS::AccountId" => WORST_ACCOUNT,
            "AWS::URLSuffix" => WORST_URL_SUFFIX,
            "AWS::StackName" => 128,
            "AWS::StackId" => arn_len("cloudformation", true, "stack/".len() + 128 + 1 + 36),
            _ => return None,
        })
    }

    fn reference(&self, name: &str) -> usize {
        Self::pseudo(name).or_else(|| self.refs.get(name).copied()).unwrap_or(UNKNOWN_VALUE)
    }

    /// `Fn::GetAtt [id, attr]`: `Arn`, or the one other attribute the stack reads (the function
    /// URL's `FunctionUrl`, recorded as its reference).
    fn attribute(&self, id: &str, attr: &str) -> usize {
        let lengths = if attr == "Arn" { &self.arns } else { &self.refs };
        lengths.get(id).copied().unwrap_or(UNKNOWN_VALUE)
    }

    /// Worst-case length of an `Fn::Sub` string once substituted.
    fn sub(&self, template: &str) -> usize {
        let mut len = 0;
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            len += start;
            let after = &rest[start + 2..];
            if let Some(literal) = after.strip_prefix('!') {
                // `${!x}` is the literal `${x}`.
                len += 2;
                rest = literal;
                continue;
            }
            let Some(end) = after.find('}') else {
                return len + rest.len() - start;
            };
            let var = &after[..end];
            len += match var.split_once('.') {
                Some((id, attr)) => self.attribute(id, attr),
                None => self.reference(var),
            };
            rest = &after[end + 1..];
        }
        len + rest.len()
    }

    /// `value` with every intrinsic replaced by a string of its worst-case length.
    pub fn resolve(&self, value: &Value) -> Value {
        let placeholder = |n: usize| Value::String("x".repeat(n));
        match value {
            Value::Object(m) if m.len() == 1 => {
                let (k, v) = m.iter().next().map(|(k, v)| (k.as_str(), v)).unwrap_or(("", &Value::Null));
                match (k, v) {
                    ("Ref", Value::String(name)) => placeholder(self.reference(name)),
                    ("Fn::GetAtt", Value::Array(a)) => {
                        match (a.first().and_then(Value::as_str), a.get(1).and_then(Value::as_str)) {
                            (Some(id), Some(attr)) => placeholder(self.attribute(id, attr)),
                            _ => placeholder(UNKNOWN_VALUE),
                        }
                    }
                    ("Fn::Sub", Value::String(s)) => placeholder(self.sub(s)),
                    _ => Value::Object(m.iter().map(|(k, v)| (k.clone(), self.resolve(v))).collect()),
                }
            }
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), self.resolve(v))).collect()),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.resolve(v)).collect()),
            other => other.clone(),
        }
    }

    /// Every `Ref`/`Fn::GetAtt`/`Fn::Sub` name in `value` the resolver has no length for (counted
    /// at [`UNKNOWN_VALUE`]): empty for every stack jobgen builds, which a test proves.
    pub fn unknown(&self, value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        let mut known = |name: &str| {
            if Self::pseudo(name).is_none() && !self.refs.contains_key(name) {
                out.push(name.to_string());
            }
        };
        let mut stack = vec![value];
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(name)) = m.get("Ref") {
                        known(name);
                    }
                    if let Some(id) = m.get("Fn::GetAtt").and_then(|a| a.get(0)).and_then(Value::as_str) {
                        known(id);
                    }
                    if let Some(Value::String(s)) = m.get("Fn::Sub") {
                        for var in s.split("${").skip(1).filter(|v| !v.starts_with('!')) {
                            let var = var.split('}').next().unwrap_or_default();
                            known(var.split('.').next().unwrap_or_default());
                        }
                    }
                    stack.extend(m.values());
                }
                Value::Array(a) => stack.extend(a),
                _ => {}
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// The length of `value` serialized as JSON: compact (`spaced` false: what IAM counts, which
/// ignores whitespace) or with a space after every `:` and `,` (an upper bound for services that
/// count the text as sent).
pub fn json_len(value: &Value, spaced: bool) -> usize {
    let sep = if spaced { 2 } else { 1 };
    match value {
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => serde_json::to_string(s).map_or(s.len() + 2, |t| t.len()),
        Value::Array(a) => 2 + a.iter().map(|v| json_len(v, spaced)).sum::<usize>() + a.len().saturating_sub(1) * sep,
        Value::Object(m) => {
            2 + m
                .iter()
                .map(|(k, v)| json_len(&Value::String(k.clone()), spaced) + sep + json_len(v, spaced))
                .sum::<usize>()
                + m.len().saturating_sub(1) * sep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_len_is_the_serialized_length() {
        let v = json!({"a": [1, "x\"y", null, true], "b": {"c": false}});
        assert_eq!(json_len(&v, false), serde_json::to_string(&v).map(|s| s.len()).unwrap_or_default());
        // `{"a": [1, "x\"y", null, true], "b": {"c": false}}`: one more per `:` and `,`.
        assert_eq!(json_len(&v, true), json_len(&v, false) + 3 + 4);
    }

    #[test]
    fn sub_strings_resolve_to_their_worst_case() {
        let r = Resolver::default();
        assert_eq!(r.sub("arn:${AWS::Partition}:x"), 4 + WORST_PARTITION + 2);
        assert_eq!(r.sub("a${!literal}b"), "a${literal}b".len());
        assert_eq!(r.sub("${Unknown}"), UNKNOWN_VALUE);
        let v = json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x/*"});
        assert_eq!(r.resolve(&v), json!("x".repeat(r.sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x/*"))));
        assert!(r.unknown(&v).is_empty());
        assert_eq!(r.unknown(&json!([{"Ref": "Nope"}, {"Fn::GetAtt": ["Gone", "Arn"]}])), ["Gone", "Nope"]);
    }
}
