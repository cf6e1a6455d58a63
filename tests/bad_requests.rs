//! A corpus of malformed create-job requests (tests/fixtures/bad-requests.json: direct invoke
//! payloads and function URL 2.0 events — non-object JSON, wrong types, unknown fields, keys given
//! twice, control characters, huge values, bad base64, bad methods, empty bodies, invalid and
//! reserved variable names, metadata too deep or too big, overrides over 8 KB, unknown job types,
//! idempotency keys abused), sent to the real handler library on moto, and the direct payloads
//! again through `jobgen dev`'s Lambda Invoke endpoint. Each must get its 4xx answer with a clear
//! message (the expected text; no raw control character; bounded length), and afterwards the
//! table must be empty and ECS must have no task. The tally is printed for the record.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "runtime_support.rs"]
mod runtime_support;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use jobgen_local::invoke::{self, Functions};
use jobgen_runtime::create_job::MESSAGE_MAX_CHARS;
use runtime_support::World;
use serde_json::{Value, json};

/// `text` with every `{{REPEAT:c:N}}` replaced by N copies of `c`.
fn expand(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("{{REPEAT:") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "{{REPEAT:".len()..];
        let c = after.chars().next().unwrap();
        let after = &after[c.len_utf8() + 1..];
        let end = after.find("}}").unwrap();
        let n: usize = after[..end].parse().unwrap();
        out.extend(std::iter::repeat_n(c, n));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// One case of the corpus.
struct Case {
    name: String,
    /// The invocation payload, as sent.
    payload: String,
    direct: bool,
    status: u64,
    contains: String,
}

fn corpus() -> Vec<Case> {
    let path = jobgen_tests::repo_root().join("tests/fixtures/bad-requests.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            let (payload, direct) = if let Some(text) = case["direct"].as_str() {
                (expand(text), true)
            } else if let Some(event) = case.get("event") {
                (event.to_string(), false)
            } else {
                let url = &case["url"];
                let mut http =
                    json!({"path": "/", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "corpus"});
                match url.get("method") {
                    None => http["method"] = "POST".into(),
                    Some(Value::Null) => {}
                    Some(method) => http["method"] = expand(method.as_str().unwrap()).into(),
                }
                let mut event = json!({
                    "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
                    "headers": {"content-type": "application/json"},
                    "requestContext": {"accountId": "123456789012", "http": http},
                    "isBase64Encoded": false,
                });
                if let Some(body) = url["body"].as_str().map(expand) {
                    if url["base64"] == true {
                        event["body"] = data_encoding::BASE64.encode(body.as_bytes()).into();
                        event["isBase64Encoded"] = true.into();
                    } else {
                        event["body"] = body.into();
                    }
                }
                if let Some(encoded) = url["bodyBase64"].as_str() {
                    event["body"] = encoded.into();
                    event["isBase64Encoded"] = true.into();
                }
                (event.to_string(), false)
            };
            Case {
                name: case["name"].as_str().unwrap().to_string(),
                payload,
                direct,
                status: case["status"].as_u64().unwrap(),
                contains: case["contains"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

/// Checks an error answer: its status, that it is a final 4xx, and its message (expected text, no raw
/// control character, bounded length).
fn check(case: &Case, status: u64, error: &Value, path: &str) {
    let name = &case.name;
    assert_eq!(status, case.status, "{path} {name}: {error}");
    assert!((400..500).contains(&status), "{path} {name}: {status}");
    assert_eq!(error["retryable"], false, "{path} {name}: {error}");
    let message = error["message"].as_str().unwrap_or_else(|| panic!("{path} {name}: no message: {error}"));
    assert!(message.contains(&case.contains), "{path} {name}: {message:?} does not contain {:?}", case.contains);
    assert!(!message.chars().any(char::is_control), "{path} {name}: a raw control character in {message:?}");
    assert!(message.chars().count() <= MESSAGE_MAX_CHARS + 32, "{path} {name}: {} characters", message.len());
}

/// The jobs table's item count and the project's tasks.
async fn written_and_launched(world: &World) -> (i32, usize) {
    let scan = world.ddb.scan().table_name(&world.config.table_name).send().await.unwrap();
    (scan.count(), world.task_arns().await.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_is_refused_with_a_clear_message_and_changes_nothing() {
    let world = World::new("badrequests").await;
    let handler = world.create_job();
    let cases = corpus();
    assert!(cases.len() >= 60, "{}", cases.len());
    let mut refused = 0;
    for case in &cases {
        let response = handler.handle_payload(case.payload.as_bytes(), None).await;
        let status = response["statusCode"].as_u64().unwrap();
        if case.direct {
            check(case, status, &response["error"], "direct");
        } else {
            assert_eq!(response["headers"]["content-type"], "application/json", "{}", case.name);
            let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
            check(case, status, &body["error"], "url");
        }
        refused += 1;
    }
    let (written, launched) = written_and_launched(&world).await;
    let direct = cases.iter().filter(|c| c.direct).count();
    println!(
        "{} bad requests ({direct} direct payloads, {} function URL events): {refused} refused with 4xx, {written} \
         written, {launched} launched",
        cases.len(),
        cases.len() - direct
    );
    assert_eq!((written, launched), (0, 0), "nothing is written and nothing is launched");

    // The direct payloads again, through jobgen dev's Invoke endpoint: as on Lambda, a payload that
    // is not JSON is refused before the function (InvalidRequestContentException), and every other
    // one gets create-job's answer, bytes as sent.
    let functions = Arc::new(Functions {
        create_job_ids: vec!["create-job".into()],
        track_ids: vec!["track".into()],
        create_job: world.create_job_with(jobgen_local::ecs::DevEcs::new(world.ecs.clone(), Default::default())),
        tracker: jobgen_runtime::track::Tracker::without_service(world.store(), world.config.clone()),
        create_job_timeout_ms: 30_000,
        configurations: Vec::new(),
    });
    let (mut by_function, mut by_lambda) = (0, 0);
    for case in cases.iter().filter(|c| c.direct) {
        let request = hyper::Request::builder()
            .method("POST")
            .uri("/2015-03-31/functions/create-job/invocations")
            .body(Full::new(Bytes::from(case.payload.clone())))
            .unwrap();
        let response = invoke::handle(functions.clone(), request).await.unwrap();
        let http = response.status().as_u16();
        let lambda_error = response.headers().get("x-amzn-errortype").cloned();
        let answer: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
        match lambda_error {
            Some(kind) => {
                assert_eq!((http, kind.to_str().unwrap()), (400, "InvalidRequestContentException"), "{}", case.name);
                assert!(
                    case.contains.contains("is not valid JSON"),
                    "{}: only bad JSON is Lambda's: {answer}",
                    case.name
                );
                by_lambda += 1;
            }
            None => {
                assert_eq!(http, 200, "{}", case.name);
                check(case, answer["statusCode"].as_u64().unwrap(), &answer["error"], "invoke");
                by_function += 1;
            }
        }
    }
    let (written, launched) = written_and_launched(&world).await;
    println!(
        "the {direct} direct payloads through jobgen dev's Invoke endpoint: {by_function} refused by create-job, \
         {by_lambda} by the endpoint's JSON check (as Lambda), {written} written, {launched} launched"
    );
    assert_eq!((written, launched), (0, 0));
}
