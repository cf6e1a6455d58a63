//! Shared set-up for the runtime integration tests (included with `#[path]` by `runtime_*.rs`): a
//! jobs table with the contract's schema, an ECS cluster and FARGATE task definition, and a VPC
//! subnet and security group in the moto emulator, plus a [`RuntimeConfig`] that launches there.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use jobgen_runtime::config::RuntimeConfig;
use jobgen_runtime::contract::{self, Architecture, Capacity, JobTypeEntry, LaunchTable, Network};
use jobgen_runtime::create_job::CreateJob;
use jobgen_runtime::launch::RetryPolicy;
use jobgen_runtime::launcher::{Launcher, RunTaskApi};
use jobgen_runtime::store::Store;
use jobgen_runtime::track::Tracker;
use jobgen_tests::{Moto, create_fargate_cluster, create_jobs_table, register_task_definition};
use serde_json::Value;

/// Job type on FARGATE whose task definition exists.
pub const REPORT: &str = "report";
/// Job type on FARGATE_SPOT.
pub const SPOT_REPORT: &str = "spot-report";
/// Job type whose task definition does not exist (RunTask raises).
pub const BROKEN: &str = "broken";
/// Job type whose cluster does not exist (RunTask raises).
pub const LOST: &str = "lost";
/// The main container of the test task definition.
pub const CONTAINER: &str = "main";

/// One test's world: its own project, table, cluster and task definition in the shared emulator.
pub struct World {
    pub config: RuntimeConfig,
    pub ddb: aws_sdk_dynamodb::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub cluster_arn: String,
    pub task_definition_arn: String,
}

/// The serial moto shared by every test of this binary: exactly-once tests need DynamoDB's atomic
/// conditional writes, which stock (threaded) moto does not give; see `jobgen_tests::Moto::start_serial`.
fn moto() -> &'static Moto {
    Moto::shared_serial()
}

/// A subnet and a security group, created once per test binary (moto validates both on RunTask).
fn network(moto: &Moto) -> &'static (String, String) {
    static NETWORK: OnceLock<(String, String)> = OnceLock::new();
    NETWORK.get_or_init(|| moto.create_network(42, "jobgen-runtime-tests"))
}

impl World {
    /// Sets up a world for `project` (unique per test) on the binary's serial moto.
    pub async fn new(project: &str) -> World {
        let moto = moto();
        World::on(moto, network(moto).clone(), project).await
    }

    /// Sets up a world for `project` on `moto`, launching into `network` (a subnet and a security
    /// group of that emulator).
    pub async fn on(moto: &Moto, network: (String, String), project: &str) -> World {
        let (subnet, sg) = network;
        // Tasks stop when stopped, as on ECS, not on the emulator's own schedule (as jobgen dev sets it).
        jobgen_local::deploy::hold_emulator_tasks(&moto.endpoint).await.unwrap();
        let sdk = moto.sdk_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let table = format!("jobs-{project}");
        create_jobs_table(&ddb, &table).await;
        let cluster = format!("cluster-{project}");
        let cluster_arn = create_fargate_cluster(&ecs, &cluster).await;
        let family = format!("{REPORT}-{project}");
        let task_definition_arn = register_task_definition(&ecs, &family, CONTAINER).await;
        let entry = |task_definition: String, cluster: usize, capacity: Capacity| JobTypeEntry {
            task_definition,
            cluster,
            network: 0,
            capacity,
            container: CONTAINER.to_string(),
            architecture: Architecture::X86_64,
            max_concurrency: None,
            // The tests pass `command` to every job type.
            allow_command_override: true,
            allowed_environment: None,
            timeout_seconds: None,
            start_timeout_seconds: None,
            retry: None,
            progress: false,
        };
        let launch_table = LaunchTable {
            version: contract::CONFIG_VERSION,
            clusters: vec![cluster, format!("no-such-cluster-{project}")],
            networks: vec![Network { subnets: vec![subnet], security_groups: vec![sg], assign_public_ip: false }],
            job_types: BTreeMap::from([
                (REPORT.to_string(), entry(format!("{family}:1"), 0, Capacity::Fargate)),
                (SPOT_REPORT.to_string(), entry(format!("{family}:1"), 0, Capacity::FargateSpot)),
                (BROKEN.to_string(), entry(format!("missing-{project}:7"), 0, Capacity::Fargate)),
                (LOST.to_string(), entry(format!("{family}:1"), 1, Capacity::Fargate)),
            ]),
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
        World { config, ddb, ecs, cluster_arn, task_definition_arn }
    }

    /// The store.
    pub fn store(&self) -> Store {
        Store::new(self.ddb.clone(), self.config.table_name.clone())
    }

    /// A job's item as stored (every attribute, also those a [`jobgen_runtime::job::Job`] does not
    /// carry, such as the listing indexes' keys); empty when there is none.
    pub async fn record(
        &self,
        job_id: &str,
    ) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        let key = aws_sdk_dynamodb::types::AttributeValue::S(job_id.to_string());
        let out = self
            .ddb
            .get_item()
            .table_name(&self.config.table_name)
            .key(contract::KEY_ATTR, key)
            .consistent_read(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetItem {job_id}: {e:?}"));
        out.item.unwrap_or_default()
    }

    /// A create-job handler launching on the emulator's ECS.
    pub fn create_job(&self) -> CreateJob<aws_sdk_ecs::Client> {
        self.create_job_with(self.ecs.clone())
    }

    /// A create-job handler over another RunTask implementation (the scripted double).
    pub fn create_job_with<A: RunTaskApi>(&self, api: A) -> CreateJob<A> {
        CreateJob::new(self.store(), Launcher::new(api, RetryPolicy::immediate(3)), self.config.clone())
    }

    /// The track handler.
    pub fn tracker(&self) -> Tracker {
        Tracker::new(self.store(), self.config.clone())
    }

    /// ARNs of the tasks this project started (ListTasks by startedBy), all desired statuses.
    pub async fn task_arns(&self) -> Vec<String> {
        let mut arns = Vec::new();
        for cluster in [&self.config.launch_table.clusters[0]] {
            let out = self
                .ecs
                .list_tasks()
                .cluster(cluster)
                .started_by(contract::started_by(&self.config.project))
                .send()
                .await
                .unwrap();
            arns.extend(out.task_arns().iter().cloned());
        }
        arns
    }

    /// One task, described.
    pub async fn describe(&self, task_arn: &str) -> aws_sdk_ecs::types::Task {
        let out = self
            .ecs
            .describe_tasks()
            .cluster(&self.config.launch_table.clusters[0])
            .tasks(task_arn)
            .send()
            .await
            .unwrap();
        out.tasks().first().cloned().unwrap()
    }
}

/// Counts AWS API calls by operation (the `X-Amz-Target` of each request sent, retries included):
/// the measured side of the runtime's "AWS calls per job and per event".
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, u32>>>);

