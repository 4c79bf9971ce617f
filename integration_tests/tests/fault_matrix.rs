//! The fault matrix: each connector's main paginated stream (TikTok `ad_groups`, Pinterest
//! `campaigns`, Klaviyo `profiles`) with one page broken in every way we know, once briefly
//! (the first attempts) and once for good (every attempt).
//!
//! Every case ends one of two ways, and the table says which: every record delivered exactly
//! once (exit 0, COMPLETE), or a loud failure (non-zero exit, INCOMPLETE, a TRACE error of the
//! expected failure type) with no STATE that covers a record of the broken page or later.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use integration_tests::fake_apis::{max_cursor_in, Api, FakeApi, Injector};
use integration_tests::raw_server::{RawAnswer, RawServer};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// HTTP 200 with the first half of the page.
    Truncated,
    /// HTTP 200 with a body that is not JSON.
    InvalidJson,
    /// HTTP 200 with an empty body.
    Empty,
    /// HTTP 200 with an HTML page (a proxy's or a login page).
    Html,
    /// HTTP 200 with JSON that lacks the records path.
    WrongShape,
    /// HTTP 429 with `Retry-After`.
    RateLimited,
    /// HTTP 503.
    ServerError,
    /// The connection is reset before an answer.
    Reset,
    /// The connection closes halfway through the body.
    CloseMidBody,
    /// The connection stays open and silent.
    Stall,
    /// HTTP 401.
    Unauthorized,
}

const FAULTS: [Fault; 11] = [
    Fault::Truncated,
    Fault::InvalidJson,
    Fault::Empty,
    Fault::Html,
    Fault::WrongShape,
    Fault::RateLimited,
    Fault::ServerError,
    Fault::Reset,
    Fault::CloseMidBody,
    Fault::Stall,
    Fault::Unauthorized,
];

/// How long the broken page stays broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    /// The first attempts only (one for a 401, two otherwise), then the normal answer.
    Passing,
    /// Every attempt.
    Lasting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Complete,
    Fails(&'static str),
}

/// The table: what each connector must do under each fault.
fn expected(api: Api, fault: Fault, span: Span) -> Expected {
    use Fault::*;
    match (fault, span) {
        // A fixed key or token that is refused is the user's to fix.
        (Unauthorized, _) if !api.refreshes_on_401() => Expected::Fails("config_error"),
        // OAuth refreshes once; a fresh token refused again is a config error.
        (Unauthorized, Span::Lasting) => Expected::Fails("config_error"),
        (_, Span::Passing) => Expected::Complete,
        (Truncated | InvalidJson | Empty | Html | WrongShape, Span::Lasting) => {
            Expected::Fails("system_error")
        }
        (_, Span::Lasting) => Expected::Fails("transient_error"),
    }
}

fn broken_answer(api: Api, fault: Fault, normal: &[u8]) -> RawAnswer {
    match fault {
        Fault::Truncated => RawAnswer::Full {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: normal[..normal.len() / 2].to_vec(),
        },
        Fault::InvalidJson => RawAnswer::text(200, "application/json", "{\"items\": [1, 2,, }"),
        Fault::Empty => RawAnswer::text(200, "application/json", ""),
        Fault::Html => RawAnswer::text(
            200,
            "text/html",
            "<html><body><h1>Service temporarily unavailable</h1></body></html>",
        ),
        Fault::WrongShape => RawAnswer::json(200, &api.wrong_shape()),
        Fault::RateLimited => RawAnswer::json(429, &json!({"message": "Too many requests"}))
            .with_header("Retry-After", "7"),
        Fault::ServerError => RawAnswer::text(503, "text/plain", "busy"),
        Fault::Reset => RawAnswer::Reset,
        Fault::CloseMidBody => RawAnswer::CloseMidBody {
            status: 200,
            body: normal[..normal.len() / 2].to_vec(),
        },
        Fault::Stall => RawAnswer::Stall {
            hold: Duration::from_secs(20),
        },
        Fault::Unauthorized => RawAnswer::json(401, &json!({"message": "Authentication failed"})),
    }
}

fn broken_attempts(fault: Fault, span: Span) -> usize {
    match (span, fault) {
        (Span::Lasting, _) => usize::MAX,
        (Span::Passing, Fault::Unauthorized) => 1,
        (Span::Passing, _) => 2,
    }
}

