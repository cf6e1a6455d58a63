//! The naming rules, once, for validation and the model: which project, cluster and job type names
//! are valid, how a name becomes part of a CloudFormation logical ID (and so which names collide),
//! and the physical name of every resource the stack names itself. Every physical name is derived
//! from the project name here, so the quota checks ([`crate::model::limits`]) and the IAM grants
//! that match names by prefix ([`crate::model::iam`]) read the same rule the resources are named by.

use std::collections::BTreeMap;

use crate::diagnostics::{Diagnostic, join};

/// Longest project, cluster and job type name: they go into resource names (e.g. the task definition
/// family `<project>_<job type>`, log group names) and into `startedBy = jobgen/<project>` (≤ 128).
pub const MAX_NAME_LEN: usize = 32;

/// Why `name` is not a valid project/cluster/job type name, if it is not: lowercase letters, digits
/// and hyphens, starting with a letter, at most [`MAX_NAME_LEN`]. No `_`: it separates the project
/// from the job type in task definition families ([`family`]).
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!("it is {} characters long (at most {MAX_NAME_LEN})", name.chars().count()));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("it must start with a lowercase letter".into());
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Some(format!("it contains `{c}`"));
    }
    None
}

/// A valid name close to `name`, for the help of an invalid one.
pub fn suggest_name(name: &str) -> String {
    let mut s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' })
        .collect();
    s = s.trim_matches('-').to_string();
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        s = format!("x-{s}");
    }
    s.chars().take(MAX_NAME_LEN).collect::<String>().trim_end_matches('-').to_string()
}

