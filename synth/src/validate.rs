//! Stage 2: every domain rule that AWS would only enforce at deploy time (or, worse, at run time),
//! checked on the typed [`Config`]. Every rule runs and every problem is collected; each diagnostic
//! names the field path, says what is wrong and why, and how to fix it. Positions are attached
//! afterwards from the parser's span index ([`crate::diagnostics::Report::locate`]).
//!
//! Quotas only the whole stack shows (IAM policy sizes, resource and output counts, names derived
//! from several fields, the template's size) belong to the model stage ([`crate::model::limits`]);
//! the numbers of both are in [`crate::quotas`].

use std::collections::BTreeSet;

use jobgen_runtime::contract::{self, Capacity, PROJECT_TAG, RetryOn};
use jobgen_runtime::fargate::{CPU_SIZES, CpuSize};
use jobgen_runtime::schedule;

use crate::config::{
    Cluster, Config, DEFAULT_INTERVAL_SECONDS, DEFAULT_MAX_DELAY_SECONDS, Duration, ExistingTaskDefinition, JobType,
    MAX_ATTEMPTS, MAX_CONCURRENCY, MAX_DELAY_SECONDS, MAX_RATE, MAX_START_TIMEOUT_SECONDS, MAX_TABLE_RETENTION_DAYS,
    MAX_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS, Network, PolicyStatement, Retry, Task, VERSION,
};
use crate::diagnostics::{Diagnostic, did_you_mean, join};
use crate::names::{MAX_NAME_LEN, logical_id_collisions, name_problem, suggest_name};
use crate::quotas::{
    EPHEMERAL_STORAGE_GIB, LAMBDA_MEMORY_MB, LOG_RETENTION_DAYS, MAX_SECURITY_GROUPS, MAX_SUBNETS, MAX_TAG_KEY_LEN,
    MAX_TAG_VALUE_LEN, MAX_TAGS,
};

/// Longest job id the runtime issues, for the worst-case overrides size (ids are far shorter; the
/// RunTask `clientToken` derived from them is capped at 64 characters).
pub const MAX_JOB_ID_LEN: usize = 64;

/// Checks every rule and returns every problem (empty when the config is valid): the file's, then
/// each environment's ([`crate::environments::check`]).
pub fn validate(config: &Config) -> Vec<Diagnostic> {
    let mut out = validate_deployment(config);
    let environments = crate::environments::check(config, &out, validate_deployment);
    out.extend(environments);
    out
}

/// Every rule of one deployment's config (its `environments` are not looked at).
fn validate_deployment(config: &Config) -> Vec<Diagnostic> {
    let mut v = Validator { out: Vec::new() };
    v.config(config);
    v.out
}

struct Validator {
    out: Vec<Diagnostic>,
}

