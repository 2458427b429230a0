//! Stacks: a blueprint made of other blueprints, with wiring of its own.
//!
//! A stack has `members` instead of `components`. Each member is another
//! blueprint (never a stack) deployed as a release of its own, named
//! `<stack>-<member>`, with its own dependencies (`<stack>-<member>-<dep>`).
//! A member `uses` other members: it is deployed after them (the stack's
//! layers follow from `uses`), and its stack-given `env` and `files` read
//! their `provides` as `<member>.*` (a `-` in the name becomes `_`), as a
//! dependent reads a requirement's facts. The stack's own `secrets` are read
//! as `stack.secrets.*` by every member's wiring (one generated value handed
//! to two members, such as an OAuth client secret), `stack.name` is the
//! stack's release, and `stack.members.<member>.{host,port,url}` every
//! member's address, known before any is deployed (an OAuth redirect URI
//! names the application that is deployed after its identity provider).
//!
//! ```yaml
//! name: prometheus-grafana
//! description: Prometheus and Grafana, Prometheus provisioned as Grafana's data source
//! category: monitoring
//! front: grafana                 # the member a domain said for the stack goes to
//! members:
//!   - name: prometheus
//!     blueprint: prometheus
//!   - name: grafana
//!     blueprint: grafana
//!     uses: [prometheus]         # after prometheus; reads prometheus.url
//!     files:                     # a ConfigMap (Kubernetes) or a config file (Compose)
//!       - path: /etc/grafana/provisioning/datasources/deckhand.yaml
//!         content: |
//!           datasources: [{name: Prometheus, type: prometheus, url: "{{ prometheus.url }}"}]
//! ```
//!
//! What one file can tell is checked here ([`problems`]); what needs the
//! member blueprints (they exist and are not stacks, their parameters,
//! components and facts, the templates' variables) is checked by
//! [`catalogue_problems`] when the catalogue is loaded. Files hold no secret
//! value: a ConfigMap and a Compose config are plain text, so a file that
//! reads a secret is an error, and the value goes through `env` instead.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::blueprint::{Blueprint, Problem, problem, short_error};
use crate::intent::values::is_dns_label;
use crate::template;

/// What the stack's wiring knows of every member, before any is deployed:
/// its Service (or Compose service) name, the port people reach and the URL
/// they use (`stack.members.<member>.url`).
pub const MEMBER_ADDRESS: &[&str] = &["host", "port", "url"];

/// Names a member may not have as its template name: the context's own.
const RESERVED: &[&str] = &["release", "version", "params", "secrets", "stack"];

/// One member of a stack.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Its name in the stack: the release is `<stack>-<name>`.
    pub name: String,
    /// The blueprint it deploys (not a stack).
    pub blueprint: String,
    /// The member's version (default: the blueprint's default).
    #[serde(default)]
    pub version: Option<String>,
    /// Parameters for the member blueprint.
    #[serde(default, rename = "with")]
    pub with_parameters: BTreeMap<String, serde_json::Value>,
    /// Members it is deployed after and whose facts its wiring reads.
    #[serde(default)]
    pub uses: Vec<String>,
    /// Environment the stack adds to every component of the member.
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    /// Files the stack puts into a component of the member.
    #[serde(default)]
    pub files: Vec<StackFile>,
}

impl Member {
    /// The name its facts go by in other members' templates.
    pub fn alias(&self) -> String {
        alias_of(&self.name)
    }
}

/// A member's name as a template variable.
pub fn alias_of(name: &str) -> String {
    name.replace('-', "_")
}

/// A file the stack writes into a member's component.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StackFile {
    /// The component (default: the member's first).
    #[serde(default)]
    pub component: Option<String>,
    /// Absolute path in the container.
    pub path: String,
    /// The text, a template like `env` (no secret values).
    pub content: Spanned<String>,
}

fn line_of<T>(spanned: &Spanned<T>) -> u32 {
    spanned.referenced.line() as u32
}

/// The layer of each member: 1 for one that uses no other, else one more
/// than the deepest member it uses. `None` when `uses` has a cycle.
pub fn layers(members: &[Spanned<Member>]) -> Option<BTreeMap<String, usize>> {
    let by_name: BTreeMap<&str, &Member> = members
        .iter()
        .map(|m| (m.value.name.as_str(), &m.value))
        .collect();
    let mut layer: BTreeMap<String, usize> = BTreeMap::new();
    // At most one pass per member settles every layer of an acyclic stack.
    for _ in 0..=members.len() {
        let mut changed = false;
        for member in by_name.values() {
            let deepest = member
                .uses
                .iter()
                .filter(|u| by_name.contains_key(u.as_str()))
                .map(|u| layer.get(u).copied())
                .try_fold(0usize, |deepest, l| l.map(|l| deepest.max(l)));
            if let Some(deepest) = deepest
                && layer.get(&member.name) != Some(&(deepest + 1))
            {
                layer.insert(member.name.clone(), deepest + 1);
                changed = true;
            }
        }
        if !changed {
            return (layer.len() == by_name.len()).then_some(layer);
        }
    }
    None
}

