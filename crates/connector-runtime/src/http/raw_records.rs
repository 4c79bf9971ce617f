//! A page's records handed over as the JSON text they arrived in, parsed one at a time as the
//! stream consumes them.
//!
//! Parsed into a `serde_json::Value`, a page of a thousand records costs several times its
//! text (every object is a map with its own allocations), and a worker would hold that whole
//! tree while its records are written one by one. A requester asked for raw records
//! ([`HttpRequest::raw_records`](super::HttpRequest::raw_records)) instead keeps the body's
//! bytes and where each record lies in them; the rest of the answer (codes, tokens, links) is
//! parsed as usual, with an empty list in place of the records, so response rules and
//! paginators see everything but the records. Each record is parsed from its own text when it
//! is read, which yields exactly the value a parse of the whole page would have held.
//!
//! Anything unusual (a body that is not valid JSON, records that are not a list, a key written
//! with escapes on the way) falls back to parsing the whole body, so errors and edge cases
//! behave as before.

use serde_json::Value;

use crate::error::{Error, Result};

/// The records of one page, unparsed: the body and the span of every record in it.
#[derive(Clone)]
pub struct RawRecords {
    text: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl std::fmt::Debug for RawRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawRecords({} records)", self.spans.len())
    }
}

impl RawRecords {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

impl IntoIterator for RawRecords {
    type Item = Result<Value>;
    type IntoIter = Records;

    fn into_iter(self) -> Records {
        Records { raw: self, next: 0 }
    }
}

/// Parses the records of a page one at a time.
pub struct Records {
    raw: RawRecords,
    next: usize,
}

impl Iterator for Records {
    type Item = Result<Value>;

    fn next(&mut self) -> Option<Result<Value>> {
        let (start, end) = *self.raw.spans.get(self.next)?;
        self.next += 1;
        Some(
            serde_json::from_slice(&self.raw.text[start..end])
                .map_err(|e| Error::system(format!("a record of the answer cannot be read: {e}"))),
        )
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.raw.spans.len() - self.next;
        (left, Some(left))
    }
}

/// Splits `body` into the answer without its records (an empty list at `path`) and the spans
/// of the records: the elements of the list at `path`, `null`s left out as the record
/// selector leaves them out. `None` when the body is not valid JSON or holds no list there:
/// the caller then parses it whole.
pub(crate) fn split(body: &[u8], path: &[String]) -> Option<(Value, Vec<(usize, usize)>)> {
    // Validates the whole body without building anything, so the scanner below only ever
    // walks well-formed JSON.
    serde_json::from_slice::<serde::de::IgnoredAny>(body).ok()?;
    if path.is_empty() {
        // The answer is the list itself (Pinterest's analytics): nothing else to keep.
        let spans = elements(body, skip_ws(body, 0))?;
        return Some((Value::Array(Vec::new()), spans));
    }
    let mut at = (skip_ws(body, 0), 0);
    for key in path {
        at = member(body, at.0, key)?;
    }
    let (start, end) = at;
    let spans = elements(body, start)?;
    let mut rest = Vec::with_capacity(body.len() - (end - start) + 2);
    rest.extend_from_slice(&body[..start]);
    rest.extend_from_slice(b"[]");
    rest.extend_from_slice(&body[end..]);
    let rest = serde_json::from_slice(&rest).ok()?;
    Some((rest, spans))
}

/// Hands `body` over with the spans [`split`] found in it.
pub(crate) fn records(body: Vec<u8>, spans: Vec<(usize, usize)>) -> RawRecords {
    RawRecords { text: body, spans }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    {
        i += 1;
    }
    i
}

/// The end of the string starting at `i` (its opening quote).
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        match *b.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// The end of the (well-formed) value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *b.get(j)? {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while b
                .get(j)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                j += 1;
            }
            Some(j)
        }
    }
}

