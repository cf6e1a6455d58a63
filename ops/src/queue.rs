//! Where a QUEUED job stands: its position in its queue and an estimated start time, for
//! `jobgen status`. Both are estimates by nature: the `byQueue` index is eventually consistent, an
//! admitted job stays in it until its launch is recorded, and the start time assumes jobs keep
//! finishing at the rate they did in the last hour.
//!
//! Reads: the position is a COUNT Query of the job's queue below its `queueOrder`, paged to the
//! end (no items returned); the rate counts, among the type's newest [`RATE_SAMPLE`] jobs created
//! in the last [`RATE_LOOKBACK_CREATED`], those whose current attempt stopped in the last
//! [`RATE_WINDOW`] (the listing `jobgen list --type` reads).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use chrono::{DateTime, Duration, Utc};
use jobgen_runtime::contract;
use jobgen_runtime::job::{Job, JobStatus, format_ts};
use serde_json::{Value, json};

use crate::{Ops, OpsError, aws_error};

/// The window of recent completions the start estimate is based on.
pub const RATE_WINDOW: Duration = Duration::hours(1);

/// How far back (by `createdAt`) completions are looked for: a job created earlier that stopped in
/// the last hour is not counted, which only makes the estimate more cautious.
pub const RATE_LOOKBACK_CREATED: Duration = Duration::days(1);

/// How many of the type's newest jobs the rate is counted from, at most (each is one record read):
/// a type finishing more than this many an hour is estimated at this rate, a cautious estimate.
pub const RATE_SAMPLE: usize = 500;

/// A QUEUED job's place and estimated start.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEstimate {
    /// The queue (`queueKey`: the job type, or `*` for the project's queue).
    pub queue_key: String,
    /// 1 = the next job admitted.
    pub position: u64,
    /// Jobs of the type whose attempt stopped in the last hour.
    pub completions_last_hour: u64,
    /// When it may start: `None` when no job of its type stopped in the last hour.
    pub estimated_start_at: Option<DateTime<Utc>>,
}

impl QueueEstimate {
    /// The members `jobgen status --output json` adds to a queued job's record.
    pub fn to_json(&self) -> Value {
        json!({
            "queuePosition": self.position,
            "estimatedStartAt": self.estimated_start_at.as_ref().map(format_ts),
            "completionsLastHour": self.completions_last_hour,
            "estimate": "queuePosition and estimatedStartAt are estimates: from the queue index and the \
                         rate at which jobs of this type stopped in the last hour",
        })
    }
}

/// The estimated start of the job at `position` when `completions` jobs of its type stopped in the
/// last [`RATE_WINDOW`]: now + position / (completions per minute); `None` without completions.
pub fn estimate_start(now: DateTime<Utc>, position: u64, completions: u64) -> Option<DateTime<Utc>> {
    if completions == 0 {
        return None;
    }
    let per_minute = completions as f64 / RATE_WINDOW.num_minutes() as f64;
    let minutes = position as f64 / per_minute;
    Some(now + Duration::milliseconds((minutes * 60_000.0).round() as i64))
}

impl Ops {
    /// The queue position and start estimate of `job`; `None` unless it is QUEUED with its queue
    /// attributes.
    pub async fn queue_estimate(&self, job: &Job, now: DateTime<Utc>) -> Result<Option<QueueEstimate>, OpsError> {
        let (JobStatus::Queued, Some(key), Some(order)) = (job.status, &job.queue_key, &job.queue_order) else {
            return Ok(None);
        };
        let ahead = self
            .count(
                contract::INDEX_BY_QUEUE,
                "#k = :k AND #o < :o".to_string(),
                HashMap::from([("#k", contract::QUEUE_KEY_ATTR), ("#o", contract::QUEUE_ORDER_ATTR)]),
                HashMap::from([(":k", key.as_str()), (":o", order.as_str())]),
            )
            .await?;
        // The type's newest jobs of the last day, read by key: how many stopped in the last hour.
        let recent = self.list(None, Some(&job.job_type), Some(now - RATE_LOOKBACK_CREATED), RATE_SAMPLE).await?;
        let completions =
            recent.iter().filter(|j| j.attempt.stopped_at.is_some_and(|t| t >= now - RATE_WINDOW)).count() as u64;
        let position = ahead + 1;
        Ok(Some(QueueEstimate {
            queue_key: key.clone(),
            position,
            completions_last_hour: completions,
            estimated_start_at: estimate_start(now, position, completions),
        }))
    }

