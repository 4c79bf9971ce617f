//! The stream table: every stream of the source, in the official catalog order.
//!
//! An ordinary stream is one row: its name (which also picks its embedded schema), its
//! request as a [`RequestTemplate`] and, for a substream, its partition router. The source-wide
//! defaults live once in [`Table`]: the requesters (general and analytics error handling), the
//! bookmark paginator, the `items` record selector, the primary key, the date cursors and
//! report windows. A stream with a true quirk names it inline (`quirks::…`).

use connector_runtime::async_retriever::{AsyncRetriever, JobSlots};
use connector_runtime::prelude::*;

use crate::config::{PinterestConfig, Settings};
use crate::quirks::{self, custom_reports, saved_cursors};
use crate::reports::{self, Creation, ReportJobs};
use crate::{auth, errors, BASE_URL, BASE_URL_VAR};

/// `schema_of!("boards")`: a stream name with its embedded schema (checked when the crate
/// is built), so that each stream name is written once.
macro_rules! schema_of {
    ($name:literal) => {
        (
            $name,
            schema(
                $name,
                include_str!(concat!("../resources/schemas/", $name, ".json")),
            ),
        )
    };
}

/// A stream name and its schema.
type Named = (&'static str, Value);

const COLUMNS: &str = include_str!("../resources/columns.json");

/// A column list of `columns.json`.
fn columns(list: &str) -> Result<Vec<String>> {
    let all: Value = serde_json::from_str(COLUMNS)
        .map_err(|e| Error::system(format!("embedded columns.json is invalid: {e}")))?;
    Ok(all[list]["columns"]
        .as_array()
        .ok_or_else(|| Error::system(format!("columns.json has no list {list}")))?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect())
}

/// The largest `page_size` Pinterest's API description allows for a list stream, sent on every
/// page so that a page holds 250 items instead of the default 25 (a tenth of the requests
/// against the per-minute category quota). `keywords` (no maximum stated) and
/// `conversion_tags` (not paginated by size) keep the API's default.
pub fn max_page_size(stream: &str) -> Option<&'static str> {
    match stream {
        "keywords" | "conversion_tags" => None,
        _ => Some("250"),
    }
}

/// Dates as the analytics endpoints and reports write them; legacy states may hold epochs.
fn day() -> CursorFormat {
    CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d")).accept(DatetimeFormat::EpochSeconds)
}

/// Partitions of `parent`, one per record `id`.
fn by(parent: &Arc<DeclarativeStream>) -> PartitionRouter {
    PartitionRouter::substream(parent.clone(), "id", "id")
}

fn get(path: &str) -> RequestTemplate {
    RequestTemplate::get(path)
}

