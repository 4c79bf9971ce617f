//! The TikTok Marketing source: the official connector's (5.1.14) spec, streams and state,
//! declared on the shared runtime.
//!
//! The catalog is [`STREAMS`], in the official manifest order. Report streams are a table in
//! [`reports`]; entity streams are declared in [`Declarations::entity`]; TikTok's quirks
//! (JSON-valued query parameters, result codes in HTTP 200 bodies, advertiser partitioning,
//! report record shaping) live in [`tiktok`].

pub mod reports;
pub mod tiktok;

use connector_runtime::prelude::*;

use reports::{Granularity, Report, ReportType};
use tiktok::{py_json, py_list, AdvertiserBatches, PerAdvertiser};

/// The environment variable that points the connector at another API origin (it replaces
/// both the production and the sandbox host; paths stay `/open_api/v1.3/...`).
pub const BASE_URL_VAR: &str = "SOURCE_TIKTOK_MARKETING_BASE_URL";

const PRODUCTION_URL: &str = "https://business-api.tiktok.com/open_api/v1.3/";
const SANDBOX_URL: &str = "https://sandbox-ads.tiktok.com/open_api/v1.3/";

const SPEC: &str = include_str!("../resources/spec.json");

/// Where a config without `start_date` starts.
pub const DEFAULT_START_DATE: &str = "2016-09-01";
const DEFAULT_WORKERS: usize = 4;
const MAX_WORKERS: usize = 20;

macro_rules! schemas {
    ($($name:literal),* $(,)?) => {
        /// The declared JSON schema of a stream, embedded in the binary.
        pub fn schema_text(name: &str) -> Option<&'static str> {
            match name {
                $($name => Some(include_str!(concat!("../resources/schemas/", $name, ".json"))),)*
                _ => None,
            }
        }
    };
}

schemas!(
    "ad_group_audience_reports_by_country_daily",
    "ad_group_audience_reports_by_platform_daily",
    "ad_group_audience_reports_daily",
    "ad_groups",
    "ad_groups_reports_daily",
    "ad_groups_reports_hourly",
    "ad_groups_reports_lifetime",
    "ads",
    "ads_audience_reports_by_country_daily",
    "ads_audience_reports_by_platform_daily",
    "ads_audience_reports_by_province_daily",
    "ads_audience_reports_daily",
    "ads_reports_daily",
    "ads_reports_hourly",
    "ads_reports_lifetime",
    "advertisers",
    "audiences",
    "campaigns",
    "campaigns_audience_reports_by_country_daily",
    "campaigns_audience_reports_by_platform_daily",
    "campaigns_audience_reports_daily",
    "campaigns_reports_daily",
    "campaigns_reports_hourly",
    "campaigns_reports_lifetime",
    "creative_assets_images",
    "creative_assets_music",
    "creative_assets_portfolios",
    "creative_assets_videos",
    "advertiser_ids",
    "ads_reports_by_country_daily",
    "ad_groups_reports_by_country_daily",
    "advertisers_reports_daily",
    "advertisers_audience_reports_daily",
    "advertisers_audience_reports_by_country_daily",
    "advertisers_audience_reports_by_platform_daily",
    "ads_reports_by_country_hourly",
    "advertisers_reports_hourly",
    "ad_groups_reports_by_country_hourly",
    "advertisers_reports_lifetime",
    "advertisers_audience_reports_lifetime",
    "spark_ads",
    "pixels",
    "pixel_instant_page_events",
    "pixel_events_statistics",
);

