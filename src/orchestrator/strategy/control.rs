//! Steering a rollout while it runs: the live rollouts by intent
//! ([`Rollouts`]), and the words that reach them: `POST
//! /api/orchestration/intents/{id}/promote|pause|abort`
//! ([`Orchestrator::steer`]) or a sentence ("promote grafana", "abort the
//! grafana upgrade"; "roll back grafana" while its rollout runs is an abort,
//! which after a blue-green switch is the switch back), read by
//! [`Orchestrator::steer_by_words`].
//!
//! A word for a rollout that is not waiting for one is refused with the
//! reason, never dropped.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::mpsc;

use super::super::{Actor, Orchestrator, OrchestratorError};
use crate::intent::{Action, Intent};
use crate::store::tokens::Role;
use crate::store::{IntentRecord, IntentStatus, NewEvent, StoreError};

/// What a person tells a running rollout, and who.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Go on: to the next stage now (canary), retire blue now (blue-green).
    Promote(String),
    /// Stop after the current stage's validation and wait for a promote.
    Pause(String),
    /// Go back: remove the canary or green (after a switch: switch back).
    Abort(String),
}

/// Which word a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignalKind {
    Promote,
    Pause,
    Abort,
}

impl SignalKind {
    fn signal(self, by: String) -> Signal {
        match self {
            SignalKind::Promote => Signal::Promote(by),
            SignalKind::Pause => Signal::Pause(by),
            SignalKind::Abort => Signal::Abort(by),
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            SignalKind::Promote => "promote",
            SignalKind::Pause => "pause",
            SignalKind::Abort => "abort",
        }
    }
}

struct Live {
    namespace: String,
    release: String,
    strategy: &'static str,
    sender: mpsc::UnboundedSender<Signal>,
}

/// The rollouts running in this process, by intent id.
#[derive(Default)]
pub struct Rollouts {
    live: Mutex<HashMap<String, Live>>,
}

/// Keeps a rollout registered while it lives.
pub(super) struct Registered<'a> {
    rollouts: &'a Rollouts,
    id: String,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.rollouts
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl Rollouts {
    pub(super) fn register(
        &self,
        id: &str,
        namespace: &str,
        release: &str,
        strategy: &'static str,
    ) -> (mpsc::UnboundedReceiver<Signal>, Registered<'_>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.live.lock().unwrap_or_else(|p| p.into_inner()).insert(
            id.to_string(),
            Live {
                namespace: namespace.to_string(),
                release: release.to_string(),
                strategy,
                sender,
            },
        );
        (
            receiver,
            Registered {
                rollouts: self,
                id: id.to_string(),
            },
        )
    }

    /// Sends `signal` to the rollout of intent `id`: its strategy and release.
    fn send(&self, id: &str, signal: Signal) -> Option<(&'static str, String)> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let found = live.get(id)?;
        found.sender.send(signal).ok()?;
        Some((found.strategy, found.release.clone()))
    }

    /// The intent whose rollout changes `release` in `namespace`.
    fn of_release(&self, namespace: &str, release: &str) -> Option<String> {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(_, l)| l.namespace == namespace && l.release == release)
            .map(|(id, _)| id.clone())
    }
}

impl Orchestrator {
    /// Promotes, pauses or aborts the rollout of intent `id` (its owner, or
    /// an admin). What the rollout does with it is an event of that intent.
    pub async fn steer(
        &self,
        id: &str,
        actor: &Actor,
        kind: SignalKind,
    ) -> Result<IntentRecord, OrchestratorError> {
        let record = self.intent(id).await?;
        if actor.role < Role::Deployer || !actor.owns(&record) {
            return Err(OrchestratorError::Forbidden(format!(
                "{} may not {} intent {id}, which belongs to {}",
                actor.name,
                kind.as_str(),
                record.requested_by
            )));
        }
        match self.rollouts.send(id, kind.signal(actor.name.clone())) {
            Some((strategy, release)) => {
                self.record(
                    id,
                    NewEvent::new(
                        "strategy",
                        format!("{}_asked", kind.as_str()),
                        format!(
                            "{} of the {strategy} of {release} asked by {}",
                            kind.as_str(),
                            actor.name
                        ),
                    ),
                )
                .await?;
                self.intent(id).await
            }
            None => Err(OrchestratorError::Conflict(format!(
                "intent {id} is {} and has no canary or blue-green stage running that could take a {}",
                record.status,
                kind.as_str()
            ))),
        }
    }

