//! Clusters (`templates/clusters.yaml.j2`): the ones the stack creates, and how every cluster,
//! created or existing, appears in the rule's pattern, create-job's policy and the launch table.

use jobgen_runtime::contract::outputs;
use serde::Serialize;
use serde_json::{Value, json};

use super::shapes::{get_att, local_arn, sub};
use super::suppressions::{self, Suppressions};
use crate::config::Config;
use crate::diagnostics::Diagnostic;
use crate::names;

/// A cluster the stack creates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// Its name under `clusters` in the config.
    #[serde(skip)]
    pub config_name: String,
    /// Logical ID.
    pub id: String,
    /// `ClusterName`.
    pub name: String,
    /// Capacity provider names.
    pub capacity_providers: Vec<&'static str>,
    /// The default strategy's provider (FARGATE when attached, else the first).
    pub default_provider: &'static str,
    /// Container Insights on.
    pub container_insights: bool,
    /// Output name of its ARN.
    pub output: String,
    /// Scanner suppressions.
    pub suppressions: Suppressions,
}

/// How a cluster (created or existing) appears in the rule, the IAM policy and the launch table.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterRef {
    /// Config name.
    pub name: String,
    /// Its logical ID when the stack creates it.
    pub id: Option<String>,
    /// ARN as an intrinsic value (GetAtt for created clusters).
    pub arn: Value,
    /// ARN as an `Fn::Sub` template using pseudo parameters only.
    pub arn_template: String,
    /// ARN pattern of every task in the cluster (`…:task/CLUSTER_NAME/*`), as an intrinsic value.
    pub task_arns: Value,
    /// ARN pattern of every container instance in the cluster (`…:container-instance/CLUSTER_NAME/*`),
    /// as an intrinsic value: the resource IAM authorizes `ecs:ListTasks` on.
    pub container_instance_arns: Value,
    /// What create-job passes as `cluster`: the cluster's name or ARN, known at synth time.
    pub launch_value: String,
}

/// The logical ID of the cluster named `name` in the config.
pub fn cluster_id(name: &str) -> String {
    format!("Cluster{}", names::logical_id_part(name))
}

/// The clusters the stack creates, and how every cluster (created or existing) is referenced, in
/// config order.
pub fn clusters(config: &Config, diags: &mut Vec<Diagnostic>) -> (Vec<Cluster>, Vec<ClusterRef>) {
    let project = config.project.name.as_str();
    let mut clusters = Vec::new();
    let mut refs: Vec<ClusterRef> = Vec::new();
    for (name, c) in &config.clusters {
        let id = cluster_id(name);
        if let Some(create) = &c.create {
            let physical = names::cluster(project, name);
            let mut providers: Vec<&'static str> = Vec::new();
            for p in &create.capacity_providers {
                if !providers.contains(&p.provider_name()) {
                    providers.push(p.provider_name());
                }
            }
            let default_provider = if providers.contains(&"FARGATE") {
                "FARGATE"
            } else {
                providers.first().copied().unwrap_or("FARGATE")
            };
            let mut cluster_suppressions = Suppressions::default();
            if !create.container_insights {
                cluster_suppressions.push(suppressions::CLUSTER_NO_INSIGHTS.here(Some(format!(
                    "Container Insights is off because clusters.{name}.create.container_insights is false"
                ))));
            }
            refs.push(ClusterRef {
                name: name.clone(),
                id: Some(id.clone()),
                arn: get_att(&id, "Arn"),
                arn_template: local_arn("ecs", &format!("cluster/{physical}")),
                task_arns: sub(&local_arn("ecs", &format!("task/{physical}/*"))),
                container_instance_arns: sub(&local_arn("ecs", &format!("container-instance/{physical}/*"))),
                launch_value: physical.clone(),
            });
            clusters.push(Cluster {
                config_name: name.clone(),
                output: outputs::cluster_arn(&id),
                id,
                name: physical,
                capacity_providers: providers,
                default_provider,
                container_insights: create.container_insights,
                suppressions: cluster_suppressions,
            });
        } else if let Some(existing) = &c.existing {
            let (arn, arn_template, task_arns, container_instance_arns) = if existing.starts_with("arn:") {
                // Validation admits only `arn:…:cluster/NAME`; a task ARN is `arn:…:task/NAME/ID`,
                // a container instance's `arn:…:container-instance/NAME/ID`.
                let in_cluster = |kind: &str| match existing.rsplit_once(":cluster/") {
                    Some((prefix, cluster)) => format!("{prefix}:{kind}/{cluster}/*"),
                    None => format!("{existing}/*"),
                };
                (json!(existing), existing.clone(), json!(in_cluster("task")), json!(in_cluster("container-instance")))
            } else {
                let t = local_arn("ecs", &format!("cluster/{existing}"));
                (
                    sub(&t),
                    t,
                    sub(&local_arn("ecs", &format!("task/{existing}/*"))),
                    sub(&local_arn("ecs", &format!("container-instance/{existing}/*"))),
                )
            };
            refs.push(ClusterRef {
                name: name.clone(),
                id: None,
                arn,
                arn_template,
                task_arns,
                container_instance_arns,
                launch_value: existing.clone(),
            });
        } else {
            diags.push(Diagnostic::new(
                format!("clusters.{name}"),
                "the cluster has neither `create` nor `existing`",
                "add `create: {}` to create it, or `existing: NAME_OR_ARN` to use one",
            ));
        }
    }
    (clusters, refs)
}
