//! The connector config, typed: dates, filters, concurrency, custom reports and the OAuth
//! client, plus the official config migration (custom report window days stored as arrays).
//!
//! The runtime hands [`PinterestConfig`] the migrated, spec-valid JSON. It keeps that JSON
//! whole next to the typed [`Settings`], because the OAuth flow writes rotated tokens back
//! into the complete config. Deserialization errors name the field
//! (`start_date: must be a date YYYY-MM-DD, got "2024-02-30"`).

use connector_runtime::prelude::*;
use serde::{Deserialize, Deserializer};

/// The three custom report attribution windows the migration unwraps.
pub const WINDOW_DAYS: [&str; 3] = [
    "click_window_days",
    "engagement_window_days",
    "view_window_days",
];

/// Without `num_workers`/`num_threads`: the official 2.2.2+ default (the docs say 2; the
/// spec's `default: 4` is only a UI hint and is sent explicitly when the user keeps it).
pub const DEFAULT_WORKERS: usize = 2;
/// The official hard maximum of concurrent workers.
pub const MAX_WORKERS: usize = 50;

/// Replaces legacy one-element window-day arrays (`[30]`) by their value in every custom
/// report. Returns whether something changed.
pub fn migrate(config: &mut Value) -> bool {
    let mut changed = false;
    let Some(reports) = config
        .get_mut("custom_reports")
        .and_then(Value::as_array_mut)
    else {
        return false;
    };
    for report in reports.iter_mut().filter_map(Value::as_object_mut) {
        for key in WINDOW_DAYS {
            let first = match report.get(key) {
                Some(Value::Array(a)) if !a.is_empty() => a[0].clone(),
                _ => continue,
            };
            report.insert(key.to_string(), first);
            changed = true;
        }
    }
    changed
}

/// The config of one run: the typed settings and the JSON they came from.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Value")]
pub struct PinterestConfig {
    pub settings: Settings,
    /// The whole config as given; the OAuth flow writes rotated tokens back into it.
    pub json: Value,
}

impl TryFrom<Value> for PinterestConfig {
    type Error = String;

    /// Reads the settings from the JSON it keeps; the error names the field that failed.
    fn try_from(json: Value) -> std::result::Result<Self, String> {
        let settings = serde_path_to_error::deserialize(&json).map_err(|e| {
            let path = e.path().to_string();
            match path.as_str() {
                "" | "." => e.into_inner().to_string(),
                _ => format!("{path}: {}", e.into_inner()),
            }
        })?;
        Ok(PinterestConfig { settings, json })
    }
}

/// What the stream declarations read from the config.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Settings {
    /// Top-level `start_date` (midnight UTC); empty means unset.
    #[serde(default, deserialize_with = "optional_date")]
    pub start_date: Option<DateTime<Utc>>,
    /// `status`: the `entity_statuses` filter of campaigns, ad groups and ads.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: Vec<String>,
    /// The one ad account to read (`ad_accounts/{id}`, `?ad_account_id=` on shared lists).
    #[serde(default, deserialize_with = "account_id")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_reports: Vec<CustomReport>,
    #[serde(default, deserialize_with = "count_or_ignored")]
    pub num_workers: Option<u64>,
    /// The legacy name of `num_workers`.
    #[serde(default, deserialize_with = "count_or_ignored")]
    pub num_threads: Option<u64>,
    #[serde(default)]
    pub credentials: Client,
    /// Legacy flat configs keep the OAuth client at the top level.
    #[serde(flatten)]
    pub flat: Client,
}

/// The OAuth client of `credentials` (or of a legacy flat config). Values that are not
/// non-empty text count as absent and are never echoed in an error.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Client {
    #[serde(default, deserialize_with = "text_or_absent")]
    pub client_id: Option<String>,
    #[serde(default, deserialize_with = "text_or_absent")]
    pub client_secret: Option<String>,
}

impl Settings {
    /// `status` joined for `entity_statuses`, when a status is set.
    pub fn entity_statuses(&self) -> Option<String> {
        (!self.status.is_empty()).then(|| self.status.join(","))
    }

    /// `num_workers`, else the legacy `num_threads`, else the default; at least 1, at most 50.
    pub fn workers(&self) -> usize {
        self.num_workers
            .or(self.num_threads)
            .map(|n| (n.min(MAX_WORKERS as u64) as usize).max(1))
            .unwrap_or(DEFAULT_WORKERS)
    }

    /// The OAuth client id and secret: `credentials`, else the top level.
    pub fn oauth_client(&self) -> (String, String) {
        let pick = |nested: &Option<String>, flat: &Option<String>| {
            nested.clone().or_else(|| flat.clone()).unwrap_or_default()
        };
        (
            pick(&self.credentials.client_id, &self.flat.client_id),
            pick(&self.credentials.client_secret, &self.flat.client_secret),
        )
    }
}

