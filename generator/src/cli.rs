//! The `jobgen` command line: clap-derive subcommands whose doc comments are the help text. Each
//! subcommand calls into the library; this module only parses arguments, renders errors and picks
//! exit codes (0 ok, 1 `--check` found a stale file, 2 usage or config error).

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
        after_help = "Example:\n  jobgen init                      # writes ./jobgen.yaml\n  jobgen init --example realistic  # start from a bigger example"
    )]
    Init(InitArgs),
    /// Check jobgen.yaml and report every problem at once.
    #[command(after_help = "Example:\n  jobgen validate -c jobgen.yaml")]
    Validate(ConfigArg),
    /// Validate jobgen.yaml and write the CloudFormation template.
    #[command(
        after_help = "Example:\n  jobgen synth -c jobgen.yaml -o build/      # writes build/template.yaml\n  jobgen synth -c jobgen.yaml --format json  # to stdout\n  jobgen synth -c jobgen.yaml -o . --check   # exit 1 if template.yaml is stale"
    )]
    Synth(SynthArgs),
    /// Print the JSON Schema of jobgen.yaml (for editors).
    #[command(after_help = "Example:\n  jobgen schema > jobgen.schema.json")]
    Schema,
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
    /// Start from a named example instead of the minimal one.
    #[arg(long)]
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
        Command::Init(_) | Command::Validate(_) | Command::Synth(_) | Command::Schema => {
            eprintln!("error: not implemented yet");
            2
        }
    }
}
