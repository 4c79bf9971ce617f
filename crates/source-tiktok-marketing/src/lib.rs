//! The tiktok-marketing source: the official connector's spec, streams and state, declared on the shared
//! runtime.

use connector_runtime::prelude::*;

/// The environment variable that points the connector at another API origin.
pub const BASE_URL_VAR: &str = "SOURCE_TIKTOK_MARKETING_BASE_URL";

const SPEC: &str = include_str!("../resources/spec.json");

pub struct SourceTiktokMarketing;

impl Source for SourceTiktokMarketing {
    fn name(&self) -> &str {
        "source-tiktok-marketing"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn spec(&self) -> Result<connector_runtime::protocol::ConnectorSpecification> {
        spec_from_json(SPEC)
    }

    fn check_stream(&self) -> &str {
        "advertisers"
    }

    fn streams(&self, _config: &Value, _ctx: &SourceContext) -> Result<Vec<Arc<DeclarativeStream>>> {
        Ok(Vec::new())
    }
}
