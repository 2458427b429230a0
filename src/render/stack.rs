//! A stack member's share of its stack's wiring ([`crate::catalogue::stack`]):
//! the `stack` variables its templates read (`stack.name`, the stack's
//! generated `stack.secrets.*`, which belong to the stack's release and are
//! handed to every member that reads them, and every member's address
//! `stack.members.<member>.{host,port,url}`), and the environment and files
//! the stack adds to it. The members it `uses` are its dependencies in the
//! graph, so their facts arrive as `<member>.*` like any requirement's.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value as Json, json};
use serde_saphyr::Spanned;

use super::entry::entry_point;
use super::{RenderError, RenderOptions, SecretSource};
use crate::catalogue::Catalogue;
use crate::catalogue::stack::StackFile;
use crate::resolve::{ReleaseGraph, ReleaseNode};

/// What a member's render adds for its stack.
pub(super) struct StackPart {
    /// The `stack` variable of its templates.
    pub context: Json,
    /// The `stack.secrets.*` variables (secret).
    pub secret_vars: BTreeSet<String>,
    /// Environment for every component.
    pub env: BTreeMap<String, Spanned<String>>,
    /// Files for its components.
    pub files: Vec<StackFile>,
}

/// A file with its content rendered, for one component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RenderedFile {
    /// Absolute path in the container.
    pub path: String,
    pub content: String,
}

/// The stack part of `node`, when it is a stack member.
pub(super) fn stack_part(
    catalogue: &Catalogue,
    graph: &ReleaseGraph,
    node: &ReleaseNode,
    options: &RenderOptions,
    secret_source: &mut dyn SecretSource,
) -> Result<Option<StackPart>, RenderError> {
    let Some(member_of) = &node.member_of else {
        return Ok(None);
    };
    let stack = &catalogue
        .entry(&member_of.blueprint)
        .expect("stacks come from the catalogue")
        .blueprint;
    let Some(member) = stack
        .members
        .iter()
        .map(|m| &m.value)
        .find(|m| m.name == member_of.member)
    else {
        return Ok(None);
    };
    let mut secrets = serde_json::Map::new();
    let mut secret_vars = BTreeSet::new();
    for (name, spec) in &stack.secrets {
        let value = secret_source.secret(&member_of.stack, name, &spec.value);
        secrets.insert(name.clone(), Json::String(value));
        secret_vars.insert(format!("stack.secrets.{name}"));
    }
    let mut members = serde_json::Map::new();
    for other in stack.members.iter().map(|m| &m.value) {
        let release = format!("{}-{}", member_of.stack, other.name);
        let Some(other_node) = graph.graph.node_weights().find(|n| n.release == release) else {
            continue;
        };
        let Some(entry) = catalogue.entry(&other_node.blueprint) else {
            continue;
        };
        let bp = &entry.blueprint;
        let point = entry_point(other_node, bp, options, secret_source)?;
        let host = point
            .exposed
            .as_ref()
            .map_or(release.clone(), |(service, _)| service.clone());
        members.insert(
            other.alias(),
            json!({
                "host": host,
                "port": point.port(bp).map(|p| p.to_string()).unwrap_or_default(),
                "url": point.url,
            }),
        );
    }
    Ok(Some(StackPart {
        context: json!({
            "name": member_of.stack,
            "secrets": Json::Object(secrets),
            "members": Json::Object(members),
        }),
        secret_vars,
        env: member.env.clone(),
        files: member.files.clone(),
    }))
}

/// The members of the stack whose release is `stack`, by layer then name.
pub(super) fn members_of(graph: &ReleaseGraph, stack: &str) -> Vec<super::StackMember> {
    let mut out: Vec<super::StackMember> = graph
        .graph
        .node_weights()
        .filter_map(|n| {
            let of = n.member_of.as_ref().filter(|m| m.stack == stack)?;
            Some(super::StackMember {
                member: of.member.clone(),
                release: n.release.clone(),
                blueprint: n.blueprint.clone(),
                layer: of.layer,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.layer, &a.member).cmp(&(b.layer, &b.member)));
    out
}

/// The wiring a stack file makes: one line per member (or dependency) whose
/// facts it reads (files hold no secret, so every value is shown).
pub(super) fn file_wires(
    component: &str,
    path: &str,
    vars: &BTreeSet<String>,
    alias_release: &BTreeMap<String, String>,
    facts: &BTreeMap<String, Json>,
) -> Vec<super::Wire> {
    let mut by_alias: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for var in vars {
        if let Some((alias, fact)) = var.split_once('.')
            && alias_release.contains_key(alias)
        {
            by_alias.entry(alias).or_default().push(fact.to_string());
        }
    }
    by_alias
        .into_iter()
        .map(|(alias, names)| super::Wire {
            variable: format!("file {path}"),
            component: Some(component.to_string()),
            dependency: alias_release[alias].clone(),
            shown: names
                .iter()
                .filter_map(|f| facts.get(alias)?.get(f)?.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            facts: names,
        })
        .collect()
}
