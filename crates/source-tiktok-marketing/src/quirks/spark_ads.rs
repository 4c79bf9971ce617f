//! `spark_ads`: TikTok's record has no top-level id; the official connector adds
//! `spark_ads_post_id` (the post's `item_info.item_id`) and keys the stream by it.

use connector_runtime::prelude::*;

/// Copies `item_info.item_id` to `spark_ads_post_id` (null when missing).
pub fn post_id(record: &mut Value, _: &Slice) {
    let id = get_path(record, &["item_info", "item_id"])
        .cloned()
        .unwrap_or(Value::Null);
    set_path(record, &["spark_ads_post_id"], id);
}
