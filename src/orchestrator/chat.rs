//! The conversation: a message becomes an intent whose plan is shown, and
//! the next "yes" (or "no") decides. Conversations and their messages are
//! stored. Unknown or unclear applications get a question back with the
//! nearest catalogue entries.

use std::sync::Arc;

use serde::Serialize;

use super::{Actor, DeployOptions, Orchestrator, OrchestratorError};
use crate::store::tokens::Role;
use crate::store::{IntentRecord, IntentStatus};

/// deckhand's answer to one message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChatReply {
    pub conversation_id: String,
    /// What deckhand says, for a person.
    pub reply: String,
    /// `awaiting_confirmation`, `awaiting_approval` (a protected namespace:
    /// an admin must confirm the intent), `started`, `dropped`, `question`,
    /// `failed` or `idle`.
    pub state: String,
    pub intent: Option<IntentRecord>,
    pub plan_text: Option<String>,
    pub suggestions: Vec<String>,
}

const YES: &[&str] = &[
    "yes",
    "y",
    "yep",
    "yeah",
    "ok",
    "okay",
    "confirm",
    "confirmed",
    "go",
    "go ahead",
    "do it",
    "sure",
    "proceed",
    "apply",
    "yes please",
];
const NO: &[&str] = &[
    "no",
    "n",
    "nope",
    "cancel",
    "stop",
    "abort",
    "drop it",
    "never mind",
    "nevermind",
    "don't",
];

fn normalized(message: &str) -> String {
    message.trim().trim_end_matches(['.', '!']).to_lowercase()
}

impl Orchestrator {
    /// Answers one message of a conversation (a new one without an id).
    pub async fn chat(
        self: &Arc<Self>,
        actor: &Actor,
        message: &str,
        conversation_id: Option<String>,
    ) -> Result<ChatReply, OrchestratorError> {
        let message = message.trim().to_string();
        if message.is_empty() {
            return Err(OrchestratorError::Invalid {
                message: "the message is empty".into(),
                suggestions: vec![],
            });
        }
        let conversation = match conversation_id {
            Some(id) => {
                let owned = id.clone();
                let found = self
                    .store
                    .call(move |s| s.conversation(&owned))
                    .await?
                    .ok_or_else(|| OrchestratorError::NotFound(format!("conversation {id}")))?;
                if found.created_by != actor.name && actor.role != crate::store::tokens::Role::Admin
                {
                    return Err(OrchestratorError::Forbidden(format!(
                        "conversation {id} belongs to {}",
                        found.created_by
                    )));
                }
                found
            }
            None => {
                let who = actor.name.clone();
                self.store
                    .call(move |s| s.create_conversation(&who))
                    .await?
            }
        };
        let conversation_id = conversation.id.clone();
        self.say(&conversation_id, "person", &message).await?;

        let pending = match &conversation.pending_intent_id {
            Some(id) => Some(self.intent(id).await?)
                .filter(|i| i.status == IntentStatus::AwaitingConfirmation),
            None => None,
        };
        let word = normalized(&message);
        let reply = if YES.contains(&word.as_str()) {
            match pending {
                Some(intent) => {
                    self.confirm_in_conversation(actor, &conversation_id, &intent.id)
                        .await?
                }
                None => idle(
                    &conversation_id,
                    "There is nothing waiting for a yes. Tell me what to deploy, e.g. \"install redis\".",
                ),
            }
        } else if NO.contains(&word.as_str()) {
            match pending {
                Some(intent) => {
                    let intent = self.cancel(&intent.id, actor).await?;
                    self.set_pending(&conversation_id, None).await?;
                    ChatReply {
                        conversation_id: conversation_id.clone(),
                        reply: "Dropped: nothing was changed.".into(),
                        state: "dropped".into(),
                        intent: Some(intent),
                        plan_text: None,
                        suggestions: vec![],
                    }
                }
                None => idle(
                    &conversation_id,
                    "Nothing is waiting, so there is nothing to drop.",
                ),
            }
        } else {
            if let Some(old) = pending {
                // A new request replaces the one that was waiting.
                self.cancel(&old.id, actor).await?;
            }
            self.new_request(actor, &conversation_id, &message).await?
        };
        self.say(&conversation_id, "deckhand", &reply.reply).await?;
        Ok(reply)
    }

