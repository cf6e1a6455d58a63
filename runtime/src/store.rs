//! The jobs table in DynamoDB: every read and every conditional write the handlers (and the
//! operator commands) make. Each write is one request whose condition enforces one row (or two) of
//! the state machine's table ([`crate::machine::TRANSITIONS`]): its status guard is rendered from
//! the row's `from` list, beside the write's own conditions (attempt, task, ECS version, lease).
//! So concurrent handlers and duplicated or reordered events need no locks and no
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
use crate::error::error_chain;
use crate::job::{Job, JobStatus, format_ts};
use crate::launch::{LaunchFailure, Launched};
use crate::machine::{EventUpdate, To, Transition};

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
    /// A write was asked to move a job to a status its transition may not write (a bug; nothing
    /// was written).
    #[error("{transition:?} may not write status {status}: nothing was written")]
    NotAllowed {
        /// The transition.
        transition: Transition,
        /// The status it was asked to write.
        status: JobStatus,
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

    /// Writes a new job unless its id exists: [`Transition::Submit`] (1 PutItem). On a lost race
    /// DynamoDB returns the existing record with the failure, so no extra read is needed.
    ///
    /// Twice, or concurrently with another create-job call for the same idempotency key: exactly
    /// one PutItem passes; every other caller gets [`PutOutcome::Exists`] and replays. Every other
    /// write requires the record to exist, so none can run before this one; late (after a TTL
    /// deleted the record) it records a new job.
    pub async fn put_new(&self, job: &Job) -> Result<PutOutcome, StoreError> {
        let (e, condition) = submit_condition();
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

    /// Runs a conditional update; `Ok(Err(existing))` when the condition failed (`None`: DynamoDB
    /// returned no record, so there is none).
    async fn update(&self, job_id: &str, write: Write) -> Result<Result<Job, Option<Job>>, StoreError> {
        let Write { operation, e, update, condition } = write;
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

    /// Claims the launch of a job whose launcher died ([`Transition::ClaimAbandonedLaunch`]:
    /// SUBMITTED, no task, lease expired) or whose launch failed retryably
    /// ([`Transition::ClaimFailedLaunch`]: LAUNCH_FAILED, no task): sets a new lease and clears the
    /// failure (1 UpdateItem, whichever of the two applies). `Ok(Some)` when this caller won and
    /// must launch; `Ok(None)` when another caller holds or finished the launch.
    ///
    /// Twice, or concurrently with another replay: the first claim sets a lease in the future, so
    /// the others find a live lease and fail; one caller launches. Late (the first launcher was
    /// slow, not dead, and its lease expired): both launch with the attempt's clientToken, so ECS
    /// starts one task, and the second [`Store::record_launch`] fails on STARTING. Against the
    /// launch writes: after RecordLaunch a task is known and after a non-retryable failure
    /// `launchRetryable` is false, so neither is claimed; a claim never changes the attempt, so a
    /// launcher of this attempt still records its outcome. Against events: an event records the
    /// task, and no claim passes once a task is known. Against cancel: a cancelled job is never
    /// claimed; a cancel after the claim is caught when the claimer records its launch.
    pub async fn claim_launch(
        &self,
        job_id: &str,
        attempt: u32,
        now: DateTime<Utc>,
        lease_until_ms: i64,
    ) -> Result<Option<Job>, StoreError> {
        Ok(self.update(job_id, claim_launch_write(attempt, now, lease_until_ms)).await?.ok())
    }

    /// Records a successful RunTask: [`Transition::RecordLaunch`], SUBMITTED → STARTING with the
    /// task ARN (1 UpdateItem). When the condition fails DynamoDB returns the record
    /// (`Ok(Err(existing))`, no extra read), so the caller tells the cases apart by its status.
    ///
    /// Twice (a slow launcher and the replay that claimed its expired lease start the same task,
    /// thanks to the clientToken): the second fails on STARTING and keeps the first. Late, after
    /// the tracker applied an event of this attempt: the record is newer than this knowledge (it
    /// has an `ecsVersion`, or its status moved on), the condition fails and it stays as it is.
    /// Against cancel: cancel first, and this fails on CANCELLED, so the caller stops the task and
    /// records it with [`Store::record_cancelled_launch`]; this first, and `jobgen cancel` finds
    /// the task ARN and stops it. Against a failure record of the same attempt: whichever writes
    /// first wins; the task's events then move a LAUNCH_FAILED job on (ApplyEvent).
    pub async fn record_launch(
        &self,
        job_id: &str,
        attempt: u32,
        launched: &Launched,
        now: DateTime<Utc>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        self.update(job_id, record_launch_write(attempt, launched, now)).await
    }

    /// Records the task of a launch that lost a race with `jobgen cancel` (the job became CANCELLED
    /// between the conditional PutItem or the claim, and [`Store::record_launch`]) on the
    /// cancelled record: task and cluster ARN and launch time, so `jobgen status` and `jobgen logs`
    /// find the task: [`Transition::RecordCancelledLaunch`] (1 UpdateItem), which never changes
    /// the status. `Ok(Err(existing))` when the condition failed.
    ///
    /// Twice: the condition accepts the same task again and rewrites the same facts. Late, after
    /// the tracker recorded the task's events on the cancelled record: the task ARN is the same, so
    /// it passes and sets only the launch facts, which the tracker does not write. Against a
    /// record naming another task (a later attempt): it fails and changes nothing. It requires
    /// CANCELLED, so it runs after the cancel by definition, and no other write leaves CANCELLED.
    pub async fn record_cancelled_launch(
        &self,
        job_id: &str,
        attempt: u32,
        launched: &Launched,
        now: DateTime<Utc>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        self.update(job_id, record_cancelled_launch_write(attempt, launched, now)).await
    }

    /// Records a failed launch: [`Transition::RecordLaunchFailure`], SUBMITTED → LAUNCH_FAILED
    /// with the reason (1 UpdateItem). `Ok(Err(existing))` when the condition failed.
    ///
    /// Twice: the second fails on LAUNCH_FAILED and keeps the first. Late, after events of this
    /// attempt (RunTask did start a task although the call failed, e.g. a timeout after ECS
    /// accepted it): the record has an `ecsVersion`, the condition fails and the task's state
    /// stands. Against cancel: cancel first, and this fails on CANCELLED; this first, and the
    /// LAUNCH_FAILED job can still be cancelled. Against a claim: a claim needs an expired lease
    /// or LAUNCH_FAILED, so a replay claims only after this write or after the lease ran out.
    pub async fn record_launch_failure(
        &self,
        job_id: &str,
        attempt: u32,
        failure: &LaunchFailure,
        now: DateTime<Utc>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        self.update(job_id, record_launch_failure_write(attempt, failure, now)).await
    }

    /// Applies one task state change with ONE conditional UpdateItem and no read:
    /// [`Transition::ApplyEvent`] before STOPPED, [`Transition::ApplyStoppedEvent`] for the outcome.
    ///
    /// The condition: the job exists, the event's attempt is the current one, the task is the
    /// attempt's task (or none is known yet), the event's version is newer than the last applied
    /// one, and the status is one the transition starts from. A CANCELLED job keeps its status (see
    /// [`Store::apply_event_to_cancelled`]).
    ///
    /// Twice (EventBridge delivers at least once), or late (an older event after a newer one): the
    /// version is not newer, the condition fails and nothing changes; as the record mirrors the
    /// newest event, any delivery order ends in the same record. Against the launch writes: they
    /// require that no event was applied, so an event wins whichever runs first. Against cancel:
    /// cancel first, and this fails on CANCELLED (the tracker then records the facts only); this
    /// first, and the cancel still passes unless the event was the outcome. Against a claim: the
    /// event records the task, so no claim passes afterwards. An event of another attempt or task
    /// fails the condition.
    pub async fn apply_event(&self, update: &EventUpdate) -> Result<ApplyOutcome, StoreError> {
        self.write_event(update, update.transition()).await
    }

    /// Applies the ECS facts of an event (timestamps, exit code, cost, ...) to a CANCELLED job
    /// without touching its status, under the same attempt/task/version condition:
    /// [`Transition::RecordEcsFactsOnCancelled`] (1 UpdateItem). The tracker makes this second write
    /// only when [`Store::apply_event`] found the job cancelled.
    ///
    /// Twice or late: the version guard makes it a no-op, as for [`Store::apply_event`]. Against
    /// [`Store::record_cancelled_launch`]: both name the same task and write disjoint facts, so
    /// either order ends in the same record. No other write passes on a CANCELLED job.
    pub async fn apply_event_to_cancelled(&self, update: &EventUpdate) -> Result<ApplyOutcome, StoreError> {
        self.write_event(update, Transition::RecordEcsFactsOnCancelled).await
    }

    async fn write_event(&self, update: &EventUpdate, transition: Transition) -> Result<ApplyOutcome, StoreError> {
        let write = event_write(update, transition)?;
        Ok(match self.update(&update.job_id, write).await? {
            Ok(job) => ApplyOutcome::Applied(Box::new(job)),
            Err(existing) => ApplyOutcome::Ignored(existing.map(Box::new)),
        })
    }

    /// Cancels a job that has not finished: [`Transition::Cancel`], status CANCELLED,
    /// `cancelledAt`, the TTL when given, and the lease released so no replay launches it (1
    /// UpdateItem). Returns the cancelled record — the caller stops its task, if it has one, with
    /// StopTask — or `Err(existing)` when the job is already terminal, or in a status this version
    /// does not know (`Err(None)`: no such job). Later events of the task update its ECS facts but
    /// never its status.
    ///
    /// Twice: the second fails on CANCELLED and returns the cancelled record. Late (the job
    /// finished first): it fails and the outcome stands. Against a launch in flight (no task on
    /// the record yet, so the caller stops none): the launcher's [`Store::record_launch`] then
    /// fails on CANCELLED and the launcher stops the task it started. Against events: an event
    /// first, and this still passes unless it was the outcome; this first, and later events record
    /// ECS facts only.
    pub async fn cancel(
        &self,
        job_id: &str,
        now: DateTime<Utc>,
        expires_at: Option<i64>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        self.update(job_id, cancel_write(now, expires_at)).await
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

/// One conditional UpdateItem: what it changes and the condition it is made under. Built by the
/// functions below, without a client, so the unit tests read every condition.
struct Write {
    operation: &'static str,
    e: Expr,
    update: Update,
    condition: String,
}

/// The guard on the record's state that `transition` starts from, rendered from its row of the
/// table: `attribute_not_exists(#jobId)` for the transition that creates the record, else
/// `#status = :v` for one status and `#status IN (:v, ...)` for several. Statuses not in the row —
/// including any written by a newer version — fail it (see [`crate::machine`]).
fn from_guard(e: &mut Expr, transition: Transition) -> String {
    let from = transition.rule().from;
    if from.is_empty() {
        return format!("attribute_not_exists({})", e.name(contract::KEY_ATTR));
    }
    let status = e.name(contract::STATUS_ATTR);
    let values: Vec<String> = from.iter().map(|s| e.s(s.as_str())).collect();
    match values.as_slice() {
        [one] => format!("{status} = {one}"),
        _ => format!("{status} IN ({})", values.join(", ")),
    }
}

/// The SET of the status `transition` moves to, when it moves to one status.
fn set_status(e: &mut Expr, u: &mut Update, transition: Transition) {
    if let To::Status(status) = transition.rule().to {
        u.set(e, contract::STATUS_ATTR, s(status.as_str()));
    }
}

fn submit_condition() -> (Expr, String) {
    let mut e = Expr::default();
    let condition = from_guard(&mut e, Transition::Submit);
    (e, condition)
}

fn claim_launch_write(attempt: u32, now: DateTime<Utc>, lease_until_ms: i64) -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    // Both claims move to SUBMITTED.
    set_status(&mut e, &mut u, Transition::ClaimAbandonedLaunch);
    u.set(&mut e, attr::LEASE_UNTIL, AttributeValue::N(lease_until_ms.to_string()));
    u.set(&mut e, attr::UPDATED_AT, ts(&now));
    for a in [attr::LAUNCH_ERROR, attr::LAUNCH_ERROR_KIND, attr::LAUNCH_RETRYABLE, attr::LAUNCH_TRIES] {
        u.remove(&mut e, a);
    }
    let abandoned = from_guard(&mut e, Transition::ClaimAbandonedLaunch);
    let failed = from_guard(&mut e, Transition::ClaimFailedLaunch);
    let (lease, retryable) = (e.name(attr::LEASE_UNTIL), e.name(attr::LAUNCH_RETRYABLE));
    let condition = format!(
        "{attempt_n} = {attempt_v} AND attribute_not_exists({task}) AND (({abandoned} AND \
         (attribute_not_exists({lease}) OR {lease} < {now_ms})) OR ({failed} AND {retryable} = {yes}))",
        attempt_n = e.name(attr::ATTEMPT),
        attempt_v = e.n(attempt),
        task = e.name(attr::TASK_ARN),
        now_ms = e.n(now.timestamp_millis()),
        yes = e.value(AttributeValue::Bool(true)),
    );
    Write { operation: "UpdateItem (claim launch)", e, update: u, condition }
}

fn record_launch_write(attempt: u32, launched: &Launched, now: DateTime<Utc>) -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    set_status(&mut e, &mut u, Transition::RecordLaunch);
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
        "{} = {} AND {} AND attribute_not_exists({})",
        e.name(attr::ATTEMPT),
        e.n(attempt),
        from_guard(&mut e, Transition::RecordLaunch),
        e.name(attr::ECS_VERSION),
    );
    Write { operation: "UpdateItem (record launch)", e, update: u, condition }
}

fn record_cancelled_launch_write(attempt: u32, launched: &Launched, now: DateTime<Utc>) -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    set_status(&mut e, &mut u, Transition::RecordCancelledLaunch);
    u.set(&mut e, attr::TASK_ARN, s(&launched.task_arn));
    if let Some(cluster) = &launched.cluster_arn {
        u.set(&mut e, attr::CLUSTER_ARN, s(cluster));
    }
    u.set(&mut e, attr::LAUNCHED_AT, ts(&now));
    u.set(&mut e, attr::UPDATED_AT, ts(&now));
    let task = e.name(attr::TASK_ARN);
    let condition = format!(
        "{} = {} AND {} AND (attribute_not_exists({task}) OR {task} = {})",
        e.name(attr::ATTEMPT),
        e.n(attempt),
        from_guard(&mut e, Transition::RecordCancelledLaunch),
        e.s(&launched.task_arn),
    );
    Write { operation: "UpdateItem (record cancelled launch)", e, update: u, condition }
}

