//! The synthesized stack and the runtime agree, without an emulator: both functions get exactly the
//! contract's environment variables, and `JOBGEN_JOB_TYPES`, resolved the way CloudFormation's
//! `Fn::Sub` will resolve it, parses with the runtime's own `LaunchTable::from_json` and resolves
//! every job type of the project. (tests/deploy.rs repeats this on a real moto deployment.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

use jobgen::model::ModelOptions;
use jobgen_runtime::contract::{self, LaunchTable};
use serde_json::Value;

/// Resolves an `Fn::Sub` the way CloudFormation would, with `Ref`s to clusters as their names and
/// task definition variables as `family:1`.
fn resolve_sub(sub: &Value, doc: &Value) -> String {
    let (text, vars) = match sub {
        Value::String(t) => (t.clone(), serde_json::Map::new()),
        Value::Array(a) => (a[0].as_str().unwrap().to_string(), a[1].as_object().unwrap().clone()),
        other => panic!("not an Fn::Sub: {other}"),
    };
    let mut out = text.clone();
    for var in jobgen::check::sub_variables(&text) {
        let value = if let Some(v) = vars.get(&var) {
            // {"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": TaskDef}]}]}
            let td = v["Fn::Select"][1]["Fn::Split"][1]["Ref"].as_str().unwrap();
            format!("{}:1", doc["Resources"][td]["Properties"]["Family"].as_str().unwrap())
        } else {
            doc["Resources"][var.as_str()]["Properties"]["ClusterName"].as_str().unwrap().to_string()
        };
        out = out.replace(&format!("${{{var}}}"), &value);
    }
    out.replace("${!", "${")
}

#[test]
fn every_example_hands_the_runtime_a_launch_table_it_can_use() {
    for name in ["quickstart", "realistic", "existing-task-definition"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).join("jobgen.yaml");
        let config = jobgen::load(&path).unwrap();
        let s = jobgen::synth::synthesize(&config, &ModelOptions::default()).unwrap();
        for f in [&s.stack.create_job.id, &s.stack.track.id] {
            let vars =
                s.document["Resources"][f.as_str()]["Properties"]["Environment"]["Variables"].as_object().unwrap();
            let keys: BTreeSet<&str> = vars.keys().map(String::as_str).collect();
            assert_eq!(keys, contract::LAMBDA_ENV.into_iter().collect(), "{name}/{f}");
            let job_types = &vars[contract::ENV_JOB_TYPES];
            let json = match job_types {
                Value::String(plain) => plain.clone(),
                Value::Object(o) => resolve_sub(&o["Fn::Sub"], &s.document),
                other => panic!("{other}"),
            };
            let table = LaunchTable::from_json(&json).unwrap_or_else(|e| panic!("{name}/{f}: {e}\n{json}"));
            assert_eq!(table, s.stack.launch_table.clone().with_resolved(&table), "{name}: model and template agree");
            for jt in config.job_types.keys() {
                let r = table.resolve(jt).unwrap_or_else(|| panic!("{name}: job type {jt} missing"));
                assert!(!r.cluster.is_empty() && !r.network.subnets.is_empty(), "{name}/{jt}");
            }
            assert!(json.len() + contract::ENV_JOB_TYPES.len() < contract::LAMBDA_ENV_LIMIT_BYTES);
        }
    }
}

trait WithResolved {
    fn with_resolved(self, resolved: &LaunchTable) -> LaunchTable;
}

impl WithResolved for LaunchTable {
    /// The model's table with its deploy-time placeholders replaced by the resolved values, so the
    /// rest of it (indexes, capacity, containers, architectures, networks) is compared exactly.
    fn with_resolved(mut self, resolved: &LaunchTable) -> LaunchTable {
        for (c, r) in self.clusters.iter_mut().zip(&resolved.clusters) {
            if c.starts_with("${") {
                c.clone_from(r);
            }
        }
        for (name, entry) in self.job_types.iter_mut() {
            if entry.task_definition.starts_with("${") {
                entry.task_definition.clone_from(&resolved.job_types[name].task_definition);
            }
        }
        self
    }
}
