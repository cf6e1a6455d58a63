//! `jobgen status`: one job's record.

use super::{JobArgs, with_ops};
use crate::output::{self, OutputFormat};
use jobgen_ops::Ops;

/// `jobgen status`.
pub fn run(args: JobArgs) -> i32 {
    let output = args.stack.output;
    with_ops(&args.stack, async |ops: &Ops| {
        let job = ops.job(&args.job_id).await?;
        match output {
            OutputFormat::Json => output::print_json(&job.to_json()),
            OutputFormat::Table => print!("{}", output::job_details(&job)),
        }
        Ok(0)
    })
}
