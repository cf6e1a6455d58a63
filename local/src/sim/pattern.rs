//! The deployed EventBridge rule's event pattern, evaluated with a real EventBridge-pattern engine
//! (the `quamina` crate, a Rust port of quamina, which implements EventBridge pattern syntax: exact
//! values, prefix/suffix, anything-but, exists, numeric, wildcard, ...). The simulator delivers an
//! event to the track handler only when this says the rule would: the filter is never hard-coded.

use serde_json::Value;

/// A rule's event pattern, compiled.
pub struct RulePattern {
    source: Value,
    engine: quamina::Quamina<String>,
}

impl std::fmt::Debug for RulePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulePattern").field("pattern", &self.source).finish()
    }
}

/// A pattern the engine cannot use.
#[derive(Debug, thiserror::Error)]
#[error("the rule's event pattern cannot be evaluated: {0}: jobgen dev needs an EventBridge pattern it can match")]
pub struct PatternError(String);

impl RulePattern {
    /// Compiles `pattern` (the rule's `EventPattern` JSON).
    pub fn new(pattern: &Value) -> Result<RulePattern, PatternError> {
        let mut engine = quamina::Quamina::new();
        engine.add_pattern("rule".to_string(), &pattern.to_string()).map_err(|e| PatternError(e.to_string()))?;
        Ok(RulePattern { source: pattern.clone(), engine })
    }

    /// The pattern as deployed.
    pub fn source(&self) -> &Value {
        &self.source
    }

    /// Whether the rule matches `event` (a whole EventBridge event). An event the engine cannot read
    /// does not match.
    pub fn matches(&self, event: &Value) -> bool {
        self.engine.matches_for_event(event.to_string().as_bytes()).map(|m| !m.is_empty()).unwrap_or(false)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn matches_like_eventbridge_on_the_rule_shape() {
        let p = RulePattern::new(&json!({
            "source": ["aws.ecs"],
            "detail-type": ["ECS Task State Change"],
            "detail": {"clusterArn": ["arn:c"], "startedBy": ["jobgen/demo"], "lastStatus": ["RUNNING", "STOPPED"]}
        }))
        .unwrap();
        let event = |status: &str, started_by: &str| {
            json!({"source": "aws.ecs", "detail-type": "ECS Task State Change",
                   "detail": {"clusterArn": "arn:c", "startedBy": started_by, "lastStatus": status, "version": 3}})
        };
        assert!(p.matches(&event("RUNNING", "jobgen/demo")));
        assert!(p.matches(&event("STOPPED", "jobgen/demo")));
        assert!(!p.matches(&event("PENDING", "jobgen/demo")));
        assert!(!p.matches(&event("RUNNING", "jobgen/other")));
        let mut no_started_by = event("RUNNING", "x");
        no_started_by["detail"].as_object_mut().unwrap().remove("startedBy");
        assert!(!p.matches(&no_started_by));
        assert!(RulePattern::new(&json!({"source": "aws.ecs"})).is_err(), "a leaf must be an array");
    }
}
