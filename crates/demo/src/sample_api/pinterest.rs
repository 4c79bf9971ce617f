//! Pinterest API v5 sample: the OAuth token endpoint, two ad accounts (served over two bookmark
//! pages), their campaigns, ad groups and ads, boards with pins and sections, user/account/
//! campaign analytics computed from the requested dates, and the asynchronous report flow
//! (create → poll → download from a URL the poll answer names).

use chrono::NaiveDate;
use serde_json::{json, Map, Value};
use wiremock::{Request, ResponseTemplate};

use super::{days, json_response, not_found, now, origin, query, sample, segments};

/// (ad account id, name) of the sample account.
pub const AD_ACCOUNTS: [(&str, &str); 2] = [
    ("549761668032", "Demo Home Goods"),
    ("549761668033", "Demo Garden Supplies"),
];

const BOARDS: [(&str, &str); 2] = [
    ("1022106146605017001", "Summer patio ideas"),
    ("1022106146605017002", "Kitchen makeover"),
];

/// Routes one request. Paths are `/v5/<endpoint>`; report downloads are `/downloads/<token>`.
pub fn respond(req: &Request) -> ResponseTemplate {
    let seg = segments(req);
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    let method = req.method.as_str();
    match (method, s.as_slice()) {
        ("POST", ["v5", "oauth", "token"]) => json_response(
            200,
            json!({
                "access_token": "pina_demo_access_token",
                "token_type": "bearer",
                "expires_in": 2592000,
                "refresh_token": "pinr_demo_refresh_token",
                "refresh_token_expires_in": 31536000,
                "scope": "ads:read boards:read pins:read user_accounts:read catalogs:read"
            }),
        ),
        ("GET", ["v5", "ad_accounts"]) => {
            // Two pages, so that the bookmark paginator is exercised.
            let (items, bookmark) = match query(req, "bookmark").as_deref() {
                Some("ad-accounts-page-2") => (vec![ad_account(1)], Value::Null),
                _ => (vec![ad_account(0)], json!("ad-accounts-page-2")),
            };
            json_response(200, json!({"items": items, "bookmark": bookmark}))
        }
        ("GET", ["v5", "ad_accounts", id]) => match AD_ACCOUNTS.iter().position(|(a, _)| a == id) {
            Some(i) => json_response(200, ad_account(i)),
            None => json_response(404, json!({"code": 2, "message": "Ad account not found."})),
        },
        ("GET", ["v5", "ad_accounts", acct, "campaigns"]) => items(campaigns(acct)),
        ("GET", ["v5", "ad_accounts", acct, "ad_groups"]) => items(ad_groups(acct)),
        ("GET", ["v5", "ad_accounts", acct, "ads"]) => items(ads(acct)),
        ("GET", ["v5", "ad_accounts", acct, "audiences"]) => items(vec![json!({
            "id": format!("2542{}", &acct[acct.len() - 4..]),
            "ad_account_id": acct,
            "name": "Site visitors 30 days",
            "audience_type": "VISITOR",
            "description": "Everyone who visited the shop in the last 30 days",
            "status": "READY",
            "size": 24000,
            "type": "audience",
            "created_timestamp": 1711900000,
            "updated_timestamp": 1717000000
        })]),
        ("GET", ["v5", "ad_accounts", acct, "analytics"]) => json_response(
            200,
            Value::Array(analytics(req, &[("AD_ACCOUNT_ID", acct)])),
        ),
        ("GET", ["v5", "ad_accounts", acct, kind, "analytics"]) => {
            let (param, key) = match *kind {
                "campaigns" => ("campaign_ids", "CAMPAIGN_ID"),
                "ad_groups" => ("ad_group_ids", "AD_GROUP_ID"),
                _ => ("ad_ids", "AD_ID"),
            };
            let ids = query(req, param).unwrap_or_default();
            let rows = ids
                .split(',')
                .filter(|i| !i.is_empty())
                .flat_map(|id| analytics(req, &[("AD_ACCOUNT_ID", acct), (key, id)]))
                .collect();
            json_response(200, Value::Array(rows))
        }
        ("POST", ["v5", "ad_accounts", acct, "reports"]) => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let field = |k: &str| body[k].as_str().unwrap_or("").to_string();
            let columns: Vec<&str> = body["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let token = format!(
                "{acct}~{}~{}~{}~{}",
                field("level"),
                field("start_date"),
                field("end_date"),
                columns.join(",")
            );
            json_response(
                200,
                json!({"report_status": "IN_PROGRESS", "token": token, "message": ""}),
            )
        }
        ("GET", ["v5", "ad_accounts", _acct, "reports"]) => match query(req, "token") {
            Some(token) => json_response(
                200,
                json!({
                    "report_status": "FINISHED",
                    "url": format!("{}/downloads/{}", origin(req), token),
                    "size": 2048
                }),
            ),
            None => json_response(400, json!({"code": 1, "message": "token is required"})),
        },
        ("GET", ["downloads", token]) => json_response(200, report_file(token)),
        ("GET", ["v5", "user_account", "analytics"]) => {
            let daily: Vec<Value> = date_range(req)
                .map(|(s, e)| days(s, e))
                .unwrap_or_default()
                .into_iter()
                .map(|d| {
                    json!({
                        "date": d.to_string(),
                        "data_status": "READY",
                        "metrics": {
                            "IMPRESSION": 1200 + sample(&format!("ui{d}"), 800),
                            "SAVE": 40 + sample(&format!("us{d}"), 30),
                            "PIN_CLICK": 90 + sample(&format!("up{d}"), 60),
                            "OUTBOUND_CLICK": 20 + sample(&format!("uo{d}"), 15),
                            "ENGAGEMENT": 150 + sample(&format!("ue{d}"), 90),
                            "ENGAGEMENT_RATE": 0.05
                        }
                    })
                })
                .collect();
            json_response(
                200,
                json!({"all": {"daily_metrics": daily, "summary_metrics": {}}}),
            )
        }
        ("GET", ["v5", "boards"]) => {
            items(BOARDS.iter().map(|(id, name)| board(id, name)).collect())
        }
        ("GET", ["v5", "boards", board, "pins"]) => items(pins(board, None)),
        ("GET", ["v5", "boards", board, "sections"]) => items(vec![json!({
            "id": format!("{board}5"),
            "name": "Favourites"
        })]),
        ("GET", ["v5", "boards", board, "sections", section, "pins"]) => {
            items(pins(board, Some(section)))
        }
        _ => not_found(req),
    }
}

