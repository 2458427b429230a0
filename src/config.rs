//! Typed settings for the service and the commands that use the store:
//! command-line flags, then `DECKHAND_*` environment variables (clap reads
//! both), then an optional YAML config file (`--config` / `DECKHAND_CONFIG`),
//! then defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use crate::execute::ExecutorKind;
use crate::intent::Platform;
use crate::render::RenderOptions;
use crate::store::tokens::Role;

/// What the config file may say (every key optional; unknown keys are errors).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub bind: Option<String>,
    pub db: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub api_token: Option<String>,
    pub base_domain: Option<String>,
    pub cluster_issuer: Option<String>,
    pub ingress_class: Option<String>,
    pub namespace: Option<String>,
    pub platform: Option<Platform>,
    pub blueprints: Option<Vec<PathBuf>>,
    pub body_limit_bytes: Option<usize>,
    /// Seconds a request's head and body may take to arrive.
    pub body_timeout_seconds: Option<u64>,
    /// Open connections the service keeps at most.
    pub max_connections: Option<usize>,
    pub public_catalogue: Option<bool>,
    pub executor: Option<ExecutorKind>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub ready_timeout_seconds: Option<u64>,
    /// Chat: Slack's signing secret.
    pub slack_signing_secret: Option<String>,
    /// Chat: the token Mattermost sends with its slash commands.
    pub mattermost_token: Option<String>,
    /// Chat: `platform:id`, user id or e-mail → role (unknown users are viewers).
    pub chat_users: Option<BTreeMap<String, Role>>,
    /// Changes in these namespaces need an admin's approval (every front end).
    pub protected_namespaces: Option<Vec<String>>,
    /// Slack incoming-webhook URLs told when an intent completes or fails.
    pub notify_webhooks: Option<Vec<String>>,
    /// The URL chat platforms reach deckhand at (Mattermost button callbacks).
    pub public_url: Option<String>,
    /// The LLM fallback: false disables it.
    pub llm_enabled: Option<bool>,
    pub llm_base_url: Option<String>,
    pub llm_model: Option<String>,
    pub llm_api_key: Option<String>,
    pub llm_timeout_seconds: Option<f64>,
    pub llm_tries: Option<u32>,
}

/// Flags shared by `serve`, `chat`, `intents`, `token` (each also from the environment).
#[derive(Debug, Clone, Args, Default)]
pub struct StoreArgs {
    /// SQLite database file [default: ./deckhand.db].
    #[arg(long, env = "DECKHAND_DB", global = true)]
    pub db: Option<PathBuf>,
    /// Where rendered releases are written [default: ./deckhand-data].
    #[arg(long, env = "DECKHAND_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// YAML config file with any of the settings.
    #[arg(long, env = "DECKHAND_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Default executor when the sentence names no platform [default: render].
    #[arg(long, env = "DECKHAND_EXECUTOR", global = true, value_enum)]
    pub executor: Option<ExecutorKind>,
    /// Kubeconfig for the kubernetes executor [default: KUBECONFIG, ~/.kube/config, in-cluster].
    #[arg(long, env = "DECKHAND_KUBECONFIG", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long, env = "DECKHAND_KUBE_CONTEXT", global = true)]
    pub context: Option<String>,
    /// Readiness timeout in seconds when a blueprint sets none [default: 300].
    #[arg(long, env = "DECKHAND_READY_TIMEOUT_SECONDS", global = true)]
    pub ready_timeout_seconds: Option<u64>,
}

