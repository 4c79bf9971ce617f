//! The Pinterest source: the official connector's spec, streams and state, declared on the
//! shared runtime.
//!
//! [`streams`] is the stream table. Quirks live in their own modules: [`auth`] (OAuth config
//! variants), [`errors`] (the general and analytics handlers, budgets), [`reports`] (the async
//! report flow and custom reports), [`config`] (settings and the config migration).

pub mod auth;
pub mod config;
pub mod errors;
pub mod reports;

use connector_runtime::prelude::*;

use crate::config::Settings;
use crate::reports::{ReportJobs, StatusChunks};
use connector_runtime::async_retriever::{AsyncRetriever, JobSlots};

/// The environment variable that points the connector at another API origin.
pub const BASE_URL_VAR: &str = "SOURCE_PINTEREST_BASE_URL";
/// The official API root; every stream path is relative to it.
pub const BASE_URL: &str = "https://api.pinterest.com/v5/";

const SPEC: &str = include_str!("../resources/spec.json");
const COLUMNS: &str = include_str!("../resources/columns.json");

macro_rules! schema_of {
    ($name:literal) => {
        schema(
            $name,
            include_str!(concat!("../resources/schemas/", $name, ".json")),
        )
    };
}

pub struct SourcePinterest;

impl Source for SourcePinterest {
    type Config = Value;

