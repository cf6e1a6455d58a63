//! `make bench-dashboard`: the dashboard over JOBGEN_DASH_JOBS jobs (default 10,000) in the
//! emulator. Quickstart is deployed into a serial moto as `jobgen dev` deploys it, the jobs are
//! written straight into its table (PutItem of the records as the handlers leave them, spread over a day, types and statuses mixed),
//! and the dashboard's router is served in process on loopback. It times, over 20 requests each,
//! a page load of the job list (the HTML, as the browser gets it), its filtered variants and the
//! live rows fragment, next to the operator library's list query alone (`Ops::list_page`).
//! Numbers go in BENCHMARKS.md; nothing here is asserted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use http_body_util::{BodyExt, Full};
use jobgen_ops::Ops;
use jobgen_runtime::contract;
use jobgen_runtime::job::{Job, JobStatus, format_ts};
use jobgen_runtime::store::{ListFilter, Store};
use jobgen_tests::{Moto, deploy_and_connect, dev_options, repo_root};

const RUNS: usize = 20;

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p50 = samples[samples.len() / 2];
    let p95 = samples[(samples.len() * 95).div_ceil(100) - 1];
    format!("p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms", ms(p50), ms(p95), ms(*samples.last().unwrap()))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let jobs: usize = std::env::var("JOBGEN_DASH_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let moto = Moto::start_serial();
    let dir = tempfile::tempdir().unwrap();
    let options = dev_options(&moto, repo_root().join("examples/quickstart/jobgen.yaml"), None, dir.path());
    let local = deploy_and_connect(&options).await;
    let sdk = moto.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let store = Store::new(ddb.clone(), local.config.table_name.clone());

    let started = Instant::now();
    let now = Utc::now();
    let statuses =
        [JobStatus::Succeeded, JobStatus::Succeeded, JobStatus::Failed, JobStatus::Running, JobStatus::Cancelled];
    for n in 0..jobs {
        let created = now - chrono::Duration::milliseconds((n as i64) * 86_400_000 / jobs as i64);
        let job_type = if n % 3 == 0 { "sleep" } else { "hello" };
        let mut job = Job::submitted(
            jobgen_runtime::create_job::new_job_id(),
            job_type.into(),
            None,
            "bench".into(),
            Default::default(),
            None,
            None,
            created,
            0,
        );
        job.status = statuses[n % statuses.len()];
        job.lease_until = None;
        // The item as create-job and track leave it: the record, its listing shard, and
        // `openSince` while it is not finished (what the open jobs' index holds).
        let mut item = jobgen_runtime::store::job_to_item(&job);
        let text = |v: String| aws_sdk_dynamodb::types::AttributeValue::S(v);
        item.insert(contract::SHARD_ATTR.into(), text(contract::shard_of(&job.job_id)));
        if !job.status.is_terminal() {
            item.insert(contract::OPEN_SINCE_ATTR.into(), text(format_ts(&job.created_at)));
        }
        ddb.put_item().table_name(store.table()).set_item(Some(item)).send().await.unwrap();
    }
    println!("wrote {jobs} jobs in {:.1} s", started.elapsed().as_secs_f64());

    let ops = Ops {
        stack: local.stack.clone(),
        outputs: local.outputs.clone(),
        store: store.clone(),
        lambda: aws_sdk_lambda::Client::new(&sdk),
        ecs: aws_sdk_ecs::Client::new(&sdk),
        logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(jobgen_dashboard::AppState {
        ops: ops.clone(),
        templates: jobgen_dashboard::pages::templates().unwrap(),
        addr,
        queues: vec![("hello".into(), Some(2))],
    });
    tokio::spawn(async move { axum::serve(listener, jobgen_dashboard::router(state)).await });

    // The library's query alone: the first page of 50, newest first.
    for (name, filter) in [
        ("list query, all jobs", ListFilter::all()),
        ("list query, status FAILED", ListFilter::all().with_status(JobStatus::Failed)),
        ("list query, type sleep", ListFilter::all().with_type("sleep")),
    ] {
        let mut samples = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let page = ops.list_page(&filter, None, 50, None).await.unwrap();
            samples.push(t.elapsed());
            assert!(!page.jobs.is_empty());
        }
        println!("{name}: {}", summary(samples));
    }

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let mut next_page = None;
    for (name, path) in [
        ("page load /", "/".to_string()),
        ("page load /?status=FAILED", "/?status=FAILED".to_string()),
        ("page load /?type=sleep&since=1h", "/?type=sleep&since=1h".to_string()),
        ("live rows /jobs/rows", "/jobs/rows".to_string()),
        ("page load, page 2", String::new()),
    ] {
        let path = if path.is_empty() { next_page.clone().unwrap() } else { path };
        let mut samples = Vec::new();
        let mut bytes = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let request = hyper::Request::get(format!("http://{addr}{path}"))
                .header("host", addr.to_string())
                .body(Full::new(bytes::Bytes::new()))
                .unwrap();
            let response = client.request(request).await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let body = response.into_body().collect().await.unwrap().to_bytes();
            samples.push(t.elapsed());
            bytes = body.len();
            if next_page.is_none() {
                let text = String::from_utf8_lossy(&body);
                next_page = text
                    .split("id=\"next\" href=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .map(|s| s.replace("&amp;", "&").replace("&#x2f;", "/"));
            }
        }
        println!("{name} ({bytes} bytes): {}", summary(samples));
    }
}