/// One custom report of `custom_reports`; the spec constrains every value.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CustomReport {
    #[serde(default)]
    pub name: String,
    pub level: Option<String>,
    pub granularity: Option<String>,
    #[serde(default)]
    pub columns: Vec<String>,
    /// Attribution windows, written into the body as given (after the migration).
    pub click_window_days: Option<serde_json::Number>,
    pub engagement_window_days: Option<serde_json::Number>,
    pub view_window_days: Option<serde_json::Number>,
    /// Required by Pinterest; a report without it fails when its job would be created.
    pub conversion_report_time: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub attribution_types: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub campaign_statuses: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ad_group_statuses: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ad_statuses: Vec<String>,
    /// Kept as text: a value that is not a real date is ignored (the report then starts at
    /// its earliest allowed day), as it always was; the spec's pattern rules out most.
    pub start_date: Option<String>,
}

impl CustomReport {
    pub fn start(&self) -> Option<DateTime<Utc>> {
        self.start_date.as_deref().and_then(parse_date)
    }
}

/// A `YYYY-MM-DD` date at midnight UTC; absent, null or empty is unset.
fn optional_date<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => parse_date(&s).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!("must be a date YYYY-MM-DD, got {s:?}"))
        }),
        Some(other) => Err(serde::de::Error::custom(format!(
            "must be a date YYYY-MM-DD, got {other}"
        ))),
    }
}

/// Null reads as the type's default (an empty list).
fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Text (trimmed) or a number written out; anything else, or blank, is unset.
fn account_id<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty()))
}

/// A non-negative whole number; any other value is ignored, as the official connector
/// ignores a legacy `num_threads` it cannot use.
fn count_or_ignored<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?
        .as_ref()
        .and_then(Value::as_u64))
}

/// Non-empty text, else absent. Never fails, so a secret of the wrong type is never
/// formatted into an error.
fn text_or_absent<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(v: Value) -> std::result::Result<Settings, String> {
        PinterestConfig::try_from(v).map(|c| c.settings)
    }

    #[test]
    fn unwraps_window_day_arrays_and_leaves_the_rest() {
        let mut c = json!({"custom_reports": [
            {"name": "a", "click_window_days": [7], "view_window_days": 0},
            {"name": "b"}
        ]});
        assert!(migrate(&mut c));
        assert_eq!(
            c,
            json!({"custom_reports": [
                {"name": "a", "click_window_days": 7, "view_window_days": 0},
                {"name": "b"}
            ]})
        );
        assert!(!migrate(&mut c));
    }

    #[test]
    fn workers_prefer_num_workers_then_num_threads() {
        let w = |v: Value| typed(v).unwrap().workers();
        assert_eq!(w(json!({"num_workers": 3, "num_threads": 9})), 3);
        assert_eq!(w(json!({"num_threads": 9})), 9);
        assert_eq!(w(json!({"num_threads": 99})), 50);
        assert_eq!(w(json!({"num_threads": 0})), 1);
        assert_eq!(w(json!({"num_threads": "many"})), DEFAULT_WORKERS);
        assert_eq!(w(json!({})), DEFAULT_WORKERS);
    }

    #[test]
    fn a_bad_start_date_is_an_error_that_names_the_field() {
        let e = typed(json!({"start_date": "2024-02-30"})).unwrap_err();
        assert_eq!(
            e,
            r#"start_date: must be a date YYYY-MM-DD, got "2024-02-30""#
        );
        let e = typed(json!({"start_date": 20240101})).unwrap_err();
        assert_eq!(e, "start_date: must be a date YYYY-MM-DD, got 20240101");
        assert_eq!(typed(json!({"start_date": ""})).unwrap().start_date, None);
        assert_eq!(
            typed(json!({"start_date": "2024-01-02"}))
                .unwrap()
                .start_date,
            parse_date("2024-01-02")
        );
    }

    #[test]
    fn the_oauth_client_comes_from_credentials_else_the_top_level_and_never_fails() {
        let s = typed(
            json!({"credentials": {"client_id": "nested", "client_secret": 5},
            "client_id": "flat", "client_secret": "flat-secret"}),
        )
        .unwrap();
        assert_eq!(
            s.oauth_client(),
            ("nested".to_string(), "flat-secret".to_string())
        );
        assert_eq!(
            typed(json!({})).unwrap().oauth_client(),
            (String::new(), String::new())
        );
    }

    #[test]
    fn filters_and_account_are_read_leniently() {
        let s = typed(json!({"status": ["ACTIVE", "PAUSED"], "account_id": " 12 "})).unwrap();
        assert_eq!(s.entity_statuses().as_deref(), Some("ACTIVE,PAUSED"));
        assert_eq!(s.account_id.as_deref(), Some("12"));
        let s = typed(json!({"status": null, "account_id": 34, "custom_reports": null})).unwrap();
        assert_eq!(s.entity_statuses(), None);
        assert_eq!(s.account_id.as_deref(), Some("34"));
        assert!(s.custom_reports.is_empty());
        assert_eq!(typed(json!({"account_id": "  "})).unwrap().account_id, None);
    }

    #[test]
    fn custom_report_errors_name_the_report_field() {
        let e = typed(json!({"custom_reports": [{"name": "r", "columns": "SPEND"}]})).unwrap_err();
        assert!(e.starts_with("custom_reports[0].columns: "), "{e}");
    }
}
