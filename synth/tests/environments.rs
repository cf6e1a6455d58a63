//! Environments on the synthesized templates: two environments of one project name no physical
//! resource alike (every `...Name` property, families, role paths, the schedule group, the
//! `startedBy` the rule matches, and the `jobgen:project` tag differ), and an environment changes
//! what it overrides and nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

use jobgen_synth::model::ModelOptions;
use jobgen_synth::synth::Synthesized;
use serde_json::Value;

fn realistic(environment: Option<&str>) -> Synthesized {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/realistic/jobgen.yaml");
    jobgen_synth::synthesize_file(&file, environment, &ModelOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// Every literal string a resource names itself with: properties whose key ends in `Name` or is
/// `Family`/`Path`, and the values under them (an `Fn::Sub` text too).
fn physical_names(template: &Value) -> BTreeSet<String> {
    fn strings(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::String(s) => {
                out.insert(s.clone());
            }
            Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                for (k, v) in o {
                    if k.ends_with("Name") && k != "ContainerName" && k != "AttributeName" && k != "IndexName"
                        || k == "Family"
                        || k == "Path"
                    {
                        strings(v, out);
                    } else {
                        walk(v, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for resource in template["Resources"].as_object().unwrap().values() {
        walk(&resource["Properties"], &mut out);
    }
    out
}

#[test]
fn two_environments_share_no_physical_name() {
    let staging = realistic(Some("staging"));
    let prod = realistic(Some("prod"));
    let (a, b) = (physical_names(&staging.document), physical_names(&prod.document));
    assert!(a.len() > 10, "{a:?}");
    // Names that are not the stack's own: the existing cluster, AWS's service names, and the
    // function names' Fn::Sub references, which carry no literal project name.
    let shared: Vec<&String> = a.intersection(&b).filter(|n| n.contains("media")).collect();
    assert!(shared.is_empty(), "both environments name: {shared:?}");
    assert!(a.iter().any(|n| n.contains("media-staging")) && b.iter().any(|n| n.contains("media-prod")));
    // The rule matches each deployment's own tasks; tasks carry its tag; each has its schedule group.
    assert!(staging.yaml.contains("jobgen/media-staging") && prod.yaml.contains("jobgen/media-prod"));
    assert!(!staging.yaml.contains("jobgen/media\"") && !staging.yaml.contains("jobgen/media\n"));
    assert!(staging.config_document.contains("\"media-staging\""), "{}", staging.config_document);
}

#[test]
fn an_environment_changes_what_it_overrides_and_nothing_else() {
    let base = realistic(None);
    let prod = realistic(Some("prod"));
    // prod overrides tags and alarms only: with the names put back, its template is the file's
    // plus the tag and the alarm actions.
    let renamed = prod.yaml.replace("media-prod", "media");
    let added: Vec<&str> = renamed.lines().filter(|l| !base.yaml.lines().any(|b| b == *l)).collect();
    assert!(!added.is_empty());
    let expected = [
        "Key: \"stage\"",
        "Value: \"prod\"",
        "media-oncall",
        "sns_topic_arn",
        "JOBGEN_CONFIG_SHA256",
        "AlarmActions:",
        "OKActions:",
    ];
    let unexpected: Vec<&&str> = added.iter().filter(|l| !expected.iter().any(|e| l.contains(e))).collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    let ids = |s: &Synthesized| s.document["Resources"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(ids(&base), ids(&prod));
    let staging = realistic(Some("staging"));
    let td = |s: &Synthesized, id: &str| s.document["Resources"][id]["Properties"].clone();
    let (b, st) = (td(&base, "TaskDefinitionTranscode"), td(&staging, "TaskDefinitionTranscode"));
    assert_ne!(b["Memory"], st["Memory"]);
    assert_eq!((st["Cpu"].as_str(), st["Memory"].as_str()), (Some("1024"), Some("2048")));
    assert_eq!(td(&base, "TaskDefinitionThumbnail")["Cpu"], td(&staging, "TaskDefinitionThumbnail")["Cpu"]);
}
