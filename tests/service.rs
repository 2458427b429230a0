//! The service as a client sees it: the real `deckhand serve` binary on a
//! random port, a temporary SQLite database (real), the render executor
//! writing into a temporary data directory. Nothing is mocked.

mod common;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use common::server::{ADMIN_TOKEN, Server};
use serde_json::{Value, json};

fn admin() -> Option<&'static str> {
    Some(ADMIN_TOKEN)
}

#[test]
fn health_metrics_and_openapi() {
    let server = Server::start();
    assert_eq!(server.get("/healthz", None), (200, json!({"status": "ok"})));
    // Nothing to connect to with the render executor: ready at once.
    assert_eq!(
        server.get("/readyz", None),
        (200, json!({"status": "ready", "executor": "render"}))
    );
    let (code, doc) = server.get("/api/openapi.json", admin());
    assert_eq!(code, 200);
    for path in [
        "/api/orchestration/deploy",
        "/api/orchestration/plan",
        "/api/orchestration/intents",
        "/api/orchestration/intents/{id}",
        "/api/orchestration/intents/{id}/events",
        "/api/orchestration/intents/{id}/retry",
        "/api/orchestration/intents/{id}/confirm",
        "/api/orchestration/blueprints",
        "/api/orchestration/blueprints/{name}",
        "/api/orchestration/blueprints/{name}/dependencies",
        "/api/chat",
        "/api/chat/{conversation_id}/confirm",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(
        doc["paths"]["/api/orchestration/intents/{id}"]
            .get("delete")
            .is_some()
    );
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(
            "deckhand_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE deckhand_deployment_duration_seconds histogram"),
        "{metrics}"
    );
}

#[test]
fn authentication_and_roles() {
    let server = Server::start();
    let (code, body) = server.get("/api/orchestration/intents", None);
    assert_eq!(code, 401);
    assert_eq!(body["error"], "unauthorized");
    assert!(body["detail"].as_str().unwrap().contains("Authorization"));
    assert_eq!(
        server.get("/api/orchestration/intents", Some("wrong")).0,
        401
    );

    let viewer = server.token("dashboards", "viewer");
    assert_eq!(
        server.get("/api/orchestration/intents", Some(&viewer)).0,
        200
    );
    let (code, body) = server.post(
        "/api/orchestration/deploy",
        Some(&viewer),
        json!({"command": "install redis"}),
    );
    assert_eq!(code, 403, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("deployer"));
    assert_eq!(
        server
            .post(
                "/api/orchestration/plan",
                Some(&viewer),
                json!({"command": "install redis"})
            )
            .0,
        200
    );
    assert_eq!(
        server
            .post(
                "/api/tokens",
                Some(&viewer),
                json!({"name": "x", "role": "admin"})
            )
            .0,
        403
    );

    // Admins manage tokens; the token is shown once and works at once.
    let (code, made) = server.post(
        "/api/tokens",
        admin(),
        json!({"name": "ci", "role": "deployer"}),
    );
    assert_eq!(code, 201, "{made}");
    let ci = made["token"].as_str().unwrap().to_string();
    assert_eq!(
        server
            .post(
                "/api/orchestration/deploy",
                Some(&ci),
                json!({"command": "install redis"})
            )
            .0,
        202
    );
    let (_, tokens) = server.get("/api/tokens", admin());
    assert!(
        tokens
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none() && t.get("token_hash").is_none())
    );
    assert_eq!(
        server
            .post(
                "/api/tokens",
                admin(),
                json!({"name": "ci", "role": "viewer"})
            )
            .0,
        409
    );
    assert_eq!(server.delete("/api/tokens/ci", admin()).0, 204);
    assert_eq!(server.get("/api/orchestration/intents", Some(&ci)).0, 401);
}

