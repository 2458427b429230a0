//! Steering a canary or blue-green upgrade while it runs: promote (the next
//! stage now; retire blue now), pause (wait for a promote after the current
//! stage) and abort (go back; after a blue-green switch, switch back). What
//! the rollout then does is an event of the intent (its SSE stream shows
//! it); 409 when the intent has no stage running that could take the word.

use actix_web::{HttpResponse, web};

use super::AppState;
use super::auth::Caller;
use super::errors::{ApiError, ErrorBody};
use crate::orchestrator::strategy::control::SignalKind;
use crate::store::IntentRecord;
use crate::store::tokens::Role;

type Result<T> = std::result::Result<T, ApiError>;

async fn steer(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    kind: SignalKind,
    doing: &str,
) -> Result<HttpResponse> {
    let actor = caller.require(Role::Deployer, doing)?.clone();
    let intent = state.orchestrator.steer(&id, &actor, kind).await?;
    Ok(HttpResponse::Accepted().json(intent))
}

/// Promotes a running canary to its next stage now (after a pause too), or
/// retires blue now after a blue-green switch.
#[utoipa::path(post, path = "/api/orchestration/intents/{id}/promote",
    responses((status = 202, body = IntentRecord), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn promote_intent(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    steer(state, caller, id, SignalKind::Promote, "promoting").await
}

/// Makes a running canary wait for a promote once its current stage is validated.
#[utoipa::path(post, path = "/api/orchestration/intents/{id}/pause",
    responses((status = 202, body = IntentRecord), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn pause_intent(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    steer(state, caller, id, SignalKind::Pause, "pausing").await
}

/// Aborts a running canary or blue-green upgrade: the installed revision
/// serves again and nothing of the new version is left (after a blue-green
/// switch: the Services switch back to blue at once).
#[utoipa::path(post, path = "/api/orchestration/intents/{id}/abort",
    responses((status = 202, body = IntentRecord), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn abort_intent(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    steer(state, caller, id, SignalKind::Abort, "aborting").await
}
