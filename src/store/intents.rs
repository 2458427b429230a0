//! Intents and their event log.
//!
//! Every status change is written together with its event in one
//! transaction, so the log and the status never disagree; events are
//! append-only (the schema refuses updates and deletes).

use std::fmt;
use std::str::FromStr;

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{Store, StoreError, now};

/// Where an intent is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    Pending,
    Parsing,
    Planning,
    AwaitingConfirmation,
    Deploying,
    Completed,
    Failed,
    Cancelled,
    Interrupted,
}

impl IntentStatus {
    pub const ALL: [IntentStatus; 9] = [
        Self::Pending,
        Self::Parsing,
        Self::Planning,
        Self::AwaitingConfirmation,
        Self::Deploying,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Parsing => "parsing",
            Self::Planning => "planning",
            Self::AwaitingConfirmation => "awaiting_confirmation",
            Self::Deploying => "deploying",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    /// Finished for good (retry aside).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Cancelled | Self::Interrupted
        )
    }

    /// Work was going on (a restart finds these interrupted).
    pub fn is_in_flight(self) -> bool {
        matches!(
            self,
            Self::Pending | Self::Parsing | Self::Planning | Self::Deploying
        )
    }
}

impl fmt::Display for IntentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IntentStatus {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown status '{text}' (one of: {})",
                    Self::ALL.map(|s| s.as_str()).join(", ")
                )
            })
    }
}

/// A new intent, before anything happened.
#[derive(Debug, Clone)]
pub struct NewIntent {
    pub command: String,
    pub requested_by: String,
    pub options: Json,
    pub conversation_id: Option<String>,
}

/// One stored intent.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IntentRecord {
    pub id: String,
    pub command: String,
    pub status: IntentStatus,
    pub requested_by: String,
    #[schema(value_type = Object)]
    pub options: Json,
    /// The parsed intent (the contract's JSON), once parsed.
    #[schema(value_type = Option<Object>)]
    pub intent: Option<Json>,
    /// The plan, once planned.
    #[schema(value_type = Option<Object>)]
    pub plan: Option<Json>,
    pub plan_text: Option<String>,
    pub action: Option<String>,
    pub applications: Vec<String>,
    pub platform: Option<String>,
    pub namespace: Option<String>,
    pub executor: Option<String>,
    pub error: Option<String>,
    pub suggestions: Vec<String>,
    /// What was created (release, kind, name), as the executor reported it.
    #[schema(value_type = Vec<Object>)]
    pub resources: Vec<Json>,
    pub conversation_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
}

/// One entry of an intent's log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EventRecord {
    pub id: i64,
    pub intent_id: String,
    pub at: String,
    pub step: String,
    pub status: String,
    pub message: String,
    pub duration_ms: Option<i64>,
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub step: String,
    pub status: String,
    pub message: String,
    pub duration_ms: Option<i64>,
}

impl NewEvent {
    pub fn new(
        step: impl Into<String>,
        status: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            step: step.into(),
            status: status.into(),
            message: message.into(),
            duration_ms: None,
        }
    }
    pub fn took(mut self, duration: std::time::Duration) -> Self {
        self.duration_ms = Some(duration.as_millis().min(i64::MAX as u128) as i64);
        self
    }
}

