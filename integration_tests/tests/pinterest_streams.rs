//! source-pinterest: spec, check, discover, OAuth, list streams, semi-incremental streams,
//! synchronous analytics, per-partition state and error handling, against a mock Pinterest API.

use integration_tests::pinterest::{self, NOW};
use integration_tests::{catalog, env, ok, read, run, state_for, with_config};
use serde_json::{json, Value};
use source_pinterest::{SourcePinterest, BASE_URL_VAR};
use wiremock::matchers::{body_string, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config() -> Value {
    pinterest::config("2024-01-01")
}

async fn get(server: &MockServer, p: &str, query: &[(&str, &str)], resp: ResponseTemplate, n: u64) {
    let mut m = Mock::given(method("GET"))
        .and(path(p))
        .and(header("Authorization", "Bearer atoken-123"));
    for (k, v) in query {
        m = m.and(query_param(*k, *v));
    }
    m.respond_with(resp).expect(n).mount(server).await;
}

async fn mount_accounts(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v5/ad_accounts"))
        .and(query_param_is_missing("bookmark"))
        .respond_with(ok(
            json!({"items": [{"id": "a1", "name": "one"}], "bookmark": "B2"}),
        ))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v5/ad_accounts"))
        .and(query_param("bookmark", "B2"))
        .respond_with(ok(
            json!({"items": [{"id": "a2", "name": "two"}], "bookmark": ""}),
        ))
        .mount(server)
        .await;
}

#[tokio::test]
async fn spec_is_the_official_spec() {
    let r = run(
        &SourcePinterest,
        env(BASE_URL_VAR, "http://127.0.0.1:1", NOW),
        &["spec"],
    )
    .await;
    assert_eq!(r.code, 0);
    let official: Value = serde_json::from_str(include_str!(
        "../../crates/source-pinterest/resources/spec.json"
    ))
    .unwrap();
    assert_eq!(
        r.spec()["connectionSpecification"],
        official["connectionSpecification"]
    );
}

#[tokio::test]
async fn discover_lists_32_streams_plus_one_per_custom_report_with_official_names() {
    let mut c = config();
    c["custom_reports"] = json!([{"name": "MyAdsReport", "level": "ADVERTISER", "granularity": "DAY",
        "columns": ["SPEND_IN_DOLLAR"], "conversion_report_time": "TIME_OF_AD_ACTION"}]);
    let r = with_config(
        &SourcePinterest,
        env(BASE_URL_VAR, "http://127.0.0.1:1", NOW),
        "discover",
        &c,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    let names = r.stream_names();
    assert_eq!(names.len(), 33);
    assert_eq!(names[0], "boards");
    assert_eq!(names[20], "advertiser_report");
    assert_eq!(names[27], "advertiser_targeting_report");
    assert_eq!(names[32], "custom__my_ads_report");
    let cat = r.catalog();
    let stream = |n: &str| {
        cat["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(
        stream("campaigns")["default_cursor_field"],
        json!(["updated_time"])
    );
    assert_eq!(
        stream("campaigns")["source_defined_primary_key"],
        json!([["id"]])
    );
    assert_eq!(
        stream("user_account_analytics")["default_cursor_field"],
        json!(["date"])
    );
    assert_eq!(
        stream("ad_analytics")["default_cursor_field"],
        json!(["DATE"])
    );
    assert!(stream("ad_analytics")
        .get("source_defined_primary_key")
        .is_none());
    assert_eq!(
        stream("boards")["supported_sync_modes"],
        json!(["full_refresh"])
    );
    assert_eq!(
        stream("boards")["json_schema"]["properties"]["created_at"]["airbyte_type"],
        json!("timestamp_without_timezone")
    );
    assert!(
        stream("custom__my_ads_report")["json_schema"]["properties"]["TOTAL_IMPRESSION"]
            .is_object()
    );
    // Every embedded schema parsed (an unreadable one would fall back to an empty schema).
    for st in cat["streams"].as_array().unwrap() {
        assert!(
            st["json_schema"]["properties"]
                .as_object()
                .is_some_and(|p| !p.is_empty()),
            "{}",
            st["name"]
        );
    }
}

#[tokio::test]
async fn legacy_window_day_arrays_are_unwrapped_and_written_back() {
    let mut c = config();
    c["custom_reports"] = json!([{"name": "r", "level": "ADVERTISER", "granularity": "DAY", "columns": [],
        "click_window_days": [7], "conversion_report_time": "TIME_OF_AD_ACTION"}]);
    let r = with_config(
        &SourcePinterest,
        env(BASE_URL_VAR, "http://127.0.0.1:1", NOW),
        "discover",
        &c,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    let controls = r.controls();
    assert_eq!(controls.len(), 1);
    assert_eq!(
        controls[0]["custom_reports"][0]["click_window_days"],
        json!(7)
    );
}

#[tokio::test]
async fn check_reads_the_first_user_account_analytics_window() {
    let server = MockServer::start().await;
    get(
        &server,
        "/v5/user_account/analytics",
        &[
            ("granularity", "DAY"),
            ("start_date", "2024-01-12"),
            ("end_date", "2024-02-10"),
        ],
        ok(json!({"all": {"daily_metrics": []}})),
        1,
    )
    .await;
    let r = with_config(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        "check",
        &config(),
    )
    .await;
    assert_eq!(r.connection_status()["status"], "SUCCEEDED", "{}", r.raw);
}

#[tokio::test]
async fn check_reports_a_forbidden_account() {
    let server = MockServer::start().await;
    get(
        &server,
        "/v5/user_account/analytics",
        &[],
        ResponseTemplate::new(403).set_body_json(json!({"code": 3, "message": "Forbidden"})),
        1,
    )
    .await;
    let r = with_config(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        "check",
        &config(),
    )
    .await;
    assert_eq!(r.connection_status()["status"], "FAILED");
    let msg = r.connection_status()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.starts_with("Stream user_account_analytics is not available: "),
        "{msg}"
    );
}

#[tokio::test]
async fn refreshes_the_token_with_basic_auth_and_writes_rotated_tokens_back() {
    let server = MockServer::start().await;
    // base64("cid:csecret-123")
    Mock::given(method("POST"))
        .and(path("/v5/oauth/token"))
        .and(header("Authorization", "Basic Y2lkOmNzZWNyZXQtMTIz"))
        .and(body_string("grant_type=refresh_token&refresh_token=rtoken-123"))
        .respond_with(ok(json!({"access_token": "new-access", "expires_in": 3600, "refresh_token": "new-refresh"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v5/boards"))
        .and(header("Authorization", "Bearer new-access"))
        .respond_with(ok(json!({"items": [{"id": "b1"}], "bookmark": null})))
        .expect(1)
        .mount(&server)
        .await;
    let mut c = config();
    c["credentials"]
        .as_object_mut()
        .unwrap()
        .remove("access_token");
    c["credentials"]
        .as_object_mut()
        .unwrap()
        .remove("token_expiry_date");
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &c,
        &catalog(&[("boards", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(r.records("boards"), vec![json!({"id": "b1"})]);
    let controls = r.controls();
    assert_eq!(controls.len(), 1);
    assert_eq!(controls[0]["credentials"]["refresh_token"], "new-refresh");
    assert_eq!(controls[0]["credentials"]["access_token"], "new-access");
    assert_eq!(
        controls[0]["credentials"]["token_expiry_date"],
        "2024-04-10T13:00:00+00:00"
    );
    assert_eq!(controls[0]["start_date"], "2024-01-01");
    // Secrets never leak into logs.
    assert!(!r
        .logs()
        .iter()
        .any(|l| l.contains("new-refresh") || l.contains("csecret-123")));
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_repeats_the_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v5/oauth/token"))
        .respond_with(ok(json!({"access_token": "fresh", "expires_in": 3600})))
        .expect(1)
        .mount(&server)
        .await;
    get(
        &server,
        "/v5/catalogs",
        &[],
        ResponseTemplate::new(401)
            .set_body_json(json!({"code": 2, "message": "Authentication failed."})),
        1,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/v5/catalogs"))
        .and(header("Authorization", "Bearer fresh"))
        .respond_with(ok(
            json!({"items": [{"id": "c1", "created_at": "2021-06-08T09:37:18"}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("catalogs", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(
        r.records("catalogs"),
        vec![json!({"id": "c1", "created_at": "2021-06-08T09:37:18"})]
    );
    // No rotated refresh token: the old one is kept in the written-back config.
    assert_eq!(
        r.controls()[0]["credentials"]["refresh_token"],
        "rtoken-123"
    );
}

#[tokio::test]
async fn a_rejected_refresh_token_is_a_config_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v5/oauth/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .expect(1)
        .mount(&server)
        .await;
    let mut c = config();
    c["credentials"]
        .as_object_mut()
        .unwrap()
        .remove("access_token");
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &c,
        &catalog(&[("boards", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(r.code, 1);
    let errors = r.errors();
    assert_eq!(errors[0]["failure_type"], "config_error", "{errors:?}");
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("Refresh token was rejected"));
}

#[tokio::test]
async fn legacy_flat_config_reads_client_credentials_from_the_top_level() {
    let server = MockServer::start().await;
    // Flat configs have no credentials.refresh_token: the official connector sends it empty.
    Mock::given(method("POST"))
        .and(path("/v5/oauth/token"))
        .and(header("Authorization", "Basic Y2lkOmNzZWNyZXQtMTIz"))
        .and(body_string("grant_type=refresh_token&refresh_token="))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .expect(1)
        .mount(&server)
        .await;
    let c = json!({"client_id": "cid", "client_secret": "csecret-123", "refresh_token": "flat-rt"});
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &c,
        &catalog(&[("boards", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(r.code, 1);
    assert_eq!(r.errors()[0]["failure_type"], "config_error");
}

#[tokio::test]
async fn boards_sections_and_section_pins_follow_bookmarks_and_account_scope() {
    let server = MockServer::start().await;
    let mut c = config();
    c["account_id"] = json!("a1");
    Mock::given(method("GET"))
        .and(path("/v5/boards"))
        .and(query_param("ad_account_id", "a1"))
        .and(query_param_is_missing("bookmark"))
        .respond_with(ok(json!({"items": [{"id": "b1", "description": null, "created_at": "2021-06-08T09:37:18"}], "bookmark": "NEXT"})))
        // Once as the boards stream, once as the parent of the sections.
        .expect(2)
        .mount(&server)
        .await;
    get(
        &server,
        "/v5/boards",
        &[("ad_account_id", "a1"), ("bookmark", "NEXT")],
        ok(json!({"items": [{"id": "b2"}], "bookmark": null})),
        2,
    )
    .await;
    get(
        &server,
        "/v5/boards/b1/sections",
        &[("ad_account_id", "a1")],
        ok(json!({"items": [{"id": "s1"}]})),
        1,
    )
    .await;
    get(
        &server,
        "/v5/boards/b2/sections",
        &[("ad_account_id", "a1")],
        ok(json!({"items": []})),
        1,
    )
    .await;
    get(
        &server,
        "/v5/boards/b1/sections/s1/pins",
        &[("ad_account_id", "a1")],
        ok(json!({"items": [{"id": "p1", "nested": {"x": null}}]})),
        1,
    )
    .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &c,
        &catalog(&[
            ("boards", "full_refresh"),
            ("board_section_pins", "full_refresh"),
        ]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    // Top-level nulls are dropped, nested ones kept (as the official connector emits them).
    assert_eq!(
        r.records("boards"),
        vec![
            json!({"id": "b1", "created_at": "2021-06-08T09:37:18"}),
            json!({"id": "b2"})
        ]
    );
    assert_eq!(
        r.records("board_section_pins"),
        vec![json!({"id": "p1", "nested": {"x": null}})]
    );
    assert_eq!(
        r.last_state("board_section_pins").unwrap(),
        json!({"__ab_no_cursor_state_message": true})
    );
}

#[tokio::test]
async fn account_id_reads_the_single_ad_account_object() {
    let server = MockServer::start().await;
    let mut c = config();
    c["account_id"] = json!("549761668032");
    // Once as the ad_accounts stream, once as the parent of audiences.
    get(
        &server,
        "/v5/ad_accounts/549761668032",
        &[],
        ok(json!({"id": "549761668032", "name": "acct"})),
        2,
    )
    .await;
    get(
        &server,
        "/v5/ad_accounts/549761668032/audiences",
        &[],
        ok(json!({"items": [{"id": "au1"}]})),
        1,
    )
    .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &c,
        &catalog(&[
            ("ad_accounts", "full_refresh"),
            ("audiences", "full_refresh"),
        ]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(
        r.records("ad_accounts"),
        vec![json!({"id": "549761668032", "name": "acct"})]
    );
    assert_eq!(r.records("audiences"), vec![json!({"id": "au1"})]);
}

#[tokio::test]
async fn catalog_feeds_lose_their_credentials_and_409_product_groups_are_skipped() {
    let server = MockServer::start().await;
    get(
        &server,
        "/v5/catalogs/feeds",
        &[],
        ok(json!({"items": [{"id": "f1", "credentials": {"password": "x"}}]})),
        1,
    )
    .await;
    get(
        &server,
        "/v5/catalogs/product_groups",
        &[],
        ResponseTemplate::new(409).set_body_json(json!({"code": 4, "message": "no catalog"})),
        1,
    )
    .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[
            ("catalogs_feeds", "full_refresh"),
            ("catalogs_product_groups", "full_refresh"),
        ]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(r.records("catalogs_feeds"), vec![json!({"id": "f1"})]);
    assert!(r.records("catalogs_product_groups").is_empty());
    assert_eq!(
        r.statuses("catalogs_product_groups").last().unwrap(),
        "COMPLETE"
    );
}

#[tokio::test]
async fn campaigns_filter_updated_time_client_side_and_write_per_partition_state() {
    let server = MockServer::start().await;
    mount_accounts(&server).await;
    let mut c = config();
    c["status"] = json!(["ACTIVE", "PAUSED"]);
    get(
        &server,
        "/v5/ad_accounts/a1/campaigns",
        &[("entity_statuses", "ACTIVE,PAUSED"), ("page_size", "250")],
        ok(json!({"items": [
            {"id": "c1", "updated_time": 1712102400},
            {"id": "c2", "updated_time": 1700000000},
            {"id": "c3", "updated_time": null}
        ]})),
        1,
    )
    .await;
    get(
        &server,
        "/v5/ad_accounts/a2/campaigns",
        &[("entity_statuses", "ACTIVE,PAUSED"), ("page_size", "250")],
        ok(json!({"items": []})),
        1,
    )
    .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &c,
        &catalog(&[("campaigns", "incremental")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(
        r.records("campaigns"),
        vec![
            json!({"id": "c1", "updated_time": 1712102400}),
            json!({"id": "c3"})
        ]
    );
    assert_eq!(
        r.last_state("campaigns").unwrap(),
        json!({"use_global_cursor": false, "states": [
            {"partition": {"id": "a1", "parent_slice": {}}, "cursor": {"updated_time": "1712102400"}},
            {"partition": {"id": "a2", "parent_slice": {}}, "cursor": {"updated_time": "1704067200"}}
        ], "state": {"updated_time": "1712102400"}, "lookback_window": 0, "parent_state": {}})
    );
}

#[tokio::test]
async fn campaigns_resume_from_an_official_state_and_keep_the_start_date_floor() {
    let server = MockServer::start().await;
    mount_accounts(&server).await;
    let rows = json!({"items": [
        {"id": "c1", "updated_time": 1712102399},
        {"id": "c2", "updated_time": 1712102400},
        {"id": "c3", "updated_time": 1703000000}
    ]});
    get(
        &server,
        "/v5/ad_accounts/a1/campaigns",
        &[],
        ok(rows.clone()),
        1,
    )
    .await;
    get(&server, "/v5/ad_accounts/a2/campaigns", &[], ok(rows), 1).await;
    let state = json!({"use_global_cursor": false, "states": [
        {"partition": {"id": "a1", "parent_slice": {}}, "cursor": {"updated_time": "1712102400"}},
        {"partition": {"id": "a2", "parent_slice": {}}, "cursor": {"updated_time": 1600000000}},
        {"partition": {"id": "gone", "parent_slice": {}}, "cursor": {"updated_time": "1600000000"}}
    ], "state": {"updated_time": "1712102400"}, "lookback_window": 3, "parent_state": {}});
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("campaigns", "incremental")]),
        Some(&state_for("campaigns", state)),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    // a1 from its cursor; a2 from max(start_date, its older cursor).
    assert_eq!(
        r.records("campaigns"),
        vec![
            json!({"id": "c2", "updated_time": 1712102400}),
            json!({"id": "c1", "updated_time": 1712102399}),
            json!({"id": "c2", "updated_time": 1712102400}),
        ]
    );
    // A partition that no longer exists is kept, its cursor raised to the start date.
    assert_eq!(
        r.last_state("campaigns").unwrap(),
        json!({"use_global_cursor": false, "states": [
            {"partition": {"id": "a1", "parent_slice": {}}, "cursor": {"updated_time": "1712102400"}},
            {"partition": {"id": "a2", "parent_slice": {}}, "cursor": {"updated_time": "1712102400"}},
            {"partition": {"id": "gone", "parent_slice": {}}, "cursor": {"updated_time": "1704067200"}}
        ], "state": {"updated_time": "1712102400"}, "lookback_window": 0, "parent_state": {}})
    );
}

#[tokio::test]
async fn a_legacy_flat_state_is_the_start_of_every_partition() {
    let server = MockServer::start().await;
    mount_accounts(&server).await;
    let rows = json!({"items": [{"id": "x1", "updated_time": 1712015999}, {"id": "x2", "updated_time": 1712016000}]});
    get(&server, "/v5/ad_accounts/a1/ads", &[], ok(rows.clone()), 1).await;
    get(&server, "/v5/ad_accounts/a2/ads", &[], ok(rows), 1).await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("ads", "incremental")]),
        Some(&state_for("ads", json!({"updated_time": 1712016000}))),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(r.records("ads").len(), 2);
    assert_eq!(
        r.last_state("ads").unwrap(),
        json!({"use_global_cursor": false, "states": [
            {"partition": {"id": "a1", "parent_slice": {}}, "cursor": {"updated_time": "1712016000"}},
            {"partition": {"id": "a2", "parent_slice": {}}, "cursor": {"updated_time": "1712016000"}}
        ], "state": {"updated_time": "1712016000"}, "lookback_window": 0, "parent_state": {}})
    );
}

#[tokio::test]
async fn keywords_are_read_per_ad_group_updated_since_the_start_date() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v5/ad_accounts"))
        .respond_with(ok(json!({"items": [{"id": "a1"}]})))
        .mount(&server)
        .await;
    get(
        &server,
        "/v5/ad_accounts/a1/ad_groups",
        &[],
        ok(json!({"items": [{"id": "g1", "updated_time": 1712102400}, {"id": "g-old", "updated_time": 1600000000}]})),
        1,
    )
    .await;
    get(
        &server,
        "/v5/ad_accounts/a1/keywords",
        &[("ad_group_id", "g1")],
        ok(json!({"items": [{"id": "k1", "value": "shoes"}]})),
        1,
    )
    .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("keywords", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(
        r.records("keywords"),
        vec![json!({"id": "k1", "value": "shoes"})]
    );
}

#[tokio::test]
async fn campaign_analytics_windows_of_30_days_and_grandchild_partition_state() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v5/ad_accounts"))
        .respond_with(ok(json!({"items": [{"id": "a1"}]})))
        .mount(&server)
        .await;
    get(
        &server,
        "/v5/ad_accounts/a1/campaigns",
        &[],
        ok(json!({"items": [{"id": "c1", "updated_time": 1712102400}]})),
        1,
    )
    .await;
    // Each row names its campaign (`CAMPAIGN_ID`), which is how it finds its partition.
    for (start, end, rows) in [
        (
            "2024-01-12",
            "2024-02-10",
            json!([{"DATE": "2024-01-20", "CAMPAIGN_ID": "c1", "SPEND_IN_DOLLAR": 1}]),
        ),
        ("2024-02-11", "2024-03-11", json!([])),
        (
            "2024-03-12",
            "2024-04-10",
            json!([{"DATE": "2024-04-02", "CAMPAIGN_ID": "c1", "SPEND_IN_DOLLAR": 2}]),
        ),
    ] {
        get(
            &server,
            "/v5/ad_accounts/a1/campaigns/analytics",
            &[
                ("campaign_ids", "c1"),
                ("granularity", "DAY"),
                ("start_date", start),
                ("end_date", end),
            ],
            ok(rows),
            1,
        )
        .await;
    }
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("campaign_analytics", "incremental")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    // Sync analytics rows are emitted as the API returns them (no type coercion).
    assert_eq!(
        r.records("campaign_analytics"),
        vec![
            json!({"DATE": "2024-01-20", "CAMPAIGN_ID": "c1", "SPEND_IN_DOLLAR": 1}),
            json!({"DATE": "2024-04-02", "CAMPAIGN_ID": "c1", "SPEND_IN_DOLLAR": 2})
        ]
    );
    assert_eq!(
        r.last_state("campaign_analytics").unwrap(),
        json!({"use_global_cursor": false, "states": [
            {"partition": {"id": "c1", "parent_slice": {"id": "a1", "parent_slice": {}}}, "cursor": {"DATE": "2024-04-02"}}
        ], "state": {"DATE": "2024-04-02"}, "lookback_window": 0, "parent_state": {}})
    );
}

#[tokio::test]
async fn user_account_analytics_resumes_from_its_flat_date_state() {
    let server = MockServer::start().await;
    get(
        &server,
        "/v5/user_account/analytics",
        &[("start_date", "2024-04-01"), ("end_date", "2024-04-10")],
        ok(json!({"all": {"daily_metrics": [{"date": "2024-04-03", "data_status": "READY", "metrics": {"IMPRESSION": 3}}]}})),
        1,
    )
    .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("user_account_analytics", "incremental")]),
        Some(&state_for(
            "user_account_analytics",
            json!({"date": "2024-04-01"}),
        )),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(r.records("user_account_analytics").len(), 1);
    assert_eq!(
        r.last_state("user_account_analytics").unwrap(),
        json!({"date": "2024-04-03"})
    );
}

#[tokio::test]
async fn ad_account_analytics_retries_transient_400_and_retry_after_answers() {
    let server = MockServer::start().await;
    let mut c = config();
    c["start_date"] = json!("2024-04-01");
    Mock::given(method("GET"))
        .and(path("/v5/ad_accounts"))
        .respond_with(ok(json!({"items": [{"id": "a1"}]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v5/ad_accounts/a1/analytics"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"code": 1, "message": "You can only get data from the last 90 days"}),
        ))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v5/ad_accounts/a1/analytics"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"code": 2726, "message": "Reporting query cost limit exceeded. Retry after 7 seconds"})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    get(
        &server,
        "/v5/ad_accounts/a1/analytics",
        &[("start_date", "2024-04-01"), ("end_date", "2024-04-10")],
        ok(json!([{"DATE": "2024-04-05", "AD_ACCOUNT_ID": "a1"}])),
        1,
    )
    .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &c,
        &catalog(&[("ad_account_analytics", "incremental")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(
        r.records("ad_account_analytics"),
        vec![json!({"DATE": "2024-04-05", "AD_ACCOUNT_ID": "a1"})]
    );
    assert!(
        r.logs().iter().any(|l| l.contains("retrying in 8.0s")),
        "{:?}",
        r.logs()
    );
}

#[tokio::test]
async fn rate_limit_code_8_is_retried_after_the_reset_header_and_no_page_is_lost() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v5/boards"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-RateLimit-Reset", "4")
                .set_body_json(json!({"code": 8, "message": "Rate limit exceeded"})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    get(
        &server,
        "/v5/boards",
        &[],
        ok(json!({"items": [{"id": "b1"}]})),
        1,
    )
    .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("boards", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(r.records("boards"), vec![json!({"id": "b1"})]);
    assert!(
        r.logs()
            .iter()
            .any(|l| l.contains("code 8") && l.contains("retrying in 5.0s")),
        "{:?}",
        r.logs()
    );
}

#[tokio::test]
async fn persistent_code_8_fails_the_stream_with_a_transient_error_and_other_streams_go_on() {
    let server = MockServer::start().await;
    get(
        &server,
        "/v5/boards",
        &[],
        ResponseTemplate::new(200)
            .set_body_json(json!({"code": 8, "message": "Rate limit exceeded"})),
        6,
    )
    .await;
    get(
        &server,
        "/v5/catalogs",
        &[],
        ok(json!({"items": [{"id": "c1"}]})),
        1,
    )
    .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("boards", "full_refresh"), ("catalogs", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(r.code, 1);
    assert_eq!(r.statuses("boards").last().unwrap(), "INCOMPLETE");
    assert_eq!(r.statuses("catalogs").last().unwrap(), "COMPLETE");
    let errors = r.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["failure_type"], "transient_error");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("Rate limit"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn http_429_and_500_are_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v5/catalogs"))
        .respond_with(
            ResponseTemplate::new(429).set_body_json(json!({"code": 1, "message": "slow down"})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v5/catalogs"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    get(
        &server,
        "/v5/catalogs",
        &[],
        ok(json!({"items": [{"id": "c1"}]})),
        1,
    )
    .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("catalogs", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(r.records("catalogs"), vec![json!({"id": "c1"})]);
}

#[tokio::test]
async fn ad_account_children_and_pins_read_every_partition() {
    let server = MockServer::start().await;
    mount_accounts(&server).await;
    for acct in ["a1", "a2"] {
        for child in ["conversion_tags", "customer_lists"] {
            get(
                &server,
                &format!("/v5/ad_accounts/{acct}/{child}"),
                &[],
                ok(json!({"items": [{"id": format!("{child}-{acct}")}], "bookmark": null})),
                1,
            )
            .await;
        }
    }
    Mock::given(method("GET"))
        .and(path("/v5/boards"))
        .respond_with(ok(json!({"items": [{"id": "b1"}]})))
        .mount(&server)
        .await;
    get(
        &server,
        "/v5/boards/b1/pins",
        &[],
        ok(json!({"items": [{"id": "p1"}]})),
        1,
    )
    .await;
    get(
        &server,
        "/v5/catalogs/product_groups",
        &[],
        ok(json!({"items": [{"id": "pg1"}]})),
        1,
    )
    .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[
            ("conversion_tags", "full_refresh"),
            ("customer_lists", "full_refresh"),
            ("board_pins", "full_refresh"),
            ("catalogs_product_groups", "full_refresh"),
        ]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(
        r.records("conversion_tags"),
        vec![
            json!({"id": "conversion_tags-a1"}),
            json!({"id": "conversion_tags-a2"})
        ]
    );
    assert_eq!(r.records("customer_lists").len(), 2);
    assert_eq!(r.records("board_pins"), vec![json!({"id": "p1"})]);
    assert_eq!(
        r.records("catalogs_product_groups"),
        vec![json!({"id": "pg1"})]
    );
    // Every list page asks for the API's maximum of 250 items (the default is 25), except
    // conversion tags, which take no page size.
    let mut sent: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|q| format!("{}?{}", q.url.path(), q.url.query().unwrap_or("")))
        .collect();
    sent.sort();
    sent.dedup();
    assert_eq!(
        sent,
        [
            "/v5/ad_accounts/a1/conversion_tags?",
            "/v5/ad_accounts/a1/customer_lists?page_size=250",
            "/v5/ad_accounts/a2/conversion_tags?",
            "/v5/ad_accounts/a2/customer_lists?page_size=250",
            "/v5/ad_accounts?page_size=250",
            "/v5/ad_accounts?page_size=250&bookmark=B2",
            "/v5/boards/b1/pins?page_size=250",
            "/v5/boards?page_size=250",
            "/v5/catalogs/product_groups?page_size=250",
        ]
    );
}

#[tokio::test]
async fn ad_group_and_ad_analytics_query_their_entity_ids_and_clamp_legacy_state_to_89_days() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v5/ad_accounts"))
        .respond_with(ok(json!({"items": [{"id": "a1"}]})))
        .mount(&server)
        .await;
    get(
        &server,
        "/v5/ad_accounts/a1/ad_groups",
        &[],
        ok(json!({"items": [{"id": "g1", "updated_time": 1712102400}]})),
        1,
    )
    .await;
    get(
        &server,
        "/v5/ad_accounts/a1/ads",
        &[],
        ok(json!({"items": [{"id": "ad1", "updated_time": 1712102400}]})),
        1,
    )
    .await;
    for (p, key, id) in [
        (
            "/v5/ad_accounts/a1/ad_groups/analytics",
            "ad_group_ids",
            "g1",
        ),
        ("/v5/ad_accounts/a1/ads/analytics", "ad_ids", "ad1"),
    ] {
        // A flat 1.x state older than the API's 89-day limit restarts at today − 89 days.
        for (start, end) in [
            ("2024-01-12", "2024-02-10"),
            ("2024-02-11", "2024-03-11"),
            ("2024-03-12", "2024-04-10"),
        ] {
            get(
                &server,
                p,
                &[(key, id), ("start_date", start), ("end_date", end)],
                ok(json!([])),
                1,
            )
            .await;
        }
    }
    let mut c = config();
    c.as_object_mut().unwrap().remove("start_date");
    let state = json!([
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "ad_group_analytics"}, "stream_state": {"DATE": "2021-06-09"}}},
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "ad_analytics"}, "stream_state": {"DATE": "2021-06-09"}}}
    ]);
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &c,
        &catalog(&[
            ("ad_group_analytics", "incremental"),
            ("ad_analytics", "incremental"),
        ]),
        Some(&state),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(
        r.last_state("ad_analytics").unwrap(),
        json!({"use_global_cursor": false, "states": [
            {"partition": {"id": "ad1", "parent_slice": {"id": "a1", "parent_slice": {}}}, "cursor": {"DATE": "2024-01-12"}}
        ], "state": {"DATE": "2021-06-09"}, "lookback_window": 0, "parent_state": {}})
    );
}
