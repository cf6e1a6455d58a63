//! The handlers' configuration, read once at start-up: small fixed-size values from the environment
//! variables the synthesized stack sets, and the stack configuration document (the job-type
//! [`LaunchTable`]) from the config layer, checked against the SHA-256 the environment names (names
//! from [`crate::contract`]).

use crate::contract::{self, ContractError, LaunchTable};

/// Everything both handlers need besides AWS clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// The jobs table.
    pub table_name: String,
    /// The project name (drives `startedBy`).
    pub project: String,
    /// Job types and how to launch them.
    pub launch_table: LaunchTable,
    /// Days a finished job is kept (0 = forever).
    pub retention_days: u32,
    /// Where the handlers arm their one-shot timers; `None` for a stack from before timers (its
    /// handlers arm none, so timeouts and retry backoff do not work there).
    pub timers: Option<TimerSettings>,
}

/// The EventBridge Scheduler settings of the stack's timers ([`contract::TIMER_ENV`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerSettings {
    /// The schedule group ([`contract::schedule_group`]).
    pub group: String,
    /// The role Scheduler assumes to invoke the target.
    pub role_arn: String,
    /// The function a timer invokes (track).
    pub target_arn: String,
    /// Where Scheduler sends an invocation it gave up on.
    pub dlq_arn: String,
}

/// Reads the four timer variables through `lookup`: all set, or none (a stack from before timers).
pub fn timer_settings(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<TimerSettings>, ConfigError> {
    let values: Vec<Option<String>> =
        contract::TIMER_ENV.iter().map(|name| lookup(name).filter(|v| !v.is_empty())).collect();
    match values.as_slice() {
        [Some(group), Some(role_arn), Some(target_arn), Some(dlq_arn)] => Ok(Some(TimerSettings {
            group: group.clone(),
            role_arn: role_arn.clone(),
            target_arn: target_arn.clone(),
            dlq_arn: dlq_arn.clone(),
        })),
        _ if values.iter().all(Option::is_none) => Ok(None),
        _ => {
            let missing = contract::TIMER_ENV.iter().zip(&values).find(|(_, v)| v.is_none()).map(|(n, _)| *n);
            Err(ContractError::MissingEnv(missing.unwrap_or(contract::ENV_SCHEDULE_GROUP)).into())
        }
    }
}

/// A configuration problem found at start-up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// Missing variable, unreadable or mismatched document, or a bad launch table.
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// A variable has a value the runtime cannot use.
    #[error("environment variable {name} is {value:?}: {why}")]
    BadValue {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        why: &'static str,
    },
}

/// Reads [`contract::ENV_RETENTION_DAYS`] through `lookup`: absent or empty is 0 (keep forever).
pub fn retention_days(lookup: impl Fn(&str) -> Option<String>) -> Result<u32, ConfigError> {
    match lookup(contract::ENV_RETENTION_DAYS).filter(|v| !v.is_empty()) {
        None => Ok(0),
        Some(value) => value.trim().parse().map_err(|_| ConfigError::BadValue {
            name: contract::ENV_RETENTION_DAYS,
            value,
            why: "expected a whole number of days (0 keeps jobs forever)",
        }),
    }
}

