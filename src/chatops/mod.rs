//! Chat-ops: the core that Slack ([`slack`]) and Mattermost ([`mattermost`])
//! share, and outgoing notifications ([`notify`]).
//!
//! What this module owns:
//! - [`ChatSettings`]: signing secret and token, the map from chat user ids,
//!   names or e-mails to deckhand roles (unknown users are viewers),
//!   protected namespaces, notification webhooks, the public URL;
//! - [`Chatops::command`]: one command text from a chat user becomes a
//!   platform-neutral [`Reply`]: `help`, `status [name]` (recorded
//!   releases and intents in flight), `list` (recent intents), `catalogue
//!   [query or category]`, or a deployment request, submitted through the one
//!   orchestration path with `confirm_first` so the plan is shown with
//!   Confirm and Cancel buttons;
//! - [`Chatops::press`]: a button (confirm, cancel, approve) on an intent;
//! - protected namespaces: a plan there is posted in the channel with an
//!   Approve button instead of Confirm; only admins may approve, and the
//!   approval (who, when) is recorded as an intent event before it starts;
//! - [`follow`]: after a confirmation, progress and the final result
//!   (endpoints, what was created, or the error) are posted to the request's
//!   `response_url` as the intent's events arrive. Slack allows five posts
//!   per `response_url`, so progress is batched: at most
//!   [`MAX_PROGRESS_POSTS`] progress posts, then the final one;
//! - [`reply_within`]: chat platforms want an answer within three seconds;
//!   a command that takes longer (a slow language model) is answered with
//!   "working on it" and its reply goes to the `response_url` when ready.
//!
//! Protection applies to deploys started from chat; the bearer-token API
//! keeps its own roles.

pub mod mattermost;
pub mod notify;
pub mod slack;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value as Json;
use tokio::sync::broadcast;

use crate::intent::Intent;
use crate::orchestrator::{Actor, DeployOptions, Orchestrator, OrchestratorError};
use crate::store::tokens::Role;
use crate::store::{EventRecord, IntentFilter, IntentRecord, IntentStatus};

/// Registers the Slack and Mattermost routes.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    slack::configure(cfg);
    mattermost::configure(cfg);
}

/// Chat settings (see `config`).
#[derive(Debug, Clone, Default)]
pub struct ChatSettings {
    pub slack_signing_secret: Option<String>,
    pub mattermost_token: Option<String>,
    /// Lower-case `platform:id`, user id or e-mail → role (never a user name).
    pub users: BTreeMap<String, Role>,
    pub notify_webhooks: Vec<String>,
    /// Where chat platforms reach deckhand (`https://deckhand.example.com`).
    pub public_url: Option<String>,
}

/// Who is typing, as the chat platform says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatUser {
    /// `slack` or `mattermost`.
    pub platform: &'static str,
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// A button on a plan message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Button {
    Confirm,
    Cancel,
    Approve,
}

impl Button {
    pub fn as_str(self) -> &'static str {
        match self {
            Button::Confirm => "confirm",
            Button::Cancel => "cancel",
            Button::Approve => "approve",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Button::Confirm => "Confirm",
            Button::Cancel => "Cancel",
            Button::Approve => "Approve",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "confirm" => Some(Button::Confirm),
            "cancel" => Some(Button::Cancel),
            "approve" => Some(Button::Approve),
            _ => None,
        }
    }
}

/// What deckhand answers, before a platform formats it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reply {
    /// The headline, in Markdown both platforms read (`*`, backticks).
    pub text: String,
    /// Preformatted sections (the plan, a report).
    pub sections: Vec<String>,
    pub buttons: Vec<Button>,
    /// The intent the buttons act on.
    pub intent_id: Option<String>,
    /// Commands that answer a question back; each becomes a button that
    /// sends it as the person's next command.
    pub choices: Vec<String>,
    /// Shown to the channel (approval requests), not only to the person.
    pub public: bool,
}

