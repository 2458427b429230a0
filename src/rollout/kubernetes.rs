//! The Kubernetes objects of each strategy's stages, from a release's
//! installed objects (`old`, its stored revision) and the new revision's
//! (`new`):
//!
//! - rolling and recreate are fields of the new revision's Deployments
//!   ([`set_update_strategy`]); they are stored with the revision;
//! - a canary stage is the old objects (the stable Deployments scaled to
//!   their share) plus a `<deployment>-canary` Deployment of the new
//!   template, labelled `deckhand.io/track: canary` (its selector includes
//!   the label, so the two Deployments never adopt each other's pods) but
//!   still selected by the one Service, which selects instance and
//!   component only ([`canary_stage`]);
//! - blue-green tells blue from green by `app.kubernetes.io/version`, a
//!   label every pod carries: the Services first select blue's version (no
//!   pod restarts), green is `<deployment>-green` at full size, and the
//!   switch moves the selectors to green's version ([`blue_green_stage`]).
//!
//! Returning to the old objects, or applying the new revision as usual,
//! prunes the canary or green Deployment: it carries the release's labels
//! and is not in either revision.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentStrategy, RollingUpdateDeployment, StatefulSet,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::intent::Strategy;
use crate::render::kubernetes::KubeObject;

/// The label that tells a canary's or green's pods from the stable ones.
pub const TRACK_LABEL: &str = "deckhand.io/track";
const VERSION_LABEL: &str = "app.kubernetes.io/version";

/// Sets the Deployments' update strategy for rolling or recreate (other
/// strategies leave the objects as rendered). StatefulSets keep theirs: the
/// controller replaces one pod at a time, highest ordinal first.
pub fn set_update_strategy(objects: &mut [KubeObject], strategy: Option<&Strategy>) {
    let update = match strategy {
        Some(Strategy::Rolling {
            batch,
            max_unavailable,
        }) => DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: batch.map(|b| IntOrString::Int(b as i32)),
                max_unavailable: match (max_unavailable, batch) {
                    (Some(u), _) => Some(IntOrString::Int(*u as i32)),
                    // "two at a time": two new pods, none of the old ones
                    // down before its replacement is ready.
                    (None, Some(_)) => Some(IntOrString::Int(0)),
                    (None, None) => None,
                },
            }),
        },
        Some(Strategy::Recreate {}) => DeploymentStrategy {
            type_: Some("Recreate".into()),
            rolling_update: None,
        },
        _ => return,
    };
    for object in objects {
        if let KubeObject::Deployment(d) = object {
            d.spec.strategy = Some(update.clone());
        }
    }
}

