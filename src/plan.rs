//! The plan: what deckhand will do for an intent, before it does anything.
//!
//! [`Planner::plan`] is the one path from a sentence (or an already parsed
//! intent) to a [`Plan`]: parse → resolve → render, for every front end. A
//! plan lists the releases in wave order, what each creates on the chosen
//! platform, how each connection is wired, which secrets are generated (by
//! name only) and anything the person should know; it can be printed for a
//! person, serialized as JSON, or written out as manifests.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value as Json;

use crate::catalogue::Catalogue;
use crate::intent::{Action, Intent, ParseFailure, Platform, RuleParser};
use crate::render::{self, RenderOptions, RenderedRelease, SecretSource, kubernetes};
use crate::resolve::{self, Request};

mod files;
mod stacks;
mod text;

pub use files::{ManifestFile, write_file};

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Parse(#[from] ParseFailure),
    #[error("{0}")]
    Resolve(#[from] resolve::ResolveError),
    #[error("{0}")]
    Render(#[from] render::RenderError),
    #[error(
        "{action} needs the record of installed releases, which planning alone does not have: run it with `deckhand apply` or through `deckhand serve`"
    )]
    NeedsHistory { action: Action },
    #[error(
        "{application} is not installed in namespace {namespace} on {platform}, so there is nothing to {action}; install it first"
    )]
    NotInstalled {
        application: String,
        namespace: String,
        platform: Platform,
        action: Action,
    },
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    DataFormat(Box<crate::upgrade_guard::DataFormatRefusal>),
    #[error("cannot write manifests to '{path}': {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl PlanError {
    /// Suggestions to show with the error, when there are any.
    pub fn suggestions(&self) -> Vec<String> {
        if let PlanError::NotInstalled { application, .. } = self {
            return vec![format!("install {application}")];
        }
        match self {
            PlanError::Parse(f) => f.suggestions.clone(),
            PlanError::Resolve(resolve::ResolveError::UnknownApplication {
                suggestions, ..
            })
            | PlanError::Resolve(resolve::ResolveError::MissingDependency {
                suggestions, ..
            }) => suggestions.clone(),
            _ => Vec::new(),
        }
    }
}

/// What a front end may add to or override in a sentence.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub platform: Option<Platform>,
    pub namespace: Option<crate::intent::Namespace>,
    pub domain: Option<crate::intent::Domain>,
    pub replicas: Option<crate::intent::Replicas>,
    pub tls: Option<bool>,
    /// `options.strategy` with a type: wins over the sentence's.
    pub strategy: Option<crate::intent::Strategy>,
}

impl Overrides {
    /// Options win over what the sentence said; a replica count must suit
    /// the action (0 only for a scale).
    pub fn apply(&self, intent: &mut Intent) -> Result<(), crate::intent::ValueError> {
        if let Some(r) = self.replicas
            && intent.action != Action::Scale
        {
            crate::intent::Replicas::for_install(i64::from(r.get()))?;
        }
        if let Some(p) = self.platform {
            intent.platform = Some(p);
        }
        if let Some(ns) = &self.namespace {
            intent.namespace = Some(ns.clone());
        }
        if let Some(d) = &self.domain {
            intent.parameters.domain = Some(d.clone());
        }
        if let Some(r) = self.replicas {
            intent.parameters.replicas = Some(r);
        }
        if let Some(tls) = self.tls {
            intent.parameters.tls = Some(tls);
        }
        if let Some(strategy) = &self.strategy {
            intent.strategy = Some(strategy.clone());
        }
        // A strategy is how an upgrade reaches its new version; nothing
        // else has one.
        if let Some(strategy) = &intent.strategy
            && intent.action != Action::Upgrade
        {
            return Err(crate::intent::ValueError::Strategy(format!(
                "the {} strategy is for an upgrade, and this request is {} {}: drop the strategy, or say e.g. \"upgrade {} to 13.1 as a canary\"",
                strategy.name(),
                if intent.action == Action::Install {
                    "an"
                } else {
                    "a"
                },
                intent.action,
                intent
                    .applications
                    .first()
                    .map_or("grafana", String::as_str)
            )));
        }
        // The same check as the rules and the language model's answers.
        intent
            .check_delivery()
            .map_err(crate::intent::ValueError::Strategy)?;
        Ok(())
    }
}

/// A plan for one intent.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub intent: Intent,
    pub platform: Platform,
    pub namespace: String,
    /// Releases in wave order.
    pub releases: Vec<RenderedRelease>,
    pub waves: Vec<Vec<String>>,
    /// Things the person should know (defaults taken, limits).
    pub notes: Vec<String>,
    #[serde(skip)]
    pub options: RenderOptions,
    /// Releases of this plan that are installed already: their secrets are
    /// the stored ones, not new.
    #[serde(skip)]
    pub installed: BTreeSet<String>,
    /// An upgrade with a strategy: its stages (set by the orchestrator,
    /// which knows the request's settings and what is installed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::rollout::RolloutPlan>,
}

