//! Every blueprint of the catalogue, rendered for Kubernetes and Compose,
//! checked against the official schemas, and its wiring checked for real.
//!
//! - Kubernetes: `kubernetes-validate --strict` (PyPI, the official OpenAPI
//!   schemas) for Kubernetes 1.30 and for the newest version it knows; skipped
//!   with a message when it is not installed, a failure under `DECKHAND_CI=1`.
//! - Compose: the compose-spec JSON schema (`tests/schemas/compose-spec.json`,
//!   a copy of `shared/schemas/compose-spec.json`), checked in-process.
//! - Wiring: from the rendered objects themselves: every host a dependent is
//!   given names a Service (or Compose service) that exists, and every
//!   password it is given is one its dependency was created with.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use base64::Engine;
use deckhand::catalogue::Catalogue;
use deckhand::intent::Platform;
use deckhand::plan::{Overrides, Plan, Planner};
use deckhand::render::{EphemeralSecrets, RenderOptions, kubernetes::KubeObject};
use serde_json::Value;

fn sentences(catalogue: &Catalogue) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in catalogue.names() {
        out.push((format!("{name}-defaults"), format!("install {name}")));
        out.push((
            format!("{name}-tls"),
            format!("install {name} with TLS on {name}.example.org in namespace apps"),
        ));
    }
    out.push((
        "authentik-2025.8".into(),
        "install authentik version 2025.8.4 with tls".into(),
    ));
    out.push((
        "postgresql-16".into(),
        "install postgresql 16 with 20Gi storage".into(),
    ));
    out.push((
        "grafana-replicas".into(),
        "install grafana with 3 replicas and ingress on grafana.example.org".into(),
    ));
    out
}

fn plan(catalogue: &Catalogue, sentence: &str, platform: Platform) -> Plan {
    let planner = Planner::new(catalogue, RenderOptions::default());
    let overrides = Overrides {
        platform: Some(platform),
        ..Default::default()
    };
    planner
        .plan(sentence, &overrides, &mut EphemeralSecrets::new())
        .unwrap_or_else(|e| panic!("{sentence}: {e}"))
}

#[test]
fn kubernetes_manifests_pass_strict_validation_for_1_30_and_the_newest() {
    let catalogue = Catalogue::builtin().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (label, sentence) in sentences(&catalogue) {
        let plan = plan(&catalogue, &sentence, Platform::Kubernetes);
        let target = dir.path().join(&label);
        files.extend(plan.write_manifests(&target).unwrap());
    }
    assert!(files.len() > 40, "{} files", files.len());
    let Some(validator) = common::require_tool(
        "kubernetes-validate",
        "strict schema validation of the Kubernetes manifests",
    ) else {
        return;
    };
    for version in [Some("1.30.0"), None] {
        let mut command = Command::new(&validator);
        command.arg("--strict").arg("--quiet");
        if let Some(v) = version {
            command.args(["-k", v]);
        }
        let output = command
            .args(&files)
            .output()
            .expect("kubernetes-validate runs");
        assert!(
            output.status.success(),
            "kubernetes-validate {} failed:\n{}{}",
            version.unwrap_or("(newest)"),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn compose_files_validate_against_the_compose_spec() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("tests/schemas/compose-spec.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the compose schema compiles");
    let catalogue = Catalogue::builtin().unwrap();
    let mut failures = Vec::new();
    for (label, sentence) in sentences(&catalogue) {
        let plan = plan(&catalogue, &sentence, Platform::Compose);
        let compose = plan
            .manifest_files()
            .into_iter()
            .find(|f| f.path == "compose.yaml")
            .unwrap();
        let document: Value =
            serde_saphyr::from_str(&compose.content).unwrap_or_else(|e| panic!("{label}: {e}"));
        for error in validator.iter_errors(&document) {
            failures.push(format!("{label}: {error} at {}", error.instance_path()));
        }
        check_compose_wiring(&label, &plan, &document);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn decoded_secrets(objects: &[Value]) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for secret in objects.iter().filter(|o| o["kind"] == "Secret") {
        let name = secret["metadata"]["name"].as_str().unwrap().to_string();
        for (key, value) in secret["data"].as_object().unwrap() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value.as_str().unwrap())
                .unwrap();
            out.insert(
                (name.clone(), key.clone()),
                String::from_utf8(bytes).unwrap(),
            );
        }
    }
    out
}

/// The value a container is given for `variable`, following `secretKeyRef`.
fn env_value(
    container: &Value,
    variable: &str,
    secrets: &BTreeMap<(String, String), String>,
) -> Option<String> {
    let var = container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == variable)?;
    if let Some(value) = var["value"].as_str() {
        return Some(value.to_string());
    }
    let reference = &var["valueFrom"]["secretKeyRef"];
    secrets
        .get(&(
            reference["name"].as_str()?.to_string(),
            reference["key"].as_str()?.to_string(),
        ))
        .cloned()
}

