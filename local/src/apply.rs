//! The one deploy path `jobgen deploy` and `jobgen dev` share: a change set (CREATE or UPDATE),
//! read back as a summary of added/modified/replaced/removed resources, executed, and followed
//! through the stack's events until `*_COMPLETE` or a failure, whose first failing resource and
//! reason are reported with the rollback.
//!
//! Progress is reported as data ([`Progress`]) through a callback; the CLI renders it (plain lines
//! off a terminal, a bar on one). Every AWS call made here is counted ([`Calls`]) for
//! BENCHMARKS.md.
//!
//! Emulator gaps (moto), handled only when deploying to an emulator and said out loud by the
//! caller: moto's ExecuteChangeSet never fills a created stack's Outputs, so after it an
//! UpdateStack with the same template makes moto compute them ([`fill_emulator_outputs`]); moto's
//! change sets carry no `Replacement` and its stack events are stack-level only (no per-resource
//! events), so against moto the summary never flags a replacement and the progress shows the
//! stack's status only; moto's ExecuteChangeSet creates the resources inside the call and has no
//! rollback, so a resource it rejects fails the call itself (reported as the failure).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::{Capability, ChangeSetType};

use crate::deploy::DeployError;
use jobgen_ops::aws_error;

/// What a change set does to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `Add`, `Modify`, `Remove`, or `Replace` (a Modify whose `Replacement` is `True`).
    pub action: String,
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// `Replacement` of a Modify: `True`, `Conditional`, `False` (None: not given).
    pub replacement: Option<String>,
}

impl Change {
    /// Whether CloudFormation would (or may) replace the resource.
    pub fn replaces(&self) -> bool {
        self.action == "Replace" || self.replacement.as_deref() == Some("Conditional")
    }
}

/// A change set read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Its name.
    pub change_set: String,
    /// CREATE (a new stack) or UPDATE.
    pub kind: String,
    /// Every resource change, in CloudFormation's order.
    pub changes: Vec<Change>,
}

/// AWS calls made by a deploy, by API (for the benchmark and `--verbose` readers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calls(pub BTreeMap<String, u32>);

impl Calls {
    /// Counts one call of `api`.
    pub fn add(&mut self, api: &str) {
        *self.0.entry(api.to_string()).or_default() += 1;
    }

    /// The number of calls.
    pub fn total(&self) -> u32 {
        self.0.values().sum()
    }
}

/// What a deploy reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A step or an emulator gap worked around, said out loud.
    Note(String),
    /// An artifact: uploaded (`skipped`: already there under its content-addressed key).
    Artifact {
        /// What it is (`create-job`, `track`, `config`, `template`).
        name: String,
        /// `s3://bucket/key`.
        url: String,
        /// Its size.
        bytes: u64,
        /// Already uploaded.
        skipped: bool,
    },
    /// The change set, read back.
    ChangeSet(Summary),
    /// A stack event (chronological), with the time since the execution began.
    Event {
        /// Logical id (the stack's name for the stack itself).
        logical_id: String,
        /// Resource type.
        resource_type: String,
        /// Status, e.g. `CREATE_COMPLETE`.
        status: String,
        /// Reason, when CloudFormation gave one.
        reason: Option<String>,
        /// Since the execution began.
        elapsed: Duration,
    },
    /// A poll of the stack while it runs: its status, resources done of those changing, elapsed.
    Tick {
        /// Stack status.
        status: String,
        /// Resources that reached a complete state.
        done: usize,
        /// Resources the change set changes.
        total: usize,
        /// Since the execution began.
        elapsed: Duration,
    },
}

/// How a deployment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The stack was created.
    Created,
    /// The stack was updated.
    Updated,
    /// The template holds no changes: nothing was executed.
    NoChanges,
    /// `--no-execute`: the change set was created and left for review.
    Planned,
}

/// Whether a stack status is terminal, and whether it is a success.
fn terminal(status: &str) -> Option<bool> {
    let ok = matches!(status, "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE");
    if ok {
        return Some(true);
    }
    let failed = status.ends_with("_FAILED") || status.ends_with("ROLLBACK_COMPLETE") || status == "DELETE_COMPLETE";
    failed.then_some(false)
}

/// Whether the stack exists (anything but absent or DELETE_COMPLETE), and its status.
pub async fn stack_status(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    calls: &mut Calls,
) -> Result<Option<String>, DeployError> {
    calls.add("DescribeStacks");
    match cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => Ok(out
            .stacks()
            .first()
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str().to_string())
            .filter(|s| s != "DELETE_COMPLETE")),
        Err(e) if aws_error(&e).contains("does not exist") => Ok(None),
        Err(e) => Err(step(format!("CloudFormation DescribeStacks {stack}"), aws_error(&e))),
    }
}

