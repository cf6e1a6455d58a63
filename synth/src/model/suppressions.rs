//! The reviewed allow-list of scanner suppressions: every checkov check, AWS CloudFormation Guard
//! rule and cfn-lint rule a synthesized template suppresses, per resource type, each with the
//! reason a reviewer reads. The model writes no suppression that is not one of these entries
//! ([`Suppression::here`]), and `synth/tests/policy.rs` reads every synthesized template and proves
//! both directions: every suppression in a template is an entry of [`SUPPRESSIONS`] on a resource
//! of the entry's type, and every entry is used by some template.
//!
//! A checkov check that an AWS Guard Rules Registry rule also makes
//! (<https://github.com/aws-cloudformation/aws-guard-rules-registry>) names that rule in
//! [`Suppression::guard`]; the resource then carries `Metadata.guard.SuppressedRules` next to its
//! checkov skip, so Guard-based gates (cfn-guard with the registry's rule sets, Control Tower
//! proactive controls) accept what checkov accepts, for the same reason. Checks with no registry
//! rule (CKV_AWS_173, CKV_AWS_338, CKV_AWS_65, CKV_AWS_336) have none.

use serde::Serialize;
use serde::ser::SerializeMap;

/// The scanner whose check an entry suppresses, and so where the suppression is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scanner {
    /// `Metadata.checkov.skip` (with the Guard rule, if any, in `Metadata.guard.SuppressedRules`).
    Checkov,
    /// `Metadata.guard.SuppressedRules` only: a Guard rule with no checkov counterpart.
    Guard,
    /// `Metadata.cfn-lint.config.ignore_checks`.
    CfnLint,
}

/// One allowed suppression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppression {
    /// The CloudFormation resource type it may appear on.
    pub resource_type: &'static str,
    /// Whose check it is.
    pub scanner: Scanner,
    /// The check's id (`CKV_AWS_116`, a Guard rule name, `W3002`).
    pub id: &'static str,
    /// For a checkov check: the AWS Guard Rules Registry rule that checks the same, suppressed
    /// alongside. `None` where the registry has none.
    pub guard: Option<&'static str>,
    /// Why the check does not apply to jobgen's stack.
    pub reason: &'static str,
}

impl Suppression {
    /// This suppression on one resource, with what is particular to it (`context`, written before
    /// the reason: "retention is 14 days as set by ..."), or the reason alone.
    pub fn here(&'static self, context: Option<String>) -> Suppressed {
        Suppressed { entry: self, context }
    }

    /// The comment a template carries: the context, then the reason.
    pub fn comment(&self, context: Option<&str>) -> String {
        match context {
            Some(c) => format!("{c}: {}", self.reason),
            None => self.reason.to_string(),
        }
    }
}

/// A suppression on one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppressed {
    /// The allow-list entry.
    pub entry: &'static Suppression,
    /// What is particular to this resource.
    pub context: Option<String>,
}

/// The suppressions of one resource, serialized for `macros.yaml.j2`'s `metadata` macro as
/// `{any, checkov: [{id, comment}], guard: [rule], cfn_lint: [{id, comment}]}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Suppressions(pub Vec<Suppressed>);

impl Suppressions {
    /// The suppressions of a resource.
    pub fn of(list: Vec<Suppressed>) -> Self {
        Suppressions(list)
    }

    /// Adds one.
    pub fn push(&mut self, s: Suppressed) {
        self.0.push(s);
    }
}

#[derive(Serialize)]
struct IdComment {
    id: &'static str,
    comment: String,
}

