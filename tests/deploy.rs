//! Smoke deployment of every example into the moto emulator, the way a user deploys it:
//! `aws cloudformation package` (local zips → S3) then `create-stack`, waiting for CREATE_COMPLETE
//! and checking the Outputs. Then the deployed pieces are checked against the contract: the
//! functions' environment and the config layer's document parse as the runtime's `RuntimeConfig`, create-job's role may stop the
//! tasks of exactly the clusters it launches in, and the deployed rule's pattern is proven with
//! real-shaped ECS events sent through `put-events` to an SQS probe target.
//!
//! Known moto gaps this test works around, each named where it happens: moto's CloudFormation has
//! no AWS::Lambda::Url, AWS::Lambda::EventInvokeConfig or AWS::SQS::QueuePolicy (they are dropped
//! from the moto copy, with the outputs that read them; cfn-lint and checkov cover their
//! properties); moto cannot deliver to a Lambda target (the track target is replaced by an SQS
//! probe); the awscli v1 SQS client ignores AWS_ENDPOINT_URL (every call passes --endpoint-url);
//! moto returns a created role's inline policy as Python repr (read back by [`policy_document`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use jobgen_runtime::config::RuntimeConfig;
use jobgen_runtime::contract::{self, LaunchTable};
use jobgen_synth::model::{ModelOptions, outputs};
use jobgen_tests::{Moto, repo_root, venv_bin};
use serde_json::{Value, json};

/// moto's default account.
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// Runs the tools venv's `aws` against the emulator; returns stdout or panics with stderr.
fn aws(moto: &Moto, args: &[&str]) -> String {
    let out = Command::new(venv_bin().join("aws"))
        .arg("--endpoint-url")
        .arg(&moto.endpoint)
        .args(["--output", "json"])
        .args(args)
        .envs(moto.env())
        .output()
        .expect("run aws (make tools)");
    assert!(
        out.status.success(),
        "aws {} failed: {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn aws_json(moto: &Moto, args: &[&str]) -> Value {
    let text = aws(moto, args);
    if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).expect("aws prints JSON") }
}

/// Tiny placeholder zips for both handlers: moto stores the code but never runs it at create time.
fn placeholder_zips(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let script = "import sys, zipfile\nfor name in ('create-job', 'track'):\n    with zipfile.ZipFile(f'{sys.argv[1]}/{name}.zip', 'w') as z:\n        z.writestr('bootstrap', '#!/bin/sh\\necho placeholder\\n')\n";
    let status = Command::new(venv_bin().join("python")).args(["-c", script]).arg(dir).status().unwrap();
    assert!(status.success(), "building placeholder zips failed");
}

/// One real-shaped event from tests/fixtures/events, with this case's fields set.
fn event(fixture: &str, cluster_arn: &str, started_by: &str, marker: &str) -> Value {
    let path = repo_root().join("tests/fixtures/events").join(format!("{fixture}.json"));
    let mut e: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cluster_name = cluster_arn.rsplit('/').next().unwrap();
    let task_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster_name}/{marker}");
    e["detail"]["clusterArn"] = json!(cluster_arn);
    if started_by.is_empty() {
        // A task started without startedBy (console, CLI) has no such field at all.
        e["detail"].as_object_mut().unwrap().remove("startedBy");
    } else {
        e["detail"]["startedBy"] = json!(started_by);
    }
    e["detail"]["taskArn"] = json!(task_arn);
    e["resources"] = json!([task_arn]);
    e
}

