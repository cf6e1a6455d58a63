//! Nested stacks past one stack's resources: a 500-job-type project synthesizes into a root and
//! nested stacks of job types, every template holds together and within CloudFormation's quotas,
//! every job type is in exactly one child, and an edit that adds or removes one job type changes
//! exactly one child's bytes (and the root's only where a child appears or disappears). Small
//! projects stay one stack (the golden templates are unchanged). cfn-lint and checkov on the
//! nested output are in `tests/lint.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use jobgen_synth::config::Config;
use jobgen_synth::model::ModelOptions;
use jobgen_synth::names;
use jobgen_synth::quotas;
use jobgen_synth::synth::{Synthesized, synthesize};
use serde_json::Value;

/// A project of the numbered job types `resize-image-NNN`: every 50th reports progress (so its
/// nested stack takes the table's ARN) and every 7th has a secret and an environment, by its
/// number, so removing or adding one changes no other's settings. `extra` job types are plain.
fn project_text(numbers: impl IntoIterator<Item = usize>, extra: &[&str]) -> String {
    let mut y = String::from(
        "version: 1\nproject:\n  name: media\n  tags:\n    team: video\nclusters:\n  main:\n    create: {}\ndefaults:\n  network:\n    subnets: [subnet-0123456789abcdef0]\n    security_groups: [sg-0123456789abcdef0]\njob_types:\n",
    );
    let task =
        "    task:\n      image: public.ecr.aws/docker/library/busybox:1.36\n      cpu: 256\n      memory: 512\n";
    for i in numbers {
        y.push_str(&format!("  {}:\n{task}", name(i)));
        if i % 7 == 3 {
            y.push_str("      environment: { MODE: fast }\n      secrets: { TOKEN: arn:aws:ssm:us-east-1:123456789012:parameter/media/token }\n");
        }
        if i % 50 == 10 {
            y.push_str("    progress: true\n");
        }
    }
    for e in extra {
        y.push_str(&format!("  {e}:\n{task}"));
    }
    y
}

fn name(i: usize) -> String {
    format!("resize-image-{i:03}")
}

fn config(text: &str) -> Config {
    jobgen_synth::check_text(text, "jobgen.yaml").unwrap_or_else(|r| panic!("rejected:\n{r}"))
}

fn synth(n: usize) -> Synthesized {
    synthesize(&config(&project_text(1..=n, &[])), &ModelOptions::default()).unwrap()
}

/// file → bytes of every nested template.
fn children(s: &Synthesized) -> BTreeMap<String, String> {
    s.nested.iter().map(|n| (n.file.clone(), n.yaml.clone())).collect()
}

/// The root template's changed lines, as the variable each one sets (or the whole line).
fn root_changes(a: &Synthesized, b: &Synthesized) -> Vec<String> {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.yaml.lines().collect(), b.yaml.lines().collect());
    assert_eq!(a.len(), b.len(), "the root's lines were added or removed");
    a.iter()
        .zip(&b)
        .filter(|(x, y)| x != y)
        .flat_map(|(x, y)| [x, y])
        .map(|l| l.trim().split(':').next().unwrap_or_default().to_string())
        .collect()
}

fn resources(doc: &Value) -> &serde_json::Map<String, Value> {
    doc["Resources"].as_object().unwrap()
}

