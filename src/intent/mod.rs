//! The intent: what a person asked for, in the fixed JSON shape of the
//! contract in DESIGN.md ("Intent (contract)").
//!
//! [`parse`] turns a sentence into an [`Intent`] offline (the rule parser, in
//! stages); [`llm`] is the fallback for sentences the rules do not
//! understand. Every value inside an intent is one of the validated newtypes
//! from [`values`], so an intent that exists is an intent that can be
//! planned.

pub mod llm;
pub mod parse;
pub mod values;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use parse::{ParseFailure, RuleParser};
pub use values::{Domain, Namespace, Replicas, Storage, ValueError, Version};

/// What the person wants done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Install,
    Upgrade,
    Scale,
    Remove,
    Rollback,
    Status,
    /// A canary upgrade waiting between stages goes on ("promote grafana").
    Promote,
    /// An upgrade in flight stops and rolls back ("abort the grafana canary").
    Abort,
    /// A canary upgrade waits after its current stage for a promote
    /// ("pause the grafana canary").
    Pause,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Promote => "promote",
            Action::Abort => "abort",
            Action::Pause => "pause",
            Action::Install => "install",
            Action::Upgrade => "upgrade",
            Action::Scale => "scale",
            Action::Remove => "remove",
            Action::Rollback => "rollback",
            Action::Status => "status",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the manifests are meant to run.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Kubernetes,
    Compose,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Kubernetes => "kubernetes",
            Platform::Compose => "compose",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who produced the intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Rules,
    Llm,
}

/// The parameters a person can give in a sentence. Anything not said stays
/// `None` and is left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Domain>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<Replicas>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// Remove: also remove what it depends on ("and its dependencies").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cascade: Option<bool>,
    /// Remove: also delete persistent volumes ("and its data").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_data: Option<bool>,
    /// Rollback: the revision to go back to ("to revision 2").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    /// Scale: replicas left to a HorizontalPodAutoscaler ("autoscale grafana
    /// between 2 and 10 at 70% cpu").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<Autoscale>,
    /// Scale: autoscaling ends and the count is fixed again ("turn off
    /// autoscaling for grafana and keep 3"); without a count, the count
    /// running now is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscale_off: Option<bool>,
}

/// Replicas between `min` and `max`, kept near `cpu_percent` of the requested CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Autoscale {
    pub min: u32,
    pub max: u32,
    /// The average CPU use to aim for, in percent of the request (the
    /// executor's default when not said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<u32>,
}

/// A canary's stages when none are said, in percent.
pub const DEFAULT_CANARY_STEPS: [u32; 4] = [5, 25, 50, 100];

/// How an upgrade reaches the new version (DESIGN.md: `"strategy"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Strategy {
    /// The new version beside the stable one in stages (percentages ending
    /// at 100), each validated before the next; a failure rolls back.
    Canary {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        steps: Option<Vec<u32>>,
    },
    /// The new version beside the old, validated, then the Service switched;
    /// the old one stays for an instant switch back until it is retired.
    BlueGreen {},
    /// Pods replaced a batch at a time.
    Rolling {
        /// Pods replaced at a time ("two at a time"; max surge).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        batch: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_unavailable: Option<u32>,
    },
    /// All old pods stopped before the new ones start.
    Recreate {},
}

impl Autoscale {
    /// 1 ≤ min ≤ max ≤ [`Replicas::MAX`], a CPU target of 1–100 % when given;
    /// the error names the offending value.
    pub fn check(&self) -> Result<(), String> {
        let max = Replicas::MAX;
        if !(1..=max).contains(&self.min) || !(1..=max).contains(&self.max) {
            return Err(format!(
                "autoscaling bounds {}–{} must be between 1 and {max} replicas",
                self.min, self.max
            ));
        }
        if self.min > self.max {
            return Err(format!(
                "the minimum ({}) is above the maximum ({}) of replicas",
                self.min, self.max
            ));
        }
        match self.cpu_percent {
            Some(p) if !(1..=100).contains(&p) => Err(format!(
                "invalid CPU target {p} %: it must be between 1 % and 100 %"
            )),
            _ => Ok(()),
        }
    }
}

