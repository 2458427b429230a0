//! The small web front end, server-rendered with minijinja from templates
//! embedded in the binary (no CDN, nothing fetched from the internet; the
//! only script is the intent page's live progress over server-sent events).
//! Pages: the catalogue with search and category filter, a page per
//! blueprint with its graph, the intents and their live progress, and a chat
//! page on the same conversation core as `POST /api/chat`. Sign-in keeps the
//! API token in an HttpOnly, SameSite=Strict cookie; the chat form also
//! carries a CSRF token (an HMAC of the sign-in) and a foreign `Origin` is
//! refused; after sign-in only this site's paths are followed. The catalogue
//! pages are public when the config says so.

use std::sync::LazyLock;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Environment, Value, context};
use serde::Deserialize;

use super::AppState;
use crate::orchestrator::Actor;
use crate::store::IntentFilter;
use crate::store::tokens::Role;

pub use super::auth::COOKIE;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("base.html", include_str!("../../templates/base.html")),
        (
            "catalogue.html",
            include_str!("../../templates/catalogue.html"),
        ),
        (
            "blueprint.html",
            include_str!("../../templates/blueprint.html"),
        ),
        ("intents.html", include_str!("../../templates/intents.html")),
        ("intent.html", include_str!("../../templates/intent.html")),
        ("chat.html", include_str!("../../templates/chat.html")),
        ("login.html", include_str!("../../templates/login.html")),
    ] {
        env.add_template(name, source)
            .expect("embedded templates are valid");
    }
    env
});

fn page(name: &str, ctx: Value) -> HttpResponse {
    match TEMPLATES.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(err) => HttpResponse::InternalServerError()
            .content_type("text/plain")
            .body(format!("template {name}: {err}")),
    }
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

/// The signed-in actor, from the cookie.
async fn signed_in(request: &HttpRequest, state: &AppState) -> Option<Actor> {
    let token = request.cookie(COOKIE)?.value().to_string();
    let actor = state.auth.authenticate(&token).await.ok()?;
    super::auth::note_actor(request, &actor);
    Some(actor)
}

fn to_login(request: &HttpRequest) -> HttpResponse {
    let next = request
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.to_string());
    redirect(&format!("/login?next={}", form_urlencoded(&next)))
}

fn form_urlencoded(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|s| s.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

fn who(actor: &Option<Actor>) -> (bool, String) {
    (
        actor.is_some(),
        actor.as_ref().map_or(String::new(), |a| a.name.clone()),
    )
}

#[derive(Debug, Deserialize)]
pub struct CatalogueQuery {
    q: Option<String>,
    category: Option<String>,
}

pub async fn catalogue(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CatalogueQuery>,
) -> HttpResponse {
    let actor = signed_in(&request, &state).await;
    if actor.is_none() && !state.public_catalogue {
        return to_login(&request);
    }
    let category = query.category.clone().filter(|c| !c.is_empty());
    let catalogue = state.orchestrator.catalogue();
    let hits = catalogue.search(query.q.as_deref(), category.as_deref());
    let categories: Vec<(String, usize)> = catalogue.categories().into_iter().collect();
    let (signed, name) = who(&actor);
    page(
        "catalogue.html",
        context! { blueprints => Value::from(minijinja::value::Serde(&hits)), categories => categories, q => query.q.clone().unwrap_or_default(), category => category.unwrap_or_default(), signed_in => signed, who => name },
    )
}

pub async fn blueprint(
    request: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> HttpResponse {
    let actor = signed_in(&request, &state).await;
    if actor.is_none() && !state.public_catalogue {
        return to_login(&request);
    }
    let catalogue = state.orchestrator.catalogue();
    let Ok(entry) = catalogue.get(&name) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(format!("'{name}' is not in the catalogue"));
    };
    let detail = catalogue.detail(entry);
    let graph = crate::graph::blueprint_graph(catalogue, &name, None)
        .map(|g| g.svg())
        .unwrap_or_else(|e| format!("<p>{e}</p>"));
    let (signed, who_name) = who(&actor);
    page(
        "blueprint.html",
        context! { b => Value::from(minijinja::value::Serde(&detail)), graph => graph, signed_in => signed, who => who_name },
    )
}

pub async fn intents(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(actor) = signed_in(&request, &state).await else {
        return to_login(&request);
    };
    let filter = IntentFilter {
        limit: 100,
        ..Default::default()
    };
    let intents = match state
        .orchestrator
        .store()
        .call(move |s| s.list_intents(&filter))
        .await
    {
        Ok((intents, _)) => intents,
        Err(err) => return HttpResponse::InternalServerError().body(err.to_string()),
    };
    page(
        "intents.html",
        context! { intents => Value::from(minijinja::value::Serde(&intents)), signed_in => true, who => actor.name },
    )
}

pub async fn intent(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let Some(actor) = signed_in(&request, &state).await else {
        return to_login(&request);
    };
    let Ok(record) = state.orchestrator.intent(&id).await else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(format!("no intent {id}"));
    };
    let owned = id.into_inner();
    let events = state
        .orchestrator
        .store()
        .call(move |s| s.events(&owned, None))
        .await
        .unwrap_or_default();
    let releases: Vec<crate::render::RenderedRelease> = record
        .plan
        .as_ref()
        .and_then(|p| p.get("releases").cloned())
        .and_then(|r| serde_json::from_value::<Vec<serde_json::Value>>(r).ok())
        .unwrap_or_default()
        .iter()
        .filter_map(crate::graph::release_from_stored)
        .collect();
    let graph = if releases.is_empty() {
        String::new()
    } else {
        crate::graph::Graph::of(&releases, &crate::graph::statuses_from_events(&events)).svg()
    };
    let live = !record.status.is_terminal();
    page(
        "intent.html",
        context! { i => Value::from(minijinja::value::Serde(&record)), events => Value::from(minijinja::value::Serde(&events)), graph => graph, live => live, signed_in => true, who => actor.name },
    )
}

