//! Reading the files Airbyte hands a connector: config, configured catalog and state.
//!
//! Every failure here is the user's to fix, so every error is a config error with a message
//! that says which file and what is wrong.

use std::collections::HashMap;
use std::path::Path;

use airbyte_protocol::{ConfiguredAirbyteCatalog, StateMessage, StateType};
use serde_json::Value;

use crate::error::{Error, Result};

fn read_json(path: &Path, what: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::config(format!(
            "Could not read the {what} file {}: {e}",
            path.display()
        ))
    })?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| {
        Error::config(format!(
            "The {what} file {} is not valid JSON: {e}",
            path.display()
        ))
    })
}

/// Reads the config: a JSON object.
pub fn read_config(path: &Path) -> Result<Value> {
    match read_json(path, "config")? {
        v @ Value::Object(_) => Ok(v),
        _ => Err(Error::config(format!(
            "The config file {} must hold a JSON object",
            path.display()
        ))),
    }
}

/// Validates a config against the `connectionSpecification` JSON Schema.
///
/// Messages name the field and what was wrong with it but never print the value of a field
/// the spec marks `airbyte_secret`, whatever its type (a token given as an array is still a
/// token), nor any object that holds one: `'/api_key': expected a string`.
pub fn validate_against_spec(config: &Value, connection_spec: &Value) -> Result<()> {
    // The draft is fixed below; a `$schema` URI the validator does not know offline
    // (`https://json-schema.org/draft-07/schema#`, as some official specs spell it) would
    // otherwise make it try to fetch the meta-schema.
    let mut spec = connection_spec.clone();
    if let Value::Object(m) = &mut spec {
        m.remove("$schema");
    }
    let validator = compile(&spec).map_err(|e| {
        Error::system(format!(
            "the connector's spec is not a valid JSON Schema: {e}"
        ))
    })?;
    let secret = crate::secrets::secret_names(&spec);
    let problems: Vec<String> = validator
        .iter_errors(config)
        .map(|e| describe(&e, "", &spec, &secret))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::config(format!(
            "The config does not match the connector's specification: {}",
            problems.join("; ")
        )))
    }
}

fn compile(schema: &Value) -> std::result::Result<jsonschema::Validator, String> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(false)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// One validation problem as `'<path>': <what is wrong>`. `prefix` is the path of the
/// instance the error was found in (non-empty when describing inside a `oneOf` branch).
fn describe(
    e: &jsonschema::ValidationError<'_>,
    prefix: &str,
    schema: &Value,
    secret: &[String],
) -> String {
    let path = format!("{prefix}{}", e.instance_path.as_str());
    let at = if path.is_empty() {
        "the config".to_string()
    } else {
        format!("'{path}'")
    };
    let sensitive = path
        .split('/')
        .map(|seg| seg.replace("~1", "/").replace("~0", "~"))
        .any(|seg| secret.contains(&seg))
        || holds_secret(&e.instance, secret);
    let what = match &e.kind {
        jsonschema::error::ValidationErrorKind::Type { kind } if sensitive => {
            format!("expected {}", expected_type(kind))
        }
        _ if sensitive => e.masked_with("the value").to_string(),
        _ => e.to_string(),
    };
    let closest = match &e.kind {
        jsonschema::error::ValidationErrorKind::OneOfNotValid
        | jsonschema::error::ValidationErrorKind::AnyOf => closest_branch(e, &path, schema, secret),
        _ => None,
    };
    match closest {
        Some(detail) => format!("{at}: {what} (closest alternative: {detail})"),
        None => format!("{at}: {what}"),
    }
}

/// Whether `value` holds a secret property at any depth.
fn holds_secret(value: &Value, secret: &[String]) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| secret.contains(k) || holds_secret(v, secret)),
        Value::Array(items) => items.iter().any(|v| holds_secret(v, secret)),
        _ => false,
    }
}

fn expected_type(kind: &jsonschema::error::TypeKind) -> String {
    let article = |t: String| match t.as_str() {
        "array" | "integer" | "object" => format!("an {t}"),
        "null" => t,
        _ => format!("a {t}"),
    };
    match kind {
        jsonschema::error::TypeKind::Single(t) => article(t.to_string()),
        jsonschema::error::TypeKind::Multiple(ts) => ts
            .iter()
            .map(|t| article(t.to_string()))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// For a value that matches none of the `oneOf`/`anyOf` alternatives, what is wrong with it
/// under the alternative it comes closest to (fewest problems): "none matched" alone does not
/// tell a user which field to fix.
fn closest_branch(
    e: &jsonschema::ValidationError<'_>,
    path: &str,
    schema: &Value,
    secret: &[String],
) -> Option<String> {
    let branches = schema.pointer(e.schema_path.as_str())?.as_array()?;
    branches
        .iter()
        .filter_map(|b| {
            let v = compile(b).ok()?;
            let problems: Vec<String> = v
                .iter_errors(&e.instance)
                .map(|sub| describe(&sub, path, b, secret))
                .collect();
            Some(problems)
        })
        .filter(|p| !p.is_empty())
        .min_by_key(Vec::len)
        .map(|p| p.join(", "))
}

/// Reads the configured catalog.
pub fn read_catalog(path: &Path) -> Result<ConfiguredAirbyteCatalog> {
    let v = read_json(path, "catalog")?;
    serde_json::from_value(v).map_err(|e| {
        Error::config(format!(
            "The catalog file {} is not a configured catalog: {e}",
            path.display()
        ))
    })
}

/// Reads the state file into one state value per stream. Accepts a list of per-stream state
/// messages, a GLOBAL message, a LEGACY message, a single message, or the legacy map of
/// stream name to state.
pub fn read_state(path: &Path) -> Result<HashMap<String, Value>> {
    let v = read_json(path, "state")?;
    parse_state(v).map_err(|e| e.context(&format!("The state file {}: ", path.display())))
}

pub fn parse_state(v: Value) -> Result<HashMap<String, Value>> {
    let mut out = HashMap::new();
    match v {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                absorb_message(item, &mut out)?;
            }
        }
        Value::Object(map) => {
            let looks_like_message = map.contains_key("type")
                || map.contains_key("stream")
                || map.contains_key("global")
                || (map.contains_key("data") && map.len() == 1);
            if looks_like_message {
                absorb_message(Value::Object(map), &mut out)?;
            } else {
                for (k, v) in map {
                    out.insert(k, v);
                }
            }
        }
        other => {
            return Err(Error::config(format!(
                "state must be a list of state messages or an object, got {other}"
            )))
        }
    }
    Ok(out)
}

