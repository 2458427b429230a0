//! Autoscaling ("autoscale grafana between 2 and 10 at 70% cpu"): the
//! release's `autoscale` parameter becomes a HorizontalPodAutoscaler
//! (autoscaling/v2, average CPU utilisation of the requests) for every
//! scalable component, and the workload is rendered without `replicas`, so
//! the HPA owns the count and an apply never fights it (the Kubernetes
//! executor also hands an existing count over to it, see
//! `execute::kubernetes::apply`). A release with no scalable component is
//! refused with the components that run as one instance; Compose has no
//! autoscaler, which the planner says before anything is rendered.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::RenderError;
use crate::catalogue::blueprint::Blueprint;

/// The CPU target when none was said (Kubernetes' own default for an HPA
/// without metrics).
pub const DEFAULT_CPU_PERCENT: u32 = 80;

/// The bounds and target of an autoscaled component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoscaleSpec {
    pub min: u32,
    pub max: u32,
    /// Average CPU use aimed at, in percent of the request.
    pub cpu_percent: u32,
}

impl AutoscaleSpec {
    /// "between 2 and 10 at 70% CPU".
    pub fn describe(&self) -> String {
        format!(
            "between {} and {} at {}% CPU",
            self.min, self.max, self.cpu_percent
        )
    }
}

/// The `autoscale` parameter of a release, as the planner records it
/// (`{"min": 2, "max": 10, "cpu_percent": 70}`), when there is one.
pub fn spec_of(parameters: &std::collections::BTreeMap<String, Json>) -> Option<AutoscaleSpec> {
    let value = parameters.get("autoscale").filter(|v| !v.is_null())?;
    let number = |key: &str| value.get(key).and_then(Json::as_u64).map(|n| n as u32);
    Some(AutoscaleSpec {
        min: number("min")?,
        max: number("max")?,
        cpu_percent: number("cpu_percent").unwrap_or(DEFAULT_CPU_PERCENT),
    })
}

/// The parameter value for an intent's autoscale.
pub fn parameter(autoscale: &crate::intent::Autoscale) -> Json {
    serde_json::json!({
        "min": autoscale.min,
        "max": autoscale.max,
        "cpu_percent": autoscale.cpu_percent.unwrap_or(DEFAULT_CPU_PERCENT),
    })
}

/// Refuses autoscaling on a platform that has no autoscaler (Compose).
pub fn refuse_on(
    platform: crate::intent::Platform,
    intent: &crate::intent::Intent,
) -> Result<(), String> {
    if platform != crate::intent::Platform::Compose {
        return Ok(());
    }
    let apps = intent.applications.join(", ");
    let first = intent.applications.first().map_or("it", String::as_str);
    Err(format!(
        "{apps} cannot be autoscaled on Compose: Docker Compose has no autoscaler (a HorizontalPodAutoscaler needs Kubernetes); scale to a fixed number instead, e.g. \"scale {first} to 3\""
    ))
}

/// The parameters a scale starts from (`recorded`, what the release was
/// installed with), for `app`: autoscaling takes `replicas` away (the HPA
/// owns the count); a fixed count asked of an autoscaled release is refused,
/// with what to do instead.
pub fn merge(
    app: &str,
    intent: &crate::intent::Intent,
    recorded: &mut std::collections::BTreeMap<String, Json>,
) -> Result<(), String> {
    if intent.action != crate::intent::Action::Scale {
        return Ok(());
    }
    // "turn off autoscaling for grafana": understood, refused with the
    // reason and what works today. Taking `replicas` back from the HPA needs
    // the reverse of the handover (deckhand's apply would conflict with the
    // autoscaler's writes), which is not built.
    if intent.parameters.autoscale_off == Some(true) {
        return Err(match spec_of(recorded) {
            None => format!("{app} is not autoscaled: there is no autoscaling to turn off"),
            Some(spec) => {
                let keep = intent
                    .parameters
                    .replicas
                    .map_or(spec.min, |r| r.get().max(1));
                format!(
                    "deckhand cannot turn autoscaling off yet ({app} is autoscaled {}): taking the replica count back from its HorizontalPodAutoscaler is not built; to keep {keep} running, set both bounds to it: \"autoscale {app} between {keep} and {keep}\"",
                    spec.describe()
                )
            }
        });
    }
    if intent.parameters.autoscale.is_some() {
        recorded.remove("replicas");
        return Ok(());
    }
    if let (Some(replicas), Some(spec)) = (intent.parameters.replicas, spec_of(recorded)) {
        return Err(format!(
            "{app} is autoscaled: its HorizontalPodAutoscaler owns the number of replicas ({}), so a fixed {} would fight it; to change how many run, change the bounds instead, e.g. \"autoscale {app} between {} and {} at {}% cpu\"",
            spec.describe(),
            replicas.get(),
            replicas.get().max(1),
            spec.max.max(replicas.get()),
            spec.cpu_percent
        ));
    }
    Ok(())
}

