//! Request templates: the requester's input declared as data, rendered by the runtime.
//!
//! Most streams request `GET <path>` with a few fixed parameters and a few values of the slice:
//! a partition key in the path, the window's dates in the query. Written as closures, each
//! stream re-implements value lookup, date formatting and "missing value" handling (usually
//! as an empty string sent to the API). A [`RequestTemplate`] states the request instead, and
//! the runtime renders it the same way for every stream:
//!
//! - `{partition.id}`, `{partition.parent_slice.id}`: a partition value (dotted path); text
//!   as is, numbers and booleans written out, arrays and objects as compact JSON;
//! - `{window.start:%Y-%m-%d}`, `{window.end:epoch}`: the slice's window, in a chrono
//!   `strftime` pattern or as epoch seconds (a format is required);
//! - `{parent.NAME}`: a parent record field kept by a substream router
//!   ([`crate::partition::SubstreamRouter::keep_parent_field`]), given with
//!   [`RequestTemplate::parent_fields`];
//! - `{{` and `}}`: literal braces.
//!
//! Values are inserted raw into query parameters, headers and JSON body strings (the
//! requester URL-encodes the query) and percent-encoded into the path, so a value can never
//! change the path's shape. Syntax, namespaces and date formats are checked when the template
//! is declared ([`RequestTemplate::checked`]); a value the slice does not have is an error when
//! rendering, never an empty string sent to the API, and never a panic.
//!
//! What the language deliberately leaves out: JSON-valued query parameters written in an
//! API's own spelling (TikTok's `advertiser_ids=["1"]` with Python separators) and filter
//! expressions with their own rules (Klaviyo's `filter`) are quirks of one API. Constant ones
//! are rendered once by the source and added with [`RequestTemplate::query_literal`];
//! per-slice ones with [`RequestTemplate::query_with`], a function of the slice.

use std::sync::Arc;

use chrono::format::{Item, StrftimeItems};
use serde_json::Value;

use crate::datetime::DatetimeFormat;
use crate::error::{Error, Result};
use crate::http::{HttpRequest, Method, RequestBody};
use crate::partition::ParentFields;
use crate::stream::Slice;

