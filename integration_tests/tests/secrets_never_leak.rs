//! No secret ever leaves a connector, in any form.
//!
//! Every connector runs `spec`, `check`, `discover` and `read` (with and without `--debug`)
//! with recognisable secret values full of characters that change under encoding (quotes,
//! backslashes, spaces, `+`, `/`, `%`, `&`, non-ASCII), through:
//! - configs whose secret fields have the wrong JSON type (number, array, object, nested);
//! - a mock API that rejects every request with a body echoing the request: its headers
//!   (`Authorization`, `Access-Token`, ...), its URL with the percent-encoded query, and its
//!   form body, as JSON (so secrets arrive JSON-escaped) or as plain text (raw);
//! - for Pinterest, an OAuth token endpoint that rejects the refresh the same way (the
//!   `Authorization: Basic` header carries base64 of `client_id:client_secret`), and one that
//!   grants tokens (secrets learnt at run time) before the API rejects them.
//!
//! Every line printed (LOG, TRACE, CONNECTION_STATUS...) must be free of every form of every
//! secret: raw, JSON-escaped (once, twice, ASCII-only), percent-encoded (either hex case,
//! `+` or `%20` for a space), base64 (standard and URL-safe, padded or not), and must not
//! even contain the distinctive marker each secret starts with (so a truncated secret fails
//! too). CONTROL messages are the one exception: they hand the config back to the platform
//! on purpose, secrets included.

use base64::Engine as _;
use connector_runtime::source::DynSource;
use integration_tests::{catalog, env, Files, Run};
use serde_json::{json, Map, Value};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const NOW: &str = "2024-06-10T12:00:00Z";

/// A secret string: a unique marker, then every character that encodings change.
fn secret(marker: &str) -> String {
    format!(r#"{marker}-q"uo\te sp ace+plus/sl%25ash&amp=ü€😀-end"#)
}

/// One connector under test.
struct Connector {
    name: &'static str,
    source: Box<dyn DynSource>,
    base_url_var: &'static str,
    /// The stream `read` asks for.
    stream: &'static str,
    /// Paths of the secret fields in `config`.
    secret_paths: &'static [&'static [&'static str]],
    /// A valid config whose secret fields hold `secrets[i]` at `secret_paths[i]`.
    config: fn(&[String]) -> Value,
    /// The OAuth token endpoint, when the connector refreshes tokens.
    token_path: Option<&'static str>,
    /// The secrets sent as an HTTP Basic `user:password` pair (indexes into the secrets).
    basic: Option<(usize, usize)>,
}

fn connectors() -> Vec<Connector> {
    vec![
        Connector {
            name: "klaviyo",
            source: Box::new(source_klaviyo::SourceKlaviyo),
            base_url_var: source_klaviyo::BASE_URL_VAR,
            stream: "metrics",
            secret_paths: &[&["api_key"]],
            config: |s| json!({"api_key": s[0], "start_date": "2024-01-01T00:00:00Z"}),
            token_path: None,
            basic: None,
        },
        Connector {
            name: "pinterest",
            source: Box::new(source_pinterest::SourcePinterest),
            base_url_var: source_pinterest::BASE_URL_VAR,
            stream: "boards",
            secret_paths: &[
                &["credentials", "client_id"],
                &["credentials", "client_secret"],
                &["credentials", "refresh_token"],
            ],
            config: |s| {
                json!({"start_date": "2024-01-01", "credentials": {
                    "auth_method": "oauth2.0", "client_id": s[0], "client_secret": s[1],
                    "refresh_token": s[2]}})
            },
            token_path: Some("/v5/oauth/token"),
            basic: Some((0, 1)),
        },
        Connector {
            name: "tiktok",
            source: Box::new(source_tiktok_marketing::SourceTiktokMarketing),
            base_url_var: source_tiktok_marketing::BASE_URL_VAR,
            stream: "advertisers",
            secret_paths: &[
                &["credentials", "app_id"],
                &["credentials", "secret"],
                &["credentials", "access_token"],
            ],
            config: |s| {
                json!({"start_date": "2024-06-01", "credentials": {
                    "auth_type": "oauth2.0", "app_id": s[0], "secret": s[1],
                    "access_token": s[2]}})
            },
            token_path: None,
            basic: None,
        },
    ]
}

/// Every rendering of `secret` that must never be printed.
fn forms(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let json_inner = |s: &str| {
        let q = serde_json::to_string(s).expect("a string serialises");
        q[1..q.len() - 1].to_string()
    };
    let ascii_json = |s: &str| -> String {
        s.encode_utf16()
            .map(|u| match char::from_u32(u32::from(u)) {
                Some(c) if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' => {
                    c.to_string()
                }
                _ => format!("\\u{u:04x}"),
            })
            .collect()
    };
    let pct = |s: &str, lower: bool, plus: bool| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else if plus && b == b' ' {
                    "+".to_string()
                } else if lower {
                    format!("%{b:02x}")
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let mut out = vec![
        secret.to_string(),
        json_inner(secret),
        json_inner(&json_inner(secret)),
        ascii_json(secret),
        pct(secret, false, false),
        pct(secret, true, false),
        pct(secret, false, true),
        pct(secret, true, true),
    ];
    for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        out.push(engine.encode(secret));
    }
    out
}

/// The markers and forms one run must not print.
struct Forbidden {
    /// Distinctive text at the start of every secret (catches truncated secrets too).
    markers: Vec<String>,
    /// Every form of every secret string.
    forms: Vec<String>,
}

impl Forbidden {
    fn new(secrets: &[String], markers: &[String]) -> Self {
        Forbidden {
            markers: markers.to_vec(),
            forms: secrets.iter().flat_map(|s| forms(s)).collect(),
        }
    }

    /// Adds the forms of the HTTP Basic pair the connector sends, if it sends one.
    fn basic(mut self, c: &Connector, secrets: &[String]) -> Self {
        if let Some((user, password)) = c.basic {
            let pair = format!("{}:{}", secrets[user], secrets[password]);
            self.forms.extend(forms(&pair));
        }
        self
    }

    /// Panics if any printed line (other than CONTROL) holds a marker or a form, in its raw
    /// JSON text or in any string it decodes to.
    fn assert_absent(&self, run: &Run, what: &str) {
        for (line, message) in run.raw.lines().zip(&run.messages) {
            if message["type"] == "CONTROL" {
                continue;
            }
            let mut texts = vec![line.to_string()];
            strings(message, &mut texts);
            for text in &texts {
                for m in &self.markers {
                    assert!(!text.contains(m.as_str()), "{what}: marker {m} in {line}");
                }
                for f in &self.forms {
                    assert!(!text.contains(f.as_str()), "{what}: {f:?} in {line}");
                }
            }
        }
    }
}

/// Every string and number inside `v`, as text (what a secret of the wrong type registers).
fn scalars(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|v| scalars(v, out)),
        Value::Object(m) => m.values().for_each(|v| scalars(v, out)),
        _ => {}
    }
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(m) => m.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings(v, out)
        }),
        _ => {}
    }
}

