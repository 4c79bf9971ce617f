//! Klaviyo: the official legacy state migrations, resuming from official states, `check`, and
//! error and rate-limit handling (API key errors, `Retry-After`, report skips and quota).

use connector_runtime::prelude::*;
use integration_tests::klaviyo::{config, empty, get, run_read, sorted, KEY};
use integration_tests::{env, ok, with_config};
use source_klaviyo::{SourceKlaviyo, BASE_URL_VAR};
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const INVALID_KEY: &str =
    "Please provide a valid API key and make sure it has permissions to read specified streams.";

/// One campaigns request per partition, each starting where `starts` says.
async fn mount_campaign_partitions(server: &MockServer, starts: &[(&str, &str, &str)]) {
    for (channel, archived, from) in starts {
        get("/api/campaigns")
            .and(query_param(
                "filter",
                format!("and(greater-or-equal(updated_at,{from}),less-or-equal(updated_at,2024-02-15T00:00:00+0000),equals(messages.channel,'{channel}'),equals(archived,{archived}))").as_str(),
            ))
            .respond_with(empty())
            .expect(1)
            .mount(server)
            .await;
    }
}

#[tokio::test]
async fn legacy_campaigns_state_with_an_archived_sub_object_becomes_per_partition() {
    for stream in ["campaigns", "campaigns_detailed"] {
        let server = MockServer::start().await;
        mount_campaign_partitions(
            &server,
            &[
                ("email", "false", "2024-02-01T00:00:00+0000"),
                ("email", "true", "2024-01-20T00:00:00+0000"),
                ("sms", "false", "2024-01-01T00:00:00+0000"),
                ("sms", "true", "2024-01-01T00:00:00+0000"),
            ],
        )
        .await;
        let legacy = json!({"updated_at": "2024-02-01T00:00:00+00:00", "archived": {"updated_at": "2024-01-20T00:00:00+00:00"}});
        let run = run_read(
            &server,
            "2024-02-15T00:00:00Z",
            &config(),
            stream,
            Some(legacy),
        )
        .await;
        assert_eq!(run.code, 0, "{}", run.raw);
        assert_eq!(
            sorted(run.last_state(stream).unwrap())["states"],
            json!([
                {"partition": {"archived": "false", "campaign_type": "email"}, "cursor": {"updated_at": "2024-02-01T00:00:00+0000"}},
                {"partition": {"archived": "false", "campaign_type": "sms"}, "cursor": {"updated_at": "2024-01-01T00:00:00+0000"}},
                {"partition": {"archived": "true", "campaign_type": "email"}, "cursor": {"updated_at": "2024-01-20T00:00:00+0000"}},
                {"partition": {"archived": "true", "campaign_type": "sms"}, "cursor": {"updated_at": "2024-01-01T00:00:00+0000"}}
            ]),
            "{stream}"
        );
    }
}

