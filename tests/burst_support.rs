//! A burst of jobs drained at the Fargate launch rate, on a simulated clock (included with `#[path]`
//! by `runtime_burst.rs`, the test, and `benches/burst.rs`, the benchmark).
//!
//! The REAL handlers' library (create-job's `create`, track's timer path, the launch service, the
//! launcher's in-call retries) runs against the serial moto emulator: every PutItem, UpdateItem,
//! GetItem, CreateSchedule and DeleteSchedule is a real call. Three things are stood in for:
//! - **RunTask's rate limit** ([`Bucket`]): a token bucket on the simulated clock (ECS: about 20
//!   calls/s sustained, a burst of 100). A call with a token goes to the emulator's RunTask; one
//!   without is answered ThrottlingException and consumes nothing. The launcher's in-call backoff
//!   (0.2/0.4/0.8 s ceilings, full jitter: the default [`RetryPolicy`]) is slept on the simulated
//!   clock by the stand-in before it answers a refusal that the launcher will retry.
//! - **EventBridge Scheduler**: every schedule the handlers create (seen as they send it)
//!   fires at its `at()` time plus a seeded delay within `scheduler_spread` (Scheduler fires within
//!   the minute after the time it is given: timers.rs), as Scheduler does: DeleteSchedule, then track
//!   with the payload.
//! - **Time**: a discrete-event clock ([`Engine`]). It moves to the next due event only when every
//!   invocation in flight has finished or is asleep on it, so the simulated times are independent
//!   of how fast the emulator answers: wall time and simulated time are reported apart.
//!
//! Not modelled: Lambda's concurrency limit and per-call latency (every invocation of a simulated
//! instant runs at that instant), the reconciler's runs (it would fire relaunches overdue by more
//! than 2 minutes, which a timer here never is with a spread of at most 60 s), task events (jobs end STARTING: the burst is about
//! launching them).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use jobgen_runtime::config::TimerSettings;
use jobgen_runtime::contract::{self, Timer, TimerKind};
use jobgen_runtime::create_job::{CreateJob, CreateJobRequest};
use jobgen_runtime::job::JobStatus;
use jobgen_runtime::launch::{LaunchSpec, RetryPolicy};
use jobgen_runtime::launcher::{EcsError, Launcher, RunTaskAnswer, RunTaskApi};
use jobgen_runtime::service::{Clock, LaunchService};
use jobgen_runtime::timers::Timers;
use jobgen_runtime::track::{TrackOutcome, Tracker};
use serde_json::Value;

use crate::runtime_support::{REPORT, World};

/// The scenario.
#[derive(Debug, Clone)]
pub struct BurstOptions {
    /// Jobs submitted at once, at the start.
    pub jobs: usize,
    /// RunTask's bucket: its size (calls it takes at once) and refill (calls per second).
    pub bucket_capacity: f64,
    pub refill_per_second: f64,
    /// Scheduler fires a timer at its `at()` time plus up to this much (seeded per schedule).
    pub scheduler_spread: Duration,
    /// Events started at once (invocations in flight against the emulator, beside those asleep
    /// on the clock): wall time only, since the simulated clock does not move while any runs.
    pub concurrency: usize,
    /// Seed of the stand-ins' draws.
    pub seed: u64,
}

