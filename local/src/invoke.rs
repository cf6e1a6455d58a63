//! The Lambda Invoke API for the stack's two functions, served on a local port by `jobgen dev`:
//! `POST /2015-03-31/functions/{name}/invocations` runs the in-process handler (the runtime
//! library's create-job and track, the same code the deployed bins run). With
//! `AWS_ENDPOINT_URL_LAMBDA` pointing here, `jobgen submit` (or any SDK client) invokes the function
//! named in the stack's Outputs exactly as on AWS, while every other service goes to the emulator.
//! `GET /2015-03-31/functions/{name}/configuration` answers with the deployed configuration, so
//! GetFunctionConfiguration (the operator commands read the retention from it) works the same.
//!
//! As Lambda does, it refuses a payload over the invocation limit ([`SYNC_PAYLOAD_LIMIT_BYTES`],
//! [`ASYNC_PAYLOAD_LIMIT_BYTES`]) and one that is not JSON, and hands create-job the payload's
//! bytes as sent (Lambda passes the JSON text through, so a key given twice reaches the function,
//! which refuses it).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::{Request, Response, StatusCode};
use jobgen_runtime::create_job::CreateJob;
use jobgen_runtime::track::Tracker;

use crate::ecs::DevEcs;
use serde_json::{Value, json};

/// Largest synchronous (RequestResponse) Invoke payload Lambda accepts: "6 MB" in the Invoke API
/// reference, 6 MiB on the wire (Lambda answers a bigger one with "Request must be smaller than
/// 6291456 bytes for the InvokeFunction operation").
pub const SYNC_PAYLOAD_LIMIT_BYTES: usize = 6 * 1024 * 1024;
/// Largest asynchronous (Event) Invoke payload: "1 MB" in the Invoke API reference, taken as 1 MiB
/// like the synchronous limit.
pub const ASYNC_PAYLOAD_LIMIT_BYTES: usize = 1024 * 1024;

/// Lambda's answer to a payload over `limit`: HTTP 413 with the error type the service sends on the
/// wire (`RequestEntityTooLargeException`; the API model's name for it is RequestTooLargeException).
fn too_large(limit: usize) -> Response<Full<Bytes>> {
    respond(
        StatusCode::PAYLOAD_TOO_LARGE,
        json!({"Type": "User", "message": format!("Request must be smaller than {limit} bytes for the InvokeFunction operation")}),
        Some("RequestEntityTooLargeException"),
    )
}

/// The functions served: names and ARNs as deployed, and their handlers.
pub struct Functions {
    /// create-job's name and ARN.
    pub create_job_ids: Vec<String>,
    /// track's name and ARN.
    pub track_ids: Vec<String>,
    /// The create-job handler.
    pub create_job: CreateJob<DevEcs>,
    /// The track handler.
    pub tracker: Tracker<DevEcs>,
    /// create-job's timeout (the invocation deadline it gets), in milliseconds.
    pub create_job_timeout_ms: i64,
    /// What GetFunctionConfiguration answers for each function (as deployed): ids → configuration.
    pub configurations: Vec<(Vec<String>, Value)>,
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) =
                (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(status: StatusCode, body: Value, error_type: Option<&str>) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status).header("content-type", "application/json");
    if let Some(t) = error_type {
        builder = builder.header("x-amzn-errortype", t);
    }
    builder = builder.header("x-amz-executed-version", "$LATEST");
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::from_static(b"{}"))))
}

