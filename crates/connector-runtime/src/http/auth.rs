//! Authenticators: how a request proves who it is.
//!
//! Static tokens and API keys become a header. The OAuth2 refresh-token flow fetches an
//! access token before it expires (and again after a 401), registers it as a secret, and,
//! when the provider rotates tokens, writes the new values back into the config and emits a
//! CONTROL `CONNECTOR_CONFIG` message so the platform persists them.

use std::sync::Arc;

use airbyte_protocol::{AirbyteMessage, FailureType};
use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::error::{Error, Result};
use crate::output::Output;

#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Headers to add to a request.
    async fn headers(&self, client: &reqwest::Client) -> Result<Vec<(String, String)>>;

    /// Called on HTTP 401 with the auth headers the rejected request carried. Returns `true`
    /// when the request should be sent again with the current credentials (new ones were
    /// obtained, or had already replaced those the request was sent with).
    async fn on_unauthorized(
        &self,
        _client: &reqwest::Client,
        _sent: &[(String, String)],
    ) -> Result<bool> {
        Ok(false)
    }
}

/// No authentication (report downloads from pre-signed URLs).
pub struct NoAuth;

#[async_trait]
impl Authenticator for NoAuth {
    async fn headers(&self, _client: &reqwest::Client) -> Result<Vec<(String, String)>> {
        Ok(Vec::new())
    }
}

/// A fixed header: `Access-Token: <token>`, `Authorization: Klaviyo-API-Key <key>`, ...
pub struct HeaderAuth {
    name: String,
    value: String,
}

impl HeaderAuth {
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        HeaderAuth {
            name: name.to_string(),
            value: value.into(),
        }
    }

    pub fn bearer(token: &str) -> Self {
        Self::new("Authorization", format!("Bearer {token}"))
    }
}

#[async_trait]
impl Authenticator for HeaderAuth {
    async fn headers(&self, _client: &reqwest::Client) -> Result<Vec<(String, String)>> {
        Ok(vec![(self.name.clone(), self.value.clone())])
    }
}

/// Where the refresh flow finds and writes its values inside the config.
#[derive(Debug, Clone)]
pub struct OAuthPaths {
    pub access_token: Vec<String>,
    pub refresh_token: Vec<String>,
    pub expiry: Vec<String>,
}

impl OAuthPaths {
    /// `credentials.access_token`, `credentials.refresh_token`, `credentials.token_expiry_date`.
    pub fn under(object: &str) -> Self {
        let p = |k: &str| vec![object.to_string(), k.to_string()];
        OAuthPaths {
            access_token: p("access_token"),
            refresh_token: p("refresh_token"),
            expiry: p("token_expiry_date"),
        }
    }
}

/// Settings of an OAuth2 refresh-token flow.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    pub token_url: url::Url,
    pub client_id: String,
    pub client_secret: String,
    /// Send client credentials as HTTP Basic (else in the form body).
    pub basic_auth: bool,
    /// The provider rotates refresh tokens: persist new ones through a CONTROL message.
    pub single_use_refresh_token: bool,
    pub paths: OAuthPaths,
}

struct TokenState {
    access_token: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    refresh_token: String,
    config: Map<String, Value>,
}

pub struct OAuth2Refresh {
    settings: OAuthSettings,
    state: Mutex<TokenState>,
    output: Output,
    now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    /// Multiplies the waits between token-endpoint retries (tests shrink it).
    time_scale: f64,
}

/// Extra attempts at the token endpoint after a network error, 429 or 5xx (waits 1, 2, 4 s).
const TOKEN_RETRIES: u32 = 3;

fn get_path<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(k))
}

