//! What the Pinterest test files share: the pinned clock, the OAuth test config and the
//! source's own column lists.

use serde_json::{json, Value};

/// The clock of every Pinterest test.
pub const NOW: &str = "2024-04-10T12:00:00Z";

/// An OAuth config starting at `start_date` (`YYYY-MM-DD`) whose access token `atoken-123`
/// does not expire, so a read refreshes it only when a test makes the API refuse it.
pub fn config(start_date: &str) -> Value {
    json!({
        "start_date": start_date,
        "credentials": {
            "auth_method": "oauth2.0",
            "client_id": "cid",
            "client_secret": "csecret-123",
            "refresh_token": "rtoken-123",
            "access_token": "atoken-123",
            "token_expiry_date": "2099-01-01T00:00:00+00:00"
        }
    })
}

/// The column list `list` of the source's `columns.json` (what the source embeds).
pub fn columns(list: &str) -> Value {
    let all: Value = serde_json::from_str(include_str!(
        "../../crates/source-pinterest/resources/columns.json"
    ))
    .expect("columns.json is JSON");
    all[list]["columns"].clone()
}
