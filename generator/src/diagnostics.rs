//! Config errors: each with a field path, what is wrong, and how to fix it. (Skeleton.)

use std::fmt;

/// One problem in a `jobgen.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Dotted field path, e.g. `job_types.transcode.memory` (empty for the whole file).
    pub path: String,
    /// What is wrong and why.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl Diagnostic {
    /// A diagnostic for `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>, help: impl Into<String>) -> Self {
        Diagnostic { path: path.into(), message: message.into(), help: help.into() }
    }
}

/// Every problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl From<Vec<Diagnostic>> for Report {
    fn from(diagnostics: Vec<Diagnostic>) -> Self {
        Report { diagnostics }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            if d.path.is_empty() {
                writeln!(f, "error: {}", d.message)?;
            } else {
                writeln!(f, "error: {}: {}", d.path, d.message)?;
            }
            if !d.help.is_empty() {
                writeln!(f, "  help: {}", d.help)?;
            }
        }
        Ok(())
    }
}
