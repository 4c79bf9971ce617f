//! The streams, as a table: [`table`] lists the catalog in the official manifest order, one
//! row per stream.
//!
//! A row names the stream once; its schema is the file of that name under
//! `resources/schemas/` ([`SCHEMAS`]). What every TikTok stream shares is set once, in the
//! runtime's [`StreamDefaults`] built by [`Streams::new`]: the requester (result codes, retry
//! and rate budget), the partition router (one partition per advertiser), the `advertiser_id`
//! query parameter (last), the record selector (`data.list`) and record normalisation. A row
//! states only what differs, with the runtime's row builder and TikTok's own rules
//! ([`Row::pages`], [`Defaults::modified`], [`Defaults::deleted`]); a true quirk is named in
//! the row (`.router(campaigns::per_buying_type(..))`) and lives in [`crate::quirks`]. Report
//! rows are the report family's vocabulary from [`crate::reports`].

use std::ops::Deref;

use connector_runtime::prelude::*;

use crate::config::Config;
use crate::quirks::advertisers::{self, AdvertiserBatches, PerAdvertiser};
use crate::quirks::{ads, campaigns, pixels, py_json, requester, spark_ads};
use crate::reports::{self, Granularity, Level, Metrics, Report, ReportType};
use crate::{BASE_URL_VAR, PRODUCTION_URL, SANDBOX_URL};

use crate::reports::Granularity::{Daily, Hourly, Lifetime};
use crate::reports::Level::{Ad, AdGroup, Advertiser, Campaign};
use crate::reports::ReportType::{Audience, Basic};
use crate::reports::{ADS, ADS_AUDIENCE, ADS_BY_COUNTRY, AD_GROUPS, AD_GROUPS_AUDIENCE};
use crate::reports::{ADVERTISERS, BASE_ONLY, CAMPAIGNS};
use crate::reports::{COUNTRY, GENDER_AGE, NO_BREAKDOWN, PLATFORM, PROVINCE};

