//! The connector configuration: the spec's fields, deserialized once by the runtime.
//!
//! The field names are the spec's. The small `deserialize_with` helpers below keep what the
//! connector has always accepted (a null or blank `start_date` means "from 2012", ids with
//! blanks around them, `num_workers` out of range clamped) and word their errors as before; the
//! runtime prefixes them with the field's name. No helper ever formats the API key.

use connector_runtime::prelude::*;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// Where incremental streams start when `start_date` is not set (the official fallback).
pub const DEFAULT_START: &str = "2012-01-01T00:00:00Z";

/// The official concurrency when `num_workers` is absent.
pub const DEFAULT_WORKERS: usize = 25;

#[derive(Clone, Deserialize)]
pub struct KlaviyoConfig {
    /// The private API key, trimmed; blank is rejected by [`KlaviyoConfig::validate`].
    #[serde(default, deserialize_with = "api_key")]
    pub api_key: String,
    #[serde(default, deserialize_with = "start_date")]
    pub start_date: StartDate,
    #[serde(default, deserialize_with = "null_as_default")]
    pub disable_fetching_predictive_analytics: bool,
    /// Days `events_detailed` re-reads before its cursor.
    #[serde(default, deserialize_with = "days")]
    pub lookback_window: i64,
    /// Days `flow_series_reports` re-reads before its cursor.
    #[serde(default, deserialize_with = "days")]
    pub reporting_lookback_window: i64,
    /// The conversion metrics of the report streams (empty = all).
    #[serde(default, deserialize_with = "id_list")]
    pub metric_ids: Vec<String>,
    /// One events partition per id (empty = one partition for all events).
    #[serde(default, deserialize_with = "id_list")]
    pub event_metric_ids: Vec<String>,
    /// Partitions read at once: 1 to 50.
    #[serde(default = "default_workers", deserialize_with = "workers")]
    pub num_workers: usize,
}

/// `start_date`, parsed, and as configured (the legacy state migrations write it verbatim).
#[derive(Debug, Clone, PartialEq)]
pub struct StartDate {
    pub at: DateTime<Utc>,
    pub text: String,
}

impl Default for StartDate {
    fn default() -> Self {
        StartDate {
            at: default_start(),
            text: DEFAULT_START.to_string(),
        }
    }
}

/// [`DEFAULT_START`] as an instant.
pub fn default_start() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(1_325_376_000)
}

impl KlaviyoConfig {
    /// The rule the types cannot state: a key is required.
    pub fn validate(&self) -> Result<()> {
        if self.api_key.is_empty() {
            return Err(Error::config(
                "api_key is required: a Klaviyo private API key",
            ));
        }
        Ok(())
    }

    /// Where incremental streams start without state.
    pub fn start(&self) -> DateTime<Utc> {
        self.start_date.at
    }
}

type De<T, E> = std::result::Result<T, E>;

/// A string, trimmed; anything else is an error that does not show the value.
fn api_key<'de, D: Deserializer<'de>>(d: D) -> De<String, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.trim().to_string()),
        _ => Err(D::Error::custom(
            "must be a string: a Klaviyo private API key",
        )),
    }
}

fn start_date<'de, D: Deserializer<'de>>(d: D) -> De<StartDate, D::Error> {
    let bad = |got: String| {
        D::Error::custom(format!(
            "must be a date and time such as 2017-01-25T00:00:00Z, got {got}"
        ))
    };
    match Value::deserialize(d)? {
        Value::Null => Ok(StartDate::default()),
        Value::String(s) if s.trim().is_empty() => Ok(StartDate::default()),
        Value::String(s) => {
            let text = s.trim().to_string();
            match DatetimeFormat::Rfc3339.parse_str(&text) {
                Some(at) => Ok(StartDate { at, text }),
                None => Err(bad(format!("{text:?}"))),
            }
        }
        other => Err(bad(other.to_string())),
    }
}

fn null_as_default<'de, D, T>(d: D) -> De<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A whole number of days, 0 or more; null is 0.
fn days<'de, D: Deserializer<'de>>(d: D) -> De<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(0),
        v => v.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
            D::Error::custom(format!(
                "must be a whole number of days (0 or more), got {v}"
            ))
        }),
    }
}

