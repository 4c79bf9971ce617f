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
//! holds more than N. Each rate therefore keeps a log of its recent requests and lets a request
//! start only while fewer than N of them may still lie inside the window ending now. That is
//! exact: bursts of N are allowed, N+1 never are. `governor`'s GCRA cannot express it: with a
//! burst of N its cell period is `window / N`, so after a burst it refills one cell per period
//! and lets up to 2N-1 requests into some window; with a burst of one (what the budget used
//! before) it never exceeds the quota but also never uses the burst the API grants (Klaviyo's
//! 350/s sat idle behind 58/s).
//!
//! # Counting where the server counts: arrival bounds, not a margin
//!
//! The API counts a request when it *arrives*, and the client never sees that instant. It does
//! know bounds: a request arrives after it was sent and before its answer's headers (or its
//! error) came back. So every request the budget lets go gets a [`Ticket`] that the requester
//! completes the moment the answer's headers or its error are back ([`Ticket::complete`];
//! dropping it does the same, so an early return or a cancelled task never leaves a request
//! pending). The log keeps, per request, that upper bound of its arrival; while the request is
//! still in flight the bound is "now" (it may arrive at any moment).
//!
//! A new request arrives no earlier than it is sent, so it can share a server-side window with
//! an earlier request only if that request's upper bound lies less than one window before the
//! new send. The budget lets a request go when fewer than N logged requests are that recent
//! (counting every request in flight), i.e. when the request N sends back has an upper-bound
//! arrival at least one window + [`TOLERANCE`] before now. Whatever the actual arrivals
//! within their bounds, no server-side window then ever holds N+1. The price is the round
//! trip of the request that frees the slot (its answer must be back before its window starts
//! counting), not a guess: a fixed margin for arrival jitter (10 % of each window, what the
//! budget used before) cost 10 % of the throughput of every 1-second quota.
//!
//! A failed request is bounded the same way: a refused or reset connection either delivered
//! the request before the error came back or never will, and a timed-out one was sent a whole
//! read timeout before.
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
use tokio::sync::Notify;
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

/// How much longer than a window a request's arrival bound is kept counted: what separates
/// "one window after the bound" on the client's clock from the server's count, i.e. timer
/// and clock granularity (a server counting in whole milliseconds, a timestamp taken a moment
/// after the request was read). Not a jitter margin: network delay is covered by the bounds.
pub const TOLERANCE: Duration = Duration::from_millis(10);

