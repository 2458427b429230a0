//! Rendering: from the resolved release graph to concrete, wired releases,
//! and from those to Kubernetes objects ([`kubernetes`]) or a Compose file
//! ([`compose`]).
//!
//! Wiring happens here, once for every platform: releases are rendered in
//! wave order, each one's `provides` facts (host, port, database, password…)
//! become the `<alias>.*` variables of the releases that require it, and
//! every environment value is marked secret when it is derived from a
//! generated secret (its own or a dependency's), so the platform renderers
//! can put it in a Secret (Kubernetes) or an env file (Compose) and never in
//! plain text.

pub mod autoscale;
pub mod compose;
pub mod config_files;
mod entry;
pub mod kubernetes;
mod pod_security;
pub mod secrets;
mod stack;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use petgraph::graph::NodeIndex;
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::catalogue::Catalogue;
use crate::catalogue::blueprint::{Check, Security, short_error};
use crate::resolve::ReleaseGraph;
use crate::template;
pub use secrets::{EphemeralSecrets, SecretSource};
pub use stack::RenderedFile;

/// Settings that shape every render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Namespace of every release (Kubernetes), default `default`.
    pub namespace: String,
    /// Base of the host name given to a release that gets an Ingress without a domain.
    pub base_domain: String,
    /// cert-manager ClusterIssuer named in the TLS annotation.
    pub cluster_issuer: String,
    /// Ingress class, when the cluster needs one named.
    pub ingress_class: Option<String>,
    /// Publish the exposed port of each requested release on the host
    /// (Compose), on a port the [`SecretSource`] chooses.
    pub publish_host_ports: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            namespace: "default".into(),
            base_domain: "example.com".into(),
            cluster_issuer: "letsencrypt".into(),
            ingress_class: None,
            publish_host_ports: false,
        }
    }
}

/// Why rendering failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("{release}: {what} could not be rendered: {reason}")]
    Template {
        release: String,
        what: String,
        reason: String,
    },
    #[error(
        "{release} cannot run {replicas} replicas: {} runs as a single instance (the blueprint marks it so, e.g. a database without replication)",
        .components.join(", ")
    )]
    SingleInstance {
        release: String,
        replicas: u32,
        components: Vec<String>,
    },
    #[error(
        "{release} cannot be autoscaled ({autoscale}): {} runs as a single instance (the blueprint marks it so), so there is nothing for a HorizontalPodAutoscaler to scale",
        .components.join(", ")
    )]
    NotScalable {
        release: String,
        autoscale: String,
        components: Vec<String>,
    },
    #[error("{release}: volume size '{size}' is not a Kubernetes quantity")]
    VolumeSize { release: String, size: String },
    #[error("{release} cannot be published on the host: {reason}")]
    HostPort { release: String, reason: String },
}

/// Where a Compose release's exposed port is published on the host
/// (`127.0.0.1:<host_port>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Published {
    pub port_name: String,
    pub container_port: u16,
    pub host_port: u16,
    /// Who holds the container port on the host, when the release was moved.
    pub taken_by: Option<String>,
}

/// One environment variable of a component. Serialized (plans, API, logs)
/// with secret values masked; only the platform renderers read `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    /// Derived from a generated secret: never shown, never in plain manifests.
    pub secret: bool,
}

impl Serialize for EnvVar {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("EnvVar", 3)?;
        out.serialize_field("name", &self.name)?;
        out.serialize_field("value", if self.secret { MASK } else { &self.value })?;
        out.serialize_field("secret", &self.secret)?;
        out.end()
    }
}

/// Facts a release provides, serialized with secret ones masked.
fn serialize_provides<S: serde::Serializer>(
    provides: &BTreeMap<String, (String, bool)>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(provides.len()))?;
    for (fact, (value, secret)) in provides {
        map.serialize_entry(fact, if *secret { MASK } else { value })?;
    }
    map.end()
}

/// A volume a component mounts, with its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeMount {
    pub name: String,
    pub path: String,
    pub size: String,
}

