//! deckhand: a natural-language deployment assistant.
//!
//! The pipeline, one path for every front end:
//!
//! ```text
//! text ──parse──▶ Intent ──resolve──▶ ReleaseGraph ──render──▶ RenderedRelease ──▶ Kubernetes objects / Compose file
//!      (intent)          (resolve)               (render)                    (render::kubernetes, render::compose)
//! ```
//!
//! - [`intent`]: the intent contract, its validated values, and the rule parser;
//! - [`catalogue`]: blueprints (embedded + extra directories), validation, search;
//! - [`resolve`]: the dependency DAG (`petgraph`) and its parallel waves;
//! - [`render`]: wiring, secrets, and the platform renderers;
//! - [`plan`]: the [`plan::Planner`] that drives the stages, and the plan people see;
//! - [`rollout`]: delivery strategies (canary, blue-green, rolling, recreate) as stages and objects;
//! - [`template`]: the blueprint template language, shared by loading and rendering;
//! - [`cli`]: the command-line front end.

pub mod atomic;
pub mod catalogue;
pub mod chatops;
pub mod cli;
pub mod config;
pub mod diff;
pub mod execute;
pub mod graph;
pub mod http;
pub mod intent;
pub mod logging;
pub mod metrics;
pub mod orchestrator;
pub mod plan;
pub mod render;
pub mod resolve;
pub mod rollout;
pub mod service;
pub mod store;
pub mod template;
pub mod upgrade_guard;
