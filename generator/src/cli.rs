//! The `jobgen` command line: clap-derive subcommands whose doc comments are the help text. Each
//! subcommand calls into the library; this module only parses arguments, renders errors and picks
//! exit codes (0 ok, 1 `--check` found a stale file, 2 usage or config error). The operator
//! commands' exit codes are documented in `jobgen_ops` (0 ok, 1 job failed/not found/refused, 2 usage,
//! 3 AWS error, 4 a wait's `--timeout` ran out); `deploy` and `destroy` document theirs in their help (0 done or no
//! changes, 1 the deployment failed or destroy refused, 2 usage or config, 3 an AWS call failed).

use clap::{Parser, Subcommand};

use crate::cmd;

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
    Init(cmd::init::Args),
    /// Check jobgen.yaml and report every problem at once.
    #[command(
        after_help = "Prints `ok: N job types, M clusters`, or every problem (field path, file:line:col, what is \
                      wrong, how to fix it) and exits 2. Colors only on a terminal, and never with NO_COLOR set.\n\n\
                      Example:\n  jobgen validate -c jobgen.yaml"
    )]
    Validate(cmd::validate::Args),
    /// Validate jobgen.yaml and write the CloudFormation template.
    #[command(
        after_help = "Example:\n  jobgen synth -c jobgen.yaml -o build/      # writes build/template.yaml\n  jobgen synth -c jobgen.yaml --format json  # to stdout\n  jobgen synth -c jobgen.yaml -o . --check   # exit 1 if template.yaml is stale"
    )]
    Synth(cmd::synth::Args),
    /// Print the JSON Schema of jobgen.yaml (for editors).
    #[command(after_help = "Example:\n  jobgen schema > jobgen.schema.json")]
    Schema,
    /// Deploy the stack: synth, upload, change set (shown), execute, follow its events.
    #[command(after_help = cmd::deploy::HELP)]
    Deploy(cmd::deploy::Args),
    /// Delete the stack (refused while jobs run, unless --force); the jobs table is kept unless --delete-data.
    #[command(after_help = cmd::destroy::HELP)]
    Destroy(cmd::destroy::Args),
    /// Run the stack locally: deploy it into the AWS emulator, run both handlers, simulate ECS.
    #[command(after_help = cmd::dev::HELP)]
    Dev(cmd::dev::Args),
    /// Submit a job (invokes the stack's create-job function).
    #[command(after_help = cmd::submit::HELP)]
    Submit(cmd::submit::Args),
    /// Show one job's record (a QUEUED job's also with its queue position and estimated start).
    #[command(
        after_help = "A QUEUED job also shows queuePosition (1 = next) and estimatedStartAt (from how many jobs of \
                      its type stopped in the last hour; unknown when none did): both estimates.\n\n\
                      Exit codes: 0 found, 1 not found, 2 usage, 3 AWS error.\n\nExample:\n  jobgen status 01jabcdexyz0123456789abcde --stack jobgen-quickstart\n  jobgen status $JOB --output json | jq .status"
    )]
    Status(cmd::JobArgs),
    /// List jobs, newest first.
    #[command(
        after_help = "Without --status and --type every status is listed.\n\nExample:\n  jobgen list --status FAILED --since 1h\n  jobgen list --type hello --since 2026-01-31T00:00:00Z --output json"
    )]
    List(cmd::list::Args),
    /// Follow a job until it finishes, printing a line on every change.
    #[command(
        after_help = "With --output json, one JSON object per change (JSON Lines), the last the final record.\n\nExit codes: 0 the job SUCCEEDED, 1 it failed, was cancelled, could not launch, or is not found; 3 AWS error; 4 --timeout ran out first (the job goes on).\n\nExample:\n  jobgen watch $JOB\n  jobgen watch $JOB --output json | jq -r .status"
    )]
    Watch(cmd::watch::Args),
    /// Cancel a job: marks it CANCELLED and stops its task (StopTask) when it has one.
    #[command(
        after_help = "A job that already finished cannot be cancelled (exit 1).\n\nExample:\n  jobgen cancel $JOB --reason 'wrong input file'"
    )]
    Cancel(cmd::cancel::Args),
    /// Retry a finished job: its next attempt starts now (through the stack's track function).
    #[command(after_help = cmd::retry::HELP)]
    Retry(cmd::retry::Args),
    /// Per job type: counts by status and failure class, durations, retries and cost.
    #[command(after_help = cmd::stats::HELP)]
    Stats(cmd::stats::Args),
    /// List the project's schedules (`schedules:` in jobgen.yaml) with their next run times.
    #[command(
        after_help = "Read from the project file: times are UTC, computed in each schedule's time zone (a rate() counts \
                      from its deploy, so its times are shown from now).\n\nExample:\n  jobgen schedules\n  jobgen schedules --next 10 --output json"
    )]
    Schedules(cmd::schedules::Args),
    /// Print the CloudWatch log lines of a job's task.
    #[command(
        after_help = "Exit codes: 0 printed (with --follow: the job ended), 1 the job has no task or no log stream yet (without --follow), or is not found.\n\nExample:\n  jobgen logs $JOB\n  jobgen logs $JOB --follow"
    )]
    Logs(cmd::logs::Args),
    /// Serve a local web UI: jobs, their timelines and logs, stats charts, queues, cancel and retry.
    #[command(after_help = cmd::dashboard::HELP)]
    Dashboard(cmd::dashboard::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Example:\n  jobgen completions bash > ~/.local/share/bash-completion/completions/jobgen\n  jobgen completions zsh > \"${fpath[1]}/_jobgen\"\n  jobgen completions fish > ~/.config/fish/completions/jobgen.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from these commands' help.
    #[command(
        after_help = "Example:\n  jobgen man > jobgen.1 && man ./jobgen.1\n  jobgen man --dir /usr/local/share/man/man1   # jobgen.1 and a page per subcommand"
    )]
    Man {
        /// Write jobgen.1 and one page per subcommand (jobgen-submit.1, ...) into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            let code = if e.use_stderr() { 2 } else { 0 };
            // A script that asked for JSON gets a JSON error object on stdout for a usage error
            // too (help and version output stay as they are).
            if code == 2 && wants_json(std::env::args().skip(1)) {
                let rendered = e.render().to_string();
                let message: Vec<&str> = rendered
                    .lines()
                    .take_while(|l| !l.starts_with("Usage:"))
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                let message = message.join(" ");
                let message = message.strip_prefix("error: ").unwrap_or(&message);
                let help = "run the command with --help for its arguments";
                println!("{}", crate::output::error_json("UsageError", message, help, code));
            }
            return code;
        }
    };
    run(cli)
}

