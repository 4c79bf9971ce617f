//! Validation of emitted messages against the Airbyte protocol schema
//! (`schema/airbyte_protocol.yaml`, embedded), for the test harness, the demo and the image
//! tests, so that "a valid message" means the same thing everywhere. Behind the `validation`
//! feature: the connector binaries do not carry a JSON Schema validator.

use std::sync::OnceLock;

use serde_json::{json, Value};

const PROTOCOL_YAML: &str = include_str!("../schema/airbyte_protocol.yaml");

/// The protocol's `AirbyteMessage` schema, compiled once.
fn validator() -> Result<&'static jsonschema::Validator, String> {
    static V: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    V.get_or_init(|| {
        let yaml: Value =
            serde_yaml::from_str(PROTOCOL_YAML).map_err(|e| format!("protocol schema: {e}"))?;
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$ref": "#/definitions/AirbyteMessage",
            "definitions": yaml["definitions"].clone(),
        });
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .build(&schema)
            .map_err(|e| format!("protocol schema: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Every way `message` breaks the protocol schema (`"<error> at <path>"`); empty when valid.
pub fn message_errors(message: &Value) -> Result<Vec<String>, String> {
    Ok(validator()?
        .iter_errors(message)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_record_passes_and_a_broken_one_is_explained() {
        let ok = json!({"type": "RECORD", "record": {"stream": "s", "data": {}, "emitted_at": 1}});
        assert!(message_errors(&ok).unwrap().is_empty());
        let broken = json!({"type": "RECORD", "record": {"stream": "s", "data": {}}});
        let errors = message_errors(&broken).unwrap();
        assert!(
            errors.iter().any(|e| e.contains("emitted_at")),
            "{errors:?}"
        );
    }
}