/// Everything the service and the store-backed commands need.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: String,
    pub db: PathBuf,
    pub data_dir: PathBuf,
    /// One admin token for a quick start (`DECKHAND_API_TOKEN`).
    pub api_token: Option<String>,
    pub render: RenderOptions,
    pub default_platform: Platform,
    pub blueprint_dirs: Vec<PathBuf>,
    pub body_limit_bytes: usize,
    /// How long a request's head, and then its body, may take to arrive
    /// (`DECKHAND_BODY_TIMEOUT_SECONDS`, default 10 s): a slow sender is cut off.
    pub body_timeout: std::time::Duration,
    /// Connections open at once, at most (`DECKHAND_MAX_CONNECTIONS`,
    /// default 1024); more wait in the listen backlog.
    pub max_connections: usize,
    /// Catalogue pages and API readable without a token.
    pub public_catalogue: bool,
    pub default_executor: Option<ExecutorKind>,
    pub kubeconfig: Option<PathBuf>,
    pub kube_context: Option<String>,
    pub ready_timeout: std::time::Duration,
    /// Changes in these namespaces (install, upgrade, scale, remove,
    /// rollback) start only with an admin's approval, whoever asks and
    /// through whichever front end.
    pub protected_namespaces: Vec<String>,
    /// Slack, Mattermost, roles from chat, notifications.
    pub chat: crate::chatops::ChatSettings,
    /// The LLM fallback, when configured and not switched off.
    pub llm: Option<crate::intent::llm::LlmSettings>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file '{path}': {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file '{path}' is invalid: {message}")]
    Invalid { path: String, message: String },
    #[error("setting {name} is invalid: {message}")]
    Setting { name: String, message: String },
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    /// Merges flags/environment (`args`), the config file and defaults.
    pub fn load(args: &StoreArgs, bind: Option<String>) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let defaults = RenderOptions::default();
        let chat = chat_settings(&file)?;
        let protected_namespaces = protected_namespaces(&file)?;
        let llm = llm_settings(&file)?;
        Ok(Self {
            bind: bind
                .or_else(|| env("DECKHAND_BIND"))
                .or(file.bind)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            db: args
                .db
                .clone()
                .or(file.db)
                .unwrap_or_else(|| PathBuf::from("deckhand.db")),
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("deckhand-data")),
            api_token: env("DECKHAND_API_TOKEN").or(file.api_token),
            render: RenderOptions {
                namespace: env("DECKHAND_NAMESPACE")
                    .or(file.namespace)
                    .unwrap_or(defaults.namespace),
                base_domain: env("DECKHAND_BASE_DOMAIN")
                    .or(file.base_domain)
                    .unwrap_or(defaults.base_domain),
                cluster_issuer: env("DECKHAND_CLUSTER_ISSUER")
                    .or(file.cluster_issuer)
                    .unwrap_or(defaults.cluster_issuer),
                ingress_class: env("DECKHAND_INGRESS_CLASS").or(file.ingress_class),
                publish_host_ports: false,
            },
            default_platform: match env("DECKHAND_PLATFORM").as_deref() {
                Some("compose") => Platform::Compose,
                Some(_) => Platform::Kubernetes,
                None => file.platform.unwrap_or(Platform::Kubernetes),
            },
            blueprint_dirs: file.blueprints.unwrap_or_default(),
            body_limit_bytes: env("DECKHAND_BODY_LIMIT_BYTES")
                .and_then(|v| v.parse().ok())
                .or(file.body_limit_bytes)
                .unwrap_or(64 * 1024),
            body_timeout: std::time::Duration::from_secs(
                env("DECKHAND_BODY_TIMEOUT_SECONDS")
                    .and_then(|v| v.parse().ok())
                    .or(file.body_timeout_seconds)
                    .unwrap_or(10)
                    .max(1),
            ),
            max_connections: env("DECKHAND_MAX_CONNECTIONS")
                .and_then(|v| v.parse().ok())
                .or(file.max_connections)
                .unwrap_or(1024)
                .max(2),
            public_catalogue: env("DECKHAND_PUBLIC_CATALOGUE")
                .map(|v| v == "1" || v == "true")
                .or(file.public_catalogue)
                .unwrap_or(false),
            default_executor: args.executor.or(file.executor),
            kubeconfig: args.kubeconfig.clone().or(file.kubeconfig),
            kube_context: args.context.clone().or(file.context),
            ready_timeout: std::time::Duration::from_secs(
                args.ready_timeout_seconds
                    .or(file.ready_timeout_seconds)
                    .unwrap_or(300),
            ),
            protected_namespaces,
            chat,
            llm,
        })
    }
}

fn invalid(name: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Setting {
        name: name.into(),
        message: message.into(),
    }
}

