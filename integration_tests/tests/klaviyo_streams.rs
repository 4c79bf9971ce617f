//! Klaviyo: the exact request of every stream, its records after transformation and its final
//! state, against a wiremock Klaviyo.

use connector_runtime::prelude::*;
use integration_tests::klaviyo::{self, config, sorted, KEY};
use integration_tests::{env, ok, run, with_config, Run};
use source_klaviyo::{SourceKlaviyo, BASE_URL_VAR};
use wiremock::matchers::{body_partial_json, header, query_param, query_param_is_missing};
use wiremock::{MockBuilder, MockServer, ResponseTemplate};

/// A GET on `p` carrying the headers every Klaviyo request must have.
fn get(p: &str) -> MockBuilder {
    klaviyo::get(p).and(header("Accept", "application/json"))
}

fn post(p: &str) -> MockBuilder {
    klaviyo::request("POST", p).and(header("Content-Type", "application/json"))
}

/// Reads `stream` and requires a successful run whose records match the discovered schema.
async fn run_read(
    server: &MockServer,
    now: &str,
    cfg: &Value,
    stream: &str,
    state: Option<Value>,
) -> Run {
    let run = klaviyo::run_read(server, now, cfg, stream, state).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_records_match_schema(server, now, cfg, stream, &run).await;
    run
}

/// Every emitted record validates against the stream's discovered JSON schema.
async fn assert_records_match_schema(
    server: &MockServer,
    now: &str,
    cfg: &Value,
    stream: &str,
    run: &Run,
) {
    let discovered = with_config(
        &SourceKlaviyo,
        env(BASE_URL_VAR, &server.uri(), now),
        "discover",
        cfg,
    )
    .await;
    let catalog = discovered.catalog();
    let schema = catalog["streams"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == stream))
        .map(|s| s["json_schema"].clone())
        .unwrap_or_else(|| panic!("{stream} is not in the catalog"));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .build(&schema)
        .expect("schema compiles");
    for record in run.records(stream) {
        let errors: Vec<String> = validator
            .iter_errors(&record)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{stream} record {record} does not match its schema: {errors:?}"
        );
    }
}

#[tokio::test]
async fn spec_is_the_official_one_with_the_api_key_secret() {
    let server = MockServer::start().await;
    let out = run(
        &SourceKlaviyo,
        env(BASE_URL_VAR, &server.uri(), "2024-06-01T00:00:00Z"),
        &["spec"],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.raw);
    let spec = out.spec();
    let props = &spec["connectionSpecification"]["properties"];
    let mut keys: Vec<&str> = props
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "api_key",
            "disable_fetching_predictive_analytics",
            "event_metric_ids",
            "lookback_window",
            "metric_ids",
            "num_workers",
            "reporting_lookback_window",
            "start_date"
        ]
    );
    assert_eq!(props["api_key"]["airbyte_secret"], true);
    assert_eq!(
        spec["connectionSpecification"]["required"],
        json!(["api_key"])
    );
}

