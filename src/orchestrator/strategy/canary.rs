//! A canary upgrade on Kubernetes: for each stage below 100 % the stable
//! Deployments shrink to their share and a canary Deployment of the new
//! template runs the rest, behind the same Service (replica-weighted; see
//! [`crate::rollout::kubernetes::canary_stage`]). Each stage waits until
//! its pods are ready, then is validated for the stage's time (its pods
//! Ready with no restarts, checked every interval); with `pause` it then
//! waits for a promote. A failure, an abort or a cancel goes back to the
//! installed revision, which removes the canary. After the last stage the
//! caller applies the new revision as any upgrade does (the stable
//! Deployments take the new template at full size, the canary is pruned,
//! the revision is recorded).

use std::time::Instant;

use super::{Held, Steering, Word};
use crate::orchestrator::Orchestrator;
use crate::orchestrator::deploy::Run;
use crate::render::RenderedRelease;
use crate::render::kubernetes::KubeObject;
use crate::rollout::Timing;
use crate::rollout::kubernetes::{TRACK_LABEL, canary_stage};
use crate::store::StoreError;
use crate::store::releases::RevisionRecord;

impl Orchestrator {
    /// The canary's stages below 100 %; returns with the intent ended
    /// (gone back) or still deploying (every stage passed).
    pub(super) async fn run_canary(
        &self,
        run: &Run<'_>,
        steering: &mut Steering,
        release: &RenderedRelease,
        before: &RevisionRecord,
        (old, new): (Vec<KubeObject>, Vec<KubeObject>),
        timing: &Timing,
    ) -> Result<(), StoreError> {
        let id = run.id;
        let stages = run
            .plan
            .rollout
            .as_ref()
            .map(|r| r.stages.clone())
            .unwrap_or_default();
        let count = stages.len();
        let selector = format!(
            "app.kubernetes.io/instance={},{TRACK_LABEL}=canary",
            release.release
        );
        let revision = before.number + 1;
        let services = crate::rollout::kubernetes::routing_services(&old, &new);
        let weighted = crate::rollout::kubernetes::weighted_by_ingress(
            &new,
            run.plan.options.ingress_class.as_deref(),
        );
        let canary_services: Vec<String> = services
            .iter()
            .map(|s| crate::rollout::kubernetes::canary_name(s))
            .collect();
        let stable_pods = format!(
            "app.kubernetes.io/instance={},app.kubernetes.io/version={}",
            release.release,
            crate::rollout::kubernetes::version_of(&old).unwrap_or_default()
        );
        for (index, stage) in stages.iter().enumerate() {
            let percent = stage.percent.unwrap_or(100);
            if percent >= 100 {
                self.stage_event(
                    id,
                    "stage",
                    format!(
                        "stage {} of {count} (100%): promoting {} {}: the stable Deployments take the new version at full size and the canary is removed",
                        index + 1,
                        release.release,
                        release.version
                    ),
                    None,
                )
                .await?;
                return Ok(());
            }
            let planned = canary_stage(&old, &new, percent, weighted);
            let split: Vec<String> = planned
                .split
                .iter()
                .map(|(name, canary, stable)| {
                    format!(
                        "{name}: {canary} canary pod(s) of {} beside {stable} stable ({}% of the pods)",
                        release.version,
                        canary * 100 / (canary + stable)
                    )
                })
                .collect();
            let expected = planned.split.iter().map(|(_, c, _)| c).sum();
            let name = format!("stage {} of {count} ({percent}%)", index + 1);
            let traffic = if weighted {
                format!(
                    "; traffic: {percent}% of the requests through ingress-nginx (a canary Ingress with canary-weight {percent} and Service {}), the rest to the stable pods",
                    canary_services.join(", ")
                )
            } else {
                String::new()
            };
            self.stage_event(
                id,
                "stage",
                format!("{name}: {}{traffic}", split.join("; ")),
                None,
            )
            .await?;
            let started = Instant::now();
            let label = format!("canary-{percent}");
            match self
                .apply_stage(run, release, planned.objects, revision, &label, run.token)
                .await
            {
                Ok(done) => {
                    self.stage_event(
                        id,
                        "ready",
                        format!("{name}: the canary is ready ({done}); validating"),
                        Some(started.elapsed()),
                    )
                    .await?
                }
                Err(crate::execute::ExecError::Cancelled) => {
                    return self
                        .go_back(
                            run,
                            release,
                            before,
                            old,
                            format!("cancelled at {name}"),
                            true,
                        )
                        .await;
                }
                Err(err) => {
                    let reason = format!("the canary failed at {name}: {err}");
                    self.stage_event(id, "failed", reason.clone(), Some(started.elapsed()))
                        .await?;
                    return self.go_back(run, release, before, old, reason, false).await;
                }
            }
            let validating = Instant::now();
            let held = match self
                .hold_stage(run, steering, &selector, expected, timing, None)
                .await
            {
                // The traffic really reaches the canary.
                Held::Passed(checked) => {
                    let routed = if weighted {
                        // Each Service routes to its own version only.
                        match self
                            .check_routing(run, &canary_services, &selector, true)
                            .await
                        {
                            Ok(canary) => self
                                .check_routing(run, &services, &stable_pods, true)
                                .await
                                .map(|stable| format!("{canary}; {stable}")),
                            Err(why) => Err(why),
                        }
                    } else {
                        self.check_routing(run, &services, &selector, false).await
                    };
                    match routed {
                        Ok(routed) => Held::Passed(format!("{checked}; {routed}")),
                        Err(why) => Held::Failed(why),
                    }
                }
                other => other,
            };
            match held {
                Held::Passed(checked) => {
                    self.stage_event(
                        id,
                        "validated",
                        format!("{name} validated: {checked}"),
                        Some(validating.elapsed()),
                    )
                    .await?
                }
                Held::Promoted { by, checked } => {
                    self.stage_event(
                        id,
                        "promoted",
                        format!("{name} promoted by {by} before its time was up ({checked})"),
                        Some(validating.elapsed()),
                    )
                    .await?;
                    continue;
                }
                Held::Failed(why) => {
                    let reason = format!("the canary failed its validation at {name}: {why}");
                    self.stage_event(id, "failed", reason.clone(), Some(validating.elapsed()))
                        .await?;
                    return self.go_back(run, release, before, old, reason, false).await;
                }
                Held::Aborted(by) => {
                    let reason = format!("aborted by {by} at {name}");
                    return self.go_back(run, release, before, old, reason, true).await;
                }
                Held::Cancelled => {
                    let reason = format!("cancelled at {name}");
                    return self.go_back(run, release, before, old, reason, true).await;
                }
            }
            if timing.pause || steering.pause_asked.is_some() {
                let who = steering
                    .pause_asked
                    .take()
                    .map_or("the pause setting".to_string(), |by| {
                        format!("{by}'s pause")
                    });
                self.stage_event(
                    id,
                    "paused",
                    format!(
                        "{name} validated; waiting for promote ({who}): POST /api/orchestration/intents/{id}/promote or \"promote {}\", or abort to go back",
                        release.release
                    ),
                    None,
                )
                .await?;
                match self.await_word(run, steering, None).await {
                    Word::Promote(by) => {
                        self.stage_event(id, "promoted", format!("{name} promoted by {by}"), None)
                            .await?
                    }
                    Word::Abort(by) => {
                        let reason = format!("aborted by {by} after {name}");
                        return self.go_back(run, release, before, old, reason, true).await;
                    }
                    Word::Cancelled | Word::Elapsed => {
                        let reason = format!("cancelled after {name}");
                        return self.go_back(run, release, before, old, reason, true).await;
                    }
                }
            }
        }
        Ok(())
    }
}
