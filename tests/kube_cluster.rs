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

use common::kube::{Cluster, NamespaceSetup, cluster};
use common::server::{ADMIN_TOKEN, Server};
use serde_json::{Value, json};

fn start(server: &Server, command: &str, options: Value) -> String {
    let (code, intent) = server.post(
        "/api/orchestration/deploy",
        Some(ADMIN_TOKEN),
        json!({"command": command, "options": options}),
    );
    assert_eq!(code, 202, "{command}: {intent}");
    intent["id"].as_str().unwrap().to_string()
}

fn run(server: &Server, command: &str, options: Value) -> Value {
    let id = start(server, command, options);
    server.wait_for_within(
        &id,
        &["completed", "failed", "cancelled"],
        Duration::from_secs(120),
    )
}

fn image(cluster: &Cluster, kind: &str, ns: &str, name: &str) -> String {
    cluster.get(kind, ns, name).unwrap()["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_string()
}

fn revisions(server: &Server, ns: &str, release: &str) -> Vec<Value> {
    let (code, detail) = server.get(
        &format!("/api/orchestration/releases/{ns}/{release}"),
        Some(ADMIN_TOKEN),
    );
    assert_eq!(code, 200, "{detail}");
    detail[0]["revisions"].as_array().unwrap().clone()
}

fn rollback_steps(intent: &Value) -> Vec<String> {
    intent["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "rollback")
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect()
}

/// The whole install of authentik with TLS: PostgreSQL first, then
/// authentik's server (a StatefulSet) and worker (a Deployment); the
/// ClusterIssuer and the IngressClass checked; the TLS Secret cert-manager
/// (here the stand-in's ingress-shim) issues is removed with the release.
#[test]
fn install_authentik_with_tls_then_remove_it_with_its_data() {
    let Some(cluster) = cluster() else { return };
    let delay = Duration::from_secs(5);
    let ns = cluster.namespace(
        "authentik",
        NamespaceSetup {
            data_removal: true,
            standin: &[("ready-delay", "5s")],
            ..Default::default()
        },
    );
    let server = cluster.server(&ns, &[]);
    let started = Instant::now();
    let done = run(&server, "install authentik with tls on k8s", json!({}));
    let wall = started.elapsed();
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    // Two pods on the critical path (PostgreSQL, then authentik), each
    // ready after the stand-in's delay.
    let critical = delay * 2;
    eprintln!(
        "authentik with TLS: {:.2} s for {:.2} s of readiness delays on the critical path ({:.3}x)",
        wall.as_secs_f64(),
        critical.as_secs_f64(),
        wall.as_secs_f64() / critical.as_secs_f64()
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

/// A release's install fails with the engine's reason within `limit`.
fn fails_within(server: &Server, command: &str, limit: Duration, reason: &[&str]) -> String {
    let started = Instant::now();
    let done = run(server, command, json!({}));
    let took = started.elapsed();
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["error"].as_str().unwrap().to_string();
    for part in reason {
        assert!(error.contains(part), "{part:?} not in: {error}");
    }
    assert!(
        took <= limit,
        "reported after {took:?} (limit {limit:?}): {error}"
    );
    eprintln!(
        "{command}: failed after {:.1} s: {error}",
        took.as_secs_f64()
    );
    error
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
        "grafana/grafana:12.2.0"
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

/// Each failure a real cluster gives is reported with its reason within
/// 15 s: a bad image, a pod no node takes, a claim no volume comes for,
/// Pod Security admission, a quota.
#[test]
fn failures_are_reported_with_their_reason_within_seconds() {
    let Some(cluster) = cluster() else { return };
    let limit = Duration::from_secs(15);
    let cases: Vec<(&str, NamespaceSetup, &[&str])> = vec![
        (
            "pull",
            NamespaceSetup {
                standin: &[("nginx:1.28-alpine", "ErrImagePull")],
                ..Default::default()
            },
            &["nginx failed", "ImagePull", "nginx:1.28-alpine"],
        ),
        (
            "unschedulable",
            NamespaceSetup {
                annotations: &[(
                    "scheduler.alpha.kubernetes.io/node-selector",
                    "disktype=none",
                )],
                ..Default::default()
            },
            &[
                "cannot be scheduled",
                "Unschedulable",
                "node affinity/selector",
            ],
        ),
        (
            "psa",
            NamespaceSetup {
                labels: &[("pod-security.kubernetes.io/enforce", "restricted")],
                ..Default::default()
            },
            &["cannot create its pods", "violates PodSecurity"],
        ),
    ];
    std::thread::scope(|scope| {
        for (prefix, setup, reason) in cases {
            let cluster = &cluster;
            scope.spawn(move || {
                let ns = cluster.namespace(prefix, setup);
                let server = cluster.server(&ns, &[]);
                fails_within(&server, "install nginx on k8s", limit, reason);
                cluster.drop_namespace(&ns);
            });
        }
        // A quota of no pods at all.
        let cluster = &cluster;
        scope.spawn(move || {
            let ns = cluster.namespace("quota", NamespaceSetup::default());
            cluster.apply(json!({"apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": {"name": "no-pods", "namespace": ns}, "spec": {"hard": {"pods": "0"}}}));
            let server = cluster.server(&ns, &[]);
            fails_within(&server, "install redis on k8s", limit, &["cannot create its pods", "exceeded quota"]);
            cluster.drop_namespace(&ns);
        });
        // A claim whose provisioner never answers.
        scope.spawn(move || {
            let ns = cluster.namespace(
                "pvc",
                NamespaceSetup {
                    labels: &[("kubelet-standin/provisioning", "off")],
                    ..Default::default()
                },
            );
            let server = cluster.server(&ns, &[]);
            fails_within(
                &server,
                "install redis on k8s",
                limit,
                &["PersistentVolumeClaim data-redis-redis-0 is Pending"],
            );
            cluster.drop_namespace(&ns);
        });
    });
}

/// A pull error that goes away on the kubelet's retry is waited out.
#[test]
fn a_transient_pull_error_is_tolerated() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace(
        "flaky",
        NamespaceSetup {
            standin: &[("nginx:1.28-alpine", "FlakyPull")],
            ..Default::default()
        },
    );
    let server = cluster.server(&ns, &[]);
    let done = run(&server, "install nginx on k8s", json!({}));
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    cluster.drop_namespace(&ns);
}

/// Field ownership: `replicas` changed by another manager (`kubectl scale`)
/// is a conflict naming it; with a HorizontalPodAutoscaler on the
/// Deployment, deckhand leaves `replicas` to it.
#[test]
fn server_side_apply_conflicts_name_the_other_manager_and_an_hpa_keeps_replicas() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace("ssa", NamespaceSetup::default());
    let server = cluster.server(&ns, &[]);
    assert_eq!(
        run(&server, "install nginx on k8s", json!({}))["status"],
        "completed"
    );
    cluster.merge_patch_as(
        "Deployment",
        &ns,
        "nginx-nginx",
        json!({"spec": {"replicas": 2}}),
        "kubectl",
    );
    let done = run(&server, "scale nginx to 3 on k8s", json!({}));
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(
        error.contains("conflict with \"kubectl\"") && error.contains(".spec.replicas"),
        "{error}"
    );
    assert_eq!(
        cluster.get("Deployment", &ns, "nginx-nginx").unwrap()["spec"]["replicas"],
        2
    );

    cluster.apply(json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "nginx", "namespace": ns},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx-nginx"},
                 "minReplicas": 2, "maxReplicas": 4,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}}));
    let upgraded = run(&server, "upgrade nginx to 1.29 on k8s", json!({}));
    assert_eq!(upgraded["status"], "completed", "{}", upgraded["error"]);
    let deployment = cluster.get("Deployment", &ns, "nginx-nginx").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2, "the HPA's replicas stay");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.29-alpine"
    );
    assert!(
        upgraded
            .to_string()
            .contains("left to its HorizontalPodAutoscaler"),
        "{upgraded}"
    );
    cluster.drop_namespace(&ns);
}

