//! `jobgen init`: a commented jobgen.yaml, or one of the examples, and the JSON Schema beside it.

use std::path::PathBuf;

use jobgen_synth::init::{EXAMPLES, STARTER, example_names};

/// `jobgen init` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
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

/// `jobgen init`: writes a commented jobgen.yaml (and the JSON Schema its first line points at).
pub fn run(args: &Args) -> i32 {
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
    let schema_line = format!("# yaml-language-server: $schema=./{}", jobgen_synth::schema::SCHEMA_FILE_NAME);
    let contents =
        if text.starts_with("# yaml-language-server:") { text.to_string() } else { format!("{schema_line}\n{text}") };
    if let Err(e) = jobgen_synth::write::write_atomic(path, &contents) {
        eprintln!("error: {e}\n  help: check that the directory exists and is writable");
        return 2;
    }
    eprintln!("wrote {}", path.display());
    // The schema the first line points at, beside the project file: kept if present unless --force,
    // since it is derived and `jobgen schema` regenerates it.
    let schema_path = path.parent().unwrap_or(std::path::Path::new("")).join(jobgen_synth::schema::SCHEMA_FILE_NAME);
    if !schema_path.exists() || args.force {
        match jobgen_synth::write::write_atomic(&schema_path, &jobgen_synth::schema::json_schema_text()) {
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
