//! Environments: one project deployed several times side by side (`dev`, `prod`) in one account
//! and region. Selecting one ([`resolve`]) turns the file into the config of that one deployment:
//! its `environments.NAME` overrides applied, and its project name the deployment's name
//! `<project>-<environment>` ([`names::deployment`]). Every physical name, the stack name, the
//! `jobgen:project` tag, `startedBy` and the schedule group derive from the project name, so two
//! environments never share a resource and each one's IAM grants and StopTask conditions cover its
//! own tasks only. The model and the templates know nothing of environments: they get the
//! resolved config.
//!
//! Validation checks each environment's section and then the whole config of each environment
//! ([`check`]), so an override that breaks a rule (a memory size its cpu does not allow, 51 tags
//! in all) is reported at the override's own path.

use jobgen_runtime::contract::PROJECT_TAG;

use crate::config::{Config, Environment};
use crate::diagnostics::{Diagnostic, did_you_mean, join};
use crate::names::{self, MAX_NAME_LEN};

/// The config of one deployment: `environment`'s overrides applied, the project named
/// `<project>-<environment>`, and no `environments` left. `None` is the file as it is (its
/// `environments` dropped). An environment the file does not declare is an error: a typo must
/// not deploy a new stack.
pub fn resolve(config: &Config, environment: Option<&str>) -> Result<Config, Diagnostic> {
    let mut out = config.clone();
    out.environments.clear();
    let Some(name) = environment else { return Ok(out) };
    let Some(env) = config.environments.get(name) else {
        return Err(undeclared(config, name));
    };
    apply(&mut out, name, env);
    Ok(out)
}

/// The names of the file's environments, in file order.
pub fn names(config: &Config) -> impl Iterator<Item = &str> {
    config.environments.keys().map(String::as_str)
}

fn undeclared(config: &Config, name: &str) -> Diagnostic {
    let known: Vec<&str> = names(config).collect();
    let help = match did_you_mean(name, known.iter().copied()) {
        Some(m) => format!("did you mean `{m}`?"),
        None if known.is_empty() => {
            format!("declare it in jobgen.yaml (`environments:` then `  {name}: {{}}`), or leave out --environment")
        }
        None => format!("use one of: {}, or declare `{name}` under `environments:`", known.join(", ")),
    };
    Diagnostic::new("environments", format!("`{name}` is not an environment of this file"), help)
}

fn apply(config: &mut Config, name: &str, env: &Environment) {
    config.project.name = names::deployment(&config.project.name, name);
    // jobgen sets the project tag to the deployment's name; a value the file gave names the project.
    config.project.tags.remove(PROJECT_TAG);
    config.project.tags.extend(env.tags.clone());
    if let Some(network) = &env.network {
        config.defaults.network = Some(network.clone());
    }
    if let Some(limits) = &env.limits {
        config.limits = limits.clone();
    }
    if let Some(alarms) = &env.alarms {
        config.alarms = alarms.clone();
    }
    for (job_type, o) in &env.job_types {
        let Some(jt) = config.job_types.get_mut(job_type) else { continue };
        if let Some(task) = &mut jt.task {
            task.cpu = o.cpu.unwrap_or(task.cpu);
            task.memory = o.memory.unwrap_or(task.memory);
            task.ephemeral_storage_gib = o.ephemeral_storage_gib.or(task.ephemeral_storage_gib);
        }
        jt.max_concurrency = o.max_concurrency.or(jt.max_concurrency);
        jt.capacity = o.capacity.or(jt.capacity);
        if let Some(network) = &o.network {
            jt.network = Some(network.clone());
        }
    }
}

/// Every problem of the file's environments: their names, what their sections name, and each
/// environment's whole config (`validate` is the validator of one config), a problem of the
/// resolved config reported at the override that caused it. Problems the file has without any
/// environment are left to the file's own validation (`base`).
pub fn check(config: &Config, base: &[Diagnostic], validate: impl Fn(&Config) -> Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (name, env) in &config.environments {
        let path = join("environments", name);
        let own = section(config, &path, name, env);
        let named = own.iter().all(|d| d.path != path);
        out.extend(own);
        if !named {
            // The deployment's name is what is wrong: every resource name would say it again.
            continue;
        }
        let resolved = resolve(config, Some(name)).unwrap_or_else(|_| config.clone());
        for mut d in validate(&resolved) {
            if base.iter().any(|b| b.path == d.path && b.message == d.message) {
                continue;
            }
            if let Some(p) = override_path(&d.path, &path, env) {
                d.path = p;
            }
            d.message = format!("in environment `{name}`: {}", d.message);
            if !out.iter().any(|o: &Diagnostic| o.path == d.path && o.message == d.message) {
                out.push(d);
            }
        }
    }
    out
}