fn absorb_message(v: Value, out: &mut HashMap<String, Value>) -> Result<()> {
    let msg: StateMessage = serde_json::from_value(v)
        .map_err(|e| Error::config(format!("a state entry is not a state message: {e}")))?;
    match msg.state_type {
        Some(StateType::Stream) | None if msg.stream.is_some() => {
            if let Some(s) = msg.stream {
                out.insert(
                    s.stream_descriptor.name,
                    s.stream_state.unwrap_or(Value::Null),
                );
            }
        }
        Some(StateType::Global) => {
            if let Some(g) = msg.global {
                for s in g.stream_states {
                    out.insert(
                        s.stream_descriptor.name,
                        s.stream_state.unwrap_or(Value::Null),
                    );
                }
            }
        }
        _ => {
            if let Some(Value::Object(data)) = msg.data {
                for (k, v) in data {
                    out.insert(k, v);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_state_form() {
        let per_stream = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "a"}, "stream_state": {"x": 1}}}]);
        assert_eq!(parse_state(per_stream).unwrap()["a"], json!({"x": 1}));
        let legacy = json!({"type": "LEGACY", "data": {"b": {"y": 2}}});
        assert_eq!(parse_state(legacy).unwrap()["b"], json!({"y": 2}));
        let map = json!({"c": {"z": 3}});
        assert_eq!(parse_state(map).unwrap()["c"], json!({"z": 3}));
        let global = json!([{"type": "GLOBAL", "global": {"stream_states": [{"stream_descriptor": {"name": "d"}, "stream_state": {"w": 4}}]}}]);
        assert_eq!(parse_state(global).unwrap()["d"], json!({"w": 4}));
        assert!(parse_state(json!(5)).is_err());
        assert!(parse_state(json!([5])).is_err());
    }

    #[test]
    fn spec_violations_are_config_errors_naming_the_field() {
        let spec = json!({"type": "object", "required": ["api_key"], "properties": {"api_key": {"type": "string"}, "n": {"type": "integer", "minimum": 1}}});
        assert!(validate_against_spec(&json!({"api_key": "k", "n": 2}), &spec).is_ok());
        let e = validate_against_spec(&json!({"n": 0}), &spec).unwrap_err();
        assert_eq!(e.failure_type(), airbyte_protocol::FailureType::ConfigError);
        assert!(e.message().contains("api_key"), "{}", e.message());
        assert!(e.message().contains("/n"), "{}", e.message());
    }

    #[test]
    fn secret_values_of_any_type_are_never_printed() {
        let spec = json!({"type": "object", "properties": {
        "api_key": {"type": "string", "airbyte_secret": true, "minLength": 5},
        "name": {"type": "string"},
        "credentials": {"type": "object", "oneOf": [
            {"type": "object", "required": ["auth_type", "access_token"], "properties": {
                "auth_type": {"const": "oauth2.0"},
                "access_token": {"type": "string", "airbyte_secret": true}}},
            {"type": "object", "required": ["auth_type", "client_secret"], "properties": {
                "auth_type": {"const": "client"},
                "client_secret": {"type": "string", "airbyte_secret": true}}}
        ]}}});
        let cases = [
            (
                json!({"api_key": ["pk_SECRET_1"]}),
                "'/api_key': expected a string",
            ),
            (
                json!({"api_key": {"key": "pk_SECRET_2"}}),
                "'/api_key': expected a string",
            ),
            (
                json!({"api_key": 1234567890}),
                "'/api_key': expected a string",
            ),
            (
                json!({"api_key": "pk_1"}),
                "'/api_key': the value is shorter than 5 characters",
            ),
            (
                json!({"credentials": {"auth_type": "oauth2.0", "access_token": ["tok_SECRET_3"]}}),
                "'/credentials/access_token': expected a string",
            ),
            (
                json!({"credentials": {"auth_type": "client", "client_secret": {"s": "cs_SECRET_4"}}}),
                "'/credentials/client_secret': expected a string",
            ),
        ];
        for (config, expected) in cases {
            let e = validate_against_spec(&config, &spec).unwrap_err();
            let m = e.message();
            assert!(m.contains(expected), "{config}: {m}");
            for needle in ["SECRET", "1234567890", "pk_1"] {
                assert!(!m.contains(needle), "{config}: {m}");
            }
        }
        // Values of other fields are still shown: they help the user.
        let e = validate_against_spec(&json!({"name": 42}), &spec).unwrap_err();
        assert!(e.message().contains("42 is not of type"), "{}", e.message());
    }

    #[test]
    fn specs_declaring_the_https_draft_07_uri_validate_offline() {
        let spec = json!({"$schema": "https://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {"n": {"type": "integer"}}});
        assert!(validate_against_spec(&json!({"n": 2}), &spec).is_ok());
        assert!(validate_against_spec(&json!({"n": "x"}), &spec).is_err());
    }
}
