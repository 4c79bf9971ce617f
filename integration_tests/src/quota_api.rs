//! A local API that enforces the published request quotas of TikTok Marketing, Pinterest and
//! Klaviyo server-side, for measuring how close the connectors' request budget comes to them.
//!
//! Every quota is a sliding window counted at *arrival*, the way the APIs count: a request is
//! admitted when no window of the quota's length ending at its arrival already holds the
//! quota's limit of admitted requests. A request over any of its quotas gets the API's own
//! throttled answer and is not counted (it was not served):
//!
//! - Pinterest: `ads_analytics` 300/min (paths ending in `/analytics` or `/reports`), `ads_read`
//!   1,000/min (other `/v5/ad_accounts` paths), `org_read` and `catalogs_read` 1,000/min each,
//!   plus the universal 100/s over every endpoint. Throttled: HTTP 429, body code 8,
//!   `X-RateLimit-*` headers. Every answer carries `X-RateLimit-Limit`/`-Remaining`/`-Reset`
//!   of its category.
//! - Klaviyo: each endpoint family's burst and steady tier (`events` 350/s and 3,500/min, the
//!   same table as the connector's budget). Throttled: HTTP 429 with `Retry-After`. Every
//!   answer carries the draft-standard `RateLimit-Limit`/`-Remaining`/`-Reset`.
//! - TikTok: 100 requests per 10 s over the whole API. Throttled: HTTP 200 with body code 40100.
//!
//! Data is generated per request (nothing large is held), deterministic, and identifiable: every
//! record's key decodes to its position in the data set ([`Workload::index`]), so a
//! [`RecordCheck`] can tell lost and duplicated records apart with one bit per record.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// One sliding window of a quota: at most `limit` admitted arrivals in any `length`.
#[derive(Debug)]
pub struct Window {
    pub limit: u32,
    pub length: Duration,
    arrivals: VecDeque<Instant>,
}

impl Window {
    pub fn new(limit: u32, length: Duration) -> Self {
        Window {
            limit: limit.max(1),
            length,
            arrivals: VecDeque::new(),
        }
    }

    /// Forgets arrivals a whole window old: one exactly `length` earlier no longer counts.
    fn expire(&mut self, now: Instant) {
        while self
            .arrivals
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.length)
        {
            self.arrivals.pop_front();
        }
    }

    /// How long until one more arrival fits (zero: now). Call after [`Window::expire`].
    fn wait(&self, now: Instant) -> Duration {
        let limit = self.limit as usize;
        if self.arrivals.len() < limit {
            return Duration::ZERO;
        }
        let frees = self.arrivals[self.arrivals.len() - limit] + self.length;
        frees.saturating_duration_since(now)
    }

    fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.arrivals.len() as u32)
    }
}

/// A named quota: one or more windows, all of which must have room.
#[derive(Debug)]
pub struct Quota {
    pub name: &'static str,
    pub windows: Vec<Window>,
    /// Requests admitted under this quota.
    pub admitted: u64,
}

impl Quota {
    pub fn new(name: &'static str, rates: &[(u32, Duration)]) -> Self {
        Quota {
            name,
            windows: rates.iter().map(|(n, d)| Window::new(*n, *d)).collect(),
            admitted: 0,
        }
    }

    /// The least time any client needs to send `requests` requests under this quota without
    /// a throttled answer: request `k` (from 0) cannot arrive before `floor(k / limit)` whole
    /// windows have passed since the first.
    pub fn minimum(&self, requests: u64) -> Duration {
        self.windows
            .iter()
            .map(|w| w.length * (requests.saturating_sub(1) / u64::from(w.limit)) as u32)
            .max()
            .unwrap_or(Duration::ZERO)
    }
}

/// What the quotas said about one arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted. The tightest window of the first quota after this request: its limit, what
    /// is left, and when its oldest counted request leaves.
    Admitted {
        limit: u32,
        remaining: u32,
        reset: Duration,
        /// The first quota's windows as `(limit, seconds)`, for draft-standard headers.
        windows: [(u32, u64); 2],
    },
    /// Over a quota; one more request fits after `wait`.
    Throttled { limit: u32, wait: Duration },
}

/// The quotas of one API and their counts.
#[derive(Debug, Default)]
pub struct Quotas {
    quotas: Vec<Quota>,
}

impl Quotas {
    pub fn new(quotas: Vec<Quota>) -> Self {
        Quotas { quotas }
    }

