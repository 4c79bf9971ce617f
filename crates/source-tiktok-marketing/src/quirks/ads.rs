//! `ads`: the API narrows the list by modification time itself (`filtering.modified_after`,
//! the window's start), and Smart+ ads come without `modify_time`; those are dropped, as
//! officially (4.8.1), since a record without its cursor cannot be placed in a window.

use connector_runtime::prelude::*;

use super::py_json;

/// The `filtering` parameter: `{"modified_after": "<window start>"}`, plus every
/// `secondary_status` with `include_deleted`.
pub fn filtering(include_deleted: bool) -> impl Fn(&Slice) -> Result<String> + Send + Sync {
    move |s: &Slice| {
        let since = s.start().map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string());
        let mut f = serde_json::Map::new();
        f.insert("modified_after".into(), json!(since.unwrap_or_default()));
        if include_deleted {
            f.insert("secondary_status".into(), json!("AD_STATUS_ALL"));
        }
        Ok(py_json(&Value::Object(f)))
    }
}

/// Keeps the ads that carry a `modify_time`.
pub fn has_modify_time(record: &Value, _: &Slice) -> bool {
    record.get("modify_time").is_some_and(|v| !v.is_null())
}
