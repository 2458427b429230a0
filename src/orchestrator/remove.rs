//! Remove: picks the targets (with the dependencies nothing else needs when
//! asked, "and its dependencies"), refuses while something else depends on
//! them, orders them dependents first, then deletes them one by one; volumes
//! are kept unless "and its data" was said.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::Orchestrator;
use super::deploy::Run;
use super::lifecycle::{Context, Outcome, Prepared};
use crate::execute::{self, ReleaseTarget};
use crate::intent::Intent;
use crate::plan::Plan;
use crate::store::releases::ReleaseKey;
use crate::store::{NewEvent, StoreError};

/// The targets in removal order, or why they cannot be removed.
pub(super) fn prepare(cx: &mut Context<'_>, intent: Intent) -> Outcome {
    let (render, platform) = (cx.render, cx.platform);
    let namespace = cx.namespace.clone();
    let installed = &cx.installed;
    let plan = Plan::empty(intent.clone(), platform, namespace.clone(), render.clone());
    let dependencies: BTreeMap<&String, &Vec<String>> = installed
        .iter()
        .map(|(n, found)| (n, &found.revision.dependencies))
        .collect();
    let mut targets: BTreeSet<String> = intent.applications.iter().cloned().collect();
    let mut notes = Vec::new();
    // A stack is removed as one: its members and what only they need go
    // with it, as "and its dependencies" does.
    let catalogue = cx.planner.catalogue;
    let is_stack = |name: &String| {
        installed.get(name).is_some_and(|found| {
            catalogue
                .entry(&found.blueprint)
                .is_some_and(|e| e.blueprint.is_stack())
        })
    };
    let cascade_from: Vec<String> = if intent.parameters.cascade == Some(true) {
        targets.iter().cloned().collect()
    } else {
        targets.iter().filter(|t| is_stack(t)).cloned().collect()
    };
    if !cascade_from.is_empty() {
        let mut queue = cascade_from;
        while let Some(name) = queue.pop() {
            for dependency in dependencies
                .get(&name)
                .map(|d| d.as_slice())
                .unwrap_or_default()
            {
                if targets.contains(dependency) {
                    continue;
                }
                let others: Vec<&String> = dependencies
                    .iter()
                    .filter(|(n, deps)| !targets.contains(n.as_str()) && deps.contains(dependency))
                    .map(|(n, _)| *n)
                    .collect();
                if others.is_empty() {
                    targets.insert(dependency.clone());
                    queue.push(dependency.clone());
                } else {
                    notes.push(format!(
                        "{dependency} stays: {} still needs it",
                        others
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
    }
    for target in &targets {
        let dependents: Vec<&String> = dependencies
            .iter()
            .filter(|(n, deps)| !targets.contains(n.as_str()) && deps.contains(target))
            .map(|(n, _)| *n)
            .collect();
        if !dependents.is_empty() {
            let names: Vec<&str> = dependents.iter().map(|s| s.as_str()).collect();
            return Ok(Err((
                format!(
                    "cannot remove {target}: {} depends on it; remove {} first, or say \"remove {} and its dependencies\"",
                    names.join(", "),
                    names.join(" and "),
                    names[0]
                ),
                names
                    .iter()
                    .map(|n| format!("remove {n} and its dependencies"))
                    .collect(),
            )));
        }
    }
    // Dependents first.
    let mut order = Vec::new();
    let mut left = targets.clone();
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|t| {
                !left.iter().any(|other| {
                    other != *t && dependencies.get(other).is_some_and(|d| d.contains(t))
                })
            })
            .cloned()
            .collect();
        let next = if ready.is_empty() {
            left.iter().cloned().collect()
        } else {
            ready
        };
        for name in next {
            left.remove(&name);
            order.push(name);
        }
    }
    let mut lines = vec![format!(
        "Remove in namespace {namespace} on {platform}, in this order:"
    )];
    for name in &order {
        let recorded = installed.get(name).map_or(
            "not recorded; whatever is live is removed".to_string(),
            |found| {
                format!(
                    "{} {}, revision {}",
                    found.blueprint, found.revision.version, found.revision.number
                )
            },
        );
        lines.push(format!("  {name} ({recorded})"));
    }
    lines.push(if intent.parameters.delete_data == Some(true) {
        "  persistent volumes are deleted too (\"and its data\")".into()
    } else {
        "  persistent volumes are kept (say \"and its data\" to delete them)".into()
    });
    lines.extend(notes.into_iter().map(|n| format!("  note: {n}")));
    Ok(Ok(Prepared::Remove {
        plan,
        executor: cx.executor,
        targets: order,
        text: lines.join("\n") + "\n",
    }))
}

impl Orchestrator {
    /// Removes `targets` in the given order (dependents first).
    pub(super) async fn remove_releases(
        &self,
        run: &Run<'_>,
        targets: &[String],
        delete_data: bool,
    ) -> Result<(), StoreError> {
        let Run {
            id,
            plan,
            executor,
            token,
            started,
            ..
        } = run;
        let (id, plan, started) = (*id, *plan, *started);
        let mut removed = Vec::new();
        let mut kept = Vec::new();
        for release in targets {
            if token.is_cancelled() {
                return self.finish_cancelled(id, &removed, "removed").await;
            }
            let step = format!("release {release}");
            let key = ReleaseKey {
                platform: plan.platform.to_string(),
                namespace: plan.namespace.clone(),
                name: release.clone(),
            };
            let latest = self
                .store
                .call({
                    let key = key.clone();
                    move |s| s.revisions(&key)
                })
                .await?
                .last()
                .map(|r| r.number);
            let target = ReleaseTarget {
                release: release.clone(),
                namespace: plan.namespace.clone(),
                platform: plan.platform,
                dir: latest
                    .map(|n| {
                        execute::render::revision_dir(
                            &self.settings.data_dir,
                            &plan.namespace,
                            release,
                            n,
                        )
                    })
                    .or_else(|| {
                        execute::render::latest_written_dir(
                            &self.settings.data_dir,
                            &plan.namespace,
                            release,
                        )
                    }),
            };
            let began = Instant::now();
            self.record(
                id,
                NewEvent::new(
                    step.clone(),
                    "removing",
                    format!("removing {release} with {}", executor.name()),
                ),
            )
            .await?;
            let blueprint = self
                .store
                .call({
                    let (namespace, name) = (plan.namespace.clone(), release.clone());
                    move |s| s.release(&namespace, &name)
                })
                .await?
                .into_iter()
                .find(|r| r.platform == plan.platform.as_str())
                .map(|r| r.blueprint);
            let stack = blueprint
                .and_then(|b| self.catalogue.entry(&b))
                .is_some_and(|e| e.blueprint.is_stack());
            let deleted = if stack {
                // Nothing of its own runs: its members were removed before it.
                Ok(execute::Deleted::default())
            } else {
                executor.delete(&target, delete_data).await
            };
            match deleted {
                Ok(deleted) => {
                    let mut message = if stack {
                        "a stack: its members were removed before it".to_string()
                    } else if deleted.removed.is_empty() {
                        "nothing of it was found".to_string()
                    } else {
                        format!("removed {}", deleted.removed.join(", "))
                    };
                    if !deleted.kept_volumes.is_empty() {
                        message.push_str(&format!(
                            "; kept volumes {} (say \"and its data\" to delete them)",
                            deleted.kept_volumes.join(", ")
                        ));
                        kept.extend(deleted.kept_volumes);
                    }
                    self.record(
                        id,
                        NewEvent::new(step, "removed", message).took(began.elapsed()),
                    )
                    .await?;
                    self.store
                        .call(move |s| {
                            s.set_release_status(&key, "removed")?;
                            // Its published host ports are free for others again.
                            s.free_host_ports(&key.platform, &key.namespace, &key.name)
                        })
                        .await?;
                    removed.push(release.clone());
                }
                Err(err) => {
                    let message = format!("{release}: {err}");
                    self.record(
                        id,
                        NewEvent::new(step, "failed", message.clone()).took(began.elapsed()),
                    )
                    .await?;
                    return self.fail(id, message, vec![]).await;
                }
            }
        }
        let kept = if kept.is_empty() {
            String::new()
        } else {
            format!("; volumes kept: {}", kept.join(", "))
        };
        let message = format!("removed: {}{kept}", removed.join(", "));
        self.finish_completed(id, message, started).await
    }
}
