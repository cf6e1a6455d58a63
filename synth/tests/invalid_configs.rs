//! The invalid-config corpus: every file under `tests/fixtures/invalid/` holds one class of mistake
//! (its first line says which). Each must be rejected, with every diagnostic located in the file,
//! and its rendered message is a reviewed golden file under `tests/snapshots/`.
//!
//! Snapshots are never rewritten by a plain `cargo test`: a mismatch fails (insta writes a `.snap.new`
//! beside it locally, and nothing at all when `CI` is set). Review a change with
//! `INSTA_UPDATE=always cargo test -p jobgen --test invalid_configs` and `git diff`.

// A test fails by panicking, with a message that says what was expected.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};

use jobgen_synth::diagnostics::{ColorChoice, Report};

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn reject(name: &str, text: &str) -> Report {
    match jobgen_synth::check_text(text, name) {
        Ok(_) => panic!("{name} was accepted, but it is in the invalid corpus"),
        Err(report) => report,
    }
}

#[test]
fn corpus_is_big_enough() {
    assert!(corpus().len() >= 30, "only {} invalid fixtures", corpus().len());
}

#[test]
fn every_invalid_fixture_is_rejected_with_located_messages() {
    // Every case runs even when one fails, so a review sees all the changed messages at once.
    let mut failed = Vec::new();
    for path in corpus() {
        let name = path.display().to_string();
        if std::panic::catch_unwind(|| check_fixture(&path)).is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "{} fixture(s) failed (see above): {failed:#?}", failed.len());
}

fn check_fixture(path: &Path) {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = format!("{stem}.yaml");
    let report = reject(&name, &text);
    assert!(!report.diagnostics.is_empty(), "{name}: an empty report");
    for d in &report.diagnostics {
        // Only whole-file problems with nothing to point at may lack a location.
        let whole_file = d.path.is_empty() && (text.trim().is_empty() || text.lines().all(|l| l.starts_with('#')));
        assert!(d.span.is_some() || whole_file, "{name}: no location for {d:?}");
        assert!(!d.help.is_empty(), "{name}: no help for {d:?}");
        assert!(!d.message.ends_with('.'), "{name}: messages have no trailing period: {d:?}");
    }
    if stem != "empty-file" {
        assert!(text.starts_with("# "), "{name}: the first line must say what the mistake is");
    }
    insta::assert_snapshot!(stem.clone(), report.render_plain());
}

#[test]
fn a_huge_file_is_refused_before_parsing() {
    let mut text = String::from("version: 1\nproject:\n  name: media\n  tags:\n");
    let mut i = 0;
    while text.len() <= jobgen_synth::parse::MAX_FILE_BYTES {
        text.push_str(&format!("    tag{i}: {}\n", "v".repeat(100)));
        i += 1;
    }
    let report = reject("huge.yaml", &text);
    insta::assert_snapshot!("huge-file", report.render_plain().replace(&text.len().to_string(), "SIZE"));
}

#[test]
fn a_huge_file_on_disk_is_not_read_whole() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("jobgen.yaml");
    let text = format!("version: 1\n# {}\n", "x".repeat(3 * jobgen_synth::parse::MAX_FILE_BYTES));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write: {e}"));
    let report = jobgen_synth::load(&path).err().unwrap_or_else(|| panic!("a 3 MiB file was accepted"));
    let rendered = report.render_plain();
    assert!(rendered.contains("larger than 1048576 bytes"), "{rendered}");
}

#[test]
fn graphical_rendering_shows_file_line_column_excerpt_and_help() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid/memory-invalid-for-cpu.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let report = reject("jobgen.yaml", &text);
    let out = report.render_graphical(ColorChoice::Never, 120);
    assert!(!out.contains('\u{1b}'), "no escape codes without color: {out}");
    insta::assert_snapshot!("graphical-memory-invalid-for-cpu", out);
    let colored = report.render_graphical(ColorChoice::Always, 120);
    assert!(colored.contains('\u{1b}'), "colors when asked for");
}

#[test]
fn messages_follow_the_style_guide_example() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid/memory-invalid-for-cpu.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let report = reject("jobgen.yaml", &text);
    assert_eq!(
        report.diagnostics[0].headline(),
        "job_types.transcode.task.memory: 3000 is not valid with cpu 1024 (allowed: 2048-8192 in steps of 1024)"
    );
    assert_eq!(report.diagnostics[0].span.map(|l| (l.line, l.column)), Some((20, 15)));
}
