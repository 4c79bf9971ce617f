//! Stream tables: what a source's streams share, declared once, and the row builder that makes
//! one stream from its name and request.
//!
//! A source is a table of streams that mostly agree: one requester, one paginator, one record
//! selector, one primary key, the same record clean-up. [`StreamDefaults`] holds those
//! source-wide choices; [`StreamDefaults::stream`] starts a row from a stream's name (which
//! also finds its schema in the source's [`Schemas`]) and request template, and the row says
//! only where the stream differs. A row ends with [`StreamBuilder::build`], which checks the
//! declaration (the template, the schema) before any request is sent.
//!
//! The vocabulary is the CDK's: requester, paginator, record selector, partition router,
//! transformations (including `AddFields`, [`StreamDefaults::cursor_from`]), cursor.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::datetime::{CursorFormat, DatetimeFormat};
use crate::error::{Error, Result};
use crate::http::{ErrorHandler, Expect, HandlerChain, Requester};
use crate::partition::PartitionRouter;
use crate::schemas::Schemas;
use crate::stream::{
    DeclarativeStream, Enricher, Incremental, Paginator, RecordSelector, Retriever,
    SimpleRetriever, Slice, StateMigration, Transformation,
};
use crate::template::RequestTemplate;
use crate::transform::add_field;

/// A query parameter every row sends after its own ([`StreamDefaults::query_last`]).
#[derive(Clone)]
enum LastParam {
    Template(String),
    Literal(String),
}

/// What the streams of one source share, set once; each row states only what differs.
///
/// Without further calls a row is read with the given requester in one request per
/// partition (no paginator), the whole answer as its record set, no primary key, a single
/// partition and records as the API writes them.
#[derive(Clone)]
pub struct StreamDefaults {
    schemas: Schemas,
    requester: Requester,
    paginator: Paginator,
    selector: RecordSelector,
    primary_key: Vec<String>,
    router: PartitionRouter,
    last_query: Vec<(String, LastParam)>,
    cursor_from: Option<String>,
    transformations: Vec<Transformation>,
    normalize: bool,
    drop_top_level_nulls: bool,
    cursor_format: CursorFormat,
    cursor_start: DateTime<Utc>,
    cursor_end: DateTime<Utc>,
}

impl StreamDefaults {
    /// Defaults over a source's schemas and its requester.
    pub fn new(schemas: Schemas, requester: &Requester) -> Self {
        StreamDefaults {
            schemas,
            requester: requester.clone(),
            paginator: Paginator::None,
            selector: RecordSelector::path(""),
            primary_key: Vec::new(),
            router: PartitionRouter::Single,
            last_query: Vec::new(),
            cursor_from: None,
            transformations: Vec::new(),
            normalize: false,
            drop_top_level_nulls: false,
            cursor_format: CursorFormat::new(DatetimeFormat::Rfc3339),
            cursor_start: DateTime::<Utc>::UNIX_EPOCH,
            cursor_end: requester.env().clock.now(),
        }
    }

    /// The requester of every row (a row may name another, [`StreamBuilder::requester`]).
    pub fn requester(mut self, requester: &Requester) -> Self {
        self.requester = requester.clone();
        self
    }

    pub fn paginator(mut self, paginator: Paginator) -> Self {
        self.paginator = paginator;
        self
    }

    pub fn selector(mut self, selector: RecordSelector) -> Self {
        self.selector = selector;
        self
    }

    /// The record selector as a path (`data`, `data.list`, `items`).
    pub fn records_at(self, path: &str) -> Self {
        self.selector(RecordSelector::path(path))
    }

    pub fn primary_key(mut self, fields: &[&str]) -> Self {
        self.primary_key = fields.iter().map(|f| f.to_string()).collect();
        self
    }

    pub fn router(mut self, router: PartitionRouter) -> Self {
        self.router = router;
        self
    }

    /// A query parameter (a template) every row sends after its own: an API that wants, say,
    /// the partition's account id last on every request. A row drops it with
    /// [`StreamBuilder::omit_query`].
    pub fn query_last(mut self, key: &str, template: &str) -> Self {
        self.last_query
            .push((key.to_string(), LastParam::Template(template.to_string())));
        self
    }

    /// A constant query parameter every row sends after its own (see [`Self::query_last`]).
    pub fn query_last_literal(mut self, key: &str, value: impl Into<String>) -> Self {
        self.last_query
            .push((key.to_string(), LastParam::Literal(value.into())));
        self
    }

