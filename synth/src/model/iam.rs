//! IAM: every role the stack creates and its inline policies, values already in CloudFormation
//! form. Both functions launch tasks (create-job a new job's, track the queued job it admits when
//! a running one stops, through the same launch service), so both get the same launch statements
//! ([`launch_statements`]): run this project's task definitions in this stack's clusters, tag
//! the tasks they start, stop this project's tasks there, pass this stack's task roles to ECS. Both read and write job records and limit
//! items in the jobs table and query its queue index ([`table_statements`]); create-job also puts
//! new jobs, track also writes its dead-letter queue and reads the tasks of this stack's clusters
//! for the reconciler ([`reconcile_statements`]); both arm timers (`super::timers`: CreateSchedule
//! in the project's schedule group, PassRole of the timer role to Scheduler). Per job type, a task role (the job's own
//! statements) and an execution role (image pull, its log group, its secrets). And the managed
//! policy a caller of create-job attaches ([`create_job_invoke_policy`]).

use jobgen_runtime::contract;
use serde::Serialize;
use serde_json::{Value, json};

use super::shapes::{LogGroup, Queue, get_att, local_arn, sub, sub_escape};
use super::suppressions::Suppressions;
use crate::config::{self, Effect};
use crate::names;

/// One IAM policy statement, values already in CloudFormation form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    /// A short id, unique within its policy (`Sid`).
    pub sid: String,
    /// `Allow` or `Deny`.
    pub effect: &'static str,
    /// Actions.
    pub actions: Vec<String>,
    /// Resources (strings or intrinsics).
    pub resources: Vec<Value>,
    /// The `Condition` block, or `null`.
    pub condition: Value,
}

/// An inline policy on a role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    /// `PolicyName`.
    pub name: String,
    /// Its statements (never empty: an empty policy is not rendered).
    pub statements: Vec<Statement>,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Role {
    /// Logical ID.
    pub id: String,
    /// `Path`, or `None` for the default `/`.
    pub path: Option<String>,
    /// What it is for (rendered as `Description`).
    pub description: String,
    /// The service that assumes it.
    pub service: &'static str,
    /// Condition on the trust policy (`null` for none).
    pub assume_condition: Value,
    /// Inline policies.
    pub policies: Vec<Policy>,
    /// Scanner suppressions (none today: every role passes).
    pub suppressions: Suppressions,
}

/// A customer managed policy the stack creates for others to attach.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManagedPolicy {
    /// Logical ID (`Ref` is the policy's ARN).
    pub id: String,
    /// `Description`.
    pub description: String,
    /// Its statements.
    pub statements: Vec<Statement>,
}

/// The policy a caller of create-job needs, ready to attach to the caller's role or user: both
/// ways in, the direct invoke (`jobgen submit`, the SDK's Invoke) and the function URL.
///
/// - `lambda:InvokeFunction` on the function: a direct invoke needs it, and since October 2025 a
///   new function URL needs it as well as `lambda:InvokeFunctionUrl`
///   (<https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html>). No condition: the only
///   URL-related condition key InvokeFunction supports is `lambda:InvokedViaFunctionUrl`, and
///   requiring it would refuse the direct invokes; `lambda:FunctionUrlAuthType` is not in the
///   action's request context, so a statement conditioned on it would never match.
/// - `lambda:InvokeFunctionUrl` on the function, only while the URL's auth type is AWS_IAM
///   (`lambda:FunctionUrlAuthType`, a condition key of InvokeFunctionUrl:
///   <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html>), so
///   the grant never extends to a URL someone made public.
///
/// Attaching it is a privileged grant: whoever may invoke create-job runs the job types' tasks,
/// with their task roles and secrets (see `job_types.NAME.allow_command_override`).
pub fn create_job_invoke_policy(project: &str, create_job_id: &str) -> ManagedPolicy {
    let function = get_att(create_job_id, "Arn");
    ManagedPolicy {
        id: "CreateJobInvokePolicy".into(),
        description: format!(
            "jobgen {project}: submit jobs to the create-job function (direct invoke and its AWS_IAM function URL); whoever has it runs the project's job types with their task roles and secrets"
        ),
        statements: vec![
            Statement {
                sid: "InvokeCreateJob".into(),
                effect: "Allow",
                actions: vec!["lambda:InvokeFunction".into()],
                resources: vec![function.clone()],
                condition: Value::Null,
            },
            Statement {
                sid: "InvokeCreateJobUrl".into(),
                effect: "Allow",
                actions: vec!["lambda:InvokeFunctionUrl".into()],
                resources: vec![function],
                condition: json!({ "StringEquals": { "lambda:FunctionUrlAuthType": "AWS_IAM" } }),
            },
        ],
    }
}

