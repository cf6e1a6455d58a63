//! Runtime benchmarks (`make bench-runtime`): the Lambda zip sizes, each handler's cold-start init and
//! invocation durations measured locally, the job record's DynamoDB size, and the control-plane cost
//! per million jobs they imply. Writes the `## Runtime` section of BENCHMARKS.md (other sections are
//! kept) and prints it.
//!
//! Cold start: the released x86_64 `bootstrap` (it runs natively here) is started N times under a
//! minimal Lambda Runtime API served by this program; init is the time from spawning the process to
//! its first `GET /runtime/invocation/next`. Each process then gets one invocation (the cold one) and
//! a second (warm) against a moto server holding the stack, so the durations include real SDK calls
//! (PutItem, RunTask, UpdateItem) to a local emulator, not to AWS.
//!
//! Inputs (set by the Makefile): `JOBGEN_BENCH_DIR` (default `target/bench-runtime`, holding
//! `{arm64,x86_64}/{create-job,track}.zip` and the unzipped `{arm64,x86_64}/{create-job,track}/bootstrap`),
//! `JOBGEN_BENCH_RUNS` (default 20), `JOBGEN_BENCH_OUT` (default `BENCHMARKS.md`).
//!
//! A benchmark is not a test: `cargo test --all-targets` runs bench targets without `--bench`, and
//! this one then does nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../local_stack.rs"]
mod local_stack;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use jobgen_runtime::contract;
use jobgen_tests::repo_root;
use local_stack::{REPORT, Stack};
use serde_json::{Value, json};

const HANDLERS: [&str; 2] = ["create-job", "track"];
const ARCHES: [&str; 2] = ["arm64", "x86_64"];
/// The Lambda memory size the generator configures by default (lambda.memory_mb).
const MEMORY_MB: u64 = 256;
/// How long one step may take before the benchmark gives up (a hung handler is a failure).
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

// List prices (us-east-1) the cost section uses.
const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
const LAMBDA_GB_S_ARM64: f64 = 0.000_013_333_4;
const LAMBDA_GB_S_X86_64: f64 = 0.000_016_666_7;
const DDB_PER_MILLION_WRU: f64 = 0.625;
const DDB_PER_MILLION_RRU: f64 = 0.125;

// ---------------------------------------------------------------------------------------------
// A minimal Lambda Runtime API: just what lambda_runtime calls.

/// What the Runtime API saw.
enum Seen {
    /// `GET /runtime/invocation/next`; the event to hand out goes into the sender.
    Next { at: Instant, reply: Sender<(String, String)> },
    /// `POST /runtime/invocation/{id}/response` or `/error`.
    Done { at: Instant, id: String, body: String, error: bool },
    /// `POST /runtime/init/error`.
    InitError(String),
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, path, body })
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &str) -> Option<()> {
    let mut out = format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    stream.write_all(out.as_bytes()).ok()
}