/// The catalog for `s`'s config, in the official manifest order.
#[rustfmt::skip]
pub fn table(s: &Streams) -> Result<Vec<Arc<DeclarativeStream>>> {
    let mut streams = vec![
        s.report("ad_group_audience_reports_by_country_daily", Audience, AdGroup, COUNTRY, Daily, AD_GROUPS_AUDIENCE)?,
        s.report("ad_group_audience_reports_by_platform_daily", Audience, AdGroup, PLATFORM, Daily, AD_GROUPS_AUDIENCE)?,
        s.report("ad_group_audience_reports_daily", Audience, AdGroup, GENDER_AGE, Daily, AD_GROUPS_AUDIENCE)?,
        s.stream("ad_groups", "adgroup/get/").pages(1000).key(&["adgroup_id"])
            .incremental(s.modified()).apply(s.deleted("ADGROUP_STATUS_ALL")).build()?,
        s.report("ad_groups_reports_daily", Basic, AdGroup, NO_BREAKDOWN, Daily, AD_GROUPS)?,
        s.report("ad_groups_reports_hourly", Basic, AdGroup, NO_BREAKDOWN, Hourly, AD_GROUPS)?,
        s.report("ad_groups_reports_lifetime", Basic, AdGroup, NO_BREAKDOWN, Lifetime, AD_GROUPS)?,
        s.stream("ads", "ad/get/").pages(1000).key(&["ad_id"]).incremental(s.modified())
            .query_with("filtering", ads::filtering(s.config.include_deleted()))
            .filter(ads::has_modify_time).build()?,
        s.report("ads_audience_reports_by_country_daily", Audience, Ad, COUNTRY, Daily, ADS_AUDIENCE)?,
        s.report("ads_audience_reports_by_platform_daily", Audience, Ad, PLATFORM, Daily, ADS_AUDIENCE)?,
        s.report("ads_audience_reports_by_province_daily", Audience, Ad, PROVINCE, Daily, ADS_AUDIENCE)?,
        s.report("ads_audience_reports_daily", Audience, Ad, GENDER_AGE, Daily, ADS_AUDIENCE)?,
        s.report("ads_reports_daily", Basic, Ad, NO_BREAKDOWN, Daily, ADS)?,
        s.report("ads_reports_hourly", Basic, Ad, NO_BREAKDOWN, Hourly, ADS)?,
        s.report("ads_reports_lifetime", Basic, Ad, NO_BREAKDOWN, Lifetime, ADS)?,
        s.advertisers.clone(),
        s.stream("audiences", "dmp/custom_audience/list/").pages(100).key(&["audience_id"]).build()?,
        s.stream("campaigns", "campaign/get/").pages(1000).key(&["campaign_id"])
            .incremental(s.modified())
            .router(campaigns::per_buying_type(s.per_advertiser()))
            .query_with("filtering", campaigns::filtering(s.config.include_deleted())).build()?,
        s.report("campaigns_audience_reports_by_country_daily", Audience, Campaign, COUNTRY, Daily, CAMPAIGNS)?,
        s.report("campaigns_audience_reports_by_platform_daily", Audience, Campaign, PLATFORM, Daily, CAMPAIGNS)?,
        s.report("campaigns_audience_reports_daily", Audience, Campaign, GENDER_AGE, Daily, CAMPAIGNS)?,
        s.report("campaigns_reports_daily", Basic, Campaign, NO_BREAKDOWN, Daily, CAMPAIGNS)?,
        s.report("campaigns_reports_hourly", Basic, Campaign, NO_BREAKDOWN, Hourly, CAMPAIGNS)?,
        s.report("campaigns_reports_lifetime", Basic, Campaign, NO_BREAKDOWN, Lifetime, CAMPAIGNS)?,
        s.stream("creative_assets_images", "file/image/ad/search/").pages(100).key(&["image_id"])
            .incremental(s.modified()).build()?,
        s.stream("creative_assets_music", "file/music/get/").pages(100).key(&["music_id"])
            .records_at("data.musics").build()?,
        s.stream("creative_assets_portfolios", "creative/portfolio/list/").pages(100)
            .key(&["creative_portfolio_id"]).records_at("data.creative_portfolios").build()?,
        s.stream("creative_assets_videos", "file/video/ad/search/").pages(100).key(&["video_id"])
            .incremental(s.modified()).build()?,
    ];
    // The official manifest offers these to production credentials only.
    if s.config.production() {
        streams.extend([
            s.advertiser_ids.clone(),
            s.report("ads_reports_by_country_daily", Basic, Ad, COUNTRY, Daily, ADS_BY_COUNTRY)?,
            s.report("ad_groups_reports_by_country_daily", Basic, AdGroup, COUNTRY, Daily, AD_GROUPS)?,
            s.report("advertisers_reports_daily", Basic, Advertiser, NO_BREAKDOWN, Daily, ADVERTISERS)?,
            s.report("advertisers_audience_reports_daily", Audience, Advertiser, GENDER_AGE, Daily, BASE_ONLY)?,
            s.report("advertisers_audience_reports_by_country_daily", Audience, Advertiser, COUNTRY, Daily, BASE_ONLY)?,
            s.report("advertisers_audience_reports_by_platform_daily", Audience, Advertiser, PLATFORM, Daily, BASE_ONLY)?,
            s.report("ads_reports_by_country_hourly", Basic, Ad, COUNTRY, Hourly, ADS_BY_COUNTRY)?,
            s.report("advertisers_reports_hourly", Basic, Advertiser, NO_BREAKDOWN, Hourly, BASE_ONLY)?,
            s.report("ad_groups_reports_by_country_hourly", Basic, AdGroup, COUNTRY, Hourly, AD_GROUPS)?,
            s.report("advertisers_reports_lifetime", Basic, Advertiser, NO_BREAKDOWN, Lifetime, BASE_ONLY)?,
            s.report("advertisers_audience_reports_lifetime", Audience, Advertiser, GENDER_AGE, Lifetime, BASE_ONLY)?,
            s.stream("spark_ads", "tt_video/list/").pages(50).key(&["spark_ads_post_id"])
                .router(s.children_of_advertisers()).transform(spark_ads::post_id).build()?,
            s.pixels.clone(),
            s.stream("pixel_instant_page_events", "pixel/instant_page/event/")
                .query("objective_type", "{partition.objective_type}")
                .query("optimization_goal", "{partition.optimization_goal}")
                .router(pixels::objective_goal_pairs(s.children_of_advertisers()))
                .handler(pixels::unsupported_objective_goal).build()?,
            s.stream("pixel_events_statistics", "pixel/event/stats/")
                .query_with("pixel_ids", pixels::pixel_ids)
                .query_literal("date_range", pixels::date_range(s.now))
                .router(pixels::every_pixel(s.children_of_advertisers(), s.pixels.clone()))
                .handler(pixels::pixel_not_permitted).build()?,
        ]);
    }
    Ok(streams)
}

