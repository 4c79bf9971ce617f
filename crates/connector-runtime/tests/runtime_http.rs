//! The requester against a mock API: base-URL override, header auth, the OAuth2 refresh
//! flow, request budgets, error classification and retries.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{Duration as StdDuration, Instant};

use connector_runtime::http::rate_limit::ApiBudget as Budget;
use connector_runtime::output::{Captured, Output};
use connector_runtime::prelude::*;
use connector_runtime::protocol::{AirbyteMessage, LogLevel};
use connector_runtime::secrets::Secrets;
use connector_testkit::{catalog, env, read, DeclaredSource};
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const VAR: &str = "HTTP_TEST_BASE_URL";
const NOW: &str = "2024-01-10T12:00:00Z";
const KEY: &str = "key-http-0123456789";

fn test_env(server: &MockServer) -> RunEnv {
    env(VAR, &server.uri(), NOW)
}

fn requester(server: &MockServer) -> Requester {
    Requester::new("https://api.example.invalid/v1/", VAR, &test_env(server)).expect("requester")
}

fn body(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Success(r) => r.body,
        Outcome::Ignored { message } => panic!("ignored: {message}"),
    }
}

// ---- base URL override ----

#[tokio::test]
async fn the_override_replaces_scheme_host_and_port_and_keeps_the_api_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/things"))
        .and(query_param("x", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": 1})))
        .expect(2)
        .mount(&server)
        .await;
    let r = requester(&server);
    assert_eq!(r.base_url().as_str(), format!("{}/v1/", server.uri()));
    assert_eq!(
        body(
            r.send(&HttpRequest::get("things").query("x", "1"))
                .await
                .unwrap()
        ),
        json!({"ok": 1})
    );
    assert_eq!(
        body(
            r.send(&HttpRequest::get("/things").query("x", "1"))
                .await
                .unwrap()
        ),
        json!({"ok": 1})
    );
    // Other official hosts (token endpoints, sandboxes) follow the override, path and query kept.
    assert_eq!(
        r.official_url("https://auth.example.invalid/oauth2/token?grant=1")
            .unwrap()
            .as_str(),
        format!("{}/oauth2/token?grant=1", server.uri())
    );
}

#[tokio::test]
async fn absolute_urls_in_requests_are_used_as_given() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/elsewhere/next"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": 2})))
        .expect(1)
        .mount(&server)
        .await;
    let r = requester(&server);
    let url = format!("{}/elsewhere/next?page=2", server.uri());
    assert_eq!(
        body(r.send(&HttpRequest::get(url)).await.unwrap()),
        json!({"ok": 2})
    );
}

#[test]
fn without_override_the_official_urls_stay_and_a_bad_override_is_a_config_error() {
    let r = Requester::new("https://api.example.invalid/v1/", VAR, &RunEnv::default()).unwrap();
    assert_eq!(r.base_url().as_str(), "https://api.example.invalid/v1/");
    assert_eq!(
        r.official_url("https://auth.example.invalid/token")
            .unwrap()
            .as_str(),
        "https://auth.example.invalid/token"
    );
    let bad = RunEnv::default().with_var(VAR, "not a url");
    let err = Requester::new("https://api.example.invalid/v1/", VAR, &bad).unwrap_err();
    assert_eq!(err.failure_type(), FailureType::ConfigError);
    assert!(err.message().contains(VAR), "{}", err.message());
}

// ---- header auth ----