/// Refuses autoscaling a release none of whose components may run more
/// than one instance.
pub(super) fn check(
    release: &str,
    bp: &Blueprint,
    spec: Option<AutoscaleSpec>,
) -> Result<(), RenderError> {
    let Some(spec) = spec else { return Ok(()) };
    if !bp.components.iter().any(|c| c.value.scalable) {
        return Err(RenderError::NotScalable {
            release: release.to_string(),
            autoscale: spec.describe(),
            components: bp
                .single_instance_components()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        });
    }
    Ok(())
}

/// The HPA of one workload (`kind` Deployment or StatefulSet, `name`).
pub fn horizontal_pod_autoscaler(
    metadata: ObjectMeta,
    kind: &str,
    name: &str,
    spec: &AutoscaleSpec,
) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata,
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: kind.to_string(),
                name: name.to_string(),
            },
            min_replicas: Some(spec.min as i32),
            max_replicas: spec.max as i32,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(spec.cpu_percent as i32),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]),
            behavior: None,
        },
        status: None,
    }
}

/// "HorizontalPodAutoscaler x (Deployment x, 2 to 10 replicas at 70% CPU; it owns the count)".
pub fn describe(hpa: &HorizontalPodAutoscaler) -> String {
    let spec = &hpa.spec;
    let cpu = spec
        .metrics
        .iter()
        .flatten()
        .filter_map(|m| m.resource.as_ref()?.target.average_utilization)
        .next()
        .unwrap_or_default();
    format!(
        "HorizontalPodAutoscaler {} ({} {}, {} to {} replicas at {cpu}% CPU; it owns the count)",
        hpa.metadata.name.as_deref().unwrap_or_default(),
        spec.scale_target_ref.kind,
        spec.scale_target_ref.name,
        spec.min_replicas.unwrap_or(1),
        spec.max_replicas
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale(parameters: Json) -> crate::intent::Intent {
        serde_json::from_value(serde_json::json!({
            "action": "scale", "applications": ["grafana"], "platform": null,
            "namespace": null, "parameters": parameters, "source": "rules"
        }))
        .expect("an intent")
    }

    #[test]
    fn turning_autoscaling_off_is_refused_with_the_bounds_that_pin_the_count() {
        let mut autoscaled = std::collections::BTreeMap::from([(
            "autoscale".to_string(),
            serde_json::json!({"min": 2, "max": 10, "cpu_percent": 70}),
        )]);
        let off = scale(serde_json::json!({"autoscale_off": true, "replicas": 3}));
        let refused = merge("grafana", &off, &mut autoscaled).unwrap_err();
        assert!(refused.contains("between 2 and 10 at 70% CPU"), "{refused}");
        assert!(
            refused.contains("\"autoscale grafana between 3 and 3\""),
            "{refused}"
        );
        let mut fixed = std::collections::BTreeMap::new();
        let refused = merge("grafana", &off, &mut fixed).unwrap_err();
        assert!(refused.contains("grafana is not autoscaled"), "{refused}");
        // A fixed count of an autoscaled release stays refused, naming the bounds.
        let three = scale(serde_json::json!({"replicas": 3}));
        assert!(merge("grafana", &three, &mut autoscaled).is_err());
    }
}
