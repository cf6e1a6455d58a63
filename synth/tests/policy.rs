//! The security policy of every synthesized template, checked on the templates themselves: each
//! committed example (`examples/*/template.yaml`, proven fresh), a generated project of 119 job
//! types, and `tests/fixtures/valid/every-option.yaml` (every optional setting the other way: an
//! existing cluster and task definition by ARN, point-in-time recovery off, reserved concurrency,
//! an alarm topic, ...).
//!
//! A template fails on:
//! - a wildcard (`*`) resource on a mutating action;
//! - `scheduler:CreateSchedule` outside the project's schedule group (`schedule/jobgen-PROJECT/*`);
//!   `iam:PassRole` to Scheduler of anything but the timer role; a timer role Scheduler may
//!   assume for another account or schedule group;
//! - a reconciler's schedule other than one, named `reconcile`, in the project's group, invoking
//!   track every `RECONCILE_INTERVAL_MINUTES` with the reconcile payload through the timer role,
//!   with track's dead-letter queue; or a timer role whose policy does not cover that target and
//!   queue;
//! - `iam:PassRole` without `iam:PassedToService`; `ecs:RunTask` without `ecs:cluster`;
//!   `ecs:StopTask` without `aws:ResourceTag/jobgen:project` naming the project;
//!   `ecs:TagResource` without `ecs:CreateAction` RunTask;
//! - `ecs:DescribeTasks` or `ecs:ListTasks` (the reconciler's reads) on any role but track's, on
//!   `*`, on anything but this stack's task or container-instance ARNs, or without `ecs:cluster`
//!   naming exactly the clusters RunTask may use;
//! - a Lambda permission without `SourceArn`; a function URL without AWS_IAM auth;
//! - a table or queue not encrypted at rest; a log group without retention;
//! - a resource with more than 50 tags;
//! - a function with neither reserved concurrency (`lambda.reserved_concurrency`) nor the listed
//!   CKV_AWS_115 suppression with its reason. (The choice: the default leaves concurrency to the
//!   account, since reserving fails deployments in accounts with a low concurrency quota; the
//!   setting exists for those who want the bound, and this test accepts exactly those two states.)
//! - an inline policy set over IAM's 10,240 characters, or a managed policy over 6,144
//!   (whitespace not counted, every intrinsic at its worst-case length);
//! - a scanner suppression (checkov, Guard, cfn-lint) that is not an entry of the reviewed
//!   allow-list (`jobgen_synth::model::suppressions::SUPPRESSIONS`) on a resource of its type, with
//!   its reason; and the list fails if one of its entries is used by no template.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use jobgen_synth::config::Config;
use jobgen_synth::model::ModelOptions;
use jobgen_synth::model::limits::{Resolver, json_len};
use jobgen_synth::model::suppressions::{SUPPRESSIONS, Scanner, Suppression};
use jobgen_synth::synth::Synthesized;
use serde_json::Value;