impl CallCounter {
    /// Calls so far, by operation name.
    pub fn counts(&self) -> BTreeMap<String, u32> {
        self.0.lock().unwrap().clone()
    }

    /// Forgets the calls so far.
    pub fn reset(&self) {
        self.0.lock().unwrap().clear();
    }
}

impl aws_sdk_dynamodb::config::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        Ok(())
    }
}

impl World {
    /// A store and an ECS client whose calls `counter` counts.
    pub async fn counted(&self, counter: &CallCounter) -> (Store, aws_sdk_ecs::Client) {
        let sdk = moto().sdk_config().await;
        let ddb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(counter.clone()).build(),
        );
        let ecs = aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::config::Builder::from(&sdk).interceptor(counter.clone()).build(),
        );
        (Store::new(ddb, self.config.table_name.clone()), ecs)
    }
}

/// A real-shaped event sequence from `tests/fixtures/events/sequences/`.
pub struct Fixture {
    /// The job type the sequence is written for.
    pub job_type: String,
    /// Record attributes the sequence must end with.
    pub expect: serde_json::Map<String, Value>,
    /// Event text with placeholders.
    pub events: Vec<String>,
}

/// Reads the sequence `name`.
pub fn fixture(name: &str) -> Fixture {
    let path = jobgen_tests::repo_root().join(format!("tests/fixtures/events/sequences/{name}.json"));
    let value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    Fixture {
        job_type: value["jobType"].as_str().unwrap().to_string(),
        expect: value["expect"].as_object().unwrap().clone(),
        events: value["events"].as_array().unwrap().iter().map(Value::to_string).collect(),
    }
}

/// Deterministic Fisher-Yates (64-bit LCG): the same seed always gives the same order.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    for i in (1..items.len()).rev() {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let j = usize::try_from((state >> 33) % (i as u64 + 1)).unwrap();
        items.swap(i, j);
    }
}

/// The event `text` (a fixture event with placeholders) for one job's task in `world`.
pub fn event(world: &World, text: &str, job_id: &str, task_arn: &str, job_type: &str) -> Value {
    let cluster = &world.config.launch_table.clusters[0];
    let text = text
        .replace("{{JOB_ID}}", job_id)
        .replace("{{JOB_TYPE}}", job_type)
        .replace("{{PROJECT}}", &world.config.project)
        .replace("{{TASK_ARN}}", task_arn)
        .replace("{{CLUSTER_ARN}}", &world.cluster_arn)
        .replace("{{CLUSTER}}", cluster)
        .replace("{{TASK_DEFINITION_ARN}}", &world.task_definition_arn);
    serde_json::from_str(&text).unwrap()
}
