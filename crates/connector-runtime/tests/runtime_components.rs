//! Runtime components a source declares instead of hand-writing: request templates, substream
//! routers that keep parent fields, and the async (job) retriever, each against a mock API.

use connector_runtime::async_retriever::{AsyncJobApi, AsyncRetriever, JobLimits, JobStatus};
use connector_runtime::prelude::*;
use connector_testkit::{catalog, env, ok, read, DeclaredSource};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request};

const VAR: &str = "COMPONENTS_TEST_BASE_URL";
const NOW: &str = "2024-01-10T12:00:00Z";

fn requester(ctx: &SourceContext) -> Result<Requester> {
    Ok(
        Requester::new("https://api.example.invalid/v1/", VAR, &ctx.env)?.with_auth(Arc::new(
            HeaderAuth::new("X-Api-Key", "key-components-0123"),
        )),
    )
}

fn day() -> CursorFormat {
    CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d"))
}

fn d(text: &str) -> DateTime<Utc> {
    parse_date(text).expect("a date")
}

async fn read_stream(
    server: &MockServer,
    source: &DeclaredSource,
    stream: &str,
) -> connector_testkit::Run {
    read(
        source,
        env(VAR, &server.uri(), NOW),
        &json!({"api_key": "key-components-0123"}),
        &catalog(&[(stream, "incremental")]),
        None,
    )
    .await
}

// ---- request templates and kept parent fields ----

/// `lists` (parent) and `members` (per list, 2-day windows), requested by a template that
/// uses the partition, the window and a kept parent field.
fn templated() -> DeclaredSource {
    DeclaredSource::new(|_c, ctx| {
        let r = requester(ctx)?;
        let lists = DeclarativeStream::new(
            "lists",
            json!({}),
            SimpleRetriever::new(&r, RequestTemplate::get("lists").checked()?).records_at("data"),
        )
        .into_arc();
        let router =
            SubstreamRouter::new(lists, "id", "list_id").keep_parent_field("meta.owner", "owner");
        let template = RequestTemplate::get("lists/{partition.list_id}/members")
            .query("from", "{window.start:%Y-%m-%d}")
            .query("to", "{window.end:%Y-%m-%d}")
            .query("owner", "{parent.owner}")
            .header("X-List", "{partition.list_id}")
            .parent_fields(router.parent_fields())
            .checked()?;
        let members = DeclarativeStream::new(
            "members",
            json!({}),
            SimpleRetriever::new(&r, template).records_at("data"),
        )
        .router(PartitionRouter::Substream(router))
        .incremental(
            Incremental::new("day", day(), d("2024-01-08"), d("2024-01-09"))
                .step(Duration::days(2), Duration::days(1))
                .per_partition(true),
        )
        .into_arc();
        // A template naming a partition key its router does not make.
        let broken = DeclarativeStream::new(
            "broken",
            json!({}),
            SimpleRetriever::new(&r, RequestTemplate::get("lists/{partition.id}").checked()?),
        )
        .router(PartitionRouter::list("list_id", [json!("l1")]))
        .into_arc();
        Ok(vec![members, broken])
    })
}

