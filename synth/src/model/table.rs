//! The jobs table (`templates/table.yaml.j2`): key, indexes and TTL from the contract.
//!
//! The queue index ([`contract::INDEX_BY_QUEUE`]) is always there, limits or not: it is sparse
//! (only QUEUED jobs carry its keys), so without limits it holds no item and costs nothing; the
//! runtime can always query it; a limit can be set or removed later without a table update (adding
//! a global secondary index to a table with jobs backfills it, and DynamoDB creates only one per
//! update, which would collide with any other index a later jobgen adds); and jobs still queued
//! when a limit is removed can still be found.

use jobgen_runtime::{contract, progress};
use serde::Serialize;

use super::suppressions::{self, Suppressions};
use crate::config::Config;

/// The jobs table's logical ID.
pub const JOBS_TABLE_ID: &str = "JobsTable";

/// The jobs table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobsTable {
    /// Logical ID.
    pub id: String,
    /// Partition key attribute.
    pub key_attr: &'static str,
    /// Listing shard attribute (partition key of both listing indexes).
    pub shard_attr: &'static str,
    /// Job type attribute (projected into both listing indexes).
    pub job_type_attr: &'static str,
    /// Creation time attribute (sort key of the index of every job).
    pub created_at_attr: &'static str,
    /// An open job's creation time (sort key of the open jobs' index; absent once closed).
    pub open_since_attr: &'static str,
    /// Index of every job.
    pub index_by_created: &'static str,
    /// Index of the open jobs (sparse).
    pub index_open: &'static str,
    /// Index of queued jobs (sparse: only QUEUED jobs carry its keys).
    pub index_by_queue: &'static str,
    /// Index of progress items by the job they report for (sparse).
    pub index_progress: &'static str,
    /// A progress item's job (progress index partition key).
    pub progress_job_attr: &'static str,
    /// What the progress index projects.
    pub progress_attrs: [&'static str; 3],
    /// The queue a QUEUED job waits in (queue index partition key).
    pub queue_key_attr: &'static str,
    /// A QUEUED job's place in its queue (queue index sort key).
    pub queue_order_attr: &'static str,
    /// TTL attribute.
    pub ttl_attr: &'static str,
    /// Point-in-time recovery on.
    pub point_in_time_recovery: bool,
    /// `DeletionPolicy` and `UpdateReplacePolicy`: `Retain` (`table.retain`) or `Delete`.
    pub deletion_policy: &'static str,
    /// `DeletionProtectionEnabled`.
    pub deletion_protection: bool,
    /// Scanner suppressions.
    pub suppressions: Suppressions,
}

/// The jobs table of a project.
pub fn jobs_table(config: &Config) -> JobsTable {
    let mut table_suppressions = Suppressions::of(vec![suppressions::TABLE_AWS_MANAGED_KEY.here(None)]);
    if !config.table.point_in_time_recovery {
        table_suppressions.push(suppressions::TABLE_NO_PITR.here(None));
    }
    JobsTable {
        id: JOBS_TABLE_ID.into(),
        key_attr: contract::KEY_ATTR,
        shard_attr: contract::SHARD_ATTR,
        job_type_attr: contract::JOB_TYPE_ATTR,
        created_at_attr: contract::CREATED_AT_ATTR,
        open_since_attr: contract::OPEN_SINCE_ATTR,
        index_by_created: contract::INDEX_BY_CREATED,
        index_open: contract::INDEX_OPEN,
        index_by_queue: contract::INDEX_BY_QUEUE,
        index_progress: progress::INDEX_PROGRESS,
        progress_job_attr: progress::JOB_ATTR,
        progress_attrs: [progress::PERCENT_ATTR, progress::MESSAGE_ATTR, progress::SEQ_ATTR],
        queue_key_attr: contract::QUEUE_KEY_ATTR,
        queue_order_attr: contract::QUEUE_ORDER_ATTR,
        ttl_attr: contract::TTL_ATTR,
        point_in_time_recovery: config.table.point_in_time_recovery,
        deletion_policy: if config.table.retain { "Retain" } else { "Delete" },
        deletion_protection: config.table.deletion_protection,
        suppressions: table_suppressions,
    }
}