/// Parses, resolves and renders, with one catalogue and one set of options.
pub struct Planner<'a> {
    pub catalogue: &'a Catalogue,
    /// Shared where one is built once for many plans (the service).
    pub parser: std::sync::Arc<RuleParser>,
    pub options: RenderOptions,
    /// Platform when neither the sentence nor the overrides name one.
    pub default_platform: Platform,
    /// What is installed (by release name) in the namespace and platform being
    /// planned: upgrades and scales start from it, and dependencies keep their
    /// recorded version and parameters.
    pub recorded: BTreeMap<String, Recorded>,
}

/// A release's last recorded revision.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub blueprint: String,
    pub version: String,
    pub parameters: BTreeMap<String, Json>,
    pub revision: i64,
}

impl<'a> Planner<'a> {
    pub fn new(catalogue: &'a Catalogue, options: RenderOptions) -> Self {
        Self::with_parser(
            catalogue,
            options,
            std::sync::Arc::new(RuleParser::new(catalogue)),
        )
    }

    /// A planner that uses `parser`, built from `catalogue` once.
    pub fn with_parser(
        catalogue: &'a Catalogue,
        options: RenderOptions,
        parser: std::sync::Arc<RuleParser>,
    ) -> Self {
        Self {
            catalogue,
            recorded: BTreeMap::new(),
            parser,
            options,
            default_platform: Platform::Kubernetes,
        }
    }

    /// From a sentence to a plan.
    pub fn plan(
        &self,
        command: &str,
        overrides: &Overrides,
        secrets: &mut dyn SecretSource,
    ) -> Result<Plan, PlanError> {
        let intent = self.parser.parse(command)?;
        self.plan_parsed(intent, overrides, secrets)
    }

    /// From an intent parsed elsewhere (the rules, or the language model
    /// behind them) to a plan, with the overrides applied and checked.
    pub fn plan_parsed(
        &self,
        mut intent: Intent,
        overrides: &Overrides,
        secrets: &mut dyn SecretSource,
    ) -> Result<Plan, PlanError> {
        overrides
            .apply(&mut intent)
            .map_err(crate::intent::ParseFailure::from)?;
        self.plan_intent(intent, secrets)
    }

