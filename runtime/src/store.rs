//! The jobs table in DynamoDB: every read and every conditional write the handlers (and the
//! operator commands) make. Each write is one request whose condition encodes the state machine's
//! rules, so concurrent handlers and duplicated or reordered events need no locks and no
//! read-before-write.
//!
//! Attribute names come from [`crate::contract`]; records are converted through the [`Job`] serde
//! form, so the table holds exactly the JSON the operator commands print.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::contract::{self, attr};
use crate::job::{Job, JobStatus, format_ts};
use crate::launch::LaunchFailure;
use crate::launcher::{Launched, error_chain};
use crate::track::EventUpdate;

/// A failed table operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB refused or did not answer.
    #[error("DynamoDB {operation} failed: {message}")]
    Dynamo {
        /// The operation.
        operation: &'static str,
        /// The error code, when DynamoDB sent one.
        code: Option<String>,
        /// What went wrong.
        message: String,
        /// Whether trying again later may succeed (throttling, server errors, timeouts).
        retryable: bool,
    },
    /// A record does not have the shape of a job.
    #[error("job record {job_id} cannot be read: {why}")]
    Corrupt {
        /// The job id.
        job_id: String,
        /// What is wrong.
        why: String,
    },
}

impl StoreError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Dynamo { retryable: true, .. })
    }
}

/// DynamoDB error codes for conditions that pass: throttling, server errors, transaction conflicts.
const RETRYABLE_CODES: [&str; 8] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "LimitExceededException",
    "Throttling",
];

fn dynamo_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    err: &SdkError<E, HttpResponse>,
) -> StoreError {
    match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().map(str::to_string);
            let status = service.raw().status().as_u16();
            let message = service
                .err()
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}: {}", service.err()));
            // Without a code, the HTTP status decides: throttling and server errors pass.
            let retryable = match code.as_deref() {
                Some(c) => RETRYABLE_CODES.contains(&c),
                None => status == 429 || status >= 500,
            };
            StoreError::Dynamo { operation, code, message, retryable }
        }
        SdkError::ConstructionFailure(_) => {
            StoreError::Dynamo { operation, code: None, message: error_chain(err), retryable: false }
        }
        _ => StoreError::Dynamo { operation, code: None, message: error_chain(err), retryable: true },
    }
}

/// Converts JSON to a DynamoDB attribute value (numbers as N, objects as M, arrays as L).
pub fn json_to_attr(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(json_to_attr).collect()),
        Value::Object(map) => AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), json_to_attr(v))).collect()),
    }
}

/// Converts a DynamoDB attribute value to JSON (sets become arrays, binary becomes null).
pub fn attr_to_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| n.parse::<u64>().map(Value::from))
            .or_else(|_| n.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(n.clone())),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::L(items) => Value::Array(items.iter().map(attr_to_json).collect()),
        AttributeValue::M(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), attr_to_json(v))).collect()),
        AttributeValue::Ss(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
        _ => Value::Null,
    }
}

/// A job as a DynamoDB item.
pub fn job_to_item(job: &Job) -> HashMap<String, AttributeValue> {
    match job.to_json() {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), json_to_attr(v))).collect(),
        _ => HashMap::new(),
    }
}

/// A DynamoDB item as a job.
pub fn job_from_item(item: &HashMap<String, AttributeValue>) -> Result<Job, StoreError> {
    let json = item_to_json(item);
    serde_json::from_value(json).map_err(|e| StoreError::Corrupt {
        job_id: item.get(contract::KEY_ATTR).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default(),
        why: e.to_string(),
    })
}

/// A DynamoDB item as a JSON object.
pub fn item_to_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), attr_to_json(v))).collect())
}