    /// Confirms the conversation's pending intent (`POST /api/chat/{id}/confirm`).
    pub async fn chat_confirm(
        self: &Arc<Self>,
        actor: &Actor,
        conversation_id: &str,
    ) -> Result<ChatReply, OrchestratorError> {
        let owned = conversation_id.to_string();
        let conversation = self
            .store
            .call(move |s| s.conversation(&owned))
            .await?
            .ok_or_else(|| {
                OrchestratorError::NotFound(format!("conversation {conversation_id}"))
            })?;
        let Some(pending) = conversation.pending_intent_id else {
            return Err(OrchestratorError::Conflict(format!(
                "conversation {conversation_id} has nothing waiting for confirmation"
            )));
        };
        self.say(conversation_id, "person", "(confirmed)").await?;
        let reply = self
            .confirm_in_conversation(actor, conversation_id, &pending)
            .await?;
        self.say(conversation_id, "deckhand", &reply.reply).await?;
        Ok(reply)
    }

    async fn confirm_in_conversation(
        self: &Arc<Self>,
        actor: &Actor,
        conversation_id: &str,
        intent_id: &str,
    ) -> Result<ChatReply, OrchestratorError> {
        let intent = self.confirm(intent_id, actor).await?;
        self.set_pending(conversation_id, None).await?;
        Ok(ChatReply {
            conversation_id: conversation_id.to_string(),
            reply: format!(
                "Going ahead. Follow it at /api/orchestration/intents/{intent_id}/events (intent {intent_id})."
            ),
            state: "started".into(),
            intent: Some(intent),
            plan_text: None,
            suggestions: vec![],
        })
    }

    async fn new_request(
        self: &Arc<Self>,
        actor: &Actor,
        conversation_id: &str,
        message: &str,
    ) -> Result<ChatReply, OrchestratorError> {
        let intent = self
            .submit(
                actor,
                message,
                DeployOptions::default(),
                Some(conversation_id.to_string()),
                true,
            )
            .await?;
        let reply = match intent.status {
            IntentStatus::AwaitingConfirmation
                if actor.role != Role::Admin && self.is_protected(intent.namespace.as_deref()) =>
            {
                let summary = intent.plan_text.clone().unwrap_or_default();
                ChatReply {
                    conversation_id: conversation_id.to_string(),
                    reply: format!(
                        "Here is the plan.\n\n{summary}\nNamespace {} is protected: it waits for an admin's approval (intent {}).",
                        intent.namespace.clone().unwrap_or_default(),
                        intent.id
                    ),
                    state: "awaiting_approval".into(),
                    plan_text: intent.plan_text.clone(),
                    intent: Some(intent),
                    suggestions: vec![],
                }
            }
            IntentStatus::AwaitingConfirmation => {
                self.set_pending(conversation_id, Some(intent.id.clone()))
                    .await?;
                let summary = intent.plan_text.clone().unwrap_or_default();
                ChatReply {
                    conversation_id: conversation_id.to_string(),
                    reply: format!(
                        "Here is the plan.\n\n{summary}\nShall I go ahead? Answer yes or no."
                    ),
                    state: "awaiting_confirmation".into(),
                    plan_text: intent.plan_text.clone(),
                    intent: Some(intent),
                    suggestions: vec![],
                }
            }
            _ => {
                let error = intent
                    .error
                    .clone()
                    .unwrap_or_else(|| "I could not plan that".into());
                let suggestions = intent.suggestions.clone();
                let question = error.contains("unknown application")
                    || error.contains("which application")
                    || error.contains("not in the catalogue");
                let reply = if question && !suggestions.is_empty() {
                    format!("{error}. Did you mean {}?", suggestions.join(", "))
                } else if !suggestions.is_empty() {
                    format!("{error}. For example: {}", suggestions.join("; "))
                } else {
                    error
                };
                ChatReply {
                    conversation_id: conversation_id.to_string(),
                    reply,
                    state: if question { "question" } else { "failed" }.into(),
                    intent: Some(intent),
                    plan_text: None,
                    suggestions,
                }
            }
        };
        Ok(reply)
    }

    async fn say(
        &self,
        conversation_id: &str,
        author: &'static str,
        text: &str,
    ) -> Result<(), OrchestratorError> {
        let (id, text) = (conversation_id.to_string(), text.to_string());
        Ok(self
            .store
            .call(move |s| s.add_message(&id, author, &text))
            .await?)
    }

    async fn set_pending(
        &self,
        conversation_id: &str,
        intent: Option<String>,
    ) -> Result<(), OrchestratorError> {
        let id = conversation_id.to_string();
        Ok(self
            .store
            .call(move |s| s.set_pending_intent(&id, intent.as_deref()))
            .await?)
    }
}

fn idle(conversation_id: &str, text: &str) -> ChatReply {
    ChatReply {
        conversation_id: conversation_id.to_string(),
        reply: text.into(),
        state: "idle".into(),
        intent: None,
        plan_text: None,
        suggestions: vec![],
    }
}
