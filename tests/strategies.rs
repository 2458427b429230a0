//! Delivery strategies where they cannot run, through the real `deckhand
//! serve` on the render executor (temporary SQLite database and data
//! directory, nothing mocked): every refusal names the strategy and says
//! why. The strategies themselves run on the real test control plane
//! (`tests/kube_strategies.rs`) and on the real Docker Engine
//! (`tests/docker_strategies.rs`).

mod common;

use common::server::{ADMIN_TOKEN, Server, run};
use serde_json::json;

#[test]
fn a_strategy_on_anything_but_an_upgrade_is_refused_naming_it() {
    let server = Server::start();
    let (code, body) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": "install nginx", "options": {"strategy": {"type": "canary"}}}),
    );
    assert_eq!(code, 422, "{body}");
    let error = body["detail"].as_str().unwrap();
    assert!(
        error.contains("canary strategy is for an upgrade") && error.contains("install"),
        "{error}"
    );
    // A scale or a removal neither.
    for command in ["scale nginx to 2", "remove nginx"] {
        let (code, body) = server.post(
            "/api/orchestration/deploy",
            Some(ADMIN_TOKEN),
            json!({"command": command, "options": {"strategy": {"type": "blue_green"}}}),
        );
        assert_eq!(code, 422, "{command}: {body}");
        let error = body["detail"].as_str().unwrap();
        assert!(
            error.contains("blue-green strategy is for an upgrade"),
            "{error}"
        );
    }
    // Steps are checked as the sentence's are: increasing, ending at 100.
    let (code, body) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": "upgrade nginx", "options": {"strategy": {"type": "canary", "steps": [50, 10]}}}),
    );
    assert_eq!(code, 422, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("[50, 10]"),
        "{body}"
    );
    // A setting of another strategy is named too.
    let (code, body) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": "upgrade nginx", "options": {"strategy": {"type": "rolling", "steps": [10]}}}),
    );
    assert!(code == 400 || code == 422, "{code} {body}");
    assert!(body["detail"].as_str().unwrap().contains("steps"), "{body}");
}

#[test]
fn canary_on_compose_and_staged_strategies_on_the_render_executor_are_refused_with_the_reason() {
    let server = Server::start();
    let render = json!({"executor": "render"});
    let installed = run(
        &server,
        "install nginx version 1.29 on docker",
        render.clone(),
    );
    assert_eq!(installed["status"], "completed", "{}", installed["error"]);
    let canary = run(
        &server,
        "upgrade nginx to 1.30 as a canary on docker",
        render.clone(),
    );
    assert_eq!(canary["status"], "failed");
    let error = canary["error"].as_str().unwrap();
    assert!(
        error.contains("Compose") && error.contains("canary"),
        "{error}"
    );
    let rolling = run(
        &server,
        "upgrade nginx to 1.30 rolling, two at a time on docker",
        render.clone(),
    );
    assert!(
        rolling["error"].as_str().unwrap().contains("recreate"),
        "{rolling}"
    );
    // Recreate is what Compose does; the plan says so.
    let recreate = run(
        &server,
        "upgrade nginx to 1.30 with recreate on docker",
        render,
    );
    assert_eq!(recreate["status"], "completed", "{}", recreate["error"]);
    let text = recreate["plan_text"].as_str().unwrap();
    assert!(
        text.contains("Strategy: recreate") && text.contains("docker compose up"),
        "{text}"
    );

    let installed = run(&server, "install nginx version 1.29", json!({}));
    assert_eq!(installed["status"], "completed", "{}", installed["error"]);
    let canary = run(&server, "upgrade nginx to 1.30 as a canary", json!({}));
    let error = canary["error"].as_str().unwrap();
    assert!(
        error.contains("render executor only writes files"),
        "{error}"
    );
    // A promote with nothing running says so at once.
    let (code, promote) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": "promote nginx"}),
    );
    assert_eq!(code, 422, "{promote}");
    assert!(
        promote["detail"]
            .as_str()
            .unwrap()
            .contains("no canary or blue-green upgrade of nginx"),
        "{promote}"
    );
}

#[test]
fn the_openapi_document_has_the_strategy_option_and_the_steering_routes() {
    let server = Server::start();
    let (code, doc) = server.get("/api/openapi.json", Some(ADMIN_TOKEN));
    assert_eq!(code, 200);
    for route in ["promote", "pause", "abort"] {
        assert!(
            doc["paths"][format!("/api/orchestration/intents/{{id}}/{route}")]["post"].is_object(),
            "no {route} route"
        );
    }
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["DeployOptions"]["properties"]["strategy"].is_object(),
        "{}",
        schemas["DeployOptions"]
    );
    let settings = schemas["StrategyOptions"]["properties"]
        .as_object()
        .unwrap();
    for field in [
        "type",
        "steps",
        "batch",
        "max_unavailable",
        "stage_seconds",
        "interval_seconds",
        "pause",
        "retire_after_seconds",
    ] {
        assert!(settings.contains_key(field), "no {field}: {settings:?}");
    }
}
