//! The stream declarations: one entry per catalog stream, in the official catalog order.

use connector_runtime::prelude::*;

use crate::campaigns_detailed::CampaignDetails;
use crate::config::KlaviyoConfig;
use crate::{budget, filters, included, migrations, reports, BASE_URL, BASE_URL_VAR, REVISION};

const INVALID_KEY: &str =
    "Please provide a valid API key and make sure it has permissions to read specified streams.";

macro_rules! schema_of {
    ($name:literal) => {
        schema(
            $name,
            include_str!(concat!("../resources/schemas/", $name, ".json")),
        )
    };
}

/// Cursor values: written `2024-03-15T10:00:00+0000`; read with `+00:00`, `Z`, fractions or a
/// space instead of `T`.
pub fn cursor_format() -> CursorFormat {
    CursorFormat::new(DatetimeFormat::strftime(filters::DATE_FORMAT))
        .accept(DatetimeFormat::strftime("%Y-%m-%dT%H:%M:%S%.f%z"))
        .accept(DatetimeFormat::strftime("%Y-%m-%d %H:%M:%S%z"))
        .accept(DatetimeFormat::strftime("%Y-%m-%d %H:%M:%S%.f%z"))
        .accept(DatetimeFormat::Rfc3339)
}

/// The requester every stream shares: auth, revision, the official error mapping, the budget.
pub fn requester(cfg: &KlaviyoConfig, env: &RunEnv) -> Result<Requester> {
    let handlers = HandlerChain::new().with(|r: &ResponseView<'_>| {
        matches!(r.status, 401 | 403)
            .then(|| ResponseAction::fail(FailureType::ConfigError, INVALID_KEY))
    });
    Ok(Requester::new(BASE_URL, BASE_URL_VAR, env)?
        .with_auth(Arc::new(HeaderAuth::new(
            "Authorization",
            format!("Klaviyo-API-Key {}", cfg.api_key),
        )))
        .with_header("Accept", "application/json")
        .with_header("Revision", REVISION)
        .with_handlers(handlers)
        .with_budget(budget::klaviyo_budget(env)))
}

/// `record[field] = record.attributes[field]`: the cursor at the top level.
fn copy_cursor(field: &'static str) -> impl Fn(&mut Value, &Slice) + Send + Sync {
    move |r: &mut Value, _s: &Slice| {
        let v = get_path(r, &["attributes", field])
            .cloned()
            .unwrap_or(Value::Null);
        set_path(r, &[field], v);
    }
}

fn drop_nulls(r: &mut Value, _s: &Slice) {
    drop_top_level_nulls(r)
}

fn list_of_strings(key: &str, values: &[&str]) -> PartitionRouter {
    PartitionRouter::list(key, values.iter().map(|v| Value::from(*v)))
}

/// A JSON:API list endpoint read with `links.next`.
fn jsonapi(
    req: &Requester,
    build: impl Fn(&Slice) -> HttpRequest + Send + Sync + 'static,
) -> SimpleRetriever {
    SimpleRetriever::new(req, build)
        .paginator(Paginator::next_url("links.next"))
        .records_at("data")
}

/// How many records of a sorted window pass between two checkpoints.
const CHECKPOINT_EVERY: usize = 1000;

