//! The client-side API budget: Klaviyo's rate-limit tier of every endpoint family, enforced
//! for the whole run so concurrent partitions never exceed it.

use std::time::Duration as StdDuration;

use connector_runtime::prelude::*;

/// Report endpoints allow 225 calls a day: one call every 384 s never exceeds it.
pub const REPORTS_PER_DAY: u32 = 225;

/// Builds the budget. Window lengths go through the run's time scale, so a test run (scale 0)
/// paces nothing while production paces at Klaviyo's published rates.
pub fn klaviyo_budget(env: &RunEnv) -> ApiBudget {
    let rate = |n: u32, secs: u64| Rate::new(n, env.scaled(StdDuration::from_secs(secs)));
    let get = |prefix: &str| Matcher::PathPrefix {
        method: Some("GET".into()),
        prefix: prefix.into(),
    };
    let post = |prefix: &str| Matcher::PathPrefix {
        method: Some("POST".into()),
        prefix: prefix.into(),
    };
    let medium = [rate(10, 1), rate(150, 60)];
    let reports = [rate(1, 1), rate(2, 60), rate(REPORTS_PER_DAY, 86_400)];
    ApiBudget::builder()
        .policy(get("/api/campaigns"), &medium)
        .policy(get("/api/flows"), &[rate(3, 1), rate(60, 60)])
        .policy(get("/api/profiles"), &medium)
        .policy(get("/api/events"), &[rate(350, 1), rate(3500, 60)])
        .policy(get("/api/templates"), &medium)
        .policy(get("/api/metrics"), &medium)
        // One list with its profile count: the XS tier. Must precede the plain list prefix.
        .policy(get("/api/lists/"), &[rate(1, 1), rate(15, 60)])
        .policy(get("/api/lists"), &[rate(75, 1), rate(700, 60)])
        .policy(get("/api/segments"), &[rate(75, 1), rate(750, 60)])
        .policy(post("/api/flow-series-reports"), &reports)
        .policy(post("/api/campaign-values-reports"), &reports)
        .build()
}
