//! The create-job handler: validate a request, record the job exactly once, start its task exactly
//! once, and answer a direct invoke or a Lambda function URL (payload format 2.0) request.
//!
//! Exactly once rests on three things:
//! - the job id is derived from the idempotency key (lowercase RFC 4648 base32 of SHA-256 of the
//!   key, first 26 characters = 130 bits; without a key, a fresh lowercase ULID), so all replays
//!   of one key hit one record;
//! - the record is written with a conditional PutItem carrying a request fingerprint and a launch
//!   lease (until the invocation's deadline plus a margin): only the writer launches, a replay with
//!   the same parameters gets the existing job (a different fingerprint is a 409), and a replay
//!   after the lease expired with no task recorded (the launcher crashed) claims the lease with a
//!   conditional update and launches with the SAME RunTask clientToken;
//! - the clientToken (`<job id>-<attempt>`) makes ECS itself start at most one task per attempt.
//!
//! The launch itself (RunTask, the record of its outcome, and the stop of a task whose job was
//! cancelled while it was being launched) is the [`crate::service`]'s, which later launch paths
//! share; create-job answers with the job as the launch left it (a cancelled job, not an error,
//! when `jobgen cancel` won the race).
//!
//! A job whose type or project has a concurrency limit is recorded QUEUED (the same conditional
//! PutItem), then create-job admits from its queue ([`crate::service::LaunchService::admit_and_launch`]
//! with the new job as hint, so the job is seen even before the queue index shows it): a job
//! submitted while a slot is free starts at once (201), one that must wait is answered 202 with
//! status QUEUED and starts when a running job of its queue stops. Replays answer 200 as for any
//! job, after moving a stranded limited job on ([`crate::service::LaunchService::resume`]).
//!
//! Everything is validated before anything is written. The payload is read as the raw JSON text
//! Lambda delivers ([`parse_json`] refuses a key given twice at any depth, which a `Value` would
//! collapse to its last value), only a JSON object is a request ([`parse_request`]: no positional
//! arrays, no unknown fields), and every message quotes input through [`echo`] or [`key_path`]:
//! control characters escaped, long values cut.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::RuntimeConfig;
use crate::contract::{self, ResolvedJobType};
use crate::job::{FailureClass, Job, JobStatus, LaunchErrorKind, format_ts};
use crate::launch::LaunchSpec;

/// Largest accepted `metadata` (its JSON text), in bytes.
pub const METADATA_LIMIT_BYTES: usize = 64 * 1024;
/// Longest accepted idempotency key, in characters.
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 256;
/// Longest environment variable name, in bytes.
pub const ENV_NAME_MAX_BYTES: usize = 255;
/// Length of a job id.
pub const JOB_ID_LEN: usize = 26;
/// Most characters of one piece of input a message quotes (after escaping); the rest is counted.
pub const ECHO_MAX_CHARS: usize = 64;
/// Longest message create-job answers with, in characters.
pub const MESSAGE_MAX_CHARS: usize = 1024;
/// Most job types an unknown-job-type message lists.
const KNOWN_LISTED: usize = 20;

/// Input as a message may quote it: in double quotes, every control or other unprintable character
/// escaped as Rust does (`\0`, `\n`, `\u{1b}`), and cut after [`ECHO_MAX_CHARS`] characters with
/// `…(N more characters)`, so a message never carries raw control characters or a whole huge value.
pub fn echo(text: &str) -> String {
    let total = text.chars().count();
    let mut out = String::from("\"");
    let mut shown = 0;
    for (taken, c) in text.chars().enumerate() {
        let escaped: String = if c == '\'' { c.to_string() } else { c.escape_debug().collect() };
        let width = escaped.chars().count();
        if shown + width > ECHO_MAX_CHARS {
            out.push('"');
            out.push_str(&format!("…({} more characters)", total - taken));
            return out;
        }
        out.push_str(&escaped);
        shown += width;
    }
    out.push('"');
    out
}

/// A map key as a segment of a field path: as it is when it is a plain name (ASCII letters,
/// digits, `_` and `-`, at most [`ECHO_MAX_CHARS`]), else quoted by [`echo`]: `environment.A-B`,
/// `environment."A B"`.
pub fn key_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= ECHO_MAX_CHARS
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain { format!("{parent}.{key}") } else { format!("{parent}.{}", echo(key)) }
}

/// `message` cut at [`MESSAGE_MAX_CHARS`] characters.
fn bounded(message: String) -> String {
    let total = message.chars().count();
    if total <= MESSAGE_MAX_CHARS {
        return message;
    }
    let mut cut: String = message.chars().take(MESSAGE_MAX_CHARS).collect();
    cut.push_str(&format!("…({} more characters)", total - MESSAGE_MAX_CHARS));
    cut
}

/// What kind of JSON value `value` is, for "must be a string, not a number".
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A create-job request. [`parse_request`] is its one parser (a JSON object, every field checked
/// with a message naming it); `Serialize` gives the request's JSON (what `jobgen submit` sends).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateJobRequest {
    /// The job type (a job type of the stack); `job_type` is accepted as well.
    pub job_type: String,
    /// Replays with the same key return the same job and never start a second task;
    /// `idempotency_key` is accepted as well.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Environment variables for the job's main container.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// Command override for the main container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Free-form JSON object stored with the job (not passed to the task).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// The schedule this request is a run of (what a schedule's target input names,
    /// [`crate::schedule::input`]): it must be one of the stack's, for this job type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
}

/// A request the handler refuses or cannot complete, with its HTTP-like status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status: 400, 404, 405, 409, 429, 500, 503.
    pub status: u16,
    /// Machine-readable code (e.g. `InvalidRequest`, `UnknownJobType`).
    pub code: &'static str,
    /// What happened and how to fix it.
    pub message: String,
    /// Whether the same request may succeed later.
    pub retryable: bool,
    /// The job, when one was recorded (a failed launch).
    pub job: Option<Box<JobView>>,
}

impl ApiError {
    /// An error with `message`, cut at [`MESSAGE_MAX_CHARS`] (a last bound: every piece of input a
    /// message quotes went through [`echo`] or [`key_path`] already).
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: bounded(message.into()), retryable: false, job: None }
    }

    /// 400.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequest", message)
    }

    /// The JSON error body.
    pub fn body(&self) -> Value {
        let mut body = serde_json::json!({
            "error": {"code": self.code, "message": self.message, "retryable": self.retryable}
        });
        if let Some(job) = &self.job {
            body["job"] = serde_json::to_value(job).unwrap_or(Value::Null);
        }
        body
    }
}

