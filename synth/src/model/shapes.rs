//! Shapes several resource groups share (the model's side of `templates/macros.yaml.j2`): tags,
//! log groups, queues, and the CloudFormation intrinsics the model writes. Scanner suppressions
//! come from the allow-list in [`super::suppressions`].
//!
//! CloudFormation values that may be intrinsic functions are [`serde_json::Value`]s: a plain string
//! or a long-form intrinsic object (`{"Ref": ..}`, `{"Fn::GetAtt": [..]}`, `{"Fn::Sub": ..}`), which
//! the JSON auto-escaping of the templates prints as valid YAML flow nodes.

use serde::Serialize;
use serde_json::{Value, json};

use super::suppressions::{self, Suppressions};

/// A CloudFormation tag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tag {
    /// Key.
    #[serde(rename = "Key")]
    pub key: String,
    /// Value.
    #[serde(rename = "Value")]
    pub value: String,
}

/// A CloudWatch Logs log group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogGroup {
    /// Logical ID.
    pub id: String,
    /// `LogGroupName`.
    pub name: String,
    /// `RetentionInDays`.
    pub retention_days: u32,
    /// Scanner suppressions.
    pub suppressions: Suppressions,
}

/// An SQS dead-letter queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Queue {
    /// Logical ID.
    pub id: String,
    /// `QueueName`.
    pub name: String,
    /// What lands here.
    pub purpose: String,
    /// Scanner suppressions.
    pub suppressions: Suppressions,
}

/// The suppressions of a dead-letter queue: checkov's and Guard's SQS encryption checks only
/// recognize a KMS key; the queues use SQS-managed SSE.
pub fn queue_suppressions() -> Suppressions {
    Suppressions::of(vec![suppressions::QUEUE_SQS_MANAGED_SSE.here(None)])
}

/// `{"Ref": id}`.
pub fn r#ref(id: &str) -> Value {
    json!({ "Ref": id })
}

/// `{"Fn::GetAtt": [id, attr]}`.
pub fn get_att(id: &str, attr: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attr] })
}

/// `{"Fn::Sub": s}`.
pub fn sub(s: &str) -> Value {
    json!({ "Fn::Sub": s })
}

/// Escapes a literal for an `Fn::Sub` string: `${` would start a variable, `${!` is its escape.
pub fn sub_escape(s: &str) -> String {
    s.replace("${", "${!")
}

/// An ARN in the stack's own account/region/partition, as an `Fn::Sub` template string.
pub fn local_arn(service: &str, resource: &str) -> String {
    format!("arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{}", sub_escape(resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_escape_protects_dollar_braces() {
        assert_eq!(sub_escape("a${b}"), "a${!b}");
        assert_eq!(
            local_arn("ecs", "cluster/x"),
            "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/x"
        );
    }
}
