//! The jobs table in DynamoDB: every read and every conditional write the handlers (and the
//! operator commands) make. Each write is one request — one conditional request, or for the two
//! writes that must change a job and its concurrency counters together (Admit, Release) one
//! `TransactWriteItems` — whose condition enforces one row (or two) of the state machine's table
//! ([`crate::machine::TRANSITIONS`]): its status guard is rendered from the row's `from` list,
//! beside the write's own conditions (attempt, task, ECS version, lease, slot). So concurrent
//! handlers and duplicated or reordered events need no locks and no read-before-write.
//!
//! The counters of the concurrency limits are items of the same table
//! ([`contract::limit_item_key`]); they change only in a transaction with a job's `slot`, so each
//! is the number of job items holding a slot under its limit.
//!
//! Attribute names come from [`crate::contract`]; records are converted through the [`Job`] serde
//! form, so the table holds exactly the JSON the operator commands print.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update as TxUpdate,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::contract::{self, Capacity, Limit, attr};
use crate::error::error_chain;
use crate::job::{Attempt, Job, JobStatus, format_ts};
use crate::launch::{LaunchFailure, Launched};
use crate::machine::{EventOrder, EventUpdate, To, Transition};
use crate::progress;
use crate::schedule;

/// TransactWriteItems calls made for one release when another transaction holds one of its items
/// (DynamoDB cancels with `TransactionConflict`), before the conflict is returned as a retryable
/// error.
const RELEASE_CONFLICT_TRIES: u32 = 4;

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

/// A new job's item: the job, its listing shard, and `openSince` unless it is QUEUED (a queued job
/// opens when it is admitted: a backlog waiting in a queue, which admission reads, never crowds
/// the open jobs the reconciler looks at).
fn new_record_item(job: &Job) -> HashMap<String, AttributeValue> {
    let mut item = job_to_item(job);
    item.insert(contract::SHARD_ATTR.into(), s(&contract::shard_of(&job.job_id)));
    if job.status != JobStatus::Queued {
        item.insert(contract::OPEN_SINCE_ATTR.into(), ts(&job.created_at));
    }
    item
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

/// SET, REMOVE and ADD clauses of an update expression.
#[derive(Default)]
struct Update {
    set: Vec<String>,
    remove: Vec<String>,
    add: Vec<String>,
}

impl Update {
    fn set(&mut self, e: &mut Expr, attribute: &str, value: AttributeValue) {
        let (n, v) = (e.name(attribute), e.value(value));
        self.set.push(format!("{n} = {v}"));
    }

    /// `SET attribute = from`: another attribute's value, read by DynamoDB in the same write.
    fn copy(&mut self, e: &mut Expr, attribute: &str, from: &str) {
        let (n, f) = (e.name(attribute), e.name(from));
        self.set.push(format!("{n} = {f}"));
    }

    fn remove(&mut self, e: &mut Expr, attribute: &str) {
        let n = e.name(attribute);
        self.remove.push(n);
    }

    fn add(&mut self, e: &mut Expr, attribute: &str, by: i64) {
        let (n, v) = (e.name(attribute), e.n(by));
        self.add.push(format!("{n} {v}"));
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
        if !self.add.is_empty() {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str("ADD ");
            text.push_str(&self.add.join(", "));
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

/// The result of [`Store::put_scheduled`].
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduledPut {
    /// The run was recorded and the schedule's pointer names it.
    Created,
    /// A record with this job id already exists (a redelivered trigger).
    Exists(Option<Box<Job>>),
    /// The pointer no longer names the previous run read: read it again.
    Moved,
    /// The previous run is still active: nothing was written.
    Overlaps,
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

/// The result of [`Store::admit`].
#[derive(Debug, Clone, PartialEq)]
pub enum AdmitOutcome {
    /// The job holds a slot and its launch lease: the record as the admission wrote it.
    Admitted(Box<Job>),
    /// The job is no longer QUEUED (another admission or a cancel came first): the record DynamoDB
    /// returned, `None` when there is no record.
    NotQueued(Option<Box<Job>>),
    /// These counters (their item keys) are at their limit; nothing was written.
    Full(Vec<String>),
    /// Another transaction was changing one of the items: nothing was written; trying again may pass.
    Conflict,
}

/// The result of [`Store::release`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// The slot was given back. `drifted`: counters that were already 0 (so not decremented: a
    /// floor never goes negative), each logged as drift.
    Released {
        /// The counters (item keys) found at 0.
        drifted: Vec<String>,
    },
    /// The job holds no slot of this attempt (it was released before, by a duplicate event or a
    /// concurrent caller, or never taken): nothing was written.
    NotHeld,
}

/// One job waiting in a queue (or admitted and not launched yet), as the queue index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// The job.
    pub job_id: String,
    /// Its place ([`contract::queue_order`]).
    pub order: String,
}

/// One page of a queue, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePage {
    /// The entries.
    pub entries: Vec<QueueEntry>,
    /// Pass to the next call to continue; `None` at the end.
    pub next: Option<String>,
}

/// A counter item as read ([`Store::counter_state`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterState {
    /// Slots held (`None`: no counter item yet).
    pub running: Option<i64>,
    /// Its version: admissions and releases so far ([`attr::CHANGES`]; 0 without one).
    pub changes: i64,
    /// A disagreeing recount, `(changes, holders)` ([`attr::SUSPECT`]).
    pub suspect: Option<(i64, i64)>,
}

/// What [`Store::recount`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recount {
    /// The counter before (`None`: no counter item).
    pub before: Option<i64>,
    /// Job items holding a slot under the limit, as counted.
    pub holders: i64,
    /// What happened.
    pub outcome: RecountOutcome,
}

/// The outcome of a [`Recount`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecountOutcome {
    /// The counter is right.
    Agrees,
    /// It disagrees for the first time: recorded, not changed.
    Suspected,
    /// It disagreed twice with nothing changing it in between: set to the holders.
    Repaired,
    /// An admission or a release changed it meanwhile: nothing written.
    Moved,
}

/// One reason of a cancelled transaction, in the order of its items.
#[derive(Debug, Clone, PartialEq)]
struct Cancellation {
    /// `None` (this item passed), `ConditionalCheckFailed`, `TransactionConflict`, ...
    code: String,
    /// The item as it was, when its condition failed and it asked for it.
    item: Option<HashMap<String, AttributeValue>>,
}

impl Cancellation {
    fn failed(&self) -> bool {
        self.code == "ConditionalCheckFailed"
    }

    fn conflict(&self) -> bool {
        self.code == "TransactionConflict"
    }
}

/// Which jobs to list: every job, or only the open ones ([`contract::INDEX_OPEN`]), of one status
/// and one type or any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only jobs with this status (read from each record: no index is keyed on it).
    pub status: Option<JobStatus>,
    /// Only jobs of this type (a filter of the index entries, which carry the type).
    pub job_type: Option<String>,
    /// Only open jobs: not finished, or finished with something left to repair.
    pub open: bool,
}

impl ListFilter {
    /// Every job.
    pub fn all() -> Self {
        ListFilter::default()
    }

    /// The open jobs ([`contract::INDEX_OPEN`]).
    pub fn open() -> Self {
        ListFilter { open: true, ..ListFilter::default() }
    }

    /// Only jobs with `status`.
    pub fn with_status(mut self, status: JobStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only jobs of `job_type`.
    pub fn with_type(mut self, job_type: impl Into<String>) -> Self {
        self.job_type = Some(job_type.into());
        self
    }

    /// The index it reads, and that index's sort key: a job with a status that is not finished is
    /// open, so those statuses read the (smaller) open jobs' index.
    fn index(&self) -> (&'static str, &'static str) {
        if self.open || self.status.is_some_and(|s| !s.is_terminal()) {
            (contract::INDEX_OPEN, contract::OPEN_SINCE_ATTR)
        } else {
            (contract::INDEX_BY_CREATED, contract::CREATED_AT_ATTR)
        }
    }
}

/// Where a listing stands in one shard.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum ShardCursor {
    /// Not read yet.
    Start,
    /// Read up to (and including) this index key.
    After(serde_json::Map<String, Value>),
    /// Read to its end.
    Done,
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
    ///
    /// A job is written SUBMITTED ([`Transition::Submit`]) or, when a limit applies to it, QUEUED
    /// with its queue key and order ([`Transition::Queue`]; see [`Job::queued`]); both create the
    /// record under the same condition. A queued job holds no slot and no lease: nothing launches
    /// it until [`Store::admit`] gives it a slot.
    pub async fn put_new(&self, job: &Job) -> Result<PutOutcome, StoreError> {
        check_new_record(job)?;
        let (e, condition) = submit_condition();
        let (names, values) = e.values();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(new_record_item(job)))
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