/// What create-job returns about a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    /// The job id.
    pub job_id: String,
    /// The job type.
    pub job_type: String,
    /// The status.
    pub status: JobStatus,
    /// The attempt number.
    pub attempt: u32,
    /// The task ARN, once launched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// When the job was recorded.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// When RunTask accepted the task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launched_at: Option<String>,
    /// Why the launch failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_error: Option<String>,
    /// Why the job failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_class: Option<FailureClass>,
    /// The main container's exit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// When a launch that failed retryably (RunTask throttled, no capacity) is tried again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relaunch_at: Option<String>,
    /// True when this request recorded the job; false for a replay of an idempotency key.
    pub created: bool,
}

impl JobView {
    /// Whether the job waits to start by itself (QUEUED, or backing off a throttled launch): 202.
    pub fn waits(&self) -> bool {
        self.status == JobStatus::Queued || (self.status == JobStatus::LaunchFailed && self.relaunch_at.is_some())
    }
}

impl JobView {
    /// The view of `job`.
    pub fn of(job: &Job, created: bool) -> JobView {
        JobView {
            job_id: job.job_id.clone(),
            job_type: job.job_type.clone(),
            status: job.status,
            attempt: job.attempt.number,
            task_arn: job.attempt.task_arn.clone(),
            created_at: format_ts(&job.created_at),
            updated_at: format_ts(&job.updated_at),
            launched_at: job.attempt.launched_at.as_ref().map(format_ts),
            launch_error: job.attempt.launch_error.clone(),
            failure_class: job.attempt.failure_class,
            exit_code: job.attempt.exit_code,
            relaunch_at: job.attempt.relaunch_at.as_ref().map(format_ts),
            created,
        }
    }
}

/// A request that passed validation: everything needed to record and launch the job.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRequest<'a> {
    /// The request.
    pub request: CreateJobRequest,
    /// The job type's launch parameters.
    pub job_type: ResolvedJobType<'a>,
    /// The job id.
    pub job_id: String,
    /// The request fingerprint.
    pub fingerprint: String,
    /// The launch of attempt 1.
    pub spec: LaunchSpec,
}

/// The job id for an idempotency key: lowercase base32 of SHA-256 of the key, first 26 characters.
pub fn job_id_for_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut id = data_encoding::BASE32_NOPAD.encode(&digest).to_ascii_lowercase();
    id.truncate(JOB_ID_LEN);
    id
}

/// A fresh job id for a request without an idempotency key: a lowercase ULID (time-ordered).
pub fn new_job_id() -> String {
    ulid::Ulid::new().to_string().to_ascii_lowercase()
}

/// JSON with object keys sorted at every level, so equal requests hash equally.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The request fingerprint: lowercase hex SHA-256 of the canonical JSON of job type, environment,
/// command, metadata and, when given, the schedule (not the idempotency key).
pub fn fingerprint(request: &CreateJobRequest) -> String {
    let mut value = serde_json::json!({
        "jobType": request.job_type,
        "environment": request.environment,
        "command": request.command,
        "metadata": request.metadata.clone().map(Value::Object).map(|m| canonical(&m)),
    });
    // Only when given, so the fingerprints of requests without a schedule stay what they were.
    if let Some(schedule) = &request.schedule {
        value["schedule"] = Value::from(schedule.as_str());
    }
    data_encoding::HEXLOWER.encode(&Sha256::digest(value.to_string().as_bytes()))
}

/// Deepest `metadata` nesting accepted (DynamoDB allows 32 levels in an item; the record adds one).
pub const METADATA_MAX_DEPTH: usize = 16;

