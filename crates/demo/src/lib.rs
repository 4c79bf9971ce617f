//! Try the connectors without credentials.
//!
//! [`sample_api`] serves realistic sample data for the TikTok Marketing, Pinterest and Klaviyo
//! APIs on 127.0.0.1; [`flow`] runs each connector's `spec`, `check`, `discover` and two
//! incremental `read`s against it through the production code paths; [`verify`] holds the
//! assertions the demo, its test and the image tests share.

pub mod flow;
pub mod sample_api;
pub mod verify;
