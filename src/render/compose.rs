//! Compose files for rendered releases, following the Compose Specification
//! (validated in the tests against its JSON schema).
//!
//! Every component is a service; every release has a network of its own,
//! and a dependent joins the networks of what it requires; volumes are named
//! volumes. Docker has no namespaces, so project, network and volume names
//! carry the release's namespace ([`docker_name`]): the same application in
//! two namespaces on one Docker host shares nothing; health checks come from the blueprint; `depends_on` waits for
//! `service_healthy`. Secret-derived variables are not written into the
//! Compose file: each service that has some reads them from its own
//! `<service>.env` file (written with mode 0600 beside it).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{RenderedComponent, RenderedRelease};
use crate::catalogue::blueprint::Check;
use crate::catalogue::workload::{cpu_millis, docker_bytes, docker_cpus, memory_bytes};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ComposeFile {
    pub services: BTreeMap<String, ComposeService>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, ComposeNetwork>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, ComposeVolume>,
    /// Files a stack puts into its members' services, inline.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, ComposeConfig>,
}

/// A top-level config with its content inline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ComposeConfig {
    pub content: String,
}

/// A service's use of a config: mounted read-only at `target`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceConfig {
    pub source: String,
    pub target: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ComposeService {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_file: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<ServiceConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<ComposeHealthcheck>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, DependsOn>,
    pub networks: Vec<String>,
    pub restart: String,
    pub labels: BTreeMap<String, String>,
    /// `uid:gid` when the blueprint names a non-root user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    /// Docker's spelling (`512m`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Deploy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<DeployResources>,
}

/// `deploy.resources`: limits and reservations, in Docker's units.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct DeployResources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceAmounts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservations: Option<ResourceAmounts>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ResourceAmounts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// Label of the one-shot services (init containers, volume ownership): the
/// executor expects them to exit 0 and does not count them as workloads.
pub const INIT_LABEL: &str = "io.deckhand.init";