/// DynamoDB stores `metadata` as a map: it refuses empty map keys and very deep nesting.
fn check_metadata(value: &Value, path: &str, depth: usize) -> Result<(), ApiError> {
    if depth > METADATA_MAX_DEPTH {
        return Err(ApiError::invalid(format!(
            "{path}: nests deeper than {METADATA_MAX_DEPTH} levels: flatten it or store it as a JSON string"
        )));
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key.is_empty() {
                    return Err(ApiError::invalid(format!("{path}: has an empty key: DynamoDB cannot store it")));
                }
                check_metadata(child, &key_path(path, key), depth + 1)?;
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                check_metadata(child, &format!("{path}[{i}]"), depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// What the job type lets a request override (its configuration document entry): a `command` only
/// with `allowCommandOverride`, and only the environment names in `allowedEnvironment` when the
/// job type has that list. Whoever may invoke create-job runs the job type's task with its role and
/// secrets, so these are what keep a caller from choosing the code it runs (a command, or a
/// variable such as LD_PRELOAD or NODE_OPTIONS). A refusal is a 400 naming the field and the
/// `jobgen.yaml` key that would allow it.
fn check_override_policy(request: &CreateJobRequest, job_type: &ResolvedJobType<'_>) -> Result<(), ApiError> {
    let name = job_type.name;
    if request.command.is_some() && !job_type.entry.allow_command_override {
        return Err(ApiError::invalid(format!(
            "command: job type {name} does not accept a command override (its tasks run the command of its task definition): omit `command`, or set `job_types.{name}.allow_command_override: true` in jobgen.yaml if every caller may run any command with the job type's task role and secrets"
        )));
    }
    if let Some(allowed) = &job_type.entry.allowed_environment {
        for variable in request.environment.keys() {
            if allowed.contains(variable) {
                continue;
            }
            let mut listed: Vec<&str> = allowed.iter().take(KNOWN_LISTED).map(String::as_str).collect();
            let more = format!("and {} more", allowed.len().saturating_sub(KNOWN_LISTED));
            if allowed.len() > KNOWN_LISTED {
                listed.push(&more);
            }
            let accepts = if listed.is_empty() {
                "no environment variables".to_string()
            } else {
                format!("only {}", listed.join(", "))
            };
            return Err(ApiError::invalid(format!(
                "{}: job type {name} accepts {accepts} from a request (`job_types.{name}.allowed_environment` in jobgen.yaml): remove the variable, or add it to that list",
                key_path("environment", variable)
            )));
        }
    }
    Ok(())
}

/// Validates a request against the stack's job types. Nothing is written before this passes.
pub fn validate(request: CreateJobRequest, config: &RuntimeConfig) -> Result<ValidRequest<'_>, ApiError> {
    if request.job_type.is_empty() {
        return Err(ApiError::invalid("jobType: is empty: name one of the stack's job types"));
    }
    let Some(job_type) = config.launch_table.resolve(&request.job_type) else {
        let types = &config.launch_table.job_types;
        let mut known: Vec<&str> = types.keys().take(KNOWN_LISTED).map(String::as_str).collect();
        let more = format!("and {} more", types.len().saturating_sub(KNOWN_LISTED));
        if types.len() > KNOWN_LISTED {
            known.push(&more);
        }
        return Err(ApiError::new(
            404,
            "UnknownJobType",
            format!(
                "jobType: {} is not a job type of this stack (known: {})",
                echo(&request.job_type),
                known.join(", ")
            ),
        ));
    };
    if let Some(key) = &request.idempotency_key {
        let chars = key.chars().count();
        if chars == 0 || chars > IDEMPOTENCY_KEY_MAX_CHARS || key.chars().any(char::is_control) {
            return Err(ApiError::invalid(format!(
                "idempotencyKey: must be 1-{IDEMPOTENCY_KEY_MAX_CHARS} characters without control characters (got {chars})"
            )));
        }
    }
    for name in request.environment.keys() {
        let path = key_path("environment", name);
        if !contract::is_env_name(name) || name.len() > ENV_NAME_MAX_BYTES {
            return Err(ApiError::invalid(format!(
                "{path}: is not a valid variable name: use letters, digits and _, not starting with a digit, at most {ENV_NAME_MAX_BYTES} characters"
            )));
        }
        if name.starts_with(contract::RESERVED_ENV_PREFIX) {
            return Err(ApiError::invalid(format!(
                "{path}: the JOBGEN_ prefix is reserved for the variables jobgen sets ({}, {}, {}): rename it",
                contract::TASK_ENV_JOB_ID,
                contract::TASK_ENV_JOB_TYPE,
                contract::TASK_ENV_ATTEMPT
            )));
        }
    }
    for (name, value) in &request.environment {
        if value.contains('\0') {
            return Err(ApiError::invalid(format!("{}: contains a NUL character", key_path("environment", name))));
        }
    }
    if let Some(command) = &request.command {
        if command.is_empty() {
            return Err(ApiError::invalid("command: is empty: omit it to run the image's default command"));
        }
        if command.iter().any(|arg| arg.contains('\0')) {
            return Err(ApiError::invalid("command: an argument contains a NUL character"));
        }
    }
    check_override_policy(&request, &job_type)?;
    if let Some(name) = &request.schedule {
        check_schedule(&request, name, config)?;
    }
    if let Some(metadata) = &request.metadata {
        check_metadata(&Value::Object(metadata.clone()), "metadata", 0)?;
        let size = serde_json::to_string(metadata).map(|s| s.len()).unwrap_or(usize::MAX);
        if size > METADATA_LIMIT_BYTES {
            return Err(ApiError::invalid(format!(
                "metadata: is {size} bytes of JSON, more than the {METADATA_LIMIT_BYTES}-byte limit: store large data elsewhere and pass a reference"
            )));
        }
    }
    let job_id = match &request.idempotency_key {
        Some(key) => job_id_for_key(key),
        None => new_job_id(),
    };
    let spec = LaunchSpec::new(
        &config.project,
        &job_type,
        &job_id,
        1,
        request.environment.iter().map(|(k, v)| (k.clone(), v.clone())),
        request.command.clone(),
    )
    .with_progress(&job_type, &config.table_name);
    let size = spec.overrides_json().len();
    if size > contract::RUN_TASK_OVERRIDES_LIMIT_BYTES {
        return Err(ApiError::invalid(format!(
            "environment and command: the RunTask overrides would be {size} bytes, more than ECS's {}-byte limit: pass large values through metadata or S3",
            contract::RUN_TASK_OVERRIDES_LIMIT_BYTES
        )));
    }
    let fingerprint = fingerprint(&request);
    Ok(ValidRequest { request, job_type, job_id, fingerprint, spec })
}

/// A scheduled request names one of the stack's schedules, for that schedule's job type, with an
/// idempotency key (a schedule's input always has one: without it a redelivered trigger would
/// start a second job).
fn check_schedule(request: &CreateJobRequest, name: &str, config: &RuntimeConfig) -> Result<(), ApiError> {
    let Some(entry) = config.launch_table.schedules.get(name) else {
        let known: Vec<&str> = config.launch_table.schedules.keys().take(KNOWN_LISTED).map(String::as_str).collect();
        return Err(ApiError::new(
            404,
            "UnknownSchedule",
            format!(
                "schedule: {} is not a schedule of this stack (known: {})",
                echo(name),
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ),
        ));
    };
    if entry.job_type != request.job_type {
        return Err(ApiError::invalid(format!(
            "schedule: {} submits job type {}, not {}",
            echo(name),
            echo(&entry.job_type),
            echo(&request.job_type)
        )));
    }
    if request.idempotency_key.is_none() {
        return Err(ApiError::invalid(format!(
            "idempotencyKey: is missing: a run of schedule {} needs the key its schedule sends",
            echo(name)
        )));
    }
    Ok(())
}

/// How the function was invoked.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// Direct invoke: the payload is the request (or the error to answer with: not JSON, or a key
    /// given twice).
    Direct(Result<Value, ApiError>),
    /// Function URL (payload format 2.0): the body parsed as JSON, or the error to answer with.
    Http(Result<Value, ApiError>),
}

/// JSON text to a [`Value`], refusing an object that gives a key twice, at any depth: serde_json
/// keeps the last value, so `{"jobType":"nope","jobType":"hello"}` would launch hello while a
/// proxy or log in front of the function may have read nope. `what` names the text in messages
/// (`request`, `body`).
pub fn parse_json(text: &[u8], what: &str) -> Result<Value, ApiError> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = Strict { path: what }.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    value.map_err(|e| match e.classify() {
        // The only data errors of a `Value` are ours: the key named, with its line and column.
        serde_json::error::Category::Data => ApiError::invalid(e.to_string()),
        _ => ApiError::invalid(format!("{what}: is not valid JSON: {e}")),
    })
}

/// Builds a [`Value`] like serde_json's own, but fails on a duplicate key; `path` is where it is.
struct Strict<'p> {
    path: &'p str,
}

impl<'de> serde::de::DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let path = format!("{}[{}]", self.path, items.len());
            match seq.next_element_seed(Strict { path: &path })? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "{}: has the key {} twice: give each key once",
                    self.path,
                    echo(&key)
                )));
            }
            let path = key_path(self.path, &key);
            let value = map.next_value_seed(Strict { path: &path })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Tells a function URL event (it has `requestContext.http`) from a direct invoke and extracts the
/// request body (base64-decoded when `isBase64Encoded`). `payload` is the invocation's payload as
/// Lambda delivered it (raw JSON text, so a duplicate key is seen, not silently collapsed).
pub fn parse_invocation(payload: &[u8]) -> Invocation {
    // A function URL event is Lambda's own JSON: a payload that fails here is a direct invoke's.
    let payload = match parse_json(payload, "request") {
        Ok(value) => value,
        Err(e) => return Invocation::Direct(Err(e)),
    };
    let Some(http) = payload.get("requestContext").and_then(|c| c.get("http")) else {
        return Invocation::Direct(Ok(payload));
    };
    let method = match http.get("method").and_then(Value::as_str) {
        Some(method) if !method.is_empty() => method,
        _ => {
            return Invocation::Http(Err(ApiError::new(
                405,
                "MethodNotAllowed",
                "the request has no HTTP method (requestContext.http.method): POST a JSON job request",
            )));
        }
    };
    if !method.eq_ignore_ascii_case("POST") {
        return Invocation::Http(Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("method {} is not allowed: POST a JSON job request", echo(method)),
        )));
    }
    let body = match payload.get("body") {
        None | Some(Value::Null) => "",
        Some(Value::String(body)) => body.as_str(),
        Some(other) => {
            return Invocation::Http(Err(ApiError::invalid(format!("body: is {}, not a string", kind(other)))));
        }
    };
    let bytes = if payload.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false) {
        match data_encoding::BASE64.decode(body.as_bytes()) {
            Ok(bytes) => bytes,
            Err(e) => return Invocation::Http(Err(ApiError::invalid(format!("body: is not valid base64: {e}")))),
        }
    } else {
        body.as_bytes().to_vec()
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Invocation::Http(Err(ApiError::invalid("body: is empty: POST a JSON job request")));
    }
    Invocation::Http(parse_json(&bytes, "body"))
}

