//! The engine's side of [`PartitionGrouping`]: reading a group of partitions with one request
//! per window while every partition keeps the cursor, records and checkpoints it has in an
//! ungrouped read (see [`crate::batch`]).

use super::*;
use crate::batch::{CursorStart, Group, PartitionGrouping};
use crate::datetime::Window;

impl StreamRun {
    /// Called after a window of `n` partitions completed together: counts `n` windows for
    /// the state throttle and emits an intermediate STATE when the count passed a multiple
    /// of the interval, as `n` calls of [`StreamRun::window_done`] would (once, not `n`
    /// times: the state after the last of them covers the others).
    fn windows_done(&self, ctx: &SyncContext, n: usize) {
        if n == 0 {
            return;
        }
        let n = n as u64;
        let before = self.windows_done.fetch_add(n, Ordering::SeqCst);
        let every = state_interval(self.partitions.load(Ordering::SeqCst));
        if (before + n) / every > before / every {
            self.emit_state(ctx, false);
        }
    }
}

/// Cuts the stream's partitions into groups. Each partition starts where an ungrouped read
/// would start it; one with no window left advances to its start at once, as an ungrouped
/// read does, and joins no group.
pub(super) fn plan(
    run: &StreamRun,
    grouping: &PartitionGrouping,
    partitions: Vec<Partition>,
) -> Result<Vec<Group>> {
    let mut pending = Vec::with_capacity(partitions.len());
    for p in partitions {
        match &run.stream.incremental {
            None => pending.push((p, None)),
            Some(inc) => {
                let (base, from) = run.partition_start(inc, &p);
                if windows(from, inc.end, inc.step, inc.granularity).is_empty() {
                    run.advance(&p, base, None);
                    continue;
                }
                pending.push((p, Some(CursorStart { base, from })));
            }
        }
    }
    grouping.plan(pending)
}

/// Reads one group, holding one of the run's worker permits: one request per window, each
/// row processed and emitted as its partition's record; after each window every member
/// advances its own cursor to what it emitted, as [`read_partition`] does for one partition.
pub(super) async fn read_group(
    ctx: Arc<SyncContext>,
    run: Arc<StreamRun>,
    group: Group,
) -> Result<()> {
    let _permit = super::worker(&ctx).await?;
    let stream = run.stream.clone();
    let sctx = ctx.stream(&stream.name);
    let inc = stream.incremental.as_ref();
    let ws: Vec<Option<Window>> = match (inc, group.from) {
        (Some(inc), Some(from)) => windows(from, inc.end, inc.step, inc.granularity)
            .into_iter()
            .map(Some)
            .collect(),
        _ => vec![None],
    };
    for window in ws {
        let request = Slice {
            partition: group.request.clone(),
            window,
        };
        let slices: Vec<Slice> = group
            .members
            .iter()
            .map(|m| Slice {
                partition: m.partition.clone(),
                window,
            })
            .collect();
        let mut progress: Vec<WindowProgress> = group
            .members
            .iter()
            .map(|_| WindowProgress::new(inc.and_then(|i| i.checkpoint_every)))
            .collect();
        let mut records = stream.retriever.read(&sctx, &request);
        while let Some(r) = records.next().await {
            let r = r?;
            let i = group
                .member_of(&r)
                .map_err(|e| e.context(&format!("Stream {}: ", stream.name)))?;
            let (slice, member) = (&slices[i], &group.members[i]);
            let Some(rec) = stream.process(&sctx, r, slice).await? else {
                continue;
            };
            let (Some(inc), Some(from), Some(base)) = (inc, group.from, member.base) else {
                run.emit_record(&ctx, rec);
                continue;
            };
            let cursor = CursorValue::of(inc, &rec);
            if cursor == CursorValue::Unparseable {
                run.unparseable.fetch_add(1, Ordering::SeqCst);
            }
            if !keep_by_cursor(inc, cursor, from) {
                continue;
            }
            run.emit_record(&ctx, rec);
            if let Some(safe) = progress[i].emitted(cursor.at()) {
                run.advance(&slice.partition, base, Some(safe));
                run.emit_state(&ctx, false);
            }
        }
        if inc.is_none() {
            continue;
        }
        for (member, progress) in group.members.iter().zip(&progress) {
            if let Some(base) = member.base {
                run.advance(&member.partition, base, progress.max_seen);
            }
        }
        run.windows_done(&ctx, group.members.len());
    }
    Ok(())
}
