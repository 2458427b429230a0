//! Kubernetes objects for a rendered release, built from the typed
//! `k8s-openapi` structs and written as multi-document YAML.
//!
//! Per release: a Secret holding every secret-derived environment value
//! (containers read them with `secretKeyRef`), one Deployment per stateless
//! component or StatefulSet with `volumeClaimTemplates` per stateful one, a
//! Service per component with ports, and an Ingress (with cert-manager's
//! cluster-issuer annotation and a `tls` section when TLS is asked) for the
//! exposed port. Everything carries the `app.kubernetes.io/*` labels, which
//! is also how deckhand finds what it created.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerPort, EnvVar as KubeEnvVar, EnvVarSource, ExecAction,
    HTTPGetAction, Namespace, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, Secret, SecretKeySelector, Service, ServicePort,
    ServiceSpec, TCPSocketAction, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec as KubeIngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use super::pod_security::{container_security, pod_security, pod_volumes, writable_volume_name};
use super::{RenderOptions, RenderedComponent, RenderedRelease};
use crate::catalogue::blueprint::Check;

/// The field manager and `managed-by` label value.
pub const MANAGER: &str = "deckhand";

/// One object, typed.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum KubeObject {
    Namespace(Box<Namespace>),
    Secret(Box<Secret>),
    ConfigMap(Box<ConfigMap>),
    Deployment(Box<Deployment>),
    StatefulSet(Box<StatefulSet>),
    Service(Box<Service>),
    Ingress(Box<Ingress>),
    HorizontalPodAutoscaler(Box<HorizontalPodAutoscaler>),
}

impl KubeObject {
    pub fn kind(&self) -> &'static str {
        match self {
            KubeObject::Namespace(_) => "Namespace",
            KubeObject::Secret(_) => "Secret",
            KubeObject::ConfigMap(_) => "ConfigMap",
            KubeObject::Deployment(_) => "Deployment",
            KubeObject::StatefulSet(_) => "StatefulSet",
            KubeObject::Service(_) => "Service",
            KubeObject::Ingress(_) => "Ingress",
            KubeObject::HorizontalPodAutoscaler(_) => "HorizontalPodAutoscaler",
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            KubeObject::Namespace(o) => &o.metadata,
            KubeObject::Secret(o) => &o.metadata,
            KubeObject::ConfigMap(o) => &o.metadata,
            KubeObject::Deployment(o) => &o.metadata,
            KubeObject::StatefulSet(o) => &o.metadata,
            KubeObject::Service(o) => &o.metadata,
            KubeObject::Ingress(o) => &o.metadata,
            KubeObject::HorizontalPodAutoscaler(o) => &o.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// An object read back from its JSON (a stored revision), by its `kind`.
    pub fn from_json(value: serde_json::Value) -> Result<Self, String> {
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        let fail = |e: serde_json::Error| format!("stored {kind} is not valid: {e}");
        Ok(match kind.as_str() {
            "Namespace" => {
                KubeObject::Namespace(Box::new(serde_json::from_value(value).map_err(fail)?))
            }
            "Secret" => KubeObject::Secret(Box::new(serde_json::from_value(value).map_err(fail)?)),
            "Deployment" => {
                KubeObject::Deployment(Box::new(serde_json::from_value(value).map_err(fail)?))
            }
            "StatefulSet" => {
                KubeObject::StatefulSet(Box::new(serde_json::from_value(value).map_err(fail)?))
            }
            "Service" => {
                KubeObject::Service(Box::new(serde_json::from_value(value).map_err(fail)?))
            }
            "Ingress" => {
                KubeObject::Ingress(Box::new(serde_json::from_value(value).map_err(fail)?))
            }
            "ConfigMap" => {
                KubeObject::ConfigMap(Box::new(serde_json::from_value(value).map_err(fail)?))
            }
            "HorizontalPodAutoscaler" => KubeObject::HorizontalPodAutoscaler(Box::new(
                serde_json::from_value(value).map_err(fail)?,
            )),
            other => return Err(format!("deckhand does not apply objects of kind '{other}'")),
        })
    }

    /// The object as JSON, with `apiVersion` and `kind` (k8s-openapi adds them).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("k8s-openapi objects serialize")
    }
}

