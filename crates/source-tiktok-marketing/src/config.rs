//! The config, as serde types, with the official fallbacks for legacy shapes.
//!
//! The runtime validates the JSON against the spec and deserializes it once into [`Config`];
//! [`Config::check`] (called from `Source::validate`) adds the one rule the types cannot state.
//! Before `credentials` existed, configs held `access_token` at the top level and the app's
//! `app_id`/`secret`/`advertiser_id` under `environment`; the official connector still reads
//! those, and so does this one: every credential is looked up in `credentials` first, then in
//! the legacy place.
//!
//! Fields the spec does not constrain (everything under `environment`) are read leniently, as
//! the official connector reads them: a number where text is expected is written out, a
//! non-object `environment` is ignored. Secrets are never formatted into an error.

use connector_runtime::prelude::*;
use serde::{Deserialize, Deserializer};

/// Where a config without `start_date` starts.
pub const DEFAULT_START_DATE: &str = "2016-09-01";
/// Days per daily-report request when the config does not say.
pub const DEFAULT_STEP_DAYS: i64 = 30;
const DEFAULT_WORKERS: usize = 4;
const MAX_WORKERS: usize = 20;

/// The config as the streams use it.
#[derive(Clone, Default, Deserialize)]
pub struct Config {
    #[serde(default, deserialize_with = "object")]
    pub credentials: Option<Credentials>,
    /// Legacy (before `credentials`): the app and advertiser.
    #[serde(default, deserialize_with = "object")]
    pub environment: Option<Credentials>,
    /// Legacy (before `credentials`): the access token.
    #[serde(default, deserialize_with = "text")]
    pub access_token: Option<String>,
    /// `YYYY-MM-DD`; absent or empty means [`DEFAULT_START_DATE`].
    #[serde(default, deserialize_with = "date")]
    pub start_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "date")]
    pub end_date: Option<DateTime<Utc>>,
    /// Lookback of report cursors in days; 0 when absent (the spec's 3 is only a UI default).
    #[serde(default, deserialize_with = "integer")]
    pub attribution_window: Option<i64>,
    /// Days per daily-report request (a legacy `"DAY"` is migrated to 30 beforehand).
    #[serde(default, deserialize_with = "integer")]
    pub report_granularity: Option<i64>,
    #[serde(default, deserialize_with = "boolean")]
    pub include_deleted: Option<bool>,
    /// Partitions read at once (official: 1 to 20, default 4).
    #[serde(default, deserialize_with = "unsigned")]
    pub concurrency_level: Option<u64>,
}

/// `credentials` (OAuth or sandbox token) and the legacy `environment` share these fields.
#[derive(Clone, Default, Deserialize)]
pub struct Credentials {
    #[serde(default, deserialize_with = "text")]
    pub auth_type: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub access_token: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub secret: Option<String>,
    /// Kept in the JSON type it came with (it is sent as given); empty means "every advertiser".
    #[serde(default, deserialize_with = "truthy")]
    pub advertiser_id: Option<Value>,
}

impl Config {
    /// The rule beyond the types: there must be a token.
    pub fn check(&self) -> Result<()> {
        self.access_token().map(|_| ())
    }

    /// `credentials.access_token`, else the legacy top-level `access_token`.
    pub fn access_token(&self) -> Result<&str> {
        self.credentials
            .as_ref()
            .and_then(|c| c.access_token.as_deref())
            .or(self.access_token.as_deref())
            .ok_or_else(|| {
                Error::config("The config needs an access token (credentials.access_token).")
            })
    }

    /// A credential field from `credentials`, else from the legacy `environment`.
    fn either<T>(&self, field: impl Fn(&Credentials) -> Option<T>) -> Option<T> {
        self.credentials
            .as_ref()
            .and_then(&field)
            .or_else(|| self.environment.as_ref().and_then(&field))
    }

    /// The configured advertiser; `None` reads every advertiser the token sees.
    pub fn advertiser_id(&self) -> Option<Value> {
        self.either(|c| c.advertiser_id.clone())
    }

    /// The app id `advertiser_ids` lists with; legacy configs without one send `0`.
    pub fn app_id(&self) -> String {
        self.either(|c| c.app_id.clone())
            .unwrap_or_else(|| "0".into())
    }

    pub fn secret(&self) -> Option<String> {
        self.either(|c| c.secret.clone())
    }

    /// Sandbox tokens talk to the sandbox host.
    pub fn sandbox(&self) -> bool {
        self.credentials
            .as_ref()
            .is_some_and(|c| c.auth_type.as_deref() == Some("sandbox_access_token"))
    }

    /// Whether the production-only streams are offered: OAuth credentials, or a legacy
    /// `environment` with a secret.
    pub fn production(&self) -> bool {
        match &self.credentials {
            Some(_) => !self.sandbox(),
            None => self
                .environment
                .as_ref()
                .is_some_and(|e| e.secret.is_some()),
        }
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start_date.unwrap_or_else(default_start)
    }

    pub fn attribution_days(&self) -> i64 {
        self.attribution_window.unwrap_or(0)
    }

    pub fn step_days(&self) -> i64 {
        self.report_granularity
            .filter(|d| *d > 0)
            .unwrap_or(DEFAULT_STEP_DAYS)
    }

    pub fn include_deleted(&self) -> bool {
        self.include_deleted.unwrap_or(false)
    }

    pub fn workers(&self) -> usize {
        self.concurrency_level.map_or(DEFAULT_WORKERS, |n| {
            usize::try_from(n)
                .unwrap_or(MAX_WORKERS)
                .clamp(1, MAX_WORKERS)
        })
    }
}