/// Handles one HTTP request.
pub async fn handle<B>(functions: Arc<Functions>, req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let path = req.uri().path().to_string();
    if req.method() == hyper::Method::GET
        && let Some(name) = path
            .strip_prefix("/2015-03-31/functions/")
            .and_then(|rest| rest.strip_suffix("/configuration"))
            .map(percent_decode)
    {
        return Ok(match functions.configurations.iter().find(|(ids, _)| ids.contains(&name)) {
            Some((_, configuration)) => respond(StatusCode::OK, configuration.clone(), None),
            None => respond(
                StatusCode::NOT_FOUND,
                json!({"Type": "User", "message": format!("Function not found: {name}")}),
                Some("ResourceNotFoundException"),
            ),
        });
    }
    let name = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .map(percent_decode);
    let (Some(name), true) = (name, req.method() == hyper::Method::POST) else {
        return Ok(respond(
            StatusCode::NOT_FOUND,
            json!({"Type": "User", "message": format!("jobgen dev serves only Lambda Invoke (POST /2015-03-31/functions/NAME/invocations), not {} {path}", req.method())}),
            Some("ResourceNotFoundException"),
        ));
    };
    let asynchronous = req.headers().get("x-amz-invocation-type").is_some_and(|v| v == "Event");
    let limit = if asynchronous { ASYNC_PAYLOAD_LIMIT_BYTES } else { SYNC_PAYLOAD_LIMIT_BYTES };
    let declared = req.headers().get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Ok(too_large(limit));
    }
    // Read at most `limit` bytes whatever the header says (chunked bodies have none).
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Ok(too_large(limit)),
        Err(e) => {
            return Ok(respond(
                StatusCode::BAD_REQUEST,
                json!({"Type": "User", "message": format!("cannot read the request body: {e}")}),
                Some("InvalidRequestContentException"),
            ));
        }
    };
    // An empty payload is the SDK's "no payload": Lambda gives the function `{}`.
    let body = if body.is_empty() { Bytes::from_static(b"{}") } else { body };
    // Lambda refuses a payload that is not JSON before any function sees it.
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return Ok(respond(
                StatusCode::BAD_REQUEST,
                json!({"Type": "User", "message": format!("Could not parse request body into json: {e}")}),
                Some("InvalidRequestContentException"),
            ));
        }
    };
    if functions.create_job_ids.contains(&name) {
        let deadline = chrono::Utc::now().timestamp_millis() + functions.create_job_timeout_ms;
        // The bytes as sent, as the deployed function receives them (not `payload`, in which a
        // key given twice is already collapsed to its last value).
        let result = functions.create_job.handle_payload(&body, Some(deadline)).await;
        return Ok(respond(StatusCode::OK, result, None));
    }
    if functions.track_ids.contains(&name) {
        if asynchronous {
            let f = functions.clone();
            tokio::spawn(async move {
                let _ = f.tracker.handle(payload, chrono::Utc::now()).await;
            });
            return Ok(respond(StatusCode::ACCEPTED, Value::Null, None));
        }
        return Ok(match functions.tracker.handle(payload, chrono::Utc::now()).await {
            Ok(outcome) => respond(StatusCode::OK, outcome.to_json(), None),
            // As Lambda reports a handler error: 200 with X-Amz-Function-Error.
            Err(e) => {
                let mut r =
                    respond(StatusCode::OK, json!({"errorType": "TrackError", "errorMessage": e.to_string()}), None);
                r.headers_mut().insert("x-amz-function-error", hyper::header::HeaderValue::from_static("Unhandled"));
                r
            }
        });
    }
    Ok(respond(
        StatusCode::NOT_FOUND,
        json!({"Type": "User", "message": format!("Function not found: {name} (jobgen dev serves {} and {})",
            functions.create_job_ids.first().map(String::as_str).unwrap_or("create-job"),
            functions.track_ids.first().map(String::as_str).unwrap_or("track"))}),
        Some("ResourceNotFoundException"),
    ))
}