    /// The latest run of schedule `name` ([`schedule::ACTIVE_JOB_ATTR`] of its pointer item), read
    /// strongly consistent: the start of [`Store::put_scheduled`].
    pub async fn schedule_pointer(&self, name: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&schedule::schedule_item_key(name))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem (schedule)", &e))?;
        Ok(out.item().and_then(|i| i.get(schedule::ACTIVE_JOB_ATTR)).and_then(|v| v.as_s().ok()).cloned())
    }

    /// Writes the run of a schedule whose runs must not overlap ([`schedule::Overlap::Skip`]):
    /// [`Transition::Submit`] or [`Transition::Queue`] as [`Store::put_new`] does, in ONE
    /// `TransactWriteItems` with the schedule's pointer item (SET `activeJob` to this job;
    /// condition: it still names `previous`, or there is none) and, when there is a previous run,
    /// a condition check that it is finished: a finished status and no relaunch coming, or no
    /// record at all (its TTL removed it).
    ///
    /// The outcome, from the cancellation reasons in item order: the job exists
    /// ([`ScheduledPut::Exists`]: a redelivered trigger, the same scheduled time, replays it); the
    /// pointer moved ([`ScheduledPut::Moved`]: another run was recorded since `previous` was read:
    /// read it again and decide again); the previous run is still active
    /// ([`ScheduledPut::Overlaps`]: nothing was written).
    ///
    /// Concurrent runs of one schedule (two scheduled times at once): both read the same pointer,
    /// one transaction passes, the other's pointer condition fails, so at most one run is recorded
    /// while the previous one is active. A crash between the read and the transaction writes
    /// nothing; the transaction itself is all or nothing.
    pub async fn put_scheduled(
        &self,
        job: &Job,
        name: &str,
        previous: Option<&str>,
    ) -> Result<ScheduledPut, StoreError> {
        use aws_sdk_dynamodb::types::{ConditionCheck, Put};
        check_new_record(job)?;
        let operation = "TransactWriteItems (scheduled run)";
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Dynamo {
            operation,
            code: None,
            message: e.to_string(),
            retryable: false,
        };
        let (e, condition) = submit_condition();
        let (names, values) = e.values();
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(new_record_item(job)))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build)?;
        let mut pointer = TxUpdate::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(&schedule::schedule_item_key(name))))
            .update_expression("SET #active = :job")
            .expression_attribute_names("#active", schedule::ACTIVE_JOB_ATTR)
            .expression_attribute_values(":job", s(&job.job_id));
        pointer = match previous {
            Some(previous) => pointer
                .condition_expression("#active = :previous")
                .expression_attribute_values(":previous", s(previous)),
            None => pointer.condition_expression("attribute_not_exists(#active)"),
        };
        let mut items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(pointer.build().map_err(build)?).build(),
        ];
        if let Some(previous) = previous {
            let finished = JobStatus::ALL.into_iter().filter(|s| s.is_terminal());
            let mut check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(previous)))
                .condition_expression(
                    "attribute_not_exists(#key) OR #status IN (:s0, :s1, :s2, :s3) OR (#status = :launchFailed AND attribute_not_exists(#relaunch))",
                )
                .expression_attribute_names("#key", contract::KEY_ATTR)
                .expression_attribute_names("#status", contract::STATUS_ATTR)
                .expression_attribute_names("#relaunch", attr::RELAUNCH_AT)
                .expression_attribute_values(":launchFailed", s(JobStatus::LaunchFailed.as_str()));
            for (i, status) in finished.enumerate() {
                check = check.expression_attribute_values(format!(":s{i}"), s(status.as_str()));
            }
            items.push(TransactWriteItem::builder().condition_check(check.build().map_err(build)?).build());
        }
        let Err(reasons) = self.send_transaction(operation, items).await? else {
            return Ok(ScheduledPut::Created);
        };
        if let Some(job_reason) = reasons.first().filter(|r| r.failed()) {
            let existing = job_reason.item.as_ref().filter(|i| !i.is_empty()).map(job_from_item).transpose()?;
            return Ok(ScheduledPut::Exists(existing.map(Box::new)));
        }
        if reasons.get(1).is_some_and(Cancellation::failed) || reasons.iter().any(Cancellation::conflict) {
            return Ok(ScheduledPut::Moved);
        }
        if reasons.get(2).is_some_and(Cancellation::failed) {
            return Ok(ScheduledPut::Overlaps);
        }
        Err(cancelled_error(operation, &reasons))
    }

    /// Writes the progress report of the caller whose `aws:userid` is `user_id` (a task, with its
    /// role: what the one-liner in the README does) for job `job_id`: 1 UpdateItem of the item
    /// [`progress::progress_key`], naming only [`progress::ATTRIBUTES`], on condition that its
    /// sequence number `seq` is larger than the item's (a late report never replaces a newer one:
    /// `Ok(false)`).
    pub async fn report_progress(
        &self,
        user_id: &str,
        job_id: &str,
        percent: u8,
        message: &str,
        seq: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let message: String = message.chars().take(progress::MESSAGE_MAX_CHARS).collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&progress::progress_key(user_id))))
            .update_expression("SET #job = :job, #percent = :percent, #message = :message, #seq = :seq, #ttl = :ttl")
            .condition_expression("attribute_not_exists(#seq) OR #seq < :seq")
            .expression_attribute_names("#job", progress::JOB_ATTR)
            .expression_attribute_names("#percent", progress::PERCENT_ATTR)
            .expression_attribute_names("#message", progress::MESSAGE_ATTR)
            .expression_attribute_names("#seq", progress::SEQ_ATTR)
            .expression_attribute_names("#ttl", progress::TTL_ATTR)
            .expression_attribute_values(":job", s(job_id))
            .expression_attribute_values(":percent", AttributeValue::N(percent.min(100).to_string()))
            .expression_attribute_values(":message", s(&message))
            .expression_attribute_values(":seq", AttributeValue::N(seq.to_string()))
            .expression_attribute_values(
                ":ttl",
                AttributeValue::N((now.timestamp() + progress::TTL_SECONDS).to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_conditional_failure(&err) => Ok(false),
            Err(err) => Err(dynamo_error("UpdateItem (progress)", &err)),
        }
    }

    /// The progress the task `task_arn` of job `job_id` last reported (1 Query of the progress
    /// index): only an item whose key's role session is that task counts
    /// ([`progress::belongs_to`]), so another task claiming the job changes nothing.
    pub async fn progress_of(&self, job_id: &str, task_arn: &str) -> Result<Option<progress::Progress>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(progress::INDEX_PROGRESS)
            .key_condition_expression("#job = :job")
            .expression_attribute_names("#job", progress::JOB_ATTR)
            .expression_attribute_values(":job", s(job_id))
            .send()
            .await
            .map_err(|e| dynamo_error("Query (progress)", &e))?;
        let number = |item: &HashMap<String, AttributeValue>, name: &str| {
            item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<u64>().ok())
        };
        Ok(out
            .items()
            .iter()
            .filter(|item| {
                item.get(contract::KEY_ATTR)
                    .and_then(|k| k.as_s().ok())
                    .is_some_and(|k| progress::belongs_to(k, task_arn))
            })
            .filter_map(|item| {
                Some(progress::Progress {
                    percent: u8::try_from(number(item, progress::PERCENT_ATTR)?.min(100)).ok()?,
                    message: item.get(progress::MESSAGE_ATTR).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default(),
                    seq: number(item, progress::SEQ_ATTR)?,
                })
            })
            .max_by_key(|p| p.seq))
    }

    /// Reads a job (strongly consistent: the create-job path decides on it).
    pub async fn get(&self, job_id: &str) -> Result<Option<Job>, StoreError> {
        self.get_item(job_id).await?.as_ref().map(job_from_item).transpose()
    }

    /// Reads an item by its key, strongly consistent (1 GetItem): a job, or a counter.
    async fn get_item(&self, key: &str) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", &e))?;
        Ok(output.item)
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
    /// An admitted job leaves its queue here (the queue attributes are removed; for an unlimited
    /// job there are none): from now on its task's events, not admission, move it.
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
    /// it passes and sets only the launch facts, which the tracker does not write. It removes the
    /// launch lease (the launch is over), which [`crate::machine::attempt_over`] reads. Against a
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
    /// with the reason (1 UpdateItem). `Ok(Err(existing))` when the condition failed. The queue
    /// attributes go (an admitted job's launch is over); its slot is released next, by the
    /// service ([`Store::release`]).
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
        relaunch: Option<Relaunch>,
        now: DateTime<Utc>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        self.update(job_id, record_launch_failure_write(attempt, failure, relaunch, now)).await
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
    ///
    /// The write removes the launch lease and the queue attributes (an event proves the launch
    /// happened). It never touches the slot: a STOPPED event's release is the next, separate
    /// transaction ([`Store::release`]), so a crash between the two leaves a record that shows the
    /// attempt over with its slot held, which the event's redelivery finds and releases.
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
    /// `cancelledAt`, the TTL when given, and the queue attributes removed, so a QUEUED job leaves
    /// its queue in the same write (1 UpdateItem). Returns the cancelled record — the caller stops
    /// its task, if it has one, with StopTask — or `Err(existing)` when the job is already
    /// terminal, or in a status this version does not know (`Err(None)`: no such job). Later events
    /// of the task update its ECS facts but never its status.
    ///
    /// A cancelled QUEUED job held no slot, needs no StopTask, and is never admitted (Admit needs
    /// QUEUED). A job holding a slot keeps it until its attempt is over
    /// ([`crate::machine::attempt_over`]); the launch lease is kept for that reason: a cancelled job
    /// is never claimed (no claim starts from CANCELLED), but while the lease runs its launcher may
    /// still start a task, so the attempt is over only once the lease has expired or the launcher
    /// recorded what RunTask did.
    ///
    /// Twice: the second fails on CANCELLED and returns the cancelled record. Late (the job
    /// finished first): it fails and the outcome stands. Against a launch in flight (no task on
    /// the record yet, so the caller stops none): the launcher's [`Store::record_launch`] then
    /// fails on CANCELLED and the launcher stops the task it started. Against events: an event
    /// first, and this still passes unless it was the outcome; this first, and later events record
    /// ECS facts only. Against Admit: this first, and the admission fails on CANCELLED; the
    /// admission first, and this cancels a SUBMITTED job whose launcher then finds it CANCELLED.
    pub async fn cancel(
        &self,
        job_id: &str,
        now: DateTime<Utc>,
        expires_at: Option<i64>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        self.update(job_id, cancel_write(now, expires_at)).await
    }

    /// Gives a QUEUED job a slot: [`Transition::Admit`], ONE `TransactWriteItems` of the job's
    /// update (QUEUED → SUBMITTED, `slot` = its attempt, the launch lease `lease_until_ms`;
    /// condition: this attempt, QUEUED, no slot) and, for every limit of the job, its counter's
    /// update (`ADD running 1`; condition: no counter yet, or `running` below the limit). The queue
    /// attributes stay until the launch is recorded, so admission finds the job again if its
    /// launcher dies before RunTask (its lease then expires and a claim takes it over).
    ///
    /// DynamoDB cancels the whole transaction when any condition fails, and says which
    /// (CancellationReasons, in item order): the job's → [`AdmitOutcome::NotQueued`] with the
    /// record it returned (someone admitted or cancelled it first: skip it); a counter's →
    /// [`AdmitOutcome::Full`] (nothing was written, so no slot was taken); another transaction on
    /// one of the items → [`AdmitOutcome::Conflict`].
    ///
    /// Twice, or concurrently with another admission of the same job: the first passes, the
    /// second finds the job SUBMITTED and writes nothing, so a job takes one slot and one counter
    /// increment per limit, once. Concurrently with admissions of other jobs under the same
    /// counter: each transaction checks and increments the counter atomically, so at most `max`
    /// pass; the rest are Full. Late (the job was cancelled): NotQueued. A retry by the SDK of a
    /// transaction that did commit finds the job SUBMITTED with this caller's own lease; the
    /// service recognises its own admission by it ([`Job::lease_until`]). Against Release: a
    /// release needs a slot, which only this write sets, and Requeue needs none.
    pub async fn admit(
        &self,
        job: &Job,
        limits: &[Limit],
        lease_until_ms: i64,
        now: DateTime<Utc>,
    ) -> Result<AdmitOutcome, StoreError> {
        let items = admit_items(job, limits, lease_until_ms, now);
        match self.transact("TransactWriteItems (admit)", items).await? {
            Ok(()) => {
                let mut admitted = job.clone();
                admitted.status = JobStatus::Submitted;
                admitted.slot = Some(job.attempt.number);
                admitted.lease_until = Some(lease_until_ms);
                admitted.updated_at = now;
                Ok(AdmitOutcome::Admitted(Box::new(admitted)))
            }
            Err(reasons) => admit_refusal(limits, &reasons),
        }
    }

    /// Gives back the slot of an attempt that is over ([`crate::machine::attempt_over`]):
    /// [`Transition::Release`], ONE `TransactWriteItems` of the job's update (REMOVE `slot`;
    /// condition: `slot` = `slot`, a status a release starts from) and, for every limit of the job,
    /// its counter's update (`ADD running -1`; condition: `running > 0`, the floor).
    ///
    /// Idempotent per job, not per event: the job's `slot` attribute is the proof of the slot, so
    /// a duplicate or late event, a retried delivery, or two track invocations releasing the same
    /// job concurrently all find it gone after the first: the job's condition fails, the
    /// transaction is cancelled whole, and no counter moves ([`ReleaseOutcome::NotHeld`]). A
    /// counter is never decremented without the job's slot going in the same transaction, which is
    /// what rules out a double release.
    ///
    /// Drift: when only counter floors fail (a counter is already 0 though a job holds a slot under
    /// it: the counter was edited, or recounted while a job held a slot), the release is made again
    /// without those counters — the job's slot and the counters still above 0, or the job alone —
    /// and the drift is logged: a floor never goes negative, and a job's slot is always
    /// releasable. A conflicting transaction on one of the items is retried a few times, then
    /// returned as a retryable error (the caller's retry, e.g. the event's redelivery, repeats the
    /// release). Against Admit: admission needs QUEUED and no slot, so it never touches a job
    /// being released.
    pub async fn release(&self, job_id: &str, slot: u32, limits: &[Limit]) -> Result<ReleaseOutcome, StoreError> {
        let mut counters: Vec<&Limit> = limits.iter().collect();
        let mut drifted: Vec<String> = Vec::new();
        let mut conflicts = 0;
        loop {
            let items = release_items(job_id, slot, &counters);
            let reasons = match self.transact("TransactWriteItems (release)", items).await? {
                Ok(()) => {
                    for counter in &drifted {
                        tracing::warn!(
                            job_id,
                            counter = %counter,
                            "counter drift: the counter was already 0 while this job held a slot; \
                             the job's slot was released and the counter left at 0"
                        );
                    }
                    return Ok(ReleaseOutcome::Released { drifted });
                }
                Err(reasons) => reasons,
            };
            match release_refusal(&counters, &reasons) {
                ReleaseRefusal::NotHeld => return Ok(ReleaseOutcome::NotHeld),
                ReleaseRefusal::Floors(floors) => {
                    counters.retain(|l| !floors.contains(&l.counter));
                    drifted.extend(floors);
                }
                ReleaseRefusal::Conflict if conflicts + 1 < RELEASE_CONFLICT_TRIES => {
                    conflicts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(conflicts))).await;
                }
                ReleaseRefusal::Conflict | ReleaseRefusal::Other => {
                    return Err(cancelled_error("TransactWriteItems (release)", &reasons));
                }
            }
        }
    }

    /// Puts a limited job whose launch failed retryably back in its queue, at its old place:
    /// [`Transition::Requeue`], LAUNCH_FAILED → QUEUED with `queueKey`/`queueOrder`, the failure
    /// cleared (1 UpdateItem). A replay does this instead of ClaimFailedLaunch, which would launch
    /// the job without a slot. `Ok(Err(existing))` when the condition failed.
    ///
    /// The condition requires no slot, so the slot of the failed attempt is released first: a
    /// requeued job never holds a slot. Twice, or concurrently with another replay: the first
    /// passes, the second fails on QUEUED. Late (a task did start and its events moved the job on,
    /// or it was cancelled): the condition fails. Against ClaimFailedLaunch (an older version's
    /// replay): whichever writes first wins; the other fails on the status.
    pub async fn requeue(
        &self,
        job_id: &str,
        attempt: u32,
        queue_key: &str,
        queue_order: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        self.update(job_id, requeue_write(attempt, queue_key, queue_order, now)).await
    }

    /// Records on a cancelled job that the launch of its attempt started no task (RunTask failed
    /// after the job was cancelled): [`Transition::RecordCancelledLaunchFailure`], the failure and
    /// the lease removed (1 UpdateItem), so the record itself shows the attempt is over
    /// ([`crate::machine::attempt_over`]) and its slot can be released. `Ok(Err(existing))` when
    /// the condition failed (a task is known after all: its STOPPED event ends the attempt).
    ///
    /// Twice: rewrites the same facts. Late or against events: an event records the task, and
    /// the condition requires none. No other write passes on a CANCELLED job without a task but
    /// [`Store::record_cancelled_launch`] of the same attempt, which names a task: one of the two
    /// launch outcomes is true, and only one launcher holds the lease.
    pub async fn record_cancelled_launch_failure(
        &self,
        job_id: &str,
        attempt: u32,
        failure: &LaunchFailure,
        now: DateTime<Utc>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        self.update(job_id, record_cancelled_launch_failure_write(attempt, failure, now)).await
    }

    /// Starts the next attempt of a RETRYING job: [`Transition::Retry`] (→ SUBMITTED with the launch
    /// lease `next.lease_until_ms`, so the caller launches it) or, when `next.queue` names its queue
    /// and place, [`Transition::RetryQueued`] (→ QUEUED, admitted like any queued job). One
    /// UpdateItem: the current attempt (as read in `job`) is appended to `history`, the attempt
    /// number goes up, every attribute of the old attempt, the TTL and `cancelledAt` are removed,
    /// and `requestedCapacity` is set when the next attempt runs on other capacity (Spot fallback).
    /// `Ok(Err(existing))` when the condition failed.
    ///
    /// The condition is the record as read: RETRYING, the same attempt, the same `ecsVersion` (so
    /// the attempt copied into `history` is the one stored), and no slot. Twice, or concurrently
    /// (the retry timer fired twice, or `jobgen retry` while it fires): the first passes, the
    /// second finds the next attempt and fails. Late, after a cancel: fails on CANCELLED. Against
    /// a refined STOPPED event of the same task (newer `ecsVersion`): fails, and the caller reads
    /// the record again. After it, events of the old attempt's task match no attempt.
    pub async fn start_next_attempt(
        &self,
        job: &Job,
        next: &NextAttempt,
        now: DateTime<Utc>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        self.update(&job.job_id, start_next_attempt_write(job, next, now)).await
    }

    /// `jobgen retry` of a finished job: [`Transition::RetryByHand`], FAILED, TIMED_OUT, CANCELLED or
    /// LAUNCH_FAILED → RETRYING, due at `now` (1 UpdateItem; the TTL is removed). The condition
    /// requires this attempt, no slot, and an attempt that is over: its task stopped, or it has
    /// none and no live launch lease (so no launcher of the old attempt can still start a task).
    /// The caller then starts the next attempt like the retry timer does. Twice: the second finds
    /// RETRYING and fails (its caller starts the attempt all the same, which is idempotent).
    pub async fn retry_by_hand(
        &self,
        job_id: &str,
        attempt: u32,
        now: DateTime<Utc>,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        self.update(job_id, retry_by_hand_write(attempt, now)).await
    }

    /// One page of queue `queue_key` (index [`contract::INDEX_BY_QUEUE`]), oldest first, at most
    /// `limit` entries (1 Query). The index is eventually consistent: an entry may lag its job by a
    /// moment (a job just queued may be missing; one just launched may still show), so callers
    /// decide on the job item, never on the entry.
    pub async fn queue_page(&self, queue_key: &str, limit: i32, page: Option<&str>) -> Result<QueuePage, StoreError> {
        let mut e = Expr::default();
        let condition = format!("{} = {}", e.name(contract::QUEUE_KEY_ATTR), e.s(queue_key));
        let start = page.map(decode_page).transpose()?;
        let (names, values) = e.values();
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(contract::INDEX_BY_QUEUE)
            .key_condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(values)
            .scan_index_forward(true)
            .limit(limit.max(1))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| dynamo_error("Query", &e))?;
        let text = |item: &HashMap<String, AttributeValue>, name: &str| {
            item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
        };
        let entries = output
            .items()
            .iter()
            .map(|item| QueueEntry {
                job_id: text(item, contract::KEY_ATTR),
                order: text(item, contract::QUEUE_ORDER_ATTR),
            })
            .filter(|entry| !entry.job_id.is_empty())
            .collect();
        Ok(QueuePage { entries, next: output.last_evaluated_key().map(encode_page) })
    }

    /// The value of counter `counter` (an item key from [`contract::limit_item_key`]): `None` when
    /// the counter item does not exist (no job was ever admitted under it). 1 GetItem, strongly
    /// consistent.
    pub async fn counter(&self, counter: &str) -> Result<Option<i64>, StoreError> {
        let item = self.get_item(counter).await?;
        Ok(item.as_ref().and_then(|item| item.get(attr::RUNNING)).and_then(|v| v.as_n().ok()?.parse().ok()))
    }

    /// A counter as it is (1 GetItem, strongly consistent).
    pub async fn counter_state(&self, counter: &str) -> Result<CounterState, StoreError> {
        let item = self.get_item(counter).await?.unwrap_or_default();
        let number = |a: &str| item.get(a).and_then(|v| v.as_n().ok()?.parse::<i64>().ok());
        let suspect = item
            .get(attr::SUSPECT)
            .and_then(|v| v.as_s().ok())
            .and_then(|t| t.split_once('/'))
            .and_then(|(c, h)| Some((c.parse().ok()?, h.parse().ok()?)));
        Ok(CounterState { running: number(attr::RUNNING), changes: number(attr::CHANGES).unwrap_or(0), suspect })
    }

    /// The reconciler's recount of one counter against `holders`, the job items it counted holding
    /// a slot under it, while the counter stayed at `state` (the caller read the counter before and
    /// after counting and found the same `changes`: no admission or release happened meanwhile).
    ///
    /// A counter that agrees is left alone (a suspicion on it is cleared). One that disagrees is
    /// not repaired at once: the open jobs' index the holders were counted from is eventually
    /// consistent, and a job admitted a moment after it was created may not be in it yet, so a
    /// count can be short. The first recount only records the disagreement (`suspect`); a later
    /// one (the next run, five minutes on) repairs the counter if no admission or release changed
    /// it since (`changes` still the same: by then any such job is long in the index) and it
    /// counts the same holders. Each write is one UpdateItem conditioned on `changes`, so an
    /// admission or release racing it wins and the repair waits for a quiet moment. Between
    /// repairs a counter is exact by construction (it moves only with a job's slot).
    pub async fn recount(&self, limit: &Limit, state: &CounterState, holders: i64) -> Result<Recount, StoreError> {
        let before = state.running;
        let agrees = before.unwrap_or(0) == holders;
        let confirmed = state.suspect == Some((state.changes, holders));
        let mut e = Expr::default();
        let mut u = Update::default();
        let outcome = match (agrees, confirmed) {
            (true, _) if state.suspect.is_none() => {
                return Ok(Recount { before, holders, outcome: RecountOutcome::Agrees });
            }
            (true, _) => {
                u.remove(&mut e, attr::SUSPECT);
                RecountOutcome::Agrees
            }
            (false, true) => {
                u.set(&mut e, attr::RUNNING, AttributeValue::N(holders.to_string()));
                u.remove(&mut e, attr::SUSPECT);
                RecountOutcome::Repaired
            }
            (false, false) => {
                u.set(&mut e, attr::SUSPECT, s(&format!("{}/{holders}", state.changes)));
                RecountOutcome::Suspected
            }
        };
        let changes = e.name(attr::CHANGES);
        let condition = if state.changes == 0 {
            format!("attribute_not_exists({changes}) OR {changes} = {}", e.n(0))
        } else {
            format!("{changes} = {}", e.n(state.changes))
        };
        let (names, values) = e.values();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&limit.counter)))
            .update_expression(u.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(values)
            .send()
            .await;
        match result {
            Ok(_) => {
                match outcome {
                    RecountOutcome::Repaired => tracing::warn!(
                        counter = %limit.counter, ?before, holders,
                        "counter drift: two recounts agree on the slots held; counter repaired"
                    ),
                    RecountOutcome::Suspected => tracing::warn!(
                        counter = %limit.counter, ?before, holders,
                        "counter drift suspected: the slots held disagree with the counter; repaired at the next run if it persists"
                    ),
                    RecountOutcome::Agrees | RecountOutcome::Moved => {}
                }
                Ok(Recount { before, holders, outcome })
            }
            Err(err) if is_conditional_failure(&err) => Ok(Recount { before, holders, outcome: RecountOutcome::Moved }),
            Err(err) => Err(dynamo_error("UpdateItem (recount)", &err)),
        }
    }

    /// Sends one TransactWriteItems of `items`; `Ok(Err(reasons))` when DynamoDB cancelled it, with
    /// one reason per item, in item order.
    async fn transact(
        &self,
        operation: &'static str,
        items: Vec<TxItem>,
    ) -> Result<Result<(), Vec<Cancellation>>, StoreError> {
        let mut transact = Vec::with_capacity(items.len());
        for TxItem { key, write, return_old } in items {
            let Write { e, update, condition, .. } = write;
            let (names, values) = e.values();
            let update = TxUpdate::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(&key)))
                .update_expression(update.expression())
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(values)
                .set_return_values_on_condition_check_failure(
                    return_old.then_some(ReturnValuesOnConditionCheckFailure::AllOld),
                )
                .build()
                .map_err(|e| StoreError::Dynamo { operation, code: None, message: e.to_string(), retryable: false })?;
            transact.push(TransactWriteItem::builder().update(update).build());
        }
        self.send_transaction(operation, transact).await
    }

    /// Sends one TransactWriteItems of built `items`; `Ok(Err(reasons))` when DynamoDB cancelled
    /// it, with one reason per item, in item order.
    async fn send_transaction(
        &self,
        operation: &'static str,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Vec<Cancellation>>, StoreError> {
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(err) => {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
                    let reasons = cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|r| Cancellation { code: r.code().unwrap_or("None").to_string(), item: r.item().cloned() })
                        .collect();
                    return Ok(Err(reasons));
                }
                Err(dynamo_error(operation, &err))
            }
        }
    }

    /// Takes a finished job that needs nothing more out of the open jobs' index:
    /// [`Transition::Close`], REMOVE `openSince` (1 UpdateItem). The condition: still open, no slot,
    /// a finished status. The caller (the reconciler) has seen that no task of it can still run.
    ///
    /// Twice: the second fails (no longer open). Against RetryByHand: that write opens the job
    /// again and leaves FINISHED, so whichever runs second sees the other's result. Against a
    /// release: Close needs no slot, so it fails until the slot is given back.
    pub async fn close(&self, job_id: &str) -> Result<Result<Job, Option<Job>>, StoreError> {
        self.update(job_id, close_write()).await
    }

    /// One page of jobs, newest first, created at or after `since`: at most `limit` (1 Query per
    /// shard, then BatchGetItem of the records, 100 keys a call, strongly consistent). Pass `next`
    /// back for the following page. A page may hold fewer than `limit` jobs (entries of another
    /// status, or of records TTL removed since) and still have a `next`.
    ///
    /// The index entries are eventually consistent (a job created a moment ago may be missing);
    /// the records read are current, so a listed job shows its present state.
    pub async fn list(
        &self,
        filter: &ListFilter,
        since: Option<DateTime<Utc>>,
        limit: i32,
        page: Option<&str>,
    ) -> Result<JobPage, StoreError> {
        let limit = limit.max(1);
        let (index, sort_attr) = filter.index();
        let mut cursors: Vec<ShardCursor> = match page {
            Some(token) => decode_cursors(token)?,
            None => vec![ShardCursor::Start; contract::SHARDS as usize],
        };
        // Each shard's newest `limit` entries past its cursor: the page's jobs are among them.
        let mut entries: Vec<(usize, HashMap<String, AttributeValue>)> = Vec::new();
        let mut read: Vec<(usize, Option<HashMap<String, AttributeValue>>)> = Vec::new();
        for (n, shard) in contract::shards().enumerate().take(cursors.len()) {
            let start = match &cursors[n] {
                ShardCursor::Done => continue,
                ShardCursor::Start => None,
                ShardCursor::After(key) => Some(key.iter().map(|(k, v)| (k.clone(), json_to_attr(v))).collect()),
            };
            let mut e = Expr::default();
            let mut condition = format!("{} = {}", e.name(contract::SHARD_ATTR), e.s(&shard));
            if let Some(since) = since {
                condition.push_str(&format!(" AND {} >= {}", e.name(sort_attr), e.value(ts(&since))));
            }
            let type_filter =
                filter.job_type.as_ref().map(|t| format!("{} = {}", e.name(contract::JOB_TYPE_ATTR), e.s(t)));
            let (names, values) = e.values();
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(condition)
                .set_filter_expression(type_filter)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(values)
                .scan_index_forward(false)
                .limit(limit)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| dynamo_error("Query", &e))?;
            entries.extend(output.items().iter().map(|item| (n, item.clone())));
            read.push((n, output.last_evaluated_key().cloned()));
        }
        // Newest first across shards, never past the oldest point that a shard with more to read
        // reached (its unread entries may be newer than anything after that point). A stable sort
        // keeps each shard's entries in its Query's order, so what is taken of a shard is a prefix.
        let sort = |item: &HashMap<String, AttributeValue>| {
            item.get(sort_attr).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
        };
        let returned: Vec<usize> =
            (0..cursors.len()).map(|n| entries.iter().filter(|(m, _)| *m == n).count()).collect();
        let floor = read.iter().filter_map(|(_, more)| more.as_ref()).map(sort).max();
        entries.retain(|(_, item)| floor.as_ref().is_none_or(|f| &sort(item) >= f));
        entries.sort_by_key(|(_, item)| std::cmp::Reverse(sort(item)));
        entries.truncate(limit as usize);
        // Each shard read continues after the last entry taken from it, or, when all it returned
        // was taken, where its Query stopped (the end, without a LastEvaluatedKey).
        for (n, more) in read {
            let taken: Vec<&HashMap<String, AttributeValue>> =
                entries.iter().filter(|(m, _)| *m == n).map(|(_, item)| item).collect();
            cursors[n] = match (taken.last(), taken.len() == returned[n], more) {
                (_, true, None) => ShardCursor::Done,
                (_, true, Some(key)) => ShardCursor::After(item_to_json_map(&key)),
                (Some(last), false, _) => ShardCursor::After(item_to_json_map(&index_key(last, sort_attr))),
                (None, false, _) => cursors[n].clone(),
            };
        }
        let keys: Vec<String> = entries
            .iter()
            .filter_map(|(_, item)| item.get(contract::KEY_ATTR).and_then(|v| v.as_s().ok()).cloned())
            .collect();
        let mut jobs = self.get_many(&keys).await?;
        if let Some(status) = filter.status {
            jobs.retain(|j| j.status == status);
        }
        let next = cursors.iter().any(|c| *c != ShardCursor::Done).then(|| encode_cursors(&cursors));
        Ok(JobPage { jobs, next })
    }

    /// Reads records by id (BatchGetItem, 100 keys a call, strongly consistent), in `ids` order;
    /// an id without a record (TTL removed it since it was listed) is left out.
    pub async fn get_many(&self, ids: &[String]) -> Result<Vec<Job>, StoreError> {
        let mut found: HashMap<String, Job> = HashMap::new();
        for chunk in ids.chunks(100) {
            let mut keys: Vec<HashMap<String, AttributeValue>> = chunk.iter().map(|id| Self::key(id)).collect();
            let mut tries = 0;
            while !keys.is_empty() {
                let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Dynamo {
                        operation: "BatchGetItem",
                        code: None,
                        message: e.to_string(),
                        retryable: false,
                    })?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| dynamo_error("BatchGetItem", &e))?;
                for item in output.responses().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                    let job = job_from_item(item)?;
                    found.insert(job.job_id.clone(), job);
                }
                // Keys DynamoDB did not get to (throughput, or the 16 MB answer limit): again,
                // after a short pause, a few times.
                keys = output
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
                if !keys.is_empty() {
                    tries += 1;
                    if tries > GET_MANY_TRIES {
                        return Err(StoreError::Dynamo {
                            operation: "BatchGetItem",
                            code: None,
                            message: format!("{} keys still unprocessed after {GET_MANY_TRIES} tries", keys.len()),
                            retryable: true,
                        });
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50 << tries)).await;
                }
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }
}

