//! The panic hook the binaries install turns a panic into one TRACE ERROR on the protocol
//! output. Its own test binary: the hook is process-wide and would swallow other tests'
//! failure messages.

use connector_runtime::cli::install_panic_hook;
use connector_runtime::output::{Captured, Output};
use connector_runtime::secrets::Secrets;
use serde_json::Value;

#[test]
fn a_panic_becomes_one_system_error_trace_with_its_message_kept_internal() {
    let captured = Captured::default();
    let secrets = Secrets::new();
    secrets.add("secret-in-panic-9876");
    install_panic_hook(Output::new(Box::new(captured.clone()), secrets));
    let result = std::panic::catch_unwind(|| {
        panic!("index out of bounds near secret-in-panic-9876");
    });
    let _ = std::panic::take_hook();
    assert!(result.is_err());
    let text = captured.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("protocol JSON"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let error = &lines[0]["trace"]["error"];
    assert_eq!(lines[0]["type"], "TRACE");
    assert_eq!(error["failure_type"], "system_error");
    assert_eq!(
        error["message"],
        "The connector hit an internal error; please report it."
    );
    let internal = error["internal_message"].as_str().unwrap_or_default();
    assert!(
        internal.contains("index out of bounds near ****"),
        "{internal}"
    );
    assert!(internal.contains("panic_hook.rs"), "{internal}");
    assert!(!text.contains("secret-in-panic-9876"));
}
