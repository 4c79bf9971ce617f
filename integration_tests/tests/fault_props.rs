//! Property test of each connector's response path: one page of the main stream is answered,
//! on every attempt, with a mutation of its normal answer (cut at a random offset, a byte
//! flipped or inserted, a key dropped, a value replaced by one of another type, emptied,
//! replaced by HTML), through the real connector against a local server.
//!
//! The properties: the connector never panics, a failure is loud (TRACE error and INCOMPLETE),
//! and it never exits 0 with fewer records than the API served.
//!
//! Byte mutations land in the envelope of the page and in the structure of its records list
//! (brackets and separators), not inside records: what a record's own fields mean is the
//! record pipeline's business, while this test is about reading answers. Runs are seeded, so
//! a failure reproduces.

use connector_runtime::http::Expect;
use integration_tests::fake_apis::{Api, FakeApi, Injector};
use integration_tests::raw_server::RawAnswer;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;
use std::sync::Arc;

const CASES: u32 = 32;

#[derive(Debug, Clone)]
enum Mutation {
    /// Keep this many thousandths of the body.
    Truncate(u16),
    /// Replace the byte at a chosen position (see [`positions`]).
    Flip(usize, u8),
    /// Insert a byte before a chosen position.
    Insert(usize, u8),
    /// Remove a key of the envelope (not inside a record).
    DropKey(usize),
    /// Replace a value of the envelope with a scalar of another type.
    WrongType(usize),
    Empty,
    Html,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0u16..1000).prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Insert(p, b)),
        any::<usize>().prop_map(Mutation::DropKey),
        any::<usize>().prop_map(Mutation::WrongType),
        Just(Mutation::Empty),
        Just(Mutation::Html),
    ]
}

/// The keys of each connector's records path.
fn records_path(api: Api) -> Vec<String> {
    let path = match api {
        Api::TikTok => "data.list",
        Api::Pinterest => "items",
        Api::Klaviyo => "data",
    };
    path.split('.').map(str::to_string).collect()
}

fn at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(k.as_str()))
}

/// Byte positions a byte mutation may hit: everything outside the records list, plus the
/// list's brackets and the separators between its records.
fn positions(api: Api, normal: &[u8]) -> Vec<usize> {
    let body: Value = serde_json::from_slice(normal).unwrap_or(Value::Null);
    let Some(Value::Array(records)) = at(&body, &records_path(api)) else {
        return (0..normal.len()).collect();
    };
    let list = Value::Array(records.clone()).to_string();
    let text = String::from_utf8_lossy(normal);
    let Some(start) = text.find(&list) else {
        return (0..normal.len()).collect();
    };
    let end = start + list.len();
    let mut out: Vec<usize> = (0..start).chain(end..normal.len()).collect();
    out.push(start);
    out.push(end - 1);
    let mut offset = start + 1;
    for r in records {
        offset += r.to_string().len();
        if offset < end - 1 {
            out.push(offset);
        }
        offset += 1;
    }
    out
}

/// Paths of the envelope's keys, depth first, not descending into the records list.
fn envelope_keys(
    v: &Value,
    records: &[String],
    prefix: &mut Vec<String>,
    out: &mut Vec<Vec<String>>,
) {
    if prefix.as_slice() == records {
        return;
    }
    if let Value::Object(m) = v {
        for (k, child) in m {
            prefix.push(k.clone());
            out.push(prefix.clone());
            envelope_keys(child, records, prefix, out);
            prefix.pop();
        }
    }
}