/// A single-page list answer.
fn items(list: Vec<Value>) -> ResponseTemplate {
    json_response(200, json!({"items": list, "bookmark": null}))
}

fn ad_account(i: usize) -> Value {
    let (id, name) = AD_ACCOUNTS[i % AD_ACCOUNTS.len()];
    json!({
        "id": id,
        "name": name,
        "owner": {"id": "1022106215323466341", "username": "demo_brand"},
        "country": "US",
        "currency": "USD",
        "permissions": ["OWNER"],
        "created_time": 1672531200,
        "updated_time": 1717000000
    })
}

/// `updated_time` of an entity: epoch seconds within the two weeks before [`now`].
fn updated_time(seed: &str) -> i64 {
    now().timestamp() - 86400 * (1 + sample(seed, 14) as i64) - sample(seed, 40000) as i64
}

fn campaign_ids(acct: &str) -> Vec<String> {
    (1..=2)
        .map(|c| format!("6267355658{}{c}", &acct[acct.len() - 2..]))
        .collect()
}

fn campaigns(acct: &str) -> Vec<Value> {
    campaign_ids(acct)
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            json!({
                "id": id,
                "ad_account_id": acct,
                "name": (["Spring collection", "Always-on prospecting"][i % 2]),
                "status": "ACTIVE",
                "objective_type": (["CONSIDERATION", "AWARENESS"][i % 2]),
                "lifetime_spend_cap": 0,
                "daily_spend_cap": 5000000,
                "order_line_id": null,
                "tracking_urls": null,
                "start_time": 1712000000,
                "end_time": null,
                "is_flexible_daily_budgets": false,
                "is_campaign_budget_optimization": false,
                "summary_status": "RUNNING",
                "type": "campaign",
                "created_time": 1711900000,
                "updated_time": updated_time(&id)
            })
        })
        .collect()
}

