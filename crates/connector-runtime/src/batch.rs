//! Partition grouping: several partitions of a stream read with one request.
//!
//! A substream router makes one partition per parent record (an ad, a campaign), and an
//! ungrouped read sends one request per partition and window. Many APIs take a list of ids
//! instead (Pinterest's analytics accept up to 250 `ad_ids` per request), so a stream with
//! thousands of small partitions spends its rate-limit quota on requests that each carry a
//! handful of rows.
//!
//! The declarative CDK's `GroupingPartitionRouter` (`group_size`) answers this by making each
//! group a partition of its own, which changes what the state is keyed by and ties the state to
//! how the groups happened to be cut. A [`PartitionGrouping`] groups at the *request* instead:
//! the router's partitions stay exactly what they are, each keeps its own cursor, and the
//! engine ([`crate::sync`]) merely reads up to `group_size` of them with one request:
//!
//! - partitions share a request only when they share the values of the `group_by` partition
//!   keys (one ad account: the same `parent_slice`) *and* their windows start at the same
//!   instant (windows are computed per partition, as an ungrouped read computes them, so a
//!   group's window `k` is the same interval for every member);
//! - the request is rendered once for the group, from a partition holding the members' ids
//!   joined with `,` in the grouping field and the `group_by` keys (a template's
//!   `{partition.id}` becomes `1,2,3`);
//! - every row of the answer names its partition (`split_by`, e.g. `AD_ID`) and is processed
//!   and emitted as that partition's record; a row naming no member fails the stream;
//! - once a window is complete, every member advances its own cursor exactly as an ungrouped
//!   read of that partition would, so the state is the same, byte for byte.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::partition::{canonical, Partition};

/// Reads up to `group_size` partitions of a stream with one request (see the module docs).
///
/// `PartitionGrouping::new("id", 250).group_by("parent_slice").split_by("AD_ID")`: partitions
/// of one parent partition, 250 at most, their `id`s joined into the request, rows assigned by
/// their `AD_ID`.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionGrouping {
    /// The partition key whose values are joined into the request (`id`).
    pub field: String,
    /// The most partitions one request may name (the API's id-list limit).
    pub group_size: usize,
    /// Partition keys whose values members of a group share (`parent_slice`): the only other
    /// keys the request may use, since they are the same for every member.
    pub group_by: Vec<String>,
    /// The path, in a raw row, of the value that names the row's partition.
    pub split_by: Vec<String>,
    /// What the ids are joined with.
    pub separator: String,
}

impl PartitionGrouping {
    /// Groups of at most `group_size` partitions (at least one), joined on `field`. Until
    /// [`PartitionGrouping::split_by`] says otherwise, rows are assigned by the row's `field`.
    pub fn new(field: &str, group_size: usize) -> Self {
        PartitionGrouping {
            field: field.to_string(),
            group_size: group_size.max(1),
            group_by: Vec::new(),
            split_by: vec![field.to_string()],
            separator: ",".to_string(),
        }
    }

    /// Only partitions with equal values of `key` share a request.
    pub fn group_by(mut self, key: &str) -> Self {
        self.group_by.push(key.to_string());
        self
    }

    /// The row field (dotted path) that names the partition a row belongs to.
    pub fn split_by(mut self, path: &str) -> Self {
        self.split_by = path.split('.').map(str::to_string).collect();
        self
    }

    /// Joins ids with `separator` instead of `,`.
    pub fn separator(mut self, separator: &str) -> Self {
        self.separator = separator.to_string();
        self
    }

