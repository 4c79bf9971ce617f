//! TikTok's quirks, each as a small runtime component:
//!
//! - JSON-valued query parameters written with Python's default separators (`", "`, `": "`),
//!   because the official connector sends them that way and request-level compatibility is
//!   easiest to check byte for byte;
//! - result codes inside HTTP 200 bodies (the error handler in front of the CDK mapping);
//! - advertiser partitioning: one configured advertiser, else every advertiser the token
//!   sees, one per partition or in batches of 100;
//! - report record transformations (dimensions copied to the top level, `"-"` metrics).

use async_trait::async_trait;
use connector_runtime::prelude::*;
use std::time::Duration as StdDuration;

/// Writes `v` as Python's `json.dumps` does with default arguments: `", "` between items,
/// `": "` after keys, keys in their given order, non-ASCII escaped as `\uXXXX`.
pub fn py_json(v: &Value) -> String {
    let mut out = String::new();
    write_py(v, &mut out);
    out
}

fn write_py(v: &Value, out: &mut String) {
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_str(k, out);
                out.push_str(": ");
                write_py(item, out);
            }
            out.push('}');
        }
        Value::String(s) => write_py_str(s, out),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Null => out.push_str("null"),
        Value::Number(n) => out.push_str(&n.to_string()),
    }
}

fn write_py_str(s: &str, out: &mut String) {
    // serde_json escapes exactly the characters Python escapes, except non-ASCII.
    let escaped = Value::String(s.to_string()).to_string();
    for c in escaped.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
}

/// A JSON array of strings as query text: `["ad_id", "stat_time_day"]`.
pub fn py_list(items: &[&str]) -> String {
    py_json(&Value::Array(
        items.iter().map(|s| Value::from(*s)).collect(),
    ))
}

const RATE_LIMIT_HINT: &str =
    "TikTok Marketing API rate limit exceeded. Please verify that only one Airbyte \
connection with the same credentials is running at a time. TikTok answered:";

/// The wait after a throttled answer (code 40100): one window of TikTok's "100 requests per
/// 10 seconds". The client-side budget already keeps every window within the quota, so a 40100
/// means another client shares it; once a whole window has passed, every request it counted has
/// left. The requester pauses the whole budget for this long, so concurrent partitions wait
/// with the throttled one instead of being throttled in turn. (The official connector waits a
/// fixed minute for any retry; that minute still applies to maintenance and server errors.)
pub const RATE_LIMIT_WAIT: StdDuration = StdDuration::from_secs(10);

/// The body-level result codes every stream shares (official rules 1–7), with one
/// improvement: an HTTP error whose body carries no TikTok `code` (a proxy's 502 page, a bare
/// 429) falls through to the standard status mapping and is retried, where the official
/// connector fails at once.
pub fn result_codes(r: &ResponseView<'_>) -> Option<ResponseAction> {
    let message = r.body_str("message").unwrap_or("").to_string();
    match r.body_i64("code") {
        Some(40100) => Some(ResponseAction::Retry {
            message: format!("{RATE_LIMIT_HINT} {message}"),
            after: Some(RATE_LIMIT_WAIT),
            rate_limited: true,
        }),
        Some(60001) => Some(ResponseAction::retry(format!(
            "TikTok Marketing API is under maintenance (code 60001): {message}"
        ))),
        Some(code @ (50000 | 51041 | 51004)) => Some(ResponseAction::retry(format!(
            "TikTok Marketing API transient server-side error (code {code}): {message}"
        ))),
        Some(40002) => Some(ResponseAction::ignore(
            "Resource not accessible or does not exist (error 40002).",
        )),
        Some(0) => None,
        Some(code) => Some(ResponseAction::fail(
            FailureType::SystemError,
            if message.is_empty() {
                format!("TikTok Marketing API error {code}")
            } else {
                message
            },
        )),
        None if (200..300).contains(&r.status) => Some(ResponseAction::fail(
            FailureType::SystemError,
            format!(
                "TikTok Marketing API answered HTTP {} without a result code: {}",
                r.status,
                connector_runtime::http::short(r.text)
            ),
        )),
        None => None,
    }
}

/// Daily reports: 40067 ("query too large") is the user's to fix with a smaller date step.
pub fn query_too_large(r: &ResponseView<'_>) -> Option<ResponseAction> {
    (r.body_i64("code") == Some(40067)).then(|| {
        ResponseAction::fail(
            FailureType::ConfigError,
            "TikTok Marketing API query size limit exceeded (error 40067). Reduce the 'Daily Reports \
             Date Step' in your connector settings to a smaller value (e.g., 7 or 1) and retry.",
        )
    })
}

