//! Slack: `POST /slack/commands` (slash commands, form-encoded) and
//! `POST /slack/interactions` (button clicks: a form field `payload` holding
//! `block_actions` JSON), answered in Block Kit.
//!
//! Every request is verified as Slack signs it: `X-Slack-Signature` is `v0=`
//! and the hex HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{raw body}`
//! with the signing secret (`DECKHAND_SLACK_SIGNING_SECRET`), compared in
//! constant time; a timestamp more than five minutes away is refused, and so
//! is a signature already seen in the last five minutes (a replay). Without
//! a signing secret the routes answer 404.
//!
//! A slash command is answered within Slack's three seconds (see
//! [`super::reply_within`]); a plan comes with Confirm and Cancel buttons
//! whose values are the intent id. A press replaces the message through the
//! interaction's `response_url`, and a started intent's progress and result
//! follow there ([`super::follow`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{HttpRequest, HttpResponse, web};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{Button, ChatUser, Chatops, Follow, Reply, follow, post, reply_within};
use crate::service::AppState;
use crate::service::errors::ApiError;

/// How far a request's timestamp may be from now, and how long signatures are remembered.
pub const WINDOW: Duration = Duration::from_secs(5 * 60);

/// Registers `/slack/commands` and `/slack/interactions`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/slack/commands", web::post().to(commands))
        .route("/slack/interactions", web::post().to(interactions));
}

/// The signature Slack sends for `body` at `timestamp`: `v0=` and hex.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a request is not accepted as Slack's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("X-Slack-Request-Timestamp '{0}' is not a Unix time")]
    BadTimestamp(String),
    #[error(
        "stale request: timestamp {given} is {off} s away from now ({now}); at most 300 s are accepted"
    )]
    Stale { given: i64, now: i64, off: i64 },
    #[error("X-Slack-Signature '{0}' does not match the body signed with the signing secret")]
    Mismatch(String),
    #[error("replayed request: signature '{0}' was already used")]
    Replayed(String),
}

/// Checks a request's signature and timestamp against `secret` at `now`
/// (Unix seconds); returns the signature.
pub fn check(
    secret: &str,
    timestamp: Option<&str>,
    given: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<String, SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::Missing("X-Slack-Request-Timestamp"))?;
    let given = given.ok_or(SignatureError::Missing("X-Slack-Signature"))?;
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp(timestamp.to_string()))?;
    let off = (now - at).abs();
    if off > WINDOW.as_secs() as i64 {
        return Err(SignatureError::Stale {
            given: at,
            now,
            off,
        });
    }
    let expected = signature(secret, timestamp, body);
    let same =
        expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()));
    if !same {
        return Err(SignatureError::Mismatch(given.to_string()));
    }
    Ok(given.to_string())
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Verifies the request (401 with the reason) and remembers its signature
/// in the database (a replay is refused, after a restart too).
async fn verify(
    chat: &Chatops,
    state: &AppState,
    request: &HttpRequest,
    body: &[u8],
) -> Result<(), ApiError> {
    let secret = chat
        .settings
        .slack_signing_secret
        .as_deref()
        .ok_or_else(|| {
            ApiError::not_found("Slack is not configured: set DECKHAND_SLACK_SIGNING_SECRET")
        })?;
    let signature = check(
        secret,
        header(request, "x-slack-request-timestamp"),
        header(request, "x-slack-signature"),
        body,
        now_unix(),
    )
    .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let key = format!("slack {signature}");
    let first = state
        .orchestrator
        .store()
        .call(move |s| s.first_use(&key, WINDOW))
        .await?;
    if !first {
        return Err(ApiError::unauthorized(
            SignatureError::Replayed(signature).to_string(),
        ));
    }
    Ok(())
}

/// The action id prefix of a button that answers a question.
const CHOICE: &str = "deckhand_choice_";

/// A Block Kit message for a reply.
pub fn message(reply: &Reply) -> Json {
    let section =
        |text: String| json!({"type": "section", "text": {"type": "mrkdwn", "text": text}});
    let mut blocks = vec![section(reply.text.chars().take(2_900).collect())];
    for part in &reply.sections {
        blocks.push(section(format!("```{}```", part.trim_end())));
    }
    if let (Some(id), false) = (&reply.intent_id, reply.buttons.is_empty()) {
        let elements: Vec<Json> = reply
            .buttons
            .iter()
            .map(|button| {
                let mut element = json!({
                    "type": "button",
                    "action_id": format!("deckhand_{}", button.as_str()),
                    "text": {"type": "plain_text", "text": button.label()},
                    "value": id,
                });
                match button {
                    Button::Confirm | Button::Approve => element["style"] = json!("primary"),
                    Button::Cancel => element["style"] = json!("danger"),
                }
                element
            })
            .collect();
        blocks
            .push(json!({"type": "actions", "block_id": "deckhand_intent", "elements": elements}));
    }
    if !reply.choices.is_empty() {
        // Each answer to the question sends its command, as if typed.
        let elements: Vec<Json> = reply
            .choices
            .iter()
            .enumerate()
            .map(|(n, choice)| {
                json!({
                    "type": "button",
                    "action_id": format!("{CHOICE}{n}"),
                    "text": {"type": "plain_text", "text": choice.chars().take(75).collect::<String>()},
                    "value": choice.chars().take(2_000).collect::<String>(),
                })
            })
            .collect();
        blocks
            .push(json!({"type": "actions", "block_id": "deckhand_choices", "elements": elements}));
    }
    json!({
        "response_type": if reply.public { "in_channel" } else { "ephemeral" },
        "replace_original": false,
        "text": reply.plain().chars().take(3_000).collect::<String>(),
        "blocks": blocks,
    })
}

