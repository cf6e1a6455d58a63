//! jobgen's own types for the EventBridge "ECS Task State Change" event (source `aws.ecs`), as
//! documented in "Amazon ECS task state change events". Only the fields the tracker uses are typed;
//! unknown fields are ignored and enum-like values (lastStatus, stopCode, ...) are kept as strings,
//! because ECS adds new ones over time and the tracker must not fail on them. The types also
//! serialize (in the event's own spelling) so a local lifecycle simulator can emit real-shaped events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `detail-type` of task state change events.
pub const DETAIL_TYPE: &str = "ECS Task State Change";
/// The `source` of ECS events.
pub const SOURCE: &str = "aws.ecs";
/// The task attribute naming the CPU architecture (`x86_64` or `arm64`).
pub const ATTR_CPU_ARCHITECTURE: &str = "ecs.cpu-architecture";

/// The EventBridge envelope, with the detail still untyped so a non-task event can be skipped
/// before its detail is interpreted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// Envelope version (always `"0"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Event id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `detail-type`.
    #[serde(rename = "detail-type", default)]
    pub detail_type: String,
    /// `source`.
    #[serde(default)]
    pub source: String,
    /// Account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Event time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Resource ARNs (the task ARN).
    #[serde(default, deserialize_with = "null_as_default")]
    pub resources: Vec<String>,
    /// The detail object.
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// `detail` of an "ECS Task State Change" event.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDetail {
    /// Cluster ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    /// Task ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// Task definition ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition_arn: Option<String>,
    /// Task group (`jobgen:<job id>:<attempt>` for jobgen tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `startedBy` (`jobgen/<project>` for jobgen tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// ECS last status: PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING,
    /// DEPROVISIONING, STOPPED, or something newer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    /// ECS desired status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_status: Option<String>,
    /// The task's version: increases with every change of the task; the tracker's ordering key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Task cpu units (a string in the event, e.g. `"1024"`).
    #[serde(
        default,
        deserialize_with = "lenient_u32",
        serialize_with = "u32_as_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu: Option<u32>,
    /// Task memory in MiB (a string in the event, e.g. `"2048"`).
    #[serde(
        default,
        deserialize_with = "lenient_u32",
        serialize_with = "u32_as_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory: Option<u32>,
    /// `FARGATE` or `FARGATE_SPOT` when launched with a capacity provider strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_name: Option<String>,
    /// `FARGATE`, `EC2`, ... when launched with a launch type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    /// Platform family (e.g. `Linux`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_family: Option<String>,
    /// Task attributes, among them `ecs.cpu-architecture`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub attributes: Vec<Attribute>,
    /// The task's containers; empty when a task failed before creating any.
    #[serde(default, deserialize_with = "null_as_default")]
    pub containers: Vec<Container>,
    /// Overrides RunTask applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<Overrides>,
    /// Why the task stopped, as a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    /// Why the task stopped, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    /// Task creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// Image pull start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_started_at: Option<DateTime<Utc>>,
    /// Image pull end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_stopped_at: Option<DateTime<Utc>>,
    /// Task start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// Task stopping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopping_at: Option<DateTime<Utc>>,
    /// Task stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<DateTime<Utc>>,
    /// Last update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A task attribute.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attribute {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A container of the task.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Container name (from the task definition).
    #[serde(default)]
    pub name: String,
    /// Exit code, once the container stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why the container stopped (e.g. `OutOfMemoryError: ...`, `CannotPullContainerError: ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Container last status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
}

/// Task overrides as reported in the event.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overrides {
    /// Per-container overrides.
    #[serde(default, deserialize_with = "null_as_default")]
    pub container_overrides: Vec<ContainerOverride>,
}

/// One container override.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerOverride {
    /// Container name.
    #[serde(default)]
    pub name: String,
    /// Environment overrides.
    #[serde(default, deserialize_with = "null_as_default")]
    pub environment: Vec<Attribute>,
}

impl TaskDetail {
    /// The `ecs.cpu-architecture` attribute, if present.
    pub fn cpu_architecture(&self) -> Option<&str> {
        self.attributes.iter().find(|a| a.name == ATTR_CPU_ARCHITECTURE).and_then(|a| a.value.as_deref())
    }

