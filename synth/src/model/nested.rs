//! Nested stacks of job types (`templates/nested_stacks.yaml.j2` in the root,
//! `templates/job_types_stack.yaml.j2` for each child): a project whose resources exceed one
//! stack keeps the table, the functions, the rule and the shared roles in the root and moves each
//! job type's four resources (task definition, log group, task role, execution role) into one of
//! [`names::NESTED_STACKS`] nested stacks, chosen by a stable hash of its name
//! ([`names::nested_stack_of`]) or pinned with `job_types.NAME.nested_stack`.
//!
//! Nothing of a job type's resources is read by the root (the functions run families by prefix and
//! pass roles by path, the job-type table travels in the config layer), so the children export
//! nothing; a child takes one parameter, the jobs table's ARN, only when one of its job types
//! reports progress. A child's template holds only its own job types, so an edit to one job type
//! changes one child's bytes and no other's.

use serde::Serialize;
use serde_json::Value;

use super::shapes::get_att;
use super::suppressions::{self, Suppressions};
use super::table::JOBS_TABLE_ID;
use super::task_definitions::TaskDefinition;
use crate::config::Config;
use crate::diagnostics::Diagnostic;
use crate::names;

/// The parameter a child takes for the jobs table's ARN (the progress statement's resource).
pub const JOBS_TABLE_ARN_PARAMETER: &str = "JobsTableArn";

/// A parameter of a nested stack, and the value the root passes for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameter {
    /// Name (a logical ID).
    pub name: String,
    /// `Description` in the child.
    pub description: String,
    /// What the root passes (an intrinsic of the root).
    pub value: Value,
}

/// One nested stack of job types.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NestedStack {
    /// Its number, 0 to [`names::NESTED_STACKS`] − 1.
    pub index: u32,
    /// Logical ID in the root.
    pub id: String,
    /// Its template's path relative to the root template (`TemplateURL` before packaging).
    pub file: String,
    /// The child template's `Description`.
    pub description: String,
    /// The child's parameters.
    pub parameters: Vec<Parameter>,
    /// The job types' task definitions (with their log groups and roles), in config order.
    pub task_definitions: Vec<TaskDefinition>,
    /// Scanner suppressions on the root's `AWS::CloudFormation::Stack`.
    pub suppressions: Suppressions,
}

impl NestedStack {
    /// Resources in the child template: 4 per job type.
    pub fn resource_count(&self) -> usize {
        self.task_definitions.len() * 4
    }
}

/// The nested stack each job type with `task` goes to: its pin, else the hash of its name.
pub fn assignment(config: &Config, job_type: &str) -> u32 {
    config.job_types.get(job_type).and_then(|jt| jt.nested_stack).unwrap_or_else(|| names::nested_stack_of(job_type))
}

/// Whether the project is split into nested stacks: when its job types' resources do not fit
/// beside the root's (`single_count`, the resources of the one-stack layout, over `max`), or when
/// a job type is pinned (the user asked for nested stacks).
pub fn wanted(config: &Config, single_count: usize, max: usize) -> bool {
    single_count > max || config.job_types.values().any(|jt| jt.nested_stack.is_some())
}

/// Moves the task definitions into their nested stacks: one per non-empty bucket, in index order.
pub fn split(config: &Config, task_definitions: Vec<TaskDefinition>) -> Vec<NestedStack> {
    let project = config.project.name.as_str();
    let mut buckets: std::collections::BTreeMap<u32, Vec<TaskDefinition>> = std::collections::BTreeMap::new();
    for mut td in task_definitions {
        child_references(&mut td);
        let index = assignment(config, &td.job_type);
        td.log_group.name = names::nested_task_log_group(project, index, &td.job_type);
        buckets.entry(index).or_default().push(td);
    }
    buckets
        .into_iter()
        .map(|(index, task_definitions)| {
            let progress = task_definitions.iter().any(|td| references_table_parameter(&td.task_role));
            let parameters = if progress {
                vec![Parameter {
                    name: JOBS_TABLE_ARN_PARAMETER.into(),
                    description: "The ARN of the root stack's jobs table (the progress reports' item)".into(),
                    value: get_att(JOBS_TABLE_ID, "Arn"),
                }]
            } else {
                Vec::new()
            };
            NestedStack {
                index,
                id: names::nested_stack_id(index),
                file: names::nested_stack_file(index),
                description: format!(
                    "jobgen {project}: job types' task definitions, log groups and roles (nested stack {index:02})"
                ),
                parameters,
                task_definitions,
                suppressions: Suppressions::of(vec![suppressions::NESTED_STACK_LOCAL_TEMPLATE.here(None)]),
            }
        })
        .collect()
}

/// The child cannot `GetAtt` the root's table: its progress statement names the parameter.
fn child_references(td: &mut TaskDefinition) {
    let table_arn = get_att(JOBS_TABLE_ID, "Arn");
    for policy in &mut td.task_role.policies {
        for statement in &mut policy.statements {
            for r in &mut statement.resources {
                if *r == table_arn {
                    *r = super::shapes::r#ref(JOBS_TABLE_ARN_PARAMETER);
                }
            }
        }
    }
}

fn references_table_parameter(role: &super::iam::Role) -> bool {
    let parameter = super::shapes::r#ref(JOBS_TABLE_ARN_PARAMETER);
    role.policies.iter().flat_map(|p| &p.statements).flat_map(|s| &s.resources).any(|r| *r == parameter)
}

/// Pins that cannot be followed: a stack number out of range, or a job type without `task` (it
/// has no resources to place).
pub fn pin_problems(config: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (name, jt) in &config.job_types {
        let Some(pin) = jt.nested_stack else { continue };
        let path = format!("job_types.{name}.nested_stack");
        if pin >= names::NESTED_STACKS {
            out.push(Diagnostic::new(
                path,
                format!("{pin} is not a nested stack: they are numbered 0 to {}", names::NESTED_STACKS - 1),
                format!("pin it to a stack from 0 to {}, or remove `nested_stack`", names::NESTED_STACKS - 1),
            ));
        } else if jt.task.is_none() {
            out.push(Diagnostic::new(
                path,
                "the job type has no `task`: jobgen creates no resources for it to place in a nested stack",
                "remove `nested_stack`",
            ));
        }
    }
    out
}
