//! The CLI contract every connector binary shares: `spec`, `check`, `discover`, `read`, and
//! what happens to each kind of bad input (one TRACE ERROR `config_error` with a message a
//! person can act on, a non-zero exit, nothing but protocol lines on stdout; for `check`, a
//! config that breaks the spec is instead a `CONNECTION_STATUS` `FAILED` and exit 0, as the
//! CDK answers).
//!
//! The real connector binaries, run as processes, are tested with the connectors
//! (`integration_tests/tests/connector_binaries.rs`).

use connector_runtime::prelude::*;
use connector_testkit::{catalog, env, run, DeclaredSource, Files, Run};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VAR: &str = "CLI_TEST_BASE_URL";
const NOW: &str = "2024-01-10T12:00:00Z";
const KEY: &str = "key-cli-0123456789";

fn source() -> DeclaredSource {
    DeclaredSource::new(|config, ctx| {
        let key = config["api_key"].as_str().unwrap_or_default().to_string();
        let requester = Requester::new("https://api.example.invalid/v1/", VAR, &ctx.env)?
            .with_auth(Arc::new(HeaderAuth::new("X-Key", key)));
        let day = CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d"));
        let now = ctx.env.clock.now();
        let items = DeclarativeStream::new(
            "items",
            json!({"type": "object"}),
            SimpleRetriever::new(&requester, |_s: &Slice| HttpRequest::get("items"))
                .records_at("data"),
        )
        .incremental(Incremental::new(
            "updated",
            day.clone(),
            now - Duration::days(5),
            now,
        ))
        .into_arc();
        let reports = DeclarativeStream::new(
            "reports",
            json!({"type": "object"}),
            SimpleRetriever::new(&requester, |s: &Slice| {
                HttpRequest::get(format!(
                    "reports/{}",
                    s.get_str("account").unwrap_or_default()
                ))
            })
            .records_at("data"),
        )
        .router(PartitionRouter::list("account", [json!("a1")]))
        .incremental(
            Incremental::new("day", day, now - Duration::days(5), now).per_partition(false),
        )
        .into_arc();
        Ok(vec![items, reports])
    })
    .check("items")
}

fn config() -> Value {
    json!({"api_key": KEY, "start_date": "2024-01-01"})
}

fn test_env(server: &str) -> RunEnv {
    env(VAR, server, NOW)
}