const EXAMPLES: [&str; 3] = ["quickstart", "realistic", "existing-task-definition"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A project of `n` job types, each with an ECR image, a secret and a statement of its own.
fn generated(n: usize) -> String {
    let mut y = String::from(
        "version: 1\nproject:\n  name: policy\n  tags: { team: security }\nclusters:\n  main:\n    create: {}\ndefaults:\n  network:\n    subnets: [subnet-0123456789abcdef0]\njob_types:\n",
    );
    for i in 1..=n {
        y.push_str(&format!(
            "  job-{i:03}:\n    task:\n      image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:{i}\n      cpu: 256\n      memory: 512\n      secrets: {{ TOKEN: 'arn:aws:ssm:eu-west-1:123456789012:parameter/t{i}' }}\n      policies:\n        - actions: [s3:GetObject]\n          resources: ['arn:aws:s3:::bucket/{i}/*']\n"
        ));
    }
    y
}

/// Every template this test reads, with its name and what it was synthesized from.
fn templates() -> Vec<(String, Synthesized)> {
    let options = ModelOptions { lambda_dir: "../../dist/lambda".into() };
    let mut out = Vec::new();
    for name in EXAMPLES {
        let dir = repo_root().join("examples").join(name);
        let config = jobgen_synth::load(&dir.join("jobgen.yaml")).unwrap();
        let s = jobgen_synth::synth::synthesize(&config, &options).unwrap();
        let committed = std::fs::read_to_string(dir.join("template.yaml")).unwrap();
        assert!(committed == s.yaml, "examples/{name}/template.yaml is stale: re-synthesize the examples");
        out.push((format!("examples/{name}"), s));
    }
    let config: Config = jobgen_synth::check_text(&generated(119), "generated.yaml").unwrap_or_else(|r| panic!("{r}"));
    out.push((
        "a generated project of 119 job types".to_string(),
        jobgen_synth::synth::synthesize(&config, &options).unwrap(),
    ));
    // Past one stack: the root of a project in nested stacks.
    let config: Config = jobgen_synth::check_text(&generated(130), "generated.yaml").unwrap_or_else(|r| panic!("{r}"));
    let nested = jobgen_synth::synth::synthesize(&config, &options).unwrap();
    assert!(!nested.nested.is_empty());
    out.push(("a generated project of 130 job types in nested stacks".to_string(), nested));
    let every = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/every-option.yaml");
    out.push((
        "tests/fixtures/valid/every-option.yaml".to_string(),
        jobgen_synth::synthesize_file(&every, None, &options).unwrap(),
    ));
    out
}

fn resources(s: &Synthesized) -> Vec<(&String, &Value)> {
    s.document["Resources"].as_object().unwrap().iter().collect()
}

fn as_list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

/// Every policy statement of the template: (where, statement).
fn statements(s: &Synthesized) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (id, r) in resources(s) {
        let props = &r["Properties"];
        let mut documents: Vec<(String, &Value)> = Vec::new();
        match r["Type"].as_str().unwrap() {
            "AWS::IAM::Role" => {
                for p in as_list(&props["Policies"]) {
                    documents.push((format!("{id}/{}", p["PolicyName"].as_str().unwrap()), &p["PolicyDocument"]));
                }
            }
            "AWS::IAM::ManagedPolicy" | "AWS::SQS::QueuePolicy" => {
                documents.push((id.clone(), &props["PolicyDocument"]))
            }
            _ => {}
        }
        for (at, doc) in documents {
            for st in as_list(&doc["Statement"]) {
                out.push((format!("{at}/{}", st["Sid"].as_str().unwrap_or("?")), st.clone()));
            }
        }
    }
    out
}

fn actions(st: &Value) -> Vec<&str> {
    as_list(&st["Action"]).into_iter().filter_map(Value::as_str).collect()
}

/// Read-only by its name: what IAM calls List, Read (Get, Describe, BatchGet, ...).
fn read_only(action: &str) -> bool {
    let name = action.split_once(':').map_or(action, |(_, a)| a);
    ["Get", "List", "Describe", "BatchGet", "BatchCheck", "Query", "Scan", "Head", "Search", "Lookup"]
        .iter()
        .any(|p| name.starts_with(p))
}

#[test]
fn no_wildcard_resource_on_a_mutating_action() {
    for (name, s) in templates() {
        for (at, st) in statements(&s) {
            let wildcard = as_list(&st["Resource"]).iter().any(|r| r.as_str() == Some("*"));
            let mutating: Vec<&str> = actions(&st).into_iter().filter(|a| !read_only(a)).collect();
            assert!(!wildcard || mutating.is_empty(), "{name}: {at}: {mutating:?} on every resource");
        }
    }
}

