//! The stream table: every catalog stream, in the official catalog order.
//!
//! A Klaviyo stream is a JSON:API resource list unless it says otherwise. [`Klaviyo::list`]
//! sets what they all share once: the requester (API-key header, `Revision`, the official 401/403
//! message, the budget), the `links.next` paginator, the record selector on `data`, the `id`
//! primary key, the cursor copied up from `attributes` and top-level nulls left out. An entry
//! then says only its request template, its cursor and its quirks, each named inline and
//! explained in [`crate::quirks`].

use connector_runtime::prelude::*;

use crate::config::{default_start, KlaviyoConfig};
use crate::filters::{greater_than, within_window, DATE_FORMAT};
use crate::quirks::campaigns::{channel_from_partition, CampaignDetails};
use crate::quirks::reports::{self, Reports};
use crate::quirks::{events, global_exclusions, included, lists_detailed};
use crate::{budget, migrations, BASE_URL, BASE_URL_VAR, REVISION};

const INVALID_KEY: &str =
    "Please provide a valid API key and make sure it has permissions to read specified streams.";

/// How many records of a sorted window pass between two checkpoints.
const CHECKPOINT_EVERY: usize = 1000;

/// How many weekly windows of an events partition are read at once (the one being emitted
/// included). Only the events endpoints get look-ahead: their quota (350/s, 3,500/min) is far
/// above what one sequential reader sends, while campaigns (10/s), flows (3/s) and the report
/// endpoints are quota-bound, so reading their windows ahead would only queue at the budget.
const EVENT_WINDOWS_IN_FLIGHT: usize = 4;

/// A stream's name with its schema, embedded from `resources/schemas/<name>.json`.
#[derive(Clone, Copy)]
pub struct Named {
    pub name: &'static str,
    pub schema: &'static str,
}

impl Named {
    pub fn schema(&self) -> Value {
        schema(self.name, self.schema)
    }
}

/// `named!("profiles")`: the stream name, written once, finds its schema file.
macro_rules! named {
    ($name:literal) => {
        Named {
            name: $name,
            schema: include_str!(concat!("../resources/schemas/", $name, ".json")),
        }
    };
}

fn get(path: &str) -> RequestTemplate {
    RequestTemplate::get(path)
}

