//! The blueprint file format and the checks that need only one file.
//!
//! A blueprint describes what an application needs (images, ports, health,
//! volumes, secrets, dependencies, wiring), never the manifests themselves.
//! `name`, `description`, `category`, `requires: [{blueprint}]` and
//! `components: [{name, image, ports: [{name, port}]}]` are the fixed keys
//! people write; everything else is optional. Unknown keys are errors.
//!
//! Templates (`{{ db.host }}`) are minijinja with strict undefined variables.
//! They may read: `release.{name,namespace,host,url,domain,tls}`, `version`,
//! `params.<declared or built-in>`, `secrets.<declared>` and
//! `<alias>.<fact>` for each requirement (checked against the dependency's
//! `provides` by the catalogue, which sees every file).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

pub use super::health::{Check, ExecCheck, Health, HttpCheck, TcpCheck};
pub use super::workload::{Compatibility, DataCompatibility, InitContainer, Resources, Security};
use crate::intent::values::{Storage, is_dns_label};
use crate::template;

/// Parameters every blueprint has without declaring them.
pub const BUILTIN_PARAMETERS: &[&str] = &["replicas", "storage", "domain", "tls", "ingress"];
/// The facts about a release that templates can read as `release.*`.
pub const RELEASE_FACTS: &[&str] = &["name", "namespace", "host", "url", "domain", "tls"];
/// Default size of a volume when neither the blueprint nor the person says.
pub const DEFAULT_STORAGE: &str = "1Gi";

/// One blueprint as written in YAML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blueprint {
    pub name: Spanned<String>,
    pub description: String,
    pub category: Spanned<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub aliases: Vec<Spanned<String>>,
    /// Default version (image tag) deployed when the person names none.
    #[serde(default)]
    pub version: Option<Spanned<String>>,
    /// Versions known to work with this blueprint, newest first.
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub requires: Vec<Spanned<Requirement>>,
    #[serde(default)]
    pub parameters: BTreeMap<String, Spanned<ParameterSpec>>,
    #[serde(default)]
    pub secrets: BTreeMap<String, Spanned<SecretSpec>>,
    /// Connection facts handed to the blueprints that require this one.
    #[serde(default)]
    pub provides: BTreeMap<String, Spanned<String>>,
    /// Environment shared by every component.
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    /// Seconds to wait for readiness before the release counts as failed.
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Whether another major version can use this application's data
    /// (`major`: an upgrade across majors is refused at plan time unless a
    /// migration is declared).
    #[serde(default)]
    pub data_compatibility: Option<Spanned<DataCompatibility>>,
    /// The workloads (none for a stack).
    #[serde(default)]
    pub components: Vec<Spanned<Component>>,
    /// A stack: the blueprints it is made of, with its wiring ([`super::stack`]).
    #[serde(default)]
    pub members: Vec<Spanned<super::stack::Member>>,
    /// A stack: the member people reach (a domain said for the stack is its).
    #[serde(default)]
    pub front: Option<String>,
}

/// `requires:` entry: another blueprint this one needs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub blueprint: String,
    /// Name under which its `provides` appear in templates (default: the
    /// blueprint name with `-` turned into `_`).
    #[serde(default, rename = "as")]
    pub alias: Option<String>,
    /// A condition (`version_below('2025.10')`); the requirement applies only when true.
    #[serde(default)]
    pub when: Option<String>,
    /// Parameters for the dependency (`{database: authentik}`).
    #[serde(default, rename = "with")]
    pub with_parameters: BTreeMap<String, serde_json::Value>,
    /// The dependency's version, when this application supports only some
    /// (Nextcloud 32 and PostgreSQL 17); default: the dependency's default.
    #[serde(default)]
    pub version: Option<String>,
}

