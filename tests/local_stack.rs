//! A jobgen stack as deployed, in a moto server of its own: what the tests and benchmarks that run
//! the built handler binaries (`lambda_local`, `benches/runtime`) launch against. Included with
//! `#[path]`; the names all come from `jobgen_runtime::contract`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_dynamodb::types::AttributeValue;
use jobgen_runtime::config::RuntimeConfig;
use jobgen_runtime::contract::{self, Architecture, Capacity, JobTypeEntry, LaunchTable, Network};
use jobgen_runtime::store::item_to_json;
use jobgen_tests::{Moto, create_fargate_cluster, create_jobs_table, register_task_definition, repo_root};
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
    /// Holds the configuration document the functions read (`JOBGEN_CONFIG_FILE`), as the config
    /// layer does at /opt/jobgen/config.json on Lambda.
    config_dir: tempfile::TempDir,
    // Last: dropped after the clients' last use.
    moto: Moto,
}

impl Stack {
    /// Starts a moto server and creates the stack for `project` in it.
    pub async fn deploy(project: &str) -> Stack {
        let moto = Moto::start();
        let sdk = moto.sdk_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let ecs = aws_sdk_ecs::Client::new(&sdk);

        let (subnet, security_group) = moto.create_network(43, "jobgen-lambda-local");

        let table = format!("{project}-jobs");
        create_jobs_table(&ddb, &table).await;

        let cluster = format!("{project}-cluster");
        let cluster_arn = create_fargate_cluster(&ecs, &cluster).await;
        let family = format!("{project}_{REPORT}");
        let task_definition_arn = register_task_definition(&ecs, &family, CONTAINER).await;

        let launch_table = LaunchTable {
            version: contract::CONFIG_VERSION,
            clusters: vec![cluster],
            networks: vec![Network {
                subnets: vec![subnet],
                security_groups: vec![security_group],
                assign_public_ip: false,
            }],
            job_types: [(
                REPORT.to_string(),
                JobTypeEntry {
                    // The family, as the synthesized stack ships it: RunTask takes its latest revision.
                    task_definition: family.clone(),
                    cluster: 0,
                    network: 0,
                    capacity: Capacity::Fargate,
                    container: CONTAINER.to_string(),
                    architecture: Architecture::X86_64,
                    max_concurrency: None,
                    allow_command_override: false,
                    allowed_environment: None,
                    timeout_seconds: None,
                    start_timeout_seconds: None,
                    retry: None,
                    progress: false,
                },
            )]
            .into(),
            max_concurrency: None,
            tags: Default::default(),
            schedules: Default::default(),
        };
        let config = RuntimeConfig {
            table_name: table,
            project: project.to_string(),
            launch_table,
            retention_days: 7,
            timers: None,
        };
        let config_dir = tempfile::tempdir().unwrap();
        std::fs::write(config_dir.path().join("config.json"), config.document()).unwrap();
        Stack { config, ddb, ecs, cluster_arn, task_definition_arn, config_dir, moto }
    }

    /// The functions' environment: the stack's contract variables and the emulator's endpoint.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.config.to_env();
        env.push((contract::ENV_CONFIG_FILE, self.config_dir.path().join("config.json").display().to_string()));
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
