//! Klaviyo's `filter` expressions, written exactly as the official connector writes them.
//!
//! Operators and quoting differ per endpoint: profiles and templates use `greater-than` with no
//! upper bound; campaigns and flows use inclusive bounds inside `and(...)` with channel values in
//! single quotes and `archived` unquoted; events use comma-joined bounds with the metric id in
//! double quotes.

use connector_runtime::prelude::*;

/// How dates are written in filters, report bodies and state: `2024-05-31T00:00:00+0000`.
pub const DATE_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%z";

pub fn date(dt: DateTime<Utc>) -> String {
    dt.format(DATE_FORMAT).to_string()
}

/// `greater-than(<field>,<start>)` (profiles, email_templates).
pub fn greater_than(field: &str, start: DateTime<Utc>) -> String {
    format!("greater-than({field},{})", date(start))
}

/// `and(greater-or-equal(f,S),less-or-equal(f,E),<extra>...)` (campaigns, flows).
pub fn inclusive_range(field: &str, window: Window, extra: &[String]) -> String {
    let mut parts = vec![
        format!("greater-or-equal({field},{})", date(window.start)),
        format!("less-or-equal({field},{})", date(window.end)),
    ];
    parts.extend(extra.iter().cloned());
    format!("and({})", parts.join(","))
}

/// `greater-or-equal(datetime,S),less-than(datetime,U)[,equals(metric_id,"X")]` (events).
///
/// The official connector puts `U` = the window end, which is one second before the next
/// window starts, so events in that last second are never requested. Here `U` is the start of
/// the next window (`end + 1 s`) for every window but the last, whose end is the sync's "now"
/// and stays exclusive as in the official connector: the windows are contiguous.
pub fn events(window: Window, now: DateTime<Utc>, metric_id: Option<&str>) -> String {
    let upper = if window.end >= now {
        window.end
    } else {
        window.end + Duration::seconds(1)
    };
    let mut out = format!(
        "greater-or-equal(datetime,{}),less-than(datetime,{})",
        date(window.start),
        date(upper)
    );
    if let Some(id) = metric_id.filter(|id| !id.is_empty()) {
        out.push_str(&format!(",equals(metric_id,\"{id}\")"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DatetimeFormat::Rfc3339.parse_str(s).unwrap()
    }

    #[test]
    fn filters_match_the_official_text() {
        assert_eq!(
            greater_than("updated", t("2024-05-31T00:00:00Z")),
            "greater-than(updated,2024-05-31T00:00:00+0000)"
        );
        let w = Window {
            start: t("2024-01-01T00:00:00Z"),
            end: t("2024-03-01T23:59:59Z"),
        };
        assert_eq!(
            inclusive_range("updated", w, &["equals(archived,true)".into()]),
            "and(greater-or-equal(updated,2024-01-01T00:00:00+0000),less-or-equal(updated,2024-03-01T23:59:59+0000),equals(archived,true))"
        );
    }

    #[test]
    fn event_windows_are_contiguous_and_the_last_one_ends_at_now() {
        let now = t("2024-01-20T12:00:00Z");
        let w = Window {
            start: t("2024-01-01T00:00:00Z"),
            end: t("2024-01-07T23:59:59Z"),
        };
        assert_eq!(
            events(w, now, Some("M1")),
            "greater-or-equal(datetime,2024-01-01T00:00:00+0000),less-than(datetime,2024-01-08T00:00:00+0000),equals(metric_id,\"M1\")"
        );
        let last = Window {
            start: t("2024-01-15T00:00:00Z"),
            end: now,
        };
        assert_eq!(
            events(last, now, Some("")),
            "greater-or-equal(datetime,2024-01-15T00:00:00+0000),less-than(datetime,2024-01-20T12:00:00+0000)"
        );
    }
}