/// The span of the value of `key` in the object starting at `i`: the last one, as a parser
/// keeps the last of duplicate keys. `None` when `i` is no object, the key is absent, or any
/// key is written with escapes (only a full parse says what those mean).
fn member(b: &[u8], i: usize, key: &str) -> Option<(usize, usize)> {
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b'}') {
        return None;
    }
    let mut found = None;
    loop {
        let key_end = skip_string(b, j)?;
        let raw = &b[j + 1..key_end - 1];
        if raw.contains(&b'\\') {
            return None;
        }
        j = skip_ws(b, key_end);
        if b.get(j) != Some(&b':') {
            return None;
        }
        j = skip_ws(b, j + 1);
        let value_end = skip_value(b, j)?;
        if raw == key.as_bytes() {
            found = Some((j, value_end));
        }
        j = skip_ws(b, value_end);
        match *b.get(j)? {
            b',' => j = skip_ws(b, j + 1),
            b'}' => return found,
            _ => return None,
        }
    }
}

/// The spans of the elements of the list starting at `i`, without `null`s; `None` if `i` is
/// no list.
fn elements(b: &[u8], i: usize) -> Option<Vec<(usize, usize)>> {
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let mut out = Vec::new();
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b']') {
        return Some(out);
    }
    loop {
        let end = skip_value(b, j)?;
        if &b[j..end] != b"null" {
            out.push((j, end));
        }
        j = skip_ws(b, end);
        match *b.get(j)? {
            b',' => j = skip_ws(b, j + 1),
            b']' => return Some(out),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_string).collect()
    }

    fn read(body: &str, p: &str) -> Option<(Value, Vec<Value>)> {
        let (rest, spans) = split(body.as_bytes(), &path(p))?;
        let records = records(body.as_bytes().to_vec(), spans)
            .into_iter()
            .collect::<Result<Vec<Value>>>()
            .unwrap();
        Some((rest, records))
    }

    #[test]
    fn records_are_the_elements_a_full_parse_holds() {
        let body = r#" { "code" : 0, "data": {"page_info": {"page": 2},
            "list": [ {"id": "a\"]}", "n": [1, {"x": null}]}, null ,{"id":"b","s":"\\"} ,
            {"id": "c", "e": "\u00e9"} ] }, "next": "t0k\"en" } "#;
        let (rest, records) = read(body, "data.list").unwrap();
        let full: Value = serde_json::from_str(body).unwrap();
        let expected: Vec<Value> = full["data"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| !v.is_null())
            .cloned()
            .collect();
        assert_eq!(records, expected);
        assert_eq!(records.len(), 3);
        let mut without = full.clone();
        without["data"]["list"] = json!([]);
        assert_eq!(rest, without);
    }

    #[test]
    fn an_answer_that_is_a_list_is_its_records() {
        let body = r#" [ {"AD_ID": "1"}, null, {"AD_ID": "2", "x": [1, "]"]} ] "#;
        let (rest, records) = split(body.as_bytes(), &[])
            .map(|(rest, spans)| {
                let records = records(body.as_bytes().to_vec(), spans)
                    .into_iter()
                    .collect::<Result<Vec<Value>>>()
                    .unwrap();
                (rest, records)
            })
            .unwrap();
        assert_eq!(rest, json!([]));
        assert_eq!(
            records,
            [json!({"AD_ID": "1"}), json!({"AD_ID": "2", "x": [1, "]"]})]
        );
        assert!(split(b"[1, 2", &[]).is_none());
    }

    #[test]
    fn the_last_of_duplicate_keys_is_read_as_a_parser_reads_it() {
        let (_, records) = read(
            r#"{"data": [{"a": 1}], "data": [{"b": 2}, {"c": 3}]}"#,
            "data",
        )
        .unwrap();
        assert_eq!(records, [json!({"b": 2}), json!({"c": 3})]);
        let (_, none) = read(r#"{"data": []}"#, "data").unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn anything_but_a_list_at_the_path_is_left_to_a_full_parse() {
        for (body, p) in [
            (r#"{"data": {"id": 1}}"#, "data"),
            (r#"{"data": null}"#, "data"),
            (r#"{"data": "text"}"#, "data"),
            (r#"{"other": []}"#, "data"),
            (r#"[{"data": []}]"#, "data"),
            (r#"{"data": [1, 2]"#, "data"),
            (r#"{"data": [1]} trailing"#, "data"),
            (r#"{"d\u0061ta": [1]}"#, "data"),
            ("", "data"),
        ] {
            assert!(split(body.as_bytes(), &path(p)).is_none(), "{body}");
        }
        assert!(split(br#"{"data": []}"#, &[]).is_none());
    }
}
