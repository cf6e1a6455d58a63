//! What an editor does with `jobgen schema`: a real JSON Schema validator (python-jsonschema, from
//! the pinned tools venv `make tools` builds) accepts the starter and every example, and rejects
//! mistakes the schema can express (unknown keys, bad ids and names, values outside a fixed set).
//! Rules that need more than one field (cpu/memory combinations, references) are the validator's.

// A test fails by panicking, with a message that says what was expected.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// PyYAML reads YAML 1.1, where `on`, `off`, `yes` and `no` are booleans (so the key `retry.on`
/// would be `True`); editors (yaml-language-server) and jobgen read YAML 1.2, where only
/// true/false are. The loader below is PyYAML with YAML 1.2's booleans.
const CHECK: &str = r#"
import json, re, sys, yaml, jsonschema
class Yaml12(yaml.SafeLoader):
    pass
Yaml12.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:bool"] for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
for path in sys.argv[2:]:
    errors = sorted(e.message for e in validator.iter_errors(yaml.load(open(path), Loader=Yaml12)))
    print(json.dumps({"file": path, "errors": errors}))
"#;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn python() -> PathBuf {
    std::env::var_os("JOBGEN_VENV_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/tools/bin"))
        .join("python")
}

/// Validates each file against `jobgen schema`; returns (file, errors) in order.
fn check(files: &[PathBuf]) -> Vec<(String, Vec<String>)> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let schema = dir.path().join("jobgen.schema.json");
    std::fs::write(&schema, jobgen_synth::schema::json_schema_text()).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(python())
        .arg("-c")
        .arg(CHECK)
        .arg(&schema)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("run {} (make tools): {e}", python().display()));
    assert!(out.status.success(), "jsonschema failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let errors =
                v["errors"].as_array().map(|a| a.iter().filter_map(|e| e.as_str().map(String::from)).collect());
            (v["file"].as_str().unwrap_or_default().to_string(), errors.unwrap_or_default())
        })
        .collect()
}

#[test]
fn the_schema_accepts_the_starter_and_every_example() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let starter = dir.path().join("starter.yaml");
    std::fs::write(&starter, jobgen_synth::init::STARTER).unwrap_or_else(|e| panic!("{e}"));
    let mut files = vec![starter];
    for (name, _) in jobgen_synth::init::EXAMPLES {
        files.push(repo_root().join("examples").join(name).join("jobgen.yaml"));
    }
    let results = check(&files);
    assert_eq!(results.len(), files.len());
    for (file, errors) in results {
        assert!(errors.is_empty(), "{file}: {errors:?}");
    }
}

#[test]
fn the_schema_rejects_what_it_can_express() {
    let invalid = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let cases = [
        "unknown-key-typo",
        "unknown-keys-several",
        "unknown-enum-value",
        "missing-required-key",
        "version-unsupported",
        "project-name-invalid",
        "cluster-name-invalid",
        "job-type-name-invalid",
        "cpu-invalid",
        "subnet-bad-format",
        "security-group-bad-format",
        "security-groups-too-many",
        "subnets-empty",
        "image-whitespace",
        "env-name-invalid",
        "container-name-invalid",
        "ephemeral-storage-out-of-range",
        "log-retention-invalid",
        "policy-empty-actions",
        "policy-bad-action",
        "capacity-providers-duplicate",
        "lambda-memory-out-of-range",
        "table-retention-too-long",
        "job-types-empty",
        "max-concurrency-zero",
        "max-concurrency-too-large",
        "limits-max-concurrency-zero",
        "limits-unknown-key",
        "timeout-no-unit",
        "timeout-bad-format",
        "retry-attempts-out-of-range",
        "retry-on-empty",
        "retry-on-unknown",
        "retry-on-duplicate",
        "retry-backoff-rate-out-of-range",
        "retry-unknown-keys",
    ];
    let files: Vec<PathBuf> = cases.iter().map(|c| invalid.join(format!("{c}.yaml"))).collect();
    for (file, errors) in check(&files) {
        assert!(!errors.is_empty(), "the schema accepted {file}");
    }
}

#[test]
fn the_schema_cpu_values_are_the_fargate_table() {
    let schema = jobgen_synth::schema::json_schema();
    let cpus: Vec<u64> = schema["$defs"]["Task"]["properties"]["cpu"]["enum"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
        .unwrap_or_default();
    let table: Vec<u64> = jobgen_runtime::fargate::CPU_SIZES.iter().map(|s| u64::from(s.cpu)).collect();
    assert_eq!(cpus, table);
}
