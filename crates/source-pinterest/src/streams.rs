//! The stream table: every stream of the source, in the official catalog order.
//!
//! An ordinary stream is one row: its name (which also finds its schema), its request as a
//! [`RequestTemplate`] and, for a substream, its partition router. The source-wide defaults
//! are set once, in [`Pinterest::new`]: three [`StreamDefaults`] (lists: the general requester,
//! the bookmark paginator, the `items` record selector, the `id` primary key and the largest
//! `page_size`; synchronous analytics: the analytics requester and the date-window query;
//! async reports) and the date cursors. Pinterest's own rules are thin functions over them
//! ([`Pinterest::updated_since`], [`Pinterest::analytics`], and the report streams of
//! [`ReportStreams`]). A stream with a true quirk names it inline (`quirks::…`).

use connector_runtime::prelude::*;

use crate::config::{PinterestConfig, Settings};
use crate::quirks::{self, ad_accounts, saved_cursors};
use crate::reports::ReportStreams;
use crate::{auth, errors, BASE_URL, BASE_URL_VAR};

/// Every stream's schema, by stream name (`resources/schemas/<name>.json`).
pub static SCHEMAS: Schemas = connector_runtime::embed_schemas!();

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
/// `conversion_tags` (not paginated by size) keep the API's default: their rows omit it.
const MAX_PAGE_SIZE: &str = "250";

/// The days of one synchronous analytics window.
const ANALYTICS_WINDOW_DAYS: usize = 30;

/// The rows one entity analytics answer may hold. The API takes up to 250 ids
/// (`campaign_ids`, `ad_group_ids`, `ad_ids`), but its answer holds a row of every column
/// (about 3 KB of JSON) per id and day: 250 ids over a 30-day window are 7,500 rows, some
/// 25 MB held while they are read, per worker. 750 rows keep an answer the size of a few
/// list pages and still cut the `ads_analytics` requests by 25.
const ROWS_PER_ANSWER: usize = 750;

/// How many entity ids one analytics request asks for: 25 for 30-day windows.
const IDS_PER_REQUEST: usize = ROWS_PER_ANSWER / ANALYTICS_WINDOW_DAYS;

/// Entity analytics of one ad account and one date window share a request (up to
/// [`IDS_PER_REQUEST`] ids); each row goes back to its entity by `id_column`, and every entity
/// keeps its own cursor, so records and state are those of a request per entity.
fn ids_of_one_account(id_column: &str) -> PartitionGrouping {
    PartitionGrouping::new("id", IDS_PER_REQUEST)
        .group_by("parent_slice")
        .split_by(id_column)
}

/// Dates as the analytics endpoints and reports write them; legacy states may hold epochs.
pub fn day() -> CursorFormat {
    CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d")).accept(DatetimeFormat::EpochSeconds)
}

/// The last day a date window may cover (inclusive), as an instant inside today.
pub fn end_of_today(now: DateTime<Utc>) -> DateTime<Utc> {
    start_of_day(now) + Duration::days(1) - Duration::seconds(1)
}

/// Partitions of `parent`, one per record `id`.
pub fn by(parent: &Arc<DeclarativeStream>) -> PartitionRouter {
    PartitionRouter::substream(parent.clone(), "id", "id")
}

fn get(path: &str) -> RequestTemplate {
    RequestTemplate::get(path)
}

