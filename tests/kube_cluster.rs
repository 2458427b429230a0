//! The Kubernetes executor through the real `deckhand serve`, against the
//! real test control plane (`tests/kube/cluster up`: kube-apiserver,
//! kube-controller-manager and kube-scheduler of Kubernetes v1.37 on etcd,
//! and a kubelet stand-in that runs no containers but reports pods the way a
//! kubelet does). Deckhand runs as the least-privilege user `deckhand rbac`
//! describes, in a namespace of its own per test. SQLite is real.
//!
//! Nothing here is faked but the kubelet: the Deployment and StatefulSet
//! controllers, the scheduler, admission (Pod Security, quotas), RBAC,
//! server-side apply field ownership and garbage collection are the real
//! ones. Faults a real cluster cannot be made to produce on demand (a watch
//! stream reset mid-response) stay in `tests/kubernetes.rs` on the in-test
//! API server.

mod common;

use std::time::{Duration, Instant};

use common::kube::{
    AUTHENTIK_PODS_ON_CRITICAL_PATH, Cluster, NamespaceSetup, TimedInstall, cluster, image,
    revisions, rollback_steps,
};
use common::server::{ADMIN_TOKEN, run, start};
use serde_json::{Value, json};

/// The whole install of authentik with TLS: PostgreSQL first, then
/// authentik's server (a StatefulSet) and worker (a Deployment); the
/// ClusterIssuer and the IngressClass checked; the TLS Secret cert-manager
/// (here the stand-in's ingress-shim) issues is removed with the release.
#[test]
fn install_authentik_with_tls_then_remove_it_with_its_data() {
    let Some(cluster) = cluster() else { return };
    let delay = Duration::from_secs(5);
    // The target is measured on the release build by `cargo bench --bench kube_install`.
    let TimedInstall {
        namespace: ns,
        server,
        done,
        wall,
        ..
    } = cluster.install_authentik_timed("authentik", delay);
    let critical = delay * AUTHENTIK_PODS_ON_CRITICAL_PATH;
    eprintln!(
        "authentik with TLS: {wall:.2} s for {:.2} s of readiness delays on the critical path ({:.3}x)",
        critical.as_secs_f64(),
        wall / critical.as_secs_f64()
    );
    // authentik starts only once its database is ready.
    let at = |step: &str, status: &str| {
        done["events"]
            .as_array()
            .unwrap()
            .iter()
            .position(|e| e["step"] == step && e["status"] == status)
            .unwrap_or_else(|| panic!("no {step} {status} event: {done}"))
    };
    assert!(at("release authentik-postgresql", "ready") < at("release authentik", "started"));
    let set = cluster.get("StatefulSet", &ns, "authentik-server").unwrap();
    assert_eq!(set["status"]["readyReplicas"], 1, "{set}");
    assert_eq!(set["metadata"]["managedFields"][0]["manager"], "deckhand");
    let worker = cluster.get("Deployment", &ns, "authentik-worker").unwrap();
    assert_eq!(worker["status"]["availableReplicas"], 1, "{worker}");
    let ingress = cluster.get("Ingress", &ns, "authentik").unwrap();
    assert_eq!(
        ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt"
    );
    cluster.wait_until(Duration::from_secs(10), "the TLS Secret", || {
        cluster.get("Secret", &ns, "authentik-tls").is_some()
    });
    assert!(
        !cluster
            .list(
                "PersistentVolumeClaim",
                &ns,
                "app.kubernetes.io/instance=authentik-postgresql"
            )
            .is_empty()
    );

    // The same plan again changes nothing on the server.
    let versions = |cluster: &Cluster| -> Vec<(String, String)> {
        let mut out = Vec::new();
        for kind in ["StatefulSet", "Deployment", "Service", "Secret", "Ingress"] {
            for o in cluster.list(kind, &ns, "app.kubernetes.io/managed-by=deckhand") {
                out.push((
                    format!("{kind}/{}", o["metadata"]["name"].as_str().unwrap()),
                    o["metadata"]["generation"].to_string(),
                ));
            }
        }
        out.sort();
        out
    };
    let before = versions(&cluster);
    let again = run(&server, "install authentik with tls on k8s", json!({}));
    assert_eq!(again["status"], "completed", "{}", again["error"]);
    assert_eq!(
        versions(&cluster),
        before,
        "a second apply of the same plan changes nothing"
    );

    // Status of the live objects.
    let status = run(&server, "status of authentik on k8s", json!({}));
    let report = status["plan_text"].as_str().unwrap();
    assert!(
        report.contains("server: 1/1 ready") && report.contains("worker: 1/1 ready"),
        "{report}"
    );

    let removed = run(
        &server,
        "remove authentik and its dependencies and its data on k8s",
        json!({}),
    );
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
        ["release authentik", "release authentik-postgresql"],
        "dependents first"
    );
    assert!(
        cluster.get("Secret", &ns, "authentik-tls").is_none(),
        "cert-manager's TLS Secret goes with the release"
    );
    assert!(
        cluster
            .get("StatefulSet", &ns, "authentik-server")
            .is_none()
    );
    assert!(
        cluster
            .list(
                "PersistentVolumeClaim",
                &ns,
                "app.kubernetes.io/instance=authentik-postgresql"
            )
            .iter()
            .all(|c| !c["metadata"]["deletionTimestamp"].is_null()),
        "the data went too"
    );
    cluster.drop_namespace(&ns);
}

