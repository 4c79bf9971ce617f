//! Cursor state in the exact JSON shapes the official Airbyte CDK emits and accepts.
//!
//! Two shapes exist. A stream without partitions keeps a flat `{"<cursor>": "<value>"}`.
//! A partitioned stream keeps the concurrent per-partition cursor's envelope:
//!
//! ```json
//! {"use_global_cursor": false,
//!  "states": [{"partition": {...}, "cursor": {"<cursor>": "<value>"}}],
//!  "state": {"<cursor>": "<value>"},
//!  "lookback_window": 12,
//!  "parent_state": {}}
//! ```
//!
//! Accepted on input as the CDK does: per-partition states (each listed partition starts from
//! its own cursor), a global `state` with `lookback_window` seconds for partitions not listed,
//! `use_global_cursor: true`, and legacy flat states (the value becomes the global cursor for
//! every partition). A cursor never moves backwards: a partition that yields no record keeps
//! its starting point.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use crate::datetime::CursorFormat;
use crate::error::{Error, Result};
use crate::partition::{canonical, Partition};

/// Above this many partitions the CDK stops tracking them one by one.
pub const PARTITION_LIMIT: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateShape {
    /// `{"<cursor>": "<value>"}`: streams without partitions.
    Flat,
    /// The per-partition envelope; `parent_state` says whether `"parent_state": {}` is written
    /// (the CDK writes it for substream partition routers, not for list routers).
    PerPartition { parent_state: bool },
}

#[derive(Debug, Clone)]
struct Entry {
    partition: Partition,
    cursor: Option<DateTime<Utc>>,
    /// An entry read from input whose cursor we could not parse is re-emitted verbatim.
    raw: Option<Value>,
}

/// The cursor state of one stream during one sync.
#[derive(Debug, Clone)]
pub struct CursorState {
    field: String,
    format: CursorFormat,
    shape: StateShape,
    entries: Vec<Entry>,
    /// Position of each partition in `entries`, by its canonical JSON: lookups stay O(1) with
    /// thousands of partitions.
    index: HashMap<String, usize>,
    global: Option<DateTime<Utc>>,
    /// The global cursor as it came in: intermediate messages carry it unchanged, because a
    /// partition that has not finished must not fall back to a value others reached.
    input_global: Option<DateTime<Utc>>,
    lookback_secs: i64,
    use_global_cursor: bool,
    started: DateTime<Utc>,
}