/// `pixel_instant_page_events` asks for every objective × goal pair; TikTok refuses the pairs
/// it does not support, and those answers are skipped.
pub fn unsupported_objective_goal(r: &ResponseView<'_>) -> Option<ResponseAction> {
    let message = r.body_str("message")?.to_lowercase();
    (message.contains("one or more value of the params is not acceptable")
        || message.contains("one or more value of the param is not acceptable"))
    .then(|| ResponseAction::ignore(format!("Unsupported objective/goal combination: {message}")))
}

/// `pixel_events_statistics` pairs every advertiser with every pixel; pairs across advertisers
/// come back as "no permission" and are skipped.
pub fn pixel_not_permitted(r: &ResponseView<'_>) -> Option<ResponseAction> {
    let message = r.body_str("message")?;
    (r.body_i64("code") == Some(40001)
        && message.contains("Adv has no permission to operate on the Pixel"))
    .then(|| ResponseAction::ignore(format!("Skipping a pixel of another advertiser: {message}")))
}

/// The official retry budget: 9 retries, a constant minute between attempts.
pub fn retry_policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 9,
        backoff: Backoff::Constant(StdDuration::from_secs(60)),
        headers: vec![RetryHeader::retry_after()],
        max_wait: Some(StdDuration::from_secs(3600)),
    }
}

/// The official client-side budget: 100 requests per 10 seconds over the whole sync, bursts
/// of up to 100 allowed (the limiter counts each window 250 ms longer for arrival jitter). The
/// window follows the run's time scale so tests (scale 0) do not pace.
pub fn budget(env: &RunEnv) -> ApiBudget {
    ApiBudget::builder()
        .policy(
            Matcher::Any,
            &[Rate::new(100, env.scaled(StdDuration::from_secs(10)))],
        )
        .build()
}

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

/// A dimension value as the official template renders it: text that reads as a number
/// becomes one (`"9"` → 9), a missing dimension becomes `""`.
fn template_value(v: Option<&Value>) -> Value {
    match v {
        None => Value::from(""),
        Some(Value::String(s)) => {
            let t = s.trim();
            let numeric = !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
                && t.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() || c == '-');
            if numeric {
                if let Ok(i) = t.parse::<i64>() {
                    return Value::from(i);
                }
                if let Some(n) = t
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .and_then(serde_json::Number::from_f64)
                {
                    return Value::Number(n);
                }
            }
            Value::String(s.clone())
        }
        Some(other) => other.clone(),
    }
}

/// Copies each dimension to the top level (`country_code` and `platform` as text) and turns
/// `"-"` metrics into null.
pub fn report_record(record: &mut Value, dimensions: &[&str]) {
    let Some(obj) = record.as_object_mut() else {
        return;
    };
    let dims = obj.get("dimensions").cloned().unwrap_or(Value::Null);
    for d in dimensions {
        let raw = dims.get(*d);
        let value = match *d {
            "country_code" | "platform" => Value::String(match raw {
                None => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) => "None".into(),
                Some(other) => other.to_string(),
            }),
            _ => template_value(raw),
        };
        obj.insert((*d).to_string(), value);
    }
    if let Some(Value::Object(metrics)) = obj.get_mut("metrics") {
        for v in metrics.values_mut() {
            if v.as_str() == Some("-") {
                *v = Value::Null;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_params_use_python_separators() {
        assert_eq!(
            py_list(&["ad_id", "stat_time_day"]),
            r#"["ad_id", "stat_time_day"]"#
        );
        let f = json!([{"field_name": "ad_status", "filter_type": "IN", "filter_value": "[\"STATUS_ALL\"]"}]);
        assert_eq!(
            py_json(&f),
            r#"[{"field_name": "ad_status", "filter_type": "IN", "filter_value": "[\"STATUS_ALL\"]"}]"#
        );
        assert_eq!(py_json(&json!({"k": "é"})), r#"{"k": "\u00e9"}"#);
    }

    #[test]
    fn report_records_get_top_level_dimensions_and_null_metrics() {
        let mut r = json!({"dimensions": {"ad_id": "9", "stat_time_day": "2024-01-01 00:00:00", "country_code": "US"},
            "metrics": {"spend": 20, "clicks": "-"}});
        report_record(
            &mut r,
            &["ad_id", "stat_time_day", "country_code", "gender"],
        );
        assert_eq!(r["ad_id"], json!(9));
        assert_eq!(r["stat_time_day"], json!("2024-01-01 00:00:00"));
        assert_eq!(r["country_code"], json!("US"));
        assert_eq!(r["gender"], json!(""));
        assert_eq!(r["metrics"]["clicks"], Value::Null);
        assert_eq!(r["dimensions"]["ad_id"], json!("9"));
    }
}
