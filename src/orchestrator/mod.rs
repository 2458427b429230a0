//! The one orchestration path every front end uses (HTTP API, chat, CLI).
//!
//! An intent moves `pending → parsing → planning → awaiting_confirmation →
//! deploying → completed | failed | cancelled`; every transition is stored
//! with its event in one transaction and broadcast to live followers. Work
//! runs in the background: `submit` answers as soon as the sentence is
//! understood. Two intents that touch the same release never deploy at once:
//! the second waits its turn and says so. A restart marks what was mid-flight
//! `interrupted` ([`Orchestrator::recover`]); `retry` runs it again, which is
//! safe because applying is idempotent.

pub mod chat;
pub mod fallback;
pub mod lifecycle;
pub mod locks;
mod recovery;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::catalogue::Catalogue;
use crate::execute::compose::ComposeExecutor;
use crate::execute::kubernetes::KubernetesExecutor;
use crate::execute::render::RenderExecutor;
use crate::execute::{
    self, ExecError, Executor, ExecutorKind, ReleaseTarget, ReleaseWork, RunEvent, Runner,
};
use crate::intent::{Action, Domain, Intent, Namespace, Platform, Replicas, Source};
use crate::metrics::Metrics;
use crate::plan::{Overrides, Plan, PlanError, Planner};
use crate::render::{EphemeralSecrets, RenderOptions};
use crate::store::releases::{NewRevision, ReleaseKey};
use crate::store::tokens::Role;
use crate::store::{
    EventRecord, IntentRecord, IntentStatus, NewEvent, NewIntent, StoreError, StoreHandle,
};
use locks::ReleaseLocks;

/// Who is asking, as recorded (`requested_by`, `created_by`, events,
/// logs): typed, so that no name one kind of actor can choose is another
/// kind's id (a token named `admin` is `token:admin`, never `admin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorId {
    /// The quick-start admin token (`DECKHAND_API_TOKEN`): `admin`.
    Admin,
    /// A stored API token: `token:NAME`.
    Token(String),
    /// A chat user: `slack:ID`, `mattermost:ID`.
    Chat { platform: String, user: String },
    /// The person at the terminal: `cli:USER`.
    Cli(String),
}

impl std::fmt::Display for ActorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActorId::Admin => f.write_str("admin"),
            ActorId::Token(name) => write!(f, "token:{name}"),
            ActorId::Chat { platform, user } => write!(f, "{platform}:{user}"),
            ActorId::Cli(user) => write!(f, "cli:{user}"),
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The typed id as text ([`ActorId`]).
    pub name: String,
    pub role: Role,
}

impl Actor {
    /// An actor by its recorded id text (tests, stored records); front ends
    /// use [`Actor::of`].
    pub fn new(name: impl Into<String>, role: Role) -> Self {
        Self {
            name: name.into(),
            role,
        }
    }
    /// An actor with a typed id.
    pub fn of(id: ActorId, role: Role) -> Self {
        Self::new(id.to_string(), role)
    }
    /// May act on an intent: its owner, or an admin.
    fn owns(&self, intent: &IntentRecord) -> bool {
        self.role == Role::Admin || intent.requested_by == self.name
    }
}

/// What a request may set besides the sentence (options win over it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployOptions {
    pub namespace: Option<String>,
    pub domain: Option<String>,
    pub replicas: Option<i64>,
    pub platform: Option<Platform>,
    pub tls: Option<bool>,
    /// Plan only: nothing is applied.
    #[serde(default)]
    pub dry_run: bool,
    /// Run with this executor, whatever the sentence says.
    pub executor: Option<ExecutorKind>,
    /// For remove: delete persistent volumes too.
    #[serde(default)]
    pub delete_data: bool,
    /// For remove: also remove the dependencies nothing else needs ("and its
    /// dependencies").
    #[serde(default)]
    pub cascade: bool,
    /// For upgrade and scale: roll back by itself when it fails (default true).
    pub atomic: Option<bool>,
}

