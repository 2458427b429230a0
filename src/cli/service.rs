//! CLI commands backed by the store: `serve`, `chat`, `intents`, `token`.
//! They open the same database the service uses and drive the same
//! orchestrator, so a sentence typed here is tracked like one sent over HTTP.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::config::{Settings, StoreArgs};
use crate::http;
use crate::orchestrator::{Actor, DeployOptions, EngineSettings, Orchestrator};
use crate::service::{AppState, Auth};
use crate::store::tokens::Role;
use crate::store::{IntentFilter, IntentRecord, IntentStatus, Store, StoreHandle};

fn settings(store: &StoreArgs, bind: Option<String>) -> Result<Settings, String> {
    Settings::load(store, bind).map_err(|e| e.to_string())
}

fn open_store(settings: &Settings) -> Result<StoreHandle, String> {
    Store::open(&settings.db)
        .map(StoreHandle::new)
        .map_err(|e| e.to_string())
}

/// The orchestrator of the commands that deploy (`serve`, `chat`,
/// `apply`). Its data directory (rendered manifests, with secrets) is made
/// private, 0700, before anything is written into it.
fn orchestrator(
    extra: &[PathBuf],
    settings: &Settings,
    store: StoreHandle,
) -> Result<Arc<Orchestrator>, String> {
    crate::atomic::private_dir(&settings.data_dir)
        .map_err(|e| format!("cannot prepare {}: {e}", settings.data_dir.display()))?;
    let mut dirs = settings.blueprint_dirs.clone();
    dirs.extend(extra.iter().cloned());
    let catalogue = super::load_catalogue(&dirs)?;
    let mut engine = EngineSettings::new(
        settings.render.clone(),
        settings.default_platform,
        settings.data_dir.clone(),
    );
    engine.default_executor = settings.default_executor;
    engine.kubeconfig = settings.kubeconfig.clone();
    engine.kube_context = settings.kube_context.clone();
    engine.ready_timeout = settings.ready_timeout;
    engine.protected_namespaces = settings.protected_namespaces.clone();
    let orchestrator = Orchestrator::new(store, Arc::new(catalogue), engine);
    if let Some(llm) = &settings.llm {
        let parser = crate::intent::llm::LlmParser::new(llm.clone(), orchestrator.catalogue())
            .map_err(|e| e.to_string())?;
        orchestrator.set_llm(Some(Arc::new(parser)));
    }
    Ok(orchestrator)
}

/// The person at the terminal: the store's owner, so an admin.
fn local_actor() -> Actor {
    let name = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "local".into());
    Actor::of(crate::orchestrator::ActorId::Cli(name), Role::Admin)
}

