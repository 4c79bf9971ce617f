//! The requester every TikTok stream shares: result codes inside HTTP 200 bodies (TikTok
//! answers most errors with HTTP 200 and a `code`), the official retry budget and rate
//! budget, and the stream-specific codes some streams turn into skips or config errors.

use connector_runtime::prelude::*;
use std::time::Duration as StdDuration;

const RATE_LIMIT_HINT: &str =
    "TikTok Marketing API rate limit exceeded. Please verify that only one Airbyte \
connection with the same credentials is running at a time. TikTok answered:";

/// The wait after a throttled answer (code 40100): one window of TikTok's "100 requests per
/// 10 seconds". The client-side budget already keeps every window within the quota, so a 40100
/// means another client shares it; once a whole window has passed, every request it counted has
/// left. The requester pauses the whole budget for this long, so concurrent partitions wait
/// with the throttled one instead of being throttled in turn. (The official connector waits a
/// fixed minute for any retry; that minute still applies to maintenance and server errors.)
pub const RATE_LIMIT_WAIT: StdDuration = StdDuration::from_secs(10);

/// The body-level result codes every stream shares (official rules 1–7), with two
/// improvements: an HTTP error whose body carries no TikTok `code` (a proxy's 502 page, a bare
/// 429) falls through to the standard status mapping and is retried, and a 2xx answer without
/// one (cut off, not JSON, HTML) is retried as an unreadable answer and then fails as a system
/// error, where the official connector fails at once on both.
pub fn result_codes(r: &ResponseView<'_>) -> Option<ResponseAction> {
    let message = r.body_str("message").unwrap_or("").to_string();
    match r.body_i64("code") {
        Some(40100) => Some(ResponseAction::Retry {
            message: format!("{RATE_LIMIT_HINT} {message}"),
            after: Some(RATE_LIMIT_WAIT),
            rate_limited: true,
        }),
        Some(60001) => Some(ResponseAction::retry(format!(
            "TikTok Marketing API is under maintenance (code 60001): {message}"
        ))),
        Some(code @ (50000 | 51041 | 51004)) => Some(ResponseAction::retry(format!(
            "TikTok Marketing API transient server-side error (code {code}): {message}"
        ))),
        Some(40002) => Some(ResponseAction::ignore(
            "Resource not accessible or does not exist (error 40002).",
        )),
        Some(0) => None,
        Some(code) => Some(ResponseAction::fail(
            FailureType::SystemError,
            if message.is_empty() {
                format!("TikTok Marketing API error {code}")
            } else {
                message
            },
        )),
        // A success without a code is not TikTok's answer (cut off, not JSON, a proxy's HTML
        // page): retried like any unreadable answer, then a system error naming the URL.
        None if (200..300).contains(&r.status) => Some(ResponseAction::unusable(format!(
            "The answer of {} (HTTP {}) carries no TikTok result code: {}",
            r.url,
            r.status,
            match connector_runtime::http::short(r.text) {
                t if t.is_empty() => "the body is empty".to_string(),
                t => t,
            }
        ))),
        None => None,
    }
}

/// Daily reports: 40067 ("query too large") is the user's to fix with a smaller date step.
pub fn query_too_large(r: &ResponseView<'_>) -> Option<ResponseAction> {
    (r.body_i64("code") == Some(40067)).then(|| {
        ResponseAction::fail(
            FailureType::ConfigError,
            "TikTok Marketing API query size limit exceeded (error 40067). Reduce the 'Daily Reports \
             Date Step' in your connector settings to a smaller value (e.g., 7 or 1) and retry.",
        )
    })
}

/// The official retry budget: 9 retries, a constant minute between attempts.
pub fn retry_policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 9,
        backoff: Backoff::Constant(StdDuration::from_secs(60)),
        headers: vec![RetryHeader::retry_after()],
        max_wait: Some(StdDuration::from_secs(3600)),
    }
}

/// The official client-side budget: 100 requests per 10 seconds over the whole sync, bursts
/// of up to 100 allowed (the limiter counts each request until 10 s after its answer, the
/// latest it can have arrived, which is when TikTok counts it). The
/// window follows the run's time scale so tests (scale 0) do not pace.
pub fn budget(env: &RunEnv) -> ApiBudget {
    ApiBudget::builder()
        .policy(
            Matcher::Any,
            &[Rate::new(100, env.scaled(StdDuration::from_secs(10)))],
        )
        .build()
}