/// Deployments: upgrade, a failed upgrade rolled back by itself (the bad
/// image reported within seconds), scale, rollback to a revision, remove
/// keeping the data, then the data.
#[test]
fn deployment_lifecycle_on_a_real_control_plane() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace(
        "grafana",
        NamespaceSetup {
            data_removal: true,
            standin: &[("grafana/grafana:11.2", "ErrImagePull")],
            ..Default::default()
        },
    );
    let server = cluster.server(&ns, &[]);
    assert_eq!(
        run(&server, "install grafana on k8s", json!({}))["status"],
        "completed"
    );

    let upgraded = run(&server, "upgrade grafana to 12.1.0 on k8s", json!({}));
    assert_eq!(upgraded["status"], "completed", "{}", upgraded["error"]);
    assert_eq!(
        image(&cluster, "Deployment", &ns, "grafana-grafana"),
        "grafana/grafana:12.1.0"
    );
    let pods = cluster.list("Pod", &ns, "app.kubernetes.io/instance=grafana");
    assert!(
        pods.iter().all(
            |p| p["spec"]["containers"][0]["image"] == "grafana/grafana:12.1.0"
                || !p["metadata"]["deletionTimestamp"].is_null()
        ),
        "no old pod serves once the upgrade is ready"
    );

    // The failed upgrade: reported within seconds, then rolled back.
    let started = Instant::now();
    let failed = run(&server, "upgrade grafana to 11.2 on k8s", json!({}));
    assert_eq!(failed["status"], "failed");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("ErrImagePull") || error.contains("ImagePullBackOff"),
        "{error}"
    );
    assert!(
        error.contains("rolled back grafana to revision 2"),
        "{error}"
    );
    assert_eq!(rollback_steps(&failed), ["rolling_back", "rolled_back"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        image(&cluster, "Deployment", &ns, "grafana-grafana"),
        "grafana/grafana:12.1.0"
    );
    let deployment = cluster.get("Deployment", &ns, "grafana-grafana").unwrap();
    assert_eq!(deployment["status"]["availableReplicas"], 1, "{deployment}");

    let scaled = run(&server, "scale grafana to 3 on k8s", json!({}));
    assert_eq!(scaled["status"], "completed", "{}", scaled["error"]);
    let deployment = cluster.get("Deployment", &ns, "grafana-grafana").unwrap();
    assert_eq!(deployment["status"]["availableReplicas"], 3, "{deployment}");
    assert_eq!(
        image(&cluster, "Deployment", &ns, "grafana-grafana"),
        "grafana/grafana:12.1.0"
    );

    let rolled = run(&server, "roll back grafana to revision 1 on k8s", json!({}));
    assert_eq!(rolled["status"], "completed", "{}", rolled["error"]);
    assert_eq!(
        image(&cluster, "Deployment", &ns, "grafana-grafana"),
        "grafana/grafana:13.3.2"
    );
    let deployment = cluster.get("Deployment", &ns, "grafana-grafana").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 1);
    let actions: Vec<String> = revisions(&server, &ns, "grafana")
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        ["install", "upgrade", "rollback", "scale", "rollback"]
    );

    let status = run(&server, "status of grafana on k8s", json!({}));
    let report = status["plan_text"].as_str().unwrap();
    assert!(report.contains("grafana/grafana: 1/1 ready"), "{report}");

    // Remove, keeping the data; then the data.
    let removed = run(
        &server,
        "remove grafana and its dependencies on k8s",
        json!({}),
    );
    assert_eq!(removed["status"], "completed", "{}", removed["error"]);
    assert!(cluster.get("Deployment", &ns, "grafana-grafana").is_none());
    assert!(
        cluster
            .get("StatefulSet", &ns, "grafana-postgresql-postgres")
            .is_none()
    );
    let claim = "data-grafana-postgresql-postgres-0";
    assert!(
        cluster.get("PersistentVolumeClaim", &ns, claim).is_some(),
        "data is kept"
    );
    let last = removed["events"].as_array().unwrap().last().unwrap()["message"].to_string();
    assert!(last.contains("volumes kept"), "{last}");
    let purged = run(
        &server,
        "remove grafana-postgresql on k8s",
        json!({"delete_data": true}),
    );
    assert_eq!(purged["status"], "completed", "{}", purged["error"]);
    cluster.wait_until(Duration::from_secs(20), "the claim to go", || {
        cluster.get("PersistentVolumeClaim", &ns, claim).is_none()
    });
    cluster.drop_namespace(&ns);
}

