//! source-pinterest: the async report flow (create, poll, refresh the URL, download, coerce),
//! failed and timed-out jobs, and custom reports (names, bodies, status chunks, state).

use integration_tests::pinterest::{self, columns, NOW};
use integration_tests::{catalog, env, ok, read, state_for};
use serde_json::{json, Value};
use source_pinterest::{SourcePinterest, BASE_URL_VAR};
use wiremock::matchers::{body_json, body_partial_json, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn config() -> Value {
    pinterest::config("2024-04-01")
}

async fn one_account(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v5/ad_accounts"))
        .respond_with(ok(json!({"items": [{"id": "a1"}]})))
        .mount(server)
        .await;
}

/// Answers the n-th poll of `token` with the n-th status, repeating the last one.
async fn polls(server: &MockServer, token: &str, answers: Vec<Value>, expect: u64) {
    let n = answers.len();
    for (i, a) in answers.into_iter().enumerate() {
        let m = Mock::given(method("GET"))
            .and(path("/v5/ad_accounts/a1/reports"))
            .and(query_param("token", token));
        if i + 1 < n {
            m.respond_with(ok(a))
                .up_to_n_times(1)
                .expect(1)
                .mount(server)
                .await;
        } else {
            m.respond_with(ok(a)).expect(expect).mount(server).await;
        }
    }
}

/// A download that must come without the Authorization header.
async fn download(server: &MockServer, file: &str, body: Value) {
    Mock::given(method("GET"))
        .and(path(format!("/files/{file}")))
        .and(|r: &Request| !r.headers.contains_key("authorization"))
        .respond_with(ok(body))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn report_job_is_created_polled_refreshed_downloaded_and_coerced() {
    let server = MockServer::start().await;
    one_account(&server).await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path("/v5/ad_accounts/a1/reports"))
        .and(header_exists("authorization"))
        .and(body_json(json!({
            "start_date": "2024-04-01", "end_date": "2024-04-10", "granularity": "DAY",
            "columns": columns("sync_analytics_and_standard_reports"), "level": "ADVERTISER"
        })))
        .respond_with(ok(
            json!({"report_status": "IN_PROGRESS", "token": "tok-1", "message": ""}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    polls(
        &server,
        "tok-1",
        vec![
            json!({"report_status": "IN_PROGRESS"}),
            json!({"report_status": "FINISHED", "url": format!("{uri}/files/stale")}),
            json!({"report_status": "FINISHED", "url": format!("{uri}/files/fresh")}),
        ],
        1,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/files/stale"))
        .respond_with(ok(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    download(
        &server,
        "fresh",
        json!({
            "123": [{"DATE": "2024-04-02", "ADVERTISER_ID": 123, "AD_ACCOUNT_ID": 549761668032i64, "SPEND_IN_DOLLAR": "3.5", "EXTRA": 1}],
            "456": [{"DATE": "2024-04-05", "ADVERTISER_ID": "456", "AD_ACCOUNT_ID": "a1", "SPEND_IN_DOLLAR": 2}]
        }),
    )
    .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &uri, NOW),
        &config(),
        &catalog(&[("advertiser_report", "incremental")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(
        r.records("advertiser_report"),
        vec![
            json!({"DATE": "2024-04-02", "ADVERTISER_ID": 123.0, "AD_ACCOUNT_ID": "549761668032", "SPEND_IN_DOLLAR": 3.5, "EXTRA": 1}),
            json!({"DATE": "2024-04-05", "ADVERTISER_ID": 456.0, "AD_ACCOUNT_ID": "a1", "SPEND_IN_DOLLAR": 2.0}),
        ]
    );
    assert_eq!(
        r.last_state("advertiser_report").unwrap(),
        json!({"use_global_cursor": false, "states": [
            {"partition": {"id": "a1", "parent_slice": {}}, "cursor": {"DATE": "2024-04-05"}}
        ], "state": {"DATE": "2024-04-05"}, "lookback_window": 0, "parent_state": {}})
    );
}

#[tokio::test]
async fn product_item_report_uses_its_own_columns_and_31_day_windows_from_91_days_back() {
    let server = MockServer::start().await;
    one_account(&server).await;
    let uri = server.uri();
    let mut c = config();
    c["start_date"] = json!("2023-01-01");
    // today−91 = 2024-01-10; windows 01-10..02-09, 02-10..03-11, 03-12..04-10.
    for (i, (start, end)) in [
        ("2024-01-10", "2024-02-09"),
        ("2024-02-10", "2024-03-11"),
        ("2024-03-12", "2024-04-10"),
    ]
    .into_iter()
    .enumerate()
    {
        let token = format!("t{i}");
        Mock::given(method("POST"))
            .and(path("/v5/ad_accounts/a1/reports"))
            .and(body_json(
                json!({"start_date": start, "end_date": end, "granularity": "DAY",
                "columns": columns("product_item_report"), "level": "PRODUCT_ITEM"}),
            ))
            .respond_with(ok(json!({"report_status": "IN_PROGRESS", "token": token})))
            .expect(1)
            .mount(&server)
            .await;
        polls(
            &server,
            &token,
            vec![json!({"report_status": "FINISHED", "url": format!("{uri}/files/{token}")})],
            2,
        )
        .await;
        download(&server, &token, json!({})).await;
    }
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &uri, NOW),
        &c,
        &catalog(&[("product_item_report", "incremental")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert!(r.records("product_item_report").is_empty());
    // An empty partition keeps its starting point; no record, no global state.
    assert_eq!(
        r.last_state("product_item_report").unwrap(),
        json!({"use_global_cursor": false, "states": [
            {"partition": {"id": "a1", "parent_slice": {}}, "cursor": {"DATE": "2024-01-10"}}
        ], "lookback_window": 0, "parent_state": {}})
    );
}

#[tokio::test]
async fn failed_and_timed_out_jobs_are_created_again() {
    let server = MockServer::start().await;
    one_account(&server).await;
    let uri = server.uri();
    for (token, resp) in [
        ("t-failed", json!({"report_status": "FAILED"})),
        ("t-timeout", json!({"message": "no status"})),
    ] {
        Mock::given(method("POST"))
            .and(path("/v5/ad_accounts/a1/reports"))
            .respond_with(ok(json!({"report_status": "IN_PROGRESS", "token": token})))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        polls(&server, token, vec![resp], 1).await;
    }
    Mock::given(method("POST"))
        .and(path("/v5/ad_accounts/a1/reports"))
        .respond_with(ok(json!({"report_status": "IN_PROGRESS", "token": "t-ok"})))
        .expect(1)
        .mount(&server)
        .await;
    polls(
        &server,
        "t-ok",
        vec![json!({"report_status": "FINISHED", "url": format!("{uri}/files/ok")})],
        2,
    )
    .await;
    download(&server, "ok", json!({"1": [{"DATE": "2024-04-03"}]})).await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &uri, NOW),
        &config(),
        &catalog(&[("keyword_report", "incremental")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(
        r.records("keyword_report"),
        vec![json!({"DATE": "2024-04-03"})]
    );
}

#[tokio::test]
async fn three_failed_attempts_fail_the_stream_and_keep_its_state() {
    let server = MockServer::start().await;
    one_account(&server).await;
    Mock::given(method("POST"))
        .and(path("/v5/ad_accounts/a1/reports"))
        .respond_with(ok(json!({"report_status": "IN_PROGRESS", "token": "t"})))
        .expect(3)
        .mount(&server)
        .await;
    polls(&server, "t", vec![json!({"report_status": "CANCELLED"})], 3).await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("ad_group_report", "incremental")]),
        None,
    )
    .await;
    assert_eq!(r.code, 1);
    assert_eq!(r.statuses("ad_group_report").last().unwrap(), "INCOMPLETE");
    let e = &r.errors()[0];
    assert_eq!(
        e["message"],
        "One or more async jobs failed after exhausting all retry attempts."
    );
    assert_eq!(e["failure_type"], "transient_error");
}

#[tokio::test]
async fn a_job_still_running_after_60_minutes_of_polling_is_created_again() {
    let server = MockServer::start().await;
    one_account(&server).await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path("/v5/ad_accounts/a1/reports"))
        .respond_with(ok(json!({"report_status": "IN_PROGRESS", "token": "slow"})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    // 60 minutes at one poll every 5 s: 720 polls, then the job is abandoned.
    polls(
        &server,
        "slow",
        vec![json!({"report_status": "IN_PROGRESS"})],
        720,
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/v5/ad_accounts/a1/reports"))
        .respond_with(ok(json!({"report_status": "IN_PROGRESS", "token": "fast"})))
        .expect(1)
        .mount(&server)
        .await;
    polls(
        &server,
        "fast",
        vec![json!({"report_status": "FINISHED", "url": format!("{uri}/files/fast")})],
        2,
    )
    .await;
    download(&server, "fast", json!({"1": [{"DATE": "2024-04-04"}]})).await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &uri, NOW),
        &config(),
        &catalog(&[("campaign_targeting_report", "incremental")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(r.records("campaign_targeting_report").len(), 1);
}

#[tokio::test]
async fn report_creation_retries_analytics_errors_and_rate_limited_url_refreshes() {
    let server = MockServer::start().await;
    one_account(&server).await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path("/v5/ad_accounts/a1/reports"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"code": 12, "message": "Something went wrong"})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v5/ad_accounts/a1/reports"))
        .respond_with(ok(json!({"report_status": "IN_PROGRESS", "token": "t"})))
        .expect(1)
        .mount(&server)
        .await;
    polls(
        &server,
        "t",
        vec![
            json!({"report_status": "FINISHED", "url": format!("{uri}/files/stale")}),
            json!({"code": 8, "message": "Rate limit exceeded"}),
            json!({"report_status": "FINISHED", "url": format!("{uri}/files/fresh")}),
        ],
        1,
    )
    .await;
    download(&server, "fresh", json!({"1": [{"DATE": "2024-04-06"}]})).await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &uri, NOW),
        &config(),
        &catalog(&[("pin_promotion_report", "incremental")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(
        r.records("pin_promotion_report"),
        vec![json!({"DATE": "2024-04-06"})]
    );
}

fn custom_config() -> Value {
    let mut c = config();
    c["custom_reports"] = json!([{
        "name": "MyAdsReport",
        "level": "PIN_PROMOTION",
        "granularity": "DAY",
        "columns": ["ADVERTISER_ID", "AD_ACCOUNT_ID", "AD_ID", "PIN_PROMOTION_ID", "SPEND_IN_DOLLAR"],
        "click_window_days": 30,
        "engagement_window_days": 0,
        "conversion_report_time": "TIME_OF_AD_ACTION",
        "campaign_statuses": ["RUNNING", "PAUSED", "NOT_STARTED", "COMPLETED", "ADVERTISER_DISABLED", "ARCHIVED", "DRAFT"],
        "ad_statuses": ["APPROVED"],
        "start_date": "2024-04-08"
    }]);
    c
}

#[tokio::test]
async fn custom_reports_chunk_statuses_send_official_bodies_and_keep_chunk_partitions_in_state() {
    let server = MockServer::start().await;
    one_account(&server).await;
    let uri = server.uri();
    let first = json!([
        "RUNNING",
        "PAUSED",
        "NOT_STARTED",
        "COMPLETED",
        "ADVERTISER_DISABLED",
        "ARCHIVED"
    ]);
    for (token, chunk, rows) in [
        (
            "c1",
            first.clone(),
            json!({"9": [{"DATE": "2024-04-09", "SPEND_IN_DOLLAR": "1", "AD_ID": 7}]}),
        ),
        ("c2", json!(["DRAFT"]), json!({})),
    ] {
        // Key order matters to some API gateways: compare the raw body text.
        let body = json!({
            "start_date": "2024-04-08", "end_date": "2024-04-10", "level": "PIN_PROMOTION", "granularity": "DAY",
            "click_window_days": 30, "engagement_window_days": 0,
            "conversion_report_time": "TIME_OF_AD_ACTION", "attribution_types": ["INDIVIDUAL", "HOUSEHOLD"],
            "columns": ["ADVERTISER_ID", "AD_ACCOUNT_ID", "AD_ID", "PIN_PROMOTION_ID", "SPEND_IN_DOLLAR"],
            "campaign_statuses": chunk, "ad_statuses": ["APPROVED"]
        });
        let text = body.to_string();
        Mock::given(method("POST"))
            .and(path("/v5/ad_accounts/a1/reports"))
            .and(body_partial_json(json!({"campaign_statuses": chunk})))
            .and(move |r: &Request| String::from_utf8_lossy(&r.body) == text)
            .respond_with(ok(json!({"report_status": "IN_PROGRESS", "token": token})))
            .expect(1)
            .mount(&server)
            .await;
        polls(
            &server,
            token,
            vec![json!({"report_status": "FINISHED", "url": format!("{uri}/files/{token}")})],
            2,
        )
        .await;
        download(&server, token, rows).await;
    }
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &uri, NOW),
        &custom_config(),
        &catalog(&[("custom__my_ads_report", "incremental")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(
        r.records("custom__my_ads_report"),
        vec![json!({"DATE": "2024-04-09", "SPEND_IN_DOLLAR": 1.0, "AD_ID": "7"})]
    );
    assert_eq!(
        r.last_state("custom__my_ads_report").unwrap(),
        json!({"use_global_cursor": false, "states": [
            {"partition": {"ad_statuses_chunk": ["APPROVED"], "campaign_statuses_chunk": first, "id": "a1", "parent_slice": {}},
             "cursor": {"DATE": "2024-04-09"}},
            {"partition": {"ad_statuses_chunk": ["APPROVED"], "campaign_statuses_chunk": ["DRAFT"], "id": "a1", "parent_slice": {}},
             "cursor": {"DATE": "2024-04-08"}}
        ], "state": {"DATE": "2024-04-09"}, "lookback_window": 0})
    );
}

#[tokio::test]
async fn custom_report_resumes_each_chunk_partition_from_its_cursor() {
    let server = MockServer::start().await;
    one_account(&server).await;
    let uri = server.uri();
    let first = json!([
        "RUNNING",
        "PAUSED",
        "NOT_STARTED",
        "COMPLETED",
        "ADVERTISER_DISABLED",
        "ARCHIVED"
    ]);
    for (token, chunk, start) in [
        ("c1", first.clone(), "2024-04-09"),
        ("c2", json!(["DRAFT"]), "2024-04-08"),
    ] {
        Mock::given(method("POST"))
            .and(path("/v5/ad_accounts/a1/reports"))
            .and(body_partial_json(
                json!({"campaign_statuses": chunk, "start_date": start, "end_date": "2024-04-10"}),
            ))
            .respond_with(ok(json!({"report_status": "IN_PROGRESS", "token": token})))
            .expect(1)
            .mount(&server)
            .await;
        polls(
            &server,
            token,
            vec![json!({"report_status": "FINISHED", "url": format!("{uri}/files/{token}")})],
            2,
        )
        .await;
        download(&server, token, json!({})).await;
    }
    let state = json!({"use_global_cursor": false, "states": [
        {"partition": {"ad_statuses_chunk": ["APPROVED"], "campaign_statuses_chunk": first, "id": "a1", "parent_slice": {}},
         "cursor": {"DATE": "2024-04-09"}}
    ], "state": {"DATE": "2024-04-09"}, "lookback_window": 86400});
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &uri, NOW),
        &custom_config(),
        &catalog(&[("custom__my_ads_report", "incremental")]),
        Some(&state_for("custom__my_ads_report", state)),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
}

#[tokio::test]
async fn a_custom_report_without_conversion_report_time_fails_with_a_config_error_and_no_job() {
    let server = MockServer::start().await;
    one_account(&server).await;
    Mock::given(method("POST"))
        .and(path("/v5/ad_accounts/a1/reports"))
        .respond_with(ok(json!({"token": "never"})))
        .expect(0)
        .mount(&server)
        .await;
    let mut c = custom_config();
    c["custom_reports"][0]
        .as_object_mut()
        .unwrap()
        .remove("conversion_report_time");
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &c,
        &catalog(&[("custom__my_ads_report", "incremental")]),
        None,
    )
    .await;
    assert_eq!(r.code, 1);
    let e = &r.errors()[0];
    assert_eq!(e["failure_type"], "config_error");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("conversion_report_time"),
        "{e}"
    );
}