    /// Records carry their cursor under `path` (JSON:API `attributes`): every incremental row
    /// copies `path.<cursor field>` to the top level first, the CDK's `AddFields`, since the
    /// engine reads cursors at the top level.
    pub fn cursor_from(mut self, path: &str) -> Self {
        self.cursor_from = Some(path.to_string());
        self
    }

    /// A transformation of every row, run before the row's own.
    pub fn transform(
        mut self,
        t: impl Fn(&mut serde_json::Value, &Slice) + Send + Sync + 'static,
    ) -> Self {
        self.transformations.push(Arc::new(t));
        self
    }

    /// Every row copies the value at `from` to `to` (the CDK's `AddFields`), before its own
    /// transformations.
    pub fn add_field(mut self, to: &str, from: &str) -> Self {
        self.transformations.push(add_field(to, from));
        self
    }

    /// Every row coerces its records to its schema's types.
    pub fn normalize(mut self) -> Self {
        self.normalize = true;
        self
    }

    /// Every row leaves out top-level null fields, as the CDK writes records.
    pub fn drop_top_level_nulls(mut self) -> Self {
        self.drop_top_level_nulls = true;
        self
    }

    /// How [`Self::cursor`] writes and reads cursor values, and the range it covers. Without
    /// this call a cursor runs from the Unix epoch to the run's clock, written RFC 3339.
    pub fn cursors(
        mut self,
        format: CursorFormat,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Self {
        self.cursor_format = format;
        self.cursor_start = start;
        self.cursor_end = end;
        self
    }

    /// A cursor on `field` over the defaults' range, in one window and a flat state; the row
    /// refines it (`.sorted(..)`, `.step(..)`, `.per_partition(..)`).
    pub fn cursor(&self, field: &str) -> Incremental {
        Incremental::new(
            field,
            self.cursor_format.clone(),
            self.cursor_start,
            self.cursor_end,
        )
    }

    /// The requester rows use unless they name another.
    pub fn base_requester(&self) -> &Requester {
        &self.requester
    }

    pub fn schemas(&self) -> Schemas {
        self.schemas
    }

    /// A row: stream `name`, whose schema is the file of that name, read with `request` and
    /// the defaults' requester, paginator and record selector.
    pub fn stream(&self, name: &str, request: RequestTemplate) -> StreamBuilder {
        StreamBuilder::new(self, name, Source::Simple(request))
    }

    /// `GET path`: [`Self::stream`] with a request that has only a path.
    pub fn get(&self, name: &str, path: &str) -> StreamBuilder {
        self.stream(name, RequestTemplate::get(path))
    }

    /// A row read by a retriever of its own (an asynchronous job, a quirk): the defaults'
    /// stream parts apply, their requester, paginator and record selector do not.
    pub fn custom(&self, name: &str, retriever: impl Retriever + 'static) -> StreamBuilder {
        StreamBuilder::new(self, name, Source::Custom(Arc::new(retriever)))
    }
}

/// Where a row's records come from.
enum Source {
    Simple(RequestTemplate),
    Custom(Arc<dyn Retriever>),
}

/// Wraps a row's simple retriever in a retriever of a quirk's (it decides per slice whether
/// and how to call the inner one).
type Wrap = Box<dyn FnOnce(SimpleRetriever) -> Arc<dyn Retriever>>;

/// One row of a stream table, being declared: the defaults plus what the row states.
pub struct StreamBuilder {
    name: String,
    schema_name: String,
    schemas: Schemas,
    source: Source,
    requester: Requester,
    paginator: Paginator,
    selector: RecordSelector,
    total_path: Option<String>,
    expect: Option<Expect>,
    handlers: Option<HandlerChain>,
    wrap: Option<Wrap>,
    last_query: Vec<(String, LastParam)>,
    /// The first retriever part a row set on a custom retriever, which would not apply.
    misplaced: Option<&'static str>,
    cursor_from: Option<String>,
    stream: DeclarativeStream,
}

/// A stand-in until [`StreamBuilder::build`] puts the real retriever in.
struct Unbuilt;

impl Retriever for Unbuilt {
    fn read<'a>(
        &'a self,
        _ctx: &'a crate::context::StreamContext,
        _slice: &'a Slice,
    ) -> futures::stream::BoxStream<'a, Result<serde_json::Value>> {
        Box::pin(futures::stream::once(async {
            Err(Error::system("a stream was read before it was built"))
        }))
    }
}

