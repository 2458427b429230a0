//! Stacks and autoscaling on the real test control plane
//! (`tests/kube/cluster up`: kube-apiserver, controllers and scheduler of
//! Kubernetes v1.37 on etcd; only the kubelet is stood in for, so pods are
//! reported Running without containers): the monitoring stack installed in
//! layers with its wiring, shown as a stack, removed as one; a
//! HorizontalPodAutoscaler that owns a workload's replicas (the real HPA
//! controller raises it to its minimum, which needs no metrics) and a later
//! fixed scale refused with what to do instead.

mod common;

use std::time::Duration;

use common::kube::{NamespaceSetup, cluster};
use common::server::run;
use serde_json::{Value, json};

/// The position of `release`'s first event with `status` in `intent`.
fn event_index(intent: &Value, release: &str, status: &str) -> Option<usize> {
    intent["events"]
        .as_array()?
        .iter()
        .position(|e| e["step"] == format!("release {release}") && e["status"] == status)
}

fn last_message(intent: &Value) -> String {
    intent["events"]
        .as_array()
        .and_then(|e| e.last())
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

#[test]
fn the_monitoring_stack_installs_in_layers_and_is_removed_as_one() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace("stack", NamespaceSetup::default());
    let server = cluster.server(&ns, &[]);

    let installed = run(
        &server,
        "install the prometheus grafana stack on k8s",
        json!({}),
    );
    assert_eq!(installed["status"], "completed", "{installed}");
    // Layer 1 (Prometheus) is ready before layer 2 (Grafana) starts.
    let prometheus_ready = event_index(&installed, "prometheus-grafana-prometheus", "ready")
        .unwrap_or_else(|| panic!("no ready event for prometheus: {installed}"));
    let grafana_started = event_index(&installed, "prometheus-grafana-grafana", "started")
        .unwrap_or_else(|| panic!("no start event for grafana: {installed}"));
    let stack_ready = event_index(&installed, "prometheus-grafana", "ready")
        .unwrap_or_else(|| panic!("no ready event for the stack: {installed}"));
    assert!(prometheus_ready < grafana_started && grafana_started < stack_ready);

    // Prometheus is provisioned as Grafana's data source, at its Service.
    let files = cluster
        .get("ConfigMap", &ns, "prometheus-grafana-grafana-files")
        .expect("the stack's files");
    let datasource = files["data"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_str()
        .unwrap();
    assert!(
        datasource.contains("url: http://prometheus-grafana-prometheus:9090")
            && datasource.contains("type: prometheus"),
        "{datasource}"
    );
    assert!(
        cluster
            .get("Service", &ns, "prometheus-grafana-prometheus")
            .is_some()
    );
    let grafana = cluster
        .get("Deployment", &ns, "prometheus-grafana-grafana-grafana")
        .unwrap();
    let mounts = grafana["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap();
    assert!(
        mounts.iter().any(|m| m["mountPath"]
            == "/etc/grafana/provisioning/datasources/deckhand-prometheus.yaml"
            && m["readOnly"] == true),
        "{mounts:?}"
    );
    assert!(
        grafana["spec"]["template"]["metadata"]["annotations"]["deckhand.io/files-sha256"]
            .is_string()
    );

    // Upgraded as one: every member is already at the stack's versions.
    let upgraded = run(&server, "upgrade prometheus-grafana on k8s", json!({}));
    assert_eq!(upgraded["status"], "completed", "{upgraded}");
    assert!(
        last_message(&upgraded).contains("nothing to change"),
        "{upgraded}"
    );

    // Scaled as one: the replicas go to the member that can run more than
    // one instance (Grafana), Prometheus stays a single instance.
    let scaled = run(
        &server,
        "scale the prometheus grafana stack to 2 on k8s",
        json!({}),
    );
    assert_eq!(scaled["status"], "completed", "{scaled}");
    let replicas =
        |kind: &str, name: &str| cluster.get(kind, &ns, name).unwrap()["spec"]["replicas"].clone();
    assert_eq!(
        replicas("Deployment", "prometheus-grafana-grafana-grafana"),
        2
    );
    assert_eq!(
        replicas("StatefulSet", "prometheus-grafana-prometheus-prometheus"),
        1
    );
    let refused = run(&server, "scale grafana to 3 on k8s", json!({}));
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("as a member of the stack prometheus-grafana"),
        "{refused}"
    );

    let status = run(
        &server,
        "status of the prometheus grafana stack on k8s",
        json!({}),
    );
    let report = last_message(&status);
    for part in [
        "prometheus-grafana — prometheus-grafana",
        "a stack of",
        "prometheus-grafana-grafana — grafana",
        "prometheus-grafana-prometheus — prometheus",
        "prometheus-grafana-grafana/grafana: 2/2 ready",
    ] {
        assert!(report.contains(part), "{part:?} not in {report}");
    }

    // Rolling a stack back is not built: refused with the reason.
    let refused = run(&server, "roll back prometheus-grafana on k8s", json!({}));
    let error = refused["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("rolling back the stack prometheus-grafana is not built yet")
            && error.contains("prometheus-grafana-grafana"),
        "{refused}"
    );

    // Volumes are kept (deleting them needs the separate data-removal role).
    let removed = run(
        &server,
        "remove the prometheus grafana stack on k8s",
        json!({}),
    );
    assert_eq!(removed["status"], "completed", "{removed}");
    let order: Vec<String> = removed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "removed")
        .map(|e| e["step"].as_str().unwrap().to_string())
        .collect();
    let position = |release: &str| {
        order
            .iter()
            .position(|s| s == &format!("release {release}"))
            .unwrap_or_else(|| panic!("{release} not removed: {order:?}"))
    };
    assert!(position("prometheus-grafana") < position("prometheus-grafana-grafana"));
    assert!(position("prometheus-grafana-grafana") < position("prometheus-grafana-prometheus"));
    assert!(
        position("prometheus-grafana-grafana") < position("prometheus-grafana-grafana-postgresql")
    );
    assert!(
        last_message(&removed)
            .contains("volumes kept: data-prometheus-grafana-grafana-postgresql-postgres-0"),
        "{removed}"
    );
    for kind in [
        "Deployment",
        "StatefulSet",
        "Service",
        "ConfigMap",
        "Secret",
    ] {
        let left: Vec<String> = cluster
            .list(kind, &ns, "app.kubernetes.io/managed-by=deckhand")
            .iter()
            .map(|o| o["metadata"]["name"].to_string())
            .collect();
        assert!(left.is_empty(), "{kind} left: {left:?}");
    }
    cluster.drop_namespace(&ns);
}

