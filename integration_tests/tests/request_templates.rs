//! Request templates against the closures they would replace: for real streams of each source,
//! the template renders exactly the request the stream's closure builds today, slice for slice.
//! This is the safety net for moving streams to templates one at a time.

use connector_runtime::output::Output;
use connector_runtime::prelude::*;
use connector_runtime::secrets::Secrets;
use connector_runtime::source::DynSource;
use connector_runtime::stream::Slice;

const NOW: &str = "2024-06-10T12:00:00Z";

fn context() -> SourceContext {
    SourceContext {
        env: RunEnv::default().with_var("AIRBYTE_TEST_NOW", NOW),
        output: Output::new(Box::new(std::io::sink()), Secrets::new()),
    }
}

fn window(start: &str, end: &str) -> Option<Window> {
    let t = |s: &str| DatetimeFormat::Rfc3339.parse_str(s).expect("an instant");
    Some(Window {
        start: t(start),
        end: t(end),
    })
}

fn slice(p: Value, window: Option<Window>) -> Slice {
    Slice {
        partition: canonical(p.as_object().expect("a partition object")),
        window,
    }
}

/// A request as it goes on the wire: a query written into the path (`…/analytics?ids=1`) is
/// the same request as that pair first in the query list.
fn wire(mut r: HttpRequest) -> HttpRequest {
    if let Some((path, query)) = r.url.clone().split_once('?') {
        let mut pairs: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        pairs.append(&mut r.query);
        r.query = pairs;
        r.url = path.to_string();
    }
    r
}

/// Renders `template` and asks stream `name` of `source` for its first request, per slice.
fn assert_same_requests(
    source: &dyn DynSource,
    config: &Value,
    name: &str,
    template: RequestTemplate,
    slices: &[Slice],
) {
    let template = template.checked().expect("a valid template");
    let streams = source.prepare(config, &context()).expect("streams").streams;
    let stream = streams
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no stream {name}"));
    for s in slices {
        let declared = stream
            .retriever
            .first_request(s)
            .unwrap_or_else(|| panic!("{name} has a first request"))
            .expect("the closure's request");
        let rendered = template.render(s).expect("the template's request");
        assert_eq!(wire(rendered), wire(declared), "{name}, slice {s:?}");
    }
}

mod tiktok {
    use super::*;
    use source_tiktok_marketing::quirks::{py_json, py_list};
    use source_tiktok_marketing::reports::{ReportType, ADS};
    use source_tiktok_marketing::SourceTiktokMarketing;

    fn config() -> Value {
        json!({"credentials": {"auth_type": "oauth2.0", "app_id": "app-1", "secret": "sec-1",
            "access_token": "tok-1", "advertiser_id": "111"}, "start_date": "2024-01-01"})
    }

    fn advertiser(id: &str) -> Value {
        json!({"advertiser_id": id, "parent_slice": {}})
    }

    #[test]
    fn pixels() {
        assert_same_requests(
            &SourceTiktokMarketing,
            &config(),
            "pixels",
            RequestTemplate::get("pixel/list/").query("advertiser_id", "{partition.advertiser_id}"),
            &[
                slice(
                    json!({"advertiser_id": "111", "parent_slice": {"advertiser_ids": "[\"111\"]", "parent_slice": {}}}),
                    None,
                ),
                slice(json!({"advertiser_id": 222, "parent_slice": {}}), None),
            ],
        );
    }

    /// Fixed report parameters are constants of the stream (JSON text rendered once by the
    /// source, added as literals); the window dates are placeholders.
    #[test]
    fn ads_reports_daily() {
        let template = RequestTemplate::get("report/integrated/get/")
            .query_literal("service_type", "AUCTION")
            .query_literal("report_type", "BASIC")
            .query_literal("data_level", "AUCTION_AD")
            .query_literal("dimensions", py_list(&["ad_id", "stat_time_day"]))
            .query_literal("metrics", py_list(&ADS.list(ReportType::Basic)))
            .query("start_date", "{window.start:%Y-%m-%d}")
            .query("end_date", "{window.end:%Y-%m-%d}")
            .query("advertiser_id", "{partition.advertiser_id}");
        assert_same_requests(
            &SourceTiktokMarketing,
            &config(),
            "ads_reports_daily",
            template,
            &[
                slice(
                    advertiser("111"),
                    window("2024-01-01T00:00:00Z", "2024-01-30T00:00:00Z"),
                ),
                slice(
                    advertiser("7"),
                    window("2024-05-31T00:00:00Z", "2024-06-11T00:00:00Z"),
                ),
            ],
        );
    }

    /// `pixel_ids=["px1"]` is TikTok's JSON spelling: a quirk computed by the source.
    #[test]
    fn pixel_events_statistics() {
        let date_range = py_json(&json!({"start_date": "2024-05-12", "end_date": "2024-06-11"}));
        let template = RequestTemplate::get("pixel/event/stats/")
            .query_with("pixel_ids", |s: &Slice| {
                let id = s
                    .get_str("pixel_id")
                    .ok_or_else(|| Error::system("no pixel_id"))?;
                Ok(py_json(&json!([id])))
            })
            .query_literal("date_range", date_range)
            .query("advertiser_id", "{partition.advertiser_id}");
        assert_same_requests(
            &SourceTiktokMarketing,
            &config(),
            "pixel_events_statistics",
            template,
            &[slice(
                json!({"advertiser_id": "111", "pixel_id": "px1",
                    "parent_slice": {"advertiser_id": "111", "parent_slice": {}}}),
                None,
            )],
        );
    }
}

