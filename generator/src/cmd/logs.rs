//! `jobgen logs`: the CloudWatch log lines of a job's task.

use serde_json::json;

use super::{JobArgs, with_ops};
use crate::output::{self, OutputFormat};
use jobgen_ops::{self as ops, Ops, OpsError};

/// `jobgen logs`.
pub fn run(args: JobArgs) -> i32 {
    let output = args.stack.output;
    with_ops(&args.stack, async |ops: &Ops| {
        let job = ops.job(&args.job_id).await?;
        let Some((group, stream)) = ops.log_stream(&job).await? else {
            return Err(OpsError::JobState(format!(
                "job {} has no task{} yet ({}): no logs exist yet",
                job.job_id,
                if job.attempt.task_arn.is_some() { " log configuration" } else { "" },
                job.status
            )));
        };
        let lines = ops::logs::read(&ops.logs, &group, &stream)
            .await
            .map_err(|message| OpsError::Aws { operation: "CloudWatch Logs GetLogEvents".into(), message })?;
        let Some(lines) = lines else {
            return Err(OpsError::JobState(format!(
                "job {} ({}): its log stream {group} {stream} does not exist yet: the container has not written anything",
                job.job_id, job.status
            )));
        };
        match output {
            OutputFormat::Json => output::print_json(&json!({"logGroup": group, "logStream": stream, "events": lines})),
            OutputFormat::Table => {
                for line in &lines {
                    let at = chrono::DateTime::from_timestamp_millis(line.timestamp)
                        .map(|t| jobgen_runtime::job::format_ts(&t))
                        .unwrap_or_default();
                    println!("{at}  {}", line.message);
                }
            }
        }
        Ok(0)
    })
}
