//! The page-number paginator stops on the last page its answers' totals announce
//! (`Paginator::stop_on_totals`, which TikTok's `page_info` feeds): a full last page costs
//! no extra, empty request. The short-page stop still ends answers without totals, and totals
//! that contradict the records never cut a read short.

use connector_runtime::prelude::*;
use connector_testkit::{catalog, env, read, DeclaredSource, Run};
use wiremock::matchers::{path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VAR: &str = "PAGE_TOTALS_TEST_BASE_URL";
const NOW: &str = "2024-06-10T12:00:00Z";

/// `items` with page size 2, stopping on `data.pages` / `data.total` when `totals` is set.
fn declared(totals: bool) -> DeclaredSource {
    DeclaredSource::new(move |_c, ctx| {
        let r = Requester::new("https://api.example.invalid/v1/", VAR, &ctx.env)?;
        let mut paginator = Paginator::page_number(2);
        if totals {
            paginator = paginator.stop_on_totals("data.pages", "data.total");
        }
        Ok(vec![DeclarativeStream::new(
            "items",
            json!({}),
            SimpleRetriever::new(&r, |_s: &Slice| HttpRequest::get("items"))
                .paginator(paginator)
                .records_at("data.list"),
        )
        .into_arc()])
    })
}

/// Answers page `page` (1 = the request without `page`) with `body`, exactly once.
async fn page(server: &MockServer, page: u32, body: Value) {
    let mock = Mock::given(path("/v1/items")).and(query_param("page_size", "2"));
    let mock = if page == 1 {
        mock.and(query_param_is_missing("page"))
    } else {
        mock.and(query_param("page", page.to_string()))
    };
    mock.respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": body })))
        .expect(1)
        .mount(server)
        .await;
}

async fn read_items(server: &MockServer, source: &DeclaredSource) -> Run {
    read(
        source,
        env(VAR, &server.uri(), NOW),
        &json!({"api_key": "key-pages-0123456789"}),
        &catalog(&[("items", "full_refresh")]),
        None,
    )
    .await
}

fn ids(run: &Run, stream: &str) -> Vec<Value> {
    run.records(stream)
        .iter()
        .map(|r| r["id"].clone())
        .collect()
}

#[tokio::test]
async fn a_full_last_page_by_the_page_total_ends_the_read_without_an_empty_page() {
    let server = MockServer::start().await;
    page(
        &server,
        1,
        json!({"list": [{"id": 1}, {"id": 2}], "pages": 2, "total": 4}),
    )
    .await;
    page(
        &server,
        2,
        json!({"list": [{"id": 3}, {"id": 4}], "pages": 2, "total": 4}),
    )
    .await;
    let run = read_items(&server, &declared(true)).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        ids(&run, "items"),
        vec![json!(1), json!(2), json!(3), json!(4)]
    );
    // Exactly the two pages: a third request would find no mock and fail the read.
    assert_eq!(server.received_requests().await.map_or(0, |r| r.len()), 2);
}

#[tokio::test]
async fn the_record_total_alone_also_ends_the_read() {
    let server = MockServer::start().await;
    page(
        &server,
        1,
        json!({"list": [{"id": 1}, {"id": 2}], "total": "2"}),
    )
    .await;
    let run = read_items(&server, &declared(true)).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(ids(&run, "items"), vec![json!(1), json!(2)]);
}

#[tokio::test]
async fn without_totals_or_with_contradicting_ones_the_empty_page_still_ends_the_read() {
    // No totals at all; then totals of zero beside a full page: neither may stop early.
    for totals in [json!({}), json!({"pages": 0, "total": 0})] {
        let server = MockServer::start().await;
        let with = |list: Value| {
            let mut body = totals.clone();
            body["list"] = list;
            body
        };
        page(&server, 1, with(json!([{"id": 1}, {"id": 2}]))).await;
        page(&server, 2, with(json!([{"id": 3}, {"id": 4}]))).await;
        page(&server, 3, with(json!([]))).await;
        let run = read_items(&server, &declared(true)).await;
        assert_eq!(run.code, 0, "{}", run.raw);
        assert_eq!(ids(&run, "items").len(), 4, "{totals}");
    }
}

#[tokio::test]
async fn the_record_total_counts_the_records_of_every_page_read() {
    let server = MockServer::start().await;
    page(
        &server,
        1,
        json!({"list": [{"id": 1}, {"id": 2}], "total": 4}),
    )
    .await;
    page(
        &server,
        2,
        json!({"list": [{"id": 3}, {"id": 4}], "total": 4}),
    )
    .await;
    let run = read_items(&server, &declared(true)).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(ids(&run, "items").len(), 4);
    assert_eq!(server.received_requests().await.map_or(0, |r| r.len()), 2);
}

#[tokio::test]
async fn without_stop_on_totals_the_paginator_reads_the_empty_page_as_before() {
    let server = MockServer::start().await;
    page(
        &server,
        1,
        json!({"list": [{"id": 1}, {"id": 2}], "pages": 1, "total": 2}),
    )
    .await;
    page(&server, 2, json!({"list": [], "pages": 1, "total": 2})).await;
    let run = read_items(&server, &declared(false)).await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(ids(&run, "items").len(), 2);
}
