//! Shared helpers for the integration tests: a moto server per test binary, AWS SDK clients pointed at
//! it, and paths into the repository.
//!
//! The moto server comes from the pinned tools venv (`make tools`); `JOBGEN_VENV_BIN` (set by the
//! Makefile) or `.venv/tools/bin` finds it. Tests never reach a real AWS endpoint: clients always get
//! the emulator's endpoint and fake credentials.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
use jobgen_runtime::contract;

/// `jobgen dev`'s deploy options for a test in process: the project at `config` into `moto` (stack
/// `stack`, or jobgen dev's default name), placeholder handler zips (`no_zips` does not exist: the
/// emulator never runs them), any free Invoke port.
pub fn dev_options(moto: &Moto, config: PathBuf, stack: Option<&str>, no_zips: &Path) -> jobgen_local::DevOptions {
    jobgen_local::DevOptions {
        config,
        emulator: jobgen_local::Emulator { endpoint: moto.endpoint.clone(), region: "us-east-1".into() },
        stack: stack.map(str::to_string),
        lambda_dir: no_zips.join("no-zips"),
        port: 0,
        sim: jobgen_local::sim::SimOptions::default(),
        env_file: None,
    }
}

/// Deploys `options` into its emulator as `jobgen dev` does and builds the handlers from the
/// deployed stack. Panics (failing the test) on any error.
#[allow(clippy::panic)]
pub async fn deploy_and_connect(options: &jobgen_local::DevOptions) -> jobgen_local::LocalStack {
    let stack = jobgen_local::deploy(options).await.unwrap_or_else(|e| panic!("deploy: {e}"));
    jobgen_local::LocalStack::connect(&options.emulator, &stack).await.unwrap_or_else(|e| panic!("connect: {e}"))
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The tools venv's bin directory.
pub fn venv_bin() -> PathBuf {
    std::env::var_os("JOBGEN_VENV_BIN").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv/tools/bin"))
}

/// A running moto server, stopped when dropped.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// moto's own server, started from the venv's Python with two changes the tests need:
// - a watchdog thread exits the server when the test binary is gone: a `static` (see [`Moto::shared`])
//   is never dropped, so without it every test binary would leave a server running;
// - `threaded` is a choice. Stock moto answers each request on its own thread, and its DynamoDB
//   backend checks a condition and writes the item without a lock, so two concurrent conditional
//   writes to one item can both pass — which real DynamoDB never allows. Tests of exactly-once
//   behaviour use a serial server: requests still arrive concurrently, but a lost race in the
//   handler shows up as a real failure instead of an emulator artifact.
const MOTO_SERVER: &str = include_str!("../../scripts/moto_server.py");

impl Moto {
    /// Starts a fresh, multi-threaded moto server on a free loopback port and waits until it answers.
    pub fn start() -> Moto {
        Moto::spawn(true)
    }

    /// Starts a fresh moto server that handles one request at a time, so DynamoDB conditional writes
    /// are atomic as they are on AWS (see the note on `MOTO_SERVER`).
    pub fn start_serial() -> Moto {
        Moto::spawn(false)
    }

    /// Panics (failing the test) with the reason when moto cannot start: the tests cannot run without it.
    ///
    /// The server takes a free port itself and names it on its first stdout line once it listens. A
    /// port picked here and probed with connect() could be taken by another process before moto
    /// binds it, and a probe of an unbound port in the ephemeral range can connect to itself (TCP
    /// simultaneous open): either way the test would get an endpoint nobody serves.
    #[allow(clippy::panic)]
    fn spawn(threaded: bool) -> Moto {
        let python = venv_bin().join("python");
        let mut child = Command::new(&python)
            .args(["-c", MOTO_SERVER, "0", if threaded { "threaded" } else { "serial" }])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto with {}: {e} (run `make tools`)", python.display()));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("moto's stdout is piped"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
            let _ = tx.send(lines.next());
            // Keep draining, so the server never writes into a closed pipe.
            lines.for_each(drop);
        });
        let mut moto = Moto { child, endpoint: String::new() };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(Ok(line))) => match line.strip_prefix("listening on ") {
                Some(address) => moto.endpoint = format!("http://{address}"),
                None => panic!("moto server printed {line:?} instead of its address"),
            },
            Ok(other) => panic!("moto server exited before listening ({other:?}, {:?})", moto.child.try_wait()),
            Err(_) => panic!("moto server did not listen within 60s"),
        }
        moto
    }

    /// One multi-threaded moto server shared by every test in this test binary (tests use unique
    /// resource names). It exits with the test binary.
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(Moto::start)
    }

    /// One serial moto server shared by every test in this test binary; see [`Moto::start_serial`].
    pub fn shared_serial() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(Moto::start_serial)
    }

    /// Environment for a child process (aws CLI, handlers) that must talk to this emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// AWS SDK config pointed at this emulator.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await
    }
}

