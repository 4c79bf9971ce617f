//! The Pinterest source: the official connector's spec, streams and state, declared on the
//! shared runtime.
//!
//! Where things are: [`streams`] is the stream table (one row per stream); [`config`] the
//! typed config and its migration; [`auth`] the OAuth config variants; [`errors`] the general
//! and analytics error handlers, backoffs and the request budget; [`reports`] the async
//! report job rules and the report streams; [`quirks`] what single streams do differently,
//! one module per quirk.

pub mod auth;
pub mod config;
pub mod errors;
pub mod quirks;
pub mod reports;
pub mod streams;

use connector_runtime::prelude::*;

use crate::config::PinterestConfig;

/// The environment variable that points the connector at another API origin.
pub const BASE_URL_VAR: &str = "SOURCE_PINTEREST_BASE_URL";
/// The official API root; every stream path is relative to it.
pub const BASE_URL: &str = "https://api.pinterest.com/v5/";

const SPEC: &str = include_str!("../resources/spec.json");

pub struct SourcePinterest;

impl Source for SourcePinterest {
    type Config = PinterestConfig;

    fn name(&self) -> &str {
        "source-pinterest"
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

    fn check_stream(&self) -> &str {
        "user_account_analytics"
    }

    fn workers(&self, config: &PinterestConfig) -> usize {
        config.settings.workers()
    }

    fn streams(
        &self,
        config: &PinterestConfig,
        ctx: &SourceContext,
    ) -> Result<Vec<Arc<DeclarativeStream>>> {
        streams::streams(config, ctx)
    }
}
