//! Install: a fresh render of the intent as the first revision of each
//! release (see [`super::lifecycle::Context::render_revision`]), applied in
//! waves; also the apply every changing verb runs (upgrade, scale and
//! rollback apply their new revision here too).

use std::collections::HashMap;

use super::Orchestrator;
use super::deploy::Run;
use super::lifecycle::{Context, Outcome};
use crate::execute::ReleaseFile;
use crate::intent::Intent;
use crate::store::StoreError;
use crate::store::releases::{ReleaseKey, RevisionRecord};

/// The new revision of every release the intent needs.
pub(super) fn prepare(cx: &mut Context<'_>, intent: Intent) -> Outcome {
    cx.render_revision(intent)
}

impl Orchestrator {
    /// Applies the plan's releases (a fresh render, or a rollback's stored
    /// files), records a revision for each that became ready, and ends the
    /// intent: completed with where to reach it, cancelled with what was
    /// applied, or failed (after an automatic rollback when atomic).
    pub(super) async fn apply_releases(
        &self,
        run: &Run<'_>,
        stored: &HashMap<String, Vec<ReleaseFile>>,
        previous: &HashMap<String, RevisionRecord>,
        atomic: bool,
    ) -> Result<(), StoreError> {
        let (id, plan, started) = (run.id, run.plan, run.started);
        let action = plan.intent.action.to_string();
        if plan.releases.is_empty() {
            // Everything is already as asked: nothing applied, no revision.
            let message = format!(
                "{action}: nothing to change, every release is already as asked ({})",
                plan.intent.applications.join(", ")
            );
            return self.finish_completed(id, message, started).await;
        }
        let (outcome, resources) = match self
            .run_releases(run, &plan.releases, stored, &action, run.token)
            .await?
        {
            Ok(found) => found,
            Err(message) => return self.fail(id, message, vec![]).await,
        };
        let owned = id.to_string();
        self.store
            .call(move |s| s.set_resources(&owned, &resources))
            .await?;

        if outcome.cancelled {
            return self.finish_cancelled(id, &outcome.applied, "applied").await;
        }
        if !outcome.succeeded() {
            let mut parts: Vec<String> = outcome
                .failed
                .iter()
                .map(|(release, reason)| format!("{release} failed: {reason}"))
                .collect();
            if !outcome.skipped.is_empty() {
                parts.push(format!(
                    "not started: {}",
                    outcome
                        .skipped
                        .iter()
                        .map(|(r, d)| format!("{r} (needs {d})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !outcome.ready.is_empty() {
                parts.push(format!("ready: {}", outcome.ready.join(", ")));
            }
            for (release, _) in &outcome.failed {
                let key = ReleaseKey {
                    platform: plan.platform.to_string(),
                    namespace: plan.namespace.clone(),
                    name: release.clone(),
                };
                self.store
                    .call(move |s| s.set_release_status(&key, "failed"))
                    .await?;
            }
            // Atomic upgrades go back to what was serving before.
            let rolled = self
                .roll_back_after_failure(run, &outcome, previous, atomic)
                .await?;
            parts.extend(rolled);
            return self.fail(id, parts.join("; "), vec![]).await;
        }
        let endpoints: Vec<String> = plan
            .releases
            .iter()
            .filter(|r| r.requested)
            .flat_map(|r| r.endpoints())
            .collect();
        self.metrics
            .deployment_duration
            .observe(started.elapsed().as_secs_f64());
        let reach = if endpoints.is_empty() {
            String::new()
        } else {
            format!("; reach it at {}", endpoints.join(", "))
        };
        let message = format!("{action}: {} ready{reach}", outcome.ready.join(", "));
        self.finish_completed(id, message, started).await
    }
}
