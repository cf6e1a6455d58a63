//! The alarms (`templates/alarms.yaml.j2`): what needs an operator, because nothing retries it.
//!
//! - a message in either dead-letter queue: a task state event that never reached track (the
//!   rule's DLQ) or that track failed on after Lambda's retries (track's DLQ). Until someone looks,
//!   the job it was about keeps the status it had;
//! - an error of track: an event it could not apply this time (Lambda retries it, then it lands in
//!   the DLQ), or a queued job it failed to admit.
//!
//! Each goes off on the first occurrence (more than 0 in a 5-minute period) and is OK again once
//! the queue is empty or a period passes without errors; missing data (an idle project publishes no
//! Lambda metrics) is OK. With `alarms.sns_topic_arn` they notify the topic on both transitions;
//! without it they only change state, and carry the Guard suppression saying so.

use serde::Serialize;
use serde_json::{Value, json};

use super::shapes::{Queue, get_att, r#ref};
use super::suppressions::{self, Suppressions};
use crate::config::Config;

/// One metric alarm: a metric with one dimension, above a threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm {
    /// Logical ID.
    pub id: String,
    /// `AlarmDescription`: what went wrong and what to do.
    pub description: String,
    /// `Namespace`.
    pub namespace: &'static str,
    /// `MetricName`.
    pub metric: &'static str,
    /// The dimension's name.
    pub dimension: &'static str,
    /// The dimension's value (an intrinsic).
    pub dimension_value: Value,
    /// `Statistic`.
    pub statistic: &'static str,
    /// `Period` in seconds.
    pub period_seconds: u32,
    /// `Threshold`: the alarm goes off above it.
    pub threshold: u32,
    /// `AlarmActions` and `OKActions`: the SNS topic, or none.
    pub actions: Vec<Value>,
    /// Scanner suppressions (the Guard rule asking for an action, when there is none).
    pub suppressions: Suppressions,
}

/// What the alarms watch.
#[derive(Debug, Clone, Copy)]
pub struct Watched<'a> {
    /// The rule's dead-letter queue.
    pub rule_dlq: &'a Queue,
    /// Track's dead-letter queue.
    pub track_dlq: &'a Queue,
    /// The track function's logical ID.
    pub track: &'a str,
    /// The schedules' dead-letter queue, when the project has schedules.
    pub schedule_dlq: Option<&'a Queue>,
}

/// The alarms of a project.
pub fn alarms(config: &Config, watched: Watched<'_>) -> Vec<Alarm> {
    let project = config.project.name.as_str();
    let actions: Vec<Value> = config.alarms.sns_topic_arn.iter().map(|arn| json!(arn)).collect();
    let suppressions = if actions.is_empty() {
        Suppressions::of(vec![suppressions::ALARM_NO_ACTIONS.here(None)])
    } else {
        Suppressions::default()
    };
    let alarm = |id: &str, description: String, namespace, metric, dimension, dimension_value, statistic| Alarm {
        id: id.into(),
        description,
        namespace,
        metric,
        dimension,
        dimension_value,
        statistic,
        period_seconds: 300,
        threshold: 0,
        actions: actions.clone(),
        suppressions: suppressions.clone(),
    };
    let dlq = |id: &str, queue: &Queue| {
        alarm(
            id,
            format!(
                "jobgen {project}: messages in the dead-letter queue {}: {}; the jobs they were about keep their last status until someone applies or discards them (read them with `aws sqs receive-message`)",
                queue.name, queue.purpose
            ),
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            get_att(&queue.id, "QueueName"),
            "Maximum",
        )
    };
    let mut alarms = vec![
        dlq("TaskStateRuleDlqAlarm", watched.rule_dlq),
        dlq("TrackDlqAlarm", watched.track_dlq),
        alarm(
            "TrackErrorsAlarm",
            format!(
                "jobgen {project}: the track function failed (an event Lambda retries and then puts in the track dead-letter queue, or a queued job it could not admit); see its log group"
            ),
            "AWS/Lambda",
            "Errors",
            "FunctionName",
            r#ref(watched.track),
            "Sum",
        ),
    ];
    if let Some(queue) = watched.schedule_dlq {
        alarms.push(dlq("ScheduleDlqAlarm", queue));
    }
    alarms
}
