//! `jobgen status`: one job's record; for a QUEUED job also its queue position and an estimated
//! start (estimates, said so in the output).

use serde_json::Value;

use super::{JobArgs, with_ops};
use crate::output::{self, OutputFormat};
use jobgen_ops::Ops;

/// `jobgen status`.
pub fn run(args: JobArgs) -> i32 {
    let output = args.stack.output;
    with_ops(&args.stack, async |ops: &Ops| {
        let job = ops.job(&args.job_id).await?;
        // The estimate is extra: a failure to compute it is reported, and the record still shown.
        let estimate = match ops.queue_estimate(&job, chrono::Utc::now()).await {
            Ok(e) => e,
            Err(e) => {
                eprintln!("warning: cannot estimate the job's queue position: {e}");
                None
            }
        };
        let progress = match ops.progress(&job).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("warning: cannot read the job's progress: {e}");
                None
            }
        };
        match output {
            OutputFormat::Json => {
                let mut record = job.to_json();
                if let (Value::Object(map), Some(p)) = (&mut record, &progress) {
                    map.insert("progress".into(), serde_json::to_value(p).unwrap_or(Value::Null));
                }
                if let (Value::Object(map), Some(Value::Object(extra))) =
                    (&mut record, estimate.as_ref().map(|e| e.to_json()))
                {
                    map.extend(extra);
                }
                output::print_json(&record)
            }
            OutputFormat::Table => {
                let mut extra = estimate.as_ref().map(|e| output::queue_lines(&job, e)).unwrap_or_default();
                if let Some(p) = &progress {
                    extra.push(("progress".to_string(), p.line()));
                }
                print!("{}", output::job_details(&job, &extra))
            }
        }
        Ok(0)
    })
}