impl Reply {
    pub fn say(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
    fn with_section(mut self, section: impl Into<String>) -> Self {
        let section = section.into();
        if !section.trim().is_empty() {
            self.sections.push(section);
        }
        self
    }
    /// Everything as one text (webhooks, fallbacks).
    pub fn plain(&self) -> String {
        let mut out = self.text.clone();
        for section in &self.sections {
            out.push_str("\n```\n");
            out.push_str(section.trim_end());
            out.push_str("\n```");
        }
        for (n, choice) in self.choices.iter().enumerate() {
            out.push_str(&format!("\n{}. `{choice}`", n + 1));
        }
        out
    }
}

/// The outcome of a button press.
#[derive(Debug, Clone)]
pub struct Pressed {
    pub reply: Reply,
    /// The intent started: follow its progress.
    pub started: bool,
    /// The buttons are spent (started or cancelled): the message is replaced.
    pub done: bool,
}

/// The shared chat-ops state: settings and the HTTP client for
/// `response_url`s and webhooks (the replay memory is in the store).
pub struct Chatops {
    pub settings: ChatSettings,
    pub http: reqwest::Client,
}

impl std::fmt::Debug for Chatops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chatops")
            .field("users", &self.settings.users.len())
            .finish()
    }
}

/// Slack allows five posts per `response_url`: the confirmation, at most
/// this many progress posts, and the final result.
pub const MAX_PROGRESS_POSTS: usize = 3;
/// How long a chat command may take before "working on it" is answered.
pub const REPLY_DEADLINE: Duration = Duration::from_millis(2_000);
/// Slack shows at most 3,000 characters per section.
const SECTION_LIMIT: usize = 2_800;

const HELP: &str = "*deckhand* deploys from the catalogue. Try:\n\
• `install authentik with TLS in namespace auth` — shows the plan; press Confirm to go ahead\n\
• `upgrade grafana to 11.2`, `scale grafana to 3`, `remove grafana`, `roll back grafana`\n\
• `status` or `status grafana` — what is installed and what is running now\n\
• `list` — the latest requests\n\
• `catalogue` or `catalogue database` — search the catalogue\n\
• `help` — this text";

impl Chatops {
    pub fn new(settings: ChatSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self { settings, http }
    }

    /// The role a chat user has, by what the user cannot choose: the most
    /// specific of `platform:id`, the bare id, or the e-mail when the
    /// platform sends one; viewer when unknown. Never by user name: people
    /// pick their own, so a name would let anyone take an admin's role.
    pub fn role_of(&self, user: &ChatUser) -> Role {
        let keys = [
            Some(format!("{}:{}", user.platform, user.id)),
            Some(user.id.clone()),
            user.email.clone(),
        ];
        keys.into_iter()
            .flatten()
            .find_map(|key| self.settings.users.get(&key.to_lowercase()).copied())
            .unwrap_or(Role::Viewer)
    }

    /// The deckhand actor for a chat user (`slack:U123`).
    pub fn actor(&self, user: &ChatUser) -> Actor {
        Actor::of(
            crate::orchestrator::ActorId::Chat {
                platform: user.platform.to_string(),
                user: user.id.clone(),
            },
            self.role_of(user),
        )
    }

    /// Answers one command text.
    pub async fn command(&self, orch: &Arc<Orchestrator>, user: &ChatUser, text: &str) -> Reply {
        let text = text.trim();
        let (first, rest) = match text.split_once(char::is_whitespace) {
            Some((first, rest)) => (first.to_lowercase(), rest.trim()),
            None => (text.to_lowercase(), ""),
        };
        let result = match first.as_str() {
            "" | "help" | "?" => Ok(Reply::say(HELP)),
            "status" if !status_target(rest).contains(' ') => {
                let target = status_target(rest);
                self.status(orch, Some(target).filter(|r| !r.is_empty()))
                    .await
            }
            "list" if rest.is_empty() => self.recent(orch).await,
            "catalogue" | "catalog" | "search" => Ok(catalogue_reply(orch, rest)),
            _ => Ok(self.request(orch, user, text).await),
        };
        result.unwrap_or_else(|err| Reply::say(format!("Something went wrong: {err}")))
    }

    async fn status(
        &self,
        orch: &Arc<Orchestrator>,
        name: Option<&str>,
    ) -> Result<Reply, OrchestratorError> {
        let releases = orch.store().call(|s| s.releases()).await?;
        let lower = name.map(str::to_lowercase);
        let shown: Vec<String> = releases
            .iter()
            .filter(|r| {
                lower
                    .as_deref()
                    .is_none_or(|n| r.name.contains(n) || r.namespace == n)
            })
            .map(|r| {
                format!(
                    "{:<28} {:<12} {:<10} {:<10} revision {}",
                    r.name,
                    r.namespace,
                    r.platform,
                    r.status,
                    r.current_revision
                        .map_or("-".to_string(), |n| n.to_string())
                )
            })
            .collect();
        let (intents, _) = orch
            .store()
            .call(|s| {
                s.list_intents(&IntentFilter {
                    limit: 50,
                    ..IntentFilter::default()
                })
            })
            .await?;
        let busy: Vec<String> = intents
            .iter()
            .filter(|i| !i.status.is_terminal())
            .map(intent_line)
            .collect();
        let what = name.map_or(String::new(), |n| format!(" matching `{n}`"));
        let mut reply = Reply::say(if shown.is_empty() {
            format!("No releases recorded{what}.")
        } else {
            format!("{} release(s) recorded{what}:", shown.len())
        })
        .with_section(shown.join("\n"));
        if !busy.is_empty() {
            reply = reply.with_section(format!("In progress:\n{}", busy.join("\n")));
        }
        Ok(reply)
    }

