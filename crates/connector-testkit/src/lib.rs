//! Test harness: run a connector in-process against a local API and inspect what it printed.
//!
//! Every line a connector writes is parsed and validated against the Airbyte protocol schema
//! (`crates/airbyte-protocol/schema/airbyte_protocol.yaml`); a test fails on the first
//! message that does not validate, whatever it was asserting.
//!
//! It is its own crate, apart from the connectors' tests, so that the runtime's integration
//! tests (`crates/connector-runtime/tests/`) can use it without depending on any source: the
//! runtime dev-depends on this crate, which depends on the runtime's one normal build.

use std::collections::HashMap;
use std::path::PathBuf;

use connector_runtime::env::RunEnv;
use connector_runtime::output::{Captured, Output};
use connector_runtime::secrets::Secrets;
use connector_runtime::source::{DynSource, Source};
use serde_json::{json, Value};

pub mod raw_server;

/// Panics unless `message` is a valid Airbyte message.
pub fn assert_valid_message(message: &Value) {
    let errors = airbyte_protocol::validation::message_errors(message)
        .unwrap_or_else(|e| panic!("the protocol schema does not compile: {e}"));
    assert!(
        errors.is_empty(),
        "invalid Airbyte message {message}: {errors:?}"
    );
}

/// What one connector invocation printed.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub messages: Vec<Value>,
    pub raw: String,
}

