//! Reading the windows of one partition ahead of the one being emitted, the way the CDK's
//! concurrent cursor reads the slices of a partition at once, while the output stays exactly
//! that of a sequential read.
//!
//! Each window is read by its own task into a bounded channel. The partition's task (which
//! holds the partition's worker permit) emits the windows strictly in order: all records of a
//! window, then the cursor advance and the window's STATE, then the next window. So:
//!
//! - records and states are those of a sequential read: a STATE never covers a window that is
//!   not fully emitted, and mid-window checkpoints of sorted windows happen, as before, only
//!   in the window being emitted;
//! - a failure shows where a sequential read would have met it: a window's records before the
//!   error are emitted (once every earlier window is), then the partition fails, and no record
//!   of a later window is ever emitted (their readers are aborted with their buffers);
//! - memory is bounded: a window read ahead holds at most [`WINDOW_BUFFER`] records (plus the
//!   page its reader is walking) before its reader waits for the emitter;
//! - other partitions never starve and nothing deadlocks: the window being emitted is read
//!   under the partition's own permit, and a window is read ahead only with a permit that is
//!   free at that moment (`try_acquire`, which also never jumps the queue of partitions
//!   waiting for one). The emitter never waits for a permit, so it can always drain the
//!   readers that hold one.

use std::collections::VecDeque;
use std::iter::Peekable;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tracing::instrument::WithSubscriber;

use super::{StreamRun, WindowEmitter};
use crate::context::SyncContext;
use crate::datetime::Window;
use crate::error::{Error, Result};
use crate::partition::Partition;
use crate::stream::{Incremental, Slice};

/// Records a window read ahead may hold before its reader waits for the emitter (plus the
/// page its reader is walking, kept as text): about one page of the APIs that use look-ahead
/// (Klaviyo answers up to 200 events a page), never a whole window. Parsed records cost
/// several times their text, so the buffer stays small: three windows ahead of 200 events
/// each are a few MB.
pub(crate) const WINDOW_BUFFER: usize = 200;

/// One window being read by its own task. Dropping it aborts the task (the partition failed or
/// was cancelled: its buffered records are never emitted).
struct WindowReader {
    slice: Slice,
    records: mpsc::Receiver<Result<Value>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WindowReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WindowReader {
    /// Starts reading `slice`; `permit` is the extra worker permit of a window read ahead
    /// (`None` for the window being emitted, read under the partition's permit). The permit is
    /// released when the reader has read its last page.
    fn start(
        ctx: &Arc<SyncContext>,
        run: &StreamRun,
        slice: Slice,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        let (tx, records) = mpsc::channel(WINDOW_BUFFER);
        let stream = run.stream.clone();
        let sctx = ctx.stream(&stream.name);
        let task_slice = slice.clone();
        let task = tokio::spawn(
            async move {
                let _permit = permit;
                let mut raw = stream.retriever.read(&sctx, &task_slice);
                while let Some(r) = raw.next().await {
                    let processed = match r {
                        Ok(r) => stream.process(&sctx, r, &task_slice).await,
                        Err(e) => Err(e),
                    };
                    let failed = processed.is_err();
                    let item = match processed {
                        Ok(None) => continue,
                        Ok(Some(rec)) => Ok(rec),
                        Err(e) => Err(e),
                    };
                    // A closed channel means the emitter is gone: nothing left to do.
                    if tx.send(item).await.is_err() || failed {
                        return;
                    }
                }
            }
            .with_current_subscriber(),
        );
        WindowReader {
            slice,
            records,
            task,
        }
    }

    /// After the last record: whether the reader ended normally (a reader that panicked
    /// closes its channel too, and must not pass for a complete window).
    async fn finished(&mut self, stream: &str) -> Result<()> {
        (&mut self.task).await.map_err(|e| {
            Error::system(format!(
                "a window reader of stream {stream} stopped unexpectedly: {e}"
            ))
        })
    }
}

/// Reads the windows of one partition with up to `inc.concurrent_windows` of them in flight,
/// emitting them in order (see the module documentation).
pub(super) async fn read_windows(
    ctx: &Arc<SyncContext>,
    run: &StreamRun,
    inc: &Incremental,
    partition: &Partition,
    windows: Vec<Window>,
    base: DateTime<Utc>,
    from: DateTime<Utc>,
) -> Result<()> {
    let ahead = inc.concurrent_windows.saturating_sub(1);
    let mut pending = windows
        .into_iter()
        .map(|w| Slice {
            partition: partition.clone(),
            window: Some(w),
        })
        .peekable();
    let mut queued: VecDeque<WindowReader> = VecDeque::new();
    loop {
        let mut current = match queued.pop_front() {
            Some(reader) => reader,
            None => match pending.next() {
                Some(slice) => WindowReader::start(ctx, run, slice, None),
                None => break,
            },
        };
        read_ahead(ctx, run, ahead, &mut queued, &mut pending);
        let mut emitter = WindowEmitter::new(inc, &current.slice, base, from);
        while let Some(item) = current.records.recv().await {
            emitter.emit(ctx, run, item?);
            // Permits freed by other partitions meanwhile go to the next windows.
            read_ahead(ctx, run, ahead, &mut queued, &mut pending);
        }
        let max_seen = emitter.max_seen();
        current.finished(&run.stream.name).await?;
        run.advance(partition, base, max_seen);
        run.window_done(ctx);
    }
    Ok(())
}

/// Starts reading the next windows, up to `ahead` of them beyond the one being emitted, each
/// with a worker permit that is free right now; never waits for one.
fn read_ahead(
    ctx: &Arc<SyncContext>,
    run: &StreamRun,
    ahead: usize,
    queued: &mut VecDeque<WindowReader>,
    pending: &mut Peekable<impl Iterator<Item = Slice>>,
) {
    while queued.len() < ahead && pending.peek().is_some() {
        let Ok(permit) = ctx.workers.clone().try_acquire_owned() else {
            return;
        };
        let Some(slice) = pending.next() else { return };
        queued.push_back(WindowReader::start(ctx, run, slice, Some(permit)));
    }
}
