//! A plan as a person reads it: what each release creates on the chosen
//! platform ([`Plan::creates`]) and the whole plan as text
//! ([`Plan::to_text`]: waves, wiring, secret names, notes).

use std::fmt::Write as _;

use std::collections::BTreeMap;

use super::{Plan, stacks};
use crate::intent::{Action, Platform};
use crate::render::{self, RenderedRelease, compose, kubernetes};

impl Plan {
    /// What a release creates on this plan's platform, one entry each.
    pub fn creates(&self, release: &RenderedRelease) -> Vec<String> {
        match self.platform {
            Platform::Kubernetes => self
                .kubernetes_objects(release)
                .iter()
                .map(|o| match o {
                    kubernetes::KubeObject::StatefulSet(s) => {
                        let claims: Vec<String> = s
                            .spec
                            .volume_claim_templates
                            .as_ref()
                            .map(|c| {
                                c.iter()
                                    .map(|pvc| {
                                        let size = pvc
                                            .spec
                                            .as_ref()
                                            .and_then(|s| s.resources.as_ref())
                                            .and_then(|r| r.requests.as_ref())
                                            .and_then(|r| r.get("storage"))
                                            .map_or(String::new(), |q| q.0.clone());
                                        format!(
                                            "{} {size}",
                                            pvc.metadata.name.clone().unwrap_or_default()
                                        )
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        format!("StatefulSet {} (volumes: {})", o.name(), claims.join(", "))
                    }
                    kubernetes::KubeObject::Service(s) => {
                        let ports: Vec<String> = s
                            .spec
                            .as_ref()
                            .and_then(|s| s.ports.as_ref())
                            .map(|p| p.iter().map(|p| p.port.to_string()).collect())
                            .unwrap_or_default();
                        format!("Service {}:{}", o.name(), ports.join(","))
                    }
                    kubernetes::KubeObject::Ingress(_) => {
                        let ingress = release
                            .ingress
                            .as_ref()
                            .expect("ingress object implies spec");
                        if ingress.tls {
                            format!(
                                "Ingress https://{} (certificate from cert-manager, issuer {})",
                                ingress.host, self.options.cluster_issuer
                            )
                        } else {
                            format!("Ingress http://{}", ingress.host)
                        }
                    }
                    kubernetes::KubeObject::HorizontalPodAutoscaler(h) => {
                        render::autoscale::describe(h)
                    }
                    other => format!("{} {}", other.kind(), other.name()),
                })
                .collect(),
            Platform::Compose => {
                let mut out = Vec::new();
                for c in &release.components {
                    let ports: Vec<String> = c.ports.iter().map(|p| p.port.to_string()).collect();
                    let published = release
                        .published
                        .as_ref()
                        .filter(|p| c.expose.as_deref() == Some(p.port_name.as_str()))
                        .map_or(String::new(), |p| {
                            format!(" (published on 127.0.0.1:{})", p.host_port)
                        });
                    out.push(if ports.is_empty() {
                        format!("service {}", c.service)
                    } else {
                        format!("service {}:{}{published}", c.service, ports.join(","))
                    });
                    for v in &c.volumes {
                        out.push(format!(
                            "volume {}",
                            compose::volume_name(release, c, &v.name)
                        ));
                    }
                }
                out.push(format!(
                    "network {}",
                    compose::docker_name(&release.namespace, &release.release)
                ));
                out
            }
        }
    }

    /// The plan for a person.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Intent: {}", self.intent.summary());
        let _ = writeln!(
            out,
            "Platform: {}   Namespace: {}",
            self.platform, self.namespace
        );
        let verb = match self.intent.action {
            Action::Remove => "to remove",
            Action::Upgrade => "to upgrade",
            Action::Scale => "to scale",
            _ => "to install",
        };
        let _ = writeln!(
            out,
            "\nReleases {verb} ({} in {} wave{}):",
            self.releases.len(),
            self.waves.len(),
            if self.waves.len() == 1 { "" } else { "s" }
        );
        let by_name: BTreeMap<&str, &RenderedRelease> = self
            .releases
            .iter()
            .map(|r| (r.release.as_str(), r))
            .collect();
        let mut waves: Vec<&Vec<String>> = self.waves.iter().collect();
        if self.intent.action == Action::Remove {
            waves.reverse();
        }
        for (number, wave) in waves.iter().enumerate() {
            let _ = writeln!(
                out,
                "  wave {}{}",
                number + 1,
                if wave.len() > 1 { " (in parallel)" } else { "" }
            );
            for name in wave.iter() {
                let release = by_name[name.as_str()];
                let role = if let Some(of) = &release.member_of {
                    format!(
                        "  (member {} of {}, layer {})",
                        of.member, of.stack, of.layer
                    )
                } else if release.requested {
                    String::new()
                } else {
                    format!(
                        "  (for {})",
                        self.dependents_of(&release.release).join(", ")
                    )
                };
                let _ = writeln!(
                    out,
                    "    {} — {} {}{role}",
                    release.release, release.blueprint, release.version
                );
                let removing = self.intent.action == Action::Remove;
                if release.is_stack() {
                    let _ = writeln!(out, "      {}", stacks::layers_text(release));
                    continue;
                }
                let _ = writeln!(
                    out,
                    "      {}: {}",
                    if removing { "removes" } else { "creates" },
                    self.creates(release).join("; ")
                );
                if removing {
                    continue;
                }
                if !release.wiring.is_empty() {
                    let _ = writeln!(out, "      wiring:");
                    for wire in &release.wiring {
                        let target = if wire.shown == "********" {
                            format!("{} {} (secret)", wire.dependency, wire.facts.join(", "))
                        } else if wire.shown == wire.dependency {
                            wire.dependency.clone()
                        } else {
                            format!("{} ({})", wire.shown, wire.dependency)
                        };
                        let on = wire
                            .component
                            .as_ref()
                            .map_or(String::new(), |c| format!(" [{c}]"));
                        let _ = writeln!(out, "        {}{on} → {target}", wire.variable);
                    }
                }
                let endpoints = release.endpoints();
                if !endpoints.is_empty() && release.requested {
                    let _ = writeln!(out, "      reach it at: {}", endpoints.join(", "));
                }
            }
        }
        let (kept, new): (Vec<&RenderedRelease>, Vec<&RenderedRelease>) = self
            .releases
            .iter()
            .filter(|r| !r.secrets.is_empty() && self.intent.action != Action::Remove)
            .partition(|r| self.installed.contains(&r.release));
        for (releases, heading) in [
            (new, "Secrets to generate (values are never shown):"),
            (
                kept,
                "Secrets kept: the stored values are used again (never shown):",
            ),
        ] {
            if !releases.is_empty() {
                let _ = writeln!(out, "\n{heading}");
                for release in releases {
                    let _ = writeln!(out, "  {}: {}", release.release, release.secrets.join(", "));
                }
            }
        }
        if let Some(rollout) = &self.rollout {
            out.push_str(&rollout.to_text());
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\nNotes:");
            for note in &self.notes {
                let _ = writeln!(out, "  - {note}");
            }
        }
        out
    }

    fn dependents_of(&self, release: &str) -> Vec<String> {
        self.releases
            .iter()
            .filter(|r| r.dependencies.iter().any(|d| d == release))
            .map(|r| r.release.clone())
            .collect()
    }
}
