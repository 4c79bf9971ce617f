//! The real connector binaries run as processes, to prove the process-level path (exit codes,
//! `AIRBYTE_TEST_NOW` parsing) that in-process runs skip. The same CLI contract, in-process and
//! without any source, is tested with the runtime (`crates/connector-runtime/tests/runtime_cli.rs`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use integration_tests::assert_valid_message;
use serde_json::Value;

/// The directory holding the workspace's binaries: next to this test executable's `deps/`.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .expect("target profile directory")
}

/// The path of a connector binary, (re)built once per test process so a stale binary from an
/// earlier build is never what gets tested. Cargo makes concurrent builds wait for each other.
fn connector_binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let path = bin_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "-p", name, "--bin", name]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let status = cmd
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building {name} failed");
        built.push(name.to_string());
    }
    assert!(path.exists(), "{} was not built", path.display());
    path
}

struct ProcessRun {
    code: i32,
    messages: Vec<Value>,
}

fn run_binary(name: &str, args: &[&str], envs: &[(&str, &str)]) -> ProcessRun {
    let mut cmd = Command::new(connector_binary(name));
    cmd.args(args).env_remove("AIRBYTE_TEST_NOW");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the connector starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let messages: Vec<Value> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{name}: stdout line is not JSON ({e}): {l}"))
        })
        .collect();
    messages.iter().for_each(assert_valid_message);
    ProcessRun {
        code: out.status.code().unwrap_or(-1),
        messages,
    }
}

fn process_errors(run: &ProcessRun) -> Vec<&Value> {
    run.messages
        .iter()
        .filter(|m| m["type"] == "TRACE" && m["trace"]["type"] == "ERROR")
        .collect()
}

#[test]
fn every_connector_binary_answers_spec_with_exit_zero() {
    for name in [
        "source-klaviyo",
        "source-pinterest",
        "source-tiktok-marketing",
    ] {
        let run = run_binary(name, &["spec"], &[]);
        assert_eq!(run.code, 0, "{name}");
        assert_eq!(run.messages.len(), 1, "{name}: {:?}", run.messages);
        assert_eq!(run.messages[0]["type"], "SPEC");
        assert!(run.messages[0]["spec"]["connectionSpecification"].is_object());
    }
}

#[test]
fn a_binary_rejects_unknown_commands_and_missing_files_with_a_trace_and_non_zero_exit() {
    let run = run_binary("source-klaviyo", &["sync"], &[]);
    assert_eq!(run.code, 2);
    let errors = process_errors(&run);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["trace"]["error"]["failure_type"], "config_error");

    let run = run_binary(
        "source-klaviyo",
        &["check", "--config", "/nonexistent/config.json"],
        &[],
    );
    assert_eq!(run.code, 1);
    let errors = process_errors(&run);
    assert_eq!(errors.len(), 1);
    assert!(errors[0]["trace"]["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("/nonexistent/config.json"));
}

#[test]
fn a_binary_rejects_a_malformed_airbyte_test_now() {
    let run = run_binary(
        "source-klaviyo",
        &["spec"],
        &[("AIRBYTE_TEST_NOW", "next tuesday")],
    );
    assert_eq!(run.code, 1);
    let errors = process_errors(&run);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["trace"]["error"]["failure_type"], "config_error");
    let message = errors[0]["trace"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("AIRBYTE_TEST_NOW must be an ISO-8601 instant"),
        "{message}"
    );
    assert!(!run.messages.iter().any(|m| m["type"] == "SPEC"));

    let run = run_binary(
        "source-klaviyo",
        &["spec"],
        &[("AIRBYTE_TEST_NOW", "2024-06-10T00:00:00Z")],
    );
    assert_eq!(run.code, 0);
}
