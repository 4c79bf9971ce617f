//! source-pinterest: the entity analytics streams (`campaign_analytics`, `ad_group_analytics`,
//! `ad_analytics`) read up to 25 entities of one ad account per request and window, route
//! every row back to its entity, and write the per-entity state a request per entity writes.

use std::collections::{BTreeMap, HashSet};

use chrono::{Duration, NaiveDate};
use integration_tests::pinterest::{self, NOW};
use integration_tests::{catalog, env, ok, read, state_for, Run};
use serde_json::{json, Value};
use source_pinterest::{SourcePinterest, BASE_URL_VAR};
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The three 30-day windows from the 89-day limit (2024-01-12) to today.
const WINDOWS: [(&str, &str); 3] = [
    ("2024-01-12", "2024-02-10"),
    ("2024-02-11", "2024-03-11"),
    ("2024-03-12", "2024-04-10"),
];

fn config() -> Value {
    pinterest::config("2024-01-01")
}

fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
}

/// `accounts` with their entity ids, as the entity list (`campaigns`, `ad_groups`, `ads`) of
/// each ad account; every entity was updated after the start date.
async fn mount_entities(server: &MockServer, kind: &str, accounts: &[(&str, Vec<String>)]) {
    let items: Vec<Value> = accounts.iter().map(|(a, _)| json!({"id": a})).collect();
    Mock::given(method("GET"))
        .and(path("/v5/ad_accounts"))
        .respond_with(ok(json!({"items": items})))
        .mount(server)
        .await;
    for (account, ids) in accounts {
        let items: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "updated_time": 1712102400}))
            .collect();
        Mock::given(method("GET"))
            .and(path(format!("/v5/ad_accounts/{account}/{kind}")))
            .respond_with(ok(json!({"items": items})))
            .expect(1)
            .mount(server)
            .await;
    }
}

/// Analytics that answer every requested id: two rows per id and window, the window's first
/// day (all ids) and then the id's own day (`id % 20` days in), so rows of different ids
/// interleave. Ids in `silent` have no rows. `number` writes the id column as a JSON number,
/// as Pinterest writes `CAMPAIGN_ID`.
struct Rows {
    param: &'static str,
    column: &'static str,
    number: bool,
    silent: HashSet<String>,
}

impl Rows {
    fn day_of(id: &str) -> i64 {
        id.parse::<i64>().map_or(0, |n| n % 20)
    }

    fn id_value(&self, id: &str) -> Value {
        match id.parse::<u64>() {
            Ok(n) if self.number => json!(n),
            _ => json!(id),
        }
    }
}

impl Respond for Rows {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let (Some(ids), Some(start), Some(end)) = (
            query(req, self.param),
            query(req, "start_date"),
            query(req, "end_date"),
        ) else {
            return ResponseTemplate::new(404).set_body_json(json!({"code": 2, "message": "?"}));
        };
        let (start, end) = (date(&start), date(&end));
        let ids: Vec<&str> = ids
            .split(',')
            .filter(|i| !self.silent.contains(*i))
            .collect();
        let mut rows = Vec::new();
        for id in &ids {
            rows.push(json!({"DATE": start.to_string(), self.column: self.id_value(id), "SPEND_IN_DOLLAR": 1}));
        }
        for id in &ids {
            let day = (start + Duration::days(Self::day_of(id))).min(end);
            if day > start {
                rows.push(json!({"DATE": day.to_string(), self.column: self.id_value(id), "SPEND_IN_DOLLAR": 2}));
            }
        }
        ok(Value::Array(rows))
    }
}

