//! The connector configuration, read once into typed values.

use connector_runtime::prelude::*;

/// Where incremental streams start when `start_date` is not set (the official fallback).
pub const DEFAULT_START: &str = "2012-01-01T00:00:00Z";

/// The official concurrency when `num_workers` is absent.
pub const DEFAULT_WORKERS: usize = 25;

#[derive(Debug, Clone)]
pub struct KlaviyoConfig {
    pub api_key: String,
    /// `start_date`, or 2012-01-01 when unset.
    pub start: DateTime<Utc>,
    /// `start_date` exactly as configured (the legacy state migrations use it verbatim).
    pub start_text: String,
    pub disable_predictive_analytics: bool,
    /// `lookback_window` days (events_detailed only).
    pub lookback_days: i64,
    /// `reporting_lookback_window` days (flow_series_reports only).
    pub reporting_lookback_days: i64,
    /// `metric_ids`: the conversion metrics of the report streams (empty = all).
    pub report_metric_ids: Vec<String>,
    /// `event_metric_ids`: one events partition per id (empty = one partition for all).
    pub event_metric_ids: Vec<String>,
    /// The sync's "now": the end of every cursor range.
    pub now: DateTime<Utc>,
}

/// Splits a comma-separated id list, trimming blanks (`"AAA111, BBB222"`) and dropping
/// repeats (each id is one partition, and a partition must appear once in state).
pub fn split_ids(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in v.and_then(Value::as_str).unwrap_or_default().split(',') {
        let id = id.trim();
        if !id.is_empty() && !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    out
}

fn non_negative(config: &Value, key: &str) -> Result<i64> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
            Error::config(format!(
                "{key} must be a whole number of days (0 or more), got {v}"
            ))
        }),
    }
}

impl KlaviyoConfig {
    pub fn from_json(config: &Value, now: DateTime<Utc>) -> Result<Self> {
        let api_key = config
            .get("api_key")
            .and_then(Value::as_str)
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| Error::config("api_key is required: a Klaviyo private API key"))?
            .trim()
            .to_string();
        let start_text = match config.get("start_date") {
            None | Some(Value::Null) => DEFAULT_START.to_string(),
            Some(Value::String(s)) if s.trim().is_empty() => DEFAULT_START.to_string(),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(other) => {
                return Err(Error::config(format!(
                    "start_date must be a date and time such as 2017-01-25T00:00:00Z, got {other}"
                )))
            }
        };
        let start = DatetimeFormat::Rfc3339.parse_str(&start_text).ok_or_else(|| {
            Error::config(format!(
                "start_date must be a date and time such as 2017-01-25T00:00:00Z, got {start_text:?}"
            ))
        })?;
        Ok(KlaviyoConfig {
            api_key,
            start,
            start_text,
            disable_predictive_analytics: config
                .get("disable_fetching_predictive_analytics")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            lookback_days: non_negative(config, "lookback_window")?,
            reporting_lookback_days: non_negative(config, "reporting_lookback_window")?,
            report_metric_ids: split_ids(config.get("metric_ids")),
            event_metric_ids: split_ids(config.get("event_metric_ids")),
            now,
        })
    }
}

/// `num_workers` clamped to 1–50; absent → the official fallback of 25.
pub fn workers(config: &Value) -> usize {
    config
        .get("num_workers")
        .and_then(Value::as_u64)
        .map(|n| n.clamp(1, 50) as usize)
        .unwrap_or(DEFAULT_WORKERS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_split_and_trimmed() {
        assert_eq!(
            split_ids(Some(&json!("AAA111, BBB222,, AAA111"))),
            vec!["AAA111".to_string(), "BBB222".to_string()]
        );
        assert!(split_ids(None).is_empty());
    }

    #[test]
    fn start_defaults_to_2012_and_bad_values_are_config_errors() {
        let now = Utc::now();
        let c = KlaviyoConfig::from_json(&json!({"api_key": "k"}), now).unwrap();
        assert_eq!(c.start.to_rfc3339(), "2012-01-01T00:00:00+00:00");
        assert!(
            KlaviyoConfig::from_json(&json!({"api_key": "k", "start_date": "x"}), now).is_err()
        );
        assert!(
            KlaviyoConfig::from_json(&json!({"api_key": "k", "lookback_window": -1}), now).is_err()
        );
        assert!(KlaviyoConfig::from_json(&json!({}), now).is_err());
        assert_eq!(workers(&json!({})), 25);
        assert_eq!(workers(&json!({"num_workers": 99})), 50);
    }
}
