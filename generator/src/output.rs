//! Rendering at the CLI edge: aligned tables, the `status` view, `watch` lines, pretty JSON, and
//! config reports. Libraries return data; only this module decides how a person sees it.

use std::io::Write;
use std::time::Duration;

use jobgen_ops::queue::QueueEstimate;
use jobgen_ops::retry::RetryReport;
use jobgen_ops::stats::{StatsReport, Summary};
use jobgen_runtime::job::{Job, format_ts};
use serde_json::{Value, json};

/// Output format of the operator commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable tables.
    #[default]
    Table,
    /// JSON for scripts (one document on stdout).
    Json,
}

fn secs(ms: Option<i64>) -> String {
    ms.map(|ms| format!("{:.1}s", ms as f64 / 1000.0)).unwrap_or_else(|| "-".into())
}

/// One row of the job table: what `list`, `watch` and the demo summary print.
pub fn job_row(job: &Job) -> Vec<String> {
    let a = &job.attempt;
    vec![
        job.job_id.clone(),
        job.job_type.clone(),
        job.status.to_string(),
        a.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
        a.failure_class.map(|c| c.as_str().to_string()).unwrap_or_else(|| "-".into()),
        secs(a.wait_ms),
        secs(a.run_ms),
        a.cost_usd.map(|c| format!("${c:.6}")).unwrap_or_else(|| "-".into()),
        format_ts(&job.created_at),
    ]
}

/// Column headers of [`job_row`].
pub const JOB_COLUMNS: [&str; 9] = ["JOB ID", "TYPE", "STATUS", "EXIT", "FAILURE", "WAIT", "RUN", "COST", "CREATED"];

/// Renders rows as an aligned text table.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// The `status` view: every attribute that is set, one per line, as a person reads it (durations,
/// times instead of epoch numbers, a rounded cost, the failure class explained; `--output json`
/// has the raw record), then `extra` lines (a queued job's position and estimated start).
pub fn job_details(job: &Job, extra: &[(String, String)]) -> String {
    let mut lines: Vec<(String, String)> = Vec::new();
    if let Value::Object(map) = job.to_json() {
        for (k, v) in map {
            let text = readable(&k, &v);
            lines.push((k, text));
        }
    }
    lines.extend(extra.iter().cloned());
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    lines.iter().map(|(k, text)| format!("{k:<width$}  {text}\n")).collect()
}