/// How often [`Store::get_many`] asks again for keys DynamoDB left unprocessed.
const GET_MANY_TRIES: u32 = 5;

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

/// A new record is SUBMITTED without queue attributes (Submit) or QUEUED with both (Queue), and
/// holds no slot: anything else is refused before it is sent.
fn check_new_record(job: &Job) -> Result<(), StoreError> {
    let transition = if job.status == JobStatus::Queued { Transition::Queue } else { Transition::Submit };
    let shaped = match transition {
        Transition::Queue => job.queue_key.is_some() && job.queue_order.is_some(),
        _ => job.queue_key.is_none() && job.queue_order.is_none(),
    };
    if transition.rule().to != To::Status(job.status) || !shaped || job.slot.is_some() {
        return Err(StoreError::NotAllowed { transition, status: job.status });
    }
    Ok(())
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
    for a in
        [attr::LAUNCH_ERROR, attr::LAUNCH_ERROR_KIND, attr::LAUNCH_RETRYABLE, attr::LAUNCH_TRIES, attr::RELAUNCH_AT]
    {
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

fn admit_write(attempt: u32, lease_until_ms: i64, now: DateTime<Utc>) -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    set_status(&mut e, &mut u, Transition::Admit);
    u.set(&mut e, attr::SLOT, AttributeValue::N(attempt.to_string()));
    // Admitted: open (see new_record_item).
    u.copy(&mut e, contract::OPEN_SINCE_ATTR, contract::CREATED_AT_ATTR);
    u.set(&mut e, attr::LEASE_UNTIL, AttributeValue::N(lease_until_ms.to_string()));
    u.set(&mut e, attr::UPDATED_AT, ts(&now));
    let condition = format!(
        "{} = {} AND {} AND attribute_not_exists({})",
        e.name(attr::ATTEMPT),
        e.n(attempt),
        from_guard(&mut e, Transition::Admit),
        e.name(attr::SLOT),
    );
    Write { operation: "TransactWriteItems (admit)", e, update: u, condition }
}

/// A counter's part of an admission: one more slot, unless it is at its limit.
fn counter_acquire_write(limit: &Limit) -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    u.add(&mut e, attr::RUNNING, 1);
    u.add(&mut e, attr::CHANGES, 1);
    let running = e.name(attr::RUNNING);
    let condition = format!("attribute_not_exists({running}) OR {running} < {}", e.n(limit.max));
    Write { operation: "TransactWriteItems (admit)", e, update: u, condition }
}

