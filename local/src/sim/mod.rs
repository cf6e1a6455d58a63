//! The lifecycle simulator: stands in for what the AWS emulator lacks — ECS running a task and
//! EventBridge delivering its state changes.
//!
//! It watches the emulator's ECS for tasks this stack launched (ListTasks by the contract's
//! `startedBy`), and for each one emits real-shaped "ECS Task State Change" events through the
//! Fargate lifecycle (PROVISIONING → PENDING → RUNNING → DEPROVISIONING → STOPPED, increasing
//! `version`, consistent timestamps, containers with exit codes, stopCode/stoppedReason), built from
//! the runtime's own event types. Every event is evaluated against the DEPLOYED rule's pattern
//! ([`pattern::RulePattern`]); exactly the matching ones go to the real track handler, through a
//! fault layer that can duplicate, reorder and drop them (seeded, so a run is reproducible).
//!
//! How each task ends is scripted by the job's environment ([`script`]); time can be compressed
//! (`time_scale` 0.1: a 30 s run takes 3 s, its timestamps still say 30 s). A task stopped with
//! StopTask (`jobgen cancel`, or create-job for a job cancelled during its launch) gets a STOPPED
//! event with stopCode UserInitiated, also when it was stopped before the simulator first saw it.
//! A few log lines go to the task's CloudWatch log stream so `jobgen logs` has something to show.
//!
//! `jobgen dev` runs one; the integration tests use the same one as their harness.

pub mod pattern;
pub mod script;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jobgen_runtime::config::RuntimeConfig;
use jobgen_runtime::contract::{self, Architecture};
use jobgen_runtime::event::{self, Attribute, Container, ContainerOverride, Envelope, Overrides, TaskDetail};
use jobgen_runtime::track::{TrackOutcome, Tracker};

use crate::ecs::DevEcs;
use serde_json::Value;

use self::pattern::RulePattern;
use self::script::{Outcome, Script, Timeline};

/// Faults applied to the events the rule matched, before delivery. Probabilities are 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faults {
    /// Chance that an event is delivered twice.
    pub duplicate: f64,
    /// Chance that a task's events are delivered in reverse order (all at once, after it stopped).
    pub reorder: f64,
    /// Chance that an event other than the final STOPPED is not delivered.
    pub drop: f64,
    /// Chance that a task's final STOPPED event is not delivered (as when it is dead-lettered): the
    /// reconciler, which the simulator runs at scaled time, repairs the job from ECS.
    pub drop_final: f64,
    /// Share of the handlers' RunTask calls the emulator's ECS refuses (throttled, or no capacity):
    /// the launch backoff relaunches them ([`crate::ecs::DevEcs`]).
    pub throttle: f64,
    /// Share of the handlers' DynamoDB calls that fail, half before they are sent and half after
    /// they were applied ([`crate::faults`]): the invocation fails and is retried as Lambda
    /// retries it ([`LAMBDA_ASYNC_RETRIES`]).
    pub dynamo: f64,
    /// Seed of the fault decisions; each task's decisions depend only on the seed and its ARN.
    pub seed: u64,
}

impl Faults {
    /// Whether any fault is on.
    pub fn any(&self) -> bool {
        self.duplicate > 0.0
            || self.reorder > 0.0
            || self.drop > 0.0
            || self.drop_final > 0.0
            || self.throttle > 0.0
            || self.dynamo > 0.0
    }
}

/// Simulator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// Real seconds per simulated second (0.1: ten times faster than real time).
    pub time_scale: f64,
    /// How often ECS is polled for new and stopped tasks.
    pub poll_interval: Duration,
    /// Event faults.
    pub faults: Faults,
    /// Write a few log lines per task to its CloudWatch log stream.
    pub write_logs: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            time_scale: 0.1,
            poll_interval: Duration::from_millis(250),
            faults: Faults::default(),
            write_logs: true,
        }
    }
}

/// What happened to one job's events.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct JobStats {
    /// Task state change events emitted.
    pub emitted: u32,
    /// Of those, events the deployed rule's pattern matched.
    pub matched: u32,
    /// Deliveries to the track handler (duplicates count twice).
    pub delivered: u32,
    /// Extra deliveries made by the duplicate fault.
    pub duplicated: u32,
    /// Matched events the drop fault withheld.
    pub dropped: u32,
    /// Of those, final STOPPED events (the drop-final fault): only the reconciler repairs them.
    pub dropped_final: u32,
    /// Whether the reorder fault reversed this task's events.
    pub reordered: bool,
    /// Whether the task was stopped with StopTask.
    pub cancelled: bool,
    /// Whether the STOPPED event has been handled.
    pub finished: bool,
    /// Track invocations that failed (each is retried as Lambda retries an asynchronous
    /// invocation, [`LAMBDA_ASYNC_RETRIES`] times).
    pub errors: u32,
    /// Events whose every try failed: dead-lettered, as on AWS; the reconciler repairs their job.
    pub dead_lettered: u32,
    /// Timer deliveries (run or start deadline, retry, relaunch) whose every try failed:
    /// dead-lettered, as on AWS; the reconciler fires the timer once it is overdue by
    /// `RECONCILE_GRACE`, a time the simulator does not scale.
    pub timers_dead_lettered: u32,
}

/// How often Lambda retries an asynchronous invocation (EventBridge's and Scheduler's targets)
/// that failed: twice, about a minute and then two minutes later (in scaled time here).
pub const LAMBDA_ASYNC_RETRIES: u32 = 2;

