//! API tokens: only a SHA-256 hash of each token is stored; the token itself
//! is shown once, when it is made. Also the replay memory of signed chat
//! requests ([`Store::first_use`]).

use rand::RngExt;
use rand::distr::Alphanumeric;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Store, StoreError, now};

/// What a token may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Also deploys, and cancels its own intents.
    Deployer,
    /// Also manages tokens and cancels anyone's intents.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Deployer => "deployer",
            Role::Admin => "admin",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Role::Viewer),
            "deployer" => Some(Role::Deployer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A stored token, without its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// The hex SHA-256 of a token, the only form that is stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token (`dh_` and 40 alphanumerics, about 238 bits).
pub fn new_token() -> String {
    let mut rng = rand::rng();
    let body: String = (0..40).map(|_| rng.sample(Alphanumeric) as char).collect();
    format!("dh_{body}")
}

/// Whether `name` may name a token: 1 to 64 letters, digits, `.`, `_` or
/// `-` (no `:`, so a token's actor id `token:NAME` is never ambiguous).
pub fn check_token_name(name: &str) -> Result<(), String> {
    let fine = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if fine {
        Ok(())
    } else {
        Err(format!(
            "invalid token name '{name}': use 1 to 64 letters, digits, '.', '_' or '-'"
        ))
    }
}

impl Store {
    /// True the first time `key` (a chat request's signature) is seen
    /// within `window`; false for a replay. Kept in the database, so a
    /// restart forgets nothing; entries older than `window` are dropped.
    pub fn first_use(&self, key: &str, window: std::time::Duration) -> Result<bool, StoreError> {
        let now = jiff::Timestamp::now().as_second();
        let oldest = now - window.as_secs() as i64;
        let connection = self.connection();
        connection.execute("DELETE FROM chat_replays WHERE seen_at < ?1", [oldest])?;
        let inserted = connection.execute(
            "INSERT INTO chat_replays (key, seen_at) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
            params![key, now],
        )?;
        Ok(inserted == 1)
    }

    /// Makes a token; returns the record and the token (shown once).
    pub fn create_token(
        &self,
        name: &str,
        role: Role,
        created_by: &str,
    ) -> Result<(TokenRecord, String), StoreError> {
        check_token_name(name).map_err(StoreError::Invalid)?;
        let token = new_token();
        let id = uuid::Uuid::new_v4().to_string();
        let at = now();
        let connection = self.connection();
        let inserted = connection.execute(
            "INSERT INTO api_tokens (id, name, role, token_hash, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING",
            params![id, name, role.as_str(), hash_token(&token), created_by, at],
        )?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "a token named '{name}' already exists"
            )));
        }
        Ok((
            TokenRecord {
                id,
                name: name.to_string(),
                role,
                created_by: created_by.to_string(),
                created_at: at,
                revoked_at: None,
            },
            token,
        ))
    }

    /// The (name, role) of a live token with this hash.
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<(String, Role)>, StoreError> {
        let connection = self.connection();
        let found: Option<(String, String)> = connection
            .query_row(
                "SELECT name, role FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
                [hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(found.and_then(|(name, role)| Role::parse(&role).map(|r| (name, r))))
    }

    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare("SELECT id, name, role, created_by, created_at, revoked_at FROM api_tokens ORDER BY created_at")?;
        let rows = statement.query_map([], |r| {
            let role: String = r.get(2)?;
            Ok(TokenRecord {
                id: r.get(0)?,
                name: r.get(1)?,
                role: Role::parse(&role).unwrap_or(Role::Viewer),
                created_by: r.get(3)?,
                created_at: r.get(4)?,
                revoked_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes a token by name; false when there was none to revoke.
    pub fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let connection = self.connection();
        let changed = connection.execute(
            "UPDATE api_tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
            params![name, now()],
        )?;
        Ok(changed > 0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_key_is_fresh_only_once_within_its_window_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let window = std::time::Duration::from_secs(300);
        let store = Store::open(&path).unwrap();
        assert!(store.first_use("v0=abc", window).unwrap());
        assert!(!store.first_use("v0=abc", window).unwrap());
        assert!(store.first_use("v0=abd", window).unwrap());
        drop(store);
        // A restart remembers.
        let store = Store::open(&path).unwrap();
        assert!(!store.first_use("v0=abc", window).unwrap());
        // Past the window it is forgotten.
        store
            .connection()
            .execute("UPDATE chat_replays SET seen_at = seen_at - 600", [])
            .unwrap();
        assert!(store.first_use("v0=abc", window).unwrap());
    }

    use super::*;

    #[test]
    fn only_hashes_are_stored_and_names_are_unique() {
        let store = Store::in_memory().unwrap();
        let (record, token) = store.create_token("ci", Role::Deployer, "admin").unwrap();
        assert!(token.starts_with("dh_") && token.len() == 43);
        let stored: String = store
            .connection()
            .query_row("SELECT token_hash FROM api_tokens", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, hash_token(&token));
        assert_ne!(stored, token);
        assert_eq!(
            store.token_by_hash(&hash_token(&token)).unwrap(),
            Some(("ci".into(), Role::Deployer))
        );
        assert!(matches!(
            store.create_token("ci", Role::Viewer, "admin"),
            Err(StoreError::Conflict(_))
        ));
        assert!(store.revoke_token(&record.name).unwrap());
        assert_eq!(store.token_by_hash(&hash_token(&token)).unwrap(), None);
    }
}
