//! A stream as a declaration: the CDK's declarative stream, in typed Rust.
//!
//! A [`DeclarativeStream`] composes a partition router, a retriever (requester + paginator +
//! record selector), a record filter, transformations and an optional incremental cursor.
//! The engine ([`crate::sync`]) owns everything that happens between them: windows, state,
//! concurrency, checkpointing. A source crate is a list of these declarations plus a few
//! custom components for true quirks.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use futures::stream::BoxStream;
use serde_json::Value;

use crate::batch::PartitionGrouping;
use crate::context::StreamContext;
use crate::datetime::{CursorFormat, Window};
use crate::error::{Error, Result};
use crate::http::{Expect, HandlerChain, HttpRequest, Outcome, Requester};
use crate::partition::{Partition, PartitionRouter};
use crate::state::StateShape;
use crate::template::RequestTemplate;

/// One unit of requesting: a partition and, for incremental streams, a date window.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub partition: Partition,
    pub window: Option<Window>,
}

impl Slice {
    /// A partition value as text (numbers are written out): `slice.get_str("advertiser_id")`.
    pub fn get_str(&self, key: &str) -> Option<String> {
        match self.partition.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// A value of the parent partition (`parent_slice`), one level up.
    pub fn parent_str(&self, key: &str) -> Option<String> {
        match self.partition.get("parent_slice")?.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    pub fn start(&self) -> Option<DateTime<Utc>> {
        self.window.map(|w| w.start)
    }

    pub fn end(&self) -> Option<DateTime<Utc>> {
        self.window.map(|w| w.end)
    }
}

/// Produces the raw records of one slice.
pub trait Retriever: Send + Sync {
    fn read<'a>(&'a self, ctx: &'a StreamContext, slice: &'a Slice)
        -> BoxStream<'a, Result<Value>>;

    /// The first request this retriever would send for `slice`, without sending it, when it
    /// has one: lets a declaration be compared with another (a template with the closure it
    /// replaces) request for request.
    fn first_request(&self, _slice: &Slice) -> Option<Result<HttpRequest>> {
        None
    }
}

/// Builds the first request of a slice.
pub type RequestBuilder = Arc<dyn Fn(&Slice) -> HttpRequest + Send + Sync>;

/// How a [`SimpleRetriever`] builds the first request of a slice: a closure (a quirk, or a
/// stream not yet declared as data) or a [`RequestTemplate`] the runtime renders. Both
/// convert with `into()`, so streams move to templates one at a time.
#[derive(Clone)]
pub enum RequestSpec {
    Builder(RequestBuilder),
    Template(Arc<RequestTemplate>),
}

impl RequestSpec {
    pub fn build(&self, slice: &Slice) -> Result<HttpRequest> {
        match self {
            RequestSpec::Builder(f) => Ok(f(slice)),
            RequestSpec::Template(t) => t.render(slice),
        }
    }
}

impl<F> From<F> for RequestSpec
where
    F: Fn(&Slice) -> HttpRequest + Send + Sync + 'static,
{
    fn from(f: F) -> Self {
        RequestSpec::Builder(Arc::new(f))
    }
}

impl From<RequestTemplate> for RequestSpec {
    fn from(t: RequestTemplate) -> Self {
        RequestSpec::Template(Arc::new(t))
    }
}

/// How to get the next page.
#[derive(Clone)]
pub enum Paginator {
    /// One request per slice.
    None,
    /// `page=2, 3, …` after a first request without `page`; `page_size` on every request;
    /// stops on a page with fewer raw records than `page_size`, and on the last page the
    /// answer's totals announce ([`Paginator::stop_on_totals`]), which spares the empty page a
    /// full last page would otherwise cost.
    PageNumber {
        page_param: String,
        size_param: String,
        page_size: usize,
        /// Where an answer gives the number of pages (`data.page_info.total_page`).
        total_pages: Option<Vec<String>>,
        /// Where an answer gives the number of records (`data.page_info.total_number`).
        total_records: Option<Vec<String>>,
    },
    /// A token in the body (`bookmark`), sent back as a query parameter; stops when the
    /// token is missing, null or empty.
    BodyToken { path: Vec<String>, param: String },
    /// A full URL in the body (JSON:API `links.next`), requested as given.
    NextUrl { path: Vec<String> },
}

impl Paginator {
    pub fn page_number(page_size: usize) -> Self {
        Paginator::PageNumber {
            page_param: "page".into(),
            size_param: "page_size".into(),
            page_size,
            total_pages: None,
            total_records: None,
        }
    }