#[test]
fn pass_role_run_task_stop_task_and_tagging_carry_their_conditions() {
    let mut seen = BTreeSet::new();
    for (name, s) in templates() {
        let project = s.config.project.name.clone();
        for (at, st) in statements(&s) {
            let condition = &st["Condition"];
            for action in actions(&st) {
                seen.insert(action.to_string());
                match action {
                    "iam:PassRole" => assert!(
                        condition["StringEquals"]["iam:PassedToService"].is_string(),
                        "{name}: {at}: PassRole to any service"
                    ),
                    "ecs:RunTask" => assert!(
                        condition["ArnEquals"]["ecs:cluster"].as_array().is_some_and(|c| !c.is_empty()),
                        "{name}: {at}: RunTask in any cluster"
                    ),
                    "ecs:StopTask" => assert_eq!(
                        condition["StringEquals"]["aws:ResourceTag/jobgen:project"],
                        Value::from(project.clone()),
                        "{name}: {at}: StopTask of other projects' tasks"
                    ),
                    "ecs:TagResource" => assert_eq!(
                        condition["StringEquals"]["ecs:CreateAction"], "RunTask",
                        "{name}: {at}: tagging existing resources"
                    ),
                    a if a.contains('*') => {
                        panic!("{name}: {at}: a wildcard action {a}")
                    }
                    _ => {}
                }
            }
        }
    }
    for a in ["iam:PassRole", "ecs:RunTask", "ecs:StopTask", "ecs:TagResource"] {
        assert!(seen.contains(a), "no template grants {a}: the check would prove nothing");
    }
}

#[test]
fn lambda_permissions_name_their_source_and_the_url_needs_iam_auth() {
    for (name, s) in templates() {
        let mut urls = 0;
        for (id, r) in resources(&s) {
            let props = &r["Properties"];
            match r["Type"].as_str().unwrap() {
                "AWS::Lambda::Permission" => {
                    assert!(!props["SourceArn"].is_null(), "{name}: {id}: a Lambda permission without SourceArn")
                }
                "AWS::Lambda::Url" => {
                    urls += 1;
                    assert_eq!(props["AuthType"], "AWS_IAM", "{name}: {id}");
                }
                _ => {}
            }
        }
        assert_eq!(urls, 1, "{name}");
    }
}

#[test]
fn tables_and_queues_are_encrypted_and_log_groups_expire() {
    for (name, s) in templates() {
        for (id, r) in resources(&s) {
            let props = &r["Properties"];
            match r["Type"].as_str().unwrap() {
                "AWS::DynamoDB::Table" => {
                    assert_eq!(props["SSESpecification"]["SSEEnabled"], true, "{name}: {id}: unencrypted table")
                }
                "AWS::SQS::Queue" => assert!(
                    props["SqsManagedSseEnabled"] == true || props["KmsMasterKeyId"].is_string(),
                    "{name}: {id}: unencrypted queue"
                ),
                "AWS::Logs::LogGroup" => {
                    assert!(props["RetentionInDays"].as_u64().is_some_and(|d| d > 0), "{name}: {id}: kept forever")
                }
                _ => {}
            }
        }
    }
}

#[test]
fn no_resource_has_more_than_50_tags() {
    for (name, s) in templates() {
        for (id, r) in resources(&s) {
            let tags = &r["Properties"]["Tags"];
            let n = tags.as_array().map(Vec::len).or_else(|| tags.as_object().map(|m| m.len())).unwrap_or(0);
            assert!(n <= 50, "{name}: {id} has {n} tags");
        }
        // And the tasks: RunTask's tags come from the configuration document.
        assert!(s.stack.launch_table.tags.len() <= 50, "{name}: tasks get {} tags", s.stack.launch_table.tags.len());
    }
}

