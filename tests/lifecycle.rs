//! The whole lifecycle through the real `deckhand serve` and the CLI:
//! install → upgrade → scale → rollback → remove on the render executor (a
//! temporary SQLite database and data directory, nothing mocked). The same
//! lifecycle on Kubernetes (a failed upgrade that rolls itself back, a
//! service killed in the middle of an upgrade, ...) runs on the real test
//! control plane in `tests/kube_cluster.rs`.

mod common;

use std::process::Command;

use common::server::{ADMIN_TOKEN, Server, run};
use serde_json::{Value, json};

fn dry_run(server: &Server, command: &str) -> (u16, Value) {
    server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": command, "options": {"dry_run": true}}),
    )
}

fn revisions(server: &Server, release: &str) -> Vec<Value> {
    let (code, detail) = server.get(
        &format!("/api/orchestration/releases/default/{release}"),
        Some(ADMIN_TOKEN),
    );
    assert_eq!(code, 200, "{detail}");
    detail[0]["revisions"].as_array().unwrap().clone()
}

/// The rendered manifests of a revision, from the data directory.
fn manifests(server: &Server, release: &str, revision: u32) -> String {
    std::fs::read_to_string(server.data().join(format!(
        "releases/default/{release}/{revision}/manifests.yaml"
    )))
    .unwrap()
}

fn secret_data(manifests: &str) -> Value {
    let documents: Vec<Value> = serde_saphyr::from_multiple(manifests).unwrap();
    documents
        .into_iter()
        .find(|d| d["kind"] == "Secret")
        .map(|d| d["data"].clone())
        .unwrap()
}

#[test]
fn install_upgrade_scale_rollback_remove_on_the_render_executor() {
    let server = Server::start();
    assert_eq!(
        run(&server, "install grafana", json!({}))["status"],
        "completed"
    );
    assert_eq!(revisions(&server, "grafana").len(), 1);

    // The upgrade is previewed with its diff: the image changes, the secrets do not.
    let (code, preview) = dry_run(&server, "upgrade grafana to 11.2");
    assert_eq!(code, 202, "{preview}");
    let text = preview["plan_text"].as_str().unwrap();
    assert!(
        text.contains(
            "spec.template.spec.containers[grafana].image: grafana/grafana:13.3.2 → grafana/grafana:11.2"
        ),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("data.")),
        "secret values must not change: {text}"
    );
    assert!(text.contains("grafana-postgresql: unchanged"), "{text}");

    let upgraded = run(&server, "upgrade grafana to 11.2", json!({}));
    assert_eq!(upgraded["status"], "completed", "{}", upgraded["error"]);
    assert_eq!(revisions(&server, "grafana").len(), 2);
    let (one, two) = (
        manifests(&server, "grafana", 1),
        manifests(&server, "grafana", 2),
    );
    assert_eq!(
        secret_data(&one),
        secret_data(&two),
        "generated secrets are identical before and after the upgrade"
    );
    assert!(two.contains("image: grafana/grafana:11.2"));

    // Scale keeps the version and changes replicas only.
    let scaled = run(&server, "scale grafana to 3 instances", json!({}));
    assert_eq!(scaled["status"], "completed", "{}", scaled["error"]);
    let three = manifests(&server, "grafana", 3);
    assert!(
        three.contains("replicas: 3") && three.contains("grafana/grafana:11.2"),
        "{three}"
    );
    assert_eq!(secret_data(&three), secret_data(&one));

    // Rollback to revision 1 is applied as revision 4, with revision 1's manifests.
    let rolled = run(&server, "roll back grafana to revision 1", json!({}));
    assert_eq!(rolled["status"], "completed", "{}", rolled["error"]);
    let history = revisions(&server, "grafana");
    assert_eq!(history.len(), 4);
    assert_eq!(history[3]["action"], "rollback");
    assert_eq!(
        manifests(&server, "grafana", 4),
        one,
        "revision 4 has revision 1's manifests"
    );

    // The CLI shows the same history.
    let output = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["history", "grafana", "--db"])
        .arg(server.db())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("revision 4") && text.contains("rollback") && text.contains("(current)"),
        "{text}"
    );

    // Remove: refused while a dependent exists, allowed with its dependencies.
    let (code, refused) = dry_run(&server, "remove grafana-postgresql");
    assert_eq!(code, 422, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("grafana depends on it"),
        "{refused}"
    );
    let removed = run(&server, "remove grafana and its dependencies", json!({}));
    assert_eq!(removed["status"], "completed", "{}", removed["error"]);
    let order: Vec<&str> = removed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "removing")
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["release grafana", "release grafana-postgresql"],
        "dependents first"
    );
    let (_, releases) = server.get("/api/orchestration/releases", Some(ADMIN_TOKEN));
    assert!(
        releases
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "removed"),
        "{releases}"
    );
}

