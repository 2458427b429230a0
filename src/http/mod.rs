//! The HTTP front end (actix-web): the JSON API under `/api` (bearer
//! tokens), `/healthz`, `/metrics` (Prometheus), and `/api/openapi.json`
//! generated from the handlers' annotations (utoipa).

pub mod api;
pub mod auth;
pub mod pages;
pub mod sse;
pub mod steer;

pub use crate::service::{AppState, errors};

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::dev::Service;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use futures_util::FutureExt;
use utoipa::OpenApi;

use crate::metrics::HttpLabels;
use errors::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(title = "deckhand", description = "Natural-language deployments: intents, plans, blueprints, releases."),
    paths(
        api::deploy, api::plan, api::list_intents, api::get_intent, api::intent_events, api::retry_intent, api::confirm_intent, api::cancel_intent,
        steer::promote_intent, steer::pause_intent, steer::abort_intent,
        api::list_blueprints, api::get_blueprint, api::blueprint_dependencies, api::blueprint_graph, api::intent_graph, api::list_releases, api::get_release,
        api::chat, api::chat_confirm, api::chat_history, api::create_token, api::list_tokens, api::revoke_token, healthz, readyz, metrics
    ),
    components(schemas(errors::ErrorBody, crate::store::IntentRecord, crate::store::EventRecord, crate::store::IntentStatus, crate::graph::GraphFormat)),
    modifiers(&BearerAuth, &ErrorAnswers)
)]
pub struct ApiDoc;

/// Documents the error answers every `/api` route can give, with the
/// `ErrorBody` they carry, where an operation does not list them itself:
/// 400 (a query, path or JSON body that does not parse), 401 (no or a
/// wrong token), 422 (a request body whose values are refused) and 503
/// (the database cannot take the request now; `Retry-After` says when to
/// try again).
struct ErrorAnswers;

impl utoipa::Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
        let answer = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/") || path == "/api/openapi.json" {
                continue;
            }
            let operations = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                let with_body = operation.request_body.is_some();
                let responses = &mut operation.responses.responses;
                responses.entry("400".into()).or_insert_with(|| {
                    answer("The query, path or body does not parse (`bad_request`).")
                });
                responses.entry("401".into()).or_insert_with(|| {
                    answer("No bearer token, or one that is not valid or was revoked (`unauthorized`).")
                });
                if with_body {
                    responses.entry("422".into()).or_insert_with(|| {
                        answer("The body parses, but a value in it is refused, with the reason and suggestions (`unprocessable`).")
                    });
                }
                responses.entry("503".into()).or_insert_with(|| {
                    answer("The database is busy, locked or full; try again after the `Retry-After` seconds (`unavailable`).")
                });
            }
        }
    }
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Liveness: answers without authentication.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Object)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Readiness: 200 once intents run at once, 503 with the reason while the
/// default executor is not there (a Kubernetes cluster not connected yet:
/// a new connection is started and the last error said). Once connected it
/// stays ready: whether the cluster still answers is each intent's to say.
/// No authentication, as for `/healthz`.
#[utoipa::path(get, path = "/readyz", responses((status = 200, body = Object), (status = 503, body = Object)))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let readiness = state.orchestrator.readiness();
    match readiness {
        crate::orchestrator::Readiness::Ready { .. } => HttpResponse::Ok().json(readiness),
        crate::orchestrator::Readiness::NotReady { .. } => {
            HttpResponse::ServiceUnavailable().json(readiness)
        }
    }
}

/// Prometheus metrics (text format).
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.orchestrator.metrics.encode())
}

async fn openapi(_caller: auth::Caller) -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

async fn not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "no route for {} {}",
        request.method(),
        request.path()
    )))
}

