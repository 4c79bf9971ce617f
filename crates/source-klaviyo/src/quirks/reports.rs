//! The report streams (`flow_series_reports`, `campaign_values_reports`) with the 3.0.0
//! semantics.
//!
//! - Windows are whole days: the range starts at midnight of `start_date` (or the saved cursor)
//!   and ends at 23:59:59 of the previous day, cut in 30-day steps, so a day is never split.
//! - `flow_series_reports` answers with `date_times` and per-statistic arrays aligned to them;
//!   [`flow_series_days`] turns every result item into one record per day (scalar statistics,
//!   `date` = that day). `reporting_lookback_window` re-reads the last N days.
//! - `campaign_values_reports` answers with one aggregate per campaign message; its `date` is
//!   the midnight that closes the window (window end + 1 s), so the next sync starts exactly
//!   there and a second sync on the same day requests nothing.
//! - A 400 "does not support querying for values data" skips that metric; a 429 whose
//!   `Retry-After` exceeds [`MAX_WAIT`] (the daily quota) fails fast instead of sleeping.
//! - Both read one partition per conversion metric: `metric_ids`, or every metric.
//!
//! [`Reports`] holds what the two streams share (their own [`StreamDefaults`]); the stream
//! table declares each with [`Reports::stream`] and names its record selector.

use std::time::Duration as StdDuration;

use connector_runtime::prelude::*;

use crate::filters::{WINDOW_END, WINDOW_START};
use crate::migrations;

/// The longest `Retry-After` a report request waits for.
pub const MAX_WAIT: StdDuration = StdDuration::from_secs(600);

pub const FLOW_STATISTICS: &[&str] = &[
    "opens",
    "opens_unique",
    "clicks",
    "clicks_unique",
    "delivered",
    "bounced",
    "bounced_or_failed",
    "bounced_or_failed_rate",
    "failed",
    "failed_rate",
    "conversions",
    "conversion_value",
    "conversion_rate",
    "conversion_uniques",
    "click_rate",
    "open_rate",
    "click_to_open_rate",
    "delivery_rate",
    "bounce_rate",
    "recipients",
    "revenue_per_recipient",
    "average_order_value",
];

pub const CAMPAIGN_STATISTICS: &[&str] = &[
    "average_order_value",
    "bounce_rate",
    "bounced",
    "bounced_or_failed",
    "bounced_or_failed_rate",
    "click_rate",
    "click_to_open_rate",
    "clicks",
    "clicks_unique",
    "conversion_rate",
    "conversion_uniques",
    "conversion_value",
    "conversions",
    "delivered",
    "delivery_rate",
    "failed",
    "failed_rate",
    "message_segment_count_sum",
    "open_rate",
    "opens",
    "opens_unique",
    "recipients",
    "revenue_per_recipient",
    "spam_complaint_rate",
    "spam_complaints",
    "text_message_credit_usage_amount",
    "text_message_roi",
    "text_message_spend",
    "unsubscribe_rate",
    "unsubscribe_uniques",
    "unsubscribes",
];

/// The report requester: the stream requester failing fast on quota waits beyond [`MAX_WAIT`].
pub fn report_requester(base: &Requester) -> Requester {
    base.clone().with_retry(RetryPolicy {
        max_wait: Some(MAX_WAIT),
        ..RetryPolicy::default()
    })
}

/// Skips metrics Klaviyo cannot report on instead of failing the sync.
pub fn report_handlers() -> HandlerChain {
    HandlerChain::new().with(|r: &ResponseView<'_>| {
        (r.status == 400 && r.text.contains("does not support querying for values data")).then(
            || {
                ResponseAction::ignore(
                    "this conversion metric does not support querying for values data; skipped",
                )
            },
        )
    })
}

/// What the report streams share: the requester that fails fast on quota waits, the
/// `links.next` paginator, the partition router over the conversion metrics, records coerced
/// to the schema and the day-aligned cursor.
pub struct Reports {
    table: StreamDefaults,
    cursor: Incremental,
}