impl CursorState {
    /// Reads the incoming state of a stream (`None` or `{}` for a first sync).
    pub fn from_input(
        field: &str,
        format: CursorFormat,
        shape: StateShape,
        input: Option<&Value>,
        started: DateTime<Utc>,
    ) -> Result<Self> {
        let mut state = CursorState {
            field: field.to_string(),
            format,
            shape,
            entries: Vec::new(),
            index: HashMap::new(),
            global: None,
            input_global: None,
            lookback_secs: 0,
            use_global_cursor: false,
            started,
        };
        let Some(input) = input else { return Ok(state) };
        let obj = match input {
            Value::Null => return Ok(state),
            Value::Object(o) => o,
            other => {
                return Err(Error::config(format!(
                    "The saved state of a stream must be a JSON object, got {other}"
                )))
            }
        };
        if obj.is_empty() || obj.contains_key("__ab_no_cursor_state_message") {
            return Ok(state);
        }
        let has_envelope = obj.contains_key("states")
            || obj.contains_key("state")
            || obj.contains_key("use_global_cursor");
        if !has_envelope {
            // Flat (or legacy flat) state: the cursor value is the global starting point.
            state.global = state.parse_cursor_object(input)?;
            state.input_global = state.global;
            return Ok(state);
        }
        if let Some(states) = obj.get("states") {
            let Value::Array(items) = states else {
                return Err(Error::config("The saved state's \"states\" must be a list"));
            };
            for item in items {
                let partition = match item.get("partition") {
                    Some(Value::Object(p)) => p.clone(),
                    _ => {
                        return Err(Error::config(format!(
                            "Every entry of the saved state's \"states\" needs a \"partition\" object, got {item}"
                        )))
                    }
                };
                let cursor_obj = item.get("cursor").cloned().unwrap_or(json!({}));
                let cursor = state.parse_cursor_object(&cursor_obj)?;
                state.insert(Entry {
                    partition: canonical(&partition),
                    cursor,
                    raw: cursor.is_none().then_some(cursor_obj),
                });
            }
        }
        if let Some(global) = obj.get("state") {
            state.global = state.parse_cursor_object(global)?;
            state.input_global = state.global;
        }
        if let Some(lb) = obj.get("lookback_window") {
            state.lookback_secs = lb
                .as_i64()
                .or_else(|| lb.as_f64().map(|f| f as i64))
                .or_else(|| lb.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    Error::config(format!(
                        "The saved state's lookback_window must be a number, got {lb}"
                    ))
                })?;
        }
        state.use_global_cursor = obj
            .get("use_global_cursor")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(state)
    }

    /// Reads `{"<field>": value}`; an object without the field means "no cursor".
    fn parse_cursor_object(&self, v: &Value) -> Result<Option<DateTime<Utc>>> {
        let Some(value) = v.get(&self.field) else {
            return Ok(None);
        };
        if value.is_null() {
            return Ok(None);
        }
        self.format.parse(value).map(Some).ok_or_else(|| {
            Error::config(format!(
                "The saved state holds {}={value}, which is not a date this stream can read; \
                 reset the stream or fix the state",
                self.field
            ))
        })
    }

    pub fn cursor_field(&self) -> &str {
        &self.field
    }

    pub fn format(&self) -> &CursorFormat {
        &self.format
    }

    /// Where a partition resumes, before any lookback: its own cursor, else the global cursor
    /// minus the previous sync's duration, else `None` (the stream's configured start).
    ///
    /// The fallback is the global cursor *as it came in*: records other partitions emit
    /// during this sync raise the live global cursor, and a partition starting later must not
    /// skip its own history because of them.
    pub fn start_for(&self, partition: &Partition) -> Option<DateTime<Utc>> {
        if self.use_global_cursor {
            return self.input_global;
        }
        if let Some(e) = self.find(partition) {
            if e.cursor.is_some() {
                return e.cursor;
            }
        }
        self.input_global
            .map(|g| g - Duration::seconds(self.lookback_secs.max(0)))
    }

    fn key(partition: &Partition) -> String {
        Value::Object(canonical(partition)).to_string()
    }

    fn find(&self, partition: &Partition) -> Option<&Entry> {
        self.index
            .get(&Self::key(partition))
            .and_then(|i| self.entries.get(*i))
    }

    /// Adds an entry, or replaces the one of the same partition (a state listing a partition
    /// twice keeps the last, as a JSON object would).
    fn insert(&mut self, entry: Entry) {
        let key = Self::key(&entry.partition);
        match self.index.get(&key) {
            Some(i) => self.entries[*i] = entry,
            None => {
                self.index.insert(key, self.entries.len());
                self.entries.push(entry);
            }
        }
    }

    /// Notes a partition of this sync as the partition router created it, so the `states`
    /// list keeps the CDK's order whatever order partitions finish in: the partitions of the
    /// incoming state first, in their saved order (those this sync does not see included),
    /// then new ones in router order. A registered partition is listed once it has a cursor.
    pub fn register(&mut self, partition: &Partition) {
        if self.find(partition).is_none() {
            self.insert(Entry {
                partition: canonical(partition),
                cursor: None,
                raw: None,
            });
        }
    }

    /// Entries `states` lists: those with a cursor, or an unreadable saved one to keep.
    fn listed(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| e.cursor.is_some() || e.raw.is_some())
    }

    /// Records that `partition` has safely reached `value`. The cursor only moves forward.
    pub fn advance(&mut self, partition: &Partition, value: DateTime<Utc>) {
        let key = Self::key(partition);
        match self.index.get(&key).and_then(|i| self.entries.get_mut(*i)) {
            Some(e) => {
                e.cursor = Some(e.cursor.map_or(value, |c| c.max(value)));
                e.raw = None;
            }
            None => {
                self.index.insert(key, self.entries.len());
                self.entries.push(Entry {
                    partition: canonical(partition),
                    cursor: Some(value),
                    raw: None,
                });
            }
        }
    }

    /// Records a cursor value seen in an emitted record (feeds the global `state`).
    pub fn observe_record(&mut self, value: DateTime<Utc>) {
        self.global = Some(self.global.map_or(value, |g| g.max(value)));
    }

    /// The state JSON as of now. A final message (every partition finished) writes the
    /// largest cursor seen as the global `state` and this sync's duration as
    /// `lookback_window`; intermediate messages carry the incoming values of both.
    pub fn to_json(&self, now: DateTime<Utc>, final_message: bool) -> Value {
        match self.shape {
            StateShape::Flat => {
                let best = self
                    .entries
                    .iter()
                    .filter_map(|e| e.cursor)
                    .chain(self.global)
                    .max();
                match best {
                    Some(v) => json!({ self.field.clone(): self.format.format(v) }),
                    None => json!({}),
                }
            }
            StateShape::PerPartition { parent_state } => {
                let lookback = if final_message {
                    sync_seconds(now - self.started)
                } else {
                    self.lookback_secs
                };
                let mut out = Map::new();
                let global_mode = self.use_global_cursor || self.listed().count() > PARTITION_LIMIT;
                out.insert("use_global_cursor".into(), Value::Bool(global_mode));
                if !global_mode {
                    let states: Vec<Value> = self
                        .listed()
                        .map(|e| {
                            let cursor = match (&e.cursor, &e.raw) {
                                (Some(c), _) => json!({ self.field.clone(): self.format.format(*c) }),
                                (None, Some(raw)) => raw.clone(),
                                (None, None) => json!({}),
                            };
                            json!({"partition": Value::Object(e.partition.clone()), "cursor": cursor})
                        })
                        .collect();
                    out.insert("states".into(), Value::Array(states));
                }
                let global = if final_message {
                    self.global
                } else {
                    self.input_global
                };
                if let Some(g) = global {
                    out.insert(
                        "state".into(),
                        json!({ self.field.clone(): self.format.format(g) }),
                    );
                }
                out.insert("lookback_window".into(), Value::from(lookback));
                if parent_state {
                    out.insert("parent_state".into(), json!({}));
                }
                Value::Object(out)
            }
        }
    }
}

