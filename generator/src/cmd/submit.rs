//! `jobgen submit`: invoke the stack's create-job function, optionally following the job.

use serde_json::{Value, json};

use super::{PollArgs, StackArgs, fail, with_ops};
use crate::output::{self, OutputFormat};
use jobgen_ops::{self as ops, Ops};

/// The command's `after_help`.
pub const HELP: &str = "Exit codes: 0 submitted (with --wait: the job SUCCEEDED), 1 the job failed or did not \
launch, 2 bad input (malformed --env, --command or --metadata, unknown job type, a command override the job type \
does not allow, idempotency key reused with other parameters), 3 AWS error, 4 --wait gave up (--timeout) before \
the job finished.

Example:
  jobgen submit hello --stack jobgen-quickstart
  jobgen submit sleep --env SLEEP_SECONDS=10 --idempotency-key order-42 --wait
  jobgen submit report --metadata '{\"order\": 42}' --command '[\"python\", \"report.py\", \"--full\"]'
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
    /// The main container's command instead of the job type's, as a JSON array of strings (only
    /// for job types with `allow_command_override: true`).
    #[arg(long, value_name = "JSON_ARRAY")]
    pub command: Option<String>,
    /// A JSON object stored with the job (shown by `status`, never passed to the task).
    #[arg(long, value_name = "JSON_OBJECT")]
    pub metadata: Option<String>,
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

/// A flag's JSON value, when given, if `shape` accepts it; else a usage error with `example`.
fn parse_json_flag(
    text: Option<&str>,
    flag: &str,
    example: &str,
    shape: impl Fn(&Value) -> bool,
) -> Result<Option<Value>, jobgen_ops::OpsError> {
    let Some(text) = text else { return Ok(None) };
    let expected = if flag == "--command" { "a JSON array of strings" } else { "a JSON object" };
    match serde_json::from_str::<Value>(text) {
        Ok(value) if shape(&value) => Ok(Some(value)),
        Ok(_) => Err(jobgen_ops::OpsError::Usage {
            message: format!("{flag}: is not {expected}"),
            help: format!("for example {example}"),
        }),
        Err(e) => Err(jobgen_ops::OpsError::Usage {
            message: format!("{flag}: is not JSON ({e})"),
            help: format!("pass {expected}, quoted for the shell: {example}"),
        }),
    }
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
    match parse_json_flag(args.command.as_deref(), "--command", r#"--command '["python", "main.py"]'"#, |v| {
        v.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string))
    }) {
        Ok(Some(command)) => request["command"] = command,
        Ok(None) => {}
        Err(e) => return fail(args.stack.output, &e),
    }
    match parse_json_flag(args.metadata.as_deref(), "--metadata", r#"--metadata '{"order": 42}'"#, Value::is_object) {
        Ok(Some(metadata)) => request["metadata"] = metadata,
        Ok(None) => {}
        Err(e) => return fail(args.stack.output, &e),
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
        let job = ops::watch(ops, &job_id, interval, timeout, |job, progress, elapsed| {
            eprintln!("{}", output::progress_line(job, progress, elapsed))
        })
        .await?;
        output::print_jobs(output, std::slice::from_ref(&job), true);
        Ok(jobgen_ops::final_exit_code(job.status))
    })
}
