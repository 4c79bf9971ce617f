//! The requester: one place where HTTP requests are built, authenticated, budgeted, sent,
//! classified and retried.
//!
//! Sources describe *what* to request ([`HttpRequest`]) and *how to read answers*
//! ([`HandlerChain`]); the [`Requester`] owns the mechanics: base-URL override, auth headers
//! (refreshing OAuth tokens on 401), the shared [`ApiBudget`], and retries with backoff that
//! honours `Retry-After`-style headers within a bounded number of attempts.

pub mod auth;
pub mod error_handler;
pub mod rate_limit;
pub mod raw_records;

use std::sync::Arc;
use std::time::Duration;

use airbyte_protocol::FailureType;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub use auth::{Authenticator, HeaderAuth, NoAuth, OAuth2Refresh, OAuthPaths, OAuthSettings};
pub use error_handler::{
    default_action, short, ErrorHandler, HandlerChain, ResponseAction, ResponseView,
};
pub use rate_limit::{ApiBudget, Matcher, Rate};

use crate::env::RunEnv;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    Json(Value),
    Form(Vec<(String, String)>),
}

/// What to request. `url` is a path relative to the requester's base URL, or an absolute
/// URL (a `links.next` or a pre-signed download link) used exactly as given.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<RequestBody>,
    /// Whether to add the requester's auth headers (a pre-signed download must not get them).
    pub authenticate: bool,
    /// What a 2xx answer must hold to count as read; anything else is retried, then fails.
    pub expect: Expect,
    /// Hand the records at the [`Expect::JsonAt`] path over unparsed ([`Response::records`]),
    /// to be parsed one at a time as they are read (see [`raw_records`]).
    pub raw_records: bool,
}

/// What a successful (2xx) answer must contain to be used.
///
/// The default is strict: an answer that is cut off, is not JSON, or lacks the records a
/// stream reads must never pass as an empty page, because pagination would stop there and
/// the stream would report success with records missing. Such an answer is retried like a
/// transient error; when the retries run out the request fails with a `system_error`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Expect {
    /// A JSON document. An empty body is accepted only from a `204 No Content`.
    #[default]
    Json,
    /// A JSON document in which this path of keys exists and holds records: a list, one
    /// object, or `null` for none (as the CDK's record selector reads them), not a string,
    /// number or boolean. The records path of a stream; an empty path is [`Expect::Json`].
    JsonAt(Vec<String>),
    /// Any body at all, including none (endpoints that answer 2xx without content).
    Anything,
}

impl HttpRequest {
    pub fn get(url: impl Into<String>) -> Self {
        HttpRequest {
            method: Method::Get,
            url: url.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            authenticate: true,
            expect: Expect::Json,
            raw_records: false,
        }
    }

    pub fn post_json(url: impl Into<String>, body: Value) -> Self {
        HttpRequest {
            method: Method::Post,
            body: Some(RequestBody::Json(body)),
            ..Self::get(url)
        }
    }

    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_string(), value.into()));
        self
    }

    pub fn header(mut self, key: &str, value: impl Into<String>) -> Self {
        self.headers.push((key.to_string(), value.into()));
        self
    }

    pub fn without_auth(mut self) -> Self {
        self.authenticate = false;
        self
    }

    /// Declares what a 2xx answer must hold (see [`Expect`]).
    pub fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    /// The parsed JSON body (`Value::Null` when empty, or not JSON under [`Expect::Anything`]).
    /// With [`HttpRequest::raw_records`], an empty list stands where the records are.
    pub body: Value,
    /// The records, unparsed, when the request asked for them so and they form a list.
    pub records: Option<raw_records::RawRecords>,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Success(Response),
    /// An error handler chose to drop this answer; the caller reads nothing from it.
    Ignored {
        message: String,
    },
}

/// How a response header tells us when to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryHeader {
    /// Seconds to wait (`Retry-After: 30`), plus an optional padding.
    Seconds { name: String, pad: Duration },
}

impl RetryHeader {
    pub fn retry_after() -> Self {
        RetryHeader::Seconds {
            name: "Retry-After".into(),
            pad: Duration::ZERO,
        }
    }

    pub fn seconds_plus(name: &str, pad: Duration) -> Self {
        RetryHeader::Seconds {
            name: name.into(),
            pad,
        }
    }

