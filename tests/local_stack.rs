//! A jobgen stack as deployed, in a moto server of its own: what the tests and benchmarks that run
//! the built handler binaries (`lambda_local`, `benches/runtime`) launch against. Included with
//! `#[path]`; the names all come from `jobgen_runtime::contract`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
use jobgen_runtime::config::RuntimeConfig;
use jobgen_runtime::contract::{self, Architecture, Capacity, JobTypeEntry, LaunchTable, Network};
use jobgen_runtime::store::item_to_json;
use jobgen_tests::{Moto, repo_root, venv_bin};
use serde_json::Value;

/// The job type the stack launches.
pub const REPORT: &str = "report";
/// The main container of its task definition.
pub const CONTAINER: &str = "main";

/// What a deployed jobgen stack provides, created in a moto server this test owns (stopped on drop,
/// also when an assertion fails): the jobs table with the contract's key schema and indexes, an ECS
/// cluster with a FARGATE task definition, a subnet and a security group, and the functions'
/// configuration pointing at them.
pub struct Stack {
    /// The functions' configuration (table, project, launch table).
    pub config: RuntimeConfig,
    /// DynamoDB client on the emulator.
    pub ddb: aws_sdk_dynamodb::Client,
    /// ECS client on the emulator.
    pub ecs: aws_sdk_ecs::Client,
    /// The cluster.
    pub cluster_arn: String,
    /// The job type's task definition.
    pub task_definition_arn: String,
    // Last: dropped after the clients' last use.
    moto: Moto,
}

fn aws_cli(moto: &Moto, args: &[&str]) -> String {
    let output = Command::new(venv_bin().join("aws"))
        .args(args)
        .args(["--endpoint-url", &moto.endpoint, "--output", "text"])
        .envs(moto.env())
        .output()
        .unwrap_or_else(|e| panic!("cannot run the aws CLI (make tools): {e}"));
    assert!(output.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn key_element(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().unwrap()
}

fn string_attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().unwrap()
}

fn index(name: &str, hash: &str) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key_element(hash, KeyType::Hash))
        .key_schema(key_element(contract::CREATED_AT_ATTR, KeyType::Range))
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .unwrap()
}