pub fn serve(
    extra: &[PathBuf],
    args: &StoreArgs,
    bind: Option<String>,
) -> Result<ExitCode, String> {
    let settings = settings(args, bind)?;
    let store = open_store(&settings)?;
    let orchestrator = orchestrator(extra, &settings, store.clone())?;
    let tokens = store.blocking().tokens().map_err(|e| e.to_string())?;
    if settings.api_token.is_none() && tokens.iter().all(|t| t.revoked_at.is_some()) {
        eprintln!(
            "warning: no API token yet: set DECKHAND_API_TOKEN, or run `deckhand token create --name NAME --role admin`"
        );
    }
    let state = AppState {
        orchestrator: orchestrator.clone(),
        auth: Auth::new(settings.api_token.as_deref(), store),
        public_catalogue: settings.public_catalogue,
        chatops: Arc::new(crate::chatops::Chatops::new(settings.chat.clone())),
    };
    let notify = (
        state.chatops.http.clone(),
        settings.chat.notify_webhooks.clone(),
    );
    actix_web::rt::System::new().block_on(async move {
        crate::chatops::notify::spawn(orchestrator.clone(), notify.0, notify.1);
        match orchestrator.recover().await {
            Ok(ids) if !ids.is_empty() => eprintln!(
                "marked {} intent(s) interrupted by the last stop: {}",
                ids.len(),
                ids.join(", ")
            ),
            Ok(_) => {}
            Err(err) => return Err(format!("cannot recover intents: {err}")),
        }
        // The cluster is connected while the server starts, not on the
        // first deploy; whether it answers is in the log at once.
        let connecting = orchestrator.clone();
        actix_web::rt::spawn(async move { connecting.connect_default_executor().await });
        eprintln!(
            "database {}, data directory {}",
            settings.db.display(),
            settings.data_dir.display()
        );
        let limits = http::Limits {
            body_bytes: settings.body_limit_bytes,
            body_timeout: settings.body_timeout,
            max_connections: settings.max_connections,
        };
        http::serve(state, &settings.bind, limits)
            .await
            .map_err(|e| format!("cannot serve on {}: {e}", settings.bind))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Whether a sentence runs at once or after a yes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirmation {
    /// Ask y/N on the terminal (`deckhand chat`).
    Ask,
    /// Go ahead (`deckhand chat --yes`, `deckhand apply`).
    GoAhead,
}

/// `deckhand chat`: plan, ask, then follow the progress. A question back
/// (two readings, an unknown name) lists its choices and reads the pick.
pub fn chat(
    extra: &[PathBuf],
    args: &StoreArgs,
    sentence: &str,
    yes: bool,
    atomic: bool,
) -> Result<ExitCode, String> {
    let confirmation = if yes {
        Confirmation::GoAhead
    } else {
        Confirmation::Ask
    };
    run_sentence(extra, args, sentence, confirmation, atomic, true)
}

/// `deckhand apply`: plan, then run at once, with live progress.
pub fn apply(
    extra: &[PathBuf],
    args: &StoreArgs,
    sentence: &str,
    atomic: bool,
) -> Result<ExitCode, String> {
    run_sentence(extra, args, sentence, Confirmation::GoAhead, atomic, false)
}

/// The CLI's one path for a sentence: plan it (shown), confirm it, follow it.
fn run_sentence(
    extra: &[PathBuf],
    args: &StoreArgs,
    sentence: &str,
    confirmation: Confirmation,
    atomic: bool,
    conversational: bool,
) -> Result<ExitCode, String> {
    let settings = settings(args, None)?;
    let store = open_store(&settings)?;
    let orchestrator = orchestrator(extra, &settings, store)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let actor = local_actor();
        let options = DeployOptions { atomic: Some(atomic), ..DeployOptions::default() };
        let mut sentence = sentence.to_string();
        let intent = loop {
            let intent = orchestrator.submit(&actor, &sentence, options.clone(), None, true).await.map_err(|e| e.to_string())?;
            // A question back: list the choices and read the pick (piped input too).
            if let Some(question) = orchestrator.question_for(&intent).filter(|q| conversational && !q.choices.is_empty()) {
                eprintln!("{}", intent.error.clone().unwrap_or_default());
                println!("{}", question.question);
                for (n, choice) in question.choices.iter().enumerate() {
                    println!("  {}. {choice}", n + 1);
                }
                print!("Pick 1-{} (or press Enter to stop): ", question.choices.len());
                let _ = std::io::stdout().flush();
                let mut answer = String::new();
                let _ = std::io::stdin().lock().read_line(&mut answer);
                let picked = answer.trim().parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|n| question.choices.get(n));
                match picked {
                    Some(choice) => {
                        println!("> {choice}");
                        sentence = choice.clone();
                        continue;
                    }
                    None => {
                        println!("Nothing picked: nothing was changed.");
                        return Ok(ExitCode::from(2));
                    }
                }
            }
            break intent;
        };
        // A status report needs no confirmation: it is done already.
        if intent.status == IntentStatus::Completed {
            println!("{}", intent.plan_text.clone().unwrap_or_default());
            return Ok(ExitCode::SUCCESS);
        }
        if intent.status != IntentStatus::AwaitingConfirmation {
            let mut text = intent.error.clone().unwrap_or_else(|| format!("intent {} is {}", intent.id, intent.status));
            if !intent.suggestions.is_empty() && !text.contains("did you mean") {
                text.push_str(&format!("\n  try: {}", intent.suggestions.join(" | ")));
            }
            eprintln!("error: {text}");
            return Ok(ExitCode::from(2));
        }
        println!("{}", intent.plan_text.clone().unwrap_or_default());
        if confirmation == Confirmation::Ask {
            if !std::io::stdin().is_terminal() {
                orchestrator.cancel(&intent.id, &actor).await.map_err(|e| e.to_string())?;
                eprintln!("not a terminal, so nobody can confirm: run again with --yes to go ahead (intent {} cancelled)", intent.id);
                return Ok(ExitCode::from(1));
            }
            print!("Go ahead? [y/N] ");
            let _ = std::io::stdout().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            if !matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
                orchestrator.cancel(&intent.id, &actor).await.map_err(|e| e.to_string())?;
                println!("Dropped: nothing was changed.");
                return Ok(ExitCode::SUCCESS);
            }
        }
        orchestrator.confirm(&intent.id, &actor).await.map_err(|e| e.to_string())?;
        follow(&orchestrator, &intent.id).await
    })
}