impl BurstOptions {
    /// `jobs` jobs against ECS's RunTask rate (20/s, burst 100), Scheduler firing within the minute.
    pub fn new(jobs: usize) -> BurstOptions {
        BurstOptions {
            jobs,
            bucket_capacity: 100.0,
            refill_per_second: 20.0,
            scheduler_spread: Duration::from_secs(60),
            concurrency: 8,
            seed: 1,
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct BurstReport {
    pub jobs: usize,
    /// RunTask calls made (the launcher's in-call retries included), refused, and accepted.
    pub run_task_calls: u64,
    pub refused: u64,
    pub accepted: u64,
    /// create-job answers: launched at once (201) and accepted with a relaunch coming (202).
    pub launched_at_once: usize,
    pub backing_off_at_once: usize,
    /// Timers the handlers armed, those fired, and how many of them found the job moved on (a no-op).
    pub timers_armed: u64,
    pub timers_fired: u64,
    pub timers_moved_on: u64,
    /// Jobs whose record names a task that is the one ECS task of their attempt.
    pub launched_once: usize,
    /// Jobs that did not end launched: failed for good, or still waiting when nothing was left to fire.
    pub not_launched: Vec<String>,
    /// ECS tasks of the project, and those of an attempt that has another task too.
    pub ecs_tasks: usize,
    pub duplicate_tasks: usize,
    /// Most jobs waiting to launch at once (recorded, no task yet), and when (simulated s).
    pub peak_waiting: usize,
    /// Jobs waiting at the end of each simulated minute.
    pub waiting_by_minute: Vec<usize>,
    /// Most launches recorded in any one simulated second (a window starting at a launch), from
    /// the job records' `launchedAt`; and the bucket's bound for one second (size + refill).
    pub max_launches_in_a_second: usize,
    /// Launches recorded beyond the bucket's bound for the time since the start
    /// (`capacity + rate × t`): must be 0.
    pub launches_over_the_bound: usize,
    /// Simulated time from the burst to the last launch, and the ideal at the refill rate.
    pub drain: Duration,
    pub ideal: Duration,
    /// The largest launch round a job needed, and the rounds of every job together (each a
    /// refused launch recorded with its relaunch timer).
    pub max_round: u32,
    pub rounds: u64,
    pub wall: Duration,
}

/// The discrete-event clock and its agenda.
pub struct Engine {
    now_ms: AtomicI64,
    agenda: Mutex<Agenda>,
    /// Invocations neither finished nor asleep on the clock.
    running: AtomicUsize,
    idle: tokio::sync::Notify,
}

#[derive(Default)]
struct Agenda {
    heap: BinaryHeap<Reverse<(i64, u64)>>,
    events: HashMap<u64, Event>,
    seq: u64,
}

enum Event {
    /// An in-call retry's sleep is over.
    Wake(tokio::sync::oneshot::Sender<()>),
    /// A schedule is due.
    Fire { name: String, input: Value },
    /// A create-job request arrives.
    Submit(usize),
}

impl Engine {
    fn new(start: DateTime<Utc>) -> Arc<Engine> {
        Arc::new(Engine {
            now_ms: AtomicI64::new(start.timestamp_millis()),
            agenda: Mutex::new(Agenda::default()),
            running: AtomicUsize::new(0),
            idle: tokio::sync::Notify::new(),
        })
    }

    /// The simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_ms.load(Ordering::SeqCst)).unwrap()
    }

    fn push(&self, at_ms: i64, event: Event) {
        let mut agenda = self.agenda.lock().unwrap();
        agenda.seq += 1;
        let seq = agenda.seq;
        // Never in the past: a due time already passed is due now.
        let at_ms = at_ms.max(self.now_ms.load(Ordering::SeqCst));
        agenda.heap.push(Reverse((at_ms, seq)));
        agenda.events.insert(seq, event);
    }

    /// Up to `limit` of the events due at the earliest time on the agenda (in the order they were
    /// put there), with that time. The rest stay for the next call: invocations asleep on the
    /// clock hold nothing, so the ones after them are never kept waiting by them.
    fn pop_earliest(&self, limit: usize) -> Option<(i64, Vec<Event>)> {
        let mut agenda = self.agenda.lock().unwrap();
        let Reverse((at, _)) = *agenda.heap.peek()?;
        let mut due = Vec::new();
        while let Some(Reverse((t, seq))) = agenda.heap.peek().copied() {
            if t != at || due.len() >= limit {
                break;
            }
            agenda.heap.pop();
            due.extend(agenda.events.remove(&seq));
        }
        Some((at, due))
    }

    fn finished(&self) {
        if self.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_one();
        }
    }

    /// Sleeps `d` of simulated time.
    async fn sleep(&self, d: Duration) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let at = self.now_ms.load(Ordering::SeqCst) + i64::try_from(d.as_millis()).unwrap();
        self.push(at, Event::Wake(tx));
        self.finished();
        // The engine counts this invocation running again before it wakes it.
        let _ = rx.await;
    }

    async fn until_idle(&self) {
        while self.running.load(Ordering::SeqCst) != 0 {
            self.idle.notified().await;
        }
    }
}

/// One invocation in flight: counted running from its event until it is dropped (a panic too).
struct InFlight(Arc<Engine>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.finished();
    }
}

