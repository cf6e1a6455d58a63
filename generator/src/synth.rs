//! The back half of the pipeline in one call: validated [`Config`] → [`model`] → [`render`] →
//! [`check`]. `jobgen synth`, the golden tests and the benchmarks all go through [`synthesize`].

use serde_json::Value;

use crate::check::{self, CheckError};
use crate::config::Config;
use crate::diagnostics::Report;
use crate::model::{self, ModelOptions, Stack};
use crate::render::{self, RenderError};

/// Why a synthesis failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The project exceeds a limit of the rendered stack (Lambda environment, resources, template size).
    #[error("{0}")]
    Limits(Report),
    /// Rendering failed: a jobgen bug.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The rendered template does not hold together: a jobgen bug.
    #[error(transparent)]
    Check(#[from] CheckError),
}

/// A synthesized stack.
#[derive(Debug, Clone)]
pub struct Synthesized {
    /// The model it was rendered from.
    pub stack: Stack,
    /// The CloudFormation YAML.
    pub yaml: String,
    /// The same template parsed (key order kept), for JSON output and inspection.
    pub document: Value,
    /// Template files used to render it.
    pub templates_used: std::collections::BTreeSet<String>,
}

/// Builds, renders and checks the stack for a validated config.
pub fn synthesize(config: &Config, options: &ModelOptions) -> Result<Synthesized, SynthError> {
    let stack = model::build(config, options).map_err(SynthError::Limits)?;
    let rendered = render::render(&stack)?;
    model::check_template_size(rendered.text.len()).map_err(SynthError::Limits)?;
    let document = check::parse(&rendered.text)?;
    check::check(&document)?;
    Ok(Synthesized { stack, yaml: rendered.text, document, templates_used: rendered.used })
}
