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
//!
//! The files, in the order an intent meets them: [`intake`] (submit, parse,
//! plan, hold or start), [`control`] (confirm, cancel, retry),
//! [`lifecycle`] (the context every verb prepares in) and one file per verb
//! ([`install`], [`upgrade`], [`scale`], [`rollback`], [`remove`],
//! [`status`]), [`strategy`] (an upgrade's canary, blue-green, rolling or
//! recreate, stage by stage, and promote/pause/abort), [`deploy`] (locks,
//! then the verb's run), [`recovery`]
//! (nothing stranded after a restart or a storage error).

pub mod chat;
mod control;
mod deploy;
pub mod fallback;
mod install;
mod intake;
pub mod lifecycle;
pub mod locks;
mod readiness;
mod recovery;
mod remove;
mod rollback;
mod scale;
mod status;
pub mod strategy;
mod upgrade;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::catalogue::Catalogue;
use crate::execute::compose::ComposeExecutor;
use crate::execute::kubernetes::KubernetesExecutor;
use crate::execute::render::RenderExecutor;
use crate::execute::{ExecError, Executor, ExecutorKind};
use crate::intent::{Domain, Intent, Namespace, Platform, Replicas};
use crate::metrics::Metrics;
use crate::plan::{Overrides, Plan, PlanError, Planner};
use crate::render::{EphemeralSecrets, RenderOptions};
use crate::store::tokens::Role;
use crate::store::{EventRecord, IntentRecord, IntentStatus, NewEvent, StoreError, StoreHandle};
use locks::ReleaseLocks;
pub use readiness::Readiness;

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
    /// For upgrade: how the new version is rolled out (canary, blue-green,
    /// rolling, recreate) and the strategy's settings; wins over the
    /// sentence's strategy.
    pub strategy: Option<crate::rollout::StrategyOptions>,
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
            strategy: match &self.strategy {
                Some(options) => {
                    crate::rollout::Timing::of(Some(options)).map_err(|message| {
                        OrchestratorError::Invalid {
                            message,
                            suggestions: vec![],
                        }
                    })?;
                    options
                        .strategy()
                        .map_err(|message| OrchestratorError::Invalid {
                            message,
                            suggestions: vec![],
                        })?
                }
                None => None,
            },
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
    /// One maker at a time per kind: two intents starting together share
    /// one client, and a slow cluster does not hold up the other kinds.
    making_executor: [tokio::sync::Mutex<()>; 3],
    /// Why the last Kubernetes connection failed (none once one succeeds).
    connect_failure: Mutex<Option<String>>,
    /// Kubernetes connections attempted so far.
    connect_attempts: std::sync::atomic::AtomicU64,
    /// A connection started by a readiness check is under way.
    readiness_connecting: std::sync::atomic::AtomicBool,
    /// The language model asked when the rules fail ([`fallback`]).
    llm: Mutex<Option<Arc<crate::intent::llm::LlmParser>>>,
    /// Canary and blue-green upgrades running now, for promote and abort.
    rollouts: strategy::Rollouts,
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator")
            .field("settings", &self.settings)
            .finish()
    }
}

/// The index of `kind` in [`Orchestrator::making_executor`].
fn executor_slot(kind: ExecutorKind) -> usize {
    match kind {
        ExecutorKind::Render => 0,
        ExecutorKind::Kubernetes => 1,
        ExecutorKind::Compose => 2,
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
            making_executor: Default::default(),
            connect_failure: Mutex::new(None),
            connect_attempts: Default::default(),
            readiness_connecting: Default::default(),
            llm: Mutex::new(None),
            rollouts: strategy::Rollouts::default(),
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
    /// only built when an intent needs one). A failure is not remembered
    /// for later callers, but those that waited for the attempt that failed
    /// get its error rather than each trying again in turn.
    pub async fn executor(&self, kind: ExecutorKind) -> Result<Arc<dyn Executor>, ExecError> {
        let cached = || {
            self.executors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&kind)
                .cloned()
        };
        if let Some(found) = cached() {
            return Ok(found);
        }
        let attempts = || self.connect_attempts.load(Ordering::SeqCst);
        let before = attempts();
        let _making = self.making_executor[executor_slot(kind)].lock().await;
        if let Some(found) = cached() {
            return Ok(found);
        }
        if kind == ExecutorKind::Kubernetes
            && attempts() != before
            && let Some(failure) = self
                .connect_failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        {
            return Err(ExecError::Unavailable(failure));
        }
        let made: Arc<dyn Executor> = match kind {
            ExecutorKind::Render => Arc::new(RenderExecutor),
            ExecutorKind::Compose => Arc::new(ComposeExecutor::new()),
            ExecutorKind::Kubernetes => {
                self.connect_attempts.fetch_add(1, Ordering::SeqCst);
                let connected = KubernetesExecutor::connect(
                    self.settings.kubeconfig.as_deref(),
                    self.settings.kube_context.as_deref(),
                )
                .await;
                *self
                    .connect_failure
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) =
                    connected.as_ref().err().map(|e| e.to_string());
                Arc::new(connected?)
            }
        };
        self.executors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(kind)
            .or_insert(made.clone());
        Ok(made)
    }

    /// Makes the default executor ahead of the first intent when it is the
    /// Kubernetes one (its client connected, the API server asked for its
    /// version). A failure is logged, not kept: the first intent that needs
    /// the cluster tries again and says why.
    pub async fn connect_default_executor(&self) {
        if self.settings.default_executor != Some(ExecutorKind::Kubernetes) {
            return;
        }
        if let Err(err) = self.executor(ExecutorKind::Kubernetes).await {
            tracing::warn!(target: "deckhand::kubernetes", error = %err, "the Kubernetes cluster is not reachable yet");
        }
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
