//! The Kubernetes executor's checks and failure reports on the real test
//! control plane (`tests/kube/cluster up`; see `tests/kube_cluster.rs` for
//! the lifecycle): each failure a real cluster gives reported with its
//! reason within seconds, transient states waited out, field ownership,
//! the IngressClass and ClusterIssuer checks, the prune, the Deployment
//! controller's progress deadline, and the RBAC deckhand runs with.

mod common;

use std::time::Duration;

use common::kube::{NamespaceSetup, cluster, fails_within};
use common::server::run;
use serde_json::{Value, json};

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
                standin: &[("nginx:1.30-alpine", "ErrImagePull")],
                ..Default::default()
            },
            &["nginx failed", "ImagePull", "nginx:1.30-alpine"],
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
            standin: &[("nginx:1.30-alpine", "FlakyPull")],
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
            standin: &[("grafana/grafana:13.3.2", "ErrImagePull")],
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
        NamespaceSetup {
            standin: &[("nginx:1.29-alpine", "NeverReady")],
            ..Default::default()
        },
    );
    let server = cluster.server(&ns, &[]);
    assert_eq!(
        run(&server, "install nginx on k8s", json!({}))["status"],
        "completed"
    );
    cluster.merge_patch_as(
        "Deployment",
        &ns,
        "nginx-nginx",
        json!({"spec": {"progressDeadlineSeconds": 5}}),
        "ops",
    );
    let failed = run(
        &server,
        "upgrade nginx to 1.29 on k8s",
        json!({"atomic": false}),
    );
    assert_eq!(failed["status"], "failed", "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("ProgressDeadlineExceeded") && error.contains("has timed out progressing"),
        "{error}"
    );
    cluster.drop_namespace(&ns);
}
