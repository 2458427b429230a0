//! Dependency resolution: the requested applications and everything they
//! need, as a `petgraph` DAG of releases, with parallel waves.
//!
//! Each requested application is a root release named after it; whatever it
//! needs, directly or not, becomes a release named `<root>-<blueprint>`
//! (`authentik-postgresql`), shared within that root's tree (a diamond
//! resolves to one node). A requirement's `when:` is evaluated against the
//! requiring release's version and parameters, so `authentik` 2025.8 gets a
//! Redis and 2026.2 does not. Expansion is iterative, so deep chains cannot
//! overflow the stack; order is deterministic (sorted) everywhere.

use std::collections::{BTreeMap, HashMap};

use petgraph::Direction;
use petgraph::algo::{kosaraju_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::Serialize;
use serde_json::Value as Json;

use crate::catalogue::{Catalogue, did_you_mean};
use crate::template;

mod stack;

/// Why a set of applications cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("'{name}' is not in the catalogue{}", did_you_mean(.suggestions))]
    UnknownApplication {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("blueprint '{requirer}' requires '{missing}', which is not in the catalogue{}", did_you_mean(.suggestions))]
    MissingDependency {
        requirer: String,
        missing: String,
        suggestions: Vec<String>,
    },
    #[error("dependency cycle: {}", .cycle.join(" → "))]
    Cycle { cycle: Vec<String> },
    #[error("release '{release}' is required with different parameters: {first} and {second}")]
    ConflictingParameters {
        release: String,
        first: String,
        second: String,
    },
    #[error("parameter '{parameter}' of '{blueprint}' is invalid: {reason}")]
    InvalidParameter {
        blueprint: String,
        parameter: String,
        reason: String,
    },
    #[error("condition '{condition}' of '{blueprint}' failed: {reason}")]
    Condition {
        blueprint: String,
        condition: String,
        reason: String,
    },
}

/// One application to install, with what the person said about it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub blueprint: String,
    pub version: Option<String>,
    /// Values for built-in or declared parameters (`replicas`, `domain`, …).
    pub parameters: BTreeMap<String, Json>,
}

/// One release in the graph.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseNode {
    pub release: String,
    pub blueprint: String,
    pub version: String,
    pub parameters: BTreeMap<String, Json>,
    /// True for the applications the person named and the members of a
    /// stack they named; false for dependencies.
    pub requested: bool,
    /// The stack this release is a member of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_of: Option<MemberOf>,
}

/// Where a stack member belongs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MemberOf {
    /// The stack's release.
    pub stack: String,
    /// The stack's blueprint.
    pub blueprint: String,
    /// The member's name in the stack.
    pub member: String,
    /// Its layer (1 first).
    pub layer: usize,
}

/// The resolved releases: edges go from a release to what it requires,
/// labelled with the alias its templates use.
#[derive(Debug, Clone)]
pub struct ReleaseGraph {
    pub graph: DiGraph<ReleaseNode, String>,
    /// Releases grouped by wave: every release's dependencies are in earlier waves.
    pub waves: Vec<Vec<NodeIndex>>,
}

impl ReleaseGraph {
    pub fn node(&self, index: NodeIndex) -> &ReleaseNode {
        &self.graph[index]
    }

    /// Every release in wave order (dependencies first).
    pub fn in_order(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.waves.iter().flatten().copied()
    }

    /// (alias, dependency) pairs of a release, sorted by alias.
    pub fn dependencies(&self, index: NodeIndex) -> Vec<(String, NodeIndex)> {
        let mut deps: Vec<(String, NodeIndex)> = self
            .graph
            .edges_directed(index, Direction::Outgoing)
            .map(|e| (e.weight().clone(), e.target()))
            .collect();
        deps.sort();
        deps
    }

    /// Releases that require this one.
    pub fn dependents(&self, index: NodeIndex) -> Vec<NodeIndex> {
        let mut out: Vec<NodeIndex> = self
            .graph
            .neighbors_directed(index, Direction::Incoming)
            .collect();
        out.sort_by(|a, b| self.graph[*a].release.cmp(&self.graph[*b].release));
        out.dedup();
        out
    }

    pub fn find(&self, release: &str) -> Option<NodeIndex> {
        self.graph
            .node_indices()
            .find(|i| self.graph[*i].release == release)
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }
}

