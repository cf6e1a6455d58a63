//! Scripted outcomes: how a simulated task ends, read from the job's own environment (the variables
//! the caller passed to create-job, which reach the task as RunTask container overrides), and the
//! timeline of its ECS lifecycle in simulated seconds.
//!
//! The variables use the `DEV_` prefix because create-job reserves `JOBGEN_` for the variables it
//! sets itself. On AWS they are ordinary environment variables your container may ignore.

use std::collections::BTreeMap;

/// Variable: how the task ends (see [`Outcome`]); default `succeed`.
pub const ENV_OUTCOME: &str = "DEV_OUTCOME";
/// Variable: simulated seconds the container runs (default [`DEFAULT_RUN_SECONDS`]).
pub const ENV_RUN_SECONDS: &str = "DEV_RUN_SECONDS";
/// Variable: the main container's exit code (default 0 for `succeed`, 1 for `fail`).
pub const ENV_EXIT_CODE: &str = "DEV_EXIT_CODE";
/// Simulated run time when [`ENV_RUN_SECONDS`] is not set.
pub const DEFAULT_RUN_SECONDS: f64 = 5.0;

/// How a simulated task ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Runs and exits with [`ENV_EXIT_CODE`] (default 0).
    Succeed,
    /// Runs and exits non-zero ([`ENV_EXIT_CODE`], default 1).
    Fail,
    /// Never starts: stopCode TaskFailedToStart with a ResourceInitializationError, no containers ran.
    FailToStart,
    /// The image cannot be pulled: TaskFailedToStart with CannotPullContainerError.
    ImagePullFailure,
    /// Runs, then Fargate Spot reclaims the capacity: stopCode SpotInterruption.
    SpotInterruption,
    /// Runs, then the container is killed for memory: exit 137, OutOfMemoryError.
    Oom,
}

impl Outcome {
    /// Every outcome with its variable value.
    pub const ALL: [(&'static str, Outcome); 6] = [
        ("succeed", Outcome::Succeed),
        ("fail", Outcome::Fail),
        ("fail-to-start", Outcome::FailToStart),
        ("image-pull-failure", Outcome::ImagePullFailure),
        ("spot-interruption", Outcome::SpotInterruption),
        ("oom", Outcome::Oom),
    ];

    /// Whether the container ever runs.
    pub fn starts(self) -> bool {
        !matches!(self, Outcome::FailToStart | Outcome::ImagePullFailure)
    }
}

/// A script that cannot be followed; the simulator logs it and uses the default.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}={value:?} is not valid: {why}")]
pub struct ScriptError {
    /// The variable.
    pub name: &'static str,
    /// Its value.
    pub value: String,
    /// What is allowed.
    pub why: String,
}

/// What a simulated task does.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// How it ends.
    pub outcome: Outcome,
    /// Simulated seconds the container runs.
    pub run_seconds: f64,
    /// The main container's exit code, when it ran.
    pub exit_code: i32,
}

impl Default for Script {
    fn default() -> Self {
        Script { outcome: Outcome::Succeed, run_seconds: DEFAULT_RUN_SECONDS, exit_code: 0 }
    }
}

impl Script {
    /// Reads the script from a task's environment; every bad value is reported and replaced by its
    /// default, so a typo never stalls a job.
    pub fn from_env(env: &BTreeMap<String, String>) -> (Script, Vec<ScriptError>) {
        let mut errors = Vec::new();
        let mut script = Script::default();
        if let Some(value) = env.get(ENV_OUTCOME) {
            match Outcome::ALL.iter().find(|(name, _)| name.eq_ignore_ascii_case(value.trim())) {
                Some((_, outcome)) => script.outcome = *outcome,
                None => errors.push(ScriptError {
                    name: ENV_OUTCOME,
                    value: value.clone(),
                    why: format!("use one of {}", Outcome::ALL.map(|(n, _)| n).join(", ")),
                }),
            }
        }
        if script.outcome == Outcome::Fail {
            script.exit_code = 1;
        }
        if let Some(value) = env.get(ENV_RUN_SECONDS) {
            match value.trim().parse::<f64>() {
                Ok(s) if s.is_finite() && (0.0..=86_400.0).contains(&s) => script.run_seconds = s,
                _ => errors.push(ScriptError {
                    name: ENV_RUN_SECONDS,
                    value: value.clone(),
                    why: "use seconds between 0 and 86400".into(),
                }),
            }
        }
        if let Some(value) = env.get(ENV_EXIT_CODE) {
            match value.trim().parse::<i32>() {
                Ok(code) if (0..=255).contains(&code) => script.exit_code = code,
                _ => errors.push(ScriptError {
                    name: ENV_EXIT_CODE,
                    value: value.clone(),
                    why: "use a whole number between 0 and 255".into(),
                }),
            }
        }
        if script.outcome == Outcome::Oom {
            script.exit_code = 137;
        }
        (script, errors)
    }
}

/// Simulated seconds after task creation at which each lifecycle step happens (Fargate-like:
/// provisioning the ENI, pulling the image, running, deprovisioning).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeline {
    /// PENDING.
    pub pending: f64,
    /// Image pull starts.
    pub pull_started: f64,
    /// Image pull ends (or fails).
    pub pull_stopped: f64,
    /// RUNNING (the container started).
    pub started: f64,
    /// Stopping begins (DEPROVISIONING).
    pub stopping: f64,
    /// STOPPED.
    pub stopped: f64,
}

impl Timeline {
    /// The timeline of `script`.
    pub fn of(script: &Script) -> Timeline {
        let (pending, pull_started, pull_stopped, started) = (2.0, 3.0, 6.0, 7.0);
        let stopping = match script.outcome {
            Outcome::FailToStart | Outcome::ImagePullFailure => pull_stopped + 1.0,
            _ => started + script.run_seconds,
        };
        Timeline { pending, pull_started, pull_stopped, started, stopping, stopped: stopping + 3.0 }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reads_outcomes_with_defaults_and_reports_bad_values() {
        assert_eq!(Script::from_env(&env(&[])), (Script::default(), vec![]));
        let (s, e) = Script::from_env(&env(&[("DEV_OUTCOME", "fail"), ("DEV_RUN_SECONDS", "30")]));
        assert!(e.is_empty());
        assert_eq!((s.outcome, s.exit_code, s.run_seconds), (Outcome::Fail, 1, 30.0));
        let (s, _) = Script::from_env(&env(&[("DEV_OUTCOME", "fail"), ("DEV_EXIT_CODE", "3")]));
        assert_eq!(s.exit_code, 3);
        let (s, _) = Script::from_env(&env(&[("DEV_OUTCOME", "OOM")]));
        assert_eq!((s.outcome, s.exit_code), (Outcome::Oom, 137));
        let (s, e) = Script::from_env(&env(&[("DEV_OUTCOME", "explode"), ("DEV_RUN_SECONDS", "-1")]));
        assert_eq!(s, Script::default());
        assert_eq!(e.len(), 2);
        assert!(e[0].to_string().contains("fail-to-start"), "{}", e[0]);
    }

    #[test]
    fn timelines_are_ordered_and_failures_never_start() {
        for (_, outcome) in Outcome::ALL {
            let t = Timeline::of(&Script { outcome, ..Script::default() });
            assert!(t.pending < t.pull_started && t.pull_started < t.pull_stopped && t.stopping < t.stopped);
            if outcome.starts() {
                assert!(t.started < t.stopping);
            }
        }
    }
}
