//! What the Klaviyo test files share: the test config and key, mocks that insist on the
//! headers every Klaviyo request carries, answers, and one stream read with optional state.

use serde_json::{json, Value};
use source_klaviyo::{SourceKlaviyo, BASE_URL_VAR};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

use crate::{catalog, env, ok, read, state_for, Run};

/// The API key of [`config`]; tests also check that it never appears in the output.
pub const KEY: &str = "pk_test_secret_key";

/// A valid config with [`KEY`] and a start date of 2024-01-01.
pub fn config() -> Value {
    json!({"api_key": KEY, "start_date": "2024-01-01T00:00:00Z"})
}

/// A `verb` request on `p` carrying the API key and the revision every Klaviyo request sends;
/// an answer mounted on it is only served to a request that authenticates the official way.
pub fn request(verb: &str, p: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(p.to_string()))
        .and(header(
            "Authorization",
            format!("Klaviyo-API-Key {KEY}").as_str(),
        ))
        .and(header("Revision", "2024-10-15"))
}

/// A GET on `p`, authenticated as [`request`] requires.
pub fn get(p: &str) -> MockBuilder {
    request("GET", p)
}

/// The last (and only) page of an empty list.
pub fn empty() -> ResponseTemplate {
    ok(json!({"data": [], "links": {"next": null}}))
}

/// Reads `stream` incrementally at `now`, starting from its `state` if given.
pub async fn run_read(
    server: &MockServer,
    now: &str,
    cfg: &Value,
    stream: &str,
    state: Option<Value>,
) -> Run {
    read(
        &SourceKlaviyo,
        env(BASE_URL_VAR, &server.uri(), now),
        cfg,
        &catalog(&[(stream, "incremental")]),
        state.map(|s| state_for(stream, s)).as_ref(),
    )
    .await
}

/// Per-partition states sorted by partition, so completion order does not matter.
pub fn sorted(mut state: Value) -> Value {
    if let Some(states) = state.get_mut("states").and_then(Value::as_array_mut) {
        states.sort_by_key(|e| e["partition"].to_string());
    }
    state
}