impl Strategy {
    /// Canary steps from 1 to 100 %, each above the one before and ending at
    /// 100; a rolling batch and unavailable count of 1–[`Replicas::MAX`] pods.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Strategy::Canary { steps: Some(steps) } => {
                let ok = steps.last() == Some(&100)
                    && steps.windows(2).all(|w| w[0] < w[1])
                    && steps.iter().all(|p| (1..=100).contains(p));
                if ok {
                    Ok(())
                } else {
                    Err(format!(
                        "invalid canary steps {steps:?}: percentages from 1 to 100, each above the one before, ending at 100"
                    ))
                }
            }
            Strategy::Rolling {
                batch,
                max_unavailable,
            } => {
                for (what, n) in [("batch", batch), ("max unavailable", max_unavailable)] {
                    if let Some(n) = n
                        && !(1..=Replicas::MAX).contains(n)
                    {
                        return Err(format!(
                            "invalid rolling {what} {n}: it must be a whole number of pods from 1 to {}",
                            Replicas::MAX
                        ));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Canary { .. } => "canary",
            Strategy::BlueGreen {} => "blue-green",
            Strategy::Rolling { .. } => "rolling",
            Strategy::Recreate {} => "recreate",
        }
    }
}

/// One parsed request (the contract's JSON object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub action: Action,
    /// Canonical blueprint names in the order given; empty only for `status`.
    pub applications: Vec<String>,
    pub platform: Option<Platform>,
    pub namespace: Option<Namespace>,
    pub parameters: Parameters,
    pub source: Source,
    /// The language model that produced it (`source: llm` only; left out otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Upgrades: how the new version is rolled out (left out: a plain apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// What the sentence said that is not part of the request: context
    /// clauses ("we're moving off nginx") and words nobody could place.
    /// Shown to the person so nothing said goes unmentioned; left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
}

impl Intent {
    /// The delivery side checked whatever produced the intent (rules, the
    /// language model, the API): a strategy only on an upgrade, autoscaling
    /// only on a scale, each with valid settings.
    pub fn check_delivery(&self) -> Result<(), String> {
        if let Some(strategy) = &self.strategy {
            if self.action != Action::Upgrade {
                return Err(format!(
                    "a delivery strategy ({}) is for an upgrade, not a {}",
                    strategy.name(),
                    self.action
                ));
            }
            strategy.check()?;
        }
        if let Some(autoscale) = &self.parameters.autoscale {
            if self.action != Action::Scale {
                return Err(format!("autoscaling is a scale, not a {}", self.action));
            }
            autoscale.check()?;
        }
        if self.parameters.autoscale_off == Some(true) {
            if self.action != Action::Scale {
                return Err(format!(
                    "turning autoscaling off is a scale, not a {}",
                    self.action
                ));
            }
            if self.parameters.autoscale.is_some() {
                return Err("autoscaling both set and turned off: say one".into());
            }
        }
        Ok(())
    }

    /// The intent said back as a command the rule parser reads to this same
    /// intent ("install grafana and prometheus with 3 replicas in namespace
    /// obs"): the choices of a question are such commands.
    pub fn command(&self) -> String {
        let apps = self.applications.join(" and ");
        let p = &self.parameters;
        let mut out = match (self.action, apps.is_empty()) {
            (Action::Status, true) => "status".to_string(),
            (Action::Status, false) => format!("status of {apps}"),
            (Action::Rollback, _) => format!("roll back {apps}"),
            (Action::Abort, _) => format!("abort the {apps} upgrade"),
            (Action::Pause, _) => format!("pause the {apps} upgrade"),
            (action, _) => format!("{action} {apps}"),
        };
        if let Some(v) = &p.version {
            if self.action == Action::Upgrade {
                out.push_str(&format!(" to version {v}"));
            } else {
                out.push_str(&format!(" version {v}"));
            }
        }
        if p.autoscale_off == Some(true) {
            out.push_str(" without autoscaling");
        }
        if let Some(a) = p.autoscale {
            out.push_str(&format!(" automatically between {} and {}", a.min, a.max));
            if let Some(cpu) = a.cpu_percent {
                out.push_str(&format!(" at {cpu}% cpu"));
            }
        }
        match &self.strategy {
            Some(Strategy::Canary { steps }) => {
                out.push_str(" as a canary");
                if let Some(steps) = steps {
                    let steps: Vec<String> = steps.iter().map(u32::to_string).collect();
                    out.push_str(&format!(" in steps of {}", steps.join(" ")));
                }
            }
            Some(Strategy::BlueGreen {}) => out.push_str(" with blue-green"),
            Some(Strategy::Rolling {
                batch,
                max_unavailable,
            }) => {
                out.push_str(" rolling");
                if let Some(b) = batch {
                    out.push_str(&format!(" {b} at a time"));
                }
                if let Some(u) = max_unavailable {
                    out.push_str(&format!(" max unavailable {u}"));
                }
            }
            Some(Strategy::Recreate {}) => out.push_str(" with recreate"),
            None => {}
        }
        if let Some(r) = p.replicas {
            if self.action == Action::Scale {
                out.push_str(&format!(" to {r} replicas"));
            } else {
                out.push_str(&format!(" with {r} replicas"));
            }
        }
        if let Some(s) = &p.storage {
            out.push_str(&format!(" with {s} storage"));
        }
        match p.tls {
            Some(true) => out.push_str(" with TLS"),
            Some(false) => out.push_str(" without TLS"),
            None => {}
        }
        match p.ingress {
            Some(true) => out.push_str(" with ingress"),
            Some(false) => out.push_str(" without ingress"),
            None => {}
        }
        if let Some(d) = &p.domain {
            out.push_str(&format!(" on domain {d}"));
        }
        if let Some(r) = p.revision {
            out.push_str(&format!(" to revision {r}"));
        }
        if p.cascade == Some(true) {
            out.push_str(" and its dependencies");
        }
        if p.delete_data == Some(true) {
            out.push_str(" and its data");
        }
        if let Some(ns) = &self.namespace {
            out.push_str(&format!(" in namespace {ns}"));
        }
        match self.platform {
            Some(Platform::Kubernetes) => out.push_str(" on kubernetes"),
            Some(Platform::Compose) => out.push_str(" on docker compose"),
            None => {}
        }
        out
    }

