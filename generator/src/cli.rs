//! The `jobgen` command line: clap-derive subcommands whose doc comments are the help text. Each
//! subcommand calls into the library; this module only parses arguments, renders errors and picks
//! exit codes (0 ok, 1 `--check` found a stale file, 2 usage or config error). The operator
//! commands' exit codes are documented in [`crate::ops`] (0 ok, 1 job failed/not found, 2 usage,
//! 3 AWS error).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// jobgen: background jobs on ECS Fargate without an always-on worker.
///
/// Describe clusters, job types and network in jobgen.yaml; jobgen validates it and synthesizes
/// raw CloudFormation (DynamoDB jobs table, create-job and track Lambdas, EventBridge rule, DLQ,
/// IAM, ECS task definitions).
#[derive(Debug, Parser)]
#[command(name = "jobgen", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented jobgen.yaml to start from.
    #[command(
        after_help = "Writes the project file and jobgen.schema.json beside it (the schema its first line points \
                      editors at).\n\nExample:\n  jobgen init                      # writes ./jobgen.yaml\n  jobgen init --example realistic  # start from a bigger example\n  jobgen init -c other.yaml --force"
    )]
    Init(InitArgs),
    /// Check jobgen.yaml and report every problem at once.
    #[command(
        after_help = "Prints `ok: N job types, M clusters`, or every problem (field path, file:line:col, what is \
                      wrong, how to fix it) and exits 2. Colors only on a terminal, and never with NO_COLOR set.\n\n\
                      Example:\n  jobgen validate -c jobgen.yaml"
    )]
    Validate(ConfigArg),
    /// Validate jobgen.yaml and write the CloudFormation template.
    #[command(
        after_help = "Example:\n  jobgen synth -c jobgen.yaml -o build/      # writes build/template.yaml\n  jobgen synth -c jobgen.yaml --format json  # to stdout\n  jobgen synth -c jobgen.yaml -o . --check   # exit 1 if template.yaml is stale"
    )]
    Synth(SynthArgs),
    /// Print the JSON Schema of jobgen.yaml (for editors).
    #[command(after_help = "Example:\n  jobgen schema > jobgen.schema.json")]
    Schema,
    /// Run the stack locally: deploy it into the AWS emulator, run both handlers, simulate ECS.
    #[command(after_help = DEV_HELP)]
    Dev(DevArgs),
    /// Submit a job (invokes the stack's create-job function).
    #[command(after_help = SUBMIT_HELP)]
    Submit(SubmitArgs),
    /// Show one job's record.
    #[command(
        after_help = "Exit codes: 0 found, 1 not found, 2 usage, 3 AWS error.\n\nExample:\n  jobgen status 01jabcdexyz0123456789abcde --stack jobgen-quickstart\n  jobgen status $JOB --output json | jq .status"
    )]
    Status(JobArgs),
    /// List jobs, newest first.
    #[command(
        after_help = "Without --status and --type every status is listed.\n\nExample:\n  jobgen list --status FAILED --since 1h\n  jobgen list --type hello --since 2026-01-31T00:00:00Z --output json"
    )]
    List(ListArgs),
    /// Follow a job until it finishes, printing a line on every change.
    #[command(
        after_help = "Exit codes: 0 the job SUCCEEDED, 1 it failed, was cancelled, could not launch, or is not found; 3 AWS error.\n\nExample:\n  jobgen watch $JOB"
    )]
    Watch(WatchArgs),
    /// Cancel a job: marks it CANCELLED and stops its task (StopTask) when it has one.
    #[command(
        after_help = "A job that already finished cannot be cancelled (exit 1).\n\nExample:\n  jobgen cancel $JOB --reason 'wrong input file'"
    )]
    Cancel(CancelArgs),
    /// Print the CloudWatch log lines of a job's task.
    #[command(
        after_help = "Exit codes: 0 printed, 1 the job has no task or no log stream yet, or is not found.\n\nExample:\n  jobgen logs $JOB"
    )]
    Logs(JobArgs),
}

const DEV_HELP: &str = "Deploys the synthesized stack into the AWS emulator at --endpoint-url (moto; `make demo` \
starts one) the way you deploy to AWS (zips to S3, create-stack/update-stack), configures the real create-job and track \
handlers from the DEPLOYED stack (Outputs, the functions' environment, the rule's pattern), serves the Lambda Invoke API \
for both functions on --port, and simulates ECS: each task create-job launches goes through PROVISIONING ... STOPPED, and \
the events the deployed rule matches are delivered to track.

Script a job's outcome with its environment: DEV_OUTCOME=succeed|fail|fail-to-start|image-pull-failure|spot-interruption|oom, \
DEV_RUN_SECONDS=N (simulated; default 5), DEV_EXIT_CODE=N.

Example:
  jobgen dev -c examples/quickstart/jobgen.yaml --endpoint-url http://127.0.0.1:5000
  # in another shell, paste the export lines it prints, then:
  jobgen submit hello --env DEV_RUN_SECONDS=30 --wait";

