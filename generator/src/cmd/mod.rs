//! One module per command: each owns its clap arguments and its `run`, calls one library
//! (`jobgen_synth`, `jobgen_ops` or `jobgen_local`) and renders the result with [`crate::output`].
//! This module holds what the operator commands share: the stack argument, the async runtime, the
//! error rendering and the polling flags.

pub mod cancel;
pub mod dev;
pub mod init;
pub mod list;
pub mod logs;
pub mod retry;
pub mod stats;
pub mod status;
pub mod submit;
pub mod synth;
pub mod validate;
pub mod watch;

use std::time::Duration;

use jobgen_ops::{Ops, OpsError};

use crate::output::{self, OutputFormat};

/// What every operator command needs: which stack, and how to print.
#[derive(Debug, Clone, clap::Args)]
pub struct StackArgs {
    /// The CloudFormation stack that jobgen deployed (its Outputs name the table and functions).
    #[arg(long, env = "JOBGEN_STACK", value_name = "NAME")]
    pub stack: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Arguments of commands on one job.
#[derive(Debug, clap::Args)]
pub struct JobArgs {
    /// The job id (printed by `jobgen submit`).
    pub job_id: String,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// A multi-threaded runtime for the commands that call AWS.
pub fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Prints an operator error as `error:` + `help:` on stderr and returns its exit code; with
/// `--output json` also as one JSON document on stdout ([`output::error_json`]), so a script that
/// reads stdout gets an answer either way.
pub fn fail(output: OutputFormat, e: &OpsError) -> i32 {
    let help = e.help();
    eprintln!("error: {e}\n  help: {help}");
    if output == OutputFormat::Json {
        output::print_json(&output::error_json(e.code(), &e.to_string(), &help, e.exit_code()));
    }
    e.exit_code()
}

/// Connects to the stack and runs `f`; errors become their exit codes (and, with `--output
/// json`, a JSON error on stdout).
pub fn with_ops<F>(args: &StackArgs, f: F) -> i32
where
    F: AsyncFnOnce(&Ops) -> Result<i32, OpsError>,
{
    let Some(rt) = runtime() else { return 3 };
    rt.block_on(async {
        let ops = match Ops::connect(&args.stack).await {
            Ok(ops) => ops,
            Err(e) => return fail(args.output, &e),
        };
        match f(&ops).await {
            Ok(code) => code,
            Err(e) => fail(args.output, &e),
        }
    })
}

fn seconds(value: f64, flag: &str) -> Result<Duration, OpsError> {
    Duration::try_from_secs_f64(value).map_err(|_| OpsError::Usage {
        message: format!("{flag} {value}: is not a number of seconds"),
        help: format!("pass a positive number, e.g. {flag} 1"),
    })
}

/// How the commands that follow a job poll it (`submit --wait`, `watch`).
#[derive(Debug, Clone, clap::Args)]
pub struct PollArgs {
    /// Seconds between status reads.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Give up waiting after this many seconds (exit 1).
    #[arg(long)]
    pub timeout: Option<f64>,
}

impl PollArgs {
    /// The interval and the timeout as durations, or a usage error naming the flag.
    pub fn durations(&self) -> Result<(Duration, Option<Duration>), OpsError> {
        Ok((seconds(self.interval, "--interval")?, self.timeout.map(|t| seconds(t, "--timeout")).transpose()?))
    }
}