/// Where a placeholder's value comes from.
#[derive(Debug, Clone, PartialEq)]
enum Var {
    Partition(Vec<String>),
    WindowStart(DatetimeFormat),
    WindowEnd(DatetimeFormat),
    Parent(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Var { var: Var, spelled: String },
}

/// One templated string: literal text and placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

fn datetime_format(spec: Option<&str>, spelled: &str) -> Result<DatetimeFormat> {
    match spec {
        None | Some("") => Err(Error::system(format!(
            "template placeholder {{{spelled}}} needs a format, such as {{{spelled}:%Y-%m-%d}} or {{{spelled}:epoch}}"
        ))),
        Some("epoch") => Ok(DatetimeFormat::EpochSeconds),
        Some(pattern) => {
            if StrftimeItems::new(pattern).any(|i| matches!(i, Item::Error)) {
                return Err(Error::system(format!(
                    "template placeholder {{{spelled}}} has an invalid date format {pattern:?}"
                )));
            }
            Ok(DatetimeFormat::strftime(pattern))
        }
    }
}

fn placeholder(inner: &str) -> Result<Var> {
    let (name, spec) = match inner.split_once(':') {
        Some((n, s)) => (n.trim(), Some(s)),
        None => (inner.trim(), None),
    };
    let unknown = || {
        Error::system(format!(
            "template placeholder {{{inner}}} is unknown; use partition.<key>, parent.<field>, \
             window.start:<format> or window.end:<format>"
        ))
    };
    let no_format = |var: Var| {
        if spec.is_some() {
            Err(Error::system(format!(
                "template placeholder {{{inner}}} takes no format"
            )))
        } else {
            Ok(var)
        }
    };
    match name.split_once('.') {
        Some(("partition", path)) if !path.is_empty() && !path.split('.').any(str::is_empty) => {
            no_format(Var::Partition(
                path.split('.').map(str::to_string).collect(),
            ))
        }
        Some(("parent", field)) if !field.is_empty() => no_format(Var::Parent(field.to_string())),
        Some(("window", "start")) => Ok(Var::WindowStart(datetime_format(spec, name)?)),
        Some(("window", "end")) => Ok(Var::WindowEnd(datetime_format(spec, name)?)),
        _ => Err(unknown()),
    }
}

impl Template {
    /// Parses `text`; errors name the template and what is wrong with it.
    pub fn parse(text: &str) -> Result<Self> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut inner = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !closed {
                        return Err(Error::system(format!(
                            "template {text:?} has an unclosed placeholder (write {{{{ for a literal brace)"
                        )));
                    }
                    let var = placeholder(&inner)
                        .map_err(|e| e.context(&format!("template {text:?}: ")))?;
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Var {
                        var,
                        spelled: inner,
                    });
                }
                '}' => {
                    return Err(Error::system(format!(
                        "template {text:?} has an unmatched }} (write }}}} for a literal brace)"
                    )))
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// A template that is `text` verbatim, braces included.
    pub fn literal(text: &str) -> Self {
        Template {
            parts: vec![Part::Text(text.to_string())],
        }
    }

    fn uses_parent(&self) -> bool {
        self.parts.iter().any(|p| {
            matches!(
                p,
                Part::Var {
                    var: Var::Parent(_),
                    ..
                }
            )
        })
    }

    /// Renders the template for `slice`; `encode` is applied to every inserted value.
    fn render_with(
        &self,
        slice: &Slice,
        parent: Option<&ParentFields>,
        encode: fn(&str) -> String,
    ) -> Result<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var { var, spelled } => {
                    let value =
                        value_of(var, slice, parent).ok_or_else(|| missing(spelled, var, slice))?;
                    out.push_str(&encode(&value));
                }
            }
        }
        Ok(out)
    }

    /// Renders the template for `slice`, values inserted raw.
    pub fn render(&self, slice: &Slice) -> Result<String> {
        self.render_with(slice, None, raw)
    }
}

fn raw(v: &str) -> String {
    v.to_string()
}