fn set_path(config: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = config;
    for k in parents {
        let entry = cur
            .entry(k.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else { return };
        cur = next;
    }
    cur.insert(last.clone(), value);
}

impl OAuth2Refresh {
    /// `config` is the whole connector config: tokens already stored in it (a still-valid
    /// access token with its expiry) are reused, and rotated values are written into it.
    pub fn new(
        settings: OAuthSettings,
        config: &Value,
        output: Output,
        now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    ) -> Self {
        let text = |p: &[String]| {
            get_path(config, p)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let access_token = text(&settings.paths.access_token).filter(|t| !t.is_empty());
        let expires_at = text(&settings.paths.expiry).and_then(|t| {
            DateTime::parse_from_rfc3339(&t)
                .ok()
                .map(|d| d.with_timezone(&Utc))
        });
        let refresh_token = text(&settings.paths.refresh_token).unwrap_or_default();
        if let Some(t) = &access_token {
            output.secrets().add(t);
        }
        output.secrets().add(&refresh_token);
        output.secrets().add(&settings.client_secret);
        if settings.basic_auth {
            // The Authorization header carries base64 of the pair, not the secret itself.
            output
                .secrets()
                .add_basic_auth(&settings.client_id, &settings.client_secret);
        }
        OAuth2Refresh {
            state: Mutex::new(TokenState {
                access_token,
                expires_at,
                refresh_token,
                config: config.as_object().cloned().unwrap_or_default(),
            }),
            settings,
            output,
            now,
            time_scale: 1.0,
        }
    }

    /// Scales the waits between token-endpoint retries (`RunEnv::time_scale`).
    pub fn with_time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale.max(0.0);
        self
    }

    /// Refreshes, retrying what may pass (unreachable endpoint, 429, 5xx) a few times; a
    /// rejected refresh token is final at once.
    async fn refresh(&self, client: &reqwest::Client, st: &mut TokenState) -> Result<()> {
        let mut attempt = 0;
        loop {
            match self.refresh_once(client, st).await {
                Err(e)
                    if e.failure_type() == FailureType::TransientError
                        && attempt < TOKEN_RETRIES =>
                {
                    let wait = std::time::Duration::from_secs(1 << attempt);
                    attempt += 1;
                    tracing::warn!(
                        "Refreshing the OAuth access token failed ({}); retrying in {}s (attempt {}/{})",
                        e.message(),
                        wait.as_secs(),
                        attempt + 1,
                        TOKEN_RETRIES + 1
                    );
                    tokio::time::sleep(wait.mul_f64(self.time_scale)).await;
                }
                other => return other,
            }
        }
    }

    fn valid(&self, st: &TokenState) -> bool {
        match (&st.access_token, st.expires_at) {
            // Refresh a minute early so a token never expires mid-request.
            (Some(_), Some(exp)) => exp - Duration::seconds(60) > (self.now)(),
            _ => false,
        }
    }

    async fn refresh_once(&self, client: &reqwest::Client, st: &mut TokenState) -> Result<()> {
        let s = &self.settings;
        let mut form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", st.refresh_token.clone()),
        ];
        let mut req = client.post(s.token_url.clone());
        if s.basic_auth {
            let basic = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", s.client_id, s.client_secret));
            req = req.header("Authorization", format!("Basic {basic}"));
        } else {
            form.push(("client_id", s.client_id.clone()));
            form.push(("client_secret", s.client_secret.clone()));
        }
        let resp = req.form(&form).send().await.map_err(|e| {
            Error::transient(format!(
                "Could not reach the OAuth token endpoint {}: {e}",
                s.token_url
            ))
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        if status == 400 || status == 401 || status == 403 {
            return Err(Error::config(
                "Refresh token was rejected by the OAuth provider; re-authenticate the source to get a new one.",
            )
            .with_internal(format!(
                "token endpoint answered HTTP {status}: {}",
                self.output.secrets().mask(&crate::http::short(&text))
            )));
        }
        if !(200..300).contains(&status) {
            return Err(Error::transient(format!(
                "The OAuth token endpoint answered HTTP {status}"
            )));
        }
        let body: Value = serde_json::from_str(&text).map_err(|_| {
            Error::system("The OAuth token endpoint answered with something other than JSON")
        })?;
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::system("The OAuth token response has no access_token"))?
            .to_string();
        self.output.secrets().add(&token);
        let expires_in = body
            .get("expires_in")
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(3600);
        let expires_at = (self.now)() + Duration::seconds(expires_in);
        st.access_token = Some(token.clone());
        st.expires_at = Some(expires_at);
        if let Some(rt) = body.get("refresh_token").and_then(Value::as_str) {
            if !rt.is_empty() {
                self.output.secrets().add(rt);
                st.refresh_token = rt.to_string();
            }
        }
        if s.single_use_refresh_token {
            let refresh_token = st.refresh_token.clone();
            set_path(&mut st.config, &s.paths.access_token, Value::String(token));
            set_path(
                &mut st.config,
                &s.paths.expiry,
                Value::String(expires_at.format("%Y-%m-%dT%H:%M:%S%.f+00:00").to_string()),
            );
            set_path(
                &mut st.config,
                &s.paths.refresh_token,
                Value::String(refresh_token),
            );
            self.output.emit(&AirbyteMessage::control_config(
                st.config.clone(),
                (self.now)().timestamp_millis(),
            ));
        }
        tracing::info!("Refreshed the OAuth access token");
        Ok(())
    }
}

#[async_trait]
impl Authenticator for OAuth2Refresh {
    async fn headers(&self, client: &reqwest::Client) -> Result<Vec<(String, String)>> {
        let mut st = self.state.lock().await;
        if !self.valid(&st) {
            self.refresh(client, &mut st).await?;
        }
        let token = st.access_token.clone().unwrap_or_default();
        Ok(vec![("Authorization".into(), format!("Bearer {token}"))])
    }

    /// A 401 refreshes the token the request was sent with, once: when concurrent partitions
    /// are rejected together, the first one refreshes and the others, finding a newer token
    /// than the one they sent, just retry with it (one refresh, one CONTROL message). A 401
    /// for the current token always refreshes, however recently it was fetched (it may have
    /// been revoked right after); the requester retries a request after one refresh only, so a
    /// token that is rejected again ends as a config error instead of a loop.
    async fn on_unauthorized(
        &self,
        client: &reqwest::Client,
        sent: &[(String, String)],
    ) -> Result<bool> {
        let mut st = self.state.lock().await;
        let sent_token = sent
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Authorization"))
            .and_then(|(_, v)| v.strip_prefix("Bearer "));
        if st.access_token.is_some() && sent_token != st.access_token.as_deref() {
            return Ok(true);
        }
        st.expires_at = None;
        self.refresh(client, &mut st).await?;
        Ok(true)
    }
}

/// Maps a token-endpoint failure for `check`.
pub fn is_auth_failure(e: &Error) -> bool {
    e.failure_type() == FailureType::ConfigError
}