/// Every stream of the source for this config, in the official catalog order.
#[rustfmt::skip]
pub fn streams(
    config: &PinterestConfig,
    ctx: &SourceContext,
) -> Result<Vec<Arc<DeclarativeStream>>> {
    let t = Pinterest::new(config, ctx)?;
    let l = &t.lists;
    let account = t.settings.account_id.as_deref();

    let boards = l.stream("boards", t.scoped("boards")).build()?;
    let ad_accounts = l.stream("ad_accounts", ad_accounts::request(account))
        .selector(ad_accounts::selector()).build()?;
    let board_sections = l.stream("board_sections", t.scoped("boards/{partition.id}/sections"))
        .router(by(&boards)).build()?;
    let campaigns =
        t.updated_since("campaigns", "ad_accounts/{partition.id}/campaigns", &ad_accounts)?;
    let ad_groups =
        t.updated_since("ad_groups", "ad_accounts/{partition.id}/ad_groups", &ad_accounts)?;
    let ads = t.updated_since("ads", "ad_accounts/{partition.id}/ads", &ad_accounts)?;

    let standard = &t.sync_columns;
    let targeting = &columns("targeting_reports")?;
    let reports =
        ReportStreams::new(t.reports.clone(), t.settings.start_date, t.now, by(&ad_accounts));
    let report = |name: &str, level: &str, cols: &[String]| reports.standard(name, level, cols);
    let mut out = vec![
        boards.clone(),
        l.stream("catalogs", t.scoped("catalogs")).build()?,
        l.stream("catalogs_feeds", t.scoped("catalogs/feeds"))
            .transform(quirks::drop_feed_credentials).build()?,
        l.stream("catalogs_product_groups", t.scoped("catalogs/product_groups")).build()?,
        ad_accounts.clone(),
        board_sections.clone(),
        l.stream("board_pins", t.scoped("boards/{partition.id}/pins"))
            .router(by(&boards)).build()?,
        l.stream("board_section_pins",
                t.scoped("boards/{partition.parent_slice.id}/sections/{partition.id}/pins"))
            .router(by(&board_sections)).build()?,
        l.stream("audiences", get("ad_accounts/{partition.id}/audiences"))
            .router(by(&ad_accounts)).build()?,
        l.stream("keywords", get("ad_accounts/{partition.parent_slice.id}/keywords")
                .query("ad_group_id", "{partition.id}"))
            .omit_query("page_size") // no maximum stated: the API's default page
            .router(by(&ad_groups)).build()?,
        l.stream("conversion_tags", get("ad_accounts/{partition.id}/conversion_tags"))
            .omit_query("page_size") // not paginated by size
            .router(by(&ad_accounts)).build()?,
        l.stream("customer_lists", get("ad_accounts/{partition.id}/customer_lists"))
            .router(by(&ad_accounts)).build()?,
        campaigns.clone(),
        ad_groups.clone(),
        ads.clone(),
        t.sync.stream("user_account_analytics", get("user_account/analytics"))
            .records_at("all.daily_metrics").incremental(t.analytics_cursor("date")).build()?,
        t.analytics("ad_account_analytics", get("ad_accounts/{partition.id}/analytics"))
            .router(by(&ad_accounts))
            .migrate_state(saved_cursors::raise("DATE", day(), t.analytics_start())).build()?,
        t.analytics("campaign_analytics",
                get("ad_accounts/{partition.parent_slice.id}/campaigns/analytics")
                    .query("campaign_ids", "{partition.id}"))
            .router(by(&campaigns)).group_partitions(ids_of_one_account("CAMPAIGN_ID")).build()?,
        t.analytics("ad_group_analytics",
                get("ad_accounts/{partition.parent_slice.id}/ad_groups/analytics")
                    .query("ad_group_ids", "{partition.id}"))
            .router(by(&ad_groups)).group_partitions(ids_of_one_account("AD_GROUP_ID")).build()?,
        t.analytics("ad_analytics",
                get("ad_accounts/{partition.parent_slice.id}/ads/analytics")
                    .query("ad_ids", "{partition.id}"))
            .router(by(&ads)).group_partitions(ids_of_one_account("AD_ID")).build()?,
        report("advertiser_report", "ADVERTISER", standard)?,
        report("ad_group_report", "AD_GROUP", standard)?,
        report("campaign_analytics_report", "CAMPAIGN", standard)?,
        report("pin_promotion_report", "PIN_PROMOTION", standard)?,
        report("product_group_report", "PRODUCT_GROUP", standard)?,
        report("product_item_report", "PRODUCT_ITEM", &columns("product_item_report")?)?,
        report("campaign_targeting_report", "CAMPAIGN_TARGETING", targeting)?,
        report("advertiser_targeting_report", "ADVERTISER_TARGETING", targeting)?,
        report("ad_group_targeting_report", "AD_GROUP_TARGETING", targeting)?,
        report("pin_promotion_targeting_report", "PIN_PROMOTION_TARGETING", targeting)?,
        report("product_group_targeting_report", "PRODUCT_GROUP_TARGETING", targeting)?,
        report("keyword_report", "KEYWORD", targeting)?,
    ];
    for r in &t.settings.custom_reports {
        out.push(reports.custom(r)?);
    }
    Ok(out)
}

