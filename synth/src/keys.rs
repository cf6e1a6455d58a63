//! The unknown-key check: every mapping key the parser's walk saw, checked against the JSON Schema
//! ([`crate::schema`]), so a file's unknown keys are *all* reported at once, each with a
//! did-you-mean, where serde stops at the first. The parser ([`crate::parse`]) records the keys
//! (`KeyRecord`) and calls `KeyCheck::check`; this module needs nothing from the parser.

use std::rc::Rc;

use serde_json::{Map, Value};

use crate::diagnostics::{Diagnostic, Location, did_you_mean, join, parent_path};
use crate::schema::json_schema;

/// One step of a path from the root: a mapping key or a list position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index,
}

/// A mapping key seen in the file: which mapping it is in, its text and where it is.
#[derive(Debug, Clone)]
pub(crate) struct KeyRecord {
    /// Steps from the root to the mapping (keys may contain dots, so not the dotted path); shared by
    /// every key of the mapping.
    pub(crate) parent: Rc<Vec<Seg>>,
    /// The mapping's dotted path.
    pub(crate) parent_path: String,
    pub(crate) key: String,
    pub(crate) at: Location,
}

/// The diagnostic for one unknown key at `path` (the key's own path) given the valid keys there.
pub(crate) fn unknown_key(path: &str, field: &str, expected: &[&str]) -> Diagnostic {
    let parent = parent_path(path);
    let place = if parent.is_empty() { "at the top level".to_string() } else { format!("in `{parent}`") };
    let valid = expected.join(", ");
    let help = match did_you_mean(field, expected.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? valid keys {place}: {valid}"),
        None => format!("valid keys {place}: {valid}"),
    };
    Diagnostic::new(path, format!("unknown key `{field}`"), help)
}

/// Checks mapping keys against the schema.
pub struct KeyCheck {
    schema: Value,
}

impl Default for KeyCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyCheck {
    /// A checker for the current [`crate::config::Config`] schema.
    pub fn new() -> Self {
        KeyCheck { schema: json_schema() }
    }

    /// One diagnostic per key that the schema does not allow where it is.
    pub(crate) fn check(&self, keys: &[KeyRecord]) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for k in keys {
            // YAML merge keys are expanded by the parser, not fields.
            if k.key == "<<" {
                continue;
            }
            let Some(mapping) = self.at(&k.parent) else { continue };
            let Some(props) = mapping.get("properties").and_then(Value::as_object) else { continue };
            let closed = mapping.get("additionalProperties") == Some(&Value::Bool(false));
            if closed && !props.contains_key(&k.key) {
                let expected: Vec<&str> = props.keys().map(String::as_str).collect();
                out.push(unknown_key(&join(&k.parent_path, &k.key), &k.key, &expected).at(Some(k.at)));
            }
        }
        out
    }

    /// The (resolved) schema of the node at `segs`, `None` where the schema does not say.
    fn at(&self, segs: &[Seg]) -> Option<&Map<String, Value>> {
        let mut node = self.resolve(&self.schema)?;
        for seg in segs {
            let next = match seg {
                Seg::Key(k) => node
                    .get("properties")
                    .and_then(|p| p.get(k.as_str()))
                    .or_else(|| node.get("additionalProperties").filter(|v| v.is_object())),
                Seg::Index => node.get("items"),
            }?;
            node = self.resolve(next)?;
        }
        Some(node)
    }

    /// Follows `$ref` and picks the non-null branch of an `Option` (`anyOf: [T, null]`).
    fn resolve<'a>(&'a self, mut v: &'a Value) -> Option<&'a Map<String, Value>> {
        for _ in 0..16 {
            let obj = v.as_object()?;
            if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
                let name = r.strip_prefix("#/$defs/")?;
                v = self.schema.get("$defs")?.get(name)?;
                continue;
            }
            if let Some(alts) = obj.get("anyOf").or_else(|| obj.get("oneOf")).and_then(Value::as_array) {
                v = alts.iter().find(|a| a.get("type") != Some(&Value::String("null".into())))?;
                continue;
            }
            return Some(obj);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_check_resolves_maps_options_and_lists() {
        let check = KeyCheck::new();
        let task = [Seg::Key("job_types".into()), Seg::Key("any-name".into()), Seg::Key("task".into())];
        let props = check.at(&task).and_then(|m| m.get("properties")).and_then(Value::as_object);
        assert!(props.is_some_and(|p| p.contains_key("memory")));
        let stmt = [
            Seg::Key("job_types".into()),
            Seg::Key("x".into()),
            Seg::Key("task".into()),
            Seg::Key("policies".into()),
            Seg::Index,
        ];
        let props = check.at(&stmt).and_then(|m| m.get("properties")).and_then(Value::as_object);
        assert!(props.is_some_and(|p| p.contains_key("actions")));
        // Free-form maps (tags, environment) are open: any key is fine there.
        let tags = [Seg::Key("project".into()), Seg::Key("tags".into())];
        assert!(check.at(&tags).is_some_and(|m| m.get("properties").is_none()));
    }
}
