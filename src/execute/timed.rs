//! An executor whose readiness times (and failures) are set per release:
//! the stand-in engine for the runner's own tests and for the benchmark of
//! its overhead (`benches/runner.rs`). It applies nothing anywhere.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{Deleted, ExecError, Executor, LiveStatus, ReleaseTarget, ReleaseWork};
use crate::render::RenderedRelease;

/// Becomes ready after the delay set for each release.
#[derive(Debug, Default)]
pub struct TimedExecutor {
    pub delays: HashMap<String, Duration>,
    pub failing: BTreeSet<String>,
    /// (release, "apply" | "ready", when)
    pub log: Mutex<Vec<(String, &'static str, Instant)>>,
}

#[async_trait]
impl Executor for TimedExecutor {
    fn name(&self) -> &'static str {
        "timed"
    }
    async fn apply(&self, work: &ReleaseWork) -> Result<String, ExecError> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).push((
            work.release.release.clone(),
            "apply",
            Instant::now(),
        ));
        Ok("applied".into())
    }
    async fn wait_ready(
        &self,
        work: &ReleaseWork,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<String, ExecError> {
        let delay = self
            .delays
            .get(&work.release.release)
            .copied()
            .unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(delay.min(timeout)) => {}
            _ = cancel.cancelled() => return Err(ExecError::Cancelled),
        }
        self.log.lock().unwrap_or_else(|p| p.into_inner()).push((
            work.release.release.clone(),
            "ready",
            Instant::now(),
        ));
        if self.failing.contains(&work.release.release) {
            return Err(ExecError::NotReady {
                component: "main".into(),
                reason: "CrashLoopBackOff: exit code 1".into(),
            });
        }
        if delay > timeout {
            return Err(ExecError::Timeout {
                seconds: timeout.as_secs(),
                last: None,
            });
        }
        Ok("ready".into())
    }
    async fn delete(&self, _: &ReleaseTarget, _: bool) -> Result<Deleted, ExecError> {
        Ok(Deleted::default())
    }
    async fn status(&self, _: &ReleaseTarget) -> Result<LiveStatus, ExecError> {
        Ok(LiveStatus::default())
    }
}

/// A bare release named `name` that depends on `dependencies`.
pub fn work(name: &str, dependencies: &[&str]) -> ReleaseWork {
    ReleaseWork {
        release: RenderedRelease {
            release: name.into(),
            blueprint: name.into(),
            version: "1".into(),
            namespace: "default".into(),
            requested: true,
            components: vec![],
            ingress: None,
            provides: Default::default(),
            wiring: vec![],
            secrets: vec![],
            dependencies: dependencies.iter().map(|d| d.to_string()).collect(),
            wave: 0,
            timeout: None,
            parameters: Default::default(),
            published: None,
            member_of: None,
            stack_members: vec![],
        },
        platform: crate::intent::Platform::Kubernetes,
        namespace: "default".into(),
        files: vec![],
        objects: vec![],
        resources: vec![],
        revision: 1,
        dir: std::path::PathBuf::new(),
    }
}