#[test]
fn five_hundred_job_types_synthesize_into_nested_stacks() {
    let s = synth(500);
    assert!(s.stack.task_definitions.is_empty(), "the root holds no job type's resources");
    assert!(!s.nested.is_empty() && s.nested.len() <= names::NESTED_STACKS as usize);
    let root = resources(&s.document);
    assert_eq!(root.len(), s.stack.resource_count(), "the model's count is the root template's");
    assert!(root.len() <= quotas::CFN_RESOURCES.max);
    let stacks: Vec<(&String, &Value)> =
        root.iter().filter(|(_, r)| r["Type"] == "AWS::CloudFormation::Stack").collect();
    assert_eq!(stacks.len(), s.nested.len(), "one AWS::CloudFormation::Stack per child");
    assert!(!root.values().any(|r| r["Type"] == "AWS::ECS::TaskDefinition"));

    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut sizes = Vec::new();
    for n in &s.nested {
        // The root names the child by its relative path (what `package` uploads) and passes what
        // the child declares, nothing more.
        let resource = &root[&n.id];
        assert_eq!(resource["Properties"]["TemplateURL"], Value::String(n.file.clone()), "{}", n.id);
        assert!(n.file.starts_with("stacks/job-types-") && n.file.ends_with(".yaml"), "{}", n.file);
        let declared: BTreeSet<&String> =
            n.document["Parameters"].as_object().map(|p| p.keys().collect()).unwrap_or_default();
        let passed: BTreeSet<&String> =
            resource["Properties"]["Parameters"].as_object().map(|p| p.keys().collect()).unwrap_or_default();
        assert_eq!(declared, passed, "{}: the root passes exactly the child's parameters", n.id);
        assert!(declared.len() <= quotas::CFN_PARAMETERS.max);
        // Each child: 4 resources per job type, within the quota, no outputs, no deeper nesting.
        let child = resources(&n.document);
        assert!(child.len() <= quotas::CFN_RESOURCES.max, "{}: {} resources", n.id, child.len());
        assert!(n.document.get("Outputs").is_none(), "{}: the root reads nothing back", n.id);
        assert!(!child.values().any(|r| r["Type"] == "AWS::CloudFormation::Stack"), "one level of nesting");
        for (id, r) in child {
            if r["Type"] == "AWS::ECS::TaskDefinition" {
                let family = r["Properties"]["Family"].as_str().unwrap();
                let job_type = family.strip_prefix("media_").unwrap();
                assert_eq!(names::nested_stack_id(names::nested_stack_of(job_type)), n.id, "{id}: by its hash");
                assert!(seen.insert(job_type.to_string()), "{job_type} is in two nested stacks");
            }
        }
        assert_eq!(child.len() % 4, 0);
        assert!(n.yaml.len() < quotas::CFN_TEMPLATE_BODY_S3.max);
        sizes.push(child.len() / 4);
    }
    assert_eq!(seen.len(), 500, "every job type is in exactly one nested stack");
    // A child that reports progress takes the table's ARN and grants UpdateItem on it alone.
    let progress = s.nested.iter().find(|n| n.yaml.contains("ReportProgress")).unwrap();
    assert!(progress.yaml.contains(r#"{"Ref":"JobsTableArn"}"#), "{}", progress.file);
    assert!(!progress.yaml.contains("JobsTable\","), "{}: no GetAtt of the root's table", progress.file);
    assert_eq!(
        root[&progress.id]["Properties"]["Parameters"]["JobsTableArn"],
        serde_json::json!({ "Fn::GetAtt": ["JobsTable", "Arn"] })
    );
    eprintln!(
        "500 job types: root {} resources, {} bytes; {} nested stacks of {:?} job types, largest template {} bytes",
        root.len(),
        s.yaml.len(),
        s.nested.len(),
        sizes,
        s.nested.iter().map(|n| n.yaml.len()).max().unwrap_or_default()
    );
}

#[test]
fn adding_or_removing_one_job_type_changes_exactly_one_nested_template() {
    let before = synth(500);
    let b = children(&before);
    // Add one job type: the others keep their stack and their bytes.
    let after = synthesize(&config(&project_text(1..=500, &["thumbnail-gif"])), &ModelOptions::default()).unwrap();
    let a = children(&after);
    let target = names::nested_stack_file(names::nested_stack_of("thumbnail-gif"));
    let changed: Vec<&String> = a.keys().filter(|f| b.get(*f) != a.get(*f)).collect();
    assert_eq!(changed, [&target], "only the new job type's nested stack changes");
    assert!(a[&target].contains("TaskDefinitionThumbnailGif"));
    assert!(b.keys().all(|k| a.contains_key(k)), "no nested stack goes away");
    // The root changes only in the configuration document's hash (the functions' environment),
    // and by a new child's stack resource when the job type opened a new one.
    if b.contains_key(&target) {
        assert_eq!(root_changes(&before, &after), ["JOBGEN_CONFIG_SHA256"; 4], "the root already named that child");
    }
    assert_ne!(before.config_document, after.config_document, "the job-type table has the new type");

    // Remove one: again exactly one child changes, every other is byte for byte the same.
    let fewer =
        synthesize(&config(&project_text((1..=500).filter(|i| *i != 123), &[])), &ModelOptions::default()).unwrap();
    let f = children(&fewer);
    let changed: Vec<&String> = b.keys().filter(|k| b.get(*k) != f.get(*k)).collect();
    assert_eq!(changed, [&names::nested_stack_file(names::nested_stack_of(&name(123)))]);
    assert_eq!(root_changes(&before, &fewer), ["JOBGEN_CONFIG_SHA256"; 4], "the root names the same children");
}

#[test]
fn a_project_that_fits_one_stack_stays_one_stack() {
    let s = synth(119);
    assert!(s.nested.is_empty());
    assert_eq!(s.stack.task_definitions.len(), 119);
    assert!(!s.yaml.contains("AWS::CloudFormation::Stack"));
    // One more job type does not fit: the project goes nested, and every job type moves once.
    let s = synth(120);
    assert!(!s.nested.is_empty() && s.stack.task_definitions.is_empty());
}

#[test]
fn a_pin_moves_one_job_type_and_is_checked() {
    let mut text = project_text(1..=3, &[]);
    // A pin is the opt-in: even a small project goes nested.
    text = text.replace("  resize-image-002:\n", "  resize-image-002:\n    nested_stack: 9\n");
    let s = synthesize(&config(&text), &ModelOptions::default()).unwrap();
    let child = s.nested.iter().find(|n| n.id == "JobTypes09").unwrap();
    assert!(child.yaml.contains("TaskDefinitionResizeImage002"));
    assert_eq!(s.nested.iter().filter(|n| n.yaml.contains("TaskDefinitionResizeImage002")).count(), 1);

    let bad = text.replace("nested_stack: 9", "nested_stack: 16");
    let report = jobgen_synth::check_text(&bad, "jobgen.yaml").unwrap_err();
    let d = report.diagnostics.iter().find(|d| d.path == "job_types.resize-image-002.nested_stack").unwrap();
    assert!(d.message.contains("0 to 15"), "{}", d.message);
}

#[test]
fn a_full_nested_stack_is_reported_on_a_job_type_with_a_pin_as_the_fix() {
    // 126 job types pinned into one stack: 504 resources in it.
    let mut text = project_text(1..=126, &[]);
    for i in 1..=126 {
        let n = name(i);
        text = text.replace(&format!("  {n}:\n"), &format!("  {n}:\n    nested_stack: 4\n"));
    }
    let report = jobgen_synth::check_text(&text, "jobgen.yaml").unwrap_err();
    assert_eq!(report.diagnostics.len(), 1, "{report}");
    let d = &report.diagnostics[0];
    assert!(d.path.starts_with("job_types.resize-image-"), "{}", d.path);
    assert!(d.message.contains("JobTypes04") && d.message.contains("504 resources"), "{}", d.message);
    assert!(d.help.contains("nested_stack: N") && d.help.contains("0 (125 free)"), "{}", d.help);
    // Located in the file like every other diagnostic.
    assert!(d.span.is_some(), "{report}");
}

/// `LogGroupName` of every task log group in `doc`.
fn log_group_names(doc: &Value) -> BTreeSet<String> {
    resources(doc)
        .values()
        .filter(|r| r["Type"] == "AWS::Logs::LogGroup")
        .filter_map(|r| r["Properties"]["LogGroupName"].as_str())
        .filter(|n| !n.starts_with("/aws/lambda/"))
        .map(str::to_string)
        .collect()
}

fn all_log_group_names(s: &Synthesized) -> BTreeSet<String> {
    let mut all = log_group_names(&s.document);
    for n in &s.nested {
        all.extend(log_group_names(&n.document));
    }
    all
}

#[test]
fn a_job_type_that_moves_to_another_stack_gets_a_log_group_of_a_new_name() {
    // CloudFormation creates a moved resource before it deletes the old one, and log group names
    // are unique per account and region: a moved log group of the same name fails the update
    // with "already exists". So no name may stay where a job type changes stacks.
    let single = synth(119);
    let nested = synth(120);
    let before = all_log_group_names(&single);
    let after = all_log_group_names(&nested);
    assert_eq!((before.len(), after.len()), (119, 120));
    assert!(before.is_disjoint(&after), "growing past one stack keeps {:?}", before.intersection(&after).next());
    assert!(after.contains(&format!("/jobgen/media/stack-{:02}/{}", names::nested_stack_of(&name(1)), name(1))));

    // A re-pin between nested stacks: that job type's group is renamed, no other's.
    let text = project_text(1..=3, &[]).replace("  resize-image-002:\n", "  resize-image-002:\n    nested_stack: 9\n");
    let pinned = synthesize(&config(&text), &ModelOptions::default()).unwrap();
    let repinned =
        synthesize(&config(&text.replace("nested_stack: 9", "nested_stack: 10")), &ModelOptions::default()).unwrap();
    let (a, b) = (all_log_group_names(&pinned), all_log_group_names(&repinned));
    let moved: Vec<&String> = a.difference(&b).collect();
    assert_eq!(moved, [&format!("/jobgen/media/stack-09/{}", name(2))]);
    assert!(b.contains(&format!("/jobgen/media/stack-10/{}", name(2))));
}
