//! The security side of a Kubernetes pod, from a component's `security`,
//! `shm` and writable paths: the pod and container `securityContext` (so the
//! pod is `restricted` under the Pod Security Standards whenever the
//! component names a non-root user, and `baseline` otherwise) and the pod
//! volumes that are not claims (a memory-backed `/dev/shm`, an empty
//! directory per writable path).

use k8s_openapi::api::core::v1::{
    Capabilities, EmptyDirVolumeSource, PodSecurityContext, SeccompProfile, SecurityContext, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::RenderedComponent;

/// The pod's security context: the user and group the blueprint names
/// (then `runAsNonRoot`), the volumes' group (`fsGroup`, changed only when
/// the volume's root does not match already), and the runtime's default
/// seccomp profile for every pod.
pub(super) fn pod_security(component: &RenderedComponent) -> PodSecurityContext {
    let security = component.security.clone().unwrap_or_default();
    let non_root = security.non_root();
    let fs_group = (!component.volumes.is_empty())
        .then(|| security.volume_group())
        .flatten();
    PodSecurityContext {
        run_as_user: security.user.filter(|_| non_root).map(i64::from),
        run_as_group: security.run_group().filter(|_| non_root).map(i64::from),
        run_as_non_root: non_root.then_some(true),
        fs_group: fs_group.map(i64::from),
        fs_group_change_policy: fs_group.map(|_| "OnRootMismatch".to_string()),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..Default::default()
    }
}

/// The container's security context: never a privilege escalation; a
/// non-root component drops every capability (keeping NET_BIND_SERVICE at
/// most), a root one drops them all only when the blueprint lists the ones
/// it keeps; a read-only root filesystem when the blueprint says it can.
pub(super) fn container_security(component: &RenderedComponent) -> SecurityContext {
    let security = component.security.clone().unwrap_or_default();
    let capabilities = if security.non_root() || security.capabilities.is_some() {
        let keep = security.capabilities.clone().unwrap_or_default();
        Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: (!keep.is_empty()).then_some(keep),
        })
    } else {
        None
    };
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities,
        read_only_root_filesystem: security.read_only_root.then_some(true),
        ..Default::default()
    }
}

/// The name of the volume of a writable path (`/tmp` → `writable-tmp`).
pub(super) fn writable_volume_name(path: &str) -> String {
    let slug: String = path
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = format!("writable-{slug}");
    name.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// Pod volumes besides the claims: `/dev/shm` in memory and the writable paths.
pub(super) fn pod_volumes(component: &RenderedComponent) -> Option<Vec<Volume>> {
    let mut volumes = Vec::new();
    if let Some(size) = &component.shm {
        volumes.push(Volume {
            name: "shm".into(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                size_limit: Some(Quantity(size.clone())),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    for path in component.security.iter().flat_map(|s| &s.writable) {
        volumes.push(Volume {
            name: writable_volume_name(path),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        });
    }
    (!volumes.is_empty()).then_some(volumes)
}

#[cfg(test)]
mod tests {
    use crate::render::RenderOptions;
    use crate::render::kubernetes::release_objects;
    use crate::render::tests::render_app;
    use serde_json::Value as Json;

    fn pod_of(app: &str, component: &str) -> Json {
        let releases = render_app(app, None, &[]);
        let release = releases.last().unwrap();
        let workload = release_objects(release, &RenderOptions::default())
            .into_iter()
            .map(|o| o.to_json())
            .find(|o| {
                o["metadata"]["name"] == format!("{}-{component}", release.release)
                    && o["kind"] != "Service"
            })
            .unwrap();
        workload["spec"]["template"]["spec"].clone()
    }

    #[test]
    fn a_non_root_component_gets_its_user_volume_group_and_no_privileges() {
        let pod = pod_of("prometheus", "prometheus");
        let security = &pod["securityContext"];
        assert_eq!(security["runAsUser"], 65534);
        assert_eq!(security["runAsGroup"], 65534);
        assert_eq!(security["runAsNonRoot"], true);
        assert_eq!(security["fsGroup"], 65534);
        assert_eq!(security["fsGroupChangePolicy"], "OnRootMismatch");
        assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
        let container = &pod["containers"][0]["securityContext"];
        assert_eq!(container["allowPrivilegeEscalation"], false);
        assert_eq!(container["capabilities"]["drop"][0], "ALL");
        assert_eq!(container["readOnlyRootFilesystem"], true);
        let resources = &pod["containers"][0]["resources"];
        assert_eq!(resources["limits"]["memory"], "2Gi");
        assert_eq!(resources["requests"]["memory"], "512Mi");
    }

    #[test]
    fn authentik_gets_shared_memory_and_a_startup_budget() {
        let pod = pod_of("authentik", "server");
        let shm = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "shm")
            .unwrap();
        assert_eq!(shm["emptyDir"]["medium"], "Memory");
        assert_eq!(shm["emptyDir"]["sizeLimit"], "512Mi");
        let container = &pod["containers"][0];
        assert!(
            container["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["name"] == "shm" && m["mountPath"] == "/dev/shm")
        );
        let startup = &container["startupProbe"];
        assert_eq!(startup["httpGet"]["path"], "/-/health/live/");
        assert_eq!(startup["failureThreshold"], 60);
        assert_eq!(startup["periodSeconds"], 5);
        assert_eq!(
            container["readinessProbe"]["httpGet"]["path"],
            "/-/health/ready/"
        );
    }

    #[test]
    fn a_root_component_says_so_and_still_never_escalates() {
        let pod = pod_of("gitea", "gitea");
        assert!(pod["securityContext"].get("runAsNonRoot").is_none());
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let container = &pod["containers"][0]["securityContext"];
        assert_eq!(container["allowPrivilegeEscalation"], false);
        assert!(container.get("capabilities").is_none());
    }

    #[test]
    fn writable_paths_of_a_read_only_root_get_empty_directories() {
        let pod = pod_of("traefik", "traefik");
        assert!(
            pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["name"] == "writable-tmp" && v.get("emptyDir").is_some())
        );
        assert!(
            pod["containers"][0]["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["name"] == "writable-tmp" && m["mountPath"] == "/tmp")
        );
    }
}