    /// Counts an arrival at `now` against the named quotas (all or nothing). The first name
    /// is the category the answer's headers describe.
    pub fn arrive(&mut self, names: &[&str], now: Instant) -> Verdict {
        let mut wait = Duration::ZERO;
        let mut over = 0;
        for q in self.quotas.iter_mut().filter(|q| names.contains(&q.name)) {
            for w in &mut q.windows {
                w.expire(now);
                let wt = w.wait(now);
                if wt > wait {
                    wait = wt;
                    over = w.limit;
                }
            }
        }
        if !wait.is_zero() {
            return Verdict::Throttled { limit: over, wait };
        }
        for q in self.quotas.iter_mut().filter(|q| names.contains(&q.name)) {
            q.admitted += 1;
            for w in &mut q.windows {
                w.arrivals.push_back(now);
            }
        }
        let first = names
            .first()
            .and_then(|n| self.quotas.iter().find(|q| q.name == *n));
        let Some(first) = first else {
            return Verdict::Admitted {
                limit: 0,
                remaining: 0,
                reset: Duration::ZERO,
                windows: [(0, 0); 2],
            };
        };
        let tight = first
            .windows
            .iter()
            .min_by_key(|w| w.remaining())
            .expect("a quota has a window");
        let reset = tight.arrivals.front().map_or(Duration::ZERO, |t| {
            (*t + tight.length).saturating_duration_since(now)
        });
        let mut windows = [(0, 0); 2];
        for (slot, w) in windows.iter_mut().zip(&first.windows) {
            *slot = (w.limit, w.length.as_secs());
        }
        Verdict::Admitted {
            limit: tight.limit,
            remaining: tight.remaining(),
            reset,
            windows,
        }
    }

    /// `(name, admitted requests, quota-bound minimum)` of every quota that admitted any.
    pub fn report(&self) -> Vec<(&'static str, u64, Duration)> {
        self.quotas
            .iter()
            .filter(|q| q.admitted > 0)
            .map(|q| (q.name, q.admitted, q.minimum(q.admitted)))
            .collect()
    }
}

/// Which API a [`QuotaApi`] plays, and the size of its data set.
#[derive(Debug, Clone, Copy)]
pub enum Workload {
    /// `accounts` ad accounts with `ads` ads each, 250 a page at most.
    PinterestAds { accounts: usize, ads: usize },
    /// One ad account with `ads` ads; daily analytics rows for every requested day.
    PinterestAdAnalytics { ads: usize, days: usize },
    /// `events` events evenly spread over the `days` days before now, 200 a page.
    KlaviyoEvents { events: usize, days: usize },
    /// `advertisers` advertisers with `ads` ads each.
    TiktokAds { advertisers: usize, ads: usize },
}

/// Pinterest ad ids: account `a`, ad `i` is `(a + 1) * ID_BASE + i`.
const ID_BASE: usize = 10_000_000;
/// Klaviyo event ids: `4Ev` and the index, zero-padded.
const EVENT_PREFIX: &str = "4Ev";

impl Workload {
    /// How many records a full read delivers.
    pub fn expected(&self) -> usize {
        match *self {
            Workload::PinterestAds { accounts, ads } => accounts * ads,
            Workload::PinterestAdAnalytics { ads, days } => ads * days,
            Workload::KlaviyoEvents { events, .. } => events,
            Workload::TiktokAds { advertisers, ads } => advertisers * ads,
        }
    }

    /// The quotas the API enforces.
    pub fn quotas(&self) -> Quotas {
        let second = Duration::from_secs(1);
        let minute = Duration::from_secs(60);
        match self {
            Workload::PinterestAds { .. } | Workload::PinterestAdAnalytics { .. } => {
                Quotas::new(vec![
                    Quota::new("ads_analytics", &[(300, minute)]),
                    Quota::new("ads_read", &[(1000, minute)]),
                    Quota::new("org_read", &[(1000, minute)]),
                    Quota::new("catalogs_read", &[(1000, minute)]),
                    Quota::new("universal", &[(100, second)]),
                ])
            }
            Workload::KlaviyoEvents { .. } => Quotas::new(
                KLAVIYO_TIERS
                    .iter()
                    .map(|(name, _, rates)| {
                        let rates: Vec<(u32, Duration)> = rates
                            .iter()
                            .map(|(n, s)| (*n, Duration::from_secs(*s)))
                            .collect();
                        Quota::new(name, &rates)
                    })
                    .collect(),
            ),
            Workload::TiktokAds { .. } => {
                Quotas::new(vec![Quota::new("all", &[(100, Duration::from_secs(10))])])
            }
        }
    }

