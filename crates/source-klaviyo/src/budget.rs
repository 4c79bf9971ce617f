//! The client-side API budget: Klaviyo's rate-limit tier of every endpoint family, enforced
//! for the whole run so concurrent partitions never exceed it.

use std::time::Duration as StdDuration;

use connector_runtime::prelude::*;

/// Report endpoints allow 225 calls a day: one call every 384 s never exceeds it.
pub const REPORTS_PER_DAY: u32 = 225;

const DAY: u64 = 86_400;

/// `(requests, window seconds)` pairs, all of which a request waits for.
pub type Rates = &'static [(u32, u64)];

/// `(method, path prefix, rates)`. The first matching row applies, so the single-list row
/// precedes the list row.
pub const POLICIES: &[(&str, &str, Rates)] = &[
    ("GET", "/api/campaigns", &[(10, 1), (150, 60)]),
    ("GET", "/api/flows", &[(3, 1), (60, 60)]),
    ("GET", "/api/profiles", &[(10, 1), (150, 60)]),
    ("GET", "/api/events", &[(350, 1), (3500, 60)]),
    ("GET", "/api/templates", &[(10, 1), (150, 60)]),
    ("GET", "/api/metrics", &[(10, 1), (150, 60)]),
    // One list with its profile count: the XS tier.
    ("GET", "/api/lists/", &[(1, 1), (15, 60)]),
    ("GET", "/api/lists", &[(75, 1), (700, 60)]),
    ("GET", "/api/segments", &[(75, 1), (750, 60)]),
    (
        "POST",
        "/api/flow-series-reports",
        &[(1, 1), (2, 60), (REPORTS_PER_DAY, DAY)],
    ),
    (
        "POST",
        "/api/campaign-values-reports",
        &[(1, 1), (2, 60), (REPORTS_PER_DAY, DAY)],
    ),
];

/// The rates of the first policy covering a request, if any.
pub fn rates_for(method: &str, path: &str) -> Option<Rates> {
    POLICIES
        .iter()
        .find(|(m, prefix, _)| m.eq_ignore_ascii_case(method) && path.starts_with(prefix))
        .map(|(_, _, rates)| *rates)
}

/// Builds the budget. Window lengths go through the run's time scale, so a test run (scale 0)
/// paces nothing while production paces at Klaviyo's published rates.
pub fn klaviyo_budget(env: &RunEnv) -> ApiBudget {
    POLICIES
        .iter()
        .fold(ApiBudget::builder(), |b, (method, prefix, rates)| {
            let rates: Vec<Rate> = rates
                .iter()
                .map(|(n, secs)| Rate::new(*n, env.scaled(StdDuration::from_secs(*secs))))
                .collect();
            b.policy(
                Matcher::PathPrefix {
                    method: Some((*method).to_string()),
                    prefix: (*prefix).to_string(),
                },
                &rates,
            )
        })
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most requests a set of pacing rates lets through in a day.
    fn per_day(rates: &[(u32, u64)]) -> u64 {
        rates
            .iter()
            .map(|(n, secs)| DAY * u64::from(*n) / secs)
            .min()
            .unwrap_or(u64::MAX)
    }

    #[test]
    fn report_endpoints_stay_within_the_daily_quota() {
        for path in ["/api/flow-series-reports", "/api/campaign-values-reports"] {
            let rates = rates_for("POST", path).unwrap();
            assert!(per_day(rates) <= u64::from(REPORTS_PER_DAY), "{path}");
        }
    }

    #[test]
    fn each_endpoint_class_gets_its_tier() {
        assert_eq!(
            rates_for("GET", "/api/lists/L1"),
            Some(&[(1, 1), (15, 60)][..])
        );
        assert_eq!(
            rates_for("GET", "/api/lists"),
            Some(&[(75, 1), (700, 60)][..])
        );
        assert_eq!(
            rates_for("GET", "/api/events"),
            Some(&[(350, 1), (3500, 60)][..])
        );
        assert_eq!(
            rates_for("GET", "/api/flows"),
            Some(&[(3, 1), (60, 60)][..])
        );
        // The campaigns_detailed extra calls are outside the budget.
        assert_eq!(
            rates_for("GET", "/api/campaign-recipient-estimations/C1"),
            None
        );
        assert_eq!(rates_for("GET", "/api/flow-series-reports"), None);
    }
}