/// The parents several streams read, declared once per run; each is a catalog stream too.
pub struct Streams {
    defaults: Defaults,
    /// Every advertiser the token sees (partitions of per-advertiser streams when the config
    /// names none).
    pub advertiser_ids: Arc<DeclarativeStream>,
    /// Partitions of `spark_ads` and the pixel streams.
    pub advertisers: Arc<DeclarativeStream>,
    /// Partitions of `pixel_events_statistics`.
    pub pixels: Arc<DeclarativeStream>,
}

impl Streams {
    pub fn new(config: &Config, env: &RunEnv) -> Result<Self> {
        let base = if config.sandbox() {
            SANDBOX_URL
        } else {
            PRODUCTION_URL
        };
        let requester = Requester::new(base, BASE_URL_VAR, env)?
            .with_auth(Arc::new(HeaderAuth::new(
                "Access-Token",
                config.access_token()?.to_string(),
            )))
            .with_handlers(HandlerChain::new().with(requester::result_codes))
            .with_retry(requester::retry_policy())
            .with_budget(requester::budget(env));
        let unpartitioned = StreamDefaults::new(SCHEMAS, &requester)
            .records_at("data.list")
            .normalize()
            .drop_top_level_nulls();
        let advertiser_ids = advertisers::advertiser_ids(&unpartitioned, config)?;
        let per_advertiser = Arc::new(PerAdvertiser {
            configured: config.advertiser_id(),
            listing: SubstreamRouter::new(advertiser_ids.clone(), "advertiser_id", "advertiser_id"),
        });
        let defaults = Defaults {
            config: config.clone(),
            now: env.clock.now(),
            table: unpartitioned
                .router(PartitionRouter::Custom(per_advertiser.clone()))
                .query_last("advertiser_id", "{partition.advertiser_id}"),
            per_advertiser: per_advertiser.clone(),
        };
        let advertisers = defaults
            .stream("advertisers", "advertiser/info/")
            .pages(100)
            .key(&["advertiser_id"])
            .router(PartitionRouter::Custom(Arc::new(AdvertiserBatches(
                per_advertiser,
            ))))
            .query("advertiser_ids", "{partition.advertiser_ids}")
            .omit_query("advertiser_id")
            .build()?;
        let pixels = defaults
            .stream("pixels", "pixel/list/")
            .pages(20)
            .key(&["pixel_id"])
            .records_at("data.pixels")
            .router(children_of(&advertisers))
            .build()?;
        Ok(Streams {
            defaults,
            advertiser_ids,
            advertisers,
            pixels,
        })
    }

    /// One partition per record of `advertisers` (official: a substream, `parent_slice` kept).
    pub fn children_of_advertisers(&self) -> PartitionRouter {
        children_of(&self.advertisers)
    }
}

fn children_of(advertisers: &Arc<DeclarativeStream>) -> PartitionRouter {
    PartitionRouter::substream(advertisers.clone(), "advertiser_id", "advertiser_id")
}

impl Deref for Streams {
    type Target = Defaults;

    fn deref(&self) -> &Defaults {
        &self.defaults
    }
}

/// What every stream of a run shares.
pub struct Defaults {
    pub config: Config,
    /// The run's clock, read once.
    pub now: DateTime<Utc>,
    /// Requester, advertiser partitions, `advertiser_id` last, `data.list`, normalisation.
    table: StreamDefaults,
    per_advertiser: Arc<PerAdvertiser>,
}