    /// The wait this header asks for in `headers`, if it is there and positive: also for
    /// response rules that pass an explicit wait (`ResponseAction::Retry { after, .. }`).
    pub fn delay(&self, headers: &HeaderMap) -> Option<Duration> {
        match self {
            RetryHeader::Seconds { name, pad } => {
                let v = headers.get(name.as_str())?.to_str().ok()?.trim();
                let secs: f64 = v.parse().ok()?;
                (secs > 0.0).then(|| Duration::from_secs_f64(secs) + *pad)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Backoff {
    /// `base * factor^(attempt-1)`, capped at `max`.
    Exponential {
        base: Duration,
        factor: f64,
        max: Duration,
    },
    Constant(Duration),
}

impl Backoff {
    pub fn delay(&self, attempt: u32) -> Duration {
        match self {
            Backoff::Constant(d) => *d,
            Backoff::Exponential { base, factor, max } => {
                let exp = factor.powi(attempt.saturating_sub(1).min(30) as i32);
                base.mul_f64(exp).min(*max)
            }
        }
    }
}

/// Bounded retries: how many, how long between them, which headers to honour, and the
/// longest wait we accept (a quota reset hours away fails fast instead of hanging the sync).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub backoff: Backoff,
    pub headers: Vec<RetryHeader>,
    pub max_wait: Option<Duration>,
}

impl Default for RetryPolicy {
    /// The CDK defaults: 5 retries, exponential backoff from 5 s, `Retry-After` honoured.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            backoff: Backoff::Exponential {
                base: Duration::from_secs(5),
                factor: 2.0,
                max: Duration::from_secs(600),
            },
            headers: vec![RetryHeader::retry_after()],
            max_wait: Some(Duration::from_secs(3600)),
        }
    }
}

/// Overrides the connect timeout, in seconds (fractions allowed); for tests and slow networks.
pub const CONNECT_TIMEOUT_VAR: &str = "AIRBYTE_HTTP_CONNECT_TIMEOUT";
/// Overrides the read-idle timeout, in seconds (fractions allowed).
pub const READ_TIMEOUT_VAR: &str = "AIRBYTE_HTTP_READ_TIMEOUT";
/// How long a connection may take to open. These APIs answer a TCP handshake in well under a
/// second; a host that stays silent this long is unreachable and the attempt is retried.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a request may go without receiving a single byte (waiting for the headers, or
/// between two chunks of the body) before the attempt is abandoned and retried. It is an idle
/// timeout, not a deadline: a large report download that keeps flowing is never cut off, while
/// a stalled connection costs a minute instead of hanging the sync.
pub const READ_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A timeout from `var` (seconds), else `default`; a value that is not a positive number is a
/// config error.
fn timeout_from(env: &RunEnv, var: &str, default: Duration) -> Result<Duration> {
    let Some(text) = env.var(var) else {
        return Ok(default);
    };
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            Error::config(format!(
                "{var} must be a positive number of seconds such as 30, got {text:?}"
            ))
        })
}

/// Replaces scheme, host and port of `url` with those of `origin`, keeping path and query.
pub fn with_origin(url: &url::Url, origin: &url::Url) -> url::Url {
    let mut out = url.clone();
    let _ = out.set_scheme(origin.scheme());
    let _ = out.set_host(origin.host_str());
    let _ = out.set_port(origin.port());
    out
}

/// Sends requests for one source (or one family of endpoints of it).
#[derive(Clone)]
pub struct Requester {
    /// For authenticated requests: follows redirects within one origin only, so auth headers
    /// never travel to another host behind a redirect.
    client: reqwest::Client,
    /// For requests without auth (pre-signed downloads), which may redirect anywhere.
    anonymous_client: reqwest::Client,
    base_url: url::Url,
    origin_override: Option<url::Url>,
    /// Origins that receive auth headers: the API's own and the override's.
    trusted_origins: Arc<Vec<url::Origin>>,
    auth: Arc<dyn Authenticator>,
    budget: ApiBudget,
    handlers: HandlerChain,
    retry: RetryPolicy,
    default_headers: Vec<(String, String)>,
    env: RunEnv,
}

impl std::fmt::Debug for Requester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Requester({})", self.base_url)
    }
}

