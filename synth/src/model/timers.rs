//! The project's timers (`templates/timers.yaml.j2`): the EventBridge Scheduler schedule group the
//! handlers create their one-shot timers in (a job's timeout and start deadline, the delay before a
//! retry, the backoff after RunTask throttling), the role Scheduler assumes to deliver a timer, and
//! what both functions need to arm one: the statements that create a schedule in the group and pass
//! the role to Scheduler, and the four timer variables of the contract ([`contract::TIMER_ENV`]).
//!
//! Every stack has them, whether or not a job type sets a timeout or a retry policy: the runtime
//! also backs off from RunTask throttling with a timer.
//!
//! A timer invokes the track function, and when Scheduler gives up on an invocation it sends it to
//! track's dead-letter queue (which holds the events track failed on, so one alarm covers both).
//! The role names track's ARN built from its fixed name, not `GetAtt`: track's environment names
//! the role's ARN, so a `GetAtt` back would be a dependency cycle.
//!
//! The group also holds the one recurring schedule ([`ReconcileSchedule`]): every
//! [`contract::RECONCILE_INTERVAL_MINUTES`] it invokes track with [`contract::reconcile_payload`],
//! with the same role and dead-letter queue as the timers. It is the one thing that runs between
//! jobs: it repairs a job whose task state event was lost while ECS still describes the task.

use jobgen_runtime::contract;
use serde::Serialize;
use serde_json::{Value, json};

use super::iam::{Policy, Role, Statement};
use super::shapes::{get_att, local_arn, sub};
use super::suppressions::Suppressions;
use crate::names;
use crate::quotas;

/// The schedule group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleGroup {
    /// Logical ID (`Ref` is its name).
    pub id: String,
    /// `Name`: [`contract::schedule_group`].
    pub name: String,
}

/// The reconciler's recurring schedule (`AWS::Scheduler::Schedule`), in the project's group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconcileSchedule {
    /// Logical ID.
    pub id: String,
    /// `Name`: [`contract::RECONCILE_SCHEDULE`].
    pub name: &'static str,
    /// `Description`: fixed text (it names no project, so no quota applies to it).
    pub description: &'static str,
    /// `ScheduleExpression`: `rate(N minutes)` from [`contract::RECONCILE_INTERVAL_MINUTES`].
    pub expression: String,
    /// `Target.Arn`: track's ARN (a `GetAtt`: nothing track depends on names the schedule).
    pub target_arn: Value,
    /// `Target.RoleArn`: the timer role.
    pub role_arn: Value,
    /// `Target.Input`: the JSON text of [`contract::reconcile_payload`].
    pub input: String,
    /// `Target.DeadLetterConfig.Arn`: track's dead-letter queue.
    pub dlq_arn: Value,
    /// `Target.RetryPolicy.MaximumRetryAttempts`.
    pub max_retry_attempts: u32,
    /// `Target.RetryPolicy.MaximumEventAgeInSeconds`.
    pub max_event_age_seconds: u32,
}

/// One timer variable of both functions' environment: name, value, worst-case resolved length.
pub type TimerVar = (&'static str, Value, usize);

/// The timers of a stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timers {
    /// Where the handlers create their schedules.
    pub group: ScheduleGroup,
    /// The role Scheduler assumes to deliver a timer (and the reconciler's invocations).
    pub role: Role,
    /// The reconciler's recurring schedule in the group.
    pub reconcile: ReconcileSchedule,
    /// The track function's ARN, built from its name (what a timer invokes).
    #[serde(skip)]
    pub track_arn: Value,
    /// Worst-case length of a track function ARN.
    #[serde(skip)]
    pub track_arn_len: usize,
    /// The ARN of track's dead-letter queue, where undeliverable timers go.
    #[serde(skip)]
    pub dlq_arn: Value,
    /// Worst-case length of the queue's ARN.
    #[serde(skip)]
    pub dlq_arn_len: usize,
}

/// The ARN pattern of every schedule in the group: `schedule/<group>/*` (what CreateSchedule
/// authorizes: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridgescheduler.html>).
pub fn schedules_arn(group: &str) -> Value {
    sub(&local_arn("scheduler", &format!("schedule/{group}/*")))
}

/// The ARN pattern of the deadline timers in the group (`schedule/<group>/run-*`, `start-*`): the
/// only schedules the handlers delete (a job's deadlines once its attempt is over), so neither can
/// delete the reconcile schedule or another job's retry.
pub fn deadline_timers_arns(group: &str) -> Vec<Value> {
    [contract::TimerKind::RunDeadline, contract::TimerKind::StartDeadline]
        .iter()
        .map(|kind| sub(&local_arn("scheduler", &format!("schedule/{group}/{}-*", kind.as_str()))))
        .collect()
}