/// One ECS task this stack launched, as described by the emulator.
#[derive(Debug, Clone)]
struct TaskFacts {
    task_arn: String,
    cluster_arn: String,
    task_definition_arn: String,
    group: String,
    started_by: String,
    job_id: String,
    cpu: Option<u32>,
    memory: Option<u32>,
    capacity_provider: Option<String>,
    launch_type: Option<String>,
    main_container: String,
    containers: Vec<String>,
    environment: BTreeMap<String, String>,
    architecture: Architecture,
    created_at: DateTime<Utc>,
}

/// Per-task control shared by the poller and the task's lifecycle.
#[derive(Debug, Default)]
struct Control {
    /// Set when the poller saw the task stopped with StopTask: its reason.
    stop_reason: Mutex<Option<String>>,
}

impl Control {
    fn stop_reason(&self) -> Option<String> {
        self.stop_reason.lock().ok().and_then(|g| g.clone())
    }
}

#[derive(Debug, Default)]
struct State {
    seen: HashSet<String>,
    active: HashMap<String, (String, Arc<Control>)>,
    stats: BTreeMap<String, JobStats>,
    /// Timers read once (GetSchedule) and kept until fired: name → (when it fires, in scaled
    /// wall-clock time, and its payload). A schedule is immutable once created, so one read is enough.
    timers: HashMap<String, (DateTime<Utc>, Value)>,
    /// The project's recurring schedules, read once (`None`: disabled, or an expression that does
    /// not recur), firing on the scaled clock.
    recurring: HashMap<String, Option<crate::schedules::Recurring>>,
    /// Per schedule: the runs fired and the deliveries made (a duplicated trigger delivers twice).
    schedule_runs: BTreeMap<String, ScheduleRuns>,
}

/// What the simulator fired of one schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScheduleRuns {
    /// Scheduled times fired.
    pub fired: u32,
    /// Invocations of create-job (more than `fired` when triggers were duplicated).
    pub delivered: u32,
    /// create-job's answers by HTTP-like status.
    pub answers: BTreeMap<u16, u32>,
}

/// The simulator. Cheap to share: [`Simulator::run`] takes an `Arc`.
pub struct Simulator {
    ecs: aws_sdk_ecs::Client,
    scheduler: Option<aws_sdk_scheduler::Client>,
    create_job: Option<Arc<crate::invoke::Functions>>,
    logs: aws_sdk_cloudwatchlogs::Client,
    tracker: Tracker<DevEcs>,
    config: RuntimeConfig,
    pattern: RulePattern,
    options: SimOptions,
    state: Mutex<State>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").field("pattern", &self.pattern).field("options", &self.options).finish()
    }
}

/// A deterministic generator for fault decisions and event ids (splitmix64).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, key: &str) -> Rng {
        // FNV-1a: stable across Rust versions, unlike the std hasher.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(seed ^ h)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn chance(&mut self, p: f64) -> bool {
        // 53 random bits as a fraction in [0, 1).
        p > 0.0 && ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn event_id(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }
}

