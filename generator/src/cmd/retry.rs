//! `jobgen retry`: the next attempt of a finished job (RetryByHand, then track's retry timer).

use super::{StackArgs, with_ops};
use crate::output::{self, OutputFormat};
use jobgen_ops::Ops;

/// The command's `after_help`.
pub const HELP: &str = "Retries a job that FAILED, TIMED_OUT, was CANCELLED or could not launch (LAUNCH_FAILED): \
marks it RETRYING (a conditional write: only once its attempt is over and its concurrency slot given back), then \
invokes the stack's track function with the retry timer's payload, so the next attempt starts at once (or, behind a \
concurrency limit, waits QUEUED at its old place). A RETRYING job's next attempt starts at once, without waiting \
for its backoff. A job that is still running or queued, or that SUCCEEDED, is refused and left unchanged.

Needs lambda:InvokeFunction on the track function (output TrackFunctionName) besides the table.

Exit codes: 0 the next attempt started or is queued, 1 the job cannot be retried in its state or is not found, \
2 usage, 3 AWS error.

Example:
  jobgen retry $JOB
  jobgen retry $JOB --output json | jq .job.attempt";

/// `jobgen retry` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job id.
    pub job_id: String,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `jobgen retry`.
pub fn run(args: Args) -> i32 {
    let output = args.stack.output;
    with_ops(&args.stack, async |ops: &Ops| {
        let report = ops.retry(&args.job_id).await?;
        match output {
            OutputFormat::Json => output::print_json(&report.to_json()),
            OutputFormat::Table => eprintln!("{}", output::retry_line(&report)),
        }
        Ok(0)
    })
}