fn step(step: impl Into<String>, message: impl Into<String>) -> DeployError {
    DeployError::Emulator { step: step.into(), message: message.into() }
}

/// The template, as CloudFormation takes it: inline, or an S3 URL (templates over 51,200 bytes).
#[derive(Debug, Clone)]
pub enum TemplateSource {
    /// `TemplateBody`.
    Body(String),
    /// `TemplateURL`.
    Url(String),
}

/// Creates a change set for `template` (CREATE for a new stack, or one left in REVIEW_IN_PROGRESS
/// by an earlier `--no-execute`; UPDATE otherwise), waits for it, and reads it back. `None`: the
/// template holds no changes (the empty change set is deleted).
pub async fn create_change_set(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    template: &TemplateSource,
    calls: &mut Calls,
) -> Result<Option<Summary>, DeployError> {
    let mut status = stack_status(cfn, stack, calls).await?;
    if status.as_deref() == Some("REVIEW_IN_PROGRESS") {
        // A stack with no resources yet: a change set of an earlier `--no-execute` (or one whose
        // execution the emulator refused). Deleted first, so exactly one stack of this name exists
        // (moto would create a second one beside it for a new CREATE change set).
        calls.add("DeleteStack");
        cfn.delete_stack()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| step(format!("CloudFormation DeleteStack {stack} (REVIEW_IN_PROGRESS)"), aws_error(&e)))?;
        for _ in 0..300 {
            status = stack_status(cfn, stack, calls).await?;
            if status.is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let kind = match status.as_deref() {
        None => ChangeSetType::Create,
        Some(s) if s == "ROLLBACK_COMPLETE" => {
            return Err(DeployError::Stack {
                stack: stack.into(),
                status: s.into(),
                reason: "its creation failed and was rolled back; a stack in ROLLBACK_COMPLETE cannot be updated \
                         (help: `jobgen destroy` it, then deploy again)"
                    .into(),
            });
        }
        Some(_) => ChangeSetType::Update,
    };
    let name = format!("jobgen-{}", chrono::Utc::now().format("%Y%m%d%H%M%S%3f"));
    let mut request = cfn
        .create_change_set()
        .stack_name(stack)
        .change_set_name(&name)
        .change_set_type(kind.clone())
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        // The nested stacks' own changes too (on AWS each gets a change set of its own, named by
        // its resource change), so a replacement inside one is flagged like one in the root.
        .include_nested_stacks(true);
    request = match template {
        TemplateSource::Body(body) => request.template_body(body),
        TemplateSource::Url(url) => request.template_url(url),
    };
    calls.add("CreateChangeSet");
    request.send().await.map_err(|e| step(format!("CloudFormation CreateChangeSet {stack}"), aws_error(&e)))?;
    let mut delay = Duration::from_millis(200);
    loop {
        calls.add("DescribeChangeSet");
        let out = cfn
            .describe_change_set()
            .stack_name(stack)
            .change_set_name(&name)
            .send()
            .await
            .map_err(|e| step(format!("CloudFormation DescribeChangeSet {name}"), aws_error(&e)))?;
        let status = out.status().map(|s| s.as_str().to_string()).unwrap_or_default();
        match status.as_str() {
            "CREATE_COMPLETE" => {
                let changes = read_changes(cfn, stack, &name, "", Some(out), calls).await?;
                return Ok(Some(Summary { change_set: name, kind: kind.as_str().to_string(), changes }));
            }
            "FAILED" => {
                let reason = out.status_reason().unwrap_or("no reason given").to_string();
                if reason.contains("didn't contain changes") || reason.contains("No updates are to be performed") {
                    calls.add("DeleteChangeSet");
                    let _ = cfn.delete_change_set().stack_name(stack).change_set_name(&name).send().await;
                    return Ok(None);
                }
                return Err(DeployError::Stack { stack: stack.into(), status: "change set FAILED".into(), reason });
            }
            _ => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Every resource change of a complete change set (`stack`, `change_set`: names or ARNs), page by
/// page, followed by those of each nested stack's change set, their logical ids prefixed with the
/// nested stack's (`prefix`, e.g. `JobTypes03/`). `first`: the first page, already read. The
/// emulator makes no nested change sets: its nested stacks show as one change each.
async fn read_changes(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    change_set: &str,
    prefix: &str,
    mut first: Option<DescribeChangeSetOutput>,
    calls: &mut Calls,
) -> Result<Vec<Change>, DeployError> {
    let mut changes = Vec::new();
    let mut nested = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = match first.take() {
            Some(page) => page,
            None => {
                calls.add("DescribeChangeSet");
                let mut request = cfn.describe_change_set().change_set_name(change_set);
                if !change_set.starts_with("arn:") {
                    request = request.stack_name(stack);
                }
                request
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| step(format!("CloudFormation DescribeChangeSet {change_set}"), aws_error(&e)))?
            }
        };
        for r in page.changes().iter().filter_map(|c| c.resource_change()) {
            let replacement = r.replacement().map(|x| x.as_str().to_string());
            let action = r.action().map(|a| a.as_str().to_string()).unwrap_or_default();
            let action =
                if action == "Modify" && replacement.as_deref() == Some("True") { "Replace".into() } else { action };
            let logical_id = format!("{prefix}{}", r.logical_resource_id().unwrap_or_default());
            if let Some(id) = r.change_set_id().filter(|id| !id.is_empty()) {
                nested.push((format!("{logical_id}/"), id.to_string()));
            }
            changes.push(Change {
                action,
                logical_id,
                resource_type: r.resource_type().unwrap_or_default().to_string(),
                replacement,
            });
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    for (prefix, id) in nested {
        changes.extend(Box::pin(read_changes(cfn, stack, &id, &prefix, None, calls)).await?);
    }
    Ok(changes)
}

/// Executes the change set and follows the stack until a terminal status, reporting every new
/// stack event and a tick per poll. A failure names the first failing resource's reason and the
/// rollback.
pub async fn execute(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    summary: &Summary,
    timeout: Duration,
    calls: &mut Calls,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Outcome, DeployError> {
    // The events already there (a new stack's REVIEW_IN_PROGRESS, an earlier deployment's) are not
    // this execution's: remembered by id, which needs no clock agreement with CloudFormation.
    let mut seen = BTreeSet::new();
    calls.add("DescribeStackEvents");
    if let Ok(events) = cfn.describe_stack_events().stack_name(stack).send().await {
        seen.extend(events.stack_events().iter().filter_map(|e| e.event_id()).map(str::to_string));
    }
    let started = Instant::now();
    calls.add("ExecuteChangeSet");
    cfn.execute_change_set().stack_name(stack).change_set_name(&summary.change_set).send().await.map_err(|e| {
        DeployError::Stack { stack: stack.into(), status: "ExecuteChangeSet failed".into(), reason: readable(&e) }
    })?;
    // The root's own resources: a nested stack's changes (`JobTypesNN/...`) come as its events.
    let total = summary.changes.iter().filter(|c| !c.logical_id.contains('/')).count();
    let mut done = BTreeSet::new();
    let mut first_failure: Option<String> = None;
    let mut delay = Duration::from_millis(200);
    loop {
        calls.add("DescribeStackEvents");
        let events = cfn
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| step(format!("CloudFormation DescribeStackEvents {stack}"), aws_error(&e)))?;
        // Newest first: the new ones, oldest first.
        let mut new: Vec<_> =
            events.stack_events().iter().filter(|e| e.event_id().is_some_and(|id| !seen.contains(id))).collect();
        new.reverse();
        for e in new {
            seen.insert(e.event_id().unwrap_or_default().to_string());
            let logical_id = e.logical_resource_id().unwrap_or_default().to_string();
            let status = e.resource_status().map(|s| s.as_str().to_string()).unwrap_or_default();
            let reason = e.resource_status_reason().filter(|r| !r.is_empty()).map(str::to_string);
            if logical_id != stack && status.ends_with("_COMPLETE") {
                done.insert(logical_id.clone());
            }
            if status.ends_with("_FAILED")
                && first_failure.is_none()
                && let Some(r) = &reason
                && !r.contains("cancelled")
            {
                first_failure = Some(format!("{logical_id} ({}): {r}", e.resource_type().unwrap_or_default()));
            }
            progress(Progress::Event {
                logical_id,
                resource_type: e.resource_type().unwrap_or_default().to_string(),
                status,
                reason,
                elapsed: started.elapsed(),
            });
        }
        let status = stack_status(cfn, stack, calls).await?.unwrap_or_else(|| "DELETE_COMPLETE".into());
        progress(Progress::Tick {
            status: status.clone(),
            done: done.len().min(total),
            total,
            elapsed: started.elapsed(),
        });
        match terminal(&status) {
            Some(true) => {
                return Ok(if summary.kind == "CREATE" { Outcome::Created } else { Outcome::Updated });
            }
            Some(false) => {
                let rollback = if status.contains("ROLLBACK") {
                    format!("; the stack rolled back ({status})")
                } else {
                    String::new()
                };
                let reason = first_failure.unwrap_or_else(|| "no resource gave a reason".into());
                return Err(DeployError::Stack { stack: stack.into(), status, reason: format!("{reason}{rollback}") });
            }
            None if started.elapsed() > timeout => {
                return Err(DeployError::Stack {
                    stack: stack.into(),
                    status,
                    reason: format!(
                        "still running after {} s; it goes on (follow it in the console)",
                        timeout.as_secs()
                    ),
                });
            }
            None => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// An error as `Code: message`: from its metadata, else from a JSON error body (moto answers a
/// resource it rejects inside ExecuteChangeSet with the failing service's JSON error, which the
/// CloudFormation client cannot parse), else the full rendering.
fn readable<E: aws_sdk_cloudformation::error::ProvideErrorMetadata + std::error::Error + 'static>(
    e: &aws_sdk_cloudformation::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> String {
    use aws_sdk_cloudformation::error::ProvideErrorMetadata;
    if let (Some(code), Some(message)) = (e.code(), e.message()) {
        return format!("{code}: {message}");
    }
    let body = e
        .raw_response()
        .and_then(|r| r.body().bytes())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok());
    match body {
        Some(json) if json["message"].is_string() => {
            let code = json["__type"].as_str().unwrap_or("Error");
            format!("{}: {}", code.rsplit('#').next().unwrap_or(code), json["message"].as_str().unwrap_or_default())
        }
        _ => aws_error(e),
    }
}

/// The stack's Outputs.
pub async fn outputs(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    calls: &mut Calls,
) -> Result<BTreeMap<String, String>, DeployError> {
    calls.add("DescribeStacks");
    let out = cfn
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| step(format!("CloudFormation DescribeStacks {stack}"), aws_error(&e)))?;
    Ok(out
        .stacks()
        .first()
        .map(|s| s.outputs())
        .unwrap_or_default()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect())
}

/// moto's ExecuteChangeSet leaves a created stack's Outputs empty; its UpdateStack computes them.
/// Emulator only: an UpdateStack with the template just deployed (no resource changes). Returns
/// whether it was needed.
pub async fn fill_emulator_outputs(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    body: &str,
    timeout: Duration,
    calls: &mut Calls,
) -> Result<bool, DeployError> {
    if !outputs(cfn, stack, calls).await?.is_empty() || !body.contains("\"Outputs\"") {
        return Ok(false);
    }
    calls.add("UpdateStack");
    cfn.update_stack()
        .stack_name(stack)
        .template_body(body)
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .map_err(|e| step(format!("CloudFormation UpdateStack {stack} (emulator outputs)"), aws_error(&e)))?;
    let started = Instant::now();
    loop {
        let status = stack_status(cfn, stack, calls).await?.unwrap_or_default();
        if terminal(&status).is_some() || started.elapsed() > timeout {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Deletes the stack and follows it to DELETE_COMPLETE (or a failure, with the first failing
/// resource's reason).
pub async fn delete_stack(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    timeout: Duration,
    calls: &mut Calls,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(), DeployError> {
    let started = Instant::now();
    let stack_id = {
        calls.add("DescribeStacks");
        let out = cfn
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| step(format!("CloudFormation DescribeStacks {stack}"), aws_error(&e)))?;
        out.stacks().first().and_then(|s| s.stack_id()).unwrap_or(stack).to_string()
    };
    calls.add("DeleteStack");
    cfn.delete_stack()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| step(format!("CloudFormation DeleteStack {stack}"), aws_error(&e)))?;
    loop {
        // By id: a deleted stack is found by its id only.
        calls.add("DescribeStacks");
        let status = match cfn.describe_stacks().stack_name(&stack_id).send().await {
            Ok(out) => out.stacks().first().and_then(|s| s.stack_status()).map(|s| s.as_str().to_string()),
            Err(e) if aws_error(&e).contains("does not exist") => None,
            Err(e) => return Err(step(format!("CloudFormation DescribeStacks {stack}"), aws_error(&e))),
        };
        let status = status.unwrap_or_else(|| "DELETE_COMPLETE".into());
        progress(Progress::Tick { status: status.clone(), done: 0, total: 0, elapsed: started.elapsed() });
        if status == "DELETE_COMPLETE" {
            return Ok(());
        }
        if status == "DELETE_FAILED" || started.elapsed() > timeout {
            return Err(DeployError::Stack {
                stack: stack.into(),
                status,
                reason: "see `aws cloudformation describe-stack-events` for the resource that failed".into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_statuses() {
        assert_eq!(terminal("CREATE_COMPLETE"), Some(true));
        assert_eq!(terminal("UPDATE_COMPLETE"), Some(true));
        assert_eq!(terminal("UPDATE_ROLLBACK_COMPLETE"), Some(false));
        assert_eq!(terminal("ROLLBACK_COMPLETE"), Some(false));
        assert_eq!(terminal("CREATE_FAILED"), Some(false));
        assert_eq!(terminal("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"), None);
        assert_eq!(terminal("CREATE_IN_PROGRESS"), None);
    }
}