    /// Whether `intent` (just parsed) is a word for a running rollout:
    /// promote or abort, a rollback of a release whose rollout runs, or a
    /// removal of one (refused: "retire the old grafana" reads as a
    /// removal, and would otherwise wait for the rollout, then remove).
    pub(in crate::orchestrator) fn steers(&self, intent: &Intent) -> bool {
        match intent.action {
            Action::Promote | Action::Abort | Action::Pause => true,
            Action::Rollback | Action::Remove => {
                let namespace = self.namespace_of(intent);
                intent
                    .applications
                    .iter()
                    .any(|app| self.rollouts.of_release(&namespace, app).is_some())
            }
            _ => false,
        }
    }

    fn namespace_of(&self, intent: &Intent) -> String {
        intent
            .namespace
            .as_ref()
            .map_or(self.settings.render.namespace.clone(), |n| n.to_string())
    }

    /// Carries out a sentence that steers a rollout (see
    /// [`Orchestrator::steers`]) and ends its own intent: completed with
    /// what was sent to which intent, or failed when nothing runs.
    pub(in crate::orchestrator) async fn steer_by_words(
        &self,
        id: &str,
        actor: &Actor,
        intent: &Intent,
    ) -> Result<(), StoreError> {
        let namespace = self.namespace_of(intent);
        if intent.action == Action::Remove {
            let running: Vec<String> = intent
                .applications
                .iter()
                .filter_map(|app| {
                    let id = self.rollouts.of_release(&namespace, app)?;
                    Some(format!("{app} (intent {id})"))
                })
                .collect();
            let message = format!(
                "{} has an upgrade with a strategy running in namespace {namespace}: promote it (after a blue-green switch, that retires the old version) or abort it first, then remove",
                running.join(", ")
            );
            return self.fail(id, message, vec![]).await;
        }
        let kind = match intent.action {
            Action::Promote => SignalKind::Promote,
            Action::Pause => SignalKind::Pause,
            _ => SignalKind::Abort,
        };
        let mut sent = Vec::new();
        let mut missing = Vec::new();
        let mut steered = None;
        for app in &intent.applications {
            let Some(target) = self.rollouts.of_release(&namespace, app) else {
                missing.push(app.clone());
                continue;
            };
            match self.steer(&target, actor, kind).await {
                Ok(record) => {
                    sent.push(format!(
                        "{} sent to intent {target} (the upgrade of {app}); its events say what it does",
                        kind.as_str()
                    ));
                    steered = Some(record);
                }
                Err(err) => missing.push(format!("{app} ({err})")),
            }
        }
        if !missing.is_empty() {
            let message = format!(
                "there is no canary or blue-green upgrade of {} running in namespace {namespace} that could take a {}",
                missing.join(", "),
                kind.as_str()
            );
            return self.fail(id, message, vec![]).await;
        }
        // What was done is this intent's text, as a plan is (chat and the
        // CLI show it).
        let text = sent.join("; ");
        if let Some(target) = steered {
            let (owned, shown) = (id.to_string(), text.clone());
            self.store
                .call(move |s| {
                    s.set_plan(
                        &owned,
                        &serde_json::Value::Null,
                        &shown,
                        target.platform.as_deref().unwrap_or_default(),
                        &namespace,
                        target.executor.as_deref().unwrap_or_default(),
                    )
                })
                .await?;
        }
        self.transition(
            id,
            None,
            IntentStatus::Completed,
            NewEvent::new("finish", "completed", text),
        )
        .await
    }
}
