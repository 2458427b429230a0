//! What each action means against what is installed (Helm's `pkg/action`
//! is the model): install, upgrade and scale render a new revision and show
//! its diff against the current one; rollback re-applies an earlier
//! revision's stored manifests as a new revision; remove picks its targets
//! (with their dependencies when asked), refuses while something else
//! depends on them, and orders them dependents first; status reports what is
//! recorded. Runs inside the store's blocking section.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value as Json;

use crate::catalogue::Catalogue;
use crate::execute::{ExecutorKind, ReleaseFile};
use crate::intent::{Action, Intent};
use crate::plan::{Plan, Planner, Recorded};
use crate::render::RenderOptions;
use crate::store::releases::{ReleaseKey, RevisionRecord, StoredSecrets};
use crate::store::{Store, StoreError};

/// What an intent will do, ready to show and to run.
#[derive(Debug)]
pub enum Prepared {
    /// Install, upgrade, scale or rollback: releases to apply.
    Apply {
        plan: Plan,
        executor: ExecutorKind,
        /// Changes against the current revisions, per line.
        diff: Vec<String>,
        /// Rollback: the stored files to apply instead of a fresh render.
        stored: HashMap<String, Vec<ReleaseFile>>,
        /// The revision each release had before (for automatic rollback).
        previous: HashMap<String, RevisionRecord>,
    },
    /// Remove these releases, in this order (dependents first).
    Remove {
        plan: Plan,
        executor: ExecutorKind,
        targets: Vec<String>,
        text: String,
    },
    /// Report only.
    Status {
        plan: Plan,
        executor: ExecutorKind,
        releases: Vec<String>,
        text: String,
    },
}

impl Prepared {
    pub fn plan(&self) -> &Plan {
        match self {
            Prepared::Apply { plan, .. }
            | Prepared::Remove { plan, .. }
            | Prepared::Status { plan, .. } => plan,
        }
    }
    pub fn executor(&self) -> ExecutorKind {
        match self {
            Prepared::Apply { executor, .. }
            | Prepared::Remove { executor, .. }
            | Prepared::Status { executor, .. } => *executor,
        }
    }
    /// The text a person sees before confirming.
    pub fn text(&self) -> String {
        match self {
            Prepared::Apply {
                plan,
                executor,
                diff,
                ..
            } => {
                let mut text = plan.to_text();
                if !diff.is_empty() {
                    text.push_str(
                        "\nChanges against the installed revisions (secret values masked):\n",
                    );
                    for line in diff {
                        text.push_str(&format!("  {line}\n"));
                    }
                }
                text.push_str(&format!("\nExecutor: {}\n", executor.as_str()));
                text
            }
            Prepared::Remove { text, executor, .. } | Prepared::Status { text, executor, .. } => {
                format!("{text}\nExecutor: {}\n", executor.as_str())
            }
        }
    }
}

/// A failure to prepare: the message and suggestions for the person.
pub type Refusal = (String, Vec<String>);

fn refuse(message: impl Into<String>) -> Refusal {
    (message.into(), vec![])
}

/// The refusal of changes that a Kubernetes API server would refuse on
/// `release`'s existing objects (`refused`, from
/// [`crate::diff::refused_by_kubernetes`]), with what to do instead.
fn immutable_refusal(release: &str, namespace: &str, refused: &[String]) -> Refusal {
    let instead = if refused.iter().any(|l| l.contains("volumeClaimTemplates")) {
        format!(
            "to grow a volume, expand the release's PersistentVolumeClaims themselves (`kubectl -n {namespace} get pvc -l app.kubernetes.io/instance={release}`, then `kubectl patch pvc` with the new size, where the StorageClass allows expansion) and leave the storage parameter as it is"
        )
    } else {
        format!("to change them, remove {release} and install it again")
    };
    refuse(format!(
        "cannot apply this to {release} in namespace {namespace}: Kubernetes does not allow these changes to objects that exist ({}); {instead}",
        refused.join("; ")
    ))
}

/// The last revision of every release not removed in this platform and
/// namespace, by name (one indexed query: other namespaces cost nothing).
fn installed(
    store: &Store,
    platform: &str,
    namespace: &str,
) -> Result<BTreeMap<String, (RevisionRecord, String, String)>, StoreError> {
    Ok(store
        .current_revisions(platform, namespace)?
        .into_iter()
        .map(|(release, revision)| (release.name, (revision, release.blueprint, release.status)))
        .collect())
}

fn stored_files(revision: &RevisionRecord) -> Vec<ReleaseFile> {
    serde_json::from_value(revision.manifests.clone()).unwrap_or_default()
}

fn parameters_of(revision: &RevisionRecord) -> BTreeMap<String, Json> {
    revision
        .parameters
        .as_object()
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default()
}