/// Reads server-sent events until the intent's final event.
fn follow(server: &Server, id: &str) -> Vec<Value> {
    let response = server
        .client
        .get(server.url(&format!("/api/orchestration/intents/{id}/events")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut events = Vec::new();
    for line in BufReader::new(response).lines() {
        let line = line.unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            events.push(serde_json::from_str::<Value>(data).unwrap());
        }
    }
    events
}

#[test]
fn deploy_follow_list_and_show() {
    let server = Server::start();
    let (code, intent) = server.post(
        "/api/orchestration/deploy",
        admin(),
        json!({"command": "install authentik with TLS", "options": {"namespace": "auth", "domain": "sso.example.org"}}),
    );
    assert_eq!(code, 202, "{intent}");
    let id = intent["id"].as_str().unwrap().to_string();
    assert_eq!(
        intent["intent"]["namespace"], "auth",
        "options win over the sentence"
    );
    assert_eq!(intent["intent"]["parameters"]["domain"], "sso.example.org");

    let events = follow(&server, &id);
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    for expected in [
        "pending",
        "parsing",
        "planning",
        "awaiting_confirmation",
        "deploying",
        "completed",
    ] {
        assert!(
            statuses.contains(&expected),
            "{expected} missing in {statuses:?}"
        );
    }
    let applied = events.iter().filter(|e| e["status"] == "applied").count();
    assert_eq!(applied, 2, "one applied event per release");
    assert!(
        events
            .iter()
            .filter(|e| e["status"] == "applied")
            .all(|e| e["duration_ms"].is_i64())
    );
    let order: Vec<&str> = events
        .iter()
        .filter(|e| e["status"] == "started")
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["release authentik-postgresql", "release authentik"],
        "dependencies first"
    );

    let (code, shown) = server.get(&format!("/api/orchestration/intents/{id}"), admin());
    assert_eq!(code, 200);
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["events"].as_array().unwrap().len(), events.len());
    assert!(shown["plan"]["releases"].is_array());
    assert!(
        shown["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "Ingress")
    );
    let mut secret_values = 0;
    for release in shown["plan"]["releases"].as_array().unwrap() {
        for component in release["components"].as_array().unwrap() {
            for var in component["env"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["secret"] == true)
            {
                assert_eq!(var["value"], "********", "{} shown", var["name"]);
                secret_values += 1;
            }
        }
    }
    assert!(
        secret_values >= 4,
        "only {secret_values} secret variables seen"
    );
    let manifests = server
        .data()
        .join("releases/auth/authentik/1/manifests.yaml");
    let text = std::fs::read_to_string(&manifests).unwrap();
    assert!(text.contains("host: sso.example.org"), "{text}");

    let (_, page) = server.get(
        "/api/orchestration/intents?status=completed&application=authentik&limit=10",
        admin(),
    );
    assert_eq!(page["total"], 1);
    let (_, page) = server.get("/api/orchestration/intents?application=redis", admin());
    assert_eq!(page["total"], 0);

    let (code, releases) = server.get(
        "/api/orchestration/releases/auth/authentik-postgresql",
        admin(),
    );
    assert_eq!(code, 200, "{releases}");
    assert_eq!(releases[0]["revisions"][0]["number"], 1);
    // The rendered manifests are readable; only the Secret's values are masked.
    let shown = releases[0]["revisions"][0]["manifests"][0]["content"]
        .as_str()
        .unwrap();
    assert!(
        shown.contains("kind: StatefulSet") && shown.contains("kind: Secret"),
        "{shown}"
    );
    let stored = std::fs::read_to_string(
        server
            .data()
            .join("releases/auth/authentik-postgresql/1/manifests.yaml"),
    )
    .unwrap();
    let documents: Vec<Value> = serde_saphyr::from_multiple(&stored).unwrap();
    let secret = documents.iter().find(|d| d["kind"] == "Secret").unwrap();
    for (key, value) in secret["stringData"]
        .as_object()
        .or(secret["data"].as_object())
        .unwrap()
    {
        let value = value.as_str().unwrap();
        assert!(!shown.contains(value), "{key}'s value is shown: {shown}");
    }
    assert!(shown.contains("********"), "{shown}");
}

