//! What a run takes from its environment, gathered in one value.
//!
//! The binaries read the process environment once ([`RunEnv::from_process`]); tests build a
//! [`RunEnv`] by hand, so many connectors can run in one test process side by side without
//! touching global state.

use std::collections::HashMap;
use std::time::Duration;

use crate::clock::{Clock, TEST_NOW_ENV};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct RunEnv {
    /// Environment variables the connector may consult (base URL overrides and the like).
    vars: HashMap<String, String>,
    pub clock: Clock,
    /// Multiplies every backoff sleep. 1.0 in production; tests shrink it so that a
    /// 60-second `Retry-After` costs milliseconds while the computed delay is still logged.
    pub time_scale: f64,
}

impl Default for RunEnv {
    fn default() -> Self {
        RunEnv {
            vars: HashMap::new(),
            clock: Clock::system(),
            time_scale: 1.0,
        }
    }
}

impl RunEnv {
    /// Reads the process environment. A malformed `AIRBYTE_TEST_NOW` is a config error.
    pub fn from_process() -> Result<Self> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_vars(vars)
    }

    /// Builds a run environment from explicit variables (as a test would).
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self> {
        let clock = match vars.get(TEST_NOW_ENV).filter(|v| !v.trim().is_empty()) {
            Some(text) => Clock::pinned(Clock::parse_instant(text).ok_or_else(|| {
                Error::config(format!(
                    "{TEST_NOW_ENV} must be an ISO-8601 instant such as 2024-06-10T00:00:00Z, got {text:?}"
                ))
            })?),
            None => Clock::system(),
        };
        Ok(RunEnv {
            vars,
            clock,
            time_scale: 1.0,
        })
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub fn with_var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_string(), value.to_string());
        if name == TEST_NOW_ENV {
            if let Some(t) = Clock::parse_instant(value) {
                self.clock = Clock::pinned(t);
            }
        }
        self
    }

    pub fn with_time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale.max(0.0);
        self
    }

    /// Scales a backoff delay for sleeping.
    pub fn scaled(&self, d: Duration) -> Duration {
        if (self.time_scale - 1.0).abs() < f64::EPSILON {
            d
        } else {
            d.mul_f64(self.time_scale)
        }
    }
}
