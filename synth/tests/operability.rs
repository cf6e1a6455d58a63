//! What an operator of a deployed stack relies on: the alarms (on both dead-letter queues and on
//! track's errors, notifying `alarms.sns_topic_arn` when it is set), the jobs table surviving a
//! stack deletion (`table.retain`, `table.deletion_protection`), and the template's `Rules` that
//! refuse a deploy into a region or account the project's ARNs do not belong to.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use jobgen_synth::config::Config;
use jobgen_synth::model::ModelOptions;
use jobgen_synth::synth::Synthesized;
use serde_json::{Value, json};

fn example(name: &str) -> Config {
    jobgen_synth::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).join("jobgen.yaml"))
        .unwrap()
}

fn synth(config: &Config) -> Synthesized {
    jobgen_synth::synth::synthesize(config, &ModelOptions::default()).unwrap()
}

fn resources_of_type<'a>(s: &'a Synthesized, ty: &str) -> Vec<(&'a String, &'a Value)> {
    s.document["Resources"].as_object().unwrap().iter().filter(|(_, r)| r["Type"] == ty).collect()
}

#[test]
fn three_alarms_watch_both_queues_and_track_and_notify_only_a_given_topic() {
    let s = synth(&example("quickstart"));
    let alarms = resources_of_type(&s, "AWS::CloudWatch::Alarm");
    let watched: Vec<(&str, &str, Value)> = alarms
        .iter()
        .map(|(_, a)| {
            let p = &a["Properties"];
            (p["Namespace"].as_str().unwrap(), p["MetricName"].as_str().unwrap(), p["Dimensions"][0]["Value"].clone())
        })
        .collect();
    assert_eq!(
        watched,
        [
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible", json!({"Fn::GetAtt": ["TaskStateRuleDlq", "QueueName"]})),
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible", json!({"Fn::GetAtt": ["TrackDlq", "QueueName"]})),
            ("AWS/Lambda", "Errors", json!({"Ref": "TrackFunction"})),
        ]
    );
    for (id, a) in &alarms {
        let p = &a["Properties"];
        assert_eq!(
            (p["Threshold"].as_u64(), p["ComparisonOperator"].as_str()),
            (Some(0), Some("GreaterThanThreshold")),
            "{id}"
        );
        assert_eq!(p["TreatMissingData"], "notBreaching", "{id}: an idle project publishes no metrics");
        assert!(p.get("AlarmActions").is_none(), "{id}: no topic, no actions");
        assert_eq!(a["Metadata"]["guard"]["SuppressedRules"], json!(["CLOUDWATCH_ALARM_ACTION_CHECK"]), "{id}");
    }

    let mut config = example("quickstart");
    let topic = "arn:aws:sns:us-east-1:123456789012:ops-alerts";
    config.alarms.sns_topic_arn = Some(topic.into());
    let s = synth(&config);
    for (id, a) in resources_of_type(&s, "AWS::CloudWatch::Alarm") {
        assert_eq!(a["Properties"]["AlarmActions"], json!([topic]), "{id}");
        assert_eq!(a["Properties"]["OKActions"], json!([topic]), "{id}: the recovery too");
        assert!(a.get("Metadata").is_none(), "{id}: nothing to suppress");
    }
    // The topic must be in the stack's region.
    let rules = &s.document["Rules"];
    assert_eq!(
        rules["ArnsInTheStacksRegion"]["Assertions"][0]["Assert"],
        json!({"Fn::Equals": ["us-east-1", {"Ref": "AWS::Region"}]})
    );
    assert!(rules.get("ArnsInTheStacksAccount").is_none(), "a topic of another account works with its policy");
}

#[test]
fn the_jobs_table_is_retained_and_protected_by_default_and_on_request_not() {
    let s = synth(&example("quickstart"));
    let table = &s.document["Resources"]["JobsTable"];
    assert_eq!((&table["DeletionPolicy"], &table["UpdateReplacePolicy"]), (&json!("Retain"), &json!("Retain")));
    assert_eq!(table["Properties"]["DeletionProtectionEnabled"], true);

    let mut config = example("quickstart");
    config.table.retain = false;
    config.table.deletion_protection = false;
    let s = synth(&config);
    let table = &s.document["Resources"]["JobsTable"];
    assert_eq!((&table["DeletionPolicy"], &table["UpdateReplacePolicy"]), (&json!("Delete"), &json!("Delete")));
    assert_eq!(table["Properties"]["DeletionProtectionEnabled"], false);
}

#[test]
fn the_keys_parse_with_their_defaults() {
    let config = jobgen_synth::check_text(
        "version: 1
project: { name: media }
defaults:
  network: { subnets: [subnet-0123456789abcdef0] }
clusters:
  main: { create: {} }
job_types:
  a:
    task: { image: alpine, cpu: 256, memory: 512 }
table: { retain: false }
alarms: { sns_topic_arn: 'arn:aws:sns:eu-west-1:123456789012:ops' }
",
        "jobgen.yaml",
    )
    .unwrap();
    assert!(!config.table.retain && config.table.deletion_protection);
    assert_eq!(config.alarms.sns_topic_arn.as_deref(), Some("arn:aws:sns:eu-west-1:123456789012:ops"));
    assert_eq!(example("quickstart").alarms, jobgen_synth::config::Alarms::default());
}

#[test]
fn arns_of_another_region_or_account_fail_the_deploy_by_rule() {
    // existing-task-definition names a task definition by ARN (region and account) and roles
    // (account only); quickstart names no ARN and gets no Rules.
    let s = synth(&example("existing-task-definition"));
    let rules = &s.document["Rules"];
    let asserts = |rule: &str| -> Vec<(Value, String)> {
        rules[rule]["Assertions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["Assert"].clone(), a["AssertDescription"].as_str().unwrap().to_string()))
            .collect()
    };
    let region = asserts("ArnsInTheStacksRegion");
    assert_eq!(region.len(), 1);
    assert_eq!(region[0].0, json!({"Fn::Equals": ["us-east-1", {"Ref": "AWS::Region"}]}));
    assert!(
        region[0].1.starts_with("job_types.reindex.task_definition.name is in region us-east-1"),
        "{}",
        region[0].1
    );
    let account = asserts("ArnsInTheStacksAccount");
    let paths: Vec<&str> = account.iter().map(|(_, d)| d.split(' ').next().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "job_types.nightly-export.task_definition.task_role_arn",
            "job_types.nightly-export.task_definition.execution_role_arn",
            "job_types.reindex.task_definition.name",
            "job_types.reindex.task_definition.execution_role_arn",
        ]
    );
    assert!(account.iter().all(|(a, _)| a == &json!({"Fn::Equals": ["123456789012", {"Ref": "AWS::AccountId"}]})));
    assert!(synth(&example("quickstart")).document.get("Rules").is_none());
}