    /// A partition's id as the request and the rows write it: text as is, numbers written out.
    fn id_of(&self, partition: &Partition) -> Result<String> {
        let id = match partition.get(&self.field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(Error::system(format!(
                    "partition {} has no text or number {} to group requests by",
                    Value::Object(partition.clone()),
                    self.field
                )))
            }
        };
        if id.is_empty() || id.contains(&self.separator) {
            return Err(Error::system(format!(
                "partition {} cannot share a request: its {} {id:?} is empty or holds the \
                 separator {:?}",
                Value::Object(partition.clone()),
                self.field,
                self.separator
            )));
        }
        Ok(id)
    }

    /// What partitions must share to be read together: their `group_by` values and the
    /// instant their windows start.
    fn key_of(&self, partition: &Partition, from: Option<DateTime<Utc>>) -> String {
        let values: Vec<Value> = self
            .group_by
            .iter()
            .map(|k| {
                partition
                    .get(k)
                    .map_or(Value::Null, |v| Value::Object(canonical(&wrap(v))))
            })
            .collect();
        format!("{}|{from:?}", Value::Array(values))
    }

    /// Cuts `partitions` (in router order, each with its cursor start if the stream has a
    /// cursor) into groups: a group holds up to `group_size` partitions of one grouping key
    /// and window start, in router order, and never the same id twice. Groups come in the
    /// order their first partition came.
    pub fn plan(
        &self,
        partitions: impl IntoIterator<Item = (Partition, Option<CursorStart>)>,
    ) -> Result<Vec<Group>> {
        let mut groups: Vec<Group> = Vec::new();
        // The group still being filled, per grouping key.
        let mut open: HashMap<String, usize> = HashMap::new();
        for (partition, start) in partitions {
            let id = self.id_of(&partition)?;
            let from = start.map(|s| s.from);
            let key = self.key_of(&partition, from);
            let current = open
                .get(&key)
                .copied()
                .filter(|i| groups[*i].has_room(self.group_size, &id));
            let i = match current {
                Some(i) => i,
                None => {
                    groups.push(Group {
                        request: self.request_base(&partition),
                        from,
                        members: Vec::new(),
                        index: HashMap::new(),
                        split_by: self.split_by.clone(),
                    });
                    open.insert(key, groups.len() - 1);
                    groups.len() - 1
                }
            };
            groups[i].push(Member {
                partition,
                id,
                base: start.map(|s| s.base),
            });
        }
        for g in &mut groups {
            let ids: Vec<&str> = g.members.iter().map(|m| m.id.as_str()).collect();
            let joined = ids.join(&self.separator);
            g.request.insert(self.field.clone(), Value::String(joined));
            g.request = canonical(&g.request);
        }
        Ok(groups)
    }

    /// The `group_by` values of a group's first partition: what its request may use besides
    /// the joined ids.
    fn request_base(&self, partition: &Partition) -> Partition {
        let mut p = Partition::new();
        for k in &self.group_by {
            if let Some(v) = partition.get(k) {
                p.insert(k.clone(), v.clone());
            }
        }
        p
    }
}

/// An object to compare a grouping value as a canonical JSON document.
fn wrap(v: &Value) -> Partition {
    let mut m = Partition::new();
    m.insert("v".to_string(), v.clone());
    m
}

/// Where a partition's reading starts, as the engine computes it for an ungrouped read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorStart {
    /// The cursor the partition holds at least once read (its saved cursor or the start).
    pub base: DateTime<Utc>,
    /// The first instant requested (the lookback re-reads before a saved cursor).
    pub from: DateTime<Utc>,
}

/// One partition of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub partition: Partition,
    /// The partition's id as the request writes it and rows name it.
    pub id: String,
    /// The cursor the partition holds at least once read (`None` for a stream without a
    /// cursor).
    pub base: Option<DateTime<Utc>>,
}

/// Partitions read with one request per window.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The partition the request is rendered from: the joined ids and the `group_by` keys.
    pub request: Partition,
    /// Where every member's windows start (`None` for a stream without a cursor).
    pub from: Option<DateTime<Utc>>,
    pub members: Vec<Member>,
    /// Member position by id.
    index: HashMap<String, usize>,
    split_by: Vec<String>,
}

impl Group {
    fn has_room(&self, size: usize, id: &str) -> bool {
        self.members.len() < size && !self.index.contains_key(id)
    }

    fn push(&mut self, member: Member) {
        self.index.insert(member.id.clone(), self.members.len());
        self.members.push(member);
    }

    /// How many ids the request named, for messages.
    fn requested(&self) -> String {
        match self.members.len() {
            1 => "1 id".to_string(),
            n => format!("{n} ids"),
        }
    }