/// Every stream of the source for this config, in the official catalog order.
pub fn streams(
    config: &PinterestConfig,
    ctx: &SourceContext,
) -> Result<Vec<Arc<DeclarativeStream>>> {
    let t = Table::new(config, ctx)?;
    let account = t.settings.account_id.as_deref();

    let boards = t.list(schema_of!("boards"), t.scoped("boards")).into_arc();
    let catalogs = t.list(schema_of!("catalogs"), t.scoped("catalogs"));
    let catalogs_feeds = t
        .list(schema_of!("catalogs_feeds"), t.scoped("catalogs/feeds"))
        .transform(quirks::drop_feed_credentials);
    let catalogs_product_groups = t.list(
        schema_of!("catalogs_product_groups"),
        t.scoped("catalogs/product_groups"),
    );
    let ad_accounts = t
        .list_with(
            schema_of!("ad_accounts"),
            quirks::ad_accounts::request(account),
            quirks::ad_accounts::selector(),
        )
        .into_arc();
    let board_sections = t
        .list(
            schema_of!("board_sections"),
            t.scoped("boards/{partition.id}/sections"),
        )
        .router(by(&boards))
        .into_arc();
    let board_pins = t
        .list(
            schema_of!("board_pins"),
            t.scoped("boards/{partition.id}/pins"),
        )
        .router(by(&boards));
    let board_section_pins = t
        .list(
            schema_of!("board_section_pins"),
            t.scoped("boards/{partition.parent_slice.id}/sections/{partition.id}/pins"),
        )
        .router(by(&board_sections));
    let audiences = t
        .list(
            schema_of!("audiences"),
            get("ad_accounts/{partition.id}/audiences"),
        )
        .router(by(&ad_accounts));
    let conversion_tags = t
        .list(
            schema_of!("conversion_tags"),
            get("ad_accounts/{partition.id}/conversion_tags"),
        )
        .router(by(&ad_accounts));
    let customer_lists = t
        .list(
            schema_of!("customer_lists"),
            get("ad_accounts/{partition.id}/customer_lists"),
        )
        .router(by(&ad_accounts));

    let campaigns = t.updated_since(
        schema_of!("campaigns"),
        "ad_accounts/{partition.id}/campaigns",
        &ad_accounts,
    );
    let ad_groups = t.updated_since(
        schema_of!("ad_groups"),
        "ad_accounts/{partition.id}/ad_groups",
        &ad_accounts,
    );
    let ads = t.updated_since(
        schema_of!("ads"),
        "ad_accounts/{partition.id}/ads",
        &ad_accounts,
    );
    let keywords = t
        .list(
            schema_of!("keywords"),
            get("ad_accounts/{partition.parent_slice.id}/keywords")
                .query("ad_group_id", "{partition.id}"),
        )
        .router(by(&ad_groups));

    let user_account_analytics = t
        .analytics_rows(
            schema_of!("user_account_analytics"),
            get("user_account/analytics"),
            "all.daily_metrics",
        )
        .incremental(t.analytics_cursor("date"));
    let ad_account_analytics = t
        .analytics(
            schema_of!("ad_account_analytics"),
            get("ad_accounts/{partition.id}/analytics"),
        )
        .router(by(&ad_accounts))
        .migrate_state(saved_cursors::raise("DATE", day(), t.analytics_start()));
    let campaign_analytics = t
        .analytics(
            schema_of!("campaign_analytics"),
            get("ad_accounts/{partition.parent_slice.id}/campaigns/analytics")
                .query("campaign_ids", "{partition.id}"),
        )
        .router(by(&campaigns))
        .group_partitions(
            PartitionGrouping::new("id", 250)
                .group_by("parent_slice")
                .split_by("CAMPAIGN_ID"),
        );
    let ad_group_analytics = t
        .analytics(
            schema_of!("ad_group_analytics"),
            get("ad_accounts/{partition.parent_slice.id}/ad_groups/analytics")
                .query("ad_group_ids", "{partition.id}"),
        )
        .router(by(&ad_groups))
        .group_partitions(
            PartitionGrouping::new("id", 250)
                .group_by("parent_slice")
                .split_by("AD_GROUP_ID"),
        );
    let ad_analytics = t
        .analytics(
            schema_of!("ad_analytics"),
            get("ad_accounts/{partition.parent_slice.id}/ads/analytics")
                .query("ad_ids", "{partition.id}"),
        )
        .router(by(&ads))
        .group_partitions(
            PartitionGrouping::new("id", 250)
                .group_by("parent_slice")
                .split_by("AD_ID"),
        );

    let standard = &t.sync_columns;
    let targeting = &columns("targeting_reports")?;
    let report = |named: Named, level: &str, cols: &[String]| {
        t.standard_report(named, level, cols, by(&ad_accounts))
    };
    let mut out = vec![
        boards.clone(),
        catalogs.into_arc(),
        catalogs_feeds.into_arc(),
        catalogs_product_groups.into_arc(),
        ad_accounts.clone(),
        board_sections,
        board_pins.into_arc(),
        board_section_pins.into_arc(),
        audiences.into_arc(),
        keywords.into_arc(),
        conversion_tags.into_arc(),
        customer_lists.into_arc(),
        campaigns,
        ad_groups,
        ads,
        user_account_analytics.into_arc(),
        ad_account_analytics.into_arc(),
        campaign_analytics.into_arc(),
        ad_group_analytics.into_arc(),
        ad_analytics.into_arc(),
        report(schema_of!("advertiser_report"), "ADVERTISER", standard)?,
        report(schema_of!("ad_group_report"), "AD_GROUP", standard)?,
        report(
            schema_of!("campaign_analytics_report"),
            "CAMPAIGN",
            standard,
        )?,
        report(
            schema_of!("pin_promotion_report"),
            "PIN_PROMOTION",
            standard,
        )?,
        report(
            schema_of!("product_group_report"),
            "PRODUCT_GROUP",
            standard,
        )?,
        report(
            schema_of!("product_item_report"),
            "PRODUCT_ITEM",
            &columns("product_item_report")?,
        )?,
        report(
            schema_of!("campaign_targeting_report"),
            "CAMPAIGN_TARGETING",
            targeting,
        )?,
        report(
            schema_of!("advertiser_targeting_report"),
            "ADVERTISER_TARGETING",
            targeting,
        )?,
        report(
            schema_of!("ad_group_targeting_report"),
            "AD_GROUP_TARGETING",
            targeting,
        )?,
        report(
            schema_of!("pin_promotion_targeting_report"),
            "PIN_PROMOTION_TARGETING",
            targeting,
        )?,
        report(
            schema_of!("product_group_targeting_report"),
            "PRODUCT_GROUP_TARGETING",
            targeting,
        )?,
        report(schema_of!("keyword_report"), "KEYWORD", targeting)?,
    ];
    for r in &t.settings.custom_reports {
        let (_, schema) = schema_of!("custom_report_template");
        let (history_days, window) = custom_reports::history_and_window(r);
        let router = PartitionRouter::Cartesian(vec![
            by(&ad_accounts),
            PartitionRouter::Custom(Arc::new(custom_reports::StatusChunks(
                custom_reports::status_chunk_partitions(r),
            ))),
        ]);
        out.push(t.report(
            &custom_reports::stream_name(&r.name),
            schema,
            custom_reports::creation(r.clone()),
            ReportDates {
                start: r.start(),
                history_days,
                window_days: (window.as_secs() / 86_400) as i64,
            },
            router,
            false,
        ));
    }
    Ok(out)
}

