//! The report family (`report/integrated/get/`): what a report row of the stream table
//! ([`crate::streams::table`]) says - report type, level, breakdown, granularity, metrics
//! composed from the official named metric blocks - and how such a row becomes a stream.
//!
//! Every report is read per advertiser, page by page, with its parameters as JSON text in
//! Python's spelling ([`crate::quirks::json_params`]); daily and hourly reports are incremental
//! on their time dimension, lifetime reports are read whole.

use connector_runtime::prelude::*;

use crate::quirks::report_records::report_record;
use crate::quirks::requester::query_too_large;
use crate::quirks::{py_json, py_list};
use crate::streams::{Defaults, Row};

/// The `report_type` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportType {
    Basic,
    Audience,
}

impl ReportType {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportType::Basic => "BASIC",
            ReportType::Audience => "AUDIENCE",
        }
    }
}

/// The `data_level` parameter and the id dimension that goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ad,
    AdGroup,
    Campaign,
    Advertiser,
}

impl Level {
    pub fn data_level(self) -> &'static str {
        match self {
            Level::Ad => "AUCTION_AD",
            Level::AdGroup => "AUCTION_ADGROUP",
            Level::Campaign => "AUCTION_CAMPAIGN",
            Level::Advertiser => "AUCTION_ADVERTISER",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Level::Ad => "ad_id",
            Level::AdGroup => "adgroup_id",
            Level::Campaign => "campaign_id",
            Level::Advertiser => "advertiser_id",
        }
    }

    /// The status field of the `include_deleted` filter; advertiser-level reports never
    /// send it (it lost data, official 4.8.11).
    pub fn status_field(self) -> Option<&'static str> {
        match self {
            Level::Ad => Some("ad_status"),
            Level::AdGroup => Some("adgroup_status"),
            Level::Campaign => Some("campaign_status"),
            Level::Advertiser => None,
        }
    }
}

/// How a report stream slices time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// `stat_time_day`, windows of `report_granularity` days.
    Daily,
    /// `stat_time_hour`, one request per calendar day.
    Hourly,
    /// No time dimension: one request per advertiser.
    Lifetime,
}

/// One report stream: a row of the stream table.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub name: &'static str,
    pub report_type: ReportType,
    pub level: Level,
    /// Breakdown dimensions after the id and time dimensions.
    pub breakdown: &'static [&'static str],
    pub granularity: Granularity,
    pub metrics: Metrics,
}

impl Report {
    pub fn time_dimension(&self) -> Option<&'static str> {
        match self.granularity {
            Granularity::Daily => Some("stat_time_day"),
            Granularity::Hourly => Some("stat_time_hour"),
            Granularity::Lifetime => None,
        }
    }

    /// The `dimensions` parameter, which is also the primary key.
    pub fn dimensions(&self) -> Vec<&'static str> {
        let mut d = vec![self.level.id()];
        d.extend(self.time_dimension());
        d.extend_from_slice(self.breakdown);
        d
    }

    /// The `metrics` parameter.
    pub fn metrics(&self) -> Vec<&'static str> {
        self.metrics.list(self.report_type)
    }
}

/// A report's metrics: named blocks requested before the base list of the report type.
#[derive(Debug, Clone, Copy)]
pub struct Metrics {
    /// Metric blocks requested before the base list, in order.
    pub blocks: &'static [&'static [&'static str]],
    /// Metrics left out of the blocks (the by-country ads reports).
    pub without: &'static [&'static str],
}

impl Metrics {
    pub const fn of(blocks: &'static [&'static [&'static str]]) -> Self {
        Metrics {
            blocks,
            without: &[],
        }
    }

    pub const fn without(mut self, metrics: &'static [&'static str]) -> Self {
        self.without = metrics;
        self
    }

    /// The `metrics` parameter: the blocks in order, then the base list of `report_type`.
    pub fn list(&self, report_type: ReportType) -> Vec<&'static str> {
        let base: &[&str] = match report_type {
            ReportType::Basic => BASIC_BASE,
            ReportType::Audience => AUDIENCE_BASE,
        };
        self.blocks
            .iter()
            .flat_map(|b| b.iter().copied())
            .filter(|m| !self.without.contains(m))
            .chain(base.iter().copied())
            .collect()
    }
}

