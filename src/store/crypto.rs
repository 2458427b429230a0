//! Secret values at rest: every generated secret and every revision's
//! rendered files (which hold Secret objects and env files) are sealed with
//! XChaCha20-Poly1305 before they reach SQLite, bound to where they belong
//! (so a sealed value cannot be moved to another release), and opened on
//! read.
//!
//! The 32-byte key comes from `DECKHAND_SECRET_KEY` (64 hexadecimal
//! characters) or else from the key file beside the database
//! (`<database>.key`, mode 0600, made on first open). A database carries a
//! sealed check value, so opening it with another key is refused at once
//! rather than failing at the first secret. Losing the key loses the
//! secrets: back it up with the database, but not in the same place.

use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::StoreError;

/// The prefix of a sealed value: version 1, hex of nonce and ciphertext.
const SEALED: &str = "enc1:";

/// The environment variable that holds the key, instead of the key file.
pub const KEY_VARIABLE: &str = "DECKHAND_SECRET_KEY";

/// Seals and opens secret values with the store's key.
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    /// Where the key came from, for error messages.
    origin: String,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBox({})", self.origin)
    }
}

/// The key file of the database at `db`: `<db>.key`.
pub fn key_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

fn parse_key(text: &str, origin: &str) -> Result<[u8; 32], StoreError> {
    let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() == 32);
    bytes.and_then(|b| b.try_into().ok()).ok_or_else(|| {
        StoreError::Key(format!(
            "{origin} must hold 64 hexadecimal characters (a 32-byte key)"
        ))
    })
}

impl SecretBox {
    fn from_key(key: [u8; 32], origin: String) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
            origin,
        }
    }

    /// A random key that lives as long as the process (in-memory stores).
    pub fn ephemeral() -> Self {
        Self::from_key(rand::random(), "a key of this process only".into())
    }

    /// The key for the database at `db`: `DECKHAND_SECRET_KEY`, or the key
    /// file beside it (made, 0600, when missing; tightened to 0600 when
    /// others could read it).
    pub fn for_database(db: &Path) -> Result<Self, StoreError> {
        if let Ok(text) = std::env::var(KEY_VARIABLE)
            && !text.trim().is_empty()
        {
            return Ok(Self::from_key(
                parse_key(&text, KEY_VARIABLE)?,
                KEY_VARIABLE.into(),
            ));
        }
        let path = key_file(db);
        let origin = format!("the key file {}", path.display());
        let fail = |e: std::io::Error| StoreError::Key(format!("{origin}: {e}"));
        if !path.exists() {
            let key: [u8; 32] = rand::random();
            let text = format!("{}\n", hex::encode(key));
            match crate::atomic::create_new(&path, text.as_bytes(), 0o600) {
                Ok(()) => return Ok(Self::from_key(key, origin)),
                // Another process made it first: read theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(fail(e)),
            }
        }
        crate::atomic::restrict(&path, 0o600).map_err(fail)?;
        let text = std::fs::read_to_string(&path).map_err(fail)?;
        Ok(Self::from_key(parse_key(&text, &origin)?, origin))
    }

    /// `plain` sealed for `context` (where it belongs).
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let nonce = XNonce::generate();
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("sealing in memory cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{SEALED}{}", hex::encode(bytes))
    }

    /// Whether `text` is a sealed value.
    pub fn is_sealed(text: &str) -> bool {
        text.starts_with(SEALED)
    }

    /// The value sealed in `sealed` for `context`; an error names the key's
    /// origin when it does not open it.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, StoreError> {
        let wrong = || {
            StoreError::Key(format!(
                "a stored secret ({context}) cannot be opened with {}: is it the key this database was made with?",
                self.origin
            ))
        };
        let bytes = sealed
            .strip_prefix(SEALED)
            .and_then(|h| hex::decode(h).ok())
            .filter(|b| b.len() > 24)
            .ok_or_else(wrong)?;
        let (nonce, body) = bytes.split_at(24);
        let nonce = XNonce::try_from(nonce).map_err(|_| wrong())?;
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| wrong())?;
        String::from_utf8(plain).map_err(|_| wrong())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let one = SecretBox::ephemeral();
        let sealed = one.seal("hunter2", "kubernetes/default/redis/password");
        assert!(SecretBox::is_sealed(&sealed));
        assert!(!sealed.contains("hunter2"));
        assert_eq!(
            one.open(&sealed, "kubernetes/default/redis/password")
                .unwrap(),
            "hunter2"
        );
        assert!(
            one.open(&sealed, "kubernetes/default/other/password")
                .is_err()
        );
        assert!(
            SecretBox::ephemeral()
                .open(&sealed, "kubernetes/default/redis/password")
                .is_err()
        );
        // Two seals of one value differ (random nonces).
        assert_ne!(
            sealed,
            one.seal("hunter2", "kubernetes/default/redis/password")
        );
    }

    #[test]
    fn the_key_file_is_made_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("deckhand.db");
        let first = SecretBox::for_database(&db).unwrap();
        let mode = std::fs::metadata(key_file(&db))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = first.seal("x", "c");
        assert_eq!(
            SecretBox::for_database(&db)
                .unwrap()
                .open(&sealed, "c")
                .unwrap(),
            "x"
        );
    }
}
