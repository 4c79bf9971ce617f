//! Partitions and partition routers.
//!
//! A partition is a small JSON object naming one independent unit of reading (an advertiser,
//! an ad account × status chunk, a campaign channel × archived flag). It is what per-partition
//! state is keyed by, so its JSON must equal the official connector's exactly, `parent_slice`
//! included. Routers produce the partitions of a stream for one sync, in the CDK's
//! vocabulary: a list router, a substream router over a parent stream's records, a cartesian
//! product of routers, or a custom one.
//!
//! A substream router may also keep named fields of each parent record next to the partition
//! ([`ParentFields`], the CDK's `extra_fields`): a child that needs more of its parent than the
//! key (a list's `updated`, to skip unchanged lists) reads them there, and the partition JSON -
//! hence the state - stays exactly the official one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::context::SyncContext;
use crate::error::Result;
use crate::stream::{DeclarativeStream, Slice};

pub type Partition = Map<String, Value>;

/// Builds a partition from pairs.
pub fn partition<const N: usize>(pairs: [(&str, Value); N]) -> Partition {
    let mut p = Map::new();
    for (k, v) in pairs {
        p.insert(k.to_string(), v);
    }
    canonical(&p)
}

/// The partition with object keys sorted at every depth, as the CDK serialises them.
pub fn canonical(p: &Partition) -> Partition {
    let mut keys: Vec<&String> = p.keys().collect();
    keys.sort();
    let mut out = Map::new();
    for k in keys {
        out.insert(k.clone(), canonical_value(&p[k]));
    }
    out
}

fn canonical_value(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(canonical(m)),
        Value::Array(a) => Value::Array(a.iter().map(canonical_value).collect()),
        other => other.clone(),
    }
}

/// A router implemented by a source for a true quirk (batched ids, status chunks...).
#[async_trait]
pub trait CustomRouter: Send + Sync {
    async fn partitions(&self, ctx: &Arc<SyncContext>) -> Result<Vec<Partition>>;
}

/// Parent record fields kept by a [`SubstreamRouter`], per partition. Filled when the router
/// makes its partitions; shared by every clone of the router (hand a clone to the child's
/// retriever or transformations before the router goes into the stream).
#[derive(Clone, Default)]
pub struct ParentFields(Arc<Mutex<HashMap<String, Map<String, Value>>>>);

impl ParentFields {
    fn key(partition: &Partition) -> String {
        Value::Object(canonical(partition)).to_string()
    }

    /// Records the kept fields of one partition (a later parent record with the same
    /// partition overwrites the fields it carries).
    pub(crate) fn record(&self, partition: &Partition, fields: &Map<String, Value>) {
        if let Ok(mut kept) = self.0.lock() {
            let entry = kept.entry(Self::key(partition)).or_default();
            entry.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }

    /// Every kept field of `partition`.
    pub fn of(&self, partition: &Partition) -> Option<Map<String, Value>> {
        self.0.lock().ok()?.get(&Self::key(partition)).cloned()
    }

    /// One kept field of the slice's partition (`None` when the parent record lacked it).
    pub fn get(&self, slice: &Slice, name: &str) -> Option<Value> {
        let kept = self.0.lock().ok()?;
        kept.get(&Self::key(&slice.partition))?.get(name).cloned()
    }
}

/// Reads a parent stream and makes one partition per record.
#[derive(Clone)]
pub struct SubstreamRouter {
    pub parent: Arc<DeclarativeStream>,
    /// Path of the value in the parent record (`["id"]`).
    pub parent_key: Vec<String>,
    /// Key of that value in the partition (`"id"`, `"advertiser_id"`, `"metric_id"`).
    pub partition_field: String,
    /// Whether to write `"parent_slice": <parent partition>` into the partition (the CDK does).
    pub parent_slice: bool,
    /// Parent record fields kept next to each partition: (path in the record, name).
    pub keep: Vec<(Vec<String>, String)>,
    /// Where the kept fields go (see [`ParentFields`]).
    pub kept: ParentFields,
}

impl SubstreamRouter {
    pub fn new(parent: Arc<DeclarativeStream>, parent_key: &str, partition_field: &str) -> Self {
        SubstreamRouter {
            parent,
            parent_key: parent_key.split('.').map(str::to_string).collect(),
            partition_field: partition_field.to_string(),
            parent_slice: true,
            keep: Vec::new(),
            kept: ParentFields::default(),
        }
    }

