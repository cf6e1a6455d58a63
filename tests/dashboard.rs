//! `jobgen dashboard` in a real headless browser: Debian's chromium driven through chromedriver
//! (WebDriver, the fantoccini client), against `jobgen dev` with jobs submitted by the real CLI and
//! run by the simulator. It checks the list's filters and lookups, the timeline of a retried job,
//! the charts' figures against `jobgen stats`, a live update when a job finishes (without a
//! reload), a bulk cancel that asks first, and the 4xx answers; and it writes the README's
//! screenshots (docs/screenshots/*.png).
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver (`make browser-tools` installs them).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "dev_support.rs"]
mod dev_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dev_support::Dev;
use fantoccini::{Client, ClientBuilder, Locator};
use http_body_util::{BodyExt, Full};
use jobgen_tests::repo_root;
use serde_json::{Value, json};

/// A child process killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// chromedriver in a process group of its own, with the browser it starts: killed as a group,
/// so a failing test (which never closes its session) leaves no browser behind.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

/// chromedriver on a free port, once it accepts connections.
fn chromedriver() -> (Driver, String) {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let mut child = Command::new("/usr/bin/chromedriver")
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run /usr/bin/chromedriver (make browser-tools installs it)");
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (Driver(child), format!("http://127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("chromedriver did not listen on {port}");
}

/// `jobgen dashboard --port 0` in examples/quickstart (so its queues are known), and its URL.
fn dashboard(dev: &Dev) -> (Killed, String) {
    let mut child = dev
        .command(&["dashboard", "--port", "0"])
        .current_dir(repo_root().join("examples/quickstart"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run jobgen dashboard");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{line}"));
    (Killed(child), url.trim_end_matches('/').to_string())
}

async fn browser(webdriver: &str) -> Client {
    let profile = tempfile::tempdir().unwrap().keep();
    let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,900", format!("--user-data-dir={}", profile.display())]
        }
    }))
    .unwrap();
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(webdriver)
        .await
        .expect("start a chromium session")
}

