//! The template's `Rules` (`templates/stack.yaml.j2`): ARNs the project names that only work in
//! the stack's own region or account, asserted at deploy time, so a stack deployed into the wrong
//! region or account fails validation before CloudFormation creates anything instead of at the
//! first RunTask.
//!
//! | ARN | must match the stack's | why |
//! |---|---|---|
//! | `clusters.NAME.existing` | region and account | ECS runs tasks only on a cluster of the caller's region and account |
//! | `job_types.NAME.task_definition.name` | region and account | RunTask takes a task definition of its own region and account |
//! | `task_definition.task_role_arn`, `execution_role_arn` | account | an ECS task's roles are of its own account (IAM ARNs have no region) |
//! | `alarms.sns_topic_arn` | region | a CloudWatch alarm's SNS action is a topic of the alarm's region (a topic of another account works with its topic policy) |
//!
//! Not asserted: secrets (ECS reads an SSM parameter of another region by its full ARN, and a
//! Secrets Manager secret of another account with its resource policy), ECR images (pulls across
//! regions and accounts work with the repository's policy), and the task roles' own statements.
//!
//! Every ARN is a literal known at synth time, so its region and account are split here and the
//! assertion compares the literal with the pseudo parameter (`Fn::Equals` with `Ref`
//! `AWS::Region` / `AWS::AccountId`): `Fn::Select` and `Fn::Split` are not among the rule functions
//! (<https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html>).

use serde::Serialize;
use serde_json::{Value, json};

use crate::config::Config;

/// One rule: its assertions hold, or CloudFormation refuses the stack operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateRule {
    /// Logical name.
    pub id: &'static str,
    /// `Assertions`.
    pub assertions: Vec<Assertion>,
}

/// One assertion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assertion {
    /// `Assert`: a rule function that is true or false.
    #[serde(rename = "assert")]
    pub condition: Value,
    /// `AssertDescription`: what is wrong and how to fix it.
    pub description: String,
}

/// The region and account fields of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:…`).
fn region_and_account(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, _, region, account) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some((region, account))
}

/// Asserts what ARN `arn` at `path` needs; `region` and `account` say which parts must match.
fn assert_arn(out: &mut Rules, path: &str, arn: &str, region: bool, account: bool, why: &str) {
    let Some((arn_region, arn_account)) = region_and_account(arn) else { return };
    if region && !arn_region.is_empty() {
        out.region.push(Assertion {
            condition: json!({ "Fn::Equals": [arn_region, { "Ref": "AWS::Region" }] }),
            description: format!(
                "{path} is in region {arn_region}, and {why}: deploy the stack in {arn_region}, or name one in this region"
            ),
        });
    }
    if account && !arn_account.is_empty() {
        out.account.push(Assertion {
            condition: json!({ "Fn::Equals": [arn_account, { "Ref": "AWS::AccountId" }] }),
            description: format!(
                "{path} is in account {arn_account}, and {why}: deploy the stack in account {arn_account}, or name one in this account"
            ),
        });
    }
}

#[derive(Default)]
struct Rules {
    region: Vec<Assertion>,
    account: Vec<Assertion>,
}

/// The rules of a project (none when it names no such ARN).
pub fn rules(config: &Config) -> Vec<TemplateRule> {
    let mut out = Rules::default();
    for (name, cluster) in &config.clusters {
        if let Some(arn) = cluster.existing.as_deref().filter(|e| e.starts_with("arn:")) {
            let why = "ECS runs tasks only on a cluster of the stack's region and account";
            assert_arn(&mut out, &format!("clusters.{name}.existing"), arn, true, true, why);
        }
    }
    for (name, jt) in &config.job_types {
        let Some(td) = &jt.task_definition else { continue };
        let path = format!("job_types.{name}.task_definition");
        if td.name.starts_with("arn:") {
            let why = "RunTask runs only a task definition of the stack's region and account";
            assert_arn(&mut out, &format!("{path}.name"), &td.name, true, true, why);
        }
        for (key, arn) in [("task_role_arn", &td.task_role_arn), ("execution_role_arn", &td.execution_role_arn)] {
            if let Some(arn) = arn {
                let why = "an ECS task's roles are of the task's account";
                assert_arn(&mut out, &format!("{path}.{key}"), arn, false, true, why);
            }
        }
    }
    if let Some(arn) = &config.alarms.sns_topic_arn {
        let why = "a CloudWatch alarm notifies a topic of its own region";
        assert_arn(&mut out, "alarms.sns_topic_arn", arn, true, false, why);
    }
    let mut rules = Vec::new();
    if !out.region.is_empty() {
        rules.push(TemplateRule { id: "ArnsInTheStacksRegion", assertions: out.region });
    }
    if !out.account.is_empty() {
        rules.push(TemplateRule { id: "ArnsInTheStacksAccount", assertions: out.account });
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_split_into_region_and_account() {
        assert_eq!(
            region_and_account("arn:aws:ecs:eu-west-1:123456789012:cluster/shared"),
            Some(("eu-west-1", "123456789012"))
        );
        assert_eq!(region_and_account("arn:aws:iam::123456789012:role/x"), Some(("", "123456789012")));
        assert_eq!(region_and_account("shared"), None);
    }

    #[test]
    fn each_arn_asserts_what_it_needs() {
        let mut out = Rules::default();
        assert_arn(
            &mut out,
            "clusters.shared.existing",
            "arn:aws:ecs:eu-west-1:123456789012:cluster/s",
            true,
            true,
            "w",
        );
        assert_arn(&mut out, "r", "arn:aws:iam::123456789012:role/x", false, true, "w");
        assert_eq!(out.region.len(), 1);
        assert_eq!(out.account.len(), 2);
        assert_eq!(out.region[0].condition, json!({"Fn::Equals": ["eu-west-1", {"Ref": "AWS::Region"}]}));
        assert_eq!(out.account[1].condition, json!({"Fn::Equals": ["123456789012", {"Ref": "AWS::AccountId"}]}));
        assert!(out.region[0].description.starts_with("clusters.shared.existing is in region eu-west-1"));
    }
}