/// Runs one case; returns what went wrong, if anything.
async fn case(api: Api, fault: Fault, span: Span) -> Result<(), String> {
    let broken_page = api.fault_page();
    let times = broken_attempts(fault, span);
    let inject: Injector = Arc::new(move |page, attempt, _req, normal| {
        (page == broken_page && attempt <= times).then(|| broken_answer(api, fault, normal))
    });
    let fake = FakeApi::start(api, inject).await;
    let run = if fault == Fault::Stall {
        fake.read_stalling().await
    } else {
        fake.read().await
    };
    let stream = api.stream();
    let ids: Vec<String> = run
        .records(stream)
        .iter()
        .filter_map(|r| api.id_of(r))
        .collect();
    let requests = fake.server.requests();
    let page_hits = requests
        .iter()
        .filter(|r| api.page_of(r) == Some(broken_page))
        .count();
    let token_calls = requests
        .iter()
        .filter(|r| r.path().ends_with("/oauth/token"))
        .count();
    let statuses = run.statuses(stream);
    let errors = run.errors();
    let check = |ok: bool, what: String| if ok { Ok(()) } else { Err(what) };
    match expected(api, fault, span) {
        Expected::Complete => {
            check(run.code == 0, format!("exit code {}", run.code))?;
            check(errors.is_empty(), format!("errors {errors:?}"))?;
            check(
                statuses.last().map(String::as_str) == Some("COMPLETE"),
                format!("statuses {statuses:?}"),
            )?;
            check(
                ids == api.ids(0..api.total()),
                format!("{} records, not each of {} once", ids.len(), api.total()),
            )?;
            // A normal answer slower than the short timeout of stall runs is retried too.
            let retried_as_planned = match fault {
                Fault::Stall => page_hits > times,
                _ => page_hits == times + 1,
            };
            check(
                retried_as_planned,
                format!("the broken page was requested {page_hits} times"),
            )?;
            if fault == Fault::Unauthorized {
                check(
                    token_calls == 1 && run.controls().len() == 1,
                    format!(
                        "{token_calls} refreshes, {} CONTROL messages",
                        run.controls().len()
                    ),
                )?;
            }
        }
        Expected::Fails(failure_type) => {
            check(run.code != 0, "exit code 0".into())?;
            check(
                statuses.contains(&"INCOMPLETE".to_string())
                    && !statuses.contains(&"COMPLETE".to_string()),
                format!("statuses {statuses:?}"),
            )?;
            let error = errors
                .iter()
                .find(|e| e["stream_descriptor"]["name"] == stream)
                .ok_or_else(|| format!("no TRACE error for the stream: {errors:?}"))?;
            check(
                error["failure_type"] == failure_type,
                format!("failure {error}"),
            )?;
            let message = error["message"].as_str().unwrap_or("");
            check(
                !message.contains("bookmark=") && !message.contains("page%5Bcursor"),
                format!("the message shows a query: {message}"),
            )?;
            let unique: HashSet<&String> = ids.iter().collect();
            check(unique.len() == ids.len(), "a record twice".into())?;
            let first_lost = api.first_index(broken_page);
            let before_gap: HashSet<String> = api.ids(0..first_lost).into_iter().collect();
            check(
                ids.iter().all(|id| before_gap.contains(id)),
                "a record of the broken page or later was delivered".into(),
            )?;
            let gap = api.cursor_secs(first_lost);
            for state in run.states(stream) {
                if let Some(c) = max_cursor_in(&state, api.cursor_field()) {
                    check(
                        c < gap,
                        format!("STATE {state} covers records of the unread page"),
                    )?;
                }
            }
            // Retried as long as the policy allows, except where failing at once is right.
            let want_hits = match fault {
                Fault::Unauthorized if api.refreshes_on_401() => 2,
                Fault::Unauthorized => 1,
                _ => api.attempts(),
            };
            check(
                page_hits == want_hits || (fault == Fault::Stall && page_hits > want_hits),
                format!("the broken page was requested {page_hits} times, not {want_hits}"),
            )?;
        }
    }
    Ok(())
}

