//! The engine: reads configured streams concurrently, partition by partition and window by
//! window, and checkpoints.
//!
//! Guarantees, in order of importance:
//! - nothing is lost: a STATE message is written only after every record it covers (records
//!   and state travel through the same ordered output, and a partition's cursor advances only
//!   when a whole window has been emitted);
//! - a failing stream stops alone: its remaining partitions are cancelled, its last safe state
//!   is written, it is reported INCOMPLETE with a TRACE error, and the other streams go on;
//! - concurrency is bounded: partitions of all streams share one pool of `workers` permits,
//!   and records of one partition keep their order;
//! - nothing is buffered whole: records flow from each page straight to the output.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use std::collections::{HashMap, HashSet};

use airbyte_protocol::{
    AirbyteMessage, ConfiguredAirbyteCatalog, StateMessage, StreamStatus, SyncMode,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::{json, Value};
use tracing::instrument::WithSubscriber;

use crate::context::KeptPartition;
pub use crate::context::{StreamContext, SyncContext};
use crate::datetime::windows;
use crate::error::{Error, Result};
use crate::partition::{canonical, Partition, SubstreamRouter};
use crate::state::CursorState;
use crate::stream::{ClientFilter, DeclarativeStream, Incremental, Slice};

mod grouped;
mod lookahead;

impl SyncContext {
    /// The partitions a substream router makes from its parent's records. Read once per run
    /// and shared by every child stream that asks for the same parent key.
    pub async fn substream_partitions(
        self: &Arc<Self>,
        s: &SubstreamRouter,
    ) -> Result<Vec<Partition>> {
        let kept: Vec<String> = s
            .keep
            .iter()
            .map(|(path, name)| format!("{}>{name}", path.join(".")))
            .collect();
        let key = format!(
            "{}|{}|{}|{}|{}",
            s.parent.name,
            s.parent_key.join("."),
            s.partition_field,
            s.parent_slice,
            kept.join(",")
        );
        let cell = {
            let mut cache = self.partition_cache.lock().await;
            cache.entry(key).or_default().clone()
        };
        let parts = cell
            .get_or_try_init(|| async {
                let mut out: Vec<KeptPartition> = Vec::new();
                let mut records = read_parent(self.clone(), s.parent.clone());
                while let Some(item) = records.next().await {
                    let (parent_partition, record) = item?;
                    let Some(value) = s
                        .parent_key
                        .iter()
                        .try_fold(&record, |cur, k| cur.get(k.as_str()))
                    else {
                        continue;
                    };
                    if value.is_null() {
                        continue;
                    }
                    let mut p = Partition::new();
                    p.insert(s.partition_field.clone(), value.clone());
                    if s.parent_slice {
                        p.insert("parent_slice".into(), Value::Object(parent_partition));
                    }
                    let p = canonical(&p);
                    let fields = s.fields_of(&record);
                    match out.iter_mut().find(|(known, _)| *known == p) {
                        Some((_, kept)) => kept.extend(fields),
                        None => out.push((p, fields)),
                    }
                }
                Ok::<_, Error>(out)
            })
            .await?;
        if !s.keep.is_empty() {
            for (p, fields) in parts {
                s.kept.record(p, fields);
            }
        }
        Ok(parts.iter().map(|(p, _)| p.clone()).collect())
    }
}

fn clamp(dt: DateTime<Utc>, min: Option<DateTime<Utc>>) -> DateTime<Utc> {
    match min {
        Some(m) if dt < m => m,
        _ => dt,
    }
}

/// The cursor value of one record, as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CursorValue {
    /// The field is absent or null: the stream decides ([`Incremental::keep_missing_cursor`]).
    Missing,
    /// The field holds something no accepted format parses. That is data the API did send,
    /// so the record is kept (a filter cannot place it) but it never moves the cursor, and
    /// the stream warns once with a count at its end.
    Unparseable,
    At(DateTime<Utc>),
}

impl CursorValue {
    fn of(inc: &Incremental, record: &Value) -> Self {
        match record.get(&inc.cursor_field) {
            None | Some(Value::Null) => CursorValue::Missing,
            Some(v) => inc
                .format
                .parse(v)
                .map_or(CursorValue::Unparseable, CursorValue::At),
        }
    }