/// The request's fields, each with the other spelling accepted for it.
const FIELDS: [(&str, Option<&str>); 6] = [
    ("jobType", Some("job_type")),
    ("idempotencyKey", Some("idempotency_key")),
    ("environment", None),
    ("command", None),
    ("metadata", None),
    ("schedule", None),
];

/// Parses the request: a JSON object (nothing else is a request: an array is not read by
/// position), every field of the right type, and no field the request does not have (a typo
/// must not silently drop data). A `null` optional field is the same as an absent one.
pub fn parse_request(value: Value) -> Result<CreateJobRequest, ApiError> {
    let Value::Object(object) = value else {
        return Err(ApiError::invalid(format!(
            "request: is {}, not a JSON object: send {{\"jobType\": \"NAME\"}}, optionally with idempotencyKey, \
             environment, command and metadata",
            kind(&value)
        )));
    };
    let names = || FIELDS.map(|(name, _)| name).join(", ");
    let mut request = CreateJobRequest::default();
    let mut job_type: Option<String> = None;
    let mut given: BTreeMap<&str, String> = BTreeMap::new();
    for (key, value) in object {
        let Some((field, _)) = FIELDS.iter().find(|(name, alias)| *name == key || *alias == Some(key.as_str())) else {
            return Err(ApiError::invalid(format!("request: has no field {}: its fields are {}", echo(&key), names())));
        };
        if let Some(first) = given.insert(field, key.clone()) {
            return Err(ApiError::invalid(format!("request: {first} and {key} are the same field: give it once")));
        }
        let got = kind(&value);
        let wrong = |expected: &str| ApiError::invalid(format!("{field}: must be {expected}, not {got}"));
        match (*field, value) {
            (_, Value::Null) if *field != "jobType" => {}
            ("jobType", Value::String(text)) => job_type = Some(text),
            ("jobType", _) => return Err(wrong("a string naming one of the stack's job types")),
            ("idempotencyKey", Value::String(text)) => request.idempotency_key = Some(text),
            ("idempotencyKey", _) => return Err(wrong("a string")),
            ("environment", Value::Object(vars)) => {
                for (name, value) in vars {
                    match value {
                        Value::String(text) => {
                            request.environment.insert(name, text);
                        }
                        other => {
                            return Err(ApiError::invalid(format!(
                                "{}: must be a string, not {}",
                                key_path("environment", &name),
                                kind(&other)
                            )));
                        }
                    }
                }
            }
            ("environment", _) => return Err(wrong("an object of NAME: \"value\" strings")),
            ("command", Value::Array(args)) => {
                let mut command = Vec::with_capacity(args.len());
                for (i, arg) in args.into_iter().enumerate() {
                    match arg {
                        Value::String(text) => command.push(text),
                        other => {
                            return Err(ApiError::invalid(format!(
                                "command[{i}]: must be a string, not {}",
                                kind(&other)
                            )));
                        }
                    }
                }
                request.command = Some(command);
            }
            ("command", _) => return Err(wrong("an array of strings")),
            ("metadata", Value::Object(metadata)) => request.metadata = Some(metadata),
            ("schedule", Value::String(text)) => request.schedule = Some(text),
            ("schedule", _) => return Err(wrong("a string naming one of the stack's schedules")),
            (_, _) => return Err(wrong("a JSON object")),
        }
    }
    request.job_type =
        job_type.ok_or_else(|| ApiError::invalid("jobType: is missing: name one of the stack's job types"))?;
    Ok(request)
}

/// A function URL response.
pub fn http_response(status: u16, body: &Value) -> Value {
    serde_json::json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": body.to_string(),
        "isBase64Encoded": false,
    })
}

/// A direct-invoke response: the body with an HTTP-like `statusCode` member.
pub fn direct_response(status: u16, body: Value) -> Value {
    let mut body = body;
    if let Value::Object(map) = &mut body {
        map.insert("statusCode".into(), Value::from(status));
    }
    body
}

/// The HTTP status for a failed launch.
pub fn launch_failure_status(kind: LaunchErrorKind) -> (u16, &'static str) {
    match kind {
        LaunchErrorKind::Throttled => (429, "Throttled"),
        LaunchErrorKind::Capacity => (503, "CapacityUnavailable"),
        LaunchErrorKind::Unavailable => (503, "EcsUnavailable"),
        LaunchErrorKind::Rejected | LaunchErrorKind::Unknown => (500, "LaunchRejected"),
    }
}

#[cfg(feature = "aws")]
pub use handler::*;

#[cfg(feature = "aws")]
mod handler {
    use chrono::{DateTime, Utc};
    use serde_json::Value;

    use super::*;
    use crate::launcher::{Launcher, RunTaskApi};
    use crate::schedule::Overlap;
    use crate::service::{AdmitBudget, Claim, Launch, LaunchService, Resumed, ServiceError};
    pub use crate::service::{CANCELLED_DURING_LAUNCH, DEFAULT_LEASE_MS, Fault, LEASE_MARGIN_MS};
    use crate::store::{PutOutcome, ScheduledPut, Store, StoreError};

    /// How often a scheduled run reads its schedule's pointer again after another run moved it.
    const SCHEDULE_POINTER_TRIES: u32 = 5;

    /// Most launches one create-job call makes from its job's queue (its own job and the older
    /// ones ahead of it): the caller waits for them.
    pub const ADMIT_LAUNCHES_PER_REQUEST: u32 = 5;

    fn store_error(err: StoreError) -> ApiError {
        let retryable = err.is_retryable();
        let (status, code) = if retryable { (503, "StoreUnavailable") } else { (500, "StoreError") };
        ApiError { status, code, message: err.to_string(), retryable, job: None }
    }

    fn service_error(err: ServiceError) -> ApiError {
        match err {
            ServiceError::Store(e) => store_error(e),
            vanished @ ServiceError::Vanished { .. } => {
                ApiError { retryable: true, ..ApiError::new(503, "Conflict", vanished.to_string()) }
            }
            fault @ ServiceError::InjectedFault => ApiError::new(500, "InjectedFault", fault.to_string()),
            other @ (ServiceError::Timer(_) | ServiceError::Stop { .. }) => {
                let retryable = other.is_retryable();
                let status = if retryable { 503 } else { 500 };
                ApiError { retryable, ..ApiError::new(status, "TimerError", other.to_string()) }
            }
        }
    }

