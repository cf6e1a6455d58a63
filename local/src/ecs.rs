//! The emulator's ECS as `jobgen dev`'s handlers see it: every call goes to the emulator, and a
//! seeded share of RunTask calls can be refused the way ECS refuses a burst it will not take
//! (`jobgen dev --throttle 0.3`): half a ThrottlingException, half `failures[]` with no capacity.
//! The handlers' launch backoff then relaunches those jobs, so a throttled burst can be watched
//! draining locally. The share can be changed while the stack runs ([`Refusals::set_share`]).
//!
//! It also keeps ECS's promise the emulator does not: RunTask with a `clientToken` it has seen
//! answers with the task that token started instead of starting another (moto ignores the token).
//! A seeded share of RunTask calls that did start a task can have their answer lost
//! ([`Refusals::set_lost_answers`]: the caller sees a timeout, as when a Lambda dies after ECS
//! accepted the call), which only that promise makes safe to retry.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jobgen_runtime::contract;
use jobgen_runtime::job::LaunchErrorKind;
use jobgen_runtime::launch::{LaunchSpec, classify_error_code};
use jobgen_runtime::launcher::{EcsError, RunTaskAnswer, RunTaskApi};

/// The share of RunTask calls to refuse, and how many were made and refused.
#[derive(Debug, Default)]
pub struct Refusals {
    share: crate::faults::SeededShare,
    lost_bits: AtomicU64,
    lost: AtomicU64,
    tokens: std::sync::Mutex<std::collections::HashMap<String, (String, Option<String>)>>,
    /// One lock per clientToken, held across the emulator's RunTask: two calls with one token at
    /// once (a claim beside a slow launcher) get one task, as ECS's own token check gives.
    in_flight: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    refused: AtomicU64,
}

impl Refusals {
    /// Refuse `share` (0 to 1) of the RunTask calls from now on, drawn from `seed`.
    pub fn set_share(&self, share: f64, seed: u64) {
        self.share.set(share, seed);
    }

    /// Lose the answer of `share` (0 to 1) of the RunTask calls that start a task.
    pub fn set_lost_answers(&self, share: f64) {
        self.lost_bits.store(share.clamp(0.0, 1.0).to_bits(), Ordering::SeqCst);
    }

    /// RunTask answers lost after the task started.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::SeqCst)
    }

    /// RunTask calls made, and how many of them were refused.
    pub fn counts(&self) -> (u64, u64) {
        (self.share.calls(), self.refused.load(Ordering::SeqCst))
    }

    fn refuse(&self) -> Option<u64> {
        let (n, _) = self.share.draw("dev-throttle")?;
        self.refused.fetch_add(1, Ordering::SeqCst);
        Some(n)
    }
}

/// The emulator's ECS client, with [`Refusals`] on RunTask.
#[derive(Debug, Clone)]
pub struct DevEcs {
    client: aws_sdk_ecs::Client,
    refusals: Arc<Refusals>,
}

impl DevEcs {
    /// `client`, refusing RunTask calls as `refusals` says.
    pub fn new(client: aws_sdk_ecs::Client, refusals: Arc<Refusals>) -> DevEcs {
        DevEcs { client, refusals }
    }
}

impl RunTaskApi for DevEcs {
    async fn run_task(&self, spec: &LaunchSpec) -> RunTaskAnswer {
        let lock = match self.refusals.in_flight.lock() {
            Ok(mut locks) => locks.entry(spec.client_token.clone()).or_default().clone(),
            Err(_) => Arc::default(),
        };
        let _held = lock.lock().await;
        let known = self.refusals.tokens.lock().ok().and_then(|t| t.get(&spec.client_token).cloned());
        if let Some((task_arn, cluster_arn)) = known {
            return RunTaskAnswer::Started { task_arn, cluster_arn };
        }
        match self.refusals.refuse() {
            Some(n) if n % 2 == 0 => RunTaskAnswer::Error {
                kind: classify_error_code(Some("ThrottlingException")),
                code: Some("ThrottlingException".into()),
                message: "Rate exceeded (simulated by jobgen dev --throttle)".into(),
            },
            Some(_) => RunTaskAnswer::Failures(vec![
                "RESOURCE:FARGATE: Capacity is unavailable at this time (simulated by jobgen dev --throttle)".into(),
            ]),
            None => {
                let answer = RunTaskApi::run_task(&self.client, spec).await;
                if let RunTaskAnswer::Started { task_arn, cluster_arn } = &answer {
                    if let Ok(mut tokens) = self.refusals.tokens.lock() {
                        tokens.insert(spec.client_token.clone(), (task_arn.clone(), cluster_arn.clone()));
                    }
                    let n = self.refusals.share.calls();
                    let share = f64::from_bits(self.refusals.lost_bits.load(Ordering::SeqCst));
                    let draw =
                        contract::jitter_seed("dev-lost-answer", u32::try_from(n % u64::from(u32::MAX)).unwrap_or(0));
                    if share > 0.0 && ((draw >> 11) as f64 / (1u64 << 53) as f64) < share {
                        self.refusals.lost.fetch_add(1, Ordering::SeqCst);
                        return RunTaskAnswer::Error {
                            kind: LaunchErrorKind::Unavailable,
                            code: None,
                            message: "timeout: the answer was lost (simulated by jobgen dev; the task started)".into(),
                        };
                    }
                }
                answer
            }
        }
    }

    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<(), EcsError> {
        RunTaskApi::stop_task(&self.client, cluster, task_arn, reason).await
    }

    async fn describe_tasks(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> Result<Vec<aws_sdk_ecs::types::Task>, EcsError> {
        RunTaskApi::describe_tasks(&self.client, cluster, task_arns).await
    }

    async fn list_running_tasks(&self, cluster: &str, started_by: &str) -> Result<Vec<String>, EcsError> {
        RunTaskApi::list_running_tasks(&self.client, cluster, started_by).await
    }
}
