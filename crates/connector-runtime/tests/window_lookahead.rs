//! Windows of one partition read ahead (`Incremental::concurrent_windows`): later windows are
//! requested while an earlier one is still answering, yet records and states come out exactly
//! as from a sequential read, and a failure in any window stops the stream where a sequential
//! read would have stopped.
//!
//! The stream has four two-day windows of two pages each. The first page of a chosen window is
//! answered late, so the order in which the mock server received the requests shows whether
//! the next windows were requested before that window's second page.

use std::time::Duration as StdDuration;

use connector_runtime::prelude::*;
use connector_testkit::{catalog, env, read, DeclaredSource, Run};
use wiremock::matchers::{path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VAR: &str = "LOOKAHEAD_TEST_BASE_URL";
const NOW: &str = "2024-01-10T12:00:00Z";
/// The windows the stream is cut into: (start, end).
const WINDOWS: [(&str, &str); 4] = [
    ("2024-01-01", "2024-01-02"),
    ("2024-01-03", "2024-01-04"),
    ("2024-01-05", "2024-01-06"),
    ("2024-01-07", "2024-01-08"),
];
/// Long enough for the other windows' requests to arrive while it runs; nothing is timed.
const LATE: StdDuration = StdDuration::from_millis(800);

fn d(text: &str) -> DateTime<Utc> {
    parse_date(text).expect("a date")
}

/// One partition, the four windows, `windows` of them in flight at most, `workers` permits.
fn source(windows: usize, workers: usize, sorted: bool) -> DeclaredSource {
    DeclaredSource::new(move |_c, ctx| {
        let r = Requester::new("https://api.example.invalid/v1/", VAR, &ctx.env)?;
        let mut inc = Incremental::new(
            "day",
            CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d")),
            d("2024-01-01"),
            d("2024-01-08"),
        )
        .step(Duration::days(2), Duration::days(1))
        .concurrent_windows(windows);
        if sorted {
            inc = inc.sorted(1);
        }
        Ok(vec![DeclarativeStream::new(
            "daily",
            json!({}),
            SimpleRetriever::new(&r, |s: &Slice| {
                let day = |t: Option<DateTime<Utc>>| {
                    t.map(|t| t.format("%F").to_string()).unwrap_or_default()
                };
                HttpRequest::get("daily")
                    .query("start", day(s.start()))
                    .query("end", day(s.end()))
            })
            .paginator(Paginator::body_token("next", "page"))
            .records_at("data"),
        )
        .incremental(inc)
        .into_arc()])
    })
    .workers(workers)
}

/// The records of window `w`: two on its first day (page 1), two on its last (page 2).
fn page(w: usize, second: bool) -> Value {
    let (start, end) = WINDOWS[w];
    if second {
        json!({"data": [{"w": w, "n": 2, "day": end}, {"w": w, "n": 3, "day": end}]})
    } else {
        json!({"data": [{"w": w, "n": 0, "day": start}, {"w": w, "n": 1, "day": start}],
               "next": "2"})
    }
}

/// How the mock answers one page.
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    Ok,
    Late,
    Missing,
    LateMissing,
}

impl Answer {
    fn template(self, body: Value) -> ResponseTemplate {
        match self {
            Answer::Ok => ResponseTemplate::new(200).set_body_json(body),
            Answer::Late => ResponseTemplate::new(200)
                .set_body_json(body)
                .set_delay(LATE),
            Answer::Missing => ResponseTemplate::new(404).set_body_string("no such day"),
            Answer::LateMissing => ResponseTemplate::new(404)
                .set_body_string("no such day")
                .set_delay(LATE),
        }
    }
}

/// Mounts both pages of every window; `answers(w, second)` says how each is answered.
async fn mount(server: &MockServer, answers: impl Fn(usize, bool) -> Answer) {
    for (w, (start, _)) in WINDOWS.iter().enumerate() {
        Mock::given(path("/v1/daily"))
            .and(query_param("start", *start))
            .and(query_param_is_missing("page"))
            .respond_with(answers(w, false).template(page(w, false)))
            .mount(server)
            .await;
        Mock::given(path("/v1/daily"))
            .and(query_param("start", *start))
            .and(query_param("page", "2"))
            .respond_with(answers(w, true).template(page(w, true)))
            .mount(server)
            .await;
    }
}

