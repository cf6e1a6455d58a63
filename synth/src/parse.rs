//! Stage 1: YAML text → [`Config`], plus the [`SpanIndex`] that later stages use to point at lines.
//!
//! The YAML crate is serde-saphyr (serde over the granit-parser event stream): it reports every error
//! with a line and column, rejects duplicate keys by default, and enforces explicit resource budgets
//! (nesting depth, node and event counts, alias expansion) while it parses, so hostile input is
//! refused in bounded time instead of being expanded. On top of its limits we check the file size
//! before parsing at all.
//!
//! Order of work, cheapest refusal first:
//! 1. size (≤ [`MAX_FILE_BYTES`]), before any parsing;
//! 2. one walk over the event stream, linear in the file size (aliases are not expanded), that
//!    records where every field path is (the [`SpanIndex`]) and refuses nesting deeper than
//!    [`MAX_DEPTH`], more than [`MAX_NODES`] values, aliases that would expand to more than
//!    [`MAX_ALIAS_REPLAYED_EVENTS`] values (computed from each anchor's expanded size, without
//!    expanding), syntax errors, an empty file and a non-mapping root;
//! 3. a key check of that walk against the schema, which reports *every* unknown key at once
//!    (serde stops at the first), each with a did-you-mean;
//! 4. serde deserialization under explicit budgets (defense in depth): wrong types, missing keys,
//!    duplicate keys. serde stops at its first error; that error gets a field path from the index.

use std::rc::Rc;

use serde_saphyr::granit_parser::{Event, Parser, Span as ParserSpan};
use serde_saphyr::{Budget, DuplicateKeyPolicy, MessageFormatter, Options, UserMessageFormatter};

use crate::config::Config;
use crate::diagnostics::{Diagnostic, Location, NodeKind, Report, SpanIndex, did_you_mean, join};
use crate::keys::{KeyCheck, KeyRecord, Seg, unknown_key};

/// Largest project file accepted, checked before parsing: a jobgen.yaml with 500 job types is well
/// under 100 KiB, so 1 MiB is generous and keeps the worst-case parse short.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Deepest nesting accepted: the schema needs 6 levels (`job_types.x.task.policies[0].actions[0]`).
pub const MAX_DEPTH: usize = 24;
/// Most YAML nodes accepted (500 job types need about 20 000).
pub const MAX_NODES: usize = 200_000;
/// Most events replayed by alias expansion across the file: enough for an anchored network reused
/// by every job type, far too few for a "billion laughs" bomb.
pub const MAX_ALIAS_REPLAYED_EVENTS: usize = 100_000;

/// A parsed file: the typed config and where each of its paths is.
#[derive(Debug, Clone)]
pub struct Document {
    /// The config.
    pub config: Config,
    /// Field path → position, for diagnostics computed on `config`.
    pub index: SpanIndex,
}

/// Parses a `jobgen.yaml` text.
pub fn parse(text: &str, file_name: &str) -> Result<Config, Report> {
    parse_document(text, file_name).map(|d| d.config)
}

/// The serde-saphyr options: explicit budgets (the defaults are sized for 256 MiB streams), duplicate
/// keys rejected, only `true`/`false` as booleans (what the JSON Schema and YAML 1.2 editors accept).
pub fn options() -> Options {
    let mut budget = Budget::default();
    budget.max_reader_input_bytes = Some(MAX_FILE_BYTES);
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    budget.max_events = 2 * MAX_NODES;
    budget.max_documents = 1;
    budget.max_aliases = 10_000;
    budget.max_anchors = 10_000;
    budget.max_merge_keys = 10_000;
    budget.max_total_scalar_bytes = 4 * MAX_FILE_BYTES;
    budget.max_recorded_anchor_events = MAX_ALIAS_REPLAYED_EVENTS;
    budget.max_recorded_anchor_bytes = 4 * MAX_FILE_BYTES;
    budget.flow_nesting_limit = MAX_DEPTH;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_ALIAS_REPLAYED_EVENTS;
    options.alias_limits.max_replay_stack_depth = 16;
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options.strict_booleans = true;
    // We render our own diagnostics from the location; the wrapped snippet would only be dropped.
    options.with_snippet = false;
    options
}