/// Serves the Invoke API on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    functions: Arc<Functions>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let functions = functions.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(functions.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    use aws_config::BehaviorVersion;
    use jobgen_runtime::config::RuntimeConfig;
    use jobgen_runtime::contract::{self, Architecture, Capacity, JobTypeEntry, LaunchTable, Network};
    use jobgen_runtime::launch::RetryPolicy;
    use jobgen_runtime::launcher::Launcher;
    use jobgen_runtime::store::Store;

    /// The endpoint over handlers whose AWS clients point at a closed port: every answer these
    /// tests expect is given before any AWS call (one would fail as StoreUnavailable).
    fn functions() -> Arc<Functions> {
        let region = aws_config::Region::new("us-east-1");
        let credentials = aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "test");
        let ddb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(region.clone())
                .credentials_provider(credentials.clone())
                .endpoint_url("http://127.0.0.1:9")
                .build(),
        );
        let ecs = aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(region)
                .credentials_provider(credentials)
                .endpoint_url("http://127.0.0.1:9")
                .build(),
        );
        let entry = JobTypeEntry {
            task_definition: "hello".into(),
            cluster: 0,
            network: 0,
            capacity: Capacity::Fargate,
            container: "main".into(),
            architecture: Architecture::X86_64,
            max_concurrency: None,
            allow_command_override: false,
            allowed_environment: None,
            timeout_seconds: None,
            start_timeout_seconds: None,
            retry: None,
            progress: false,
        };
        let config = RuntimeConfig {
            table_name: "jobs".into(),
            project: "demo".into(),
            launch_table: LaunchTable {
                version: contract::CONFIG_VERSION,
                clusters: vec!["main".into()],
                networks: vec![Network { subnets: vec!["s".into()], security_groups: vec![], assign_public_ip: false }],
                job_types: [("hello".to_string(), entry)].into(),
                max_concurrency: None,
                tags: Default::default(),
                schedules: Default::default(),
            },
            retention_days: 0,
            timers: None,
        };
        let store = Store::new(ddb, "jobs");
        Arc::new(Functions {
            create_job_ids: vec!["create".into()],
            track_ids: vec!["track".into()],
            create_job: CreateJob::new(
                store.clone(),
                Launcher::new(DevEcs::new(ecs, Default::default()), RetryPolicy::immediate(1)),
                config.clone(),
            ),
            tracker: Tracker::without_service(store, config),
            create_job_timeout_ms: 30_000,
            configurations: Vec::new(),
        })
    }

    async fn invoke(function: &str, body: Vec<u8>, asynchronous: bool) -> (StatusCode, Option<String>, Value) {
        let mut req = Request::builder().method("POST").uri(format!("/2015-03-31/functions/{function}/invocations"));
        if asynchronous {
            req = req.header("x-amz-invocation-type", "Event");
        }
        let response = handle(functions(), req.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
        let status = response.status();
        let error_type = response.headers().get("x-amzn-errortype").map(|v| v.to_str().unwrap_or_default().to_string());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, error_type, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn payloads_over_lambdas_limits_are_refused_as_lambda_does() {
        // 7 MB was accepted; Lambda refuses anything over 6 MiB with 413 before the function runs.
        for size in [7_000_000, SYNC_PAYLOAD_LIMIT_BYTES + 1] {
            let body = format!("\"{}\"", "a".repeat(size - 2)).into_bytes();
            let (status, error_type, answer) = invoke("create", body, false).await;
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{size}: {answer}");
            assert_eq!(error_type.as_deref(), Some("RequestEntityTooLargeException"));
            assert_eq!(
                answer["message"],
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
            );
        }
        // At the limit the payload reaches create-job, which answers (a string is not a request).
        let body = format!("\"{}\"", "a".repeat(SYNC_PAYLOAD_LIMIT_BYTES - 2)).into_bytes();
        let (status, _, answer) = invoke("create", body, false).await;
        assert_eq!((status, answer["statusCode"].as_u64()), (StatusCode::OK, Some(400)), "{answer}");
        let body = format!("\"{}\"", "a".repeat(ASYNC_PAYLOAD_LIMIT_BYTES)).into_bytes();
        let (status, error_type, _) = invoke("track", body, true).await;
        assert_eq!(
            (status, error_type.as_deref()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("RequestEntityTooLargeException"))
        );
    }

    #[tokio::test]
    async fn create_job_gets_the_payload_as_sent() {
        // Parsed into a Value first, this was {"jobType":"hello"} and launched hello.
        let (status, _, answer) = invoke("create", br#"{"jobType":"nope","jobType":"hello"}"#.to_vec(), false).await;
        assert_eq!((status, answer["statusCode"].as_u64()), (StatusCode::OK, Some(400)), "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(r#"request: has the key "jobType" twice"#), "{message}");
        let (_, _, answer) = invoke("create", br#"["hello"]"#.to_vec(), false).await;
        assert_eq!(answer["statusCode"], 400, "{answer}");
        let (status, error_type, _) = invoke("create", b"{".to_vec(), false).await;
        assert_eq!((status, error_type.as_deref()), (StatusCode::BAD_REQUEST, Some("InvalidRequestContentException")));
    }

    #[test]
    fn decodes_function_names_and_arns() {
        assert_eq!(
            percent_decode("arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Ax"),
            "arn:aws:lambda:us-east-1:1:function:x"
        );
        assert_eq!(percent_decode("plain-name"), "plain-name");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
    }
}
