//! `jobgen validate`: every problem of a project file at once.

use std::path::PathBuf;

use crate::output::print_report;

/// `jobgen validate` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path to the project file.
    #[arg(short = 'c', long = "config", default_value = "jobgen.yaml")]
    pub config: PathBuf,
}

/// `jobgen validate`: load (parse + validate) and report.
pub fn run(args: &Args) -> i32 {
    match jobgen_synth::load(&args.config) {
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