    /// The answer to a launch this request made: the job as the launch left it, or, when RunTask
    /// started no task, the error that says so (with the job, and whether a replay may relaunch).
    fn answer(launch: Launch, created: bool) -> Result<JobView, ApiError> {
        match launch {
            Launch::Started(job) | Launch::Superseded(job) | Launch::Cancelled { job, .. } => {
                Ok(JobView::of(&job, created))
            }
            // RunTask was throttled or had no capacity, and the launch backoff tries it again by
            // itself: accepted (202), not an error the caller must retry.
            Launch::Failed { job, .. } if job.attempt.relaunch_at.is_some() => Ok(JobView::of(&job, created)),
            Launch::Failed { job, failure } => {
                let (status, code) = launch_failure_status(failure.kind);
                Err(ApiError {
                    status,
                    code,
                    message: format!(
                        "job {} was recorded but its task did not start: {}{}",
                        job.job_id,
                        failure.reason,
                        if failure.kind.is_retryable() {
                            " (retry with the same idempotency key to relaunch it)"
                        } else {
                            " (check the stack's task definition, cluster and network)"
                        }
                    ),
                    retryable: failure.kind.is_retryable(),
                    job: Some(Box::new(JobView::of(&job, created))),
                })
            }
        }
    }

    /// The create-job handler: validates and records a job, and leaves its launch to the
    /// [`LaunchService`].
    #[derive(Debug)]
    pub struct CreateJob<A> {
        service: LaunchService<A>,
        lease_margin_ms: i64,
    }

    impl<A: RunTaskApi> CreateJob<A> {
        /// A handler over `store` and `launcher`.
        pub fn new(store: Store, launcher: Launcher<A>, config: RuntimeConfig) -> Self {
            CreateJob { service: LaunchService::new(store, launcher, config), lease_margin_ms: LEASE_MARGIN_MS }
        }

        /// Arms timers through `timers` (see [`LaunchService::with_timers`]).
        pub fn with_timers(mut self, timers: Option<crate::timers::Timers>) -> Self {
            self.service = self.service.with_timers(timers);
            self
        }

        /// Sets the lease margin beyond the deadline (tests use 0 to expire leases at once).
        pub fn with_lease_margin_ms(mut self, margin: i64) -> Self {
            self.lease_margin_ms = margin;
            self
        }

        /// Injects a fault.
        pub fn with_fault(mut self, fault: Option<Fault>) -> Self {
            self.service = self.service.with_fault(fault);
            self
        }

        /// Reads the time of its launch records and timers from `clock` (see
        /// [`crate::service::Clock`]; [`CreateJob::create`] takes the time of the job's record).
        pub fn with_clock(mut self, clock: crate::service::Clock) -> Self {
            self.service = self.service.with_clock(clock);
            self
        }

        /// The launch service.
        pub fn service(&self) -> &LaunchService<A> {
            &self.service
        }

        /// The store.
        pub fn store(&self) -> &Store {
            self.service.store()
        }

        /// The launcher.
        pub fn launcher(&self) -> &Launcher<A> {
            self.service.launcher()
        }

        /// The configuration.
        pub fn config(&self) -> &RuntimeConfig {
            self.service.config()
        }

        /// Handles one invocation payload (direct or function URL), as Lambda delivered it: the
        /// raw JSON text, so a key given twice is refused rather than silently collapsed. Never
        /// fails: every error is an HTTP-like response.
        pub async fn handle_payload(&self, payload: &[u8], deadline_ms: Option<i64>) -> Value {
            match parse_invocation(payload) {
                Invocation::Direct(request) => {
                    let (status, body) = self.respond(request, deadline_ms).await;
                    direct_response(status, body)
                }
                Invocation::Http(request) => {
                    let (status, body) = self.respond(request, deadline_ms).await;
                    http_response(status, &body)
                }
            }
        }

        /// [`CreateJob::handle_payload`] of a payload already parsed (a `Value` has no duplicate keys).
        pub async fn handle(&self, payload: Value, deadline_ms: Option<i64>) -> Value {
            self.handle_payload(payload.to_string().as_bytes(), deadline_ms).await
        }

        async fn respond(&self, request: Result<Value, ApiError>, deadline_ms: Option<i64>) -> (u16, Value) {
            let result = match request.and_then(parse_request) {
                Ok(request) => self.create(request, Utc::now(), deadline_ms).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(view) => {
                    let status = match view.created {
                        true if view.waits() => 202,
                        true => 201,
                        false => 200,
                    };
                    (status, serde_json::to_value(&view).unwrap_or(Value::Null))
                }
                Err(e) => {
                    if e.status >= 500 || e.status == 429 {
                        tracing::warn!(status = e.status, code = e.code, message = %e.message, "create-job failed");
                    }
                    (e.status, e.body())
                }
            }
        }

        /// Creates (or replays) a job: validate, record it (1 conditional PutItem), then launch it
        /// ([`LaunchService::launch`]); a replay of an idempotency key answers with the existing
        /// job, relaunching it when its launch was abandoned or failed retryably
        /// ([`LaunchService::claim_and_launch`]). `Ok` is 201 when `created`, else 200.
        ///
        /// A job a concurrency limit applies to is recorded QUEUED instead and admitted from its
        /// queue ([`LaunchService::admit_and_launch`], at most [`ADMIT_LAUNCHES_PER_REQUEST`]
        /// launches): `Ok` is then 202 while it is still QUEUED. Its replays go through
        /// [`LaunchService::resume`].
        pub async fn create(
            &self,
            request: CreateJobRequest,
            now: DateTime<Utc>,
            deadline_ms: Option<i64>,
        ) -> Result<JobView, ApiError> {
            let valid = validate(request, self.config())?;
            let lease_until = match deadline_ms {
                Some(deadline) if deadline > 0 => deadline.max(now.timestamp_millis()) + self.lease_margin_ms,
                _ => now.timestamp_millis() + DEFAULT_LEASE_MS,
            };
            let req = &valid.request;
            let queue_key = self.config().launch_table.queue_key(&req.job_type).map(str::to_string);
            let job = Job::submitted(
                valid.job_id.clone(),
                req.job_type.clone(),
                req.idempotency_key.clone(),
                valid.fingerprint.clone(),
                req.environment.clone(),
                req.command.clone(),
                req.metadata.clone(),
                now,
                lease_until,
            );
            let mut job = match &queue_key {
                Some(key) => job.queued(key),
                None => job,
            };
            job.schedule = req.schedule.clone();
            let skips_overlap = req.schedule.as_deref().filter(|name| {
                self.config().launch_table.schedules.get(*name).is_some_and(|e| e.overlap == Overlap::Skip)
            });
            let put = match skips_overlap {
                Some(name) => self.put_unless_overlapping(&job, name).await?,
                None => self.store().put_new(&job).await.map_err(store_error)?,
            };
            match put {
                PutOutcome::Created => match queue_key {
                    None => answer(self.service.launch(job).await.map_err(service_error)?, true),
                    Some(key) => {
                        let budget = self.budget(now, deadline_ms, lease_until);
                        let job_id = job.job_id.clone();
                        // Boxed: admission nests the launch service's largest futures.
                        let admission = Box::pin(self.service.admit_and_launch(&key, Some(job.clone()), &budget))
                            .await
                            .map_err(service_error)?;
                        match admission.launch_of(&job_id) {
                            Some(launch) => answer(launch.clone(), true),
                            None => Ok(JobView::of(admission.hint.as_ref().unwrap_or(&job), true)),
                        }
                    }
                },
                PutOutcome::Exists(existing) => {
                    let existing = match existing {
                        Some(job) => *job,
                        None => self.get_existing(&valid.job_id).await?,
                    };
                    self.replay(existing, &valid, now, deadline_ms, lease_until).await
                }
            }
        }

