//! The whole lifecycle through the real `deckhand serve` and the CLI:
//! install → upgrade → scale → rollback → remove on the render executor (a
//! temporary SQLite database and data directory, nothing mocked), and on the
//! in-test Kubernetes API server (`tests/common/fake_kube.rs`; no real API
//! server can run here) a failed upgrade that rolls itself back, and a
//! service killed in the middle of an upgrade.

mod common;

use std::process::Command;
use std::time::Duration;

use common::fake_kube::FakeKube;
use common::server::{ADMIN_TOKEN, Server};
use serde_json::{Value, json};

fn run(server: &Server, command: &str, options: Value) -> Value {
    let (code, intent) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": command, "options": options}),
    );
    assert_eq!(code, 202, "{command}: {intent}");
    server.wait_for_within(
        intent["id"].as_str().unwrap(),
        &["completed", "failed", "cancelled"],
        Duration::from_secs(60),
    )
}

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

fn kube_server(fake: &FakeKube, dir: tempfile::TempDir) -> Server {
    let kubeconfig = fake.kubeconfig(dir.path());
    Server::start_with(
        dir,
        &[
            ("DECKHAND_KUBECONFIG", kubeconfig.to_str().unwrap()),
            ("DECKHAND_READY_TIMEOUT_SECONDS", "15"),
        ],
    )
}

/// grafana installed through a service on the in-test API server.
fn grafana_on_the_in_test_api_server() -> (FakeKube, Server) {
    let fake = FakeKube::start();
    fake.set_ready_delay(Duration::from_millis(100));
    let server = kube_server(&fake, tempfile::tempdir().unwrap());
    assert_eq!(
        run(&server, "install grafana on k8s", json!({}))["status"],
        "completed"
    );
    (fake, server)
}

/// The statuses of an intent's rollback events, in order.
fn rollback_steps(intent: &Value) -> Vec<&str> {
    intent["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "rollback")
        .map(|e| e["status"].as_str().unwrap())
        .collect()
}

fn image_of(fake: &FakeKube) -> String {
    let deployment = fake
        .object("Deployment", Some("default"), "grafana-grafana")
        .unwrap();
    deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_failed_upgrade_rolls_back_by_itself_unless_asked_not_to() {
    let (fake, server) = grafana_on_the_in_test_api_server();
    fake.fail_workload(
        "grafana/grafana:11.2",
        "ImagePullBackOff",
        "Back-off pulling image \"grafana/grafana:11.2\"",
    );

    let failed = run(&server, "upgrade grafana to 11.2 on k8s", json!({}));
    assert_eq!(failed["status"], "failed");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("ImagePullBackOff"), "{error}");
    assert!(
        error.contains("rolled back grafana to revision 1"),
        "{error}"
    );
    let steps = rollback_steps(&failed);
    assert_eq!(steps, ["rolling_back", "rolled_back"]);
    assert_eq!(
        image_of(&fake),
        "grafana/grafana:13.3.2",
        "the previous revision is serving again"
    );
    let (_, detail) = server.get(
        "/api/orchestration/releases/default/grafana",
        Some(ADMIN_TOKEN),
    );
    let actions: Vec<&str> = detail[0]["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["install", "rollback"],
        "the failed upgrade left no revision"
    );
    let versions: Vec<&str> = detail[0]["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(
        versions,
        ["13.3.2", "13.3.2"],
        "the rollback revision is what serves, not what failed"
    );
    // What comes next starts from what serves: a scale keeps 13.3.2.
    let scaled = run(&server, "scale grafana to 2 on k8s", json!({}));
    assert_eq!(scaled["status"], "completed", "{}", scaled["error"]);
    assert_eq!(image_of(&fake), "grafana/grafana:13.3.2");

    // atomic: false keeps the failed state for debugging.
    let kept = run(
        &server,
        "upgrade grafana to 11.2 on k8s",
        json!({"atomic": false}),
    );
    assert_eq!(kept["status"], "failed");
    assert_eq!(image_of(&fake), "grafana/grafana:11.2");
    assert!(
        kept["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["step"] == "rollback" && e["status"] == "skipped")
    );
}

/// An upgrade whose apply fails part-way (the API server refuses one of its
/// objects after others went through) is rolled back like one that never
/// became ready: what was applied of it counts.
#[test]
fn an_upgrade_that_fails_part_way_through_its_apply_is_rolled_back() {
    let (fake, server) = grafana_on_the_in_test_api_server();
    // The upgrade adds an Ingress, which this caller may not create.
    fake.forbid("patch", "ingresses");
    let failed = run(&server, "upgrade grafana with tls on k8s", json!({}));
    assert_eq!(failed["status"], "failed", "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("ingresses"), "{error}");
    let steps = rollback_steps(&failed);
    assert_eq!(steps, ["rolling_back", "rolled_back"], "{failed}");
}

#[test]
fn killing_the_service_mid_upgrade_leaves_it_interrupted_and_a_retry_finishes() {
    let (fake, server) = grafana_on_the_in_test_api_server();

    // Slow enough to kill the service while it waits, short enough for the
    // rollout to finish on its own before the retry (as a real cluster would).
    fake.set_ready_delay(Duration::from_secs(3));
    let (_, intent) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": "upgrade grafana to 11.2 on k8s"}),
    );
    let id = intent["id"].as_str().unwrap().to_string();
    server.wait_for_event(&id, None, "waiting", Duration::from_secs(30));
    let dir = server.kill();

    let server = kube_server(&fake, dir);
    let (_, interrupted) = server.get(
        &format!("/api/orchestration/intents/{id}"),
        Some(ADMIN_TOKEN),
    );
    assert_eq!(interrupted["status"], "interrupted", "{interrupted}");
    assert_eq!(
        revisions(&server, "grafana").len(),
        1,
        "nothing half-recorded"
    );
    let (code, _) = server.post(
        &format!("/api/orchestration/intents/{id}/retry"),
        Some(ADMIN_TOKEN),
        json!({}),
    );
    assert_eq!(code, 202);
    let done = server.wait_for_within(&id, &["completed", "failed"], Duration::from_secs(60));
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    let history = revisions(&server, "grafana");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["version"], "11.2");
    assert_eq!(image_of(&fake), "grafana/grafana:11.2");
}