/// Whether the command line asks for `--output json` (either spelling), read without clap, since
/// clap refused the line.
fn wants_json(args: impl Iterator<Item = String>) -> bool {
    let args: Vec<String> = args.collect();
    args.iter().any(|a| a == "--output=json") || args.windows(2).any(|w| w[0] == "--output" && w[1] == "json")
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Synth(args) => cmd::synth::run(&args),
        Command::Init(args) => cmd::init::run(&args),
        Command::Validate(args) => cmd::validate::run(&args),
        Command::Schema => {
            print!("{}", jobgen_synth::schema::json_schema_text());
            0
        }
        Command::Dev(args) => cmd::dev::run(args),
        Command::Deploy(args) => cmd::deploy::run(args),
        Command::Destroy(args) => cmd::destroy::run(args),
        Command::Submit(args) => cmd::submit::run(args),
        Command::Status(args) => cmd::status::run(args),
        Command::List(args) => cmd::list::run(args),
        Command::Watch(args) => cmd::watch::run(args),
        Command::Cancel(args) => cmd::cancel::run(args),
        Command::Retry(args) => cmd::retry::run(args),
        Command::Stats(args) => cmd::stats::run(args),
        Command::Logs(args) => cmd::logs::run(args),
        Command::Schedules(args) => cmd::schedules::run(&args),
        Command::Dashboard(args) => cmd::dashboard::run(args),
        Command::Completions { shell } => {
            // Into a buffer first: the generator panics on a write error (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "jobgen", &mut script);
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
            0
        }
        Command::Man { dir } => man(dir.as_deref()),
    }
}

/// Prints the man page of `jobgen` (its subcommands listed), or with `dir` writes it as
/// `DIR/jobgen.1` with one page per subcommand beside it (`jobgen-submit.1`, ..., as git does).
fn man(dir: Option<&std::path::Path>) -> i32 {
    use std::io::Write;
    let command = <Cli as clap::CommandFactory>::command();
    let render = |command: clap::Command| -> std::io::Result<Vec<u8>> {
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        Ok(page)
    };
    let Some(dir) = dir else {
        return match render(command) {
            Ok(page) => {
                let _ = std::io::stdout().write_all(&page);
                0
            }
            Err(e) => {
                eprintln!("error: cannot render the man page: {e}");
                3
            }
        };
    };
    let mut pages = vec![("jobgen.1".to_string(), command.clone())];
    for sub in command.get_subcommands() {
        let name = format!("jobgen-{}", sub.get_name());
        pages.push((format!("{name}.1"), sub.clone().name(name).bin_name(format!("jobgen {}", sub.get_name()))));
    }
    for (file, command) in pages {
        let path = dir.join(&file);
        if let Err(e) = render(command).and_then(|page| std::fs::write(&path, page)) {
            eprintln!("error: cannot write {}: {e}\n  help: pass an existing, writable --dir", path.display());
            return 2;
        }
        let _ = writeln!(std::io::stdout(), "wrote {}", path.display());
    }
    0
}
