//! Fakes of each connector's main paginated stream (TikTok `ad_groups`, Pinterest
//! `campaigns`, Klaviyo `profiles`), served by a [`RawServer`], with a hook that may answer any
//! page request differently: the fault matrix and the property tests break one page and check
//! that the sync delivers every record or fails loudly.
//!
//! Records carry increasing cursors in page order, so a test can tell whether a STATE covers a
//! record of a page that was never read.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use connector_runtime::env::RunEnv;
use connector_runtime::source::DynSource;
use serde_json::{json, Value};

use connector_testkit::raw_server::{RawAnswer, RawRequest, RawServer};

/// The connectors, by their main paginated stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    TikTok,
    Pinterest,
    Klaviyo,
}

/// The read-idle timeout of runs that meet a stalled answer ([`FakeApi::read_stalling`]):
/// each stalled attempt costs this much. Runs without stalls keep the production timeout, so
/// a slow machine never turns a normal answer into a fault.
pub const STALL_TIMEOUT_SECS: &str = "1";

impl Api {
    pub const ALL: [Api; 3] = [Api::TikTok, Api::Pinterest, Api::Klaviyo];

    pub fn name(self) -> &'static str {
        match self {
            Api::TikTok => "tiktok-marketing",
            Api::Pinterest => "pinterest",
            Api::Klaviyo => "klaviyo",
        }
    }

    pub fn stream(self) -> &'static str {
        match self {
            Api::TikTok => "ad_groups",
            Api::Pinterest => "campaigns",
            Api::Klaviyo => "profiles",
        }
    }

    /// Records per page. TikTok pages by number and stops at a short page (1,000 a page);
    /// Klaviyo reads enough pages to checkpoint inside the window (every 1,000 records).
    pub fn pages(self) -> &'static [usize] {
        match self {
            Api::TikTok => &[1000, 1000, 300],
            Api::Pinterest => &[100, 100, 100],
            Api::Klaviyo => &[100; 12],
        }
    }

    /// The page a test breaks: after at least one good page (and, for Klaviyo, after a
    /// mid-window checkpoint).
    pub fn fault_page(self) -> usize {
        match self {
            Api::TikTok | Api::Pinterest => 1,
            Api::Klaviyo => 10,
        }
    }

    /// Attempts the connector makes at one request (its retry policy).
    pub fn attempts(self) -> usize {
        match self {
            Api::TikTok => 10,
            Api::Pinterest | Api::Klaviyo => 6,
        }
    }

    /// OAuth with refresh (else a fixed header: a 401 is the user's to fix).
    pub fn refreshes_on_401(self) -> bool {
        self == Api::Pinterest
    }

    pub fn cursor_field(self) -> &'static str {
        match self {
            Api::TikTok => "modify_time",
            Api::Pinterest => "updated_time",
            Api::Klaviyo => "updated",
        }
    }

    pub fn source(self) -> Box<dyn DynSource> {
        match self {
            Api::TikTok => Box::new(source_tiktok_marketing::SourceTiktokMarketing),
            Api::Pinterest => Box::new(source_pinterest::SourcePinterest),
            Api::Klaviyo => Box::new(source_klaviyo::SourceKlaviyo),
        }
    }

    pub fn config(self) -> Value {
        match self {
            Api::TikTok => json!({
                "credentials": {"auth_type": "oauth2.0", "app_id": "app-1234", "secret": "secret-abcd",
                    "access_token": "token-abcdef", "advertiser_id": "111"},
                "start_date": "2024-06-01"
            }),
            Api::Pinterest => json!({
                "start_date": "2024-01-01",
                "credentials": {"auth_method": "oauth2.0", "client_id": "cid", "client_secret": "csecret-123",
                    "refresh_token": "rtoken-123", "access_token": "atoken-123",
                    "token_expiry_date": "2099-01-01T00:00:00+00:00"}
            }),
            Api::Klaviyo => {
                json!({"api_key": "pk_fault_0123456789", "start_date": "2024-01-01T00:00:00Z"})
            }
        }
    }

    /// A run environment against `uri`, with backoff sleeps scaled away.
    pub fn env(self, uri: &str) -> RunEnv {
        let (var, now) = match self {
            Api::TikTok => (
                source_tiktok_marketing::BASE_URL_VAR,
                "2024-06-10T12:00:00Z",
            ),
            Api::Pinterest => (source_pinterest::BASE_URL_VAR, "2024-04-10T12:00:00Z"),
            Api::Klaviyo => (source_klaviyo::BASE_URL_VAR, "2024-06-10T12:00:00Z"),
        };
        crate::env(var, uri, now)
    }

    /// Index of the first record of `page`.
    pub fn first_index(self, page: usize) -> usize {
        self.pages().iter().take(page).sum()
    }

    pub fn total(self) -> usize {
        self.pages().iter().sum()
    }

    /// The cursor of record `i`, in epoch seconds (one minute apart, in page order).
    pub fn cursor_secs(self, i: usize) -> i64 {
        let t0 = match self {
            Api::TikTok => Utc.with_ymd_and_hms(2024, 6, 2, 0, 0, 0),
            Api::Pinterest | Api::Klaviyo => Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0),
        };
        t0.single().map(|t| t.timestamp()).unwrap_or(0) + 60 * i as i64
    }

    /// Record `i` as the API sends it.
    pub fn record(self, i: usize) -> Value {
        let at = DateTime::<Utc>::from_timestamp(self.cursor_secs(i), 0).unwrap_or_default();
        match self {
            Api::TikTok => json!({
                "adgroup_id": 7_000_000 + i, "advertiser_id": 111, "adgroup_name": format!("group {i}"),
                "modify_time": at.format("%Y-%m-%d %H:%M:%S").to_string()
            }),
            Api::Pinterest => json!({
                "id": format!("c{i}"), "ad_account_id": "a1", "name": format!("campaign {i}"),
                "updated_time": self.cursor_secs(i)
            }),
            Api::Klaviyo => json!({
                "type": "profile", "id": format!("p{i}"),
                "attributes": {"email": format!("u{i}@example.com"), "updated": at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()}
            }),
        }
    }

    /// The primary key of a delivered record, as text.
    pub fn id_of(self, record: &Value) -> Option<String> {
        let v = match self {
            Api::TikTok => record.get("adgroup_id")?,
            Api::Pinterest | Api::Klaviyo => record.get("id")?,
        };
        Some(match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// The ids of records `range`, as [`Api::id_of`] reads them.
    pub fn ids(self, range: std::ops::Range<usize>) -> Vec<String> {
        range.filter_map(|i| self.id_of(&self.record(i))).collect()
    }

    /// The normal answer to `page` (`host` is the `Host` the request was sent to, for links).
    pub fn page_body(self, page: usize, host: &str) -> Value {
        let n = self.pages().get(page).copied().unwrap_or(0);
        let first = self.first_index(page);
        let records: Vec<Value> = (first..first + n).map(|i| self.record(i)).collect();
        let last = page + 1 >= self.pages().len();
        match self {
            Api::TikTok => json!({"code": 0, "message": "OK", "request_id": "r1", "data": {
                "list": records,
                "page_info": {"page": page + 1, "page_size": 1000, "total_number": self.total(),
                    "total_page": self.pages().len()}
            }}),
            Api::Pinterest => json!({
                "items": records,
                "bookmark": if last { Value::Null } else { json!(format!("B{}", page + 1)) }
            }),
            Api::Klaviyo => json!({
                "data": records,
                "links": {"self": format!("http://{host}/api/profiles"),
                    "next": if last { Value::Null } else {
                        json!(format!("http://{host}/api/profiles?page%5Bcursor%5D=P{}", page + 1))
                    }}
            }),
        }
    }

    /// A well-formed JSON answer that lacks the records path.
    pub fn wrong_shape(self) -> Value {
        match self {
            Api::TikTok => {
                json!({"code": 0, "message": "OK", "request_id": "r1", "data": {"page_info": {}}})
            }
            Api::Pinterest => json!({"bookmark": null, "message": "partial outage"}),
            Api::Klaviyo => json!({"errors": [], "links": {"next": null}}),
        }
    }

    /// Which page of the main stream `req` asks for, if it is one.
    pub fn page_of(self, req: &RawRequest) -> Option<usize> {
        let token = |key: &str, prefix: char| -> Option<usize> {
            match req.query(key) {
                None => Some(0),
                Some(t) => t.strip_prefix(prefix)?.parse().ok(),
            }
        };
        match self {
            Api::TikTok if req.path() == "/open_api/v1.3/adgroup/get/" => match req.query("page") {
                None => Some(0),
                Some(p) => p.parse::<usize>().ok()?.checked_sub(1),
            },
            Api::Pinterest if req.path() == "/v5/ad_accounts/a1/campaigns" => {
                token("bookmark", 'B')
            }
            Api::Klaviyo if req.path() == "/api/profiles" => token("page[cursor]", 'P'),
            _ => None,
        }
    }

    /// Answers to everything but the main stream's pages: parents and token endpoints.
    fn other(self, req: &RawRequest) -> RawAnswer {
        match (self, req.path()) {
            (Api::Pinterest, "/v5/ad_accounts") => RawAnswer::json(
                200,
                &json!({"items": [{"id": "a1", "name": "one"}], "bookmark": null}),
            ),
            (Api::Pinterest, "/v5/oauth/token") => RawAnswer::json(
                200,
                &json!({"access_token": "atoken-NEW", "refresh_token": "rtoken-NEW",
                    "expires_in": 3600, "token_type": "bearer"}),
            ),
            _ => RawAnswer::json(404, &json!({"code": 404, "message": "no such endpoint"})),
        }
    }
}

/// Decides the answer to one page request: `(page, attempt at that page starting at 1, the
/// request, the normal answer's bytes)`; `None` serves the normal answer.
pub type Injector =
    Arc<dyn Fn(usize, usize, &RawRequest, &[u8]) -> Option<RawAnswer> + Send + Sync>;

/// A fake API on 127.0.0.1.
pub struct FakeApi {
    pub api: Api,
    pub server: RawServer,
    served: Arc<Mutex<BTreeSet<usize>>>,
}

impl FakeApi {
    pub async fn start(api: Api, inject: Injector) -> Self {
        let served: Arc<Mutex<BTreeSet<usize>>> = Arc::default();
        let attempts: Arc<Mutex<HashMap<usize, usize>>> = Arc::default();
        let served_log = served.clone();
        let server = RawServer::start(move |req: &RawRequest| {
            let Some(page) = api.page_of(req) else {
                return api.other(req);
            };
            if page >= api.pages().len() {
                return RawAnswer::json(400, &json!({"code": 400, "message": "unknown page"}));
            }
            let attempt = {
                let mut a = attempts.lock().unwrap_or_else(|e| e.into_inner());
                let n = a.entry(page).or_insert(0);
                *n += 1;
                *n
            };
            let host = req.header("host").unwrap_or("127.0.0.1").to_string();
            let normal = api.page_body(page, &host).to_string().into_bytes();
            match inject(page, attempt, req, &normal) {
                Some(answer) => answer,
                None => {
                    if let Ok(mut s) = served_log.lock() {
                        s.insert(page);
                    }
                    RawAnswer::Full {
                        status: 200,
                        headers: vec![("Content-Type".into(), "application/json".into())],
                        body: normal,
                    }
                }
            }
        })
        .await;
        FakeApi {
            api,
            server,
            served,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Pages answered normally at least once.
    pub fn served_pages(&self) -> BTreeSet<usize> {
        self.served.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Runs a read of the main stream (incremental, no incoming state).
    pub async fn read(&self) -> crate::Run {
        self.read_in(self.api.env(&self.uri())).await
    }

    /// [`FakeApi::read`] with a read-idle timeout of [`STALL_TIMEOUT_SECS`].
    pub async fn read_stalling(&self) -> crate::Run {
        let env = self.api.env(&self.uri()).with_var(
            connector_runtime::http::READ_TIMEOUT_VAR,
            STALL_TIMEOUT_SECS,
        );
        self.read_in(env).await
    }

    async fn read_in(&self, env: RunEnv) -> crate::Run {
        let source = self.api.source();
        crate::read(
            source.as_ref(),
            env,
            &self.api.config(),
            &crate::catalog(&[(self.api.stream(), "incremental")]),
            None,
        )
        .await
    }
}

/// Every cursor value named `field` anywhere in `state`, in epoch seconds; the largest.
pub fn max_cursor_in(state: &Value, field: &str) -> Option<i64> {
    let mut best: Option<i64> = None;
    let mut visit = vec![state];
    while let Some(v) = visit.pop() {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    if k == field {
                        if let Some(t) = parse_cursor(child) {
                            best = Some(best.map_or(t, |b| b.max(t)));
                        }
                    }
                    visit.push(child);
                }
            }
            Value::Array(items) => visit.extend(items.iter()),
            _ => {}
        }
    }
    best
}

fn parse_cursor(v: &Value) -> Option<i64> {
    if let Some(n) = v.as_i64() {
        return Some(n);
    }
    let s = v.as_str()?;
    for f in [
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.timestamp());
        }
    }
    for f in [
        "%Y-%m-%d %H:%M:%SZ",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%SZ",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp());
        }
    }
    None
}
