//! Upgrade: a fresh render as a new revision (see
//! [`super::lifecycle::Context::render_revision`]), applied like an install;
//! when it fails and is atomic (the default), what it changed goes back to
//! the revision that was serving before, as a new revision recorded as a
//! rollback. Scale runs the same way ([`super::scale`]).

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;

use super::Orchestrator;
use super::deploy::Run;
use super::lifecycle::{Context, Outcome};
use crate::execute::{self, RunOutcome};
use crate::intent::{Action, Intent};
use crate::store::releases::RevisionRecord;
use crate::store::{NewEvent, StoreError};

/// The new revision and its diff against the installed one.
pub(super) fn prepare(cx: &mut Context<'_>, intent: Intent) -> Outcome {
    cx.render_revision(intent)
}

impl Orchestrator {
    /// After a failed apply: an atomic upgrade, scale or rollback puts what
    /// it changed back to the revision that was serving before (`previous`);
    /// a non-atomic one keeps the failed state for debugging. Returns what
    /// to add to the failure's message.
    pub(super) async fn roll_back_after_failure(
        &self,
        run: &Run<'_>,
        outcome: &RunOutcome,
        previous: &HashMap<String, RevisionRecord>,
        atomic: bool,
    ) -> Result<Vec<String>, StoreError> {
        let (id, plan) = (run.id, run.plan);
        let action = plan.intent.action.to_string();
        let mut notes = Vec::new();
        let changed: Vec<&String> = outcome
            .applied
            .iter()
            .filter(|r| previous.contains_key(*r))
            .collect();
        if atomic && plan.intent.action != Action::Install && !changed.is_empty() {
            // What was serving before, as its revision recorded it: the
            // rollback revision carries that version and those
            // parameters, not the failed upgrade's.
            let back: Vec<crate::render::RenderedRelease> = plan
                .releases
                .iter()
                .filter(|r| changed.contains(&&r.release))
                .map(|r| {
                    let before = &previous[&r.release];
                    let mut release = r.clone();
                    release.version = before.version.clone();
                    release.parameters = serde_json::from_value(before.parameters.clone())
                        .unwrap_or_else(|_| r.parameters.clone());
                    release.dependencies = before.dependencies.clone();
                    release
                })
                .collect();
            let files: HashMap<String, Vec<execute::ReleaseFile>> = back
                .iter()
                .map(|r| {
                    (
                        r.release.clone(),
                        serde_json::from_value(previous[&r.release].manifests.clone())
                            .unwrap_or_default(),
                    )
                })
                .collect();
            let names: Vec<String> = back
                .iter()
                .map(|r| format!("{} to revision {}", r.release, previous[&r.release].number))
                .collect();
            self.record(
                id,
                NewEvent::new(
                    "rollback",
                    "rolling_back",
                    format!("the {action} failed; rolling back {}", names.join(", ")),
                ),
            )
            .await?;
            let rollback = CancellationToken::new();
            match self
                .run_releases(run, &back, &files, "rollback", &rollback)
                .await?
            {
                Ok((undo, _)) if undo.succeeded() => {
                    self.record(
                        id,
                        NewEvent::new(
                            "rollback",
                            "rolled_back",
                            format!(
                                "rolled back {}; the previous revision is serving",
                                names.join(", ")
                            ),
                        ),
                    )
                    .await?;
                    notes.push(format!("rolled back {}", names.join(", ")));
                }
                Ok((undo, _)) => {
                    let why: Vec<String> = undo
                        .failed
                        .iter()
                        .map(|(r, e)| format!("{r}: {e}"))
                        .collect();
                    self.record(
                        id,
                        NewEvent::new(
                            "rollback",
                            "failed",
                            format!("the rollback failed too: {}", why.join("; ")),
                        ),
                    )
                    .await?;
                    notes.push(format!("the rollback failed too: {}", why.join("; ")));
                }
                Err(message) => notes.push(format!("the rollback could not start: {message}")),
            }
        } else if !atomic && !changed.is_empty() {
            self.record(
                id,
                NewEvent::new(
                    "rollback",
                    "skipped",
                    "not atomic: the failed state is kept for debugging",
                ),
            )
            .await?;
        }
        Ok(notes)
    }
}
