//! The dashboard's pages and fragments: each handler checks its input ([`crate::params`]), calls
//! [`jobgen_ops::Ops`] and renders an embedded minijinja template (HTML auto-escaped).
//!
//! Live updates are fragments the page's script polls: `/jobs/rows` (the list's rows, same query),
//! `/jobs/{id}/panel` (a job's status, timeline and log lines, until it finishes).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use jobgen_ops::stats::TypeStats;
use jobgen_runtime::job::{Attempt, Job, JobStatus, format_ts};
use jobgen_runtime::store::ListFilter;
use minijinja::{Environment, UndefinedBehavior, context};
use serde::Serialize;

use crate::charts::{self, Bar};
use crate::params::{self, BulkAction, ListQuery, StatsQuery};
use crate::{Shared, WebError};

/// The embedded templates (strict undefined, HTML auto-escaping by file extension).
pub fn templates() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template("layout.html", include_str!("../assets/layout.html"))?;
    env.add_template("list.html", include_str!("../assets/list.html"))?;
    env.add_template("rows.html", include_str!("../assets/rows.html"))?;
    env.add_template("detail.html", include_str!("../assets/detail.html"))?;
    env.add_template("panel.html", include_str!("../assets/panel.html"))?;
    env.add_template("confirm.html", include_str!("../assets/confirm.html"))?;
    env.add_template("done.html", include_str!("../assets/done.html"))?;
    env.add_template("stats.html", include_str!("../assets/stats.html"))?;
    env.add_template("queue.html", include_str!("../assets/queue.html"))?;
    Ok(env)
}

fn render(state: &Shared, name: &str, ctx: minijinja::Value) -> Result<Html<String>, WebError> {
    state
        .templates
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map(Html)
        .map_err(|e| WebError::Render(format!("{name}: {e:#}")))
}

/// A query that did not parse (an unknown parameter, a repeated one) is a 400 with serde's words.
fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, WebError> {
    q.map(|Query(v)| v).map_err(|e| WebError::BadRequest(e.body_text()))
}

/// A job as the list and the detail show it.
#[derive(Debug, Serialize)]
struct JobView {
    id: String,
    job_type: String,
    status: &'static str,
    terminal: bool,
    created: String,
    updated: String,
    attempt: u32,
    key: Option<String>,
    exit_code: Option<i32>,
    stop_code: Option<String>,
    stopped_reason: Option<String>,
    failure_class: Option<&'static str>,
    explanation: Option<&'static str>,
    cost: String,
    run: String,
    progress: String,
    cancellable: bool,
    retryable: bool,
}

fn total_cost(job: &Job) -> Option<f64> {
    let costs: Vec<f64> = job.history.iter().chain([&job.attempt]).filter_map(|a| a.cost_usd).collect();
    (!costs.is_empty()).then(|| costs.iter().sum())
}

/// Where the job is in its life, in words: what the operator asks "how far is it".
fn progress(job: &Job, now: DateTime<Utc>) -> String {
    let a = &job.attempt;
    match job.status {
        JobStatus::Queued => "waiting for a slot of its concurrency limit".into(),
        JobStatus::Submitted => "launching (RunTask)".into(),
        JobStatus::Starting => format!("task {}", a.ecs_last_status.as_deref().unwrap_or("starting").to_lowercase()),
        JobStatus::Running => match a.started_at {
            Some(t) => format!("running for {}", charts::seconds(Some((now - t).num_milliseconds().max(0)))),
            None => "running".into(),
        },
        JobStatus::Retrying => match a.retry_at {
            Some(t) => format!("attempt {} due at {}", a.number + 1, format_ts(&t)),
            None => format!("attempt {} due", a.number + 1),
        },
        JobStatus::LaunchFailed if a.relaunch_at.is_some() => "launch throttled: relaunching".into(),
        s => format!("finished: {s}"),
    }
}