fn ad_groups(acct: &str) -> Vec<Value> {
    campaign_ids(acct)
        .into_iter()
        .map(|c| {
            let id = format!("2680{}", &c[4..]);
            json!({
                "id": id,
                "ad_account_id": acct,
                "campaign_id": c,
                "name": "Broad audience",
                "status": "ACTIVE",
                "budget_in_micro_currency": 2000000,
                "bid_in_micro_currency": null,
                "budget_type": "DAILY",
                "billable_event": "IMPRESSION",
                "bid_strategy_type": "AUTOMATIC_BID",
                "placement_group": "ALL",
                "pacing_delivery_type": "STANDARD",
                "summary_status": "RUNNING",
                "type": "adgroup",
                "created_time": 1711900500,
                "updated_time": updated_time(&id)
            })
        })
        .collect()
}

fn ads(acct: &str) -> Vec<Value> {
    campaign_ids(acct)
        .into_iter()
        .map(|c| {
            let id = format!("6870{}", &c[4..]);
            json!({
                "id": id,
                "ad_account_id": acct,
                "campaign_id": c,
                "ad_group_id": format!("2680{}", &c[4..]),
                "pin_id": format!("{}1", BOARDS[0].0),
                "name": "Patio set pin",
                "status": "ACTIVE",
                "creative_type": "REGULAR",
                "destination_url": "https://shop.example.com/patio",
                "review_status": "APPROVED",
                "summary_status": "APPROVED",
                "type": "pinpromotion",
                "created_time": 1711901000,
                "updated_time": updated_time(&id)
            })
        })
        .collect()
}

fn board(id: &str, name: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "description": "Ideas collected by the demo brand",
        "owner": {"username": "demo_brand"},
        "privacy": "PUBLIC",
        "created_at": "2023-03-14T10:15:00",
        "board_pins_modified_at": "2024-06-10T08:30:00.123000",
        "pin_count": 2,
        "follower_count": 120,
        "collaborator_count": 0
    })
}

fn pins(board: &str, section: Option<&str>) -> Vec<Value> {
    (1..=2)
        .map(|p| {
            json!({
                "id": format!("{board}{p}"),
                "board_id": board,
                "board_section_id": section,
                "title": format!("Pin {p}"),
                "description": "A sample pin",
                "link": "https://shop.example.com/item",
                "dominant_color": "#a1b2c3",
                "alt_text": null,
                "creative_type": "REGULAR",
                "is_owner": true,
                "is_standard": true,
                "has_been_promoted": p == 1,
                "created_at": "2024-05-20T12:00:00",
                "media": {"media_type": "image"}
            })
        })
        .collect()
}

fn date_range(req: &Request) -> Option<(NaiveDate, NaiveDate)> {
    let d = |k: &str| query(req, k).and_then(|v| NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok());
    Some((d("start_date")?, d("end_date")?))
}

/// Daily analytics rows for the requested dates, tagged with the given id columns.
fn analytics(req: &Request, ids: &[(&str, &str)]) -> Vec<Value> {
    let Some((start, end)) = date_range(req) else {
        return Vec::new();
    };
    let columns = requested(query(req, "columns"));
    days(start, end)
        .into_iter()
        .map(|d| metrics_row(&d.to_string(), ids, columns.as_deref()))
        .collect()
}

/// The metric columns a request names (comma-separated), if it names any.
fn requested(columns: Option<String>) -> Option<Vec<String>> {
    let list: Vec<String> = columns?
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    (!list.is_empty()).then_some(list)
}