/// What the functions may launch: the task definitions RunTask may name and the roles it may pass
/// to ECS for them. Task definitions the stack creates are granted by family prefix (any revision, so
/// a stack update that registers a new revision never leaves create-job unable to run it) and
/// their roles by IAM path: one resource each however many job types there are. Existing task
/// definitions and their roles are listed one by one, as the project names them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaunchGrants {
    /// `ecs:RunTask` resources.
    pub run_task: Vec<Value>,
    /// `iam:PassRole` resources.
    pub pass_role: Vec<Value>,
}

impl LaunchGrants {
    fn add(list: &mut Vec<Value>, v: Value) {
        if !list.contains(&v) {
            list.push(v);
        }
    }

    /// Lets the functions run the task definitions the stack creates (`<project>_*`, any revision)
    /// and pass their roles (`role/jobgen/<project>/*`).
    pub fn created(&mut self, project: &str) {
        let family = sub_escape(&names::family_prefix(project));
        Self::add(&mut self.run_task, sub(&local_arn("ecs", &format!("task-definition/{family}*:*"))));
        let path = sub_escape(&names::task_role_path(project));
        Self::add(&mut self.pass_role, sub(&format!("arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{path}*")));
    }

    /// Lets the functions run an existing task definition, passing the roles the project lists for it.
    pub fn existing(&mut self, existing: &config::ExistingTaskDefinition) {
        Self::add(&mut self.run_task, existing_task_definition_arn(&existing.name));
        for arn in [&existing.task_role_arn, &existing.execution_role_arn].into_iter().flatten() {
            Self::add(&mut self.pass_role, json!(arn));
        }
    }
}

/// `logs:CreateLogStream` and `logs:PutLogEvents` on one log group.
pub fn logs_statement(log: &LogGroup) -> Statement {
    Statement {
        sid: "Logs".into(),
        effect: "Allow",
        actions: vec!["logs:CreateLogStream".into(), "logs:PutLogEvents".into()],
        // GetAtt Arn of a log group ends in `:*`, which covers its streams.
        resources: vec![get_att(&log.id, "Arn")],
        condition: Value::Null,
    }
}

/// Only ECS tasks of this account and region may assume a task role (the confused-deputy guard
/// AWS recommends in task role trust policies).
pub fn ecs_tasks_trust_condition() -> Value {
    json!({
        "ArnLike": { "aws:SourceArn": { "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:*" } },
        "StringEquals": { "aws:SourceAccount": { "Ref": "AWS::AccountId" } }
    })
}

/// The jobs table's ARN and its queue index's, as CloudFormation values.
#[derive(Debug, Clone, PartialEq)]
pub struct TableArns {
    /// `GetAtt <table> Arn`.
    pub table: Value,
    /// `<table ARN>/index/byQueue`: IAM authorizes a Query of an index on the index's ARN.
    pub queue_index: Value,
    /// `<table ARN>/index/open`: the open jobs, which the reconciler lists.
    pub open_index: Value,
}

impl TableArns {
    /// The ARNs of the table with logical ID `table_id`.
    pub fn of(table_id: &str) -> Self {
        TableArns {
            table: get_att(table_id, "Arn"),
            queue_index: sub(&format!("${{{table_id}.Arn}}/index/{}", sub_escape(contract::INDEX_BY_QUEUE))),
            open_index: sub(&format!("${{{table_id}.Arn}}/index/{}", sub_escape(contract::INDEX_OPEN))),
        }
    }
}

/// A cluster some job type runs on, as the functions' policies name it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterArns {
    /// The cluster's ARN: the value of the `ecs:cluster` conditions.
    pub cluster: Value,
    /// Every task in it, `…:task/CLUSTER/*`.
    pub tasks: Value,
    /// Every container instance in it, `…:container-instance/CLUSTER/*` (what IAM authorizes
    /// `ecs:ListTasks` on).
    pub container_instances: Value,
}

