//! `tracing` events become Airbyte LOG messages.
//!
//! Code anywhere in the runtime or a source logs with the ordinary `tracing` macros; this
//! layer renders each event (message plus fields) into a LOG message on the shared
//! [`Output`], where secrets are masked. Nothing is ever written to stdout any other way.

use std::fmt::Write as _;

use airbyte_protocol::{AirbyteMessage, LogLevel};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::output::Output;

pub struct ProtocolLogLayer {
    output: Output,
    max_level: Level,
}

impl ProtocolLogLayer {
    pub fn new(output: Output, max_level: Level) -> Self {
        ProtocolLogLayer { output, max_level }
    }
}

struct MessageVisitor {
    message: String,
    fields: String,
}

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }
}

impl<S: Subscriber> Layer<S> for ProtocolLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > self.max_level {
            return;
        }
        // Only our own crates log to the user; dependencies (hyper, reqwest) stay quiet.
        let target = event.metadata().target();
        if !(target.starts_with("connector_runtime")
            || target.starts_with("source_")
            || target.starts_with("integration_tests"))
        {
            return;
        }
        let mut visitor = MessageVisitor {
            message: String::new(),
            fields: String::new(),
        };
        event.record(&mut visitor);
        let text = format!("{}{}", visitor.message, visitor.fields);
        let level = match level {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            Level::DEBUG => LogLevel::Debug,
            Level::TRACE => LogLevel::Trace,
        };
        self.output.emit(&AirbyteMessage::log(level, text));
    }
}

/// A subscriber that sends events at `max_level` and above to `output`.
pub fn subscriber(output: Output, max_level: Level) -> impl Subscriber + Send + Sync {
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry().with(ProtocolLogLayer::new(output, max_level))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Captured;
    use crate::secrets::Secrets;

    fn logged(max_level: Level, emit: impl FnOnce()) -> Vec<serde_json::Value> {
        let captured = Captured::default();
        let secrets = Secrets::new();
        secrets.add("tok-secret-1234");
        let output = Output::new(Box::new(captured.clone()), secrets);
        tracing::subscriber::with_default(subscriber(output.clone(), max_level), emit);
        output.flush();
        captured
            .text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn only_our_crates_log_to_the_user() {
        let lines = logged(Level::DEBUG, || {
            tracing::info!(target: "connector_runtime::http", "from the runtime");
            tracing::info!(target: "source_klaviyo::streams", "from a source");
            tracing::info!(target: "integration_tests", "from a test");
            tracing::info!(target: "hyper::client", "from a dependency");
            tracing::info!(target: "reqwest::connect", "from another dependency");
        });
        let messages: Vec<&str> = lines
            .iter()
            .map(|l| l["log"]["message"].as_str().unwrap())
            .collect();
        assert_eq!(
            messages,
            vec!["from the runtime", "from a source", "from a test"]
        );
    }

    #[test]
    fn levels_fields_and_masking() {
        let lines = logged(Level::INFO, || {
            tracing::debug!(target: "connector_runtime", "too detailed");
            tracing::warn!(target: "connector_runtime", attempt = 2, "token tok-secret-1234 rejected");
            tracing::error!(target: "connector_runtime", "boom");
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["type"], "LOG");
        assert_eq!(lines[0]["log"]["level"], "WARN");
        assert_eq!(lines[0]["log"]["message"], "token **** rejected attempt=2");
        assert_eq!(lines[1]["log"]["level"], "ERROR");
    }
}
