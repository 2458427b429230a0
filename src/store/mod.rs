//! The SQLite store: intents and their append-only events, releases,
//! revisions, generated secrets, API tokens and conversations.
//!
//! `rusqlite` with bundled SQLite, WAL mode and foreign keys on. Migrations
//! are the numbered files of `migrations/`, embedded in the binary, applied at
//! start-up in one transaction each and recorded in `schema_migrations`, so an
//! old database upgrades itself. The [`Store`] is synchronous; async code
//! reaches it through [`StoreHandle::call`], which runs the work on tokio's
//! blocking pool so the executor threads never wait on SQLite.

pub mod conversations;
pub mod intents;
pub mod ports;
pub mod releases;
pub mod tokens;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use include_dir::{Dir, include_dir};
use rusqlite::{Connection, OptionalExtension};

pub use intents::{EventRecord, IntentFilter, IntentRecord, IntentStatus, NewEvent, NewIntent};

static MIGRATIONS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open database '{path}': {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("migration {name} failed: {source}")]
    Migration {
        name: String,
        source: rusqlite::Error,
    },
    #[error(
        "the database was written by a newer deckhand (schema {found}, this one knows up to {known})"
    )]
    TooNew { found: i64, known: i64 },
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
}

/// The current time as RFC 3339 text (UTC), the format of every timestamp.
pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// A connection to the deckhand database.
pub struct Store {
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (creating when missing) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(parent);
        }
        let connection = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Self::setup(connection)
    }

    /// A private in-memory database (tests, benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(connection: Connection) -> Result<Self, StoreError> {
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        let store = Self {
            connection: Mutex::new(connection),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The connection; a poisoned lock (a panic elsewhere) is taken over, since
    /// SQLite itself keeps the data consistent.
    pub fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The embedded migrations, sorted by their number.
    fn migrations() -> Vec<(i64, String, String)> {
        let mut out: Vec<(i64, String, String)> = MIGRATIONS
            .files()
            .filter(|f| f.path().extension().is_some_and(|e| e == "sql"))
            .filter_map(|f| {
                let name = f.path().file_name()?.to_string_lossy().into_owned();
                let number = name.split('_').next()?.parse().ok()?;
                Some((
                    number,
                    name,
                    String::from_utf8_lossy(f.contents()).into_owned(),
                ))
            })
            .collect();
        out.sort();
        out
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut connection = self.connection();
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )?;
        let applied: i64 = connection
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |row| {
                row.get::<_, Option<i64>>(0)
            })
            .optional()?
            .flatten()
            .unwrap_or(0);
        let migrations = Self::migrations();
        let known = migrations.last().map_or(0, |m| m.0);
        if applied > known {
            return Err(StoreError::TooNew {
                found: applied,
                known,
            });
        }
        for (number, name, sql) in migrations.into_iter().filter(|m| m.0 > applied) {
            let fail = |source| StoreError::Migration {
                name: name.clone(),
                source,
            };
            let tx = connection.transaction().map_err(fail)?;
            tx.execute_batch(&sql).map_err(fail)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                (number, &name, now()),
            )
            .map_err(fail)?;
            tx.commit().map_err(fail)?;
        }
        Ok(())
    }

    /// Applied migration versions, oldest first.
    pub fn schema_versions(&self) -> Result<Vec<i64>, StoreError> {
        let connection = self.connection();
        let mut statement =
            connection.prepare("SELECT version FROM schema_migrations ORDER BY version")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A shareable store for async code.
#[derive(Debug, Clone)]
pub struct StoreHandle {
    store: Arc<Store>,
}

impl StoreHandle {
    pub fn new(store: Store) -> Self {
        Self {
            store: Arc::new(store),
        }
    }

    /// The store, for synchronous callers (CLI, inside `spawn_blocking`).
    pub fn blocking(&self) -> &Store {
        &self.store
    }

    /// Runs `work` on the blocking pool and returns its result.
    pub async fn call<T, F>(&self, work: F) -> T
    where
        F: FnOnce(&Store) -> T + Send + 'static,
        T: Send + 'static,
    {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || work(&store)).await {
            Ok(value) => value,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_an_old_database_upgrades() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deckhand.db");
        let store = Store::open(&path).unwrap();
        let versions = store.schema_versions().unwrap();
        assert_eq!(versions.first(), Some(&1));
        drop(store);
        // Opening again applies nothing new.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_versions().unwrap(), versions);
        // A database from the future is refused, not damaged.
        store
            .connection()
            .execute(
                "INSERT INTO schema_migrations VALUES (999, 'future', 'now')",
                [],
            )
            .unwrap();
        drop(store);
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::TooNew { found: 999, .. })
        ));
    }

    #[test]
    fn wal_and_foreign_keys_are_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("x.db")).unwrap();
        let connection = store.connection();
        let mode: String = connection
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let fk: i64 = connection
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), fk), ("wal", 1));
    }
}
