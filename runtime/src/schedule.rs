//! Scheduled jobs: what the generator, create-job, `jobgen dev` and `jobgen schedules` agree on.
//!
//! A schedule of `jobgen.yaml` is an EventBridge Scheduler schedule in the project's group
//! ([`crate::contract::schedule_group`]) named [`schedule_name`], whose target is create-job and
//! whose input is [`input`]: a create-job request whose idempotency key holds Scheduler's
//! `<aws.scheduler.scheduled-time>` context attribute ([`SCHEDULED_TIME`]). Scheduler fills it in
//! with the time the invocation was scheduled for, which a redelivery of that invocation keeps, so
//! a trigger delivered twice names one job and never starts a second one.
//!
//! The request also names its schedule (`schedule`), and the configuration document says what to
//! do when the previous run is still going ([`Overlap`]). Runs of a schedule with
//! [`Overlap::Skip`] are recorded through a pointer item per schedule ([`schedule_item_key`],
//! [`ACTIVE_JOB_ATTR`]), one transaction at a time: see `Store::put_scheduled`.
//!
//! [`Expression`] parses the `rate()` and `cron()` expressions Scheduler takes and computes their
//! next run times in a time zone, for the generator's validation, `jobgen schedules` and the
//! simulator of `jobgen dev`, which fires them at scaled time.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The Scheduler context attribute that becomes the invocation's scheduled time
/// (<https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html>).
pub const SCHEDULED_TIME: &str = "<aws.scheduler.scheduled-time>";

/// The prefix of a user schedule's name in the project's group: no timer name (`run-`, `start-`,
/// `retry-`, `relaunch-`) or the reconciler's starts with it.
pub const SCHEDULE_NAME_PREFIX: &str = "schedule-";

/// The partition key value of a schedule's pointer item in the jobs table: `schedule#<name>`. Job
/// ids never contain `#`, and the item carries none of the indexed attributes.
pub fn schedule_item_key(name: &str) -> String {
    format!("schedule#{name}")
}

/// On a schedule's pointer item: the id of its latest run (string).
pub const ACTIVE_JOB_ATTR: &str = "activeJob";

/// The Scheduler schedule's name for schedule `name`.
pub fn schedule_name(name: &str) -> String {
    format!("{SCHEDULE_NAME_PREFIX}{name}")
}

/// The idempotency key of the run of schedule `name` scheduled for `scheduled_time`.
pub fn idempotency_key(name: &str, scheduled_time: &str) -> String {
    format!("schedule/{name}/{scheduled_time}")
}

/// The create-job request a schedule sends (the schedule target's `Input`), with [`SCHEDULED_TIME`]
/// in its idempotency key.
pub fn input(name: &str, job_type: &str, environment: &BTreeMap<String, String>) -> Value {
    let mut request = json!({
        "jobType": job_type,
        "idempotencyKey": idempotency_key(name, SCHEDULED_TIME),
        "schedule": name,
    });
    if !environment.is_empty() {
        request["environment"] = json!(environment);
    }
    request
}

/// `input` (a schedule target's JSON text) as Scheduler delivers it for a run scheduled at `at`:
/// the context attribute replaced by the time in ISO 8601 (`2026-12-01T10:00:00Z`).
pub fn deliver(input: &str, at: DateTime<Utc>) -> String {
    input.replace(SCHEDULED_TIME, &at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// What a schedule's run does when the previous run of the schedule has not finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Overlap {
    /// The run is skipped: create-job answers 409 `ScheduleOverlap` naming the active run, and
    /// records nothing.
    #[default]
    Skip,
    /// The run is recorded and waits in its job type's queue (the job type or the project has a
    /// concurrency limit; with `max_concurrency: 1` runs never overlap).
    Queue,
}

impl Overlap {
    /// The name in `jobgen.yaml` and the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Skip => "skip",
            Overlap::Queue => "queue",
        }
    }
}

/// A schedule in the configuration document: what create-job checks a scheduled request against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleEntry {
    /// The job type it submits.
    pub job_type: String,
    /// What a run does while the previous one is active.
    pub overlap: Overlap,
}

/// A Scheduler expression that recurs: `rate(N unit)` or `cron(min hour dom month dow year)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    /// Every `every`, counted from the schedule's creation.
    Rate {
        /// The interval.
        every: Duration,
    },
    /// Scheduler's six-field cron.
    Cron(Box<Cron>),
}

