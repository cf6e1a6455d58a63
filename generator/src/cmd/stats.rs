//! `jobgen stats`: per job type, counts by status and failure class, durations, retries, cost.

use super::{StackArgs, fail, with_ops};
use crate::output::{self, OutputFormat};
use jobgen_ops::{self as ops, Ops};

/// The command's `after_help`.
pub const HELP: &str = "Reads the jobs created in the range (the byCreated index, filtered by type for --type, \
then the records by key; never a Scan) and prints, per job type: jobs by status and by failure class (of the current \
attempt), p50/p95/max of queue wait (created → first attempt launched), start-up (created → current attempt \
running) and run time (current attempt running → stopped), retries (earlier attempts, and how many jobs needed \
one), and cost (mean per job, and the total over every attempt). Percentiles are nearest-rank over the jobs that \
have the figure; n/a when none has.

Example:
  jobgen stats
  jobgen stats --type hello --since 24h
  jobgen stats --since 2026-01-01T00:00:00Z --output json | jq '.types[] | {jobType, retries}'";

/// `jobgen stats` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only jobs of this type.
    #[arg(long = "type", value_name = "JOB_TYPE")]
    pub job_type: Option<String>,
    /// Jobs created since: a duration back from now (90s, 15m, 2h, 7d) or an RFC 3339 time.
    #[arg(long, value_name = "DURATION|TIMESTAMP", default_value = "7d")]
    pub since: String,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `jobgen stats`.
pub fn run(args: Args) -> i32 {
    let since = match ops::parse_since(&args.since, chrono::Utc::now()) {
        Ok(s) => s,
        Err(e) => return fail(args.stack.output, &e),
    };
    let output = args.stack.output;
    with_ops(&args.stack, async |ops: &Ops| {
        let report = ops.stats(args.job_type.as_deref(), since).await?;
        match output {
            OutputFormat::Json => output::print_json(&report.to_json()),
            OutputFormat::Table => print!("{}", output::stats_tables(&report)),
        }
        Ok(0)
    })
}
