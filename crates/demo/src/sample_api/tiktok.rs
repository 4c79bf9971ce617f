//! TikTok Marketing API v1.3 sample: two advertisers, each with two campaigns, one ad group per
//! campaign and two ads per ad group, plus reports computed from the requested dates.
//!
//! Every answer is HTTP 200 with TikTok's envelope `{"code": 0, "message": "OK", "request_id",
//! "data": {...}}`; lists are paged by `page`/`page_size` with `data.page_info`.

use chrono::NaiveDate;
use serde_json::{json, Map, Value};
use wiremock::{Request, ResponseTemplate};

use super::{days, json_response, not_found, now, query, sample, segments};

/// (advertiser id, name) of the sample account.
pub const ADVERTISERS: [(&str, &str); 2] = [
    ("7000000000000000001", "Demo Outdoor Co"),
    ("7000000000000000002", "Demo Coffee Roasters"),
];

/// Routes one request. Paths are `/open_api/v1.3/<endpoint>/`.
pub fn respond(req: &Request) -> ResponseTemplate {
    let seg = segments(req);
    let endpoint = seg
        .iter()
        .skip_while(|s| s.as_str() != "v1.3")
        .skip(1)
        .cloned()
        .collect::<Vec<_>>()
        .join("/");
    if req.method.as_str() != "GET" {
        return not_found(req);
    }
    let advertiser = query(req, "advertiser_id").unwrap_or_default();
    match endpoint.as_str() {
        "oauth2/advertiser/get" => envelope(json!({
            "list": ADVERTISERS.iter().map(|(id, name)| json!({"advertiser_id": id, "advertiser_name": name})).collect::<Vec<_>>()
        })),
        "advertiser/info" => {
            let wanted: Vec<String> = query(req, "advertiser_ids")
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            let list: Vec<Value> = ADVERTISERS
                .iter()
                .enumerate()
                .filter(|(_, (id, _))| wanted.iter().any(|w| w == id))
                .map(|(i, (id, name))| advertiser_info(i, id, name))
                .collect();
            paged(req, list)
        }
        "campaign/get" => {
            // Only AUCTION campaigns exist in the sample account; the reservation buying types
            // answer with an empty list, as TikTok does for accounts without them.
            let filtering = query(req, "filtering").unwrap_or_default();
            if filtering.contains("RESERVATION") {
                return paged(req, Vec::new());
            }
            paged(req, campaigns(&advertiser))
        }
        "adgroup/get" => paged(req, ad_groups(&advertiser)),
        "ad/get" => paged(req, ads(&advertiser)),
        "report/integrated/get" => paged(req, report_rows(req, &advertiser)),
        "file/image/ad/search" => paged(req, images(&advertiser)),
        "file/video/ad/search" => paged(req, videos(&advertiser)),
        "dmp/custom_audience/list" => paged(req, audiences(&advertiser)),
        _ => not_found(req),
    }
}

fn envelope(data: Value) -> ResponseTemplate {
    json_response(
        200,
        json!({"code": 0, "message": "OK", "request_id": "2024061512000001", "data": data}),
    )
}

/// One page of `list` by `page` (1-based) and `page_size`, with TikTok's `page_info`.
fn paged(req: &Request, list: Vec<Value>) -> ResponseTemplate {
    let size = query(req, "page_size")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(10);
    let page = query(req, "page")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|p| *p > 0)
        .unwrap_or(1);
    let total = list.len();
    let items: Vec<Value> = list
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    envelope(json!({
        "list": items,
        "page_info": {"page": page, "page_size": size, "total_number": total, "total_page": total.div_ceil(size)}
    }))
}

fn advertiser_index(advertiser: &str) -> Option<usize> {
    ADVERTISERS.iter().position(|(id, _)| *id == advertiser)
}

