//! The connectors' tests: the harness of `connector-testkit` (re-exported, so a test names
//! `integration_tests::{read, catalog, ...}` whichever crate holds it), plus the local APIs
//! that play a whole connector's API (the fault fakes, the quota-enforcing benchmark API) and
//! the helpers the test files of one connector share.

pub use connector_testkit::*;

pub mod fake_apis;
pub mod klaviyo;
pub mod pinterest;
pub mod quota_api;