const SUBMIT_HELP: &str = "Exit codes: 0 submitted (with --wait: the job SUCCEEDED), 1 the job failed or did not \
launch, 2 bad input (malformed --env, unknown job type, idempotency key reused with other parameters), 3 AWS error.

Example:
  jobgen submit hello --stack jobgen-quickstart
  jobgen submit sleep --env SLEEP_SECONDS=10 --idempotency-key order-42 --wait
  JOB=$(jobgen submit hello --output json | jq -r .jobId)";

/// `jobgen dev` arguments.
#[derive(Debug, clap::Args)]
pub struct DevArgs {
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
    /// Directory of create-job.zip and track.zip (`make package`); an empty placeholder is uploaded
    /// when they are missing (the emulator never runs them).
    #[arg(long, default_value = "dist/lambda")]
    pub lambda_dir: PathBuf,
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
    /// Seed of the fault decisions.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the export lines to this file (for scripts).
    #[arg(long)]
    pub env_file: Option<PathBuf>,
}

/// `jobgen submit` arguments.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
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
    /// Seconds between status reads with --wait.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Give up waiting after this many seconds (exit 1).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: crate::ops::StackArgs,
}

/// Arguments of commands on one job.
#[derive(Debug, clap::Args)]
pub struct JobArgs {
    /// The job id (printed by `jobgen submit`).
    pub job_id: String,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: crate::ops::StackArgs,
}

/// `jobgen watch` arguments.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// The job id.
    pub job_id: String,
    /// Seconds between status reads.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Give up after this many seconds (exit 1).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: crate::ops::StackArgs,
}

/// `jobgen list` arguments.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only jobs with this status (SUBMITTED, STARTING, RUNNING, SUCCEEDED, FAILED, LAUNCH_FAILED, CANCELLED).
    #[arg(long)]
    pub status: Option<String>,
    /// Only jobs of this type.
    #[arg(long = "type", value_name = "JOB_TYPE")]
    pub job_type: Option<String>,
    /// Only jobs created since: a duration back from now (90s, 15m, 2h, 7d) or an RFC 3339 time.
    #[arg(long, value_name = "DURATION|TIMESTAMP")]
    pub since: Option<String>,
    /// At most this many jobs.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: crate::ops::StackArgs,
}

/// `jobgen cancel` arguments.
#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    /// The job id.
    pub job_id: String,
    /// Why (recorded by ECS as the task's stoppedReason).
    #[arg(long, default_value = "cancelled with jobgen cancel")]
    pub reason: String,
    /// Stack and output format.
    #[command(flatten)]
    pub stack: crate::ops::StackArgs,
}

/// The config file argument shared by several commands.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Path to the project file.
    #[arg(short = 'c', long = "config", default_value = "jobgen.yaml")]
    pub config: PathBuf,
}

/// `jobgen init` arguments.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where to write the file.
    #[arg(short = 'c', long = "config", default_value = "jobgen.yaml")]
    pub config: PathBuf,
    /// Write one of the repository's examples instead of the commented starter.
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(example_names()))]
    pub example: Option<String>,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// `jobgen synth` arguments.
#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Path to the project file.
    #[arg(short = 'c', long = "config", default_value = "jobgen.yaml")]
    pub config: PathBuf,
    /// Directory to write the template into (default: stdout).
    #[arg(short = 'o', long = "out-dir")]
    pub out_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
    /// Do not write: exit 1 when the file on disk differs from what would be written.
    #[arg(long, requires = "out_dir")]
    pub check: bool,
    /// Directory holding create-job.zip and track.zip (what `make package` builds), relative to the
    /// current directory; the template references it relative to its own directory.
    #[arg(long, default_value = "dist/lambda")]
    pub lambda_dir: PathBuf,
}

/// Template output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// YAML (template.yaml).
    Yaml,
    /// JSON (template.json).
    Json,
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    run(cli)
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Synth(args) => synth(&args),
        Command::Init(args) => init(&args),
        Command::Validate(args) => validate(&args),
        Command::Schema => {
            print!("{}", crate::schema::json_schema_text());
            0
        }
        Command::Dev(args) => crate::cli_ops::dev(args),
        Command::Submit(args) => crate::cli_ops::submit(args),
        Command::Status(args) => crate::cli_ops::status(args),
        Command::List(args) => crate::cli_ops::list(args),
        Command::Watch(args) => crate::cli_ops::watch(args),
        Command::Cancel(args) => crate::cli_ops::cancel(args),
        Command::Logs(args) => crate::cli_ops::logs(args),
    }
}

/// Prints a config report to stderr with miette: colors only on a terminal without `NO_COLOR`.
pub fn print_report(report: &crate::diagnostics::Report) {
    use crate::diagnostics::ColorChoice;
    let color = ColorChoice::for_stderr();
    // Wide enough that a path and its message stay on one line when stderr is not a terminal.
    let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(120);
    eprint!("{}", report.render_graphical(color, width));
}

