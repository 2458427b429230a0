//! Executing a plan: one [`Runner`] walks the release graph and drives an
//! [`Executor`] (`render`, `kubernetes`, `compose`) release by release.
//!
//! Every release whose dependencies are ready starts at once (PostgreSQL and
//! Redis together; authentik as soon as both are ready, not when its whole
//! wave is). Each release is applied, then waited for (with its timeout),
//! and every step is reported as a [`RunEvent`]. A failure stops what depends
//! on it and lets independent branches finish; cancelling stops the waits
//! and starts nothing new.

pub mod compose;
pub mod kubernetes;
pub mod render;
pub mod runner;
pub mod timed;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::intent::Platform;
use crate::render::RenderedRelease;
use crate::render::kubernetes::KubeObject;
pub use runner::{RunEvent, RunOutcome, RunStep, Runner};

/// One rendered file of a release.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReleaseFile {
    pub path: String,
    pub content: String,
    /// Holds secret values (written 0600, masked when shown).
    pub secret: bool,
}

/// Something an executor created, for the intent's `resources`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Resource {
    pub release: String,
    pub kind: String,
    pub name: String,
}

/// What an executor needs to apply one release.
#[derive(Debug, Clone)]
pub struct ReleaseWork {
    pub release: RenderedRelease,
    pub platform: Platform,
    pub namespace: String,
    /// The rendered files, already written to `dir`.
    pub files: Vec<ReleaseFile>,
    /// The Kubernetes objects (the namespace first), for the Kubernetes executor.
    pub objects: Vec<KubeObject>,
    pub resources: Vec<Resource>,
    pub revision: i64,
    /// `<data>/releases/<namespace>/<release>/<revision>/`.
    pub dir: PathBuf,
}

/// A release to delete or inspect.
#[derive(Debug, Clone)]
pub struct ReleaseTarget {
    pub release: String,
    pub namespace: String,
    pub platform: Platform,
    /// Directory of its latest revision, when one was recorded.
    pub dir: Option<PathBuf>,
}

/// What a delete did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Deleted {
    pub removed: Vec<String>,
    /// Persistent volumes left in place (data kept unless asked).
    pub kept_volumes: Vec<String>,
}

/// One workload as the engine sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LiveComponent {
    pub name: String,
    pub ready: u32,
    pub desired: u32,
    /// Why it is not ready, in the engine's words.
    pub problem: Option<String>,
    /// The HorizontalPodAutoscaler that owns its count, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscaler: Option<LiveAutoscaler>,
}

/// A HorizontalPodAutoscaler as the cluster reports it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LiveAutoscaler {
    pub name: String,
    pub min: u32,
    pub max: u32,
    /// Replicas running now, and what the autoscaler wants.
    pub current: u32,
    pub desired: u32,
    /// The CPU target in percent of the requests.
    pub cpu_percent: Option<u32>,
}

impl LiveAutoscaler {
    /// "autoscaled 2 to 10 at 70% CPU by HPA x: 2 now, 2 wanted".
    pub fn describe(&self) -> String {
        format!(
            "autoscaled {} to {}{} by HorizontalPodAutoscaler {}: {} now, {} wanted",
            self.min,
            self.max,
            self.cpu_percent
                .map(|c| format!(" at {c}% CPU"))
                .unwrap_or_default(),
            self.name,
            self.current,
            self.desired
        )
    }
}

/// A release as the engine sees it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct LiveStatus {
    pub found: bool,
    pub components: Vec<LiveComponent>,
}

/// Why an executor step failed, in the engine's own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    #[error("{0}")]
    Unavailable(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("{component}: {reason}")]
    NotReady { component: String, reason: String },
    #[error("not ready after {seconds} s{}", .last.as_ref().map(|l| format!(": {l}")).unwrap_or_default())]
    Timeout { seconds: u64, last: Option<String> },
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
}