fn view(job: &Job, now: DateTime<Utc>) -> JobView {
    let a = &job.attempt;
    JobView {
        id: job.job_id.clone(),
        job_type: job.job_type.clone(),
        status: job.status.as_str(),
        terminal: jobgen_ops::watch_ends(job),
        created: format_ts(&job.created_at),
        updated: format_ts(&job.updated_at),
        attempt: a.number,
        key: job.idempotency_key.clone(),
        exit_code: a.exit_code,
        stop_code: a.stop_code.clone(),
        stopped_reason: a.stopped_reason.clone(),
        failure_class: a.failure_class.map(|c| c.as_str()),
        explanation: a.failure_class.map(|c| c.explanation()),
        cost: total_cost(job).map_or_else(|| "n/a".into(), |c| format!("${c:.6}")),
        run: charts::seconds(a.run_ms),
        progress: progress(job, now),
        cancellable: !job.status.is_terminal(),
        retryable: jobgen_ops::retry::refusal(job, now.timestamp_millis()).is_none(),
    }
}

/// One line of a job's timeline.
#[derive(Debug, Serialize)]
struct Step {
    at: String,
    what: String,
}

/// One attempt as the timeline shows it.
#[derive(Debug, Serialize)]
struct AttemptView {
    number: u32,
    steps: Vec<Step>,
    exit_code: Option<i32>,
    stop_code: Option<String>,
    stopped_reason: Option<String>,
    failure_class: Option<&'static str>,
    explanation: Option<&'static str>,
    launch_error: Option<String>,
    cost: String,
    run: String,
}

fn attempt_view(a: &Attempt) -> AttemptView {
    let mut steps: Vec<(DateTime<Utc>, String)> = [
        (a.launched_at, "launched (RunTask accepted)"),
        (a.task_created_at, "task created"),
        (a.pull_started_at, "image pull started"),
        (a.pull_stopped_at, "image pull finished"),
        (a.started_at, "RUNNING"),
        (a.stopping_at, "stopping (main container exited)"),
        (a.stopped_at, "STOPPED"),
        (a.retry_at, "next attempt due"),
        (a.relaunch_at, "relaunch due"),
    ]
    .into_iter()
    .filter_map(|(t, what)| Some((t?, what.to_string())))
    .collect();
    steps.sort_by_key(|(t, _)| *t);
    AttemptView {
        number: a.number,
        steps: steps.into_iter().map(|(t, what)| Step { at: format_ts(&t), what }).collect(),
        exit_code: a.exit_code,
        stop_code: a.stop_code.clone(),
        stopped_reason: a.stopped_reason.clone(),
        failure_class: a.failure_class.map(|c| c.as_str()),
        explanation: a.failure_class.map(|c| c.explanation()),
        launch_error: a.launch_error.clone(),
        cost: a.cost_usd.map_or_else(|| "n/a".into(), |c| format!("${c:.6}")),
        run: charts::seconds(a.run_ms),
    }
}

/// The jobs one list request shows: a lookup (by id or idempotency key) or one page of the listing.
async fn list_jobs(state: &Shared, p: &params::ListParams) -> Result<(Vec<Job>, Option<String>), WebError> {
    let lookup = match (&p.id, &p.key) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(key)) => Some(jobgen_runtime::create_job::job_id_for_key(key)),
        (None, None) => None,
    };
    if let Some(id) = lookup {
        return match state.ops.job(&id).await {
            Ok(job) => Ok((vec![job], None)),
            Err(jobgen_ops::OpsError::JobNotFound { .. }) => Ok((Vec::new(), None)),
            Err(e) => Err(e.into()),
        };
    }
    let filter = ListFilter { status: p.status, job_type: p.job_type.clone(), open: false };
    let page = state.ops.list_page(&filter, p.since, p.limit, p.page.as_deref()).await?;
    Ok((page.jobs, page.next))
}

fn list_context(p: &params::ListParams, jobs: &[Job], next: Option<String>, now: DateTime<Utc>) -> minijinja::Value {
    let filter = p.filter_query();
    let next_url = next.map(|token| {
        let mut q = filter.clone();
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str("page=");
        q.push_str(&token);
        format!("/?{q}")
    });
    context! {
        jobs => jobs.iter().map(|j| view(j, now)).collect::<Vec<_>>(),
        statuses => JobStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        status => p.status.map(JobStatus::as_str).unwrap_or(""),
        job_type => p.job_type.clone().unwrap_or_default(),
        since => p.since_text.clone().unwrap_or_default(),
        id => p.id.clone().unwrap_or_default(),
        key => p.key.clone().unwrap_or_default(),
        limit => p.limit,
        lookup => p.id.is_some() || p.key.is_some(),
        first_page => p.page.is_none(),
        // A later page or a lookup is not live-refreshed: a listing's first page would replace it.
        rows_url => (p.page.is_none() && p.id.is_none() && p.key.is_none()).then(|| format!("/jobs/rows?{filter}")),
        next_url => next_url,
    }
}

