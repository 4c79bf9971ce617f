//! The stream table: every catalog stream, in the official catalog order.
//!
//! A Klaviyo stream is a JSON:API resource list unless it says otherwise. [`defaults`] sets
//! what they all share once: the requester (API-key header, `Revision`, the official 401/403
//! message, the budget), the `links.next` paginator, the record selector on `data`, the `id`
//! primary key, the cursor copied up from `attributes` and top-level nulls left out. A row
//! then says only its name (which finds its schema), its request, its cursor ([`Cursors`])
//! and its quirks, each named inline and explained in [`crate::quirks`].

use connector_runtime::prelude::*;

use crate::config::{default_start, KlaviyoConfig};
use crate::filters::{greater_than, within_window, DATE_FORMAT};
use crate::quirks::campaigns::{channel_from_partition, CampaignDetails};
use crate::quirks::reports::{self, Reports};
use crate::quirks::{events, global_exclusions, included, lists_detailed};
use crate::{budget, migrations, BASE_URL, BASE_URL_VAR, REVISION};

/// Every stream's schema, by stream name (`resources/schemas/<name>.json`).
pub static SCHEMAS: Schemas = connector_runtime::embed_schemas!();

const INVALID_KEY: &str =
    "Please provide a valid API key and make sure it has permissions to read specified streams.";

/// How many records of a sorted window pass between two checkpoints.
const CHECKPOINT_EVERY: usize = 1000;

/// How many weekly windows of an events partition are read at once (the one being emitted
/// included). Only the events endpoints get look-ahead: their quota (350/s, 3,500/min) is far
/// above what one sequential reader sends, while campaigns (10/s), flows (3/s) and the report
/// endpoints are quota-bound, so reading their windows ahead would only queue at the budget.
const EVENT_WINDOWS_IN_FLIGHT: usize = 4;

/// Every catalog stream, in catalog order.
#[rustfmt::skip]
pub fn all(cfg: &KlaviyoConfig, env: &RunEnv) -> Result<Vec<Arc<DeclarativeStream>>> {
    let t = defaults(cfg, env)?;
    let now = env.clock.now();
    let profile_fields = if cfg.disable_fetching_predictive_analytics { "subscriptions" }
        else { "subscriptions,predictive_analytics" };
    // Events are read a week at a time; the next weeks are read ahead while one is emitted
    // (the events quota, 350/s, leaves room), records and states staying in week order.
    let events_cursor = || t.sorted("datetime").per_partition(false).step(days(7), SECOND)
        .concurrent_windows(EVENT_WINDOWS_IN_FLIGHT);
    let legacy_state = |cursor, archived_of| {
        migrations::archived_to_per_partition(cursor, archived_of, cfg.start_date.text.clone())
    };
    let campaigns = |name: &str| t.get(name, "campaigns")
        .query("filter", &within_window("updated_at", &[
            "equals(messages.channel,'{partition.campaign_type}')",
            "equals(archived,{partition.archived})",
        ]))
        .query_literal("sort", "updated_at")
        .router(PartitionRouter::Cartesian(vec![
            strings("campaign_type", &["sms", "email"]),
            strings("archived", &["true", "false"]),
        ]))
        .migrate_state(legacy_state("updated_at", Some(("campaign_type", "email"))));
    // `lists` is also the parent of `lists_detailed`.
    let lists = t.get("lists", "lists").incremental(t.client_side("updated")).build()?;
    let (list_partitions, changed_lists_only) =
        lists_detailed::components(lists.clone(), cursor_format());
    let reports = Reports::new(&t, cfg.metric_ids.clone(), cursor_format(), cfg.start(), now)?;

    Ok(vec![
        t.get("profiles", "profiles")
            .query_literal("additional-fields[profile]", profile_fields)
            .query("filter", &greater_than("updated")).query_literal("sort", "updated")
            .query_literal("page[size]", "100")
            .incremental(t.sorted("updated")).normalize().build()?,
        // Every profile (no date filter), suppressed ones kept.
        t.get("global_exclusions", "profiles")
            .query_literal("additional-fields[profile]", "subscriptions")
            .query_literal("page[size]", "100").incremental(t.cursor("updated"))
            .filter(global_exclusions::suppressed)
            .transform(global_exclusions::rename_suppression).build()?,
        t.get("events", "events")
            .query_literal("fields[event]", "event_properties,timestamp,uuid,datetime")
            .query_literal("fields[metric]", "name,created,updated,integration")
            .query_literal("include", "metric,attributions")
            .query_with("filter", events::filter(now)).query_literal("sort", "datetime")
            .incremental(events_cursor())
            .router(events::router(&cfg.event_metric_ids)).build()?,
        t.get("events_detailed", "events")
            .query_literal("include", "metric,attributions")
            .query_literal("fields[metric]", "name")
            .query_with("filter", events::filter(now)).query_literal("sort", "datetime")
            .selector(RecordSelector::Custom(Arc::new(included::select_with_included)))
            // The custom selector reads `data`: a page without it is retried, then fails.
            .expect(Expect::JsonAt(vec!["data".into()]))
            .incremental(events_cursor().lookback(days(cfg.lookback_window)))
            .router(events::router(&cfg.event_metric_ids))
            .migrate_state(migrations::per_event_to_single(cursor_format())).build()?,
        t.get("email_templates", "templates")
            .query("filter", &greater_than("updated")).query_literal("sort", "updated")
            .incremental(t.sorted("updated")).build()?,
        campaigns("campaigns")
            .incremental(t.sorted("updated_at").per_partition(false).step(days(60), SECOND))
            .transform(channel_from_partition).build()?,
        campaigns("campaigns_detailed").incremental(t.sorted("updated_at").per_partition(false))
            .enrich(CampaignDetails::new(t.base_requester())).build()?,
        t.get("flows", "flows")
            .query("filter", &within_window("updated", &["equals(archived,{partition.archived})"]))
            .query_literal("sort", "updated")
            .incremental(t.sorted("updated").per_partition(false).step(days(30), SECOND))
            .router(strings("archived", &["true", "false"]))
            .migrate_state(legacy_state("updated", None)).build()?,
        // Every metric definition whatever `start_date` says; the state still filters.
        t.get("metrics", "metrics").incremental(Incremental {
            start: cfg.start().min(default_start()), ..t.client_side("updated")
        }).build()?,
        lists, // declared above
        t.get("lists_detailed", "lists/{partition.id}")
            .query_literal("additional-fields[list]", "profile_count").wrap(changed_lists_only)
            .incremental(t.client_side("updated").per_partition(true))
            .router(list_partitions).build()?,
        t.get("segments", "segments").incremental(t.client_side("updated")).build()?,
        reports.stream("flow_series_reports", "flow-series-reports",
                reports::body("flow-series-report", reports::FLOW_STATISTICS, Some("daily")),
                &["flow_id", "flow_message_id", "send_channel"], cfg.reporting_lookback_window)
            .selector(RecordSelector::Custom(Arc::new(reports::flow_series_days))).build()?,
        reports.stream("campaign_values_reports", "campaign-values-reports",
                reports::body("campaign-values-report", reports::CAMPAIGN_STATISTICS, None),
                &["campaign_id", "campaign_message_id", "send_channel"], 0)
            .records_at("data.attributes.results").transform(reports::closing_date).build()?,
    ])
}