/// Why a strategy cannot run on these new objects, if it cannot.
pub fn refusal(strategy: &Strategy, release: &str, new: &[KubeObject]) -> Option<String> {
    let sets: Vec<&StatefulSet> = new
        .iter()
        .filter_map(|o| match o {
            KubeObject::StatefulSet(s) => Some(s.as_ref()),
            _ => None,
        })
        .collect();
    let names = |sets: &[&StatefulSet]| -> String {
        sets.iter()
            .map(|s| s.metadata.name.clone().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match strategy {
        Strategy::Canary { .. } | Strategy::BlueGreen {} if !sets.is_empty() => Some(format!(
            "{release} keeps its data in a StatefulSet ({}) whose volumes (ReadWriteOnce, one per pod) a second copy of the new version cannot share, so a {} cannot run beside it; upgrade it without a strategy (rolling, one pod at a time) or with recreate",
            names(&sets),
            strategy.name()
        )),
        Strategy::Recreate {} => {
            let many: Vec<&StatefulSet> = sets
                .iter()
                .copied()
                .filter(|s| s.spec.replicas.unwrap_or(1) > 1)
                .collect();
            (!many.is_empty()).then(|| format!(
                "{release}'s StatefulSet {} runs more than one pod; a StatefulSet has no recreate strategy (it already stops each pod before its replacement starts, one at a time): upgrade it without a strategy, or scale it to 1 first",
                names(&many)
            ))
        }
        Strategy::Rolling { batch: Some(b), .. } if *b > 1 && !sets.is_empty() => Some(format!(
            "{release}'s StatefulSet {} replaces one pod at a time (highest ordinal first) and cannot take {b} at a time; upgrade it rolling without a batch",
            names(&sets)
        )),
        Strategy::BlueGreen {} => {
            let no_service: Vec<String> = deployments(new)
                .filter(|d| {
                    let name = d.metadata.name.clone().unwrap_or_default();
                    !new.iter().any(|o| matches!(o, KubeObject::Service(s)
                        if s.metadata.labels.as_ref().and_then(|l| l.get("app.kubernetes.io/component"))
                            == d.metadata.labels.as_ref().and_then(|l| l.get("app.kubernetes.io/component"))
                            && !name.is_empty()))
                })
                .map(|d| d.metadata.name.clone().unwrap_or_default())
                .collect();
            (!no_service.is_empty()).then(|| format!(
                "{release}'s Deployment {} has no Service whose selector could switch, so blue and green would both run it; upgrade it as a canary or without a strategy",
                no_service.join(", ")
            ))
        }
        _ => None,
    }
}

fn deployments(objects: &[KubeObject]) -> impl Iterator<Item = &Deployment> {
    objects.iter().filter_map(|o| match o {
        KubeObject::Deployment(d) => Some(d.as_ref()),
        _ => None,
    })
}

/// The replicas a Deployment asks for (1 when unset, as Kubernetes reads it).
fn replicas_of(d: &Deployment) -> u32 {
    d.spec.replicas.unwrap_or(1).max(0) as u32
}

/// The most replicas any Deployment of the new revision asks for.
pub fn replicas(new: &[KubeObject]) -> u32 {
    deployments(new).map(replicas_of).max().unwrap_or(1)
}

/// The pods the new revision's changed Deployments ask for, together.
pub fn changed_replicas(old: &[KubeObject], new: &[KubeObject]) -> u32 {
    let changed = changed_deployments(old, new);
    deployments(new)
        .filter(|d| {
            d.metadata
                .name
                .as_ref()
                .is_some_and(|n| changed.contains(n))
        })
        .map(replicas_of)
        .sum()
}

/// Names of the new revision's Deployments whose pod template differs from
/// the installed one (new Deployments count as changed).
pub fn changed_deployments(old: &[KubeObject], new: &[KubeObject]) -> Vec<String> {
    deployments(new)
        .filter(|n| {
            let before = deployments(old).find(|o| o.metadata.name == n.metadata.name);
            before.is_none_or(|o| o.spec.template != n.spec.template)
        })
        .filter_map(|d| d.metadata.name.clone())
        .collect()
}

/// The Services that route to the changed Deployments' pods (by the
/// component their selector names): where a stage checks the traffic goes.
pub fn routing_services(old: &[KubeObject], new: &[KubeObject]) -> Vec<String> {
    let changed = changed_deployments(old, new);
    let component = |labels: Option<&BTreeMap<String, String>>| {
        labels
            .and_then(|l| l.get("app.kubernetes.io/component"))
            .cloned()
    };
    let components: Vec<String> = deployments(new)
        .filter(|d| {
            d.metadata
                .name
                .as_ref()
                .is_some_and(|n| changed.contains(n))
        })
        .filter_map(|d| component(d.metadata.labels.as_ref()))
        .collect();
    new.iter()
        .filter_map(|o| match o {
            KubeObject::Service(s) => {
                let selected = component(s.spec.as_ref().and_then(|s| s.selector.as_ref()))?;
                components.contains(&selected).then(|| o.name().to_string())
            }
            _ => None,
        })
        .collect()
}

/// A copy of `deployment` named `<name>-<track>`, labelled and selecting
/// `deckhand.io/track: <track>`, with `replicas`.
fn tracked(deployment: &Deployment, track: &str, replicas: u32) -> Deployment {
    let mut copy = deployment.clone();
    let name = format!(
        "{}-{track}",
        deployment.metadata.name.clone().unwrap_or_default()
    );
    copy.metadata.name = Some(name);
    copy.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(TRACK_LABEL.into(), track.into());
    let spec = &mut copy.spec;
    spec.replicas = Some(replicas as i32);
    spec.selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(TRACK_LABEL.into(), track.into());
    spec.template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(TRACK_LABEL.into(), track.into());
    copy
}

/// The old objects, with the new revision's Secret in place of the old one
/// (the new pods may read keys the old revision did not have; generated
/// values never change between revisions).
fn old_with_new_secret(old: &[KubeObject], new: &[KubeObject]) -> Vec<KubeObject> {
    old.iter()
        .map(|o| match o {
            KubeObject::Secret(_) => new
                .iter()
                .find(|n| matches!(n, KubeObject::Secret(_)) && n.name() == o.name())
                .cloned()
                .unwrap_or_else(|| o.clone()),
            other => other.clone(),
        })
        .chain(
            new.iter()
                .filter(|n| {
                    matches!(n, KubeObject::Secret(_)) && !old.iter().any(|o| o.name() == n.name())
                })
                .cloned(),
        )
        .collect()
}

/// What one canary stage runs, and the objects that run it.
#[derive(Debug, Clone)]
pub struct CanaryStage {
    pub objects: Vec<KubeObject>,
    /// Canary and stable pods per changed Deployment.
    pub split: Vec<(String, u32, u32)>,
}

/// The ingress class whose controller weights a canary's traffic by
/// annotation (ingress-nginx: `canary`, `canary-weight`).
pub const WEIGHTING_CLASS: &str = "nginx";
const CANARY_ANNOTATION: &str = "nginx.ingress.kubernetes.io/canary";
const WEIGHT_ANNOTATION: &str = "nginx.ingress.kubernetes.io/canary-weight";

/// Whether the canary's traffic is weighted by the ingress controller: the
/// release has an Ingress and the configured class is ingress-nginx's.
pub fn weighted_by_ingress(new: &[KubeObject], ingress_class: Option<&str>) -> bool {
    ingress_class == Some(WEIGHTING_CLASS)
        && new.iter().any(|o| matches!(o, KubeObject::Ingress(_)))
}

/// The name of a Service's or Ingress's canary twin.
pub fn canary_name(name: &str) -> String {
    format!("{name}-canary")
}

/// Traffic weighted by ingress-nginx: the routing Services select the
/// stable version only (pinned by version label, no pod restarts), a
/// `<service>-canary` Service selects the canary's pods, and a
/// `<ingress>-canary` Ingress with the same rules sends `percent` of the
/// requests to it (no TLS section of its own: the main Ingress's serves).
fn weigh_traffic(
    objects: &mut Vec<KubeObject>,
    old: &[KubeObject],
    new: &[KubeObject],
    percent: u32,
) {
    let services = routing_services(old, new);
    let stable = version_of(old).unwrap_or_default();
    let mut twins = Vec::new();
    for object in objects.iter_mut() {
        match object {
            KubeObject::Service(s)
                if services.iter().any(|n| Some(n) == s.metadata.name.as_ref()) =>
            {
                let mut twin = s.clone();
                twin.metadata.name = Some(canary_name(&services_name(s)));
                if let Some(selector) = twin.spec.as_mut().and_then(|s| s.selector.as_mut()) {
                    selector.insert(TRACK_LABEL.into(), "canary".into());
                }
                twins.push(KubeObject::Service(twin));
                if let Some(selector) = s.spec.as_mut().and_then(|s| s.selector.as_mut()) {
                    selector.insert(VERSION_LABEL.into(), stable.clone());
                }
            }
            _ => {}
        }
    }
    for ingress in new.iter().filter_map(|o| match o {
        KubeObject::Ingress(i) => Some(i),
        _ => None,
    }) {
        let mut twin = ingress.clone();
        twin.metadata.name = Some(canary_name(
            ingress.metadata.name.as_deref().unwrap_or_default(),
        ));
        twin.metadata.annotations = Some(BTreeMap::from([
            (CANARY_ANNOTATION.to_string(), "true".to_string()),
            (WEIGHT_ANNOTATION.to_string(), percent.to_string()),
        ]));
        if let Some(spec) = twin.spec.as_mut() {
            spec.tls = None;
            for rule in spec.rules.iter_mut().flatten() {
                for path in rule.http.iter_mut().flat_map(|h| h.paths.iter_mut()) {
                    if let Some(backend) = path.backend.service.as_mut()
                        && services.contains(&backend.name)
                    {
                        backend.name = canary_name(&backend.name);
                    }
                }
            }
        }
        twins.push(KubeObject::Ingress(twin));
    }
    objects.extend(twins);
}

fn services_name(service: &k8s_openapi::api::core::v1::Service) -> String {
    service.metadata.name.clone().unwrap_or_default()
}

/// The objects of a canary stage at `percent` (below 100): the old
/// objects, each changed Deployment scaled to its stable share, and a
/// canary Deployment of its new template with the rest; with `weighted`,
/// the ingress controller's canary objects too ([`weigh_traffic`]).
pub fn canary_stage(
    old: &[KubeObject],
    new: &[KubeObject],
    percent: u32,
    weighted: bool,
) -> CanaryStage {
    let changed = changed_deployments(old, new);
    let mut objects = old_with_new_secret(old, new);
    if weighted {
        weigh_traffic(&mut objects, old, new, percent);
    }
    let mut split = Vec::new();
    for name in &changed {
        let Some(fresh) = deployments(new).find(|d| d.metadata.name.as_ref() == Some(name)) else {
            continue;
        };
        let (canary, stable) = super::canary_split(replicas_of(fresh), percent);
        for object in objects.iter_mut() {
            if let KubeObject::Deployment(d) = object
                && d.metadata.name.as_ref() == Some(name)
            {
                d.spec.replicas = Some(stable as i32);
            }
        }
        objects.push(KubeObject::Deployment(Box::new(tracked(
            fresh, "canary", canary,
        ))));
        split.push((name.clone(), canary, stable));
    }
    CanaryStage { objects, split }
}

/// Where a blue-green upgrade is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlueGreenPhase {
    /// The Services select blue's version only; no green yet.
    Pinned,
    /// Green runs beside blue; the Services still select blue.
    Green,
    /// The Services select green; blue keeps running.
    Switched,
}

/// The version label of the pods of the Deployments `changed` names in
/// `objects` (the same for all of a release's components).
pub fn version_of(objects: &[KubeObject]) -> Option<String> {
    deployments(objects).find_map(|d| {
        d.spec
            .template
            .metadata
            .as_ref()?
            .labels
            .as_ref()?
            .get(VERSION_LABEL)
            .cloned()
    })
}

/// The objects of a blue-green phase: the old objects (blue), green
/// Deployments of the new template when green runs, and every Service of
/// the release selecting blue's or green's version.
pub fn blue_green_stage(
    old: &[KubeObject],
    new: &[KubeObject],
    phase: BlueGreenPhase,
) -> Result<Vec<KubeObject>, String> {
    let blue = version_of(old).ok_or("the installed revision's pods carry no version label")?;
    let green = version_of(new).ok_or("the new revision's pods carry no version label")?;
    if blue == green {
        return Err(format!(
            "blue-green tells the running pods from the new ones by their version, and both are {blue}: upgrade to another version, or without a strategy"
        ));
    }
    let mut objects = if phase == BlueGreenPhase::Pinned {
        old.to_vec()
    } else {
        old_with_new_secret(old, new)
    };
    let selected = if phase == BlueGreenPhase::Switched {
        &green
    } else {
        &blue
    };
    for object in objects.iter_mut() {
        if let KubeObject::Service(s) = object
            && let Some(selector) = s.spec.as_mut().and_then(|s| s.selector.as_mut())
        {
            selector.insert(VERSION_LABEL.into(), selected.clone());
        }
    }
    if phase != BlueGreenPhase::Pinned {
        for name in changed_deployments(old, new) {
            if let Some(fresh) = deployments(new).find(|d| d.metadata.name.as_ref() == Some(&name))
            {
                objects.push(KubeObject::Deployment(Box::new(tracked(
                    fresh,
                    "green",
                    replicas_of(fresh),
                ))));
            }
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::plan::{Overrides, Planner};
    use crate::render::{EphemeralSecrets, RenderOptions};

    fn objects(sentence: &str) -> Vec<KubeObject> {
        let catalogue = Catalogue::builtin().unwrap();
        let planner = Planner::new(&catalogue, RenderOptions::default());
        let plan = planner
            .plan(
                sentence,
                &Overrides::default(),
                &mut EphemeralSecrets::new(),
            )
            .unwrap();
        let release = plan.releases.iter().find(|r| r.requested).unwrap();
        plan.kubernetes_objects(release)
    }

    fn deployment<'a>(objects: &'a [KubeObject], name: &str) -> &'a Deployment {
        deployments(objects)
            .find(|d| d.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no Deployment {name}"))
    }

    #[test]
    fn a_canary_stage_keeps_stable_and_adds_a_tracked_canary() {
        let old = objects("install nginx version 1.29 with 4 replicas");
        let new = objects("install nginx version 1.30 with 4 replicas");
        assert_eq!(changed_deployments(&old, &new), ["nginx-nginx"]);
        let stage = canary_stage(&old, &new, 25, false);
        assert_eq!(stage.split, [("nginx-nginx".to_string(), 1, 3)]);
        let stable = deployment(&stage.objects, "nginx-nginx");
        assert_eq!(stable.spec.replicas, Some(3));
        let canary = deployment(&stage.objects, "nginx-nginx-canary");
        let spec = &canary.spec;
        assert_eq!(spec.replicas, Some(1));
        assert_eq!(
            spec.selector.match_labels.as_ref().unwrap()[TRACK_LABEL],
            "canary"
        );
        let image = spec.template.spec.as_ref().unwrap().containers[0]
            .image
            .clone()
            .unwrap();
        assert!(image.contains("1.30"), "{image}");
    }

    #[test]
    fn blue_green_pins_then_switches_the_service_by_version() {
        let old = objects("install nginx version 1.29");
        let new = objects("install nginx version 1.30");
        let selector = |objects: &[KubeObject]| {
            objects
                .iter()
                .find_map(|o| match o {
                    KubeObject::Service(s) => s.spec.clone()?.selector,
                    _ => None,
                })
                .unwrap()[VERSION_LABEL]
                .clone()
        };
        let pinned = blue_green_stage(&old, &new, BlueGreenPhase::Pinned).unwrap();
        assert!(selector(&pinned).starts_with("1.29"));
        assert!(
            deployments(&pinned).all(|d| !d.metadata.name.as_ref().unwrap().ends_with("-green"))
        );
        let switched = blue_green_stage(&old, &new, BlueGreenPhase::Switched).unwrap();
        assert!(selector(&switched).starts_with("1.30"));
        deployment(&switched, "nginx-nginx-green");
        deployment(&switched, "nginx-nginx");
        assert!(
            blue_green_stage(&old, &old, BlueGreenPhase::Green)
                .unwrap_err()
                .contains("version")
        );
    }

    #[test]
    fn rolling_and_recreate_set_the_deployment_strategy() {
        let mut new = objects("install nginx");
        set_update_strategy(
            &mut new,
            Some(&Strategy::Rolling {
                batch: Some(2),
                max_unavailable: None,
            }),
        );
        let strategy = deployment(&new, "nginx-nginx")
            .spec
            .strategy
            .clone()
            .unwrap();
        let rolling = strategy.rolling_update.unwrap();
        assert_eq!(rolling.max_surge, Some(IntOrString::Int(2)));
        assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
        set_update_strategy(&mut new, Some(&Strategy::Recreate {}));
        let strategy = deployment(&new, "nginx-nginx").spec.strategy.clone();
        assert_eq!(strategy.unwrap().type_.as_deref(), Some("Recreate"));
    }

    #[test]
    fn statefulsets_refuse_canary_and_blue_green_with_the_reason() {
        let new = objects("install uptime-kuma");
        let why = refusal(&Strategy::Canary { steps: None }, "uptime-kuma", &new).unwrap();
        assert!(
            why.contains("StatefulSet") && why.contains("ReadWriteOnce"),
            "{why}"
        );
        assert!(refusal(&Strategy::BlueGreen {}, "uptime-kuma", &new).is_some());
        assert!(refusal(&Strategy::Recreate {}, "uptime-kuma", &new).is_none());
        assert!(
            refusal(
                &Strategy::Canary { steps: None },
                "nginx",
                &objects("install nginx")
            )
            .is_none()
        );
    }
}