/// A role policy document as GetRolePolicy returns it. moto stores the inline policies of a role
/// that CloudFormation created as Python's repr of the document (single quotes), not JSON: that
/// text is read back with Python's literal parser.
fn policy_document(document: &Value) -> Value {
    let Some(text) = document.as_str() else { return document.clone() };
    if let Ok(json) = serde_json::from_str(text) {
        return json;
    }
    let out = Command::new(venv_bin().join("python"))
        .args(["-c", "import ast, json, sys; print(json.dumps(ast.literal_eval(sys.argv[1])))", text])
        .output()
        .unwrap();
    assert!(out.status.success(), "not a policy document: {text}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `aws cloudformation package` of `template` into a new `bucket`, writing `packaged`; returns it parsed.
fn package(moto: &Moto, template: &Path, bucket: &str, packaged: &Path) -> Value {
    aws(moto, &["s3api", "create-bucket", "--bucket", bucket]);
    let (template, output) = (template.to_str().unwrap(), packaged.to_str().unwrap());
    let args = ["--template-file", template, "--s3-bucket", bucket, "--output-template-file", output];
    aws(moto, &[&["cloudformation", "package"][..], &args].concat());
    jobgen_synth::check::parse(&std::fs::read_to_string(packaged).unwrap()).unwrap()
}

struct Case {
    marker: String,
    event: Value,
    expect_delivered: bool,
}

fn deploy_example(name: &str) {
    let moto = Moto::shared();
    let root = repo_root();
    let example = root.join("examples").join(name);
    let config = jobgen_synth::load(&example.join("jobgen.yaml")).unwrap_or_else(|r| panic!("{r}"));
    let synth =
        jobgen_synth::synth::synthesize(&config, &ModelOptions { lambda_dir: "../../dist/lambda".into() }).unwrap();
    let committed = std::fs::read_to_string(example.join("template.yaml")).unwrap();
    assert_eq!(committed, synth.yaml, "examples/{name}/template.yaml is stale: run `make synth-examples`");

    // The template references ../../dist/lambda/*.zip relative to itself: reproduce that layout
    // in a temporary tree with our own zips, so the test never depends on `make package`.
    let tmp = tempfile::tempdir().unwrap();
    placeholder_zips(&tmp.path().join("dist/lambda"));
    let template_dir = tmp.path().join("examples").join(name);
    std::fs::create_dir_all(&template_dir).unwrap();
    let template = template_dir.join("template.yaml");
    std::fs::write(&template, &committed).unwrap();
    // The config layer's content directory beside it, as `jobgen synth -o` writes it.
    let committed_document = std::fs::read_to_string(jobgen_synth::write::config_document_path(&example)).unwrap();
    assert_eq!(committed_document, synth.config_document, "examples/{name}/{}: stale", contract::CONFIG_LAYER_DIR);
    let document_path = jobgen_synth::write::config_document_path(&template_dir);
    std::fs::create_dir_all(document_path.parent().unwrap()).unwrap();
    std::fs::write(&document_path, &committed_document).unwrap();

    let bucket = format!("jobgen-artifacts-{name}");
    let mut doc = package(moto, &template, &bucket, &tmp.path().join("packaged.yaml"));
    for f in [&synth.stack.create_job.id, &synth.stack.track.id] {
        let code = &doc["Resources"][f.as_str()]["Properties"]["Code"];
        assert_eq!(code["S3Bucket"], json!(bucket), "package uploaded {f}'s zip: {code}");
        assert!(code["S3Key"].is_string(), "{f}: {code}");
    }
    let content = doc["Resources"][synth.stack.config_layer.id.as_str()]["Properties"]["Content"].clone();
    assert_eq!(content["S3Bucket"], json!(bucket), "package zipped and uploaded the config layer: {content}");

    // The moto copy, made exactly as `jobgen dev` makes it: what moto cannot create is left out, with
    // the outputs that read it.
    let all_outputs: BTreeSet<String> = doc["Outputs"].as_object().unwrap().keys().cloned().collect();
    let dropped = jobgen_local::deploy::emulator_copy(&mut doc);
    assert_eq!(
        dropped.len(),
        5 + synth.config.schedules.len(),
        "the URL, track's invoke config, the DLQ policy, the schedule group, the reconcile schedule and the \
         project's schedules (jobgen dev creates those through the Scheduler API): {dropped:?}"
    );
    let outputs_obj = doc["Outputs"].as_object().unwrap();
    let expected_outputs: BTreeSet<String> = outputs_obj.keys().cloned().collect();
    assert_eq!(
        all_outputs.difference(&expected_outputs).cloned().collect::<Vec<_>>(),
        vec![outputs::CREATE_JOB_FUNCTION_URL.to_string(), outputs::SCHEDULE_GROUP_NAME.to_string()],
        "only the function URL and schedule group outputs depend on types moto lacks"
    );
    let moto_template = tmp.path().join("moto.json");
    std::fs::write(&moto_template, serde_json::to_string(&doc).unwrap()).unwrap();

    let stack_name = format!("jobgen-{name}");
    aws(
        moto,
        &[
            "cloudformation",
            "create-stack",
            "--stack-name",
            &stack_name,
            "--template-body",
            &format!("file://{}", moto_template.display()),
            "--capabilities",
            "CAPABILITY_IAM",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let stack = loop {
        let d = aws_json(moto, &["cloudformation", "describe-stacks", "--stack-name", &stack_name]);
        let s = d["Stacks"][0].clone();
        if s["StackStatus"] != json!("CREATE_IN_PROGRESS") || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(stack["StackStatus"], json!("CREATE_COMPLETE"), "{name}: {stack}");
    let outputs: BTreeMap<String, String> = stack["Outputs"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: no Outputs: {stack}"))
        .iter()
        .map(|o| (o["OutputKey"].as_str().unwrap().to_string(), o["OutputValue"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(outputs.keys().cloned().collect::<BTreeSet<_>>(), expected_outputs, "{name}: outputs");
    for (k, v) in &outputs {
        assert!(!v.is_empty(), "{name}: output {k} is empty");
    }
    for key in [outputs::TABLE_NAME, outputs::RULE_ARN, outputs::RULE_DLQ_URL, outputs::TRACK_DLQ_URL] {
        assert!(outputs.contains_key(key), "{name}: output {key} missing");
    }
    assert_eq!(outputs[outputs::CREATE_JOB_FUNCTION_NAME], synth.stack.create_job.name);

    // The contract: what the stack hands the functions is what the runtime parses. The document is
    // read back the way Lambda mounts it: the deployed layer's S3 object (zipped by the AWS CLI).
    let zip_file = tmp.path().join("layer.zip");
    let key = content["S3Key"].as_str().unwrap();
    aws(moto, &["s3api", "get-object", "--bucket", &bucket, "--key", key, zip_file.to_str().unwrap()]);
    let layer = std::fs::read(&zip_file).unwrap();
    let shipped = jobgen_local::zip::read_file(&layer, contract::CONFIG_LAYER_ENTRY).unwrap().unwrap();
    assert_eq!(shipped, committed_document.as_bytes(), "{name}: the layer ships the committed document");
    // moto's CloudFormation creates the layer version but drops a function's `Layers` (it passes
    // only a fixed list of properties to CreateFunction), so the wiring is read from the deployed
    // template and the layer from the stack's resources; cfn-lint checks the property itself.
    let layer_id = synth.stack.config_layer.id.as_str();
    let resource = aws_json(
        moto,
        &["cloudformation", "describe-stack-resource", "--stack-name", &stack_name, "--logical-resource-id", layer_id],
    );
    let detail = &resource["StackResourceDetail"];
    assert_eq!(detail["ResourceStatus"], json!("CREATE_COMPLETE"), "{name}: {detail}");
    // (moto names the layer `STACK-LOGICALID-RANDOM`, AWS after LayerName: found by its description.)
    let layers = aws_json(moto, &["lambda", "list-layers"]);
    let description = json!(synth.stack.config_layer.description);
    assert!(
        layers["Layers"].as_array().unwrap().iter().any(|l| l["LatestMatchingVersion"]["Description"] == description),
        "{name}: no config layer in {layers}"
    );
    let deployed = aws_json(moto, &["cloudformation", "get-template", "--stack-name", &stack_name]);
    let body: Value = match &deployed["TemplateBody"] {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    };
    for f in [&synth.stack.create_job.id, &synth.stack.track.id] {
        assert_eq!(body["Resources"][f.as_str()]["Properties"]["Layers"], json!([{"Ref": layer_id}]), "{name}/{f}");
    }
    for function in [&synth.stack.create_job.name, &synth.stack.track.name] {
        let conf = aws_json(moto, &["lambda", "get-function-configuration", "--function-name", function]);
        let vars = conf["Environment"]["Variables"].as_object().unwrap();
        let keys: BTreeSet<&str> = vars.keys().map(String::as_str).collect();
        let expected: BTreeSet<&str> = contract::LAMBDA_ENV.into_iter().chain(contract::TIMER_ENV).collect();
        assert_eq!(keys, expected, "{function}: environment");
        assert_eq!(vars[contract::ENV_SCHEDULE_GROUP], json!(contract::schedule_group(&config.project.name)));
        assert_eq!(vars[contract::ENV_TABLE_NAME], json!(outputs[outputs::TABLE_NAME]));
        assert_eq!(vars[contract::ENV_PROJECT], json!(config.project.name));
        let runtime = RuntimeConfig::from_parts(|k| vars.get(k).and_then(Value::as_str).map(str::to_string), &shipped)
            .unwrap_or_else(|e| panic!("{function}: {e}"));
        let table = runtime.launch_table;
        assert_eq!(table.job_types.len(), config.job_types.len());
        for (jt, spec) in &config.job_types {
            let resolved = table.resolve(jt).unwrap_or_else(|| panic!("{function}: job type {jt} missing"));
            match (&spec.task, &spec.task_definition) {
                // Created task definitions by family: RunTask takes the revision the stack registered last.
                (Some(_), _) => {
                    let td = synth.stack.task_definitions.iter().find(|td| &td.job_type == jt).unwrap();
                    assert_eq!(resolved.entry.task_definition, td.family);
                }
                (None, Some(existing)) => assert_eq!(resolved.entry.task_definition, existing.name),
                (None, None) => unreachable!(),
            }
            if spec.task.is_some() {
                // What create-job will pass to RunTask names things the stack really created.
                let td = aws_json(
                    moto,
                    &["ecs", "describe-task-definition", "--task-definition", &resolved.entry.task_definition],
                );
                let td = &td["taskDefinition"];
                // (moto's CloudFormation drops NetworkMode and other properties: cfn-lint checks those.)
                let container = &td["containerDefinitions"][0];
                assert_eq!(container["name"], json!(resolved.entry.container), "{jt}: main container");
                assert!(container["memory"].as_u64().is_some_and(|m| m > 0), "{jt}: container-level memory");
            }
        }
        for cluster in &table.clusters {
            if !cluster.starts_with("arn:") && config.clusters.values().any(|c| c.create.is_some()) {
                let found = aws_json(moto, &["ecs", "describe-clusters", "--clusters", cluster]);
                let created = found["clusters"].as_array().is_some_and(|c| !c.is_empty());
                let existing_by_name =
                    config.clusters.values().any(|c| c.existing.as_deref() == Some(cluster.as_str()));
                assert!(created || existing_by_name, "{function}: cluster {cluster} does not exist");
            }
        }
    }

    // create-job may stop the tasks of the clusters it launches in (a job cancelled during its
    // launch) and no others: every launch-table cluster's task ARN matches a StopTask resource of
    // the deployed role policy, and another cluster's task does not.
    let conf =
        aws_json(moto, &["lambda", "get-function-configuration", "--function-name", &synth.stack.create_job.name]);
    let role = conf["Role"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let policy = aws_json(moto, &["iam", "get-role-policy", "--role-name", &role, "--policy-name", "create-job"]);
    let document = policy_document(&policy["PolicyDocument"]);
    let stop = document["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == json!("StopCancelledTask"))
        .unwrap_or_else(|| panic!("{name}: no StopTask statement in {document}"))
        .clone();
    assert_eq!(stop["Action"], json!(["ecs:StopTask"]), "{name}: {stop}");
    let patterns: Vec<String> =
        stop["Resource"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect();
    let allowed =
        |task: &str| patterns.iter().any(|p| p.strip_suffix('*').is_some_and(|prefix| task.starts_with(prefix)));
    for cluster in LaunchTable::from_json(std::str::from_utf8(&shipped).unwrap()).unwrap().clusters {
        let task = match cluster.split_once(":cluster/") {
            Some((prefix, cluster_name)) => format!("{prefix}:task/{cluster_name}/0123456789abcdef"),
            None => format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster}/0123456789abcdef"),
        };
        assert!(allowed(&task), "{name}: create-job cannot stop {task}: {patterns:?}");
    }
    assert!(!allowed(&format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/someone-elses-cluster/0123")), "{patterns:?}");

    // The rule: deployed pattern = the model's pattern, then proven with events.
    let rule = aws_json(moto, &["events", "describe-rule", "--name", &synth.stack.rule.name]);
    let deployed: Value = serde_json::from_str(rule["EventPattern"].as_str().unwrap()).unwrap();
    assert_eq!(deployed, synth.stack.rule.concrete_pattern(ACCOUNT, REGION), "{name}: deployed pattern");
    let cluster_arns: Vec<String> =
        deployed["detail"]["clusterArn"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(cluster_arns.len(), config.clusters.len());

    let queue_url = aws_json(moto, &["sqs", "create-queue", "--queue-name", &format!("probe-{name}")])["QueueUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let queue_arn = aws_json(
        moto,
        &["sqs", "get-queue-attributes", "--queue-url", &queue_url, "--attribute-names", "QueueArn"],
    )["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_string();
    aws(
        moto,
        &["events", "put-targets", "--rule", &synth.stack.rule.name, "--targets", &format!("Id=probe,Arn={queue_arn}")],
    );
    // moto cannot invoke a Lambda target from put-events: only the probe stays on the rule.
    aws(moto, &["events", "remove-targets", "--rule", &synth.stack.rule.name, "--ids", synth.stack.rule.target_id]);

    let ours = contract::started_by(&config.project.name);
    let mut cases = Vec::new();
    for (i, arn) in cluster_arns.iter().enumerate() {
        for (fixture, delivered) in [
            ("rule-task-running", true),
            ("rule-task-stopped", true),
            ("rule-task-provisioning", false),
            ("rule-task-pending", false),
        ] {
            let marker = format!("{fixture}-c{i}");
            cases.push(Case { event: event(fixture, arn, &ours, &marker), marker, expect_delivered: delivered });
        }
    }
    let foreign_cluster = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/someone-elses-cluster");
    for (marker, cluster, started_by) in [
        ("foreign-cluster", foreign_cluster.as_str(), ours.as_str()),
        ("service-task", cluster_arns[0].as_str(), "ecs-svc/9223370545345641169"),
        ("other-project", cluster_arns[0].as_str(), "jobgen/another-project"),
        ("manual-task", cluster_arns[0].as_str(), ""),
    ] {
        for fixture in ["rule-task-running", "rule-task-stopped"] {
            let marker = format!("{marker}-{fixture}");
            cases.push(Case { event: event(fixture, cluster, started_by, &marker), marker, expect_delivered: false });
        }
    }
    for chunk in cases.chunks(10) {
        let entries: Vec<Value> = chunk
            .iter()
            .map(|c| {
                json!({
                    "Source": c.event["source"],
                    "DetailType": c.event["detail-type"],
                    "Detail": c.event["detail"].to_string(),
                    "Resources": c.event["resources"],
                })
            })
            .collect();
        let file = tmp.path().join("entries.json");
        std::fs::write(&file, serde_json::to_string(&entries).unwrap()).unwrap();
        let r = aws_json(moto, &["events", "put-events", "--entries", &format!("file://{}", file.display())]);
        assert_eq!(r["FailedEntryCount"], json!(0), "{r}");
    }

    let mut received = BTreeSet::new();
    loop {
        let r = aws_json(
            moto,
            &[
                "sqs",
                "receive-message",
                "--queue-url",
                &queue_url,
                "--max-number-of-messages",
                "10",
                "--wait-time-seconds",
                "1",
            ],
        );
        let Some(messages) = r["Messages"].as_array().filter(|m| !m.is_empty()) else { break };
        for m in messages {
            let body: Value = serde_json::from_str(m["Body"].as_str().unwrap()).unwrap();
            let task_arn = body["detail"]["taskArn"].as_str().unwrap();
            received.insert(task_arn.rsplit('/').next().unwrap().to_string());
            aws(
                moto,
                &[
                    "sqs",
                    "delete-message",
                    "--queue-url",
                    &queue_url,
                    "--receipt-handle",
                    m["ReceiptHandle"].as_str().unwrap(),
                ],
            );
        }
    }
    let expected: BTreeSet<String> = cases.iter().filter(|c| c.expect_delivered).map(|c| c.marker.clone()).collect();
    assert_eq!(received, expected, "{name}: events the rule let through");
    assert_eq!(expected.len(), cluster_arns.len() * 2);
}

#[test]
fn quickstart_deploys_and_its_rule_matches_only_its_jobs() {
    deploy_example("quickstart");
}

#[test]
fn realistic_deploys_and_its_rule_matches_only_its_jobs() {
    deploy_example("realistic");
}

#[test]
fn existing_task_definition_deploys_and_its_rule_matches_only_its_jobs() {
    deploy_example("existing-task-definition");
}

/// `aws cloudformation package` handles the nested templates of a project past one stack: it
/// uploads each `stacks/job-types-NN.yaml` the root names, rewrites every `TemplateURL` to its S3
/// object (the same template), and the packaged root creates in the emulator with all its nested
/// stacks and every job type's task definition.
#[test]
fn aws_cloudformation_package_uploads_the_nested_templates() {
    let moto = Moto::shared();
    let mut yaml = String::from(
        "version: 1\nproject:\n  name: packaged\nclusters:\n  main:\n    create: {}\ndefaults:\n  network:\n    subnets: [subnet-0123456789abcdef0]\n    security_groups: [sg-0123456789abcdef0]\njob_types:\n",
    );
    for i in 1..=500 {
        yaml.push_str(&format!(
            "  p-{i:03}:\n    task:\n      image: public.ecr.aws/docker/library/busybox:1.36\n      cpu: 256\n      memory: 512\n"
        ));
    }
    let config = jobgen_synth::check_text(&yaml, "jobgen.yaml").unwrap_or_else(|r| panic!("{r}"));
    let synth =
        jobgen_synth::synth::synthesize(&config, &ModelOptions { lambda_dir: "../dist/lambda".into() }).unwrap();
    assert_eq!(synth.nested.len(), 16);

    // The layout `jobgen synth -o project` writes, beside the zips the root names.
    let tmp = tempfile::tempdir().unwrap();
    placeholder_zips(&tmp.path().join("dist/lambda"));
    let dir = tmp.path().join("project");
    std::fs::create_dir_all(dir.join(jobgen_synth::names::NESTED_STACKS_DIR)).unwrap();
    std::fs::write(dir.join("template.yaml"), &synth.yaml).unwrap();
    for child in &synth.nested {
        std::fs::write(dir.join(&child.file), &child.yaml).unwrap();
    }
    let document_path = jobgen_synth::write::config_document_path(&dir);
    std::fs::create_dir_all(document_path.parent().unwrap()).unwrap();
    std::fs::write(&document_path, &synth.config_document).unwrap();

    let bucket = "jobgen-artifacts-packaged";
    let mut doc = package(moto, &dir.join("template.yaml"), bucket, &tmp.path().join("packaged.yaml"));
    for child in &synth.nested {
        let url = &mut doc["Resources"][child.id.as_str()]["Properties"]["TemplateURL"];
        // The CLI writes the path-style URL of its S3 endpoint: here the emulator's
        // `http://127.0.0.1:PORT/BUCKET/KEY`, which moto's CloudFormation misreads (it takes the
        // host's first label for the bucket unless the host is `localhost`); on AWS the endpoint
        // is `https://s3.REGION.amazonaws.com`, the URL written back here.
        let prefix = format!("{}/{bucket}/", moto.endpoint.trim_end_matches('/'));
        let key = url.as_str().and_then(|u| u.strip_prefix(&prefix)).map(str::to_string);
        let key = key.unwrap_or_else(|| panic!("{}: TemplateURL {url} is not an object of {bucket}", child.id));
        *url = json!(format!("https://s3.{REGION}.amazonaws.com/{bucket}/{key}"));
        let copy = tmp.path().join("child.template");
        aws(moto, &["s3api", "get-object", "--bucket", bucket, "--key", &key, copy.to_str().unwrap()]);
        let uploaded = jobgen_synth::check::parse(&std::fs::read_to_string(&copy).unwrap()).unwrap();
        assert_eq!(uploaded, child.document, "{}: the uploaded template is the child's", child.id);
    }

    jobgen_local::deploy::emulator_copy(&mut doc);
    let moto_template = tmp.path().join("moto.json");
    std::fs::write(&moto_template, serde_json::to_string(&doc).unwrap()).unwrap();
    let stack_name = "jobgen-packaged";
    let body = format!("file://{}", moto_template.display());
    aws(
        moto,
        &[
            "cloudformation",
            "create-stack",
            "--stack-name",
            stack_name,
            "--template-body",
            &body,
            "--capabilities",
            "CAPABILITY_IAM",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        let d = aws_json(moto, &["cloudformation", "describe-stacks", "--stack-name", stack_name]);
        let s = d["Stacks"][0]["StackStatus"].clone();
        if s != json!("CREATE_IN_PROGRESS") || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(status, json!("CREATE_COMPLETE"));
    let resources = aws_json(moto, &["cloudformation", "describe-stack-resources", "--stack-name", stack_name]);
    let nested: Vec<&Value> = resources["StackResources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ResourceType"] == "AWS::CloudFormation::Stack")
        .collect();
    assert_eq!(nested.len(), 16);
    assert!(nested.iter().all(|r| r["ResourceStatus"] == "CREATE_COMPLETE"), "{nested:?}");
    let families = aws_json(moto, &["ecs", "list-task-definition-families", "--family-prefix", "packaged_"]);
    assert_eq!(families["families"].as_array().unwrap().len(), 500);
}
