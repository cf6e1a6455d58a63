//! Where a job's container logs are: the awslogs group and stream of its task (from the task
//! definition's log configuration: `<awslogs-stream-prefix>/<container>/<task id>`), and the two
//! calls on it — append (the simulator's log lines) and read (`jobgen logs`).

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use chrono::{DateTime, Utc};

/// The log group and stream of `container` in `task_arn`, from the task definition's awslogs
/// options; `None` when the task definition has no awslogs configuration for it.
pub async fn stream_for(
    ecs: &aws_sdk_ecs::Client,
    task_definition_arn: &str,
    container: &str,
    task_arn: &str,
) -> Option<(String, String)> {
    let out = ecs.describe_task_definition().task_definition(task_definition_arn).send().await.ok()?;
    let def = out.task_definition()?;
    let container_def = def.container_definitions().iter().find(|c| c.name() == Some(container))?;
    let options = container_def.log_configuration()?.options()?;
    let group = options.get("awslogs-group")?.clone();
    let task_id = task_arn.rsplit('/').next().unwrap_or(task_arn);
    let stream = match options.get("awslogs-stream-prefix") {
        Some(prefix) => format!("{prefix}/{container}/{task_id}"),
        None => task_id.to_string(),
    };
    Some((group, stream))
}

/// Appends `lines` at `at` to the stream (created when missing).
pub async fn append(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    at: DateTime<Utc>,
    lines: &[String],
) -> Result<(), String> {
    let created = logs.create_log_stream().log_group_name(group).log_stream_name(stream).send().await;
    if let Err(e) = created
        && !e.as_service_error().is_some_and(|s| s.is_resource_already_exists_exception())
    {
        return Err(super::aws_error(&e));
    }
    let events = lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            InputLogEvent::builder().timestamp(at.timestamp_millis() + i as i64).message(line).build().ok()
        })
        .collect();
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .map_err(|e| super::aws_error(&e))?;
    Ok(())
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// The text.
    pub message: String,
}

/// Reads the whole stream from its start; `Ok(None)` when the stream does not exist (yet).
pub async fn read(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
) -> Result<Option<Vec<LogLine>>, String> {
    Ok(read_from(logs, group, stream, None).await?.map(|(lines, _)| lines))
}

/// Reads the stream from `token` (a token this returned before; `None`: from its start), and
/// returns the lines and the token to go on from; `Ok(None)` when the stream does not exist (yet).
pub async fn read_from(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    mut token: Option<String>,
) -> Result<Option<(Vec<LogLine>, Option<String>)>, String> {
    let mut lines = Vec::new();
    // GetLogEvents pages until the forward token repeats; bounded so a busy stream cannot loop forever.
    for _ in 0..100 {
        let result = logs
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(true)
            .set_next_token(token.clone())
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(None),
            Err(e) => return Err(super::aws_error(&e)),
        };
        lines.extend(out.events().iter().map(|e| LogLine {
            timestamp: e.timestamp().unwrap_or_default(),
            message: e.message().unwrap_or_default().to_string(),
        }));
        let next = out.next_forward_token().map(str::to_string);
        let done = next.is_none() || next == token || out.events().is_empty();
        if next.is_some() {
            token = next;
        }
        if done {
            break;
        }
    }
    Ok(Some((lines, token)))
}