/// What a function launches in: the task definitions and roles ([`LaunchGrants`]) and the clusters
/// some job type runs on ([`ClusterArns`]), and whose tasks it launches.
#[derive(Debug, Clone, Copy)]
pub struct LaunchAccess<'a> {
    /// RunTask and PassRole resources.
    pub grants: &'a LaunchGrants,
    /// The clusters some job type runs on.
    pub clusters: &'a [ClusterArns],
    /// The project: the value of the [`contract::PROJECT_TAG`] tag on its tasks.
    pub project: &'a str,
    /// Whether RunTask tags the tasks (the configuration document carries tags), which needs
    /// `ecs:TagResource`.
    pub tags_tasks: bool,
}

/// The jobs table for a function: `actions` on the table (job records and limit items), and Query
/// on `indexes` only (the table itself is never queried or scanned).
///
/// A transaction (TransactWriteItems: admit a job and take its slot in one write) needs no action
/// of its own: IAM authorizes each item action in it as the single-item action (`Put` as PutItem,
/// `Update` as UpdateItem) and a `ConditionCheck` as `dynamodb:ConditionCheckItem`
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html>).
pub fn table_statements(arns: &TableArns, actions: &[&str], indexes: &[&Value]) -> Vec<Statement> {
    vec![
        Statement {
            sid: "JobsTable".into(),
            effect: "Allow",
            actions: actions.iter().map(|a| a.to_string()).collect(),
            resources: vec![arns.table.clone()],
            condition: Value::Null,
        },
        Statement {
            sid: "Indexes".into(),
            effect: "Allow",
            actions: vec!["dynamodb:Query".into()],
            resources: indexes.iter().map(|&i| i.clone()).collect(),
            condition: Value::Null,
        },
    ]
}

/// What launching a job's task takes, for both functions (one launch service runs it for both):
/// RunTask of this stack's task definitions, only in the clusters some job type runs on (the
/// `ecs:cluster` condition); tagging the task it creates, and nothing else (`ecs:TagResource` only
/// with `ecs:CreateAction` RunTask: RunTask's `tags` are authorized as TagResource on the new task,
/// <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html>);
/// StopTask of this project's tasks in those clusters (a task ARN names its cluster, and the
/// `aws:ResourceTag/jobgen:project` condition leaves out other projects' tasks in a shared cluster:
/// StopTask supports `aws:ResourceTag`,
/// <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html>),
/// for a job cancelled while it was being launched (`jobgen cancel` saw no task yet, so the launch
/// stops the task it just started); PassRole of this stack's task and execution roles, to ECS
/// tasks only. The same whoever launches, so that admitting a queued job needs nothing create-job
/// lacks and nothing more.
pub fn launch_statements(access: LaunchAccess<'_>) -> Vec<Statement> {
    let cluster_arns: Vec<Value> = access.clusters.iter().map(|c| c.cluster.clone()).collect();
    let cluster_task_arns: Vec<Value> = access.clusters.iter().map(|c| c.tasks.clone()).collect();
    let mut statements = Vec::new();
    if !access.grants.run_task.is_empty() {
        statements.push(Statement {
            sid: "RunTask".into(),
            effect: "Allow",
            actions: vec!["ecs:RunTask".into()],
            resources: access.grants.run_task.clone(),
            condition: json!({ "ArnEquals": { "ecs:cluster": cluster_arns } }),
        });
    }
    if access.tags_tasks && !cluster_task_arns.is_empty() {
        statements.push(Statement {
            sid: "TagNewTasks".into(),
            effect: "Allow",
            actions: vec!["ecs:TagResource".into()],
            resources: cluster_task_arns.clone(),
            condition: json!({ "StringEquals": { "ecs:CreateAction": "RunTask" } }),
        });
    }
    if !cluster_task_arns.is_empty() {
        statements.push(Statement {
            sid: "StopCancelledTask".into(),
            effect: "Allow",
            actions: vec!["ecs:StopTask".into()],
            resources: cluster_task_arns,
            condition: json!({
                "StringEquals": { format!("aws:ResourceTag/{}", contract::PROJECT_TAG): access.project }
            }),
        });
    }
    if !access.grants.pass_role.is_empty() {
        statements.push(Statement {
            sid: "PassTaskRoles".into(),
            effect: "Allow",
            actions: vec!["iam:PassRole".into()],
            resources: access.grants.pass_role.clone(),
            condition: json!({ "StringEquals": { "iam:PassedToService": "ecs-tasks.amazonaws.com" } }),
        });
    }
    statements
}