/// Parses a `jobgen.yaml` text and indexes where each field path is.
pub fn parse_document(text: &str, file_name: &str) -> Result<Document, Report> {
    let fail = |d: Vec<Diagnostic>| Report::new(d, file_name, text);
    if text.len() > MAX_FILE_BYTES {
        return Err(fail(vec![Diagnostic::new(
            "",
            format!("the file is {} bytes: project files are limited to {} bytes (1 MiB)", text.len(), MAX_FILE_BYTES),
            "a project file describes job types, not data; split generated content out of it",
        )]));
    }

    let walk = index_events(text);
    if let Some(refusal) = walk.refusal {
        let mut report = fail(vec![refusal]);
        report.locate(&walk.index);
        return Err(report);
    }
    // A syntax error is the root cause of whatever serde would report first (it reads values
    // before the scanner reaches the error), so it is reported on its own.
    if let Some((message, at)) = &walk.scan_error {
        let mut report = fail(vec![syntax_error(message, *at, text, &walk.index)]);
        report.locate(&walk.index);
        return Err(report);
    }
    match walk.index.root_kind() {
        None => {
            return Err(fail(vec![Diagnostic::new(
                "",
                "the file has no content: it is empty or holds only comments",
                "start from a commented template with `jobgen init --force`",
            )]));
        }
        Some(NodeKind::Mapping) => {}
        Some(kind) => {
            let found = match kind {
                NodeKind::Scalar => "a single value",
                NodeKind::Sequence => "a list",
                NodeKind::Alias | NodeKind::Mapping => "an alias",
            };
            return Err(fail(vec![
                Diagnostic::new(
                    "",
                    format!("the top level is {found}: a project file is a mapping of keys"),
                    "start with `version: 1`, then `project:`, `clusters:` and `job_types:` (see `jobgen init`)",
                )
                .at(Some(Location::new(1, 1))),
            ]));
        }
    }
    // Unknown keys, all of them, before serde reports only the first.
    let unknown = KeyCheck::new().check(&walk.keys);
    if !unknown.is_empty() {
        let mut report = fail(unknown);
        report.locate(&walk.index);
        return Err(report);
    }

    match serde_saphyr::from_str_with_options::<Config>(text, options()) {
        Ok(config) => Ok(Document { config, index: walk.index }),
        Err(err) => {
            // serde stops at its first mistake: the schema walk reports them all, when it sees them.
            let shape = serde_saphyr::from_str_with_options::<serde_json::Value>(text, options())
                .map(|value| crate::shape::shape_errors(&value, &crate::schema::json_schema(), &walk.index))
                .unwrap_or_default();
            let diagnostics = if shape.is_empty() { vec![diagnostic_from(&err, &walk.index, text)] } else { shape };
            let mut report = fail(diagnostics);
            report.locate(&walk.index);
            Err(report)
        }
    }
}

/// What one walk over the event stream found.
pub(crate) struct Walk {
    pub(crate) index: SpanIndex,
    /// Every mapping key, in document order.
    pub(crate) keys: Vec<KeyRecord>,
    /// The first YAML syntax error: its message and position.
    pub(crate) scan_error: Option<(String, Location)>,
    /// Set when the walk refused the file (too deep, or aliases that expand too far).
    pub(crate) refusal: Option<Diagnostic>,
}

enum Frame {
    Map {
        node: usize,
        path: String,
        segs: Rc<Vec<Seg>>,
        key: Option<(String, Location, Location)>,
        awaiting_key: bool,
        anchor: Anchor,
    },
    Seq {
        node: usize,
        path: String,
        segs: Rc<Vec<Seg>>,
        next: usize,
        anchor: Anchor,
    },
    /// Inside a non-scalar mapping key (`? [a, b]: x`): nothing in it has a path.
    Skip {
        depth: usize,
    },
}

