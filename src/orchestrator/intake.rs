//! From a sentence to a plan that waits for its go: record the request,
//! parse it (the rules, then the language model), plan it through the
//! verb's file ([`super::lifecycle::prepare`]), and start it, hold it for a
//! person (an admin in a protected namespace, a confirmation of what a
//! language model understood) or finish it (status, dry run).

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value as Json;

use super::{Actor, DeployOptions, Orchestrator, OrchestratorError, approval, lifecycle};
use crate::intent::{Action, Intent, Platform, Source};
use crate::plan::Overrides;
use crate::store::tokens::Role;
use crate::store::{IntentRecord, IntentStatus, NewEvent, NewIntent, StoreError};

impl Orchestrator {
    /// Records a new intent and understands it. A sentence that cannot be
    /// understood leaves the intent `failed` with the reason and suggestions
    /// (returned, not an error: the intent exists). Otherwise planning and,
    /// unless `confirm_first`, deploying go on in the background.
    pub async fn submit(
        self: &Arc<Self>,
        actor: &Actor,
        command: &str,
        options: DeployOptions,
        conversation_id: Option<String>,
        confirm_first: bool,
    ) -> Result<IntentRecord, OrchestratorError> {
        // A viewer may ask what is running, in words the rules understand,
        // and nothing else.
        if actor.role < Role::Deployer && !self.is_status_request(command).await? {
            return Err(OrchestratorError::Forbidden(format!(
                "{} is a {} and may not deploy",
                actor.name,
                actor.role.as_str()
            )));
        }
        let overrides = options.overrides()?;
        let new = NewIntent {
            command: command.to_string(),
            requested_by: actor.name.clone(),
            options: serde_json::to_value(&options).unwrap_or(Json::Null),
            conversation_id,
        };
        let (record, first) = self.store.call(move |s| s.create_intent(new)).await?;
        let _ = self.events.send(first);
        let id = record.id.clone();
        match self
            .understand_and_plan(actor, &id, &overrides, &options, confirm_first)
            .await
        {
            Ok(Some(())) => {}
            Ok(None) => return self.intent(&id).await,
            Err(err) => {
                // The intent exists: it must end failed (retryable), never
                // stay where the error stopped it; the caller hears at once.
                self.settle_in_background(&id, &err);
                return Err(err.into());
            }
        }
        let this = self.clone();
        let background = id.clone();
        let asking = actor.clone();
        tokio::spawn(async move { this.plan_and_deploy(&background, overrides, &asking).await });
        self.intent(&id).await
    }

    /// The synchronous part of [`Orchestrator::submit`]: parses and, when
    /// the answer must carry the plan, plans (and starts or holds) too.
    /// `Some(())` when planning and deploying are left to the background.
    pub(super) async fn understand_and_plan(
        self: &Arc<Self>,
        actor: &Actor,
        id: &str,
        overrides: &Overrides,
        options: &DeployOptions,
        confirm_first: bool,
    ) -> Result<Option<()>, StoreError> {
        let id = id.to_string();
        let Some(parsed) = self.parse_step(&id, overrides).await? else {
            return Ok(None);
        };
        // "promote grafana", "abort the grafana upgrade": words for a
        // rollout that runs, carried out now.
        if self.steers(&parsed) {
            self.steer_by_words(&id, actor, &parsed).await?;
            return Ok(None);
        }
        // An intent that may wait for a person (an admin's approval, or a
        // confirmation of what a language model understood) is answered
        // after planning, so the answer says whether it waits.
        let may_wait = parsed.source == Source::Llm
            || (actor.role != Role::Admin && !self.settings.protected_namespaces.is_empty());
        if options.dry_run || confirm_first || may_wait {
            // Planned now, so the answer carries the plan.
            let planned = self.plan_step(&id, overrides).await?;
            if planned && options.dry_run {
                self.transition(
                    &id,
                    None,
                    IntentStatus::Completed,
                    NewEvent::new(
                        "finish",
                        "completed",
                        "dry run: planned only, nothing was applied",
                    ),
                )
                .await?;
            } else if planned && !self.waits_for_a_person(&id, actor, !confirm_first).await? {
                if confirm_first {
                    // The front end shows the plan and asks its person.
                    let owned = id.clone();
                    self.store.call(move |s| s.hold_for_person(&owned)).await?;
                } else {
                    let this = self.clone();
                    let background = id.clone();
                    tokio::spawn(async move { this.start_confirmed(&background).await });
                }
            }
            return Ok(None);
        }
        Ok(Some(()))
    }