/// The checks of a stack that need only its own file.
pub fn problems(bp: &Blueprint) -> Vec<Problem> {
    let mut out = Vec::new();
    let name_line = line_of(&bp.name);
    if !bp.components.is_empty() {
        out.push(problem(
            name_line,
            "a stack has members, not components (put the components in a blueprint of their own and make it a member)",
        ));
    }
    for (key, present) in [
        ("requires", !bp.requires.is_empty()),
        ("parameters", !bp.parameters.is_empty()),
        ("provides", !bp.provides.is_empty()),
        ("env", !bp.env.is_empty()),
        ("timeout", bp.timeout.is_some()),
        ("data_compatibility", bp.data_compatibility.is_some()),
    ] {
        if present {
            out.push(problem(
                name_line,
                format!("a stack has no `{key}` of its own: its members' blueprints carry it"),
            ));
        }
    }
    let names: BTreeSet<&str> = bp.members.iter().map(|m| m.value.name.as_str()).collect();
    let mut seen = BTreeSet::new();
    for spanned in &bp.members {
        let line = line_of(spanned);
        let m = &spanned.value;
        if !is_dns_label(&m.name) {
            out.push(problem(
                line,
                format!(
                    "member name '{}' must be a DNS-1123 label (lower-case letters, digits, '-')",
                    m.name
                ),
            ));
        }
        if m.name.starts_with(|c: char| c.is_ascii_digit()) {
            out.push(problem(
                line,
                format!(
                    "member name '{}' must start with a letter (other members read it as a variable)",
                    m.name
                ),
            ));
        }
        if RESERVED.contains(&m.alias().as_str()) {
            out.push(problem(
                line,
                format!("member name '{}' is a reserved name", m.name),
            ));
        }
        if !seen.insert(m.name.as_str()) {
            out.push(problem(line, format!("member '{}' is named twice", m.name)));
        }
        if m.blueprint == bp.name() {
            out.push(problem(
                line,
                format!("stack '{}' has itself as a member", bp.name()),
            ));
        }
        if let Some(version) = &m.version
            && crate::intent::Version::parse(version).is_err()
        {
            out.push(problem(
                line,
                format!(
                    "version '{version}' of member '{}' is not a plausible image tag",
                    m.name
                ),
            ));
        }
        for used in &m.uses {
            if used == &m.name {
                out.push(problem(line, format!("member '{}' uses itself", m.name)));
            } else if !names.contains(used.as_str()) {
                out.push(problem(
                    line,
                    format!(
                        "member '{}' uses '{used}', which is not a member of this stack (members: {})",
                        m.name,
                        names.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        let mut paths = BTreeSet::new();
        for file in &m.files {
            if !file.path.starts_with('/') {
                out.push(problem(
                    line_of(&file.content),
                    format!(
                        "file '{}' of member '{}' must be an absolute path",
                        file.path, m.name
                    ),
                ));
            }
            if !paths.insert((file.component.clone(), file.path.clone())) {
                out.push(problem(
                    line_of(&file.content),
                    format!(
                        "file '{}' of member '{}' is written twice",
                        file.path, m.name
                    ),
                ));
            }
        }
    }
    if out.is_empty() && layers(&bp.members).is_none() {
        out.push(problem(
            name_line,
            format!(
                "the members of stack '{}' use each other in a cycle",
                bp.name()
            ),
        ));
    }
    if let Some(front) = &bp.front
        && !names.contains(front.as_str())
    {
        out.push(problem(
            name_line,
            format!("front '{front}' is not a member of this stack"),
        ));
    }
    out
}

/// A stack as `catalogue show` describes it.
#[derive(Debug, Clone, Serialize)]
pub struct StackDetail {
    /// The member a domain said for the stack goes to.
    pub front: Option<String>,
    pub layers: Vec<LayerDetail>,
}

/// One layer: the members deployed together, after every earlier layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerDetail {
    pub layer: usize,
    pub members: Vec<MemberDetail>,
}

/// A member, with what the stack wires into it.
#[derive(Debug, Clone, Serialize)]
pub struct MemberDetail {
    pub name: String,
    pub blueprint: String,
    pub version: Option<String>,
    pub uses: Vec<String>,
    /// Variables the stack sets.
    pub env: Vec<String>,
    /// Files the stack writes (paths).
    pub files: Vec<String>,
}

/// The layers of a (valid) stack.
pub fn detail(bp: &Blueprint) -> StackDetail {
    let layer_of = layers(&bp.members).unwrap_or_default();
    let mut by_layer: BTreeMap<usize, Vec<MemberDetail>> = BTreeMap::new();
    for m in bp.members.iter().map(|m| &m.value) {
        by_layer
            .entry(layer_of.get(&m.name).copied().unwrap_or(1))
            .or_default()
            .push(MemberDetail {
                name: m.name.clone(),
                blueprint: m.blueprint.clone(),
                version: m.version.clone(),
                uses: m.uses.clone(),
                env: m.env.keys().cloned().collect(),
                files: m.files.iter().map(|f| f.path.clone()).collect(),
            });
    }
    StackDetail {
        front: bp.front.clone(),
        layers: by_layer
            .into_iter()
            .map(|(layer, members)| LayerDetail { layer, members })
            .collect(),
    }
}

/// What the catalogue knows of a blueprint that a stack's checks need.
pub struct Known<'a> {
    pub blueprint: &'a Blueprint,
    /// Facts it provides.
    pub provides: &'a BTreeSet<String>,
    /// Those of its facts derived from secrets.
    pub secret_facts: &'a BTreeSet<String>,
}

/// The checks of a stack that need the member blueprints: they exist and
/// are not stacks; their versions, parameters and components; and every
/// variable of the stack's wiring, with no secret in a file. `known` looks
/// a blueprint up by name; `suggest` gives the nearest names.
pub fn catalogue_problems<'a>(
    bp: &Blueprint,
    known: &dyn Fn(&str) -> Option<Known<'a>>,
    suggest: &dyn Fn(&str) -> Vec<String>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let stack_secrets: Vec<String> = bp
        .secrets
        .keys()
        .map(|s| format!("stack.secrets.{s}"))
        .collect();
    for spanned in &bp.members {
        let line = line_of(spanned);
        let m = &spanned.value;
        let Some(member) = known(&m.blueprint) else {
            out.push(problem(
                line,
                format!(
                    "member '{}' is blueprint '{}', which is not in the catalogue{}",
                    m.name,
                    m.blueprint,
                    super::did_you_mean(&suggest(&m.blueprint))
                ),
            ));
            continue;
        };
        let mbp = member.blueprint;
        if mbp.is_stack() {
            out.push(problem(
                line,
                format!(
                    "member '{}' is '{}', which is a stack itself: a stack's members are applications (name its members instead)",
                    m.name, m.blueprint
                ),
            ));
            continue;
        }
        if let Some(version) = &m.version
            && !mbp.versions.is_empty()
            && !mbp.versions.contains(version)
        {
            out.push(problem(
                line,
                format!(
                    "version '{version}' of '{}' is not one it lists (versions: {})",
                    m.blueprint,
                    mbp.versions.join(", ")
                ),
            ));
        }
        for (param, value) in &m.with_parameters {
            match mbp.parameters.get(param) {
                Some(spec) => {
                    if let Err(why) = spec.value.check(value) {
                        out.push(problem(
                            line,
                            format!(
                                "parameter '{param}' for member '{}' is invalid: {why}",
                                m.name
                            ),
                        ));
                    }
                }
                None if super::blueprint::BUILTIN_PARAMETERS.contains(&param.as_str()) => {}
                None => out.push(problem(
                    line,
                    format!(
                        "'{}' has no parameter '{param}' (it has: {})",
                        m.blueprint,
                        mbp.parameters
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            }
        }
        let own_aliases: BTreeSet<String> = mbp.requires.iter().map(|r| r.value.alias()).collect();

        // What the stack's wiring of this member may read, and which of it is secret.
        let mut allowed: BTreeSet<String> = BTreeSet::new();
        let mut secret: BTreeSet<String> = stack_secrets.iter().cloned().collect();
        allowed.insert("version".into());
        allowed.insert("stack.name".into());
        allowed.extend(stack_secrets.iter().cloned());
        for other in &bp.members {
            for fact in MEMBER_ADDRESS {
                allowed.insert(format!("stack.members.{}.{fact}", other.value.alias()));
            }
        }
        for fact in super::blueprint::RELEASE_FACTS {
            allowed.insert(format!("release.{fact}"));
        }
        for param in super::blueprint::BUILTIN_PARAMETERS
            .iter()
            .map(|p| p.to_string())
            .chain(mbp.parameters.keys().cloned())
        {
            allowed.insert(format!("params.{param}"));
        }
        for name in mbp.secrets.keys() {
            allowed.insert(format!("secrets.{name}"));
            secret.insert(format!("secrets.{name}"));
        }
        for requirement in &mbp.requires {
            let req = &requirement.value;
            match known(&req.blueprint) {
                Some(dep) => {
                    for fact in dep.provides {
                        allowed.insert(format!("{}.{fact}", req.alias()));
                    }
                    for fact in dep.secret_facts {
                        secret.insert(format!("{}.{fact}", req.alias()));
                    }
                }
                None => {
                    allowed.insert(format!("{}.*", req.alias()));
                }
            }
        }
        for used in &m.uses {
            let alias = alias_of(used);
            if own_aliases.contains(&alias) {
                out.push(problem(
                    line,
                    format!(
                        "member '{}' uses '{used}', but '{}' already reads its own requirement as '{alias}'; rename the member",
                        m.name, m.blueprint
                    ),
                ));
            }
            let Some(used_blueprint) = bp
                .members
                .iter()
                .find(|o| &o.value.name == used)
                .and_then(|o| known(&o.value.blueprint))
            else {
                continue;
            };
            for fact in used_blueprint.provides {
                allowed.insert(format!("{alias}.{fact}"));
            }
            for fact in used_blueprint.secret_facts {
                secret.insert(format!("{alias}.{fact}"));
            }
        }

        let check = |what: &str, text: &Spanned<String>, files: bool, out: &mut Vec<Problem>| {
            let line = line_of(text);
            match template::referenced_variables(&text.value) {
                Ok(vars) => {
                    for var in vars {
                        let wildcard = var.split('.').next().map(|h| format!("{h}.*"));
                        let known = allowed.contains(&var)
                            || wildcard.is_some_and(|w| allowed.contains(&w) && var.contains('.'));
                        if !known {
                            out.push(problem(
                                line,
                                format!(
                                    "{what} of member '{}' uses undefined variable '{var}' (it may read {})",
                                    m.name,
                                    readable(&allowed)
                                ),
                            ));
                        } else if files && (secret.contains(&var) || var == "secrets") {
                            out.push(problem(
                                line,
                                format!(
                                    "{what} of member '{}' reads the secret '{var}': files are plain text (a ConfigMap, a Compose config); hand the value over in `env` and let the file refer to the variable",
                                    m.name
                                ),
                            ));
                        }
                    }
                }
                Err(err) => out.push(problem(
                    line,
                    format!(
                        "{what} of member '{}' is not a valid template: {}",
                        m.name,
                        short_error(&err)
                    ),
                )),
            }
        };
        for (key, text) in &m.env {
            check(&format!("env {key}"), text, false, &mut out);
        }
        for file in &m.files {
            if let Some(component) = &file.component
                && !mbp.components.iter().any(|c| &c.value.name == component)
            {
                out.push(problem(
                    line_of(&file.content),
                    format!(
                        "file '{}' of member '{}' goes to component '{component}', which '{}' does not have (components: {})",
                        file.path,
                        m.name,
                        m.blueprint,
                        mbp.components
                            .iter()
                            .map(|c| c.value.name.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            check(
                &format!("file {}", file.path),
                &file.content,
                true,
                &mut out,
            );
        }
    }
    if let Some(front) = &bp.front
        && let Some(member) = bp.members.iter().find(|m| &m.value.name == front)
        && let Some(known) = known(&member.value.blueprint)
        && !known
            .blueprint
            .components
            .iter()
            .any(|c| c.value.expose.is_some())
    {
        out.push(problem(
            line_of(member),
            format!(
                "front '{front}' is '{}', which exposes no port for people to reach",
                member.value.blueprint
            ),
        ));
    }
    out
}

/// The variables a template may read, for an error message (families
/// shortened: `params.*`).
fn readable(allowed: &BTreeSet<String>) -> String {
    let mut families: BTreeSet<String> = BTreeSet::new();
    for var in allowed {
        match var.rsplit_once('.') {
            Some((head, _)) if head.contains('.') || head == "params" || head == "release" => {
                families.insert(format!("{head}.*"));
            }
            _ => {
                families.insert(var.clone());
            }
        }
    }
    families.into_iter().collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(text: &str) -> Vec<Spanned<Member>> {
        serde_saphyr::from_str(text).unwrap()
    }

    #[test]
    fn layers_follow_uses_and_cycles_have_none() {
        let m = members(
            "- {name: a, blueprint: x}\n- {name: b, blueprint: x, uses: [a]}\n- {name: c, blueprint: x, uses: [a, b]}\n- {name: d, blueprint: x}\n",
        );
        let layers = layers(&m).unwrap();
        assert_eq!(
            layers.into_iter().collect::<Vec<_>>(),
            [
                ("a".to_string(), 1),
                ("b".to_string(), 2),
                ("c".to_string(), 3),
                ("d".to_string(), 1)
            ]
        );
        let cycle =
            members("- {name: a, blueprint: x, uses: [b]}\n- {name: b, blueprint: x, uses: [a]}\n");
        assert!(super::layers(&cycle).is_none());
    }
}