impl Requester {
    /// `base_url` is the official API root (`https://a.klaviyo.com/api/`); when the
    /// environment variable `override_var` holds a URL, its scheme, host and port replace the
    /// base URL's (the API path stays).
    pub fn new(base_url: &str, override_var: &str, env: &RunEnv) -> Result<Self> {
        let origin_override = match env.var(override_var) {
            Some(v) => Some(url::Url::parse(v).map_err(|e| {
                Error::config(format!(
                    "{override_var} must be a URL such as http://127.0.0.1:8080 ({e})"
                ))
            })?),
            None => None,
        };
        let mut base = url::Url::parse(base_url)
            .map_err(|e| Error::system(format!("invalid base URL {base_url}: {e}")))?;
        if let Some(o) = &origin_override {
            base = with_origin(&base, o);
        }
        let connect = timeout_from(env, CONNECT_TIMEOUT_VAR, CONNECT_TIMEOUT)?;
        let read_idle = timeout_from(env, READ_TIMEOUT_VAR, READ_IDLE_TIMEOUT)?;
        let build = |same_origin_redirects_only: bool| {
            let redirects = if same_origin_redirects_only {
                reqwest::redirect::Policy::custom(|attempt| {
                    let first = attempt.previous().first().map(url::Url::origin);
                    if first.is_some_and(|o| o != attempt.url().origin()) {
                        attempt.stop()
                    } else if attempt.previous().len() >= 10 {
                        attempt.error("too many redirects")
                    } else {
                        attempt.follow()
                    }
                })
            } else {
                reqwest::redirect::Policy::limited(10)
            };
            reqwest::Client::builder()
                .user_agent(concat!(
                    "airbyte-rust-connectors/",
                    env!("CARGO_PKG_VERSION")
                ))
                .connect_timeout(connect)
                .read_timeout(read_idle)
                .pool_idle_timeout(Duration::from_secs(60))
                .redirect(redirects)
                .build()
                .map_err(|e| Error::system(format!("could not build the HTTP client: {e}")))
        };
        let mut trusted = vec![base.origin()];
        if let Some(o) = &origin_override {
            trusted.push(o.origin());
        }
        Ok(Requester {
            client: build(true)?,
            anonymous_client: build(false)?,
            base_url: base,
            origin_override,
            trusted_origins: Arc::new(trusted),
            auth: Arc::new(NoAuth),
            budget: ApiBudget::unlimited(),
            handlers: HandlerChain::new(),
            retry: RetryPolicy::default(),
            default_headers: Vec::new(),
            env: env.clone(),
        })
    }

    pub fn with_auth(mut self, auth: Arc<dyn Authenticator>) -> Self {
        self.auth = auth;
        self
    }

    pub fn with_budget(mut self, budget: ApiBudget) -> Self {
        self.budget = budget.with_time_scale(self.env.time_scale);
        self
    }