#[test]
fn every_function_reserves_concurrency_or_says_why_not() {
    let unreserved = &jobgen_synth::model::suppressions::FUNCTION_UNRESERVED_CONCURRENCY;
    let mut states = BTreeSet::new();
    for (name, s) in templates() {
        for (id, r) in resources(&s).into_iter().filter(|(_, r)| r["Type"] == "AWS::Lambda::Function") {
            let reserved = r["Properties"]["ReservedConcurrentExecutions"].as_u64();
            let skip = as_list(&r["Metadata"]["checkov"]["skip"])
                .into_iter()
                .find(|k| k["id"] == unreserved.id)
                .map(|k| k["comment"].as_str().unwrap().to_string());
            match (reserved, skip) {
                (Some(n), None) => {
                    assert!(n >= 1, "{name}: {id}: 0 throttles every call");
                    states.insert("reserved");
                }
                (None, Some(comment)) => {
                    assert_eq!(comment, unreserved.reason, "{name}: {id}: the documented reason");
                    states.insert("left to the account");
                }
                (reserved, skip) => panic!("{name}: {id}: reserved {reserved:?}, skip {skip:?}"),
            }
        }
    }
    assert_eq!(states.len(), 2, "both states are exercised: {states:?}");
}

#[test]
fn no_inline_policy_set_or_managed_policy_is_over_iams_size_limit() {
    let chars = |resolver: &Resolver, doc: &Value| json_len(&resolver.resolve(doc), false);
    for (name, s) in templates() {
        let resolver = Resolver::new(&s.stack);
        for (id, r) in resources(&s) {
            match r["Type"].as_str().unwrap() {
                "AWS::IAM::Role" => {
                    let total: usize = as_list(&r["Properties"]["Policies"])
                        .iter()
                        .map(|p| chars(&resolver, &p["PolicyDocument"]))
                        .sum();
                    assert!(total <= 10_240, "{name}: {id}: inline policies of {total} characters");
                }
                "AWS::IAM::ManagedPolicy" => {
                    let n = chars(&resolver, &r["Properties"]["PolicyDocument"]);
                    assert!(n <= 6_144, "{name}: {id}: a managed policy of {n} characters");
                }
                _ => {}
            }
        }
    }
}

/// Every suppression in a template: (resource type, scanner, id, comment or none).
fn suppressions_in(s: &Synthesized) -> Vec<(String, String, Scanner, String, Option<String>)> {
    let mut out = Vec::new();
    for (id, r) in resources(s) {
        let ty = r["Type"].as_str().unwrap().to_string();
        let m = &r["Metadata"];
        for k in as_list(&m["checkov"]["skip"]) {
            let comment = k["comment"].as_str().map(str::to_string);
            out.push((id.clone(), ty.clone(), Scanner::Checkov, k["id"].as_str().unwrap().to_string(), comment));
        }
        for g in as_list(&m["guard"]["SuppressedRules"]) {
            out.push((id.clone(), ty.clone(), Scanner::Guard, g.as_str().unwrap().to_string(), None));
        }
        for c in as_list(&m["cfn-lint"]["config"]["ignore_checks"]) {
            out.push((id.clone(), ty.clone(), Scanner::CfnLint, c.as_str().unwrap().to_string(), None));
        }
    }
    out
}

#[test]
fn every_suppression_is_on_the_reviewed_list_and_every_entry_is_used() {
    let mut used: BTreeSet<(&str, &str)> = BTreeSet::new();
    let entry = |ty: &str, scanner: Scanner, id: &str| -> Option<&'static Suppression> {
        SUPPRESSIONS.iter().copied().find(|e| e.resource_type == ty && e.scanner == scanner && e.id == id)
    };
    for (name, s) in templates() {
        let found = suppressions_in(&s);
        for (res, ty, scanner, id, comment) in &found {
            let listed = match scanner {
                Scanner::Guard => {
                    // A Guard rule is either one of its own entries, or the pair of a checkov skip on
                    // the same resource.
                    let paired = found.iter().find(|(r, t, sc, cid, _)| {
                        r == res
                            && *sc == Scanner::Checkov
                            && entry(t, Scanner::Checkov, cid).and_then(|e| e.guard) == Some(id.as_str())
                    });
                    match (entry(ty, Scanner::Guard, id), paired) {
                        (Some(e), _) => e,
                        (None, Some(_)) => continue,
                        (None, None) => {
                            panic!("{name}: {res} ({ty}) suppresses Guard rule {id}, which is not on the list")
                        }
                    }
                }
                _ => entry(ty, *scanner, id).unwrap_or_else(|| {
                    panic!("{name}: {res} ({ty}) suppresses {scanner:?} {id}, which is not on the list")
                }),
            };
            if let Some(comment) = comment {
                assert!(
                    comment.ends_with(listed.reason),
                    "{name}: {res}: {id}'s comment is not the listed reason: {comment}"
                );
            }
            if let Some(guard) = listed.guard {
                assert!(
                    found.iter().any(|(r, _, sc, g, _)| r == res && *sc == Scanner::Guard && g == guard),
                    "{name}: {res}: {id} without its Guard counterpart {guard}"
                );
            }
            used.insert((listed.resource_type, listed.id));
        }
    }
    let unused: Vec<String> = SUPPRESSIONS
        .iter()
        .filter(|e| !used.contains(&(e.resource_type, e.id)))
        .map(|e| format!("{} on {}", e.id, e.resource_type))
        .collect();
    assert!(unused.is_empty(), "listed but used by no template (remove them): {unused:?}");
}