    fn at(self) -> Option<DateTime<Utc>> {
        match self {
            CursorValue::At(c) => Some(c),
            _ => None,
        }
    }
}

fn keep_by_cursor(inc: &Incremental, cursor: CursorValue, from: DateTime<Utc>) -> bool {
    match (inc.client_filter, cursor) {
        (None, _) => true,
        (Some(_), CursorValue::Missing) => inc.keep_missing_cursor,
        (Some(_), CursorValue::Unparseable) => true,
        (Some(ClientFilter::GreaterOrEqual), CursorValue::At(c)) => c >= from,
        (Some(ClientFilter::GreaterThan), CursorValue::At(c)) => c > from,
    }
}

/// The one warning of a stream whose records had cursor values that could not be parsed.
fn warn_unparseable(stream: &str, inc: &Incremental, count: u64, what: &str) {
    if count == 0 {
        return;
    }
    let records = if count == 1 {
        "1 record".to_string()
    } else {
        format!("{count} records")
    };
    tracing::warn!(
        "{stream}: {records} had a {} that could not be parsed; {what}",
        inc.cursor_field
    );
}

/// The slices of one partition for a read without state: every window from the configured
/// start (full refresh, parents, `check`).
fn fresh_slices(stream: &DeclarativeStream, partition: &Partition) -> Vec<Slice> {
    match &stream.incremental {
        None => vec![Slice {
            partition: partition.clone(),
            window: None,
        }],
        Some(inc) => {
            // No saved cursor, so no lookback: like the CDK, a first read never starts
            // before the configured start.
            let from = clamp(inc.start, inc.min_start);
            windows(from, inc.end, inc.step, inc.granularity)
                .into_iter()
                .map(|w| Slice {
                    partition: partition.clone(),
                    window: Some(w),
                })
                .collect()
        }
    }
}

/// Every processed record of a stream read as a parent (full refresh, no output), with the
/// partition it came from.
pub fn read_parent(
    ctx: Arc<SyncContext>,
    stream: Arc<DeclarativeStream>,
) -> futures::stream::BoxStream<'static, Result<(Partition, Value)>> {
    Box::pin(async_stream::try_stream! {
        let sctx = ctx.stream(&stream.name);
        let partitions = stream.router.partitions(&ctx).await?;
        let mut unparseable = 0u64;
        for partition in partitions {
            for slice in fresh_slices(&stream, &partition) {
                let from = slice.start();
                let mut records = stream.retriever.read(&sctx, &slice);
                while let Some(r) = records.next().await {
                    let r = r?;
                    let Some(rec) = stream.process(&sctx, r, &slice).await? else { continue };
                    if let (Some(inc), Some(from)) = (&stream.incremental, from) {
                        if inc.filter_in_full_refresh {
                            let c = CursorValue::of(inc, &rec);
                            if c == CursorValue::Unparseable {
                                unparseable += 1;
                            }
                            if !keep_by_cursor(inc, c, from) {
                                continue;
                            }
                        }
                    }
                    yield (partition.clone(), rec);
                }
            }
        }
        if let Some(inc) = &stream.incremental {
            warn_unparseable(&stream.name, inc, unparseable, "they were kept as parents");
        }
    })
}

/// Checks a source by reading the first record (or the end) of the first slice of `stream`.
pub async fn check_stream(ctx: Arc<SyncContext>, stream: Arc<DeclarativeStream>) -> Result<()> {
    let sctx = ctx.stream(&stream.name);
    let partitions = stream.router.partitions(&ctx).await?;
    let Some(first) = partitions.first() else {
        return Err(Error::system(format!(
            "Cannot attempt to connect to stream {} - no stream slices were found",
            stream.name
        )));
    };
    let slices = fresh_slices(&stream, first);
    let slice = slices.into_iter().next().unwrap_or(Slice {
        partition: first.clone(),
        window: None,
    });
    let mut records = stream.retriever.read(&sctx, &slice);
    if let Some(r) = records.next().await {
        r?;
    }
    Ok(())
}

/// One configured stream to read.
pub struct StreamRequest {
    pub stream: Arc<DeclarativeStream>,
    pub sync_mode: SyncMode,
    /// The incoming state of the stream (already migrated), parsed before reading starts.
    pub state: Option<CursorState>,
}

