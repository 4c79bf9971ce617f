//! The Klaviyo source: the official connector's spec, streams and state, declared on the shared
//! runtime.
//!
//! Every stream reads Klaviyo's JSON:API endpoints with the same requester (API-key header,
//! `Revision` pin, JSON:API `links.next` paginator, the per-endpoint budget of
//! [`budget::klaviyo_budget`]). What differs between streams is declared in [`streams`]: path,
//! query (the filter expressions differ per endpoint, see [`filters`]), record transformations,
//! partition router and cursor. True quirks live in their own modules: the `included` merge of
//! `events_detailed` ([`included`]), the extra calls of `campaigns_detailed`
//! ([`campaigns_detailed`]), skipping unchanged lists in `lists_detailed` ([`lists_detailed`]), the report endpoints ([`reports`]) and the official legacy state
//! migrations ([`migrations`]).

pub mod budget;
pub mod campaigns_detailed;
pub mod config;
pub mod filters;
pub mod included;
pub mod lists_detailed;
pub mod migrations;
pub mod reports;
pub mod streams;

use connector_runtime::prelude::*;

/// The environment variable that points the connector at another API origin.
pub const BASE_URL_VAR: &str = "SOURCE_KLAVIYO_BASE_URL";

/// The official API root; every stream path is relative to it.
pub const BASE_URL: &str = "https://a.klaviyo.com/api/";

/// The API revision the official connector pins on every request.
pub const REVISION: &str = "2024-10-15";

const SPEC: &str = include_str!("../resources/spec.json");

pub struct SourceKlaviyo;

impl Source for SourceKlaviyo {
    type Config = Value;

    fn name(&self) -> &str {
        "source-klaviyo"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn spec(&self) -> Result<connector_runtime::protocol::ConnectorSpecification> {
        spec_from_json(SPEC)
    }

    fn validate(&self, config: &Value, env: &RunEnv) -> Result<()> {
        config::KlaviyoConfig::from_json(config, env.clock.now()).map(|_| ())
    }

    fn check_stream(&self) -> &str {
        "metrics"
    }

    fn streams(&self, config: &Value, ctx: &SourceContext) -> Result<Vec<Arc<DeclarativeStream>>> {
        let cfg = config::KlaviyoConfig::from_json(config, ctx.env.clock.now())?;
        streams::all(&cfg, &ctx.env)
    }

    fn workers(&self, config: &Value) -> usize {
        config::workers(config)
    }
}
