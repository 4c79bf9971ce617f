//! Pinterest's error handling: the general handler (every GET), the analytics handler (the
//! synchronous analytics streams and report creation), their backoff policies and the
//! per-category request budget.
//!
//! One deliberate difference from the official connector: an answer with body `code == 8`
//! (Pinterest's "rate limit exceeded") is retried after `X-RateLimit-Reset` + 1 s instead of
//! being dropped silently, so no page or window is ever lost. When the retries run out the
//! stream fails with a transient error naming the rate limit.

use std::time::Duration;

use connector_runtime::prelude::*;

/// The message the official connector gives for an expired or revoked token.
pub const REAUTHENTICATE: &str =
    "Try to re-authenticate because current refresh token is not valid.";

/// `X-RateLimit-Reset` seconds plus the official one-second padding: the wait of the general
/// backoff, and of code-8 answers on every endpoint (the analytics backoff reads no header).
fn rate_limit_reset() -> RetryHeader {
    RetryHeader::seconds_plus("X-RateLimit-Reset", Duration::from_secs(1))
}

/// Rate limit answers (`code == 8`, any status): back off and retry, never skip.
fn code_8(r: &ResponseView<'_>) -> Option<ResponseAction> {
    (r.body_i64("code") == Some(8)).then(|| ResponseAction::Retry {
        message: format!(
            "Pinterest rate limit reached (code 8, HTTP {}) on {}: {}",
            r.status,
            r.url,
            r.body_str("message").unwrap_or("")
        ),
        after: rate_limit_reset().delay(r.headers),
        rate_limited: true,
    })
}

/// The general handler of every GET (lists, parents, report polling), in the official order
/// after the code-8 rule.
pub fn general() -> HandlerChain {
    HandlerChain::new()
        .with(code_8)
        .with(|r: &ResponseView<'_>| {
            (r.status == 409).then(|| {
                ResponseAction::ignore(format!("HTTP 409 from {}: {}", r.url, short_text(r)))
            })
        })
        .with(|r: &ResponseView<'_>| {
            (r.status == 401 || r.text.contains("401 Client Error: Unauthorized for url"))
                .then(|| ResponseAction::fail(FailureType::ConfigError, REAUTHENTICATE))
        })
        .with(|r: &ResponseView<'_>| {
            (r.status == 500).then(|| {
                ResponseAction::retry(format!("HTTP 500 from {}: {}", r.url, short_text(r)))
            })
        })
}

fn short_text(r: &ResponseView<'_>) -> String {
    connector_runtime::http::short(r.text)
}

/// `Retry after N seconds` in a message: N seconds (+1 s, as the official retry loop adds).
fn retry_after_message(text: &str) -> Option<Duration> {
    let at = text.find("Retry after ")?;
    let rest = &text[at + "Retry after ".len()..];
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let secs: f64 = digits.parse().ok()?;
    Some(Duration::from_secs_f64(secs.max(0.0)) + Duration::from_secs(1))
}

/// The analytics rules: every HTTP 400, "Retry after N seconds", code 12 and "something went
/// wrong" are transient on Pinterest's analytics endpoints.
pub fn analytics_rules() -> HandlerChain {
    HandlerChain::new()
        .with(code_8)
        .with(|r: &ResponseView<'_>| {
            if r.text.contains("Retry after") {
                return Some(ResponseAction::Retry {
                    message: format!(
                        "Pinterest analytics asks to retry (HTTP {}) on {}: {}",
                        r.status,
                        r.url,
                        short_text(r)
                    ),
                    after: retry_after_message(r.text),
                    rate_limited: true,
                });
            }
            let transient = r.status == 400
                || r.body_i64("code") == Some(12)
                || r.text.to_lowercase().contains("something went wrong");
            transient.then(|| {
                ResponseAction::retry(format!(
                    "Transient analytics error (HTTP {}) on {}: {}",
                    r.status,
                    r.url,
                    short_text(r)
                ))
            })
        })
}

/// Sync analytics streams: the analytics rules, then the general handler.
pub fn analytics() -> HandlerChain {
    analytics_rules().then(&general())
}

/// Backoff of general requests: `X-RateLimit-Reset` + 1 s, else 1, 2, 4, 8, 16 s.
pub fn general_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 5,
        backoff: Backoff::Exponential {
            base: Duration::from_secs(1),
            factor: 2.0,
            max: Duration::from_secs(600),
        },
        headers: vec![rate_limit_reset()],
        max_wait: Some(Duration::from_secs(600)),
    }
}

/// Backoff of analytics requests: 2, 4, 8 … seconds capped at 120 s; rate-limit headers are
/// not consulted (the rules above pass explicit waits where Pinterest gives one).
pub fn analytics_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 5,
        backoff: Backoff::Exponential {
            base: Duration::from_secs(2),
            factor: 2.0,
            max: Duration::from_secs(120),
        },
        headers: Vec::new(),
        max_wait: Some(Duration::from_secs(600)),
    }
}

/// Whether a request goes to Pinterest's `ads_analytics` category (analytics and reports).
fn is_analytics(url: &url::Url) -> bool {
    let p = url.path();
    p.ends_with("/analytics") || p.ends_with("/reports")
}

/// The client-side budget of one run, per Pinterest endpoint category, within the documented
/// standard-access limits: `ads_analytics` 300/min, everything else (`ads_read`,
/// `boards`/`pins`, `catalogs`: 1,000/min each) 1,000/min together, and the universal
/// 100 requests per second over every endpoint. Bursts up to each limit are allowed; the
/// limiter counts each request until a window after its answer (the latest it can have
/// arrived, which is when Pinterest counts it). The
/// `X-RateLimit-*` headers Pinterest sends replace these numbers when they differ, and a
/// throttled answer pauses the whole category. Report downloads from the storage host are not
/// Pinterest API calls and are not budgeted. Windows are scaled by the run's time scale, so
/// tests run with the same policies without waiting.
pub fn budget(env: &RunEnv) -> ApiBudget {
    let minute = env.scaled(Duration::from_secs(60));
    let second = env.scaled(Duration::from_secs(1));
    ApiBudget::builder()
        .universal(
            Matcher::Custom(Arc::new(|_m: &str, u: &url::Url| {
                u.path().starts_with("/v5/")
            })),
            &[Rate::new(100, second)],
        )
        .policy(
            Matcher::Custom(Arc::new(|_m: &str, u: &url::Url| {
                u.path().starts_with("/v5/") && is_analytics(u)
            })),
            &[Rate::new(300, minute)],
        )
        .policy(
            Matcher::Custom(Arc::new(|_m: &str, u: &url::Url| {
                u.path().starts_with("/v5/")
            })),
            &[Rate::new(1000, minute)],
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_wait_from_retry_after_messages() {
        assert_eq!(
            retry_after_message("Reporting query cost limit exceeded. Retry after 3 seconds"),
            Some(Duration::from_secs(4))
        );
        assert_eq!(retry_after_message("nothing here"), None);
    }
}
