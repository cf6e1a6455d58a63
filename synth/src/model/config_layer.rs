//! The config-only Lambda layer (`templates/config_layer.yaml.j2`) that carries the stack's
//! configuration document (the [`jobgen_runtime::contract::LaunchTable`]) to both functions,
//! mounted at [`contract::CONFIG_FILE`].

use jobgen_runtime::contract;
use serde::Serialize;

use super::suppressions::{self, Suppressions};
use crate::config::Config;
use crate::names;

/// The config-only Lambda layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigLayer {
    /// Logical ID.
    pub id: String,
    /// `LayerName`.
    pub name: String,
    /// `Description`.
    pub description: String,
    /// `Content`: the directory beside the template that holds the document, for `aws cloudformation package`.
    pub content: String,
    /// `CompatibleArchitectures[0]`.
    pub architecture: &'static str,
    /// Scanner suppressions (cfn-lint's local-path warning).
    pub suppressions: Suppressions,
}

/// The config layer of a project.
pub fn config_layer(config: &Config) -> ConfigLayer {
    let project = config.project.name.as_str();
    ConfigLayer {
        id: "ConfigLayer".into(),
        name: names::config_layer(project),
        description: format!("jobgen {project}: the job-type table both functions read at {}", contract::CONFIG_FILE),
        content: contract::CONFIG_LAYER_DIR.into(),
        architecture: config.lambda.architecture.name(),
        suppressions: Suppressions::of(vec![suppressions::LAYER_LOCAL_CONTENT.here(None)]),
    }
}
