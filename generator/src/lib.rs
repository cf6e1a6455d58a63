//! jobgen: `jobgen.yaml` in, CloudFormation out.
//!
//! The pipeline, one module per stage: [`config`] (the schema) → [`parse`] → validate → model →
//! render → check → write. See ARCHITECTURE.md.

use std::path::Path;

pub mod cli;
pub mod config;
pub mod diagnostics;
pub mod parse;

/// Reads, parses and validates a project file: the front half of the pipeline every command shares.
pub fn load(path: &Path) -> Result<config::Config, diagnostics::Report> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        diagnostics::Report::from(vec![diagnostics::Diagnostic::new(
            "",
            format!("cannot read {}: {e}", path.display()),
            "pass the project file with -c FILE, or create one with `jobgen init`",
        )])
    })?;
    parse::parse(&text, &path.display().to_string())
}