/// One workload, ready for a platform renderer.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedComponent {
    pub name: String,
    /// Name of its Service / Compose service (the release name for the first component).
    pub service: String,
    pub image: String,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub ports: Vec<crate::catalogue::blueprint::Port>,
    pub expose: Option<String>,
    /// The replicas asked for; with `autoscale`, the HPA's minimum (the
    /// workload is rendered without a count: the HPA owns it).
    pub replicas: u32,
    pub scalable: bool,
    /// Bounds of its HorizontalPodAutoscaler, when autoscaled.
    pub autoscale: Option<autoscale::AutoscaleSpec>,
    pub readiness: Option<Check>,
    pub liveness: Option<Check>,
    pub start_period: Option<u32>,
    pub volumes: Vec<VolumeMount>,
    pub env: Vec<EnvVar>,
    /// CPU and memory requests.
    pub cpu: String,
    pub memory: String,
    pub cpu_limit: Option<String>,
    pub memory_limit: Option<String>,
    /// The startup check (given `start_period` seconds), when there is one.
    pub startup: Option<Check>,
    /// Who it runs as; `None` when the blueprint does not say (the image decides).
    pub security: Option<Security>,
    /// Size of `/dev/shm` (a Kubernetes quantity), when the blueprint sets one.
    pub shm: Option<String>,
    /// Containers that run to completion before it, in order.
    pub init: Vec<RenderedInit>,
    /// Files a stack puts into it (plain text: never a secret).
    pub files: Vec<RenderedFile>,
}

/// An init container with its image decided.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RenderedInit {
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    pub args: Vec<String>,
}

/// The public entry point of a release.
#[derive(Debug, Clone, Serialize)]
pub struct IngressSpec {
    pub host: String,
    pub tls: bool,
    /// True when the host was made up from the base domain.
    pub default_host: bool,
    pub service: String,
    pub port: u16,
    pub port_name: String,
}

/// One connection made for a dependent: `AUTHENTIK_POSTGRESQL__HOST → authentik-postgresql`.
#[derive(Debug, Clone, Serialize)]
pub struct Wire {
    pub variable: String,
    /// The component that receives it, or `None` when every component does.
    pub component: Option<String>,
    pub dependency: String,
    pub facts: Vec<String>,
    /// The value, or `********` when secret.
    pub shown: String,
}

/// A release with everything decided: images, env, volumes, wiring.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedRelease {
    pub release: String,
    pub blueprint: String,
    pub version: String,
    pub namespace: String,
    pub requested: bool,
    pub components: Vec<RenderedComponent>,
    pub ingress: Option<IngressSpec>,
    /// Facts handed to dependents, with a flag for secret ones.
    #[serde(serialize_with = "serialize_provides")]
    pub provides: BTreeMap<String, (String, bool)>,
    pub wiring: Vec<Wire>,
    /// Names of the generated secrets (never their values).
    pub secrets: Vec<String>,
    /// Releases this one requires.
    pub dependencies: Vec<String>,
    pub wave: usize,
    /// Readiness timeout in seconds, when the blueprint sets one.
    pub timeout: Option<u64>,
    pub parameters: BTreeMap<String, Json>,
    /// The host port of its exposed port (Compose, requested releases).
    pub published: Option<Published>,
    /// The stack it is a member of, with its layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_of: Option<crate::resolve::MemberOf>,
    /// A stack: its members, layer by layer (empty for an application).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stack_members: Vec<StackMember>,
}

/// One member of a rendered stack.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct StackMember {
    pub member: String,
    pub release: String,
    pub blueprint: String,
    pub layer: usize,
}

impl RenderedRelease {
    /// A stack: its members are releases of their own, it has nothing to run.
    pub fn is_stack(&self) -> bool {
        !self.stack_members.is_empty()
    }

    /// Where people reach it: the Ingress URL or the in-cluster service address.
    pub fn endpoints(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(ingress) = &self.ingress {
            out.push(format!(
                "{}://{}",
                if ingress.tls { "https" } else { "http" },
                ingress.host
            ));
        }
        if let Some(published) = &self.published {
            out.push(format!(
                "http://127.0.0.1:{} (published {})",
                published.host_port, published.port_name
            ));
        }
        for c in &self.components {
            for p in &c.ports {
                out.push(format!("{}:{} ({})", c.service, p.port, p.name));
            }
        }
        out
    }
}

