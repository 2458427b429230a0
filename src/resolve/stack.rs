//! Expanding a stack: each member becomes a release of its own named
//! `<stack>-<member>`, with its own dependencies (`<stack>-<member>-<dep>`,
//! so two members that need a PostgreSQL each get their own), an edge from
//! the stack to every member (so the stack's release is last and its
//! removal goes first), and an edge from a member to every member it
//! `uses` (labelled with the name its wiring reads them by). What a person
//! said for the stack goes to the members it fits ([`routes`]).

use std::collections::{BTreeMap, HashMap};

use petgraph::graph::{DiGraph, NodeIndex};
use serde_json::Value as Json;

use super::{MemberOf, ReleaseNode, Request, ResolveError, add_node};
use crate::catalogue::Catalogue;
use crate::catalogue::blueprint::Blueprint;
use crate::catalogue::stack::{alias_of, layers};

/// Whether a parameter said for a stack goes to a member: replicas and
/// autoscaling to members with a scalable component, TLS and ingress to
/// members that expose a port, the domain to the front member only, storage
/// to members with volumes. Anything else stays with the stack.
pub fn routes(parameter: &str, member: &Blueprint, front: bool) -> bool {
    let components = || member.components.iter().map(|c| &c.value);
    match parameter {
        "replicas" | "autoscale" => components().any(|c| c.scalable),
        "tls" | "ingress" => components().any(|c| c.expose.is_some()),
        "domain" => front,
        "storage" => components().any(|c| !c.volumes.is_empty()),
        _ => false,
    }
}

/// Adds the members of the stack at `root` (and their dependencies).
pub(super) fn expand(
    catalogue: &Catalogue,
    graph: &mut DiGraph<ReleaseNode, String>,
    by_release: &mut HashMap<String, NodeIndex>,
    root: NodeIndex,
    request: &Request,
) -> Result<(), ResolveError> {
    let stack_release = graph[root].release.clone();
    let stack_name = graph[root].blueprint.clone();
    let stack = &catalogue
        .entry(&stack_name)
        .expect("nodes come from the catalogue")
        .blueprint;
    // Words said for the stack that no member can take are refused, never
    // dropped: scaling with no scalable member, a domain with no front.
    for (key, value) in &request.parameters {
        let counts = match key.as_str() {
            "replicas" => value.as_u64().is_some_and(|n| n > 1),
            "autoscale" | "domain" => !value.is_null(),
            _ => false,
        };
        let taken = stack.members.iter().any(|m| {
            catalogue.entry(&m.value.blueprint).is_some_and(|e| {
                routes(
                    key,
                    &e.blueprint,
                    stack.front.as_deref() == Some(m.value.name.as_str()),
                )
            })
        });
        if counts && !taken {
            return Err(ResolveError::InvalidParameter {
                blueprint: stack_name.clone(),
                parameter: key.clone(),
                reason: if key == "domain" {
                    "the stack names no front member for a domain to go to".into()
                } else {
                    "no member of the stack can run more than one instance".into()
                },
            });
        }
    }
    let layer_of = layers(&stack.members).unwrap_or_default();
    let mut members: BTreeMap<String, NodeIndex> = BTreeMap::new();
    for spanned in &stack.members {
        let member = &spanned.value;
        let Some(entry) = catalogue.entry(&member.blueprint) else {
            return Err(ResolveError::MissingDependency {
                requirer: stack_name.clone(),
                missing: member.blueprint.clone(),
                suggestions: catalogue.suggest(&member.blueprint, 3),
            });
        };
        let front = stack.front.as_deref() == Some(member.name.as_str());
        let mut parameters: BTreeMap<String, Json> = entry.defaults.clone();
        parameters.extend(member.with_parameters.clone());
        for (key, value) in &request.parameters {
            if routes(key, &entry.blueprint, front) {
                parameters.insert(key.clone(), value.clone());
            }
        }
        let node = add_node(
            graph,
            by_release,
            ReleaseNode {
                release: format!("{stack_release}-{}", member.name),
                blueprint: entry.blueprint.name().to_string(),
                version: member
                    .version
                    .clone()
                    .unwrap_or_else(|| entry.blueprint.default_version().to_string()),
                parameters,
                requested: true,
                member_of: Some(MemberOf {
                    stack: stack_release.clone(),
                    blueprint: stack_name.clone(),
                    member: member.name.clone(),
                    layer: layer_of.get(&member.name).copied().unwrap_or(1),
                }),
            },
        )?;
        super::expand(catalogue, graph, by_release, node)?;
        graph.add_edge(root, node, member.alias());
        members.insert(member.name.clone(), node);
    }
    for spanned in &stack.members {
        let member = &spanned.value;
        for used in &member.uses {
            if let (Some(&from), Some(&to)) = (members.get(&member.name), members.get(used)) {
                graph.add_edge(from, to, alias_of(used));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Request, resolve};
    use super::{BTreeMap, Json};
    use crate::catalogue::Catalogue;
    use serde_json::json;

    fn node_params(graph: &super::super::ReleaseGraph, release: &str) -> BTreeMap<String, Json> {
        graph.node(graph.find(release).unwrap()).parameters.clone()
    }

    #[test]
    fn what_is_said_for_a_stack_goes_to_the_members_it_fits() {
        let catalogue = Catalogue::builtin().unwrap();
        let request = Request {
            blueprint: "prometheus-grafana".into(),
            version: None,
            parameters: [
                ("replicas".to_string(), json!(2)),
                ("domain".to_string(), json!("grafana.example.org")),
            ]
            .into(),
        };
        let graph = resolve(&catalogue, &[request]).unwrap();
        let stack = node_params(&graph, "prometheus-grafana");
        assert_eq!(stack.len(), 2, "only what was said, no defaults: {stack:?}");
        // (The members' own defaults: one replica, no domain.)
        let grafana = node_params(&graph, "prometheus-grafana-grafana");
        assert_eq!(grafana["replicas"], 2);
        assert_eq!(grafana["domain"], "grafana.example.org");
        let prometheus = node_params(&graph, "prometheus-grafana-prometheus");
        assert!(
            prometheus["replicas"] == 1 && prometheus["domain"] == "",
            "{prometheus:?}"
        );
        assert_eq!(prometheus["storage"], "10Gi", "its own default");
    }

    #[test]
    fn scaling_words_no_member_can_take_are_refused() {
        let mut sources = Catalogue::builtin_sources();
        sources.push(crate::catalogue::BlueprintSource {
            origin: "test/data-stack.yaml".into(),
            text: "name: data-stack\ndescription: two databases\ncategory: test\nversion: \"1\"\nmembers:\n  - {name: pg, blueprint: postgresql}\n  - {name: cache, blueprint: redis}\n".into(),
        });
        let catalogue = Catalogue::from_sources(sources).unwrap_or_else(|e| panic!("{e}"));
        for (key, value, why) in [
            (
                "replicas",
                json!(3),
                "no member of the stack can run more than one instance",
            ),
            (
                "autoscale",
                json!({"min": 2, "max": 3}),
                "no member of the stack can run more than one instance",
            ),
            ("domain", json!("db.example.org"), "names no front member"),
        ] {
            let request = Request {
                blueprint: "data-stack".into(),
                version: None,
                parameters: [(key.to_string(), value)].into(),
            };
            let err = resolve(&catalogue, &[request]).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains(key), "{err}");
        }
    }
}
