//! `events` and `events_detailed`: one partition per configured event metric, and a filter
//! whose windows are contiguous.
//!
//! The filter is `greater-or-equal(datetime,S),less-than(datetime,U)[,equals(metric_id,"X")]`
//! (comma-joined bounds, the metric id in double quotes). The official connector puts `U` =
//! the window end, which is one second before the next window starts, so events in that last
//! second are never requested. Here `U` is the start of the next window (`end + 1 s`) for every
//! window but the last, whose end is the sync's "now" and stays exclusive as in the official
//! connector. That depends on "now", which a request template cannot know: a quirk.

use connector_runtime::prelude::*;

use crate::filters::date;

/// `metric_id` partitions: one per configured id, or one empty id meaning every metric (the
/// state then keeps the official `{"metric_id": ""}` partition).
pub fn router(metric_ids: &[String]) -> PartitionRouter {
    let values: Vec<Value> = if metric_ids.is_empty() {
        vec![Value::from("")]
    } else {
        metric_ids.iter().map(|s| Value::from(s.as_str())).collect()
    };
    PartitionRouter::list("metric_id", values)
}

/// The `filter` query value of a slice, for [`RequestTemplate::query_with`].
pub fn filter(now: DateTime<Utc>) -> impl Fn(&Slice) -> Result<String> + Send + Sync + 'static {
    move |s: &Slice| {
        let window = s.window.unwrap_or(Window {
            start: now,
            end: now,
        });
        Ok(expression(window, now, s.get_str("metric_id").as_deref()))
    }
}

/// The filter of one window (see the module doc).
pub fn expression(window: Window, now: DateTime<Utc>, metric_id: Option<&str>) -> String {
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
        DatetimeFormat::Rfc3339.parse_str(s).expect("an instant")
    }

    #[test]
    fn event_windows_are_contiguous_and_the_last_one_ends_at_now() {
        let now = t("2024-01-20T12:00:00Z");
        let w = Window {
            start: t("2024-01-01T00:00:00Z"),
            end: t("2024-01-07T23:59:59Z"),
        };
        assert_eq!(
            expression(w, now, Some("M1")),
            "greater-or-equal(datetime,2024-01-01T00:00:00+0000),less-than(datetime,2024-01-08T00:00:00+0000),equals(metric_id,\"M1\")"
        );
        let last = Window {
            start: t("2024-01-15T00:00:00Z"),
            end: now,
        };
        assert_eq!(
            expression(last, now, Some("")),
            "greater-or-equal(datetime,2024-01-15T00:00:00+0000),less-than(datetime,2024-01-20T12:00:00+0000)"
        );
    }
}
