//! The Kubernetes executor through the real `deckhand serve`, against the
//! in-test API server (`tests/common/fake_kube.rs`): no real Kubernetes API
//! server can run here, so this stand-in speaks the subset deckhand uses
//! (apply-patch, get, list, watch, delete) and moves workloads to ready after
//! a delay, or to a failure the test chooses. SQLite is real. The tests check
//! the requests (field manager, content type, order) as well as the outcome.

mod common;

use std::time::Duration;

use common::fake_kube::FakeKube;
use common::server::{ADMIN_TOKEN, Server};
use serde_json::{Value, json};

fn server_for(fake: &FakeKube, dir: tempfile::TempDir) -> Server {
    let kubeconfig = fake.kubeconfig(dir.path());
    Server::start_with(
        dir,
        &[
            ("DECKHAND_KUBECONFIG", kubeconfig.to_str().unwrap()),
            ("DECKHAND_READY_TIMEOUT_SECONDS", "20"),
        ],
    )
}

fn run(server: &Server, command: &str, options: Value) -> Value {
    let (code, intent) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": command, "options": options}),
    );
    assert_eq!(code, 202, "{intent}");
    server.wait_for_within(
        intent["id"].as_str().unwrap(),
        &["completed", "failed", "cancelled"],
        Duration::from_secs(60),
    )
}

fn applies(fake: &FakeKube) -> Vec<common::fake_kube::RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect()
}