/// `(account, ids, start_date, end_date)` of every analytics request, sorted.
async fn analytics_requests(
    server: &MockServer,
    param: &str,
) -> Vec<(String, String, String, String)> {
    let mut out: Vec<_> = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().ends_with("/analytics"))
        .map(|r| {
            let account = r
                .url
                .path()
                .split('/')
                .nth(3)
                .unwrap_or_default()
                .to_string();
            (
                account,
                query(r, param).unwrap_or_default(),
                query(r, "start_date").unwrap_or_default(),
                query(r, "end_date").unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The official per-partition state of an entity analytics stream: `(entity, account, DATE)`
/// in router order.
fn official_state(cursors: &[(String, &str, String)]) -> Value {
    let states: Vec<Value> = cursors
        .iter()
        .map(|(id, account, day)| {
            json!({"partition": {"id": id, "parent_slice": {"id": account, "parent_slice": {}}},
                   "cursor": {"DATE": day}})
        })
        .collect();
    let max = cursors
        .iter()
        .map(|(_, _, d)| d.clone())
        .max()
        .unwrap_or_default();
    json!({"use_global_cursor": false, "states": states, "state": {"DATE": max},
           "lookback_window": 0, "parent_state": {}})
}

/// The records of `stream`, per entity (by `column`, written out), in emission order.
fn records_by_entity(r: &Run, stream: &str, column: &str) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for rec in r.records(stream) {
        let id = match &rec[column] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.entry(id).or_default().push(rec);
    }
    out
}

#[tokio::test]
async fn ad_analytics_reads_25_ads_of_one_account_per_request_and_writes_the_per_ad_state() {
    let server = MockServer::start().await;
    let a1: Vec<String> = (1000..1253).map(|n| n.to_string()).collect();
    let a2: Vec<String> = vec!["2000".into(), "2001".into()];
    mount_entities(&server, "ads", &[("a1", a1.clone()), ("a2", a2.clone())]).await;
    // Every 50th ad has no analytics at all: it advances to the start, as it does alone.
    let silent: HashSet<String> = a1.iter().filter(|i| i.ends_with("07")).cloned().collect();
    Mock::given(method("GET"))
        .and(path_regex(r"^/v5/ad_accounts/a[12]/ads/analytics$"))
        .and(query_param("granularity", "DAY"))
        .respond_with(Rows {
            param: "ad_ids",
            column: "AD_ID",
            number: false,
            silent: silent.clone(),
        })
        .mount(&server)
        .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("ad_analytics", "incremental")]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);

    // One request per account, window and 25 ads (750 rows of a 30-day window at most),
    // the ads joined in router order.
    let mut expected = Vec::new();
    for (start, end) in WINDOWS {
        let groups = a1
            .chunks(25)
            .map(|ids| ("a1", ids))
            .chain([("a2", &a2[..])]);
        for (account, ids) in groups {
            expected.push((account.to_string(), ids.join(","), start.into(), end.into()));
        }
    }
    expected.sort();
    assert_eq!(analytics_requests(&server, "ad_ids").await, expected);

    // Every row went to its ad: each ad's records are its own rows, in order.
    let by_ad = records_by_entity(&r, "ad_analytics", "AD_ID");
    for id in a1.iter().chain(&a2) {
        let days: Vec<&str> = by_ad
            .get(id)
            .map(|recs| recs.iter().filter_map(|r| r["DATE"].as_str()).collect())
            .unwrap_or_default();
        if silent.contains(id) {
            assert!(days.is_empty(), "{id}: {days:?}");
            continue;
        }
        let own = Rows::day_of(id);
        let mut want = Vec::new();
        for (start, _) in WINDOWS {
            want.push(date(start).to_string());
            if own > 0 {
                want.push((date(start) + Duration::days(own)).to_string());
            }
        }
        assert_eq!(days, want, "{id}");
    }
    assert_eq!(by_ad.len(), a1.len() + a2.len() - silent.len());

    // The state a request per ad writes: each ad at its own last day, in router order.
    let cursors: Vec<(String, &str, String)> = a1
        .iter()
        .map(|id| (id, "a1"))
        .chain(a2.iter().map(|id| (id, "a2")))
        .map(|(id, account)| {
            let day = if silent.contains(id) {
                "2024-01-12".to_string()
            } else {
                (date("2024-03-12") + Duration::days(Rows::day_of(id))).to_string()
            };
            (id.clone(), account, day)
        })
        .collect();
    assert_eq!(
        r.last_state("ad_analytics").unwrap(),
        official_state(&cursors)
    );
}