/// Prepares `intent` (platform already decided) for `executor`, with the
/// catalogue's rule parser.
pub fn prepare(
    store: &Store,
    catalogue: &Catalogue,
    parser: &std::sync::Arc<crate::intent::RuleParser>,
    render: &RenderOptions,
    intent: Intent,
    executor: ExecutorKind,
    default_platform: crate::intent::Platform,
) -> Result<Result<Prepared, Refusal>, StoreError> {
    let platform = intent.platform.unwrap_or(default_platform);
    let namespace = intent
        .namespace
        .as_ref()
        .map_or(render.namespace.clone(), |n| n.to_string());
    let installed = installed(store, platform.as_str(), &namespace)?;
    // The orchestrator's parser, built once: building one per plan cost
    // milliseconds, twice per deploy.
    let mut planner = Planner::with_parser(catalogue, render.clone(), parser.clone());
    planner.default_platform = default_platform;
    planner.recorded = installed
        .iter()
        .map(|(name, (revision, blueprint, _))| {
            (
                name.clone(),
                Recorded {
                    blueprint: blueprint.clone(),
                    version: revision.version.clone(),
                    parameters: parameters_of(revision),
                    revision: revision.number,
                },
            )
        })
        .collect();
    let mut secrets = StoredSecrets::new(store, platform.as_str(), &namespace);

    // Understood, not yet done: refused with the reason, never ignored.
    if let Some(strategy) = &intent.strategy {
        return Ok(Err(refuse(format!(
            "the {} strategy is not available yet: upgrade without it (a plain apply that rolls back when the new revision fails)",
            strategy.name()
        ))));
    }
    if intent.parameters.autoscale.is_some() {
        return Ok(Err(refuse(
            "autoscaling is not available yet: scale to a fixed number of replicas".to_string(),
        )));
    }
    let outcome = match intent.action {
        Action::Promote | Action::Abort => {
            return Ok(Err(refuse(format!(
                "there is no canary to {}: no upgrade waits between stages",
                intent.action
            ))));
        }
        Action::Status => {
            // A plan shell for the record; the report is the point.
            let mut shell = intent.clone();
            shell.action = Action::Install;
            shell.applications.clear();
            let plan = Plan::empty(shell, platform, namespace.clone(), render.clone());
            let wanted: Vec<&String> = if intent.applications.is_empty() {
                installed.keys().collect()
            } else {
                intent.applications.iter().collect()
            };
            let mut lines = vec![format!("Status in namespace {namespace} on {platform}:")];
            let mut releases = Vec::new();
            let host_ports = store.host_ports(platform.as_str())?;
            for name in wanted {
                match installed.get(name) {
                    Some((revision, blueprint, status)) => {
                        releases.push(name.clone());
                        let published: Vec<String> = host_ports
                            .iter()
                            .filter(|p| p.namespace == namespace && &p.release == name)
                            .map(|p| format!("http://127.0.0.1:{} ({})", p.host_port, p.port_name))
                            .collect();
                        lines.push(format!(
                            "  {name} — {blueprint} {}: {status}, revision {} ({} by {} at {}){}",
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
            Ok(Prepared::Status {
                plan,
                executor,
                releases,
                text: lines.join("\n") + "\n",
            })
        }
        Action::Rollback => {
            let mut stored = HashMap::new();
            let mut previous = HashMap::new();
            let mut target_intent = intent.clone();
            target_intent.action = Action::Upgrade;
            let mut versions = Vec::new();
            for app in &intent.applications {
                let key = ReleaseKey {
                    platform: platform.to_string(),
                    namespace: namespace.clone(),
                    name: app.clone(),
                };
                let revisions = store.revisions(&key)?;
                let Some(current) = revisions.last() else {
                    return Ok(Err(refuse(format!(
                        "nothing to roll back: {app} has no recorded revision in namespace {namespace} on {platform}"
                    ))));
                };
                let target = match intent.parameters.revision {
                    Some(number) => {
                        match revisions.iter().find(|r| r.number == i64::from(number)) {
                            Some(found) => found.clone(),
                            None => {
                                return Ok(Err(refuse(format!(
                                    "{app} has no revision {number}; it has revisions 1 to {}",
                                    current.number
                                ))));
                            }
                        }
                    }
                    None if revisions.len() < 2 => {
                        return Ok(Err(refuse(format!(
                            "nothing to roll back to: {app} has only revision {}",
                            current.number
                        ))));
                    }
                    None => revisions[revisions.len() - 2].clone(),
                };
                if let Some(entry) = planner.recorded.get_mut(app) {
                    entry.parameters = parameters_of(&target);
                }
                let refused = crate::diff::refused_by_kubernetes(
                    &stored_files(current),
                    &stored_files(&target),
                );
                if !refused.is_empty() {
                    return Ok(Err(immutable_refusal(app, &namespace, &refused)));
                }
                versions.push(target.version.clone());
                stored.insert(app.clone(), stored_files(&target));
                if stored_files(&target) != stored_files(current) {
                    previous.insert(app.clone(), current.clone());
                }
            }
            // Re-render at the target revisions for the plan; apply the stored files.
            let mut plans = Vec::new();
            for (app, version) in intent.applications.iter().zip(versions) {
                let mut one = target_intent.clone();
                one.applications = vec![app.clone()];
                one.parameters.version = crate::intent::Version::parse(&version).ok();
                one.parameters.replicas = None;
                match planner.plan_intent(one, &mut secrets) {
                    Ok(mut plan) => {
                        plan.releases.retain(|r| &r.release == app);
                        plans.push(plan);
                    }
                    Err(err) => return Ok(Err((err.to_string(), err.suggestions()))),
                }
            }
            let mut plan = plans.remove(0);
            for other in plans {
                plan.releases.extend(other.releases);
            }
            plan.intent = intent.clone();
            plan.waves = vec![plan.releases.iter().map(|r| r.release.clone()).collect()];
            let mut diff = Vec::new();
            for release in &plan.releases {
                let old = installed
                    .get(&release.release)
                    .map(|(r, _, _)| stored_files(r))
                    .unwrap_or_default();
                let new = stored.get(&release.release).cloned().unwrap_or_default();
                diff.extend(
                    crate::diff::diff(&old, &new)
                        .into_iter()
                        .map(|l| format!("{}: {l}", release.release)),
                );
            }
            Ok(Prepared::Apply {
                plan,
                executor,
                diff,
                stored,
                previous,
            })
        }
        Action::Remove => {
            let plan = Plan::empty(intent.clone(), platform, namespace.clone(), render.clone());
            let dependencies: BTreeMap<&String, &Vec<String>> = installed
                .iter()
                .map(|(n, (r, _, _))| (n, &r.dependencies))
                .collect();
            let mut targets: BTreeSet<String> = intent.applications.iter().cloned().collect();
            let mut notes = Vec::new();
            if intent.parameters.cascade == Some(true) {
                let mut queue: Vec<String> = targets.iter().cloned().collect();
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
                            .filter(|(n, deps)| {
                                !targets.contains(n.as_str()) && deps.contains(dependency)
                            })
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
                    |(r, b, _)| format!("{b} {}, revision {}", r.version, r.number),
                );
                lines.push(format!("  {name} ({recorded})"));
            }
            lines.push(if intent.parameters.delete_data == Some(true) {
                "  persistent volumes are deleted too (\"and its data\")".into()
            } else {
                "  persistent volumes are kept (say \"and its data\" to delete them)".into()
            });
            lines.extend(notes.into_iter().map(|n| format!("  note: {n}")));
            Ok(Prepared::Remove {
                plan,
                executor,
                targets: order,
                text: lines.join("\n") + "\n",
            })
        }
        Action::Install | Action::Upgrade | Action::Scale => {
            match planner.plan_intent(intent, &mut secrets) {
                Ok(mut plan) => {
                    let mut diff = Vec::new();
                    let mut previous = HashMap::new();
                    let mut unchanged = BTreeSet::new();
                    for release in &plan.releases {
                        let (files, _, _) = crate::execute::render::release_files(&plan, release);
                        match installed.get(&release.release) {
                            Some((revision, _, status)) => {
                                let refused = crate::diff::refused_by_kubernetes(
                                    &stored_files(revision),
                                    &files,
                                );
                                if !refused.is_empty() {
                                    return Ok(Err(immutable_refusal(
                                        &release.release,
                                        &namespace,
                                        &refused,
                                    )));
                                }
                                let lines = crate::diff::diff(&stored_files(revision), &files);
                                if lines.is_empty() {
                                    diff.push(format!(
                                        "{}: unchanged (revision {})",
                                        release.release, revision.number
                                    ));
                                    // An upgrade or scale leaves a deployed
                                    // release it does not change alone: no
                                    // apply, no new revision.
                                    if status == "deployed" && plan.intent.action != Action::Install
                                    {
                                        unchanged.insert(release.release.clone());
                                    }
                                } else {
                                    previous.insert(release.release.clone(), revision.clone());
                                }
                                diff.extend(
                                    lines
                                        .into_iter()
                                        .map(|l| format!("{}: {l}", release.release)),
                                );
                            }
                            None if plan.intent.action != Action::Install => {
                                diff.push(format!("{}: new release", release.release))
                            }
                            None => {}
                        }
                    }
                    // Releases an upgrade or scale does not change stay as they are.
                    plan.releases.retain(|r| !unchanged.contains(&r.release));
                    for wave in &mut plan.waves {
                        wave.retain(|r| !unchanged.contains(r));
                    }
                    plan.waves.retain(|w| !w.is_empty());
                    Ok(Prepared::Apply {
                        plan,
                        executor,
                        diff,
                        stored: HashMap::new(),
                        previous,
                    })
                }
                Err(err) => Err((err.to_string(), err.suggestions())),
            }
        }
    };
    if let Some(err) = secrets.error {
        return Err(err);
    }
    Ok(outcome)
}