/// Every catalog stream, in catalog order.
pub fn all(cfg: &KlaviyoConfig, env: &RunEnv) -> Result<Vec<Arc<DeclarativeStream>>> {
    let req = requester(cfg, env)?;
    let now = cfg.now;
    let start = cfg.start;
    let fmt = cursor_format();
    let server_side = |field: &str| Incremental::new(field, fmt.clone(), start, now);
    // Streams requested with `sort=<cursor>` arrive in cursor order, so long windows can be
    // checkpointed as they are read instead of only at their end.
    let sorted = |field: &str| server_side(field).sorted(CHECKPOINT_EVERY);
    let client_side = |field: &str| {
        Incremental::new(field, fmt.clone(), start, now).client_side(ClientFilter::GreaterThan)
    };

    // profiles: predictive analytics unless disabled; `greater-than(updated, start)`.
    let additional = if cfg.disable_predictive_analytics {
        "subscriptions"
    } else {
        "subscriptions,predictive_analytics"
    };
    let profiles = DeclarativeStream::new(
        "profiles",
        schema_of!("profiles"),
        jsonapi(&req, move |s: &Slice| {
            HttpRequest::get("profiles")
                .query("additional-fields[profile]", additional)
                .query(
                    "filter",
                    filters::greater_than("updated", s.start().unwrap_or(start)),
                )
                .query("sort", "updated")
                .query("page[size]", "100")
        }),
    )
    .primary_key(&["id"])
    .transform(copy_cursor("updated"))
    .transform(drop_nulls)
    .normalize()
    .incremental(sorted("updated"));

    // global_exclusions: every profile, no date filter; suppressed ones only, key renamed.
    let global_exclusions = DeclarativeStream::new(
        "global_exclusions",
        schema_of!("global_exclusions"),
        jsonapi(&req, |_s: &Slice| {
            HttpRequest::get("profiles")
                .query("additional-fields[profile]", "subscriptions")
                .query("page[size]", "100")
        }),
    )
    .primary_key(&["id"])
    .filter(|r: &Value, _s: &Slice| {
        get_path(
            r,
            &[
                "attributes",
                "subscriptions",
                "email",
                "marketing",
                "suppression",
            ],
        )
        .is_some_and(truthy)
    })
    .transform(|r: &mut Value, _s: &Slice| {
        let path = ["attributes", "subscriptions", "email", "marketing"];
        if let Some(v) = remove_path(r, &[path[0], path[1], path[2], path[3], "suppression"]) {
            set_path(r, &[path[0], path[1], path[2], path[3], "suppressions"], v);
        }
    })
    .transform(copy_cursor("updated"))
    .transform(drop_nulls)
    .incremental(server_side("updated"));

    // events / events_detailed: one partition per `event_metric_ids` value (or one for all),
    // 7-day windows made contiguous (see `filters::events`).
    let metric_values: Vec<Value> = if cfg.event_metric_ids.is_empty() {
        vec![Value::from("")]
    } else {
        cfg.event_metric_ids
            .iter()
            .map(|s| Value::from(s.as_str()))
            .collect()
    };
    let events_router = PartitionRouter::list("metric_id", metric_values);
    let events_cursor = || {
        sorted("datetime")
            .per_partition(false)
            .step(Duration::days(7), Duration::seconds(1))
    };
    let events = DeclarativeStream::new(
        "events",
        schema_of!("events"),
        jsonapi(&req, move |s: &Slice| {
            HttpRequest::get("events")
                .query("fields[event]", "event_properties,timestamp,uuid,datetime")
                .query("fields[metric]", "name,created,updated,integration")
                .query("include", "metric,attributions")
                .query("filter", events_filter(s, now))
                .query("sort", "datetime")
        }),
    )
    .primary_key(&["id"])
    .router(events_router.clone())
    .transform(copy_cursor("datetime"))
    .transform(drop_nulls)
    .incremental(events_cursor());

    let events_detailed = DeclarativeStream::new(
        "events_detailed",
        schema_of!("events_detailed"),
        jsonapi(&req, move |s: &Slice| {
            HttpRequest::get("events")
                .query("include", "metric,attributions")
                .query("fields[metric]", "name")
                .query("filter", events_filter(s, now))
                .query("sort", "datetime")
        })
        .selector(RecordSelector::Custom(Arc::new(
            included::select_with_included,
        )))
        .expect(Expect::JsonAt(vec!["data".into()])),
    )
    .primary_key(&["id"])
    .router(events_router)
    .transform(copy_cursor("datetime"))
    .transform(drop_nulls)
    .incremental(events_cursor().lookback(Duration::days(cfg.lookback_days)))
    .migrate_state(migrations::per_event_to_single(fmt.clone()));

    let email_templates = DeclarativeStream::new(
        "email_templates",
        schema_of!("email_templates"),
        jsonapi(&req, move |s: &Slice| {
            HttpRequest::get("templates")
                .query(
                    "filter",
                    filters::greater_than("updated", s.start().unwrap_or(start)),
                )
                .query("sort", "updated")
        }),
    )
    .primary_key(&["id"])
    .transform(copy_cursor("updated"))
    .transform(drop_nulls)
    .incremental(sorted("updated"));

    // campaigns / campaigns_detailed: channel × archived partitions, values as strings.
    let campaigns_router = PartitionRouter::Cartesian(vec![
        list_of_strings("campaign_type", &["sms", "email"]),
        list_of_strings("archived", &["true", "false"]),
    ]);
    let campaigns_request = move |s: &Slice| {
        let window = s.window.unwrap_or(Window { start, end: now });
        let extra = [
            format!(
                "equals(messages.channel,'{}')",
                s.get_str("campaign_type").unwrap_or_default()
            ),
            format!(
                "equals(archived,{})",
                s.get_str("archived").unwrap_or_default()
            ),
        ];
        HttpRequest::get("campaigns")
            .query(
                "filter",
                filters::inclusive_range("updated_at", window, &extra),
            )
            .query("sort", "updated_at")
    };
    let campaigns = DeclarativeStream::new(
        "campaigns",
        schema_of!("campaigns"),
        jsonapi(&req, campaigns_request),
    )
    .primary_key(&["id"])
    .router(campaigns_router.clone())
    .transform(copy_cursor("updated_at"))
    .transform(|r: &mut Value, s: &Slice| {
        if let Some(channel) = s.get_str("campaign_type") {
            set_path(r, &["attributes", "channel"], Value::from(channel));
        }
    })
    .transform(drop_nulls)
    .incremental(
        sorted("updated_at")
            .per_partition(false)
            .step(Duration::days(60), Duration::seconds(1)),
    )
    .migrate_state(migrations::archived_to_per_partition(
        "updated_at",
        Some(("campaign_type", "email")),
        cfg.start_text.clone(),
    ));

    let campaigns_detailed = DeclarativeStream::new(
        "campaigns_detailed",
        schema_of!("campaigns_detailed"),
        jsonapi(&req, campaigns_request),
    )
    .primary_key(&["id"])
    .router(campaigns_router)
    .transform(copy_cursor("updated_at"))
    .transform(drop_nulls)
    .enrich(CampaignDetails::new(&req))
    .incremental(sorted("updated_at").per_partition(false))
    .migrate_state(migrations::archived_to_per_partition(
        "updated_at",
        Some(("campaign_type", "email")),
        cfg.start_text.clone(),
    ));

    let flows = DeclarativeStream::new(
        "flows",
        schema_of!("flows"),
        jsonapi(&req, move |s: &Slice| {
            let window = s.window.unwrap_or(Window { start, end: now });
            let extra = [format!(
                "equals(archived,{})",
                s.get_str("archived").unwrap_or_default()
            )];
            HttpRequest::get("flows")
                .query(
                    "filter",
                    filters::inclusive_range("updated", window, &extra),
                )
                .query("sort", "updated")
        }),
    )
    .primary_key(&["id"])
    .router(list_of_strings("archived", &["true", "false"]))
    .transform(copy_cursor("updated"))
    .transform(drop_nulls)
    .incremental(
        sorted("updated")
            .per_partition(false)
            .step(Duration::days(30), Duration::seconds(1)),
    )
    .migrate_state(migrations::archived_to_per_partition(
        "updated",
        None,
        cfg.start_text.clone(),
    ));

    // metrics: every metric definition regardless of start_date; the state still filters.
    let metric_floor = DatetimeFormat::Rfc3339
        .parse_str(crate::config::DEFAULT_START)
        .unwrap_or(start)
        .min(start);
    let metrics = DeclarativeStream::new(
        "metrics",
        schema_of!("metrics"),
        jsonapi(&req, |_s: &Slice| HttpRequest::get("metrics")),
    )
    .primary_key(&["id"])
    .transform(copy_cursor("updated"))
    .transform(drop_nulls)
    .incremental(
        Incremental::new("updated", fmt.clone(), metric_floor, now)
            .client_side(ClientFilter::GreaterThan),
    );

    let lists = DeclarativeStream::new(
        "lists",
        schema_of!("lists"),
        jsonapi(&req, |_s: &Slice| HttpRequest::get("lists")),
    )
    .primary_key(&["id"])
    .transform(copy_cursor("updated"))
    .transform(drop_nulls)
    .incremental(client_side("updated"))
    .into_arc();

    let (lists_router, changed_lists) = crate::lists_detailed::components(
        lists.clone(),
        fmt.clone(),
        jsonapi(&req, |s: &Slice| {
            HttpRequest::get(format!("lists/{}", s.get_str("id").unwrap_or_default()))
                .query("additional-fields[list]", "profile_count")
        }),
    );
    let lists_detailed = DeclarativeStream::new(
        "lists_detailed",
        schema_of!("lists_detailed"),
        changed_lists,
    )
    .primary_key(&["id"])
    .router(lists_router)
    .transform(copy_cursor("updated"))
    .transform(drop_nulls)
    .incremental(client_side("updated").per_partition(true));

    let segments = DeclarativeStream::new(
        "segments",
        schema_of!("segments"),
        jsonapi(&req, |_s: &Slice| HttpRequest::get("segments")),
    )
    .primary_key(&["id"])
    .transform(copy_cursor("updated"))
    .transform(drop_nulls)
    .incremental(client_side("updated"));

    // Report streams: one partition per conversion metric (internal parent stream).
    let wanted = cfg.report_metric_ids.clone();
    let metrics_for_reporting = DeclarativeStream::new(
        "metrics_for_reporting",
        schema_of!("metrics"),
        jsonapi(&req, |_s: &Slice| HttpRequest::get("metrics")),
    )
    .primary_key(&["id"])
    .filter(move |r: &Value, _s: &Slice| {
        wanted.is_empty()
            || r.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| wanted.iter().any(|w| w == id))
    })
    .into_arc();
    let report_router = PartitionRouter::substream(metrics_for_reporting, "id", "metric_id");
    let report_req = reports::report_requester(&req);
    let report_start = start_of_day(start);
    let report_cursor = |lookback_days: i64| {
        Incremental::new("date", fmt.clone(), report_start, reports::range_end(now))
            .per_partition(true)
            .step(Duration::days(30), Duration::seconds(1))
            .lookback(Duration::days(lookback_days))
    };

    let flow_series_reports = DeclarativeStream::new(
        "flow_series_reports",
        schema_of!("flow_series_reports"),
        SimpleRetriever::new(&report_req, |s: &Slice| {
            HttpRequest::post_json(
                "flow-series-reports",
                reports::body("flow-series-report", reports::FLOW_STATISTICS, s, true),
            )
            .header("Content-Type", "application/json")
        })
        .paginator(Paginator::next_url("links.next"))
        .selector(RecordSelector::Custom(Arc::new(reports::flow_series_days)))
        .expect(Expect::JsonAt(vec![
            "data".into(),
            "attributes".into(),
            "results".into(),
        ]))
        .handlers(reports::report_handlers()),
    )
    .primary_key(&[
        "date",
        "flow_id",
        "flow_message_id",
        "send_channel",
        "conversion_metric_id",
    ])
    .router(report_router.clone())
    .transform(|r: &mut Value, s: &Slice| {
        reports::copy_groupings(r, s, &["flow_id", "flow_message_id", "send_channel"])
    })
    .normalize()
    .incremental(report_cursor(cfg.reporting_lookback_days))
    .migrate_state(migrations::report_state);

    let campaign_values_reports = DeclarativeStream::new(
        "campaign_values_reports",
        schema_of!("campaign_values_reports"),
        SimpleRetriever::new(&report_req, |s: &Slice| {
            HttpRequest::post_json(
                "campaign-values-reports",
                reports::body(
                    "campaign-values-report",
                    reports::CAMPAIGN_STATISTICS,
                    s,
                    false,
                ),
            )
            .header("Content-Type", "application/json")
        })
        .paginator(Paginator::next_url("links.next"))
        .records_at("data.attributes.results")
        .handlers(reports::report_handlers()),
    )
    .primary_key(&[
        "date",
        "campaign_id",
        "campaign_message_id",
        "send_channel",
        "conversion_metric_id",
    ])
    .router(report_router)
    .transform(|r: &mut Value, s: &Slice| {
        set_path(r, &["date"], reports::closing_midnight(s));
        reports::copy_groupings(
            r,
            s,
            &["campaign_id", "campaign_message_id", "send_channel"],
        )
    })
    .normalize()
    .incremental(report_cursor(0))
    .migrate_state(migrations::report_state);

    Ok(vec![
        profiles.into_arc(),
        global_exclusions.into_arc(),
        events.into_arc(),
        events_detailed.into_arc(),
        email_templates.into_arc(),
        campaigns.into_arc(),
        campaigns_detailed.into_arc(),
        flows.into_arc(),
        metrics.into_arc(),
        lists,
        lists_detailed.into_arc(),
        segments.into_arc(),
        flow_series_reports.into_arc(),
        campaign_values_reports.into_arc(),
    ])
}

fn events_filter(s: &Slice, now: DateTime<Utc>) -> String {
    let window = s.window.unwrap_or(Window {
        start: now,
        end: now,
    });
    filters::events(window, now, s.get_str("metric_id").as_deref())
}

/// Python truthiness of a JSON value (the official filter tests the value as a condition).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}
