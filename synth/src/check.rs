//! Stage 5: re-parse the rendered template and prove it holds together: it is valid YAML with
//! `Resources`, and every `Ref`, `Fn::GetAtt`, `DependsOn` and `Fn::Sub` `${X}` names a parameter,
//! a resource, a pseudo parameter (or, inside `Fn::Sub`, one of its own variables).
//!
//! Failures here are jobgen bugs (the model and the templates disagree), never user errors: this is
//! the guard that stops a broken template from being written.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// CloudFormation's pseudo parameters.
pub const PSEUDO_PARAMETERS: [&str; 8] = [
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// The rendered template does not hold together.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckError {
    /// Not YAML, or not a mapping with `Resources`.
    #[error("internal error: the rendered template does not parse: {0}; please report this as a jobgen bug")]
    Parse(String),
    /// Dangling references, one line each as `path: what`.
    #[error(
        "internal error: the rendered template refers to things it does not define:\n{}\nplease report this as a jobgen bug",
        .0.join("\n")
    )]
    Dangling(Vec<String>),
}

/// Parses the rendered YAML into JSON (key order kept).
pub fn parse(text: &str) -> Result<Value, CheckError> {
    let doc: Value = serde_saphyr::from_str(text).map_err(|e| CheckError::Parse(e.to_string()))?;
    if !doc.get("Resources").is_some_and(Value::is_object) {
        return Err(CheckError::Parse("no `Resources` mapping".into()));
    }
    Ok(doc)
}

/// Checks every reference in a parsed template.
pub fn check(doc: &Value) -> Result<(), CheckError> {
    let mut targets: BTreeSet<String> = PSEUDO_PARAMETERS.iter().map(|s| (*s).to_string()).collect();
    let resources = doc.get("Resources").and_then(Value::as_object).cloned().unwrap_or_default();
    targets.extend(resources.keys().cloned());
    if let Some(params) = doc.get("Parameters").and_then(Value::as_object) {
        targets.extend(params.keys().cloned());
    }
    let resource_ids: BTreeSet<&str> = resources.keys().map(String::as_str).collect();

    let mut problems = Vec::new();
    for (id, resource) in &resources {
        match resource.get("DependsOn") {
            Some(Value::String(d)) if !resource_ids.contains(d.as_str()) => {
                problems.push(format!("Resources.{id}.DependsOn: no resource {d}"));
            }
            Some(Value::Array(ds)) => {
                for d in ds.iter().filter_map(Value::as_str).filter(|d| !resource_ids.contains(d)) {
                    problems.push(format!("Resources.{id}.DependsOn: no resource {d}"));
                }
            }
            _ => {}
        }
        if let Some(props) = resource.get("Properties") {
            walk(props, &format!("Resources.{id}.Properties"), &targets, &resource_ids, &mut problems);
        }
    }
    // A rule may refer to parameters and pseudo parameters only, never to a resource.
    if let Some(rules) = doc.get("Rules").and_then(Value::as_object) {
        let mut rule_targets: BTreeSet<String> = PSEUDO_PARAMETERS.iter().map(|s| (*s).to_string()).collect();
        if let Some(params) = doc.get("Parameters").and_then(Value::as_object) {
            rule_targets.extend(params.keys().cloned());
        }
        for (name, rule) in rules {
            walk(rule, &format!("Rules.{name}"), &rule_targets, &BTreeSet::new(), &mut problems);
        }
    }
    if let Some(outputs) = doc.get("Outputs").and_then(Value::as_object) {
        for (name, o) in outputs {
            walk(o, &format!("Outputs.{name}"), &targets, &resource_ids, &mut problems);
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(CheckError::Dangling(problems)) }
}

fn walk(v: &Value, path: &str, targets: &BTreeSet<String>, resources: &BTreeSet<&str>, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), targets, resources, out);
            }
        }
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(r) = map.get("Ref") {
                    match r.as_str() {
                        Some(t) if targets.contains(t) => {}
                        _ => out.push(format!("{path}: Ref {r} has no target")),
                    }
                    return;
                }
                if let Some(g) = map.get("Fn::GetAtt") {
                    let target = match g {
                        Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_string),
                        Value::String(s) => s.split_once('.').map(|(r, _)| r.to_string()),
                        _ => None,
                    };
                    match target {
                        Some(t) if resources.contains(t.as_str()) => {}
                        _ => out.push(format!("{path}: Fn::GetAtt {g} has no resource")),
                    }
                    return;
                }
                if let Some(s) = map.get("Fn::Sub") {
                    check_sub(s, path, targets, resources, out);
                    return;
                }
            }
            for (k, item) in map {
                walk(item, &format!("{path}.{k}"), targets, resources, out);
            }
        }
        _ => {}
    }
}

