//! Deploys a synthesized stack into the local AWS emulator the way a user deploys to AWS: the
//! handler zips are uploaded to an S3 bucket and each function's `Code` is rewritten to
//! `S3Bucket`/`S3Key` (what `aws cloudformation package` does),
//! then the change set of [`crate::apply`] (create or update), followed until `*_COMPLETE`.
//!
//! Emulator gaps handled here, each said out loud: moto's CloudFormation cannot create
//! `AWS::Lambda::Url`, `AWS::Lambda::EventInvokeConfig`, `AWS::SQS::QueuePolicy` and `AWS::Scheduler::ScheduleGroup` (they are left
//! out of the emulator's copy, with the outputs that read them and the DependsOn that name them;
//! the schedule group is created through the Scheduler API instead, and the simulator runs the
//! reconcile schedule itself); moto's FARGATE RunTask needs a
//! subnet and a security group that exist in the emulator, so a project whose network is not there
//! gets a VPC, subnet and security group created in the emulator and its network rewritten before
//! synthesis; moto runs no Lambda code, so a missing `dist/lambda/*.zip` is replaced by an empty
//! placeholder zip (the real handlers run inside `jobgen dev`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use jobgen_ops::aws_error;
use jobgen_runtime::contract;
use jobgen_synth::config::{Config, Network};

/// Resource types moto's CloudFormation cannot create.
pub const EMULATOR_UNSUPPORTED: [&str; 5] = [
    "AWS::Lambda::Url",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::SQS::QueuePolicy",
    "AWS::Scheduler::ScheduleGroup",
    "AWS::Scheduler::Schedule",
];

/// Creates the project's schedule group (the timers' group, [`contract::schedule_group`]) through
/// the Scheduler API, since the emulator's CloudFormation cannot create one. Idempotent: a group
/// that exists is kept. Returns whether it was created.
pub async fn ensure_schedule_group(scheduler: &aws_sdk_scheduler::Client, project: &str) -> Result<bool, DeployError> {
    use aws_sdk_scheduler::error::ProvideErrorMetadata;
    let group = contract::schedule_group(project);
    match scheduler.create_schedule_group().name(&group).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some("ConflictException") => Ok(false),
        Err(e) => Err(emulator(format!("CreateScheduleGroup {group}"), aws_error(&e))),
    }
}

/// An empty zip archive (just the end-of-central-directory record): the placeholder code when the
/// handlers were not packaged. The emulator stores the code but never runs it.
pub const EMPTY_ZIP: [u8; 22] = [0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// A deployment step that failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// An emulator call failed.
    #[error("{step} failed: {message}")]
    Emulator {
        /// What was being done.
        step: String,
        /// The rendered error.
        message: String,
    },
    /// The stack did not reach a complete state.
    #[error("stack {stack} ended in {status}: {reason}")]
    Stack {
        /// The stack.
        stack: String,
        /// Its status.
        status: String,
        /// The first failure reason CloudFormation gave.
        reason: String,
    },
}

fn emulator(step: impl Into<String>, message: impl Into<String>) -> DeployError {
    DeployError::Emulator { step: step.into(), message: message.into() }
}

/// Percent-encodes a form value.
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The text of the first `<tag>` element.
fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_string())
}

/// A minimal EC2 Query API client for the emulator only: jobgen dev needs four EC2 calls, and the EC2
/// SDK crate would roughly double the build.
struct Ec2 {
    endpoint: String,
    region: String,
}

/// POSTs one unsigned AWS protocol request to the emulator (http only). The emulator does not
/// check signatures; the credential scope in the Authorization header routes it to `service`.
pub async fn emulator_post(
    endpoint: &str,
    region: &str,
    service: &str,
    headers: &[(&str, &str)],
    body: String,
) -> Result<(u16, String), String> {
    let date = chrono::Utc::now().format("%Y%m%d");
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=testing/{date}/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    );
    let mut all = vec![("authorization", authorization.as_str())];
    all.extend_from_slice(headers);
    post(endpoint, "/", &all, body).await
}

/// Lets the emulator's ECS tasks change state only when asked (StopTask), never by themselves:
/// moto otherwise moves a task one step towards STOPPED on every DescribeTasks (its state
/// manager's default for `ecs::task`), which would end running jobs behind the simulator's back
/// and make a DescribeTasks-based repair (the reconciler) see stops that never happened.
pub async fn hold_emulator_tasks(endpoint: &str) -> Result<(), DeployError> {
    let body = json!({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000_000}});
    match post(
        endpoint,
        "/moto-api/state-manager/set-transition",
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
    {
        Ok((200..=299, _)) => Ok(()),
        Ok((status, text)) => Err(emulator("moto state manager", format!("HTTP {status}: {text}"))),
        Err(e) => Err(emulator("moto state manager", e)),
    }
}