/// An anchor on an open collection: its id (0 = none) and the expanded node count when it opened,
/// so its own expanded size is known when it closes.
#[derive(Clone, Copy)]
struct Anchor {
    id: usize,
    opened_at: u64,
}

fn extend(segs: &[Seg], seg: Seg) -> Rc<Vec<Seg>> {
    let mut child = segs.to_vec();
    child.push(seg);
    Rc::new(child)
}

fn loc(marker: &serde_saphyr::granit_parser::Marker) -> Location {
    // The parser's lines are 1-based and its columns 0-based; ours are both 1-based.
    Location::new(marker.line(), marker.col() + 1)
}

/// Walks the event stream once (aliases not expanded, so it is linear in the file size) and records
/// each node's path and position. Stops at the first scan error, and refuses the file (see
/// [`Limits`]) past [`MAX_DEPTH`], [`MAX_NODES`] or [`MAX_ALIAS_REPLAYED_EVENTS`].
pub(crate) fn index_events(text: &str) -> Walk {
    index_events_with(text, Limits::DEFAULT)
}

/// The walk's refusal thresholds (tests use small ones to exercise them cheaply).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) depth: usize,
    pub(crate) nodes: usize,
    pub(crate) alias_values: usize,
}

impl Limits {
    pub(crate) const DEFAULT: Limits =
        Limits { depth: MAX_DEPTH, nodes: MAX_NODES, alias_values: MAX_ALIAS_REPLAYED_EVENTS };
}