impl DeployOptions {
    /// Validated overrides, or what is wrong with them.
    pub fn overrides(&self) -> Result<Overrides, OrchestratorError> {
        let invalid = |e: crate::intent::ValueError| OrchestratorError::Invalid {
            message: e.to_string(),
            suggestions: vec![],
        };
        Ok(Overrides {
            platform: self.platform,
            namespace: self
                .namespace
                .as_deref()
                .map(Namespace::parse)
                .transpose()
                .map_err(invalid)?,
            domain: self
                .domain
                .as_deref()
                .map(Domain::parse)
                .transpose()
                .map_err(invalid)?,
            // 0..=100 here; [`Overrides::apply`] holds 0 for a scale only.
            replicas: self
                .replicas
                .map(Replicas::for_scale)
                .transpose()
                .map_err(|_| OrchestratorError::Invalid {
                    message: format!(
                        "invalid replica count {}: it must be between 1 and {} (0 only to scale to nothing)",
                        self.replicas.unwrap_or_default(),
                        Replicas::MAX
                    ),
                    suggestions: vec![],
                })?,
            tls: self.tls,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    Invalid {
        message: String,
        suggestions: Vec<String>,
    },
    /// A sentence that did not become an intent: what is wrong, where, and
    /// the question back with its choices when there is one.
    #[error("{0}")]
    Parse(crate::intent::ParseFailure),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Settings the orchestrator needs.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub render: RenderOptions,
    pub default_platform: Platform,
    pub data_dir: PathBuf,
    /// Executor when neither the request nor the sentence decides (`DECKHAND_EXECUTOR`).
    pub default_executor: Option<ExecutorKind>,
    pub kubeconfig: Option<PathBuf>,
    pub kube_context: Option<String>,
    /// Readiness timeout when the blueprint sets none.
    pub ready_timeout: Duration,
    /// Namespaces where a change starts only with an admin's approval.
    pub protected_namespaces: Vec<String>,
}

impl EngineSettings {
    /// Defaults around a data directory (render executor, 5 minute timeout).
    pub fn new(render: RenderOptions, default_platform: Platform, data_dir: PathBuf) -> Self {
        Self {
            render,
            default_platform,
            data_dir,
            default_executor: None,
            kubeconfig: None,
            kube_context: None,
            ready_timeout: Duration::from_secs(300),
            protected_namespaces: Vec::new(),
        }
    }
}

/// The orchestrator: one per process, shared by every front end.
pub struct Orchestrator {
    store: StoreHandle,
    catalogue: Arc<Catalogue>,
    /// The rule parser of `catalogue`, built once.
    parser: Arc<crate::intent::RuleParser>,
    settings: EngineSettings,
    pub metrics: Arc<Metrics>,
    events: broadcast::Sender<EventRecord>,
    running: Mutex<HashMap<String, CancellationToken>>,
    locks: ReleaseLocks,
    executors: Mutex<HashMap<ExecutorKind, Arc<dyn Executor>>>,
    making_executor: tokio::sync::Mutex<()>,
    /// The language model asked when the rules fail ([`fallback`]).
    llm: Mutex<Option<Arc<crate::intent::llm::LlmParser>>>,
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator")
            .field("settings", &self.settings)
            .finish()
    }
}

/// The event that records an admin's approval of a change in a protected
/// namespace: who, when and how.
fn approval(admin: &Actor, how: &str) -> NewEvent {
    NewEvent::new(
        "approval",
        "approved",
        format!(
            "approved by {} (admin) at {}, {how}",
            admin.name,
            crate::store::now()
        ),
    )
}

/// Statuses from which an intent can still be cancelled.
const CANCELLABLE: &[IntentStatus] = &[
    IntentStatus::Pending,
    IntentStatus::Parsing,
    IntentStatus::Planning,
    IntentStatus::AwaitingConfirmation,
    IntentStatus::Deploying,
];

impl Orchestrator {
    pub fn new(
        store: StoreHandle,
        catalogue: Arc<Catalogue>,
        settings: EngineSettings,
    ) -> Arc<Self> {
        let (events, _) = broadcast::channel(4096);
        Arc::new(Self {
            store,
            parser: Arc::new(crate::intent::RuleParser::new(&catalogue)),
            catalogue,
            settings,
            metrics: Arc::new(Metrics::new()),
            events,
            running: Mutex::new(HashMap::new()),
            locks: ReleaseLocks::default(),
            executors: Mutex::new(HashMap::new()),
            making_executor: tokio::sync::Mutex::new(()),
            llm: Mutex::new(None),
        })
    }

    /// Uses `executor` for `kind` from now on (tests, embedding).
    pub fn set_executor(&self, kind: ExecutorKind, executor: Arc<dyn Executor>) {
        self.executors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kind, executor);
    }

    /// The executor for `kind`, made on first use (a Kubernetes client is
    /// only built when an intent needs one; a failure is not remembered).
    pub async fn executor(&self, kind: ExecutorKind) -> Result<Arc<dyn Executor>, ExecError> {
        // One maker at a time: two intents starting together share one client.
        let _making = self.making_executor.lock().await;
        if let Some(found) = self
            .executors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&kind)
        {
            return Ok(found.clone());
        }
        let made: Arc<dyn Executor> = match kind {
            ExecutorKind::Render => Arc::new(RenderExecutor),
            ExecutorKind::Compose => Arc::new(ComposeExecutor::new()),
            ExecutorKind::Kubernetes => Arc::new(
                KubernetesExecutor::connect(
                    self.settings.kubeconfig.as_deref(),
                    self.settings.kube_context.as_deref(),
                )
                .await?,
            ),
        };
        self.executors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(kind)
            .or_insert(made.clone());
        Ok(made)
    }

