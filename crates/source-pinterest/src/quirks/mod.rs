//! What Pinterest does differently from an ordinary stream of the table, one module per
//! quirk, each saying why it is one.

pub mod ad_accounts;
pub mod custom_reports;
pub mod saved_cursors;

use connector_runtime::prelude::*;

/// `catalogs_feeds`: a feed record carries the credentials of the merchant's feed host
/// (`credentials`), which are secrets of a third party and are never emitted.
pub fn drop_feed_credentials(record: &mut Value, _slice: &Slice) {
    remove_path(record, &["credentials"]);
}
