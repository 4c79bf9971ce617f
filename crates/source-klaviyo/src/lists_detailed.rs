//! `lists_detailed`: one `GET lists/{id}` per list, skipped for lists that have not changed.
//!
//! The detail endpoint is in Klaviyo's smallest tier (15 requests a minute), and the stream is
//! filtered client-side on `updated`: a list whose `updated` (as the `lists` endpoint reports
//! it) is not later than the partition's starting cursor would be requested only to be
//! dropped. The partition router remembers each parent list's `updated`, and the retriever
//! yields nothing for such a list without asking the API. Records and state are exactly those
//! of requesting every list; partitions stay `{"id": "<list id>", "parent_slice": {}}`.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use connector_runtime::prelude::*;
use futures::stream::BoxStream;
use futures::StreamExt;

type Seen = Arc<Mutex<HashMap<String, DateTime<Utc>>>>;

/// Partitions from the parent `lists` stream, remembering each list's `updated`.
pub struct ListPartitions {
    parent: Arc<DeclarativeStream>,
    format: CursorFormat,
    seen: Seen,
}

/// Requests a list's details only when the list changed after the slice's start.
pub struct ChangedListsOnly {
    inner: SimpleRetriever,
    seen: Seen,
}

/// The router and retriever of `lists_detailed`, sharing what the router saw.
pub fn components(
    parent: Arc<DeclarativeStream>,
    format: CursorFormat,
    inner: SimpleRetriever,
) -> (PartitionRouter, ChangedListsOnly) {
    let seen: Seen = Arc::default();
    let router = ListPartitions {
        parent,
        format,
        seen: seen.clone(),
    };
    (
        PartitionRouter::Custom(Arc::new(router)),
        ChangedListsOnly { inner, seen },
    )
}

#[async_trait]
impl CustomRouter for ListPartitions {
    async fn partitions(&self, ctx: &Arc<SyncContext>) -> Result<Vec<Partition>> {
        let mut out: Vec<Partition> = Vec::new();
        let mut records = read_parent(ctx.clone(), self.parent.clone());
        while let Some(item) = records.next().await {
            let (_, record) = item?;
            let Some(id) = record.get("id").and_then(Value::as_str) else {
                continue;
            };
            if let Some(updated) = record.get("updated").and_then(|v| self.format.parse(v)) {
                if let Ok(mut seen) = self.seen.lock() {
                    seen.insert(id.to_string(), updated);
                }
            }
            let p = partition([("id", Value::from(id)), ("parent_slice", json!({}))]);
            if !out.contains(&p) {
                out.push(p);
            }
        }
        Ok(out)
    }
}

impl Retriever for ChangedListsOnly {
    fn read<'a>(
        &'a self,
        ctx: &'a StreamContext,
        slice: &'a Slice,
    ) -> BoxStream<'a, Result<Value>> {
        let unchanged = match (slice.start(), slice.get_str("id")) {
            (Some(start), Some(id)) => self
                .seen
                .lock()
                .ok()
                .and_then(|seen| seen.get(&id).copied())
                .is_some_and(|updated| updated <= start),
            _ => false,
        };
        if unchanged {
            return Box::pin(futures::stream::empty());
        }
        self.inner.read(ctx, slice)
    }
}