/// What Slack posts for a slash command (the fields deckhand reads).
#[derive(Debug, Deserialize)]
struct SlashCommand {
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
    verify(&chat, &state, &request, &body).await?;
    let form: SlashCommand = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid Slack slash command form: {e}")))?;
    let user = ChatUser {
        platform: "slack",
        id: form.user_id,
        name: form.user_name,
        email: None,
    };
    let orchestrator = state.orchestrator.clone();
    let text = form.text;
    let worker = chat.clone();
    let reply = reply_within(
        chat.http.clone(),
        form.response_url,
        message,
        Reply::say("Working on it: the answer follows here in a moment."),
        async move { worker.command(&orchestrator, &user, &text).await },
    )
    .await;
    Ok(HttpResponse::Ok().json(message(&reply)))
}

#[derive(Debug, Deserialize)]
struct InteractionForm {
    payload: String,
}

async fn interactions(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let chat = state.chatops.clone();
    verify(&chat, &state, &request, &body).await?;
    let form: InteractionForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid Slack interaction form: {e}")))?;
    let payload: Json = serde_json::from_str(&form.payload)
        .map_err(|e| ApiError::bad_request(format!("the interaction payload is not JSON: {e}")))?;
    if payload["type"] != "block_actions" {
        // Other interaction types are not deckhand's: acknowledge them.
        return Ok(HttpResponse::Ok().finish());
    }
    let user_id = payload["user"]["id"]
        .as_str()
        .ok_or_else(|| ApiError::bad_request("the interaction payload has no user.id"))?;
    let user = ChatUser {
        platform: "slack",
        id: user_id.to_string(),
        name: payload["user"]["username"]
            .as_str()
            .or(payload["user"]["name"].as_str())
            .map(str::to_string),
        email: None,
    };
    let action = &payload["actions"][0];
    let action_id = action["action_id"].as_str().unwrap_or_default();
    if action_id.starts_with(CHOICE) {
        // The answer to a question: its command, as if the person typed it.
        let command = action["value"]
            .as_str()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| ApiError::bad_request("the choice carries no command"))?
            .to_string();
        let orchestrator = state.orchestrator.clone();
        let worker = chat.clone();
        let mut reply = reply_within(
            chat.http.clone(),
            payload["response_url"].as_str().map(str::to_string),
            message,
            Reply::say(format!("Working on `{command}`: the answer follows here.")),
            async move { worker.command(&orchestrator, &user, &command).await },
        )
        .await;
        reply.public = false;
        let mut answer = message(&reply);
        answer["replace_original"] = json!(true);
        return Ok(HttpResponse::Ok().json(answer));
    }
    let button = action_id
        .strip_prefix("deckhand_")
        .and_then(Button::parse)
        .ok_or_else(|| ApiError::bad_request(format!("unknown action '{action_id}'")))?;
    let intent_id = action["value"]
        .as_str()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("the button carries no intent id"))?
        .to_string();
    let response_url = payload["response_url"].as_str().map(str::to_string);

    let orchestrator = state.orchestrator.clone();
    let events = orchestrator.subscribe();
    let pressed = chat.press(&orchestrator, &user, button, &intent_id).await;
    let mut answer = message(&pressed.reply);
    answer["replace_original"] = json!(pressed.done);
    if !pressed.done {
        // A refusal is for the presser only; the buttons stay for others.
        answer["response_type"] = json!("ephemeral");
    }
    if let Some(url) = response_url {
        let http = chat.http.clone();
        let ack = answer.clone();
        let started = pressed.started.then(|| Follow {
            response_url: url.clone(),
            intent_id: intent_id.clone(),
            public: pressed.reply.public,
        });
        let orchestrator = Arc::clone(&orchestrator);
        tokio::spawn(async move {
            post(&http, &url, &ack).await;
            if let Some(target) = started {
                follow(orchestrator, http, events, target, message).await;
            }
        });
    }
    Ok(HttpResponse::Ok().json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_like_slack_does() {
        // Slack's documented example.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(signature(secret, "1531420618", body), expected);
        let now = 1_531_420_618 + 10;
        assert!(check(secret, Some("1531420618"), Some(expected), body, now).is_ok());
        assert!(matches!(
            check(secret, Some("1531420618"), Some("v0=00"), body, now),
            Err(SignatureError::Mismatch(_))
        ));
        assert!(matches!(
            check(secret, Some("1531420618"), Some(expected), body, now + 400),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(
            check(secret, None, Some(expected), body, now),
            Err(SignatureError::Missing("X-Slack-Request-Timestamp"))
        );
    }
}
