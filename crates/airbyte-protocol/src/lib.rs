//! Airbyte protocol messages as Rust types.
//!
//! The types mirror `airbyte_protocol.yaml` (protocol 0.3.x) closely enough that every
//! message a connector emits serialises to a document the official schema accepts, and every
//! message the platform hands to a source (configured catalog, state) deserialises without
//! loss. Unknown fields on input are tolerated, as the protocol marks every object with
//! `additionalProperties: true`.

#[cfg(feature = "validation")]
pub mod validation;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One line of connector output (or a state message on input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AirbyteMessage {
    #[serde(rename = "RECORD")]
    Record { record: RecordMessage },
    #[serde(rename = "STATE")]
    State { state: StateMessage },
    #[serde(rename = "LOG")]
    Log { log: LogMessage },
    #[serde(rename = "SPEC")]
    Spec { spec: ConnectorSpecification },
    #[serde(rename = "CONNECTION_STATUS")]
    ConnectionStatus {
        #[serde(rename = "connectionStatus")]
        connection_status: ConnectionStatus,
    },
    #[serde(rename = "CATALOG")]
    Catalog { catalog: AirbyteCatalog },
    #[serde(rename = "TRACE")]
    Trace { trace: TraceMessage },
    #[serde(rename = "CONTROL")]
    Control { control: ControlMessage },
}

impl AirbyteMessage {
    /// Serialises the message as one line of JSON (no trailing newline).
    pub fn to_json_line(&self) -> String {
        // Serialising these types cannot fail: every map key is a string.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordMessage {
    pub stream: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub namespace: Option<String>,
    pub data: Value,
    /// Milliseconds since the Unix epoch.
    pub emitted_at: i64,
}

/// The state type on the wire. We always emit `STREAM`; `GLOBAL` and `LEGACY` are accepted on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StateType {
    Global,
    Stream,
    Legacy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StateMessage {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none", default)]
    pub state_type: Option<StateType>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stream: Option<StreamState>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub global: Option<GlobalState>,
    /// The LEGACY payload: a map from stream name to that stream's state.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data: Option<Value>,
    #[serde(
        rename = "sourceStats",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub source_stats: Option<StateStats>,
}

impl StateMessage {
    /// A per-stream state message, the only kind our sources emit.
    pub fn stream(name: &str, state: Value, record_count: f64) -> Self {
        StateMessage {
            state_type: Some(StateType::Stream),
            stream: Some(StreamState {
                stream_descriptor: StreamDescriptor::new(name),
                stream_state: Some(state),
            }),
            global: None,
            data: None,
            source_stats: Some(StateStats {
                record_count: Some(record_count),
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamState {
    pub stream_descriptor: StreamDescriptor,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stream_state: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalState {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shared_state: Option<Value>,
    #[serde(default)]
    pub stream_states: Vec<StreamState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StateStats {
    #[serde(
        rename = "recordCount",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub record_count: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamDescriptor {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub namespace: Option<String>,
}

impl StreamDescriptor {
    pub fn new(name: &str) -> Self {
        StreamDescriptor {
            name: name.to_string(),
            namespace: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Fatal,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogMessage {
    pub level: LogLevel,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorSpecification {
    #[serde(
        rename = "documentationUrl",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub documentation_url: Option<String>,
    #[serde(rename = "connectionSpecification")]
    pub connection_specification: Value,
    #[serde(
        rename = "supportsIncremental",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub supports_incremental: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub advanced_auth: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub protocol_version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionStatus {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteCatalog {
    pub streams: Vec<AirbyteStream>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    FullRefresh,
    Incremental,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationSyncMode {
    Append,
    Overwrite,
    AppendDedup,
    Update,
    SoftDelete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteStream {
    pub name: String,
    pub json_schema: Value,
    pub supported_sync_modes: Vec<SyncMode>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source_defined_cursor: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub default_cursor_field: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source_defined_primary_key: Option<Vec<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub is_resumable: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfiguredAirbyteCatalog {
    pub streams: Vec<ConfiguredAirbyteStream>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfiguredAirbyteStream {
    pub stream: AirbyteStream,
    #[serde(default = "default_sync_mode")]
    pub sync_mode: SyncMode,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cursor_field: Option<Vec<String>>,
    #[serde(default = "default_destination_sync_mode")]
    pub destination_sync_mode: DestinationSyncMode,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub primary_key: Option<Vec<Vec<String>>>,
}

fn default_sync_mode() -> SyncMode {
    SyncMode::FullRefresh
}

fn default_destination_sync_mode() -> DestinationSyncMode {
    DestinationSyncMode::Append
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureType {
    SystemError,
    ConfigError,
    TransientError,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum TraceMessage {
    #[serde(rename = "ERROR")]
    Error { emitted_at: f64, error: ErrorTrace },
    #[serde(rename = "ESTIMATE")]
    Estimate {
        emitted_at: f64,
        estimate: EstimateTrace,
    },
    #[serde(rename = "STREAM_STATUS")]
    StreamStatus {
        emitted_at: f64,
        stream_status: StreamStatusTrace,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorTrace {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub internal_message: Option<String>,
    pub failure_type: FailureType,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stream_descriptor: Option<StreamDescriptor>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EstimateType {
    Stream,
    Sync,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstimateTrace {
    pub name: String,
    #[serde(rename = "type")]
    pub estimate_type: EstimateType,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub row_estimate: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub byte_estimate: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StreamStatus {
    Started,
    Running,
    Complete,
    Incomplete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamStatusTrace {
    pub stream_descriptor: StreamDescriptor,
    pub status: StreamStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ControlMessage {
    #[serde(rename = "CONNECTOR_CONFIG")]
    ConnectorConfig {
        emitted_at: f64,
        #[serde(rename = "connectorConfig")]
        connector_config: ConnectorConfig,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorConfig {
    pub config: Map<String, Value>,
}

/// Constructors that stamp `emitted_at` with the given instant (milliseconds since the epoch).
impl AirbyteMessage {
    pub fn record(stream: &str, data: Value, emitted_at_ms: i64) -> Self {
        AirbyteMessage::Record {
            record: RecordMessage {
                stream: stream.to_string(),
                namespace: None,
                data,
                emitted_at: emitted_at_ms,
            },
        }
    }

    pub fn log(level: LogLevel, message: impl Into<String>) -> Self {
        AirbyteMessage::Log {
            log: LogMessage {
                level,
                message: message.into(),
            },
        }
    }

    pub fn error_trace(
        message: impl Into<String>,
        internal_message: Option<String>,
        failure_type: FailureType,
        stream: Option<&str>,
        emitted_at_ms: i64,
    ) -> Self {
        AirbyteMessage::Trace {
            trace: TraceMessage::Error {
                emitted_at: emitted_at_ms as f64,
                error: ErrorTrace {
                    message: message.into(),
                    internal_message,
                    failure_type,
                    stream_descriptor: stream.map(StreamDescriptor::new),
                },
            },
        }
    }

    pub fn stream_status(stream: &str, status: StreamStatus, emitted_at_ms: i64) -> Self {
        AirbyteMessage::Trace {
            trace: TraceMessage::StreamStatus {
                emitted_at: emitted_at_ms as f64,
                stream_status: StreamStatusTrace {
                    stream_descriptor: StreamDescriptor::new(stream),
                    status,
                },
            },
        }
    }

    pub fn estimate(stream: &str, row_estimate: i64, emitted_at_ms: i64) -> Self {
        AirbyteMessage::Trace {
            trace: TraceMessage::Estimate {
                emitted_at: emitted_at_ms as f64,
                estimate: EstimateTrace {
                    name: stream.to_string(),
                    estimate_type: EstimateType::Stream,
                    row_estimate: Some(row_estimate),
                    byte_estimate: None,
                },
            },
        }
    }

    pub fn connection_status(status: Status, message: Option<String>) -> Self {
        AirbyteMessage::ConnectionStatus {
            connection_status: ConnectionStatus { status, message },
        }
    }

    pub fn control_config(config: Map<String, Value>, emitted_at_ms: i64) -> Self {
        AirbyteMessage::Control {
            control: ControlMessage::ConnectorConfig {
                emitted_at: emitted_at_ms as f64,
                connector_config: ConnectorConfig { config },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_message_serialises_in_the_stream_shape() {
        let msg = AirbyteMessage::State {
            state: StateMessage::stream("ads", json!({"a": 1}), 2.0),
        };
        let v: Value = serde_json::from_str(&msg.to_json_line()).unwrap();
        assert_eq!(
            v,
            json!({"type": "STATE", "state": {"type": "STREAM",
                "stream": {"stream_descriptor": {"name": "ads"}, "stream_state": {"a": 1}},
                "sourceStats": {"recordCount": 2.0}}})
        );
    }

    #[test]
    fn legacy_and_global_state_inputs_deserialise() {
        let legacy: StateMessage =
            serde_json::from_value(json!({"type": "LEGACY", "data": {"ads": {"x": 1}}})).unwrap();
        assert_eq!(legacy.state_type, Some(StateType::Legacy));
        let global: StateMessage = serde_json::from_value(json!({"type": "GLOBAL",
            "global": {"shared_state": {}, "stream_states": [{"stream_descriptor": {"name": "a"}, "stream_state": {"c": 1}}]}}))
        .unwrap();
        assert_eq!(global.global.unwrap().stream_states.len(), 1);
    }

    #[test]
    fn configured_catalog_defaults_are_applied() {
        let cat: ConfiguredAirbyteCatalog = serde_json::from_value(json!({"streams": [
            {"stream": {"name": "s", "json_schema": {}, "supported_sync_modes": ["full_refresh"]}}
        ]}))
        .unwrap();
        assert_eq!(cat.streams[0].sync_mode, SyncMode::FullRefresh);
    }
}
