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
