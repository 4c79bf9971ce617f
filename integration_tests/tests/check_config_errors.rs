//! `check` of every connector answers as the CDK does: a config the user must fix (it breaks
//! the spec, or a migrated legacy config still does) and credentials the API refuses (401,
//! 403) are a `CONNECTION_STATUS` `FAILED` with the reason and exit 0, never a TRACE; a config
//! file that cannot be read as JSON is still a TRACE and exit 1.

use connector_runtime::source::DynSource;
use integration_tests::{env, run, with_config, Files, Run};
use serde_json::{json, Value};
use source_klaviyo::SourceKlaviyo;
use source_pinterest::SourcePinterest;
use source_tiktok_marketing::SourceTiktokMarketing;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const NOW: &str = "2024-06-10T12:00:00Z";
const KLAVIYO_KEY: &str = "pk_check_secret_key";
const PINTEREST_TOKEN: &str = "atoken-check-123";
const TIKTOK_TOKEN: &str = "token-check-abcdef";

fn klaviyo_config() -> Value {
    json!({"api_key": KLAVIYO_KEY, "start_date": "2024-01-01T00:00:00Z"})
}

fn pinterest_config() -> Value {
    json!({
        "start_date": "2024-01-01",
        "credentials": {
            "auth_method": "oauth2.0",
            "client_id": "cid",
            "client_secret": "csecret-check",
            "refresh_token": "rtoken-check",
            "access_token": PINTEREST_TOKEN,
            "token_expiry_date": "2099-01-01T00:00:00+00:00"
        }
    })
}

fn tiktok_config() -> Value {
    json!({
        "credentials": {"auth_type": "oauth2.0", "app_id": "app-1234", "secret": "secret-check",
                        "access_token": TIKTOK_TOKEN, "advertiser_id": "111"},
        "start_date": "2024-06-01"
    })
}

/// A `check` that failed on the config or the credentials: exit 0, no TRACE error, exactly
/// one CONNECTION_STATUS, FAILED, and no secret outside a CONTROL message. Returns its
/// message.
fn failed_status(run: &Run, secrets: &[&str]) -> String {
    assert_eq!(run.code, 0, "{}", run.raw);
    assert!(run.errors().is_empty(), "{}", run.raw);
    let statuses = run
        .messages
        .iter()
        .filter(|m| m["type"] == "CONNECTION_STATUS")
        .count();
    assert_eq!(statuses, 1, "{}", run.raw);
    let status = run.connection_status();
    assert_eq!(status["status"], "FAILED", "{}", run.raw);
    // A CONTROL message carries the migrated config, secrets included, for the platform to
    // store (the protocol's purpose for it); every other line must not hold one.
    for m in run.messages.iter().filter(|m| m["type"] != "CONTROL") {
        for secret in secrets {
            assert!(!m.to_string().contains(secret), "{secret} leaked: {m}");
        }
    }
    let message = status["message"].as_str().unwrap_or_default().to_string();
    assert!(!message.is_empty(), "{}", run.raw);
    message
}

async fn check(source: &dyn DynSource, var: &str, server: &str, config: &Value) -> Run {
    with_config(source, env(var, server, NOW), "check", config).await
}

#[tokio::test]
async fn klaviyo_check_with_a_wrong_typed_api_key_is_a_failed_status() {
    let mut c = klaviyo_config();
    c["api_key"] = json!(5);
    let run = check(
        &SourceKlaviyo,
        source_klaviyo::BASE_URL_VAR,
        "http://127.0.0.1:9",
        &c,
    )
    .await;
    let message = failed_status(&run, &[]);
    assert!(message.contains("api_key"), "{message}");

    // The same config fails `discover` loudly, as before.
    let run = with_config(
        &SourceKlaviyo,
        env(source_klaviyo::BASE_URL_VAR, "http://127.0.0.1:9", NOW),
        "discover",
        &c,
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.raw);
    assert_eq!(run.errors().len(), 1, "{}", run.raw);
    assert_eq!(run.errors()[0]["failure_type"], "config_error");
    assert!(run.connection_status().is_null());
}

#[tokio::test]
async fn klaviyo_check_with_a_bad_start_date_names_the_field() {
    let mut c = klaviyo_config();
    c["start_date"] = json!("the first of May");
    let run = check(
        &SourceKlaviyo,
        source_klaviyo::BASE_URL_VAR,
        "http://127.0.0.1:9",
        &c,
    )
    .await;
    let message = failed_status(&run, &[KLAVIYO_KEY]);
    assert!(message.contains("start_date"), "{message}");
}

#[tokio::test]
async fn pinterest_check_with_a_wrong_typed_start_date_is_a_failed_status() {
    let mut c = pinterest_config();
    c["start_date"] = json!(20240101);
    let run = check(
        &SourcePinterest,
        source_pinterest::BASE_URL_VAR,
        "http://127.0.0.1:9",
        &c,
    )
    .await;
    let message = failed_status(&run, &[PINTEREST_TOKEN, "csecret-check", "rtoken-check"]);
    assert!(message.contains("start_date"), "{message}");
}

