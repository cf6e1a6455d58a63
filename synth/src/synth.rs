//! The back half of the pipeline in one call: validated [`Config`] → [`model`] → [`render`] →
//! [`check`]. `jobgen synth`, the golden tests and the benchmarks all go through [`synthesize`].

use std::path::Path;

use serde_json::Value;

use crate::check::{self, CheckError};
use crate::config::Config;
use crate::diagnostics::{Diagnostic, Report};
use crate::model::{self, ModelOptions, Stack};
use crate::render::{self, RenderError};

/// Why a synthesis failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The project file has problems: config errors or limits of the stack (exit 2). Located in the
    /// file when it came through [`crate::synthesize_file`]; paths only from [`synthesize`].
    #[error("{0}")]
    Config(Report),
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
    /// The validated config it was synthesized from.
    pub config: Config,
    /// The model it was rendered from.
    pub stack: Stack,
    /// The CloudFormation YAML.
    pub yaml: String,
    /// The same template parsed (key order kept), for JSON output and inspection.
    pub document: Value,
    /// The configuration document the config layer ships ([`jobgen_runtime::contract::CONFIG_LAYER_ENTRY`]
    /// inside [`jobgen_runtime::contract::CONFIG_LAYER_DIR`] beside the template): exactly the bytes
    /// whose SHA-256 the functions' environment names.
    pub config_document: String,
    /// Template files used to render it (the nested stacks' too).
    pub templates_used: std::collections::BTreeSet<String>,
    /// The nested stacks' templates, in stack order (none when the project fits one stack).
    pub nested: Vec<NestedTemplate>,
}

/// A nested stack's template, written beside the root template at [`NestedTemplate::file`].
#[derive(Debug, Clone)]
pub struct NestedTemplate {
    /// Logical ID of its `AWS::CloudFormation::Stack` in the root.
    pub id: String,
    /// Its path relative to the root template (the root's `TemplateURL` before packaging).
    pub file: String,
    /// The CloudFormation YAML.
    pub yaml: String,
    /// The same template parsed.
    pub document: Value,
}

/// Builds, renders and checks the stack for a validated config.
pub fn synthesize(config: &Config, options: &ModelOptions) -> Result<Synthesized, SynthError> {
    let stack = model::build(config, options).map_err(SynthError::Config)?;
    let rendered = render::render(&stack)?;
    let mut templates_used = rendered.used;
    let mut nested = Vec::with_capacity(stack.nested_stacks.len());
    for n in &stack.nested_stacks {
        let child = render::render_nested(&stack, n)?;
        templates_used.extend(child.used);
        nested.push((n, child.text));
    }
    let sizes: Vec<(String, usize)> = nested.iter().map(|(n, yaml)| (n.file.clone(), yaml.len())).collect();
    model::limits::check_template_sizes(rendered.text.len(), stack.nested_stacks.len(), &sizes)
        .map_err(SynthError::Config)?;
    let document = check::parse(&rendered.text)?;
    check::check(&document)?;
    let nested = nested
        .into_iter()
        .map(|(n, yaml)| {
            let document = check::parse(&yaml)?;
            check::check(&document)?;
            Ok(NestedTemplate { id: n.id.clone(), file: n.file.clone(), yaml, document })
        })
        .collect::<Result<Vec<_>, CheckError>>()?;
    let config_document = stack.launch_table.to_json();
    Ok(Synthesized {
        config: config.clone(),
        stack,
        yaml: rendered.text,
        document,
        config_document,
        templates_used,
        nested,
    })
}

/// The file `make package` writes beside the handler zips, naming the architecture they were built for.
pub const PACKAGED_ARCH_FILE: &str = "ARCH";

/// Refuses to pair a template with handler zips built for another architecture: Lambda would start
/// the function and fail every invocation with an exec format error. Nothing to compare (no zips
/// packaged yet, e.g. before `make package`) is not an error.
pub fn check_packaged_architecture(config: &Config, lambda_dir: &Path) -> Result<(), Report> {
    let marker = lambda_dir.join(PACKAGED_ARCH_FILE);
    let Ok(built) = std::fs::read_to_string(&marker) else {
        return Ok(());
    };
    let built = built.trim();
    let wanted = config.lambda.architecture.name();
    if built == wanted {
        return Ok(());
    }
    Err(Report::from(Diagnostic::new(
        "lambda.architecture",
        format!(
            "is {wanted}, but the handlers in {} were built for {built} ({}): the functions would fail to start",
            lambda_dir.display(),
            marker.display()
        ),
        format!("rebuild them with `make package ARCH={wanted}`, or set `lambda.architecture: {built}`"),
    )))
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::config::LambdaArchitecture;

    fn config(arch: LambdaArchitecture) -> Config {
        let mut config = crate::parse::parse(crate::init::STARTER, "jobgen.yaml").expect("the starter parses");
        config.lambda.architecture = arch;
        config
    }

    #[test]
    fn packaged_architecture_must_match_the_template() {
        let dir = std::env::temp_dir().join(format!("jobgen-arch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        // No marker: nothing packaged yet, nothing to disagree with.
        assert!(check_packaged_architecture(&config(LambdaArchitecture::Arm64), &dir).is_ok());
        std::fs::write(dir.join(PACKAGED_ARCH_FILE), "x86_64\n").expect("marker");
        assert!(check_packaged_architecture(&config(LambdaArchitecture::X86_64), &dir).is_ok());
        let report = check_packaged_architecture(&config(LambdaArchitecture::Arm64), &dir).expect_err("mismatch");
        let text = report.to_string();
        assert!(text.contains("lambda.architecture") && text.contains("make package ARCH=arm64"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
