//! The stack's outputs (`templates/outputs.yaml.j2`). Their names are the contract's
//! ([`jobgen_runtime::contract::outputs`], re-exported here): the operator commands, `jobgen dev`
//! and users read them with `describe-stacks`.

use serde::Serialize;
use serde_json::Value;

pub use jobgen_runtime::contract::outputs::*;

use super::clusters::{ClusterRef, cluster_id};
use super::shapes::{get_att, r#ref};

/// A stack output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    /// Name (see [`jobgen_runtime::contract::outputs`]).
    pub name: String,
    /// `Description`.
    pub description: String,
    /// `Value` (an intrinsic).
    pub value: Value,
    /// The config path it comes from (`clusters.NAME`), empty for the fixed outputs.
    #[serde(skip)]
    pub source: String,
}

fn out(name: &str, description: &str, value: Value) -> Output {
    Output { name: name.into(), description: description.into(), value, source: String::new() }
}

/// The logical IDs the outputs name.
#[derive(Debug, Clone, Copy)]
pub struct Ids<'a> {
    /// The jobs table.
    pub table: &'a str,
    /// create-job.
    pub create_job: &'a str,
    /// create-job's function URL.
    pub create_job_url: &'a str,
    /// The managed policy a caller of create-job attaches.
    pub create_job_invoke_policy: &'a str,
    /// track.
    pub track: &'a str,
    /// The rule.
    pub rule: &'a str,
    /// The rule's dead-letter queue.
    pub rule_dlq: &'a str,
    /// Track's dead-letter queue.
    pub track_dlq: &'a str,
    /// The schedule group of the project's timers.
    pub schedule_group: &'a str,
}

/// Every output: the fixed ones, then one ARN per cluster (created or existing).
pub fn outputs(ids: Ids<'_>, cluster_refs: &[ClusterRef]) -> Vec<Output> {
    let mut outs = vec![
        out(TABLE_NAME, "The jobs table", r#ref(ids.table)),
        out(TABLE_ARN, "The jobs table's ARN", get_att(ids.table, "Arn")),
        out(CREATE_JOB_FUNCTION_NAME, "The create-job function", r#ref(ids.create_job)),
        out(CREATE_JOB_FUNCTION_ARN, "The create-job function's ARN", get_att(ids.create_job, "Arn")),
        out(
            CREATE_JOB_FUNCTION_URL,
            "The create-job function URL (AWS_IAM auth: sign requests with SigV4; callers need lambda:InvokeFunctionUrl and lambda:InvokeFunction, which the CreateJobInvokePolicyArn policy grants)",
            get_att(ids.create_job_url, "FunctionUrl"),
        ),
        out(
            CREATE_JOB_INVOKE_POLICY_ARN,
            "Managed policy to attach to a caller of create-job (direct invoke and the function URL); a privileged grant: the caller runs the job types with their task roles and secrets",
            r#ref(ids.create_job_invoke_policy),
        ),
        out(TRACK_FUNCTION_NAME, "The track function", r#ref(ids.track)),
        out(TRACK_FUNCTION_ARN, "The track function's ARN", get_att(ids.track, "Arn")),
        out(RULE_NAME, "The EventBridge rule routing task state changes to track", r#ref(ids.rule)),
        out(RULE_ARN, "The EventBridge rule's ARN", get_att(ids.rule, "Arn")),
        out(RULE_DLQ_URL, "Queue of events EventBridge could not deliver to track", r#ref(ids.rule_dlq)),
        out(
            TRACK_DLQ_URL,
            "Queue of events track failed on after retries, and of timers EventBridge Scheduler could not deliver",
            r#ref(ids.track_dlq),
        ),
        out(
            SCHEDULE_GROUP_NAME,
            "The EventBridge Scheduler schedule group of the project's timers (timeouts, start deadlines, retry delays)",
            r#ref(ids.schedule_group),
        ),
    ];
    for c in cluster_refs {
        let mut o = out(&cluster_arn(&cluster_id(&c.name)), &format!("ARN of cluster {}", c.name), c.arn.clone());
        o.source = format!("clusters.{}", c.name);
        outs.push(o);
    }
    outs
}