    /// From a parsed intent to a plan.
    pub fn plan_intent(
        &self,
        intent: Intent,
        secrets: &mut dyn SecretSource,
    ) -> Result<Plan, PlanError> {
        if matches!(intent.action, Action::Rollback | Action::Status) {
            return Err(PlanError::NeedsHistory {
                action: intent.action,
            });
        }
        let platform = intent.platform.unwrap_or(self.default_platform);
        let namespace = intent
            .namespace
            .as_ref()
            .map_or(self.options.namespace.clone(), |n| n.to_string());
        let mut options = self.options.clone();
        options.namespace = namespace.clone();
        options.publish_host_ports = platform == Platform::Compose;

        let mut parameters: BTreeMap<String, Json> = BTreeMap::new();
        let p = &intent.parameters;
        if let Some(r) = p.replicas {
            parameters.insert("replicas".into(), Json::from(r.get()));
        }
        if let Some(s) = &p.storage {
            parameters.insert("storage".into(), Json::from(s.as_str()));
        }
        if let Some(d) = &p.domain {
            parameters.insert("domain".into(), Json::from(d.as_str()));
        }
        if let Some(tls) = p.tls {
            parameters.insert("tls".into(), Json::from(tls));
        }
        if let Some(ingress) = p.ingress {
            parameters.insert("ingress".into(), Json::from(ingress));
        }
        if let Some(autoscale) = &p.autoscale {
            render::autoscale::refuse_on(platform, &intent).map_err(PlanError::Refused)?;
            parameters.insert("autoscale".into(), render::autoscale::parameter(autoscale));
        }
        let lifecycle = matches!(intent.action, Action::Upgrade | Action::Scale);
        let mut requests: Vec<Request> = Vec::new();
        for app in &intent.applications {
            let said_version = p.version.as_ref().map(|v| v.to_string());
            if !lifecycle {
                requests.push(Request {
                    blueprint: app.clone(),
                    version: said_version,
                    parameters: parameters.clone(),
                });
                continue;
            }
            // Upgrade and scale start from what is installed, under its own name.
            let Some(installed) = self.recorded.get(app) else {
                let as_dependency: Vec<&str> = self
                    .recorded
                    .iter()
                    .filter(|(_, r)| r.blueprint == *app)
                    .map(|(name, _)| name.as_str())
                    .collect();
                // A member of an installed stack moves with its stack.
                if let Some(refusal) =
                    stacks::member_refusal(self, app, &as_dependency, &intent, &namespace, platform)
                {
                    return Err(PlanError::Refused(refusal));
                }
                if !as_dependency.is_empty() {
                    return Err(PlanError::Refused(format!(
                        "{app} is not installed on its own in namespace {namespace} on {platform}; {} is, as a dependency: {} the application that needs it (its dependencies move with it)",
                        as_dependency.join(", "),
                        intent.action
                    )));
                }
                return Err(PlanError::NotInstalled {
                    application: app.clone(),
                    namespace: namespace.clone(),
                    platform,
                    action: intent.action,
                });
            };
            if installed.blueprint != *app {
                return Err(PlanError::Refused(format!(
                    "{app} is a dependency ({} {}); deckhand does not {} a dependency on its own: {} the application that needs it",
                    installed.blueprint, installed.version, intent.action, intent.action
                )));
            }
            let mut merged = installed.parameters.clone();
            render::autoscale::merge(app, &intent, &mut merged).map_err(PlanError::Refused)?;
            merged.extend(parameters.clone());
            let version = match intent.action {
                Action::Scale => said_version.or_else(|| Some(installed.version.clone())),
                _ => said_version,
            };
            requests.push(Request {
                blueprint: installed.blueprint.clone(),
                version,
                parameters: merged,
            });
        }
        let mut graph = resolve::resolve(self.catalogue, &requests)?;
        // Dependencies keep what they were installed with.
        for index in graph.graph.node_indices() {
            let node = &mut graph.graph[index];
            if node.requested {
                continue;
            }
            if let Some(installed) = self
                .recorded
                .get(&node.release)
                .filter(|r| r.blueprint == node.blueprint)
            {
                node.version = installed.version.clone();
                node.parameters = installed.parameters.clone();
            }
        }
        let mut notes = Vec::new();
        // Data written by one major version that another cannot read is
        // refused before anything is rendered, let alone applied.
        for index in graph.graph.node_indices() {
            let node = &graph.graph[index];
            let Some(installed) = self
                .recorded
                .get(&node.release)
                .filter(|r| r.blueprint == node.blueprint)
            else {
                continue;
            };
            if let Some(note) =
                crate::upgrade_guard::check(self.catalogue, node, &installed.version)?
            {
                notes.push(note);
            }
        }
        let releases = render::render_releases(self.catalogue, &graph, &options, secrets)?;
        let waves = graph
            .waves
            .iter()
            .map(|w| w.iter().map(|i| graph.node(*i).release.clone()).collect())
            .collect();

        for release in &releases {
            if let Some(published) = &release.published
                && let Some(holder) = &published.taken_by
            {
                notes.push(format!(
                    "{}: host port {} is taken by {holder}; it is published on 127.0.0.1:{} instead (kept for this release from now on)",
                    release.release, published.container_port, published.host_port
                ));
            }
            if let Some(ingress) = release.ingress.as_ref().filter(|i| i.default_host) {
                notes.push(format!(
                    "no domain given: {} is reached at {}; say \"on domain app.example.org\" or set DECKHAND_BASE_DOMAIN",
                    release.release, ingress.host
                ));
            }
            let asked = intent.parameters.replicas.map_or(1, |r| r.get());
            if release.requested && asked > 1 {
                for c in release.components.iter().filter(|c| !c.scalable) {
                    notes.push(format!("{}: component {} runs as a single instance; only the others get {asked} replicas", release.release, c.name));
                }
            }
            if platform == Platform::Compose && release.ingress.as_ref().is_some_and(|i| i.tls) {
                notes.push(format!(
                    "{}: Compose has no Ingress or cert-manager; TLS for {} must come from a reverse proxy in front of it",
                    release.release,
                    release.ingress.as_ref().map_or("", |i| i.host.as_str())
                ));
            }
        }
        if intent.parameters.ingress == Some(true) && releases.iter().all(|r| r.ingress.is_none()) {
            notes.push(
                "an ingress was asked for, but none of these applications exposes a web port"
                    .into(),
            );
        }
        if intent.action == Action::Remove {
            notes.push("removal goes in reverse order: dependents first; persistent volumes are kept unless asked".into());
        }
        let installed = releases
            .iter()
            .filter(|r| self.recorded.contains_key(&r.release))
            .map(|r| r.release.clone())
            .collect();
        Ok(Plan {
            intent,
            platform,
            namespace,
            releases,
            waves,
            notes,
            options,
            installed,
            rollout: None,
        })
    }
}

