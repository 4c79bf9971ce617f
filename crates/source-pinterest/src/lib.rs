//! The pinterest source: the official connector's spec, streams and state, declared on the shared
//! runtime.

use connector_runtime::prelude::*;

/// The environment variable that points the connector at another API origin.
pub const BASE_URL_VAR: &str = "SOURCE_PINTEREST_BASE_URL";

const SPEC: &str = include_str!("../resources/spec.json");

pub struct SourcePinterest;

impl Source for SourcePinterest {
    fn name(&self) -> &str {
        "source-pinterest"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn spec(&self) -> Result<connector_runtime::protocol::ConnectorSpecification> {
        spec_from_json(SPEC)
    }

    fn check_stream(&self) -> &str {
        "user_account_analytics"
    }

    fn streams(&self, _config: &Value, _ctx: &SourceContext) -> Result<Vec<Arc<DeclarativeStream>>> {
        Ok(Vec::new())
    }
}
