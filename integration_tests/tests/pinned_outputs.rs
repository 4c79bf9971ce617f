//! The exact bytes each connector prints for `spec` and `discover`, pinned against golden files
//! in `integration_tests/golden/`. Spec and catalog are the contract an existing Airbyte
//! connection depends on (field names, schemas, keys, cursors): a refactoring must leave them
//! byte-identical, and a deliberate change shows up here as a diff to review.
//!
//! To accept a deliberate change, regenerate the files with
//! `UPDATE_GOLDEN=1 cargo test -p integration_tests --test pinned_outputs` and review the diff.

use std::path::PathBuf;

use connector_runtime::source::DynSource;
use integration_tests::{env, run, with_config};
use serde_json::{json, Value};

fn golden_path(connector: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(connector)
        .join(name)
}

/// Compares `actual` with the golden file byte for byte (or rewrites it under `UPDATE_GOLDEN`).
fn assert_golden(connector: &str, name: &str, actual: &str) {
    let path = golden_path(connector, name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("golden dir")).expect("create golden dir");
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{connector} {name} differs from {} at line {}:\nexpected: {}\nactual:   {}",
            path.display(),
            first + 1,
            expected.lines().nth(first).unwrap_or("<end>"),
            actual.lines().nth(first).unwrap_or("<end>"),
        );
    }
}

/// Spec and discover output (LOG lines left out: only the contract is pinned).
async fn pin(source: &dyn DynSource, base_url_var: &str, configs: &[(&str, Value)]) {
    let name = source.name();
    let spec = run(
        source,
        env(base_url_var, "http://127.0.0.1:9", "2024-06-15T00:00:00Z"),
        &["spec"],
    )
    .await;
    assert_eq!(spec.code, 0, "{name} spec: {}", spec.raw);
    assert_golden(name, "spec.jsonl", &contract_lines(&spec.raw));
    for (label, config) in configs {
        let discover = with_config(
            source,
            env(base_url_var, "http://127.0.0.1:9", "2024-06-15T00:00:00Z"),
            "discover",
            config,
        )
        .await;
        assert_eq!(
            discover.code, 0,
            "{name} discover {label}: {}",
            discover.raw
        );
        assert!(
            !discover.stream_names().is_empty(),
            "{name} discover {label}: a catalog"
        );
        assert_golden(
            name,
            &format!("discover-{label}.jsonl"),
            &contract_lines(&discover.raw),
        );
    }
}

fn contract_lines(raw: &str) -> String {
    raw.lines()
        .filter(|l| !l.starts_with("{\"type\":\"LOG\""))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[tokio::test]
async fn tiktok_marketing_spec_and_catalog_are_pinned() {
    pin(
        &source_tiktok_marketing::SourceTiktokMarketing,
        source_tiktok_marketing::BASE_URL_VAR,
        &[
            (
                "production",
                json!({"credentials": {"auth_type": "oauth2.0", "app_id": "app", "secret": "secret", "access_token": "token"}, "start_date": "2024-01-01"}),
            ),
            (
                "sandbox",
                json!({"credentials": {"auth_type": "sandbox_access_token", "advertiser_id": "1", "access_token": "token"}, "start_date": "2024-01-01"}),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn pinterest_spec_and_catalog_are_pinned() {
    pin(
        &source_pinterest::SourcePinterest,
        source_pinterest::BASE_URL_VAR,
        &[
            (
                "default",
                json!({"credentials": {"auth_method": "oauth2.0", "client_id": "id", "client_secret": "secret", "refresh_token": "refresh"}, "start_date": "2024-01-01"}),
            ),
            (
                "custom-reports",
                json!({"credentials": {"auth_method": "oauth2.0", "client_id": "id", "client_secret": "secret", "refresh_token": "refresh"}, "start_date": "2024-01-01",
                    "custom_reports": [{"name": "my report", "level": "CAMPAIGN", "granularity": "DAY", "columns": ["SPEND_IN_DOLLAR", "TOTAL_IMPRESSION"], "click_window_days": 30, "engagement_window_days": 30, "view_window_days": 30, "conversion_report_time": "TIME_OF_AD_ACTION", "attribution_types": ["INDIVIDUAL", "HOUSEHOLD"]}]}),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn klaviyo_spec_and_catalog_are_pinned() {
    pin(
        &source_klaviyo::SourceKlaviyo,
        source_klaviyo::BASE_URL_VAR,
        &[(
            "default",
            json!({"api_key": "pk_test", "start_date": "2024-01-01T00:00:00Z"}),
        )],
    )
    .await;
}