    async fn recent(&self, orch: &Arc<Orchestrator>) -> Result<Reply, OrchestratorError> {
        let (intents, total) = orch
            .store()
            .call(|s| {
                s.list_intents(&IntentFilter {
                    limit: 10,
                    ..IntentFilter::default()
                })
            })
            .await?;
        if intents.is_empty() {
            return Ok(Reply::say("No requests yet."));
        }
        let lines: Vec<String> = intents.iter().map(intent_line).collect();
        Ok(
            Reply::say(format!("The latest {} of {total} request(s):", lines.len()))
                .with_section(lines.join("\n")),
        )
    }

    async fn request(&self, orch: &Arc<Orchestrator>, user: &ChatUser, text: &str) -> Reply {
        let actor = self.actor(user);
        // Viewers may ask what is running ("what's running in namespace
        // auth"); the orchestrator refuses them anything else.
        let intent = match orch
            .submit(&actor, text, DeployOptions::default(), None, true)
            .await
        {
            Ok(intent) => intent,
            Err(OrchestratorError::Forbidden(_)) if actor.role < Role::Deployer => {
                return Reply::say(format!(
                    "You are a viewer in deckhand, so you cannot deploy (chat users deckhand does not know are viewers). \
                     Ask an admin to give `{}` the deployer role in `chat_users`. You can still ask what is running, and use `status`, `list` and `catalogue`.",
                    user.id
                ));
            }
            Err(err) => return Reply::say(format!("I cannot do that: {err}")),
        };
        match intent.status {
            IntentStatus::AwaitingConfirmation => self.plan_reply(orch, &intent, user),
            IntentStatus::Completed => {
                Reply::say(format!("{} (intent `{}`)", understood(&intent), intent.id))
                    .with_section(clip(intent.plan_text.as_deref().unwrap_or_default()))
            }
            _ => {
                let error = intent
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("the request is {}", intent.status));
                // Two readings, an unknown name, a relative count: ask, with
                // the answers as buttons.
                if let Some(question) = orch.question_for(&intent) {
                    return Reply {
                        text: format!("{error}\n*{}*", question.question),
                        choices: question.choices,
                        intent_id: Some(intent.id.clone()),
                        ..Reply::default()
                    };
                }
                let mut text = format!("I could not plan that: {error}");
                if !intent.suggestions.is_empty() && !error.contains("did you mean") {
                    text.push_str(&format!("\nTry: {}", intent.suggestions.join(" | ")));
                }
                Reply::say(text)
            }
        }
    }

    fn plan_reply(&self, orch: &Orchestrator, intent: &IntentRecord, user: &ChatUser) -> Reply {
        let plan = clip(intent.plan_text.as_deref().unwrap_or_default());
        if orch.is_protected(intent.namespace.as_deref()) {
            let namespace = intent.namespace.clone().unwrap_or_default();
            Reply {
                text: format!(
                    "{} — requested by {}. Namespace `{namespace}` is protected: an admin must press Approve before it runs (intent `{}`).",
                    understood(intent),
                    mention(user),
                    intent.id
                ),
                sections: vec![plan],
                buttons: vec![Button::Approve, Button::Cancel],
                intent_id: Some(intent.id.clone()),
                choices: Vec::new(),
                public: true,
            }
        } else {
            Reply {
                text: format!(
                    "{}. Here is the plan; shall I go ahead? (intent `{}`)",
                    understood(intent),
                    intent.id
                ),
                sections: vec![plan],
                buttons: vec![Button::Confirm, Button::Cancel],
                intent_id: Some(intent.id.clone()),
                choices: Vec::new(),
                public: false,
            }
        }
    }

    /// Acts on a button press.
    pub async fn press(
        &self,
        orch: &Arc<Orchestrator>,
        user: &ChatUser,
        button: Button,
        intent_id: &str,
    ) -> Pressed {
        let actor = self.actor(user);
        let refuse = |text: String| Pressed {
            reply: Reply::say(text),
            started: false,
            done: false,
        };
        let record = match orch.intent(intent_id).await {
            Ok(record) => record,
            Err(err) => return refuse(format!("I cannot find that request: {err}")),
        };
        let protected = orch.is_protected(record.namespace.as_deref());
        match button {
            Button::Cancel => match orch.cancel(intent_id, &actor).await {
                Ok(_) => Pressed {
                    reply: Reply::say(format!(
                        "Cancelled by {}: nothing was changed (intent `{intent_id}`).",
                        mention(user)
                    )),
                    started: false,
                    done: true,
                },
                Err(err) => refuse(format!("Not cancelled: {err}")),
            },
            Button::Confirm if protected => refuse(format!(
                "Namespace `{}` is protected: this needs an admin's approval (the Approve button), not a confirmation.",
                record.namespace.unwrap_or_default()
            )),
            Button::Confirm => match orch.confirm(intent_id, &actor).await {
                Ok(intent) => Pressed {
                    reply: Reply::say(format!(
                        "Confirmed by {}: *{}* is running (intent `{intent_id}`). Progress follows here.",
                        mention(user),
                        summary(&intent)
                    )),
                    started: true,
                    done: true,
                },
                Err(err) => refuse(format!("Not started: {err}")),
            },
            Button::Approve => {
                if actor.role != Role::Admin {
                    return refuse(format!(
                        "Only an admin can approve this; {} is a {}. The request waits for an admin.",
                        actor.name,
                        actor.role.as_str()
                    ));
                }
                if record.status != IntentStatus::AwaitingConfirmation {
                    return refuse(format!(
                        "Not approved: intent `{intent_id}` is {}, not waiting for approval.",
                        record.status
                    ));
                }
                // An admin's confirmation in a protected namespace is the
                // approval; the orchestrator records it (who, when).
                match orch.confirm(intent_id, &actor).await {
                    Ok(intent) => Pressed {
                        reply: Reply {
                            text: format!(
                                "Approved by {}: *{}* is running (intent `{intent_id}`). Progress follows here.",
                                mention(user),
                                summary(&intent)
                            ),
                            public: true,
                            ..Reply::default()
                        },
                        started: true,
                        done: true,
                    },
                    Err(err) => refuse(format!("Approved, but not started: {err}")),
                }
            }
        }
    }
}

