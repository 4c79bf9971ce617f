//! Partition grouping end to end: a grouped read sends one request per group and window, and
//! delivers the records and writes the state an ungrouped read of the same stream does.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use connector_runtime::prelude::*;
use connector_testkit::{catalog, env, read, state_for, DeclaredSource, Run};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const VAR: &str = "GROUPING_TEST_BASE_URL";
const NOW: &str = "2024-01-31T12:00:00Z";

fn config() -> Value {
    json!({"api_key": "key-grouping-0123456789"})
}

fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Stats for every requested id: a row on each day of the window where `(day + id) % 4 == 0`,
/// ordered by day, so rows of different ids interleave and some windows of an id are empty.
struct Stats;

impl Respond for Stats {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let day =
            |k: &str| query(req, k).and_then(|v| NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok());
        let (Some(ids), Some(start), Some(end)) = (query(req, "ids"), day("start"), day("end"))
        else {
            return ResponseTemplate::new(400);
        };
        let ids: Vec<u32> = ids.split(',').filter_map(|i| i.parse().ok()).collect();
        let mut rows = Vec::new();
        let mut d = start;
        while d <= end {
            for id in &ids {
                if (d.format("%d").to_string().parse::<u32>().unwrap_or(0) + id) % 4 == 0 {
                    rows.push(json!({"entity": id, "day": d.to_string(), "v": 1}));
                }
            }
            match d.succ_opt() {
                Some(next) => d = next,
                None => break,
            }
        }
        ResponseTemplate::new(200).set_body_json(json!({"rows": rows}))
    }
}

/// `entities` partitions `{"id": n}` (numbers), their `stats` per partition in 10-day windows
/// from 2024-01-01, grouped `group` at a time when given.
fn source(entities: u32, group: Option<usize>, incremental: bool) -> DeclaredSource {
    DeclaredSource::new(move |_c, ctx| {
        let requester = Requester::new("https://api.example.invalid/v1/", VAR, &ctx.env)?;
        let request = RequestTemplate::get("stats").query("ids", "{partition.id}");
        let request = if incremental {
            request
                .query("start", "{window.start:%Y-%m-%d}")
                .query("end", "{window.end:%Y-%m-%d}")
        } else {
            request
                .query_literal("start", "2024-01-01")
                .query_literal("end", "2024-01-02")
        };
        let mut stream = DeclarativeStream::new(
            "stats",
            json!({"type": "object"}),
            SimpleRetriever::new(&requester, request).records_at("rows"),
        )
        .router(PartitionRouter::list(
            "id",
            (1..=entities).map(|n| json!(n)),
        ));
        if incremental {
            let day = CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d"));
            let start = parse_date("2024-01-01").expect("a date");
            let end = parse_date("2024-01-31").expect("a date");
            stream = stream.incremental(
                Incremental::new("day", day, start, end)
                    .per_partition(false)
                    .step(Duration::days(10), Duration::days(1)),
            );
        }
        if let Some(n) = group {
            stream = stream.group_partitions(PartitionGrouping::new("id", n).split_by("entity"));
        }
        Ok(vec![stream.into_arc()])
    })
    .workers(3)
}

async fn read_stats(source: &DeclaredSource, mode: &str, state: Option<Value>) -> (Run, usize) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/stats"))
        .respond_with(Stats)
        .mount(&server)
        .await;
    let state = state.map(|s| state_for("stats", s));
    let r = read(
        source,
        env(VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("stats", mode)]),
        state.as_ref(),
    )
    .await;
    let requests = server.received_requests().await.unwrap_or_default().len();
    (r, requests)
}

/// Records per entity, in emission order.
fn by_entity(r: &Run) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for rec in r.records("stats") {
        out.entry(rec["entity"].to_string()).or_default().push(rec);
    }
    out
}