    fn name(&self) -> &str {
        "source-pinterest"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn spec(&self) -> Result<connector_runtime::protocol::ConnectorSpecification> {
        spec_from_json(SPEC)
    }

    fn migrate_config(&self, config: &mut Value) -> bool {
        config::migrate(config)
    }

    fn check_stream(&self) -> &str {
        "user_account_analytics"
    }

    fn workers(&self, config: &Value) -> usize {
        config::workers(config)
    }

    fn streams(&self, config: &Value, ctx: &SourceContext) -> Result<Vec<Arc<DeclarativeStream>>> {
        streams(config, ctx)
    }
}

/// A column list of `columns.json`.
fn columns(list: &str) -> Result<Arc<Vec<String>>> {
    let all: Value = serde_json::from_str(COLUMNS)
        .map_err(|e| Error::system(format!("embedded columns.json is invalid: {e}")))?;
    let cols = all[list]["columns"]
        .as_array()
        .ok_or_else(|| Error::system(format!("columns.json has no list {list}")))?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    Ok(Arc::new(cols))
}

/// Shared pieces of the stream declarations.
struct Kit {
    api: Requester,
    analytics: Requester,
    settings: Settings,
    now: DateTime<Utc>,
    /// The last day a date window may cover (inclusive), as an instant inside today.
    today_end: DateTime<Utc>,
    sync_columns: Arc<Vec<String>>,
    /// Shared by every report stream of the run: one job at a time.
    job_slots: JobSlots,
}

/// `ad_accounts` answers a list, or one object when `account_id` is set.
fn ad_account_records(body: Value) -> Result<Vec<Value>> {
    Ok(match body {
        Value::Object(mut m) if m.contains_key("items") => {
            RecordSelector::path("").select(m.remove("items").unwrap_or(Value::Null))?
        }
        Value::Object(m) if m.is_empty() => Vec::new(),
        Value::Object(m) => vec![Value::Object(m)],
        _ => Vec::new(),
    })
}

/// The official per-partition cursor raises every saved partition cursor older than the
/// stream's earliest start to that start, including partitions that no longer exist (those
/// are written back raised). Partitions still read are clamped the same way by the engine.
fn raise_saved_cursors(
    field: &'static str,
    format: CursorFormat,
    earliest: DateTime<Utc>,
) -> impl Fn(Value) -> Value + Send + Sync + 'static {
    move |mut state: Value| {
        if let Some(states) = state.get_mut("states").and_then(Value::as_array_mut) {
            for entry in states {
                let Some(cursor) = entry.get_mut("cursor").and_then(Value::as_object_mut) else {
                    continue;
                };
                let older = cursor
                    .get(field)
                    .and_then(|v| format.parse(v))
                    .is_some_and(|c| c < earliest);
                if older {
                    cursor.insert(field.to_string(), Value::String(format.format(earliest)));
                }
            }
        }
        state
    }
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

fn day() -> CursorFormat {
    CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d")).accept(DatetimeFormat::EpochSeconds)
}

fn date(dt: Option<DateTime<Utc>>) -> String {
    dt.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

impl Kit {
    /// A bookmark-paginated list (`items`), optionally scoped by `?ad_account_id=`.
    fn list(
        &self,
        name: &str,
        schema: Value,
        scoped: bool,
        path: impl Fn(&Slice) -> String + Send + Sync + 'static,
    ) -> DeclarativeStream {
        self.list_with(
            name,
            schema,
            scoped,
            RecordSelector::path("items"),
            move |s| HttpRequest::get(path(s)),
        )
    }

    /// A bookmark-paginated list with its own request and record selector.
    fn list_with(
        &self,
        name: &str,
        schema: Value,
        scoped: bool,
        selector: RecordSelector,
        request: impl Fn(&Slice) -> HttpRequest + Send + Sync + 'static,
    ) -> DeclarativeStream {
        let account = if scoped {
            self.settings.account_id.clone()
        } else {
            None
        };
        let page_size = max_page_size(name);
        let retriever = SimpleRetriever::new(&self.api, move |s: &Slice| {
            let mut req = request(s);
            if let Some(a) = &account {
                req = req.query("ad_account_id", a.as_str());
            }
            if let Some(n) = page_size {
                req = req.query("page_size", n);
            }
            req
        })
        .paginator(Paginator::body_token("bookmark", "bookmark"))
        .selector(selector);
        DeclarativeStream::new(name, schema, retriever)
            .primary_key(&["id"])
            .transform(|r, _| drop_top_level_nulls(r))
    }

    /// `campaigns`/`ad_groups`/`ads`: whole lists filtered on `updated_time` client-side,
    /// from max(start_date, partition cursor), in full refresh too and as parents.
    fn semi_incremental(
        &self,
        name: &'static str,
        schema: Value,
        accounts: &Arc<DeclarativeStream>,
    ) -> Arc<DeclarativeStream> {
        let statuses = self.settings.entity_statuses.clone();
        let start = self
            .settings
            .start_date
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let inc = Incremental::new(
            "updated_time",
            CursorFormat::new(DatetimeFormat::EpochSeconds),
            start,
            self.now,
        )
        .per_partition(true)
        .min_start(start)
        .client_side(ClientFilter::GreaterOrEqual)
        .keep_missing_cursor()
        .filter_in_full_refresh();
        let retriever = SimpleRetriever::new(&self.api, move |s: &Slice| {
            let mut req = HttpRequest::get(format!(
                "ad_accounts/{}/{name}",
                s.get_str("id").unwrap_or_default()
            ));
            if let Some(st) = &statuses {
                req = req.query("entity_statuses", st.as_str());
            }
            if let Some(n) = max_page_size(name) {
                req = req.query("page_size", n);
            }
            req
        })
        .paginator(Paginator::body_token("bookmark", "bookmark"))
        .records_at("items");
        DeclarativeStream::new(name, schema, retriever)
            .primary_key(&["id"])
            .router(PartitionRouter::substream(accounts.clone(), "id", "id"))
            .transform(|r, _| drop_top_level_nulls(r))
            .migrate_state(raise_saved_cursors(
                "updated_time",
                CursorFormat::new(DatetimeFormat::EpochSeconds),
                start,
            ))
            .incremental(inc)
            .into_arc()
    }

    /// The 89-day, 30-day-window date cursor of the synchronous analytics streams. Like the
    /// CDK cursor, a partition resumes from max(saved cursor, stream start).
    fn analytics_cursor(&self, field: &str, partitioned: bool) -> Incremental {
        let cap = start_of_day(self.now) - Duration::days(89);
        let start = self.settings.start_date.map_or(cap, |s| s.max(cap));
        let inc = Incremental::new(field, day(), start, self.today_end)
            .min_start(start)
            .step(Duration::days(30), Duration::days(1));
        if partitioned {
            inc.per_partition(true)
        } else {
            inc
        }
    }

    fn analytics_migration(&self) -> impl Fn(Value) -> Value + Send + Sync + 'static {
        raise_saved_cursors("DATE", day(), self.analytics_cursor("DATE", true).start)
    }

    /// A synchronous analytics stream: one GET per 30-day window, rows at `records`.
    fn analytics_stream(
        &self,
        name: &str,
        schema: Value,
        records: &str,
        path: impl Fn(&Slice) -> String + Send + Sync + 'static,
    ) -> DeclarativeStream {
        let columns = self.sync_columns.join(",");
        let retriever = SimpleRetriever::new(&self.analytics, move |s: &Slice| {
            HttpRequest::get(path(s))
                .query("granularity", "DAY")
                .query("columns", columns.as_str())
                .query("start_date", date(s.start()))
                .query("end_date", date(s.end()))
        })
        .records_at(records);
        DeclarativeStream::new(name, schema, retriever).transform(|r, _| drop_top_level_nulls(r))
    }

    /// Report creation is classified by the analytics rules, then the default mapping.
    fn report_retriever(&self, body: reports::BodyBuilder) -> AsyncRetriever {
        AsyncRetriever::new(&self.api, ReportJobs { body })
            .create_handlers(errors::analytics_rules())
            .records_at("*")
            .slots(self.job_slots.clone())
    }

    /// A report stream over every ad account, windows of `window_days` from at most
    /// `cap_days` back.
    #[allow(clippy::too_many_arguments)] // one argument per column of the report table
    fn report(
        &self,
        name: &str,
        schema: Value,
        body: reports::BodyBuilder,
        start: Option<DateTime<Utc>>,
        cap_days: i64,
        window_days: i64,
        router: PartitionRouter,
        parent_state: bool,
    ) -> Arc<DeclarativeStream> {
        let cap = start_of_day(self.now) - Duration::days(cap_days);
        let start = start.map_or(cap, |s| s.max(cap));
        DeclarativeStream::new(name, schema, self.report_retriever(body))
            .router(router)
            .transform(|r, _| drop_top_level_nulls(r))
            .normalize()
            .migrate_state(raise_saved_cursors("DATE", day(), start))
            .incremental(
                Incremental::new("DATE", day(), start, self.today_end)
                    .min_start(start)
                    .step(Duration::days(window_days), Duration::days(1))
                    .per_partition(parent_state),
            )
            .into_arc()
    }
}

/// Every stream of the source for this config, in the official catalog order.
pub fn streams(config: &Value, ctx: &SourceContext) -> Result<Vec<Arc<DeclarativeStream>>> {
    let settings = Settings::from_config(config)?;
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
    let now = ctx.env.clock.now();
    let k = Kit {
        api,
        analytics,
        settings: settings.clone(),
        now,
        today_end: start_of_day(now) + Duration::days(1) - Duration::seconds(1),
        sync_columns: columns("sync_analytics_and_standard_reports")?,
        job_slots: JobSlots::new(1),
    };
    let id = |s: &Slice| s.get_str("id").unwrap_or_default();
    let parent = |s: &Slice| s.parent_str("id").unwrap_or_default();

    let boards = k
        .list("boards", schema_of!("boards"), true, |_| "boards".into())
        .into_arc();
    let catalogs = k.list("catalogs", schema_of!("catalogs"), true, |_| {
        "catalogs".into()
    });
    let catalogs_feeds = k
        .list("catalogs_feeds", schema_of!("catalogs_feeds"), true, |_| {
            "catalogs/feeds".into()
        })
        .transform(|r, _| {
            // Feed credentials are secrets of the merchant's feed host.
            remove_path(r, &["credentials"]);
        });
    let catalogs_product_groups = k.list(
        "catalogs_product_groups",
        schema_of!("catalogs_product_groups"),
        true,
        |_| "catalogs/product_groups".into(),
    );
    let account_path = match &settings.account_id {
        Some(a) => format!("ad_accounts/{a}"),
        None => "ad_accounts".to_string(),
    };
    let ad_accounts = k
        .list_with(
            "ad_accounts",
            schema_of!("ad_accounts"),
            false,
            RecordSelector::Custom(Arc::new(ad_account_records)),
            move |_| HttpRequest::get(account_path.as_str()),
        )
        .into_arc();
    let by_board = || PartitionRouter::substream(boards.clone(), "id", "id");
    let by_account = || PartitionRouter::substream(ad_accounts.clone(), "id", "id");

    let board_sections = k
        .list(
            "board_sections",
            schema_of!("board_sections"),
            true,
            move |s| format!("boards/{}/sections", id(s)),
        )
        .router(by_board())
        .into_arc();
    let board_pins = k
        .list("board_pins", schema_of!("board_pins"), true, move |s| {
            format!("boards/{}/pins", id(s))
        })
        .router(by_board());
    let board_section_pins = k
        .list(
            "board_section_pins",
            schema_of!("board_section_pins"),
            true,
            move |s| format!("boards/{}/sections/{}/pins", parent(s), id(s)),
        )
        .router(PartitionRouter::substream(
            board_sections.clone(),
            "id",
            "id",
        ));
    let per_account = |name: &'static str, schema: Value| {
        k.list(name, schema, false, move |s| {
            format!("ad_accounts/{}/{name}", id(s))
        })
        .router(by_account())
    };
    let audiences = per_account("audiences", schema_of!("audiences"));
    let conversion_tags = per_account("conversion_tags", schema_of!("conversion_tags"));
    let customer_lists = per_account("customer_lists", schema_of!("customer_lists"));