#[test]
fn timers_are_created_only_in_the_projects_group_with_only_the_timer_role() {
    // (and only deadline timers are deleted)
    for (name, s) in templates() {
        let project = s.config.project.name.clone();
        let group = jobgen_runtime::contract::schedule_group(&project);
        let schedules =
            format!("arn:${{AWS::Partition}}:scheduler:${{AWS::Region}}:${{AWS::AccountId}}:schedule/{group}/*");
        let timer_role = serde_json::json!({"Fn::GetAtt": [s.stack.timers.role.id, "Arn"]});
        let mut creators = BTreeSet::new();
        for (at, st) in statements(&s) {
            let role = at.split('/').next().unwrap().to_string();
            for action in actions(&st) {
                match action {
                    "scheduler:CreateSchedule" => {
                        assert_eq!(st["Resource"], serde_json::json!([{"Fn::Sub": schedules}]), "{name}: {at}");
                        creators.insert(role.clone());
                    }
                    "iam:PassRole"
                        if st["Condition"]["StringEquals"]["iam:PassedToService"] == "scheduler.amazonaws.com" =>
                    {
                        assert_eq!(st["Resource"], serde_json::json!([timer_role]), "{name}: {at}");
                        assert_eq!(st["Condition"].as_object().map(|c| c.len()), Some(1), "{name}: {at}");
                    }
                    // Deleting: only the deadline timers (`run-*`, `start-*`), never the reconcile
                    // schedule or a retry.
                    "scheduler:DeleteSchedule" => {
                        let prefix = format!(
                            "arn:${{AWS::Partition}}:scheduler:${{AWS::Region}}:${{AWS::AccountId}}:schedule/{group}/"
                        );
                        let deadlines = serde_json::json!([
                            {"Fn::Sub": format!("{prefix}run-*")},
                            {"Fn::Sub": format!("{prefix}start-*")}
                        ]);
                        assert_eq!(st["Resource"], deadlines, "{name}: {at}");
                    }
                    a if a.starts_with("scheduler:") => panic!("{name}: {at}: {a}"),
                    _ => {}
                }
            }
        }
        let functions: BTreeSet<String> =
            [&s.stack.create_job.role.id, &s.stack.track.role.id].into_iter().cloned().collect();
        assert_eq!(creators, functions, "{name}: both functions arm timers");
        // The group exists, named as the contract says, and Scheduler may assume the timer role
        // only for this account's group.
        let resources = &s.document["Resources"];
        let g = &resources[s.stack.timers.group.id.as_str()];
        assert_eq!(
            (g["Type"].as_str(), g["Properties"]["Name"].as_str()),
            (Some("AWS::Scheduler::ScheduleGroup"), Some(group.as_str()))
        );
        let trust =
            &resources[s.stack.timers.role.id.as_str()]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
        assert_eq!(trust["Principal"]["Service"], "scheduler.amazonaws.com", "{name}");
        assert_eq!(
            trust["Condition"]["StringEquals"]["aws:SourceAccount"],
            serde_json::json!({"Ref": "AWS::AccountId"})
        );
        assert_eq!(
            trust["Condition"]["ArnEquals"]["aws:SourceArn"],
            serde_json::json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:scheduler:${{AWS::Region}}:${{AWS::AccountId}}:schedule-group/{group}")}),
            "{name}"
        );
    }
}

