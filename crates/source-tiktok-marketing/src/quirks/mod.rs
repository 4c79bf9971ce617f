//! TikTok's quirks: what the runtime's generic components do not cover, each in its own
//! module, each named where a stream uses it (see the table in [`crate::streams`]).
//!
//! - [`json_params`]: JSON-valued query parameters written with Python's separators;
//! - [`requester`]: result codes inside HTTP 200 bodies, the official retry and rate budget;
//! - [`advertisers`]: advertiser partitioning (one configured advertiser, else every one the
//!   token sees) and the advertiser listing streams;
//! - [`report_records`]: report records reshaped (dimensions at the top level, `"-"` metrics);
//! - [`campaigns`], [`ads`], [`spark_ads`], [`pixels`]: one stream's quirk each.

pub mod ads;
pub mod advertisers;
pub mod campaigns;
pub mod json_params;
pub mod pixels;
pub mod report_records;
pub mod requester;
pub mod spark_ads;

pub use json_params::{py_json, py_list};