fn release_write(slot: u32) -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    set_status(&mut e, &mut u, Transition::Release);
    u.remove(&mut e, attr::SLOT);
    let condition = format!("{} = {} AND {}", e.name(attr::SLOT), e.n(slot), from_guard(&mut e, Transition::Release));
    Write { operation: "TransactWriteItems (release)", e, update: u, condition }
}

/// A counter's part of a release: one slot less, never below 0.
fn counter_release_write() -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    u.add(&mut e, attr::RUNNING, -1);
    u.add(&mut e, attr::CHANGES, 1);
    let condition = format!("{} > {}", e.name(attr::RUNNING), e.n(0));
    Write { operation: "TransactWriteItems (release)", e, update: u, condition }
}

fn requeue_write(attempt: u32, queue_key: &str, queue_order: &str, now: DateTime<Utc>) -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    set_status(&mut e, &mut u, Transition::Requeue);
    // Queued again: open again when admitted.
    u.remove(&mut e, contract::OPEN_SINCE_ATTR);
    u.set(&mut e, contract::QUEUE_KEY_ATTR, s(queue_key));
    u.set(&mut e, contract::QUEUE_ORDER_ATTR, s(queue_order));
    u.set(&mut e, attr::UPDATED_AT, ts(&now));
    for a in [
        attr::LEASE_UNTIL,
        attr::LAUNCH_ERROR,
        attr::LAUNCH_ERROR_KIND,
        attr::LAUNCH_RETRYABLE,
        attr::LAUNCH_TRIES,
        attr::RELAUNCH_AT,
    ] {
        u.remove(&mut e, a);
    }
    let condition = format!(
        "{} = {} AND attribute_not_exists({}) AND {} AND {} = {} AND attribute_not_exists({})",
        e.name(attr::ATTEMPT),
        e.n(attempt),
        e.name(attr::TASK_ARN),
        from_guard(&mut e, Transition::Requeue),
        e.name(attr::LAUNCH_RETRYABLE),
        e.value(AttributeValue::Bool(true)),
        e.name(attr::SLOT),
    );
    Write { operation: "UpdateItem (requeue)", e, update: u, condition }
}

