//! How a component's health is checked: the readiness check (exactly one of
//! `http`, `tcp`, `exec`), an optional different liveness check, an
//! optional startup check, and how long a slow starter may take
//! (`start_period`). The renderers turn them into probes (Kubernetes) and a
//! `healthcheck` (Compose).

use serde::{Deserialize, Serialize};

/// How readiness is checked: exactly one of `http`, `tcp`, `exec`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct Check {
    #[serde(default)]
    pub http: Option<HttpCheck>,
    #[serde(default)]
    pub tcp: Option<TcpCheck>,
    #[serde(default)]
    pub exec: Option<ExecCheck>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub path: String,
    pub port: u16,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    pub port: u16,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExecCheck {
    pub command: Vec<String>,
}

/// The readiness check, an optional different liveness check, and how long
/// a slow starter may take.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Health {
    #[serde(default)]
    pub http: Option<HttpCheck>,
    #[serde(default)]
    pub tcp: Option<TcpCheck>,
    #[serde(default)]
    pub exec: Option<ExecCheck>,
    #[serde(default)]
    pub liveness: Option<Check>,
    /// The check that says it has started (default: the readiness check),
    /// given `start_period` seconds before liveness counts.
    #[serde(default)]
    pub startup: Option<Check>,
    #[serde(default)]
    pub start_period: Option<u32>,
}

impl Health {
    pub fn readiness(&self) -> Check {
        Check {
            http: self.http.clone(),
            tcp: self.tcp.clone(),
            exec: self.exec.clone(),
        }
    }
    pub fn liveness(&self) -> Check {
        self.liveness.clone().unwrap_or_else(|| self.readiness())
    }
    pub fn startup(&self) -> Check {
        self.startup.clone().unwrap_or_else(|| self.readiness())
    }
}

impl Check {
    pub(crate) fn kinds(&self) -> usize {
        usize::from(self.http.is_some())
            + usize::from(self.tcp.is_some())
            + usize::from(self.exec.is_some())
    }
}