    /// For a page-number paginator: also stops once the page read is the last one by the
    /// answer's totals: its number reached the total number of pages (at `pages`, dotted), or
    /// the raw records read so far reached the total number of records (at `records`). A
    /// total that is missing or not a number is ignored, so the short-page stop still ends an
    /// answer without totals, and a total of 0 beside a full page (a contradiction) is not
    /// trusted either.
    pub fn stop_on_totals(self, pages: &str, records: &str) -> Self {
        let path = |p: &str| Some(p.split('.').map(str::to_string).collect());
        match self {
            Paginator::PageNumber {
                page_param,
                size_param,
                page_size,
                ..
            } => Paginator::PageNumber {
                page_param,
                size_param,
                page_size,
                total_pages: path(pages),
                total_records: path(records),
            },
            other => other,
        }
    }

    pub fn body_token(path: &str, param: &str) -> Self {
        Paginator::BodyToken {
            path: path.split('.').map(str::to_string).collect(),
            param: param.into(),
        }
    }

    pub fn next_url(path: &str) -> Self {
        Paginator::NextUrl {
            path: path.split('.').map(str::to_string).collect(),
        }
    }
}

/// Which part of a response holds the records.
#[derive(Clone)]
pub enum RecordSelector {
    /// A path of keys; `*` iterates over an array or an object's values. The value found is
    /// one record if it is an object, many if it is an array, none if null or missing.
    Path(Vec<String>),
    Custom(Arc<dyn Fn(Value) -> Result<Vec<Value>> + Send + Sync>),
}

impl RecordSelector {
    pub fn path(path: &str) -> Self {
        if path.is_empty() {
            return RecordSelector::Path(Vec::new());
        }
        RecordSelector::Path(path.split('.').map(str::to_string).collect())
    }

    /// What an answer must hold for this selector to read it: the keys of the path up to the
    /// first `*` (a page without them is unreadable, not empty). Custom selectors ask for JSON
    /// only; their retriever may declare more ([`SimpleRetriever::expect`]).
    pub fn expectation(&self) -> Expect {
        match self {
            RecordSelector::Path(p) => {
                let fixed: Vec<String> = p.iter().take_while(|k| *k != "*").cloned().collect();
                if fixed.is_empty() {
                    Expect::Json
                } else {
                    Expect::JsonAt(fixed)
                }
            }
            RecordSelector::Custom(_) => Expect::Json,
        }
    }

    pub fn select(&self, body: Value) -> Result<Vec<Value>> {
        match self {
            RecordSelector::Path(p) => {
                let mut out = Vec::new();
                select_into(body, p, &mut out);
                Ok(out)
            }
            RecordSelector::Custom(f) => f(body),
        }
    }
}

fn select_into(v: Value, path: &[String], out: &mut Vec<Value>) {
    match path.split_first() {
        None => match v {
            Value::Array(items) => out.extend(items.into_iter().filter(|i| !i.is_null())),
            Value::Null => {}
            other => out.push(other),
        },
        Some((k, rest)) if k == "*" => match v {
            Value::Array(items) => items.into_iter().for_each(|i| select_into(i, rest, out)),
            Value::Object(m) => m.into_iter().for_each(|(_, i)| select_into(i, rest, out)),
            _ => {}
        },
        Some((k, rest)) => {
            if let Value::Object(mut m) = v {
                if let Some(child) = m.remove(k.as_str()) {
                    select_into(child, rest, out);
                }
            }
        }
    }
}

/// A non-negative count in an answer (`12` or `"12"`).
fn as_count(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn value_at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(k.as_str()))
}

/// The CDK's simple retriever: request, paginate, select.
#[derive(Clone)]
pub struct SimpleRetriever {
    pub requester: Requester,
    pub request: RequestSpec,
    pub paginator: Paginator,
    pub selector: RecordSelector,
    /// Rules for this stream in front of the requester's own.
    pub handlers: Option<HandlerChain>,
    /// Where the API reports the total number of records (ESTIMATE traces).
    pub total_path: Option<Vec<String>>,
    /// What every page must hold; `None`: what the selector reads
    /// ([`RecordSelector::expectation`]).
    pub expect: Option<Expect>,
}