/// The section's own rules: a name that makes a valid deployment name, and job types of the file
/// whose settings can be overridden.
fn section(config: &Config, path: &str, name: &str, env: &Environment) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let deployment = names::deployment(&config.project.name, name);
    if deployment.len() > MAX_NAME_LEN {
        out.push(Diagnostic::new(
            path,
            format!(
                "`{deployment}` (the project and environment names) is {} characters: every resource is named after it, so it must fit in {MAX_NAME_LEN}",
                deployment.len()
            ),
            format!(
                "shorten the environment name to at most {} characters (e.g. `prod`, `stg`), or the project name",
                MAX_NAME_LEN.saturating_sub(config.project.name.len() + 1)
            ),
        ));
    } else if let Some(why) = names::name_problem(name) {
        out.push(Diagnostic::new(
            path,
            format!("`{name}` is not a valid environment name: {why}"),
            "use lowercase letters, digits and hyphens, starting with a letter (e.g. `prod`)",
        ));
    }
    for (job_type, o) in &env.job_types {
        let p = join(&join(path, "job_types"), job_type);
        let Some(jt) = config.job_types.get(job_type) else {
            let known: Vec<&str> = config.job_types.keys().map(String::as_str).collect();
            out.push(Diagnostic::new(
                &p,
                format!("`{job_type}` is not a job type of this file"),
                did_you_mean(job_type, known.iter().copied())
                    .map_or_else(|| format!("use one of: {}", known.join(", ")), |m| format!("did you mean `{m}`?")),
            ));
            continue;
        };
        if jt.task.is_none() {
            for (key, set) in [
                ("cpu", o.cpu.is_some()),
                ("memory", o.memory.is_some()),
                ("ephemeral_storage_gib", o.ephemeral_storage_gib.is_some()),
            ] {
                if set {
                    out.push(Diagnostic::new(
                        join(&p, key),
                        format!("`{job_type}` runs an existing task definition: its {key} is that task definition's"),
                        "remove the key, or register a task definition of that size for this environment",
                    ));
                }
            }
        }
    }
    out
}