/// RunTask's token bucket, on the simulated clock.
#[derive(Debug)]
pub struct Bucket {
    capacity: f64,
    rate_per_ms: f64,
    state: Mutex<(f64, i64)>,
}

impl Bucket {
    fn new(capacity: f64, per_second: f64, now_ms: i64) -> Bucket {
        Bucket { capacity, rate_per_ms: per_second / 1000.0, state: Mutex::new((capacity, now_ms)) }
    }

    /// Takes a token at `now_ms`, if there is one.
    fn take(&self, now_ms: i64) -> bool {
        let mut state = self.state.lock().unwrap();
        let (tokens, last) = *state;
        let tokens = (tokens + (now_ms - last).max(0) as f64 * self.rate_per_ms).min(self.capacity);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now_ms.max(last));
            true
        } else {
            *state = (tokens, now_ms.max(last));
            false
        }
    }
}

/// The emulator's ECS behind [`Bucket`]; counts what the report needs.
pub struct BucketEcs {
    ecs: aws_sdk_ecs::Client,
    engine: Arc<Engine>,
    bucket: Bucket,
    /// The launcher's policy whose delays the refusals sleep (the launcher itself sleeps none).
    policy: RetryPolicy,
    seed: u64,
    calls: AtomicU64,
    refused: AtomicU64,
    /// Per clientToken (one attempt): refusals in its current round, and tasks started.
    tokens: Mutex<HashMap<String, (u32, u32)>>,
    waiting: Mutex<Waiting>,
}

#[derive(Debug, Default)]
struct Waiting {
    now: usize,
    peak: usize,
    started: usize,
}

impl BucketEcs {
    fn waiting_now(&self) -> usize {
        self.waiting.lock().unwrap().now
    }
}

/// A handle on [`BucketEcs`] for the launchers (create-job's and track's share one).
#[derive(Clone)]
pub struct Limited(pub Arc<BucketEcs>);

impl RunTaskApi for Limited {
    async fn run_task(&self, spec: &LaunchSpec) -> RunTaskAnswer {
        let this = &self.0;
        this.calls.fetch_add(1, Ordering::SeqCst);
        {
            let mut tokens = this.tokens.lock().unwrap();
            if !tokens.contains_key(&spec.client_token) {
                // The first call of an attempt: the job was recorded just before it.
                tokens.insert(spec.client_token.clone(), (0, 0));
                let mut w = this.waiting.lock().unwrap();
                w.now += 1;
                w.peak = w.peak.max(w.now);
            }
        }
        let now_ms = this.engine.now_ms.load(Ordering::SeqCst);
        if this.bucket.take(now_ms) {
            let answer = RunTaskApi::run_task(&this.ecs, spec).await;
            if let RunTaskAnswer::Started { .. } = &answer {
                let mut tokens = this.tokens.lock().unwrap();
                let entry = tokens.get_mut(&spec.client_token).unwrap();
                entry.0 = 0;
                entry.1 += 1;
                if entry.1 == 1 {
                    let mut w = this.waiting.lock().unwrap();
                    w.now -= 1;
                    w.started += 1;
                }
            }
            return answer;
        }
        this.refused.fetch_add(1, Ordering::SeqCst);
        let refusals = {
            let mut tokens = this.tokens.lock().unwrap();
            let entry = tokens.get_mut(&spec.client_token).unwrap();
            entry.0 += 1;
            entry.0
        };
        if refusals < this.policy.max_tries {
            // The launcher tries again at once (its own policy sleeps nothing): sleep its backoff here.
            let draw = contract::jitter_seed(&format!("{}-{}", this.seed, spec.client_token), refusals);
            this.engine.sleep(this.policy.delay(refusals + 1, draw)).await;
        } else {
            this.tokens.lock().unwrap().get_mut(&spec.client_token).unwrap().0 = 0;
        }
        RunTaskAnswer::Error {
            kind: jobgen_runtime::launch::classify_error_code(Some("ThrottlingException")),
            code: Some("ThrottlingException".into()),
            message: "Rate exceeded".into(),
        }
    }

    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<(), EcsError> {
        RunTaskApi::stop_task(&self.0.ecs, cluster, task_arn, reason).await
    }
}