#[tokio::test]
async fn pinterest_check_with_a_legacy_config_that_migrates_to_an_invalid_one_is_a_failed_status() {
    let mut c = pinterest_config();
    // `[5]` unwraps to 5, which is not one of the allowed window lengths.
    c["custom_reports"] = json!([{"name": "r", "level": "ADVERTISER", "granularity": "DAY",
        "columns": [], "click_window_days": [5], "conversion_report_time": "TIME_OF_AD_ACTION"}]);
    let run = check(
        &SourcePinterest,
        source_pinterest::BASE_URL_VAR,
        "http://127.0.0.1:9",
        &c,
    )
    .await;
    let message = failed_status(&run, &[PINTEREST_TOKEN, "csecret-check", "rtoken-check"]);
    assert!(message.contains("click_window_days"), "{message}");
    // The migration itself was still announced, before the answer.
    let controls = run.controls();
    assert_eq!(controls.len(), 1, "{}", run.raw);
    assert_eq!(
        controls[0]["custom_reports"][0]["click_window_days"],
        json!(5)
    );
}

#[tokio::test]
async fn tiktok_check_with_a_config_that_breaks_the_spec_is_a_failed_status() {
    let mut c = tiktok_config();
    c["report_granularity"] = json!(90);
    let run = check(
        &SourceTiktokMarketing,
        source_tiktok_marketing::BASE_URL_VAR,
        "http://127.0.0.1:9",
        &c,
    )
    .await;
    let message = failed_status(&run, &[TIKTOK_TOKEN, "secret-check"]);
    assert!(message.contains("report_granularity"), "{message}");
}

#[tokio::test]
async fn tiktok_check_with_a_migrated_legacy_config_that_still_breaks_the_spec_is_a_failed_status()
{
    let mut c = tiktok_config();
    c["report_granularity"] = json!("DAY");
    c["start_date"] = json!("June 1st");
    let run = check(
        &SourceTiktokMarketing,
        source_tiktok_marketing::BASE_URL_VAR,
        "http://127.0.0.1:9",
        &c,
    )
    .await;
    let message = failed_status(&run, &[TIKTOK_TOKEN, "secret-check"]);
    assert!(message.contains("start_date"), "{message}");
    let controls = run.controls();
    assert_eq!(controls.len(), 1, "{}", run.raw);
    assert_eq!(controls[0]["report_granularity"], json!(30));
    assert_eq!(controls[0]["legacy_report_granularity"], json!("DAY"));
}

/// Answers every request with `status` and a body naming the reason.
async fn refusing_server(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(status).set_body_json(json!({
            "message": "refused", "detail": "refused",
            "errors": [{"detail": "refused"}], "code": status
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn every_check_answers_401_and_403_with_a_failed_status() {
    for status in [401u16, 403] {
        let server = refusing_server(status).await;
        let run = check(
            &SourceKlaviyo,
            source_klaviyo::BASE_URL_VAR,
            &server.uri(),
            &klaviyo_config(),
        )
        .await;
        let message = failed_status(&run, &[KLAVIYO_KEY]);
        assert!(
            message.starts_with("Stream metrics is not available: "),
            "{status}: {message}"
        );

        let server = refusing_server(status).await;
        let run = check(
            &SourcePinterest,
            source_pinterest::BASE_URL_VAR,
            &server.uri(),
            &pinterest_config(),
        )
        .await;
        let message = failed_status(&run, &[PINTEREST_TOKEN, "csecret-check", "rtoken-check"]);
        assert!(
            message.starts_with("Stream user_account_analytics is not available: "),
            "{status}: {message}"
        );

        let server = refusing_server(status).await;
        let run = check(
            &SourceTiktokMarketing,
            source_tiktok_marketing::BASE_URL_VAR,
            &server.uri(),
            &tiktok_config(),
        )
        .await;
        let message = failed_status(&run, &[TIKTOK_TOKEN, "secret-check"]);
        assert!(
            message.starts_with("Stream advertisers is not available: "),
            "{status}: {message}"
        );
    }
}

#[tokio::test]
async fn every_check_of_a_config_file_that_is_not_json_is_a_trace_and_exit_1() {
    let files = Files::new();
    let broken = files.text("config.json", "{\"api_key\": ");
    let sources: [(&dyn DynSource, &str); 3] = [
        (&SourceKlaviyo, source_klaviyo::BASE_URL_VAR),
        (&SourcePinterest, source_pinterest::BASE_URL_VAR),
        (
            &SourceTiktokMarketing,
            source_tiktok_marketing::BASE_URL_VAR,
        ),
    ];
    for (source, var) in sources {
        let run = run(
            source,
            env(var, "http://127.0.0.1:9", NOW),
            &["check", "--config", &broken],
        )
        .await;
        assert_eq!(run.code, 1, "{}", run.raw);
        let errors = run.errors();
        assert_eq!(errors.len(), 1, "{}", run.raw);
        assert_eq!(errors[0]["failure_type"], "config_error");
        assert!(
            errors[0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("is not valid JSON"),
            "{}",
            run.raw
        );
        assert!(run.connection_status().is_null(), "{}", run.raw);
    }
}