async fn run(server: &MockServer, source: &DeclaredSource) -> Run {
    read(
        source,
        env(VAR, &server.uri(), NOW),
        &json!({"api_key": "key-lookahead-0123456789"}),
        &catalog(&[("daily", "incremental")]),
        None,
    )
    .await
}

/// The requests the server received, in arrival order, as `w<window>p<page>`.
async fn received(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let query: Vec<(String, String)> = r.url.query_pairs().into_owned().collect();
            let get = |k: &str| {
                query
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            };
            let start = get("start").unwrap_or_default();
            let w = WINDOWS.iter().position(|(s, _)| *s == start);
            let p = get("page").unwrap_or_else(|| "1".into());
            format!("w{}p{p}", w.map_or("?".into(), |w| w.to_string()))
        })
        .collect()
}

fn position(requests: &[String], name: &str) -> usize {
    requests
        .iter()
        .position(|r| r == name)
        .unwrap_or_else(|| panic!("{name} was never requested: {requests:?}"))
}

/// `(window, n)` of every record emitted, in order.
fn emitted(run: &Run) -> Vec<(i64, i64)> {
    run.records("daily")
        .iter()
        .map(|r| (r["w"].as_i64().unwrap_or(-1), r["n"].as_i64().unwrap_or(-1)))
        .collect()
}

fn every_record_of(windows: std::ops::Range<i64>) -> Vec<(i64, i64)> {
    windows.flat_map(|w| (0..4).map(move |n| (w, n))).collect()
}