/// Resolves `requests` against the catalogue.
pub fn resolve(catalogue: &Catalogue, requests: &[Request]) -> Result<ReleaseGraph, ResolveError> {
    let mut graph: DiGraph<ReleaseNode, String> = DiGraph::new();
    let mut by_release: HashMap<String, NodeIndex> = HashMap::new();

    for request in requests {
        let entry =
            catalogue
                .get(&request.blueprint)
                .map_err(|e| ResolveError::UnknownApplication {
                    name: e.name,
                    suggestions: e.suggestions,
                })?;
        let root_blueprint = entry.blueprint.name().to_string();
        // A stack keeps only what was said for it (its members get their own
        // defaults): a built-in default recorded for the stack would later be
        // handed to its members as if it had been said.
        let mut parameters = if entry.blueprint.is_stack() {
            BTreeMap::new()
        } else {
            entry.defaults.clone()
        };
        for (key, value) in &request.parameters {
            if let Some(spec) = entry.blueprint.parameters.get(key) {
                spec.value
                    .check(value)
                    .map_err(|reason| ResolveError::InvalidParameter {
                        blueprint: root_blueprint.clone(),
                        parameter: key.clone(),
                        reason,
                    })?;
            }
            parameters.insert(key.clone(), value.clone());
        }
        let version = request
            .version
            .clone()
            .unwrap_or_else(|| entry.blueprint.default_version().to_string());
        let root = add_node(
            &mut graph,
            &mut by_release,
            ReleaseNode {
                release: root_blueprint.clone(),
                blueprint: root_blueprint.clone(),
                version,
                parameters,
                requested: true,
                member_of: None,
            },
        )?;
        if entry.blueprint.is_stack() {
            stack::expand(catalogue, &mut graph, &mut by_release, root, request)?;
        } else {
            expand(catalogue, &mut graph, &mut by_release, root)?;
        }
    }

    let waves = waves_of(&graph)?;
    Ok(ReleaseGraph { graph, waves })
}

/// Adds what `root` requires, directly or not, as releases named
/// `<root>-<blueprint>`, shared within its tree.
fn expand(
    catalogue: &Catalogue,
    graph: &mut DiGraph<ReleaseNode, String>,
    by_release: &mut HashMap<String, NodeIndex>,
    root: NodeIndex,
) -> Result<(), ResolveError> {
    let prefix = graph[root].release.clone();
    // blueprint → release within this root's tree
    let mut tree: HashMap<String, NodeIndex> = HashMap::new();
    tree.insert(graph[root].blueprint.clone(), root);
    let mut pending = vec![root];
    while let Some(current) = pending.pop() {
        let blueprint_name = graph[current].blueprint.clone();
        let bp = &catalogue
            .entry(&blueprint_name)
            .expect("nodes come from the catalogue")
            .blueprint;
        // Conditions see the requiring release's version and parameters.
        let context = bp.requires.iter().any(|r| r.value.when.is_some()).then(|| {
            minijinja::Value::from(minijinja::value::Serde(serde_json::json!({
                "version": graph[current].version,
                "params": graph[current].parameters,
            })))
        });
        for requirement in &bp.requires {
            let req = &requirement.value;
            if let (Some(condition), Some(context)) = (&req.when, &context) {
                let active = template::evaluate_condition(condition, context).map_err(|e| {
                    ResolveError::Condition {
                        blueprint: blueprint_name.clone(),
                        condition: condition.clone(),
                        reason: crate::catalogue::blueprint::short_error(&e),
                    }
                })?;
                if !active {
                    continue;
                }
            }
            let Some(dep_entry) = catalogue.entry(&req.blueprint) else {
                return Err(ResolveError::MissingDependency {
                    requirer: blueprint_name.clone(),
                    missing: req.blueprint.clone(),
                    suggestions: catalogue.suggest(&req.blueprint, 3),
                });
            };
            let dep_name = dep_entry.blueprint.name();
            let child = match tree.get(dep_name) {
                Some(&existing) => {
                    // Shared within the tree: what this requirement asks
                    // for must agree with what the release already has.
                    let have = &graph[existing].parameters;
                    if let Some(want) = &req.version
                        && *want != graph[existing].version
                    {
                        return Err(ResolveError::ConflictingParameters {
                            release: graph[existing].release.clone(),
                            first: format!("version {}", graph[existing].version),
                            second: format!("version {want} (asked by {blueprint_name})"),
                        });
                    }
                    if let Some((key, want)) = req
                        .with_parameters
                        .iter()
                        .find(|(k, v)| have.get(*k) != Some(*v))
                    {
                        return Err(ResolveError::ConflictingParameters {
                            release: graph[existing].release.clone(),
                            first: format!(
                                "{key}={}",
                                have.get(key).cloned().unwrap_or(Json::Null)
                            ),
                            second: format!("{key}={want} (asked by {blueprint_name})"),
                        });
                    }
                    existing
                }
                None => {
                    let mut dep_parameters = dep_entry.defaults.clone();
                    for (key, value) in &req.with_parameters {
                        dep_parameters.insert(key.clone(), value.clone());
                    }
                    let child = add_node(
                        graph,
                        by_release,
                        ReleaseNode {
                            release: format!("{prefix}-{dep_name}"),
                            blueprint: dep_name.to_string(),
                            version: req.version.clone().unwrap_or_else(|| {
                                dep_entry.blueprint.default_version().to_string()
                            }),
                            parameters: dep_parameters,
                            requested: false,
                            member_of: None,
                        },
                    )?;
                    tree.insert(dep_name.to_string(), child);
                    pending.push(child);
                    child
                }
            };
            graph.add_edge(current, child, req.alias());
        }
    }
    Ok(())
}

