//! Stage 4: [`Stack`] → CloudFormation YAML text, through the minijinja templates under
//! `templates/`.
//!
//! The templates are embedded in the binary at build time (an installed `jobgen` needs no files
//! beside it) and see only the model, never the raw config. Undefined variables are errors, and
//! every `{{ value }}` is JSON-escaped: a string prints as a quoted JSON string, a map as a JSON flow
//! mapping, both valid YAML, so no user text can break the document's structure.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};

use crate::model::nested::Parameter;
use crate::model::{Header, Tag, TaskDefinition};
use crate::model::{NestedStack, Stack};

/// The root template's name.
pub const ROOT: &str = "stack.yaml.j2";

/// Every template, by file name, embedded from `templates/`.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("stack.yaml.j2", include_str!("../../templates/stack.yaml.j2")),
    ("macros.yaml.j2", include_str!("../../templates/macros.yaml.j2")),
    ("table.yaml.j2", include_str!("../../templates/table.yaml.j2")),
    ("config_layer.yaml.j2", include_str!("../../templates/config_layer.yaml.j2")),
    ("create_job.yaml.j2", include_str!("../../templates/create_job.yaml.j2")),
    ("track.yaml.j2", include_str!("../../templates/track.yaml.j2")),
    ("timers.yaml.j2", include_str!("../../templates/timers.yaml.j2")),
    ("schedules.yaml.j2", include_str!("../../templates/schedules.yaml.j2")),
    ("rule.yaml.j2", include_str!("../../templates/rule.yaml.j2")),
    ("alarms.yaml.j2", include_str!("../../templates/alarms.yaml.j2")),
    ("clusters.yaml.j2", include_str!("../../templates/clusters.yaml.j2")),
    ("task_definitions.yaml.j2", include_str!("../../templates/task_definitions.yaml.j2")),
    ("iam.yaml.j2", include_str!("../../templates/iam.yaml.j2")),
    ("outputs.yaml.j2", include_str!("../../templates/outputs.yaml.j2")),
    ("nested_stacks.yaml.j2", include_str!("../../templates/nested_stacks.yaml.j2")),
    ("job_types_stack.yaml.j2", include_str!("../../templates/job_types_stack.yaml.j2")),
];

/// The template of each nested stack of job types.
pub const NESTED_ROOT: &str = "job_types_stack.yaml.j2";

/// A template failed to render: a bug in jobgen (the model and templates disagree), not in the
/// user's file.
#[derive(Debug, thiserror::Error)]
#[error("internal error: rendering the CloudFormation template failed: {0:#}; please report this as a jobgen bug")]
pub struct RenderError(#[from] Error);

/// The rendered template and the template files it used.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The CloudFormation YAML.
    pub text: String,
    /// Names of the templates loaded while rendering.
    pub used: BTreeSet<String>,
}

/// `{{ x|id }}`: a CloudFormation logical ID or output name, printed bare. Refuses anything that is
/// not alphanumeric, so a bare print can never inject YAML.
fn id_filter(value: String) -> Result<Value, Error> {
    if value.is_empty() || value.len() > 255 || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::new(ErrorKind::InvalidOperation, format!("{value:?} is not a valid logical ID")));
    }
    Ok(Value::from_safe_string(value))
}

/// `{{ x|comment }}`: free text for a YAML `#` comment line, on one line.
fn comment_filter(value: String) -> Value {
    Value::from_safe_string(value.replace(['\r', '\n'], " "))
}

fn environment(used: Arc<Mutex<BTreeSet<String>>>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_debug(true);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|_| AutoEscape::Json);
    env.add_filter("id", id_filter);
    env.add_filter("comment", comment_filter);
    env.set_loader(move |name| {
        let found = TEMPLATES.iter().find(|(n, _)| *n == name).map(|(_, src)| (*src).to_string());
        if let (Some(_), Ok(mut used)) = (&found, used.lock()) {
            used.insert(name.to_string());
        }
        Ok(found)
    });
    env
}

/// Renders the stack. Output is deterministic, LF-only, and ends with one newline.
pub fn render(stack: &Stack) -> Result<Rendered, RenderError> {
    let used = Arc::new(Mutex::new(BTreeSet::new()));
    let env = environment(used.clone());
    let template = env.get_template(ROOT)?;
    let raw = template.render(stack)?;
    let used = used.lock().map(|u| u.clone()).unwrap_or_default();
    Ok(Rendered { text: tidy(&raw), used })
}

/// What a nested stack's template sees: the child's own job types and what every resource shares.
#[derive(serde::Serialize)]
struct NestedView<'a> {
    header: &'a Header,
    description: &'a str,
    project: &'a str,
    index: u32,
    parameters: &'a [Parameter],
    tags: &'a [Tag],
    task_definitions: &'a [TaskDefinition],
    log_stream_prefix: &'a str,
}

/// Renders one nested stack of `stack`. Deterministic like [`render`].
pub fn render_nested(stack: &Stack, nested: &NestedStack) -> Result<Rendered, RenderError> {
    let used = Arc::new(Mutex::new(BTreeSet::new()));
    let env = environment(used.clone());
    let template = env.get_template(NESTED_ROOT)?;
    let raw = template.render(NestedView {
        header: &stack.header,
        description: &nested.description,
        project: &stack.project,
        index: nested.index,
        parameters: &nested.parameters,
        tags: &stack.tags,
        task_definitions: &nested.task_definitions,
        log_stream_prefix: stack.log_stream_prefix,
    })?;
    let used = used.lock().map(|u| u.clone()).unwrap_or_default();
    Ok(Rendered { text: tidy(&raw), used })
}

/// Normalizes whitespace so the templates' whitespace control only has to be right, not perfect:
/// trailing spaces and blank lines go, then one blank line separates the sections `Rules`,
/// `Resources` and `Outputs` and their entries. LF only, one final newline.
fn tidy(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_entries = false;
    for line in raw.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let top_level = !line.starts_with(' ') && !line.starts_with('#');
        let sectioned = ["Parameters:", "Rules:", "Resources:", "Outputs:"].contains(&line);
        if top_level {
            in_entries = sectioned;
        }
        let entry = in_entries
            && line.len() > 2
            && line.starts_with("  ")
            && line[2..].starts_with(|c: char| c.is_ascii_alphanumeric());
        if (entry && !out.ends_with(":\n")) || (top_level && sectioned) {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_folds_blank_lines_and_trailing_space() {
        assert_eq!(
            tidy("A: 1  \n\n\nResources:\n  X:\n    T: 1\n\n  Y:\n    T: 2\n"),
            "A: 1\n\nResources:\n  X:\n    T: 1\n\n  Y:\n    T: 2\n"
        );
    }

    #[test]
    fn id_filter_rejects_non_identifiers() {
        assert!(id_filter("JobsTable".into()).is_ok());
        assert!(id_filter("a: b".into()).is_err());
        assert!(id_filter(String::new()).is_err());
    }
}
