//! Progress from inside a job: what a task writes, what the operator tools read, and the IAM
//! condition that keeps a task to its own progress.
//!
//! A job type with `progress: true` gets [`TASK_ENV_PROGRESS_TABLE`] in its tasks' environment
//! (the jobs table's name, set by the launch) and, on its task role, UpdateItem on the jobs table
//! for one key only: [`PROGRESS_KEY_PREFIX`] followed by `${aws:userid}`, the caller's role id and
//! role session name, which for an ECS task role session is the task's id. IAM checks that
//! condition (`dynamodb:LeadingKeys`), and the attributes the write may touch
//! (`dynamodb:Attributes`, [`ATTRIBUTES`]), so a task can write no job record, no counter and no
//! other task's progress. The item names the job it reports for ([`JOB_ATTR`], from
//! `JOBGEN_JOB_ID`), which a task could set to any id: readers find a job's progress by that
//! attribute ([`INDEX_PROGRESS`]) and believe only an item whose key's session part is the task id
//! of the job's own attempt ([`belongs_to`]). Each write carries a sequence number that only grows
//! (a condition), so a late write never replaces a newer one, and a TTL.

/// Where a task's progress item's key starts; the rest is the caller's `aws:userid`.
pub const PROGRESS_KEY_PREFIX: &str = "progress#";
/// Global secondary index of progress items by the job they report for (sparse: only progress
/// items carry [`JOB_ATTR`]).
pub const INDEX_PROGRESS: &str = "progress";
/// Attribute (string): the job id a progress item reports for.
pub const JOB_ATTR: &str = "progressJob";
/// Attribute (number): percent done, 0 to 100.
pub const PERCENT_ATTR: &str = "percent";
/// Attribute (string): a short message.
pub const MESSAGE_ATTR: &str = "message";
/// Attribute (number): the writer's sequence number; a write needs a larger one than the item has.
pub const SEQ_ATTR: &str = "seq";
/// Attribute (number): when the item expires (epoch seconds; the table's TTL attribute).
pub const TTL_ATTR: &str = crate::contract::TTL_ATTR;
/// Every attribute a progress write may name (the `dynamodb:Attributes` condition).
pub const ATTRIBUTES: [&str; 6] = [crate::contract::KEY_ATTR, JOB_ATTR, PERCENT_ATTR, MESSAGE_ATTR, SEQ_ATTR, TTL_ATTR];
/// The task variable naming the table to write progress to (job types with `progress: true`).
pub const TASK_ENV_PROGRESS_TABLE: &str = "JOBGEN_PROGRESS_TABLE";
/// Longest message kept, in characters.
pub const MESSAGE_MAX_CHARS: usize = 200;
/// How long a progress item lives, in seconds (a day).
pub const TTL_SECONDS: i64 = 86_400;

/// The IAM `dynamodb:LeadingKeys` value of a task's own progress item.
pub fn leading_key_condition() -> String {
    format!("{PROGRESS_KEY_PREFIX}${{aws:userid}}")
}

/// The key of the progress item of the caller whose `aws:userid` is `user_id` (`AROA…:<task id>`).
pub fn progress_key(user_id: &str) -> String {
    format!("{PROGRESS_KEY_PREFIX}{user_id}")
}

/// Whether a progress item with key `key` was written by the task `task_arn` (its session part,
/// after the last `:`, is the task's id, the last part of its ARN).
pub fn belongs_to(key: &str, task_arn: &str) -> bool {
    let Some(user_id) = key.strip_prefix(PROGRESS_KEY_PREFIX) else { return false };
    let task_id = task_arn.rsplit('/').next().unwrap_or_default();
    !task_id.is_empty() && user_id.rsplit_once(':').is_some_and(|(_, session)| session == task_id)
}

/// A job's progress as its task last reported it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Percent done, 0 to 100.
    pub percent: u8,
    /// The message.
    pub message: String,
    /// The writer's sequence number.
    pub seq: u64,
}

impl Progress {
    /// `40% encoding` as the CLI shows it.
    pub fn line(&self) -> String {
        if self.message.is_empty() {
            format!("{}%", self.percent)
        } else {
            format!("{}% {}", self.percent, self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tasks_own_session_counts() {
        let task = "arn:aws:ecs:us-east-1:123456789012:task/main/0123456789abcdef";
        assert!(belongs_to("progress#AROAEXAMPLE:0123456789abcdef", task));
        assert!(!belongs_to("progress#AROAEXAMPLE:fedcba9876543210", task), "another task's session");
        assert!(!belongs_to("progress#AROAEXAMPLE:0123456789abcdef:x", task));
        assert!(!belongs_to("0123456789abcdef", task), "not a progress key");
        assert!(!belongs_to("progress#AROAEXAMPLE:", "arn:aws:ecs:us-east-1:1:task/main/"));
        assert_eq!(leading_key_condition(), "progress#${aws:userid}");
        assert_eq!(Progress { percent: 40, message: "encoding".into(), seq: 1 }.line(), "40% encoding");
    }
}