    /// The member a raw row belongs to, by the row's `split_by` value (text, or a number
    /// written out). A row without one, or naming a partition the request did not ask for,
    /// is an error: assigning it anywhere would file a record under the wrong partition, and
    /// dropping it would lose it.
    pub fn member_of(&self, row: &Value) -> Result<usize> {
        let field = self.split_by.join(".");
        let value = self
            .split_by
            .iter()
            .try_fold(row, |cur, k| cur.get(k.as_str()));
        let id = match value {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(Error::system(format!(
                    "the API answered a row without a text or number {field}, so it cannot be \
                     told which partition it belongs to ({} requested)",
                    self.requested()
                )))
            }
        };
        self.index.get(&id).copied().ok_or_else(|| {
            Error::system(format!(
                "the API answered a row for {field} {id:?}, which the request did not ask for \
                 ({} requested)",
                self.requested()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datetime::parse_date;
    use crate::partition::partition;
    use serde_json::json;

    fn ad(id: Value, account: &str) -> Partition {
        partition([
            ("id", id),
            ("parent_slice", json!({"id": account, "parent_slice": {}})),
        ])
    }

    fn start(day: &str) -> Option<CursorStart> {
        let t = parse_date(day).expect("a date");
        Some(CursorStart { base: t, from: t })
    }

    fn ids(g: &Group) -> Vec<&str> {
        g.members.iter().map(|m| m.id.as_str()).collect()
    }

    fn grouping() -> PartitionGrouping {
        PartitionGrouping::new("id", 3)
            .group_by("parent_slice")
            .split_by("AD_ID")
    }

    #[test]
    fn groups_by_parent_and_window_start_up_to_the_group_size_in_router_order() {
        let parts = vec![
            (ad(json!("1"), "a1"), start("2024-01-01")),
            (ad(json!("2"), "a2"), start("2024-01-01")),
            (ad(json!("3"), "a1"), start("2024-01-01")),
            (ad(json!("4"), "a1"), start("2024-02-01")),
            (ad(json!("5"), "a1"), start("2024-01-01")),
            (ad(json!(6), "a1"), start("2024-01-01")),
            (ad(json!("7"), "a2"), start("2024-01-01")),
        ];
        let groups = grouping().plan(parts).unwrap();
        let got: Vec<Vec<&str>> = groups.iter().map(ids).collect();
        assert_eq!(
            got,
            vec![vec!["1", "3", "5"], vec!["2", "7"], vec!["4"], vec!["6"]]
        );
        assert_eq!(
            groups[0].request,
            partition([
                ("id", json!("1,3,5")),
                ("parent_slice", json!({"id": "a1", "parent_slice": {}}))
            ])
        );
        assert_eq!(groups[2].from, start("2024-02-01").map(|s| s.from));
        // A number id is written out, in the request and when matching rows.
        assert_eq!(groups[3].request["id"], json!("6"));
        assert_eq!(groups[3].member_of(&json!({"AD_ID": 6})).unwrap(), 0);
        assert_eq!(
            groups[3].members[0].base,
            start("2024-01-01").map(|s| s.base)
        );
    }

    #[test]
    fn without_a_cursor_partitions_group_by_key_alone() {
        let g = PartitionGrouping::new("id", 2);
        let groups = g
            .plan(vec![
                (partition([("id", json!("x"))]), None),
                (partition([("id", json!("y"))]), None),
                (partition([("id", json!("z"))]), None),
            ])
            .unwrap();
        let got: Vec<Vec<&str>> = groups.iter().map(ids).collect();
        assert_eq!(got, vec![vec!["x", "y"], vec!["z"]]);
        assert_eq!(groups[0].from, None);
        assert_eq!(groups[0].request, partition([("id", json!("x,y"))]));
        // Rows are assigned by the grouping field when no split field is named.
        assert_eq!(groups[0].member_of(&json!({"id": "y"})).unwrap(), 1);
    }

    #[test]
    fn the_same_id_twice_in_one_key_goes_to_another_group() {
        let g = PartitionGrouping::new("id", 10).group_by("parent_slice");
        let twice = vec![
            (
                partition([
                    ("id", json!("1")),
                    ("parent_slice", json!({})),
                    ("k", json!(1)),
                ]),
                None,
            ),
            (
                partition([
                    ("id", json!("1")),
                    ("parent_slice", json!({})),
                    ("k", json!(2)),
                ]),
                None,
            ),
        ];
        let groups = g.plan(twice).unwrap();
        assert_eq!(groups.len(), 2);
    }

    #[test]
    fn rows_of_other_ids_or_without_one_are_errors() {
        let groups = grouping()
            .plan(vec![
                (ad(json!("1"), "a1"), start("2024-01-01")),
                (ad(json!("2"), "a1"), start("2024-01-01")),
            ])
            .unwrap();
        let g = &groups[0];
        assert_eq!(g.member_of(&json!({"AD_ID": "2"})).unwrap(), 1);
        assert_eq!(g.member_of(&json!({"AD_ID": 1})).unwrap(), 0);
        let e = g.member_of(&json!({"AD_ID": "9"})).unwrap_err();
        assert_eq!(e.failure_type(), airbyte_protocol::FailureType::SystemError);
        assert!(e.message().contains("\"9\""), "{}", e.message());
        assert!(e.message().contains("(2 ids requested)"), "{}", e.message());
        let e = g.member_of(&json!({"DATE": "2024-01-01"})).unwrap_err();
        assert!(e.message().contains("without a text or number AD_ID"));
        assert!(g.member_of(&json!({"AD_ID": null})).is_err());
        assert!(g.member_of(&json!({"AD_ID": ["1"]})).is_err());
    }

    #[test]
    fn partitions_without_a_usable_id_are_errors() {
        let g = grouping();
        let no_id = partition([("parent_slice", json!({"id": "a1"}))]);
        assert!(g.plan(vec![(no_id, None)]).is_err());
        let e = g.plan(vec![(ad(json!("1,2"), "a1"), None)]).unwrap_err();
        assert!(e.message().contains("separator"), "{}", e.message());
        assert!(g.plan(vec![(ad(json!(""), "a1"), None)]).is_err());
    }

    #[test]
    fn a_group_size_of_zero_still_reads_one_partition_per_request() {
        let g = PartitionGrouping::new("id", 0);
        let groups = g
            .plan(vec![
                (partition([("id", json!("x"))]), None),
                (partition([("id", json!("y"))]), None),
            ])
            .unwrap();
        assert_eq!(groups.len(), 2);
    }
}
