//! Every shape mistake of a project file at once: wrong types, values outside an enumeration and
//! missing required keys, found by walking the file (as a JSON value) against the JSON Schema that
//! `jobgen schema` prints, the same schema editors check with.
//!
//! serde stops at the first mistake it meets, so a file with an `architecture: arm64` and a
//! missing `image:` would be fixed one error per run. The parse stage calls [`shape_errors`] when
//! serde refuses the file, and reports what it finds instead of serde's one error; when it finds
//! nothing (a mistake the schema does not describe), serde's error stands. Unknown keys are the key
//! check's ([`crate::keys`]), which runs before; value ranges are validation's, which runs after a
//! file parses.

use serde_json::Value;

use crate::diagnostics::{Diagnostic, SpanIndex, did_you_mean, join};

/// The shape mistakes of `value` (the whole file) against `schema`, each with its field path and,
/// where the index has it, its location.
pub fn shape_errors(value: &Value, schema: &Value, index: &SpanIndex) -> Vec<Diagnostic> {
    let mut walker = Walker { root: schema, index, out: Vec::new() };
    walker.check(value, schema, "");
    walker.out
}

struct Walker<'a> {
    root: &'a Value,
    index: &'a SpanIndex,
    out: Vec<Diagnostic>,
}

/// A schema type in the words the other messages use.
fn friendly(ty: &str) -> &'static str {
    match ty {
        "string" => "a string",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        "object" => "a mapping",
        "array" => "a list",
        "null" => "nothing",
        _ => "another value",
    }
}

fn help_for(ty: &str) -> String {
    match ty {
        "integer" | "number" => "write a number without quotes or units, e.g. `1024`".into(),
        "boolean" => "write `true` or `false`".into(),
        "object" => "write `key: value` pairs indented under this key".into(),
        "array" => "write a list: `[a, b]`, or one `- item` per line".into(),
        _ => "write a single text value (quote it if it contains `: ` or starts with a special character)".into(),
    }
}

/// What a value is, for "expected a list, found `x`".
fn found(value: &Value) -> String {
    match value {
        Value::Null => "nothing (an empty value)".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => format!("`{s}`"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

fn has_type(value: &Value, ty: &str, format: Option<&str>) -> bool {
    match (ty, value) {
        ("string", Value::String(_)) | ("boolean", Value::Bool(_)) | ("null", Value::Null) => true,
        ("object", Value::Object(_)) | ("array", Value::Array(_)) => true,
        ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => {
            if format.is_some_and(|f| f.starts_with("uint")) {
                n.is_u64()
            } else {
                n.is_i64() || n.is_u64()
            }
        }
        _ => false,
    }
}

impl<'a> Walker<'a> {
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else { break };
            let Some(pointer) = reference.strip_prefix('#') else { break };
            match self.root.pointer(pointer) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    fn err(&mut self, path: &str, message: String, help: String) {
        let at = self.index.find_value(path);
        self.out.push(Diagnostic::new(path, message, help).at(at));
    }

    /// Whether `value` fits `schema` (nothing reported).
    fn fits(&self, value: &Value, schema: &'a Value) -> bool {
        let mut probe = Walker { root: self.root, index: self.index, out: Vec::new() };
        probe.check(value, schema, "");
        probe.out.is_empty()
    }

    /// `value` must be one of `allowed`.
    fn enumeration(&mut self, value: &Value, allowed: &[Value], path: &str) {
        if allowed.contains(value) {
            return;
        }
        let names: Vec<String> =
            allowed.iter().map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_string)).collect();
        let text = value.as_str().map_or_else(|| found(value), |s| format!("`{s}`"));
        let help = match value.as_str().and_then(|v| did_you_mean(v, names.iter().map(String::as_str))) {
            Some(s) => format!("did you mean `{s}`? allowed: {}", names.join(", ")),
            None => format!("allowed: {}", names.join(", ")),
        };
        self.err(path, format!("{text} is not an allowed value"), help);
    }

    fn check(&mut self, value: &Value, schema: &'a Value, path: &str) {
        let schema = self.resolve(schema);
        for combinator in ["anyOf", "oneOf"] {
            if let Some(branches) = schema.get(combinator).and_then(Value::as_array) {
                // An enumeration written as one `const` per branch (each with its description).
                let consts: Option<Vec<Value>> =
                    branches.iter().map(|b| self.resolve(b).get("const").cloned()).collect();
                if let Some(consts) = consts {
                    self.enumeration(value, &consts, path);
                    return;
                }
                if branches.iter().any(|b| self.fits(value, b)) {
                    return;
                }
                // Report against the branch that takes this kind of value (an optional field's
                // non-null branch), else the first.
                let branch = branches
                    .iter()
                    .find(|b| !self.resolve(b).get("type").is_some_and(|t| t == "null"))
                    .or(branches.first());
                if let Some(branch) = branch {
                    self.check(value, branch, path);
                }
                return;
            }
        }
        let format = schema.get("format").and_then(Value::as_str);
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| has_type(value, t, format)) {
            let main = types.iter().find(|t| **t != "null").copied().unwrap_or("null");
            let expected = if main == "integer" && format.is_some_and(|f| f.starts_with("uint")) {
                "a whole number (0 or more)"
            } else {
                friendly(main)
            };
            // In the words serde's messages use for the same mistakes.
            let (message, help) = match (main, value) {
                ("boolean", _) => {
                    let yaml11 = value.as_str().is_some_and(|v| {
                        ["yes", "no", "on", "off", "y", "n"].contains(&v.to_ascii_lowercase().as_str())
                    });
                    let help = if yaml11 {
                        "write `true` or `false` (yes/no/on/off are strings in YAML 1.2, and editors read them so)"
                            .into()
                    } else {
                        help_for(main)
                    };
                    ("expected true or false".to_string(), help)
                }
                ("string", Value::Null) => (
                    "the value is empty (null): a string is required".to_string(),
                    "write a value after the colon, or remove the key".to_string(),
                ),
                (_, Value::String(_) | Value::Number(_) | Value::Bool(_)) if main != "string" && main != "array" => {
                    (format!("{} is not {expected}", found(value)), help_for(main))
                }
                (_, Value::String(_) | Value::Number(_) | Value::Bool(_)) => {
                    (format!("expected {expected}, found a single value"), help_for(main))
                }
                _ => (format!("expected {expected}, found {}", found(value)), help_for(main)),
            };
            self.err(path, message, help);
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            self.enumeration(value, allowed, path);
            return;
        }
        match value {
            Value::Object(map) => {
                if let Some(required) = schema.get("required").and_then(Value::as_array) {
                    for key in required.iter().filter_map(Value::as_str) {
                        if !map.contains_key(key) {
                            let help = if path.is_empty() {
                                format!("add `{key}:` at the top level (see `jobgen init` for a complete file)")
                            } else {
                                format!("add `{key}:` under `{path}`")
                            };
                            let at = self.index.find(path);
                            self.out.push(Diagnostic::new(join(path, key), "required key is missing", help).at(at));
                        }
                    }
                }
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties").filter(|a| a.is_object());
                for (key, child) in map {
                    let sub = properties.and_then(|p| p.get(key)).or(additional);
                    if let Some(sub) = sub {
                        self.check(child, sub, &join(path, key));
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item, item_schema, &format!("{path}[{i}]"));
                    }
                }
            }
            _ => {}
        }
    }
}