/// Plans a `read`: one [`StreamRequest`] per stream of the configured catalog, in catalog
/// order. A stream the source does not have for this config is a config error (the user must
/// refresh the schema); a stream named twice is read once; `incremental` on a stream without a
/// cursor is read in full (with a warning), as the CDK does; each incremental stream's state
/// is parsed before anything is read, so a broken state fails the run before the first
/// request.
pub fn plan_read(
    streams: &[Arc<DeclarativeStream>],
    configured: &ConfiguredAirbyteCatalog,
    states: &HashMap<String, Value>,
    started: DateTime<Utc>,
) -> Result<Vec<StreamRequest>> {
    let known: HashSet<&str> = streams.iter().map(|s| s.name.as_str()).collect();
    let unknown: Vec<&str> = configured
        .streams
        .iter()
        .map(|c| c.stream.name.as_str())
        .filter(|n| !known.contains(n))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::config(format!(
            "The catalog names stream(s) this source does not have with this config: {}. \
             Refresh the source schema.",
            unknown.join(", ")
        )));
    }
    let mut requests = Vec::new();
    let mut seen = HashSet::new();
    for c in &configured.streams {
        if !seen.insert(c.stream.name.clone()) {
            continue;
        }
        let Some(stream) = streams.iter().find(|s| s.name == c.stream.name).cloned() else {
            continue;
        };
        let mode = if c.sync_mode == SyncMode::Incremental && stream.incremental.is_none() {
            tracing::warn!(
                "Stream {} does not support incremental sync; reading it in full",
                stream.name
            );
            SyncMode::FullRefresh
        } else {
            c.sync_mode
        };
        let state = prepare_state(&stream, mode, states.get(&stream.name), started)?;
        requests.push(StreamRequest {
            stream,
            sync_mode: mode,
            state,
        });
    }
    Ok(requests)
}

/// Parses the incoming state of a stream (after its migration). Errors are config errors.
pub fn prepare_state(
    stream: &DeclarativeStream,
    sync_mode: SyncMode,
    input: Option<&Value>,
    started: DateTime<Utc>,
) -> Result<Option<CursorState>> {
    let Some(inc) = &stream.incremental else {
        return Ok(None);
    };
    let input = if sync_mode == SyncMode::Incremental {
        input.cloned()
    } else {
        None
    };
    let input = match (input, &stream.state_migration) {
        (Some(v), Some(m)) if !v.is_null() => Some(m(v)),
        (v, _) => v,
    };
    CursorState::from_input(
        &inc.cursor_field,
        inc.format.clone(),
        inc.shape,
        input.as_ref(),
        started,
    )
    .map(Some)
    .map_err(|e| e.context(&format!("Stream {}: ", stream.name)))
}

/// Up to this many partitions, a STATE follows every completed window. Above it, an
/// intermediate STATE follows every `ceil(partitions / STATE_EVERY_PARTITIONS)` completed
/// windows: each per-partition state lists every partition, so emitting one per window would
/// cost O(partitions²) bytes over a sync; throttled, the total stays linear.
pub const STATE_EVERY_PARTITIONS: usize = 50;

/// How many completed windows an intermediate STATE waits for, given the partition count.
pub fn state_interval(partitions: usize) -> u64 {
    partitions.div_ceil(STATE_EVERY_PARTITIONS).max(1) as u64
}

struct StreamRun {
    stream: Arc<DeclarativeStream>,
    incremental: bool,
    state: StdMutex<Option<CursorState>>,
    records_since_state: AtomicU64,
    running: AtomicBool,
    /// Partitions of this stream in this sync (set once they are known).
    partitions: AtomicUsize,
    /// Windows completed so far, across partitions (drives the state throttle).
    windows_done: AtomicU64,
    /// Records emitted with a cursor value that could not be parsed (warned once, at the end).
    unparseable: AtomicU64,
}

impl StreamRun {
    /// Called after each completed window: emits an intermediate STATE when the throttle
    /// allows it (always, for streams with few partitions).
    fn window_done(&self, ctx: &SyncContext) {
        let done = self.windows_done.fetch_add(1, Ordering::SeqCst) + 1;
        let every = state_interval(self.partitions.load(Ordering::SeqCst));
        if done.checked_rem(every) == Some(0) {
            self.emit_state(ctx, false);
        }
    }

