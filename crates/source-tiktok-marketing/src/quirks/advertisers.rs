//! Advertiser partitioning: every per-advertiser stream reads one configured advertiser, else
//! every advertiser the token sees (listed by `advertiser_ids`). `advertisers` itself asks for
//! up to 100 advertisers per request, a batching the CDK's routers do not express.

use async_trait::async_trait;
use connector_runtime::prelude::*;

use super::py_json;
use crate::config::Config;

/// One partition per advertiser: `{"advertiser_id": <id>, "parent_slice": {}}`, from the
/// configured advertiser id, else from every record of `advertiser_ids`.
pub struct PerAdvertiser {
    pub configured: Option<Value>,
    pub listing: SubstreamRouter,
}

impl PerAdvertiser {
    async fn ids(&self, ctx: &Arc<SyncContext>) -> Result<Vec<Value>> {
        if let Some(id) = &self.configured {
            return Ok(vec![id.clone()]);
        }
        Ok(ctx
            .substream_partitions(&self.listing)
            .await?
            .into_iter()
            .filter_map(|p| p.get("advertiser_id").cloned())
            .collect())
    }
}

#[async_trait]
impl CustomRouter for PerAdvertiser {
    async fn partitions(&self, ctx: &Arc<SyncContext>) -> Result<Vec<Partition>> {
        Ok(self
            .ids(ctx)
            .await?
            .into_iter()
            .map(|id| partition([("advertiser_id", id), ("parent_slice", json!({}))]))
            .collect())
    }
}

/// `advertisers` asks for up to 100 advertisers at once:
/// `{"advertiser_ids": "[\"111\", \"222\"]", "parent_slice": {}}`.
pub struct AdvertiserBatches(pub Arc<PerAdvertiser>);

/// How many advertiser ids one `advertiser/info/` request carries.
pub const ADVERTISER_BATCH: usize = 100;

#[async_trait]
impl CustomRouter for AdvertiserBatches {
    async fn partitions(&self, ctx: &Arc<SyncContext>) -> Result<Vec<Partition>> {
        Ok(self
            .0
            .ids(ctx)
            .await?
            .chunks(ADVERTISER_BATCH)
            .map(|batch| {
                partition([
                    (
                        "advertiser_ids",
                        Value::from(py_json(&Value::from(batch.to_vec()))),
                    ),
                    ("parent_slice", json!({})),
                ])
            })
            .collect())
    }
}

/// `advertiser_ids`: every advertiser the app's token sees (`oauth2/advertiser/get/`, with the
/// app's id and, when configured, its secret). Not per advertiser, and read whole; `table` is
/// the TikTok defaults before advertiser partitioning.
pub fn advertiser_ids(table: &StreamDefaults, config: &Config) -> Result<Arc<DeclarativeStream>> {
    let mut request = RequestTemplate::get("oauth2/advertiser/get/");
    if let Some(secret) = config.secret() {
        request = request.query_literal("secret", secret);
    }
    let request = request.query_literal("app_id", config.app_id());
    table
        .stream("advertiser_ids", request)
        .key(&["advertiser_id"])
        .build()
}
