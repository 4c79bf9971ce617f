//! Client-side request budgets: every published limit modelled exactly, and the server's own
//! word on its limits followed.
//!
//! A budget is a list of policies, each a request matcher and one or more rates (for example
//! Klaviyo's "350 per second and 3,500 per minute" on `/api/events`). A request waits for every
//! rate of the first *category* policy that matches it ([`ApiBudgetBuilder::policy`]) and of
//! every matching *universal* policy ([`ApiBudgetBuilder::universal`], e.g. Pinterest's
//! 100 requests per second over all endpoints). Policies are shared by all concurrent partitions
//! of all streams of a run, so the budget holds for the whole sync.
//!
//! # Sliding windows, not GCRA
//!
//! A quota "N per window" lets N requests go at once as long as no window of that length ever
//! holds more than N. Each rate therefore keeps the send times of its last requests and lets a
//! request start only while fewer than N of them lie inside the window ending now. That is
//! exact: bursts of N are allowed, N+1 never are. `governor`'s GCRA cannot express it: with a
//! burst of N its cell period is `window / N`, so after a burst it refills one cell per period
//! and lets up to 2N-1 requests into some window; with a burst of one (what the budget used
//! before) it never exceeds the quota but also never uses the burst the API grants (Klaviyo's
//! 350/s sat idle behind 58/s).
//!
//! # Margin for network jitter
//!
//! The API counts a request when it *arrives*. Two requests sent a window apart may arrive
//! closer together when the first one is delayed on the way, so each window is counted as
//! longer than published by [`margin`]: a tenth of the window, at most 250 ms (100 ms on a 1 s
//! window, 250 ms on TikTok's 10 s and on per-minute windows). Arrival jitter up to the margin
//! can then never put N+1 requests into one server-side window.
//!
//! # Listening to the server
//!
//! [`ApiBudget::observe`] reads every answer's rate-limit headers (`Retry-After`,
//! `X-RateLimit-Limit`/`-Remaining`/`-Reset`, `RateLimit-Limit`/`-Remaining`/`-Reset`): a quota
//! the server announces replaces the configured one (larger or smaller: limits change without
//! notice), its remaining count holds requests back before the quota runs out, and a 429 pauses
//! the whole category. [`ApiBudget::pause`] pauses a category for a throttled answer the
//! requester recognised another way (TikTok's code 40100 inside an HTTP 200, Pinterest's code
//! 8): every concurrent partition waits, so one throttled answer never becomes a retry storm.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

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
}