async fn post(endpoint: &str, path: &str, headers: &[(&str, &str)], body: String) -> Result<(u16, String), String> {
    use http_body_util::BodyExt;
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return Err(format!("the emulator endpoint {endpoint} must start with http://"));
    };
    let authority = rest.trim_end_matches('/').to_string();
    let stream =
        tokio::net::TcpStream::connect(&authority).await.map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut request = hyper::Request::post(path).header("host", &authority);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(http_body_util::Full::new(bytes::Bytes::from(body))).map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

impl Ec2 {
    async fn call(&self, params: &[(&str, &str)]) -> Result<(u16, String), DeployError> {
        let action = params.first().map(|(_, v)| *v).unwrap_or("EC2");
        let mut body: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", form_encode(v))).collect();
        body.push("Version=2016-11-15".into());
        let headers = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        emulator_post(&self.endpoint, &self.region, "ec2", &headers, body.join("&"))
            .await
            .map_err(|e| emulator(format!("EC2 {action}"), e))
    }

    async fn value(&self, params: &[(&str, &str)], tag: &str) -> Result<String, DeployError> {
        let action = params.first().map(|(_, v)| *v).unwrap_or("EC2");
        let (status, xml) = self.call(params).await?;
        match (status, xml_value(&xml, tag)) {
            (200, Some(v)) => Ok(v),
            _ => Err(emulator(
                format!("EC2 {action}"),
                format!("HTTP {status}: {}", xml_value(&xml, "Message").unwrap_or(xml)),
            )),
        }
    }

    async fn exists(&self, action: &str, key: &str, id: &str) -> Result<bool, DeployError> {
        let (status, _) = self.call(&[("Action", action), (key, id)]).await?;
        Ok(status == 200)
    }
}

/// Makes sure every network of the project exists in the emulator. When one does not (the example
/// files carry placeholder ids), creates a VPC (DNS hostnames on: moto's ECS needs them), a subnet and
/// a security group, and rewrites every network of `config` to use them. Returns what was created.
pub async fn ensure_network(config: &mut Config, endpoint: &str, region: &str) -> Result<Option<Network>, DeployError> {
    let ec2 = Ec2 { endpoint: endpoint.to_string(), region: region.to_string() };
    let mut networks: Vec<&Network> = config.defaults.network.iter().collect();
    networks.extend(config.job_types.values().filter_map(|j| j.network.as_ref()));
    let mut all_exist = !networks.is_empty();
    for n in &networks {
        for s in &n.subnets {
            all_exist &= ec2.exists("DescribeSubnets", "SubnetId.1", s).await?;
        }
        for g in &n.security_groups {
            all_exist &= ec2.exists("DescribeSecurityGroups", "GroupId.1", g).await?;
        }
    }
    if all_exist {
        return Ok(None);
    }
    // One emulator network per project, found again on the next deploy: a new subnet every time
    // would change the configuration document (and so the functions) on every `jobgen dev` start.
    let group_name = format!("jobgen-dev-{}", config.project.name);
    let (_, found) = ec2
        .call(&[
            ("Action", "DescribeSecurityGroups"),
            ("Filter.1.Name", "group-name"),
            ("Filter.1.Value.1", &group_name),
        ])
        .await?;
    let reused = match (xml_value(&found, "groupId"), xml_value(&found, "vpcId")) {
        (Some(sg), Some(vpc)) => {
            let (_, subnets) = ec2
                .call(&[("Action", "DescribeSubnets"), ("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", &vpc)])
                .await?;
            xml_value(&subnets, "subnetId").map(|subnet| (subnet, sg))
        }
        _ => None,
    };
    let (subnet, sg) = match reused {
        Some(ids) => ids,
        None => {
            let vpc = ec2.value(&[("Action", "CreateVpc"), ("CidrBlock", "10.77.0.0/16")], "vpcId").await?;
            let (status, xml) = ec2
                .call(&[("Action", "ModifyVpcAttribute"), ("VpcId", &vpc), ("EnableDnsHostnames.Value", "true")])
                .await?;
            if status != 200 {
                return Err(emulator("EC2 ModifyVpcAttribute", xml));
            }
            let subnet = ec2
                .value(&[("Action", "CreateSubnet"), ("VpcId", &vpc), ("CidrBlock", "10.77.1.0/24")], "subnetId")
                .await?;
            let sg = ec2
                .value(
                    &[
                        ("Action", "CreateSecurityGroup"),
                        ("GroupName", &group_name),
                        ("GroupDescription", "jobgen dev tasks"),
                        ("VpcId", &vpc),
                    ],
                    "groupId",
                )
                .await?;
            (subnet, sg)
        }
    };
    let assign_public_ip = networks.first().is_some_and(|n| n.assign_public_ip);
    let network = Network { subnets: vec![subnet], security_groups: vec![sg], assign_public_ip };
    config.defaults.network = Some(network.clone());
    for job_type in config.job_types.values_mut() {
        if let Some(n) = &mut job_type.network {
            *n = Network { assign_public_ip: n.assign_public_ip, ..network.clone() };
        }
    }
    Ok(Some(network))
}

