//! `metadata/<connector>/metadata.yaml` agrees with the connector it describes: the image tag is
//! the binary's version, the repository is named after the connector, the Dockerfile labels are
//! built from the same values, breaking changes are well formed and not newer than the image,
//! their scoped streams exist in the connector's catalog, and the migration docs cover each of
//! them.

use std::path::PathBuf;

use connector_runtime::source::DynSource;
use integration_tests::{env, with_config};
use serde_json::{json, Value};

fn repo_file(path: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn metadata(connector: &str) -> Value {
    let text = repo_file(&format!("metadata/{connector}/metadata.yaml"));
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{connector} metadata.yaml: {e}"));
    serde_json::to_value(yaml).expect("metadata converts to JSON")
}

/// `major.minor.patch` as numbers, for ordering.
fn semver(v: &str) -> (u64, u64, u64) {
    let parts: Vec<u64> = v
        .split('.')
        .map(|p| p.parse().unwrap_or_else(|_| panic!("{v} is not a version")))
        .collect();
    assert_eq!(parts.len(), 3, "{v} is not major.minor.patch");
    (parts[0], parts[1], parts[2])
}

/// The label value the Dockerfile builds for `key`, with the build arguments substituted.
fn dockerfile_label(key: &str, connector: &str, version: &str) -> String {
    let dockerfile = repo_file("Dockerfile");
    let at = dockerfile
        .find(&format!("{key}=\""))
        .unwrap_or_else(|| panic!("Dockerfile has no {key} label"));
    let rest = &dockerfile[at + key.len() + 2..];
    let value = &rest[..rest.find('"').expect("label value is quoted")];
    value
        .replace("${CONNECTOR}", connector)
        .replace("${CONNECTOR_VERSION}", version)
}

async fn metadata_matches(source: &dyn DynSource, base_url_var: &str, config: Value) {
    let name = source.name();
    let meta = metadata(name);
    let data = &meta["data"];

    // Identity and image.
    assert_eq!(
        data["dockerImageTag"],
        json!(source.version()),
        "{name}: dockerImageTag is the crate version"
    );
    let repository = data["dockerRepository"].as_str().expect("dockerRepository");
    assert_eq!(
        repository.rsplit('/').next(),
        Some(name),
        "{name}: repository is named after the connector"
    );
    assert_eq!(
        dockerfile_label("io.airbyte.name", name, source.version()),
        repository
    );
    assert_eq!(
        dockerfile_label("io.airbyte.version", name, source.version()),
        source.version()
    );
    assert!(
        repo_file("scripts/test-images").contains("CONNECTOR_VERSION="),
        "the image build passes the crate version as CONNECTOR_VERSION"
    );
    assert_eq!(data["connectorType"], "source");
    assert_eq!(data["connectorSubtype"], "api");
    assert!(
        data["tags"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("language:rust"))),
        "{name}: language:rust tag"
    );
    let id = data["definitionId"].as_str().expect("definitionId");
    assert!(
        id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
        "{name}: definitionId {id} is a UUID"
    );
    assert!(data["documentationUrl"]
        .as_str()
        .is_some_and(|u| u.starts_with("https://")));
    assert!(data["allowedHosts"]["hosts"]
        .as_array()
        .is_some_and(|h| !h.is_empty()));

    // The streams the connector declares for a minimal config (no API call is needed).
    let discover = with_config(
        source,
        env(base_url_var, "http://127.0.0.1:9", "2024-06-15T00:00:00Z"),
        "discover",
        &config,
    )
    .await;
    assert_eq!(discover.code, 0, "{name} discover: {:?}", discover.messages);
    let streams = discover.stream_names();
    assert!(!streams.is_empty(), "{name} discovers streams");

    // Breaking changes.
    let docs = repo_file(&format!(
        "docs/{}-migrations.md",
        name.trim_start_matches("source-")
    ));
    let changes = data["releases"]["breakingChanges"]
        .as_object()
        .expect("releases.breakingChanges");
    assert!(!changes.is_empty(), "{name}: breaking changes are listed");
    for (version, change) in changes {
        assert!(
            semver(version) <= semver(source.version()),
            "{name}: breaking change {version} is newer than the image"
        );
        assert!(
            change["message"].as_str().is_some_and(|m| m.len() > 40),
            "{name} {version}: message"
        );
        let deadline = change["upgradeDeadline"].as_str().expect("upgradeDeadline");
        assert!(
            chrono::NaiveDate::parse_from_str(deadline, "%Y-%m-%d").is_ok(),
            "{name} {version}: deadline {deadline}"
        );
        let scopes = change["scopedImpact"].as_array().expect("scopedImpact");
        assert!(!scopes.is_empty(), "{name} {version}: scopedImpact");
        for scope in scopes {
            assert_eq!(scope["scopeType"], "stream", "{name} {version}");
            let impacted = scope["impactedScopes"].as_array().expect("impactedScopes");
            assert!(!impacted.is_empty());
            for stream in impacted {
                let stream = stream.as_str().expect("stream name");
                assert!(
                    streams.iter().any(|s| s == stream),
                    "{name} {version}: scoped stream {stream} is not in the catalog"
                );
            }
        }
        assert!(
            docs.contains(&format!("## Upgrading to {version}")),
            "{name}: the migration docs cover {version}"
        );
    }
    for stream in data["suggestedStreams"]["streams"]
        .as_array()
        .into_iter()
        .flatten()
    {
        assert!(
            streams
                .iter()
                .any(|s| *s == stream.as_str().unwrap_or_default()),
            "{name}: suggested stream {stream}"
        );
    }
}

#[tokio::test]
async fn tiktok_marketing_metadata_matches_the_connector() {
    metadata_matches(
        &source_tiktok_marketing::SourceTiktokMarketing,
        source_tiktok_marketing::BASE_URL_VAR,
        json!({"credentials": {"auth_type": "oauth2.0", "app_id": "app", "secret": "secret", "access_token": "token"}, "start_date": "2024-01-01"}),
    )
    .await;
}

#[tokio::test]
async fn pinterest_metadata_matches_the_connector() {
    metadata_matches(
        &source_pinterest::SourcePinterest,
        source_pinterest::BASE_URL_VAR,
        json!({"credentials": {"auth_method": "oauth2.0", "client_id": "id", "client_secret": "secret", "refresh_token": "refresh"}, "start_date": "2024-01-01"}),
    )
    .await;
}

#[tokio::test]
async fn klaviyo_metadata_matches_the_connector() {
    metadata_matches(
        &source_klaviyo::SourceKlaviyo,
        source_klaviyo::BASE_URL_VAR,
        json!({"api_key": "pk_test", "start_date": "2024-01-01T00:00:00Z"}),
    )
    .await;
}

#[test]
fn versions_order_numerically() {
    assert!(semver("2.0.0") < semver("2.2.11"));
    assert!(semver("4.0.0") < semver("5.1.14"));
    assert!(semver("10.0.0") > semver("9.9.9"));
}
