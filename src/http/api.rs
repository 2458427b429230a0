//! The JSON API under `/api`: orchestration (deploy, plan, intents, events,
//! retry, cancel, blueprints, dependencies, releases), chat, and tokens.
//! Handlers only translate: requests into orchestrator calls, results into
//! JSON; every decision lives in the orchestrator.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::auth::{Caller, MaybeCaller};
use super::errors::{ApiError, ErrorBody};
use super::{AppState, sse};
use crate::orchestrator::DeployOptions;
use crate::orchestrator::chat::ChatReply;
use crate::resolve::{self, Request};
use crate::store::releases::{ReleaseKey, ReleaseRecord, RevisionRecord};
use crate::store::tokens::{Role, TokenRecord};
use crate::store::{EventRecord, IntentFilter, IntentRecord, IntentStatus};

type Result<T> = std::result::Result<T, ApiError>;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// The sentence, e.g. "install authentik with TLS".
    pub command: String,
    #[serde(default)]
    pub options: DeployOptions,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanResponse {
    /// The plan: intent, releases in wave order, wiring (secrets masked), notes.
    #[schema(value_type = Object)]
    pub plan: Json,
    /// The same plan for a person.
    pub text: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IntentDetail {
    #[serde(flatten)]
    pub intent: IntentRecord,
    pub events: Vec<EventRecord>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IntentPage {
    pub intents: Vec<IntentRecord>,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IntentQuery {
    /// Only intents in this status.
    pub status: Option<String>,
    /// Only intents about this application.
    pub application: Option<String>,
    /// Page size (default 50, at most 500).
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BlueprintQuery {
    pub category: Option<String>,
    /// Text to find in names, aliases, tags and descriptions.
    pub search: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    pub message: String,
    pub conversation_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewToken {
    #[serde(flatten)]
    pub record: TokenRecord,
    /// Shown this once; only its hash is stored.
    pub token: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReleaseDetail {
    #[serde(flatten)]
    pub release: ReleaseRecord,
    pub revisions: Vec<RevisionRecord>,
}

/// Deploy: records the intent and answers at once; the work goes on.
#[utoipa::path(post, path = "/api/orchestration/deploy", request_body = DeployRequest,
    responses((status = 202, body = IntentRecord), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
               (status = 403, body = ErrorBody), (status = 422, body = ErrorBody, description = "the sentence or options cannot become an intent")),
    security(("bearer" = [])))]
pub async fn deploy(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<DeployRequest>,
) -> Result<HttpResponse> {
    let actor = caller.require(Role::Deployer, "deploying")?.clone();
    let body = body.into_inner();
    let intent = state
        .orchestrator
        .submit(&actor, &body.command, body.options, None, false)
        .await?;
    if intent.status == IntentStatus::Failed {
        let mut error = ApiError::unprocessable(
            intent.error.clone().unwrap_or_default(),
            intent.suggestions.clone(),
        );
        error.body.intent_id = Some(intent.id.clone());
        return Err(error);
    }
    Ok(HttpResponse::Accepted().json(intent))
}

/// Plan: what a sentence would do; nothing is recorded or executed.
#[utoipa::path(post, path = "/api/orchestration/plan", request_body = DeployRequest,
    responses((status = 200, body = PlanResponse), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn plan(
    state: web::Data<AppState>,
    _caller: Caller,
    body: web::Json<DeployRequest>,
) -> Result<HttpResponse> {
    let plan = state.orchestrator.plan_only(&body.command, &body.options)?;
    let text = plan.to_text();
    Ok(HttpResponse::Ok().json(PlanResponse {
        plan: serde_json::to_value(&plan).map_err(|e| ApiError::internal(e.to_string()))?,
        text,
    }))
}

#[utoipa::path(get, path = "/api/orchestration/intents", params(IntentQuery),
    responses((status = 200, body = IntentPage), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_intents(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<IntentQuery>,
) -> Result<HttpResponse> {
    let query = query.into_inner();
    let status = query
        .status
        .as_deref()
        .map(str::parse::<IntentStatus>)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let filter = IntentFilter {
        status,
        application: query.application,
        requested_by: None,
        limit: query.limit.unwrap_or(50).clamp(1, 500),
        offset: query.offset.unwrap_or(0),
    };
    let (limit, offset) = (filter.limit, filter.offset);
    let (intents, total) = state
        .orchestrator
        .store()
        .call(move |s| s.list_intents(&filter))
        .await?;
    Ok(HttpResponse::Ok().json(IntentPage {
        intents,
        total,
        limit,
        offset,
    }))
}

#[utoipa::path(get, path = "/api/orchestration/intents/{id}",
    responses((status = 200, body = IntentDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_intent(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let intent = state.orchestrator.intent(&id).await?;
    let owned = id.into_inner();
    let events = state
        .orchestrator
        .store()
        .call(move |s| s.events(&owned, None))
        .await?;
    Ok(HttpResponse::Ok().json(IntentDetail { intent, events }))
}

/// The intent's events as server-sent events: the stored ones, then live ones until it finishes.
#[utoipa::path(get, path = "/api/orchestration/intents/{id}/events",
    responses((status = 200, description = "text/event-stream of EventRecord JSON", content_type = "text/event-stream"), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn intent_events(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    sse::intent_events(state, id.into_inner()).await
}

#[utoipa::path(post, path = "/api/orchestration/intents/{id}/retry",
    responses((status = 202, body = IntentRecord), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn retry_intent(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let actor = caller.require(Role::Deployer, "retrying")?.clone();
    let intent = state.orchestrator.retry(&id, &actor).await?;
    Ok(HttpResponse::Accepted().json(intent))
}

/// Starts an intent that waits for confirmation: its owner may, and in a
/// protected namespace only an admin, whose confirmation is the recorded
/// approval (403 for anyone else, 409 when it is not waiting).
#[utoipa::path(post, path = "/api/orchestration/intents/{id}/confirm",
    responses((status = 202, body = IntentRecord), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn confirm_intent(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let actor = caller.require(Role::Deployer, "confirming")?.clone();
    let intent = state.orchestrator.confirm(&id, &actor).await?;
    Ok(HttpResponse::Accepted().json(intent))
}

/// Cancels an intent that has not finished (409 for a finished one).
#[utoipa::path(delete, path = "/api/orchestration/intents/{id}",
    responses((status = 200, body = IntentRecord), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel_intent(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let actor = caller.require(Role::Deployer, "cancelling")?.clone();
    let intent = state.orchestrator.cancel(&id, &actor).await?;
    Ok(HttpResponse::Ok().json(intent))
}

#[utoipa::path(get, path = "/api/orchestration/blueprints", params(BlueprintQuery),
    responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
pub async fn list_blueprints(
    state: web::Data<AppState>,
    _caller: MaybeCaller,
    query: web::Query<BlueprintQuery>,
) -> Result<HttpResponse> {
    let hits = state
        .orchestrator
        .catalogue()
        .search(query.search.as_deref(), query.category.as_deref());
    Ok(HttpResponse::Ok().json(hits))
}

fn unknown_blueprint(err: crate::catalogue::UnknownBlueprint) -> ApiError {
    ApiError::not_found(err.to_string()).with_suggestions(err.suggestions)
}

#[utoipa::path(get, path = "/api/orchestration/blueprints/{name}",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_blueprint(
    state: web::Data<AppState>,
    _caller: MaybeCaller,
    name: web::Path<String>,
) -> Result<HttpResponse> {
    let catalogue = state.orchestrator.catalogue();
    let entry = catalogue.get(&name).map_err(unknown_blueprint)?;
    Ok(HttpResponse::Ok().json(catalogue.detail(entry)))
}

/// The resolved dependency tree and its waves, with default parameters.
#[utoipa::path(get, path = "/api/orchestration/blueprints/{name}/dependencies",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn blueprint_dependencies(
    state: web::Data<AppState>,
    _caller: MaybeCaller,
    name: web::Path<String>,
) -> Result<HttpResponse> {
    let catalogue = state.orchestrator.catalogue();
    let entry = catalogue.get(&name).map_err(unknown_blueprint)?;
    let root = entry.blueprint.name().to_string();
    let graph = resolve::resolve(
        catalogue,
        &[Request {
            blueprint: root.clone(),
            ..Default::default()
        }],
    )
    .map_err(|e| ApiError::unprocessable(e.to_string(), vec![]))?;
    fn tree(
        graph: &resolve::ReleaseGraph,
        index: petgraph::graph::NodeIndex,
        alias: Option<&str>,
    ) -> Json {
        let node = graph.node(index);
        json!({
            "release": node.release, "blueprint": node.blueprint, "version": node.version, "as": alias,
            "requires": graph.dependencies(index).iter().map(|(a, d)| tree(graph, *d, Some(a))).collect::<Vec<_>>(),
        })
    }
    let root_index = graph
        .find(&root)
        .ok_or_else(|| ApiError::internal("root release missing"))?;
    let waves: Vec<Vec<String>> = graph
        .waves
        .iter()
        .map(|w| w.iter().map(|i| graph.node(*i).release.clone()).collect())
        .collect();
    Ok(HttpResponse::Ok()
        .json(json!({"blueprint": root, "tree": tree(&graph, root_index, None), "waves": waves})))
}

#[utoipa::path(get, path = "/api/orchestration/releases",
    responses((status = 200, body = Vec<ReleaseRecord>)), security(("bearer" = [])))]
pub async fn list_releases(state: web::Data<AppState>, _caller: Caller) -> Result<HttpResponse> {
    let releases = state.orchestrator.store().call(|s| s.releases()).await?;
    Ok(HttpResponse::Ok().json(releases))
}

/// A release with its revisions (secret file contents masked).
#[utoipa::path(get, path = "/api/orchestration/releases/{namespace}/{name}",
    responses((status = 200, body = Vec<ReleaseDetail>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_release(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (namespace, name) = path.into_inner();
    let (ns, n) = (namespace.clone(), name.clone());
    let details = state
        .orchestrator
        .store()
        .call(
            move |s| -> std::result::Result<Vec<ReleaseDetail>, crate::store::StoreError> {
                let mut out = Vec::new();
                for release in s.release(&ns, &n)? {
                    let key = ReleaseKey {
                        platform: release.platform.clone(),
                        namespace: ns.clone(),
                        name: n.clone(),
                    };
                    let mut revisions = s.revisions(&key)?;
                    for revision in &mut revisions {
                        mask_secret_files(&mut revision.manifests);
                    }
                    out.push(ReleaseDetail { release, revisions });
                }
                Ok(out)
            },
        )
        .await?;
    if details.is_empty() {
        return Err(ApiError::not_found(format!(
            "no release '{name}' in namespace '{namespace}'"
        )));
    }
    Ok(HttpResponse::Ok().json(details))
}

/// Masks the secret values of a revision's files (the rest stays readable).
fn mask_secret_files(manifests: &mut Json) {
    if let Some(files) = manifests.as_array_mut() {
        for file in files {
            match serde_json::from_value::<crate::execute::ReleaseFile>(file.clone()) {
                Ok(parsed) => file["content"] = json!(crate::diff::masked_content(&parsed)),
                Err(_) => file["content"] = json!(crate::render::MASK),
            }
        }
    }
}

/// One chat message: a request gets its plan and a question; "yes" starts it.
#[utoipa::path(post, path = "/api/chat", request_body = ChatRequest,
    responses((status = 200, body = ChatReply), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn chat(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ChatRequest>,
) -> Result<HttpResponse> {
    let actor = caller
        .require(Role::Deployer, "chatting to deploy")?
        .clone();
    let body = body.into_inner();
    let reply = state
        .orchestrator
        .chat(&actor, &body.message, body.conversation_id)
        .await?;
    Ok(HttpResponse::Ok().json(reply))
}

#[utoipa::path(post, path = "/api/chat/{conversation_id}/confirm",
    responses((status = 200, body = ChatReply), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn chat_confirm(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let actor = caller.require(Role::Deployer, "confirming")?.clone();
    let reply = state.orchestrator.chat_confirm(&actor, &id).await?;
    Ok(HttpResponse::Ok().json(reply))
}

#[utoipa::path(get, path = "/api/chat/{conversation_id}",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn chat_history(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let owned = id.clone();
    let conversation = state
        .orchestrator
        .store()
        .call(move |s| s.conversation(&owned))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("conversation {id} not found")))?;
    if conversation.created_by != caller.0.name && caller.0.role != Role::Admin {
        return Err(ApiError::forbidden(format!(
            "conversation {id} belongs to {}",
            conversation.created_by
        )));
    }
    let owned = id.into_inner();
    let messages = state
        .orchestrator
        .store()
        .call(move |s| s.messages(&owned))
        .await?;
    Ok(HttpResponse::Ok().json(json!({"conversation": conversation, "messages": messages})))
}

#[utoipa::path(post, path = "/api/tokens", request_body = TokenRequest,
    responses((status = 201, body = NewToken), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<TokenRequest>,
) -> Result<HttpResponse> {
    let actor = caller.require(Role::Admin, "managing tokens")?.clone();
    let body = body.into_inner();
    if body.name.trim().is_empty() || body.name.len() > 100 {
        return Err(ApiError::unprocessable(
            "a token name must be 1 to 100 characters",
            vec![],
        ));
    }
    let (record, token) = state
        .orchestrator
        .store()
        .call(move |s| s.create_token(body.name.trim(), body.role, &actor.name))
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(NewToken { record, token }))
}

#[utoipa::path(get, path = "/api/tokens", responses((status = 200, body = Vec<TokenRecord>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_tokens(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse> {
    caller.require(Role::Admin, "managing tokens")?;
    let tokens = state.orchestrator.store().call(|s| s.tokens()).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

#[utoipa::path(delete, path = "/api/tokens/{name}", responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn revoke_token(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse> {
    caller.require(Role::Admin, "managing tokens")?;
    let owned = name.clone();
    let revoked = state
        .orchestrator
        .store()
        .call(move |s| s.revoke_token(&owned))
        .await?;
    state.auth.forget_all();
    if revoked {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found(format!("no live token named '{name}'")))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GraphQuery {
    /// `dot`, `mermaid` or `svg` (default `svg`).
    pub format: Option<crate::graph::GraphFormat>,
    pub version: Option<String>,
}

/// The resolved dependency graph, grouped by wave, edges labelled with what they wire.
#[utoipa::path(get, path = "/api/orchestration/blueprints/{name}/graph", params(GraphQuery),
    responses((status = 200, description = "DOT, Mermaid or SVG"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn blueprint_graph(
    state: web::Data<AppState>,
    _caller: MaybeCaller,
    name: web::Path<String>,
    query: web::Query<GraphQuery>,
) -> Result<HttpResponse> {
    let catalogue = state.orchestrator.catalogue();
    catalogue.get(&name).map_err(unknown_blueprint)?;
    let format = query.format.unwrap_or(crate::graph::GraphFormat::Svg);
    let graph = crate::graph::blueprint_graph(catalogue, &name, query.version.as_deref())
        .map_err(|e| ApiError::unprocessable(e, vec![]))?;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .body(graph.render(format)))
}

/// An intent's releases, coloured by each one's status.
#[utoipa::path(get, path = "/api/orchestration/intents/{id}/graph", params(GraphQuery),
    responses((status = 200, description = "DOT, Mermaid or SVG"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn intent_graph(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<String>,
    query: web::Query<GraphQuery>,
) -> Result<HttpResponse> {
    let intent = state.orchestrator.intent(&id).await?;
    let owned = id.into_inner();
    let events = state
        .orchestrator
        .store()
        .call(move |s| s.events(&owned, None))
        .await?;
    let releases: Vec<crate::render::RenderedRelease> = intent
        .plan
        .as_ref()
        .and_then(|p| p.get("releases").cloned())
        .map(|r| serde_json::from_value::<Vec<Json>>(r).unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| release_for_graph(&r))
        .collect();
    let graph = crate::graph::Graph::of(&releases, &crate::graph::statuses_from_events(&events));
    let format = query.format.unwrap_or(crate::graph::GraphFormat::Svg);
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .body(graph.render(format)))
}

/// The parts of a stored (masked) release a graph needs.
pub(crate) fn release_for_graph(value: &Json) -> Option<crate::render::RenderedRelease> {
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let wiring = value
        .get("wiring")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    Some(crate::render::RenderedRelease {
        release: value.get("release")?.as_str()?.to_string(),
        blueprint: text("blueprint"),
        version: text("version"),
        namespace: text("namespace"),
        requested: value
            .get("requested")
            .and_then(Json::as_bool)
            .unwrap_or(false),
        components: vec![],
        ingress: None,
        provides: Default::default(),
        wiring: wiring
            .iter()
            .map(|w| crate::render::Wire {
                variable: w["variable"].as_str().unwrap_or_default().to_string(),
                component: w["component"].as_str().map(str::to_string),
                dependency: w["dependency"].as_str().unwrap_or_default().to_string(),
                facts: vec![],
                shown: String::new(),
            })
            .collect(),
        secrets: vec![],
        dependencies: value
            .get("dependencies")
            .and_then(|d| serde_json::from_value(d.clone()).ok())
            .unwrap_or_default(),
        wave: value.get("wave").and_then(Json::as_u64).unwrap_or(0) as usize,
        timeout: None,
        parameters: Default::default(),
        published: None,
    })
}