impl SimpleRetriever {
    /// `request` is a closure `|s: &Slice| HttpRequest` or a [`RequestTemplate`].
    pub fn new(requester: &Requester, request: impl Into<RequestSpec>) -> Self {
        SimpleRetriever {
            requester: requester.clone(),
            request: request.into(),
            paginator: Paginator::None,
            selector: RecordSelector::Path(Vec::new()),
            handlers: None,
            total_path: None,
            expect: None,
        }
    }

    pub fn paginator(mut self, p: Paginator) -> Self {
        self.paginator = p;
        self
    }

    pub fn selector(mut self, s: RecordSelector) -> Self {
        self.selector = s;
        self
    }

    pub fn records_at(self, path: &str) -> Self {
        self.selector(RecordSelector::path(path))
    }

    /// Stream-specific response rules, tried before the requester's.
    pub fn handlers(mut self, h: HandlerChain) -> Self {
        let chain = h.then(self.requester.handlers());
        self.handlers = Some(chain);
        self
    }

    /// Declares what every page must hold, in place of what the selector reads (a custom
    /// selector's records path; [`Expect::Anything`] for an endpoint that may answer empty).
    pub fn expect(mut self, expect: Expect) -> Self {
        self.expect = Some(expect);
        self
    }

    pub fn total_at(mut self, path: &str) -> Self {
        self.total_path = Some(path.split('.').map(str::to_string).collect());
        self
    }

    /// Reads every page of a slice, yielding records as each page arrives.
    pub fn pages<'a>(
        &'a self,
        ctx: &'a StreamContext,
        slice: &'a Slice,
    ) -> BoxStream<'a, Result<Value>> {
        Box::pin(async_stream::try_stream! {
            let mut first = self
                .request
                .build(slice)
                .map_err(|e| e.context(&format!("Stream {}: ", ctx.stream)))?;
            // A page that lacks its records is retried and then fails the slice; it never
            // passes as an empty last page (see `Expect`).
            if first.expect == Expect::Json {
                first.expect = self.expect.clone().unwrap_or_else(|| self.selector.expectation());
                // The plain path selector reads exactly the list there: its records can stay
                // text until each is read, instead of a whole page parsed at once.
                first.raw_records = self.expect.is_none()
                    && matches!(&self.selector, RecordSelector::Path(p) if !p.contains(&"*".to_string()));
            }
            let mut req = first.clone();
            if let Paginator::PageNumber { size_param, page_size, .. } = &self.paginator {
                req.query.push((size_param.clone(), page_size.to_string()));
            }
            let mut page: u64 = 1;
            // Raw records of this slice so far, against a total the API announces.
            let mut read_so_far: u64 = 0;
            let mut first_page = true;
            // Tokens and links already followed in this slice: an API that points back to a
            // page already read would otherwise be paginated forever.
            let mut followed: std::collections::HashSet<String> = std::collections::HashSet::new();
            loop {
                let outcome = match &self.handlers {
                    Some(h) => self.requester.send_with(&req, h).await?,
                    None => self.requester.send(&req).await?,
                };
                let (body, raw) = match outcome {
                    Outcome::Success(r) => (r.body, r.records),
                    Outcome::Ignored { .. } => break,
                };
                if first_page {
                    first_page = false;
                    if let Some(p) = &self.total_path {
                        if let Some(n) = value_at(&body, p).and_then(Value::as_i64) {
                            ctx.add_estimate(n);
                        }
                    }
                }
                // The totals a page-number answer announces (pages, records), when asked for.
                let totals = match &self.paginator {
                    Paginator::PageNumber { total_pages, total_records, .. } => {
                        let total = |p: &Option<Vec<String>>| {
                            p.as_ref().and_then(|p| value_at(&body, p)).and_then(as_count)
                        };
                        (total(total_pages), total(total_records))
                    }
                    _ => (None, None),
                };
                let next = match &self.paginator {
                    Paginator::None => None,
                    Paginator::PageNumber { .. } => Some(None),
                    Paginator::BodyToken { path, param } => value_at(&body, path)
                        .and_then(|t| match t {
                            Value::String(s) if !s.is_empty() => Some(s.clone()),
                            Value::Number(n) => Some(n.to_string()),
                            _ => None,
                        })
                        .map(|token| {
                            let mut r = first.clone();
                            r.query.push((param.clone(), token));
                            Some(r)
                        }),
                    Paginator::NextUrl { path } => value_at(&body, path)
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(|u| {
                            let mut r = first.clone();
                            r.url = u.to_string();
                            r.query.clear();
                            Some(r)
                        }),
                };
                let count = match raw {
                    Some(raw) => {
                        let count = raw.len();
                        for r in raw {
                            yield r?;
                        }
                        count
                    }
                    None => {
                        let records = self.selector.select(body)?;
                        let count = records.len();
                        for r in records {
                            yield r;
                        }
                        count
                    }
                };
                match (&self.paginator, next) {
                    (Paginator::PageNumber { page_param, size_param, page_size, .. }, _) => {
                        read_so_far += count as u64;
                        let (pages, records) = totals;
                        if count < *page_size
                            // A total of 0 beside a full page contradicts itself: read on.
                            || pages.is_some_and(|t| t > 0 && page >= t)
                            || records.is_some_and(|t| t > 0 && read_so_far >= t)
                        {
                            break;
                        }
                        page += 1;
                        let mut r = first.clone();
                        r.query.push((size_param.clone(), page_size.to_string()));
                        r.query.push((page_param.clone(), page.to_string()));
                        req = r;
                    }
                    (_, Some(Some(r))) => {
                        let key = format!("{} {:?}", r.url, r.query);
                        if !followed.insert(key) {
                            Err(Error::system(format!(
                                "The API pointed back to a page already read while paginating {}; \
                                 stopping instead of reading it again",
                                first.url.split('?').next().unwrap_or_default()
                            )))?;
                        }
                        req = r;
                    }
                    _ => break,
                }
            }
        })
    }
}