/// Every catalog stream, in catalog order.
pub fn all(cfg: &KlaviyoConfig, env: &RunEnv) -> Result<Vec<Arc<DeclarativeStream>>> {
    let k = Klaviyo::new(cfg, env)?;
    let profile_fields = if cfg.disable_fetching_predictive_analytics {
        "subscriptions"
    } else {
        "subscriptions,predictive_analytics"
    };
    // Events are read a week at a time; the next weeks are read ahead while one is emitted
    // (the events quota, 350/s, leaves room), records and states staying in week order.
    let events_cursor = || {
        k.sorted("datetime")
            .per_partition(false)
            .step(Duration::days(7), Duration::seconds(1))
            .concurrent_windows(EVENT_WINDOWS_IN_FLIGHT)
    };
    let campaign_partitions = PartitionRouter::Cartesian(vec![
        strings("campaign_type", &["sms", "email"]),
        strings("archived", &["true", "false"]),
    ]);
    let campaigns_request = get("campaigns")
        .query(
            "filter",
            &within_window(
                "updated_at",
                &[
                    "equals(messages.channel,'{partition.campaign_type}')",
                    "equals(archived,{partition.archived})",
                ],
            ),
        )
        .query_literal("sort", "updated_at");
    let legacy_campaigns_state = || {
        migrations::archived_to_per_partition(
            "updated_at",
            Some(("campaign_type", "email")),
            cfg.start_date.text.clone(),
        )
    };
    // `lists` is also the parent of `lists_detailed`.
    let lists = k.list(named!("lists"), get("lists"), k.client_side("updated"))?;
    let (list_partitions, changed_lists_only) = lists_detailed::components(
        lists.clone().into_arc(),
        k.format.clone(),
        k.jsonapi(
            get("lists/{partition.id}").query_literal("additional-fields[list]", "profile_count"),
        )?,
    );
    let reports = Reports::new(
        &k.requester,
        k.jsonapi(get("metrics"))?,
        cfg.metric_ids.clone(),
        k.format.clone(),
        k.start,
        k.now,
    );

    Ok(vec![
        k.list(
            named!("profiles"),
            get("profiles")
                .query_literal("additional-fields[profile]", profile_fields)
                .query("filter", &greater_than("updated"))
                .query_literal("sort", "updated")
                .query_literal("page[size]", "100"),
            k.sorted("updated"),
        )?
        .normalize(),
        // Every profile (no date filter), suppressed ones kept.
        k.list(
            named!("global_exclusions"),
            get("profiles")
                .query_literal("additional-fields[profile]", "subscriptions")
                .query_literal("page[size]", "100"),
            k.cursor("updated"),
        )?
        .filter(global_exclusions::suppressed)
        .transform(global_exclusions::rename_suppression),
        k.list(
            named!("events"),
            get("events")
                .query_literal("fields[event]", "event_properties,timestamp,uuid,datetime")
                .query_literal("fields[metric]", "name,created,updated,integration")
                .query_literal("include", "metric,attributions")
                .query_with("filter", events::filter(k.now))
                .query_literal("sort", "datetime"),
            events_cursor(),
        )?
        .router(events::router(&cfg.event_metric_ids)),
        k.stream(
            named!("events_detailed"),
            k.jsonapi(
                get("events")
                    .query_literal("include", "metric,attributions")
                    .query_literal("fields[metric]", "name")
                    .query_with("filter", events::filter(k.now))
                    .query_literal("sort", "datetime"),
            )?
            .selector(RecordSelector::Custom(Arc::new(
                included::select_with_included,
            )))
            // The custom selector reads `data`: a page without it is retried, then fails.
            .expect(Expect::JsonAt(vec!["data".into()])),
            events_cursor().lookback(Duration::days(cfg.lookback_window)),
        )
        .router(events::router(&cfg.event_metric_ids))
        .migrate_state(migrations::per_event_to_single(k.format.clone())),
        k.list(
            named!("email_templates"),
            get("templates")
                .query("filter", &greater_than("updated"))
                .query_literal("sort", "updated"),
            k.sorted("updated"),
        )?,
        k.list(
            named!("campaigns"),
            campaigns_request.clone(),
            k.sorted("updated_at")
                .per_partition(false)
                .step(Duration::days(60), Duration::seconds(1)),
        )?
        .router(campaign_partitions.clone())
        .transform(channel_from_partition)
        .migrate_state(legacy_campaigns_state()),
        k.list(
            named!("campaigns_detailed"),
            campaigns_request,
            k.sorted("updated_at").per_partition(false),
        )?
        .router(campaign_partitions)
        .enrich(CampaignDetails::new(&k.requester))
        .migrate_state(legacy_campaigns_state()),
        k.list(
            named!("flows"),
            get("flows")
                .query(
                    "filter",
                    &within_window("updated", &["equals(archived,{partition.archived})"]),
                )
                .query_literal("sort", "updated"),
            k.sorted("updated")
                .per_partition(false)
                .step(Duration::days(30), Duration::seconds(1)),
        )?
        .router(strings("archived", &["true", "false"]))
        .migrate_state(migrations::archived_to_per_partition(
            "updated",
            None,
            cfg.start_date.text.clone(),
        )),
        // Every metric definition whatever `start_date` says; the state still filters.
        k.list(
            named!("metrics"),
            get("metrics"),
            Incremental {
                start: k.start.min(default_start()),
                ..k.client_side("updated")
            },
        )?,
        lists, // declared above
        k.stream(
            named!("lists_detailed"),
            changed_lists_only,
            k.client_side("updated").per_partition(true),
        )
        .router(list_partitions),
        k.list(
            named!("segments"),
            get("segments"),
            k.client_side("updated"),
        )?,
        reports.stream(
            named!("flow_series_reports"),
            RequestTemplate::post_json(
                "flow-series-reports",
                reports::body(
                    "flow-series-report",
                    reports::FLOW_STATISTICS,
                    Some("daily"),
                ),
            ),
            RecordSelector::Custom(Arc::new(reports::flow_series_days)),
            &["flow_id", "flow_message_id", "send_channel"],
            cfg.reporting_lookback_window,
        )?,
        reports
            .stream(
                named!("campaign_values_reports"),
                RequestTemplate::post_json(
                    "campaign-values-reports",
                    reports::body("campaign-values-report", reports::CAMPAIGN_STATISTICS, None),
                ),
                RecordSelector::path("data.attributes.results"),
                &["campaign_id", "campaign_message_id", "send_channel"],
                0,
            )?
            .transform(reports::closing_date),
    ]
    .into_iter()
    .map(DeclarativeStream::into_arc)
    .collect())
}