/// `GET /`: the job list.
pub async fn list(
    State(state): State<Shared>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Html<String>, WebError> {
    let now = Utc::now();
    let p = query(q)?.check(now)?;
    let (jobs, next) = list_jobs(&state, &p).await?;
    render(&state, "list.html", list_context(&p, &jobs, next, now))
}

/// `GET /jobs/rows`: the list's rows for the live update (the first page of the same filter).
pub async fn rows(
    State(state): State<Shared>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Html<String>, WebError> {
    let now = Utc::now();
    let p = query(q)?.check(now)?;
    let (jobs, next) = list_jobs(&state, &p).await?;
    render(&state, "rows.html", list_context(&p, &jobs, next, now))
}

/// A log line as shown.
#[derive(Debug, Serialize)]
struct LogView {
    at: String,
    message: String,
}

async fn panel_context(state: &Shared, id: &str) -> Result<minijinja::Value, WebError> {
    let id = params::job_id(id)?;
    let job = state.ops.job(&id).await?;
    let now = Utc::now();
    let attempts: Vec<AttemptView> = job.history.iter().chain([&job.attempt]).map(attempt_view).collect();
    let (logs, log_note) = match state.ops.log_stream(&job).await {
        Ok(Some((group, stream))) => match jobgen_ops::logs::read(&state.ops.logs, &group, &stream).await {
            Ok(Some(lines)) => (
                lines
                    .into_iter()
                    .map(|l| LogView {
                        at: DateTime::from_timestamp_millis(l.timestamp).map(|t| format_ts(&t)).unwrap_or_default(),
                        message: l.message,
                    })
                    .collect(),
                String::new(),
            ),
            Ok(None) => (Vec::new(), format!("no log stream {stream} in {group} yet")),
            Err(e) => (Vec::new(), format!("the log lines could not be read: {e}")),
        },
        Ok(None) => (Vec::new(), "the job has no task with a log stream yet".to_string()),
        Err(e) => (Vec::new(), format!("the log stream could not be found: {e}")),
    };
    Ok(context! {
        job => view(&job, now),
        created => format_ts(&job.created_at),
        cancelled => job.cancelled_at.as_ref().map(format_ts),
        attempts => attempts,
        logs => logs,
        log_note => log_note,
    })
}

/// `GET /jobs/{id}`: one job.
pub async fn detail(State(state): State<Shared>, Path(id): Path<String>) -> Result<Html<String>, WebError> {
    let ctx = panel_context(&state, &id).await?;
    render(&state, "detail.html", ctx)
}

/// `GET /jobs/{id}/panel`: the job's live part (status, timeline, logs).
pub async fn panel(State(state): State<Shared>, Path(id): Path<String>) -> Result<Html<String>, WebError> {
    let ctx = panel_context(&state, &id).await?;
    render(&state, "panel.html", ctx)
}

/// `POST /jobs/{id}/cancel`: cancel one job, then back to it.
pub async fn cancel(State(state): State<Shared>, Path(id): Path<String>) -> Result<Redirect, WebError> {
    let id = params::job_id(&id)?;
    state.ops.cancel(&id, "jobgen dashboard: cancelled by the operator").await?;
    Ok(Redirect::to(&format!("/jobs/{id}")))
}

/// `POST /jobs/{id}/retry`: retry one job, then back to it.
pub async fn retry(State(state): State<Shared>, Path(id): Path<String>) -> Result<Redirect, WebError> {
    let id = params::job_id(&id)?;
    state.ops.retry(&id).await?;
    Ok(Redirect::to(&format!("/jobs/{id}")))
}

/// What a bulk action would do, or did, to one job.
#[derive(Debug, Serialize)]
struct BulkLine {
    id: String,
    status: String,
    outcome: String,
    ok: bool,
}

/// `POST /actions`: a bulk cancel or retry. Without `confirm=yes` it only reads the selected
/// jobs and asks, saying how many it will touch (and which it would skip, with why); with it, it
/// acts on each and reports each outcome.
pub async fn bulk(State(state): State<Shared>, body: String) -> Result<Html<String>, WebError> {
    let form = params::bulk_form(&body)?;
    let now = Utc::now();
    let mut lines = Vec::new();
    for id in &form.ids {
        let line = match state.ops.job(id).await {
            Err(e) => BulkLine { id: id.clone(), status: "?".into(), outcome: e.to_string(), ok: false },
            Ok(job) if !form.confirmed => {
                let why = match form.action {
                    BulkAction::Cancel if job.status.is_terminal() => {
                        Some(format!("already finished ({}): nothing to cancel", job.status))
                    }
                    BulkAction::Cancel => None,
                    BulkAction::Retry => jobgen_ops::retry::refusal(&job, now.timestamp_millis()),
                };
                BulkLine {
                    id: id.clone(),
                    status: job.status.as_str().into(),
                    ok: why.is_none(),
                    outcome: why.unwrap_or_else(|| format!("will {}", form.action.as_str())),
                }
            }
            Ok(job) => {
                let result = match form.action {
                    BulkAction::Cancel => state
                        .ops
                        .cancel(id, "jobgen dashboard: bulk cancel")
                        .await
                        .map(|(j, stopped)| format!("{}{}", j.status, if stopped { ", task stopped" } else { "" })),
                    BulkAction::Retry => {
                        state.ops.retry(id).await.map(|r| format!("{} (attempt {})", r.action, r.job.attempt.number))
                    }
                };
                match result {
                    Ok(outcome) => BulkLine { id: id.clone(), status: job.status.as_str().into(), outcome, ok: true },
                    Err(e) => BulkLine {
                        id: id.clone(),
                        status: job.status.as_str().into(),
                        outcome: e.to_string(),
                        ok: false,
                    },
                }
            }
        };
        lines.push(line);
    }
    let touched = lines.iter().filter(|l| l.ok).count();
    let ctx = context! {
        action => form.action.as_str(),
        lines => lines,
        touched => touched,
        total => form.ids.len(),
        ids => form.ids,
    };
    render(&state, if form.confirmed { "done.html" } else { "confirm.html" }, ctx)
}

/// One day's figures of one type, for the daily charts.
#[derive(Debug, Serialize)]
struct DayRow {
    day: String,
    job_type: String,
    jobs: usize,
    finished: usize,
    success_rate: Option<f64>,
    cost: f64,
}

fn finished(s: &TypeStats) -> usize {
    s.by_status.iter().filter(|(name, _)| JobStatus::parse(name).is_terminal()).map(|(_, n)| n).sum()
}

/// Success rate over the finished jobs.
fn success_rate(s: &TypeStats) -> Option<f64> {
    let done = finished(s);
    (done > 0).then(|| s.by_status.get("SUCCEEDED").copied().unwrap_or(0) as f64 / done as f64)
}

/// `GET /stats`: per job type, the figures of `jobgen stats` and charts of them.
pub async fn stats(
    State(state): State<Shared>,
    q: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Html<String>, WebError> {
    let (since, since_text, job_type) = query(q)?.check(Utc::now())?;
    let report = state.ops.stats_with_days(job_type.as_deref(), since).await?;
    let mut durations = Vec::new();
    for t in &report.report.types {
        for (name, s) in [("wait", &t.queue_wait), ("start-up", &t.startup), ("run", &t.run)] {
            for (p, v) in [("p50", s.p50_ms), ("p95", s.p95_ms)] {
                durations.push(Bar {
                    label: format!("{} {p} {name}", t.job_type),
                    value: v.map(|ms| ms as f64 / 1000.0),
                    text: charts::seconds(v),
                });
            }
        }
    }
    let mut days = Vec::new();
    for (day, types) in &report.days {
        for t in types {
            days.push(DayRow {
                day: day.to_string(),
                job_type: t.job_type.clone(),
                jobs: t.jobs,
                finished: finished(t),
                success_rate: success_rate(t),
                cost: t.cost_total_usd,
            });
        }
    }
    let success: Vec<Bar> = days
        .iter()
        .map(|d| Bar {
            label: format!("{} {}", d.day, d.job_type),
            value: d.success_rate.map(|r| r * 100.0),
            text: d.success_rate.map_or_else(|| "n/a".into(), |r| format!("{:.0}% of {}", r * 100.0, d.finished)),
        })
        .collect();
    let cost: Vec<Bar> = days
        .iter()
        .map(|d| Bar {
            label: format!("{} {}", d.day, d.job_type),
            value: Some(d.cost),
            text: format!("${:.6}", d.cost),
        })
        .collect();
    let types: Vec<BTreeMap<&str, String>> = report
        .report
        .types
        .iter()
        .map(|t| {
            BTreeMap::from([
                ("job_type", t.job_type.clone()),
                ("jobs", t.jobs.to_string()),
                ("succeeded", t.by_status.get("SUCCEEDED").copied().unwrap_or(0).to_string()),
                ("success_rate", success_rate(t).map_or_else(|| "n/a".into(), |r| format!("{:.0}%", r * 100.0))),
                ("wait_p50", charts::seconds(t.queue_wait.p50_ms)),
                ("wait_p95", charts::seconds(t.queue_wait.p95_ms)),
                ("startup_p50", charts::seconds(t.startup.p50_ms)),
                ("startup_p95", charts::seconds(t.startup.p95_ms)),
                ("run_p50", charts::seconds(t.run.p50_ms)),
                ("run_p95", charts::seconds(t.run.p95_ms)),
                ("retries", t.retries.to_string()),
                ("cost", format!("${:.6}", t.cost_total_usd)),
            ])
        })
        .collect();
    let ctx = context! {
        since => since_text,
        since_at => format_ts(&since),
        job_type => job_type.unwrap_or_default(),
        types => types,
        durations_chart => minijinja::Value::from_safe_string(charts::bars("durations", "p50 / p95 of wait, start-up and run time (s)", &durations)),
        success_chart => minijinja::Value::from_safe_string(charts::bars("success", "success rate per day (finished jobs)", &success)),
        cost_chart => minijinja::Value::from_safe_string(charts::bars("cost", "cost per day (USD)", &cost)),
    };
    render(&state, "stats.html", ctx)
}

/// `GET /queue`: per queue, the slots held against the limit and the queued jobs in start order.
pub async fn queue(State(state): State<Shared>) -> Result<Html<String>, WebError> {
    let queues = state.ops.queues(&state.queues, 50).await?;
    let now = Utc::now();
    let views: Vec<minijinja::Value> = queues
        .iter()
        .map(|q| {
            context! {
                key => q.queue_key.clone(),
                running => q.running,
                limit => q.limit,
                queued => q.queued.iter().map(|j| view(j, now)).collect::<Vec<_>>(),
                more => q.more,
            }
        })
        .collect();
    render(&state, "queue.html", context! { queues => views, configured => !state.queues.is_empty() })
}

/// `GET /assets/{name}`: the embedded script and style.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.js" => (include_str!("../assets/app.js"), "text/javascript; charset=utf-8"),
        "app.css" => (include_str!("../assets/app.css"), "text/css; charset=utf-8"),
        _ => return WebError::NotFound(format!("no asset {name}")).into_response(),
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_load() {
        let env = templates().unwrap();
        assert!(env.get_template("list.html").is_ok());
    }

    #[test]
    fn an_attempt_timeline_is_in_time_order() {
        let t = |s: i64| DateTime::from_timestamp(1_767_225_600 + s, 0).unwrap();
        let a = Attempt {
            number: 1,
            launched_at: Some(t(1)),
            started_at: Some(t(5)),
            stopped_at: Some(t(9)),
            task_created_at: Some(t(2)),
            ..Attempt::default()
        };
        let v = attempt_view(&a);
        let what: Vec<&str> = v.steps.iter().map(|s| s.what.as_str()).collect();
        assert_eq!(what, ["launched (RunTask accepted)", "task created", "RUNNING", "STOPPED"]);
    }
}
