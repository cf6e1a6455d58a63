//! The project's schedules in `jobgen dev`: created in the emulator's EventBridge Scheduler as the
//! template defines them (the emulator's CloudFormation cannot create `AWS::Scheduler::Schedule`),
//! and fired by the simulator at scaled time ([`Recurring`]), since the emulator stores schedules
//! but never runs them.
//!
//! A fired run is the schedule target's `Input` with Scheduler's `<aws.scheduler.scheduled-time>`
//! filled in ([`schedule::deliver`]), invoked on create-job as Scheduler invokes it.

use chrono::{DateTime, Duration, Utc};
use jobgen_runtime::schedule::{self, Expression};
use serde_json::Value;

use crate::deploy::DeployError;

/// One schedule of the template, as the emulator's Scheduler is to hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    /// `Name`.
    pub name: String,
    /// `ScheduleExpression`.
    pub expression: String,
    /// `ScheduleExpressionTimezone`.
    pub timezone: String,
    /// `State`.
    pub enabled: bool,
    /// `Target.Input`.
    pub input: String,
}

/// The project's schedules in a synthesized template (the `AWS::Scheduler::Schedule` resources
/// named with [`schedule::SCHEDULE_NAME_PREFIX`]; the reconciler's is the simulator's own).
pub fn specs(document: &Value) -> Vec<ScheduleSpec> {
    let Some(resources) = document["Resources"].as_object() else { return Vec::new() };
    resources
        .values()
        .filter(|r| r["Type"] == "AWS::Scheduler::Schedule")
        .map(|r| &r["Properties"])
        .filter_map(|p| {
            let name = p["Name"].as_str()?;
            name.starts_with(schedule::SCHEDULE_NAME_PREFIX).then(|| ScheduleSpec {
                name: name.to_string(),
                expression: p["ScheduleExpression"].as_str().unwrap_or_default().to_string(),
                timezone: p["ScheduleExpressionTimezone"].as_str().unwrap_or("UTC").to_string(),
                enabled: p["State"] != "DISABLED",
                input: p["Target"]["Input"].as_str().unwrap_or_default().to_string(),
            })
        })
        .collect()
}

/// Makes the project's schedules in `group` of the emulator's Scheduler those of `specs`, as a
/// stack update would: each created or updated ([`create`]), and each project schedule no longer in
/// the template deleted (never a timer or the reconciler's). Returns the names created or updated,
/// and those removed.
pub async fn sync(
    scheduler: &aws_sdk_scheduler::Client,
    group: &str,
    specs: &[ScheduleSpec],
    target_arn: &str,
    role_arn: &str,
) -> Result<(Vec<String>, Vec<String>), DeployError> {
    let mut existing = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = scheduler
            .list_schedules()
            .group_name(group)
            .name_prefix(schedule::SCHEDULE_NAME_PREFIX)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| DeployError::Emulator {
                step: format!("ListSchedules {group}"),
                message: jobgen_ops::aws_error(&e),
            })?;
        existing.extend(out.schedules().iter().filter_map(|s| s.name().map(str::to_string)));
        match out.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    let mut removed = Vec::new();
    for name in existing.into_iter().filter(|n| n.starts_with(schedule::SCHEDULE_NAME_PREFIX)) {
        if specs.iter().all(|s| s.name != name) {
            scheduler.delete_schedule().group_name(group).name(&name).send().await.map_err(|e| {
                DeployError::Emulator { step: format!("DeleteSchedule {name}"), message: jobgen_ops::aws_error(&e) }
            })?;
            removed.push(name);
        }
    }
    Ok((create(scheduler, group, specs, target_arn, role_arn).await?, removed))
}

