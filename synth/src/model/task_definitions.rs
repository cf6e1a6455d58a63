//! Task definitions (`templates/task_definitions.yaml.j2`, roles in `templates/iam.yaml.j2`): one
//! per job type with `task`, with its log group, task role and execution role.

use serde::Serialize;

use super::iam::{self, Role};
use super::shapes::LogGroup;
use super::suppressions::{self, Suppressions};
use crate::config::{self, Config};
use crate::names;

/// The `awslogs-stream-prefix` of every task container.
pub const LOG_STREAM_PREFIX: &str = "jobgen";

/// A name/value pair of a container's environment or secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NameValue {
    /// Name.
    pub name: String,
    /// Value (or `ValueFrom`).
    pub value: String,
}

/// A task definition the stack creates, with its log group and roles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskDefinition {
    /// The job type.
    pub job_type: String,
    /// Logical ID.
    pub id: String,
    /// `Family`.
    pub family: String,
    /// `Cpu`.
    pub cpu: String,
    /// `Memory` (task and container level).
    pub memory: u32,
    /// `RuntimePlatform.CpuArchitecture`.
    pub architecture: &'static str,
    /// `EphemeralStorage.SizeInGiB`, or `null`.
    pub ephemeral_storage_gib: Option<u32>,
    /// The container.
    pub container_name: String,
    /// Image.
    pub image: String,
    /// Command, or `null`.
    pub command: Option<Vec<String>>,
    /// Environment.
    pub environment: Vec<NameValue>,
    /// Secrets (`ValueFrom`).
    pub secrets: Vec<NameValue>,
    /// Task log group.
    pub log_group: LogGroup,
    /// Task role (the job's own permissions).
    pub task_role: Role,
    /// Execution role (image pull, logs, secrets).
    pub execution_role: Role,
    /// Scanner suppressions.
    pub suppressions: Suppressions,
}

/// The task definition of job type `name`.
pub fn task_definition(config: &Config, name: &str, task: &config::Task) -> TaskDefinition {
    let project = config.project.name.as_str();
    let id_part = names::logical_id_part(name);
    let log_group = LogGroup {
        id: format!("TaskLogGroup{id_part}"),
        name: names::task_log_group(project, name),
        retention_days: task.log_retention_days,
        suppressions: {
            let mut s = Suppressions::of(vec![
                suppressions::LOG_GROUP_SERVICE_KEY.here(Some(format!("job type {name}'s logs"))),
            ]);
            if task.log_retention_days < 365 {
                s.push(suppressions::LOG_GROUP_SHORT_RETENTION.here(Some(format!(
                    "retention is {} days as set by job_types.{name}.task.log_retention_days in jobgen.yaml",
                    task.log_retention_days
                ))));
            }
            s
        },
    };
    TaskDefinition {
        job_type: name.into(),
        id: format!("TaskDefinition{id_part}"),
        family: names::family(project, name),
        cpu: task.cpu.to_string(),
        memory: task.memory,
        architecture: task.architecture.ecs_name(),
        ephemeral_storage_gib: task.ephemeral_storage_gib,
        container_name: task.container_name.clone(),
        image: task.image.clone(),
        command: task.command.clone(),
        environment: task.environment.iter().map(|(k, v)| NameValue { name: k.clone(), value: v.clone() }).collect(),
        secrets: task.secrets.iter().map(|(k, v)| NameValue { name: k.clone(), value: v.clone() }).collect(),
        task_role: iam::task_role(
            project,
            name,
            &id_part,
            task,
            config.job_types.get(name).is_some_and(|jt| jt.progress).then_some(super::table::JOBS_TABLE_ID),
        ),
        execution_role: iam::execution_role(project, name, &id_part, task, &log_group),
        log_group,
        suppressions: Suppressions::of(vec![
            suppressions::TASK_WRITABLE_ROOT.here(Some(format!("job type {name}'s container"))),
        ]),
    }
}