/// The standard labels of a release's component.
pub fn labels(release: &RenderedRelease, component: Option<&str>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            release.blueprint.clone(),
        ),
        (
            "app.kubernetes.io/instance".to_string(),
            release.release.clone(),
        ),
        (
            "app.kubernetes.io/version".to_string(),
            label_value(&release.version),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            MANAGER.to_string(),
        ),
    ]);
    if let Some(component) = component {
        labels.insert("app.kubernetes.io/component".into(), component.to_string());
    }
    labels
}

fn selector(release: &RenderedRelease, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/instance".to_string(),
            release.release.clone(),
        ),
        (
            "app.kubernetes.io/component".to_string(),
            component.to_string(),
        ),
    ])
}

/// A label value: at most 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both ends.
fn label_value(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

fn meta(name: &str, namespace: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(labels),
        ..Default::default()
    }
}

/// Name of the Secret that holds a release's secret environment values.
pub fn secret_name(release: &str) -> String {
    format!("{release}-secrets")
}

/// Key in that Secret for a component's variable (shared ones are stored once).
fn secret_key(release: &RenderedRelease, component: &RenderedComponent, variable: &str) -> String {
    let same_everywhere = release.components.iter().all(|c| {
        c.env.iter().find(|e| e.name == variable).is_none_or(|e| {
            component
                .env
                .iter()
                .any(|mine| mine.name == variable && mine.value == e.value)
        })
    });
    if same_everywhere {
        variable.to_string()
    } else {
        format!("{}.{variable}", component.name)
    }
}

/// The Namespace object, unless it is `default`.
pub fn namespace_object(namespace: &str) -> Option<KubeObject> {
    (namespace != "default").then(|| {
        KubeObject::Namespace(Box::new(Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.to_string()),
                labels: Some(BTreeMap::from([(
                    "app.kubernetes.io/managed-by".to_string(),
                    MANAGER.to_string(),
                )])),
                ..Default::default()
            },
            ..Default::default()
        }))
    })
}

