//! The report streams (`report/integrated/get/`) as a table: level, report type, breakdown,
//! granularity and metric list, composed from the official named metric blocks.

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

/// One report stream.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub name: &'static str,
    pub report_type: ReportType,
    pub level: Level,
    /// Breakdown dimensions after the id and time dimensions.
    pub breakdown: &'static [&'static str],
    pub granularity: Granularity,
    /// Metric blocks requested before the base list, in order.
    pub extras: &'static [&'static [&'static str]],
    /// Metrics left out of the extras (the by-country ads reports).
    pub without: &'static [&'static str],
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

    /// The `metrics` parameter: extras in order, then the base list of the report type.
    pub fn metrics(&self) -> Vec<&'static str> {
        let base: &[&str] = match self.report_type {
            ReportType::Basic => BASIC_BASE,
            ReportType::Audience => AUDIENCE_BASE,
        };
        self.extras
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

const ADS: &[&[&str]] = &[
    AD_GROUP_SET,
    SECONDARY_GOAL,
    AD_TRIO,
    CONVERSION,
    ENGAGEMENT,
];
const ADS_BY_COUNTRY: &[&[&str]] = &[AD_GROUP_SET, SECONDARY_GOAL, AD_TRIO, CONVERSION];
const ADS_BY_COUNTRY_WITHOUT: &[&str] = &["purchase", "purchase_rate", "cost_per_purchase"];
const AD_GROUPS: &[&[&str]] = &[AD_GROUP_SET, SECONDARY_GOAL];
const CAMPAIGNS: &[&[&str]] = &[CAMPAIGN_NAME];
const ADS_AUDIENCE: &[&[&str]] = &[AD_GROUP_SET, AD_TRIO];
const AD_GROUPS_AUDIENCE: &[&[&str]] = &[AD_GROUP_SET];
const NONE: &[&[&str]] = &[];

const GENDER_AGE: &[&str] = &["gender", "age"];
const COUNTRY: &[&str] = &["country_code"];
const PLATFORM: &[&str] = &["platform"];
const PROVINCE: &[&str] = &["province_id"];
const NO_BREAKDOWN: &[&str] = &[];

const fn report(
    name: &'static str,
    report_type: ReportType,
    level: Level,
    breakdown: &'static [&'static str],
    granularity: Granularity,
    extras: &'static [&'static [&'static str]],
) -> Report {
    Report {
        name,
        report_type,
        level,
        breakdown,
        granularity,
        extras,
        without: &[],
    }
}

const fn without(mut r: Report, metrics: &'static [&'static str]) -> Report {
    r.without = metrics;
    r
}

use Granularity::{Daily, Hourly, Lifetime};
use Level::{Ad, AdGroup, Advertiser, Campaign};
use ReportType::{Audience, Basic};

/// Every report stream, by name; the catalog order, and which streams only production configs
/// get, live in `crate::STREAMS`.
#[rustfmt::skip]
pub const REPORTS: &[Report] = &[
    report("ad_group_audience_reports_by_country_daily", Audience, AdGroup, COUNTRY, Daily, AD_GROUPS_AUDIENCE),
    report("ad_group_audience_reports_by_platform_daily", Audience, AdGroup, PLATFORM, Daily, AD_GROUPS_AUDIENCE),
    report("ad_group_audience_reports_daily", Audience, AdGroup, GENDER_AGE, Daily, AD_GROUPS_AUDIENCE),
    report("ad_groups_reports_daily", Basic, AdGroup, NO_BREAKDOWN, Daily, AD_GROUPS),
    report("ad_groups_reports_hourly", Basic, AdGroup, NO_BREAKDOWN, Hourly, AD_GROUPS),
    report("ad_groups_reports_lifetime", Basic, AdGroup, NO_BREAKDOWN, Lifetime, AD_GROUPS),
    report("ads_audience_reports_by_country_daily", Audience, Ad, COUNTRY, Daily, ADS_AUDIENCE),
    report("ads_audience_reports_by_platform_daily", Audience, Ad, PLATFORM, Daily, ADS_AUDIENCE),
    report("ads_audience_reports_by_province_daily", Audience, Ad, PROVINCE, Daily, ADS_AUDIENCE),
    report("ads_audience_reports_daily", Audience, Ad, GENDER_AGE, Daily, ADS_AUDIENCE),
    report("ads_reports_daily", Basic, Ad, NO_BREAKDOWN, Daily, ADS),
    report("ads_reports_hourly", Basic, Ad, NO_BREAKDOWN, Hourly, ADS),
    report("ads_reports_lifetime", Basic, Ad, NO_BREAKDOWN, Lifetime, ADS),
    report("campaigns_audience_reports_by_country_daily", Audience, Campaign, COUNTRY, Daily, CAMPAIGNS),
    report("campaigns_audience_reports_by_platform_daily", Audience, Campaign, PLATFORM, Daily, CAMPAIGNS),
    report("campaigns_audience_reports_daily", Audience, Campaign, GENDER_AGE, Daily, CAMPAIGNS),
    report("campaigns_reports_daily", Basic, Campaign, NO_BREAKDOWN, Daily, CAMPAIGNS),
    report("campaigns_reports_hourly", Basic, Campaign, NO_BREAKDOWN, Hourly, CAMPAIGNS),
    report("campaigns_reports_lifetime", Basic, Campaign, NO_BREAKDOWN, Lifetime, CAMPAIGNS),
    without(report("ads_reports_by_country_daily", Basic, Ad, COUNTRY, Daily, ADS_BY_COUNTRY), ADS_BY_COUNTRY_WITHOUT),
    report("ad_groups_reports_by_country_daily", Basic, AdGroup, COUNTRY, Daily, AD_GROUPS),
    report("advertisers_reports_daily", Basic, Advertiser, NO_BREAKDOWN, Daily, &[ADVERTISER_SPEND]),
    report("advertisers_audience_reports_daily", Audience, Advertiser, GENDER_AGE, Daily, NONE),
    report("advertisers_audience_reports_by_country_daily", Audience, Advertiser, COUNTRY, Daily, NONE),
    report("advertisers_audience_reports_by_platform_daily", Audience, Advertiser, PLATFORM, Daily, NONE),
    without(report("ads_reports_by_country_hourly", Basic, Ad, COUNTRY, Hourly, ADS_BY_COUNTRY), ADS_BY_COUNTRY_WITHOUT),
    report("advertisers_reports_hourly", Basic, Advertiser, NO_BREAKDOWN, Hourly, NONE),
    report("ad_groups_reports_by_country_hourly", Basic, AdGroup, COUNTRY, Hourly, AD_GROUPS),
    report("advertisers_reports_lifetime", Basic, Advertiser, NO_BREAKDOWN, Lifetime, NONE),
    report("advertisers_audience_reports_lifetime", Audience, Advertiser, GENDER_AGE, Lifetime, NONE),
];

/// The report declared under `name`.
pub fn find(name: &str) -> Option<&'static Report> {
    REPORTS.iter().find(|r| r.name == name)
}
