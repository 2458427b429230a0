//! What an intent will do against what is installed, before anything runs:
//! the [`Context`] every verb prepares in (the store, what is installed in
//! the namespace, the planner and the releases' stored secrets), the
//! [`Prepared`] result a person sees and the deploy runs, and [`prepare`],
//! which hands the intent to its verb's file (Helm's `pkg/action` keeps one
//! file per verb over one `Configuration`; so do we): [`super::install`],
//! [`super::upgrade`], [`super::scale`], [`super::rollback`],
//! [`super::remove`], [`super::status`]. Runs inside the store's blocking
//! section.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value as Json;

use crate::catalogue::Catalogue;
use crate::execute::{ExecutorKind, ReleaseFile};
use crate::intent::{Action, Intent, Platform};
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

pub(super) fn refuse(message: impl Into<String>) -> Refusal {
    (message.into(), vec![])
}

/// The refusal of changes that a Kubernetes API server would refuse on
/// `release`'s existing objects (`refused`, from
/// [`crate::diff::refused_by_kubernetes`]), with what to do instead.
pub(super) fn immutable_refusal(release: &str, namespace: &str, refused: &[String]) -> Refusal {
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

/// A release as the store records it now: its last revision, blueprint
/// and status.
#[derive(Debug, Clone)]
pub(super) struct Installed {
    pub revision: RevisionRecord,
    pub blueprint: String,
    pub status: String,
}

/// The last revision of every release not removed in this platform and
/// namespace, by name (one indexed query: other namespaces cost nothing).
fn installed(
    store: &Store,
    platform: &str,
    namespace: &str,
) -> Result<BTreeMap<String, Installed>, StoreError> {
    Ok(store
        .current_revisions(platform, namespace)?
        .into_iter()
        .map(|(release, revision)| {
            (
                release.name,
                Installed {
                    revision,
                    blueprint: release.blueprint,
                    status: release.status,
                },
            )
        })
        .collect())
}

pub(super) fn stored_files(revision: &RevisionRecord) -> Vec<ReleaseFile> {
    serde_json::from_value(revision.manifests.clone()).unwrap_or_default()
}

pub(super) fn parameters_of(revision: &RevisionRecord) -> BTreeMap<String, Json> {
    revision
        .parameters
        .as_object()
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default()
}

/// What every verb prepares in: one platform and namespace, what is
/// installed there, a planner that knows it, and the releases' stored
/// secrets (an upgrade never changes a password).
pub(super) struct Context<'a> {
    pub store: &'a Store,
    pub render: &'a RenderOptions,
    pub platform: Platform,
    pub namespace: String,
    pub executor: ExecutorKind,
    pub installed: BTreeMap<String, Installed>,
    pub planner: Planner<'a>,
    pub secrets: StoredSecrets<'a>,
}

impl<'a> Context<'a> {
    fn new(
        store: &'a Store,
        catalogue: &'a Catalogue,
        parser: &std::sync::Arc<crate::intent::RuleParser>,
        render: &'a RenderOptions,
        intent: &Intent,
        executor: ExecutorKind,
        default_platform: Platform,
    ) -> Result<Self, StoreError> {
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
            .map(|(name, found)| {
                (
                    name.clone(),
                    Recorded {
                        blueprint: found.blueprint.clone(),
                        version: found.revision.version.clone(),
                        parameters: parameters_of(&found.revision),
                        revision: found.revision.number,
                    },
                )
            })
            .collect();
        let secrets = StoredSecrets::new(store, platform.as_str(), &namespace);
        Ok(Self {
            store,
            render,
            platform,
            namespace,
            executor,
            installed,
            planner,
            secrets,
        })
    }

    /// The key of `release` in this platform and namespace.
    pub fn key(&self, release: &str) -> ReleaseKey {
        ReleaseKey {
            platform: self.platform.to_string(),
            namespace: self.namespace.clone(),
            name: release.to_string(),
        }
    }
}

impl Context<'_> {
    /// Install, upgrade and scale: a fresh render of the intent as a new
    /// revision, with its diff against what is installed. A release an
    /// upgrade or scale does not change stays as it is (no apply, no new
    /// revision); a change Kubernetes would refuse on existing objects is
    /// refused here, with what to do instead.
    pub fn render_revision(&mut self, intent: Intent) -> Outcome {
        match self.planner.plan_intent(intent, &mut self.secrets) {
            Ok(mut plan) => {
                let mut diff = Vec::new();
                let mut previous = HashMap::new();
                let mut unchanged = BTreeSet::new();
                for release in &plan.releases {
                    let (files, _, _) = crate::execute::render::release_files(&plan, release);
                    match self.installed.get(&release.release) {
                        Some(Installed {
                            revision, status, ..
                        }) => {
                            let refused =
                                crate::diff::refused_by_kubernetes(&stored_files(revision), &files);
                            if !refused.is_empty() {
                                return Ok(Err(immutable_refusal(
                                    &release.release,
                                    &self.namespace,
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
                                if status == "deployed" && plan.intent.action != Action::Install {
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
                Ok(Ok(Prepared::Apply {
                    plan,
                    executor: self.executor,
                    diff,
                    stored: HashMap::new(),
                    previous,
                }))
            }
            Err(err) => Ok(Err((err.to_string(), err.suggestions()))),
        }
    }
}

/// What a verb's preparation gives: what it will do, or why not.
pub(super) type Outcome = Result<Result<Prepared, Refusal>, StoreError>;

/// Prepares `intent` (platform already decided) for `executor`, with the
/// catalogue's rule parser: the verb's own file decides what it means.
pub fn prepare(
    store: &Store,
    catalogue: &Catalogue,
    parser: &std::sync::Arc<crate::intent::RuleParser>,
    render: &RenderOptions,
    intent: Intent,
    executor: ExecutorKind,
    default_platform: Platform,
) -> Result<Result<Prepared, Refusal>, StoreError> {
    let mut cx = Context::new(
        store,
        catalogue,
        parser,
        render,
        &intent,
        executor,
        default_platform,
    )?;

    let outcome = match intent.action {
        Action::Promote | Action::Abort | Action::Pause => {
            // Words for a running rollout are carried out when they are
            // understood ([`super::strategy::control`]), never planned.
            return Ok(Err(refuse(format!(
                "{} steers a canary or blue-green upgrade while it runs; say it again (\"{} {}\") while one runs",
                intent.action,
                intent.action,
                intent.applications.join(" and ")
            ))));
        }
        Action::Status => super::status::prepare(&mut cx, intent),
        Action::Rollback => super::rollback::prepare(&mut cx, intent),
        Action::Remove => super::remove::prepare(&mut cx, intent),
        Action::Install => super::install::prepare(&mut cx, intent),
        Action::Upgrade => super::upgrade::prepare(&mut cx, intent),
        Action::Scale => super::scale::prepare(&mut cx, intent),
    }?;
    if let Some(err) = cx.secrets.error {
        return Err(err);
    }
    Ok(outcome)
}