#[test]
fn install_applies_in_order_with_server_side_apply_and_waits_for_readiness() {
    let fake = FakeKube::start();
    fake.set_ready_delay(Duration::from_millis(300));
    let server = server_for(&fake, tempfile::tempdir().unwrap());
    let done = run(
        &server,
        "install authentik with tls on k8s in namespace auth",
        json!({}),
    );
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    assert_eq!(done["executor"], "kubernetes");

    let patches = applies(&fake);
    assert!(!patches.is_empty());
    for request in &patches {
        assert_eq!(
            request.query_param("fieldManager").as_deref(),
            Some("deckhand"),
            "{}",
            request.path
        );
        assert_eq!(
            request.content_type.as_deref(),
            Some("application/apply-patch+yaml"),
            "{}",
            request.path
        );
    }
    assert_eq!(
        patches[0].path, "/api/v1/namespaces/auth",
        "the namespace is created first"
    );
    assert_eq!(
        patches
            .iter()
            .filter(|r| r.path == "/api/v1/namespaces/auth")
            .count(),
        1,
        "and only when it is missing"
    );
    // authentik's objects are applied only after its database is ready.
    let requests = fake.requests();
    let first_authentik = requests
        .iter()
        .position(|r| r.method == "PATCH" && r.path.ends_with("/secrets/authentik-secrets"))
        .unwrap();
    let pg_set = requests
        .iter()
        .position(|r| {
            r.method == "PATCH"
                && r.path
                    .ends_with("/statefulsets/authentik-postgresql-postgres")
        })
        .unwrap();
    assert!(pg_set < first_authentik);
    let watched = requests
        .iter()
        .position(|r| {
            r.method == "GET" && r.path.ends_with("/statefulsets") && r.query.contains("watch")
        })
        .unwrap();
    assert!(
        watched < first_authentik,
        "readiness comes from a watch on the object"
    );

    let ingress = fake
        .object("Ingress", Some("auth"), "authentik")
        .expect("ingress applied");
    assert_eq!(
        ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt"
    );
    let set = fake
        .object("StatefulSet", Some("auth"), "authentik-server")
        .unwrap();
    assert_eq!(
        set["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "deckhand"
    );
    assert!(
        done["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["step"] == "release authentik" && e["status"] == "ready")
    );

    // The same plan again changes nothing on the server.
    let versions = |fake: &FakeKube| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = fake
            .objects()
            .iter()
            .filter(|o| o["kind"] != "Pod" && o["kind"] != "PersistentVolumeClaim")
            .map(|o| {
                (
                    format!("{}/{}", o["kind"], o["metadata"]["name"]),
                    o["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let before = versions(&fake);
    let again = run(
        &server,
        "install authentik with tls on k8s in namespace auth",
        json!({}),
    );
    assert_eq!(again["status"], "completed", "{}", again["error"]);
    assert_eq!(
        versions(&fake),
        before,
        "a second apply of the same plan must change nothing"
    );
}

#[test]
fn a_failing_workload_fails_the_intent_with_the_engines_reason() {
    let fake = FakeKube::start();
    fake.set_ready_delay(Duration::from_millis(100));
    fake.fail_workload(
        "grafana-grafana",
        "ImagePullBackOff",
        "Back-off pulling image \"grafana/grafana:12.2.0\"",
    );
    let server = server_for(&fake, tempfile::tempdir().unwrap());
    let done = run(
        &server,
        "install grafana and redis on kubernetes",
        json!({}),
    );
    assert_eq!(done["status"], "failed");
    let error = done["error"].as_str().unwrap();
    assert!(error.contains("grafana failed"), "{error}");
    assert!(
        error.contains("ImagePullBackOff") && error.contains("Back-off pulling image"),
        "{error}"
    );
    assert!(
        error.contains("ready:") && error.contains("redis"),
        "the independent branch finishes: {error}"
    );
}

#[test]
fn forbidden_and_unreachable_clusters_are_clear_errors() {
    let fake = FakeKube::start();
    fake.forbid("patch", "secrets");
    let server = server_for(&fake, tempfile::tempdir().unwrap());
    let done = run(&server, "install redis on k8s", json!({}));
    assert_eq!(done["status"], "failed");
    let error = done["error"].as_str().unwrap();
    assert!(
        error.contains("forbidden") && error.contains("cannot patch resource \"secrets\""),
        "{error}"
    );

    // Rights that end at a namespace that exists: deploying into it works.
    let fake = FakeKube::start();
    fake.set_ready_delay(Duration::from_millis(50));
    let server = server_for(&fake, tempfile::tempdir().unwrap());
    assert_eq!(
        run(&server, "install nginx on k8s in namespace team", json!({}))["status"],
        "completed"
    );
    fake.forbid("get", "namespaces");
    fake.forbid("patch", "namespaces");
    let done = run(&server, "install redis on k8s in namespace team", json!({}));
    assert_eq!(done["status"], "completed", "{}", done["error"]);

    // A kubeconfig that points nowhere.
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("nowhere");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"http://127.0.0.1:9\"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    )
    .unwrap();
    let path = kubeconfig.to_str().unwrap().to_string();
    let server = Server::start_with(dir, &[("DECKHAND_KUBECONFIG", &path)]);
    let done = run(&server, "install redis on k8s", json!({}));
    assert_eq!(done["status"], "failed");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains("cannot reach the Kubernetes API"),
        "{}",
        done["error"]
    );
}

#[test]
fn remove_deletes_by_label_in_reverse_order_and_keeps_volumes_unless_asked() {
    let fake = FakeKube::start();
    fake.set_ready_delay(Duration::from_millis(50));
    let server = server_for(&fake, tempfile::tempdir().unwrap());
    assert_eq!(
        run(&server, "install gitea on k8s", json!({}))["status"],
        "completed"
    );
    assert!(
        fake.object(
            "PersistentVolumeClaim",
            Some("default"),
            "data-gitea-postgresql-postgres-0"
        )
        .is_some()
    );

    let removed = run(
        &server,
        "remove gitea and its dependencies on k8s",
        json!({}),
    );
    assert_eq!(removed["status"], "completed", "{}", removed["error"]);
    let deletes: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| format!("{}?{}", r.path, r.query))
        .collect();
    let first_gitea = deletes
        .iter()
        .position(|d| d.contains("instance%3Dgitea%2C") || d.contains("instance=gitea,"))
        .unwrap();
    let first_pg = deletes
        .iter()
        .position(|d| d.contains("gitea-postgresql"))
        .unwrap();
    assert!(first_gitea < first_pg, "dependents go first: {deletes:?}");
    assert!(
        fake.object("StatefulSet", Some("default"), "gitea-postgresql-postgres")
            .is_none()
    );
    assert!(
        fake.object("Secret", Some("default"), "gitea-secrets")
            .is_none()
    );
    assert!(
        fake.object(
            "PersistentVolumeClaim",
            Some("default"),
            "data-gitea-postgresql-postgres-0"
        )
        .is_some(),
        "data is kept"
    );
    let last = removed["events"].as_array().unwrap().last().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(last.contains("volumes kept"), "{last}");

    let purged = run(
        &server,
        "remove gitea-postgresql on k8s",
        json!({"delete_data": true}),
    );
    assert_eq!(purged["status"], "completed");
    assert!(
        fake.object(
            "PersistentVolumeClaim",
            Some("default"),
            "data-gitea-postgresql-postgres-0"
        )
        .is_none()
    );
}

#[test]
fn two_intents_on_the_same_release_take_turns_and_say_so() {
    let fake = FakeKube::start();
    fake.set_ready_delay(Duration::from_millis(800));
    let server = server_for(&fake, tempfile::tempdir().unwrap());
    let start = |command: &str| {
        let (code, intent) = server.post(
            "/api/orchestration/deploy",
            Some(ADMIN_TOKEN),
            json!({"command": command}),
        );
        assert_eq!(code, 202, "{intent}");
        intent["id"].as_str().unwrap().to_string()
    };
    let first = start("install redis on k8s");
    let second = start("install redis version 7.4 on k8s");
    let first = server.wait_for_within(&first, &["completed", "failed"], Duration::from_secs(30));
    let second = server.wait_for_within(&second, &["completed", "failed"], Duration::from_secs(30));
    assert_eq!(
        (first["status"].as_str(), second["status"].as_str()),
        (Some("completed"), Some("completed")),
        "{} / {}",
        first["error"],
        second["error"]
    );
    let waited: Vec<&Value> = [&first, &second]
        .into_iter()
        .flat_map(|i| i["events"].as_array().unwrap().iter())
        .filter(|e| e["status"] == "waited")
        .collect();
    assert_eq!(waited.len(), 1, "exactly one of them waited for the other");
    assert!(
        waited[0]["message"]
            .as_str()
            .unwrap()
            .contains("kubernetes/default/redis"),
        "{}",
        waited[0]
    );
    // They never deployed at the same time: one finished before the other started.
    let span = |intent: &Value| {
        let events = intent["events"].as_array().unwrap();
        let at = |status: &str| {
            events
                .iter()
                .find(|e| e["step"] == "release redis" && e["status"] == status)
                .unwrap()["id"]
                .as_i64()
                .unwrap()
        };
        (at("started"), at("ready"))
    };
    let (a, b) = (span(&first), span(&second));
    assert!(a.1 < b.0 || b.1 < a.0, "overlapping deploys: {a:?} {b:?}");
}

/// An intent that had to wait plans again from what the other one left, so
/// a scale asked for during an upgrade keeps the upgrade (and says it waits
/// while it waits).
#[test]
fn an_intent_that_waited_builds_on_what_the_other_one_did() {
    let fake = FakeKube::start();
    fake.set_ready_delay(Duration::from_millis(100));
    let server = server_for(&fake, tempfile::tempdir().unwrap());
    assert_eq!(
        run(&server, "install grafana on k8s", json!({}))["status"],
        "completed"
    );
    // Long enough that the scale surely asks while the upgrade holds the lock.
    fake.set_ready_delay(Duration::from_secs(3));
    let (_, upgrade) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": "upgrade grafana to 12.1.0 on k8s"}),
    );
    let upgrade = upgrade["id"].as_str().unwrap().to_string();
    // The upgrade holds grafana's lock once it has started applying.
    server.wait_for_event(
        &upgrade,
        Some("release grafana"),
        "started",
        Duration::from_secs(20),
    );
    let (_, scale) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": "scale grafana to 3 on k8s"}),
    );
    let scale = scale["id"].as_str().unwrap().to_string();
    // While the upgrade runs, the scale says it waits, and for whom.
    let waiting = server.wait_for_event(&scale, Some("deploy"), "waiting", Duration::from_secs(20));
    assert!(
        waiting["message"]
            .as_str()
            .unwrap()
            .contains(&format!("intent {upgrade}")),
        "{waiting}"
    );
    let upgrade =
        server.wait_for_within(&upgrade, &["completed", "failed"], Duration::from_secs(30));
    let scale = server.wait_for_within(&scale, &["completed", "failed"], Duration::from_secs(30));
    assert_eq!(upgrade["status"], "completed", "{}", upgrade["error"]);
    assert_eq!(scale["status"], "completed", "{}", scale["error"]);
    let deployment = fake
        .object("Deployment", Some("default"), "grafana-grafana")
        .expect("grafana's Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"], "grafana/grafana:12.1.0",
        "the scale kept the upgrade"
    );
}

/// A retry runs where the first run did: an intent started on the
/// Kubernetes executor (the configured default then) and interrupted by a
/// kill is retried on Kubernetes after a restart whose default is render.
#[test]
fn a_retry_keeps_the_executor_the_intent_started_with() {
    let fake = FakeKube::start();
    // Long enough to kill the service while it waits; the retry's identical
    // apply changes nothing, so redis becomes ready when this runs out.
    fake.set_ready_delay(Duration::from_secs(3));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.kubeconfig(dir.path());
    let kubeconfig = kubeconfig.to_str().unwrap().to_string();
    let server = Server::start_with(
        dir,
        &[
            ("DECKHAND_KUBECONFIG", kubeconfig.as_str()),
            ("DECKHAND_EXECUTOR", "kubernetes"),
        ],
    );
    let (_, intent) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": "install redis"}),
    );
    let id = intent["id"].as_str().unwrap().to_string();
    server.wait_for_event(
        &id,
        Some("release redis"),
        "waiting",
        Duration::from_secs(20),
    );
    let dir = server.kill();
    let server = Server::start_with(dir, &[("DECKHAND_KUBECONFIG", kubeconfig.as_str())]);
    let (_, interrupted) = server.get(
        &format!("/api/orchestration/intents/{id}"),
        Some(ADMIN_TOKEN),
    );
    assert_eq!(interrupted["status"], "interrupted", "{interrupted}");
    let (code, _) = server.post(
        &format!("/api/orchestration/intents/{id}/retry"),
        Some(ADMIN_TOKEN),
        json!({}),
    );
    assert_eq!(code, 202);
    let done = server.wait_for_within(&id, &["completed", "failed"], Duration::from_secs(30));
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    assert_eq!(done["executor"], "kubernetes", "{done}");
    assert!(
        fake.object("StatefulSet", Some("default"), "redis-redis")
            .is_some()
    );
}