/// Builds expression placeholders: `#name` for every attribute (several are reserved words, such as
/// `status`) and `:vN` for every value.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names.insert(placeholder.clone(), attribute.to_string());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn s(&mut self, text: &str) -> String {
        self.value(AttributeValue::S(text.to_string()))
    }

    fn n(&mut self, number: impl ToString) -> String {
        self.value(AttributeValue::N(number.to_string()))
    }

    fn values(self) -> (HashMap<String, String>, Option<HashMap<String, AttributeValue>>) {
        let values = if self.values.is_empty() { None } else { Some(self.values) };
        (self.names, values)
    }
}

/// SET and REMOVE clauses of an update expression.
#[derive(Default)]
struct Update {
    set: Vec<String>,
    remove: Vec<String>,
}

impl Update {
    fn set(&mut self, e: &mut Expr, attribute: &str, value: AttributeValue) {
        let (n, v) = (e.name(attribute), e.value(value));
        self.set.push(format!("{n} = {v}"));
    }

    fn remove(&mut self, e: &mut Expr, attribute: &str) {
        let n = e.name(attribute);
        self.remove.push(n);
    }

    fn expression(&self) -> String {
        let mut text = String::new();
        if !self.set.is_empty() {
            text.push_str("SET ");
            text.push_str(&self.set.join(", "));
        }
        if !self.remove.is_empty() {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str("REMOVE ");
            text.push_str(&self.remove.join(", "));
        }
        text
    }
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_string())
}

fn ts(t: &DateTime<Utc>) -> AttributeValue {
    AttributeValue::S(format_ts(t))
}

/// The result of writing a new job.
#[derive(Debug, Clone, PartialEq)]
pub enum PutOutcome {
    /// The record was written.
    Created,
    /// A record with this job id already exists (the existing record, when DynamoDB returned it).
    Exists(Option<Box<Job>>),
}

/// The result of applying an event.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyOutcome {
    /// The record changed; the new record.
    Applied(Box<Job>),
    /// The condition failed: a duplicate, a stale event, an event for another attempt or task, a
    /// terminal record, or no such job. The existing record when there is one.
    Ignored(Option<Box<Job>>),
}

/// Which jobs to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListFilter {
    /// Jobs with this status (index [`contract::INDEX_BY_STATUS`]).
    Status(JobStatus),
    /// Jobs of this type (index [`contract::INDEX_BY_TYPE`]).
    JobType(String),
}

/// One page of a listing, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    /// The jobs.
    pub jobs: Vec<Job>,
    /// Pass to the next call to continue; `None` at the end.
    pub next: Option<String>,
}

/// The jobs table.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

fn is_conditional_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

