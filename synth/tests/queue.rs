//! What the concurrency limits need from the stack, as the rendered template has it: the jobs
//! table's sparse queue index (the contract's names, KEYS_ONLY), and both functions' right to
//! admit a queued job and launch it — the same launch statements for create-job and track (RunTask
//! of this stack's task definitions in its clusters, StopTask there, PassRole to ECS tasks), Query
//! on the queue index only, the item actions a transaction is authorized by — and track's timeout,
//! which must fit an admission plus RunTask with retries. All of it with and without limits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use jobgen_runtime::contract;
use jobgen_synth::model::ModelOptions;
use jobgen_synth::synth::Synthesized;
use serde_json::{Value, json};

fn synth(name: &str, strip_limits: bool) -> Synthesized {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).join("jobgen.yaml");
    let mut config = jobgen_synth::load(&path).unwrap();
    if strip_limits {
        config.limits.max_concurrency = None;
        for jt in config.job_types.values_mut() {
            jt.max_concurrency = None;
        }
    }
    jobgen_synth::synth::synthesize(&config, &ModelOptions::default()).unwrap()
}

/// Every (example, limits kept) case: the examples with limits, and each without any.
fn cases() -> Vec<(String, Synthesized)> {
    let mut out = Vec::new();
    for name in ["quickstart", "realistic", "existing-task-definition"] {
        for strip in [false, true] {
            out.push((format!("{name} (limits {})", if strip { "removed" } else { "kept" }), synth(name, strip)));
        }
    }
    out
}

/// The statements of the one inline policy of role `id`, by Sid.
fn statements(s: &Synthesized, role: &str) -> Vec<(String, Value)> {
    let policies = s.document["Resources"][role]["Properties"]["Policies"].as_array().unwrap();
    assert_eq!(policies.len(), 1, "{role}");
    policies[0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| (st["Sid"].as_str().unwrap().to_string(), st.clone()))
        .collect()
}

fn statement(s: &Synthesized, role: &str, sid: &str) -> Option<Value> {
    statements(s, role).into_iter().find(|(id, _)| id == sid).map(|(_, st)| st)
}

