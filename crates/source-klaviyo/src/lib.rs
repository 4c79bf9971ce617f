//! The Klaviyo source: the official connector's spec, streams and state, declared on the shared
//! runtime.
//!
//! Where things are: [`config`] (the typed config), [`streams`] (the stream table: one entry per
//! catalog stream), [`filters`] (Klaviyo's `filter` expressions as request templates),
//! [`quirks`] (what some streams do beyond a JSON:API list: the `included` merge of
//! `events_detailed`, the extra calls of `campaigns_detailed`, skipping unchanged lists, the
//! report endpoints), [`migrations`] (the official legacy state migrations) and [`budget`] (the
//! per-endpoint rate limits).

pub mod budget;
pub mod config;
pub mod filters;
pub mod migrations;
pub mod quirks;
pub mod streams;

use config::KlaviyoConfig;
use connector_runtime::prelude::*;

/// The environment variable that points the connector at another API origin.
pub const BASE_URL_VAR: &str = "SOURCE_KLAVIYO_BASE_URL";

/// The official API root; every stream path is relative to it.
pub const BASE_URL: &str = "https://a.klaviyo.com/api/";

/// The API revision the official connector pins on every request.
pub const REVISION: &str = "2024-10-15";

pub struct SourceKlaviyo;

impl Source for SourceKlaviyo {
    type Config = KlaviyoConfig;

    fn name(&self) -> &str {
        "source-klaviyo"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn spec(&self) -> Result<connector_runtime::protocol::ConnectorSpecification> {
        spec_from_json(include_str!("../resources/spec.json"))
    }

    fn validate(&self, config: &KlaviyoConfig, _env: &RunEnv) -> Result<()> {
        config.validate()
    }

    fn check_stream(&self) -> &str {
        "metrics"
    }

    fn streams(
        &self,
        config: &KlaviyoConfig,
        ctx: &SourceContext,
    ) -> Result<Vec<Arc<DeclarativeStream>>> {
        streams::all(config, &ctx.env)
    }

    fn workers(&self, config: &KlaviyoConfig) -> usize {
        config.num_workers
    }
}
