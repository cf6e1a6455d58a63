//! `jobgen watch`: one line per change until the job ends.

use super::{StackArgs, fail, polling, with_ops};
use crate::output;
use jobgen_ops::{self as ops, Ops};

/// `jobgen watch` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job id.
    pub job_id: String,
    /// Seconds between status reads.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Give up after this many seconds (exit 1).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `jobgen watch`.
pub fn run(args: Args) -> i32 {
    let (interval, timeout) = match polling(args.interval, args.timeout) {
        Ok(p) => p,
        Err(e) => return fail(args.stack.output, &e),
    };
    let output = args.stack.output;
    with_ops(&args.stack, async |ops: &Ops| {
        let job = ops::watch(ops, &args.job_id, interval, timeout, |job, elapsed| {
            eprintln!("{}", output::progress_line(job, elapsed))
        })
        .await?;
        output::print_jobs(output, std::slice::from_ref(&job), true);
        Ok(jobgen_ops::final_exit_code(job.status))
    })
}