/// Shows an intent's progress until it finishes: one line per release with
/// its state and elapsed time on a terminal (indicatif), the event log
/// otherwise. Exit code 0 only when it completed.
async fn follow(orchestrator: &Arc<Orchestrator>, id: &str) -> Result<ExitCode, String> {
    use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
    use std::collections::HashMap;

    let live = std::io::stderr().is_terminal();
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{spinner} {prefix:<28} {wide_msg} {elapsed:>4}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut per_release: HashMap<String, ProgressBar> = HashMap::new();
    let mut events = orchestrator.subscribe();
    let mut last = 0;
    // Without a terminal (no spinner), a line every so often says what is
    // still awaited, so a long readiness wait is never silent.
    let every = std::env::var("DECKHAND_PROGRESS_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(PROGRESS_EVERY, std::time::Duration::from_secs);
    let began = std::time::Instant::now();
    let mut said = std::time::Instant::now();
    let mut waiting_on: HashMap<String, String> = HashMap::new();
    loop {
        let owned = id.to_string();
        let new = orchestrator
            .store()
            .call(move |s| s.events(&owned, Some(last)))
            .await
            .map_err(|e| e.to_string())?;
        for event in new {
            last = event.id;
            said = std::time::Instant::now();
            if let Some(release) = event.step.strip_prefix("release ") {
                if matches!(
                    event.status.as_str(),
                    "ready" | "failed" | "skipped" | "cancelled" | "removed" | "recorded"
                ) {
                    waiting_on.remove(release);
                } else {
                    waiting_on.insert(release.to_string(), event.status.clone());
                }
            }
            if !live {
                let took = event
                    .duration_ms
                    .map_or(String::new(), |ms| format!(" ({ms} ms)"));
                println!(
                    "  {:<28} {:<22} {}{took}",
                    event.step, event.status, event.message
                );
                continue;
            }
            match event.step.strip_prefix("release ") {
                Some(release) => {
                    let bar = per_release.entry(release.to_string()).or_insert_with(|| {
                        let bar = bars.add(ProgressBar::new_spinner());
                        bar.set_style(style.clone());
                        bar.set_prefix(release.to_string());
                        bar.enable_steady_tick(std::time::Duration::from_millis(120));
                        bar
                    });
                    let text = format!("{}: {}", event.status, event.message);
                    if matches!(
                        event.status.as_str(),
                        "ready" | "failed" | "skipped" | "cancelled" | "removed"
                    ) {
                        bar.finish_with_message(text);
                    } else {
                        bar.set_message(text);
                    }
                }
                None => {
                    let _ = bars.println(format!("{:<10} {}", event.status, event.message));
                }
            }
        }
        let record = orchestrator.intent(id).await.map_err(|e| e.to_string())?;
        if record.status.is_terminal() && last > 0 {
            let owned = id.to_string();
            let rest = orchestrator
                .store()
                .call(move |s| s.events(&owned, Some(last)))
                .await
                .map_err(|e| e.to_string())?;
            if rest.is_empty() {
                for bar in per_release.values() {
                    if !bar.is_finished() {
                        bar.abandon();
                    }
                }
                println!("intent {}: {}", record.id, record.status);
                if let Some(error) = &record.error {
                    eprintln!("error: {error}");
                }
                return Ok(if record.status == IntentStatus::Completed {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                });
            }
        }
        if !live && said.elapsed() >= every {
            let mut pending: Vec<String> = waiting_on
                .iter()
                .map(|(release, status)| format!("{release} ({status})"))
                .collect();
            pending.sort();
            let what = if pending.is_empty() {
                format!("intent {} is {}", record.id, record.status)
            } else {
                pending.join(", ")
            };
            println!(
                "  {:<28} {:<22} still waiting for {what}, {} s so far",
                "progress",
                "waiting",
                began.elapsed().as_secs()
            );
            said = std::time::Instant::now();
        }
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), events.recv()).await;
    }
}

