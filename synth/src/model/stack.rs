//! The whole stack model (`templates/stack.yaml.j2`): every resource group, ready to render.

use jobgen_runtime::contract::LaunchTable;
use serde::Serialize;

use super::alarms::Alarm;
use super::clusters::Cluster;
use super::config_layer::ConfigLayer;
use super::functions::Function;
use super::iam::ManagedPolicy;
use super::nested::NestedStack;
use super::outputs::Output;
use super::rule::Rule;
use super::rules::TemplateRule;
use super::shapes::{Queue, Tag};
use super::table::JobsTable;
use super::task_definitions::TaskDefinition;
use super::timers::Timers;

/// Header facts printed at the top of the template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    /// `jobgen`.
    pub generator: &'static str,
    /// The generator's version.
    pub version: &'static str,
}

/// The whole stack, ready to render.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stack {
    /// Generator and version.
    pub header: Header,
    /// `Description`.
    pub description: String,
    /// The project name.
    pub project: String,
    /// Tags for every taggable resource.
    pub tags: Vec<Tag>,
    /// The jobs table.
    pub table: JobsTable,
    /// The config layer both functions read the configuration document from.
    pub config_layer: ConfigLayer,
    /// The create-job function.
    pub create_job: Function,
    /// Logical ID of create-job's function URL.
    pub create_job_url_id: String,
    /// The managed policy a caller of create-job attaches.
    pub create_job_invoke_policy: ManagedPolicy,
    /// The track function.
    pub track: Function,
    /// Track's async-failure dead-letter queue (undeliverable timers go there too).
    pub track_dlq: Queue,
    /// The schedule group, the role that delivers the project's timers, and the reconciler's schedule.
    pub timers: Timers,
    /// The project's schedules, their role and dead-letter queue.
    pub schedules: super::schedules::Schedules,
    /// Logical ID of track's async invoke config.
    pub track_invoke_config_id: String,
    /// Lambda's asynchronous retries of a failed track invocation before the event goes to the DLQ.
    pub track_max_retry_attempts: u32,
    /// Lambda's maximum age of a queued asynchronous track event, in seconds.
    pub track_max_event_age_seconds: u32,
    /// How long the dead-letter queues keep a message, in seconds (SQS's maximum, 14 days).
    pub dlq_retention_seconds: u32,
    /// The EventBridge rule.
    pub rule: Rule,
    /// Clusters the stack creates.
    pub clusters: Vec<Cluster>,
    /// Task definitions the root template creates (none when the job types are in nested stacks).
    pub task_definitions: Vec<TaskDefinition>,
    /// The nested stacks of job types (none when the project fits one stack).
    pub nested_stacks: Vec<NestedStack>,
    /// The alarms.
    pub alarms: Vec<Alarm>,
    /// The template's `Rules`: ARNs that must be in the stack's region or account.
    pub rules: Vec<TemplateRule>,
    /// Outputs.
    pub outputs: Vec<Output>,
    /// `awslogs-stream-prefix` of every task container.
    pub log_stream_prefix: &'static str,
    /// The configuration document's content: what both handlers read at start-up. Static (every
    /// name in it is known at synth time), so it ships as a file.
    #[serde(skip)]
    pub launch_table: LaunchTable,
}

impl Stack {
    /// Number of CloudFormation resources the templates render for this model.
    pub fn resource_count(&self) -> usize {
        // table; config layer; per function: function, log group, role; URL; the caller's managed
        // policy; track DLQ + invoke config; schedule group + timer role + the reconciler's
        // schedule; rule + DLQ + queue policy + permission.
        let fixed = 1 + 1 + 3 + 3 + 1 + 1 + 2 + 3 + 4;
        fixed
            + self.alarms.len()
            + self.clusters.len()
            + self.task_definitions.len() * 4
            + self.nested_stacks.len()
            + self.schedules.resource_count()
    }

    /// Every task definition the project creates, the root's and the nested stacks'.
    pub fn all_task_definitions(&self) -> impl Iterator<Item = &TaskDefinition> {
        self.task_definitions.iter().chain(self.nested_stacks.iter().flat_map(|n| &n.task_definitions))
    }

    /// Every logical ID the root template defines, for the consistency check.
    pub fn logical_ids(&self) -> Vec<String> {
        let mut ids = vec![
            self.table.id.clone(),
            self.config_layer.id.clone(),
            self.create_job.id.clone(),
            self.create_job.log_group.id.clone(),
            self.create_job.role.id.clone(),
            self.create_job_url_id.clone(),
            self.create_job_invoke_policy.id.clone(),
            self.track.id.clone(),
            self.track.log_group.id.clone(),
            self.track.role.id.clone(),
            self.track_dlq.id.clone(),
            self.track_invoke_config_id.clone(),
            self.timers.group.id.clone(),
            self.timers.role.id.clone(),
            self.timers.reconcile.id.clone(),
            self.rule.id.clone(),
            self.rule.dlq.id.clone(),
            self.rule.dlq_policy_id.clone(),
            self.rule.permission_id.clone(),
        ];
        ids.extend(self.alarms.iter().map(|a| a.id.clone()));
        ids.extend(self.schedules.logical_ids());
        ids.extend(self.clusters.iter().map(|c| c.id.clone()));
        ids.extend(self.nested_stacks.iter().map(|n| n.id.clone()));
        for td in &self.task_definitions {
            ids.extend([td.id.clone(), td.log_group.id.clone(), td.task_role.id.clone(), td.execution_role.id.clone()]);
        }
        ids
    }
}