/// Scheduler's part: sees every schedule the handlers create and puts it on the agenda.
#[derive(Clone)]
struct SchedulerStandIn {
    engine: Arc<Engine>,
    spread: Duration,
    seed: u64,
    created: Arc<AtomicU64>,
    names: Arc<Mutex<std::collections::HashSet<String>>>,
}

impl std::fmt::Debug for SchedulerStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SchedulerStandIn")
    }
}

impl aws_sdk_scheduler::config::Intercept for SchedulerStandIn {
    fn name(&self) -> &'static str {
        "SchedulerStandIn"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_scheduler::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_scheduler::config::RuntimeComponents,
        _cfg: &mut aws_sdk_scheduler::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request();
        if request.method() != "POST" {
            return Ok(());
        }
        let Some(name) = request.uri().split('?').next().and_then(|p| p.rsplit_once("/schedules/")).map(|(_, n)| n)
        else {
            return Ok(());
        };
        let Some(body) = request.body().bytes().and_then(|b| serde_json::from_slice::<Value>(b).ok()) else {
            return Ok(());
        };
        let at = body["ScheduleExpression"].as_str().and_then(contract::parse_at_expression);
        let input = body["Target"]["Input"].as_str().and_then(|i| serde_json::from_str::<Value>(i).ok());
        let (Some(at), Some(input)) = (at, input) else { return Ok(()) };
        // A name is created once: a second request for it is an SDK retry, or a handler arming it
        // again (ConflictException, nothing changes). The emulator creates every schedule asked
        // for here; a fired one it did not have would fail its DeleteSchedule, and the run.
        if !self.names.lock().unwrap().insert(name.to_string()) {
            return Ok(());
        }
        let draw = contract::jitter_seed(&format!("{}-scheduler-{name}", self.seed), 0);
        let spread_ms = (self.spread.as_millis() as f64 * ((draw >> 11) as f64 / (1u64 << 53) as f64)) as i64;
        self.created.fetch_add(1, Ordering::SeqCst);
        self.engine.push(at.timestamp_millis() + spread_ms, Event::Fire { name: name.to_string(), input });
        Ok(())
    }
}