/// Creates an emulator stand-in for every existing cluster the project names (an empty ECS cluster of
/// that name), so tasks of its job types can launch in dev. Returns the names created.
pub async fn ensure_existing_clusters(config: &Config, ecs: &aws_sdk_ecs::Client) -> Result<Vec<String>, DeployError> {
    let mut created = Vec::new();
    for cluster in config.clusters.values() {
        let Some(existing) = &cluster.existing else { continue };
        let name = existing.rsplit('/').next().unwrap_or(existing);
        let found = ecs.describe_clusters().clusters(name).send().await.ok().is_some_and(|out| {
            out.clusters().iter().any(|c| c.cluster_name() == Some(name) && c.status() == Some("ACTIVE"))
        });
        if found {
            continue;
        }
        ecs.create_cluster()
            .cluster_name(name)
            .capacity_providers("FARGATE")
            .capacity_providers("FARGATE_SPOT")
            .send()
            .await
            .map_err(|e| emulator(format!("ECS CreateCluster {name}"), aws_error(&e)))?;
        created.push(name.to_string());
    }
    Ok(created)
}

/// The emulator's copy of a template: resources it cannot create are left out, with the outputs
/// that read them. Returns the ids left out.
pub fn emulator_copy(document: &mut Value) -> Vec<String> {
    let mut dropped = Vec::new();
    if let Some(resources) = document.get_mut("Resources").and_then(Value::as_object_mut) {
        dropped = resources
            .iter()
            .filter(|(_, r)| EMULATOR_UNSUPPORTED.contains(&r["Type"].as_str().unwrap_or_default()))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &dropped {
            resources.remove(id);
        }
        // What depended on a resource left out no longer waits for it.
        for resource in resources.values_mut() {
            if let Some(depends) = resource.get_mut("DependsOn").and_then(Value::as_array_mut) {
                depends.retain(|d| !d.as_str().is_some_and(|d| dropped.iter().any(|id| id == d)));
            }
        }
    }
    if let Some(outputs) = document.get_mut("Outputs").and_then(Value::as_object_mut) {
        outputs.retain(|_, o| {
            let text = o.to_string();
            !dropped.iter().any(|id| text.contains(&format!("\"{id}\"")))
        });
    }
    dropped
}

/// Creates the artifact bucket unless it exists and is ours (a bucket outside us-east-1 needs its
/// region as the location constraint).
pub async fn ensure_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
    calls: &mut crate::apply::Calls,
) -> Result<bool, DeployError> {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    calls.add("HeadBucket");
    if s3.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(false);
    }
    let mut request = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region)).build(),
        );
    }
    calls.add("CreateBucket");
    match request.send().await {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_bucket_already_owned_by_you()) => Ok(false),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_bucket_already_exists()) => Err(emulator(
            format!("S3 CreateBucket {bucket}"),
            "the bucket name is taken by another account (help: pass --artifact-bucket NAME, a bucket of yours)",
        )),
        Err(e) => Err(emulator(format!("S3 CreateBucket {bucket}"), aws_error(&e))),
    }
}