#[tokio::test]
async fn campaign_and_ad_group_analytics_join_their_ids_and_route_numeric_ids() {
    let server = MockServer::start().await;
    let campaigns: Vec<String> = vec!["101".into(), "102".into(), "103".into()];
    let groups: Vec<String> = vec!["201".into(), "202".into()];
    mount_entities(&server, "campaigns", &[("a1", campaigns.clone())]).await;
    Mock::given(method("GET"))
        .and(path("/v5/ad_accounts/a1/ad_groups"))
        .respond_with(ok(json!({"items": groups.iter()
            .map(|id| json!({"id": id, "updated_time": 1712102400})).collect::<Vec<_>>()})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v5/ad_accounts/a1/campaigns/analytics"))
        .respond_with(Rows {
            param: "campaign_ids",
            column: "CAMPAIGN_ID",
            number: true,
            silent: HashSet::new(),
        })
        .expect(3)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v5/ad_accounts/a1/ad_groups/analytics"))
        .respond_with(Rows {
            param: "ad_group_ids",
            column: "AD_GROUP_ID",
            number: false,
            silent: HashSet::new(),
        })
        .expect(3)
        .mount(&server)
        .await;
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[
            ("campaign_analytics", "incremental"),
            ("ad_group_analytics", "incremental"),
        ]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    let requests = analytics_requests(&server, "campaign_ids").await;
    let lists: HashSet<&str> = requests.iter().map(|(_, ids, _, _)| ids.as_str()).collect();
    assert!(lists.contains("101,102,103"), "{requests:?}");
    let requests = analytics_requests(&server, "ad_group_ids").await;
    let lists: HashSet<&str> = requests.iter().map(|(_, ids, _, _)| ids.as_str()).collect();
    assert!(lists.contains("201,202"), "{requests:?}");

    // `CAMPAIGN_ID` comes as a number and is emitted as one; it still finds its campaign.
    let by_campaign = records_by_entity(&r, "campaign_analytics", "CAMPAIGN_ID");
    assert_eq!(by_campaign.len(), 3);
    assert_eq!(by_campaign["101"][0]["CAMPAIGN_ID"], json!(101));
    assert_eq!(by_campaign["101"].len(), 6);
    let last = |id: &String| (date("2024-03-12") + Duration::days(Rows::day_of(id))).to_string();
    let cursors: Vec<_> = campaigns
        .iter()
        .map(|id| (id.clone(), "a1", last(id)))
        .collect();
    assert_eq!(
        r.last_state("campaign_analytics").unwrap(),
        official_state(&cursors)
    );
    let cursors: Vec<_> = groups
        .iter()
        .map(|id| (id.clone(), "a1", last(id)))
        .collect();
    assert_eq!(
        r.last_state("ad_group_analytics").unwrap(),
        official_state(&cursors)
    );
}

#[tokio::test]
async fn ads_with_different_saved_cursors_are_requested_in_different_groups() {
    let server = MockServer::start().await;
    let ads: Vec<String> = ["11", "12", "13", "14"].map(String::from).to_vec();
    mount_entities(&server, "ads", &[("a1", ads.clone())]).await;
    let analytics = "/v5/ad_accounts/a1/ads/analytics";
    // 11 and 12 resume on 2024-03-01 and 14, which has no cursor of its own, from the global
    // cursor, the same day: one group, two windows. 13 resumes on 2024-03-20: its own group.
    for (ids, start, end, rows) in [
        (
            "11,12,14",
            "2024-03-01",
            "2024-03-30",
            json!([{"DATE": "2024-03-05", "AD_ID": "12"}, {"DATE": "2024-03-02", "AD_ID": "11"}]),
        ),
        (
            "11,12,14",
            "2024-03-31",
            "2024-04-10",
            json!([{"DATE": "2024-04-01", "AD_ID": "14"}]),
        ),
        (
            "13",
            "2024-03-20",
            "2024-04-10",
            json!([{"DATE": "2024-03-21", "AD_ID": "13"}]),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(analytics))
            .and(query_param("ad_ids", ids))
            .and(query_param("start_date", start))
            .and(query_param("end_date", end))
            .respond_with(ok(rows))
            .expect(1)
            .mount(&server)
            .await;
    }
    let partition = |id: &str| json!({"id": id, "parent_slice": {"id": "a1", "parent_slice": {}}});
    let state = json!({"use_global_cursor": false, "states": [
        {"partition": partition("11"), "cursor": {"DATE": "2024-03-01"}},
        {"partition": partition("12"), "cursor": {"DATE": "2024-03-01"}},
        {"partition": partition("13"), "cursor": {"DATE": "2024-03-20"}}
    ], "state": {"DATE": "2024-03-01"}, "lookback_window": 0, "parent_state": {}});
    let r = read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("ad_analytics", "incremental")]),
        Some(&state_for("ad_analytics", state)),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.raw);
    assert_eq!(analytics_requests(&server, "ad_ids").await.len(), 3);
    assert_eq!(r.records("ad_analytics").len(), 4);
    assert_eq!(
        r.last_state("ad_analytics").unwrap(),
        json!({"use_global_cursor": false, "states": [
            {"partition": partition("11"), "cursor": {"DATE": "2024-03-02"}},
            {"partition": partition("12"), "cursor": {"DATE": "2024-03-05"}},
            {"partition": partition("13"), "cursor": {"DATE": "2024-03-21"}},
            {"partition": partition("14"), "cursor": {"DATE": "2024-04-01"}}
        ], "state": {"DATE": "2024-04-01"}, "lookback_window": 0, "parent_state": {}})
    );
}