/// The part of CloudFormation logical IDs derived from a name: split on anything not alphanumeric,
/// capitalize each part (`send-email` → `SendEmail`, `etl_v2` → `EtlV2`).
pub fn logical_id_part(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars.next().map(|f| f.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// One diagnostic per name under `section` whose logical ID part ([`logical_id_part`]) an earlier
/// name already has (`etl-2` and `etl2` both become `Etl2`): the stack would define one resource twice.
pub fn logical_id_collisions<'a>(names: impl Iterator<Item = &'a String>, section: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for name in names {
        let id = logical_id_part(name);
        if let Some(first) = seen.get(&id) {
            out.push(Diagnostic::new(
                join(section, name),
                format!("`{name}` and `{first}` both become the CloudFormation logical ID part `{id}`"),
                "rename one so they differ in more than hyphen placement",
            ));
        } else {
            seen.insert(id, name);
        }
    }
    out
}

/// The name of one deployment of `project`: the project's own name, or `<project>-<environment>`
/// for an environment ([`crate::environments`]). Every physical name derives from it.
pub fn deployment(project: &str, environment: &str) -> String {
    format!("{project}-{environment}")
}

/// The create-job function.
pub fn create_job_function(project: &str) -> String {
    format!("{project}-create-job")
}

/// The track function.
pub fn track_function(project: &str) -> String {
    format!("{project}-track")
}

/// A function's log group: the name Lambda writes to, created by the stack with a retention.
pub fn function_log_group(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// The config layer.
pub fn config_layer(project: &str) -> String {
    format!("{project}-config")
}

/// The task state rule.
pub fn rule(project: &str) -> String {
    format!("{project}-task-state")
}

/// The rule's dead-letter queue.
pub fn rule_dlq(project: &str) -> String {
    format!("{project}-task-state-dlq")
}

/// Track's dead-letter queue.
pub fn track_dlq(project: &str) -> String {
    format!("{project}-track-dlq")
}

/// The schedules' dead-letter queue.
pub fn schedule_dlq(project: &str) -> String {
    format!("{project}-schedule-dlq")
}

/// A cluster the stack creates.
pub fn cluster(project: &str, cluster: &str) -> String {
    format!("{project}-{cluster}")
}

/// The family of the task definition the stack creates for a job type: `<project>_<job type>`.
/// Names have no `_` ([`name_problem`]), so [`family_prefix`] matches this project's families and
/// no other project's (`media_*` cannot match `media-eu_x`).
pub fn family(project: &str, job_type: &str) -> String {
    format!("{}{job_type}", family_prefix(project))
}

/// What every family the stack creates starts with: create-job may run `<project>_*`.
pub fn family_prefix(project: &str) -> String {
    format!("{project}_")
}

/// The IAM path of every role the stack creates for tasks (task and execution roles):
/// create-job may pass `role/jobgen/<project>/*`. The functions' own roles stay at `/`, outside it.
pub fn task_role_path(project: &str) -> String {
    format!("/jobgen/{project}/")
}

/// A job type's task log group.
pub fn task_log_group(project: &str, job_type: &str) -> String {
    format!("/jobgen/{project}/{job_type}")
}

/// A job type's task log group when it lives in nested stack `index`: the stack's number is part
/// of the name because log group names are unique per account and region, and CloudFormation
/// creates a moved resource before it deletes the old one. A job type moving between the root and
/// a nested stack (a project growing past one stack) or between nested stacks (a changed pin) so
/// gets a new log group instead of failing on "already exists". The jobs' log readers take the
/// group from the task definition, never from this name.
pub fn nested_task_log_group(project: &str, index: u32, job_type: &str) -> String {
    format!("/jobgen/{project}/stack-{index:02}/{job_type}")
}

/// How many nested stacks a project split into nested stacks may have: a fixed number, so a job
/// type's stack ([`nested_stack_of`]) depends on its name alone, never on the other job types.
pub const NESTED_STACKS: u32 = 16;

/// The nested stack that holds job type `name`'s resources: 64-bit FNV-1a of the name's bytes,
/// modulo [`NESTED_STACKS`]. Written out (not std's `Hash`, whose hasher is randomly seeded and may
/// change between Rust releases) so the same name lands in the same stack on every machine and
/// every jobgen version: adding or removing a job type never moves another one.
pub fn nested_stack_of(name: &str) -> u32 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = name.bytes().fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    (hash % u64::from(NESTED_STACKS)) as u32
}

/// The logical ID of nested stack `index` in the root template.
pub fn nested_stack_id(index: u32) -> String {
    format!("JobTypes{index:02}")
}

/// Where nested stack `index`'s template is written, relative to the root template (its
/// `TemplateURL` before packaging), with `/` separators.
pub fn nested_stack_file(index: u32) -> String {
    format!("{NESTED_STACKS_DIR}/job-types-{index:02}.yaml")
}

/// The directory beside the root template that holds the nested stacks' templates.
pub const NESTED_STACKS_DIR: &str = "stacks";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_stack_assignment_is_fnv1a_and_fixed() {
        // FNV-1a 64 test vectors (the empty string is the offset basis; "a" from the reference).
        assert_eq!(nested_stack_of(""), (0xcbf2_9ce4_8422_2325_u64 % 16) as u32);
        assert_eq!(nested_stack_of("a"), (0xaf63_dc4c_8601_ec8c_u64 % 16) as u32);
        assert_eq!(nested_stack_of("foobar"), (0x8594_4171_f739_67e8_u64 % 16) as u32);
        assert!((0..1000).all(|i| nested_stack_of(&format!("job-{i}")) < NESTED_STACKS));
        assert_eq!(nested_stack_id(3), "JobTypes03");
        assert_eq!(nested_stack_file(12), "stacks/job-types-12.yaml");
        assert_eq!(nested_task_log_group("media", 3, "etl"), "/jobgen/media/stack-03/etl");
        assert_ne!(nested_task_log_group("media", 3, "etl"), task_log_group("media", "etl"));
    }

    #[test]
    fn names() {
        assert_eq!(name_problem("etl-2"), None);
        assert!(name_problem("Etl").is_some());
        assert!(name_problem("2etl").is_some());
        assert!(name_problem("etl_2").is_some());
        assert!(name_problem(&"a".repeat(33)).is_some());
        assert_eq!(suggest_name("My_Job"), "my-job");
    }

    #[test]
    fn families_and_role_paths_are_unambiguous_per_project() {
        assert_eq!(family("media", "transcode"), "media_transcode");
        // A project whose name extends another's never matches the other's prefix.
        assert!(!family("media-eu", "x").starts_with(&family_prefix("media")));
        assert!(!task_role_path("media-eu").starts_with(&task_role_path("media")));
        assert_eq!(task_role_path("media"), "/jobgen/media/");
    }

    #[test]
    fn logical_id_parts_fold_separators() {
        assert_eq!(logical_id_part("send-email"), "SendEmail");
        assert_eq!(logical_id_part("etl_v2"), "EtlV2");
        assert_eq!(logical_id_part("main"), "Main");
        assert_eq!(logical_id_part("etl-2"), logical_id_part("etl2"));
    }

    #[test]
    fn colliding_names_are_reported_once_each() {
        let names = ["etl-2".to_string(), "etl2".into(), "other".into(), "etl_2".into()];
        let d = logical_id_collisions(names.iter(), "job_types");
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["job_types.etl2", "job_types.etl_2"]);
        assert!(d[0].message.contains("`Etl2`"), "{}", d[0].message);
    }
}