/// A comma-separated id list, blanks trimmed (`"AAA111, BBB222"`), repeats dropped (each id
/// is one partition, and a partition must appear once in state); null is empty.
fn id_list<'de, D: Deserializer<'de>>(d: D) -> De<Vec<String>, D::Error> {
    Ok(split_ids(
        Option::<String>::deserialize(d)?.as_deref().unwrap_or(""),
    ))
}

pub fn split_ids(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in text.split(',').map(str::trim) {
        if !id.is_empty() && !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    out
}

fn default_workers() -> usize {
    DEFAULT_WORKERS
}

/// Clamped to 1–50; anything but a whole number is the official fallback of 25.
fn workers<'de, D: Deserializer<'de>>(d: D) -> De<usize, D::Error> {
    Ok(Value::deserialize(d)?
        .as_u64()
        .map(|n| n.clamp(1, 50) as usize)
        .unwrap_or(DEFAULT_WORKERS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_runtime::source::typed_config;

    fn parse(v: Value) -> Result<KlaviyoConfig> {
        typed_config::<KlaviyoConfig>(&v).and_then(|c| c.validate().map(|_| c))
    }

    fn message(v: Value) -> String {
        match parse(v) {
            Ok(_) => panic!("expected a config error"),
            Err(e) => e.message().to_string(),
        }
    }

    #[test]
    fn ids_are_split_and_trimmed() {
        assert_eq!(
            split_ids("AAA111, BBB222,, AAA111"),
            vec!["AAA111".to_string(), "BBB222".to_string()]
        );
        let c = parse(json!({"api_key": "k", "metric_ids": " M1 ", "event_metric_ids": null}))
            .expect("valid");
        assert_eq!(c.metric_ids, vec!["M1".to_string()]);
        assert!(c.event_metric_ids.is_empty());
    }

    #[test]
    fn start_defaults_to_2012_and_keeps_the_configured_text() {
        assert_eq!(
            Some(default_start()),
            DatetimeFormat::Rfc3339.parse_str(DEFAULT_START)
        );
        for absent in [
            json!({"api_key": "k"}),
            json!({"api_key": "k", "start_date": null}),
            json!({"api_key": "k", "start_date": " "}),
        ] {
            let c = parse(absent).expect("valid");
            assert_eq!(c.start_date, StartDate::default());
        }
        let c =
            parse(json!({"api_key": " k ", "start_date": " 2024-01-01T06:30:00Z"})).expect("valid");
        assert_eq!(c.api_key, "k");
        assert_eq!(c.start_date.text, "2024-01-01T06:30:00Z");
        assert_eq!(c.start().to_rfc3339(), "2024-01-01T06:30:00+00:00");
    }

    #[test]
    fn bad_values_are_config_errors_that_name_the_field() {
        let m = message(json!({"api_key": "k", "start_date": "x"}));
        assert!(
            m.contains(
                "start_date: must be a date and time such as 2017-01-25T00:00:00Z, got \"x\""
            ),
            "{m}"
        );
        let m = message(json!({"api_key": "k", "lookback_window": -1}));
        assert!(
            m.contains("lookback_window: must be a whole number of days (0 or more), got -1"),
            "{m}"
        );
        let m = message(json!({"api_key": "k", "reporting_lookback_window": "5"}));
        assert!(
            m.contains("reporting_lookback_window: must be a whole number"),
            "{m}"
        );
        assert_eq!(
            message(json!({})),
            "api_key is required: a Klaviyo private API key"
        );
        assert_eq!(
            message(json!({"api_key": "  "})),
            "api_key is required: a Klaviyo private API key"
        );
        let m = message(json!({"api_key": ["pk_never_printed"]}));
        assert!(m.contains("api_key: must be a string"), "{m}");
        assert!(!m.contains("pk_never_printed"), "{m}");
    }

    #[test]
    fn workers_default_and_clamp() {
        let workers = |v: Value| parse(v).expect("valid").num_workers;
        assert_eq!(workers(json!({"api_key": "k"})), 25);
        assert_eq!(workers(json!({"api_key": "k", "num_workers": 99})), 50);
        assert_eq!(workers(json!({"api_key": "k", "num_workers": 0})), 1);
        assert_eq!(workers(json!({"api_key": "k", "num_workers": null})), 25);
        assert_eq!(workers(json!({"api_key": "k", "num_workers": 3})), 3);
    }
}