#[test]
fn lifecycle_refusals_are_clear() {
    let server = Server::start();
    let (code, body) = dry_run(&server, "upgrade grafana");
    assert_eq!(code, 422);
    assert!(
        body["detail"].as_str().unwrap().contains("not installed"),
        "{body}"
    );
    assert_eq!(
        run(&server, "install postgresql", json!({}))["status"],
        "completed"
    );
    let (code, body) = dry_run(&server, "scale postgresql to 3 replicas");
    assert_eq!(code, 422);
    assert!(
        body["detail"].as_str().unwrap().contains("single instance"),
        "{body}"
    );
    // A StatefulSet's claim templates cannot change on a real API server:
    // the plan refuses, says what and what to do instead. A new version can.
    let (code, body) = dry_run(&server, "upgrade postgresql with 20Gi storage");
    assert_eq!(code, 422, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("Kubernetes does not allow")
            && detail
                .contains("volumeClaimTemplates[0].spec.resources.requests.storage: 8Gi → 20Gi")
            && detail
                .contains("kubectl -n default get pvc -l app.kubernetes.io/instance=postgresql"),
        "{detail}"
    );
    // Another major version cannot read the data directory: refused, with
    // what to do (issue 13). A new version within the major can.
    let (code, body) = dry_run(&server, "upgrade postgresql to 17");
    assert_eq!(code, 422, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("from postgresql 18 to 17") && detail.contains("pg_dumpall"),
        "{detail}"
    );
    let (code, body) = dry_run(&server, "upgrade postgresql to 18.1");
    assert_eq!(code, 202, "{body}");
    // "and its dependencies" can also be the request's `cascade` option.
    assert_eq!(
        run(&server, "install grafana", json!({}))["status"],
        "completed"
    );
    let (code, body) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": "remove grafana", "options": {"dry_run": true, "cascade": true}}),
    );
    assert_eq!(code, 202, "{body}");
    assert!(
        body["plan_text"]
            .as_str()
            .unwrap()
            .contains("grafana-postgresql"),
        "{body}"
    );
    // A dependency moves with the application that needs it, never on its own
    // (that would plan a different release).
    let (code, body) = dry_run(&server, "upgrade grafana-postgresql to 17");
    assert_eq!(code, 422, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("is a dependency"),
        "{body}"
    );
    // An upgrade's preview says the stored secrets are used again.
    let (_, upgrade) = dry_run(&server, "upgrade grafana to 12.1.0");
    let text = upgrade["plan_text"].as_str().unwrap();
    assert!(
        text.contains("Secrets kept") && !text.contains("Secrets to generate"),
        "{text}"
    );
    let (_, alone) = dry_run(&server, "remove grafana");
    assert!(
        !alone["plan_text"]
            .as_str()
            .unwrap()
            .contains("grafana-postgresql"),
        "{alone}"
    );
    let (code, body) = dry_run(&server, "rollback postgresql");
    assert_eq!(code, 422);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("nothing to roll back to"),
        "{body}"
    );
    let status = run(&server, "status of postgresql", json!({}));
    assert_eq!(status["status"], "completed");
    assert!(
        status["plan_text"]
            .as_str()
            .unwrap()
            .contains("postgresql — postgresql 18: deployed, revision 1"),
        "{status}"
    );
    let everything = run(&server, "what's running", json!({}));
    assert!(
        everything["plan_text"]
            .as_str()
            .unwrap()
            .contains("postgresql"),
        "{everything}"
    );
}