impl Serialize for Suppressions {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let of = |scanner: Scanner| -> Vec<IdComment> {
            self.0
                .iter()
                .filter(|s| s.entry.scanner == scanner)
                .map(|s| IdComment { id: s.entry.id, comment: s.entry.comment(s.context.as_deref()) })
                .collect()
        };
        let guard: Vec<&str> = self
            .0
            .iter()
            .filter_map(|s| match s.entry.scanner {
                Scanner::Guard => Some(s.entry.id),
                _ => s.entry.guard,
            })
            .collect();
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("any", &!self.0.is_empty())?;
        map.serialize_entry("checkov", &of(Scanner::Checkov))?;
        map.serialize_entry("guard", &guard)?;
        map.serialize_entry("cfn_lint", &of(Scanner::CfnLint))?;
        map.end()
    }
}

const LOG_GROUP: &str = "AWS::Logs::LogGroup";
const FUNCTION: &str = "AWS::Lambda::Function";

/// A log group without a customer managed KMS key.
pub const LOG_GROUP_SERVICE_KEY: Suppression = Suppression {
    resource_type: LOG_GROUP,
    scanner: Scanner::Checkov,
    id: "CKV_AWS_158",
    guard: Some("CLOUDWATCH_LOG_GROUP_ENCRYPTED"),
    reason: "encrypted at rest by CloudWatch Logs' service key; a customer managed key would need a key policy for the logs service principal and adds cost without protecting against any reader the IAM policy admits",
};

/// A log group kept less than a year (the retention the project set).
pub const LOG_GROUP_SHORT_RETENTION: Suppression = Suppression {
    resource_type: LOG_GROUP,
    scanner: Scanner::Checkov,
    id: "CKV_AWS_338",
    // The registry's CW_LOGGROUP_RETENTION_PERIOD_CHECK only requires a retention to be set, which
    // every jobgen log group has.
    guard: None,
    reason: "a year of logs is a cost the project chooses, and the job records in the jobs table outlive the logs",
};

/// A function outside a VPC.
pub const FUNCTION_NO_VPC: Suppression = Suppression {
    resource_type: FUNCTION,
    scanner: Scanner::Checkov,
    id: "CKV_AWS_117",
    guard: Some("LAMBDA_INSIDE_VPC"),
    reason: "the function calls only AWS APIs (DynamoDB, ECS); a VPC would add NAT or endpoint costs and cold-start latency without isolating anything",
};

/// A function environment without a customer managed KMS key.
pub const FUNCTION_ENVIRONMENT_SERVICE_KEY: Suppression = Suppression {
    resource_type: FUNCTION,
    scanner: Scanner::Checkov,
    id: "CKV_AWS_173",
    guard: None,
    reason: "the environment holds the table name, the project name, the retention, the configuration document's hash and the timers' schedule group name and role, function and queue ARNs, no secrets; Lambda encrypts it at rest with its service key",
};

/// checkov's hard-coded-secret check on a function's environment. It scores values by entropy, and
/// the configuration document's SHA-256 (64 hex digits) is high-entropy by design; the same template
/// was flagged in one checkout and not in another, so the check is suppressed on every function
/// rather than left to chance. The environment holds no secret (see CKV_AWS_173's reason).
pub const FUNCTION_ENVIRONMENT_HASH_IS_NOT_A_SECRET: Suppression = Suppression {
    resource_type: FUNCTION,
    scanner: Scanner::Checkov,
    id: "CKV_AWS_45",
    guard: None,
    reason: "JOBGEN_CONFIG_SHA256 is the SHA-256 of the public configuration document, high-entropy by design, not a credential; the other variables are the table name, the project name, the retention and the timers' schedule group name and ARNs",
};

/// A function without reserved concurrency (`lambda.reserved_concurrency` unset).
pub const FUNCTION_UNRESERVED_CONCURRENCY: Suppression = Suppression {
    resource_type: FUNCTION,
    scanner: Scanner::Checkov,
    id: "CKV_AWS_115",
    guard: Some("LAMBDA_CONCURRENCY_CHECK"),
    reason: "reserved concurrency is left to the account because lambda.reserved_concurrency is not set in jobgen.yaml: reserving it fails deployment in accounts with a low concurrency quota, and the function's work is bounded by ECS RunTask limits",
};

