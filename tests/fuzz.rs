//! Fuzz targets on the stable toolchain: a small seeded mutational fuzzer (byte flips, insertions of
//! tokens that parsers trip on, deletions, duplications, splices between corpus entries) over a
//! committed seed corpus, for the three parsers that take outside input:
//!
//! - `jobgen.yaml`: parse + validate + synth ([`jobgen_synth::synthesize_text`]): no panic, no hang
//!   (each case well under a second), and either a template whose every reference resolves and
//!   whose configuration document the runtime reads, or diagnostics each with a message;
//! - the ECS task state change event ([`jobgen_runtime::track::plan`]): no panic, and a plan (or a
//!   skip) for any JSON;
//! - the create-job request ([`jobgen_runtime::create_job::parse_invocation`], `parse_request`,
//!   `validate`): no panic; an error is a 4xx with a bounded message free of control characters.
//!
//! Nothing is written by any of them, so "no partial output" holds by construction (`jobgen synth`
//! writes only after all of this, atomically: see `synth/src/write.rs`).
//!
//! `JOBGEN_FUZZ_SECONDS` (default 2 per target in `make test`; `make fuzz` runs 60) and
//! `JOBGEN_FUZZ_SEED` (default 1) reproduce a run; a failing case prints its seed, iteration and input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jobgen_runtime::config::RuntimeConfig;
use jobgen_runtime::contract;
use jobgen_runtime::create_job::{Invocation, parse_invocation, parse_request, validate};
use jobgen_tests::repo_root;
use serde_json::Value;

fn budget() -> Duration {
    let seconds = std::env::var("JOBGEN_FUZZ_SECONDS").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(2.0);
    Duration::from_secs_f64(seconds)
}

fn seed() -> u64 {
    std::env::var("JOBGEN_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(1)
}

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { usize::try_from(self.next() % n as u64).unwrap() }
    }
}

/// Tokens that parsers trip on, for both YAML and JSON.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "\\",
    "\\u0000",
    "\u{0}",
    "\u{1b}",
    "\t",
    "\n",
    "\r\n",
    " ",
    "null",
    "true",
    "-1",
    "0",
    "1e309",
    "4294967296",
    "18446744073709551616",
    "NaN",
    "&a",
    "*a",
    "<<: *a",
    "!!binary",
    "---",
    "...",
    "? ",
    "- ",
    "|",
    ">",
    "#",
    "%YAML 1.2",
    "\u{feff}",
    "é",
    "😀",
    "~",
    "'",
    "''",
    "\"\"",
    "{}",
    "[]",
    "jobType",
    "job_types",
    "max_concurrency",
    "timeout",
    "retry",
    "attempts",
    "on",
    "spot_fallback",
    "environment",
    "command",
    "idempotencyKey",
    "detail",
    "lastStatus",
    "STOPPED",
    "version",
    "group",
    "jobgen:",
    "startedBy",
];

/// One mutation of `input`, sometimes splicing in part of `other`.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                out.splice(at..at, token.iter().copied());
            }
            2 if !out.is_empty() => {
                let end = (at + 1 + rng.below(32)).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 if !out.is_empty() => {
                let end = (at + 1 + rng.below(64)).min(out.len());
                let piece: Vec<u8> = out[at.min(end)..end].to_vec();
                out.splice(at..at, piece);
            }
            4 if !other.is_empty() => {
                let from = rng.below(other.len());
                let end = (from + 1 + rng.below(128)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            5 => {
                let n = 1 + rng.below(5000);
                out.splice(at..at, std::iter::repeat_n(b'a', n));
            }
            _ => {
                let byte = u8::try_from(rng.below(256)).unwrap();
                out.insert(at, byte);
            }
        }
    }
    out
}

/// Runs `check` on mutations of the corpus until the budget is spent; returns the cases run.
fn fuzz(target: &str, corpus: &[Vec<u8>], mut check: impl FnMut(&[u8])) -> u64 {
    assert!(!corpus.is_empty(), "{target}: empty corpus");
    let mut rng = Rng(seed() ^ contract::jitter_seed(target, 0));
    let started = Instant::now();
    let mut cases = 0u64;
    // Every seed as it is first, then mutations.
    for input in corpus {
        check(input);
        cases += 1;
    }
    while started.elapsed() < budget() {
        let base = &corpus[rng.below(corpus.len())];
        let other = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base, other);
        let one = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&input)));
        if let Err(panic) = outcome {
            let text = String::from_utf8_lossy(&input);
            let why =
                panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("{target}: seed {}, case {cases}: {why:?}\ninput ({} bytes): {text:?}", seed(), input.len());
        }
        let took = one.elapsed();
        assert!(took < Duration::from_secs(2), "{target}: seed {}, case {cases}: took {took:?} (a hang?)", seed());
        cases += 1;
    }
    eprintln!(
        "fuzz {target}: {} seed inputs, {cases} cases in {:.1} s (seed {})",
        corpus.len(),
        started.elapsed().as_secs_f64(),
        seed()
    );
    cases
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