/// The launch backoff's next round, recorded with a retryable launch failure
/// ([`Store::record_launch_failure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relaunch {
    /// The round that just failed (1 for the first).
    pub round: u32,
    /// When the next round starts.
    pub at: DateTime<Utc>,
}

/// How the next attempt of a RETRYING job starts ([`Store::start_next_attempt`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextAttempt {
    /// The launch lease of the caller that will launch it (ignored when it is queued).
    pub lease_until_ms: i64,
    /// The queue and place of a limited job: it waits there for a slot.
    pub queue: Option<(String, String)>,
    /// The capacity it runs on when not the job type's own.
    pub capacity: Option<Capacity>,
}

fn start_next_attempt_write(job: &Job, next: &NextAttempt, now: DateTime<Utc>) -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    let transition = if next.queue.is_some() { Transition::RetryQueued } else { Transition::Retry };
    set_status(&mut e, &mut u, transition);
    let number = job.attempt.number;
    u.set(&mut e, attr::ATTEMPT, AttributeValue::N((number + 1).to_string()));
    let old = serde_json::to_value(&job.attempt).unwrap_or_default();
    let (history, empty, entry) = (
        e.name(attr::HISTORY),
        e.value(AttributeValue::L(Vec::new())),
        e.value(AttributeValue::L(vec![json_to_attr(&old)])),
    );
    u.set.push(format!("{history} = list_append(if_not_exists({history}, {empty}), {entry})"));
    u.set(&mut e, attr::UPDATED_AT, ts(&now));
    for a in Attempt::ATTRIBUTES {
        if a == attr::REQUESTED_CAPACITY && next.capacity.is_some() {
            continue;
        }
        u.remove(&mut e, a);
    }
    if let Some(capacity) = next.capacity {
        u.set(&mut e, attr::REQUESTED_CAPACITY, s(capacity.provider_name()));
    }
    u.remove(&mut e, contract::TTL_ATTR);
    u.remove(&mut e, attr::CANCELLED_AT);
    match &next.queue {
        Some((key, order)) => {
            u.set(&mut e, contract::QUEUE_KEY_ATTR, s(key));
            u.set(&mut e, contract::QUEUE_ORDER_ATTR, s(order));
            u.remove(&mut e, attr::LEASE_UNTIL);
            // Queued again: open again when admitted.
            u.remove(&mut e, contract::OPEN_SINCE_ATTR);
        }
        None => {
            u.set(&mut e, attr::LEASE_UNTIL, AttributeValue::N(next.lease_until_ms.to_string()));
            remove_queue_attributes(&mut e, &mut u);
        }
    }
    let version = match job.attempt.ecs_version {
        Some(v) => format!("{} = {}", e.name(attr::ECS_VERSION), e.n(v)),
        None => format!("attribute_not_exists({})", e.name(attr::ECS_VERSION)),
    };
    let condition = format!(
        "{} = {} AND {} AND {version} AND attribute_not_exists({})",
        e.name(attr::ATTEMPT),
        e.n(number),
        from_guard(&mut e, transition),
        e.name(attr::SLOT),
    );
    Write { operation: "UpdateItem (start next attempt)", e, update: u, condition }
}

fn retry_by_hand_write(attempt: u32, now: DateTime<Utc>) -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    set_status(&mut e, &mut u, Transition::RetryByHand);
    // Open again (a finished job may have been closed): the reconciler looks after it.
    u.copy(&mut e, contract::OPEN_SINCE_ATTR, contract::CREATED_AT_ATTR);
    u.set(&mut e, attr::RETRY_AT, ts(&now));
    u.set(&mut e, attr::UPDATED_AT, ts(&now));
    u.remove(&mut e, contract::TTL_ATTR);
    let (task, lease) = (e.name(attr::TASK_ARN), e.name(attr::LEASE_UNTIL));
    let condition = format!(
        "{} = {} AND {} AND attribute_not_exists({}) AND ({} = {} OR attribute_not_exists({task})) \
         AND (attribute_not_exists({lease}) OR {lease} < {})",
        e.name(attr::ATTEMPT),
        e.n(attempt),
        from_guard(&mut e, Transition::RetryByHand),
        e.name(attr::SLOT),
        e.name(attr::ECS_LAST_STATUS),
        e.s("STOPPED"),
        e.n(now.timestamp_millis()),
    );
    Write { operation: "UpdateItem (retry by hand)", e, update: u, condition }
}