pub(crate) fn index_events_with(text: &str, limits: Limits) -> Walk {
    // The parser's own nesting limits (255) stay above ours, so the walk sees the too-deep node and
    // refuses with its own message rather than a scanner error.
    let options = serde_saphyr::granit_parser::Options::default();
    let mut walk = Walk { index: SpanIndex::default(), keys: Vec::new(), scan_error: None, refusal: None };
    let mut stack: Vec<Frame> = Vec::new();
    let mut seen_root = false;
    let mut nodes = 0usize;
    // Alias-bomb detection without expanding anything: the number of nodes the document would have
    // with every alias replaced by its anchor's (already expanded) contents. Each anchor's expanded
    // size is recorded when its node ends, so an alias adds it in O(1).
    let mut expanded: u64 = 0;
    let mut anchor_sizes: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
    for item in Parser::new_from_str_with_options(text, options) {
        let (event, span): (Event<'_>, ParserSpan) = match item {
            Ok(pair) => pair,
            Err(e) => {
                walk.scan_error = Some((e.info(), loc(e.marker())));
                break;
            }
        };
        let (start, end) = (loc(&span.start), loc(&span.end));
        let (kind, anchor_id) = match &event {
            Event::Scalar(_, _, a, _) => (NodeKind::Scalar, *a),
            Event::SequenceStart(_, a, _) => (NodeKind::Sequence, *a),
            Event::MappingStart(_, a, _) => (NodeKind::Mapping, *a),
            Event::Alias(..) => (NodeKind::Alias, 0),
            Event::SequenceEnd | Event::MappingEnd => {
                match stack.pop() {
                    Some(Frame::Skip { depth }) if depth > 1 => stack.push(Frame::Skip { depth: depth - 1 }),
                    Some(Frame::Map { node, anchor, .. } | Frame::Seq { node, anchor, .. }) => {
                        walk.index.set_end(node, end);
                        if anchor.id != 0 {
                            anchor_sizes.insert(anchor.id, expanded.saturating_sub(anchor.opened_at));
                        }
                    }
                    _ => {}
                }
                continue;
            }
            Event::DocumentStart(..) if seen_root => break,
            _ => continue,
        };
        nodes += 1;
        let opened_at = expanded;
        expanded = expanded.saturating_add(match &event {
            Event::Alias(id) => anchor_sizes.get(id).copied().unwrap_or(1),
            _ => 1,
        });
        if kind == NodeKind::Scalar && anchor_id != 0 {
            anchor_sizes.insert(anchor_id, 1);
        }
        // Nodes that aliases add on top of the ones written in the file.
        let replayed = expanded.saturating_sub(nodes as u64);
        if replayed > limits.alias_values as u64 {
            walk.refusal = Some(
                Diagnostic::new(
                    "",
                    format!(
                        "aliases expand to more than {} values: jobgen refuses this before \
                         expanding anything (it is the shape of an alias bomb)",
                        limits.alias_values
                    ),
                    "write the repeated values out, or anchor smaller pieces and reuse them fewer times",
                )
                .at(Some(start)),
            );
            break;
        }
        let is_collection = matches!(kind, NodeKind::Sequence | NodeKind::Mapping);
        if is_collection && stack.len() >= limits.depth {
            walk.refusal = Some(
                Diagnostic::new(
                    "",
                    format!("the file nests deeper than {} levels: no jobgen.yaml key needs more than 6", limits.depth),
                    "check the indentation: a value may be indented under the wrong key",
                )
                .at(Some(start)),
            );
            break;
        }
        if nodes > limits.nodes {
            walk.refusal = Some(Diagnostic::new(
                "",
                format!("the file has more than {} YAML values: jobgen refuses it unread", limits.nodes),
                "a project file describes job types, not data; split generated content out of it",
            ));
            break;
        }
        let anchor = Anchor { id: anchor_id, opened_at };
        let is_collection = matches!(kind, NodeKind::Sequence | NodeKind::Mapping);
        let (path, segs, key) = match stack.last_mut() {
            None if seen_root => break,
            None => {
                seen_root = true;
                (String::new(), Rc::default(), None)
            }
            Some(Frame::Skip { depth }) => {
                if is_collection {
                    *depth += 1;
                }
                continue;
            }
            Some(Frame::Map { path, segs, key, awaiting_key, .. }) if *awaiting_key => {
                *awaiting_key = false;
                let text = match &event {
                    Event::Scalar(value, ..) => value.to_string(),
                    _ => "?".to_string(),
                };
                walk.keys.push(KeyRecord {
                    parent: Rc::clone(segs),
                    parent_path: path.clone(),
                    key: text.clone(),
                    at: start,
                });
                *key = Some((text, start, end));
                if is_collection {
                    stack.push(Frame::Skip { depth: 1 });
                }
                continue;
            }
            Some(Frame::Map { path, segs, key, awaiting_key, .. }) => {
                *awaiting_key = true;
                let (k, loc) = match key.take() {
                    Some((k, ks, ke)) => (k, Some((ks, ke))),
                    None => ("?".to_string(), None),
                };
                // Only a collection needs its own steps (for the keys inside it).
                let child = if is_collection { extend(segs, Seg::Key(k.clone())) } else { Rc::default() };
                (join(path, &k), child, loc)
            }
            Some(Frame::Seq { path, segs, next, .. }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                let child = if is_collection { extend(segs, Seg::Index) } else { Rc::default() };
                (p, child, None)
            }
        };
        // A collection extends to its end event; until then (or when a syntax error stops the walk)
        // it contains everything after its start.
        let end = if is_collection { Location::new(usize::MAX, usize::MAX) } else { end };
        let node = walk.index.push(path.clone(), kind, key, start, end);
        if let Event::Scalar(value, ..) = &event {
            walk.index.set_value(node, value);
        }
        match kind {
            NodeKind::Mapping => stack.push(Frame::Map { node, path, segs, key: None, awaiting_key: true, anchor }),
            NodeKind::Sequence => stack.push(Frame::Seq { node, path, segs, next: 0, anchor }),
            NodeKind::Scalar | NodeKind::Alias => {}
        }
    }
    walk
}

