//! Task definitions (`templates/task_definitions.yaml.j2`, roles in `templates/iam.yaml.j2`): one
//! per job type with `task`, with its log group, task role and execution role.

use serde::Serialize;

use super::iam::{self, Role};
use super::shapes::{LogGroup, Skip, skip};
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
    /// checkov suppressions.
    pub skips: Vec<Skip>,
}

/// The task definition of job type `name`.
pub fn task_definition(config: &Config, name: &str, task: &config::Task) -> TaskDefinition {
    let project = config.project.name.as_str();
    let id_part = names::logical_id_part(name);
    let log_group = LogGroup {
        id: format!("TaskLogGroup{id_part}"),
        name: names::task_log_group(project, name),
        retention_days: task.log_retention_days,
        skips: {
            let mut s = vec![skip(
                "CKV_AWS_158",
                format!(
                    "job type {name}'s logs are encrypted at rest by CloudWatch Logs' service key; a customer managed key would need a key policy for the logs service principal and adds cost without protecting against any reader the IAM policy admits"
                ),
            )];
            if task.log_retention_days < 365 {
                s.push(skip(
                    "CKV_AWS_338",
                    format!("retention is {} days as set by job_types.{name}.task.log_retention_days in jobgen.yaml; one year of job logs is a cost the project chooses", task.log_retention_days),
                ));
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
        task_role: iam::task_role(project, name, &id_part, task),
        execution_role: iam::execution_role(project, name, &id_part, task, &log_group),
        log_group,
        skips: vec![skip(
            "CKV_AWS_336",
            format!(
                "job type {name} runs an arbitrary batch image that may write scratch files (ephemeral storage is sized for that); a read-only root filesystem would break such images"
            ),
        )],
    }
}