fn record_cancelled_launch_failure_write(attempt: u32, failure: &LaunchFailure, now: DateTime<Utc>) -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    set_status(&mut e, &mut u, Transition::RecordCancelledLaunchFailure);
    launch_failure_fields(&mut e, &mut u, failure);
    u.set(&mut e, attr::UPDATED_AT, ts(&now));
    u.remove(&mut e, attr::LEASE_UNTIL);
    let condition = format!(
        "{} = {} AND {} AND attribute_not_exists({})",
        e.name(attr::ATTEMPT),
        e.n(attempt),
        from_guard(&mut e, Transition::RecordCancelledLaunchFailure),
        e.name(attr::TASK_ARN),
    );
    Write { operation: "UpdateItem (record cancelled launch failure)", e, update: u, condition }
}

/// The launch failure's attributes, as RecordLaunchFailure and RecordCancelledLaunchFailure write them.
fn launch_failure_fields(e: &mut Expr, u: &mut Update, failure: &LaunchFailure) {
    u.set(e, attr::LAUNCH_ERROR, s(&failure.reason));
    u.set(e, attr::LAUNCH_ERROR_KIND, json_to_attr(&serde_json::to_value(failure.kind).unwrap_or(Value::Null)));
    u.set(e, attr::LAUNCH_RETRYABLE, AttributeValue::Bool(failure.kind.is_retryable()));
    u.set(e, attr::LAUNCH_TRIES, AttributeValue::N(failure.tries.to_string()));
}

/// The queue attributes leave a job once its launch is recorded (or seen, or cancelled): from then
/// on admission has nothing to do with it.
fn remove_queue_attributes(e: &mut Expr, u: &mut Update) {
    u.remove(e, contract::QUEUE_KEY_ATTR);
    u.remove(e, contract::QUEUE_ORDER_ATTR);
}

/// The error for a cancelled transaction whose reasons are neither a failed condition nor a conflict.
fn cancelled_error(operation: &'static str, reasons: &[Cancellation]) -> StoreError {
    let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
    let retryable = codes.iter().any(|c| {
        matches!(
            *c,
            "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded"
        )
    });
    StoreError::Dynamo {
        operation,
        code: Some("TransactionCanceledException".into()),
        message: format!("transaction cancelled: {}", codes.join(", ")),
        retryable,
    }
}

/// One update of a transaction: the item's key, its write, and whether a failed condition returns
/// the item (only a job's does: the caller decides on it).
struct TxItem {
    key: String,
    write: Write,
    return_old: bool,
}

/// The Admit transaction: the job's update first, then one counter update per limit, in the
/// limits' order (which [`admit_refusal`] reads the reasons in).
fn admit_items(job: &Job, limits: &[Limit], lease_until_ms: i64, now: DateTime<Utc>) -> Vec<TxItem> {
    let job_item = TxItem {
        key: job.job_id.clone(),
        write: admit_write(job.attempt.number, lease_until_ms, now),
        return_old: true,
    };
    let counters =
        limits.iter().map(|l| TxItem { key: l.counter.clone(), write: counter_acquire_write(l), return_old: false });
    std::iter::once(job_item).chain(counters).collect()
}

/// What a cancelled Admit transaction means, from its reasons (item order of [`admit_items`]): the
/// job's condition first (it is no longer QUEUED: whatever the counters say, skip it), then full
/// counters, then a conflict; anything else (throttling, validation) is an error.
fn admit_refusal(limits: &[Limit], reasons: &[Cancellation]) -> Result<AdmitOutcome, StoreError> {
    if let Some(job_reason) = reasons.first().filter(|r| r.failed()) {
        let existing = job_reason.item.as_ref().filter(|i| !i.is_empty()).map(job_from_item).transpose()?;
        return Ok(AdmitOutcome::NotQueued(existing.map(Box::new)));
    }
    let full: Vec<String> =
        limits.iter().zip(reasons.iter().skip(1)).filter(|(_, r)| r.failed()).map(|(l, _)| l.counter.clone()).collect();
    if !full.is_empty() {
        return Ok(AdmitOutcome::Full(full));
    }
    if reasons.iter().any(Cancellation::conflict) {
        return Ok(AdmitOutcome::Conflict);
    }
    Err(cancelled_error("TransactWriteItems (admit)", reasons))
}

/// The Release transaction: the job's update first, then one counter update per counter.
fn release_items(job_id: &str, slot: u32, counters: &[&Limit]) -> Vec<TxItem> {
    let job_item = TxItem { key: job_id.to_string(), write: release_write(slot), return_old: false };
    let counters =
        counters.iter().map(|l| TxItem { key: l.counter.clone(), write: counter_release_write(), return_old: false });
    std::iter::once(job_item).chain(counters).collect()
}

/// What a cancelled Release transaction means.
#[derive(Debug, PartialEq, Eq)]
enum ReleaseRefusal {
    /// The job holds no slot of this attempt: nothing to release, and no counter may move.
    NotHeld,
    /// Only these counters' floors failed (they are at 0): release again without them.
    Floors(Vec<String>),
    /// Another transaction held one of the items.
    Conflict,
    /// Anything else.
    Other,
}

fn release_refusal(counters: &[&Limit], reasons: &[Cancellation]) -> ReleaseRefusal {
    if reasons.first().is_some_and(Cancellation::failed) {
        return ReleaseRefusal::NotHeld;
    }
    let floors: Vec<String> = counters
        .iter()
        .zip(reasons.iter().skip(1))
        .filter(|(_, r)| r.failed())
        .map(|(l, _)| l.counter.clone())
        .collect();
    if !floors.is_empty() {
        ReleaseRefusal::Floors(floors)
    } else if reasons.iter().any(Cancellation::conflict) {
        ReleaseRefusal::Conflict
    } else {
        ReleaseRefusal::Other
    }
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
    remove_queue_attributes(&mut e, &mut u);
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
    // The launch is over: its lease is no longer needed.
    u.remove(&mut e, attr::LEASE_UNTIL);
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

fn record_launch_failure_write(
    attempt: u32,
    failure: &LaunchFailure,
    relaunch: Option<Relaunch>,
    now: DateTime<Utc>,
) -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    set_status(&mut e, &mut u, Transition::RecordLaunchFailure);
    launch_failure_fields(&mut e, &mut u, failure);
    match relaunch {
        Some(r) => {
            u.set(&mut e, attr::LAUNCH_ROUND, AttributeValue::N(r.round.to_string()));
            u.set(&mut e, attr::RELAUNCH_AT, ts(&r.at));
        }
        None => u.remove(&mut e, attr::RELAUNCH_AT),
    }
    u.set(&mut e, attr::UPDATED_AT, ts(&now));
    u.remove(&mut e, attr::LEASE_UNTIL);
    remove_queue_attributes(&mut e, &mut u);
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
        To::Status(status) if status == update.status => true,
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
    // Seeing an event proves the launch happened: the lease and the queue entry are no longer needed.
    u.remove(&mut e, attr::LEASE_UNTIL);
    remove_queue_attributes(&mut e, &mut u);
    // A cancelled job got its TTL when it was cancelled.
    if let (Some(expires), true) = (update.expires_at, writes_status) {
        u.set(&mut e, contract::TTL_ATTR, AttributeValue::N(expires.to_string()));
    }
    let status_guard = from_guard(&mut e, transition);
    let (task, version) = (e.name(attr::TASK_ARN), e.name(attr::ECS_VERSION));
    // An event applies over an older version; a repair without a version of its own over the one it
    // read (or none), which it keeps (see EventOrder).
    let order = match update.order {
        EventOrder::Newer => "<",
        EventOrder::AsRead => "<=",
    };
    let condition = format!(
        "attribute_exists({key}) AND {attempt_n} = {attempt_v} AND (attribute_not_exists({task}) OR {task} = {task_v}) \
         AND (attribute_not_exists({version}) OR {version} {order} {version_v}) AND {status_guard}",
        key = e.name(contract::KEY_ATTR),
        attempt_n = e.name(attr::ATTEMPT),
        attempt_v = e.n(update.attempt),
        task_v = e.s(&update.task_arn),
        version_v = e.n(update.version),
    );
    Ok(Write { operation: "UpdateItem (apply event)", e, update: u, condition })
}

fn close_write() -> Write {
    let mut e = Expr::default();
    let mut u = Update::default();
    u.remove(&mut e, contract::OPEN_SINCE_ATTR);
    let condition = format!(
        "attribute_exists({}) AND attribute_not_exists({}) AND {}",
        e.name(contract::OPEN_SINCE_ATTR),
        e.name(attr::SLOT),
        from_guard(&mut e, Transition::Close)
    );
    Write { operation: "UpdateItem (close)", e, update: u, condition }
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
    // A queued job leaves its queue. The lease stays: see Store::cancel.
    remove_queue_attributes(&mut e, &mut u);
    let condition =
        format!("attribute_exists({}) AND {}", e.name(contract::KEY_ATTR), from_guard(&mut e, Transition::Cancel));
    Write { operation: "UpdateItem (cancel)", e, update: u, condition }
}

/// The key of an index entry, as an ExclusiveStartKey: the table's key and the index's.
fn index_key(item: &HashMap<String, AttributeValue>, sort_attr: &str) -> HashMap<String, AttributeValue> {
    [contract::KEY_ATTR, contract::SHARD_ATTR, sort_attr]
        .into_iter()
        .filter_map(|a| Some((a.to_string(), item.get(a)?.clone())))
        .collect()
}

fn item_to_json_map(item: &HashMap<String, AttributeValue>) -> serde_json::Map<String, Value> {
    item.iter().map(|(k, v)| (k.clone(), attr_to_json(v))).collect()
}

/// A listing's page token: every shard's cursor, as base64url JSON (opaque to callers, no state
/// kept).
fn encode_cursors(cursors: &[ShardCursor]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(serde_json::to_string(cursors).unwrap_or_default().as_bytes())
}