fn serve_connection(stream: TcpStream, seen: Sender<Seen>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader) {
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let path = req.path.trim_start_matches("/2018-06-01");
        if req.method == "GET" && path == "/runtime/invocation/next" {
            let (tx, rx) = mpsc::channel();
            if seen.send(Seen::Next { at: Instant::now(), reply: tx }).is_err() {
                return;
            }
            // The benchmark hands out the next event, or drops the sender to end this process.
            let Ok((id, event)) = rx.recv() else { return };
            let deadline_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 30_000;
            let headers = [
                ("lambda-runtime-aws-request-id", id),
                ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
                ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench".into()),
                ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0".into()),
            ];
            if respond(&mut writer, "200 OK", &headers, &event).is_none() {
                return;
            }
        } else if let Some(rest) = path.strip_prefix("/runtime/invocation/") {
            let (id, kind) = rest.rsplit_once('/').unwrap_or((rest, ""));
            let done = Seen::Done { at: Instant::now(), id: id.to_string(), body, error: kind == "error" };
            let _ = seen.send(done);
            respond(&mut writer, "202 Accepted", &[], r#"{"status":"OK"}"#);
        } else if path == "/runtime/init/error" {
            let _ = seen.send(Seen::InitError(body));
            respond(&mut writer, "202 Accepted", &[], r#"{"status":"OK"}"#);
        } else {
            respond(&mut writer, "404 Not Found", &[], "{}");
        }
    }
}

/// The Runtime API stub: one listener, one thread per connection, everything reported on a channel.
struct RuntimeApi {
    address: String,
    seen: Receiver<Seen>,
}

impl RuntimeApi {
    fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (tx, seen) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let tx = tx.clone();
                std::thread::spawn(move || serve_connection(stream, tx));
            }
        });
        RuntimeApi { address, seen }
    }

    fn next(&self, log: &Path) -> (Instant, Sender<(String, String)>) {
        match self.seen.recv_timeout(STEP_TIMEOUT) {
            Ok(Seen::Next { at, reply }) => (at, reply),
            Ok(Seen::InitError(body)) => panic!("the handler failed to initialize: {body} (log: {})", log.display()),
            Ok(Seen::Done { id, .. }) => panic!("unexpected response for {id} while waiting for the next poll"),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                panic!("the handler did not poll the Runtime API within {STEP_TIMEOUT:?} (log: {})", log.display())
            }
        }
    }

    fn done(&self, expected_id: &str, log: &Path) -> (Instant, Value) {
        match self.seen.recv_timeout(STEP_TIMEOUT) {
            Ok(Seen::Done { at, id, body, error }) => {
                assert_eq!(id, expected_id, "response for the wrong invocation");
                assert!(!error, "invocation {id} failed: {body} (log: {})", log.display());
                (at, serde_json::from_str(&body).unwrap_or(Value::String(body)))
            }
            Ok(Seen::InitError(body)) => panic!("init error: {body}"),
            Ok(Seen::Next { .. }) => panic!("the handler polled again without answering {expected_id}"),
            Err(_) => panic!("no answer to {expected_id} within {STEP_TIMEOUT:?} (log: {})", log.display()),
        }
    }

    fn drain(&self) {
        while self.seen.try_recv().is_ok() {}
    }
}

/// One cold start of one handler process and its first (cold) and second (warm) invocations.
struct Run {
    init_ms: f64,
    cold_ms: f64,
    warm_ms: f64,
    max_rss_kib: u64,
    answers: [Value; 2],
}

fn max_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run_once(api: &RuntimeApi, bin: &Path, env: &[(&str, String)], events: [String; 2], log: &Path) -> Run {
    api.drain();
    let log_file = std::fs::File::create(log).unwrap();
    let started = Instant::now();
    let mut child = Command::new(bin)
        // Only the function's environment: nothing from this shell (no real credentials) leaks in.
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let (polled, reply) = api.next(log);
    let init_ms = ms(polled - started);
    let mut durations = [0.0; 2];
    let mut answers = [Value::Null, Value::Null];
    let mut reply = reply;
    for (i, event) in events.into_iter().enumerate() {
        let id = format!("bench-{}-{i}", child.id());
        let sent = Instant::now();
        reply.send((id.clone(), event)).unwrap();
        let (at, answer) = api.done(&id, log);
        durations[i] = ms(at - sent);
        answers[i] = answer;
        reply = api.next(log).1;
    }
    let max_rss_kib = max_rss_kib(child.id());
    drop(reply);
    let _ = child.kill();
    let _ = child.wait();
    Run { init_ms, cold_ms: durations[0], warm_ms: durations[1], max_rss_kib, answers }
}

// ---------------------------------------------------------------------------------------------
// DynamoDB item size, by the rules DynamoDB bills with.

