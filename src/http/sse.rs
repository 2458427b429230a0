//! Server-sent events for one intent: the stored events first, then live
//! ones as they are recorded, until the intent finishes. Subscribing before
//! reading the store, and skipping what was already sent, means no event is
//! lost or sent twice; a follower that falls behind catches up from the store.

use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::web::{self, Bytes};
use futures_util::stream;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::errors::ApiError;
use crate::store::EventRecord;

const KEEPALIVE: Duration = Duration::from_secs(15);

/// The last event an intent gets, whatever its outcome.
pub fn is_final(event: &EventRecord) -> bool {
    event.step == "finish" || event.status == "interrupted"
}

fn frame(event: &EventRecord) -> Bytes {
    let data = serde_json::to_string(event).unwrap_or_default();
    // Plain `message` events (the step is in the data), so a browser's
    // EventSource.onmessage sees every one of them.
    Bytes::from(format!("id: {}\ndata: {data}\n\n", event.id))
}

struct Follow {
    state: web::Data<AppState>,
    receiver: tokio::sync::broadcast::Receiver<EventRecord>,
    intent_id: String,
    last_id: i64,
    backlog: std::collections::VecDeque<EventRecord>,
    done: bool,
}

pub async fn intent_events(
    state: web::Data<AppState>,
    intent_id: String,
) -> Result<HttpResponse, ApiError> {
    let receiver = state.orchestrator.subscribe();
    let intent = state.orchestrator.intent(&intent_id).await?;
    let owned = intent_id.clone();
    let stored = state
        .orchestrator
        .store()
        .call(move |s| s.events(&owned, None))
        .await?;
    // A finished intent replays its log and closes, unless it is being retried.
    let finished = intent.status.is_terminal() && stored.last().is_some_and(is_final);
    let follow = Follow {
        state,
        receiver,
        intent_id,
        last_id: 0,
        backlog: stored.into(),
        done: false,
    };
    let body = stream::unfold(follow, move |mut follow| async move {
        loop {
            if let Some(event) = follow.backlog.pop_front() {
                if event.id <= follow.last_id {
                    continue;
                }
                follow.last_id = event.id;
                if is_final(&event) && (finished || follow.backlog.is_empty()) {
                    follow.done = true;
                }
                return Some((Ok::<Bytes, actix_web::Error>(frame(&event)), follow));
            }
            if follow.done || finished {
                return None;
            }
            match tokio::time::timeout(KEEPALIVE, follow.receiver.recv()).await {
                Err(_) => return Some((Ok(Bytes::from_static(b": keepalive\n\n")), follow)),
                Ok(Ok(event)) if event.intent_id == follow.intent_id => {
                    follow.backlog.push_back(event)
                }
                Ok(Ok(_)) => {}
                Ok(Err(RecvError::Lagged(_))) => {
                    let (id, after) = (follow.intent_id.clone(), follow.last_id);
                    match follow
                        .state
                        .orchestrator
                        .store()
                        .call(move |s| s.events(&id, Some(after)))
                        .await
                    {
                        Ok(missed) => follow.backlog.extend(missed),
                        Err(_) => return None,
                    }
                }
                Ok(Err(RecvError::Closed)) => return None,
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
