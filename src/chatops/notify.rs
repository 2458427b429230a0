//! Outgoing notifications: when an intent completes or fails, each URL in
//! `notify_webhooks` (`DECKHAND_NOTIFY_WEBHOOKS`) receives a Slack
//! incoming-webhook message, `{"text": …}` (Mattermost's incoming webhooks
//! read the same shape). Status reports, which change nothing, are not
//! announced. The task follows the orchestrator's live events from the
//! moment the server starts.

use std::sync::Arc;

use serde_json::{Value as Json, json};
use tokio::sync::broadcast::error::RecvError;

use crate::orchestrator::Orchestrator;
use crate::store::{EventRecord, IntentRecord};

/// Starts the notifier (nothing when there are no webhooks).
pub fn spawn(
    orchestrator: Arc<Orchestrator>,
    http: reqwest::Client,
    webhooks: Vec<String>,
) -> Option<tokio::task::JoinHandle<()>> {
    if webhooks.is_empty() {
        return None;
    }
    let mut events = orchestrator.subscribe();
    Some(tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!("notifications missed {missed} events (too many at once)");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            if !is_outcome(&event) {
                continue;
            }
            let Ok(intent) = orchestrator.intent(&event.intent_id).await else {
                continue;
            };
            if intent.action.as_deref() == Some("status") {
                continue;
            }
            let body = message(&intent, &event);
            for url in &webhooks {
                super::post(&http, url, &body).await;
            }
        }
    }))
}

/// The event that ends an intent as completed or failed.
fn is_outcome(event: &EventRecord) -> bool {
    event.step == "finish" && matches!(event.status.as_str(), "completed" | "failed")
}

/// The incoming-webhook message for a finished intent.
pub fn message(intent: &IntentRecord, event: &EventRecord) -> Json {
    let (icon, what) = if event.status == "completed" {
        (":white_check_mark:", "completed")
    } else {
        (":x:", "failed")
    };
    json!({
        "text": format!(
            "{icon} deckhand intent `{}` {what}: \"{}\" (requested by {}). {}",
            intent.id, intent.command, intent.requested_by, event.message
        )
    })
}