    /// Also keeps the parent record's value at `path` (dotted) under `name`, next to the
    /// partition rather than in it. Null or missing values are not kept.
    pub fn keep_parent_field(mut self, path: &str, name: &str) -> Self {
        self.keep.push((
            path.split('.').map(str::to_string).collect(),
            name.to_string(),
        ));
        self
    }

    /// The kept parent fields, to read from the child's components.
    pub fn parent_fields(&self) -> ParentFields {
        self.kept.clone()
    }

    /// The fields to keep from one parent record.
    pub(crate) fn fields_of(&self, record: &Value) -> Map<String, Value> {
        self.keep
            .iter()
            .filter_map(|(path, name)| {
                let v = path.iter().try_fold(record, |cur, k| cur.get(k.as_str()))?;
                (!v.is_null()).then(|| (name.clone(), v.clone()))
            })
            .collect()
    }
}

#[derive(Clone)]
pub enum PartitionRouter {
    /// One empty partition: the stream is not partitioned.
    Single,
    /// One partition per value: `{key: value}`.
    List {
        key: String,
        values: Vec<Value>,
    },
    Substream(SubstreamRouter),
    /// Every combination of the routers' partitions, merged (later keys win).
    Cartesian(Vec<PartitionRouter>),
    Custom(Arc<dyn CustomRouter>),
}

impl PartitionRouter {
    pub fn list(key: &str, values: impl IntoIterator<Item = Value>) -> Self {
        PartitionRouter::List {
            key: key.to_string(),
            values: values.into_iter().collect(),
        }
    }

    pub fn substream(
        parent: Arc<DeclarativeStream>,
        parent_key: &str,
        partition_field: &str,
    ) -> Self {
        PartitionRouter::Substream(SubstreamRouter::new(parent, parent_key, partition_field))
    }

    /// Whether this router has no partitions of its own (for state shape decisions).
    pub fn is_single(&self) -> bool {
        matches!(self, PartitionRouter::Single)
    }

    /// The partitions of this router for one sync.
    pub fn partitions<'a>(
        &'a self,
        ctx: &'a Arc<SyncContext>,
    ) -> futures::future::BoxFuture<'a, Result<Vec<Partition>>> {
        Box::pin(async move {
            match self {
                PartitionRouter::Single => Ok(vec![Partition::new()]),
                PartitionRouter::List { key, values } => Ok(values
                    .iter()
                    .map(|v| {
                        let mut p = Partition::new();
                        p.insert(key.clone(), v.clone());
                        p
                    })
                    .collect()),
                PartitionRouter::Substream(s) => ctx.substream_partitions(s).await,
                PartitionRouter::Cartesian(routers) => {
                    let mut acc = vec![Partition::new()];
                    for r in routers {
                        let parts = r.partitions(ctx).await?;
                        let mut next = Vec::with_capacity(acc.len() * parts.len());
                        for a in &acc {
                            for p in &parts {
                                let mut m = a.clone();
                                m.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
                                next.push(canonical(&m));
                            }
                        }
                        acc = next;
                    }
                    Ok(acc)
                }
                PartitionRouter::Custom(c) => c.partitions(ctx).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys_at_every_depth() {
        let p = json!({"parent_slice": {"z": 1, "a": 2}, "advertiser_id": "1"});
        let c = canonical(p.as_object().unwrap());
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"advertiser_id":"1","parent_slice":{"a":2,"z":1}}"#
        );
    }
}