/// A comma-separated list from the environment.
fn env_list(name: &str) -> Option<Vec<String>> {
    env(name).map(|v| {
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// Protected namespaces: `DECKHAND_PROTECTED_NAMESPACES` (comma separated),
/// else the file's `protected_namespaces`; each must be a valid namespace.
fn protected_namespaces(file: &FileSettings) -> Result<Vec<String>, ConfigError> {
    let protected = env_list("DECKHAND_PROTECTED_NAMESPACES")
        .or_else(|| file.protected_namespaces.clone())
        .unwrap_or_default();
    for namespace in &protected {
        crate::intent::Namespace::parse(namespace)
            .map_err(|e| invalid("protected_namespaces", e.to_string()))?;
    }
    Ok(protected)
}

/// Chat settings: `DECKHAND_SLACK_SIGNING_SECRET`, `DECKHAND_MATTERMOST_TOKEN`,
/// `DECKHAND_CHAT_USERS` (`U123=admin,alice@example.com=deployer`),
/// `DECKHAND_NOTIFY_WEBHOOKS` (comma separated), `DECKHAND_PUBLIC_URL`; else
/// the file's keys.
fn chat_settings(file: &FileSettings) -> Result<crate::chatops::ChatSettings, ConfigError> {
    let users = match env("DECKHAND_CHAT_USERS") {
        Some(text) => {
            let mut users = BTreeMap::new();
            for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (who, role) = pair.split_once('=').ok_or_else(|| {
                    invalid("DECKHAND_CHAT_USERS", format!("'{pair}' is not USER=ROLE"))
                })?;
                let role = Role::parse(role.trim()).ok_or_else(|| {
                    invalid(
                        "DECKHAND_CHAT_USERS",
                        format!(
                            "'{}' in '{pair}' is not a role (viewer, deployer or admin)",
                            role.trim()
                        ),
                    )
                })?;
                users.insert(who.trim().to_string(), role);
            }
            users
        }
        None => file.chat_users.clone().unwrap_or_default(),
    };
    let webhooks = env_list("DECKHAND_NOTIFY_WEBHOOKS")
        .or_else(|| file.notify_webhooks.clone())
        .unwrap_or_default();
    for url in &webhooks {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(
                "notify_webhooks",
                format!("'{url}' is not an http(s) URL"),
            ));
        }
    }
    Ok(crate::chatops::ChatSettings {
        slack_signing_secret: env("DECKHAND_SLACK_SIGNING_SECRET")
            .or_else(|| file.slack_signing_secret.clone()),
        mattermost_token: env("DECKHAND_MATTERMOST_TOKEN")
            .or_else(|| file.mattermost_token.clone()),
        users: users
            .into_iter()
            .map(|(who, role)| (who.to_lowercase(), role))
            .collect(),
        notify_webhooks: webhooks,
        public_url: env("DECKHAND_PUBLIC_URL")
            .or_else(|| file.public_url.clone())
            .map(|u| u.trim_end_matches('/').to_string()),
    })
}

/// The LLM fallback for the commands that run without the service's
/// settings (`deckhand parse`, `deckhand plan`): the `DECKHAND_LLM_*`
/// variables, and the file named by `DECKHAND_CONFIG` when there is one.
pub fn llm_settings_from_env() -> Result<Option<crate::intent::llm::LlmSettings>, ConfigError> {
    let file = match env("DECKHAND_CONFIG") {
        Some(path) => read_file(std::path::Path::new(&path))?,
        None => FileSettings::default(),
    };
    llm_settings(&file)
}