/// Every text of a run (for asserting what it did say).
fn all_text(run: &Run) -> String {
    let mut texts = Vec::new();
    run.messages.iter().for_each(|m| strings(m, &mut texts));
    texts.join("\n")
}

fn set_path(config: &mut Value, path: &[&str], value: Value) {
    let mut cur = config;
    for key in &path[..path.len() - 1] {
        cur = &mut cur[*key];
    }
    cur[path[path.len() - 1]] = value;
}

/// Runs `command` (`check`, `discover`, `read`, optionally with `--debug`) with `config`.
async fn run_command(
    c: &Connector,
    server: &str,
    command: &str,
    debug: bool,
    config: &Value,
) -> Run {
    let files = Files::new();
    let cfg = files.json("config.json", config);
    let cat = files.json("catalog.json", &catalog(&[(c.stream, "full_refresh")]));
    let mut args = vec![command, "--config", cfg.as_str()];
    if command == "read" {
        args.extend(["--catalog", cat.as_str()]);
    }
    if debug {
        args.push("--debug");
    }
    integration_tests::run(c.source.as_ref(), env(c.base_url_var, server, NOW), &args).await
}

/// Answers every request with `status` and a body echoing the request: interesting headers
/// first (so they survive the truncation of quoted bodies), then the URL and the body.
struct Echo {
    status: u16,
    json: bool,
}

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let boring = [
            "host",
            "accept",
            "accept-encoding",
            "user-agent",
            "content-length",
            "content-type",
            "revision",
        ];
        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        headers.sort_by_key(|(k, _)| boring.contains(&k.as_str()));
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let mut text = String::from("Denied. ");
        for (k, v) in &headers {
            text.push_str(&format!("{k}: {v}; "));
        }
        text.push_str(&format!("url: {}; body: {body}", request.url));
        if !self.json {
            return ResponseTemplate::new(self.status).set_body_string(text);
        }
        let echo: Map<String, Value> = headers
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        ResponseTemplate::new(self.status).set_body_json(json!({
            "code": 40105,
            "message": text,
            "errors": [{"status": self.status.to_string(), "detail": text}],
            "headers": echo,
            "url": request.url.to_string(),
            "body": body,
            "request_id": "r1",
            "data": {}
        }))
    }
}

