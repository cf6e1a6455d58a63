//! `jobgen dashboard`: the local web UI (the `jobgen-dashboard` crate) on loopback, with the
//! operator's own credentials; this module only parses the flags and finds the stack and queues.

use std::net::IpAddr;
use std::path::PathBuf;

use super::{StackArgs, fail, runtime};
use jobgen_ops::{Ops, OpsError};

/// The command's `after_help`.
pub const HELP: &str = "Serves the dashboard on http://127.0.0.1:PORT/ until Ctrl-C: the job list (filters by \
status, type and time, lookup by job id or idempotency key, live updates), each job's timeline and log lines, \
per-type stats with charts (the figures of `jobgen stats`), the queues, and cancel/retry, single and bulk (a bulk \
action says how many jobs it will touch and asks first). Nothing is deployed: it calls AWS with your credentials, \
like the other commands. It binds 127.0.0.1 unless --bind says otherwise, answers only to its own address, and \
refuses cross-site state-changing requests.

Example:
  jobgen dashboard --open
  jobgen dashboard --stack jobgen-quickstart --port 8080";

/// `jobgen dashboard` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on (a non-loopback address exposes the dashboard, and your AWS
    /// credentials' power over the stack, to that network).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// The port (0: any free port; the URL is printed).
    #[arg(long, default_value_t = 9080)]
    pub port: u16,
    /// Open the dashboard in the browser once it listens.
    #[arg(long)]
    pub open: bool,
    /// The project file whose concurrency limits the queue view shows (default ./jobgen.yaml when
    /// it exists).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Stack (the output format is not used).
    #[command(flatten)]
    pub stack: StackArgs,
}

/// The queues of the project file (key and limit): the project's queue alone when it has a
/// limit, else each limited job type's (as the runtime's launch table decides).
fn queues(path: &std::path::Path, environment: Option<&str>) -> Result<Vec<(String, Option<u32>)>, OpsError> {
    let config = jobgen_synth::load_environment(path, environment).map_err(|report| OpsError::Usage {
        message: format!("-c {}: has {} problem(s)", path.display(), report.diagnostics.len()),
        help: format!("`jobgen validate -c {}` shows them", path.display()),
    })?;
    if let Some(max) = config.limits.max_concurrency {
        return Ok(vec![(jobgen_runtime::contract::PROJECT_QUEUE.to_string(), Some(max))]);
    }
    Ok(config.job_types.iter().filter_map(|(name, t)| t.max_concurrency.map(|max| (name.clone(), Some(max)))).collect())
}

/// `jobgen dashboard`.
pub fn run(args: Args) -> i32 {
    let output = args.stack.output;
    let stack = match args.stack.stack_name() {
        Ok(stack) => stack,
        Err(e) => return fail(output, &e),
    };
    let config = args.config.clone().or_else(|| {
        let default = PathBuf::from(super::PROJECT_FILE);
        default.exists().then_some(default)
    });
    let queues = match config.as_deref().map(|c| queues(c, args.stack.environment.as_deref())).transpose() {
        Ok(q) => q.unwrap_or_default(),
        Err(e) => return fail(output, &e),
    };
    if !args.bind.is_loopback() {
        eprintln!(
            "warning: --bind {}: the dashboard is reachable from that network and acts with your AWS credentials",
            args.bind
        );
    }
    let Some(rt) = runtime() else { return 3 };
    rt.block_on(async {
        let ops = match Ops::connect(&stack).await {
            Ok(ops) => ops,
            Err(e) => return fail(output, &e),
        };
        let options = jobgen_dashboard::ServeOptions {
            bind: args.bind,
            port: args.port,
            open: args.open,
            on_ready: |url| println!("jobgen dashboard: {url} (Ctrl-C stops it)"),
            queues,
        };
        match jobgen_dashboard::serve(ops, options).await {
            Ok(()) => 0,
            Err(e @ jobgen_dashboard::ServeError::Bind { .. }) => {
                eprintln!("error: {e}\n  help: pick another --port (0: any free one) or --bind address");
                2
            }
            Err(e) => {
                eprintln!("error: {e}");
                3
            }
        }
    })
}