fn record_launch_failure_write(attempt: u32, failure: &LaunchFailure, now: DateTime<Utc>) -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    set_status(&mut e, &mut u, Transition::RecordLaunchFailure);
    u.set(&mut e, attr::LAUNCH_ERROR, s(&failure.reason));
    u.set(&mut e, attr::LAUNCH_ERROR_KIND, json_to_attr(&serde_json::to_value(failure.kind).unwrap_or(Value::Null)));
    u.set(&mut e, attr::LAUNCH_RETRYABLE, AttributeValue::Bool(failure.kind.is_retryable()));
    u.set(&mut e, attr::LAUNCH_TRIES, AttributeValue::N(failure.tries.to_string()));
    u.set(&mut e, attr::UPDATED_AT, ts(&now));
    u.remove(&mut e, attr::LEASE_UNTIL);
    let condition = format!(
        "{} = {} AND {} AND attribute_not_exists({})",
        e.name(attr::ATTEMPT),
        e.n(attempt),
        from_guard(&mut e, Transition::RecordLaunchFailure),
        e.name(attr::ECS_VERSION),
    );
    Write { operation: "UpdateItem (record launch failure)", e, update: u, condition }
}

/// The write of one event under `transition`: ApplyEvent or ApplyStoppedEvent (the status the
/// event decides, and the TTL of an outcome), or RecordEcsFactsOnCancelled (facts only).
fn event_write(update: &EventUpdate, transition: Transition) -> Result<Write, StoreError> {
    let mut e = Expr::default();
    let mut u = Update::default();
    let writes_status = match transition.rule().to {
        To::Event(allowed) if allowed.contains(&update.status) => true,
        To::Unchanged => false,
        _ => return Err(StoreError::NotAllowed { transition, status: update.status }),
    };
    if writes_status {
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
    // A cancelled job got its TTL when it was cancelled.
    if let (Some(expires), true) = (update.expires_at, writes_status) {
        u.set(&mut e, contract::TTL_ATTR, AttributeValue::N(expires.to_string()));
    }
    let status_guard = from_guard(&mut e, transition);
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
    Ok(Write { operation: "UpdateItem (apply event)", e, update: u, condition })
}

fn cancel_write(now: DateTime<Utc>, expires_at: Option<i64>) -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    set_status(&mut e, &mut u, Transition::Cancel);
    u.set(&mut e, attr::CANCELLED_AT, ts(&now));
    u.set(&mut e, attr::UPDATED_AT, ts(&now));
    if let Some(expires) = expires_at {
        u.set(&mut e, contract::TTL_ATTR, AttributeValue::N(expires.to_string()));
    }
    u.remove(&mut e, attr::LEASE_UNTIL);
    let condition =
        format!("attribute_exists({}) AND {}", e.name(contract::KEY_ATTR), from_guard(&mut e, Transition::Cancel));
    Write { operation: "UpdateItem (cancel)", e, update: u, condition }
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
    use std::collections::BTreeSet;

    use super::*;
    use crate::job::LaunchErrorKind;
    use crate::machine::TRANSITIONS;

    fn show(value: &AttributeValue) -> String {
        match value {
            AttributeValue::S(text) => format!("'{text}'"),
            AttributeValue::N(number) => number.clone(),
            AttributeValue::Bool(b) => b.to_string(),
            other => format!("{other:?}"),
        }
    }

    /// `text` with every placeholder replaced by its name or value (longest first, so `:v1` does
    /// not eat into `:v10`).
    fn resolve(e: &Expr, text: &str) -> String {
        let mut out = text.to_string();
        let mut values: Vec<(&String, String)> = e.values.iter().map(|(k, v)| (k, show(v))).collect();
        values.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        for (placeholder, value) in values {
            out = out.replace(placeholder.as_str(), &value);
        }
        let mut names: Vec<(&String, &String)> = e.names.iter().collect();
        names.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        for (placeholder, name) in names {
            out = out.replace(placeholder.as_str(), name);
        }
        out
    }

    /// The statuses a condition compares the record's status with.
    fn statuses_named(e: &Expr, condition: &str) -> BTreeSet<&'static str> {
        e.values
            .iter()
            .filter(|(placeholder, _)| {
                // The placeholder itself, not a longer one it prefixes.
                condition
                    .match_indices(placeholder.as_str())
                    .any(|(at, p)| !condition[at + p.len()..].starts_with(|c: char| c.is_ascii_digit()))
            })
            .filter_map(|(_, v)| v.as_s().ok())
            .map(|text| JobStatus::parse(text))
            .filter(|status| *status != JobStatus::Unknown)
            .map(JobStatus::as_str)
            .collect()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-02T03:04:05.006Z").map(|t| t.with_timezone(&Utc)).unwrap()
    }

    fn launched() -> Launched {
        Launched { task_arn: "arn:task".into(), cluster_arn: Some("arn:cluster".into()), tries: 1 }
    }

    fn event(status: JobStatus) -> EventUpdate {
        EventUpdate {
            job_id: "j".into(),
            attempt: 2,
            task_arn: "arn:task".into(),
            version: 7,
            status,
            fields: vec![(attr::EXIT_CODE, Some(Value::from(0))), (attr::STOPPING_AT, None)],
            expires_at: Some(99),
            now: now(),
        }
    }

    /// Every conditional write the store makes, with the transitions its condition enforces.
    fn every_write() -> Vec<(Vec<Transition>, Expr, String)> {
        let failure = LaunchFailure { kind: LaunchErrorKind::Capacity, code: None, reason: "r".into(), tries: 3 };
        let (submit_e, submit) = submit_condition();
        let mut writes = vec![(vec![Transition::Submit], submit_e, submit)];
        let updates = [
            (
                vec![Transition::ClaimAbandonedLaunch, Transition::ClaimFailedLaunch],
                claim_launch_write(2, now(), 5_000),
            ),
            (vec![Transition::RecordLaunch], record_launch_write(2, &launched(), now())),
            (vec![Transition::RecordLaunchFailure], record_launch_failure_write(2, &failure, now())),
            (vec![Transition::RecordCancelledLaunch], record_cancelled_launch_write(2, &launched(), now())),
            (vec![Transition::ApplyEvent], event_write(&event(JobStatus::Running), Transition::ApplyEvent).unwrap()),
            (
                vec![Transition::ApplyStoppedEvent],
                event_write(&event(JobStatus::Succeeded), Transition::ApplyStoppedEvent).unwrap(),
            ),
            (
                vec![Transition::RecordEcsFactsOnCancelled],
                event_write(&event(JobStatus::Failed), Transition::RecordEcsFactsOnCancelled).unwrap(),
            ),
            (vec![Transition::Cancel], cancel_write(now(), Some(99))),
        ];
        for (transitions, write) in updates {
            writes.push((transitions, write.e, write.condition));
        }
        writes
    }

    #[test]
    fn every_status_guard_is_derived_from_the_table() {
        let mut covered = BTreeSet::new();
        for (transitions, e, condition) in every_write() {
            let text = resolve(&e, &condition);
            let mut from: BTreeSet<&str> = BTreeSet::new();
            for t in &transitions {
                covered.insert(format!("{t:?}"));
                let mut guard_e = Expr::default();
                let guard = from_guard(&mut guard_e, *t);
                let guard = resolve(&guard_e, &guard);
                assert!(text.contains(&guard), "{t:?}: {text} does not contain its table guard {guard}");
                from.extend(t.rule().from.iter().map(|s| s.as_str()));
            }
            // No status is named anywhere else in the condition.
            assert_eq!(statuses_named(&e, &condition), from, "{transitions:?}: {text}");
        }
        let all: BTreeSet<String> = TRANSITIONS.iter().map(|r| format!("{:?}", r.transition)).collect();
        assert_eq!(covered, all, "every transition has a store write");
    }

    #[test]
    fn guards_render_one_status_as_equality_and_several_as_in() {
        let mut e = Expr::default();
        let claim = from_guard(&mut e, Transition::ClaimFailedLaunch);
        assert_eq!(resolve(&e, &claim), "status = 'LAUNCH_FAILED'");
        let cancel = from_guard(&mut e, Transition::Cancel);
        assert_eq!(resolve(&e, &cancel), "status IN ('SUBMITTED', 'STARTING', 'RUNNING', 'LAUNCH_FAILED')");
        let submit = from_guard(&mut e, Transition::Submit);
        assert_eq!(resolve(&e, &submit), "attribute_not_exists(jobId)");
    }

    /// The exact conditions, placeholders resolved: the non-status guards are those of the writes
    /// before the table existed, and the status guards are the table's.
    #[test]
    fn conditions_keep_their_non_status_guards() {
        let texts: Vec<String> = every_write().iter().map(|(_, e, c)| resolve(e, c)).collect();
        let now_ms = now().timestamp_millis();
        let live = "status IN ('SUBMITTED', 'STARTING', 'RUNNING', 'LAUNCH_FAILED')";
        let event = "attribute_exists(jobId) AND attempt = 2 AND (attribute_not_exists(taskArn) OR taskArn = 'arn:task') \
                     AND (attribute_not_exists(ecsVersion) OR ecsVersion < 7) AND";
        let expected = [
            "attribute_not_exists(jobId)".to_string(),
            format!(
                "attempt = 2 AND attribute_not_exists(taskArn) AND ((status = 'SUBMITTED' AND \
                 (attribute_not_exists(leaseUntil) OR leaseUntil < {now_ms})) OR (status = 'LAUNCH_FAILED' AND launchRetryable = true))"
            ),
            "attempt = 2 AND status = 'SUBMITTED' AND attribute_not_exists(ecsVersion)".to_string(),
            "attempt = 2 AND status = 'SUBMITTED' AND attribute_not_exists(ecsVersion)".to_string(),
            "attempt = 2 AND status = 'CANCELLED' AND (attribute_not_exists(taskArn) OR taskArn = 'arn:task')"
                .to_string(),
            format!("{event} {live}"),
            format!("{event} status IN ('SUBMITTED', 'STARTING', 'RUNNING', 'LAUNCH_FAILED', 'SUCCEEDED', 'FAILED')"),
            format!("{event} status = 'CANCELLED'"),
            format!("attribute_exists(jobId) AND {live}"),
        ];
        assert_eq!(texts, expected);
    }

    #[test]
    fn updates_write_the_status_their_transition_moves_to() {
        let update_of = |w: &Write| resolve(&w.e, &w.update.expression());
        let claim = update_of(&claim_launch_write(1, now(), 5));
        assert!(claim.starts_with("SET status = 'SUBMITTED', leaseUntil = 5"), "{claim}");
        assert_eq!(Transition::ClaimAbandonedLaunch.rule().to, Transition::ClaimFailedLaunch.rule().to);
        assert!(claim.ends_with("REMOVE launchError, launchErrorKind, launchRetryable, launchTries"), "{claim}");
        let launch = update_of(&record_launch_write(1, &launched(), now()));
        assert!(launch.starts_with("SET status = 'STARTING', taskArn = 'arn:task', clusterArn = 'arn:cluster'"));
        let failure = LaunchFailure { kind: LaunchErrorKind::Rejected, code: None, reason: "r".into(), tries: 1 };
        let failed = update_of(&record_launch_failure_write(1, &failure, now()));
        assert!(failed.contains("status = 'LAUNCH_FAILED'") && failed.contains("launchRetryable = false"), "{failed}");
        let cancelled_launch = update_of(&record_cancelled_launch_write(1, &launched(), now()));
        assert!(!cancelled_launch.contains("status"), "{cancelled_launch}");
        let cancel = update_of(&cancel_write(now(), None));
        assert!(cancel.starts_with("SET status = 'CANCELLED', cancelledAt = "), "{cancel}");
        assert!(cancel.ends_with("REMOVE leaseUntil"), "{cancel}");

        let running = event_write(&event(JobStatus::Running), Transition::ApplyEvent).unwrap();
        let running = update_of(&running);
        assert!(running.starts_with("SET status = 'RUNNING', taskArn = 'arn:task', ecsVersion = 7"), "{running}");
        assert!(running.contains("expiresAt = 99"), "the planner decides the TTL: {running}");
        let facts = update_of(&event_write(&event(JobStatus::Failed), Transition::RecordEcsFactsOnCancelled).unwrap());
        assert!(!facts.contains("status =") && !facts.contains("expiresAt"), "{facts}");
        assert!(facts.contains("exitCode = 0") && facts.ends_with("REMOVE stoppingAt, leaseUntil"), "{facts}");
        // A status the transition may not write is refused before anything is sent.
        for (status, t) in [
            (JobStatus::Succeeded, Transition::ApplyEvent),
            (JobStatus::Running, Transition::ApplyStoppedEvent),
            (JobStatus::Cancelled, Transition::ApplyStoppedEvent),
        ] {
            assert!(matches!(event_write(&event(status), t), Err(StoreError::NotAllowed { .. })), "{status:?} {t:?}");
        }
    }

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