/// create-job has no dead-letter queue.
pub const FUNCTION_SYNCHRONOUS_NO_DLQ: Suppression = Suppression {
    resource_type: FUNCTION,
    scanner: Scanner::Checkov,
    id: "CKV_AWS_116",
    guard: Some("LAMBDA_DLQ_CHECK"),
    reason: "create-job is invoked synchronously (direct invoke or function URL) and returns its error to the caller; a dead-letter queue only applies to asynchronous invocations",
};

/// A function's `Code` is a local path.
pub const FUNCTION_LOCAL_CODE: Suppression = Suppression {
    resource_type: FUNCTION,
    scanner: Scanner::CfnLint,
    id: "W3002",
    guard: None,
    reason: "Code is the local zip `make package` builds; `aws cloudformation package` uploads it and rewrites Code to S3Bucket/S3Key (see the example READMEs)",
};

/// The config layer's `Content` is a local path.
pub const LAYER_LOCAL_CONTENT: Suppression = Suppression {
    resource_type: "AWS::Lambda::LayerVersion",
    scanner: Scanner::CfnLint,
    id: "W3002",
    guard: None,
    reason: "Content is the jobgen-config directory `jobgen synth` writes beside the template; `aws cloudformation package` zips and uploads it and rewrites Content to S3Bucket/S3Key",
};

/// A nested stack's `TemplateURL` is a local path.
pub const NESTED_STACK_LOCAL_TEMPLATE: Suppression = Suppression {
    resource_type: "AWS::CloudFormation::Stack",
    scanner: Scanner::CfnLint,
    id: "W3002",
    guard: None,
    reason: "TemplateURL is the nested template `jobgen synth` writes under stacks/ beside this one; `aws cloudformation package` (or `jobgen deploy`) uploads it and rewrites TemplateURL to its S3 URL",
};

/// A dead-letter queue with SQS-managed encryption.
pub const QUEUE_SQS_MANAGED_SSE: Suppression = Suppression {
    resource_type: "AWS::SQS::Queue",
    scanner: Scanner::Checkov,
    id: "CKV_AWS_27",
    guard: Some("SQS_QUEUE_KMS_MASTER_KEY_ID_RULE"),
    reason: "the queue is encrypted at rest with SQS-managed SSE (SqsManagedSseEnabled), which checkov does not recognize; the AWS managed aws/sqs KMS key would break delivery because EventBridge cannot be granted use of it, and a customer managed key adds a key policy and cost for messages that only hold task state events",
};

/// The jobs table with the AWS managed DynamoDB key.
pub const TABLE_AWS_MANAGED_KEY: Suppression = Suppression {
    resource_type: "AWS::DynamoDB::Table",
    scanner: Scanner::Checkov,
    id: "CKV_AWS_119",
    guard: Some("DYNAMODB_TABLE_ENCRYPTED_KMS"),
    reason: "the table is encrypted at rest with the AWS managed DynamoDB KMS key (SSESpecification); a customer managed key adds a key policy to maintain and per-request KMS cost for job records that hold no secrets",
};

/// The jobs table without point-in-time recovery (the project turned it off).
pub const TABLE_NO_PITR: Suppression = Suppression {
    resource_type: "AWS::DynamoDB::Table",
    scanner: Scanner::Checkov,
    id: "CKV_AWS_28",
    guard: Some("DYNAMODB_PITR_ENABLED"),
    reason: "point-in-time recovery is off because table.point_in_time_recovery is false in jobgen.yaml",
};

/// A cluster without Container Insights (the project's choice).
pub const CLUSTER_NO_INSIGHTS: Suppression = Suppression {
    resource_type: "AWS::ECS::Cluster",
    scanner: Scanner::Checkov,
    id: "CKV_AWS_65",
    guard: None,
    reason: "Container Insights is billed per metric, and job status, timings and exit codes are already recorded in the jobs table",
};

