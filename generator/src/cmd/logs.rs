//! `jobgen logs`: the CloudWatch log lines of a job's task; `--follow` until the job ends.

use serde_json::json;

use super::{StackArgs, fail, seconds, with_ops};
use crate::output::{self, OutputFormat};
use jobgen_ops::{self as ops, Ops, OpsError};

/// `jobgen logs` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job id (printed by `jobgen submit`).
    pub job_id: String,
    /// Keep printing new lines until the job ends (waits for its task and log stream first).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// With --follow: seconds between reads.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: StackArgs,
}

fn print_lines(output: OutputFormat, lines: &[ops::logs::LogLine]) {
    for line in lines {
        match output {
            OutputFormat::Json => {
                output::print_json_line(&json!({"timestamp": line.timestamp, "message": line.message}))
            }
            OutputFormat::Table => {
                let at = chrono::DateTime::from_timestamp_millis(line.timestamp)
                    .map(|t| jobgen_runtime::job::format_ts(&t))
                    .unwrap_or_default();
                println!("{at}  {}", line.message);
            }
        }
    }
}

/// `jobgen logs`.
pub fn run(args: Args) -> i32 {
    let output = args.stack.output;
    let interval = match seconds(args.interval, "--interval") {
        Ok(i) => i,
        Err(e) => return fail(output, &e),
    };
    with_ops(&args.stack, async |ops: &Ops| {
        if args.follow {
            return follow(ops, &args.job_id, interval, output).await;
        }
        let job = ops.job(&args.job_id).await?;
        let Some((group, stream)) = ops.log_stream(&job).await? else {
            return Err(OpsError::job_state(
                &job.job_id,
                format!(
                    "job {} has no task{} yet ({}): no logs exist yet",
                    job.job_id,
                    if job.attempt.task_arn.is_some() { " log configuration" } else { "" },
                    job.status
                ),
            ));
        };
        let lines = ops::logs::read(&ops.logs, &group, &stream)
            .await
            .map_err(|message| OpsError::Aws { operation: "CloudWatch Logs GetLogEvents".into(), message })?;
        let Some(lines) = lines else {
            return Err(OpsError::job_state(
                &job.job_id,
                format!(
                    "job {} ({}): its log stream {group} {stream} does not exist yet: the container has not written anything",
                    job.job_id, job.status
                ),
            ));
        };
        match output {
            OutputFormat::Json => output::print_json(&json!({"logGroup": group, "logStream": stream, "events": lines})),
            OutputFormat::Table => print_lines(output, &lines),
        }
        Ok(0)
    })
}

/// How long `--follow` keeps reading after the job ended: awslogs delivers a container's last
/// lines a moment after the task stopped.
const FOLLOW_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// `--follow`: every line of the current attempt's stream as it comes (with `--output json`, one
/// JSON object per line), until [`FOLLOW_GRACE`] after the job ended. A retried job's next attempt
/// is followed in its own stream.
async fn follow(ops: &Ops, job_id: &str, interval: std::time::Duration, output: OutputFormat) -> Result<i32, OpsError> {
    let mut at: Option<(String, String, Option<String>)> = None;
    let mut ended_at: Option<std::time::Instant> = None;
    loop {
        let job = ops.job(job_id).await?;
        if ops::watch_ends(&job) && ended_at.is_none() {
            ended_at = Some(std::time::Instant::now());
        }
        let ended = ended_at.is_some_and(|t| t.elapsed() >= FOLLOW_GRACE);
        if let Some((group, stream)) = ops.log_stream(&job).await? {
            let token = match &at {
                Some((g, s, token)) if *g == group && *s == stream => token.clone(),
                _ => None,
            };
            let read = ops::logs::read_from(&ops.logs, &group, &stream, token)
                .await
                .map_err(|message| OpsError::Aws { operation: "CloudWatch Logs GetLogEvents".into(), message })?;
            if let Some((lines, next)) = read {
                print_lines(output, &lines);
                at = Some((group, stream, next));
            }
        }
        if ended {
            if at.is_none() && output == OutputFormat::Table {
                eprintln!("job {job_id} ended ({}) without writing any log line", job.status);
            }
            return Ok(0);
        }
        tokio::time::sleep(interval).await;
    }
}
