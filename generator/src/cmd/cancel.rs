//! `jobgen cancel`: CANCELLED with a conditional write, then StopTask.

use serde_json::json;

use super::{StackArgs, with_ops};
use crate::output::{self, OutputFormat};
use jobgen_ops::Ops;

/// `jobgen cancel` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job id.
    pub job_id: String,
    /// Why (recorded by ECS as the task's stoppedReason).
    #[arg(long, default_value = "cancelled with jobgen cancel")]
    pub reason: String,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `jobgen cancel`.
pub fn run(args: Args) -> i32 {
    let output = args.stack.output;
    with_ops(&args.stack, async |ops: &Ops| {
        let (job, stopped) = ops.cancel(&args.job_id, &args.reason).await?;
        match output {
            OutputFormat::Json => output::print_json(&json!({"job": job.to_json(), "taskStopped": stopped})),
            OutputFormat::Table => eprintln!(
                "cancelled job {}{}",
                job.job_id,
                if stopped { " and stopped its task" } else { " (it had no task yet)" }
            ),
        }
        Ok(0)
    })
}
