//! Upgrades with a delivery strategy, through the real `deckhand serve`,
//! against the real test control plane (`tests/kube/cluster up`: the
//! Deployment, ReplicaSet and endpoint controllers, the scheduler and the
//! API server are Kubernetes v1.37's; only the kubelet is stood in for).
//! Deckhand runs as the least-privilege `deckhand` user in a namespace of
//! its own per test; SQLite is real.
//!
//! What the stand-in kubelet cannot do: it runs no containers, so a pod's
//! Ready is the stand-in's report, not the blueprint's HTTP/TCP/command
//! probe; a failing canary is made by telling the stand-in to crash-loop
//! the new image (the per-namespace ConfigMap `kubelet-standin`), which is
//! how a real kubelet reports a container that keeps dying.

mod common;

use std::time::Duration;

use common::kube::{NamespaceSetup, cluster, image, revisions};
use common::server::{ADMIN_TOKEN, run, start};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(180);

fn strategy_events(intent: &Value) -> Vec<(String, String)> {
    intent["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "strategy")
        .map(|e| {
            (
                e["status"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A healthy canary goes through 5, 25, 50 and 100 %, each validated; the
/// plan (a dry run, and the CLI) shows the stages first; afterwards only
/// the stable Deployment is left, on the new version at full size. A second
/// canary, paused, refuses a removal and is aborted by "roll back nginx".
#[test]
fn a_healthy_canary_promotes_through_every_stage() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace(
        "canary",
        NamespaceSetup {
            standin: &[("ready-delay", "1s")],
            ..Default::default()
        },
    );
    let server = cluster.server(&ns, &[]);
    let installed = run(
        &server,
        "install nginx version 1.29 with 4 replicas on k8s",
        json!({}),
    );
    assert_eq!(installed["status"], "completed", "{}", installed["error"]);

    let options = json!({"strategy": {"stage_seconds": 2, "interval_seconds": 1}});
    let planned = run(
        &server,
        "upgrade nginx to 1.30 as a canary on k8s",
        json!({"dry_run": true, "strategy": {"stage_seconds": 2, "interval_seconds": 1}}),
    );
    let text = planned["plan_text"].as_str().unwrap();
    for stage in [
        "Strategy: canary",
        "stage 1 of 4 (5%): 1 canary pod(s) beside 3 stable",
        "stage 2 of 4 (25%)",
        "stage 3 of 4 (50%): 2 canary pod(s) beside 2 stable",
        "stage 4 of 4 (100%)",
        "validated for 2 s, checked every 1 s",
    ] {
        assert!(text.contains(stage), "{stage:?} not in: {text}");
    }
    let stages = planned["plan"]["rollout"]["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 4, "{}", planned["plan"]["rollout"]);
    // The CLI shows the same stages before it asks (not a terminal here,
    // so it asks nobody and changes nothing).
    let kubeconfig = cluster.deckhand_kubeconfig.to_str().unwrap().to_string();
    let (db, data) = (server.db(), server.data());
    let cli = common::run_with_env(
        &["chat", "upgrade nginx to 1.30 as a canary on k8s"],
        None,
        &[
            ("DECKHAND_DB", db.to_str().unwrap()),
            ("DECKHAND_DATA_DIR", data.to_str().unwrap()),
            ("DECKHAND_KUBECONFIG", &kubeconfig),
            ("DECKHAND_NAMESPACE", &ns),
        ],
    );
    let shown = common::stdout(&cli);
    assert!(
        shown.contains("Strategy: canary") && shown.contains("stage 2 of 4 (25%)"),
        "{shown}\n{}",
        common::stderr(&cli)
    );

    let id = start(&server, "upgrade nginx to 1.30 as a canary on k8s", options);
    // While stage 1 runs: 3 stable pods and a canary Deployment of 1.30.
    server.wait_for_event(&id, Some("strategy"), "ready", LIMIT);
    let canary = cluster
        .get("Deployment", &ns, "nginx-nginx-canary")
        .expect("the canary Deployment runs");
    assert_eq!(canary["spec"]["replicas"], 1, "{canary}");
    assert_eq!(
        image(&cluster, "Deployment", &ns, "nginx-nginx-canary"),
        "nginx:1.30-alpine"
    );
    let stable = cluster.get("Deployment", &ns, "nginx-nginx").unwrap();
    assert_eq!(stable["spec"]["replicas"], 3, "{stable}");
    assert_eq!(
        image(&cluster, "Deployment", &ns, "nginx-nginx"),
        "nginx:1.29-alpine"
    );

    let done = server.wait_for_within(&id, &["completed", "failed", "cancelled"], LIMIT);
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    let events = strategy_events(&done);
    let validated: Vec<&String> = events
        .iter()
        .filter(|(s, _)| s == "validated")
        .map(|(_, m)| m)
        .collect();
    assert_eq!(validated.len(), 3, "{events:#?}");
    // The endpoint slice controller's view: the Service sends traffic to
    // the canary's pods (1, 1, then 2 of them) beside the stable ones.
    for (message, canary, stable) in [(validated[0], 1, 3), (validated[2], 2, 2)] {
        assert!(
            message.contains(&format!(
                "routes to these {canary} pod(s) and {stable} other(s)"
            )),
            "{message}"
        );
    }
    for percent in ["(5%)", "(25%)", "(50%)", "(100%)"] {
        assert!(
            events
                .iter()
                .any(|(s, m)| s == "stage" && m.contains(percent)),
            "no stage {percent}: {events:#?}"
        );
    }
    assert!(
        cluster
            .get("Deployment", &ns, "nginx-nginx-canary")
            .is_none()
    );
    let stable = cluster.get("Deployment", &ns, "nginx-nginx").unwrap();
    assert_eq!(stable["spec"]["replicas"], 4);
    assert_eq!(
        image(&cluster, "Deployment", &ns, "nginx-nginx"),
        "nginx:1.30-alpine"
    );
    assert_eq!(revisions(&server, &ns, "nginx").len(), 2);

    // Another canary, paused after its first stage: a removal is refused
    // while it runs, and "roll back nginx" is its abort.
    let id = start(
        &server,
        "upgrade nginx to 1.29 as a canary on k8s",
        json!({"strategy": {"stage_seconds": 1, "interval_seconds": 1, "pause": true}}),
    );
    server.wait_for_event(&id, Some("strategy"), "paused", LIMIT);
    let (code, refused) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": "remove nginx on k8s"}),
    );
    assert_eq!(code, 422, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("promote it"),
        "{refused}"
    );
    let words = run(&server, "roll back nginx on k8s", json!({}));
    assert_eq!(words["status"], "completed", "{}", words["error"]);
    let done = server.wait_for_within(&id, &["completed", "failed", "cancelled"], LIMIT);
    assert_eq!(done["status"], "cancelled", "{done}");
    assert!(
        cluster
            .get("Deployment", &ns, "nginx-nginx-canary")
            .is_none()
    );
    assert_eq!(
        image(&cluster, "Deployment", &ns, "nginx-nginx"),
        "nginx:1.30-alpine"
    );
    assert_eq!(revisions(&server, &ns, "nginx").len(), 2);
    cluster.drop_namespace(&ns);
}

/// The canary passes 5 %, pauses (the `pause` setting), the new image is
/// made to crash, and the promote to 25 % fails: the stable revision serves
/// at full size again and nothing of the canary is left.
#[test]
fn a_canary_failing_at_25_percent_rolls_back_and_leaves_nothing() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace(
        "canary-fail",
        NamespaceSetup {
            standin: &[("ready-delay", "1s")],
            ..Default::default()
        },
    );
    let server = cluster.server(&ns, &[]);
    let installed = run(
        &server,
        "install nginx version 1.29 with 8 replicas on k8s",
        json!({}),
    );
    assert_eq!(installed["status"], "completed", "{}", installed["error"]);

    let id = start(
        &server,
        "upgrade nginx to 1.30 as a canary on k8s",
        json!({"strategy": {"stage_seconds": 2, "interval_seconds": 1, "pause": true}}),
    );
    let paused = server.wait_for_event(&id, Some("strategy"), "paused", LIMIT);
    assert!(
        paused["message"]
            .as_str()
            .unwrap()
            .contains("stage 1 of 4 (5%)"),
        "{paused}"
    );
    // From now on the new version's containers keep dying.
    cluster.standin(
        &ns,
        &[
            ("ready-delay", "1s"),
            ("nginx:1.30-alpine", "CrashLoopBackOff"),
        ],
    );
    let (code, body) = server.post(
        &format!("/api/orchestration/intents/{id}/promote"),
        Some(ADMIN_TOKEN),
        json!({}),
    );
    assert_eq!(code, 202, "{body}");

    let done = server.wait_for_within(&id, &["completed", "failed", "cancelled"], LIMIT);
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(error.contains("stage 2 of 4 (25%)"), "{error}");
    assert!(error.contains("rolled back to revision 1"), "{error}");
    let events = strategy_events(&done);
    assert!(
        events.iter().any(|(s, _)| s == "rolled_back"),
        "{events:#?}"
    );

    assert!(
        cluster
            .get("Deployment", &ns, "nginx-nginx-canary")
            .is_none()
    );
    cluster.wait_until(Duration::from_secs(30), "the canary's pods to go", || {
        cluster
            .list("Pod", &ns, "deckhand.io/track=canary")
            .is_empty()
    });
    let stable = cluster.get("Deployment", &ns, "nginx-nginx").unwrap();
    assert_eq!(stable["spec"]["replicas"], 8);
    assert_eq!(
        image(&cluster, "Deployment", &ns, "nginx-nginx"),
        "nginx:1.29-alpine"
    );
    assert_eq!(revisions(&server, &ns, "nginx").len(), 1);
    // Promote now has nothing to steer, and says so.
    let (code, body) = server.post(
        &format!("/api/orchestration/intents/{id}/promote"),
        Some(ADMIN_TOKEN),
        json!({}),
    );
    assert_eq!(code, 409, "{body}");
    cluster.drop_namespace(&ns);
}

fn selector_version(cluster: &common::kube::Cluster, ns: &str) -> Option<String> {
    cluster.get("Service", ns, "nginx").unwrap()["spec"]["selector"]["app.kubernetes.io/version"]
        .as_str()
        .map(str::to_string)
}

/// Blue-green: green beside blue, validated, the Service switched to green;
/// an abort switches back at once and removes green. A second one is
/// retired by a promote: the new version everywhere, green gone.
#[test]
fn blue_green_switches_and_switches_back() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace(
        "blue-green",
        NamespaceSetup {
            standin: &[("ready-delay", "1s")],
            ..Default::default()
        },
    );
    let server = cluster.server(&ns, &[]);
    let installed = run(
        &server,
        "install nginx version 1.29 with 2 replicas on k8s",
        json!({}),
    );
    assert_eq!(installed["status"], "completed", "{}", installed["error"]);
    let options = json!({"strategy": {"stage_seconds": 1, "interval_seconds": 1, "retire_after_seconds": 600}});

    let id = start(
        &server,
        "upgrade nginx to 1.30 with blue-green on k8s",
        options.clone(),
    );
    let switched = server.wait_for_event(&id, Some("strategy"), "switched", LIMIT);
    assert!(
        switched["message"]
            .as_str()
            .unwrap()
            .contains("Service nginx routes to these 2 pod(s) only"),
        "{switched}"
    );
    assert_eq!(selector_version(&cluster, &ns).as_deref(), Some("1.30"));
    assert_eq!(
        image(&cluster, "Deployment", &ns, "nginx-nginx"),
        "nginx:1.29-alpine"
    );
    assert_eq!(
        image(&cluster, "Deployment", &ns, "nginx-nginx-green"),
        "nginx:1.30-alpine"
    );
    // "abort the nginx upgrade", in words, is the switch back.
    let words = run(&server, "abort the nginx upgrade", json!({}));
    assert_eq!(words["status"], "completed", "{}", words["error"]);
    assert!(
        words["plan_text"]
            .as_str()
            .unwrap()
            .contains(&format!("abort sent to intent {id}")),
        "{words}"
    );
    let done = server.wait_for_within(&id, &["completed", "failed", "cancelled"], LIMIT);
    assert_eq!(done["status"], "cancelled", "{done}");
    let events = strategy_events(&done);
    let back = events.iter().find(|(s, _)| s == "switched_back");
    assert!(
        back.is_some_and(|(_, m)| m.contains("routes to these 2 pod(s) only")),
        "{events:#?}"
    );
    let validated = events.iter().find(|(s, _)| s == "validated");
    assert!(
        validated.is_some_and(|(_, m)| m.contains("blue still serves")),
        "{events:#?}"
    );
    assert_eq!(
        selector_version(&cluster, &ns),
        None,
        "the Service selects as installed"
    );
    assert!(
        cluster
            .get("Deployment", &ns, "nginx-nginx-green")
            .is_none()
    );
    assert_eq!(
        image(&cluster, "Deployment", &ns, "nginx-nginx"),
        "nginx:1.29-alpine"
    );
    assert_eq!(revisions(&server, &ns, "nginx").len(), 1);

    // Again, retired by a promote.
    let id = start(
        &server,
        "upgrade nginx to 1.30 with blue-green on k8s",
        options,
    );
    server.wait_for_event(&id, Some("strategy"), "switched", LIMIT);
    let (code, body) = server.post(
        &format!("/api/orchestration/intents/{id}/promote"),
        Some(ADMIN_TOKEN),
        json!({}),
    );
    assert_eq!(code, 202, "{body}");
    let done = server.wait_for_within(&id, &["completed", "failed", "cancelled"], LIMIT);
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    assert!(
        cluster
            .get("Deployment", &ns, "nginx-nginx-green")
            .is_none()
    );
    assert_eq!(
        image(&cluster, "Deployment", &ns, "nginx-nginx"),
        "nginx:1.30-alpine"
    );
    assert_eq!(selector_version(&cluster, &ns), None);
    assert_eq!(revisions(&server, &ns, "nginx").len(), 2);

    // And one retired by time: nobody promotes, blue goes after 2 s.
    let done = run(
        &server,
        "upgrade nginx to 1.29 with blue-green on k8s",
        json!({"strategy": {"stage_seconds": 1, "interval_seconds": 1, "retire_after_seconds": 2}}),
    );
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    let events = strategy_events(&done);
    assert!(
        events
            .iter()
            .any(|(s, m)| s == "retiring" && m.contains("kept for 2 s")),
        "{events:#?}"
    );
    assert!(
        cluster
            .get("Deployment", &ns, "nginx-nginx-green")
            .is_none()
    );
    assert_eq!(
        image(&cluster, "Deployment", &ns, "nginx-nginx"),
        "nginx:1.29-alpine"
    );
    assert_eq!(revisions(&server, &ns, "nginx").len(), 3);
    cluster.drop_namespace(&ns);
}

/// Rolling and recreate are the Deployment's own update strategy, stored
/// with the revision; the plan names the stage.
#[test]
fn rolling_and_recreate_set_the_deployment_strategy() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace("rolling", NamespaceSetup::default());
    let server = cluster.server(&ns, &[]);
    let installed = run(
        &server,
        "install nginx version 1.29 with 3 replicas on k8s",
        json!({}),
    );
    assert_eq!(installed["status"], "completed", "{}", installed["error"]);

    let done = run(
        &server,
        "upgrade nginx to 1.30 rolling, two at a time on k8s",
        json!({}),
    );
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    assert!(
        done["plan_text"]
            .as_str()
            .unwrap()
            .contains("maxSurge 2 and maxUnavailable 0"),
        "{}",
        done["plan_text"]
    );
    let strategy = &cluster.get("Deployment", &ns, "nginx-nginx").unwrap()["spec"]["strategy"];
    assert_eq!(strategy["rollingUpdate"]["maxSurge"], 2, "{strategy}");
    assert_eq!(strategy["rollingUpdate"]["maxUnavailable"], 0, "{strategy}");

    let done = run(
        &server,
        "upgrade nginx to 1.29",
        json!({"strategy": {"type": "recreate"}, "platform": "kubernetes"}),
    );
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    let strategy = &cluster.get("Deployment", &ns, "nginx-nginx").unwrap()["spec"]["strategy"];
    assert_eq!(strategy["type"], "Recreate", "{strategy}");

    // A canary of an upgrade that changes no pod (it adds an Ingress) has
    // nothing to stage: applied as usual, and says so.
    let done = run(
        &server,
        "upgrade nginx to 1.29 with ingress as a canary on k8s",
        json!({}),
    );
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    assert!(
        strategy_events(&done)
            .iter()
            .any(|(_, m)| m.contains("nothing to stage")),
        "{done}"
    );
    assert!(cluster.get("Ingress", &ns, "nginx").is_some());
    assert!(
        cluster
            .get("Deployment", &ns, "nginx-nginx-canary")
            .is_none()
    );

    // A StatefulSet cannot have a canary beside it: refused with the reason,
    // before anything is applied.
    let installed = run(&server, "install redis on k8s", json!({}));
    assert_eq!(installed["status"], "completed", "{}", installed["error"]);
    let canary = run(
        &server,
        "upgrade redis to 7.4.2 as a canary on k8s",
        json!({}),
    );
    assert_eq!(canary["status"], "failed");
    let error = canary["error"].as_str().unwrap();
    assert!(
        error.contains("StatefulSet") && error.contains("ReadWriteOnce"),
        "{error}"
    );
    assert_eq!(revisions(&server, &ns, "redis").len(), 1);
    assert_eq!(
        image(&cluster, "Deployment", &ns, "nginx-nginx"),
        "nginx:1.29-alpine"
    );
    cluster.drop_namespace(&ns);
}

/// With ingress-nginx's class configured, a canary's percentages are
/// request weights: a canary Ingress (canary-weight = the stage's percent)
/// and a `-canary` Service route to the canary's pods, while the main
/// Service is pinned to the stable version; all of it is gone after the
/// promote. (The test cluster runs no ingress controller: the objects are
/// the real API server's, the weighting itself is ingress-nginx's job.)
#[test]
fn a_canary_behind_ingress_nginx_is_weighted_by_requests() {
    let Some(cluster) = cluster() else { return };
    cluster.apply(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}),
    );
    let ns = cluster.namespace(
        "canary-weight",
        NamespaceSetup {
            standin: &[("ready-delay", "1s")],
            ..Default::default()
        },
    );
    let server = cluster.server(&ns, &[("DECKHAND_INGRESS_CLASS", "nginx")]);
    let installed = run(
        &server,
        "install nginx version 1.29 with 4 replicas and ingress on k8s",
        json!({}),
    );
    assert_eq!(installed["status"], "completed", "{}", installed["error"]);

    let id = start(
        &server,
        "upgrade nginx to 1.30 as a canary in steps of 10 50 on k8s",
        json!({"strategy": {"stage_seconds": 1, "interval_seconds": 1, "pause": true}}),
    );
    let paused = server.wait_for_event(&id, Some("strategy"), "paused", LIMIT);
    let (_, intent) = server.get(
        &format!("/api/orchestration/intents/{id}"),
        Some(ADMIN_TOKEN),
    );
    assert!(
        intent["plan_text"]
            .as_str()
            .unwrap()
            .contains("share of requests"),
        "{}",
        intent["plan_text"]
    );
    let weight = |cluster: &common::kube::Cluster| {
        cluster.get("Ingress", &ns, "nginx-canary").unwrap()["metadata"]["annotations"]
            ["nginx.ingress.kubernetes.io/canary-weight"]
            .clone()
    };
    assert_eq!(weight(&cluster), "10", "{paused}");
    let canary_service = cluster.get("Service", &ns, "nginx-canary").unwrap();
    assert_eq!(
        canary_service["spec"]["selector"]["deckhand.io/track"],
        "canary"
    );
    assert_eq!(selector_of(&cluster, &ns, "nginx").as_deref(), Some("1.29"));
    let events = strategy_events(&intent);
    let validated = events.iter().find(|(s, _)| s == "validated").unwrap();
    assert!(
        validated
            .1
            .contains("Service nginx-canary routes to these 1 pod(s) only")
            && validated
                .1
                .contains("Service nginx routes to these 3 pod(s) only"),
        "{validated:?}"
    );

    let promote = || {
        let (code, body) = server.post(
            &format!("/api/orchestration/intents/{id}/promote"),
            Some(ADMIN_TOKEN),
            json!({}),
        );
        assert_eq!(code, 202, "{body}");
    };
    promote();
    cluster.wait_until(LIMIT, "canary-weight 50", || weight(&cluster) == "50");
    let done = loop {
        let (_, intent) = server.get(
            &format!("/api/orchestration/intents/{id}"),
            Some(ADMIN_TOKEN),
        );
        if intent["status"] != "deploying" {
            break intent;
        }
        let pauses = strategy_events(&intent)
            .iter()
            .filter(|(s, _)| s == "paused")
            .count();
        if pauses == 2 {
            promote();
            break server.wait_for_within(&id, &["completed", "failed", "cancelled"], LIMIT);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    for kind in ["Ingress", "Service", "Deployment"] {
        assert!(
            cluster.get(kind, &ns, "nginx-canary").is_none()
                && cluster.get(kind, &ns, "nginx-nginx-canary").is_none(),
            "a canary {kind} is left"
        );
    }
    assert_eq!(selector_of(&cluster, &ns, "nginx"), None);
    assert_eq!(
        image(&cluster, "Deployment", &ns, "nginx-nginx"),
        "nginx:1.30-alpine"
    );
    cluster.drop_namespace(&ns);
}

fn selector_of(cluster: &common::kube::Cluster, ns: &str, service: &str) -> Option<String> {
    cluster.get("Service", ns, service).unwrap()["spec"]["selector"]["app.kubernetes.io/version"]
        .as_str()
        .map(str::to_string)
}
