//! The embedded sample API: one local HTTP server per connector, answering the official
//! endpoints with small, realistic, deterministic data.
//!
//! Each server is a wiremock server with a single catch-all mock whose responder routes on
//! method + path, the way the real API does, and is lenient about query parameters it does not
//! need (the connectors' request details are tested elsewhere, request by request). Where the
//! real API derives its answer from the query (date ranges, filters, pagination cursors, report
//! tokens), the responder does too, so incremental reads behave as they would against the real
//! service: a second read from the first one's state gets only what is new.
//!
//! With `DEMO_API_LOG` set, every request is printed on stderr (method and URL), which shows
//! exactly what a connector asked for.

pub mod klaviyo;
pub mod pinterest;
pub mod tiktok;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The instant the demo pins as "now" (`AIRBYTE_TEST_NOW`), so that date windows, the sample
/// data and therefore the printed summary are the same on every machine.
pub const NOW: &str = "2024-06-15T12:00:00Z";

/// [`NOW`] as a timestamp.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The three sample APIs, each on its own port of 127.0.0.1.
pub struct SampleApis {
    pub tiktok: MockServer,
    pub pinterest: MockServer,
    pub klaviyo: MockServer,
}

impl SampleApis {
    /// Starts the three servers.
    pub async fn start() -> Self {
        SampleApis {
            tiktok: serve(tiktok::respond).await,
            pinterest: serve(pinterest::respond).await,
            klaviyo: serve(klaviyo::respond).await,
        }
    }
}

/// Starts one server whose every request is answered by `route`.
pub async fn serve(route: fn(&Request) -> ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(move |req: &Request| {
            if std::env::var_os("DEMO_API_LOG").is_some() {
                eprintln!("{} {}", req.method, req.url);
            }
            route(req)
        })
        .mount(&server)
        .await;
    server
}

/// A JSON response.
pub(crate) fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// The answer to a path the sample API does not know: the request is named, so that a missing
/// route shows up in the connector's error message and the demo output.
pub(crate) fn not_found(req: &Request) -> ResponseTemplate {
    json_response(
        404,
        json!({"message": format!("the sample API has no route for {} {}", req.method, req.url.path())}),
    )
}

/// The first value of query parameter `name`.
pub(crate) fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The origin (`http://127.0.0.1:PORT`) the request was sent to, for absolute URLs in answers
/// (next-page links, report download URLs).
/// The mock server sees only the request target, so the origin comes from the `Host` header.
pub(crate) fn origin(req: &Request) -> String {
    match req.headers.get("host").and_then(|h| h.to_str().ok()) {
        Some(host) => format!("http://{host}"),
        None => req.url.origin().ascii_serialization(),
    }
}

/// The path split into its segments, without empty ones.
pub(crate) fn segments(req: &Request) -> Vec<String> {
    req.url
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses the dates and instants the connectors send: `YYYY-MM-DD`, RFC 3339, offsets without a
/// colon (`+0000`), a space instead of `T`, and epoch seconds.
pub(crate) fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim().trim_matches('"').trim_matches('\'');
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|n| n.and_utc());
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(dt) = DateTime::parse_from_str(t, f) {
            return Some(dt.with_timezone(&Utc));
        }
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%SZ",
    ] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return Some(n.and_utc());
        }
    }
    t.parse::<i64>()
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
}

/// Every calendar day from `start` to `end` (both inclusive), never past [`now`]'s day.
pub(crate) fn days(start: NaiveDate, end: NaiveDate) -> Vec<NaiveDate> {
    let last = end.min(now().date_naive());
    let mut out = Vec::new();
    let mut d = start;
    while d <= last && out.len() < 4000 {
        out.push(d);
        d += Duration::days(1);
    }
    out
}

/// A deterministic pseudo-random number in `0..modulo`, so sample metrics vary by day and
/// entity but never between runs.
pub(crate) fn sample(seed: &str, modulo: u64) -> u64 {
    let mut h: u64 = 1469598103934665603;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(1099511628211);
    }
    if modulo == 0 {
        0
    } else {
        h % modulo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_instant_shape_the_connectors_send() {
        let want = Some(
            DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
                .map(|t| t.with_timezone(&Utc))
                .unwrap(),
        );
        for text in [
            "2024-06-01",
            "2024-06-01T00:00:00Z",
            "2024-06-01T00:00:00+0000",
            "2024-06-01T00:00:00+00:00",
            "2024-06-01 00:00:00",
            "2024-06-01T00:00:00.000000+0000",
            "1717200000",
        ] {
            assert_eq!(parse_instant(text), want, "{text}");
        }
        assert_eq!(parse_instant("not a date"), None);
    }

    #[test]
    fn days_stop_at_the_pinned_now() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let all = days(d("2024-06-13"), d("2024-06-20"));
        assert_eq!(all, vec![d("2024-06-13"), d("2024-06-14"), d("2024-06-15")]);
    }
}
