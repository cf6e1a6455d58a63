//! A project that the 4 KB Lambda environment and a per-job-type IAM policy used to refuse: 119 job
//! types with 27-character names (`process-customer-orders-NNN`), deployed into moto by
//! `jobgen_local::deploy` (synth, package, create-stack), then updated (update-stack) with one job
//! type's image changed while jobs are being submitted through the real create-job handler
//! configured from the deployed stack. Every job submitted before, during and after the update
//! launches; none ends LAUNCH_FAILED; jobs of the changed type launched after the update run the
//! new task definition revision (RunTask names the family, so it takes the latest one). A last
//! update removes a job type: the functions follow the new configuration document.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use jobgen_local::LocalStack;
use jobgen_runtime::create_job::CreateJobRequest;
use jobgen_runtime::job::JobStatus;
use jobgen_runtime::store::Store;
use jobgen_tests::{Moto, deploy_and_connect, dev_options};

const JOB_TYPES: usize = 119;
const CHANGED: &str = "process-customer-orders-007";

fn job_type(i: usize) -> String {
    format!("process-customer-orders-{i:03}")
}

fn write_project(path: &Path, changed_image: &str, job_types: usize) {
    let mut y = String::from(
        "version: 1\nproject:\n  name: invoices\nclusters:\n  main:\n    create: {}\ndefaults:\n  network:\n    subnets: [subnet-0123456789abcdef0]\n    security_groups: [sg-0123456789abcdef0]\njob_types:\n",
    );
    for i in 1..=job_types {
        let name = job_type(i);
        let image = if name == CHANGED { changed_image } else { "public.ecr.aws/docker/library/busybox:1.36" };
        y.push_str(&format!("  {name}:\n    task:\n      image: {image}\n      cpu: 256\n      memory: 512\n"));
    }
    std::fs::write(path, y).unwrap();
}

async fn submit(local: &LocalStack, job_type: &str) -> String {
    let request = CreateJobRequest { job_type: job_type.into(), ..CreateJobRequest::default() };
    match local.functions.create_job.create(request, chrono::Utc::now(), None).await {
        Ok(view) => view.job_id,
        Err(e) => panic!("{job_type}: create-job refused a job: {} {}: {}", e.status, e.code, e.message),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_119_job_type_project_deploys_and_updates_without_failing_a_job() {
    assert!((1..=JOB_TYPES).all(|i| job_type(i).len() == 27), "27-character job type names");
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("jobgen.yaml");
    write_project(&config, "public.ecr.aws/docker/library/busybox:1.36", JOB_TYPES);
    let options = dev_options(&moto, config.clone(), Some("invoices"), dir.path());
    let local = deploy_and_connect(&options).await;
    assert_eq!(local.config.launch_table.job_types.len(), JOB_TYPES, "the deployed document holds every job type");
    let family = local.config.launch_table.job_types[CHANGED].task_definition.clone();
    assert!(!family.contains(':'), "the document names the family, not a revision: {family}");

    let before = local.ecs.describe_task_definition().task_definition(&family).send().await.unwrap();
    let revision_before = before.task_definition().unwrap().revision();
    let mut jobs: Vec<(String, &'static str)> = Vec::new();
    for i in (1..=JOB_TYPES).step_by(10) {
        jobs.push((submit(&local, &job_type(i)).await, "before"));
    }
    jobs.push((submit(&local, CHANGED).await, "before"));

    // The update runs in the background while jobs keep arriving.
    write_project(&config, "public.ecr.aws/docker/library/busybox:1.37", JOB_TYPES);
    let update = tokio::spawn({
        let options = options.clone();
        async move { jobgen_local::deploy(&options).await }
    });
    let mut during = 0;
    while !update.is_finished() {
        jobs.push((submit(&local, &job_type(1 + during % JOB_TYPES)).await, "during"));
        jobs.push((submit(&local, CHANGED).await, "during"));
        during += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    update.await.unwrap().unwrap();
    assert!(during > 0, "no job was submitted while the stack updated");

    // The image change registered a new revision; the document (families, clusters) did not change,
    // so the functions' configuration is the same and needs no update.
    let after = LocalStack::connect(&options.emulator, &local.stack).await.unwrap();
    assert_eq!(after.config, local.config, "an image change leaves the configuration document as it was");
    let described = local.ecs.describe_task_definition().task_definition(&family).send().await.unwrap();
    let latest = described.task_definition().unwrap();
    // (moto's update registers the new revision with CloudFormation's PascalCase container keys, so
    // the SDK cannot read its image back; the new revision number is the proof of the change.)
    assert!(latest.revision() > revision_before, "the image change registered a new revision");
    let latest_arn = latest.task_definition_arn().unwrap().to_string();
    let changed_after = submit(&after, CHANGED).await;
    jobs.push((changed_after.clone(), "after"));
    jobs.push((submit(&after, &job_type(JOB_TYPES)).await, "after"));

    let store = Store::new(local.ddb.clone(), local.config.table_name.clone());
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for (id, when) in &jobs {
        let job = store.get(id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Starting, "job {id} submitted {when} the update: {job:?}");
        assert!(job.attempt.task_arn.is_some(), "job {id} ({when}) has a task");
        *by_status.entry(format!("{when} {}", job.status)).or_default() += 1;
    }
    eprintln!("jobs by phase and status: {by_status:?}");
    let job = store.get(&changed_after).await.unwrap().unwrap();
    let task_arn = job.attempt.task_arn.unwrap();
    let cluster = job.attempt.cluster_arn.unwrap();
    let tasks = local.ecs.describe_tasks().cluster(cluster).tasks(&task_arn).send().await.unwrap();
    assert_eq!(tasks.tasks()[0].task_definition_arn(), Some(latest_arn.as_str()), "launched on the new revision");

    // An update that changes the document (one job type fewer): both functions get the new hash with
    // the new layer, and the handlers read the new table.
    write_project(&config, "public.ecr.aws/docker/library/busybox:1.37", JOB_TYPES - 1);
    jobgen_local::deploy(&options).await.unwrap();
    let smaller = LocalStack::connect(&options.emulator, &local.stack).await.unwrap();
    assert_eq!(smaller.config.launch_table.job_types.len(), JOB_TYPES - 1);
    let request = CreateJobRequest { job_type: job_type(JOB_TYPES), ..CreateJobRequest::default() };
    let refused = smaller.functions.create_job.create(request, chrono::Utc::now(), None).await.unwrap_err();
    assert_eq!(refused.status, 404, "the removed job type is gone: {}", refused.message);
    submit(&smaller, &job_type(1)).await;
    drop(moto);
}
