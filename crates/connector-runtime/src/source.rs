//! What a source crate implements: its spec, config migrations and stream declarations.

use std::sync::Arc;

use airbyte_protocol::{AirbyteCatalog, AirbyteStream, ConnectorSpecification, SyncMode};
use serde_json::Value;

use crate::env::RunEnv;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::stream::DeclarativeStream;

/// What a source needs to build its streams.
#[derive(Clone)]
pub struct SourceContext {
    pub env: RunEnv,
    /// For components that talk to the platform mid-run (OAuth token write-back).
    pub output: Output,
}

pub trait Source: Send + Sync {
    /// The image name, e.g. `source-klaviyo`.
    fn name(&self) -> &str;

    /// The connector version (for logs and the protocol).
    fn version(&self) -> &str;

    /// The connection specification, as the official connector declares it.
    fn spec(&self) -> Result<airbyte_protocol::ConnectorSpecification>;

    /// Rewrites legacy config shapes in place; `true` when something changed (the CLI then
    /// emits a CONTROL message so the platform stores the migrated config).
    fn migrate_config(&self, _config: &mut Value) -> bool {
        false
    }

    /// Checks beyond the JSON Schema (cross-field rules). Errors are config errors.
    fn validate_config(&self, _config: &Value) -> Result<()> {
        Ok(())
    }

    /// The catalog streams for this config, in catalog order.
    fn streams(&self, config: &Value, ctx: &SourceContext) -> Result<Vec<Arc<DeclarativeStream>>>;

    /// The stream `check` reads.
    fn check_stream(&self) -> &str;

    /// How many partitions may be read at once.
    fn workers(&self, _config: &Value) -> usize {
        4
    }
}

/// Parses an embedded spec file into a [`ConnectorSpecification`].
pub fn spec_from_json(text: &str) -> Result<ConnectorSpecification> {
    serde_json::from_str(text).map_err(|e| Error::system(format!("embedded spec is invalid: {e}")))
}

/// The catalog for `discover`.
pub fn catalog(streams: &[Arc<DeclarativeStream>]) -> AirbyteCatalog {
    AirbyteCatalog {
        streams: streams
            .iter()
            .map(|s| {
                let incremental = s.incremental.as_ref();
                AirbyteStream {
                    name: s.name.clone(),
                    json_schema: s.schema.clone(),
                    supported_sync_modes: if incremental.is_some() {
                        vec![SyncMode::FullRefresh, SyncMode::Incremental]
                    } else {
                        vec![SyncMode::FullRefresh]
                    },
                    source_defined_cursor: incremental.map(|_| true),
                    default_cursor_field: incremental.map(|i| vec![i.cursor_field.clone()]),
                    source_defined_primary_key: (!s.primary_key.is_empty())
                        .then(|| s.primary_key.clone()),
                    namespace: None,
                    is_resumable: None,
                }
            })
            .collect(),
    }
}

/// Loads a stream schema embedded in the binary.
pub fn schema(name: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| {
        // Embedded files are checked by every source's tests; this cannot happen in a build
        // that passed them, but an invalid schema must not take the process down.
        tracing::error!("embedded schema {name} is invalid: {e}");
        serde_json::json!({"type": "object", "additionalProperties": true})
    })
}