fn markers(c: &Connector) -> Vec<String> {
    (0..c.secret_paths.len())
        .map(|i| format!("SEKRET{}{i}", c.name.to_uppercase()))
        .collect()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn spec_prints_no_secret() {
    for c in connectors() {
        let server = MockServer::start().await;
        let run = integration_tests::run(
            c.source.as_ref(),
            env(c.base_url_var, &server.uri(), NOW),
            &["spec"],
        )
        .await;
        assert_eq!(run.code, 0, "{}", run.raw);
        Forbidden::new(&[], &["SEKRET".into()]).assert_absent(&run, c.name);
    }
}

#[tokio::test]
async fn secrets_of_the_wrong_type_are_named_never_echoed() {
    for c in connectors() {
        // Nothing may be reached: a config error stops every command before any request.
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(Echo {
                status: 500,
                json: true,
            })
            .expect(0)
            .mount(&server)
            .await;
        let marks = markers(&c);
        let good: Vec<String> = marks.iter().map(|m| secret(m)).collect();
        for (i, field) in c.secret_paths.iter().enumerate() {
            let m = &marks[i];
            let n: u64 = 9_000_000_000 + i as u64 * 1111;
            let bad_values = [
                json!(n),
                json!([secret(m), secret(&format!("{m}b"))]),
                json!({"key": secret(m), "n": n}),
                json!({"outer": {"inner": [secret(m), {"deep": secret(&format!("{m}c"))}]}}),
            ];
            for bad in bad_values {
                let mut config = (c.config)(&good);
                set_path(&mut config, field, bad.clone());
                let mut in_bad = Vec::new();
                scalars(&bad, &mut in_bad);
                let forbidden = Forbidden::new(&in_bad, &marks).basic(&c, &good);
                let runs = [
                    ("check", false),
                    ("discover", false),
                    ("read", false),
                    ("read", true),
                ];
                for (command, debug) in runs {
                    let what = format!("{} {command} debug={debug} {field:?}={bad}", c.name);
                    let run = run_command(&c, &server.uri(), command, debug, &config).await;
                    forbidden.assert_absent(&run, &what);
                    let said = all_text(&run);
                    let name = field[field.len() - 1];
                    assert!(
                        said.contains(&format!("/{name}': expected a string")),
                        "{what}: the field and the expected type are named: {}",
                        run.raw
                    );
                    if command != "check" {
                        assert_ne!(run.code, 0, "{what}");
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn api_errors_echoing_the_request_never_show_a_secret() {
    for c in connectors() {
        let marks = markers(&c);
        let secrets: Vec<String> = marks.iter().map(|m| secret(m)).collect();
        let config = (c.config)(&secrets);
        let forbidden = Forbidden::new(&secrets, &marks).basic(&c, &secrets);
        // Some answers are turned into fixed messages; at least one run per connector must
        // show a masked echo, or the test proves nothing.
        let mut masked_runs = 0;
        for (status, as_json) in [(401, true), (403, false), (400, true), (400, false)] {
            let server = MockServer::start().await;
            Mock::given(any())
                .respond_with(Echo {
                    status,
                    json: as_json,
                })
                .mount(&server)
                .await;
            for command in ["check", "read"] {
                for debug in [false, true] {
                    let what = format!("{} {command} debug={debug} HTTP {status}", c.name);
                    let run = run_command(&c, &server.uri(), command, debug, &config).await;
                    forbidden.assert_absent(&run, &what);
                    if run.raw.contains("****") {
                        masked_runs += 1;
                    }
                    if command == "check" {
                        assert_eq!(run.connection_status()["status"], "FAILED", "{what}");
                    } else {
                        assert_ne!(run.code, 0, "{what}");
                    }
                }
            }
            let requests = server.received_requests().await.unwrap_or_default();
            assert!(!requests.is_empty(), "{}: the API was called", c.name);
        }
        assert!(masked_runs > 0, "{}: no run echoed a secret", c.name);
    }
}

#[tokio::test]
async fn tokens_granted_at_run_time_are_masked_when_the_api_echoes_them() {
    for c in connectors().into_iter().filter(|c| c.token_path.is_some()) {
        let marks = markers(&c);
        let secrets: Vec<String> = marks.iter().map(|m| secret(m)).collect();
        let granted = [
            secret("SEKRETGRANTEDACCESS"),
            secret("SEKRETGRANTEDREFRESH"),
        ];
        let config = (c.config)(&secrets);
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(c.token_path.unwrap_or_default()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": granted[0], "refresh_token": granted[1], "expires_in": 3600})))
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(any())
            .respond_with(Echo {
                status: 400,
                json: true,
            })
            .with_priority(10)
            .mount(&server)
            .await;
        let mut all: Vec<String> = secrets.clone();
        all.extend(granted.iter().cloned());
        let mut all_marks = marks.clone();
        all_marks.push("SEKRETGRANTED".into());
        let forbidden = Forbidden::new(&all, &all_marks).basic(&c, &secrets);
        for command in ["check", "read"] {
            for debug in [false, true] {
                let what = format!("{} {command} debug={debug} granted token", c.name);
                let run = run_command(&c, &server.uri(), command, debug, &config).await;
                forbidden.assert_absent(&run, &what);
                assert!(run.raw.contains("****"), "{what}: {}", run.raw);
            }
        }
        let requests = server.received_requests().await.unwrap_or_default();
        let bearer = format!("Bearer {}", granted[0]);
        assert!(
            requests.iter().any(|r| r
                .headers
                .get("authorization")
                .is_some_and(|v| v.as_bytes() == bearer.as_bytes())),
            "{}: the granted token was used",
            c.name
        );
    }
}