impl RuntimeConfig {
    /// Reads the configuration from the process environment and the document at
    /// [`contract::CONFIG_FILE`] (or [`contract::ENV_CONFIG_FILE`] when set): one file read, no AWS call.
    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        let path = lookup(contract::ENV_CONFIG_FILE)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| contract::CONFIG_FILE.to_string());
        let document =
            std::fs::read(&path).map_err(|e| ContractError::Unreadable { path: path.clone(), why: e.to_string() })?;
        Self::from_parts(lookup, &document)
    }

    /// Builds the configuration from environment values (through `lookup`: the environment, or a
    /// deployed function's variables in `jobgen dev` and tests) and the document's bytes. The
    /// document must hash to [`contract::ENV_CONFIG_SHA256`]: a layer from another deployment is refused.
    pub fn from_parts(lookup: impl Fn(&str) -> Option<String>, document: &[u8]) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.is_empty()).ok_or(ContractError::MissingEnv(name));
        let table_name = get(contract::ENV_TABLE_NAME)?;
        let project = get(contract::ENV_PROJECT)?;
        let expected = get(contract::ENV_CONFIG_SHA256)?;
        let actual = contract::config_sha256(document);
        if !expected.trim().eq_ignore_ascii_case(&actual) {
            return Err(ContractError::HashMismatch { expected, actual }.into());
        }
        let text = std::str::from_utf8(document).map_err(|e| ContractError::BadJson(e.to_string()))?;
        let launch_table = LaunchTable::from_json(text)?;
        let retention_days = retention_days(&lookup)?;
        let timers = timer_settings(&lookup)?;
        Ok(RuntimeConfig { table_name, project, launch_table, retention_days, timers })
    }

    /// The configuration document this configuration was read from (the same bytes, since the
    /// document is deterministic).
    pub fn document(&self) -> String {
        self.launch_table.to_json()
    }

    /// The environment variables that, with [`RuntimeConfig::document`] at
    /// [`contract::ENV_CONFIG_FILE`], reproduce this configuration (for child processes and tests).
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            (contract::ENV_TABLE_NAME, self.table_name.clone()),
            (contract::ENV_PROJECT, self.project.clone()),
            (contract::ENV_CONFIG_SHA256, contract::config_sha256(self.document().as_bytes())),
            (contract::ENV_RETENTION_DAYS, self.retention_days.to_string()),
        ];
        if let Some(t) = &self.timers {
            env.extend([
                (contract::ENV_SCHEDULE_GROUP, t.group.clone()),
                (contract::ENV_TIMER_ROLE_ARN, t.role_arn.clone()),
                (contract::ENV_TIMER_TARGET_ARN, t.target_arn.clone()),
                (contract::ENV_TIMER_DLQ_ARN, t.dlq_arn.clone()),
            ]);
        }
        env
    }

    /// `startedBy` for this project's tasks.
    pub fn started_by(&self) -> String {
        contract::started_by(&self.project)
    }

    /// TTL (epoch seconds) for a job finished at `now_s`, or `None` when jobs are kept forever.
    pub fn expires_at(&self, now_s: i64) -> Option<i64> {
        (self.retention_days > 0).then(|| now_s + i64::from(self.retention_days) * 86_400)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::contract::Capacity;

    fn sample() -> RuntimeConfig {
        RuntimeConfig {
            table_name: "jobs".into(),
            project: "demo".into(),
            launch_table: contract::sample_table(Capacity::Fargate),
            retention_days: 7,
            timers: Some(TimerSettings {
                group: "jobgen-demo".into(),
                role_arn: "arn:aws:iam::123456789012:role/jobgen/demo/timers".into(),
                target_arn: "arn:aws:lambda:us-east-1:123456789012:function:demo-track".into(),
                dlq_arn: "arn:aws:sqs:us-east-1:123456789012:demo-track-dlq".into(),
            }),
        }
    }

    #[test]
    fn timer_variables_come_all_together_or_not_at_all() {
        let config = sample();
        let env: HashMap<&str, String> = config.to_env().into_iter().collect();
        let document = config.document();
        let without: HashMap<&str, String> =
            env.iter().filter(|(k, _)| !contract::TIMER_ENV.contains(k)).map(|(k, v)| (*k, v.clone())).collect();
        let old = RuntimeConfig::from_parts(|k| without.get(k).cloned(), document.as_bytes()).unwrap();
        assert_eq!(old.timers, None, "a stack from before timers");
        let mut partial = env.clone();
        partial.remove(contract::ENV_TIMER_DLQ_ARN);
        let err = RuntimeConfig::from_parts(|k| partial.get(k).cloned(), document.as_bytes()).unwrap_err();
        assert_eq!(err, ConfigError::Contract(ContractError::MissingEnv(contract::ENV_TIMER_DLQ_ARN)));
    }

    #[test]
    fn reads_and_round_trips_the_environment_and_the_document() {
        let config = sample();
        let env: HashMap<&str, String> = config.to_env().into_iter().collect();
        let document = config.document();
        let again = RuntimeConfig::from_parts(|k| env.get(k).cloned(), document.as_bytes()).unwrap();
        assert_eq!(again, config);
        assert_eq!(again.started_by(), "jobgen/demo");
        assert_eq!(again.expires_at(100), Some(100 + 7 * 86_400));
    }

    #[test]
    fn refuses_a_document_from_another_deployment() {
        let config = sample();
        let env: HashMap<&str, String> = config.to_env().into_iter().collect();
        let mut other = config.launch_table.clone();
        other.clusters[0] = "other".into();
        let err = RuntimeConfig::from_parts(|k| env.get(k).cloned(), other.to_json().as_bytes()).unwrap_err();
        assert!(matches!(err, ConfigError::Contract(ContractError::HashMismatch { .. })), "{err}");
        assert!(err.to_string().contains(contract::ENV_CONFIG_SHA256), "{err}");
    }

    #[test]
    fn names_the_missing_or_bad_variable() {
        let err = RuntimeConfig::from_parts(|_| None, b"{}").unwrap_err();
        assert_eq!(err, ConfigError::Contract(ContractError::MissingEnv(contract::ENV_TABLE_NAME)));
        let document = sample().document();
        let sha = contract::config_sha256(document.as_bytes());
        let err = RuntimeConfig::from_parts(
            |k| match k {
                contract::ENV_CONFIG_SHA256 => Some(sha.clone()),
                contract::ENV_RETENTION_DAYS => Some("a week".into()),
                _ => Some("x".into()),
            },
            document.as_bytes(),
        )
        .unwrap_err();
        assert!(err.to_string().contains(contract::ENV_RETENTION_DAYS), "{err}");
    }
}