/// How far back a report may start and how long its windows are.
struct ReportDates {
    /// The configured start, if any; never earlier than the history limit.
    start: Option<DateTime<Utc>>,
    history_days: i64,
    window_days: i64,
}

/// The source-wide defaults every row of the table shares.
struct Table<'a> {
    settings: &'a Settings,
    /// The requester of lists, parents and report polling: the general error handler.
    api: Requester,
    /// The requester of the synchronous analytics streams: the analytics rules first.
    analytics: Requester,
    now: DateTime<Utc>,
    /// The last day a date window may cover (inclusive), as an instant inside today.
    today_end: DateTime<Utc>,
    sync_columns: Vec<String>,
    /// Shared by every report stream of the run: one job at a time.
    job_slots: JobSlots,
}

impl<'a> Table<'a> {
    fn new(config: &'a PinterestConfig, ctx: &SourceContext) -> Result<Self> {
        let base = Requester::new(BASE_URL, BASE_URL_VAR, &ctx.env)?;
        let auth: Arc<dyn Authenticator> = Arc::new(auth::oauth(config, &base, ctx)?);
        let base = base.with_auth(auth).with_budget(errors::budget(&ctx.env));
        let now = ctx.env.clock.now();
        Ok(Table {
            settings: &config.settings,
            api: base
                .clone()
                .with_handlers(errors::general())
                .with_retry(errors::general_retry()),
            analytics: base
                .with_handlers(errors::analytics())
                .with_retry(errors::analytics_retry()),
            now,
            today_end: start_of_day(now) + Duration::days(1) - Duration::seconds(1),
            sync_columns: columns("sync_analytics_and_standard_reports")?,
            job_slots: JobSlots::new(1),
        })
    }