impl Store {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store { client, table: table.into() }
    }

    /// The DynamoDB client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn key(job_id: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([(contract::KEY_ATTR.to_string(), s(job_id))])
    }

    /// Writes a new job unless its id exists (1 PutItem). On a lost race DynamoDB returns the
    /// existing record with the failure, so no extra read is needed.
    pub async fn put_new(&self, job: &Job) -> Result<PutOutcome, StoreError> {
        let mut e = Expr::default();
        let condition = format!("attribute_not_exists({})", e.name(contract::KEY_ATTR));
        let (names, values) = e.values();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_to_item(job)))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutOutcome::Created),
            Err(err) if is_conditional_failure(&err) => {
                let existing = err
                    .as_service_error()
                    .and_then(|e| match e {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                            c.item()
                        }
                        _ => None,
                    })
                    .filter(|item| !item.is_empty())
                    .map(job_from_item)
                    .transpose()?;
                Ok(PutOutcome::Exists(existing.map(Box::new)))
            }
            Err(err) => Err(dynamo_error("PutItem", &err)),
        }
    }

    /// Reads a job (strongly consistent: the create-job path decides on it).
    pub async fn get(&self, job_id: &str) -> Result<Option<Job>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(job_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", &e))?;
        output.item().map(job_from_item).transpose()
    }

    /// Runs a conditional update; `Ok(None)` when the condition failed.
    async fn update(
        &self,
        operation: &'static str,
        job_id: &str,
        e: Expr,
        update: &Update,
        condition: String,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        let (names, values) = e.values();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(job_id)))
            .update_expression(update.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(values)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes() {
                Some(item) => job_from_item(item).map(Ok),
                None => Err(StoreError::Corrupt {
                    job_id: job_id.to_string(),
                    why: format!("{operation} returned no attributes"),
                }),
            },
            Err(err) if is_conditional_failure(&err) => {
                let existing = err
                    .as_service_error()
                    .and_then(|e| match e {
                        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                            c,
                        ) => c.item(),
                        _ => None,
                    })
                    .filter(|item| !item.is_empty())
                    .map(job_from_item)
                    .transpose()?;
                Ok(Err(existing))
            }
            Err(err) => Err(dynamo_error(operation, &err)),
        }
    }

    /// Claims the launch of a job whose launcher died (SUBMITTED, no task, lease expired) or whose
    /// launch failed retryably (LAUNCH_FAILED): sets a new lease (1 UpdateItem). `Ok(Some)` when this
    /// caller won and must launch; `Ok(None)` when another caller holds or finished the launch.
    pub async fn claim_launch(
        &self,
        job_id: &str,
        attempt: u32,
        now: DateTime<Utc>,
        lease_until_ms: i64,
    ) -> Result<Option<Job>, StoreError> {
        let mut e = Expr::default();
        let mut u = Update::default();
        let submitted = e.s(JobStatus::Submitted.as_str());
        u.set.push(format!("{} = {submitted}", e.name(contract::STATUS_ATTR)));
        u.set(&mut e, attr::LEASE_UNTIL, AttributeValue::N(lease_until_ms.to_string()));
        u.set(&mut e, attr::UPDATED_AT, ts(&now));
        for a in [attr::LAUNCH_ERROR, attr::LAUNCH_ERROR_KIND, attr::LAUNCH_RETRYABLE, attr::LAUNCH_TRIES] {
            u.remove(&mut e, a);
        }
        let (status, lease, retryable) =
            (e.name(contract::STATUS_ATTR), e.name(attr::LEASE_UNTIL), e.name(attr::LAUNCH_RETRYABLE));
        let condition = format!(
            "{attempt_n} = {attempt_v} AND attribute_not_exists({task}) AND (({status} = {submitted} AND \
             (attribute_not_exists({lease}) OR {lease} < {now_ms})) OR ({status} = {failed} AND {retryable} = {yes}))",
            attempt_n = e.name(attr::ATTEMPT),
            attempt_v = e.n(attempt),
            task = e.name(attr::TASK_ARN),
            now_ms = e.n(now.timestamp_millis()),
            failed = e.s(JobStatus::LaunchFailed.as_str()),
            yes = e.value(AttributeValue::Bool(true)),
        );
        Ok(self.update("UpdateItem (claim launch)", job_id, e, &u, condition).await?.ok())
    }

    /// Records a successful RunTask: SUBMITTED → STARTING with the task ARN (1 UpdateItem). When
    /// the tracker already applied an event of this attempt the record is newer than this
    /// knowledge and stays as it is; when the job was cancelled meanwhile it must not run. Either
    /// way the condition fails and DynamoDB returns the record (`Ok(Err(existing))`, no extra
    /// read), so the caller tells the two apart by its status.
    pub async fn record_launch(
        &self,
        job_id: &str,
        attempt: u32,
        launched: &Launched,
        now: DateTime<Utc>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        let mut e = Expr::default();
        let mut u = Update::default();
        u.set(&mut e, contract::STATUS_ATTR, s(JobStatus::Starting.as_str()));
        u.set(&mut e, attr::TASK_ARN, s(&launched.task_arn));
        if let Some(cluster) = &launched.cluster_arn {
            u.set(&mut e, attr::CLUSTER_ARN, s(cluster));
        }
        u.set(&mut e, attr::LAUNCHED_AT, ts(&now));
        u.set(&mut e, attr::UPDATED_AT, ts(&now));
        for a in
            [attr::LEASE_UNTIL, attr::LAUNCH_ERROR, attr::LAUNCH_ERROR_KIND, attr::LAUNCH_RETRYABLE, attr::LAUNCH_TRIES]
        {
            u.remove(&mut e, a);
        }
        let condition = format!(
            "{} = {} AND {} = {} AND attribute_not_exists({})",
            e.name(attr::ATTEMPT),
            e.n(attempt),
            e.name(contract::STATUS_ATTR),
            e.s(JobStatus::Submitted.as_str()),
            e.name(attr::ECS_VERSION),
        );
        self.update("UpdateItem (record launch)", job_id, e, &u, condition).await
    }

    /// Records the task of a launch that lost a race with `jobgen cancel` (the job became CANCELLED
    /// between the conditional PutItem and [`Store::record_launch`]) on the cancelled record: task
    /// and cluster ARN and launch time, so `jobgen status` and `jobgen logs` find the task. Never
    /// changes the status: the condition requires CANCELLED, this attempt, and no other task
    /// recorded (1 UpdateItem). `Ok(Err(existing))` when the condition failed.
    pub async fn record_cancelled_launch(
        &self,
        job_id: &str,
        attempt: u32,
        launched: &Launched,
        now: DateTime<Utc>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        let mut e = Expr::default();
        let mut u = Update::default();
        u.set(&mut e, attr::TASK_ARN, s(&launched.task_arn));
        if let Some(cluster) = &launched.cluster_arn {
            u.set(&mut e, attr::CLUSTER_ARN, s(cluster));
        }
        u.set(&mut e, attr::LAUNCHED_AT, ts(&now));
        u.set(&mut e, attr::UPDATED_AT, ts(&now));
        let task = e.name(attr::TASK_ARN);
        let condition = format!(
            "{} = {} AND {} = {} AND (attribute_not_exists({task}) OR {task} = {})",
            e.name(attr::ATTEMPT),
            e.n(attempt),
            e.name(contract::STATUS_ATTR),
            e.s(JobStatus::Cancelled.as_str()),
            e.s(&launched.task_arn),
        );
        self.update("UpdateItem (record cancelled launch)", job_id, e, &u, condition).await
    }

    /// Records a failed launch: SUBMITTED → LAUNCH_FAILED with the reason (1 UpdateItem). Skipped
    /// (`Ok(Err(existing))`) when events show that a task did start after all.
    pub async fn record_launch_failure(
        &self,
        job_id: &str,
        attempt: u32,
        failure: &LaunchFailure,
        now: DateTime<Utc>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        let mut e = Expr::default();
        let mut u = Update::default();
        u.set(&mut e, contract::STATUS_ATTR, s(JobStatus::LaunchFailed.as_str()));
        u.set(&mut e, attr::LAUNCH_ERROR, s(&failure.reason));
        u.set(
            &mut e,
            attr::LAUNCH_ERROR_KIND,
            json_to_attr(&serde_json::to_value(failure.kind).unwrap_or(Value::Null)),
        );
        u.set(&mut e, attr::LAUNCH_RETRYABLE, AttributeValue::Bool(failure.kind.is_retryable()));
        u.set(&mut e, attr::LAUNCH_TRIES, AttributeValue::N(failure.tries.to_string()));
        u.set(&mut e, attr::UPDATED_AT, ts(&now));
        u.remove(&mut e, attr::LEASE_UNTIL);
        let condition = format!(
            "{} = {} AND {} = {} AND attribute_not_exists({})",
            e.name(attr::ATTEMPT),
            e.n(attempt),
            e.name(contract::STATUS_ATTR),
            e.s(JobStatus::Submitted.as_str()),
            e.name(attr::ECS_VERSION),
        );
        self.update("UpdateItem (record launch failure)", job_id, e, &u, condition).await
    }

    /// Applies one task state change with ONE conditional UpdateItem and no read.
    ///
    /// The condition: the job exists, the event's attempt is the current one, the task is the
    /// attempt's task (or none is known yet), the event's version is newer than the last applied
    /// one, and the job is not terminal — except that a STOPPED event may replace an older STOPPED
    /// outcome of the same task (ECS can send a second STOPPED event with more detail). A CANCELLED
    /// job keeps its status (see [`Store::apply_event_to_cancelled`]). Duplicates and stale events
    /// fail the condition and change nothing.
    pub async fn apply_event(&self, update: &EventUpdate) -> Result<ApplyOutcome, StoreError> {
        self.write_event(update, false).await
    }

    /// Applies the ECS facts of an event (timestamps, exit code, cost, ...) to a CANCELLED job
    /// without touching its status, under the same attempt/task/version condition (1 UpdateItem).
    /// The tracker makes this second write only when [`Store::apply_event`] found the job cancelled.
    pub async fn apply_event_to_cancelled(&self, update: &EventUpdate) -> Result<ApplyOutcome, StoreError> {
        self.write_event(update, true).await
    }

    async fn write_event(&self, update: &EventUpdate, cancelled_job: bool) -> Result<ApplyOutcome, StoreError> {
        let mut e = Expr::default();
        let mut u = Update::default();
        if !cancelled_job {
            u.set(&mut e, contract::STATUS_ATTR, s(update.status.as_str()));
        }
        u.set(&mut e, attr::TASK_ARN, s(&update.task_arn));
        u.set(&mut e, attr::ECS_VERSION, AttributeValue::N(update.version.to_string()));
        u.set(&mut e, attr::UPDATED_AT, ts(&update.now));
        for (name, value) in &update.fields {
            match value {
                Some(v) => u.set(&mut e, name, json_to_attr(v)),
                None => u.remove(&mut e, name),
            }
        }
        // Seeing an event proves the launch happened: the lease is no longer needed.
        u.remove(&mut e, attr::LEASE_UNTIL);
        if let (Some(expires), false) = (update.expires_at, cancelled_job) {
            u.set(&mut e, contract::TTL_ATTR, AttributeValue::N(expires.to_string()));
        }
        let status = e.name(contract::STATUS_ATTR);
        let cancelled = e.s(JobStatus::Cancelled.as_str());
        let status_guard = if cancelled_job {
            format!("{status} = {cancelled}")
        } else if update.status.is_terminal() {
            format!("{status} <> {cancelled}")
        } else {
            let (ok, failed) = (e.s(JobStatus::Succeeded.as_str()), e.s(JobStatus::Failed.as_str()));
            format!("NOT ({status} IN ({ok}, {failed}, {cancelled}))")
        };
        let (task, version) = (e.name(attr::TASK_ARN), e.name(attr::ECS_VERSION));
        let condition = format!(
            "attribute_exists({key}) AND {attempt_n} = {attempt_v} AND (attribute_not_exists({task}) OR {task} = {task_v}) \
             AND (attribute_not_exists({version}) OR {version} < {version_v}) AND {status_guard}",
            key = e.name(contract::KEY_ATTR),
            attempt_n = e.name(attr::ATTEMPT),
            attempt_v = e.n(update.attempt),
            task_v = e.s(&update.task_arn),
            version_v = e.n(update.version),
        );
        Ok(match self.update("UpdateItem (apply event)", &update.job_id, e, &u, condition).await? {
            Ok(job) => ApplyOutcome::Applied(Box::new(job)),
            Err(existing) => ApplyOutcome::Ignored(existing.map(Box::new)),
        })
    }

    /// Cancels a job that has not finished: status CANCELLED, `cancelledAt`, the TTL when given, and
    /// the lease released so no replay launches it (1 UpdateItem). Returns the cancelled record —
    /// the caller stops its task, if it has one, with StopTask — or `Err(existing)` when the job is
    /// already terminal (`Err(None)`: no such job). Later events of the task update its ECS facts
    /// but never its status.
    pub async fn cancel(
        &self,
        job_id: &str,
        now: DateTime<Utc>,
        expires_at: Option<i64>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        let mut e = Expr::default();
        let mut u = Update::default();
        u.set(&mut e, contract::STATUS_ATTR, s(JobStatus::Cancelled.as_str()));
        u.set(&mut e, attr::CANCELLED_AT, ts(&now));
        u.set(&mut e, attr::UPDATED_AT, ts(&now));
        if let Some(expires) = expires_at {
            u.set(&mut e, contract::TTL_ATTR, AttributeValue::N(expires.to_string()));
        }
        u.remove(&mut e, attr::LEASE_UNTIL);
        let status = e.name(contract::STATUS_ATTR);
        let terminal: Vec<String> =
            JobStatus::ALL.into_iter().filter(|s| s.is_terminal()).map(|s| e.s(s.as_str())).collect();
        let condition =
            format!("attribute_exists({}) AND NOT ({status} IN ({}))", e.name(contract::KEY_ATTR), terminal.join(", "));
        self.update("UpdateItem (cancel)", job_id, e, &u, condition).await
    }

    /// Lists jobs by status or type, newest first, created at or after `since` (1 Query per page).
    pub async fn list(
        &self,
        filter: &ListFilter,
        since: Option<DateTime<Utc>>,
        limit: i32,
        page: Option<&str>,
    ) -> Result<JobPage, StoreError> {
        let mut e = Expr::default();
        let (index, key_attr, key_value) = match filter {
            ListFilter::Status(status) => {
                (contract::INDEX_BY_STATUS, contract::STATUS_ATTR, status.as_str().to_string())
            }
            ListFilter::JobType(job_type) => (contract::INDEX_BY_TYPE, contract::JOB_TYPE_ATTR, job_type.clone()),
        };
        let mut condition = format!("{} = {}", e.name(key_attr), e.s(&key_value));
        if let Some(since) = since {
            condition.push_str(&format!(" AND {} >= {}", e.name(contract::CREATED_AT_ATTR), e.value(ts(&since))));
        }
        let start = page.map(decode_page).transpose()?;
        let (names, values) = e.values();
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(values)
            .scan_index_forward(false)
            .limit(limit.max(1))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| dynamo_error("Query", &e))?;
        let jobs = output.items().iter().map(job_from_item).collect::<Result<Vec<_>, _>>()?;
        let next = output.last_evaluated_key().map(encode_page);
        Ok(JobPage { jobs, next })
    }
}