    /// A one-line summary for people: "install authentik (tls) in namespace auth".
    pub fn summary(&self) -> String {
        let mut out = self.action.to_string();
        if self.applications.is_empty() {
            out.push_str(" (all applications)");
        } else {
            out.push(' ');
            out.push_str(&self.applications.join(", "));
        }
        let p = &self.parameters;
        let mut said = Vec::new();
        if let Some(v) = &p.version {
            said.push(format!("version {v}"));
        }
        if let Some(r) = p.replicas {
            said.push(format!("{r} replicas"));
        }
        if p.tls == Some(true) {
            said.push("TLS".into());
        }
        if p.ingress == Some(true) {
            said.push("ingress".into());
        }
        if let Some(d) = &p.domain {
            said.push(format!("domain {d}"));
        }
        if let Some(s) = &p.storage {
            said.push(format!("storage {s}"));
        }
        if p.cascade == Some(true) {
            said.push("its dependencies".into());
        }
        if p.delete_data == Some(true) {
            said.push("its data".into());
        }
        if let Some(r) = p.revision {
            said.push(format!("revision {r}"));
        }
        if !said.is_empty() {
            out.push_str(&format!(" with {}", said.join(", ")));
        }
        match &self.strategy {
            Some(Strategy::Canary { .. }) => out.push_str(" as a canary"),
            Some(Strategy::BlueGreen {}) => out.push_str(" with blue-green"),
            Some(Strategy::Rolling { .. }) => out.push_str(", rolling"),
            Some(Strategy::Recreate {}) => out.push_str(" with recreate"),
            None => {}
        }
        if let Some(ns) = &self.namespace {
            out.push_str(&format!(" in namespace {ns}"));
        }
        if let Some(platform) = self.platform {
            out.push_str(&format!(" on {platform}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_matches_the_contract() {
        let intent = Intent {
            action: Action::Install,
            applications: vec!["authentik".into()],
            platform: None,
            namespace: Some(Namespace::parse("auth").unwrap()),
            parameters: Parameters {
                tls: Some(true),
                ..Default::default()
            },
            source: Source::Rules,
            model: None,
            strategy: None,
            ignored: Vec::new(),
        };
        let json = serde_json::to_string(&intent).unwrap();
        assert_eq!(
            json,
            r#"{"action":"install","applications":["authentik"],"platform":null,"namespace":"auth","parameters":{"tls":true},"source":"rules"}"#
        );
        let back: Intent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, intent);
    }

    #[test]
    fn invalid_values_are_refused_when_deserializing() {
        let json = r#"{"action":"install","applications":["x"],"platform":null,"namespace":"Bad_NS","parameters":{},"source":"llm"}"#;
        let err = serde_json::from_str::<Intent>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Bad_NS"), "{err}");
    }
}