impl Stack {
    /// Starts a moto server and creates the stack for `project` in it.
    pub async fn deploy(project: &str) -> Stack {
        let moto = Moto::start();
        let sdk = moto.sdk_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let ecs = aws_sdk_ecs::Client::new(&sdk);

        let vpc = aws_cli(&moto, &["ec2", "create-vpc", "--cidr-block", "10.43.0.0/16", "--query", "Vpc.VpcId"]);
        // moto's RunTask builds the task ENI's private DNS name and answers HTTP 500 without it.
        aws_cli(
            &moto,
            &["ec2", "modify-vpc-attribute", "--vpc-id", &vpc, "--enable-dns-hostnames", r#"{"Value":true}"#],
        );
        let subnet = aws_cli(
            &moto,
            &["ec2", "create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.43.1.0/24", "--query", "Subnet.SubnetId"],
        );
        let security_group = aws_cli(
            &moto,
            &[
                "ec2",
                "create-security-group",
                "--group-name",
                "jobgen-lambda-local",
                "--description",
                "jobgen lambda_local test",
                "--vpc-id",
                &vpc,
                "--query",
                "GroupId",
            ],
        );

        let table = format!("{project}-jobs");
        ddb.create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key_element(contract::KEY_ATTR, KeyType::Hash))
            .attribute_definitions(string_attr(contract::KEY_ATTR))
            .attribute_definitions(string_attr(contract::STATUS_ATTR))
            .attribute_definitions(string_attr(contract::JOB_TYPE_ATTR))
            .attribute_definitions(string_attr(contract::CREATED_AT_ATTR))
            .global_secondary_indexes(index(contract::INDEX_BY_STATUS, contract::STATUS_ATTR))
            .global_secondary_indexes(index(contract::INDEX_BY_TYPE, contract::JOB_TYPE_ATTR))
            .send()
            .await
            .unwrap();

        let cluster = format!("{project}-cluster");
        let cluster_arn = ecs
            .create_cluster()
            .cluster_name(&cluster)
            .capacity_providers("FARGATE")
            .capacity_providers("FARGATE_SPOT")
            .send()
            .await
            .unwrap()
            .cluster()
            .and_then(|c| c.cluster_arn())
            .unwrap()
            .to_string();
        let family = format!("{project}-{REPORT}");
        let task_definition_arn = ecs
            .register_task_definition()
            .family(&family)
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(NetworkMode::Awsvpc)
            .cpu("256")
            .memory("512")
            .container_definitions(
                ContainerDefinition::builder()
                    .name(CONTAINER)
                    .image("public.ecr.aws/docker/library/busybox:1.36")
                    // moto's FARGATE RunTask needs a container-level memory.
                    .memory(512)
                    .essential(true)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .unwrap()
            .to_string();

        let launch_table = LaunchTable {
            clusters: vec![cluster],
            networks: vec![Network {
                subnets: vec![subnet],
                security_groups: vec![security_group],
                assign_public_ip: false,
            }],
            job_types: [(
                REPORT.to_string(),
                JobTypeEntry {
                    task_definition: format!("{family}:1"),
                    cluster: 0,
                    network: 0,
                    capacity: Capacity::Fargate,
                    container: CONTAINER.to_string(),
                    architecture: Architecture::X86_64,
                },
            )]
            .into(),
        };
        let config = RuntimeConfig { table_name: table, project: project.to_string(), launch_table, retention_days: 7 };
        Stack { config, ddb, ecs, cluster_arn, task_definition_arn, moto }
    }

    /// The functions' environment: the stack's contract variables and the emulator's endpoint.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.config.to_env();
        env.extend(self.moto.env());
        // No instance metadata lookups: credentials and region come from the variables above.
        env.push(("AWS_EC2_METADATA_DISABLED", "true".into()));
        env.push(("RUST_LOG", "info".into()));
        env
    }

    /// The job record, read back with the contract's attribute names.
    pub async fn record(&self, job_id: &str) -> Value {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.config.table_name)
            .key(contract::KEY_ATTR, AttributeValue::S(job_id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        item_to_json(out.item().unwrap_or_else(|| panic!("no record for job {job_id}")))
    }

    /// ARNs of the tasks this project started (ListTasks by startedBy).
    pub async fn task_arns(&self) -> Vec<String> {
        let out =
            self.ecs.list_tasks().cluster(&self.cluster_arn).started_by(self.config.started_by()).send().await.unwrap();
        out.task_arns().to_vec()
    }

    pub async fn describe(&self, task_arn: &str) -> aws_sdk_ecs::types::Task {
        let out = self.ecs.describe_tasks().cluster(&self.cluster_arn).tasks(task_arn).send().await.unwrap();
        out.tasks().first().cloned().unwrap_or_else(|| panic!("ECS does not know task {task_arn}"))
    }

    /// A real-shaped event sequence fixture, with the placeholders filled in for one launched task.
    pub fn sequence(&self, name: &str, job_id: &str, task_arn: &str) -> (Value, Vec<Value>) {
        let path = repo_root().join("tests/fixtures/events/sequences").join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .replace("{{JOB_ID}}", job_id)
            .replace("{{JOB_TYPE}}", REPORT)
            .replace("{{PROJECT}}", &self.config.project)
            .replace("{{TASK_ARN}}", task_arn)
            .replace("{{CLUSTER_ARN}}", &self.cluster_arn)
            .replace("{{CLUSTER}}", &self.config.launch_table.clusters[0])
            .replace("{{TASK_DEFINITION_ARN}}", &self.task_definition_arn);
        let fixture: Value = serde_json::from_str(&text).unwrap();
        (fixture["expect"].clone(), fixture["events"].as_array().unwrap().clone())
    }
}