/// Every STATE covers only records emitted before it: a partition's cursor other than where
/// it started (`saved`, else Jan 1) names a day one of its records carried earlier.
fn assert_states_follow_their_records(r: &Run, saved: &[(u32, &str)]) {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in &r.messages {
        match m["type"].as_str() {
            Some("RECORD") => {
                let rec = &m["record"]["data"];
                seen.entry(rec["entity"].to_string())
                    .or_default()
                    .push(rec["day"].as_str().unwrap_or_default().to_string());
            }
            Some("STATE") => {
                let state = &m["state"]["stream"]["stream_state"];
                for entry in state["states"].as_array().into_iter().flatten() {
                    let cursor = entry["cursor"]["day"].as_str().unwrap_or_default();
                    let id = entry["partition"]["id"].to_string();
                    let start = saved
                        .iter()
                        .find(|(s, _)| s.to_string() == id)
                        .map_or("2024-01-01", |(_, c)| *c);
                    if cursor == start {
                        continue;
                    }
                    assert!(
                        seen.get(&id)
                            .is_some_and(|days| days.iter().any(|d| d == cursor)),
                        "state for {id} at {cursor} before any such record: {state}"
                    );
                }
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_grouped_read_delivers_the_records_and_state_of_an_ungrouped_one() {
    // 120 partitions: more than the 50 above which intermediate states are throttled.
    let (alone, alone_requests) = read_stats(&source(120, None, true), "incremental", None).await;
    let (grouped, grouped_requests) =
        read_stats(&source(120, Some(50), true), "incremental", None).await;
    assert_eq!(alone.code, 0, "{}", alone.raw);
    assert_eq!(grouped.code, 0, "{}", grouped.raw);
    // Three windows (Jan 1-10, 11-20, 21-31); 120 requests each alone, 3 grouped.
    assert_eq!(alone_requests, 120 * 3);
    assert_eq!(grouped_requests, 3 * 3);
    assert!(!by_entity(&grouped).is_empty());
    assert_eq!(by_entity(&grouped), by_entity(&alone));
    assert_eq!(grouped.last_state("stats"), alone.last_state("stats"));
    assert!(grouped.states("stats").len() > 1);
    assert_states_follow_their_records(&grouped, &[]);
}

#[tokio::test]
async fn grouped_partitions_resume_from_their_own_cursors() {
    let partition = |id: u32| json!({"id": id});
    let state = json!({"states": [
        {"partition": partition(1), "cursor": {"day": "2024-01-12"}},
        {"partition": partition(2), "cursor": {"day": "2024-01-12"}},
        {"partition": partition(3), "cursor": {"day": "2024-01-25"}}
    ]});
    let (alone, _) = read_stats(&source(5, None, true), "incremental", Some(state.clone())).await;
    let (grouped, requests) =
        read_stats(&source(5, Some(50), true), "incremental", Some(state)).await;
    assert_eq!(grouped.code, 0, "{}", grouped.raw);
    // 1 and 2 from Jan 12 (two windows), 3 from Jan 25 (one), 4 and 5 from Jan 1 (three).
    assert_eq!(requests, 2 + 1 + 3);
    assert_eq!(by_entity(&grouped), by_entity(&alone));
    assert_eq!(grouped.last_state("stats"), alone.last_state("stats"));
    let saved = [(1, "2024-01-12"), (2, "2024-01-12"), (3, "2024-01-25")];
    assert_states_follow_their_records(&grouped, &saved);
}

#[tokio::test]
async fn a_stream_without_a_cursor_is_grouped_too() {
    let (alone, alone_requests) = read_stats(&source(7, None, false), "full_refresh", None).await;
    let (grouped, grouped_requests) =
        read_stats(&source(7, Some(3), false), "full_refresh", None).await;
    assert_eq!(grouped.code, 0, "{}", grouped.raw);
    assert_eq!((alone_requests, grouped_requests), (7, 3));
    assert!(!by_entity(&grouped).is_empty());
    assert_eq!(by_entity(&grouped), by_entity(&alone));
}
