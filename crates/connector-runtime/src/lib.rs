//! The shared runtime of the Airbyte source connectors in this workspace.
//!
//! Sources declare streams; this crate does everything else, once: the CLI contract
//! ([`cli`]), config/catalog/state files ([`config`]), HTTP with auth, budgets and retries
//! ([`http`]), request templates ([`template`]), pagination and record selection
//! ([`stream`]), stream tables with source-wide defaults ([`table`]) and schemas found by stream
//! name ([`schemas`]), partitions ([`partition`]) and requests
//! shared by partitions ([`batch`]), datetime cursors and per-partition state in
//! the official JSON shapes ([`datetime`], [`state`]), concurrency and checkpointing ([`sync`]), protocol output with secret masking
//! ([`output`], [`secrets`], [`logging`]), and the async retriever for APIs that prepare
//! records as jobs ([`async_retriever`]). The vocabulary is the Airbyte declarative CDK's.

pub mod async_retriever;
pub mod batch;
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod datetime;
pub mod env;
pub mod error;
pub mod http;
pub mod logging;
pub mod memory;
pub mod output;
pub mod partition;
pub mod schemas;
pub mod secrets;
pub mod source;
pub mod state;
pub mod stream;
pub mod sync;
pub mod table;
pub mod template;
pub mod transform;

pub use airbyte_protocol as protocol;
pub use error::{Error, Result};

/// Everything a source crate usually needs.
pub mod prelude {
    pub use crate::batch::PartitionGrouping;
    pub use crate::clock::Clock;
    pub use crate::context::{StreamContext, SyncContext};
    pub use crate::datetime::{parse_date, start_of_day, CursorFormat, DatetimeFormat, Window};
    pub use crate::env::RunEnv;
    pub use crate::error::{Error, Result};
    pub use crate::http::{
        ApiBudget, Authenticator, Backoff, Expect, HandlerChain, HeaderAuth, HttpRequest, Matcher,
        Method, NoAuth, OAuth2Refresh, OAuthPaths, OAuthSettings, Outcome, Rate, Requester,
        ResponseAction, ResponseView, RetryHeader, RetryPolicy,
    };
    pub use crate::partition::{
        canonical, partition, CustomRouter, ParentFields, Partition, PartitionRouter,
        SubstreamRouter,
    };
    pub use crate::schemas::Schemas;
    pub use crate::source::{schema, spec_from_json, Source, SourceContext};
    pub use crate::state::StateShape;
    pub use crate::stream::{
        ClientFilter, DeclarativeStream, Enricher, Incremental, Paginator, RecordSelector,
        RequestSpec, Retriever, SimpleRetriever, Slice,
    };
    pub use crate::sync::read_parent;
    pub use crate::table::{StreamBuilder, StreamDefaults};
    pub use crate::template::RequestTemplate;
    pub use crate::transform::{
        add_field, drop_top_level_nulls, get_path, normalize, remove_path, set_path,
    };
    pub use airbyte_protocol::FailureType;
    pub use chrono::{DateTime, Duration, Utc};
    pub use serde_json::{json, Value};
    pub use std::sync::Arc;
}