/// Renders every release of the graph in wave order.
pub fn render_releases(
    catalogue: &Catalogue,
    graph: &ReleaseGraph,
    options: &RenderOptions,
    secrets: &mut dyn SecretSource,
) -> Result<Vec<RenderedRelease>, RenderError> {
    let mut done: HashMap<NodeIndex, RenderedRelease> = HashMap::new();
    let mut order = Vec::new();
    for (wave, members) in graph.waves.iter().enumerate() {
        for &index in members {
            let rendered = render_one(catalogue, graph, index, wave, &done, options, secrets)?;
            done.insert(index, rendered);
            order.push(index);
        }
    }
    Ok(order
        .into_iter()
        .map(|i| done.remove(&i).expect("rendered"))
        .collect())
}

/// What a secret value looks like wherever it is shown.
pub const MASK: &str = "********";

fn render_one(
    catalogue: &Catalogue,
    graph: &ReleaseGraph,
    index: NodeIndex,
    wave: usize,
    done: &HashMap<NodeIndex, RenderedRelease>,
    options: &RenderOptions,
    secret_source: &mut dyn SecretSource,
) -> Result<RenderedRelease, RenderError> {
    let node = graph.node(index);
    let entry = catalogue
        .entry(&node.blueprint)
        .expect("graph nodes come from the catalogue");
    let bp = &entry.blueprint;
    let release = node.release.clone();
    let fail = |what: &str, err: minijinja::Error| RenderError::Template {
        release: release.clone(),
        what: what.to_string(),
        reason: short_error(&err),
    };

    // Secrets of this release.
    let mut secret_values: BTreeMap<String, String> = BTreeMap::new();
    for (name, spec) in &bp.secrets {
        secret_values.insert(
            name.clone(),
            secret_source.secret(&release, name, &spec.value),
        );
    }

    // Dependencies' facts, by alias; which of them are secret.
    let dependencies = graph.dependencies(index);
    let mut dependency_facts: BTreeMap<String, Json> = BTreeMap::new();
    let mut secret_vars: BTreeSet<String> = secret_values
        .keys()
        .map(|k| format!("secrets.{k}"))
        .collect();
    let mut alias_release: BTreeMap<String, String> = BTreeMap::new();
    for (alias, dep) in &dependencies {
        let dep_release = &done[dep];
        let mut facts = serde_json::Map::new();
        for (fact, (value, secret)) in &dep_release.provides {
            facts.insert(fact.clone(), Json::String(value.clone()));
            if *secret {
                secret_vars.insert(format!("{alias}.{fact}"));
            }
        }
        dependency_facts.insert(alias.clone(), Json::Object(facts));
        alias_release.insert(alias.clone(), dep_release.release.clone());
    }
    let declared_aliases: BTreeSet<String> = bp.requires.iter().map(|r| r.value.alias()).collect();
    let inactive_aliases: BTreeSet<String> = declared_aliases
        .iter()
        .filter(|a| !dependency_facts.contains_key(*a))
        .cloned()
        .collect();

    // Public entry point.
    let entry = entry::entry_point(node, bp, options, secret_source)?;
    let (ingress, published, url, tls, asked_replicas) = (
        entry.ingress,
        entry.published,
        entry.url,
        entry.tls,
        entry.asked_replicas,
    );
    let domain = ingress.as_ref().map(|i| i.host.clone()).unwrap_or_default();
    // A stack member: its stack's variables, environment and files.
    let stack_part = stack::stack_part(catalogue, graph, node, options, secret_source)?;
    if let Some(part) = &stack_part {
        secret_vars.extend(part.secret_vars.iter().cloned());
    }

    let mut context = serde_json::Map::new();
    context.insert(
        "release".into(),
        json!({
            "name": release, "namespace": options.namespace, "host": release,
            "url": url, "domain": domain, "tls": tls && ingress.is_some(),
        }),
    );
    context.insert("version".into(), Json::String(node.version.clone()));
    context.insert(
        "params".into(),
        Json::Object(node.parameters.clone().into_iter().collect()),
    );
    context.insert(
        "secrets".into(),
        Json::Object(
            secret_values
                .iter()
                .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                .collect(),
        ),
    );
    for (alias, facts) in &dependency_facts {
        context.insert(alias.clone(), facts.clone());
    }
    if let Some(part) = &stack_part {
        context.insert("stack".into(), part.context.clone());
    }
    let context = minijinja::Value::from(minijinja::value::Serde(Json::Object(context)));

    // Renders a template; None when it reads an inactive dependency.
    let render = |what: &str,
                  source: &str|
     -> Result<Option<(String, bool, BTreeSet<String>)>, RenderError> {
        let vars = template::referenced_variables(source).map_err(|e| fail(what, e))?;
        if vars
            .iter()
            .any(|v| inactive_aliases.contains(v.split('.').next().unwrap_or_default()))
        {
            return Ok(None);
        }
        let secret = vars.iter().any(|v| secret_vars.contains(v));
        let value = template::render(source, &context).map_err(|e| fail(what, e))?;
        Ok(Some((value, secret, vars)))
    };

    // Provides.
    let mut provides = BTreeMap::new();
    for (fact, source) in &bp.provides {
        if let Some((value, secret, _)) = render(&format!("provides.{fact}"), &source.value)? {
            provides.insert(fact.clone(), (value, secret));
        }
    }

    // Replicas, or the bounds of an autoscaler.
    // (A stack runs nothing itself: what it was asked goes to its members.)
    let autoscaled = autoscale::spec_of(&node.parameters).filter(|_| !bp.is_stack());
    autoscale::check(&release, bp, autoscaled)?;
    let asked_replicas = autoscaled.map_or(asked_replicas, |a| a.min);
    let any_scalable = bp.components.iter().any(|c| c.value.scalable);
    if asked_replicas > 1 && !any_scalable && !bp.is_stack() {
        return Err(RenderError::SingleInstance {
            release: release.clone(),
            replicas: asked_replicas,
            components: bp
                .single_instance_components()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        });
    }

    let mut wiring = Vec::new();
    let mut env_for = |component: Option<&str>,
                       entries: &BTreeMap<String, serde_saphyr::Spanned<String>>|
     -> Result<Vec<EnvVar>, RenderError> {
        let mut out = Vec::new();
        for (name, source) in entries {
            let Some((value, secret, vars)) = render(&format!("env {name}"), &source.value)? else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            let mut by_dependency: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for var in &vars {
                if let Some((alias, fact)) = var.split_once('.')
                    && let Some(dep) = alias_release.get(alias)
                {
                    by_dependency
                        .entry(dep.clone())
                        .or_default()
                        .push(fact.to_string());
                }
            }
            for (dependency, facts) in by_dependency {
                wiring.push(Wire {
                    variable: name.clone(),
                    component: component.map(str::to_string),
                    dependency,
                    facts,
                    shown: if secret {
                        MASK.to_string()
                    } else {
                        value.clone()
                    },
                });
            }
            out.push(EnvVar {
                name: name.clone(),
                value,
                secret,
            });
        }
        Ok(out)
    };
    let mut shared_env = env_for(None, &bp.env)?;
    if let Some(part) = &stack_part {
        for var in env_for(None, &part.env)? {
            shared_env.retain(|e| e.name != var.name);
            shared_env.push(var);
        }
    }

    let mut components = Vec::new();
    let mut file_wiring = Vec::new();
    for (i, spanned) in bp.components.iter().enumerate() {
        let c = &spanned.value;
        let tag = match &c.tag {
            Some(t) => render(&format!("tag of {}", c.name), &t.value)?
                .map(|(v, _, _)| v)
                .unwrap_or_default(),
            None => node.version.clone(),
        };
        let image = if has_tag(&c.image) || tag.is_empty() {
            c.image.clone()
        } else {
            format!("{}:{tag}", c.image)
        };
        let mut env = shared_env.clone();
        for var in env_for(Some(&c.name), &c.env)? {
            env.retain(|e| e.name != var.name);
            env.push(var);
        }
        let mut volumes = Vec::new();
        for v in &c.volumes {
            let path = render(&format!("path of volume {}", v.name), &v.path.value)?
                .map(|(p, _, _)| p)
                .unwrap_or_default();
            let size = match &v.size {
                Some(s) => render(&format!("size of volume {}", v.name), &s.value)?
                    .map(|(p, _, _)| p)
                    .unwrap_or_default(),
                None => node
                    .parameters
                    .get("storage")
                    .and_then(Json::as_str)
                    .unwrap_or(crate::catalogue::blueprint::DEFAULT_STORAGE)
                    .to_string(),
            };
            if crate::intent::Storage::parse(&size).is_err() {
                return Err(RenderError::VolumeSize {
                    release: release.clone(),
                    size,
                });
            }
            volumes.push(VolumeMount {
                name: v.name.clone(),
                path,
                size,
            });
        }
        let mut files = Vec::new();
        for file in stack_part.iter().flat_map(|p| &p.files) {
            let target = file.component.as_deref().unwrap_or_else(|| {
                bp.components
                    .first()
                    .map_or("", |first| first.value.name.as_str())
            });
            if target != c.name {
                continue;
            }
            if let Some((content, _, vars)) =
                render(&format!("file {}", file.path), &file.content.value)?
            {
                file_wiring.extend(stack::file_wires(
                    &c.name,
                    &file.path,
                    &vars,
                    &alias_release,
                    &dependency_facts,
                ));
                files.push(RenderedFile {
                    path: file.path.clone(),
                    content,
                });
            }
        }
        let health = c.health.as_ref();
        let resources = c.resources.clone().unwrap_or_default();
        components.push(RenderedComponent {
            name: c.name.clone(),
            service: service_name(&release, i, &c.name),
            command: c.command.clone(),
            args: c.args.clone(),
            ports: c.ports.clone(),
            expose: c.expose.clone(),
            replicas: if c.scalable {
                asked_replicas.max(if asked_replicas == 0 { 0 } else { 1 })
            } else {
                asked_replicas.min(1)
            },
            scalable: c.scalable,
            autoscale: autoscaled.filter(|_| c.scalable),
            readiness: health.map(|h| h.readiness()),
            liveness: health.map(|h| h.liveness()),
            start_period: health.and_then(|h| h.start_period),
            startup: health
                .filter(|h| h.start_period.is_some())
                .map(|h| h.startup()),
            volumes,
            env,
            cpu: resources.cpu.clone().unwrap_or_else(|| "50m".into()),
            memory: resources.memory.clone().unwrap_or_else(|| "64Mi".into()),
            cpu_limit: resources.cpu_limit.clone(),
            memory_limit: resources.memory_limit.clone(),
            security: c.security.clone(),
            shm: c.shm.clone(),
            files,
            init: c
                .init
                .iter()
                .map(|i| RenderedInit {
                    name: i.name.clone(),
                    image: i.image.clone().unwrap_or_else(|| image.clone()),
                    command: i.command.clone(),
                    args: i.args.clone(),
                })
                .collect(),
            image,
        });
    }

    wiring.extend(file_wiring);
    Ok(RenderedRelease {
        release: release.clone(),
        blueprint: node.blueprint.clone(),
        version: node.version.clone(),
        namespace: options.namespace.clone(),
        requested: node.requested,
        components,
        ingress,
        provides,
        wiring,
        secrets: secret_values.keys().cloned().collect(),
        dependencies: dependencies
            .iter()
            .map(|(_, d)| graph.node(*d).release.clone())
            .collect(),
        wave,
        timeout: bp.timeout,
        parameters: node.parameters.clone(),
        published,
        member_of: node.member_of.clone(),
        stack_members: stack::members_of(graph, &release),
    })
}

/// Service name of the i-th component: the release itself for the first.
pub fn service_name(release: &str, index: usize, component: &str) -> String {
    if index == 0 {
        release.to_string()
    } else {
        format!("{release}-{component}")
    }
}

/// True when an image reference already carries a tag or digest.
fn has_tag(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    last.contains(':') || last.contains('@')
}

#[cfg(test)]
pub(crate) mod tests;
