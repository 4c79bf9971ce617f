//! The TikTok Marketing source against a mock API: catalog, check, every stream family, state
//! and error codes, compared with the official connector's facts kept in
//! `fixtures/tiktok-marketing/` (`streams.json`, `spec.json`).

use connector_runtime::prelude::*;

use connector_runtime::source::DynSource;
use integration_tests::{catalog, env, read, run, state_for, with_config};
use source_tiktok_marketing::{SourceTiktokMarketing, BASE_URL_VAR};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const NOW: &str = "2024-06-10T12:00:00Z";
const API: &str = "/open_api/v1.3/";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tiktok-marketing");

fn fixture_streams() -> Vec<Value> {
    let text =
        std::fs::read_to_string(format!("{FIXTURES}/streams.json")).expect("streams fixture");
    let v: Value = serde_json::from_str(&text).expect("streams fixture is JSON");
    v["streams"].as_array().cloned().expect("streams list")
}

fn fixture_stream(name: &str) -> Value {
    fixture_streams()
        .into_iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no fixture for {name}"))
}

/// The crate's own schema file of a stream: discover must offer each stream the file of its
/// own name, unchanged.
fn crate_schema(name: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/../crates/source-tiktok-marketing/resources/schemas/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("schema file");
    serde_json::from_str(&text).expect("schema file is JSON")
}

/// Python's `json.dumps` of a list of strings.
fn py_list(items: &[Value]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|i| format!("\"{}\"", i.as_str().unwrap()))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Matches a request whose query holds exactly these pairs (any order).
struct Query(Vec<(String, String)>);

impl Match for Query {
    fn matches(&self, r: &Request) -> bool {
        let mut got: Vec<(String, String)> = r
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        got.sort();
        let mut want = self.0.clone();
        want.sort();
        got == want
    }
}

fn q(pairs: &[(&str, &str)]) -> Query {
    Query(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn ok(data: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"code": 0, "message": "OK", "request_id": "r1", "data": data}))
}

fn code(code: i64, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"code": code, "message": message, "request_id": "r1", "data": {}}))
}

async fn mount(
    server: &MockServer,
    endpoint: &str,
    query: Query,
    response: ResponseTemplate,
    times: u64,
) {
    Mock::given(method("GET"))
        .and(path(format!("{API}{endpoint}")))
        .and(header("Access-Token", "token-abcdef"))
        .and(query)
        .respond_with(response)
        .expect(times)
        .mount(server)
        .await;
}

fn oauth(advertiser_id: Option<&str>) -> Value {
    let mut c = json!({"auth_type": "oauth2.0", "app_id": "app-1234", "secret": "secret-abcd", "access_token": "token-abcdef"});
    if let Some(id) = advertiser_id {
        c["advertiser_id"] = json!(id);
    }
    c
}

fn config(advertiser_id: Option<&str>, extra: Value) -> Value {
    let mut c = json!({"credentials": oauth(advertiser_id), "start_date": "2024-06-01"});
    if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    c
}

fn tiktok() -> SourceTiktokMarketing {
    SourceTiktokMarketing
}

fn test_env(server: &MockServer) -> RunEnv {
    env(BASE_URL_VAR, &server.uri(), NOW)
}