#[test]
fn the_jobs_table_has_the_sparse_queue_index_with_or_without_limits() {
    for (case, s) in cases() {
        let table = &s.document["Resources"][s.stack.table.id.as_str()]["Properties"];
        let index = table["GlobalSecondaryIndexes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["IndexName"] == contract::INDEX_BY_QUEUE)
            .unwrap_or_else(|| panic!("{case}: no {} index", contract::INDEX_BY_QUEUE));
        assert_eq!(
            index["KeySchema"],
            json!([
                { "AttributeName": contract::QUEUE_KEY_ATTR, "KeyType": "HASH" },
                { "AttributeName": contract::QUEUE_ORDER_ATTR, "KeyType": "RANGE" },
            ]),
            "{case}"
        );
        assert_eq!(index["Projection"], json!({ "ProjectionType": "KEYS_ONLY" }), "{case}");
        let attributes = table["AttributeDefinitions"].as_array().unwrap();
        for name in [contract::QUEUE_KEY_ATTR, contract::QUEUE_ORDER_ATTR] {
            assert!(
                attributes.contains(&json!({ "AttributeName": name, "AttributeType": "S" })),
                "{case}: {name} is not defined as a string"
            );
        }
        // Four indexes: the progress index is one more than the release before, which one stack
        // update can add to a deployed table.
        assert_eq!(table["GlobalSecondaryIndexes"].as_array().unwrap().len(), 4, "{case}");
    }
}

#[test]
fn both_functions_get_the_same_launch_statements() {
    for (case, s) in cases() {
        let (create_job, track) = (s.stack.create_job.role.id.as_str(), s.stack.track.role.id.as_str());
        for sid in ["RunTask", "TagNewTasks", "StopCancelledTask", "PassTaskRoles"] {
            let a = statement(&s, create_job, sid).unwrap_or_else(|| panic!("{case}: create-job has no {sid}"));
            let b = statement(&s, track, sid).unwrap_or_else(|| panic!("{case}: track has no {sid}"));
            assert_eq!(a, b, "{case}: {sid} differs between create-job and track");
        }
        let run_task = statement(&s, track, "RunTask").unwrap();
        assert_eq!(run_task["Action"], json!(["ecs:RunTask"]), "{case}");
        // Only in the clusters some job type runs on, one ARN each, as StopTask has their tasks.
        let clusters = run_task["Condition"]["ArnEquals"]["ecs:cluster"].as_array().unwrap();
        assert_eq!(run_task["Condition"].as_object().unwrap().len(), 1, "{case}");
        assert_eq!(run_task["Condition"]["ArnEquals"].as_object().unwrap().len(), 1, "{case}");
        let stop_resources = statement(&s, track, "StopCancelledTask").unwrap()["Resource"].clone();
        assert_eq!(clusters.len(), stop_resources.as_array().unwrap().len(), "{case}");
        assert!(!clusters.is_empty(), "{case}");
        for r in run_task["Resource"].as_array().unwrap() {
            let text = r.to_string();
            assert!(text.contains(":task-definition/"), "{case}: RunTask on {text}");
        }
        let stop = statement(&s, track, "StopCancelledTask").unwrap();
        assert_eq!(stop["Action"], json!(["ecs:StopTask"]), "{case}");
        // The resource names the cluster; the tag, in a shared one, the project.
        assert_eq!(
            stop["Condition"],
            json!({ "StringEquals": { "aws:ResourceTag/jobgen:project": s.config.project.name } }),
            "{case}"
        );
        let tag = statement(&s, track, "TagNewTasks").unwrap();
        assert_eq!(tag["Action"], json!(["ecs:TagResource"]), "{case}");
        assert_eq!(tag["Resource"], stop["Resource"], "{case}: the tasks it may start, no other resource");
        assert_eq!(tag["Condition"], json!({ "StringEquals": { "ecs:CreateAction": "RunTask" } }), "{case}");
        for r in stop["Resource"].as_array().unwrap() {
            assert!(r.to_string().contains(":task/"), "{case}: StopTask on {r}");
        }
        let pass = statement(&s, track, "PassTaskRoles").unwrap();
        assert_eq!(pass["Action"], json!(["iam:PassRole"]), "{case}");
        assert_eq!(
            pass["Condition"],
            json!({ "StringEquals": { "iam:PassedToService": "ecs-tasks.amazonaws.com" } }),
            "{case}"
        );
        for r in pass["Resource"].as_array().unwrap() {
            assert!(r.to_string().contains(":role/"), "{case}: PassRole on {r}");
            assert!(!r.to_string().ends_with(":role/*\""), "{case}: PassRole on every role");
        }
    }
}

#[test]
fn both_functions_query_their_indexes_only_and_write_items_for_transactions() {
    let table_arn = json!({ "Fn::GetAtt": ["JobsTable", "Arn"] });
    let index_arn = |name: &str| json!({ "Fn::Sub": format!("${{JobsTable.Arn}}/index/{name}") });
    for (case, s) in cases() {
        for (role, actions, indexes) in [
            (
                s.stack.create_job.role.id.as_str(),
                json!(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"]),
                json!([index_arn(contract::INDEX_BY_QUEUE)]),
            ),
            (
                // The reconciler lists the open jobs and reads their records by key.
                s.stack.track.role.id.as_str(),
                json!([
                    "dynamodb:GetItem",
                    "dynamodb:BatchGetItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:ConditionCheckItem"
                ]),
                json!([index_arn(contract::INDEX_BY_QUEUE), index_arn(contract::INDEX_OPEN)]),
            ),
        ] {
            let table = statement(&s, role, "JobsTable").unwrap();
            assert_eq!((&table["Action"], &table["Resource"]), (&actions, &json!([table_arn])), "{case}/{role}");
            let queue = statement(&s, role, "Indexes").unwrap();
            assert_eq!(queue["Action"], json!(["dynamodb:Query"]), "{case}/{role}");
            assert_eq!(queue["Resource"], indexes, "{case}/{role}: its indexes, never the table");
            // Nothing else in either policy touches DynamoDB.
            let dynamo: Vec<String> = statements(&s, role)
                .into_iter()
                .filter(|(_, st)| st["Action"].to_string().contains("dynamodb:"))
                .map(|(sid, _)| sid)
                .collect();
            assert_eq!(dynamo, ["JobsTable", "Indexes"], "{case}/{role}");
        }
        // track's extra: its dead-letter queue; create-job writes to no queue.
        assert!(statement(&s, s.stack.track.role.id.as_str(), "DeadLetterQueue").is_some(), "{case}");
        assert!(statement(&s, s.stack.create_job.role.id.as_str(), "DeadLetterQueue").is_none(), "{case}");
    }
}

#[test]
fn track_has_the_timeout_its_admissions_are_budgeted_against() {
    for (case, s) in cases() {
        let timeout = |id: &str| s.document["Resources"][id]["Properties"]["Timeout"].clone();
        assert_eq!(timeout(&s.stack.track.id), json!(contract::TRACK_TIMEOUT_SECONDS), "{case}");
        assert_eq!(timeout(&s.stack.create_job.id), json!(contract::CREATE_JOB_TIMEOUT_SECONDS), "{case}");
    }
}