    /// The position in the data set of the record on `line` (one RECORD message), if it is
    /// one of this data set's records.
    pub fn index(&self, line: &[u8]) -> Option<usize> {
        match *self {
            Workload::PinterestAds { accounts, ads } => {
                let id: usize = digits(field(line, "id")?)?;
                let (account, i) = (id / ID_BASE, id % ID_BASE);
                (account >= 1 && account <= accounts && i < ads).then(|| (account - 1) * ads + i)
            }
            Workload::PinterestAdAnalytics { ads, days } => {
                let id: usize = digits(field(line, "AD_ID")?)?;
                let (account, i) = (id / ID_BASE, id % ID_BASE);
                let date = std::str::from_utf8(field(line, "DATE")?).ok()?;
                let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
                let first = today() - Days::days(days as i64 - 1);
                let day = usize::try_from((date - first).num_days()).ok()?;
                (account == 1 && i < ads && day < days).then(|| i * days + day)
            }
            Workload::KlaviyoEvents { events, .. } => {
                let id = field(line, "id")?;
                let i: usize = digits(id.strip_prefix(EVENT_PREFIX.as_bytes())?)?;
                (i < events).then_some(i)
            }
            Workload::TiktokAds { advertisers, ads } => {
                let id: usize = digits(field(line, "ad_id")?)?;
                let (adv, i) = (id / ID_BASE, id % ID_BASE);
                (adv >= 1 && adv <= advertisers && i < ads).then(|| (adv - 1) * ads + i)
            }
        }
    }
}

/// The instant every workload pins as now (`AIRBYTE_TEST_NOW`).
pub const NOW: &str = "2024-06-10T12:00:00Z";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn today() -> NaiveDate {
    now().date_naive()
}

/// `(quota name, path prefix, (limit, window seconds) pairs)`.
type Tier = (&'static str, &'static str, &'static [(u32, u64)]);

/// Klaviyo's tiers: `(quota name, path prefix, rates)`, as published (and as the connector's
/// budget declares them).
const KLAVIYO_TIERS: &[Tier] = &[
    ("campaigns", "/api/campaigns", &[(10, 1), (150, 60)]),
    ("flows", "/api/flows", &[(3, 1), (60, 60)]),
    ("profiles", "/api/profiles", &[(10, 1), (150, 60)]),
    ("events", "/api/events", &[(350, 1), (3500, 60)]),
    ("templates", "/api/templates", &[(10, 1), (150, 60)]),
    ("metrics", "/api/metrics", &[(10, 1), (150, 60)]),
    ("list", "/api/lists/", &[(1, 1), (15, 60)]),
    ("lists", "/api/lists", &[(75, 1), (700, 60)]),
    ("segments", "/api/segments", &[(75, 1), (750, 60)]),
];

/// The raw value of the first `"name":` in `line`, without quotes (strings are assumed to
/// hold no escaped quote, true of every generated key).
fn field<'a>(line: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let needle = format!("\"{name}\":");
    let at = line
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())?;
    let rest = &line[at + needle.len()..];
    if let Some(s) = rest.strip_prefix(b"\"") {
        let end = s.iter().position(|b| *b == b'"')?;
        Some(&s[..end])
    } else {
        let end = rest
            .iter()
            .position(|b| matches!(b, b',' | b'}' | b']'))
            .unwrap_or(rest.len());
        Some(&rest[..end])
    }
}

fn digits(text: &[u8]) -> Option<usize> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Counts of one server.
#[derive(Debug, Default)]
pub struct Counts {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    /// Answers the server could not route (a request the workload does not expect).
    pub unknown: AtomicU64,
}

/// The local API of one workload.
pub struct QuotaApi {
    pub server: MockServer,
    pub counts: Arc<Counts>,
    pub quotas: Arc<Mutex<Quotas>>,
}