/// Two ads; the first window answers `first`, the second `second`; the third is never asked.
async fn two_ads_failing_in_the_second_window(first: Value, second: ResponseTemplate) -> Run {
    let server = MockServer::start().await;
    mount_entities(&server, "ads", &[("a1", vec!["1".into(), "2".into()])]).await;
    let analytics = "/v5/ad_accounts/a1/ads/analytics";
    let window = |start: &str| {
        Mock::given(method("GET"))
            .and(path(analytics))
            .and(query_param("ad_ids", "1,2"))
            .and(query_param("start_date", start))
    };
    window(WINDOWS[0].0)
        .respond_with(ok(first))
        .expect(1)
        .mount(&server)
        .await;
    window(WINDOWS[1].0)
        .respond_with(second)
        .expect(1..)
        .mount(&server)
        .await;
    window(WINDOWS[2].0)
        .respond_with(ok(json!([])))
        .expect(0)
        .mount(&server)
        .await;
    read(
        &SourcePinterest,
        env(BASE_URL_VAR, &server.uri(), NOW),
        &config(),
        &catalog(&[("ad_analytics", "incremental")]),
        None,
    )
    .await
}

fn assert_failed_with_state_of_the_first_window(r: &Run, message: &str) {
    assert_eq!(r.code, 1, "{}", r.raw);
    assert_eq!(r.statuses("ad_analytics").last().unwrap(), "INCOMPLETE");
    let errors = r.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]["message"].as_str().unwrap().contains(message),
        "{errors:?}"
    );
    let partition = |id: &str| json!({"id": id, "parent_slice": {"id": "a1", "parent_slice": {}}});
    // No state past the first window: both ads at what the first window emitted.
    for state in r.states("ad_analytics") {
        for entry in state["states"].as_array().unwrap() {
            assert!(
                entry["cursor"]["DATE"].as_str().unwrap() <= "2024-01-20",
                "{state}"
            );
        }
    }
    assert_eq!(
        r.last_state("ad_analytics").unwrap()["states"],
        json!([
            {"partition": partition("1"), "cursor": {"DATE": "2024-01-20"}},
            {"partition": partition("2"), "cursor": {"DATE": "2024-01-12"}}
        ])
    );
}

#[tokio::test]
async fn a_failing_group_request_fails_the_stream_without_state_past_it() {
    let first = json!([{"DATE": "2024-01-20", "AD_ID": "1"}]);
    let gone = ResponseTemplate::new(404).set_body_json(json!({"code": 2, "message": "gone"}));
    let r = two_ads_failing_in_the_second_window(first, gone).await;
    assert_failed_with_state_of_the_first_window(&r, "404");
    assert_eq!(r.records("ad_analytics").len(), 1);
}

#[tokio::test]
async fn a_row_of_an_ad_not_requested_fails_the_stream_loudly() {
    let first = json!([{"DATE": "2024-01-20", "AD_ID": "1"}]);
    let stray =
        ok(json!([{"DATE": "2024-02-12", "AD_ID": "2"}, {"DATE": "2024-02-13", "AD_ID": "3"}]));
    let r = two_ads_failing_in_the_second_window(first, stray).await;
    assert_failed_with_state_of_the_first_window(
        &r,
        "Stream ad_analytics: the API answered a row for AD_ID \"3\", which the request did not ask for (2 ids requested)",
    );
    let errors = r.errors();
    assert_eq!(errors[0]["failure_type"], "system_error");
}

#[tokio::test]
async fn a_row_without_its_ad_id_fails_the_stream_loudly() {
    let first = json!([{"DATE": "2024-01-20", "AD_ID": "1"}]);
    let anonymous = ok(json!([{"DATE": "2024-02-12", "SPEND_IN_DOLLAR": 1}]));
    let r = two_ads_failing_in_the_second_window(first, anonymous).await;
    assert_failed_with_state_of_the_first_window(&r, "without a text or number AD_ID");
    assert_eq!(r.records("ad_analytics").len(), 1);
}