/// Filters and paging for listing intents.
#[derive(Debug, Clone, Default)]
pub struct IntentFilter {
    pub status: Option<IntentStatus>,
    pub application: Option<String>,
    pub requested_by: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

const COLUMNS: &str = "id, command, status, requested_by, options_json, intent_json, plan_json, plan_text, action, applications, platform, namespace, executor, error, suggestions, resources_json, conversation_id, created_at, updated_at, finished_at";

fn json_column(row: &Row, index: usize) -> rusqlite::Result<Option<Json>> {
    let text: Option<String> = row.get(index)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

fn list_column(row: &Row, index: usize) -> rusqlite::Result<Vec<String>> {
    let text: String = row.get(index)?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

fn intent_from_row(row: &Row) -> rusqlite::Result<IntentRecord> {
    let status: String = row.get(2)?;
    Ok(IntentRecord {
        id: row.get(0)?,
        command: row.get(1)?,
        status: status.parse().unwrap_or(IntentStatus::Failed),
        requested_by: row.get(3)?,
        options: json_column(row, 4)?.unwrap_or(Json::Null),
        intent: json_column(row, 5)?,
        plan: json_column(row, 6)?,
        plan_text: row.get(7)?,
        action: row.get(8)?,
        applications: list_column(row, 9)?,
        platform: row.get(10)?,
        namespace: row.get(11)?,
        executor: row.get(12)?,
        error: row.get(13)?,
        suggestions: list_column(row, 14)?,
        resources: json_column(row, 15)?
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default(),
        conversation_id: row.get(16)?,
        created_at: row.get(17)?,
        updated_at: row.get(18)?,
        finished_at: row.get(19)?,
    })
}

fn event_from_row(row: &Row) -> rusqlite::Result<EventRecord> {
    Ok(EventRecord {
        id: row.get(0)?,
        intent_id: row.get(1)?,
        at: row.get(2)?,
        step: row.get(3)?,
        status: row.get(4)?,
        message: row.get(5)?,
        duration_ms: row.get(6)?,
    })
}

fn insert_event(
    connection: &rusqlite::Connection,
    intent_id: &str,
    event: &NewEvent,
) -> Result<EventRecord, StoreError> {
    let at = now();
    connection.execute(
        "INSERT INTO intent_events (intent_id, at, step, status, message, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![intent_id, at, event.step, event.status, event.message, event.duration_ms],
    )?;
    Ok(EventRecord {
        id: connection.last_insert_rowid(),
        intent_id: intent_id.to_string(),
        at,
        step: event.step.clone(),
        status: event.status.clone(),
        message: event.message.clone(),
        duration_ms: event.duration_ms,
    })
}

impl Store {
    /// The newest intent of a chat conversation: the one its last answer
    /// (a plan, or a question back) was about.
    pub fn last_intent_of_conversation(
        &self,
        conversation: &str,
    ) -> Result<Option<IntentRecord>, StoreError> {
        Ok(self
            .connection()
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM intents WHERE conversation_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1"
                ),
                [conversation],
                intent_from_row,
            )
            .optional()?)
    }

    /// Stores a new intent as `pending`, with its first event.
    pub fn create_intent(&self, new: NewIntent) -> Result<(IntentRecord, EventRecord), StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let mut connection = self.connection();
        let tx = connection.transaction()?;
        let at = now();
        tx.execute(
            "INSERT INTO intents (id, command, status, requested_by, options_json, conversation_id, created_at, updated_at) VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?6)",
            params![id, new.command, new.requested_by, new.options.to_string(), new.conversation_id, at],
        )?;
        let event = insert_event(
            &tx,
            &id,
            &NewEvent::new(
                "received",
                "pending",
                format!("received from {}: {}", new.requested_by, new.command),
            ),
        )?;
        let record = tx.query_row(
            &format!("SELECT {COLUMNS} FROM intents WHERE id = ?1"),
            [&id],
            intent_from_row,
        )?;
        tx.commit()?;
        Ok((record, event))
    }

    pub fn intent(&self, id: &str) -> Result<Option<IntentRecord>, StoreError> {
        let connection = self.connection();
        Ok(connection
            .query_row(
                &format!("SELECT {COLUMNS} FROM intents WHERE id = ?1"),
                [id],
                intent_from_row,
            )
            .optional()?)
    }