/// StatefulSets: an upgrade whose pod never starts is rolled back by
/// itself, which on a real cluster needs the forced rollback (the broken
/// pod is deleted once the template is reverted, or `OrderedReady` waits
/// for it forever); then an upgrade, a rollback and a removal.
#[test]
fn statefulset_lifecycle_with_forced_rollback() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace(
        "kuma",
        NamespaceSetup {
            standin: &[("louislam/uptime-kuma:1", "CrashLoopBackOff")],
            ..Default::default()
        },
    );
    let server = cluster.server(&ns, &[]);
    assert_eq!(
        run(&server, "install uptime-kuma on k8s", json!({}))["status"],
        "completed"
    );
    let set = "uptime-kuma-uptime-kuma";
    assert_eq!(
        image(&cluster, "StatefulSet", &ns, set),
        "louislam/uptime-kuma:2"
    );
    let before_uid =
        cluster.get("Pod", &ns, &format!("{set}-0")).unwrap()["metadata"]["uid"].clone();

    let failed = run(&server, "upgrade uptime-kuma to 1 on k8s", json!({}));
    assert_eq!(failed["status"], "failed", "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("CrashLoopBackOff"), "{error}");
    assert!(
        error.contains("rolled back uptime-kuma to revision 1"),
        "{error}"
    );
    assert_eq!(rollback_steps(&failed), ["rolling_back", "rolled_back"]);
    assert!(
        failed["events"]
            .to_string()
            .contains(&format!("forced rollback: deleted pod(s) {set}-0")),
        "the broken pod was deleted for the controller to replace: {failed}"
    );
    let live = cluster.get("StatefulSet", &ns, set).unwrap();
    assert_eq!(live["status"]["readyReplicas"], 1, "{live}");
    assert_eq!(
        live["status"]["currentRevision"],
        live["status"]["updateRevision"]
    );
    let pod = cluster.get("Pod", &ns, &format!("{set}-0")).unwrap();
    assert_eq!(
        pod["spec"]["containers"][0]["image"],
        "louislam/uptime-kuma:2"
    );
    assert_ne!(pod["metadata"]["uid"], before_uid);

    // atomic: false keeps the failed state.
    let kept = run(
        &server,
        "upgrade uptime-kuma to 1 on k8s",
        json!({"atomic": false}),
    );
    assert_eq!(kept["status"], "failed");
    assert_eq!(
        image(&cluster, "StatefulSet", &ns, set),
        "louislam/uptime-kuma:1"
    );
    let status = run(&server, "status of uptime-kuma on k8s", json!({}));
    let report = status["plan_text"].as_str().unwrap();
    assert!(
        report.contains("0/1 ready") && report.contains("CrashLoopBackOff"),
        "{report}"
    );
    let rolled = run(&server, "roll back uptime-kuma on k8s", json!({}));
    assert_eq!(rolled["status"], "completed", "{}", rolled["error"]);
    assert_eq!(
        image(&cluster, "StatefulSet", &ns, set),
        "louislam/uptime-kuma:2"
    );

    let upgraded = run(&server, "upgrade uptime-kuma to 2.0.2 on k8s", json!({}));
    assert_eq!(upgraded["status"], "completed", "{}", upgraded["error"]);
    let live = cluster.get("StatefulSet", &ns, set).unwrap();
    assert_eq!(live["status"]["updatedReplicas"], 1, "{live}");

    // Without the data-removal role, removing the data is refused by RBAC
    // with the reason; the rest goes.
    let removed = run(
        &server,
        "remove uptime-kuma and its dependencies on k8s",
        json!({"delete_data": true}),
    );
    assert_eq!(removed["status"], "failed", "{removed}");
    let error = removed["error"].as_str().unwrap();
    assert!(
        error.contains("forbidden") && error.contains("persistentvolumeclaims"),
        "{error}"
    );
    cluster.drop_namespace(&ns);
}

