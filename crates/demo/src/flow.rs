//! The demo flow of one connector: `spec`, `check`, `discover`, then an incremental `read`
//! twice, the second from the state the first one produced, exactly as Airbyte would run two
//! syncs of a connection.
//!
//! The connectors run in-process through [`connector_runtime::cli::run`], the same entry point
//! their binaries use; only the base URL (the connector's `BASE_URL_VAR`) and the clock
//! (`AIRBYTE_TEST_NOW`) differ from production. Every command's raw protocol output is kept as a
//! `.jsonl` file next to the config, catalog and state files it was given.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_runtime::env::RunEnv;
use connector_runtime::output::{Captured, Output};
use connector_runtime::secrets::Secrets;

use serde_json::{json, Value};

use crate::sample_api::NOW;
use crate::verify;

/// A connector as the demo runs it: the source, how to point it at the sample API, a config
/// that works against the sample API, and the streams the demo reads.
pub struct Connector {
    pub source: Arc<dyn connector_runtime::source::DynSource>,
    pub base_url_var: &'static str,
    pub config: Value,
    pub streams: Vec<&'static str>,
}

impl Connector {
    pub fn name(&self) -> &str {
        self.source.name()
    }
}

/// The three connectors with their demo configs and representative streams (incremental ones
/// wherever the connector supports it).
pub fn connectors() -> Vec<Connector> {
    vec![
        Connector {
            source: Arc::new(source_tiktok_marketing::SourceTiktokMarketing),
            base_url_var: source_tiktok_marketing::BASE_URL_VAR,
            config: json!({
                "credentials": {
                    "auth_type": "oauth2.0",
                    "app_id": "demo-app-id",
                    "secret": "demo-app-secret",
                    "access_token": "demo-access-token"
                },
                "start_date": "2024-06-01",
                "attribution_window": 3,
                "report_granularity": 7,
                "include_deleted": false
            }),
            streams: vec![
                "advertiser_ids",
                "advertisers",
                "campaigns",
                "ad_groups",
                "ads",
                "ads_reports_daily",
                "campaigns_reports_daily",
                "advertisers_reports_daily",
                "ad_groups_reports_hourly",
                "ads_audience_reports_daily",
                "creative_assets_images",
                "creative_assets_videos",
                "audiences",
            ],
        },
        Connector {
            source: Arc::new(source_pinterest::SourcePinterest),
            base_url_var: source_pinterest::BASE_URL_VAR,
            config: json!({
                "credentials": {
                    "auth_method": "oauth2.0",
                    "client_id": "demo-client-id",
                    "client_secret": "demo-client-secret",
                    "refresh_token": "demo-refresh-token"
                },
                "start_date": "2024-06-01",
                "num_workers": 2
            }),
            streams: vec![
                "ad_accounts",
                "boards",
                "board_pins",
                "campaigns",
                "ad_groups",
                "ads",
                "user_account_analytics",
                "ad_account_analytics",
                "campaign_analytics",
                "ad_group_analytics",
                "ad_analytics",
                "board_sections",
                "audiences",
                "campaign_analytics_report",
            ],
        },
        Connector {
            source: Arc::new(source_klaviyo::SourceKlaviyo),
            base_url_var: source_klaviyo::BASE_URL_VAR,
            config: json!({
                "api_key": "pk_demo_0000000000000000000000000000",
                "start_date": "2024-06-01T00:00:00Z",
                "num_workers": 4,
                // Klaviyo allows two report requests a minute: report on one conversion metric.
                "metric_ids": "RESQ6t"
            }),
            streams: vec![
                "metrics",
                "profiles",
                "global_exclusions",
                "events",
                "events_detailed",
                "campaigns",
                "campaigns_detailed",
                "flows",
                "lists",
                "lists_detailed",
                "email_templates",
                "flow_series_reports",
                "campaign_values_reports",
            ],
        },
    ]
}

/// One command's run: what it printed and how long it took.
#[derive(Debug, Clone)]
pub struct CommandRun {
    pub command: String,
    pub code: i32,
    pub messages: Vec<Value>,
    pub elapsed: Duration,
    pub file: PathBuf,
}

impl CommandRun {
    /// The `data` count of RECORD messages per stream.
    pub fn record_counts(&self) -> HashMap<String, usize> {
        verify::record_counts(&self.messages)
    }

    /// The last per-stream state of every stream, as a state file for the next run.
    pub fn state_file(&self) -> Value {
        verify::state_file(&self.messages)
    }
}

/// Everything the demo did for one connector.
#[derive(Debug, Clone)]
pub struct ConnectorRun {
    pub name: String,
    pub dir: PathBuf,
    pub spec: CommandRun,
    pub check: CommandRun,
    pub discover: CommandRun,
    /// The configured catalog the reads used (the selected streams the connector discovered).
    pub catalog: Value,
    /// Selected streams the connector did not discover.
    pub missing: Vec<String>,
    pub reads: Vec<CommandRun>,
}

/// The run environment of the demo: the sample API as base URL and the pinned clock.
pub fn demo_env(base_url_var: &str, base_url: &str) -> Result<RunEnv, String> {
    let mut vars = HashMap::new();
    vars.insert(base_url_var.to_string(), base_url.to_string());
    vars.insert("AIRBYTE_TEST_NOW".to_string(), NOW.to_string());
    RunEnv::from_vars(vars).map_err(|e| e.to_string())
}

