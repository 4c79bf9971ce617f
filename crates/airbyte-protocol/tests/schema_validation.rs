//! Every message kind the connectors emit validates against the official Airbyte protocol
//! schema (`schema/airbyte_protocol.yaml`), and so does the configured catalog they read.

use airbyte_protocol::{
    AirbyteCatalog, AirbyteMessage, AirbyteStream, ConfiguredAirbyteCatalog,
    ConnectorSpecification, FailureType, LogLevel, StateMessage, Status, StreamStatus, SyncMode,
};
use serde_json::{json, Value};

const PROTOCOL_YAML: &str = include_str!("../schema/airbyte_protocol.yaml");
const NOW_MS: i64 = 1_704_888_000_000;

fn validator(definition: &str) -> jsonschema::Validator {
    let yaml: Value = serde_yaml::from_str(PROTOCOL_YAML).expect("the protocol yaml parses");
    let schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$ref": format!("#/definitions/{definition}"),
        "definitions": yaml["definitions"].clone(),
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .build(&schema)
        .expect("the protocol schema compiles")
}

fn assert_valid(definition: &str, doc: &Value) {
    let v = validator(definition);
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{doc} is not a valid {definition}: {errors:?}"
    );
}

fn assert_message_valid(message: &AirbyteMessage) -> Value {
    let doc: Value = serde_json::from_str(&message.to_json_line()).expect("one line of JSON");
    assert_valid("AirbyteMessage", &doc);
    doc
}

#[test]
fn the_validator_rejects_a_message_that_breaks_the_schema() {
    // Guards the tests below: a validator that accepted anything would prove nothing.
    let v = validator("AirbyteMessage");
    assert!(!v.is_valid(&json!({"type": "RECORD", "record": {"stream": "s"}})));
    assert!(!v.is_valid(&json!({"type": "NOPE"})));
    assert!(!v.is_valid(
        &json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 1.0, "error": {"message": "m", "failure_type": "oops"}}})
    ));
}

#[test]
fn record_validates() {
    let doc = assert_message_valid(&AirbyteMessage::record(
        "ads",
        json!({"id": 1, "nested": {"a": [1, 2]}}),
        NOW_MS,
    ));
    assert_eq!(doc["record"]["emitted_at"], json!(NOW_MS));
}

#[test]
fn stream_state_with_source_stats_validates() {
    let per_partition = json!({"use_global_cursor": false, "states": [
        {"partition": {"advertiser_id": "1", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-01-01"}}
    ], "state": {"stat_time_day": "2024-01-01"}, "lookback_window": 3, "parent_state": {}});
    let doc = assert_message_valid(&AirbyteMessage::State {
        state: StateMessage::stream("ads_reports", per_partition, 12.0),
    });
    assert_eq!(doc["state"]["type"], "STREAM");
    assert_eq!(doc["state"]["sourceStats"]["recordCount"], json!(12.0));
}

#[test]
fn log_validates_at_every_level() {
    for level in [
        LogLevel::Fatal,
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ] {
        assert_message_valid(&AirbyteMessage::log(level, "hello"));
    }
}

#[test]
fn spec_validates() {
    let spec: ConnectorSpecification = serde_json::from_value(json!({
        "documentationUrl": "https://docs.example.invalid",
        "connectionSpecification": {"type": "object", "properties": {"api_key": {"type": "string", "airbyte_secret": true}}},
        "supportsIncremental": true,
        "advanced_auth": {"auth_flow_type": "oauth2.0"}
    }))
    .expect("a spec");
    assert_message_valid(&AirbyteMessage::Spec { spec });
}

#[test]
fn connection_status_validates_both_outcomes() {
    assert_message_valid(&AirbyteMessage::connection_status(Status::Succeeded, None));
    let doc = assert_message_valid(&AirbyteMessage::connection_status(
        Status::Failed,
        Some("Stream ads is not available: HTTP 401".into()),
    ));
    assert_eq!(doc["connectionStatus"]["status"], "FAILED");
}

#[test]
fn catalog_validates() {
    let catalog = AirbyteCatalog {
        streams: vec![
            AirbyteStream {
                name: "ads".into(),
                json_schema: json!({"type": "object", "properties": {"id": {"type": "string"}}}),
                supported_sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
                source_defined_cursor: Some(true),
                default_cursor_field: Some(vec!["updated".into()]),
                source_defined_primary_key: Some(vec![vec!["id".into()]]),
                namespace: None,
                is_resumable: None,
            },
            AirbyteStream {
                name: "accounts".into(),
                json_schema: json!({"type": "object"}),
                supported_sync_modes: vec![SyncMode::FullRefresh],
                source_defined_cursor: None,
                default_cursor_field: None,
                source_defined_primary_key: None,
                namespace: None,
                is_resumable: None,
            },
        ],
    };
    assert_message_valid(&AirbyteMessage::Catalog { catalog });
}

#[test]
fn error_trace_validates_for_every_failure_type() {
    for (ft, text) in [
        (FailureType::ConfigError, "config_error"),
        (FailureType::SystemError, "system_error"),
        (FailureType::TransientError, "transient_error"),
    ] {
        for stream in [None, Some("ads")] {
            let doc = assert_message_valid(&AirbyteMessage::error_trace(
                "something went wrong",
                Some("details".into()),
                ft,
                stream,
                NOW_MS,
            ));
            assert_eq!(doc["trace"]["error"]["failure_type"], text);
        }
    }
}

#[test]
fn stream_status_trace_validates_for_every_status() {
    for (status, text) in [
        (StreamStatus::Started, "STARTED"),
        (StreamStatus::Running, "RUNNING"),
        (StreamStatus::Complete, "COMPLETE"),
        (StreamStatus::Incomplete, "INCOMPLETE"),
    ] {
        let doc = assert_message_valid(&AirbyteMessage::stream_status("ads", status, NOW_MS));
        assert_eq!(doc["trace"]["stream_status"]["status"], text);
    }
}

#[test]
fn estimate_trace_validates() {
    let doc = assert_message_valid(&AirbyteMessage::estimate("ads", 1234, NOW_MS));
    assert_eq!(doc["trace"]["estimate"]["type"], "STREAM");
    assert_eq!(doc["trace"]["estimate"]["row_estimate"], 1234);
}

#[test]
fn control_connector_config_validates() {
    let config = json!({"credentials": {"refresh_token": "r", "access_token": "a"}, "start_date": "2024-01-01"});
    let doc = assert_message_valid(&AirbyteMessage::control_config(
        config.as_object().cloned().unwrap_or_default(),
        NOW_MS,
    ));
    assert_eq!(doc["control"]["type"], "CONNECTOR_CONFIG");
    assert_eq!(doc["control"]["connectorConfig"]["config"], config);
}

#[test]
fn configured_catalog_validates_and_round_trips() {
    let input = json!({"streams": [
        {"stream": {"name": "ads", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
         "sync_mode": "incremental", "cursor_field": ["updated"], "destination_sync_mode": "append_dedup",
         "primary_key": [["id"]]},
        {"stream": {"name": "accounts", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
         "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
    ]});
    assert_valid("ConfiguredAirbyteCatalog", &input);
    let parsed: ConfiguredAirbyteCatalog =
        serde_json::from_value(input.clone()).expect("a configured catalog");
    let back = serde_json::to_value(&parsed).expect("serialises");
    assert_valid("ConfiguredAirbyteCatalog", &back);
    assert_eq!(back["streams"][0]["sync_mode"], "incremental");
    assert_eq!(back["streams"][1]["destination_sync_mode"], "overwrite");
}