/// Creates (or updates) each schedule of `specs` in `group` of the emulator's Scheduler, with
/// create-job (`target_arn`) as its target and `role_arn` as its role, as CloudFormation would.
/// Returns their names.
pub async fn create(
    scheduler: &aws_sdk_scheduler::Client,
    group: &str,
    specs: &[ScheduleSpec],
    target_arn: &str,
    role_arn: &str,
) -> Result<Vec<String>, DeployError> {
    use aws_sdk_scheduler::error::ProvideErrorMetadata;
    use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target};
    let mut names = Vec::new();
    for spec in specs {
        let build = |e: aws_sdk_scheduler::error::BuildError| DeployError::Emulator {
            step: format!("schedule {}", spec.name),
            message: e.to_string(),
        };
        let target = Target::builder().arn(target_arn).role_arn(role_arn).input(&spec.input).build().map_err(build)?;
        let window = FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().map_err(build)?;
        let state = if spec.enabled { ScheduleState::Enabled } else { ScheduleState::Disabled };
        let created = scheduler
            .create_schedule()
            .group_name(group)
            .name(&spec.name)
            .schedule_expression(&spec.expression)
            .schedule_expression_timezone(&spec.timezone)
            .flexible_time_window(window.clone())
            .state(state.clone())
            .target(target.clone())
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code() == Some("ConflictException") => {
                scheduler
                    .update_schedule()
                    .group_name(group)
                    .name(&spec.name)
                    .schedule_expression(&spec.expression)
                    .schedule_expression_timezone(&spec.timezone)
                    .flexible_time_window(window)
                    .state(state)
                    .target(target)
                    .send()
                    .await
                    .map_err(|e| DeployError::Emulator {
                        step: format!("UpdateSchedule {}", spec.name),
                        message: jobgen_ops::aws_error(&e),
                    })?;
            }
            Err(e) => {
                return Err(DeployError::Emulator {
                    step: format!("CreateSchedule {}", spec.name),
                    message: jobgen_ops::aws_error(&e),
                });
            }
        }
        names.push(spec.name.clone());
    }
    Ok(names)
}

/// A recurring schedule the simulator fires, on a scaled clock: simulated time runs from `origin`
/// (when the simulator first saw the schedule, which is also where a `rate()` counts from)
/// `1 / time_scale` times faster than the wall clock.
#[derive(Debug, Clone)]
pub struct Recurring {
    expression: Expression,
    timezone: chrono_tz::Tz,
    /// The target's input, with the scheduled-time attribute still in it.
    pub input: String,
    origin: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
    scale: f64,
}

impl Recurring {
    /// The schedule `expression` in `timezone`, first seen at `now`; `None` for an expression that
    /// does not recur (`at()`, a timer) or does not parse.
    pub fn new(expression: &str, timezone: &str, input: String, now: DateTime<Utc>, scale: f64) -> Option<Recurring> {
        let expression = Expression::parse(expression).ok()?;
        let timezone = schedule::parse_timezone(timezone).ok()?;
        let next = expression.next_after(now, &timezone, now);
        Some(Recurring { expression, timezone, input, origin: now, next, scale: scale.max(1e-6) })
    }

    /// Simulated time at wall-clock time `now`.
    fn simulated(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let elapsed = (now - self.origin).num_milliseconds().max(0) as f64 / self.scale;
        self.origin + Duration::milliseconds(elapsed as i64)
    }

    /// The scheduled times that are due at wall-clock `now` (at most `max`, oldest first), each
    /// then counted as fired.
    pub fn due(&mut self, now: DateTime<Utc>, max: usize) -> Vec<DateTime<Utc>> {
        let simulated = self.simulated(now);
        let mut due = Vec::new();
        while let Some(next) = self.next.filter(|next| *next <= simulated && due.len() < max) {
            due.push(next);
            self.next = self.expression.next_after(next, &self.timezone, self.origin);
        }
        due
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_fires_once_per_scaled_interval_and_catches_up_in_order() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").unwrap().with_timezone(&Utc);
        // One simulated minute is three wall-clock seconds at 0.05.
        let mut every = Recurring::new("rate(1 minute)", "UTC", String::new(), t0, 0.05).unwrap();
        assert!(every.due(t0 + Duration::seconds(2), 10).is_empty());
        assert_eq!(every.due(t0 + Duration::seconds(3), 10), [t0 + Duration::minutes(1)]);
        assert!(every.due(t0 + Duration::seconds(4), 10).is_empty(), "fired once");
        assert_eq!(every.due(t0 + Duration::seconds(9), 10), [t0 + Duration::minutes(2), t0 + Duration::minutes(3)]);
        assert!(Recurring::new("at(2026-12-01T10:00:00)", "UTC", String::new(), t0, 0.05).is_none());
    }

    #[test]
    fn the_templates_schedules_are_read_with_their_input() {
        let document = serde_json::json!({"Resources": {
            "ScheduleNightly": {"Type": "AWS::Scheduler::Schedule", "Properties": {
                "Name": "schedule-nightly", "ScheduleExpression": "rate(1 day)", "State": "ENABLED",
                "Target": {"Input": "{\"jobType\":\"report\"}"}}},
            "ReconcileSchedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {"Name": "reconcile"}},
        }});
        assert_eq!(
            specs(&document),
            [ScheduleSpec {
                name: "schedule-nightly".into(),
                expression: "rate(1 day)".into(),
                timezone: "UTC".into(),
                enabled: true,
                input: "{\"jobType\":\"report\"}".into(),
            }]
        );
    }
}