    /// Moves an intent to `status` and logs why, in one transaction. With
    /// `from`, the move happens only from one of those statuses (a
    /// compare-and-set; `Conflict` otherwise).
    pub fn transition(
        &self,
        id: &str,
        from: Option<&[IntentStatus]>,
        status: IntentStatus,
        event: NewEvent,
    ) -> Result<EventRecord, StoreError> {
        let mut connection = self.connection();
        let tx = connection.transaction()?;
        let current: Option<String> = tx
            .query_row("SELECT status FROM intents WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(current) = current else {
            return Err(StoreError::NotFound(format!("intent {id}")));
        };
        if let Some(allowed) = from
            && !allowed.iter().any(|s| s.as_str() == current)
        {
            return Err(StoreError::Conflict(format!("intent {id} is {current}")));
        }
        let at = now();
        let finished = status.is_terminal().then(|| at.clone());
        tx.execute(
            "UPDATE intents SET status = ?2, updated_at = ?3, finished_at = ?4 WHERE id = ?1",
            params![id, status.as_str(), at, finished],
        )?;
        let record = insert_event(&tx, id, &event)?;
        tx.commit()?;
        Ok(record)
    }

    /// Appends an event without changing the status.
    pub fn add_event(&self, id: &str, event: NewEvent) -> Result<EventRecord, StoreError> {
        let connection = self.connection();
        connection.execute(
            "UPDATE intents SET updated_at = ?2 WHERE id = ?1",
            params![id, now()],
        )?;
        insert_event(&connection, id, &event)
    }

    /// Records the parsed intent.
    pub fn set_parsed(&self, id: &str, intent: &crate::intent::Intent) -> Result<(), StoreError> {
        let connection = self.connection();
        connection.execute(
            "UPDATE intents SET intent_json = ?2, action = ?3, applications = ?4, platform = ?5, namespace = ?6, error = NULL, suggestions = '[]', updated_at = ?7 WHERE id = ?1",
            params![
                id,
                serde_json::to_string(intent)?,
                intent.action.as_str(),
                serde_json::to_string(&intent.applications)?,
                intent.platform.map(|p| p.as_str()),
                intent.namespace.as_ref().map(|n| n.to_string()),
                now()
            ],
        )?;
        Ok(())
    }

    /// Records the plan (JSON and text), the platform and executor chosen.
    pub fn set_plan(
        &self,
        id: &str,
        plan: &Json,
        text: &str,
        platform: &str,
        namespace: &str,
        executor: &str,
    ) -> Result<(), StoreError> {
        let connection = self.connection();
        connection.execute(
            "UPDATE intents SET plan_json = ?2, plan_text = ?3, platform = ?4, namespace = ?5, executor = ?6, updated_at = ?7 WHERE id = ?1",
            params![id, plan.to_string(), text, platform, namespace, executor, now()],
        )?;
        Ok(())
    }

    /// Records what went wrong (shown with the intent).
    pub fn set_error(
        &self,
        id: &str,
        error: &str,
        suggestions: &[String],
    ) -> Result<(), StoreError> {
        let connection = self.connection();
        connection.execute(
            "UPDATE intents SET error = ?2, suggestions = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, error, serde_json::to_string(suggestions)?, now()],
        )?;
        Ok(())
    }

    /// Records the resources an executor created.
    pub fn set_resources(&self, id: &str, resources: &[Json]) -> Result<(), StoreError> {
        let connection = self.connection();
        connection.execute(
            "UPDATE intents SET resources_json = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, serde_json::to_string(resources)?, now()],
        )?;
        Ok(())
    }

