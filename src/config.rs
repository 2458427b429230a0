//! Typed settings for the service and the commands that use the store:
//! command-line flags, then `DECKHAND_*` environment variables (clap reads
//! both), then an optional YAML config file (`--config` / `DECKHAND_CONFIG`),
//! then defaults.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use crate::execute::ExecutorKind;
use crate::intent::Platform;
use crate::render::RenderOptions;

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
    pub public_catalogue: Option<bool>,
    pub executor: Option<ExecutorKind>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub ready_timeout_seconds: Option<u64>,
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
    /// Catalogue pages and API readable without a token.
    pub public_catalogue: bool,
    pub default_executor: Option<ExecutorKind>,
    pub kubeconfig: Option<PathBuf>,
    pub kube_context: Option<String>,
    pub ready_timeout: std::time::Duration,
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
        })
    }
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
        std::fs::write(&path, "bnd: x\n").unwrap();
        assert!(
            Settings::load(&args, None)
                .unwrap_err()
                .to_string()
                .contains("bnd")
        );
    }
}