fn advertiser_info(i: usize, id: &str, name: &str) -> Value {
    json!({
        "advertiser_id": id,
        "name": name,
        "company": format!("{name} Ltd."),
        "status": "STATUS_ENABLE",
        "role": "ROLE_ADVERTISER",
        "currency": if i == 0 { "USD" } else { "EUR" },
        "timezone": if i == 0 { "America/Los_Angeles" } else { "Europe/Berlin" },
        "display_timezone": if i == 0 { "America/Los_Angeles" } else { "Europe/Berlin" },
        "country": if i == 0 { "US" } else { "DE" },
        "industry": "291905",
        "balance": 1520.75 + i as f64 * 310.0,
        "create_time": 1672531200 + i as i64 * 86400 * 40,
        "language": "en",
        "description": "Sample advertiser served by the demo API",
        "address": "1 Sample Street",
        "contacter": "D***o",
        "email": "d***o@example.com",
        "telephone_number": "+1***0100",
        "cellphone_number": "+1***0100",
        "rejection_reason": "",
        "license_no": "",
        "license_url": null,
        "promotion_area": "0",
        "promotion_center_province": null,
        "promotion_center_city": null,
        "brand": null,
        "owner_bc_id": "7100000000000000001",
    })
}

/// The modification time of the `n`-th entity, spread over the two weeks before [`now`].
fn modify_time(seed: &str) -> String {
    let day = now().date_naive() - chrono::Duration::days(1 + sample(seed, 14) as i64);
    format!(
        "{} {:02}:{:02}:00",
        day,
        8 + sample(seed, 10),
        sample(seed, 60)
    )
}

fn campaign_ids(advertiser: &str) -> Vec<String> {
    match advertiser_index(advertiser) {
        Some(a) => (1..=2).map(|c| format!("18000000000{a}0000{c}")).collect(),
        None => Vec::new(),
    }
}

fn campaigns(advertiser: &str) -> Vec<Value> {
    campaign_ids(advertiser)
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            json!({
                "campaign_id": id,
                "advertiser_id": advertiser,
                "campaign_name": (["Summer sale", "Brand awareness"][i % 2]),
                "campaign_type": "REGULAR_CAMPAIGN",
                "objective_type": (["WEB_CONVERSIONS", "REACH"][i % 2]),
                "objective": "LANDING_PAGE",
                "budget": 500.0 + 250.0 * i as f64,
                "budget_mode": "BUDGET_MODE_DAY",
                "operation_status": "ENABLE",
                "secondary_status": "CAMPAIGN_STATUS_ENABLE",
                "is_new_structure": true,
                "is_smart_performance_campaign": false,
                "deep_bid_type": null,
                "roas_bid": 0.0,
                "create_time": "2024-04-02 09:00:00",
                "modify_time": modify_time(&id),
            })
        })
        .collect()
}

fn ad_group_ids(advertiser: &str) -> Vec<(String, String)> {
    campaign_ids(advertiser)
        .into_iter()
        .map(|c| (c.replacen("18", "17", 1), c))
        .collect()
}

fn ad_groups(advertiser: &str) -> Vec<Value> {
    ad_group_ids(advertiser)
        .into_iter()
        .map(|(id, campaign)| {
            json!({
                "adgroup_id": id,
                "campaign_id": campaign,
                "advertiser_id": advertiser,
                "adgroup_name": format!("Ad group {}", &id[id.len() - 1..]),
                "placement_type": "PLACEMENT_TYPE_AUTOMATIC",
                "placements": ["PLACEMENT_TIKTOK"],
                "budget": 100.0,
                "budget_mode": "BUDGET_MODE_DAY",
                "bid_type": "BID_TYPE_NO_BID",
                "billing_event": "OCPM",
                "optimization_goal": "CONVERT",
                "operation_status": "ENABLE",
                "secondary_status": "ADGROUP_STATUS_DELIVERY_OK",
                "schedule_type": "SCHEDULE_FROM_NOW",
                "schedule_start_time": "2024-04-02 09:00:00",
                "location_ids": ["6252001"],
                "gender": "GENDER_UNLIMITED",
                "age_groups": ["AGE_25_34", "AGE_35_44"],
                "languages": ["en"],
                "create_time": "2024-04-02 09:10:00",
                "modify_time": modify_time(&id),
            })
        })
        .collect()
}

fn ad_ids(advertiser: &str) -> Vec<(String, String, String)> {
    ad_group_ids(advertiser)
        .into_iter()
        .flat_map(|(g, c)| {
            (1..=2).map(move |k| {
                (
                    format!("{}{k}", g.replacen("17", "16", 1)),
                    g.clone(),
                    c.clone(),
                )
            })
        })
        .collect()
}

