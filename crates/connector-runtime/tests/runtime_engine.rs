//! The runtime's mechanisms end to end, through a small test-only source.

use connector_runtime::prelude::*;
use connector_testkit::{catalog, env, read, state_for, with_config};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VAR: &str = "TEST_SOURCE_BASE_URL";
const NOW: &str = "2024-01-10T12:00:00Z";

struct TestSource;

fn spec_json() -> Value {
    json!({"documentationUrl": "https://example.invalid/docs", "connectionSpecification": {
    "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": ["api_key"],
    "additionalProperties": true,
    "properties": {
        "api_key": {"type": "string", "airbyte_secret": true},
        "start_date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    }}})
}

impl Source for TestSource {
    type Config = Value;

    fn name(&self) -> &str {
        "source-test"
    }
    fn version(&self) -> &str {
        "0.0.1"
    }
    fn spec(&self) -> Result<connector_runtime::protocol::ConnectorSpecification> {
        spec_from_json(&spec_json().to_string())
    }
    fn check_stream(&self) -> &str {
        "items"
    }
    fn streams(&self, config: &Value, ctx: &SourceContext) -> Result<Vec<Arc<DeclarativeStream>>> {
        let key = config["api_key"].as_str().unwrap_or_default().to_string();
        let requester = Requester::new("https://api.example.invalid/v1/", VAR, &ctx.env)?
            .with_auth(Arc::new(HeaderAuth::new("X-Key", key)));
        let now = ctx.env.clock.now();
        let start = config["start_date"]
            .as_str()
            .and_then(parse_date)
            .unwrap_or(now - Duration::days(30));
        let items = DeclarativeStream::new(
            "items",
            json!({"type": "object", "properties": {"id": {"type": "integer"}}}),
            SimpleRetriever::new(&requester, |_s: &Slice| HttpRequest::get("items"))
                .paginator(Paginator::page_number(2))
                .records_at("data.list")
                .total_at("data.total"),
        )
        .primary_key(&["id"])
        .normalize()
        .into_arc();
        let accounts = DeclarativeStream::new(
            "accounts",
            json!({"type": "object"}),
            SimpleRetriever::new(&requester, |_s: &Slice| HttpRequest::get("accounts"))
                .paginator(Paginator::body_token("bookmark", "bookmark"))
                .records_at("items"),
        )
        .into_arc();
        let day = CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d"));
        let reports = DeclarativeStream::new(
            "reports",
            json!({"type": "object"}),
            SimpleRetriever::new(&requester, |s: &Slice| {
                HttpRequest::get(format!(
                    "accounts/{}/report",
                    s.get_str("id").unwrap_or_default()
                ))
                .query(
                    "start",
                    s.start()
                        .map(|d| d.format("%F").to_string())
                        .unwrap_or_default(),
                )
                .query(
                    "end",
                    s.end()
                        .map(|d| d.format("%F").to_string())
                        .unwrap_or_default(),
                )
            })
            .records_at("rows"),
        )
        .router(PartitionRouter::substream(accounts, "id", "id"))
        .incremental(
            Incremental::new("day", day, start, start_of_day(now))
                .per_partition(true)
                .step(Duration::days(5), Duration::days(1)),
        )
        .into_arc();
        Ok(vec![items, reports])
    }
}

fn config() -> Value {
    json!({"api_key": "key-abcdef", "start_date": "2024-01-01"})
}

#[tokio::test]
async fn page_number_pagination_reads_until_a_short_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/items"))
        .and(query_param("page_size", "2"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"list": [{"id": "1"}, {"id": 2}], "total": 3}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/items"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"list": [{"id": 3}], "total": 3}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let run = read(
        &TestSource,
        env(VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("items", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("items"),
        vec![json!({"id": 1}), json!({"id": 2}), json!({"id": 3})]
    );
    assert_eq!(
        run.statuses("items"),
        vec!["STARTED", "RUNNING", "COMPLETE"]
    );
    assert_eq!(run.estimates("items"), vec![3]);
    assert_eq!(
        run.last_state("items").unwrap(),
        json!({"__ab_no_cursor_state_message": true})
    );
}

async fn mount_accounts(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v1/accounts"))
        .and(query_param_is_missing("bookmark"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": [{"id": "a1"}], "bookmark": "BM"})),
        )
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/accounts"))
        .and(query_param("bookmark", "BM"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": [{"id": "a2"}], "bookmark": null})),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn substream_partitions_windows_and_per_partition_state_round_trip() {
    let server = MockServer::start().await;
    mount_accounts(&server).await;
    for (acct, rows) in [
        ("a1", json!([{"day": "2024-01-03"}, {"day": "2024-01-07"}])),
        ("a2", json!([])),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/v1/accounts/{acct}/report")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"rows": rows})))
            .expect(2)
            .mount(&server)
            .await;
    }
    let run = read(
        &TestSource,
        env(VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("reports", "incremental")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    // Two windows (01-01..01-05, 01-06..01-10) per account; a1 returns its two rows each time.
    assert_eq!(run.records("reports").len(), 4);
    let state = run.last_state("reports").unwrap();
    assert_eq!(
        state,
        json!({"use_global_cursor": false, "states": [
            {"partition": {"id": "a1", "parent_slice": {}}, "cursor": {"day": "2024-01-07"}},
            {"partition": {"id": "a2", "parent_slice": {}}, "cursor": {"day": "2024-01-01"}}
        ], "state": {"day": "2024-01-07"}, "lookback_window": 0, "parent_state": {}})
        .as_object()
        .map(|o| {
            // Partition order follows completion order; compare as sets.
            let mut o = o.clone();
            let mut got = state["states"].as_array().unwrap().clone();
            got.sort_by_key(|e| e["partition"]["id"].as_str().unwrap_or("").to_string());
            o.insert("states".into(), Value::Array(got));
            Value::Object(o)
        })
        .unwrap()
    );

    // Resume: a1 starts at its cursor (one window 01-07..01-10), a2 at its own.
    let server2 = MockServer::start().await;
    mount_accounts(&server2).await;
    Mock::given(method("GET"))
        .and(path("/v1/accounts/a1/report"))
        .and(query_param("start", "2024-01-07"))
        .and(query_param("end", "2024-01-10"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"rows": [{"day": "2024-01-09"}]})),
        )
        .expect(1)
        .mount(&server2)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/accounts/a2/report"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"rows": []})))
        .expect(2)
        .mount(&server2)
        .await;
    let run2 = read(
        &TestSource,
        env(VAR, &server2.uri(), NOW),
        &config(),
        &catalog(&[("reports", "incremental")]),
        Some(&state_for("reports", state)),
    )
    .await;
    assert_eq!(run2.code, 0, "{}", run2.raw);
    let s2 = run2.last_state("reports").unwrap();
    assert_eq!(s2["state"], json!({"day": "2024-01-09"}));
}

#[tokio::test]
async fn retries_honour_retry_after_then_a_failing_stream_is_incomplete() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/items"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .expect(6)
        .mount(&server)
        .await;
    let run = read(
        &TestSource,
        env(VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("items", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 1);
    assert_eq!(run.statuses("items"), vec!["STARTED", "INCOMPLETE"]);
    let errors = run.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["failure_type"], "transient_error");
    assert!(
        run.logs().iter().any(|l| l.contains("retrying in 7.0s")),
        "{:?}",
        run.logs()
    );
}

#[tokio::test]
async fn bad_inputs_are_config_errors_and_secrets_never_leak() {
    let server = MockServer::start().await;
    let run = with_config(
        &TestSource,
        env(VAR, &server.uri(), NOW),
        "discover",
        &json!({"start_date": 5}),
    )
    .await;
    assert_eq!(run.code, 1);
    assert_eq!(run.errors()[0]["failure_type"], "config_error");
    // `check` answers the same config with a FAILED status and exit 0, as the CDK does.
    let run = with_config(
        &TestSource,
        env(VAR, &server.uri(), NOW),
        "check",
        &json!({"start_date": 5}),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert!(run.errors().is_empty(), "{}", run.raw);
    assert_eq!(run.connection_status()["status"], "FAILED");

    let run = read(
        &TestSource,
        env(VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("nope", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 1);
    assert!(run.errors()[0]["message"]
        .as_str()
        .unwrap()
        .contains("nope"));

    Mock::given(method("GET"))
        .and(path("/v1/items"))
        .respond_with(ResponseTemplate::new(401).set_body_string("bad key key-abcdef"))
        .mount(&server)
        .await;
    let run = with_config(
        &TestSource,
        env(VAR, &server.uri(), NOW),
        "check",
        &config(),
    )
    .await;
    assert_eq!(run.code, 0);
    assert_eq!(run.connection_status()["status"], "FAILED");
    assert!(!run.raw.contains("key-abcdef"), "{}", run.raw);
}
