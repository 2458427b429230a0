//! The runner: schedules releases over the dependency graph as soon as
//! their own dependencies are ready, with a timeout per wait, and reports
//! every step. Its own overhead is measured by `benches/runner.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::{ExecError, Executor, ReleaseWork};

/// What happened to a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStep {
    Started,
    Applied,
    Waiting,
    Ready,
    Failed,
    /// Not started because something it depends on failed.
    Skipped,
    Cancelled,
}

impl RunStep {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStep::Started => "started",
            RunStep::Applied => "applied",
            RunStep::Waiting => "waiting",
            RunStep::Ready => "ready",
            RunStep::Failed => "failed",
            RunStep::Skipped => "skipped",
            RunStep::Cancelled => "cancelled",
        }
    }
}

/// One step of one release.
#[derive(Debug, Clone, Serialize)]
pub struct RunEvent {
    pub release: String,
    pub step: RunStep,
    pub message: String,
    pub duration: Option<Duration>,
}

/// How a run ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunOutcome {
    /// Releases applied (whatever came after).
    pub applied: Vec<String>,
    pub ready: Vec<String>,
    /// (release, the engine's reason)
    pub failed: Vec<(String, String)>,
    /// (release, the failed dependency)
    pub skipped: Vec<(String, String)>,
    pub cancelled: bool,
}

impl RunOutcome {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && !self.cancelled
    }
}

/// Drives one executor over a set of releases.
pub struct Runner {
    executor: Arc<dyn Executor>,
    default_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Ready,
    Failed,
}

impl Runner {
    pub fn new(executor: Arc<dyn Executor>, default_timeout: Duration) -> Self {
        Self {
            executor,
            default_timeout,
        }
    }

    pub fn executor(&self) -> &Arc<dyn Executor> {
        &self.executor
    }

    /// Applies `works` in dependency order, in parallel where possible.
    /// Dependencies outside `works` count as ready.
    pub async fn run(
        &self,
        works: Vec<ReleaseWork>,
        events: &UnboundedSender<RunEvent>,
        cancel: &CancellationToken,
    ) -> RunOutcome {
        let names: BTreeSet<String> = works.iter().map(|w| w.release.release.clone()).collect();
        let mut pending: BTreeMap<String, ReleaseWork> = works
            .into_iter()
            .map(|w| (w.release.release.clone(), w))
            .collect();
        let mut states: HashMap<String, State> = HashMap::new();
        let mut outcome = RunOutcome::default();
        let mut running = FuturesUnordered::new();
        loop {
            if !cancel.is_cancelled() {
                // Skip what depends on a failure (repeat: skipping cascades).
                loop {
                    let doomed: Vec<(String, String)> = pending
                        .iter()
                        .filter_map(|(name, work)| {
                            work.release
                                .dependencies
                                .iter()
                                .find(|d| states.get(*d) == Some(&State::Failed))
                                .map(|d| (name.clone(), d.clone()))
                        })
                        .collect();
                    if doomed.is_empty() {
                        break;
                    }
                    for (name, dependency) in doomed {
                        pending.remove(&name);
                        states.insert(name.clone(), State::Failed);
                        let _ = events.send(RunEvent {
                            release: name.clone(),
                            step: RunStep::Skipped,
                            message: format!("not started: {dependency}, which it needs, failed"),
                            duration: None,
                        });
                        outcome.skipped.push((name, dependency));
                    }
                }
                let startable: Vec<String> = pending
                    .iter()
                    .filter(|(_, work)| {
                        work.release
                            .dependencies
                            .iter()
                            .all(|d| !names.contains(d) || states.get(d) == Some(&State::Ready))
                    })
                    .map(|(name, _)| name.clone())
                    .collect();
                for name in startable {
                    let work = pending.remove(&name).expect("listed above");
                    running.push(self.run_one(work, events, cancel));
                }
            }
            let Some((name, applied, result)) = running.next().await else {
                break;
            };
            if applied {
                outcome.applied.push(name.clone());
            }
            match result {
                Ok(()) => {
                    states.insert(name.clone(), State::Ready);
                    outcome.ready.push(name);
                }
                Err(ExecError::Cancelled) => {
                    states.insert(name.clone(), State::Failed);
                }
                Err(err) => {
                    states.insert(name.clone(), State::Failed);
                    outcome.failed.push((name, err.to_string()));
                }
            }
        }
        if cancel.is_cancelled() {
            outcome.cancelled = true;
        }
        outcome
    }