    /// A COUNT Query of `index` (string values only), paged to the end.
    async fn count(
        &self,
        index: &str,
        key_condition: String,
        names: HashMap<&str, &str>,
        values: HashMap<&str, &str>,
    ) -> Result<u64, OpsError> {
        let names: HashMap<String, String> = names.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let values: HashMap<String, AttributeValue> =
            values.into_iter().map(|(k, v)| (k.into(), AttributeValue::S(v.into()))).collect();
        let mut total = 0u64;
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .store
                .client()
                .query()
                .table_name(self.store.table())
                .index_name(index)
                .key_condition_expression(&key_condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| OpsError::Aws { operation: format!("Query ({index}, count)"), message: aws_error(&e) })?;
            total += u64::try_from(out.count()).unwrap_or(0);
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(total),
            }
        }
    }
}

/// One queue as the dashboard's queue view shows it: the slots held against its limit and the
/// jobs waiting, in the order they will start.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueView {
    /// The queue (`queueKey`: a job type, or `*` for the project's queue).
    pub queue_key: String,
    /// Slots held now (the counter item; `None` before any admission).
    pub running: Option<i64>,
    /// Its limit, when the caller knows it (from the project's jobgen.yaml).
    pub limit: Option<u32>,
    /// The queued jobs, first to start first (admitted ones whose launch is not recorded yet
    /// included, as the index still lists them).
    pub queued: Vec<Job>,
    /// Whether more jobs wait than `queued` holds.
    pub more: bool,
}

impl Ops {
    /// Each of `queues` (key and limit): its counter (1 GetItem) and its first `per_queue`
    /// waiting jobs (one Query of `byQueue` in start order, then the records by key).
    pub async fn queues(&self, queues: &[(String, Option<u32>)], per_queue: usize) -> Result<Vec<QueueView>, OpsError> {
        let mut views = Vec::new();
        for (key, limit) in queues {
            let running = self
                .store
                .counter(&contract::limit_item_key(key))
                .await
                .map_err(|e| OpsError::Aws { operation: "GetItem (counter)".into(), message: e.to_string() })?;
            let page = self
                .store
                .queue_page(key, i32::try_from(per_queue.clamp(1, 100)).unwrap_or(100), None)
                .await
                .map_err(|e| OpsError::Aws { operation: "Query (byQueue)".into(), message: e.to_string() })?;
            let ids: Vec<String> = page.entries.into_iter().map(|e| e.job_id).collect();
            let queued = self
                .store
                .get_many(&ids)
                .await
                .map_err(|e| OpsError::Aws { operation: "BatchGetItem".into(), message: e.to_string() })?;
            views.push(QueueView { queue_key: key.clone(), running, limit: *limit, queued, more: page.next.is_some() });
        }
        Ok(views)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_position_over_the_recent_rate() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(estimate_start(now, 3, 0), None, "no completions: unknown");
        // 30 completions in an hour = 0.5 per minute: position 2 starts in 4 minutes.
        assert_eq!(estimate_start(now, 2, 30), Some(now + Duration::minutes(4)));
        // 1 completion an hour: position 1 in an hour.
        assert_eq!(estimate_start(now, 1, 1), Some(now + Duration::hours(1)));
        // 120 an hour (2 a minute): position 1 in 30 s.
        assert_eq!(estimate_start(now, 1, 120), Some(now + Duration::seconds(30)));
        let e = QueueEstimate {
            queue_key: "hello".into(),
            position: 2,
            completions_last_hour: 30,
            estimated_start_at: estimate_start(now, 2, 30),
        };
        let json = e.to_json();
        assert_eq!(json["queuePosition"], 2);
        assert_eq!(json["estimatedStartAt"], "2026-01-01T12:04:00.000Z");
        let unknown = QueueEstimate { estimated_start_at: None, ..e };
        assert_eq!(unknown.to_json()["estimatedStartAt"], Value::Null);
    }
}