/// A task definition whose container may write its root filesystem.
pub const TASK_WRITABLE_ROOT: Suppression = Suppression {
    resource_type: "AWS::ECS::TaskDefinition",
    scanner: Scanner::Checkov,
    id: "CKV_AWS_336",
    guard: None,
    reason: "the job runs an arbitrary batch image that may write scratch files (ephemeral storage is sized for that); a read-only root filesystem would break such images",
};

/// Every entry: the allow-list the policy test enforces.
pub const SUPPRESSIONS: [&Suppression; 16] = [
    &LOG_GROUP_SERVICE_KEY,
    &LOG_GROUP_SHORT_RETENTION,
    &FUNCTION_NO_VPC,
    &FUNCTION_ENVIRONMENT_SERVICE_KEY,
    &FUNCTION_ENVIRONMENT_HASH_IS_NOT_A_SECRET,
    &FUNCTION_UNRESERVED_CONCURRENCY,
    &FUNCTION_SYNCHRONOUS_NO_DLQ,
    &FUNCTION_LOCAL_CODE,
    &LAYER_LOCAL_CONTENT,
    &NESTED_STACK_LOCAL_TEMPLATE,
    &QUEUE_SQS_MANAGED_SSE,
    &TABLE_AWS_MANAGED_KEY,
    &TABLE_NO_PITR,
    &CLUSTER_NO_INSIGHTS,
    &TASK_WRITABLE_ROOT,
    &ALARM_NO_ACTIONS,
];

/// An alarm without actions (no `alarms.sns_topic_arn`): the registry's rule asks for one.
pub const ALARM_NO_ACTIONS: Suppression = Suppression {
    resource_type: "AWS::CloudWatch::Alarm",
    scanner: Scanner::Guard,
    id: "CLOUDWATCH_ALARM_ACTION_CHECK",
    guard: None,
    reason: "alarms.sns_topic_arn is not set in jobgen.yaml: the alarm shows its state in CloudWatch and notifies no one until a topic is given",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_unique_and_explained() {
        for (i, a) in SUPPRESSIONS.iter().enumerate() {
            assert!(a.reason.split_whitespace().count() >= 8, "{}: {}", a.id, a.reason);
            assert!(
                a.scanner == Scanner::Checkov || a.guard.is_none(),
                "{}: only checkov entries pair a Guard rule",
                a.id
            );
            for b in &SUPPRESSIONS[i + 1..] {
                assert!((a.resource_type, a.id) != (b.resource_type, b.id), "{} twice on {}", a.id, a.resource_type);
            }
        }
    }

    #[test]
    fn a_resource_serializes_its_suppressions_by_scanner() {
        let s = Suppressions::of(vec![
            FUNCTION_NO_VPC.here(None),
            FUNCTION_ENVIRONMENT_SERVICE_KEY.here(None),
            FUNCTION_LOCAL_CODE.here(None),
        ]);
        let v = serde_json::to_value(&s).unwrap_or_default();
        assert_eq!(v["any"], true);
        assert_eq!(v["checkov"][0]["id"], "CKV_AWS_117");
        assert_eq!(v["checkov"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["guard"], serde_json::json!(["LAMBDA_INSIDE_VPC"]));
        assert_eq!(v["cfn_lint"][0]["id"], "W3002");
        let alarm = serde_json::to_value(Suppressions::of(vec![ALARM_NO_ACTIONS.here(None)])).unwrap_or_default();
        assert_eq!(alarm["guard"], serde_json::json!(["CLOUDWATCH_ALARM_ACTION_CHECK"]));
        assert_eq!(alarm["checkov"], serde_json::json!([]));
        assert_eq!(serde_json::to_value(Suppressions::default()).unwrap_or_default()["any"], false);
        assert_eq!(
            LOG_GROUP_SHORT_RETENTION.comment(Some("retention is 14 days")),
            format!("retention is 14 days: {}", LOG_GROUP_SHORT_RETENTION.reason)
        );
    }
}
