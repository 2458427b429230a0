//! Releases, their revisions, and the secrets generated for them.
//!
//! A release is one installed application in one namespace on one platform;
//! a revision is what one successful apply left (manifests, parameters,
//! version, who and when). Generated secrets belong to the release: the
//! first render creates them and every later render reuses them, so an
//! upgrade never changes a database password.

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{Store, StoreError, now};
use crate::catalogue::blueprint::SecretSpec;
use crate::render::secrets::{SecretSource, generate};

/// Which release: platform, namespace and name.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct ReleaseKey {
    pub platform: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ReleaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} ({})", self.namespace, self.name, self.platform)
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReleaseRecord {
    pub platform: String,
    pub namespace: String,
    pub name: String,
    pub blueprint: String,
    pub status: String,
    pub current_revision: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RevisionRecord {
    pub number: i64,
    pub intent_id: Option<String>,
    pub action: String,
    pub version: String,
    #[schema(value_type = Object)]
    pub parameters: Json,
    /// Rendered files: `[{path, content}]`.
    #[schema(value_type = Vec<Object>)]
    pub manifests: Json,
    pub dependencies: Vec<String>,
    pub created_by: String,
    pub created_at: String,
}

/// A revision to record.
#[derive(Debug, Clone)]
pub struct NewRevision {
    pub key: ReleaseKey,
    pub blueprint: String,
    pub intent_id: Option<String>,
    pub action: String,
    pub version: String,
    pub parameters: Json,
    pub manifests: Json,
    pub dependencies: Vec<String>,
    pub created_by: String,
}

fn release_from_row(row: &Row) -> rusqlite::Result<ReleaseRecord> {
    Ok(ReleaseRecord {
        platform: row.get(0)?,
        namespace: row.get(1)?,
        name: row.get(2)?,
        blueprint: row.get(3)?,
        status: row.get(4)?,
        current_revision: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
    })
}

fn revision_from_row(row: &Row) -> rusqlite::Result<RevisionRecord> {
    let parse = |text: String| serde_json::from_str(&text).unwrap_or(Json::Null);
    Ok(RevisionRecord {
        number: row.get(0)?,
        intent_id: row.get(1)?,
        action: row.get(2)?,
        version: row.get(3)?,
        parameters: parse(row.get(4)?),
        manifests: parse(row.get(5)?),
        dependencies: serde_json::from_str(&row.get::<_, String>(6)?).unwrap_or_default(),
        created_by: row.get(7)?,
        created_at: row.get(8)?,
    })
}

const RELEASE_COLUMNS: &str =
    "platform, namespace, name, blueprint, status, current_revision, created_at, updated_at";

impl Store {
    /// The revision number the next apply of `key` will get.
    pub fn next_revision(&self, key: &ReleaseKey) -> Result<i64, StoreError> {
        let connection = self.connection();
        let current: Option<Option<i64>> = connection
            .query_row(
                "SELECT MAX(number) FROM revisions JOIN releases ON releases.id = revisions.release_id WHERE platform = ?1 AND namespace = ?2 AND name = ?3",
                params![key.platform, key.namespace, key.name],
                |r| r.get(0),
            )
            .optional()?;
        Ok(current.flatten().unwrap_or(0) + 1)
    }

    /// Records a successful apply as the release's next revision; returns its number.
    pub fn record_revision(&self, revision: &NewRevision) -> Result<i64, StoreError> {
        let mut connection = self.connection();
        let tx = connection.transaction()?;
        let at = now();
        let key = &revision.key;
        tx.execute(
            "INSERT INTO releases (platform, namespace, name, blueprint, status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'deployed', ?5, ?5)
             ON CONFLICT (platform, namespace, name) DO UPDATE SET blueprint = excluded.blueprint, status = 'deployed', updated_at = excluded.updated_at",
            params![key.platform, key.namespace, key.name, revision.blueprint, at],
        )?;
        let release_id: i64 = tx.query_row(
            "SELECT id FROM releases WHERE platform = ?1 AND namespace = ?2 AND name = ?3",
            params![key.platform, key.namespace, key.name],
            |r| r.get(0),
        )?;
        let number: i64 = tx.query_row(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM revisions WHERE release_id = ?1",
            [release_id],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO revisions (release_id, number, intent_id, action, version, parameters_json, manifests_json, dependencies_json, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                release_id,
                number,
                revision.intent_id,
                revision.action,
                revision.version,
                revision.parameters.to_string(),
                revision.manifests.to_string(),
                serde_json::to_string(&revision.dependencies)?,
                revision.created_by,
                at
            ],
        )?;
        tx.execute(
            "UPDATE releases SET current_revision = ?2 WHERE id = ?1",
            params![release_id, number],
        )?;
        tx.commit()?;
        Ok(number)
    }

    /// Sets a release's status (`deployed`, `failed`, `removed`).
    pub fn set_release_status(&self, key: &ReleaseKey, status: &str) -> Result<(), StoreError> {
        let connection = self.connection();
        connection.execute(
            "UPDATE releases SET status = ?4, updated_at = ?5 WHERE platform = ?1 AND namespace = ?2 AND name = ?3",
            params![key.platform, key.namespace, key.name, status, now()],
        )?;
        Ok(())
    }

    pub fn releases(&self) -> Result<Vec<ReleaseRecord>, StoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare(&format!(
            "SELECT {RELEASE_COLUMNS} FROM releases ORDER BY namespace, name, platform"
        ))?;
        let rows = statement.query_map([], release_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Releases named `name` in `namespace` (one per platform at most).
    pub fn release(&self, namespace: &str, name: &str) -> Result<Vec<ReleaseRecord>, StoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare(&format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE namespace = ?1 AND name = ?2 ORDER BY platform"))?;
        let rows = statement.query_map([namespace, name], release_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A release's revisions, oldest first.
    pub fn revisions(&self, key: &ReleaseKey) -> Result<Vec<RevisionRecord>, StoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT number, intent_id, action, version, parameters_json, manifests_json, dependencies_json, created_by, revisions.created_at
             FROM revisions JOIN releases ON releases.id = revisions.release_id
             WHERE platform = ?1 AND namespace = ?2 AND name = ?3 ORDER BY number",
        )?;
        let rows = statement.query_map(
            params![key.platform, key.namespace, key.name],
            revision_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The stored value of a release's secret, created (and stored) when new.
    pub fn secret(
        &self,
        key: &ReleaseKey,
        name: &str,
        spec: &SecretSpec,
    ) -> Result<String, StoreError> {
        let connection = self.connection();
        let select = "SELECT value FROM release_secrets WHERE platform = ?1 AND namespace = ?2 AND release = ?3 AND name = ?4";
        let existing: Option<String> = connection
            .query_row(
                select,
                params![key.platform, key.namespace, key.name, name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(value) = existing {
            return Ok(value);
        }
        connection.execute(
            "INSERT INTO release_secrets (platform, namespace, release, name, value, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            params![key.platform, key.namespace, key.name, name, generate(spec), now()],
        )?;
        Ok(connection.query_row(
            select,
            params![key.platform, key.namespace, key.name, name],
            |r| r.get(0),
        )?)
    }

    /// Names (and, for an admin who asks, values) of a release's secrets.
    pub fn release_secrets(&self, key: &ReleaseKey) -> Result<Vec<(String, String)>, StoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT name, value FROM release_secrets WHERE platform = ?1 AND namespace = ?2 AND release = ?3 ORDER BY name",
        )?;
        let rows = statement.query_map(params![key.platform, key.namespace, key.name], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Secrets from the store for one platform and namespace: what rendering uses
/// once releases are tracked.
pub struct StoredSecrets<'a> {
    pub store: &'a Store,
    pub platform: String,
    pub namespace: String,
    /// The first storage error, if any (rendering cannot fail mid-way for it).
    pub error: Option<StoreError>,
}

impl<'a> StoredSecrets<'a> {
    pub fn new(store: &'a Store, platform: &str, namespace: &str) -> Self {
        Self {
            store,
            platform: platform.to_string(),
            namespace: namespace.to_string(),
            error: None,
        }
    }
}

impl SecretSource for StoredSecrets<'_> {
    fn secret(&mut self, release: &str, name: &str, spec: &SecretSpec) -> String {
        let key = ReleaseKey {
            platform: self.platform.clone(),
            namespace: self.namespace.clone(),
            name: release.to_string(),
        };
        match self.store.secret(&key, name, spec) {
            Ok(value) => value,
            Err(err) => {
                self.error.get_or_insert(err);
                generate(spec)
            }
        }
    }

    fn host_port(
        &mut self,
        release: &str,
        port_name: &str,
        wanted: u16,
    ) -> Result<crate::render::Published, String> {
        match self
            .store
            .host_port(&self.platform, &self.namespace, release, port_name, wanted)
        {
            Ok(chosen) => chosen,
            Err(err) => {
                let reason = format!("the host port could not be recorded: {err}");
                self.error.get_or_insert(err);
                Err(reason)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ReleaseKey {
        ReleaseKey {
            platform: "kubernetes".into(),
            namespace: "default".into(),
            name: "redis".into(),
        }
    }

    #[test]
    fn secrets_are_created_once_and_reused() {
        let store = Store::in_memory().unwrap();
        let spec = SecretSpec {
            length: 20,
            charset: Default::default(),
        };
        let first = store.secret(&key(), "password", &spec).unwrap();
        assert_eq!(first, store.secret(&key(), "password", &spec).unwrap());
        let mut source = StoredSecrets::new(&store, "kubernetes", "default");
        assert_eq!(source.secret("redis", "password", &spec), first);
        assert_ne!(source.secret("other", "password", &spec), first);
    }

    #[test]
    fn revisions_count_up_per_release() {
        let store = Store::in_memory().unwrap();
        let revision = NewRevision {
            key: key(),
            blueprint: "redis".into(),
            intent_id: None,
            action: "install".into(),
            version: "8".into(),
            parameters: Json::Null,
            manifests: serde_json::json!([]),
            dependencies: vec![],
            created_by: "alice".into(),
        };
        assert_eq!(store.next_revision(&key()).unwrap(), 1);
        assert_eq!(store.record_revision(&revision).unwrap(), 1);
        assert_eq!(store.record_revision(&revision).unwrap(), 2);
        assert_eq!(store.next_revision(&key()).unwrap(), 3);
        assert_eq!(
            store.release("default", "redis").unwrap()[0].current_revision,
            Some(2)
        );
        assert_eq!(store.revisions(&key()).unwrap().len(), 2);
    }
}