    let campaigns = k.semi_incremental("campaigns", schema_of!("campaigns"), &ad_accounts);
    let ad_groups = k.semi_incremental("ad_groups", schema_of!("ad_groups"), &ad_accounts);
    let ads = k.semi_incremental("ads", schema_of!("ads"), &ad_accounts);

    let keywords = k
        .list_with(
            "keywords",
            schema_of!("keywords"),
            false,
            RecordSelector::path("items"),
            move |s| {
                HttpRequest::get(format!("ad_accounts/{}/keywords", parent(s)))
                    .query("ad_group_id", id(s))
            },
        )
        .router(PartitionRouter::substream(ad_groups.clone(), "id", "id"));

    let user_account_analytics = k
        .analytics_stream(
            "user_account_analytics",
            schema_of!("user_account_analytics"),
            "all.daily_metrics",
            |_| "user_account/analytics".into(),
        )
        .incremental(k.analytics_cursor("date", false));
    let ad_account_analytics = k
        .analytics_stream(
            "ad_account_analytics",
            schema_of!("ad_account_analytics"),
            "",
            move |s| format!("ad_accounts/{}/analytics", id(s)),
        )
        .router(by_account())
        .migrate_state(k.analytics_migration())
        .incremental(k.analytics_cursor("DATE", true));
    let entity_analytics = |name: &str,
                            schema: Value,
                            entity: &'static str,
                            ids: &'static str,
                            parent_stream: &Arc<DeclarativeStream>| {
        let analytics = k.analytics_stream(name, schema, "", move |s| {
            format!(
                "ad_accounts/{}/{entity}/analytics?{ids}={}",
                parent(s),
                id(s)
            )
        });
        analytics
            .router(PartitionRouter::substream(
                parent_stream.clone(),
                "id",
                "id",
            ))
            .incremental(k.analytics_cursor("DATE", true))
    };
    let campaign_analytics = entity_analytics(
        "campaign_analytics",
        schema_of!("campaign_analytics"),
        "campaigns",
        "campaign_ids",
        &campaigns,
    );
    let ad_group_analytics = entity_analytics(
        "ad_group_analytics",
        schema_of!("ad_group_analytics"),
        "ad_groups",
        "ad_group_ids",
        &ad_groups,
    );
    let ad_analytics = entity_analytics(
        "ad_analytics",
        schema_of!("ad_analytics"),
        "ads",
        "ad_ids",
        &ads,
    );

