//! A blue-green upgrade on Kubernetes (see
//! [`crate::rollout::kubernetes::blue_green_stage`]): the Services are
//! pinned to blue's version (no pod restarts), green starts beside blue at
//! full size and is validated like a canary stage, then the Services'
//! selectors switch to green's version. Blue keeps running for an instant
//! switch back: an abort (or a cancel, or "roll back" of the release) moves
//! the selectors back and removes green; a promote, or the retention time,
//! retires blue. Retiring rolls blue's Deployments to the new template
//! while the Services still select green's version (no request reaches an
//! old pod again); then the caller applies the new revision as any upgrade
//! does, which prunes green and records the revision.

use std::time::Instant;

use super::{Held, Steering, Word};
use crate::execute::ExecError;
use crate::orchestrator::Orchestrator;
use crate::orchestrator::deploy::Run;
use crate::render::RenderedRelease;
use crate::render::kubernetes::KubeObject;
use crate::rollout::Timing;
use crate::rollout::kubernetes::{BlueGreenPhase, TRACK_LABEL, blue_green_stage, version_of};
use crate::store::StoreError;
use crate::store::releases::RevisionRecord;

/// What a switch back needs: blue's objects, the objects with green still
/// running, blue's pods, and why.
struct Back<'a> {
    old: Vec<KubeObject>,
    green: Vec<KubeObject>,
    blue_pods: &'a str,
    why: String,
    by_person: bool,
}

impl Orchestrator {
    /// Pin, green, switch, then wait to retire or switch back; returns with
    /// the intent ended (gone back) or still deploying (retire now).
    pub(super) async fn run_blue_green(
        &self,
        run: &Run<'_>,
        steering: &mut Steering,
        release: &RenderedRelease,
        before: &RevisionRecord,
        (old, new): (Vec<KubeObject>, Vec<KubeObject>),
        timing: &Timing,
    ) -> Result<(), StoreError> {
        let id = run.id;
        let revision = before.number + 1;
        let stage = |phase| blue_green_stage(&old, &new, phase);
        let (pinned, green, switched) = match (
            stage(BlueGreenPhase::Pinned),
            stage(BlueGreenPhase::Green),
            stage(BlueGreenPhase::Switched),
        ) {
            (Ok(p), Ok(g), Ok(s)) => (p, g, s),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                return self.fail(id, e, vec![]).await;
            }
        };
        let blue = version_of(&old).unwrap_or_default();
        let green_version = version_of(&new).unwrap_or_default();
        let expected = crate::rollout::kubernetes::changed_replicas(&old, &new);
        let services = crate::rollout::kubernetes::routing_services(&old, &new);
        let blue_pods = format!(
            "app.kubernetes.io/instance={},app.kubernetes.io/version={blue}",
            release.release
        );

        // Pin: the Services select blue only.
        self.stage_event(
            id,
            "stage",
            format!(
                "pin: the Services of {} select version {blue} (blue) only",
                release.release
            ),
            None,
        )
        .await?;
        if let Err(err) = self
            .apply_stage(run, release, pinned, revision, "pin", run.token)
            .await
        {
            let by_person = err == ExecError::Cancelled;
            let reason = format!("pinning the Services to blue failed: {err}");
            return self
                .go_back(run, release, before, old, reason, by_person)
                .await;
        }

        // Green beside blue, validated.
        self.stage_event(
            id,
            "stage",
            format!(
                "green: {} {green_version} starts beside blue at full size",
                release.release
            ),
            None,
        )
        .await?;
        let started = Instant::now();
        match self
            .apply_stage(run, release, green.clone(), revision, "green", run.token)
            .await
        {
            Ok(done) => {
                self.stage_event(
                    id,
                    "ready",
                    format!("green is ready ({done}); validating"),
                    Some(started.elapsed()),
                )
                .await?
            }
            Err(ExecError::Cancelled) => {
                return self
                    .go_back(
                        run,
                        release,
                        before,
                        old,
                        "cancelled while green started".into(),
                        true,
                    )
                    .await;
            }
            Err(err) => {
                let reason = format!("green failed: {err}");
                self.stage_event(id, "failed", reason.clone(), Some(started.elapsed()))
                    .await?;
                return self.go_back(run, release, before, old, reason, false).await;
            }
        }
        let selector = format!(
            "app.kubernetes.io/instance={},{TRACK_LABEL}=green",
            release.release
        );
        let validating = Instant::now();
        match self
            .hold_stage(run, steering, &selector, expected, timing, None)
            .await
        {
            Held::Passed(checked) | Held::Promoted { checked, .. } => {
                // Green runs, and no request reaches it yet.
                match self.check_routing(run, &services, &blue_pods, true).await {
                    Ok(routed) => {
                        self.stage_event(
                            id,
                            "validated",
                            format!("green validated: {checked}; blue still serves: {routed}"),
                            Some(validating.elapsed()),
                        )
                        .await?
                    }
                    Err(why) => {
                        let reason = format!("before the switch: {why}");
                        self.stage_event(id, "failed", reason.clone(), None).await?;
                        return self.go_back(run, release, before, old, reason, false).await;
                    }
                }
            }
            Held::Failed(why) => {
                let reason = format!("green failed its validation: {why}");
                self.stage_event(id, "failed", reason.clone(), Some(validating.elapsed()))
                    .await?;
                return self.go_back(run, release, before, old, reason, false).await;
            }
            Held::Aborted(by) => {
                let reason = format!("aborted by {by} before the switch");
                return self.go_back(run, release, before, old, reason, true).await;
            }
            Held::Cancelled => {
                let reason = "cancelled before the switch".to_string();
                return self.go_back(run, release, before, old, reason, true).await;
            }
        }

