//! The connectors' tests: the harness of `connector-testkit` (re-exported, so a test names
//! `integration_tests::{read, catalog, ...}` whichever crate holds it), plus the local APIs
//! that play a whole connector's API: the fault fakes and the quota-enforcing benchmark API.

pub use connector_testkit::*;

pub mod fake_apis;
pub mod klaviyo;
pub mod quota_api;