#[test]
fn error_statuses_are_json_and_never_500_for_bad_input() {
    let server = Server::start();
    let raw = server
        .client
        .post(server.url("/api/orchestration/deploy"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let body: Value = raw.json().unwrap();
    assert_eq!(body["error"], "bad_request");

    let huge = "x".repeat(100_000);
    let (code, body) = server.post(
        "/api/orchestration/deploy",
        admin(),
        json!({"command": huge}),
    );
    assert_eq!(code, 413, "{body}");

    let (code, body) = server.post(
        "/api/orchestration/deploy",
        admin(),
        json!({"command": "install foobarbaz"}),
    );
    assert_eq!(code, 422, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("foobarbaz"));
    let failed = body["intent_id"].as_str().unwrap();
    assert_eq!(
        server
            .get(&format!("/api/orchestration/intents/{failed}"), admin())
            .1["status"],
        "failed"
    );

    let (code, body) = server.post(
        "/api/orchestration/deploy",
        admin(),
        json!({"command": "install redis", "options": {"namespace": "Bad_NS"}}),
    );
    assert_eq!(code, 422, "{body}");
    // Replica counts from options are checked against the action: 0 is for a scale.
    let (code, body) = server.post(
        "/api/orchestration/deploy",
        admin(),
        json!({"command": "install nginx", "options": {"replicas": 0}}),
    );
    assert_eq!(code, 422, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("between 1 and 100"),
        "{body}"
    );
    let (code, body) = server.post(
        "/api/orchestration/deploy",
        admin(),
        json!({"command": "install nginx", "options": {"replicas": -3}}),
    );
    assert_eq!(code, 422, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("-3"), "{body}");
    let (code, _) = server.post(
        "/api/orchestration/deploy",
        admin(),
        json!({"command": "install redis", "options": {"colour": "red"}}),
    );
    assert_eq!(code, 400);

    let (code, body) = server.get("/api/orchestration/intents/does-not-exist", admin());
    assert_eq!((code, body["error"].as_str()), (404, Some("not_found")));
    let (code, body) = server.get("/api/orchestration/blueprints/grafanna", admin());
    assert_eq!(code, 404);
    assert_eq!(body["suggestions"][0], "grafana");
    assert_eq!(
        server
            .get("/api/orchestration/intents?status=sleeping", admin())
            .0,
        400
    );
    assert_eq!(server.get("/api/nowhere", admin()).0, 404);

    let (code, plan) = server.post(
        "/api/orchestration/plan",
        admin(),
        json!({"command": "deploy postgresql with 3 replicas"}),
    );
    assert_eq!(code, 422, "{plan}");
    assert!(plan["detail"].as_str().unwrap().contains("single instance"));
}

#[test]
fn blueprints_and_dependencies() {
    let server = Server::start();
    let (code, list) = server.get("/api/orchestration/blueprints?category=database", admin());
    assert_eq!(code, 200);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|b| b["category"] == "database")
    );
    let (_, found) = server.get("/api/orchestration/blueprints?search=sso", admin());
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["name"] == "authentik")
    );
    let (code, deps) = server.get(
        "/api/orchestration/blueprints/authentik/dependencies",
        admin(),
    );
    assert_eq!(code, 200);
    assert_eq!(
        deps["waves"],
        json!([["authentik-postgresql"], ["authentik"]])
    );
    assert_eq!(deps["tree"]["requires"][0]["as"], "db");
}

