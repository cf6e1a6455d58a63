//! Stage 1: YAML text → [`Config`]. (Skeleton: the full parser with limits, duplicate-key and
//! did-you-mean handling replaces this.)

use crate::config::Config;
use crate::diagnostics::{Diagnostic, Report};

/// Parses a `jobgen.yaml` text.
pub fn parse(text: &str, _file_name: &str) -> Result<Config, Report> {
    serde_saphyr::from_str(text).map_err(|e| Report::from(vec![Diagnostic::new("", e.to_string(), "")]))
}