fn number_size(n: &str) -> usize {
    let digits: String = n.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(items) => 3 + items.iter().map(|i| 1 + value_size(i)).sum::<usize>(),
        AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
        AttributeValue::Ss(items) => items.iter().map(String::len).sum(),
        AttributeValue::Ns(items) => items.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(items) => items.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

async fn record_size(stack: &Stack, job_id: &str) -> usize {
    let out = stack
        .ddb
        .get_item()
        .table_name(&stack.config.table_name)
        .key(contract::KEY_ATTR, AttributeValue::S(job_id.to_string()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    item_size(out.item().unwrap())
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report.

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

struct Stats {
    median: f64,
    p90: f64,
}

fn stats(values: &[f64]) -> Stats {
    Stats { median: percentile(values, 50.0), p90: percentile(values, 90.0) }
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or_else(|e| {
        panic!("{}: {e} (run `make bench-runtime`, which packages both architectures first)", path.display())
    })
}

/// `document` with the `heading` section (up to the next `## ` heading) replaced by `section`, or
/// with `section` appended when there is none: other tools own the other sections.
fn replace_section(document: &str, heading: &str, section: &str) -> String {
    let start = if document.starts_with(&format!("{heading}\n")) {
        Some(0)
    } else {
        document.find(&format!("\n{heading}\n")).map(|i| i + 1)
    };
    let Some(start) = start else {
        let base = document.trim_end();
        let base = if base.is_empty() { "# Benchmarks" } else { base };
        return format!("{base}\n\n{section}");
    };
    let body = start + heading.len();
    match document[body..].find("\n## ") {
        Some(i) => format!("{}{section}\n{}", &document[..start], &document[body + i + 1..]),
        None => format!("{}{section}", &document[..start]),
    }
}

fn host() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let load =
        std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| s.split_whitespace().next().map(str::to_string));
    format!("{cpu}, {cores} cores, load average {} at the start", load.unwrap_or_else(|| "?".into()))
}

#[allow(clippy::too_many_lines)]
fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("runtime benchmark skipped: run it with `make bench-runtime`");
        return;
    }
    let root = repo_root();
    let dir = std::env::var_os("JOBGEN_BENCH_DIR").map_or_else(|| root.join("target/bench-runtime"), PathBuf::from);
    let runs: usize = std::env::var("JOBGEN_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(20).max(1);
    let out = std::env::var_os("JOBGEN_BENCH_OUT").map_or_else(|| root.join("BENCHMARKS.md"), PathBuf::from);
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();

    // Sizes first: they need no emulator.
    let mut sizes = Vec::new();
    for arch in ARCHES {
        for handler in HANDLERS {
            sizes.push((arch, handler, file_size(&dir.join(arch).join(format!("{handler}.zip")))));
        }
    }
    let host = host();

    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let stack = tokio.block_on(Stack::deploy("bench"));
    let mut env = stack.function_env();
    env.retain(|(k, _)| *k != "RUST_LOG");
    for (k, v) in [
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench".to_string()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".to_string()),
    ] {
        env.push((k, v));
    }
    let api = RuntimeApi::start();

    // create-job: two new jobs per process (cold, then warm), each 1 PutItem + 1 RunTask + 1 UpdateItem.
    let bin = dir.join("x86_64/create-job/bootstrap");
    let mut create_runs = Vec::new();
    let mut jobs: Vec<(String, String)> = Vec::new();
    let mut fn_env = env.clone();
    fn_env.push(("AWS_LAMBDA_FUNCTION_NAME", "create-job".to_string()));
    for run in 0..runs {
        let request = |i: usize| {
            json!({
                "jobType": REPORT,
                "idempotencyKey": format!("bench-{run}-{i}"),
                "environment": {"INPUT": "s3://bucket/input.csv", "OUTPUT": "s3://bucket/output/"},
                "metadata": {"requestedBy": "bench"},
            })
            .to_string()
        };
        let r = run_once(&api, &bin, &fn_env, [request(0), request(1)], &logs.join("create-job.log"));
        for answer in &r.answers {
            assert_eq!(answer["statusCode"], 201, "create-job did not create the job: {answer}");
            jobs.push((answer["jobId"].as_str().unwrap().to_string(), answer["taskArn"].as_str().unwrap().to_string()));
        }
        create_runs.push(r);
    }
    let size_submitted_or_started = tokio.block_on(record_size(&stack, &jobs[0].0));

    // track: RUNNING then STOPPED of one job per process, as the rule delivers them.
    let bin = dir.join("x86_64/track/bootstrap");
    let mut track_runs = Vec::new();
    let mut fn_env = env.clone();
    fn_env.push(("AWS_LAMBDA_FUNCTION_NAME", "track".to_string()));
    for (job_id, task_arn) in jobs.iter().take(runs) {
        let (_, events) = stack.sequence("success.json", job_id, task_arn);
        let pick =
            |status: &str| events.iter().find(|e| e["detail"]["lastStatus"] == status).map(Value::to_string).unwrap();
        let r = run_once(&api, &bin, &fn_env, [pick("RUNNING"), pick("STOPPED")], &logs.join("track.log"));
        for answer in &r.answers {
            assert_eq!(answer["outcome"], "applied", "track did not apply the event: {answer}");
        }
        track_runs.push(r);
    }
    let size_stopped = tokio.block_on(record_size(&stack, &jobs[0].0));

    let col = |runs: &[Run], f: fn(&Run) -> f64| stats(&runs.iter().map(f).collect::<Vec<_>>());
    let create_init = col(&create_runs, |r| r.init_ms);
    let create_cold = col(&create_runs, |r| r.cold_ms);
    let create_warm = col(&create_runs, |r| r.warm_ms);
    let track_init = col(&track_runs, |r| r.init_ms);
    let track_cold = col(&track_runs, |r| r.cold_ms);
    let track_warm = col(&track_runs, |r| r.warm_ms);
    let rss = |runs: &[Run]| runs.iter().map(|r| r.max_rss_kib).max().unwrap_or(0);

    // ---- the report ----
    let mut s = String::new();
    let _ = writeln!(s, "## Runtime\n");
    let _ = writeln!(
        s,
        "Measured by `make bench-runtime` (`tests/benches/runtime.rs`); {runs} cold starts per handler on {host}.\n"
    );
    let _ = writeln!(s, "### Lambda zips (`make package`, release: opt-level z, LTO, 1 codegen unit, stripped)\n");
    let _ = writeln!(s, "| handler | arm64 | x86_64 | budget |");
    let _ = writeln!(s, "|---|---|---|---|");
    for handler in HANDLERS {
        let size = |arch: &str| sizes.iter().find(|(a, h, _)| *a == arch && *h == handler).map_or(0, |s| s.2);
        let (arm, x86) = (size("arm64"), size("x86_64"));
        let ok = if arm.max(x86) <= 4 * 1024 * 1024 { "within 4 MiB" } else { "OVER 4 MiB" };
        let _ = writeln!(s, "| {handler} | {} ({arm} B) | {} ({x86} B) | {ok} |", mib(arm), mib(x86));
    }
    let _ = writeln!(
        s,
        "\nOne TLS stack (rustls with aws-lc-rs), AWS SDK crates with default features off. Most of each binary is \
         the AWS SDK (aws-config pulls in the STS client and `url`/ICU for its credential chain) and aws-lc-rs."
    );
    let _ = writeln!(s, "\n### Cold start and invocation time (x86_64 release binary, run natively)\n");
    let _ = writeln!(
        s,
        "Init = process spawn → first `GET /runtime/invocation/next` on a local Runtime API stub (reading the \
         configuration, building the SDK clients). Invocations run against a local moto server, so they measure \
         the handler plus moto's latency, not AWS's: real DynamoDB and especially RunTask answer slower (RunTask \
         typically takes 100+ ms). Memory is the largest peak RSS over the runs.\n"
    );
    let _ = writeln!(
        s,
        "| handler | init median | init p90 | 1st invoke median (p90) | warm invoke median (p90) | peak RSS |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for (name, init, cold, warm, peak) in [
        ("create-job (PutItem + RunTask + UpdateItem)", &create_init, &create_cold, &create_warm, rss(&create_runs)),
        ("track (1 UpdateItem)", &track_init, &track_cold, &track_warm, rss(&track_runs)),
    ] {
        let _ = writeln!(
            s,
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms ({:.1}) | {:.1} ms ({:.1}) | {:.1} MiB |",
            init.median,
            init.p90,
            cold.median,
            cold.p90,
            warm.median,
            warm.p90,
            peak as f64 / 1024.0
        );
    }

    // ---- calls and cost ----
    let wru = |bytes: usize| bytes.div_ceil(1024) as u64;
    let (w_put, w_upd) = (wru(size_submitted_or_started), wru(size_stopped.max(size_submitted_or_started)));
    // Index writes: explained in the report text below. An index entry is the keys and the job
    // type, far under 1 KB: 1 WRU each.
    let table_writes = 4u64; // PutItem, UpdateItem (launch), UpdateItem (RUNNING), UpdateItem (STOPPED)
    let index_writes = 3u64; // byCreated entry, open entry in (PutItem) and out (STOPPED)
    let wru_table_only = w_put + 3 * w_upd;
    let wru_with_gsi = wru_table_only + index_writes;
    let ddb_table_only = wru_table_only as f64 * DDB_PER_MILLION_WRU;
    let ddb_with_gsi = wru_with_gsi as f64 * DDB_PER_MILLION_WRU;
    let requests = 3.0 * LAMBDA_PER_MILLION_REQUESTS;
    let gb = MEMORY_MB as f64 / 1024.0;
    // Billed duration per job (ms, warm): create-job + 2 track invocations; cold adds init (custom
    // runtimes are billed for init).
    let warm_ms = create_warm.median + 2.0 * track_warm.median;
    let cold_ms = create_init.median + create_cold.median + 2.0 * (track_init.median + track_cold.median);
    let gb_s = |ms_per_job: f64| ms_per_job / 1000.0 * gb * 1_000_000.0;
    let compute = |ms_per_job: f64, price: f64| gb_s(ms_per_job) * price;
    let total = |compute: f64| requests + compute + ddb_with_gsi;

    let _ = writeln!(s, "\n### AWS calls per event and per job (from the code paths in `runtime/src`)\n");
    let _ = writeln!(s, "| path | calls |");
    let _ = writeln!(s, "|---|---|");
    let _ = writeln!(s, "| create-job, new job | 1 PutItem (conditional) + 1 RunTask + 1 UpdateItem (record launch) |");
    let _ = writeln!(
        s,
        "| create-job, replay of an existing key | 1 PutItem (fails its condition, returns the old item: no read) |"
    );
    let _ = writeln!(
        s,
        "| create-job, RunTask throttled / no capacity | 1 PutItem + up to 4 RunTask (0.2/0.4/0.8 s backoff) + 1 UpdateItem (record failure) |"
    );
    let _ = writeln!(
        s,
        "| track, per delivered event of this stack | 1 UpdateItem (conditional on `detail.version`, no read) |"
    );
    let _ = writeln!(s, "| track, duplicate or stale event | 1 UpdateItem that fails its condition (still billed) |");
    let _ = writeln!(s, "| track, foreign or malformed event | none |");
    let _ = writeln!(
        s,
        "\nThe rule matches `lastStatus` RUNNING and STOPPED only, so a job that runs gets 2 track invocations \
         (ECS may send a second RUNNING event when the desired status turns STOPPED: then 3). Per job: \
         3 Lambda invocations, 1 RunTask, 1 PutItem + 3 UpdateItem = {table_writes} table writes, 0 reads."
    );

    let _ = writeln!(s, "\n### Control-plane cost per million jobs (list prices, us-east-1)\n");
    let _ = writeln!(
        s,
        "Job record measured in DynamoDB item-size terms: {size_submitted_or_started} B after launch, \
         {size_stopped} B after STOPPED (2 env vars, small metadata): the PutItem is {w_put} WRU and each \
         UpdateItem {w_upd} WRU (billed on the larger of the old and new item). This record is close to the \
         1 KB step: larger environments or metadata make every write 2 WRU and double the DynamoDB rows.\n"
    );
    let _ = writeln!(s, "| item | arithmetic | per 1M jobs |");
    let _ = writeln!(s, "|---|---|---|");
    let _ = writeln!(s, "| Lambda requests | 3 invocations × 1M × $0.20/1M | ${requests:.2} |");
    for (arch, price) in [("arm64", LAMBDA_GB_S_ARM64), ("x86_64", LAMBDA_GB_S_X86_64)] {
        let _ = writeln!(
            s,
            "| Lambda compute, {arch}, all warm | ({:.1} + 2 × {:.1}) ms × {gb} GB × 1M = {:.0} GB-s × ${price} | ${:.2} |",
            create_warm.median,
            track_warm.median,
            gb_s(warm_ms),
            compute(warm_ms, price)
        );
        let _ = writeln!(
            s,
            "| Lambda compute, {arch}, all cold (init billed) | {:.1} ms × {gb} GB × 1M = {:.0} GB-s × ${price} | ${:.2} |",
            cold_ms,
            gb_s(cold_ms),
            compute(cold_ms, price)
        );
    }
    let _ = writeln!(
        s,
        "| DynamoDB writes, table only | ({w_put} + 3 × {w_upd}) WRU × 1M × $0.625/1M | ${ddb_table_only:.2} |"
    );
    let _ = writeln!(
        s,
        "| DynamoDB writes incl. the indexes (byCreated 1, open 2) | ({w_put} + 3 × {w_upd} + {index_writes}) WRU × 1M × $0.625/1M | ${ddb_with_gsi:.2} |"
    );
    let _ = writeln!(
        s,
        "| for comparison: the earlier layout (byStatus and byType, projection ALL) | (3 × {w_put} + 3 × 4 × {w_upd}) WRU × 1M × $0.625/1M | ${:.2} |",
        (3 * w_put + 3 * 4 * w_upd) as f64 * DDB_PER_MILLION_WRU
    );
    let _ = writeln!(s, "| DynamoDB reads | 0 RRU (no reads on the job path) × ${DDB_PER_MILLION_RRU}/1M | $0.00 |");
    let _ = writeln!(s, "| EventBridge | ECS events on the default bus are free | $0.00 |");
    let _ = writeln!(s, "| SQS dead-letter queue | only failed deliveries | $0.00 |");
    let _ = writeln!(
        s,
        "| **total, arm64** | requests + compute + DynamoDB incl. GSIs | **${:.2} warm – ${:.2} cold** |",
        total(compute(warm_ms, LAMBDA_GB_S_ARM64)),
        total(compute(cold_ms, LAMBDA_GB_S_ARM64))
    );
    let _ = writeln!(
        s,
        "| **total, x86_64** | same | **${:.2} warm – ${:.2} cold** |",
        total(compute(warm_ms, LAMBDA_GB_S_X86_64)),
        total(compute(cold_ms, LAMBDA_GB_S_X86_64))
    );
    let _ = writeln!(
        s,
        "\nWhy the indexes cost 3 writes, not 12: neither listing index is keyed on `status` (which every \
         transition changes: an index keyed on it costs an entry deleted and one written per transition) and \
         both project only the job type, which never changes. A PutItem writes one `byCreated` entry and one \
         `open` entry; the launch record and the RUNNING event change no index key or projected attribute, so \
         DynamoDB writes no index entry for them; the STOPPED event removes `openSince`, deleting the `open` \
         entry. Listings read the records by key instead (BatchGetItem: operator reads, not the job path)."
    );
    let _ = writeln!(
        s,
        "\nNot included: Fargate itself (per job, in the record's `costUsd`), CloudWatch Logs ingestion \
         ($0.50/GB: Lambda's START/END/REPORT lines are about 0.3 KB per invocation, about 1 GB ≈ $0.50 per \
         million jobs), DynamoDB storage and point-in-time recovery (per GB-month; TTL removes finished jobs), \
         KMS requests for the table's SSE (DynamoDB caches the table key). The compute rows use the local \
         durations above; with real AWS latencies (say 300 ms for create-job with RunTask, 30 ms per track \
         event) arm64 compute would be about ${:.2} per million jobs, still small next to the writes.",
        compute(360.0, LAMBDA_GB_S_ARM64)
    );

    let existing = std::fs::read_to_string(&out).unwrap_or_default();
    std::fs::write(&out, replace_section(&existing, "## Runtime", &s)).unwrap();
    println!("{s}");
    eprintln!("wrote the ## Runtime section of {}", out.display());
    drop(stack);
}
