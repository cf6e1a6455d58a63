//! `jobgen validate`: every problem of a project file at once, the stack's limits included.

use std::path::PathBuf;

use crate::output::print_report;

/// `jobgen validate` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path to the project file.
    #[arg(short = 'c', long = "config", default_value = "jobgen.yaml")]
    pub config: PathBuf,
}

/// `jobgen validate`: everything `jobgen synth` checks (parse, validate, the model's limits, the
/// rendered template's size), without writing anything; the same messages, located in the file.
pub fn run(args: &Args) -> i32 {
    use jobgen_synth::synth::SynthError;
    match jobgen_synth::synthesize_file(&args.config, &jobgen_synth::model::ModelOptions::default()) {
        Ok(s) => {
            println!("ok: {} job types, {} clusters", s.config.job_types.len(), s.config.clusters.len());
            0
        }
        Err(SynthError::Config(report)) => {
            print_report(&report);
            2
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
