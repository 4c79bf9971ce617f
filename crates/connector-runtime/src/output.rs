//! The one writer of stdout.
//!
//! stdout carries only protocol messages, one JSON object per line. Messages are buffered and
//! flushed at every STATE (so the platform can checkpoint promptly) and at exit. LOG, TRACE
//! and CONNECTION_STATUS text passes through [`Secrets::mask`] on the way out.

use std::io::Write;
use std::sync::{Arc, Mutex};

use airbyte_protocol::{AirbyteMessage, TraceMessage};

use crate::secrets::Secrets;

type Sink = Box<dyn Write + Send>;

#[derive(Clone)]
pub struct Output {
    sink: Arc<Mutex<std::io::BufWriter<Sink>>>,
    secrets: Secrets,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Output")
    }
}

impl Output {
    pub fn new(sink: Box<dyn Write + Send>, secrets: Secrets) -> Self {
        Output {
            sink: Arc::new(Mutex::new(std::io::BufWriter::with_capacity(1 << 16, sink))),
            secrets,
        }
    }

    pub fn stdout(secrets: Secrets) -> Self {
        Self::new(Box::new(std::io::stdout()), secrets)
    }

    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Writes one message as one line. Errors writing stdout (a closed pipe) are ignored:
    /// there is nobody left to tell.
    pub fn emit(&self, message: &AirbyteMessage) {
        let line = self.render(message);
        let flush = matches!(
            message,
            AirbyteMessage::State { .. }
                | AirbyteMessage::Control { .. }
                | AirbyteMessage::Trace {
                    trace: TraceMessage::Error { .. }
                }
        );
        if let Ok(mut w) = self.sink.lock() {
            let _ = w.write_all(line.as_bytes());
            let _ = w.write_all(b"\n");
            if flush {
                let _ = w.flush();
            }
        }
    }

    pub fn flush(&self) {
        if let Ok(mut w) = self.sink.lock() {
            let _ = w.flush();
        }
    }

    /// Masks the text of messages that carry free text (LOG, TRACE, CONNECTION_STATUS).
    /// Masking runs on the message's strings before serialisation, not on the serialised
    /// line: the line holds JSON-escaped text, and replacing inside it could cut an escape
    /// sequence in half. Records, state and CONTROL (a config written back on purpose) pass
    /// unchanged.
    fn render(&self, message: &AirbyteMessage) -> String {
        match message {
            AirbyteMessage::Log { .. }
            | AirbyteMessage::Trace { .. }
            | AirbyteMessage::ConnectionStatus { .. }
                if !self.secrets.is_empty() =>
            {
                match serde_json::to_value(message) {
                    Ok(mut v) => {
                        self.secrets.mask_value(&mut v);
                        v.to_string()
                    }
                    // Unreachable for these types; never print unmasked text.
                    Err(_) => self.secrets.mask(&message.to_json_line()),
                }
            }
            _ => message.to_json_line(),
        }
    }
}

/// An in-memory sink for tests: collect everything a run printed.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airbyte_protocol::LogLevel;

    #[test]
    fn masks_secrets_in_logs_only() {
        let secrets = Secrets::new();
        secrets.add("supersecret");
        let cap = Captured::default();
        let out = Output::new(Box::new(cap.clone()), secrets);
        out.emit(&AirbyteMessage::log(LogLevel::Info, "token supersecret"));
        out.flush();
        let text = cap.text();
        assert!(text.contains("token ****"), "{text}");
        assert!(!text.contains("supersecret"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn secrets_with_quotes_and_backslashes_are_masked_and_lines_stay_json() {
        let secrets = Secrets::new();
        secrets.add(r#"a"b\c"#);
        let cap = Captured::default();
        let out = Output::new(Box::new(cap.clone()), secrets);
        // Raw, and JSON-escaped as an echoed error body would carry it.
        out.emit(&AirbyteMessage::log(
            LogLevel::Error,
            r#"raw a"b\c, body {"k":"a\"b\\c"}"#,
        ));
        out.emit(&AirbyteMessage::connection_status(
            airbyte_protocol::Status::Failed,
            Some(r#"401: a"b\c"#.to_string()),
        ));
        out.emit(&AirbyteMessage::error_trace(
            r#"failed: a"b\c"#,
            Some(r#"{"echo":"a\"b\\c"}"#.to_string()),
            airbyte_protocol::FailureType::ConfigError,
            None,
            0,
        ));
        out.flush();
        let text = cap.text();
        for line in text.lines() {
            // Still one JSON object per line, and neither form is left in its text.
            let v: serde_json::Value = serde_json::from_str(line).expect(line);
            let message = v["log"]["message"]
                .as_str()
                .or(v["connectionStatus"]["message"].as_str())
                .or(v["trace"]["error"]["message"].as_str())
                .unwrap_or_default();
            let internal = v["trace"]["error"]["internal_message"]
                .as_str()
                .unwrap_or_default();
            for text in [message, internal] {
                assert!(!text.contains(r#"a"b\c"#), "{line}");
                assert!(!text.contains(r#"a\"b\\c"#), "{line}");
            }
            assert!(message.contains("****"), "{line}");
        }
        assert_eq!(text.lines().count(), 3);
    }
}
