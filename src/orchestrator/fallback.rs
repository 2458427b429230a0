//! The orchestrator's side of the LLM fallback and of notes from front ends.
//!
//! [`Orchestrator::ask_llm`] runs only after the rules failed: with a
//! language model configured ([`Orchestrator::set_llm`]) it records that the
//! model is being asked, and its answer — already validated by
//! [`crate::intent::llm`] like the rules' output — becomes the intent; a
//! refusal keeps the rules' message and adds the model's reason and what to
//! rephrase. [`Orchestrator::note`] appends an event to an intent's log for a
//! front end (a chat approval: who and when).

use std::sync::Arc;
use std::time::Instant;

use super::{Orchestrator, OrchestratorError};
use crate::intent::llm::LlmParser;
use crate::intent::{Intent, ParseFailure};
use crate::store::{EventRecord, NewEvent, StoreError};

impl Orchestrator {
    /// Uses `llm` when the rules cannot understand a sentence (None: never).
    pub fn set_llm(&self, llm: Option<Arc<LlmParser>>) {
        *self.llm.lock().unwrap_or_else(|p| p.into_inner()) = llm;
    }

    /// The language model in use, if any.
    pub fn llm(&self) -> Option<Arc<LlmParser>> {
        self.llm.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// After the rules failed: the language model's validated intent, or the
    /// failure to record (the rules' reason, and the model's when it was asked).
    pub(super) async fn ask_llm(
        &self,
        id: &str,
        command: &str,
        failure: ParseFailure,
    ) -> Result<Result<Intent, ParseFailure>, StoreError> {
        let Some(llm) = self.llm() else {
            return Ok(Err(failure));
        };
        if !crate::intent::llm::may_ask(&failure, command) {
            return Ok(Err(failure));
        }
        let started = Instant::now();
        self.record(
            id,
            NewEvent::new(
                "parse",
                "asking_llm",
                format!(
                    "the rules could not understand it ({}); asking the language model {}",
                    failure.error,
                    llm.model()
                ),
            ),
        )
        .await?;
        match llm.parse(command, &self.catalogue).await {
            Ok(intent) => Ok(Ok(intent)),
            Err(err) => {
                self.record(
                    id,
                    NewEvent::new("parse", "llm_refused", err.to_string()).took(started.elapsed()),
                )
                .await?;
                Ok(Err(crate::intent::llm::refused_after_rules(failure, &err)))
            }
        }
    }

    /// Appends an event to an intent's log (and to the live stream).
    pub async fn note(
        &self,
        id: &str,
        step: &str,
        status: &str,
        message: &str,
    ) -> Result<EventRecord, OrchestratorError> {
        self.intent(id).await?;
        let owned = id.to_string();
        let event = NewEvent::new(step, status, message);
        let stored = self.store.call(move |s| s.add_event(&owned, event)).await?;
        let _ = self.events.send(stored.clone());
        Ok(stored)
    }
}
