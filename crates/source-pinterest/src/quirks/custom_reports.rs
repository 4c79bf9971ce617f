//! Custom reports: one async report stream per configured report, with rules of its own.
//!
//! Why a quirk: the stream name is derived from the report's name by the official
//! camel-to-snake conversion, the creation body is assembled from the report's settings (with
//! the official defaults and key order), status filters longer than Pinterest's per-request
//! limit of six are split into chunk partitions, and the window length and history limit
//! depend on the report's granularity and level.

use std::time::Duration;

use connector_runtime::prelude::*;

use crate::config::CustomReport;
use crate::reports::Creation;

/// `custom_` + name, then the official camel-to-snake conversion: `_` before every upper-case
/// letter but the first character, everything lower-cased (`MyAds` → `custom__my_ads`).
pub fn stream_name(name: &str) -> String {
    let full = format!("custom_{name}");
    let mut out = String::with_capacity(full.len() + 4);
    for (i, c) in full.chars().enumerate() {
        if i > 0 && c.is_uppercase() {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// Pinterest accepts at most this many values per status filter.
pub const CHUNK: usize = 6;

/// The status filters of a report, in body order.
fn status_filters(report: &CustomReport) -> [(&'static str, &[String]); 3] {
    [
        ("campaign_statuses", &report.campaign_statuses),
        ("ad_group_statuses", &report.ad_group_statuses),
        ("ad_statuses", &report.ad_statuses),
    ]
}

/// The chunk partitions of a custom report: each configured status list cut into chunks of
/// at most six values, and the cartesian product of those chunk lists
/// (`{"campaign_statuses_chunk": [...], "ad_statuses_chunk": [...]}`).
pub fn status_chunk_partitions(report: &CustomReport) -> Vec<Partition> {
    let mut acc = vec![Partition::new()];
    for (key, values) in status_filters(report) {
        if values.is_empty() {
            continue;
        }
        let mut next = Vec::new();
        for a in &acc {
            for chunk in values.chunks(CHUNK) {
                let mut p = a.clone();
                p.insert(format!("{key}_chunk"), json!(chunk));
                next.push(p);
            }
        }
        acc = next;
    }
    acc
}

/// Routes a custom report over its status chunks (combined with the ad accounts).
pub struct StatusChunks(pub Vec<Partition>);

#[async_trait::async_trait]
impl CustomRouter for StatusChunks {
    async fn partitions(&self, _ctx: &Arc<SyncContext>) -> Result<Vec<Partition>> {
        Ok(self.0.clone())
    }
}

/// The creation request of a custom report for one slice, body keys in the official order.
/// A report without `conversion_report_time` fails here, before any job is created.
pub fn creation(report: CustomReport) -> Creation {
    Arc::new(move |slice: &Slice| {
        let w = slice
            .window
            .ok_or_else(|| Error::system("a report slice has no date window"))?;
        let id = slice
            .get_str("id")
            .ok_or_else(|| Error::system("a report slice has no ad account id"))?;
        let r = &report;
        let mut body = serde_json::Map::new();
        body.insert(
            "start_date".into(),
            json!(w.start.format("%Y-%m-%d").to_string()),
        );
        body.insert(
            "end_date".into(),
            json!(w.end.format("%Y-%m-%d").to_string()),
        );
        body.insert(
            "level".into(),
            json!(r.level.as_deref().unwrap_or("ADVERTISER")),
        );
        body.insert(
            "granularity".into(),
            json!(r.granularity.as_deref().unwrap_or("TOTAL")),
        );
        for (key, days) in [
            ("click_window_days", &r.click_window_days),
            ("engagement_window_days", &r.engagement_window_days),
            ("view_window_days", &r.view_window_days),
        ] {
            if let Some(days) = days {
                body.insert(key.into(), Value::Number(days.clone()));
            }
        }
        let conversion = r.conversion_report_time.as_deref().ok_or_else(|| {
            Error::config(format!(
                "Custom report {} has no conversion_report_time; Pinterest cannot create \
                 the report. Set it to TIME_OF_AD_ACTION or TIME_OF_CONVERSION.",
                r.name
            ))
        })?;
        body.insert("conversion_report_time".into(), json!(conversion));
        let attribution = if r.attribution_types.is_empty() {
            json!(["INDIVIDUAL", "HOUSEHOLD"])
        } else {
            json!(r.attribution_types)
        };
        body.insert("attribution_types".into(), attribution);
        body.insert("columns".into(), json!(r.columns));
        for (key, _) in status_filters(r) {
            if let Some(chunk) = slice.partition.get(&format!("{key}_chunk")) {
                body.insert(key.into(), chunk.clone());
            }
        }
        Ok(HttpRequest::post_json(
            format!("ad_accounts/{id}/reports"),
            Value::Object(body),
        ))
    })
}

/// How far back a custom report may start (days) and its window length: two-day windows
/// for hourly reports, the product item limits for that level, else the standard ones.
pub fn history_and_window(report: &CustomReport) -> (i64, Duration) {
    let day = |n: u64| Duration::from_secs(n * 86_400);
    if report.granularity.as_deref() == Some("HOUR") {
        (2, day(2))
    } else if report.level.as_deref() == Some("PRODUCT_ITEM") {
        (91, day(31))
    } else {
        (913, day(185))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(v: Value) -> CustomReport {
        serde_json::from_value(v).expect("a custom report")
    }

    #[test]
    fn custom_names_follow_the_official_conversion() {
        assert_eq!(
            stream_name("ad_performance_report"),
            "custom_ad_performance_report"
        );
        assert_eq!(stream_name("MyAdsReport"), "custom__my_ads_report");
        assert_eq!(stream_name("a B"), "custom_a _b");
    }

    #[test]
    fn status_lists_are_chunked_and_combined() {
        let r = report(json!({
            "campaign_statuses": ["RUNNING", "PAUSED", "NOT_STARTED", "COMPLETED", "ADVERTISER_DISABLED", "ARCHIVED", "DRAFT"],
            "ad_group_statuses": ["PAUSED", "ARCHIVED"],
            "ad_statuses": null
        }));
        let parts = status_chunk_partitions(&r);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1]["campaign_statuses_chunk"], json!(["DRAFT"]));
        assert_eq!(
            parts[1]["ad_group_statuses_chunk"],
            json!(["PAUSED", "ARCHIVED"])
        );
        assert!(!parts[0].contains_key("ad_statuses_chunk"));
        assert_eq!(
            status_chunk_partitions(&report(json!({}))),
            vec![Partition::new()]
        );
    }
}