/// The one error of a failed invocation: exactly one TRACE ERROR, `config_error`, non-zero
/// exit, no record, no secret. Returns its message.
fn only_config_error(run: &Run) -> String {
    assert_ne!(run.code, 0, "{}", run.raw);
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.raw);
    assert_eq!(errors[0]["failure_type"], "config_error", "{}", run.raw);
    assert!(run.all_records().is_empty());
    assert!(!run.raw.contains(KEY), "{}", run.raw);
    errors[0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The answer of a `check` whose config the user must fix: exit 0, no TRACE error, one
/// CONNECTION_STATUS FAILED, no secret. Returns its message.
fn only_failed_status(run: &Run) -> String {
    assert_eq!(run.code, 0, "{}", run.raw);
    assert!(run.errors().is_empty(), "{}", run.raw);
    let statuses: Vec<&Value> = run
        .messages
        .iter()
        .filter(|m| m["type"] == "CONNECTION_STATUS")
        .collect();
    assert_eq!(statuses.len(), 1, "{}", run.raw);
    assert_eq!(run.connection_status()["status"], "FAILED", "{}", run.raw);
    assert!(!run.raw.contains(KEY), "{}", run.raw);
    run.connection_status()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn spec_prints_the_specification_and_exits_zero() {
    let run = run(&source(), test_env("http://127.0.0.1:9"), &["spec"]).await;
    assert_eq!(run.code, 0);
    assert_eq!(run.messages.len(), 1, "{}", run.raw);
    let expected = DeclaredSource::spec_json();
    assert_eq!(
        run.spec()["connectionSpecification"],
        expected["connectionSpecification"]
    );
    assert_eq!(run.spec()["documentationUrl"], expected["documentationUrl"]);
}

#[tokio::test]
async fn discover_lists_streams_with_sync_modes_and_cursors() {
    let files = Files::new();
    let c = files.json("config.json", &config());
    let run = run(
        &source(),
        test_env("http://127.0.0.1:9"),
        &["discover", "--config", &c],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.stream_names(), vec!["items", "reports"]);
    let items = &run.catalog()["streams"][0];
    assert_eq!(
        items["supported_sync_modes"],
        json!(["full_refresh", "incremental"])
    );
    assert_eq!(items["default_cursor_field"], json!(["updated"]));
    assert_eq!(items["source_defined_cursor"], json!(true));
}

#[tokio::test]
async fn a_missing_config_file_is_a_config_error_naming_the_file() {
    for command in ["check", "discover", "read"] {
        let mut args = vec![command, "--config", "/nonexistent/config.json"];
        if command == "read" {
            args.extend(["--catalog", "/nonexistent/catalog.json"]);
        }
        let run = run(&source(), test_env("http://127.0.0.1:9"), &args).await;
        let message = only_config_error(&run);
        assert!(
            message.contains("Could not read the config file /nonexistent/config.json"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_config_that_is_not_json_is_a_config_error() {
    let files = Files::new();
    let broken = files.text("config.json", "{\"api_key\": ");
    let not_object = files.text("list.json", "[1, 2]");
    for command in ["check", "discover"] {
        let run = run(
            &source(),
            test_env("http://127.0.0.1:9"),
            &[command, "--config", &broken],
        )
        .await;
        assert!(only_config_error(&run).contains("is not valid JSON"));
        let run = run_args(command, &not_object).await;
        assert!(only_config_error(&run).contains("must hold a JSON object"));
    }
    let k = files.json("catalog.json", &catalog(&[("items", "full_refresh")]));
    let run = run(
        &source(),
        test_env("http://127.0.0.1:9"),
        &["read", "--config", &broken, "--catalog", &k],
    )
    .await;
    assert!(only_config_error(&run).contains("is not valid JSON"));
}

async fn run_args(command: &str, config: &str) -> Run {
    run(
        &source(),
        test_env("http://127.0.0.1:9"),
        &[command, "--config", config],
    )
    .await
}

#[tokio::test]
async fn a_config_that_violates_the_spec_names_the_field() {
    let files = Files::new();
    let missing = files.json("missing.json", &json!({"start_date": "2024-01-01"}));
    let wrong = files.json(
        "wrong.json",
        &json!({"api_key": KEY, "start_date": "January"}),
    );
    let message = only_config_error(&run_args("discover", &missing).await);
    assert!(
        message.contains("does not match the connector's specification"),
        "{message}"
    );
    assert!(message.contains("api_key"), "{message}");
    let message = only_config_error(&run_args("discover", &wrong).await);
    assert!(message.contains("/start_date"), "{message}");
    // `check` answers the same message as its connection status, with exit 0.
    let message = only_failed_status(&run_args("check", &missing).await);
    assert!(
        message.contains("does not match the connector's specification"),
        "{message}"
    );
    assert!(message.contains("api_key"), "{message}");
    let message = only_failed_status(&run_args("check", &wrong).await);
    assert!(message.contains("/start_date"), "{message}");
    let k = files.json("catalog.json", &catalog(&[("items", "full_refresh")]));
    let run = run(
        &source(),
        test_env("http://127.0.0.1:9"),
        &["read", "--config", &wrong, "--catalog", &k],
    )
    .await;
    assert!(only_config_error(&run).contains("/start_date"));
}

/// A source whose stream declarations fail as the config's `fail` says.
fn failing_source() -> DeclaredSource {
    DeclaredSource::new(|config, _ctx| match config["fail"].as_str() {
        Some("config") => Err(Error::config("start_date must not be in the future")),
        _ => Err(Error::system("the stream declarations are broken")),
    })
    .check("items")
}

#[tokio::test]
async fn check_answers_a_config_error_of_the_source_as_failed_and_lets_other_errors_escape() {
    let files = Files::new();
    let rule = files.json("rule.json", &json!({"api_key": KEY, "fail": "config"}));
    let r = run(
        &failing_source(),
        test_env("http://127.0.0.1:9"),
        &["check", "--config", &rule],
    )
    .await;
    assert_eq!(
        only_failed_status(&r),
        "start_date must not be in the future"
    );

    let bug = files.json("bug.json", &json!({"api_key": KEY, "fail": "system"}));
    let r = run(
        &failing_source(),
        test_env("http://127.0.0.1:9"),
        &["check", "--config", &bug],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.raw);
    let errors = r.errors();
    assert_eq!(errors.len(), 1, "{}", r.raw);
    assert_eq!(errors[0]["failure_type"], "system_error");
    assert!(r.connection_status().is_null(), "{}", r.raw);
}

async fn read_with_files(catalog_text: &str, state_text: Option<&str>) -> Run {
    let files = Files::new();
    let c = files.json("config.json", &config());
    let k = files.text("catalog.json", catalog_text);
    let mut args = vec![
        "read".to_string(),
        "--config".into(),
        c,
        "--catalog".into(),
        k,
    ];
    if let Some(s) = state_text {
        args.push("--state".into());
        args.push(files.text("state.json", s));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&source(), test_env("http://127.0.0.1:9"), &args).await
}

#[tokio::test]
async fn a_catalog_that_is_missing_broken_or_not_a_catalog_is_a_config_error() {
    let files = Files::new();
    let c = files.json("config.json", &config());
    let run1 = run(
        &source(),
        test_env("http://127.0.0.1:9"),
        &[
            "read",
            "--config",
            &c,
            "--catalog",
            "/nonexistent/catalog.json",
        ],
    )
    .await;
    assert!(only_config_error(&run1).contains("Could not read the catalog file"));
    let message = only_config_error(&read_with_files("{\"streams\": [", None).await);
    assert!(
        message.contains("catalog file") && message.contains("not valid JSON"),
        "{message}"
    );
    for not_a_catalog in [
        "{\"streams\": 5}",
        "[1, 2]",
        "{\"streams\": [{\"name\": \"items\"}]}",
        "",
    ] {
        let message = only_config_error(&read_with_files(not_a_catalog, None).await);
        assert!(
            message.contains("is not a configured catalog"),
            "{not_a_catalog}: {message}"
        );
    }
}

#[tokio::test]
async fn a_catalog_naming_unknown_streams_lists_them() {
    let k = catalog(&[
        ("items", "full_refresh"),
        ("ghosts", "full_refresh"),
        ("phantoms", "incremental"),
    ]);
    let message = only_config_error(&read_with_files(&k.to_string(), None).await);
    assert!(message.contains("ghosts, phantoms"), "{message}");
    assert!(message.contains("Refresh the source schema"), "{message}");
}

#[tokio::test]
async fn an_unreadable_state_is_a_config_error() {
    let k = catalog(&[("items", "incremental"), ("reports", "incremental")]).to_string();
    let stream_state = |name: &str, s: Value| {
        json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": s}}]).to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        ("[{\"type\": \"STREAM\"".to_string(), "not valid JSON"),
        ("5".to_string(), "must be a list of state messages"),
        ("[5]".to_string(), "not a state message"),
        (
            stream_state("items", json!("2024-01-01")),
            "must be a JSON object",
        ),
        (
            stream_state("items", json!({"updated": "yesterday"})),
            "not a date this stream can read",
        ),
        (
            stream_state("reports", json!({"states": {"a1": {}}})),
            "must be a list",
        ),
        (
            stream_state(
                "reports",
                json!({"states": [{"cursor": {"day": "2024-01-01"}}]}),
            ),
            "partition",
        ),
        (
            stream_state(
                "reports",
                json!({"states": [{"partition": {"account": "a1"}, "cursor": {"day": "01/02/2024"}}]}),
            ),
            "not a date",
        ),
        (
            stream_state(
                "reports",
                json!({"state": {"day": "2024-01-01"}, "lookback_window": "long"}),
            ),
            "lookback_window",
        ),
    ];
    for (state, needle) in cases {
        let run = read_with_files(&k, Some(&state)).await;
        let message = only_config_error(&run);
        assert!(message.contains(needle), "{state}: {message}");
        assert!(
            run.statuses("items").is_empty(),
            "nothing starts before the state is read"
        );
    }
}

#[tokio::test]
async fn unknown_commands_and_arguments_are_config_errors_with_usage() {
    let server_env = || test_env("http://127.0.0.1:9");
    for args in [
        vec!["sync"],
        vec!["spec", "--nope"],
        vec!["check"],
        vec!["read", "--config", "c.json"],
        vec![],
    ] {
        let run = run(&source(), server_env(), &args).await;
        let message = only_config_error(&run);
        assert!(
            message.contains("Usage: source-declared spec | check --config F"),
            "{args:?}: {message}"
        );
    }
}

#[tokio::test]
async fn check_succeeds_when_the_check_stream_answers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/items"))
        .and(header("X-Key", KEY))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"updated": "2024-01-09"}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let files = Files::new();
    let c = files.json("config.json", &config());
    let run = run(
        &source(),
        test_env(&server.uri()),
        &["check", "--config", &c],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(run.connection_status(), json!({"status": "SUCCEEDED"}));
    assert!(run.errors().is_empty());
}

#[tokio::test]
async fn check_reports_failed_with_the_api_reason_on_401_and_403() {
    for (status, reason) in [
        (401, "Invalid API key"),
        (403, "Missing scope accounts:read"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/items"))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(json!({"detail": reason, "echo": KEY})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let files = Files::new();
        let c = files.json("config.json", &config());
        let run = run(
            &source(),
            test_env(&server.uri()),
            &["check", "--config", &c],
        )
        .await;
        assert_eq!(run.code, 0, "{}", run.raw);
        let status_msg = run.connection_status();
        assert_eq!(status_msg["status"], "FAILED");
        let message = status_msg["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("Stream items is not available: "),
            "{message}"
        );
        assert!(message.contains(&format!("HTTP {status}")), "{message}");
        assert!(message.contains(reason), "{message}");
        assert!(!run.raw.contains(KEY), "{}", run.raw);
    }
}

#[tokio::test]
async fn stdout_carries_only_protocol_lines() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/items"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"updated": "2024-01-09"}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let files = Files::new();
    let c = files.json("config.json", &config());
    let k = files.json("catalog.json", &catalog(&[("items", "incremental")]));
    let run = run(
        &source(),
        test_env(&server.uri()),
        &["read", "--config", &c, "--catalog", &k],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.raw);
    // `run` already parsed and validated every line; here: nothing else, and each ends in \n.
    assert_eq!(run.raw.lines().count(), run.messages.len());
    assert!(run.raw.ends_with('\n'));
    let types: Vec<&str> = run
        .messages
        .iter()
        .filter_map(|m| m["type"].as_str())
        .collect();
    assert!(
        types
            .iter()
            .all(|t| ["RECORD", "STATE", "LOG", "TRACE"].contains(t)),
        "{types:?}"
    );
}
