//! One module per command: each owns its clap arguments and its `run`, calls one library
//! (`jobgen_synth`, `jobgen_ops` or `jobgen_local`) and renders the result with [`crate::output`].
//! This module holds what the operator commands share: the stack argument, the async runtime, the
//! error rendering and the polling flags.

pub mod cancel;
pub mod dashboard;
pub mod deploy;
pub mod destroy;
pub mod dev;
pub mod init;
pub mod list;
pub mod logs;
pub mod retry;
pub mod schedules;
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
    /// Without it (and without JOBGEN_STACK): `jobgen-<project>` for the project in ./jobgen.yaml,
    /// the name `jobgen dev` deploys under.
    #[arg(long, env = "JOBGEN_STACK", value_name = "NAME")]
    pub stack: Option<String>,
    /// The stack of this environment of the project in ./jobgen.yaml
    /// (`jobgen-<project>-<environment>`), in place of --stack and JOBGEN_STACK.
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,
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

/// The project file the operator commands look in for the stack's name.
pub const PROJECT_FILE: &str = "jobgen.yaml";

impl StackArgs {
    /// The stack's name: `--stack` or `JOBGEN_STACK`, else the default name of the project in
    /// `./jobgen.yaml` ([`jobgen_runtime::contract::default_stack_name`]); with `--environment`,
    /// always the stack of that environment of `./jobgen.yaml`.
    pub fn stack_name(&self) -> Result<String, OpsError> {
        if let Some(stack) = &self.stack
            && self.environment.is_none()
        {
            return Ok(stack.clone());
        }
        let path = std::path::Path::new(PROJECT_FILE);
        if !path.exists() {
            return Err(OpsError::Usage {
                message: format!(
                    "no stack given: no --stack, no JOBGEN_STACK, and no ./{PROJECT_FILE} to take its name from"
                ),
                help:
                    "pass --stack NAME (or set JOBGEN_STACK), or run the command in the directory of your jobgen.yaml \
                       (its stack is jobgen-<project>, the name `jobgen dev` deploys under)"
                        .into(),
            });
        }
        match jobgen_synth::load_environment(path, self.environment.as_deref()) {
            Ok(config) => Ok(jobgen_runtime::contract::default_stack_name(&config.project.name)),
            Err(report) => Err(match (&self.environment, report.diagnostics.as_slice()) {
                // The environment is what is wrong, not the file: say which ones there are.
                (Some(_), [d]) if d.path == "environments" => {
                    OpsError::Usage { message: d.message.clone(), help: d.help.clone() }
                }
                _ => OpsError::Usage {
                    message: format!(
                        "no stack given, and ./{PROJECT_FILE}, where its name would come from, has {} problem(s)",
                        report.diagnostics.len()
                    ),
                    help: format!("`jobgen validate -c {PROJECT_FILE}` shows them; or pass --stack NAME"),
                },
            }),
        }
    }
}

/// Connects to the stack and runs `f`; errors become their exit codes (and, with `--output
/// json`, a JSON error on stdout).
pub fn with_ops<F>(args: &StackArgs, f: F) -> i32
where
    F: AsyncFnOnce(&Ops) -> Result<i32, OpsError>,
{
    let stack = match args.stack_name() {
        Ok(stack) => stack,
        Err(e) => return fail(args.output, &e),
    };
    let Some(rt) = runtime() else { return 3 };
    rt.block_on(async {
        let ops = match Ops::connect(&stack).await {
            Ok(ops) => ops,
            Err(e) => return fail(args.output, &e),
        };
        match f(&ops).await {
            Ok(code) => code,
            Err(e) => fail(args.output, &e),
        }
    })
}

/// `value` seconds as a duration, or a usage error naming `flag`.
pub fn seconds(value: f64, flag: &str) -> Result<Duration, OpsError> {
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
    /// Give up waiting after this many seconds (exit 4; the job goes on).
    #[arg(long)]
    pub timeout: Option<f64>,
}

impl PollArgs {
    /// The interval and the timeout as durations, or a usage error naming the flag.
    pub fn durations(&self) -> Result<(Duration, Option<Duration>), OpsError> {
        Ok((seconds(self.interval, "--interval")?, self.timeout.map(|t| seconds(t, "--timeout")).transpose()?))
    }
}