/// Every object of one release, in apply order (Secret, workloads, Services, Ingress).
pub fn release_objects(release: &RenderedRelease, options: &RenderOptions) -> Vec<KubeObject> {
    let ns = &release.namespace;
    let mut objects = Vec::new();

    let mut secret_data: BTreeMap<String, ByteString> = BTreeMap::new();
    for component in &release.components {
        for var in component.env.iter().filter(|e| e.secret) {
            secret_data.insert(
                secret_key(release, component, &var.name),
                ByteString(var.value.clone().into_bytes()),
            );
        }
    }
    if !secret_data.is_empty() {
        objects.push(KubeObject::Secret(Box::new(Secret {
            metadata: meta(&secret_name(&release.release), ns, labels(release, None)),
            type_: Some("Opaque".into()),
            data: Some(secret_data),
            ..Default::default()
        })));
    }

    if let Some(files) = super::config_files::config_map(
        release,
        meta(
            &super::config_files::config_map_name(&release.release),
            ns,
            labels(release, None),
        ),
    ) {
        objects.push(KubeObject::ConfigMap(Box::new(files)));
    }
    for component in &release.components {
        let workload = workload(release, component);
        let autoscaler = component.autoscale.map(|spec| {
            KubeObject::HorizontalPodAutoscaler(Box::new(
                super::autoscale::horizontal_pod_autoscaler(
                    meta(workload.name(), ns, labels(release, Some(&component.name))),
                    workload.kind(),
                    workload.name(),
                    &spec,
                ),
            ))
        });
        objects.push(workload);
        objects.extend(autoscaler);
    }
    for component in &release.components {
        if component.ports.is_empty() {
            continue;
        }
        objects.push(KubeObject::Service(Box::new(Service {
            metadata: meta(
                &component.service,
                ns,
                labels(release, Some(&component.name)),
            ),
            spec: Some(ServiceSpec {
                type_: Some("ClusterIP".into()),
                selector: Some(selector(release, &component.name)),
                ports: Some(
                    component
                        .ports
                        .iter()
                        .map(|p| ServicePort {
                            name: Some(p.name.clone()),
                            port: i32::from(p.port),
                            target_port: Some(IntOrString::String(p.name.clone())),
                            protocol: Some("TCP".into()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        })));
    }
    if let Some(ingress) = &release.ingress {
        let mut annotations = BTreeMap::new();
        if ingress.tls {
            annotations.insert(
                "cert-manager.io/cluster-issuer".to_string(),
                options.cluster_issuer.clone(),
            );
        }
        let mut metadata = meta(&release.release, ns, labels(release, None));
        metadata.annotations = (!annotations.is_empty()).then_some(annotations);
        objects.push(KubeObject::Ingress(Box::new(Ingress {
            metadata,
            spec: Some(KubeIngressSpec {
                ingress_class_name: options.ingress_class.clone(),
                rules: Some(vec![IngressRule {
                    host: Some(ingress.host.clone()),
                    http: Some(HTTPIngressRuleValue {
                        paths: vec![HTTPIngressPath {
                            path: Some("/".into()),
                            path_type: "Prefix".into(),
                            backend: IngressBackend {
                                service: Some(IngressServiceBackend {
                                    name: ingress.service.clone(),
                                    port: Some(ServiceBackendPort {
                                        name: Some(ingress.port_name.clone()),
                                        number: None,
                                    }),
                                }),
                                ..Default::default()
                            },
                        }],
                    }),
                }]),
                tls: ingress.tls.then(|| {
                    vec![IngressTLS {
                        hosts: Some(vec![ingress.host.clone()]),
                        secret_name: Some(format!("{}-tls", release.release)),
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        })));
    }
    objects
}

fn workload(release: &RenderedRelease, component: &RenderedComponent) -> KubeObject {
    let ns = &release.namespace;
    let name = format!("{}-{}", release.release, component.name);
    let pod_labels = labels(release, Some(&component.name));
    let main = container(release, component);
    let init: Vec<Container> = component
        .init
        .iter()
        .map(|init| Container {
            name: init.name.clone(),
            image: Some(init.image.clone()),
            command: (!init.command.is_empty()).then(|| init.command.clone()),
            args: (!init.args.is_empty()).then(|| init.args.clone()),
            env: main.env.clone(),
            volume_mounts: main.volume_mounts.clone(),
            security_context: main.security_context.clone(),
            resources: main.resources.clone(),
            ..Default::default()
        })
        .collect();
    let mut volumes = pod_volumes(component).unwrap_or_default();
    volumes.extend(super::config_files::volume(release, component));
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels.clone()),
            annotations: super::config_files::checksum(component).map(|sum| {
                BTreeMap::from([(super::config_files::FILES_CHECKSUM.to_string(), sum)])
            }),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![main],
            init_containers: (!init.is_empty()).then_some(init),
            security_context: Some(pod_security(component)),
            volumes: (!volumes.is_empty()).then_some(volumes),
            ..Default::default()
        }),
    };
    let selector = LabelSelector {
        match_labels: Some(selector(release, &component.name)),
        ..Default::default()
    };
    // An autoscaled workload's count is its HorizontalPodAutoscaler's.
    let replicas = component
        .autoscale
        .is_none()
        .then_some(component.replicas as i32);
    if component.volumes.is_empty() {
        KubeObject::Deployment(Box::new(Deployment {
            metadata: meta(&name, ns, pod_labels),
            spec: DeploymentSpec {
                replicas,
                selector,
                template,
                ..Default::default()
            },
            ..Default::default()
        }))
    } else {
        // The API server refuses any change to an existing StatefulSet's
        // claim templates, so they carry nothing that an upgrade changes:
        // no version label.
        let mut claim_labels = labels(release, Some(&component.name));
        claim_labels.remove("app.kubernetes.io/version");
        let claims = component
            .volumes
            .iter()
            .map(|v| PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(v.name.clone()),
                    labels: Some(claim_labels.clone()),
                    ..Default::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_string(),
                            Quantity(v.size.clone()),
                        )])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        KubeObject::StatefulSet(Box::new(StatefulSet {
            metadata: meta(&name, ns, pod_labels),
            spec: StatefulSetSpec {
                replicas,
                selector,
                service_name: Some(component.service.clone()),
                template,
                volume_claim_templates: Some(claims),
                ..Default::default()
            },
            ..Default::default()
        }))
    }
}

fn container(release: &RenderedRelease, component: &RenderedComponent) -> Container {
    let env: Vec<KubeEnvVar> = component
        .env
        .iter()
        .map(|var| {
            if var.secret {
                KubeEnvVar {
                    name: var.name.clone(),
                    value_from: Some(EnvVarSource {
                        secret_key_ref: Some(SecretKeySelector {
                            name: secret_name(&release.release),
                            key: secret_key(release, component, &var.name),
                            optional: None,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            } else {
                KubeEnvVar {
                    name: var.name.clone(),
                    value: Some(var.value.clone()),
                    ..Default::default()
                }
            }
        })
        .collect();
    let startup = component.start_period.map(|seconds| {
        let mut probe = probe(
            component
                .startup
                .as_ref()
                .expect("start_period comes with a health check"),
        );
        probe.period_seconds = Some(5);
        probe.failure_threshold = Some((seconds.div_ceil(5)).max(1) as i32);
        probe
    });
    Container {
        name: component.name.clone(),
        image: Some(component.image.clone()),
        command: (!component.command.is_empty()).then(|| component.command.clone()),
        args: (!component.args.is_empty()).then(|| component.args.clone()),
        ports: (!component.ports.is_empty()).then(|| {
            component
                .ports
                .iter()
                .map(|p| ContainerPort {
                    name: Some(p.name.clone()),
                    container_port: i32::from(p.port),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                })
                .collect()
        }),
        env: (!env.is_empty()).then_some(env),
        readiness_probe: component.readiness.as_ref().map(|c| {
            let mut p = probe(c);
            p.period_seconds = Some(10);
            p.failure_threshold = Some(3);
            p
        }),
        liveness_probe: component.liveness.as_ref().map(|c| {
            let mut p = probe(c);
            p.period_seconds = Some(20);
            p.failure_threshold = Some(6);
            if startup.is_none() {
                p.initial_delay_seconds = Some(30);
            }
            p
        }),
        startup_probe: startup,
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_string(), Quantity(component.cpu.clone())),
                ("memory".to_string(), Quantity(component.memory.clone())),
            ])),
            limits: {
                let limits: BTreeMap<String, Quantity> = [
                    ("cpu", &component.cpu_limit),
                    ("memory", &component.memory_limit),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), Quantity(v))))
                .collect();
                (!limits.is_empty()).then_some(limits)
            },
            ..Default::default()
        }),
        volume_mounts: {
            let mut mounts: Vec<VolumeMount> = component
                .volumes
                .iter()
                .map(|v| VolumeMount {
                    name: v.name.clone(),
                    mount_path: v.path.clone(),
                    ..Default::default()
                })
                .collect();
            if component.shm.is_some() {
                mounts.push(VolumeMount {
                    name: "shm".into(),
                    mount_path: "/dev/shm".into(),
                    ..Default::default()
                });
            }
            for path in component.security.iter().flat_map(|s| &s.writable) {
                mounts.push(VolumeMount {
                    name: writable_volume_name(path),
                    mount_path: path.clone(),
                    ..Default::default()
                });
            }
            mounts.extend(super::config_files::mounts(component));
            (!mounts.is_empty()).then_some(mounts)
        },
        security_context: Some(container_security(component)),
        ..Default::default()
    }
}

fn probe(check: &Check) -> Probe {
    let mut probe = Probe {
        timeout_seconds: Some(5),
        ..Default::default()
    };
    if let Some(http) = &check.http {
        probe.http_get = Some(HTTPGetAction {
            path: Some(http.path.clone()),
            port: IntOrString::Int(i32::from(http.port)),
            ..Default::default()
        });
    } else if let Some(tcp) = &check.tcp {
        probe.tcp_socket = Some(TCPSocketAction {
            port: IntOrString::Int(i32::from(tcp.port)),
            ..Default::default()
        });
    } else if let Some(exec) = &check.exec {
        probe.exec = Some(ExecAction {
            command: Some(exec.command.clone()),
        });
    }
    probe
}

/// Reads objects back from multi-document YAML (a stored revision).
pub fn from_yaml(text: &str) -> Result<Vec<KubeObject>, String> {
    let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(text)
        .map_err(|e| format!("stored manifests are not valid YAML: {e}"))?;
    documents
        .into_iter()
        .filter(|d| !d.is_null())
        .map(KubeObject::from_json)
        .collect()
}

/// Serializes objects as one multi-document YAML text.
pub fn to_yaml(objects: &[KubeObject]) -> String {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(
            &serde_saphyr::to_string(&object.to_json()).expect("JSON values serialize to YAML"),
        );
    }
    out
}

/// The files `plan --output` writes for Kubernetes: `00-namespace.yaml` and
/// `<wave>-<release>.yaml`, so applying the directory in name order respects waves.
pub fn manifest_files(
    releases: &[RenderedRelease],
    options: &RenderOptions,
) -> Vec<(String, String)> {
    let mut files = Vec::new();
    if let Some(ns) = namespace_object(&options.namespace) {
        files.push(("00-namespace.yaml".to_string(), to_yaml(&[ns])));
    }
    for release in releases {
        files.push((
            format!("{:02}-{}.yaml", release.wave + 1, release.release),
            to_yaml(&release_objects(release, options)),
        ));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::render_app;
    use serde_json::Value as Json;

    #[test]
    fn secrets_are_referenced_never_inlined() {
        let releases = render_app(
            "authentik",
            None,
            &[
                ("tls", Json::Bool(true)),
                ("domain", Json::from("auth.example.org")),
            ],
        );
        let objects: Vec<Json> = releases
            .iter()
            .flat_map(|r| release_objects(r, &RenderOptions::default()))
            .map(|o| o.to_json())
            .collect();
        let yaml = objects.iter().map(|o| o.to_string()).collect::<String>();
        for release in &releases {
            for c in &release.components {
                for var in c.env.iter().filter(|v| v.secret) {
                    assert!(
                        !yaml.contains(&format!("\"value\":\"{}\"", var.value)),
                        "{} inlined",
                        var.name
                    );
                }
            }
        }
        let ingress = objects.iter().find(|o| o["kind"] == "Ingress").unwrap();
        assert_eq!(
            ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
            "letsencrypt"
        );
        assert_eq!(ingress["spec"]["tls"][0]["hosts"][0], "auth.example.org");
        let pg = objects
            .iter()
            .find(|o| {
                o["kind"] == "StatefulSet"
                    && o["metadata"]["name"] == "authentik-postgresql-postgres"
            })
            .unwrap();
        assert_eq!(
            pg["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
            "8Gi"
        );
        assert_eq!(pg["apiVersion"], "apps/v1");
    }

    #[test]
    fn objects_read_back_from_yaml_equal_the_originals() {
        let releases = render_app("authentik", None, &[("tls", Json::Bool(true))]);
        let objects = release_objects(&releases[1], &RenderOptions::default());
        let again = from_yaml(&to_yaml(&objects)).unwrap();
        let json = |o: &[KubeObject]| o.iter().map(KubeObject::to_json).collect::<Vec<_>>();
        assert_eq!(json(&again), json(&objects));
    }

    #[test]
    fn init_containers_run_first_with_the_same_user_env_and_volumes() {
        let releases =
            crate::render::tests::render_with(crate::render::tests::WITH_INIT, "migrator");
        let objects = release_objects(&releases[0], &RenderOptions::default());
        let pod = objects
            .iter()
            .map(|o| o.to_json())
            .find(|o| o["kind"] == "StatefulSet")
            .unwrap()["spec"]["template"]["spec"]
            .clone();
        let init = pod["initContainers"].as_array().unwrap();
        assert_eq!(init.len(), 2);
        assert_eq!(init[0]["name"], "migrate");
        assert_eq!(init[0]["image"], "busybox:1.36");
        assert_eq!(init[0]["volumeMounts"][0]["mountPath"], "/data");
        assert_eq!(
            init[0]["securityContext"]["allowPrivilegeEscalation"],
            false
        );
        assert_eq!(init[1]["command"][0], "test");
        assert_eq!(pod["securityContext"]["fsGroup"], 1000);
    }

    #[test]
    fn yaml_is_multi_document() {
        let releases = render_app("redis", None, &[]);
        let yaml = to_yaml(&release_objects(&releases[0], &RenderOptions::default()));
        assert_eq!(yaml.matches("---\n").count(), 3, "{yaml}");
        assert!(yaml.contains("kind: StatefulSet"));
    }
}
