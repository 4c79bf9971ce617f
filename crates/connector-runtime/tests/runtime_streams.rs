//! The engine against a mock API: paginators, record selection, transformations, filters,
//! datetime windows, partition routers, per-partition state, concurrency and checkpointing.

use std::sync::atomic::{AtomicUsize, Ordering};

use connector_runtime::prelude::*;
use connector_testkit::{catalog, env, ok, read, state_for, DeclaredSource, Run};
use futures::StreamExt;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const VAR: &str = "STREAMS_TEST_BASE_URL";
const NOW: &str = "2024-01-10T12:00:00Z";
const NOW_MS: i64 = 1_704_888_000_000;

fn requester(ctx: &SourceContext) -> Result<Requester> {
    Requester::new("https://api.example.invalid/v1/", VAR, &ctx.env)
}

fn day() -> CursorFormat {
    CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d"))
}

fn d(text: &str) -> DateTime<Utc> {
    parse_date(text).expect("a date")
}

fn config() -> Value {
    json!({"api_key": "key-streams-0123456789"})
}

async fn read_one(
    server: &MockServer,
    source: &DeclaredSource,
    stream: &str,
    mode: &str,
    state: Option<Value>,
) -> Run {
    let state = state.map(|s| state_for(stream, s));
    read(
        source,
        env(VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[(stream, mode)]),
        state.as_ref(),
    )
    .await
}

// ---- paginators and record selection ----