/// The query of a report request: the stream's official parameters (from the reference)
/// plus `extra`.
fn report_query(stream: &str, advertiser: &str, extra: &[(&str, &str)]) -> Query {
    let f = fixture_stream(stream);
    let r = &f["http"]["report"];
    let mut pairs: Vec<(String, String)> = vec![
        ("service_type".into(), "AUCTION".into()),
        (
            "report_type".into(),
            r["report_type"].as_str().unwrap().into(),
        ),
        (
            "data_level".into(),
            r["data_level"].as_str().unwrap().into(),
        ),
        (
            "dimensions".into(),
            py_list(r["dimensions"].as_array().unwrap()),
        ),
        ("metrics".into(), py_list(r["metrics"].as_array().unwrap())),
        ("page_size".into(), "1000".into()),
        ("advertiser_id".into(), advertiser.into()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Query(pairs)
}

fn rows(list: Value) -> ResponseTemplate {
    let n = list.as_array().map_or(0, Vec::len);
    ok(
        json!({"list": list, "page_info": {"page": 1, "page_size": 1000, "total_number": n, "total_page": 1}}),
    )
}

/// States compare as sets of partitions: partitions finish in any order.
fn sorted_state(mut s: Value) -> Value {
    if let Some(states) = s.get_mut("states").and_then(Value::as_array_mut) {
        states.sort_by_key(|e| e["partition"].to_string());
    }
    s
}

// ---------------------------------------------------------------------------------------------
// spec, discover, config shapes

#[tokio::test]
async fn spec_is_the_official_specification_with_advanced_auth() {
    let server = MockServer::start().await;
    let run = run(&tiktok(), test_env(&server), &["spec"]).await;
    assert_eq!(run.code, 0);
    let spec = run.spec();
    let official: Value =
        serde_json::from_str(include_str!("../fixtures/tiktok-marketing/spec.json")).unwrap();
    assert_eq!(spec["connectionSpecification"], official);
    assert_eq!(spec["advanced_auth"]["auth_flow_type"], "oauth2.0");
    assert_eq!(
        spec["advanced_auth"]["predicate_key"],
        json!(["credentials", "auth_type"])
    );
}

#[tokio::test]
async fn discover_offers_the_44_official_streams_with_their_schemas_keys_and_cursors() {
    let server = MockServer::start().await;
    let run = with_config(
        &tiktok(),
        test_env(&server),
        "discover",
        &config(None, json!({})),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let catalog = run.catalog();
    let streams = catalog["streams"].as_array().unwrap();
    let official = fixture_streams();
    assert_eq!(streams.len(), 44);
    let names: Vec<&str> = streams
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let official_names: Vec<&str> = official
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, official_names, "manifest order");
    for (s, o) in streams.iter().zip(&official) {
        let name = o["name"].as_str().unwrap();
        assert_eq!(s["json_schema"], crate_schema(name), "{name} schema");
        assert_eq!(
            s["supported_sync_modes"], o["sync_modes"],
            "{name} sync modes"
        );
        let pk = o["primary_key"]
            .as_array()
            .map(|k| k.iter().map(|f| json!([f])).collect::<Vec<_>>());
        assert_eq!(
            s.get("source_defined_primary_key").cloned(),
            pk.map(Value::from),
            "{name} pk"
        );
        match o["cursor_field"].as_str() {
            Some(c) => {
                assert_eq!(s["default_cursor_field"], json!([c]), "{name} cursor");
                assert_eq!(s["source_defined_cursor"], json!(true), "{name}");
            }
            None => assert!(
                s.get("default_cursor_field").is_none(),
                "{name} has no cursor"
            ),
        }
    }
}

#[tokio::test]
async fn sandbox_configs_get_the_28_streams_that_are_not_production_only() {
    let server = MockServer::start().await;
    let cfg = json!({"credentials": {"auth_type": "sandbox_access_token", "advertiser_id": "111", "access_token": "token-abcdef"}});
    let run = with_config(&tiktok(), test_env(&server), "discover", &cfg).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let expected: Vec<String> = fixture_streams()
        .iter()
        .filter(|s| s["production_only"] == false)
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(expected.len(), 28);
    assert_eq!(run.stream_names(), expected);
}

#[tokio::test]
async fn legacy_configs_without_credentials_choose_streams_by_environment_secret() {
    let server = MockServer::start().await;
    let with_secret = json!({"access_token": "token-abcdef", "environment": {"app_id": "app-1234", "secret": "secret-abcd"}});
    let run = with_config(&tiktok(), test_env(&server), "discover", &with_secret).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.stream_names().len(), 44);
    let without = json!({"access_token": "token-abcdef", "environment": {"advertiser_id": "111"}});
    let run = with_config(&tiktok(), test_env(&server), "discover", &without).await;
    assert_eq!(run.stream_names().len(), 28);
}

#[tokio::test]
async fn legacy_config_reads_with_top_level_token_and_environment_credentials() {
    let server = MockServer::start().await;
    mount(
        &server,
        "oauth2/advertiser/get/",
        q(&[("secret", "secret-abcd"), ("app_id", "app-1234")]),
        ok(json!({"list": [{"advertiser_id": "111", "advertiser_name": "A"}]})),
        1,
    )
    .await;
    mount(&server, "dmp/custom_audience/list/", q(&[("page_size", "100"), ("advertiser_id", "111")]),
        ok(json!({"list": [{"audience_id": "77", "name": "aud"}], "page_info": {"total_number": 1}})), 1).await;
    let cfg = json!({"access_token": "token-abcdef", "environment": {"app_id": "app-1234", "secret": "secret-abcd"}});
    let run = read(
        &tiktok(),
        test_env(&server),
        &cfg,
        &catalog(&[("audiences", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("audiences"),
        vec![json!({"audience_id": "77", "name": "aud"})]
    );
    assert_eq!(run.estimates("audiences"), vec![1]);
    assert!(!run.raw.contains("secret-abcd") && !run.raw.contains("token-abcdef"));
}

#[tokio::test]
async fn string_report_granularity_is_migrated_to_thirty_days_keeping_the_legacy_value() {
    let server = MockServer::start().await;
    let cfg = config(Some("111"), json!({"report_granularity": "DAY"}));
    let run = with_config(&tiktok(), test_env(&server), "discover", &cfg).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let controls = run.controls();
    assert_eq!(controls.len(), 1);
    assert_eq!(controls[0]["report_granularity"], json!(30));
    assert_eq!(controls[0]["legacy_report_granularity"], json!("DAY"));
}

/// The streams and workers `config` declares, as the CLI prepares them.
fn prepare(config: &Value) -> connector_runtime::source::Prepared {
    let ctx = SourceContext {
        env: RunEnv::default().with_var("AIRBYTE_TEST_NOW", NOW),
        output: connector_runtime::output::Output::new(
            Box::new(std::io::sink()),
            connector_runtime::secrets::Secrets::new(),
        ),
    };
    DynSource::prepare(&tiktok(), config, &ctx).expect("the streams of a valid config")
}

#[test]
fn concurrency_level_sets_the_workers_within_the_official_bounds() {
    let workers = |extra: Value| prepare(&config(Some("111"), extra)).workers;
    assert_eq!(workers(json!({})), 4);
    assert_eq!(workers(json!({"concurrency_level": 7})), 7);
    assert_eq!(workers(json!({"concurrency_level": 50})), 20);
}

/// Asserted on each report stream's first request: its dimensions, metrics, report type, data
/// level and `include_deleted` filter field are the official ones, and production-only reports
/// are left out of a sandbox catalog.
#[test]
fn every_report_requests_the_official_dimensions_and_metrics() {
    let official = fixture_streams();
    let streams = prepare(&config(Some("111"), json!({"include_deleted": true}))).streams;
    let sandbox = prepare(&json!({"credentials": {"auth_type": "sandbox_access_token",
        "advertiser_id": "111", "access_token": "token-abcdef"}}))
    .streams;
    let first_request = |s: &DeclarativeStream| {
        let slice = Slice {
            partition: partition([("advertiser_id", json!("111")), ("parent_slice", json!({}))]),
            window: s.incremental.as_ref().map(|_| Window {
                start: DatetimeFormat::Rfc3339
                    .parse_str("2024-06-01T00:00:00Z")
                    .unwrap(),
                end: DatetimeFormat::Rfc3339
                    .parse_str("2024-06-01T23:59:59Z")
                    .unwrap(),
            }),
        };
        // Streams partitioned otherwise (advertiser batches, pixels) cannot render this slice.
        let r = s.retriever.first_request(&slice)?.ok()?;
        let query: std::collections::HashMap<String, String> = r.query.into_iter().collect();
        Some((r.url, query))
    };
    let declared = streams
        .iter()
        .filter(|s| first_request(s).is_some_and(|(url, _)| url == "report/integrated/get/"))
        .count();
    let official_reports: Vec<&Value> = official
        .iter()
        .filter(|s| s["http"]["report"].is_object())
        .collect();
    assert_eq!(declared, official_reports.len());
    for o in official_reports {
        let name = o["name"].as_str().unwrap();
        let stream = streams
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} not declared"));
        let (_, query) = first_request(stream).expect("a report request");
        let rep = &o["http"]["report"];
        let list = |key: &str| py_list(rep[key].as_array().unwrap());
        assert_eq!(query["metrics"], list("metrics"), "{name} metrics");
        assert_eq!(query["dimensions"], list("dimensions"), "{name} dimensions");
        assert_eq!(query["report_type"], rep["report_type"], "{name}");
        assert_eq!(query["data_level"], rep["data_level"], "{name}");
        let filter_field = query.get("filtering").map(|f| {
            let f: Value = serde_json::from_str(f).unwrap();
            f[0]["field_name"].clone()
        });
        assert_eq!(
            json!(filter_field),
            rep["include_deleted_filter_field"],
            "{name}"
        );
        let production_only = !sandbox.iter().any(|s| s.name == name);
        assert_eq!(production_only, o["production_only"] == true, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// check

#[tokio::test]
async fn check_succeeds_when_advertiser_info_answers_with_a_configured_advertiser() {
    let server = MockServer::start().await;
    mount(
        &server,
        "advertiser/info/",
        q(&[("page_size", "100"), ("advertiser_ids", r#"["111"]"#)]),
        ok(json!({"list": []})),
        1,
    )
    .await;
    let run = with_config(
        &tiktok(),
        test_env(&server),
        "check",
        &config(Some("111"), json!({})),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.connection_status()["status"], "SUCCEEDED");
}

#[tokio::test]
async fn check_fails_when_the_token_sees_no_advertiser() {
    let server = MockServer::start().await;
    mount(
        &server,
        "oauth2/advertiser/get/",
        q(&[("secret", "secret-abcd"), ("app_id", "app-1234")]),
        ok(json!({"list": []})),
        1,
    )
    .await;
    let run = with_config(
        &tiktok(),
        test_env(&server),
        "check",
        &config(None, json!({})),
    )
    .await;
    assert_eq!(run.connection_status()["status"], "FAILED");
    assert_eq!(
        run.connection_status()["message"],
        "Stream advertisers is not available: Cannot attempt to connect to stream advertisers - no stream slices were found"
    );
}

#[tokio::test]
async fn check_fails_with_the_api_message_on_a_revoked_token() {
    let server = MockServer::start().await;
    mount(
        &server,
        "oauth2/advertiser/get/",
        q(&[("secret", "secret-abcd"), ("app_id", "app-1234")]),
        code(40105, "Access token is incorrect or has been revoked."),
        1,
    )
    .await;
    let run = with_config(
        &tiktok(),
        test_env(&server),
        "check",
        &config(None, json!({})),
    )
    .await;
    assert_eq!(run.connection_status()["status"], "FAILED");
    assert_eq!(
        run.connection_status()["message"],
        "Stream advertisers is not available: Access token is incorrect or has been revoked."
    );
    assert!(
        !run.raw.contains("token-abcdef") && !run.raw.contains("secret-abcd"),
        "secrets leaked: {}",
        run.raw
    );
}

// ---------------------------------------------------------------------------------------------
// advertiser listing and batching

#[tokio::test]
async fn advertisers_are_requested_in_batches_of_one_hundred_ids() {
    let server = MockServer::start().await;
    let ids: Vec<String> = (1..=150).map(|i| format!("{}", 1000 + i)).collect();
    let listing: Vec<Value> = ids
        .iter()
        .map(|i| json!({"advertiser_id": i, "advertiser_name": "n"}))
        .collect();
    // Read once as a stream and once as the parent of `advertisers`.
    mount(
        &server,
        "oauth2/advertiser/get/",
        q(&[("secret", "secret-abcd"), ("app_id", "app-1234")]),
        ok(json!({"list": listing})),
        2,
    )
    .await;
    let batch = |part: &[String]| py_list(&part.iter().map(|s| json!(s)).collect::<Vec<_>>());
    mount(&server, "advertiser/info/", Query(vec![("page_size".into(), "100".into()), ("advertiser_ids".into(), batch(&ids[..100]))]),
        ok(json!({"list": [{"advertiser_id": "1001", "name": "first"}], "page_info": {"total_number": 1}})), 1).await;
    mount(&server, "advertiser/info/", Query(vec![("page_size".into(), "100".into()), ("advertiser_ids".into(), batch(&ids[100..]))]),
        ok(json!({"list": [{"advertiser_id": "1150", "name": "last"}], "page_info": {"total_number": 1}})), 1).await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(None, json!({})),
        &catalog(&[
            ("advertisers", "full_refresh"),
            ("advertiser_ids", "full_refresh"),
        ]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let mut got = run.records("advertisers");
    got.sort_by_key(|r| r["advertiser_id"].as_i64());
    assert_eq!(
        got,
        vec![
            json!({"advertiser_id": 1001, "name": "first"}),
            json!({"advertiser_id": 1150, "name": "last"})
        ]
    );
    let listed = run.records("advertiser_ids");
    assert_eq!(listed.len(), 150);
    assert_eq!(
        listed[0],
        json!({"advertiser_id": "1001", "advertiser_name": "n"}),
        "advertiser_id stays a string"
    );
}

// ---------------------------------------------------------------------------------------------
// reports

#[tokio::test]
async fn daily_reports_cut_windows_by_report_granularity_and_write_per_advertiser_state() {
    let server = MockServer::start().await;
    mount(&server, "oauth2/advertiser/get/", q(&[("secret", "secret-abcd"), ("app_id", "app-1234")]),
        ok(json!({"list": [{"advertiser_id": "111", "advertiser_name": "a"}, {"advertiser_id": "222", "advertiser_name": "b"}]})), 1).await;
    // start 06-01, today 06-10 → end 06-11; step 7 → 06-01..06-07, 06-08..06-11.
    mount(&server, "report/integrated/get/", report_query("ads_reports_daily", "111", &[("start_date", "2024-06-01"), ("end_date", "2024-06-07")]),
        rows(json!([{"dimensions": {"ad_id": "9", "stat_time_day": "2024-06-03 00:00:00"},
                     "metrics": {"spend": 20, "clicks": "-", "video_play_actions": "5173", "tt_app_id": "5"}}])), 1).await;
    mount(
        &server,
        "report/integrated/get/",
        report_query(
            "ads_reports_daily",
            "111",
            &[("start_date", "2024-06-08"), ("end_date", "2024-06-11")],
        ),
        rows(json!([])),
        1,
    )
    .await;
    for (s, e) in [("2024-06-01", "2024-06-07"), ("2024-06-08", "2024-06-11")] {
        mount(
            &server,
            "report/integrated/get/",
            report_query(
                "ads_reports_daily",
                "222",
                &[("start_date", s), ("end_date", e)],
            ),
            rows(json!([])),
            1,
        )
        .await;
    }
    let cfg = config(
        None,
        json!({"report_granularity": 7, "attribution_window": 3}),
    );
    let run = read(
        &tiktok(),
        test_env(&server),
        &cfg,
        &catalog(&[("ads_reports_daily", "incremental")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("ads_reports_daily"),
        vec![
            json!({"dimensions": {"ad_id": 9, "stat_time_day": "2024-06-03 00:00:00"},
                    "metrics": {"spend": "20", "clicks": null, "video_play_actions": 5173.0, "tt_app_id": 5},
                    "ad_id": 9, "stat_time_day": "2024-06-03 00:00:00"})
        ]
    );
    assert_eq!(run.estimates("ads_reports_daily").last(), Some(&1));
    let state = sorted_state(run.last_state("ads_reports_daily").unwrap());
    assert_eq!(
        state,
        json!({
            "use_global_cursor": false,
            "states": [
                {"partition": {"advertiser_id": "111", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-06-03"}},
                {"partition": {"advertiser_id": "222", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-06-01"}}
            ],
            "state": {"stat_time_day": "2024-06-03"},
            "lookback_window": 0
        })
    );
}

#[tokio::test]
async fn daily_reports_resume_from_an_official_state_minus_the_attribution_window() {
    let server = MockServer::start().await;
    mount(&server, "report/integrated/get/", report_query("ads_reports_daily", "111", &[("start_date", "2024-06-02"), ("end_date", "2024-06-11")]),
        rows(json!([{"dimensions": {"ad_id": "9", "stat_time_day": "2024-06-09 00:00:00"}, "metrics": {}}])), 1).await;
    let incoming = json!({
        "use_global_cursor": false,
        "states": [{"partition": {"advertiser_id": "111", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-06-05"}}],
        "state": {"stat_time_day": "2024-06-05"},
        "lookback_window": 1
    });
    let cfg = config(Some("111"), json!({"attribution_window": 3}));
    let run = read(
        &tiktok(),
        test_env(&server),
        &cfg,
        &catalog(&[("ads_reports_daily", "incremental")]),
        Some(&state_for("ads_reports_daily", incoming)),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let state = run.last_state("ads_reports_daily").unwrap();
    assert_eq!(
        state["states"],
        json!([{"partition": {"advertiser_id": "111", "parent_slice": {}}, "cursor": {"stat_time_day": "2024-06-09"}}])
    );
    assert_eq!(state["state"], json!({"stat_time_day": "2024-06-09"}));
    assert!(state.get("parent_state").is_none());
}

#[tokio::test]
async fn legacy_flat_report_state_is_the_starting_point_of_every_advertiser() {
    let server = MockServer::start().await;
    mount(
        &server,
        "report/integrated/get/",
        report_query(
            "campaigns_reports_daily",
            "111",
            &[("start_date", "2024-06-08"), ("end_date", "2024-06-11")],
        ),
        rows(json!([])),
        1,
    )
    .await;
    let legacy = json!({"stat_time_day": "2024-06-08 18:00:00", "dimensions": {"stat_time_day": "2024-06-08 18:00:00"}});
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("campaigns_reports_daily", "incremental")]),
        Some(&state_for("campaigns_reports_daily", legacy)),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let state = run.last_state("campaigns_reports_daily").unwrap();
    assert_eq!(state["use_global_cursor"], json!(false));
    assert_eq!(
        state["states"][0]["partition"],
        json!({"advertiser_id": "111", "parent_slice": {}})
    );
    assert_eq!(state["state"], json!({"stat_time_day": "2024-06-08"}));
}

#[tokio::test]
async fn a_new_advertiser_starts_from_the_global_cursor_minus_the_lookback_window() {
    let server = MockServer::start().await;
    // Global 06-06, lookback_window 1 s → 06-05 (day format), no attribution window.
    mount(
        &server,
        "report/integrated/get/",
        report_query(
            "ad_groups_reports_daily",
            "333",
            &[("start_date", "2024-06-05"), ("end_date", "2024-06-11")],
        ),
        rows(json!([])),
        1,
    )
    .await;
    let incoming = json!({"use_global_cursor": false, "states": [], "state": {"stat_time_day": "2024-06-06"}, "lookback_window": 1});
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("333"), json!({})),
        &catalog(&[("ad_groups_reports_daily", "incremental")]),
        Some(&state_for("ad_groups_reports_daily", incoming)),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
}

#[tokio::test]
async fn daily_reports_make_no_request_when_start_equals_end_date() {
    let server = MockServer::start().await;
    let cfg = config(
        Some("111"),
        json!({"start_date": "2024-06-05", "end_date": "2024-06-05"}),
    );
    let run = read(
        &tiktok(),
        test_env(&server),
        &cfg,
        &catalog(&[("ads_reports_daily", "incremental")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn include_deleted_filters_reports_with_the_official_key_orders() {
    let server = MockServer::start().await;
    let cfg = config(
        Some("111"),
        json!({"include_deleted": true, "start_date": "2024-06-09"}),
    );
    let basic =
        r#"[{"field_name": "ad_status", "filter_type": "IN", "filter_value": "[\"STATUS_ALL\"]"}]"#;
    let audience = r#"[{"filter_value": "[\"STATUS_ALL\"]", "field_name": "adgroup_status", "filter_type": "IN"}]"#;
    mount(
        &server,
        "report/integrated/get/",
        report_query(
            "ads_reports_daily",
            "111",
            &[
                ("start_date", "2024-06-09"),
                ("end_date", "2024-06-11"),
                ("filtering", basic),
            ],
        ),
        rows(json!([])),
        1,
    )
    .await;
    mount(&server, "report/integrated/get/", report_query("ad_group_audience_reports_daily", "111",
        &[("start_date", "2024-06-09"), ("end_date", "2024-06-11"), ("filtering", audience)]),
        rows(json!([{"dimensions": {"adgroup_id": "5", "stat_time_day": "2024-06-09 00:00:00", "gender": "MALE", "age": "AGE_25_34"},
                     "metrics": {"tt_app_id": 5, "spend": "1.5"}}])), 1).await;
    // Advertiser-level reports never send the filter.
    mount(
        &server,
        "report/integrated/get/",
        report_query(
            "advertisers_reports_daily",
            "111",
            &[("start_date", "2024-06-09"), ("end_date", "2024-06-11")],
        ),
        rows(json!([])),
        1,
    )
    .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &cfg,
        &catalog(&[
            ("ads_reports_daily", "full_refresh"),
            ("ad_group_audience_reports_daily", "full_refresh"),
            ("advertisers_reports_daily", "full_refresh"),
        ]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("ad_group_audience_reports_daily"),
        vec![
            json!({"dimensions": {"adgroup_id": 5, "stat_time_day": "2024-06-09 00:00:00", "gender": "MALE", "age": "AGE_25_34"},
                    "metrics": {"tt_app_id": "5", "spend": "1.5"},
                    "adgroup_id": 5, "stat_time_day": "2024-06-09 00:00:00", "gender": "MALE", "age": "AGE_25_34"})
        ]
    );
}

#[tokio::test]
async fn audience_reports_by_country_platform_and_province_copy_their_breakdown() {
    let server = MockServer::start().await;
    let cfg = config(Some("111"), json!({"start_date": "2024-06-09"}));
    let dates = [("start_date", "2024-06-09"), ("end_date", "2024-06-11")];
    mount(&server, "report/integrated/get/", report_query("campaigns_audience_reports_by_country_daily", "111", &dates),
        rows(json!([{"dimensions": {"campaign_id": "3", "stat_time_day": "2024-06-09 00:00:00", "country_code": "US"}, "metrics": {}}])), 1).await;
    mount(&server, "report/integrated/get/", report_query("advertisers_audience_reports_by_platform_daily", "111", &dates),
        rows(json!([{"dimensions": {"advertiser_id": "111", "stat_time_day": "2024-06-09 00:00:00", "platform": "IPHONE"}, "metrics": {}}])), 1).await;
    mount(&server, "report/integrated/get/", report_query("ads_audience_reports_by_province_daily", "111", &dates),
        rows(json!([{"dimensions": {"ad_id": "9", "stat_time_day": "2024-06-10 00:00:00", "province_id": "6252001"}, "metrics": {}}])), 1).await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &cfg,
        &catalog(&[
            ("campaigns_audience_reports_by_country_daily", "incremental"),
            (
                "advertisers_audience_reports_by_platform_daily",
                "incremental",
            ),
            ("ads_audience_reports_by_province_daily", "incremental"),
        ]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let c = &run.records("campaigns_audience_reports_by_country_daily")[0];
    assert_eq!(
        (c["campaign_id"].clone(), c["country_code"].clone()),
        (json!(3), json!("US"))
    );
    let p = &run.records("advertisers_audience_reports_by_platform_daily")[0];
    assert_eq!(
        (p["advertiser_id"].clone(), p["platform"].clone()),
        (json!(111), json!("IPHONE"))
    );
    let v = &run.records("ads_audience_reports_by_province_daily")[0];
    assert_eq!(
        v["province_id"],
        json!("6252001"),
        "the schema declares a string"
    );
    assert_eq!(
        run.last_state("ads_audience_reports_by_province_daily")
            .unwrap()["state"],
        json!({"stat_time_day": "2024-06-10"})
    );
}

#[tokio::test]
async fn hourly_reports_request_whole_days_through_tomorrow() {
    let server = MockServer::start().await;
    for d in ["2024-06-08", "2024-06-09", "2024-06-10", "2024-06-11"] {
        let body = if d == "2024-06-09" {
            rows(
                json!([{"dimensions": {"ad_id": "9", "stat_time_hour": "2024-06-09 05:00:00"}, "metrics": {"spend": "1"}}]),
            )
        } else {
            rows(json!([]))
        };
        mount(
            &server,
            "report/integrated/get/",
            report_query(
                "ads_reports_hourly",
                "111",
                &[("start_date", d), ("end_date", d)],
            ),
            body,
            1,
        )
        .await;
    }
    let cfg = config(Some("111"), json!({"start_date": "2024-06-08"}));
    let run = read(
        &tiktok(),
        test_env(&server),
        &cfg,
        &catalog(&[("ads_reports_hourly", "incremental")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("ads_reports_hourly")[0]["stat_time_hour"],
        json!("2024-06-09 05:00:00")
    );
    assert_eq!(
        run.last_state("ads_reports_hourly").unwrap(),
        json!({
            "use_global_cursor": false,
            "states": [{"partition": {"advertiser_id": "111", "parent_slice": {}}, "cursor": {"stat_time_hour": "2024-06-09 05:00:00"}}],
            "state": {"stat_time_hour": "2024-06-09 05:00:00"},
            "lookback_window": 0
        })
    );
}

#[tokio::test]
async fn hourly_reports_resume_attribution_days_before_the_cursor_up_to_the_end_date() {
    let server = MockServer::start().await;
    for d in [
        "2024-03-07",
        "2024-03-08",
        "2024-03-09",
        "2024-03-10",
        "2024-03-11",
        "2024-03-12",
        "2024-03-13",
        "2024-03-14",
        "2024-03-15",
    ] {
        mount(
            &server,
            "report/integrated/get/",
            report_query(
                "advertisers_reports_hourly",
                "111",
                &[("start_date", d), ("end_date", d)],
            ),
            rows(json!([])),
            1,
        )
        .await;
    }
    let cfg = config(
        Some("111"),
        json!({"start_date": "2024-01-01", "end_date": "2024-03-15", "attribution_window": 3}),
    );
    let incoming = json!({"use_global_cursor": false, "states": [
        {"partition": {"advertiser_id": "111", "parent_slice": {}}, "cursor": {"stat_time_hour": "2024-03-10 05:00:00"}}],
        "state": {"stat_time_hour": "2024-03-10 05:00:00"}, "lookback_window": 1});
    let run = read(
        &tiktok(),
        test_env(&server),
        &cfg,
        &catalog(&[("advertisers_reports_hourly", "incremental")]),
        Some(&state_for("advertisers_reports_hourly", incoming)),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.last_state("advertisers_reports_hourly").unwrap()["states"][0]["cursor"],
        json!({"stat_time_hour": "2024-03-10 05:00:00"}),
        "an empty sync keeps the cursor"
    );
}

#[tokio::test]
async fn lifetime_reports_ask_for_the_lifetime_without_state() {
    let server = MockServer::start().await;
    mount(
        &server,
        "report/integrated/get/",
        report_query("ads_reports_lifetime", "111", &[("query_lifetime", "true")]),
        rows(json!([{"dimensions": {"ad_id": "9"}, "metrics": {"spend": "3"}}])),
        1,
    )
    .await;
    // Audience lifetime: start = max(start_date, today − 364 d), end = today + 1 d.
    mount(&server, "report/integrated/get/", report_query("advertisers_audience_reports_lifetime", "111",
        &[("lifetime", "true"), ("start_date", "2023-06-12"), ("end_date", "2024-06-11")]),
        rows(json!([{"dimensions": {"advertiser_id": "111", "gender": "FEMALE", "age": "AGE_18_24"}, "metrics": {}}])), 1).await;
    let cfg = config(Some("111"), json!({"start_date": "2020-01-01"}));
    let run = read(
        &tiktok(),
        test_env(&server),
        &cfg,
        &catalog(&[
            ("ads_reports_lifetime", "full_refresh"),
            ("advertisers_audience_reports_lifetime", "full_refresh"),
        ]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("ads_reports_lifetime"),
        vec![json!({"dimensions": {"ad_id": 9}, "metrics": {"spend": "3"}, "ad_id": 9})]
    );
    assert_eq!(
        run.records("advertisers_audience_reports_lifetime")[0]["gender"],
        json!("FEMALE")
    );
}

#[tokio::test]
async fn report_pages_continue_until_a_short_page() {
    let server = MockServer::start().await;
    let full: Vec<Value> = (0..1000)
        .map(|i| json!({"dimensions": {"campaign_id": format!("{i}")}, "metrics": {}}))
        .collect();
    mount(
        &server,
        "report/integrated/get/",
        report_query(
            "campaigns_reports_lifetime",
            "111",
            &[("query_lifetime", "true")],
        ),
        ok(json!({"list": full, "page_info": {"total_number": 1001}})),
        1,
    )
    .await;
    mount(&server, "report/integrated/get/", report_query("campaigns_reports_lifetime", "111", &[("query_lifetime", "true"), ("page", "2")]),
        ok(json!({"list": [{"dimensions": {"campaign_id": "1000"}, "metrics": {}}], "page_info": {"total_number": 1001}})), 1).await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("campaigns_reports_lifetime", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("campaigns_reports_lifetime").len(), 1001);
    assert_eq!(run.estimates("campaigns_reports_lifetime"), vec![1001]);
}

// ---------------------------------------------------------------------------------------------
// entity streams

#[tokio::test]
async fn campaigns_are_read_per_buying_type_and_filtered_client_side() {
    let server = MockServer::start().await;
    for t in ["AUCTION", "RESERVATION_TOP_VIEW", "RESERVATION_RF"] {
        let filtering =
            format!(r#"{{"secondary_status": "CAMPAIGN_STATUS_ALL", "buying_types": ["{t}"]}}"#);
        let list = if t == "AUCTION" {
            json!([{"campaign_id": "1", "modify_time": "2024-06-05 10:00:00"}, {"campaign_id": "2", "modify_time": "2024-05-01 00:00:00"}])
        } else {
            json!([])
        };
        mount(
            &server,
            "campaign/get/",
            q(&[
                ("filtering", &filtering),
                ("page_size", "1000"),
                ("advertiser_id", "111"),
            ]),
            ok(json!({"list": list})),
            1,
        )
        .await;
    }
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({"include_deleted": true})),
        &catalog(&[("campaigns", "incremental")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("campaigns"),
        vec![json!({"campaign_id": 1, "modify_time": "2024-06-05 10:00:00"})]
    );
    let partition = |t: &str| json!({"advertiser_id": "111", "buying_type": t, "parent_slice": {}});
    assert_eq!(
        sorted_state(run.last_state("campaigns").unwrap()),
        sorted_state(json!({
            "use_global_cursor": false,
            "states": [
                {"partition": partition("AUCTION"), "cursor": {"modify_time": "2024-06-05 10:00:00Z"}},
                {"partition": partition("RESERVATION_TOP_VIEW"), "cursor": {"modify_time": "2024-06-01 00:00:00Z"}},
                {"partition": partition("RESERVATION_RF"), "cursor": {"modify_time": "2024-06-01 00:00:00Z"}}
            ],
            "state": {"modify_time": "2024-06-05 10:00:00Z"},
            "lookback_window": 0
        }))
    );
}

#[tokio::test]
async fn ads_send_modified_after_from_the_state_and_drop_ads_without_modify_time() {
    let server = MockServer::start().await;
    mount(
        &server,
        "ad/get/",
        q(&[
            ("filtering", r#"{"modified_after": "2024-06-02 03:04:05"}"#),
            ("page_size", "1000"),
            ("advertiser_id", "111"),
        ]),
        ok(json!({"list": [
            {"ad_id": "5", "modify_time": "2024-06-03 00:00:00"},
            {"ad_id": "6", "modify_time": null},
            {"ad_id": "7", "modify_time": "2024-06-01 00:00:00"}
        ]})),
        1,
    )
    .await;
    let incoming = json!({"use_global_cursor": false, "states": [
        {"partition": {"advertiser_id": "111", "parent_slice": {}}, "cursor": {"modify_time": "2024-06-02T03:04:05Z"}}],
        "state": {"modify_time": "2024-06-02T03:04:05Z"}, "lookback_window": 5});
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("ads", "incremental")]),
        Some(&state_for("ads", incoming)),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("ads"),
        vec![json!({"ad_id": 5, "modify_time": "2024-06-03 00:00:00"})]
    );
    assert_eq!(
        run.last_state("ads").unwrap()["states"][0]["cursor"],
        json!({"modify_time": "2024-06-03 00:00:00Z"})
    );
}

#[tokio::test]
async fn records_leave_out_top_level_null_fields_and_keep_nested_ones() {
    let server = MockServer::start().await;
    mount_advertiser_info_with(
        &server,
        json!({"list": [{"advertiser_id": "111", "name": "A", "brand": null, "license_url": null}]}),
    )
    .await;
    mount(
        &server,
        "ad/get/",
        q(&[
            ("filtering", r#"{"modified_after": "2024-06-01 00:00:00"}"#),
            ("page_size", "1000"),
            ("advertiser_id", "111"),
        ]),
        ok(json!({"list": [
            {"ad_id": "5", "modify_time": "2024-06-03 00:00:00", "smart_plus_ad_id": null,
             "deep_bid_type": null, "image_ids": [null], "tracking": {"pixel_id": null}}
        ]})),
        1,
    )
    .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("advertisers", "full_refresh"), ("ads", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("ads"),
        vec![json!({"ad_id": 5, "modify_time": "2024-06-03 00:00:00",
                     "image_ids": [null], "tracking": {"pixel_id": null}})]
    );
    assert_eq!(
        run.records("advertisers"),
        vec![json!({"advertiser_id": 111, "name": "A"})]
    );
}

async fn mount_advertiser_info_with(server: &MockServer, data: Value) {
    mount(
        server,
        "advertiser/info/",
        q(&[("page_size", "100"), ("advertiser_ids", r#"["111"]"#)]),
        ok(data),
        1,
    )
    .await;
}

#[tokio::test]
async fn ad_groups_accept_a_legacy_flat_state() {
    let server = MockServer::start().await;
    mount(&server, "adgroup/get/", q(&[("page_size", "1000"), ("advertiser_id", "111")]),
        ok(json!({"list": [{"adgroup_id": "8", "modify_time": "2024-06-04 00:00:00"}, {"adgroup_id": "9", "modify_time": "2024-06-02 00:00:00"}]})), 1).await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("ad_groups", "incremental")]),
        Some(&state_for(
            "ad_groups",
            json!({"modify_time": "2024-06-03 09:16:10"}),
        )),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("ad_groups"),
        vec![json!({"adgroup_id": 8, "modify_time": "2024-06-04 00:00:00"})]
    );
    assert_eq!(
        run.last_state("ad_groups").unwrap()["state"],
        json!({"modify_time": "2024-06-04 00:00:00Z"})
    );
}

/// The LOG WARN lines of a run that mention unparseable cursor values.
fn unparseable_warnings(run: &integration_tests::Run) -> Vec<String> {
    run.messages
        .iter()
        .filter(|m| m["type"] == "LOG" && m["log"]["level"] == "WARN")
        .filter_map(|m| m["log"]["message"].as_str())
        .filter(|m| m.contains("could not be parsed"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn unparseable_modify_times_are_emitted_without_moving_the_cursor_incrementally() {
    let server = MockServer::start().await;
    mount(
        &server,
        "adgroup/get/",
        q(&[("page_size", "1000"), ("advertiser_id", "111")]),
        ok(json!({"list": [
            {"adgroup_id": "1", "modify_time": "2024-13-45 25:61:61"},
            {"adgroup_id": "2", "modify_time": "2024-06-04 00:00:00"},
            {"adgroup_id": "3", "modify_time": "2024-06-02 00:00:00"},
            {"adgroup_id": "4", "modify_time": "yesterday"},
            {"adgroup_id": "5", "modify_time": null},
            {"adgroup_id": "6", "modify_time": 1717500000},
            {"adgroup_id": "7"}
        ]})),
        1,
    )
    .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("ad_groups", "incremental")]),
        Some(&state_for(
            "ad_groups",
            json!({"modify_time": "2024-06-03 09:16:10"}),
        )),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    // Unparseable values are data: kept. Older and missing ones are dropped as before.
    let ids: Vec<Value> = run
        .records("ad_groups")
        .iter()
        .map(|r| r["adgroup_id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(1), json!(2), json!(4), json!(6)]);
    // Only the parseable record moves the cursor (to 06-04, not beyond).
    assert_eq!(
        run.last_state("ad_groups").unwrap()["state"],
        json!({"modify_time": "2024-06-04 00:00:00Z"})
    );
    assert_eq!(
        unparseable_warnings(&run),
        vec!["ad_groups: 3 records had a modify_time that could not be parsed; they were emitted without moving the cursor"]
    );
}

#[tokio::test]
async fn unparseable_modify_times_alone_leave_the_cursor_at_the_start_in_full_refresh_too() {
    let server = MockServer::start().await;
    for t in ["AUCTION", "RESERVATION_TOP_VIEW", "RESERVATION_RF"] {
        let filtering = format!(r#"{{"buying_types": ["{t}"]}}"#);
        // Two of the three partitions carry one unparseable value each: one warning, count 2.
        let list = match t {
            "AUCTION" => json!([{"campaign_id": "1", "modify_time": "2024-13-45 25:61:61"}]),
            "RESERVATION_RF" => json!([{"campaign_id": "2", "modify_time": "9999-99-99 99:99:99"},
                {"campaign_id": "3", "modify_time": "2024-05-01 00:00:00"}]),
            _ => json!([]),
        };
        mount(
            &server,
            "campaign/get/",
            q(&[
                ("filtering", &filtering),
                ("page_size", "1000"),
                ("advertiser_id", "111"),
            ]),
            ok(json!({"list": list})),
            2,
        )
        .await;
    }
    for mode in ["full_refresh", "incremental"] {
        let run = read(
            &tiktok(),
            test_env(&server),
            &config(Some("111"), json!({})),
            &catalog(&[("campaigns", mode)]),
            None,
        )
        .await;
        assert_eq!(run.code, 0, "{mode}: {}", run.raw);
        let mut ids: Vec<i64> = run
            .records("campaigns")
            .iter()
            .filter_map(|r| r["campaign_id"].as_i64())
            .collect();
        ids.sort();
        assert_eq!(ids, vec![1, 2], "{mode}");
        assert_eq!(
            unparseable_warnings(&run),
            vec!["campaigns: 2 records had a modify_time that could not be parsed; they were emitted without moving the cursor"],
            "{mode}"
        );
        if mode == "incremental" {
            let state = run.last_state("campaigns").unwrap();
            // No record was placed, so there is no global cursor yet.
            assert!(state.get("state").is_none(), "{state}");
            for p in state["states"].as_array().unwrap() {
                assert_eq!(
                    p["cursor"],
                    json!({"modify_time": "2024-06-01 00:00:00Z"}),
                    "{state}"
                );
            }
        }
    }
}

#[tokio::test]
async fn creative_assets_use_their_own_paths_and_record_fields() {
    let server = MockServer::start().await;
    let page = |items: Value| ok(json!({"list": items, "page_info": {"total_number": 1}}));
    mount(
        &server,
        "file/image/ad/search/",
        q(&[("page_size", "100"), ("advertiser_id", "111")]),
        page(json!([{"image_id": "i1", "modify_time": "2024-06-02 00:00:00", "width": "10"}])),
        1,
    )
    .await;
    mount(
        &server,
        "file/video/ad/search/",
        q(&[("page_size", "100"), ("advertiser_id", "111")]),
        page(json!([{"video_id": "v1", "modify_time": "2024-05-02 00:00:00"}])),
        1,
    )
    .await;
    mount(
        &server,
        "file/music/get/",
        q(&[("page_size", "100"), ("advertiser_id", "111")]),
        ok(json!({"musics": [{"music_id": "m1"}]})),
        1,
    )
    .await;
    mount(
        &server,
        "creative/portfolio/list/",
        q(&[("page_size", "100"), ("advertiser_id", "111")]),
        ok(json!({"creative_portfolios": [{"creative_portfolio_id": "p1"}]})),
        1,
    )
    .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[
            ("creative_assets_images", "incremental"),
            ("creative_assets_videos", "incremental"),
            ("creative_assets_music", "full_refresh"),
            ("creative_assets_portfolios", "full_refresh"),
        ]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("creative_assets_images"),
        vec![json!({"image_id": "i1", "modify_time": "2024-06-02 00:00:00", "width": 10})]
    );
    assert!(
        run.records("creative_assets_videos").is_empty(),
        "older than start_date"
    );
    assert_eq!(run.records("creative_assets_music").len(), 1);
    assert_eq!(run.records("creative_assets_portfolios").len(), 1);
    assert_eq!(
        run.last_state("creative_assets_videos").unwrap()["states"][0]["cursor"],
        json!({"modify_time": "2024-06-01 00:00:00Z"})
    );
}

// ---------------------------------------------------------------------------------------------
// children of advertisers: spark ads and pixels

async fn mount_advertiser_info(server: &MockServer, times: u64) {
    mount(
        server,
        "advertiser/info/",
        q(&[("page_size", "100"), ("advertiser_ids", r#"["111"]"#)]),
        ok(json!({"list": [{"advertiser_id": "111", "name": "A"}]})),
        times,
    )
    .await;
}

#[tokio::test]
async fn spark_ads_get_their_post_id_from_the_item_info() {
    let server = MockServer::start().await;
    mount_advertiser_info(&server, 1).await;
    mount(
        &server,
        "tt_video/list/",
        q(&[("page_size", "50"), ("advertiser_id", "111")]),
        ok(json!({"list": [{"item_info": {"item_id": "7001"}}]})),
        1,
    )
    .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("spark_ads", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("spark_ads"),
        vec![json!({"item_info": {"item_id": "7001"}, "spark_ads_post_id": "7001"})]
    );
}

#[tokio::test]
async fn pixels_and_their_event_statistics_skip_pixels_without_permission() {
    let server = MockServer::start().await;
    mount_advertiser_info(&server, 1).await;
    mount(&server, "pixel/list/", q(&[("page_size", "20"), ("advertiser_id", "111")]),
        // Read once as a stream and once as the parent of the statistics.
        ok(json!({"pixels": [{"pixel_id": "p1", "events": [{"currency": true}]}, {"pixel_id": "p2"}]})), 2).await;
    let range = r#"{"start_date": "2024-05-12", "end_date": "2024-06-11"}"#;
    mount(
        &server,
        "pixel/event/stats/",
        q(&[
            ("advertiser_id", "111"),
            ("pixel_ids", r#"["p1"]"#),
            ("date_range", range),
        ]),
        ok(json!({"list": [{"pixel_id": "p1", "statistics": []}]})),
        1,
    )
    .await;
    mount(
        &server,
        "pixel/event/stats/",
        q(&[
            ("advertiser_id", "111"),
            ("pixel_ids", r#"["p2"]"#),
            ("date_range", range),
        ]),
        code(40001, "Adv has no permission to operate on the Pixel"),
        1,
    )
    .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[
            ("pixels", "full_refresh"),
            ("pixel_events_statistics", "full_refresh"),
        ]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("pixels")[0]["events"],
        json!([{"currency": "True"}])
    );
    assert_eq!(
        run.records("pixel_events_statistics"),
        vec![json!({"pixel_id": "p1", "statistics": []})]
    );
}

#[tokio::test]
async fn pixel_instant_page_events_ask_every_objective_and_goal_and_skip_unsupported_pairs() {
    let server = MockServer::start().await;
    mount_advertiser_info(&server, 1).await;
    mount(
        &server,
        "pixel/instant_page/event/",
        q(&[
            ("objective_type", "TRAFFIC"),
            ("optimization_goal", "CLICK"),
            ("advertiser_id", "111"),
        ]),
        ok(json!({"list": [{"business_type": "LEAD", "instant_page_events": {}}]})),
        1,
    )
    .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}pixel/instant_page/event/")))
        .respond_with(code(
            40002 + 4,
            "One or more value of the params is not acceptable: optimization_goal",
        ))
        .expect(219)
        .mount(&server)
        .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("pixel_instant_page_events", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("pixel_instant_page_events"),
        vec![json!({"business_type": "LEAD", "instant_page_events": {}})]
    );
}

// ---------------------------------------------------------------------------------------------
// errors

#[tokio::test]
async fn rate_limit_code_40100_is_retried_after_one_quota_window() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}dmp/custom_audience/list/")))
        .respond_with(code(40100, "Too many requests"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    mount(
        &server,
        "dmp/custom_audience/list/",
        q(&[("page_size", "100"), ("advertiser_id", "111")]),
        ok(json!({"list": [{"audience_id": "1"}]})),
        1,
    )
    .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("audiences", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("audiences").len(), 1);
    let logs = run.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains("rate limit exceeded") && l.contains("retrying in 10.0s")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn transient_codes_exhaust_after_nine_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}dmp/custom_audience/list/")))
        .respond_with(code(51004, "busy"))
        .expect(10)
        .mount(&server)
        .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("audiences", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 1);
    let errors = run.errors();
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("Exhausted available request attempts"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn code_40002_is_ignored_and_the_sync_goes_on() {
    let server = MockServer::start().await;
    mount(
        &server,
        "file/music/get/",
        q(&[("page_size", "100"), ("advertiser_id", "111")]),
        code(40002, "no access"),
        1,
    )
    .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("creative_assets_music", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert!(run.records("creative_assets_music").is_empty());
    assert_eq!(
        run.statuses("creative_assets_music"),
        vec!["STARTED", "COMPLETE"]
    );
}

#[tokio::test]
async fn code_40067_on_daily_reports_is_a_config_error_naming_the_date_step() {
    let server = MockServer::start().await;
    mount(
        &server,
        "report/integrated/get/",
        report_query(
            "ads_reports_daily",
            "111",
            &[("start_date", "2024-06-01"), ("end_date", "2024-06-11")],
        ),
        code(40067, "query too large"),
        1,
    )
    .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("ads_reports_daily", "incremental")]),
        None,
    )
    .await;
    assert_eq!(run.code, 1);
    let e = &run.errors()[0];
    assert_eq!(e["failure_type"], "config_error");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("Daily Reports Date Step"));
}

#[tokio::test]
async fn unknown_codes_fail_the_stream_with_the_api_message_while_others_continue() {
    let server = MockServer::start().await;
    mount(
        &server,
        "file/music/get/",
        q(&[("page_size", "100"), ("advertiser_id", "111")]),
        code(40006, "Invalid parameter: page_size"),
        1,
    )
    .await;
    mount(
        &server,
        "creative/portfolio/list/",
        q(&[("page_size", "100"), ("advertiser_id", "111")]),
        ok(json!({"creative_portfolios": [{"creative_portfolio_id": "p"}]})),
        1,
    )
    .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[
            ("creative_assets_music", "full_refresh"),
            ("creative_assets_portfolios", "full_refresh"),
        ]),
        None,
    )
    .await;
    assert_eq!(run.code, 1);
    let errors = run.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["message"], "Invalid parameter: page_size");
    assert_eq!(errors[0]["failure_type"], "system_error");
    assert_eq!(run.records("creative_assets_portfolios").len(), 1);
}

#[tokio::test]
async fn non_json_503_and_429_answers_are_retried_unlike_the_official_connector() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}dmp/custom_audience/list/")))
        .respond_with(
            ResponseTemplate::new(503).set_body_string("<html>upstream unavailable</html>"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}dmp/custom_audience/list/")))
        .respond_with(ResponseTemplate::new(429).set_body_string("slow down"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    mount(
        &server,
        "dmp/custom_audience/list/",
        q(&[("page_size", "100"), ("advertiser_id", "111")]),
        ok(json!({"list": [{"audience_id": "1"}]})),
        1,
    )
    .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("audiences", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("audiences").len(), 1);
}

#[tokio::test]
async fn an_http_200_without_a_result_code_is_retried_then_fails_naming_the_url() {
    let server = MockServer::start().await;
    // Every attempt of the official budget (1 + 9 retries) gets the unreadable answer.
    mount(
        &server,
        "dmp/custom_audience/list/",
        q(&[("page_size", "100"), ("advertiser_id", "111")]),
        ResponseTemplate::new(200).set_body_string("not json"),
        10,
    )
    .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("audiences", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 1);
    let error = &run.errors()[0];
    assert_eq!(error["failure_type"], "system_error");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("/open_api/v1.3/dmp/custom_audience/list/ (HTTP 200) carries no TikTok result code: not json"),
        "{message}"
    );
    assert!(!message.contains("advertiser_id"), "{message}");
}

#[tokio::test]
async fn the_sandbox_host_is_replaced_by_the_base_url_override_too() {
    let server = MockServer::start().await;
    mount(
        &server,
        "dmp/custom_audience/list/",
        q(&[("page_size", "100"), ("advertiser_id", "999")]),
        ok(json!({"list": []})),
        1,
    )
    .await;
    let cfg = json!({"credentials": {"auth_type": "sandbox_access_token", "advertiser_id": "999", "access_token": "token-abcdef"}});
    let run = read(
        &tiktok(),
        test_env(&server),
        &cfg,
        &catalog(&[("audiences", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
}

#[tokio::test]
async fn include_deleted_adds_the_secondary_status_to_ads_and_ad_groups() {
    let server = MockServer::start().await;
    mount(
        &server,
        "ad/get/",
        q(&[
            (
                "filtering",
                r#"{"modified_after": "2024-06-01 00:00:00", "secondary_status": "AD_STATUS_ALL"}"#,
            ),
            ("page_size", "1000"),
            ("advertiser_id", "111"),
        ]),
        ok(json!({"list": []})),
        1,
    )
    .await;
    mount(
        &server,
        "adgroup/get/",
        q(&[
            ("filtering", r#"{"secondary_status": "ADGROUP_STATUS_ALL"}"#),
            ("page_size", "1000"),
            ("advertiser_id", "111"),
        ]),
        ok(json!({"list": []})),
        1,
    )
    .await;
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({"include_deleted": true})),
        &catalog(&[("ads", "incremental"), ("ad_groups", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.last_state("ads").unwrap(),
        json!({
            "use_global_cursor": false,
            "states": [{"partition": {"advertiser_id": "111", "parent_slice": {}}, "cursor": {"modify_time": "2024-06-01 00:00:00Z"}}],
            "lookback_window": 0
        })
    );
}

#[tokio::test]
async fn campaigns_without_include_deleted_filter_by_buying_type_only() {
    let server = MockServer::start().await;
    for t in ["AUCTION", "RESERVATION_TOP_VIEW", "RESERVATION_RF"] {
        let filtering = format!(r#"{{"buying_types": ["{t}"]}}"#);
        mount(
            &server,
            "campaign/get/",
            q(&[
                ("filtering", &filtering),
                ("page_size", "1000"),
                ("advertiser_id", "111"),
            ]),
            ok(json!({"list": []})),
            1,
        )
        .await;
    }
    let run = read(
        &tiktok(),
        test_env(&server),
        &config(Some("111"), json!({})),
        &catalog(&[("campaigns", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
}

#[tokio::test]
async fn legacy_configs_without_an_app_id_list_advertisers_with_app_id_zero() {
    let server = MockServer::start().await;
    mount(
        &server,
        "oauth2/advertiser/get/",
        q(&[("secret", "secret-abcd"), ("app_id", "0")]),
        ok(json!({"list": [{"advertiser_id": "5"}]})),
        1,
    )
    .await;
    let cfg = json!({"access_token": "token-abcdef", "environment": {"secret": "secret-abcd"}});
    let run = read(
        &tiktok(),
        test_env(&server),
        &cfg,
        &catalog(&[("advertiser_ids", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("advertiser_ids"),
        vec![json!({"advertiser_id": "5"})]
    );
}

#[tokio::test]
async fn by_country_hourly_reports_copy_the_country_as_text() {
    let server = MockServer::start().await;
    for d in ["2024-06-08", "2024-06-09"] {
        mount(
            &server,
            "report/integrated/get/",
            report_query("ad_groups_reports_by_country_hourly", "111", &[("start_date", d), ("end_date", d)]),
            rows(json!([{"dimensions": {"adgroup_id": "4", "stat_time_hour": format!("{d} 10:00:00"), "country_code": "DE"}, "metrics": {"spend": 1.5}}])),
            1,
        )
        .await;
    }
    let cfg = config(
        Some("111"),
        json!({"start_date": "2024-06-08", "end_date": "2024-06-09"}),
    );
    let run = read(
        &tiktok(),
        test_env(&server),
        &cfg,
        &catalog(&[("ad_groups_reports_by_country_hourly", "incremental")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let records = run.records("ad_groups_reports_by_country_hourly");
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[1],
        json!({"dimensions": {"adgroup_id": 4, "stat_time_hour": "2024-06-09 10:00:00", "country_code": "DE"},
               "metrics": {"spend": "1.5"}, "adgroup_id": 4, "stat_time_hour": "2024-06-09 10:00:00", "country_code": "DE"})
    );
    assert_eq!(
        run.last_state("ad_groups_reports_by_country_hourly")
            .unwrap()["state"],
        json!({"stat_time_hour": "2024-06-09 10:00:00"})
    );
}

/// A page of `ads` with its `page_info` totals.
fn ads_page(ids: std::ops::Range<u32>, page: u32, total_pages: u32, total: u32) -> Value {
    let list: Vec<Value> = ids
        .map(|i| json!({"ad_id": i.to_string(), "modify_time": "2024-06-03 00:00:00"}))
        .collect();
    json!({"code": 0, "message": "OK", "request_id": "r1", "data": {"list": list,
        "page_info": {"page": page, "page_size": 1000, "total_number": total, "total_page": total_pages}}})
}

/// `page_info` says which page is the last: two full pages cost two requests, no empty third.
#[tokio::test]
async fn ads_of_two_full_pages_cost_two_requests() {
    let server = MockServer::start().await;
    let ads = |page: Option<&str>, body: Value| {
        let mock = Mock::given(method("GET"))
            .and(path("/open_api/v1.3/ad/get/"))
            .and(query_param("advertiser_id", "111"))
            .and(query_param("page_size", "1000"))
            .and(query_param(
                "filtering",
                r#"{"modified_after": "2024-06-01 00:00:00"}"#,
            ));
        let mock = match page {
            Some(p) => mock.and(query_param("page", p)),
            None => mock.and(query_param_is_missing("page")),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
    };
    server
        .register(ads(None, ads_page(0..1000, 1, 2, 2000)))
        .await;
    server
        .register(ads(Some("2"), ads_page(1000..2000, 2, 2, 2000)))
        .await;
    let run = read(
        &SourceTiktokMarketing,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &json!({"credentials": {"auth_type": "oauth2.0", "app_id": "app-1234",
            "secret": "secret-abcd", "access_token": "token-abcdef", "advertiser_id": "111"},
            "start_date": "2024-06-01"}),
        &catalog(&[("ads", "incremental")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("ads").len(), 2000);
    let requests = server.received_requests().await.unwrap_or_default();
    let pages: Vec<Option<String>> = requests
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "page")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(pages, vec![None, Some("2".to_string())]);
}
