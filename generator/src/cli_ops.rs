//! The CLI edge of `jobgen dev` and the operator commands: builds the async runtime, calls
//! [`crate::dev`] / [`crate::ops`], prints tables or JSON, renders errors as
//! `error: what happened: why` + `help: fix`, and returns the documented exit codes.

use std::time::Duration;

use serde_json::json;

use crate::cli::{CancelArgs, DevArgs, JobArgs, ListArgs, SubmitArgs, WatchArgs};
use crate::ops::{self, Ops, OpsError, OutputFormat};
use crate::sim::{Faults, SimOptions};

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

fn fail(e: &OpsError) -> i32 {
    eprintln!("error: {e}\n  help: {}", e.help());
    e.exit_code()
}

fn with_ops<F>(stack: &str, f: F) -> i32
where
    F: AsyncFnOnce(&Ops) -> Result<i32, OpsError>,
{
    let Some(rt) = runtime() else { return 3 };
    rt.block_on(async {
        let ops = match Ops::connect(stack).await {
            Ok(ops) => ops,
            Err(e) => return fail(&e),
        };
        match f(&ops).await {
            Ok(code) => code,
            Err(e) => fail(&e),
        }
    })
}

fn seconds(value: f64, flag: &str) -> Result<Duration, OpsError> {
    Duration::try_from_secs_f64(value).map_err(|_| OpsError::Usage {
        message: format!("{flag} {value}: is not a number of seconds"),
        help: format!("pass a positive number, e.g. {flag} 1"),
    })
}

/// `--interval` and `--timeout` of the commands that follow a job (`submit --wait`, `watch`).
fn polling(interval: f64, timeout: Option<f64>) -> Result<(Duration, Option<Duration>), OpsError> {
    Ok((seconds(interval, "--interval")?, timeout.map(|t| seconds(t, "--timeout")).transpose()?))
}

/// `jobgen dev`.
pub fn dev(args: DevArgs) -> i32 {
    let probability = |name: &str, p: f64| {
        if (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(format!("--{name} {p}: is not a probability: use a number from 0 to 1"))
        }
    };
    let faults = match (|| {
        Ok::<Faults, String>(Faults {
            duplicate: probability("duplicate", args.duplicate)?,
            reorder: probability("reorder", args.reorder)?,
            drop: probability("drop", args.drop)?,
            seed: args.seed,
        })
    })() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        eprintln!(
            "error: --time-scale {}: must be a positive number (1 = real time, 0.1 = ten times faster)",
            args.time_scale
        );
        return 2;
    }
    let options = crate::dev::DevOptions {
        config: args.config,
        emulator: crate::dev::Emulator { endpoint: args.endpoint_url, region: args.region },
        stack: args.stack,
        lambda_dir: args.lambda_dir,
        port: args.port,
        sim: SimOptions { time_scale: args.time_scale, faults, ..SimOptions::default() },
        env_file: args.env_file,
    };
    // The handlers' and the simulator's diagnostics (warnings by default; RUST_LOG=info shows every
    // applied event) go to stderr beside jobgen dev's own lines.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
    let Some(rt) = runtime() else { return 3 };
    match rt.block_on(crate::dev::run(options)) {
        Ok(()) => 0,
        Err(crate::dev::DevError::Config(report)) => {
            eprintln!("{report}");
            2
        }
        Err(e) => {
            eprintln!(
                "error: {e}\n  help: is the emulator running at the --endpoint-url? (`make demo` starts one; \
                 `.venv/tools/bin/moto_server -p 5000` by hand)"
            );
            3
        }
    }
}

/// `jobgen submit`.
pub fn submit(args: SubmitArgs) -> i32 {
    let env = match ops::parse_env(&args.env) {
        Ok(env) => env,
        Err(e) => return fail(&e),
    };
    let (interval, timeout) = match polling(args.interval, args.timeout) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let mut request = json!({ "jobType": args.job_type, "environment": env });
    if let Some(key) = &args.idempotency_key {
        request["idempotencyKey"] = json!(key);
    }
    let output = args.stack.output;
    with_ops(&args.stack.stack, async |ops: &Ops| {
        let view = ops.submit(&request).await?;
        let job_id = view["jobId"].as_str().unwrap_or_default().to_string();
        let created = view["created"].as_bool().unwrap_or(true);
        if !args.wait {
            match output {
                OutputFormat::Json => ops::print_json(&view),
                OutputFormat::Table => {
                    println!("{job_id}");
                    eprintln!(
                        "{} job {job_id} ({}): {}",
                        if created { "submitted" } else { "already submitted (same idempotency key):" },
                        args.job_type,
                        view["status"].as_str().unwrap_or("?")
                    );
                }
            }
            return Ok(0);
        }
        eprintln!("{} job {job_id}; waiting for it to finish", if created { "submitted" } else { "found existing" });
        let job = ops::watch(ops, &job_id, interval, timeout, false).await?;
        print_jobs(output, std::slice::from_ref(&job), true);
        Ok(ops::final_exit_code(job.status))
    })
}

