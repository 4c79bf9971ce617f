//! OAuth2 refresh-token authentication with the config variants the official connector
//! accepts.
//!
//! The token endpoint is `POST /v5/oauth/token` on the API host (so the base-URL override
//! applies), with HTTP Basic client authentication and a form body of `grant_type` and
//! `refresh_token`. A still-valid `credentials.access_token` with its `token_expiry_date` is
//! reused; rotated tokens are written back under `credentials` through a CONTROL message.
//! Legacy flat configs keep `client_id`/`client_secret` at the top level, which are read as a
//! fallback ([`crate::config::Settings::oauth_client`]); the refresh token is only ever read
//! from `credentials.refresh_token`, as the official connector does.

use connector_runtime::prelude::*;

use crate::config::PinterestConfig;

const TOKEN_URL: &str = "https://api.pinterest.com/v5/oauth/token";

/// The authenticator of one run.
pub fn oauth(
    config: &PinterestConfig,
    api: &Requester,
    ctx: &SourceContext,
) -> Result<OAuth2Refresh> {
    let (client_id, client_secret) = config.settings.oauth_client();
    let settings = OAuthSettings {
        token_url: api.official_url(TOKEN_URL)?,
        client_id,
        client_secret,
        basic_auth: true,
        single_use_refresh_token: true,
        paths: OAuthPaths::under("credentials"),
    };
    let clock = ctx.env.clock;
    Ok(OAuth2Refresh::new(
        settings,
        &config.json,
        ctx.output.clone(),
        Arc::new(move || clock.now()),
    )
    .with_time_scale(ctx.env.time_scale))
}
