//! `jobgen list`: jobs newest first, by status, type and age.

use super::{StackArgs, fail, with_ops};
use crate::output::{self, OutputFormat};
use jobgen_ops::{self as ops, Ops};

/// `jobgen list` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only jobs with this status (QUEUED, SUBMITTED, STARTING, RUNNING, RETRYING, LAUNCH_FAILED, SUCCEEDED,
    /// FAILED, CANCELLED, TIMED_OUT).
    #[arg(long)]
    pub status: Option<String>,
    /// Only jobs of this type.
    #[arg(long = "type", value_name = "JOB_TYPE")]
    pub job_type: Option<String>,
    /// Only jobs created since: a duration back from now (90s, 15m, 2h, 7d) or an RFC 3339 time.
    #[arg(long, value_name = "DURATION|TIMESTAMP")]
    pub since: Option<String>,
    /// At most this many jobs (1 or more).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `jobgen list`.
pub fn run(args: Args) -> i32 {
    let status = match args.status.as_deref().map(ops::parse_status).transpose() {
        Ok(s) => s,
        Err(e) => return fail(args.stack.output, &e),
    };
    let since = match args.since.as_deref().map(|s| ops::parse_since(s, chrono::Utc::now())).transpose() {
        Ok(s) => s,
        Err(e) => return fail(args.stack.output, &e),
    };
    let output = args.stack.output;
    with_ops(&args.stack, async |ops: &Ops| {
        let jobs = ops.list(status, args.job_type.as_deref(), since, args.limit as usize).await?;
        output::print_jobs(output, &jobs, false);
        if output == OutputFormat::Table && jobs.is_empty() {
            eprintln!("no jobs match");
        }
        Ok(0)
    })
}