fn check_sub(s: &Value, path: &str, targets: &BTreeSet<String>, resources: &BTreeSet<&str>, out: &mut Vec<String>) {
    let (text, vars) = match s {
        Value::String(text) => (text.as_str(), Map::new()),
        Value::Array(a) => match (a.first().and_then(Value::as_str), a.get(1).and_then(Value::as_object)) {
            (Some(text), Some(vars)) => {
                for (k, v) in vars {
                    walk(v, &format!("{path}.Fn::Sub.{k}"), targets, resources, out);
                }
                (text, vars.clone())
            }
            _ => {
                out.push(format!("{path}: Fn::Sub must be a string or [string, map]"));
                return;
            }
        },
        _ => {
            out.push(format!("{path}: Fn::Sub must be a string or [string, map]"));
            return;
        }
    };
    for var in sub_variables(text) {
        if vars.contains_key(&var) {
            continue;
        }
        let ok = match var.split_once('.') {
            // `${Resource.Attribute}` is a GetAtt.
            Some((r, _)) if !var.starts_with("AWS::") => resources.contains(r),
            _ => targets.contains(&var),
        };
        if !ok {
            out.push(format!("{path}: Fn::Sub variable ${{{var}}} has no target"));
        }
    }
}

/// The variables of an `Fn::Sub` string: `${X}`, skipping the `${!literal}` escape.
pub fn sub_variables(text: &str) -> Vec<String> {
    let mut vars = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            vars.push(name.trim().to_string());
        }
        rest = &after[end + 1..];
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sub_variables_skip_escapes() {
        assert_eq!(sub_variables("a${X}b${!Y}c${AWS::Region}"), vec!["X", "AWS::Region"]);
    }

    #[test]
    fn dangling_references_are_reported() {
        let doc = json!({
            "Resources": {
                "A": { "Type": "T", "DependsOn": "Nope", "Properties": {
                    "X": { "Ref": "Missing" },
                    "Y": { "Fn::GetAtt": ["Gone", "Arn"] },
                    "Z": { "Fn::Sub": ["${V}-${A.Arn}-${Other}", { "V": { "Ref": "A" } }] },
                    "W": { "Ref": "AWS::Region" }
                }}
            }
        });
        let Err(CheckError::Dangling(problems)) = check(&doc) else { unreachable!("expected dangling") };
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("${Other}")));
    }

    #[test]
    fn rules_may_refer_to_pseudo_parameters_only() {
        let doc = json!({
            "Rules": { "R": { "Assertions": [
                { "Assert": { "Fn::Equals": ["us-east-1", { "Ref": "AWS::Region" }] } },
                { "Assert": { "Fn::Equals": ["x", { "Ref": "A" }] } }
            ] } },
            "Resources": { "A": { "Type": "T" } }
        });
        let Err(CheckError::Dangling(problems)) = check(&doc) else { unreachable!("expected dangling") };
        assert_eq!(problems, ["Rules.R.Assertions[1].Assert.Fn::Equals[1]: Ref \"A\" has no target"]);
    }

    #[test]
    fn a_consistent_template_passes() {
        let doc = json!({
            "Resources": { "A": { "Type": "T", "Properties": { "X": { "Fn::Sub": "${A}${AWS::AccountId}" } } },
                           "B": { "Type": "T", "DependsOn": ["A"], "Properties": { "Y": { "Fn::GetAtt": ["A", "Arn"] } } } },
            "Outputs": { "O": { "Value": { "Ref": "B" } } }
        });
        assert_eq!(check(&doc), Ok(()));
    }
}