/// Uploads each function's zip (from `lambda_dir`, or the placeholder when `placeholder` allows
/// it: the emulator never runs the code) and the config layer (the synthesized configuration
/// document, zipped at [`contract::CONFIG_LAYER_ENTRY`]) under content-addressed keys, skipping
/// objects already there, and points their `Code`/`Content` at the objects, as `aws cloudformation
/// package` does. Returns logical id → what was uploaded.
#[allow(clippy::too_many_arguments)]
pub async fn package(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    document: &mut Value,
    functions: &[(&str, &str)],
    lambda_dir: &Path,
    layer: (&str, &str),
    placeholder: bool,
    calls: &mut crate::apply::Calls,
    progress: &mut (dyn FnMut(crate::apply::Progress) + Send),
) -> Result<BTreeMap<String, String>, DeployError> {
    let mut uploaded = BTreeMap::new();
    for (logical_id, zip_name) in functions {
        let path = lambda_dir.join(format!("{zip_name}.zip"));
        let (bytes, what) = match std::fs::read(&path) {
            Ok(bytes) => (bytes, path.display().to_string()),
            Err(_) if placeholder => {
                (EMPTY_ZIP.to_vec(), "placeholder (no packaged zip; the handler runs in jobgen dev)".into())
            }
            Err(e) => {
                return Err(emulator(
                    format!("reading {}", path.display()),
                    format!(
                        "{e} (help: install the release bundle, run `make package` in a checkout, or pass --lambda-dir DIR)"
                    ),
                ));
            }
        };
        let key = put(s3, bucket, zip_name, "zip", bytes, calls, progress).await?;
        document["Resources"][*logical_id]["Properties"]["Code"] = json!({ "S3Bucket": bucket, "S3Key": key });
        uploaded.insert(logical_id.to_string(), what);
    }
    let (layer_id, config_document) = layer;
    let bytes = crate::zip::single_file(contract::CONFIG_LAYER_ENTRY, config_document.as_bytes());
    let key = put(s3, bucket, "config", "zip", bytes, calls, progress).await?;
    document["Resources"][layer_id]["Properties"]["Content"] = json!({ "S3Bucket": bucket, "S3Key": key });
    uploaded.insert(layer_id.to_string(), format!("the configuration document ({} bytes)", config_document.len()));
    Ok(uploaded)
}

/// Uploads each nested stack's template (the emulator's copy when `for_emulator`, as for the root)
/// under a content-addressed key, skipping templates already there, and points the root's
/// `TemplateURL` of each at its object, as `aws cloudformation package` does. An unchanged child
/// so keeps its URL, and CloudFormation updates only the children whose bytes changed.
#[allow(clippy::too_many_arguments)]
pub async fn package_nested(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
    document: &mut Value,
    nested: &[jobgen_synth::synth::NestedTemplate],
    for_emulator: bool,
    calls: &mut crate::apply::Calls,
    progress: &mut (dyn FnMut(crate::apply::Progress) + Send),
) -> Result<(), DeployError> {
    for child in nested {
        let mut template = child.document.clone();
        if for_emulator {
            emulator_copy(&mut template);
        }
        let body = serde_json::to_vec(&template).unwrap_or_default();
        let name = child.file.trim_end_matches(".yaml");
        let key = put(s3, bucket, name, "json", body, calls, progress).await?;
        let properties = &mut document["Resources"][child.id.as_str()]["Properties"];
        if !properties.is_object() {
            return Err(emulator("packaging the nested stacks", format!("the root template has no {}", child.id)));
        }
        properties["TemplateURL"] = json!(object_url(bucket, region, &key));
    }
    Ok(())
}

/// The virtual-hosted-style URL of an artifact, which CloudFormation reads `TemplateURL`s from
/// (the emulator reads the bucket from the host the same way).
pub fn object_url(bucket: &str, region: &str, key: &str) -> String {
    format!("https://{bucket}.s3.{region}.amazonaws.com/{key}")
}

/// Puts `bytes` under a content-addressed key (`NAME-HASH.EXT`) unless an object is already there
/// (HeadObject: same key, same bytes), and returns the key.
pub async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    name: &str,
    ext: &str,
    bytes: Vec<u8>,
    calls: &mut crate::apply::Calls,
    progress: &mut (dyn FnMut(crate::apply::Progress) + Send),
) -> Result<String, DeployError> {
    let key = format!("{name}-{}.{ext}", short_hash(&bytes));
    let size = bytes.len() as u64;
    calls.add("HeadObject");
    let skipped = s3.head_object().bucket(bucket).key(&key).send().await.is_ok();
    if !skipped {
        calls.add("PutObject");
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| emulator(format!("S3 PutObject {bucket}/{key}"), aws_error(&e)))?;
    }
    progress(crate::apply::Progress::Artifact {
        name: name.to_string(),
        url: format!("s3://{bucket}/{key}"),
        bytes: size,
        skipped,
    });
    Ok(key)
}