/// A backend that applies releases.
#[async_trait]
pub trait Executor: Send + Sync {
    /// `render`, `kubernetes` or `compose`.
    fn name(&self) -> &'static str;
    /// Applies a release (idempotent: applying the same work twice changes nothing).
    async fn apply(&self, work: &ReleaseWork) -> Result<String, ExecError>;
    /// Waits until the release is ready, the engine reports a failure, the
    /// timeout passes, or `cancel` fires.
    async fn wait_ready(
        &self,
        work: &ReleaseWork,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<String, ExecError>;
    /// Removes a release; persistent volumes only with `delete_data`.
    async fn delete(&self, target: &ReleaseTarget, delete_data: bool)
    -> Result<Deleted, ExecError>;
    /// What is live.
    async fn status(&self, target: &ReleaseTarget) -> Result<LiveStatus, ExecError>;
    /// The pods in `namespace` that match `selector` (a label selector), as
    /// a stage's validation reads them. Engines without pods say so.
    async fn pod_health(
        &self,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<PodHealth>, ExecError> {
        let _ = (namespace, selector);
        Err(ExecError::Failed(format!(
            "the {} executor cannot report pods, which a stage's validation reads",
            self.name()
        )))
    }
    /// The pods a Service sends traffic to now (its ready endpoints, by pod
    /// name). Engines without Services say so.
    async fn routed_pods(&self, namespace: &str, service: &str) -> Result<Vec<String>, ExecError> {
        let _ = (namespace, service);
        Err(ExecError::Failed(format!(
            "the {} executor has no Services whose endpoints a stage could check",
            self.name()
        )))
    }
}

/// One pod as a stage's validation sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PodHealth {
    pub name: String,
    /// Ready: every readiness check passes, as the kubelet reports it.
    pub ready: bool,
    /// Container restarts so far.
    pub restarts: u32,
    /// Why it is not ready, in the engine's words.
    pub problem: Option<String>,
}

/// Which executor runs an intent.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    Render,
    Kubernetes,
    Compose,
}

impl ExecutorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutorKind::Render => "render",
            ExecutorKind::Kubernetes => "kubernetes",
            ExecutorKind::Compose => "compose",
        }
    }

    /// The executor for an intent: one forced by the request, else the
    /// platform the person named, else the configured default, else render.
    pub fn choose(
        forced: Option<ExecutorKind>,
        named_platform: Option<Platform>,
        default: Option<ExecutorKind>,
    ) -> ExecutorKind {
        forced
            .or(named_platform.map(|p| match p {
                Platform::Kubernetes => ExecutorKind::Kubernetes,
                Platform::Compose => ExecutorKind::Compose,
            }))
            .or(default)
            .unwrap_or(ExecutorKind::Render)
    }

    /// The platform whose manifests it needs, when it decides one.
    pub fn platform(self) -> Option<Platform> {
        match self {
            ExecutorKind::Render => None,
            ExecutorKind::Kubernetes => Some(Platform::Kubernetes),
            ExecutorKind::Compose => Some(Platform::Compose),
        }
    }
}

impl std::str::FromStr for ExecutorKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "render" => Ok(Self::Render),
            "kubernetes" | "k8s" => Ok(Self::Kubernetes),
            "compose" | "docker" => Ok(Self::Compose),
            other => Err(format!(
                "unknown executor '{other}' (render, kubernetes or compose)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_executor_follows_request_then_platform_then_default() {
        use ExecutorKind::*;
        assert_eq!(ExecutorKind::choose(None, None, None), Render);
        assert_eq!(
            ExecutorKind::choose(None, None, Some(Kubernetes)),
            Kubernetes
        );
        assert_eq!(
            ExecutorKind::choose(None, Some(Platform::Compose), Some(Kubernetes)),
            Compose
        );
        assert_eq!(
            ExecutorKind::choose(Some(Render), Some(Platform::Compose), None),
            Render
        );
    }
}