fn ads(advertiser: &str) -> Vec<Value> {
    ad_ids(advertiser)
        .into_iter()
        .map(|(id, group, campaign)| {
            json!({
                "ad_id": id,
                "adgroup_id": group,
                "campaign_id": campaign,
                "advertiser_id": advertiser,
                "ad_name": format!("Video ad {}", &id[id.len() - 2..]),
                "ad_text": "Gear up for summer — 20% off this week",
                "ad_format": "SINGLE_VIDEO",
                "call_to_action": "SHOP_NOW",
                "landing_page_url": "https://shop.example.com/summer",
                "display_name": "Demo Outdoor",
                "video_id": format!("v10033g50000c{}", &id[id.len() - 4..]),
                "image_ids": [],
                "operation_status": "ENABLE",
                "secondary_status": "AD_STATUS_DELIVERY_OK",
                "is_aco": false,
                "create_time": "2024-04-02 09:20:00",
                "modify_time": modify_time(&id),
            })
        })
        .collect()
}

/// The entity ids a report of `data_level` has rows for, with the dimension key naming them.
fn report_entities(data_level: &str, advertiser: &str) -> (&'static str, Vec<String>) {
    match data_level {
        "AUCTION_AD" => (
            "ad_id",
            ad_ids(advertiser).into_iter().map(|a| a.0).collect(),
        ),
        "AUCTION_ADGROUP" => (
            "adgroup_id",
            ad_group_ids(advertiser).into_iter().map(|a| a.0).collect(),
        ),
        "AUCTION_CAMPAIGN" => ("campaign_id", campaign_ids(advertiser)),
        _ => (
            "advertiser_id",
            advertiser_index(advertiser)
                .map(|_| vec![advertiser.to_string()])
                .unwrap_or_default(),
        ),
    }
}

/// Report rows for the requested level, dimensions, metrics and dates: one row per entity and
/// day (or hour, or breakdown value); lifetime reports have one row per entity.
fn report_rows(req: &Request, advertiser: &str) -> Vec<Value> {
    let data_level = query(req, "data_level").unwrap_or_default();
    let dimensions: Vec<String> = query(req, "dimensions")
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let metrics: Vec<String> = query(req, "metrics")
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let (id_key, ids) = report_entities(&data_level, advertiser);
    let date =
        |name: &str| query(req, name).and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
    let has = |d: &str| dimensions.iter().any(|x| x == d);
    // Time buckets: days of the range, three hours of the (single) requested day, or none.
    let buckets: Vec<(Option<&str>, String)> = if has("stat_time_day") {
        match (date("start_date"), date("end_date")) {
            (Some(s), Some(e)) => days(s, e)
                .into_iter()
                .map(|d| (Some("stat_time_day"), format!("{d} 00:00:00")))
                .collect(),
            _ => Vec::new(),
        }
    } else if has("stat_time_hour") {
        match date("start_date") {
            Some(s) => days(s, s)
                .into_iter()
                .flat_map(|d| {
                    [9, 13, 20].map(|h| (Some("stat_time_hour"), format!("{d} {h:02}:00:00")))
                })
                .collect(),
            None => Vec::new(),
        }
    } else {
        vec![(None, String::new())]
    };
    // Breakdowns of audience reports: two values each, to keep the sample small.
    let breakdowns: Vec<Vec<(&str, &str)>> = if has("gender") || has("age") {
        vec![
            vec![("gender", "MALE"), ("age", "AGE_25_34")],
            vec![("gender", "FEMALE"), ("age", "AGE_35_44")],
        ]
    } else if has("country_code") {
        vec![vec![("country_code", "US")], vec![("country_code", "CA")]]
    } else if has("platform") {
        vec![vec![("platform", "IPHONE")], vec![("platform", "ANDROID")]]
    } else if has("province_id") {
        vec![vec![("province_id", "5332921")]]
    } else {
        vec![Vec::new()]
    };
    let mut rows = Vec::new();
    for id in &ids {
        for (time_key, time) in &buckets {
            for breakdown in &breakdowns {
                let mut dims = Map::new();
                dims.insert(id_key.to_string(), json!(id));
                if let Some(k) = time_key {
                    dims.insert(k.to_string(), json!(time));
                }
                for (k, v) in breakdown {
                    dims.insert(k.to_string(), json!(v));
                }
                let seed = format!("{id}{time}{breakdown:?}");
                let values: Map<String, Value> = metrics
                    .iter()
                    .map(|m| (m.clone(), metric_value(m, id, &seed)))
                    .collect();
                rows.push(json!({"dimensions": dims, "metrics": values}));
            }
        }
    }
    rows
}