fn add_node(
    graph: &mut DiGraph<ReleaseNode, String>,
    by_release: &mut HashMap<String, NodeIndex>,
    node: ReleaseNode,
) -> Result<NodeIndex, ResolveError> {
    if let Some(&existing) = by_release.get(&node.release) {
        let other = &graph[existing];
        if other.blueprint == node.blueprint && other.parameters == node.parameters {
            return Ok(existing);
        }
        return Err(ResolveError::ConflictingParameters {
            release: node.release.clone(),
            first: format!(
                "{} {}",
                other.blueprint,
                Json::from(
                    other
                        .parameters
                        .clone()
                        .into_iter()
                        .collect::<serde_json::Map<_, _>>()
                )
            ),
            second: format!(
                "{} {}",
                node.blueprint,
                Json::from(
                    node.parameters
                        .clone()
                        .into_iter()
                        .collect::<serde_json::Map<_, _>>()
                )
            ),
        });
    }
    let release = node.release.clone();
    let index = graph.add_node(node);
    by_release.insert(release, index);
    Ok(index)
}

/// Groups the nodes of a DAG (edges point at dependencies) into waves: wave 0
/// has no dependencies, wave n depends only on earlier waves. Within a wave,
/// nodes are sorted by their order key. A cycle is an error naming it.
pub fn waves_of<N: Labelled, E>(
    graph: &DiGraph<N, E>,
) -> Result<Vec<Vec<NodeIndex>>, ResolveError> {
    let order = toposort(graph, None).map_err(|_| ResolveError::Cycle {
        cycle: find_cycle(graph),
    })?;
    // toposort puts dependents before their dependencies (edges point at them).
    let mut level = vec![0usize; graph.node_count()];
    for &node in order.iter().rev() {
        let deepest = graph
            .neighbors_directed(node, Direction::Outgoing)
            .map(|dep| level[dep.index()] + 1)
            .max()
            .unwrap_or(0);
        level[node.index()] = deepest;
    }
    let count = level.iter().max().map_or(0, |m| m + 1);
    let mut waves: Vec<Vec<NodeIndex>> =
        vec![Vec::new(); if graph.node_count() == 0 { 0 } else { count }];
    for node in graph.node_indices() {
        waves[level[node.index()]].push(node);
    }
    for wave in &mut waves {
        wave.sort_by(|a, b| graph[*a].order_key().cmp(graph[*b].order_key()));
    }
    Ok(waves)
}

/// A name to show for a node in errors and to sort by.
pub trait Labelled {
    /// The name used in cycle messages.
    fn label(&self) -> &str;
    /// The key that orders nodes within a wave.
    fn order_key(&self) -> &str {
        self.label()
    }
}

impl Labelled for ReleaseNode {
    fn label(&self) -> &str {
        &self.blueprint
    }
    fn order_key(&self) -> &str {
        &self.release
    }
}

impl Labelled for String {
    fn label(&self) -> &str {
        self
    }
}