    /// The container named `name`.
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// The value of the override variable `env_name` (on whichever container carries it).
    pub fn override_env(&self, env_name: &str) -> Option<&str> {
        let overrides = self.overrides.as_ref()?;
        overrides
            .container_overrides
            .iter()
            .flat_map(|o| o.environment.iter())
            .find(|e| e.name == env_name)
            .and_then(|e| e.value.as_deref())
    }

    /// The name of the container whose override carries `env_name` (jobgen puts its variables on the
    /// main container only).
    pub fn container_with_override_env(&self, env_name: &str) -> Option<&str> {
        let overrides = self.overrides.as_ref()?;
        overrides
            .container_overrides
            .iter()
            .find(|o| o.environment.iter().any(|e| e.name == env_name))
            .map(|o| o.name.as_str())
    }
}

/// Why an event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Not JSON of the expected shape.
    #[error("event is not an EventBridge event: {0}")]
    Envelope(String),
    /// The detail does not parse.
    #[error("event detail is not an ECS task state change: {0}")]
    Detail(String),
}

/// Parses the envelope of any EventBridge event.
pub fn parse_envelope(value: serde_json::Value) -> Result<Envelope, EventError> {
    serde_json::from_value(value).map_err(|e| EventError::Envelope(e.to_string()))
}

/// Parses the detail of a task state change event.
pub fn parse_detail(detail: serde_json::Value) -> Result<TaskDetail, EventError> {
    serde_json::from_value(detail).map_err(|e| EventError::Detail(e.to_string()))
}

/// Accepts `"1024"`, `1024`, null or a missing field; anything unparsable becomes `None` rather than
/// failing the event (the cost estimate is then skipped).
fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match value {
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        _ => None,
    })
}

/// Writes cpu and memory as ECS does: strings.
fn u32_as_string<S: Serializer>(value: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.serialize_str(&v.to_string()),
        None => s.serialize_none(),
    }
}

/// Treats an explicit `null` list like a missing one.
fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(feature = "aws")]
impl TaskDetail {
    /// The detail of a task as DescribeTasks returns it: the same members a task state change
    /// event carries (its `version` included, so applying it and the real event is idempotent).
    pub fn from_task(task: &aws_sdk_ecs::types::Task) -> TaskDetail {
        let time = |t: Option<&aws_sdk_ecs::primitives::DateTime>| {
            t.and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
        };
        let attribute =
            |name: &str, value: Option<&str>| Attribute { name: name.to_string(), value: value.map(str::to_string) };
        TaskDetail {
            cluster_arn: task.cluster_arn().map(str::to_string),
            task_arn: task.task_arn().map(str::to_string),
            task_definition_arn: task.task_definition_arn().map(str::to_string),
            group: task.group().map(str::to_string),
            started_by: task.started_by().map(str::to_string),
            last_status: task.last_status().map(str::to_string),
            desired_status: task.desired_status().map(str::to_string),
            version: Some(task.version()),
            cpu: task.cpu().and_then(|c| c.parse().ok()),
            memory: task.memory().and_then(|m| m.parse().ok()),
            capacity_provider_name: task.capacity_provider_name().map(str::to_string),
            launch_type: task.launch_type().map(|l| l.as_str().to_string()),
            platform_family: task.platform_family().map(str::to_string),
            attributes: task.attributes().iter().map(|a| attribute(a.name(), a.value())).collect(),
            containers: task
                .containers()
                .iter()
                .map(|c| Container {
                    name: c.name().unwrap_or_default().to_string(),
                    exit_code: c.exit_code(),
                    reason: c.reason().map(str::to_string),
                    last_status: c.last_status().map(str::to_string),
                })
                .collect(),
            overrides: task.overrides().map(|o| Overrides {
                container_overrides: o
                    .container_overrides()
                    .iter()
                    .map(|c| ContainerOverride {
                        name: c.name().unwrap_or_default().to_string(),
                        environment: c
                            .environment()
                            .iter()
                            .map(|e| attribute(e.name().unwrap_or_default(), e.value()))
                            .collect(),
                    })
                    .collect(),
            }),
            stop_code: task.stop_code().map(|c| c.as_str().to_string()),
            stopped_reason: task.stopped_reason().map(str::to_string),
            created_at: time(task.created_at()),
            pull_started_at: time(task.pull_started_at()),
            pull_stopped_at: time(task.pull_stopped_at()),
            started_at: time(task.started_at()),
            stopping_at: time(task.stopping_at()),
            stopped_at: time(task.stopped_at()),
            updated_at: None,
        }
    }
}