impl Validator {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>, help: impl Into<String>) {
        self.out.push(Diagnostic::new(path, message, help));
    }

    fn config(&mut self, c: &Config) {
        if c.version != VERSION {
            self.err(
                "version",
                format!("{} is not a supported version: this jobgen reads version {VERSION}", c.version),
                format!("set `version: {VERSION}`"),
            );
        }
        self.name("project.name", &c.project.name, "project name");
        self.tags(c);
        self.clusters(c);
        if let Some(name) = &c.defaults.cluster
            && !c.clusters.contains_key(name)
        {
            self.unknown_cluster("defaults.cluster", name, c);
        }
        if let Some(n) = &c.defaults.network {
            self.network("defaults.network", n);
        }
        self.job_types(c);
        self.limits(c);
        self.table_and_lambda(c);
        self.schedules(c);
        self.progress(c);
    }

    /// Each schedule: its name, a job type of the file, an expression and a time zone Scheduler
    /// takes, an environment create-job accepts for that job type, and an overlap policy that can
    /// work.
    /// `progress: true` grants a statement on the task role jobgen creates: an existing task
    /// definition's role is not jobgen's to change.
    fn progress(&mut self, c: &Config) {
        for (name, jt) in &c.job_types {
            if jt.progress && jt.task.is_none() && jt.task_definition.is_some() {
                self.err(
                    join(&join("job_types", name), "progress"),
                    "an existing task definition's role is not jobgen's: jobgen cannot let it report progress"
                        .to_string(),
                    "describe the task with `task:` instead, or remove `progress`".to_string(),
                );
            }
        }
    }

    fn schedules(&mut self, c: &Config) {
        for (name, sc) in &c.schedules {
            let path = join("schedules", name);
            if !is_schedule_name(name) {
                self.err(
                    &path,
                    format!("`{name}` is not a valid schedule name"),
                    "use lowercase letters, digits and hyphens, starting with a letter, at most 40 characters (e.g. `nightly-report`)",
                );
            }
            let job_type = c.job_types.get(&sc.job_type);
            if job_type.is_none() {
                let known: Vec<&str> = c.job_types.keys().map(String::as_str).collect();
                self.err(
                    join(&path, "job_type"),
                    format!("`{}` is not a job type of this file", sc.job_type),
                    did_you_mean(&sc.job_type, known.iter().copied()).map_or_else(
                        || format!("use one of: {}", known.join(", ")),
                        |m| format!("did you mean `{m}`?"),
                    ),
                );
            }
            if let Err(why) = schedule::Expression::parse(&sc.expression) {
                self.err(
                    join(&path, "expression"),
                    format!("`{}`: {why}", sc.expression),
                    "e.g. `rate(1 hour)`, `rate(15 minutes)` or `cron(0 3 * * ? *)` (03:00 every day)",
                );
            }
            if let Err(why) = schedule::parse_timezone(&sc.timezone) {
                self.err(
                    join(&path, "timezone"),
                    why,
                    "use an IANA name such as `UTC`, `Europe/Paris` or `America/New_York`",
                );
            }
            let allowed = job_type.and_then(|jt| jt.allowed_environment.as_ref());
            for var in sc.environment.keys() {
                let p = join(&join(&path, "environment"), var);
                if !contract::is_env_name(var) || var.starts_with(contract::RESERVED_ENV_PREFIX) {
                    self.err(
                        &p,
                        format!("`{var}` is not a variable name create-job accepts"),
                        "use letters, digits and underscores, not starting with a digit, outside the JOBGEN_ prefix",
                    );
                } else if allowed.is_some_and(|names| !names.contains(var)) {
                    self.err(
                        &p,
                        format!(
                            "job type `{}` does not allow `{var}` (`allowed_environment`): every run would be refused",
                            sc.job_type
                        ),
                        format!("add `{var}` to `job_types.{}.allowed_environment`, or remove it here", sc.job_type),
                    );
                }
            }
            let limited = c.limits.max_concurrency.is_some() || job_type.is_some_and(|jt| jt.max_concurrency.is_some());
            if sc.overlap == schedule::Overlap::Queue && job_type.is_some() && !limited {
                self.err(
                    join(&path, "overlap"),
                    format!("`queue` waits in job type `{}`'s queue, but no concurrency limit applies to it: runs would overlap", sc.job_type),
                    format!("set `job_types.{}.max_concurrency: 1` (runs one after another), or use `overlap: skip`", sc.job_type),
                );
            }
        }
    }

    /// Lowercase letters, digits and hyphens, starting with a letter, at most [`MAX_NAME_LEN`].
    fn name(&mut self, path: &str, name: &str, what: &str) {
        if let Some(why) = name_problem(name) {
            self.err(
                path,
                format!("`{name}` is not a valid {what}: {why}"),
                format!(
                    "use lowercase letters, digits and hyphens, starting with a letter, at most {MAX_NAME_LEN} characters (e.g. `{}`)",
                    suggest_name(name)
                ),
            );
        }
    }

    fn tags(&mut self, c: &Config) {
        let tags = &c.project.tags;
        if tags.len() > MAX_TAGS {
            self.err(
                "project.tags",
                format!("{} tags: AWS allows at most {MAX_TAGS} per resource", tags.len()),
                "remove tags, or combine related values into one tag",
            );
        }
        if let Some(value) = tags.get(PROJECT_TAG)
            && value != &c.project.name
        {
            self.err(
                join("project.tags", PROJECT_TAG),
                format!(
                    "`{value}` is not the project name `{}`: jobgen tags every resource and task with {PROJECT_TAG}, and create-job and track may stop only tasks whose tag names this project",
                    c.project.name
                ),
                format!("remove the tag (jobgen sets it), or set it to `{}`", c.project.name),
            );
        }
        for (k, v) in tags {
            let path = join("project.tags", k);
            if k.is_empty() || k.chars().count() > MAX_TAG_KEY_LEN {
                self.err(
                    &path,
                    format!("tag key is {} characters: AWS allows 1 to {MAX_TAG_KEY_LEN}", k.chars().count()),
                    "shorten the key",
                );
            }
            if k.to_ascii_lowercase().starts_with("aws:") {
                self.err(
                    &path,
                    format!("tag key `{k}` starts with `aws:`: that prefix is reserved for AWS"),
                    "rename the key",
                );
            }
            if v.chars().count() > MAX_TAG_VALUE_LEN {
                self.err(
                    &path,
                    format!("tag value is {} characters: AWS allows at most {MAX_TAG_VALUE_LEN}", v.chars().count()),
                    "shorten the value",
                );
            }
            let bad = |s: &str| s.chars().find(|ch| !(ch.is_alphanumeric() || " _.:/=+-@".contains(*ch)));
            if let Some(ch) = bad(k).or_else(|| bad(v)) {
                self.err(
                    &path,
                    format!("tag `{k}` contains `{ch}`: AWS tags allow letters, digits, spaces and _ . : / = + - @"),
                    "remove or replace the character",
                );
            }
        }
    }

    fn clusters(&mut self, c: &Config) {
        if c.clusters.is_empty() {
            self.err(
                "clusters",
                "no clusters: every job type runs on a cluster",
                "add one, e.g. `clusters: { main: { create: {} } }`",
            );
        }
        self.unique_ids(c.clusters.keys(), "clusters");
        for (name, cluster) in &c.clusters {
            let path = join("clusters", name);
            self.name(&path, name, "cluster name");
            self.cluster(&path, cluster);
        }
    }

    fn cluster(&mut self, path: &str, cluster: &Cluster) {
        match (&cluster.create, &cluster.existing) {
            (Some(_), Some(_)) => self.err(
                path,
                "both `create` and `existing` are set: a cluster is either created by the stack or an existing one",
                "keep `create:` to create a new cluster, or `existing: NAME_OR_ARN` to use one",
            ),
            (None, None) => self.err(
                path,
                "neither `create` nor `existing` is set",
                "add `create: {}` to create a cluster, or `existing: NAME_OR_ARN` to use one",
            ),
            (Some(create), None) => {
                let p = join(path, "create.capacity_providers");
                if create.capacity_providers.is_empty() {
                    self.err(
                        &p,
                        "no capacity providers: tasks could not be placed",
                        "list FARGATE and/or FARGATE_SPOT",
                    );
                }
                let mut seen = std::collections::HashSet::new();
                for (i, cp) in create.capacity_providers.iter().enumerate() {
                    if !seen.insert(*cp) {
                        self.err(
                            format!("{p}[{i}]"),
                            format!("{} is listed twice: ECS rejects duplicate capacity providers", cp.provider_name()),
                            "remove the duplicate",
                        );
                    }
                }
            }
            (None, Some(existing)) => {
                if !is_cluster_ref(existing) {
                    self.err(
                        join(path, "existing"),
                        format!("`{existing}` is neither a cluster name nor a cluster ARN"),
                        "use the name (1-255 letters, digits, - and _) or `arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`",
                    );
                }
            }
        }
    }

    fn unique_ids<'a>(&mut self, names: impl Iterator<Item = &'a String>, section: &str) {
        self.out.extend(logical_id_collisions(names, section));
    }

    fn unknown_cluster(&mut self, path: &str, name: &str, c: &Config) {
        let known: Vec<&str> = c.clusters.keys().map(String::as_str).collect();
        let help = match did_you_mean(name, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? clusters: {}", known.join(", ")),
            None if known.is_empty() => "define it under `clusters:`".to_string(),
            None => format!("use one of the clusters defined under `clusters:`: {}", known.join(", ")),
        };
        self.err(path, format!("cluster `{name}` is not defined under `clusters`"), help);
    }

    fn job_types(&mut self, c: &Config) {
        if c.job_types.is_empty() {
            self.err(
                "job_types",
                "no job types: the stack would have nothing to run",
                "add one under `job_types:` (see `jobgen init`)",
            );
        }
        self.unique_ids(c.job_types.keys(), "job_types");
        for (name, jt) in &c.job_types {
            let path = join("job_types", name);
            self.name(&path, name, "job type name");
            self.job_type(c, &path, name, jt);
        }
    }

    fn job_type(&mut self, c: &Config, path: &str, name: &str, jt: &JobType) {
        // Cluster: its own, the default, or the only one.
        let cluster_name = match (&jt.cluster, &c.defaults.cluster) {
            (Some(n), _) => {
                if !c.clusters.contains_key(n) {
                    self.unknown_cluster(&join(path, "cluster"), n, c);
                }
                Some(n.as_str())
            }
            (None, Some(d)) => Some(d.as_str()),
            (None, None) if c.clusters.len() == 1 => c.clusters.keys().next().map(String::as_str),
            (None, None) => {
                if c.clusters.len() > 1 {
                    let names: Vec<&str> = c.clusters.keys().map(String::as_str).collect();
                    self.err(
                        join(path, "cluster"),
                        format!("no cluster chosen: there are {} clusters and no `defaults.cluster`", c.clusters.len()),
                        format!("set `cluster:` to one of {} here, or set `defaults.cluster`", names.join(", ")),
                    );
                }
                None
            }
        };
        let cluster = cluster_name.and_then(|n| c.clusters.get(n));
        let capacity = jt.capacity.or(c.defaults.capacity).unwrap_or(Capacity::Fargate);
        // Only Spot needs its provider on the cluster: create-job launches FARGATE jobs with
        // RunTask's `launchType: FARGATE`, which runs on any cluster, and FARGATE_SPOT ones with a
        // capacity provider strategy, which needs FARGATE_SPOT associated with the cluster
        // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html).
        if capacity == Capacity::FargateSpot
            && let (Some(cluster), Some(cluster_name)) = (cluster, cluster_name)
            && let Some(create) = &cluster.create
            && !create.capacity_providers.is_empty()
            && !create.capacity_providers.contains(&capacity)
        {
            self.err(
                join(path, "capacity"),
                format!(
                    "job type `{name}` runs on {} but cluster `{cluster_name}` is created without that capacity provider",
                    capacity.provider_name()
                ),
                format!(
                    "add {} to `clusters.{cluster_name}.create.capacity_providers`, or choose another capacity",
                    capacity.provider_name()
                ),
            );
        }

        // Network: its own or the default.
        match (&jt.network, &c.defaults.network) {
            (Some(n), _) => self.network(&join(path, "network"), n),
            (None, Some(_)) => {}
            (None, None) => self.err(
                join(path, "network"),
                "no network: Fargate tasks need subnets (awsvpc) and there is no `defaults.network`",
                "set `defaults.network` (or `network` on this job type) with `subnets:` and `security_groups:`",
            ),
        }

        // The task: exactly one of ours or an existing task definition.
        match (&jt.task, &jt.task_definition) {
            (Some(_), Some(_)) => {
                self.err(
                    path,
                    "both `task` and `task_definition` are set: a job type either defines its task or uses an existing one",
                    "keep `task:` for a task definition jobgen creates, or `task_definition:` for an existing one",
                );
            }
            (None, None) => {
                self.err(
                    path,
                    "neither `task` nor `task_definition` is set: there is nothing to run",
                    "add `task:` with `image`, `cpu` and `memory`, or `task_definition:` with `name` and `container_name`",
                );
            }
            (Some(task), None) => {
                self.task(&join(path, "task"), task);
                self.overrides_size(&join(path, "task.container_name"), name, &task.container_name);
            }
            (None, Some(td)) => {
                self.existing_task_definition(&join(path, "task_definition"), td);
                self.overrides_size(&join(path, "task_definition.container_name"), name, &td.container_name);
            }
        }
        if let Some(names) = &jt.allowed_environment {
            self.allowed_environment(&join(path, "allowed_environment"), names);
        }
        self.lifecycle(path, jt, capacity);
        // ARM64 on FARGATE_SPOT is not checked: Fargate Spot runs ARM64 (Graviton) tasks on platform
        // version 1.4.0 and later, which LATEST is (AWS Batch's RuntimePlatform reference now names
        // only Windows as unsupported on Fargate Spot:
        // https://docs.aws.amazon.com/batch/latest/APIReference/API_RuntimePlatform.html).
    }

    /// The timeouts and the retry policy: each duration readable and within its bounds, and a
    /// policy that can do what it says (something to retry on, a start deadline to retry after,
    /// Spot capacity to fall back from).
    fn lifecycle(&mut self, path: &str, jt: &JobType, capacity: Capacity) {
        let timer = "EventBridge Scheduler fires the timers that enforce it with one-minute precision";
        if let Some(d) = &jt.timeout {
            self.timeout(&join(path, "timeout"), d, MAX_TIMEOUT_SECONDS, "a timeout", timer);
        }
        if let Some(d) = &jt.start_timeout {
            self.timeout(&join(path, "start_timeout"), d, MAX_START_TIMEOUT_SECONDS, "a start timeout", timer);
        }
        if let Some(retry) = &jt.retry {
            self.retry(&join(path, "retry"), retry, jt, capacity);
        }
    }

    /// A duration's seconds, or an error naming the format (`None` then).
    fn duration(&mut self, path: &str, d: &Duration) -> Option<u32> {
        let seconds = d.seconds();
        if seconds.is_none() {
            let text = d.0.trim();
            let why = if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
                format!("`{text}` has no unit: a duration is a whole number and a unit (s, m, h or d)")
            } else {
                format!("`{text}` is not a duration: expected a whole number and a unit (s, m, h or d)")
            };
            let help = match text.parse::<u32>() {
                Ok(n) if Duration::display(n) != format!("{n}s") => {
                    format!("write `{}` (or `{n}s`) for {n} seconds", Duration::display(n))
                }
                Ok(n) => format!("write `{n}s` for {n} seconds (other units: `30m`, `6h`, `2d`)"),
                Err(_) => "write e.g. `90s`, `30m`, `6h` or `2d` (one unit, no spaces)".to_string(),
            };
            self.err(path, why, help);
        }
        seconds
    }

    fn timeout(&mut self, path: &str, d: &Duration, max: u32, what: &str, timer: &str) {
        let Some(seconds) = self.duration(path, d) else { return };
        let (min_s, max_s) = (Duration::display(MIN_TIMEOUT_SECONDS), Duration::display(max));
        if seconds < MIN_TIMEOUT_SECONDS {
            self.err(
                path,
                format!("`{}` is shorter than {min_s}: {timer}", d.0.trim()),
                format!("set {min_s} to {max_s}, or remove the key for no limit"),
            );
        } else if seconds > max {
            self.err(
                path,
                format!("`{}` is longer than {max_s}, the longest jobgen accepts for {what}", d.0.trim()),
                format!("set {min_s} to {max_s} ({timer}), or remove the key for no limit"),
            );
        }
    }

    fn retry(&mut self, path: &str, retry: &Retry, jt: &JobType, capacity: Capacity) {
        if retry.attempts == 0 || retry.attempts > MAX_ATTEMPTS {
            self.err(
                join(path, "attempts"),
                format!(
                    "{} attempts: a retry policy makes 1 to {MAX_ATTEMPTS} attempts in all, the first included",
                    retry.attempts
                ),
                format!("set 2 to {MAX_ATTEMPTS} to retry (1 means no retry), or remove `retry` for one attempt"),
            );
        }
        let backoff = retry.backoff.clone().unwrap_or_default();
        let bpath = join(path, "backoff");
        let interval = match &backoff.interval {
            Some(d) => self.delay(&join(&bpath, "interval"), d),
            None => Some(DEFAULT_INTERVAL_SECONDS),
        };
        if let Some(rate) = backoff.rate
            && !(rate.is_finite() && (1.0..=MAX_RATE).contains(&rate))
        {
            self.err(
                join(&bpath, "rate"),
                format!("{rate} is outside 1 to {MAX_RATE}: the delay bound is multiplied by the rate at each retry"),
                "use 1 for a constant delay, 2 to double it each retry (the default), at most 10",
            );
        }
        if let Some(d) = &backoff.max_delay {
            let max_delay = self.delay(&join(&bpath, "max_delay"), d);
            if let (Some(max_delay), Some(interval)) = (max_delay, interval)
                && max_delay < interval
            {
                let whose = if backoff.interval.is_some() { "" } else { " (the default)" };
                self.err(
                    join(&bpath, "max_delay"),
                    format!(
                        "`{}` is shorter than the interval of {}{whose}: no delay could reach the interval",
                        d.0.trim(),
                        Duration::display(interval)
                    ),
                    format!("set max_delay to {} or more, or shorten `interval`", Duration::display(interval)),
                );
            }
        } else if let Some(interval) = interval
            && interval > DEFAULT_MAX_DELAY_SECONDS
        {
            self.err(
                join(&bpath, "interval"),
                format!(
                    "`{}` is longer than the default max_delay of {}: no delay could reach the interval",
                    Duration::display(interval),
                    Duration::display(DEFAULT_MAX_DELAY_SECONDS)
                ),
                format!("set `max_delay` to {} or more, or shorten the interval", Duration::display(interval)),
            );
        }
        let on_path = join(path, "on");
        if retry.on.as_ref().is_some_and(Vec::is_empty) {
            let all: Vec<&str> = RetryOn::ALL.iter().map(|r| r.as_str()).collect();
            self.err(
                &on_path,
                "the list is empty: nothing would ever retry",
                format!(
                    "list the failures to retry ({}), or remove `on` for the default ({})",
                    all.join(", "),
                    RetryOn::DEFAULT.map(RetryOn::as_str).join(", ")
                ),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, r) in retry.on.iter().flatten().enumerate() {
            if !seen.insert(*r) {
                self.err(
                    format!("{on_path}[{i}]"),
                    format!("`{}` is listed twice", r.as_str()),
                    "remove the duplicate",
                );
            }
        }
        // Only a listed start_timeout is a mistake: the default list names it so that setting a
        // start deadline later retries its failures, and without one no attempt fails that way.
        if jt.start_timeout.is_none()
            && let Some(i) = retry.on.as_ref().and_then(|l| l.iter().position(|r| *r == RetryOn::StartTimeout))
        {
            self.err(
                format!("{on_path}[{i}]"),
                "start_timeout is listed, but the job type sets no `start_timeout`: no attempt could fail that way",
                "set `start_timeout` on the job type (e.g. `start_timeout: 10m`), or remove start_timeout from `on`",
            );
        }
        if retry.spot_fallback && capacity != Capacity::FargateSpot {
            self.err(
                join(path, "spot_fallback"),
                format!(
                    "the job type runs on {}, not FARGATE_SPOT: there is no Spot capacity to fall back from",
                    capacity.provider_name()
                ),
                "remove `spot_fallback`, or set `capacity: FARGATE_SPOT` on the job type",
            );
        }
    }

    /// A backoff duration: readable, from 1s to [`MAX_DELAY_SECONDS`].
    fn delay(&mut self, path: &str, d: &Duration) -> Option<u32> {
        let min_seconds = 1;
        let seconds = self.duration(path, d)?;
        if seconds < min_seconds || seconds > MAX_DELAY_SECONDS {
            self.err(
                path,
                format!(
                    "`{}` is outside {} to {}",
                    d.0.trim(),
                    Duration::display(min_seconds),
                    Duration::display(MAX_DELAY_SECONDS)
                ),
                format!(
                    "set {} to {}, or remove the key for its default",
                    Duration::display(min_seconds),
                    Duration::display(MAX_DELAY_SECONDS)
                ),
            );
            return None;
        }
        Some(seconds)
    }

    /// The names a job's request may set: each one create-job would accept, once.
    fn allowed_environment(&mut self, path: &str, names: &[String]) {
        let mut seen = BTreeSet::new();
        for (i, name) in names.iter().enumerate() {
            let p = format!("{path}[{i}]");
            if !contract::is_env_name(name) {
                self.err(
                    &p,
                    format!("`{name}` is not a valid environment variable name"),
                    "use letters, digits and underscores, not starting with a digit (e.g. `INPUT_KEY`)",
                );
            } else if name.starts_with(contract::RESERVED_ENV_PREFIX) {
                self.err(
                    &p,
                    format!(
                        "`{name}` uses the reserved prefix JOBGEN_: jobgen sets those variables, a request never may"
                    ),
                    "remove it from the list",
                );
            } else if !seen.insert(name) {
                self.err(&p, format!("`{name}` is listed twice"), "remove the duplicate");
            }
        }
    }

    fn network(&mut self, path: &str, n: &Network) {
        let subnets = join(path, "subnets");
        if n.subnets.is_empty() || n.subnets.len() > MAX_SUBNETS {
            self.err(
                &subnets,
                format!("{} subnets: a Fargate task takes 1 to {MAX_SUBNETS}", n.subnets.len()),
                "list the private subnets the tasks should run in (ideally one per availability zone)",
            );
        }
        self.ids(&subnets, &n.subnets, "subnet", "subnet ID");
        let sgs = join(path, "security_groups");
        if n.security_groups.len() > MAX_SECURITY_GROUPS {
            self.err(
                &sgs,
                format!(
                    "{} security groups: a Fargate task takes at most {MAX_SECURITY_GROUPS}",
                    n.security_groups.len()
                ),
                "combine the rules into fewer security groups",
            );
        }
        self.ids(&sgs, &n.security_groups, "sg", "security group ID");
    }

    fn ids(&mut self, path: &str, ids: &[String], prefix: &str, what: &str) {
        let mut seen = BTreeSet::new();
        for (i, id) in ids.iter().enumerate() {
            let p = format!("{path}[{i}]");
            if !is_resource_id(id, prefix) {
                self.err(
                    &p,
                    format!("`{id}` is not a {what}: expected `{prefix}-` and 8 or 17 hex digits"),
                    format!(
                        "copy the ID from the VPC console or `aws ec2 describe-...`, e.g. `{prefix}-0123456789abcdef0`"
                    ),
                );
            } else if !seen.insert(id) {
                self.err(&p, format!("`{id}` is listed twice"), "remove the duplicate");
            }
        }
    }

    fn task(&mut self, path: &str, t: &Task) {
        if t.image.trim().is_empty() {
            self.err(
                join(path, "image"),
                "the image is empty",
                "set the image, e.g. `public.ecr.aws/docker/library/alpine:3.20`",
            );
        } else if t.image.chars().any(char::is_whitespace) {
            self.err(
                join(path, "image"),
                format!("`{}` contains whitespace: image references never do", t.image),
                "remove the spaces; put arguments in `command:` instead",
            );
        }
        match CpuSize::for_cpu(t.cpu) {
            None => {
                let all: Vec<String> = CPU_SIZES.iter().map(|s| s.cpu.to_string()).collect();
                self.err(
                    join(path, "cpu"),
                    format!("{} is not a Fargate cpu value (allowed: {})", t.cpu, all.join(", ")),
                    "pick one of the allowed values (1024 = 1 vCPU)",
                );
            }
            Some(size) if !size.allows(t.memory) => {
                let fitting: Vec<String> =
                    CPU_SIZES.iter().filter(|s| s.allows(t.memory)).map(|s| s.cpu.to_string()).collect();
                let also = if fitting.is_empty() {
                    String::new()
                } else {
                    format!(", or keep {} MiB with cpu {}", t.memory, fitting.join(" or "))
                };
                self.err(
                    join(path, "memory"),
                    format!("{} is not valid with cpu {} (allowed: {})", t.memory, t.cpu, size.describe()),
                    format!("set memory to a value in {}{also}", size.describe()),
                );
            }
            Some(_) => {}
        }
        if let Some(cmd) = &t.command
            && cmd.is_empty()
        {
            self.err(join(path, "command"), "the command is an empty list", "remove `command:` to run the image's CMD");
        }
        self.env(path, t);
        self.container_name(&join(path, "container_name"), &t.container_name);
        if let Some(gib) = t.ephemeral_storage_gib
            && !EPHEMERAL_STORAGE_GIB.contains(&gib)
        {
            self.err(
                join(path, "ephemeral_storage_gib"),
                format!(
                    "{gib} GiB is outside Fargate's range of {}-{} GiB",
                    EPHEMERAL_STORAGE_GIB.start(),
                    EPHEMERAL_STORAGE_GIB.end()
                ),
                "remove the key for the default 20 GiB, or pick 21 to 200",
            );
        }
        self.retention(&join(path, "log_retention_days"), t.log_retention_days);
        for (i, s) in t.policies.iter().enumerate() {
            self.statement(&format!("{}[{i}]", join(path, "policies")), s);
        }
    }

    fn env(&mut self, path: &str, t: &Task) {
        for (section, names) in [("environment", t.environment.keys()), ("secrets", t.secrets.keys())] {
            for name in names {
                let p = join(&join(path, section), name);
                if !contract::is_env_name(name) {
                    self.err(
                        &p,
                        format!("`{name}` is not a valid environment variable name"),
                        "use letters, digits and underscores, not starting with a digit (e.g. `OUTPUT_BUCKET`)",
                    );
                } else if name.starts_with("JOBGEN_") {
                    let reserved = [contract::TASK_ENV_JOB_ID, contract::TASK_ENV_JOB_TYPE, contract::TASK_ENV_ATTEMPT];
                    self.err(
                        &p,
                        format!(
                            "`{name}` uses the reserved prefix JOBGEN_: jobgen sets {} on every task",
                            reserved.join(", ")
                        ),
                        "rename the variable without the JOBGEN_ prefix",
                    );
                }
            }
        }
        for name in t.environment.keys().filter(|k| t.secrets.contains_key(*k)) {
            self.err(
                join(&join(path, "secrets"), name),
                format!("`{name}` is in both `environment` and `secrets`: ECS rejects a variable set twice"),
                "keep it in one of the two",
            );
        }
        for (name, arn) in &t.secrets {
            if !is_secret_arn(arn) {
                self.err(
                    join(&join(path, "secrets"), name),
                    format!("`{arn}` is not an SSM parameter ARN or a Secrets Manager secret ARN"),
                    "use `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME` or `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`",
                );
            }
        }
    }

    fn container_name(&mut self, path: &str, name: &str) {
        if !is_ecs_name(name, 255) {
            self.err(
                path,
                format!("`{name}` is not a valid container name"),
                "use 1-255 letters, digits, hyphens and underscores",
            );
        }
    }

    fn retention(&mut self, path: &str, days: u32) {
        if !LOG_RETENTION_DAYS.contains(&days) {
            let nearest = LOG_RETENTION_DAYS.iter().min_by_key(|d| d.abs_diff(days)).copied().unwrap_or(30);
            let all: Vec<String> = LOG_RETENTION_DAYS.iter().map(u32::to_string).collect();
            self.err(
                path,
                format!("{days} days is not a CloudWatch Logs retention value (allowed: {})", all.join(", ")),
                format!("use an allowed value, e.g. {nearest}"),
            );
        }
    }

    fn statement(&mut self, path: &str, s: &PolicyStatement) {
        if s.actions.is_empty() {
            self.err(
                join(path, "actions"),
                "no actions: the statement would grant nothing",
                "list actions, e.g. `s3:GetObject`",
            );
        }
        for (i, a) in s.actions.iter().enumerate() {
            if !is_iam_action(a) {
                self.err(
                    format!("{}[{i}]", join(path, "actions")),
                    format!("`{a}` is not an IAM action: expected `service:Action`"),
                    "write the service prefix and the action, e.g. `s3:GetObject` (wildcards like `s3:Get*` are allowed)",
                );
            }
        }
        if s.resources.is_empty() {
            self.err(
                join(path, "resources"),
                "no resources: IAM rejects a statement without resources",
                "list the ARNs the task may act on",
            );
        }
        for (i, r) in s.resources.iter().enumerate() {
            if r != "*" && !r.starts_with("arn:") {
                self.err(
                    format!("{}[{i}]", join(path, "resources")),
                    format!("`{r}` is not an ARN"),
                    "write the full ARN, e.g. `arn:aws:s3:::my-bucket/*`",
                );
            }
        }
    }

    fn existing_task_definition(&mut self, path: &str, td: &ExistingTaskDefinition) {
        if !is_task_definition_ref(&td.name) {
            self.err(
                join(path, "name"),
                format!("`{}` is not a task definition family, family:revision or task definition ARN", td.name),
                "use e.g. `my-family`, `my-family:3` or `arn:aws:ecs:REGION:ACCOUNT:task-definition/my-family:3`",
            );
        }
        self.container_name(&join(path, "container_name"), &td.container_name);
        for (key, arn) in [("task_role_arn", &td.task_role_arn), ("execution_role_arn", &td.execution_role_arn)] {
            if let Some(arn) = arn
                && !is_role_arn(arn)
            {
                self.err(
                    join(path, key),
                    format!("`{arn}` is not an IAM role ARN"),
                    "use `arn:aws:iam::ACCOUNT:role/NAME` (copy it from the task definition)",
                );
            }
        }
    }

    /// RunTask rejects `overrides` over 8 KB. jobgen always adds the job's variables to the main
    /// container; this checks that part alone fits with room to spare. The caller's own environment
    /// and command are only known per request, so create-job checks the full size at run time.
    fn overrides_size(&mut self, path: &str, job_type: &str, container: &str) {
        let fixed = fixed_overrides_bytes(job_type, container);
        if fixed > contract::RUN_TASK_OVERRIDES_LIMIT_BYTES / 2 {
            self.err(
                path,
                format!(
                    "the task overrides jobgen adds are {fixed} bytes: RunTask allows {} in total, leaving too little for each job's own environment",
                    contract::RUN_TASK_OVERRIDES_LIMIT_BYTES
                ),
                "use a shorter container name",
            );
        }
    }

    /// Concurrency limits: each 1 to [`MAX_CONCURRENCY`], and no job type's above the project's.
    ///
    /// A job type's limit above the project's is an error, not a warning (jobgen has none): the
    /// project's limit binds first, so the type's could never be reached and the file would say
    /// something the stack never does; the likely intent is a smaller type limit or a larger
    /// project one, and only the author knows which. Equal is fine: one type may use the whole
    /// project's budget.
    fn limits(&mut self, c: &Config) {
        let project = c.limits.max_concurrency;
        if let Some(n) = project {
            self.concurrency("limits.max_concurrency", n, "project");
        }
        for (name, jt) in &c.job_types {
            let Some(n) = jt.max_concurrency else { continue };
            let path = join(&join("job_types", name), "max_concurrency");
            self.concurrency(&path, n, "job type");
            if let Some(p) = project
                && (1..=MAX_CONCURRENCY).contains(&p)
                && n > p
            {
                self.err(
                    &path,
                    format!(
                        "{n} is more than the project's limit of {p} (`limits.max_concurrency`): at most {p} jobs of any type run at once, so this limit could never be reached"
                    ),
                    format!("set it to at most {p}, or raise `limits.max_concurrency` to {n} or more"),
                );
            }
        }
    }

    fn concurrency(&mut self, path: &str, n: u32, whose: &str) {
        if n == 0 {
            self.err(
                path,
                format!("0 would never start a job: a concurrency limit counts the jobs of the {whose} allowed to run at once"),
                "set 1 or more, or remove the key for no limit",
            );
        } else if n > MAX_CONCURRENCY {
            self.err(
                path,
                format!(
                    "{n} is more than {MAX_CONCURRENCY}, the largest concurrency limit jobgen accepts: more tasks than most accounts' Fargate quotas allow at once, so it is most likely a slip"
                ),
                format!("use 1 to {MAX_CONCURRENCY}, or remove the key for no limit"),
            );
        }
    }

    fn table_and_lambda(&mut self, c: &Config) {
        if c.table.retention_days > MAX_TABLE_RETENTION_DAYS {
            self.err(
                "table.retention_days",
                format!("{} days is more than {MAX_TABLE_RETENTION_DAYS} (10 years)", c.table.retention_days),
                "use 0 to keep finished jobs forever, or at most 3650",
            );
        }
        if !LAMBDA_MEMORY_MB.contains(&c.lambda.memory_mb) {
            self.err(
                "lambda.memory_mb",
                format!(
                    "{} MB is outside Lambda's range of {}-{} MB",
                    c.lambda.memory_mb,
                    LAMBDA_MEMORY_MB.start(),
                    LAMBDA_MEMORY_MB.end()
                ),
                "256 is plenty for both handlers",
            );
        }
        self.retention("lambda.log_retention_days", c.lambda.log_retention_days);
        if c.lambda.reserved_concurrency == Some(0) {
            self.err(
                "lambda.reserved_concurrency",
                "0 would stop both functions: Lambda throttles every invocation of a function that reserves no concurrency",
                "reserve 1 or more, or remove the key to leave concurrency to the account",
            );
        }
        if let Some(arn) = &c.alarms.sns_topic_arn
            && !is_sns_topic_arn(arn)
        {
            self.err(
                "alarms.sns_topic_arn",
                format!("`{arn}` is not an SNS topic ARN"),
                "use `arn:aws:sns:REGION:ACCOUNT:TOPIC` of a standard topic in the stack's region",
            );
        }
    }
}

