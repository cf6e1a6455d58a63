//! jobgen's one-shot timers: EventBridge Scheduler `at()` schedules in the stack's schedule group
//! that invoke the track function with a [`Timer`] payload once, then delete themselves
//! (`ActionAfterCompletion: DELETE`). A timer's schedule name is unique per job, attempt, kind and
//! round ([`Timer::schedule_name`]), so arming it again — a redelivered event, a retried
//! invocation — finds the existing schedule (ConflictException) and changes nothing.
//!
//! A timer never decides anything by itself: when it fires, track reads the job and acts only if
//! the job is still in the status and attempt the timer was armed for (see
//! [`crate::service::LaunchService::fire`]), so a timer that fires late, twice, or after the job
//! moved on is a no-op. Scheduler fires within the minute after the time it is given; the `at()`
//! time is rounded up to the minute ([`contract::at_expression`]), so a timer never fires early.

use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::error::ProvideErrorMetadata;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, Target,
};
use chrono::{DateTime, Utc};

use crate::config::TimerSettings;
use crate::contract::{self, Timer};
use crate::error::error_chain;

/// How often Scheduler retries an invocation of track that failed to be delivered, and for how
/// long, before it goes to the dead-letter queue (Lambda's own async retries apply on top).
const DELIVERY_RETRIES: i32 = 10;
const DELIVERY_MAX_AGE_SECONDS: i32 = 3_600;

/// What arming a timer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Armed {
    /// The schedule was created.
    Created,
    /// A schedule of this name exists already (armed before by this or another invocation).
    Exists,
}

/// A timer could not be armed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot arm timer {name}: {reason}")]
pub struct TimerError {
    /// The schedule name.
    pub name: String,
    /// Why, with the AWS error code when there is one.
    pub reason: String,
    /// Whether trying again may succeed (throttling, server errors).
    pub retryable: bool,
}

/// The stack's timers.
#[derive(Debug, Clone)]
pub struct Timers {
    client: Client,
    settings: TimerSettings,
}

impl Timers {
    /// Timers in `settings`' schedule group, through `client`.
    pub fn new(client: Client, settings: TimerSettings) -> Self {
        Timers { client, settings }
    }

    /// The stack's timers as `config` names them, on a client from `sdk`; `None` for a stack
    /// without timers.
    pub fn for_config(sdk: &aws_config::SdkConfig, config: &crate::config::RuntimeConfig) -> Option<Timers> {
        config.timers.clone().map(|settings| Timers::new(Client::new(sdk), settings))
    }

    /// The settings.
    pub fn settings(&self) -> &TimerSettings {
        &self.settings
    }

    /// Disarms `timer` (1 DeleteSchedule): `Ok(true)` when its schedule was deleted, `Ok(false)`
    /// when there was none (never armed, fired already, or deleted before). Only deadline timers
    /// are disarmed (the handlers' role may delete `run-*` and `start-*` schedules only).
    pub async fn disarm(&self, timer: &Timer) -> Result<bool, TimerError> {
        let name = timer.schedule_name();
        match self.client.delete_schedule().name(&name).group_name(&self.settings.group).send().await {
            Ok(_) => Ok(true),
            Err(err) if err.code() == Some("ResourceNotFoundException") => Ok(false),
            Err(err) => {
                let retryable = matches!(err.code(), Some("ThrottlingException" | "InternalServerException"))
                    || err.as_service_error().is_none();
                Err(TimerError { name, reason: error_chain(&err), retryable })
            }
        }
    }

    /// Arms `timer` to fire at `due` or within the minute after it (1 CreateSchedule).
    pub async fn arm(&self, timer: &Timer, due: DateTime<Utc>) -> Result<Armed, TimerError> {
        let name = timer.schedule_name();
        let target = Target::builder()
            .arn(&self.settings.target_arn)
            .role_arn(&self.settings.role_arn)
            .input(timer.payload().to_string())
            .dead_letter_config(DeadLetterConfig::builder().arn(&self.settings.dlq_arn).build())
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(DELIVERY_RETRIES)
                    .maximum_event_age_in_seconds(DELIVERY_MAX_AGE_SECONDS)
                    .build(),
            )
            .build()
            .map_err(|e| TimerError { name: name.clone(), reason: e.to_string(), retryable: false })?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| TimerError { name: name.clone(), reason: e.to_string(), retryable: false })?;
        let result = self
            .client
            .create_schedule()
            .name(&name)
            .group_name(&self.settings.group)
            .schedule_expression(contract::at_expression(due))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .target(target)
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await;
        match result {
            Ok(_) => {
                tracing::info!(schedule = %name, due = %due, "timer armed");
                Ok(Armed::Created)
            }
            Err(err) if err.code() == Some("ConflictException") => Ok(Armed::Exists),
            Err(err) => {
                let code = err.code().map(str::to_string);
                let retryable = matches!(
                    code.as_deref(),
                    Some("ThrottlingException" | "InternalServerException" | "ServiceQuotaExceededException")
                ) || err.as_service_error().is_none();
                Err(TimerError { name, reason: error_chain(&err), retryable })
            }
        }
    }
}
