//! The conversation: a message becomes an intent whose plan is shown, and
//! the next "yes" (or "no") decides. Conversations and their messages are
//! stored. Unknown or unclear applications get a question back with the
//! nearest catalogue entries.

use std::sync::Arc;

use serde::Serialize;

use super::{Actor, DeployOptions, Orchestrator, OrchestratorError};
use crate::store::{IntentRecord, IntentStatus};

/// deckhand's answer to one message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChatReply {
    pub conversation_id: String,
    /// What deckhand says, for a person.
    pub reply: String,
    /// `awaiting_confirmation`, `awaiting_approval` (a protected namespace:
    /// an admin must confirm the intent), `started`, `dropped`, `question`,
    /// `reported` (a status report), `failed` or `idle`.
    pub state: String,
    pub intent: Option<IntentRecord>,
    pub plan_text: Option<String>,
    pub suggestions: Vec<String>,
    /// A question back (state `question`): two readings, an unknown name,
    /// a relative count. The person answers with one of `choices` (or its
    /// number), in the same conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// Full commands that answer the question; chat front ends show them as buttons.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
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

/// Words that may follow a yes without changing it ("yes, go ahead", "ok,
/// do it", "sure thing", "confirm please").
const YES_FILLER: &[&str] = &[
    "go", "ahead", "do", "it", "please", "thing", "thanks", "thank", "you", "now", "sure", "yes",
    "ok", "okay", "confirm", "that", "is", "fine", "right", "away", "it's", "sounds", "good",
    "great", "let's", "lets",
];
/// Words that may follow a no without changing it ("no thanks", "no, stop").
const NO_FILLER: &[&str] = &[
    "no", "thanks", "thank", "you", "not", "now", "way", "cancel", "it", "that", "please", "stop",
    "don't", "do",
];

/// A message in lower case with punctuation as spaces and single spaces.
fn normalized(message: &str) -> String {
    message
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Some(true) for a yes, Some(false) for a no, None for anything else: a
/// listed answer, or one whose first word is a listed answer and whose other
/// words only soften it.
fn answer(message: &str) -> Option<bool> {
    let words = normalized(message);
    for (answers, meaning) in [(YES, true), (NO, false)] {
        if answers.contains(&words.as_str()) {
            return Some(meaning);
        }
    }
    let mut split = words.split(' ');
    let first = split.next().unwrap_or_default();
    let rest: Vec<&str> = split.collect();
    if YES.contains(&first) && rest.iter().all(|w| YES_FILLER.contains(w)) {
        return Some(true);
    }
    if NO.contains(&first) && rest.iter().all(|w| NO_FILLER.contains(w)) {
        return Some(false);
    }
    None
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
        // "2", or the text of a choice: the answer to the last question.
        let message = match self.chosen(&conversation_id, &message).await? {
            Some(choice) => choice,
            None => message,
        };

        let pending = match &conversation.pending_intent_id {
            Some(id) => Some(self.intent(id).await?)
                .filter(|i| i.status == IntentStatus::AwaitingConfirmation),
            None => None,
        };
        let said = answer(&message);
        let reply = if said == Some(true) {
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
        } else if said == Some(false) {
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
                        question: None,
                        choices: Vec::new(),
                    }
                }
                None => idle(
                    &conversation_id,
                    "Nothing is waiting, so there is nothing to drop.",
                ),
            }
        } else {
            let mut reply = self.new_request(actor, &conversation_id, &message).await?;
            if let Some(old) = pending {
                if reply.state == "awaiting_confirmation" || reply.state == "awaiting_approval" {
                    // A new plan replaces the one that was waiting.
                    self.cancel(&old.id, actor).await?;
                    reply.reply.push_str(&format!(
                        "\n(The plan that was waiting, intent {}, is dropped.)",
                        old.id
                    ));
                } else {
                    // Anything else leaves it waiting.
                    reply.reply.push_str(&format!(
                        "\nThe plan of intent {} is still waiting: answer yes or no.",
                        old.id
                    ));
                }
            }
            reply
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
            question: None,
            choices: Vec::new(),
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
                if self.needs_admin(intent.namespace.as_deref(), actor) =>
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
                    question: None,
                    choices: Vec::new(),
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
                    question: None,
                    choices: Vec::new(),
                }
            }
            // A status report is done at once.
            IntentStatus::Completed => ChatReply {
                conversation_id: conversation_id.to_string(),
                reply: intent.plan_text.clone().unwrap_or_default(),
                state: "reported".into(),
                plan_text: intent.plan_text.clone(),
                intent: Some(intent),
                suggestions: vec![],
                question: None,
                choices: Vec::new(),
            },
            _ => {
                let error = intent
                    .error
                    .clone()
                    .unwrap_or_else(|| "I could not plan that".into());
                let suggestions = intent.suggestions.clone();
                match self.question_for(&intent) {
                    // Two readings, an unknown name, a relative count: ask.
                    Some(question) => {
                        let mut reply = format!("{error}.\n{}", question.question);
                        for (n, choice) in question.choices.iter().enumerate() {
                            reply.push_str(&format!("\n  {}. {choice}", n + 1));
                        }
                        if !question.choices.is_empty() {
                            reply.push_str("\nAnswer with a number or the command.");
                        }
                        ChatReply {
                            conversation_id: conversation_id.to_string(),
                            reply,
                            state: "question".into(),
                            intent: Some(intent),
                            plan_text: None,
                            suggestions,
                            question: Some(question.question),
                            choices: question.choices,
                        }
                    }
                    None => ChatReply {
                        conversation_id: conversation_id.to_string(),
                        reply: if suggestions.is_empty() || error.contains("did you mean") {
                            error
                        } else {
                            format!("{error}. For example: {}", suggestions.join("; "))
                        },
                        state: "failed".into(),
                        intent: Some(intent),
                        plan_text: None,
                        suggestions,
                        question: None,
                        choices: Vec::new(),
                    },
                }
            }
        };
        Ok(reply)
    }

    /// The choice a message picks from the conversation's last question: its
    /// number ("2") or its text.
    async fn chosen(
        &self,
        conversation_id: &str,
        message: &str,
    ) -> Result<Option<String>, OrchestratorError> {
        let owned = conversation_id.to_string();
        let Some(last) = self
            .store
            .call(move |s| s.last_intent_of_conversation(&owned))
            .await?
        else {
            return Ok(None);
        };
        let Some(question) = self.question_for(&last) else {
            return Ok(None);
        };
        let said = message.trim().trim_end_matches(['.', '!']);
        let picked = said
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|n| question.choices.get(n))
            .or_else(|| {
                question
                    .choices
                    .iter()
                    .find(|c| c.eq_ignore_ascii_case(said))
            });
        Ok(picked.cloned())
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
        question: None,
        choices: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::answer;

    #[test]
    fn yes_and_no_are_heard_in_the_ways_people_say_them() {
        for yes in [
            "yes",
            "Yes, go ahead",
            "ok, do it",
            "sure thing",
            "confirm please",
            "Go ahead!",
            "y",
        ] {
            assert_eq!(answer(yes), Some(true), "{yes}");
        }
        for no in [
            "no",
            "No thanks.",
            "cancel",
            "nope",
            "no, stop",
            "never mind",
        ] {
            assert_eq!(answer(no), Some(false), "{no}");
        }
        for neither in [
            "hmm, what does it need?",
            "install grafana",
            "yes install grafana",
            "no idea what that is",
        ] {
            assert_eq!(answer(neither), None, "{neither}");
        }
    }
}
