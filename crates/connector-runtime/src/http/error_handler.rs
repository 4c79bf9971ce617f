//! Response classification: what to do with an HTTP answer.
//!
//! An [`ErrorHandler`] looks at one response (status, headers, parsed body) and answers with a
//! [`ResponseAction`], or `None` to let the next handler decide. Sources stack their own rules
//! (TikTok's codes inside HTTP 200 bodies, Pinterest's analytics retries, Klaviyo's report
//! skips) in front of [`default_action`], the CDK's standard status mapping.

use std::sync::Arc;
use std::time::Duration;

use airbyte_protocol::FailureType;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// One response as handlers see it.
#[derive(Debug)]
pub struct ResponseView<'a> {
    pub status: u16,
    pub headers: &'a HeaderMap,
    /// The parsed JSON body; `Value::Null` when the body is not JSON.
    pub body: &'a Value,
    /// The raw body text (for substring rules).
    pub text: &'a str,
    /// The request URL without query (for messages).
    pub url: &'a str,
}

impl ResponseView<'_> {
    /// A string field of the JSON body (`message`, `detail`...).
    pub fn body_str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    /// An integer field of the JSON body (`code`).
    pub fn body_i64(&self, key: &str) -> Option<i64> {
        self.body.get(key).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResponseAction {
    /// Use the response.
    Success,
    /// Drop the response: no records, pagination ends, the sync goes on.
    Ignore { message: String },
    /// Try again after a backoff. `after` overrides the computed delay; `rate_limited`
    /// marks a quota answer (logged as such, and reported as transient when retries run out).
    Retry {
        message: String,
        after: Option<Duration>,
        rate_limited: bool,
    },
    /// The answer cannot be used (not the JSON the API always sends, cut off, a proxy's HTML
    /// page): retried like a transient error, and a `system_error` naming the URL when the
    /// retries run out, as the requester treats an answer that fails its [`super::Expect`].
    Unusable { message: String },
    /// Give up on this request.
    Fail {
        failure_type: FailureType,
        message: String,
    },
}

impl ResponseAction {
    pub fn retry(message: impl Into<String>) -> Self {
        ResponseAction::Retry {
            message: message.into(),
            after: None,
            rate_limited: false,
        }
    }

    pub fn rate_limited(message: impl Into<String>) -> Self {
        ResponseAction::Retry {
            message: message.into(),
            after: None,
            rate_limited: true,
        }
    }

    pub fn unusable(message: impl Into<String>) -> Self {
        ResponseAction::Unusable {
            message: message.into(),
        }
    }

    pub fn ignore(message: impl Into<String>) -> Self {
        ResponseAction::Ignore {
            message: message.into(),
        }
    }

    pub fn fail(failure_type: FailureType, message: impl Into<String>) -> Self {
        ResponseAction::Fail {
            failure_type,
            message: message.into(),
        }
    }
}

/// A rule that may classify a response.
pub trait ErrorHandler: Send + Sync {
    fn classify(&self, response: &ResponseView<'_>) -> Option<ResponseAction>;
}

impl<F> ErrorHandler for F
where
    F: Fn(&ResponseView<'_>) -> Option<ResponseAction> + Send + Sync,
{
    fn classify(&self, response: &ResponseView<'_>) -> Option<ResponseAction> {
        self(response)
    }
}

/// Handlers tried in order; the first that answers wins, then [`default_action`].
#[derive(Clone, Default)]
pub struct HandlerChain {
    handlers: Vec<Arc<dyn ErrorHandler>>,
}

impl HandlerChain {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, handler: impl ErrorHandler + 'static) -> Self {
        self.handlers.push(Arc::new(handler));
        self
    }

    pub fn with_arc(mut self, handler: Arc<dyn ErrorHandler>) -> Self {
        self.handlers.push(handler);
        self
    }

    /// This chain's rules followed by `other`'s.
    pub fn then(mut self, other: &HandlerChain) -> Self {
        self.handlers.extend(other.handlers.iter().cloned());
        self
    }

    pub fn classify(&self, response: &ResponseView<'_>) -> ResponseAction {
        self.handlers
            .iter()
            .find_map(|h| h.classify(response))
            .unwrap_or_else(|| default_action(response))
    }
}

/// The declarative CDK's default mapping: 2xx success; 429 rate limited; 408 and 5xx retried;
/// 401/403 config errors; other 4xx system errors.
pub fn default_action(r: &ResponseView<'_>) -> ResponseAction {
    match r.status {
        200..=299 => ResponseAction::Success,
        429 => ResponseAction::rate_limited(format!("Rate limit exceeded (HTTP 429) on {}", r.url)),
        408 | 500..=599 => ResponseAction::retry(format!(
            "HTTP {} from {}: {}",
            r.status,
            r.url,
            short(r.text)
        )),
        401 | 403 => ResponseAction::fail(
            FailureType::ConfigError,
            format!(
                "HTTP {} from {}: access denied; check the credentials and their permissions. {}",
                r.status,
                r.url,
                short(r.text)
            ),
        ),
        _ => ResponseAction::fail(
            FailureType::SystemError,
            format!("HTTP {} from {}: {}", r.status, r.url, short(r.text)),
        ),
    }
}

/// The first 500 characters of a body, for messages.
pub fn short(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() <= 500 {
        t.to_string()
    } else {
        let cut: String = t.chars().take(500).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view<'a>(status: u16, headers: &'a HeaderMap, body: &'a Value) -> ResponseView<'a> {
        ResponseView {
            status,
            headers,
            body,
            text: "",
            url: "http://x/y",
        }
    }

    #[test]
    fn default_mapping_matches_the_cdk() {
        let h = HeaderMap::new();
        let b = Value::Null;
        assert_eq!(default_action(&view(200, &h, &b)), ResponseAction::Success);
        assert!(matches!(
            default_action(&view(429, &h, &b)),
            ResponseAction::Retry {
                rate_limited: true,
                ..
            }
        ));
        assert!(matches!(
            default_action(&view(503, &h, &b)),
            ResponseAction::Retry {
                rate_limited: false,
                ..
            }
        ));
        assert!(matches!(
            default_action(&view(403, &h, &b)),
            ResponseAction::Fail {
                failure_type: FailureType::ConfigError,
                ..
            }
        ));
        assert!(matches!(
            default_action(&view(404, &h, &b)),
            ResponseAction::Fail {
                failure_type: FailureType::SystemError,
                ..
            }
        ));
    }

    #[test]
    fn first_matching_rule_wins() {
        let chain = HandlerChain::new()
            .with(|r: &ResponseView<'_>| {
                (r.body_i64("code") == Some(40002)).then(|| ResponseAction::ignore("gone"))
            })
            .with(|r: &ResponseView<'_>| {
                (r.body_i64("code") != Some(0))
                    .then(|| ResponseAction::fail(FailureType::SystemError, "bad"))
            });
        let h = HeaderMap::new();
        let b = json!({"code": 40002});
        assert_eq!(
            chain.classify(&view(200, &h, &b)),
            ResponseAction::ignore("gone")
        );
        let b = json!({"code": 0});
        assert_eq!(chain.classify(&view(200, &h, &b)), ResponseAction::Success);
    }
}