impl Requirement {
    pub fn alias(&self) -> String {
        self.alias
            .clone()
            .unwrap_or_else(|| self.blueprint.replace('-', "_"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParameterType {
    String,
    Integer,
    Boolean,
    Quantity,
    Enum,
}

/// `parameters:` entry: a typed input with a default.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterSpec {
    #[serde(rename = "type")]
    pub kind: ParameterType,
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub minimum: Option<i64>,
    #[serde(default)]
    pub maximum: Option<i64>,
    #[serde(default)]
    pub values: Vec<String>,
}

impl ParameterSpec {
    /// Checks a value against the type; the error says what was expected.
    pub fn check(&self, value: &serde_json::Value) -> Result<(), String> {
        use serde_json::Value as J;
        match (self.kind, value) {
            (ParameterType::String, J::String(_)) => Ok(()),
            (ParameterType::Boolean, J::Bool(_)) => Ok(()),
            (ParameterType::Integer, J::Number(n)) if n.is_i64() => {
                let n = n.as_i64().unwrap_or_default();
                if self.minimum.is_some_and(|min| n < min)
                    || self.maximum.is_some_and(|max| n > max)
                {
                    Err(format!(
                        "{n} is outside {}..={}",
                        self.minimum.map_or("".into(), |m| m.to_string()),
                        self.maximum.map_or("".into(), |m| m.to_string())
                    ))
                } else {
                    Ok(())
                }
            }
            (ParameterType::Quantity, J::String(s)) => {
                Storage::parse(s).map(|_| ()).map_err(|e| e.to_string())
            }
            (ParameterType::Enum, J::String(s)) if self.values.contains(s) => Ok(()),
            (ParameterType::Enum, other) => {
                Err(format!("{other} is not one of {}", self.values.join(", ")))
            }
            (kind, other) => Err(format!("{other} is not a {kind:?}").to_lowercase()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Charset {
    #[default]
    Alphanumeric,
    Hex,
}

/// `secrets:` entry: a value generated once per release.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    #[serde(default = "default_secret_length")]
    pub length: usize,
    #[serde(default)]
    pub charset: Charset,
}

fn default_secret_length() -> usize {
    32
}

/// One workload.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub name: String,
    /// Image without tag (`postgres`), or with a fixed one (`busybox:1.36`).
    pub image: String,
    /// Tag template, default `{{ version }}`.
    #[serde(default)]
    pub tag: Option<Spanned<String>>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub ports: Vec<Port>,
    /// Name of the port that gets the Ingress.
    #[serde(default)]
    pub expose: Option<String>,
    /// `false` for components that cannot run more than one replica.
    #[serde(default = "yes")]
    pub scalable: bool,
    #[serde(default)]
    pub health: Option<Health>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub resources: Option<Resources>,
    /// Who it runs as and what it may do (see [`Security`]).
    #[serde(default)]
    pub security: Option<Security>,
    /// Size of `/dev/shm` (`512Mi`), when the default 64 MB is too small.
    #[serde(default)]
    pub shm: Option<String>,
    /// Containers that run to completion, in order, before it starts.
    #[serde(default)]
    pub init: Vec<InitContainer>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub name: String,
    pub port: u16,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    pub name: String,
    pub path: Spanned<String>,
    /// Size template, default `{{ params.storage }}`.
    #[serde(default)]
    pub size: Option<Spanned<String>>,
}

/// One thing wrong in a blueprint file, with its line (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: u32,
    pub message: String,
}

pub(crate) fn problem(line: u32, message: impl Into<String>) -> Problem {
    Problem {
        line,
        message: message.into(),
    }
}

fn line_of<T>(spanned: &Spanned<T>) -> u32 {
    spanned.referenced.line() as u32
}

impl Blueprint {
    pub fn name(&self) -> &str {
        &self.name.value
    }

    /// True for a stack of other blueprints (`members`, no components).
    pub fn is_stack(&self) -> bool {
        !self.members.is_empty()
    }

    pub fn default_version(&self) -> &str {
        self.version.as_ref().map_or("latest", |v| v.value.as_str())
    }

    /// The default of every parameter this blueprint has (declared and built-in).
    pub fn default_parameters(&self) -> BTreeMap<String, serde_json::Value> {
        let mut params: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        params.insert("replicas".into(), 1.into());
        params.insert("storage".into(), DEFAULT_STORAGE.into());
        params.insert("domain".into(), "".into());
        params.insert("tls".into(), false.into());
        params.insert("ingress".into(), false.into());
        for (name, spec) in &self.parameters {
            if let Some(default) = &spec.value.default {
                params.insert(name.clone(), default.clone());
            }
        }
        params
    }

    /// Names of components that cannot be scaled beyond one replica.
    pub fn single_instance_components(&self) -> Vec<&str> {
        self.components
            .iter()
            .filter(|c| !c.value.scalable)
            .map(|c| c.value.name.as_str())
            .collect()
    }

    /// Secrets' names that `provides` hands out, so dependents treat them as secret too.
    pub fn secret_facts(&self) -> BTreeSet<String> {
        self.provides
            .iter()
            .filter(|(_, template)| {
                template::referenced_variables(&template.value)
                    .map(|vars| {
                        vars.iter()
                            .any(|v| v.starts_with("secrets.") || v == "secrets")
                    })
                    .unwrap_or(false)
            })
            .map(|(fact, _)| fact.clone())
            .collect()
    }

    /// Every check that needs only this file. `dependency_facts` gives, for each
    /// alias, the facts its blueprint provides when the catalogue knows it.
    pub fn problems(&self, dependency_facts: &BTreeMap<String, BTreeSet<String>>) -> Vec<Problem> {
        let mut out = Vec::new();
        let name_line = line_of(&self.name);
        if !is_dns_label(self.name()) {
            out.push(problem(
                name_line,
                format!(
                    "name '{}' must be a DNS-1123 label (lower-case letters, digits, '-')",
                    self.name()
                ),
            ));
        }
        if self.description.trim().is_empty() {
            out.push(problem(name_line, "description is empty"));
        }
        if !is_dns_label(&self.category.value) {
            out.push(problem(
                line_of(&self.category),
                format!(
                    "category '{}' must be one lower-case word",
                    self.category.value
                ),
            ));
        }
        for alias in &self.aliases {
            if !is_dns_label(&alias.value) {
                out.push(problem(
                    line_of(alias),
                    format!(
                        "alias '{}' must be lower-case letters, digits and '-'",
                        alias.value
                    ),
                ));
            }
        }
        if let Some(version) = &self.version
            && crate::intent::Version::parse(&version.value).is_err()
        {
            out.push(problem(
                line_of(version),
                format!("version '{}' is not a plausible image tag", version.value),
            ));
        }
        if self.is_stack() {
            out.extend(super::stack::problems(self));
        } else if self.components.is_empty() {
            out.push(problem(
                name_line,
                "a blueprint needs at least one component (or `members`, for a stack)",
            ));
        }
        if let Some(data) = &self.data_compatibility
            && data.value.across() == Compatibility::Major
            && super::workload::major_version(self.default_version()).is_none()
        {
            out.push(problem(
                line_of(data),
                format!(
                    "data_compatibility is major, but the default version '{}' has no major number to compare",
                    self.default_version()
                ),
            ));
        }

        // What templates may read.
        let mut allowed: BTreeSet<String> = BTreeSet::new();
        allowed.insert("version".into());
        for fact in RELEASE_FACTS {
            allowed.insert(format!("release.{fact}"));
        }
        for param in BUILTIN_PARAMETERS
            .iter()
            .map(|p| p.to_string())
            .chain(self.parameters.keys().cloned())
        {
            allowed.insert(format!("params.{param}"));
        }
        for secret in self.secrets.keys() {
            allowed.insert(format!("secrets.{secret}"));
        }
        let mut aliases = BTreeSet::new();
        for requirement in &self.requires {
            let line = line_of(requirement);
            let req = &requirement.value;
            let alias = req.alias();
            if !alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || alias.starts_with(|c: char| c.is_ascii_digit())
            {
                out.push(problem(
                    line,
                    format!("requirement alias '{alias}' must be letters, digits and '_'"),
                ));
            }
            if ["release", "version", "params", "secrets"].contains(&alias.as_str()) {
                out.push(problem(
                    line,
                    format!("requirement alias '{alias}' is a reserved name"),
                ));
            }
            if !aliases.insert(alias.clone()) {
                out.push(problem(
                    line,
                    format!("requirement alias '{alias}' is used twice"),
                ));
            }
            if let Some(version) = &req.version
                && crate::intent::Version::parse(version).is_err()
            {
                out.push(problem(
                    line,
                    format!(
                        "version '{version}' for '{}' is not a plausible image tag",
                        req.blueprint
                    ),
                ));
            }
            if req.blueprint == self.name() {
                out.push(problem(
                    line,
                    format!("blueprint '{}' requires itself", self.name()),
                ));
            }
            match dependency_facts.get(&alias) {
                Some(facts) => {
                    for fact in facts {
                        allowed.insert(format!("{alias}.{fact}"));
                    }
                }
                None => {
                    allowed.insert(format!("{alias}.*"));
                }
            }
            if let Some(when) = &req.when {
                match template::condition_variables(when) {
                    Ok(vars) => {
                        for var in vars {
                            if var != "version" && !var.starts_with("params.") {
                                out.push(problem(line, format!("condition '{when}' reads '{var}'; conditions may read only `version` and `params`")));
                            } else if !allowed.contains(&var) {
                                out.push(problem(
                                    line,
                                    format!("condition '{when}' reads undefined '{var}'"),
                                ));
                            }
                        }
                    }
                    Err(err) => out.push(problem(
                        line,
                        format!(
                            "condition '{when}' is not a valid expression: {}",
                            short_error(&err)
                        ),
                    )),
                }
            }
        }

        for (name, spec) in &self.parameters {
            let line = line_of(spec);
            let spec = &spec.value;
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                out.push(problem(
                    line,
                    format!("parameter name '{name}' must be letters, digits and '_'"),
                ));
            }
            if spec.kind == ParameterType::Enum && spec.values.is_empty() {
                out.push(problem(
                    line,
                    format!("enum parameter '{name}' lists no `values`"),
                ));
            }
            match &spec.default {
                Some(default) => {
                    if let Err(why) = spec.check(default) {
                        out.push(problem(
                            line,
                            format!("default of parameter '{name}' is invalid: {why}"),
                        ));
                    }
                }
                None => out.push(problem(line, format!("parameter '{name}' needs a default"))),
            }
        }
        for (name, spec) in &self.secrets {
            if !(8..=128).contains(&spec.value.length) {
                out.push(problem(
                    line_of(spec),
                    format!(
                        "secret '{name}' length {} is outside 8..=128",
                        spec.value.length
                    ),
                ));
            }
        }

        let check_template = |what: &str, template: &Spanned<String>, out: &mut Vec<Problem>| {
            let line = line_of(template);
            match template::referenced_variables(&template.value) {
                Ok(vars) => {
                    for var in vars {
                        let wildcard = var.split('.').next().map(|head| format!("{head}.*"));
                        if !allowed.contains(&var)
                            && !wildcard.is_some_and(|w| allowed.contains(&w) && var.contains('.'))
                        {
                            out.push(problem(
                                line,
                                format!(
                                    "{what} uses undefined variable '{var}'{}",
                                    hint(&var, &allowed)
                                ),
                            ));
                        }
                    }
                }
                Err(err) => out.push(problem(
                    line,
                    format!("{what} is not a valid template: {}", short_error(&err)),
                )),
            }
        };
        for (key, template) in &self.provides {
            check_template(&format!("provides.{key}"), template, &mut out);
        }
        for (key, template) in &self.env {
            check_env_name(key, line_of(template), &mut out);
            check_template(&format!("env {key}"), template, &mut out);
        }

        let mut component_names = BTreeSet::new();
        for component in &self.components {
            let line = line_of(component);
            let c = &component.value;
            if !is_dns_label(&c.name) {
                out.push(problem(
                    line,
                    format!("component name '{}' must be a DNS-1123 label", c.name),
                ));
            }
            if !component_names.insert(c.name.clone()) {
                out.push(problem(
                    line,
                    format!("component '{}' is defined twice", c.name),
                ));
            }
            if c.image.trim().is_empty() || c.image.contains(char::is_whitespace) {
                out.push(problem(
                    line,
                    format!("component '{}' has an invalid image '{}'", c.name, c.image),
                ));
            }
            let mut port_names = BTreeSet::new();
            for port in &c.ports {
                if port.port == 0 {
                    out.push(problem(
                        line,
                        format!("port '{}' of component '{}' is 0", port.name, c.name),
                    ));
                }
                if port.name.len() > 15 || !is_dns_label(&port.name) {
                    out.push(problem(
                        line,
                        format!(
                            "port name '{}' must be a DNS-1123 label of at most 15 characters",
                            port.name
                        ),
                    ));
                }
                if !port_names.insert(port.name.clone()) {
                    out.push(problem(
                        line,
                        format!(
                            "port '{}' is defined twice in component '{}'",
                            port.name, c.name
                        ),
                    ));
                }
            }
            if let Some(expose) = &c.expose
                && !port_names.contains(expose)
            {
                out.push(problem(line, format!("component '{}' exposes port '{expose}', which it does not define (ports: {})", c.name, port_names.iter().cloned().collect::<Vec<_>>().join(", "))));
            }
            if let Some(health) = &c.health {
                if health.readiness().kinds() != 1 {
                    out.push(problem(
                        line,
                        format!(
                            "health of component '{}' needs exactly one of http, tcp or exec",
                            c.name
                        ),
                    ));
                }
                if health.liveness.as_ref().is_some_and(|l| l.kinds() != 1) {
                    out.push(problem(
                        line,
                        format!(
                            "liveness of component '{}' needs exactly one of http, tcp or exec",
                            c.name
                        ),
                    ));
                }
                if health.startup.as_ref().is_some_and(|l| l.kinds() != 1) {
                    out.push(problem(
                        line,
                        format!(
                            "startup check of component '{}' needs exactly one of http, tcp or exec",
                            c.name
                        ),
                    ));
                }
                if health.startup.is_some() && health.start_period.is_none() {
                    out.push(problem(
                        line,
                        format!(
                            "startup check of component '{}' needs start_period (the seconds it may take)",
                            c.name
                        ),
                    ));
                }
                for check in [health.readiness(), health.liveness(), health.startup()] {
                    if check.exec.as_ref().is_some_and(|e| e.command.is_empty()) {
                        out.push(problem(
                            line,
                            format!(
                                "exec health check of component '{}' has an empty command",
                                c.name
                            ),
                        ));
                    }
                    if check
                        .http
                        .as_ref()
                        .is_some_and(|h| !h.path.starts_with('/'))
                    {
                        out.push(problem(
                            line,
                            format!(
                                "http health check path of component '{}' must start with '/'",
                                c.name
                            ),
                        ));
                    }
                }
            }
            if let Some(tag) = &c.tag {
                check_template(&format!("tag of component '{}'", c.name), tag, &mut out);
            }
            let mut volume_names = BTreeSet::new();
            for volume in &c.volumes {
                if !is_dns_label(&volume.name) {
                    out.push(problem(
                        line_of(&volume.path),
                        format!("volume name '{}' must be a DNS-1123 label", volume.name),
                    ));
                }
                if !volume_names.insert(volume.name.clone()) {
                    out.push(problem(
                        line_of(&volume.path),
                        format!(
                            "volume '{}' is defined twice in component '{}'",
                            volume.name, c.name
                        ),
                    ));
                }
                check_template(
                    &format!("path of volume '{}'", volume.name),
                    &volume.path,
                    &mut out,
                );
                // Literal values are checked now; templated ones when rendered.
                let literal = |text: &str| !text.contains("{{") && !text.contains("{%");
                if literal(&volume.path.value) && !volume.path.value.starts_with('/') {
                    out.push(problem(
                        line_of(&volume.path),
                        format!(
                            "path '{}' of volume '{}' must be absolute (start with /)",
                            volume.path.value, volume.name
                        ),
                    ));
                }
                if let Some(size) = &volume.size {
                    check_template(&format!("size of volume '{}'", volume.name), size, &mut out);
                    if literal(&size.value) && crate::intent::Storage::parse(&size.value).is_err() {
                        out.push(problem(
                            line_of(size),
                            format!(
                                "size '{}' of volume '{}' is not a Kubernetes quantity (e.g. 5Gi, 500Mi)",
                                size.value, volume.name
                            ),
                        ));
                    }
                }
            }
            let volume_paths: Vec<String> =
                c.volumes.iter().map(|v| v.path.value.clone()).collect();
            out.extend(super::workload::problems(
                &c.name,
                line,
                c.security.as_ref(),
                c.shm.as_deref(),
                c.resources.as_ref(),
                &c.init,
                &volume_paths,
            ));
            if c.security.as_ref().is_some_and(|s| s.fs_group.is_some()) && c.volumes.is_empty() {
                out.push(problem(
                    line,
                    format!(
                        "component '{}': security.fs_group owns volumes, but it has none",
                        c.name
                    ),
                ));
            }
            for (key, template) in &c.env {
                check_env_name(key, line_of(template), &mut out);
                check_template(
                    &format!("env {key} of component '{}'", c.name),
                    template,
                    &mut out,
                );
            }
        }
        out
    }
}

fn check_env_name(key: &str, line: u32, out: &mut Vec<Problem>) {
    let valid = !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if !valid {
        out.push(problem(
            line,
            format!("environment variable name '{key}' is invalid"),
        ));
    }
}

fn hint(var: &str, allowed: &BTreeSet<String>) -> String {
    let best = allowed
        .iter()
        .filter(|a| !a.ends_with(".*"))
        .map(|a| (strsim::jaro_winkler(var, a), a))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, name)) => format!(" (did you mean '{name}'?)"),
        None => String::new(),
    }
}

/// The first line of a minijinja error, without its long debug info.
pub fn short_error(err: &minijinja::Error) -> String {
    let mut text = err.kind().to_string();
    if let Some(detail) = err.detail() {
        text.push_str(": ");
        text.push_str(detail);
    }
    text
}