    /// Whether the rules read `command` as a status request, which changes
    /// nothing.
    pub(super) async fn is_status_request(&self, command: &str) -> Result<bool, StoreError> {
        Ok(self
            .parse_by_rules(command)
            .await?
            .is_ok_and(|intent| intent.action == Action::Status))
    }

    /// What the rules make of `command`. Lifecycle commands may name any
    /// recorded release ("remove authentik-postgresql"), removed ones too
    /// (their kept volumes).
    pub(super) async fn parse_by_rules(
        &self,
        command: &str,
    ) -> Result<Result<Intent, crate::intent::ParseFailure>, StoreError> {
        // Only the words that could be release names are looked up (by
        // index), never every release.
        let mut words: Vec<String> = command
            .to_lowercase()
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| !w.is_empty() && w.len() <= 63)
            .map(str::to_string)
            .collect();
        words.sort();
        words.dedup();
        words.truncate(200);
        let releases = self
            .store
            .call(move |s| s.release_names_among(&words))
            .await?;
        Ok(self.parser.parse_with_releases(command, &releases))
    }

    /// Whether changes in `namespace` need an admin's approval.
    pub fn is_protected(&self, namespace: Option<&str>) -> bool {
        namespace.is_some_and(|ns| self.settings.protected_namespaces.iter().any(|p| p == ns))
    }

    /// Whether a change in `namespace` by `actor` must wait for an admin.
    pub fn needs_admin(&self, namespace: Option<&str>, actor: &Actor) -> bool {
        actor.role != Role::Admin && self.is_protected(namespace)
    }

    /// Keeps a planned intent waiting for a person, with an event saying
    /// why; true when held. It waits for an admin in a protected namespace
    /// (unless `actor` is one), and, when its request would start it now
    /// (`starting`), for a confirmation of what a language model understood.
    /// An admin's request that starts now in a protected namespace records
    /// its approval.
    pub(super) async fn waits_for_a_person(
        &self,
        id: &str,
        actor: &Actor,
        starting: bool,
    ) -> Result<bool, StoreError> {
        let owned = id.to_string();
        let Some(record) = self.store.call(move |s| s.intent(&owned)).await? else {
            return Ok(false);
        };
        let namespace = record.namespace.as_deref();
        let hold = |id: &str| {
            let owned = id.to_string();
            self.store.call(move |s| s.hold_for_person(&owned))
        };
        if self.needs_admin(namespace, actor) {
            let message = format!(
                "namespace {} is protected: an admin must approve this intent (POST /api/orchestration/intents/{id}/confirm, or Approve in chat)",
                namespace.unwrap_or_default()
            );
            hold(id).await?;
            self.record(id, NewEvent::new("approval", "required", message))
                .await?;
            return Ok(true);
        }
        if !starting {
            return Ok(false);
        }
        let model = record
            .intent
            .as_ref()
            .filter(|i| i["source"] == "llm")
            .map(|i| i["model"].as_str().unwrap_or("in use").to_string());
        if let Some(model) = model {
            let message = format!(
                "understood by the language model {model}, so it waits for a person: check the plan, then confirm it (POST /api/orchestration/intents/{id}/confirm)"
            );
            hold(id).await?;
            self.record(
                id,
                NewEvent::new("confirm", "awaiting_confirmation", message),
            )
            .await?;
            return Ok(true);
        }
        if self.is_protected(namespace) {
            self.record(id, approval(actor, "with their own request"))
                .await?;
        }
        Ok(false)
    }

    /// Plans, then deploys unless the intent must wait for a person.
    pub(super) async fn plan_and_deploy(
        self: &Arc<Self>,
        id: &str,
        overrides: Overrides,
        actor: &Actor,
    ) {
        let result = async {
            if self.plan_step(id, &overrides).await?
                && !self.waits_for_a_person(id, actor, true).await?
            {
                self.start_confirmed(id).await;
            }
            Ok::<(), StoreError>(())
        }
        .await;
        if let Err(err) = result {
            self.settle_after_storage_error(id, &err.to_string()).await;
        }
    }

    /// Deploys a planned intent that its request itself confirmed.
    pub(super) async fn start_confirmed(&self, id: &str) {
        let result = async {
            self.transition(
                id,
                Some(&[IntentStatus::AwaitingConfirmation]),
                IntentStatus::Deploying,
                NewEvent::new("confirm", "deploying", "confirmed by the deploy request"),
            )
            .await?;
            self.deploy(id).await
        }
        .await;
        if let Err(err) = result {
            self.settle_after_storage_error(id, &err.to_string()).await;
        }
    }

    /// Parses (recording the parsed intent); `None` when the sentence could
    /// not become an intent (the intent is then `failed`).
    pub(super) async fn parse_step(
        &self,
        id: &str,
        overrides: &Overrides,
    ) -> Result<Option<Intent>, StoreError> {
        self.transition(
            id,
            Some(&[IntentStatus::Pending]),
            IntentStatus::Parsing,
            NewEvent::new("parse", "parsing", "understanding the request"),
        )
        .await?;
        let record = self
            .store
            .call({
                let id = id.to_string();
                move |s| s.intent(&id)
            })
            .await?;
        let Some(record) = record else {
            return Ok(None);
        };
        let started = Instant::now();
        let parsed = match self.parse_by_rules(&record.command).await? {
            Ok(intent) => Ok(intent),
            // Only what the rules cannot understand may reach the language
            // model; a request they understood with a wrong value (an invalid
            // namespace) goes back to the person, never to a model's guess.
            Err(failure) if !failure.understood => {
                self.ask_llm(id, &record.command, failure).await?
            }
            Err(failure) => Err(failure),
        };
        // The request's options go through the same validation.
        let parsed = parsed.and_then(|mut intent| {
            overrides
                .apply(&mut intent)
                .map(|()| intent)
                .map_err(crate::intent::ParseFailure::from)
        });
        match parsed {
            Ok(intent) => {
                let stored = intent.clone();
                let owned = id.to_string();
                self.store
                    .call(move |s| s.set_parsed(&owned, &stored))
                    .await?;
                self.record(
                    id,
                    NewEvent::new(
                        "parse",
                        "parsed",
                        match &intent.model {
                            Some(model) => format!(
                                "understood by the language model {model}: {}",
                                intent.summary()
                            ),
                            None => format!("understood: {}", intent.summary()),
                        },
                    )
                    .took(started.elapsed()),
                )
                .await?;
                Ok(Some(intent))
            }
            Err(failure) => {
                self.fail(id, failure.error.clone(), failure.suggestions.clone())
                    .await?;
                Ok(None)
            }
        }
    }

    /// Plans from the stored intent; true when the plan is ready and the
    /// intent waits for confirmation.
    pub(super) async fn plan_step(
        &self,
        id: &str,
        overrides: &Overrides,
    ) -> Result<bool, StoreError> {
        self.transition(
            id,
            Some(&[IntentStatus::Parsing]),
            IntentStatus::Planning,
            NewEvent::new("plan", "planning", "resolving dependencies and rendering"),
        )
        .await?;
        let started = Instant::now();
        match self.prepare(id, overrides).await? {
            Ok(prepared) => {
                let plan = prepared.plan();
                let executor = prepared.executor();
                let json = serde_json::to_value(plan).unwrap_or(Json::Null);
                let text = prepared.text();
                let (platform, namespace) = (plan.platform.to_string(), plan.namespace.clone());
                let owned = id.to_string();
                let stored_text = text.clone();
                self.store
                    .call(move |s| {
                        s.set_plan(
                            &owned,
                            &json,
                            &stored_text,
                            &platform,
                            &namespace,
                            executor.as_str(),
                        )
                    })
                    .await?;
                if let lifecycle::Prepared::Status {
                    releases, executor, ..
                } = &prepared
                {
                    // Status changes nothing: report what is live and finish.
                    self.report_status(id, plan, *executor, releases, &text, started)
                        .await?;
                    return Ok(false);
                }
                let summary = match &prepared {
                    lifecycle::Prepared::Remove { targets, .. } => format!(
                        "{} release(s) to remove: {}",
                        targets.len(),
                        targets.join(", ")
                    ),
                    _ => {
                        let releases: Vec<String> =
                            plan.releases.iter().map(|r| r.release.clone()).collect();
                        format!(
                            "{} release(s) in {} wave(s): {}",
                            releases.len(),
                            plan.waves.len(),
                            releases.join(", ")
                        )
                    }
                };
                self.record(
                    id,
                    NewEvent::new("plan", "planned", summary).took(started.elapsed()),
                )
                .await?;
                self.transition(
                    id,
                    Some(&[IntentStatus::Planning]),
                    IntentStatus::AwaitingConfirmation,
                    NewEvent::new("confirm", "awaiting_confirmation", "the plan is ready"),
                )
                .await?;
                Ok(true)
            }
            Err((message, suggestions)) => {
                self.fail(id, message, suggestions).await?;
                Ok(false)
            }
        }
    }

    /// What the stored intent will do (with the releases' stored secrets and
    /// what is installed); a refusal is a message with suggestions.
    pub(super) async fn prepare(
        &self,
        id: &str,
        overrides: &Overrides,
    ) -> Result<Result<lifecycle::Prepared, lifecycle::Refusal>, StoreError> {
        let record = self.intent(id).await.map_err(|e| match e {
            OrchestratorError::Store(s) => s,
            other => StoreError::NotFound(other.to_string()),
        })?;
        let Some(intent_json) = record.intent else {
            return Err(StoreError::NotFound(format!("parsed intent of {id}")));
        };
        let mut options: DeployOptions =
            serde_json::from_value(record.options.clone()).unwrap_or_default();
        if options.executor.is_none() {
            // Once chosen, an intent's executor stays: a retry runs where the
            // first run did, whatever the defaults are by then.
            options.executor = record
                .executor
                .as_deref()
                .and_then(|kind| serde_json::from_value(Json::String(kind.into())).ok());
        }
        let mut intent: Intent = serde_json::from_value(intent_json)?;
        if let Err(err) = overrides.apply(&mut intent) {
            return Ok(Err((err.to_string(), vec![])));
        }
        if options.delete_data {
            intent.parameters.delete_data = Some(true);
        }
        if options.cascade {
            intent.parameters.cascade = Some(true);
        }
        if intent.platform.is_none() && options.executor.is_none() {
            intent.platform = self.installed_platform(&intent).await?;
        }
        let executor = match self.choose_executor(&mut intent, &options) {
            Ok(kind) => kind,
            Err(message) => return Ok(Err((message, vec![]))),
        };
        let catalogue = self.catalogue.clone();
        let settings = self.settings.clone();
        let parser = self.parser.clone();
        let prepared = self
            .store
            .call(move |store| {
                lifecycle::prepare(
                    store,
                    &catalogue,
                    &parser,
                    &settings.render,
                    intent,
                    executor,
                    settings.default_platform,
                )
            })
            .await?;
        // An upgrade's strategy: where it can run, and its stages in the plan.
        Ok(prepared.and_then(|mut prepared| {
            super::strategy::prepare(&mut prepared, options.strategy.as_ref())?;
            Ok(prepared)
        }))
    }

    /// The platform the intent's applications were installed on, when the
    /// sentence names none: a change to an installed release goes where it
    /// runs (an upgrade of a release installed "on docker" stays on Docker).
    /// `None` for an install, when the releases are on the default platform,
    /// on none or on several (the default decides, as before).
    pub(super) async fn installed_platform(
        &self,
        intent: &Intent,
    ) -> Result<Option<Platform>, StoreError> {
        if intent.action == Action::Install || intent.applications.is_empty() {
            return Ok(None);
        }
        let namespace = intent
            .namespace
            .as_ref()
            .map_or(self.settings.render.namespace.clone(), |n| n.to_string());
        let names = intent.applications.clone();
        let platforms: std::collections::BTreeSet<String> = self
            .store
            .call(move |s| {
                let mut found = Vec::new();
                for name in &names {
                    found.extend(s.release(&namespace, name)?.into_iter().map(|r| r.platform));
                }
                Ok::<_, StoreError>(found)
            })
            .await?
            .into_iter()
            .collect();
        if platforms.len() != 1 {
            return Ok(None);
        }
        // The default platform is what an unsaid one means anyway (and
        // leaves the default executor in charge).
        Ok(platforms
            .iter()
            .next()
            .and_then(|p| serde_json::from_value::<Platform>(Json::String(p.clone())).ok())
            .filter(|p| *p != self.settings.default_platform))
    }
}