#[test]
fn cancel_and_retry_rules() {
    let server = Server::start();
    let alice = server.token("alice", "deployer");
    let bob = server.token("bob", "deployer");

    // An intent waiting for confirmation (from chat) can be cancelled by its owner only, or an admin.
    let (_, reply) = server.post(
        "/api/chat",
        Some(&alice),
        json!({"message": "install redis"}),
    );
    let waiting = reply["intent"]["id"].as_str().unwrap().to_string();
    let (code, body) = server.delete(&format!("/api/orchestration/intents/{waiting}"), Some(&bob));
    assert_eq!(code, 403, "{body}");
    let (code, cancelled) = server.delete(
        &format!("/api/orchestration/intents/{waiting}"),
        Some(&alice),
    );
    assert_eq!(
        (code, cancelled["status"].as_str()),
        (200, Some("cancelled"))
    );
    assert_eq!(
        server
            .delete(
                &format!("/api/orchestration/intents/{waiting}"),
                Some(&alice)
            )
            .0,
        409,
        "already finished"
    );

    // A deployer lists everyone's intents.
    let (_, page) = server.get("/api/orchestration/intents", Some(&bob));
    assert!(
        page["intents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["requested_by"] == "token:alice")
    );

    // Retry: only failed or interrupted, only the owner or an admin.
    let (code, accepted) = server.post(
        "/api/orchestration/deploy",
        Some(&alice),
        json!({"command": "deploy postgresql with 3 replicas"}),
    );
    assert_eq!(code, 202);
    let failed = accepted["id"].as_str().unwrap().to_string();
    let intent = server.wait_for(&failed, &["failed"]);
    assert!(
        intent["error"]
            .as_str()
            .unwrap()
            .contains("single instance"),
        "{intent}"
    );
    assert_eq!(
        server
            .post(
                &format!("/api/orchestration/intents/{failed}/retry"),
                Some(&bob),
                json!({})
            )
            .0,
        403
    );
    let (code, again) = server.post(
        &format!("/api/orchestration/intents/{failed}/retry"),
        Some(&alice),
        json!({}),
    );
    assert_eq!(code, 202, "{again}");
    let again = server.wait_for(&failed, &["failed", "completed"]);
    assert!(
        again["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["step"] == "retry")
    );
    let (code, _) = server.post(
        &format!("/api/orchestration/intents/{waiting}/retry"),
        Some(&alice),
        json!({}),
    );
    assert_eq!(code, 409, "a cancelled intent is not retried");
}

#[test]
fn chat_shows_the_plan_and_waits_for_yes() {
    let server = Server::start();
    let (code, reply) = server.post(
        "/api/chat",
        admin(),
        json!({"message": "install redis in namespace cache"}),
    );
    assert_eq!(code, 200, "{reply}");
    assert_eq!(reply["state"], "awaiting_confirmation");
    assert!(
        reply["reply"]
            .as_str()
            .unwrap()
            .contains("Shall I go ahead?")
    );
    assert!(reply["reply"].as_str().unwrap().contains("redis"));
    let conversation = reply["conversation_id"].as_str().unwrap().to_string();
    let id = reply["intent"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        server
            .get(&format!("/api/orchestration/intents/{id}"), admin())
            .1["status"],
        "awaiting_confirmation"
    );

    // Something that is neither a yes nor a new plan leaves it waiting.
    let (_, unsure) = server.post(
        "/api/chat",
        admin(),
        json!({"message": "hmm, what does it need?", "conversation_id": conversation}),
    );
    assert!(
        unsure["reply"].as_str().unwrap().contains("still waiting"),
        "{unsure}"
    );
    let (_, yes) = server.post(
        "/api/chat",
        admin(),
        json!({"message": "Yes, go ahead!", "conversation_id": conversation}),
    );
    assert_eq!(yes["state"], "started", "{yes}");
    server.wait_for(&id, &["completed"]);
    assert!(
        server
            .data()
            .join("releases/cache/redis/1/manifests.yaml")
            .exists()
    );

    // "no" drops the next one; an unknown application gets a question with suggestions.
    let (_, second) = server.post(
        "/api/chat",
        admin(),
        json!({"message": "install grafana", "conversation_id": conversation}),
    );
    let second_id = second["intent"]["id"].as_str().unwrap().to_string();
    let (_, no) = server.post(
        "/api/chat",
        admin(),
        json!({"message": "no", "conversation_id": conversation}),
    );
    assert_eq!(no["state"], "dropped");
    assert_eq!(
        server
            .get(&format!("/api/orchestration/intents/{second_id}"), admin())
            .1["status"],
        "cancelled"
    );
    let (_, question) = server.post(
        "/api/chat",
        admin(),
        json!({"message": "install grafanna and keycloack", "conversation_id": conversation}),
    );
    assert_eq!(
        question["state"], "awaiting_confirmation",
        "typos close to one entry are forgiven: {question}"
    );
    let (_, question) = server.post(
        "/api/chat",
        admin(),
        json!({"message": "install grafana and zzkeycloakzz", "conversation_id": conversation}),
    );
    assert_eq!(question["state"], "question", "{question}");
    assert_eq!(question["suggestions"][0], "keycloak");

    // The confirm endpoint starts a pending plan; the conversation is stored.
    let (_, third) = server.post(
        "/api/chat",
        admin(),
        json!({"message": "install nginx", "conversation_id": conversation}),
    );
    let third_id = third["intent"]["id"].as_str().unwrap().to_string();
    let (code, started) = server.post(
        &format!("/api/chat/{conversation}/confirm"),
        admin(),
        json!({}),
    );
    assert_eq!(
        (code, started["state"].as_str()),
        (200, Some("started")),
        "{started}"
    );
    server.wait_for(&third_id, &["completed"]);
    assert_eq!(
        server
            .post(
                &format!("/api/chat/{conversation}/confirm"),
                admin(),
                json!({})
            )
            .0,
        409
    );
    // A status question is answered at once.
    let (_, report) = server.post(
        "/api/chat",
        admin(),
        json!({"message": "what's running in namespace cache", "conversation_id": conversation}),
    );
    assert_eq!(report["state"], "reported", "{report}");
    assert!(
        report["reply"].as_str().unwrap().contains("redis"),
        "{report}"
    );
    let (_, history) = server.get(&format!("/api/chat/{conversation}"), admin());
    assert!(
        history["messages"].as_array().unwrap().len() >= 12,
        "{history}"
    );
}

/// Records an intent the way the service does (parsed by the rules) and
/// moves it to `status` with `event`, straight through the store: what a
/// process killed mid-flight, or a failed run, leaves behind. Its id.
fn record_intent(
    db: &std::path::Path,
    command: &str,
    requested_by: &str,
    event: deckhand::store::NewEvent,
    status: deckhand::store::IntentStatus,
) -> String {
    let store = deckhand::store::Store::open(db).unwrap();
    let (record, _) = store
        .create_intent(deckhand::store::NewIntent {
            command: command.into(),
            requested_by: requested_by.into(),
            options: json!({}),
            conversation_id: None,
        })
        .unwrap();
    let parser =
        deckhand::intent::RuleParser::new(&deckhand::catalogue::Catalogue::builtin().unwrap());
    store
        .set_parsed(&record.id, &parser.parse(command).unwrap())
        .unwrap();
    store.transition(&record.id, None, status, event).unwrap();
    record.id
}

/// The events of an intent with this step and status.
fn events_with<'a>(intent: &'a Value, step: &str, status: &str) -> Vec<&'a Value> {
    intent["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == step && e["status"] == status)
        .collect()
}

#[test]
fn a_protected_namespace_waits_for_an_admin_whatever_the_front_end() {
    let server = Server::start_with(
        tempfile::tempdir().unwrap(),
        &[("DECKHAND_PROTECTED_NAMESPACES", "production")],
    );
    let deployer = server.token("ci-bot", "deployer");

    // The deploy API: planned, then held; the answer says so.
    let (code, held) = server.post(
        "/api/orchestration/deploy",
        Some(&deployer),
        json!({"command": "install redis in namespace production"}),
    );
    assert_eq!(code, 202, "{held}");
    assert_eq!(held["status"], "awaiting_confirmation", "{held}");
    let id = held["id"].as_str().unwrap().to_string();
    let (_, detail) = server.get(&format!("/api/orchestration/intents/{id}"), admin());
    let required = events_with(&detail, "approval", "required");
    assert_eq!(required.len(), 1, "{detail}");
    assert!(
        required[0]["message"]
            .as_str()
            .unwrap()
            .contains("namespace production is protected"),
        "{detail}"
    );
    // It stays held: nothing runs by itself.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        server
            .get(&format!("/api/orchestration/intents/{id}"), admin())
            .1["status"],
        "awaiting_confirmation"
    );
    assert!(!server.data().join("releases/production").exists());

    // The deployer who asked may not start it; an admin's confirmation is
    // the approval, recorded with who.
    let confirm = format!("/api/orchestration/intents/{id}/confirm");
    let (code, refused) = server.post(&confirm, Some(&deployer), json!({}));
    assert_eq!(code, 403, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("only an admin"),
        "{refused}"
    );
    let (code, approved) = server.post(&confirm, admin(), json!({}));
    assert_eq!(code, 202, "{approved}");
    let done = server.wait_for(&id, &["completed", "failed"]);
    assert_eq!(done["status"], "completed", "{done}");
    let approval = events_with(&done, "approval", "approved");
    assert_eq!(approval.len(), 1, "{done}");
    assert!(
        approval[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("approved by "),
        "{done}"
    );
    assert!(
        server
            .data()
            .join("releases/production/redis/1/manifests.yaml")
            .exists()
    );
    assert_eq!(server.post(&confirm, admin(), json!({})).0, 409);

    // Other namespaces are not held, and an admin's own request is not.
    let (_, free) = server.post(
        "/api/orchestration/deploy",
        Some(&deployer),
        json!({"command": "install nginx in namespace staging"}),
    );
    let free = server.wait_for(free["id"].as_str().unwrap(), &["completed", "failed"]);
    assert_eq!(free["status"], "completed", "{free}");
    assert!(events_with(&free, "approval", "required").is_empty());
    let (_, own) = server.post(
        "/api/orchestration/deploy",
        admin(),
        json!({"command": "install nginx in namespace production"}),
    );
    let own = server.wait_for(own["id"].as_str().unwrap(), &["completed", "failed"]);
    assert_eq!(own["status"], "completed", "{own}");
    let approval = events_with(&own, "approval", "approved");
    assert_eq!(approval.len(), 1, "{own}");
    assert!(
        approval[0]["message"]
            .as_str()
            .unwrap()
            .ends_with("with their own request"),
        "{own}"
    );

    // The chat endpoint says it waits for an admin, and a yes does not start it.
    let (_, reply) = server.post(
        "/api/chat",
        Some(&deployer),
        json!({"message": "scale nginx to 2 in namespace production"}),
    );
    assert_eq!(reply["state"], "awaiting_approval", "{reply}");
    assert!(
        reply["reply"].as_str().unwrap().contains("protected"),
        "{reply}"
    );
    let chat_id = reply["intent"]["id"].as_str().unwrap().to_string();
    let (_, yes) = server.post(
        "/api/chat",
        Some(&deployer),
        json!({"message": "yes", "conversation_id": reply["conversation_id"]}),
    );
    assert_ne!(yes["state"], "started", "{yes}");
    assert_eq!(
        server
            .get(&format!("/api/orchestration/intents/{chat_id}"), admin())
            .1["status"],
        "awaiting_confirmation"
    );

    // A retry is held too: a failed intent of the deployer's in production
    // (written through the store, as the service records one), retried.
    let failed = record_intent(
        &server.db(),
        "install mariadb in namespace production",
        "token:ci-bot",
        deckhand::store::NewEvent::new("finish", "failed", "the engine said no"),
        deckhand::store::IntentStatus::Failed,
    );
    let (code, _) = server.post(
        &format!("/api/orchestration/intents/{failed}/retry"),
        Some(&deployer),
        json!({}),
    );
    assert_eq!(code, 202);
    let retried = server.wait_for(&failed, &["awaiting_confirmation", "completed"]);
    assert_eq!(retried["status"], "awaiting_confirmation", "{retried}");
    std::thread::sleep(Duration::from_millis(300));
    let (_, retried) = server.get(&format!("/api/orchestration/intents/{failed}"), admin());
    assert_eq!(retried["status"], "awaiting_confirmation", "{retried}");
    assert_eq!(events_with(&retried, "approval", "required").len(), 1);
}

#[test]
fn a_restart_keeps_every_intent_and_interrupts_what_was_mid_flight() {
    let server = Server::start();
    let (_, done) = server.post(
        "/api/orchestration/deploy",
        admin(),
        json!({"command": "install redis"}),
    );
    let done_id = done["id"].as_str().unwrap().to_string();
    server.wait_for(&done_id, &["completed"]);
    let db = server.db();
    let dir = server.kill();

    // What a process killed in the middle of a deploy leaves behind: an intent
    // recorded as deploying (written through the store, as the service does).
    let record = record_intent(
        &db,
        "install nginx",
        "admin",
        deckhand::store::NewEvent::new("confirm", "deploying", "go"),
        deckhand::store::IntentStatus::Deploying,
    );

    let server = Server::start_in(dir);
    let (_, kept) = server.get(&format!("/api/orchestration/intents/{done_id}"), admin());
    assert_eq!(kept["status"], "completed");
    let (_, interrupted) = server.get(&format!("/api/orchestration/intents/{}", record), admin());
    assert_eq!(interrupted["status"], "interrupted", "{interrupted}");
    assert!(
        interrupted["events"].as_array().unwrap().last().unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("was deploying")
    );
    let (code, _) = server.post(
        &format!("/api/orchestration/intents/{}/retry", record),
        admin(),
        json!({}),
    );
    assert_eq!(code, 202);
    server.wait_for(&record, &["completed"]);
    std::thread::sleep(Duration::from_millis(10));
}

/// The chat asks back when a sentence has two readings; a number or the
/// text of a choice answers it in the same conversation.
#[test]
fn chat_asks_back_and_a_number_or_the_command_answers_it() {
    let server = Server::start();
    let (code, reply) = server.post(
        "/api/chat",
        admin(),
        json!({"message": "set up SSO in namespace auth"}),
    );
    assert_eq!(code, 200, "{reply}");
    assert_eq!(reply["state"], "question", "{reply}");
    assert_eq!(
        reply["choices"],
        json!([
            "set up authentik in namespace auth",
            "set up keycloak in namespace auth"
        ])
    );
    assert!(reply["question"].is_string(), "{reply}");
    let conversation = reply["conversation_id"].as_str().unwrap().to_string();
    let (_, picked) = server.post(
        "/api/chat",
        admin(),
        json!({"message": "2", "conversation_id": conversation}),
    );
    assert_eq!(picked["state"], "awaiting_confirmation", "{picked}");
    assert_eq!(
        picked["intent"]["applications"],
        json!(["keycloak"]),
        "{picked}"
    );
    assert_eq!(picked["intent"]["namespace"], "auth", "{picked}");

    let (_, asked) = server.post(
        "/api/chat",
        admin(),
        json!({"message": "install grafana or prometheus"}),
    );
    assert_eq!(asked["state"], "question", "{asked}");
    let conversation = asked["conversation_id"].as_str().unwrap().to_string();
    let (_, picked) = server.post(
        "/api/chat",
        admin(),
        json!({"message": "Install Prometheus", "conversation_id": conversation}),
    );
    assert_eq!(picked["state"], "awaiting_confirmation", "{picked}");
    assert_eq!(
        picked["intent"]["applications"],
        json!(["prometheus"]),
        "{picked}"
    );

    // The deploy API answers the same question with 422 and the choices.
    let (code, body) = server.post(
        "/api/orchestration/deploy",
        admin(),
        json!({"command": "stop redis"}),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["choices"],
        json!(["scale redis to 0", "remove redis"]),
        "{body}"
    );
    assert_eq!(body["at"], json!([0, 4]), "{body}");
}