fn print_jobs(output: OutputFormat, jobs: &[jobgen_runtime::job::Job], single: bool) {
    match output {
        OutputFormat::Json if single => {
            if let Some(job) = jobs.first() {
                ops::print_json(&job.to_json());
            }
        }
        OutputFormat::Json => ops::print_json(&ops::jobs_json(jobs)),
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = jobs.iter().map(ops::job_row).collect();
            print!("{}", ops::render_table(&ops::JOB_COLUMNS, &rows));
        }
    }
}

/// `jobgen status`.
pub fn status(args: JobArgs) -> i32 {
    let output = args.stack.output;
    with_ops(&args.stack.stack, async |ops: &Ops| {
        let job = ops.job(&args.job_id).await?;
        match output {
            OutputFormat::Json => ops::print_json(&job.to_json()),
            OutputFormat::Table => print!("{}", ops::job_details(&job)),
        }
        Ok(0)
    })
}

/// `jobgen list`.
pub fn list(args: ListArgs) -> i32 {
    let status = match args.status.as_deref().map(ops::parse_status).transpose() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let since = match args.since.as_deref().map(|s| ops::parse_since(s, chrono::Utc::now())).transpose() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let output = args.stack.output;
    with_ops(&args.stack.stack, async |ops: &Ops| {
        let jobs = ops.list(status, args.job_type.as_deref(), since, args.limit.max(1)).await?;
        print_jobs(output, &jobs, false);
        if output == OutputFormat::Table && jobs.is_empty() {
            eprintln!("no jobs match");
        }
        Ok(0)
    })
}

/// `jobgen watch`.
pub fn watch(args: WatchArgs) -> i32 {
    let (interval, timeout) = match polling(args.interval, args.timeout) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let output = args.stack.output;
    with_ops(&args.stack.stack, async |ops: &Ops| {
        let job = ops::watch(ops, &args.job_id, interval, timeout, false).await?;
        print_jobs(output, std::slice::from_ref(&job), true);
        Ok(ops::final_exit_code(job.status))
    })
}

/// `jobgen cancel`.
pub fn cancel(args: CancelArgs) -> i32 {
    let output = args.stack.output;
    with_ops(&args.stack.stack, async |ops: &Ops| {
        let (job, stopped) = ops.cancel(&args.job_id, &args.reason).await?;
        match output {
            OutputFormat::Json => ops::print_json(&json!({"job": job.to_json(), "taskStopped": stopped})),
            OutputFormat::Table => eprintln!(
                "cancelled job {}{}",
                job.job_id,
                if stopped { " and stopped its task" } else { " (it had no task yet)" }
            ),
        }
        Ok(0)
    })
}

/// `jobgen logs`.
pub fn logs(args: JobArgs) -> i32 {
    let output = args.stack.output;
    with_ops(&args.stack.stack, async |ops: &Ops| {
        let job = ops.job(&args.job_id).await?;
        let Some((group, stream)) = ops.log_stream(&job).await? else {
            return Err(OpsError::JobState(format!(
                "job {} has no task{} yet ({}): no logs exist yet",
                job.job_id,
                if job.attempt.task_arn.is_some() { " log configuration" } else { "" },
                job.status
            )));
        };
        let lines = ops::logs::read(&ops.logs, &group, &stream)
            .await
            .map_err(|message| OpsError::Aws { operation: "CloudWatch Logs GetLogEvents".into(), message })?;
        let Some(lines) = lines else {
            return Err(OpsError::JobState(format!(
                "job {} ({}): its log stream {group} {stream} does not exist yet: the container has not written anything",
                job.job_id, job.status
            )));
        };
        match output {
            OutputFormat::Json => ops::print_json(&json!({"logGroup": group, "logStream": stream, "events": lines})),
            OutputFormat::Table => {
                for line in &lines {
                    let at = chrono::DateTime::from_timestamp_millis(line.timestamp)
                        .map(|t| jobgen_runtime::job::format_ts(&t))
                        .unwrap_or_default();
                    println!("{at}  {}", line.message);
                }
            }
        }
        Ok(0)
    })
}