    let standard = k.sync_columns.clone();
    let targeting = columns("targeting_reports")?;
    let product_item = columns("product_item_report")?;
    let start = settings.start_date;
    let report = |name: &str, schema: Value, level: &'static str, cols: &Arc<Vec<String>>| {
        let (cap, window) = if level == "PRODUCT_ITEM" {
            (91, 31)
        } else {
            (913, 185)
        };
        k.report(
            name,
            schema,
            reports::standard_body(level, cols.clone()),
            start,
            cap,
            window,
            by_account(),
            true,
        )
    };
    let mut out: Vec<Arc<DeclarativeStream>> = vec![
        boards.clone(),
        catalogs.into_arc(),
        catalogs_feeds.into_arc(),
        catalogs_product_groups.into_arc(),
        ad_accounts.clone(),
        board_sections.clone(),
        board_pins.into_arc(),
        board_section_pins.into_arc(),
        audiences.into_arc(),
        keywords.into_arc(),
        conversion_tags.into_arc(),
        customer_lists.into_arc(),
        campaigns.clone(),
        ad_groups.clone(),
        ads.clone(),
        user_account_analytics.into_arc(),
        ad_account_analytics.into_arc(),
        campaign_analytics.into_arc(),
        ad_group_analytics.into_arc(),
        ad_analytics.into_arc(),
        report(
            "advertiser_report",
            schema_of!("advertiser_report"),
            "ADVERTISER",
            &standard,
        ),
        report(
            "ad_group_report",
            schema_of!("ad_group_report"),
            "AD_GROUP",
            &standard,
        ),
        report(
            "campaign_analytics_report",
            schema_of!("campaign_analytics_report"),
            "CAMPAIGN",
            &standard,
        ),
        report(
            "pin_promotion_report",
            schema_of!("pin_promotion_report"),
            "PIN_PROMOTION",
            &standard,
        ),
        report(
            "product_group_report",
            schema_of!("product_group_report"),
            "PRODUCT_GROUP",
            &standard,
        ),
        report(
            "product_item_report",
            schema_of!("product_item_report"),
            "PRODUCT_ITEM",
            &product_item,
        ),
        report(
            "campaign_targeting_report",
            schema_of!("campaign_targeting_report"),
            "CAMPAIGN_TARGETING",
            &targeting,
        ),
        report(
            "advertiser_targeting_report",
            schema_of!("advertiser_targeting_report"),
            "ADVERTISER_TARGETING",
            &targeting,
        ),
        report(
            "ad_group_targeting_report",
            schema_of!("ad_group_targeting_report"),
            "AD_GROUP_TARGETING",
            &targeting,
        ),
        report(
            "pin_promotion_targeting_report",
            schema_of!("pin_promotion_targeting_report"),
            "PIN_PROMOTION_TARGETING",
            &targeting,
        ),
        report(
            "product_group_targeting_report",
            schema_of!("product_group_targeting_report"),
            "PRODUCT_GROUP_TARGETING",
            &targeting,
        ),
        report(
            "keyword_report",
            schema_of!("keyword_report"),
            "KEYWORD",
            &targeting,
        ),
    ];
    for r in &settings.custom_reports {
        let raw_name = r.get("name").and_then(Value::as_str).unwrap_or_default();
        let name = reports::custom_stream_name(raw_name);
        let (window, cap_days) = reports::custom_window(r);
        let start = r
            .get("start_date")
            .and_then(Value::as_str)
            .and_then(parse_date);
        let router = PartitionRouter::Cartesian(vec![
            by_account(),
            PartitionRouter::Custom(Arc::new(StatusChunks(reports::status_chunk_partitions(r)))),
        ]);
        out.push(k.report(
            &name,
            schema_of!("custom_report_template"),
            reports::custom_body(raw_name.to_string(), r.clone()),
            start,
            cap_days,
            (window.as_secs() / 86_400) as i64,
            router,
            false,
        ));
    }
    Ok(out)
}