/// A task state change event around `detail` (what the reconciler applies for a task whose own
/// event was lost).
pub fn event_json(detail: &TaskDetail) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "resources": detail.task_arn.iter().collect::<Vec<_>>(),
        "detail": detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_documented_event_and_ignores_unknown_fields() {
        let event = serde_json::json!({
            "version": "0",
            "id": "3317b2af-7005-947d-b652-f55e762e571a",
            "detail-type": "ECS Task State Change",
            "source": "aws.ecs",
            "account": "111122223333",
            "time": "2020-01-23T17:57:58Z",
            "region": "us-west-2",
            "resources": ["arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad"],
            "detail": {
                "attachments": [{"id": "1789bcae", "type": "eni", "status": "ATTACHED", "details": []}],
                "attributes": [{"name": "ecs.cpu-architecture", "value": "arm64"}],
                "availabilityZone": "us-west-2c",
                "capacityProviderName": "FARGATE_SPOT",
                "clusterArn": "arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster",
                "containers": [{"containerArn": "arn:c", "lastStatus": "RUNNING", "name": "main", "image": "x", "cpu": "0", "brandNewField": {"a": 1}}],
                "cpu": "256",
                "createdAt": "2020-01-23T17:57:34.402Z",
                "desiredStatus": "RUNNING",
                "enableExecuteCommand": false,
                "ephemeralStorage": {"sizeInGiB": 20},
                "group": "jobgen:abc:1",
                "launchType": "FARGATE",
                "lastStatus": "RUNNING",
                "memory": "512",
                "overrides": {"containerOverrides": [{"name": "main", "environment": [{"name": "JOBGEN_JOB_ID", "value": "abc"}]}]},
                "platformVersion": "1.4.0",
                "platformFamily": "Linux",
                "pullStartedAt": "2020-01-23T17:57:38.543Z",
                "pullStoppedAt": "2020-01-23T17:57:52.103Z",
                "startedAt": "2020-01-23T17:57:58.103Z",
                "startedBy": "jobgen/demo",
                "taskArn": "arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad",
                "taskDefinitionArn": "arn:aws:ecs:us-west-2:111122223333:task-definition/nginx-sample-fargate:1",
                "updatedAt": "2020-01-23T17:57:58.103Z",
                "version": 4
            }
        });
        let envelope = parse_envelope(event).expect("envelope");
        assert_eq!(envelope.detail_type, DETAIL_TYPE);
        let detail = parse_detail(envelope.detail).expect("detail");
        assert_eq!(detail.version, Some(4));
        assert_eq!((detail.cpu, detail.memory), (Some(256), Some(512)));
        assert_eq!(detail.cpu_architecture(), Some("arm64"));
        assert_eq!(detail.container_with_override_env("JOBGEN_JOB_ID"), Some("main"));
        assert_eq!(detail.container("main").and_then(|c| c.last_status.as_deref()), Some("RUNNING"));
        assert!(detail.started_at.is_some() && detail.stopped_at.is_none());
        // Serializing writes the event's spelling back (cpu as a string, absent fields omitted).
        let again = serde_json::to_value(&detail).expect("serializes");
        assert_eq!(again["cpu"], "256");
        assert_eq!(
            again["taskDefinitionArn"],
            "arn:aws:ecs:us-west-2:111122223333:task-definition/nginx-sample-fargate:1"
        );
        assert_eq!(again["pullStartedAt"], "2020-01-23T17:57:38.543Z");
        assert!(again.get("stoppedAt").is_none());
        let reparsed = parse_detail(again).expect("round trip");
        assert_eq!(reparsed.version, Some(4));
    }

    #[test]
    fn tolerates_nulls_numbers_and_missing_lists() {
        let detail = parse_detail(serde_json::json!({"cpu": 1024, "memory": "lots", "containers": null, "version": 2}))
            .expect("lenient detail");
        assert_eq!((detail.cpu, detail.memory), (Some(1024), None));
        assert!(detail.containers.is_empty() && detail.attributes.is_empty());
        assert!(parse_detail(serde_json::json!({"version": "two"})).is_err());
        assert!(parse_detail(serde_json::json!({"createdAt": "yesterday"})).is_err());
    }
}
