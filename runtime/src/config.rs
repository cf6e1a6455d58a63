//! The handlers' configuration, read once at start-up from the environment variables the
//! synthesized stack sets (names from [`crate::contract`]).

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
}

/// A configuration problem found at start-up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// Missing variable or bad launch table.
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

impl RuntimeConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests and the local
    /// simulator).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.is_empty()).ok_or(ContractError::MissingEnv(name));
        let table_name = get(contract::ENV_TABLE_NAME)?;
        let project = get(contract::ENV_PROJECT)?;
        let launch_table = LaunchTable::from_json(&get(contract::ENV_JOB_TYPES)?)?;
        let retention_days = match lookup(contract::ENV_RETENTION_DAYS).filter(|v| !v.is_empty()) {
            None => 0,
            Some(value) => value.trim().parse().map_err(|_| ConfigError::BadValue {
                name: contract::ENV_RETENTION_DAYS,
                value,
                why: "expected a whole number of days (0 keeps jobs forever)",
            })?,
        };
        Ok(RuntimeConfig { table_name, project, launch_table, retention_days })
    }

    /// The environment variables that produce this configuration (for child processes and tests).
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (contract::ENV_TABLE_NAME, self.table_name.clone()),
            (contract::ENV_PROJECT, self.project.clone()),
            (contract::ENV_JOB_TYPES, self.launch_table.to_json()),
            (contract::ENV_RETENTION_DAYS, self.retention_days.to_string()),
        ]
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

    #[test]
    fn reads_and_round_trips_the_contract_variables() {
        let table = r#"{"c":["main"],"n":[{"s":["subnet-1"],"g":["sg-1"],"p":false}],"j":{"t":{"d":"f:1","c":0,"n":0,"k":"FARGATE","m":"main","a":"X86_64"}}}"#;
        let env: HashMap<&str, String> = HashMap::from([
            (contract::ENV_TABLE_NAME, "jobs".to_string()),
            (contract::ENV_PROJECT, "demo".to_string()),
            (contract::ENV_JOB_TYPES, table.to_string()),
            (contract::ENV_RETENTION_DAYS, "7".to_string()),
        ]);
        let config = RuntimeConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
        assert_eq!(config.retention_days, 7);
        assert_eq!(config.started_by(), "jobgen/demo");
        assert_eq!(config.expires_at(100), Some(100 + 7 * 86_400));
        let again: HashMap<&str, String> = config.to_env().into_iter().collect();
        assert_eq!(RuntimeConfig::from_lookup(|k| again.get(k).cloned()), Ok(config));
    }

    #[test]
    fn names_the_missing_or_bad_variable() {
        let err = RuntimeConfig::from_lookup(|_| None).unwrap_err();
        assert_eq!(err, ConfigError::Contract(ContractError::MissingEnv(contract::ENV_TABLE_NAME)));
        let err = RuntimeConfig::from_lookup(|k| match k {
            contract::ENV_JOB_TYPES => Some(r#"{"c":[],"n":[],"j":{}}"#.into()),
            contract::ENV_RETENTION_DAYS => Some("a week".into()),
            _ => Some("x".into()),
        })
        .unwrap_err();
        assert!(err.to_string().contains(contract::ENV_RETENTION_DAYS), "{err}");
    }
}
