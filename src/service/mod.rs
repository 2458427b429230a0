//! The state of `deckhand serve` that its front ends share (the JSON API
//! and web pages in [`crate::http`], Slack and Mattermost in
//! [`crate::chatops`]): [`AppState`], the bearer-token check [`Auth`], and
//! the JSON error every route answers with ([`errors`]). Both front ends
//! use this module; neither imports the other's.

pub mod errors;

use std::sync::Arc;

use crate::orchestrator::{Actor, ActorId, Orchestrator};
use crate::store::StoreHandle;
use crate::store::tokens::{Role, hash_token};
use errors::ApiError;

/// Shared by every request.
pub struct AppState {
    pub orchestrator: Arc<Orchestrator>,
    pub auth: Auth,
    /// The catalogue can be read without a token.
    pub public_catalogue: bool,
    /// Slack and Mattermost (settings, outgoing HTTP).
    pub chatops: Arc<crate::chatops::Chatops>,
}

/// Bearer tokens: the quick-start admin token from `DECKHAND_API_TOKEN`, or a
/// stored token (only its SHA-256 is kept). Every request looks its token up
/// in the store (one indexed read), so a revocation, from the API or from
/// `deckhand token revoke` in another process, takes effect on the next
/// request.
pub struct Auth {
    admin_token_hash: Option<String>,
    store: StoreHandle,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth")
    }
}

impl Auth {
    pub fn new(admin_token: Option<&str>, store: StoreHandle) -> Self {
        Self {
            admin_token_hash: admin_token.map(hash_token),
            store,
        }
    }

    /// The actor a bearer token belongs to.
    pub async fn authenticate(&self, token: &str) -> Result<Actor, ApiError> {
        let hash = hash_token(token);
        if self.admin_token_hash.as_deref() == Some(hash.as_str()) {
            return Ok(Actor::of(ActorId::Admin, Role::Admin));
        }
        let lookup = hash;
        let found = self
            .store
            .call(move |s| s.token_by_hash(&lookup))
            .await
            .map_err(ApiError::from)?;
        match found {
            Some((name, role)) => Ok(Actor::of(ActorId::Token(name), role)),
            None => Err(ApiError::unauthorized("the bearer token is not valid")),
        }
    }
}