        // Switch.
        let started = Instant::now();
        if let Err(err) = self
            .apply_stage(
                run,
                release,
                switched.clone(),
                revision,
                "switch",
                run.token,
            )
            .await
        {
            let reason = format!("switching to green failed: {err}");
            let by_person = err == ExecError::Cancelled;
            return self
                .go_back(run, release, before, old, reason, by_person)
                .await;
        }
        let routed = match self.check_routing(run, &services, &selector, true).await {
            Ok(routed) => routed,
            Err(why) => {
                let reason = format!("the switch did not take: {why}");
                let back = Back {
                    old,
                    green,
                    blue_pods: &blue_pods,
                    why: reason,
                    by_person: false,
                };
                return self.switch_back(run, release, before, back).await;
            }
        };
        self.stage_event(
            id,
            "switched",
            format!(
                "switch: the Services of {} select version {green_version} (green; {routed}); blue ({blue}) keeps running for an instant switch back: abort (POST /api/orchestration/intents/{id}/abort, or \"abort the {} upgrade\") switches back; promote, or {} s, retires blue",
                release.release, release.release, timing.retire_after_seconds
            ),
            Some(started.elapsed()),
        )
        .await?;

        // Keep blue until retired, or switch back.
        let word = self
            .await_word(run, steering, Some(timing.retire_after()))
            .await;
        // Ok: why blue retires; Err: why traffic goes back to it.
        let decided = match word {
            Word::Promote(by) => Ok(format!("promoted by {by}")),
            Word::Elapsed => Ok(format!("kept for {} s", timing.retire_after_seconds)),
            Word::Abort(by) => Err(format!("aborted by {by}")),
            Word::Cancelled => Err("cancelled".to_string()),
        };
        let retire_by = match decided {
            Ok(retire_by) => retire_by,
            Err(why) => {
                let back = Back {
                    old,
                    green,
                    blue_pods: &blue_pods,
                    why,
                    by_person: true,
                };
                return self.switch_back(run, release, before, back).await;
            }
        };
        self.stage_event(
            id,
            "retiring",
            format!("retire: blue ({blue}) {retire_by}; its Deployments take version {green_version} while the Services stay on green"),
            None,
        )
        .await?;
        // Blue's Deployments roll to the new template; the Services still
        // select green's version, so no request reaches an old pod.
        let mut retiring = switched;
        for object in retiring.iter_mut() {
            if let KubeObject::Deployment(d) = object
                && let Some(fresh) = new.iter().find(|n| {
                    matches!(n, KubeObject::Deployment(_))
                        && n.name() == d.metadata.name.as_deref().unwrap_or_default()
                })
            {
                *object = fresh.clone();
            }
        }
        let started = Instant::now();
        if let Err(err) = self
            .apply_stage(run, release, retiring, revision, "retire", run.token)
            .await
        {
            let reason = format!("retiring blue failed: {err}");
            return self
                .go_back(
                    run,
                    release,
                    before,
                    old,
                    reason,
                    err == ExecError::Cancelled,
                )
                .await;
        }
        self.stage_event(
            id,
            "retired",
            format!("blue retired: every Deployment of {} runs {green_version}; the revision is applied next", release.release),
            Some(started.elapsed()),
        )
        .await
    }

    /// Moves the Services back to blue at once (and checks they route to
    /// blue's pods only), then removes green.
    async fn switch_back(
        &self,
        run: &Run<'_>,
        release: &RenderedRelease,
        before: &RevisionRecord,
        back: Back<'_>,
    ) -> Result<(), StoreError> {
        let Back {
            old,
            green,
            blue_pods,
            why,
            by_person,
        } = back;
        let started = Instant::now();
        let token = tokio_util::sync::CancellationToken::new();
        let services = crate::rollout::kubernetes::routing_services(&old, &green);
        let message = match self
            .apply_stage(
                run,
                release,
                green,
                before.number + 1,
                "switch-back",
                &token,
            )
            .await
        {
            Ok(_) => {
                let routed = self
                    .check_routing(run, &services, blue_pods, true)
                    .await
                    .unwrap_or_else(|why| format!("but {why}"));
                format!(
                    "switched back: the Services of {} select blue (revision {}) again; {routed}",
                    release.release, before.number
                )
            }
            Err(err) => format!("switching back failed: {err}"),
        };
        self.stage_event(
            run.id,
            "switched_back",
            message.clone(),
            Some(started.elapsed()),
        )
        .await?;
        self.go_back(
            run,
            release,
            before,
            old,
            format!("{why}; {message}"),
            by_person,
        )
        .await
    }
}