/// The image of the one-shot service that gives a non-root component its volumes.
pub const VOLUME_OWNER_IMAGE: &str = "busybox:1.36";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ComposeHealthcheck {
    pub test: Vec<String>,
    pub interval: String,
    pub timeout: String,
    pub retries: u32,
    pub start_period: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DependsOn {
    pub condition: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ComposeNetwork {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<bool>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ComposeVolume {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A Compose file and the env files its services read.
#[derive(Debug, Clone)]
pub struct ComposeProject {
    pub file: ComposeFile,
    /// `<service>.env` → content (secret values: write with mode 0600).
    pub env_files: BTreeMap<String, String>,
}

impl ComposeProject {
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(&self.file).expect("compose file serializes")
    }

    /// The files to write: `compose.yaml`, then each env file; (path,
    /// content, whether it holds secrets).
    pub fn into_files(self) -> Vec<(String, String, bool)> {
        let mut files = vec![("compose.yaml".to_string(), self.to_yaml(), false)];
        files.extend(
            self.env_files
                .into_iter()
                .map(|(path, content)| (path, content, true)),
        );
        files
    }
}

/// How releases outside this file are reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// All releases in one file (`plan --output`): networks and `depends_on` are local.
    Together,
    /// One file per release (one Compose project each): dependencies' networks
    /// are external (`name:` is global) and ordering is the runner's job.
    PerRelease,
}

/// One Compose project for `releases`.
pub fn project(releases: &[RenderedRelease], scope: Scope) -> ComposeProject {
    let mut file = ComposeFile {
        services: BTreeMap::new(),
        networks: BTreeMap::new(),
        volumes: BTreeMap::new(),
        configs: BTreeMap::new(),
    };
    let mut env_files = BTreeMap::new();
    let by_name: BTreeMap<&str, &RenderedRelease> =
        releases.iter().map(|r| (r.release.as_str(), r)).collect();
    for release in releases {
        let own = docker_name(&release.namespace, &release.release);
        file.networks.insert(
            own.clone(),
            ComposeNetwork {
                name: Some(own),
                external: None,
            },
        );
        for dependency in &release.dependencies {
            if scope == Scope::PerRelease || !by_name.contains_key(dependency.as_str()) {
                let theirs = docker_name(&release.namespace, dependency);
                file.networks.insert(
                    theirs.clone(),
                    ComposeNetwork {
                        name: Some(theirs),
                        external: Some(true),
                    },
                );
            }
        }
        for component in &release.components {
            let (mut service, env_file) = service(release, component, &by_name, scope);
            for (name, one_shot) in one_shot_services(component, &service) {
                service.depends_on.insert(
                    name.clone(),
                    DependsOn {
                        condition: "service_completed_successfully".into(),
                    },
                );
                file.services.insert(name, one_shot);
            }
            for volume in &component.volumes {
                let name = volume_name(release, component, &volume.name);
                file.volumes
                    .insert(name.clone(), ComposeVolume { name: Some(name) });
            }
            for f in &component.files {
                let name = super::config_files::compose_config_name(component, &f.path);
                file.configs.insert(
                    name.clone(),
                    ComposeConfig {
                        content: literal(&f.content),
                    },
                );
                service.configs.push(ServiceConfig {
                    source: name,
                    target: f.path.clone(),
                });
            }
            if let Some(content) = env_file {
                env_files.insert(format!("{}.env", component.service), content);
            }
            file.services.insert(component.service.clone(), service);
        }
    }
    ComposeProject { file, env_files }
}

/// The name a release's Compose project and network have on the Docker
/// host, which has no namespaces: the release's own name in the `default`
/// namespace, `NAMESPACE_RELEASE` in any other. `_` cannot occur in a
/// DNS-1123 label, so two different (namespace, release) pairs never give
/// the same name, and the same release in two namespaces shares nothing.
pub fn docker_name(namespace: &str, release: &str) -> String {
    if namespace == "default" {
        release.to_string()
    } else {
        format!("{namespace}_{release}")
    }
}

/// The named volume of a component's volume.
pub fn volume_name(
    release: &RenderedRelease,
    component: &RenderedComponent,
    volume: &str,
) -> String {
    format!(
        "{}-{}-{volume}",
        docker_name(&release.namespace, &release.release),
        component.name
    )
}

/// The one-shot services that run before a component, in order: a volume
/// owner change when it runs as a non-root user (Compose has no `fsGroup`,
/// and a named volume belongs to whoever the image says, often root), then
/// its init containers. Each waits for the one before.
fn one_shot_services(
    component: &RenderedComponent,
    main: &ComposeService,
) -> Vec<(String, ComposeService)> {
    let mut out: Vec<(String, ComposeService)> = Vec::new();
    let base = |image: &str| {
        let mut one = main.clone();
        one.image = image.to_string();
        one.restart = "no".into();
        one.healthcheck = None;
        one.ports = vec![];
        one.expose = vec![];
        one.depends_on = BTreeMap::new();
        one.deploy = None;
        one.labels.insert(INIT_LABEL.into(), "true".into());
        one
    };
    let security = component.security.clone().unwrap_or_default();
    if security.non_root() && !component.volumes.is_empty() {
        let owner = format!(
            "{}:{}",
            security.user.unwrap_or_default(),
            security.volume_group().unwrap_or_default()
        );
        // busybox, not the component's image: it surely has sh, stat and
        // chown, whatever the application's image (distroless, micro) has.
        let mut chown = base(VOLUME_OWNER_IMAGE);
        chown.user = Some("0:0".into());
        chown.read_only = false;
        chown.tmpfs = vec![];
        // Root, with only what changing owners needs.
        chown.cap_drop = vec!["ALL".into()];
        chown.cap_add = vec!["CHOWN".into(), "DAC_OVERRIDE".into(), "FOWNER".into()];
        chown.entrypoint = Some(vec![
            "sh".into(),
            "-c".into(),
            literal(&format!(
                "for d in \"$@\"; do [ \"$(stat -c %u:%g \"$d\")\" = {owner} ] || chown -R {owner} \"$d\" || exit 1; done"
            )),
            "volume-owner".into(),
        ]);
        chown.command = Some(component.volumes.iter().map(|v| literal(&v.path)).collect());
        chown.environment = BTreeMap::new();
        chown.env_file = vec![];
        chown.labels.insert(
            "io.deckhand.component".into(),
            format!("{}-volumes", component.name),
        );
        out.push((format!("{}-volumes", component.service), chown));
    }
    for init in &component.init {
        let mut one = base(&init.image);
        one.entrypoint = (!init.command.is_empty()).then(|| literals(&init.command));
        one.command = (!init.args.is_empty()).then(|| literals(&init.args));
        one.labels.insert(
            "io.deckhand.component".into(),
            format!("{}-{}", component.name, init.name),
        );
        out.push((format!("{}-{}", component.service, init.name), one));
    }
    for i in 1..out.len() {
        let before = out[i - 1].0.clone();
        out[i].1.depends_on.insert(
            before,
            DependsOn {
                condition: "service_completed_successfully".into(),
            },
        );
    }
    out
}

fn service(
    release: &RenderedRelease,
    component: &RenderedComponent,
    local: &BTreeMap<&str, &RenderedRelease>,
    scope: Scope,
) -> (ComposeService, Option<String>) {
    let mut environment = BTreeMap::new();
    let mut secret_lines = String::new();
    for var in &component.env {
        if var.secret {
            secret_lines.push_str(&format!("{}={}\n", var.name, env_file_value(&var.value)));
        } else {
            environment.insert(var.name.clone(), literal(&var.value));
        }
    }
    let mut depends_on = BTreeMap::new();
    if scope == Scope::Together {
        for dependency in &release.dependencies {
            if let Some(dep) = local.get(dependency.as_str()) {
                for c in &dep.components {
                    let condition = if c.readiness.is_some() {
                        "service_healthy"
                    } else {
                        "service_started"
                    };
                    depends_on.insert(
                        c.service.clone(),
                        DependsOn {
                            condition: condition.into(),
                        },
                    );
                }
            }
        }
    }
    let mut networks = vec![docker_name(&release.namespace, &release.release)];
    networks.extend(
        release
            .dependencies
            .iter()
            .map(|dependency| docker_name(&release.namespace, dependency)),
    );
    let published: Vec<String> = release
        .published
        .iter()
        .filter(|p| component.expose.as_deref() == Some(p.port_name.as_str()))
        .map(|p| format!("127.0.0.1:{}:{}", p.host_port, p.container_port))
        .collect();
    let security = component.security.clone().unwrap_or_default();
    let labels = BTreeMap::from([
        ("io.deckhand.release".to_string(), release.release.clone()),
        (
            "io.deckhand.blueprint".to_string(),
            release.blueprint.clone(),
        ),
        ("io.deckhand.component".to_string(), component.name.clone()),
        ("io.deckhand.version".to_string(), release.version.clone()),
    ]);
    let service = ComposeService {
        image: component.image.clone(),
        entrypoint: (!component.command.is_empty()).then(|| literals(&component.command)),
        command: (!component.args.is_empty()).then(|| literals(&component.args)),
        environment,
        env_file: if secret_lines.is_empty() {
            vec![]
        } else {
            vec![format!("{}.env", component.service)]
        },
        ports: if component.replicas > 1 {
            vec![]
        } else {
            published
        },
        expose: component.ports.iter().map(|p| p.port.to_string()).collect(),
        volumes: component
            .volumes
            .iter()
            .map(|v| format!("{}:{}", volume_name(release, component, &v.name), v.path))
            .collect(),
        configs: vec![],
        healthcheck: component
            .readiness
            .as_ref()
            .map(|check| ComposeHealthcheck {
                test: literals(&health_test(check)),
                interval: "5s".into(),
                timeout: "5s".into(),
                retries: 6,
                start_period: format!("{}s", component.start_period.unwrap_or(10)),
            }),
        depends_on,
        networks,
        restart: "unless-stopped".into(),
        labels,
        user: security.non_root().then(|| {
            format!(
                "{}:{}",
                security.user.unwrap_or_default(),
                security.run_group().unwrap_or_default()
            )
        }),
        cap_drop: if security.non_root() || security.capabilities.is_some() {
            vec!["ALL".into()]
        } else {
            vec![]
        },
        cap_add: security.capabilities.clone().unwrap_or_default(),
        security_opt: vec!["no-new-privileges:true".into()],
        read_only: security.read_only_root,
        tmpfs: security.writable.clone(),
        shm_size: component
            .shm
            .as_deref()
            .and_then(memory_bytes)
            .map(docker_bytes),
        deploy: deploy(component),
    };
    (service, (!secret_lines.is_empty()).then_some(secret_lines))
}

/// `deploy:` for replicas other than one and for resource limits and reservations.
fn deploy(component: &RenderedComponent) -> Option<Deploy> {
    let amounts = |cpu: Option<&str>, memory: Option<&str>| {
        let amounts = ResourceAmounts {
            cpus: cpu.and_then(cpu_millis).map(docker_cpus),
            memory: memory.and_then(memory_bytes).map(docker_bytes),
        };
        (amounts != ResourceAmounts::default()).then_some(amounts)
    };
    let limits = amounts(
        component.cpu_limit.as_deref(),
        component.memory_limit.as_deref(),
    );
    // Reservations only where the blueprint also limits: a reservation the
    // host cannot give keeps the container from starting.
    let reservations = limits
        .as_ref()
        .and_then(|_| amounts(None, Some(component.memory.as_str())));
    let resources = (limits.is_some() || reservations.is_some()).then_some(DeployResources {
        limits,
        reservations,
    });
    let replicas = (component.replicas != 1).then_some(component.replicas);
    (replicas.is_some() || resources.is_some()).then_some(Deploy {
        replicas,
        resources,
    })
}

/// Compose interpolates `$VAR` in the file itself (from the host's
/// environment); a `$` meant for the container's shell is written `$$`.
fn literal(text: &str) -> String {
    text.replace('$', "$$")
}

fn literals(items: &[String]) -> Vec<String> {
    items.iter().map(|i| literal(i)).collect()
}

/// Env-file values are taken literally up to the end of the line; generated
/// secrets are alphanumeric, and anything else is quoted.
fn env_file_value(value: &str) -> String {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:/@+=".contains(c))
    {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// The Compose `test` for a check. HTTP and TCP checks use the tools most
/// images carry (wget, curl, nc), whichever exists, and last bash's
/// `/dev/tcp` for images that have none of them (Keycloak's has bash only).
pub fn health_test(check: &Check) -> Vec<String> {
    if let Some(http) = &check.http {
        let url = format!("http://127.0.0.1:{}{}", http.port, http.path);
        let bash = format!(
            "bash -c 'exec 3<>/dev/tcp/127.0.0.1/{} && printf \"GET {} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n\" >&3 && head -n 1 <&3 | grep -q \" [23][0-9][0-9] \"'",
            http.port, http.path
        );
        vec![
            "CMD-SHELL".into(),
            format!(
                "wget -q -O /dev/null {url} || curl -fsS -o /dev/null {url} || {bash} || exit 1"
            ),
        ]
    } else if let Some(tcp) = &check.tcp {
        vec![
            "CMD-SHELL".into(),
            format!(
                "nc -z 127.0.0.1 {0} || bash -c 'exec 3<>/dev/tcp/127.0.0.1/{0}' || exit 1",
                tcp.port
            ),
        ]
    } else if let Some(exec) = &check.exec {
        let mut test = vec!["CMD".to_string()];
        test.extend(exec.command.iter().cloned());
        test
    } else {
        vec!["NONE".into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::render_app;

    #[test]
    fn dependents_wait_for_healthy_dependencies_and_secrets_stay_out() {
        let releases = render_app("authentik", None, &[]);
        let project = project(&releases, Scope::Together);
        let server = &project.file.services["authentik"];
        assert_eq!(
            server.depends_on["authentik-postgresql"].condition,
            "service_healthy"
        );
        assert!(
            server
                .networks
                .contains(&"authentik-postgresql".to_string())
        );
        assert_eq!(
            server.environment["AUTHENTIK_POSTGRESQL__HOST"],
            "authentik-postgresql"
        );
        assert!(
            !server
                .environment
                .contains_key("AUTHENTIK_POSTGRESQL__PASSWORD")
        );
        let env = &project.env_files["authentik.env"];
        let pg_env = &project.env_files["authentik-postgresql.env"];
        let password = |text: &str, key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap()
                .to_string()
        };
        assert_eq!(
            password(env, "AUTHENTIK_POSTGRESQL__PASSWORD"),
            password(pg_env, "POSTGRES_PASSWORD")
        );
        assert!(
            !project
                .to_yaml()
                .contains(&password(pg_env, "POSTGRES_PASSWORD"))
        );
    }

    #[test]
    fn shell_variables_survive_compose_interpolation() {
        let releases = render_app("redis", None, &[]);
        let project = project(&releases, Scope::Together);
        let yaml = project.to_yaml();
        assert!(
            yaml.contains("--requirepass \"$$REDIS_PASSWORD\""),
            "{yaml}"
        );
        let pg = render_app("postgresql", None, &[]);
        let pg_project = project_of(&pg);
        let test = &pg_project.file.services["postgresql"]
            .healthcheck
            .as_ref()
            .unwrap()
            .test;
        assert!(test.iter().any(|t| t.contains("$$POSTGRES_DB")), "{test:?}");
    }

    fn project_of(releases: &[RenderedRelease]) -> ComposeProject {
        project(releases, Scope::Together)
    }

    #[test]
    fn per_release_projects_use_external_networks() {
        let releases = render_app("authentik", None, &[]);
        let project = project(&releases[1..], Scope::PerRelease);
        assert_eq!(
            project.file.networks["authentik-postgresql"].external,
            Some(true)
        );
        // Only its own one-shot service (the volume owner change): the
        // dependencies' readiness is the runner's job.
        assert_eq!(
            project.file.services["authentik"]
                .depends_on
                .keys()
                .collect::<Vec<_>>(),
            ["authentik-volumes"]
        );
    }

    #[test]
    fn security_shared_memory_and_limits_reach_the_compose_file() {
        let releases = render_app("authentik", None, &[]);
        let project = project(&releases, Scope::Together);
        let server = &project.file.services["authentik"];
        assert_eq!(server.user.as_deref(), Some("1000:1000"));
        assert_eq!(server.cap_drop, ["ALL"]);
        assert_eq!(server.security_opt, ["no-new-privileges:true"]);
        assert_eq!(server.shm_size.as_deref(), Some("512m"));
        let limits = server
            .deploy
            .as_ref()
            .and_then(|d| d.resources.as_ref())
            .and_then(|r| r.limits.as_ref())
            .unwrap();
        assert_eq!(limits.memory.as_deref(), Some("2g"));
        // The data volume is given to 1000:1000 first, by a one-shot service
        // that the server waits for.
        assert_eq!(
            server.depends_on["authentik-volumes"].condition,
            "service_completed_successfully"
        );
        let owner = &project.file.services["authentik-volumes"];
        assert_eq!(owner.user.as_deref(), Some("0:0"));
        assert_eq!(owner.image, VOLUME_OWNER_IMAGE);
        assert_eq!(owner.restart, "no");
        assert_eq!(owner.labels[INIT_LABEL], "true");
        assert!(owner.entrypoint.as_ref().unwrap()[2].contains("chown -R 1000:1000"));
        assert_eq!(owner.command.as_ref().unwrap(), &["/data"]);
        assert!(owner.healthcheck.is_none() && owner.ports.is_empty());
        // A root component keeps the runtime's capabilities, never escalates.
        let gitea = project_of(&render_app("gitea", None, &[]));
        let gitea = &gitea.file.services["gitea"];
        assert!(gitea.user.is_none() && gitea.cap_drop.is_empty());
        assert_eq!(gitea.security_opt, ["no-new-privileges:true"]);
        // Read-only root with tmpfs for the writable paths.
        let traefik = project_of(&render_app("traefik", None, &[]));
        let traefik = &traefik.file.services["traefik"];
        assert!(traefik.read_only);
        assert_eq!(traefik.tmpfs, ["/tmp"]);
    }

    #[test]
    fn outside_the_default_namespace_names_carry_the_namespace() {
        let mut releases = render_app("authentik", None, &[]);
        for release in &mut releases {
            release.namespace = "auth".into();
        }
        let project = project(&releases[1..], Scope::PerRelease);
        let server = &project.file.services["authentik"];
        assert!(
            server
                .networks
                .contains(&"auth_authentik-postgresql".to_string()),
            "{:?}",
            server.networks
        );
        assert_eq!(
            project.file.networks["auth_authentik"].name.as_deref(),
            Some("auth_authentik")
        );
        // The host a dependent is given is the service name, which Docker
        // resolves within the (namespaced) network: unchanged.
        assert_eq!(
            server.environment["AUTHENTIK_POSTGRESQL__HOST"],
            "authentik-postgresql"
        );
        let pg = project_of(&releases[..1]);
        assert!(
            pg.file.volumes.keys().all(|v| v.starts_with("auth_")),
            "{:?}",
            pg.file.volumes.keys()
        );
        assert_eq!(docker_name("default", "redis"), "redis");
        assert_ne!(docker_name("a", "b-c"), docker_name("a-b", "c"));
    }

    #[test]
    fn init_containers_are_one_shot_services_in_order() {
        let releases =
            crate::render::tests::render_with(crate::render::tests::WITH_INIT, "migrator");
        let project = project(&releases, Scope::PerRelease);
        let services = &project.file.services;
        let app = &services["migrator"];
        for one_shot in ["migrator-volumes", "migrator-migrate", "migrator-check"] {
            assert_eq!(
                app.depends_on[one_shot].condition, "service_completed_successfully",
                "{one_shot}"
            );
            assert_eq!(services[one_shot].restart, "no");
        }
        // Each waits for the one before: owner change, then migrate, then check.
        assert!(
            services["migrator-migrate"]
                .depends_on
                .contains_key("migrator-volumes")
        );
        assert!(
            services["migrator-check"]
                .depends_on
                .contains_key("migrator-migrate")
        );
        assert_eq!(
            services["migrator-migrate"].user.as_deref(),
            Some("1000:1000")
        );
        assert_eq!(services["migrator-check"].image, "busybox:1.37");
        assert_eq!(
            services["migrator-migrate"].volumes,
            ["migrator-app-data:/data"]
        );
    }

    #[test]
    fn health_checks_fall_back_to_bash_for_images_without_wget_curl_or_nc() {
        let keycloak = render_app("keycloak", None, &[]);
        let project = project(&keycloak, Scope::Together);
        let test = &project.file.services["keycloak"]
            .healthcheck
            .as_ref()
            .expect("keycloak has a health check")
            .test;
        assert!(
            test[1].contains("bash -c 'exec 3<>/dev/tcp/127.0.0.1/9000")
                && test[1].contains("GET /health/ready HTTP/1.0"),
            "{test:?}"
        );
    }
}
