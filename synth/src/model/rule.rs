//! The task state rule (`templates/rule.yaml.j2`): the EventBridge rule that routes this project's
//! task state changes to track, its target settings, dead-letter queue and permissions.

use jobgen_runtime::contract;
use serde::Serialize;
use serde_json::{Value, json};

use super::clusters::ClusterRef;
use super::shapes::{Queue, queue_suppressions};
use crate::config::Config;
use crate::names;

/// The ECS task statuses the rule forwards to track: RUNNING (the job started) and STOPPED (the
/// event carries every timestamp, the exit code and the stop reason). PROVISIONING/PENDING and the
/// deprovisioning states add nothing the job record needs, and each would cost an invocation.
pub const TRACKED_STATUSES: [&str; 2] = ["RUNNING", "STOPPED"];

/// The EventBridge rule, its target settings and dead-letter queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// Logical ID.
    pub id: String,
    /// `Name`.
    pub name: String,
    /// `Description`.
    pub description: String,
    /// `EventPattern`, with intrinsics for cluster ARNs.
    pub pattern: Value,
    /// The target's id.
    pub target_id: &'static str,
    /// Target retry policy: attempts.
    pub max_retry_attempts: u32,
    /// Target retry policy: maximum event age.
    pub max_event_age_seconds: u32,
    /// The queue for undeliverable events.
    pub dlq: Queue,
    /// Logical ID of the queue policy that lets EventBridge write to the DLQ.
    pub dlq_policy_id: String,
    /// Logical ID of the permission that lets EventBridge invoke track.
    pub permission_id: String,
    /// Cluster ARN templates (`Fn::Sub` syntax, pseudo parameters only) in pattern order, for
    /// [`Rule::concrete_pattern`].
    #[serde(skip)]
    pub cluster_arn_templates: Vec<String>,
    /// The project's `startedBy`.
    #[serde(skip)]
    pub started_by: String,
}

impl Rule {
    /// The event pattern with every cluster ARN resolved for one account and region (partition
    /// `aws`): what the deployed rule holds, for `jobgen dev` and tests.
    pub fn concrete_pattern(&self, account: &str, region: &str) -> Value {
        let arns: Vec<String> = self
            .cluster_arn_templates
            .iter()
            .map(|t| {
                t.replace("${AWS::Partition}", "aws")
                    .replace("${AWS::Region}", region)
                    .replace("${AWS::AccountId}", account)
            })
            .collect();
        event_pattern(json!(arns), &self.started_by)
    }
}

fn event_pattern(cluster_arns: Value, started_by: &str) -> Value {
    json!({
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {
            "clusterArn": cluster_arns,
            "startedBy": [started_by],
            "lastStatus": TRACKED_STATUSES,
        }
    })
}

/// The rule for a project's clusters (`cluster_refs`, every cluster in config order).
pub fn rule(config: &Config, cluster_refs: &[ClusterRef]) -> Rule {
    let project = config.project.name.as_str();
    let started_by = contract::started_by(project);
    let arns: Vec<Value> = cluster_refs.iter().map(|c| c.arn.clone()).collect();
    Rule {
        id: "TaskStateRule".into(),
        name: names::rule(project),
        description: format!("ECS task state changes of jobs launched by {project}"),
        pattern: event_pattern(json!(arns), &started_by),
        target_id: "track",
        max_retry_attempts: 8,
        max_event_age_seconds: 3600,
        dlq: Queue {
            id: "TaskStateRuleDlq".into(),
            name: names::rule_dlq(project),
            purpose: "task state events EventBridge could not deliver to the track function".into(),
            suppressions: queue_suppressions(),
        },
        dlq_policy_id: "TaskStateRuleDlqPolicy".into(),
        permission_id: "TrackInvokePermission".into(),
        cluster_arn_templates: cluster_refs.iter().map(|c| c.arn_template.clone()).collect(),
        started_by,
    }
}