/// How often `follow` says what it still waits for, without a terminal
/// (`DECKHAND_PROGRESS_SECONDS` changes it).
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

fn print_intent_line(intent: &IntentRecord) {
    println!(
        "{}  {:<22} {:<20} {}  ({})",
        intent.id,
        intent.status.as_str(),
        intent.requested_by,
        intent.command,
        intent.created_at
    );
}

pub fn list_intents(
    args: &StoreArgs,
    status: Option<String>,
    application: Option<String>,
    limit: u32,
    json: bool,
) -> Result<ExitCode, String> {
    let settings = settings(args, None)?;
    let store = open_store(&settings)?;
    let status = status
        .as_deref()
        .map(str::parse::<IntentStatus>)
        .transpose()?;
    let filter = IntentFilter {
        status,
        application,
        requested_by: None,
        limit,
        offset: 0,
    };
    let (intents, total) = store
        .blocking()
        .list_intents(&filter)
        .map_err(|e| e.to_string())?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"intents": intents, "total": total}))
                .unwrap_or_default()
        );
    } else {
        for intent in &intents {
            print_intent_line(intent);
        }
        println!("{} of {total} intent(s)", intents.len());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show_intent(args: &StoreArgs, id: &str, json: bool) -> Result<ExitCode, String> {
    let settings = settings(args, None)?;
    let store = open_store(&settings)?;
    let intent = store
        .blocking()
        .intent(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("intent {id} not found"))?;
    let events = store
        .blocking()
        .events(id, None)
        .map_err(|e| e.to_string())?;
    if json {
        let mut value = serde_json::to_value(&intent).unwrap_or_default();
        value["events"] = serde_json::to_value(&events).unwrap_or_default();
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    print_intent_line(&intent);
    if let Some(error) = &intent.error {
        println!("error: {error}");
    }
    for event in &events {
        let took = event
            .duration_ms
            .map_or(String::new(), |ms| format!(" ({ms} ms)"));
        println!(
            "  {}  {:<28} {:<22} {}{took}",
            event.at, event.step, event.status, event.message
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn create_token(args: &StoreArgs, name: &str, role: Role) -> Result<ExitCode, String> {
    let settings = settings(args, None)?;
    let store = open_store(&settings)?;
    let (record, token) = store
        .blocking()
        .create_token(name, role, &local_actor().name)
        .map_err(|e| e.to_string())?;
    eprintln!(
        "token '{}' ({}) created; it is shown only this once:",
        record.name,
        record.role.as_str()
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

pub fn list_tokens(args: &StoreArgs) -> Result<ExitCode, String> {
    let settings = settings(args, None)?;
    let store = open_store(&settings)?;
    for token in store.blocking().tokens().map_err(|e| e.to_string())? {
        let state = token
            .revoked_at
            .as_ref()
            .map_or("live".to_string(), |at| format!("revoked {at}"));
        println!(
            "{:<24} {:<9} {}  created {} by {}",
            token.name,
            token.role.as_str(),
            state,
            token.created_at,
            token.created_by
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn revoke_token(args: &StoreArgs, name: &str) -> Result<ExitCode, String> {
    let settings = settings(args, None)?;
    let store = open_store(&settings)?;
    if store
        .blocking()
        .revoke_token(name)
        .map_err(|e| e.to_string())?
    {
        println!("token '{name}' revoked");
        Ok(ExitCode::SUCCESS)
    } else {
        Err(format!("no live token named '{name}'"))
    }
}

pub fn show_secrets(
    args: &StoreArgs,
    release: &str,
    namespace: &str,
    platform: Option<crate::intent::Platform>,
    json: bool,
) -> Result<ExitCode, String> {
    let settings = settings(args, None)?;
    let store = open_store(&settings)?;
    let platforms: Vec<String> = match platform {
        Some(p) => vec![p.to_string()],
        None => {
            let found = store
                .blocking()
                .release(namespace, release)
                .map_err(|e| e.to_string())?;
            let mut names: Vec<String> = found.into_iter().map(|r| r.platform).collect();
            if names.is_empty() {
                names = vec!["kubernetes".into(), "compose".into()];
            }
            names
        }
    };
    let mut shown = serde_json::Map::new();
    for platform in &platforms {
        let key = crate::store::releases::ReleaseKey {
            platform: platform.clone(),
            namespace: namespace.to_string(),
            name: release.to_string(),
        };
        for (name, value) in store
            .blocking()
            .release_secrets(&key)
            .map_err(|e| e.to_string())?
        {
            shown.insert(name, serde_json::Value::String(value));
        }
        if !shown.is_empty() {
            break;
        }
    }
    if shown.is_empty() {
        return Err(format!(
            "no generated secrets recorded for release '{release}' in namespace '{namespace}'"
        ));
    }
    if json {
        println!("{}", serde_json::Value::Object(shown));
    } else {
        for (name, value) in shown {
            println!("{name}: {}", value.as_str().unwrap_or_default());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn history(
    args: &StoreArgs,
    release: &str,
    namespace: &str,
    json: bool,
) -> Result<ExitCode, String> {
    let settings = settings(args, None)?;
    let store = open_store(&settings)?;
    let releases = store
        .blocking()
        .release(namespace, release)
        .map_err(|e| e.to_string())?;
    if releases.is_empty() {
        return Err(format!(
            "no release '{release}' recorded in namespace '{namespace}'"
        ));
    }
    let mut all = Vec::new();
    for record in releases {
        let key = crate::store::releases::ReleaseKey {
            platform: record.platform.clone(),
            namespace: namespace.to_string(),
            name: release.to_string(),
        };
        let revisions = store
            .blocking()
            .revisions(&key)
            .map_err(|e| e.to_string())?;
        if !json {
            println!(
                "{release} in {namespace} on {} ({}, {}):",
                record.platform, record.blueprint, record.status
            );
            for r in &revisions {
                let current = if Some(r.number) == record.current_revision {
                    "  (current)"
                } else {
                    ""
                };
                println!(
                    "  revision {:<3} {:<9} version {:<12} by {:<16} at {}{current}",
                    r.number, r.action, r.version, r.created_by, r.created_at
                );
            }
        }
        all.push(serde_json::json!({
            "platform": record.platform, "blueprint": record.blueprint, "status": record.status, "current_revision": record.current_revision,
            "revisions": revisions.iter().map(|r| serde_json::json!({
                "number": r.number, "action": r.action, "version": r.version, "parameters": r.parameters,
                "created_by": r.created_by, "created_at": r.created_at, "intent_id": r.intent_id,
            })).collect::<Vec<_>>(),
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
    }
    Ok(ExitCode::SUCCESS)
}