#[test]
fn status_reports_what_is_live_and_why_a_component_is_not_ready() {
    let fake = FakeKube::start();
    fake.set_ready_delay(Duration::from_millis(50));
    let server = server_for(&fake, tempfile::tempdir().unwrap());
    assert_eq!(
        run(&server, "install redis on k8s", json!({}))["status"],
        "completed"
    );
    let status = run(&server, "status of redis on k8s", json!({}));
    assert_eq!(status["status"], "completed", "{status}");
    let report = status["plan_text"].as_str().unwrap();
    assert!(
        report.contains("redis — redis 8: deployed, revision 1"),
        "{report}"
    );
    assert!(report.contains("redis/redis: 1/1 ready"), "{report}");

    // A failing rollout shows the engine's reason in the live part.
    fake.fail_workload(
        "redis:7.4",
        "ImagePullBackOff",
        "Back-off pulling image \"redis:7.4\"",
    );
    let failed = run(
        &server,
        "upgrade redis to 7.4 on k8s",
        json!({"atomic": false}),
    );
    assert_eq!(failed["status"], "failed");
    let report = run(&server, "status of redis on k8s", json!({}))["plan_text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        report.contains("redis/redis: 0/1 ready") && report.contains("ImagePullBackOff"),
        "{report}"
    );
}