/// Turns serde-saphyr's first error into a diagnostic with a field path, a message and a fix.
fn diagnostic_from(err: &serde_saphyr::Error, index: &SpanIndex, text: &str) -> Diagnostic {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach as B;

    let mut err = err.without_snippet();
    // An error inside an aliased node: report it where the alias is used.
    let mut used_at = None;
    while let E::AliasError { error, locations, .. } = err {
        if locations.reference_location != serde_saphyr::Location::UNKNOWN {
            used_at = Some(locations.reference_location);
        }
        err = error.without_snippet();
    }
    let location = used_at.or_else(|| err.location()).and_then(|l| {
        let (line, column) = (usize::try_from(l.line()).ok()?, usize::try_from(l.column()).ok()?);
        (line > 0).then(|| Location::new(line, column.max(1)))
    });
    let key_path = || location.and_then(|l| index.key_path_at(l)).unwrap_or("").to_string();
    let value_path = || location.and_then(|l| index.value_path_at(l)).unwrap_or("").to_string();

    let alias_bomb = || {
        Diagnostic::new(
            "",
            "aliases expand to too much data: jobgen refuses files whose aliases expand beyond its limits \
             (this is the shape of an alias bomb)",
            "write the repeated values out, or anchor smaller pieces and reuse them fewer times",
        )
    };

    let d = match err {
        E::SerdeUnknownField { field, expected, .. } => {
            // Normally caught by the key check first; kept for keys inside aliases and merges.
            unknown_key(&key_path(), field, expected)
        }
        E::SerdeUnknownVariant { variant, expected, .. } => {
            let help = match did_you_mean(variant, expected.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? allowed: {}", expected.join(", ")),
                None => format!("allowed: {}", expected.join(", ")),
            };
            Diagnostic::new(value_path(), format!("`{variant}` is not an allowed value"), help)
        }
        E::SerdeMissingField { field, .. } => {
            let parent = location.and_then(|l| index.path_at(l, Some(NodeKind::Mapping))).unwrap_or("").to_string();
            let path = join(&parent, field);
            let help = if parent.is_empty() {
                format!("add `{field}:` at the top level (see `jobgen init` for a complete file)")
            } else {
                format!("add `{field}:` under `{parent}`")
            };
            return Diagnostic::new(path, "required key is missing", help).at(index.find(&parent));
        }
        E::DuplicateMappingKey { key, .. } => {
            let key = key.clone().unwrap_or_else(|| "?".to_string());
            let parent = location.and_then(|l| index.path_at(l, Some(NodeKind::Mapping))).unwrap_or("");
            Diagnostic::new(
                join(parent, &key),
                format!("duplicate key `{key}`: a later value would silently replace the earlier one"),
                format!("keep one `{key}:` entry here and delete or rename the other"),
            )
        }
        E::SerdeInvalidType { unexpected, expected, .. } | E::SerdeInvalidValue { unexpected, expected, .. } => {
            Diagnostic::new(
                value_path(),
                format!("expected {}, found {unexpected}", friendly_expected(expected)),
                type_help(expected),
            )
        }
        E::InvalidScalar { ty, .. } => {
            let path = value_path();
            let found = location.and_then(|l| scalar_at(text, l)).unwrap_or_default();
            Diagnostic::new(path, format!("`{found}` is not {}", friendly_expected(ty)), type_help(ty))
        }
        E::Unexpected { expected, .. } => {
            let path = value_path();
            let found = match index.kind_of(&path) {
                Some(NodeKind::Mapping) => "a mapping",
                Some(NodeKind::Sequence) => "a list",
                Some(NodeKind::Alias) => "an alias",
                Some(NodeKind::Scalar)
                    if location.and_then(|l| index.scalar_at(l)).is_none_or(|v| matches!(v, "" | "~" | "null")) =>
                {
                    "nothing (an empty value)"
                }
                Some(NodeKind::Scalar) => "a single value",
                None => "something else",
            };
            let expected = match *expected {
                "string scalar" => "a string",
                "sequence start" => "a list",
                "mapping start" => "a mapping",
                e => e,
            };
            Diagnostic::new(path, format!("expected {expected}, found {found}"), type_help(expected))
        }
        E::InvalidBooleanStrict { .. } => Diagnostic::new(
            value_path(),
            "expected true or false",
            "write `true` or `false` (yes/no/on/off are strings in YAML 1.2, and editors read them so)",
        ),
        E::NullIntoString { .. } => Diagnostic::new(
            value_path(),
            "the value is empty (null): a string is required",
            "write a value after the colon, or remove the key",
        ),
        E::MultipleDocuments { .. } => Diagnostic::new(
            "",
            "the file holds more than one YAML document: a project is one document",
            "remove the `---` separator and merge or delete the second document",
        ),
        E::Budget { breach, .. } => match breach {
            B::Depth { .. } => Diagnostic::new(
                value_path(),
                format!("the file nests deeper than {MAX_DEPTH} levels: no jobgen.yaml key needs more than 6"),
                "check the indentation: a value may be indented under the wrong key",
            ),
            B::Nodes { .. } | B::Events { .. } | B::ScalarBytes { .. } | B::InputBytes { .. } => Diagnostic::new(
                "",
                format!("the file has too many values: jobgen accepts at most {MAX_NODES} YAML nodes"),
                "a project file describes job types, not data; split generated content out of it",
            ),
            B::Documents { .. } => Diagnostic::new(
                "",
                "the file holds more than one YAML document: a project is one document",
                "remove the `---` separator and merge or delete the second document",
            ),
            _ => alias_bomb(),
        },
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => alias_bomb(),
        E::UnknownAnchor { .. } => Diagnostic::new(
            value_path(),
            "alias refers to an anchor that is not defined before it",
            "define `&name` on a value above this `*name`, or write the value out",
        ),
        E::InvalidUtf8Input => Diagnostic::new("", "the file is not valid UTF-8", "save the file as UTF-8 text"),
        other => {
            let message = UserMessageFormatter.format_message(other).to_string();
            match location {
                Some(at) => return syntax_error(&message, at, text, index),
                None => Diagnostic::new("", format!("invalid YAML: {message}"), SYNTAX_HELP),
            }
        }
    };
    d.at(location)
}