#[test]
fn kubernetes_wiring_points_at_real_services_and_matching_passwords() {
    let catalogue = Catalogue::builtin().unwrap();
    let mut checked = 0;
    for (label, sentence) in sentences(&catalogue) {
        let plan = plan(&catalogue, &sentence, Platform::Kubernetes);
        let objects: Vec<Value> = plan
            .releases
            .iter()
            .flat_map(|r| plan.kubernetes_objects(r))
            .map(|o| o.to_json())
            .collect();
        let secrets = decoded_secrets(&objects);
        let services: Vec<&str> = objects
            .iter()
            .filter(|o| o["kind"] == "Service")
            .map(|o| o["metadata"]["name"].as_str().unwrap())
            .collect();
        for object in &objects {
            assert!(
                object["kind"] != "Deployment"
                    || object["spec"]["template"]["spec"]["containers"][0]["env"]
                        .as_array()
                        .is_none_or(|env| env.iter().all(|e| {
                            let name = e["name"].as_str().unwrap_or_default();
                            !(name.contains("PASSWORD") || name.contains("SECRET"))
                                || e.get("valueFrom").is_some()
                        })),
                "{label}: a password is a plain value in {}",
                object["metadata"]["name"]
            );
        }
        for release in &plan.releases {
            for wire in &release.wiring {
                // A stack's file: the value it was wired with is in the
                // release's ConfigMap, and the host is a Service.
                if let Some(path) = wire.variable.strip_prefix("file ") {
                    let files = objects
                        .iter()
                        .find(|o| {
                            o["kind"] == "ConfigMap"
                                && o["metadata"]["name"] == format!("{}-files", release.release)
                        })
                        .unwrap_or_else(|| panic!("{label}: no ConfigMap for {path}"));
                    let content: String = files["data"]
                        .as_object()
                        .unwrap()
                        .values()
                        .filter_map(Value::as_str)
                        .collect();
                    assert!(
                        content.contains(&wire.shown),
                        "{label}: {path} does not hold {}",
                        wire.shown
                    );
                    let host = wire.shown.trim_start_matches("http://").split(':').next();
                    assert!(
                        host.is_some_and(|h| services.contains(&h)),
                        "{label}: {path} points at {}, not a Service",
                        wire.shown
                    );
                    checked += 1;
                    continue;
                }
                let dependency = plan
                    .releases
                    .iter()
                    .find(|r| r.release == wire.dependency)
                    .unwrap();
                let components: Vec<&str> = release
                    .components
                    .iter()
                    .map(|c| c.name.as_str())
                    .filter(|c| wire.component.as_deref().is_none_or(|w| w == *c))
                    .collect();
                for component in components {
                    let workload = objects
                        .iter()
                        .find(|o| {
                            o["metadata"]["name"] == format!("{}-{component}", release.release)
                                && o["kind"] != "Service"
                        })
                        .unwrap_or_else(|| panic!("{label}: workload of {component}"));
                    let container = &workload["spec"]["template"]["spec"]["containers"][0];
                    let value = env_value(container, &wire.variable, &secrets)
                        .unwrap_or_else(|| panic!("{label}: {} not set", wire.variable));
                    if wire.facts == ["host"] {
                        let host = value.split(':').next().unwrap();
                        assert!(
                            services.contains(&host),
                            "{label}: {} = {value} is not a Service ({services:?})",
                            wire.variable
                        );
                        checked += 1;
                    }
                    if wire.facts.iter().any(|f| f == "password") {
                        let dependency_values: Vec<&String> = secrets
                            .iter()
                            .filter(|((secret, _), _)| {
                                *secret == format!("{}-secrets", dependency.release)
                            })
                            .map(|(_, v)| v)
                            .collect();
                        let password_matches = dependency_values
                            .iter()
                            .any(|v| value.contains(v.as_str()) && v.len() >= 16);
                        assert!(
                            password_matches,
                            "{label}: {} is not a password {} was created with",
                            wire.variable, dependency.release
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} connections checked");
}

fn check_compose_wiring(label: &str, plan: &Plan, document: &Value) {
    let services = document["services"].as_object().unwrap();
    for release in &plan.releases {
        for wire in release.wiring.iter().filter(|w| w.facts == ["host"]) {
            let host = wire.shown.split(':').next().unwrap();
            assert!(
                services.contains_key(host),
                "{label}: {} = {host} is not a Compose service",
                wire.variable
            );
            let network_of_host = services[host]["networks"].as_array().unwrap();
            for c in &release.components {
                let mine = services[&c.service]["networks"].as_array().unwrap();
                assert!(
                    mine.iter().any(|n| network_of_host.contains(n)),
                    "{label}: {} shares no network with {host}",
                    c.service
                );
            }
        }
    }
}

#[test]
fn every_object_has_the_standard_labels() {
    let catalogue = Catalogue::builtin().unwrap();
    let plan = plan(
        &catalogue,
        "install nextcloud with tls on cloud.example.com",
        Platform::Kubernetes,
    );
    for release in &plan.releases {
        for object in plan.kubernetes_objects(release) {
            let labels = object.metadata().labels.clone().unwrap_or_default();
            for key in [
                "app.kubernetes.io/name",
                "app.kubernetes.io/instance",
                "app.kubernetes.io/managed-by",
            ] {
                assert!(
                    labels.contains_key(key),
                    "{} {} lacks {key}",
                    object.kind(),
                    object.name()
                );
            }
            if let KubeObject::Deployment(d) = &object {
                let container = &d.spec.template.spec.as_ref().unwrap().containers[0];
                assert!(container.readiness_probe.is_some() && container.resources.is_some());
            }
        }
    }
    let _ = Path::new("unused");
}

/// The Pod Security Standards' rules (kubernetes.io/docs/concepts/security/pod-security-standards,
/// policy version `latest`) for one pod spec: what breaks `baseline`, and
/// what else breaks `restricted`.
fn pod_security_violations(pod: &Value) -> (Vec<String>, Vec<String>) {
    const BASELINE_CAPS: &[&str] = &[
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    ];
    const RESTRICTED_VOLUMES: &[&str] = &[
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    let mut baseline = Vec::new();
    let mut restricted = Vec::new();
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod[key] == true {
            baseline.push(key.to_string());
        }
    }
    for volume in pod["volumes"].as_array().into_iter().flatten() {
        if volume.get("hostPath").is_some() {
            baseline.push("hostPath volume".into());
        }
        let kind = volume
            .as_object()
            .unwrap()
            .keys()
            .find(|k| *k != "name")
            .cloned()
            .unwrap_or_default();
        if !RESTRICTED_VOLUMES.contains(&kind.as_str()) {
            restricted.push(format!("volume type {kind}"));
        }
    }
    let pod_security = &pod["securityContext"];
    let seccomp = |c: &Value| {
        c["securityContext"]["seccompProfile"]["type"]
            .as_str()
            .or(pod_security["seccompProfile"]["type"].as_str())
            .map(str::to_string)
    };
    let containers: Vec<&Value> = pod["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(pod["initContainers"].as_array().into_iter().flatten())
        .collect();
    for c in containers {
        let name = c["name"].as_str().unwrap_or("?");
        let sc = &c["securityContext"];
        if sc["privileged"] == true {
            baseline.push(format!("{name}: privileged"));
        }
        if c["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p.get("hostPort").is_some())
        {
            baseline.push(format!("{name}: hostPort"));
        }
        let added: Vec<&str> = sc["capabilities"]["add"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for cap in &added {
            if !BASELINE_CAPS.contains(cap) {
                baseline.push(format!("{name}: adds {cap}"));
            }
            if *cap != "NET_BIND_SERVICE" {
                restricted.push(format!("{name}: adds {cap}"));
            }
        }
        match seccomp(c).as_deref() {
            Some("Unconfined") => baseline.push(format!("{name}: seccomp Unconfined")),
            Some("RuntimeDefault") | Some("Localhost") => {}
            _ => restricted.push(format!("{name}: no seccomp profile")),
        }
        if sc["allowPrivilegeEscalation"] != false {
            restricted.push(format!("{name}: allowPrivilegeEscalation is not false"));
        }
        let drops_all = sc["capabilities"]["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "ALL"));
        if !drops_all {
            restricted.push(format!("{name}: does not drop ALL capabilities"));
        }
        let non_root = sc["runAsNonRoot"] == true
            || (sc.get("runAsNonRoot").is_none() && pod_security["runAsNonRoot"] == true);
        if !non_root {
            restricted.push(format!("{name}: runAsNonRoot is not true"));
        }
        if sc["runAsUser"] == 0 || (sc.get("runAsUser").is_none() && pod_security["runAsUser"] == 0)
        {
            restricted.push(format!("{name}: runAsUser 0"));
        }
    }
    (baseline, restricted)
}

/// Issue 13: every pod passes the `baseline` Pod Security Standard, and
/// every component that runs as a non-root user passes `restricted`; the
/// others say in their blueprint why they start as root.
#[test]
fn every_pod_is_baseline_and_restricted_wherever_the_app_runs_as_a_user() {
    let catalogue = Catalogue::builtin().unwrap();
    let mut restricted_pods = 0;
    for (label, sentence) in sentences(&catalogue) {
        let plan = plan(&catalogue, &sentence, Platform::Kubernetes);
        for release in &plan.releases {
            let bp = &catalogue.entry(&release.blueprint).unwrap().blueprint;
            for object in plan.kubernetes_objects(release).iter().map(|o| o.to_json()) {
                if !matches!(object["kind"].as_str(), Some("Deployment" | "StatefulSet")) {
                    continue;
                }
                let component = object["metadata"]["labels"]["app.kubernetes.io/component"]
                    .as_str()
                    .unwrap();
                let security = bp
                    .components
                    .iter()
                    .find(|c| c.value.name == component)
                    .and_then(|c| c.value.security.clone())
                    .unwrap_or_else(|| panic!("{label}: {component} says no user"));
                let (baseline, restricted) =
                    pod_security_violations(&object["spec"]["template"]["spec"]);
                assert!(baseline.is_empty(), "{label}/{component}: {baseline:?}");
                if security.non_root() {
                    assert!(restricted.is_empty(), "{label}/{component}: {restricted:?}");
                    restricted_pods += 1;
                } else {
                    assert!(
                        security.root.as_ref().is_some_and(|r| r.len() > 20),
                        "{label}/{component} is not restricted and does not say why"
                    );
                    assert!(
                        !restricted.is_empty(),
                        "{label}/{component} passes restricted but claims root"
                    );
                }
            }
        }
    }
    assert!(
        restricted_pods > 30,
        "only {restricted_pods} restricted pods"
    );
}

/// Issue 13's checks: the security context, volume group, shared memory and
/// startup budget each of these applications needs, in the rendered objects.
#[test]
fn the_apps_the_audit_named_carry_the_security_context_they_need() {
    let catalogue = Catalogue::builtin().unwrap();
    /// (sentence, release, component, user, fsGroup, /dev/shm)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<i64>,
        Option<i64>,
        Option<&'a str>,
    );
    let cases: &[Case] = &[
        ("install n8n", "n8n", "n8n", Some(1000), Some(1000), None),
        (
            "install prometheus",
            "prometheus",
            "prometheus",
            Some(65534),
            Some(65534),
            None,
        ),
        (
            "install authentik",
            "authentik",
            "server",
            Some(1000),
            Some(1000),
            Some("512Mi"),
        ),
        (
            "install authentik",
            "authentik",
            "worker",
            Some(1000),
            None,
            Some("512Mi"),
        ),
        (
            "install grafana",
            "grafana",
            "grafana",
            Some(472),
            None,
            None,
        ),
        ("install gitea", "gitea", "gitea", None, None, None),
        (
            "install nextcloud",
            "nextcloud",
            "nextcloud",
            None,
            None,
            None,
        ),
        (
            "install postgresql",
            "postgresql",
            "postgres",
            Some(999),
            Some(999),
            Some("256Mi"),
        ),
    ];
    for (sentence, release_name, component, user, fs_group, shm) in cases {
        let plan = plan(&catalogue, sentence, Platform::Kubernetes);
        let release = plan
            .releases
            .iter()
            .find(|r| r.release == *release_name)
            .unwrap();
        let workload = plan
            .kubernetes_objects(release)
            .into_iter()
            .map(|o| o.to_json())
            .find(|o| {
                o["metadata"]["labels"]["app.kubernetes.io/component"] == *component
                    && matches!(o["kind"].as_str(), Some("Deployment" | "StatefulSet"))
            })
            .unwrap();
        let pod = &workload["spec"]["template"]["spec"];
        let label = format!("{sentence}/{component}");
        assert_eq!(
            pod["securityContext"]["runAsUser"].as_i64(),
            *user,
            "{label}"
        );
        assert_eq!(
            pod["securityContext"]["fsGroup"].as_i64(),
            *fs_group,
            "{label}"
        );
        if fs_group.is_some() {
            assert_eq!(
                pod["securityContext"]["fsGroupChangePolicy"],
                "OnRootMismatch"
            );
        }
        let shm_volume = pod["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["name"] == "shm");
        assert_eq!(
            shm_volume.map(|v| v["emptyDir"]["sizeLimit"].as_str().unwrap()),
            *shm,
            "{label}"
        );
        let container = &pod["containers"][0];
        assert!(
            container["resources"]["limits"]["memory"].is_string(),
            "{label}"
        );
        if *release_name == "authentik" {
            let threshold = container["startupProbe"]["failureThreshold"]
                .as_i64()
                .unwrap();
            let period = container["startupProbe"]["periodSeconds"].as_i64().unwrap();
            assert!(
                threshold * period >= 300,
                "{label}: startup budget {threshold}x{period}"
            );
        }
    }
    // Nextcloud gets a PostgreSQL it supports.
    let plan = plan(&catalogue, "install nextcloud", Platform::Kubernetes);
    let pg = plan
        .releases
        .iter()
        .find(|r| r.release == "nextcloud-postgresql")
        .unwrap();
    assert_eq!(pg.version, "17");
}

/// Issue 13: traefik routes (a provider is on) and MinIO publishes its S3 API.
#[test]
fn traefik_has_a_provider_and_minio_exposes_its_s3_api() {
    let catalogue = Catalogue::builtin().unwrap();
    let traefik = plan(&catalogue, "install traefik", Platform::Kubernetes);
    let args = &traefik.releases[0].components[0].args;
    assert!(
        args.iter().any(|a| a.starts_with("--providers.")),
        "no provider: {args:?}"
    );
    let minio = plan(
        &catalogue,
        "install minio with tls on s3.example.org",
        Platform::Kubernetes,
    );
    let ingress = minio.releases[0].ingress.as_ref().unwrap();
    assert_eq!((ingress.port_name.as_str(), ingress.port), ("api", 9000));
    let compose = plan(&catalogue, "install minio", Platform::Compose);
    let file = compose.manifest_files().remove(0).content;
    assert!(
        file.contains(":9000"),
        "the S3 port is not published:\n{file}"
    );
}

/// The same rule as above, judged by the Pod Security Admission's own code:
/// `psa-check` (tests/tools/psa-check, built by `.ci/run` from the Go module
/// k8s.io/pod-security-admission) evaluates every rendered pod template at
/// `baseline` and `restricted`, policy version `latest`.
#[test]
fn the_pod_security_admission_itself_agrees() {
    let catalogue = Catalogue::builtin().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut expected: BTreeMap<String, bool> = BTreeMap::new();
    for (label, sentence) in sentences(&catalogue) {
        let plan = plan(&catalogue, &sentence, Platform::Kubernetes);
        files.extend(
            plan.write_manifests(&dir.path().join(&label))
                .unwrap()
                .into_iter()
                .filter(|f| f.extension().is_some_and(|e| e == "yaml")),
        );
        for release in &plan.releases {
            for c in &release.components {
                let non_root = c.security.as_ref().is_some_and(|s| s.non_root());
                expected.insert(format!("{}-{}", release.release, c.name), non_root);
            }
        }
    }
    let Some(checker) = common::require_tool(
        "psa-check",
        "the Pod Security Admission check (cd tests/tools/psa-check && go build -o /usr/local/bin/psa-check .)",
    ) else {
        return;
    };
    let output = Command::new(checker)
        .args(&files)
        .output()
        .expect("psa-check runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut judged = 0;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let result: Value = serde_json::from_str(line).unwrap();
        let name = result["name"].as_str().unwrap();
        let non_root = expected[name];
        let baseline = result["baseline"].as_array().unwrap();
        let restricted = result["restricted"].as_array().unwrap();
        assert!(baseline.is_empty(), "{name} is not baseline: {baseline:?}");
        assert_eq!(
            restricted.is_empty(),
            non_root,
            "{name}: restricted says {restricted:?}"
        );
        judged += 1;
    }
    assert!(judged > 40, "only {judged} workloads judged");
}