/// How much longer than published a window is counted: a tenth of it, at most 250 ms. See the
/// module documentation.
pub fn margin(window: Duration) -> Duration {
    (window / 10).min(Duration::from_millis(250))
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

/// One rate of a policy: its current limit and the send times inside its (margined) window.
struct Window {
    /// The published window (what the server's `w=` refers to).
    window: Duration,
    /// The window as counted: published length plus [`margin`].
    span: Duration,
    /// The limit in force: the configured one until the server announces another.
    limit: u32,
    sent: VecDeque<Instant>,
}

impl Window {
    fn new(rate: &Rate) -> Self {
        Window {
            window: rate.window,
            span: rate.window + margin(rate.window),
            limit: rate.requests,
            sent: VecDeque::new(),
        }
    }

    /// How long until one more request fits (zero: now).
    fn wait(&mut self, now: Instant) -> Duration {
        while self.sent.front().is_some_and(|t| *t + self.span <= now) {
            self.sent.pop_front();
        }
        let limit = self.limit.max(1) as usize;
        if self.sent.len() < limit {
            return Duration::ZERO;
        }
        // Once the `len - limit + 1` oldest requests leave the window, one more fits.
        let frees = self.sent[self.sent.len() - limit] + self.span;
        frees.saturating_duration_since(now)
    }
}

/// What the server last said about its own count.
struct ServerCount {
    remaining: u32,
    reset: Instant,
}

#[derive(Default)]
struct PolicyState {
    windows: Vec<Window>,
    paused_until: Option<Instant>,
    server: Option<ServerCount>,
}

impl PolicyState {
    fn wait(&mut self, now: Instant) -> Duration {
        let mut wait = self
            .paused_until
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
        if self.server.as_ref().is_some_and(|s| s.reset <= now) {
            self.server = None;
        }
        if let Some(s) = &self.server {
            if s.remaining == 0 {
                wait = wait.max(s.reset.saturating_duration_since(now));
            }
        }
        for w in &mut self.windows {
            wait = wait.max(w.wait(now));
        }
        wait
    }

    fn record(&mut self, now: Instant) {
        for w in &mut self.windows {
            w.sent.push_back(now);
        }
        if let Some(s) = &mut self.server {
            s.remaining = s.remaining.saturating_sub(1);
        }
    }

    fn pause_until(&mut self, until: Instant) {
        if self.paused_until.is_none_or(|t| t < until) {
            self.paused_until = Some(until);
        }
    }
}

struct Policy {
    matcher: Matcher,
    /// Applies to every matching request on top of its category policy.
    universal: bool,
    state: Mutex<PolicyState>,
}

impl Policy {
    fn lock(&self) -> MutexGuard<'_, PolicyState> {
        // A panic elsewhere while holding the lock leaves consistent data (plain counters).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The budget of one run.
#[derive(Clone)]
pub struct ApiBudget {
    policies: Arc<Vec<Policy>>,
    /// Multiplies the waits the server asks for (the run's time scale; 1.0 in production).
    time_scale: f64,
}

impl Default for ApiBudget {
    fn default() -> Self {
        ApiBudget {
            policies: Arc::new(Vec::new()),
            time_scale: 1.0,
        }
    }
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
    fn push(mut self, matcher: Matcher, rates: &[Rate], universal: bool) -> Self {
        self.policies.push(Policy {
            matcher,
            universal,
            state: Mutex::new(PolicyState {
                windows: rates.iter().map(Window::new).collect(),
                ..PolicyState::default()
            }),
        });
        self
    }

    /// A category policy: a request waits for the rates of the first one that matches it.
    pub fn policy(self, matcher: Matcher, rates: &[Rate]) -> Self {
        self.push(matcher, rates, false)
    }

    /// A limit over several categories (Pinterest's 100 per second over all endpoints): every
    /// matching request waits for it as well as for its category.
    pub fn universal(self, matcher: Matcher, rates: &[Rate]) -> Self {
        self.push(matcher, rates, true)
    }

    pub fn build(self) -> ApiBudget {
        ApiBudget {
            policies: Arc::new(self.policies),
            time_scale: 1.0,
        }
    }
}

/// One value of a rate-limit header: `100`, or the draft standard's `100;w=60`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Announced {
    limit: u32,
    window: Option<Duration>,
}

fn header<'h>(headers: &'h HeaderMap, names: &[&str]) -> Option<&'h str> {
    names
        .iter()
        .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
}

fn number(text: &str) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// `X-RateLimit-Limit: 1000`, `RateLimit-Limit: 10, 10;w=1, 150;w=60`: the limits with a window
/// when some are given, else the single bare limit.
fn announced_limits(text: &str) -> Vec<Announced> {
    let items: Vec<Announced> = text
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let limit = number(parts.next()?)? as u32;
            let window = parts.find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim() == "w")
                    .then(|| number(v).map(Duration::from_secs_f64))
                    .flatten()
            });
            (limit > 0).then_some(Announced { limit, window })
        })
        .collect();
    if items.iter().any(|a| a.window.is_some()) {
        items.into_iter().filter(|a| a.window.is_some()).collect()
    } else {
        items.into_iter().take(1).collect()
    }
}