#[test]
fn an_hpa_owns_replicas_and_a_later_scale_says_so() {
    let Some(cluster) = cluster() else { return };
    let ns = cluster.namespace("hpa", NamespaceSetup::default());
    let server = cluster.server(&ns, &[]);
    let done = run(&server, "install nginx on k8s", json!({}));
    assert_eq!(done["status"], "completed", "{done}");
    let done = run(&server, "scale nginx to 3 on k8s", json!({}));
    assert_eq!(done["status"], "completed", "{done}");

    // Autoscaled: the HPA is there, deckhand no longer sets the count, and
    // the count running is not reset on the way.
    let done = run(
        &server,
        "autoscale nginx between 2 and 5 at 60% cpu on k8s",
        json!({}),
    );
    assert_eq!(done["status"], "completed", "{done}");
    let hpa = cluster
        .get("HorizontalPodAutoscaler", &ns, "nginx-nginx")
        .expect("the HPA");
    assert_eq!(
        (
            &hpa["spec"]["minReplicas"],
            &hpa["spec"]["maxReplicas"],
            &hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"]
        ),
        (&json!(2), &json!(5), &json!(60))
    );
    let deployment = cluster.get("Deployment", &ns, "nginx-nginx").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 3, "not reset on handover");
    let owners: Vec<String> = deployment["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["fieldsV1"]["f:spec"].get("f:replicas").is_some())
        .map(|f| f["manager"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !owners.iter().any(|m| m == "deckhand"),
        "deckhand still owns replicas: {owners:?}"
    );

    // Raising the floor: the HPA controller itself brings the count up.
    let done = run(
        &server,
        "autoscale nginx between 4 and 6 at 60% cpu on k8s",
        json!({}),
    );
    assert_eq!(done["status"], "completed", "{done}");
    cluster.wait_until(
        Duration::from_secs(60),
        "the HPA controller to scale nginx to its minimum of 4",
        || cluster.get("Deployment", &ns, "nginx-nginx").unwrap()["spec"]["replicas"] == 4,
    );

    // A fixed count now is refused, with the bounds to change instead.
    let refused = run(&server, "scale nginx to 2 on k8s", json!({}));
    assert_eq!(refused["status"], "failed", "{refused}");
    let error = refused["error"].as_str().unwrap_or_default().to_string();
    assert!(
        error.contains("HorizontalPodAutoscaler owns the number of replicas")
            && error.contains("between 4 and 6 at 60% CPU")
            && error.contains("autoscale nginx between"),
        "{error}"
    );
    assert_eq!(
        cluster.get("Deployment", &ns, "nginx-nginx").unwrap()["spec"]["replicas"],
        4
    );

    // An upgrade leaves the count to the HPA (no field fight).
    let upgraded = run(&server, "upgrade nginx to 1.29 on k8s", json!({}));
    assert_eq!(upgraded["status"], "completed", "{upgraded}");
    assert_eq!(
        cluster.get("Deployment", &ns, "nginx-nginx").unwrap()["spec"]["replicas"],
        4
    );

    let status = run(&server, "status of nginx on k8s", json!({}));
    let report = last_message(&status);
    assert!(
        report.contains("autoscaled between 4 and 6 at 60% CPU")
            && report.contains("nginx/nginx: 4/4 ready, autoscaled 4 to 6 at 60% CPU by HorizontalPodAutoscaler nginx-nginx:")
            && report.contains("4 wanted"),
        "{report}"
    );

    // Postgres runs as one instance: nothing for an HPA to scale.
    let done = run(&server, "install postgresql on k8s", json!({}));
    assert_eq!(done["status"], "completed", "{done}");
    let refused = run(
        &server,
        "autoscale postgresql between 2 and 4 on k8s",
        json!({}),
    );
    assert_eq!(refused["status"], "failed", "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("runs as a single instance"),
        "{refused}"
    );
    cluster.drop_namespace(&ns);
}