impl QuotaApi {
    /// Starts the server on 127.0.0.1. Requests are not recorded (memory stays flat).
    pub async fn start(workload: Workload) -> Self {
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let counts = Arc::new(Counts::default());
        let quotas = Arc::new(Mutex::new(workload.quotas()));
        Mock::given(any())
            .respond_with(Responder {
                workload,
                counts: counts.clone(),
                quotas: quotas.clone(),
            })
            .mount(&server)
            .await;
        QuotaApi {
            server,
            counts,
            quotas,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Every quota that admitted requests: `(name, admitted, quota-bound minimum)`.
    pub fn report(&self) -> Vec<(&'static str, u64, Duration)> {
        self.quotas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .report()
    }
}

struct Responder {
    workload: Workload,
    counts: Arc<Counts>,
    quotas: Arc<Mutex<Quotas>>,
}

fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn json(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.into_bytes(), "application/json")
}

fn secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let arrival = Instant::now();
        self.counts.requests.fetch_add(1, Ordering::Relaxed);
        let path = req.url.path().to_string();
        let names: Vec<&str> = match self.workload {
            Workload::PinterestAds { .. } | Workload::PinterestAdAnalytics { .. } => {
                vec![pinterest_category(&path), "universal"]
            }
            Workload::KlaviyoEvents { .. } => KLAVIYO_TIERS
                .iter()
                .find(|(_, prefix, _)| path.starts_with(prefix))
                .map(|(name, _, _)| vec![*name])
                .unwrap_or_default(),
            Workload::TiktokAds { .. } => vec!["all"],
        };
        let verdict = self
            .quotas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .arrive(&names, arrival);
        if matches!(verdict, Verdict::Throttled { .. }) {
            self.counts.throttled.fetch_add(1, Ordering::Relaxed);
        }
        let answer = match self.workload {
            Workload::PinterestAds { .. } | Workload::PinterestAdAnalytics { .. } => {
                pinterest(self.workload, req, verdict)
            }
            Workload::KlaviyoEvents { events, days } => klaviyo(req, verdict, events, days),
            Workload::TiktokAds { advertisers, ads } => tiktok(req, verdict, advertisers, ads),
        };
        answer.unwrap_or_else(|| {
            self.counts.unknown.fetch_add(1, Ordering::Relaxed);
            json(
                404,
                format!(r#"{{"message":"no route for {}"}}"#, req.url.path()),
            )
        })
    }
}

fn pinterest_category(path: &str) -> &'static str {
    if path.ends_with("/analytics") || path.ends_with("/reports") {
        "ads_analytics"
    } else if path.starts_with("/v5/ad_accounts") {
        "ads_read"
    } else if path.starts_with("/v5/catalogs") {
        "catalogs_read"
    } else {
        "org_read"
    }
}