/// Before 5.1.0 `report_granularity` was `"DAY"`/`"HOUR"`/`"LIFETIME"`; it is kept as
/// `legacy_report_granularity` and replaced by the default step of 30 days (official 5.1.13).
/// `true` when the config changed.
pub fn migrate(config: &mut Value) -> bool {
    let Some(obj) = config.as_object_mut() else {
        return false;
    };
    let Some(Value::String(legacy)) = obj.get("report_granularity").cloned() else {
        return false;
    };
    obj.insert("legacy_report_granularity".into(), Value::String(legacy));
    obj.insert("report_granularity".into(), Value::from(DEFAULT_STEP_DAYS));
    true
}

fn default_start() -> DateTime<Utc> {
    parse_date(DEFAULT_START_DATE).unwrap_or_default()
}

/// An object, else nothing (a legacy `environment` was sometimes not one).
fn object<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> std::result::Result<Option<T>, D::Error> {
    match Value::deserialize(d)? {
        v @ Value::Object(_) => serde_json::from_value(v)
            .map(Some)
            .map_err(serde::de::Error::custom),
        _ => Ok(None),
    }
}

/// Text as given; numbers and booleans written out; null is absent.
fn text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

/// Any value but null, `false` and `""`, which mean "not set".
fn truthy<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null | Value::Bool(false) => None,
        Value::String(s) if s.is_empty() => None,
        other => Some(other),
    })
}

fn integer<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    Ok(Value::deserialize(d)?.as_i64())
}

fn unsigned<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    Ok(Value::deserialize(d)?.as_u64())
}

fn boolean<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<bool>, D::Error> {
    Ok(Value::deserialize(d)?.as_bool())
}

/// `YYYY-MM-DD` as midnight UTC; empty (or not text) is absent.
fn date<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<DateTime<Utc>>, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) if !s.is_empty() => parse_date(&s).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "must be a date in the format YYYY-MM-DD, got {s:?}"
            ))
        }),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_runtime::source::typed_config;

    fn config(v: Value) -> Config {
        typed_config(&v).expect("a config")
    }

    #[test]
    fn credentials_fall_back_to_the_legacy_environment() {
        let c = config(
            json!({"credentials": {"auth_type": "oauth2.0", "app_id": "a", "secret": "s",
            "access_token": "t", "advertiser_id": ""}, "environment": {"advertiser_id": "9"}}),
        );
        assert_eq!(
            c.advertiser_id(),
            Some(json!("9")),
            "an empty credentials id falls back to environment"
        );
        assert!(c.production() && !c.sandbox());
        assert_eq!((c.attribution_days(), c.step_days()), (0, 30));
        assert_eq!(c.start(), default_start());
        assert_eq!(c.access_token().ok(), Some("t"));

        let legacy = config(json!({"access_token": "t", "environment": {"secret": "s"}}));
        assert_eq!(legacy.app_id(), "0");
        assert!(legacy.production());
        let legacy = config(json!({"access_token": "t", "environment": {"secret": null}}));
        assert!(!legacy.production());
        let legacy = config(json!({"access_token": "t", "environment": "production",
            "start_date": ""}));
        assert!(!legacy.production() && legacy.environment.is_none());
        assert_eq!(legacy.start(), default_start());
        let numeric =
            config(json!({"access_token": "t", "environment": {"app_id": 12, "advertiser_id": 7}}));
        assert_eq!(numeric.app_id(), "12");
        assert_eq!(numeric.advertiser_id(), Some(json!(7)));

        let sandbox = config(json!({"credentials": {"auth_type": "sandbox_access_token",
            "advertiser_id": "1", "access_token": "t"}, "attribution_window": 3, "report_granularity": 7}));
        assert!(sandbox.sandbox() && !sandbox.production());
        assert_eq!((sandbox.attribution_days(), sandbox.step_days()), (3, 7));
    }

    #[test]
    fn a_config_without_a_token_is_a_config_error() {
        let e = config(json!({"credentials": {}})).check().unwrap_err();
        assert_eq!(e.failure_type(), FailureType::ConfigError);
        assert_eq!(
            e.message(),
            "The config needs an access token (credentials.access_token)."
        );
    }

    #[test]
    fn a_date_that_does_not_exist_is_an_error_naming_the_field() {
        let e = typed_config::<Config>(&json!({"access_token": "t", "end_date": "2024-02-30"}))
            .err()
            .expect("an invalid date");
        assert_eq!(e.failure_type(), FailureType::ConfigError);
        assert!(
            e.message()
                .contains("end_date: must be a date in the format YYYY-MM-DD, got \"2024-02-30\""),
            "{}",
            e.message()
        );
    }

    #[test]
    fn legacy_report_granularity_is_migrated_once() {
        let mut c = json!({"report_granularity": "LIFETIME"});
        assert!(migrate(&mut c));
        assert_eq!(
            c,
            json!({"report_granularity": 30, "legacy_report_granularity": "LIFETIME"})
        );
        assert!(!migrate(&mut c));
    }

    #[test]
    fn workers_stay_within_the_official_bounds() {
        let w = |v: Value| config(v).workers();
        assert_eq!(w(json!({})), 4);
        assert_eq!(w(json!({"concurrency_level": 7})), 7);
        assert_eq!(w(json!({"concurrency_level": 50})), 20);
        assert_eq!(w(json!({"concurrency_level": 0})), 1);
        assert_eq!(w(json!({"concurrency_level": -3})), 4);
    }
}
