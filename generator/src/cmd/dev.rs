//! `jobgen dev`: the stack on this machine (emulator deploy, both handlers, the ECS simulator).

use std::path::PathBuf;

use jobgen_local::sim::{Faults, SimOptions};

use super::runtime;

/// The command's `after_help`.
pub const HELP: &str = "Deploys the synthesized stack into the AWS emulator at --endpoint-url (moto; `make demo` \
starts one) the way you deploy to AWS (zips to S3, create-stack/update-stack), configures the real create-job and track \
handlers from the DEPLOYED stack (Outputs, the functions' environment, the rule's pattern), serves the Lambda Invoke API \
for both functions on --port, and simulates ECS: each task create-job launches goes through PROVISIONING ... STOPPED, and \
the events the deployed rule matches are delivered to track.

Script a job's outcome with its environment: DEV_OUTCOME=succeed|fail|fail-to-start|image-pull-failure|spot-interruption|oom, \
DEV_RUN_SECONDS=N (simulated; default 5), DEV_EXIT_CODE=N.

Emulator: run moto one request at a time (`.venv/tools/bin/python scripts/moto_server.py 5000`, what `make demo` \
runs). Stock moto_server answers requests on parallel threads and checks DynamoDB conditions and transactions without \
a lock, so two racing conditional writes (a `jobgen cancel` and the event that records the job's end; two admissions \
to the last slot of a concurrency limit) can both pass there, which DynamoDB never allows.

Example:
  .venv/tools/bin/python scripts/moto_server.py 5000 &
  jobgen dev -c examples/quickstart/jobgen.yaml --endpoint-url http://127.0.0.1:5000
  # in another shell, paste the export lines it prints, then:
  jobgen submit hello --env DEV_RUN_SECONDS=30 --wait";

/// `jobgen dev` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path to the project file.
    #[arg(short = 'c', long = "config", default_value = "jobgen.yaml")]
    pub config: PathBuf,
    /// The AWS emulator (moto server).
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: String,
    /// Region of the local stack.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Stack name (default: jobgen-<project name>).
    #[arg(long)]
    pub stack: Option<String>,
    /// Directory of create-job.zip and track.zip (default: the release bundle's next to the binary,
    /// else dist/lambda, as `jobgen synth`); an empty placeholder is uploaded when they are missing
    /// (the emulator never runs them).
    #[arg(long)]
    pub lambda_dir: Option<PathBuf>,
    /// Port for the Lambda Invoke endpoint (0: any free port).
    #[arg(long, default_value_t = 9070)]
    pub port: u16,
    /// Real seconds per simulated second (0.1 runs a 30 s job in 3 s; its timestamps still say 30 s).
    #[arg(long, default_value_t = 0.1)]
    pub time_scale: f64,
    /// Chance (0-1) that a matched event is delivered twice.
    #[arg(long, default_value_t = 0.0)]
    pub duplicate: f64,
    /// Chance (0-1) that a task's events are delivered in reverse order.
    #[arg(long, default_value_t = 0.0)]
    pub reorder: f64,
    /// Chance (0-1) that a matched event other than the final STOPPED is not delivered.
    #[arg(long, default_value_t = 0.0)]
    pub drop: f64,
    /// Chance (0-1) that a task's final STOPPED event is not delivered (the reconciler repairs it).
    #[arg(long, default_value_t = 0.0)]
    pub drop_final: f64,
    /// Share (0-1) of RunTask calls the emulator's ECS refuses (throttled or no capacity): watch the
    /// launch backoff relaunch them.
    #[arg(long, default_value_t = 0.0)]
    pub throttle: f64,
    /// Share (0-1) of the handlers' DynamoDB calls that fail, half before they are sent and half
    /// after they were applied: the invocation fails and is retried, as Lambda retries it.
    #[arg(long, default_value_t = 0.0)]
    pub dynamo_faults: f64,
    /// Seed of the fault decisions.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the export lines to this file (for scripts).
    #[arg(long)]
    pub env_file: Option<PathBuf>,
}

/// `jobgen dev`.
pub fn run(args: Args) -> i32 {
    let probability = |name: &str, p: f64| {
        if (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(format!("--{name} {p}: is not a probability: use a number from 0 to 1"))
        }
    };
    let faults = match (|| {
        Ok::<Faults, String>(Faults {
            duplicate: probability("duplicate", args.duplicate)?,
            reorder: probability("reorder", args.reorder)?,
            drop: probability("drop", args.drop)?,
            drop_final: probability("drop-final", args.drop_final)?,
            throttle: probability("throttle", args.throttle)?,
            dynamo: probability("dynamo-faults", args.dynamo_faults)?,
            seed: args.seed,
        })
    })() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        eprintln!(
            "error: --time-scale {}: must be a positive number (1 = real time, 0.1 = ten times faster)",
            args.time_scale
        );
        return 2;
    }
    let arch = jobgen_synth::load(&args.config).map(|c| c.lambda.architecture.name()).unwrap_or("arm64");
    let lambda_dir = super::synth::locate_lambda_dir(args.lambda_dir.as_deref(), arch).path;
    let options = jobgen_local::DevOptions {
        config: args.config,
        emulator: jobgen_local::Emulator { endpoint: args.endpoint_url, region: args.region },
        stack: args.stack,
        lambda_dir,
        port: args.port,
        sim: SimOptions { time_scale: args.time_scale, faults, ..SimOptions::default() },
        env_file: args.env_file,
    };
    // The handlers' and the simulator's diagnostics (warnings by default; RUST_LOG=info shows every
    // applied event) go to stderr beside jobgen dev's own lines.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
    let Some(rt) = runtime() else { return 3 };
    match rt.block_on(jobgen_local::run(options)) {
        Ok(()) => 0,
        Err(jobgen_local::DevError::Config(report)) => {
            eprintln!("{report}");
            2
        }
        Err(e) => {
            eprintln!(
                "error: {e}\n  help: is the emulator running at the --endpoint-url? (`make demo` starts one; \
                 `.venv/tools/bin/moto_server -p 5000` by hand)"
            );
            3
        }
    }
}