/// Records and states of the stream as one sequence, in output order.
fn records_and_states(run: &Run) -> Vec<Value> {
    run.messages
        .iter()
        .filter_map(|m| match m["type"].as_str() {
            Some("RECORD") => Some(json!({"record": m["record"]["data"]})),
            Some("STATE") => Some(json!({"state": m["state"]["stream"]["stream_state"]})),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn later_windows_are_requested_while_the_first_answers_and_emitted_after_it() {
    let server = MockServer::start().await;
    mount(&server, |w, second| {
        if w == 0 && !second {
            Answer::Late
        } else {
            Answer::Ok
        }
    })
    .await;
    let run = run(&server, &source(4, 4, false)).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    let requests = received(&server).await;
    assert_eq!(requests.len(), 8, "{requests:?}");
    // The first window's second page can only be asked for once its late first page is in;
    // the other windows were asked for before that, while the first page was on its way.
    let second_page_of_first = position(&requests, "w0p2");
    for w in 1..4 {
        assert!(
            position(&requests, &format!("w{w}p1")) < second_page_of_first,
            "window {w} was not read ahead: {requests:?}"
        );
    }
    // Emitted in window order, each window's records in page order.
    assert_eq!(emitted(&run), every_record_of(0..4));
    // A state after each window, at its last record's day, then the final one.
    assert_eq!(
        run.states("daily"),
        vec![
            json!({"day": "2024-01-02"}),
            json!({"day": "2024-01-04"}),
            json!({"day": "2024-01-06"}),
            json!({"day": "2024-01-08"}),
            json!({"day": "2024-01-08"}),
        ]
    );
}

#[tokio::test]
async fn records_and_states_are_those_of_a_sequential_read_mid_window_checkpoints_included() {
    // Sorted windows checkpoint after every record below the window's running maximum; a late
    // window in the middle lets the ones after it be read ahead and buffered meanwhile.
    let late_second_window = |w: usize, second: bool| {
        if w == 1 && !second {
            Answer::Late
        } else {
            Answer::Ok
        }
    };
    let sequential_server = MockServer::start().await;
    mount(&sequential_server, late_second_window).await;
    let sequential = run(&sequential_server, &source(1, 4, true)).await;
    let ahead_server = MockServer::start().await;
    mount(&ahead_server, late_second_window).await;
    let ahead = run(&ahead_server, &source(3, 4, true)).await;
    assert_eq!(sequential.code, 0, "{}", sequential.raw);
    assert_eq!(ahead.code, 0, "{}", ahead.raw);
    let requests = received(&ahead_server).await;
    assert!(
        position(&requests, "w2p1") < position(&requests, "w1p2"),
        "the third window was not read ahead: {requests:?}"
    );
    // A sequential read asks for one page after another.
    assert_eq!(
        received(&sequential_server).await,
        ["w0p1", "w0p2", "w1p1", "w1p2", "w2p1", "w2p2", "w3p1", "w3p2"]
    );
    assert_eq!(records_and_states(&ahead), records_and_states(&sequential));
    // Mid-window checkpoints happened besides the window ends: after each record of a
    // window's last day, at its first day (ties of the maximum may still come).
    assert_eq!(ahead.states("daily").len(), 4 * (2 + 1) + 1);
    assert_eq!(ahead.states("daily")[0], json!({"day": "2024-01-01"}));
}

#[tokio::test]
async fn without_a_free_worker_permit_no_window_is_read_ahead() {
    let server = MockServer::start().await;
    mount(&server, |w, second| {
        if w == 0 && !second {
            Answer::Late
        } else {
            Answer::Ok
        }
    })
    .await;
    // One worker: the partition holds it, so there is never a free one to read ahead with.
    let run = run(&server, &source(4, 1, false)).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        received(&server).await,
        ["w0p1", "w0p2", "w1p1", "w1p2", "w2p1", "w2p2", "w3p1", "w3p2"]
    );
    assert_eq!(emitted(&run), every_record_of(0..4));
}

fn assert_failed_with_404(run: &Run) {
    assert_eq!(run.code, 1, "{}", run.raw);
    assert_eq!(
        run.statuses("daily"),
        vec!["STARTED", "RUNNING", "INCOMPLETE"]
    );
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["failure_type"], "system_error");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("HTTP 404"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn a_later_window_failing_while_an_earlier_one_is_emitted_fails_after_the_earlier_ones() {
    let server = MockServer::start().await;
    mount(&server, |w, second| match (w, second) {
        (0, false) => Answer::Late,
        (2, false) => Answer::Missing,
        _ => Answer::Ok,
    })
    .await;
    let run = run(&server, &source(4, 4, false)).await;
    assert_failed_with_404(&run);
    let requests = received(&server).await;
    assert!(
        position(&requests, "w2p1") < position(&requests, "w0p2"),
        "the third window failed only after the first was read: {requests:?}"
    );
    // What a sequential read would have written: the two windows before the failing one,
    // whole, then nothing of the failing window or any after it.
    assert_eq!(emitted(&run), every_record_of(0..2));
    assert_eq!(
        run.states("daily"),
        vec![
            json!({"day": "2024-01-02"}),
            json!({"day": "2024-01-04"}),
            json!({"day": "2024-01-04"}),
        ]
    );
}

#[tokio::test]
async fn an_earlier_window_failing_while_later_ones_are_buffered_emits_none_of_them() {
    let server = MockServer::start().await;
    // The first window fails on its (late) second page; the second and third windows are
    // read ahead and answered meanwhile, their records waiting in their buffers.
    mount(&server, |w, second| match (w, second) {
        (0, true) => Answer::LateMissing,
        _ => Answer::Ok,
    })
    .await;
    let run = run(&server, &source(3, 4, false)).await;
    assert_failed_with_404(&run);
    let requests = received(&server).await;
    // Read ahead: every page of the next two windows was asked for (`position` panics if not).
    for buffered in ["w1p1", "w1p2", "w2p1", "w2p2"] {
        position(&requests, buffered);
    }
    // The first page of the failing window, as a sequential read would have emitted it, and
    // nothing of the windows read ahead.
    assert_eq!(emitted(&run), vec![(0, 0), (0, 1)]);
    // No state covers a window that was not emitted whole: the only STATE is the final one,
    // and it has not moved past the first window.
    for state in run.states("daily") {
        let day = state["day"].as_str().unwrap_or_default();
        assert!(
            day < "2024-01-02",
            "state {state} covers unfinished windows"
        );
    }
}