/// An id column's value as the analytics API writes it: campaign, advertiser, pin and pin
/// promotion ids are JSON numbers, the others (ad account, ad group, ad) strings.
fn id_value(column: &str, id: &str) -> Value {
    match column {
        "CAMPAIGN_ID" | "ADVERTISER_ID" | "PIN_ID" | "PIN_PROMOTION_ID" => {
            id.parse::<u64>().map_or_else(|_| json!(id), |n| json!(n))
        }
        _ => json!(id),
    }
}

/// One day's row: `DATE`, the id columns, and the sample metrics, as the API answers only
/// those of the `columns` a request names.
fn metrics_row(date: &str, ids: &[(&str, &str)], columns: Option<&[String]>) -> Value {
    let mut row = Map::new();
    row.insert("DATE".into(), json!(date));
    for (k, v) in ids {
        row.insert(k.to_string(), id_value(k, v));
    }
    let seed = format!("{date}{ids:?}");
    let impressions = 800 + sample(&format!("i{seed}"), 1200);
    let clicks = 10 + sample(&format!("c{seed}"), 60);
    let spend = 5.0 + sample(&format!("s{seed}"), 4000) as f64 / 100.0;
    row.insert("IMPRESSION_1".into(), json!(impressions));
    row.insert("TOTAL_IMPRESSION".into(), json!(impressions + 40));
    row.insert("CLICKTHROUGH_1".into(), json!(clicks));
    row.insert("SPEND_IN_DOLLAR".into(), json!(spend));
    row.insert("SPEND_IN_MICRO_DOLLAR".into(), json!((spend * 1e6) as u64));
    row.insert("CTR".into(), json!(clicks as f64 / impressions as f64));
    row.insert("ECPC_IN_DOLLAR".into(), json!(spend / clicks as f64));
    row.insert("TOTAL_ENGAGEMENT".into(), json!(clicks + 25));
    if let Some(columns) = columns {
        row.retain(|k, _| k == "DATE" || ids.iter().any(|(id, _)| id == k) || columns.contains(k));
    }
    Value::Object(row)
}

/// The report file of a token `acct~level~start~end~columns`: rows keyed by entity id, one
/// per day, with the requested metric columns.
fn report_file(token: &str) -> Value {
    let parts: Vec<&str> = token.split('~').collect();
    let [acct, level, start, end, columns] = parts.as_slice() else {
        return json!({});
    };
    let columns = requested(Some(columns.to_string()));
    let d = |v: &str| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok();
    let (Some(start), Some(end)) = (d(start), d(end)) else {
        return json!({});
    };
    let (key, ids): (&str, Vec<String>) = match *level {
        "CAMPAIGN" | "CAMPAIGN_TARGETING" => ("CAMPAIGN_ID", campaign_ids(acct)),
        "AD_GROUP" | "AD_GROUP_TARGETING" => (
            "AD_GROUP_ID",
            campaign_ids(acct)
                .iter()
                .map(|c| format!("2680{}", &c[4..]))
                .collect(),
        ),
        "PIN_PROMOTION" | "PIN_PROMOTION_TARGETING" => (
            "PIN_PROMOTION_ID",
            campaign_ids(acct)
                .iter()
                .map(|c| format!("6870{}", &c[4..]))
                .collect(),
        ),
        _ => ("ADVERTISER_ID", vec![acct.to_string()]),
    };
    let mut file = Map::new();
    for id in ids {
        let rows: Vec<Value> = days(start, end)
            .into_iter()
            .map(|day| {
                let mut row = metrics_row(&day.to_string(), &[(key, &id)], columns.as_deref());
                if let Some(o) = row.as_object_mut() {
                    o.insert("AD_ACCOUNT_ID".into(), json!(acct));
                }
                row
            })
            .collect();
        file.insert(id, Value::Array(rows));
    }
    Value::Object(file)
}