/// create-job's role; `timers` are the statements that arm a timer ([`super::timers::Timers::statements`]).
pub fn create_job_role(
    project: &str,
    log: &LogGroup,
    table: &TableArns,
    access: LaunchAccess<'_>,
    timers: Vec<Statement>,
) -> Role {
    let mut statements = vec![logs_statement(log)];
    // A conditional put of a new job (queued or not), a read on idempotent replay, conditional
    // updates to claim and record the launch (or, after a cancel during the launch, to put the
    // stopped task on the cancelled record) and to take a slot; the queue, to admit in order.
    statements.extend(table_statements(
        table,
        &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"],
        &[&table.queue_index],
    ));
    statements.extend(launch_statements(access));
    statements.extend(timers);
    Role {
        id: "CreateJobRole".into(),
        path: None,
        description: format!("jobgen {project}: create-job function"),
        service: "lambda.amazonaws.com",
        assume_condition: Value::Null,
        policies: vec![Policy { name: "create-job".into(), statements }],
        suppressions: Suppressions::default(),
    }
}

/// What the reconciler reads, for track only (the recurring schedule invokes track: see
/// `super::timers`): the tasks of this stack's clusters, to repair a job whose task state event was
/// lost from what ECS still knows of its task. Both actions are read-only, and both are scoped to
/// the clusters some job type runs on as tightly as IAM allows, following the Service Authorization
/// Reference ("Actions, resources, and condition keys for Amazon Elastic Container Service",
/// <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html>):
///
/// - `ecs:DescribeTasks` takes the `task` resource type and supports `ecs:cluster`: the task ARNs
///   of those clusters (the pattern StopTask uses), with `ecs:cluster` ArnEquals their ARNs.
/// - `ecs:ListTasks` takes the `container-instance` resource type (required; its ARN is
///   `container-instance/CLUSTER/ID`) and supports `ecs:cluster`: the container-instance ARNs of
///   those clusters, with the same `ecs:cluster` condition, never `*`.
///
/// No `aws:ResourceTag` condition: the reconciler asks ECS about tasks by this project's
/// `startedBy` and by the task ARNs its own job records hold, so the cluster scope is the bound;
/// and a task another project started in a shared cluster tells the reconciler nothing it acts on.
pub fn reconcile_statements(clusters: &[ClusterArns]) -> Vec<Statement> {
    if clusters.is_empty() {
        return Vec::new();
    }
    let in_clusters =
        json!({ "ArnEquals": { "ecs:cluster": clusters.iter().map(|c| c.cluster.clone()).collect::<Vec<_>>() } });
    vec![
        Statement {
            sid: "ReconcileDescribeTasks".into(),
            effect: "Allow",
            actions: vec!["ecs:DescribeTasks".into()],
            resources: clusters.iter().map(|c| c.tasks.clone()).collect(),
            condition: in_clusters.clone(),
        },
        Statement {
            sid: "ReconcileListTasks".into(),
            effect: "Allow",
            actions: vec!["ecs:ListTasks".into()],
            resources: clusters.iter().map(|c| c.container_instances.clone()).collect(),
            condition: in_clusters,
        },
    ]
}

/// track's role: conditional updates per event, its dead-letter queue, what admitting and
/// launching the next queued job takes when a running one stops, arming timers (`timers`), and
/// what the reconciler reads ([`reconcile_statements`]).
pub fn track_role(
    project: &str,
    log: &LogGroup,
    table: &TableArns,
    dlq: &Queue,
    access: LaunchAccess<'_>,
    timers: Vec<Statement>,
) -> Role {
    let mut statements = vec![logs_statement(log)];
    // A conditional UpdateItem per event (no read before write); when a job stops, its slot's
    // release, the queue's oldest job read by key and admitted, then its launch recorded. No
    // PutItem: track never creates a job. The reconciler lists the open jobs (the open index) and
    // reads their records by key (BatchGetItem).
    statements.extend(table_statements(
        table,
        &["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"],
        &[&table.queue_index, &table.open_index],
    ));
    statements.push(Statement {
        sid: "DeadLetterQueue".into(),
        effect: "Allow",
        actions: vec!["sqs:SendMessage".into()],
        resources: vec![get_att(&dlq.id, "Arn")],
        condition: Value::Null,
    });
    statements.extend(launch_statements(access));
    statements.extend(timers);
    statements.extend(reconcile_statements(access.clusters));
    Role {
        id: "TrackRole".into(),
        path: None,
        description: format!("jobgen {project}: track function"),
        service: "lambda.amazonaws.com",
        assume_condition: Value::Null,
        policies: vec![Policy { name: "track".into(), statements }],
        suppressions: Suppressions::default(),
    }
}