#[tokio::test]
async fn legacy_campaigns_state_without_archived_value_defaults_to_the_start_date() {
    let server = MockServer::start().await;
    mount_campaign_partitions(
        &server,
        &[
            ("email", "false", "2024-02-01T00:00:00+0000"),
            ("email", "true", "2024-01-01T00:00:00+0000"),
            ("sms", "false", "2024-01-01T00:00:00+0000"),
            ("sms", "true", "2024-01-01T00:00:00+0000"),
        ],
    )
    .await;
    let run = run_read(
        &server,
        "2024-02-15T00:00:00Z",
        &config(),
        "campaigns",
        Some(json!({"updated_at": "2024-02-01T00:00:00+0000"})),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
}

#[tokio::test]
async fn global_mode_campaigns_state_is_not_mistaken_for_a_legacy_one() {
    let server = MockServer::start().await;
    let from = "2024-02-05T00:00:00+0000";
    mount_campaign_partitions(
        &server,
        &[
            ("email", "false", from),
            ("email", "true", from),
            ("sms", "false", from),
            ("sms", "true", from),
        ],
    )
    .await;
    let state =
        json!({"use_global_cursor": true, "state": {"updated_at": from}, "lookback_window": 0});
    let run = run_read(
        &server,
        "2024-02-15T00:00:00Z",
        &config(),
        "campaigns",
        Some(state),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
}

#[tokio::test]
async fn legacy_flows_state_with_an_archived_sub_object_becomes_per_partition() {
    let server = MockServer::start().await;
    for (archived, from) in [
        ("false", "2024-02-01T00:00:00+0000"),
        ("true", "2024-01-10T00:00:00+0000"),
    ] {
        get("/api/flows")
            .and(query_param(
                "filter",
                format!("and(greater-or-equal(updated,{from}),less-or-equal(updated,2024-02-05T00:00:00+0000),equals(archived,{archived}))").as_str(),
            ))
            .respond_with(empty())
            .expect(1)
            .mount(&server)
            .await;
    }
    let legacy = json!({"updated": "2024-02-01T00:00:00+0000", "archived": {"updated": "2024-01-10T00:00:00+0000"}});
    let run = run_read(
        &server,
        "2024-02-05T00:00:00Z",
        &config(),
        "flows",
        Some(legacy),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        sorted(run.last_state("flows").unwrap())["states"],
        json!([
            {"partition": {"archived": "false"}, "cursor": {"updated": "2024-02-01T00:00:00+0000"}},
            {"partition": {"archived": "true"}, "cursor": {"updated": "2024-01-10T00:00:00+0000"}}
        ])
    );
}

#[tokio::test]
async fn an_official_flows_state_resumes_each_partition_where_it_stopped() {
    let server = MockServer::start().await;
    for (archived, from) in [
        ("false", "2024-05-30T09:00:00+0000"),
        ("true", "2024-05-20T00:00:00+0000"),
    ] {
        get("/api/flows")
            .and(query_param(
                "filter",
                format!("and(greater-or-equal(updated,{from}),less-or-equal(updated,2024-06-01T00:00:00+0000),equals(archived,{archived}))").as_str(),
            ))
            .respond_with(empty())
            .expect(1)
            .mount(&server)
            .await;
    }
    let state = json!({"use_global_cursor": false,
        "states": [{"partition": {"archived": "true"}, "cursor": {"updated": "2024-05-20T00:00:00+0000"}},
                   {"partition": {"archived": "false"}, "cursor": {"updated": "2024-05-30T09:00:00+0000"}}],
        "state": {"updated": "2024-05-30T09:00:00+0000"}, "lookback_window": 2});
    let run = run_read(
        &server,
        "2024-06-01T00:00:00Z",
        &config(),
        "flows",
        Some(state),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let out = sorted(run.last_state("flows").unwrap());
    assert_eq!(
        out["states"][1]["cursor"],
        json!({"updated": "2024-05-20T00:00:00+0000"})
    );
    assert_eq!(out["state"], json!({"updated": "2024-05-30T09:00:00+0000"}));
}

#[tokio::test]
async fn legacy_per_event_events_detailed_state_collapses_to_the_smallest_cursor() {
    let server = MockServer::start().await;
    get("/api/events")
        .and(query_param("filter", "greater-or-equal(datetime,2024-01-03T00:00:00+0000),less-than(datetime,2024-01-05T00:00:00+0000)"))
        .respond_with(empty())
        .expect(1)
        .mount(&server)
        .await;
    let legacy = json!({"states": [
        {"partition": {"event_id": "a", "parent_slice": {}}, "cursor": {"datetime": "2024-01-04 00:00:00+00:00"}},
        {"partition": {"event_id": "b", "parent_slice": {}}, "cursor": {"datetime": "2024-01-03 00:00:00+00:00"}}
    ]});
    let run = run_read(
        &server,
        "2024-01-05T00:00:00Z",
        &config(),
        "events_detailed",
        Some(legacy),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.last_state("events_detailed").unwrap()["states"],
        json!([{"partition": {"metric_id": ""}, "cursor": {"datetime": "2024-01-03T00:00:00+0000"}}])
    );
}

#[tokio::test]
async fn a_flat_events_state_is_the_start_of_every_metric_partition() {
    for stream in ["events", "events_detailed"] {
        let server = MockServer::start().await;
        for id in ["AAA111", "BBB222"] {
            get("/api/events")
                .and(query_param(
                    "filter",
                    format!("greater-or-equal(datetime,2024-01-04T10:00:00+0000),less-than(datetime,2024-01-05T00:00:00+0000),equals(metric_id,\"{id}\")").as_str(),
                ))
                .respond_with(empty())
                .expect(1)
                .mount(&server)
                .await;
        }
        let mut cfg = config();
        cfg["event_metric_ids"] = json!("AAA111,BBB222");
        let run = run_read(
            &server,
            "2024-01-05T00:00:00Z",
            &cfg,
            stream,
            Some(json!({"datetime": "2024-01-04T10:00:00+00:00"})),
        )
        .await;
        assert_eq!(run.code, 0, "{}", run.raw);
        assert_eq!(
            sorted(run.last_state(stream).unwrap()),
            json!({"use_global_cursor": false, "states": [
                {"partition": {"metric_id": "AAA111"}, "cursor": {"datetime": "2024-01-04T10:00:00+0000"}},
                {"partition": {"metric_id": "BBB222"}, "cursor": {"datetime": "2024-01-04T10:00:00+0000"}}
            ], "state": {"datetime": "2024-01-04T10:00:00+0000"}, "lookback_window": 0}),
            "{stream}"
        );
    }
}

#[tokio::test]
async fn check_reads_metrics() {
    let server = MockServer::start().await;
    get("/api/metrics")
        .respond_with(empty())
        .expect(1)
        .mount(&server)
        .await;
    let run = with_config(
        &SourceKlaviyo,
        env(BASE_URL_VAR, &server.uri(), "2024-06-01T00:00:00Z"),
        "check",
        &config(),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.connection_status()["status"], "SUCCEEDED");
}

#[tokio::test]
async fn check_with_an_invalid_key_fails_with_the_official_message() {
    let server = MockServer::start().await;
    get("/api/metrics")
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"errors": [{"detail": "Incorrect authentication credentials."}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let run = with_config(
        &SourceKlaviyo,
        env(BASE_URL_VAR, &server.uri(), "2024-06-01T00:00:00Z"),
        "check",
        &config(),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.connection_status()["status"], "FAILED");
    assert_eq!(
        run.connection_status()["message"],
        format!("Stream metrics is not available: {INVALID_KEY}")
    );
    assert!(!run.raw.contains(KEY));
}

#[tokio::test]
async fn forbidden_is_a_config_error_with_the_official_message() {
    let server = MockServer::start().await;
    get("/api/segments")
        .respond_with(ResponseTemplate::new(403))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_read(&server, "2024-06-01T00:00:00Z", &config(), "segments", None).await;
    assert_eq!(run.code, 1);
    let errors = run.errors();
    assert_eq!(errors[0]["failure_type"], "config_error");
    assert_eq!(errors[0]["message"], INVALID_KEY);
    assert_eq!(run.statuses("segments"), vec!["STARTED", "INCOMPLETE"]);
}

#[tokio::test]
async fn rate_limited_requests_wait_for_retry_after_then_succeed() {
    let server = MockServer::start().await;
    get("/api/lists")
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    get("/api/lists")
        .respond_with(ok(json!({"data": [{"type": "list", "id": "L1", "attributes": {"updated": "2024-03-01T00:00:00+00:00"}}], "links": {}})))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_read(&server, "2024-06-01T00:00:00Z", &config(), "lists", None).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("lists").len(), 1);
    assert!(
        run.logs().iter().any(|l| l.contains("retrying in 3.0s")),
        "{:?}",
        run.logs()
    );
}

async fn mount_two_report_metrics(server: &MockServer) {
    get("/api/metrics")
        .respond_with(ok(json!({"data": [
            {"type": "metric", "id": "GOOD", "attributes": {"updated": "2023-01-01T00:00:00+00:00"}},
            {"type": "metric", "id": "NOVAL", "attributes": {"updated": "2023-01-01T00:00:00+00:00"}}
        ], "links": {"next": null}})))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn report_metrics_without_values_data_are_skipped_and_the_others_are_read() {
    let server = MockServer::start().await;
    mount_two_report_metrics(&server).await;
    Mock::given(method("POST"))
        .and(path("/api/campaign-values-reports"))
        .and(body_partial_json(
            json!({"data": {"attributes": {"conversion_metric_id": "NOVAL"}}}),
        ))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"errors": [{"status": 400,
            "detail": "The conversion metric NOVAL does not support querying for values data."}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/campaign-values-reports"))
        .and(body_partial_json(json!({"data": {"attributes": {"conversion_metric_id": "GOOD"}}})))
        .respond_with(ok(json!({"data": {"attributes": {"results": [
            {"groupings": {"campaign_id": "C1", "campaign_message_id": "CM1", "send_channel": "email"}, "statistics": {"opens": 1}}
        ]}}, "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    let mut cfg = config();
    cfg["start_date"] = json!("2024-06-01T00:00:00Z");
    let run = run_read(
        &server,
        "2024-06-10T08:00:00Z",
        &cfg,
        "campaign_values_reports",
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let records = run.records("campaign_values_reports");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["conversion_metric_id"], "GOOD");
    assert_eq!(
        sorted(run.last_state("campaign_values_reports").unwrap())["states"],
        json!([
            {"partition": {"metric_id": "GOOD", "parent_slice": {}}, "cursor": {"date": "2024-06-10T00:00:00+0000"}},
            {"partition": {"metric_id": "NOVAL", "parent_slice": {}}, "cursor": {"date": "2024-06-01T00:00:00+0000"}}
        ])
    );
}

#[tokio::test]
async fn a_report_quota_429_with_an_excessive_wait_fails_fast() {
    let server = MockServer::start().await;
    get("/api/metrics")
        .respond_with(ok(
            json!({"data": [{"type": "metric", "id": "GOOD", "attributes": {}}], "links": {}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/flow-series-reports"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "73473"))
        .expect(1)
        .mount(&server)
        .await;
    let mut cfg = config();
    cfg["metric_ids"] = json!("GOOD");
    let run = run_read(
        &server,
        "2024-01-10T08:00:00Z",
        &cfg,
        "flow_series_reports",
        None,
    )
    .await;
    assert_eq!(run.code, 1);
    let errors = run.errors();
    assert_eq!(errors.len(), 1);
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.contains("greater than max waiting time"),
        "{message}"
    );
    assert_eq!(
        run.statuses("flow_series_reports"),
        vec!["STARTED", "INCOMPLETE"]
    );
}

#[tokio::test]
async fn a_new_report_metric_starts_at_the_global_midnight_not_seconds_before_it() {
    let server = MockServer::start().await;
    mount_two_report_metrics(&server).await;
    for metric in ["GOOD", "NOVAL"] {
        Mock::given(method("POST"))
            .and(path("/api/campaign-values-reports"))
            .and(body_partial_json(json!({"data": {"attributes": {"conversion_metric_id": metric,
                "timeframe": {"start": "2024-06-15T00:00:00+0000", "end": "2024-06-19T23:59:59+0000"}}}})))
            .respond_with(ok(json!({"data": {"attributes": {"results": []}}, "links": {"next": null}})))
            .expect(1)
            .mount(&server)
            .await;
    }
    // Only GOOD has a cursor; NOVAL falls back to the global cursor.
    let state = json!({"use_global_cursor": false,
        "states": [{"partition": {"metric_id": "GOOD", "parent_slice": {}}, "cursor": {"date": "2024-06-15T00:00:00+0000"}}],
        "state": {"date": "2024-06-15T00:00:00+0000"}, "lookback_window": 40, "parent_state": {}});
    let run = run_read(
        &server,
        "2024-06-20T08:15:00Z",
        &config(),
        "campaign_values_reports",
        Some(state),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
}

/// Campaign C1 in the email/active partition, the other partitions empty. `exact`: expect each
/// partition's request once (not when the stream fails, which cancels partitions not yet read).
async fn mount_one_email_campaign(server: &MockServer, exact: bool) {
    for channel in ["sms", "email"] {
        for archived in ["true", "false"] {
            let data = if channel == "email" && archived == "false" {
                json!([{"type": "campaign", "id": "C1", "attributes": {"updated_at": "2024-02-01T00:00:00+00:00"}}])
            } else {
                json!([])
            };
            get("/api/campaigns")
                .and(query_param(
                    "filter",
                    format!("and(greater-or-equal(updated_at,2024-01-01T00:00:00+0000),less-or-equal(updated_at,2024-06-01T00:00:00+0000),equals(messages.channel,'{channel}'),equals(archived,{archived}))").as_str(),
                ))
                .respond_with(ok(json!({"data": data, "links": {"next": null}})))
                .expect(if exact || data.as_array().is_some_and(|d| !d.is_empty()) { 1..=1 } else { 0..=1 })
                .mount(server)
                .await;
        }
    }
}

#[tokio::test]
async fn campaigns_detailed_extra_calls_retry_server_errors() {
    let server = MockServer::start().await;
    mount_one_email_campaign(&server, true).await;
    get("/api/campaign-recipient-estimations/C1")
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    get("/api/campaign-recipient-estimations/C1")
        .respond_with(ok(
            json!({"data": {"attributes": {"estimated_recipient_count": 9}}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_read(
        &server,
        "2024-06-01T00:00:00Z",
        &config(),
        "campaigns_detailed",
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let records = run.records("campaigns_detailed");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["estimated_recipient_count"], 9);
    // No campaign-messages link: nothing requested, no key.
    assert!(records[0].get("campaign_messages").is_none());
}

#[tokio::test]
async fn campaigns_detailed_extra_calls_fail_fast_beyond_ten_minutes_of_retry_after() {
    let server = MockServer::start().await;
    mount_one_email_campaign(&server, false).await;
    get("/api/campaign-recipient-estimations/C1")
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "601"))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_read(
        &server,
        "2024-06-01T00:00:00Z",
        &config(),
        "campaigns_detailed",
        None,
    )
    .await;
    assert_eq!(run.code, 1);
    let message = run.errors()[0]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("greater than max waiting time"),
        "{message}"
    );
}