/// The group's own ARN, `schedule-group/<group>`: what Scheduler sets as `aws:SourceArn` when it
/// assumes an execution role. AWS's confused-deputy guidance says to scope the trust policy to a
/// schedule group, never to a schedule or a schedule name prefix:
/// <https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html>.
pub fn group_arn(group: &str) -> Value {
    sub(&local_arn("scheduler", &format!("schedule-group/{group}")))
}

/// The trust condition of a role Scheduler assumes for the schedules of `group`: this account, that
/// group (the scope AWS's confused-deputy guidance names, see [`group_arn`]).
pub fn scheduler_trust_condition(group: &str) -> Value {
    json!({
        "StringEquals": { "aws:SourceAccount": { "Ref": "AWS::AccountId" } },
        "ArnEquals": { "aws:SourceArn": group_arn(group) },
    })
}

/// Names the track function and its dead-letter queue for [`timers`].
#[derive(Debug, Clone, Copy)]
pub struct Track<'a> {
    /// The function's logical ID (the reconciler's schedule targets its `GetAtt`).
    pub id: &'a str,
    /// Its fixed name (the timer role names its ARN built from it).
    pub name: &'a str,
    /// The dead-letter queue's logical ID.
    pub dlq_id: &'a str,
    /// The dead-letter queue's name.
    pub dlq_name: &'a str,
}

/// The project's timers: the group, the role that invokes track and sends to its dead-letter
/// queue, and the reconciler's schedule.
///
/// The role's policy covers the schedule as it is: its `InvokeTrack` names the function the
/// schedule targets, its `UndeliveredTimers` the queue the schedule's dead-letter config names,
/// and its trust policy admits Scheduler for this account's group, which the schedule is in
/// (Scheduler sets `aws:SourceArn` to the schedule's group, not to the schedule).
pub fn timers(project: &str, track: Track<'_>) -> Timers {
    let Track { id: track_id, name: track_function, dlq_id: track_dlq_id, dlq_name: track_dlq_name } = track;
    let name = contract::schedule_group(project);
    let track_arn = sub(&local_arn("lambda", &format!("function:{track_function}")));
    let dlq_arn = get_att(track_dlq_id, "Arn");
    let statements = vec![
        Statement {
            sid: "InvokeTrack".into(),
            effect: "Allow",
            actions: vec!["lambda:InvokeFunction".into()],
            resources: vec![track_arn.clone()],
            condition: Value::Null,
        },
        // The queue uses SQS-managed SSE, not a customer managed KMS key: sending needs no KMS
        // permission.
        Statement {
            sid: "UndeliveredTimers".into(),
            effect: "Allow",
            actions: vec!["sqs:SendMessage".into()],
            resources: vec![dlq_arn.clone()],
            condition: Value::Null,
        },
    ];
    let role = Role {
        id: "TimerRole".into(),
        // The stack's role path: the functions' PassRole of task roles (to ECS tasks only) covers
        // it too, and their own PassRole of this role names its ARN (to Scheduler only).
        path: Some(names::task_role_path(project)),
        description: format!("jobgen {project}: EventBridge Scheduler delivers the project's timers to track"),
        service: "scheduler.amazonaws.com",
        assume_condition: scheduler_trust_condition(&name),
        policies: vec![Policy { name: "timer".into(), statements }],
        suppressions: Suppressions::default(),
    };
    let reconcile = ReconcileSchedule {
        id: "ReconcileSchedule".into(),
        name: contract::RECONCILE_SCHEDULE,
        description: "jobgen: invokes track to repair jobs whose task state events were lost, from what ECS still knows of their tasks",
        expression: format!("rate({} minutes)", contract::RECONCILE_INTERVAL_MINUTES),
        target_arn: get_att(track_id, "Arn"),
        role_arn: get_att(&role.id, "Arn"),
        input: contract::reconcile_payload().to_string(),
        dlq_arn: dlq_arn.clone(),
        // A run that cannot be delivered is replaced by the next one: retry briefly, then leave it
        // in the dead-letter queue (its alarm says Scheduler could not reach track).
        max_retry_attempts: 2,
        max_event_age_seconds: 300,
    };
    Timers {
        group: ScheduleGroup { id: "ScheduleGroup".into(), name },
        role,
        reconcile,
        track_arn,
        track_arn_len: quotas::worst_arn_len("lambda", true, "function:".len() + track_function.len()),
        dlq_arn,
        dlq_arn_len: quotas::worst_arn_len("sqs", true, track_dlq_name.len()),
    }
}