/// Windows of cursors are cut at whole seconds.
const SECOND: Duration = Duration::seconds(1);

fn days(n: i64) -> Duration {
    Duration::days(n)
}

/// What every Klaviyo stream shares, set once.
pub fn defaults(cfg: &KlaviyoConfig, env: &RunEnv) -> Result<StreamDefaults> {
    Ok(StreamDefaults::new(SCHEMAS, &requester(cfg, env)?)
        .paginator(Paginator::next_url("links.next"))
        .records_at("data")
        .primary_key(&["id"])
        .cursor_from("attributes")
        .drop_top_level_nulls()
        .cursors(cursor_format(), cfg.start(), env.clock.now()))
}

/// Klaviyo's cursors besides the plain one ([`StreamDefaults::cursor`]: the API filters, with
/// no sort order to rely on), from `start_date` (or 2012) to the run's clock.
pub trait Cursors {
    /// Requested with `sort=<cursor>`, records arrive in cursor order, so long windows can be
    /// checkpointed as they are read instead of only at their end.
    fn sorted(&self, field: &str) -> Incremental;
    /// Endpoints without a date filter: records at or before the window start are dropped.
    fn client_side(&self, field: &str) -> Incremental;
}

impl Cursors for StreamDefaults {
    fn sorted(&self, field: &str) -> Incremental {
        self.cursor(field).sorted(CHECKPOINT_EVERY)
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use connector_runtime::source::typed_config;

    /// Every schema file belongs to a catalog stream and every catalog stream has one (a
    /// missing file fails `all`), whatever the config turns on.
    #[test]
    fn every_stream_has_its_schema_and_every_schema_a_stream() {
        let env = RunEnv::default().with_var("AIRBYTE_TEST_NOW", "2024-06-10T12:00:00Z");
        for config in [
            json!({"api_key": "k"}),
            json!({"api_key": "k", "start_date": "2024-01-01T00:00:00Z",
                "disable_fetching_predictive_analytics": true, "metric_ids": "M1",
                "event_metric_ids": "E1"}),
        ] {
            let cfg: KlaviyoConfig = typed_config(&config).expect("a config");
            let mut names: Vec<String> = all(&cfg, &env)
                .expect("every stream builds")
                .iter()
                .map(|s| s.name.clone())
                .collect();
            assert_eq!(names.len(), 14);
            names.sort();
            assert_eq!(names, SCHEMAS.names());
        }
    }
}