fn decode_cursors(token: &str) -> Result<Vec<ShardCursor>, StoreError> {
    let bad = |why: String| StoreError::Dynamo { operation: "Query", code: None, message: why, retryable: false };
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(token.as_bytes())
        .map_err(|e| bad(format!("page token is not valid: {e}")))?;
    let cursors: Vec<ShardCursor> =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("page token is not valid: {e}")))?;
    if cursors.len() != contract::SHARDS as usize {
        return Err(bad(format!("page token has {} shards, not {}", cursors.len(), contract::SHARDS)));
    }
    Ok(cursors)
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
            order: EventOrder::Newer,
            status,
            fields: vec![(attr::EXIT_CODE, Some(Value::from(0))), (attr::STOPPING_AT, None)],
            expires_at: Some(99),
            now: now(),
        }
    }

    /// Every conditional write the store makes, with the transitions its condition enforces, in
    /// table order. (The counters' parts of Admit and Release name no status; see
    /// `counter_writes_keep_the_limit_and_the_floor`.)
    fn retrying() -> Job {
        let mut job =
            Job::submitted("j".into(), "report".into(), None, "f".into(), Default::default(), None, None, now(), 0);
        job.status = JobStatus::Retrying;
        job.attempt.number = 2;
        job.attempt.ecs_version = Some(7);
        job
    }

    fn next(queue: Option<(String, String)>) -> NextAttempt {
        NextAttempt { lease_until_ms: 5_000, queue, capacity: Some(Capacity::Fargate) }
    }

    #[test]
    fn the_next_attempt_keeps_the_old_one_in_history_and_starts_clean() {
        let write = start_next_attempt_write(&retrying(), &next(None), now());
        let update = resolve(&write.e, &write.update.expression());
        assert!(update.contains("attempt = 3"), "{update}");
        assert!(update.contains("history = list_append(if_not_exists(history, "), "{update}");
        assert!(update.contains("requestedCapacity = 'FARGATE'"), "{update}");
        assert!(update.contains("leaseUntil = 5000"), "{update}");
        for a in Attempt::ATTRIBUTES.iter().filter(|a| **a != attr::REQUESTED_CAPACITY) {
            assert!(
                update.contains(&format!(" {a},"))
                    || update.ends_with(&format!(" {a}"))
                    || update.contains(&format!("REMOVE {a},")),
                "{a} not removed: {update}"
            );
        }
        let queued = start_next_attempt_write(&retrying(), &next(Some(("report".into(), "o".into()))), now());
        let update = resolve(&queued.e, &queued.update.expression());
        assert!(update.contains("status = 'QUEUED'") && update.contains("queueOrder = 'o'"), "{update}");
        assert!(!update.contains("leaseUntil ="), "a queued job holds no lease: {update}");
    }

    fn every_write() -> Vec<(Vec<Transition>, Expr, String)> {
        let failure = LaunchFailure { kind: LaunchErrorKind::Capacity, code: None, reason: "r".into(), tries: 3 };
        let (submit_e, submit) = submit_condition();
        let (queue_e, queue) = submit_condition();
        let mut writes = vec![(vec![Transition::Submit], submit_e, submit), (vec![Transition::Queue], queue_e, queue)];
        let updates = [
            (vec![Transition::Admit], admit_write(2, 5_000, now())),
            (
                vec![Transition::ClaimAbandonedLaunch, Transition::ClaimFailedLaunch],
                claim_launch_write(2, now(), 5_000),
            ),
            (vec![Transition::Requeue], requeue_write(2, "report", "o", now())),
            (vec![Transition::RecordLaunch], record_launch_write(2, &launched(), now())),
            (vec![Transition::RecordLaunchFailure], record_launch_failure_write(2, &failure, None, now())),
            (vec![Transition::RecordCancelledLaunch], record_cancelled_launch_write(2, &launched(), now())),
            (vec![Transition::RecordCancelledLaunchFailure], record_cancelled_launch_failure_write(2, &failure, now())),
            (vec![Transition::ApplyEvent], event_write(&event(JobStatus::Running), Transition::ApplyEvent).unwrap()),
            (
                vec![Transition::ApplyStoppedEvent],
                event_write(&event(JobStatus::Succeeded), Transition::ApplyStoppedEvent).unwrap(),
            ),
            (
                vec![Transition::ApplyRetryingEvent],
                event_write(&event(JobStatus::Retrying), Transition::ApplyRetryingEvent).unwrap(),
            ),
            (
                vec![Transition::RecordEcsFactsOnCancelled],
                event_write(&event(JobStatus::Failed), Transition::RecordEcsFactsOnCancelled).unwrap(),
            ),
            (vec![Transition::Release], release_write(2)),
            (vec![Transition::Cancel], cancel_write(now(), Some(99))),
            (vec![Transition::Retry], start_next_attempt_write(&retrying(), &next(None), now())),
            (
                vec![Transition::RetryQueued],
                start_next_attempt_write(&retrying(), &next(Some(("report".into(), "o".into()))), now()),
            ),
            (vec![Transition::RetryByHand], retry_by_hand_write(2, now())),
            (vec![Transition::Close], close_write()),
        ];
        for (transitions, write) in updates {
            writes.push((transitions, write.e, write.condition));
        }
        writes
    }

    #[test]
    fn a_job_is_open_from_its_record_until_closed_and_again_when_retried_by_hand() {
        let job = Job::submitted("j".into(), "t".into(), None, "f".into(), Default::default(), None, None, now(), 1);
        let item = new_record_item(&job);
        assert_eq!(item[contract::SHARD_ATTR], s(&contract::shard_of("j")));
        assert_eq!(item[contract::OPEN_SINCE_ATTR], item[contract::CREATED_AT_ATTR]);
        let close = close_write();
        assert_eq!(resolve(&close.e, &close.update.expression()), "REMOVE openSince");
        let condition = resolve(&close.e, &close.condition);
        assert!(
            condition.starts_with("attribute_exists(openSince) AND attribute_not_exists(slot) AND status IN ("),
            "{condition}"
        );
        let retry = retry_by_hand_write(2, now());
        assert!(resolve(&retry.e, &retry.update.expression()).contains("openSince = createdAt"));
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
        assert_eq!(
            resolve(&e, &cancel),
            "status IN ('QUEUED', 'SUBMITTED', 'STARTING', 'RUNNING', 'LAUNCH_FAILED', 'RETRYING')"
        );
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
            "attribute_not_exists(jobId)".to_string(),
            "attempt = 2 AND status = 'QUEUED' AND attribute_not_exists(slot)".to_string(),
            format!(
                "attempt = 2 AND attribute_not_exists(taskArn) AND ((status = 'SUBMITTED' AND \
                 (attribute_not_exists(leaseUntil) OR leaseUntil < {now_ms})) OR (status = 'LAUNCH_FAILED' AND launchRetryable = true))"
            ),
            "attempt = 2 AND attribute_not_exists(taskArn) AND status = 'LAUNCH_FAILED' AND launchRetryable = true \
             AND attribute_not_exists(slot)"
                .to_string(),
            "attempt = 2 AND status = 'SUBMITTED' AND attribute_not_exists(ecsVersion)".to_string(),
            "attempt = 2 AND status = 'SUBMITTED' AND attribute_not_exists(ecsVersion)".to_string(),
            "attempt = 2 AND status = 'CANCELLED' AND (attribute_not_exists(taskArn) OR taskArn = 'arn:task')"
                .to_string(),
            "attempt = 2 AND status = 'CANCELLED' AND attribute_not_exists(taskArn)".to_string(),
            format!("{event} {live}"),
            format!(
                "{event} status IN ('SUBMITTED', 'STARTING', 'RUNNING', 'LAUNCH_FAILED', 'SUCCEEDED', 'FAILED', 'RETRYING', 'TIMED_OUT')"
            ),
            format!("{event} status IN ('SUBMITTED', 'STARTING', 'RUNNING', 'LAUNCH_FAILED', 'RETRYING')"),
            format!("{event} status = 'CANCELLED'"),
            "slot = 2 AND status IN ('LAUNCH_FAILED', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'RETRYING', 'TIMED_OUT')".to_string(),
            "attribute_exists(jobId) AND status IN ('QUEUED', 'SUBMITTED', 'STARTING', 'RUNNING', 'LAUNCH_FAILED', 'RETRYING')"
                .to_string(),
            "attempt = 2 AND status = 'RETRYING' AND ecsVersion = 7 AND attribute_not_exists(slot)".to_string(),
            "attempt = 2 AND status = 'RETRYING' AND ecsVersion = 7 AND attribute_not_exists(slot)".to_string(),
            format!(
                "attempt = 2 AND status IN ('FAILED', 'TIMED_OUT', 'CANCELLED', 'LAUNCH_FAILED') AND attribute_not_exists(slot) \
                 AND (ecsLastStatus = 'STOPPED' OR attribute_not_exists(taskArn)) AND (attribute_not_exists(leaseUntil) OR leaseUntil < {now_ms})"
            ),
            "attribute_exists(openSince) AND attribute_not_exists(slot) AND status IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT')"
                .to_string(),
        ];
        assert_eq!(texts, expected);
    }

    #[test]
    fn updates_write_the_status_their_transition_moves_to() {
        let update_of = |w: &Write| resolve(&w.e, &w.update.expression());
        let claim = update_of(&claim_launch_write(1, now(), 5));
        assert!(claim.starts_with("SET status = 'SUBMITTED', leaseUntil = 5"), "{claim}");
        assert_eq!(Transition::ClaimAbandonedLaunch.rule().to, Transition::ClaimFailedLaunch.rule().to);
        assert!(
            claim.ends_with("REMOVE launchError, launchErrorKind, launchRetryable, launchTries, relaunchAt"),
            "{claim}"
        );
        let launch = update_of(&record_launch_write(1, &launched(), now()));
        assert!(launch.starts_with("SET status = 'STARTING', taskArn = 'arn:task', clusterArn = 'arn:cluster'"));
        let failure = LaunchFailure { kind: LaunchErrorKind::Rejected, code: None, reason: "r".into(), tries: 1 };
        let failed = update_of(&record_launch_failure_write(1, &failure, None, now()));
        assert!(failed.contains("status = 'LAUNCH_FAILED'") && failed.contains("launchRetryable = false"), "{failed}");
        let cancelled_launch = update_of(&record_cancelled_launch_write(1, &launched(), now()));
        assert!(!cancelled_launch.contains("status"), "{cancelled_launch}");
        let cancel = update_of(&cancel_write(now(), None));
        assert!(cancel.starts_with("SET status = 'CANCELLED', cancelledAt = "), "{cancel}");
        assert!(cancel.ends_with("REMOVE queueKey, queueOrder"), "a queued job leaves its queue: {cancel}");
        assert!(!cancel.contains("leaseUntil"), "the lease tells when a cancelled launch is over: {cancel}");
        assert!(launch.contains("REMOVE leaseUntil") && launch.ends_with("queueKey, queueOrder"), "{launch}");
        assert!(failed.ends_with("REMOVE relaunchAt, leaseUntil, queueKey, queueOrder"), "{failed}");
        let throttled = LaunchFailure { kind: LaunchErrorKind::Throttled, ..failure.clone() };
        let backing_off =
            update_of(&record_launch_failure_write(1, &throttled, Some(Relaunch { round: 2, at: now() }), now()));
        assert!(backing_off.contains("launchRound = 2, relaunchAt = '2026-01-02T03:04:05.006Z'"), "{backing_off}");
        let cancelled_failure = update_of(&record_cancelled_launch_failure_write(1, &failure, now()));
        assert!(!cancelled_failure.contains("status"), "{cancelled_failure}");
        assert!(cancelled_failure.contains("launchRetryable = false"), "{cancelled_failure}");
        assert!(cancelled_failure.ends_with("REMOVE leaseUntil"), "{cancelled_failure}");
        assert!(cancelled_launch.ends_with("REMOVE leaseUntil"), "{cancelled_launch}");
        let admit = update_of(&admit_write(2, 5_000, now()));
        assert_eq!(
            admit,
            "SET status = 'SUBMITTED', slot = 2, openSince = createdAt, leaseUntil = 5000, updatedAt = '2026-01-02T03:04:05.006Z'"
        );
        assert_eq!(update_of(&release_write(2)), "REMOVE slot", "a release changes nothing but the slot");
        let requeue = update_of(&requeue_write(2, "report", "o", now()));
        assert!(requeue.starts_with("SET status = 'QUEUED', queueKey = 'report', queueOrder = 'o'"), "{requeue}");
        assert!(requeue.ends_with(
            "REMOVE openSince, leaseUntil, launchError, launchErrorKind, launchRetryable, launchTries, relaunchAt"
        ));

        let running = event_write(&event(JobStatus::Running), Transition::ApplyEvent).unwrap();
        let running = update_of(&running);
        assert!(running.starts_with("SET status = 'RUNNING', taskArn = 'arn:task', ecsVersion = 7"), "{running}");
        assert!(running.contains("expiresAt = 99"), "the planner decides the TTL: {running}");
        let facts = update_of(&event_write(&event(JobStatus::Failed), Transition::RecordEcsFactsOnCancelled).unwrap());
        assert!(!facts.contains("status =") && !facts.contains("expiresAt"), "{facts}");
        assert!(
            facts.contains("exitCode = 0") && facts.ends_with("REMOVE stoppingAt, leaseUntil, queueKey, queueOrder"),
            "{facts}"
        );
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
    fn counter_writes_keep_the_limit_and_the_floor() {
        let limit = Limit { counter: contract::limit_item_key("report"), max: 5 };
        let acquire = counter_acquire_write(&limit);
        assert_eq!(resolve(&acquire.e, &acquire.condition), "attribute_not_exists(running) OR running < 5");
        assert_eq!(resolve(&acquire.e, &acquire.update.expression()), "ADD running 1, changes 1");
        let release = counter_release_write();
        assert_eq!(resolve(&release.e, &release.condition), "running > 0", "the floor");
        assert_eq!(resolve(&release.e, &release.update.expression()), "ADD running -1, changes 1");
        for w in [&acquire, &release] {
            assert!(statuses_named(&w.e, &w.condition).is_empty(), "a counter has no status");
        }
    }

    fn reason(code: &str) -> Cancellation {
        Cancellation { code: code.into(), item: None }
    }

    #[test]
    fn admit_and_release_are_one_transaction_each_with_every_counter_of_the_job() {
        let job = Job::submitted("j".into(), "t".into(), None, "f".into(), Default::default(), None, None, now(), 1)
            .queued(contract::PROJECT_QUEUE);
        let limits = [
            Limit { counter: contract::limit_item_key("t"), max: 3 },
            Limit { counter: contract::limit_item_key(contract::PROJECT_QUEUE), max: 10 },
        ];
        let items = admit_items(&job, &limits, 5_000, now());
        let shape: Vec<(&str, bool, String)> =
            items.iter().map(|i| (i.key.as_str(), i.return_old, resolve(&i.write.e, &i.write.condition))).collect();
        assert_eq!(
            shape,
            [
                ("j", true, "attempt = 1 AND status = 'QUEUED' AND attribute_not_exists(slot)".to_string()),
                ("limit#t", false, "attribute_not_exists(running) OR running < 3".to_string()),
                ("limit#*", false, "attribute_not_exists(running) OR running < 10".to_string()),
            ]
        );
        let counters: Vec<&Limit> = limits.iter().collect();
        let items = release_items("j", 1, &counters);
        let shape: Vec<(&str, String, String)> = items
            .iter()
            .map(|i| {
                (
                    i.key.as_str(),
                    resolve(&i.write.e, &i.write.condition),
                    resolve(&i.write.e, &i.write.update.expression()),
                )
            })
            .collect();
        let release =
            "slot = 1 AND status IN ('LAUNCH_FAILED', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'RETRYING', 'TIMED_OUT')"
                .to_string();
        assert_eq!(
            shape,
            [
                ("j", release, "REMOVE slot".to_string()),
                ("limit#t", "running > 0".to_string(), "ADD running -1, changes 1".to_string()),
                ("limit#*", "running > 0".to_string(), "ADD running -1, changes 1".to_string()),
            ]
        );
        // An unlimited job (no limits) would be a one-item transaction; nothing calls it so.
        assert_eq!(admit_items(&job, &[], 5_000, now()).len(), 1);
    }

    #[test]
    fn cancellation_reasons_tell_a_taken_job_from_a_full_counter() {
        let limits = [Limit { counter: "limit#t".into(), max: 3 }, Limit { counter: "limit#*".into(), max: 10 }];
        let outcome = |codes: &[&str]| admit_refusal(&limits, &codes.iter().map(|c| reason(c)).collect::<Vec<_>>());
        let mut taken = reason("ConditionalCheckFailed");
        let job = Job::submitted("j".into(), "t".into(), None, "f".into(), Default::default(), None, None, now(), 1);
        taken.item = Some(job_to_item(&job));
        let answer = admit_refusal(&limits, &[taken, reason("None"), reason("ConditionalCheckFailed")]).unwrap();
        assert_eq!(
            answer,
            AdmitOutcome::NotQueued(Some(Box::new(job))),
            "the job first: skip it, whatever the counters say"
        );
        assert_eq!(outcome(&["ConditionalCheckFailed", "None", "None"]).unwrap(), AdmitOutcome::NotQueued(None));
        assert_eq!(
            outcome(&["None", "ConditionalCheckFailed", "None"]).unwrap(),
            AdmitOutcome::Full(vec!["limit#t".into()])
        );
        assert_eq!(
            outcome(&["None", "None", "ConditionalCheckFailed"]).unwrap(),
            AdmitOutcome::Full(vec!["limit#*".into()])
        );
        assert_eq!(outcome(&["None", "TransactionConflict", "None"]).unwrap(), AdmitOutcome::Conflict);
        let throttled = outcome(&["None", "ThrottlingError", "None"]).unwrap_err();
        assert!(throttled.is_retryable(), "{throttled}");

        let counters: Vec<&Limit> = limits.iter().collect();
        let refusal = |codes: &[&str]| release_refusal(&counters, &codes.iter().map(|c| reason(c)).collect::<Vec<_>>());
        assert_eq!(refusal(&["ConditionalCheckFailed", "ConditionalCheckFailed", "None"]), ReleaseRefusal::NotHeld);
        assert_eq!(
            refusal(&["None", "None", "ConditionalCheckFailed"]),
            ReleaseRefusal::Floors(vec!["limit#*".into()])
        );
        assert_eq!(
            refusal(&["None", "ConditionalCheckFailed", "ConditionalCheckFailed"]),
            ReleaseRefusal::Floors(vec!["limit#t".into(), "limit#*".into()])
        );
        assert_eq!(refusal(&["TransactionConflict", "None", "None"]), ReleaseRefusal::Conflict);
        assert_eq!(refusal(&["ValidationError", "None", "None"]), ReleaseRefusal::Other);
    }

    #[test]
    fn a_new_record_is_submitted_or_queued_and_holds_no_slot() {
        let job = Job::submitted("j".into(), "t".into(), None, "f".into(), Default::default(), None, None, now(), 1);
        assert!(check_new_record(&job).is_ok());
        let queued = job.clone().queued("t");
        assert!(check_new_record(&queued).is_ok());
        assert_eq!(queued.queue_order.as_deref(), Some("2026-01-02T03:04:05.006Z#j"));
        assert_eq!((queued.status, queued.lease_until), (JobStatus::Queued, None));
        let mut bad = queued.clone();
        bad.queue_key = None;
        assert!(check_new_record(&bad).is_err(), "a queued job without its queue key would never be admitted");
        let mut bad = job.clone();
        bad.queue_key = Some("t".into());
        assert!(check_new_record(&bad).is_err());
        let mut bad = queued;
        bad.slot = Some(1);
        assert!(check_new_record(&bad).is_err(), "a slot is only taken by Admit");
        let mut bad = job;
        bad.status = JobStatus::Running;
        assert!(check_new_record(&bad).is_err());
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
        u.add(&mut e, "running", 1);
        assert_eq!(u.expression(), "SET #status = :v0 REMOVE #exitCode ADD #running :v1");
        let (names, values) = e.values();
        assert_eq!(names.get("#status").map(String::as_str), Some("status"));
        assert_eq!(values.map(|v| v.len()), Some(2));
        let token = encode_page(&HashMap::from([("jobId".to_string(), s("a"))]));
        assert_eq!(decode_page(&token).ok(), Some(HashMap::from([("jobId".to_string(), s("a"))])));
        assert!(decode_page("%%%").is_err());
    }
}
