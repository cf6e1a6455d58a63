//! `jobgen destroy`: deletes a jobgen stack. Refuses while jobs run or wait (lists them) unless
//! `--force`, which cancels them first; keeps the jobs table (its DeletionPolicy Retain and
//! deletion protection) unless `--delete-data`, which turns the protection off and deletes it.
//! It deletes nothing the stack did not create: the artifact bucket (shared by later deploys) and
//! anything else outside the stack stay.

use std::time::Duration;

use jobgen_ops::{Ops, OpsError};
use jobgen_runtime::contract::outputs;
use jobgen_runtime::job::JobStatus;

use super::deploy::{Renderer, stack_name};
use super::runtime;

/// The command's `after_help`.
pub const HELP: &str = "Refuses while any job is queued, launching, running or waiting to retry, and lists them \
(exit 1); --force cancels them first (jobgen cancel: each marked CANCELLED and its task stopped). The jobs table is \
kept (DeletionPolicy/UpdateReplacePolicy Retain and deletion protection): the job history outlives the stack; \
--delete-data turns the table's deletion protection off and deletes it after the stack. The artifact bucket \
`jobgen deploy` uses is left as it is (later deploys reuse it).

Exit codes: 0 deleted; 1 refused (jobs running) or the deletion failed; 2 usage or configuration error; 3 an AWS \
call failed.

Example:
  jobgen destroy -c jobgen.yaml
  jobgen destroy --stack jobgen-quickstart --force --delete-data";

/// `jobgen destroy` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project file (the stack's name comes from its project name).
    #[arg(short = 'c', long = "config", default_value = "jobgen.yaml")]
    pub config: std::path::PathBuf,
    /// Stack name (default: jobgen-<project>, or jobgen-<project>-<environment>).
    #[arg(long, env = "JOBGEN_STACK")]
    pub stack: Option<String>,
    /// The environment whose stack to delete (as `jobgen deploy --environment`).
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,
    /// Cancel the jobs that are running or queued, then delete.
    #[arg(long)]
    pub force: bool,
    /// Also delete the jobs table (and with it every job's record).
    #[arg(long)]
    pub delete_data: bool,
    /// Stop following the deletion after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
}

/// Statuses of a job that is not over: it holds (or waits for) a task.
const OPEN: [JobStatus; 6] = [
    JobStatus::Queued,
    JobStatus::Submitted,
    JobStatus::Starting,
    JobStatus::Running,
    JobStatus::Retrying,
    JobStatus::LaunchFailed,
];

/// `jobgen destroy`.
pub fn run(args: Args) -> i32 {
    let stack = match &args.stack {
        Some(stack) => stack.clone(),
        None => match jobgen_synth::load_environment(&args.config, args.environment.as_deref()) {
            Ok(config) => stack_name(None, &config.project.name),
            Err(report) => {
                crate::output::print_report(&report);
                return 2;
            }
        },
    };
    let Some(rt) = runtime() else { return 3 };
    rt.block_on(async {
        match destroy(&args, &stack).await {
            Ok(code) => code,
            Err(e) => super::fail(crate::output::OutputFormat::Table, &e),
        }
    })
}

async fn destroy(args: &Args, stack: &str) -> Result<i32, OpsError> {
    let ops = Ops::connect(stack).await?;
    let mut open = Vec::new();
    for status in OPEN {
        open.extend(ops.list(Some(status), None, None, usize::MAX).await?);
    }
    if !open.is_empty() {
        if !args.force {
            eprintln!("error: stack {stack} has {} job(s) running or queued:", open.len());
            for job in &open {
                eprintln!("  {}  {:<20} {}", job.job_id, job.job_type, job.status.as_str());
            }
            eprintln!(
                "  help: wait for them (jobgen watch JOB_ID), cancel them (jobgen cancel JOB_ID), or run jobgen destroy \
                 --force to cancel them all first"
            );
            return Ok(1);
        }
        for job in &open {
            let (_, stopped) = ops.cancel(&job.job_id, "jobgen destroy --force").await?;
            eprintln!("cancelled {} ({}){}", job.job_id, job.job_type, if stopped { ", task stopped" } else { "" });
        }
    }
    let table = ops.outputs.get(outputs::TABLE_NAME).cloned().unwrap_or_default();
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let mut calls = jobgen_local::apply::Calls::default();
    let mut renderer = Renderer::new();
    let deleted =
        jobgen_local::apply::delete_stack(&cfn, stack, Duration::from_secs(args.timeout), &mut calls, &mut |p| {
            renderer.on(p)
        })
        .await;
    renderer.finish();
    if let Err(e) = deleted {
        eprintln!("error: {e}");
        return Ok(1);
    }
    eprintln!("stack {stack}: deleted");
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    if args.delete_data {
        ddb.update_table()
            .table_name(&table)
            .deletion_protection_enabled(false)
            .send()
            .await
            .map_err(|e| OpsError::aws("DynamoDB UpdateTable (deletion protection off)", &e))?;
        ddb.delete_table().table_name(&table).send().await.map_err(|e| OpsError::aws("DynamoDB DeleteTable", &e))?;
        eprintln!("jobs table {table}: deleted (--delete-data)");
    } else {
        eprintln!(
            "jobs table {table}: kept with its job history (Retain, deletion protection on)\n  help: `jobgen destroy \
             --delete-data` on a deployed stack deletes it too; after the stack is gone: `aws dynamodb update-table \
             --table-name {table} --no-deletion-protection-enabled` then `aws dynamodb delete-table --table-name {table}`"
        );
    }
    Ok(0)
}