#[tokio::test]
async fn templates_render_partition_window_and_kept_parent_fields_and_state_keeps_the_partition() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/lists"))
        .respond_with(ok(json!({"data": [
            {"id": "l/1", "meta": {"owner": "ann & bob"}},
            {"id": "l2", "meta": {"owner": "cy"}}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    for (encoded, list, owner) in [("l%2F1", "l/1", "ann & bob"), ("l2", "l2", "cy")] {
        Mock::given(method("GET"))
            .and(path(format!("/v1/lists/{encoded}/members")))
            .and(query_param("from", "2024-01-08"))
            .and(query_param("to", "2024-01-09"))
            .and(query_param("owner", owner))
            .and(move |r: &Request| {
                r.headers.get("x-list").and_then(|v| v.to_str().ok()) == Some(list)
                    && r.headers.contains_key("x-api-key")
            })
            .respond_with(ok(json!({"data": [{"day": "2024-01-09", "list": list}]})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let run = read_stream(&server, &templated(), "members").await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.records("members").len(), 2);
    let state = run.last_state("members").expect("a state");
    // The kept field stays out of the partition: state has the official shape.
    let partitions: Vec<Value> = state["states"]
        .as_array()
        .expect("per-partition states")
        .iter()
        .map(|s| s["partition"].clone())
        .collect();
    assert_eq!(
        partitions,
        vec![
            json!({"list_id": "l/1", "parent_slice": {}}),
            json!({"list_id": "l2", "parent_slice": {}})
        ]
    );
}

#[tokio::test]
async fn a_template_naming_a_missing_partition_key_fails_the_stream_without_a_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let run = read_stream(&server, &templated(), "broken").await;
    assert_eq!(run.code, 1, "{}", run.raw);
    assert_eq!(
        run.statuses("broken").last().map(String::as_str),
        Some("INCOMPLETE")
    );
    let e = &run.errors()[0];
    assert_eq!(e["failure_type"], "system_error");
    let message = e["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("Stream broken: "), "{message}");
    assert!(message.contains("{partition.id}"), "{message}");
    assert!(message.contains(r#"{"list_id":"l1"}"#), "{message}");
}

#[tokio::test]
async fn a_template_with_a_declaration_error_is_refused_before_reading() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let source = DeclaredSource::new(|_c, ctx| {
        let r = requester(ctx)?;
        let t = RequestTemplate::get("items")
            .query("since", "{window.start}")
            .checked()?;
        Ok(vec![DeclarativeStream::new(
            "items",
            json!({}),
            SimpleRetriever::new(&r, t),
        )
        .into_arc()])
    });
    let run = read_stream(&server, &source, "items").await;
    assert_eq!(run.code, 1, "{}", run.raw);
    let e = &run.errors()[0];
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("needs a format"),
        "{e}"
    );
}

// ---- async retriever ----

/// A job API: `POST jobs` answers `{"job": {"id": …}}`, `GET jobs/{id}` answers `state`
/// (`running`, `done`, `failed`, or something undocumented) and `file`.
struct Jobs;

impl AsyncJobApi for Jobs {
    fn create(&self, slice: &Slice) -> Result<HttpRequest> {
        let account = slice
            .get_str("account")
            .ok_or_else(|| Error::config("no account"))?;
        Ok(HttpRequest::post_json("jobs", json!({"account": account})))
    }

    fn job_id(&self, created: &Value) -> Option<String> {
        created.get("job")?.get("id")?.as_str().map(str::to_string)
    }

    fn poll(&self, _slice: &Slice, job: &str) -> Result<HttpRequest> {
        Ok(HttpRequest::get(format!("jobs/{job}")))
    }

    fn status(&self, polled: &Value) -> Result<JobStatus> {
        match polled.get("state").and_then(Value::as_str) {
            Some("running") => Ok(JobStatus::Running),
            Some("done") => Ok(JobStatus::Completed),
            Some("failed") => Ok(JobStatus::Failed("the job failed".into())),
            other => Err(Error::system(format!("job state {other:?} is unknown"))),
        }
    }

    fn download_url(&self, answer: &Value) -> Option<String> {
        answer
            .get("file")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

fn async_source(account: Option<&'static str>) -> DeclaredSource {
    DeclaredSource::new(move |_c, ctx| {
        let r = requester(ctx)?;
        let retriever = AsyncRetriever::new(&r, Jobs)
            .records_at("rows")
            .limits(JobLimits {
                max_attempts: 2,
                ..JobLimits::default()
            });
        let router = match account {
            Some(a) => PartitionRouter::list("account", [json!(a)]),
            None => PartitionRouter::Single,
        };
        Ok(vec![DeclarativeStream::new(
            "exports",
            json!({}),
            retriever,
        )
        .router(router)
        .into_arc()])
    })
}

async fn job(server: &MockServer, id: &str, states: &[Value]) {
    Mock::given(method("POST"))
        .and(path("/v1/jobs"))
        .respond_with(ok(json!({"job": {"id": id}})))
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
    for (i, s) in states.iter().enumerate() {
        let last = i + 1 == states.len();
        let m = Mock::given(method("GET"))
            .and(path(format!("/v1/jobs/{id}")))
            .respond_with(ok(s.clone()));
        if last {
            m.expect(1..).mount(server).await;
        } else {
            m.up_to_n_times(1).expect(1).mount(server).await;
        }
    }
}

#[tokio::test]
async fn an_async_job_is_created_polled_downloaded_without_auth_and_created_again_when_it_fails() {
    let server = MockServer::start().await;
    let uri = server.uri();
    job(
        &server,
        "j1",
        &[json!({"state": "running"}), json!({"state": "failed"})],
    )
    .await;
    job(
        &server,
        "j2",
        &[
            json!({"state": "running"}),
            json!({"state": "done", "file": format!("{uri}/files/j2?sig=abc")}),
        ],
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/files/j2"))
        .and(query_param("sig", "abc"))
        .and(|r: &Request| !r.headers.contains_key("x-api-key"))
        .respond_with(ok(json!({"rows": [{"n": 1}, {"n": 2}]})))
        .expect(1)
        .mount(&server)
        .await;
    let run = read_stream(&server, &async_source(Some("acc-1")), "exports").await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(
        run.records("exports"),
        vec![json!({"n": 1}), json!({"n": 2})]
    );
    let created: Vec<Value> = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect();
    assert_eq!(created, vec![json!({"account": "acc-1"}); 2]);
}

#[tokio::test]
async fn async_jobs_that_keep_failing_fail_the_stream_after_the_attempt_limit() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/jobs"))
        .respond_with(ok(json!({"no": "id"})))
        .expect(2)
        .mount(&server)
        .await;
    let run = read_stream(&server, &async_source(Some("acc-1")), "exports").await;
    assert_eq!(run.code, 1, "{}", run.raw);
    let e = &run.errors()[0];
    assert_eq!(e["failure_type"], "transient_error");
    assert_eq!(
        e["message"],
        "One or more async jobs failed after exhausting all retry attempts."
    );
    assert!(
        e["internal_message"]
            .as_str()
            .unwrap_or_default()
            .contains("without a job id"),
        "{e}"
    );
}

#[tokio::test]
async fn an_undocumented_job_status_fails_at_once_and_a_slice_without_a_job_sends_nothing() {
    let server = MockServer::start().await;
    job(&server, "j1", &[json!({"state": "paused?"})]).await;
    let run = read_stream(&server, &async_source(Some("acc-1")), "exports").await;
    assert_eq!(run.code, 1, "{}", run.raw);
    let e = &run.errors()[0];
    assert_eq!(e["failure_type"], "system_error");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("paused?"),
        "{e}"
    );

    // No account in the partition: the creation request cannot be built, nothing is sent.
    let quiet = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok(json!({})))
        .expect(0)
        .mount(&quiet)
        .await;
    let run = read_stream(&quiet, &async_source(None), "exports").await;
    assert_eq!(run.code, 1, "{}", run.raw);
    assert_eq!(run.errors()[0]["failure_type"], "config_error");
}
