//! Shared helpers for the integration tests: a moto server per test binary, AWS SDK clients pointed at
//! it, and paths into the repository.
//!
//! The moto server comes from the pinned tools venv (`make tools`); `JOBGEN_VENV_BIN` (set by the
//! Makefile) or `.venv/tools/bin` finds it. Tests never reach a real AWS endpoint: clients always get
//! the emulator's endpoint and fake credentials.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

// moto's own server, started from the venv's Python with two changes the tests need:
// - a watchdog thread exits the server when the test binary is gone: a `static` (see [`Moto::shared`])
//   is never dropped, so without it every test binary would leave a server running;
// - `threaded` is a choice. Stock moto answers each request on its own thread, and its DynamoDB
//   backend checks a condition and writes the item without a lock, so two concurrent conditional
//   writes to one item can both pass — which real DynamoDB never allows. Tests of exactly-once
//   behaviour use a serial server: requests still arrive concurrently, but a lost race in the
//   handler shows up as a real failure instead of an emulator artifact.
const MOTO_SERVER: &str = r#"
import os, sys, threading, time
parent = os.getppid()
def watchdog():
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watchdog, daemon=True).start()
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
run_simple("127.0.0.1", int(sys.argv[1]), DomainDispatcherApplication(create_backend_app),
           threaded=sys.argv[2] == "threaded", request_handler=MotoRequestHandler)
"#;

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
    #[allow(clippy::panic)]
    fn spawn(threaded: bool) -> Moto {
        let python = venv_bin().join("python");
        let port = free_port();
        let child = Command::new(&python)
            .args(["-c", MOTO_SERVER, &port.to_string(), if threaded { "threaded" } else { "serial" }])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto with {}: {e} (run `make tools`)", python.display()));
        let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto server on port {port} did not answer within 30s");
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