#[tokio::test]
async fn discover_lists_the_fourteen_official_streams_with_keys_and_cursors() {
    let server = MockServer::start().await;
    let run = with_config(
        &SourceKlaviyo,
        env(BASE_URL_VAR, &server.uri(), "2024-06-01T00:00:00Z"),
        "discover",
        &config(),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let expected: Vec<(&str, Value, &str)> = vec![
        ("profiles", json!([["id"]]), "updated"),
        ("global_exclusions", json!([["id"]]), "updated"),
        ("events", json!([["id"]]), "datetime"),
        ("events_detailed", json!([["id"]]), "datetime"),
        ("email_templates", json!([["id"]]), "updated"),
        ("campaigns", json!([["id"]]), "updated_at"),
        ("campaigns_detailed", json!([["id"]]), "updated_at"),
        ("flows", json!([["id"]]), "updated"),
        ("metrics", json!([["id"]]), "updated"),
        ("lists", json!([["id"]]), "updated"),
        ("lists_detailed", json!([["id"]]), "updated"),
        ("segments", json!([["id"]]), "updated"),
        (
            "flow_series_reports",
            json!([
                ["date"],
                ["flow_id"],
                ["flow_message_id"],
                ["send_channel"],
                ["conversion_metric_id"]
            ]),
            "date",
        ),
        (
            "campaign_values_reports",
            json!([
                ["date"],
                ["campaign_id"],
                ["campaign_message_id"],
                ["send_channel"],
                ["conversion_metric_id"]
            ]),
            "date",
        ),
    ];
    let catalog = run.catalog();
    let streams = catalog["streams"].as_array().unwrap();
    assert_eq!(streams.len(), expected.len());
    for (s, (name, pk, cursor)) in streams.iter().zip(expected) {
        assert_eq!(s["name"], name);
        assert_eq!(s["source_defined_primary_key"], pk, "{name}");
        assert_eq!(s["default_cursor_field"], json!([cursor]), "{name}");
        assert_eq!(
            s["supported_sync_modes"],
            json!(["full_refresh", "incremental"]),
            "{name}"
        );
        assert_eq!(s["json_schema"]["type"], "object", "{name}");
    }
    let events = streams.iter().find(|s| s["name"] == "events").unwrap();
    assert!(
        events["json_schema"]["properties"]["attributes"]["properties"]["event_properties"]
            .is_object()
    );
    assert!(!run
        .stream_names()
        .contains(&"metrics_for_reporting".to_string()));
}

#[tokio::test]
async fn profiles_sends_the_official_query_follows_links_next_and_keeps_the_cursor() {
    let server = MockServer::start().await;
    let next = format!("{}/api/profiles?page%5Bcursor%5D=P2", server.uri());
    get("/api/profiles")
        .and(query_param("additional-fields[profile]", "subscriptions,predictive_analytics"))
        .and(query_param("filter", "greater-than(updated,2024-01-01T00:00:00+0000)"))
        .and(query_param("sort", "updated"))
        .and(query_param("page[size]", "100"))
        .and(query_param_is_missing("page[cursor]"))
        .respond_with(ok(json!({
            "data": [{"type": "profile", "id": "p1", "attributes": {"email": "a@x.io", "updated": "2024-02-01T10:00:00+00:00",
                "location": {"region": 12}}}],
            "links": {"next": next}
        })))
        .expect(1)
        .mount(&server)
        .await;
    get("/api/profiles")
        .and(query_param("page[cursor]", "P2"))
        .respond_with(ok(json!({
            "data": [{"type": "profile", "id": "p2", "attributes": {"updated": "2024-03-01T08:00:00+00:00"}}],
            "links": {"next": null}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_read(&server, "2024-06-01T00:00:00Z", &config(), "profiles", None).await;
    let records = run.records("profiles");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["updated"], "2024-02-01T10:00:00+00:00");
    // Normalised to the schema: the region is a string.
    assert_eq!(records[0]["attributes"]["location"]["region"], "12");
    assert_eq!(
        run.last_state("profiles").unwrap(),
        json!({"updated": "2024-03-01T08:00:00+0000"})
    );
    assert!(!run.raw.contains(KEY));
}

#[tokio::test]
async fn profiles_without_predictive_analytics_asks_only_for_subscriptions_and_resumes_from_state()
{
    let server = MockServer::start().await;
    get("/api/profiles")
        .and(query_param("additional-fields[profile]", "subscriptions"))
        .and(query_param(
            "filter",
            "greater-than(updated,2024-03-01T08:00:00+0000)",
        ))
        .respond_with(ok(json!({"data": [], "links": {}})))
        .expect(1)
        .mount(&server)
        .await;
    let mut cfg = config();
    cfg["disable_fetching_predictive_analytics"] = json!(true);
    let run = run_read(
        &server,
        "2024-06-01T00:00:00Z",
        &cfg,
        "profiles",
        Some(json!({"updated": "2024-03-01T08:00:00+00:00"})),
    )
    .await;
    assert!(run.records("profiles").is_empty());
    assert_eq!(
        run.last_state("profiles").unwrap(),
        json!({"updated": "2024-03-01T08:00:00+0000"})
    );
}

#[tokio::test]
async fn global_exclusions_keeps_suppressed_profiles_and_renames_the_suppression_key() {
    let server = MockServer::start().await;
    get("/api/profiles")
        .and(query_param("additional-fields[profile]", "subscriptions"))
        .and(query_param("page[size]", "100"))
        .and(query_param_is_missing("filter"))
        .and(query_param_is_missing("sort"))
        .respond_with(ok(json!({"data": [
            {"type": "profile", "id": "kept", "attributes": {"updated": "2024-02-02T00:00:00+00:00",
                "subscriptions": {"email": {"marketing": {"consent": "UNSUBSCRIBED",
                    "suppression": [{"reason": "HARD_BOUNCE", "timestamp": "2024-02-01T00:00:00+00:00"}]}}}}},
            {"type": "profile", "id": "dropped", "attributes": {"updated": "2024-02-03T00:00:00+00:00",
                "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED", "suppression": []}}}}}
        ], "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_read(
        &server,
        "2024-06-01T00:00:00Z",
        &config(),
        "global_exclusions",
        None,
    )
    .await;
    let records = run.records("global_exclusions");
    assert_eq!(
        records,
        vec![
            json!({"type": "profile", "id": "kept", "attributes": {"updated": "2024-02-02T00:00:00+00:00",
            "subscriptions": {"email": {"marketing": {"consent": "UNSUBSCRIBED",
                "suppressions": [{"reason": "HARD_BOUNCE", "timestamp": "2024-02-01T00:00:00+00:00"}]}}}},
            "updated": "2024-02-02T00:00:00+00:00"})
        ]
    );
    assert_eq!(
        run.last_state("global_exclusions").unwrap(),
        json!({"updated": "2024-02-02T00:00:00+0000"})
    );
}

#[tokio::test]
async fn events_windows_are_contiguous_so_the_last_second_of_a_week_is_read() {
    let server = MockServer::start().await;
    // Week 1: [01-01, 01-08) — the official filter would stop at less-than 01-07T23:59:59.
    get("/api/events")
        .and(query_param("filter", "greater-or-equal(datetime,2024-01-01T00:00:00+0000),less-than(datetime,2024-01-08T00:00:00+0000)"))
        .and(query_param("fields[event]", "event_properties,timestamp,uuid,datetime"))
        .and(query_param("fields[metric]", "name,created,updated,integration"))
        .and(query_param("include", "metric,attributions"))
        .and(query_param("sort", "datetime"))
        .respond_with(ok(json!({"data": [
            {"type": "event", "id": "e1", "attributes": {"datetime": "2024-01-07T23:59:59.500000+00:00", "event_properties": {}},
             "relationships": {"metric": {"data": {"type": "metric", "id": "M1"}}}}
        ], "included": [{"type": "metric", "id": "M1", "attributes": {"name": "Placed Order"}}], "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    get("/api/events")
        .and(query_param("filter", "greater-or-equal(datetime,2024-01-08T00:00:00+0000),less-than(datetime,2024-01-10T12:00:00+0000)"))
        .respond_with(ok(json!({"data": [
            {"type": "event", "id": "e2", "attributes": {"datetime": "2024-01-09T05:00:00+00:00"}}
        ], "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_read(&server, "2024-01-10T12:00:00Z", &config(), "events", None).await;
    let records = run.records("events");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["datetime"], "2024-01-07T23:59:59.500000+00:00");
    // The plain events stream does not merge `included`.
    assert_eq!(
        records[0]["relationships"]["metric"]["data"],
        json!({"type": "metric", "id": "M1"})
    );
    // One checkpoint per window, then the final state.
    assert_eq!(run.states("events").len(), 3);
    assert_eq!(
        run.last_state("events").unwrap(),
        json!({"use_global_cursor": false,
               "states": [{"partition": {"metric_id": ""}, "cursor": {"datetime": "2024-01-09T05:00:00+0000"}}],
               "state": {"datetime": "2024-01-09T05:00:00+0000"}, "lookback_window": 0})
    );
}

#[tokio::test]
async fn events_with_event_metric_ids_read_one_partition_per_metric() {
    let server = MockServer::start().await;
    for (id, dt) in [
        ("AAA111", "2024-01-02T00:00:00+00:00"),
        ("BBB222", "2024-01-03T00:00:00+00:00"),
    ] {
        get("/api/events")
            .and(query_param(
                "filter",
                format!("greater-or-equal(datetime,2024-01-01T00:00:00+0000),less-than(datetime,2024-01-05T00:00:00+0000),equals(metric_id,\"{id}\")").as_str(),
            ))
            .respond_with(ok(json!({"data": [{"type": "event", "id": format!("e-{id}"), "attributes": {"datetime": dt}}], "links": {}})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let mut cfg = config();
    cfg["event_metric_ids"] = json!("AAA111, BBB222");
    let run = run_read(&server, "2024-01-05T00:00:00Z", &cfg, "events", None).await;
    assert_eq!(run.records("events").len(), 2);
    assert_eq!(
        sorted(run.last_state("events").unwrap()),
        json!({"use_global_cursor": false, "states": [
            {"partition": {"metric_id": "AAA111"}, "cursor": {"datetime": "2024-01-02T00:00:00+0000"}},
            {"partition": {"metric_id": "BBB222"}, "cursor": {"datetime": "2024-01-03T00:00:00+0000"}}
        ], "state": {"datetime": "2024-01-03T00:00:00+0000"}, "lookback_window": 0})
    );
}

#[tokio::test]
async fn events_detailed_merges_included_metrics_and_applies_the_lookback_window() {
    let server = MockServer::start().await;
    // Saved cursor 2024-01-09T00:00 minus the 2-day lookback.
    get("/api/events")
        .and(query_param("filter", "greater-or-equal(datetime,2024-01-07T00:00:00+0000),less-than(datetime,2024-01-10T00:00:00+0000)"))
        .and(query_param("include", "metric,attributions"))
        .and(query_param("fields[metric]", "name"))
        .and(query_param_is_missing("fields[event]"))
        .and(query_param("sort", "datetime"))
        .respond_with(ok(json!({"data": [
            {"type": "event", "id": "e1", "attributes": {"datetime": "2024-01-08T01:00:00+00:00"},
             "relationships": {"metric": {"data": {"type": "metric", "id": "M1"}},
                               "attributions": {"data": [{"type": "attribution", "id": "A1"}]}}}
        ], "included": [
            {"type": "metric", "id": "M1", "attributes": {"name": "Placed Order"}},
            {"type": "attribution", "id": "A1", "attributes": {"send_time": "x"}}
        ], "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    let mut cfg = config();
    cfg["lookback_window"] = json!(2);
    let state = json!({"use_global_cursor": false,
        "states": [{"partition": {"metric_id": ""}, "cursor": {"datetime": "2024-01-09T00:00:00+0000"}}],
        "state": {"datetime": "2024-01-09T00:00:00+0000"}, "lookback_window": 3});
    let run = run_read(
        &server,
        "2024-01-10T00:00:00Z",
        &cfg,
        "events_detailed",
        Some(state),
    )
    .await;
    let records = run.records("events_detailed");
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0]["relationships"]["metric"]["data"],
        json!({"type": "metric", "id": "M1", "name": "Placed Order"})
    );
    assert_eq!(
        records[0]["relationships"]["attributions"]["data"],
        json!([{"type": "attribution", "id": "A1"}])
    );
    assert_eq!(records[0]["datetime"], "2024-01-08T01:00:00+00:00");
    // The cursor never moves backwards.
    assert_eq!(
        run.last_state("events_detailed").unwrap()["states"],
        json!([{"partition": {"metric_id": ""}, "cursor": {"datetime": "2024-01-09T00:00:00+0000"}}])
    );
}

#[tokio::test]
async fn email_templates_filters_on_updated_and_sorts() {
    let server = MockServer::start().await;
    get("/api/templates")
        .and(query_param("filter", "greater-than(updated,2024-01-01T00:00:00+0000)"))
        .and(query_param("sort", "updated"))
        .and(query_param_is_missing("page[size]"))
        .respond_with(ok(json!({"data": [{"type": "template", "id": "T1", "attributes": {"name": "n", "updated": "2024-04-04T04:04:04+00:00"}}], "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_read(
        &server,
        "2024-06-01T00:00:00Z",
        &config(),
        "email_templates",
        None,
    )
    .await;
    assert_eq!(
        run.records("email_templates"),
        vec![
            json!({"type": "template", "id": "T1", "attributes": {"name": "n", "updated": "2024-04-04T04:04:04+00:00"}, "updated": "2024-04-04T04:04:04+00:00"})
        ]
    );
    assert_eq!(
        run.last_state("email_templates").unwrap(),
        json!({"updated": "2024-04-04T04:04:04+0000"})
    );
}

#[tokio::test]
async fn campaigns_reads_four_channel_archived_partitions_and_adds_the_channel() {
    let server = MockServer::start().await;
    for channel in ["sms", "email"] {
        for archived in ["true", "false"] {
            let filter = format!(
                "and(greater-or-equal(updated_at,2024-01-01T00:00:00+0000),less-or-equal(updated_at,2024-02-15T12:00:00+0000),equals(messages.channel,'{channel}'),equals(archived,{archived}))"
            );
            let data = if channel == "email" && archived == "false" {
                json!([{"type": "campaign", "id": "C1", "attributes": {"name": "c", "archived": false, "updated_at": "2024-02-01T00:00:00+00:00"}}])
            } else {
                json!([])
            };
            get("/api/campaigns")
                .and(query_param("filter", filter.as_str()))
                .and(query_param("sort", "updated_at"))
                .respond_with(ok(json!({"data": data, "links": {"next": null}})))
                .expect(1)
                .mount(&server)
                .await;
        }
    }
    let run = run_read(
        &server,
        "2024-02-15T12:00:00Z",
        &config(),
        "campaigns",
        None,
    )
    .await;
    assert_eq!(
        run.records("campaigns"),
        vec![
            json!({"type": "campaign", "id": "C1", "attributes": {"name": "c", "archived": false, "updated_at": "2024-02-01T00:00:00+00:00", "channel": "email"},
                    "updated_at": "2024-02-01T00:00:00+00:00"})
        ]
    );
    let start = json!({"updated_at": "2024-01-01T00:00:00+0000"});
    assert_eq!(
        sorted(run.last_state("campaigns").unwrap()),
        json!({"use_global_cursor": false, "states": [
            {"partition": {"archived": "false", "campaign_type": "email"}, "cursor": {"updated_at": "2024-02-01T00:00:00+0000"}},
            {"partition": {"archived": "false", "campaign_type": "sms"}, "cursor": start},
            {"partition": {"archived": "true", "campaign_type": "email"}, "cursor": start},
            {"partition": {"archived": "true", "campaign_type": "sms"}, "cursor": start}
        ], "state": {"updated_at": "2024-02-01T00:00:00+0000"}, "lookback_window": 0})
    );
}

#[tokio::test]
async fn campaigns_detailed_adds_recipient_estimates_and_messages_and_tolerates_404() {
    let server = MockServer::start().await;
    let related = format!("{}/api/campaigns/C1/campaign-messages", server.uri());
    for channel in ["sms", "email"] {
        for archived in ["true", "false"] {
            let data = if channel == "email" && archived == "false" {
                json!([
                    {"type": "campaign", "id": "C1", "attributes": {"updated_at": "2024-02-01T00:00:00+00:00"},
                     "relationships": {"campaign-messages": {"links": {"related": related}}}},
                    {"type": "campaign", "id": "C2", "attributes": {"updated_at": "2024-02-02T00:00:00+00:00"},
                     "relationships": {"campaign-messages": {"links": {"related": format!("{}/api/campaigns/C2/campaign-messages", server.uri())}}}}
                ])
            } else {
                json!([])
            };
            get("/api/campaigns")
                .and(query_param(
                    "filter",
                    format!("and(greater-or-equal(updated_at,2024-01-01T00:00:00+0000),less-or-equal(updated_at,2024-06-01T00:00:00+0000),equals(messages.channel,'{channel}'),equals(archived,{archived}))").as_str(),
                ))
                .respond_with(ok(json!({"data": data, "links": {"next": null}})))
                .expect(1)
                .mount(&server)
                .await;
        }
    }
    get("/api/campaign-recipient-estimations/C1")
        .respond_with(ok(json!({"data": {"type": "campaign-recipient-estimation", "id": "C1", "attributes": {"estimated_recipient_count": 42}}})))
        .expect(1)
        .mount(&server)
        .await;
    get("/api/campaigns/C1/campaign-messages")
        .respond_with(ok(json!({"data": [{"type": "campaign-message", "id": "MSG1", "attributes": {"label": "l"}}]})))
        .expect(1)
        .mount(&server)
        .await;
    get("/api/campaign-recipient-estimations/C2")
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"errors": [{"status": 404}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    get("/api/campaigns/C2/campaign-messages")
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"errors": [{"status": 404}]})),
        )
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
    let records = run.records("campaigns_detailed");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["estimated_recipient_count"], 42);
    assert_eq!(
        records[0]["campaign_messages"],
        json!([{"type": "campaign-message", "id": "MSG1", "attributes": {"label": "l"}}])
    );
    assert_eq!(records[0]["updated_at"], "2024-02-01T00:00:00+00:00");
    assert!(records[0]["attributes"].get("channel").is_none());
    assert_eq!(records[1]["estimated_recipient_count"], 0);
    assert!(
        records[1].get("campaign_messages").is_none(),
        "{}",
        records[1]
    );
    assert_eq!(
        run.last_state("campaigns_detailed").unwrap()["state"],
        json!({"updated_at": "2024-02-02T00:00:00+0000"})
    );
}

#[tokio::test]
async fn flows_reads_archived_partitions_in_thirty_day_windows() {
    let server = MockServer::start().await;
    for archived in ["true", "false"] {
        for (from, to) in [
            ("2024-01-01T00:00:00+0000", "2024-01-30T23:59:59+0000"),
            ("2024-01-31T00:00:00+0000", "2024-02-15T12:00:00+0000"),
        ] {
            let data = if archived == "false" && from.starts_with("2024-01-31") {
                json!([{"type": "flow", "id": "F1", "attributes": {"name": "f", "updated": "2024-02-10T00:00:00+00:00"}}])
            } else {
                json!([])
            };
            get("/api/flows")
                .and(query_param(
                    "filter",
                    format!("and(greater-or-equal(updated,{from}),less-or-equal(updated,{to}),equals(archived,{archived}))").as_str(),
                ))
                .and(query_param("sort", "updated"))
                .respond_with(ok(json!({"data": data, "links": {"next": null}})))
                .expect(1)
                .mount(&server)
                .await;
        }
    }
    let run = run_read(&server, "2024-02-15T12:00:00Z", &config(), "flows", None).await;
    assert_eq!(
        run.records("flows")[0]["updated"],
        "2024-02-10T00:00:00+00:00"
    );
    assert_eq!(
        sorted(run.last_state("flows").unwrap()),
        json!({"use_global_cursor": false, "states": [
            {"partition": {"archived": "false"}, "cursor": {"updated": "2024-02-10T00:00:00+0000"}},
            {"partition": {"archived": "true"}, "cursor": {"updated": "2024-01-01T00:00:00+0000"}}
        ], "state": {"updated": "2024-02-10T00:00:00+0000"}, "lookback_window": 0})
    );
}

#[tokio::test]
async fn metrics_lists_and_segments_filter_client_side_against_the_state() {
    for (stream, p) in [
        ("metrics", "/api/metrics"),
        ("lists", "/api/lists"),
        ("segments", "/api/segments"),
    ] {
        let server = MockServer::start().await;
        get(p)
            .and(query_param_is_missing("filter"))
            .and(query_param_is_missing("page[size]"))
            .respond_with(ok(json!({"data": [
                {"type": "x", "id": "old", "attributes": {"updated": "2024-01-15T00:00:00+00:00"}},
                {"type": "x", "id": "same", "attributes": {"updated": "2024-02-01T00:00:00+00:00"}},
                {"type": "x", "id": "new", "attributes": {"updated": "2024-03-01T00:00:00+00:00"}}
            ], "links": {"next": null}})))
            .expect(1)
            .mount(&server)
            .await;
        let run = run_read(
            &server,
            "2024-06-01T00:00:00Z",
            &config(),
            stream,
            Some(json!({"updated": "2024-02-01T00:00:00+0000"})),
        )
        .await;
        let ids: Vec<Value> = run
            .records(stream)
            .iter()
            .map(|r| r["id"].clone())
            .collect();
        assert_eq!(ids, vec![json!("new")], "{stream}");
        assert_eq!(
            run.records(stream)[0]["updated"],
            "2024-03-01T00:00:00+00:00"
        );
        assert_eq!(
            run.last_state(stream).unwrap(),
            json!({"updated": "2024-03-01T00:00:00+0000"}),
            "{stream}"
        );
    }
}

#[tokio::test]
async fn metrics_ignore_start_date_so_old_definitions_are_read() {
    let server = MockServer::start().await;
    get("/api/metrics")
        .respond_with(ok(json!({"data": [{"type": "metric", "id": "M0", "attributes": {"updated": "2019-01-01T00:00:00+00:00"}}], "links": {}})))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_read(&server, "2024-06-01T00:00:00Z", &config(), "metrics", None).await;
    assert_eq!(run.records("metrics").len(), 1);
}

#[tokio::test]
async fn lists_detailed_requests_changed_lists_with_their_profile_count() {
    let server = MockServer::start().await;
    get("/api/lists")
        .respond_with(ok(json!({"data": [
            {"type": "list", "id": "L1", "attributes": {"updated": "2024-02-01T00:00:00+00:00"}},
            {"type": "list", "id": "L2", "attributes": {"updated": "2024-03-01T00:00:00+00:00"}}
        ], "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    // L1 has not changed since the saved cursor: its details are not requested.
    for (id, updated, calls) in [
        ("L1", "2024-02-01T00:00:00+00:00", 0),
        ("L2", "2024-03-01T00:00:00+00:00", 1),
    ] {
        get(&format!("/api/lists/{id}"))
            .and(query_param("additional-fields[list]", "profile_count"))
            .respond_with(ok(json!({"data": {"type": "list", "id": id, "attributes": {"name": id, "updated": updated, "profile_count": 7}}, "links": {"self": "x"}})))
            .expect(calls)
            .mount(&server)
            .await;
    }
    // A flat state from the official connector is the cursor of every list.
    let run = run_read(
        &server,
        "2024-06-01T00:00:00Z",
        &config(),
        "lists_detailed",
        Some(json!({"updated": "2024-02-15T00:00:00+0000"})),
    )
    .await;
    let records = run.records("lists_detailed");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["id"], "L2");
    assert_eq!(records[0]["attributes"]["profile_count"], 7);
    assert_eq!(
        sorted(run.last_state("lists_detailed").unwrap()),
        json!({"use_global_cursor": false, "states": [
            {"partition": {"id": "L1", "parent_slice": {}}, "cursor": {"updated": "2024-02-15T00:00:00+0000"}},
            {"partition": {"id": "L2", "parent_slice": {}}, "cursor": {"updated": "2024-03-01T00:00:00+0000"}}
        ], "state": {"updated": "2024-03-01T00:00:00+0000"}, "lookback_window": 0, "parent_state": {}})
    );
}

#[tokio::test]
async fn lists_detailed_first_sync_requests_every_list_since_the_start_date() {
    let server = MockServer::start().await;
    get("/api/lists")
        .respond_with(ok(json!({"data": [
            {"type": "list", "id": "L1", "attributes": {"updated": "2024-02-01T00:00:00+00:00"}},
            {"type": "list", "id": "OLD", "attributes": {"updated": "2023-02-01T00:00:00+00:00"}}
        ], "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    get("/api/lists/L1")
        .and(query_param("additional-fields[list]", "profile_count"))
        .respond_with(ok(json!({"data": {"type": "list", "id": "L1", "attributes": {"updated": "2024-02-01T00:00:00+00:00", "profile_count": 3}}})))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_read(
        &server,
        "2024-06-01T00:00:00Z",
        &config(),
        "lists_detailed",
        None,
    )
    .await;
    let records = run.records("lists_detailed");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["updated"], "2024-02-01T00:00:00+00:00");
    assert_eq!(
        run.last_state("lists_detailed").unwrap()["state"],
        json!({"updated": "2024-02-01T00:00:00+0000"})
    );
}

fn flow_series_answer(days: &[&str], opens: &[i64]) -> Value {
    json!({"data": {"type": "flow-series-report", "attributes": {
        "date_times": days,
        "results": [{"groupings": {"flow_id": "F1", "flow_message_id": "FM1", "send_channel": "email"},
                     "statistics": {"opens": opens, "recipients": opens}}]
    }}, "links": {"next": null}})
}

async fn mount_report_metrics(server: &MockServer) {
    get("/api/metrics")
        .respond_with(ok(json!({"data": [
            {"type": "metric", "id": "RESQ6t", "attributes": {"name": "Placed Order", "updated": "2023-01-01T00:00:00+00:00"}},
            {"type": "metric", "id": "OTHER", "attributes": {"name": "Other", "updated": "2023-01-01T00:00:00+00:00"}}
        ], "links": {"next": null}})))
        .mount(server)
        .await;
}

#[tokio::test]
async fn flow_series_reports_emit_one_record_per_day_in_whole_day_windows_and_re_read_the_lookback()
{
    let server = MockServer::start().await;
    mount_report_metrics(&server).await;
    for (from, to, days) in [
        (
            "2024-01-01T00:00:00+0000",
            "2024-01-30T23:59:59+0000",
            vec!["2024-01-07T00:00:00+00:00"],
        ),
        (
            "2024-01-31T00:00:00+0000",
            "2024-02-09T23:59:59+0000",
            vec!["2024-02-08T00:00:00+00:00", "2024-02-09T00:00:00+00:00"],
        ),
    ] {
        let opens: Vec<i64> = (1..=days.len() as i64).collect();
        post("/api/flow-series-reports")
            .and(body_partial_json(json!({"data": {"type": "flow-series-report", "attributes": {
                "timeframe": {"start": from, "end": to}, "interval": "daily", "conversion_metric_id": "RESQ6t"}}})))
            .respond_with(ok(flow_series_answer(&days, &opens)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let mut cfg = config();
    cfg["metric_ids"] = json!("RESQ6t");
    cfg["start_date"] = json!("2024-01-01T06:30:00Z");
    let run = run_read(
        &server,
        "2024-02-10T12:00:00Z",
        &cfg,
        "flow_series_reports",
        None,
    )
    .await;
    let records = run.records("flow_series_reports");
    assert_eq!(records.len(), 3);
    assert_eq!(
        records[2],
        json!({"date": "2024-02-09T00:00:00+00:00", "groupings": {"flow_id": "F1", "flow_message_id": "FM1", "send_channel": "email"},
               "statistics": {"opens": 2.0, "recipients": 2.0}, "flow_id": "F1", "flow_message_id": "FM1", "send_channel": "email",
               "conversion_metric_id": "RESQ6t"})
    );
    let state = run.last_state("flow_series_reports").unwrap();
    assert_eq!(
        state,
        json!({"use_global_cursor": false,
               "states": [{"partition": {"metric_id": "RESQ6t", "parent_slice": {}}, "cursor": {"date": "2024-02-09T00:00:00+0000"}}],
               "state": {"date": "2024-02-09T00:00:00+0000"}, "lookback_window": 0, "parent_state": {}})
    );

    // Next sync two days later with a 5-day reporting lookback: 02-04 … 02-11 23:59:59.
    let server2 = MockServer::start().await;
    mount_report_metrics(&server2).await;
    post("/api/flow-series-reports")
        .and(body_partial_json(json!({"data": {"attributes": {
            "timeframe": {"start": "2024-02-04T00:00:00+0000", "end": "2024-02-11T23:59:59+0000"}}}})))
        .respond_with(ok(flow_series_answer(&["2024-02-04T00:00:00+00:00", "2024-02-11T00:00:00+00:00"], &[5, 6])))
        .expect(1)
        .mount(&server2)
        .await;
    cfg["reporting_lookback_window"] = json!(5);
    let run2 = run_read(
        &server2,
        "2024-02-12T09:00:00Z",
        &cfg,
        "flow_series_reports",
        Some(state),
    )
    .await;
    assert_eq!(run2.records("flow_series_reports").len(), 2);
    assert_eq!(
        run2.last_state("flow_series_reports").unwrap()["state"],
        json!({"date": "2024-02-11T00:00:00+0000"})
    );
}

fn campaign_values_answer() -> Value {
    json!({"data": {"type": "campaign-values-report", "attributes": {"results": [
        {"groupings": {"campaign_id": "C1", "campaign_message_id": "CM1", "send_channel": "email"},
         "statistics": {"opens": 10, "recipients": 100}}
    ]}}, "links": {"next": null}})
}

#[tokio::test]
async fn campaign_values_reports_date_is_the_midnight_closing_the_period_and_same_day_reruns_request_nothing(
) {
    let server = MockServer::start().await;
    mount_report_metrics(&server).await;
    post("/api/campaign-values-reports")
        .and(body_partial_json(json!({"data": {"type": "campaign-values-report", "attributes": {
            "timeframe": {"start": "2024-06-01T00:00:00+0000", "end": "2024-06-14T23:59:59+0000"}, "conversion_metric_id": "RESQ6t"}}})))
        .respond_with(ok(campaign_values_answer()))
        .expect(1)
        .mount(&server)
        .await;
    let mut cfg = config();
    cfg["metric_ids"] = json!(" RESQ6t ");
    cfg["start_date"] = json!("2024-06-01T00:00:00Z");
    let run = run_read(
        &server,
        "2024-06-15T12:34:56Z",
        &cfg,
        "campaign_values_reports",
        None,
    )
    .await;
    assert_eq!(
        run.records("campaign_values_reports"),
        vec![
            json!({"groupings": {"campaign_id": "C1", "campaign_message_id": "CM1", "send_channel": "email"},
                    "statistics": {"opens": 10.0, "recipients": 100.0}, "date": "2024-06-15T00:00:00+00:00",
                    "campaign_id": "C1", "campaign_message_id": "CM1", "send_channel": "email", "conversion_metric_id": "RESQ6t"})
        ]
    );
    let state = run.last_state("campaign_values_reports").unwrap();
    assert_eq!(
        state["states"],
        json!([{"partition": {"metric_id": "RESQ6t", "parent_slice": {}}, "cursor": {"date": "2024-06-15T00:00:00+0000"}}])
    );

    // Same day again: nothing to request.
    let server2 = MockServer::start().await;
    mount_report_metrics(&server2).await;
    post("/api/campaign-values-reports")
        .respond_with(ok(campaign_values_answer()))
        .expect(0)
        .mount(&server2)
        .await;
    let run2 = run_read(
        &server2,
        "2024-06-15T21:00:00Z",
        &cfg,
        "campaign_values_reports",
        Some(state.clone()),
    )
    .await;
    assert!(run2.records("campaign_values_reports").is_empty());
    assert_eq!(
        run2.last_state("campaign_values_reports").unwrap()["states"],
        state["states"]
    );

    // Five days later: the next period starts exactly where the last one closed.
    let server3 = MockServer::start().await;
    mount_report_metrics(&server3).await;
    post("/api/campaign-values-reports")
        .and(body_partial_json(json!({"data": {"attributes": {
            "timeframe": {"start": "2024-06-15T00:00:00+0000", "end": "2024-06-19T23:59:59+0000"}}}})))
        .respond_with(ok(campaign_values_answer()))
        .expect(1)
        .mount(&server3)
        .await;
    let run3 = run_read(
        &server3,
        "2024-06-20T08:15:00Z",
        &cfg,
        "campaign_values_reports",
        Some(state),
    )
    .await;
    assert_eq!(
        run3.records("campaign_values_reports")[0]["date"],
        "2024-06-20T00:00:00+00:00"
    );
}