/// One cycle of the graph as labels, first label repeated at the end.
fn find_cycle<N: Labelled, E>(graph: &DiGraph<N, E>) -> Vec<String> {
    for component in kosaraju_scc(graph) {
        let in_component: std::collections::HashSet<NodeIndex> =
            component.iter().copied().collect();
        let self_loop = component.len() == 1 && graph.contains_edge(component[0], component[0]);
        if component.len() < 2 && !self_loop {
            continue;
        }
        // Start at the smallest label for a stable message, then walk the
        // component (BFS back to the start) to get one concrete cycle.
        let start = *component
            .iter()
            .min_by(|a, b| graph[**a].label().cmp(graph[**b].label()))
            .expect("non-empty");
        let mut previous: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut closing = None;
        while let Some(node) = queue.pop_front() {
            let mut next: Vec<NodeIndex> = graph
                .neighbors_directed(node, Direction::Outgoing)
                .filter(|n| in_component.contains(n))
                .collect();
            next.sort_by(|a, b| graph[*a].label().cmp(graph[*b].label()));
            for n in next {
                if n == start {
                    closing = Some(node);
                    break;
                }
                if let std::collections::hash_map::Entry::Vacant(slot) = previous.entry(n) {
                    slot.insert(node);
                    queue.push_back(n);
                }
            }
            if closing.is_some() {
                break;
            }
        }
        let mut path = vec![start];
        if let Some(mut node) = closing {
            let mut back = vec![node];
            while node != start {
                node = previous[&node];
                back.push(node);
            }
            back.pop();
            back.reverse();
            path.extend(back);
        }
        path.push(start);
        return path
            .into_iter()
            .map(|n| graph[n].label().to_string())
            .collect();
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::BlueprintSource;

    fn bp(name: &str, requires: &[&str]) -> BlueprintSource {
        let reqs: Vec<String> = requires
            .iter()
            .map(|r| format!("{{blueprint: {r}}}"))
            .collect();
        BlueprintSource {
            origin: format!("test/{name}.yaml"),
            text: format!(
                "name: {name}\ndescription: test\ncategory: test\nrequires: [{}]\ncomponents:\n  - name: main\n    image: busybox\n    ports: [{{name: http, port: 80}}]\n",
                reqs.join(", ")
            ),
        }
    }

    fn request(name: &str) -> Request {
        Request {
            blueprint: name.into(),
            ..Default::default()
        }
    }

    fn wave_names(graph: &ReleaseGraph) -> Vec<Vec<String>> {
        graph
            .waves
            .iter()
            .map(|w| w.iter().map(|i| graph.node(*i).release.clone()).collect())
            .collect()
    }

    #[test]
    fn authentik_default_needs_only_postgresql_and_old_versions_redis_too() {
        let catalogue = Catalogue::builtin().unwrap();
        let graph = resolve(&catalogue, &[request("authentik")]).unwrap();
        assert_eq!(
            wave_names(&graph),
            [vec!["authentik-postgresql"], vec!["authentik"]]
        );
        let old = Request {
            version: Some("2025.8.4".into()),
            ..request("authentik")
        };
        let graph = resolve(&catalogue, &[old]).unwrap();
        assert_eq!(
            wave_names(&graph),
            [
                vec!["authentik-postgresql", "authentik-redis"],
                vec!["authentik"]
            ]
        );
        let pg = graph.find("authentik-postgresql").unwrap();
        assert_eq!(graph.node(pg).parameters["database"], "authentik");
    }

    #[test]
    fn diamonds_are_deduplicated_and_waves_ordered() {
        let catalogue =
            Catalogue::from_sources(vec![bp("a", &["b", "c"]), bp("b", &["c"]), bp("c", &[])])
                .unwrap();
        let graph = resolve(&catalogue, &[request("a")]).unwrap();
        assert_eq!(graph.len(), 3);
        assert_eq!(wave_names(&graph), [vec!["a-c"], vec!["a-b"], vec!["a"]]);
    }

    #[test]
    fn cycles_are_named_in_full() {
        let catalogue =
            Catalogue::from_sources(vec![bp("a", &["b"]), bp("b", &["c"]), bp("c", &["a"])])
                .unwrap();
        let err = resolve(&catalogue, &[request("a")]).unwrap_err();
        assert_eq!(err.to_string(), "dependency cycle: a → b → c → a");
    }

    #[test]
    fn unknown_applications_get_suggestions() {
        let catalogue = Catalogue::builtin().unwrap();
        let err = resolve(&catalogue, &[request("postgresq")]).unwrap_err();
        assert!(
            err.to_string().contains("did you mean 'postgresql'"),
            "{err}"
        );
    }

    #[test]
    fn independent_roots_resolve_side_by_side() {
        let catalogue = Catalogue::builtin().unwrap();
        let graph = resolve(&catalogue, &[request("redis"), request("authentik")]).unwrap();
        assert_eq!(
            wave_names(&graph),
            [vec!["authentik-postgresql", "redis"], vec!["authentik"]]
        );
    }
}