/// What every Klaviyo stream shares, set once.
struct Klaviyo {
    requester: Requester,
    format: CursorFormat,
    /// Where cursors start without state: `start_date`, or 2012.
    start: DateTime<Utc>,
    /// The end of every cursor range: the run's clock.
    now: DateTime<Utc>,
}

impl Klaviyo {
    fn new(cfg: &KlaviyoConfig, env: &RunEnv) -> Result<Self> {
        Ok(Klaviyo {
            requester: requester(cfg, env)?,
            format: cursor_format(),
            start: cfg.start(),
            now: env.clock.now(),
        })
    }

    /// The retriever of a JSON:API list: `links.next` paginator, records under `data`.
    fn jsonapi(&self, request: RequestTemplate) -> Result<SimpleRetriever> {
        Ok(SimpleRetriever::new(&self.requester, request.checked()?)
            .paginator(Paginator::next_url("links.next"))
            .records_at("data"))
    }

    /// A resource stream: `id` key, `record[cursor] = record.attributes[cursor]`, top-level
    /// nulls left out (as the CDK writes records).
    fn stream(
        &self,
        named: Named,
        retriever: impl Retriever + 'static,
        cursor: Incremental,
    ) -> DeclarativeStream {
        let field = cursor.cursor_field.clone();
        DeclarativeStream::new(named.name, named.schema(), retriever)
            .primary_key(&["id"])
            .transform(move |r: &mut Value, _s: &Slice| {
                let v = get_path(r, &["attributes", &field])
                    .cloned()
                    .unwrap_or(Value::Null);
                set_path(r, &[&field], v);
            })
            .drop_top_level_nulls()
            .incremental(cursor)
    }

    /// A resource stream read with [`Klaviyo::jsonapi`].
    fn list(
        &self,
        named: Named,
        request: RequestTemplate,
        cursor: Incremental,
    ) -> Result<DeclarativeStream> {
        Ok(self.stream(named, self.jsonapi(request)?, cursor))
    }

    /// A cursor the API filters on, from `start_date` to now.
    fn cursor(&self, field: &str) -> Incremental {
        Incremental::new(field, self.format.clone(), self.start, self.now)
    }

    /// Requested with `sort=<cursor>`, records arrive in cursor order, so long windows can be
    /// checkpointed as they are read instead of only at their end.
    fn sorted(&self, field: &str) -> Incremental {
        self.cursor(field).sorted(CHECKPOINT_EVERY)
    }

    /// Endpoints without a date filter: records at or before the window start are dropped.
    fn client_side(&self, field: &str) -> Incremental {
        self.cursor(field).client_side(ClientFilter::GreaterThan)
    }
}

/// Cursor values: written `2024-03-15T10:00:00+0000`; read with `+00:00`, `Z`, fractions or a
/// space instead of `T`.
pub fn cursor_format() -> CursorFormat {
    CursorFormat::new(DatetimeFormat::strftime(DATE_FORMAT))
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

/// One partition per value, values as strings (`{"archived": "true"}`).
fn strings(key: &str, values: &[&str]) -> PartitionRouter {
    PartitionRouter::list(key, values.iter().map(|v| Value::from(*v)))
}
