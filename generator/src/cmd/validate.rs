//! `jobgen validate`: every problem of a project file at once, the stack's limits included.

use std::path::PathBuf;

use crate::output::print_report;

/// `jobgen validate` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path to the project file.
    #[arg(short = 'c', long = "config", default_value = "jobgen.yaml")]
    pub config: PathBuf,
    /// Check only this environment (a key of `environments:`). Default: the file as it is, then
    /// each of its environments.
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,
}

/// `jobgen validate`: everything `jobgen synth` checks (parse, validate, the model's limits, the
/// rendered template's size), without writing anything; the same messages, located in the file.
/// Each environment is its own deployment with its own limits, so each is checked whole.
pub fn run(args: &Args) -> i32 {
    let environments: Vec<Option<String>> = if args.environment.is_none() {
        // The file first: when it does not parse, that report is the answer.
        let names = std::fs::read_to_string(&args.config)
            .ok()
            .and_then(|text| jobgen_synth::parse::parse(&text, &args.config.display().to_string()).ok())
            .map(|c| c.environments.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        std::iter::once(None).chain(names.into_iter().map(Some)).collect()
    } else {
        vec![args.environment.clone()]
    };
    for environment in &environments {
        if let Some(code) = validate_one(args, environment.as_deref()) {
            return code;
        }
    }
    0
}

/// Validates one deployment of the file: `None` when it is valid (and said so on stdout), else the
/// exit code.
fn validate_one(args: &Args, environment: Option<&str>) -> Option<i32> {
    use jobgen_synth::synth::SynthError;
    match jobgen_synth::synthesize_file(&args.config, environment, &jobgen_synth::model::ModelOptions::default()) {
        Ok(s) => {
            let which = environment.map(|e| format!("environment {e}: ")).unwrap_or_default();
            println!("ok: {which}{} job types, {} clusters", s.config.job_types.len(), s.config.clusters.len());
            None
        }
        Err(SynthError::Config(report)) => {
            print_report(&report);
            Some(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Some(2)
        }
    }
}
