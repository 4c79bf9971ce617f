//! Saved partition cursors older than the stream's earliest start are raised to it.
//!
//! Why a quirk: the official per-partition cursor raises *every* saved partition cursor
//! older than the stream's earliest start, including partitions that no longer exist, which
//! are then written back raised. The runtime's [`Incremental::min_start`] clamps only the
//! partitions this sync reads, so saved states would differ for partitions that are gone.
//! This is the CDK's behaviour, not Pinterest's; it lives here until another source needs
//! it as a runtime cursor option.

use connector_runtime::prelude::*;

/// A state migration raising every `states[].cursor.<field>` older than `earliest`.
pub fn raise(
    field: &'static str,
    format: CursorFormat,
    earliest: DateTime<Utc>,
) -> impl Fn(Value) -> Value + Send + Sync + 'static {
    move |mut state: Value| {
        if let Some(states) = state.get_mut("states").and_then(Value::as_array_mut) {
            for entry in states {
                let Some(cursor) = entry.get_mut("cursor").and_then(Value::as_object_mut) else {
                    continue;
                };
                let older = cursor
                    .get(field)
                    .and_then(|v| format.parse(v))
                    .is_some_and(|c| c < earliest);
                if older {
                    cursor.insert(field.to_string(), Value::String(format.format(earliest)));
                }
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_older_cursors_only_and_leaves_the_rest_of_the_state() {
        let earliest = parse_date("2024-01-10").unwrap();
        let day = CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d"));
        let migrate = raise("DATE", day, earliest);
        let state = json!({"states": [
            {"partition": {"id": "gone"}, "cursor": {"DATE": "2023-05-01"}},
            {"partition": {"id": "new"}, "cursor": {"DATE": "2024-02-01"}},
            {"partition": {"id": "odd"}, "cursor": {}}
        ], "state": {"DATE": "2023-01-01"}});
        assert_eq!(
            migrate(state),
            json!({"states": [
                {"partition": {"id": "gone"}, "cursor": {"DATE": "2024-01-10"}},
                {"partition": {"id": "new"}, "cursor": {"DATE": "2024-02-01"}},
                {"partition": {"id": "odd"}, "cursor": {}}
            ], "state": {"DATE": "2023-01-01"}})
        );
    }
}
