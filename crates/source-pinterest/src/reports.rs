//! Pinterest's async report rules (the runtime's async retriever does the job flow) and
//! custom reports.
//!
//! Per slice (ad account × date window [× status chunk]): `POST ad_accounts/{id}/reports`
//! creates a job whose id is the answer's `token`, `GET ad_accounts/{id}/reports?token=…` is
//! polled until `report_status` is `FINISHED`, the same endpoint is asked once more for a fresh
//! pre-signed `url` (the one from the completing poll may already have expired), and the file
//! is downloaded without the Authorization header. The file is an object of arrays keyed by
//! entity id; every row of every array is one record (records at `*`). Only one job is in
//! flight for the whole source, as in the official connector.

use std::time::Duration;

use connector_runtime::async_retriever::{AsyncJobApi, JobStatus};
use connector_runtime::prelude::*;

/// Builds the creation body of one slice.
pub type BodyBuilder = Arc<dyn Fn(&Slice) -> Result<Value> + Send + Sync>;

/// Pinterest's report jobs: its paths, creation body, status names and download URL.
pub struct ReportJobs {
    pub body: BodyBuilder,
}

fn reports_path(slice: &Slice) -> Result<String> {
    let id = slice
        .get_str("id")
        .ok_or_else(|| Error::system("a report slice has no ad account id"))?;
    Ok(format!("ad_accounts/{id}/reports"))
}

impl AsyncJobApi for ReportJobs {
    fn create(&self, slice: &Slice) -> Result<HttpRequest> {
        let path = reports_path(slice)?;
        Ok(HttpRequest::post_json(path, (self.body)(slice)?))
    }

