//! jobgen's synth pipeline: `jobgen.yaml` in, CloudFormation out, with no AWS SDK and no async
//! runtime (its tests build in seconds).
//!
//! One module per stage: [`config`] (the schema) → [`parse`] (with the unknown-key check, [`keys`])
//! → [`validate`] → [`model`] (its [`model::limits`] check the whole stack) → [`render`] →
//! [`check`] → [`write`](mod@write); [`synth`] runs the back half in one call and [`synthesize_file`] the
//! whole pipeline short of writing, as `jobgen validate` and `jobgen synth` do. Shared by the
//! stages: [`names`] (the naming rules), [`quotas`] (AWS's numbers, with sources) and
//! [`diagnostics`]. The modules form a DAG (`tests/module_graph.rs`). See ARCHITECTURE.md.

use std::io::Read;
use std::path::Path;

pub mod check;
pub mod config;
pub mod diagnostics;
pub mod environments;
pub mod init;
pub mod keys;
pub mod lambda_zips;
pub mod model;
pub mod names;
pub mod parse;
pub mod quotas;
pub mod render;
pub mod schema;
pub mod shape;
pub mod synth;
pub mod validate;
pub mod write;

/// Reads, parses, validates and models a project file: every problem jobgen finds without
/// rendering, the model's limits included, each located in the file (`FILE:LINE:COL`, the file
/// named as `path` is given) and in file order. [`synthesize_file`] also renders and checks.
pub fn load(path: &Path) -> Result<config::Config, diagnostics::Report> {
    load_environment(path, None)
}

/// [`load`], then the config of one deployment: `environment`'s overrides applied and the project
/// named after it ([`environments::resolve`]); `None` is the file as it is.
pub fn load_environment(path: &Path, environment: Option<&str>) -> Result<config::Config, diagnostics::Report> {
    let text = read(path)?;
    check_environment_text(&text, &path.display().to_string(), environment)
}

/// [`load`] on a project file's text; `file_name` is only used in messages.
pub fn check_text(text: &str, file_name: &str) -> Result<config::Config, diagnostics::Report> {
    check_environment_text(text, file_name, None)
}

/// [`load_environment`] on a project file's text.
pub fn check_environment_text(
    text: &str,
    file_name: &str,
    environment: Option<&str>,
) -> Result<config::Config, diagnostics::Report> {
    let (doc, config) = resolved(text, file_name, environment)?;
    match model::build(&config, &model::ModelOptions::default()) {
        Ok(_) => Ok(config),
        Err(report) => Err(located(report, &doc, text, file_name)),
    }
}

/// The whole pipeline for one deployment of a project file, short of writing: read → parse →
/// validate → select the environment → model → render → check. What `jobgen validate` and `jobgen
/// synth` both run, so they report the same problems: every config error and every limit (the
/// template's size too), located in the file as `path` names it.
pub fn synthesize_file(
    path: &Path,
    environment: Option<&str>,
    options: &model::ModelOptions,
) -> Result<synth::Synthesized, synth::SynthError> {
    let text = read(path).map_err(synth::SynthError::Config)?;
    synthesize_text(&text, &path.display().to_string(), environment, options)
}

/// [`synthesize_file`] on a project file's text; `file_name` is only used in messages.
pub fn synthesize_text(
    text: &str,
    file_name: &str,
    environment: Option<&str>,
    options: &model::ModelOptions,
) -> Result<synth::Synthesized, synth::SynthError> {
    let (doc, config) = resolved(text, file_name, environment).map_err(synth::SynthError::Config)?;
    synth::synthesize(&config, options).map_err(|e| match e {
        synth::SynthError::Config(report) => synth::SynthError::Config(located(report, &doc, text, file_name)),
        other => other,
    })
}

/// Parses and validates (every environment too), then selects `environment`.
fn resolved(
    text: &str,
    file_name: &str,
    environment: Option<&str>,
) -> Result<(parse::Document, config::Config), diagnostics::Report> {
    let doc = validated(text, file_name)?;
    match environments::resolve(&doc.config, environment) {
        Ok(config) => Ok((doc, config)),
        Err(d) => Err(located(diagnostics::Report::from(vec![d]), &doc, text, file_name)),
    }
}

/// Parses and validates, every problem located.
fn validated(text: &str, file_name: &str) -> Result<parse::Document, diagnostics::Report> {
    let doc = parse::parse_document(text, file_name)?;
    let problems = validate::validate(&doc.config);
    if problems.is_empty() {
        return Ok(doc);
    }
    Err(located(diagnostics::Report::from(problems), &doc, text, file_name))
}

/// A report of later stages (computed on the typed config, paths only) about `doc`: named after
/// the file, with each diagnostic at its path's line, the way validation errors are.
fn located(report: diagnostics::Report, doc: &parse::Document, text: &str, file_name: &str) -> diagnostics::Report {
    let mut report = diagnostics::Report::new(report.diagnostics, file_name, text);
    report.locate(&doc.index);
    report
}

fn read(path: &Path) -> Result<String, diagnostics::Report> {
    read_limited(path)
        .map_err(|(message, help)| diagnostics::Report::from(vec![diagnostics::Diagnostic::new("", message, help)]))
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