/// A parsed `cron()`: the values each field allows (`None`: any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: BTreeSet<u32>,
    hours: BTreeSet<u32>,
    days_of_month: Option<BTreeSet<u32>>,
    months: BTreeSet<u32>,
    /// 1 = Sunday ... 7 = Saturday, as Scheduler counts.
    days_of_week: Option<BTreeSet<u32>>,
    years: Option<BTreeSet<u32>>,
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One cron field's values: `*`, numbers or names, `a-b` ranges, `/step`, comma lists.
fn field(text: &str, what: &str, min: u32, max: u32, names: &[&str]) -> Result<BTreeSet<u32>, String> {
    let value = |token: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(token)) {
            return Ok(min + u32::try_from(i).unwrap_or(0));
        }
        match token.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(format!("{what}: {token:?} is not a value from {min} to {max}")),
        }
    };
    let mut values = BTreeSet::new();
    for part in text.split(',') {
        if part.contains(['L', 'W', '#']) && names.iter().all(|n| !part.to_ascii_uppercase().contains(n)) {
            return Err(format!(
                "{what}: {part:?} uses L, W or #, which jobgen cannot compute next run times for: use a list or a range"
            ));
        }
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => match step.parse::<u32>() {
                Ok(s) if s > 0 => (range, s),
                _ => return Err(format!("{what}: {part:?} has a step that is not a positive number")),
            },
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" => (min, max),
            _ => match range.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if part.contains('/') => (value(range)?, max),
                None => {
                    let v = value(range)?;
                    (v, v)
                }
            },
        };
        if from > to {
            return Err(format!("{what}: {part:?} is a range that runs backwards"));
        }
        values.extend((from..=to).step_by(step as usize));
    }
    Ok(values)
}

impl Expression {
    /// Parses a `rate()` or `cron()` expression; the error says what is wrong in the expression's
    /// own terms. (`at()` is one-shot: the project's timers use it, schedules do not.)
    pub fn parse(text: &str) -> Result<Expression, String> {
        if let Some(inner) = text.strip_prefix("rate(").and_then(|t| t.strip_suffix(')')) {
            let mut words = inner.split_whitespace();
            let (Some(n), Some(unit), None) = (words.next(), words.next(), words.next()) else {
                return Err("rate(): must be rate(N minutes), rate(N hours) or rate(N days)".into());
            };
            let n: i64 = match n.parse() {
                Ok(n) if n > 0 => n,
                _ => return Err(format!("rate(): {n:?} is not a positive whole number")),
            };
            let every = match (unit, n) {
                ("minute", 1) | ("minutes", 2..) => Duration::minutes(n),
                ("hour", 1) | ("hours", 2..) => Duration::hours(n),
                ("day", 1) | ("days", 2..) => Duration::days(n),
                ("minute" | "hour" | "day", _) => return Err(format!("rate(): {n} {unit}: use the plural, {unit}s")),
                ("minutes" | "hours" | "days", _) => {
                    return Err(format!("rate(): 1 {unit}: use the singular, {}", unit.trim_end_matches('s')));
                }
                _ => return Err(format!("rate(): {unit:?} is not a unit: use minutes, hours or days")),
            };
            return Ok(Expression::Rate { every });
        }
        if let Some(inner) = text.strip_prefix("cron(").and_then(|t| t.strip_suffix(')')) {
            let fields: Vec<&str> = inner.split_whitespace().collect();
            let [min, hour, dom, month, dow, year] = fields[..] else {
                return Err(format!(
                    "cron(): has {} fields; Scheduler's cron has six: minutes hours day-of-month month day-of-week year",
                    fields.len()
                ));
            };
            let (days_of_month, days_of_week) = match (dom, dow) {
                ("?", "?") => return Err("cron(): day-of-month and day-of-week are both ?: give one of them".into()),
                ("?", _) => (None, Some(field(dow, "day-of-week", 1, 7, &DAYS)?)),
                (_, "?") => (if dom == "*" { None } else { Some(field(dom, "day-of-month", 1, 31, &[])?) }, None),
                _ => {
                    return Err(
                        "cron(): one of day-of-month and day-of-week must be ? (Scheduler takes one of them)".into()
                    );
                }
            };
            let days_of_week = days_of_week.filter(|d| d.len() < 7);
            return Ok(Expression::Cron(Box::new(Cron {
                minutes: field(min, "minutes", 0, 59, &[])?,
                hours: field(hour, "hours", 0, 23, &[])?,
                days_of_month,
                months: field(month, "month", 1, 12, &MONTHS)?,
                days_of_week,
                years: if year == "*" { None } else { Some(field(year, "year", 1970, 2199, &[])?) },
            })));
        }
        Err("must be rate(N minutes|hours|days) or cron(minutes hours day-of-month month day-of-week year)".into())
    }