impl Moto {
    /// Runs the pinned AWS CLI against this emulator and returns its trimmed text output; a failing
    /// command fails the test with the CLI's message.
    #[allow(clippy::panic)]
    pub fn aws_cli(&self, args: &[&str]) -> String {
        let output = Command::new(venv_bin().join("aws"))
            .args(args)
            .args(["--endpoint-url", &self.endpoint, "--output", "text"])
            .envs(self.env())
            .output()
            .unwrap_or_else(|e| panic!("cannot run the aws CLI (make tools): {e}"));
        assert!(output.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Creates a VPC (`10.N.0.0/16`) with a subnet and a security group named `name`, as FARGATE RunTask
    /// in moto needs, and returns `(subnet id, security group id)`.
    pub fn create_network(&self, n: u8, name: &str) -> (String, String) {
        let vpc =
            self.aws_cli(&["ec2", "create-vpc", "--cidr-block", &format!("10.{n}.0.0/16"), "--query", "Vpc.VpcId"]);
        // moto's RunTask builds the task ENI's private DNS name and answers HTTP 500 without it.
        self.aws_cli(&["ec2", "modify-vpc-attribute", "--vpc-id", &vpc, "--enable-dns-hostnames", r#"{"Value":true}"#]);
        let cidr = format!("10.{n}.1.0/24");
        let subnet = self.aws_cli(&[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            &cidr,
            "--query",
            "Subnet.SubnetId",
        ]);
        let description = format!("jobgen test network {name}");
        let sg = self.aws_cli(&[
            "ec2",
            "create-security-group",
            "--group-name",
            name,
            "--description",
            &description,
            "--vpc-id",
            &vpc,
            "--query",
            "GroupId",
        ]);
        (subnet, sg)
    }
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, BuildError> {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build()
}

fn string_attr(name: &str) -> Result<AttributeDefinition, BuildError> {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
}

/// A listing index: by shard, sorted by `sort`, projecting the job type.
fn listing_index(name: &str, sort: &str) -> Result<GlobalSecondaryIndex, BuildError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key_element(contract::SHARD_ATTR, KeyType::Hash)?)
        .key_schema(key_element(sort, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .non_key_attributes(contract::JOB_TYPE_ATTR)
                .build(),
        )
        .build()
}

/// The sparse queue index: queue key and order, keys only (admission reads the job item itself).
fn queue_index() -> Result<GlobalSecondaryIndex, BuildError> {
    GlobalSecondaryIndex::builder()
        .index_name(contract::INDEX_BY_QUEUE)
        .key_schema(key_element(contract::QUEUE_KEY_ATTR, KeyType::Hash)?)
        .key_schema(key_element(contract::QUEUE_ORDER_ATTR, KeyType::Range)?)
        .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
        .build()
}

/// Creates a jobs table exactly as the contract (and so the synthesized stack) describes it.
#[allow(clippy::panic)]
pub async fn create_jobs_table(ddb: &aws_sdk_dynamodb::Client, table: &str) {
    let build = || -> Result<_, BuildError> {
        Ok(ddb
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key_element(contract::KEY_ATTR, KeyType::Hash)?)
            .attribute_definitions(string_attr(contract::KEY_ATTR)?)
            .attribute_definitions(string_attr(contract::SHARD_ATTR)?)
            .attribute_definitions(string_attr(contract::CREATED_AT_ATTR)?)
            .attribute_definitions(string_attr(contract::OPEN_SINCE_ATTR)?)
            .attribute_definitions(string_attr(contract::QUEUE_KEY_ATTR)?)
            .attribute_definitions(string_attr(contract::QUEUE_ORDER_ATTR)?)
            .global_secondary_indexes(listing_index(contract::INDEX_BY_CREATED, contract::CREATED_AT_ATTR)?)
            .global_secondary_indexes(listing_index(contract::INDEX_OPEN, contract::OPEN_SINCE_ATTR)?)
            .global_secondary_indexes(queue_index()?))
    };
    let request = build().unwrap_or_else(|e| panic!("table definition: {e}"));
    request.send().await.unwrap_or_else(|e| panic!("create table {table}: {e:?}"));
}

/// Creates an ECS cluster with both Fargate capacity providers and returns its ARN.
#[allow(clippy::panic)]
pub async fn create_fargate_cluster(ecs: &aws_sdk_ecs::Client, name: &str) -> String {
    let out = ecs
        .create_cluster()
        .cluster_name(name)
        .capacity_providers("FARGATE")
        .capacity_providers("FARGATE_SPOT")
        .send()
        .await
        .unwrap_or_else(|e| panic!("create cluster {name}: {e:?}"));
    out.cluster().and_then(|c| c.cluster_arn()).unwrap_or_default().to_string()
}

/// Registers a small FARGATE task definition (256 cpu, 512 MiB, busybox) with one essential container
/// and returns its ARN.
#[allow(clippy::panic)]
pub async fn register_task_definition(ecs: &aws_sdk_ecs::Client, family: &str, container: &str) -> String {
    let out = ecs
        .register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name(container)
                .image("public.ecr.aws/docker/library/busybox:1.36")
                // moto's FARGATE RunTask needs a container-level memory.
                .memory(512)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("register task definition {family}: {e:?}"));
    out.task_definition().and_then(|t| t.task_definition_arn()).unwrap_or_default().to_string()
}
