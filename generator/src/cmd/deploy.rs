//! `jobgen deploy`: synth, upload the artifacts, create or update the stack through a change set
//! (shown as a summary), execute it and follow the stack's events; the Outputs and the
//! `JOBGEN_STACK` export line at the end. The deploy itself is `jobgen_local::deploy_project`, the
//! path `jobgen dev` uses too; this module renders its progress.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use jobgen_local::apply::{Change, Outcome, Progress, Summary};

use super::runtime;

/// The command's `after_help`.
pub const HELP: &str = "Synthesizes jobgen.yaml, uploads the handler zips and the configuration layer to the artifact \
bucket (content-addressed keys: an unchanged object is not uploaded again), creates a change set and prints it \
(resources added, modified, replaced, removed; a replacement of the jobs table is flagged), executes it and follows \
the stack's events until it completes or fails (the first failing resource's reason, and the rollback). Prints the \
stack's Outputs and the `export JOBGEN_STACK=...` line the operator commands read.

The handler zips: --lambda-dir, else the release bundle's lib/jobgen/lambda/<arch>/ next to the installed binary, \
else ./dist/lambda (`make package`).

With --endpoint-url (or AWS_ENDPOINT_URL) the stack goes into that AWS emulator (moto): the resource types moto \
cannot create are left out, and said so; against AWS nothing is left out.

Exit codes: 0 deployed, no changes, or (--no-execute) the change set was created; 1 the deployment failed (the \
stack's status and the first failing resource's reason are printed); 2 usage or configuration error; 3 an AWS call \
failed before the deployment started (credentials, bucket, network).

Example:
  jobgen deploy -c jobgen.yaml
  jobgen deploy --environment staging --no-execute   # stack jobgen-<project>-staging: review the change set
  eval \"$(jobgen deploy | grep ^export)\"";

/// `jobgen deploy` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path to the project file.
    #[arg(short = 'c', long = "config", default_value = "jobgen.yaml")]
    pub config: PathBuf,
    /// Stack name (default: jobgen-<project>, or jobgen-<project>-<environment>).
    #[arg(long)]
    pub stack: Option<String>,
    /// The environment to deploy (a key of `environments:` in the project file): its overrides,
    /// its resource names (`<project>-<environment>-...`) and its stack
    /// (`jobgen-<project>-<environment>`), beside the project's other environments.
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,
    /// S3 bucket for the zips and templates (default: jobgen-artifacts-<project>-<region>, created
    /// on first use and reused).
    #[arg(long, value_name = "BUCKET")]
    pub artifact_bucket: Option<String>,
    /// AWS region (default: the standard chain's, e.g. AWS_REGION).
    #[arg(long)]
    pub region: Option<String>,
    /// Create and print the change set, but do not execute it.
    #[arg(long)]
    pub no_execute: bool,
    /// Directory of create-job.zip and track.zip (default: the bundle's next to the binary, else
    /// dist/lambda).
    #[arg(long)]
    pub lambda_dir: Option<PathBuf>,
    /// Deploy into this AWS emulator (moto) instead of AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Stop following the stack after this many seconds (exit 1; CloudFormation goes on).
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
}

/// The stack name: `--stack`, else `jobgen-<deployment>` for the deployment's name (the project's,
/// `<project>-<environment>` for an environment: [`jobgen_synth::environments::resolve`]).
pub fn stack_name(stack: Option<&str>, deployment: &str) -> String {
    stack.map_or_else(|| jobgen_runtime::contract::default_stack_name(deployment), str::to_string)
}

/// Renders a deployment's progress: plain lines (stable, for logs and snapshots) when stderr is
/// not a terminal; on a terminal, the stack's status as a bar with the elapsed time.
pub struct Renderer {
    terminal: bool,
    last_status: Option<String>,
    bar: bool,
}

impl Renderer {
    /// A renderer for stderr.
    pub fn new() -> Renderer {
        Renderer { terminal: std::io::stderr().is_terminal(), last_status: None, bar: false }
    }

    fn line(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if self.bar {
            // Clear the bar before a line; it is drawn again on the next tick.
            let _ = write!(err, "\r\x1b[2K");
            self.bar = false;
        }
        let _ = writeln!(err, "{text}");
    }

