//! jobgen's synth pipeline: `jobgen.yaml` in, CloudFormation out, with no AWS SDK and no async
//! runtime (its tests build in seconds).
//!
//! One module per stage: [`config`] (the schema) → [`parse`] → [`validate`] → [`model`] →
//! [`render`] → [`check`] → [`write`]; [`synth`] runs the back half in one call. See ARCHITECTURE.md.

use std::io::Read;
use std::path::Path;

pub mod check;
pub mod config;
pub mod diagnostics;
pub mod init;
pub mod keys;
pub mod model;
pub mod names;
pub mod parse;
pub mod quotas;
pub mod render;
pub mod schema;
pub mod synth;
pub mod validate;
pub mod write;

/// Reads, parses and validates a project file: the front half of the pipeline every command shares.
/// Every problem is in the returned [`diagnostics::Report`], located and in file order.
pub fn load(path: &Path) -> Result<config::Config, diagnostics::Report> {
    let name = path.display().to_string();
    let text = read_limited(path)
        .map_err(|(message, help)| diagnostics::Report::from(vec![diagnostics::Diagnostic::new("", message, help)]))?;
    check_text(&text, &name)
}

/// Parses and validates a project file's text; `file_name` is only used in messages.
pub fn check_text(text: &str, file_name: &str) -> Result<config::Config, diagnostics::Report> {
    let doc = parse::parse_document(text, file_name)?;
    let problems = validate::validate(&doc.config);
    if problems.is_empty() {
        return Ok(doc.config);
    }
    let mut report = diagnostics::Report::new(problems, file_name, text);
    report.locate(&doc.index);
    Err(report)
}

/// Reads at most one byte more than [`parse::MAX_FILE_BYTES`], so a huge (or endless, e.g. a device)
/// file is refused without reading it all.
fn read_limited(path: &Path) -> Result<String, (String, &'static str)> {
    let cannot = |e: std::io::Error| {
        (
            format!("cannot read {}: {e}", path.display()),
            "pass the project file with -c FILE, or create one with `jobgen init`",
        )
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    let limit = parse::MAX_FILE_BYTES as u64 + 1;
    file.take(limit).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() > parse::MAX_FILE_BYTES {
        return Err((
            format!(
                "{} is larger than {} bytes (1 MiB): project files are limited to that size",
                path.display(),
                parse::MAX_FILE_BYTES
            ),
            "a project file describes job types, not data; split generated content out of it",
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| (format!("{} is not valid UTF-8 text", path.display()), "save the file as UTF-8"))
}