/// Where in environment `env` (at `env_path`) the setting behind a resolved config's `path` was
/// given, when the environment overrides it.
fn override_path(path: &str, env_path: &str, env: &Environment) -> Option<String> {
    let rebase = |from: &str, to: String| -> Option<String> {
        let rest = path.strip_prefix(from)?;
        (rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')).then(|| format!("{to}{rest}"))
    };
    if let Some(rest) = path.strip_prefix("project.tags.")
        && env.tags.contains_key(rest)
    {
        return Some(join(&join(env_path, "tags"), rest));
    }
    if path == "project.tags" && !env.tags.is_empty() {
        return Some(join(env_path, "tags"));
    }
    if env.network.is_some()
        && let Some(p) = rebase("defaults.network", join(env_path, "network"))
    {
        return Some(p);
    }
    if env.limits.is_some()
        && let Some(p) = rebase("limits", join(env_path, "limits"))
    {
        return Some(p);
    }
    if env.alarms.is_some()
        && let Some(p) = rebase("alarms", join(env_path, "alarms"))
    {
        return Some(p);
    }
    for (job_type, o) in &env.job_types {
        let base = join("job_types", job_type);
        let over = join(&join(env_path, "job_types"), job_type);
        let fields = [
            ("task.cpu", "cpu", o.cpu.is_some()),
            ("task.memory", "memory", o.memory.is_some()),
            ("task.ephemeral_storage_gib", "ephemeral_storage_gib", o.ephemeral_storage_gib.is_some()),
            ("max_concurrency", "max_concurrency", o.max_concurrency.is_some()),
            ("capacity", "capacity", o.capacity.is_some()),
            ("network", "network", o.network.is_some()),
        ];
        for (from, to, set) in fields {
            if set && let Some(p) = rebase(&join(&base, from), join(&over, to)) {
                return Some(p);
            }
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        crate::parse::parse(text, "jobgen.yaml").unwrap_or_else(|r| panic!("{r}"))
    }

    const FILE: &str = "version: 1
project: {name: media, tags: {team: video}}
clusters: {main: {create: {}}}
defaults: {network: {subnets: [subnet-0123456789abcdef0]}}
limits: {max_concurrency: 50}
job_types:
  transcode:
    max_concurrency: 20
    task: {image: busybox, cpu: 1024, memory: 2048}
  thumbnail:
    task: {image: busybox, cpu: 256, memory: 512}
environments:
  dev:
    tags: {stage: dev, team: video-dev}
    network: {subnets: [subnet-0123456789abcdef1]}
    limits: {max_concurrency: 4}
    job_types:
      transcode: {cpu: 512, memory: 1024, max_concurrency: 2, capacity: FARGATE_SPOT}
  prod: {}
";

    #[test]
    fn an_environment_renames_the_project_and_applies_only_its_overrides() {
        let c = config(FILE);
        let dev = resolve(&c, Some("dev")).unwrap();
        assert_eq!(dev.project.name, "media-dev");
        assert_eq!(dev.project.tags.get("team").map(String::as_str), Some("video-dev"));
        assert_eq!(dev.project.tags.get("stage").map(String::as_str), Some("dev"));
        assert_eq!(dev.defaults.network.as_ref().unwrap().subnets, ["subnet-0123456789abcdef1"]);
        assert_eq!(dev.limits.max_concurrency, Some(4));
        let t = &dev.job_types["transcode"];
        assert_eq!((t.task.as_ref().unwrap().cpu, t.task.as_ref().unwrap().memory), (512, 1024));
        assert_eq!(t.max_concurrency, Some(2));
        assert_eq!(dev.job_types["thumbnail"], c.job_types["thumbnail"]);
        assert!(dev.environments.is_empty());

        let prod = resolve(&c, Some("prod")).unwrap();
        assert_eq!(prod.project.name, "media-prod");
        assert_eq!(prod.job_types, c.job_types);
        assert_eq!(prod.limits, c.limits);

        let none = resolve(&c, None).unwrap();
        assert_eq!(none.project, c.project);
        assert!(none.environments.is_empty());
    }

    #[test]
    fn an_undeclared_environment_is_refused_with_the_declared_ones() {
        let c = config(FILE);
        let e = resolve(&c, Some("prdo")).unwrap_err();
        assert_eq!(e.path, "environments");
        assert!(e.message.contains("`prdo`"), "{}", e.message);
        assert!(e.help.contains("`prod`"), "{}", e.help);
        let e = resolve(&c, Some("staging")).unwrap_err();
        assert!(e.help.contains("dev, prod"), "{}", e.help);
    }

    #[test]
    fn an_override_that_breaks_a_rule_is_reported_at_the_override() {
        let text = FILE.replace(
            "transcode: {cpu: 512, memory: 1024, max_concurrency: 2, capacity: FARGATE_SPOT}",
            "transcode: {memory: 16384, max_concurrency: 9}\n      nope: {cpu: 256}",
        );
        let c = config(&text);
        let d = crate::validate::validate(&c);
        let at = |p: &str| d.iter().find(|d| d.path == p).unwrap_or_else(|| panic!("no {p} in {d:#?}"));
        assert!(at("environments.dev.job_types.transcode.memory").message.starts_with("in environment `dev`: 16384"));
        // The dev project limit is 4: a type limit of 9 could never be reached there.
        assert!(at("environments.dev.job_types.transcode.max_concurrency").message.contains("project's limit of 4"));
        assert!(at("environments.dev.job_types.nope").help.contains("use one of"));
        // The file without environments is valid: nothing is reported at the base paths.
        assert!(d.iter().all(|d| d.path.starts_with("environments.")), "{d:#?}");
    }

    #[test]
    fn an_environment_name_must_leave_a_valid_deployment_name() {
        let text = FILE.replace("  prod: {}", "  production-eu-west-with-a-long-name: {}\n  Prod: {}");
        let c = config(&text);
        let d = crate::validate::validate(&c);
        assert!(
            d.iter().any(|d| d.path == "environments.production-eu-west-with-a-long-name"
                && d.message.contains("must fit in 32")),
            "{d:#?}"
        );
        assert!(d.iter().any(|d| d.path == "environments.Prod"), "{d:#?}");
    }
}