        /// Records the run `job` of schedule `name`, whose runs must not overlap
        /// ([`Store::put_scheduled`]), as [`Store::put_new`] would record it; a run while the
        /// previous one is active is refused with 409 `ScheduleOverlap` naming it, and recorded
        /// nowhere. The pointer moves only when another run was recorded in between: a few reads
        /// again, then 503 (the trigger's redelivery decides again).
        async fn put_unless_overlapping(&self, job: &Job, name: &str) -> Result<PutOutcome, ApiError> {
            for _ in 0..SCHEDULE_POINTER_TRIES {
                let previous = self.store().schedule_pointer(name).await.map_err(store_error)?;
                if previous.as_deref() == Some(job.job_id.as_str()) {
                    // This run is the latest one: a redelivered trigger.
                    return Ok(PutOutcome::Exists(None));
                }
                match self.store().put_scheduled(job, name, previous.as_deref()).await.map_err(store_error)? {
                    ScheduledPut::Created => return Ok(PutOutcome::Created),
                    ScheduledPut::Exists(existing) => return Ok(PutOutcome::Exists(existing)),
                    ScheduledPut::Moved => continue,
                    ScheduledPut::Overlaps => {
                        let Some(active) = previous else { continue };
                        let Some(active) = self.store().get(&active).await.map_err(store_error)? else { continue };
                        return Err(ApiError {
                            job: Some(Box::new(JobView::of(&active, false))),
                            ..ApiError::new(
                                409,
                                "ScheduleOverlap",
                                format!(
                                    "schedule {}: its previous run {} is still {}, so this run is skipped (overlap: skip)",
                                    echo(name),
                                    active.job_id,
                                    active.status
                                ),
                            )
                        });
                    }
                }
            }
            Err(ApiError {
                retryable: true,
                ..ApiError::new(
                    503,
                    "Conflict",
                    format!("schedule {}: runs recorded concurrently; try again", echo(name)),
                )
            })
        }

        async fn get_existing(&self, job_id: &str) -> Result<Job, ApiError> {
            // The record existed a moment ago; only a TTL deletion or an operator removes one.
            self.store()
                .get(job_id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| service_error(ServiceError::Vanished { job_id: job_id.to_string() }))
        }

        async fn replay(
            &self,
            existing: Job,
            valid: &ValidRequest<'_>,
            now: DateTime<Utc>,
            deadline_ms: Option<i64>,
            lease_until: i64,
        ) -> Result<JobView, ApiError> {
            if existing.fingerprint != valid.fingerprint {
                return Err(ApiError::new(
                    409,
                    "IdempotencyKeyReused",
                    format!(
                        "idempotencyKey: was already used for job {} with different parameters: use a new key for a different job",
                        existing.job_id
                    ),
                ));
            }
            let limited = self.config().launch_table.queue_key(&existing.job_type).is_some()
                || existing.queue_key.is_some()
                || existing.slot.is_some();
            if limited {
                let budget = self.budget(now, deadline_ms, lease_until);
                return match Box::pin(self.service.resume(existing, now, &budget)).await.map_err(service_error)? {
                    Resumed::Launched(launch) => answer(launch, false),
                    Resumed::Current(current) => Ok(JobView::of(&current, false)),
                };
            }
            match self.service.claim_and_launch(existing, now, lease_until).await.map_err(service_error)? {
                Claim::Launched(launch) => answer(launch, false),
                Claim::NotClaimed(current) => Ok(JobView::of(&current, false)),
            }
        }