    fn emit_state(&self, ctx: &SyncContext, final_message: bool) {
        let Ok(guard) = self.state.lock() else { return };
        let value = match guard.as_ref() {
            Some(s) => s.to_json(ctx.now(), final_message),
            None => json!({"__ab_no_cursor_state_message": true}),
        };
        let count = self.records_since_state.swap(0, Ordering::SeqCst);
        // Emitted while holding the lock, so state messages of one stream never overtake
        // each other on the way out.
        ctx.output.emit(&AirbyteMessage::State {
            state: StateMessage::stream(&self.stream.name, value, count as f64),
        });
    }

    fn emit_record(&self, ctx: &SyncContext, record: Value) {
        if !self.running.swap(true, Ordering::SeqCst) {
            ctx.output.emit(&AirbyteMessage::stream_status(
                &self.stream.name,
                StreamStatus::Running,
                ctx.env.clock.now_millis(),
            ));
        }
        ctx.output.emit(&AirbyteMessage::record(
            &self.stream.name,
            record,
            ctx.env.clock.now_millis(),
        ));
        self.records_since_state.fetch_add(1, Ordering::SeqCst);
    }
}

impl StreamRun {
    /// Moves `partition`'s cursor to at least `base` and, when records were seen, to `to`.
    fn advance(&self, partition: &Partition, base: DateTime<Utc>, to: Option<DateTime<Utc>>) {
        if let Ok(mut s) = self.state.lock() {
            if let Some(s) = s.as_mut() {
                s.advance(partition, base);
                if let Some(to) = to {
                    s.advance(partition, to);
                    s.observe_record(to);
                }
            }
        }
    }

    /// Where `partition` starts: `base` is the cursor it holds at least once it has been read
    /// (the saved cursor, or the configured start), `from` the first instant requested (the
    /// lookback re-reads before a saved cursor only; a partition without one starts at the
    /// configured start, as the CDK does).
    fn partition_start(
        &self,
        inc: &Incremental,
        partition: &Partition,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        let saved = if self.incremental {
            self.state
                .lock()
                .ok()
                .and_then(|s| s.as_ref().and_then(|s| s.start_for(partition)))
        } else {
            None
        };
        let base = clamp(saved.unwrap_or(inc.start), inc.min_start);
        let from = match saved {
            Some(_) => clamp(base - inc.lookback, inc.min_start),
            None => base,
        };
        (base, from)
    }
}

/// Tracks, within one window whose records come sorted by the cursor, the largest cursor
/// value that is safe to checkpoint mid-window: every record at or below the largest value
/// *before* the current maximum has been emitted (ties of the maximum may still come). One
/// record out of order turns the mid-window checkpoints of this window off.
struct WindowProgress {
    max_seen: Option<DateTime<Utc>>,
    below_max: Option<DateTime<Utc>>,
    sorted: bool,
    since_checkpoint: usize,
    every: Option<usize>,
}

impl WindowProgress {
    fn new(every: Option<usize>) -> Self {
        WindowProgress {
            max_seen: None,
            below_max: None,
            sorted: every.is_some(),
            since_checkpoint: 0,
            every,
        }
    }

    /// Counts one emitted record; returns a cursor value to checkpoint at, when one is due.
    fn emitted(&mut self, cursor: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        if let Some(c) = cursor {
            match self.max_seen {
                Some(m) if c < m => self.sorted = false,
                Some(m) if c > m => self.below_max = Some(m),
                _ => {}
            }
            self.max_seen = Some(self.max_seen.map_or(c, |m| m.max(c)));
        }
        self.since_checkpoint += 1;
        match (self.sorted, self.every, self.below_max) {
            (true, Some(every), Some(safe)) if self.since_checkpoint >= every => {
                self.since_checkpoint = 0;
                Some(safe)
            }
            _ => None,
        }
    }
}

/// One of the run's worker permits: every partition (or group of partitions) reads holding one.
async fn worker(ctx: &SyncContext) -> Result<tokio::sync::OwnedSemaphorePermit> {
    ctx.workers
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| Error::system("the worker pool was closed"))
}