/// Page tokens are the LastEvaluatedKey as base64url JSON: opaque to callers, no state kept.
fn encode_page(key: &HashMap<String, AttributeValue>) -> String {
    data_encoding::BASE64URL_NOPAD.encode(item_to_json(key).to_string().as_bytes())
}

fn decode_page(token: &str) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let bad = |why: String| StoreError::Dynamo { operation: "Query", code: None, message: why, retryable: false };
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(token.as_bytes())
        .map_err(|e| bad(format!("page token is not valid: {e}")))?;
    let json: serde_json::Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("page token is not valid: {e}")))?;
    Ok(json.iter().map(|(k, v)| (k.clone(), json_to_attr(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_values_round_trip_through_json() {
        let json = serde_json::json!({"a": 1, "b": -2, "c": 0.25, "d": "x", "e": [true, null], "f": {"g": {}}});
        let back = attr_to_json(&json_to_attr(&json));
        assert_eq!(back, json);
    }

    #[test]
    fn update_expressions_combine_set_and_remove() {
        let mut e = Expr::default();
        let mut u = Update::default();
        u.set(&mut e, "status", s("RUNNING"));
        u.remove(&mut e, "exitCode");
        assert_eq!(u.expression(), "SET #status = :v0 REMOVE #exitCode");
        let (names, values) = e.values();
        assert_eq!(names.get("#status").map(String::as_str), Some("status"));
        assert_eq!(values.map(|v| v.len()), Some(1));
        let token = encode_page(&HashMap::from([("jobId".to_string(), s("a"))]));
        assert_eq!(decode_page(&token).ok(), Some(HashMap::from([("jobId".to_string(), s("a"))])));
        assert!(decode_page("%%%").is_err());
    }
}