mod pinterest {
    use super::*;
    use source_pinterest::SourcePinterest;

    fn config() -> Value {
        json!({"start_date": "2024-01-01", "account_id": "acc9", "credentials": {
            "auth_method": "oauth2.0", "client_id": "cid", "client_secret": "csecret-123",
            "refresh_token": "rtoken-123", "access_token": "atoken-123",
            "token_expiry_date": "2099-01-01T00:00:00+00:00"}})
    }

    /// The crate's column list `list` (what the source embeds).
    fn columns(list: &str) -> Vec<String> {
        let text = std::fs::read_to_string(format!(
            "{}/../crates/source-pinterest/resources/columns.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("columns.json");
        let v: Value = serde_json::from_str(&text).expect("columns JSON");
        v[list]["columns"]
            .as_array()
            .expect("a column list")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn board_section_pins() {
        assert_same_requests(
            &SourcePinterest,
            &config(),
            "board_section_pins",
            RequestTemplate::get("boards/{partition.parent_slice.id}/sections/{partition.id}/pins")
                .query_literal("ad_account_id", "acc9")
                .query_literal("page_size", "250"),
            &[slice(
                json!({"id": "s1", "parent_slice": {"id": "b1", "parent_slice": {}}}),
                None,
            )],
        );
    }

    #[test]
    fn ad_group_analytics() {
        let template =
            RequestTemplate::get("ad_accounts/{partition.parent_slice.id}/ad_groups/analytics")
                .query("ad_group_ids", "{partition.id}")
                .query_literal("granularity", "DAY")
                .query_literal(
                    "columns",
                    columns("sync_analytics_and_standard_reports").join(","),
                )
                .query("start_date", "{window.start:%Y-%m-%d}")
                .query("end_date", "{window.end:%Y-%m-%d}");
        assert_same_requests(
            &SourcePinterest,
            &config(),
            "ad_group_analytics",
            template,
            &[slice(
                json!({"id": "77", "parent_slice": {"id": "acc9", "parent_slice": {}}}),
                window("2024-03-13T00:00:00Z", "2024-04-11T00:00:00Z"),
            )],
        );
    }

    /// The async report's creation request: a JSON body template.
    #[test]
    fn advertiser_report_creation() {
        let template = RequestTemplate::post_json(
            "ad_accounts/{partition.id}/reports",
            json!({
                "start_date": "{window.start:%Y-%m-%d}",
                "end_date": "{window.end:%Y-%m-%d}",
                "granularity": "DAY",
                "columns": columns("sync_analytics_and_standard_reports"),
                "level": "ADVERTISER",
            }),
        );
        assert_same_requests(
            &SourcePinterest,
            &config(),
            "advertiser_report",
            template,
            &[slice(
                json!({"id": "acc9", "parent_slice": {}}),
                window("2024-01-01T00:00:00Z", "2024-06-03T00:00:00Z"),
            )],
        );
    }
}

mod klaviyo {
    use super::*;
    use source_klaviyo::quirks::reports::FLOW_STATISTICS;
    use source_klaviyo::SourceKlaviyo;

    fn config() -> Value {
        json!({"api_key": "pk_klaviyo_templates", "start_date": "2024-01-01T00:00:00Z"})
    }

    #[test]
    fn profiles() {
        let template = RequestTemplate::get("profiles")
            .query(
                "additional-fields[profile]",
                "subscriptions,predictive_analytics",
            )
            .query(
                "filter",
                "greater-than(updated,{window.start:%Y-%m-%dT%H:%M:%S%z})",
            )
            .query("sort", "updated")
            .query("page[size]", "100");
        assert_same_requests(
            &SourceKlaviyo,
            &config(),
            "profiles",
            template,
            &[slice(
                json!({}),
                window("2024-01-01T00:00:00Z", "2024-06-10T12:00:00Z"),
            )],
        );
    }

    #[test]
    fn lists_detailed() {
        assert_same_requests(
            &SourceKlaviyo,
            &config(),
            "lists_detailed",
            RequestTemplate::get("lists/{partition.id}")
                .query("additional-fields[list]", "profile_count"),
            &[slice(
                json!({"id": "Xy9", "parent_slice": {}}),
                window("2024-01-01T00:00:00Z", "2024-06-10T12:00:00Z"),
            )],
        );
    }

    #[test]
    fn flow_series_reports() {
        let template = RequestTemplate::post_json(
            "flow-series-reports",
            json!({"data": {"type": "flow-series-report", "attributes": {
                "statistics": FLOW_STATISTICS,
                "timeframe": {
                    "start": "{window.start:%Y-%m-%dT%H:%M:%S%z}",
                    "end": "{window.end:%Y-%m-%dT%H:%M:%S%z}",
                },
                "conversion_metric_id": "{partition.metric_id}",
                "interval": "daily",
            }}}),
        )
        .header("Content-Type", "application/json");
        assert_same_requests(
            &SourceKlaviyo,
            &config(),
            "flow_series_reports",
            template,
            &[slice(
                json!({"metric_id": "M1", "parent_slice": {}}),
                window("2024-05-01T00:00:00Z", "2024-05-30T23:59:59Z"),
            )],
        );
    }
}
