//! What the plan says about stacks: a stack's layers in its text, and the
//! refusal to upgrade or scale one member of an installed stack on its own
//! (a stack moves as one).

use std::collections::BTreeMap;

use super::Planner;
use crate::intent::{Action, Intent, Platform};
use crate::render::RenderedRelease;

/// "a stack, nothing of its own to run: layer 1: prometheus (…); layer 2: …".
pub fn layers_text(release: &RenderedRelease) -> String {
    let mut layers: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for m in &release.stack_members {
        layers
            .entry(m.layer)
            .or_default()
            .push(format!("{} ({} as {})", m.member, m.blueprint, m.release));
    }
    let layers: Vec<String> = layers
        .into_iter()
        .map(|(n, members)| format!("layer {n}: {}", members.join(", ")))
        .collect();
    format!("a stack, nothing of its own to run: {}", layers.join("; "))
}

/// Why `app` cannot be upgraded or scaled on its own when the releases of
/// its blueprint (`found`) are members of an installed stack.
pub(super) fn member_refusal(
    planner: &Planner<'_>,
    app: &str,
    found: &[&str],
    intent: &Intent,
    namespace: &str,
    platform: Platform,
) -> Option<String> {
    let stack = planner.recorded.iter().find_map(|(name, r)| {
        let is_stack = planner
            .catalogue
            .entry(&r.blueprint)
            .is_some_and(|e| e.blueprint.is_stack());
        (is_stack && found.iter().any(|d| d.starts_with(&format!("{name}-")))).then_some(name)
    })?;
    Some(format!(
        "{app} runs in namespace {namespace} on {platform} as a member of the stack {stack} ({}); a stack is {} as one: \"{} {stack}\"",
        found.join(", "),
        match intent.action {
            Action::Scale => "scaled",
            _ => "upgraded",
        },
        intent.action
    ))
}

#[cfg(test)]
mod tests {
    use super::super::{Overrides, Planner, Recorded};
    use crate::catalogue::Catalogue;
    use crate::intent::Platform;
    use crate::render::{EphemeralSecrets, RenderOptions};
    use serde_json::json;

    fn recorded(blueprint: &str, version: &str) -> Recorded {
        Recorded {
            blueprint: blueprint.into(),
            version: version.into(),
            parameters: Default::default(),
            revision: 1,
        }
    }

    /// The monitoring stack as installed with an older Prometheus (its
    /// PostgreSQL left out: a recorded dependency keeps its recorded
    /// parameters, which these records do not carry).
    fn installed(catalogue: &Catalogue) -> Planner<'_> {
        let mut planner = Planner::new(catalogue, RenderOptions::default());
        for (release, blueprint, version) in [
            ("prometheus-grafana", "prometheus-grafana", "2026.12"),
            ("prometheus-grafana-prometheus", "prometheus", "3.5.0"),
            ("prometheus-grafana-grafana", "grafana", "13.3.2"),
        ] {
            planner
                .recorded
                .insert(release.into(), recorded(blueprint, version));
        }
        planner
    }

    fn plan(planner: &Planner<'_>, text: &str) -> Result<super::super::Plan, String> {
        planner
            .plan(text, &Overrides::default(), &mut EphemeralSecrets::new())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_stack_is_upgraded_as_one_in_layers() {
        let catalogue = Catalogue::builtin().unwrap();
        let planner = installed(&catalogue);
        let plan = plan(&planner, "upgrade the prometheus grafana stack").unwrap();
        let prometheus = plan
            .releases
            .iter()
            .find(|r| r.release == "prometheus-grafana-prometheus")
            .unwrap();
        assert_eq!(
            prometheus.version, "3.13.2",
            "members move to the stack's versions"
        );
        let position = |name: &str| plan.waves.iter().position(|w| w.iter().any(|r| r == name));
        assert!(position("prometheus-grafana-prometheus") < position("prometheus-grafana-grafana"));
        assert!(position("prometheus-grafana-grafana") < position("prometheus-grafana"));
        let text = plan.to_text();
        assert!(
            text.contains("member grafana of prometheus-grafana, layer 2")
                && text.contains("layer 1: prometheus (prometheus as prometheus-grafana-prometheus); layer 2: grafana"),
            "{text}"
        );
    }

    #[test]
    fn a_member_alone_is_refused_with_the_stack_to_name_instead() {
        let catalogue = Catalogue::builtin().unwrap();
        let planner = installed(&catalogue);
        let err = plan(&planner, "upgrade grafana").unwrap_err();
        assert!(
            err.contains("grafana runs in namespace default on kubernetes as a member of the stack prometheus-grafana")
                && err.contains("\"upgrade prometheus-grafana\""),
            "{err}"
        );
        let err = plan(&planner, "scale grafana to 3").unwrap_err();
        assert!(err.contains("a stack is scaled as one"), "{err}");
    }

    #[test]
    fn scaling_a_stack_goes_to_its_scalable_members_and_is_refused_on_compose() {
        let catalogue = Catalogue::builtin().unwrap();
        let planner = installed(&catalogue);
        let plan = plan(
            &planner,
            "autoscale the prometheus grafana stack between 2 and 6",
        )
        .unwrap();
        let grafana = plan
            .releases
            .iter()
            .find(|r| r.release == "prometheus-grafana-grafana")
            .unwrap();
        assert_eq!(
            grafana.parameters["autoscale"],
            json!({"min": 2, "max": 6, "cpu_percent": 80})
        );
        assert!(grafana.components[0].autoscale.is_some());
        let prometheus = plan
            .releases
            .iter()
            .find(|r| r.release == "prometheus-grafana-prometheus")
            .unwrap();
        assert!(
            !prometheus.parameters.contains_key("autoscale"),
            "single instance"
        );
        let mut compose = installed(&catalogue);
        compose.default_platform = Platform::Compose;
        let err = super::super::Planner::plan(
            &compose,
            "autoscale the prometheus grafana stack between 2 and 6",
            &Overrides::default(),
            &mut EphemeralSecrets::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cannot be autoscaled on Compose"), "{err}");
    }
}
