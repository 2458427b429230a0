//! What a person does to an intent once it exists: confirm it (an admin's
//! approval in a protected namespace), cancel it (mid-wait too: the work
//! stops itself and says what was applied), retry it from the start.

use std::sync::Arc;

use super::{
    Actor, CANCELLABLE, DeployOptions, Orchestrator, OrchestratorError, approval,
    conflict_from_store,
};
use crate::store::tokens::Role;
use crate::store::{IntentRecord, IntentStatus, NewEvent};

impl Orchestrator {
    /// Starts an intent that waits for confirmation.
    pub async fn confirm(
        self: &Arc<Self>,
        id: &str,
        actor: &Actor,
    ) -> Result<IntentRecord, OrchestratorError> {
        let record = self.intent(id).await?;
        if !actor.owns(&record) {
            return Err(OrchestratorError::Forbidden(format!(
                "intent {id} belongs to {}",
                record.requested_by
            )));
        }
        if record.status != IntentStatus::AwaitingConfirmation {
            return Err(OrchestratorError::Conflict(format!(
                "intent {id} is {}, not awaiting confirmation",
                record.status
            )));
        }
        if self.is_protected(record.namespace.as_deref()) {
            if self.needs_admin(record.namespace.as_deref(), actor) {
                return Err(OrchestratorError::Forbidden(format!(
                    "namespace {} is protected: only an admin can approve intent {id}, and {} is a {}",
                    record.namespace.unwrap_or_default(),
                    actor.name,
                    actor.role.as_str()
                )));
            }
            self.record(id, approval(actor, "by confirming it")).await?;
        }
        self.transition(
            id,
            Some(&[IntentStatus::AwaitingConfirmation]),
            IntentStatus::Deploying,
            NewEvent::new(
                "confirm",
                "deploying",
                format!("confirmed by {}", actor.name),
            ),
        )
        .await
        .map_err(conflict_from_store)?;
        let this = self.clone();
        let background = id.to_string();
        tokio::spawn(async move {
            if let Err(err) = this.deploy(&background).await {
                this.settle_after_storage_error(&background, &err.to_string())
                    .await;
            }
        });
        self.intent(id).await
    }

    /// Cancels an intent that has not finished.
    pub async fn cancel(&self, id: &str, actor: &Actor) -> Result<IntentRecord, OrchestratorError> {
        let record = self.intent(id).await?;
        if actor.role < Role::Deployer || !actor.owns(&record) {
            return Err(OrchestratorError::Forbidden(format!(
                "{} may not cancel intent {id}, which belongs to {}",
                actor.name, record.requested_by
            )));
        }
        if record.status.is_terminal() {
            return Err(OrchestratorError::Conflict(format!(
                "intent {id} is already {}",
                record.status
            )));
        }
        let token = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned();
        match token {
            // Deploying: the work stops itself and records what was applied.
            Some(token) => {
                self.record(
                    id,
                    NewEvent::new(
                        "cancel",
                        "cancelling",
                        format!("cancel requested by {}", actor.name),
                    ),
                )
                .await?;
                token.cancel();
                for _ in 0..200 {
                    if self.intent(id).await?.status.is_terminal() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
            }
            None => {
                self.transition(
                    id,
                    Some(CANCELLABLE),
                    IntentStatus::Cancelled,
                    NewEvent::new(
                        "finish",
                        "cancelled",
                        format!("cancelled by {} before anything was applied", actor.name),
                    ),
                )
                .await
                .map_err(conflict_from_store)?;
            }
        }
        self.intent(id).await
    }

    /// Runs a failed or interrupted intent again, from the start.
    pub async fn retry(
        self: &Arc<Self>,
        id: &str,
        actor: &Actor,
    ) -> Result<IntentRecord, OrchestratorError> {
        let record = self.intent(id).await?;
        if actor.role < Role::Deployer || !actor.owns(&record) {
            return Err(OrchestratorError::Forbidden(format!(
                "{} may not retry intent {id}, which belongs to {}",
                actor.name, record.requested_by
            )));
        }
        if !matches!(
            record.status,
            IntentStatus::Failed | IntentStatus::Interrupted
        ) {
            return Err(OrchestratorError::Conflict(format!(
                "only failed or interrupted intents can be retried; intent {id} is {}",
                record.status
            )));
        }
        let options: DeployOptions =
            serde_json::from_value(record.options.clone()).unwrap_or_default();
        let overrides = options.overrides()?;
        self.transition(
            id,
            Some(&[IntentStatus::Failed, IntentStatus::Interrupted]),
            IntentStatus::Pending,
            NewEvent::new(
                "retry",
                "pending",
                format!("retry requested by {}", actor.name),
            ),
        )
        .await
        .map_err(conflict_from_store)?;
        let parsed = match self.parse_step(id, &overrides).await {
            Ok(parsed) => parsed,
            Err(err) => {
                self.settle_in_background(id, &err);
                return Err(err.into());
            }
        };
        if parsed.is_some() {
            let this = self.clone();
            let background = id.to_string();
            let asking = actor.clone();
            tokio::spawn(
                async move { this.plan_and_deploy(&background, overrides, &asking).await },
            );
        }
        self.intent(id).await
    }
}
