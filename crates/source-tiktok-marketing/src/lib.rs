//! The TikTok Marketing source: the official connector's (5.1.14) spec, streams and state,
//! declared on the shared runtime.
//!
//! Where things are: the config and its legacy shapes in [`config`]; the catalog, one row per
//! stream, in [`streams`]; the report family's vocabulary (levels, metric blocks) in
//! [`reports`]; TikTok's quirks (JSON-valued query parameters, result codes in HTTP 200
//! bodies, advertiser partitioning, report record shaping, per-stream oddities) in [`quirks`].

pub mod config;
pub mod quirks;
pub mod reports;
pub mod streams;

use connector_runtime::prelude::*;

/// The environment variable that points the connector at another API origin (it replaces
/// both the production and the sandbox host; paths stay `/open_api/v1.3/...`).
pub const BASE_URL_VAR: &str = "SOURCE_TIKTOK_MARKETING_BASE_URL";

const PRODUCTION_URL: &str = "https://business-api.tiktok.com/open_api/v1.3/";
const SANDBOX_URL: &str = "https://sandbox-ads.tiktok.com/open_api/v1.3/";

const SPEC: &str = include_str!("../resources/spec.json");

pub struct SourceTiktokMarketing;

impl Source for SourceTiktokMarketing {
    type Config = config::Config;

    fn name(&self) -> &str {
        "source-tiktok-marketing"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn spec(&self) -> Result<connector_runtime::protocol::ConnectorSpecification> {
        spec_from_json(SPEC)
    }

    fn migrate_config(&self, config: &mut Value) -> bool {
        config::migrate(config)
    }

    fn validate(&self, config: &config::Config, _env: &RunEnv) -> Result<()> {
        config.check()
    }

    fn check_stream(&self) -> &str {
        "advertisers"
    }

    fn workers(&self, config: &config::Config) -> usize {
        config.workers()
    }

    fn streams(
        &self,
        config: &config::Config,
        ctx: &SourceContext,
    ) -> Result<Vec<Arc<DeclarativeStream>>> {
        streams::table(&streams::Streams::new(config, &ctx.env)?)
    }
}
