//! Client-side request budgets, enforced with `governor`.
//!
//! A budget is a list of policies, each a request matcher and one or more rates (for example
//! Klaviyo's "10 per second and 150 per minute" on `/api/campaigns`). Every request waits for
//! every rate of the first policy that matches it. Limiters are shared by all concurrent
//! partitions of all streams of a run, so the budget holds for the whole sync.
//!
//! Each rate is a pure pacing quota (burst of one, one cell every `window / n`), so in any
//! window of that length at most `n` requests start: the budget is used fully and never
//! exceeded.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// `n` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub requests: u32,
    pub window: Duration,
}

impl Rate {
    pub fn new(requests: u32, window: Duration) -> Self {
        Rate {
            requests: requests.max(1),
            window,
        }
    }

    fn quota(&self) -> Quota {
        let period = self.window / self.requests.max(1);
        let period = if period.is_zero() {
            Duration::from_nanos(1)
        } else {
            period
        };
        // `with_period` only fails for a zero period, excluded above.
        Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::MIN)
    }
}

/// A predicate on (method, URL).
pub type RequestPredicate = Arc<dyn Fn(&str, &url::Url) -> bool + Send + Sync>;

/// Which requests a policy covers.
#[derive(Clone)]
pub enum Matcher {
    Any,
    /// Method (`GET`, `POST`; `None` = any) and a path prefix of the URL path.
    PathPrefix {
        method: Option<String>,
        prefix: String,
    },
    Custom(RequestPredicate),
}

impl Matcher {
    fn matches(&self, method: &str, url: &url::Url) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::PathPrefix { method: m, prefix } => {
                m.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
                    && url.path().starts_with(prefix.as_str())
            }
            Matcher::Custom(f) => f(method, url),
        }
    }
}

struct Policy {
    matcher: Matcher,
    limiters: Vec<DefaultDirectRateLimiter>,
}

/// The budget of one run.
#[derive(Clone, Default)]
pub struct ApiBudget {
    policies: Arc<Vec<Policy>>,
}

impl std::fmt::Debug for ApiBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiBudget({} policies)", self.policies.len())
    }
}

/// Builds an [`ApiBudget`].
#[derive(Default)]
pub struct ApiBudgetBuilder {
    policies: Vec<Policy>,
}

impl ApiBudgetBuilder {
    pub fn policy(mut self, matcher: Matcher, rates: &[Rate]) -> Self {
        self.policies.push(Policy {
            matcher,
            limiters: rates
                .iter()
                .map(|r| RateLimiter::direct(r.quota()))
                .collect(),
        });
        self
    }

    pub fn build(self) -> ApiBudget {
        ApiBudget {
            policies: Arc::new(self.policies),
        }
    }
}

impl ApiBudget {
    pub fn builder() -> ApiBudgetBuilder {
        ApiBudgetBuilder::default()
    }

    /// No client-side limit.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// Waits until the first policy matching the request allows it.
    pub async fn acquire(&self, method: &str, url: &url::Url) {
        if let Some(p) = self
            .policies
            .iter()
            .find(|p| p.matcher.matches(method, url))
        {
            for l in &p.limiters {
                l.until_ready().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn paces_requests_to_the_rate() {
        let budget = ApiBudget::builder()
            .policy(Matcher::Any, &[Rate::new(20, Duration::from_millis(200))])
            .build();
        let url = url::Url::parse("http://127.0.0.1/x").unwrap();
        let t = Instant::now();
        for _ in 0..21 {
            budget.acquire("GET", &url).await;
        }
        // 21 requests at one per 10 ms need at least 200 ms.
        assert!(
            t.elapsed() >= Duration::from_millis(190),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn unmatched_requests_are_not_limited() {
        let budget = ApiBudget::builder()
            .policy(
                Matcher::PathPrefix {
                    method: Some("POST".into()),
                    prefix: "/api/reports".into(),
                },
                &[Rate::new(1, Duration::from_secs(3600))],
            )
            .build();
        let url = url::Url::parse("http://127.0.0.1/api/other").unwrap();
        for _ in 0..100 {
            budget.acquire("GET", &url).await;
        }
    }

    /// Whether a request may start right now (`acquire` completes on its first poll).
    fn ready(budget: &ApiBudget, method: &str, url: &str) -> bool {
        use futures::FutureExt;
        let url = url::Url::parse(url).unwrap();
        budget.acquire(method, &url).now_or_never().is_some()
    }

    #[test]
    fn the_first_matching_policy_by_method_and_path_applies() {
        let hour = Duration::from_secs(3600);
        let budget = ApiBudget::builder()
            .policy(
                Matcher::PathPrefix {
                    method: Some("POST".into()),
                    prefix: "/api/reports".into(),
                },
                &[Rate::new(1, hour)],
            )
            .policy(
                Matcher::PathPrefix {
                    method: None,
                    prefix: "/api/campaigns".into(),
                },
                &[Rate::new(1, hour)],
            )
            .build();
        assert!(ready(&budget, "POST", "http://127.0.0.1/api/reports/1"));
        assert!(!ready(&budget, "POST", "http://127.0.0.1/api/reports/2"));
        // GET on the same path and POST elsewhere match no exhausted policy.
        assert!(ready(&budget, "GET", "http://127.0.0.1/api/reports/1"));
        assert!(ready(&budget, "POST", "http://127.0.0.1/api/other"));
        // A policy without a method covers every method.
        assert!(ready(&budget, "GET", "http://127.0.0.1/api/campaigns"));
        assert!(!ready(&budget, "POST", "http://127.0.0.1/api/campaigns"));
    }

    #[test]
    fn clones_share_one_budget() {
        let budget = ApiBudget::builder()
            .policy(
                Matcher::Custom(Arc::new(|_m: &str, u: &url::Url| u.path() == "/x")),
                &[Rate::new(1, Duration::from_secs(3600))],
            )
            .build();
        let other_partition = budget.clone();
        assert!(ready(&budget, "GET", "http://127.0.0.1/x"));
        // Spent for every clone (every partition of the run), and only for matching requests.
        assert!(!ready(&other_partition, "GET", "http://127.0.0.1/x"));
        assert!(ready(&other_partition, "GET", "http://127.0.0.1/y"));
    }
}
