//! Mattermost: `POST /mattermost/commands` (slash commands, form-encoded)
//! and `POST /mattermost/actions` (interactive message buttons, JSON with the
//! `context` deckhand put on the button), answered in Mattermost's format
//! (`response_type`, `text`, `attachments` with `actions` whose
//! `integration.url` points back at deckhand).
//!
//! A slash command's `token` must equal `DECKHAND_MATTERMOST_TOKEN`
//! (compared in constant time). Mattermost does not sign button requests, so
//! every button's context carries `sig`, an HMAC-SHA256 with that token over
//! the action, the intent id, the `response_url` and the visibility: a
//! request whose context was not made by deckhand is refused. Mattermost
//! keeps contexts on its server; clients never see them.
//!
//! Buttons point at `DECKHAND_PUBLIC_URL` when set, else at the scheme and
//! host the command arrived on.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{Button, ChatUser, Chatops, Follow, Reply, follow, reply_within};
use crate::service::AppState;
use crate::service::errors::ApiError;

/// Registers `/mattermost/commands` and `/mattermost/actions`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/mattermost/commands", web::post().to(commands))
        .route("/mattermost/actions", web::post().to(actions));
}

fn token(chat: &Chatops) -> Result<&str, ApiError> {
    chat.settings.mattermost_token.as_deref().ok_or_else(|| {
        ApiError::not_found("Mattermost is not configured: set DECKHAND_MATTERMOST_TOKEN")
    })
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The signature of a button's context.
pub fn context_signature(
    token: &str,
    action: &str,
    intent_id: &str,
    response_url: &str,
    public: bool,
) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(token.as_bytes())
        .expect("HMAC accepts keys of any length");
    for part in [
        action,
        intent_id,
        response_url,
        if public { "1" } else { "0" },
    ] {
        mac.update(part.as_bytes());
        mac.update(b"\n");
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Where buttons send their requests.
#[derive(Debug, Clone)]
struct Target {
    token: String,
    actions_url: String,
    response_url: String,
}

/// A slash-command response (or a `response_url` post) for a reply.
fn message(reply: &Reply, target: Option<&Target>) -> Json {
    let mut body = json!({
        "response_type": if reply.public { "in_channel" } else { "ephemeral" },
        "text": reply.text,
    });
    let mut attachment = serde_json::Map::new();
    if !reply.sections.is_empty() {
        let text: Vec<String> = reply
            .sections
            .iter()
            .map(|s| format!("```\n{}\n```", s.trim_end()))
            .collect();
        attachment.insert("text".into(), json!(text.join("\n")));
    }
    if let (Some(target), Some(id)) = (target, &reply.intent_id) {
        let actions: Vec<Json> = reply
            .buttons
            .iter()
            .map(|button| {
                let action = button.as_str();
                json!({
                    "id": action,
                    "name": button.label(),
                    "style": if *button == Button::Cancel { "danger" } else { "primary" },
                    "integration": {
                        "url": target.actions_url,
                        "context": {
                            "action": action,
                            "intent_id": id,
                            "response_url": target.response_url,
                            "public": reply.public,
                            "sig": context_signature(&target.token, action, id, &target.response_url, reply.public),
                        }
                    }
                })
            })
            .collect();
        if !actions.is_empty() {
            attachment.insert("actions".into(), json!(actions));
        }
    }
    if let Some(target) = target
        && !reply.choices.is_empty()
    {
        // Each answer to the question sends its command, as if typed.
        let mut actions: Vec<Json> = attachment
            .remove("actions")
            .and_then(|a| a.as_array().cloned())
            .unwrap_or_default();
        for (n, choice) in reply.choices.iter().enumerate() {
            actions.push(json!({
                "id": format!("choice{n}"),
                "name": choice,
                "style": "default",
                "integration": {
                    "url": target.actions_url,
                    "context": {
                        "action": CHOICE,
                        "command": choice,
                        "response_url": target.response_url,
                        "public": reply.public,
                        "sig": context_signature(&target.token, CHOICE, choice, &target.response_url, reply.public),
                    }
                }
            }));
        }
        attachment.insert("actions".into(), json!(actions));
    }
    if !attachment.is_empty() {
        body["attachments"] = json!([attachment]);
    }
    body
}

/// The action of a button that answers a question (its context carries the
/// command instead of an intent id, signed the same way).
const CHOICE: &str = "choice";

/// For `response_url` posts (progress, results, late replies).
fn plain_message(reply: &Reply) -> Json {
    message(reply, None)
}

#[derive(Debug, Deserialize)]
struct SlashCommand {
    token: String,
    user_id: String,
    #[serde(default)]
    user_name: Option<String>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    response_url: Option<String>,
}

async fn commands(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let chat = state.chatops.clone();
    let expected = token(&chat)?.to_string();
    let form: SlashCommand = serde_urlencoded::from_bytes(&body).map_err(|e| {
        ApiError::bad_request(format!("invalid Mattermost slash command form: {e}"))
    })?;
    if !same(&form.token, &expected) {
        return Err(ApiError::unauthorized(
            "the Mattermost token does not match DECKHAND_MATTERMOST_TOKEN",
        ));
    }
    let base = chat.settings.public_url.clone().unwrap_or_else(|| {
        let info = request.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    });
    let user = ChatUser {
        platform: "mattermost",
        id: form.user_id,
        name: form.user_name,
        email: None,
    };
    let target = Target {
        token: expected,
        actions_url: format!("{base}/mattermost/actions"),
        response_url: form.response_url.clone().unwrap_or_default(),
    };
    let orchestrator = state.orchestrator.clone();
    let worker = chat.clone();
    let text = form.text;
    // A reply that misses the deadline goes to the response_url, buttons and all.
    let late = target.clone();
    let reply = reply_within(
        chat.http.clone(),
        form.response_url.filter(|u| !u.is_empty()),
        move |reply: &Reply| message(reply, Some(&late)),
        Reply::say("Working on it: the answer follows here in a moment."),
        async move { worker.command(&orchestrator, &user, &text).await },
    )
    .await;
    Ok(HttpResponse::Ok().json(message(&reply, Some(&target))))
}

/// What Mattermost posts when a button is pressed.
#[derive(Debug, Deserialize)]
struct ActionRequest {
    user_id: String,
    #[serde(default)]
    user_name: Option<String>,
    #[serde(default)]
    context: Json,
}

async fn actions(
    http_request: HttpRequest,
    body: web::Json<ActionRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let chat = state.chatops.clone();
    let token = token(&chat)?.to_string();
    let request = body.into_inner();
    let context = &request.context;
    let field = |name: &str| context[name].as_str().unwrap_or_default().to_string();
    let (action, intent_id, response_url) =
        (field("action"), field("intent_id"), field("response_url"));
    let public = context["public"].as_bool().unwrap_or(false);
    if action == CHOICE {
        let command = field("command");
        let expected = context_signature(&token, CHOICE, &command, &response_url, public);
        if !same(&field("sig"), &expected) || command.trim().is_empty() {
            return Err(ApiError::unauthorized(
                "the button's context was not signed by deckhand",
            ));
        }
        let base = chat.settings.public_url.clone().unwrap_or_else(|| {
            let info = http_request.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        });
        let target = Target {
            token,
            actions_url: format!("{base}/mattermost/actions"),
            response_url: response_url.clone(),
        };
        let user = ChatUser {
            platform: "mattermost",
            id: request.user_id.clone(),
            name: request.user_name.clone(),
            email: None,
        };
        let orchestrator = state.orchestrator.clone();
        let worker = chat.clone();
        let late = target.clone();
        let reply = reply_within(
            chat.http.clone(),
            Some(response_url).filter(|u| !u.is_empty()),
            move |reply: &Reply| message(reply, Some(&late)),
            Reply::say(format!("Working on `{command}`: the answer follows here.")),
            async move { worker.command(&orchestrator, &user, &command).await },
        )
        .await;
        let rendered = message(&reply, Some(&target));
        return Ok(HttpResponse::Ok().json(json!({
            "update": {"message": rendered["text"], "props": {"attachments": rendered.get("attachments").cloned().unwrap_or(json!([]))}}
        })));
    }
    let expected = context_signature(&token, &action, &intent_id, &response_url, public);
    if !same(&field("sig"), &expected) {
        return Err(ApiError::unauthorized(
            "the button's context was not signed by deckhand",
        ));
    }
    let button = Button::parse(&action)
        .ok_or_else(|| ApiError::bad_request(format!("unknown action '{action}'")))?;
    let user = ChatUser {
        platform: "mattermost",
        id: request.user_id,
        name: request.user_name,
        email: None,
    };
    let orchestrator = state.orchestrator.clone();
    let events = orchestrator.subscribe();
    let pressed = chat.press(&orchestrator, &user, button, &intent_id).await;
    if pressed.started && !response_url.is_empty() {
        let http = chat.http.clone();
        let target = Follow {
            response_url,
            intent_id,
            public: public || pressed.reply.public,
        };
        let orchestrator = Arc::clone(&orchestrator);
        tokio::spawn(follow(orchestrator, http, events, target, plain_message));
    }
    let answer = if pressed.done {
        json!({"update": {"message": pressed.reply.plain(), "props": {"attachments": []}}})
    } else {
        json!({"ephemeral_text": pressed.reply.plain()})
    };
    Ok(HttpResponse::Ok().json(answer))
}