/// The catalog in manifest order; `true` marks the streams only production configs get.
#[rustfmt::skip]
pub const STREAMS: &[(&str, bool)] = &[
    ("ad_group_audience_reports_by_country_daily", false),
    ("ad_group_audience_reports_by_platform_daily", false),
    ("ad_group_audience_reports_daily", false),
    ("ad_groups", false),
    ("ad_groups_reports_daily", false),
    ("ad_groups_reports_hourly", false),
    ("ad_groups_reports_lifetime", false),
    ("ads", false),
    ("ads_audience_reports_by_country_daily", false),
    ("ads_audience_reports_by_platform_daily", false),
    ("ads_audience_reports_by_province_daily", false),
    ("ads_audience_reports_daily", false),
    ("ads_reports_daily", false),
    ("ads_reports_hourly", false),
    ("ads_reports_lifetime", false),
    ("advertisers", false),
    ("audiences", false),
    ("campaigns", false),
    ("campaigns_audience_reports_by_country_daily", false),
    ("campaigns_audience_reports_by_platform_daily", false),
    ("campaigns_audience_reports_daily", false),
    ("campaigns_reports_daily", false),
    ("campaigns_reports_hourly", false),
    ("campaigns_reports_lifetime", false),
    ("creative_assets_images", false),
    ("creative_assets_music", false),
    ("creative_assets_portfolios", false),
    ("creative_assets_videos", false),
    ("advertiser_ids", true),
    ("ads_reports_by_country_daily", true),
    ("ad_groups_reports_by_country_daily", true),
    ("advertisers_reports_daily", true),
    ("advertisers_audience_reports_daily", true),
    ("advertisers_audience_reports_by_country_daily", true),
    ("advertisers_audience_reports_by_platform_daily", true),
    ("ads_reports_by_country_hourly", true),
    ("advertisers_reports_hourly", true),
    ("ad_groups_reports_by_country_hourly", true),
    ("advertisers_reports_lifetime", true),
    ("advertisers_audience_reports_lifetime", true),
    ("spark_ads", true),
    ("pixels", true),
    ("pixel_instant_page_events", true),
    ("pixel_events_statistics", true),
];

/// `campaigns` is read once per buying type: TikTok returns only AUCTION by default and
/// refuses to mix TopView with other types.
pub const BUYING_TYPES: &[&str] = &["AUCTION", "RESERVATION_TOP_VIEW", "RESERVATION_RF"];

#[rustfmt::skip]
pub const OBJECTIVE_TYPES: &[&str] = &[
    "APP_PROMOTION", "WEB_CONVERSIONS", "REACH", "TRAFFIC", "VIDEO_VIEWS", "PRODUCT_SALES",
    "ENGAGEMENT", "LEAD_GENERATION", "RF_REACH", "TOPVIEW_REACH",
];

#[rustfmt::skip]
pub const OPTIMIZATION_GOALS: &[&str] = &[
    "CLICK", "CONVERT", "INSTALL", "IN_APP_EVENT", "SHOW", "REACH", "LEAD_GENERATION",
    "CONVERSATION", "FOLLOWERS", "PAGE_VISIT", "VALUE", "AUTOMATIC_VALUE_OPTIMIZATION", "GMV",
    "PURCHASES", "INITIATE_CHECKOUTS", "MT_LIVE_ROOM", "PRODUCT_CLICK_IN_LIVE", "ENGAGED_VIEW",
    "ENGAGED_VIEW_FIFTEEN", "TRAFFIC_LANDING_PAGE_VIEW", "DESTINATION_VISIT", "PREFERRED_LEAD",
];

/// The config as the streams use it, with the official fallbacks for legacy shapes.
#[derive(Debug, Clone)]
pub struct Settings {
    pub access_token: String,
    /// The configured advertiser (credentials, else the legacy `environment`), kept in the
    /// JSON type it came with.
    pub advertiser_id: Option<Value>,
    pub app_id: String,
    pub secret: Option<String>,
    pub sandbox: bool,
    /// Whether the production-only streams are offered.
    pub production: bool,
    pub start: DateTime<Utc>,
    pub end_date: Option<DateTime<Utc>>,
    /// Lookback of report cursors; 0 when the key is absent (the spec's 3 is only a UI
    /// default).
    pub attribution_days: i64,
    /// Days per daily-report request.
    pub step_days: i64,
    pub include_deleted: bool,
}

