//! Nothing stranded: start-up recovery of the intents a stopped process
//! left mid-flight, and the settling of an intent whose work a storage error
//! stopped (a locked or full database), which ends it `failed` and
//! retryable as soon as the database takes writes again.

use std::sync::Arc;
use std::time::Duration;

use super::{CANCELLABLE, Orchestrator};
use crate::store::{IntentStatus, NewEvent, StoreError};

impl Orchestrator {
    /// Marks `interrupted` every intent a previous process left mid-flight
    /// that no person waits on (see [`crate::store::Store::mark_interrupted`]).
    pub async fn recover(&self) -> Result<Vec<String>, StoreError> {
        let ids = self.store.call(|s| s.mark_interrupted()).await?;
        for id in &ids {
            let owned = id.clone();
            let actor = self
                .store
                .call(move |s| s.intent(&owned))
                .await
                .ok()
                .flatten()
                .map_or_else(|| "-".to_string(), |i| i.requested_by);
            tracing::warn!(
                target: "deckhand::intent",
                intent = id.as_str(),
                actor = actor.as_str(),
                status = "interrupted",
                step = "restart",
                "deckhand stopped while this intent was in flight; retry it to finish the work"
            );
        }
        Ok(ids)
    }

    /// [`Orchestrator::settle_after_storage_error`] in a task of its own.
    pub(super) fn settle_in_background(self: &Arc<Self>, id: &str, err: &StoreError) {
        let this = self.clone();
        let (id, reason) = (id.to_string(), err.to_string());
        tokio::spawn(async move { this.settle_after_storage_error(&id, &reason).await });
    }

    /// After a storage error stopped an intent's work: ends it `failed`
    /// (retryable, with the reason) as soon as the database takes writes
    /// again, trying for about a minute; an intent this cannot reach is
    /// found by the next start's recovery. An intent that is terminal by
    /// then is left as it is.
    pub(super) async fn settle_after_storage_error(&self, id: &str, reason: &str) {
        tracing::error!(
            intent = id,
            error = reason,
            "intent stopped on a storage error"
        );
        let message = format!(
            "stopped on a storage error ({reason}); what it had started may be in part applied: retry it"
        );
        let mut wait = Duration::from_millis(100);
        for _ in 0..20 {
            let owned = id.to_string();
            let text = message.clone();
            let settled = self
                .store
                .call(move |s| {
                    s.set_error(&owned, &text, &[])?;
                    s.transition(
                        &owned,
                        Some(CANCELLABLE),
                        IntentStatus::Failed,
                        NewEvent::new("finish", "failed", text.clone()),
                    )
                })
                .await;
            match settled {
                Ok(event) => {
                    tracing::info!(
                        target: "deckhand::intent",
                        intent = id,
                        status = "failed",
                        step = "finish",
                        "{}",
                        event.message
                    );
                    let _ = self.events.send(event);
                    self.metrics.intent_finished("unknown", "failed");
                    return;
                }
                Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => return,
                Err(_) => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
        tracing::error!(
            intent = id,
            "the database stayed unavailable; the next start marks this intent interrupted"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::intent::Platform;
    use crate::orchestrator::{Actor, DeployOptions, EngineSettings};
    use crate::render::RenderOptions;
    use crate::store::tokens::Role;
    use crate::store::{Store, StoreHandle};

    fn orchestrator(dir: &std::path::Path) -> Arc<Orchestrator> {
        let store = Store::open(&dir.join("deckhand.db")).unwrap();
        store.set_busy_timeout(Duration::from_millis(50)).unwrap();
        Orchestrator::new(
            StoreHandle::new(store),
            Arc::new(Catalogue::builtin().unwrap()),
            EngineSettings::new(
                RenderOptions::default(),
                Platform::Kubernetes,
                dir.join("data"),
            ),
        )
    }

    /// A real lock: another connection holds the database's write lock
    /// (as a second deckhand process or a backup tool would) while the
    /// intent deploys. The deploy stops on "database is locked"; the intent
    /// ends `failed` with the reason once the lock is gone, and is not left
    /// `deploying`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_locked_database_fails_the_intent_once_it_takes_writes_again() {
        let dir = tempfile::tempdir().unwrap();
        let orchestrator = orchestrator(dir.path());
        let actor = Actor::new("token:alice", Role::Admin);
        let intent = orchestrator
            .submit(
                &actor,
                "install redis",
                DeployOptions::default(),
                None,
                true,
            )
            .await
            .unwrap();
        assert_eq!(intent.status, IntentStatus::AwaitingConfirmation);
        let id = intent.id.clone();
        orchestrator
            .store()
            .blocking()
            .transition(
                &id,
                None,
                IntentStatus::Deploying,
                NewEvent::new("confirm", "deploying", "confirmed"),
            )
            .unwrap();

        let locker = rusqlite::Connection::open(dir.path().join("deckhand.db")).unwrap();
        locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let err = orchestrator.deploy(&id).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            locker.execute_batch("COMMIT").unwrap();
        });
        orchestrator
            .settle_after_storage_error(&id, &err.to_string())
            .await;
        release.join().unwrap();
        let settled = orchestrator.intent(&id).await.unwrap();
        assert_eq!(settled.status, IntentStatus::Failed);
        assert!(
            settled
                .error
                .as_deref()
                .unwrap()
                .contains("database is locked"),
            "{settled:?}"
        );

        // A terminal intent is left as it is.
        orchestrator.settle_after_storage_error(&id, "again").await;
        let events = orchestrator.store().blocking().events(&id, None).unwrap();
        assert_eq!(
            events.iter().filter(|e| e.status == "failed").count(),
            1,
            "{events:?}"
        );
    }
}
