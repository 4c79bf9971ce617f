//! Klaviyo API sample (JSON:API, revision 2024-10-15): metrics, profiles, events, campaigns,
//! flows, lists and templates of a small shop.
//!
//! Lists honour the `filter` expressions the connectors send (`greater-or-equal`, `greater-than`,
//! `less-or-equal`, `less-than` on a date attribute, `equals` on channel, archived flag or
//! metric), are sorted by their cursor, and are paged through `links.next` (a full URL carrying
//! `page[cursor]`), three resources per page unless `page[size]` says otherwise.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use wiremock::{Request, ResponseTemplate};

use super::{json_response, not_found, now, origin, parse_instant, query, sample, segments};

/// (metric id, name, integration) of the sample account.
pub const METRICS: [(&str, &str, &str); 5] = [
    ("RESQ6t", "Placed Order", "shopify"),
    ("Tx8aWp", "Opened Email", "klaviyo"),
    ("Ub2kLm", "Clicked Email", "klaviyo"),
    ("Vc9dNq", "Viewed Product", "shopify"),
    ("Wd4eRs", "Active on Site", "klaviyo"),
];

/// A resource plus the values its list endpoint filters on (`updated`, `datetime`,
/// `messages.channel`, `archived`, `metric_id`, ...).
struct Resource {
    data: Value,
    fields: Vec<(&'static str, String)>,
}

/// Routes one request. Paths are `/api/<endpoint>`.
pub fn respond(req: &Request) -> ResponseTemplate {
    let seg = segments(req);
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    match (req.method.as_str(), s.as_slice()) {
        ("GET", ["api", "metrics"]) => list(req, metrics(), "updated"),
        ("GET", ["api", "profiles"]) => list(req, profiles(), "updated"),
        ("GET", ["api", "events"]) => list(req, events(), "datetime"),
        ("GET", ["api", "campaigns"]) => list(req, campaigns(&origin(req)), "updated_at"),
        ("GET", ["api", "flows"]) => list(req, flows(), "updated"),
        ("GET", ["api", "lists"]) => list(req, lists(), "updated"),
        ("GET", ["api", "lists", id]) => match lists().into_iter().find(|l| l.data["id"] == *id) {
            Some(mut l) => {
                l.data["attributes"]["profile_count"] = json!(100 + sample(id, 900));
                json_response(200, json!({"data": l.data}))
            }
            None => json_response(
                404,
                json!({"errors": [{"status": 404, "detail": "List not found"}]}),
            ),
        },
        ("GET", ["api", "templates"]) => list(req, templates(), "updated"),
        ("GET", ["api", "campaign-recipient-estimations", id]) => json_response(
            200,
            json!({"data": {"type": "campaign-recipient-estimation", "id": id,
                "attributes": {"estimated_recipient_count": 1500 + sample(id, 500)}}}),
        ),
        ("GET", ["api", "campaigns", id, "campaign-messages"]) => json_response(
            200,
            json!({"data": [{"type": "campaign-message", "id": format!("{id}M1"),
                "attributes": {"label": "Main message", "channel": "email",
                    "content": {"subject": "Summer is here", "preview_text": "20% off", "from_email": "shop@example.com", "from_label": "Demo Shop"},
                    "created_at": "2024-06-01T09:00:00.000000+00:00", "updated_at": "2024-06-01T09:00:00.000000+00:00"}}]}),
        ),
        ("POST", ["api", "flow-series-reports"]) => report(req, true),
        ("POST", ["api", "campaign-values-reports"]) => report(req, false),
        _ => not_found(req),
    }
}

/// A flow-series (per-day arrays aligned to `date_times`) or campaign-values (one aggregate)
/// report for the timeframe and conversion metric of the POST body.
fn report(req: &Request, flow_series: bool) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
    let attrs = &body["data"]["attributes"];
    let bound = |k: &str| attrs["timeframe"][k].as_str().and_then(parse_instant);
    let (Some(start), Some(end)) = (bound("start"), bound("end")) else {
        return json_response(
            400,
            json!({"errors": [{"status": 400, "detail": "timeframe start and end are required"}]}),
        );
    };
    let metric = attrs["conversion_metric_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let statistics: Vec<String> = attrs["statistics"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let days = super::days(start.date_naive(), end.date_naive());
    let value = |seed: &str, stat: &str| -> Value {
        let n = sample(&format!("{seed}{stat}{metric}"), 400);
        if stat.ends_with("rate") {
            json!(n as f64 / 1000.0)
        } else if stat.contains("value")
            || stat.contains("revenue")
            || stat.contains("order")
            || stat.contains("spend")
        {
            json!(n as f64 * 1.5)
        } else {
            json!(n)
        }
    };
    let results: Vec<Value> = if flow_series {
        flows()
            .into_iter()
            .filter(|f| f.data["attributes"]["archived"] == false)
            .map(|f| {
                let id = f.data["id"].as_str().unwrap_or_default().to_string();
                let stats: serde_json::Map<String, Value> = statistics
                    .iter()
                    .map(|st| (st.clone(), Value::Array(days.iter().map(|d| value(&format!("{id}{d}"), st)).collect())))
                    .collect();
                json!({"groupings": {"flow_id": id, "flow_message_id": format!("{id}M1"), "send_channel": "email"}, "statistics": stats})
            })
            .collect()
    } else {
        campaigns("")
            .into_iter()
            .map(|c| {
                let id = c.data["id"].as_str().unwrap_or_default().to_string();
                let stats: serde_json::Map<String, Value> = statistics.iter().map(|st| (st.clone(), value(&format!("{id}{start}"), st))).collect();
                let channel = c.fields.iter().find(|(k, _)| *k == "messages.channel").map(|(_, v)| v.clone()).unwrap_or_default();
                json!({"groupings": {"campaign_id": id, "campaign_message_id": format!("{id}M1"), "send_channel": channel}, "statistics": stats})
            })
            .collect()
    };
    let mut attributes = json!({"results": results});
    if flow_series {
        attributes["date_times"] = json!(days
            .iter()
            .map(|d| format!("{d}T00:00:00+00:00"))
            .collect::<Vec<_>>());
    }
    let kind = if flow_series {
        "flow-series-report"
    } else {
        "campaign-values-report"
    };
    json_response(
        200,
        json!({"data": {"type": kind, "id": format!("{kind}-{metric}"), "attributes": attributes, "relationships": {}}}),
    )
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// An instant `days` days and some hours before [`now`], varying by `seed`.
fn recent(seed: &str, days: u64) -> DateTime<Utc> {
    now()
        - Duration::days(1 + sample(seed, days) as i64)
        - Duration::minutes(sample(seed, 600) as i64)
}

fn metrics() -> Vec<Resource> {
    METRICS
        .iter()
        .enumerate()
        .map(|(i, (id, name, integration))| {
            let updated = ts(recent(id, 20));
            Resource {
                data: json!({
                    "type": "metric",
                    "id": id,
                    "attributes": {
                        "name": name,
                        "created": format!("2023-0{}-12T08:00:00+00:00", 1 + i),
                        "updated": updated,
                        "integration": {"object": "integration", "id": format!("int{i}"), "key": integration,
                            "name": if *integration == "shopify" { "Shopify" } else { "Klaviyo" }, "category": "eCommerce"}
                    },
                    "links": {"self": format!("https://a.klaviyo.com/api/metrics/{id}/")}
                }),
                fields: vec![("updated", updated)],
            }
        })
        .collect()
}

fn profiles() -> Vec<Resource> {
    let names = [
        ("Ada", "Lovelace"),
        ("Grace", "Hopper"),
        ("Alan", "Turing"),
        ("Edsger", "Dijkstra"),
        ("Barbara", "Liskov"),
        ("Donald", "Knuth"),
    ];
    names
        .iter()
        .enumerate()
        .map(|(i, (first, last))| {
            let id = format!("01HZPROFILE{i:04}");
            let updated = ts(recent(&id, 14));
            // Every third profile is suppressed, so `global_exclusions` has records too.
            let suppression = if i % 3 == 2 {
                json!([{"reason": "USER_SUPPRESSED", "timestamp": "2024-06-02T10:00:00+00:00"}])
            } else {
                json!([])
            };
            Resource {
                data: json!({
                    "type": "profile",
                    "id": id,
                    "attributes": {
                        "email": format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
                        "phone_number": null,
                        "external_id": null,
                        "first_name": first,
                        "last_name": last,
                        "organization": "Demo Shop Customers",
                        "locale": "en-US",
                        "title": null,
                        "image": null,
                        "created": "2024-01-10T12:00:00+00:00",
                        "updated": updated,
                        "last_event_date": updated,
                        "location": {"address1": null, "city": "Springfield", "country": "United States",
                            "latitude": "39.78", "longitude": "-89.65", "region": "IL", "zip": "62701", "timezone": "America/Chicago", "ip": null},
                        "properties": {"favourite_category": "outdoor"},
                        "subscriptions": {
                            "email": {"marketing": {"can_receive_email_marketing": i % 3 != 2, "consent": "SUBSCRIBED",
                                "consent_timestamp": "2024-01-10T12:00:00+00:00", "method": "FORM", "suppression": suppression, "list_suppressions": []}},
                            "sms": null,
                            "mobile_push": null
                        },
                        "predictive_analytics": {"historic_clv": 120.5, "predicted_clv": 80.0, "total_clv": 200.5,
                            "historic_number_of_orders": 3, "predicted_number_of_orders": 1.2, "average_days_between_orders": 45.0,
                            "average_order_value": 40.17, "churn_probability": 0.21, "expected_date_of_next_order": "2024-07-20"}
                    },
                    "relationships": {"lists": {"links": {"self": "", "related": ""}}, "segments": {"links": {"self": "", "related": ""}}},
                    "links": {"self": format!("https://a.klaviyo.com/api/profiles/{id}/")}
                }),
                fields: vec![("updated", updated)],
            }
        })
        .collect()
}

/// Two events a day for the 30 days before [`now`], alternating between the shop's metrics.
fn events() -> Vec<Resource> {
    let mut out = Vec::new();
    for day in 0..30i64 {
        for (k, minutes) in [(0usize, 9 * 60 + 30), (1, 15 * 60 + 45)] {
            let t = (now() - Duration::days(30 - day))
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                + Duration::minutes(minutes);
            if t > now() {
                continue;
            }
            let (metric, name, _) = METRICS[(day as usize + k) % 4];
            let id = format!("4Ev{}{k}", t.format("%Y%m%d"));
            let datetime = ts(t);
            out.push(Resource {
                data: json!({
                    "type": "event",
                    "id": id,
                    "attributes": {
                        "timestamp": t.timestamp(),
                        "event_properties": if name == "Placed Order" {
                            json!({"$value": 42.5, "OrderId": id, "items": [{"ProductName": "Camping mug", "Quantity": 2.0, "ItemPrice": 21.25}]})
                        } else {
                            json!({"$message": "01HZMESSAGE0001", "Subject": "Summer is here"})
                        },
                        "datetime": datetime,
                        "uuid": format!("9b6c{:028}", t.timestamp())
                    },
                    "relationships": {
                        "profile": {"data": {"type": "profile", "id": format!("01HZPROFILE{:04}", day % 6)}},
                        "metric": {"data": {"type": "metric", "id": metric}},
                        "attributions": {"data": []}
                    },
                    "links": {"self": format!("https://a.klaviyo.com/api/events/{id}/")}
                }),
                fields: vec![("datetime", datetime), ("metric_id", metric.to_string())],
            });
        }
    }
    out
}

fn campaigns(origin: &str) -> Vec<Resource> {
    let plan = [
        ("email", false, "Summer sale announcement"),
        ("email", false, "Weekly newsletter"),
        ("email", true, "Spring clearance"),
        ("sms", false, "Flash sale SMS"),
    ];
    plan.iter()
        .enumerate()
        .map(|(i, (channel, archived, name))| {
            let id = format!("01HXCAMPAIGN{i:04}");
            let updated_at = ts(recent(&id, 14));
            Resource {
                data: json!({
                    "type": "campaign",
                    "id": id,
                    "attributes": {
                        "name": name,
                        "status": if *archived { "Sent" } else { "Scheduled" },
                        "archived": archived,
                        "audiences": {"included": ["Y6nRLr"], "excluded": []},
                        "send_options": {"use_smart_sending": true},
                        "tracking_options": {"is_tracking_opens": true, "is_tracking_clicks": true},
                        "send_strategy": {"method": "static", "options_static": {"datetime": "2024-06-20T10:00:00", "is_local": false, "send_past_recipients_immediately": null}},
                        "created_at": "2024-05-28T09:00:00+00:00",
                        "scheduled_at": "2024-06-01T09:00:00+00:00",
                        "updated_at": updated_at,
                        "send_time": "2024-06-20T10:00:00+00:00"
                    },
                    "relationships": {
                        "campaign-messages": {"data": [{"type": "campaign-message", "id": format!("{id}M1")}],
                            "links": {"self": "", "related": format!("{origin}/api/campaigns/{id}/campaign-messages/")}},
                        "tags": {"data": []}
                    },
                    "links": {"self": format!("https://a.klaviyo.com/api/campaigns/{id}/")}
                }),
                fields: vec![
                    ("updated_at", updated_at),
                    ("messages.channel", channel.to_string()),
                    ("archived", archived.to_string()),
                ],
            }
        })
        .collect()
}

fn flows() -> Vec<Resource> {
    let plan = [
        ("Welcome series", false, "Added to List"),
        ("Abandoned cart", false, "Metric"),
        ("Win-back 2023", true, "Segment"),
    ];
    plan.iter()
        .enumerate()
        .map(|(i, (name, archived, trigger))| {
            let id = format!("XyZ{i:03}");
            let updated = ts(recent(&id, 14));
            Resource {
                data: json!({
                    "type": "flow",
                    "id": id,
                    "attributes": {"name": name, "status": if *archived { "draft" } else { "live" }, "archived": archived,
                        "created": "2023-11-02T10:00:00+00:00", "updated": updated, "trigger_type": trigger},
                    "relationships": {"flow-actions": {"links": {"self": "", "related": ""}}, "tags": {"data": []}},
                    "links": {"self": format!("https://a.klaviyo.com/api/flows/{id}/")}
                }),
                fields: vec![("updated", updated), ("archived", archived.to_string())],
            }
        })
        .collect()
}

fn lists() -> Vec<Resource> {
    [("Y6nRLr", "Newsletter"), ("Z7pQMs", "VIP customers")]
        .iter()
        .map(|(id, name)| {
            let updated = ts(recent(id, 14));
            Resource {
                data: json!({
                    "type": "list",
                    "id": id,
                    "attributes": {"name": name, "created": "2023-05-01T08:00:00+00:00", "updated": updated, "opt_in_process": "single_opt_in"},
                    "relationships": {"profiles": {"links": {"self": "", "related": ""}}, "tags": {"data": []}},
                    "links": {"self": format!("https://a.klaviyo.com/api/lists/{id}/")}
                }),
                fields: vec![("updated", updated)],
            }
        })
        .collect()
}

fn templates() -> Vec<Resource> {
    [("TmPl01", "Newsletter layout"), ("TmPl02", "Order confirmation")]
        .iter()
        .map(|(id, name)| {
            let updated = ts(recent(id, 14));
            Resource {
                data: json!({
                    "type": "template",
                    "id": id,
                    "attributes": {"name": name, "editor_type": "CODE", "html": "<html><body>Hello {{ first_name }}</body></html>",
                        "text": "Hello", "amp": null, "created": "2023-06-01T08:00:00+00:00", "updated": updated},
                    "links": {"self": format!("https://a.klaviyo.com/api/templates/{id}/")}
                }),
                fields: vec![("updated", updated)],
            }
        })
        .collect()
}

/// One condition of a Klaviyo `filter` expression.
#[derive(Debug, PartialEq)]
enum Condition {
    Compare {
        op: String,
        field: String,
        value: String,
    },
    Equals {
        field: String,
        value: String,
    },
}

/// Extracts the conditions of a filter such as
/// `and(greater-or-equal(updated_at,2024-06-01T00:00:00+0000),equals(messages.channel,'email'))`.
fn conditions(filter: &str) -> Vec<Condition> {
    let mut out = Vec::new();
    for op in [
        "greater-or-equal",
        "greater-than",
        "less-or-equal",
        "less-than",
        "equals",
    ] {
        let mut rest = filter;
        while let Some(at) = rest.find(&format!("{op}(")) {
            // Skip matches that are the tail of a longer operator name.
            let preceded = rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '-');
            let args_start = at + op.len() + 1;
            let args_end = rest[args_start..]
                .find(')')
                .map(|e| args_start + e)
                .unwrap_or(rest.len());
            let args = &rest[args_start..args_end];
            rest = &rest[args_end.min(rest.len())..];
            if preceded {
                continue;
            }
            let Some((field, value)) = args.split_once(',') else {
                continue;
            };
            let value = value
                .trim()
                .trim_matches('"')
                .trim_matches('\'')
                .to_string();
            let field = field.trim().to_string();
            out.push(if op == "equals" {
                Condition::Equals { field, value }
            } else {
                Condition::Compare {
                    op: op.to_string(),
                    field,
                    value,
                }
            });
        }
    }
    out
}

fn keeps(resource: &Resource, conditions: &[Condition]) -> bool {
    let field = |name: &str| {
        resource
            .fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    };
    conditions.iter().all(|c| match c {
        Condition::Equals { field: f, value } => field(f).is_none_or(|v| v == value),
        Condition::Compare {
            op,
            field: f,
            value,
        } => {
            let (Some(have), Some(bound)) =
                (field(f).and_then(parse_instant), parse_instant(value))
            else {
                return true;
            };
            match op.as_str() {
                "greater-or-equal" => have >= bound,
                "greater-than" => have > bound,
                "less-or-equal" => have <= bound,
                _ => have < bound,
            }
        }
    })
}

/// A filtered, sorted, paged JSON:API list answer.
fn list(req: &Request, resources: Vec<Resource>, cursor: &'static str) -> ResponseTemplate {
    let conditions = conditions(&query(req, "filter").unwrap_or_default());
    let mut kept: Vec<Resource> = resources
        .into_iter()
        .filter(|r| keeps(r, &conditions))
        .collect();
    let key = |r: &Resource| {
        r.fields
            .iter()
            .find(|(k, _)| *k == cursor)
            .and_then(|(_, v)| parse_instant(v))
    };
    kept.sort_by_key(key);
    let size = query(req, "page[size]")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(3);
    let offset = query(req, "page[cursor]")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let total = kept.len();
    let page: Vec<Value> = kept
        .into_iter()
        .skip(offset)
        .take(size)
        .map(|r| r.data)
        .collect();
    let next = if offset + size < total {
        let mut url = req.url.clone();
        let base = format!("{}{}", origin(req), req.url.path());
        if let Ok(u) = wiremock::http::Url::parse(&base) {
            url = u;
        }
        let pairs: Vec<(String, String)> = req
            .url
            .query_pairs()
            .filter(|(k, _)| k != "page[cursor]")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("page[cursor]", &(offset + size).to_string());
        json!(url.to_string())
    } else {
        Value::Null
    };
    let mut body = json!({
        "data": page,
        "links": {"self": format!("{}{}", origin(req), req.url.path()), "next": next, "prev": null}
    });
    if query(req, "include").is_some_and(|i| i.contains("metric")) {
        body["included"] = json!(metrics().into_iter().map(|m| m.data).collect::<Vec<_>>());
    }
    json_response(200, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_condition_of_a_campaigns_filter() {
        let got = conditions("and(greater-or-equal(updated_at,2024-06-01T00:00:00+0000),less-or-equal(updated_at,2024-06-15T12:00:00+0000),equals(messages.channel,'email'),equals(archived,false))");
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got.contains(&Condition::Equals {
            field: "messages.channel".into(),
            value: "email".into()
        }));
        assert!(got.contains(&Condition::Equals {
            field: "archived".into(),
            value: "false".into()
        }));
    }

    #[test]
    fn greater_than_is_not_mistaken_for_greater_or_equal() {
        let got = conditions("greater-than(updated,2024-06-01T00:00:00+0000)");
        assert_eq!(
            got,
            vec![Condition::Compare {
                op: "greater-than".into(),
                field: "updated".into(),
                value: "2024-06-01T00:00:00+0000".into()
            }]
        );
    }
}