impl StreamBuilder {
    fn new(d: &StreamDefaults, name: &str, source: Source) -> Self {
        let mut stream = DeclarativeStream::new(name, serde_json::Value::Null, Unbuilt);
        stream.primary_key = d.primary_key.iter().map(|f| vec![f.clone()]).collect();
        stream.router = d.router.clone();
        stream.transformations = d.transformations.clone();
        stream.normalize = d.normalize;
        stream.drop_top_level_nulls = d.drop_top_level_nulls;
        StreamBuilder {
            name: name.to_string(),
            schema_name: name.to_string(),
            schemas: d.schemas,
            source,
            requester: d.requester.clone(),
            paginator: d.paginator.clone(),
            selector: d.selector.clone(),
            total_path: None,
            expect: None,
            handlers: None,
            wrap: None,
            last_query: d.last_query.clone(),
            misplaced: None,
            cursor_from: d.cursor_from.clone(),
            stream,
        }
    }

    /// Notes a retriever part set on a row whose retriever is its own.
    fn simple_only(&mut self, part: &'static str) {
        if matches!(self.source, Source::Custom(_)) && self.misplaced.is_none() {
            self.misplaced = Some(part);
        }
    }

    fn request(
        mut self,
        part: &'static str,
        f: impl FnOnce(RequestTemplate) -> RequestTemplate,
    ) -> Self {
        self.simple_only(part);
        if let Source::Simple(r) = self.source {
            self.source = Source::Simple(f(r));
        }
        self
    }

    /// The schema is another stream's file (a stream whose name is made at run time).
    pub fn schema_from(mut self, name: &str) -> Self {
        self.schema_name = name.to_string();
        self
    }

    pub fn requester(mut self, requester: &Requester) -> Self {
        self.simple_only("requester");
        self.requester = requester.clone();
        self
    }

    pub fn paginator(mut self, paginator: Paginator) -> Self {
        self.simple_only("paginator");
        self.paginator = paginator;
        self
    }

    pub fn selector(mut self, selector: RecordSelector) -> Self {
        self.simple_only("selector");
        self.selector = selector;
        self
    }

    pub fn records_at(self, path: &str) -> Self {
        self.selector(RecordSelector::path(path))
    }

    /// Where the first page reports the total number of records (ESTIMATE traces).
    pub fn total_at(mut self, path: &str) -> Self {
        self.simple_only("total_at");
        self.total_path = Some(path.to_string());
        self
    }

    /// What every page must hold, in place of what the selector reads
    /// ([`SimpleRetriever::expect`]).
    pub fn expect(mut self, expect: Expect) -> Self {
        self.simple_only("expect");
        self.expect = Some(expect);
        self
    }

    /// A response rule of this stream, tried before the requester's.
    pub fn handler(self, handler: impl ErrorHandler + 'static) -> Self {
        self.handlers(HandlerChain::new().with(handler))
    }

    /// Response rules of this stream, tried before the requester's.
    pub fn handlers(mut self, chain: HandlerChain) -> Self {
        self.simple_only("handlers");
        self.handlers = Some(match self.handlers.take() {
            Some(h) => h.then(&chain),
            None => chain,
        });
        self
    }

    /// A query parameter whose value is a template (`{partition.id}`, `{window.start:%Y}`).
    pub fn query(self, key: &str, template: &str) -> Self {
        self.request("query", |r| r.query(key, template))
    }

    /// A query parameter sent exactly as given.
    pub fn query_literal(self, key: &str, value: impl Into<String>) -> Self {
        self.request("query_literal", |r| r.query_literal(key, value))
    }

    /// A query parameter a quirk computes per slice.
    pub fn query_with(
        self,
        key: &str,
        value: impl Fn(&Slice) -> Result<String> + Send + Sync + 'static,
    ) -> Self {
        self.request("query_with", |r| r.query_with(key, value))
    }

    /// A header whose value is a template.
    pub fn header(self, key: &str, template: &str) -> Self {
        self.request("header", |r| r.header(key, template))
    }

    /// Leaves out a parameter the defaults send last ([`StreamDefaults::query_last`]).
    pub fn omit_query(mut self, key: &str) -> Self {
        self.last_query.retain(|(k, _)| k != key);
        self
    }

