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