fn apply(api: Api, m: &Mutation, normal: &[u8]) -> RawAnswer {
    let json = |bytes: Vec<u8>| RawAnswer::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: bytes,
    };
    let pick = |i: usize, n: usize| if n == 0 { 0 } else { i % n };
    match m {
        Mutation::Truncate(keep) => json(normal[..normal.len() * (*keep as usize) / 1000].to_vec()),
        Mutation::Flip(p, b) => {
            let spots = positions(api, normal);
            let mut bytes = normal.to_vec();
            if let Some(&at) = spots.get(pick(*p, spots.len())) {
                bytes[at] = *b;
            }
            json(bytes)
        }
        Mutation::Insert(p, b) => {
            let spots = positions(api, normal);
            let mut bytes = normal.to_vec();
            if let Some(&at) = spots.get(pick(*p, spots.len())) {
                bytes.insert(at, *b);
            }
            json(bytes)
        }
        Mutation::DropKey(i) | Mutation::WrongType(i) => {
            let mut body: Value = serde_json::from_slice(normal).unwrap_or(Value::Null);
            let mut keys = Vec::new();
            envelope_keys(&body, &records_path(api), &mut Vec::new(), &mut keys);
            if let Some(path) = keys.get(pick(*i, keys.len())) {
                let (last, parents) = path.split_last().unwrap_or((&path[0], &[]));
                let parent = parents
                    .iter()
                    .try_fold(&mut body, |cur, k| cur.get_mut(k.as_str()));
                if let Some(Value::Object(obj)) = parent {
                    if matches!(m, Mutation::DropKey(_)) {
                        obj.remove(last);
                    } else if let Some(v) = obj.get_mut(last) {
                        *v = match v {
                            Value::String(_) => Value::from(7),
                            Value::Number(_) | Value::Bool(_) => Value::from("7"),
                            _ => Value::from(true),
                        };
                    }
                }
            }
            json(body.to_string().into_bytes())
        }
        Mutation::Empty => json(Vec::new()),
        Mutation::Html => {
            RawAnswer::text(200, "text/html", "<html><body>Bad gateway</body></html>")
        }
    }
}

/// Records an answer holds, as the stream would read them (0 if it does not read).
fn records_in(api: Api, answer: &RawAnswer) -> usize {
    let RawAnswer::Full { body, .. } = answer else {
        return 0;
    };
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            at(&v, &records_path(api))
                .and_then(Value::as_array)
                .map(Vec::len)
        })
        .unwrap_or(0)
}

async fn case(api: Api, m: Mutation) -> Result<(), TestCaseError> {
    let broken_page = api.fault_page();
    let mutated = Arc::new(std::sync::Mutex::new(None::<RawAnswer>));
    let keep = mutated.clone();
    let inject: Injector = Arc::new(move |page, _attempt, _req, normal| {
        (page == broken_page).then(|| {
            let answer = apply(api, &m, normal);
            if let Ok(mut k) = keep.lock() {
                *k = Some(answer.clone());
            }
            answer
        })
    });
    let fake = FakeApi::start(api, inject).await;
    let run = fake.read().await;
    prop_assert!(!run.raw.contains("panicked"), "a panic: {}", run.raw);
    prop_assert!(
        !run.raw.contains("stopped unexpectedly"),
        "a task died: {}",
        run.raw
    );
    let delivered = run.records(api.stream()).len();
    if run.code == 0 {
        let normal: usize = fake.served_pages().iter().map(|p| api.pages()[*p]).sum();
        let broken = mutated
            .lock()
            .ok()
            .and_then(|a| a.as_ref().map(|a| records_in(api, a)))
            .unwrap_or(0);
        prop_assert!(
            delivered >= normal + broken,
            "exit 0 with {delivered} records of {} served",
            normal + broken
        );
    } else {
        prop_assert!(!run.errors().is_empty(), "no TRACE error: {}", run.raw);
        let statuses = run.statuses(api.stream());
        prop_assert_eq!(statuses.last().map(String::as_str), Some("INCOMPLETE"));
    }
    Ok(())
}

fn check(api: Api) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let result = runner.run(&mutation(), |m| rt.block_on(case(api, m)));
    if let Err(e) = result {
        panic!("{}: {e}", api.name());
    }
}

#[test]
fn tiktok_never_loses_records_to_a_mangled_answer() {
    check(Api::TikTok);
}

#[test]
fn pinterest_never_loses_records_to_a_mangled_answer() {
    check(Api::Pinterest);
}

#[test]
fn klaviyo_never_loses_records_to_a_mangled_answer() {
    check(Api::Klaviyo);
}

#[test]
fn the_records_paths_here_are_the_ones_the_streams_expect() {
    // The mutations above avoid record contents by these paths; keep them honest.
    for (api, want) in [
        (Api::TikTok, vec!["data", "list"]),
        (Api::Pinterest, vec!["items"]),
        (Api::Klaviyo, vec!["data"]),
    ] {
        let expect = Expect::JsonAt(want.iter().map(|s| s.to_string()).collect());
        assert_eq!(Expect::JsonAt(records_path(api)), expect);
        let page: Value = api.page_body(0, "127.0.0.1");
        assert_eq!(
            at(&page, &records_path(api))
                .and_then(Value::as_array)
                .map(Vec::len),
            Some(api.pages()[0])
        );
    }
}