/// Takes a screenshot: into docs/screenshots/NAME.png (the README's) with
/// `JOBGEN_SCREENSHOTS=update` (`make screenshots`), else beside the test's build output, so a
/// test run leaves the work tree as it was.
async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let dir = if std::env::var("JOBGEN_SCREENSHOTS").as_deref() == Ok("update") {
        repo_root().join("docs/screenshots")
    } else {
        std::env::temp_dir().join("jobgen-dashboard-screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The list's row ids, in page order.
async fn row_ids(client: &Client) -> Vec<String> {
    // Read in one script: the live update may replace the rows between a find and a read.
    let ids = client
        .execute("return Array.from(document.querySelectorAll('#rows tr[data-id]')).map(r => r.dataset.id);", vec![])
        .await
        .unwrap();
    serde_json::from_value(ids).unwrap()
}

/// Polls `check` (every 200 ms, 60 s at most) until it returns `Some`.
async fn eventually<T, F: AsyncFnMut() -> Option<T>>(what: &str, mut check: F) -> T {
    for _ in 0..300 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("never: {what}");
}

/// A request the browser would not send (a bad parameter, a cross-site form): status and body.
async fn raw(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response =
        client.request(request.body(Full::new(bytes::Bytes::from(body.to_string()))).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_browser() {
    let dev = Dev::start(&[]);
    // The jobs, through the real CLI: one that succeeds (with an idempotency key), one that fails
    // to start twice (retried once: hello has retry attempts 2), two that run long (to bulk cancel)
    // and one that finishes a few seconds in (the live update).
    let ok = dev.submit(&["hello", "--idempotency-key", "dash-ok"]);
    let retried = dev.submit(&["hello", "--env", "DEV_OUTCOME=fail-to-start"]);
    let long_a = dev.submit(&["sleep", "--env", "DEV_RUN_SECONDS=80000"]);
    let long_b = dev.submit(&["sleep", "--env", "DEV_RUN_SECONDS=80000"]);
    assert_eq!(dev.watch(&ok).1, 0);
    let (record, _) = dev.watch(&retried);
    assert_eq!((record["status"].as_str(), record["attempt"].as_u64()), (Some("FAILED"), Some(2)), "{record}");

    let (_driver, webdriver) = chromedriver();
    let (_server, base) = dashboard(&dev);
    let client = browser(&webdriver).await;

    // The list, newest first, every job.
    client.goto(&format!("{base}/")).await.unwrap();
    let all = row_ids(&client).await;
    assert_eq!(all, [long_b.clone(), long_a.clone(), retried.clone(), ok.clone()]);
    screenshot(&client, "list").await;

    // Filters through the form: status, then type.
    client.find(Locator::Css("#f-status")).await.unwrap().select_by_value("FAILED").await.unwrap();
    client.find(Locator::Css("#f-apply")).await.unwrap().click().await.unwrap();
    eventually("the status filter applied", async || (row_ids(&client).await == [retried.clone()]).then_some(())).await;
    assert!(client.current_url().await.unwrap().as_str().contains("status=FAILED"));
    client.goto(&format!("{base}/?type=sleep")).await.unwrap();
    assert_eq!(row_ids(&client).await, [long_b.clone(), long_a.clone()]);
    client.goto(&format!("{base}/?since=2026-01-01T00:00:00Z&type=hello")).await.unwrap();
    assert_eq!(row_ids(&client).await, [retried.clone(), ok.clone()]);
    // Lookups by idempotency key and by id.
    client.goto(&format!("{base}/")).await.unwrap();
    client.find(Locator::Css("#l-key")).await.unwrap().send_keys("dash-ok").await.unwrap();
    client.find(Locator::Css("#l-find")).await.unwrap().click().await.unwrap();
    eventually("the key lookup", async || (row_ids(&client).await == [ok.clone()]).then_some(())).await;
    client.goto(&format!("{base}/?id={retried}")).await.unwrap();
    assert_eq!(row_ids(&client).await, std::slice::from_ref(&retried));

    // The retried job's timeline: both attempts, each failing to start, with the explanation.
    client.goto(&format!("{base}/jobs/{retried}")).await.unwrap();
    // Read in one script: the page's live refresh may replace the timeline between a find and a read.
    let attempts = client
        .execute(
            "return Array.from(document.querySelectorAll('#timeline li.attempt')).map(a => [a.dataset.attempt, a.innerText]);",
            vec![],
        )
        .await
        .unwrap();
    let attempts: Vec<(String, String)> = serde_json::from_value(attempts).unwrap();
    assert_eq!(attempts.len(), 2);
    for (n, (attempt, text)) in attempts.iter().enumerate() {
        assert_eq!(attempt, ["1", "2"][n]);
        assert!(text.contains("launched (RunTask accepted)") && text.contains("STOPPED"), "{text}");
        assert!(text.contains("FAILED_TO_START") && text.contains("ECS could not start the task"), "{text}");
    }
    assert_eq!(client.find(Locator::Css("#status")).await.unwrap().text().await.unwrap(), "FAILED");
    assert_eq!(client.find(Locator::Css("#stop-code")).await.unwrap().text().await.unwrap(), "TaskFailedToStart");
    screenshot(&client, "detail").await;

    // A live update: a job submitted while the list is open appears, runs and finishes on the page
    // without a reload (a value set on the page survives).
    client.goto(&format!("{base}/?type=sleep")).await.unwrap();
    client.execute("window.__kept = 42; return null;", vec![]).await.unwrap();
    let short = dev.submit(&["sleep", "--env", "DEV_RUN_SECONDS=60"]);
    let status_of = async |id: &str| -> Option<String> {
        let row = client.find(Locator::Css(&format!("#rows tr[data-id='{id}']"))).await.ok()?;
        row.attr("data-status").await.ok()?
    };
    eventually("the new job shown before it finished", async || {
        matches!(status_of(&short).await.as_deref(), Some("SUBMITTED" | "STARTING" | "RUNNING")).then_some(())
    })
    .await;
    eventually("the job shown SUCCEEDED", async || {
        (status_of(&short).await.as_deref() == Some("SUCCEEDED")).then_some(())
    })
    .await;
    assert_eq!(client.execute("return window.__kept;", vec![]).await.unwrap(), json!(42), "the page was not reloaded");
    assert_eq!(dev.json(&["status", &short], 0)["status"], "SUCCEEDED");

    // Bulk cancel of the two long jobs: it asks first, saying how many it will touch, and nothing
    // is cancelled until the operator confirms.
    for id in [&long_a, &long_b] {
        client.find(Locator::Css(&format!("#rows input.pick[value='{id}']"))).await.unwrap().click().await.unwrap();
    }
    client.find(Locator::Css("#bulk-cancel")).await.unwrap().click().await.unwrap();
    let count = eventually("the confirmation", async || {
        client.find(Locator::Css("#confirm-count")).await.ok()?.text().await.ok()
    })
    .await;
    let plan = client.find(Locator::Css("#plan")).await.unwrap().text().await.unwrap();
    assert_eq!(count, "This will cancel 2 of the 2 selected job(s).", "{plan}");
    screenshot(&client, "bulk-confirm").await;
    for id in [&long_a, &long_b] {
        assert_eq!(dev.json(&["status", id], 0)["status"], "RUNNING", "asked before acting");
    }
    client.find(Locator::Css("#confirm")).await.unwrap().click().await.unwrap();
    let done =
        eventually("the bulk result", async || client.find(Locator::Css("#done")).await.ok()?.text().await.ok()).await;
    assert_eq!(done, "cancel: 2 of 2 job(s) done");
    for id in [&long_a, &long_b] {
        assert_eq!(dev.json(&["status", id], 0)["status"], "CANCELLED");
    }

    // The charts draw the figures `jobgen stats` reports (once the cancelled tasks have stopped,
    // so that no figure moves between the two reads).
    for id in [&long_a, &long_b] {
        dev.wait_for(id, "ecsLastStatus", "STOPPED");
    }
    let stats = dev.json(&["stats", "--since", "1h"], 0);
    client.goto(&format!("{base}/stats?since=1h")).await.unwrap();
    let mut checked = 0;
    for t in stats["types"].as_array().unwrap() {
        let job_type = t["jobType"].as_str().unwrap();
        for (key, name) in [("queueWaitMs", "wait"), ("startupMs", "start-up"), ("runMs", "run")] {
            for p in ["p50", "p95"] {
                let bar = client
                    .find(Locator::Css(&format!("svg#durations g.bar[data-label='{job_type} {p} {name}']")))
                    .await
                    .unwrap();
                let figure = bar.find(Locator::Css("text.figure")).await.unwrap().text().await.unwrap();
                let expected =
                    t[key][p].as_i64().map_or("n/a".to_string(), |ms| format!("{:.1} s", ms as f64 / 1000.0));
                assert_eq!(figure, expected, "{job_type} {p} {name}");
                checked += usize::from(t[key][p].is_i64());
            }
        }
    }
    assert!(checked >= 4, "real figures were compared ({checked})");
    let hello_run =
        stats["types"].as_array().unwrap().iter().find(|t| t["jobType"] == "hello").unwrap()["runMs"]["p50"]
            .as_i64()
            .unwrap();
    assert!(hello_run > 0);
    assert!(client.find(Locator::Css("svg#success g.bar")).await.is_ok());
    assert!(client.find(Locator::Css("svg#cost g.bar")).await.is_ok());
    screenshot(&client, "stats").await;

    // The queue view: hello's limit from the project file.
    client.goto(&format!("{base}/queue")).await.unwrap();
    let hello = client.find(Locator::Css("section.queue[data-queue='hello']")).await.unwrap();
    assert_eq!(hello.find(Locator::Css(".limit")).await.unwrap().text().await.unwrap(), "2");
    screenshot(&client, "queue").await;

    // Retry from the job's page: the retried job gets a third attempt, shown on the page it
    // refreshes.
    client.goto(&format!("{base}/jobs/{retried}")).await.unwrap();
    client.find(Locator::Css("#retry")).await.unwrap().click().await.unwrap();
    eventually("the third attempt on the timeline", async || {
        (client.find_all(Locator::Css("#timeline li.attempt")).await.ok()?.len() == 3).then_some(())
    })
    .await;
    assert_eq!(dev.json(&["status", &retried], 0)["attempt"], 3);

    // Bad input: a 400 with its message (shown in the browser too), a 404, a cross-site POST 403.
    client.goto(&format!("{base}/?status=bogus")).await.unwrap();
    let error = client.find(Locator::Css("#error")).await.unwrap().text().await.unwrap();
    assert!(error.contains("status \"bogus\": is not a job status"), "{error}");
    let (status, body) = raw("GET", &format!("{base}/?limit=1000"), &[], "").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("limit=&quot;1000&quot;: is not a number from 1 to 100"), "{body}");
    assert_eq!(raw("GET", &format!("{base}/?colour=red"), &[], "").await.0, 400);
    assert_eq!(raw("GET", &format!("{base}/jobs/no-such-id!"), &[], "").await.0, 400);
    assert_eq!(raw("GET", &format!("{base}/jobs/nosuchjob"), &[], "").await.0, 404);
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let cross = [form[0], ("origin", "http://evil.example"), ("sec-fetch-site", "cross-site")];
    let (status, _) = raw("POST", &format!("{base}/actions"), &cross, &format!("action=cancel&id={short}")).await;
    assert_eq!(status, 403);
    let (status, body) = raw("POST", &format!("{base}/actions"), &form, "action=delete&id=abc").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = raw("GET", &format!("{base}/"), &[("host", "rebound.example")], "").await;
    assert_eq!(status, 403, "a DNS-rebinding Host is refused");

    client.close().await.unwrap();
}
