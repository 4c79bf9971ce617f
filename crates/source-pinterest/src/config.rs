//! The connector config as the streams need it: dates, filters, concurrency and custom
//! reports, plus the official config migration (custom report window days stored as arrays).

use connector_runtime::prelude::*;

/// The three custom report attribution windows the migration unwraps.
const WINDOW_DAYS: [&str; 3] = [
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

/// What the stream declarations read from the config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Top-level `start_date` (midnight UTC).
    pub start_date: Option<DateTime<Utc>>,
    /// `status` joined for `entity_statuses`.
    pub entity_statuses: Option<String>,
    pub account_id: Option<String>,
    pub custom_reports: Vec<Value>,
}

impl Settings {
    pub fn from_config(config: &Value) -> Result<Self> {
        let start_date = match config.get("start_date") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(parse_date(s).ok_or_else(|| {
                Error::config(format!("start_date must be a date YYYY-MM-DD, got {s:?}"))
            })?),
            Some(other) => {
                return Err(Error::config(format!(
                    "start_date must be a date YYYY-MM-DD, got {other}"
                )))
            }
        };
        let statuses: Vec<&str> = config
            .get("status")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let account_id = config
            .get("account_id")
            .and_then(|v| match v {
                Value::String(s) => Some(s.trim().to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty());
        Ok(Settings {
            start_date,
            entity_statuses: (!statuses.is_empty()).then(|| statuses.join(",")),
            account_id,
            custom_reports: config
                .get("custom_reports")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        })
    }
}

/// `num_workers`, else the legacy `num_threads`, else the default; at most 50.
pub fn workers(config: &Value) -> usize {
    ["num_workers", "num_threads"]
        .iter()
        .find_map(|k| config.get(*k).and_then(Value::as_u64))
        .map(|n| (n as usize).clamp(1, MAX_WORKERS))
        .unwrap_or(DEFAULT_WORKERS)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(workers(&json!({"num_workers": 3, "num_threads": 9})), 3);
        assert_eq!(workers(&json!({"num_threads": 9})), 9);
        assert_eq!(workers(&json!({"num_threads": 99})), 50);
        assert_eq!(workers(&json!({})), DEFAULT_WORKERS);
    }
}