const SYNTAX_HELP: &str = "fix the YAML syntax at this position (check indentation, colons and quotes)";

/// A YAML syntax error at `at`, with a help that names the usual cause when it is recognizable.
fn syntax_error(message: &str, at: Location, text: &str, index: &SpanIndex) -> Diagnostic {
    let line = text.lines().nth(at.line.saturating_sub(1)).unwrap_or("");
    let help = if line.trim_start_matches(' ').starts_with('\t') || message.contains("tab") {
        "YAML indentation must use spaces, not tabs: replace the tabs at the start of the line"
    } else if message.contains("mapping values are not allowed") {
        "a `key: value` line is indented deeper than the key above it: align it with its siblings"
    } else {
        SYNTAX_HELP
    };
    let path = index.path_at(at, None).unwrap_or("").to_string();
    Diagnostic::new(path, format!("invalid YAML: {message}"), help).at(Some(at))
}

/// serde's `expected` strings in user words (`u32` → `a whole number`).
fn friendly_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".to_string(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_string(),
        "a boolean" | "bool" => "true or false".to_string(),
        e if e.starts_with("struct ") => "a mapping of keys".to_string(),
        e if e.starts_with("a map") => "a mapping of keys".to_string(),
        e if e.starts_with("a sequence") => "a list".to_string(),
        e if e.starts_with("enum ") => "one of the allowed names".to_string(),
        e => e.to_string(),
    }
}