/// What `status` is about: "status of grafana" → "grafana".
fn status_target(rest: &str) -> &str {
    let rest = rest.trim();
    rest.strip_prefix("of ")
        .or_else(|| rest.strip_prefix("for "))
        .unwrap_or(rest)
        .trim()
}

/// `@user` in both platforms' syntax where possible.
fn mention(user: &ChatUser) -> String {
    match user.platform {
        "slack" => format!("<@{}>", user.id),
        _ => format!("@{}", user.name.as_deref().unwrap_or(&user.id)),
    }
}

fn intent_line(i: &IntentRecord) -> String {
    format!(
        "{}  {:<22} {:<20} {}",
        i.id, i.status, i.requested_by, i.command
    )
}

fn parsed(intent: &IntentRecord) -> Option<Intent> {
    intent
        .intent
        .clone()
        .and_then(|j| serde_json::from_value(j).ok())
}

/// "install authentik with TLS" (the command when it was not parsed).
fn summary(intent: &IntentRecord) -> String {
    parsed(intent).map_or_else(|| intent.command.clone(), |p| p.summary())
}

/// "Understood: install authentik with TLS" (and which model, for the LLM).
fn understood(intent: &IntentRecord) -> String {
    match parsed(intent) {
        Some(parsed) => match &parsed.model {
            Some(model) => format!(
                "Understood (by the language model {model}): *{}*",
                parsed.summary()
            ),
            None => format!("Understood: *{}*", parsed.summary()),
        },
        None => format!("Understood: *{}*", intent.command),
    }
}

fn clip(text: &str) -> String {
    if text.chars().count() <= SECTION_LIMIT {
        return text.to_string();
    }
    let cut: String = text.chars().take(SECTION_LIMIT).collect();
    format!("{cut}\n… (shortened; the whole plan is in the intent record)")
}