/// A job type's task role: the job's own identity, with only the statements the project lists.
pub fn task_role(
    project: &str,
    job_type: &str,
    id_part: &str,
    task: &config::Task,
    progress_table: Option<&str>,
) -> Role {
    let mut statements: Vec<Statement> = task
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| Statement {
            sid: format!("Custom{i}"),
            effect: match p.effect {
                Effect::Allow => "Allow",
                Effect::Deny => "Deny",
            },
            actions: p.actions.clone(),
            resources: p.resources.iter().map(|r| json!(r)).collect(),
            condition: Value::Null,
        })
        .collect();
    if let Some(table) = progress_table {
        statements.push(progress_statement(table));
    }
    let policies = if statements.is_empty() { vec![] } else { vec![Policy { name: "job".into(), statements }] };
    Role {
        id: format!("TaskRole{id_part}"),
        path: Some(names::task_role_path(project)),
        description: format!("jobgen {project}: tasks of job type {job_type}"),
        service: "ecs-tasks.amazonaws.com",
        assume_condition: ecs_tasks_trust_condition(),
        policies,
        suppressions: Suppressions::default(),
    }
}

/// A task's progress report (`progress: true`): UpdateItem on the jobs table `table` (a logical
/// ID), of one item only, the one keyed by the caller's own role session
/// ([`jobgen_runtime::progress::leading_key_condition`]: `${aws:userid}` is the role id and the
/// session name, which for a task role is the task id), naming only the progress attributes, and
/// returning nothing of the item. So the role can touch no job record, counter or other task's
/// progress.
pub fn progress_statement(table: &str) -> Statement {
    use jobgen_runtime::progress;
    Statement {
        sid: "ReportProgress".into(),
        effect: "Allow",
        actions: vec!["dynamodb:UpdateItem".into()],
        resources: vec![json!({ "Fn::GetAtt": [table, "Arn"] })],
        condition: json!({
            "ForAllValues:StringEquals": {
                "dynamodb:LeadingKeys": [progress::leading_key_condition()],
                "dynamodb:Attributes": progress::ATTRIBUTES,
            },
            "StringEqualsIfExists": { "dynamodb:ReturnValues": ["NONE"] },
        }),
    }
}

/// A job type's execution role: the ECS agent pulls the image, writes the job type's log group and
/// reads its secrets.
pub fn execution_role(project: &str, job_type: &str, id_part: &str, task: &config::Task, log: &LogGroup) -> Role {
    let mut statements = vec![logs_statement(log)];
    if let Some(repo) = ecr_repository_arn(&task.image) {
        statements.push(Statement {
            sid: "EcrAuth".into(),
            effect: "Allow",
            actions: vec!["ecr:GetAuthorizationToken".into()],
            // GetAuthorizationToken has no resource-level permissions: `*` is the only valid resource.
            resources: vec![json!("*")],
            condition: Value::Null,
        });
        statements.push(Statement {
            sid: "EcrPull".into(),
            effect: "Allow",
            actions: vec![
                "ecr:BatchCheckLayerAvailability".into(),
                "ecr:GetDownloadUrlForLayer".into(),
                "ecr:BatchGetImage".into(),
            ],
            resources: vec![json!(repo)],
            condition: Value::Null,
        });
    }
    let mut ssm = Vec::new();
    let mut secretsmanager = Vec::new();
    for value_from in task.secrets.values() {
        let (res, is_ssm) = secret_resource(value_from);
        let list = if is_ssm { &mut ssm } else { &mut secretsmanager };
        if !list.contains(&res) {
            list.push(res);
        }
    }
    if !ssm.is_empty() {
        statements.push(Statement {
            sid: "SsmSecrets".into(),
            effect: "Allow",
            actions: vec!["ssm:GetParameters".into()],
            resources: ssm,
            condition: Value::Null,
        });
    }
    if !secretsmanager.is_empty() {
        statements.push(Statement {
            sid: "SecretsManagerSecrets".into(),
            effect: "Allow",
            actions: vec!["secretsmanager:GetSecretValue".into()],
            resources: secretsmanager,
            condition: Value::Null,
        });
    }
    Role {
        id: format!("ExecutionRole{id_part}"),
        path: Some(names::task_role_path(project)),
        description: format!("jobgen {project}: ECS agent for job type {job_type} (image pull, logs, secrets)"),
        service: "ecs-tasks.amazonaws.com",
        // No source condition: AWS documents it for task roles; the execution role is assumed
        // by the ECS agent before the task exists.
        assume_condition: Value::Null,
        policies: vec![Policy { name: "execution".into(), statements }],
        suppressions: Suppressions::default(),
    }
}

