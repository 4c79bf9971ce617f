//! The pixel streams' quirks: both ask for combinations, some of which TikTok refuses, and
//! skip those answers.
//!
//! - `pixel_instant_page_events` asks for every objective × optimization goal pair per
//!   advertiser (the API has no listing of valid pairs);
//! - `pixel_events_statistics` asks for every advertiser with every pixel, as officially (the
//!   two parents are independent), over the last 30 days, with `pixel_ids` and `date_range`
//!   as JSON text.

use connector_runtime::prelude::*;

use super::py_json;

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

/// Every advertiser with every objective type and optimization goal.
pub fn objective_goal_pairs(advertisers: PartitionRouter) -> PartitionRouter {
    PartitionRouter::Cartesian(vec![
        advertisers,
        PartitionRouter::list("objective_type", OBJECTIVE_TYPES.iter().map(|t| json!(t))),
        PartitionRouter::list(
            "optimization_goal",
            OPTIMIZATION_GOALS.iter().map(|t| json!(t)),
        ),
    ])
}

/// Every advertiser with every pixel.
pub fn every_pixel(
    advertisers: PartitionRouter,
    pixels: Arc<DeclarativeStream>,
) -> PartitionRouter {
    PartitionRouter::Cartesian(vec![
        advertisers,
        PartitionRouter::substream(pixels, "pixel_id", "pixel_id"),
    ])
}

/// `pixel_ids=["<pixel_id>"]`.
pub fn pixel_ids(s: &Slice) -> Result<String> {
    Ok(py_json(&json!([s.get_str("pixel_id").unwrap_or_default()])))
}

/// `date_range`: the 30 days up to tomorrow, from the run's clock.
pub fn date_range(now: DateTime<Utc>) -> String {
    let today = start_of_day(now);
    let day = |dt: DateTime<Utc>| dt.format("%Y-%m-%d").to_string();
    py_json(&json!({
        "start_date": day(today - Duration::days(29)),
        "end_date": day(today + Duration::days(1)),
    }))
}

/// `pixel_instant_page_events`: TikTok refuses the objective × goal pairs
/// it does not support, and those answers are skipped.
pub fn unsupported_objective_goal(r: &ResponseView<'_>) -> Option<ResponseAction> {
    let message = r.body_str("message")?.to_lowercase();
    (message.contains("one or more value of the params is not acceptable")
        || message.contains("one or more value of the param is not acceptable"))
    .then(|| ResponseAction::ignore(format!("Unsupported objective/goal combination: {message}")))
}

/// `pixel_events_statistics` pairs every advertiser with every pixel; pairs across advertisers
/// come back as "no permission" and are skipped.
pub fn pixel_not_permitted(r: &ResponseView<'_>) -> Option<ResponseAction> {
    let message = r.body_str("message")?;
    (r.body_i64("code") == Some(40001)
        && message.contains("Adv has no permission to operate on the Pixel"))
    .then(|| ResponseAction::ignore(format!("Skipping a pixel of another advertiser: {message}")))
}