impl Run {
    fn of_type<'a>(&'a self, t: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.messages.iter().filter(move |m| m["type"] == t)
    }

    /// The `data` of every record of `stream`, in output order.
    pub fn records(&self, stream: &str) -> Vec<Value> {
        self.of_type("RECORD")
            .filter(|m| m["record"]["stream"] == stream)
            .map(|m| m["record"]["data"].clone())
            .collect()
    }

    pub fn all_records(&self) -> Vec<Value> {
        self.of_type("RECORD")
            .map(|m| m["record"].clone())
            .collect()
    }

    /// Every `stream_state` emitted for `stream`, in order.
    pub fn states(&self, stream: &str) -> Vec<Value> {
        self.of_type("STATE")
            .filter(|m| m["state"]["stream"]["stream_descriptor"]["name"] == stream)
            .map(|m| m["state"]["stream"]["stream_state"].clone())
            .collect()
    }

    pub fn last_state(&self, stream: &str) -> Option<Value> {
        self.states(stream).pop()
    }

    /// The last state of each stream, as a state file for the next run.
    pub fn state_file(&self) -> Value {
        let mut last: Vec<(String, Value)> = Vec::new();
        for m in self.of_type("STATE") {
            let name = m["state"]["stream"]["stream_descriptor"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string();
            last.retain(|(n, _)| n != &name);
            last.push((name, m["state"].clone()));
        }
        Value::Array(last.into_iter().map(|(_, s)| s).collect())
    }

    pub fn errors(&self) -> Vec<Value> {
        self.of_type("TRACE")
            .filter(|m| m["trace"]["type"] == "ERROR")
            .map(|m| m["trace"]["error"].clone())
            .collect()
    }

    pub fn statuses(&self, stream: &str) -> Vec<String> {
        self.of_type("TRACE")
            .filter(|m| m["trace"]["type"] == "STREAM_STATUS")
            .filter(|m| m["trace"]["stream_status"]["stream_descriptor"]["name"] == stream)
            .map(|m| {
                m["trace"]["stream_status"]["status"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    pub fn estimates(&self, stream: &str) -> Vec<i64> {
        self.of_type("TRACE")
            .filter(|m| {
                m["trace"]["type"] == "ESTIMATE" && m["trace"]["estimate"]["name"] == stream
            })
            .filter_map(|m| m["trace"]["estimate"]["row_estimate"].as_i64())
            .collect()
    }

    pub fn logs(&self) -> Vec<String> {
        self.of_type("LOG")
            .map(|m| m["log"]["message"].as_str().unwrap_or("").to_string())
            .collect()
    }

    pub fn controls(&self) -> Vec<Value> {
        self.of_type("CONTROL")
            .map(|m| m["control"]["connectorConfig"]["config"].clone())
            .collect()
    }

    pub fn spec(&self) -> Value {
        self.of_type("SPEC")
            .next()
            .map(|m| m["spec"].clone())
            .unwrap_or(Value::Null)
    }

    pub fn catalog(&self) -> Value {
        self.of_type("CATALOG")
            .next()
            .map(|m| m["catalog"].clone())
            .unwrap_or(Value::Null)
    }

    pub fn stream_names(&self) -> Vec<String> {
        self.catalog()["streams"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn connection_status(&self) -> Value {
        self.of_type("CONNECTION_STATUS")
            .next()
            .map(|m| m["connectionStatus"].clone())
            .unwrap_or(Value::Null)
    }
}

/// Files for one invocation, removed when dropped.
pub struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    pub fn new() -> Self {
        Files {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Writes `value` as JSON and returns the path.
    pub fn json(&self, name: &str, value: &Value) -> String {
        self.text(name, &value.to_string())
    }

    pub fn text(&self, name: &str, text: &str) -> String {
        let p: PathBuf = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write temp file");
        p.to_string_lossy().into_owned()
    }
}

impl Default for Files {
    fn default() -> Self {
        Self::new()
    }
}

/// A run environment pointing `base_url_var` at `server` with the clock pinned at `now`.
/// Backoff sleeps are scaled to nothing (their computed length is still logged).
pub fn env(base_url_var: &str, server: &str, now: &str) -> RunEnv {
    let mut vars = HashMap::new();
    vars.insert(base_url_var.to_string(), server.to_string());
    vars.insert("AIRBYTE_TEST_NOW".to_string(), now.to_string());
    RunEnv::from_vars(vars)
        .expect("valid env")
        .with_time_scale(0.0)
}

/// Runs a connector command in-process and validates every printed message.
pub async fn run(source: &dyn DynSource, env: RunEnv, args: &[&str]) -> Run {
    let captured = Captured::default();
    let output = Output::new(Box::new(captured.clone()), Secrets::new());
    let mut argv = vec![source.name().to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let code = connector_runtime::cli::run(source, &argv, env, output).await;
    let raw = captured.text();
    let mut messages = Vec::new();
    for line in raw.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        assert_valid_message(&v);
        messages.push(v);
    }
    Run {
        code,
        messages,
        raw,
    }
}

/// HTTP 200 with `body` as JSON: the answer of most mocked API requests.
pub fn ok(body: Value) -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200).set_body_json(body)
}

/// A configured catalog reading `streams` in the given sync mode ("incremental" or
/// "full_refresh").
pub fn catalog(streams: &[(&str, &str)]) -> Value {
    json!({"streams": streams.iter().map(|(name, mode)| json!({
        "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
        "sync_mode": mode,
        "destination_sync_mode": "append"
    })).collect::<Vec<_>>()})
}

/// A STREAM state message list holding one stream's state.
pub fn state_for(stream: &str, state: Value) -> Value {
    json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": state}}])
}

/// Runs `read` with the given config, catalog and optional state.
pub async fn read(
    source: &dyn DynSource,
    env: RunEnv,
    config: &Value,
    catalog: &Value,
    state: Option<&Value>,
) -> Run {
    let files = Files::new();
    let c = files.json("config.json", config);
    let k = files.json("catalog.json", catalog);
    match state {
        Some(s) => {
            let st = files.json("state.json", s);
            run(
                source,
                env,
                &["read", "--config", &c, "--catalog", &k, "--state", &st],
            )
            .await
        }
        None => run(source, env, &["read", "--config", &c, "--catalog", &k]).await,
    }
}

/// Runs `check` or `discover` with the given config.
pub async fn with_config(
    source: &dyn DynSource,
    env: RunEnv,
    command: &str,
    config: &Value,
) -> Run {
    let files = Files::new();
    let c = files.json("config.json", config);
    run(source, env, &[command, "--config", &c]).await
}

/// Builds the streams of a [`DeclaredSource`] from the config.
pub type StreamsFn = dyn Fn(
        &Value,
        &connector_runtime::source::SourceContext,
    ) -> connector_runtime::Result<
        Vec<std::sync::Arc<connector_runtime::stream::DeclarativeStream>>,
    > + Send
    + Sync;

/// A test-only source whose streams are whatever the test declares, for exercising runtime
/// mechanisms one at a time. Its spec requires an `api_key` (an `airbyte_secret`) and allows
/// anything else.
pub struct DeclaredSource {
    pub check_stream: String,
    pub workers: usize,
    streams: Box<StreamsFn>,
}

impl DeclaredSource {
    pub fn new(
        streams: impl Fn(
                &Value,
                &connector_runtime::source::SourceContext,
            ) -> connector_runtime::Result<
                Vec<std::sync::Arc<connector_runtime::stream::DeclarativeStream>>,
            > + Send
            + Sync
            + 'static,
    ) -> Self {
        DeclaredSource {
            check_stream: String::new(),
            workers: 4,
            streams: Box::new(streams),
        }
    }

    pub fn check(mut self, stream: &str) -> Self {
        self.check_stream = stream.to_string();
        self
    }

    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// The connection specification of every [`DeclaredSource`].
    pub fn spec_json() -> Value {
        json!({"documentationUrl": "https://example.invalid/docs", "connectionSpecification": {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "required": ["api_key"], "additionalProperties": true,
        "properties": {
            "api_key": {"type": "string", "airbyte_secret": true},
            "start_date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
        }}})
    }
}

impl Source for DeclaredSource {
    type Config = Value;

    fn name(&self) -> &str {
        "source-declared"
    }
    fn version(&self) -> &str {
        "0.0.1"
    }
    fn spec(
        &self,
    ) -> connector_runtime::Result<connector_runtime::protocol::ConnectorSpecification> {
        connector_runtime::source::spec_from_json(&Self::spec_json().to_string())
    }
    fn streams(
        &self,
        config: &Value,
        ctx: &connector_runtime::source::SourceContext,
    ) -> connector_runtime::Result<Vec<std::sync::Arc<connector_runtime::stream::DeclarativeStream>>>
    {
        (self.streams)(config, ctx)
    }
    fn check_stream(&self) -> &str {
        &self.check_stream
    }
    fn workers(&self, _config: &Value) -> usize {
        self.workers
    }
}
