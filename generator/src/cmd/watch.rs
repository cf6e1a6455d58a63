//! `jobgen watch`: one line per change until the job ends.

use super::{PollArgs, StackArgs, fail, with_ops};
use crate::output::{self, OutputFormat};
use jobgen_ops::{self as ops, Ops};
use serde_json::Value;

/// `jobgen watch` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job id.
    pub job_id: String,
    /// How often to read the job, and for how long.
    #[command(flatten)]
    pub poll: PollArgs,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `jobgen watch`.
pub fn run(args: Args) -> i32 {
    let (interval, timeout) = match args.poll.durations() {
        Ok(p) => p,
        Err(e) => return fail(args.stack.output, &e),
    };
    let output = args.stack.output;
    with_ops(&args.stack, async |ops: &Ops| {
        let job = ops::watch(ops, &args.job_id, interval, timeout, |job, progress, elapsed| match output {
            // One JSON object per change (JSON Lines), the last one the final record.
            OutputFormat::Json => {
                let mut record = job.to_json();
                if let (Value::Object(map), Some(p)) = (&mut record, progress) {
                    map.insert("progress".into(), serde_json::to_value(p).unwrap_or(Value::Null));
                }
                output::print_json_line(&record)
            }
            OutputFormat::Table => eprintln!("{}", output::progress_line(job, progress, elapsed)),
        })
        .await?;
        if output == OutputFormat::Table {
            output::print_jobs(output, std::slice::from_ref(&job), true);
        }
        Ok(jobgen_ops::final_exit_code(job.status))
    })
}