fn catalogue_reply(orch: &Orchestrator, query: &str) -> Reply {
    let catalogue = orch.catalogue();
    if query.is_empty() {
        let mut lines = Vec::new();
        for (category, _) in catalogue.categories() {
            let names: Vec<String> = catalogue
                .search(None, Some(&category))
                .into_iter()
                .map(|s| s.name)
                .collect();
            lines.push(format!("{category}: {}", names.join(", ")));
        }
        return Reply::say(format!("The catalogue has {} blueprints:", catalogue.len()))
            .with_section(lines.join("\n"));
    }
    let hits = catalogue.search(Some(query), None);
    if hits.is_empty() {
        let near = catalogue.suggest(query, 3);
        let hint = if near.is_empty() {
            String::new()
        } else {
            format!(" Did you mean {}?", near.join(", "))
        };
        return Reply::say(format!("Nothing in the catalogue matches `{query}`.{hint}"));
    }
    let lines: Vec<String> = hits
        .iter()
        .map(|s| {
            format!(
                "{:<14} {:<12} {:<10} {}",
                s.name, s.category, s.version, s.description
            )
        })
        .collect();
    Reply::say(format!("{} blueprint(s) match `{query}`:", hits.len()))
        .with_section(lines.join("\n"))
}

/// A message for a `response_url`, in a platform's format.
pub type Render = fn(&Reply) -> Json;

/// Posts `body` to a chat platform's URL; failures are logged.
pub async fn post(http: &reqwest::Client, url: &str, body: &Json) {
    match http.post(url).json(body).send().await {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => tracing::warn!(url, status = %response.status(), "chat post refused"),
        Err(err) => tracing::warn!(url, "chat post failed: {err}"),
    }
}

/// Runs `work` but answers within [`REPLY_DEADLINE`]: when it takes longer,
/// `waiting` is the answer and the reply is posted to `response_url` (if
/// any) when it is ready.
pub async fn reply_within<F, R>(
    http: reqwest::Client,
    response_url: Option<String>,
    render: R,
    waiting: Reply,
    work: F,
) -> Reply
where
    F: std::future::Future<Output = Reply> + Send + 'static,
    R: Fn(&Reply) -> Json + Send + 'static,
{
    let (sender, receiver) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let reply = work.await;
        if let Err(reply) = sender.send(reply)
            && let Some(url) = response_url
        {
            post(&http, &url, &render(&reply)).await;
        }
    });
    match tokio::time::timeout(REPLY_DEADLINE, receiver).await {
        Ok(Ok(reply)) => reply,
        _ => waiting,
    }
}

/// Where an intent's progress goes.
#[derive(Debug, Clone)]
pub struct Follow {
    pub response_url: String,
    pub intent_id: String,
    pub public: bool,
}

/// Posts progress and the final result of an intent to a `response_url`.
/// `events` must be subscribed before the intent was started, so nothing
/// is missed; the store is the record, the broadcast only wakes this up.
pub async fn follow(
    orch: Arc<Orchestrator>,
    http: reqwest::Client,
    mut events: broadcast::Receiver<EventRecord>,
    target: Follow,
    render: Render,
) {
    let deadline = Instant::now() + Duration::from_secs(6 * 3600);
    let mut last: Option<i64> = None;
    let mut lines: Vec<String> = Vec::new();
    let mut posted: Vec<String> = Vec::new();
    let mut progress_posts = 0;
    let mut last_post = Instant::now();
    while Instant::now() < deadline {
        // The intent is read before its events: once it is seen terminal,
        // every event it wrote is already in the store, so the final reply
        // carries the whole progress (reading events first could miss the
        // ones written between the two reads).
        let record = match orch.intent(&target.intent_id).await {
            Ok(record) => record,
            Err(err) => {
                tracing::warn!(intent = target.intent_id, "cannot read intent: {err}");
                return;
            }
        };
        let id = target.intent_id.clone();
        let new = match orch.store().call(move |s| s.events(&id, last)).await {
            Ok(new) => new,
            Err(err) => {
                tracing::warn!(intent = target.intent_id, "cannot read events: {err}");
                return;
            }
        };
        for event in new {
            last = Some(event.id);
            if let Some(line) = progress_line(&event) {
                lines.push(line);
            }
        }
        if record.status.is_terminal() {
            let mut all = posted;
            all.append(&mut lines);
            let mut reply = final_reply(&orch, &record, &all).await;
            reply.public = target.public;
            post(&http, &target.response_url, &render(&reply)).await;
            return;
        }
        if !lines.is_empty()
            && progress_posts < MAX_PROGRESS_POSTS
            && last_post.elapsed() >= Duration::from_secs(1)
        {
            let mut reply = Reply::say(format!("Progress of intent `{}`:", record.id))
                .with_section(lines.join("\n"));
            reply.public = target.public;
            post(&http, &target.response_url, &render(&reply)).await;
            progress_posts += 1;
            last_post = Instant::now();
            posted.append(&mut lines);
        }
        let wanted = target.intent_id.clone();
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                match events.recv().await {
                    Ok(event) if event.intent_id == wanted => return,
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        return;
                    }
                }
            }
        })
        .await;
    }
}