fn truthy(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::Null | Value::Bool(false) => None,
        Value::String(s) if s.is_empty() => None,
        other => Some(other.clone()),
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl Settings {
    pub fn from_config(config: &Value) -> Result<Self> {
        let creds = config.get("credentials").filter(|c| c.is_object());
        let environment = config.get("environment").filter(|c| c.is_object());
        let in_creds = |k: &str| creds.and_then(|c| c.get(k));
        let in_env = |k: &str| environment.and_then(|c| c.get(k));
        let access_token = text(in_creds("access_token"))
            .or_else(|| text(config.get("access_token")))
            .ok_or_else(|| {
                Error::config("The config needs an access token (credentials.access_token).")
            })?;
        let sandbox = in_creds("auth_type").and_then(Value::as_str) == Some("sandbox_access_token");
        let production = match creds {
            Some(_) => !sandbox,
            None => in_env("secret").is_some_and(|s| !s.is_null()),
        };
        let date = |key: &str| -> Result<Option<DateTime<Utc>>> {
            match config
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                None => Ok(None),
                Some(s) => parse_date(s).map(Some).ok_or_else(|| {
                    Error::config(format!(
                        "{key} must be a date in the format YYYY-MM-DD, got {s:?}"
                    ))
                }),
            }
        };
        let start = match date("start_date")? {
            Some(d) => d,
            None => parse_date(DEFAULT_START_DATE)
                .ok_or_else(|| Error::system("the default start date is invalid"))?,
        };
        Ok(Settings {
            access_token,
            advertiser_id: truthy(in_creds("advertiser_id"))
                .or_else(|| truthy(in_env("advertiser_id"))),
            app_id: text(in_creds("app_id"))
                .or_else(|| text(in_env("app_id")))
                .unwrap_or_else(|| "0".into()),
            secret: text(in_creds("secret")).or_else(|| text(in_env("secret"))),
            sandbox,
            production,
            start,
            end_date: date("end_date")?,
            attribution_days: config
                .get("attribution_window")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            step_days: config
                .get("report_granularity")
                .and_then(Value::as_i64)
                .filter(|d| *d > 0)
                .unwrap_or(30),
            include_deleted: config
                .get("include_deleted")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

pub struct SourceTiktokMarketing;

impl Source for SourceTiktokMarketing {
    type Config = Value;

    fn name(&self) -> &str {
        "source-tiktok-marketing"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn spec(&self) -> Result<connector_runtime::protocol::ConnectorSpecification> {
        spec_from_json(SPEC)
    }

    /// Before 5.1.0 `report_granularity` was `"DAY"`/`"HOUR"`/`"LIFETIME"`; it is kept as
    /// `legacy_report_granularity` and replaced by the default step of 30 days (official 5.1.13).
    fn migrate_config(&self, config: &mut Value) -> bool {
        let Some(obj) = config.as_object_mut() else {
            return false;
        };
        let Some(Value::String(legacy)) = obj.get("report_granularity").cloned() else {
            return false;
        };
        obj.insert("legacy_report_granularity".into(), Value::String(legacy));
        obj.insert("report_granularity".into(), Value::from(30));
        true
    }

    fn validate(&self, config: &Value, _env: &RunEnv) -> Result<()> {
        Settings::from_config(config).map(|_| ())
    }

    fn check_stream(&self) -> &str {
        "advertisers"
    }

    fn workers(&self, config: &Value) -> usize {
        config
            .get("concurrency_level")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_WORKERS, |n| (n as usize).clamp(1, MAX_WORKERS))
    }

    fn streams(&self, config: &Value, ctx: &SourceContext) -> Result<Vec<Arc<DeclarativeStream>>> {
        let d = Declarations::new(Settings::from_config(config)?, &ctx.env)?;
        STREAMS
            .iter()
            .filter(|(_, production_only)| d.settings.production || !production_only)
            .map(|(name, _)| d.stream(name))
            .collect()
    }
}

/// Builds the stream declarations of one run.
pub struct Declarations {
    pub settings: Settings,
    requester: Requester,
    now: DateTime<Utc>,
    advertiser_ids: Arc<DeclarativeStream>,
    per_advertiser: Arc<PerAdvertiser>,
    advertisers: Arc<DeclarativeStream>,
    pixels: Arc<DeclarativeStream>,
}

fn day(dt: DateTime<Utc>) -> String {
    dt.format("%Y-%m-%d").to_string()
}

fn schema_of(name: &str) -> Result<Value> {
    schema_text(name)
        .map(|t| schema(name, t))
        .ok_or_else(|| Error::system(format!("no schema is embedded for stream {name}")))
}

/// `advertiser_id` of the slice's partition, as text.
fn advertiser(s: &Slice) -> String {
    s.get_str("advertiser_id").unwrap_or_default()
}

impl Declarations {
    pub fn new(settings: Settings, env: &RunEnv) -> Result<Self> {
        let base = if settings.sandbox {
            SANDBOX_URL
        } else {
            PRODUCTION_URL
        };
        let requester = Requester::new(base, BASE_URL_VAR, env)?
            .with_auth(Arc::new(HeaderAuth::new(
                "Access-Token",
                settings.access_token.clone(),
            )))
            .with_handlers(HandlerChain::new().with(tiktok::result_codes))
            .with_retry(tiktok::retry_policy())
            .with_budget(tiktok::budget(env));
        let now = env.clock.now();

        let (app_id, secret) = (settings.app_id.clone(), settings.secret.clone());
        let advertiser_ids = DeclarativeStream::new(
            "advertiser_ids",
            schema_of("advertiser_ids")?,
            SimpleRetriever::new(&requester, move |_s: &Slice| {
                let mut r = HttpRequest::get("oauth2/advertiser/get/");
                if let Some(secret) = &secret {
                    r = r.query("secret", secret.clone());
                }
                r.query("app_id", app_id.clone())
            })
            .records_at("data.list"),
        )
        .primary_key(&["advertiser_id"])
        .normalize()
        .drop_top_level_nulls()
        .into_arc();

        let per_advertiser = Arc::new(PerAdvertiser {
            configured: settings.advertiser_id.clone(),
            listing: SubstreamRouter::new(advertiser_ids.clone(), "advertiser_id", "advertiser_id"),
        });

        let advertisers = DeclarativeStream::new(
            "advertisers",
            schema_of("advertisers")?,
            SimpleRetriever::new(&requester, |s: &Slice| {
                HttpRequest::get("advertiser/info/").query(
                    "advertiser_ids",
                    s.get_str("advertiser_ids").unwrap_or_default(),
                )
            })
            .paginator(Paginator::page_number(100))
            .records_at("data.list")
            .total_at("data.page_info.total_number"),
        )
        .primary_key(&["advertiser_id"])
        .router(PartitionRouter::Custom(Arc::new(AdvertiserBatches(
            per_advertiser.clone(),
        ))))
        .normalize()
        .drop_top_level_nulls()
        .into_arc();

        let pixels = DeclarativeStream::new(
            "pixels",
            schema_of("pixels")?,
            SimpleRetriever::new(&requester, |s: &Slice| {
                HttpRequest::get("pixel/list/").query("advertiser_id", advertiser(s))
            })
            .paginator(Paginator::page_number(20))
            .records_at("data.pixels")
            .total_at("data.page_info.total_number"),
        )
        .primary_key(&["pixel_id"])
        .router(PartitionRouter::substream(
            advertisers.clone(),
            "advertiser_id",
            "advertiser_id",
        ))
        .normalize()
        .drop_top_level_nulls()
        .into_arc();

        Ok(Declarations {
            settings,
            requester,
            now,
            advertiser_ids,
            per_advertiser,
            advertisers,
            pixels,
        })
    }

    fn per_advertiser(&self) -> PartitionRouter {
        PartitionRouter::Custom(self.per_advertiser.clone())
    }

    fn children_of_advertisers(&self) -> PartitionRouter {
        PartitionRouter::substream(self.advertisers.clone(), "advertiser_id", "advertiser_id")
    }

    /// The stream declared under `name`.
    pub fn stream(&self, name: &str) -> Result<Arc<DeclarativeStream>> {
        match name {
            "advertiser_ids" => Ok(self.advertiser_ids.clone()),
            "advertisers" => Ok(self.advertisers.clone()),
            "pixels" => Ok(self.pixels.clone()),
            _ => match reports::find(name) {
                Some(r) => self.report(r).map(DeclarativeStream::into_arc),
                None => self.entity(name).map(DeclarativeStream::into_arc),
            },
        }
    }

    /// A paginated list read per advertiser: `GET <path>?advertiser_id=…&page_size=N`.
    fn list(
        &self,
        name: &str,
        path: &'static str,
        records_at: &str,
        page_size: usize,
        params: impl Fn(&Slice) -> Vec<(&'static str, String)> + Send + Sync + 'static,
    ) -> Result<DeclarativeStream> {
        let retriever = SimpleRetriever::new(&self.requester, move |s: &Slice| {
            let mut r = HttpRequest::get(path);
            for (k, v) in params(s) {
                r = r.query(k, v);
            }
            r.query("advertiser_id", advertiser(s))
        })
        .paginator(Paginator::page_number(page_size))
        .records_at(records_at)
        .total_at("data.page_info.total_number");
        Ok(DeclarativeStream::new(name, schema_of(name)?, retriever)
            .router(self.per_advertiser())
            .normalize()
            .drop_top_level_nulls())
    }

    /// Client-side incremental on `modify_time`: every page is read, records older than the
    /// partition's start are dropped; the state is written as `YYYY-MM-DD HH:MM:SSZ`.
    fn modify_time(&self) -> Incremental {
        let format = CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d %H:%M:%SZ"))
            .accept(DatetimeFormat::strftime("%Y-%m-%d %H:%M:%S"))
            .accept(DatetimeFormat::strftime("%Y-%m-%dT%H:%M:%SZ"));
        Incremental::new("modify_time", format, self.settings.start, self.now)
            .per_partition(false)
            .client_side(ClientFilter::GreaterOrEqual)
    }

    /// The entity (non-report) streams.
    fn entity(&self, name: &str) -> Result<DeclarativeStream> {
        let deleted = self.settings.include_deleted;
        let filtering = |pairs: Vec<(&str, Value)>| -> Vec<(&'static str, String)> {
            let obj: serde_json::Map<String, Value> =
                pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            if obj.is_empty() {
                Vec::new()
            } else {
                vec![("filtering", py_json(&Value::Object(obj)))]
            }
        };
        Ok(match name {
            "campaigns" => self
                .list(name, "campaign/get/", "data.list", 1000, move |s| {
                    let mut f = Vec::new();
                    if deleted {
                        f.push(("secondary_status", json!("CAMPAIGN_STATUS_ALL")));
                    }
                    f.push((
                        "buying_types",
                        json!([s.get_str("buying_type").unwrap_or_default()]),
                    ));
                    filtering(f)
                })?
                .router(PartitionRouter::Cartesian(vec![
                    self.per_advertiser(),
                    PartitionRouter::list("buying_type", BUYING_TYPES.iter().map(|t| json!(t))),
                ]))
                .primary_key(&["campaign_id"])
                .incremental(self.modify_time()),
            "ad_groups" => self
                .list(name, "adgroup/get/", "data.list", 1000, move |_| {
                    filtering(if deleted {
                        vec![("secondary_status", json!("ADGROUP_STATUS_ALL"))]
                    } else {
                        Vec::new()
                    })
                })?
                .primary_key(&["adgroup_id"])
                .incremental(self.modify_time()),
            // The API narrows by modification time itself; Smart+ ads without modify_time
            // are dropped (official 4.8.1).
            "ads" => self
                .list(name, "ad/get/", "data.list", 1000, move |s| {
                    let since = s.start().map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string());
                    let mut f = vec![("modified_after", json!(since.unwrap_or_default()))];
                    if deleted {
                        f.push(("secondary_status", json!("AD_STATUS_ALL")));
                    }
                    filtering(f)
                })?
                .filter(|r, _| r.get("modify_time").is_some_and(|v| !v.is_null()))
                .primary_key(&["ad_id"])
                .incremental(self.modify_time()),
            "creative_assets_images" => self
                .list(name, "file/image/ad/search/", "data.list", 100, |_| {
                    Vec::new()
                })?
                .primary_key(&["image_id"])
                .incremental(self.modify_time()),
            "creative_assets_videos" => self
                .list(name, "file/video/ad/search/", "data.list", 100, |_| {
                    Vec::new()
                })?
                .primary_key(&["video_id"])
                .incremental(self.modify_time()),
            "creative_assets_music" => self
                .list(name, "file/music/get/", "data.musics", 100, |_| Vec::new())?
                .primary_key(&["music_id"]),
            "creative_assets_portfolios" => self
                .list(
                    name,
                    "creative/portfolio/list/",
                    "data.creative_portfolios",
                    100,
                    |_| Vec::new(),
                )?
                .primary_key(&["creative_portfolio_id"]),
            "audiences" => self
                .list(name, "dmp/custom_audience/list/", "data.list", 100, |_| {
                    Vec::new()
                })?
                .primary_key(&["audience_id"]),
            "spark_ads" => self
                .list(name, "tt_video/list/", "data.list", 50, |_| Vec::new())?
                .router(self.children_of_advertisers())
                .transform(|r, _| {
                    let id = get_path(r, &["item_info", "item_id"])
                        .cloned()
                        .unwrap_or(Value::Null);
                    set_path(r, &["spark_ads_post_id"], id);
                })
                .primary_key(&["spark_ads_post_id"]),
            "pixel_instant_page_events" => DeclarativeStream::new(
                name,
                schema_of(name)?,
                SimpleRetriever::new(&self.requester, |s: &Slice| {
                    HttpRequest::get("pixel/instant_page/event/")
                        .query(
                            "objective_type",
                            s.get_str("objective_type").unwrap_or_default(),
                        )
                        .query(
                            "optimization_goal",
                            s.get_str("optimization_goal").unwrap_or_default(),
                        )
                        .query("advertiser_id", advertiser(s))
                })
                .records_at("data.list")
                .handlers(HandlerChain::new().with(tiktok::unsupported_objective_goal)),
            )
            .router(PartitionRouter::Cartesian(vec![
                self.children_of_advertisers(),
                PartitionRouter::list("objective_type", OBJECTIVE_TYPES.iter().map(|t| json!(t))),
                PartitionRouter::list(
                    "optimization_goal",
                    OPTIMIZATION_GOALS.iter().map(|t| json!(t)),
                ),
            ]))
            .normalize()
            .drop_top_level_nulls(),
            "pixel_events_statistics" => {
                let today = start_of_day(self.now);
                let date_range = py_json(&json!({
                    "start_date": day(today - Duration::days(29)),
                    "end_date": day(today + Duration::days(1)),
                }));
                DeclarativeStream::new(
                    name,
                    schema_of(name)?,
                    SimpleRetriever::new(&self.requester, move |s: &Slice| {
                        HttpRequest::get("pixel/event/stats/")
                            .query(
                                "pixel_ids",
                                py_json(&json!([s.get_str("pixel_id").unwrap_or_default()])),
                            )
                            .query("date_range", date_range.clone())
                            .query("advertiser_id", advertiser(s))
                    })
                    .records_at("data.list")
                    .handlers(HandlerChain::new().with(tiktok::pixel_not_permitted)),
                )
                // Every advertiser with every pixel, as officially: the parents are independent.
                .router(PartitionRouter::Cartesian(vec![
                    self.children_of_advertisers(),
                    PartitionRouter::substream(self.pixels.clone(), "pixel_id", "pixel_id"),
                ]))
                .normalize()
                .drop_top_level_nulls()
            }
            other => return Err(Error::system(format!("stream {other} is not declared"))),
        })
    }

    /// A report stream from its table row.
    fn report(&self, def: &'static Report) -> Result<DeclarativeStream> {
        let settings = &self.settings;
        let dimensions = def.dimensions();
        let mut fixed: Vec<(&'static str, String)> = vec![
            ("service_type", "AUCTION".into()),
            ("report_type", def.report_type.as_str().into()),
            ("data_level", def.level.data_level().into()),
            ("dimensions", py_list(&dimensions)),
            ("metrics", py_list(&def.metrics())),
        ];
        if let (true, Some(field)) = (settings.include_deleted, def.level.status_field()) {
            let value = json!("[\"STATUS_ALL\"]");
            // The official manifest writes the keys in two different orders.
            let filter = if def.report_type == ReportType::Basic
                && def.granularity != Granularity::Lifetime
            {
                json!({"field_name": field, "filter_type": "IN", "filter_value": value})
            } else {
                json!({"filter_value": value, "field_name": field, "filter_type": "IN"})
            };
            fixed.push(("filtering", py_json(&json!([filter]))));
        }
        let today = start_of_day(self.now);
        match (def.granularity, def.report_type) {
            (Granularity::Lifetime, ReportType::Basic) => {
                fixed.push(("query_lifetime", "true".into()))
            }
            (Granularity::Lifetime, ReportType::Audience) => {
                fixed.push(("lifetime", "true".into()));
                let start = settings.start.max(today - Duration::days(364));
                let end = settings.end_date.unwrap_or(today + Duration::days(1));
                fixed.push(("start_date", day(start)));
                fixed.push(("end_date", day(end)));
            }
            _ => {}
        }
        let granularity = def.granularity;
        let retriever = SimpleRetriever::new(&self.requester, move |s: &Slice| {
            let mut r = HttpRequest::get("report/integrated/get/");
            for (k, v) in &fixed {
                r = r.query(k, v.clone());
            }
            match (granularity, s.window) {
                (Granularity::Daily, Some(w)) => {
                    r = r
                        .query("start_date", day(w.start))
                        .query("end_date", day(w.end));
                }
                // Hourly windows are one day long but aligned to the cursor's hour; each
                // request still asks for the whole calendar day.
                (Granularity::Hourly, Some(w)) => {
                    r = r
                        .query("start_date", day(w.start))
                        .query("end_date", day(w.start));
                }
                _ => {}
            }
            r.query("advertiser_id", advertiser(s))
        })
        .paginator(Paginator::page_number(1000))
        .records_at("data.list")
        .total_at("data.page_info.total_number");
        let retriever = if def.granularity == Granularity::Daily {
            retriever.handlers(HandlerChain::new().with(tiktok::query_too_large))
        } else {
            retriever
        };
        let stream = DeclarativeStream::new(def.name, schema_of(def.name)?, retriever)
            .primary_key(&dimensions)
            .router(self.per_advertiser())
            .transform(move |r, _| tiktok::report_record(r, &dimensions))
            .normalize()
            .drop_top_level_nulls();
        let lookback = Duration::days(settings.attribution_days);
        Ok(match def.granularity {
            Granularity::Lifetime => stream,
            Granularity::Daily => {
                let format = CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d"))
                    .accept(DatetimeFormat::strftime("%Y-%m-%d %H:%M:%S"))
                    .accept(DatetimeFormat::strftime("%Y-%m-%dT%H:%M:%SZ"));
                let end = settings.end_date.unwrap_or(today + Duration::days(1));
                stream.incremental(
                    Incremental::new("stat_time_day", format, settings.start, end)
                        .per_partition(false)
                        .step(Duration::days(settings.step_days), Duration::days(1))
                        .lookback(lookback)
                        // Without state the range starts at start_date itself.
                        .min_start(settings.start),
                )
            }
            Granularity::Hourly => {
                let format = CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d %H:%M:%S"))
                    .accept(DatetimeFormat::strftime("%Y-%m-%d"))
                    .accept(DatetimeFormat::strftime("%Y-%m-%dT%H:%M:%SZ"));
                let end = settings.end_date.unwrap_or(self.now) + Duration::days(1);
                stream.incremental(
                    Incremental::new("stat_time_hour", format, settings.start, end)
                        .per_partition(false)
                        .step(Duration::days(1), Duration::hours(1))
                        .lookback(lookback)
                        .min_start(settings.start),
                )
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_follow_the_official_fallbacks() {
        let s = Settings::from_config(
            &json!({"credentials": {"auth_type": "oauth2.0", "app_id": "a", "secret": "s",
            "access_token": "t", "advertiser_id": ""}, "environment": {"advertiser_id": "9"}}),
        )
        .unwrap();
        assert_eq!(
            s.advertiser_id,
            Some(json!("9")),
            "an empty credentials id falls back to environment"
        );
        assert!(s.production && !s.sandbox);
        assert_eq!((s.attribution_days, s.step_days), (0, 30));
        assert_eq!(day(s.start), DEFAULT_START_DATE);

        let legacy =
            Settings::from_config(&json!({"access_token": "t", "environment": {"secret": "s"}}))
                .unwrap();
        assert_eq!(legacy.app_id, "0");
        assert!(legacy.production);
        let legacy =
            Settings::from_config(&json!({"access_token": "t", "environment": {"secret": null}}))
                .unwrap();
        assert!(!legacy.production);

        let sandbox = Settings::from_config(&json!({"credentials": {"auth_type": "sandbox_access_token",
            "advertiser_id": "1", "access_token": "t"}, "attribution_window": 3, "report_granularity": 7}))
        .unwrap();
        assert!(sandbox.sandbox && !sandbox.production);
        assert_eq!((sandbox.attribution_days, sandbox.step_days), (3, 7));

        assert!(Settings::from_config(&json!({"credentials": {}})).is_err());
    }

    #[test]
    fn legacy_report_granularity_is_migrated_once() {
        let mut c = json!({"report_granularity": "LIFETIME"});
        assert!(SourceTiktokMarketing.migrate_config(&mut c));
        assert_eq!(
            c,
            json!({"report_granularity": 30, "legacy_report_granularity": "LIFETIME"})
        );
        assert!(!SourceTiktokMarketing.migrate_config(&mut c));
    }

    #[test]
    fn every_catalog_stream_has_an_embedded_schema() {
        for (name, _) in STREAMS {
            let text = schema_text(name).unwrap_or_else(|| panic!("{name}"));
            assert!(serde_json::from_str::<Value>(text).is_ok(), "{name}");
        }
        assert_eq!(STREAMS.len(), 44);
        assert_eq!(STREAMS.iter().filter(|(_, p)| !p).count(), 28);
    }
}