    /// The first run strictly after `after`, in time zone `tz` (cron fields are local times; a
    /// local time a daylight-saving change skips does not run, one it repeats runs once, at its
    /// first occurrence). A rate counts from `anchor` (when the schedule was created). `None` when
    /// the expression never runs again (its years are over).
    pub fn next_after<Z: TimeZone>(
        &self,
        after: DateTime<Utc>,
        tz: &Z,
        anchor: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match self {
            Expression::Rate { every } => {
                let step = every.num_milliseconds().max(1);
                let elapsed = (after - anchor).num_milliseconds();
                let k = if elapsed < 0 { 0 } else { elapsed / step + 1 };
                Some(anchor + Duration::milliseconds(k * step))
            }
            Expression::Cron(cron) => cron.next_after(after, tz),
        }
    }
}

impl Cron {
    fn day_matches(&self, date: NaiveDate) -> bool {
        let dow = date.weekday().num_days_from_sunday() + 1;
        self.months.contains(&date.month())
            && self.years.as_ref().is_none_or(|y| y.contains(&u32::try_from(date.year()).unwrap_or(0)))
            && self.days_of_month.as_ref().is_none_or(|d| d.contains(&date.day()))
            && self.days_of_week.as_ref().is_none_or(|d| d.contains(&dow))
    }

    fn next_after<Z: TimeZone>(&self, after: DateTime<Utc>, tz: &Z) -> Option<DateTime<Utc>> {
        let start = after.with_timezone(tz).date_naive();
        let last_year = self.years.as_ref().and_then(|y| y.last().copied());
        // Eight years cover every date pattern (29 February included); a later match needs a year field.
        for offset in 0..(366 * 8) {
            let date = start + Duration::days(offset);
            if last_year.is_some_and(|last| u32::try_from(date.year()).unwrap_or(0) > last) {
                return None;
            }
            if !self.day_matches(date) {
                continue;
            }
            for &hour in &self.hours {
                for &minute in &self.minutes {
                    let Some(local) = date.and_hms_opt(hour, minute, 0) else { continue };
                    let Some(at) = tz.from_local_datetime(&local).earliest() else { continue };
                    let at = at.with_timezone(&Utc);
                    if at > after {
                        return Some(at);
                    }
                }
            }
        }
        None
    }
}

/// Parses an IANA time zone name (`UTC`, `Europe/Paris`), as Scheduler's
/// `ScheduleExpressionTimezone` takes.
pub fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse::<chrono_tz::Tz>()
        .map_err(|_| format!("{name:?} is not an IANA time zone name (e.g. UTC, Europe/Paris)"))
}