/// The line an event adds to progress, if it is worth one.
fn progress_line(event: &EventRecord) -> Option<String> {
    if let Some(release) = event.step.strip_prefix("release ") {
        return matches!(
            event.status.as_str(),
            "ready" | "failed" | "skipped" | "removed" | "cancelled"
        )
        .then(|| format!("{release}: {} — {}", event.status, event.message));
    }
    match (event.step.as_str(), event.status.as_str()) {
        ("deploy", "waited") | ("rollback", _) | ("approval", _) | ("strategy", _) => {
            Some(event.message.clone())
        }
        _ => None,
    }
}

async fn final_reply(orch: &Orchestrator, record: &IntentRecord, lines: &[String]) -> Reply {
    let id = record.id.clone();
    let finish = orch
        .store()
        .call(move |s| s.events(&id, None))
        .await
        .ok()
        .and_then(|events| events.into_iter().rev().find(|e| e.step == "finish"))
        .map(|e| e.message)
        .unwrap_or_default();
    let mut reply = match record.status {
        IntentStatus::Completed => Reply::say(format!(
            ":white_check_mark: Intent `{}` completed: {finish}",
            record.id
        )),
        IntentStatus::Failed => Reply::say(format!(
            ":x: Intent `{}` failed: {}",
            record.id,
            record.error.clone().unwrap_or(finish)
        )),
        other => Reply::say(format!(
            ":no_entry_sign: Intent `{}` is {other}: {finish}",
            record.id
        )),
    };
    if !record.resources.is_empty() {
        let created: Vec<String> = record
            .resources
            .iter()
            .map(|r| {
                format!(
                    "{} {}/{}",
                    r["release"].as_str().unwrap_or_default(),
                    r["kind"].as_str().unwrap_or_default(),
                    r["name"].as_str().unwrap_or_default()
                )
            })
            .collect();
        reply = reply.with_section(format!("Created:\n{}", created.join("\n")));
    }
    if !lines.is_empty() {
        reply = reply.with_section(lines.join("\n"));
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: Option<&str>) -> ChatUser {
        ChatUser {
            platform: "slack",
            id: id.into(),
            name: name.map(str::to_string),
            email: None,
        }
    }

    #[test]
    fn roles_come_from_ids_or_emails_never_names_and_strangers_are_viewers() {
        let mut settings = ChatSettings::default();
        settings.users.insert("u1".into(), Role::Admin);
        settings.users.insert("slack:u2".into(), Role::Deployer);
        settings.users.insert("u2".into(), Role::Admin);
        settings
            .users
            .insert("carol@example.com".into(), Role::Deployer);
        let chat = Chatops::new(settings);
        assert_eq!(chat.role_of(&user("U1", None)), Role::Admin);
        // The most specific key wins.
        assert_eq!(chat.role_of(&user("U2", None)), Role::Deployer);
        // A user who names themselves after an admin's id is still a stranger.
        assert_eq!(chat.role_of(&user("U9", Some("u1"))), Role::Viewer);
        let mut carol = user("U3", None);
        carol.email = Some("Carol@example.com".into());
        assert_eq!(chat.role_of(&carol), Role::Deployer);
        assert_eq!(chat.role_of(&user("U9", Some("eve"))), Role::Viewer);
        assert_eq!(chat.actor(&user("U1", None)).name, "slack:U1");
    }

    #[test]
    fn every_stage_of_a_strategy_is_a_progress_line() {
        let event = |step: &str, status: &str, message: &str| EventRecord {
            id: 1,
            intent_id: "i".into(),
            at: String::new(),
            step: step.into(),
            status: status.into(),
            message: message.into(),
            duration_ms: None,
        };
        let validated = "stage 2 of 4 (25%) validated: 2 check(s) over 30 s: 1 pod(s) Ready";
        assert_eq!(
            progress_line(&event("strategy", "validated", validated)).as_deref(),
            Some(validated)
        );
        assert!(progress_line(&event("strategy", "switched", "switch: …")).is_some());
        assert!(progress_line(&event("plan", "planning", "resolving")).is_none());
    }
}