/// `jobgen validate`: load (parse + validate) and report.
fn validate(args: &ConfigArg) -> i32 {
    match crate::load(&args.config) {
        Ok(config) => {
            println!("ok: {} job types, {} clusters", config.job_types.len(), config.clusters.len());
            0
        }
        Err(report) => {
            print_report(&report);
            2
        }
    }
}

/// What `jobgen init` writes without `--example`: a commented file that explains every key.
pub const STARTER: &str = include_str!("init.yaml");

/// The files `jobgen init --example NAME` can write: the repository's examples, embedded so an
/// installed `jobgen` needs nothing beside it.
pub const EXAMPLES: &[(&str, &str)] = &[
    ("quickstart", include_str!("../../examples/quickstart/jobgen.yaml")),
    ("realistic", include_str!("../../examples/realistic/jobgen.yaml")),
    ("existing-task-definition", include_str!("../../examples/existing-task-definition/jobgen.yaml")),
];

fn example_names() -> Vec<&'static str> {
    EXAMPLES.iter().map(|(n, _)| *n).collect()
}

/// `jobgen init`: writes a commented jobgen.yaml (and the JSON Schema its first line points at).
fn init(args: &InitArgs) -> i32 {
    let text = match args.example.as_deref() {
        None => STARTER,
        Some(name) => match EXAMPLES.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => text,
            // clap already restricts --example to the names above; kept for callers of `run`.
            None => {
                eprintln!(
                    "error: --example {name}: there is no such example\n  help: examples: {}",
                    example_names().join(", ")
                );
                return 2;
            }
        },
    };
    let path = &args.config;
    if path.exists() && !args.force {
        eprintln!(
            "error: {} already exists: jobgen init does not overwrite a project file\n  help: pass --force to replace it, or -c OTHER.yaml to write elsewhere",
            path.display()
        );
        return 2;
    }
    let schema_line = format!("# yaml-language-server: $schema=./{}", crate::schema::SCHEMA_FILE_NAME);
    let contents =
        if text.starts_with("# yaml-language-server:") { text.to_string() } else { format!("{schema_line}\n{text}") };
    if let Err(e) = crate::write::write_atomic(path, &contents) {
        eprintln!("error: {e}\n  help: check that the directory exists and is writable");
        return 2;
    }
    eprintln!("wrote {}", path.display());
    // The schema the first line points at, beside the project file: kept if present unless --force,
    // since it is derived and `jobgen schema` regenerates it.
    let schema_path = path.parent().unwrap_or(std::path::Path::new("")).join(crate::schema::SCHEMA_FILE_NAME);
    if !schema_path.exists() || args.force {
        match crate::write::write_atomic(&schema_path, &crate::schema::json_schema_text()) {
            Ok(()) => eprintln!("wrote {}", schema_path.display()),
            Err(e) => eprintln!(
                "warning: {e} (editors will not find the schema; run `jobgen schema > {}`)",
                schema_path.display()
            ),
        }
    }
    eprintln!(
        "next: edit {} (subnets, security groups, image), then `jobgen validate -c {}`",
        path.display(),
        path.display()
    );
    0
}

/// `jobgen synth`: load → model → render → check → write (or compare, with `--check`).
fn synth(args: &SynthArgs) -> i32 {
    use crate::write::{self, Freshness};
    let config = match crate::load(&args.config) {
        Ok(config) => config,
        Err(report) => {
            print_report(&report);
            return 2;
        }
    };
    if let Err(report) = crate::synth::check_packaged_architecture(&config, &args.lambda_dir) {
        print_report(&report);
        return 2;
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let template_dir = args.out_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let options =
        crate::model::ModelOptions { lambda_dir: write::relative_path(&template_dir, &args.lambda_dir, &cwd) };
    let synthesized = match crate::synth::synthesize(&config, &options) {
        Ok(s) => s,
        Err(crate::synth::SynthError::Limits(report)) => {
            print_report(&report);
            return 2;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let format = match args.format {
        Format::Yaml => write::Format::Yaml,
        Format::Json => write::Format::Json,
    };
    let text = match write::contents(&synthesized.yaml, &synthesized.document, format) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let Some(dir) = &args.out_dir else {
        print!("{text}");
        return 0;
    };
    let path = dir.join(format.file_name());
    if args.check {
        return match write::freshness(&path, &text) {
            Ok(Freshness::InSync) => {
                eprintln!("{} is up to date", path.display());
                0
            }
            Ok(Freshness::Stale) => {
                eprintln!(
                    "error: {} is stale: it differs from what {} synthesizes\n  help: run `jobgen synth -c {} -o {}` and commit the result",
                    path.display(),
                    args.config.display(),
                    args.config.display(),
                    dir.display()
                );
                1
            }
            Ok(Freshness::Missing) => {
                eprintln!(
                    "error: {} does not exist\n  help: run `jobgen synth -c {} -o {}` and commit the result",
                    path.display(),
                    args.config.display(),
                    dir.display()
                );
                1
            }
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        };
    }
    match write::write_atomic(&path, &text) {
        Ok(()) => {
            eprintln!("wrote {}", path.display());
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
