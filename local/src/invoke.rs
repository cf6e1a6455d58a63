//! The Lambda Invoke API for the stack's two functions, served on a local port by `jobgen dev`:
//! `POST /2015-03-31/functions/{name}/invocations` runs the in-process handler (the runtime
//! library's create-job and track, the same code the deployed bins run). With
//! `AWS_ENDPOINT_URL_LAMBDA` pointing here, `jobgen submit` (or any SDK client) invokes the function
//! named in the stack's Outputs exactly as on AWS, while every other service goes to the emulator.
//! `GET /2015-03-31/functions/{name}/configuration` answers with the deployed configuration, so
//! GetFunctionConfiguration (the operator commands read the retention from it) works the same.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use jobgen_runtime::create_job::CreateJob;
use jobgen_runtime::track::Tracker;
use serde_json::{Value, json};

/// The functions served: names and ARNs as deployed, and their handlers.
pub struct Functions {
    /// create-job's name and ARN.
    pub create_job_ids: Vec<String>,
    /// track's name and ARN.
    pub track_ids: Vec<String>,
    /// The create-job handler.
    pub create_job: CreateJob<aws_sdk_ecs::Client>,
    /// The track handler.
    pub tracker: Tracker,
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
pub async fn handle(
    functions: Arc<Functions>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
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
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(respond(
                StatusCode::BAD_REQUEST,
                json!({"Type": "User", "message": format!("cannot read the request body: {e}")}),
                Some("InvalidRequestContentException"),
            ));
        }
    };
    let payload: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return Ok(respond(
                    StatusCode::BAD_REQUEST,
                    json!({"Type": "User", "message": format!("Could not parse request body into json: {e}")}),
                    Some("InvalidRequestContentException"),
                ));
            }
        }
    };
    if functions.create_job_ids.contains(&name) {
        let deadline = chrono::Utc::now().timestamp_millis() + functions.create_job_timeout_ms;
        let result = functions.create_job.handle(payload, Some(deadline)).await;
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
