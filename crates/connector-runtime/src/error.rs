//! Errors as types, mapped once to Airbyte failure types at the edge.
//!
//! Every mechanism in the runtime returns [`Error`]; the engine and the CLI turn it into a
//! `TRACE` message with the matching `failure_type`. Keeping the classification on the error
//! itself means a source never has to decide twice whether something is the user's fault
//! (`config_error`), a passing condition (`transient_error`) or a bug/unknown answer
//! (`system_error`).

use airbyte_protocol::FailureType;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The user must change something (config, credentials, catalog, state).
    #[error("{message}")]
    Config {
        message: String,
        internal: Option<String>,
    },
    /// Retrying later may succeed (rate limits, outages, timeouts).
    #[error("{message}")]
    Transient {
        message: String,
        internal: Option<String>,
    },
    /// Anything else: unexpected answers, unknown codes, bugs.
    #[error("{message}")]
    System {
        message: String,
        internal: Option<String>,
    },
}

impl Error {
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
            internal: None,
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Error::Transient {
            message: message.into(),
            internal: None,
        }
    }

    pub fn system(message: impl Into<String>) -> Self {
        Error::System {
            message: message.into(),
            internal: None,
        }
    }

    /// Builds an error of the given failure type.
    pub fn of_type(failure_type: FailureType, message: impl Into<String>) -> Self {
        match failure_type {
            FailureType::ConfigError => Error::config(message),
            FailureType::TransientError => Error::transient(message),
            FailureType::SystemError => Error::system(message),
        }
    }

    /// Attaches a technical detail that is shown to operators (`internal_message`).
    pub fn with_internal(mut self, detail: impl Into<String>) -> Self {
        let detail = Some(detail.into());
        match &mut self {
            Error::Config { internal, .. }
            | Error::Transient { internal, .. }
            | Error::System { internal, .. } => *internal = detail,
        }
        self
    }

    pub fn failure_type(&self) -> FailureType {
        match self {
            Error::Config { .. } => FailureType::ConfigError,
            Error::Transient { .. } => FailureType::TransientError,
            Error::System { .. } => FailureType::SystemError,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Error::Config { message, .. }
            | Error::Transient { message, .. }
            | Error::System { message, .. } => message,
        }
    }

    pub fn internal(&self) -> Option<&str> {
        match self {
            Error::Config { internal, .. }
            | Error::Transient { internal, .. }
            | Error::System { internal, .. } => internal.as_deref(),
        }
    }

    /// Prefixes the user-facing message, keeping the failure type.
    pub fn context(self, prefix: &str) -> Self {
        let internal = self.internal().map(str::to_string);
        let e = Error::of_type(self.failure_type(), format!("{prefix}{}", self.message()));
        match internal {
            Some(i) => e.with_internal(i),
            None => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_type_and_internal() {
        let e = Error::transient("boom")
            .with_internal("detail")
            .context("Stream x: ");
        assert_eq!(e.failure_type(), FailureType::TransientError);
        assert_eq!(e.message(), "Stream x: boom");
        assert_eq!(e.internal(), Some("detail"));
    }
}
