//! Limits only the whole stack shows: Lambda's environment size, CloudFormation's resource count
//! and template size. Reported as [`Diagnostic`]s with a field path and a fix, like validation
//! errors.

use jobgen_runtime::contract;

use super::stack::Stack;
use crate::diagnostics::{Diagnostic, Report};

/// CloudFormation's limit on resources per stack.
pub const MAX_RESOURCES: usize = 500;
/// CloudFormation's limit on a template body uploaded to S3 (`aws cloudformation package`/`deploy
/// --s3-bucket`), in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 1_000_000;

/// Limits that depend on the whole stack: Lambda's environment size and CloudFormation's resource count.
pub fn check(stack: &Stack) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let env_bytes = stack.create_job.environment_worst_case_bytes();
    if env_bytes > contract::LAMBDA_ENV_LIMIT_BYTES {
        diags.push(Diagnostic::new(
            "job_types",
            format!(
                "the Lambda environment would be up to {env_bytes} bytes once deployed (limit {})",
                contract::LAMBDA_ENV_LIMIT_BYTES,
            ),
            "use a shorter project name",
        ));
    }
    let resources = stack.resource_count();
    if resources > MAX_RESOURCES {
        diags.push(Diagnostic::new(
            "job_types",
            format!("the stack would have {resources} resources (CloudFormation allows {MAX_RESOURCES}): each job type with `task` adds 4 (task definition, log group, task role, execution role)"),
            "split the job types into several projects, or reference existing task definitions with `task_definition`",
        ));
    }

    diags
}

/// Checks the rendered template's size against CloudFormation's limit.
pub fn check_template_size(bytes: usize) -> Result<(), Report> {
    if bytes > MAX_TEMPLATE_BYTES {
        return Err(Report::from(vec![Diagnostic::new(
            "job_types",
            format!("the template is {bytes} bytes; CloudFormation accepts at most {MAX_TEMPLATE_BYTES} bytes from S3"),
            "split the job types into several projects",
        )]));
    }
    Ok(())
}