#[test]
fn jobgen_yaml_never_panics_hangs_or_half_succeeds() {
    let root = repo_root();
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    for dir in ["examples/quickstart", "examples/realistic", "examples/existing-task-definition"] {
        corpus.push(std::fs::read(root.join(dir).join("jobgen.yaml")).unwrap());
    }
    for dir in ["synth/tests/fixtures/valid", "synth/tests/fixtures/invalid"] {
        for path in files(&root.join(dir), "yaml") {
            corpus.push(std::fs::read(path).unwrap());
        }
    }
    assert!(corpus.len() >= 60, "seed corpus: {}", corpus.len());
    let options = jobgen_synth::model::ModelOptions::default();
    fuzz("jobgen.yaml", &corpus, |input| {
        let Ok(text) = std::str::from_utf8(input) else { return };
        match jobgen_synth::synthesize_text(text, "fuzz.yaml", None, &options) {
            Ok(s) => {
                jobgen_synth::check::parse(&s.yaml).expect("a synthesized template parses");
                contract::LaunchTable::from_json(&s.config_document).expect("the runtime reads the document");
            }
            Err(jobgen_synth::synth::SynthError::Config(report)) => {
                assert!(!report.diagnostics.is_empty(), "an error report with no diagnostic");
                for d in &report.diagnostics {
                    assert!(!d.message.is_empty(), "a diagnostic without a message: {d:?}");
                }
            }
            Err(other) => panic!("not a config error: {other}"),
        }
    });
}

fn quickstart_config() -> RuntimeConfig {
    let root = repo_root();
    let document = std::fs::read(root.join("examples/quickstart/jobgen-config/jobgen/config.json")).unwrap();
    let sha = contract::config_sha256(&document);
    RuntimeConfig::from_parts(
        |k| match k {
            contract::ENV_TABLE_NAME => Some("jobs".into()),
            contract::ENV_PROJECT => Some("quickstart".into()),
            contract::ENV_CONFIG_SHA256 => Some(sha.clone()),
            _ => None,
        },
        &document,
    )
    .unwrap()
}

#[test]
fn ecs_events_never_panic_the_tracker() {
    let root = repo_root();
    let config = quickstart_config();
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    for path in files(&root.join("tests/fixtures/events"), "json") {
        corpus.push(std::fs::read(path).unwrap());
    }
    for path in files(&root.join("tests/fixtures/events/sequences"), "json") {
        let value: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        for event in value["events"].as_array().into_iter().flatten() {
            let text = event
                .to_string()
                .replace("{{PROJECT}}", "quickstart")
                .replace("{{JOB_ID}}", "01hzy3k7q8abcdefghjkmnpqrs")
                .replace("{{JOB_TYPE}}", "hello");
            corpus.push(text.into_bytes());
        }
    }
    let now = chrono::Utc::now();
    fuzz("ECS event", &corpus, |input| {
        let Ok(value) = serde_json::from_slice::<Value>(input) else { return };
        let _ = jobgen_runtime::track::plan(value, &config, now);
    });
}

#[test]
fn create_job_requests_never_panic_and_errors_are_clear_4xx() {
    let root = repo_root();
    let config = quickstart_config();
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("tests/fixtures/bad-requests.json")).unwrap()).unwrap();
    let mut corpus: Vec<Vec<u8>> = vec![
        br#"{"jobType":"hello"}"#.to_vec(),
        br#"{"jobType":"hello","idempotencyKey":"k","environment":{"A":"1"},"metadata":{"m":[1,2]}}"#.to_vec(),
        br#"{"version":"2.0","requestContext":{"http":{"method":"POST"}},"body":"{\"jobType\":\"hello\"}","isBase64Encoded":false}"#.to_vec(),
    ];
    for case in fixture["cases"].as_array().unwrap() {
        if let Some(direct) = case["direct"].as_str() {
            corpus.push(direct.replace("{{REPEAT:", "").into_bytes());
        }
        if let Some(body) = case["body"].as_str() {
            let event =
                serde_json::json!({"version": "2.0", "requestContext": {"http": {"method": "POST"}}, "body": body});
            corpus.push(event.to_string().into_bytes());
        }
    }
    assert!(corpus.len() >= 60, "seed corpus: {}", corpus.len());
    fuzz("create-job request", &corpus, |input| {
        let request = match parse_invocation(input) {
            Invocation::Direct(r) | Invocation::Http(r) => r,
        };
        let result = request.and_then(parse_request).and_then(|r| validate(r, &config).map(|_| ()));
        if let Err(e) = result {
            assert!((400..500).contains(&e.status), "a request error is a 4xx: {e:?}");
            assert!(e.message.len() <= 2048, "a bounded message: {} bytes", e.message.len());
            assert!(!e.message.chars().any(|c| c.is_control() && c != '\n'), "an escaped message: {:?}", e.message);
        }
    });
}
