//! `jobgen submit`: invoke the stack's create-job function, optionally following the job.

use serde_json::json;

use super::{PollArgs, StackArgs, fail, with_ops};
use crate::output::{self, OutputFormat};
use jobgen_ops::{self as ops, Ops};

/// The command's `after_help`.
pub const HELP: &str = "Exit codes: 0 submitted (with --wait: the job SUCCEEDED), 1 the job failed or did not \
launch, 2 bad input (malformed --env, unknown job type, idempotency key reused with other parameters), 3 AWS error.

Example:
  jobgen submit hello --stack jobgen-quickstart
  jobgen submit sleep --env SLEEP_SECONDS=10 --idempotency-key order-42 --wait
  JOB=$(jobgen submit hello --output json | jq -r .jobId)";

/// `jobgen submit` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job type (one of the stack's job types).
    pub job_type: String,
    /// An environment variable for the job's main container, as NAME=value (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Submitting again with the same key returns the same job and never starts a second task.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Wait until the job finishes; exit 0 only when it SUCCEEDED.
    #[arg(long)]
    pub wait: bool,
    /// How often to read the job, and for how long.
    #[command(flatten)]
    pub poll: PollArgs,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `jobgen submit`.
pub fn run(args: Args) -> i32 {
    let env = match ops::parse_env(&args.env) {
        Ok(env) => env,
        Err(e) => return fail(args.stack.output, &e),
    };
    let (interval, timeout) = match args.poll.durations() {
        Ok(p) => p,
        Err(e) => return fail(args.stack.output, &e),
    };
    let mut request = json!({ "jobType": args.job_type, "environment": env });
    if let Some(key) = &args.idempotency_key {
        request["idempotencyKey"] = json!(key);
    }
    let output = args.stack.output;
    with_ops(&args.stack, async |ops: &Ops| {
        let view = ops.submit(&request).await?;
        let job_id = view["jobId"].as_str().unwrap_or_default().to_string();
        let created = view["created"].as_bool().unwrap_or(true);
        if !args.wait {
            match output {
                OutputFormat::Json => output::print_json(&view),
                OutputFormat::Table => {
                    println!("{job_id}");
                    eprintln!(
                        "{} job {job_id} ({}): {}",
                        if created { "submitted" } else { "already submitted (same idempotency key):" },
                        args.job_type,
                        view["status"].as_str().unwrap_or("?")
                    );
                }
            }
            return Ok(0);
        }
        eprintln!("{} job {job_id}; waiting for it to finish", if created { "submitted" } else { "found existing" });
        let job = ops::watch(ops, &job_id, interval, timeout, |job, elapsed| {
            eprintln!("{}", output::progress_line(job, elapsed))
        })
        .await?;
        output::print_jobs(output, std::slice::from_ref(&job), true);
        Ok(jobgen_ops::final_exit_code(job.status))
    })
}