/// The JSON size of the worst-case `overrides` jobgen itself adds for a job type: the main container's
/// name and the three `JOBGEN_*` variables, with the longest job id and attempt number.
pub fn fixed_overrides_bytes(job_type: &str, container: &str) -> usize {
    let var = |name: &str, value: String| serde_json::json!({ "name": name, "value": value });
    let overrides = serde_json::json!({
        "containerOverrides": [{
            "name": container,
            "environment": [
                var(contract::TASK_ENV_JOB_ID, "x".repeat(MAX_JOB_ID_LEN)),
                var(contract::TASK_ENV_JOB_TYPE, job_type.to_string()),
                var(contract::TASK_ENV_ATTEMPT, u32::MAX.to_string()),
            ],
        }],
    });
    overrides.to_string().len()
}

/// 1 to `max` letters, digits, `-` and `_` (ECS names: clusters, families, containers).
/// A schedule name: [`crate::config::SCHEDULE_NAME_PATTERN`].
fn is_schedule_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && s.len() <= 40
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_ecs_name(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` with the given service; returns the resource.
/// `region` false means the region field must be empty (IAM).
fn arn_resource<'a>(s: &'a str, service: &str, region: bool) -> Option<&'a str> {
    let mut parts = s.splitn(6, ':');
    let (arn, partition, svc, reg, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let partition_ok = partition == "aws"
        || partition
            .strip_prefix("aws-")
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
    let region_ok = if region {
        !reg.is_empty() && reg.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    } else {
        reg.is_empty()
    };
    let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    (arn == "arn" && partition_ok && svc == service && region_ok && account_ok && !resource.is_empty())
        .then_some(resource)
}

/// A cluster name or `arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`.
pub fn is_cluster_ref(s: &str) -> bool {
    match arn_resource(s, "ecs", true) {
        Some(res) => res.strip_prefix("cluster/").is_some_and(|n| is_ecs_name(n, 255)),
        None => !s.starts_with("arn:") && is_ecs_name(s, 255),
    }
}

/// `family`, `family:revision` or a task definition ARN (revision optional).
pub fn is_task_definition_ref(s: &str) -> bool {
    let family_rev = |s: &str| match s.split_once(':') {
        Some((family, rev)) => {
            is_ecs_name(family, 255) && !rev.is_empty() && rev.chars().all(|c| c.is_ascii_digit()) && rev != "0"
        }
        None => is_ecs_name(s, 255),
    };
    match arn_resource(s, "ecs", true) {
        Some(res) => res.strip_prefix("task-definition/").is_some_and(family_rev),
        None => !s.starts_with("arn:") && family_rev(s),
    }
}

/// `arn:aws:iam::ACCOUNT:role/[PATH/]NAME`.
pub fn is_role_arn(s: &str) -> bool {
    arn_resource(s, "iam", false).and_then(|r| r.strip_prefix("role/")).is_some_and(|r| {
        let name = r.rsplit('/').next().unwrap_or("");
        !name.is_empty() && name.len() <= 64 && r.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
    })
}

/// An SSM parameter ARN or a Secrets Manager secret ARN (what ECS `secrets[].valueFrom` accepts).
pub fn is_secret_arn(s: &str) -> bool {
    arn_resource(s, "ssm", true).is_some_and(|r| r.strip_prefix("parameter").is_some_and(|n| n.len() > 1))
        || arn_resource(s, "secretsmanager", true)
            .is_some_and(|r| r.strip_prefix("secret:").is_some_and(|n| !n.is_empty()))
}

/// `arn:aws:sns:REGION:ACCOUNT:NAME`, the name 1-256 letters, digits, `-` and `_` (a standard topic).
pub fn is_sns_topic_arn(s: &str) -> bool {
    arn_resource(s, "sns", true).is_some_and(|name| {
        name.len() <= 256 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// `subnet-` / `sg-` followed by 8 or 17 lowercase hex digits.
pub fn is_resource_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).and_then(|r| r.strip_prefix('-')).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17) && hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// `service:Action`, the action possibly with `*`/`?` wildcards.
pub fn is_iam_action(s: &str) -> bool {
    s.split_once(':').is_some_and(|(service, action)| {
        !service.is_empty()
            && service.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !action.is_empty()
            && action.chars().all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_arns() {
        assert!(is_resource_id("subnet-0123abcd", "subnet"));
        assert!(is_resource_id("sg-0123456789abcdef0", "sg"));
        assert!(!is_resource_id("subnet-0123abc", "subnet"));
        assert!(!is_resource_id("sg-0123ABCD", "sg"));
        assert!(!is_resource_id("subnet-0123abcd", "sg"));
        assert!(is_cluster_ref("prod"));
        assert!(is_cluster_ref("arn:aws:ecs:eu-west-1:123456789012:cluster/prod"));
        assert!(is_cluster_ref("arn:aws-cn:ecs:cn-north-1:123456789012:cluster/prod"));
        assert!(!is_cluster_ref("arn:aws:ecs:eu-west-1:12345:cluster/prod"));
        assert!(!is_cluster_ref("prod cluster"));
        assert!(is_task_definition_ref("fam:3"));
        assert!(is_task_definition_ref("arn:aws:ecs:us-east-1:123456789012:task-definition/fam:3"));
        assert!(!is_task_definition_ref("fam:x"));
        assert!(!is_task_definition_ref("fam:0"));
        assert!(is_role_arn("arn:aws:iam::123456789012:role/service/my-role"));
        assert!(!is_role_arn("arn:aws:iam:us-east-1:123456789012:role/x"));
        assert!(is_secret_arn("arn:aws:ssm:us-east-1:123456789012:parameter/app/db"));
        assert!(is_secret_arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"));
        assert!(!is_secret_arn("arn:aws:s3:::bucket"));
        assert!(contract::is_env_name("_A1") && !contract::is_env_name("1A"));
        assert!(is_iam_action("s3:Get*") && !is_iam_action("*") && !is_iam_action("s3"));
        assert!(is_sns_topic_arn("arn:aws:sns:eu-west-1:123456789012:ops-alerts"));
        assert!(!is_sns_topic_arn("arn:aws:sns:eu-west-1:123456789012:ops alerts"));
        assert!(!is_sns_topic_arn("arn:aws:sqs:eu-west-1:123456789012:ops-alerts"));
        assert!(!is_sns_topic_arn("ops-alerts"));
    }

    #[test]
    fn fixed_overrides_fit_with_room_to_spare() {
        // Longest names validation admits: a 32-character job type, a 255-character container name.
        let worst = fixed_overrides_bytes(&"j".repeat(MAX_NAME_LEN), &"c".repeat(255));
        assert!(worst < contract::RUN_TASK_OVERRIDES_LIMIT_BYTES / 2, "{worst}");
        assert!(worst > 255 + MAX_JOB_ID_LEN);
    }
}
