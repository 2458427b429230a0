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
pub mod crypto;
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
    #[error("secret key: {0}")]
    Key(String),
    /// A value the store refuses to record (a token name with a `:`).
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// The database cannot take the request for now (busy or locked by
    /// another writer, disk full, an I/O error): the same request may
    /// succeed later, so front ends answer "try again" (HTTP 503 with
    /// `Retry-After`), never "your request is wrong".
    pub fn is_unavailable(&self) -> bool {
        use rusqlite::ErrorCode;
        let source = match self {
            StoreError::Sqlite(source)
            | StoreError::Open { source, .. }
            | StoreError::Migration { source, .. } => source,
            _ => return false,
        };
        matches!(
            source.sqlite_error_code(),
            Some(
                ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::DiskFull
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::OutOfMemory
                    | ErrorCode::CannotOpen
            )
        )
    }
}

/// The current time as RFC 3339 text (UTC), the format of every timestamp.
pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// A connection to the deckhand database.
pub struct Store {
    connection: Mutex<Connection>,
    /// Seals secret values before they are written ([`crypto`]).
    secrets: crypto::SecretBox,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (creating when missing) and migrates the database at `path`.
    /// The database, its WAL and shared-memory files are private to
    /// deckhand's user (0600, the WAL and SHM take the database file's mode)
    /// and a directory made for it is 0700, from the first open; a file that
    /// others could read is tightened. Secret values are sealed with the key
    /// of [`crypto::SecretBox::for_database`], and an older database's plain
    /// ones are sealed now.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let fail = |e: std::io::Error| StoreError::Open {
            path: path.display().to_string(),
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.exists()
        {
            crate::atomic::private_dir(parent).map_err(fail)?;
        }
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(fail)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            match crate::atomic::restrict(Path::new(&name), 0o600) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(fail(e)),
            }
        }
        let secrets = crypto::SecretBox::for_database(path)?;
        let connection = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Self::setup(connection, secrets)
    }

    /// A private in-memory database (tests, benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::setup(
            Connection::open_in_memory()?,
            crypto::SecretBox::ephemeral(),
        )
    }

    fn setup(connection: Connection, secrets: crypto::SecretBox) -> Result<Self, StoreError> {
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        let store = Self {
            connection: Mutex::new(connection),
            secrets,
        };
        store.migrate()?;
        store.check_key()?;
        store.seal_plain_values()?;
        Ok(store)
    }

    /// The sealer of secret values.
    pub(crate) fn secret_box(&self) -> &crypto::SecretBox {
        &self.secrets
    }

    /// Refuses a key that is not the one this database was sealed with
    /// (a sealed check value is kept in `store_meta`; the first open with a
    /// key stores it).
    fn check_key(&self) -> Result<(), StoreError> {
        const CONTEXT: &str = "store key check";
        let connection = self.connection();
        let stored: Option<String> = connection
            .query_row(
                "SELECT value FROM store_meta WHERE name = 'key_check'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match stored {
            Some(sealed) => self.secrets.open(&sealed, CONTEXT).map(|_| ()),
            None => {
                connection.execute(
                    "INSERT INTO store_meta (name, value) VALUES ('key_check', ?1) ON CONFLICT DO NOTHING",
                    [self.secrets.seal("deckhand", CONTEXT)],
                )?;
                Ok(())
            }
        }
    }

    /// Seals what an older database kept in plain text: generated secrets
    /// and revisions' rendered files. One transaction; nothing to do is cheap.
    fn seal_plain_values(&self) -> Result<(), StoreError> {
        let mut connection = self.connection();
        let tx = connection.transaction()?;
        let secrets: Vec<(i64, String, String, String, String, String)> = {
            let mut statement = tx.prepare(
                "SELECT rowid, platform, namespace, release, name, value FROM release_secrets WHERE encrypted = 0",
            )?;
            let rows = statement.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (rowid, platform, namespace, release, name, value) in secrets {
            let context = releases::secret_context(&platform, &namespace, &release, &name);
            tx.execute(
                "UPDATE release_secrets SET value = ?2, encrypted = 1 WHERE rowid = ?1",
                rusqlite::params![rowid, self.secrets.seal(&value, &context)],
            )?;
        }
        let revisions: Vec<(i64, i64, String, String, String, String)> = {
            let mut statement = tx.prepare(
                "SELECT revisions.release_id, number, platform, namespace, name, manifests_json FROM revisions JOIN releases ON releases.id = revisions.release_id WHERE manifests_json NOT LIKE 'enc1:%'",
            )?;
            let rows = statement.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (release_id, number, platform, namespace, name, manifests) in revisions {
            let context = releases::manifests_context(&platform, &namespace, &name);
            tx.execute(
                "UPDATE revisions SET manifests_json = ?3 WHERE release_id = ?1 AND number = ?2",
                rusqlite::params![release_id, number, self.secrets.seal(&manifests, &context)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// How long a write waits for another writer's lock before it gives up
    /// with "database is locked" (5 s unless changed; tests shorten it).
    pub fn set_busy_timeout(&self, timeout: std::time::Duration) -> Result<(), StoreError> {
        self.connection().busy_timeout(timeout)?;
        Ok(())
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

    /// Runs `work` on the blocking pool and returns its result. While the
    /// runtime shuts down (a CLI command ending) the pool cancels work it
    /// has not started; that work then runs here instead, so a task still
    /// running gets its answer rather than a panic on the cancellation.
    pub async fn call<T, F>(&self, work: F) -> T
    where
        F: FnOnce(&Store) -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::new(Mutex::new(Some(work)));
        let (store, taken) = (self.store.clone(), slot.clone());
        let ran = tokio::task::spawn_blocking(move || {
            let work = taken.lock().unwrap_or_else(|p| p.into_inner()).take();
            work.map(|work| work(&store))
        })
        .await;
        match ran {
            Ok(Some(value)) => value,
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            // Cancelled before it started: the work is still in the slot.
            _ => {
                let work = slot
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .expect("work that never ran is still there");
                work(&self.store)
            }
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

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_database_and_its_directory_are_private_from_the_first_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/deckhand.db");
        let store = Store::open(&path).unwrap();
        store
            .create_intent(NewIntent {
                command: "install redis".into(),
                requested_by: "x".into(),
                options: serde_json::Value::Null,
                conversation_id: None,
            })
            .unwrap();
        assert_eq!(mode(&dir.path().join("state")), 0o700);
        for name in [
            "deckhand.db",
            "deckhand.db-wal",
            "deckhand.db-shm",
            "deckhand.db.key",
        ] {
            assert_eq!(mode(&dir.path().join("state").join(name)), 0o600, "{name}");
        }
        drop(store);
        // A database others could read is tightened when opened.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Store::open(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    /// The bytes of the database files, WAL included.
    fn raw(path: &Path) -> Vec<u8> {
        let mut bytes = std::fs::read(path).unwrap();
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        bytes.extend(std::fs::read(&wal).unwrap_or_default());
        bytes
    }

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }

    fn redis_key() -> releases::ReleaseKey {
        releases::ReleaseKey {
            platform: "kubernetes".into(),
            namespace: "default".into(),
            name: "redis".into(),
        }
    }

    #[test]
    fn secret_values_and_manifests_are_sealed_at_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deckhand.db");
        let store = Store::open(&path).unwrap();
        let spec = crate::catalogue::blueprint::SecretSpec {
            length: 24,
            charset: Default::default(),
        };
        let password = store.secret(&redis_key(), "password", &spec).unwrap();
        let manifest = format!("kind: Secret\nstringData: {{password: {password}}}");
        store
            .record_revision(&releases::NewRevision {
                key: redis_key(),
                blueprint: "redis".into(),
                intent_id: None,
                action: "install".into(),
                version: "8".into(),
                parameters: serde_json::json!({}),
                manifests: serde_json::json!([{"path": "manifests.yaml", "content": manifest}]),
                dependencies: vec![],
                created_by: "x".into(),
            })
            .unwrap();
        assert!(
            !contains(&raw(&path), &password),
            "the password is in the file"
        );
        assert_eq!(store.release_secrets(&redis_key()).unwrap()[0].1, password);
        let revisions = store.revisions(&redis_key()).unwrap();
        assert_eq!(revisions[0].manifests[0]["content"], manifest);
        drop(store);
        // Another key is refused at open, with where the key came from.
        std::fs::write(crypto::key_file(&path), format!("{}\n", "ab".repeat(32))).unwrap();
        let err = Store::open(&path).unwrap_err().to_string();
        assert!(err.contains("deckhand.db.key"), "{err}");
    }

    /// A database made before sealing (schema 1, plain secrets and
    /// manifests) is sealed by the first open, and reads as before.
    #[test]
    fn an_old_database_is_sealed_and_given_typed_actor_ids_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(include_str!("../../migrations/0001_initial.sql"))
                .unwrap();
            old.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
                 INSERT INTO schema_migrations VALUES (1, '0001_initial.sql', 'then');
                 INSERT INTO release_secrets VALUES ('kubernetes', 'default', 'redis', 'password', 'plain-old-password-123', 'then');
                 INSERT INTO releases (platform, namespace, name, blueprint, status, current_revision, created_at, updated_at)
                    VALUES ('kubernetes', 'default', 'redis', 'redis', 'deployed', 1, 'then', 'then');
                 INSERT INTO api_tokens VALUES ('t1', 'alice', 'deployer', 'hash-a', 'admin', 'then', NULL);
                 INSERT INTO api_tokens VALUES ('t2', 'admin', 'deployer', 'hash-b', 'admin', 'then', NULL);
                 INSERT INTO intents (id, command, status, requested_by, created_at, updated_at) VALUES ('i1', 'install redis', 'completed', 'alice', 'then', 'then');
                 INSERT INTO intents (id, command, status, requested_by, created_at, updated_at) VALUES ('i2', 'install redis', 'completed', 'slack:U1', 'then', 'then');
                 INSERT INTO revisions VALUES (1, 1, NULL, 'install', '8', '{}', '[{\"path\":\"m.yaml\",\"content\":\"password: plain-old-password-123\"}]', '[]', 'x', 'then');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        // What tokens did is recorded with their typed actor ids.
        let who = |id: &str| store.intent(id).unwrap().unwrap().requested_by;
        assert_eq!(
            (who("i1"), who("i2")),
            ("token:alice".into(), "slack:U1".into())
        );
        let spec = crate::catalogue::blueprint::SecretSpec {
            length: 24,
            charset: Default::default(),
        };
        assert_eq!(
            store.secret(&redis_key(), "password", &spec).unwrap(),
            "plain-old-password-123"
        );
        let revisions = store.revisions(&redis_key()).unwrap();
        assert_eq!(
            revisions[0].manifests[0]["content"],
            "password: plain-old-password-123"
        );
        store
            .connection()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
            .unwrap();
        assert!(!contains(&raw(&path), "plain-old-password-123"));
    }

    /// A runtime shutting down (the CLI at exit) cancels blocking work that
    /// has not started; a task still running then must get its answer,
    /// never a panic on the cancelled `JoinError`.
    #[test]
    fn a_call_during_runtime_shutdown_does_not_panic() {
        use futures_util::FutureExt;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let panics = Arc::new(AtomicUsize::new(0));
        for _ in 0..30 {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .max_blocking_threads(1)
                .build()
                .unwrap();
            let handle = StoreHandle::new(Store::in_memory().unwrap());
            for _ in 0..4 {
                let (handle, panics) = (handle.clone(), panics.clone());
                runtime.spawn(async move {
                    loop {
                        let call =
                            std::panic::AssertUnwindSafe(handle.call(|s| s.schema_versions()))
                                .catch_unwind()
                                .await;
                        if call.is_err() {
                            panics.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    }
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
            runtime.shutdown_timeout(std::time::Duration::from_millis(200));
        }
        assert_eq!(panics.load(Ordering::SeqCst), 0);
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