/// The tolerance of one window: [`TOLERANCE`], but at most a tenth of the window, so that the
/// shrunken windows of time-scaled tests keep their proportions (and a zero window none).
pub fn tolerance(window: Duration) -> Duration {
    TOLERANCE.min(window / 10)
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

/// One rate of a policy: its current limit over its window.
struct Window {
    /// The published window (what the server's `w=` refers to).
    window: Duration,
    /// The window plus its [`tolerance`]: how long after its arrival bound a request counts.
    span: Duration,
    /// The limit in force: the configured one until the server announces another.
    limit: u32,
}

/// One request the budget let go.
#[derive(Debug, Clone, Copy)]
struct Sent {
    /// The ticket's number within its policy (log order).
    seq: u64,
    /// The latest instant it can have arrived: when its answer or error came back. `None`
    /// while it is in flight.
    arrived_by: Option<Instant>,
}

impl Window {
    fn new(rate: &Rate) -> Self {
        Window {
            window: rate.window,
            span: rate.window + tolerance(rate.window),
            limit: rate.requests,
        }
    }

    /// Whether `s` may still share a server-side window with a request sent `now`.
    fn counts(&self, s: &Sent, now: Instant) -> bool {
        s.arrived_by.is_none_or(|t| t + self.span > now)
    }

    /// How long until one more request fits: zero (now), a duration, or `None` when that
    /// depends on a request still in flight (its completion wakes the waiters).
    fn wait(&self, log: &VecDeque<Sent>, now: Instant) -> Option<Duration> {
        let limit = self.limit.max(1) as usize;
        let counted = log.iter().filter(|s| self.counts(s, now)).count();
        if counted < limit {
            return Some(Duration::ZERO);
        }
        // `counted - limit + 1` of them must stop counting; in-flight ones cannot yet.
        let mut frees: Vec<Instant> = log
            .iter()
            .filter_map(|s| s.arrived_by.map(|t| t + self.span))
            .filter(|t| *t > now)
            .collect();
        let k = counted - limit;
        if frees.len() <= k {
            return None;
        }
        let (_, nth, _) = frees.select_nth_unstable(k);
        Some(nth.saturating_duration_since(now))
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
    /// The requests that may still count in some window, in the order they were let go.
    log: VecDeque<Sent>,
    next_seq: u64,
    paused_until: Option<Instant>,
    server: Option<ServerCount>,
}

impl PolicyState {
    /// How long until a request may go: a duration (zero: now), or `None` until some request
    /// in flight completes.
    fn wait(&mut self, now: Instant) -> Option<Duration> {
        let longest = self.windows.iter().map(|w| w.span).max();
        self.log
            .retain(|s| longest.is_some_and(|span| s.arrived_by.is_none_or(|t| t + span > now)));
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
        for w in &self.windows {
            wait = wait.max(w.wait(&self.log, now)?);
        }
        Some(wait)
    }

    /// Logs a request let go now; returns its number for its ticket.
    fn record(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if !self.windows.is_empty() {
            self.log.push_back(Sent {
                seq,
                arrived_by: None,
            });
        }
        if let Some(s) = &mut self.server {
            s.remaining = s.remaining.saturating_sub(1);
        }
        seq
    }

    /// Request `seq`'s answer (or error) came back at `at`.
    fn complete(&mut self, seq: u64, at: Instant) {
        if let Ok(i) = self.log.binary_search_by_key(&seq, |s| s.seq) {
            let s = &mut self.log[i];
            if s.arrived_by.is_none() {
                s.arrived_by = Some(at);
            }
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
    shared: Arc<Shared>,
    /// Multiplies the waits the server asks for (the run's time scale; 1.0 in production).
    time_scale: f64,
}

/// What every clone of a budget (every partition of the run) shares.
#[derive(Default)]
struct Shared {
    policies: Vec<Policy>,
    /// Wakes the requests waiting for a request in flight to complete.
    completed: Notify,
}

impl Default for ApiBudget {
    fn default() -> Self {
        ApiBudget {
            shared: Arc::new(Shared::default()),
            time_scale: 1.0,
        }
    }
}

impl std::fmt::Debug for ApiBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiBudget({} policies)", self.shared.policies.len())
    }
}

/// A request the budget let go, until its answer's headers (or its error) are back: then
/// [`Ticket::complete`] (or dropping it) records that instant as the latest its request can
/// have arrived at the server.
#[must_use = "a ticket records when its request's answer came back"]
pub struct Ticket {
    shared: Option<Arc<Shared>>,
    /// (policy index, the request's number in that policy's log).
    entries: Vec<(usize, u64)>,
}

impl Ticket {
    /// The request's answer headers or its error came back just now.
    pub fn complete(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        let now = Instant::now();
        for (i, seq) in self.entries.drain(..) {
            shared.policies[i].lock().complete(seq, now);
        }
        shared.completed.notify_waiters();
    }
}

impl Drop for Ticket {
    /// An early return, a cancelled task or a panic between send and answer: the request
    /// either arrived by now or never will.
    fn drop(&mut self) {
        self.finish();
    }
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ticket({} policies)", self.entries.len())
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
            shared: Arc::new(Shared {
                policies: self.policies,
                completed: Notify::new(),
            }),
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
        for (i, p) in self.shared.policies.iter().enumerate() {
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
        let policies = self.shared.policies.iter();
        let mut matching = policies.filter(|p| p.matcher.matches(method, url));
        let first = matching.next()?;
        if !first.universal {
            return Some(first);
        }
        matching.find(|p| !p.universal).or(Some(first))
    }

    /// Waits until every policy the request falls under allows it, then counts it. The
    /// ticket is to be completed when the answer's headers (or an error) come back.
    pub async fn acquire(&self, method: &str, url: &url::Url) -> Ticket {
        let applicable = self.applicable(method, url);
        if applicable.is_empty() {
            return Ticket {
                shared: None,
                entries: Vec::new(),
            };
        }
        loop {
            // Registered before looking, so that a completion in between is not missed.
            let completed = self.shared.completed.notified();
            tokio::pin!(completed);
            completed.as_mut().enable();
            let now = Instant::now();
            let wait = {
                let mut states: Vec<MutexGuard<'_, PolicyState>> = applicable
                    .iter()
                    .map(|i| self.shared.policies[*i].lock())
                    .collect();
                let mut wait = Some(Duration::ZERO);
                for s in &mut states {
                    // Every state is looked at (and pruned), even after a `None`.
                    let w = s.wait(now);
                    wait = wait.zip(w).map(|(a, b)| a.max(b));
                }
                if wait == Some(Duration::ZERO) {
                    let entries = applicable
                        .iter()
                        .zip(states.iter_mut())
                        .map(|(i, s)| (*i, s.record()))
                        .collect();
                    return Ticket {
                        shared: Some(self.shared.clone()),
                        entries,
                    };
                }
                wait
            };
            match wait {
                Some(wait) => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = &mut completed => {}
                    }
                }
                None => completed.await,
            }
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

    /// One request as the client saw it: let go, and its answer back.
    #[derive(Debug, Clone, Copy)]
    struct Trip {
        sent: Instant,
        back: Instant,
    }

    /// Asserts that no server-side window of `rate` can ever hold more than its limit,
    /// whatever each request's actual arrival between its send and its answer: no N+1 upper
    /// bounds (answers) fall into one window, and, stronger, for every request fewer than N
    /// others let go no later than it were answered less than a window (+ tolerance) before it
    /// was sent (any of those could arrive in one window with it).
    fn assert_within(trips: &[Trip], rate: Rate) {
        let n = rate.requests as usize;
        let mut backs: Vec<Instant> = trips.iter().map(|t| t.back).collect();
        backs.sort();
        for w in backs.windows(n + 1) {
            assert!(
                w[n] - w[0] >= rate.window,
                "{} answers within {:?} (limit {} per {:?})",
                n + 1,
                w[n] - w[0],
                n,
                rate.window
            );
        }
        let span = rate.window + tolerance(rate.window);
        for (i, c) in trips.iter().enumerate() {
            let together = trips
                .iter()
                .enumerate()
                .filter(|(j, t)| *j != i && t.sent <= c.sent && t.back + span > c.sent)
                .count();
            assert!(
                together < n,
                "a request sent at {:?} may share a window with {together} others (limit {n} per {:?})",
                c.sent,
                rate.window
            );
        }
    }

    /// Many concurrent partitions against several rates at once, with irregular round trips
    /// (some slow: a request in flight keeps counting): no window of any rate can hold more
    /// than its limit, and the first burst uses the whole limit.
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
                    let ticket = budget.acquire("GET", &u).await;
                    let sent = Instant::now();
                    // A round trip of up to 240 ms, now and then 1.5 s.
                    let rtt = if (i + worker) % 17 == 0 {
                        1500
                    } else {
                        (i * 53 + worker * 29) % 240
                    };
                    tokio::time::sleep(Duration::from_millis(rtt)).await;
                    ticket.complete();
                    let trip = Trip {
                        sent,
                        back: Instant::now(),
                    };
                    all.lock().unwrap().push(trip);
                    if path == "events" {
                        events.lock().unwrap().push(trip);
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
        assert!(all.iter().all(|t| t.sent >= start));
        // Twelve partitions each start at once: the universal 20 lets all twelve go.
        assert_eq!(all.iter().filter(|t| t.sent == start).count(), 12);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_window_waits_until_the_earliest_answer_is_a_window_old() {
        let rate = Rate::new(3, Duration::from_secs(10));
        let budget = ApiBudget::builder().policy(Matcher::Any, &[rate]).build();
        let u = url("http://127.0.0.1/x");
        let start = Instant::now();
        let first = budget.acquire("GET", &u).await;
        let second = budget.acquire("GET", &u).await;
        let third = budget.acquire("GET", &u).await;
        assert_eq!(Instant::now(), start);
        tokio::time::advance(Duration::from_millis(100)).await;
        // The second answer comes back first: its request is the first to leave.
        second.complete();
        tokio::time::advance(Duration::from_millis(150)).await;
        first.complete();
        third.complete();
        budget.acquire("GET", &u).await.complete();
        assert_eq!(Instant::now() - start, Duration::from_millis(100 + 10_010));
    }

    /// A request in flight may still arrive at any moment: it counts until its answer is back
    /// and a window has passed since; dropping its ticket (an error path) completes it too.
    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_counts_until_its_answer_is_back() {
        let budget = ApiBudget::builder()
            .policy(Matcher::Any, &[Rate::new(2, Duration::from_secs(1))])
            .build();
        let u = url("http://127.0.0.1/x");
        let start = Instant::now();
        let slow = budget.acquire("GET", &u).await;
        let failed = budget.acquire("GET", &u).await;
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!(!ready(&budget, "GET", "http://127.0.0.1/x"));
        drop(failed);
        let waiter = {
            let budget = budget.clone();
            tokio::spawn(async move {
                let ticket = budget.acquire("GET", &url("http://127.0.0.1/x")).await;
                (Instant::now() - start, ticket)
            })
        };
        // The waiter goes one window (+ tolerance) after the dropped ticket.
        let (waited, in_flight) = waiter.await.unwrap();
        assert_eq!(waited, Duration::from_millis(4010));
        // With two requests in flight, the next waits for an answer: the slow one's at 5 s.
        let next = {
            let budget = budget.clone();
            tokio::spawn(async move {
                budget
                    .acquire("GET", &url("http://127.0.0.1/x"))
                    .await
                    .complete();
                Instant::now() - start
            })
        };
        tokio::time::sleep_until(start + Duration::from_secs(5)).await;
        slow.complete();
        assert_eq!(next.await.unwrap(), Duration::from_millis(6010));
        in_flight.complete();
    }

    #[test]
    fn tolerances() {
        assert_eq!(tolerance(Duration::from_secs(1)), TOLERANCE);
        assert_eq!(tolerance(Duration::from_secs(60)), TOLERANCE);
        assert_eq!(
            tolerance(Duration::from_millis(50)),
            Duration::from_millis(5)
        );
        assert_eq!(tolerance(Duration::ZERO), Duration::ZERO);
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
                    .await
                    .complete();
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
        budget.acquire("GET", &u).await.complete();
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
        budget.acquire("GET", &u).await.complete();
        budget.acquire("GET", &u).await.complete();
        assert_eq!(Instant::now(), start);
        budget.acquire("GET", &u).await.complete();
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
            budget.acquire("GET", &u).await.complete();
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