/// The LLM fallback: on when a model is named (`DECKHAND_LLM_MODEL`) and
/// `DECKHAND_LLM` is not `off`; `DECKHAND_LLM_BASE_URL` (default OpenAI's),
/// `DECKHAND_LLM_API_KEY`, `DECKHAND_LLM_TIMEOUT_SECONDS` (default 10, per
/// try), `DECKHAND_LLM_TRIES` (default 2).
fn llm_settings(
    file: &FileSettings,
) -> Result<Option<crate::intent::llm::LlmSettings>, ConfigError> {
    use crate::intent::llm::LlmSettings;
    let enabled = match env("DECKHAND_LLM").map(|v| v.to_lowercase()) {
        Some(v) if ["off", "0", "false", "no"].contains(&v.as_str()) => false,
        Some(v) if ["on", "1", "true", "yes"].contains(&v.as_str()) => true,
        Some(v) => return Err(invalid("DECKHAND_LLM", format!("'{v}' is not on or off"))),
        None => file.llm_enabled.unwrap_or(true),
    };
    let Some(model) = env("DECKHAND_LLM_MODEL").or_else(|| file.llm_model.clone()) else {
        return Ok(None);
    };
    if !enabled {
        return Ok(None);
    }
    let timeout = match env("DECKHAND_LLM_TIMEOUT_SECONDS") {
        Some(v) => v.parse::<f64>().map_err(|_| {
            invalid(
                "DECKHAND_LLM_TIMEOUT_SECONDS",
                format!("'{v}' is not a number of seconds"),
            )
        })?,
        None => file
            .llm_timeout_seconds
            .unwrap_or(LlmSettings::DEFAULT_TIMEOUT.as_secs_f64()),
    };
    if !(timeout > 0.0 && timeout <= 600.0) {
        return Err(invalid(
            "llm_timeout_seconds",
            format!("{timeout} must be more than 0 and at most 600"),
        ));
    }
    let tries = match env("DECKHAND_LLM_TRIES") {
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| invalid("DECKHAND_LLM_TRIES", format!("'{v}' is not a count")))?,
        None => file.llm_tries.unwrap_or(LlmSettings::DEFAULT_TRIES),
    };
    if !(1..=5).contains(&tries) {
        return Err(invalid(
            "llm_tries",
            format!("{tries} must be between 1 and 5"),
        ));
    }
    Ok(Some(LlmSettings {
        base_url: env("DECKHAND_LLM_BASE_URL")
            .or_else(|| file.llm_base_url.clone())
            .unwrap_or_else(|| LlmSettings::DEFAULT_BASE_URL.into()),
        model,
        api_key: env("DECKHAND_LLM_API_KEY").or_else(|| file.llm_api_key.clone()),
        timeout: std::time::Duration::from_secs_f64(timeout),
        tries,
    }))
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    serde_saphyr::from_str(&text).map_err(|e| ConfigError::Invalid {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_fills_in_what_flags_do_not_say() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deckhand.yaml");
        std::fs::write(
            &path,
            "bind: 0.0.0.0:9000\ndb: /tmp/x.db\ncluster_issuer: internal\n",
        )
        .unwrap();
        let args = StoreArgs {
            db: Some("mine.db".into()),
            config: Some(path.clone()),
            ..Default::default()
        };
        let settings = Settings::load(&args, None).unwrap();
        assert_eq!(settings.db, PathBuf::from("mine.db"));
        assert_eq!(settings.render.cluster_issuer, "internal");
        std::fs::write(
            &path,
            "chat_users: {\"U123\": admin, \"Alice@example.com\": deployer}\nprotected_namespaces: [production]\nnotify_webhooks: [\"http://127.0.0.1:9/hook\"]\nllm_model: local\nllm_base_url: http://127.0.0.1:11434/v1\nllm_tries: 3\n",
        )
        .unwrap();
        let settings = Settings::load(&args, None).unwrap();
        assert_eq!(settings.chat.users.get("u123"), Some(&Role::Admin));
        assert_eq!(
            settings.chat.users.get("alice@example.com"),
            Some(&Role::Deployer)
        );
        assert_eq!(settings.protected_namespaces, vec!["production"]);
        assert_eq!(settings.chat.notify_webhooks.len(), 1);
        let llm = settings.llm.expect("an LLM is configured");
        assert_eq!((llm.model.as_str(), llm.tries), ("local", 3));
        std::fs::write(&path, "protected_namespaces: [Prod_1]\n").unwrap();
        assert!(
            Settings::load(&args, None)
                .unwrap_err()
                .to_string()
                .contains("Prod_1")
        );
        std::fs::write(&path, "bnd: x\n").unwrap();
        assert!(
            Settings::load(&args, None)
                .unwrap_err()
                .to_string()
                .contains("bnd")
        );
    }
}
