//! Running a planned intent: take the locks of the releases it changes
//! (planning again when another intent held one), then hand it to its verb
//! ([`super::install`] applies, [`super::upgrade`] rolls back what failed,
//! [`super::remove`] deletes) over one [`Run`]; [`Orchestrator::run_releases`]
//! is the one way releases are applied and their revisions recorded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use super::{CANCELLABLE, DeployOptions, Orchestrator, lifecycle, locks};
use crate::execute::{self, Executor, ReleaseWork, RunEvent, Runner};
use crate::intent::Platform;
use crate::plan::Plan;
use crate::store::releases::{NewRevision, ReleaseKey};
use crate::store::{IntentRecord, IntentStatus, NewEvent, StoreError};

/// One intent's deploy run: what every verb's run needs.
pub(super) struct Run<'a> {
    pub id: &'a str,
    pub record: &'a IntentRecord,
    pub plan: &'a Plan,
    pub executor: Arc<dyn Executor>,
    pub token: &'a CancellationToken,
    pub started: Instant,
}

impl Orchestrator {
    /// Applies (or removes) the stored intent's plan with its executor.
    pub(super) async fn deploy(&self, id: &str) -> Result<(), StoreError> {
        let token = CancellationToken::new();
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), token.clone());
        let result = self.deploy_inner(id, &token).await;
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        result
    }

    async fn deploy_inner(&self, id: &str, token: &CancellationToken) -> Result<(), StoreError> {
        let started = Instant::now();
        let record = self
            .intent(id)
            .await
            .map_err(|e| StoreError::NotFound(e.to_string()))?;
        let options: DeployOptions =
            serde_json::from_value(record.options.clone()).unwrap_or_default();
        let overrides = options.overrides().unwrap_or_default();
        // Plan, take the releases' locks, and when another intent held one,
        // plan again from what it left: a plan made before the wait would
        // undo the other intent's work.
        let mut held: Option<(locks::HeldLocks, Vec<String>)> = None;
        let prepared = loop {
            let prepared = match self.prepare(id, &overrides).await? {
                Ok(found) => found,
                Err((message, suggestions)) => return self.fail(id, message, suggestions).await,
            };
            let keys = lock_keys(&prepared);
            if let Some((_, taken)) = &held
                && keys.iter().all(|k| taken.contains(k))
            {
                break prepared;
            }
            // Locks held from a plan that changed are let go first.
            drop(held.take());
            for (key, holder) in self.locks.busy(&keys) {
                let message = format!("waiting for {}, which is changing {key}", who(holder));
                self.record(id, NewEvent::new("deploy", "waiting", message))
                    .await?;
            }
            let mut waits = Vec::new();
            let locks = tokio::select! {
                locks = self.locks.acquire(keys.clone(), id, |key, holder| waits.push((key.to_string(), holder))) => locks,
                _ = token.cancelled() => {
                    return self.transition(id, Some(CANCELLABLE), IntentStatus::Cancelled, NewEvent::new("finish", "cancelled", "cancelled while waiting for another intent; nothing was applied")).await;
                }
            };
            if waits.is_empty() {
                held = Some((locks, keys));
                break prepared;
            }
            for (key, holder) in waits {
                let message = format!(
                    "waited for {}, which was changing {key}; planning again from what it left",
                    who(holder)
                );
                self.record(id, NewEvent::new("deploy", "waited", message))
                    .await?;
            }
            held = Some((locks, keys));
        };
        let executor = match self.executor(prepared.executor()).await {
            Ok(executor) => executor,
            Err(err) => return self.fail(id, err.to_string(), vec![]).await,
        };
        let plan = prepared.plan();
        let run = Run {
            id,
            record: &record,
            plan,
            executor,
            token,
            started,
        };
        let result = match &prepared {
            lifecycle::Prepared::Remove { targets, .. } => {
                let delete_data =
                    options.delete_data || plan.intent.parameters.delete_data == Some(true);
                self.remove_releases(&run, targets, delete_data).await
            }
            lifecycle::Prepared::Apply {
                stored, previous, ..
            } => {
                let atomic = options.atomic.unwrap_or(true);
                if plan.intent.strategy.is_some() {
                    self.run_strategy(&run, previous, options.strategy.as_ref(), atomic)
                        .await
                } else {
                    self.apply_releases(&run, stored, previous, atomic).await
                }
            }
            lifecycle::Prepared::Status { .. } => Ok(()),
        };
        drop(held);
        result
    }

    /// The release's files and objects: a fresh render, or the stored files of a revision.
    fn work_for(
        &self,
        plan: &Plan,
        release: &crate::render::RenderedRelease,
        stored: Option<&Vec<execute::ReleaseFile>>,
    ) -> Result<ReleaseParts, String> {
        let (files, objects, resources) = execute::render::release_files(plan, release);
        let Some(stored) = stored else {
            return Ok((files, objects, resources));
        };
        let objects = match plan.platform {
            Platform::Kubernetes => {
                let text = stored
                    .iter()
                    .find(|f| f.path == "manifests.yaml")
                    .map(|f| f.content.as_str())
                    .unwrap_or_default();
                crate::render::kubernetes::from_yaml(text)?
            }
            Platform::Compose => vec![],
        };
        Ok((stored.clone(), objects, resources))
    }

    /// Applies releases through the runner and records a revision for each one that became ready.
    /// `token` is the run's own, or a fresh one for an automatic rollback
    /// (which must finish even when the run was cancelled).
    pub(super) async fn run_releases(
        &self,
        run: &Run<'_>,
        releases: &[crate::render::RenderedRelease],
        stored: &HashMap<String, Vec<execute::ReleaseFile>>,
        action: &str,
        token: &CancellationToken,
    ) -> Result<Result<(execute::RunOutcome, Vec<Json>), String>, StoreError> {
        let (id, record, plan) = (run.id, run.record, run.plan);
        let mut works = Vec::new();
        for release in releases {
            let key = ReleaseKey {
                platform: plan.platform.to_string(),
                namespace: plan.namespace.clone(),
                name: release.release.clone(),
            };
            let (files, objects, resources) =
                match self.work_for(plan, release, stored.get(&release.release)) {
                    Ok(found) => found,
                    Err(message) => return Ok(Err(format!("{}: {message}", release.release))),
                };
            let revision = self.store.call(move |s| s.next_revision(&key)).await?;
            let dir = execute::render::revision_dir(
                &self.settings.data_dir,
                &plan.namespace,
                &release.release,
                revision,
            );
            works.push(ReleaseWork {
                release: release.clone(),
                platform: plan.platform,
                namespace: plan.namespace.clone(),
                files,
                objects,
                resources,
                revision,
                dir,
            });
        }
        // Every release's files, written durably side by side before any is
        // applied. A directory there already (an earlier run that stopped
        // before recording this revision) is an earlier run's record.
        let existed: Vec<bool> = works.iter().map(|work| work.dir.exists()).collect();
        let writes = works.iter().map(|work| {
            let (dir, files) = (work.dir.clone(), work.files.clone());
            tokio::task::spawn_blocking(move || execute::render::write_release(&dir, &files))
        });
        let written = futures_util::future::join_all(writes).await;
        for (work, result) in works.iter().zip(written) {
            let failed = match result {
                Ok(Ok(())) => continue,
                Ok(Err(err)) => err.to_string(),
                Err(join) => join.to_string(),
            };
            // No revision is recorded for any of them: none of the
            // directories made here may stand as if one were.
            for (written, existed) in works.iter().zip(&existed) {
                if !existed {
                    let _ = std::fs::remove_dir_all(&written.dir);
                }
            }
            return Ok(Err(format!(
                "{}: cannot write {}: {failed}",
                work.release.release,
                work.dir.display()
            )));
        }
        let by_name: HashMap<String, ReleaseWork> = works
            .iter()
            .map(|w| (w.release.release.clone(), w.clone()))
            .collect();
        let runner = Runner::new(run.executor.clone(), self.settings.ready_timeout);
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
        let run = async {
            let outcome = runner.run(works, &sender, token).await;
            drop(sender);
            outcome
        };
        let report = async {
            while let Some(event) = receiver.recv().await {
                let mut stored = NewEvent::new(
                    format!("release {}", event.release),
                    event.step.as_str(),
                    event.message,
                );
                if let Some(duration) = event.duration {
                    stored = stored.took(duration);
                }
                self.record(id, stored).await?;
            }
            Ok::<(), StoreError>(())
        };
        let (outcome, reported) = tokio::join!(run, report);
        reported?;
        let mut resources: Vec<Json> = Vec::new();
        for name in &outcome.ready {
            let work = &by_name[name];
            let revision = NewRevision {
                key: ReleaseKey {
                    platform: plan.platform.to_string(),
                    namespace: plan.namespace.clone(),
                    name: name.clone(),
                },
                blueprint: work.release.blueprint.clone(),
                intent_id: Some(id.to_string()),
                action: action.to_string(),
                version: work.release.version.clone(),
                parameters: serde_json::to_value(&work.release.parameters).unwrap_or(Json::Null),
                manifests: serde_json::to_value(&work.files).unwrap_or(Json::Null),
                dependencies: work.release.dependencies.clone(),
                created_by: record.requested_by.clone(),
            };
            let number = self
                .store
                .call(move |s| s.record_revision(&revision))
                .await?;
            self.record(
                id,
                NewEvent::new(
                    format!("release {name}"),
                    "recorded",
                    format!("revision {number} recorded ({action})"),
                ),
            )
            .await?;
            resources.extend(
                work.resources
                    .iter()
                    .map(|r| serde_json::to_value(r).unwrap_or(Json::Null)),
            );
        }
        Ok(Ok((outcome, resources)))
    }

    /// Ends a deploying intent as completed, with what it did.
    pub(super) async fn finish_completed(
        &self,
        id: &str,
        message: String,
        started: Instant,
    ) -> Result<(), StoreError> {
        let event = NewEvent::new("finish", "completed", message).took(started.elapsed());
        self.transition(
            id,
            Some(&[IntentStatus::Deploying]),
            IntentStatus::Completed,
            event,
        )
        .await
    }

    /// Ends an intent as cancelled, saying what was already `done` ("applied", "removed").
    pub(super) async fn finish_cancelled(
        &self,
        id: &str,
        done: &[String],
        verb: &str,
    ) -> Result<(), StoreError> {
        let done = if done.is_empty() {
            format!("nothing was {verb}")
        } else {
            format!("already {verb}, in full or in part: {}", done.join(", "))
        };
        let event = NewEvent::new("finish", "cancelled", format!("cancelled; {done}"));
        self.transition(id, Some(CANCELLABLE), IntentStatus::Cancelled, event)
            .await
    }
}

/// A release's files, Kubernetes objects and resources.
type ReleaseParts = (
    Vec<execute::ReleaseFile>,
    Vec<crate::render::kubernetes::KubeObject>,
    Vec<execute::Resource>,
);

fn lock_key(plan: &Plan, release: &str) -> String {
    format!("{}/{}/{release}", plan.platform, plan.namespace)
}

/// The locks a prepared intent needs: one per release it changes.
fn lock_keys(prepared: &lifecycle::Prepared) -> Vec<String> {
    let plan = prepared.plan();
    match prepared {
        lifecycle::Prepared::Remove { targets, .. } => {
            targets.iter().map(|name| lock_key(plan, name)).collect()
        }
        _ => plan
            .releases
            .iter()
            .map(|r| lock_key(plan, &r.release))
            .collect(),
    }
}

/// The intent holding a lock, for a person: "intent 1f40…".
fn who(holder: Option<String>) -> String {
    holder.map_or("another intent".to_string(), |h| format!("intent {h}"))
}