/// The source-wide defaults every row of the table shares, and Pinterest's rules over them.
struct Pinterest<'a> {
    settings: &'a Settings,
    /// Lists, parents: the general requester and error handler, bookmark pages of `items`,
    /// primary key `id`, `page_size` last.
    lists: StreamDefaults,
    /// Synchronous analytics: the analytics rules first, one GET per date window, the rows at
    /// the top level, `granularity`, `columns` and the window's dates last.
    sync: StreamDefaults,
    /// Async reports ([`ReportStreams`]): the general requester, rows coerced to the schema.
    reports: StreamDefaults,
    now: DateTime<Utc>,
    /// The last day a date window may cover (inclusive), as an instant inside today.
    today_end: DateTime<Utc>,
    sync_columns: Vec<String>,
}

impl<'a> Pinterest<'a> {
    fn new(config: &'a PinterestConfig, ctx: &SourceContext) -> Result<Self> {
        let base = Requester::new(BASE_URL, BASE_URL_VAR, &ctx.env)?;
        let auth: Arc<dyn Authenticator> = Arc::new(auth::oauth(config, &base, ctx)?);
        let base = base.with_auth(auth).with_budget(errors::budget(&ctx.env));
        let api = base
            .clone()
            .with_handlers(errors::general())
            .with_retry(errors::general_retry());
        let analytics = base
            .with_handlers(errors::analytics())
            .with_retry(errors::analytics_retry());
        let sync_columns = columns("sync_analytics_and_standard_reports")?;
        // Every record leaves out its top-level nulls, as the official records do.
        let records = StreamDefaults::new(SCHEMAS, &api).drop_top_level_nulls();
        let now = ctx.env.clock.now();
        Ok(Pinterest {
            settings: &config.settings,
            lists: records
                .clone()
                .paginator(Paginator::body_token("bookmark", "bookmark"))
                .records_at("items")
                .primary_key(&["id"])
                .query_last_literal("page_size", MAX_PAGE_SIZE),
            sync: records
                .clone()
                .requester(&analytics)
                .query_last_literal("granularity", "DAY")
                .query_last_literal("columns", sync_columns.join(","))
                .query_last("start_date", "{window.start:%Y-%m-%d}")
                .query_last("end_date", "{window.end:%Y-%m-%d}"),
            reports: records.normalize(),
            now,
            today_end: end_of_today(now),
            sync_columns,
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

    /// `campaigns`/`ad_groups`/`ads`: whole lists per ad account (`entity_statuses` from the
    /// config's `status`), filtered on `updated_time` client-side from max(start_date,
    /// partition cursor), in full refresh too and as parents.
    fn updated_since(
        &self,
        name: &str,
        path: &str,
        accounts: &Arc<DeclarativeStream>,
    ) -> Result<Arc<DeclarativeStream>> {
        let request = match self.settings.entity_statuses() {
            Some(st) => get(path).query_literal("entity_statuses", st),
            None => get(path),
        };
        let start = self
            .settings
            .start_date
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let epoch = || CursorFormat::new(DatetimeFormat::EpochSeconds);
        self.lists
            .stream(name, request)
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
            .build()
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
            .step(
                Duration::days(ANALYTICS_WINDOW_DAYS as i64),
                Duration::days(1),
            )
    }

    /// A synchronous analytics stream of one partition router: rows at the top level, a
    /// per-partition `DATE` cursor.
    fn analytics(&self, name: &str, request: RequestTemplate) -> StreamBuilder {
        self.sync
            .stream(name, request)
            .incremental(self.analytics_cursor("DATE").per_partition(true))
    }
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
        // Every schema file belongs to a stream and every stream has one (a missing file
        // fails `streams`); custom reports share `custom_report_template`.
        let mut names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        names.retain(|n| !n.starts_with("custom_"));
        names.push("custom_report_template");
        names.sort_unstable();
        assert_eq!(names, SCHEMAS.names());
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