    /// Apply then wait, reporting each step. Returns (release, applied?, result):
    /// a release whose apply was cancelled or failed part-way counts as
    /// applied, since some of its objects may be in place (an atomic upgrade
    /// then rolls it back, and a cancel says so).
    async fn run_one(
        &self,
        work: ReleaseWork,
        events: &UnboundedSender<RunEvent>,
        cancel: &CancellationToken,
    ) -> (String, bool, Result<(), ExecError>) {
        let name = work.release.release.clone();
        let send = |step: RunStep, message: String, duration: Option<Duration>| {
            let _ = events.send(RunEvent {
                release: name.clone(),
                step,
                message,
                duration,
            });
        };
        let started = Instant::now();
        send(
            RunStep::Started,
            format!(
                "{} {} with {} (revision {})",
                work.release.blueprint,
                work.release.version,
                self.executor.name(),
                work.revision
            ),
            None,
        );
        // A stack has nothing of its own to run: its members are releases
        // of their own, and it depends on all of them, so they are ready.
        if work.release.is_stack() {
            send(
                RunStep::Applied,
                "a stack: nothing of its own to apply, its members are releases of their own"
                    .into(),
                Some(started.elapsed()),
            );
            let members = work.release.dependencies.join(", ");
            send(
                RunStep::Ready,
                format!("its members are ready: {members}"),
                Some(started.elapsed()),
            );
            return (name.clone(), true, Ok(()));
        }
        let applied = tokio::select! {
            result = self.executor.apply(&work) => result,
            _ = cancel.cancelled() => Err(ExecError::Cancelled),
        };
        match applied {
            Ok(message) => send(RunStep::Applied, message, Some(started.elapsed())),
            Err(ExecError::Cancelled) => {
                send(
                    RunStep::Cancelled,
                    "cancelled while it was being applied; part of it may be in place".into(),
                    Some(started.elapsed()),
                );
                return (name.clone(), true, Err(ExecError::Cancelled));
            }
            Err(err) => {
                send(
                    RunStep::Failed,
                    format!("apply failed: {err}"),
                    Some(started.elapsed()),
                );
                return (name.clone(), true, Err(err));
            }
        }
        let timeout = work
            .release
            .timeout
            .map(Duration::from_secs)
            .unwrap_or(self.default_timeout);
        send(
            RunStep::Waiting,
            format!("waiting up to {} s for readiness", timeout.as_secs()),
            None,
        );
        let waited = Instant::now();
        let result = self.executor.wait_ready(&work, timeout, cancel).await;
        match &result {
            Ok(message) => send(RunStep::Ready, message.clone(), Some(waited.elapsed())),
            Err(ExecError::Cancelled) => send(
                RunStep::Cancelled,
                "cancelled while waiting for readiness".into(),
                Some(waited.elapsed()),
            ),
            Err(err) => send(RunStep::Failed, err.to_string(), Some(waited.elapsed())),
        }
        (name.clone(), true, result.map(|_| ()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use crate::execute::timed::{TimedExecutor, work};

    fn timed(delays: &[(&str, u64)], failing: &[&str]) -> Arc<TimedExecutor> {
        Arc::new(TimedExecutor {
            delays: delays
                .iter()
                .map(|(n, ms)| (n.to_string(), Duration::from_millis(*ms)))
                .collect(),
            failing: failing.iter().map(|s| s.to_string()).collect(),
            log: Mutex::new(Vec::new()),
        })
    }

    fn when(executor: &TimedExecutor, release: &str, what: &str) -> Instant {
        executor
            .log
            .lock()
            .unwrap()
            .iter()
            .find(|(r, w, _)| r == release && *w == what)
            .map(|(_, _, t)| *t)
            .unwrap()
    }

    #[tokio::test]
    async fn a_release_starts_when_its_own_dependencies_are_ready() {
        // db (50 ms) and cache (300 ms) in wave 1; app needs db only, and must
        // not wait for cache; web needs both.
        let executor = timed(&[("db", 50), ("cache", 300), ("app", 10), ("web", 10)], &[]);
        let runner = Runner::new(executor.clone(), Duration::from_secs(5));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let works = vec![
            work("db", &[]),
            work("cache", &[]),
            work("app", &["db"]),
            work("web", &["db", "cache"]),
        ];
        let outcome = runner.run(works, &tx, &CancellationToken::new()).await;
        assert!(outcome.succeeded(), "{outcome:?}");
        assert!(
            when(&executor, "app", "apply") < when(&executor, "cache", "ready"),
            "app waited for cache"
        );
        assert!(when(&executor, "web", "apply") >= when(&executor, "cache", "ready"));
        drop(tx);
        let mut steps = Vec::new();
        while let Some(event) = rx.recv().await {
            steps.push((event.release, event.step));
        }
        assert!(steps.contains(&("web".into(), RunStep::Ready)));
        assert_eq!(
            steps.iter().filter(|(_, s)| *s == RunStep::Started).count(),
            4
        );
    }

    #[tokio::test]
    async fn a_failure_stops_its_dependents_but_not_independent_branches() {
        let executor = timed(&[("db", 20), ("cache", 100)], &["db"]);
        let runner = Runner::new(executor, Duration::from_secs(5));
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let works = vec![
            work("db", &[]),
            work("app", &["db"]),
            work("top", &["app"]),
            work("cache", &[]),
        ];
        let outcome = runner.run(works, &tx, &CancellationToken::new()).await;
        assert_eq!(outcome.ready, ["cache"]);
        assert_eq!(outcome.failed[0].0, "db");
        assert!(outcome.failed[0].1.contains("CrashLoopBackOff"));
        let skipped: Vec<&str> = outcome.skipped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(skipped, ["app", "top"]);
    }

    #[tokio::test]
    async fn timeouts_and_cancellation_stop_waiting() {
        let executor = timed(&[("slow", 10_000)], &[]);
        let runner = Runner::new(executor.clone(), Duration::from_millis(1100));
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let outcome = runner
            .run(vec![work("slow", &[])], &tx, &CancellationToken::new())
            .await;
        assert!(
            outcome.failed[0].1.contains("not ready after 1 s"),
            "{outcome:?}"
        );

        let runner = Runner::new(executor, Duration::from_secs(60));
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            trigger.cancel();
        });
        let started = Instant::now();
        let outcome = runner
            .run(
                vec![work("slow", &[]), work("after", &["slow"])],
                &tx,
                &cancel,
            )
            .await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(outcome.cancelled);
        assert_eq!(outcome.applied, ["slow"]);
        assert!(outcome.ready.is_empty());
    }

    /// An engine whose apply never answers.
    struct StuckApply;

    #[async_trait::async_trait]
    impl Executor for StuckApply {
        fn name(&self) -> &'static str {
            "stuck"
        }
        async fn apply(&self, _: &ReleaseWork) -> Result<String, ExecError> {
            std::future::pending().await
        }
        async fn wait_ready(
            &self,
            _: &ReleaseWork,
            _: Duration,
            _: &CancellationToken,
        ) -> Result<String, ExecError> {
            Ok("ready".into())
        }
        async fn delete(
            &self,
            _: &crate::execute::ReleaseTarget,
            _: bool,
        ) -> Result<crate::execute::Deleted, ExecError> {
            Ok(Default::default())
        }
        async fn status(
            &self,
            _: &crate::execute::ReleaseTarget,
        ) -> Result<crate::execute::LiveStatus, ExecError> {
            Err(ExecError::Unavailable("stuck".into()))
        }
    }

    #[tokio::test]
    async fn a_release_cancelled_while_being_applied_counts_as_applied() {
        let runner = Runner::new(Arc::new(StuckApply), Duration::from_secs(60));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            trigger.cancel();
        });
        let outcome = runner.run(vec![work("redis", &[])], &tx, &cancel).await;
        assert!(outcome.cancelled);
        assert_eq!(outcome.applied, ["redis"], "part of it may be in place");
        drop(tx);
        let mut said = Vec::new();
        while let Some(event) = rx.recv().await {
            said.push(event.message);
        }
        assert!(
            said.iter()
                .any(|m| m.contains("part of it may be in place")),
            "{said:?}"
        );
    }
}