/// Registers every route on an app (used by the server and by tests).
pub fn configure(config: &mut web::ServiceConfig, body_limit: usize) {
    let json = web::JsonConfig::default()
        .limit(body_limit)
        .error_handler(|err, _| {
            let detail = err.to_string();
            match err {
                actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
                | actix_web::error::JsonPayloadError::Overflow { .. } => ApiError::new(
                    actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    detail,
                )
                .into(),
                actix_web::error::JsonPayloadError::ContentType => {
                    ApiError::bad_request("send a JSON body with Content-Type: application/json")
                        .into()
                }
                _ => ApiError::bad_request(format!("invalid JSON body: {detail}")).into(),
            }
        });
    let query = web::QueryConfig::default()
        .error_handler(|err, _| ApiError::bad_request(format!("invalid query: {err}")).into());
    let path = web::PathConfig::default()
        .error_handler(|err, _| ApiError::bad_request(format!("invalid path: {err}")).into());
    config
        .app_data(json)
        .app_data(query)
        .app_data(path)
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .route("/api/openapi.json", web::get().to(openapi))
        .service(
            web::scope("/api/orchestration")
                .route("/deploy", web::post().to(api::deploy))
                .route("/plan", web::post().to(api::plan))
                .route("/intents", web::get().to(api::list_intents))
                .route("/intents/{id}", web::get().to(api::get_intent))
                .route("/intents/{id}", web::delete().to(api::cancel_intent))
                .route("/intents/{id}/events", web::get().to(api::intent_events))
                .route("/intents/{id}/retry", web::post().to(api::retry_intent))
                .route("/intents/{id}/confirm", web::post().to(api::confirm_intent))
                .route(
                    "/intents/{id}/promote",
                    web::post().to(steer::promote_intent),
                )
                .route("/intents/{id}/pause", web::post().to(steer::pause_intent))
                .route("/intents/{id}/abort", web::post().to(steer::abort_intent))
                .route("/blueprints", web::get().to(api::list_blueprints))
                .route("/blueprints/{name}", web::get().to(api::get_blueprint))
                .route(
                    "/blueprints/{name}/dependencies",
                    web::get().to(api::blueprint_dependencies),
                )
                .route(
                    "/blueprints/{name}/graph",
                    web::get().to(api::blueprint_graph),
                )
                .route("/intents/{id}/graph", web::get().to(api::intent_graph))
                .route("/releases", web::get().to(api::list_releases))
                .route(
                    "/releases/{namespace}/{name}",
                    web::get().to(api::get_release),
                ),
        )
        .route("/api/chat", web::post().to(api::chat))
        .route(
            "/api/chat/{conversation_id}",
            web::get().to(api::chat_history),
        )
        .route(
            "/api/chat/{conversation_id}/confirm",
            web::post().to(api::chat_confirm),
        )
        .route("/api/tokens", web::post().to(api::create_token))
        .route("/api/tokens", web::get().to(api::list_tokens))
        .route("/api/tokens/{name}", web::delete().to(api::revoke_token))
        .configure(pages::configure)
        .configure(crate::chatops::configure)
        .default_service(web::to(not_found));
}

/// What one client may take of the service.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest JSON body.
    pub body_bytes: usize,
    /// How long a request's head may take to arrive, and then its body.
    pub body_timeout: Duration,
    /// Connections open at once (shared by the workers).
    pub max_connections: usize,
}

/// The request's body stream, cut off with an error once `deadline` has
/// passed: a client that sends its body slowly (or never) cannot hold a
/// connection and a handler longer than that.
fn body_with_deadline(
    payload: actix_web::dev::Payload,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> actix_web::dev::Payload {
    use futures_util::StreamExt;
    let stream = futures_util::stream::unfold(Some(payload), move |state| async move {
        let mut payload = state?;
        match tokio::time::timeout_at(deadline, payload.next()).await {
            Ok(Some(item)) => Some((item, Some(payload))),
            Ok(None) => None,
            Err(_) => Some((
                Err(actix_web::error::PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the request body did not arrive within {} s",
                        timeout.as_secs()
                    ),
                ))),
                None,
            )),
        }
    });
    let boxed: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>>>,
    > = Box::pin(stream);
    actix_web::dev::Payload::from(boxed)
}