/// A Pinterest answer: the category's `X-RateLimit-*` on every answer; 429 + code 8 when
/// throttled.
fn pinterest(workload: Workload, req: &Request, verdict: Verdict) -> Option<ResponseTemplate> {
    let (limit, remaining, reset) =
        match verdict {
            Verdict::Throttled { limit, wait } => return Some(
                json(
                    429,
                    r#"{"code":8,"message":"You have exceeded your rate limit. Try again later."}"#
                        .into(),
                )
                .insert_header("X-RateLimit-Limit", limit.to_string())
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header("X-RateLimit-Reset", secs(wait).to_string()),
            ),
            Verdict::Admitted {
                limit,
                remaining,
                reset,
                ..
            } => (limit, remaining, reset),
        };
    let seg: Vec<&str> = req
        .url
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let accounts = match workload {
        Workload::PinterestAds { accounts, .. } => accounts,
        _ => 1,
    };
    let body = match seg.as_slice() {
        ["v5", "ad_accounts"] => {
            let items: Vec<String> = (1..=accounts)
                .map(|a| {
                    format!(
                        r#"{{"id":"{}","name":"Account {a}","owner":{{"username":"bench"}},"country":"US","currency":"USD","permissions":["OWNER"],"created_time":1672531200,"updated_time":1704067200}}"#,
                        account_id(a)
                    )
                })
                .collect();
            format!(r#"{{"items":[{}],"bookmark":null}}"#, items.join(","))
        }
        ["v5", "ad_accounts", acct, "ads"] => {
            let a = account_index(acct)?;
            let ads = match workload {
                Workload::PinterestAds { ads, .. } => ads,
                Workload::PinterestAdAnalytics { ads, .. } => ads,
                _ => 0,
            };
            if a > accounts {
                return None;
            }
            let size = query(req, "page_size")
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(25)
                .clamp(1, 250);
            let offset = match query(req, "bookmark") {
                Some(b) => b.strip_prefix("bm-")?.parse::<usize>().ok()?,
                None => 0,
            };
            let end = (offset + size).min(ads);
            let items: Vec<String> = (offset..end).map(|i| pinterest_ad(a, i, acct)).collect();
            let bookmark = if end < ads {
                format!(r#""bm-{end}""#)
            } else {
                "null".into()
            };
            format!(r#"{{"items":[{}],"bookmark":{bookmark}}}"#, items.join(","))
        }
        ["v5", "ad_accounts", acct, "ads", "analytics"] => {
            // Up to 250 ids per request, comma-separated, as the API takes them; rows of every
            // requested id.
            let ids = query(req, "ad_ids")?;
            let ids: Vec<&str> = ids.split(',').filter(|i| !i.is_empty()).collect();
            if ids.is_empty() || ids.len() > 250 {
                return None;
            }
            let d = |k: &str| {
                query(req, k).and_then(|v| NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok())
            };
            let (start, end) = (d("start_date")?, d("end_date")?.min(today()));
            let columns = query(req, "columns").unwrap_or_default();
            let mut rows = Vec::new();
            let mut day = start;
            while day <= end {
                for id in &ids {
                    rows.push(analytics_row(acct, id, day, &columns));
                }
                day += Days::days(1);
            }
            format!("[{}]", rows.join(","))
        }
        _ => return None,
    };
    Some(
        json(200, body)
            .insert_header("X-RateLimit-Limit", limit.to_string())
            .insert_header("X-RateLimit-Remaining", remaining.to_string())
            .insert_header("X-RateLimit-Reset", secs(reset).to_string()),
    )
}

fn account_id(a: usize) -> String {
    format!("5497616680{a:02}")
}

fn account_index(id: &str) -> Option<usize> {
    id.strip_prefix("5497616680")?.parse().ok()
}

fn pinterest_ad(a: usize, i: usize, acct: &str) -> String {
    let id = a * ID_BASE + i;
    format!(
        r#"{{"id":"{id}","ad_account_id":"{acct}","campaign_id":"62674{:07}","ad_group_id":"26800{:07}","pin_id":"8137{i:08}","name":"Ad {i} of account {a}","status":"ACTIVE","creative_type":"REGULAR","destination_url":"https://shop.example.com/item/{i}","click_tracking_url":null,"view_tracking_url":null,"android_deep_link":null,"ios_deep_link":null,"carousel_android_deep_links":null,"carousel_destination_urls":null,"carousel_ios_deep_links":null,"collection_items_destination_url_template":null,"is_pin_deleted":false,"is_removable":false,"lead_form_id":null,"grid_click_type":"DIRECT_TO_DESTINATION","customizable_cta_type":null,"quiz_pin_data":null,"review_status":"APPROVED","rejected_reasons":[],"rejection_labels":[],"summary_status":"APPROVED","tracking_urls":null,"type":"pinpromotion","created_time":1704153600,"updated_time":{}}}"#,
        i / 100,
        i / 20,
        1_712_000_000 + (i % 86_400) as i64,
    )
}

/// One day's row with every requested column: ids as the API writes them, metrics as numbers.
fn analytics_row(acct: &str, ad: &str, day: NaiveDate, columns: &str) -> String {
    let mut out = format!(r#"{{"DATE":"{day}","AD_ID":"{ad}","AD_ACCOUNT_ID":"{acct}""#);
    let seed = ad.len() + day.to_string().len();
    for (k, c) in columns.split(',').filter(|c| !c.is_empty()).enumerate() {
        if matches!(c, "DATE" | "AD_ID" | "AD_ACCOUNT_ID") {
            continue;
        }
        if c.ends_with("_ID") {
            out.push_str(&format!(r#","{c}":"{}""#, 1000 + k));
        } else {
            out.push_str(&format!(
                r#","{c}":{}.{}"#,
                (seed * 7 + k * 13) % 1000,
                k % 10
            ));
        }
    }
    out.push('}');
    out
}

/// A Klaviyo answer: `RateLimit-*` on every answer; 429 + `Retry-After` when throttled.
fn klaviyo(
    req: &Request,
    verdict: Verdict,
    events: usize,
    days: usize,
) -> Option<ResponseTemplate> {
    let (limit, remaining, reset, windows) = match verdict {
        Verdict::Throttled { wait, .. } => {
            let s = secs(wait);
            return Some(
                json(
                    429,
                    format!(
                        r#"{{"errors":[{{"id":"t1","status":429,"code":"throttled","title":"Request was throttled.","detail":"Request was throttled. Expected available in {s} second.","source":{{}}}}]}}"#
                    ),
                )
                .insert_header("Retry-After", s.to_string()),
            );
        }
        Verdict::Admitted {
            limit,
            remaining,
            reset,
            windows,
        } => (limit, remaining, reset, windows),
    };
    if req.url.path() != "/api/events" {
        return None;
    }
    let filter = query(req, "filter")?;
    let bound = |op: &str| -> Option<DateTime<Utc>> {
        let at = filter.find(&format!("{op}(datetime,"))? + op.len() + 10;
        let text = filter[at..].split(')').next()?;
        DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let (from, to) = (bound("greater-or-equal")?, bound("less-than")?);
    // Event i happens at first + i * span / events.
    let first = now() - Days::days(days as i64);
    let span = (now() - first).num_seconds().max(1) as i128;
    let n = events as i128;
    let index_at = |t: DateTime<Utc>| -> usize {
        // The first i whose time is >= t: ceil((t - first) * n / span), within 0..=n.
        let s = (t - first).num_seconds() as i128;
        ((s * n + span - 1).div_euclid(span)).clamp(0, n) as usize
    };
    let (lo, hi) = (index_at(from), index_at(to));
    let cursor = match query(req, "page[cursor]") {
        Some(c) => c.parse::<usize>().ok()?,
        None => lo,
    };
    let end = (cursor + 200).min(hi);
    let data: Vec<String> = (cursor..end)
        .map(|i| klaviyo_event(i, first + Days::seconds((i as i128 * span / n) as i64)))
        .collect();
    let host = req
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let next = if end < hi {
        let mut url = wiremock::http::Url::parse(&format!("http://{host}/api/events")).ok()?;
        let pairs: Vec<(String, String)> = req
            .url
            .query_pairs()
            .filter(|(k, _)| k != "page[cursor]")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .extend_pairs(pairs)
            .append_pair("page[cursor]", &end.to_string());
        format!("\"{url}\"")
    } else {
        "null".into()
    };
    let body = format!(
        r#"{{"data":[{}],"links":{{"self":"http://{host}/api/events","next":{next},"prev":null}},"included":[{{"type":"metric","id":"RESQ6t","attributes":{{"name":"Placed Order","created":"2023-01-01T00:00:00+00:00","updated":"2023-01-01T00:00:00+00:00","integration":{{"id":"0rG4eQ","name":"Shopify","category":"eCommerce"}}}}}}]}}"#,
        data.join(",")
    );
    let (w1, w2) = (windows[0], windows[1]);
    Some(
        json(200, body)
            .insert_header(
                "RateLimit-Limit",
                format!("{limit}, {};w={}, {};w={}", w1.0, w1.1, w2.0, w2.1),
            )
            .insert_header("RateLimit-Remaining", remaining.to_string())
            .insert_header("RateLimit-Reset", secs(reset).to_string()),
    )
}

fn klaviyo_event(i: usize, t: DateTime<Utc>) -> String {
    let datetime = t.format("%Y-%m-%dT%H:%M:%S+00:00");
    format!(
        r#"{{"type":"event","id":"{EVENT_PREFIX}{i:010}","attributes":{{"timestamp":{},"event_properties":{{"$value":{}.5,"OrderId":"order-{i}","$event_id":"{i}","items":[{{"ProductName":"Camping mug","Quantity":2.0,"ItemPrice":21.25}}]}},"datetime":"{datetime}","uuid":"9b6c0000-0000-4000-8000-{i:012}"}},"relationships":{{"profile":{{"data":{{"type":"profile","id":"01HZPROFILE{:05}"}},"links":{{"self":"https://a.klaviyo.com/api/events/{EVENT_PREFIX}{i:010}/relationships/profile/"}}}},"metric":{{"data":{{"type":"metric","id":"RESQ6t"}}}},"attributions":{{"data":[]}}}},"links":{{"self":"https://a.klaviyo.com/api/events/{EVENT_PREFIX}{i:010}/"}}}}"#,
        t.timestamp(),
        i % 200,
        i % 5000
    )
}

/// A TikTok answer: always HTTP 200; code 40100 in the body when throttled.
fn tiktok(
    req: &Request,
    verdict: Verdict,
    advertisers: usize,
    ads: usize,
) -> Option<ResponseTemplate> {
    if let Verdict::Throttled { .. } = verdict {
        return Some(json(
            200,
            r#"{"code":40100,"message":"Too many requests. Please retry in some time.","request_id":"bench-throttled","data":{}}"#.into(),
        ));
    }
    let endpoint = req.url.path().strip_prefix("/open_api/v1.3/")?;
    let envelope = |data: String| {
        json(
            200,
            format!(r#"{{"code":0,"message":"OK","request_id":"bench","data":{data}}}"#),
        )
    };
    match endpoint {
        "oauth2/advertiser/get/" => {
            let list: Vec<String> = (1..=advertisers)
                .map(|a| {
                    format!(
                        r#"{{"advertiser_id":"{}","advertiser_name":"Advertiser {a}"}}"#,
                        advertiser_id(a)
                    )
                })
                .collect();
            Some(envelope(format!(r#"{{"list":[{}]}}"#, list.join(","))))
        }
        "ad/get/" => {
            let adv = query(req, "advertiser_id")?;
            let a: usize = adv.strip_prefix("70000000000000")?.parse().ok()?;
            if a == 0 || a > advertisers {
                return None;
            }
            let size = query(req, "page_size")
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(10)
                .clamp(1, 1000);
            let page = query(req, "page")
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(1)
                .max(1);
            let start = ((page - 1) * size).min(ads);
            let end = (start + size).min(ads);
            let list: Vec<String> = (start..end).map(|i| tiktok_ad(a, i, &adv)).collect();
            Some(envelope(format!(
                r#"{{"list":[{}],"page_info":{{"page":{page},"page_size":{size},"total_number":{ads},"total_page":{}}}}}"#,
                list.join(","),
                ads.div_ceil(size)
            )))
        }
        _ => None,
    }
}

fn advertiser_id(a: usize) -> String {
    format!("70000000000000{a:05}")
}

fn tiktok_ad(a: usize, i: usize, adv: &str) -> String {
    let id = a * ID_BASE + i;
    format!(
        r#"{{"ad_id":"{id}","adgroup_id":"17{:08}","campaign_id":"16{:08}","advertiser_id":"{adv}","ad_name":"Video ad {i}","ad_text":"Gear up for summer - 20% off this week","ad_format":"SINGLE_VIDEO","call_to_action":"SHOP_NOW","landing_page_url":"https://shop.example.com/summer/{i}","display_name":"Bench Outdoor","video_id":"v10033g50000c{i:08}","image_ids":[],"operation_status":"ENABLE","secondary_status":"AD_STATUS_DELIVERY_OK","is_aco":false,"create_time":"2024-04-02 09:20:00","modify_time":"2024-06-0{} 10:{:02}:00"}}"#,
        i / 20,
        i / 100,
        2 + i % 7,
        i % 60
    )
}

/// Checks a read's output as it is written: counts RECORD lines and marks each record's
/// position in the data set, so lost, duplicated and foreign records are all found without
/// keeping the output.
#[derive(Clone)]
pub struct RecordCheck {
    inner: Arc<Mutex<CheckState>>,
}

struct CheckState {
    workload: Workload,
    seen: Vec<u64>,
    carry: Vec<u8>,
    records: u64,
    duplicates: u64,
    foreign: u64,
    bytes: u64,
}

/// What a [`RecordCheck`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub records: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub foreign: u64,
    pub bytes: u64,
}

impl Checked {
    pub fn exact(&self) -> bool {
        self.lost == 0 && self.duplicates == 0 && self.foreign == 0
    }
}

impl RecordCheck {
    pub fn new(workload: Workload) -> Self {
        RecordCheck {
            inner: Arc::new(Mutex::new(CheckState {
                workload,
                seen: vec![0; workload.expected().div_ceil(64)],
                carry: Vec::new(),
                records: 0,
                duplicates: 0,
                foreign: 0,
                bytes: 0,
            })),
        }
    }

    pub fn result(&self) -> Checked {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let marked: u64 = s.seen.iter().map(|w| u64::from(w.count_ones())).sum();
        Checked {
            records: s.records,
            lost: s.workload.expected() as u64 - marked,
            duplicates: s.duplicates,
            foreign: s.foreign,
            bytes: s.bytes,
        }
    }
}

impl CheckState {
    fn line(&mut self, line: &[u8]) {
        if !line.starts_with(br#"{"type":"RECORD""#) {
            return;
        }
        self.records += 1;
        match self.workload.index(line) {
            Some(i) => {
                let (word, bit) = (i / 64, 1u64 << (i % 64));
                if self.seen[word] & bit != 0 {
                    self.duplicates += 1;
                }
                self.seen[word] |= bit;
            }
            None => self.foreign += 1,
        }
    }
}

impl Write for RecordCheck {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.bytes += buf.len() as u64;
        let mut rest = buf;
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            if s.carry.is_empty() {
                s.line(&rest[..nl]);
            } else {
                let mut line = std::mem::take(&mut s.carry);
                line.extend_from_slice(&rest[..nl]);
                s.line(&line);
                line.clear();
                s.carry = line;
            }
            rest = &rest[nl + 1..];
        }
        s.carry.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Peak resident memory of this process (`VmHWM`), in KiB, where `/proc` has it.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Per-quota request counts keyed by name, for reports.
pub fn by_name(report: &[(&'static str, u64, Duration)]) -> HashMap<&'static str, u64> {
    report.iter().map(|(n, c, _)| (*n, *c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_window_admits_its_limit_then_throttles_until_the_oldest_arrival_leaves() {
        let mut q = Quotas::new(vec![Quota::new("q", &[(3, ms(1000))])]);
        let t0 = Instant::now();
        for k in 0..3 {
            assert!(
                matches!(q.arrive(&["q"], t0 + ms(k)), Verdict::Admitted { .. }),
                "{k}"
            );
        }
        assert_eq!(
            q.arrive(&["q"], t0 + ms(500)),
            Verdict::Throttled {
                limit: 3,
                wait: ms(500)
            }
        );
        // Not counted: the throttled arrival does not push the next slot back.
        assert!(matches!(
            q.arrive(&["q"], t0 + ms(1000)),
            Verdict::Admitted { remaining: 0, .. }
        ));
        assert!(matches!(
            q.arrive(&["q"], t0 + ms(1000)),
            Verdict::Throttled { .. }
        ));
        assert_eq!(q.report(), vec![("q", 4, ms(1000))]);
    }

    #[test]
    fn every_named_quota_must_have_room_and_counts_only_when_all_do() {
        let mut q = Quotas::new(vec![
            Quota::new("category", &[(10, ms(60_000))]),
            Quota::new("universal", &[(2, ms(1000))]),
        ]);
        let t0 = Instant::now();
        assert!(matches!(
            q.arrive(&["category", "universal"], t0),
            Verdict::Admitted {
                limit: 10,
                remaining: 9,
                ..
            }
        ));
        assert!(matches!(
            q.arrive(&["universal"], t0),
            Verdict::Admitted { .. }
        ));
        assert!(matches!(
            q.arrive(&["category", "universal"], t0),
            Verdict::Throttled { limit: 2, .. }
        ));
        let counts = by_name(&q.report());
        assert_eq!(counts.get("category"), Some(&1));
        assert_eq!(counts.get("universal"), Some(&2));
    }

    #[test]
    fn the_quota_bound_minimum_counts_whole_windows_before_the_last_request() {
        let q = Quota::new("q", &[(100, ms(10_000))]);
        assert_eq!(q.minimum(0), Duration::ZERO);
        assert_eq!(q.minimum(100), Duration::ZERO);
        assert_eq!(q.minimum(101), ms(10_000));
        assert_eq!(q.minimum(900), ms(80_000));
        let two = Quota::new("q", &[(350, ms(1000)), (3500, ms(60_000))]);
        assert_eq!(two.minimum(700), ms(1000));
        assert_eq!(two.minimum(3501), ms(60_000));
    }

    #[test]
    fn records_are_found_lost_duplicated_or_foreign_across_split_writes() {
        let w = Workload::TiktokAds {
            advertisers: 2,
            ads: 3,
        };
        let mut check = RecordCheck::new(w);
        let rec = |id: usize| {
            format!(
                r#"{{"type":"RECORD","record":{{"stream":"ads","data":{{"ad_id":{id},"x":1}}}}}}"#
            ) + "\n"
        };
        let text = [
            rec(ID_BASE),
            rec(ID_BASE + 2),
            rec(2 * ID_BASE + 1),
            rec(2 * ID_BASE + 1),
            rec(3 * ID_BASE),
            r#"{"type":"STATE","state":{}}"#.to_string() + "\n",
        ]
        .concat();
        let (a, b) = text.as_bytes().split_at(37);
        check.write_all(a).unwrap();
        check.write_all(b).unwrap();
        assert_eq!(
            check.result(),
            Checked {
                records: 5,
                lost: 3,
                duplicates: 1,
                foreign: 1,
                bytes: text.len() as u64
            }
        );
    }

    #[test]
    fn record_keys_decode_for_every_workload() {
        let ads = Workload::PinterestAds {
            accounts: 2,
            ads: 10,
        };
        assert_eq!(
            ads.index(
                br#"{"type":"RECORD","record":{"data":{"id":"20000003","campaign_id":"1"}}}"#
            ),
            Some(13)
        );
        let analytics = Workload::PinterestAdAnalytics { ads: 3, days: 90 };
        let last = today().to_string();
        let line = format!(r#"{{"data":{{"DATE":"{last}","AD_ID":"10000002"}}}}"#);
        assert_eq!(analytics.index(line.as_bytes()), Some(2 * 90 + 89));
        let events = Workload::KlaviyoEvents {
            events: 50,
            days: 30,
        };
        assert_eq!(
            events.index(br#"{"data":{"type":"event","id":"4Ev0000000042"}}"#),
            Some(42)
        );
        assert_eq!(
            events.index(br#"{"data":{"type":"event","id":"4Ev0000000050"}}"#),
            None
        );
    }
}