/// IAM resource ARN(s) for an existing task definition given as family, family:revision or ARN.
fn existing_task_definition_arn(name: &str) -> Value {
    if name.starts_with("arn:") {
        let after = name.rsplit_once('/').map(|(_, f)| f).unwrap_or(name);
        if after.contains(':') { json!(name) } else { json!(format!("{name}:*")) }
    } else if name.contains(':') {
        sub(&local_arn("ecs", &format!("task-definition/{name}")))
    } else {
        sub(&local_arn("ecs", &format!("task-definition/{name}:*")))
    }
}

/// The IAM resource for a secret reference (`ValueFrom`), and whether it is SSM (else Secrets Manager).
fn secret_resource(value_from: &str) -> (Value, bool) {
    if let Some(rest) = value_from.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.split(':').collect();
        let is_ssm = parts.get(1) == Some(&"ssm");
        if !is_ssm && parts.len() > 6 {
            // `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME:json-key:stage:version`: the
            // policy names the secret, not the JSON key.
            let arn = format!("arn:{}", parts[..6].join(":"));
            return (json!(arn), false);
        }
        (json!(value_from), is_ssm)
    } else {
        let name = value_from.trim_start_matches('/');
        (sub(&local_arn("ssm", &format!("parameter/{name}"))), true)
    }
}