/// The IngressClass and the ClusterIssuer are checked before anything is
/// applied, and named when missing.
#[test]
fn a_missing_ingress_class_or_cluster_issuer_is_named_before_applying() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace("ingress", NamespaceSetup::default());
    let server = cluster.server(&ns, &[("DECKHAND_INGRESS_CLASS", "nginx-missing")]);
    let done = run(&server, "install nginx with tls on k8s", json!({}));
    assert_eq!(done["status"], "failed");
    let error = done["error"].as_str().unwrap();
    assert!(
        error.contains("IngressClass \"nginx-missing\", which does not exist"),
        "{error}"
    );
    assert!(
        cluster.get("Deployment", &ns, "nginx-nginx").is_none(),
        "nothing applied"
    );
    drop(server);
    let server = cluster.server(&ns, &[("DECKHAND_CLUSTER_ISSUER", "acme-missing")]);
    let done = run(&server, "install nginx with tls on k8s", json!({}));
    assert_eq!(done["status"], "failed");
    let error = done["error"].as_str().unwrap();
    assert!(
        error.contains("ClusterIssuer \"acme-missing\"") && error.contains("does not exist"),
        "{error}"
    );
    cluster.drop_namespace(&ns);
}

/// An upgrade that turns TLS off drops the Ingress's TLS section: the
/// certificate cert-manager issued for it goes; an upgrade without the
/// Ingress prunes the Ingress. Objects of other releases stay.
#[test]
fn what_a_new_revision_no_longer_has_is_pruned() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace("prune", NamespaceSetup::default());
    let server = cluster.server(&ns, &[]);
    assert_eq!(
        run(&server, "install grafana with tls on k8s", json!({}))["status"],
        "completed"
    );
    cluster.wait_until(Duration::from_secs(10), "the TLS Secret", || {
        cluster.get("Secret", &ns, "grafana-tls").is_some()
    });
    // Someone else's object with the release's name but not its labels stays.
    cluster.apply(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "grafana-extra", "namespace": ns, "labels": {"app.kubernetes.io/instance": "grafana"}},
        "stringData": {"a": "b"}}));
    let done = run(&server, "upgrade grafana with no tls on k8s", json!({}));
    assert_eq!(done["status"], "completed", "{}", done["error"]);
    assert!(
        cluster.get("Secret", &ns, "grafana-tls").is_none(),
        "the dropped certificate is pruned"
    );
    let ingress = cluster.get("Ingress", &ns, "grafana");
    if let Some(ingress) = &ingress {
        assert!(ingress["spec"]["tls"].is_null(), "{ingress}");
    }
    assert!(done.to_string().contains("pruned"), "{done}");
    assert!(
        cluster.get("Secret", &ns, "grafana-extra").is_some(),
        "only deckhand's objects are pruned"
    );
    assert!(
        cluster
            .get("StatefulSet", &ns, "grafana-postgresql-postgres")
            .is_some()
    );
    cluster.drop_namespace(&ns);
}