/// Percent-encodes everything but RFC 3986's unreserved characters: a value stays one path
/// segment whatever it holds (`/`, `?`, `#`, spaces).
pub fn encode_path_segment(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn value_of(var: &Var, slice: &Slice, parent: Option<&ParentFields>) -> Option<String> {
    match var {
        Var::Partition(path) => {
            let (first, rest) = path.split_first()?;
            let v = rest
                .iter()
                .try_fold(slice.partition.get(first.as_str())?, |cur, k| {
                    cur.get(k.as_str())
                })?;
            text_of(v)
        }
        Var::WindowStart(f) => slice.window.map(|w| f.format(w.start)),
        Var::WindowEnd(f) => slice.window.map(|w| f.format(w.end)),
        Var::Parent(field) => parent?.get(slice, field).as_ref().and_then(text_of),
    }
}

fn missing(spelled: &str, var: &Var, slice: &Slice) -> Error {
    let partition = Value::Object(slice.partition.clone());
    Error::system(match var {
        Var::Partition(_) => format!(
            "template placeholder {{{spelled}}} names a value the partition {partition} does not have"
        ),
        Var::WindowStart(_) | Var::WindowEnd(_) => format!(
            "template placeholder {{{spelled}}} needs a date window, and the slice of partition \
             {partition} has none (is the stream incremental?)"
        ),
        Var::Parent(_) => format!(
            "template placeholder {{{spelled}}} names a parent field that was not kept for partition {partition}"
        ),
    })
}

/// Computes a per-slice value the template language does not express (an API's quirk).
pub type ValueFn = Arc<dyn Fn(&Slice) -> Result<String> + Send + Sync>;

/// A query parameter or header value.
#[derive(Clone)]
enum Param {
    Template(Template),
    Computed(ValueFn),
}

impl Param {
    fn render(&self, slice: &Slice, parent: Option<&ParentFields>) -> Result<String> {
        match self {
            Param::Template(t) => t.render_with(slice, parent, raw),
            Param::Computed(f) => f(slice),
        }
    }
}

/// A JSON body: every string of `value` is a template; keys and other values are literal.
#[derive(Debug, Clone, PartialEq)]
enum BodyTemplate {
    String(Template),
    Array(Vec<BodyTemplate>),
    Object(Vec<(String, BodyTemplate)>),
    Literal(Value),
}

impl BodyTemplate {
    fn parse(v: &Value) -> Result<Self> {
        Ok(match v {
            Value::String(s) => BodyTemplate::String(Template::parse(s)?),
            Value::Array(items) => BodyTemplate::Array(
                items
                    .iter()
                    .map(BodyTemplate::parse)
                    .collect::<Result<_>>()?,
            ),
            Value::Object(m) => BodyTemplate::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), BodyTemplate::parse(v)?)))
                    .collect::<Result<_>>()?,
            ),
            other => BodyTemplate::Literal(other.clone()),
        })
    }

    fn render(&self, slice: &Slice, parent: Option<&ParentFields>) -> Result<Value> {
        Ok(match self {
            BodyTemplate::String(t) => Value::String(t.render_with(slice, parent, raw)?),
            BodyTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(slice, parent))
                    .collect::<Result<_>>()?,
            ),
            BodyTemplate::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), v.render(slice, parent)?)))
                    .collect::<Result<_>>()?,
            ),
            BodyTemplate::Literal(v) => v.clone(),
        })
    }

    fn uses_parent(&self) -> bool {
        match self {
            BodyTemplate::String(t) => t.uses_parent(),
            BodyTemplate::Array(items) => items.iter().any(BodyTemplate::uses_parent),
            BodyTemplate::Object(fields) => fields.iter().any(|(_, v)| v.uses_parent()),
            BodyTemplate::Literal(_) => false,
        }
    }
}

/// The first request of a slice, declared: method, path, query, headers, JSON body.
///
/// The builder methods never fail; the first declaration error is kept and reported by
/// [`RequestTemplate::checked`] (call it where the stream is declared) and, failing that, by
/// every render.
#[derive(Clone)]
pub struct RequestTemplate {
    method: Method,
    path: Template,
    query: Vec<(String, Param)>,
    headers: Vec<(String, Param)>,
    body: Option<BodyTemplate>,
    parent: Option<ParentFields>,
    error: Option<String>,
}

impl RequestTemplate {
    fn with_method(method: Method, path: &str) -> Self {
        let mut t = RequestTemplate {
            method,
            path: Template::literal(""),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            parent: None,
            error: None,
        };
        match Template::parse(path) {
            Ok(p) => t.path = p,
            Err(e) => t.fail(e),
        }
        t
    }