/// BASIC base metrics.
pub const BASIC_BASE: &[&str] = &[
    "spend",
    "cpc",
    "cpm",
    "impressions",
    "clicks",
    "ctr",
    "reach",
    "cost_per_1000_reached",
    "frequency",
    "video_play_actions",
    "video_watched_2s",
    "video_watched_6s",
    "average_video_play",
    "average_video_play_per_user",
    "video_views_p25",
    "video_views_p50",
    "video_views_p75",
    "video_views_p100",
    "profile_visits",
    "likes",
    "comments",
    "shares",
    "follows",
    "clicks_on_music_disc",
    "real_time_app_install",
    "real_time_app_install_cost",
    "app_install",
];

/// AUDIENCE base metrics: the BASIC base without the app-install trio.
pub const AUDIENCE_BASE: &[&str] = &[
    "spend",
    "cpc",
    "cpm",
    "impressions",
    "clicks",
    "ctr",
    "reach",
    "cost_per_1000_reached",
    "frequency",
    "video_play_actions",
    "video_watched_2s",
    "video_watched_6s",
    "average_video_play",
    "average_video_play_per_user",
    "video_views_p25",
    "video_views_p50",
    "video_views_p75",
    "video_views_p100",
    "profile_visits",
    "likes",
    "comments",
    "shares",
    "follows",
    "clicks_on_music_disc",
];

pub const AD_GROUP_SET: &[&str] = &[
    "campaign_name",
    "campaign_id",
    "adgroup_name",
    "placement_type",
    "tt_app_id",
    "tt_app_name",
    "mobile_app_id",
    "promotion_type",
    "dpa_target_audience_type",
    "conversion",
    "cost_per_conversion",
    "conversion_rate",
    "real_time_conversion",
    "real_time_cost_per_conversion",
    "real_time_conversion_rate",
    "result",
    "cost_per_result",
    "result_rate",
    "real_time_result",
    "real_time_cost_per_result",
    "real_time_result_rate",
];

pub const SECONDARY_GOAL: &[&str] = &[
    "secondary_goal_result",
    "cost_per_secondary_goal_result",
    "secondary_goal_result_rate",
];

pub const AD_TRIO: &[&str] = &["adgroup_id", "ad_name", "ad_text"];

pub const CONVERSION: &[&str] = &[
    "total_purchase_value",
    "total_onsite_shopping_value",
    "onsite_shopping",
    "vta_purchase",
    "vta_conversion",
    "cta_purchase",
    "cta_conversion",
    "total_pageview",
    "complete_payment",
    "value_per_complete_payment",
    "total_complete_payment_rate",
    "profile_visits_rate",
    "purchase",
    "purchase_rate",
    "registration",
    "registration_rate",
    "sales_lead",
    "sales_lead_rate",
    "cost_per_app_install",
    "cost_per_purchase",
    "cost_per_registration",
    "cost_per_sales_lead",
    "cost_per_total_sales_lead",
    "cost_per_total_app_event_add_to_cart",
    "total_app_event_add_to_cart",
];

pub const ENGAGEMENT: &[&str] = &[
    "engaged_view",
    "engagements",
    "paid_engaged_view",
    "engaged_view_through_conversions",
    "paid_engagement_engaged_view",
    "engaged_view_15s",
    "paid_engaged_view_15s",
    "paid_engagement_engaged_view_15s",
];

pub const CAMPAIGN_NAME: &[&str] = &["campaign_name"];
pub const ADVERTISER_SPEND: &[&str] = &["cash_spend", "voucher_spend"];

pub const ADS: Metrics = Metrics::of(&[
    AD_GROUP_SET,
    SECONDARY_GOAL,
    AD_TRIO,
    CONVERSION,
    ENGAGEMENT,
]);
pub const ADS_BY_COUNTRY: Metrics =
    Metrics::of(&[AD_GROUP_SET, SECONDARY_GOAL, AD_TRIO, CONVERSION]).without(&[
        "purchase",
        "purchase_rate",
        "cost_per_purchase",
    ]);
pub const AD_GROUPS: Metrics = Metrics::of(&[AD_GROUP_SET, SECONDARY_GOAL]);
pub const CAMPAIGNS: Metrics = Metrics::of(&[CAMPAIGN_NAME]);
pub const ADS_AUDIENCE: Metrics = Metrics::of(&[AD_GROUP_SET, AD_TRIO]);
pub const AD_GROUPS_AUDIENCE: Metrics = Metrics::of(&[AD_GROUP_SET]);
pub const ADVERTISERS: Metrics = Metrics::of(&[ADVERTISER_SPEND]);
/// The base list of the report type alone.
pub const BASE_ONLY: Metrics = Metrics::of(&[]);

