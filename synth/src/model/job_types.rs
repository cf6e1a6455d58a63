//! Every job type resolved: its entry in the launch table (the configuration document the config
//! layer ships, with its concurrency limit and the project's, its timeouts and its retry policy
//! with the defaults filled in), the task definition the stack creates for it (if it has `task`),
//! and what the functions must be allowed to run and pass for it.

use std::collections::BTreeSet;

use jobgen_runtime::contract::{self, Capacity, JobTypeEntry, LaunchTable, RetryOn, RetryPolicy};

use super::clusters::ClusterRef;
use super::iam::LaunchGrants;
use super::task_definitions::{TaskDefinition, task_definition};
use crate::config::{Config, DEFAULT_INTERVAL_SECONDS, DEFAULT_MAX_DELAY_SECONDS, DEFAULT_RATE, Retry};
use crate::diagnostics::Diagnostic;

/// What the job types contribute to the stack.
#[derive(Debug, Clone, PartialEq)]
pub struct JobTypes {
    /// The configuration document's content.
    pub launch: LaunchTable,
    /// The task definitions to create.
    pub task_definitions: Vec<TaskDefinition>,
    /// What create-job's policy must allow.
    pub grants: LaunchGrants,
    /// Indexes into the cluster list of clusters some job type runs on.
    pub used_clusters: BTreeSet<usize>,
}

/// Resolves every job type against the clusters (`cluster_refs`, in config order).
pub fn job_types(config: &Config, cluster_refs: &[ClusterRef], diags: &mut Vec<Diagnostic>) -> JobTypes {
    let mut out = JobTypes {
        launch: LaunchTable {
            clusters: cluster_refs.iter().map(|c| c.launch_value.clone()).collect(),
            // The project's limit; `None` writes no key, so a project without limits ships the
            // same document (and hash) as before limits existed.
            max_concurrency: config.limits.max_concurrency,
            ..LaunchTable::default()
        },
        task_definitions: Vec::new(),
        grants: LaunchGrants::default(),
        used_clusters: BTreeSet::new(),
    };

    for (name, jt) in &config.job_types {
        let path = format!("job_types.{name}");
        let cluster_name = jt
            .cluster
            .clone()
            .or_else(|| config.defaults.cluster.clone())
            .or_else(|| if config.clusters.len() == 1 { config.clusters.keys().next().cloned() } else { None });
        let Some(cluster_index) = cluster_name.as_ref().and_then(|n| cluster_refs.iter().position(|c| &c.name == n))
        else {
            diags.push(Diagnostic::new(
                format!("{path}.cluster"),
                "the job type names no cluster that exists",
                "set `cluster:` to one of the names under `clusters`, or set `defaults.cluster`",
            ));
            continue;
        };
        out.used_clusters.insert(cluster_index);
        let Some(network) = jt.network.as_ref().or(config.defaults.network.as_ref()) else {
            diags.push(Diagnostic::new(
                format!("{path}.network"),
                "the job type has no network: Fargate tasks need subnets",
                "set `network.subnets` on the job type or `defaults.network`",
            ));
            continue;
        };
        let net = contract::Network {
            subnets: network.subnets.clone(),
            security_groups: network.security_groups.clone(),
            assign_public_ip: network.assign_public_ip,
        };
        let network_index = match out.launch.networks.iter().position(|n| n == &net) {
            Some(i) => i,
            None => {
                out.launch.networks.push(net);
                out.launch.networks.len() - 1
            }
        };
        let capacity = jt.capacity.or(config.defaults.capacity).unwrap_or(Capacity::Fargate);

        let (task_definition, container, architecture) = match (&jt.task, &jt.task_definition) {
            (Some(task), _) => {
                let td = task_definition(config, name, task);
                out.grants.created(&config.project.name);
                // The family: RunTask uses its latest ACTIVE revision, the one this stack version registered.
                let entry = (td.family.clone(), td.container_name.clone(), task.architecture);
                out.task_definitions.push(td);
                entry
            }
            (None, Some(existing)) => {
                out.grants.existing(existing);
                (existing.name.clone(), existing.container_name.clone(), existing.architecture)
            }
            (None, None) => {
                diags.push(Diagnostic::new(
                    path.clone(),
                    "the job type has neither `task` nor `task_definition`",
                    "add `task:` (image, cpu, memory) or `task_definition:` (an existing one)",
                ));
                continue;
            }
        };
        out.launch.job_types.insert(
            name.clone(),
            JobTypeEntry {
                task_definition,
                cluster: cluster_index,
                network: network_index,
                capacity,
                container,
                architecture,
                max_concurrency: jt.max_concurrency,
                allow_command_override: jt.allow_command_override,
                allowed_environment: jt.allowed_environment.clone(),
                // Unset keys write no member, so a project without them ships the same bytes.
                timeout_seconds: jt.timeout.as_ref().and_then(|d| d.seconds()),
                start_timeout_seconds: jt.start_timeout.as_ref().and_then(|d| d.seconds()),
                retry: jt.retry.as_ref().map(retry_policy),
                progress: jt.progress,
            },
        );
    }
    out
}

/// A validated `retry` block as the document's policy, every default filled in (the runtime
/// reads numbers, never jobgen's defaults).
pub fn retry_policy(retry: &Retry) -> RetryPolicy {
    let backoff = retry.backoff.clone().unwrap_or_default();
    RetryPolicy {
        attempts: retry.attempts,
        interval_seconds: backoff.interval.as_ref().and_then(|d| d.seconds()).unwrap_or(DEFAULT_INTERVAL_SECONDS),
        rate: backoff.rate.unwrap_or(DEFAULT_RATE),
        max_delay_seconds: backoff.max_delay.as_ref().and_then(|d| d.seconds()).unwrap_or(DEFAULT_MAX_DELAY_SECONDS),
        on: retry.on.clone().unwrap_or_else(|| RetryOn::DEFAULT.to_vec()),
        spot_fallback: retry.spot_fallback,
    }
}