    /// The intent's events after `after_id` (all with `None`), oldest first.
    pub fn events(&self, id: &str, after_id: Option<i64>) -> Result<Vec<EventRecord>, StoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "SELECT id, intent_id, at, step, status, message, duration_ms FROM intent_events WHERE intent_id = ?1 AND id > ?2 ORDER BY id",
        )?;
        let rows = statement.query_map(params![id, after_id.unwrap_or(0)], event_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Intents, newest first, with the total that matched.
    pub fn list_intents(
        &self,
        filter: &IntentFilter,
    ) -> Result<(Vec<IntentRecord>, u64), StoreError> {
        let mut clauses = Vec::new();
        let mut values: Vec<String> = Vec::new();
        if let Some(status) = filter.status {
            values.push(status.as_str().to_string());
            clauses.push(format!("status = ?{}", values.len()));
        }
        if let Some(app) = &filter.application {
            values.push(app.clone());
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM json_each(intents.applications) WHERE value = ?{})",
                values.len()
            ));
        }
        if let Some(who) = &filter.requested_by {
            values.push(who.clone());
            clauses.push(format!("requested_by = ?{}", values.len()));
        }
        let condition = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let connection = self.connection();
        let total: i64 = connection.query_row(
            &format!("SELECT COUNT(*) FROM intents {condition}"),
            rusqlite::params_from_iter(values.iter()),
            |r| r.get(0),
        )?;
        let total = total.max(0) as u64;
        let limit = if filter.limit == 0 {
            50
        } else {
            filter.limit.min(500)
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM intents {condition} ORDER BY created_at DESC, rowid DESC LIMIT {limit} OFFSET {}",
            filter.offset
        );
        let mut statement = connection.prepare(&sql)?;
        let rows =
            statement.query_map(rusqlite::params_from_iter(values.iter()), intent_from_row)?;
        Ok((rows.collect::<Result<_, _>>()?, total))
    }

    /// Records that an intent waiting for confirmation waits for a person
    /// (who was asked), so a restart leaves it waiting.
    pub fn hold_for_person(&self, id: &str) -> Result<(), StoreError> {
        let connection = self.connection();
        connection.execute(
            "UPDATE intents SET waits_for_person = 1, updated_at = ?2 WHERE id = ?1",
            params![id, now()],
        )?;
        Ok(())
    }

    /// At start-up: every intent that was mid-flight when the last process
    /// stopped becomes `interrupted`, with an event saying so: what was
    /// pending, parsing, planning or deploying, and what waited for
    /// confirmation with no person asked (its own request had confirmed it,
    /// and the process stopped before it could start). Returns their ids.
    pub fn mark_interrupted(&self) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = {
            let connection = self.connection();
            let mut statement = connection.prepare(
                "SELECT id FROM intents WHERE status IN ('pending', 'parsing', 'planning', 'deploying')
                    OR (status = 'awaiting_confirmation' AND waits_for_person = 0) ORDER BY created_at",
            )?;
            let rows = statement.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for id in &ids {
            let current = self
                .intent(id)?
                .map(|i| i.status.to_string())
                .unwrap_or_default();
            // Only from where it was: a process that shares the database
            // may have moved it on meanwhile.
            let from = IntentStatus::ALL
                .into_iter()
                .filter(|s| s.as_str() == current)
                .collect::<Vec<_>>();
            let moved = self.transition(
                id,
                Some(&from),
                IntentStatus::Interrupted,
                NewEvent::new("restart", "interrupted", format!("deckhand stopped while this intent was {current}; retry it to finish the work")),
            );
            match moved {
                Ok(_) | Err(StoreError::Conflict(_)) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(command: &str, who: &str) -> NewIntent {
        NewIntent {
            command: command.into(),
            requested_by: who.into(),
            options: Json::Null,
            conversation_id: None,
        }
    }

    #[test]
    fn transitions_are_logged_and_checked() {
        let store = Store::in_memory().unwrap();
        let (intent, first) = store.create_intent(new("install redis", "alice")).unwrap();
        assert_eq!(
            (intent.status, first.step.as_str()),
            (IntentStatus::Pending, "received")
        );
        store
            .transition(
                &intent.id,
                Some(&[IntentStatus::Pending]),
                IntentStatus::Parsing,
                NewEvent::new("parse", "parsing", "parsing"),
            )
            .unwrap();
        let err = store.transition(
            &intent.id,
            Some(&[IntentStatus::Pending]),
            IntentStatus::Parsing,
            NewEvent::new("parse", "parsing", "again"),
        );
        assert!(matches!(err, Err(StoreError::Conflict(_))));
        let events = store.events(&intent.id, None).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            store.events(&intent.id, Some(events[0].id)).unwrap().len(),
            1
        );
    }

    #[test]
    fn events_cannot_be_changed() {
        let store = Store::in_memory().unwrap();
        let (intent, _) = store.create_intent(new("install redis", "alice")).unwrap();
        let connection = store.connection();
        assert!(
            connection
                .execute("UPDATE intent_events SET message = 'x'", [])
                .is_err()
        );
        assert!(
            connection
                .execute(
                    "DELETE FROM intent_events WHERE intent_id = ?1",
                    [&intent.id]
                )
                .is_err()
        );
    }

    #[test]
    fn listing_filters_and_pages() {
        let store = Store::in_memory().unwrap();
        for (i, who) in ["a", "b", "a"].iter().enumerate() {
            let (intent, _) = store
                .create_intent(new(&format!("install redis {i}"), who))
                .unwrap();
            let parsed = crate::intent::Intent {
                action: crate::intent::Action::Install,
                applications: vec![if i == 1 {
                    "grafana".into()
                } else {
                    "redis".into()
                }],
                platform: None,
                namespace: None,
                parameters: Default::default(),
                source: crate::intent::Source::Rules,
                model: None,
                strategy: None,
                ignored: Vec::new(),
            };
            store.set_parsed(&intent.id, &parsed).unwrap();
        }
        let (page, total) = store
            .list_intents(&IntentFilter {
                application: Some("redis".into()),
                limit: 1,
                ..Default::default()
            })
            .unwrap();
        assert_eq!((page.len(), total), (1, 2));
        let (_, total) = store
            .list_intents(&IntentFilter {
                requested_by: Some("b".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(total, 1);
    }

    #[test]
    fn in_flight_intents_become_interrupted() {
        let store = Store::in_memory().unwrap();
        let (a, _) = store.create_intent(new("install redis", "x")).unwrap();
        store
            .transition(
                &a.id,
                None,
                IntentStatus::Deploying,
                NewEvent::new("deploy", "deploying", "go"),
            )
            .unwrap();
        let (b, _) = store.create_intent(new("install redis", "x")).unwrap();
        store
            .transition(
                &b.id,
                None,
                IntentStatus::Completed,
                NewEvent::new("done", "completed", "ok"),
            )
            .unwrap();
        // Planned, and its own request confirmed it: nobody waits on it.
        let (c, _) = store.create_intent(new("install redis", "x")).unwrap();
        store
            .transition(
                &c.id,
                None,
                IntentStatus::AwaitingConfirmation,
                NewEvent::new("confirm", "awaiting_confirmation", "the plan is ready"),
            )
            .unwrap();
        // Planned and shown to a person, who was asked to confirm.
        let (d, _) = store.create_intent(new("install redis", "x")).unwrap();
        store
            .transition(
                &d.id,
                None,
                IntentStatus::AwaitingConfirmation,
                NewEvent::new("confirm", "awaiting_confirmation", "the plan is ready"),
            )
            .unwrap();
        store.hold_for_person(&d.id).unwrap();
        assert_eq!(
            store.mark_interrupted().unwrap(),
            vec![a.id.clone(), c.id.clone()]
        );
        assert_eq!(
            store.intent(&d.id).unwrap().unwrap().status,
            IntentStatus::AwaitingConfirmation
        );
        assert!(
            store
                .events(&c.id, None)
                .unwrap()
                .last()
                .unwrap()
                .message
                .contains("was awaiting_confirmation")
        );
        let a = store.intent(&a.id).unwrap().unwrap();
        assert_eq!(a.status, IntentStatus::Interrupted);
        assert!(
            store
                .events(&a.id, None)
                .unwrap()
                .last()
                .unwrap()
                .message
                .contains("was deploying")
        );
    }
}