    /// The executor an intent runs with, and the intent with the platform
    /// that executor needs filled in.
    pub fn choose_executor(
        &self,
        intent: &mut Intent,
        options: &DeployOptions,
    ) -> Result<ExecutorKind, String> {
        let kind = ExecutorKind::choose(
            options.executor,
            intent.platform,
            self.settings.default_executor,
        );
        if let Some(needed) = kind.platform() {
            match intent.platform {
                Some(said) if said != needed => {
                    return Err(format!(
                        "the {} executor cannot run a {said} plan; drop the executor option or say \"on {}\"",
                        kind.as_str(),
                        needed
                    ));
                }
                _ => intent.platform = Some(needed),
            }
        }
        Ok(kind)
    }

    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Live events of every intent (stored ones come from the store).
    pub fn subscribe(&self) -> broadcast::Receiver<EventRecord> {
        self.events.subscribe()
    }

    fn planner(&self) -> Planner<'_> {
        let mut planner = Planner::with_parser(
            &self.catalogue,
            self.settings.render.clone(),
            self.parser.clone(),
        );
        planner.default_platform = self.settings.default_platform;
        planner
    }

    /// The question back for a request whose sentence did not become an
    /// intent (two readings, an unknown name, a relative count), with the
    /// commands that answer it. The rules are deterministic, so reading the
    /// recorded sentence again gives the question that was asked.
    pub fn question_for(
        &self,
        record: &IntentRecord,
    ) -> Option<crate::intent::parse::failure::Question> {
        self.parse_failure_of(record)?.ask.map(|question| *question)
    }

    /// Why a recorded request's sentence did not become an intent (where the
    /// word to blame is, the question back), read again by the rules.
    pub fn parse_failure_of(&self, record: &IntentRecord) -> Option<crate::intent::ParseFailure> {
        if record.status != IntentStatus::Failed || record.intent.is_some() {
            return None;
        }
        self.parser.parse(&record.command).err()
    }

    /// What a sentence would do, nothing recorded or executed: the rules,
    /// then the language model when one is configured and the rules did not
    /// understand (what it understood is shown as the plan's intent, with
    /// `source: llm`). Rendering runs on the blocking pool, never on a front
    /// end's worker thread.
    pub async fn plan_only(
        self: &Arc<Self>,
        command: &str,
        options: &DeployOptions,
    ) -> Result<Plan, OrchestratorError> {
        let overrides = options.overrides()?;
        let llm = self.llm();
        let intent = crate::intent::llm::understand(
            &self.parser,
            llm.as_deref(),
            &self.catalogue,
            command,
            &[],
        )
        .await
        .map_err(OrchestratorError::Parse)?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            this.planner()
                .plan_parsed(intent, &overrides, &mut EphemeralSecrets::new())
                .map_err(plan_error)
        })
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
    }

    async fn record(&self, id: &str, event: NewEvent) -> Result<(), StoreError> {
        let id = id.to_string();
        let stored = self.store.call(move |s| s.add_event(&id, event)).await?;
        let _ = self.events.send(stored);
        Ok(())
    }

    async fn transition(
        &self,
        id: &str,
        from: Option<&'static [IntentStatus]>,
        to: IntentStatus,
        event: NewEvent,
    ) -> Result<(), StoreError> {
        let owned = id.to_string();
        let (stored, intent) = self
            .store
            .call(move |s| {
                let stored = s.transition(&owned, from, to, event)?;
                Ok::<_, StoreError>((stored, s.intent(&owned).ok().flatten()))
            })
            .await?;
        tracing::info!(
            target: "deckhand::intent",
            intent = id,
            actor = intent.as_ref().map_or("-", |i| i.requested_by.as_str()),
            status = to.as_str(),
            step = stored.step.as_str(),
            "{}",
            stored.message
        );
        let _ = self.events.send(stored);
        if to.is_terminal() {
            let action = intent
                .and_then(|i| i.action)
                .unwrap_or_else(|| "unknown".into());
            self.metrics.intent_finished(&action, to.as_str());
        }
        Ok(())
    }

    async fn fail(
        &self,
        id: &str,
        message: String,
        suggestions: Vec<String>,
    ) -> Result<(), StoreError> {
        let owned = id.to_string();
        let (error, hints) = (message.clone(), suggestions.clone());
        self.store
            .call(move |s| s.set_error(&owned, &error, &hints))
            .await?;
        self.transition(
            id,
            None,
            IntentStatus::Failed,
            NewEvent::new("finish", "failed", message),
        )
        .await
    }

    pub async fn intent(&self, id: &str) -> Result<IntentRecord, OrchestratorError> {
        let owned = id.to_string();
        self.store
            .call(move |s| s.intent(&owned))
            .await?
            .ok_or_else(|| OrchestratorError::NotFound(format!("intent {id}")))
    }

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
    async fn understand_and_plan(
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
    async fn is_status_request(&self, command: &str) -> Result<bool, StoreError> {
        Ok(self
            .parse_by_rules(command)
            .await?
            .is_ok_and(|intent| intent.action == Action::Status))
    }

    /// What the rules make of `command`. Lifecycle commands may name any
    /// recorded release ("remove authentik-postgresql"), removed ones too
    /// (their kept volumes).
    async fn parse_by_rules(
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
    async fn waits_for_a_person(
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
    async fn plan_and_deploy(self: &Arc<Self>, id: &str, overrides: Overrides, actor: &Actor) {
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
    async fn start_confirmed(&self, id: &str) {
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
    async fn parse_step(
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
    async fn plan_step(&self, id: &str, overrides: &Overrides) -> Result<bool, StoreError> {
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
                    let live = self.live_status(plan, *executor, releases).await;
                    let report = format!("{text}{live}");
                    let owned = id.to_string();
                    let json = serde_json::to_value(plan).unwrap_or(Json::Null);
                    let (platform, namespace) = (plan.platform.to_string(), plan.namespace.clone());
                    let kind = executor.as_str();
                    let stored_report = report.clone();
                    self.store
                        .call(move |s| {
                            s.set_plan(&owned, &json, &stored_report, &platform, &namespace, kind)
                        })
                        .await?;
                    self.transition(
                        id,
                        Some(&[IntentStatus::Planning]),
                        IntentStatus::Completed,
                        NewEvent::new("finish", "completed", report).took(started.elapsed()),
                    )
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
    async fn prepare(
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
        self.store
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
            .await
    }

    /// The platform the intent's applications were installed on, when the
    /// sentence names none: a change to an installed release goes where it
    /// runs (an upgrade of a release installed "on docker" stays on Docker).
    /// `None` for an install, when the releases are on the default platform,
    /// on none or on several (the default decides, as before).
    async fn installed_platform(&self, intent: &Intent) -> Result<Option<Platform>, StoreError> {
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

    /// Starts an intent that waits for confirmation.
    pub async fn confirm(
        self: &Arc<Self>,
        id: &str,
        actor: &Actor,
    ) -> Result<IntentRecord, OrchestratorError> {
        let record = self.intent(id).await?;
        if !actor.owns(&record) {
            return Err(OrchestratorError::Forbidden(format!(
                "intent {id} belongs to {}",
                record.requested_by
            )));
        }
        if record.status != IntentStatus::AwaitingConfirmation {
            return Err(OrchestratorError::Conflict(format!(
                "intent {id} is {}, not awaiting confirmation",
                record.status
            )));
        }
        if self.is_protected(record.namespace.as_deref()) {
            if self.needs_admin(record.namespace.as_deref(), actor) {
                return Err(OrchestratorError::Forbidden(format!(
                    "namespace {} is protected: only an admin can approve intent {id}, and {} is a {}",
                    record.namespace.unwrap_or_default(),
                    actor.name,
                    actor.role.as_str()
                )));
            }
            self.record(id, approval(actor, "by confirming it")).await?;
        }
        self.transition(
            id,
            Some(&[IntentStatus::AwaitingConfirmation]),
            IntentStatus::Deploying,
            NewEvent::new(
                "confirm",
                "deploying",
                format!("confirmed by {}", actor.name),
            ),
        )
        .await
        .map_err(conflict_from_store)?;
        let this = self.clone();
        let background = id.to_string();
        tokio::spawn(async move {
            if let Err(err) = this.deploy(&background).await {
                this.settle_after_storage_error(&background, &err.to_string())
                    .await;
            }
        });
        self.intent(id).await
    }

    /// Cancels an intent that has not finished.
    pub async fn cancel(&self, id: &str, actor: &Actor) -> Result<IntentRecord, OrchestratorError> {
        let record = self.intent(id).await?;
        if actor.role < Role::Deployer || !actor.owns(&record) {
            return Err(OrchestratorError::Forbidden(format!(
                "{} may not cancel intent {id}, which belongs to {}",
                actor.name, record.requested_by
            )));
        }
        if record.status.is_terminal() {
            return Err(OrchestratorError::Conflict(format!(
                "intent {id} is already {}",
                record.status
            )));
        }
        let token = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned();
        match token {
            // Deploying: the work stops itself and records what was applied.
            Some(token) => {
                self.record(
                    id,
                    NewEvent::new(
                        "cancel",
                        "cancelling",
                        format!("cancel requested by {}", actor.name),
                    ),
                )
                .await?;
                token.cancel();
                for _ in 0..200 {
                    if self.intent(id).await?.status.is_terminal() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
            }
            None => {
                self.transition(
                    id,
                    Some(CANCELLABLE),
                    IntentStatus::Cancelled,
                    NewEvent::new(
                        "finish",
                        "cancelled",
                        format!("cancelled by {} before anything was applied", actor.name),
                    ),
                )
                .await
                .map_err(conflict_from_store)?;
            }
        }
        self.intent(id).await
    }

    /// Runs a failed or interrupted intent again, from the start.
    pub async fn retry(
        self: &Arc<Self>,
        id: &str,
        actor: &Actor,
    ) -> Result<IntentRecord, OrchestratorError> {
        let record = self.intent(id).await?;
        if actor.role < Role::Deployer || !actor.owns(&record) {
            return Err(OrchestratorError::Forbidden(format!(
                "{} may not retry intent {id}, which belongs to {}",
                actor.name, record.requested_by
            )));
        }
        if !matches!(
            record.status,
            IntentStatus::Failed | IntentStatus::Interrupted
        ) {
            return Err(OrchestratorError::Conflict(format!(
                "only failed or interrupted intents can be retried; intent {id} is {}",
                record.status
            )));
        }
        let options: DeployOptions =
            serde_json::from_value(record.options.clone()).unwrap_or_default();
        let overrides = options.overrides()?;
        self.transition(
            id,
            Some(&[IntentStatus::Failed, IntentStatus::Interrupted]),
            IntentStatus::Pending,
            NewEvent::new(
                "retry",
                "pending",
                format!("retry requested by {}", actor.name),
            ),
        )
        .await
        .map_err(conflict_from_store)?;
        let parsed = match self.parse_step(id, &overrides).await {
            Ok(parsed) => parsed,
            Err(err) => {
                self.settle_in_background(id, &err);
                return Err(err.into());
            }
        };
        if parsed.is_some() {
            let this = self.clone();
            let background = id.to_string();
            let asking = actor.clone();
            tokio::spawn(
                async move { this.plan_and_deploy(&background, overrides, &asking).await },
            );
        }
        self.intent(id).await
    }

    /// Applies (or removes) the stored intent's plan with its executor.
    async fn deploy(&self, id: &str) -> Result<(), StoreError> {
        let token = CancellationToken::new();
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), token.clone());
        let result = self.deploy_inner(id, &token).await;
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        result
    }

    async fn deploy_inner(&self, id: &str, token: &CancellationToken) -> Result<(), StoreError> {
        let started = Instant::now();
        let record = self
            .intent(id)
            .await
            .map_err(|e| StoreError::NotFound(e.to_string()))?;
        let options: DeployOptions =
            serde_json::from_value(record.options.clone()).unwrap_or_default();
        let overrides = options.overrides().unwrap_or_default();
        // Plan, take the releases' locks, and when another intent held one,
        // plan again from what it left: a plan made before the wait would
        // undo the other intent's work.
        let mut held: Option<(locks::HeldLocks, Vec<String>)> = None;
        let prepared = loop {
            let prepared = match self.prepare(id, &overrides).await? {
                Ok(found) => found,
                Err((message, suggestions)) => return self.fail(id, message, suggestions).await,
            };
            let keys = lock_keys(&prepared);
            if let Some((_, taken)) = &held
                && keys.iter().all(|k| taken.contains(k))
            {
                break prepared;
            }
            // Locks held from a plan that changed are let go first.
            drop(held.take());
            for (key, holder) in self.locks.busy(&keys) {
                let message = format!("waiting for {}, which is changing {key}", who(holder));
                self.record(id, NewEvent::new("deploy", "waiting", message))
                    .await?;
            }
            let mut waits = Vec::new();
            let locks = tokio::select! {
                locks = self.locks.acquire(keys.clone(), id, |key, holder| waits.push((key.to_string(), holder))) => locks,
                _ = token.cancelled() => {
                    return self.transition(id, Some(CANCELLABLE), IntentStatus::Cancelled, NewEvent::new("finish", "cancelled", "cancelled while waiting for another intent; nothing was applied")).await;
                }
            };
            if waits.is_empty() {
                held = Some((locks, keys));
                break prepared;
            }
            for (key, holder) in waits {
                let message = format!(
                    "waited for {}, which was changing {key}; planning again from what it left",
                    who(holder)
                );
                self.record(id, NewEvent::new("deploy", "waited", message))
                    .await?;
            }
            held = Some((locks, keys));
        };
        let executor = match self.executor(prepared.executor()).await {
            Ok(executor) => executor,
            Err(err) => return self.fail(id, err.to_string(), vec![]).await,
        };
        let plan = prepared.plan();
        let result = match &prepared {
            lifecycle::Prepared::Remove { targets, .. } => {
                let delete_data =
                    options.delete_data || plan.intent.parameters.delete_data == Some(true);
                self.remove_releases(id, plan, targets, executor, delete_data, token, started)
                    .await
            }
            lifecycle::Prepared::Apply {
                stored, previous, ..
            } => {
                let atomic = options.atomic.unwrap_or(true);
                self.apply_releases(
                    id, &record, plan, stored, previous, atomic, executor, token, started,
                )
                .await
            }
            lifecycle::Prepared::Status { .. } => Ok(()),
        };
        drop(held);
        result
    }

    /// The release's files and objects: a fresh render, or the stored files of a revision.
    fn work_for(
        &self,
        plan: &Plan,
        release: &crate::render::RenderedRelease,
        stored: Option<&Vec<execute::ReleaseFile>>,
    ) -> Result<ReleaseParts, String> {
        let (files, objects, resources) = execute::render::release_files(plan, release);
        let Some(stored) = stored else {
            return Ok((files, objects, resources));
        };
        let objects = match plan.platform {
            Platform::Kubernetes => {
                let text = stored
                    .iter()
                    .find(|f| f.path == "manifests.yaml")
                    .map(|f| f.content.as_str())
                    .unwrap_or_default();
                crate::render::kubernetes::from_yaml(text)?
            }
            Platform::Compose => vec![],
        };
        Ok((stored.clone(), objects, resources))
    }

    /// Applies releases through the runner and records a revision for each one that became ready.
    #[allow(clippy::too_many_arguments)]
    async fn run_releases(
        &self,
        id: &str,
        record: &IntentRecord,
        plan: &Plan,
        releases: &[crate::render::RenderedRelease],
        stored: &HashMap<String, Vec<execute::ReleaseFile>>,
        action: &str,
        executor: Arc<dyn Executor>,
        token: &CancellationToken,
    ) -> Result<Result<(execute::RunOutcome, Vec<Json>), String>, StoreError> {
        let mut works = Vec::new();
        for release in releases {
            let key = ReleaseKey {
                platform: plan.platform.to_string(),
                namespace: plan.namespace.clone(),
                name: release.release.clone(),
            };
            let (files, objects, resources) =
                match self.work_for(plan, release, stored.get(&release.release)) {
                    Ok(found) => found,
                    Err(message) => return Ok(Err(format!("{}: {message}", release.release))),
                };
            let revision = self.store.call(move |s| s.next_revision(&key)).await?;
            let dir = execute::render::revision_dir(
                &self.settings.data_dir,
                &plan.namespace,
                &release.release,
                revision,
            );
            if let Err(err) = execute::render::write_release(&dir, &files) {
                return Ok(Err(format!(
                    "{}: cannot write {}: {err}",
                    release.release,
                    dir.display()
                )));
            }
            works.push(ReleaseWork {
                release: release.clone(),
                platform: plan.platform,
                namespace: plan.namespace.clone(),
                files,
                objects,
                resources,
                revision,
                dir,
            });
        }
        let by_name: HashMap<String, ReleaseWork> = works
            .iter()
            .map(|w| (w.release.release.clone(), w.clone()))
            .collect();
        let runner = Runner::new(executor, self.settings.ready_timeout);
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
        let run = async {
            let outcome = runner.run(works, &sender, token).await;
            drop(sender);
            outcome
        };
        let report = async {
            while let Some(event) = receiver.recv().await {
                let mut stored = NewEvent::new(
                    format!("release {}", event.release),
                    event.step.as_str(),
                    event.message,
                );
                if let Some(duration) = event.duration {
                    stored = stored.took(duration);
                }
                self.record(id, stored).await?;
            }
            Ok::<(), StoreError>(())
        };
        let (outcome, reported) = tokio::join!(run, report);
        reported?;
        let mut resources: Vec<Json> = Vec::new();
        for name in &outcome.ready {
            let work = &by_name[name];
            let revision = NewRevision {
                key: ReleaseKey {
                    platform: plan.platform.to_string(),
                    namespace: plan.namespace.clone(),
                    name: name.clone(),
                },
                blueprint: work.release.blueprint.clone(),
                intent_id: Some(id.to_string()),
                action: action.to_string(),
                version: work.release.version.clone(),
                parameters: serde_json::to_value(&work.release.parameters).unwrap_or(Json::Null),
                manifests: serde_json::to_value(&work.files).unwrap_or(Json::Null),
                dependencies: work.release.dependencies.clone(),
                created_by: record.requested_by.clone(),
            };
            let number = self
                .store
                .call(move |s| s.record_revision(&revision))
                .await?;
            self.record(
                id,
                NewEvent::new(
                    format!("release {name}"),
                    "recorded",
                    format!("revision {number} recorded ({action})"),
                ),
            )
            .await?;
            resources.extend(
                work.resources
                    .iter()
                    .map(|r| serde_json::to_value(r).unwrap_or(Json::Null)),
            );
        }
        Ok(Ok((outcome, resources)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_releases(
        &self,
        id: &str,
        record: &IntentRecord,
        plan: &Plan,
        stored: &HashMap<String, Vec<execute::ReleaseFile>>,
        previous: &HashMap<String, crate::store::releases::RevisionRecord>,
        atomic: bool,
        executor: Arc<dyn Executor>,
        token: &CancellationToken,
        started: Instant,
    ) -> Result<(), StoreError> {
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
            .run_releases(
                id,
                record,
                plan,
                &plan.releases,
                stored,
                &action,
                executor.clone(),
                token,
            )
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
                    .run_releases(
                        id, record, plan, &back, &files, "rollback", executor, &rollback,
                    )
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
                        parts.push(format!("rolled back {}", names.join(", ")));
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
                        parts.push(format!("the rollback failed too: {}", why.join("; ")));
                    }
                    Err(message) => parts.push(format!("the rollback could not start: {message}")),
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

    /// Removes `targets` in the given order (dependents first).
    #[allow(clippy::too_many_arguments)]
    async fn remove_releases(
        &self,
        id: &str,
        plan: &Plan,
        targets: &[String],
        executor: Arc<dyn Executor>,
        delete_data: bool,
        token: &CancellationToken,
        started: Instant,
    ) -> Result<(), StoreError> {
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
            match executor.delete(&target, delete_data).await {
                Ok(deleted) => {
                    let mut message = if deleted.removed.is_empty() {
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

    /// Ends a deploying intent as completed, with what it did.
    async fn finish_completed(
        &self,
        id: &str,
        message: String,
        started: Instant,
    ) -> Result<(), StoreError> {
        let event = NewEvent::new("finish", "completed", message).took(started.elapsed());
        self.transition(
            id,
            Some(&[IntentStatus::Deploying]),
            IntentStatus::Completed,
            event,
        )
        .await
    }

    /// Ends an intent as cancelled, saying what was already `done` ("applied", "removed").
    async fn finish_cancelled(
        &self,
        id: &str,
        done: &[String],
        verb: &str,
    ) -> Result<(), StoreError> {
        let done = if done.is_empty() {
            format!("nothing was {verb}")
        } else {
            format!("already {verb}, in full or in part: {}", done.join(", "))
        };
        let event = NewEvent::new("finish", "cancelled", format!("cancelled; {done}"));
        self.transition(id, Some(CANCELLABLE), IntentStatus::Cancelled, event)
            .await
    }

    /// What the executor says is live for `releases`, as report lines.
    async fn live_status(&self, plan: &Plan, kind: ExecutorKind, releases: &[String]) -> String {
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
                        lines.push(format!(
                            "  {release}/{}: {}/{} ready{problem}",
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

/// A release's files, Kubernetes objects and resources.
type ReleaseParts = (
    Vec<execute::ReleaseFile>,
    Vec<crate::render::kubernetes::KubeObject>,
    Vec<execute::Resource>,
);

fn lock_key(plan: &Plan, release: &str) -> String {
    format!("{}/{}/{release}", plan.platform, plan.namespace)
}

/// The locks a prepared intent needs: one per release it changes.
fn lock_keys(prepared: &lifecycle::Prepared) -> Vec<String> {
    let plan = prepared.plan();
    match prepared {
        lifecycle::Prepared::Remove { targets, .. } => {
            targets.iter().map(|name| lock_key(plan, name)).collect()
        }
        _ => plan
            .releases
            .iter()
            .map(|r| lock_key(plan, &r.release))
            .collect(),
    }
}

/// The intent holding a lock, for a person: "intent 1f40…".
fn who(holder: Option<String>) -> String {
    holder.map_or("another intent".to_string(), |h| format!("intent {h}"))
}

fn plan_error(err: PlanError) -> OrchestratorError {
    OrchestratorError::Invalid {
        suggestions: err.suggestions(),
        message: err.to_string(),
    }
}

fn conflict_from_store(err: StoreError) -> OrchestratorError {
    match err {
        StoreError::Conflict(message) => OrchestratorError::Conflict(message),
        other => OrchestratorError::Store(other),
    }
}