impl Plan {
    /// A plan with no releases (status and remove carry their own text).
    pub fn empty(
        intent: Intent,
        platform: Platform,
        namespace: String,
        options: RenderOptions,
    ) -> Self {
        let mut options = options;
        options.namespace = namespace.clone();
        Self {
            intent,
            platform,
            namespace,
            releases: Vec::new(),
            waves: Vec::new(),
            notes: Vec::new(),
            options,
            installed: BTreeSet::new(),
            rollout: None,
        }
    }

    /// The Kubernetes objects of a release, for display and for executors.
    /// An upgrade's rolling or recreate strategy is part of the requested
    /// releases' Deployments (and of their stored revision).
    pub fn kubernetes_objects(&self, release: &RenderedRelease) -> Vec<kubernetes::KubeObject> {
        let mut objects = kubernetes::release_objects(release, &self.options);
        if release.requested && self.intent.action == Action::Upgrade {
            crate::rollout::kubernetes::set_update_strategy(
                &mut objects,
                self.intent.strategy.as_ref(),
            );
        }
        objects
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::EphemeralSecrets;

    fn plan(text: &str) -> Plan {
        let catalogue = Catalogue::builtin().unwrap();
        let planner = Planner::new(&catalogue, RenderOptions::default());
        planner
            .plan(text, &Overrides::default(), &mut EphemeralSecrets::new())
            .unwrap()
    }

    #[test]
    fn the_text_shows_waves_wiring_and_secret_names_only() {
        let plan = plan("install authentik with TLS");
        let text = plan.to_text();
        assert!(text.contains("wave 1"), "{text}");
        assert!(
            text.contains("AUTHENTIK_POSTGRESQL__HOST → authentik-postgresql"),
            "{text}"
        );
        assert!(text.contains("authentik-postgresql: password"), "{text}");
        assert!(text.contains("cert-manager"), "{text}");
        for release in &plan.releases {
            for c in &release.components {
                for var in c.env.iter().filter(|v| v.secret) {
                    assert!(!text.contains(&var.value), "secret {} shown", var.name);
                }
            }
        }
    }

    #[test]
    fn overrides_win_over_the_sentence() {
        let catalogue = Catalogue::builtin().unwrap();
        let planner = Planner::new(&catalogue, RenderOptions::default());
        let overrides = Overrides {
            namespace: Some(crate::intent::Namespace::parse("other").unwrap()),
            platform: Some(Platform::Compose),
            ..Default::default()
        };
        let plan = planner
            .plan(
                "install redis in namespace cache",
                &overrides,
                &mut EphemeralSecrets::new(),
            )
            .unwrap();
        assert_eq!(
            (plan.namespace.as_str(), plan.platform),
            ("other", Platform::Compose)
        );
    }

    #[test]
    fn rollback_and_status_need_history() {
        let catalogue = Catalogue::builtin().unwrap();
        let planner = Planner::new(&catalogue, RenderOptions::default());
        let err = planner
            .plan(
                "rollback grafana",
                &Overrides::default(),
                &mut EphemeralSecrets::new(),
            )
            .unwrap_err();
        assert!(matches!(err, PlanError::NeedsHistory { .. }));
    }

    #[test]
    fn on_compose_the_urls_a_person_uses_are_the_published_ones() {
        let env = |text: &str, release: &str, name: &str| {
            let plan = plan(text);
            let release = plan.releases.iter().find(|r| r.release == release).unwrap();
            release.components[0]
                .env
                .iter()
                .find(|e| e.name == name)
                .map(|e| e.value.clone())
        };
        assert_eq!(
            env(
                "install gitea on docker",
                "gitea",
                "GITEA__server__ROOT_URL"
            )
            .as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(
            env("install n8n on docker", "n8n", "WEBHOOK_URL").as_deref(),
            Some("http://127.0.0.1:5678")
        );
        // On Kubernetes without an ingress it stays the in-cluster address,
        // and a domain wins everywhere.
        assert_eq!(
            env("install gitea", "gitea", "GITEA__server__ROOT_URL").as_deref(),
            Some("http://gitea:3000")
        );
        assert_eq!(
            env(
                "install n8n on docker on domain n8n.example.org",
                "n8n",
                "WEBHOOK_URL"
            )
            .as_deref(),
            Some("http://n8n.example.org")
        );
        let text = plan("install gitea on docker").to_text();
        assert!(text.contains("published on 127.0.0.1:3000"), "{text}");
    }

    #[test]
    fn a_removal_plan_says_what_it_removes_not_what_it_creates() {
        let text = plan("remove authentik and its dependencies").to_text();
        assert!(text.contains("removes: Secret authentik-secrets"), "{text}");
        assert!(
            !text.contains("creates:") && !text.contains("Secrets to generate"),
            "{text}"
        );
    }
}