/// Cancelling while the pods are not ready yet stops the wait at once and
/// says what was applied.
#[test]
fn cancel_mid_wait() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace(
        "cancel",
        NamespaceSetup {
            standin: &[("ready-delay", "60s")],
            ..Default::default()
        },
    );
    let server = cluster.server(&ns, &[]);
    let id = start(&server, "install redis on k8s", json!({}));
    server.wait_for_event(
        &id,
        Some("release redis"),
        "waiting",
        Duration::from_secs(20),
    );
    let asked = Instant::now();
    let (code, _) = server.delete(
        &format!("/api/orchestration/intents/{id}"),
        Some(ADMIN_TOKEN),
    );
    assert!(code == 200 || code == 202, "{code}");
    let done = server.wait_for_within(
        &id,
        &["cancelled", "failed", "completed"],
        Duration::from_secs(10),
    );
    assert_eq!(done["status"], "cancelled", "{done}");
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert!(done["events"].to_string().contains("redis"), "{done}");
    assert!(
        cluster.get("StatefulSet", &ns, "redis-redis").is_some(),
        "what was applied stays"
    );
    cluster.drop_namespace(&ns);
}

/// Two intents on one release take turns, and the one that waited plans
/// again from what the other left: a scale asked during an upgrade keeps it.
#[test]
fn intents_on_the_same_release_take_turns_and_build_on_each_other() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace("turns", NamespaceSetup::default());
    let server = cluster.server(&ns, &[]);
    assert_eq!(
        run(&server, "install nginx on k8s", json!({}))["status"],
        "completed"
    );
    // Slow enough that the scale surely asks while the upgrade holds the lock.
    cluster.standin(&ns, &[("ready-delay", "3s")]);
    let upgrade = start(&server, "upgrade nginx to 1.29 on k8s", json!({}));
    server.wait_for_event(
        &upgrade,
        Some("release nginx"),
        "started",
        Duration::from_secs(20),
    );
    let scale = start(&server, "scale nginx to 2 on k8s", json!({}));
    let waiting = server.wait_for_event(&scale, Some("deploy"), "waiting", Duration::from_secs(20));
    assert!(
        waiting["message"]
            .as_str()
            .unwrap()
            .contains(&format!("intent {upgrade}")),
        "{waiting}"
    );
    let upgrade =
        server.wait_for_within(&upgrade, &["completed", "failed"], Duration::from_secs(60));
    let scale = server.wait_for_within(&scale, &["completed", "failed"], Duration::from_secs(60));
    assert_eq!(upgrade["status"], "completed", "{}", upgrade["error"]);
    assert_eq!(scale["status"], "completed", "{}", scale["error"]);
    let deployment = cluster.get("Deployment", &ns, "nginx-nginx").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.29-alpine",
        "the scale kept the upgrade"
    );
    assert_eq!(deployment["status"]["availableReplicas"], 2);
    cluster.drop_namespace(&ns);
}

