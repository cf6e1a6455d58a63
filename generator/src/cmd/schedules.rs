//! `jobgen schedules`: the project's schedules with their next run times, read from the project
//! file and computed by the runtime's own expression reader (the one `jobgen dev` fires them by).

use std::path::PathBuf;

use chrono::Utc;
use jobgen_runtime::schedule;
use serde_json::{Value, json};

use crate::output::{self, OutputFormat, print_report};

/// `jobgen schedules` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path to the project file.
    #[arg(short = 'c', long = "config", default_value = "jobgen.yaml")]
    pub config: PathBuf,
    /// How many next run times to show per schedule (1 to 100).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub next: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// `jobgen schedules`.
pub fn run(args: &Args) -> i32 {
    let config = match jobgen_synth::load(&args.config) {
        Ok(config) => config,
        Err(report) => {
            print_report(&report);
            return 2;
        }
    };
    let now = Utc::now();
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    for (name, sc) in &config.schedules {
        // A rate counts from the schedule's creation, which the file does not know: shown from now.
        let runs = if sc.enabled {
            schedule::next_runs(&sc.expression, &sc.timezone, now, args.next as usize).unwrap_or_default()
        } else {
            Vec::new()
        };
        let times: Vec<String> = runs.iter().map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).collect();
        let rate = sc.expression.starts_with("rate(");
        entries.push(json!({
            "name": name,
            "jobType": sc.job_type,
            "expression": sc.expression,
            "timezone": sc.timezone,
            "overlap": sc.overlap.as_str(),
            "enabled": sc.enabled,
            "nextRuns": runs.iter().map(|t| Value::from(jobgen_runtime::job::format_ts(t))).collect::<Vec<_>>(),
            "nextRunsFromDeploy": rate,
        }));
        let next = match (sc.enabled, times.is_empty()) {
            (false, _) => "disabled".to_string(),
            (true, true) => "never again".to_string(),
            (true, false) if rate => format!("{} (counted from its deploy; shown from now)", times.join(", ")),
            (true, false) => times.join(", "),
        };
        rows.push(vec![
            name.clone(),
            sc.job_type.clone(),
            sc.expression.clone(),
            sc.timezone.clone(),
            sc.overlap.as_str().to_string(),
            next,
        ]);
    }
    match args.output {
        OutputFormat::Json => output::print_json(&Value::Array(entries)),
        OutputFormat::Table if rows.is_empty() => {
            eprintln!("no schedules: add `schedules:` to {}", args.config.display())
        }
        OutputFormat::Table => {
            print!(
                "{}",
                output::render_table(&["NAME", "JOB TYPE", "EXPRESSION", "TIMEZONE", "OVERLAP", "NEXT RUNS"], &rows)
            );
        }
    }
    0
}