/// Runs the burst in `world` (a fresh project on the serial emulator) and measures it.
pub async fn run(world: &World, options: &BurstOptions) -> BurstReport {
    let wall = Instant::now();
    let project = world.config.project.clone();
    // Start on a minute: the `at()` times (rounded up to the minute) fall the same way every run.
    let start = Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap();
    let engine = Engine::new(start);
    let sdk = jobgen_tests::Moto::shared_serial().sdk_config().await;
    let created = Arc::new(AtomicU64::new(0));
    let stand_in = SchedulerStandIn {
        engine: engine.clone(),
        spread: options.scheduler_spread,
        seed: options.seed,
        created: created.clone(),
        names: Arc::default(),
    };
    let scheduler = aws_sdk_scheduler::Client::from_conf(
        aws_sdk_scheduler::config::Builder::from(&sdk).interceptor(stand_in).build(),
    );
    let group = contract::schedule_group(&project);
    scheduler.create_schedule_group().name(&group).send().await.unwrap();
    let mut config = world.config.clone();
    config.timers = Some(TimerSettings {
        group: group.clone(),
        role_arn: format!("arn:aws:iam::123456789012:role/jobgen/{project}/timers"),
        target_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{project}-track"),
        dlq_arn: format!("arn:aws:sqs:us-east-1:123456789012:{project}-track-dlq"),
    });
    let policy = RetryPolicy::default();
    let ecs = Arc::new(BucketEcs {
        ecs: world.ecs.clone(),
        engine: engine.clone(),
        bucket: Bucket::new(options.bucket_capacity, options.refill_per_second, start.timestamp_millis()),
        policy,
        seed: options.seed,
        calls: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        tokens: Mutex::new(HashMap::new()),
        waiting: Mutex::new(Waiting::default()),
    });
    let clock = {
        let engine = engine.clone();
        Clock::from_fn(move || engine.now())
    };
    let timers = || Some(Timers::new(scheduler.clone(), config.timers.clone().unwrap()));
    let launcher = || Launcher::new(Limited(ecs.clone()), RetryPolicy::immediate(policy.max_tries));
    let create = Arc::new(
        CreateJob::new(world.store(), launcher(), config.clone()).with_timers(timers()).with_clock(clock.clone()),
    );
    let track = Arc::new(Tracker::with_service(
        LaunchService::new(world.store(), launcher(), config.clone()).with_timers(timers()).with_clock(clock),
    ));
    let answers: Arc<Mutex<BTreeMap<usize, (String, JobStatus)>>> = Arc::default();
    let fired = Arc::new(AtomicU64::new(0));
    let moved_on = Arc::new(AtomicU64::new(0));

    for n in 0..options.jobs {
        engine.push(start.timestamp_millis(), Event::Submit(n));
    }
    let mut waiting_by_minute = Vec::new();
    let mut next_minute = start.timestamp_millis() + 60_000;
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        engine.until_idle().await;
        // An invocation that panicked fails the run here, with its message.
        while let Some(done) = tasks.try_join_next() {
            if let Err(e) = done {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        let Some((at, due)) = engine.pop_earliest(options.concurrency.max(1)) else { break };
        while at >= next_minute {
            waiting_by_minute.push(ecs.waiting_now());
            next_minute += 60_000;
        }
        engine.now_ms.store(at, Ordering::SeqCst);
        for event in due {
            engine.running.fetch_add(1, Ordering::SeqCst);
            match event {
                Event::Wake(tx) => {
                    if tx.send(()).is_err() {
                        engine.finished();
                    }
                }
                Event::Submit(n) => {
                    let (engine, create, answers) = (engine.clone(), create.clone(), answers.clone());
                    tasks.spawn(async move {
                        let _in_flight = InFlight(engine.clone());
                        let request = CreateJobRequest {
                            job_type: REPORT.into(),
                            idempotency_key: Some(format!("burst-{n}")),
                            ..CreateJobRequest::default()
                        };
                        let view = create.create(request, engine.now(), None).await.unwrap();
                        answers.lock().unwrap().insert(n, (view.job_id.clone(), view.status));
                    });
                }
                Event::Fire { name, input } => {
                    let (engine, track, scheduler, group, fired, moved_on) = (
                        engine.clone(),
                        track.clone(),
                        scheduler.clone(),
                        group.clone(),
                        fired.clone(),
                        moved_on.clone(),
                    );
                    tasks.spawn(async move {
                        let _in_flight = InFlight(engine.clone());
                        // Deleted first (ActionAfterCompletion: DELETE), then track gets the payload.
                        scheduler.delete_schedule().group_name(&group).name(&name).send().await.unwrap();
                        let timer = Timer::from_payload(&input).unwrap();
                        assert_eq!(timer.kind, TimerKind::Relaunch, "{name}: only relaunch timers in a burst");
                        match track.handle(input, engine.now()).await.unwrap() {
                            TrackOutcome::Timer { action, .. } => {
                                fired.fetch_add(1, Ordering::SeqCst);
                                if action == "moved-on" {
                                    moved_on.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                            other => panic!("{name}: not a timer outcome: {other:?}"),
                        }
                    });
                }
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    waiting_by_minute.push(ecs.waiting_now());

    // The records, and ECS itself.
    let answers = answers.lock().unwrap().clone();
    let store = world.store();
    let mut report = BurstReport {
        jobs: options.jobs,
        run_task_calls: ecs.calls.load(Ordering::SeqCst),
        refused: ecs.refused.load(Ordering::SeqCst),
        timers_armed: created.load(Ordering::SeqCst),
        timers_fired: fired.load(Ordering::SeqCst),
        timers_moved_on: moved_on.load(Ordering::SeqCst),
        peak_waiting: ecs.waiting.lock().unwrap().peak,
        waiting_by_minute,
        ideal: Duration::from_secs_f64(
            (options.jobs as f64 - options.bucket_capacity).max(0.0) / options.refill_per_second,
        ),
        ..BurstReport::default()
    };
    report.accepted = report.run_task_calls - report.refused;
    report.launched_at_once = answers.values().filter(|(_, s)| *s == JobStatus::Starting).count();
    report.backing_off_at_once = answers.values().filter(|(_, s)| *s == JobStatus::LaunchFailed).count();
    let ecs_tasks = task_groups(world).await;
    report.ecs_tasks = ecs_tasks.values().map(Vec::len).sum();
    report.duplicate_tasks = ecs_tasks.values().filter(|t| t.len() > 1).map(|t| t.len() - 1).sum();
    let mut launched_ms = Vec::new();
    for (job_id, _) in answers.values() {
        let job = store.get(job_id).await.unwrap().unwrap();
        report.max_round = report.max_round.max(job.attempt.launch_round.unwrap_or(0));
        report.rounds += u64::from(job.attempt.launch_round.unwrap_or(0));
        let group = contract::task_group(job_id, job.attempt.number);
        let theirs = ecs_tasks.get(&group).cloned().unwrap_or_default();
        match (&job.attempt.task_arn, job.attempt.launched_at) {
            (Some(task), Some(at)) if job.status == JobStatus::Starting && theirs == [task.clone()] => {
                report.launched_once += 1;
                launched_ms.push(at.timestamp_millis());
            }
            _ => report.not_launched.push(format!("{job_id}: {} {:?}", job.status, job.attempt.launch_error)),
        }
    }
    launched_ms.sort_unstable();
    let t0 = start.timestamp_millis();
    report.drain = Duration::from_millis(launched_ms.last().map_or(0, |last| u64::try_from(last - t0).unwrap()));
    let mut lo = 0;
    for (hi, &t) in launched_ms.iter().enumerate() {
        while launched_ms[lo] + 1000 <= t {
            lo += 1;
        }
        report.max_launches_in_a_second = report.max_launches_in_a_second.max(hi - lo + 1);
        let bound = options.bucket_capacity + options.refill_per_second * (t - t0) as f64 / 1000.0;
        report.launches_over_the_bound += usize::from((hi + 1) as f64 > bound.floor());
    }
    report.wall = wall.elapsed();
    report
}

/// The project's ECS tasks by group (`jobgen:<job id>:<attempt>`): ListTasks by startedBy, every page.
async fn task_groups(world: &World) -> BTreeMap<String, Vec<String>> {
    let mut arns = Vec::new();
    let cluster = &world.config.launch_table.clusters[0];
    let mut next = None;
    loop {
        let out = world
            .ecs
            .list_tasks()
            .cluster(cluster)
            .started_by(contract::started_by(&world.config.project))
            .set_next_token(next)
            .send()
            .await
            .unwrap();
        arns.extend(out.task_arns().iter().cloned());
        match out.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for chunk in arns.chunks(100) {
        let out = world.ecs.describe_tasks().cluster(cluster).set_tasks(Some(chunk.to_vec())).send().await.unwrap();
        for task in out.tasks() {
            groups
                .entry(task.group().unwrap_or_default().to_string())
                .or_default()
                .push(task.task_arn().unwrap_or_default().to_string());
        }
    }
    groups
}

impl BurstReport {
    /// The report as a Markdown table row set (BENCHMARKS.md) and a line for the log.
    pub fn summary(&self, options: &BurstOptions) -> String {
        format!(
            "burst: {} jobs (RunTask bucket {} + {}/s, Scheduler spread {} s): {} RunTask calls, {} refused, {} accepted; \
             create-job launched {} at once, {} backing off; {} relaunch timers armed, {} fired ({} moved on), largest launch round {}; \
             {} jobs launched exactly once, {} not launched, {} ECS tasks ({} duplicates); peak {} jobs waiting; \
             most launches in one simulated second {}; {} launches over the bucket's bound; \
             drained in {:.1} simulated s (ideal {:.1} s); wall time {:.1} s; waiting at each simulated minute {:?}",
            self.jobs,
            options.bucket_capacity,
            options.refill_per_second,
            options.scheduler_spread.as_secs(),
            self.run_task_calls,
            self.refused,
            self.accepted,
            self.launched_at_once,
            self.backing_off_at_once,
            self.timers_armed,
            self.timers_fired,
            self.timers_moved_on,
            self.max_round,
            self.launched_once,
            self.not_launched.len(),
            self.ecs_tasks,
            self.duplicate_tasks,
            self.peak_waiting,
            self.max_launches_in_a_second,
            self.launches_over_the_bound,
            self.drain.as_secs_f64(),
            self.ideal.as_secs_f64(),
            self.wall.as_secs_f64(),
            self.waiting_by_minute,
        )
    }
}