    /// Reads through a quirk's retriever around the row's simple one.
    pub fn wrap<R: Retriever + 'static>(
        mut self,
        f: impl FnOnce(SimpleRetriever) -> R + 'static,
    ) -> Self {
        self.simple_only("wrap");
        self.wrap = Some(Box::new(move |inner| {
            Arc::new(f(inner)) as Arc<dyn Retriever>
        }));
        self
    }

    /// The primary key, single fields (`&[]` for none).
    pub fn key(mut self, fields: &[&str]) -> Self {
        self.stream = self.stream.primary_key(fields);
        self
    }

    pub fn router(mut self, router: PartitionRouter) -> Self {
        self.stream.router = router;
        self
    }

    pub fn filter(
        mut self,
        f: impl Fn(&serde_json::Value, &Slice) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.stream = self.stream.filter(f);
        self
    }

    pub fn transform(
        mut self,
        t: impl Fn(&mut serde_json::Value, &Slice) + Send + Sync + 'static,
    ) -> Self {
        self.stream = self.stream.transform(t);
        self
    }

    /// Copies the value at `from` to `to` (the CDK's `AddFields`), after the transformations
    /// declared so far.
    pub fn add_field(mut self, to: &str, from: &str) -> Self {
        self.stream.transformations.push(add_field(to, from));
        self
    }

    pub fn enrich(mut self, e: impl Enricher + 'static) -> Self {
        self.stream = self.stream.enrich(e);
        self
    }

    pub fn normalize(mut self) -> Self {
        self.stream.normalize = true;
        self
    }

    pub fn incremental(mut self, cursor: Incremental) -> Self {
        self.stream.incremental = Some(cursor);
        self
    }

    /// Partitions that share a request ([`crate::batch::PartitionGrouping`]).
    pub fn group_partitions(mut self, grouping: crate::batch::PartitionGrouping) -> Self {
        self.stream = self.stream.group_partitions(grouping);
        self
    }

    pub fn migrate_state(
        mut self,
        m: impl Fn(serde_json::Value) -> serde_json::Value + Send + Sync + 'static,
    ) -> Self {
        self.stream.state_migration = Some(Arc::new(m) as StateMigration);
        self
    }

    /// Applies a source's rule that sets several parts at once, or some only under a condition
    /// of the config (`.apply(s.deleted("ADGROUP_STATUS_ALL"))`), without breaking the row.
    pub fn apply(self, rule: impl FnOnce(Self) -> Self) -> Self {
        rule(self)
    }

    /// The declared stream. A malformed request template, a missing schema or a retriever
    /// part set on a custom retriever is a system error here, before any request.
    pub fn build(self) -> Result<Arc<DeclarativeStream>> {
        let name = self.name;
        let fail = |e: Error| e.context(&format!("Stream {name}: "));
        if let Some(part) = self.misplaced {
            return Err(fail(Error::system(format!(
                "{part} was set, but the stream is read by a retriever of its own"
            ))));
        }
        let mut stream = self.stream;
        stream.schema = self.schemas.get(&self.schema_name).map_err(fail)?;
        stream.retriever = match self.source {
            Source::Custom(r) => r,
            Source::Simple(mut request) => {
                for (key, value) in self.last_query {
                    request = match value {
                        LastParam::Template(t) => request.query(&key, &t),
                        LastParam::Literal(v) => request.query_literal(&key, v),
                    };
                }
                let mut r = SimpleRetriever::new(&self.requester, request.checked().map_err(fail)?)
                    .paginator(self.paginator)
                    .selector(self.selector);
                if let Some(path) = &self.total_path {
                    r = r.total_at(path);
                }
                if let Some(expect) = self.expect {
                    r = r.expect(expect);
                }
                if let Some(h) = self.handlers {
                    r = r.handlers(h);
                }
                match self.wrap {
                    Some(wrap) => wrap(r),
                    None => Arc::new(r),
                }
            }
        };
        if let (Some(path), Some(cursor)) = (&self.cursor_from, &stream.incremental) {
            let field = &cursor.cursor_field;
            let lift = add_field(field, &format!("{path}.{field}"));
            stream.transformations.insert(0, lift);
        }
        Ok(stream.into_arc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::RunEnv;
    use crate::partition::partition;
    use serde_json::{json, Value};

    static DIR: include_dir::Dir<'static> = include_dir::Dir::new(
        "",
        &[
            include_dir::DirEntry::File(include_dir::File::new(
                "things.json",
                br#"{"type": "object"}"#,
            )),
            include_dir::DirEntry::File(include_dir::File::new(
                "others.json",
                br#"{"type": "object", "title": "others"}"#,
            )),
        ],
    );

    fn defaults() -> StreamDefaults {
        let env = RunEnv::default().with_var("AIRBYTE_TEST_NOW", "2024-06-10T00:00:00Z");
        let requester = Requester::new("http://127.0.0.1:9/api/", "UNUSED_BASE_URL", &env)
            .expect("a requester");
        StreamDefaults::new(Schemas::new(&DIR), &requester)
            .paginator(Paginator::next_url("links.next"))
            .records_at("data")
            .primary_key(&["id"])
            .query_last("account", "{partition.account}")
            .query_last_literal("page_size", "250")
            .cursor_from("attributes")
            .drop_top_level_nulls()
    }

    fn slice() -> Slice {
        Slice {
            partition: partition([("account", json!("a1"))]),
            window: None,
        }
    }

    fn query(stream: &DeclarativeStream) -> Vec<(String, String)> {
        let request = stream.retriever.first_request(&slice()).expect("a request");
        request.expect("renders").query
    }

    fn transformed(stream: &DeclarativeStream, mut record: Value) -> Value {
        for t in &stream.transformations {
            t(&mut record, &slice());
        }
        record
    }

    #[test]
    fn a_row_gets_the_defaults_and_its_schema_by_name() {
        let d = defaults();
        let s = d
            .get("things", "things")
            .query_literal("sort", "updated")
            .build()
            .expect("a stream");
        assert_eq!(s.name, "things");
        assert_eq!(s.schema, json!({"type": "object"}));
        assert_eq!(s.primary_key, vec![vec!["id".to_string()]]);
        assert!(s.drop_top_level_nulls && !s.normalize);
        assert_eq!(
            query(&s),
            vec![
                ("sort".to_string(), "updated".to_string()),
                ("account".to_string(), "a1".to_string()),
                ("page_size".to_string(), "250".to_string()),
            ]
        );
        let s = d
            .get("others", "others")
            .omit_query("page_size")
            .key(&[])
            .build()
            .expect("a stream");
        assert_eq!(query(&s), vec![("account".to_string(), "a1".to_string())]);
        assert!(s.primary_key.is_empty());
        let s = d
            .get("renamed_at_run_time", "x")
            .schema_from("others")
            .build()
            .expect("a stream");
        assert_eq!(s.schema["title"], "others");
    }

    #[test]
    fn the_cursor_is_lifted_before_the_rows_own_transformations() {
        let d = defaults().cursors(
            CursorFormat::new(DatetimeFormat::Rfc3339),
            DateTime::<Utc>::UNIX_EPOCH,
            DateTime::<Utc>::UNIX_EPOCH,
        );
        let s = d
            .get("things", "things")
            .incremental(d.cursor("updated"))
            .transform(|r, _| {
                let seen = r.get("updated").cloned().unwrap_or(Value::Null);
                r["seen"] = seen;
            })
            .add_field("copy", "attributes.name")
            .build()
            .expect("a stream");
        let r = transformed(
            &s,
            json!({"id": 1, "attributes": {"updated": "t", "name": "n"}}),
        );
        assert_eq!(r["updated"], "t");
        assert_eq!(r["seen"], "t");
        assert_eq!(r["copy"], "n");
        // Without a cursor there is nothing to lift.
        let s = d.get("things", "things").build().expect("a stream");
        assert!(s.transformations.is_empty());
    }

    #[test]
    fn a_cursor_without_a_declared_range_runs_from_the_epoch_to_the_runs_clock() {
        let c = defaults().cursor("updated");
        assert_eq!(c.start, DateTime::<Utc>::UNIX_EPOCH);
        assert_eq!(c.end.to_rfc3339(), "2024-06-10T00:00:00+00:00");
    }

    #[test]
    fn declaration_errors_name_the_stream_before_any_request() {
        let d = defaults();
        let missing = d.get("nothing", "x").build().err().expect("no schema");
        assert!(
            missing
                .message()
                .contains("Stream nothing: no schema is embedded"),
            "{}",
            missing.message()
        );
        let bad = d
            .get("things", "x/{partition")
            .build()
            .err()
            .expect("bad template");
        assert!(
            bad.message().starts_with("Stream things: "),
            "{}",
            bad.message()
        );
        let inner = d.get("things", "x").build().expect("a stream");
        let misplaced = d
            .custom("things", Unbuilt)
            .router(inner.router.clone())
            .paginator(Paginator::None)
            .build()
            .err()
            .expect("a paginator on a custom retriever");
        assert!(
            misplaced.message().contains("paginator was set"),
            "{}",
            misplaced.message()
        );
        assert!(d.custom("things", Unbuilt).build().is_ok());
    }
}
