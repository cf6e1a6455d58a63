//! `jobgen synth`: load → model → render → check → write (or compare, with `--check`).

use std::path::PathBuf;

use clap::ValueEnum;

use crate::output::print_report;

/// `jobgen synth` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path to the project file.
    #[arg(short = 'c', long = "config", default_value = "jobgen.yaml")]
    pub config: PathBuf,
    /// The environment to use (a key of `environments:` in the project file): its overrides, its
    /// resource names and its stack `jobgen-<project>-<environment>`.
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,
    /// Directory to write the template into (default: stdout).
    #[arg(short = 'o', long = "out-dir")]
    pub out_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
    /// Do not write: exit 1 when the file on disk differs from what would be written.
    #[arg(long, requires = "out_dir")]
    pub check: bool,
    /// Directory holding create-job.zip and track.zip, relative to the current directory; the
    /// template references it relative to its own directory. Default: the release bundle's
    /// lib/jobgen/lambda/<arch>/ next to the installed binary, else the checkout's dist/lambda
    /// (what `make package` builds).
    #[arg(long)]
    pub lambda_dir: Option<PathBuf>,
}

/// Template output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// YAML (template.yaml).
    Yaml,
    /// JSON (template.json).
    Json,
}

/// The handler zips' directory: `flag`, else the bundle next to this binary, else the checkout's
/// `dist/lambda` ([`jobgen_synth::lambda_zips::locate`]).
pub fn locate_lambda_dir(flag: Option<&std::path::Path>, arch: &str) -> jobgen_synth::lambda_zips::LambdaDir {
    let exe = std::env::current_exe().ok();
    jobgen_synth::lambda_zips::locate(flag, exe.as_deref(), arch)
}

/// `jobgen synth`: load → model → render → check → write (or compare, with `--check`).
pub fn run(args: &Args) -> i32 {
    use jobgen_synth::synth::SynthError;
    use jobgen_synth::write::{self, Freshness};
    let cwd = std::env::current_dir().unwrap_or_default();
    let template_dir = args.out_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    // The architecture picks the bundle's zip directory; a config that does not load is reported
    // by the pipeline below, located in the file.
    let arch = jobgen_synth::load(&args.config).map(|c| c.lambda.architecture.name()).unwrap_or("arm64");
    let zips = locate_lambda_dir(args.lambda_dir.as_deref(), arch);
    let options =
        jobgen_synth::model::ModelOptions { lambda_dir: write::relative_path(&template_dir, &zips.path, &cwd) };
    // The same pipeline as `jobgen validate`: config errors and limits, located in the file.
    let synthesized = match jobgen_synth::synthesize_file(&args.config, args.environment.as_deref(), &options) {
        Ok(s) => s,
        Err(SynthError::Config(report)) => {
            print_report(&report);
            return 2;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if let Err(report) = jobgen_synth::synth::check_packaged_architecture(&synthesized.config, &zips.path) {
        print_report(&report);
        return 2;
    }
    // Never a Code path to a zip that does not exist without saying so (a template is still
    // written: CI checks the examples' templates without building the handlers).
    if let Some(warning) = zips.warning(synthesized.config.lambda.architecture.name()) {
        eprintln!("{warning}");
    }
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
        eprintln!(
            "note: the template's config layer reads {}/ beside it: write both with -o DIR",
            jobgen_runtime::contract::CONFIG_LAYER_DIR
        );
        if !synthesized.nested.is_empty() {
            eprintln!(
                "note: the template names {} nested stacks' templates under {}/ beside it: write them with -o DIR",
                synthesized.nested.len(),
                jobgen_synth::names::NESTED_STACKS_DIR
            );
        }
        return 0;
    };
    // The configuration document first, then the template that names its hash: each write is atomic,
    // and if the second one fails the old template's hash no longer matches, which the handlers
    // refuse at start-up instead of running with the wrong table.
    // The nested stacks' templates (a project past one stack) go before the root that names them.
    let mut files = vec![(write::config_document_path(dir), synthesized.config_document.as_str())];
    files.extend(synthesized.nested.iter().map(|n| (dir.join(&n.file), n.yaml.as_str())));
    files.push((dir.join(format.file_name()), text.as_str()));
    let kept: Vec<String> = synthesized.nested.iter().map(|n| n.file.clone()).collect();
    let stale = write::stale_nested_templates(dir, &kept);
    if !synthesized.nested.is_empty() {
        eprintln!(
            "note: {} job types do not fit one stack beside the rest: they are in {} nested stacks ({}/); a stack deployed as one stack moves every job type's resources once, each into a log group of a new name",
            synthesized.stack.all_task_definitions().count(),
            synthesized.nested.len(),
            dir.join(jobgen_synth::names::NESTED_STACKS_DIR).display()
        );
    }
    if args.check {
        let mut code = 0;
        for (path, contents) in &files {
            code = code.max(match write::freshness(path, contents) {
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
            });
        }
        for path in &stale {
            eprintln!(
                "error: {} is stale: {} writes no such nested stack\n  help: run `jobgen synth -c {} -o {}` (it removes it) and commit the result",
                path.display(),
                args.config.display(),
                args.config.display(),
                dir.display()
            );
            code = code.max(1);
        }
        return code;
    }
    for path in &stale {
        if let Err(source) = std::fs::remove_file(path) {
            eprintln!("error: {}", write::WriteError::Io { path: path.clone(), source });
            return 2;
        }
        eprintln!("removed {}", path.display());
    }
    for (path, contents) in &files {
        if let Err(e) = write::write_atomic(path, contents) {
            eprintln!("error: {e}");
            return 2;
        }
        eprintln!("wrote {}", path.display());
    }
    0
}
