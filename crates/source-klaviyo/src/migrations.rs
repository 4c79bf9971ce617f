//! The official connector's legacy state migrations, applied to an incoming stream state
//! before it is read.
//!
//! | stream | legacy input | becomes |
//! |---|---|---|
//! | campaigns, campaigns_detailed | `{"updated_at": X, "archived": {"updated_at": Y}}` | email partitions: archived "true" → Y, "false" → X |
//! | flows | `{"updated": X, "archived": {"updated": Y}}` | archived "true" → Y, "false" → X |
//! | events_detailed | per-event `states` (`{"event_id": …}` partitions) | `{"datetime": <smallest cursor>}` |
//!
//! Flat `events`/`events_detailed`/`lists_detailed` states need no migration: the per-partition
//! cursor reads a flat state as the global cursor of every partition.
//!
//! Unlike the official migrations, these fire only on the legacy shapes themselves: a state
//! in the current envelope (`states`, `state` or `use_global_cursor`) is never rewritten, so a
//! global-mode campaigns state or a per-metric events_detailed state survives.

use connector_runtime::prelude::*;

fn is_envelope(obj: &serde_json::Map<String, Value>) -> bool {
    obj.contains_key("states") || obj.contains_key("state") || obj.contains_key("use_global_cursor")
}

/// `{"<cursor>": X, "archived": {"<cursor>": Y}}` → per-partition entries for the archived and
/// active partitions; `extra` is added to both partitions (campaigns: `campaign_type: email`).
/// Missing values default to `default_start` (the configured `start_date` or 2012-01-01).
pub fn archived_to_per_partition(
    cursor: &'static str,
    extra: Option<(&'static str, &'static str)>,
    default_start: String,
) -> impl Fn(Value) -> Value + Send + Sync + 'static {
    move |state: Value| {
        let Some(obj) = state.as_object() else {
            return state;
        };
        if obj.is_empty() || is_envelope(obj) || obj.contains_key("__ab_no_cursor_state_message") {
            return state;
        }
        let value_or_default = |v: Option<&Value>| {
            v.filter(|v| v.is_string())
                .cloned()
                .unwrap_or_else(|| Value::from(default_start.clone()))
        };
        let active = value_or_default(obj.get(cursor));
        let archived = value_or_default(obj.get("archived").and_then(|a| a.get(cursor)));
        let entry = |flag: &str, value: Value| {
            let mut p = serde_json::Map::new();
            p.insert("archived".into(), Value::from(flag));
            if let Some((k, v)) = extra {
                p.insert(k.into(), Value::from(v));
            }
            json!({"partition": Value::Object(canonical(&p)), "cursor": {cursor: value}})
        };
        json!({"states": [entry("true", archived), entry("false", active)]})
    }
}

/// Old per-event `events_detailed` state → the single smallest cursor.
pub fn per_event_to_single(format: CursorFormat) -> impl Fn(Value) -> Value + Send + Sync {
    move |state: Value| {
        let Some(states) = state.get("states").and_then(Value::as_array) else {
            return state;
        };
        let legacy = !states.is_empty()
            && states.iter().all(|s| {
                s.get("partition")
                    .and_then(Value::as_object)
                    .is_some_and(|p| !p.contains_key("metric_id"))
            });
        if !legacy {
            return state;
        }
        let smallest = states
            .iter()
            .filter_map(|s| s.get("cursor").and_then(|c| c.get("datetime")))
            .filter_map(|v| format.parse(v).map(|t| (t, v.clone())))
            .min_by_key(|(t, _)| *t);
        match smallest {
            Some((_, raw)) => json!({"datetime": raw}),
            None => json!({}),
        }
    }
}

/// Report streams: the incoming `lookback_window` (the previous sync's duration in seconds) is
/// read as 0. The CDK subtracts it from the global cursor for a partition without a cursor of
/// its own (a newly added conversion metric), which would start that metric's windows seconds
/// before midnight; the report endpoints are requested in whole days, so the global cursor (a
/// midnight) is used as it is. The emitted state still carries this sync's duration.
pub fn report_state(mut state: Value) -> Value {
    if let Some(obj) = state.as_object_mut() {
        if obj.contains_key("lookback_window") {
            obj.insert("lookback_window".into(), Value::from(0));
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_event_states_collapse_but_per_metric_states_are_kept() {
        let f = CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%dT%H:%M:%S%z"))
            .accept(DatetimeFormat::strftime("%Y-%m-%d %H:%M:%S%z"));
        let m = per_event_to_single(f);
        let legacy = json!({"states": [
            {"partition": {"event_id": "a"}, "cursor": {"datetime": "2020-10-11 00:00:00+00:00"}},
            {"partition": {"event_id": "b"}, "cursor": {"datetime": "2020-10-10 00:00:00+00:00"}}
        ]});
        assert_eq!(m(legacy), json!({"datetime": "2020-10-10 00:00:00+00:00"}));
        let current = json!({"states": [{"partition": {"metric_id": ""}, "cursor": {"datetime": "2020-10-10T00:00:00+0000"}}]});
        assert_eq!(m(current.clone()), current);
        assert_eq!(
            report_state(json!({"lookback_window": 40})),
            json!({"lookback_window": 0})
        );
    }

    #[test]
    fn global_mode_states_are_not_rewritten() {
        let m = archived_to_per_partition("updated", None, "2012-01-01T00:00:00Z".into());
        let global =
            json!({"use_global_cursor": true, "state": {"updated": "2024-01-01T00:00:00+0000"}});
        assert_eq!(m(global.clone()), global);
        assert_eq!(
            m(json!({"updated": "2024-01-01T00:00:00+0000"})),
            json!({"states": [
                {"partition": {"archived": "true"}, "cursor": {"updated": "2012-01-01T00:00:00Z"}},
                {"partition": {"archived": "false"}, "cursor": {"updated": "2024-01-01T00:00:00+0000"}}
            ]})
        );
    }
}