/// One attribute's value as `status` shows it.
fn readable(key: &str, value: &Value) -> String {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| format_ts(&t)).unwrap_or_else(|| value.to_string());
    match (key, value) {
        (k, Value::Number(n)) if k.ends_with("Ms") && n.as_i64().is_some() => duration(n.as_i64().unwrap_or(0)),
        ("costUsd", Value::Number(n)) => match n.as_f64() {
            Some(usd) if usd >= 0.01 => format!("${usd:.2} (estimate)"),
            Some(usd) => format!("${usd:.6} (estimate)"),
            None => n.to_string(),
        },
        ("expiresAt", Value::Number(n)) => {
            format!("{} (the record's TTL)", time(n.as_i64().and_then(|s| chrono::DateTime::from_timestamp(s, 0))))
        }
        ("leaseUntil", Value::Number(n)) => time(n.as_i64().and_then(chrono::DateTime::from_timestamp_millis)),
        ("failureClass", Value::String(class)) => {
            let explained = serde_json::from_value::<jobgen_runtime::job::FailureClass>(value.clone())
                .map(|c| c.explanation())
                .unwrap_or("");
            if explained.is_empty() { class.clone() } else { format!("{class}: {explained}") }
        }
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// A duration in milliseconds as a person reads it: `850 ms`, `7.0 s`, `2 min 5 s`, `3 h 20 min`.
pub fn duration(ms: i64) -> String {
    let s = ms / 1000;
    match ms {
        ..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// The `status` lines of a queued job's place and estimated start, marked as estimates.
pub fn queue_lines(job: &Job, estimate: &QueueEstimate) -> Vec<(String, String)> {
    let start = match &estimate.estimated_start_at {
        Some(at) => format!(
            "{} (an estimate: {} {} job(s) stopped in the last hour)",
            format_ts(at),
            estimate.completions_last_hour,
            job.job_type
        ),
        None => {
            format!("unknown (an estimate needs recent completions: no {} job stopped in the last hour)", job.job_type)
        }
    };
    vec![
        (
            "queuePosition".into(),
            format!(
                "{} in queue {} (1 = next; an estimate from the queue index)",
                estimate.position, estimate.queue_key
            ),
        ),
        ("estimatedStartAt".into(), start),
    ]
}

/// The `retry` summary line.
pub fn retry_line(report: &RetryReport) -> String {
    let job = &report.job;
    let what = match report.action.as_str() {
        "retried" => format!("attempt {} started", job.attempt.number),
        "queued" => format!("attempt {} is QUEUED for a slot of its concurrency limit", job.attempt.number),
        _ => format!("attempt {} was already started", job.attempt.number),
    };
    format!(
        "retried job {} ({}, attempt {}): {what}; now {} (track: {})",
        job.job_id, report.previous_status, report.retried_attempt, job.status, report.action
    )
}

fn ms_text(ms: Option<i64>) -> String {
    if ms.is_some() { secs(ms) } else { "n/a".into() }
}

fn summary_row(job_type: &str, figure: &str, s: &Summary) -> Vec<String> {
    vec![
        job_type.to_string(),
        figure.to_string(),
        s.count.to_string(),
        ms_text(s.p50_ms),
        ms_text(s.p95_ms),
        ms_text(s.max_ms),
    ]
}

/// The `stats` tables: one row per job type (counts, retries, cost), then the duration figures.
pub fn stats_tables(report: &StatsReport) -> String {
    if report.types.is_empty() {
        return format!("no jobs created since {}\n", format_ts(&report.since));
    }
    let counts = |m: &std::collections::BTreeMap<String, usize>| {
        let parts: Vec<String> = m.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{k} {n}")).collect();
        if parts.is_empty() { "-".to_string() } else { parts.join(", ") }
    };
    let rows: Vec<Vec<String>> = report
        .types
        .iter()
        .map(|t| {
            vec![
                t.job_type.clone(),
                t.jobs.to_string(),
                counts(&t.by_status),
                counts(&t.by_failure_class),
                format!("{} ({} job(s))", t.retries, t.jobs_retried),
                t.cost_mean_usd.map(|c| format!("${c:.6}")).unwrap_or_else(|| "n/a".into()),
                format!("${:.6}", t.cost_total_usd),
            ]
        })
        .collect();
    let mut out = format!("jobs created since {}\n", format_ts(&report.since));
    out.push_str(&render_table(&["TYPE", "JOBS", "STATUS", "FAILURES", "RETRIES", "COST/JOB", "COST TOTAL"], &rows));
    out.push('\n');
    let figures: Vec<Vec<String>> = report
        .types
        .iter()
        .flat_map(|t| {
            [
                summary_row(&t.job_type, "queue wait", &t.queue_wait),
                summary_row(&t.job_type, "start-up", &t.startup),
                summary_row(&t.job_type, "run time", &t.run),
            ]
        })
        .collect();
    out.push_str(&render_table(&["TYPE", "FIGURE", "JOBS", "P50", "P95", "MAX"], &figures));
    out
}

/// The `watch` progress line.
pub fn progress_line(job: &Job, progress: Option<&jobgen_runtime::progress::Progress>, elapsed: Duration) -> String {
    let a = &job.attempt;
    let mut parts = vec![format!("[{:>5.1}s] {} {}", elapsed.as_secs_f64(), job.job_id, job.status)];
    if let Some(p) = progress {
        parts.push(format!("progress {}", p.line()));
    }
    if let Some(s) = &a.ecs_last_status {
        parts.push(format!("ecs {s}"));
    }
    if let Some(c) = a.exit_code {
        parts.push(format!("exit {c}"));
    }
    if let Some(f) = a.failure_class {
        parts.push(f.as_str().to_string());
    }
    if let Some(e) = &a.launch_error {
        parts.push(format!("launch error: {e}"));
    }
    parts.join("  ")
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// Prints a value as one line of JSON on stdout, flushed (a stream of them is JSON Lines, read as
/// it comes).
pub fn print_json_line(value: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

/// The JSON an operator command prints on stdout for an error with `--output json` (beside the
/// human message on stderr), so a script reading stdout always gets one document.
pub fn error_json(code: &str, message: &str, help: &str, exit_code: i32) -> Value {
    json!({"error": {"code": code, "message": message, "help": help, "exitCode": exit_code}})
}

/// The JSON of a list of jobs.
pub fn jobs_json(jobs: &[Job]) -> Value {
    json!({ "jobs": jobs.iter().map(Job::to_json).collect::<Vec<_>>() })
}

/// Prints jobs as a table, or as JSON (one record when `single`).
pub fn print_jobs(output: OutputFormat, jobs: &[Job], single: bool) {
    match output {
        OutputFormat::Json if single => {
            if let Some(job) = jobs.first() {
                print_json(&job.to_json());
            }
        }
        OutputFormat::Json => print_json(&jobs_json(jobs)),
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = jobs.iter().map(job_row).collect();
            print!("{}", render_table(&JOB_COLUMNS, &rows));
        }
    }
}

/// Prints a config report to stderr: miette's rendering on a terminal (colors unless `NO_COLOR`),
/// plain text otherwise.
pub fn print_report(report: &jobgen_synth::diagnostics::Report) {
    use std::io::IsTerminal;

    use jobgen_synth::diagnostics::ColorChoice;
    // A terminal gets miette's excerpts; a pipe, a file or CI the stable plain text
    // (`error: PATH: MESSAGE`, `  --> FILE:LINE:COL`, `  = help: ...`), which scripts can read.
    if !std::io::stderr().is_terminal() {
        eprint!("{}", report.render_plain());
        return;
    }
    let color = ColorChoice::for_stderr();
    let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(120);
    eprint!("{}", report.render_graphical(color, width));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_one_json_document() {
        let e = error_json("JobNotFound", "job x not found", "check the id", 1);
        assert_eq!(e["error"]["exitCode"], 1);
        assert_eq!(e["error"].as_object().map(|o| o.len()), Some(4));
    }

    #[test]
    #[allow(clippy::panic)]
    fn status_reads_as_a_person_would_want_it() {
        assert_eq!(
            [850, 7_000, 125_000, 12_000_000].map(duration),
            ["850 ms", "7.0 s", "2 min 5 s", "3 h 20 min"].map(String::from)
        );
        let job: Job = serde_json::from_value(serde_json::json!({
            "jobId": "j1", "jobType": "hello", "status": "FAILED", "createdAt": "2026-01-02T03:04:05.006Z",
            "updatedAt": "2026-01-02T03:04:05.006Z", "fingerprint": "f", "attempt": 1, "waitMs": 7000, "runMs": 125000,
            "costUsd": 0.000012345678901, "expiresAt": 1767323045, "failureClass": "OUT_OF_MEMORY",
            "environment": {"A": "1"}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let view = job_details(&job, &[]);
        let line = |key: &str| {
            view.lines().find(|l| l.split_whitespace().next() == Some(key)).map(|l| l[key.len()..].trim().to_string())
        };
        assert_eq!(line("waitMs").as_deref(), Some("7.0 s"), "{view}");
        assert_eq!(line("runMs").as_deref(), Some("2 min 5 s"));
        assert_eq!(line("costUsd").as_deref(), Some("$0.000012 (estimate)"));
        assert_eq!(line("expiresAt").as_deref(), Some("2026-01-02T03:04:05.000Z (the record's TTL)"));
        assert!(
            line("failureClass").is_some_and(|l| l.starts_with("OUT_OF_MEMORY: the container was killed")),
            "{view}"
        );
        assert_eq!(line("environment").as_deref(), Some(r#"{"A":"1"}"#));
    }

    #[test]
    fn tables_align_columns() {
        let t = render_table(&["A", "BB"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "A    BB\nxxx  y\n");
    }
}