#[tokio::test]
async fn next_url_pagination_follows_absolute_links_as_given() {
    let server = MockServer::start().await;
    let next = format!("{}/v1/events?page%5Bcursor%5D=abc", server.uri());
    Mock::given(method("GET"))
        .and(path("/v1/events"))
        .and(query_param("filter", "x"))
        .respond_with(ok(json!({"data": [{"id": 1}], "links": {"next": next}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/events"))
        .and(query_param("page[cursor]", "abc"))
        .and(|r: &Request| !r.url.query_pairs().any(|(k, _)| k == "filter"))
        .respond_with(ok(json!({"data": [{"id": 2}], "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    let source = DeclaredSource::new(|_c, ctx| {
        let r = requester(ctx)?;
        Ok(vec![DeclarativeStream::new(
            "events",
            json!({}),
            SimpleRetriever::new(&r, |_s: &Slice| {
                HttpRequest::get("events").query("filter", "x")
            })
            .paginator(Paginator::next_url("links.next"))
            .records_at("data"),
        )
        .into_arc()])
    });
    let run = read_one(&server, &source, "events", "full_refresh", None).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("events"),
        vec![json!({"id": 1}), json!({"id": 2})]
    );
}

#[tokio::test]
async fn body_token_pagination_sends_the_token_back_until_it_is_empty() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/pins"))
        .and(|r: &Request| !r.url.query_pairs().any(|(k, _)| k == "bookmark"))
        .respond_with(ok(json!({"items": [{"id": "a"}], "bookmark": "B1"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/pins"))
        .and(query_param("bookmark", "B1"))
        .and(query_param("page_size", "25"))
        .respond_with(ok(json!({"items": [{"id": "b"}], "bookmark": ""})))
        .expect(1)
        .mount(&server)
        .await;
    let source = DeclaredSource::new(|_c, ctx| {
        let r = requester(ctx)?;
        Ok(vec![DeclarativeStream::new(
            "pins",
            json!({}),
            SimpleRetriever::new(&r, |_s: &Slice| {
                HttpRequest::get("pins").query("page_size", "25")
            })
            .paginator(Paginator::body_token("bookmark", "bookmark"))
            .records_at("items"),
        )
        .into_arc()])
    });
    let run = read_one(&server, &source, "pins", "full_refresh", None).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("pins"),
        vec![json!({"id": "a"}), json!({"id": "b"})]
    );
}

#[tokio::test]
async fn records_are_selected_by_path_and_wildcard() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/report"))
        .respond_with(ok(json!({"data": {"111": {"rows": [{"r": 1}, null, {"r": 2}]}, "222": {"rows": [{"r": 3}]}, "333": {}}})))
        .expect(1)
        .mount(&server)
        .await;
    let source = DeclaredSource::new(|_c, ctx| {
        let r = requester(ctx)?;
        Ok(vec![DeclarativeStream::new(
            "report",
            json!({}),
            SimpleRetriever::new(&r, |_s: &Slice| HttpRequest::get("report"))
                .records_at("data.*.rows"),
        )
        .into_arc()])
    });
    let run = read_one(&server, &source, "report", "full_refresh", None).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("report"),
        vec![json!({"r": 1}), json!({"r": 2}), json!({"r": 3})]
    );
}

// ---- transformations, type coercion, filters ----

#[tokio::test]
async fn transformations_and_type_coercion_shape_each_record() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/things"))
        .and(query_param("account", "acc-1"))
        .respond_with(ok(json!({"data": [
            {"id": "7", "amount": 3, "name": 12, "active": "true", "tags": ["1", "2"],
             "nested": {"n": "5"}, "old_name": "x", "gone": null, "extra": "kept"},
            {"id": "8", "skip": true}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    let schema = json!({"type": "object", "properties": {
        "id": {"type": ["null", "integer"]},
        "amount": {"type": ["null", "number"]},
        "name": {"type": ["null", "string"]},
        "active": {"type": ["null", "boolean"]},
        "tags": {"type": ["null", "array"], "items": {"type": "integer"}},
        "nested": {"type": ["null", "object"], "properties": {"n": {"type": "integer"}}},
        "new_name": {"type": ["null", "string"]},
        "account": {"type": ["null", "string"]}
    }});
    let source = DeclaredSource::new(move |_c, ctx| {
        let r = requester(ctx)?;
        Ok(vec![DeclarativeStream::new(
            "things",
            schema.clone(),
            SimpleRetriever::new(&r, |s: &Slice| {
                HttpRequest::get("things")
                    .query("account", s.get_str("account").unwrap_or_default())
            })
            .records_at("data"),
        )
        .router(PartitionRouter::list("account", [json!("acc-1")]))
        .filter(|rec, _s| rec.get("skip").is_none())
        .transform(|rec, s| {
            if let Some(v) = remove_path(rec, &["old_name"]) {
                set_path(rec, &["new_name"], v);
            }
            set_path(rec, &["account"], json!(s.get_str("account")));
            drop_top_level_nulls(rec);
        })
        .normalize()
        .into_arc()])
    });
    let run = read_one(&server, &source, "things", "full_refresh", None).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("things"),
        vec![
            json!({"id": 7, "amount": 3.0, "name": "12", "active": true, "tags": [1, 2],
            "nested": {"n": 5}, "extra": "kept", "new_name": "x", "account": "acc-1"})
        ]
    );
}

fn client_filtered(filter: ClientFilter, keep_missing: bool) -> DeclaredSource {
    DeclaredSource::new(move |_c, ctx| {
        let r = requester(ctx)?;
        let mut inc = Incremental::new("updated", day(), d("2024-01-01"), d("2024-01-10"))
            .client_side(filter);
        inc.keep_missing_cursor = keep_missing;
        Ok(vec![DeclarativeStream::new(
            "lists",
            json!({}),
            SimpleRetriever::new(&r, |_s: &Slice| HttpRequest::get("lists")).records_at("data"),
        )
        .incremental(inc)
        .into_arc()])
    })
}

async fn mount_lists(server: &MockServer) {
    Mock::given(path("/v1/lists"))
        .respond_with(ok(json!({"data": [
            {"id": 1, "updated": "2024-01-04"}, {"id": 2, "updated": "2024-01-05"},
            {"id": 3, "updated": "2024-01-06"}, {"id": 4}
        ]})))
        .mount(server)
        .await;
}

fn ids(run: &Run, stream: &str) -> Vec<i64> {
    run.records(stream)
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect()
}

#[tokio::test]
async fn client_side_filters_drop_records_before_the_saved_cursor() {
    let server = MockServer::start().await;
    mount_lists(&server).await;
    let state = Some(json!({"updated": "2024-01-05"}));
    let run = read_one(
        &server,
        &client_filtered(ClientFilter::GreaterOrEqual, false),
        "lists",
        "incremental",
        state.clone(),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(ids(&run, "lists"), vec![2, 3]);
    assert_eq!(
        run.last_state("lists"),
        Some(json!({"updated": "2024-01-06"}))
    );

    let run = read_one(
        &server,
        &client_filtered(ClientFilter::GreaterThan, true),
        "lists",
        "incremental",
        state,
    )
    .await;
    assert_eq!(ids(&run, "lists"), vec![3, 4]);

    // A first sync starts at the configured start: everything after it passes.
    let run = read_one(
        &server,
        &client_filtered(ClientFilter::GreaterOrEqual, false),
        "lists",
        "incremental",
        None,
    )
    .await;
    assert_eq!(ids(&run, "lists"), vec![1, 2, 3]);
}

// ---- datetime windows ----

fn windowed(lookback_days: i64, min_start: Option<&str>) -> DeclaredSource {
    let min_start = min_start.map(d);
    DeclaredSource::new(move |_c, ctx| {
        let r = requester(ctx)?;
        let mut inc = Incremental::new(
            "day",
            day(),
            d("2024-01-01"),
            start_of_day(ctx.env.clock.now()),
        )
        .step(Duration::days(4), Duration::days(1))
        .lookback(Duration::days(lookback_days));
        if let Some(m) = min_start {
            inc = inc.min_start(m);
        }
        Ok(vec![DeclarativeStream::new(
            "daily",
            json!({}),
            SimpleRetriever::new(&r, |s: &Slice| {
                HttpRequest::get("daily")
                    .query(
                        "start",
                        s.start()
                            .map(|t| t.format("%F").to_string())
                            .unwrap_or_default(),
                    )
                    .query(
                        "end",
                        s.end()
                            .map(|t| t.format("%F").to_string())
                            .unwrap_or_default(),
                    )
            })
            .records_at("data"),
        )
        .incremental(inc)
        .into_arc()])
    })
}

async fn expect_windows(server: &MockServer, windows: &[(&str, &str)]) {
    for (start, end) in windows {
        Mock::given(path("/v1/daily"))
            .and(query_param("start", *start))
            .and(query_param("end", *end))
            .respond_with(ok(json!({"data": [{"day": end}]})))
            .expect(1)
            .mount(server)
            .await;
    }
}

#[tokio::test]
async fn windows_are_cut_by_step_from_the_start_to_the_pinned_now() {
    let server = MockServer::start().await;
    expect_windows(
        &server,
        &[
            ("2024-01-01", "2024-01-04"),
            ("2024-01-05", "2024-01-08"),
            ("2024-01-09", "2024-01-10"),
        ],
    )
    .await;
    let run = read_one(&server, &windowed(0, None), "daily", "incremental", None).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    // One STATE per window, then the final one.
    let states: Vec<Value> = run.states("daily");
    assert_eq!(
        states,
        vec![
            json!({"day": "2024-01-04"}),
            json!({"day": "2024-01-08"}),
            json!({"day": "2024-01-10"}),
            json!({"day": "2024-01-10"})
        ]
    );
    // The pinned clock stamps every record.
    assert!(run
        .all_records()
        .iter()
        .all(|r| r["emitted_at"] == json!(NOW_MS)));
}

#[tokio::test]
async fn a_first_sync_never_starts_before_the_configured_start_whatever_the_lookback() {
    let server = MockServer::start().await;
    // The lookback re-reads before a saved cursor only; without state the windows start at
    // the configured start, exactly as with no lookback.
    expect_windows(
        &server,
        &[
            ("2024-01-01", "2024-01-04"),
            ("2024-01-05", "2024-01-08"),
            ("2024-01-09", "2024-01-10"),
        ],
    )
    .await;
    let run = read_one(&server, &windowed(3, None), "daily", "incremental", None).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.last_state("daily"), Some(json!({"day": "2024-01-10"})));
}

#[tokio::test]
async fn a_saved_cursor_minus_the_lookback_is_where_windows_resume_clamped_by_min_start() {
    let server = MockServer::start().await;
    expect_windows(
        &server,
        &[("2024-01-05", "2024-01-08"), ("2024-01-09", "2024-01-10")],
    )
    .await;
    let run = read_one(
        &server,
        &windowed(2, None),
        "daily",
        "incremental",
        Some(json!({"day": "2024-01-07"})),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.last_state("daily"), Some(json!({"day": "2024-01-10"})));

    let server = MockServer::start().await;
    expect_windows(&server, &[("2024-01-08", "2024-01-10")]).await;
    let run = read_one(
        &server,
        &windowed(5, Some("2024-01-08")),
        "daily",
        "incremental",
        Some(json!({"day": "2024-01-07"})),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
}

#[tokio::test]
async fn a_cursor_at_the_end_reads_nothing_and_keeps_its_state() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/daily"))
        .respond_with(ok(json!({"data": []})))
        .expect(0)
        .mount(&server)
        .await;
    let run = read_one(
        &server,
        &windowed(0, None),
        "daily",
        "incremental",
        Some(json!({"day": "2024-01-10"})),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.states("daily"), vec![json!({"day": "2024-01-10"})]);
    assert_eq!(run.statuses("daily"), vec!["STARTED", "COMPLETE"]);
}

#[tokio::test]
async fn full_refresh_of_an_incremental_stream_ignores_the_state() {
    let server = MockServer::start().await;
    expect_windows(
        &server,
        &[
            ("2024-01-01", "2024-01-04"),
            ("2024-01-05", "2024-01-08"),
            ("2024-01-09", "2024-01-10"),
        ],
    )
    .await;
    let run = read_one(
        &server,
        &windowed(0, None),
        "daily",
        "full_refresh",
        Some(json!({"day": "2024-01-09"})),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("daily").len(), 3);
}

// ---- partition routers and per-partition state ----

/// `accounts` (a parent read once) feeding two child streams, and a list router stream.
fn routed(workers: usize) -> DeclaredSource {
    DeclaredSource::new(|_c, ctx| {
        let r = requester(ctx)?;
        let accounts = DeclarativeStream::new(
            "accounts",
            json!({}),
            SimpleRetriever::new(&r, |_s: &Slice| HttpRequest::get("accounts")).records_at("items"),
        )
        .into_arc();
        let child = |name: &'static str| {
            DeclarativeStream::new(
                name,
                json!({}),
                SimpleRetriever::new(&r, move |s: &Slice| {
                    HttpRequest::get(format!(
                        "accounts/{}/{name}",
                        s.get_str("account_id").unwrap_or_default()
                    ))
                    .query(
                        "start",
                        s.start()
                            .map(|t| t.format("%F").to_string())
                            .unwrap_or_default(),
                    )
                })
                .records_at("rows")
                .total_at("total"),
            )
            .router(PartitionRouter::substream(
                accounts.clone(),
                "id",
                "account_id",
            ))
            .incremental(
                Incremental::new("day", day(), d("2024-01-08"), d("2024-01-11"))
                    .step(Duration::days(1), Duration::days(1))
                    .per_partition(true),
            )
            .into_arc()
        };
        let by_status = DeclarativeStream::new(
            "by_status",
            json!({}),
            SimpleRetriever::new(&r, |s: &Slice| {
                HttpRequest::get("campaigns")
                    .query("status", s.get_str("status").unwrap_or_default())
                    .query("archived", s.get_str("archived").unwrap_or_default())
            })
            .records_at("data"),
        )
        .router(PartitionRouter::Cartesian(vec![
            PartitionRouter::list("status", [json!("ACTIVE"), json!("PAUSED")]),
            PartitionRouter::list("archived", [json!(false), json!(true)]),
        ]))
        .incremental(
            Incremental::new("updated", day(), d("2024-01-01"), d("2024-01-10"))
                .per_partition(false),
        )
        .into_arc();
        let (stats, spend) = (child("stats"), child("spend"));
        Ok(vec![accounts, stats, spend, by_status])
    })
    .workers(workers)
}

async fn mount_accounts(server: &MockServer) {
    Mock::given(path("/v1/accounts"))
        .respond_with(ok(
            json!({"items": [{"id": "a1"}, {"id": null}, {"id": "a2"}, {"id": "a1"}]}),
        ))
        .expect(1)
        .mount(server)
        .await;
}

async fn mount_child(server: &MockServer, name: &str, account: &str, total: i64) {
    for start in ["2024-01-08", "2024-01-09", "2024-01-10"] {
        Mock::given(path(format!("/v1/accounts/{account}/{name}")))
            .and(query_param("start", start))
            .respond_with(ok(
                json!({"rows": [{"day": start, "account": account}], "total": total}),
            ))
            .expect(1)
            .mount(server)
            .await;
    }
}

#[tokio::test]
async fn substream_partitions_come_from_the_parent_read_once_for_all_children() {
    let server = MockServer::start().await;
    mount_accounts(&server).await;
    for name in ["stats", "spend"] {
        mount_child(&server, name, "a1", 3).await;
        mount_child(&server, name, "a2", 4).await;
    }
    let run = read(
        &routed(1),
        env(VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("stats", "incremental"), ("spend", "incremental")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("stats").len(), 6);
    assert_eq!(run.records("spend").len(), 6);
    // Byte for byte, in the CDK's shape (one worker: partitions finish in order).
    let expected = r#"{"use_global_cursor":false,"states":[{"partition":{"account_id":"a1","parent_slice":{}},"cursor":{"day":"2024-01-10"}},{"partition":{"account_id":"a2","parent_slice":{}},"cursor":{"day":"2024-01-10"}}],"state":{"day":"2024-01-10"},"lookback_window":0,"parent_state":{}}"#;
    for stream in ["stats", "spend"] {
        let last = run.last_state(stream).expect("a final state");
        assert_eq!(serde_json::to_string(&last).unwrap(), expected, "{stream}");
        assert_eq!(run.statuses(stream), vec!["STARTED", "RUNNING", "COMPLETE"]);
    }
    // ESTIMATE traces add up the totals each partition's first page announced, per window.
    let estimates = run.estimates("stats");
    assert_eq!(estimates.last(), Some(&(3 * 3 + 4 * 3)), "{estimates:?}");
    assert!(estimates.windows(2).all(|w| w[0] < w[1]), "{estimates:?}");
}

#[tokio::test]
async fn a_per_partition_state_resumes_each_partition_and_falls_back_to_global_minus_lookback() {
    let server = MockServer::start().await;
    mount_accounts(&server).await;
    // a1 resumes at its own cursor; a2 is not in the state: global (01-10) minus 86400 s.
    Mock::given(path("/v1/accounts/a1/stats"))
        .and(query_param("start", "2024-01-10"))
        .respond_with(ok(json!({"rows": []})))
        .expect(1)
        .mount(&server)
        .await;
    for start in ["2024-01-09", "2024-01-10"] {
        Mock::given(path("/v1/accounts/a2/stats"))
            .and(query_param("start", start))
            .respond_with(ok(json!({"rows": []})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let state = json!({"use_global_cursor": false, "states": [
        {"partition": {"parent_slice": {}, "account_id": "a1"}, "cursor": {"day": "2024-01-10"}}
    ], "state": {"day": "2024-01-10"}, "lookback_window": 86400, "parent_state": {}});
    let run = read_one(&server, &routed(1), "stats", "incremental", Some(state)).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let last = run.last_state("stats").expect("a final state");
    assert_eq!(
        last["states"],
        json!([
            {"partition": {"account_id": "a1", "parent_slice": {}}, "cursor": {"day": "2024-01-10"}},
            {"partition": {"account_id": "a2", "parent_slice": {}}, "cursor": {"day": "2024-01-09"}}
        ])
    );
    // No record this time: the global cursor stays where it was.
    assert_eq!(last["state"], json!({"day": "2024-01-10"}));
}

/// A server whose accounts come in the order c3, a1, b2 and whose `stats` answers for each
/// account after the given delay (milliseconds), so partitions finish in a chosen order.
async fn server_with_delays(delays: [(&str, u64); 3]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/v1/accounts"))
        .respond_with(ok(
            json!({"items": [{"id": "c3"}, {"id": "a1"}, {"id": "b2"}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    for (account, delay) in delays {
        Mock::given(path(format!("/v1/accounts/{account}/stats")))
            .respond_with(
                ok(json!({"rows": [{"day": "2024-01-09", "account": account}]}))
                    .set_delay(std::time::Duration::from_millis(delay)),
            )
            .mount(&server)
            .await;
    }
    server
}

fn partition_order(state: &Value) -> Vec<String> {
    state["states"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            e["partition"]["account_id"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn the_state_lists_partitions_in_router_order_whatever_order_they_finish_in() {
    // First c3 finishes last, then first: the final states must not differ.
    let mut finals = Vec::new();
    for delays in [
        [("c3", 240), ("a1", 120), ("b2", 0)],
        [("c3", 0), ("a1", 120), ("b2", 240)],
    ] {
        let server = server_with_delays(delays).await;
        let run = read_one(&server, &routed(3), "stats", "incremental", None).await;
        assert_eq!(run.code, 0, "{}", run.raw);
        let last = run.last_state("stats").expect("a final state");
        assert_eq!(partition_order(&last), ["c3", "a1", "b2"], "{last}");
        // Every intermediate state keeps that order too (listing finished partitions only).
        for state in run.states("stats") {
            let order = partition_order(&state);
            let expected: Vec<&str> = ["c3", "a1", "b2"]
                .into_iter()
                .filter(|p| order.iter().any(|o| o == p))
                .collect();
            assert_eq!(order, expected, "{state}");
        }
        finals.push(serde_json::to_string(&last).unwrap_or_default());
    }
    assert_eq!(finals[0], finals[1]);

    // With a saved state, its partitions keep their saved places (one this sync does not see
    // included) and new partitions follow in router order.
    let server = server_with_delays([("c3", 0), ("a1", 120), ("b2", 240)]).await;
    let saved = json!({"use_global_cursor": false, "states": [
        {"partition": {"account_id": "z9", "parent_slice": {}}, "cursor": {"day": "2024-01-08"}},
        {"partition": {"account_id": "b2", "parent_slice": {}}, "cursor": {"day": "2024-01-08"}}
    ], "state": {"day": "2024-01-08"}, "lookback_window": 0, "parent_state": {}});
    let run = read_one(&server, &routed(3), "stats", "incremental", Some(saved)).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let last = run.last_state("stats").expect("a final state");
    assert_eq!(partition_order(&last), ["z9", "b2", "c3", "a1"], "{last}");
}

#[tokio::test]
async fn a_legacy_flat_state_becomes_every_partitions_starting_point() {
    let server = MockServer::start().await;
    mount_accounts(&server).await;
    for account in ["a1", "a2"] {
        Mock::given(path(format!("/v1/accounts/{account}/stats")))
            .and(query_param("start", "2024-01-10"))
            .respond_with(ok(json!({"rows": [{"day": "2024-01-10"}]})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let run = read_one(
        &server,
        &routed(2),
        "stats",
        "incremental",
        Some(json!({"day": "2024-01-10"})),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let last = run.last_state("stats").expect("a final state");
    assert_eq!(last["use_global_cursor"], false);
    assert_eq!(last["states"].as_array().map(Vec::len), Some(2));
    assert_eq!(last["state"], json!({"day": "2024-01-10"}));
}

#[tokio::test]
async fn cartesian_partitions_merge_keys_and_key_the_state_without_parent_state() {
    let server = MockServer::start().await;
    for status in ["ACTIVE", "PAUSED"] {
        for archived in ["false", "true"] {
            Mock::given(path("/v1/campaigns"))
                .and(query_param("status", status))
                .and(query_param("archived", archived))
                .respond_with(ok(
                    json!({"data": [{"updated": "2024-01-03", "status": status}]}),
                ))
                .expect(1)
                .mount(&server)
                .await;
        }
    }
    let run = read_one(&server, &routed(1), "by_status", "incremental", None).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let last = run.last_state("by_status").expect("a final state");
    let expected = r#"{"use_global_cursor":false,"states":[{"partition":{"archived":false,"status":"ACTIVE"},"cursor":{"updated":"2024-01-03"}},{"partition":{"archived":true,"status":"ACTIVE"},"cursor":{"updated":"2024-01-03"}},{"partition":{"archived":false,"status":"PAUSED"},"cursor":{"updated":"2024-01-03"}},{"partition":{"archived":true,"status":"PAUSED"},"cursor":{"updated":"2024-01-03"}}],"state":{"updated":"2024-01-03"},"lookback_window":0}"#;
    assert_eq!(serde_json::to_string(&last).unwrap(), expected);
}

// ---- concurrency ----

/// A retriever that holds each partition at a barrier and records how many are in flight.
struct Gate {
    barrier: Arc<tokio::sync::Barrier>,
    in_flight: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
}

impl Retriever for Gate {
    fn read<'a>(
        &'a self,
        _ctx: &'a StreamContext,
        slice: &'a Slice,
    ) -> futures::stream::BoxStream<'a, Result<Value>> {
        let id = slice.partition.get("p").cloned().unwrap_or(Value::Null);
        let fut = async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max.fetch_max(now, Ordering::SeqCst);
            self.barrier.wait().await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            (0..3)
                .map(|n| Ok(json!({"p": id, "n": n})))
                .collect::<Vec<_>>()
        };
        Box::pin(futures::stream::once(fut).flat_map(futures::stream::iter))
    }
}

#[tokio::test]
async fn partitions_run_in_parallel_up_to_the_worker_count_and_keep_their_order() {
    let max = Arc::new(AtomicUsize::new(0));
    let m = max.clone();
    let source = DeclaredSource::new(move |_c, _ctx| {
        let gate = Gate {
            barrier: Arc::new(tokio::sync::Barrier::new(2)),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max: m.clone(),
        };
        Ok(vec![DeclarativeStream::new("gated", json!({}), gate)
            .router(PartitionRouter::list("p", (0..6).map(|i| json!(i))))
            .into_arc()])
    })
    .workers(2);
    let server = MockServer::start().await;
    // Two at a time must meet at the barrier: with fewer workers this would never finish.
    let run = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        read_one(&server, &source, "gated", "full_refresh", None),
    )
    .await
    .expect("partitions ran two at a time");
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        max.load(Ordering::SeqCst),
        2,
        "never more than the worker count"
    );
    let records = run.records("gated");
    assert_eq!(records.len(), 18);
    for p in 0..6 {
        let ns: Vec<Value> = records
            .iter()
            .filter(|r| r["p"] == json!(p))
            .map(|r| r["n"].clone())
            .collect();
        assert_eq!(
            ns,
            vec![json!(0), json!(1), json!(2)],
            "partition {p} in order"
        );
    }
}

// ---- checkpointing ----

fn checkpointed(workers: usize) -> DeclaredSource {
    DeclaredSource::new(|_c, ctx| {
        let r = requester(ctx)?;
        let daily = DeclarativeStream::new(
            "daily",
            json!({}),
            SimpleRetriever::new(&r, |s: &Slice| {
                HttpRequest::get(format!(
                    "daily/{}",
                    s.get_str("account").unwrap_or_default()
                ))
                .query(
                    "start",
                    s.start()
                        .map(|t| t.format("%F").to_string())
                        .unwrap_or_default(),
                )
            })
            .records_at("data"),
        )
        .router(PartitionRouter::list("account", [json!("a1"), json!("a2")]))
        .incremental(
            Incremental::new("day", day(), d("2024-01-08"), d("2024-01-11"))
                .step(Duration::days(1), Duration::days(1))
                .per_partition(false),
        )
        .into_arc();
        let items = DeclarativeStream::new(
            "items",
            json!({}),
            SimpleRetriever::new(&r, |_s: &Slice| HttpRequest::get("items")).records_at("data"),
        )
        .into_arc();
        Ok(vec![daily, items])
    })
    .workers(workers)
}

async fn mount_daily(server: &MockServer, account: &str, failing_start: Option<&str>) {
    for start in ["2024-01-08", "2024-01-09", "2024-01-10"] {
        let answer = if Some(start) == failing_start {
            ResponseTemplate::new(404).set_body_string("no such report")
        } else {
            ok(
                json!({"data": [{"day": start, "account": account, "n": 1}, {"day": start, "account": account, "n": 2}]}),
            )
        };
        Mock::given(path(format!("/v1/daily/{account}")))
            .and(query_param("start", start))
            .respond_with(answer)
            .expect(1)
            .mount(server)
            .await;
    }
}

/// Every STATE covers only records already written: for each partition cursor in a STATE,
/// every record of that partition up to the cursor came before it.
fn assert_states_never_ahead_of_records(run: &Run, stream: &str) {
    let all: Vec<Value> = run.records(stream);
    let mut seen: Vec<Value> = Vec::new();
    for m in &run.messages {
        if m["type"] == "RECORD" && m["record"]["stream"] == stream {
            seen.push(m["record"]["data"].clone());
        }
        if m["type"] == "STATE" && m["state"]["stream"]["stream_descriptor"]["name"] == stream {
            let st = &m["state"]["stream"]["stream_state"];
            for entry in st["states"].as_array().cloned().unwrap_or_default() {
                let account = &entry["partition"]["account"];
                let cursor = entry["cursor"]["day"].as_str().unwrap_or_default();
                let due = all.iter().filter(|r| {
                    &r["account"] == account && r["day"].as_str().unwrap_or_default() <= cursor
                });
                for r in due {
                    assert!(seen.contains(r), "state {st} is ahead of record {r}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_state_follows_every_window_and_never_runs_ahead_of_its_records() {
    let server = MockServer::start().await;
    mount_daily(&server, "a1", None).await;
    mount_daily(&server, "a2", None).await;
    let run = read_one(&server, &checkpointed(2), "daily", "incremental", None).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("daily").len(), 12);
    // Six windows, six intermediate states, one final.
    assert_eq!(run.states("daily").len(), 7);
    assert_states_never_ahead_of_records(&run, "daily");
    // Record counts in the states add up to the records written.
    let counted: f64 = run
        .messages
        .iter()
        .filter(|m| m["type"] == "STATE")
        .filter_map(|m| m["state"]["sourceStats"]["recordCount"].as_f64())
        .sum();
    assert_eq!(counted, 12.0);
}

#[tokio::test]
async fn a_failing_stream_keeps_its_last_safe_state_and_the_others_complete() {
    let server = MockServer::start().await;
    mount_daily(&server, "a1", None).await;
    mount_daily(&server, "a2", Some("2024-01-10")).await;
    Mock::given(path("/v1/items"))
        .respond_with(ok(json!({"data": []})))
        .expect(1)
        .mount(&server)
        .await;
    let run = read(
        &checkpointed(1),
        env(VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("daily", "incremental"), ("items", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 1);
    assert_eq!(
        run.statuses("daily"),
        vec!["STARTED", "RUNNING", "INCOMPLETE"]
    );
    assert_eq!(run.statuses("items"), vec!["STARTED", "COMPLETE"]);
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["stream_descriptor"]["name"], "daily");
    assert_eq!(errors[0]["failure_type"], "system_error");
    assert!(errors[0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("HTTP 404"));
    // a1 finished; a2 stopped after its second window. No global state yet: the sync did
    // not finish, so resuming starts every partition at its own cursor.
    assert_eq!(
        run.last_state("daily"),
        Some(json!({"use_global_cursor": false, "states": [
            {"partition": {"account": "a1"}, "cursor": {"day": "2024-01-10"}},
            {"partition": {"account": "a2"}, "cursor": {"day": "2024-01-09"}}
        ], "lookback_window": 0}))
    );
    assert_states_never_ahead_of_records(&run, "daily");
    assert!(run
        .logs()
        .iter()
        .any(|l| l.contains("did not sync successfully: daily")));
}

#[tokio::test]
async fn with_many_partitions_intermediate_states_are_throttled() {
    // 120 partitions of one window each: a STATE every ceil(120 / 50) = 3 windows, then the
    // final one; each lists every partition seen so far.
    let server = MockServer::start().await;
    Mock::given(path("/v1/many"))
        .respond_with(ok(json!({"data": [{"day": "2024-01-05"}]})))
        .expect(120)
        .mount(&server)
        .await;
    let many = |partitions: usize| {
        DeclaredSource::new(move |_c, ctx| {
            let r = requester(ctx)?;
            Ok(vec![DeclarativeStream::new(
                "many",
                json!({}),
                SimpleRetriever::new(&r, |s: &Slice| {
                    HttpRequest::get("many").query("p", s.get_str("p").unwrap_or_default())
                })
                .records_at("data"),
            )
            .router(PartitionRouter::list(
                "p",
                (0..partitions).map(|i| json!(i)),
            ))
            .incremental(
                Incremental::new("day", day(), d("2024-01-01"), d("2024-01-10"))
                    .per_partition(false),
            )
            .into_arc()])
        })
    };
    let run = read_one(&server, &many(120), "many", "incremental", None).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("many").len(), 120);
    let states = run.states("many");
    assert_eq!(states.len(), 40 + 1);
    assert_eq!(
        states
            .last()
            .and_then(|s| s["states"].as_array().map(Vec::len)),
        Some(120)
    );

    // Up to 50 partitions, every window still gets its STATE.
    let server = MockServer::start().await;
    Mock::given(path("/v1/many"))
        .respond_with(ok(json!({"data": [{"day": "2024-01-05"}]})))
        .expect(50)
        .mount(&server)
        .await;
    let run = read_one(&server, &many(50), "many", "incremental", None).await;
    assert_eq!(run.states("many").len(), 50 + 1);
}

/// One record per partition, without HTTP (for runs with thousands of partitions).
struct OneRecord;

impl Retriever for OneRecord {
    fn read<'a>(
        &'a self,
        _ctx: &'a StreamContext,
        slice: &'a Slice,
    ) -> futures::stream::BoxStream<'a, Result<Value>> {
        let p = slice.partition.get("p").cloned().unwrap_or(Value::Null);
        Box::pin(futures::stream::iter([Ok(
            json!({"p": p, "day": "2024-01-05"}),
        )]))
    }
}

#[tokio::test]
async fn above_ten_thousand_partitions_the_state_switches_to_the_global_cursor() {
    let source = DeclaredSource::new(|_c, _ctx| {
        Ok(vec![DeclarativeStream::new("huge", json!({}), OneRecord)
            .router(PartitionRouter::list("p", (0..10_001).map(|i| json!(i))))
            .incremental(
                Incremental::new("day", day(), d("2024-01-01"), d("2024-01-10"))
                    .per_partition(false),
            )
            .into_arc()])
    })
    .workers(8);
    let server = MockServer::start().await;
    let run = read_one(&server, &source, "huge", "incremental", None).await;
    assert_eq!(run.code, 0, "{}", run.raw.len());
    assert_eq!(run.records("huge").len(), 10_001);
    // Throttled: a STATE every ceil(10001 / 50) = 201 windows, plus the final one.
    let states = run.states("huge");
    assert_eq!(states.len(), 10_001 / 201 + 1);
    assert_eq!(
        states.last(),
        Some(
            &json!({"use_global_cursor": true, "state": {"day": "2024-01-05"}, "lookback_window": 0})
        )
    );
}

// ---- checkpoints inside a long window of sorted records ----

fn sorted_single_window(every: usize) -> DeclaredSource {
    DeclaredSource::new(move |_c, ctx| {
        let r = requester(ctx)?;
        let inc = Incremental::new(
            "day",
            day(),
            d("2024-01-01"),
            start_of_day(ctx.env.clock.now()),
        )
        .sorted(every);
        Ok(vec![DeclarativeStream::new(
            "events",
            json!({}),
            SimpleRetriever::new(&r, |_s: &Slice| HttpRequest::get("events")).records_at("data"),
        )
        .incremental(inc)
        .into_arc()])
    })
}

async fn mount_events(server: &MockServer, days: &[&str]) {
    let data: Vec<Value> = days
        .iter()
        .enumerate()
        .map(|(i, d)| json!({"id": i, "day": d}))
        .collect();
    Mock::given(path("/v1/events"))
        .respond_with(ok(json!({ "data": data })))
        .expect(1)
        .mount(server)
        .await;
}

/// Each STATE of a flat-state stream covers every record at or before its cursor.
fn assert_flat_states_cover_their_records(run: &Run, stream: &str) {
    let mut seen: Vec<Value> = Vec::new();
    let all = run.records(stream);
    for m in &run.messages {
        if m["type"] == "RECORD" {
            seen.push(m["record"]["data"].clone());
        }
        if m["type"] == "STATE" {
            let cursor = m["state"]["stream"]["stream_state"]["day"]
                .as_str()
                .unwrap_or_default();
            for r in all
                .iter()
                .filter(|r| r["day"].as_str().unwrap_or_default() <= cursor)
            {
                assert!(seen.contains(r), "state at {cursor} is ahead of record {r}");
            }
        }
    }
}

#[tokio::test]
async fn sorted_records_are_checkpointed_inside_a_long_window_below_the_current_maximum() {
    let server = MockServer::start().await;
    mount_events(
        &server,
        &[
            "2024-01-02",
            "2024-01-02",
            "2024-01-03",
            "2024-01-04",
            "2024-01-04",
        ],
    )
    .await;
    let run = read_one(
        &server,
        &sorted_single_window(2),
        "events",
        "incremental",
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("events").len(), 5);
    // Mid-window checkpoints stop one value short of the maximum seen (ties may follow);
    // the window's end writes the maximum.
    assert_eq!(
        run.states("events"),
        vec![
            json!({"day": "2024-01-02"}),
            json!({"day": "2024-01-03"}),
            json!({"day": "2024-01-04"}),
            json!({"day": "2024-01-04"}),
        ]
    );
    assert_flat_states_cover_their_records(&run, "events");
}

#[tokio::test]
async fn records_out_of_order_turn_mid_window_checkpoints_off() {
    let server = MockServer::start().await;
    mount_events(
        &server,
        &[
            "2024-01-05",
            "2024-01-03",
            "2024-01-06",
            "2024-01-07",
            "2024-01-08",
        ],
    )
    .await;
    let run = read_one(
        &server,
        &sorted_single_window(1),
        "events",
        "incremental",
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    // The second record is older than the first: no checkpoint inside this window, only the
    // window's end and the final state.
    assert_eq!(
        run.states("events"),
        vec![json!({"day": "2024-01-08"}), json!({"day": "2024-01-08"})]
    );
    assert_flat_states_cover_their_records(&run, "events");
}
