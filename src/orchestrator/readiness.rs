//! Whether this deckhand can take work now, for `GET /readyz`: with the
//! Kubernetes executor as its default, only once the client is connected
//! (the API server answered); a failed or missing connection is tried
//! again in the background and its reason reported meanwhile.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Serialize;

use super::Orchestrator;
use crate::execute::ExecutorKind;

/// The answer of a readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Readiness {
    /// Intents run at once with `executor`.
    Ready { executor: &'static str },
    /// Intents would wait or fail: `reason` says why.
    NotReady {
        executor: &'static str,
        reason: String,
    },
}

impl Orchestrator {
    /// Whether the default executor is there. Only the Kubernetes one
    /// needs a connection; while it has none, a connection is started in
    /// the background (one at a time) and this answers at once.
    pub fn readiness(self: &Arc<Self>) -> Readiness {
        let kind = ExecutorKind::choose(None, None, self.settings.default_executor);
        let executor = kind.as_str();
        if kind != ExecutorKind::Kubernetes
            || self
                .executors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(&kind)
        {
            return Readiness::Ready { executor };
        }
        // A connection under way holds the maker's lock.
        if self.making_executor[super::executor_slot(kind)]
            .try_lock()
            .is_err()
        {
            return Readiness::NotReady {
                executor,
                reason: "connecting to the Kubernetes API".into(),
            };
        }
        let reason = self
            .connect_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| "not connected to the Kubernetes API yet".into());
        // One connection started from here at a time, however many checks
        // come while it runs.
        if !self.readiness_connecting.swap(true, Ordering::SeqCst) {
            let connecting = self.clone();
            tokio::spawn(async move {
                connecting.connect_default_executor().await;
                connecting
                    .readiness_connecting
                    .store(false, Ordering::SeqCst);
            });
        }
        Readiness::NotReady {
            executor,
            reason: format!("{reason} (connecting again)"),
        }
    }
}