/// The next `count` runs of `expression` in `timezone` after `after` (a rate counted from `after`).
pub fn next_runs(
    expression: &str,
    timezone: &str,
    after: DateTime<Utc>,
    count: usize,
) -> Result<Vec<DateTime<Utc>>, String> {
    let expression = Expression::parse(expression)?;
    let tz = parse_timezone(timezone)?;
    let mut runs = Vec::with_capacity(count);
    let mut at = after;
    while runs.len() < count {
        let Some(next) = expression.next_after(at, &tz, after) else { break };
        runs.push(next);
        at = next;
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn rates_count_from_their_anchor() {
        let every = Expression::parse("rate(5 minutes)").unwrap();
        let anchor = t("2026-12-01T10:00:00Z");
        assert_eq!(every.next_after(anchor, &Utc, anchor), Some(t("2026-12-01T10:05:00Z")));
        assert_eq!(every.next_after(t("2026-12-01T10:07:00Z"), &Utc, anchor), Some(t("2026-12-01T10:10:00Z")));
        assert_eq!(Expression::parse("rate(1 hour)").unwrap(), Expression::Rate { every: Duration::hours(1) });
        for (bad, says) in [
            ("rate(1 minutes)", "singular"),
            ("rate(2 minute)", "plural"),
            ("rate(0 minutes)", "positive"),
            ("rate(5 weeks)", "not a unit"),
            ("rate(5)", "rate(N minutes)"),
            ("every 5 minutes", "must be rate"),
        ] {
            let err = Expression::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn cron_fields_lists_ranges_steps_and_names() {
        let weekdays = Expression::parse("cron(0/15 9-10 ? * MON-FRI *)").unwrap();
        // Tuesday 1 December 2026, 10:40 UTC: 10:45 is the day's last run (hours 9-10), then Wednesday.
        let runs: Vec<_> = std::iter::successors(
            weekdays.next_after(t("2026-12-01T10:40:00Z"), &Utc, t("2026-01-01T00:00:00Z")),
            |at| weekdays.next_after(*at, &Utc, *at),
        )
        .take(3)
        .collect();
        assert_eq!(runs, [t("2026-12-01T10:45:00Z"), t("2026-12-02T09:00:00Z"), t("2026-12-02T09:15:00Z")]);
        // Saturday 5 December is skipped: Friday 10:45 is followed by Monday 09:00.
        assert_eq!(
            weekdays.next_after(t("2026-12-04T10:45:00Z"), &Utc, t("2026-01-01T00:00:00Z")),
            Some(t("2026-12-07T09:00:00Z"))
        );
        let monthly = Expression::parse("cron(30 2 1 JAN,JUL ? 2027)").unwrap();
        assert_eq!(
            monthly.next_after(t("2026-12-01T00:00:00Z"), &Utc, t("2026-12-01T00:00:00Z")),
            Some(t("2027-01-01T02:30:00Z"))
        );
        assert_eq!(
            monthly.next_after(t("2027-07-01T02:30:00Z"), &Utc, t("2026-12-01T00:00:00Z")),
            None,
            "its years are over"
        );
        for (bad, says) in [
            ("cron(0 9 * * * *)", "must be ?"),
            ("cron(0 9 ? * ? *)", "both ?"),
            ("cron(0 9 * *)", "six"),
            ("cron(60 9 * * ? *)", "0 to 59"),
            ("cron(0 9 L * ? *)", "L, W or #"),
            ("cron(0 9 ? * 2#1 *)", "L, W or #"),
            ("cron(0 10-9 * * ? *)", "backwards"),
        ] {
            let err = Expression::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn cron_runs_at_local_times_across_daylight_saving() {
        let paris = parse_timezone("Europe/Paris").unwrap();
        let daily = Expression::parse("cron(30 2 * * ? *)").unwrap();
        let anchor = t("2027-01-01T00:00:00Z");
        // Winter: 02:30 in Paris is 01:30 UTC.
        assert_eq!(daily.next_after(t("2027-03-26T12:00:00Z"), &paris, anchor), Some(t("2027-03-27T01:30:00Z")));
        // 28 March 2027: 02:30 does not exist in Paris (clocks go from 02:00 to 03:00): no run that day.
        assert_eq!(daily.next_after(t("2027-03-27T12:00:00Z"), &paris, anchor), Some(t("2027-03-29T00:30:00Z")));
        assert!(parse_timezone("Mars/Olympus").unwrap_err().contains("IANA"));
    }

    #[test]
    fn a_delivered_input_names_one_job_per_scheduled_time() {
        let env = BTreeMap::from([("MODE".to_string(), "full".to_string())]);
        let text = input("nightly", "report", &env).to_string();
        let at = t("2026-12-01T03:00:00Z");
        let delivered: Value = serde_json::from_str(&deliver(&text, at)).unwrap();
        assert_eq!(delivered["idempotencyKey"], "schedule/nightly/2026-12-01T03:00:00Z");
        assert_eq!(delivered["schedule"], "nightly");
        assert_eq!(delivered["environment"]["MODE"], "full");
        assert_eq!(deliver(&text, at), deliver(&text, at), "a redelivery carries the same key");
        assert_ne!(deliver(&text, at), deliver(&text, at + Duration::minutes(1)));
        assert_eq!(
            next_runs("rate(1 minute)", "UTC", at, 2).unwrap(),
            [at + Duration::minutes(1), at + Duration::minutes(2)]
        );
    }
}
