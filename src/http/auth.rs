//! The request side of authentication: the bearer token (or, for reading,
//! the web pages' sign-in cookie) of a request, checked by the service's
//! [`crate::service::Auth`], as the `Caller` / `MaybeCaller` extractors.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::orchestrator::Actor;
use crate::service::AppState;
use crate::service::errors::ApiError;
use crate::store::tokens::Role;

/// The cookie of the web pages that holds the API token.
pub const COOKIE: &str = "deckhand_token";

/// The bearer token of a request, or a 401 saying what is missing.
pub fn bearer(request: &HttpRequest) -> Result<String, ApiError> {
    let header = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing Authorization header: send 'Authorization: Bearer TOKEN'",
            )
        })?;
    let text = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be 'Bearer TOKEN'"))?;
    Ok(token.to_string())
}

/// The web page's sign-in cookie, accepted for reading only (GET): the
/// pages follow an intent's events with it. Changes always need the bearer
/// header (or the pages' own forms), so a cookie alone cannot be used to
/// change anything across sites.
fn cookie_for_reading(request: &HttpRequest) -> Option<String> {
    if request.method() != actix_web::http::Method::GET {
        return None;
    }
    request
        .cookie(COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

/// Who made a request, for its log line (see [`crate::logging`]).
#[derive(Debug, Clone)]
pub struct RequestActor(pub String);

/// Remembers the authenticated actor on the request, for its log line.
pub fn note_actor(request: &HttpRequest, actor: &Actor) {
    use actix_web::HttpMessage;
    request
        .extensions_mut()
        .insert(RequestActor(actor.name.clone()));
}

/// An authenticated caller (any role).
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

impl Caller {
    /// 403 unless the caller has at least `role`.
    pub fn require(&self, role: Role, doing: &str) -> Result<&Actor, ApiError> {
        if self.0.role >= role {
            Ok(&self.0)
        } else {
            Err(ApiError::forbidden(format!(
                "{} is a {}; {doing} needs the {} role",
                self.0.name,
                self.0.role.as_str(),
                role.as_str()
            )))
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(request).or_else(|missing| cookie_for_reading(request).ok_or(missing));
        let request = request.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let token = token?;
            let actor = state.auth.authenticate(&token).await?;
            note_actor(&request, &actor);
            Ok(Caller(actor))
        })
    }
}

/// A caller who may be anonymous (catalogue routes when the catalogue is public).
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Actor>);

impl FromRequest for MaybeCaller {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(request);
        let request = request.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            match token {
                Ok(token) => {
                    let actor = state.auth.authenticate(&token).await?;
                    note_actor(&request, &actor);
                    Ok(MaybeCaller(Some(actor)))
                }
                Err(_) if state.public_catalogue => Ok(MaybeCaller(None)),
                Err(missing) => Err(missing),
            }
        })
    }
}