#[test]
fn the_reconcilers_reads_are_on_track_only_and_scoped_to_the_stacks_clusters() {
    let mut seen = BTreeSet::new();
    for (name, s) in templates() {
        let track = s.stack.track.role.id.clone();
        let sts = statements(&s);
        // RunTask's clusters: the only clusters the reconciler may read.
        let run_task_clusters: Vec<Value> = sts
            .iter()
            .filter(|(at, st)| at.starts_with(&format!("{track}/")) && actions(st).contains(&"ecs:RunTask"))
            .flat_map(|(_, st)| as_list(&st["Condition"]["ArnEquals"]["ecs:cluster"]).into_iter().cloned())
            .collect();
        for (at, st) in &sts {
            for action in actions(st) {
                let kind = match action {
                    "ecs:DescribeTasks" => ":task/",
                    "ecs:ListTasks" => ":container-instance/",
                    _ => continue,
                };
                seen.insert(action.to_string());
                assert!(at.starts_with(&format!("{track}/")), "{name}: {at}: {action} outside track's role");
                assert_eq!(actions(st), [action], "{name}: {at}: one action per statement");
                let resources = as_list(&st["Resource"]);
                assert!(!resources.is_empty(), "{name}: {at}");
                for r in &resources {
                    let text = r["Fn::Sub"].as_str().or_else(|| r.as_str()).unwrap_or_default();
                    assert!(
                        text != "*" && text.contains(kind) && text.ends_with("/*"),
                        "{name}: {at}: {action} on {r}"
                    );
                }
                let clusters: Vec<Value> =
                    as_list(&st["Condition"]["ArnEquals"]["ecs:cluster"]).into_iter().cloned().collect();
                assert!(!clusters.is_empty(), "{name}: {at}: {action} without ecs:cluster");
                assert_eq!(clusters, run_task_clusters, "{name}: {at}: {action} in other clusters than RunTask's");
                assert_eq!(st["Condition"].as_object().map(|c| c.len()), Some(1), "{name}: {at}");
                assert_eq!(resources.len(), clusters.len(), "{name}: {at}: one resource per cluster");
            }
        }
    }
    assert_eq!(
        seen,
        ["ecs:DescribeTasks", "ecs:ListTasks"].into_iter().map(String::from).collect(),
        "some template grants both: the check would prove nothing otherwise"
    );
}

