//! What a source crate implements: its spec, config migrations and stream declarations.

use std::sync::Arc;

use airbyte_protocol::{AirbyteCatalog, AirbyteStream, ConnectorSpecification, SyncMode};
use serde::de::DeserializeOwned;
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

/// A source connector: its spec, config migrations, typed config and stream declarations.
///
/// The config arrives as JSON, is migrated ([`Source::migrate_config`]) and validated against
/// the spec by the runtime, then deserialized **once** into [`Source::Config`] and checked by
/// [`Source::validate`]; every other method receives the typed value, so no source parses
/// `serde_json::Value` by hand.
pub trait Source: Send + Sync {
    /// The config as the streams need it. Deserialization errors are config errors that name
    /// the field.
    type Config: DeserializeOwned + Send + Sync + 'static;

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

    /// Rules beyond the JSON Schema and the types (cross-field rules, dates relative to the
    /// run's clock in `env`). Errors are config errors.
    fn validate(&self, _config: &Self::Config, _env: &RunEnv) -> Result<()> {
        Ok(())
    }

    /// The catalog streams for this config, in catalog order.
    fn streams(
        &self,
        config: &Self::Config,
        ctx: &SourceContext,
    ) -> Result<Vec<Arc<DeclarativeStream>>>;

    /// The stream `check` reads.
    fn check_stream(&self) -> &str;

    /// How many partitions may be read at once.
    fn workers(&self, _config: &Self::Config) -> usize {
        4
    }
}

/// What a source declares for one config: its streams and how many partitions may be read at
/// once.
pub struct Prepared {
    pub streams: Vec<Arc<DeclarativeStream>>,
    pub workers: usize,
}

/// The object-safe face of every [`Source`], which the CLI, the tests and the demo drive
/// without knowing the source's config type.
pub trait DynSource: Send + Sync {
    fn name(&self) -> &str;
    fn version(&self) -> &str;
    fn spec(&self) -> Result<airbyte_protocol::ConnectorSpecification>;
    fn migrate_config(&self, config: &mut Value) -> bool;
    /// Deserializes the (migrated, spec-valid) config into the source's typed config, applies
    /// its rules and declares its streams.
    fn prepare(&self, config: &Value, ctx: &SourceContext) -> Result<Prepared>;
    fn check_stream(&self) -> &str;
}

impl<S: Source> DynSource for S {
    fn name(&self) -> &str {
        Source::name(self)
    }

    fn version(&self) -> &str {
        Source::version(self)
    }

    fn spec(&self) -> Result<airbyte_protocol::ConnectorSpecification> {
        Source::spec(self)
    }

    fn migrate_config(&self, config: &mut Value) -> bool {
        Source::migrate_config(self, config)
    }

    fn prepare(&self, config: &Value, ctx: &SourceContext) -> Result<Prepared> {
        let typed: S::Config = typed_config(config)?;
        self.validate(&typed, &ctx.env)?;
        Ok(Prepared {
            streams: self.streams(&typed, ctx)?,
            workers: self.workers(&typed),
        })
    }

    fn check_stream(&self) -> &str {
        Source::check_stream(self)
    }
}

/// Deserializes a config into `T`; an error names the field (`credentials.auth_type: ...`).
pub fn typed_config<T: DeserializeOwned>(config: &Value) -> Result<T> {
    serde_path_to_error::deserialize(config.clone()).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            Error::config(format!("Config validation error: {inner}"))
        } else {
            Error::config(format!("Config validation error: {path}: {inner}"))
        }
    })
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