#[derive(Debug, Deserialize)]
pub struct ChatQuery {
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ChatForm {
    message: String,
    conversation_id: Option<String>,
    /// The form's CSRF token ([`csrf_token`]).
    csrf: Option<String>,
}

pub async fn chat_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ChatQuery>,
) -> HttpResponse {
    let Some(actor) = signed_in(&request, &state).await else {
        return to_login(&request);
    };
    let csrf = request
        .cookie(COOKIE)
        .map(|c| csrf_token(c.value()))
        .unwrap_or_default();
    page(
        "chat.html",
        context! { messages => Vec::<Value>::new(), prefill => query.message.clone(), csrf => csrf, signed_in => true, who => actor.name },
    )
}

pub async fn chat_post(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ChatForm>,
) -> HttpResponse {
    let Some(actor) = signed_in(&request, &state).await else {
        return to_login(&request);
    };
    let form = form.into_inner();
    if !same_site_form(&request, form.csrf.as_deref()) {
        return HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("This form was not sent from deckhand's own chat page (its CSRF check failed), so nothing was done: open /chat and send it again.");
    }
    let csrf = form.csrf.clone().unwrap_or_default();
    let conversation = form.conversation_id.filter(|c| !c.is_empty());
    let reply = if actor.role < Role::Deployer {
        Err(format!(
            "{} is a {}; deploying needs the deployer role",
            actor.name,
            actor.role.as_str()
        ))
    } else {
        state
            .orchestrator
            .chat(&actor, &form.message, conversation.clone())
            .await
            .map_err(|e| e.to_string())
    };
    let (conversation_id, error, awaiting, started) = match &reply {
        Ok(reply) => (
            Some(reply.conversation_id.clone()),
            None,
            reply.state == "awaiting_confirmation",
            (reply.state == "started")
                .then(|| reply.intent.as_ref().map(|i| i.id.clone()))
                .flatten(),
        ),
        Err(err) => (conversation.clone(), Some(err.clone()), false, None),
    };
    // A question back: its answers as buttons that send them in this conversation.
    let choices: Vec<String> = reply
        .as_ref()
        .map(|r| r.choices.clone())
        .unwrap_or_default();
    let messages = match &conversation_id {
        Some(id) => {
            let id = id.clone();
            state
                .orchestrator
                .store()
                .call(move |s| s.messages(&id))
                .await
                .unwrap_or_default()
        }
        None => vec![],
    };
    page(
        "chat.html",
        context! { messages => Value::from(minijinja::value::Serde(&messages)), conversation_id => conversation_id, error => error, awaiting => awaiting, started => started, choices => choices, csrf => csrf, signed_in => true, who => actor.name },
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

/// Only paths of this site are followed after sign-in: one leading `/`
/// not followed by another `/` or a `\`, and no backslash, space or
/// control character anywhere (browsers read `/\evil.com` and
/// `/\t/evil.com` as `//evil.com`, another site).
fn safe_next(next: Option<String>) -> String {
    next.filter(|n| {
        let mut chars = n.chars();
        chars.next() == Some('/')
            && !matches!(chars.next(), Some('/' | '\\'))
            && !n
                .chars()
                .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
    })
    .unwrap_or_else(|| "/".into())
}

/// The key of this process's CSRF tokens (forms of an earlier process are
/// refused, and say so).
static CSRF_KEY: LazyLock<[u8; 32]> = LazyLock::new(rand::random);

/// The CSRF token of the chat form for a sign-in (the session cookie's
/// value): an HMAC, so a page of another site, which cannot read the page or
/// the cookie, cannot make one.
fn csrf_token(session: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&*CSRF_KEY)
        .expect("HMAC takes any key length");
    mac.update(b"deckhand chat form\0");
    mac.update(session.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether a POST came from deckhand's own form: its CSRF token matches the
/// sign-in, and an `Origin` header, when the browser sends one, is this
/// site's own.
fn same_site_form(request: &HttpRequest, sent: Option<&str>) -> bool {
    use subtle::ConstantTimeEq;
    let Some(session) = request.cookie(COOKIE) else {
        return false;
    };
    let expected = csrf_token(session.value());
    let token_ok = sent.is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(expected.as_bytes())));
    let origin_ok = match request.headers().get(header::ORIGIN) {
        None => true,
        Some(origin) => {
            let host = request.connection_info().host().to_string();
            origin.to_str().ok().is_some_and(|o| {
                o.strip_prefix("http://")
                    .or_else(|| o.strip_prefix("https://"))
                    .is_some_and(|rest| rest == host)
            })
        }
    };
    token_ok && origin_ok
}

pub async fn login_page(query: web::Query<LoginQuery>) -> HttpResponse {
    page(
        "login.html",
        context! { next => safe_next(query.next.clone()), signed_in => false },
    )
}

pub async fn login(state: web::Data<AppState>, form: web::Form<LoginForm>) -> HttpResponse {
    let form = form.into_inner();
    match state.auth.authenticate(form.token.trim()).await {
        Ok(_) => {
            let cookie = Cookie::build(COOKIE, form.token.trim().to_string())
                .path("/")
                .http_only(true)
                .same_site(SameSite::Strict)
                .finish();
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, safe_next(form.next)))
                .cookie(cookie)
                .finish()
        }
        Err(_) => {
            let mut response = page(
                "login.html",
                context! { next => safe_next(form.next), error => "That token is not valid.", signed_in => false },
            );
            *response.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
            response
        }
    }
}

pub async fn logout() -> HttpResponse {
    let mut cookie = Cookie::build(COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    cookie.make_removal();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .cookie(cookie)
        .finish()
}

/// Registers the pages.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(catalogue))
        .route("/blueprints/{name}", web::get().to(blueprint))
        .route("/intents", web::get().to(intents))
        .route("/intents/{id}", web::get().to(intent))
        .route("/chat", web::get().to(chat_page))
        .route("/chat", web::post().to(chat_post))
        .route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login))
        .route("/logout", web::get().to(logout));
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_of_this_site_are_followed_after_sign_in() {
        for (next, expected) in [
            ("/intents/1?x=2", "/intents/1?x=2"),
            ("/", "/"),
            ("//evil.com", "/"),
            ("/\\evil.com", "/"),
            ("/\t/evil.com", "/"),
            ("/\n/evil.com", "/"),
            ("/a\\b", "/"),
            ("https://evil.com", "/"),
            ("evil.com", "/"),
            ("", "/"),
        ] {
            assert_eq!(safe_next(Some(next.into())), expected, "{next:?}");
        }
    }
}
