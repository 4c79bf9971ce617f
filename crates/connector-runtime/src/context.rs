//! The contexts components read with: what every stream of one run shares ([`SyncContext`])
//! and what a retriever, enricher or partition router sees while reading one stream
//! ([`StreamContext`]).
//!
//! They live apart from the engine ([`crate::sync`]) so that components (retrievers,
//! partition routers, enrichers) can depend on them without depending on the engine that
//! drives those components.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};

use airbyte_protocol::AirbyteMessage;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio::sync::{OnceCell, Semaphore};

use crate::env::RunEnv;
use crate::output::Output;
use crate::partition::Partition;

/// A substream partition and the parent fields kept with it.
pub(crate) type KeptPartition = (Partition, Map<String, Value>);

/// What every stream of one run shares.
pub struct SyncContext {
    pub output: Output,
    pub env: RunEnv,
    pub(crate) workers: Arc<Semaphore>,
    /// Substream partitions per parent read, each with the parent fields its routers keep.
    pub(crate) partition_cache:
        tokio::sync::Mutex<HashMap<String, Arc<OnceCell<Vec<KeptPartition>>>>>,
    estimates: StdMutex<HashMap<String, i64>>,
}

impl SyncContext {
    pub fn new(output: Output, env: RunEnv, workers: usize) -> Arc<Self> {
        Arc::new(SyncContext {
            output,
            env,
            workers: Arc::new(Semaphore::new(workers.max(1))),
            partition_cache: tokio::sync::Mutex::new(HashMap::new()),
            estimates: StdMutex::new(HashMap::new()),
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.env.clock.now()
    }

    /// Context for reading `stream`.
    pub fn stream(self: &Arc<Self>, stream: &str) -> StreamContext {
        StreamContext {
            sync: self.clone(),
            stream: stream.to_string(),
        }
    }

    /// Adds `n` to the records the API announced for `stream` and reports the new total.
    pub(crate) fn add_estimate(&self, stream: &str, n: i64) {
        let total = {
            let Ok(mut e) = self.estimates.lock() else {
                return;
            };
            let t = e.entry(stream.to_string()).or_insert(0);
            *t += n;
            *t
        };
        self.output.emit(&AirbyteMessage::estimate(
            stream,
            total,
            self.env.clock.now_millis(),
        ));
    }
}

/// What a retriever or enricher sees while reading one stream.
#[derive(Clone)]
pub struct StreamContext {
    pub sync: Arc<SyncContext>,
    pub stream: String,
}

impl StreamContext {
    /// Reports that the API announced `n` more records for this stream (ESTIMATE trace).
    pub fn add_estimate(&self, n: i64) {
        self.sync.add_estimate(&self.stream, n);
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.sync.now()
    }

    pub fn env(&self) -> &RunEnv {
        &self.sync.env
    }
}