impl Defaults {
    /// One partition per advertiser: the configured one, else every one the token sees.
    pub fn per_advertiser(&self) -> PartitionRouter {
        PartitionRouter::Custom(self.per_advertiser.clone())
    }

    /// `GET <path>?…&advertiser_id=…` per advertiser, records at `data.list`, unpaged until
    /// [`Row::pages`] says otherwise.
    pub fn stream(&self, name: &str, path: &str) -> StreamBuilder {
        self.table.get(name, path)
    }

    /// A report stream (`report/integrated/get/`); see [`crate::reports`].
    pub fn report(
        &self,
        name: &'static str,
        report_type: ReportType,
        level: Level,
        breakdown: &'static [&'static str],
        granularity: Granularity,
        metrics: Metrics,
    ) -> Result<Arc<DeclarativeStream>> {
        let report = Report {
            name,
            report_type,
            level,
            breakdown,
            granularity,
            metrics,
        };
        reports::declare(self, &report)
    }

    /// Client-side incremental on `modify_time`: every page is read, records older than the
    /// window's start are dropped; the state is written as `YYYY-MM-DD HH:MM:SSZ`.
    pub fn modified(&self) -> Incremental {
        let format = CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d %H:%M:%SZ"))
            .accept(DatetimeFormat::strftime("%Y-%m-%d %H:%M:%S"))
            .accept(DatetimeFormat::strftime("%Y-%m-%dT%H:%M:%SZ"));
        Incremental::new("modify_time", format, self.config.start(), self.now)
            .per_partition(false)
            .client_side(ClientFilter::GreaterOrEqual)
    }

    /// With `include_deleted`, asks for every `secondary_status` (`filtering` parameter).
    pub fn deleted(&self, all_statuses: &str) -> impl FnOnce(StreamBuilder) -> StreamBuilder {
        let filtering = self
            .config
            .include_deleted()
            .then(|| py_json(&json!({"secondary_status": all_statuses})));
        move |row| match filtering {
            Some(f) => row.query_literal("filtering", f),
            None => row,
        }
    }
}

/// TikTok's rules for a row, on the runtime's row builder.
pub trait Row {
    /// Page-number pagination (`page`, `page_size`) that stops on the last page by
    /// `page_info`, with the total for estimates.
    fn pages(self, page_size: usize) -> Self;
}

impl Row for StreamBuilder {
    fn pages(self, page_size: usize) -> Self {
        // `page_info` tells which page is the last: a full last page then costs no extra,
        // empty request (the official connector ignores it and pays one).
        self.paginator(
            Paginator::page_number(page_size)
                .stop_on_totals("data.page_info.total_page", "data.page_info.total_number"),
        )
        .total_at("data.page_info.total_number")
    }
}

/// Every stream's schema, by stream name (`resources/schemas/<name>.json`).
pub static SCHEMAS: Schemas = connector_runtime::embed_schemas!();

#[cfg(test)]
mod tests {
    use super::*;
    use connector_runtime::source::typed_config;

    fn names(config: Value) -> Vec<String> {
        let config: Config = typed_config(&config).expect("a config");
        let env = RunEnv::default().with_var("AIRBYTE_TEST_NOW", "2024-06-10T00:00:00Z");
        let s = Streams::new(&config, &env).expect("the parents");
        table(&s)
            .expect("the table")
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    #[test]
    fn production_configs_get_every_schema_and_sandbox_ones_the_first_28() {
        let production = names(
            json!({"credentials": {"auth_type": "oauth2.0", "app_id": "a",
            "secret": "s", "access_token": "t"}}),
        );
        let mut sorted = production.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            SCHEMAS.names(),
            "one stream per schema file, none without one"
        );
        let sandbox = names(json!({"credentials": {"auth_type": "sandbox_access_token",
            "advertiser_id": "1", "access_token": "t"}}));
        assert_eq!(production.len(), 44);
        assert_eq!(sandbox, production[..28]);
    }
}
