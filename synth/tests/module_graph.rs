//! No import circles in the synth crate: the modules under `src/` form a DAG, so a reader can take
//! them in order (schema, key check, parse, validate, model, render, check, write) and a change to
//! a later stage never reaches back into an earlier one. Every `crate::…` and `super::…` path in a
//! module's non-test code is an edge to the module it names; a module's own children are part of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `src/model/iam.rs` → `model::iam`, `src/model/mod.rs` → `model`, `src/lib.rs` → `` (the root).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code outside `#[cfg(test)]` modules (they come last in every file) and outside comments.
fn non_test_code(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Every path `prefix::a::b` in `code` (identifiers only, `{` groups expanded one level).
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let ident = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|p| p.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>())
            .take_while(|p| !p.is_empty())
            .collect()
    };
    for (i, _) in code.match_indices(prefix) {
        let before = code[..i].chars().last();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        let head = ident(rest);
        let after_head: usize = head.iter().map(|h| h.len() + 2).sum();
        if rest.get(after_head..).is_some_and(|r| r.starts_with('{')) {
            let group = &rest[after_head + 1..rest[after_head..].find('}').map_or(rest.len(), |e| after_head + e)];
            for item in group.split(',') {
                let mut p = head.clone();
                p.extend(ident(item.trim()));
                out.push(p);
            }
        } else {
            out.push(head);
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    // The longest module that is a prefix of `path` (a path names an item inside a module).
    let resolve = |path: &[String]| -> Option<String> {
        (0..=path.len()).rev().map(|n| path[..n].join("::")).find(|m| modules.contains(m))
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let code = non_test_code(&std::fs::read_to_string(file).unwrap());
        let mut targets: Vec<Vec<String>> = paths_after(&code, "crate::");
        let segments = parent_path(&module);
        let parent = &segments[..segments.len().saturating_sub(1)];
        for p in paths_after(&code, "super::") {
            targets.push(parent.iter().cloned().chain(p).collect());
        }
        // A module names its own children without `crate::` (`parse::parse_document`, `iam::role`):
        // an edge from the parent, so a child that reaches back up closes a circle.
        let prefix = if module.is_empty() { String::new() } else { format!("{module}::") };
        let children =
            modules.iter().filter_map(|m| m.strip_prefix(&prefix)).filter(|c| !c.is_empty() && !c.contains("::"));
        for child in children {
            targets.extend(
                paths_after(&code, &format!("{child}::"))
                    .into_iter()
                    .map(|p| parent_path(&module).into_iter().chain([child.to_string()]).chain(p).collect()),
            );
        }
        let entry = edges.entry(module.clone()).or_default();
        for t in targets {
            if let Some(target) = resolve(&t)
                && target != module
            {
                entry.insert(target);
            }
        }
    }
    edges
}

/// `model::iam` → `[model, iam]`, the root → `[]`.
fn parent_path(module: &str) -> Vec<String> {
    module.split("::").filter(|p| !p.is_empty()).map(String::from).collect()
}

/// A circle through `start`, if there is one.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in edges.get(&node).into_iter().flatten() {
            if next == start {
                let mut c = path.clone();
                c.push(next.clone());
                return Some(c);
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

#[test]
fn no_two_modules_use_each_other() {
    let edges = graph();
    assert!(edges.len() > 10, "the scan found the modules: {edges:?}");
    assert!(edges["parse"].contains("keys"), "the scan sees `use crate::` edges: {:?}", edges["parse"]);
    assert!(edges[""].contains("validate"), "the scan sees the root's edges: {:?}", edges[""]);
    assert!(edges["model::iam"].contains("model::shapes"), "the scan sees `super::` edges: {:?}", edges["model::iam"]);
    assert!(edges["model"].contains("model::iam"), "the scan sees a parent's edges: {:?}", edges["model"]);
    let circles: Vec<String> = edges
        .keys()
        .filter_map(|m| circle(&edges, m))
        .map(|c| c.join(" -> "))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(circles.is_empty(), "import circles in synth/src:\n{}", circles.join("\n"));
}

#[test]
fn the_scan_finds_a_circle_when_there_is_one() {
    let mut edges = graph();
    edges.entry("config".into()).or_default().insert("validate".into());
    assert!(circle(&edges, "config").is_some(), "config -> validate -> config");
}