impl Retriever for SimpleRetriever {
    fn read<'a>(
        &'a self,
        ctx: &'a StreamContext,
        slice: &'a Slice,
    ) -> BoxStream<'a, Result<Value>> {
        self.pages(ctx, slice)
    }

    fn first_request(&self, slice: &Slice) -> Option<Result<HttpRequest>> {
        Some(self.request.build(slice))
    }
}

/// Decides whether a record is kept.
pub type RecordFilter = Arc<dyn Fn(&Value, &Slice) -> bool + Send + Sync>;
/// Rewrites a record in place.
pub type Transformation = Arc<dyn Fn(&mut Value, &Slice) + Send + Sync>;
/// Rewrites an incoming stream state before it is read (the CDK's state migrations).
pub type StateMigration = Arc<dyn Fn(Value) -> Value + Send + Sync>;

/// A transformation that needs the network (extra requests per record).
#[async_trait]
pub trait Enricher: Send + Sync {
    async fn enrich(&self, ctx: &StreamContext, record: Value, slice: &Slice) -> Result<Value>;
}

/// How records are compared with the start of a client-side incremental window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFilter {
    /// Keep `cursor >= start`.
    GreaterOrEqual,
    /// Keep `cursor > start`.
    GreaterThan,
}

/// A datetime cursor: the CDK's `DatetimeBasedCursor` with its per-partition wrapper.
#[derive(Clone)]
pub struct Incremental {
    /// Top-level field of the (transformed) record holding the cursor value.
    pub cursor_field: String,
    /// How cursor values are written in state and read from records and state.
    pub format: CursorFormat,
    pub shape: StateShape,
    /// Where a partition without state starts.
    pub start: DateTime<Utc>,
    /// No window starts before this (an API's history limit); also clamps state.
    pub min_start: Option<DateTime<Utc>>,
    /// Where the last window ends.
    pub end: DateTime<Utc>,
    /// Window length; `None` = one window for the whole range.
    pub step: Option<Duration>,
    /// The smallest unit of the cursor: a window ends one granularity before the next starts.
    pub granularity: Duration,
    /// Re-read this much before the saved cursor.
    pub lookback: Duration,
    /// Client-side filtering of records against the window start (`None`: the API filters).
    pub client_filter: Option<ClientFilter>,
    /// Keep records that lack the cursor value when filtering client-side.
    pub keep_missing_cursor: bool,
    /// Filter client-side in full-refresh reads too (and when read as a parent).
    pub filter_in_full_refresh: bool,
    /// The API returns a window's records in ascending cursor order (a `sort` parameter):
    /// the engine may then checkpoint inside a long window every this many records.
    pub checkpoint_every: Option<usize>,
    /// How many windows of one partition may be in flight at once: the one being emitted and
    /// up to `concurrent_windows - 1` read ahead (1: one window after another). Records are
    /// still emitted, and the cursor still advances, in window order (see
    /// [`Incremental::concurrent_windows`]).
    pub concurrent_windows: usize,
}