/// The sync's duration as the CDK writes it to `lookback_window`: whole seconds rounded up,
/// so any sync that took time at all counts as at least one second (a partition that later
/// starts from the global cursor re-reads that second); no time at all is 0.
fn sync_seconds(elapsed: Duration) -> i64 {
    if elapsed <= Duration::zero() {
        return 0;
    }
    let whole = elapsed.num_seconds();
    if elapsed > Duration::seconds(whole) {
        whole + 1
    } else {
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datetime::{parse_date, DatetimeFormat};

    fn fmt() -> CursorFormat {
        CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d"))
            .accept(DatetimeFormat::strftime("%Y-%m-%d %H:%M:%S"))
    }

    fn p(id: &str) -> Partition {
        json!({"advertiser_id": id, "parent_slice": {}})
            .as_object()
            .unwrap()
            .clone()
    }

    fn now() -> DateTime<Utc> {
        parse_date("2024-10-01").unwrap()
    }

    #[test]
    fn per_partition_state_round_trips_byte_for_byte() {
        let input = json!({
            "use_global_cursor": false,
            "states": [
                {"partition": {"advertiser_id": "111", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-09-20"}},
                {"partition": {"parent_slice": {}, "advertiser_id": "222"}, "cursor": {"stat_time_day": "2024-09-10"}}
            ],
            "state": {"stat_time_day": "2024-09-20"},
            "lookback_window": 1
        });
        let s = CursorState::from_input(
            "stat_time_day",
            fmt(),
            StateShape::PerPartition {
                parent_state: false,
            },
            Some(&input),
            now(),
        )
        .unwrap();
        let out = s.to_json(now(), false);
        let expected = json!({
            "use_global_cursor": false,
            "states": [
                {"partition": {"advertiser_id": "111", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-09-20"}},
                {"partition": {"advertiser_id": "222", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-09-10"}}
            ],
            "state": {"stat_time_day": "2024-09-20"},
            "lookback_window": 1
        });
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
    }

    #[test]
    fn unlisted_partition_falls_back_to_global_minus_lookback() {
        let input = json!({"state": {"stat_time_day": "2024-03-05"}, "lookback_window": 1});
        let s = CursorState::from_input(
            "stat_time_day",
            fmt(),
            StateShape::PerPartition {
                parent_state: false,
            },
            Some(&input),
            now(),
        )
        .unwrap();
        let start = s.start_for(&p("999")).unwrap();
        assert_eq!(start.format("%F").to_string(), "2024-03-04");
    }

    #[test]
    fn legacy_flat_state_is_the_global_cursor() {
        let input = json!({"stat_time_day": "2024-03-10 18:00:00"});
        let s = CursorState::from_input(
            "stat_time_day",
            fmt(),
            StateShape::PerPartition {
                parent_state: false,
            },
            Some(&input),
            now(),
        )
        .unwrap();
        assert_eq!(
            s.start_for(&p("1")).unwrap().format("%F %T").to_string(),
            "2024-03-10 18:00:00"
        );
    }

    #[test]
    fn cursor_never_moves_backwards_and_global_is_the_max_seen() {
        let mut s = CursorState::from_input(
            "stat_time_day",
            fmt(),
            StateShape::PerPartition { parent_state: true },
            None,
            now(),
        )
        .unwrap();
        s.advance(&p("1"), parse_date("2024-09-20").unwrap());
        s.advance(&p("1"), parse_date("2024-09-01").unwrap());
        s.observe_record(parse_date("2024-09-20").unwrap());
        let out = s.to_json(now(), true);
        assert_eq!(out["states"][0]["cursor"]["stat_time_day"], "2024-09-20");
        assert_eq!(out["state"]["stat_time_day"], "2024-09-20");
        assert_eq!(out["parent_state"], json!({}));
        assert_eq!(out["lookback_window"], 0);
    }

    #[test]
    fn unreadable_state_is_a_config_error() {
        let input =
            json!({"states": [{"partition": {"id": "1"}, "cursor": {"DATE": "not a date"}}]});
        let err = CursorState::from_input(
            "DATE",
            fmt(),
            StateShape::PerPartition {
                parent_state: false,
            },
            Some(&input),
            now(),
        )
        .unwrap_err();
        assert_eq!(
            err.failure_type(),
            airbyte_protocol::FailureType::ConfigError
        );
        assert!(
            CursorState::from_input("DATE", fmt(), StateShape::Flat, Some(&json!([1])), now())
                .is_err()
        );
    }

    #[test]
    fn flat_shape_writes_one_value() {
        let mut s = CursorState::from_input(
            "updated",
            fmt(),
            StateShape::Flat,
            Some(&json!({"updated": "2024-01-01"})),
            now(),
        )
        .unwrap();
        assert_eq!(
            s.start_for(&Map::new()).unwrap(),
            parse_date("2024-01-01").unwrap()
        );
        s.advance(&Map::new(), parse_date("2024-02-01").unwrap());
        assert_eq!(s.to_json(now(), true), json!({"updated": "2024-02-01"}));
    }

    #[test]
    fn use_global_cursor_emits_no_states() {
        let input = json!({"use_global_cursor": true, "state": {"stat_time_day": "2024-03-05"}, "lookback_window": 0});
        let s = CursorState::from_input(
            "stat_time_day",
            fmt(),
            StateShape::PerPartition {
                parent_state: false,
            },
            Some(&input),
            now(),
        )
        .unwrap();
        let out = s.to_json(now(), true);
        assert_eq!(out["use_global_cursor"], true);
        assert!(out.get("states").is_none());
        assert_eq!(
            s.start_for(&p("x")).unwrap(),
            parse_date("2024-03-05").unwrap()
        );
    }

    fn per_partition(input: Option<&Value>, started: DateTime<Utc>) -> CursorState {
        CursorState::from_input(
            "stat_time_day",
            fmt(),
            StateShape::PerPartition {
                parent_state: false,
            },
            input,
            started,
        )
        .unwrap()
    }

    #[test]
    fn intermediate_states_keep_the_incoming_global_and_lookback_final_writes_new_ones() {
        let input = json!({"use_global_cursor": false, "states": [
            {"partition": {"advertiser_id": "1", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-09-01"}}
        ], "state": {"stat_time_day": "2024-09-01"}, "lookback_window": 7});
        let started = parse_date("2024-10-01").unwrap();
        let mut s = per_partition(Some(&input), started);
        s.advance(&p("1"), parse_date("2024-09-15").unwrap());
        s.observe_record(parse_date("2024-09-15").unwrap());
        // Mid-sync: the partition's own cursor moves, the global state and lookback do not
        // (a partition not yet finished must not fall back to a value others reached).
        let mid = s.to_json(started + Duration::seconds(30), false);
        assert_eq!(
            mid,
            json!({"use_global_cursor": false, "states": [
                {"partition": {"advertiser_id": "1", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-09-15"}}
            ], "state": {"stat_time_day": "2024-09-01"}, "lookback_window": 7})
        );
        // At the end: the largest cursor seen, and this sync's duration in seconds.
        let last = s.to_json(started + Duration::milliseconds(42_600), true);
        assert_eq!(last["state"], json!({"stat_time_day": "2024-09-15"}));
        assert_eq!(last["lookback_window"], json!(43));
    }

    #[test]
    fn states_keep_saved_partitions_first_then_registered_ones_in_router_order() {
        let input = json!({"use_global_cursor": false, "states": [
            {"partition": {"advertiser_id": "9", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-09-01"}},
            {"partition": {"advertiser_id": "2", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-09-01"}}
        ], "state": {"stat_time_day": "2024-09-01"}, "lookback_window": 0});
        let mut s = per_partition(Some(&input), now());
        for id in ["3", "2", "1"] {
            s.register(&p(id));
        }
        // Registered but unfinished partitions are not listed yet.
        let ids = |s: &CursorState| -> Vec<String> {
            s.to_json(now(), false)["states"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    e["partition"]["advertiser_id"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect()
        };
        assert_eq!(ids(&s), ["9", "2"]);
        // They finish in reverse order, and are listed in the order they were registered.
        for id in ["1", "2", "3"] {
            s.advance(&p(id), parse_date("2024-09-10").unwrap());
        }
        assert_eq!(ids(&s), ["9", "2", "3", "1"]);
    }

    #[test]
    fn lookback_window_is_the_sync_duration_rounded_up() {
        let started = now();
        let mut s = per_partition(None, started);
        s.advance(&p("1"), parse_date("2024-09-03").unwrap());
        s.observe_record(parse_date("2024-09-03").unwrap());
        let after = |d: Duration| s.to_json(started + d, true)["lookback_window"].clone();
        // A sub-second sync is one second, as the CDK writes it (rounding to nearest gave 0).
        assert_eq!(after(Duration::milliseconds(300)), json!(1));
        assert_eq!(after(Duration::nanoseconds(1)), json!(1));
        assert_eq!(after(Duration::zero()), json!(0));
        assert_eq!(after(Duration::seconds(2)), json!(2));
        assert_eq!(after(Duration::milliseconds(2_001)), json!(3));
        // A clock that went backwards is no time at all.
        assert_eq!(after(Duration::seconds(-5)), json!(0));
    }

    #[test]
    fn first_sync_intermediate_state_has_no_global_until_the_end() {
        let started = now();
        let mut s = per_partition(None, started);
        s.advance(&p("1"), parse_date("2024-09-03").unwrap());
        s.observe_record(parse_date("2024-09-03").unwrap());
        let mid = s.to_json(started, false);
        assert!(mid.get("state").is_none(), "{mid}");
        assert_eq!(mid["lookback_window"], 0);
        assert_eq!(
            s.to_json(started, true)["state"],
            json!({"stat_time_day": "2024-09-03"})
        );
    }

    #[test]
    fn more_than_ten_thousand_partitions_switch_to_the_global_cursor() {
        let started = now();
        let mut s = per_partition(None, started);
        for i in 0..PARTITION_LIMIT {
            s.advance(&p(&i.to_string()), parse_date("2024-09-01").unwrap());
        }
        s.observe_record(parse_date("2024-09-01").unwrap());
        let at_limit = s.to_json(started, true);
        assert_eq!(at_limit["use_global_cursor"], false);
        assert_eq!(
            at_limit["states"].as_array().map(Vec::len),
            Some(PARTITION_LIMIT)
        );
        s.advance(&p("one-more"), parse_date("2024-09-02").unwrap());
        s.observe_record(parse_date("2024-09-02").unwrap());
        let above = s.to_json(started, true);
        assert_eq!(
            above,
            json!({"use_global_cursor": true, "state": {"stat_time_day": "2024-09-02"}, "lookback_window": 0})
        );
        // Read back, every partition starts at the global cursor.
        let back = per_partition(Some(&above), started);
        assert_eq!(
            back.start_for(&p("anything")),
            Some(parse_date("2024-09-02").unwrap())
        );
    }

    #[test]
    fn partition_missing_from_a_per_partition_state_uses_global_minus_lookback_or_the_start() {
        let with_global = json!({"states": [
            {"partition": {"advertiser_id": "1", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-09-20"}}
        ], "state": {"stat_time_day": "2024-09-20"}, "lookback_window": 86400});
        let s = per_partition(Some(&with_global), now());
        assert_eq!(
            s.start_for(&p("1")),
            Some(parse_date("2024-09-20").unwrap())
        );
        assert_eq!(
            s.start_for(&p("2")),
            Some(parse_date("2024-09-19").unwrap())
        );
        let without_global = json!({"states": [
            {"partition": {"advertiser_id": "1", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-09-20"}}
        ]});
        let s = per_partition(Some(&without_global), now());
        assert_eq!(s.start_for(&p("2")), None);
    }

    #[test]
    fn partition_keys_match_whatever_their_order_in_the_saved_state() {
        let input = json!({"states": [
            {"partition": {"parent_slice": {}, "advertiser_id": "1"}, "cursor": {"stat_time_day": "2024-09-20"}}
        ]});
        let s = per_partition(Some(&input), now());
        let reordered = json!({"parent_slice": {}, "advertiser_id": "1"})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(
            s.start_for(&canonical(&reordered)),
            Some(parse_date("2024-09-20").unwrap())
        );
    }

    #[test]
    fn a_partition_without_cursor_is_written_back_as_it_came() {
        let input = json!({"states": [
            {"partition": {"advertiser_id": "1", "parent_slice": {}}, "cursor": {}}
        ], "state": {"stat_time_day": "2024-09-20"}, "lookback_window": 0});
        let s = per_partition(Some(&input), now());
        let out = s.to_json(now(), false);
        assert_eq!(out["states"][0]["cursor"], json!({}));
    }

    #[test]
    fn wrong_state_shapes_are_config_errors_that_say_what_is_wrong() {
        for (input, needle) in [
            (json!({"states": {"a": 1}}), "must be a list"),
            (
                json!({"states": [{"cursor": {}}]}),
                "needs a \"partition\" object",
            ),
            (
                json!({"state": {"stat_time_day": "2024-01-01"}, "lookback_window": "soon"}),
                "lookback_window",
            ),
            (
                json!({"state": {"stat_time_day": "yesterday"}}),
                "not a date",
            ),
            (json!("2024-01-01"), "must be a JSON object"),
        ] {
            let err = CursorState::from_input(
                "stat_time_day",
                fmt(),
                StateShape::PerPartition {
                    parent_state: false,
                },
                Some(&input),
                now(),
            )
            .unwrap_err();
            assert_eq!(
                err.failure_type(),
                airbyte_protocol::FailureType::ConfigError
            );
            assert!(err.message().contains(needle), "{input}: {}", err.message());
        }
    }

    #[test]
    fn no_cursor_marker_and_empty_state_mean_a_first_sync() {
        for input in [
            json!({}),
            json!({"__ab_no_cursor_state_message": true}),
            Value::Null,
        ] {
            let s = per_partition(Some(&input), now());
            assert_eq!(s.start_for(&p("1")), None);
        }
    }

    #[test]
    fn a_partition_listed_twice_keeps_the_last_entry() {
        let input = json!({"states": [
            {"partition": {"advertiser_id": "1", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-09-01"}},
            {"partition": {"parent_slice": {}, "advertiser_id": "1"}, "cursor": {"stat_time_day": "2024-09-05"}}
        ]});
        let s = per_partition(Some(&input), now());
        assert_eq!(
            s.start_for(&p("1")),
            Some(parse_date("2024-09-05").unwrap())
        );
        assert_eq!(
            s.to_json(now(), false)["states"].as_array().map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn a_partition_starting_late_falls_back_to_the_incoming_global_not_this_syncs() {
        let mut first_sync = per_partition(None, now());
        first_sync.advance(&p("1"), parse_date("2024-09-20").unwrap());
        first_sync.observe_record(parse_date("2024-09-20").unwrap());
        assert_eq!(first_sync.start_for(&p("2")), None);

        let input = json!({"state": {"stat_time_day": "2024-09-01"}, "lookback_window": 0});
        let mut resumed = per_partition(Some(&input), now());
        resumed.advance(&p("1"), parse_date("2024-09-20").unwrap());
        resumed.observe_record(parse_date("2024-09-20").unwrap());
        assert_eq!(
            resumed.start_for(&p("2")),
            Some(parse_date("2024-09-01").unwrap())
        );
    }
}
