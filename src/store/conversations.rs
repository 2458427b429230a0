//! Chat conversations: who is talking, their messages, and the intent that
//! waits for their confirmation.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Store, StoreError, now};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageRecord {
    pub at: String,
    /// `person` or `deckhand`.
    pub author: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationRecord {
    pub id: String,
    pub created_by: String,
    pub pending_intent_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Store {
    pub fn create_conversation(&self, created_by: &str) -> Result<ConversationRecord, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let at = now();
        self.connection().execute(
            "INSERT INTO conversations (id, created_by, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
            params![id, created_by, at],
        )?;
        Ok(ConversationRecord {
            id,
            created_by: created_by.to_string(),
            pending_intent_id: None,
            created_at: at.clone(),
            updated_at: at,
        })
    }

    pub fn conversation(&self, id: &str) -> Result<Option<ConversationRecord>, StoreError> {
        Ok(self
            .connection()
            .query_row("SELECT id, created_by, pending_intent_id, created_at, updated_at FROM conversations WHERE id = ?1", [id], |r| {
                Ok(ConversationRecord { id: r.get(0)?, created_by: r.get(1)?, pending_intent_id: r.get(2)?, created_at: r.get(3)?, updated_at: r.get(4)? })
            })
            .optional()?)
    }

    pub fn set_pending_intent(
        &self,
        conversation: &str,
        intent: Option<&str>,
    ) -> Result<(), StoreError> {
        self.connection().execute(
            "UPDATE conversations SET pending_intent_id = ?2, updated_at = ?3 WHERE id = ?1",
            params![conversation, intent, now()],
        )?;
        Ok(())
    }

    pub fn add_message(
        &self,
        conversation: &str,
        author: &str,
        text: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        let connection = self.connection();
        connection.execute(
            "INSERT INTO conversation_messages (conversation_id, at, author, text) VALUES (?1, ?2, ?3, ?4)",
            params![conversation, at, author, text],
        )?;
        connection.execute(
            "UPDATE conversations SET updated_at = ?2 WHERE id = ?1",
            params![conversation, at],
        )?;
        Ok(())
    }

    pub fn messages(&self, conversation: &str) -> Result<Vec<MessageRecord>, StoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare("SELECT at, author, text FROM conversation_messages WHERE conversation_id = ?1 ORDER BY id")?;
        let rows = statement.query_map([conversation], |r| {
            Ok(MessageRecord {
                at: r.get(0)?,
                author: r.get(1)?,
                text: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