impl Incremental {
    /// A cursor over `[start, end]` in one window, written in `format`.
    pub fn new(
        cursor_field: &str,
        format: CursorFormat,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Self {
        Incremental {
            cursor_field: cursor_field.to_string(),
            format,
            shape: StateShape::Flat,
            start,
            min_start: None,
            end,
            step: None,
            granularity: Duration::seconds(1),
            lookback: Duration::zero(),
            client_filter: None,
            keep_missing_cursor: false,
            filter_in_full_refresh: false,
            checkpoint_every: None,
            concurrent_windows: 1,
        }
    }

    pub fn per_partition(mut self, parent_state: bool) -> Self {
        self.shape = StateShape::PerPartition { parent_state };
        self
    }

    pub fn step(mut self, step: Duration, granularity: Duration) -> Self {
        self.step = Some(step);
        self.granularity = granularity;
        self
    }

    pub fn lookback(mut self, lookback: Duration) -> Self {
        self.lookback = lookback;
        self
    }

    pub fn min_start(mut self, min: DateTime<Utc>) -> Self {
        self.min_start = Some(min);
        self
    }

    /// Declares that records arrive sorted by the cursor, ascending, so that a long window
    /// can be checkpointed every `records` records (see [`Incremental::checkpoint_every`]).
    /// This is a promise about the API (a `sort` parameter it honours): the engine stops
    /// checkpointing a window at the first record it sees out of order, but a checkpoint
    /// written before that record showed up cannot be taken back.
    pub fn sorted(mut self, records: usize) -> Self {
        self.checkpoint_every = Some(records.max(1));
        self
    }

    /// Lets the engine read up to `windows - 1` windows of a partition ahead of the one it is
    /// emitting, as the CDK's concurrent cursor reads slices concurrently: a partition of many
    /// windows (a week of events at a time over months) then costs about the latency of its
    /// slowest window rather than the sum of all of them. Records are emitted and the cursor
    /// advanced strictly in window order, so records and states are exactly those of a
    /// sequential read; a window read ahead buffers a bounded number of records, and takes a
    /// worker permit only when one is free (it never makes another partition wait). Only for
    /// windows the API can serve independently and whose quota leaves room for more requests
    /// at once; a quota-bound stream gains nothing from it.
    pub fn concurrent_windows(mut self, windows: usize) -> Self {
        self.concurrent_windows = windows.max(1);
        self
    }

    pub fn client_side(mut self, filter: ClientFilter) -> Self {
        self.client_filter = Some(filter);
        self
    }

    /// Keeps records that carry no cursor value when filtering client-side (an entity that
    /// was never updated may lack the field; dropping it would lose it for good).
    pub fn keep_missing_cursor(mut self) -> Self {
        self.keep_missing_cursor = true;
        self
    }

    /// Filters client-side in full-refresh reads and parent reads too, for APIs that cannot
    /// narrow a list by date and whose connector promises `cursor >= start` records only.
    pub fn filter_in_full_refresh(mut self) -> Self {
        self.filter_in_full_refresh = true;
        self
    }
}

/// One stream, fully declared.
#[derive(Clone)]
pub struct DeclarativeStream {
    pub name: String,
    pub schema: Value,
    pub primary_key: Vec<Vec<String>>,
    pub router: PartitionRouter,
    /// Reads several partitions with one request ([`PartitionGrouping`]); `None`: one request
    /// per partition.
    pub grouping: Option<PartitionGrouping>,
    pub retriever: Arc<dyn Retriever>,
    pub filters: Vec<RecordFilter>,
    pub transformations: Vec<Transformation>,
    pub enricher: Option<Arc<dyn Enricher>>,
    /// Coerce record values to the declared schema types.
    pub normalize: bool,
    /// Leave out top-level fields whose value is null, as the CDK's record serialization does.
    pub drop_top_level_nulls: bool,
    pub incremental: Option<Incremental>,
    pub state_migration: Option<StateMigration>,
}

impl DeclarativeStream {
    pub fn new(name: &str, schema: Value, retriever: impl Retriever + 'static) -> Self {
        DeclarativeStream {
            name: name.to_string(),
            schema,
            primary_key: Vec::new(),
            router: PartitionRouter::Single,
            grouping: None,
            retriever: Arc::new(retriever),
            filters: Vec::new(),
            transformations: Vec::new(),
            enricher: None,
            normalize: false,
            drop_top_level_nulls: false,
            incremental: None,
            state_migration: None,
        }
    }