/// Runs the server until it is stopped (Ctrl-C / SIGTERM). Prints the
/// address it listens on (useful with port 0) before serving. A request's
/// head must arrive within `limits.body_timeout` (actix's
/// `client_request_timeout`) and its body within as long again; at most
/// `limits.max_connections` connections are open at once.
pub async fn serve(state: AppState, bind: &str, limits: Limits) -> std::io::Result<()> {
    let state = web::Data::new(state);
    let app_state = state.clone();
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    let body_limit = limits.body_bytes;
    let server = HttpServer::new(move || {
        let metrics = app_state.orchestrator.metrics.clone();
        App::new()
            .app_data(app_state.clone())
            .wrap_fn(move |mut request, service| {
                let payload = actix_web::HttpMessage::take_payload(&mut request);
                request.set_payload(body_with_deadline(
                    payload,
                    tokio::time::Instant::now() + limits.body_timeout,
                    limits.body_timeout,
                ));
                let method = request.method().to_string();
                let route = request
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".into());
                // The path only: a query string may carry anything.
                let path = request.path().to_string();
                let started = std::time::Instant::now();
                let metrics = metrics.clone();
                service.call(request).map(move |result| {
                    let status = match &result {
                        Ok(response) => response.status().as_u16(),
                        Err(err) => err.as_response_error().status_code().as_u16(),
                    };
                    let actor = result.as_ref().ok().and_then(|response| {
                        use actix_web::HttpMessage;
                        response
                            .request()
                            .extensions()
                            .get::<auth::RequestActor>()
                            .map(|a| a.0.clone())
                    });
                    tracing::info!(
                        target: "deckhand::http",
                        method = method.as_str(),
                        path = path.as_str(),
                        route = route.as_str(),
                        status,
                        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
                        actor = actor.as_deref().unwrap_or("-"),
                        "request"
                    );
                    metrics
                        .http_requests
                        .get_or_create(&HttpLabels {
                            method,
                            route,
                            status,
                        })
                        .inc();
                    result
                })
            })
            .configure(|c| configure(c, body_limit))
    })
    .workers(workers)
    .client_request_timeout(limits.body_timeout)
    .client_disconnect_timeout(Duration::from_secs(2))
    .keep_alive(Duration::from_secs(30))
    .max_connections((limits.max_connections / workers).max(1))
    .backlog(1024)
    .bind(bind)?;
    let addresses: Vec<SocketAddr> = server.addrs();
    for address in &addresses {
        println!("deckhand listening on http://{address}");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    drop(state);
    server.run().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` of the document names a schema it defines, and every
    /// `/api` operation documents its error answers.
    #[test]
    fn the_openapi_document_defines_what_it_references_and_documents_errors() {
        let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        let mut stack = vec![&document];
        let mut references = 0;
        while let Some(value) = stack.pop() {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(target) = map.get("$ref").and_then(|r| r.as_str()) {
                        let name = target.trim_start_matches("#/components/schemas/");
                        assert!(schemas.contains_key(name), "{target} is not defined");
                        references += 1;
                    }
                    stack.extend(map.values());
                }
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
        assert!(references > 10);
        assert!(schemas.contains_key("GraphFormat"));
        for (path, item) in document["paths"].as_object().unwrap() {
            if !path.starts_with("/api/") {
                continue;
            }
            for (method, operation) in item.as_object().unwrap() {
                let responses = &operation["responses"];
                for code in ["400", "401", "503"] {
                    assert!(responses.get(code).is_some(), "{method} {path}: no {code}");
                }
                if operation.get("requestBody").is_some() {
                    assert!(responses.get("422").is_some(), "{method} {path}: no 422");
                }
            }
        }
    }
}