#[test]
fn the_reconcilers_schedule_invokes_track_with_the_timer_role_which_may_do_just_that() {
    use jobgen_runtime::{contract, schedule};
    for (name, s) in templates() {
        let resources = s.document["Resources"].as_object().unwrap();
        let schedules: Vec<(&String, &Value)> = resources
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::Scheduler::Schedule")
            .filter(|(_, r)| {
                !r["Properties"]["Name"].as_str().unwrap_or_default().starts_with(schedule::SCHEDULE_NAME_PREFIX)
            })
            .collect();
        assert_eq!(schedules.len(), 1, "{name}: one recurring schedule of jobgen's own");
        let (id, r) = schedules[0];
        let p = &r["Properties"];
        let group = contract::schedule_group(&s.config.project.name);
        assert_eq!(p["Name"], contract::RECONCILE_SCHEDULE, "{name}");
        assert_eq!(p["GroupName"], Value::from(group.clone()), "{name}");
        assert_eq!(r["DependsOn"], serde_json::json!([s.stack.timers.group.id]), "{name}: {id}");
        assert_eq!(
            p["ScheduleExpression"],
            Value::from(format!("rate({} minutes)", contract::RECONCILE_INTERVAL_MINUTES))
        );
        assert_eq!(p["FlexibleTimeWindow"], serde_json::json!({"Mode": "OFF"}), "{name}");
        assert_eq!(p["State"], "ENABLED", "{name}");
        let t = &p["Target"];
        let input: Value = serde_json::from_str(t["Input"].as_str().unwrap()).unwrap();
        assert_eq!(input, contract::reconcile_payload(), "{name}");
        assert_eq!(t["Arn"], serde_json::json!({"Fn::GetAtt": [s.stack.track.id, "Arn"]}), "{name}");
        let role = &s.stack.timers.role.id;
        assert_eq!(t["RoleArn"], serde_json::json!({"Fn::GetAtt": [role, "Arn"]}), "{name}");
        let dlq = serde_json::json!({"Fn::GetAtt": [s.stack.track_dlq.id, "Arn"]});
        assert_eq!(t["DeadLetterConfig"]["Arn"], dlq, "{name}");
        assert_eq!(t["RetryPolicy"], serde_json::json!({"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 300}));
        // The timer role's policy covers the schedule: it may invoke the function the target names
        // (by its ARN built from the function's fixed name) and send to that queue, and nothing else.
        let track_arn = serde_json::json!({"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{}",
            s.stack.track.name
        )});
        let granted: BTreeSet<(String, String)> = statements(&s)
            .into_iter()
            .filter(|(at, _)| at.starts_with(&format!("{role}/")))
            .flat_map(|(_, st)| {
                let actions: Vec<String> = actions(&st).into_iter().map(String::from).collect();
                let resources: Vec<String> = as_list(&st["Resource"]).into_iter().map(|r| r.to_string()).collect();
                actions.into_iter().flat_map(move |a| resources.clone().into_iter().map(move |r| (a.clone(), r)))
            })
            .collect();
        let wanted: BTreeSet<(String, String)> = [
            ("lambda:InvokeFunction".to_string(), track_arn.to_string()),
            ("sqs:SendMessage".to_string(), dlq.to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(granted, wanted, "{name}");
    }
}

#[test]
fn each_schedule_invokes_create_job_with_its_run_and_a_role_that_may_do_just_that() {
    use jobgen_runtime::{contract, schedule};
    let mut seen = 0;
    for (name, s) in templates() {
        let resources = s.document["Resources"].as_object().unwrap();
        let group = contract::schedule_group(&s.config.project.name);
        for (schedule_name, sc) in &s.config.schedules {
            let id = format!("Schedule{}", jobgen_synth::names::logical_id_part(schedule_name));
            let p = &resources[&id]["Properties"];
            assert_eq!(p["Name"], Value::from(schedule::schedule_name(schedule_name)), "{name}");
            assert_eq!(p["GroupName"], Value::from(group.clone()), "{name}: in the group the role's trust names");
            assert_eq!(p["ScheduleExpression"], Value::from(sc.expression.clone()));
            assert_eq!(p["ScheduleExpressionTimezone"], Value::from(sc.timezone.clone()));
            let t = &p["Target"];
            assert_eq!(t["Arn"], serde_json::json!({"Fn::GetAtt": [s.stack.create_job.id, "Arn"]}), "{name}");
            assert_eq!(t["RoleArn"], serde_json::json!({"Fn::GetAtt": ["ScheduleRole", "Arn"]}), "{name}");
            assert_eq!(t["DeadLetterConfig"]["Arn"], serde_json::json!({"Fn::GetAtt": ["ScheduleDlq", "Arn"]}));
            // The input is a create-job request the runtime's own parser accepts, for this job type,
            // whose idempotency key carries the scheduled time.
            let input: Value = serde_json::from_str(t["Input"].as_str().unwrap()).unwrap();
            let request = jobgen_runtime::create_job::parse_request(input).unwrap();
            assert_eq!(request.job_type, sc.job_type);
            assert_eq!(request.schedule.as_deref(), Some(schedule_name.as_str()));
            assert!(request.idempotency_key.unwrap().ends_with(schedule::SCHEDULED_TIME));
            assert_eq!(
                s.stack.launch_table.schedules[schedule_name].overlap, sc.overlap,
                "{name}: the document carries the overlap policy create-job applies"
            );
            seen += 1;
        }
        if s.config.schedules.is_empty() {
            assert!(!resources.contains_key("ScheduleRole"), "{name}: no role without schedules");
            continue;
        }
        let granted: BTreeSet<(String, String)> = statements(&s)
            .into_iter()
            .filter(|(at, _)| at.starts_with("ScheduleRole/"))
            .flat_map(|(_, st)| {
                let actions: Vec<String> = actions(&st).into_iter().map(String::from).collect();
                let resources: Vec<String> = as_list(&st["Resource"]).into_iter().map(|r| r.to_string()).collect();
                actions.into_iter().flat_map(move |a| resources.clone().into_iter().map(move |r| (a.clone(), r)))
            })
            .collect();
        let wanted: BTreeSet<(String, String)> = [
            (
                "lambda:InvokeFunction".to_string(),
                serde_json::json!({"Fn::GetAtt": [s.stack.create_job.id, "Arn"]}).to_string(),
            ),
            ("sqs:SendMessage".to_string(), serde_json::json!({"Fn::GetAtt": ["ScheduleDlq", "Arn"]}).to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(granted, wanted, "{name}");
        let trust = &resources["ScheduleRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
        assert_eq!(
            trust["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
                .as_str()
                .map(|a| a.ends_with(&format!("schedule-group/{group}"))),
            Some(true)
        );
    }
    assert!(seen >= 2, "some example has schedules: the check would prove nothing otherwise");
}

#[test]
fn a_task_may_write_its_own_progress_item_only_and_only_where_its_type_reports_progress() {
    use jobgen_runtime::progress;
    let mut seen = 0;
    for (name, s) in templates() {
        for td in &s.stack.task_definitions {
            let reports = s.config.job_types[&td.job_type].progress;
            let grants: Vec<(String, Value)> = statements(&s)
                .into_iter()
                .filter(|(at, _)| at.starts_with(&format!("{}/", td.task_role.id)))
                .filter(|(_, st)| actions(st).iter().any(|a| a.starts_with("dynamodb:")))
                .collect();
            if !reports {
                assert!(grants.is_empty(), "{name}: {}: no table access without progress: {grants:?}", td.job_type);
                continue;
            }
            seen += 1;
            assert_eq!(grants.len(), 1, "{name}: {}: {grants:?}", td.job_type);
            let st = &grants[0].1;
            assert_eq!(actions(st), ["dynamodb:UpdateItem"], "{name}: no read, no delete, no other write");
            assert_eq!(as_list(&st["Resource"]), [&serde_json::json!({"Fn::GetAtt": [s.stack.table.id, "Arn"]})]);
            // The item keyed by the caller's own role session (the task id), no other.
            let condition = &st["Condition"]["ForAllValues:StringEquals"];
            assert_eq!(condition["dynamodb:LeadingKeys"], serde_json::json!(["progress#${aws:userid}"]), "{name}");
            assert_eq!(condition["dynamodb:Attributes"], serde_json::json!(progress::ATTRIBUTES), "{name}");
            assert_eq!(st["Condition"]["StringEqualsIfExists"]["dynamodb:ReturnValues"], serde_json::json!(["NONE"]));
            // None of the attributes a job record's decisions rest on is writable.
            for forbidden in
                [jobgen_runtime::contract::STATUS_ATTR, jobgen_runtime::contract::SHARD_ATTR, "slot", "attempt"]
            {
                assert!(!progress::ATTRIBUTES.contains(&forbidden), "{forbidden}");
            }
        }
    }
    assert!(seen >= 1, "some example reports progress: the check would prove nothing otherwise");
}