    pub fn with_handlers(mut self, handlers: HandlerChain) -> Self {
        self.handlers = handlers;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_header(mut self, key: &str, value: &str) -> Self {
        self.default_headers.push((key.into(), value.into()));
        self
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn base_url(&self) -> &url::Url {
        &self.base_url
    }

    pub fn handlers(&self) -> &HandlerChain {
        &self.handlers
    }

    pub fn env(&self) -> &RunEnv {
        &self.env
    }

    /// An absolute URL the connector builds itself on another official host (a sandbox host,
    /// a token endpoint): the base-URL override applies to it too.
    pub fn official_url(&self, absolute: &str) -> Result<url::Url> {
        let url = url::Url::parse(absolute)
            .map_err(|e| Error::system(format!("invalid URL {absolute}: {e}")))?;
        Ok(match &self.origin_override {
            Some(o) => with_origin(&url, o),
            None => url,
        })
    }

    /// The override origin, if any (for sources that build URLs on other official hosts).
    pub fn origin_override(&self) -> Option<&url::Url> {
        self.origin_override.as_ref()
    }

    fn resolve(&self, url: &str) -> Result<url::Url> {
        if url.starts_with("http://") || url.starts_with("https://") {
            return url::Url::parse(url)
                .map_err(|e| Error::system(format!("invalid URL {url}: {e}")));
        }
        self.base_url
            .join(url.trim_start_matches('/'))
            .map_err(|e| Error::system(format!("invalid path {url}: {e}")))
    }

    /// Refuses, before anything is sent, a URL that is not http(s) (retrying cannot help) and
    /// an authenticated request to an origin other than the API's: a `links.next` naming
    /// another host must not receive the credentials.
    fn check_target(&self, url: &url::Url, req: &HttpRequest) -> Result<()> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::system(format!(
                "Refusing to request a {} link: only http and https URLs are followed",
                url.scheme()
            )));
        }
        if req.authenticate && !self.trusted_origins.contains(&url.origin()) {
            return Err(Error::system(format!(
                "Refusing to send credentials to {}: the API pointed to a host other than its own ({})",
                url.origin().ascii_serialization(),
                self.base_url.origin().ascii_serialization()
            )));
        }
        Ok(())
    }

    /// Sends `req` with this requester's handlers.
    pub async fn send(&self, req: &HttpRequest) -> Result<Outcome> {
        self.send_with(req, &self.handlers).await
    }

    /// Sends `req`, classifying answers with `handlers` (then the default mapping), retrying
    /// as the policy allows.
    pub async fn send_with(&self, req: &HttpRequest, handlers: &HandlerChain) -> Result<Outcome> {
        let mut url = self.resolve(&req.url)?;
        if !req.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(req.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let display_url = {
            let mut u = url.clone();
            u.set_query(None);
            u.to_string()
        };
        self.check_target(&url, req)?;
        let client = if req.authenticate {
            &self.client
        } else {
            &self.anonymous_client
        };
        let max_attempts = self.retry.max_retries + 1;
        let mut refreshed = false;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let ticket = self.budget.acquire(req.method.as_str(), &url).await;
            let mut builder = match req.method {
                Method::Get => client.get(url.clone()),
                Method::Post => client.post(url.clone()),
            };
            for (k, v) in self.default_headers.iter().chain(req.headers.iter()) {
                builder = builder.header(k.as_str(), v.as_str());
            }
            let sent_auth = if req.authenticate {
                self.auth.headers(&self.client).await?
            } else {
                Vec::new()
            };
            for (k, v) in &sent_auth {
                builder = builder.header(k.as_str(), v.as_str());
            }
            // Set when a 2xx answer could not be used (see `Expect`): retried, and a
            // `system_error` rather than a transient one if it never reads.
            let mut unreadable = false;
            builder = match &req.body {
                Some(RequestBody::Json(v)) => builder.json(v),
                Some(RequestBody::Form(f)) => builder.form(f),
                None => builder,
            };
            let answer = builder.send().await;
            // Headers or error are back: the latest instant the request can have arrived.
            ticket.complete();
            let (action, headers, status, body, records) = match answer {
                Err(e) => {
                    let message = format!("Request to {display_url} failed: {}", without_url(&e));
                    (
                        ResponseAction::retry(message),
                        HeaderMap::new(),
                        0u16,
                        Value::Null,
                        None,
                    )
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    match read_body(resp).await {
                        Err(e) => (
                            ResponseAction::retry(format!(
                                "Reading the answer of {display_url} failed: {}",
                                without_url(&e)
                            )),
                            headers,
                            status,
                            Value::Null,
                            None,
                        ),
                        Ok(bytes) => {
                            let split = match &req.expect {
                                Expect::JsonAt(path) if req.raw_records => {
                                    raw_records::split(&bytes, path)
                                }
                                Expect::Json if req.raw_records => raw_records::split(&bytes, &[]),
                                _ => None,
                            };
                            let (split, spans) = split.unzip();
                            let parsed: std::result::Result<Value, String> = if let Some(v) = split
                            {
                                Ok(v)
                            } else if bytes.is_empty() {
                                Err("the body is empty".into())
                            } else {
                                serde_json::from_slice(&bytes)
                                    .map_err(|e| format!("the body is not valid JSON ({e})"))
                            };
                            let (body, decode_error) = match parsed {
                                Ok(v) => (v, None),
                                Err(e) => (Value::Null, Some(e)),
                            };
                            let text = String::from_utf8_lossy(&bytes);
                            let view = ResponseView {
                                status,
                                headers: &headers,
                                body: &body,
                                text: &text,
                                url: &display_url,
                            };
                            let action = match handlers.classify(&view) {
                                ResponseAction::Success => match unusable(
                                    &req.expect,
                                    status,
                                    decode_error,
                                    &body,
                                    &display_url,
                                ) {
                                    Some(message) => {
                                        unreadable = true;
                                        ResponseAction::retry(message)
                                    }
                                    None => ResponseAction::Success,
                                },
                                other => other,
                            };
                            let records = spans.map(|s| raw_records::records(bytes, s));
                            (action, headers, status, body, records)
                        }
                    }
                }
            };
            self.budget
                .observe(req.method.as_str(), &url, status, &headers);
            let (message, after, rate_limited) = match action {
                ResponseAction::Success => {
                    return Ok(Outcome::Success(Response {
                        status,
                        headers,
                        body,
                        records,
                    }))
                }
                ResponseAction::Ignore { message } => {
                    tracing::info!("Ignoring the answer of {display_url}: {message}");
                    return Ok(Outcome::Ignored { message });
                }
                ResponseAction::Fail {
                    failure_type,
                    message,
                } => {
                    if status == 401
                        && req.authenticate
                        && !refreshed
                        && self.auth.on_unauthorized(&self.client, &sent_auth).await?
                    {
                        refreshed = true;
                        attempt -= 1;
                        continue;
                    }
                    return Err(Error::of_type(failure_type, message));
                }
                ResponseAction::Retry {
                    message,
                    after,
                    rate_limited,
                } => (message, after, rate_limited),
                ResponseAction::Unusable { message } => {
                    unreadable = true;
                    (message, None, false)
                }
            };
            if attempt >= max_attempts {
                let failure = if rate_limited {
                    "Rate limit retry budget exhausted"
                } else {
                    "Exhausted available request attempts"
                };
                let failure_type = if unreadable {
                    FailureType::SystemError
                } else {
                    FailureType::TransientError
                };
                return Err(Error::of_type(
                    failure_type,
                    format!("{failure} after {attempt} attempts. Last error: {message}"),
                ));
            }
            let delay = after
                .or_else(|| self.retry.headers.iter().find_map(|h| h.delay(&headers)))
                .unwrap_or_else(|| self.retry.backoff.delay(attempt));
            if let Some(max) = self.retry.max_wait {
                if delay > max {
                    return Err(Error::transient(format!(
                                "{message}. The API asks to wait {}s, which is greater than max waiting time of {}s; \
                                 try again later",
                                delay.as_secs(),
                                max.as_secs()
                            )));
                }
            }
            if rate_limited {
                self.budget.pause(req.method.as_str(), &url, delay);
            }
            tracing::warn!(
                "{}; retrying in {:.1}s (attempt {}/{})",
                message,
                delay.as_secs_f64(),
                attempt + 1,
                max_attempts
            );
            tokio::time::sleep(self.env.scaled(delay)).await;
        }
    }
}