    /// `GET path` on behalf of the configured ad account (`?ad_account_id=`), if any: the
    /// user-level lists (boards, catalogs) accept it.
    fn scoped(&self, path: &str) -> RequestTemplate {
        match &self.settings.account_id {
            Some(a) => get(path).query_literal("ad_account_id", a.as_str()),
            None => get(path),
        }
    }

    /// A bookmark-paginated list of `items`, primary key `id`, with the stream's page size.
    fn list(&self, named: Named, request: RequestTemplate) -> DeclarativeStream {
        self.list_with(named, request, RecordSelector::path("items"))
    }

    /// A bookmark-paginated list with its own record selector.
    fn list_with(
        &self,
        (name, schema): Named,
        request: RequestTemplate,
        selector: RecordSelector,
    ) -> DeclarativeStream {
        let request = match max_page_size(name) {
            Some(n) => request.query_literal("page_size", n),
            None => request,
        };
        let retriever = SimpleRetriever::new(&self.api, request)
            .paginator(Paginator::body_token("bookmark", "bookmark"))
            .selector(selector);
        declare(name, schema, retriever).primary_key(&["id"])
    }

    /// `campaigns`/`ad_groups`/`ads`: whole lists per ad account (`entity_statuses` from the
    /// config's `status`), filtered on `updated_time` client-side from max(start_date,
    /// partition cursor), in full refresh too and as parents.
    fn updated_since(
        &self,
        named: Named,
        path: &str,
        accounts: &Arc<DeclarativeStream>,
    ) -> Arc<DeclarativeStream> {
        let request = match self.settings.entity_statuses() {
            Some(st) => get(path).query_literal("entity_statuses", st),
            None => get(path),
        };
        let start = self
            .settings
            .start_date
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let epoch = || CursorFormat::new(DatetimeFormat::EpochSeconds);
        self.list(named, request)
            .router(by(accounts))
            .migrate_state(saved_cursors::raise("updated_time", epoch(), start))
            .incremental(
                Incremental::new("updated_time", epoch(), start, self.now)
                    .per_partition(true)
                    .min_start(start)
                    .client_side(ClientFilter::GreaterOrEqual)
                    .keep_missing_cursor()
                    .filter_in_full_refresh(),
            )
            .into_arc()
    }

    /// The first day the synchronous analytics may read: start_date, at most 89 days back.
    fn analytics_start(&self) -> DateTime<Utc> {
        let cap = start_of_day(self.now) - Duration::days(89);
        self.settings.start_date.map_or(cap, |s| s.max(cap))
    }

    /// The 30-day-window date cursor of the synchronous analytics streams. Like the CDK
    /// cursor, a partition resumes from max(saved cursor, stream start).
    fn analytics_cursor(&self, field: &str) -> Incremental {
        let start = self.analytics_start();
        Incremental::new(field, day(), start, self.today_end)
            .min_start(start)
            .step(Duration::days(30), Duration::days(1))
    }

    /// A synchronous analytics stream of one partition router: rows at the top level, a
    /// per-partition `DATE` cursor.
    fn analytics(&self, named: Named, request: RequestTemplate) -> DeclarativeStream {
        self.analytics_rows(named, request, "")
            .incremental(self.analytics_cursor("DATE").per_partition(true))
    }

    /// A synchronous analytics request: one GET per 30-day window, rows at `records`.
    fn analytics_rows(
        &self,
        (name, schema): Named,
        request: RequestTemplate,
        records: &str,
    ) -> DeclarativeStream {
        let request = request
            .query_literal("granularity", "DAY")
            .query_literal("columns", self.sync_columns.join(","))
            .query("start_date", "{window.start:%Y-%m-%d}")
            .query("end_date", "{window.end:%Y-%m-%d}");
        declare(
            name,
            schema,
            SimpleRetriever::new(&self.analytics, request).records_at(records),
        )
    }