    /// The token stays text whatever JSON type it came in.
    fn job_id(&self, created: &Value) -> Option<String> {
        match created.get("token") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    fn poll(&self, slice: &Slice, job: &str) -> Result<HttpRequest> {
        Ok(HttpRequest::get(reports_path(slice)?).query("token", job))
    }

    fn status(&self, polled: &Value) -> Result<JobStatus> {
        match polled.get("report_status") {
            Some(Value::String(s)) if s == "FINISHED" => Ok(JobStatus::Completed),
            Some(Value::String(s)) if s == "IN_PROGRESS" => Ok(JobStatus::Running),
            Some(Value::String(s))
                if matches!(
                    s.as_str(),
                    "DOES_NOT_EXIST" | "EXPIRED" | "FAILED" | "CANCELLED"
                ) =>
            {
                Ok(JobStatus::Failed(format!(
                    "report job ended with status {s}"
                )))
            }
            None | Some(Value::Null) => {
                Ok(JobStatus::Failed("report job timed out (no status)".into()))
            }
            Some(other) => Err(Error::system(format!("API status {other} is unknown"))),
        }
    }

    /// A fresh pre-signed URL, fetched right before the download.
    fn download_target(&self, slice: &Slice, job: &str) -> Result<Option<HttpRequest>> {
        self.poll(slice, job).map(Some)
    }

    fn download_url(&self, answer: &Value) -> Option<String> {
        answer
            .get("url")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

/// The standard report creation body: key order as the official connector sends it.
pub fn standard_body(level: &'static str, columns: Arc<Vec<String>>) -> BodyBuilder {
    Arc::new(move |slice: &Slice| {
        let (start, end) = window_dates(slice)?;
        Ok(json!({
            "start_date": start,
            "end_date": end,
            "granularity": "DAY",
            "columns": columns.as_slice(),
            "level": level,
        }))
    })
}

fn window_dates(slice: &Slice) -> Result<(String, String)> {
    let w = slice
        .window
        .ok_or_else(|| Error::system("a report slice has no date window"))?;
    Ok((
        w.start.format("%Y-%m-%d").to_string(),
        w.end.format("%Y-%m-%d").to_string(),
    ))
}

/// `custom_` + name, then the official camel-to-snake conversion: `_` before every upper-case
/// letter but the first character, everything lower-cased (`MyAds` → `custom__my_ads`).
pub fn custom_stream_name(name: &str) -> String {
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

/// The status filters of a custom report, in body order.
pub const STATUS_FILTERS: [&str; 3] = ["campaign_statuses", "ad_group_statuses", "ad_statuses"];
/// Pinterest accepts at most this many values per status filter.
pub const CHUNK: usize = 6;

/// The chunk partitions of a custom report: each configured status list cut into chunks of
/// at most six values, and the cartesian product of those chunk lists
/// (`{"campaign_statuses_chunk": [...], "ad_statuses_chunk": [...]}`).
pub fn status_chunk_partitions(report: &Value) -> Vec<Partition> {
    let mut acc = vec![Partition::new()];
    for key in STATUS_FILTERS {
        let values: Vec<Value> = report
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if values.is_empty() {
            continue;
        }
        let mut next = Vec::new();
        for a in &acc {
            for chunk in values.chunks(CHUNK) {
                let mut p = a.clone();
                p.insert(format!("{key}_chunk"), Value::Array(chunk.to_vec()));
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

/// The creation body of a custom report for one slice, keys in the official order.
pub fn custom_body(name: String, report: Value) -> BodyBuilder {
    Arc::new(move |slice: &Slice| {
        let (start, end) = window_dates(slice)?;
        let mut body = serde_json::Map::new();
        body.insert("start_date".into(), start.into());
        body.insert("end_date".into(), end.into());
        body.insert(
            "level".into(),
            report.get("level").cloned().unwrap_or(json!("ADVERTISER")),
        );
        body.insert(
            "granularity".into(),
            report.get("granularity").cloned().unwrap_or(json!("TOTAL")),
        );
        for key in [
            "click_window_days",
            "engagement_window_days",
            "view_window_days",
        ] {
            if let Some(v) = report.get(key).filter(|v| !v.is_null()) {
                body.insert(key.into(), v.clone());
            }
        }
        let conversion = report
            .get("conversion_report_time")
            .filter(|v| !v.is_null())
            .ok_or_else(|| {
                Error::config(format!(
                    "Custom report {name} has no conversion_report_time; Pinterest cannot create \
                     the report. Set it to TIME_OF_AD_ACTION or TIME_OF_CONVERSION."
                ))
            })?;
        body.insert("conversion_report_time".into(), conversion.clone());
        let attribution = report
            .get("attribution_types")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .cloned()
            .unwrap_or_else(|| vec![json!("INDIVIDUAL"), json!("HOUSEHOLD")]);
        body.insert("attribution_types".into(), Value::Array(attribution));
        body.insert(
            "columns".into(),
            report.get("columns").cloned().unwrap_or(json!([])),
        );
        for key in STATUS_FILTERS {
            if let Some(chunk) = slice.partition.get(&format!("{key}_chunk")) {
                body.insert(key.into(), chunk.clone());
            }
        }
        Ok(Value::Object(body))
    })
}

/// Earliest start and window length of a custom report.
pub fn custom_window(report: &Value) -> (Duration, i64) {
    let granularity = report.get("granularity").and_then(Value::as_str);
    let level = report.get("level").and_then(Value::as_str);
    if granularity == Some("HOUR") {
        (Duration::from_secs(2 * 86_400), 2)
    } else if level == Some("PRODUCT_ITEM") {
        (Duration::from_secs(31 * 86_400), 91)
    } else {
        (Duration::from_secs(185 * 86_400), 913)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_names_follow_the_official_conversion() {
        assert_eq!(
            custom_stream_name("ad_performance_report"),
            "custom_ad_performance_report"
        );
        assert_eq!(custom_stream_name("MyAdsReport"), "custom__my_ads_report");
        assert_eq!(custom_stream_name("a B"), "custom_a _b");
    }

    #[test]
    fn status_lists_are_chunked_and_combined() {
        let report = json!({
            "campaign_statuses": ["RUNNING", "PAUSED", "NOT_STARTED", "COMPLETED", "ADVERTISER_DISABLED", "ARCHIVED", "DRAFT"],
            "ad_group_statuses": ["PAUSED", "ARCHIVED"],
            "ad_statuses": null
        });
        let parts = status_chunk_partitions(&report);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1]["campaign_statuses_chunk"], json!(["DRAFT"]));
        assert_eq!(
            parts[1]["ad_group_statuses_chunk"],
            json!(["PAUSED", "ARCHIVED"])
        );
        assert!(!parts[0].contains_key("ad_statuses_chunk"));
        assert_eq!(status_chunk_partitions(&json!({})), vec![Partition::new()]);
    }
}