/// Runs one connector command in-process, keeping its output in `dir/<file_stem>.jsonl`.
pub async fn run_command(
    source: &dyn connector_runtime::source::DynSource,
    env: RunEnv,
    args: &[String],
    dir: &Path,
    file_stem: &str,
) -> Result<CommandRun, String> {
    let captured = Captured::default();
    let output = Output::new(Box::new(captured.clone()), Secrets::new());
    let mut argv = vec![source.name().to_string()];
    argv.extend(args.iter().cloned());
    let started = Instant::now();
    let code = connector_runtime::cli::run(source, &argv, env, output).await;
    let elapsed = started.elapsed();
    let raw = captured.text();
    let file = dir.join(format!("{file_stem}.jsonl"));
    std::fs::write(&file, &raw).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let messages = verify::parse_lines(&raw)?;
    Ok(CommandRun {
        command: args.first().cloned().unwrap_or_default(),
        code,
        messages,
        elapsed,
        file,
    })
}

fn write_json(path: &Path, value: &Value) -> Result<String, String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path.to_string_lossy().into_owned())
}

/// The configured catalog for `wanted` streams out of a discovered catalog: each stream with
/// its discovered schema, read incrementally when it supports it. Returns it with the wanted
/// streams that were not discovered.
pub fn configured_catalog(discovered: &Value, wanted: &[&str]) -> (Value, Vec<String>) {
    let streams = discovered["streams"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut configured = Vec::new();
    let mut missing = Vec::new();
    for name in wanted {
        match streams.iter().find(|s| s["name"] == *name) {
            Some(stream) => {
                let incremental = stream["supported_sync_modes"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|x| x == "incremental"));
                let mut entry = json!({
                    "stream": stream,
                    "sync_mode": if incremental { "incremental" } else { "full_refresh" },
                    "destination_sync_mode": "append"
                });
                if let Some(cursor) = stream["default_cursor_field"].as_array() {
                    if incremental && !cursor.is_empty() {
                        entry["cursor_field"] = json!(cursor);
                    }
                }
                if let Some(pk) = stream["source_defined_primary_key"].as_array() {
                    if !pk.is_empty() {
                        entry["primary_key"] = json!(pk);
                    }
                }
                configured.push(entry);
            }
            None => missing.push(name.to_string()),
        }
    }
    (json!({"streams": configured}), missing)
}

/// Writes the connector's config, runs `spec`, `check` and `discover`, and builds the
/// configured catalog of its demo streams.
pub async fn prepare(
    connector: &Connector,
    base_url: &str,
    dir: &Path,
) -> Result<(Vec<CommandRun>, Value, Vec<String>), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let env = || demo_env(connector.base_url_var, base_url);
    let source = connector.source.as_ref();
    let config = write_json(&dir.join("config.json"), &connector.config)?;
    let spec = run_command(source, env()?, &["spec".into()], dir, "spec").await?;
    let check = run_command(
        source,
        env()?,
        &["check".into(), "--config".into(), config.clone()],
        dir,
        "check",
    )
    .await?;
    let discover = run_command(
        source,
        env()?,
        &["discover".into(), "--config".into(), config],
        dir,
        "discover",
    )
    .await?;
    let discovered = verify::catalog(&discover.messages).unwrap_or(Value::Null);
    let (catalog, missing) = configured_catalog(&discovered, &connector.streams);
    write_json(&dir.join("catalog.json"), &catalog)?;
    Ok((vec![spec, check, discover], catalog, missing))
}

/// The whole demo flow of one connector against the sample API at `base_url`.
pub async fn run_connector(
    connector: &Connector,
    base_url: &str,
    out: &Path,
) -> Result<ConnectorRun, String> {
    let dir = out.join(connector.name());
    let (mut first, catalog, missing) = prepare(connector, base_url, &dir).await?;
    let env = || demo_env(connector.base_url_var, base_url);
    let source = connector.source.as_ref();
    let config = dir.join("config.json").to_string_lossy().into_owned();
    let catalog_file = dir.join("catalog.json").to_string_lossy().into_owned();
    let mut reads = Vec::new();
    let selected = catalog["streams"].as_array().is_some_and(|s| !s.is_empty());
    if selected {
        let read_args = |state: Option<String>| {
            let mut a: Vec<String> = vec![
                "read".into(),
                "--config".into(),
                config.clone(),
                "--catalog".into(),
                catalog_file.clone(),
            ];
            if let Some(s) = state {
                a.push("--state".into());
                a.push(s);
            }
            a
        };
        let first_read = run_command(source, env()?, &read_args(None), &dir, "read-1").await?;
        let state = write_json(&dir.join("state-1.json"), &first_read.state_file())?;
        let second_read =
            run_command(source, env()?, &read_args(Some(state)), &dir, "read-2").await?;
        write_json(&dir.join("state-2.json"), &second_read.state_file())?;
        reads.push(first_read);
        reads.push(second_read);
    }
    let discover = first.pop().ok_or("discover did not run")?;
    let check = first.pop().ok_or("check did not run")?;
    let spec = first.pop().ok_or("spec did not run")?;
    Ok(ConnectorRun {
        name: connector.name().to_string(),
        dir,
        spec,
        check,
        discover,
        catalog,
        missing,
        reads,
    })
}