        /// The admission budget of this request: its deadline, and its lease for admitted jobs.
        fn budget(&self, now: DateTime<Utc>, deadline_ms: Option<i64>, lease_until: i64) -> AdmitBudget {
            AdmitBudget::for_invocation(deadline_ms, now.timestamp_millis(), ADMIT_LAUNCHES_PER_REQUEST)
                .with_lease_until_ms(lease_until)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Capacity;

    fn config() -> RuntimeConfig {
        RuntimeConfig {
            table_name: "jobs".into(),
            project: "demo".into(),
            launch_table: crate::contract::sample_table(Capacity::Fargate),
            retention_days: 0,
            timers: None,
        }
    }

    fn request(value: Value) -> Result<CreateJobRequest, ApiError> {
        parse_request(value)
    }

    #[test]
    fn accepts_a_full_request_with_either_spelling() {
        let c = config();
        let r = request(serde_json::json!({
            "job_type": "report", "idempotency_key": "k1",
            "environment": {"INPUT": "s3://b/k", "_X1": ""}, "command": ["run", "--fast"], "metadata": {"user": 7}
        }))
        .unwrap();
        let v = validate(r, &c).unwrap();
        assert_eq!(v.job_id, job_id_for_key("k1"));
        assert_eq!(v.job_id.len(), JOB_ID_LEN);
        assert!(v.job_id.chars().all(|ch| ch.is_ascii_lowercase() || ('2'..='7').contains(&ch)));
        assert_eq!(v.spec.client_token, format!("{}-1", v.job_id));
        let camel = request(serde_json::json!({"jobType": "report", "idempotencyKey": "k1"})).unwrap();
        assert_eq!(camel.idempotency_key.as_deref(), Some("k1"));
        let fresh = validate(request(serde_json::json!({"jobType": "report"})).unwrap(), &c).unwrap();
        assert_eq!(fresh.job_id.len(), JOB_ID_LEN);
        assert_ne!(
            fresh.job_id,
            validate(request(serde_json::json!({"jobType": "report"})).unwrap(), &c).unwrap().job_id
        );
    }

    #[test]
    fn refuses_bad_requests_with_the_field_path() {
        let c = config();
        let check = |value: Value, status: u16, needle: &str| {
            let err = match request(value) {
                Ok(r) => validate(r, &c).err(),
                Err(e) => Some(e),
            };
            let err = err.unwrap_or_else(|| panic!("expected an error containing {needle}"));
            assert_eq!(err.status, status, "{}", err.message);
            assert!(err.message.contains(needle), "{} does not contain {needle}", err.message);
        };
        check(serde_json::json!({"jobType": "nope"}), 404, "known: report");
        check(serde_json::json!({"jobType": ""}), 400, "jobType");
        check(
            serde_json::json!({"jobType": "report", "env": {}}),
            400,
            "request: has no field \"env\": its fields are",
        );
        check(serde_json::json!({"jobType": "report", "environment": {"1A": "x"}}), 400, "environment.1A");
        check(serde_json::json!({"jobType": "report", "environment": {"A-B": "x"}}), 400, "environment.A-B");
        check(serde_json::json!({"jobType": "report", "environment": {"JOBGEN_JOB_ID": "x"}}), 400, "reserved");
        check(
            serde_json::json!({"jobType": "report", "environment": {"A": 1}}),
            400,
            "environment.A: must be a string, not a number",
        );
        check(serde_json::json!({"jobType": "report", "command": []}), 400, "command");
        check(serde_json::json!({"jobType": "report", "idempotencyKey": ""}), 400, "idempotencyKey");
        check(
            serde_json::json!({"jobType": "report", "metadata": [1]}),
            400,
            "metadata: must be a JSON object, not an array",
        );
        check(
            serde_json::json!({"jobType": "report", "metadata": {"a": {"": 1}}}),
            400,
            "metadata.a: has an empty key",
        );
        let mut deep = serde_json::json!(1);
        for _ in 0..=METADATA_MAX_DEPTH {
            deep = serde_json::json!([deep]);
        }
        check(serde_json::json!({"jobType": "report", "metadata": {"d": deep}}), 400, "deeper than 16");
        let big = "x".repeat(METADATA_LIMIT_BYTES);
        check(serde_json::json!({"jobType": "report", "metadata": {"blob": big}}), 400, "metadata");
        let env: BTreeMap<String, String> = (0..10).map(|i| (format!("V{i}"), "y".repeat(800))).collect();
        check(serde_json::json!({"jobType": "report", "environment": env}), 400, "8192-byte limit");
    }

    #[test]
    fn a_command_and_unlisted_variables_are_refused_unless_the_job_type_allows_them() {
        let mut c = config();
        let report = c.launch_table.job_types.get_mut("report").unwrap();
        report.allow_command_override = false;
        report.allowed_environment = Some(vec!["INPUT".into(), "LEVEL".into()]);
        let check = |c: &RuntimeConfig, value: Value| validate(request(value).unwrap(), c).map(|v| v.spec).err();

        let err = check(&c, serde_json::json!({"jobType": "report", "command": ["sh", "-c", "env"]})).unwrap();
        assert_eq!((err.status, err.code), (400, "InvalidRequest"));
        assert!(err.message.starts_with("command: job type report does not accept a command override"), "{}", err);
        assert!(err.message.contains("job_types.report.allow_command_override: true"), "{err}");

        let err =
            check(&c, serde_json::json!({"jobType": "report", "environment": {"LD_PRELOAD": "/tmp/x.so"}})).unwrap();
        assert_eq!(err.status, 400);
        assert!(err.message.starts_with("environment.LD_PRELOAD: job type report accepts only INPUT, LEVEL"), "{err}");
        assert!(err.message.contains("job_types.report.allowed_environment"), "{err}");
        assert_eq!(check(&c, serde_json::json!({"jobType": "report", "environment": {"INPUT": "s3://b/k"}})), None);

        // An empty list takes no variable; the switch on takes the command.
        let report = c.launch_table.job_types.get_mut("report").unwrap();
        report.allowed_environment = Some(vec![]);
        report.allow_command_override = true;
        let err = check(&c, serde_json::json!({"jobType": "report", "environment": {"INPUT": "x"}})).unwrap();
        assert!(err.message.contains("job type report accepts no environment variables from a request"), "{err}");
        assert_eq!(check(&c, serde_json::json!({"jobType": "report", "command": ["run"]})), None);

        // Without a list, any valid name outside JOBGEN_ is still accepted.
        c.launch_table.job_types.get_mut("report").unwrap().allowed_environment = None;
        assert_eq!(check(&c, serde_json::json!({"jobType": "report", "environment": {"ANY_NAME": "x"}})), None);
    }

    #[test]
    fn overrides_limit_is_measured_on_the_exact_json() {
        let c = config();
        // Find the largest single value that fits: the limit must be hit exactly at 8192 bytes.
        let base = validate(
            request(serde_json::json!({"jobType": "report", "idempotencyKey": "k", "environment": {"V": ""}})).unwrap(),
            &c,
        )
        .unwrap()
        .spec
        .overrides_json()
        .len();
        let room = contract::RUN_TASK_OVERRIDES_LIMIT_BYTES - base;
        let fits =
            serde_json::json!({"jobType": "report", "idempotencyKey": "k", "environment": {"V": "a".repeat(room)}});
        assert!(validate(request(fits).unwrap(), &c).is_ok());
        let over =
            serde_json::json!({"jobType": "report", "idempotencyKey": "k", "environment": {"V": "a".repeat(room + 1)}});
        assert!(validate(request(over).unwrap(), &c).is_err());
    }

    #[test]
    fn fingerprint_ignores_key_order_but_not_values() {
        let a = request(serde_json::json!({"jobType": "report", "metadata": {"a": 1, "b": {"c": 2, "d": 3}}})).unwrap();
        let b = request(serde_json::json!({"jobType": "report", "metadata": {"b": {"d": 3, "c": 2}, "a": 1}})).unwrap();
        let c = request(serde_json::json!({"jobType": "report", "metadata": {"a": 2, "b": {"c": 2, "d": 3}}})).unwrap();
        let d = request(serde_json::json!({"jobType": "report", "idempotencyKey": "other", "metadata": {"a": 1, "b": {"c": 2, "d": 3}}})).unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert_eq!(fingerprint(&a), fingerprint(&d));
    }

    #[test]
    fn reads_function_url_events() {
        let parse = |event: Value| parse_invocation(event.to_string().as_bytes());
        let body = r#"{"jobType":"report"}"#;
        let event = serde_json::json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/", "headers": {},
            "requestContext": {"http": {"method": "POST", "path": "/"}},
            "body": data_encoding::BASE64.encode(body.as_bytes()), "isBase64Encoded": true
        });
        assert_eq!(parse(event), Invocation::Http(Ok(serde_json::json!({"jobType": "report"}))));
        let get = serde_json::json!({"requestContext": {"http": {"method": "GET"}}});
        assert!(matches!(parse(get), Invocation::Http(Err(ApiError { status: 405, .. }))));
        let empty = serde_json::json!({"requestContext": {"http": {"method": "POST"}}, "body": ""});
        assert!(matches!(parse(empty), Invocation::Http(Err(ApiError { status: 400, .. }))));
        let direct = serde_json::json!({"jobType": "report"});
        assert_eq!(parse(direct.clone()), Invocation::Direct(Ok(direct)));
        let response = http_response(201, &serde_json::json!({"a": 1}));
        assert_eq!(response["statusCode"], 201);
        assert_eq!(response["body"], r#"{"a":1}"#);
        assert_eq!(launch_failure_status(LaunchErrorKind::Throttled).0, 429);
        assert_eq!(launch_failure_status(LaunchErrorKind::Capacity).0, 503);
    }