    fn fail(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e.message().to_string());
        }
    }

    fn param(&mut self, value: &str) -> Param {
        match Template::parse(value) {
            Ok(t) => Param::Template(t),
            Err(e) => {
                self.fail(e);
                Param::Template(Template::literal(""))
            }
        }
    }

    /// `GET <path>`; the path is a template relative to the requester's base URL.
    pub fn get(path: &str) -> Self {
        Self::with_method(Method::Get, path)
    }

    /// `POST <path>` with a JSON body template (every string in it is a template).
    pub fn post_json(path: &str, body: Value) -> Self {
        let mut t = Self::with_method(Method::Post, path);
        match BodyTemplate::parse(&body) {
            Ok(b) => t.body = Some(b),
            Err(e) => t.fail(e),
        }
        t
    }

    /// A query parameter whose value is a template.
    pub fn query(mut self, key: &str, value: &str) -> Self {
        let p = self.param(value);
        self.query.push((key.to_string(), p));
        self
    }

    /// A query parameter sent exactly as given (JSON text, braces and all).
    pub fn query_literal(mut self, key: &str, value: impl Into<String>) -> Self {
        let value: String = value.into();
        self.query
            .push((key.to_string(), Param::Template(Template::literal(&value))));
        self
    }

    /// A query parameter computed from the slice by the source (an API's quirk).
    pub fn query_with(
        mut self,
        key: &str,
        value: impl Fn(&Slice) -> Result<String> + Send + Sync + 'static,
    ) -> Self {
        self.query
            .push((key.to_string(), Param::Computed(Arc::new(value))));
        self
    }

    /// A header whose value is a template.
    pub fn header(mut self, key: &str, value: &str) -> Self {
        let p = self.param(value);
        self.headers.push((key.to_string(), p));
        self
    }

    /// Where `{parent.NAME}` placeholders are read from.
    pub fn parent_fields(mut self, fields: ParentFields) -> Self {
        self.parent = Some(fields);
        self
    }

    /// The template, if it was declared without errors.
    pub fn checked(self) -> Result<Self> {
        if let Some(e) = &self.error {
            return Err(Error::system(e.clone()));
        }
        let uses_parent = self.path.uses_parent()
            || self
                .query
                .iter()
                .chain(&self.headers)
                .any(|(_, p)| matches!(p, Param::Template(t) if t.uses_parent()))
            || self.body.as_ref().is_some_and(BodyTemplate::uses_parent);
        if uses_parent && self.parent.is_none() {
            return Err(Error::system(
                "a request template uses {parent.…} placeholders but was given no parent fields",
            ));
        }
        Ok(self)
    }

    /// The request of `slice`.
    pub fn render(&self, slice: &Slice) -> Result<HttpRequest> {
        if let Some(e) = &self.error {
            return Err(Error::system(e.clone()));
        }
        let parent = self.parent.as_ref();
        let mut req =
            HttpRequest::get(self.path.render_with(slice, parent, encode_path_segment)?);
        req.method = self.method;
        for (k, v) in &self.query {
            req.query.push((k.clone(), v.render(slice, parent)?));
        }
        for (k, v) in &self.headers {
            req.headers.push((k.clone(), v.render(slice, parent)?));
        }
        if let Some(b) = &self.body {
            req.body = Some(RequestBody::Json(b.render(slice, parent)?));
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datetime::Window;
    use crate::partition::partition;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn slice(p: crate::partition::Partition, window: bool) -> Slice {
        Slice {
            partition: p,
            window: window.then(|| Window {
                start: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
                end: Utc.with_ymd_and_hms(2024, 1, 31, 23, 59, 59).unwrap(),
            }),
        }
    }

    #[test]
    fn renders_partition_values_window_dates_and_literal_braces() {
        let s = slice(
            partition([
                ("id", json!("a/b c")),
                ("n", json!(7)),
                ("parent_slice", json!({"id": "p1"})),
            ]),
            true,
        );
        let t = RequestTemplate::get("boards/{partition.parent_slice.id}/x/{partition.id}")
            .query("start", "{window.start:%Y-%m-%d}")
            .query("end", "{window.end:epoch}")
            .query(
                "f",
                "gt(t,{window.start:%Y-%m-%dT%H:%M:%S%z}) {{raw}} {partition.n}",
            )
            .query("id", "{partition.id}")
            .query_literal("j", "[{\"a\": 1}]")
            .header("X-Id", "{partition.id}")
            .checked()
            .unwrap();
        let r = t.render(&s).unwrap();
        assert_eq!(
            r.url, "boards/p1/x/a%2Fb%20c",
            "path values are one encoded segment"
        );
        assert_eq!(
            r.query,
            vec![
                ("start".to_string(), "2024-01-02".to_string()),
                ("end".to_string(), "1706745599".to_string()),
                (
                    "f".to_string(),
                    "gt(t,2024-01-02T03:04:05+0000) {raw} 7".to_string()
                ),
                ("id".to_string(), "a/b c".to_string()),
                ("j".to_string(), "[{\"a\": 1}]".to_string()),
            ]
        );
        assert_eq!(r.headers, vec![("X-Id".to_string(), "a/b c".to_string())]);
        assert_eq!(r.method, Method::Get);
        assert!(r.authenticate);
    }

    #[test]
    fn renders_json_bodies_keeping_key_order_and_non_string_values() {
        let s = slice(partition([("metric_id", json!("M1"))]), true);
        let t = RequestTemplate::post_json(
            "reports",
            json!({"z": {"start": "{window.start:%Y-%m-%d}", "id": "{partition.metric_id}"},
                   "a": [1, true, null, "{window.end:%Y-%m-%d}"]}),
        );
        let r = t.render(&s).unwrap();
        assert_eq!(r.method, Method::Post);
        let Some(RequestBody::Json(body)) = r.body else {
            panic!("a JSON body")
        };
        assert_eq!(
            body.to_string(),
            r#"{"z":{"start":"2024-01-02","id":"M1"},"a":[1,true,null,"2024-01-31"]}"#
        );
    }

    #[test]
    fn declaration_errors_are_caught_by_checked_and_by_render() {
        for (path, query, why) in [
            ("a/{partition.id", "x", "unclosed"),
            ("a/partition.id}", "x", "unmatched"),
            ("a/{slice.id}", "x", "unknown"),
            ("a/{partition.}", "x", "unknown"),
            ("a", "{window.start}", "needs a format"),
            ("a", "{window.end:%Q}", "invalid date format"),
            ("a", "{partition.id:%Y}", "takes no format"),
        ] {
            let t = RequestTemplate::get(path).query("q", query);
            let e = t.clone().checked().err().expect(why);
            assert!(e.message().contains(why), "{why}: {}", e.message());
            let s = slice(partition([("id", json!("1"))]), true);
            assert_eq!(
                t.render(&s).err().map(|e| e.message().to_string()),
                Some(e.message().to_string())
            );
        }
        let e = RequestTemplate::get("a/{parent.updated}")
            .checked()
            .err()
            .expect("parent fields are required");
        assert!(e.message().contains("parent fields"), "{}", e.message());
    }

    #[test]
    fn values_the_slice_lacks_are_errors_not_empty_strings() {
        let t = RequestTemplate::get("a/{partition.id}")
            .query("s", "{window.start:%Y-%m-%d}")
            .checked()
            .unwrap();
        let e = t
            .render(&slice(partition([("other", json!("1"))]), true))
            .unwrap_err();
        assert!(e.message().contains("{partition.id}"), "{}", e.message());
        assert!(e.message().contains(r#"{"other":"1"}"#), "{}", e.message());
        let e = t
            .render(&slice(partition([("id", Value::Null)]), true))
            .unwrap_err();
        assert!(e.message().contains("{partition.id}"), "{}", e.message());
        let e = t
            .render(&slice(partition([("id", json!("1"))]), false))
            .unwrap_err();
        assert!(
            e.message().contains("needs a date window"),
            "{}",
            e.message()
        );
        let e = RequestTemplate::get("a")
            .query_with("q", |_s: &Slice| Err(Error::system("quirk failed")))
            .render(&slice(partition([]), false))
            .unwrap_err();
        assert_eq!(e.message(), "quirk failed");
    }

    #[test]
    fn parent_fields_fill_parent_placeholders() {
        let fields = ParentFields::default();
        let p = partition([("id", json!("L1")), ("parent_slice", json!({}))]);
        let mut kept = serde_json::Map::new();
        kept.insert("updated".into(), json!("2024-01-05T00:00:00+0000"));
        fields.record(&p, &kept);
        let t = RequestTemplate::get("lists/{partition.id}")
            .query("since", "{parent.updated}")
            .parent_fields(fields)
            .checked()
            .unwrap();
        let r = t.render(&slice(p, false)).unwrap();
        assert_eq!(r.query[0].1, "2024-01-05T00:00:00+0000");
        let e = t
            .render(&slice(partition([("id", json!("L2"))]), false))
            .unwrap_err();
        assert!(e.message().contains("{parent.updated}"), "{}", e.message());
    }
}