/// The most a `Content-Length` may make [`read_body`] reserve up front; a larger body grows
/// as it arrives.
const MAX_RESERVE: u64 = 16 << 20;

/// Reads a whole body into one buffer, sized by `Content-Length` when there is one: each
/// chunk is copied in as it arrives and released, where collecting the chunks and then
/// joining them would hold a page twice.
async fn read_body(mut resp: reqwest::Response) -> reqwest::Result<Vec<u8>> {
    let reserve = resp.content_length().unwrap_or(0).min(MAX_RESERVE);
    let mut body = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await? {
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why a 2xx answer the handlers accepted cannot be used as `expect` demands, if it cannot.
fn unusable(
    expect: &Expect,
    status: u16,
    decode_error: Option<String>,
    body: &Value,
    url: &str,
) -> Option<String> {
    let path = match expect {
        Expect::Anything => return None,
        Expect::Json => &[][..],
        Expect::JsonAt(path) => path.as_slice(),
    };
    if let Some(e) = decode_error {
        // "No Content" is an answer without a body by definition; fine unless records were due.
        if status == 204 && path.is_empty() {
            return None;
        }
        return Some(format!(
            "The answer of {url} (HTTP {status}) cannot be read: {e}"
        ));
    }
    let mut cur = body;
    for (depth, key) in path.iter().enumerate() {
        match cur.get(key.as_str()) {
            Some(next) => cur = next,
            None => {
                return Some(format!(
                "The answer of {url} (HTTP {status}) has no \"{}\", where the records are expected",
                path[..=depth].join(".")
            ))
            }
        }
    }
    // A list, one object (one record) or null (none) are records; a scalar is not.
    if !path.is_empty() && !matches!(cur, Value::Array(_) | Value::Object(_) | Value::Null) {
        let kind = match cur {
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            _ => "a boolean",
        };
        return Some(format!(
            "The answer of {url} (HTTP {status}) holds {kind} at \"{}\", where records are expected",
            path.join(".")
        ));
    }
    None
}

/// reqwest errors print the URL, which may carry secrets in its query; keep the reason only.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(u) = e.url() {
        text = text.replace(u.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
