//! Secret values, masked wherever text leaves the connector.
//!
//! The set starts with every config value whose spec property is marked `airbyte_secret`
//! and grows at run time (an OAuth access token fetched mid-sync). The output layer masks
//! LOG and TRACE text with it, so no code path has to remember to.

use std::sync::{Arc, RwLock};

use serde_json::Value;

/// Values shorter than this are not masked: masking "1" or "ab" would garble every message.
const MIN_SECRET_LEN: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Arc<RwLock<Vec<String>>>,
}

impl Secrets {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&self, value: &str) {
        if value.len() < MIN_SECRET_LEN {
            return;
        }
        if let Ok(mut v) = self.values.write() {
            if !v.iter().any(|s| s == value) {
                v.push(value.to_string());
                // Longest first, so a secret that contains another is masked whole.
                v.sort_by_key(|s| std::cmp::Reverse(s.len()));
            }
        }
    }

    /// Registers every string in `config` that sits under a key the spec marks secret.
    pub fn add_from_config(&self, spec: &Value, config: &Value) {
        let mut names = Vec::new();
        collect_secret_names(spec, &mut names);
        self.add_matching(config, &names);
    }

    fn add_matching(&self, value: &Value, names: &[String]) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if names.iter().any(|n| n == k) {
                        match v {
                            Value::String(s) => self.add(s),
                            Value::Number(n) => self.add(&n.to_string()),
                            other => self.add_matching(other, names),
                        }
                    } else {
                        self.add_matching(v, names);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.add_matching(v, names)),
            _ => {}
        }
    }

    /// Replaces every known secret in `text` with `****`.
    pub fn mask(&self, text: &str) -> String {
        let Ok(values) = self.values.read() else {
            return text.to_string();
        };
        let mut out = text.to_string();
        for s in values.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "****");
            }
        }
        out
    }
}

/// Names of properties marked `airbyte_secret: true`, at any depth of a JSON Schema
/// (through `properties`, `oneOf`, `anyOf`, `allOf` and `items`).
fn collect_secret_names(schema: &Value, out: &mut Vec<String>) {
    let Value::Object(map) = schema else { return };
    if let Some(Value::Object(props)) = map.get("properties") {
        for (name, prop) in props {
            if prop.get("airbyte_secret").and_then(Value::as_bool) == Some(true)
                && !out.contains(name)
            {
                out.push(name.clone());
            }
            collect_secret_names(prop, out);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(branches)) = map.get(key) {
            branches.iter().for_each(|b| collect_secret_names(b, out));
        }
    }
    if let Some(items) = map.get("items") {
        collect_secret_names(items, out);
    }
    if let Some(cs) = map.get("connectionSpecification") {
        collect_secret_names(cs, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_secret_fields_found_through_one_of() {
        let spec = json!({"properties": {"credentials": {"oneOf": [
            {"properties": {"access_token": {"type": "string", "airbyte_secret": true}}}
        ]}, "start_date": {"type": "string"}}});
        let config =
            json!({"credentials": {"access_token": "tok-123456"}, "start_date": "2020-01-01"});
        let secrets = Secrets::new();
        secrets.add_from_config(&spec, &config);
        assert_eq!(
            secrets.mask("bad token tok-123456 since 2020-01-01"),
            "bad token **** since 2020-01-01"
        );
    }

    #[test]
    fn short_values_are_not_masked() {
        let s = Secrets::new();
        s.add("ab");
        assert_eq!(s.mask("abc"), "abc");
    }
}