/// A reset given as seconds from now, or (above a billion) as a Unix time.
fn reset_delay(text: &str) -> Option<Duration> {
    let v = number(text.split(',').next()?)?;
    if v > 1e9 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs_f64();
        Some(Duration::from_secs_f64((v - now).max(0.0)))
    } else {
        Some(Duration::from_secs_f64(v))
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

    /// The same budget (shared state) scaling the waits servers ask for by `scale`, as the
    /// requester scales its own backoff sleeps.
    pub fn with_time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale.max(0.0);
        self
    }

    fn scaled(&self, d: Duration) -> Duration {
        if (self.time_scale - 1.0).abs() < f64::EPSILON {
            d
        } else {
            d.mul_f64(self.time_scale)
        }
    }

    /// The policies a request waits for: its category (the first matching category policy)
    /// and every matching universal policy, in declaration order (the lock order).
    fn applicable(&self, method: &str, url: &url::Url) -> Vec<usize> {
        let mut category_found = false;
        let mut out = Vec::new();
        for (i, p) in self.policies.iter().enumerate() {
            if (p.universal || !category_found) && p.matcher.matches(method, url) {
                category_found |= !p.universal;
                out.push(i);
            }
        }
        out
    }

    /// The policy a throttled answer or announced limit is about: the request's category, else
    /// its first universal policy.
    fn category(&self, method: &str, url: &url::Url) -> Option<&Policy> {
        let policies = self.policies.iter();
        let mut matching = policies.filter(|p| p.matcher.matches(method, url));
        let first = matching.next()?;
        if !first.universal {
            return Some(first);
        }
        matching.find(|p| !p.universal).or(Some(first))
    }

    /// Waits until every policy the request falls under allows it, then counts it.
    pub async fn acquire(&self, method: &str, url: &url::Url) {
        let applicable = self.applicable(method, url);
        if applicable.is_empty() {
            return;
        }
        loop {
            let now = Instant::now();
            let wait = {
                let mut states: Vec<MutexGuard<'_, PolicyState>> = applicable
                    .iter()
                    .map(|i| self.policies[*i].lock())
                    .collect();
                let wait = states
                    .iter_mut()
                    .map(|s| s.wait(now))
                    .max()
                    .unwrap_or(Duration::ZERO);
                if wait.is_zero() {
                    for s in &mut states {
                        s.record(now);
                    }
                }
                wait
            };
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Holds back every request of this request's category for `wait` (scaled by the run's
    /// time scale): a throttled answer stops all partitions, not only the one that got it.
    pub fn pause(&self, method: &str, url: &url::Url, wait: Duration) {
        let wait = self.scaled(wait);
        if wait.is_zero() {
            return;
        }
        if let Some(p) = self.category(method, url) {
            tracing::info!(
                "Rate limit reached: holding back every request to this endpoint category for {:.1}s",
                wait.as_secs_f64()
            );
            p.lock().pause_until(Instant::now() + wait);
        }
    }

    /// Follows what an answer says about the quota of its category: an announced limit
    /// replaces the configured rate of the same window (or of the longest window when none is
    /// named), a remaining count holds requests back once it reaches zero until the reset, and
    /// a 429 pauses the category for its `Retry-After` (else until the reset).
    pub fn observe(&self, method: &str, url: &url::Url, status: u16, headers: &HeaderMap) {
        if status == 0 {
            return;
        }
        let Some(policy) = self.category(method, url) else {
            return;
        };
        let limits = header(headers, &["X-RateLimit-Limit", "RateLimit-Limit"])
            .map(announced_limits)
            .unwrap_or_default();
        let remaining = header(headers, &["X-RateLimit-Remaining", "RateLimit-Remaining"])
            .and_then(|v| number(v.split(',').next()?))
            .map(|v| v as u32);
        let reset = header(headers, &["X-RateLimit-Reset", "RateLimit-Reset"])
            .and_then(reset_delay)
            .map(|d| self.scaled(d));
        let retry_after = header(headers, &["Retry-After"])
            .and_then(number)
            .map(|s| self.scaled(Duration::from_secs_f64(s)));
        if limits.is_empty() && remaining.is_none() && retry_after.is_none() {
            return;
        }
        let now = Instant::now();
        let mut state = policy.lock();
        for announced in limits {
            let scaled_window = announced.window.map(|w| self.scaled(w));
            let target = match scaled_window {
                Some(w) => state.windows.iter_mut().find(|x| x.window == w),
                None => state.windows.iter_mut().max_by_key(|x| x.window),
            };
            if let Some(w) = target {
                if w.limit != announced.limit {
                    tracing::info!(
                        "The API announces a limit of {} requests per {:.0}s (configured {}); following it",
                        announced.limit,
                        w.window.as_secs_f64(),
                        w.limit
                    );
                    w.limit = announced.limit;
                }
            }
        }
        if let (Some(remaining), Some(reset)) = (remaining, reset) {
            state.server = Some(ServerCount {
                remaining,
                reset: now + reset,
            });
        }
        if status == 429 {
            if let Some(wait) = retry_after.or(reset).filter(|w| !w.is_zero()) {
                state.pause_until(now + wait);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use reqwest::header::HeaderValue;

    fn url(u: &str) -> url::Url {
        url::Url::parse(u).unwrap()
    }

    /// Whether a request may start right now (`acquire` completes on its first poll).
    fn ready(budget: &ApiBudget, method: &str, u: &str) -> bool {
        budget.acquire(method, &url(u)).now_or_never().is_some()
    }

    /// Asserts that no window of `rate` (as published) holds more than its limit.
    fn assert_within(times: &[Instant], rate: Rate) {
        let mut times = times.to_vec();
        times.sort();
        let n = rate.requests as usize;
        for w in times.windows(n + 1) {
            assert!(
                w[n] - w[0] >= rate.window + margin(rate.window),
                "{} requests within {:?} (limit {} per {:?})",
                n + 1,
                w[n] - w[0],
                n,
                rate.window
            );
        }
    }

    /// Many concurrent partitions against several rates at once: every window of every rate
    /// (margin included) holds at most its limit, and the first burst uses the whole limit.
    #[tokio::test(start_paused = true)]
    async fn no_window_of_any_rate_ever_holds_more_than_its_limit() {
        let per_second = Rate::new(35, Duration::from_secs(1));
        let per_minute = Rate::new(350, Duration::from_secs(60));
        let universal = Rate::new(20, Duration::from_millis(700));
        let budget = ApiBudget::builder()
            .policy(
                Matcher::PathPrefix {
                    method: None,
                    prefix: "/events".into(),
                },
                &[per_second, per_minute],
            )
            .universal(Matcher::Any, &[universal])
            .build();
        let start = Instant::now();
        let events = Arc::new(Mutex::new(Vec::new()));
        let all = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for worker in 0..12u64 {
            let (budget, events, all) = (budget.clone(), events.clone(), all.clone());
            tasks.push(tokio::spawn(async move {
                let path = if worker % 3 == 0 { "other" } else { "events" };
                let u = url(&format!("http://127.0.0.1/{path}"));
                for i in 0..70u64 {
                    budget.acquire("GET", &u).await;
                    let t = Instant::now();
                    all.lock().unwrap().push(t);
                    if path == "events" {
                        events.lock().unwrap().push(t);
                    }
                    // Irregular gaps between a partition's requests.
                    tokio::time::sleep(Duration::from_millis((i * 37 + worker * 11) % 90)).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let events = events.lock().unwrap().clone();
        let all = all.lock().unwrap().clone();
        assert_eq!(events.len(), 8 * 70);
        assert_within(&events, per_second);
        assert_within(&events, per_minute);
        assert_within(&all, universal);
        assert!(all.iter().all(|t| *t >= start));
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_window_waits_exactly_until_its_oldest_request_leaves() {
        let rate = Rate::new(3, Duration::from_secs(10));
        let budget = ApiBudget::builder().policy(Matcher::Any, &[rate]).build();
        let u = url("http://127.0.0.1/x");
        let start = Instant::now();
        for _ in 0..3 {
            budget.acquire("GET", &u).await;
        }
        assert_eq!(Instant::now(), start);
        budget.acquire("GET", &u).await;
        assert_eq!(Instant::now() - start, Duration::from_millis(10_250));
    }

    #[test]
    fn margins() {
        assert_eq!(margin(Duration::from_secs(1)), Duration::from_millis(100));
        assert_eq!(margin(Duration::from_secs(10)), Duration::from_millis(250));
        assert_eq!(margin(Duration::from_secs(60)), Duration::from_millis(250));
        assert_eq!(margin(Duration::ZERO), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_back_every_partition_of_the_category_only() {
        let minute = Duration::from_secs(60);
        let budget = ApiBudget::builder()
            .policy(
                Matcher::PathPrefix {
                    method: None,
                    prefix: "/analytics".into(),
                },
                &[Rate::new(300, minute)],
            )
            .policy(Matcher::Any, &[Rate::new(1000, minute)])
            .build();
        let start = Instant::now();
        budget.pause("GET", &url("http://127.0.0.1/analytics/a"), minute / 6);
        let mut tasks = Vec::new();
        for p in ["analytics/b", "analytics/c", "ads"] {
            let budget = budget.clone();
            tasks.push(tokio::spawn(async move {
                budget
                    .acquire("GET", &url(&format!("http://127.0.0.1/{p}")))
                    .await;
                Instant::now() - start
            }));
        }
        let waited: Vec<Duration> = futures::future::join_all(tasks)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(waited, [minute / 6, minute / 6, Duration::ZERO]);
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_with_retry_after_pauses_the_category() {
        let budget = ApiBudget::builder()
            .policy(Matcher::Any, &[Rate::new(100, Duration::from_secs(1))])
            .build();
        let u = url("http://127.0.0.1/x");
        let start = Instant::now();
        budget.observe("GET", &u, 429, &headers(&[("Retry-After", "7")]));
        budget.acquire("GET", &u).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(7));
        // A Retry-After on a successful answer is no pause.
        budget.observe("GET", &u, 200, &headers(&[("Retry-After", "7")]));
        assert!(ready(&budget, "GET", "http://127.0.0.1/x"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_remaining_count_holds_requests_back_until_the_reset() {
        let budget = ApiBudget::builder()
            .policy(Matcher::Any, &[Rate::new(1000, Duration::from_secs(60))])
            .build();
        let u = url("http://127.0.0.1/x");
        let start = Instant::now();
        budget.observe(
            "GET",
            &u,
            200,
            &headers(&[("X-RateLimit-Remaining", "2"), ("X-RateLimit-Reset", "20")]),
        );
        budget.acquire("GET", &u).await;
        budget.acquire("GET", &u).await;
        assert_eq!(Instant::now(), start);
        budget.acquire("GET", &u).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(20));
        // After the reset the server's count is forgotten; the configured rate applies.
        assert!(ready(&budget, "GET", "http://127.0.0.1/x"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_announced_limit_replaces_the_configured_one() {
        let budget = ApiBudget::builder()
            .policy(
                Matcher::Any,
                &[
                    Rate::new(2, Duration::from_secs(1)),
                    Rate::new(3, Duration::from_secs(60)),
                ],
            )
            .build();
        let u = "http://127.0.0.1/x";
        // A bare limit is the longest window's: 3 per minute becomes 5 per minute.
        budget.observe("GET", &url(u), 200, &headers(&[("X-RateLimit-Limit", "5")]));
        // The draft standard names windows: 2 per second becomes 4 per second.
        budget.observe(
            "GET",
            &url(u),
            200,
            &headers(&[("RateLimit-Limit", "4, 4;w=1, 5;w=60")]),
        );
        for _ in 0..4 {
            assert!(ready(&budget, "GET", u));
        }
        assert!(!ready(&budget, "GET", u), "5th within one second");
        tokio::time::advance(Duration::from_millis(1100)).await;
        assert!(ready(&budget, "GET", u));
        assert!(!ready(&budget, "GET", u), "6th within one minute");
        // A smaller announced limit is followed too.
        let small = ApiBudget::builder()
            .policy(Matcher::Any, &[Rate::new(10, Duration::from_secs(1))])
            .build();
        small.observe("GET", &url(u), 200, &headers(&[("X-RateLimit-Limit", "1")]));
        assert!(ready(&small, "GET", u));
        assert!(!ready(&small, "GET", u));
    }

    #[test]
    fn parses_announced_limits() {
        assert_eq!(
            announced_limits("1000"),
            [Announced {
                limit: 1000,
                window: None
            }]
        );
        assert_eq!(
            announced_limits("10, 10;w=1, 150;w=60"),
            [
                Announced {
                    limit: 10,
                    window: Some(Duration::from_secs(1))
                },
                Announced {
                    limit: 150,
                    window: Some(Duration::from_secs(60))
                }
            ]
        );
        assert!(announced_limits("lots").is_empty());
        assert!(announced_limits("0").is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_time_scale_paces_nothing() {
        let budget = ApiBudget::builder()
            .policy(Matcher::Any, &[Rate::new(1, Duration::ZERO)])
            .build()
            .with_time_scale(0.0);
        let u = url("http://127.0.0.1/x");
        budget.observe("GET", &u, 429, &headers(&[("Retry-After", "60")]));
        budget.pause("GET", &u, Duration::from_secs(60));
        for _ in 0..10 {
            assert!(ready(&budget, "GET", "http://127.0.0.1/x"));
        }
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
        let u = url("http://127.0.0.1/api/other");
        for _ in 0..100 {
            budget.acquire("GET", &u).await;
        }
    }

    #[tokio::test]
    async fn the_first_matching_policy_by_method_and_path_applies() {
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

    #[tokio::test]
    async fn clones_share_one_budget() {
        let budget = ApiBudget::builder()
            .policy(
                Matcher::Custom(Arc::new(|_m: &str, u: &url::Url| u.path() == "/x")),
                &[Rate::new(1, Duration::from_secs(3600))],
            )
            .build();
        let other_partition = budget.clone().with_time_scale(0.5);
        assert!(ready(&budget, "GET", "http://127.0.0.1/x"));
        // Spent for every clone (every partition of the run), and only for matching requests.
        assert!(!ready(&other_partition, "GET", "http://127.0.0.1/x"));
        assert!(ready(&other_partition, "GET", "http://127.0.0.1/y"));
    }
}
