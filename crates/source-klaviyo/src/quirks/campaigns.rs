//! `campaigns` and `campaigns_detailed`: what the partitions and the extra calls add.
//!
//! Both streams read one partition per channel (`sms`, `email`) and archived flag: the
//! campaigns endpoint wants a channel in its filter and returns archived campaigns only when
//! the filter asks for them.
//! `campaigns` records say their channel in `attributes.channel`, taken from the partition
//! ([`channel_from_partition`]).
//!
//! `campaigns_detailed` makes two extra requests per campaign (the official
//! `CampaignsDetailedTransformation`), as an [`Enricher`] ([`CampaignDetails`]):
//!
//! 1. `GET campaign-recipient-estimations/{id}` → `estimated_recipient_count` (0 when absent);
//! 2. `GET relationships.campaign-messages.links.related` → `campaign_messages` (the response's
//!    `data`).
//!
//! A 404 on either is tolerated: the count falls back to 0 and the record carries no
//! `campaign_messages` key (the official connector drops the resulting top-level null). The
//! calls use their own requester: outside the API budget, with `Retry-After` honoured up to
//! 600 s as the official client does.

use std::time::Duration as StdDuration;

use async_trait::async_trait;
use connector_runtime::prelude::*;

/// `attributes.channel` = the partition's `campaign_type`.
pub fn channel_from_partition(r: &mut Value, s: &Slice) {
    if let Some(channel) = s.get_str("campaign_type") {
        set_path(r, &["attributes", "channel"], Value::from(channel));
    }
}

/// The `campaigns_detailed` enricher.
pub struct CampaignDetails {
    requester: Requester,
}

impl CampaignDetails {
    /// `base` is the stream requester; the enricher gets a copy without budget, tolerating 404.
    pub fn new(base: &Requester) -> Self {
        let handlers = HandlerChain::new()
            .with(|r: &ResponseView<'_>| {
                (r.status == 404).then(|| ResponseAction::ignore("not found (HTTP 404)"))
            })
            .then(base.handlers());
        let requester = base
            .clone()
            .with_budget(ApiBudget::unlimited())
            .with_handlers(handlers)
            .with_retry(RetryPolicy {
                max_wait: Some(StdDuration::from_secs(600)),
                ..RetryPolicy::default()
            });
        CampaignDetails { requester }
    }
}

#[async_trait]
impl Enricher for CampaignDetails {
    async fn enrich(
        &self,
        _ctx: &StreamContext,
        mut record: Value,
        _slice: &Slice,
    ) -> Result<Value> {
        let Some(id) = record.get("id").and_then(Value::as_str).map(str::to_string) else {
            return Ok(record);
        };
        let estimation = self
            .requester
            .send(&HttpRequest::get(format!(
                "campaign-recipient-estimations/{id}"
            )))
            .await?;
        let count = match estimation {
            Outcome::Success(r) => get_path(
                &r.body,
                &["data", "attributes", "estimated_recipient_count"],
            )
            .and_then(Value::as_i64)
            .unwrap_or(0),
            Outcome::Ignored { .. } => 0,
        };
        let related = get_path(
            &record,
            &["relationships", "campaign-messages", "links", "related"],
        )
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
        let messages = match related {
            Some(link) => {
                let url = self.requester.official_url(&link)?;
                match self
                    .requester
                    .send(&HttpRequest::get(url.to_string()))
                    .await?
                {
                    Outcome::Success(r) => r.body.get("data").cloned().filter(|d| !d.is_null()),
                    Outcome::Ignored { .. } => None,
                }
            }
            None => None,
        };
        if let Value::Object(m) = &mut record {
            m.insert("estimated_recipient_count".into(), Value::from(count));
            if let Some(messages) = messages {
                m.insert("campaign_messages".into(), messages);
            }
        }
        Ok(record)
    }
}