impl Reports {
    /// `lists` are the stream table's defaults (the conversion metrics are read from
    /// `GET metrics` as a JSON:API list); `wanted` is the configured `metric_ids` (empty =
    /// every metric).
    pub fn new(
        lists: &StreamDefaults,
        wanted: Vec<String>,
        format: CursorFormat,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let parent = lists
            .get("metrics_for_reporting", "metrics")
            .schema_from("metrics")
            .filter(move |r: &Value, _s: &Slice| {
                wanted.is_empty()
                    || r.get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| wanted.iter().any(|w| w == id))
            })
            .build()?;
        Ok(Reports {
            table: StreamDefaults::new(lists.schemas(), &report_requester(lists.base_requester()))
                .paginator(Paginator::next_url("links.next"))
                .router(PartitionRouter::substream(parent, "id", "metric_id"))
                .normalize(),
            cursor: Incremental::new("date", format, start_of_day(start), range_end(now))
                .per_partition(true)
                .step(Duration::days(30), Duration::seconds(1)),
        })
    }

    /// A report stream: a JSON POST of `body` (see [`body`]) to `path` per metric and window,
    /// keyed by `date`, the `groupings` copied to the top level and the conversion metric;
    /// incremental syncs re-read `lookback_days`. The row names its record selector.
    pub fn stream(
        &self,
        name: &str,
        path: &str,
        body: Value,
        groupings: &'static [&'static str],
        lookback_days: i64,
    ) -> StreamBuilder {
        let key: Vec<&str> = std::iter::once("date")
            .chain(groupings.iter().copied())
            .chain(std::iter::once("conversion_metric_id"))
            .collect();
        self.table
            .stream(name, RequestTemplate::post_json(path, body))
            .header("Content-Type", "application/json")
            // Every report answer holds its rows at `data.attributes.results`, whichever
            // selector reads them: an answer without them is retried, then fails.
            .expect(Expect::JsonAt(vec![
                "data".into(),
                "attributes".into(),
                "results".into(),
            ]))
            .handlers(report_handlers())
            .key(&key)
            .transform(move |r: &mut Value, s: &Slice| copy_groupings(r, s, groupings))
            .incremental(self.cursor.clone().lookback(Duration::days(lookback_days)))
            .migrate_state(migrations::report_state)
    }
}

/// The POST body of one report window: `kind` with `statistics` over the window, for the
/// partition's metric, per `interval` when given.
pub fn body(kind: &str, statistics: &[&str], interval: Option<&str>) -> Value {
    let mut attributes = json!({
        "statistics": statistics,
        "timeframe": {"start": WINDOW_START, "end": WINDOW_END},
        "conversion_metric_id": "{partition.metric_id}",
    });
    if let Some(interval) = interval {
        attributes["interval"] = json!(interval);
    }
    json!({"data": {"type": kind, "attributes": attributes}})
}

/// One record per result item and day of a flow-series answer.
pub fn flow_series_days(body: Value) -> Result<Vec<Value>> {
    let attrs = get_path(&body, &["data", "attributes"]);
    let days: Vec<Value> = attrs
        .and_then(|a| a.get("date_times"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let results = attrs
        .and_then(|a| a.get("results"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::with_capacity(results.len() * days.len());
    for item in results {
        let groupings = item.get("groupings").cloned().unwrap_or(Value::Null);
        let stats = item
            .get("statistics")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (i, day) in days.iter().enumerate() {
            let mut daily = Map::new();
            for (k, v) in &stats {
                let value = match v {
                    Value::Array(values) => values.get(i).cloned().unwrap_or(Value::Null),
                    scalar => scalar.clone(),
                };
                daily.insert(k.clone(), value);
            }
            out.push(json!({
                "date": day,
                "groupings": groupings,
                "statistics": Value::Object(daily),
            }));
        }
    }
    Ok(out)
}

type Map = serde_json::Map<String, Value>;

/// Copies the grouping ids to the top level and adds the partition's metric id.
pub fn copy_groupings(record: &mut Value, slice: &Slice, keys: &[&str]) {
    for key in keys {
        let v = get_path(record, &["groupings", key])
            .cloned()
            .unwrap_or(Value::Null);
        set_path(record, &[key], v);
    }
    let metric = slice
        .get_str("metric_id")
        .map(Value::from)
        .unwrap_or(Value::Null);
    set_path(record, &["conversion_metric_id"], metric);
}

/// `date` = the midnight closing a campaign-values window, written as the API writes dates.
pub fn closing_date(record: &mut Value, slice: &Slice) {
    set_path(record, &["date"], closing_midnight(slice));
}

fn closing_midnight(slice: &Slice) -> Value {
    slice
        .end()
        .map(|e| {
            Value::from(
                (e + Duration::seconds(1))
                    .format("%Y-%m-%dT%H:%M:%S+00:00")
                    .to_string(),
            )
        })
        .unwrap_or(Value::Null)
}

/// The end of the report range: 23:59:59 of the day before `now`.
pub fn range_end(now: DateTime<Utc>) -> DateTime<Utc> {
    start_of_day(now) - Duration::seconds(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_series_answers_become_one_record_per_day() {
        let body = json!({"data": {"attributes": {
            "date_times": ["2024-01-01T00:00:00+00:00", "2024-01-02T00:00:00+00:00"],
            "results": [{"groupings": {"flow_id": "F"}, "statistics": {"opens": [1, 2], "x": 5}}]
        }}});
        let got = flow_series_days(body).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1]["date"], "2024-01-02T00:00:00+00:00");
        assert_eq!(got[1]["statistics"], json!({"opens": 2, "x": 5}));
        assert!(flow_series_days(json!({})).unwrap().is_empty());
    }
}
