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

/// A revision as stored: a sealed `manifests` is left as a JSON string for
/// [`Store::revisions`] to open.
fn revision_from_row(row: &Row) -> rusqlite::Result<RevisionRecord> {
    revision_from_columns(row, 0)
}

/// A revision from the columns starting at `at` (number, intent_id, action,
/// version, parameters, manifests, dependencies, created_by, created_at).
fn revision_from_columns(row: &Row, at: usize) -> rusqlite::Result<RevisionRecord> {
    let parse = |text: String| {
        if crate::store::crypto::SecretBox::is_sealed(&text) {
            Json::String(text)
        } else {
            serde_json::from_str(&text).unwrap_or(Json::Null)
        }
    };
    Ok(RevisionRecord {
        number: row.get(at)?,
        intent_id: row.get(at + 1)?,
        action: row.get(at + 2)?,
        version: row.get(at + 3)?,
        parameters: parse(row.get(at + 4)?),
        manifests: parse(row.get(at + 5)?),
        dependencies: serde_json::from_str(&row.get::<_, String>(at + 6)?).unwrap_or_default(),
        created_by: row.get(at + 7)?,
        created_at: row.get(at + 8)?,
    })
}

/// What a release secret's sealed value is bound to.
pub(crate) fn secret_context(platform: &str, namespace: &str, release: &str, name: &str) -> String {
    format!("secret {platform}/{namespace}/{release}/{name}")
}

/// What a revision's sealed files are bound to.
pub(crate) fn manifests_context(platform: &str, namespace: &str, release: &str) -> String {
    format!("manifests {platform}/{namespace}/{release}")
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
                self.secret_box().seal(
                    &revision.manifests.to_string(),
                    &manifests_context(&key.platform, &key.namespace, &key.name)
                ),
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

    /// Which of `candidates` name a recorded release (anywhere): one indexed
    /// lookup, whatever the number of releases.
    pub fn release_names_among(&self, candidates: &[String]) -> Result<Vec<String>, StoreError> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let connection = self.connection();
        let mut statement =
            connection.prepare_cached("SELECT 1 FROM releases WHERE name = ?1 LIMIT 1")?;
        let mut found = Vec::new();
        for candidate in candidates {
            if statement.exists([candidate])? {
                found.push(candidate.clone());
            }
        }
        Ok(found)
    }

    /// The releases of one platform and namespace that are not removed, each
    /// with its current revision (files opened): what a plan compares
    /// against. One query; its cost grows with this namespace only.
    pub fn current_revisions(
        &self,
        platform: &str,
        namespace: &str,
    ) -> Result<Vec<(ReleaseRecord, RevisionRecord)>, StoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "SELECT releases.platform, releases.namespace, releases.name, releases.blueprint, releases.status, releases.current_revision, releases.created_at, releases.updated_at,
                    number, intent_id, action, version, parameters_json, manifests_json, dependencies_json, created_by, revisions.created_at
             FROM releases JOIN revisions ON revisions.release_id = releases.id AND revisions.number = releases.current_revision
             WHERE releases.platform = ?1 AND releases.namespace = ?2 AND releases.status <> 'removed'
             ORDER BY releases.name",
        )?;
        let rows = statement.query_map(params![platform, namespace], |row| {
            let release = release_from_row(row)?;
            let revision = revision_from_columns(row, 8)?;
            Ok((release, revision))
        })?;
        let mut out: Vec<(ReleaseRecord, RevisionRecord)> = rows.collect::<Result<_, _>>()?;
        for (release, revision) in &mut out {
            if let Json::String(sealed) = &revision.manifests {
                let context = manifests_context(platform, namespace, &release.name);
                let plain = self.secret_box().open(sealed, &context)?;
                revision.manifests = serde_json::from_str(&plain)?;
            }
        }
        Ok(out)
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
        let context = manifests_context(&key.platform, &key.namespace, &key.name);
        let mut revisions: Vec<RevisionRecord> = rows.collect::<Result<_, _>>()?;
        for revision in &mut revisions {
            if let Json::String(sealed) = &revision.manifests {
                let plain = self.secret_box().open(sealed, &context)?;
                revision.manifests = serde_json::from_str(&plain)?;
            }
        }
        Ok(revisions)
    }

    /// The stored value of a release's secret, created (and stored, sealed)
    /// when new.
    pub fn secret(
        &self,
        key: &ReleaseKey,
        name: &str,
        spec: &SecretSpec,
    ) -> Result<String, StoreError> {
        let context = secret_context(&key.platform, &key.namespace, &key.name, name);
        let connection = self.connection();
        let select = "SELECT value, encrypted FROM release_secrets WHERE platform = ?1 AND namespace = ?2 AND release = ?3 AND name = ?4";
        let read = |connection: &rusqlite::Connection| -> Result<Option<String>, StoreError> {
            let found: Option<(String, bool)> = connection
                .query_row(
                    select,
                    params![key.platform, key.namespace, key.name, name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            found
                .map(|(value, sealed)| {
                    if sealed {
                        self.secret_box().open(&value, &context)
                    } else {
                        Ok(value)
                    }
                })
                .transpose()
        };
        if let Some(value) = read(&connection)? {
            return Ok(value);
        }
        let sealed = self.secret_box().seal(&generate(spec), &context);
        connection.execute(
            "INSERT INTO release_secrets (platform, namespace, release, name, value, created_at, encrypted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1) ON CONFLICT DO NOTHING",
            params![key.platform, key.namespace, key.name, name, sealed, now()],
        )?;
        read(&connection)?.ok_or_else(|| StoreError::NotFound(format!("secret {name}")))
    }

    /// Names and values of a release's secrets (the values are for an admin
    /// who asks).
    pub fn release_secrets(&self, key: &ReleaseKey) -> Result<Vec<(String, String)>, StoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT name, value, encrypted FROM release_secrets WHERE platform = ?1 AND namespace = ?2 AND release = ?3 ORDER BY name",
        )?;
        let rows = statement.query_map(params![key.platform, key.namespace, key.name], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, value, sealed) = row?;
            let value = if sealed {
                let context = secret_context(&key.platform, &key.namespace, &key.name, &name);
                self.secret_box().open(&value, &context)?
            } else {
                value
            };
            out.push((name, value));
        }
        Ok(out)
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