    /// Primary key of single fields (`["id"]`, `["ad_id", "stat_time_day"]`).
    pub fn primary_key(mut self, fields: &[&str]) -> Self {
        self.primary_key = fields.iter().map(|f| vec![f.to_string()]).collect();
        self
    }

    pub fn router(mut self, router: PartitionRouter) -> Self {
        self.router = router;
        self
    }

    /// Reads up to `grouping.group_size` partitions with one request, for an API that takes
    /// a list of ids where the router makes one partition per id: fewer requests against the
    /// API's quota, the same records and the same per-partition state (see [`crate::batch`]).
    /// Applies to `read`; a stream read as a parent or by `check` still requests partition by
    /// partition.
    pub fn group_partitions(mut self, grouping: PartitionGrouping) -> Self {
        self.grouping = Some(grouping);
        self
    }

    pub fn filter(mut self, f: impl Fn(&Value, &Slice) -> bool + Send + Sync + 'static) -> Self {
        self.filters.push(Arc::new(f));
        self
    }

    pub fn transform(mut self, t: impl Fn(&mut Value, &Slice) + Send + Sync + 'static) -> Self {
        self.transformations.push(Arc::new(t));
        self
    }

    pub fn enrich(mut self, e: impl Enricher + 'static) -> Self {
        self.enricher = Some(Arc::new(e));
        self
    }

    pub fn normalize(mut self) -> Self {
        self.normalize = true;
        self
    }

    /// Emits records without their top-level null fields, as the CDK writes records (it
    /// serializes a record omitting `None` values). Applied last, after normalisation, so a
    /// null that a transformation or the enricher produced is dropped too; nested nulls stay.
    pub fn drop_top_level_nulls(mut self) -> Self {
        self.drop_top_level_nulls = true;
        self
    }

    pub fn incremental(mut self, inc: Incremental) -> Self {
        self.incremental = Some(inc);
        self
    }

    pub fn migrate_state(mut self, m: impl Fn(Value) -> Value + Send + Sync + 'static) -> Self {
        self.state_migration = Some(Arc::new(m));
        self
    }

    pub fn into_arc(self) -> Arc<Self> {
        Arc::new(self)
    }

    /// Applies filters, transformations, enrichment, normalisation and null dropping to one
    /// raw record.
    /// Returns `None` when a filter drops it.
    pub async fn process(
        &self,
        ctx: &StreamContext,
        mut record: Value,
        slice: &Slice,
    ) -> Result<Option<Value>> {
        if !self.filters.iter().all(|f| f(&record, slice)) {
            return Ok(None);
        }
        for t in &self.transformations {
            t(&mut record, slice);
        }
        if let Some(e) = &self.enricher {
            record = e.enrich(ctx, record, slice).await?;
        }
        if self.normalize {
            crate::transform::normalize(&mut record, &self.schema);
        }
        if self.drop_top_level_nulls {
            crate::transform::drop_top_level_nulls(&mut record);
        }
        if !record.is_object() {
            return Err(Error::system(format!(
                "stream {} produced a record that is not a JSON object",
                self.name
            )));
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selector_follows_paths_and_wildcards() {
        let s = RecordSelector::path("data.list");
        assert_eq!(
            s.select(json!({"data": {"list": [{"a": 1}, {"a": 2}]}}))
                .unwrap()
                .len(),
            2
        );
        assert!(s.select(json!({"data": {}})).unwrap().is_empty());
        let s = RecordSelector::path("*.*");
        let got = s
            .select(json!({"123": [{"r": 1}, {"r": 2}], "456": [{"r": 3}]}))
            .unwrap();
        assert_eq!(got, vec![json!({"r": 1}), json!({"r": 2}), json!({"r": 3})]);
        let s = RecordSelector::path("");
        assert_eq!(
            s.select(json!({"one": 1})).unwrap(),
            vec![json!({"one": 1})]
        );
    }
}
