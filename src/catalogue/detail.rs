//! What `catalogue show` (and the API's blueprint detail and page) tells
//! about one blueprint: its summary, requirements, parameters, secrets,
//! facts, components with who they run as, a stack's layers, and an example
//! command.

use std::collections::BTreeMap;

use serde::Serialize;

use super::blueprint::{self, Requirement};
use super::{Catalogue, Entry, Summary, stack};

/// Everything `catalogue show` tells about one blueprint.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub summary: Summary,
    pub requirements: Vec<Requirement>,
    pub parameters: BTreeMap<String, blueprint::ParameterSpec>,
    pub secrets: Vec<String>,
    pub provides: Vec<String>,
    pub components: Vec<ComponentDetail>,
    /// A stack: its members, layer by layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<stack::StackDetail>,
    pub example: String,
}

/// A component as `catalogue show` describes it.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentDetail {
    pub name: String,
    pub image: String,
    pub ports: Vec<blueprint::Port>,
    pub expose: Option<String>,
    pub scalable: bool,
    pub health: Option<blueprint::Health>,
    pub volumes: Vec<String>,
    /// Who it runs as, for a person ("uid 1000, gid 1000" or "root: why").
    pub runs_as: String,
}

impl Catalogue {
    pub fn detail(&self, entry: &Entry) -> Detail {
        let bp = &entry.blueprint;
        Detail {
            summary: self.summary(entry),
            requirements: bp.requires.iter().map(|r| r.value.clone()).collect(),
            parameters: bp
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
            secrets: bp.secrets.keys().cloned().collect(),
            provides: bp.provides.keys().cloned().collect(),
            components: bp
                .components
                .iter()
                .map(|c| {
                    let c = &c.value;
                    ComponentDetail {
                        name: c.name.clone(),
                        image: c.image.clone(),
                        ports: c.ports.clone(),
                        expose: c.expose.clone(),
                        scalable: c.scalable,
                        health: c.health.clone(),
                        volumes: c.volumes.iter().map(|v| v.path.value.clone()).collect(),
                        runs_as: match &c.security {
                            Some(s) if s.non_root() => format!(
                                "uid {}, gid {}{} (restricted)",
                                s.user.unwrap_or_default(),
                                s.run_group().unwrap_or_default(),
                                s.volume_group()
                                    .filter(|_| !c.volumes.is_empty())
                                    .map_or(String::new(), |g| format!(", volumes group {g}"))
                            ),
                            Some(s) if s.root.is_some() => {
                                format!("root: {}", s.root.clone().unwrap_or_default())
                            }
                            _ => "the image's default user (the blueprint does not say)".into(),
                        },
                    }
                })
                .collect(),
            stack: bp.is_stack().then(|| stack::detail(bp)),
            example: if bp.is_stack() {
                format!("install {}", bp.name())
            } else if bp.components.iter().any(|c| c.value.expose.is_some()) {
                format!(
                    "install {} with TLS on {}.example.com",
                    bp.name(),
                    bp.name()
                )
            } else {
                format!("install {}", bp.name())
            },
        }
    }
}
