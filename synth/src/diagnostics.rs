//! Config errors: the error model of the front half of the pipeline and its two renderings.
//!
//! A [`Diagnostic`] is one problem: the dotted field path (`job_types.transcode.task.memory`), what is
//! wrong and why, how to fix it, and where it is in the file. A [`Report`] carries every problem
//! found in one file plus the file's text, so the CLI edge can render it without reading the file
//! again. Stages compute diagnostics on the typed config (paths only); [`Report::locate`] then
//! attaches `line:column` from the [`SpanIndex`] built while parsing, so validation never has to
//! know about YAML positions.
//!
//! Two renderings: [`Report::render_plain`] (the `Display` impl: stable, no colors, no terminal
//! width, what the golden tests snapshot) and [`Report::render_graphical`] (miette, with a source
//! excerpt; colors only on a terminal without `NO_COLOR`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A 1-based line and column (columns count characters, not bytes) in the project file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// Line, starting at 1.
    pub line: usize,
    /// Column in characters, starting at 1.
    pub column: usize,
}

impl Location {
    /// A location from 1-based line and column.
    pub fn new(line: usize, column: usize) -> Self {
        Location { line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem in a `jobgen.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Dotted field path, e.g. `job_types.transcode.task.memory` (empty for the whole file).
    pub path: String,
    /// What is wrong and why (lowercase, no trailing period).
    pub message: String,
    /// How to fix it (empty when there is nothing useful to say).
    pub help: String,
    /// Where in the file, when known.
    pub span: Option<Location>,
}

impl Diagnostic {
    /// A diagnostic for `path`, located later by [`Report::locate`].
    pub fn new(path: impl Into<String>, message: impl Into<String>, help: impl Into<String>) -> Self {
        Diagnostic { path: path.into(), message: message.into(), help: help.into(), span: None }
    }

    /// The same diagnostic at a known location.
    #[must_use]
    pub fn at(mut self, span: Option<Location>) -> Self {
        self.span = span;
        self
    }

    /// `path: message`, or just the message for a whole-file problem: the first line of both renderings.
    pub fn headline(&self) -> String {
        if self.path.is_empty() { self.message.clone() } else { format!("{}: {}", self.path, self.message) }
    }
}

/// The project file a report is about: its name for `file:line:col` and its text for excerpts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The name shown to the user (the path as given on the command line).
    pub name: String,
    /// The file's text.
    pub text: Arc<str>,
}

/// Every problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The problems, in file order once located.
    pub diagnostics: Vec<Diagnostic>,
    /// The file they are about, when there is one (absent e.g. when the file could not be read).
    pub source: Option<SourceFile>,
}

impl From<Vec<Diagnostic>> for Report {
    fn from(diagnostics: Vec<Diagnostic>) -> Self {
        Report { diagnostics, source: None }
    }
}

impl From<Diagnostic> for Report {
    fn from(diagnostic: Diagnostic) -> Self {
        Report::from(vec![diagnostic])
    }
}

/// How many problems [`Report::render_graphical`] shows with a source excerpt.
pub const MAX_EXCERPTS: usize = 50;

/// How [`Report::render_graphical`] may style its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    /// ANSI colors.
    Always,
    /// Plain unicode art, no escape codes.
    Never,
}

impl ColorChoice {
    /// Colors only when stderr is a terminal and `NO_COLOR` is unset or empty (<https://no-color.org>).
    pub fn for_stderr() -> Self {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if !no_color && std::io::stderr().is_terminal() { ColorChoice::Always } else { ColorChoice::Never }
    }
}

impl Report {
    /// A report about `text` from the file `name`.
    pub fn new(diagnostics: Vec<Diagnostic>, name: &str, text: &str) -> Self {
        Report { diagnostics, source: Some(SourceFile { name: name.to_string(), text: Arc::from(text) }) }
    }

    /// Whether there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// Gives every diagnostic without a location the position of its path (or of its nearest
    /// ancestor that is in the file), then sorts them in file order.
    pub fn locate(&mut self, index: &SpanIndex) {
        for d in &mut self.diagnostics {
            if d.span.is_none() {
                d.span = index.find(&d.path);
            }
        }
        // Stable sort: diagnostics at the same place keep the order the rules produced them in.
        self.diagnostics.sort_by_key(|d| d.span.map_or((0, 0), |l| (l.line, l.column)));
    }

    fn file_name(&self) -> &str {
        self.source.as_ref().map_or("jobgen.yaml", |s| s.name.as_str())
    }

    /// The stable plain-text rendering (also the `Display` impl): for each problem
    /// `error: PATH: MESSAGE`, `  --> FILE:LINE:COL` and `  = help: HELP`, then a count.
    pub fn render_plain(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str("error: ");
            out.push_str(&d.headline());
            out.push('\n');
            if let Some(loc) = d.span {
                out.push_str(&format!("  --> {}:{}\n", self.file_name(), loc));
            }
            if !d.help.is_empty() {
                out.push_str(&format!("  = help: {}\n", d.help));
            }
        }
        if self.diagnostics.len() > 1 {
            out.push_str(&format!("error: {} problems in {}\n", self.diagnostics.len(), self.file_name()));
        }
        out
    }

    /// The miette rendering: each problem with `file:line:col`, a source excerpt with the offending
    /// spot labelled, and its help. `width` is the wrap width (the CLI passes the terminal width).
    pub fn render_graphical(&self, color: ColorChoice, width: usize) -> String {
        use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};
        let theme = match color {
            ColorChoice::Always => GraphicalTheme::unicode(),
            ColorChoice::Never => GraphicalTheme::unicode_nocolor(),
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(width).with_links(false);
        let mut out = String::new();
        for (i, d) in self.diagnostics.iter().enumerate() {
            // Past the first screenfuls an excerpt per problem helps nobody (and costs a scan of the
            // file each): the rest are listed one line each, still all of them.
            if i >= MAX_EXCERPTS {
                let at = d.span.map(|l| format!(" ({}:{l})", self.file_name())).unwrap_or_default();
                out.push_str(&format!("  × {}{at}\n", d.headline()));
                continue;
            }
            let mut diag = MietteDiagnostic::new(d.headline());
            if !d.help.is_empty() {
                diag = diag.with_help(d.help.clone());
            }
            let offset = match (&self.source, d.span) {
                (Some(src), Some(loc)) => byte_offset(&src.text, loc),
                _ => None,
            };
            let rendered = match (&self.source, offset) {
                (Some(src), Some(offset)) => {
                    let len = token_len(&src.text[offset..]);
                    let label = LabeledSpan::new_primary_with_span(Some(short_label(d)), (offset, len));
                    let report = miette::Report::new(diag.with_label(label))
                        .with_source_code(NamedSource::new(&src.name, Arc::clone(&src.text)));
                    let mut s = String::new();
                    handler.render_report(&mut s, report.as_ref()).map(|()| s)
                }
                _ => {
                    let mut s = String::new();
                    handler.render_report(&mut s, &diag).map(|()| s)
                }
            };
            match rendered {
                Ok(s) => out.push_str(&s),
                // Rendering into a String cannot fail in practice; fall back to the plain form anyway.
                Err(_) => out.push_str(&Report::from(d.clone()).render_plain()),
            }
            out.push('\n');
        }
        if self.diagnostics.len() > 1 {
            out.push_str(&format!("{} problems in {}\n", self.diagnostics.len(), self.file_name()));
        }
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render_plain())
    }
}

impl std::error::Error for Report {}

/// The label under the excerpt: the last path segment, so the excerpt reads "here is `memory`".
fn short_label(d: &Diagnostic) -> String {
    match d.path.rsplit('.').next() {
        Some(last) if !last.is_empty() => last.to_string(),
        _ => "here".to_string(),
    }
}

/// Byte offset of a 1-based line/column (in characters) in `text`.
fn byte_offset(text: &str, loc: Location) -> Option<usize> {
    let mut line_start = 0;
    if loc.line > 1 {
        let (i, _) = text.match_indices('\n').nth(loc.line - 2)?;
        line_start = i + 1;
    }
    let line = &text[line_start..];
    let col = line.char_indices().nth(loc.column.saturating_sub(1)).map_or(line.len(), |(i, _)| i);
    Some(line_start + col)
}

/// Length of the token at the start of `rest`: up to the end of the line or a `: ` separator, so the
/// label underlines a key or a scalar rather than the rest of the file.
fn token_len(rest: &str) -> usize {
    let line = rest.split('\n').next().unwrap_or("");
    let end = line.find(": ").or_else(|| line.strip_suffix(':').map(str::len)).unwrap_or(line.len());
    line[..end].trim_end().len().max(1).min(line.len().max(1))
}

/// Where each field path of a parsed file is: built from the YAML event stream (not from the typed
/// config), so a rule computed on the typed config can point at the right line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanIndex {
    nodes: Vec<IndexedNode>,
    by_path: HashMap<String, usize>,
}

/// What kind of YAML node a path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A scalar (string, number, bool, null).
    Scalar,
    /// A sequence.
    Sequence,
    /// A mapping.
    Mapping,
    /// An alias (`*name`): its contents are not indexed.
    Alias,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct IndexedNode {
    path: String,
    kind: NodeKind,
    /// The key's position when the node is a mapping value.
    key: Option<(Location, Location)>,
    start: Location,
    end: Location,
    /// A scalar's text (the first 80 characters), for messages about values of the wrong type.
    value: Option<String>,
}

impl SpanIndex {
    /// Records a node (called by the parser's walk, in document order).
    pub(crate) fn push(
        &mut self,
        path: String,
        kind: NodeKind,
        key: Option<(Location, Location)>,
        start: Location,
        end: Location,
    ) -> usize {
        let i = self.nodes.len();
        self.by_path.insert(path.clone(), i);
        self.nodes.push(IndexedNode { path, kind, key, start, end, value: None });
        i
    }

    /// Records a scalar node's text.
    pub(crate) fn set_value(&mut self, i: usize, value: &str) {
        if let Some(n) = self.nodes.get_mut(i) {
            n.value = Some(value.chars().take(80).collect());
        }
    }

    /// The text of the scalar that starts at `loc`, if there is one.
    pub fn scalar_at(&self, loc: Location) -> Option<&str> {
        self.nodes.iter().find(|n| n.start == loc && n.kind == NodeKind::Scalar).and_then(|n| n.value.as_deref())
    }

    /// Sets the end of a collection once its end event is seen.
    pub(crate) fn set_end(&mut self, i: usize, end: Location) {
        if let Some(n) = self.nodes.get_mut(i) {
            n.end = end;
        }
    }

    /// The kind of the root node, `None` for an empty document.
    pub fn root_kind(&self) -> Option<NodeKind> {
        self.nodes.first().filter(|n| n.path.is_empty()).map(|n| n.kind)
    }

    /// The kind of node at `path`, if it is in the file.
    pub fn kind_of(&self, path: &str) -> Option<NodeKind> {
        self.by_path.get(path).map(|&i| self.nodes[i].kind)
    }

    /// Whether `path` is in the file.
    pub fn contains(&self, path: &str) -> bool {
        self.by_path.contains_key(path)
    }

    /// Where to point for `path`: a scalar's value, a collection's key (the line a reader looks
    /// for), or the nearest ancestor that is in the file when the path itself is not (a missing key).
    pub fn find(&self, path: &str) -> Option<Location> {
        let mut p = path;
        loop {
            if let Some(&i) = self.by_path.get(p) {
                let n = &self.nodes[i];
                return Some(match (n.kind, n.key) {
                    (NodeKind::Scalar | NodeKind::Alias, _) | (_, None) => n.start,
                    (_, Some((key, _))) => key,
                });
            }
            if p.is_empty() {
                return None;
            }
            p = parent_path(p);
        }
    }

    /// Where the value at `path` starts (a collection's first line, not its key), else
    /// [`Self::find`]: where a value of the wrong type is pointed at.
    pub fn find_value(&self, path: &str) -> Option<Location> {
        match self.by_path.get(path) {
            Some(&i) => Some(self.nodes[i].start),
            None => self.find(path),
        }
    }

    /// Where the key of the entry at `path` is (falls back to [`Self::find`]).
    pub fn find_key(&self, path: &str) -> Option<Location> {
        match self.by_path.get(path).and_then(|&i| self.nodes[i].key) {
            Some((start, _)) => Some(start),
            None => self.find(path),
        }
    }

    /// The field path of the entry whose key is at `loc` (where the deserializer reports unknown and
    /// duplicate keys), else [`Self::value_path_at`].
    pub fn key_path_at(&self, loc: Location) -> Option<&str> {
        match self.nodes.iter().rev().find(|n| n.key.is_some_and(|(s, _)| s == loc)) {
            Some(n) => Some(&n.path),
            None => self.value_path_at(loc),
        }
    }

    /// The field path of the node that starts at `loc` (where the deserializer reports a value of the
    /// wrong type), else of the innermost node containing it.
    pub fn value_path_at(&self, loc: Location) -> Option<&str> {
        match self.nodes.iter().find(|n| n.start == loc) {
            Some(n) => Some(&n.path),
            None => self.path_at(loc, None),
        }
    }

    /// The field path of the innermost node (of `kind`, if given) that contains `loc`.
    pub fn path_at(&self, loc: Location, kind: Option<NodeKind>) -> Option<&str> {
        self.nodes
            .iter()
            .filter(|n| kind.is_none_or(|k| n.kind == k))
            .filter(|n| n.start <= loc && (loc < n.end || loc == n.start))
            .max_by_key(|n| n.start)
            .map(|n| n.path.as_str())
    }
}

/// `a.b[0].c` → `a.b[0]` → `a.b` → `a` → ``.
pub fn parent_path(path: &str) -> &str {
    if let Some(stripped) = path.strip_suffix(']')
        && let Some(i) = stripped.rfind('[')
    {
        return &path[..i];
    }
    match path.rfind('.') {
        Some(i) => &path[..i],
        None => "",
    }
}

/// `parent` + `.key` (or just `key` at the root).
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
}

/// The closest candidate to `input` when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&input.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_path_walks_up_through_indexes() {
        assert_eq!(parent_path("a.b[0].c"), "a.b[0]");
        assert_eq!(parent_path("a.b[0]"), "a.b");
        assert_eq!(parent_path("a"), "");
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("a", "b"), "a.b");
    }

    #[test]
    fn did_you_mean_finds_typos_only() {
        let keys = ["image", "cpu", "memory", "command"];
        assert_eq!(did_you_mean("memroy", keys), Some("memory"));
        assert_eq!(did_you_mean("imgae", keys), Some("image"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }

    #[test]
    fn byte_offsets_count_characters_per_line() {
        let text = "a: 1\nbé: 2\n";
        assert_eq!(byte_offset(text, Location::new(1, 1)), Some(0));
        assert_eq!(byte_offset(text, Location::new(2, 1)), Some(5));
        assert_eq!(byte_offset(text, Location::new(2, 4)), Some(9));
        assert_eq!(byte_offset(text, Location::new(9, 1)), None);
    }

    #[test]
    fn plain_rendering_has_path_location_and_help() {
        let mut r = Report::new(
            vec![
                Diagnostic::new("job_types.x.task.memory", "3000 is not valid", "use 2048")
                    .at(Some(Location::new(3, 5))),
            ],
            "jobgen.yaml",
            "",
        );
        r.locate(&SpanIndex::default());
        assert_eq!(
            r.render_plain(),
            "error: job_types.x.task.memory: 3000 is not valid\n  --> jobgen.yaml:3:5\n  = help: use 2048\n"
        );
    }
}