/// A plausible value for one report metric; TikTok sends most metrics as strings, and "-" where
/// a metric does not apply.
fn metric_value(metric: &str, id: &str, seed: &str) -> Value {
    let n = |m: u64| sample(&format!("{seed}{metric}"), m);
    match metric {
        "campaign_name" => json!("Summer sale"),
        "adgroup_name" => json!("Ad group 1"),
        "ad_name" => json!(format!("Video ad {}", &id[id.len().saturating_sub(2)..])),
        "ad_text" => json!("Gear up for summer — 20% off this week"),
        "campaign_id" | "adgroup_id" => json!(id),
        "placement_type" => json!("Automatic Placement"),
        "promotion_type" => json!("Website"),
        "dpa_target_audience_type" | "tt_app_name" | "mobile_app_id" => json!("-"),
        "tt_app_id" => json!("0"),
        m if m.ends_with("_rate") || m == "ctr" => json!(format!("{:.2}", n(500) as f64 / 100.0)),
        "impressions" | "reach" | "clicks" | "conversion" | "result" | "likes" | "shares"
        | "comments" | "follows" | "profile_visits" | "video_play_actions" => {
            json!(format!("{}", 50 + n(5000)))
        }
        _ => json!(format!("{:.2}", n(20000) as f64 / 100.0)),
    }
}

fn images(advertiser: &str) -> Vec<Value> {
    advertiser_index(advertiser)
        .map(|a| {
            (1..=3)
                .map(|i| {
                    let id = format!("ad-site-i18n-sg/20240{a}0{i}c7a1b2");
                    json!({
                        "image_id": id,
                        "material_id": format!("74{a}00000000000{i}"),
                        "file_name": format!("summer-banner-{i}.jpg"),
                        "format": "jpeg",
                        "width": 1200,
                        "height": 628,
                        "size": 182044 + i * 1000,
                        "signature": format!("5f1c2a9b{a}{i}"),
                        "image_url": format!("https://cdn.example.com/images/{a}{i}.jpg"),
                        "is_carousel_usable": true,
                        "displayable": true,
                        "create_time": "2024-04-03T10:00:00Z",
                        "modify_time": modify_time(&id).replace(' ', "T") + "Z",
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn videos(advertiser: &str) -> Vec<Value> {
    advertiser_index(advertiser)
        .map(|a| {
            (1..=2)
                .map(|i| {
                    let id = format!("v10033g50000c{a}q0vid{i}");
                    json!({
                        "video_id": id,
                        "material_id": format!("75{a}00000000000{i}"),
                        "file_name": format!("summer-spot-{i}.mp4"),
                        "format": "mp4",
                        "width": 1080,
                        "height": 1920,
                        "duration": 15.2 + i as f64,
                        "bit_rate": 2_500_000,
                        "size": 4_811_000 + i * 1000,
                        "signature": format!("9a8b7c6d{a}{i}"),
                        "video_cover_url": format!("https://cdn.example.com/covers/{a}{i}.jpg"),
                        "preview_url": format!("https://cdn.example.com/videos/{a}{i}.mp4"),
                        "preview_url_expire_time": "2024-06-15 20:00:00",
                        "allowed_placements": ["PLACEMENT_TIKTOK"],
                        "allow_download": true,
                        "displayable": true,
                        "create_time": "2024-04-03T10:00:00Z",
                        "modify_time": modify_time(&id).replace(' ', "T") + "Z",
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn audiences(advertiser: &str) -> Vec<Value> {
    advertiser_index(advertiser)
        .map(|a| {
            [
                ("Website visitors 30d", "PIXEL"),
                ("Customer list", "CUSTOMER_FILE"),
            ]
            .iter()
            .enumerate()
            .map(|(i, (name, kind))| {
                json!({
                    "audience_id": format!("71{a}0000000000{i}"),
                    "name": name,
                    "audience_type": kind,
                    "cover_num": 12000 + i * 3000,
                    "is_valid": true,
                    "is_expiring": false,
                    "is_creator": true,
                    "shared": false,
                    "calculate_type": null,
                    "create_time": "2024-03-01 08:00:00",
                    "expired_time": "2025-03-01 08:00:00",
                })
            })
            .collect()
        })
        .unwrap_or_default()
}