impl Timers {
    /// What arming a timer takes, for both functions: CreateSchedule in the project's group only,
    /// and PassRole of the timer role to Scheduler only.
    pub fn statements(&self) -> Vec<Statement> {
        vec![
            Statement {
                sid: "CreateTimers".into(),
                effect: "Allow",
                actions: vec!["scheduler:CreateSchedule".into()],
                resources: vec![schedules_arn(&self.group.name)],
                condition: Value::Null,
            },
            Statement {
                sid: "DeleteDeadlines".into(),
                effect: "Allow",
                actions: vec!["scheduler:DeleteSchedule".into()],
                resources: deadline_timers_arns(&self.group.name),
                condition: Value::Null,
            },
            Statement {
                sid: "PassTimerRole".into(),
                effect: "Allow",
                actions: vec!["iam:PassRole".into()],
                resources: vec![get_att(&self.role.id, "Arn")],
                condition: json!({ "StringEquals": { "iam:PassedToService": "scheduler.amazonaws.com" } }),
            },
        ]
    }

    /// The timer variables, with `target` as the function a timer invokes (create-job: `GetAtt` of
    /// track; track itself: [`Timers::track_arn`], as a `GetAtt` of itself would be a cycle).
    pub fn environment(&self, target: Value) -> Vec<TimerVar> {
        let path = self.role.path.as_deref().map_or(1, str::len);
        let role_arn_len = quotas::worst_arn_len("iam", false, "role".len() + path + quotas::MAX_ROLE_NAME_LEN);
        vec![
            (contract::ENV_SCHEDULE_GROUP, json!(self.group.name), self.group.name.len()),
            (contract::ENV_TIMER_ROLE_ARN, get_att(&self.role.id, "Arn"), role_arn_len),
            (contract::ENV_TIMER_TARGET_ARN, target, self.track_arn_len),
            (contract::ENV_TIMER_DLQ_ARN, self.dlq_arn.clone(), self.dlq_arn_len),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_scopes_creating_and_the_trust_policy() {
        let t = timers(
            "media",
            Track { id: "TrackFunction", name: "media-track", dlq_id: "TrackDlq", dlq_name: "media-track-dlq" },
        );
        assert_eq!(t.group.name, "jobgen-media");
        let statements = t.statements();
        assert_eq!(
            statements[0].resources,
            [
                json!({"Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/jobgen-media/*"})
            ]
        );
        // Deleting: the deadline timers only, never the reconcile schedule or a retry.
        assert_eq!(statements[1].actions, ["scheduler:DeleteSchedule"]);
        assert_eq!(
            statements[1].resources,
            [
                json!({"Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/jobgen-media/run-*"}),
                json!({"Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/jobgen-media/start-*"})
            ]
        );
        assert!(
            !contract::RECONCILE_SCHEDULE.starts_with("run-") && !contract::RECONCILE_SCHEDULE.starts_with("start-")
        );
        assert_eq!(statements[2].resources, [json!({"Fn::GetAtt": ["TimerRole", "Arn"]})]);
        assert_eq!(
            t.role.assume_condition["ArnEquals"]["aws:SourceArn"],
            json!({"Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule-group/jobgen-media"})
        );
        assert_eq!(
            t.track_arn,
            json!({"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:media-track"})
        );
        let names: Vec<&str> = t.environment(t.track_arn.clone()).iter().map(|v| v.0).collect();
        assert_eq!(names, contract::TIMER_ENV);
    }

    #[test]
    fn the_reconciler_runs_every_interval_on_track_with_the_timers_role_and_queue() {
        let t = timers(
            "media",
            Track { id: "TrackFunction", name: "media-track", dlq_id: "TrackDlq", dlq_name: "media-track-dlq" },
        );
        let r = &t.reconcile;
        assert_eq!((r.name, r.expression.as_str()), ("reconcile", "rate(5 minutes)"));
        assert_eq!(serde_json::from_str::<Value>(&r.input).ok(), Some(contract::reconcile_payload()));
        assert_eq!(r.target_arn, json!({"Fn::GetAtt": ["TrackFunction", "Arn"]}));
        assert_eq!(r.role_arn, json!({"Fn::GetAtt": ["TimerRole", "Arn"]}));
        // The role may do what the schedule asks of it: invoke that function, send to that queue.
        let policy = &t.role.policies[0].statements;
        assert_eq!(policy[0].actions, ["lambda:InvokeFunction"]);
        assert_eq!(policy[0].resources, std::slice::from_ref(&t.track_arn));
        assert_eq!(policy[1].resources, std::slice::from_ref(&r.dlq_arn));
        assert!((60..=86_400).contains(&r.max_event_age_seconds) && r.max_retry_attempts <= 185);
    }
}