fn type_help(expected: &str) -> String {
    match friendly_expected(expected).as_str() {
        "a whole number (0 or more)" | "a whole number" => "write a number without quotes or units, e.g. `1024`".into(),
        "true or false" => "write `true` or `false`".into(),
        "a mapping of keys" => "write `key: value` pairs indented under this key".into(),
        "a list" => "write a list: `[a, b]`, or one `- item` per line".into(),
        "a string" => {
            "write a single text value (quote it if it contains `: ` or starts with a special character)".into()
        }
        other => format!("change the value to {other}"),
    }
}

/// The plain scalar text at a location, for messages like "`abc` is not a whole number".
fn scalar_at(text: &str, l: Location) -> Option<String> {
    let line = text.lines().nth(l.line.checked_sub(1)?)?;
    let rest: String = line.chars().skip(l.column.saturating_sub(1)).collect();
    let value = rest.split(" #").next()?.trim().trim_end_matches(',').trim_end_matches(['}', ']']).trim();
    Some(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_records_keys_values_and_sequence_items() {
        let text = "a:\n  b: 1\n  c:\n    - x\n    - y\n";
        let walk = index_events(text);
        let idx = &walk.index;
        assert_eq!(idx.root_kind(), Some(NodeKind::Mapping));
        assert_eq!(idx.find("a.b"), Some(Location::new(2, 6)));
        assert_eq!(idx.find("a.c"), Some(Location::new(3, 3)));
        assert_eq!(idx.find("a.c[1]"), Some(Location::new(5, 7)));
        // Missing paths fall back to the nearest ancestor.
        assert_eq!(idx.find("a.d.e"), Some(Location::new(1, 1)));
        assert_eq!(walk.keys.len(), 3);
    }

    #[test]
    fn index_stops_at_excessive_depth_without_recursing() {
        let text = "[".repeat(10_000);
        let walk = index_events(&text);
        assert!(walk.index.root_kind().is_some() || walk.scan_error.is_some());
    }

    #[test]
    fn alias_expansion_is_measured_without_expanding() {
        let small = Limits { depth: 8, nodes: 10_000, alias_values: 1_000 };
        // More plain values than the alias limit are not a bomb.
        let plain: String = (0..3_000).map(|i| format!("k{i}: v\n")).collect();
        assert!(index_events_with(&plain, small).refusal.is_none());
        // An anchored network reused by 500 job types is normal at the real limits.
        let mut reuse = String::from("net: &net {subnets: [subnet-01234567], security_groups: [sg-01234567]}\n");
        reuse.extend((0..500).map(|i| format!("j{i}: *net\n")));
        assert!(index_events(&reuse).refusal.is_none());
        assert!(index_events_with(&reuse, small).refusal.is_some(), "500 x 6 values exceed 1 000");
        // Nine levels of nine-fold reuse would be 9^9 values.
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 9].join(", ");
            bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let refusal = index_events(&bomb).refusal.map(|d| d.message);
        assert!(refusal.is_some_and(|m| m.contains("alias bomb")));
    }

    #[test]
    fn too_many_values_are_refused() {
        let small = Limits { depth: 8, nodes: 1_000, alias_values: 1_000 };
        let text = format!("a: [{}]\n", vec!["1"; 1_010].join(","));
        let refusal = index_events_with(&text, small).refusal.map(|d| d.message);
        assert!(refusal.is_some_and(|m| m.contains("more than 1000 YAML values")));
        let text = format!("a: [{}]\n", vec!["1"; 990].join(","));
        assert!(index_events_with(&text, small).refusal.is_none());
    }

    #[test]
    fn options_have_explicit_budgets() {
        let o = options();
        let b = o.budget.as_ref().map(|b| (b.max_depth, b.max_nodes, b.max_documents));
        assert_eq!(b, Some((MAX_DEPTH, MAX_NODES, 1)));
        assert!(matches!(o.duplicate_keys, DuplicateKeyPolicy::Error));
    }
}
