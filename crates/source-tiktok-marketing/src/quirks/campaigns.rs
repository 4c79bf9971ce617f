//! `campaigns` is read once per buying type: TikTok returns only AUCTION campaigns unless
//! asked for others, and refuses to mix TopView with other types in one request. The buying
//! type is a partition key (so it is part of the official state) and goes into `filtering`.

use connector_runtime::prelude::*;

use super::py_json;

pub const BUYING_TYPES: &[&str] = &["AUCTION", "RESERVATION_TOP_VIEW", "RESERVATION_RF"];

/// Every advertiser partition with every buying type.
pub fn per_buying_type(per_advertiser: PartitionRouter) -> PartitionRouter {
    PartitionRouter::Cartesian(vec![
        per_advertiser,
        PartitionRouter::list("buying_type", BUYING_TYPES.iter().map(|t| json!(t))),
    ])
}

/// The `filtering` parameter: every `secondary_status` with `include_deleted`, then the
/// partition's buying type.
pub fn filtering(include_deleted: bool) -> impl Fn(&Slice) -> Result<String> + Send + Sync {
    move |s: &Slice| {
        let mut f = serde_json::Map::new();
        if include_deleted {
            f.insert("secondary_status".into(), json!("CAMPAIGN_STATUS_ALL"));
        }
        f.insert(
            "buying_types".into(),
            json!([s.get_str("buying_type").unwrap_or_default()]),
        );
        Ok(py_json(&Value::Object(f)))
    }
}
