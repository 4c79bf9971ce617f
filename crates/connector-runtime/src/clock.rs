//! "Now", pinnable for reproducible date windows.
//!
//! Every date window, default end date and emitted timestamp asks this clock. When the
//! environment variable `AIRBYTE_TEST_NOW` holds an ISO-8601 instant the clock stands still at
//! that instant, so a test (or a demo) gets the same windows on every run.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// The environment variable that pins the clock.
pub const TEST_NOW_ENV: &str = "AIRBYTE_TEST_NOW";

#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    pinned: Option<DateTime<Utc>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock { pinned: None }
    }

    /// A clock that always answers `now`.
    pub fn pinned(now: DateTime<Utc>) -> Self {
        Clock { pinned: Some(now) }
    }

    /// Parses an `AIRBYTE_TEST_NOW` value: RFC 3339, `YYYY-MM-DDTHH:MM:SS` (UTC) or a date.
    pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
        let text = text.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
            return Some(dt.with_timezone(&Utc));
        }
        for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(dt) = NaiveDateTime::parse_from_str(text, fmt) {
                return Some(dt.and_utc());
            }
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|dt| dt.and_utc())
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.pinned.unwrap_or_else(Utc::now)
    }

    pub fn now_millis(&self) -> i64 {
        self.now().timestamp_millis()
    }

    pub fn is_pinned(&self) -> bool {
        self.pinned.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_accepted_forms() {
        let a = Clock::parse_instant("2024-06-10T12:00:00Z").unwrap();
        let b = Clock::parse_instant("2024-06-10T12:00:00").unwrap();
        let c = Clock::parse_instant("2024-06-10").unwrap();
        assert_eq!(a, b);
        assert_eq!(c.to_rfc3339(), "2024-06-10T00:00:00+00:00");
        assert!(Clock::parse_instant("yesterday").is_none());
    }

    #[test]
    fn pinned_clock_stands_still() {
        let t = Clock::parse_instant("2024-01-01T00:00:00Z").unwrap();
        let clock = Clock::pinned(t);
        assert_eq!(clock.now(), t);
        assert_eq!(clock.now_millis(), 1_704_067_200_000);
    }
}