/// Reads one partition, holding one of the run's worker permits.
async fn read_partition(
    ctx: Arc<SyncContext>,
    run: Arc<StreamRun>,
    partition: Partition,
) -> Result<()> {
    let _permit = worker(&ctx).await?;
    let stream = run.stream.clone();
    let Some(inc) = &stream.incremental else {
        return read_slice(
            &ctx,
            &run,
            Slice {
                partition,
                window: None,
            },
        )
        .await;
    };
    let (base, from) = run.partition_start(inc, &partition);
    let ws = windows(from, inc.end, inc.step, inc.granularity);
    if ws.is_empty() {
        run.advance(&partition, base, None);
        return Ok(());
    }
    if inc.concurrent_windows > 1 && ws.len() > 1 {
        return lookahead::read_windows(&ctx, &run, inc, &partition, ws, base, from).await;
    }
    for w in ws {
        let slice = Slice {
            partition: partition.clone(),
            window: Some(w),
        };
        let max_seen = read_window(&ctx, &run, inc, &slice, base, from).await?;
        run.advance(&partition, base, max_seen);
        run.window_done(&ctx);
    }
    Ok(())
}

/// Reads a slice of a stream without a cursor: every record is emitted.
async fn read_slice(ctx: &Arc<SyncContext>, run: &StreamRun, slice: Slice) -> Result<()> {
    let stream = &run.stream;
    let sctx = ctx.stream(&stream.name);
    let mut records = stream.retriever.read(&sctx, &slice);
    while let Some(r) = records.next().await {
        if let Some(rec) = stream.process(&sctx, r?, &slice).await? {
            run.emit_record(ctx, rec);
        }
    }
    Ok(())
}

/// Reads one window of a partition of an incremental stream: emits the records the cursor
/// keeps, checkpoints inside windows of cursor-sorted records, and returns the largest cursor
/// value emitted (the caller advances the partition's cursor once the window is complete).
async fn read_window(
    ctx: &Arc<SyncContext>,
    run: &StreamRun,
    inc: &Incremental,
    slice: &Slice,
    base: DateTime<Utc>,
    from: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let stream = &run.stream;
    let sctx = ctx.stream(&stream.name);
    let mut emitter = WindowEmitter::new(inc, slice, base, from);
    let mut records = stream.retriever.read(&sctx, slice);
    while let Some(r) = records.next().await {
        if let Some(rec) = stream.process(&sctx, r?, slice).await? {
            emitter.emit(ctx, run, rec);
        }
    }
    Ok(emitter.max_seen())
}

/// Emits the processed records of one window in order: drops those the cursor does not keep
/// and checkpoints inside windows of cursor-sorted records. Shared by the sequential reader
/// and the look-ahead reader ([`lookahead`]), so both emit and checkpoint alike.
struct WindowEmitter<'a> {
    inc: &'a Incremental,
    partition: &'a Partition,
    base: DateTime<Utc>,
    from: DateTime<Utc>,
    progress: WindowProgress,
}

impl<'a> WindowEmitter<'a> {
    fn new(
        inc: &'a Incremental,
        slice: &'a Slice,
        base: DateTime<Utc>,
        from: DateTime<Utc>,
    ) -> Self {
        WindowEmitter {
            inc,
            partition: &slice.partition,
            base,
            from,
            progress: WindowProgress::new(inc.checkpoint_every),
        }
    }

    fn emit(&mut self, ctx: &SyncContext, run: &StreamRun, rec: Value) {
        let cursor = CursorValue::of(self.inc, &rec);
        if cursor == CursorValue::Unparseable {
            run.unparseable.fetch_add(1, Ordering::SeqCst);
        }
        if !keep_by_cursor(self.inc, cursor, self.from) {
            return;
        }
        run.emit_record(ctx, rec);
        if let Some(safe) = self.progress.emitted(cursor.at()) {
            run.advance(self.partition, self.base, Some(safe));
            run.emit_state(ctx, false);
        }
    }

    /// The largest cursor value emitted in the window.
    fn max_seen(&self) -> Option<DateTime<Utc>> {
        self.progress.max_seen
    }
}

