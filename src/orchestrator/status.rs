//! Status: what is recorded for the asked releases (or every one in the
//! namespace), then what the executor says is live. Changes nothing: the
//! intent completes with the report as soon as it is planned.

use std::time::Instant;

use super::Orchestrator;
use super::lifecycle::{Context, Installed, Outcome, Prepared};
use crate::execute::{ExecutorKind, ReleaseTarget};
use crate::intent::{Action, Intent};
use crate::plan::Plan;
use crate::store::{IntentStatus, NewEvent, StoreError};

/// The report of what is recorded, and which releases to ask the executor
/// about.
pub(super) fn prepare(cx: &mut Context<'_>, intent: Intent) -> Outcome {
    let (store, render, platform, executor) = (cx.store, cx.render, cx.platform, cx.executor);
    let namespace = cx.namespace.clone();
    let installed = &cx.installed;
    // A plan shell for the record; the report is the point.
    let mut shell = intent.clone();
    shell.action = Action::Install;
    shell.applications.clear();
    let plan = Plan::empty(shell, platform, namespace.clone(), render.clone());
    let mut wanted: Vec<&String> = if intent.applications.is_empty() {
        installed.keys().collect()
    } else {
        intent.applications.iter().collect()
    };
    // A stack asked for by name: its members too, right after it.
    let catalogue = cx.planner.catalogue;
    let stack_of = |name: &String| {
        installed.get(name).filter(|found| {
            catalogue
                .entry(&found.blueprint)
                .is_some_and(|e| e.blueprint.is_stack())
        })
    };
    let mut i = 0;
    while i < wanted.len() {
        if let Some(found) = stack_of(wanted[i]) {
            for member in found.revision.dependencies.iter().rev() {
                if !wanted.contains(&member) {
                    wanted.insert(i + 1, member);
                }
            }
        }
        i += 1;
    }
    let mut lines = vec![format!("Status in namespace {namespace} on {platform}:")];
    let mut releases = Vec::new();
    let host_ports = store.host_ports(platform.as_str())?;
    for name in wanted {
        match installed.get(name) {
            Some(Installed {
                revision,
                blueprint,
                status,
            }) => {
                let stack = stack_of(name).is_some();
                if !stack {
                    releases.push(name.clone());
                }
                let autoscaled =
                    crate::render::autoscale::spec_of(&super::lifecycle::parameters_of(revision))
                        .map(|a| format!(", autoscaled {}", a.describe()))
                        .unwrap_or_default();
                let members = if stack {
                    format!(", a stack of {}", revision.dependencies.join(", "))
                } else {
                    String::new()
                };
                let published: Vec<String> = host_ports
                    .iter()
                    .filter(|p| p.namespace == namespace && &p.release == name)
                    .map(|p| format!("http://127.0.0.1:{} ({})", p.host_port, p.port_name))
                    .collect();
                lines.push(format!(
                    "  {name} — {blueprint} {}: {status}, revision {} ({} by {} at {}){}{autoscaled}{members}",
                    revision.version,
                    revision.number,
                    revision.action,
                    revision.created_by,
                    revision.created_at,
                    if published.is_empty() {
                        String::new()
                    } else {
                        format!(", published on {}", published.join(", "))
                    }
                ));
            }
            None => {
                lines.push(format!("  {name}: not installed"));
                // Asked for by name: what runs is looked at anyway
                // (what a failed or interrupted run left behind).
                if executor != ExecutorKind::Render && !intent.applications.is_empty() {
                    releases.push(name.clone());
                }
            }
        }
    }
    if lines.len() == 1 {
        lines.push("  nothing is installed".into());
    }
    Ok(Ok(Prepared::Status {
        plan,
        executor,
        releases,
        text: lines.join("\n") + "\n",
    }))
}

impl Orchestrator {
    /// Ends a status intent: the recorded report with what is live, stored
    /// as its plan text and its last event.
    pub(super) async fn report_status(
        &self,
        id: &str,
        plan: &Plan,
        executor: ExecutorKind,
        releases: &[String],
        text: &str,
        started: Instant,
    ) -> Result<(), StoreError> {
        let live = self.live_status(plan, executor, releases).await;
        let report = format!("{text}{live}");
        let owned = id.to_string();
        let json = serde_json::to_value(plan).unwrap_or(serde_json::Value::Null);
        let (platform, namespace) = (plan.platform.to_string(), plan.namespace.clone());
        let kind = executor.as_str();
        let stored_report = report.clone();
        self.store
            .call(move |s| s.set_plan(&owned, &json, &stored_report, &platform, &namespace, kind))
            .await?;
        self.transition(
            id,
            Some(&[IntentStatus::Planning]),
            IntentStatus::Completed,
            NewEvent::new("finish", "completed", report).took(started.elapsed()),
        )
        .await
    }

    /// What the executor says is live for `releases`, as report lines.
    pub(super) async fn live_status(
        &self,
        plan: &Plan,
        kind: ExecutorKind,
        releases: &[String],
    ) -> String {
        if releases.is_empty() || kind == ExecutorKind::Render {
            return if kind == ExecutorKind::Render {
                "Live: the render executor runs nothing; the record above is the state.\n".into()
            } else {
                String::new()
            };
        }
        let executor = match self.executor(kind).await {
            Ok(executor) => executor,
            Err(err) => return format!("Live: unknown ({err})\n"),
        };
        let mut lines = vec!["Live:".to_string()];
        for release in releases {
            let target = ReleaseTarget {
                release: release.clone(),
                namespace: plan.namespace.clone(),
                platform: plan.platform,
                dir: None,
            };
            match executor.status(&target).await {
                Ok(status) if !status.found => {
                    lines.push(format!("  {release}: nothing is running"))
                }
                Ok(status) => {
                    for c in status.components {
                        let problem = c.problem.map(|p| format!(" — {p}")).unwrap_or_default();
                        let scaled = c
                            .autoscaler
                            .map(|a| format!(", {}", a.describe()))
                            .unwrap_or_default();
                        lines.push(format!(
                            "  {release}/{}: {}/{} ready{scaled}{problem}",
                            c.name, c.ready, c.desired
                        ));
                    }
                }
                Err(err) => lines.push(format!("  {release}: {err}")),
            }
        }
        lines.join("\n") + "\n"
    }
}
