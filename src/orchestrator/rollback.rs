//! Rollback: re-applies an earlier revision's stored manifests (the one
//! before the current, or the one asked for) as a new revision, Helm's
//! model. The plan is rendered again at the target revision for a person to
//! read; what is applied is what that revision stored. Refused when
//! Kubernetes would refuse the change to existing objects.

use std::collections::HashMap;

use super::lifecycle::{
    Context, Outcome, Prepared, immutable_refusal, parameters_of, refuse, stored_files,
};
use crate::intent::{Action, Intent};

/// The stored files of the target revision of every named release, with a
/// plan rendered at it and the diff against what is installed.
pub(super) fn prepare(cx: &mut Context<'_>, intent: Intent) -> Outcome {
    let (platform, namespace) = (cx.platform, cx.namespace.clone());
    let mut stored = HashMap::new();
    let mut previous = HashMap::new();
    let mut target_intent = intent.clone();
    target_intent.action = Action::Upgrade;
    let mut versions = Vec::new();
    for app in &intent.applications {
        // A stack's members keep revisions of their own, which a stack
        // upgrade that left one unchanged did not add to: going back "one
        // revision" is not one step for each of them. Not built: said so.
        if let Some(found) = cx.installed.get(app).filter(|found| {
            cx.planner
                .catalogue
                .entry(&found.blueprint)
                .is_some_and(|e| e.blueprint.is_stack())
        }) {
            return Ok(Err(refuse(format!(
                "rolling back the stack {app} is not built yet: its members ({}) keep revisions of their own that do not line up step by step, and a member is not rolled back on its own; upgrade the stack (its members go to the versions it names, with what was said for it), or remove it and install it again",
                found.revision.dependencies.join(", ")
            ))));
        }
        let key = cx.key(app);
        let revisions = cx.store.revisions(&key)?;
        let Some(current) = revisions.last() else {
            return Ok(Err(refuse(format!(
                "nothing to roll back: {app} has no recorded revision in namespace {namespace} on {platform}"
            ))));
        };
        let target = match intent.parameters.revision {
            Some(number) => match revisions.iter().find(|r| r.number == i64::from(number)) {
                Some(found) => found.clone(),
                None => {
                    return Ok(Err(refuse(format!(
                        "{app} has no revision {number}; it has revisions 1 to {}",
                        current.number
                    ))));
                }
            },
            None if revisions.len() < 2 => {
                return Ok(Err(refuse(format!(
                    "nothing to roll back to: {app} has only revision {}",
                    current.number
                ))));
            }
            None => revisions[revisions.len() - 2].clone(),
        };
        if let Some(entry) = cx.planner.recorded.get_mut(app) {
            entry.parameters = parameters_of(&target);
        }
        let refused =
            crate::diff::refused_by_kubernetes(&stored_files(current), &stored_files(&target));
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
        match cx.planner.plan_intent(one, &mut cx.secrets) {
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
        let old = cx
            .installed
            .get(&release.release)
            .map(|found| stored_files(&found.revision))
            .unwrap_or_default();
        let new = stored.get(&release.release).cloned().unwrap_or_default();
        diff.extend(
            crate::diff::diff(&old, &new)
                .into_iter()
                .map(|l| format!("{}: {l}", release.release)),
        );
    }
    Ok(Ok(Prepared::Apply {
        plan,
        executor: cx.executor,
        diff,
        stored,
        previous,
    }))
}