async fn read_stream(ctx: Arc<SyncContext>, req: StreamRequest) -> Result<(), Error> {
    let name = req.stream.name.clone();
    let run = Arc::new(StreamRun {
        stream: req.stream.clone(),
        incremental: req.sync_mode == SyncMode::Incremental,
        state: StdMutex::new(req.state),
        records_since_state: AtomicU64::new(0),
        running: AtomicBool::new(false),
        partitions: AtomicUsize::new(0),
        windows_done: AtomicU64::new(0),
        unparseable: AtomicU64::new(0),
    });
    let partitions = req.stream.router.partitions(&ctx).await?;
    run.partitions.store(partitions.len(), Ordering::SeqCst);
    // The state lists partitions in router order, not in the order they happen to finish.
    if let Ok(mut s) = run.state.lock() {
        if let Some(s) = s.as_mut() {
            for p in &partitions {
                s.register(p);
            }
        }
    }
    tracing::info!("Reading stream {name}: {} partition(s)", partitions.len());
    let mut tasks = tokio::task::JoinSet::new();
    match &req.stream.grouping {
        Some(g) => {
            let groups = grouped::plan(&run, g, partitions)?;
            tracing::info!("Stream {name}: {} request group(s)", groups.len());
            for group in groups {
                tasks.spawn(
                    grouped::read_group(ctx.clone(), run.clone(), group).with_current_subscriber(),
                );
            }
        }
        None => {
            for p in partitions {
                tasks.spawn(read_partition(ctx.clone(), run.clone(), p).with_current_subscriber());
            }
        }
    }
    let mut failure: Option<Error> = None;
    while let Some(joined) = tasks.join_next().await {
        let result = joined.unwrap_or_else(|e| {
            Err(Error::system(format!(
                "a partition of stream {name} stopped unexpectedly: {e}"
            )))
        });
        if let Err(e) = result {
            failure = Some(e);
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            break;
        }
    }
    if let Some(inc) = &req.stream.incremental {
        warn_unparseable(
            &name,
            inc,
            run.unparseable.load(Ordering::SeqCst),
            "they were emitted without moving the cursor",
        );
    }
    run.emit_state(&ctx, failure.is_none());
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Reads every requested stream; returns the names and errors of the streams that failed.
pub async fn read(ctx: Arc<SyncContext>, requests: Vec<StreamRequest>) -> Vec<(String, Error)> {
    let mut tasks = tokio::task::JoinSet::new();
    for req in requests {
        let ctx = ctx.clone();
        let name = req.stream.name.clone();
        ctx.output.emit(&AirbyteMessage::stream_status(
            &name,
            StreamStatus::Started,
            ctx.env.clock.now_millis(),
        ));
        tasks.spawn(
            async move {
                let result = read_stream(ctx.clone(), req).await;
                let now = ctx.env.clock.now_millis();
                match &result {
                    Ok(()) => {
                        ctx.output.emit(&AirbyteMessage::stream_status(
                            &name,
                            StreamStatus::Complete,
                            now,
                        ));
                    }
                    Err(e) => {
                        tracing::error!("Stream {name} failed: {}", e.message());
                        ctx.output.emit(&AirbyteMessage::stream_status(
                            &name,
                            StreamStatus::Incomplete,
                            now,
                        ));
                        ctx.output.emit(&AirbyteMessage::error_trace(
                            e.message(),
                            e.internal().map(str::to_string),
                            e.failure_type(),
                            Some(&name),
                            now,
                        ));
                    }
                }
                (name, result)
            }
            .with_current_subscriber(),
        );
    }
    let mut failed = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((name, Err(e))) => failed.push((name, e)),
            Ok((_, Ok(()))) => {}
            Err(e) => failed.push((
                "?".to_string(),
                Error::system(format!("a stream stopped unexpectedly: {e}")),
            )),
        }
    }
    failed.sort_by(|a, b| a.0.cmp(&b.0));
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_interval_is_every_window_for_few_partitions_and_grows_with_many() {
        assert_eq!(state_interval(0), 1);
        assert_eq!(state_interval(1), 1);
        assert_eq!(state_interval(STATE_EVERY_PARTITIONS), 1);
        assert_eq!(state_interval(STATE_EVERY_PARTITIONS + 1), 2);
        assert_eq!(state_interval(1_000), 20);
        assert_eq!(state_interval(10_001), 201);
    }
}