    fn message(result: Result<impl std::fmt::Debug, ApiError>) -> String {
        match result {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => {
                assert_eq!(e.status, 400, "{}", e.message);
                e.message
            }
        }
    }

    #[test]
    fn only_a_json_object_is_a_request() {
        // serde's derive reads a struct from an array by position: ["hello", "k", {"A": "1"}] was
        // job type hello, key k and environment A=1.
        for value in [
            serde_json::json!(["report"]),
            serde_json::json!(["report", "k", {"A": "1"}]),
            serde_json::json!([]),
            serde_json::json!("report"),
            serde_json::json!(7),
            serde_json::json!(null),
            serde_json::json!(true),
        ] {
            let m = message(parse_request(value.clone()));
            assert!(m.starts_with("request: is ") && m.contains("not a JSON object"), "{value}: {m}");
            assert!(!m.contains("struct") && !m.contains("elements"), "{value}: {m}");
        }
        assert_eq!(
            message(parse_request(serde_json::json!({}))),
            "jobType: is missing: name one of the stack's job types"
        );
        let both = message(parse_request(serde_json::json!({"jobType": "report", "job_type": "report"})));
        assert_eq!(both, "request: jobType and job_type are the same field: give it once");
        let nulls = serde_json::json!({"jobType": "report", "idempotencyKey": null, "environment": null, "command": null, "metadata": null});
        assert_eq!(parse_request(nulls).unwrap(), CreateJobRequest { job_type: "report".into(), ..Default::default() });
        assert!(message(parse_request(serde_json::json!({"jobType": null}))).starts_with("jobType: must be a string"));
        assert_eq!(
            message(parse_request(serde_json::json!({"jobType": "report", "command": ["a", 1]}))),
            "command[1]: must be a string, not a number"
        );
    }

    #[test]
    fn a_key_given_twice_is_refused_at_every_level() {
        for (text, needle) in [
            (r#"{"jobType":"nope","jobType":"report"}"#, r#"request: has the key "jobType" twice"#),
            (
                r#"{"jobType":"report","environment":{"A":"1","A":"2"}}"#,
                r#"request.environment: has the key "A" twice"#,
            ),
            (
                r#"{"jobType":"report","metadata":{"a":[{"b":1,"b":2}]}}"#,
                r#"request.metadata.a[0]: has the key "b" twice"#,
            ),
            (r#"{"jobType":"report","job_type":"report"}"#, "jobType and job_type are the same field"),
        ] {
            let m = match parse_invocation(text.as_bytes()) {
                Invocation::Direct(value) => message(value.and_then(parse_request)),
                other => panic!("{text}: {other:?}"),
            };
            assert!(m.contains(needle), "{text}: {m}");
        }
        // The same in a function URL body (plain or base64), and in the event itself.
        let body = r#"{"jobType":"report","environment":{"A":"1","A":"2"}}"#;
        for (body, encoded) in [(body.to_string(), false), (data_encoding::BASE64.encode(body.as_bytes()), true)] {
            let event = serde_json::json!({"requestContext": {"http": {"method": "POST"}}, "body": body, "isBase64Encoded": encoded});
            let m = match parse_invocation(event.to_string().as_bytes()) {
                Invocation::Http(value) => message(value),
                other => panic!("{other:?}"),
            };
            assert!(
                m.starts_with(r#"body.environment: has the key "A" twice: give each key once at line 1 column"#),
                "{m}"
            );
        }
        let twice = r#"{"requestContext":{"http":{"method":"GET","method":"POST"}},"body":"{}"}"#;
        assert!(matches!(parse_invocation(twice.as_bytes()), Invocation::Direct(Err(ApiError { status: 400, .. }))));
        assert!(message(parse_json(b"{\"a\":", "request")).starts_with("request: is not valid JSON: EOF"));
        assert!(message(parse_json(b"{} {}", "request")).contains("trailing characters"));
    }

    #[test]
    fn messages_escape_and_cut_what_they_quote() {
        assert_eq!(echo("nope"), r#""nope""#);
        assert_eq!(echo("a\0b\n\u{1b}[31m\"'"), r#""a\0b\n\u{1b}[31m\"'""#);
        let long = "x".repeat(300);
        assert_eq!(echo(&long), format!("\"{}\"…(236 more characters)", "x".repeat(64)));
        assert_eq!(key_path("environment", "A-B_1"), "environment.A-B_1");
        assert_eq!(key_path("environment", "A\u{0}"), r#"environment."A\0""#);
        let c = config();
        let unknown =
            validate(CreateJobRequest { job_type: format!("{long}\u{0}\u{7}"), ..Default::default() }, &c).unwrap_err();
        assert_eq!(unknown.status, 404);
        assert!(unknown.message.contains("…(238 more characters) is not a job type"), "{}", unknown.message);
        let nul = validate(
            request(serde_json::json!({"jobType": "report", "environment": {"A\u{0}\u{1b}B": "x"}})).unwrap(),
            &c,
        )
        .unwrap_err();
        assert!(
            nul.message.starts_with(r#"environment."A\0\u{1b}B": is not a valid variable name"#),
            "{}",
            nul.message
        );
        let field = message(parse_request(serde_json::json!({"jobType": "report", "\u{0}": 1})));
        assert!(field.starts_with(r#"request: has no field "\0""#), "{field}");
        let no_method = serde_json::json!({"requestContext": {"http": {}}, "body": "{}"});
        let m = match parse_invocation(no_method.to_string().as_bytes()) {
            Invocation::Http(Err(e)) => (e.status, e.message),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            m,
            (405, "the request has no HTTP method (requestContext.http.method): POST a JSON job request".into())
        );
        let bad_method = serde_json::json!({"requestContext": {"http": {"method": "G\u{0}T"}}});
        match parse_invocation(bad_method.to_string().as_bytes()) {
            Invocation::Http(Err(e)) => {
                assert_eq!(e.message, r#"method "G\0T" is not allowed: POST a JSON job request"#)
            }
            other => panic!("{other:?}"),
        }
        for text in [echo(&"\u{0}".repeat(500)), bounded("y".repeat(5000))] {
            assert!(!text.chars().any(char::is_control), "{text}");
            assert!(text.chars().count() <= MESSAGE_MAX_CHARS + 40, "{}", text.len());
        }
    }
}