async fn matrix(api: Api) {
    let cases: Vec<(Fault, Span)> = FAULTS
        .iter()
        .flat_map(|f| [(*f, Span::Passing), (*f, Span::Lasting)])
        .collect();
    // A few at a time: the machine running the tests may be small.
    let results: Vec<_> = futures::stream::iter(cases.iter())
        .map(|(fault, span)| async move { (fault, span, case(api, *fault, *span).await) })
        .buffer_unordered(4)
        .collect()
        .await;
    let failures: Vec<String> = results
        .into_iter()
        .filter_map(|(fault, span, r)| r.err().map(|e| format!("{fault:?}/{span:?}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} under faults:\n{}",
        api.name(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiktok_ad_groups_under_every_fault() {
    matrix(Api::TikTok).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinterest_campaigns_under_every_fault() {
    matrix(Api::Pinterest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn klaviyo_profiles_under_every_fault() {
    matrix(Api::Klaviyo).await;
}

// ---- links that must not be followed ----

/// Klaviyo's first page with `links.next` replaced by `next`.
fn klaviyo_with_next(next: Value) -> Injector {
    Arc::new(move |page, _attempt, _req, normal| {
        (page == 0).then(|| {
            let mut body: Value = serde_json::from_slice(normal).unwrap_or(Value::Null);
            body["links"]["next"] = next.clone();
            RawAnswer::json(200, &body)
        })
    })
}

#[tokio::test]
async fn a_next_link_to_another_host_fails_the_stream_without_sending_credentials() {
    let elsewhere = RawServer::start(|_req| RawAnswer::json(200, &json!({"data": []}))).await;
    let next = format!(
        "{}/api/profiles?page%5Bcursor%5D=P1&token=abc",
        elsewhere.uri()
    );
    let fake = FakeApi::start(Api::Klaviyo, klaviyo_with_next(json!(next))).await;
    let run = fake.read().await;
    assert_eq!(run.code, 1, "{}", run.raw);
    assert!(elsewhere.requests().is_empty(), "the other host was asked");
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["failure_type"], "system_error");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains(&elsewhere.uri()), "{message}");
    assert!(!message.contains("token=abc"), "{message}");
    assert_eq!(
        run.statuses("profiles").last().map(String::as_str),
        Some("INCOMPLETE")
    );
    // The first page was read; nothing claims more.
    assert_eq!(run.records("profiles").len(), 100);
    for state in run.states("profiles") {
        assert_eq!(max_cursor_in(&state, "updated"), None, "{state}");
    }
}

#[tokio::test]
async fn a_next_link_that_is_not_http_fails_at_once() {
    for next in [
        "ftp://127.0.0.1/api/profiles?page%5Bcursor%5D=P1",
        "javascript:alert(1)",
    ] {
        let fake = FakeApi::start(Api::Klaviyo, klaviyo_with_next(json!(next))).await;
        let run = fake.read().await;
        assert_eq!(run.code, 1, "{next}: {}", run.raw);
        let errors = run.errors();
        assert_eq!(errors[0]["failure_type"], "system_error", "{next}");
        let scheme = next.split(':').next().unwrap();
        assert!(
            errors[0]["message"].as_str().unwrap().contains(scheme),
            "{errors:?}"
        );
        assert!(
            !errors[0]["message"].as_str().unwrap().contains("P1"),
            "{errors:?}"
        );
        assert_eq!(
            fake.server.requests().len(),
            1,
            "{next}: only the first page was requested, and not retried"
        );
    }
}

#[tokio::test]
async fn a_next_link_back_to_a_page_already_read_fails_instead_of_looping() {
    let back: Injector = Arc::new(|page, _attempt, req, normal| {
        (page == 2).then(|| {
            let mut body: Value = serde_json::from_slice(normal).unwrap_or(Value::Null);
            let host = req.header("host").unwrap_or("127.0.0.1");
            body["links"]["next"] =
                json!(format!("http://{host}/api/profiles?page%5Bcursor%5D=P1"));
            RawAnswer::json(200, &body)
        })
    });
    let fake = FakeApi::start(Api::Klaviyo, back).await;
    let run = fake.read().await;
    assert_eq!(run.code, 1, "{}", run.raw);
    assert_eq!(run.errors()[0]["failure_type"], "system_error");
    assert!(run.errors()[0]["message"]
        .as_str()
        .unwrap()
        .contains("already read"));
    assert_eq!(run.records("profiles").len(), 300);
    assert_eq!(
        fake.server
            .requests()
            .iter()
            .filter(|r| Api::Klaviyo.page_of(r) == Some(1))
            .count(),
        1
    );
}