#[tokio::test]
async fn header_auth_is_sent_and_unauthenticated_requests_go_without_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/private"))
        .and(header(
            "Authorization",
            format!("Klaviyo-API-Key {KEY}").as_str(),
        ))
        .and(header("revision", "2024-10-15"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/download"))
        .and(|req: &Request| !req.headers.contains_key("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"file": true})))
        .expect(1)
        .mount(&server)
        .await;
    let r = requester(&server)
        .with_auth(Arc::new(HeaderAuth::new(
            "Authorization",
            format!("Klaviyo-API-Key {KEY}"),
        )))
        .with_header("revision", "2024-10-15");
    assert_eq!(
        body(r.send(&HttpRequest::get("private")).await.unwrap()),
        json!({"ok": true})
    );
    let download = HttpRequest::get(format!("{}/download", server.uri())).without_auth();
    assert_eq!(
        body(r.send(&download).await.unwrap()),
        json!({"file": true})
    );
}

#[tokio::test]
async fn bearer_auth_sends_a_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/me"))
        .and(header("Authorization", "Bearer tok-abc-123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let r = requester(&server).with_auth(Arc::new(HeaderAuth::bearer("tok-abc-123")));
    r.send(&HttpRequest::get("me")).await.unwrap();
}

// ---- OAuth2 refresh-token flow ----

struct OAuthFixture {
    auth: Arc<OAuth2Refresh>,
    captured: Captured,
    output: Output,
    /// Seconds added to the pinned clock, so a test can let time pass.
    offset: Arc<AtomicI64>,
}

fn oauth_config(access: Option<(&str, &str)>) -> Value {
    let mut creds = json!({"auth_type": "oauth2.0", "client_id": "cid", "client_secret": "csecret-123", "refresh_token": "R1"});
    if let Some((token, expiry)) = access {
        creds["access_token"] = json!(token);
        creds["token_expiry_date"] = json!(expiry);
    }
    json!({"credentials": creds, "start_date": "2024-01-01"})
}

fn oauth(server: &MockServer, config: &Value, basic_auth: bool, rotating: bool) -> OAuthFixture {
    let r = requester(server);
    let captured = Captured::default();
    let output = Output::new(Box::new(captured.clone()), Secrets::new());
    let offset = Arc::new(AtomicI64::new(0));
    let pinned = test_env(server).clock;
    let off = offset.clone();
    let now = Arc::new(move || pinned.now() + Duration::seconds(off.load(Ordering::SeqCst)));
    let settings = OAuthSettings {
        token_url: r
            .official_url("https://auth.example.invalid/oauth/token")
            .unwrap(),
        client_id: "cid".into(),
        client_secret: "csecret-123".into(),
        basic_auth,
        single_use_refresh_token: rotating,
        paths: OAuthPaths::under("credentials"),
    };
    OAuthFixture {
        auth: Arc::new(
            OAuth2Refresh::new(settings, config, output.clone(), now).with_time_scale(0.0),
        ),
        captured,
        output,
        offset,
    }
}

fn token_answer(access: &str, refresh: &str, expires_in: i64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"access_token": access, "refresh_token": refresh, "expires_in": expires_in, "token_type": "Bearer"}),
    )
}

fn controls(captured: &Captured) -> Vec<Value> {
    captured
        .text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["type"] == "CONTROL")
        .map(|m| m["control"]["connectorConfig"]["config"].clone())
        .collect()
}