/// The ECR repository ARN of a private ECR image (`ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:tag|@digest]`),
/// or `None` for any other registry.
fn ecr_repository_arn(image: &str) -> Option<String> {
    let (host, path) = image.split_once('/')?;
    let mut labels = host.split('.');
    let account = labels.next()?;
    if labels.next()? != "dkr" || labels.next()? != "ecr" {
        return None;
    }
    let region = labels.next()?;
    let partition = if host.ends_with(".amazonaws.com.cn") { "aws-cn" } else { "aws" };
    let repo = path.split('@').next()?;
    let repo = match repo.rsplit_once(':') {
        Some((r, _)) => r,
        None => repo,
    };
    Some(format!("arn:{partition}:ecr:{region}:{account}:repository/{repo}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_task_definitions_are_granted_once_by_prefix_and_path() {
        let mut grants = LaunchGrants::default();
        grants.created("media");
        grants.created("media");
        assert_eq!(
            grants.run_task,
            [
                json!({"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/media_*:*"})
            ]
        );
        assert_eq!(
            grants.pass_role,
            [json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/jobgen/media/*"})]
        );
    }

    #[test]
    fn the_queue_index_arn_is_the_tables_with_the_index_path() {
        let arns = TableArns::of("JobsTable");
        assert_eq!(arns.table, json!({"Fn::GetAtt": ["JobsTable", "Arn"]}));
        assert_eq!(arns.queue_index, json!({"Fn::Sub": "${JobsTable.Arn}/index/byQueue"}));
    }

    #[test]
    fn launch_statements_name_only_what_there_is() {
        let none = LaunchGrants::default();
        let access = |grants, clusters, tags_tasks| LaunchAccess { grants, clusters, project: "media", tags_tasks };
        assert!(launch_statements(access(&none, &[], true)).is_empty());
        let mut grants = LaunchGrants::default();
        grants.created("media");
        let clusters = [ClusterArns {
            cluster: json!("arn:c"),
            tasks: json!("arn:c-tasks/*"),
            container_instances: json!("arn:c-instances/*"),
        }];
        let statements = launch_statements(access(&grants, &clusters, true));
        let sids: Vec<&str> = statements.iter().map(|s| s.sid.as_str()).collect();
        assert_eq!(sids, ["RunTask", "TagNewTasks", "StopCancelledTask", "PassTaskRoles"]);
        assert_eq!(statements[0].condition, json!({"ArnEquals": {"ecs:cluster": ["arn:c"]}}));
        assert_eq!(statements[1].actions, ["ecs:TagResource"]);
        assert_eq!(statements[1].resources, [json!("arn:c-tasks/*")]);
        assert_eq!(statements[1].condition, json!({"StringEquals": {"ecs:CreateAction": "RunTask"}}));
        assert_eq!(statements[2].resources, [json!("arn:c-tasks/*")]);
        assert_eq!(statements[2].condition, json!({"StringEquals": {"aws:ResourceTag/jobgen:project": "media"}}));
        assert_eq!(statements[3].resources, grants.pass_role);
        // Untagged launches (no tags in the document) need no TagResource.
        let sids: Vec<String> =
            launch_statements(access(&grants, &clusters, false)).into_iter().map(|s| s.sid).collect();
        assert_eq!(sids, ["RunTask", "StopCancelledTask", "PassTaskRoles"]);
    }

    #[test]
    fn the_reconciler_reads_tasks_only_in_the_clusters_and_nothing_without_one() {
        assert!(reconcile_statements(&[]).is_empty());
        let clusters = [
            ClusterArns {
                cluster: json!("arn:a"),
                tasks: json!("arn:a-tasks/*"),
                container_instances: json!("arn:a-instances/*"),
            },
            ClusterArns {
                cluster: json!("arn:b"),
                tasks: json!("arn:b-tasks/*"),
                container_instances: json!("arn:b-instances/*"),
            },
        ];
        let statements = reconcile_statements(&clusters);
        let got: Vec<(&str, &[Value], &Value)> =
            statements.iter().map(|s| (s.actions[0].as_str(), s.resources.as_slice(), &s.condition)).collect();
        let condition = json!({"ArnEquals": {"ecs:cluster": ["arn:a", "arn:b"]}});
        assert_eq!(
            got,
            [
                ("ecs:DescribeTasks", &[json!("arn:a-tasks/*"), json!("arn:b-tasks/*")][..], &condition),
                ("ecs:ListTasks", &[json!("arn:a-instances/*"), json!("arn:b-instances/*")][..], &condition),
            ]
        );
        assert!(statements.iter().all(|s| s.actions.len() == 1));
    }

    #[test]
    fn the_callers_policy_grants_both_invoke_actions_and_the_url_only_with_aws_iam() {
        let p = create_job_invoke_policy("media", "CreateJobFunction");
        let function = json!({"Fn::GetAtt": ["CreateJobFunction", "Arn"]});
        let by_action: Vec<(&str, &Value, &Value)> =
            p.statements.iter().map(|s| (s.actions[0].as_str(), &s.resources[0], &s.condition)).collect();
        assert_eq!(
            by_action,
            [
                ("lambda:InvokeFunction", &function, &Value::Null),
                (
                    "lambda:InvokeFunctionUrl",
                    &function,
                    &json!({"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}})
                ),
            ]
        );
        assert!(p.statements.iter().all(|s| s.actions.len() == 1 && s.resources.len() == 1));
    }

    #[test]
    fn secrets_manager_arn_with_json_key_is_trimmed() {
        let (v, ssm) = secret_resource("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::");
        assert!(!ssm);
        assert_eq!(v, json!("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"));
        let (v, ssm) = secret_resource("arn:aws:ssm:us-east-1:123456789012:parameter/app/token");
        assert!(ssm);
        assert_eq!(v, json!("arn:aws:ssm:us-east-1:123456789012:parameter/app/token"));
    }

    #[test]
    fn ecr_images_get_a_repository_arn_and_others_none() {
        assert_eq!(
            ecr_repository_arn("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1.2"),
            Some("arn:aws:ecr:eu-west-1:123456789012:repository/team/app".into())
        );
        assert_eq!(ecr_repository_arn("public.ecr.aws/docker/library/busybox:1.36"), None);
        assert_eq!(ecr_repository_arn("busybox"), None);
    }

    #[test]
    fn existing_task_definitions_map_to_arns() {
        assert_eq!(
            existing_task_definition_arn("arn:aws:ecs:us-east-1:123456789012:task-definition/x:3"),
            json!("arn:aws:ecs:us-east-1:123456789012:task-definition/x:3")
        );
        assert_eq!(
            existing_task_definition_arn("x"),
            json!({"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/x:*"})
        );
    }
}
