//! Where people reach a release, decided before its templates are rendered:
//! the exposed port, the Ingress (when TLS, an ingress or a domain is
//! asked), the host port it is published on (Compose) and the URL that
//! follows from them. A stack's wiring needs this for members that are not
//! rendered yet (an OAuth redirect URI names the application deployed after
//! its identity provider), so it is one function for both.

use serde_json::Value as Json;

use super::{IngressSpec, Published, RenderError, RenderOptions, SecretSource, service_name};
use crate::catalogue::blueprint::{Blueprint, Port};
use crate::resolve::ReleaseNode;

/// A release's public side.
#[derive(Debug, Clone)]
pub(super) struct EntryPoint {
    /// The Service and port of the exposed component.
    pub exposed: Option<(String, Port)>,
    pub ingress: Option<IngressSpec>,
    pub published: Option<Published>,
    /// Where people go: the Ingress, the published port, or the Service.
    pub url: String,
    /// Whether TLS was asked for.
    pub tls: bool,
    /// The replicas asked for (1 when not said).
    pub asked_replicas: u32,
}

impl EntryPoint {
    /// The port people reach (the exposed one, else the first component's first).
    pub fn port(&self, bp: &Blueprint) -> Option<u16> {
        self.exposed.as_ref().map(|(_, p)| p.port).or_else(|| {
            bp.components
                .first()
                .and_then(|c| c.value.ports.first())
                .map(|p| p.port)
        })
    }
}

/// The entry point of `node` (a release of `bp`).
pub(super) fn entry_point(
    node: &ReleaseNode,
    bp: &Blueprint,
    options: &RenderOptions,
    secret_source: &mut dyn SecretSource,
) -> Result<EntryPoint, RenderError> {
    let release = &node.release;
    let flag = |key: &str| node.parameters.get(key).and_then(Json::as_bool);
    let tls = flag("tls").unwrap_or(false);
    let ingress_asked = flag("ingress").unwrap_or(false);
    let given_domain = node
        .parameters
        .get("domain")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    let first = bp.components.first().map(|c| &c.value);
    let exposed = bp.components.iter().enumerate().find_map(|(i, c)| {
        let c = &c.value;
        let port_name = c.expose.as_ref()?;
        let port = c.ports.iter().find(|p| &p.name == port_name)?;
        Some((service_name(release, i, &c.name), port.clone()))
    });
    let wants_ingress = tls || ingress_asked || !given_domain.is_empty();
    let ingress = match (&exposed, wants_ingress) {
        (Some((service, port)), true) => {
            let default_host = given_domain.is_empty();
            let host = if default_host {
                format!("{release}.{}", options.base_domain)
            } else {
                given_domain.clone()
            };
            Some(IngressSpec {
                host,
                tls,
                default_host,
                service: service.clone(),
                port: port.port,
                port_name: port.name.clone(),
            })
        }
        _ => None,
    };
    // A person reaches a Compose release through its published port.
    let asked_replicas = node
        .parameters
        .get("replicas")
        .and_then(Json::as_u64)
        .unwrap_or(1) as u32;
    let published = match &exposed {
        Some((_, port)) if options.publish_host_ports && node.requested && asked_replicas <= 1 => {
            Some(
                secret_source
                    .host_port(release, &port.name, port.port)
                    .map_err(|reason| RenderError::HostPort {
                        release: release.clone(),
                        reason,
                    })?,
            )
        }
        _ => None,
    };
    let url = match (&ingress, &exposed, first) {
        (None, _, _) if published.is_some() => format!(
            "http://127.0.0.1:{}",
            published.as_ref().map_or(0, |p| p.host_port)
        ),
        (Some(i), _, _) => format!("{}://{}", if i.tls { "https" } else { "http" }, i.host),
        (None, Some((service, port)), _) => format!("http://{service}:{}", port.port),
        (None, None, Some(c)) => match c.ports.first() {
            Some(p) => format!("http://{release}:{}", p.port),
            None => format!("http://{release}"),
        },
        (None, None, None) => format!("http://{release}"),
    };
    Ok(EntryPoint {
        exposed,
        ingress,
        published,
        url,
        tls,
        asked_replicas,
    })
}