#[tokio::test]
async fn oauth_refreshes_with_basic_auth_and_a_form_body_then_reuses_the_token() {
    let server = MockServer::start().await;
    // base64("cid:csecret-123")
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(header("Authorization", "Basic Y2lkOmNzZWNyZXQtMTIz"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string("grant_type=refresh_token&refresh_token=R1"))
        .respond_with(token_answer("ACCESS-1", "R1", 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/items"))
        .and(header("Authorization", "Bearer ACCESS-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(3)
        .mount(&server)
        .await;
    let f = oauth(&server, &oauth_config(None), true, false);
    let r = requester(&server).with_auth(f.auth.clone());
    for _ in 0..3 {
        r.send(&HttpRequest::get("items")).await.unwrap();
    }
    assert!(
        controls(&f.captured).is_empty(),
        "no rotation, no CONTROL message"
    );
}

#[tokio::test]
async fn oauth_can_send_client_credentials_in_the_form_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(|req: &Request| !req.headers.contains_key("authorization"))
        .and(body_string(
            "grant_type=refresh_token&refresh_token=R1&client_id=cid&client_secret=csecret-123",
        ))
        .respond_with(token_answer("ACCESS-1", "R1", 3600))
        .expect(1)
        .mount(&server)
        .await;
    let f = oauth(&server, &oauth_config(None), false, false);
    let headers = f.auth.headers(requester(&server).client()).await.unwrap();
    assert_eq!(
        headers,
        vec![("Authorization".to_string(), "Bearer ACCESS-1".to_string())]
    );
}

#[tokio::test]
async fn a_stored_token_is_used_while_valid_and_refreshed_a_minute_before_it_expires() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string("grant_type=refresh_token&refresh_token=R1"))
        .respond_with(token_answer("ACCESS-2", "R2", 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string("grant_type=refresh_token&refresh_token=R2"))
        .respond_with(token_answer("ACCESS-3", "R3", 3600))
        .expect(1)
        .mount(&server)
        .await;
    // Valid for another hour: used as is.
    let f = oauth(
        &server,
        &oauth_config(Some(("STORED", "2024-01-10T13:00:00+00:00"))),
        true,
        true,
    );
    let r = requester(&server);
    let client = r.client();
    assert_eq!(f.auth.headers(client).await.unwrap()[0].1, "Bearer STORED");
    // 59 minutes later the token has less than a minute left: refreshed first.
    f.offset.store(59 * 60 + 1, Ordering::SeqCst);
    assert_eq!(
        f.auth.headers(client).await.unwrap()[0].1,
        "Bearer ACCESS-2"
    );
    assert_eq!(
        f.auth.headers(client).await.unwrap()[0].1,
        "Bearer ACCESS-2"
    );
    // And again when that one runs out, with the rotated refresh token.
    f.offset.store(59 * 60 + 1 + 3600, Ordering::SeqCst);
    assert_eq!(
        f.auth.headers(client).await.unwrap()[0].1,
        "Bearer ACCESS-3"
    );
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_the_first_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("FRESH", "R1", 3600))
        .expect(1)
        .mount(&server)
        .await;
    let f = oauth(
        &server,
        &oauth_config(Some(("STALE", "2024-01-10T12:00:30+00:00"))),
        true,
        false,
    );
    assert_eq!(
        f.auth.headers(requester(&server).client()).await.unwrap()[0].1,
        "Bearer FRESH"
    );
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_repeats_the_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("NEW", "R1", 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/items"))
        .and(header("Authorization", "Bearer OLD"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "token revoked"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/items"))
        .and(header("Authorization", "Bearer NEW"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .expect(1)
        .mount(&server)
        .await;
    let f = oauth(
        &server,
        &oauth_config(Some(("OLD", "2024-01-10T18:00:00+00:00"))),
        true,
        false,
    );
    let r = requester(&server).with_auth(f.auth.clone());
    assert_eq!(
        body(r.send(&HttpRequest::get("items")).await.unwrap()),
        json!({"ok": true})
    );
}

#[tokio::test]
async fn concurrent_401s_share_one_refresh() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("NEW", "R2-rotated", 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/items"))
        .and(header("Authorization", "Bearer OLD"))
        .respond_with(ResponseTemplate::new(401))
        .expect(3)
        .mount(&server)
        .await;
    Mock::given(path("/v1/items"))
        .and(header("Authorization", "Bearer NEW"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .expect(3)
        .mount(&server)
        .await;
    let f = oauth(
        &server,
        &oauth_config(Some(("OLD", "2024-01-10T18:00:00+00:00"))),
        true,
        true,
    );
    let r = requester(&server).with_auth(f.auth.clone());
    let req = HttpRequest::get("items");
    let (a, b, c) = tokio::join!(r.send(&req), r.send(&req), r.send(&req));
    for outcome in [a, b, c] {
        assert_eq!(body(outcome.unwrap()), json!({"ok": true}));
    }
    assert_eq!(
        controls(&f.captured).len(),
        1,
        "one rotation, one CONTROL message"
    );
}

#[tokio::test]
async fn a_401_after_a_fresh_token_is_a_config_error_not_a_loop() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("NEW", "R1", 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/items"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;
    let f = oauth(
        &server,
        &oauth_config(Some(("OLD", "2024-01-10T18:00:00+00:00"))),
        true,
        false,
    );
    let r = requester(&server).with_auth(f.auth.clone());
    let err = r.send(&HttpRequest::get("items")).await.unwrap_err();
    assert_eq!(err.failure_type(), FailureType::ConfigError);
}

#[tokio::test]
async fn a_rotated_refresh_token_is_written_back_with_the_whole_config() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("ACCESS-NEW", "R2-rotated", 7200))
        .expect(1)
        .mount(&server)
        .await;
    let config = oauth_config(None);
    let f = oauth(&server, &config, true, true);
    f.auth.headers(requester(&server).client()).await.unwrap();
    let written = controls(&f.captured);
    assert_eq!(written.len(), 1);
    let mut expected = config.clone();
    expected["credentials"]["refresh_token"] = json!("R2-rotated");
    expected["credentials"]["access_token"] = json!("ACCESS-NEW");
    // 2024-01-10T12:00:00Z + 7200 s.
    let expiry = written[0]["credentials"]["token_expiry_date"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(&expiry)
            .map(|d| d.timestamp())
            .ok(),
        Some(1_704_895_200),
        "{expiry}"
    );
    expected["credentials"]["token_expiry_date"] = json!(expiry);
    assert_eq!(written[0], expected);
}

#[tokio::test]
async fn a_rejected_refresh_token_is_a_config_error_that_says_what_to_do() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_grant", "error_description": "refresh token RT-long-secret expired"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut config = oauth_config(None);
    config["credentials"]["refresh_token"] = json!("RT-long-secret");
    let f = oauth(&server, &config, true, true);
    let r = requester(&server).with_auth(f.auth.clone());
    let err = r.send(&HttpRequest::get("items")).await.unwrap_err();
    assert_eq!(err.failure_type(), FailureType::ConfigError);
    assert!(
        err.message().contains("re-authenticate"),
        "{}",
        err.message()
    );
    let internal = err.internal().unwrap_or_default();
    assert!(
        internal.contains("HTTP 400") && internal.contains("invalid_grant"),
        "{internal}"
    );
    assert!(
        internal.contains("refresh token **** expired"),
        "the refresh token is masked: {internal}"
    );
    assert!(controls(&f.captured).is_empty());
}

#[tokio::test]
async fn oauth_tokens_and_client_secret_are_masked_in_logs() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("ACCESS-SECRET-1", "REFRESH-SECRET-2", 3600))
        .expect(1)
        .mount(&server)
        .await;
    let f = oauth(&server, &oauth_config(None), true, false);
    f.auth.headers(requester(&server).client()).await.unwrap();
    f.output.emit(&AirbyteMessage::log(
        LogLevel::Info,
        "sent ACCESS-SECRET-1 and REFRESH-SECRET-2 with csecret-123 after R1",
    ));
    f.output.flush();
    let text = f.captured.text();
    assert!(
        text.contains("sent **** and **** with **** after R1"),
        "{text}"
    );
}

// ---- request budgets ----

/// Records when each request arrived.
struct Timed(Arc<Mutex<Vec<Instant>>>, Value);

impl Respond for Timed {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        if let Ok(mut t) = self.0.lock() {
            t.push(Instant::now());
        }
        ResponseTemplate::new(200).set_body_json(self.1.clone())
    }
}

#[tokio::test]
async fn a_budget_shared_by_concurrent_partitions_is_never_exceeded() {
    let server = MockServer::start().await;
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    Mock::given(path("/v1/rows"))
        .and(query_param("page", "2"))
        .respond_with(Timed(arrivals.clone(), json!({"rows": [{"n": 3}]})))
        .expect(4)
        .mount(&server)
        .await;
    Mock::given(path("/v1/rows"))
        .respond_with(Timed(
            arrivals.clone(),
            json!({"rows": [{"n": 1}, {"n": 2}]}),
        ))
        .expect(4)
        .mount(&server)
        .await;
    // 3 requests per 900 ms, for the whole run.
    let budget = Budget::builder()
        .policy(Matcher::Any, &[Rate::new(3, StdDuration::from_millis(900))])
        .build();
    let source = DeclaredSource::new(move |_c, ctx| {
        let r = Requester::new("https://api.example.invalid/v1/", VAR, &ctx.env)?
            .with_budget(budget.clone());
        Ok(vec![DeclarativeStream::new(
            "rows",
            json!({}),
            SimpleRetriever::new(&r, |s: &Slice| {
                HttpRequest::get("rows").query("p", s.get_str("p").unwrap_or_default())
            })
            .paginator(Paginator::page_number(2))
            .records_at("rows"),
        )
        .router(PartitionRouter::list("p", (0..4).map(|i| json!(i))))
        .into_arc()])
    })
    .workers(4);
    let run = read(
        &source,
        test_env(&server),
        &json!({"api_key": KEY}),
        &catalog(&[("rows", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("rows").len(), 12);
    let mut t = arrivals.lock().unwrap().clone();
    t.sort();
    assert_eq!(t.len(), 8);
    // Any 4 consecutive requests span more than one window (with slack for delivery jitter,
    // which can only make them look closer together than they were sent).
    for w in t.windows(4) {
        let span = w[3] - w[0];
        assert!(
            span >= StdDuration::from_millis(600),
            "4 requests within {span:?}"
        );
    }
}

/// An API that throttles every request arriving within one second of the first: HTTP 429 with
/// `Retry-After: 1`, or (`in_body`) HTTP 200 with a rate-limit code in the body, as TikTok does.
struct ThrottlesFirstSecond {
    first: Mutex<Option<Instant>>,
    throttled: Arc<AtomicI64>,
    in_body: bool,
}

impl Respond for ThrottlesFirstSecond {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let now = Instant::now();
        let first = *self.first.lock().unwrap().get_or_insert(now);
        if now < first + StdDuration::from_secs(1) {
            self.throttled.fetch_add(1, Ordering::SeqCst);
            return if self.in_body {
                ResponseTemplate::new(200).set_body_json(json!({"code": 40100}))
            } else {
                ResponseTemplate::new(429).insert_header("Retry-After", "1")
            };
        }
        ResponseTemplate::new(200).set_body_json(json!({"code": 0, "rows": [{"n": 1}]}))
    }
}

/// Three partitions share a budget that spaces their first requests 110 ms apart. The first
/// is throttled; the pause it causes holds the other two back until the API accepts requests
/// again, so the API sees exactly one throttled request, not one per partition.
async fn one_throttled_answer_holds_back_every_partition(in_body: bool) {
    let server = MockServer::start().await;
    let throttled = Arc::new(AtomicI64::new(0));
    Mock::given(path("/v1/rows"))
        .respond_with(ThrottlesFirstSecond {
            first: Mutex::new(None),
            throttled: throttled.clone(),
            in_body,
        })
        .expect(4)
        .mount(&server)
        .await;
    let budget = Budget::builder()
        .policy(Matcher::Any, &[Rate::new(1, StdDuration::from_millis(100))])
        .build();
    let source = DeclaredSource::new(move |_c, ctx| {
        let handlers = HandlerChain::new().with(|r: &ResponseView<'_>| {
            (r.body_i64("code") == Some(40100)).then(|| ResponseAction::Retry {
                message: "throttled (code 40100)".into(),
                after: Some(StdDuration::from_secs(1)),
                rate_limited: true,
            })
        });
        let r = Requester::new("https://api.example.invalid/v1/", VAR, &ctx.env)?
            .with_budget(budget.clone())
            .with_handlers(handlers);
        Ok(vec![DeclarativeStream::new(
            "rows",
            json!({}),
            SimpleRetriever::new(&r, |s: &Slice| {
                HttpRequest::get("rows").query("p", s.get_str("p").unwrap_or_default())
            })
            .records_at("rows"),
        )
        .router(PartitionRouter::list("p", (0..3).map(|i| json!(i))))
        .into_arc()])
    })
    .workers(3);
    // Real waits: the pause must last as long as the API's one second.
    let run = read(
        &source,
        test_env(&server).with_time_scale(1.0),
        &json!({"api_key": KEY}),
        &catalog(&[("rows", "full_refresh")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("rows").len(), 3);
    assert_eq!(throttled.load(Ordering::SeqCst), 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_429_pauses_every_concurrent_partition() {
    one_throttled_answer_holds_back_every_partition(false).await;
}

#[tokio::test]
async fn an_in_body_rate_limit_code_pauses_every_concurrent_partition() {
    one_throttled_answer_holds_back_every_partition(true).await;
}

// ---- error classification and retries ----

fn retry_source(policy: RetryPolicy, handlers: HandlerChain) -> DeclaredSource {
    DeclaredSource::new(move |config, ctx| {
        let key = config["api_key"].as_str().unwrap_or_default().to_string();
        let r = Requester::new("https://api.example.invalid/v1/", VAR, &ctx.env)?
            .with_auth(Arc::new(HeaderAuth::new("X-Key", key)))
            .with_retry(policy.clone())
            .with_handlers(handlers.clone());
        Ok(vec![
            DeclarativeStream::new(
                "items",
                json!({}),
                SimpleRetriever::new(&r, |_s: &Slice| HttpRequest::get("items"))
                    .paginator(Paginator::page_number(2))
                    .records_at("data"),
            )
            .into_arc(),
            DeclarativeStream::new(
                "others",
                json!({}),
                SimpleRetriever::new(&r, |_s: &Slice| HttpRequest::get("others"))
                    .records_at("data"),
            )
            .into_arc(),
        ])
    })
}

fn exponential(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        backoff: Backoff::Exponential {
            base: StdDuration::from_secs(5),
            factor: 2.0,
            max: StdDuration::from_secs(600),
        },
        headers: vec![RetryHeader::retry_after()],
        max_wait: Some(StdDuration::from_secs(3600)),
    }
}

async fn read_items(server: &MockServer, source: &DeclaredSource) -> connector_testkit::Run {
    read(
        source,
        test_env(server),
        &json!({"api_key": KEY}),
        &catalog(&[("items", "full_refresh")]),
        None,
    )
    .await
}

#[tokio::test]
async fn transient_errors_are_retried_with_exponential_backoff_until_success() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/items"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .up_to_n_times(3)
        .expect(3)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": 1}]})))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let run = read_items(&server, &retry_source(exponential(5), HandlerChain::new())).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("items"), vec![json!({"id": 1})]);
    let waits: Vec<String> = run
        .logs()
        .iter()
        .filter_map(|l| l.split("retrying in ").nth(1).map(|s| s.to_string()))
        .collect();
    assert_eq!(
        waits,
        vec![
            "5.0s (attempt 2/6)",
            "10.0s (attempt 3/6)",
            "20.0s (attempt 4/6)"
        ]
    );
}

#[tokio::test]
async fn retry_after_is_honoured_over_the_backoff() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/items"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "42"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let run = read_items(&server, &retry_source(exponential(5), HandlerChain::new())).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert!(run
        .logs()
        .iter()
        .any(|l| l.contains("Rate limit exceeded (HTTP 429)") && l.contains("retrying in 42.0s")));
}

#[tokio::test]
async fn attempts_are_bounded_and_exhaustion_is_a_transient_error() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/items"))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .expect(3)
        .mount(&server)
        .await;
    let run = read_items(&server, &retry_source(exponential(2), HandlerChain::new())).await;
    assert_eq!(run.code, 1);
    let errors = run.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["failure_type"], "transient_error");
    let message = errors[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Exhausted available request attempts after 3 attempts"),
        "{message}"
    );
    assert!(message.contains("HTTP 500"), "{message}");
}

#[tokio::test]
async fn a_wait_longer_than_max_wait_fails_fast() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/items"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "86400"))
        .expect(1)
        .mount(&server)
        .await;
    let run = read_items(&server, &retry_source(exponential(5), HandlerChain::new())).await;
    assert_eq!(run.code, 1);
    let errors = run.errors();
    assert_eq!(errors[0]["failure_type"], "transient_error");
    assert!(errors[0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("greater than max waiting time of 3600s"));
}

#[tokio::test]
async fn auth_and_client_errors_are_not_retried_and_keep_their_failure_type() {
    for (status, failure_type) in [
        (401, "config_error"),
        (403, "config_error"),
        (404, "system_error"),
        (400, "system_error"),
    ] {
        let server = MockServer::start().await;
        Mock::given(path("/v1/items"))
            .respond_with(ResponseTemplate::new(status).set_body_string("nope"))
            .expect(1)
            .mount(&server)
            .await;
        let run = read_items(&server, &retry_source(exponential(5), HandlerChain::new())).await;
        assert_eq!(run.code, 1);
        assert_eq!(
            run.errors()[0]["failure_type"],
            failure_type,
            "HTTP {status}"
        );
    }
}

#[tokio::test]
async fn source_rules_classify_codes_inside_successful_answers() {
    // An API that reports errors in a 200 body: code 40100 is a rate limit, 40002 a config
    // error, 0 success.
    let rules = HandlerChain::new().with(|r: &ResponseView<'_>| match r.body_i64("code") {
        Some(40100) => Some(ResponseAction::rate_limited(
            "code 40100: too many requests",
        )),
        Some(40002) => Some(ResponseAction::fail(
            FailureType::ConfigError,
            "code 40002: no permission",
        )),
        _ => None,
    });
    let server = MockServer::start().await;
    Mock::given(path("/v1/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"code": 40100})))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"code": 40002})))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let run = read_items(&server, &retry_source(exponential(5), rules)).await;
    assert_eq!(run.code, 1);
    assert!(run
        .logs()
        .iter()
        .any(|l| l.contains("code 40100") && l.contains("retrying in 5.0s")));
    assert_eq!(run.errors()[0]["failure_type"], "config_error");
    assert!(run.errors()[0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("code 40002"));
}

#[tokio::test]
async fn an_ignore_action_ends_pagination_and_the_stream_completes() {
    let rules = HandlerChain::new().with(|r: &ResponseView<'_>| {
        (r.status == 400 && r.text.contains("report not ready"))
            .then(|| ResponseAction::ignore("report not ready"))
    });
    let server = MockServer::start().await;
    Mock::given(path("/v1/items"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(400).set_body_string("report not ready"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/items"))
        .and(query_param("page", "3"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": 5}, {"id": 6}]})),
        )
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(path("/v1/items"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": 1}, {"id": 2}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let run = read_items(&server, &retry_source(exponential(5), rules)).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("items"),
        vec![json!({"id": 1}), json!({"id": 2})]
    );
    assert_eq!(
        run.statuses("items"),
        vec!["STARTED", "RUNNING", "COMPLETE"]
    );
    assert!(run
        .logs()
        .iter()
        .any(|l| l.contains("Ignoring the answer") && l.contains("report not ready")));
}

#[tokio::test]
async fn secrets_are_masked_in_logs_and_error_traces() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/items"))
        .respond_with(
            ResponseTemplate::new(500).set_body_string(format!("internal error for key {KEY}")),
        )
        .expect(2)
        .mount(&server)
        .await;
    let run = read_items(&server, &retry_source(exponential(1), HandlerChain::new())).await;
    assert_eq!(run.code, 1);
    assert!(!run.raw.contains(KEY), "{}", run.raw);
    assert!(
        run.logs()
            .iter()
            .any(|l| l.contains("internal error for key ****")),
        "{:?}",
        run.logs()
    );
    assert!(run.errors()[0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("internal error for key ****"));
}

#[tokio::test]
async fn an_unavailable_token_endpoint_is_retried_before_the_request_fails() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("ACCESS-R", "R1", 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/items"))
        .and(header("Authorization", "Bearer ACCESS-R"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let f = oauth(&server, &oauth_config(None), true, false);
    let r = requester(&server).with_auth(f.auth.clone());
    r.send(&HttpRequest::get("items")).await.unwrap();
}

#[tokio::test]
async fn a_token_endpoint_that_stays_down_fails_transiently_after_bounded_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(502))
        .expect(4)
        .mount(&server)
        .await;
    let f = oauth(&server, &oauth_config(None), true, false);
    let r = requester(&server).with_auth(f.auth.clone());
    let e = r.send(&HttpRequest::get("items")).await.unwrap_err();
    assert_eq!(e.failure_type(), FailureType::TransientError);
}

// ---- answers that cannot be read, origins, timeouts ----

fn few_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        ..RetryPolicy::default()
    }
}

#[tokio::test]
async fn a_401_for_a_token_fetched_moments_ago_refreshes_it_once_more() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("FIRST", "R1", 3600))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("SECOND", "R1", 3600))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    // Revoked right after it was issued.
    Mock::given(path("/v1/items"))
        .and(header("Authorization", "Bearer FIRST"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/items"))
        .and(header("Authorization", "Bearer SECOND"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .expect(1)
        .mount(&server)
        .await;
    let f = oauth(&server, &oauth_config(None), true, false);
    let r = requester(&server).with_auth(f.auth.clone());
    assert_eq!(
        body(r.send(&HttpRequest::get("items")).await.unwrap()),
        json!({"ok": true})
    );
}

#[tokio::test]
async fn a_2xx_answer_that_is_not_json_is_retried_then_fails_as_a_system_error() {
    for (answer, why) in [
        (ResponseTemplate::new(200), "empty"),
        (
            ResponseTemplate::new(200).set_body_string("{\"data\": [1, 2"),
            "not valid JSON",
        ),
        (
            ResponseTemplate::new(200).set_body_raw("<html>maintenance</html>", "text/html"),
            "not valid JSON",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(path("/v1/items"))
            .respond_with(answer)
            .expect(3)
            .mount(&server)
            .await;
        let r = requester(&server).with_retry(few_retries());
        let err = r
            .send(&HttpRequest::get("items").query("secret", "s3cr3t"))
            .await
            .unwrap_err();
        assert_eq!(err.failure_type(), FailureType::SystemError, "{why}");
        assert!(err.message().contains(why), "{}", err.message());
        assert!(
            err.message()
                .contains(&format!("{}/v1/items", server.uri())),
            "{}",
            err.message()
        );
        assert!(!err.message().contains("s3cr3t"), "{}", err.message());
    }
}

#[tokio::test]
async fn an_unreadable_answer_followed_by_a_good_one_is_used() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/items"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"data\": [{\"id\""))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": 1}]})))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    let r = requester(&server).with_retry(few_retries());
    assert_eq!(
        body(r.send(&HttpRequest::get("items")).await.unwrap()),
        json!({"data": [{"id": 1}]})
    );
}

#[tokio::test]
async fn empty_answers_pass_where_declared_and_from_a_204() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/empty"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/no-content"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let r = requester(&server).with_retry(few_retries());
    let empty = HttpRequest::get("empty").expect(Expect::Anything);
    assert_eq!(body(r.send(&empty).await.unwrap()), Value::Null);
    assert_eq!(
        body(r.send(&HttpRequest::get("no-content")).await.unwrap()),
        Value::Null
    );
    // A 204 where records are due is not a page.
    Mock::given(path("/v1/no-records"))
        .respond_with(ResponseTemplate::new(204))
        .expect(3)
        .mount(&server)
        .await;
    let records = HttpRequest::get("no-records").expect(Expect::JsonAt(vec!["data".into()]));
    let err = r.send(&records).await.unwrap_err();
    assert_eq!(err.failure_type(), FailureType::SystemError);
}

#[tokio::test]
async fn the_records_path_must_be_there_and_hold_records() {
    let server = MockServer::start().await;
    for (p, answer, fine) in [
        ("/v1/missing", json!({"links": {}}), false),
        ("/v1/deep", json!({"data": {}}), false),
        ("/v1/scalar", json!({"data": {"list": "oops"}}), false),
        ("/v1/list", json!({"data": {"list": [{"id": 1}]}}), true),
        ("/v1/none", json!({"data": {"list": null}}), true),
    ] {
        Mock::given(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer))
            .expect(if fine { 1 } else { 3 })
            .mount(&server)
            .await;
    }
    let r = requester(&server).with_retry(few_retries());
    let at = |p: &str| {
        HttpRequest::get(p.trim_start_matches("/v1/"))
            .expect(Expect::JsonAt(vec!["data".into(), "list".into()]))
    };
    for p in ["/v1/missing", "/v1/deep", "/v1/scalar"] {
        let err = r.send(&at(p)).await.unwrap_err();
        assert_eq!(err.failure_type(), FailureType::SystemError, "{p}");
        assert!(err.message().contains("data"), "{}", err.message());
    }
    for p in ["/v1/list", "/v1/none"] {
        r.send(&at(p)).await.unwrap();
    }
}

#[tokio::test]
async fn a_page_without_its_records_fails_the_stream_instead_of_ending_it() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/items"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"error": "partial"})))
        .mount(&server)
        .await;
    Mock::given(path("/v1/items"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": 1}, {"id": 2}]})),
        )
        .with_priority(10)
        .mount(&server)
        .await;
    let run = read_items(&server, &retry_source(exponential(1), HandlerChain::new())).await;
    assert_eq!(run.code, 1, "{}", run.raw);
    assert_eq!(run.records("items").len(), 2);
    assert_eq!(run.statuses("items").last().unwrap(), "INCOMPLETE");
    assert_eq!(run.errors()[0]["failure_type"], "system_error");
}

#[tokio::test]
async fn authenticated_requests_go_to_the_api_origin_only() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(path("/v1/page"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&elsewhere)
        .await;
    Mock::given(path("/v1/hop"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("{}/v1/page", elsewhere.uri()).as_str()),
        )
        .expect(2)
        .mount(&server)
        .await;
    let r = requester(&server)
        .with_auth(Arc::new(HeaderAuth::new("X-Key", KEY)))
        .with_retry(few_retries());
    // An absolute link to another origin: refused before anything is sent.
    let err = r
        .send(&HttpRequest::get(format!(
            "{}/v1/page?k=1",
            elsewhere.uri()
        )))
        .await
        .unwrap_err();
    assert_eq!(err.failure_type(), FailureType::SystemError);
    assert!(
        err.message().contains(&elsewhere.uri()),
        "{}",
        err.message()
    );
    assert!(!err.message().contains("k=1"), "{}", err.message());
    // A redirect to another origin is not followed with the credentials.
    let err = r.send(&HttpRequest::get("hop")).await.unwrap_err();
    assert_eq!(err.failure_type(), FailureType::SystemError);
    // Without credentials (a pre-signed download) both are fine.
    r.send(&HttpRequest::get("hop").without_auth())
        .await
        .unwrap();
    let received = elsewhere.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert!(received[0].headers.get("x-key").is_none());
}

#[tokio::test]
async fn a_stalled_answer_times_out_and_is_retried() {
    use connector_testkit::raw_server::{RawAnswer, RawServer};
    let hits = Arc::new(AtomicI64::new(0));
    let h = hits.clone();
    let server = RawServer::start(move |_req| {
        if h.fetch_add(1, Ordering::SeqCst) == 0 {
            RawAnswer::Stall {
                hold: StdDuration::from_secs(30),
            }
        } else {
            RawAnswer::json(200, &json!({"ok": true}))
        }
    })
    .await;
    let env =
        env(VAR, &server.uri(), NOW).with_var(connector_runtime::http::READ_TIMEOUT_VAR, "0.3");
    let r = Requester::new("https://api.example.invalid/v1/", VAR, &env)
        .unwrap()
        .with_retry(few_retries());
    assert_eq!(
        body(r.send(&HttpRequest::get("items")).await.unwrap()),
        json!({"ok": true})
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[test]
fn timeouts_must_be_positive_numbers_of_seconds() {
    for bad in ["0", "-1", "soon", "NaN"] {
        for var in [
            connector_runtime::http::READ_TIMEOUT_VAR,
            connector_runtime::http::CONNECT_TIMEOUT_VAR,
        ] {
            let env = env(VAR, "http://127.0.0.1:1", NOW).with_var(var, bad);
            let err = Requester::new("https://api.example.invalid/v1/", VAR, &env).unwrap_err();
            assert_eq!(err.failure_type(), FailureType::ConfigError, "{var}={bad}");
            assert!(err.message().contains(var));
        }
    }
}