/// A failure stops what depends on it and lets the independent branch finish.
#[test]
fn a_failing_release_lets_the_independent_branch_finish() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace(
        "branches",
        NamespaceSetup {
            standin: &[("grafana/grafana:12.2.0", "ErrImagePull")],
            ..Default::default()
        },
    );
    let server = cluster.server(&ns, &[]);
    let done = run(
        &server,
        "install grafana and redis on kubernetes",
        json!({}),
    );
    assert_eq!(done["status"], "failed");
    let error = done["error"].as_str().unwrap();
    assert!(
        error.contains("grafana failed") && error.contains("ImagePull"),
        "{error}"
    );
    assert!(
        error.contains("ready:") && error.contains("redis"),
        "{error}"
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

/// `deckhand rbac` (no cluster needed): what it prints is what the tests
/// above bind the deckhand user to.
#[test]
fn rbac_prints_the_least_privilege_objects() {
    let output = common::run(&["rbac", "--namespace", "team"], None);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let documents: Vec<Value> = serde_saphyr::from_multiple(&common::stdout(&output)).unwrap();
    let kinds: Vec<&str> = documents
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
    );
    assert_eq!(documents[2]["metadata"]["namespace"], "team");
    assert_eq!(documents[3]["subjects"][0]["name"], "deckhand");
    let text = common::stdout(&output);
    assert!(!text.contains("deckhand-data-removal"), "{text}");

    let output = common::run(
        &[
            "rbac",
            "--data-removal",
            "--service-account",
            "ops/deployer",
        ],
        None,
    );
    let documents: Vec<Value> = serde_saphyr::from_multiple(&common::stdout(&output)).unwrap();
    assert!(
        documents
            .iter()
            .all(|d| d["kind"] == "ClusterRole" || d["kind"] == "ClusterRoleBinding")
    );
    let removal = documents
        .iter()
        .find(|d| d["metadata"]["name"] == "deckhand-data-removal")
        .expect("the data-removal role");
    assert_eq!(removal["rules"][0]["verbs"], json!(["delete"]));
    assert_eq!(
        documents[1]["subjects"][0],
        json!({"kind": "ServiceAccount", "name": "deployer", "namespace": "ops"})
    );

    let output = common::run(&["rbac", "--service-account", "deployer"], None);
    assert!(!output.status.success());
    assert!(
        common::stderr(&output).contains("NAMESPACE/NAME"),
        "{}",
        common::stderr(&output)
    );
}

/// The Deployment controller's own verdict: a rollout past its
/// `progressDeadlineSeconds` (set here by another field manager, 5 s) is
/// `ProgressDeadlineExceeded`, reported as such.
#[test]
fn progress_deadline_exceeded_fails_the_rollout() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace(
        "deadline",
        NamespaceSetup { standin: &[("nginx:1.29-alpine", "NeverReady")], ..Default::default() },
    );
    let server = cluster.server(&ns, &[]);
    assert_eq!(run(&server, "install nginx on k8s", json!({}))["status"], "completed");
    cluster.merge_patch_as("Deployment", &ns, "nginx-nginx", json!({"spec": {"progressDeadlineSeconds": 5}}), "ops");
    let failed = run(&server, "upgrade nginx to 1.29 on k8s", json!({"atomic": false}));
    assert_eq!(failed["status"], "failed", "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("ProgressDeadlineExceeded") && error.contains("has timed out progressing"), "{error}");
    cluster.drop_namespace(&ns);
}