/// The configuration document a deployed stack ships: its template's config layer `Content`
/// (GetTemplate), that object (S3 GetObject), and the document inside the zip. This is what the
/// deployed functions would find at [`contract::CONFIG_FILE`].
pub async fn deployed_config_document(
    cfn: &aws_sdk_cloudformation::Client,
    s3: &aws_sdk_s3::Client,
    stack: &str,
) -> Result<Vec<u8>, String> {
    let out =
        cfn.get_template().stack_name(stack).send().await.map_err(|e| format!("GetTemplate: {}", aws_error(&e)))?;
    let body = out.template_body().unwrap_or_default();
    let template: Value = serde_json::from_str(body)
        .or_else(|_| jobgen_synth::check::parse(body).map_err(|e| e.to_string()))
        .map_err(|e| format!("GetTemplate: the template does not parse: {e}"))?;
    let layers: Vec<&Value> = template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["Type"] == "AWS::Lambda::LayerVersion")
        .map(|(_, r)| &r["Properties"]["Content"])
        .collect();
    let [content] = layers.as_slice() else {
        return Err(format!("the template has {} config layers (expected 1)", layers.len()));
    };
    let (Some(bucket), Some(key)) = (content["S3Bucket"].as_str(), content["S3Key"].as_str()) else {
        return Err(format!("the config layer's Content is not an S3 object: {content}"));
    };
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| format!("S3 GetObject {bucket}/{key}: {}", aws_error(&e)))?;
    let bytes = object.body.collect().await.map_err(|e| format!("S3 GetObject {bucket}/{key}: {e}"))?.into_bytes();
    crate::zip::read_file(&bytes, contract::CONFIG_LAYER_ENTRY)
        .map_err(|e| format!("s3://{bucket}/{key}: {e}"))?
        .ok_or_else(|| format!("s3://{bucket}/{key} holds no {}", contract::CONFIG_LAYER_ENTRY))
}

fn short_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(bytes))[..16].to_string()
}

/// Makes each function's configuration what the deployed template says (Environment and Layers),
/// the way CloudFormation's update does on AWS: moto's update-stack changes the template and the
/// other resources but leaves a Lambda function's configuration as it was created, which would
/// leave the old configuration hash beside the new config layer. `functions` are (logical id,
/// function name) pairs; the names are the model's (FunctionName is set). Returns the functions changed.
pub async fn sync_function_configuration(
    lambda: &aws_sdk_lambda::Client,
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    functions: &[(&str, &str)],
) -> Result<Vec<String>, DeployError> {
    let template =
        cfn.get_template().stack_name(stack).send().await.map_err(|e| emulator("GetTemplate", aws_error(&e)))?;
    let body: Value = serde_json::from_str(template.template_body().unwrap_or_default()).unwrap_or_default();
    let mut changed = Vec::new();
    for &(logical_id, name) in functions {
        let out = lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| emulator(format!("GetFunctionConfiguration {name}"), aws_error(&e)))?;
        let deployed = out.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
        let mut wanted = deployed.clone();
        let variables = &body["Resources"][logical_id]["Properties"]["Environment"]["Variables"];
        for (k, v) in variables.as_object().into_iter().flatten() {
            // Literal values only: a `Ref` (the table name) was resolved at creation and does not change.
            if let Some(v) = v.as_str() {
                wanted.insert(k.clone(), v.to_string());
            }
        }
        if wanted == deployed {
            continue;
        }
        lambda
            .update_function_configuration()
            .function_name(name)
            .environment(aws_sdk_lambda::types::Environment::builder().set_variables(Some(wanted)).build())
            .send()
            .await
            .map_err(|e| emulator(format!("UpdateFunctionConfiguration {name}"), aws_error(&e)))?;
        changed.push(name.to_string());
    }
    Ok(changed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn emulator_copy_drops_unsupported_resources_and_their_outputs() {
        let mut doc = json!({
            "Resources": {"Fn": {"Type": "AWS::Lambda::Function"}, "Url": {"Type": "AWS::Lambda::Url"}},
            "Outputs": {"A": {"Value": {"Ref": "Fn"}}, "B": {"Value": {"Fn::GetAtt": ["Url", "FunctionUrl"]}}}
        });
        assert_eq!(emulator_copy(&mut doc), vec!["Url".to_string()]);
        assert!(doc["Resources"].get("Url").is_none() && doc["Outputs"].get("B").is_none());
        assert!(doc["Outputs"].get("A").is_some());
    }

    #[test]
    fn query_helpers_encode_and_extract() {
        assert_eq!(form_encode("10.0.0.0/16 a"), "10.0.0.0%2F16%20a");
        assert_eq!(xml_value("<a><vpcId>vpc-1</vpcId></a>", "vpcId").as_deref(), Some("vpc-1"));
        assert_eq!(xml_value("<a/>", "vpcId"), None);
    }
}