pub const GENDER_AGE: &[&str] = &["gender", "age"];
pub const COUNTRY: &[&str] = &["country_code"];
pub const PLATFORM: &[&str] = &["platform"];
pub const PROVINCE: &[&str] = &["province_id"];
pub const NO_BREAKDOWN: &[&str] = &[];

/// How many windows of one advertiser's report are read at once (the one being emitted
/// included). A report read for a single advertiser is a long run of windows (an hourly report
/// is one request per day since `start_date`) that would otherwise go one after another while
/// the other workers idle; windows are only read ahead with free workers, so many advertisers
/// still share the workers partition by partition, and the rate budget (100 requests per 10 s)
/// paces every request whatever reads it. Records and states stay in window order.
const REPORT_WINDOWS_IN_FLIGHT: usize = 4;

/// The stream of one report row.
pub fn declare(d: &Defaults, r: &Report) -> Result<Arc<DeclarativeStream>> {
    let config = &d.config;
    let dimensions = r.dimensions();
    let mut s = d
        .stream(r.name, "report/integrated/get/")
        .pages(1000)
        .key(&dimensions)
        .query_literal("service_type", "AUCTION")
        .query_literal("report_type", r.report_type.as_str())
        .query_literal("data_level", r.level.data_level())
        .query_literal("dimensions", py_list(&dimensions))
        .query_literal("metrics", py_list(&r.metrics()));
    if let (true, Some(field)) = (config.include_deleted(), r.level.status_field()) {
        let value = json!("[\"STATUS_ALL\"]");
        // The official manifest writes the keys in two different orders.
        let filter = if r.report_type == ReportType::Basic && r.granularity != Granularity::Lifetime
        {
            json!({"field_name": field, "filter_type": "IN", "filter_value": value})
        } else {
            json!({"filter_value": value, "field_name": field, "filter_type": "IN"})
        };
        s = s.query_literal("filtering", py_json(&json!([filter])));
    }
    let today = start_of_day(d.now);
    let start = config.start();
    let day = |dt: DateTime<Utc>| dt.format("%Y-%m-%d").to_string();
    let lookback = Duration::days(config.attribution_days());
    s = match (r.granularity, r.report_type) {
        (Granularity::Lifetime, ReportType::Basic) => s.query_literal("query_lifetime", "true"),
        // Audience lifetime reports still need a range, at most a year back.
        (Granularity::Lifetime, ReportType::Audience) => s
            .query_literal("lifetime", "true")
            .query_literal("start_date", day(start.max(today - Duration::days(364))))
            .query_literal(
                "end_date",
                day(config.end_date.unwrap_or(today + Duration::days(1))),
            ),
        (Granularity::Daily, _) => s
            .query("start_date", "{window.start:%Y-%m-%d}")
            .query("end_date", "{window.end:%Y-%m-%d}")
            .handler(query_too_large)
            .incremental(
                Incremental::new(
                    "stat_time_day",
                    report_cursor("%Y-%m-%d", "%Y-%m-%d %H:%M:%S"),
                    start,
                    config.end_date.unwrap_or(today + Duration::days(1)),
                )
                .per_partition(false)
                .step(Duration::days(config.step_days()), Duration::days(1))
                .lookback(lookback)
                // Without state the range starts at start_date itself.
                .min_start(start)
                .concurrent_windows(REPORT_WINDOWS_IN_FLIGHT),
            ),
        // Hourly windows are one day long but aligned to the cursor's hour; each request
        // still asks for the whole calendar day of the window's start.
        (Granularity::Hourly, _) => s
            .query("start_date", "{window.start:%Y-%m-%d}")
            .query("end_date", "{window.start:%Y-%m-%d}")
            .incremental(
                Incremental::new(
                    "stat_time_hour",
                    report_cursor("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"),
                    start,
                    config.end_date.unwrap_or(d.now) + Duration::days(1),
                )
                .per_partition(false)
                .step(Duration::days(1), Duration::hours(1))
                .lookback(lookback)
                .min_start(start)
                .concurrent_windows(REPORT_WINDOWS_IN_FLIGHT),
            ),
    };
    s.transform(move |record, _| report_record(record, &dimensions))
        .build()
}

/// A report cursor: written as `output`, read as `other` or ISO 8601 too (states written by
/// other versions, legacy flat states).
fn report_cursor(output: &str, other: &str) -> CursorFormat {
    CursorFormat::new(DatetimeFormat::strftime(output))
        .accept(DatetimeFormat::strftime(other))
        .accept(DatetimeFormat::strftime("%Y-%m-%dT%H:%M:%SZ"))
}
