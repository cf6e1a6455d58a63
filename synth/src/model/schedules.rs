//! The project's schedules (`templates/schedules.yaml.j2`): one EventBridge Scheduler schedule per
//! entry of `schedules:`, in the project's schedule group, invoking create-job with the run's
//! request ([`schedule::input`]: the idempotency key carries Scheduler's scheduled time, so a
//! redelivered trigger replays one job instead of starting a second), the role Scheduler assumes
//! to do it, and the dead-letter queue for runs it could not deliver.
//!
//! The role may invoke create-job and send to that queue, nothing else; its trust policy admits
//! Scheduler only for this account's schedule group, as the timers' role's does. None of it exists
//! in a project without schedules.

use std::collections::BTreeMap;

use jobgen_runtime::schedule::{self, ScheduleEntry};
use serde::Serialize;
use serde_json::Value;

use super::iam::{Policy, Role, Statement};
use super::shapes::{Queue, get_att, queue_suppressions};
use super::suppressions::Suppressions;
use super::timers::scheduler_trust_condition;
use crate::config::Config;
use crate::names;

/// One schedule (`AWS::Scheduler::Schedule`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserSchedule {
    /// Logical ID: `Schedule<Name>`.
    pub id: String,
    /// `Name`: [`schedule::schedule_name`].
    pub name: String,
    /// `Description`.
    pub description: String,
    /// `ScheduleExpression`.
    pub expression: String,
    /// `ScheduleExpressionTimezone`.
    pub timezone: String,
    /// `State`: `ENABLED` or `DISABLED`.
    pub state: &'static str,
    /// `Target.Arn`: create-job.
    pub target_arn: Value,
    /// `Target.RoleArn`.
    pub role_arn: Value,
    /// `Target.Input`: the JSON text of the run's request.
    pub input: String,
    /// `Target.DeadLetterConfig.Arn`.
    pub dlq_arn: Value,
    /// `Target.RetryPolicy.MaximumRetryAttempts`.
    pub max_retry_attempts: u32,
    /// `Target.RetryPolicy.MaximumEventAgeInSeconds`.
    pub max_event_age_seconds: u32,
}

/// The schedules of a stack, with their role and dead-letter queue (`None` without schedules).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedules {
    /// The role Scheduler assumes to invoke create-job.
    pub role: Option<Role>,
    /// Where runs Scheduler could not deliver go.
    pub dlq: Option<Queue>,
    /// The schedules.
    pub schedules: Vec<UserSchedule>,
    /// The configuration document's entries (what create-job checks a run against).
    #[serde(skip)]
    pub entries: BTreeMap<String, ScheduleEntry>,
}

impl Schedules {
    /// Resources rendered.
    pub fn resource_count(&self) -> usize {
        usize::from(self.role.is_some()) + usize::from(self.dlq.is_some()) + self.schedules.len()
    }

    /// Their logical IDs.
    pub fn logical_ids(&self) -> Vec<String> {
        let own = self.role.iter().map(|r| r.id.clone()).chain(self.dlq.iter().map(|q| q.id.clone()));
        own.chain(self.schedules.iter().map(|s| s.id.clone())).collect()
    }
}

/// Logical ID of the schedules' role.
pub const SCHEDULE_ROLE_ID: &str = "ScheduleRole";
/// Logical ID of the schedules' dead-letter queue.
pub const SCHEDULE_DLQ_ID: &str = "ScheduleDlq";

/// The project's schedules, invoking the create-job function `create_job_id`.
pub fn schedules(config: &Config, create_job_id: &str) -> Schedules {
    let project = config.project.name.as_str();
    if config.schedules.is_empty() {
        return Schedules { role: None, dlq: None, schedules: Vec::new(), entries: BTreeMap::new() };
    }
    let group = jobgen_runtime::contract::schedule_group(project);
    let target_arn = get_att(create_job_id, "Arn");
    let dlq = Queue {
        id: SCHEDULE_DLQ_ID.into(),
        name: names::schedule_dlq(project),
        purpose: "schedule runs EventBridge Scheduler could not deliver to create-job (each message is the run's request: submit it by hand if the run is still wanted)".into(),
        suppressions: queue_suppressions(),
    };
    let dlq_arn = get_att(&dlq.id, "Arn");
    let role = Role {
        id: SCHEDULE_ROLE_ID.into(),
        path: Some(names::task_role_path(project)),
        description: format!(
            "jobgen {project}: EventBridge Scheduler submits the project's scheduled jobs to create-job"
        ),
        service: "scheduler.amazonaws.com",
        assume_condition: scheduler_trust_condition(&group),
        policies: vec![Policy {
            name: "schedules".into(),
            statements: vec![
                Statement {
                    sid: "InvokeCreateJob".into(),
                    effect: "Allow",
                    actions: vec!["lambda:InvokeFunction".into()],
                    resources: vec![target_arn.clone()],
                    condition: Value::Null,
                },
                Statement {
                    sid: "UndeliveredRuns".into(),
                    effect: "Allow",
                    actions: vec!["sqs:SendMessage".into()],
                    resources: vec![dlq_arn.clone()],
                    condition: Value::Null,
                },
            ],
        }],
        suppressions: Suppressions::default(),
    };
    let role_arn = get_att(&role.id, "Arn");
    let schedules = config
        .schedules
        .iter()
        .map(|(name, sc)| UserSchedule {
            id: format!("Schedule{}", names::logical_id_part(name)),
            name: schedule::schedule_name(name),
            description: format!("jobgen {project}: submits a {} job on {}", sc.job_type, sc.expression),
            expression: sc.expression.clone(),
            timezone: sc.timezone.clone(),
            state: if sc.enabled { "ENABLED" } else { "DISABLED" },
            target_arn: target_arn.clone(),
            role_arn: role_arn.clone(),
            input: schedule::input(name, &sc.job_type, &sc.environment).to_string(),
            dlq_arn: dlq_arn.clone(),
            // A run that fails to reach create-job is retried for up to 15 minutes (its key makes a
            // late delivery start the same job, never a second), then left in the queue.
            max_retry_attempts: 3,
            max_event_age_seconds: 900,
        })
        .collect();
    let entries = config
        .schedules
        .iter()
        .map(|(name, sc)| (name.clone(), ScheduleEntry { job_type: sc.job_type.clone(), overlap: sc.overlap }))
        .collect();
    Schedules { role: Some(role), dlq: Some(dlq), schedules, entries }
}