/// A service killed mid-upgrade leaves the intent interrupted, nothing
/// half-recorded; a retry after a restart (whose default executor is now
/// render) runs on Kubernetes again and finishes.
#[test]
fn killing_the_service_mid_upgrade_and_retrying_on_the_same_executor() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace("kill", NamespaceSetup::default());
    let server = cluster.server(&ns, &[]);
    assert_eq!(
        run(&server, "install grafana on k8s", json!({}))["status"],
        "completed"
    );
    cluster.standin(&ns, &[("ready-delay", "4s")]);
    let id = start(&server, "upgrade grafana to 12.1.0", json!({}));
    server.wait_for_event(&id, None, "waiting", Duration::from_secs(30));
    let dir = server.kill();
    let server = cluster.server_in(dir, &ns, &[("DECKHAND_EXECUTOR", "render")]);
    let (_, interrupted) = server.get(
        &format!("/api/orchestration/intents/{id}"),
        Some(ADMIN_TOKEN),
    );
    assert_eq!(interrupted["status"], "interrupted", "{interrupted}");
    assert_eq!(
        revisions(&server, &ns, "grafana").len(),
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
    assert_eq!(done["executor"], "kubernetes", "{done}");
    let history = revisions(&server, &ns, "grafana");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["version"], "12.1.0");
    assert_eq!(
        image(&cluster, "Deployment", &ns, "grafana-grafana"),
        "grafana/grafana:12.1.0"
    );
    cluster.drop_namespace(&ns);
}

/// An upgrade whose apply is refused part-way (RBAC without `create` on
/// Ingresses, so the Ingress that TLS adds cannot be made after the rest
/// went through)
/// is rolled back like one that never became ready.
#[test]
fn an_upgrade_refused_part_way_through_its_apply_is_rolled_back() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace("partway", NamespaceSetup::default());
    let server = cluster.server(&ns, &[]);
    assert_eq!(
        run(&server, "install grafana on k8s", json!({}))["status"],
        "completed"
    );
    // The deckhand Role without the right to create Ingresses.
    let mut role = cluster.get("Role", &ns, "deckhand").unwrap();
    let rules: Vec<Value> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r["resources"][0] == "ingresses" {
                let verbs: Vec<Value> = r["verbs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|v| *v != "create")
                    .cloned()
                    .collect();
                r["verbs"] = json!(verbs);
            }
            r
        })
        .collect();
    role["rules"] = json!(rules);
    role["metadata"] = json!({"name": "deckhand", "namespace": ns});
    cluster.apply(role);
    let failed = run(&server, "upgrade grafana with tls on k8s", json!({}));
    assert_eq!(failed["status"], "failed", "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("forbidden") && error.contains("ingresses"),
        "{error}"
    );
    assert_eq!(
        rollback_steps(&failed),
        ["rolling_back", "rolled_back"],
        "{failed}"
    );
    cluster.drop_namespace(&ns);
}