    /// Renders one progress report.
    pub fn on(&mut self, progress: Progress) {
        match progress {
            Progress::Note(note) => self.line(&format!("note: {note}")),
            Progress::Artifact { name, url, bytes, skipped } => {
                if skipped {
                    self.line(&format!("unchanged  {name:<10} {url} (already uploaded)"));
                } else {
                    self.line(&format!("uploaded   {name:<10} {url} ({bytes} bytes)"));
                }
            }
            Progress::ChangeSet(summary) => self.line(&summary_text(&summary)),
            Progress::Event { logical_id, resource_type, status, reason, elapsed } => {
                let reason = reason.map(|r| format!(": {r}")).unwrap_or_default();
                let kind = if resource_type.is_empty() { String::new() } else { format!(" ({resource_type})") };
                self.line(&format!("[{:>6.1}s] {logical_id}{kind} {status}{reason}", elapsed.as_secs_f64()));
            }
            Progress::Tick { status, done, total, elapsed } => {
                if self.terminal {
                    let width = 30;
                    let filled = (done * width).checked_div(total).unwrap_or(0).min(width);
                    let bar = format!("{}{}", "#".repeat(filled), "-".repeat(width - filled));
                    let secs = elapsed.as_secs();
                    let mut err = std::io::stderr().lock();
                    let _ = write!(
                        err,
                        "\r\x1b[2K[{bar}] {done}/{total} resources  {status}  {:02}:{:02}",
                        secs / 60,
                        secs % 60
                    );
                    let _ = err.flush();
                    self.bar = true;
                } else if self.last_status.as_deref() != Some(status.as_str()) {
                    self.line(&format!("[{:>6.1}s] stack {status}", elapsed.as_secs_f64()));
                }
                self.last_status = Some(status);
            }
        }
    }