fn smithy_time(t: Option<&aws_sdk_ecs::primitives::DateTime>) -> Option<DateTime<Utc>> {
    let t = t?;
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

fn offset(t0: DateTime<Utc>, seconds: f64) -> DateTime<Utc> {
    t0 + chrono::Duration::milliseconds((seconds * 1000.0).round() as i64)
}

/// The account and region of an ARN (`arn:aws:ecs:REGION:ACCOUNT:...`).
fn arn_account_region(arn: &str) -> (String, String) {
    let parts: Vec<&str> = arn.split(':').collect();
    (parts.get(4).copied().unwrap_or_default().to_string(), parts.get(3).copied().unwrap_or_default().to_string())
}

impl Simulator {
    /// A simulator for the stack whose handlers use `config`, delivering to `tracker` what
    /// `pattern` (the deployed rule's) matches.
    pub fn new(
        ecs: aws_sdk_ecs::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
        tracker: Tracker<DevEcs>,
        config: RuntimeConfig,
        pattern: RulePattern,
        options: SimOptions,
    ) -> Simulator {
        Simulator {
            ecs,
            scheduler: None,
            create_job: None,
            logs,
            tracker,
            config,
            pattern,
            options,
            state: Mutex::new(State::default()),
        }
    }

    /// Fires the stack's timers (EventBridge Scheduler one-shot schedules in its group) as
    /// Scheduler would, at scaled time: see [`Simulator::fire_due_timers`].
    pub fn with_scheduler(mut self, scheduler: aws_sdk_scheduler::Client) -> Simulator {
        self.scheduler = Some(scheduler);
        self
    }

    /// Fires the project's recurring schedules (`schedule-*` in the group) into `functions`'
    /// create-job, as Scheduler invokes it: see [`Simulator::fire_due_timers`].
    pub fn with_create_job(mut self, functions: Arc<crate::invoke::Functions>) -> Simulator {
        self.create_job = Some(functions);
        self
    }

    /// What the simulator fired of each schedule so far, by schedule name.
    pub fn schedule_runs(&self) -> BTreeMap<String, ScheduleRuns> {
        self.state.lock().map(|s| s.schedule_runs.clone()).unwrap_or_default()
    }

    /// Fires the runs of the project's schedule `name` that are due on the scaled clock (a
    /// schedule read once, and fired from when the simulator first saw it): each is the target's
    /// input with the scheduled time filled in, invoked on create-job, twice when the duplicate
    /// fault picks it (the same scheduled time: the same idempotency key). Returns the runs fired.
    async fn fire_schedule(&self, scheduler: &aws_sdk_scheduler::Client, group: &str, name: &str) -> usize {
        let Some(functions) = &self.create_job else { return 0 };
        let known = self.state.lock().map(|s| s.recurring.contains_key(name)).unwrap_or(true);
        if !known {
            let Ok(read) = scheduler.get_schedule().group_name(group).name(name).send().await else { return 0 };
            let enabled = read.state() != Some(&aws_sdk_scheduler::types::ScheduleState::Disabled);
            let input = read.target().and_then(|t| t.input()).unwrap_or_default().to_string();
            let recurring = read.schedule_expression().filter(|_| enabled).and_then(|expression| {
                let timezone = read.schedule_expression_timezone().unwrap_or("UTC");
                crate::schedules::Recurring::new(expression, timezone, input, Utc::now(), self.options.time_scale)
            });
            if let Ok(mut state) = self.state.lock() {
                state.recurring.insert(name.to_string(), recurring);
            }
        }
        let due = self.state.lock().ok().and_then(|mut s| {
            let recurring = s.recurring.get_mut(name)?.as_mut()?;
            Some((recurring.due(Utc::now(), 10), recurring.input.clone()))
        });
        let Some((due, input)) = due else { return 0 };
        for at in &due {
            let payload = jobgen_runtime::schedule::deliver(&input, *at);
            let twice =
                Rng::new(self.options.faults.seed, &format!("{name}/{at}")).chance(self.options.faults.duplicate);
            for _ in 0..(1 + u32::from(twice)) {
                let deadline = Utc::now().timestamp_millis() + functions.create_job_timeout_ms;
                let answer = functions.create_job.handle_payload(payload.as_bytes(), Some(deadline)).await;
                let status = answer["statusCode"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(0);
                tracing::info!(schedule = %name, scheduled = %at, status, job_id = %answer["jobId"], "simulator: schedule fired");
                if let Ok(mut state) = self.state.lock() {
                    let runs = state.schedule_runs.entry(name.to_string()).or_default();
                    runs.delivered += 1;
                    *runs.answers.entry(status).or_default() += 1;
                }
            }
            if let Ok(mut state) = self.state.lock() {
                state.schedule_runs.entry(name.to_string()).or_default().fired += 1;
            }
        }
        due.len()
    }

    /// Fires every timer that is due, as EventBridge Scheduler does (the emulator stores schedules
    /// but never fires them): lists the stack's schedule group, and for each schedule whose
    /// `at()` time has come — in scaled time, `created + (at - created) × time_scale`, so a 10 min
    /// timeout armed now fires after 1 min at 0.1 — deletes it (`ActionAfterCompletion: DELETE`)
    /// and invokes track with its payload. Returns the timers fired.
    pub async fn fire_due_timers(&self) -> Result<usize, String> {
        let (Some(scheduler), Some(timers)) = (&self.scheduler, &self.config.timers) else {
            return Ok(0);
        };
        let group = timers.group.as_str();
        let mut names = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = scheduler
                .list_schedules()
                .group_name(group)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| format!("ListSchedules {group}: {}", jobgen_ops::aws_error(&e)))?;
            names.extend(out.schedules().iter().filter_map(|s| s.name().map(str::to_string)));
            match out.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => break,
            }
        }
        let scale = self.options.time_scale.max(0.0);
        if let Ok(mut state) = self.state.lock() {
            // Forget the timers that are gone (fired, or disarmed by the handlers).
            let listed: HashSet<&String> = names.iter().collect();
            state.timers.retain(|name, _| listed.contains(name));
            state.recurring.retain(|name, _| listed.contains(name));
        }
        let mut fired = 0;
        for name in names {
            if name.starts_with(jobgen_runtime::schedule::SCHEDULE_NAME_PREFIX) {
                fired += self.fire_schedule(scheduler, group, &name).await;
                continue;
            }
            let known = self.state.lock().ok().and_then(|s| s.timers.get(&name).cloned());
            let (fires_at, input) = match known {
                Some(known) => known,
                None => {
                    let Ok(schedule) = scheduler.get_schedule().group_name(group).name(&name).send().await else {
                        continue;
                    };
                    let at = schedule.schedule_expression().and_then(jobgen_runtime::contract::parse_at_expression);
                    let created = schedule
                        .creation_date()
                        .and_then(|d| DateTime::<Utc>::from_timestamp(d.secs(), d.subsec_nanos()));
                    let input: Option<Value> =
                        schedule.target().and_then(|t| t.input()).and_then(|i| serde_json::from_str(i).ok());
                    let (Some(at), Some(created), Some(input)) = (at, created, input) else { continue };
                    let wait_ms = ((at - created).num_milliseconds().max(0) as f64 * scale) as i64;
                    let entry = (created + chrono::Duration::milliseconds(wait_ms), input);
                    if let Ok(mut state) = self.state.lock() {
                        state.timers.insert(name.clone(), entry.clone());
                    }
                    entry
                }
            };
            if Utc::now() < fires_at {
                continue;
            }
            // Deleted first: a schedule that another poll already fired is not fired twice here.
            let deleted = scheduler.delete_schedule().group_name(group).name(&name).send().await.is_ok();
            if let Ok(mut state) = self.state.lock() {
                state.timers.remove(&name);
            }
            if !deleted {
                continue;
            }
            let job_id = jobgen_runtime::contract::Timer::from_payload(&input).map(|t| t.job_id);
            let (result, _) = self.invoke_track(input).await;
            if let (Err(_), Some(job_id)) = (&result, &job_id) {
                self.with_stats(job_id, |s| s.timers_dead_lettered += 1);
            }
            match result {
                Ok(outcome) => tracing::info!(schedule = %name, outcome = %outcome.to_json(), "simulator: timer fired"),
                Err(e) => tracing::warn!(schedule = %name, error = %e, "simulator: timer fired, track failed"),
            }
            fired += 1;
        }
        Ok(fired)
    }

    /// The deployed pattern in use.
    pub fn pattern(&self) -> &RulePattern {
        &self.pattern
    }

    /// Per-job event statistics so far, by job id.
    pub fn stats(&self) -> BTreeMap<String, JobStats> {
        self.state.lock().map(|s| s.stats.clone()).unwrap_or_default()
    }

    /// Number of tasks whose lifecycle is still being simulated.
    pub fn active_tasks(&self) -> usize {
        self.state.lock().map(|s| s.active.len()).unwrap_or_default()
    }

    fn with_stats(&self, job_id: &str, f: impl FnOnce(&mut JobStats)) {
        if let Ok(mut state) = self.state.lock() {
            f(state.stats.entry(job_id.to_string()).or_default());
        }
    }

    /// Polls ECS until `shutdown` turns true, simulating every task this stack launches, firing
    /// due timers, and running the reconciler every [`contract::RECONCILE_INTERVAL_MINUTES`] of
    /// scaled time (the stack's recurring schedule, which the emulator does not fire).
    pub async fn run(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let every = Duration::from_secs_f64(
            f64::from(jobgen_runtime::contract::RECONCILE_INTERVAL_MINUTES) * 60.0 * self.options.time_scale.max(0.0),
        );
        let mut last_reconcile = Instant::now();
        loop {
            if self.scheduler.is_some() && last_reconcile.elapsed() >= every {
                last_reconcile = Instant::now();
                match self.tracker.handle(jobgen_runtime::contract::reconcile_payload(), Utc::now()).await {
                    Ok(outcome) => tracing::info!(outcome = %outcome.to_json(), "simulator: reconciled"),
                    Err(e) => tracing::warn!(error = %e, "simulator: reconcile failed"),
                }
            }
            if let Err(e) = self.clone().tick().await {
                tracing::warn!(error = %e, "simulator: polling ECS failed; retrying");
            }
            if let Err(e) = self.fire_due_timers().await {
                tracing::warn!(error = %e, "simulator: polling the timers failed; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.options.poll_interval) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    fn clusters(&self) -> Vec<String> {
        let mut clusters = self.config.launch_table.clusters.clone();
        clusters.sort();
        clusters.dedup();
        clusters
    }

    /// One poll: start lifecycles for new tasks, flag tasks stopped with StopTask.
    ///
    /// New tasks are looked for among the RUNNING and the STOPPED ones (desired status): a task
    /// stopped between two polls — create-job stops the task of a job cancelled during its launch
    /// right after RunTask, and the emulator marks it STOPPED at once — would otherwise never be
    /// seen, and its job would never get the STOPPED event real ECS sends for it (see
    /// [`Simulator::needs_lifecycle`]).
    pub async fn tick(self: Arc<Self>) -> Result<(), String> {
        use aws_sdk_ecs::types::DesiredStatus;
        let started_by = self.config.started_by();
        for cluster in self.clusters() {
            let mut arns = Vec::new();
            for desired in [DesiredStatus::Running, DesiredStatus::Stopped] {
                let mut next: Option<String> = None;
                loop {
                    let out = self
                        .ecs
                        .list_tasks()
                        .cluster(&cluster)
                        .started_by(&started_by)
                        .desired_status(desired.clone())
                        .set_next_token(next.take())
                        .send()
                        .await
                        .map_err(|e| format!("ListTasks {cluster}: {}", jobgen_ops::aws_error(&e)))?;
                    arns.extend(out.task_arns().iter().filter(|a| !arns.contains(*a)).cloned().collect::<Vec<_>>());
                    match out.next_token() {
                        Some(t) if !t.is_empty() => next = Some(t.to_string()),
                        _ => break,
                    }
                }
            }
            let (new, active): (Vec<String>, Vec<String>) = match self.state.lock() {
                Ok(state) => (
                    arns.iter().filter(|a| !state.seen.contains(*a)).cloned().collect(),
                    state.active.iter().filter(|(_, (c, _))| *c == cluster).map(|(a, _)| a.clone()).collect(),
                ),
                Err(_) => return Err("simulator state poisoned".into()),
            };
            let wanted: Vec<String> = new.iter().chain(active.iter()).cloned().collect();
            for chunk in wanted.chunks(100) {
                let out = self
                    .ecs
                    .describe_tasks()
                    .cluster(&cluster)
                    .set_tasks(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| format!("DescribeTasks {cluster}: {}", jobgen_ops::aws_error(&e)))?;
                for task in out.tasks() {
                    let Some(arn) = task.task_arn() else { continue };
                    let reason = task.stopped_reason().filter(|r| !r.is_empty()).unwrap_or("Task stopped by user");
                    let stopped = task.desired_status() == Some("STOPPED");
                    if new.iter().any(|a| a == arn) {
                        if !stopped {
                            self.clone().start(&cluster, task, None);
                        } else if self.needs_lifecycle(task).await {
                            self.clone().start(&cluster, task, Some(reason.to_string()));
                        } else if let Ok(mut state) = self.state.lock() {
                            state.seen.insert(arn.to_string());
                        }
                    } else if stopped
                        && let Ok(state) = self.state.lock()
                        && let Some((_, control)) = state.active.get(arn)
                        && let Ok(mut r) = control.stop_reason.lock()
                        && r.is_none()
                    {
                        *r = Some(reason.to_string());
                    }
                }
            }
        }
        Ok(())
    }

    fn facts(&self, task: &aws_sdk_ecs::types::Task) -> Option<TaskFacts> {
        let task_arn = task.task_arn()?.to_string();
        let group = task.group().unwrap_or_default().to_string();
        let (job_id, _) = contract::parse_task_group(&group)?;
        let overrides = task.overrides().map(|o| o.container_overrides()).unwrap_or_default();
        let main =
            overrides.iter().find(|o| o.environment().iter().any(|e| e.name() == Some(contract::TASK_ENV_JOB_ID)))?;
        let main_container = main.name().unwrap_or("main").to_string();
        let environment: BTreeMap<String, String> = main
            .environment()
            .iter()
            .filter_map(|kv| Some((kv.name()?.to_string(), kv.value().unwrap_or_default().to_string())))
            .collect();
        let job_type = environment.get(contract::TASK_ENV_JOB_TYPE).cloned().unwrap_or_default();
        let architecture =
            self.config.launch_table.job_types.get(&job_type).map(|e| e.architecture).unwrap_or(Architecture::X86_64);
        let mut containers: Vec<String> =
            task.containers().iter().filter_map(|c| c.name().map(str::to_string)).collect();
        if !containers.contains(&main_container) {
            containers.insert(0, main_container.clone());
        }
        Some(TaskFacts {
            job_id: job_id.to_string(),
            cluster_arn: task.cluster_arn().unwrap_or_default().to_string(),
            task_definition_arn: task.task_definition_arn().unwrap_or_default().to_string(),
            started_by: task.started_by().unwrap_or_default().to_string(),
            cpu: task.cpu().and_then(|c| c.parse().ok()),
            memory: task.memory().and_then(|m| m.parse().ok()),
            capacity_provider: task.capacity_provider_name().map(str::to_string),
            launch_type: task.launch_type().map(|l| l.as_str().to_string()),
            created_at: smithy_time(task.created_at()).unwrap_or_else(Utc::now),
            group,
            task_arn,
            main_container,
            containers,
            environment,
            architecture,
        })
    }

    /// Whether a task first seen already stopped still needs its lifecycle: yes unless its job's
    /// record already shows this task STOPPED (a task of an earlier `jobgen dev` run, which a
    /// restarted simulator must not replay) or there is no such job.
    async fn needs_lifecycle(&self, task: &aws_sdk_ecs::types::Task) -> bool {
        let Some((job_id, _)) = task.group().and_then(contract::parse_task_group) else { return false };
        match self.tracker.store().get(job_id).await {
            Ok(Some(job)) => {
                !(job.attempt.task_arn.as_deref() == task.task_arn()
                    && job.attempt.ecs_last_status.as_deref() == Some("STOPPED"))
            }
            Ok(None) => false,
            // Unsure: simulate it; track ignores events it already applied (their version is not newer).
            Err(_) => true,
        }
    }

    /// Starts the lifecycle of `task`; `stopped`: it was stopped (with this reason) before the
    /// simulator first saw it, so it goes straight from PROVISIONING to its STOPPED event.
    fn start(self: Arc<Self>, cluster: &str, task: &aws_sdk_ecs::types::Task, stopped: Option<String>) {
        let Some(arn) = task.task_arn() else { return };
        let control = Arc::new(Control { stop_reason: Mutex::new(stopped) });
        let Ok(mut state) = self.state.lock() else { return };
        state.seen.insert(arn.to_string());
        let Some(facts) = self.facts(task) else {
            tracing::debug!(task = arn, "simulator: not a jobgen task of this stack; ignored");
            return;
        };
        state.active.insert(arn.to_string(), (cluster.to_string(), control.clone()));
        state.stats.entry(facts.job_id.clone()).or_default();
        drop(state);
        tokio::spawn(async move {
            let arn = facts.task_arn.clone();
            self.lifecycle(facts, control).await;
            if let Ok(mut state) = self.state.lock() {
                state.active.remove(&arn);
            }
        });
    }

    /// Waits until `at` simulated seconds after `started`; returns the StopTask reason if the task
    /// was stopped meanwhile, with the simulated time it was noticed.
    async fn wait_until(&self, started: Instant, at: f64, control: &Control) -> Option<(String, f64)> {
        let scale = self.options.time_scale.max(0.0);
        loop {
            let elapsed = if scale > 0.0 { started.elapsed().as_secs_f64() / scale } else { f64::INFINITY };
            if let Some(reason) = control.stop_reason() {
                return Some((reason, elapsed.min(at)));
            }
            if elapsed >= at {
                return None;
            }
            let remaining = Duration::from_secs_f64(((at - elapsed) * scale).max(0.0));
            tokio::time::sleep(remaining.min(Duration::from_millis(100))).await;
        }
    }

    /// Fills in what the emulator's DescribeTasks leaves out: task-level cpu and memory, which ECS
    /// reports from the task definition.
    async fn complete(&self, mut facts: TaskFacts) -> TaskFacts {
        if facts.cpu.is_some() && facts.memory.is_some() {
            return facts;
        }
        if let Ok(out) = self.ecs.describe_task_definition().task_definition(&facts.task_definition_arn).send().await
            && let Some(def) = out.task_definition()
        {
            facts.cpu = facts.cpu.or_else(|| def.cpu().and_then(|c| c.parse().ok()));
            facts.memory = facts.memory.or_else(|| def.memory().and_then(|m| m.parse().ok()));
        }
        // moto's CloudFormation drops a task definition's Cpu: report the smallest Fargate size
        // valid for the memory, so the record still gets a cost estimate.
        if facts.cpu.is_none()
            && let Some(memory) = facts.memory
        {
            facts.cpu = jobgen_runtime::fargate::CPU_SIZES.iter().find(|s| s.allows(memory)).map(|s| s.cpu);
        }
        facts
    }

    async fn lifecycle(&self, facts: TaskFacts, control: Arc<Control>) {
        let facts = self.complete(facts).await;
        let (script, problems) = Script::from_env(&facts.environment);
        for p in problems {
            tracing::warn!(job_id = %facts.job_id, "simulator: {p}; using the default");
        }
        let timeline = Timeline::of(&script);
        let mut rng = Rng::new(self.options.faults.seed, &facts.task_arn);
        let reorder = rng.chance(self.options.faults.reorder);
        let mut held: Vec<Value> = Vec::new();
        let t0 = facts.created_at;
        let started = Instant::now();
        let mut d = self.base_detail(&facts);
        let mut version = 1;
        let emit = |d: &TaskDetail, rng: &mut Rng, held: &mut Vec<Value>, last: bool| {
            let event = self.envelope(&facts, d, rng);
            let matched = self.pattern.matches(&event);
            self.with_stats(&facts.job_id, |s| {
                s.emitted += 1;
                s.matched += u32::from(matched);
            });
            if matched {
                let dropped = if last { self.options.faults.drop_final } else { self.options.faults.drop };
                if rng.chance(dropped) {
                    self.with_stats(&facts.job_id, |s| {
                        s.dropped += 1;
                        s.dropped_final += u32::from(last);
                    });
                    return;
                }
                held.push(event.clone());
                if rng.chance(self.options.faults.duplicate) {
                    self.with_stats(&facts.job_id, |s| s.duplicated += 1);
                    held.push(event);
                }
            }
        };

        // PROVISIONING at creation.
        d.last_status = Some("PROVISIONING".into());
        d.version = Some(version);
        emit(&d, &mut rng, &mut held, false);
        self.flush(&facts, &mut held, reorder).await;

        let mut cancel = self.wait_until(started, timeline.pending, &control).await;
        if cancel.is_none() {
            version += 1;
            d.last_status = Some("PENDING".into());
            d.version = Some(version);
            d.updated_at = Some(offset(t0, timeline.pending));
            emit(&d, &mut rng, &mut held, false);
            self.flush(&facts, &mut held, reorder).await;
            cancel = self.wait_until(started, timeline.started.min(timeline.stopping), &control).await;
        }
        let ran = cancel.is_none() && script.outcome.starts();
        if ran {
            version += 1;
            d.last_status = Some("RUNNING".into());
            d.version = Some(version);
            d.pull_started_at = Some(offset(t0, timeline.pull_started));
            d.pull_stopped_at = Some(offset(t0, timeline.pull_stopped));
            d.started_at = Some(offset(t0, timeline.started));
            d.updated_at = d.started_at;
            for c in &mut d.containers {
                c.last_status = Some("RUNNING".into());
            }
            emit(&d, &mut rng, &mut held, false);
            self.flush(&facts, &mut held, reorder).await;
            self.write_logs(&facts, &script, offset(t0, timeline.started), true).await;
            // A job type with `progress: true` gets the table's name: its simulated container
            // reports at the start, halfway and at the end, as a real one would with the one-liner.
            let reports = facts.environment.contains_key(jobgen_runtime::progress::TASK_ENV_PROGRESS_TABLE);
            if reports {
                self.report_progress(&facts, 0, "started", 1).await;
                let halfway = timeline.started + (timeline.stopping - timeline.started) / 2.0;
                cancel = self.wait_until(started, halfway, &control).await;
                if cancel.is_none() {
                    self.report_progress(&facts, 50, "halfway", 2).await;
                }
            }
            if cancel.is_none() {
                cancel = self.wait_until(started, timeline.stopping, &control).await;
            }
            if reports && cancel.is_none() {
                self.report_progress(&facts, 100, "done", 3).await;
            }
        }

        // Stopping: why, and when in simulated time.
        let (stopping_at, stop_code, stopped_reason) = match &cancel {
            Some((reason, at)) => (offset(t0, *at), "UserInitiated", reason.clone()),
            None => match script.outcome {
                Outcome::Succeed | Outcome::Fail | Outcome::Oom => (
                    offset(t0, timeline.stopping),
                    "EssentialContainerExited",
                    "Essential container in task exited".to_string(),
                ),
                Outcome::SpotInterruption => {
                    (offset(t0, timeline.stopping), "SpotInterruption", "Your Spot Task was interrupted.".to_string())
                }
                Outcome::FailToStart => (
                    offset(t0, timeline.stopping),
                    "TaskFailedToStart",
                    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource \
                     retrieval failed: unable to retrieve secret from asm: simulated by jobgen dev"
                        .to_string(),
                ),
                Outcome::ImagePullFailure => (
                    offset(t0, timeline.stopping),
                    "TaskFailedToStart",
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve \
                     ref: not found (simulated by jobgen dev)"
                        .to_string(),
                ),
            },
        };
        let stopped_after = stopping_at + chrono::Duration::seconds(3);
        if cancel.is_some() {
            self.with_stats(&facts.job_id, |s| s.cancelled = true);
        }
        let was_running = d.started_at.is_some();
        for c in &mut d.containers {
            c.last_status = Some("STOPPED".into());
            let main = c.name == facts.main_container;
            if cancel.is_some() {
                c.exit_code = was_running.then_some(143);
            } else {
                match script.outcome {
                    Outcome::Succeed | Outcome::Fail => c.exit_code = Some(if main { script.exit_code } else { 0 }),
                    Outcome::Oom if main => {
                        c.exit_code = Some(137);
                        c.reason = Some("OutOfMemoryError: Container killed due to memory usage".into());
                    }
                    Outcome::Oom => c.exit_code = Some(137),
                    Outcome::SpotInterruption => c.exit_code = Some(143),
                    Outcome::ImagePullFailure if main => c.reason = Some(stopped_reason.clone()),
                    Outcome::ImagePullFailure | Outcome::FailToStart => {}
                }
            }
        }
        if !was_running {
            // A task that never started pulled nothing, unless the pull itself ran and failed.
            if cancel.is_none() && script.outcome == Outcome::ImagePullFailure {
                d.pull_started_at = Some(offset(t0, timeline.pull_started));
                d.pull_stopped_at = Some(offset(t0, timeline.pull_stopped));
            }
            if script.outcome == Outcome::FailToStart || cancel.is_some() {
                d.containers.retain(|_| false);
            }
        }
        version += 1;
        d.last_status = Some("DEPROVISIONING".into());
        d.desired_status = Some("STOPPED".into());
        d.version = Some(version);
        d.stop_code = Some(stop_code.into());
        d.stopped_reason = Some(stopped_reason.clone());
        d.stopping_at = Some(stopping_at);
        d.updated_at = Some(stopping_at);
        emit(&d, &mut rng, &mut held, false);
        self.flush(&facts, &mut held, reorder).await;
        if let Some((_, at)) = &cancel {
            // The STOPPED event comes when deprovisioning ends, whatever the stage.
            let _ = self.wait_until(started, at + 3.0, &Control::default()).await;
        } else {
            let _ = self.wait_until(started, timeline.stopped, &Control::default()).await;
        }
        version += 1;
        d.last_status = Some("STOPPED".into());
        d.version = Some(version);
        d.stopped_at = Some(stopped_after);
        d.updated_at = Some(stopped_after);
        emit(&d, &mut rng, &mut held, true);
        if reorder {
            held.reverse();
            self.with_stats(&facts.job_id, |s| s.reordered = true);
        }
        self.flush(&facts, &mut held, false).await;
        self.write_logs(&facts, &script, stopped_after, false).await;
        if cancel.is_none() {
            // Leave the emulator's ECS as real ECS would be: the task stopped, with its reason (so a
            // restarted simulator does not pick it up again, and DescribeTasks tells the truth).
            let stopped = self
                .ecs
                .stop_task()
                .cluster(&facts.cluster_arn)
                .task(&facts.task_arn)
                .reason(&stopped_reason)
                .send()
                .await;
            if let Err(e) = stopped {
                tracing::debug!(error = %jobgen_ops::aws_error(&e), "simulator: StopTask after STOPPED failed");
            }
        }
        self.with_stats(&facts.job_id, |s| s.finished = true);
    }

    /// Delivers held events now, unless this task's events are being held for reordering.
    async fn flush(&self, facts: &TaskFacts, held: &mut Vec<Value>, holding: bool) {
        if holding {
            return;
        }
        for event in held.drain(..) {
            let (result, failures) = self.invoke_track(event).await;
            self.with_stats(&facts.job_id, |s| {
                s.delivered += 1;
                s.errors += failures;
                s.dead_lettered += u32::from(result.is_err());
            });
            match result {
                Ok(TrackOutcome::Skipped(skip)) => {
                    tracing::warn!(job_id = %facts.job_id, %skip, "simulator: track skipped a matched event")
                }
                Ok(outcome) => tracing::debug!(job_id = %facts.job_id, ?outcome, "simulator: delivered"),
                Err(e) => tracing::warn!(job_id = %facts.job_id, error = %e, "simulator: track failed"),
            }
        }
    }

    /// Invokes track with `input` as Lambda invokes an asynchronous target: a failed invocation is
    /// tried again, [`LAMBDA_ASYNC_RETRIES`] times, a minute and then two minutes of scaled time
    /// later. Returns the last result and how many tries failed.
    async fn invoke_track(&self, input: Value) -> (Result<TrackOutcome, jobgen_runtime::track::TrackError>, u32) {
        let mut failures = 0;
        loop {
            let result = self.tracker.handle(input.clone(), Utc::now()).await;
            if result.is_ok() || failures == LAMBDA_ASYNC_RETRIES {
                let failed = failures + u32::from(result.is_err());
                return (result, failed);
            }
            failures += 1;
            let wait = 60.0 * f64::from(failures) * self.options.time_scale.max(0.0);
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }

    fn base_detail(&self, f: &TaskFacts) -> TaskDetail {
        let env: Vec<Attribute> =
            f.environment.iter().map(|(k, v)| Attribute { name: k.clone(), value: Some(v.clone()) }).collect();
        TaskDetail {
            cluster_arn: Some(f.cluster_arn.clone()),
            task_arn: Some(f.task_arn.clone()),
            task_definition_arn: Some(f.task_definition_arn.clone()),
            group: Some(f.group.clone()),
            started_by: Some(f.started_by.clone()),
            desired_status: Some("RUNNING".into()),
            cpu: f.cpu,
            memory: f.memory,
            capacity_provider_name: f.capacity_provider.clone(),
            launch_type: f.launch_type.clone().or_else(|| f.capacity_provider.is_none().then(|| "FARGATE".into())),
            platform_family: Some("Linux".into()),
            attributes: vec![Attribute {
                name: event::ATTR_CPU_ARCHITECTURE.into(),
                value: Some(f.architecture.ecs_name().to_ascii_lowercase()),
            }],
            containers: f
                .containers
                .iter()
                .map(|name| Container {
                    name: name.clone(),
                    last_status: Some("PENDING".into()),
                    ..Container::default()
                })
                .collect(),
            overrides: Some(Overrides {
                container_overrides: vec![ContainerOverride { name: f.main_container.clone(), environment: env }],
            }),
            created_at: Some(f.created_at),
            updated_at: Some(f.created_at),
            ..TaskDetail::default()
        }
    }

    fn envelope(&self, f: &TaskFacts, d: &TaskDetail, rng: &mut Rng) -> Value {
        let (account, region) = arn_account_region(&f.task_arn);
        let time = d.updated_at.unwrap_or(f.created_at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let envelope = Envelope {
            version: Some("0".into()),
            id: Some(rng.event_id()),
            detail_type: event::DETAIL_TYPE.into(),
            source: event::SOURCE.into(),
            account: Some(account),
            time: Some(time),
            region: Some(region),
            resources: vec![f.task_arn.clone()],
            detail: serde_json::to_value(d).unwrap_or(Value::Null),
        };
        serde_json::to_value(&envelope).unwrap_or(Value::Null)
    }

    /// Writes a progress report as the task's container would, with its role's identity: the
    /// `aws:userid` of an ECS task role session is the role's id and the task id.
    async fn report_progress(&self, f: &TaskFacts, percent: u8, message: &str, seq: u64) {
        let task_id = f.task_arn.rsplit('/').next().unwrap_or_default();
        let user_id = format!("AROAJOBGENDEVTASKROLE:{task_id}");
        let store = self.tracker.store();
        if let Err(e) = store.report_progress(&user_id, &f.job_id, percent, message, seq, Utc::now()).await {
            tracing::warn!(job_id = %f.job_id, error = %e, "simulator: the task's progress report failed");
        }
    }

    async fn write_logs(&self, f: &TaskFacts, script: &Script, at: DateTime<Utc>, starting: bool) {
        if !self.options.write_logs {
            return;
        }
        let Some((group, stream)) =
            jobgen_ops::logs::stream_for(&self.ecs, &f.task_definition_arn, &f.main_container, &f.task_arn).await
        else {
            return;
        };
        let lines: Vec<String> = if starting {
            let mut env: Vec<String> = f.environment.iter().map(|(k, v)| format!("{k}={v}")).collect();
            env.sort();
            vec![
                format!("[jobgen dev] simulated container {} of job {} started", f.main_container, f.job_id),
                format!("[jobgen dev] environment: {}", env.join(" ")),
                format!(
                    "[jobgen dev] script: outcome {:?}, {} s run, exit code {}",
                    script.outcome, script.run_seconds, script.exit_code
                ),
            ]
        } else {
            vec![format!("[jobgen dev] task stopped (job {})", f.job_id)]
        };
        if let Err(e) = jobgen_ops::logs::append(&self.logs, &group, &stream, at, &lines).await {
            tracing::debug!(error = %e, "simulator: log lines not written");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn fault_decisions_depend_only_on_seed_and_task() {
        let mut a = Rng::new(7, "arn:task/1");
        let mut b = Rng::new(7, "arn:task/1");
        let mut c = Rng::new(8, "arn:task/1");
        let xs: Vec<bool> = (0..64).map(|_| a.chance(0.5)).collect();
        let ys: Vec<bool> = (0..64).map(|_| b.chance(0.5)).collect();
        let zs: Vec<bool> = (0..64).map(|_| c.chance(0.5)).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        assert!(!Rng::new(1, "x").chance(0.0));
        assert!(Rng::new(1, "x").chance(1.0));
        assert_eq!(Rng::new(1, "x").event_id().len(), 36);
        assert_eq!(
            arn_account_region("arn:aws:ecs:us-east-1:123456789012:task/c/1"),
            ("123456789012".into(), "us-east-1".into())
        );
    }
}