    /// A standard report over every ad account: 31-day windows from at most 91 days back for
    /// product items, else 185-day windows from at most 913 days back.
    fn standard_report(
        &self,
        (name, schema): Named,
        level: &str,
        columns: &[String],
        router: PartitionRouter,
    ) -> Result<Arc<DeclarativeStream>> {
        let (history_days, window_days) = match level {
            "PRODUCT_ITEM" => (91, 31),
            _ => (913, 185),
        };
        let dates = ReportDates {
            start: self.settings.start_date,
            history_days,
            window_days,
        };
        let create = reports::standard_creation(level, columns)?;
        Ok(self.report(name, schema, create, dates, router, true))
    }

    /// An async report stream: job creation classified by the analytics rules, then the
    /// general mapping; one job at a time; rows coerced to the schema; a per-partition `DATE`
    /// cursor (`parent_state` as the CDK writes it for the stream's router).
    fn report(
        &self,
        name: &str,
        schema: Value,
        create: Creation,
        dates: ReportDates,
        router: PartitionRouter,
        parent_state: bool,
    ) -> Arc<DeclarativeStream> {
        let cap = start_of_day(self.now) - Duration::days(dates.history_days);
        let start = dates.start.map_or(cap, |s| s.max(cap));
        let retriever = AsyncRetriever::new(&self.api, ReportJobs { create })
            .create_handlers(errors::analytics_rules())
            .records_at("*")
            .slots(self.job_slots.clone());
        declare(name, schema, retriever)
            .router(router)
            .normalize()
            .migrate_state(saved_cursors::raise("DATE", day(), start))
            .incremental(
                Incremental::new("DATE", day(), start, self.today_end)
                    .min_start(start)
                    .step(Duration::days(dates.window_days), Duration::days(1))
                    .per_partition(parent_state),
            )
            .into_arc()
    }
}

/// A stream whose records leave out top-level nulls, as the official records do; this runs
/// before any other transformation and before schema normalisation.
fn declare(name: &str, schema: Value, retriever: impl Retriever + 'static) -> DeclarativeStream {
    DeclarativeStream::new(name, schema, retriever).transform(|r, _| drop_top_level_nulls(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_runtime::output::Output;
    use connector_runtime::secrets::Secrets;
    use connector_runtime::source::typed_config;

    /// Every row's request template is well formed and renders for a slice that has what the
    /// routers put into partitions (`id`, `parent_slice.id`) and a date window.
    #[test]
    fn every_stream_renders_its_first_request() {
        let config = typed_config::<PinterestConfig>(&json!({
            "start_date": "2024-01-01", "account_id": "acc9", "status": ["ACTIVE"],
            "credentials": {"auth_method": "oauth2.0", "client_id": "cid",
                "client_secret": "cs", "refresh_token": "rt"},
            "custom_reports": [{"name": "MyReport", "level": "ADVERTISER", "granularity": "DAY",
                "columns": ["SPEND_IN_DOLLAR"], "conversion_report_time": "TIME_OF_AD_ACTION"}]
        }))
        .expect("a valid config");
        let ctx = SourceContext {
            env: RunEnv::default().with_var("AIRBYTE_TEST_NOW", "2024-06-10T12:00:00Z"),
            output: Output::new(Box::new(std::io::sink()), Secrets::new()),
        };
        let all = streams(&config, &ctx).expect("streams");
        assert_eq!(all.len(), 33);
        let slice = Slice {
            partition: partition([("id", json!("7")), ("parent_slice", json!({"id": "acc9"}))]),
            window: Some(Window {
                start: parse_date("2024-05-01").expect("a date"),
                end: parse_date("2024-05-30").expect("a date"),
            }),
        };
        for s in &all {
            let request = s.retriever.first_request(&slice).expect("a first request");
            let request = request.unwrap_or_else(|e| panic!("{}: {}", s.name, e.message()));
            assert!(!request.url.contains('{'), "{}: {}", s.name, request.url);
        }
    }
}