    /// Ends the bar's line, if one is drawn.
    pub fn finish(&mut self) {
        if self.bar {
            let _ = writeln!(std::io::stderr());
            self.bar = false;
        }
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

fn symbol(change: &Change) -> &'static str {
    match change.action.as_str() {
        "Add" => "+",
        "Remove" => "-",
        "Replace" => "!",
        _ if change.replaces() => "!",
        _ => "~",
    }
}

/// The change set as text: counts, one line per resource, and a loud warning per replacement
/// (the jobs table's above all: a new, empty table; the old one is kept by its Retain policy).
pub fn summary_text(summary: &Summary) -> String {
    let count = |action: &str| summary.changes.iter().filter(|c| c.action == action).count();
    let replaced = summary.changes.iter().filter(|c| c.replaces()).count();
    let mut text = format!(
        "change set {} ({}): {} to add, {} to modify, {} to replace, {} to remove",
        summary.change_set,
        summary.kind,
        count("Add"),
        count("Modify") - summary.changes.iter().filter(|c| c.action == "Modify" && c.replaces()).count(),
        replaced,
        count("Remove"),
    );
    let width = summary.changes.iter().map(|c| c.logical_id.len()).max().unwrap_or(0);
    for change in &summary.changes {
        let flag = match change.replacement.as_deref() {
            Some("True") => "  REPLACEMENT",
            Some("Conditional") => "  MAY BE REPLACED",
            _ => "",
        };
        text.push_str(&format!(
            "\n  {} {:<8} {:<width$}  {}{flag}",
            symbol(change),
            change.action,
            change.logical_id,
            change.resource_type
        ));
    }
    for change in summary.changes.iter().filter(|c| c.replaces()) {
        if change.resource_type == "AWS::DynamoDB::Table" {
            text.push_str(&format!(
                "\nWARNING: the jobs table {} will be REPLACED: the stack moves to a new, EMPTY table; the old one \
                 and its job history are kept (Retain) but no longer used by the stack. Run with --no-execute to \
                 review, and see the change that forces it (key schema or table name).",
                change.logical_id
            ));
        } else {
            text.push_str(&format!(
                "\nWARNING: {} ({}) will be replaced (a new resource, the old one deleted).",
                change.logical_id, change.resource_type
            ));
        }
    }
    text
}

/// `jobgen deploy`.
pub fn run(args: Args) -> i32 {
    let config = match jobgen_synth::load_environment(&args.config, args.environment.as_deref()) {
        Ok(c) => c,
        Err(report) => {
            crate::output::print_report(&report);
            return 2;
        }
    };
    let arch = config.lambda.architecture.name();
    let zips = super::synth::locate_lambda_dir(args.lambda_dir.as_deref(), arch);
    let target = match &args.endpoint_url {
        Some(endpoint) => jobgen_local::Target::Emulator(jobgen_local::Emulator {
            endpoint: endpoint.clone(),
            region: args.region.clone().or_else(|| std::env::var("AWS_REGION").ok()).unwrap_or("us-east-1".into()),
        }),
        None => {
            if let Some(warning) = zips.warning(arch) {
                eprintln!("{}", warning.replacen("warning:", "error:", 1));
                return 2;
            }
            jobgen_local::Target::Aws { region: args.region.clone() }
        }
    };
    let stack = stack_name(args.stack.as_deref(), &config.project.name);
    let options = jobgen_local::DeployOptions {
        config: args.config.clone(),
        environment: args.environment.clone(),
        target,
        stack: Some(stack.clone()),
        lambda_dir: zips.path,
        artifact_bucket: args.artifact_bucket.clone(),
        execute: !args.no_execute,
        timeout: Duration::from_secs(args.timeout),
    };
    let Some(rt) = runtime() else { return 3 };
    let mut renderer = Renderer::new();
    let result = rt.block_on(jobgen_local::deploy_project(&options, &mut |p| renderer.on(p)));
    renderer.finish();
    match result {
        Ok(deployed) => {
            let calls = deployed.calls.total();
            let how = format!("{calls} AWS calls, {} bytes uploaded", deployed.bytes_uploaded);
            match &deployed.outcome {
                Outcome::NoChanges => eprintln!("stack {stack}: no changes ({how})"),
                Outcome::Planned => {
                    let name = deployed.change_set.as_ref().map(|s| s.change_set.as_str()).unwrap_or_default();
                    eprintln!(
                        "stack {stack}: change set {name} created, not executed ({how})\n  help: execute it with `aws \
                         cloudformation execute-change-set --stack-name {stack} --change-set-name {name}`, or run \
                         jobgen deploy without --no-execute"
                    );
                    return 0;
                }
                Outcome::Created => eprintln!("stack {stack}: created ({how})"),
                Outcome::Updated => eprintln!("stack {stack}: updated ({how})"),
            }
            if !deployed.outputs.is_empty() {
                println!("Outputs:");
                let width = deployed.outputs.keys().map(String::len).max().unwrap_or(0);
                for (k, v) in &deployed.outputs {
                    println!("  {k:<width$}  {v}");
                }
            }
            println!("export JOBGEN_STACK={stack}");
            0
        }
        Err(jobgen_local::DevError::Config(report)) => {
            eprintln!("{report}");
            2
        }
        Err(jobgen_local::DevError::Deploy(e @ jobgen_local::deploy::DeployError::Stack { .. })) => {
            eprintln!("error: deployment failed: {e}");
            1
        }
        Err(e) => {
            eprintln!(
                "error: {e}\n  help: check the credentials and the region (or, for an emulator, that it runs at --endpoint-url)"
            );
            3
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: &str, id: &str, kind: &str, replacement: Option<&str>) -> Change {
        Change {
            action: action.into(),
            logical_id: id.into(),
            resource_type: kind.into(),
            replacement: replacement.map(str::to_string),
        }
    }

    /// moto's change sets carry no `Replacement`, so the flagging is pinned here with the shapes
    /// CloudFormation returns.
    #[test]
    fn a_replaced_jobs_table_is_flagged_loudly() {
        let summary = Summary {
            change_set: "jobgen-1".into(),
            kind: "UPDATE".into(),
            changes: vec![
                change("Add", "TrackDlq", "AWS::SQS::Queue", None),
                change("Replace", "JobsTable", "AWS::DynamoDB::Table", Some("True")),
                change("Modify", "TrackFunction", "AWS::Lambda::Function", Some("False")),
                change("Modify", "ClusterMain", "AWS::ECS::Cluster", Some("Conditional")),
                change("Remove", "Old", "AWS::SQS::Queue", None),
            ],
        };
        let text = summary_text(&summary);
        assert!(
            text.starts_with("change set jobgen-1 (UPDATE): 1 to add, 1 to modify, 2 to replace, 1 to remove"),
            "{text}"
        );
        assert!(text.contains("  ! Replace  JobsTable      AWS::DynamoDB::Table  REPLACEMENT"), "{text}");
        assert!(text.contains("  ! Modify   ClusterMain    AWS::ECS::Cluster  MAY BE REPLACED"), "{text}");
        assert!(text.contains("  ~ Modify   TrackFunction  AWS::Lambda::Function\n"), "{text}");
        assert!(text.contains("WARNING: the jobs table JobsTable will be REPLACED"), "{text}");
        assert!(text.contains("WARNING: ClusterMain (AWS::ECS::Cluster) will be replaced"), "{text}");
        assert!(!text.contains("WARNING: TrackFunction"), "{text}");
    }

    #[test]
    fn the_deployment_names_the_default_stack() {
        assert_eq!(stack_name(None, "media"), "jobgen-media");
        assert_eq!(stack_name(None, "media-staging"), "jobgen-media-staging");
        assert_eq!(stack_name(Some("mine"), "media-staging"), "mine");
    }
}
